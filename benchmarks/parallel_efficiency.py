"""Parallel speed-up of ``rnnbench run`` on M3 monthly ARIMA: the same run with 1 and with 2 workers.

Runs the real CLI once per worker count, back to back in this one invocation, each into its own
temporary run folder::

    rnnbench run --datasets m3-monthly --models arima --executor processes --workers W --out DIR

(``naive`` and ``naive2`` are always added by the harness as references) and reads each run's
``experiments.csv`` and ``manifest.json``. It reports, against the first worker count:

* speed-up of the ``arima`` experiment = its ``wall_s`` with 1 worker / its ``wall_s`` with W;
* speed-up of the whole run = manifest ``wall_s`` (executor start to report written) ratio, and
  the same for the process wall measured here (start to exit of ``rnnbench run``);
* parallel efficiency = speed-up / W (relative to the first worker count);
* ``fit_s`` (sum of the per-series fit wall times, on whichever worker) and ``cpu_s`` (their
  process CPU time) of ``arima``: equal in every run if the work was the same; a larger
  ``fit_s`` with W workers means each core got slower (a busy or throttled machine), not that
  the harness added overhead, and ``ideal`` = W x fit_s(1) / fit_s(W) is the speed-up left
  possible at that per-core speed.

Why: local models are embarrassingly parallel over series, so the harness should turn W cores
into nearly W times less wall time; what it loses goes to chunking (imbalance at the tail),
pickling series and forecasts, and the serial parts of a run. Target: speed-up >= 1.8x with 2
workers for the ``arima`` experiment (needs a machine with at least 2 otherwise idle cores).

    python benchmarks/parallel_efficiency.py [--limit N] [--workers-list 1,2] [--executor processes] [--csv PATH]
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _runlib import DATASET, fmt_table, run_folder, run_rnnbench, write_csv

MODEL = "arima"


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--limit", type=int, default=None, help="sample of N series (default: all 1428)")
    ap.add_argument("--workers-list", default="1,2", help="worker counts to run, the first is the baseline")
    ap.add_argument("--executor", default="processes", choices=["processes", "dask"])
    ap.add_argument("--target", type=float, default=1.8, help="speed-up target of the 2-worker run")
    ap.add_argument("--csv", type=Path, default=None, help="also write the table to this CSV file")
    ap.add_argument("--keep", action="store_true", help="keep the run folders (default: deleted at the end)")
    args = ap.parse_args(argv)
    counts = [int(w) for w in args.workers_list.split(",") if w.strip()]
    if not counts or min(counts) < 1:
        ap.error("--workers-list: positive integers, e.g. 1,2")

    cores = os.cpu_count() or 1
    print(
        f"{DATASET} x {MODEL}: executor {args.executor}, workers {counts}, "
        f"{args.limit or 'all'} series; {cores} cores, load average {os.getloadavg()[0]:.2f}",
        flush=True,
    )
    if max(counts) > cores:
        print(f"  warning: {max(counts)} workers on {cores} cores: speed-up is capped by the cores", flush=True)

    records = []
    with run_folder("parallel_efficiency_", args.keep) as base_dir:
        for w in counts:
            rec = run_rnnbench(base_dir / f"workers{w}", MODEL, limit=args.limit, executor=args.executor, workers=w)
            records.append((w, rec))
        rows = table_rows(records)

    print()
    print(fmt_table(rows, "{:.2f}"))
    print(
        "arima_*: the arima experiment (experiments.csv); run_wall_s: manifest wall_s (executor start to report);"
        " process_s: start to exit of `rnnbench run`; S = speed-up, E = efficiency = S / (workers / baseline"
        " workers); ideal_S: speed-up the per-core fit times allow (workers x fit_s(base) / fit_s(w));"
        " fit/cpu: per-series wall over CPU time, about 1 on free cores, higher when they are shared"
    )
    print(f"load average after: {os.getloadavg()[0]:.2f}")
    if args.csv:
        write_csv(args.csv, rows)

    two = next((r for r in rows if r["workers"] == 2 * counts[0]), rows[-1] if len(rows) > 1 else None)
    if two is None:
        print("one worker count only: no speed-up to report")
        return 0
    if two["ideal_S"] < 0.9 * two["workers"] / counts[0]:
        print(
            f"  note: each core fitted {two['workers'] / counts[0] / two['ideal_S']:.2f}x slower with {two['workers']} workers"
            f" (fit_s {two['arima_fit_s']:.1f} vs {rows[0]['arima_fit_s']:.1f} s,"
            f" cpu_s {two['arima_cpu_s']:.1f} vs {rows[0]['arima_cpu_s']:.1f} s): the cores were not"
            f" free, so the speed-up measures the machine's load; S / ideal_S ="
            f" {two['arima_S'] / two['ideal_S']:.2f} is the part of what those cores allowed that the harness got"
        )
    verdict = "MET" if two["arima_S"] >= args.target else "MISSED"
    print(
        f"speed-up {two['arima_S']:.2f}x with {two['workers']} workers vs {counts[0]} "
        f"(arima experiment wall; whole run {two['run_S']:.2f}x, efficiency {two['arima_E']:.0%}) "
        f"(target >= {args.target:g}x): {verdict}"
    )
    return 0


def table_rows(records: list) -> list[dict]:
    w0, base = records[0]
    b_arima, b_run, b_proc = float(base.exp(MODEL)["wall_s"]), base.wall_s, base.process_wall_s
    b_fit = float(base.exp(MODEL)["fit_s"])
    rows = []
    for w, rec in records:
        e = rec.exp(MODEL)
        n = int(e["n_series"]) * int(e["n_windows"])
        rel = w / w0
        s_arima, s_run, s_proc = b_arima / float(e["wall_s"]), b_run / rec.wall_s, b_proc / rec.process_wall_s
        rows.append(
            {
                "workers": w,
                "executor": str(e["executor"]),
                "series": n,
                "arima_wall_s": float(e["wall_s"]),
                "arima_S": s_arima,
                "arima_E": s_arima / rel,
                "run_wall_s": rec.wall_s,
                "run_S": s_run,
                "run_E": s_run / rel,
                "process_s": rec.process_wall_s,
                "process_S": s_proc,
                "arima_fit_s": float(e["fit_s"]),
                "arima_cpu_s": float(e["cpu_s"]),
                "cpu_ms/series": 1000 * float(e["cpu_s"]) / n,
                "fit/cpu": float(e["fit_s"]) / float(e["cpu_s"]),
                "ideal_S": rel * b_fit / float(e["fit_s"]),
            }
        )
    return rows


if __name__ == "__main__":
    raise SystemExit(main())
