"""The paired tests and intervals the claims use, on per-series numbers: the win rate with its
bootstrap interval and its sign test, Wilcoxon's signed-rank test, the cross-series
Diebold-Mariano test, the Nemenyi critical difference, the hierarchical (seeds, then series)
bootstrap of means and Holm's correction. Pure functions of arrays (scipy's distributions
underneath), so they are tested on constructed inputs against their textbook values."""

from __future__ import annotations

import math
import zlib
from collections.abc import Sequence

import numpy as np
from scipy import stats

ALPHA = 0.05
N_BOOT = 2000


def win_rate_ci(diff: np.ndarray, n_boot: int = N_BOOT, seed: int = 0) -> tuple[float, float, float]:
    """Win rate of ``diff = model - reference`` (< 0 is a win, 0 counts half) and its 95%
    percentile bootstrap CI over series resampled with replacement (``default_rng(seed)``)."""
    diff = np.asarray(diff, dtype=float)
    n = len(diff)
    if n == 0:
        return math.nan, math.nan, math.nan
    wins = (diff < 0).astype(float) + 0.5 * (diff == 0)
    rng = np.random.default_rng(seed)
    rates = np.empty(n_boot)
    chunk = max(1, 20_000_000 // max(n, 1))  # bound memory of the index matrix for large N
    for start in range(0, n_boot, chunk):
        stop = min(n_boot, start + chunk)
        idx = rng.integers(0, n, size=(stop - start, n))
        rates[start:stop] = wins[idx].mean(axis=1)
    lo, hi = np.percentile(rates, [2.5, 97.5])
    return float(wins.mean()), float(lo), float(hi)


def wilcoxon_p(diff: np.ndarray) -> float:
    """Two-sided Wilcoxon signed-rank p of per-series differences (zeros split, so identical
    forecasts count as evidence of no difference rather than being dropped). NaN if < 2 series."""
    diff = np.asarray(diff, dtype=float)
    if len(diff) < 2:
        return math.nan
    if np.all(diff == 0):
        return 1.0
    try:
        return float(stats.wilcoxon(diff, zero_method="zsplit").pvalue)
    except ValueError:
        return math.nan


def diebold_mariano(dbar: np.ndarray) -> tuple[float, float]:
    """Cross-series Diebold-Mariano test of mean loss differential zero; returns (stat, p).

    The classic DM test works along one series' time axis with a HAC variance of lag h-1,
    because multi-step errors of one series are autocorrelated. Here the units are the N
    per-series mean differentials d̄_i, which are independent across series, so no HAC term
    is needed (lag 0). With lag 0 the Harvey-Leybourne-Newbold correction factor
    sqrt((N + 1 - 2h + h(h-1)/N) / N) at h = 1 is sqrt((N-1)/N), and DM_HLN =
    mean(d̄) / sqrt(var_ddof0(d̄)/N) * sqrt((N-1)/N) = mean(d̄) / sqrt(var_ddof1(d̄)/N): the
    one-sample t statistic, referred (as HLN advise) to Student's t with N-1 df, two-sided.
    Negative statistic: the model's errors are smaller than the reference's.
    """
    d = np.asarray(dbar, dtype=float)
    d = d[np.isfinite(d)]
    n = len(d)
    if n < 2:
        return math.nan, math.nan
    sd = d.std(ddof=1)
    if sd == 0:
        return (0.0, 1.0) if d.mean() == 0 else (math.copysign(math.inf, d.mean()), 0.0)
    stat = d.mean() / math.sqrt(sd**2 / n)
    return float(stat), float(2 * stats.t.sf(abs(stat), df=n - 1))


def nemenyi_cd(k: int, n: int, alpha: float = ALPHA) -> float:
    """Nemenyi critical difference of average ranks: q_alpha * sqrt(k(k+1) / (6N)), with
    q_alpha the studentized range quantile (k groups, infinite df) divided by sqrt(2)."""
    if k < 2 or n < 1:
        return math.nan
    q = stats.studentized_range.ppf(1 - alpha, k, np.inf) / math.sqrt(2)
    return float(q * math.sqrt(k * (k + 1) / (6.0 * n)))


def gmean_ci(values: np.ndarray, n_boot: int = N_BOOT, seed: int = 0) -> tuple[float, float]:
    """95% percentile bootstrap CI of the geometric mean of positive ``values`` (one per
    dataset), resampling the values with replacement (``default_rng(seed)``). The caller decides
    whether there are enough values for the interval to mean anything."""
    logs = np.log(np.asarray(values, dtype=float))
    if len(logs) == 0:
        return math.nan, math.nan
    idx = np.random.default_rng(seed).integers(0, len(logs), size=(n_boot, len(logs)))
    lo, hi = np.exp(np.percentile(logs[idx].mean(axis=1), [2.5, 97.5]))
    return float(lo), float(hi)


#: A cost ratio (model / reference) is decisive only when its whole confidence interval lies outside
#: this closed band (issue 13): within a factor of two either way, thread placement, the BLAS build
#: and machine load change the answer between runs of the same code, so such a ratio says "about
#: as costly", not "cheaper" or "costlier". A CI that touches 0.5 or 2 is not outside it.
DECISIVE_BAND = (0.5, 2.0)


def _boot_costs(costs: np.ndarray, rng: np.random.Generator, n_boot: int) -> np.ndarray:
    """Bootstrap replicates of a model's cost: the median over repeats of the mean over series.
    ``costs`` is 1-D (one cost per repeat) or 2-D (repeats x series, per-series costs of a local
    model); each replicate resamples the repeats and, for 2-D costs, the series, with replacement."""
    x = costs[:, None] if costs.ndim == 1 else costs
    r, s = x.shape
    out = np.empty(n_boot)
    chunk = max(1, 5_000_000 // max(r * s, 1))  # bound the (draws, repeats, series) index cube
    for start in range(0, n_boot, chunk):
        m = min(n_boot, start + chunk) - start
        ri = rng.integers(0, r, size=(m, r))
        si = rng.integers(0, s, size=(m, s)) if s > 1 else np.zeros((m, 1), dtype=int)
        out[start : start + m] = np.median(x[ri[:, :, None], si[:, None, :]].mean(axis=2), axis=1)
    return out


def ratio_ci(
    model: np.ndarray, reference: np.ndarray, n_boot: int = N_BOOT, level: float = 0.95, seed: int = 0
) -> tuple[float, float, float]:
    """Cost ratio ``model / reference`` and its percentile bootstrap CI at ``level``.

    Each side is 1-D (its cost per repeat, e.g. CPU ms per series) or 2-D (repeats x series: a
    local model's per-series costs, whose mean is its cost per series in that repeat). The point
    estimate is the ratio of the medians over repeats (of the means over series). A replicate
    resamples each side's repeats independently (the two models were timed in separate
    experiments, so their repeats are not paired) and, where per-series costs are given, the
    series too: a local model's cost per series depends on which series it met (auto-ARIMA's
    order search is much longer on some), and that spread belongs in the interval. A global
    model's cost is one fit of the whole panel and cannot be split by series. NaN when a side is
    empty or not positive."""
    a, b = np.asarray(model, dtype=float), np.asarray(reference, dtype=float)
    if a.size == 0 or b.size == 0 or a.ndim > 2 or b.ndim > 2 or not (np.all(a > 0) and np.all(b > 0)):
        return math.nan, math.nan, math.nan
    point = float(np.median(a if a.ndim == 1 else a.mean(axis=1)) / np.median(b if b.ndim == 1 else b.mean(axis=1)))
    rng = np.random.default_rng(seed)
    ratios = _boot_costs(a, rng, n_boot) / _boot_costs(b, rng, n_boot)
    tail = 100 * (1 - level) / 2
    lo, hi = np.percentile(ratios, [tail, 100 - tail])
    return point, float(lo), float(hi)


def ratio_decision(lo: float, hi: float, band: tuple[float, float] = DECISIVE_BAND) -> str:
    """``costlier`` if the ratio's CI lies wholly above the band, ``cheaper`` if wholly below,
    ``indecisive`` otherwise (inside, straddling or touching it, or unknown)."""
    if not (np.isfinite(lo) and np.isfinite(hi)):
        return "indecisive"
    return "costlier" if lo > band[1] else "cheaper" if hi < band[0] else "indecisive"


#: The most index entries one gather of :func:`hierarchical_means` holds at once (resamples x
#: draws x series): 4M int64 indices are 32 MB, so a pool of 3003 series x 3 seeds x 2000
#: resamples is gathered in chunks instead of one 144 MB index cube.
GATHER_LIMIT = 4_000_000


def named_rng(seed: int, *names: str) -> np.random.Generator:
    """A generator seeded by ``seed`` and the names of what it resamples (``crc32`` of the names
    joined by NUL): a table's intervals do not depend on its row order, and rerun they are equal."""
    return np.random.default_rng([seed, zlib.crc32("\0".join(names).encode())])


def hierarchical_means(panels: Sequence[np.ndarray], rng: np.random.Generator, n_boot: int = N_BOOT) -> np.ndarray:
    """Bootstrap replicates of each panel's mean by a two-level resample: seeds, then series.

    ``panels[k]`` is one model's numbers per seed x series, shape ``(S_k, N)`` or ``(S_k, N,
    ...)`` (trailing axes, e.g. one per metric, are carried along); the series axis is the same
    series in every panel. A deterministic model is one seed, ``(1, N)``. Each replicate draws,
    for every panel with more than one seed, ``S_k`` seeds with replacement (independently per
    panel: separate fits), then ``D = max_k S_k`` samples of ``N`` series with replacement, the
    j-th paired with the j-th drawn seed (a panel with fewer seeds cycles through its drawn seeds,
    exact when ``S_k`` divides ``D``); a one-seed panel is averaged over all ``D`` series samples.
    So every panel sees the very same series (the comparison stays paired) and a shock common to
    all series of one seed widens the interval, as a series-only bootstrap cannot.

    Returns ``(n_boot, len(panels), ...)``: each panel's mean over its drawn (seed, series)
    pairs. The draws are made in this order - seeds per panel, then series - so the memory
    study's skill CI (one seeded model against a deterministic floor and optimum,
    :func:`harness.studies.memory_tables.skill_ci`) is exactly what it was before this function.
    """
    arrays = [np.asarray(p, dtype=float) for p in panels]
    n_series = {a.shape[1] for a in arrays}
    if len(n_series) != 1:
        raise ValueError(f"panels differ in their number of series: {sorted(n_series)}")
    (m,) = n_series
    draws = max(a.shape[0] for a in arrays)
    seeds = [rng.integers(0, a.shape[0], size=(n_boot, a.shape[0])) if a.shape[0] > 1 else None for a in arrays]
    out = np.empty((n_boot, len(arrays), *arrays[0].shape[2:]))
    chunk = max(1, GATHER_LIMIT // max(draws * m, 1))
    for start in range(0, n_boot, chunk):
        stop = min(n_boot, start + chunk)
        series = rng.integers(0, m, size=(stop - start, draws, m))
        for k, (a, s) in enumerate(zip(arrays, seeds, strict=True)):
            if s is None:
                out[start:stop, k] = a[0][series].mean(axis=(1, 2))
            else:
                drawn = s[start:stop][:, np.arange(draws) % a.shape[0]]
                out[start:stop, k] = a[drawn[:, :, None], series].mean(axis=(1, 2))
    return out


def boot_interval(point: float, replicates: np.ndarray, level: float = 0.95) -> tuple[float, float, float]:
    """(lo, hi, p) of a bootstrapped difference: the percentile interval at ``level`` and a
    two-sided p by the normal approximation ``z = point / sd(replicates)``. The normal p is used
    rather than the share of replicates beyond zero because that share cannot go below
    ``1 / n_boot``, and Holm's correction over many comparisons needs small p resolved."""
    r = np.asarray(replicates, dtype=float)
    r = r[np.isfinite(r)]
    if len(r) < 2 or not np.isfinite(point):
        return math.nan, math.nan, math.nan
    tail = 100 * (1 - level) / 2
    lo, hi = np.percentile(r, [tail, 100 - tail])
    sd = r.std(ddof=1)
    p = (1.0 if point == 0 else 0.0) if sd == 0 else float(2 * stats.norm.sf(abs(point) / sd))
    return float(lo), float(hi), p


def sign_test(diff: np.ndarray) -> tuple[float, float]:
    """Win rate of ``diff = model - reference`` (< 0 a win, a tie counts half) and the two-sided
    sign-test p (scipy's exact binomial test of wins among the untied series against 1/2). NaN
    without series; p = 1 when every series ties."""
    d = np.asarray(diff, dtype=float)
    d = d[np.isfinite(d)]
    if len(d) == 0:
        return math.nan, math.nan
    wins, losses = int((d < 0).sum()), int((d > 0).sum())
    rate = (wins + 0.5 * (len(d) - wins - losses)) / len(d)
    if wins + losses == 0:
        return rate, 1.0
    return float(rate), float(stats.binomtest(wins, wins + losses, 0.5).pvalue)


def holm(pvalues: Sequence[float] | np.ndarray) -> np.ndarray:
    """Holm-adjusted p-values of one family of tests (statsmodels' ``multipletests``, method
    "holm"); a NaN p (a test that could not be made) stays NaN and is not counted in the family."""
    # statsmodels is imported here, not at the top: its import costs ~0.5 s that only claims pay
    from statsmodels.stats.multitest import multipletests

    p = np.asarray(pvalues, dtype=float)
    out = np.full(p.shape, np.nan)
    ok = np.isfinite(p)
    if ok.any():
        out[ok] = multipletests(p[ok], alpha=ALPHA, method="holm")[1]
    return out
