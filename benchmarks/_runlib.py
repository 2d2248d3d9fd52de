"""Shared by the harness benchmarks: run ``rnnbench run`` as a subprocess and read what it recorded.

:func:`run_rnnbench` starts the real CLI (the ``rnnbench`` script beside this Python, else
``python -m harness``) into a fresh ``--out`` folder and returns a :class:`RunRecord`: the exit
code, the wall time of the whole process measured here (start to exit), the manifest (whose
``wall_s`` starts after planning, so it leaves out interpreter start-up, imports, data loading
and planning), ``experiments.csv``, and when each experiment's checkpoint was written, read from
the modification time of ``parts/<experiment>/summary.json`` (the same clock as ``time.time()``).
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from itertools import pairwise
from pathlib import Path

import pandas as pd

ROOT = Path(__file__).resolve().parent.parent
DATASET = "m3-monthly"


def rnnbench_cmd() -> list[str]:
    script = Path(sys.executable).parent / "rnnbench"
    return [str(script)] if script.is_file() else [sys.executable, "-m", "harness"]


@dataclass
class RunRecord:
    out: Path
    argv: list[str]
    rc: int
    process_wall_s: float
    started_epoch: float
    manifest: dict = field(default_factory=dict)
    experiments: pd.DataFrame = field(default_factory=pd.DataFrame)
    log: str = ""

    @property
    def wall_s(self) -> float:
        """The manifest's ``wall_s``: from just after planning to the end of the report."""
        return float(self.manifest.get("wall_s", float("nan")))

    def exp(self, model: str) -> pd.Series:
        rows = self.experiments[self.experiments["model"] == model]
        if rows.empty:
            raise SystemExit(f"{self.out}: no experiment of model {model!r} in experiments.csv")
        return rows.iloc[0]

    def checkpoints(self) -> list[tuple[float, float]]:
        """(seconds from process start until an experiment's checkpoint was written, that
        experiment's ``wall_s``) for every experiment, in the order they finished."""
        out = []
        for part in (self.out / "parts").iterdir():
            summary = part / "summary.json"
            if part.name.startswith(".") or not summary.is_file():
                continue
            wall = float(json.loads(summary.read_text(encoding="utf-8"))["wall_s"])
            out.append((summary.stat().st_mtime - self.started_epoch, wall))
        return sorted(out)

    def manifest_written_s(self) -> float:
        """Seconds from process start until the final manifest was written (end of the report)."""
        return (self.out / "manifest.json").stat().st_mtime - self.started_epoch

    def phases(self) -> dict[str, float]:
        """Where the process wall went, from the checkpoint times and per-experiment walls:

        * ``start-up``: process start to the start of the first experiment (interpreter,
          imports, plugins, data loading, planning, manifest, executor start: a dask cluster
          starts here, while the ``processes`` pool is forked inside the first experiment);
        * ``experiments``: the sum of the experiments' own ``wall_s``;
        * ``between``: the gaps between one experiment's end and the next one's start (mostly
          writing each checkpoint);
        * ``finish``: last checkpoint to final manifest (closing the executor, collecting the
          parts, writing metrics/forecasts/experiments, the report);
        * ``exit``: final manifest to process exit (summary printout, interpreter shutdown).
        """
        ck = self.checkpoints()
        (first, first_wall), (last, _) = ck[0], ck[-1]
        startup = first - first_wall
        between = sum(b - b_wall - a for (a, _), (b, b_wall) in pairwise(ck))
        finish = self.manifest_written_s() - last
        return {
            "start-up": startup,
            "experiments": sum(w for _, w in ck),
            "between": between,
            "finish": finish,
            "exit": self.process_wall_s - self.manifest_written_s(),
        }


def run_rnnbench(
    out: Path,
    models: str,
    *,
    limit: int | None,
    executor: str,
    workers: int,
    extra: list[str] | None = None,
    echo: bool = True,
    datasets: str = DATASET,
) -> RunRecord:
    """``rnnbench run --datasets DATASETS --models MODELS`` into ``out`` (must not exist yet)."""
    argv = rnnbench_cmd() + [
        "run",
        "--datasets",
        datasets,
        "--models",
        models,
        "--executor",
        executor,
        "--workers",
        str(workers),
        "--out",
        str(out),
    ]
    if limit:
        argv += ["--limit", str(limit)]
    argv += extra or []
    if echo:
        print("$ rnnbench", " ".join(argv[len(rnnbench_cmd()) :]), flush=True)
    t_epoch, t0 = time.time(), time.perf_counter()
    # output captured (a pipe, not a terminal: no progress bar); shown only if the run breaks
    proc = subprocess.run(argv, cwd=ROOT, capture_output=True, text=True, check=False)
    wall = time.perf_counter() - t0
    log = proc.stdout + proc.stderr
    # exit code 1: the run finished but some series failed (the tables still hold); others: broken
    if proc.returncode not in (0, 1) or not (out / "experiments.csv").is_file():
        sys.stderr.write(log[-4000:])
        raise SystemExit(f"rnnbench run failed with exit code {proc.returncode}: {' '.join(argv)}")
    rec = RunRecord(
        out,
        argv,
        proc.returncode,
        wall,
        t_epoch,
        log=log,
        manifest=json.loads((out / "manifest.json").read_text(encoding="utf-8")),
        experiments=pd.read_csv(out / "experiments.csv"),
    )
    if proc.returncode == 1:
        print(f"  note: {rec.manifest.get('failed_series')} series forecasts failed in this run", flush=True)
    return rec


@contextmanager
def run_folder(prefix: str, keep: bool) -> Iterator[Path]:
    """A temporary folder for a benchmark's runs: removed afterwards unless ``keep``."""
    folder = Path(tempfile.mkdtemp(prefix=prefix))
    try:
        yield folder
    finally:
        if keep:
            print(f"run folders kept in {folder}")
        else:
            shutil.rmtree(folder, ignore_errors=True)


def write_csv(path: Path, rows: list[dict]) -> None:
    """The benchmark's table as CSV (floats to 4 decimals), creating the folder."""
    import csv

    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", newline="") as fh:
        writer = csv.DictWriter(fh, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows([{k: round(v, 4) if isinstance(v, float) else v for k, v in r.items()} for r in rows])
    print(f"wrote {path}")


def fmt_table(rows: list[dict], floats: str = "{:.3f}") -> str:
    """A plain left/right aligned text table of dict rows (same keys)."""
    if not rows:
        return ""
    cols = list(rows[0])
    cells = [[c for c in cols]] + [
        [floats.format(r[c]) if isinstance(r[c], float) else str(r[c]) for c in cols] for r in rows
    ]
    widths = [max(len(row[i]) for row in cells) for i in range(len(cols))]
    lines = []
    for n, row in enumerate(cells):
        lines.append("  ".join(v.ljust(w) if i == 0 else v.rjust(w) for i, (v, w) in enumerate(zip(row, widths))))
        if n == 0:
            lines.append("  ".join("-" * w for w in widths))
    return "\n".join(lines)


def parse_params(text: str) -> dict:
    """``key=value,key=value`` (or ``;``-separated) with Python literals as values
    (``approximation=False``, ``method=css``): model parameters given on a benchmark's command line."""
    import ast

    out = {}
    for item in filter(None, (t.strip() for t in text.split(";" if ";" in text else ","))):
        key, _, value = item.partition("=")
        try:
            out[key.strip()] = ast.literal_eval(value.strip())
        except (ValueError, SyntaxError):
            out[key.strip()] = value.strip()
    return out
