// Lookout dashboard: fetches the JSON API and renders it. Data only ever reaches the page
// through textContent or Plotly's own text handling, never as markup.
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

function layout(extra = {}) {
  return {
    margin: { l: 50, r: 20, t: 10, b: 40 }, height: 300,
    paper_bgcolor: "rgba(0,0,0,0)", plot_bgcolor: "rgba(0,0,0,0)",
    font: { color: css("--fg") || "#111827" }, legend: { orientation: "h" }, ...extra,
  };
}
const plotConfig = { displaylogo: false, responsive: true };

function fillTable(table, rows, cells, empty = "Nothing recorded yet.") {
  const tbody = table.querySelector("tbody");
  tbody.replaceChildren(...rows.map((row) => el("tr", {}, ...cells(row).map((cell) => {
    if (cell instanceof Node) return el("td", {}, cell);
    const [value, cls] = Array.isArray(cell) ? cell : [cell, ""];
    return el("td", { text: value ?? "–", class: cls });
  }))));
  if (!rows.length) tbody.append(el("tr", {}, el("td", { text: empty, colspan: "20" })));
}

// -- overview -------------------------------------------------------------------------------------
async function overviewPage() {
  const table = document.getElementById("overview");
  let rows = [];
  let sortKey = "hits_24h", ascending = false;
  const render = () => {
    const filter = document.getElementById("filter").value.toLowerCase();
    const shown = rows.filter((r) => r.name.toLowerCase().includes(filter)).sort((a, b) => {
      const x = a[sortKey] ?? -1, y = b[sortKey] ?? -1;
      return (x < y ? -1 : x > y ? 1 : 0) * (ascending ? 1 : -1);
    });
    fillTable(table, shown, (r) => [
      el("a", { href: `${BASE}detail/${r.kind}/${encodeURIComponent(r.name)}`, text: r.name }),
      r.kind, [fmt.n(r.hits_1h), "num"], [fmt.n(r.hits_24h), "num"], [fmt.n(r.hits_7d), "num"],
      [fmt.ms(r.p50_ms), "num"], [fmt.ms(r.p90_ms), "num"], [fmt.ms(r.p99_ms), "num"],
      [fmt.pct(r.error_rate), "num" + (r.error_rate > 0.01 ? " bad" : "")],
      fmt.ago(r.last_ns), sparkline(r.sparkline, r.name), levelCell(r),
    ]);
  };
  table.querySelectorAll("th[data-key]").forEach((th) => th.addEventListener("click", () => {
    ascending = sortKey === th.dataset.key ? !ascending : th.dataset.key === "name";
    sortKey = th.dataset.key;
    table.querySelectorAll("th").forEach((h) => h.classList.remove("sorted", "asc"));
    th.classList.add("sorted"); if (ascending) th.classList.add("asc");
    render();
  }));
  const load = async () => {
    const kind = document.getElementById("kind").value;
    const window_ = document.getElementById("window").value;
    const query = new URLSearchParams({ window: window_, ...(kind ? { kind } : {}) });
    rows = (await api("overview?" + query)).rows;
    render();
    status("Updated " + new Date().toLocaleTimeString());
  };
  document.getElementById("filter").addEventListener("input", render);
  document.getElementById("kind").addEventListener("change", load);
  document.getElementById("window").addEventListener("change", load);
  await load();
  setInterval(() => load().catch((e) => status(e.message)), 30000);
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

// -- detail ---------------------------------------------------------------------------------------
async function detailPage() {
  const kind = body.dataset.kind, name = body.dataset.name;
  const path = (what, extra = {}) =>
    `names/${kind}/${encodeURIComponent(name)}/${what}?` + new URLSearchParams(extra);
  const load = async () => {
    const range = document.getElementById("range").value;
    const [series, heat, versions, groups, statuses, outliers, profile, tracked] = await Promise.all([
      api(path("timeseries", { range })), api(path("heatmap")), api(path("versions", { range: range === "1h" || range === "6h" ? "24h" : range })),
      api(path("groups", { range })), api(path("statuses", { range })), api(path("outliers", { range: "7d" })),
      kind === "request" ? api(path("profile", { range })) : Promise.resolve(null), api(path("tracked", { range })),
    ]);
    const t = series.points.map((p) => new Date(p.t * 1000));
    const seconds = { "1h": 3600, "6h": 21600, "24h": 86400, "7d": 604800, "30d": 2592000 }[range];
    const latency = (key, name, line) => ({ x: t, y: series.points.map((p) => p[key]), name, mode: "lines+markers", marker: { size: 4 }, line });
    Plotly.react("chart-timeseries", [
      { x: t, y: series.points.map((p) => p.count), type: "bar", name: "hits", yaxis: "y2", width: series.bucket_s * 1000 * 0.9, marker: { color: css("--line") || "#e5e7eb" } },
      latency("p50_ms", "p50 ms", { color: colorOf(name) }),
      latency("p90_ms", "p90 ms", { dash: "dot", color: colorOf(name) }),
      latency("p99_ms", "p99 ms", { dash: "dash", color: css("--error") }),
    ], layout({
      xaxis: { type: "date", range: [new Date(Date.now() - seconds * 1000), new Date()] },
      yaxis: { title: "ms", rangemode: "tozero" },
      yaxis2: { overlaying: "y", side: "right", showgrid: false, title: "hits", rangemode: "tozero" },
    }), plotConfig);
    Plotly.react("chart-heatmap", [{ z: heat.counts, y: heat.weekdays, x: [...Array(24).keys()], type: "heatmap",
      colorscale: [[0, css("--card") || "#f9fafb"], [1, css("--primary") || "#2563eb"]] }],
      layout({ xaxis: { title: "hour (UTC)", dtick: 3 }, yaxis: { autorange: "reversed" } }), plotConfig);
    Plotly.react("chart-versions", [
      { x: versions.rows.map((r) => r.key), y: versions.rows.map((r) => r.p50_ms), type: "bar", name: "p50 ms" },
      { x: versions.rows.map((r) => r.key), y: versions.rows.map((r) => r.p90_ms), type: "bar", name: "p90 ms" },
      { x: versions.rows.map((r) => r.key), y: versions.rows.map((r) => r.p99_ms), type: "bar", name: "p99 ms" },
    ], layout({ barmode: "group", xaxis: { type: "category", title: "version" }, yaxis: { title: "ms" } }), plotConfig);
    fillTable(document.getElementById("groups"), groups.rows, (r) => [r.key, [fmt.n(r.count), "num"], [fmt.n(r.errors), "num"], [fmt.ms(r.p50_ms), "num"], [fmt.ms(r.p90_ms), "num"]]);
    fillTable(document.getElementById("statuses"), statuses.statuses, (r) => [[r.status, r.status >= "500" ? "bad" : ""], [fmt.n(r.count), "num"]]);
    fillTable(document.getElementById("clients"), statuses.clients, (r) => [r.client_ip, [fmt.n(r.count), "num"]]);
    renderOutliers(outliers);
    renderProfile(profile);
    renderTracked(tracked);
    status("Updated " + new Date().toLocaleTimeString());
  };
  document.getElementById("range").addEventListener("change", () => load().catch((e) => status(e.message)));
  await load();
}

function renderOutliers(outliers) {
  const box = document.getElementById("outliers");
  if (!outliers.length) { box.replaceChildren(el("p", { text: "No outliers (monitoring level 2 records them)." })); return; }
  box.replaceChildren(...outliers.map((o) => {
    const details = el("details", {}, el("summary", { text: `${fmt.time(o.start_ns)} · ${fmt.ms(o.duration_ms)} ms (threshold ${fmt.ms(o.threshold_ms)} ms) · ${o.request_id || ""}` }));
    details.append(el("pre", { class: "stack", text: JSON.stringify({ headers: o.headers, args: o.args, view_args: o.view_args }, null, 2) }));
    for (const stack of o.stacks || []) details.append(el("pre", { class: "stack", text: typeof stack === "string" ? stack : JSON.stringify(stack, null, 2) }));
    return details;
  }));
}

function renderProfile(profile) {
  const box = document.getElementById("profile");
  if (!profile || !profile.requests) { box.replaceChildren(el("p", { text: "No profiles (monitoring level 3 records them)." })); return; }
  const node = (n, depth) => {
    const item = el("li", { text: `${fmt.ms(n.total_ms)} ms  ${n.frame || "(all)"}` });
    if (n.children && n.children.length && depth < 25) item.append(el("ul", { class: "tree" }, ...n.children.map((c) => node(c, depth + 1))));
    return item;
  };
  box.replaceChildren(el("p", { text: `${profile.requests} profiled request(s)` }), el("ul", { class: "tree" }, node(profile.tree, 0)));
}

function renderTracked(tracked) {
  const table = document.getElementById("tracked");
  const columns = ["time", "request id", "group", ...tracked.columns];
  table.querySelector("thead").replaceChildren(el("tr", {}, ...columns.map((c) => el("th", { text: c }))));
  fillTable(table, tracked.rows, (r) => [fmt.time(r.start_ns), r.request_id, r.group,
    ...tracked.columns.map((c) => r.values[c] === undefined ? "" : typeof r.values[c] === "string" ? r.values[c] : JSON.stringify(r.values[c]))]);
}

// -- other pages ----------------------------------------------------------------------------------
async function jobsPage() {
  const { rows } = await api("jobs");
  fillTable(document.getElementById("jobs"), rows, (r) => [
    r.name, [fmt.n(r.runs), "num"], [fmt.n(r.failures), "num" + (r.failures ? " bad" : "")], fmt.time(r.last_start_ns),
    [(r.last_duration_ms / 1000).toFixed(1), "num"], [r.last_outcome, r.last_outcome === "ok" ? "good" : "bad"],
    r.last_exit_code, r.schedule || "", r.last_error || r.summary || "",
  ]);
}

async function testsPage() {
  const { rows } = await api("tests");
  fillTable(document.getElementById("tests"), rows, (r) => [
    r.name, [fmt.n(r.runs), "num"], [fmt.n(r.failures), "num" + (r.failures ? " bad" : "")],
    [fmt.ms(r.p50_ms), "num"], [fmt.ms(r.p90_ms), "num"], [fmt.ms(r.max_ms), "num"], fmt.ago(r.last_ns),
    [r.last_outcome, r.last_outcome === "passed" ? "good" : r.last_outcome === "failed" ? "bad" : ""], r.last_version || "",
  ]);
}

async function metricsPage() {
  const { metrics } = await api("metrics");
  const box = document.getElementById("metrics");
  if (!metrics.length) { box.replaceChildren(el("p", { text: "No custom metrics yet (lookout.flask.add_metric)." })); return; }
  box.replaceChildren();
  for (const [index, metric] of metrics.entries()) {
    const id = `metric-${index}`;
    box.append(el("h2", { text: `${metric.name}${metric.unit ? " (" + metric.unit + ")" : ""}` }), el("div", { id, class: "chart" }));
    const t = metric.points.map((p) => new Date(p.t * 1000));
    Plotly.newPlot(id, [
      { x: t, y: metric.points.map((p) => p.sum), type: "bar", name: "sum per hour" },
      { x: t, y: metric.points.map((p) => p.mean), name: "mean", yaxis: "y2" },
    ], layout({ yaxis2: { overlaying: "y", side: "right", showgrid: false } }), plotConfig);
  }
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
  const next = document.documentElement.dataset.theme === "dark" ? "light" : "dark";
  document.documentElement.dataset.theme = next;
  localStorage.setItem("lookout-theme", next);
});
const pages = { overview: overviewPage, detail: detailPage, jobs: jobsPage, tests: testsPage, metrics: metricsPage, system: systemPage };
const start = pages[body.dataset.page];
if (start) start().catch((error) => status("Could not load: " + error.message));
