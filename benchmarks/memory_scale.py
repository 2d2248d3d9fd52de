"""Peak memory of a run against the number of series (issue 7, "memory at scale").

For each size N it writes a synthetic long-format Parquet file of N positive monthly series of
60 values (seeded), runs the real CLI on it as a subprocess::

    rnnbench run --datasets FILE --horizon 6 --models naive,snaive --workers 2 --out DIR

and polls, every 0.2 s, the resident memory of the driver process and of every process below it
(its worker processes), from ``/proc/<pid>/status`` (``VmRSS``, ``VmHWM``: the kernel's own
high-water mark, so the peaks miss nothing between polls) and ``/proc/<pid>/smaps_rollup``
(private memory; psutil finds the children when installed, else ``/proc/<pid>/task/*/children``).
After exit, ``resource.getrusage(RUSAGE_CHILDREN).ru_maxrss`` cross-checks the largest process.

Phases, told apart by what the run writes (polled, so +-0.2 s): ``load`` = start to the manifest
(imports, reading and checking the file, planning, fingerprints), ``run`` = to the last
experiment's checkpoint, ``merge`` = to experiments.csv (checkpoints copied into
metrics.parquet / forecasts.parquet), ``report`` = to report.md, then the manifest and exit.
``driver_<phase>_mb`` is the driver's largest polled RSS in that phase; ``run_added_mb`` what the
run phase adds to the RSS it started with (the loaded data and imports).

    python benchmarks/memory_scale.py [--series 1000,10000,100000] [--models naive,snaive]
                                      [--workers 2] [--csv FILE] [--keep DIR]

What is bounded and what grows: the forecasts of a local model are scored chunk by chunk (at most
``harness.runner.CHUNK_SERIES`` series per chunk) and streamed into the checkpoint, and the result
files are copied row group by row group, so the *run* and *merge* phases hold no table of all
forecasts. What still grows with N: the data panel itself (N x 60 floats plus ids, and the
loader's per-series groups while the file is read), the task's windows and the per-series work
list, and the report, which reads metrics.parquet whole (one row per series x model) and
forecasts.parquet whole up to ``harness.steps.FORECAST_ROWS_IN_MEMORY`` rows (only the columns it
uses; above that, row group by row group). Workers are forked from the driver after the data is
loaded, so their RSS includes the driver's pages they share; ``worker_private_mb`` is their own.
"""

from __future__ import annotations

import argparse
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _runlib import ROOT, rnnbench_cmd, write_csv  # the benchmarks' shared helpers

LENGTH = 60
HORIZON = 6
POLL_S = 0.2
COLUMNS = [
    "n_series",
    "driver_peak_mb",
    "driver_load_mb",
    "driver_run_mb",
    "run_added_mb",
    "driver_merge_mb",
    "driver_report_mb",
    "worker_peak_mb",
    "worker_private_mb",
    "max_child_mb",
    "load_s",
    "run_s",
    "merge_s",
    "report_s",
    "wall_s",
    "mb_per_1k_series",
    "growth_mb_per_1k",
]


def write_panel(path: Path, n: int, length: int = LENGTH, seed: int = 0) -> Path:
    """N positive monthly series: level x exp(seasonal + random walk), seeded."""
    rng = np.random.default_rng(seed)
    t = np.arange(length)
    level = rng.uniform(50.0, 500.0, size=(n, 1))
    phase = rng.integers(0, 12, size=(n, 1))
    season = 0.15 * np.sin(2 * np.pi * (t + phase) / 12)
    walk = np.cumsum(rng.normal(0.0, 0.03, size=(n, length)), axis=1)
    y = (level * np.exp(season + walk)).reshape(-1)
    ids = np.repeat(np.array([f"s{i:07d}" for i in range(n)], dtype=object), length)
    ds = np.tile(pd.date_range("2000-01-01", periods=length, freq="MS").to_numpy(), n)
    pd.DataFrame({"unique_id": ids, "ds": ds, "y": y}).to_parquet(path, index=False)
    return path


# --------------------------------------------------------------------------- process memory


def _status_kb(pid: int) -> dict[str, int]:
    out = {}
    try:
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                if line.startswith(("VmRSS:", "VmHWM:")):
                    key, value = line.split(":", 1)
                    out[key] = int(value.split()[0])
    except OSError:
        pass
    return out


def _private_kb(pid: int) -> int:
    total = 0
    try:
        with open(f"/proc/{pid}/smaps_rollup") as f:
            for line in f:
                if line.startswith(("Private_Clean:", "Private_Dirty:")):
                    total += int(line.split()[1])
    except OSError:
        pass
    return total


def _children(pid: int) -> list[int]:
    """Every process below ``pid``."""
    try:
        import psutil

        return [c.pid for c in psutil.Process(pid).children(recursive=True)]
    except ImportError:
        pass
    except Exception:  # the process is gone
        return []
    found, todo = [], [pid]
    while todo:
        p = todo.pop()
        try:
            tasks = os.listdir(f"/proc/{p}/task")
        except OSError:
            continue
        for tid in tasks:
            try:
                with open(f"/proc/{p}/task/{tid}/children") as f:
                    kids = [int(x) for x in f.read().split()]
            except OSError:
                kids = []
            found += kids
            todo += kids
    return found


@dataclass
class Watch:
    """Polled samples: (time since start, driver RSS kB); peaks of driver and workers."""

    samples: list[tuple[float, int]] = field(default_factory=list)
    driver_hwm_kb: int = 0
    worker_hwm_kb: dict[int, int] = field(default_factory=dict)
    worker_private_kb: dict[int, int] = field(default_factory=dict)
    marks: dict[str, float] = field(default_factory=dict)

    def poll(self, pid: int, t: float) -> None:
        st = _status_kb(pid)
        if not st:
            return
        self.samples.append((t, st.get("VmRSS", 0)))
        self.driver_hwm_kb = max(self.driver_hwm_kb, st.get("VmHWM", 0))
        for child in _children(pid):
            cst = _status_kb(child)
            if cst:
                self.worker_hwm_kb[child] = max(self.worker_hwm_kb.get(child, 0), cst.get("VmHWM", 0))
                self.worker_private_kb[child] = max(self.worker_private_kb.get(child, 0), _private_kb(child))

    def driver_peak_between(self, start: float, end: float) -> float:
        inside = [kb for t, kb in self.samples if start <= t <= end]
        return max(inside) / 1024 if inside else float("nan")

    def driver_at(self, start: float) -> float:
        """Driver RSS at the first sample from ``start`` on."""
        after = [kb for t, kb in self.samples if t >= start]
        return after[0] / 1024 if after else float("nan")


def _mtime(path: Path) -> float | None:
    try:
        return path.stat().st_mtime
    except OSError:
        return None


def measure(n: int, models: str, workers: int, work: Path) -> dict:
    data = write_panel(work / f"panel-{n}.parquet", n)
    out = work / f"run-{n}"
    shutil.rmtree(out, ignore_errors=True)  # --keep: a fresh run each time
    argv = [
        *rnnbench_cmd(),
        "run",
        "--datasets",
        str(data),
        "--horizon",
        str(HORIZON),
        "--models",
        models,
        "--workers",
        str(workers),
        "--out",
        str(out),
    ]
    before = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    watch = Watch()
    with open(work / f"run-{n}.log", "w") as log:
        epoch = time.time()
        t0 = time.perf_counter()
        proc = subprocess.Popen(argv, cwd=ROOT, stdout=log, stderr=subprocess.STDOUT)
        while proc.poll() is None:
            t = time.perf_counter() - t0
            watch.poll(proc.pid, t)
            if "manifest" not in watch.marks and (out / "manifest.json").exists():
                watch.marks["manifest"] = t
            time.sleep(POLL_S)
        wall = time.perf_counter() - t0
    max_child_kb = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    if proc.returncode not in (0, 1):
        raise SystemExit(f"rnnbench failed ({proc.returncode}) for {n} series; see {work / f'run-{n}.log'}")
    summaries = [p / "summary.json" for p in (out / "parts").iterdir() if not p.name.startswith(".")]
    t_run = max(_mtime(s) or epoch for s in summaries) - epoch
    t_merge = (_mtime(out / "experiments.csv") or epoch) - epoch
    t_report = (_mtime(out / "report.md") or epoch) - epoch
    t_load = watch.marks.get("manifest", 0.0)
    driver_peak = watch.driver_hwm_kb / 1024
    return {
        "n_series": n,
        "driver_peak_mb": driver_peak,
        "driver_load_mb": watch.driver_peak_between(0.0, t_load),
        "driver_run_mb": watch.driver_peak_between(t_load, t_run),
        # what the experiments add to the driver beyond the loaded data: bounded if streaming works
        "run_added_mb": watch.driver_peak_between(t_load, t_run) - watch.driver_at(t_load),
        "driver_merge_mb": watch.driver_peak_between(t_run, t_merge),
        "driver_report_mb": watch.driver_peak_between(t_merge, wall),
        "worker_peak_mb": max(watch.worker_hwm_kb.values(), default=0) / 1024,
        "worker_private_mb": max(watch.worker_private_kb.values(), default=0) / 1024,
        "max_child_mb": (max_child_kb if max_child_kb > before else float("nan")) / 1024,
        "load_s": t_load,
        "run_s": t_run - t_load,
        "merge_s": t_merge - t_run,
        "report_s": t_report - t_merge,
        "wall_s": wall,
        "mb_per_1k_series": driver_peak / (n / 1000),
    }


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--series", default="1000,10000,100000", help="Comma-separated numbers of series.")
    ap.add_argument("--models", default="naive,snaive", help="Models (naive and naive2 always run too).")
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--csv", dest="csv_out", help="Also write the table to this CSV file.")
    ap.add_argument("--keep", help="Write data and runs here (kept) instead of a temporary folder.")
    args = ap.parse_args(argv)
    sizes = [int(s) for s in args.series.split(",") if s.strip()]
    rows = []
    with tempfile.TemporaryDirectory(prefix="rnnbench-memory-") as tmp:
        work = Path(args.keep) if args.keep else Path(tmp)
        work.mkdir(parents=True, exist_ok=True)
        for n in sizes:
            print(f"memory_scale: {n} series ...", file=sys.stderr, flush=True)
            rows.append(measure(n, args.models, args.workers, work))
    table = pd.DataFrame(rows)
    # marginal cost: driver peak growth per 1k series from the previous (smaller) size; the peak
    # itself carries a fixed ~0.4 GB of interpreter, imports and plugins
    table["growth_mb_per_1k"] = table["driver_peak_mb"].diff() / (table["n_series"].diff() / 1000)
    table = table[COLUMNS]
    print(
        f"models {args.models} (+ naive2), {LENGTH} values per series, horizon {HORIZON}, {args.workers} workers; "
        "MB = MiB of resident memory; *_s = seconds per phase"
    )
    print(table.to_string(index=False, float_format=lambda x: f"{x:.1f}"))
    if len(table) > 1:
        a, b = table.iloc[-2], table.iloc[-1]
        dn = (b["n_series"] - a["n_series"]) / 1000
        print(
            f"growth between the last two sizes: driver {(b['driver_peak_mb'] - a['driver_peak_mb']) / dn:.2f} MB "
            f"and wall {(b['wall_s'] - a['wall_s']) / dn:.2f} s per 1k series"
        )
    if args.csv_out:
        write_csv(Path(args.csv_out), table.to_dict("records"))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
