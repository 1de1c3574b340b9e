"""What the pytest plugin costs a suite: 2,000 trivial tests with the plugin off and on.

Writes a suite of N trivial tests (``def test_k(): pass``, in 20 files) to a temporary folder,
then runs pytest on it in fresh processes, alternating the variants round by round so that a
change in the machine's load hits them alike, and prints each variant's median wall time and
CPU time (user + system of the pytest process, from ``getrusage``: on a shared, loaded machine
the wall time mostly measures the other processes, the CPU time far less) and its cost against
the plugin being off:

- ``off``: the plugin installed, no ``--lookout`` option (what every pytest user of an
  environment with Lookout pays);
- ``absent``: ``-p no:lookout``, the plugin not loaded at all;
- ``store``: ``--lookout-store`` into a SQLite store created and migrated beforehand (a CI
  job's store usually exists already), the run written at the end;

The issue's target: ``store`` at most 5 % longer than ``off``. Reported, not asserted.

    python benchmarks/pytest_plugin.py [--tests 2000] [--rounds 7]
"""

from __future__ import annotations

import argparse
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path


def write_suite(folder: Path, tests: int, files: int = 20) -> None:
    per_file = tests // files
    for f in range(files):
        body = "".join(f"def test_{f}_{k}():\n    pass\n\n\n" for k in range(per_file))
        (folder / f"test_trivial_{f}.py").write_text(body)


def _children_cpu_s() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def timed(folder: Path, *args: str) -> tuple[float, float]:
    """(wall seconds, CPU seconds) of one pytest process."""
    command = [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", *args]
    cpu_before = _children_cpu_s()
    started = time.perf_counter()
    done = subprocess.run(command, cwd=folder, capture_output=True, text=True, check=False)
    elapsed = time.perf_counter() - started
    if done.returncode != 0:
        raise SystemExit(f"pytest {' '.join(args)} failed:\n{done.stdout[-2000:]}")
    return elapsed, _children_cpu_s() - cpu_before


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tests", type=int, default=2000)
    parser.add_argument("--rounds", type=int, default=7)
    options = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        write_suite(folder, options.tests)
        store = f"sqlite:///{folder / 'runs.db'}"
        from lookout.store.engine import SqlStore

        SqlStore(store).close()  # created and migrated, as a CI store would be
        variants = {
            "absent": ("-p", "no:lookout"),
            "off": (),
            "store": ("--lookout-store", store),
        }
        wall: dict[str, list[float]] = {name: [] for name in variants}
        cpu: dict[str, list[float]] = {name: [] for name in variants}
        timed(folder, *variants["off"])  # warm the file cache and bytecode
        for round_ in range(options.rounds):
            order = list(variants) if round_ % 2 == 0 else list(reversed(variants))
            for name in order:
                elapsed, used = timed(folder, *variants[name])
                wall[name].append(elapsed)
                cpu[name].append(used)
        print(f"{options.tests} trivial tests, median of {options.rounds} runs each")
        for label, times in (("wall time", wall), ("CPU time", cpu)):
            off = statistics.median(times["off"])
            print(f" {label}")
            for name, values in times.items():
                median = statistics.median(values)
                quartiles = statistics.quantiles(values, n=4)
                print(
                    f"  {name:<7} {median:7.3f} s  ({median / off - 1:+6.1%} vs off)"
                    f"  p25-p75 {quartiles[0]:.3f}-{quartiles[2]:.3f} s"
                    f"  min {min(values):.3f} s  max {max(values):.3f} s"
                )
            cost = statistics.median(times["store"]) / off - 1
            verdict = "met" if cost <= 0.05 else "NOT met"
            print(f"  target (store at most 5 % above off): {verdict} ({cost:+.1%})")


if __name__ == "__main__":
    main()
