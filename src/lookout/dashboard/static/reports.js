// Lookout dashboard: the Distributions and Reports pages. Uses dashboard.js's helpers (el, api,
// fmt, layout, plotConfig, fillTable, css, status); data reaches the page through textContent
// and Plotly's own text handling only.
"use strict";

const reportQuery = (extra = {}) => {
  // the page filters every page keeps (range, from/to), plus the page's own
  const query = new URLSearchParams();
  const here = new URLSearchParams(location.search);
  for (const key of ["range", "from", "to"]) if (here.get(key)) query.set(key, here.get(key));
  for (const [key, value] of Object.entries(extra)) if (value) query.set(key, value); else query.delete(key);
  return query;
};

const label = (row) => (row.kind === "call" ? "ƒ " : "") + row.name;
const versionLabel = (v) => v || "(none)";
const axisMs = { title: { text: "latency (ms, log scale)" }, type: "log", automargin: true, gridcolor: "rgba(128,128,128,.2)" };

function keepInUrl(values) {
  const url = new URL(location.href);
  for (const [key, value] of Object.entries(values)) if (value) url.searchParams.set(key, value); else url.searchParams.delete(key);
  history.replaceState(null, "", url);
}

function selectFromUrl(id, key) {
  const value = new URLSearchParams(location.search).get(key);
  const select = document.getElementById(id);
  if (value && [...select.options].some((o) => o.value === value)) select.value = value;
  return select;
}

function boxChart(target, rows, traceOf) {
  const height = Math.max(220, 90 + 30 * rows.length);
  Plotly.react(target, traceOf(rows), layout({
    height, margin: { l: 10, r: 20, t: 10, b: 50 },
    xaxis: axisMs, yaxis: { automargin: true, autorange: "reversed", type: "category" },
    showlegend: false,
  }), plotConfig);
}

function boxTrace(rows, name, color) {
  return {
    type: "box", orientation: "h", name, y: rows.map(label),
    q1: rows.map((r) => r.p25_ms), median: rows.map((r) => r.p50_ms), q3: rows.map((r) => r.p75_ms),
    lowerfence: rows.map((r) => r.p5_ms), upperfence: rows.map((r) => r.p95_ms), mean: rows.map((r) => r.mean_ms),
    marker: { color }, line: { width: 1.5 }, boxpoints: false, hoverinfo: "x+y+name",
  };
}

async function distributionsPage() {
  const range = selectFromUrl("range", "range");
  const kind = selectFromUrl("kind", "kind");
  const names = document.getElementById("heatmap-name");
  const load = async () => {
    keepInUrl({ range: range.value, kind: kind.value });
    const query = reportQuery({ range: range.value, kind: kind.value });
    const [dist, use] = await Promise.all([api("reports/distributions?" + query), api("reports/utilization?" + query)]);
    const rows = dist.rows;
    if (rows.length) boxChart("chart-boxes", rows, (r) => [boxTrace(r, "latency", css("--primary"))]);
    else document.getElementById("chart-boxes").replaceChildren(el("p", { text: "Nothing recorded in this range." }));
    versionBoxes(dist.by_version || null);
    utilizationCharts(use);
    const current = names.value || new URLSearchParams(location.search).get("name");
    names.replaceChildren(...use.series.map((s) => el("option", { value: `${s.kind}\t${s.name}`, text: label(s) })));
    if (current && [...names.options].some((o) => o.value === current)) names.value = current;
    await heatmaps();
    status("Updated " + new Date().toLocaleTimeString());
  };
  const heatmaps = async () => {
    if (!names.value) return;
    const [kindOf, name] = names.value.split("\t");
    const found = await api("reports/heatmaps?" + reportQuery({ range: range.value, kind: kindOf, name }));
    document.getElementById("heatmap-note").textContent =
      `From the ${fmt.n(found.sampled)} most recent events of ${name}` + (found.complete ? " (all of them in this range)." : " (the range holds more).");
    heatmap("chart-version-user", found.versions, found.users, "user");
    heatmap("chart-version-host", found.versions, found.hosts, "host");
  };
  range.addEventListener("change", load);
  kind.addEventListener("change", load);
  names.addEventListener("change", heatmaps);
  await load();
}

function versionBoxes(byVersion) {
  const target = document.getElementById("chart-version-boxes");
  if (!byVersion || !byVersion.versions.length) {
    target.replaceChildren(el("p", { text: "No versions recorded in this range." }));
    return;
  }
  const palette = ["#2563eb", "#f59e0b", "#16a34a", "#dc2626", "#7c3aed", "#0891b2", "#db2777", "#65a30d"];
  const traces = byVersion.versions.map((version, i) =>
    boxTrace(byVersion.rows.filter((r) => r.version === version), versionLabel(version), palette[i % palette.length]));
  const names = new Set(byVersion.rows.map(label));
  Plotly.react(target, traces, layout({
    height: Math.max(260, 100 + 26 * names.size * Math.min(3, byVersion.versions.length)),
    margin: { l: 10, r: 20, t: 10, b: 50 }, boxmode: "group", xaxis: axisMs,
    yaxis: { automargin: true, autorange: "reversed", type: "category" }, legend: { orientation: "h", y: 1.02, yanchor: "bottom", title: { text: "version" } },
  }), plotConfig);
}

function utilizationCharts(use) {
  const top = use.series.slice(0, 10);
  const days = use.days.map((d) => new Date(d * 1000).toISOString().slice(0, 10));
  Plotly.react("chart-daily", top.map((s) => ({ type: "bar", name: label(s), x: days, y: s.daily })), layout({
    barmode: "stack", xaxis: { title: { text: "day (UTC)" }, type: "category", automargin: true },
    yaxis: { title: { text: "hits" }, automargin: true, rangemode: "tozero" },
    legend: { orientation: "h", y: -0.25 }, height: 360,
  }), plotConfig);
  const hours = [...Array(24).keys()];
  Plotly.react("chart-hourly", top.map((s) => ({ type: "bar", name: label(s), x: hours, y: s.hourly })), layout({
    barmode: "stack", xaxis: { title: { text: "hour of day (UTC)" }, dtick: 2, automargin: true },
    yaxis: { title: { text: "hits" }, automargin: true, rangemode: "tozero" },
    legend: { orientation: "h", y: -0.25 }, height: 360,
  }), plotConfig);
}

function heatmap(target, versions, grid, what) {
  const node = document.getElementById(target);
  if (!versions.length || !grid.columns.length) {
    node.replaceChildren(el("p", { text: `No ${what}s recorded for this name in the range.` }));
    return;
  }
  Plotly.react(node, [{
    type: "heatmap", x: grid.columns, y: versions.map(versionLabel), z: grid.p50_ms,
    customdata: grid.counts, colorscale: "YlOrRd", hoverongaps: false,
    hovertemplate: `version %{y}<br>${what} %{x}<br>p50 %{z} ms<br>%{customdata} hits<extra></extra>`,
    colorbar: { title: { text: "p50 ms" } },
  }], layout({
    height: Math.max(240, 120 + 34 * versions.length), margin: { l: 10, r: 10, t: 10, b: 90 },
    xaxis: { type: "category", automargin: true, tickangle: -40 },
    yaxis: { type: "category", title: { text: "version" }, automargin: true },
  }), plotConfig);
}

// -- reports --------------------------------------------------------------------------------------
const signed = (v) => (v === null || v === undefined ? "–" : (v > 0 ? "+" : "") + (100 * v).toFixed(1) + " %");
const pvalue = (p) => (p < 1e-4 ? "< 0.0001" : p.toFixed(4));
const pair = (values, format) => `${format(values[0])} → ${format(values[1])}`;
const toLocal = (s) => new Date(s * 1000 - new Date().getTimezoneOffset() * 60000).toISOString().slice(0, 16);
const fromLocal = (value) => (value ? Math.floor(new Date(value).getTime() / 1000) : "");

function nameLink(row) {
  return el("a", { href: `${BASE}detail/${row.kind}/${encodeURIComponent(row.name)}`, text: row.name });
}

async function reportsPage() {
  const compare = selectFromUrl("compare", "compare");
  const custom = document.getElementById("custom");
  const inputs = ["base-from", "base-to", "current-from", "current-to"].map((id) => document.getElementById(id));
  const load = async () => {
    custom.hidden = compare.value !== "custom";
    let extra = { compare: compare.value };
    if (compare.value === "custom") {
      const [bf, bt, cf, ct] = inputs.map((i) => fromLocal(i.value));
      if (!bf || !bt || !cf || !ct) { status("Choose both periods, then Compare."); return; }
      extra = { ...extra, base_from: bf, base_to: bt, from: cf, to: ct };
    }
    keepInUrl(extra);
    const found = await api("reports/compare?" + new URLSearchParams(extra));
    const period = (w) => `${w.label} (${fmt.time(w.from * 1e9).slice(0, 16)} – ${fmt.time(w.to * 1e9).slice(0, 16)})`;
    document.getElementById("periods").textContent = `Base: ${period(found.base)}. Current: ${period(found.current)}. ${found.all.length} names recorded in both.`;
    if (compare.value !== "custom") {
      [inputs[0].value, inputs[1].value] = [toLocal(found.base.from), toLocal(found.base.to)];
      [inputs[2].value, inputs[3].value] = [toLocal(found.current.from), toLocal(found.current.to)];
    }
    fillTable(document.getElementById("latency-changes"), found.latency, (r) => [
      nameLink(r), r.kind, [pair(r.count, fmt.n), "num"], [pair(r.p50_ms, fmt.ms), "num"],
      [signed(r.p50_change), "num" + (r.p50_change > 0 ? " bad" : " good")], [pair(r.p95_ms, fmt.ms), "num"],
      [signed(r.p95_change), "num" + (r.p95_change > 0 ? " bad" : " good")],
      [(r.delta > 0 ? "+" : "") + r.delta.toFixed(2), "num"], [pvalue(r.latency_p), "num"],
    ], "No significant latency change.");
    fillTable(document.getElementById("error-changes"), found.errors, (r) => [
      nameLink(r), r.kind, [pair(r.count, fmt.n), "num"], [pair(r.error_rate, fmt.pct), "num"],
      [signed(r.error_rate_change).replace(" %", " pts"), "num" + (r.error_rate_change > 0 ? " bad" : " good")],
      [pvalue(r.error_p), "num"],
    ], "No significant error-rate change.");
    const m = found.method;
    document.getElementById("method").replaceChildren(
      el("li", { text: `Latency: ${m.latency_test}; shown when p < ${m.alpha} after ${m.correction} and |Cliff's δ| ≥ ${m.min_delta} (${m.effect}).` }),
      el("li", { text: `Error rate: ${m.error_test}; shown when p < ${m.alpha} after ${m.correction} and the rate moved by at least ${(100 * m.min_rate_change).toFixed(1)} percentage points.` }),
      el("li", { text: "Largest effect first. Only names recorded in both periods are compared." }),
    );
    const unchanged = found.all.length - new Set([...found.latency, ...found.errors].map((r) => r.kind + r.name)).size;
    document.getElementById("unchanged").textContent = `${unchanged} of ${found.all.length} names show no significant change.` +
      (found.only_current.length ? ` New in the current period: ${found.only_current.join(", ")}.` : "") +
      (found.only_base.length ? ` Only in the base period: ${found.only_base.join(", ")}.` : "");
    status("Updated " + new Date().toLocaleTimeString());
  };
  compare.addEventListener("change", load);
  document.getElementById("apply").addEventListener("click", load);
  await load();
}

const reportPages = { distributions: distributionsPage, reports: reportsPage };
const reportPage = reportPages[body.dataset.page];
if (reportPage) reportPage().catch((error) => status("Could not load: " + error.message));
