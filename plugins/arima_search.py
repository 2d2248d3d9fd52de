"""How ``arima`` chooses its model: the order-selection steps of R's ``forecast::auto.arima``.

Kept apart from the fitting and forecasting (``plugins/arima.py``) so that each step reads beside
the R function it follows (``docs/arima.md`` compares them row by row): the differencing tests
(``ndiffs``, ``nsdiffs``), the caps on the orders, and the stepwise neighbourhood of Hyndman &
Khandakar (2008). Nothing here fits a model: the search gets a ``fit`` callable that returns a
candidate (with its information criterion ``"ic"``) or None, and caches nothing itself.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterator

import numpy as np

__all__ = [
    "approximates",
    "choose_D",
    "choose_d",
    "difference",
    "final_fits",
    "kpss_pvalue",
    "kpss_rejects",
    "kpss_statistic",
    "order_caps",
    "seasonal_strength",
    "stepwise_search",
]

# KPSS (level stationarity) upper-tail critical values, Kwiatkowski et al. (1992), Table 1.
_KPSS_CRIT = ((0.10, 0.347), (0.05, 0.463), (0.025, 0.574), (0.01, 0.739))

Fit = Callable[[int, int, int, int, bool], "dict | None"]


#: R's auto.arima approximates (CSS criterion in the search) above these: n > 150 or m > 12
APPROXIMATE_ABOVE_N, APPROXIMATE_ABOVE_M = 150, 12


def approximates(n: int, m: int) -> bool:
    """R's default ``approximation = (length(x) > 150 || frequency(x) > 12)``: ``n`` is the
    length of the series given (before any differencing), ``m`` its frequency (season length)."""
    return n > APPROXIMATE_ABOVE_N or m > APPROXIMATE_ABOVE_M


def kpss_statistic(x: np.ndarray) -> float:
    """KPSS level-stationarity statistic (Kwiatkowski et al. 1992) as urca's ``ur.kpss`` with
    ``type="mu"``: Bartlett weights, the short lag window ``trunc(3 sqrt(n) / 13)`` of R's
    ``ndiffs``. 0 when the long-run variance vanishes (nothing to reject)."""
    n = x.size
    e = x - x.mean()
    s = np.cumsum(e)
    eta = float(s @ s) / (n * n)
    nlags = min(int(math.floor(3.0 * math.sqrt(n) / 13.0)), n - 1)
    lrv = float(e @ e)
    for lag in range(1, nlags + 1):
        lrv += 2.0 * (1.0 - lag / (nlags + 1.0)) * float(e[lag:] @ e[:-lag])
    lrv /= n
    return eta / lrv if lrv > 0 else 0.0


def kpss_pvalue(stat: float) -> float:
    """R's ``urca_pval``: the p-value interpolated linearly between the tabulated critical
    values, clamped to [0.01, 0.10] outside them (``approx(..., rule = 2)``)."""
    crit = [c for _, c in _KPSS_CRIT]  # increasing, as np.interp needs
    return float(np.interp(stat, crit, [a for a, _ in _KPSS_CRIT]))


def kpss_rejects(x: np.ndarray, alpha: float) -> bool:
    """True when the KPSS test rejects level stationarity at ``alpha`` (R: p-value < alpha)."""
    return kpss_pvalue(kpss_statistic(x)) < alpha


def choose_d(x: np.ndarray, alpha: float, max_d: int) -> int:
    """``ndiffs``: difference while the KPSS test rejects stationarity, at most ``max_d`` times."""
    d = 0
    while d < max_d and x.size > 3 and np.ptp(x) > 0:
        if not kpss_rejects(x, alpha):
            break
        d += 1
        x = np.diff(x)
    return d


def _nextodd(x: float) -> int:
    """R's ``nextodd``: ``x`` rounded, plus one if even."""
    k = int(round(x))
    return k + 1 if k % 2 == 0 else k


def seasonal_strength(x: np.ndarray, m: int) -> float:
    """Seasonal strength max(0, 1 - Var(R)/Var(S+R)) of R's ``seas.heuristic``, from an STL
    decomposition with the settings of R's ``mstl`` -> ``stl`` for one season: seasonal window
    11, degree 0; trend window ``nextodd(ceiling(1.5 m / (1 - 1.5/11)))``; low-pass window
    ``nextodd(m)`` (``m + 2`` for an odd ``m``: statsmodels needs it above ``m``); each smoother evaluated every ``ceiling(window/10)`` points and interpolated
    between (R's ``s.jump``, ``t.jump``, ``l.jump``; statsmodels' default is every point);
    two inner passes, no robustness iterations (statsmodels' defaults, as R's)."""
    from statsmodels.tsa.seasonal import STL

    seasonal = 11
    trend = _nextodd(math.ceil(1.5 * m / (1.0 - 1.5 / seasonal)))
    # R's l.window is nextodd(m); statsmodels needs low_pass > m, so an odd m takes m + 2
    low_pass = max(_nextodd(m), m + 2 if m % 2 else m + 1)
    fit = STL(
        x,
        period=m,
        seasonal=seasonal,
        trend=trend,
        low_pass=low_pass,
        seasonal_deg=0,
        seasonal_jump=math.ceil(seasonal / 10),
        trend_jump=math.ceil(trend / 10),
        low_pass_jump=math.ceil(low_pass / 10),
    ).fit()
    rem = np.asarray(fit.resid)
    sr = rem + np.asarray(fit.seasonal)
    vsr = float(np.var(sr, ddof=1))
    if vsr <= 0:
        return 0.0
    return max(0.0, min(1.0, 1.0 - float(np.var(rem, ddof=1)) / vsr))


def choose_D(y: np.ndarray, m: int, threshold: float, max_D: int) -> int:
    """``nsdiffs`` with the seasonal-strength test (R's default ``seasonal.test="seas"``):
    difference at lag ``m`` while the strength exceeds ``threshold``, at most ``max_D`` times.
    As R: no test on two seasons or fewer (auto.arima's ``length(x) <= 2m``), a constant
    result stops, and a further difference is tested only on at least two seasons."""
    if max_D < 1 or y.size <= 2 * m:
        return 0
    D = 0
    x = y
    dodiff = _seasonal(x, m, threshold)
    while dodiff and D < max_D:
        D += 1
        x = x[m:] - x[:-m]
        if np.ptp(x) <= 0:
            break
        dodiff = x.size >= 2 * m and D < max_D and _seasonal(x, m, threshold)
    return D


def _seasonal(x: np.ndarray, m: int, threshold: float) -> bool:
    """Whether the strength exceeds ``threshold``; a decomposition that fails means no (R's
    ``nsdiffs``: an error in the test keeps the differences so far, with a warning)."""
    try:
        return seasonal_strength(x, m) > threshold
    except (ValueError, np.linalg.LinAlgError):
        return False


def order_caps(n: int, m: int, max_p: int, max_q: int, max_P: int, max_Q: int) -> tuple[int, int, int, int]:
    """The largest p, q, P, Q searched for a series of ``n`` values with season ``m``."""
    max_p = min(max_p, n // 3)
    max_q = min(max_q, n // 3)
    max_P = min(max_P, n // 3 // m) if m > 1 else 0
    max_Q = min(max_Q, n // 3 // m) if m > 1 else 0
    # R: p and q stay below the season only where a seasonal AR (MA) term can be searched, so
    # that p (q) never reaches a seasonal lag that P (Q) covers.
    if m > 1 and max_P > 0:
        max_p = min(max_p, m - 1)
    if m > 1 and max_Q > 0:
        max_q = min(max_q, m - 1)
    return max_p, max_q, max_P, max_Q


def stepwise_search(
    fit: Fit,
    fitted: Callable[[], int],
    tried: Callable[[tuple], bool],
    caps: tuple[int, int, int, int],
    start: tuple[int, int, int, int],
    consts: tuple[bool, ...],
    n: int,
    nmodels: int,
) -> None:
    """Hyndman-Khandakar stepwise search. ``fit(p, q, P, Q, const)`` fits (once) and returns the
    candidate or None; ``fitted()`` counts the candidates fitted so far, ``tried(key)`` says
    whether one was; the caller ranks what was fitted."""
    max_p, max_q, max_P, max_Q = caps
    start_p, start_q, start_P, start_Q = start
    if n < 10:  # R: a short series starts from (1,d,1) at most, with no seasonal terms
        start_p, start_q, start_P, start_Q = min(start_p, 1), min(start_q, 1), 0, 0
    p, q = min(start_p, max_p), min(start_q, max_q)
    P, Q = min(start_P, max_P), min(start_Q, max_Q)
    c = consts[0]
    best = fit(p, q, P, Q, c)
    cur = (p, q, P, Q, c)
    inits = [(0, 0, 0, 0, c)]
    if max_p > 0 or max_P > 0:
        inits.append((int(max_p > 0), 0, int(max_P > 0), 0, c))
    if max_q > 0 or max_Q > 0:
        inits.append((0, int(max_q > 0), 0, int(max_Q > 0), c))
    if len(consts) == 2:
        inits.append((0, 0, 0, 0, False))
    for spec in inits:
        cand = fit(*spec)
        if cand is not None and (best is None or cand["ic"] < best["ic"]):
            # R: the null model without the constant, when best, moves the orders to zero but
            # not the constant: the neighbours are searched with it (toggling it is a move)
            best, cur = cand, (*spec[:4], c)
    while fitted() < nmodels:
        p, q, P, Q, c = cur
        moves = [
            (p, q, P - 1, Q, c),
            (p, q, P, Q - 1, c),
            (p, q, P + 1, Q, c),
            (p, q, P, Q + 1, c),
            (p, q, P - 1, Q - 1, c),
            (p, q, P - 1, Q + 1, c),
            (p, q, P + 1, Q - 1, c),
            (p, q, P + 1, Q + 1, c),
            (p - 1, q, P, Q, c),
            (p, q - 1, P, Q, c),
            (p + 1, q, P, Q, c),
            (p, q + 1, P, Q, c),
            (p - 1, q - 1, P, Q, c),
            (p - 1, q + 1, P, Q, c),
            (p + 1, q - 1, P, Q, c),
            (p + 1, q + 1, P, Q, c),
        ]
        if len(consts) == 2:
            moves.append((p, q, P, Q, not c))
        improved = False
        for spec in moves:
            sp, sq, sP, sQ, _ = spec
            if not (0 <= sp <= max_p and 0 <= sq <= max_q and 0 <= sP <= max_P and 0 <= sQ <= max_Q):
                continue
            if tried(spec):
                continue
            if fitted() >= nmodels:
                break
            cand = fit(*spec)
            if cand is not None and (best is None or cand["ic"] < best["ic"]):
                best, cur, improved = cand, spec, True
                break
        if not improved:
            break


def difference(y: np.ndarray, d: int, D: int, m: int) -> np.ndarray:
    """``y`` differenced ``D`` times at lag ``m``, then ``d`` times at lag 1."""
    x = y
    for _ in range(D):
        x = x[m:] - x[:-m]
    for _ in range(d):
        x = np.diff(x)
    return x


def final_fits(
    ranked: list[dict], refine: Callable[[dict], dict | None], refit: bool, passed_over: list[str], rule: str = "next"
) -> Iterator[tuple[dict, dict, str]]:
    """The final models to forecast with, best first, as (candidate, parameters, note).

    Without refitting, the candidates as fitted. With it (an approximated search, method
    css-ml), R's rule: each candidate in order of the approximate criterion is refitted exactly
    (``refine``), and one whose refit fails (None: non-finite, an AR or MA root inside
    |z| < 1.01; or an error) is passed over for the next, its order appended to
    ``passed_over``; only when every refit failed are the CSS estimates of the best candidate
    used, as R keeps its approximated fit then (the note says so). ``rule="css"`` (arima's
    rule before issue 12, kept as a parameter because R's costs ~3x the CPU on M3 monthly):
    a candidate whose refit fails keeps its CSS estimates, noted.
    """
    if not refit:
        for cand in ranked:
            yield cand, cand, ""
        return
    exact = False
    for cand in ranked:
        if cand.get("exact"):
            refined = cand
        else:
            try:
                refined = refine(cand)
            except Exception:  # an unfittable refit is a failed one (a time limit is not an Exception)
                refined = None
        if refined is None and rule == "css":
            yield cand, cand, " with CSS estimates (its maximum-likelihood fit was non-finite or unstable)"
            continue
        if refined is None:
            passed_over.append(f"({cand['p']},{cand['q']})({cand['P']},{cand['Q']}){' c' if cand['const'] else ''}")
            continue
        exact = True
        yield cand, refined, ""
    if ranked and not exact:
        yield ranked[0], ranked[0], " with CSS estimates (no candidate's maximum-likelihood fit was finite and stable)"
