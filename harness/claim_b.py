"""Claim (b), "RNNs are computationally slow": its verdict rows, one per regime and device.

Whether an RNN costs more than arima depends on how it is trained: a *global* network (one fit
on the windows of all series) is paid once per panel, a *local* one (one network per series, as
tutorials fit RNNs) once per series, like auto-ARIMA. And an accelerator changes the unit. So
claim (b) is never decided for "RNNs" at large: each verdict row says its scope in words
("global, CPU"; "local, CPU"; "global, CUDA") and the overall line says "depends on the regime"
when the scopes disagree, instead of letting one cheap set-up speak for all.

Units (:func:`costs`): a model on CPU is charged its process CPU milliseconds per series
(``cpu_ms_per_series``, BLAS threads counted, the worker processes' CPU for local models), so a
network that keeps 1.35 cores busy is not flattered against arima's single-threaded fits; on an
accelerator, whose work the process CPU clock does not see, its synchronised wall milliseconds
per series. A speed table stored before CPU units (no ``cpu_ms_per_series``) falls back to wall
milliseconds and says so.

Time to accuracy: where experiments.csv records it (``tta_cpu_s``: the CPU seconds until a
network's validation loss first came within 5% of its own best; for arima its fit time), the
evidence quotes it per series beside the full cost, and its ratio to arima's. The verdict itself
weighs the full cost of the configuration that was scored for accuracy, early stopping included.

Decisiveness: a cost ratio counts only outside :data:`harness.significance.DECISIVE_BAND`
([0.5, 2]). A benchmark run times each model once per seed, so its rows have no interval and
compare the ratio itself with the band; the cost study (:mod:`harness.studies.cost_analysis`)
repeats each timing and requires the bootstrap CI of the ratio to lie outside the band.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pandas as pd

from harness.analysis import OVERALL
from harness.families import Families
from harness.models import REGIMES
from harness.significance import DECISIVE_BAND

REFERENCE = "arima"
#: The ``scope`` of the overall row that joins the scopes of a claim-(b) verdict.
SCOPE_ALL = "all regimes and devices"
#: Where the overall line starts in the evidence of a single-scope overall row.
OVERALL_MARK = "; overall: "
SPEED_ROW_COLUMNS = ["dataset", "model", "ms_per_series", "cost_ms", "tta_ms", "unit", "n_series", "device", "regime"]
RULE = (
    "per regime (local: one fit per series; global: one on all series) and device: each recurrent model's cost "
    "per series (CPU-ms on CPU, BLAS threads counted; wall-ms on an accelerator) / arima's CPU-ms: supported if "
    f"every ratio > {DECISIVE_BAND[1]:g}, refuted if every ratio < {DECISIVE_BAND[0]:g}, else inconclusive "
    "(a single timing has no interval: the cost study's repeated timings give CIs); overall: the scopes' common "
    "verdict, else inconclusive (depends on the regime or device)"
)


def scope_text(regime: str, device: str) -> str:
    """The scope of a verdict row in words: ``"global, CPU"``; a run stored before regimes: ``"CPU"``."""
    return ", ".join(p for p in (regime, str(device).upper()) if p)


def costs(speed: pd.DataFrame) -> pd.DataFrame:
    """``speed`` (speed.csv rows) with ``regime``, ``cost_ms`` and ``unit``: CPU-ms per series
    for CPU rows, wall-ms per series for accelerator rows and for tables stored before CPU units."""
    df = speed.copy()
    if "regime" not in df.columns:
        df["regime"] = ""
    df["regime"] = df["regime"].fillna("").astype(str)
    wall = df["ms_per_series"].astype(float)
    cpu = df["cpu_ms_per_series"].astype(float) if "cpu_ms_per_series" in df.columns else pd.Series(np.nan, df.index)
    use_cpu = (df["device"].astype(str) == "cpu") & cpu.notna()
    df["cost_ms"] = cpu.where(use_cpu, wall)
    df["unit"] = np.where(use_cpu, "CPU-ms", "wall-ms")
    n = df["n_series"].astype(float).clip(lower=1)
    tta_cpu = df["tta_cpu_s"].astype(float) if "tta_cpu_s" in df.columns else pd.Series(np.nan, df.index)
    tta_wall = df["tta_wall_s"].astype(float) if "tta_wall_s" in df.columns else pd.Series(np.nan, df.index)
    df["tta_ms"] = tta_cpu.where(use_cpu, tta_wall) * 1000.0 / n
    return df


def speed_rows(speed: pd.DataFrame) -> pd.DataFrame:
    """Cost per series per dataset x model (:func:`costs`), plus pooled overall rows for the
    models timed on every dataset: sum(cost x n_series) / sum(n_series) over datasets."""
    if speed.empty:
        return pd.DataFrame(columns=SPEED_ROW_COLUMNS)
    sp = costs(speed)[SPEED_ROW_COLUMNS].copy()
    n_datasets = sp["dataset"].nunique()
    counts = sp.groupby("model")["dataset"].nunique()
    pooled = sp[sp["model"].isin(counts[counts == n_datasets].index)].copy()
    pooled["work"] = pooled["cost_ms"] * pooled["n_series"]
    pooled["wall"] = pooled["ms_per_series"] * pooled["n_series"]
    pooled["tta"] = pooled["tta_ms"] * pooled["n_series"]
    overall = (
        pooled.groupby("model", sort=False)
        .agg(
            work=("work", "sum"),
            wall=("wall", "sum"),
            tta=("tta", lambda x: x.sum(min_count=len(x))),  # NaN unless every dataset has it
            n_series=("n_series", "sum"),
            device=("device", "first"),
            regime=("regime", "first"),
            unit=("unit", "first"),
        )
        .reset_index()
    )
    overall["cost_ms"] = overall["work"] / overall["n_series"].clip(lower=1)
    overall["ms_per_series"] = overall["wall"] / overall["n_series"].clip(lower=1)
    overall["tta_ms"] = overall["tta"] / overall["n_series"].clip(lower=1)
    overall["dataset"] = OVERALL
    return pd.concat([sp, overall[SPEED_ROW_COLUMNS]], ignore_index=True)


def _fmt(x: float, nd: int = 2) -> str:
    return "nan" if x is None or not np.isfinite(x) else f"{x:.{nd}f}"


def _decide(ratios: np.ndarray) -> str:
    lo, hi = DECISIVE_BAND
    if len(ratios) and np.all(ratios > hi):
        return "supported"
    if len(ratios) and np.all(ratios < lo):
        return "refuted"
    return "inconclusive"


def _scope_row(rows: pd.DataFrame, ref: pd.Series, scope: str) -> dict:
    ref_ms = float(ref["cost_ms"])
    ratios = rows["cost_ms"].to_numpy(dtype=float) / ref_ms if ref_ms > 0 else np.full(len(rows), np.inf)
    ref_tta = float(ref["tta_ms"])
    parts = [
        f"{r.model} {_fmt(r.cost_ms, 1)} {r.unit} (x{_fmt(q)} arima"
        + (f"; to accuracy {_fmt(r.tta_ms, 1)}, x{_fmt(r.tta_ms / ref_tta)}" if np.isfinite(r.tta_ms) else "")
        + ")"
        for r, q in zip(rows.itertuples(), ratios)
    ]
    evidence = f"{scope}: arima {_fmt(ref_ms, 1)} {ref['unit']}/series; " + "; ".join(parts)
    return {"scope": scope, "verdict": _decide(ratios), "evidence": evidence}


def dataset_rows(dataset: str, speed_all: pd.DataFrame, fam: Families) -> list[dict]:
    """The claim-(b) rows of one dataset of :func:`speed_rows`: one per (regime, device) of its
    contenders, each {scope, verdict, evidence}; on the overall pseudo-dataset the line joining
    the scopes (:func:`joined_row`): a last row (scope :data:`SCOPE_ALL`) when they are several,
    else the end of the one row's evidence (so each claim x dataset keeps one row then)."""
    sp = speed_all[speed_all["dataset"] == dataset]
    ref = sp[sp["model"] == REFERENCE]
    neural = sp[sp["model"].map(fam.neural).astype(bool)]
    if ref.empty or neural.empty:
        return [
            {"scope": "", "verdict": "inconclusive", "evidence": "no neural model or no arima timing on this dataset"}
        ]
    out = [
        _scope_row(g, ref.iloc[0], scope_text(regime, device))
        for (regime, device), g in neural.groupby(["regime", "device"], sort=True)
    ]
    if dataset == OVERALL:
        timed = set(neural["regime"])
        joined = joined_row(out, [r for r in REGIMES if timed and "" not in timed and r not in timed])
        if len(out) == 1:  # one scope: its row is the overall line, and says what it leaves out
            out[0]["evidence"] += f"{OVERALL_MARK}{joined['evidence']}"
        else:
            out.append(joined)
    return out


def overall_line(rows: pd.DataFrame) -> str:
    """The evidence of claim (b)'s overall line among verdict ``rows``: the row joining the
    scopes, or the one overall row's closing sentence when a single scope was timed; "" if none."""
    overall = rows[rows["dataset"] == OVERALL]
    if "scope" in overall.columns and (overall["scope"] == SCOPE_ALL).any():
        return str(overall.loc[overall["scope"] == SCOPE_ALL, "evidence"].iloc[0])
    texts = [str(e).split(OVERALL_MARK, 1)[1] for e in overall["evidence"] if OVERALL_MARK in str(e)]
    return texts[0] if texts else ""


def joined_row(rows: list[dict], untimed: list[str] = ()) -> dict:
    """The overall line over scoped rows that does not overreach: their common verdict when they
    agree, naming the regimes no recurrent model was trained in (``untimed``), which the verdict
    does not cover; otherwise inconclusive, saying what it depends on."""
    verdicts = {r["verdict"] for r in rows}
    listing = "; ".join(f"{r['scope']}: {r['verdict']}" for r in rows)
    gap = "".join(f"; {r} training not timed, so not covered" for r in untimed)
    if len(verdicts) == 1:
        verdict = verdicts.pop()
        where = "in every scope timed" if len(rows) > 1 else "only in the scope timed"
        return {"scope": SCOPE_ALL, "verdict": verdict, "evidence": f"{verdict} {where} ({listing}{gap})"}
    regimes = {r["scope"].split(",")[0] for r in rows}
    what = "the regime" if len(regimes) > 1 else "the device"
    return {"scope": SCOPE_ALL, "verdict": "inconclusive", "evidence": f"depends on {what}: {listing}{gap}"}


def verdict_rows(
    datasets: list[str], speed_all: pd.DataFrame, fam: Families, compared: Callable[[str], str]
) -> list[dict]:
    """Every claim-(b) verdict row of the benchmark's timings (columns of
    :data:`harness.claims.VERDICT_COLUMNS`); ``compared(dataset)`` gives the ``compared`` cell."""
    rows = []
    for d in datasets:
        for r in dataset_rows(d, speed_all, fam):
            rows.append({"claim": "b", "dataset": d, "compared": compared(d), "rule": RULE, **r})
    return rows


def join_study_scopes(rows: list[dict], study: str) -> list[dict]:
    """Claim (b)'s rows with the overall line joined over the run's own scopes AND an attached
    study's (``study``: its rows' dataset, e.g. the cost study). A run times one set-up (global
    training, say); the cost study times the others (local training); an overall line over the
    run's scopes alone said "refuted" beside a study row saying "inconclusive" for a regime the
    run never timed. Joined (:func:`joined_row`), the line is the scopes' common verdict or says
    what it depends on. Without study scopes the rows are returned as they are."""

    def scoped(r: dict, dataset: str) -> bool:
        return r["claim"] == "b" and r["dataset"] == dataset and r.get("scope") not in ("", SCOPE_ALL, None)

    run = [r for r in rows if scoped(r, OVERALL)]
    studied = [r for r in rows if scoped(r, study)]
    if not run or not studied:
        return rows
    parts = [{**r, "scope": f"{r['scope']} (this run)"} for r in run]
    parts += [{**r, "scope": f"{r['scope']} ({study})"} for r in studied]
    joined = {**run[0], **joined_row(parts), "rule": RULE}
    out = []
    for r in rows:
        if r["claim"] == "b" and r["dataset"] == OVERALL and r.get("scope") == SCOPE_ALL:
            continue  # replaced by the line joining the study's scopes too
        if scoped(r, OVERALL) and OVERALL_MARK in str(r["evidence"]):
            r = {**r, "evidence": str(r["evidence"]).split(OVERALL_MARK, 1)[0]}
        out.append(r)
    last_b = max(i for i, r in enumerate(out) if r["claim"] == "b" and r["dataset"] == OVERALL)
    return [*out[: last_b + 1], joined, *out[last_b + 1 :]]


def study_rows(verdict: pd.DataFrame | None, dataset: str) -> list[dict]:
    """The rows of a study's verdict.csv as claim-(b) verdict rows under ``dataset`` (the cost
    study's: one per regime and device plus its overall line; a study stored before scopes: its
    one row, scope empty). Another study of claim (b) (the sequential-cost study) adds its rows
    the same way."""
    if verdict is None or verdict.empty:
        return []
    rows = []
    for _, v in verdict.iterrows():
        compared, scope = v.get("compared"), v.get("scope")
        rows.append(
            {
                "claim": "b",
                "dataset": dataset,
                "scope": scope if isinstance(scope, str) else "",
                "compared": compared if isinstance(compared, str) else "",
                "rule": v["rule"],
                "verdict": v["verdict"],
                "evidence": v["evidence"],
            }
        )
    return rows
