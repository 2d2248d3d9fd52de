"""The three small figures of the report's first screen, one per claim, from plain DataFrames.

Each is a card-sized PNG (about 440 px wide) that shows the numbers a claim's verdict weighs,
nothing else: (a) mean sMAPE of the best RNN against arima's per dataset, (b) compute per
series of each RNN against arima's per dataset (log scale), (c) the memory study's skill
against lag, or per architecture the longest delay it learns in the sequence-memory benchmark.
Styles, the atomic write and the headless settings are :mod:`harness.figures`'.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

import matplotlib.ticker as mticker
import numpy as np
import pandas as pd

from harness import figures
from harness.figures import RC, Style, model_styles, plt

REFERENCE_STYLE = {"color": "#000000", "marker": "D"}
WIDTH = 4.0  # inches; at figures.DPI about 440 px, the width of one card


def _size(n_rows: int) -> tuple[float, float]:
    return WIDTH, 0.95 + 0.24 * max(n_rows, 1)


def accuracy_headline(rows: pd.DataFrame, path: Path | str) -> Path:
    """Dumbbell per dataset: arima's mean sMAPE and the best RNN's (named beside its dot).

    rows: dataset, label (the dataset's name with its verdict's symbol), model (the best RNN),
    smape, ref_smape; one row per dataset, top to bottom in the given order.
    """
    if rows.empty:
        raise ValueError("no dataset with an RNN and arima")
    y = np.arange(len(rows))[::-1]
    with plt.rc_context({**RC, "font.size": 9}):
        fig, ax = plt.subplots(figsize=_size(len(rows)))
        ax.hlines(y, rows["smape"], rows["ref_smape"], color="0.75", lw=2, zorder=1)
        ax.scatter(rows["ref_smape"], y, s=36, zorder=3, label="arima", **REFERENCE_STYLE)
        ax.scatter(rows["smape"], y, s=36, color="#0072B2", marker="o", zorder=3, label="best RNN")
        for yi, x, model in zip(y, rows["smape"], rows["model"]):
            ax.annotate(str(model), (x, yi), xytext=(0, 5), textcoords="offset points", fontsize=7, ha="center")
        ax.set_yticks(y, rows["label"].astype(str))
        ax.set_ylim(-0.7, len(rows) - 0.3)
        ax.set_xlabel("mean sMAPE (%), lower is better")
        ax.legend(loc="lower center", bbox_to_anchor=(0.5, 1.0), ncol=2, frameon=False, fontsize=8)
        fig.tight_layout()
    return figures._save(fig, path)


def cost_headline(rows: pd.DataFrame, path: Path | str, reference: str = "arima") -> Path:
    """Per dataset: each RNN's compute per series (coloured dots, joined by a grey bar from the
    cheapest to the dearest) and ``reference``'s (black diamond), on a log axis.

    rows: dataset, model, ms_per_series (reference rows included), optionally ``cost_ms`` (the
    unit claim b compares, CPU-ms per series; drawn instead when present) and ``regime`` (a local
    RNN is labelled "model [local]"); datasets top to bottom in order of appearance.
    """
    value = "cost_ms" if "cost_ms" in rows.columns else "ms_per_series"
    rows = rows.assign(ms_per_series=rows[value])
    if "regime" in rows.columns:
        local = (rows["regime"] == "local") & (rows["model"] != reference)
        rows.loc[local, "model"] = rows.loc[local, "model"] + " [local]"
    rows = rows[rows["ms_per_series"] > 0]
    datasets = list(dict.fromkeys(rows["dataset"]))
    if not datasets:
        raise ValueError("no positive timings")
    styles: Mapping[str, Style] = model_styles(rows["model"])
    with plt.rc_context({**RC, "font.size": 9}):
        fig, ax = plt.subplots(figsize=_size(len(datasets)))
        seen: dict[str, object] = {}
        for yi, dataset in zip(range(len(datasets) - 1, -1, -1), datasets):
            sub = rows[rows["dataset"] == dataset]
            rnn = sub[sub["model"] != reference]
            if len(rnn):
                ax.hlines(yi, rnn["ms_per_series"].min(), rnn["ms_per_series"].max(), color="0.8", lw=4, zorder=1)
            for r in rnn.itertuples():
                s = styles[r.model]
                seen[r.model] = ax.scatter(r.ms_per_series, yi, s=24, color=s["color"], marker=s["marker"], zorder=3)
            for r in sub[sub["model"] == reference].itertuples():
                seen[reference] = ax.scatter(r.ms_per_series, yi, s=40, zorder=4, **REFERENCE_STYLE)
        ax.set_xscale("log")
        ax.xaxis.set_major_formatter(mticker.FuncFormatter(lambda v, _: f"{v:g}"))
        ax.set_yticks(range(len(datasets) - 1, -1, -1), [str(d) for d in datasets])
        ax.set_ylim(-0.7, len(datasets) - 0.3)
        unit = "CPU-ms" if value == "cost_ms" else "ms"
        ax.set_xlabel(f"compute per series ({unit}, log scale)")
        ax.legend(
            list(seen.values()),
            list(seen),
            loc="lower center",
            bbox_to_anchor=(0.5, 1.0),
            ncol=3,
            frameon=False,
            fontsize=7,
        )
        fig.tight_layout()
    return figures._save(fig, path)


def memory_headline(skill: pd.DataFrame, path: Path | str, fail: float, ok: float) -> Path:
    """The memory study's skill against the lag L, one line per model: the lowest skill over
    the study's tasks at each lag (a claim (c) failure is a failure on any one task), with the
    thresholds ``ok`` (succeeds) and ``fail`` (fails) dashed.

    skill: task, lag, model, skill.
    """
    worst = skill.dropna(subset=["skill"]).groupby(["model", "lag"], sort=True)["skill"].min().reset_index()
    if worst.empty:
        raise ValueError("empty memory table")
    styles = model_styles(worst["model"])
    with plt.rc_context({**RC, "font.size": 9}):
        fig, ax = plt.subplots(figsize=(WIDTH, 2.6))
        for model, line in worst.groupby("model", sort=True):
            s = {**styles[model], **(REFERENCE_STYLE if model == "arima" else {})}
            ax.plot(line["lag"], line["skill"], marker=s["marker"], color=s["color"], markersize=4, lw=1.4, label=model)
        for level, word in ((ok, "succeeds"), (fail, "fails")):
            ax.axhline(level, color="0.5", lw=0.8, ls="--")
            ax.annotate(word, (1.0, level), xycoords=("axes fraction", "data"), fontsize=7, ha="right", va="bottom")
        ax.set_xscale("log", base=2)
        ax.xaxis.set_major_formatter(mticker.ScalarFormatter())
        ax.set_xticks(sorted(worst["lag"].unique()))
        ax.set_ylim(max(-0.5, min(-0.1, float(worst["skill"].min()) - 0.05)), 1.08)
        ax.set_xlabel("lag L of the needed information (steps)")
        ax.set_ylabel("skill, worst task")
        ax.legend(loc="lower center", bbox_to_anchor=(0.5, 1.0), ncol=3, frameon=False, fontsize=7)
        fig.tight_layout()
    return figures._save(fig, path)


def reach_headline(summary: pd.DataFrame, path: Path | str) -> Path:
    """Per architecture, the longest delay T of each sequence-memory task a majority of its seeds
    solve (``reachable_T``; none: drawn at the axis floor as a hollow marker), on a log axis.

    summary: task, model, reachable_T (the sequence benchmark's summary), architectures top to
    bottom in order of appearance.
    """
    if summary.empty:
        raise ValueError("empty sequence summary")
    models = list(dict.fromkeys(summary["model"]))
    tasks = list(dict.fromkeys(summary["task"]))
    y = {m: i for i, m in enumerate(models[::-1])}
    floor = 1.0
    with plt.rc_context({**RC, "font.size": 9}):
        fig, ax = plt.subplots(figsize=_size(len(models)))
        for j, task in enumerate(tasks):
            sub = summary[summary["task"] == task]
            off = (j - (len(tasks) - 1) / 2) * 0.22
            reached = sub["reachable_T"].notna()
            marker = "os^v"[j % 4]
            ys = [y[m] + off for m in sub["model"]]
            xs = sub["reachable_T"].fillna(floor)
            ax.scatter(xs[reached], np.array(ys)[reached.to_numpy()], marker=marker, s=30, label=task, zorder=3)
            ax.scatter(
                xs[~reached],
                np.array(ys)[(~reached).to_numpy()],
                marker=marker,
                s=30,
                facecolors="none",
                edgecolors="0.4",
                zorder=3,
            )
        ax.set_xscale("log", base=2)
        ax.xaxis.set_major_formatter(mticker.FuncFormatter(lambda v, _: "none" if v <= floor else f"{v:g}"))
        ax.set_yticks(list(y.values()), list(y))
        ax.set_xlabel("longest delay T solved by most seeds (log scale)")
        ax.legend(loc="lower center", bbox_to_anchor=(0.5, 1.0), ncol=len(tasks), frameon=False, fontsize=8)
        fig.tight_layout()
    return figures._save(fig, path)
