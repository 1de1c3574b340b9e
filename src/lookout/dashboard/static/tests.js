// Lookout dashboard: the Tests page (test runs recorded by the pytest plugin). Uses
// dashboard.js's helpers (el, api, fmt, layout, plotConfig, fillTable, css, status); data reaches
// the page through textContent and Plotly's own text handling only. The "Every test" table is
// filled by dashboard.js (GET /api/tests) while it has a testsPage; everything else is here.
"use strict";

const testsForm = document.getElementById("tests-filters");
const short = (commit) => (commit || "").slice(0, 10);
const testLabel = (name) => name.length > 80 ? "…" + name.slice(-79) : name;
const pValue = (p) => p === null || p === undefined ? "–" : p < 0.001 ? "< 0.001" : p.toPrecision(2);
const change = (c) => c === null || c === undefined ? "–" : (c > 0 ? "+" : "") + (100 * c).toFixed(1) + " %";
const range2 = (a, b) => `${fmt.ms(a)}–${fmt.ms(b)}`;
const verdictClass = { slower: "bad", faster: "good", new: "", gone: "", failed: "bad" };

function testsQuery(extra = {}) {
  const query = new URLSearchParams();
  const data = new FormData(testsForm);
  for (const key of ["range", "branch"]) if (data.get(key)) query.set(key, data.get(key));
  for (const [key, value] of Object.entries(extra)) if (value !== undefined && value !== "") query.set(key, value);
  return query;
}

function keepTestsState(extra = {}) {
  const url = new URL(location.href);
  const data = new FormData(testsForm);
  for (const key of ["range", "branch", "base", "head"]) {
    if (data.get(key)) url.searchParams.set(key, data.get(key)); else url.searchParams.delete(key);
  }
  for (const [key, value] of Object.entries(extra)) if (value) url.searchParams.set(key, value); else url.searchParams.delete(key);
  history.replaceState(null, "", url);
}

function setOptions(select, options, wanted) {
  // options: [value, label] pairs; keeps `wanted` when it is one of them
  select.replaceChildren(...options.map(([value, label]) => el("option", { value, text: label })));
  if (options.some(([value]) => value === wanted)) select.value = wanted;
}

function refOptions(found) {
  const options = [["latest", "the latest run"]];
  for (const branch of found.branches) options.push([`latest:${branch.branch}`, `the latest ${branch.branch} run`]);
  for (const version of [...found.versions].reverse()) options.push([version, `version ${version} (every run)`]);
  for (const run of [...found.runs].reverse().slice(0, 30)) {
    options.push([`run:${run.id}`, `run ${run.id}: ${run.branch || "?"} ${run.version} ${fmt.time(run.started_ns).slice(5, 16)}`]);
  }
  return options;
}

function defaultBase(found, head) {
  // the version before the newest run's, else the oldest run: something to compare with
  const newest = found.runs[found.runs.length - 1];
  const versions = found.versions;
  const at = newest ? versions.indexOf(newest.version) : -1;
  if (at > 0) return versions[at - 1];
  const oldest = found.runs[0];
  return oldest && `run:${oldest.id}` !== head ? `run:${oldest.id}` : "latest";
}

function runsChart(found) {
  const target = document.getElementById("runs-chart");
  if (!found.runs.length) { target.replaceChildren(el("p", { class: "note", text: "No runs in this range." })); return; }
  const byBranch = new Map();
  for (const run of found.runs) {
    const key = run.branch || "(no branch)";
    if (!byBranch.has(key)) byBranch.set(key, []);
    byBranch.get(key).push(run);
  }
  const traces = [...byBranch.entries()].map(([branch, runs]) => ({
    type: "scatter", mode: "lines+markers", name: branch,
    x: runs.map((r) => new Date(r.started_ns / 1e6).toISOString()),
    y: runs.map((r) => r.duration_ms / 1000),
    text: runs.map((r) => `${r.version} ${short(r.commit)}: ${r.tests} tests, ${r.failed} failed`),
    hoverinfo: "x+y+text+name",
    marker: {
      size: runs.map((r) => (r.failed ? 11 : 7)),
      symbol: runs.map((r) => (r.failed ? "x" : "circle")),
      line: { width: 0 },
    },
  }));
  Plotly.react(target, traces, layout({
    height: 280, margin: { l: 50, r: 20, t: 10, b: 40 },
    yaxis: { title: { text: "run duration (s)" }, rangemode: "tozero", gridcolor: "rgba(128,128,128,.2)" },
    xaxis: { gridcolor: "rgba(128,128,128,.2)" },
  }), plotConfig);
  const failed = found.runs.filter((r) => r.failed).length;
  document.getElementById("runs-note").textContent =
    `${found.runs.length} runs, ${failed} with failures (marked ×); versions: ${found.versions.join(", ") || "none"}.`;
}

function historyChart(found) {
  const target = document.getElementById("history-chart");
  const rows = found.versions.filter((v) => v.n);
  if (!rows.length) { target.replaceChildren(el("p", { class: "note", text: "No passed run of this test in this range." })); return; }
  Plotly.react(target, [{
    type: "box", name: found.name, x: rows.map((v) => v.version),
    q1: rows.map((v) => v.p25_ms), median: rows.map((v) => v.median_ms), q3: rows.map((v) => v.p75_ms),
    lowerfence: rows.map((v) => v.min_ms), upperfence: rows.map((v) => v.max_ms),
    marker: { color: css("--primary") }, boxpoints: false, hoverinfo: "x+y",
  }], layout({
    height: 280, showlegend: false, margin: { l: 60, r: 20, t: 10, b: 50 },
    xaxis: { type: "category", title: { text: "version" } },
    // precomputed boxes do not take part in autorange everywhere: the range is set from the data
    yaxis: { title: { text: "call duration (ms)" }, range: [0, 1.1 * Math.max(...rows.map((v) => v.max_ms))], gridcolor: "rgba(128,128,128,.2)" },
  }), plotConfig);
  document.getElementById("history-note").textContent = found.versions
    .map((v) => `${v.version}: ${v.runs} runs, ${v.n} repeats, median ${fmt.ms(v.median_ms)} ms` + (v.failed ? `, ${v.failed} failed` : ""))
    .join(" · ");
}

function endpointsChart(rows) {
  const target = document.getElementById("endpoints-chart");
  if (!rows.length) { target.replaceChildren(el("p", { class: "note", text: "No test requested an endpoint of an app with LookoutFlask." })); return; }
  const x = rows.map((r) => `${r.endpoint} ${r.version}`);
  Plotly.react(target, [
    { type: "bar", name: "in tests (p50)", x, y: rows.map((r) => r.test_p50_ms), marker: { color: css("--primary") } },
    { type: "bar", name: "in production (p50)", x, y: rows.map((r) => r.prod_p50_ms), marker: { color: "#f59e0b" } },
  ], layout({
    height: 320, barmode: "group", margin: { l: 60, r: 20, t: 30, b: 90 },
    legend: { orientation: "h", x: 0, y: 1.12 },
    xaxis: { type: "category", tickangle: -35, automargin: true },
    yaxis: { title: { text: "latency p50 (ms)" }, gridcolor: "rgba(128,128,128,.2)" },
  }), plotConfig);
}

async function showFailure(runId, name) {
  const found = await api("tests/failure?" + new URLSearchParams({ run: runId, name }));
  document.getElementById("failure-name").textContent = `${found.name} (run ${found.run.id}, ${found.run.version}, ${found.outcome})`;
  document.getElementById("failure-message").textContent = found.message || "";
  document.getElementById("failure-traceback").textContent = found.traceback || "(no traceback)";
  document.getElementById("failure-detail").hidden = false;
}

function failureLink(runId, name, text) {
  const link = el("a", { href: "#failure-detail", text });
  link.addEventListener("click", (event) => { event.preventDefault(); showFailure(runId, name).catch((e) => status(e.message)); });
  return link;
}

async function loadHistory(name) {
  if (!name) return;
  keepTestsState({ test: name });
  historyChart(await api("tests/history?" + testsQuery({ name })));
}

async function loadComparisons() {
  const data = new FormData(testsForm);
  const base = data.get("base"), head = data.get("head") || "latest";
  keepTestsState({ test: document.getElementById("history-name").value });
  const [changes, slowest, failures] = await Promise.all([
    base ? api("tests/changes?" + new URLSearchParams({ base, head })) : null,
    api("tests/slowest?" + new URLSearchParams({ ref: head, limit: "25" })),
    api("tests/failures?" + new URLSearchParams({ ref: head })),
  ]);
  if (changes) {
    document.getElementById("changes-summary").textContent =
      `${changes.head.label} against ${changes.base.label}: ${changes.summary || "no tests"} ` +
      `(significant at p < ${changes.alpha} and at least ${100 * changes.min_change} % apart).`;
    fillTable(document.getElementById("changes"), changes.tests, (t) => [
      [t.verdict, verdictClass[t.verdict]], testLabel(t.name), [fmt.ms(t.base_ms), "num"], [fmt.ms(t.head_ms), "num"],
      [change(t.change), "num " + verdictClass[t.verdict]], [pValue(t.p_value), "num"], [`${t.base_n} / ${t.head_n}`, "num"],
    ], "No test changed significantly.");
  }
  document.getElementById("slowest-label").textContent = `In ${slowest.label} (${slowest.run_ids.length} run${slowest.run_ids.length === 1 ? "" : "s"}).`;
  fillTable(document.getElementById("slowest"), slowest.tests, (t) => {
    const link = el("a", { href: "#history-chart", text: testLabel(t.name) });
    link.addEventListener("click", (event) => {
      event.preventDefault();
      document.getElementById("history-name").value = t.name;
      loadHistory(t.name).catch((e) => status(e.message));
      document.getElementById("history-chart").scrollIntoView({ behavior: "smooth" });
    });
    return [
      link, [fmt.ms(t.median_ms), "num"], [range2(t.p25_ms, t.p75_ms), "num"], [range2(t.min_ms, t.max_ms), "num"],
      [fmt.n(t.n), "num"], [fmt.ms(t.setup_ms), "num"], [fmt.ms(t.teardown_ms), "num"],
      Object.entries(t.outcomes).map(([o, n]) => `${o} ${n}`).join(", "),
    ];
  });
  document.getElementById("failures-label").textContent = `In ${failures.label}.`;
  fillTable(document.getElementById("failures"), failures.tests, (t) => [
    failureLink(t.run_id, t.name, testLabel(t.name)), [t.outcome, "bad"], (t.message || "").split("\n")[0], [String(t.run_id), "num"],
  ], "No failures.");
}

async function testsSuitePage() {
  const here = new URLSearchParams(location.search);
  for (const key of ["range", "branch"]) if (here.get(key)) testsForm.elements[key].value = here.get(key);
  const branchSelect = testsForm.elements.branch, baseSelect = testsForm.elements.base, headSelect = testsForm.elements.head;
  const names = document.getElementById("history-name");

  const load = async () => {
    const found = await api("tests/runs?" + testsQuery());
    document.getElementById("tests-empty").hidden = found.runs.length > 0;
    const branch = branchSelect.value || here.get("branch") || "";
    setOptions(branchSelect, [["", "every branch"], ...found.branches.map((b) => [b.branch, `${b.branch || "(none)"} (${b.runs})`])], branch);
    const refs = refOptions(found);
    const head = headSelect.value || here.get("head") || (branch ? `latest:${branch}` : "latest");
    setOptions(headSelect, refs, head);
    setOptions(baseSelect, refs, baseSelect.value || here.get("base") || defaultBase(found, head));
    runsChart(found);
    const [flaky, endpoints, slowestAll] = await Promise.all([
      api("tests/flaky?" + testsQuery()),
      api("tests/endpoints?" + testsQuery()),
      found.runs.length ? api("tests/slowest?" + new URLSearchParams({ ref: headSelect.value, limit: "500" })) : { tests: [] },
    ]);
    fillTable(document.getElementById("flaky"), flaky.tests, (t) => [
      t.last_failed_run ? failureLink(t.last_failed_run, t.name, testLabel(t.name)) : testLabel(t.name), t.version,
      [fmt.n(t.passed), "num good"], [fmt.n(t.failed), "num bad"], (t.last_message || "").split("\n")[0],
    ], "No flaky test.");
    fillTable(document.getElementById("endpoints"), endpoints.endpoints, (r) => [
      `${r.methods.join(",")} ${r.endpoint}`, r.version, [fmt.n(r.tests), "num"], [fmt.n(r.test_requests), "num"],
      [fmt.ms(r.test_p50_ms), "num"], [fmt.ms(r.test_p95_ms), "num"], [fmt.n(r.prod_requests), "num"],
      [fmt.ms(r.prod_p50_ms), "num"], [fmt.ms(r.prod_p95_ms), "num"],
    ], "No test requested an endpoint.");
    endpointsChart(endpoints.endpoints);
    const wanted = names.value || here.get("test") || (slowestAll.tests[0] || {}).name || "";
    setOptions(names, slowestAll.tests.map((t) => [t.name, testLabel(t.name)]), wanted);
    if (found.runs.length) await Promise.all([loadComparisons(), loadHistory(names.value)]);
  };

  testsForm.addEventListener("change", (event) => {
    const comparing = ["base", "head"].includes(event.target.name);
    (comparing ? loadComparisons() : load()).catch((e) => status("Could not load: " + e.message));
  });
  names.addEventListener("change", () => loadHistory(names.value).catch((e) => status(e.message)));
  await load();
}

async function everyTest() {
  // dashboard.js fills "Every test" (its testsPage); should it ever stop, this page does
  if (typeof testsPage === "function") return;
  const { rows } = await api("tests");
  fillTable(document.getElementById("tests"), rows, (r) => [
    r.name, [fmt.n(r.runs), "num"], [fmt.n(r.failures), r.failures ? "num bad" : "num"], [fmt.ms(r.p50_ms), "num"],
    [fmt.ms(r.p90_ms), "num"], [fmt.ms(r.max_ms), "num"], fmt.ago(r.last_ns),
    [r.last_outcome, { passed: "good", failed: "bad", error: "bad" }[r.last_outcome] || ""], r.last_version || "",
  ]);
}

if (document.body.dataset.page === "tests") {
  Promise.all([testsSuitePage(), everyTest()]).catch((error) => status("Could not load: " + error.message));
}
