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

// -- latency axes: log scale, readable ticks ------------------------------------------------------
// Plotly's own log ticks read "10, 2, 3, 4" for 10, 20, 30, 40 ms. These axes get explicit ticks:
// 1-2-5 steps in µs, ms and s (finer over a narrow range, decades over a wide one), as many as
// the chart's width fits. They are drawn on a second x axis matched to the data's (which needs a
// trace: an invisible one): with ticktext on the data's own axis, Plotly would hover any value
// within 1/10000 of the range of a tick as that tick's text ("20 ms" for 20.0004).
//
// Each decade's steps, about evenly spaced on the log scale, densest first.
const LOG_TICK_STEPS = [[1, 1.2, 1.5, 2, 2.5, 3, 4, 5, 6, 8], [1, 1.5, 2, 3, 5, 7], [1, 2, 5], [1, 3], [1]];
const round12 = (v) => +v.toPrecision(12);  // 3 * 10 ** -2 is 0.030000000000000002

function msText(ms) {
  const [value, unit] = ms >= 1000 ? [ms / 1000, "s"] : ms >= 1 ? [ms, "ms"] : [ms * 1000, "µs"];
  return `${+value.toPrecision(6)} ${unit}`;
}

function logTicks(range, most) {
  // Ticks (ms) inside an axis range of [log10(low), log10(high)]: the densest steps with at most
  // `most` of them; over many decades every 2nd, 3rd... decade; within one step, round linear ones.
  const [from, to] = [round12(10 ** range[0]), round12(10 ** range[1])];
  const at = (steps, every = 1) => {
    const found = [];
    for (let e = Math.floor(range[0]); e <= Math.ceil(range[1]); e++) {
      if (e % every !== 0) continue;
      for (const step of steps) {
        const value = round12(step * 10 ** e);
        if (value >= from && value <= to) found.push(value);
      }
    }
    return found;
  };
  let ticks = [];
  for (const steps of LOG_TICK_STEPS) if ((ticks = at(steps)).length <= most) break;
  for (let every = 2; ticks.length > most; every++) ticks = at([1], every);
  if (ticks.length < 2 && to > from) {
    const rough = (to - from) / most, power = 10 ** Math.floor(Math.log10(rough));
    const step = [1, 2, 5, 10].map((m) => m * power).find((s) => s >= rough);
    ticks = [];
    for (let i = Math.ceil(from / step); i * step <= to; i++) ticks.push(round12(i * step));
  }
  return { tickvals: ticks, ticktext: ticks.map(msText) };
}

const mostTicks = (node) => Math.max(3, Math.min(12, Math.floor(node.clientWidth / 110)));

function latencyAxes(node, rows) {
  // layout.xaxis (the boxes', log) and xaxis2 (its ticks), and the invisible trace xaxis2 needs
  const shown = rows.flatMap((r) => [r.p5_ms, r.p25_ms, r.p50_ms, r.p75_ms, r.p95_ms, r.mean_ms])
    .filter((v) => v > 0 && Number.isFinite(v));
  const category = rows.length ? label(rows[0]) : null;
  const [low, high] = shown.length ? [Math.min(...shown), Math.max(...shown)] : [1, 1000];
  const span = Math.log10(high) - Math.log10(low), pad = Math.max(0.05, 0.05 * span);
  const range = [Math.log10(low) - pad, Math.log10(high) + pad];
  return {
    xaxis: { type: "log", range, showticklabels: false, showgrid: false, ticksuffix: " ms" },
    xaxis2: {
      type: "log", overlaying: "x", matches: "x", side: "bottom", tickmode: "array", ...logTicks(range, mostTicks(node)),
      title: { text: "latency (log scale)" }, gridcolor: "rgba(128,128,128,.2)",
    },
    trace: { type: "scatter", mode: "none", x: [low, high], y: [category, category], xaxis: "x2", hoverinfo: "skip", showlegend: false },
  };
}

function retickOnZoom(node) {
  // zoomed, reset or autoscaled: ticks for the range now shown
  if (node.dataset.retick) return;
  node.dataset.retick = "1";
  node.on("plotly_relayout", (change) => {
    if (!Object.keys(change).some((key) => key.startsWith("xaxis.range") || key === "xaxis.autorange")) return;
    const { tickvals, ticktext } = logTicks(node.layout.xaxis.range, mostTicks(node));
    Plotly.relayout(node, { "xaxis2.tickvals": tickvals, "xaxis2.ticktext": ticktext });
  });
}

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
  const node = document.getElementById(target);
  const { xaxis, xaxis2, trace } = latencyAxes(node, rows);
  Plotly.react(node, [...traceOf(rows), trace], layout({
    height: Math.max(220, 90 + 30 * rows.length), margin: { l: 10, r: 20, t: 10, b: 50 },
    xaxis, xaxis2, yaxis: { automargin: true, autorange: "reversed", type: "category" },
    showlegend: false,
  }), plotConfig).then(() => retickOnZoom(node));
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
  const { xaxis, xaxis2, trace } = latencyAxes(target, byVersion.rows);
  Plotly.react(target, [...traces, trace], layout({
    height: Math.max(260, 100 + 26 * names.size * Math.min(3, byVersion.versions.length)),
    margin: { l: 10, r: 20, t: 10, b: 50 }, boxmode: "group", xaxis, xaxis2,
    yaxis: { automargin: true, autorange: "reversed", type: "category" }, legend: { orientation: "h", y: 1.02, yanchor: "bottom", title: { text: "version" } },
  }), plotConfig).then(() => retickOnZoom(target));
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
