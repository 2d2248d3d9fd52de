"""Harness overhead of ``rnnbench run``: the share of wall time that is not model compute.

Runs the real CLI once, in the realistic configuration where overhead shows (heavy local models
fitted series by series)::

    rnnbench run --datasets m3-monthly --models arima,theta --executor processes --workers W --out DIR

(``naive`` and ``naive2`` are always added as references), then compares wall time with the
models' own compute, read from ``experiments.csv``:

* model compute of a local model = the sum of its per-series fit seconds (``fit_s``) / workers,
  the ideal parallel time; of a global model ``fit_s + predict_s``;
* overhead of an experiment = its ``wall_s`` - its compute (chunking, pickling, tail imbalance,
  scoring);
* overhead of the run = wall - total compute, over two walls, both reported:

  - ``process``: from the start of the ``rnnbench run`` process to its exit, measured by this
    script: everything a user waits for (interpreter start-up, imports, data loading, planning,
    executor start, experiments, checkpoints, results, report). The target is judged on this one.
  - ``manifest``: the manifest's ``wall_s``, which starts after planning (no process start-up,
    imports or data loading) and ends when the report is written.

The rest of the process wall is broken down from the times the checkpoints
(``parts/*/summary.json``) and the final manifest were written: start-up, in-experiment
overhead, checkpoint writes between experiments, and finish (executor close, collecting parts,
result files, report). Target: overhead < 2% of the process wall on the full data set (small
``--limit`` runs are dominated by start-up and say little).

    python benchmarks/harness_overhead.py [--limit N] [--executor processes|dask|serial] [--workers N]
                                          [--models arima,theta] [--datasets m3-monthly]
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _runlib import DATASET, fmt_table, run_folder, run_rnnbench, write_csv


def compute_s(e: pd.Series) -> float:  # a row of experiments.csv
    if e["scope"] == "local":
        return float(e["fit_s"]) / max(1, int(e["workers"]))
    return float(e["fit_s"]) + float(e["predict_s"])


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--limit", type=int, default=None, help="sample of N series (default: all 1428)")
    ap.add_argument("--models", default="arima,theta", help="models of the run (naive, naive2 are added)")
    ap.add_argument(
        "--datasets",
        default=DATASET,
        help=f"datasets of the run (default {DATASET}; e.g. m3 for all 3003 M3 series: fixed costs weigh less)",
    )
    ap.add_argument("--executor", default="processes", choices=["serial", "processes", "dask"])
    ap.add_argument("--workers", type=int, default=os.cpu_count() or 1, help="default: all cores")
    ap.add_argument("--target", type=float, default=2.0, help="overhead target, percent of the process wall")
    ap.add_argument("--csv", type=Path, default=None, help="also write the per-experiment table to this CSV file")
    ap.add_argument("--keep", action="store_true", help="keep the run folder (default: deleted at the end)")
    args = ap.parse_args(argv)

    cores = os.cpu_count() or 1
    print(
        f"{args.datasets} x {args.models} (+ naive, naive2): executor {args.executor}, workers {args.workers}, "
        f"{args.limit or 'all'} series; {cores} cores, load average {os.getloadavg()[0]:.2f}",
        flush=True,
    )
    with run_folder("harness_overhead_", args.keep) as base_dir:
        rec = run_rnnbench(
            base_dir / "run",
            args.models,
            limit=args.limit,
            executor=args.executor,
            workers=args.workers,
            datasets=args.datasets,
        )
        phases = rec.phases()

    rows = []
    for _, e in rec.experiments.iterrows():
        comp, wall = compute_s(e), float(e["wall_s"])
        rows.append(
            {
                "experiment": f"{e['model']}",
                "scope": e["scope"],
                "workers": int(e["workers"]),
                "series": int(e["n_series"]) * int(e["n_windows"]),
                "fit_s": float(e["fit_s"]),
                "predict_s": float(e["predict_s"]),
                "compute_s": comp,
                "wall_s": wall,
                "overhead_s": wall - comp,
                "overhead_%": 100 * (wall - comp) / wall if wall > 0 else 0.0,
            }
        )
    compute = sum(r["compute_s"] for r in rows)
    exp_wall = sum(r["wall_s"] for r in rows)
    for name, wall in (("run (manifest wall_s)", rec.wall_s), ("run (process wall)", rec.process_wall_s)):
        rows.append(
            {
                "experiment": name,
                "scope": "",
                "workers": args.workers,
                "series": "",
                "fit_s": "",
                "predict_s": "",
                "compute_s": compute,
                "wall_s": wall,
                "overhead_s": wall - compute,
                "overhead_%": 100 * (wall - compute) / wall,
            }
        )
    print()
    print(fmt_table(rows))
    print(
        "compute_s: local = fit_s / workers (sum of per-series fit times, ideally parallel); global = fit_s + predict_s"
    )

    proc = rec.process_wall_s
    in_exp = exp_wall - compute
    breakdown = [
        ("start-up: interpreter, imports, plugins, data, planning (+ dask cluster)", phases["start-up"]),
        ("inside experiments: wall_s - compute (pool start, chunks, pickling, tail, scoring)", in_exp),
        ("between experiments: writing checkpoints", phases["between"]),
        ("finish: executor close, collect parts, result files, report", phases["finish"]),
        ("exit: summary printout, interpreter shutdown", phases["exit"]),
    ]
    print(
        f"\nwhere the {proc - compute:.2f} s of process wall that is not model compute went "
        f"(process wall {proc:.2f} s, compute {compute:.2f} s):"
    )
    width = max(len(k) for k, _ in breakdown)
    for what, sec in breakdown:
        print(f"  {what:<{width}}  {sec:8.2f} s  {100 * sec / proc:6.2f}% of process wall")
    print(
        f"manifest wall_s {rec.wall_s:.2f} s - sum of experiment walls {exp_wall:.2f} s = "
        f"{rec.wall_s - exp_wall:.2f} s for executor start, checkpoints, collecting and the report"
    )
    print(f"load average after: {os.getloadavg()[0]:.2f}")

    if args.csv:
        write_csv(args.csv, rows)

    share = 100 * (proc - compute) / proc
    share_manifest = 100 * (rec.wall_s - compute) / rec.wall_s
    verdict = "MET" if share < args.target else "MISSED"
    print(
        f"harness overhead {share:.2f}% of the process wall (manifest wall_s: {share_manifest:.2f}%) "
        f"(target < {args.target:g}% of the process wall): {verdict}"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
