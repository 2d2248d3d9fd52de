"""Claim (c), "RNNs have difficulty accessing a very old time frame", decided per architecture.

The claim is about Elman networks; gated cells (LSTM, GRU) are the remedy its sources propose
(Hochreiter & Schmidhuber 1997), so a gated cell failing is not evidence for it. The memory study
measures, for each architecture, how far back it reaches under a stated budget of updates:

* the sequence-memory benchmark (:mod:`harness.studies.sequence_memory`): the largest delay ``T``
  of the adding and copy problems that a majority of seeds solve;
* the forecasting memory study (:mod:`harness.studies.memory`): the largest lag ``L`` up to which
  the forecast skill's bootstrap CI (over seeds, then series) stays at or above
  :data:`OK_SKILL`.

The rule (:data:`RULE`), stated before any number is seen, compares the Elman nets that start
well (:data:`ELMAN`, orthogonal ``W_h``, tanh: the strongest Elman contenders, so a failure is not
an initialisation artefact) with each gated cell at the same length:

* a benchmark *supports* the claim when at some task and length a gated cell converged (a majority
  of its seeds solved it; in forecasting: skill CI above OK_SKILL and early stopping ended the fit)
  while every Elman net failed there (a majority of seeds unsolved and not still learning; in
  forecasting: skill CI below OK_SKILL, not still learning), significantly (Fisher's exact test on
  the solved counts, one-sided p < 0.05; in forecasting the CIs do not overlap at OK_SKILL);
* it *refutes* the claim when every Elman net reaches, on every task, at least the length every
  gated cell reaches, and each gated cell's reach is established: at the next length of the grid
  it failed (not still learning), or it reached the longest. A gated cell still learning beyond
  its reach only has a lower bound, which cannot show that the Elman nets reach as far;
* overall: supported if a benchmark supports and none refutes, refuted if one refutes and none
  supports, else inconclusive.

A cell still learning when its budget ended never counts as a failure (:mod:`harness.training`).
The IRNN and the torch-default Elman control are reported beside them but do not enter the rule.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence

import numpy as np
import pandas as pd

__all__ = [
    "ALPHA",
    "ELMAN",
    "GATED",
    "OK_SKILL",
    "RULE",
    "VERDICT_COLUMNS",
    "combine",
    "forecast_reach",
    "forecast_verdict",
    "sentence",
    "sequence_verdict",
    "study_rows",
]

#: The architectures the claim is about, and its proposed remedy (the study's names).
ELMAN: tuple[str, ...] = ("elman-numpy", "elman-torch")
GATED: tuple[str, ...] = ("lstm", "gru")
#: A forecasting cell succeeds when its skill CI lies at or above this (half the learnable error
#: reduction achieved), and fails when its CI lies below it.
OK_SKILL = 0.5
#: Significance level of the sequence benchmark's Fisher test.
ALPHA = 0.05
VERDICT_COLUMNS = ["claim", "scope", "verdict", "compared", "rule", "evidence", "sentence"]

RULE = (
    "per architecture under a stated budget: reachable T (sequence benchmark: largest delay a majority of "
    "seeds solve, test loss <= 5% of trivial) and reachable lag (forecasting: skill CI >= 0.5). A benchmark "
    "supports the claim where a gated cell (LSTM, GRU) converged and every well-initialised Elman net failed at "
    "the same length, significantly (Fisher exact p < 0.05 on solved seeds; forecasting: disjoint CIs), still "
    "learning never counting as failure; it refutes it where every Elman net reaches every gated cell's "
    "length on every task and each gated cell failed (not still learning) at the next length. Overall: "
    "supported if one supports and none refutes, refuted if one refutes and none supports, else inconclusive"
)


# --------------------------------------------------------------------------- sequence benchmark


def _fisher_greater(a_solved: int, a_n: int, b_solved: int, b_n: int) -> float:
    """One-sided Fisher exact p that group a solves more often than group b."""
    from scipy.stats import fisher_exact  # scipy only when a verdict is computed

    return float(fisher_exact([[a_solved, a_n - a_solved], [b_solved, b_n - b_solved]], alternative="greater")[1])


def sequence_verdict(cells: pd.DataFrame) -> dict:
    """The sequence benchmark's verdict from its cells (task, T, model, seed, solved,
    still_learning): verdict, evidence, and ``witness`` (task, T, gated, p) when supported."""
    elman = [m for m in ELMAN if m in set(cells["model"])]
    gated = [m for m in GATED if m in set(cells["model"])]
    if not elman or not gated:
        return {"verdict": "inconclusive", "evidence": "sequence benchmark: needs an Elman net and a gated cell"}
    per = cells.groupby(["task", "T", "model"]).agg(
        n=("seed", "nunique"), solved=("solved", "sum"), learning=("still_learning", "sum")
    )
    per["failed"] = per["n"] - per["solved"] - per["learning"]
    witnesses = []
    for task, T in sorted({(t, T) for t, T, _ in per.index}, key=lambda x: (x[0], x[1])):
        rows = {m: per.loc[(task, T, m)] for m in (*elman, *gated) if (task, T, m) in per.index}
        if any(m not in rows for m in elman):
            continue
        if not all(rows[m]["failed"] > rows[m]["n"] / 2 for m in elman):
            continue
        e_solved = int(sum(rows[m]["solved"] for m in elman))
        e_n = int(sum(rows[m]["n"] for m in elman))
        for g in gated:
            if g not in rows or not rows[g]["solved"] > rows[g]["n"] / 2:
                continue
            p = _fisher_greater(int(rows[g]["solved"]), int(rows[g]["n"]), e_solved, e_n)
            if p < ALPHA:
                witnesses.append(
                    {
                        "task": task,
                        "T": int(T),
                        "gated": g,
                        "p": p,
                        "solved": int(rows[g]["solved"]),
                        "n": int(rows[g]["n"]),
                        "elman": e_solved,
                        "elman_n": e_n,
                    }
                )
    reach = _reach_T(cells)
    summary = "; ".join(
        f"{task}: " + ", ".join(f"{m} T={_fmt_len(reach.get((task, m)))}" for m in (*elman, *gated))
        for task in sorted(cells["task"].unique())
    )
    if witnesses:
        w = min(witnesses, key=lambda w: (w["T"], w["p"]))
        return {
            "verdict": "supported",
            "evidence": (
                f"sequence benchmark: at {w['task']} T={w['T']} {w['gated']} solved {w['solved']}/{w['n']} "
                f"seeds, the Elman nets {w['elman']}/{w['elman_n']} (none still learning), Fisher p={w['p']:.3g}; "
                f"reachable {summary}"
            ),
            "witness": {k: w[k] for k in ("task", "T", "gated", "p")},
        }
    failed_at = {key: bool(r["failed"] > r["n"] / 2) for key, r in per.iterrows()}
    open_ended = [
        f"{g} on {task} beyond T={_fmt_len(reach.get((task, g)))}"
        for task in sorted(cells["task"].unique())
        for g in gated
        if not _established(
            reach.get((task, g)),
            sorted(per.loc[task].index.get_level_values("T").unique()),
            lambda T, task=task, g=g: failed_at.get((task, T, g), False),
        )
    ]
    pairs = [
        (reach.get((task, e)), reach.get((task, g))) for task in cells["task"].unique() for e in elman for g in gated
    ]
    return _without_witness("sequence benchmark", "length", pairs, open_ended, summary)


def _reach_T(cells: pd.DataFrame) -> dict[tuple[str, str], float]:
    """(task, model) -> the largest T a majority of its seeds solve (NaN: none)."""
    out = {}
    for (task, model), g in cells.groupby(["task", "model"]):
        per = g.groupby("T").agg(n=("seed", "nunique"), solved=("solved", "sum"))
        ok = per.index[per["solved"] > per["n"] / 2]
        out[(task, model)] = float(ok.max()) if len(ok) else math.nan
    return out


def _at_least(a: float | None, b: float | None) -> bool:
    """Whether reachable length ``a`` is at least ``b`` (NaN: reaches nothing)."""
    a = -math.inf if a is None or not math.isfinite(a) else a
    b = -math.inf if b is None or not math.isfinite(b) else b
    return a >= b


def _refutes(pairs: list[tuple[float | None, float | None]]) -> bool:
    """Whether every (Elman reach, gated reach) pair has the Elman net at least as far, and some
    gated cell reached anything at all (a grid no one learns within the budget refutes nothing)."""
    learned = any(g is not None and math.isfinite(g) for _, g in pairs)
    return learned and all(_at_least(e, g) for e, g in pairs)


def _without_witness(
    benchmark: str, unit: str, pairs: list[tuple[float | None, float | None]], open_ended: list[str], summary: str
) -> dict:
    """A benchmark's verdict when no length supports the claim: refuted where the Elman nets
    reach every gated cell's (established) length, else inconclusive, saying which reach is open."""
    if _refutes(pairs) and not open_ended:
        return {
            "verdict": "refuted",
            "evidence": f"{benchmark}: the Elman nets reach every gated cell's {unit}; reachable {summary}",
        }
    why = f" (a gated cell's reach is open: {', '.join(open_ended)})" if _refutes(pairs) else ""
    return {
        "verdict": "inconclusive",
        "evidence": f"{benchmark}: no {unit} where a gated cell converged and the Elman nets significantly "
        f"failed{why}; reachable {summary}",
    }


def _established(reach: float | None, lengths: list, failed: Callable[[float], bool]) -> bool:
    """Whether a gated cell's reachable length is its limit under the budget, not a lower bound:
    the next length of the grid beyond it failed (a majority of seeds, or the skill CI, below the
    bar and not still learning), or it reached the longest. A cell still learning there might
    reach further with more updates, so its reach cannot show that an Elman net reaches as far
    (the refutation), as a still-learning cell never counts as failing."""
    beyond = [x for x in lengths if reach is None or not math.isfinite(reach) or x > reach]
    return not beyond or failed(beyond[0])


def _fmt_len(v: float | None) -> str:
    return "none" if v is None or not math.isfinite(v) else str(int(v))


# --------------------------------------------------------------------------- forecasting study


def forecast_reach(table: pd.DataFrame) -> pd.DataFrame:
    """Per model x task of the forecasting memory table (task, lag, model, skill_lo, skill_hi,
    still_learning): ``reachable_lag`` (the largest L such that L and every shorter lag have
    skill_lo >= OK_SKILL; NaN: none), ``failed_lag`` (the shortest L with skill_hi < OK_SKILL
    and no seed still learning) and the still-learning lags."""
    rows = []
    for (model, task), g in table.groupby(["model", "task"], sort=False):
        g = g.sort_values("lag")
        ok = (g["skill_lo"] >= OK_SKILL).to_numpy()
        reach = math.nan
        for lag, good in zip(g["lag"], ok, strict=True):
            if not good:
                break
            reach = float(lag)
        learning = g["still_learning"].fillna(0) > 0
        failed = g[(g["skill_hi"] < OK_SKILL) & ~learning]
        rows.append(
            {
                "model": model,
                "task": task,
                "reachable_lag": reach,
                "failed_lag": float(failed["lag"].min()) if len(failed) else math.nan,
                "still_learning_lags": " ".join(str(int(x)) for x in g.loc[learning, "lag"]),
            }
        )
    return pd.DataFrame(rows, columns=["model", "task", "reachable_lag", "failed_lag", "still_learning_lags"])


def forecast_verdict(table: pd.DataFrame, names: Mapping[str, str]) -> dict:
    """The forecasting study's verdict from its table; ``names`` maps the study's architecture
    names (:data:`ELMAN`, :data:`GATED`) to the model names the forecasting run used."""
    model_of = {a: m for a, m in names.items() if m in set(table["model"])}
    elman = [model_of[a] for a in ELMAN if a in model_of]
    gated = [model_of[a] for a in GATED if a in model_of]
    if not elman or not gated:
        return {"verdict": "inconclusive", "evidence": "forecasting study: needs an Elman net and a gated cell"}
    t = table.set_index(["task", "lag", "model"])
    learning = t["still_learning"].fillna(0) > 0
    witnesses = []
    for task, lag in sorted({(a, b) for a, b, _ in t.index}):
        if any((task, lag, e) not in t.index for e in elman):
            continue
        if not all(t.loc[(task, lag, e), "skill_hi"] < OK_SKILL and not learning[(task, lag, e)] for e in elman):
            continue
        for g in gated:
            key = (task, lag, g)
            if key in t.index and t.loc[key, "skill_lo"] >= OK_SKILL and not learning[key]:
                witnesses.append((int(lag), task, g))
    reach = forecast_reach(table).set_index(["model", "task"])["reachable_lag"]
    summary = "; ".join(
        f"{task}: " + ", ".join(f"{m} L={_fmt_len(reach.get((m, task)))}" for m in (*elman, *gated))
        for task in sorted(table["task"].unique())
    )
    if witnesses:
        lag, task, g = min(witnesses)
        ci = lambda m: f"[{t.loc[(task, lag, m), 'skill_lo']:.2f}, {t.loc[(task, lag, m), 'skill_hi']:.2f}]"  # noqa: E731
        return {
            "verdict": "supported",
            "evidence": (
                f"forecasting study: at {task} L={lag} {g} skill CI {ci(g)}, "
                + ", ".join(f"{e} {ci(e)}" for e in elman)
                + f"; reachable {summary}"
            ),
            "witness": {"task": task, "lag": lag, "gated": g},
        }
    failed = (t["skill_hi"] < OK_SKILL) & ~learning
    open_ended = [
        f"{g} on {task} beyond L={_fmt_len(reach.get((g, task)))}"
        for task in sorted(table["task"].unique())
        for g in gated
        if not _established(
            reach.get((g, task)),
            sorted(table.loc[table["task"] == task, "lag"].unique()),
            lambda lag, task=task, g=g: bool(failed.get((task, lag, g), False)),
        )
    ]
    pairs = [
        (reach.get((e, task)), reach.get((g, task))) for task in table["task"].unique() for e in elman for g in gated
    ]
    return _without_witness("forecasting study", "lag", pairs, open_ended, summary)


# --------------------------------------------------------------------------- together


def combine(parts: Sequence[dict]) -> str:
    """The overall verdict from the benchmarks' verdicts (see the module docstring)."""
    words = [p["verdict"] for p in parts]
    if "supported" in words and "refuted" not in words:
        return "supported"
    if "refuted" in words and "supported" not in words:
        return "refuted"
    return "inconclusive"


def sentence(
    summary: pd.DataFrame, budget: str, reach: pd.DataFrame | None = None, names: Mapping[str, str] | None = None
) -> str:
    """What the claim amounts to, in one sentence: per architecture of the rule the longest delay
    of each sequence task it reaches (and the longest forecasting lag, when given) under
    ``budget``, e.g. "With 4,000 updates ..., elman-numpy reaches T=200 (adding), T=50 (copy),
    lag 24 (copy); lstm ..."."""
    parts = []
    for model, g in summary.groupby("model", sort=False):
        if model not in (*ELMAN, *GATED):
            continue
        got = [f"T={_fmt_len(r.reachable_T)} ({r.task})" for r in g.itertuples()]
        if reach is not None and names and names.get(model) in set(reach["model"]):
            r = reach[reach["model"] == names[model]]
            got += [f"lag {_fmt_len(x.reachable_lag)} ({x.task})" for x in r.itertuples()]
        parts.append(f"{model} reaches {', '.join(got)}")
    return f"With {budget}, " + "; ".join(parts) + " (none: not even the shortest)."


ROLES = {**{a: "elman (the claim)" for a in ELMAN}, **{g: "gated (the remedy)" for g in GATED}}


def architecture_table(
    summary: pd.DataFrame,
    names: Mapping[str, str],
    budget: str,
    reach: pd.DataFrame | None = None,
    forecast_budget: str = "",
) -> pd.DataFrame:
    """One row per architecture: its role in the rule, the model it is, and what it reaches,
    per sequence task (``reachable_T_<task>``, with the seeds that solved each T and the T where
    seeds were still learning) and, when the forecasting study ran, per forecasting task
    (``reachable_lag_<task>``, the lags still learning), with both budgets."""
    rows = []
    for arch, g in summary.groupby("model", sort=False):
        row: dict = {
            "architecture": arch,
            "model": names.get(arch, arch),
            "role": ROLES.get(arch, "reported (not in the rule)"),
            "n_params": " / ".join(f"{r.task} {int(r.n_params)}" for r in g.itertuples()),
            "budget": budget,
        }
        for r in g.itertuples():
            row[f"reachable_T_{r.task}"] = r.reachable_T
            row[f"seed_reach_T_{r.task}"] = getattr(r, "seed_reach_T", "")
            row[f"solved_seeds_{r.task}"] = r.solved_seeds
            row[f"still_learning_T_{r.task}"] = r.still_learning_T
        if reach is not None and names.get(arch) in set(reach["model"]):
            for r in reach[reach["model"] == names[arch]].itertuples():
                row[f"reachable_lag_{r.task}"] = r.reachable_lag
                row[f"still_learning_lags_{r.task}"] = r.still_learning_lags
            row["forecast_budget"] = forecast_budget
        rows.append(row)
    return pd.DataFrame(rows)


def study_rows(verdict: pd.DataFrame | None, dataset: str) -> tuple[list[dict], dict | None]:
    """An attached memory study's verdict.csv as claim (c) rows: (its benchmarks' rows under
    ``dataset``, its overall row or None). A study stored before this rule (no ``scope``
    column) has one row, its overall verdict then, returned as it was decided."""
    if verdict is None or verdict.empty:
        return [], None
    keys = ("claim", "scope", "verdict", "compared", "rule", "evidence")
    rows = [{k: ("" if pd.isna(r.get(k, "")) else str(r.get(k, ""))) for k in keys} for _, r in verdict.iterrows()]
    if "scope" not in verdict.columns:
        return [], {**rows[0], "claim": "c", "scope": ""}
    overall = next((r for r in rows if r["scope"] == "overall"), None)
    parts = [{**r, "claim": "c", "dataset": dataset} for r in rows if r["scope"] != "overall"]
    if overall is not None:
        said = verdict.loc[verdict["scope"] == "overall", "sentence"]
        sentence_ = "" if said.empty or pd.isna(said.iloc[0]) else str(said.iloc[0])
        overall = {**overall, "claim": "c", "scope": "", "evidence": f"{sentence_} {overall['evidence']}".strip()}
    return parts, overall


def verdict_frame(rows: Sequence[Mapping]) -> pd.DataFrame:
    """verdict.csv of the memory study: one row per benchmark and the overall row."""
    return pd.DataFrame(list(rows), columns=VERDICT_COLUMNS).replace({np.nan: ""})
