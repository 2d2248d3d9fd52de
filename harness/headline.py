"""The report's first screen: per claim one verdict, one sentence from its numbers, one figure.

verdicts.csv holds a verdict per claim x dataset (+ overall, + the cost study), each with a
paragraph of evidence; a reader first wants one word per claim. The headline verdict is

- ``not evaluated`` where the run lacks what the claim's rule needs: (a) no contender (a model
  of a recurrent family) or no arima scored on any dataset, (b) no timing of both, (c) no memory
  study (forecast errors alone cannot isolate long memory, so every row of (c) is inconclusive
  by its rule until a memory study is attached);
- ``mixed`` where some rows of the claim support it and others refute it (datasets disagree,
  or the cost study disagrees with the benchmark's timings);
- else the verdict of the claim's ``overall`` row (all series pooled; for (c) the memory study),
  which for (a) may itself be ``mixed`` (:mod:`harness.claim_a`: significant tests on both sides).

The reading is generated from the same numbers the verdict weighed (for (a) the overall row's
deciding RNN row: both means with their intervals, the win rate and which side each significant
test favours; the pooled ms per series; the memory study's first failure) and ends with how the
per-dataset rows came out, so a verdict that hides a disagreement says so.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from pathlib import Path

import pandas as pd

from harness import analysis, claims, figures, headline_figures
from harness.analysis import OVERALL
from harness.html import Badge
from harness.studies import SEQUENTIAL_STUDY, Study

#: label and question of each claim; the report's claim sections are headed "label: question".
CLAIMS = {
    "a": ("(a) Accuracy", "do RNNs forecast more accurately than ARIMA?"),
    "b": ("(b) Cost", "are RNNs computationally slow?"),
    "c": ("(c) Memory", "do RNNs have difficulty using a very old time frame?"),
}
#: The verdict words and their symbols: the verdict reads without colour too.
SYMBOLS = {"supported": "✓", "refuted": "✗", "mixed": "◐", "inconclusive": "?", "not evaluated": "○"}
NOT_EVALUATED = "not evaluated"
CAPTIONS = {
    "a": "Mean sMAPE per dataset: the best RNN (named) vs arima; beside each dataset its verdict's symbol.",
    "b": "Compute per series per dataset: each RNN (coloured) vs arima (black), log scale.",
    "c": f"Memory study: skill against lag, worst task; dashed: success ({claims.OK_SKILL}) and failure "
    f"({claims.FAIL_SKILL}).",
}
MEMORY_HINT = (
    "No memory study attached: make one with `rnnbench study memory`, then attach it with "
    "`rnnbench report RUN_DIR --study STUDY_DIR`."
)


def title(claim: str) -> str:
    """The heading of a claim's section in the report: "(a) Accuracy: do RNNs ...?"."""
    label, question = CLAIMS[claim]
    return f"{label}: {question}"


def headline_verdict(rows: pd.DataFrame, evaluated: bool) -> str:
    """The one word of a claim from its verdict rows (see the module docstring)."""
    if not evaluated or rows.empty:
        return NOT_EVALUATED
    # claim (c): the memory study's benchmarks are joined by its own overall rule, not the tally
    rows = rows[rows["dataset"] != claims.MEMORY_STUDY]
    if {"supported", "refuted"} <= set(rows["verdict"]):
        return "mixed"
    overall = rows[rows["dataset"] == OVERALL]
    if "scope" in overall.columns and (overall["scope"] == claims.claim_b.SCOPE_ALL).any():
        overall = overall[overall["scope"] == claims.claim_b.SCOPE_ALL]  # claim (b): the line joining the scopes
    verdict = str(overall["verdict"].iloc[0]) if len(overall) else "inconclusive"
    if "scope" in rows.columns:
        # claim (b): the run times one set-up (e.g. global training only); where an attached cost
        # study's scopes (a regime the run never timed) say otherwise, the word must not
        # overreach: the claim depends on the regime, so it is inconclusive overall
        study = rows[(rows["dataset"] == claims.COST_STUDY) & (rows["scope"] != claims.claim_b.SCOPE_ALL)]
        if len(study) and set(study["verdict"]) - {verdict}:
            return "inconclusive"
    return verdict


def _num(x: float, nd: int = 2) -> str:
    return "nan" if x is None or not math.isfinite(x) else f"{x:.{nd}f}"


def _tally(rows: pd.DataFrame) -> str:
    """How the per-dataset rows came out: "by dataset: refuted on m3-other, inconclusive on 3 of 4"."""
    per = rows[~rows["dataset"].isin([OVERALL, claims.COST_STUDY, SEQUENTIAL_STUDY])]
    n = len(per)
    if n <= 1:
        return ""
    parts = []
    for verdict, names in per.groupby("verdict", sort=False)["dataset"]:
        names = list(names)
        where = f"all {n}" if len(names) == n else ", ".join(names) if len(names) <= 2 else f"{len(names)} of {n}"
        parts.append(f"{verdict} on {where}")
    return "by dataset: " + ", ".join(parts)


def _sentence(*parts: str) -> str:
    return "; ".join(p for p in parts if p) + "."


def _reading_a(tables: Mapping[str, pd.DataFrame], rows: pd.DataFrame) -> str:
    """The overall row's deciding comparison in numbers (:func:`harness.claim_a.reading`), then
    how the datasets came out (family pools, whose rows carry a scope, are not datasets)."""
    lead = claims.claim_a.reading(tables["claim_a"], rows)
    per_dataset = rows[rows["scope"].fillna("") == ""] if "scope" in rows.columns else rows
    return _sentence(lead or "no contender and arima on every dataset, so nothing pooled", _tally(per_dataset))


def _speeds(tables: Mapping[str, pd.DataFrame]) -> pd.DataFrame:
    """Cost per series per dataset (+ pooled overall) of the contenders and arima, as claim (b)
    weighs them (:func:`harness.claim_b.speed_rows`: CPU-ms, with regime and device)."""
    speed = tables["speed"]
    if speed is None or speed.empty:
        return pd.DataFrame(columns=claims.claim_b.SPEED_ROW_COLUMNS)
    rows = claims.speed_rows(analysis.without_left_out(speed, tables.get("left_out")))
    fam = tables["families"]
    neural = set(fam.loc[(fam["where"] == "run") & fam["neural"].astype(bool), "model"])
    return rows[rows["model"].isin(neural) | (rows["model"] == claims.REFERENCE)]


def _reading_b(speeds: pd.DataFrame, rows: pd.DataFrame) -> str:
    """Per regime and device, the pooled cost per series of the RNNs against arima's, then the
    overall line (which says "depends on the regime" when the scopes disagree), how the datasets
    came out and the cost study's verdicts with their scopes."""
    pooled = speeds[speeds["dataset"] == OVERALL]
    ref = pooled.loc[pooled["model"] == claims.REFERENCE, "cost_ms"]
    rnn = pooled[pooled["model"] != claims.REFERENCE]
    parts = []
    if ref.empty or rnn.empty:
        parts.append("no contender and arima timed on every dataset, so nothing pooled")
    else:
        a = float(ref.iloc[0])
        for (regime, device), g in rnn.groupby(["regime", "device"], sort=True):
            g = g.sort_values("cost_ms")
            lo, hi, unit = float(g["cost_ms"].iloc[0]), float(g["cost_ms"].iloc[-1]), str(g["unit"].iloc[0])
            span = f"{_num(lo, 1)}" if len(g) == 1 else f"{_num(lo, 1)}-{_num(hi, 1)}"
            ratio = f"x{_num(lo / a)}" if len(g) == 1 else f"x{_num(lo / a)}-{_num(hi / a)}"
            scope = claims.claim_b.scope_text(regime, device)
            parts.append(f"{scope}: RNNs {span} {unit} per series, arima {_num(a, 1)} CPU-ms ({ratio})")
        parts[-1] += ", all series pooled"
    overall = claims.claim_b.overall_line(rows)
    if overall:
        parts.append(f"overall: {overall}")
    study = rows[rows["dataset"] == claims.COST_STUDY]
    if len(study):
        lines = [f"{s} {v}" if s else str(v) for s, v in zip(study["scope"], study["verdict"])]
        parts.append("cost study: " + ", ".join(lines))
    else:
        parts.append("no cost study attached")
    seq = rows.loc[rows["dataset"] == SEQUENTIAL_STUDY, ["verdict", "compared"]]
    where = [f"{v} ({c.rsplit(' on ', 1)[-1]})" for v, c in zip(seq["verdict"], seq["compared"])]
    if where:
        parts.append(f"sequential study (RNN vs a network parallel over time): {', '.join(where)}")
    return (
        _sentence(*parts[:-2], _tally(rows), *parts[-2:]) if where else _sentence(*parts[:-1], _tally(rows), parts[-1])
    )


def _reading_c(verdict: pd.DataFrame | None) -> str:
    """The memory study's one sentence (what the claim amounts to under its budget), or, for a
    study stored before it had one, its verdict's evidence."""
    if verdict is None or verdict.empty:
        return "Forecast errors alone cannot isolate long memory (per dataset every row is inconclusive by rule)."
    if "scope" in verdict.columns:
        overall = verdict[verdict["scope"] == "overall"]
        if len(overall) and isinstance(overall["sentence"].iloc[0], str) and overall["sentence"].iloc[0]:
            return str(overall["sentence"].iloc[0])
    return str(verdict["evidence"].iloc[-1])


def _accuracy_rows(tables: Mapping[str, pd.DataFrame], verdicts: pd.DataFrame) -> pd.DataFrame:
    """Per dataset (+ overall): the best contender's and arima's mean sMAPE, for figure (a)."""
    summary = tables["summary"]
    out = []
    for dataset in dict.fromkeys(summary["dataset"]):
        best = claims.best_contender(summary, dataset)
        ref = summary[(summary["dataset"] == dataset) & (summary["model"] == claims.REFERENCE)]
        if best is None or ref.empty:
            continue
        verdict = verdicts.loc[(verdicts["claim"] == "a") & (verdicts["dataset"] == dataset), "verdict"]
        symbol = SYMBOLS.get(str(verdict.iloc[0]), "") if len(verdict) else ""
        out.append(
            {
                "dataset": dataset,
                "label": f"{dataset} {symbol}".strip(),
                "model": best["model"],
                "smape": float(best["smape_mean"]),
                "ref_smape": float(ref["smape_mean"].iloc[0]),
            }
        )
    return pd.DataFrame(out, columns=["dataset", "label", "model", "smape", "ref_smape"])


def badges(tables: Mapping[str, pd.DataFrame], studies: Mapping[str, Study], run_dir: Path) -> list[Badge]:
    """The three claims' badges from :func:`harness.claims.claims_tables` and the attached
    studies; draws their figures into ``run_dir/figures/headline_<claim>.png`` (a figure that
    fails is skipped, as every report figure)."""
    verdicts = tables["verdicts"]
    memory_tables = studies["memory"].tables if "memory" in studies else {}
    memory, memory_verdict = memory_tables.get("memory"), memory_tables.get("verdict")
    reach = memory_tables.get("sequence_summary")
    accuracy = _accuracy_rows(tables, verdicts)
    speeds = _speeds(tables)
    timed = speeds.groupby("dataset")["model"].apply(lambda m: claims.REFERENCE in set(m) and len(set(m)) > 1)
    evaluated = {
        "a": len(accuracy) > 0,
        "b": bool(timed.any()),
        "c": memory_verdict is not None and len(memory_verdict) > 0,
    }
    drawn: dict[str, Path] = {}
    out_dir = Path(run_dir) / "figures"
    if evaluated["a"]:
        figures.draw_or_skip(drawn, out_dir, "headline_a", lambda p: headline_figures.accuracy_headline(accuracy, p))
    if evaluated["b"]:
        figures.draw_or_skip(drawn, out_dir, "headline_b", lambda p: headline_figures.cost_headline(speeds, p))
    if evaluated["c"] and reach is not None and len(reach):
        figures.draw_or_skip(drawn, out_dir, "headline_c", lambda p: headline_figures.reach_headline(reach, p))
    elif evaluated["c"] and memory is not None and len(memory):
        skill = memory.assign(skill=claims.memory_skill(memory))
        fam = claims.memoryfamilies_of(memory)
        shown = skill[skill["model"].map(fam.neural).astype(bool) | (skill["model"] == claims.REFERENCE)]
        figures.draw_or_skip(
            drawn,
            out_dir,
            "headline_c",
            lambda p: headline_figures.memory_headline(shown, p, claims.FAIL_SKILL, claims.OK_SKILL),
        )
    readings = {
        "a": _reading_a(tables, verdicts[verdicts["claim"] == "a"]),
        "b": _reading_b(speeds, verdicts[verdicts["claim"] == "b"]),
        "c": _reading_c(memory_verdict),
    }
    out = []
    for claim, (label, question) in CLAIMS.items():
        verdict = headline_verdict(verdicts[verdicts["claim"] == claim], evaluated[claim])
        out.append(
            Badge(
                claim=claim,
                label=label,
                question=question[0].upper() + question[1:],
                verdict=verdict,
                symbol=SYMBOLS[verdict],
                reading=readings[claim],
                figure=drawn.get(f"headline_{claim}"),
                caption=CAPTIONS[claim],
                hint="" if evaluated[claim] or claim != "c" else MEMORY_HINT,
                section=title(claim),
            )
        )
    return out


def markdown_lines(cards: list[Badge]) -> list[str]:
    """The same readings as the first screen, one line a claim, for the top of report.md."""
    return [f"- **{b.label}: {b.symbol} {b.verdict}.** {b.reading}" + (f" {b.hint}" if b.hint else "") for b in cards]
