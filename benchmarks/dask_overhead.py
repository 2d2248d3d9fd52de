"""Cost of the ``dask`` executor against ``processes``: the same run on both, and the same results.

Runs the real CLI twice, back to back, with the same worker count, each into its own temporary
run folder::

    rnnbench run --datasets m3-monthly --models arima --executor processes --workers W --out DIR1
    rnnbench run --datasets m3-monthly --models arima --executor dask --workers W --out DIR2

(``naive`` and ``naive2`` are always added; ``dask`` without ``--scheduler`` starts a
``LocalCluster`` of W single-threaded worker processes inside the run) and reports:

* wall times and the ratio dask / processes: of the ``arima`` experiment (``experiments.csv``),
  of the run (manifest ``wall_s``: executor start to report) and of the process (start to exit
  of ``rnnbench run``, measured here);
* cluster start-up: the time from process start to the start of the first experiment (read from
  when its checkpoint was written, less its ``wall_s``) with each executor; the difference is
  what starting the cluster costs in the run (the ``processes`` pool is forked inside the first
  experiment, so its start-up is in that experiment's wall instead). Also measured directly, in
  a process of its own after both runs: the time to construct the harness's ``DaskExecutor``
  (LocalCluster, client, plugin loading on every worker) and to close it;
* whether the results are the same: ``metrics.parquet`` and ``forecasts.parquet`` of both runs,
  timing columns (``series_s``) dropped and rows sorted, compared exactly; prints IDENTICAL or
  the columns that differ with counts and the largest difference.

Why: the executor decides where units run, never what they compute, so results must match
exactly; and dask should cost little beyond its cluster start-up, which a long run amortises.

    python benchmarks/dask_overhead.py [--limit N] [--workers 2] [--models arima] [--csv PATH]
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _runlib import DATASET, ROOT, fmt_table, run_folder, run_rnnbench, write_csv

TIMING_COLUMNS = ("series_s",)
SORT_KEYS = ("dataset", "model", "seed", "unique_id", "window", "origin", "step")


def compare_frames(a: pd.DataFrame, b: pd.DataFrame) -> list[str]:
    """Differences between two result tables (timing columns dropped, rows sorted); [] if identical."""
    a = a.drop(columns=[c for c in TIMING_COLUMNS if c in a.columns])
    b = b.drop(columns=[c for c in TIMING_COLUMNS if c in b.columns])
    if sorted(a.columns) != sorted(b.columns):
        return [
            (
                f"columns differ: only in processes {sorted(set(a.columns) - set(b.columns))}, "
                f"only in dask {sorted(set(b.columns) - set(a.columns))}"
            )
        ]
    if len(a) != len(b):
        return [f"row counts differ: processes {len(a)}, dask {len(b)}"]
    keys = [k for k in SORT_KEYS if k in a.columns]
    a = a.sort_values(keys).reset_index(drop=True)
    b = b[list(a.columns)].sort_values(keys).reset_index(drop=True)
    out = []
    for col in a.columns:
        x, y = a[col], b[col]
        if pd.api.types.is_float_dtype(x) and pd.api.types.is_float_dtype(y):
            xv, yv = x.to_numpy(), y.to_numpy()
            same = (xv == yv) | (np.isnan(xv) & np.isnan(yv))
            if not same.all():
                diff = np.abs(xv - yv)[~same]
                out.append(
                    f"{col}: {int((~same).sum())} of {len(same)} rows differ, "
                    f"largest difference {np.nanmax(diff) if np.isfinite(diff).any() else float('nan'):.3g}"
                )
        else:
            same = (x.astype(str) == y.astype(str)).to_numpy()
            if not same.all():
                i = int(np.argmin(same))
                out.append(
                    f"{col}: {int((~same).sum())} of {len(same)} rows differ, e.g. {x.iloc[i]!r} vs {y.iloc[i]!r}"
                )
    return out


_TIME_CLUSTER = """
import json, sys, time
sys.path.insert(0, sys.argv[1])
from harness.executors import make_executor
if __name__ == "__main__":
    t0 = time.perf_counter()
    executor = make_executor("dask", int(sys.argv[2]))
    started = time.perf_counter() - t0
    t0 = time.perf_counter()
    executor.close()
    print(json.dumps([started, time.perf_counter() - t0]))
"""


def time_cluster(workers: int) -> tuple[float, float] | None:
    """Seconds to start and to close the harness's DaskExecutor (a LocalCluster of ``workers``),
    in a process of its own, so that its workers' shutdown messages stay out of this output."""
    proc = subprocess.run(
        [sys.executable, "-c", _TIME_CLUSTER, str(ROOT), str(workers)],
        capture_output=True,
        text=True,
        check=False,
        timeout=600,
    )
    try:
        start, close = json.loads(proc.stdout.strip().splitlines()[-1])
    except (IndexError, ValueError):
        sys.stderr.write(proc.stderr[-2000:])
        return None
    return start, close


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--limit", type=int, default=None, help="sample of N series (default: all 1428)")
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--models", default="arima", help="models of the run (naive, naive2 are added)")
    ap.add_argument("--no-direct", action="store_true", help="skip the separate LocalCluster start-up timing")
    ap.add_argument("--csv", type=Path, default=None, help="also write the wall-time table to this CSV file")
    ap.add_argument("--keep", action="store_true", help="keep the run folders (default: deleted at the end)")
    args = ap.parse_args(argv)
    main_model = args.models.split(",")[0].strip()

    cores = os.cpu_count() or 1
    print(
        f"{DATASET} x {args.models} (+ naive, naive2): processes vs dask, workers {args.workers}, "
        f"{args.limit or 'all'} series; {cores} cores, load average {os.getloadavg()[0]:.2f}",
        flush=True,
    )
    recs = {}
    with run_folder("dask_overhead_", args.keep) as base_dir:
        for executor in ("processes", "dask"):
            recs[executor] = run_rnnbench(
                base_dir / executor, args.models, limit=args.limit, executor=executor, workers=args.workers
            )
        phases = {k: r.phases() for k, r in recs.items()}
        diffs = {
            name: compare_frames(
                pd.read_parquet(recs["processes"].out / name), pd.read_parquet(recs["dask"].out / name)
            )
            for name in ("metrics.parquet", "forecasts.parquet")
        }

    for k, r in recs.items():  # the run really used the executor and worker count asked for
        used = sorted(set(r.experiments["executor"]))
        if used != [k]:
            print(f"  warning: the {k} run recorded executor(s) {used}")
    p, d = recs["processes"], recs["dask"]
    measures = [
        (f"{main_model} experiment wall_s", float(p.exp(main_model)["wall_s"]), float(d.exp(main_model)["wall_s"])),
        ("run wall_s (manifest)", p.wall_s, d.wall_s),
        ("process wall (start to exit)", p.process_wall_s, d.process_wall_s),
        ("start-up (to first experiment)", phases["processes"]["start-up"], phases["dask"]["start-up"]),
        ("sum of experiment wall_s", phases["processes"]["experiments"], phases["dask"]["experiments"]),
        ("finish (close, collect, report)", phases["processes"]["finish"], phases["dask"]["finish"]),
        (f"{main_model} fit_s (sum per series)", float(p.exp(main_model)["fit_s"]), float(d.exp(main_model)["fit_s"])),
        (f"{main_model} cpu_s", float(p.exp(main_model)["cpu_s"]), float(d.exp(main_model)["cpu_s"])),
    ]
    rows = [
        {
            "measure": m,
            "processes_s": a,
            "dask_s": b,
            "dask-processes_s": b - a,
            "dask/processes": b / a if a else float("nan"),
        }
        for m, a, b in measures
    ]
    print()
    print(fmt_table(rows))
    print(f"workers: processes {sorted(set(p.experiments['workers']))}, dask {sorted(set(d.experiments['workers']))}")
    print(f"cluster start-up in the run (start-up difference): {rows[3]['dask-processes_s']:.2f} s")
    if not args.no_direct:
        timed = time_cluster(args.workers)
        if timed is None:
            print("cluster start-up could not be measured directly (the error is above)")
        else:
            print(
                f"cluster start-up measured directly (DaskExecutor with {args.workers} workers, in a new process): "
                f"start {timed[0]:.2f} s, close {timed[1]:.2f} s"
            )
    print(f"load average after: {os.getloadavg()[0]:.2f}")

    for name, diff in diffs.items():
        print(f"{name}: " + ("IDENTICAL" if not diff else "DIFFERENT"))
        for line in diff:
            print(f"  {line}")
    if args.csv:
        write_csv(args.csv, rows)

    same = "IDENTICAL" if not diffs["metrics.parquet"] else "DIFFERENT"
    print(
        f"dask/processes {rows[0]['dask/processes']:.2f}x ({main_model} experiment wall), "
        f"{rows[1]['dask/processes']:.2f}x run wall_s, {rows[2]['dask/processes']:.2f}x process wall; "
        f"metrics.parquet {same} (target: IDENTICAL): {'MET' if same == 'IDENTICAL' else 'MISSED'}"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
