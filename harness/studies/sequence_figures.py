"""Figures of the sequence-memory benchmark (:mod:`harness.studies.sequence_memory`).

* ``sequence_loss.png``: per task, the final test loss over the trivial loss against the delay
  ``T`` (log scales), one line per architecture through the median of its seeds, each seed a
  point; hollow points are seeds still learning when the budget ended; the dashed line is the
  "solved" threshold (5% of trivial).
* ``sequence_curves.png``: the test loss every ``eval_every`` updates for each task and ``T``,
  one line per architecture (seed median): what "still learning" and "updates to solve" are
  read from.
* ``gradient_training.png``: ``||∂h_T/∂h_{T-k}||`` against ``k`` on the adding problem at
  initialisation, midway and at the end of training, one panel per architecture.
"""

from __future__ import annotations

from pathlib import Path

import matplotlib.ticker as mticker
import numpy as np
import pandas as pd

from harness.figures import RC, _grid, _legend_below, _save, model_styles, plt
from harness.studies.sequence_tasks import SOLVED_SHARE

__all__ = ["plot_gradients_training", "plot_sequence_curves", "plot_sequence_loss"]

STAGE_COLORS = {"init": "#9e9e9e", "mid": "#1f77b4", "end": "#d62728"}


def _plain_log_y(ax: plt.Axes) -> None:
    """A log y axis with plain-number tick labels (no mathtext)."""
    ax.set_yscale("log")
    ax.yaxis.set_major_formatter(mticker.FuncFormatter(lambda v, _: f"{v:g}"))
    ax.yaxis.set_minor_formatter(mticker.NullFormatter())


def plot_sequence_loss(cells: pd.DataFrame, path: Path | str) -> Path:
    """Final test loss / trivial loss against T per task (see the module docstring)."""
    tasks = list(dict.fromkeys(cells["task"]))
    models = list(dict.fromkeys(cells["model"]))
    styles = model_styles(models)
    ratio = cells.assign(r=cells["test_loss"] / cells["trivial_loss"])
    with plt.rc_context(RC):
        fig, axes = _grid(len(tasks), ncols_max=2)
        handles: dict[str, object] = {}
        for ax, task in zip(axes, tasks, strict=False):
            sub = ratio[ratio["task"] == task]
            for model in models:
                m = sub[sub["model"] == model]
                if m.empty:
                    continue
                s = styles[model]
                med = m.groupby("T")["r"].median()
                (line,) = ax.plot(
                    med.index, med.to_numpy(), color=s["color"], marker=s["marker"], linestyle=s["linestyle"]
                )
                handles[model] = line
                learning = m["still_learning"].astype(bool)
                ax.scatter(m.loc[~learning, "T"], m.loc[~learning, "r"], color=s["color"], s=12, alpha=0.6)
                ax.scatter(m.loc[learning, "T"], m.loc[learning, "r"], facecolors="none", edgecolors=s["color"], s=30)
            ax.axhline(SOLVED_SHARE, color="black", linestyle="--", linewidth=0.8)
            ax.set_xscale("log", base=2)
            _plain_log_y(ax)
            ticks = sorted(sub["T"].unique())
            ax.set_xticks(ticks)
            ax.set_xticklabels([str(t) for t in ticks])
            ax.set_xlabel("delay T")
            ax.set_ylabel("test loss / trivial loss")
            ax.set_title(f"{task} problem")
        for ax in axes[len(tasks) :]:
            ax.set_visible(False)
        hollow = plt.Line2D([], [], marker="o", markerfacecolor="none", markeredgecolor="black", linestyle="none")
        solved = plt.Line2D([], [], color="black", linestyle="--")
        _legend_below(
            fig,
            [*handles.values(), hollow, solved],
            [*handles, "seed still learning", f"solved: {SOLVED_SHARE:.0%} of trivial"],
        )
    return _save(fig, path)


def plot_sequence_curves(curves: pd.DataFrame, path: Path | str) -> Path:
    """Test loss / trivial loss against updates, a panel per task x T (seed median)."""
    from harness.studies.sequence_tasks import TASKS

    panels = list(dict.fromkeys(zip(curves["task"], curves["T"], strict=True)))
    models = list(dict.fromkeys(curves["model"]))
    styles = model_styles(models)
    with plt.rc_context(RC):
        fig, axes = _grid(len(panels), ncols_max=4, size=(3.6, 2.8))
        handles: dict[str, object] = {}
        for ax, (task, T) in zip(axes, panels, strict=False):
            sub = curves[(curves["task"] == task) & (curves["T"] == T)]
            trivial = TASKS[task].trivial_loss
            for model in models:
                m = sub[sub["model"] == model]
                if m.empty:
                    continue
                med = m.groupby("update")["test_loss"].median() / trivial
                s = styles[model]
                (line,) = ax.plot(med.index, med.to_numpy(), color=s["color"], linestyle=s["linestyle"], linewidth=1.2)
                handles[model] = line
            ax.axhline(SOLVED_SHARE, color="black", linestyle="--", linewidth=0.8)
            _plain_log_y(ax)
            ax.set_title(f"{task}, T={T}", fontsize=9)
            ax.set_xlabel("updates", fontsize=8)
        for ax in axes[len(panels) :]:
            ax.set_visible(False)
        _legend_below(fig, list(handles.values()), list(handles))
    return _save(fig, path)


def plot_gradients_training(grads: pd.DataFrame, path: Path | str) -> Path:
    """||∂h_T/∂h_{T-k}|| against k at init / mid / end of training, a panel per architecture
    (solid: the longest T, dashed: shorter ones). Zeros cannot be drawn on a log scale."""
    models = list(dict.fromkeys(grads["model"]))
    lengths = sorted(grads["T"].unique())
    dashes = {T: ("-" if T == lengths[-1] else "--") for T in lengths}
    with plt.rc_context(RC):
        fig, axes = _grid(len(models), ncols_max=3, size=(4.2, 3.2))
        for ax, model in zip(axes, models, strict=False):
            sub = grads[grads["model"] == model]
            for (T, stage), g in sub.groupby(["T", "stage"], sort=False):
                g = g.sort_values("k")
                v = g["norm"].to_numpy(dtype=float)
                shown = np.isfinite(v) & (v > 0)
                ax.plot(
                    g["k"].to_numpy()[shown],
                    v[shown],
                    color=STAGE_COLORS.get(stage, "black"),
                    linestyle=dashes[T],
                    linewidth=1.2,
                )
            _plain_log_y(ax)
            ax.set_title(model, fontsize=9)
            ax.set_xlabel("k (steps back from T)", fontsize=8)
            ax.set_ylabel("||dh_T/dh_(T-k)||", fontsize=8)
        for ax in axes[len(models) :]:
            ax.set_visible(False)
        handles = [plt.Line2D([], [], color=c) for c in STAGE_COLORS.values()]
        handles += [plt.Line2D([], [], color="black", linestyle=dashes[T]) for T in lengths]
        _legend_below(fig, handles, [*STAGE_COLORS, *(f"adding T={T}" for T in lengths)])
    return _save(fig, path)
