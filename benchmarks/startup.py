"""Start-up and fixed cost of the ``rnnbench`` command: what a user waits for besides the models.

Times, as the median of ``--repeats`` fresh processes each (the real command, see
``_runlib.rnnbench_cmd``):

* ``rnnbench --help`` and ``rnnbench models``: interpreter start, ``import harness.cli`` and,
  for ``models``, loading every plugin. Target: < 0.5 s each. They import no pandas, torch,
  scipy, statsmodels or matplotlib (``tests/test_api.py`` checks that; this measures the time).
* a small run, ``rnnbench run --models naive --datasets airline``: one series, so model compute
  is a few milliseconds and the process wall is the harness's fixed cost (start-up, planning,
  executor, checkpoint, results, report with its figures). Target: <= 2 s. Broken down with the
  checkpoint and manifest times (``RunRecord.phases``).

    python benchmarks/startup.py [--repeats 5]

Times are wall clock on a possibly shared machine: run it when the machine is otherwise idle.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _runlib import rnnbench_cmd, run_rnnbench

TARGETS = {"rnnbench --help": 0.5, "rnnbench models": 0.5, "small run (fixed cost)": 2.0}


def command_wall(args: list[str]) -> float:
    """Wall seconds of one ``rnnbench ARGS`` process, start to exit (output discarded)."""
    t0 = time.perf_counter()
    subprocess.run(rnnbench_cmd() + args, check=True, capture_output=True)
    return time.perf_counter() - t0


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeats", type=int, default=5, help="processes timed per measurement (median)")
    args = ap.parse_args(argv)
    walls: dict[str, list[float]] = {"rnnbench --help": [], "rnnbench models": []}
    for _ in range(args.repeats):
        walls["rnnbench --help"].append(command_wall(["--help"]))
        walls["rnnbench models"].append(command_wall(["models"]))
    runs, phases = [], []
    with tempfile.TemporaryDirectory(prefix="rnnbench-startup-") as tmp:
        for i in range(args.repeats):
            rec = run_rnnbench(
                Path(tmp) / f"run{i}",
                "naive",
                limit=None,
                executor="processes",
                workers=os.cpu_count() or 1,
                datasets="airline",
                echo=i == 0,
            )
            runs.append(rec.process_wall_s)
            phases.append(rec.phases())
    walls["small run (fixed cost)"] = runs
    print(f"\n{'measure':<26} {'median s':>9} {'min s':>7} {'target s':>9}  verdict")
    for name, values in walls.items():
        median = statistics.median(values)
        verdict = "OK" if median <= TARGETS[name] else "OVER"
        print(f"{name:<26} {median:>9.3f} {min(values):>7.3f} {TARGETS[name]:>9.1f}  {verdict}")
    print("\nsmall run, where the wall goes (median s):")
    for key in phases[0]:
        print(f"  {key:<12} {statistics.median(p[key] for p in phases):7.3f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
