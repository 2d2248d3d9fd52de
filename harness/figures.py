"""PNG figures for the report, drawn from stored results alone (headless matplotlib).

Every function takes plain DataFrames and an output path, so figures can be redrawn from a
finished run without re-running a model. Colours come from ``model_styles``: one colour,
marker and line style per model, assigned from the sorted union of the run's model names so
that a model looks the same in every figure of a run. The palette is Okabe-Ito plus Paul Tol's
muted colours (colourblind-friendly); the naive baselines are drawn in greys with dashed lines
so the eye goes to the contenders. Text is drawn with mathtext off, because model and dataset
names come from data and plugins and a ``$`` in a name must not be parsed as TeX.
"""

from __future__ import annotations

import logging
import math
import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")  # headless: no display on servers / CI; must precede the pyplot import

import matplotlib.lines as mlines
import matplotlib.pyplot as plt
import matplotlib.ticker as mticker
import numpy as np
import pandas as pd

from harness.errors import OutputError
from harness.output import tmp_name, writing

log = logging.getLogger(__name__)

DPI = 110
# Okabe-Ito without yellow (too light on white), then Paul Tol "muted"; all distinguishable
# under the common colour-vision deficiencies, and markers/line styles add a second cue.
PALETTE = [
    "#0072B2",
    "#E69F00",
    "#009E73",
    "#D55E00",
    "#CC79A7",
    "#56B4E9",
    "#000000",
    "#882255",
    "#44AA99",
    "#999933",
    "#332288",
    "#AA4499",
    "#117733",
    "#DDCC77",
]
MARKERS = ["o", "s", "^", "D", "v", "P", "X", "*", "<", ">", "h", "p"]
BASELINE_STYLES = {
    "naive": {"color": "#7F7F7F", "marker": "x", "linestyle": "--"},
    "snaive": {"color": "#A6A6A6", "marker": "+", "linestyle": "--"},
    "naive2": {"color": "#4D4D4D", "marker": "1", "linestyle": "--"},
}
RC = {
    "text.parse_math": False,
    "font.size": 10,
    "axes.titlesize": 11,
    "axes.grid": True,
    "grid.alpha": 0.3,
    "axes.spines.top": False,
    "axes.spines.right": False,
}

Style = dict[str, Any]


def model_styles(models: Iterable[str]) -> dict[str, Style]:
    """Colour, marker and line style per model, deterministic in the *set* of names.

    Non-baseline models get palette entries in sorted-name order; after the palette runs out
    the line style changes, so even 30 models stay distinguishable.
    """
    names = sorted({str(m) for m in models})
    styles: dict[str, Style] = {}
    others = [m for m in names if m not in BASELINE_STYLES]
    for i, model in enumerate(others):
        styles[model] = {
            "color": PALETTE[i % len(PALETTE)],
            "marker": MARKERS[i % len(MARKERS)],
            "linestyle": ["-", "-.", ":"][(i // len(PALETTE)) % 3],
        }
    for model in names:
        if model in BASELINE_STYLES:
            styles[model] = dict(BASELINE_STYLES[model])
    return styles


def _styles_for(models: Iterable[str], styles: Mapping[str, Style] | None) -> dict[str, Style]:
    """Given styles where they cover every model, else fresh ones for this figure's models."""
    models = list(models)
    if styles is not None and all(m in styles for m in models):
        return dict(styles)
    return model_styles(models)


def safe_name(name: str) -> str:
    """A file-name fragment from a dataset/model name (which comes from data: no paths)."""
    slug = re.sub(r"[^A-Za-z0-9_-]+", "_", str(name)).strip("_")
    return slug or "unnamed"


def _save(fig: plt.Figure, path: Path | str) -> Path:
    """Write the PNG via a temporary file (``.<name>.tmp-<pid>``, as every atomic write of a run)
    so a crash never leaves a half-written figure; a write that fails (a full disk) leaves no
    temporary file and raises :class:`harness.errors.OutputError` naming ``path``."""
    path = Path(path)
    tmp = tmp_name(path)
    try:
        with writing(path, tmp):
            path.parent.mkdir(parents=True, exist_ok=True)
            fig.savefig(tmp, format="png", dpi=DPI, bbox_inches="tight", facecolor="white")
            tmp.replace(path)
    finally:
        plt.close(fig)
    return path


def log_log(ax: plt.Axes, xticks: Iterable[float]) -> None:
    """Both axes on a log scale, labelled with plain numbers (16, 128, 1024 rather than 10^x), one
    x tick at each measured value: how the cost and sequential studies draw cost against size."""
    ax.set_xscale("log")
    ax.set_yscale("log")
    plain = mticker.FuncFormatter(lambda v, _: f"{v:g}")
    for axis in (ax.xaxis, ax.yaxis):
        axis.set_major_formatter(plain)
        axis.set_minor_formatter(mticker.NullFormatter())
    ax.set_xticks(sorted(xticks))


def _grid(n: int, ncols_max: int = 3, size: tuple[float, float] = (4.6, 3.6)) -> tuple[plt.Figure, list[plt.Axes]]:
    """A grid of n panels (at most ncols_max per row); unused axes are hidden."""
    ncols = max(1, min(ncols_max, n))
    nrows = max(1, math.ceil(n / ncols))
    fig, axes = plt.subplots(nrows, ncols, figsize=(size[0] * ncols, size[1] * nrows), squeeze=False)
    flat = list(axes.ravel())
    for ax in flat[n:]:
        ax.set_visible(False)
    return fig, flat[:n]


def _legend_below(fig: plt.Figure, handles: list, labels: list[str]) -> None:
    """One shared legend under the panels, rather than one legend per panel covering data.

    Call after building the panels: it reserves the legend's height (in inches, so the gap does
    not grow with the figure) at the bottom and lays the panels out above it.
    """
    ncol = max(1, min(len(labels), 5))
    rows = math.ceil(len(labels) / ncol) if labels else 0
    bottom = (0.08 + 0.24 * rows) / fig.get_figheight() if rows else 0.0
    fig.tight_layout(rect=(0, bottom, 1, 1))
    if handles:
        fig.legend(handles, labels, loc="lower center", ncol=ncol, frameon=False, bbox_to_anchor=(0.5, 0.0))


def accuracy_vs_cost(
    accuracy: pd.DataFrame,
    speed: pd.DataFrame,
    path: Path | str,
    dataset: str | None = None,
    styles: Mapping[str, Style] | None = None,
) -> Path:
    """sMAPE against compute cost, one point per model, one panel per dataset (or just ``dataset``).

    accuracy: columns dataset, model, smape (accuracy.csv); speed: dataset, model,
    ms_per_series (speed.csv). Cost is on a log axis because models differ by orders of
    magnitude; points with no positive cost are left out (log of 0 is undefined).
    """
    merged = accuracy[["dataset", "model", "smape"]].merge(
        speed[["dataset", "model", "ms_per_series"]], on=["dataset", "model"], how="inner"
    )
    if dataset is not None:
        merged = merged[merged["dataset"] == dataset]
    merged = merged[(merged["ms_per_series"] > 0) & merged["smape"].notna()]
    if merged.empty:
        raise ValueError("no model has both an sMAPE and a positive ms_per_series")
    datasets = list(dict.fromkeys(merged["dataset"]))
    st = _styles_for(merged["model"].unique(), styles)
    with plt.rc_context(RC):
        single = (6.4, 4.6) if len(datasets) == 1 else (4.8, 3.8)
        fig, axes = _grid(len(datasets), size=single)
        for ax, ds in zip(axes, datasets):
            sub = merged[merged["dataset"] == ds].sort_values("ms_per_series")
            for _, row in sub.iterrows():
                s = st[row["model"]]
                ax.scatter(
                    row["ms_per_series"],
                    row["smape"],
                    color=s["color"],
                    marker=s["marker"],
                    s=55,
                    zorder=3,
                    label=row["model"],
                )
            ax.set_xscale("log")
            # plain numbers: the default log labels are mathtext, which RC turns off
            ax.xaxis.set_major_formatter(mticker.FuncFormatter(lambda v, _: f"{v:g}"))
            ax.xaxis.set_minor_formatter(mticker.NullFormatter())
            lo, hi = sub["ms_per_series"].min(), sub["ms_per_series"].max()
            ax.set_xlim(lo / 2.5, hi * 4)  # room on the right for labels
            ylo, yhi = sub["smape"].min(), sub["smape"].max()
            pad = max((yhi - ylo) * 0.12, 0.05 * max(abs(yhi), 1e-9))
            ax.set_ylim(ylo - pad, yhi + pad)
            _label_points(ax, sub)  # after the scale and limits: label spacing is in display space
            ax.set_title(str(ds))
            ax.set_xlabel("compute per series (ms, log scale)")
            ax.set_ylabel("sMAPE (%)")
        fig.suptitle("Accuracy vs cost (lower-left is better)", fontsize=12)
        fig.tight_layout()
    return _save(fig, path)


def _label_points(ax: plt.Axes, sub: pd.DataFrame) -> None:
    """Label each point with its model name, nudging labels apart vertically where they'd overlap.

    Labels sit right of their point; labels whose points are close in display space are spread
    out in y (a cheap one-pass repel), with a thin leader line when moved.
    """
    trans = ax.transData  # final once scale and limits are set; no draw needed
    pts = [(trans.transform((x, y)), m, x, y) for x, y, m in zip(sub["ms_per_series"], sub["smape"], sub["model"])]
    pts.sort(key=lambda p: p[0][1])
    min_gap = 12.0  # display pixels between label baselines (about one line of 8pt text at 110 dpi)
    placed: list[tuple[float, float]] = []
    for (px, py), model, x, y in pts:
        ly = py
        for qx, qy in placed:
            if abs(qx - px) < 90 and ly - qy < min_gap:
                ly = qy + min_gap
        placed.append((px, ly))
        dy_points = (ly - py) * 72.0 / ax.figure.dpi
        ax.annotate(
            str(model),
            (x, y),
            xytext=(6, dy_points),
            textcoords="offset points",
            fontsize=8,
            va="center",
            arrowprops={"arrowstyle": "-", "lw": 0.5, "color": "0.5"} if dy_points > 1 else None,
        )


def _line_panels(
    df: pd.DataFrame,
    by: str,
    x: str,
    st: Mapping[str, Style],
    title: str,
    draw: Callable[[plt.Axes, pd.DataFrame, Style, str], Any],
    decorate: Callable[[plt.Axes, Any, pd.DataFrame], None],
    extra_legend: Sequence[tuple[Any, str]] = (),
) -> plt.Figure:
    """One panel per value of ``by`` (a grid), one line per model drawn by ``draw(ax, line,
    style, model)`` over ``x``, panel labels by ``decorate(ax, key, sub)``, a shared legend
    (with ``extra_legend``'s (handle, label) entries after the models')."""
    panels = list(dict.fromkeys(df[by]))
    fig, axes = _grid(len(panels))
    seen: dict[str, Any] = {}
    for ax, key in zip(axes, panels):
        sub = df[df[by] == key]
        for model in sorted(sub["model"].unique(), key=list(st).index):
            handle = draw(ax, sub[sub["model"] == model].sort_values(x), st[model], model)
            seen.setdefault(model, handle)
        decorate(ax, key, sub)
    fig.suptitle(title, fontsize=12)
    _legend_below(fig, [*seen.values(), *(h for h, _ in extra_legend)], [*seen, *(t for _, t in extra_legend)])
    return fig


def smape_by_step(step_table: pd.DataFrame, path: Path | str, styles: Mapping[str, Style] | None = None) -> Path:
    """Mean sMAPE at each forecast step, one line per model, one panel per dataset in one figure.

    step_table: columns dataset, model, step, smape. All datasets share one figure (a grid, three
    panels per row) so the report has one image to scan; each panel has its own y-axis because
    error levels differ across frequencies.
    """
    df = step_table.dropna(subset=["smape"])
    if df.empty:
        raise ValueError("empty step table")

    def draw(ax: plt.Axes, line: pd.DataFrame, s: Style, model: str) -> Any:
        (h,) = ax.plot(
            line["step"],
            line["smape"],
            color=s["color"],
            marker=s["marker"],
            linestyle=s["linestyle"],
            markersize=4,
            linewidth=1.5,
            label=model,
        )
        return h

    def decorate(ax: plt.Axes, dataset: Any, sub: pd.DataFrame) -> None:
        ax.set_title(str(dataset))
        ax.set_xlabel("forecast step (h)")
        ax.set_ylabel("sMAPE (%)")
        steps = sub["step"].unique()
        if len(steps) <= 20:
            ax.set_xticks(sorted(steps))

    with plt.rc_context(RC):
        fig = _line_panels(
            df, "dataset", "step", _styles_for(df["model"].unique(), styles), "sMAPE by forecast step", draw, decorate
        )
    return _save(fig, path)


def memory_vs_lag(
    memory: pd.DataFrame, path: Path | str, styles: Mapping[str, Style] | None = None, ok_skill: float | None = None
) -> Path:
    """Memory study: skill against the lag L, one line per model, one panel per task. Skill 1 is
    the optimum (the oracle forecast on the same windows), 0 the floor (the series mean: nothing
    remembered); error bars are the skill's 95% bootstrap CI (``skill_lo``, ``skill_hi``). A
    cell where some fit was still learning when its budget ended (``still_learning`` > 0) has a
    hollow marker: its skill is a lower bound, not a failure. ``ok_skill`` draws the success
    threshold as a dashed line.

    memory: columns task, lag, model, skill, and where present skill_lo, skill_hi,
    still_learning (studies/memory/memory.csv).
    """
    df = memory.dropna(subset=["skill"])
    if df.empty:
        raise ValueError("empty memory table")

    def draw(ax: plt.Axes, line: pd.DataFrame, s: Style, model: str) -> Any:
        yerr = None
        if {"skill_lo", "skill_hi"} <= set(line.columns):
            lo = (line["skill"] - line["skill_lo"]).clip(lower=0).fillna(0.0)
            hi = (line["skill_hi"] - line["skill"]).clip(lower=0).fillna(0.0)
            yerr = [lo.to_numpy(), hi.to_numpy()]
        handle = ax.errorbar(
            line["lag"],
            line["skill"],
            yerr=yerr,
            color=s["color"],
            marker=s["marker"],
            linestyle=s["linestyle"],
            markersize=5,
            linewidth=1.5,
            capsize=2,
            label=model,
        )
        learning = line[line["still_learning"].fillna(0) > 0] if "still_learning" in line else line.iloc[:0]
        if len(learning):
            ax.plot(
                learning["lag"],
                learning["skill"],
                linestyle="none",
                marker=s["marker"],
                markersize=7,
                markerfacecolor="white",
                markeredgecolor=s["color"],
                zorder=3,
            )
        return handle

    def decorate(ax: plt.Axes, task: Any, sub: pd.DataFrame) -> None:
        ax.axhline(1.0, color="black", linestyle=":", linewidth=1)
        ax.axhline(0.0, color="grey", linewidth=0.8)
        if ok_skill is not None:
            ax.axhline(ok_skill, color="grey", linestyle="--", linewidth=0.8)
        ax.set_xscale("log", base=2)
        ax.xaxis.set_major_formatter(mticker.ScalarFormatter())
        ax.set_xticks(sorted(sub["lag"].unique()))
        ax.set_title(str(task))
        ax.set_xlabel("lag L of the needed information (steps)")
        ax.set_ylabel("skill (1 = optimum, 0 = learned nothing)")

    hollow = mlines.Line2D([], [], color="grey", marker="o", markerfacecolor="white", linestyle="none")
    with plt.rc_context(RC):
        fig = _line_panels(
            df,
            "task",
            "lag",
            _styles_for(df["model"].unique(), styles),
            "Memory study: skill against lag (bars: 95% CI; dotted: optimum)",
            draw,
            decorate,
            extra_legend=[(hollow, "hollow: still learning at the end of the budget")],
        )
    return _save(fig, path)


def cd_groups(ranks: Mapping[str, float], cd: float) -> list[tuple[str, ...]]:
    """Maximal groups of models (sorted by rank) whose ranks all lie within less than ``cd``.

    These are the cliques a Demšar diagram joins with a bar: models in one group are not
    significantly different by the Nemenyi test. Groups of one and groups contained in a
    larger group are dropped.
    """
    order = sorted(ranks, key=lambda m: ranks[m])
    spans: list[tuple[int, int]] = []
    for i in range(len(order)):
        j = i
        while j + 1 < len(order) and ranks[order[j + 1]] - ranks[order[i]] < cd:
            j += 1
        if j > i and not any(a <= i and j <= b for a, b in spans):
            spans.append((i, j))
    return [tuple(order[a : b + 1]) for a, b in spans]


def critical_difference(ranks: pd.DataFrame, cd: float, path: Path | str, title: str = "") -> Path:
    """Demšar (2006) critical-difference diagram.

    ranks: columns model, avg_rank (average rank over series, 1 = best). The axis runs from
    1 (best, left) to k; the better half of the models is labelled on the left, the rest on the
    right; a bar above the axis shows the CD; thick black lines join models whose average ranks
    differ by less than the CD (not significantly different).
    """
    r = ranks.dropna(subset=["avg_rank"]).sort_values("avg_rank").reset_index(drop=True)
    if r.empty:
        raise ValueError("no ranks")
    k = max(len(r), 2)
    rank_of = dict(zip(r["model"].astype(str), r["avg_rank"].astype(float)))
    groups = cd_groups(rank_of, cd) if np.isfinite(cd) else []
    n_left = math.ceil(len(r) / 2)
    rows = max(n_left, len(r) - n_left)
    line_h = 0.32  # inches per label row
    height = 1.3 + line_h * (rows + 1) + 0.12 * len(groups)
    lo, hi = 1.0, float(max(k, math.ceil(r["avg_rank"].max())))
    with plt.rc_context({**RC, "axes.grid": False}):
        fig, ax = plt.subplots(figsize=(8.0, height))
        ax.set_axis_off()
        # y in "rows": axis at 0, labels below (negative), CD bar above.
        bottom = -(rows + 0.6) - 0.35 * len(groups)
        ax.set_xlim(-0.05, 1.05)
        ax.set_ylim(bottom, 1.6)

        def x_of(rank: float) -> float:
            # label columns sit at 0 and 1, the rank axis between 0.22 and 0.78
            return 0.22 + 0.56 * (rank - lo) / (hi - lo)

        ax.plot([x_of(lo), x_of(hi)], [0, 0], color="black", lw=1.2)
        for t in range(int(lo), int(hi) + 1):
            ax.plot([x_of(t), x_of(t)], [0, 0.15], color="black", lw=1)
            ax.text(x_of(t), 0.25, str(t), ha="center", va="bottom", fontsize=9)
        for t in np.arange(lo + 0.5, hi, 1.0):
            ax.plot([x_of(t), x_of(t)], [0, 0.08], color="black", lw=0.7)
        if np.isfinite(cd) and cd > 0:
            x0 = x_of(lo)
            x1 = x_of(min(lo + cd, hi))
            ax.plot([x0, x1], [1.05, 1.05], color="black", lw=1.5)
            ax.plot([x0, x0], [0.97, 1.13], color="black", lw=1.5)
            ax.plot([x1, x1], [0.97, 1.13], color="black", lw=1.5)
            ax.text((x0 + x1) / 2, 1.2, f"CD = {cd:.2f}", ha="center", va="bottom", fontsize=9)
        # Clique bars just under the axis, then the label elbows below them.
        gap = 0.35
        for g, members in enumerate(groups):
            y = -0.3 - gap * g
            ax.plot(
                [x_of(rank_of[members[0]]) - 0.006, x_of(rank_of[members[-1]]) + 0.006],
                [y, y],
                color="black",
                lw=4,
                solid_capstyle="round",
            )
        label_top = -0.3 - gap * len(groups) - 0.15
        for i, (model, rank) in enumerate(zip(r["model"].astype(str), r["avg_rank"])):
            left = i < n_left
            row = i if left else len(r) - 1 - i  # outermost models get the lowest rows
            y = label_top - row * 1.0
            xr = x_of(rank)
            xe = 0.17 if left else 0.83
            ax.plot([xr, xr, xe], [0, y, y], color="0.25", lw=0.9)
            ax.plot([xr], [0], marker="o", color="black", markersize=3)
            ax.text(
                xe - 0.01 if left else xe + 0.01,
                y,
                f"{model} ({rank:.2f})" if left else f"({rank:.2f}) {model}",
                ha="right" if left else "left",
                va="center",
                fontsize=9,
            )
        ax.set_ylim(label_top - (rows - 1) - 0.6, 1.6)
        if title:
            ax.set_title(title, fontsize=11)
    return _save(fig, path)


HistoryLookup = Callable[[str, str], "np.ndarray | None"]


def forecast_examples(
    forecasts: pd.DataFrame,
    history_lookup: HistoryLookup | None,
    path: Path | str,
    n: int = 4,
    models: list[str] | None = None,
    styles: Mapping[str, Style] | None = None,
    history_len: int | None = None,
) -> Path:
    """Truth and each model's seed-0 forecast for the first ``n`` series (sorted unique_id).

    forecasts: forecasts.parquet columns (unique_id, window, origin, step, y, yhat, dataset,
    model, seed). Only the first dataset present and each series' last window are drawn, so the
    choice is deterministic. ``history_lookup(dataset, unique_id)`` may return the series' full
    values (index 0 = first observation); the last ``history_len`` (default 3 x horizon) points
    before the origin are then drawn in grey. Without it (or when it returns None) only the
    forecast window is drawn: stored results hold the test window, not the training history.
    Time on the x-axis is the observation index, forecast step h at origin + h - 1.
    """
    df = forecasts
    if df.empty:
        raise ValueError("no forecasts")
    dataset = sorted(df["dataset"].astype(str).unique())[0]
    df = df[df["dataset"] == dataset]
    seeds = df.groupby("model")["seed"].transform("min")  # seed 0 where run, else the lowest
    df = df[df["seed"] == seeds]
    if models is not None:
        df = df[df["model"].isin(models)]
    ids = sorted(df["unique_id"].astype(str).unique())[:n]
    if not ids:
        raise ValueError("no series to plot")
    all_models = sorted(df["model"].unique())
    st = _styles_for(all_models, styles)
    with plt.rc_context(RC):
        fig, axes = _grid(len(ids), ncols_max=2, size=(5.8, 3.3))
        seen: dict[str, Any] = {}
        for ax, uid in zip(axes, ids):
            sub = df[df["unique_id"].astype(str) == uid]
            sub = sub[sub["window"] == sub["window"].max()]
            origin = int(sub["origin"].iloc[0])
            truth = sub.drop_duplicates("step").sort_values("step")
            t = origin + truth["step"].to_numpy() - 1
            hist = history_lookup(dataset, uid) if history_lookup is not None else None
            if hist is not None:
                hist = np.asarray(hist, dtype=float)[:origin]
                keep = history_len if history_len is not None else 3 * len(truth)
                start = max(0, len(hist) - keep)
                (h,) = ax.plot(np.arange(start, len(hist)), hist[start:], color="0.55", lw=1.3, label="history")
                seen.setdefault("history", h)
                ax.axvline(origin - 0.5, color="0.6", lw=0.8, ls=":")
            (h,) = ax.plot(t, truth["y"], color="black", lw=2.2, label="actual", zorder=4)
            seen.setdefault("actual", h)
            for model in all_models:
                m = sub[sub["model"] == model].sort_values("step")
                if m.empty:
                    continue
                s = st[model]
                (h,) = ax.plot(
                    origin + m["step"].to_numpy() - 1,
                    m["yhat"],
                    color=s["color"],
                    linestyle=s["linestyle"],
                    marker=s["marker"],
                    markersize=3,
                    lw=1.3,
                    label=model,
                )
                seen.setdefault(model, h)
            ax.set_title(f"{dataset} / {uid}")
            ax.set_xlabel("time index")
            ax.set_ylabel("value")
        fig.suptitle("Example forecasts" + ("" if history_lookup else " (test window only)"), fontsize=12)
        _legend_below(fig, list(seen.values()), list(seen))
    return _save(fig, path)


def draw_or_skip(written: dict[str, Path], out_dir: Path, name: str, fn: Callable[[Path], Path]) -> None:
    """Draw figure ``name`` with ``fn(out_dir / name.png)`` into ``written``; a figure that fails
    is logged and skipped (a broken figure must not cost the rest of the report), but one that
    cannot be written (a full disk, :class:`OutputError`) stops the report: the run is resumable."""
    try:
        written[name] = fn(out_dir / f"{name}.png")
    except OutputError:
        raise
    except Exception as exc:
        log.warning("figure %s skipped: %s", name, exc)


def write_figures(run_dir: Path | str, tables: Mapping[str, Any]) -> dict[str, Path]:
    """Write every figure the given tables allow into ``run_dir/figures/``; return name -> path.

    ``tables`` keys (all optional; a figure whose tables are missing or empty is skipped, and a
    figure that fails is logged and skipped, so a report never dies on a plot; a figure that
    cannot be written - a full disk, :class:`OutputError` - stops the report instead):

    - "accuracy": accuracy.csv frame (dataset, model, smape) and "speed": speed.csv frame
      (dataset, model, ms_per_series) -> "accuracy_vs_cost"
    - "step_errors": dataset, model, step, smape -> "smape_by_step"
    - "ranks": {dataset: DataFrame(model, avg_rank)} and "cd": {dataset: float}
      -> "cd_<dataset>" (a missing CD draws the diagram without bars)
    - "forecasts": forecasts.parquet frame -> "forecasts_<dataset>" (one per dataset);
      optional "history": callable(dataset, unique_id) -> full series values, for context.

    Names and file names use ``safe_name(dataset)``: dataset names come from data.
    """
    out_dir = Path(run_dir) / "figures"
    written: dict[str, Path] = {}
    models: set[str] = set()
    for key in ("accuracy", "speed", "step_errors", "forecasts"):
        t = tables.get(key)
        if isinstance(t, pd.DataFrame) and "model" in t.columns:
            models.update(t["model"].astype(str).unique())
    for t in (tables.get("ranks") or {}).values():
        if isinstance(t, pd.DataFrame) and "model" in t.columns:
            models.update(t["model"].astype(str).unique())
    styles = model_styles(models)

    def attempt(name: str, fn: Callable[[Path], Path]) -> None:
        draw_or_skip(written, out_dir, name, fn)

    def usable(key: str) -> bool:
        t = tables.get(key)
        return isinstance(t, pd.DataFrame) and not t.empty

    if usable("accuracy") and usable("speed"):
        attempt("accuracy_vs_cost", lambda p: accuracy_vs_cost(tables["accuracy"], tables["speed"], p, styles=styles))
    if usable("step_errors"):
        attempt("smape_by_step", lambda p: smape_by_step(tables["step_errors"], p, styles=styles))
    cds = tables.get("cd") or {}
    for ds, r in (tables.get("ranks") or {}).items():
        if isinstance(r, pd.DataFrame) and not r.empty:
            cd = float(cds.get(ds, float("nan")))
            attempt(
                f"cd_{safe_name(ds)}",
                lambda p, r=r, cd=cd, ds=ds: critical_difference(r, cd, p, title=f"{ds}: average rank (1 = best)"),
            )
    if usable("forecasts"):
        fc = tables["forecasts"]
        for ds in sorted(fc["dataset"].astype(str).unique()):
            attempt(
                f"forecasts_{safe_name(ds)}",
                lambda p, ds=ds: forecast_examples(
                    fc[fc["dataset"].astype(str) == ds], tables.get("history"), p, styles=styles
                ),
            )
    return written
