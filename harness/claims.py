"""Statistical evidence and verdicts for the three claims, computed from stored results only.

The claims under test:

(a) "RNNs forecast more accurately than ARIMA";
(b) "RNNs are computationally slow";
(c) "RNNs have difficulty using information from a very old time frame".

A model is *neural* (a contender, one of the "RNNs") when the family it declares
(:attr:`harness.Forecaster.family`, recorded in experiments.csv) is recurrent: ``rnn`` (Elman),
``lstm`` or ``gru``; its name plays no part. A run stored before models declared a family (its
experiments.csv has no ``family`` column, like the committed reference) falls back to the old
name rule - a name containing "rnn", "lstm" or "gru" - and the report says so
(:class:`Families`). The reference is the model ``arima``. A model left out of a dataset because
it failed on more than ``analysis.MAX_FAILED_SHARE`` of its series (:func:`harness.analysis.left_out`)
takes part in no claim on that dataset (nor overall), and the ``compared`` column says so.
Every table here is computed per dataset and for an ``"overall"`` pseudo-dataset that pools
the series of all datasets (a series is then identified by ``dataset:unique_id``; only models
run on every dataset take part, so pooled comparisons stay paired and fair).

Fairness: scores come from :func:`harness.analysis.common_rows` - only the (series, window)
pairs that every model and seed forecast - and then one score per series x model is formed by
averaging over windows and (for neural models) over seeds. Paired tests therefore compare the
*same* series, and seed noise is averaged out before testing; the seed spread is reported
separately (``smape_seed_sd``).

Decision rules (also written in the ``rule`` column of :func:`verdicts`):

(a) :mod:`harness.claim_a` (its ``RULE``): every RNN row against arima per dataset, per family
    of datasets and overall, on mean MASE and mean sMAPE with hierarchical-bootstrap CIs, the
    win rate with a sign test, Holm's correction over all comparisons; supported, refuted,
    mixed (significant tests on both sides) or inconclusive. Its per-row numbers are the table
    ``claim_a`` (claims/claim_a.csv).
(b) Per regime (local, global) and device (:mod:`harness.claim_b`): each contender's cost per
    series (CPU-ms on CPU, wall-ms on an accelerator) over arima's CPU-ms on the same dataset.
    *Supported* if every ratio is above 2, *refuted* if every ratio is below 0.5, otherwise
    *inconclusive*; each row names its scope. The overall rows pool compute, sum(cost x
    n_series) / sum(n_series) over datasets, and join the scopes without overreaching: their
    common verdict, else inconclusive ("depends on the regime").
(c) Forecasting results alone cannot isolate long memory (a model can be worse at step h for
    many reasons), so per dataset the verdict is *inconclusive*; the evidence is the growth of
    sMAPE from step 1 to step h (ratio) of the best neural model next to arima's. The overall
    row is decided by the memory study when the run has one attached
    (``studies/memory/verdict.csv``), by the rule of :mod:`harness.claim_c`: per architecture,
    how far back it reaches under a stated budget (the sequence-memory benchmark's delay T, the
    forecasting study's lag L); *supported* where a gated cell converged and the well-initialised
    Elman nets significantly failed at the same length, *refuted* where the Elman nets reach the
    gated cells' lengths, else *inconclusive*. Its benchmarks' rows are added under the dataset
    ``memory-study``. A memory study stored before that rule carries its one verdict row, shown
    as it was decided.
(b) With a cost study attached (``studies/cost/verdict.csv``), rows ``cost-study`` carry its
    verdicts, one per regime and device at its base point with bootstrap CIs of the cost ratios,
    and its overall line (see :mod:`harness.studies.cost_analysis`).
    With a sequential study attached (``studies/sequential/verdict.csv``), one row
    ``sequential-study`` per device carries its verdict: time per training update of each RNN
    against the BPTT length T, beside a network parallel over time
    (:func:`harness.studies.sequential_rows`, :mod:`harness.studies.sequential`).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Mapping
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from scipy import stats

from harness import analysis, claim_a, claim_b, claim_c, metrics
from harness.analysis import OVERALL, with_overall
from harness.claim_b import REFERENCE, speed_rows, study_rows, verdict_rows
from harness.families import FAMILY_COLUMNS, Families, declared_families, families_of
from harness.significance import diebold_mariano, nemenyi_cd, wilcoxon_p, win_rate_ci
from harness.steps import load_forecasts, step_errors
from harness.studies import read_studies, sequential_rows

SERIES_KEYS = ["dataset", "unique_id"]
COST_STUDY = "cost-study"
#: The ``dataset`` of claim (c)'s rows from an attached memory study's benchmarks.
MEMORY_STUDY = "memory-study"

SUMMARY_COLUMNS = [
    "dataset",
    "model",
    "neural",
    "family",
    "n_series",
    "n_seeds",
    "smape_mean",
    "smape_median",
    "mase_mean",
    "mase_median",
    "owa",
    "avg_rank",
    "smape_seed_mean",
    "smape_seed_sd",
]
VERSUS_COLUMNS = [
    "dataset",
    "model",
    "reference",
    "n_series",
    "smape",
    "ref_smape",
    "mean_diff",
    "win_rate",
    "win_lo",
    "win_hi",
    "wilcoxon_p",
    "dm_stat",
    "dm_p",
    "dm_n",
]
FRIEDMAN_COLUMNS = ["dataset", "model", "avg_rank", "n_series", "k", "friedman_stat", "friedman_p", "cd"]
#: ``scope``: what a row's verdict covers beyond the dataset (claim b: the regime and device, e.g.
#: "global, CPU"; empty where the claim has no such split).
VERDICT_COLUMNS = ["claim", "dataset", "scope", "verdict", "compared", "rule", "evidence"]

RULES = {
    "a": claim_a.RULE,
    "b": claim_b.RULE,
    "c": (
        "stored forecasts cannot isolate long memory: inconclusive; evidence = sMAPE growth step 1 -> h "
        "of best neural model vs arima"
    ),
}


# --------------------------------------------------------------------------- per-series scores


def per_series_scores(series: pd.DataFrame) -> pd.DataFrame:
    """One score per dataset x series x model: mean over windows, then over seeds.

    Columns: dataset, unique_id, model, smape, mase, n_seeds. Averaging seeds per series first
    makes a neural model one competitor (its expected performance), not several noisy ones.
    """
    per_seed = claim_a.per_seed_scores(series)
    out = (
        per_seed.groupby([*SERIES_KEYS, "model"], sort=False)
        .agg(smape=("smape", "mean"), mase=("mase", "mean"), n_seeds=("seed", "nunique"))
        .reset_index()
    )
    return out


def _wide(scores: pd.DataFrame, value: str = "smape") -> pd.DataFrame:
    """series x model matrix of one dataset, only series every model scored (complete cases)."""
    return scores.pivot_table(index="unique_id", columns="model", values=value, aggfunc="mean").dropna()


def _avg_ranks(wide: pd.DataFrame) -> pd.Series:
    """Average rank per model (1 = lowest sMAPE on a series; ties share the average rank)."""
    return wide.rank(axis=1, method="average").mean()


# --------------------------------------------------------------------------- summary


def summary_table(series: pd.DataFrame, families: Families | Mapping[str, str] | None = None) -> pd.DataFrame:
    """Per dataset (+ overall) x model: location of sMAPE/MASE, OWA, average rank, seed spread.

    ``neural`` and ``family`` come from ``families`` (:class:`Families`; None: every model by the
    legacy name rule). Models left out of a dataset (:func:`harness.analysis.left_out`) have no row.

    ``smape_mean/median`` and ``mase_mean/median`` are over per-series scores (seeds averaged);
    ``owa`` uses the means over the same series of naive2 (NaN without naive2); ``avg_rank`` ranks
    the models on each series by sMAPE (complete cases); ``smape_seed_mean`` and
    ``smape_seed_sd`` are the mean and sd over seeds of each seed's mean sMAPE (sd NaN for a
    single seed) - the across-seed uncertainty of the neural models.
    """
    if series.empty:
        return pd.DataFrame(columns=SUMMARY_COLUMNS)
    fam = families_of(families)
    scores = with_overall(per_series_scores(series))
    per_seed = with_overall(claim_a.per_seed_scores(series))
    rows = []
    for dataset, frame in scores.groupby("dataset", sort=False):
        ranks = _avg_ranks(_wide(frame))
        ref = frame[frame["model"] == analysis.REFERENCE_ACCURACY]
        ref_smape = ref["smape"].mean() if len(ref) else np.nan
        ref_mase = ref["mase"].mean() if len(ref) else np.nan
        seeds = per_seed[per_seed["dataset"] == dataset]
        for model, mframe in frame.groupby("model", sort=False):
            seed_means = seeds[seeds["model"] == model].groupby("seed")["smape"].mean()
            rows.append(
                {
                    "dataset": dataset,
                    "model": model,
                    "neural": fam.neural(model),
                    "family": fam.family(model),
                    "n_series": len(mframe),
                    "n_seeds": len(seed_means),
                    "smape_mean": mframe["smape"].mean(),
                    "smape_median": mframe["smape"].median(),
                    "mase_mean": mframe["mase"].mean(),
                    "mase_median": mframe["mase"].median(),
                    "owa": metrics.owa(mframe["smape"].mean(), mframe["mase"].mean(), ref_smape, ref_mase),
                    "avg_rank": ranks.get(model, np.nan),
                    "smape_seed_mean": seed_means.mean(),
                    "smape_seed_sd": seed_means.std(ddof=1) if len(seed_means) > 1 else np.nan,
                }
            )
    return pd.DataFrame(rows, columns=SUMMARY_COLUMNS)


# --------------------------------------------------------------------------- pairwise vs reference


def common_forecasts(series: pd.DataFrame, forecasts: pd.DataFrame) -> pd.DataFrame:
    """Forecast rows of the (dataset, series, window) pairs kept by common_rows."""
    keep = analysis.common_rows(series)[["dataset", *analysis.KEYS]].drop_duplicates()
    return forecasts.merge(keep, on=["dataset", *analysis.KEYS], how="inner")


def versus_reference(series: pd.DataFrame, reference: str = REFERENCE) -> pd.DataFrame:
    """Per dataset (+ overall) x model: paired comparison with ``reference`` over series.

    Columns: n_series (paired), smape/ref_smape (means over those series), mean_diff (model -
    reference sMAPE), win_rate with 95% bootstrap CI win_lo/win_hi (share of series where the
    model's sMAPE is lower; ties half), wilcoxon_p, and dm_stat/dm_p/dm_n from
    :func:`diebold_mariano` on the per-series MASE differences (seeds averaged): errors scaled by
    each series' in-sample MASE scale, so series of any level weigh alike. Claim (a)'s own
    comparisons of the RNN rows are :func:`harness.claim_a.comparisons`.
    """
    scores = with_overall(per_series_scores(series))
    rows = []
    for dataset, frame in scores.groupby("dataset", sort=False):
        wide = frame.pivot_table(index="unique_id", columns="model", values="smape")
        if reference not in wide:
            continue
        mase = frame.pivot_table(index="unique_id", columns="model", values="mase")
        for model in [m for m in frame["model"].unique() if m != reference]:
            pair = wide[[model, reference]].dropna()
            diff = (pair[model] - pair[reference]).to_numpy()
            rate, lo, hi = win_rate_ci(diff)
            dbar = (mase[model] - mase[reference]).dropna().to_numpy() if model in mase else np.array([])
            dm_stat, dm_p = diebold_mariano(dbar)
            rows.append(
                {
                    "dataset": dataset,
                    "model": model,
                    "reference": reference,
                    "n_series": len(pair),
                    "smape": pair[model].mean(),
                    "ref_smape": pair[reference].mean(),
                    "mean_diff": float(diff.mean()) if len(diff) else math.nan,
                    "win_rate": rate,
                    "win_lo": lo,
                    "win_hi": hi,
                    "wilcoxon_p": wilcoxon_p(diff),
                    "dm_stat": dm_stat,
                    "dm_p": dm_p,
                    "dm_n": len(dbar[np.isfinite(dbar)]),
                }
            )
    return pd.DataFrame(rows, columns=VERSUS_COLUMNS)


# --------------------------------------------------------------------------- all models at once


def friedman_nemenyi(series: pd.DataFrame) -> pd.DataFrame:
    """Per dataset (+ overall): Friedman test over all models on per-series sMAPE, average ranks
    and the Nemenyi CD. One row per dataset x model (avg_rank; the dataset-level values n_series,
    k, friedman_stat, friedman_p, cd repeated), ready for a critical-difference diagram: two
    models differ significantly when their average ranks differ by more than ``cd``."""
    scores = with_overall(per_series_scores(series))
    rows = []
    for dataset, frame in scores.groupby("dataset", sort=False):
        wide = _wide(frame)
        k, n = wide.shape[1], wide.shape[0]
        stat, p = math.nan, math.nan
        if k >= 3 and n >= 2:
            try:
                res = stats.friedmanchisquare(*[wide[c].to_numpy() for c in wide.columns])
                stat, p = float(res.statistic), float(res.pvalue)
            except ValueError:
                pass
        cd = nemenyi_cd(k, n)
        for model, rank in _avg_ranks(wide).sort_values().items():
            rows.append(
                {
                    "dataset": dataset,
                    "model": model,
                    "avg_rank": rank,
                    "n_series": n,
                    "k": k,
                    "friedman_stat": stat,
                    "friedman_p": p,
                    "cd": cd,
                }
            )
    return pd.DataFrame(rows, columns=FRIEDMAN_COLUMNS)


# --------------------------------------------------------------------------- verdicts


def _fmt(x: float, nd: int = 2) -> str:
    return "nan" if x is None or not np.isfinite(x) else f"{x:.{nd}f}"


def _contenders(models: Iterable[str], fam: Families) -> list[str]:
    return [m for m in dict.fromkeys(models) if fam.neural(m)]


def _compared(
    contenders: list[str], fam: Families, dataset: str, left: pd.DataFrame | None, pooled: Iterable[str] = ()
) -> str:
    """The ``compared`` cell of a verdict: each contender with its family, the reference, and the
    contenders or reference left out of ``dataset`` (overall: of any dataset; a pool of claim (a):
    of its ``pooled`` datasets) for their failures."""
    text = (", ".join(fam.label(m) for m in contenders) or "no recurrent model") + f" vs {REFERENCE}"
    if left is None or left.empty:
        return text
    members = set(pooled) or {dataset}
    rows = left if dataset == OVERALL else left[left["dataset"].isin(members)]
    rows = rows[[fam.neural(m) or m == REFERENCE for m in rows["model"]]]
    if rows.empty:
        return text
    on = dataset == OVERALL or len(members) > 1
    parts = [
        f"{r.model}{f' on {r.dataset}' if on else ''} ({r.n_failed_pairs}/{r.n_pairs} failed)"
        for r in rows.itertuples()
    ]
    return f"{text}; left out, failed on more than {analysis.MAX_FAILED_SHARE:.0%} of the series: {', '.join(parts)}"


def best_contender(summary: pd.DataFrame, dataset: str) -> pd.Series | None:
    """The summary row of the contender (``neural``) with the lowest mean sMAPE on ``dataset``,
    the one claims (a) and (c) weigh against arima; None without a contender there."""
    s = summary[(summary["dataset"] == dataset) & summary["neural"].astype(bool)]
    return None if s.empty else s.sort_values("smape_mean").iloc[0]


def _growth(steps: pd.DataFrame, dataset: str, model: str) -> tuple[float, float, float, int]:
    s = steps[(steps["dataset"] == dataset) & (steps["model"] == model)].sort_values("step")
    if s.empty:
        return math.nan, math.nan, math.nan, 0
    first, last = float(s["smape"].iloc[0]), float(s["smape"].iloc[-1])
    return first, last, (last / first if first > 0 else math.nan), int(s["step"].iloc[-1])


def _verdict_c_steps(dataset: str, summary: pd.DataFrame, steps: pd.DataFrame) -> str:
    contender = best_contender(summary, dataset)
    if contender is None or steps.empty:
        return "no neural model or no forecasts by step"
    best = contender["model"]
    b1, bh, bg, h = _growth(steps, dataset, best)
    a1, ah, ag, _ = _growth(steps, dataset, REFERENCE)
    return (
        f"sMAPE step 1 -> {h}: {best} {_fmt(b1)} -> {_fmt(bh)} (x{_fmt(bg)}), "
        f"arima {_fmt(a1)} -> {_fmt(ah)} (x{_fmt(ag)})"
    )


FAIL_SKILL = 0.1
OK_SKILL = 0.5


def memory_skill(memory: pd.DataFrame) -> pd.Series:
    """``(floor - error) / (floor - optimum)`` per row: the share of the learnable error
    reduction a model achieved (1 optimal, 0 nothing learned, < 0 worse than the mean)."""
    gap = memory["floor"] - memory["optimum"]
    return (memory["floor"] - memory["error"]) / gap.where(gap > 0)


def memoryfamilies_of(memory: pd.DataFrame) -> Families:
    """The families of the memory study's models: its table's ``family`` column (recorded from
    the study run's experiments.csv), or the legacy name rule for a study stored without one."""
    if "family" not in memory.columns:
        return Families()
    known = memory.dropna(subset=["family"]).drop_duplicates("model")
    return Families(dict(zip(known["model"].astype(str), known["family"].astype(str))))


def verdicts(
    summary: pd.DataFrame,
    comparisons: pd.DataFrame,
    speed: pd.DataFrame,
    steps: pd.DataFrame,
    memory_verdict: pd.DataFrame | None = None,
    cost_verdict: pd.DataFrame | None = None,
    families: Families | Mapping[str, str] | None = None,
    left_out: pd.DataFrame | None = None,
    sequential_verdict: pd.DataFrame | None = None,
) -> pd.DataFrame:
    """One row per claim x dataset (+ overall): claim, dataset, verdict, compared, rule, evidence.

    Applies the rules of the module docstring; claim (a)'s rows come from ``comparisons``
    (:func:`harness.claim_a.comparisons`, one row per scope x RNN row), with a row per family
    pool of it before ``overall``; ``memory_verdict`` (the memory study's
    verdict.csv) decides claim (c) on the overall row when given and adds its benchmarks' rows; ``cost_verdict`` (the cost study's verdict.csv)
    adds a ``cost-study`` row to claim (b). ``families`` says which models are contenders
    (:class:`Families`; None: the legacy name rule for all). ``left_out``
    (:func:`harness.analysis.left_out`): models left out of a dataset for their failures, which
    the summary already lacks; here their timings are left out of claim (b) too, and
    ``compared`` names them. ``sequential_verdict`` (the sequential study's verdict.csv) adds
    its rows to claim (b) (:func:`sequential_rows`).
    """
    fam = families_of(families)
    datasets = list(dict.fromkeys(summary["dataset"]))
    if speed is not None and left_out is not None:
        speed = analysis.without_left_out(speed, left_out)
    speed_all = (
        speed_rows(speed) if speed is not None and len(speed) else pd.DataFrame(columns=claim_b.SPEED_ROW_COLUMNS)
    )
    for d in speed_all["dataset"].unique():
        if d not in datasets:
            datasets.append(d)
    if OVERALL in datasets:  # keep overall last
        datasets = [d for d in datasets if d != OVERALL] + [OVERALL]
    accuracy_compared = {
        d: _compared(_contenders(summary.loc[summary["dataset"] == d, "model"], fam), fam, d, left_out)
        for d in datasets
    }
    pools = comparisons.drop_duplicates("dataset").set_index("dataset")["pooled"].str.split(", ")
    compared_a = {
        d: _compared(list(comparisons.loc[comparisons["dataset"] == d, "model"]), fam, d, left_out, pools[d])
        for d in pools.index
        if d not in accuracy_compared
    }
    rows = claim_a.verdict_rows(comparisons, datasets, accuracy_compared | compared_a)
    rows += verdict_rows(
        datasets,
        speed_all,
        fam,
        lambda d: _compared(_contenders(speed_all.loc[speed_all["dataset"] == d, "model"], fam), fam, d, left_out),
    )
    rows += study_rows(cost_verdict, COST_STUDY)
    rows = claim_b.join_study_scopes(rows, COST_STUDY)
    rows.extend(sequential_rows(sequential_verdict))
    study_c, overall_c = claim_c.study_rows(memory_verdict, MEMORY_STUDY)
    rows += study_c
    for d in datasets:
        evidence = _verdict_c_steps(d, summary, steps)
        if d == OVERALL and overall_c is not None:
            rows.append(
                {
                    **overall_c,
                    "dataset": d,
                    "compared": f"{overall_c['compared']}; by step: {accuracy_compared[d]}",
                    "evidence": f"{overall_c['evidence']}; {evidence}",
                }
            )
        else:
            note = "" if d != OVERALL else "; no memory study attached (rnnbench study memory)"
            rows.append(
                {
                    "claim": "c",
                    "dataset": d,
                    "compared": accuracy_compared[d],
                    "rule": RULES["c"],
                    "verdict": "inconclusive",
                    "evidence": evidence + note,
                }
            )
    return pd.DataFrame(rows, columns=VERDICT_COLUMNS).fillna({"scope": ""})


def claims_tables(
    series: pd.DataFrame,
    forecasts: pd.DataFrame | None,
    speed: pd.DataFrame,
    memory: pd.DataFrame | None = None,
    stored_steps: pd.DataFrame | None = None,
    cost_verdict: pd.DataFrame | None = None,
    families: Families | Mapping[str, str] | None = None,
    sequential_verdict: pd.DataFrame | None = None,
    memory_verdict: pd.DataFrame | None = None,
) -> dict[str, pd.DataFrame]:
    """Every claims table from frames already in memory (the report has read them once).

    Without ``forecasts`` (a run kept without its per-step forecasts, like the committed
    reference) sMAPE by step is ``stored_steps``; every other table needs only ``series``
    (the Diebold-Mariano test is on per-series MASE differences).
    ``memory`` (the memory study's forecasting table, for its models' families),
    ``memory_verdict``, ``cost_verdict`` and ``sequential_verdict`` are the attached studies'
    tables (see :func:`verdicts`).
    ``families``: model -> declared family (:func:`declared_families` of experiments.csv); a
    model without one is judged by the legacy name rule. Returns keys: per_series, summary,
    versus, claim_a (:func:`harness.claim_a.comparisons`), friedman, step_errors, speed, verdicts, families (each model's family and where it
    came from, memory-study models included), left_out (:func:`harness.analysis.left_out`), and
    memory when given.
    """
    forecasts = forecasts if forecasts is not None else pd.DataFrame()
    fam = families_of(families)
    left = analysis.left_out(series)
    summary = summary_table(series, fam)
    versus = versus_reference(series)
    comparisons = claim_a.comparisons(series, fam)
    if forecasts.empty and stored_steps is not None:
        steps = stored_steps
    else:
        steps = step_errors(analysis.without_left_out(forecasts, left))
    models = [*series["model"].unique(), *(speed["model"].unique() if speed is not None and "model" in speed else [])]
    family_table = fam.table(models).assign(where="run")
    if memory is not None and len(memory):
        family_table = pd.concat(
            [family_table, memoryfamilies_of(memory).table(memory["model"].unique()).assign(where="memory study")],
            ignore_index=True,
        )
    out = {
        "per_series": per_series_scores(series),
        "summary": summary,
        "versus": versus,
        "friedman": friedman_nemenyi(series),
        "step_errors": steps,
        "speed": speed,
        "verdicts": verdicts(
            summary, comparisons, speed, steps, memory_verdict, cost_verdict, fam, left, sequential_verdict
        ),
        "claim_a": comparisons,
        "families": family_table[["where", *FAMILY_COLUMNS]],
        "left_out": left,
    }
    if memory is not None:
        out["memory"] = memory
    return out


def _optional(path: Path, read: Callable[[Path], pd.DataFrame]) -> pd.DataFrame | None:
    return read(path) if path.exists() else None


def stored_inputs(
    root: Path, series: pd.DataFrame, studies: Mapping[str, Any]
) -> tuple[pd.DataFrame | None, str, dict]:
    """What :func:`claims_tables` needs of a finished run dir beside its metrics: (forecasts,
    the note of :func:`load_forecasts`, keyword arguments). The stored claims/step_errors.csv
    stands in where the forecasts are too large or absent; the attached
    ``studies`` (:func:`harness.studies.read_studies`) give the memory table and the cost and
    sequential verdicts;
    experiments.csv gives each model's declared family (none in a run stored before families)."""
    forecasts, streamed_steps, note = load_forecasts(root / "forecasts.parquet", series)
    steps = (
        streamed_steps if streamed_steps is not None else _optional(root / "claims" / "step_errors.csv", pd.read_csv)
    )
    cost = studies["cost"].tables if "cost" in studies else {}
    return (
        forecasts,
        note,
        {
            "stored_steps": steps,
            "memory": studies["memory"].tables.get("memory") if "memory" in studies else None,
            "memory_verdict": studies["memory"].tables.get("verdict") if "memory" in studies else None,
            "cost_verdict": _cost_verdict(cost.get("verdict"), cost.get("cost")),
            "families": declared_families(_optional(root / "experiments.csv", pd.read_csv)),
            "sequential_verdict": studies["sequential"].tables.get("verdict") if "sequential" in studies else None,
        },
    )


def _cost_verdict(verdict: pd.DataFrame | None, rows: pd.DataFrame | None) -> pd.DataFrame | None:
    """The cost study's verdict.csv, with a ``compared`` column for a study stored before it
    had one: what its rule then compared, every model timed other than arima (from cost.csv)."""
    if verdict is None or "compared" in verdict.columns:
        return verdict
    others = [] if rows is None else [m for m in dict.fromkeys(rows["model"].astype(str)) if m != REFERENCE]
    compared = (
        f"{', '.join(others)} vs {REFERENCE} (a cost study stored before models declared a family: "
        f"every model timed other than {REFERENCE}, its rule then)"
        if others
        else ""
    )
    return verdict.assign(compared=compared)


def claims_report(store_root: Path | str) -> dict[str, pd.DataFrame]:
    """Every claims table of a finished run dir: reads metrics.parquet, speed.csv where present,
    the attached studies and :func:`stored_inputs`."""
    root = Path(store_root)
    speed = _optional(root / "speed.csv", pd.read_csv)
    series = pd.read_parquet(root / "metrics.parquet")
    forecasts, _, stored = stored_inputs(root, series, read_studies(root))
    return claims_tables(
        series, forecasts, speed if speed is not None else pd.DataFrame(columns=analysis.SPEED_COLUMNS), **stored
    )
