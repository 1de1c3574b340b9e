// Lookout dashboard: one name's page, in tabs so that what matters (tiles and charts) is on
// the first screen; each tab loads when first opened. Uses dashboard.js's helpers; data
// reaches the page through textContent and Plotly only.
"use strict";

async function detailPage() {
  const kind = body.dataset.kind, name = body.dataset.name;
  if (kind === "metric") return metricDetail(name);
  const path = (what, extra = {}) => `names/${kind}/${encodeURIComponent(name)}/${what}?` + new URLSearchParams(extra);
  const version = () => filterParams().get("version");
  const loaded = new Set();
  const tiles = async () => {
    const now = await api("overview/names?" + filterParams({ kind, name }));
    const length = now.to - now.from;
    // the previous range of equal length (from/to win over a range)
    const before = await api("overview/names?" + filterParams({ kind, name, from: now.from - length, to: now.from }));
    const row = now.rows[0] || {}, previous = before.rows[0] || {};
    for (const tile of document.querySelectorAll("#tiles .tile")) {
      const key = tile.dataset.tile, value = row[key] ?? (key === "count" ? 0 : null), old = previous[key] ?? (key === "count" ? 0 : null);
      const delta = value === null || old === null || !before.rows.length ? null : value - old;
      renderTile(tile, value, delta === null || !old ? null : delta / old, delta);
    }
  };
  const loaders = {
    summary: async () => {
      const query = filterParams({ kind, name });
      const [series, heat] = await Promise.all([api("overview/series?" + query), api(path("heatmap"))]);
      timeCharts(series, "chart-traffic", "chart-latency", kind === "run" ? "runs" : kind === "call" ? "calls" : "requests");
      Plotly.react("chart-heatmap", [{ z: heat.counts, y: heat.weekdays, x: [...Array(24).keys()], type: "heatmap",
        colorscale: [[0, css("--card") || "#f9fafb"], [1, css("--primary") || "#2563eb"]], colorbar: { title: { text: kind + "s" }, tickfont: { color: css("--fg") } },
        hovertemplate: "%{y} %{x}:00 UTC: %{z:,}<extra></extra>" }],
      layout({ height: 260, xaxis: { title: { text: "hour of day (UTC)" }, dtick: 3 }, yaxis: { autorange: "reversed" } }), plotConfig);
    },
    runs: async () => {
      const found = await api(`runs/${encodeURIComponent(name)}?` + new URLSearchParams([...filterParams()].filter(([k]) => ["range", "from", "to"].includes(k))));
      for (const r of found.rows) r.detail = r.error || r.summary || "";
      dataTable(document.getElementById("runs"), found.rows, (r) => [
        link(`${BASE}explorer/event/${r.id}`, fmt.time(r.start_ns)), [fmt.duration(r.duration_ms), "num"],
        [r.outcome, r.outcome === "ok" ? "good" : "bad"], [r.exit_code ?? "–", "num"], r.host, r.version || "(none)",
        [r.detail, r.error ? "bad" : ""],
      ], { sortKey: "start_ns", empty: "No run in this range." });
    },
    versions: async () => {
      const extra = version() === null ? {} : { version: version() };
      const [versions, hosts] = await Promise.all([api(path("versions", { range: fixedRange() })), api(path("hosts", { range: fixedRange(), ...extra }))]);
      const x = versions.rows.map((r) => r.key);
      Plotly.react("chart-versions", ["p50_ms", "p90_ms", "p99_ms"].map((key) => (
        { x, y: versions.rows.map((r) => r[key]), type: "bar", name: key.replace("_ms", ""), hovertemplate: "%{y:.1f} ms<extra>%{x}</extra>" })),
      layout({ barmode: "group", xaxis: { type: "category", title: { text: "version" } }, yaxis: { title: { text: "latency (ms)" }, rangemode: "tozero" } }), plotConfig);
      dataTable(document.getElementById("hosts"), hosts.rows, (r) => [r.key, [fmt.n(r.count), "num"], [fmt.n(r.errors), "num" + (r.errors ? " bad" : "")], [fmt.ms(r.p50_ms), "num"], [fmt.ms(r.p99_ms), "num"]],
        { sortKey: "count", empty: "No host in this range." });
    },
    users: async () => {
      const groups = await api(path("groups", { range: fixedRange() }));
      document.getElementById("groups-note").textContent = `The ${groups.rows.length} busiest users of the ${fmt.n(groups.sampled)} most recent events` + (groups.complete ? "." : " (the range holds more).");
      dataTable(document.getElementById("groups"), groups.rows, (r) => [r.key, [fmt.n(r.count), "num"], [fmt.n(r.errors), "num"], [fmt.ms(r.p50_ms), "num"], [fmt.ms(r.p90_ms), "num"]],
        { sortKey: "count", empty: "No user recorded (group_by)." });
    },
    statuses: async () => {
      const found = await api(path("statuses", { range: fixedRange() }));
      dataTable(document.getElementById("statuses"), found.statuses, (r) => [[r.status, r.status >= "500" ? "bad" : ""], [fmt.n(r.count), "num"]], { sortKey: "status", ascending: true });
      dataTable(document.getElementById("clients"), found.clients, (r) => [r.client_ip, [fmt.n(r.count), "num"]], { sortKey: "count" });
    },
    errors: async () => {
      const query = new URLSearchParams([...filterParams(), ["kind", kind], ["name", name], ["outcome", "error"]]);
      const found = await api("explorer/events?" + query);
      dataTable(document.getElementById("errors"), found.rows, (r) => [
        link(`${BASE}explorer/event/${r.id}`, fmt.time(r.start_ns)), [fmt.ms(r.duration_ms), "num"], [r.error_type || "–", "bad"],
        r.error_message || "", r.host, r.version || "(none)",
      ], { sortKey: "start_ns", empty: "No error in this range." });
    },
    outliers: async () => {
      const [outliers, profile] = await Promise.all([api(path("outliers", { range: "7d" })), api(path("profile", { range: fixedRange() }))]);
      renderOutliers(outliers);
      renderProfile(profile);
    },
    tracked: async () => renderTracked(await api(path("tracked", { range: fixedRange() }))),
  };
  const tabs = [...document.querySelectorAll("[role=tab]")];
  const open = async (tab) => {
    for (const button of tabs) button.setAttribute("aria-selected", String(button.dataset.tab === tab));
    for (const section of document.querySelectorAll("section.tab")) section.hidden = section.dataset.tab !== tab;
    if (tab !== "summary") history.replaceState(null, "", location.pathname + location.search + "#" + tab);
    else if (location.hash) history.replaceState(null, "", location.pathname + location.search);
    if (!loaded.has(tab)) { loaded.add(tab); await loaders[tab](); }
    for (const chart of document.querySelectorAll(`section.tab[data-tab="${tab}"] .js-plotly-plot`)) Plotly.Plots.resize(chart);
    status("Updated " + new Date().toLocaleTimeString());
  };
  for (const button of tabs) button.addEventListener("click", () => open(button.dataset.tab).catch((e) => status(e.message)));
  const wanted = location.hash.slice(1);
  reloadPage = async () => {
    loaded.clear();
    await tiles();
    const current = tabs.find((b) => b.getAttribute("aria-selected") === "true").dataset.tab;
    await open(current);
  };
  await Promise.all([tiles(), open(tabs.some((b) => b.dataset.tab === wanted) ? wanted : "summary")]);
}

async function metricDetail(name) {
  const load = async () => {
    const range = fixedRange();
    const { metrics } = await api("metrics?" + new URLSearchParams({ range }));
    const metric = metrics.find((m) => m.name === name);
    const note = document.getElementById("metric-note");
    if (!metric) { note.textContent = "No value of this metric in the range."; return; }
    metricChart("metric-chart", metric, RANGE_S[range]);
    const unit = unitOf(metric.unit);
    note.textContent = `${fmt.n(metric.points.reduce((n, p) => n + p.count, 0))} values${unit ? " in " + unit : ""}, summed and averaged per hour.`;
  };
  reloadPage = load;
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
  const columns = ["time", "request id", "user", ...tracked.columns];
  const keys = ["start_ns", "request_id", "group", ...tracked.columns.map((c) => "v:" + c)];
  table.querySelector("thead").replaceChildren(el("tr", {}, ...columns.map((c, i) => el("th", { text: c, "data-key": keys[i] }))));
  table._bound = false;
  const text = (v) => v === undefined ? "" : typeof v === "string" ? v : JSON.stringify(v);
  const rows = tracked.rows.map((r) => ({ ...r, ...Object.fromEntries(tracked.columns.map((c) => ["v:" + c, text(r.values[c])])) }));
  dataTable(table, rows, (r) => [
    r.request_id ? link(`${BASE}explorer?request_id=${encodeURIComponent(r.request_id)}`, fmt.time(r.start_ns)) : fmt.time(r.start_ns),
    r.request_id, r.group, ...tracked.columns.map((c) => r["v:" + c]),
  ], { sortKey: "start_ns", empty: "No tracked values in this range." });
}

pages.detail = detailPage;
