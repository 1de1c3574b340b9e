// Lookout dashboard: the Errors page and an error group's page. Uses dashboard.js's helpers
// (el, api, fmt, fillTable, sparkline, layout, status); data reaches the page through
// textContent and Plotly only.
"use strict";

const ERROR_KEYS = ["range", "status", "version", "host", "name", "sort"];
// what a group's page keeps of the list's filters (its charts follow range, version, host)
const GROUP_KEYS = ["range", "version", "host"];

function errorsQuery(source, keys) {
  const query = new URLSearchParams();
  for (const key of keys) {
    const value = source.get(key);
    if (value !== null && value !== "" && !(key === "sort" && value === "count")) query.set(key, value);
  }
  return query;
}

function addOptions(select, values, chosen) {
  for (const value of values) select.append(el("option", { value, text: value === "" ? "(none)" : value }));
  if (chosen !== null) select.value = chosen;
}

function statusBadges(group) {
  const badges = el("span", {}, el("span", { class: "badge " + group.status, text: group.status }));
  if (group.regression) badges.append(" ", el("span", { class: "badge regression", text: "regression" }));
  return badges;
}

function whereText(where) {
  const shown = where.slice(0, 3).map((w) => w.name).join(", ");
  return where.length > 3 ? `${shown} +${where.length - 3}` : shown || "–";
}

async function errorsPage() {
  const form = document.getElementById("errors-filters");
  const here = new URLSearchParams(location.search);
  const choices = await api("filters");
  addOptions(form.elements.namedItem("version"), choices.versions, here.get("version"));
  addOptions(form.elements.namedItem("host"), choices.hosts, here.get("host"));
  for (const key of ERROR_KEYS) {
    const input = form.elements.namedItem(key);
    if (input && here.has(key)) input.value = here.get(key);
  }
  const table = document.getElementById("errors");
  const note = document.getElementById("errors-note");
  const load = async () => {
    const query = errorsQuery(new FormData(form), ERROR_KEYS);
    const answer = await api("errors?" + query);
    const keep = errorsQuery(query, GROUP_KEYS).toString();
    const cells = (group) => {
      const link = el("a", { href: BASE + "errors/" + group.id + (keep ? "?" + keep : "") },
        el("span", { class: "error-type", text: group.error_type }));
      const title = el("div", {}, link, el("span", { class: "error-message", text: group.message || group.culprit }));
      return [
        title, el("span", { text: whereText(group.where), title: group.culprit }),
        [fmt.n(group.count), "num"], [fmt.n(group.users), "num"], sparkline(group.spark, null),
        fmt.ago(group.first_seen_ns), fmt.ago(group.last_seen_ns), group.first_version || "(none)",
        statusBadges(group),
      ];
    };
    fillTable(table, answer.groups, cells, "No error in this range with these filters.");
    const total = answer.groups.reduce((sum, group) => sum + group.count, 0);
    note.textContent = `${answer.groups.length} groups, ${total.toLocaleString()} errors in the range ` +
      "(counted to the hour).";
  };
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    const query = errorsQuery(new FormData(form), ERROR_KEYS);
    history.replaceState(null, "", location.pathname + (query.toString() ? "?" + query : ""));
    load().catch((error) => status("Could not load: " + error.message));
  });
  await load();
}

function contextRows(event) {
  const fields = event.fields || {};
  const rows = [
    ["Time", fmt.time(event.start_ns)], ["Name", event.name], ["Method", fields.method],
    ["Path", event.path], ["Status", event.status], ["Request id", event.request_id],
    ["User", event.user], ["Version", event.version || "(none)"], ["Host", event.host],
  ];
  for (const [key, value] of Object.entries(fields)) {
    if (!["method", "path", "profile"].includes(key)) rows.push(["Tracked: " + key, JSON.stringify(value)]);
  }
  for (const [key, value] of Object.entries(event.tags || {})) rows.push(["Tag: " + key, value]);
  return rows;
}

function barChart(id, x, y, xTitle, asDates) {
  const node = document.getElementById(id);
  if (!x.length) { node.replaceChildren(el("p", { class: "note", text: "None in this range." })); return; }
  Plotly.newPlot(node, [{ type: "bar", x, y, marker: { color: css("--error") || "#dc2626" }, hovertemplate: "%{x}: %{y}<extra></extra>" }],
    layout({
      height: 260, margin: { l: 55, r: 10, t: 10, b: 50 }, showlegend: false,
      xaxis: { title: { text: xTitle }, type: asDates ? "date" : "category", automargin: true },
      yaxis: { title: { text: "occurrences" }, rangemode: "tozero", tickformat: ",d", automargin: true },
    }), plotConfig);
}

async function groupPage() {
  const title = document.getElementById("group-title");
  const id = title.dataset.groupId;
  const query = errorsQuery(new URLSearchParams(location.search), GROUP_KEYS).toString();
  document.getElementById("group-back").href = BASE + "errors" + (query ? "?" + query : "");
  const group = await api("errors/" + id + (query ? "?" + query : ""));
  title.textContent = `${group.error_type} in ${group.culprit}`;
  document.getElementById("group-message").textContent = group.message;
  const facts = [
    ["Status", group.status + (group.regression ? " (regression)" : "")],
    ["In range", fmt.n(group.count)], ["All time", fmt.n(group.total)], ["Users", fmt.n(group.users)],
    ["First seen", fmt.time(group.first_seen_ns)], ["Last seen", fmt.time(group.last_seen_ns)],
    ["Introduced in", group.first_version || "(none)"], ["Latest version", group.last_version || "(none)"],
    ["Where", whereText(group.where)],
  ];
  document.getElementById("group-facts").replaceChildren(...facts.map(([key, value]) =>
    el("span", {}, el("b", { text: key }), value)));
  if (IS_ADMIN) {
    const actions = document.getElementById("group-actions");
    actions.hidden = false;
    for (const button of actions.querySelectorAll("button")) {
      button.disabled = button.dataset.status === group.status;
      button.addEventListener("click", async () => {
        try {
          await api(`errors/${id}/status`, { method: "POST", body: JSON.stringify({ status: button.dataset.status }) });
          status("Marked " + button.dataset.status + ".");
          await groupPage();
        } catch (error) { status("Could not change: " + error.message); }
      }, { once: true });
    }
  }
  const trace = document.getElementById("group-traceback");
  if (group.traceback.length) {
    trace.replaceChildren(...group.traceback.map((line) =>
      el("span", { class: line.app ? "app" : line.frame === null ? "other" : "lib", text: line.text + "\n" })));
  } else {
    trace.textContent = group.latest ? "(no traceback: " + (group.latest.status ? "status " + group.latest.status : "no exception") + ")" :
      "The occurrences of this group are no longer stored as raw events.";
  }
  const context = document.getElementById("group-context").querySelector("tbody");
  context.replaceChildren(...(group.latest ? contextRows(group.latest) : []).map(([key, value]) =>
    el("tr", {}, el("th", { text: key }), el("td", { text: value ?? "–" }))));
  barChart("group-time", group.over_time.map((p) => new Date(p.t * 1000).toISOString()),
    group.over_time.map((p) => p.count), "hour (UTC)", true);
  barChart("group-versions", group.per_version.map((p) => p.version || "(none)"),
    group.per_version.map((p) => p.count), "version", false);
  barChart("group-hosts", group.per_host.map((p) => p.host), group.per_host.map((p) => p.count), "host", false);
  // paged: 50 occurrences in one table made the page 7,000 px long at phone width
  dataTable(document.getElementById("group-occurrences"), group.occurrences, (row) => [
    el("a", { href: BASE + "explorer/event/" + row.id, text: fmt.time(row.start_ns) }), row.name,
    row.path ?? "–", row.status ?? "–", row.host, row.version || "(none)", row.user ?? "–",
    row.request_id ?? "–", row.error_message ?? "–",
  ], { pageSize: 10, empty: "No occurrence is stored as a raw event any more." });
}

const errorPages = { errors: () => (document.getElementById("group-title") ? groupPage() : errorsPage()) };
const errorStart = errorPages[body.dataset.page];
if (errorStart) errorStart().catch((error) => status("Could not load: " + error.message));
