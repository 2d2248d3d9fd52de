"""The paired tests and intervals the claims use, on per-series numbers: the win rate with its
bootstrap interval, Wilcoxon's signed-rank test, the cross-series Diebold-Mariano test and the
Nemenyi critical difference. Pure functions of arrays (scipy's distributions underneath), so
they are tested on constructed inputs against their textbook values."""

from __future__ import annotations

import math

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


def median_ratio_ci(
    num: np.ndarray, den: np.ndarray, n_boot: int = N_BOOT, seed: int = 0
) -> tuple[float, float, float]:
    """``median(num) / median(den)`` of two independent samples of positive timings (repeats of
    one measurement each) and its 95% percentile bootstrap CI, each sample resampled with
    replacement on its own (``default_rng(seed)``). Medians, because one repeat slowed by another
    process on the machine must not move the ratio. NaN for an empty sample; the caller decides
    whether there are enough repeats for the interval to mean anything."""
    a, b = np.asarray(num, dtype=float), np.asarray(den, dtype=float)
    if len(a) == 0 or len(b) == 0:
        return math.nan, math.nan, math.nan
    rng = np.random.default_rng(seed)
    ma = np.median(a[rng.integers(0, len(a), size=(n_boot, len(a)))], axis=1)
    mb = np.median(b[rng.integers(0, len(b), size=(n_boot, len(b)))], axis=1)
    lo, hi = np.percentile(ma / mb, [2.5, 97.5])
    return float(np.median(a) / np.median(b)), float(lo), float(hi)
