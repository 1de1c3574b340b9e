"""What each Flask monitoring tool adds to a hello-world request, side by side in one run.

(a) in-process: N requests through Flask's test client, each variant in its own fresh
    process (Sentry patches Flask globally), rounds interleaved in a rotating order; reported
    as microseconds added to the bare app's wall time per request (the median of each round's
    difference to that round's bare run, with its interquartile range), and process CPU per
    request including the time to write everything out where the tool has a flush (and the
    CPU of Lookout's writer process with store_process).
(b) over HTTP: gunicorn with 2 sync workers on 127.0.0.1, loaded by wrk; requests/s as a
    ratio to the bare app: the median of each round's ratio, rounds interleaved in a rotating
    order. Both also report the best round of each variant: this machine's noise only adds
    time, so the least disturbed rounds are the closest to the tools' own cost.

(c) optionally (--instructions), instructions per request under valgrind's callgrind, where
    the machine's noise does not reach: in every thread of the test client's process, and
    in a gunicorn worker serving real HTTP requests (the work of (b), as a ratio to bare).

Before (a), a few seconds go to timing a CPU-bound process alone and beside a second one: how
much two busy cores slow each other here, which every timing above carries (see
``core_contention``).

    python benchmarks/flask_overhead.py [--requests 3000] [--rounds 9] [--wrk-seconds 5]
        [--variants bare,lookout,sentry] [--no-http] [--instructions]
"""

from __future__ import annotations

import argparse
import http.client
import json
import math
import os
import re
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from flask_apps import VARIANTS  # noqa: E402

CHILD = """
import json, sys, time
sys.path.insert(0, {here!r})
from flask_apps import create
variant, count = sys.argv[1], int(sys.argv[2])
app = create(variant)
client = app.test_client()
for _ in range(1100):  # more than a batch: the store's statements are prepared
    client.get("/")
extension = app.extensions.get("lookout")
if extension is not None:  # steady state: the store is open and the levels were read once
    extension.lookout.flush(120)
    time.sleep(0.5)

def helper_cpu_ns():
    # CPU of Lookout's writer process (store_process), which process_time() cannot see
    sinks = extension.lookout.sinks if extension else []
    children = [getattr(sink, "_child", None) for sink in sinks]
    total = 0
    for child in filter(None, children):
        with open(f"/proc/{{child.pid}}/schedstat") as stat:
            total += int(stat.read().split()[0])
    return total

helper0 = helper_cpu_ns()
cpu0, wall0, own0 = time.process_time(), time.perf_counter(), time.thread_time()
for _ in range(count):
    client.get("/")
wall = time.perf_counter() - wall0
own = time.thread_time() - own0
if extension is not None:
    extension.lookout.flush(120)
cpu = time.process_time() - cpu0 + (helper_cpu_ns() - helper0) / 1e9
print(json.dumps({{"wall_us": wall / count * 1e6, "cpu_us": cpu / count * 1e6,
                  "own_us": own / count * 1e6}}))
"""


#: A pure-Python loop of about a second, for :func:`core_contention`.
SPIN = (
    "import time; t = time.process_time(); sum(range(30_000_000)); print(time.process_time() - t)"
)


def core_contention(pairs: int = 3) -> tuple[float, float]:
    """How much slower a CPU-bound process runs while another one busies the second core, as
    (median, worst) of ``pairs`` tries: 0 on dedicated cores. On a virtual machine whose
    cores share a physical one (or its caches) with other tenants, every timed figure where
    a tool's background threads use the second core carries this, and instructions do not."""
    slowdowns = []
    for _ in range(pairs):
        alone = float(
            subprocess.run(
                [sys.executable, "-c", SPIN], capture_output=True, text=True, check=True
            ).stdout
        )
        both = [
            subprocess.Popen([sys.executable, "-c", SPIN], stdout=subprocess.PIPE, text=True)
            for _ in range(2)
        ]
        together = max(float(process.communicate()[0]) for process in both)
        slowdowns.append(together / alone - 1)
    return statistics.median(slowdowns), max(slowdowns)


def prepare_store(variant: str, folder: str) -> None:
    """Create Lookout's store before the app starts, as it is in a deployment: only its very
    first start migrates the schema (and imports Alembic, whose objects every later full
    garbage collection of the app would walk)."""
    if variant.startswith("lookout"):
        from lookout.store import SqlStore

        SqlStore(f"sqlite:///{folder}/lookout.db").close()


def in_process(variants: list[str], requests: int, rounds: int) -> dict[str, dict[str, float]]:
    """Per variant: median wall, CPU and own-thread µs per request, and the median of the
    per-round differences to the bare app. Each round runs every variant once, in an order
    that rotates from round to round, so a round's bare run is its baseline: the machine's
    speed drifts over minutes, and a difference within a round cancels most of that drift."""
    results: dict[str, list[dict[str, float]]] = {variant: [] for variant in variants}
    added: dict[str, list[float]] = {variant: [] for variant in variants}
    for number in range(rounds):
        shift = number % len(variants)
        this_round: dict[str, dict[str, float]] = {}
        for variant in variants[shift:] + variants[:shift]:
            with tempfile.TemporaryDirectory() as folder:
                prepare_store(variant, folder)
                out = subprocess.run(
                    [sys.executable, "-c", CHILD.format(here=str(HERE)), variant, str(requests)],
                    capture_output=True,
                    text=True,
                    cwd=folder,
                    check=True,
                    env={**os.environ, "FLASK_BENCH_DIR": folder},
                ).stdout
            line = [text for text in out.splitlines() if text.startswith('{"wall_us"')][-1]
            this_round[variant] = json.loads(line)
        for variant, run in this_round.items():
            results[variant].append(run)
            added[variant].append(run["wall_us"] - this_round["bare"]["wall_us"])
    return {
        variant: {
            "wall_us": statistics.median(r["wall_us"] for r in runs),
            "cpu_us": statistics.median(r["cpu_us"] for r in runs),
            "own_us": statistics.median(r["own_us"] for r in runs),
            "added_us": statistics.median(added[variant]),
            "best_us": min(r["wall_us"] for r in runs),
            **dict(zip(("added_q1", "added_q3"), _quartiles(added[variant]), strict=True)),
        }
        for variant, runs in results.items()
    }


def _quartiles(values: list[float]) -> tuple[float, float]:
    if len(values) < 2:
        return values[0], values[0]
    q1, _, q3 = statistics.quantiles(values, n=4)
    return q1, q3


#: (c): the same requests under callgrind, counting instructions in every thread. Whatever
#: Lookout does on a timer is pinned so the count depends only on the requests: batches are
#: written when they are full or at the final flush, never on a clock.
INSTRUCTIONS_CHILD = """
import os, sys
sys.path.insert(0, {here!r})
from flask_apps import create
variant, count = sys.argv[1], int(sys.argv[2])
app = create(variant, pinned=True)
client = app.test_client()
extension = app.extensions.get("lookout")
for _ in range(1100):  # more than a batch: the store's statements are prepared
    client.get("/")
if extension is not None:
    extension.lookout.flush(600)
for _ in range(count):
    client.get("/")
if extension is not None:
    extension.lookout.flush(600)
os._exit(0)
"""


def instructions(variants: list[str]) -> dict[str, float]:
    """Instructions per request (all threads): the difference of a 1,200 and a 200 request run,
    so start-up and imports cancel out. Repeatable to about 1 % where timings vary by 30 %."""
    counts: dict[str, float] = {}
    for variant in variants:
        totals = []
        for count in (200, 1200):
            with tempfile.TemporaryDirectory() as folder:
                prepare_store(variant, folder)
                run = subprocess.run(
                    [
                        "valgrind",
                        "--tool=callgrind",
                        "--trace-children=yes",  # Lookout's writer process counts too
                        "--callgrind-out-file=/dev/null",
                        sys.executable,
                        "-c",
                        INSTRUCTIONS_CHILD.format(here=str(HERE)),
                        variant,
                        str(count),
                    ],
                    capture_output=True,
                    text=True,
                    cwd=folder,
                    # a fixed hash seed: dict layouts, and so instruction counts, repeat
                    env={**os.environ, "FLASK_BENCH_DIR": folder, "PYTHONHASHSEED": "0"},
                    check=False,
                )
            collected = [int(n) for n in re.findall(r"Collected : (\d+)", run.stderr)]
            if run.returncode != 0 or not collected:
                tail = " | ".join(run.stderr.strip().splitlines()[-3:])
                print(f"(c) {variant}: the run under valgrind failed: {tail}", file=sys.stderr)
            totals.append(sum(collected) if run.returncode == 0 and collected else math.nan)
        counts[variant] = (totals[1] - totals[0]) / 1000
    return counts


def worker_instructions(variants: list[str]) -> dict[str, float]:
    """Instructions per request of one gunicorn sync worker (with its master, which does not
    change with the count) answering sequential HTTP requests on 127.0.0.1, timers pinned:
    the difference of a 2,300 and a 1,300 request run. Both runs write a full batch, so
    one-time costs (SQLite preparing its 1,000-row statement) cancel out."""
    counts: dict[str, float] = {}
    for variant in variants:
        totals = []
        for count in (1300, 2300):
            with tempfile.TemporaryDirectory() as folder:
                prepare_store(variant, folder)
                totals.append(_worker_run(variant, count, folder))
        counts[variant] = (totals[1] - totals[0]) / 1000
    return counts


def _worker_run(variant: str, count: int, folder: str) -> float:
    port = _free_port()
    server = subprocess.Popen(
        [
            "valgrind",
            "--tool=callgrind",
            "--trace-children=yes",
            f"--callgrind-out-file={folder}/callgrind.%p",
            # a slow worker under valgrind must not be taken for a hung one
            *_gunicorn(port, 1, f"flask_apps:create({variant!r}, pinned=True)", timeout=600),
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
        cwd=folder,
        env={**os.environ, "FLASK_BENCH_DIR": folder, "PYTHONHASHSEED": "0"},
    )
    try:
        _wait_for_port(port, 300)
        for _ in range(count):
            connection = http.client.HTTPConnection("127.0.0.1", port, timeout=120)
            connection.request("GET", "/")
            connection.getresponse().read()
            connection.close()
    except (OSError, http.client.HTTPException, RuntimeError) as exc:
        print(f"(c) {variant} in gunicorn: no answer ({exc})", file=sys.stderr)
        return math.nan  # a worker that failed to boot (valgrind aborts in some tools)
    finally:
        server.send_signal(signal.SIGTERM)  # the worker flushes Lookout as it exits
        _, stderr = server.communicate(timeout=600)
    collected = [int(n) for n in re.findall(r"Collected : (\d+)", stderr)]
    if server.returncode != 0 or len(collected) < 2:
        tail = " | ".join(stderr.strip().splitlines()[-3:])
        print(f"(c) {variant} in gunicorn: the run under valgrind failed: {tail}", file=sys.stderr)
        return math.nan
    return float(sum(collected))


def _gunicorn(port: int, workers: int, app: str, timeout: int = 30) -> list[str]:
    """The command serving ``app`` (a flask_apps factory call) with sync workers."""
    return [
        sys.executable,
        "-m",
        "gunicorn",
        "--workers",
        str(workers),
        "--timeout",
        str(timeout),
        "--bind",
        f"127.0.0.1:{port}",
        "--chdir",
        str(HERE),
        app,
    ]


def _wait_for_port(port: int, seconds: float) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        with socket.socket() as probe:
            if probe.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.2)
    raise RuntimeError(f"nothing listens on 127.0.0.1:{port} after {seconds:.0f} s")


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def over_http(variants: list[str], seconds: int, rounds: int) -> dict[str, dict[str, float]]:
    """Per variant over ``rounds`` interleaved rounds in a rotating order (the machine's load
    drifts over minutes: one run per variant measures the drift as much as the tool): the
    median requests/s, the median of each round's ratio to that round's bare run, and the
    best round's requests/s (the least disturbed one)."""
    rates: dict[str, list[float]] = {variant: [] for variant in variants}
    for number in range(rounds):
        shift = number % len(variants)
        for variant in variants[shift:] + variants[:shift]:
            rates[variant].append(_requests_per_second(variant, seconds))
    bare = rates["bare"]
    return {
        variant: {
            "median": statistics.median(values),
            "ratio": statistics.median(v / b for v, b in zip(values, bare, strict=True)),
            "best": max(values),
        }
        for variant, values in rates.items()
    }


def _requests_per_second(variant: str, seconds: int) -> float:
    port = _free_port()
    with tempfile.TemporaryDirectory() as folder:
        prepare_store(variant, folder)
        server = subprocess.Popen(
            _gunicorn(port, 2, f"flask_apps:create({variant!r})"),
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            cwd=folder,
            env={**os.environ, "FLASK_BENCH_DIR": folder},
        )
        try:
            _wait_for_port(port, 30)
            subprocess.run(
                ["wrk", "-t1", "-c8", "-d1s", f"http://127.0.0.1:{port}/"],
                capture_output=True,
                check=True,
            )  # warm-up
            out = subprocess.run(
                ["wrk", "-t2", "-c16", f"-d{seconds}s", f"http://127.0.0.1:{port}/"],
                capture_output=True,
                text=True,
                check=True,
            ).stdout
        finally:
            server.send_signal(signal.SIGTERM)
            server.wait(60)
    match = re.search(r"Requests/sec:\s+([\d.]+)", out)
    return float(match.group(1)) if match else float("nan")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=3000)
    parser.add_argument("--rounds", type=int, default=9)
    parser.add_argument("--wrk-seconds", type=int, default=5)
    parser.add_argument("--http-rounds", type=int, default=3)
    parser.add_argument(
        "--variants", help="comma-separated subset, e.g. bare,lookout,sentry (default: all)"
    )
    parser.add_argument("--no-http", action="store_true", help="skip (b), gunicorn + wrk")
    parser.add_argument(
        "--instructions",
        action="store_true",
        help="also (c): instructions per request under valgrind (slow: 2-3 min a variant)",
    )
    args = parser.parse_args()
    variants = list(VARIANTS) if not args.variants else args.variants.split(",")
    unknown = set(variants) - set(VARIANTS) or {"bare", "lookout"} - set(variants)
    if unknown:
        parser.error(f"--variants: needs bare and lookout, from {', '.join(VARIANTS)}")

    from lookout.native import summary

    # The compiled build is what a normal install runs (docs/native.md); say which one this is.
    print(f"Lookout's request path: {summary()}")
    median, worst = core_contention()
    print(
        f"This machine: a CPU-bound process took {median:+.0%} (worst of 3: {worst:+.0%}) "
        "longer while a second one kept the other core busy; timings below carry that, "
        "instructions do not.\n"
    )
    timings = in_process(variants, args.requests, args.rounds)
    bare_own = timings["bare"]["own_us"]
    added = {v: timings[v]["added_us"] for v in variants}
    # The least disturbed round of each variant: this machine's noise only ever adds time, and
    # every round is long enough (3,000 requests) to include Lookout's batch writes.
    best_added = {v: timings[v]["best_us"] - timings["bare"]["best_us"] for v in variants}
    # CPU of the whole process (every thread, and Lookout's writer process): what the tool
    # costs the machine, less moved than wall time by a round's waits for the GIL or a core.
    cpu_added = {v: timings[v]["cpu_us"] - timings["bare"]["cpu_us"] for v in variants}
    peers = [v for v in variants if not v.startswith(("bare", "lookout"))]
    print(
        f"(a) test client, {args.rounds} rounds x {args.requests:,} requests; added = median of "
        "the per-round differences to bare (interquartile range)"
    )
    print(
        f"{'variant':<28} {'µs/request':>11} {'added µs':>9} {'IQR of added':>15} "
        f"{'caller CPU added':>17} {'process CPU µs/request':>23} {'best µs':>8} {'best added':>11}"
    )
    for variant in variants:
        t = timings[variant]
        spread = f"{t['added_q1']:.1f}..{t['added_q3']:.1f}"
        print(
            f"{variant:<28} {t['wall_us']:>11.1f} {added[variant]:>9.1f} {spread:>15} "
            f"{t['own_us'] - bare_own:>17.1f} {t['cpu_us']:>23.1f} {t['best_us']:>8.1f} "
            f"{best_added[variant]:>11.1f}"
        )
    if peers:
        estimates = (
            ("median difference", added),
            ("best rounds", best_added),
            ("process CPU", cpu_added),
        )
        for estimate, figures in estimates:
            cheapest = min(peers, key=figures.__getitem__)
            for lookout_variant in [v for v in variants if v.startswith("lookout")]:
                ratio = figures[lookout_variant] / figures[cheapest]
                print(
                    f"{estimate}: {lookout_variant} adds {figures[lookout_variant]:.1f} µs, "
                    f"{ratio:.2f}x the cheapest peer ({cheapest}, {figures[cheapest]:.1f} µs); "
                    f"target <= 0.5x: {'met' if ratio <= 0.5 else 'NOT met'}"
                )

    if not args.no_http:
        _report_http(variants, args.wrk_seconds, args.http_rounds)
    if args.instructions:  # last: the slowest, and valgrind aborts in some tools
        _report_instructions(variants, peers)


def _report_http(variants: list[str], seconds: int, rounds: int) -> None:
    if shutil.which("wrk") is None:
        print("\n(b) skipped: wrk is not installed (apt-get install wrk)")
        return
    rates = over_http(variants, seconds, rounds)
    print(
        f"\n(b) gunicorn 2 sync workers + wrk -t2 -c16 -d{seconds}s on 127.0.0.1, "
        f"median of {rounds} interleaved rounds"
    )
    print(
        f"{'variant':<28} {'requests/s':>11} {'x bare':>7} {'median of round ratios':>23} "
        f"{'best round':>11} {'x best bare':>12}"
    )
    best_bare = rates["bare"]["best"]
    for variant in variants:
        r = rates[variant]
        print(
            f"{variant:<28} {r['median']:>11,.0f} {r['median'] / rates['bare']['median']:>7.1%} "
            f"{r['ratio']:>23.1%} {r['best']:>11,.0f} {r['best'] / best_bare:>12.1%}"
        )
    for lookout_variant in [v for v in variants if v.startswith("lookout")]:
        share = rates[lookout_variant]["ratio"]
        print(
            f"{lookout_variant} keeps {share:.1%} of bare throughput (median of round ratios); "
            f"target >= 95%: {'met' if share >= 0.95 else 'NOT met'}"
        )


def _report_instructions(variants: list[str], peers: list[str]) -> None:
    if shutil.which("valgrind") is None:
        print("\n(c) skipped: valgrind is not installed (apt-get install valgrind)")
        return
    counts = instructions(variants)
    bare = counts["bare"]
    print("\n(c) instructions per request, every thread, timers pinned (valgrind callgrind)")
    print(f"{'variant':<28} {'instructions':>13} {'added':>9}")
    for variant in variants:
        print(f"{variant:<28} {counts[variant]:>13,.0f} {counts[variant] - bare:>9,.0f}")
    measured = [peer for peer in peers if not math.isnan(counts[peer])]
    if measured:
        cheapest = min(measured, key=lambda v: counts[v])
        ratio = (counts["lookout"] - bare) / (counts[cheapest] - bare)
        print(
            f"Lookout level 1 adds {ratio:.2f}x the instructions of the cheapest peer "
            f"({cheapest}); target <= 0.5x: {'met' if ratio <= 0.5 else 'NOT met'}"
        )
    worker = worker_instructions(variants)
    print("\n(c) instructions per HTTP request in a gunicorn sync worker, timers pinned")
    print(f"{'variant':<28} {'instructions':>13} {'added':>9} {'bare / variant':>15}")
    for variant in variants:
        share = worker["bare"] / worker[variant]
        print(
            f"{variant:<28} {worker[variant]:>13,.0f} {worker[variant] - worker['bare']:>9,.0f} "
            f"{share:>15.1%}"
        )
    print(
        "bare / variant is the throughput a CPU-bound worker would keep if every instruction "
        "took the same time; (b) measures it in time."
    )


if __name__ == "__main__":
    main()
