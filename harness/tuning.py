"""Random search over a model's declared search space, scored on a validation tail.

What a ``BASE[tuned]`` model (:class:`harness.variants.Tuned`) does in its ``fit``, in pieces
that can be tested alone:

* :func:`search_space`: the parameters the tuner draws, from the declarations
  (:attr:`harness.Param.search`, with its ``search_if`` condition), minus those the suite fixed;
* :func:`draw`: one trial's values from a seeded ``numpy.random.Generator`` (log or linear
  scale, integers for int parameters, a list's values uniformly); trial 0 is never drawn: it is
  the model's own parameters, so the chosen point is never worse on validation than the default;
* :func:`validation_split`: the last ``horizon`` values of each series held out, the rest kept
  as the trials' training panel (series too short for that are left out of tuning);
* :func:`validation_owa`: the trials' criterion, M4's OWA on the held-out tails against Naive2 on
  the same truncated histories (the M4 seasonality test and classical decomposition of
  :mod:`harness.seasonality`; the core never imports the ``naive2`` plugin).

Random search (Bergstra & Bengio 2012) rather than TPE: it needs no optional dependency, every
trial is independent of the others (so the chosen point depends only on the seed and the data),
and each random trial lands in the best 5% of the space with probability 5%, so at least one of
the 19 random trials of ``[tuned]`` does with probability 1 - 0.95^19 = 62%.
"""

from __future__ import annotations

import math
from collections.abc import Collection, Mapping, Sequence
from typing import Any

import numpy as np

from harness import metrics
from harness.data import Panel
from harness.params import Param
from harness.seasonality import deseasonalize_if_seasonal
from harness.windows import default_input_size

#: Trials of ``BASE[tuned]`` (``BASE[tunedN]`` sets N); trial 0 is the model's own parameters.
DEFAULT_TRIALS = 20
#: Most series a tuning trial fits and scores (a seeded sample of the dataset's; the chosen
#: values are then refit on every series). A trial costs what a fit on its series costs, and
#: 20 trials on all 1428 M3 monthly series are 20 full fits; a sample of 300 keeps a search to
#: about 4 full fits there, while 300 validation tails still rank trials (the OWA of a trial
#: is a mean over 300 series). Datasets of up to 300 series are tuned on all of them.
MAX_TUNING_SERIES = 300
#: Fewest in-sample values a series keeps before its validation tail to take part in tuning:
#: two give a lag-1 MASE scale (:func:`harness.metrics.mase_scale`); fewer cannot be scored.
MIN_HISTORY = 2


def search_space(
    parameters: Mapping[str, Param], values: Mapping[str, Any], fixed: Collection[str] = ()
) -> dict[str, Param]:
    """The parameters a tuner draws for a model with parameter ``values``: each declared with a
    ``search`` whose ``search_if`` holds for ``values``, except the names in ``fixed`` (set by the
    suite or ``-p``, which a tuned model keeps), in declaration order."""
    return {k: p for k, p in parameters.items() if k not in fixed and p.searched_under(values)}


def draw(space: Mapping[str, Param], rng: np.random.Generator, horizon: int, season_length: int) -> dict[str, Any]:
    """One trial's values of the parameters of ``space``, drawn from ``rng`` in order (so a seed
    gives the same trials): a list's values with equal chance; a number between ``low`` and
    ``high`` uniformly on the ``log`` or ``linear`` scale, rounded for an int parameter; in
    multiples of the default input window (:func:`harness.windows.default_input_size` of the
    task) when the search says ``"window"``."""
    out: dict[str, Any] = {}
    for key, p in space.items():
        search = p.search
        if isinstance(search, list):
            out[key] = search[int(rng.integers(len(search)))]
            continue
        low, high, scale, *unit = search
        if scale == "log":
            x = math.exp(rng.uniform(math.log(low), math.log(high)))
        else:
            x = rng.uniform(low, high)
        if unit:  # multiples of the input window the model would use by default
            base = default_input_size(horizon, season_length)
            out[key] = max(1, round(x * base))
        elif p.type is int:
            out[key] = int(min(max(round(x), math.ceil(low)), math.floor(high)))
        else:
            out[key] = float(min(max(x, low), high))
    return out


def validation_split(
    panel: Panel, horizon: int, max_series: int | None = None, seed: int = 0
) -> tuple[Panel, list[np.ndarray], list[int]]:
    """The tuning data of a training panel: (the panel of the series that keep at least
    :data:`MIN_HISTORY` values before their last ``horizon``, cut before those; the held-out
    tails, one per kept series; the kept series' indices in ``panel``). Only in-sample values are
    used: the test values never reach a model, so they cannot reach its tuning either. With
    ``max_series``, at most that many of them, drawn without replacement by a generator seeded
    with ``seed`` and kept in panel order (:data:`MAX_TUNING_SERIES`)."""
    kept = [i for i, y in enumerate(panel.values) if len(y) - horizon >= MIN_HISTORY]
    if max_series is not None and len(kept) > max_series:
        drawn = np.random.default_rng([seed, len(kept)]).choice(len(kept), size=max_series, replace=False)
        kept = [kept[k] for k in sorted(drawn)]
    cut = panel.subset(kept)
    cut = cut.with_values([np.asarray(y[:-horizon], dtype=float) for y in cut.values])
    tails = [np.asarray(panel.values[i][-horizon:], dtype=float) for i in kept]
    return cut, tails, kept


def naive2(y: np.ndarray, season_length: int, horizon: int) -> np.ndarray:
    """M4's Naive2 forecast of ``y``: the last value of the series seasonally adjusted by the M4
    rule, the seasonal indices multiplied back (the ``naive2`` benchmark's point forecast)."""
    adjusted, future, _ = deseasonalize_if_seasonal(y, season_length, horizon)
    return adjusted[-1] * future


def validation_owa(
    forecasts: Sequence[np.ndarray], tails: Sequence[np.ndarray], histories: Sequence[np.ndarray], season_length: int
) -> float:
    """OWA (:func:`harness.metrics.owa`) of ``forecasts`` of the ``tails`` after ``histories``,
    against Naive2 on the same histories: sMAPE and MASE are averaged over the series first (M4),
    over the series whose MASE scale is usable for both (a constant history has none). NaN when
    no series can be scored; a non-finite forecast makes it NaN too (a failed trial)."""
    m = season_length
    rows = []
    for f, y, hist in zip(forecasts, tails, histories, strict=True):
        ref = naive2(hist, m, len(y))
        mase, mase_ref = metrics.mase(y, f, hist, m), metrics.mase(y, ref, hist, m)
        if math.isfinite(mase_ref):
            rows.append((metrics.smape(y, f), mase, metrics.smape(y, ref), mase_ref))
    if not rows:
        return math.nan
    means = np.mean(np.asarray(rows, dtype=float), axis=0)
    return metrics.owa(*means)
