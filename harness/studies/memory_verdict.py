"""The memory study's verdict on claim (c) and its per-architecture table, from whichever of its
two benchmarks ran: the sequence-memory benchmark (:mod:`harness.studies.sequence_memory`) and
the forecasting memory study (:mod:`harness.studies.memory`). The rule is :mod:`harness.claim_c`'s.

Writes ``verdict.csv`` (one row per benchmark, then the ``overall`` row with the one sentence of
what the claim amounts to under the budget) and ``architectures.csv`` into the study directory;
the report and the claims table read them from there.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from harness import claim_c
from harness.store import atomic_write_frame
from harness.studies.sequence_memory import ARCHITECTURES

__all__ = ["FORECAST_NAMES", "memory_verdict_tables", "write_memory_verdict"]

#: The study's architecture names -> the registered models the forecasting study runs.
FORECAST_NAMES: dict[str, str] = {arch: a.model for arch, a in ARCHITECTURES.items()}


def memory_verdict_tables(
    sequence: pd.DataFrame | None,
    sequence_summary: pd.DataFrame | None,
    forecast: pd.DataFrame | None,
    *,
    sequence_budget: str = "",
    forecast_budget: str = "",
) -> dict[str, pd.DataFrame]:
    """``verdict`` and ``architectures`` from the sequence cells and summary and the forecasting
    table (task, lag, model, skill_lo, skill_hi, still_learning); either side may be None."""
    parts, rows = [], []
    if sequence is not None and len(sequence):
        v = claim_c.sequence_verdict(sequence)
        parts.append(v)
        compared = ", ".join(dict.fromkeys(sequence["model"]))
        rows.append(_row("sequence benchmark", v, f"{compared}; {sequence_budget}"))
    reach = None
    if forecast is not None and len(forecast):
        v = claim_c.forecast_verdict(forecast, FORECAST_NAMES)
        parts.append(v)
        reach = claim_c.forecast_reach(forecast)
        compared = ", ".join(m for m in dict.fromkeys(forecast["model"]) if m in FORECAST_NAMES.values())
        rows.append(_row("forecasting study", v, f"{compared}; {forecast_budget}"))
    if not parts:
        raise ValueError("the memory verdict needs the sequence benchmark or the forecasting study")
    summary = sequence_summary if sequence_summary is not None else pd.DataFrame(columns=["model", "task"])
    budgets = "; ".join(b for b in (sequence_budget, forecast_budget and f"forecasting: {forecast_budget}") if b)
    both = f"{sequence_budget} on the sequence problems and {forecast_budget} on the forecasting tasks"
    budget = both if sequence_budget and forecast_budget else sequence_budget or forecast_budget
    said = claim_c.sentence(summary, budget, reach, FORECAST_NAMES) if len(summary) else ""
    overall = {
        "verdict": claim_c.combine(parts),
        "evidence": " | ".join(r["evidence"] for r in rows),
    }
    rows.append(_row("overall", overall, budgets, said))
    tables = {"verdict": claim_c.verdict_frame(rows)}
    if len(summary):
        tables["architectures"] = claim_c.architecture_table(
            summary, FORECAST_NAMES, sequence_budget, reach, forecast_budget
        )
    return tables


def _row(scope: str, v: dict, compared: str, said: str = "") -> dict:
    return {
        "claim": "c",
        "scope": scope,
        "verdict": v["verdict"],
        "compared": compared,
        "rule": claim_c.RULE,
        "evidence": v["evidence"],
        "sentence": said,
    }


def write_memory_verdict(out_dir: Path, **kwargs: object) -> dict[str, pd.DataFrame]:
    """:func:`memory_verdict_tables`, written to ``out_dir`` as CSV."""
    tables = memory_verdict_tables(**kwargs)  # type: ignore[arg-type]
    for name, frame in tables.items():
        atomic_write_frame(frame, Path(out_dir) / f"{name}.csv")
    return tables
