// Lookout dashboard: profiles as flame graphs (a Plotly icicle, root on top), with hover details,
// search, click to zoom, light and dark colours. Uses dashboard.js's helpers (el, api, fmt, css,
// status, BASE); data reaches the page through textContent and Plotly only, and every name shown
// by Plotly has its angle brackets replaced, so "<module>" stays text.
"use strict";

// warm hues per file, as flame graphs use; the matching frames of a search stand out in blue
const FLAME_HUES = [12, 28, 40, 52, 20, 34, 46, 6, 58, 24];
const plain = (text) => String(text ?? "").replace(/</g, "‹").replace(/>/g, "›");
function isDark() {
  // from the page's background, whichever way dark mode came (the toggle or the system's)
  const [r, g, b] = (getComputedStyle(document.body).backgroundColor.match(/\d+/g) || [255, 255, 255]).map(Number);
  return 0.2126 * r + 0.7152 * g + 0.0722 * b < 128;
}

function shortFunction(name) {
  // "create_app.<locals>.report" -> "report": the qualname stays in the hover
  const parts = String(name).split("<locals>.");
  return parts[parts.length - 1];
}

function hashOf(text) {
  let hash = 0;
  for (let i = 0; i < text.length; i++) hash = (hash * 31 + text.charCodeAt(i)) >>> 0;
  return hash;
}

function frameColor(node, dark) {
  // a warm hue per function, a little lighter or darker per file, as flame graphs colour
  if (!node.file) return dark ? "#475569" : "#cbd5e1";
  const hue = FLAME_HUES[hashOf(node.frame) % FLAME_HUES.length];
  const shade = hashOf(node.file) % 10;
  return dark ? `hsl(${hue}, 60%, ${30 + shade}%)` : `hsl(${hue}, 90%, ${64 + shade}%)`;
}

function whereOf(node) {
  // "file:line" of the line the function spent most time at (several: "file:12, 30")
  if (!node.file) return "";
  const lines = node.lines.map((entry) => entry.line);
  if (!lines.length) return node.file;
  return `${node.file}:${lines.slice(0, 3).join(", ")}${lines.length > 3 ? ", …" : ""}`;
}

function codeOf(node) {
  // the code of the line the function spent most time at, as a line of the hover
  const busiest = node.lines[0];
  if (!busiest || !busiest.code) return "";
  const code = busiest.code.length > 80 ? busiest.code.slice(0, 79) + "…" : busiest.code;
  return `<br>line ${busiest.line}: ${plain(code)}`;
}

// the tree as flat arrays, depth first: what Plotly's icicle and the search both read
function flatten(tree) {
  const flat = [];
  const total = tree.total_ms || 1;
  const walk = (node, parent, depth) => {
    const id = String(flat.length);
    flat.push({ node, id, parent, depth, share: node.total_ms / total });
    for (const child of node.children) walk(child, id, depth + 1);
  };
  walk(tree, "", 0);
  return flat;
}

function busiest(flat) {
  // self time per function (file and name), the way a profiler's table sums it
  const rows = new Map();
  for (const { node, depth } of flat) {
    if (depth === 0) continue;
    const key = node.frame;
    const row = rows.get(key) || { node, self: 0, total: 0, samples: 0, lines: new Map(), code: new Map() };
    row.self += node.self_ms;
    row.total += node.total_ms;
    row.samples += node.samples;
    for (const { line, ms, code } of node.lines) {
      row.lines.set(line, (row.lines.get(line) || 0) + ms);
      if (code) row.code.set(line, code);
    }
    rows.set(key, row);
  }
  return [...rows.values()].sort((a, b) => b.self - a.self).slice(0, 15);
}

function drawFlame(box, data, state) {
  const dark = isDark();
  const flat = state.flat;
  const query = state.query.trim().toLowerCase();
  const matches = new Set();
  if (query) {
    flat.forEach((item, index) => {
      const { node } = item;
      const text = `${node.function} ${whereOf(node)} ${node.frame}`.toLowerCase();
      if (index > 0 && text.includes(query)) matches.add(index);
    });
  }
  const highlight = dark ? "#60a5fa" : "#2563eb";
  const colors = flat.map((item, index) => {
    if (!query) return frameColor(item.node, dark);
    if (matches.has(index)) return highlight;
    return dark ? "#1e293b" : "#e5e7eb";
  });
  const trace = {
    type: "icicle",
    ids: flat.map((item) => item.id),
    parents: flat.map((item) => item.parent),
    labels: flat.map((item) => plain(item.depth === 0 ? `${data.name} (all)` : shortFunction(item.node.function))),
    values: flat.map((item) => item.node.self_ms),
    branchvalues: "remainder",
    sort: false,
    tiling: { orientation: "v" },
    pathbar: { visible: true, side: "top", textfont: { size: 12 } },
    marker: { colors, line: { width: 1, color: dark ? "#0f172a" : "#ffffff" } },
    textfont: { size: 12, color: dark ? "#f8fafc" : "#111827" },
    insidetextfont: { size: 12, color: dark ? "#f8fafc" : "#111827" },
    customdata: flat.map(({ node, share }) => [
      plain(node.function), plain(whereOf(node) || "all sampled time"), fmt.ms(node.total_ms),
      fmt.ms(node.self_ms), fmt.pct(share), fmt.n(node.samples), codeOf(node),
    ]),
    hovertemplate: "<b>%{customdata[0]}</b><br>%{customdata[1]}<br>total %{customdata[2]} ms · " +
      "self %{customdata[3]} ms<br>%{customdata[4]} of the sampled time · %{customdata[5]} samples" +
      "%{customdata[6]}<extra></extra>",
    texttemplate: "%{label}",
    // a click zooms (Plotly sets the trace's level): a redraw keeps the frame zoomed into
    level: box.data && box.data[0] ? box.data[0].level ?? "" : "",
  };
  const depth = Math.max(...flat.map((item) => item.depth)) + 1;
  const layout = {
    margin: { l: 4, r: 4, t: 30, b: 4 }, height: Math.max(260, Math.min(1400, depth * 26 + 40)),
    paper_bgcolor: "rgba(0,0,0,0)", plot_bgcolor: "rgba(0,0,0,0)",
    font: { color: css("--fg") || "#111827" },
    hoverlabel: { bgcolor: dark ? "#111827" : "#ffffff", font: { color: dark ? "#e5e7eb" : "#111827" } },
  };
  Plotly.react(box, [trace], layout, { displaylogo: false, responsive: true });
  box.dataset.frames = String(flat.length);
  box.dataset.matches = String(matches.size);
  box.dataset.theme = dark ? "dark" : "light";
  let matched = 0;
  for (const index of matches) {
    // time under the matches, each counted once (a match inside a match is not added again)
    let parent = flat[index].parent, inside = false;
    while (parent) { if (matches.has(Number(parent))) { inside = true; break; } parent = flat[Number(parent)].parent; }
    if (!inside) matched += flat[index].node.total_ms;
  }
  document.getElementById("flame-matches").textContent = query
    ? `${matches.size} frame(s) match: ${fmt.ms(matched)} ms, ${fmt.pct(matched / (data.tree.total_ms || 1))} of the sampled time`
    : "";
}

function fillBusiest(flat, total, search) {
  const table = document.getElementById("flame-top");
  fillTable(table, busiest(flat), (row) => {
    const name = el("button", { type: "button", class: "linklike", text: shortFunction(row.node.function) });
    name.addEventListener("click", () => search(shortFunction(row.node.function)));
    const lines = [...row.lines.entries()].sort((a, b) => b[1] - a[1]).map(([line]) => line);
    const where = row.node.file ? `${row.node.file}${lines.length ? ":" + lines.slice(0, 3).join(", ") : ""}` : "–";
    const code = lines.length && row.code.get(lines[0]);
    // on a phone the file:line column folds under the name (flame.css)
    const cell = el("span", {}, name, el("span", { class: "flame-where-inline", text: where }));
    const whereCell = el("span", {}, where);
    if (code) whereCell.append(el("code", { class: "flame-code", text: `${lines[0]}: ${code}` }));
    return [cell, whereCell, [fmt.ms(row.self), "num"], [fmt.ms(row.total), "num"],
      [fmt.pct(row.total / (total || 1)), "num"], [fmt.n(row.samples), "num"]];
  }, "No samples yet: set the endpoint to monitoring level 3.");
}

function summaryOf(data) {
  const parts = [];
  if (data.event) {
    parts.push(`${fmt.time(data.event.start_ns)} · ${data.event.host} · version ${data.event.version || "(none)"}`);
    if (data.event.request_id) parts.push(`request ${data.event.request_id}`);
  } else {
    parts.push(`${fmt.n(data.requests)} profiled request(s)` + (data.truncated ? ` (the newest ${fmt.n(data.limit)})` : ""));
  }
  parts.push(`${fmt.ms(data.tree.total_ms)} ms sampled of ${fmt.ms(data.wall_ms)} ms`);
  if (data.cpu_ms !== null) parts.push(`CPU ${fmt.ms(data.cpu_ms)} ms (${fmt.pct(data.cpu_ms / (data.wall_ms || 1))} of wall time)`);
  if (data.event && data.event.memory_rss_bytes) parts.push(`memory ${(data.event.memory_rss_bytes / 2 ** 20).toFixed(1)} MB resident`);
  return parts.join(" · ");
}

async function profilePage() {
  const box = document.getElementById("flame");
  const range = document.getElementById("flame-range");
  const version = document.getElementById("flame-version");
  const search = document.getElementById("flame-search");
  const eventId = body.dataset.eventId;
  const here = new URLSearchParams(location.search);
  if (range && here.get("range")) range.value = here.get("range");
  if (version) {
    const { versions } = await api("filters");
    for (const v of versions.filter(Boolean)) version.append(el("option", { value: v, text: v }));
    version.value = versions.includes(here.get("version")) ? here.get("version") : "";
  }
  search.value = here.get("q") || "";
  const state = { flat: [], query: search.value };
  let data = null;
  const redraw = () => { if (data) drawFlame(box, data, state); };
  const setQuery = (text) => {
    search.value = text;
    state.query = text;
    const url = new URL(location.href);
    if (text) url.searchParams.set("q", text); else url.searchParams.delete("q");
    history.replaceState(null, "", url);
    redraw();
  };
  const load = async () => {
    const path = eventId
      ? `profiles/event/${eventId}`
      : `profiles/${encodeURIComponent(body.dataset.kind)}/${body.dataset.name.split("/").map(encodeURIComponent).join("/")}?range=${range.value}` +
        (version.value ? `&version=${encodeURIComponent(version.value)}` : "");
    data = await api(path);
    if (eventId) document.getElementById("profile-name").textContent = data.name;
    document.getElementById("flame-summary").textContent = summaryOf(data);
    state.flat = flatten(data.tree);
    if (box.data) Plotly.purge(box);  // a new tree: zoomed out
    box.hidden = !data.requests;
    if (!data.requests) {
      document.getElementById("flame-summary").textContent = eventId
        ? "This request has no profile (monitoring level 3 records one per request)."
        : "No profiled requests in this range (monitoring level 3 records them).";
    } else {
      redraw();
    }
    fillBusiest(state.flat, data.tree.total_ms, setQuery);
  };
  search.addEventListener("input", () => setQuery(search.value));
  document.getElementById("flame-reset").addEventListener("click", () => {
    if (box.data) Plotly.restyle(box, { level: "" }, [0]);
  });
  // range and version are kept in the URL, as every page keeps its filters
  for (const [select, key] of [[range, "range"], [version, "version"]]) {
    if (!select) continue;
    select.addEventListener("change", () => {
      const url = new URL(location.href);
      if (select.value) url.searchParams.set(key, select.value); else url.searchParams.delete(key);
      history.replaceState(null, "", url);
      load().catch((e) => status(e.message));
    });
  }
  // the theme toggle (dashboard.js) flips data-theme: the graph follows with its colours
  new MutationObserver(redraw).observe(document.documentElement, { attributes: true, attributeFilter: ["data-theme"] });
  await load();
}

async function eventProfileLink() {
  // on the explorer's event page: a link to the request's flame graph, with its CPU and memory
  const box = document.getElementById("event-profile");
  if (!box) return;
  const data = await api(`profiles/event/${box.dataset.eventId}`);
  const outlier = data.event && data.event.outlier;
  if (!data.requests && !outlier) return;
  const note = document.getElementById("event-profile-note");
  const parts = [];
  if (data.cpu_ms !== null) parts.push(`CPU ${fmt.ms(data.cpu_ms)} ms of ${fmt.ms(data.wall_ms)} ms`);
  if (data.event.memory_rss_bytes) parts.push(`memory ${(data.event.memory_rss_bytes / 2 ** 20).toFixed(1)} MB resident`);
  if (data.requests) parts.push(`${fmt.n(data.tree.samples)} samples`);
  note.textContent = parts.join(" · ");
  document.getElementById("event-profile-link").hidden = !data.requests;
  box.hidden = false;
}

const flamePages = { profile: profilePage, event: eventProfileLink };
const flameStart = flamePages[body.dataset.page];
if (flameStart) flameStart().catch((error) => status("Could not load: " + error.message));
