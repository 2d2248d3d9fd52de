"""report.md and the terminal summary, built from stored results alone.

``rnnbench report RUN_DIR`` calls ``build_report`` on a finished run, so a report can be rebuilt
(or improved) without re-running any model.
"""

from __future__ import annotations

import math

import pandas as pd

from harness.analysis import accuracy_table, failures_table, speed_table
from harness.store import RunStore, atomic_write_frame, atomic_write_text

ACCURACY_SHOWN = ["model", "n_series", "smape", "mase", "owa", "rmse", "mae", "coverage", "msis"]
SPEED_SHOWN = ["model", "device", "fit_s", "predict_s", "cpu_s", "wall_s", "ms_per_series", "rel_cost", "peak_rss_mb"]


def _fmt(value: object) -> str:
    if isinstance(value, float):
        if math.isnan(value):
            return "–"
        if value != 0 and (abs(value) >= 1e5 or abs(value) < 1e-3):
            return f"{value:.3g}"
        return f"{value:.3f}" if abs(value) < 100 else f"{value:.1f}"
    return str(value)


def markdown_table(df: pd.DataFrame) -> str:
    shown = df.apply(lambda col: col.map(_fmt)) if len(df) else df
    return shown.to_markdown(index=False)


def _present(df: pd.DataFrame, columns: list[str]) -> pd.DataFrame:
    cols = [c for c in columns if c in df.columns and not (df[c].isna().all() and c in ("coverage", "msis"))]
    return df[cols]


def build_report(store: RunStore) -> str:
    """Write accuracy.csv, speed.csv and report.md from the run's stored results; return the markdown."""
    experiments, series = store.read_results()
    accuracy = accuracy_table(series)
    speed = speed_table(experiments)
    failures = failures_table(series)
    atomic_write_frame(accuracy, store.root / "accuracy.csv")
    atomic_write_frame(speed, store.root / "speed.csv")
    manifest = store.manifest()
    config = manifest["config"]
    lines = [
        f"# rnnbench run `{store.root.name}`",
        "",
        f"Suite `{config['suite']}`, protocol `{config['protocol']['kind']}`"
        + (f" ({config['protocol']['windows']} windows)" if config["protocol"]["kind"] == "rolling" else "")
        + f", seeds {config['seeds']}, created {manifest.get('created', '?')}.",
        f"Machine: {manifest['hardware'].get('cpu')} ({manifest['hardware'].get('cores')} cores), "
        f"Python {manifest['versions'].get('python')}, rnnbench {manifest['versions'].get('rnnbench', '?')}, "
        f"commit {manifest.get('git_commit') or 'unknown'}.",
        "",
        "Accuracy: means over series (M4 definitions: sMAPE in %, MASE scaled by the in-sample seasonal "
        "naive error, OWA relative to Naive2; lower is better). Every model is scored on the same series: "
        "a series any model failed on is left out of all (see n_excluded in accuracy.csv).",
        "Speed: `ms_per_series` is model compute time per series (fit + predict; for local models the sum "
        "over series, independent of worker count); `rel_cost` is that relative to `naive`.",
        "",
    ]
    for dataset in accuracy["dataset"].unique():
        acc = accuracy[accuracy["dataset"] == dataset].sort_values("smape")
        spd = speed[speed["dataset"] == dataset].set_index("model").reindex(acc["model"]).reset_index()
        fp = manifest.get("datasets", {}).get(dataset, "")
        excluded = int(acc["n_excluded"].max()) if len(acc) else 0
        lines += [f"## {dataset}", "", f"{int(acc['n_series'].max())} series, fingerprint `{fp}`"
                  + (f", {excluded} series left out because a model failed on them" if excluded else "") + ".", ""]
        lines += ["### Accuracy", "", markdown_table(_present(acc, ACCURACY_SHOWN)), ""]
        lines += ["### Speed", "", markdown_table(_present(spd, SPEED_SHOWN)), ""]
    if len(failures):
        lines += ["## Failures", "", markdown_table(failures), ""]
    text = "\n".join(lines)
    atomic_write_text(store.root / "report.md", text)
    return text


def terminal_summary(store: RunStore) -> str:
    """A compact table for the end of ``rnnbench run``."""
    accuracy = pd.read_csv(store.root / "accuracy.csv")
    speed = pd.read_csv(store.root / "speed.csv")
    merged = accuracy.merge(speed[["dataset", "model", "ms_per_series", "rel_cost"]], on=["dataset", "model"], how="left")
    shown = merged[["dataset", "model", "n_series", "smape", "mase", "owa", "ms_per_series", "rel_cost"]]
    return markdown_table(shown.sort_values(["dataset", "smape"]))
