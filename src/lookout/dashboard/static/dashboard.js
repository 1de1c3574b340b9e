// Lookout dashboard: fetches the JSON API and renders it. Data only ever reaches the page
// through textContent or Plotly's own text handling, never as markup.
// This file: shared helpers (API, formats, the filter bar every page keeps, sortable and
// paginated tables, charts themed from the CSS variables) and the overview, jobs, tests,
// metrics and system pages; detail.js has the detail page.
"use strict";

const body = document.body;
const BASE = body.dataset.base;            // e.g. "/dashboard/"
const CSRF = body.dataset.csrf;
const IS_ADMIN = body.dataset.role === "admin";
const css = (name) => getComputedStyle(document.documentElement).getPropertyValue(name).trim();
const COLORS = JSON.parse(body.dataset.colors || "{}");  // per endpoint, from the settings
const colorOf = (name) => COLORS[name] || css("--primary");

function el(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs)) {
    if (key === "text") node.textContent = value;
    else if (key === "class") node.className = value;
    else node.setAttribute(key, value);
  }
  for (const child of children) node.append(child);
  return node;
}

function status(text) { document.getElementById("status").textContent = text || ""; }

async function api(path, options = {}) {
  const headers = { "Accept": "application/json", ...(options.headers || {}) };
  if (options.method && options.method !== "GET") {
    headers["X-CSRF-Token"] = CSRF;
    headers["Content-Type"] = "application/json";
  }
  const response = await fetch(BASE + "api/" + path, { credentials: "same-origin", ...options, headers });
  const data = await response.json();
  if (!response.ok) throw new Error(data.error || response.statusText);
  return data;
}

const fmt = {
  n: (v) => v === null || v === undefined ? "–" : Number(v).toLocaleString(),
  ms: (v) => v === null || v === undefined ? "–" : Number(v).toFixed(v < 10 ? 2 : 1),
  pct: (v) => v === null || v === undefined ? "–" : (100 * v).toFixed(v < 0.01 ? 2 : 1) + " %",
  apdex: (v) => v === null || v === undefined ? "–" : Number(v).toFixed(2),
  duration: (ms) => {
    if (ms === null || ms === undefined) return "–";
    if (ms < 1000) return fmt.ms(ms) + " ms";
    if (ms < 120000) return (ms / 1000).toFixed(1) + " s";
    return (ms / 60000).toFixed(1) + " min";
  },
  ago: (ns) => {
    if (!ns) return "never";
    const s = Math.max(0, Date.now() / 1000 - ns / 1e9);
    if (s < 90) return Math.round(s) + " s ago";
    if (s < 5400) return Math.round(s / 60) + " min ago";
    if (s < 129600) return Math.round(s / 3600) + " h ago";
    return Math.round(s / 86400) + " d ago";
  },
  time: (ns) => new Date(ns / 1e6).toISOString().replace("T", " ").slice(0, 19) + " UTC",
};

function sparkline(values, name) {
  const ns = "http://www.w3.org/2000/svg";
  const svg = document.createElementNS(ns, "svg");
  svg.setAttribute("class", "spark");
  svg.setAttribute("viewBox", `0 0 ${values.length} 24`);
  svg.setAttribute("preserveAspectRatio", "none");
  const max = Math.max(1, ...values);
  const line = document.createElementNS(ns, "polyline");
  line.setAttribute("points", values.map((v, i) => `${i},${23 - (22 * v) / max}`).join(" "));
  if (COLORS[name]) line.style.stroke = COLORS[name];
  svg.append(line);
  return svg;
}

// -- the filter bar: range, version and host, kept in the URL and carried by every link --------
const FILTER_KEYS = ["range", "from", "to", "version", "host"];
const RANGE_S = { "1h": 3600, "6h": 21600, "24h": 86400, "7d": 604800, "30d": 2592000 };

function filterParams(extra = {}) {
  const here = new URLSearchParams(location.search);
  const query = new URLSearchParams();
  for (const key of FILTER_KEYS) if (here.has(key)) query.set(key, here.get(key));
  if (!query.has("from") && !query.has("range")) query.set("range", "24h");
  for (const [key, value] of Object.entries(extra)) if (value !== undefined && value !== null && value !== "") query.set(key, value);
  return query;
}

// The range as one of the fixed ranges, for the APIs that take only those (a custom range
// becomes the smallest fixed one that holds it).
function fixedRange() {
  const query = filterParams();
  if (query.has("range")) return query.get("range");
  const span = (Number(query.get("to")) || Date.now() / 1000) - Number(query.get("from"));
  return Object.keys(RANGE_S).find((key) => RANGE_S[key] >= span) || "30d";
}

function rangeLabel() {
  const query = filterParams();
  const labels = { "1h": "hour", "6h": "6 hours", "24h": "24 hours", "7d": "7 days", "30d": "30 days" };
  return query.has("range") ? labels[query.get("range")] || query.get("range") : "range";
}

function withFilters(href) {
  const url = new URL(href, location.href);
  if (url.origin !== location.origin || !url.pathname.startsWith(BASE) || url.pathname.includes("/static/") || url.pathname.includes("/api/")) return href;
  const here = new URLSearchParams(location.search);
  for (const key of FILTER_KEYS) if (here.has(key) && !url.searchParams.has(key)) url.searchParams.set(key, here.get(key));
  return url.pathname + url.search + url.hash;
}

function link(href, text) { return el("a", { href: withFilters(href), text }); }
const detailLink = (kind, name) => link(`${BASE}detail/${kind}/${encodeURIComponent(name)}`, name);

function carryFilters() {
  for (const a of document.querySelectorAll("header a[href], main a[href]")) {
    if (!a.hasAttribute("download")) a.setAttribute("href", withFilters(a.getAttribute("href")));
  }
}

const toLocalInput = (s) => { const d = new Date(s * 1000); return new Date(d.getTime() - d.getTimezoneOffset() * 60000).toISOString().slice(0, 16); };

let reloadPage = null;  // the page's load function, rerun when a filter changes
async function filterBar() {
  const form = document.getElementById("filters");
  if (!form) return;
  const here = new URLSearchParams(location.search);
  const range = form.elements.namedItem("range"), custom = form.querySelector(".custom");
  const from = form.elements.namedItem("from"), to = form.elements.namedItem("to");
  range.value = here.has("from") ? "custom" : (here.get("range") || "24h");
  if (here.has("from")) { from.value = toLocalInput(Number(here.get("from"))); to.value = toLocalInput(Number(here.get("to")) || Date.now() / 1000); }
  custom.hidden = range.value !== "custom";
  const apply = () => {
    const query = new URLSearchParams(location.search);
    for (const key of FILTER_KEYS) query.delete(key);
    if (range.value === "custom") {
      if (!from.value) return;
      query.set("from", String(Math.floor(new Date(from.value).getTime() / 1000)));
      query.set("to", String(Math.floor((to.value ? new Date(to.value).getTime() : Date.now()) / 1000)));
    } else if (range.value !== "24h") query.set("range", range.value);
    for (const key of ["version", "host"]) {
      const value = form.elements.namedItem(key).value;
      if (value !== "") query.set(key, value === "(none)" ? "" : value);
    }
    history.replaceState(null, "", location.pathname + (query.toString() ? "?" + query : "") + location.hash);
    carryFilters();
    if (reloadPage) reloadPage().catch((error) => status(error.message));
    else location.reload();  // a page of its own script (reports, distributions) reads the URL
  };
  range.addEventListener("change", () => { custom.hidden = range.value !== "custom"; if (range.value !== "custom") apply(); });
  form.addEventListener("submit", (event) => { event.preventDefault(); apply(); });
  const choices = await api("filters");
  for (const key of ["version", "host"]) {
    const select = form.elements.namedItem(key);
    for (const value of choices[key + "s"]) select.append(el("option", { value: value === "" ? "(none)" : value, text: value === "" ? "(none)" : value }));
    if (here.has(key)) select.value = here.get(key) === "" ? "(none)" : here.get(key);
    select.addEventListener("change", apply);
  }
}

// -- tables: sortable by their th[data-key], paginated by the nav.pager after them ------------
function fillTable(table, rows, cells, empty = "Nothing recorded yet.") {
  const tbody = table.querySelector("tbody");
  tbody.replaceChildren(...rows.map((row) => el("tr", {}, ...cells(row).map((cell) => {
    if (cell instanceof Node) return el("td", {}, cell);
    const [value, cls] = Array.isArray(cell) ? cell : [cell, ""];
    return el("td", { text: value ?? "–", class: cls });
  }))));
  if (!rows.length) tbody.append(el("tr", {}, el("td", { text: empty, colspan: "20" })));
}

function dataTable(table, rows, cells, { sortKey = null, ascending = false, pageSize = 25, empty, filter = null } = {}) {
  const state = table._state || (table._state = { sortKey, ascending, page: 0 });
  if (!table._bound) {
    table._bound = true;
    table.querySelectorAll("th[data-key]").forEach((th) => th.addEventListener("click", () => {
      state.ascending = state.sortKey === th.dataset.key ? !state.ascending : ["name", "key", "kind", "host", "version"].includes(th.dataset.key);
      state.sortKey = th.dataset.key;
      state.page = 0;
      table._render();
    }));
  }
  table._render = () => {
    const shown = (table._filter ? rows.filter(table._filter) : rows.slice());
    if (state.sortKey) shown.sort((a, b) => {
      const x = a[state.sortKey] ?? -Infinity, y = b[state.sortKey] ?? -Infinity;
      return (x < y ? -1 : x > y ? 1 : 0) * (state.ascending ? 1 : -1);
    });
    table.querySelectorAll("th").forEach((h) => {
      h.classList.toggle("sorted", h.dataset.key === state.sortKey);
      h.classList.toggle("asc", h.dataset.key === state.sortKey && state.ascending);
    });
    const pages = Math.max(1, Math.ceil(shown.length / pageSize));
    state.page = Math.min(state.page, pages - 1);
    fillTable(table, shown.slice(state.page * pageSize, (state.page + 1) * pageSize), cells, empty);
    const pager = document.querySelector(`nav.pager[data-for="${table.id}"]`);
    if (!pager) return;
    pager.replaceChildren();
    if (shown.length <= pageSize) return;
    const button = (text, page, disabled) => {
      const b = el("button", { type: "button", text });
      b.disabled = disabled;
      b.addEventListener("click", () => { state.page = page; table._render(); });
      return b;
    };
    pager.append(button("‹ Previous", state.page - 1, state.page === 0),
      el("span", { text: `${state.page * pageSize + 1}–${Math.min(shown.length, (state.page + 1) * pageSize)} of ${shown.length.toLocaleString()}` }),
      button("Next ›", state.page + 1, state.page >= pages - 1));
  };
  table._filter = filter;
  table._render();
}

// -- charts: colours from the CSS variables, round ticks from the API, gaps kept --------------
function layout(extra = {}) {
  const fg = css("--fg") || "#111827", line = css("--line") || "#e5e7eb";
  const axis = { automargin: true, gridcolor: line, zerolinecolor: line, linecolor: line, color: fg };
  return {
    margin: { l: 10, r: 10, t: 10, b: 10 }, height: 300, autosize: true,
    paper_bgcolor: "rgba(0,0,0,0)", plot_bgcolor: "rgba(0,0,0,0)",
    font: { color: fg, size: 12 }, legend: { orientation: "h", y: -0.25, font: { color: fg } },
    hoverlabel: { bgcolor: css("--card") || "#fff", font: { color: fg }, bordercolor: line },
    ...extra,
    xaxis: { ...axis, ...(extra.xaxis || {}) }, yaxis: { ...axis, ...(extra.yaxis || {}) },
    ...(extra.xaxis2 ? { xaxis2: { ...axis, ...extra.xaxis2 } } : {}),
    ...(extra.yaxis2 ? { yaxis2: { ...axis, ...extra.yaxis2 } } : {}),
  };
}
const plotConfig = { displaylogo: false, responsive: true };
const iso = (s) => new Date(s * 1000).toISOString().slice(0, 19);  // Plotly reads it as UTC
const bucketLabel = (s) => s >= 86400 ? `${s / 86400} d` : s >= 3600 ? `${s / 3600} h` : `${s / 60} min`;

function timeAxis(from, to, stepS) {
  return {
    type: "date", range: [iso(from), iso(to)], dtick: stepS * 1000, title: { text: "time (UTC)" },
    tickformat: stepS >= 86400 ? "%b %d" : "%H:%M\n%b %d",
  };
}

function timeCharts(series, trafficId, latencyId, noun = "requests") {
  const w = series.window, t = series.points.map((p) => iso(p.t));
  const errorColor = css("--error") || "#dc2626", primary = colorOf(series.name || "");
  const ok = series.points.map((p) => p.count === null ? null : p.count - p.errors);
  const ticks = (values) => ({ tickmode: "array", tickvals: values, range: [0, values[values.length - 1]] });
  Plotly.react(trafficId, [
    { x: t, y: ok, type: "bar", name: `${noun} without error`, marker: { color: primary }, hovertemplate: "%{y:,}<extra>ok</extra>" },
    { x: t, y: series.points.map((p) => p.errors), type: "bar", name: "errors", marker: { color: errorColor }, hovertemplate: "%{y:,}<extra>errors</extra>" },
  ], layout({ barmode: "stack", bargap: 0.1, xaxis: timeAxis(w.from, w.to, w.time_step_s),
    yaxis: { title: { text: `${noun} per ${bucketLabel(w.bucket_s)}` }, ...ticks(series.ticks.count) } }), plotConfig);
  const line = (key, name, style) => ({ x: t, y: series.points.map((p) => p[key]), name, mode: "lines+markers", connectgaps: false,
    marker: { size: 3 }, line: style, hovertemplate: "%{y:.1f} ms<extra>" + name + "</extra>" });
  Plotly.react(latencyId, [
    line("p50_ms", "p50", { color: primary }),
    line("p95_ms", "p95", { color: css("--warn") || "#d97706", dash: "dot" }),
    line("p99_ms", "p99", { color: errorColor, dash: "dash" }),
  ], layout({ xaxis: timeAxis(w.from, w.to, w.time_step_s), yaxis: { title: { text: "latency (ms)" }, ...ticks(series.ticks.ms) } }), plotConfig);
}

function rethemeCharts() {
  for (const chart of document.querySelectorAll(".js-plotly-plot")) {
    const themed = layout();
    const axes = {};
    for (const key of Object.keys(chart.layout || {})) {
      if (/^[xy]axis\d*$/.test(key)) for (const part of ["gridcolor", "zerolinecolor", "linecolor", "color"]) axes[`${key}.${part}`] = themed.xaxis[part];
    }
    Plotly.relayout(chart, { "font.color": themed.font.color, "legend.font.color": themed.font.color, hoverlabel: themed.hoverlabel, ...axes });
  }
}

// -- tiles -----------------------------------------------------------------------------------------
const TILE_FORMAT = { requests: fmt.n, calls: fmt.n, count: fmt.n, error_rate: fmt.pct, p95_ms: fmt.duration, p50_ms: fmt.duration, p99_ms: fmt.duration, apdex: fmt.apdex };
const WORSE_WHEN_UP = new Set(["error_rate", "p95_ms"]);
const BETTER_WHEN_UP = new Set(["apdex"]);

function renderTile(tile, value, change, delta) {
  const key = tile.dataset.tile;
  tile.querySelector(".value").textContent = (TILE_FORMAT[key] || fmt.n)(value);
  const box = tile.querySelector(".change");
  if (!box) return;
  box.className = "change";
  if (delta === null || delta === undefined) { box.textContent = "no data before"; return; }
  const negligible = key === "apdex" ? Math.abs(delta) < 0.005 : key === "error_rate" ? Math.abs(delta) < 0.00005 : delta === 0;
  if (negligible) { box.textContent = `= same as previous ${rangeLabel()}`; return; }
  const arrow = delta > 0 ? "▲" : "▼";
  const amount = key === "error_rate" ? `${(100 * Math.abs(delta)).toFixed(2)} pp` : key === "apdex" ? Math.abs(delta).toFixed(2)
    : change === null ? fmt.n(Math.abs(delta)) : `${(100 * Math.abs(change)).toFixed(change && Math.abs(change) < 0.1 ? 1 : 0)} %`;
  box.textContent = `${arrow} ${amount} vs previous ${rangeLabel()}`;
  if ((WORSE_WHEN_UP.has(key) || BETTER_WHEN_UP.has(key))) box.classList.add((delta > 0) === BETTER_WHEN_UP.has(key) ? "good" : "bad");
}

// -- overview -------------------------------------------------------------------------------------
async function overviewPage() {
  const table = document.getElementById("overview");
  const load = async () => {
    const query = filterParams();
    const [tiles, series, names, levels] = await Promise.all([
      api("overview/tiles?" + query), api("overview/series?" + query), api("overview/names?" + query), api("levels"),
    ]);
    for (const tile of document.querySelectorAll("#tiles .tile")) {
      const found = tiles.tiles[tile.dataset.tile];
      renderTile(tile, found.value, found.change, found.delta);
    }
    document.getElementById("tiles-note").textContent = `Requests' error rate, p95 and Apdex (T = ${tiles.apdex_t_ms} ms unless set per name); ` +
      `compared with ${fmt.time(tiles.previous_from * 1e9)} – ${fmt.time(tiles.previous_to * 1e9)}.`;
    timeCharts(series, "chart-traffic", "chart-latency");
    for (const row of names.rows) row.levels = levelsOf(levels.apps, row);
    const kindSelect = document.getElementById("kind"), text = document.getElementById("filter");
    const filter = (r) => r.name.toLowerCase().includes(text.value.toLowerCase()) && (!kindSelect.value || r.kind === kindSelect.value);
    dataTable(table, names.rows, (r) => [
      detailLink(r.kind, r.name), r.kind, [fmt.n(r.count), "num"],
      [fmt.pct(r.error_rate), "num" + (r.error_rate > 0.01 ? " bad" : "")],
      [fmt.ms(r.p50_ms), "num"], [fmt.ms(r.p95_ms), "num"], [fmt.ms(r.p99_ms), "num"],
      [`${fmt.apdex(r.apdex)} [${r.apdex_t_ms} ms]`, "num" + (r.apdex !== null && r.apdex < 0.85 ? " bad" : "")],
      fmt.ago(r.last_ns), levelCell(r),
    ], { sortKey: "count", filter, empty: "Nothing recorded in this range." });
    status("Updated " + new Date().toLocaleTimeString());
  };
  for (const id of ["filter", "kind"]) document.getElementById(id).addEventListener(id === "kind" ? "change" : "input", () => { table._state.page = 0; table._render(); });
  reloadPage = load;
  await load();
  setInterval(() => load().catch((e) => status(e.message)), 60000);
}

function levelsOf(apps, row) {
  if (row.kind !== "request") return [];
  return Object.entries(apps).filter(([, found]) => found.endpoints.includes(row.name))
    .map(([app, found]) => ({ app, level: found.levels[row.name] ?? found.default }));
}

function levelCell(row) {
  const levels = row.levels || [];
  if (!levels.length) return "";
  const box = el("span");
  for (const { app, level } of levels) {
    if (!IS_ADMIN) { box.append(el("span", { text: `${level}`, title: app })); continue; }
    const select = el("select", { "aria-label": `level of ${row.name} in ${app}`, "data-endpoint": row.name });
    for (const [value, label] of [[0, "0 off"], [1, "1 perf"], [2, "2 outliers"], [3, "3 profile"]]) {
      const option = el("option", { value: String(value), text: label });
      if (value === level) option.selected = true;
      select.append(option);
    }
    select.addEventListener("change", async () => {
      try {
        await api("levels", { method: "POST", body: JSON.stringify({ app, endpoint: row.name, level: Number(select.value) }) });
        status(`Level of ${row.name} set to ${select.value}`);
      } catch (error) { status(error.message); }
    });
    box.append(select);
  }
  return box;
}

// -- other pages ----------------------------------------------------------------------------------
async function jobsPage() {
  const load = async () => {
    const { rows } = await api("jobs?" + new URLSearchParams({ range: fixedRange() }));
    dataTable(document.getElementById("jobs"), rows, (r) => [
      detailLink("run", r.name), [fmt.n(r.runs), "num"], [fmt.n(r.failures), "num" + (r.failures ? " bad" : "")], fmt.time(r.last_start_ns),
      [fmt.duration(r.last_duration_ms), "num"], [r.last_outcome, r.last_outcome === "ok" ? "good" : "bad"],
      [r.last_exit_code, "num"], r.schedule || "", r.last_error || r.summary || "",
    ], { sortKey: "name", ascending: true, empty: "No supervised jobs yet (lookout run / @supervise)." });
    status("Updated " + new Date().toLocaleTimeString());
  };
  reloadPage = load;
  await load();
}

async function testsPage() {
  const { rows } = await api("tests");
  fillTable(document.getElementById("tests"), rows, (r) => [
    r.name, [fmt.n(r.runs), "num"], [fmt.n(r.failures), "num" + (r.failures ? " bad" : "")],
    [fmt.ms(r.p50_ms), "num"], [fmt.ms(r.p90_ms), "num"], [fmt.ms(r.max_ms), "num"], fmt.ago(r.last_ns),
    [r.last_outcome, r.last_outcome === "passed" ? "good" : r.last_outcome === "failed" ? "bad" : ""], r.last_version || "",
  ]);
}

const unitOf = (unit) => unit && unit !== "None" ? unit : "";
const timeStep = (span) => [60, 300, 600, 900, 1800, 3600, 7200, 10800, 21600, 43200, 86400, 172800].find((s) => span / s <= 6) || 172800 * Math.ceil(span / 6 / 172800);

function metricChart(target, metric, rangeS) {
  const unit = unitOf(metric.unit), now = Date.now() / 1000, t = metric.points.map((p) => iso(p.t));
  const from = Math.min(now - rangeS, ...metric.points.map((p) => p.t));
  Plotly.react(target, [
    { x: t, y: metric.points.map((p) => p.sum), type: "bar", name: "sum per hour", marker: { color: css("--primary") } },
    { x: t, y: metric.points.map((p) => p.mean), name: "mean", yaxis: "y2", mode: "lines+markers", line: { color: css("--warn") || "#d97706" } },
  ], layout({
    xaxis: timeAxis(from, now, timeStep(now - from)),
    yaxis: { title: { text: `sum per hour${unit ? " (" + unit + ")" : ""}` }, rangemode: "tozero" },
    yaxis2: { title: { text: `mean${unit ? " (" + unit + ")" : ""}` }, overlaying: "y", side: "right", showgrid: false, rangemode: "tozero", tickmode: "auto", nticks: 6 },
  }), plotConfig);
}

async function metricsPage() {
  const load = async () => {
    const range = fixedRange();
    const { metrics } = await api("metrics?" + new URLSearchParams({ range }));
    const box = document.getElementById("metrics");
    if (!metrics.length) { box.replaceChildren(el("p", { text: "No custom metrics yet (lookout.flask.add_metric)." })); return; }
    box.replaceChildren();
    for (const [index, metric] of metrics.entries()) {
      const id = `metric-${index}`, unit = unitOf(metric.unit);
      const title = el("h2", {}, detailLink("metric", metric.name));
      if (unit) title.append(el("span", { class: "unit", text: ` ${unit}` }));
      box.append(title, el("div", { id, class: "chart" }));
      metricChart(id, metric, RANGE_S[range]);
    }
    status("Updated " + new Date().toLocaleTimeString());
  };
  reloadPage = load;
  await load();
}

// A sink's disk spool (docs/reliability.md): events waiting on disk, their size, how many were
// written from it since the start, and how many a full spool could not keep ("–": no spool).
function spoolCells(spool) {
  if (!spool) return [["–", "num"], ["–", "num"], ["–", "num"], ["–", "num"]];
  return [[fmt.n(spool.depth), "num"], [(spool.bytes / 1048576).toFixed(1) + " MB", "num"],
    [fmt.n(spool.replayed), "num"], [fmt.n(spool.overflow), "num" + (spool.overflow ? " bad" : "")]];
}

async function systemPage() {
  const system = await api("system");
  const store = document.getElementById("store");
  const entries = [["Lookout", system.version], ["Backend", system.store.backend], ["URL", system.store.url],
    ["Size", system.store.bytes === null ? "–" : (system.store.bytes / 1048576).toFixed(1) + " MB"],
    ...Object.entries(system.store.rows).map(([table, count]) => [table, fmt.n(count)])];
  store.replaceChildren(...entries.flatMap(([k, v]) => [el("dt", { text: k }), el("dd", { text: v })]));
  const sinks = system.recorder ? Object.entries(system.recorder.sinks) : [];
  fillTable(document.getElementById("sinks"), sinks, ([name, s]) => [name, [fmt.n(s.written), "num"],
    [fmt.n(s.dropped), "num" + (s.dropped ? " bad" : "")], [fmt.n(s.failed), "num" + (s.failed ? " bad" : "")],
    [fmt.n(s.invalid), "num" + (s.invalid ? " bad" : "")], [fmt.n(s.retried), "num"],
    [fmt.n(s.queue_depth), "num"], ...spoolCells(s.spool), s.last_error || s.last_invalid || ""]);
  const alerts = document.getElementById("alerts");
  if (!system.alerts) {
    alerts.replaceChildren(el("p", { text: "No alert rules in this process (see docs/alerts.md; lookout watch runs them beside a central store)." }));
  } else {
    alerts.replaceChildren(
      el("ul", {}, ...system.alerts.rules.map((rule) => el("li", { text: rule }))),
      el("h3", { text: "Firing" }),
      el("ul", {}, ...(system.alerts.firing.length ? system.alerts.firing.map((f) => el("li", { class: "bad", text: `${f.rule}: ${f.key} (${f.held_back} held back)` })) : [el("li", { text: "nothing" })])),
      el("h3", { text: "Latest messages" }),
      el("ul", {}, ...(system.alerts.recent.length ? system.alerts.recent.map((m) => el("li", { text: `[${m.severity}] ${m.subject}` })) : [el("li", { text: "none" })])),
    );
  }
  if (IS_ADMIN) await tokensSection();
}

async function tokensSection() {
  const form = document.getElementById("new-token");
  const table = document.getElementById("tokens");
  const load = async () => {
    const { tokens } = await api("tokens");
    fillTable(table, tokens, (t) => {
      const revoke = el("button", { type: "button", text: "Revoke" });
      revoke.addEventListener("click", async () => { await api("tokens/" + t.id, { method: "DELETE" }); await load(); });
      return [t.name, t.role, fmt.time(t.created_ns), revoke];
    }, "No API tokens yet.");
  };
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    const data = new FormData(form);
    const created = await api("tokens", { method: "POST", body: JSON.stringify({ name: data.get("name"), role: data.get("role") }) });
    const shown = document.getElementById("token-shown");
    shown.textContent = `New token (shown once): ${created.token}`;
    shown.hidden = false;
    await load();
  });
  await load();
}

// -- start ----------------------------------------------------------------------------------------
const theme = localStorage.getItem("lookout-theme");
if (theme) document.documentElement.dataset.theme = theme;
document.getElementById("theme-toggle")?.addEventListener("click", () => {
  const dark = document.documentElement.dataset.theme === "dark" ||
    (!document.documentElement.dataset.theme && matchMedia("(prefers-color-scheme: dark)").matches);
  const next = dark ? "light" : "dark";
  document.documentElement.dataset.theme = next;
  localStorage.setItem("lookout-theme", next);
  rethemeCharts();
});
// every page's function, by body[data-page]; detail.js adds the detail page before start
const pages = { overview: overviewPage, jobs: jobsPage, tests: testsPage, metrics: metricsPage, system: systemPage };
document.addEventListener("DOMContentLoaded", () => {
  carryFilters();
  filterBar().catch((error) => status("Could not load the filters: " + error.message));
  const start = pages[body.dataset.page];
  if (start) start().catch((error) => status("Could not load: " + error.message));
});
