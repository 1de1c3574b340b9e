// Lookout dashboard: the request explorer and the event page. Uses dashboard.js's helpers
// (el, api, fmt, fillTable, status); data reaches the page through textContent only.
"use strict";

const EXPLORER_KEYS = ["kind", "name", "status", "outcome", "user", "version", "host", "min_ms",
  "max_ms", "request_id", "range", "from", "to", "q"];

function explorerQuery(form) {
  // the filters as query parameters: the page's URL keeps them (and the shared version/host)
  const query = new URLSearchParams();
  const here = new URLSearchParams(location.search);
  for (const key of EXPLORER_KEYS) {
    const input = form.elements.namedItem(key);
    const value = input ? input.value.trim() : (here.get(key) || "");
    if (value) query.set(key, value);
  }
  return query;
}

function fillSelect(select, values, chosen) {
  for (const value of values) {
    const option = el("option", { value, text: value === "" ? "(none)" : value });
    select.append(option);
  }
  select.value = chosen ?? "";
}

async function explorerPage() {
  const form = document.getElementById("explorer-filters");
  const here = new URLSearchParams(location.search);
  const choices = await api("filters");
  fillSelect(form.elements.namedItem("version"), choices.versions, here.get("version"));
  fillSelect(form.elements.namedItem("host"), choices.hosts, here.get("host"));
  for (const key of [...EXPLORER_KEYS, "order"]) {
    const input = form.elements.namedItem(key);
    if (input && here.has(key) && input.tagName !== "SELECT") input.value = here.get(key);
    else if (input && here.has(key)) input.value = here.get(key);
  }
  const table = document.getElementById("explorer");
  const more = document.getElementById("explorer-more");
  const note = document.getElementById("explorer-note");
  let next = null, rows = [];
  const cells = (row) => [
    el("a", { href: BASE + "explorer/event/" + row.id, text: fmt.time(row.start_ns) }),
    row.kind, row.name, row.path ?? "–", [fmt.ms(row.duration_ms), "num"], row.status ?? "–",
    [row.outcome, row.outcome === "error" ? "bad" : ""], row.host, row.version || "(none)",
    row.user ?? "–", row.request_id ?? "–",
  ];
  const load = async (append) => {
    const query = explorerQuery(form);
    const order = form.elements.namedItem("order").value;
    if (order !== "newest") query.set("order", order);
    if (append && next !== null) query.set("cursor", next);
    const page = await api("explorer/events?" + query);
    rows = append ? rows.concat(page.rows) : page.rows;
    next = page.next;
    fillTable(table, rows, cells, "No event matches these filters.");
    more.hidden = next === null;
    note.textContent = `${rows.length.toLocaleString()} events shown; this page took ` +
      `${page.took_ms} ms` + (page.complete ? "" : ` and stopped after ${page.examined.toLocaleString()} ` +
      "events examined: the next page goes on from there.");
    const exportQuery = explorerQuery(form);
    document.getElementById("export-csv").href = BASE + "api/explorer/export?" + exportQuery + "&format=csv";
    document.getElementById("export-jsonl").href = BASE + "api/explorer/export?" + exportQuery + "&format=jsonl";
  };
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    const query = explorerQuery(form);
    const order = form.elements.namedItem("order").value;
    if (order !== "newest") query.set("order", order);
    history.replaceState(null, "", location.pathname + (query.toString() ? "?" + query : ""));
    load(false).catch((error) => status("Could not load: " + error.message));
  });
  more.addEventListener("click", () => load(true).catch((error) => status("Could not load: " + error.message)));
  await load(false);
}

function pairs(table, entries) {
  const tbody = table.querySelector("tbody");
  tbody.replaceChildren(...entries.map(([key, value]) => el("tr", {},
    el("th", { text: key }),
    el("td", { text: typeof value === "object" && value !== null ? JSON.stringify(value) : String(value ?? "–") }))));
  if (!entries.length) tbody.append(el("tr", {}, el("td", { text: "None." })));
}

async function eventPage() {
  const id = document.getElementById("event-title").dataset.eventId;
  const event = await api("explorer/events/" + id);
  document.getElementById("event-title").textContent = `${event.kind} ${event.name}`;
  pairs(document.getElementById("event-summary"), [
    ["Time", fmt.time(event.start_ns)], ["Duration", fmt.ms(event.duration_ms) + " ms"],
    ["Outcome", event.outcome], ["Status", event.status], ["Host", event.host],
    ["Process", event.pid], ["Version", event.version || "(none)"], ["Request id", event.request_id],
    ["User", event.user], ["Client", event.client_ip], ["Error", event.error_type],
    ["Message", event.error_message],
  ]);
  const fields = Object.entries(event.fields).filter(([key]) => key !== "profile");
  pairs(document.getElementById("event-fields"), fields);
  pairs(document.getElementById("event-tags"), Object.entries(event.tags));
  if (event.traceback) {
    document.getElementById("event-error").hidden = false;
    document.getElementById("event-traceback").textContent = event.traceback;
  }
}

const explorerPages = { explorer: explorerPage, event: eventPage };
const explorerStart = explorerPages[body.dataset.page];
if (explorerStart) explorerStart().catch((error) => status("Could not load: " + error.message));
