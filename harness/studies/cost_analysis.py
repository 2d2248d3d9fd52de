"""The cost study's analysis (claim b): exponents, crossovers, cost ratios with intervals, verdicts.

Units. Every cost compared across models is :func:`cost_column` of cost.csv: ``cost_s``, the
process CPU seconds of fit + predict on CPU (BLAS threads counted; for local models the worker
processes' CPU), the synchronised wall seconds on an accelerator, whose work the CPU clock does
not see. A study stored before ``cost_s`` falls back to ``total_s`` (wall). Per series it is
``cost_s * 1000 / n_series`` milliseconds.

Regimes. A model with a ``training`` parameter (the RNNs) is timed ``global`` (one network on
all series) and ``local`` (one per series); arima is local. Every group below is keyed by
(model, device, regime), and a local RNN is labelled ``"model [local]"``. A study stored before
regimes gets ``global`` for every model but arima.

Verdict (:func:`cost_verdicts`), replacing the old "every model at every point" rule, whose
answer depended on which axis ranges were picked: at the *base point* only, for each
(regime, device), each recurrent model's cost per series over arima's with a percentile
bootstrap CI (:func:`harness.significance.ratio_ci`: each model's repeats resampled
independently, and arima's series too, from its per-series CPU times ``series_cpu_ms``). A
ratio is decisive only if its CI lies outside [0.5, 2]; with fewer than :data:`MIN_REPEATS`
repeats of either model there is no interval and so no decision. Supported if every recurrent
model is decisively costlier, refuted if every one is decisively cheaper, else inconclusive;
the overall line is their common verdict, else inconclusive "depends on the regime"
(:func:`harness.claim_b.joined_row`). Where the costs cross along an axis is reported beside
it (:func:`crossover`, ``ratios.csv`` at every point), not folded into the verdict.
"""

from __future__ import annotations

import math
from collections.abc import Mapping

import numpy as np
import pandas as pd

from harness.claim_b import SCOPE_ALL, joined_row, scope_text
from harness.claims import REFERENCE
from harness.models import REGIMES, is_recurrent
from harness.significance import DECISIVE_BAND, ratio_ci, ratio_decision

#: The device the local reference model of claim (b) is timed on.
REFERENCE_DEVICE = "cpu"
REFERENCE_REGIME = "local"
#: Axes along which the local reference and the global RNNs scale differently (crossover).
CROSSOVER_AXES: tuple[str, ...] = ("n_series", "length", "hidden")
#: The fewest repeats of each model for a ratio's interval: with one or two, the percentile
#: bootstrap of a median takes a handful of values and its interval means nothing.
MIN_REPEATS = 3
KEY = ["axis", "model", "device", "regime"]
EXPONENT_COLUMNS = ["axis", "model", "device", "regime", "exponent", "exponent_se", "intercept", "r2", "n_points"]
CROSSOVER_COLUMNS = ["axis", "model", "device", "regime", "crossover_value", "within_range", "cheaper_below", "note"]
RATIO_COLUMNS = [
    "axis",
    "value",
    "model",
    "device",
    "regime",
    "unit",
    "model_ms",
    "arima_ms",
    "ratio",
    "ratio_lo",
    "ratio_hi",
    "decision",
    "n_repeats",
]
VERDICT_COLUMNS = ["claim", "scope", "verdict", "compared", "rule", "evidence"]

RULE = (
    "cost study, at the base point, per regime and device: each recurrent model's cost per series (CPU-ms on CPU, "
    "BLAS threads counted; wall-ms on an accelerator) / arima's CPU-ms, median of repeats, with a 95% percentile "
    "bootstrap CI (repeats of each model resampled independently, arima's series too); decisive only if the CI "
    f"lies outside [{DECISIVE_BAND[0]:g}, {DECISIVE_BAND[1]:g}] (at least {MIN_REPEATS} repeats each): supported if "
    "every recurrent model is decisively costlier, refuted if every one is decisively cheaper, else inconclusive; "
    "overall: the common verdict of the regimes and devices, else inconclusive (depends on the regime); "
    "exponents and crossovers along the axes are reported beside it"
)


def label(model: str, device: str, regime: str = "") -> str:
    """``"lstm-torch"``, ``"lstm-torch [local]"``, ``"lstm-torch [cuda, local]"``."""
    parts = ([device] if device != "cpu" else []) + (["local"] if regime == "local" and model != REFERENCE else [])
    return f"{model} [{', '.join(parts)}]" if parts else model


def cost_column(rows: pd.DataFrame) -> str:
    """The column compared: ``cost_s`` (CPU on CPU, wall on an accelerator), else ``total_s``."""
    return "cost_s" if "cost_s" in rows.columns else "total_s"


def with_regime(rows: pd.DataFrame) -> pd.DataFrame:
    """``rows`` with a ``regime`` column: a study stored before regimes timed arima local and
    every other model global."""
    if "regime" in rows.columns and rows["regime"].notna().all():
        return rows
    regime = np.where(rows["model"].astype(str) == REFERENCE, "local", "global")
    if "regime" in rows.columns:
        regime = rows["regime"].where(rows["regime"].notna(), pd.Series(regime, index=rows.index))
    return rows.assign(regime=regime)


def _positive(rows: pd.DataFrame) -> pd.DataFrame:
    rows = with_regime(rows)
    col = cost_column(rows)
    df = rows[[*KEY[:1], "value", *KEY[1:], col]].rename(columns={col: "cost"}).copy()
    df["value"] = df["value"].astype(float)
    df["cost"] = df["cost"].astype(float)
    return df[(df["value"] > 0) & (df["cost"] > 0) & np.isfinite(df["cost"])]


def fit_exponents(rows: pd.DataFrame) -> pd.DataFrame:
    """Per (axis, model, device, regime): least-squares line of log(cost) on log(value).

    ``exponent`` is the slope b of ``cost ~ a * value**b`` (1: linear in the work, 0: flat),
    ``exponent_se`` its standard error, ``intercept`` is log(a) (natural log), ``r2`` the squared
    correlation, ``n_points`` the rows used (every repeat is a point). Groups with fewer than two
    distinct values (arima on the hidden axis) are left out; rows with cost <= 0 are dropped.
    """
    from scipy.stats import linregress

    out = []
    for (axis, model, device, regime), g in _positive(rows).groupby(KEY, sort=False):
        if g["value"].nunique() < 2:
            continue
        fit = linregress(np.log(g["value"]), np.log(g["cost"]))
        out.append(
            {
                "axis": axis,
                "model": model,
                "device": device,
                "regime": regime,
                "exponent": float(fit.slope),
                "exponent_se": float(fit.stderr) if len(g) > 2 else math.nan,
                "intercept": float(fit.intercept),
                "r2": float(fit.rvalue**2),
                "n_points": len(g),
            }
        )
    return pd.DataFrame(out, columns=EXPONENT_COLUMNS)


def contenders(rows: pd.DataFrame) -> list[str]:
    """The models of the cost study that claim (b) is about: those whose recorded family is
    recurrent (rnn, lstm, gru). A study stored before models declared a family (cost.csv without
    a ``family`` column) keeps its rule then: every model other than arima."""
    models = list(dict.fromkeys(rows["model"].astype(str)))
    if "family" not in rows.columns or rows["family"].isna().any():
        return [m for m in models if m != REFERENCE]
    family = dict(zip(rows["model"].astype(str), rows["family"].astype(str)))
    return [m for m in models if m != REFERENCE and is_recurrent(family[m])]


def median_costs(rows: pd.DataFrame) -> pd.DataFrame:
    """Median cost over repeats per (axis, value, model, device, regime), column ``cost``."""
    return _positive(rows).groupby(["axis", "value", *KEY[1:]], as_index=False)["cost"].median()


def _is_ref(df: pd.DataFrame) -> pd.Series:
    return (df["model"] == REFERENCE) & (df["device"] == REFERENCE_DEVICE)


def _comparisons(rows: pd.DataFrame) -> pd.DataFrame:
    """Each contender's median cost beside arima's at the same axis value (arima's base-point
    cost on the hidden axis, where it has no hidden size): columns axis, value, model, device,
    regime, cost, cost_ref."""
    med = median_costs(rows)
    ref = med[_is_ref(med)]
    nn = med[med["model"].isin(contenders(rows))]
    parts = []
    for axis, g in nn.groupby("axis", sort=False):
        r = ref[ref["axis"] == axis]
        if r.empty:
            continue
        if r["value"].nunique() == 1 and g["value"].nunique() > 1:  # arima timed once (hidden axis)
            parts.append(g.assign(cost_ref=float(r["cost"].iloc[0])))
        else:
            parts.append(g.merge(r[["value", "cost"]], on="value", suffixes=("", "_ref")))
    if not parts:
        return pd.DataFrame(columns=["axis", "value", *KEY[1:], "cost", "cost_ref"])
    return pd.concat(parts, ignore_index=True)


def _cheaper_everywhere(comparisons: pd.DataFrame, axis: str, model: str, device: str, regime: str) -> str:
    """'rnn' / 'arima' / 'mixed' / '' from the measured medians along one axis."""
    c = comparisons
    both = c[(c["axis"] == axis) & (c["model"] == model) & (c["device"] == device) & (c["regime"] == regime)]
    if both.empty:
        return ""
    less = both["cost"] < both["cost_ref"]
    return "rnn" if less.all() else REFERENCE if (~less).all() else "mixed"


def crossover(rows: pd.DataFrame) -> pd.DataFrame:
    """Where the fitted cost lines of each recurrent model (device, regime) and arima (cpu) cross.

    Rule, along ``n_series``, ``length`` and ``hidden`` (where arima, which has no hidden size,
    is the flat line of its base-point cost): fit ``log cost = log a + b log value`` for both
    (:func:`fit_exponents`). arima is local, so its cost is n_series x per-series cost and its
    exponent along n_series is about 1; a global RNN's can be below 1 (it trains on more windows
    per epoch, not more models). If ``|b_arima - b_rnn| <= 2 * sqrt(se_arima**2 + se_rnn**2)`` the
    slopes are equal within 2 standard errors and no crossover is reported (with two points per
    line there is no standard error and any difference counts). Otherwise the lines cross at
    ``value* = exp((log a_rnn - log a_arima) / (b_arima - b_rnn))``; below value* the model with
    the larger exponent is cheaper (``cheaper_below``: "rnn" or "arima"). ``within_range`` says
    whether value* lies inside the measured values; the ``note`` adds what the measurements show
    (e.g. "rnn cheaper everywhere tested").
    """
    ex = fit_exponents(rows).set_index(KEY)
    med = median_costs(rows)
    comparisons = _comparisons(rows)
    compared = set(contenders(rows))
    out = []
    for axis in CROSSOVER_AXES:
        ref_key = (axis, REFERENCE, REFERENCE_DEVICE, REFERENCE_REGIME)
        base = med[(med["axis"] == axis) & _is_ref(med)]
        if ref_key in ex.index:
            ref = ex.loc[ref_key]
        elif len(base) == 1:  # hidden axis: arima has no hidden size, its cost is a flat line
            ref = pd.Series({"exponent": 0.0, "exponent_se": 0.0, "intercept": math.log(float(base["cost"].iloc[0]))})
        else:
            continue
        vals = med.loc[med["axis"] == axis, "value"]
        lo, hi = float(vals.min()), float(vals.max())
        for (ax, model, device, regime), fit in ex.iterrows():
            if ax != axis or model not in compared:
                continue
            name = label(model, device, regime)
            tested = {
                "rnn": f"{name} cheaper everywhere tested",
                REFERENCE: f"{REFERENCE} cheaper everywhere tested",
                "mixed": "cheaper model changes within the tested range",
                "": "",
            }[_cheaper_everywhere(comparisons, axis, model, device, regime)]
            diff = float(ref["exponent"] - fit["exponent"])
            se = math.sqrt(np.nansum([ref["exponent_se"] ** 2, fit["exponent_se"] ** 2]))
            row = {**dict(zip(KEY, (axis, model, device, regime))), "crossover_value": math.nan}
            row.update(within_range=False, cheaper_below="")
            if abs(diff) <= max(2 * se, 1e-9):  # the floor absorbs rounding in exact (synthetic) fits
                row["note"] = "; ".join(filter(None, ["no crossover: slopes equal within 2 se", tested]))
            else:
                x_star = math.exp((float(fit["intercept"]) - float(ref["intercept"])) / diff)
                cheaper_below = "rnn" if fit["exponent"] > ref["exponent"] else REFERENCE
                inside = lo <= x_star <= hi
                other = REFERENCE if cheaper_below == "rnn" else name
                below = name if cheaper_below == "rnn" else REFERENCE
                where = f"lines cross at {axis}={x_star:.3g}"
                note = (
                    f"{where}: {below} cheaper below, {other} above"
                    if inside
                    else f"{where}, outside the tested range {lo:g}-{hi:g}"
                )
                row.update(crossover_value=x_star, within_range=inside, cheaper_below=cheaper_below)
                row["note"] = "; ".join(filter(None, [note, tested]))
            out.append(row)
    return pd.DataFrame(out, columns=CROSSOVER_COLUMNS)


# --------------------------------------------------------------------------- ratios with intervals


def _per_series_ms(rows: pd.DataFrame) -> pd.Series:
    n = rows["n_series"].astype(float).clip(lower=1) if "n_series" in rows.columns else 1.0
    return rows[cost_column(rows)].astype(float) * 1000.0 / n


def _series_matrix(rows: pd.DataFrame) -> np.ndarray | None:
    """Repeats x series CPU-ms of a local model from ``series_cpu_ms`` (space-separated per row),
    None where a row lacks them or the repeats disagree on the number of series."""
    if "series_cpu_ms" not in rows.columns:
        return None
    cells = [c for c in rows["series_cpu_ms"] if isinstance(c, str) and c.strip()]
    if len(cells) != len(rows):
        return None
    arrays = [np.array(c.split(), dtype=float) for c in cells]
    if len({len(a) for a in arrays}) != 1:
        return None
    return np.vstack(arrays)


def _reference_at(rows: pd.DataFrame, axis: str, value: float) -> pd.DataFrame:
    ref = rows[(rows["axis"] == axis) & _is_ref(rows)]
    at = ref[ref["value"].astype(float) == float(value)]
    return at if len(at) or ref["value"].nunique() != 1 else ref  # hidden axis: arima's base point


def cost_ratios(rows: pd.DataFrame) -> pd.DataFrame:
    """Every contender's cost ratio to arima at every measured point (:data:`RATIO_COLUMNS`):
    ``model_ms``/``arima_ms`` the medians over repeats of the cost per series, ``ratio`` their
    quotient with its 95% bootstrap CI (``ratio_lo``, ``ratio_hi``; NaN with fewer than
    :data:`MIN_REPEATS` repeats of either), ``decision`` costlier / cheaper / indecisive
    (:func:`harness.significance.ratio_decision`), ``n_repeats`` the fewer repeats of the two."""
    rows = with_regime(rows)
    rows = rows[rows[cost_column(rows)].astype(float) > 0]
    out = []
    for (axis, value, model, device, regime), g in rows.groupby(["axis", "value", *KEY[1:]], sort=False):
        if model not in contenders(rows):
            continue
        ref = _reference_at(rows, axis, value)
        if ref.empty:
            continue
        mine = _per_series_ms(g).to_numpy()
        theirs = _series_matrix(ref)
        if theirs is None:
            theirs = _per_series_ms(ref).to_numpy()
        else:  # per-series shares, scaled so each repeat's mean is its measured cost per series
            theirs = theirs * (_per_series_ms(ref).to_numpy() / theirs.mean(axis=1))[:, None]
        n_rep = min(len(mine), len(ref))
        ratio, lo, hi = ratio_ci(mine, theirs)
        if n_rep < MIN_REPEATS:
            lo = hi = math.nan
        out.append(
            {
                "axis": axis,
                "value": value,
                "model": model,
                "device": device,
                "regime": regime,
                "unit": "CPU-ms" if device == "cpu" and cost_column(rows) == "cost_s" else "wall-ms",
                "model_ms": float(np.median(mine)),
                "arima_ms": float(np.median(_per_series_ms(ref))),
                "ratio": ratio,
                "ratio_lo": lo,
                "ratio_hi": hi,
                "decision": ratio_decision(lo, hi),
                "n_repeats": n_rep,
            }
        )
    return pd.DataFrame(out, columns=RATIO_COLUMNS)


def base_point(rows: pd.DataFrame) -> dict[str, int] | None:
    """The point every axis of the study passes through (length, n_series, hidden of the
    recurrent models' rows), None where the rows do not say (no such columns or no common point)."""
    need = {"length", "n_series", "hidden"}
    if not need <= set(rows.columns):
        return None
    nn = rows[rows["hidden"].notna()]
    points = None
    for _, g in nn.groupby("axis", sort=False):
        here = set(zip(g["length"].astype(int), g["n_series"].astype(int), g["hidden"].astype(int)))
        points = here if points is None else points & here
    if not points or len(points) != 1:
        return None
    length, n_series, hidden = points.pop()
    return {"length": length, "n_series": n_series, "hidden": hidden}


def _base_rows(rows: pd.DataFrame, base: Mapping[str, int]) -> pd.DataFrame:
    """The rows measured at ``base`` (arima: its length and n_series), once per model, device,
    regime and repeat (the base point is shared by every axis)."""
    at = (rows["length"].astype(int) == int(base["length"])) & (rows["n_series"].astype(int) == int(base["n_series"]))
    hidden_ok = rows["hidden"].isna() | (rows["hidden"].astype(float) == float(base["hidden"]))
    sub = rows[at & hidden_ok]
    return sub.drop_duplicates([*KEY[1:], "repeat"] if "repeat" in sub.columns else KEY[1:])


def cost_verdicts(
    rows: pd.DataFrame, base: Mapping[str, int] | None = None, where: str = "", data: str = ""
) -> pd.DataFrame:
    """Claim (b) from the cost study (:data:`RULE`): one row per (regime, device) of the
    recurrent models at the base point, then the overall line (scope :data:`SCOPE_ALL`), whose
    evidence also quotes the exponents and crossovers. ``base`` (length, n_series, hidden) is
    found from the rows when None; ``where`` describes the CPU in the scope ("2-core CPU"),
    ``data`` the series (default "32 series of 200")."""
    rows = with_regime(rows)
    names = _compared(rows)
    base = base or base_point(rows)
    out: list[dict] = []
    if base is not None:
        at = _base_rows(rows, base).assign(axis="base", value=0)
        ratios = cost_ratios(at)
        ref_unit = "CPU-ms" if cost_column(rows) == "cost_s" else "wall-ms"
        for (regime, device), g in ratios.groupby(["regime", "device"], sort=True):
            what = scope_text(regime, device)
            if device == "cpu" and where:
                what = f"{regime}, {where}"
            series = data or f"{base['n_series']} series of {base['length']}"
            scope = f"{what}, hidden {base['hidden']}, {series}"
            decisions = set(g["decision"])
            verdict = (
                "supported" if decisions == {"costlier"} else "refuted" if decisions == {"cheaper"} else "inconclusive"
            )
            parts = [
                f"{label(r.model, r.device, r.regime)} x{r.ratio:.2f} [{r.ratio_lo:.2f}, {r.ratio_hi:.2f}] {r.decision} "
                f"({r.model_ms:.3g} {r.unit} vs arima {r.arima_ms:.3g} {ref_unit} per series, {r.n_repeats} repeats)"
                for r in g.itertuples()
            ]
            out.append({"scope": scope, "verdict": verdict, "evidence": "; ".join(parts)})
    if not out:
        why = "no base point with both arima and a recurrent model"
        overall = {"scope": SCOPE_ALL, "verdict": "inconclusive", "evidence": why}
    else:
        timed = set(rows.loc[rows["model"].isin(contenders(rows)), "regime"])
        overall = joined_row(out, [r for r in REGIMES if timed and r not in timed])
    overall["evidence"] = ". ".join([overall["evidence"], *_axis_evidence(rows)])
    return pd.DataFrame(
        [{"claim": "b", "compared": names, "rule": RULE, **r} for r in [*out, overall]], columns=VERDICT_COLUMNS
    )


def cost_verdict(rows: pd.DataFrame, base: Mapping[str, int] | None = None, where: str = "") -> dict[str, str]:
    """The overall line of :func:`cost_verdicts` as a dict (claim, scope, verdict, compared, rule, evidence)."""
    return cost_verdicts(rows, base, where).iloc[-1].to_dict()


def _compared(rows: pd.DataFrame) -> str:
    family = dict(zip(rows["model"].astype(str), rows["family"])) if "family" in rows.columns else {}
    names = [f"{m} ({family[m]})" if isinstance(family.get(m), str) else m for m in contenders(rows)]
    return f"{', '.join(names) or 'no recurrent model'} vs {REFERENCE}"


def _axis_evidence(rows: pd.DataFrame) -> list[str]:
    parts = []
    ex = fit_exponents(rows)
    for axis in dict.fromkeys(ex["axis"]):
        sub = ex[ex["axis"] == axis]
        fits = ", ".join(
            f"{label(m, d, r)} {b:.2f}" + ("" if not np.isfinite(se) else f"±{se:.2f}")
            for m, d, r, b, se in zip(sub["model"], sub["device"], sub["regime"], sub["exponent"], sub["exponent_se"])
        )
        parts.append(f"exponent along {axis}: {fits}")
    cx = crossover(rows)
    notes = [
        f"{label(m, d, r)} vs arima along {a}: {n}"
        for a, m, d, r, n in zip(cx["axis"], cx["model"], cx["device"], cx["regime"], cx["note"])
    ]
    if notes:
        parts.append("crossovers (reported beside the verdict, not in it): " + "; ".join(notes))
    return parts
