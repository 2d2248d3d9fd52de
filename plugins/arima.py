"""The ``arima`` baseline: automatic (S)ARIMA in the style of R's ``forecast::auto.arima``.

Every neural model of the benchmark is compared with, and timed against, this model, so it has to
be accurate (close to statsforecast's AutoARIMA on M3), robust (never raise on a short, constant or
awkward series, never return a non-finite value) and fast. See :class:`AutoArima` for the procedure.
"""

from __future__ import annotations

import math
import warnings
from typing import Any

import numpy as np

import harness
from plugins import arima_search as search

__all__ = ["AutoArima", "register_models"]

_MIN_ROOT = 1.01  # auto.arima rejects AR/MA polynomials with a root inside |z| < 1.01
_IC_NAMES = ("aic", "aicc", "bic")
_METHODS = ("css-ml", "css")


class AutoArima(harness.LocalForecaster):
    """Automatic seasonal ARIMA: Hyndman & Khandakar (2008) stepwise search on statsmodels.

    Model: ``phi(B) Phi(B^m) (1-B)^d (1-B^m)^D (y_t - c_t) = theta(B) Theta(B^m) e_t`` with
    Gaussian errors, ``m = season_length``; ``c_t`` is a mean when ``d+D = 0``, a drift (linear
    trend) when ``d+D = 1`` and absent otherwise (a constant with ``d+D >= 2`` would be a
    quadratic or worse trend, which auto.arima does not allow either).

    Procedure for one series ``y`` (``fit_predict_one``):

    1. **Clean**: non-finite values are dropped. Empty input raises :class:`harness.ModelError`;
       one value or a constant series (all zero included) gives a flat forecast (the constant),
       zero-width interval. **Units**: everything below runs on ``y / mean|y|`` and the
       forecast and interval are multiplied back, so ``y * c`` gives the forecast of ``y``
       times ``c`` (to ~1e-7 relative, the optimisers' tolerance; before, the Kalman filter's
       approximate diffuse start of variance 1e6 and absolute thresholds made the order and
       forecast depend on the units; issue 17: 12.647 sMAPE on 40 M3 series, 12.893 on y * 100).
       A series with fewer than 4 values after differencing is forecast by the naive method
       (with a note): the only model it could fit, ARIMA(0,0,0) without a mean, forecasts 0.
    2. **Seasonal differencing D** (only when ``m > 1``, ``seasonal`` is true and ``n > 2m``, as
       auto.arima): R's ``nsdiffs`` with its default test "seas", the seasonal strength
       ``F_s = max(0, 1 - Var(R) / Var(S + R))`` of an STL decomposition with the settings of
       R's ``mstl``/``stl`` (seasonal window 11, R's trend and low-pass windows and smoother
       jumps; see :func:`plugins.arima_search.seasonal_strength`); ``D = 1`` when
       ``F_s > 0.64`` (Wang, Smith & Hyndman 2006). A decomposition that fails means no
       seasonal difference, as in R.
    3. **Differencing d**: R's ``ndiffs``, the KPSS level-stationarity test on the seasonally
       differenced series, lag window ``trunc(3 sqrt(n)/13)``, its p-value interpolated between
       the tabulated critical values (urca's), differencing while it is below ``alpha`` (5%,
       R's range 0.01-0.1) and ``d < max_d`` or until the series is constant. A unit-root test
       is used because a likelihood cannot compare models with different differencing.
    4. **Order search** on the differenced series ``w`` (computed once, shared by all
       candidates): the stepwise search of Hyndman-Khandakar exactly as auto.arima orders it
       (:func:`plugins.arima_search.stepwise_search`; ``docs/arima.md`` compares each step).
       Start from (2,d,2)(1,D,1) ((1,d,1) without seasonal terms under 10 values) with orders
       capped by ``max_*``, by ``n/3`` (``n/3/m`` for P, Q) and, where P (Q) can be searched,
       ``p (q) <= m-1``; also fit (0,d,0)(0,D,0), (1,d,0)(1,D,0), (0,d,1)(0,D,1) and, when a
       constant is allowed, the null model without it (which, when best, moves the orders but
       not the constant of the search, as in R). Then repeatedly move to the first neighbour
       that lowers the information criterion ``ic`` (AICc by default): P or Q by +-1, both, p or
       q by +-1, both, constant toggled; stop when no neighbour improves or ``nmodels``
       candidates have been fitted. The constant is a mean when ``d+D = 0``, a drift when
       ``d+D = 1`` (R's ``allowmean``/``allowdrift``), never beyond. ``stepwise=False``
       searches all orders with ``p+q+P+Q <= max_order`` instead.
    5. **Candidate fits and the approximation rule.** ``approximation=True`` (the default) as
       R's ``approximation=TRUE``: candidates are estimated by conditional sum of squares (CSS,
       R's method "CSS") on the already differenced, standardised series - the ARMA recursions
       run in C via ``scipy.signal.lfilter`` with an analytic Jacobian, ``least_squares`` from
       zero start values - and compared by ``nstar log(sigma2_CSS) + 2 npar`` plus a constant
       (+ the AICc/BIC corrections; ``npar`` counts sigma2). R adds an offset (-2 loglik of
       ARIMA(0,d,0)(0,D,0) minus ``n log sigma2``) that is the same for every candidate of a
       series, so it never changes the choice and is not computed. ``approximation=False``:
       every candidate is fitted by exact maximum likelihood (R's "CSS-ML") and compared by
       its exact criterion. ``approximation=None`` applies R's default rule, approximate when
       ``n > 150 or m > 12`` (:func:`plugins.arima_search.approximates`; ``n`` the series
       length before differencing, ``m`` the season length). The default stays ``True``,
       measured (``benchmarks/results/arima_fidelity.md``): on M3 monthly R's rule never
       approximates (n <= 144, m = 12), and the exact search was less accurate and ~8x the CPU.
       Candidates with an AR or MA root inside ``|z| < 1.01`` are rejected, as in auto.arima.
    6. **Final fit** (``method="css-ml"``, after an approximated search): as R, the candidates
       are refitted in order of the approximate criterion by exact Gaussian maximum
       likelihood (statsmodels ``SARIMAX`` on the differenced series: no diffuse states; the
       mean as a regression coefficient, the scale concentrated out, CSS estimates as start
       values, at most ``maxiter`` L-BFGS iterations) and the first whose refit is finite and
       has all roots outside ``|z| < 1.01`` is the model (the ones passed over are listed in
       ``last_model["passed_over"]``); only when every refit fails are the CSS estimates of the
       best used (a noted fallback), as R keeps its approximated fit then. ``refit="css"``
       keeps the CSS estimates of a model whose refit failed instead (noted), the rule before
       issue 12: ~3x less CPU on M3 monthly, 0.14 sMAPE worse (benchmarks/results/
       arima_fidelity.md); R's rule is the default because it is the more accurate. The residual
       variance is made unbiased as R's: ``sum(e^2) / (nstar - npar + 1)``.
       ``method="css"`` keeps the CSS estimates (~2.5x faster in all).
    7. **Forecast and interval**: statsmodels ``SARIMAX`` of the full integrated model on the
       series with the deterministic mean/drift removed, run through the Kalman filter at
       the fitted parameters; ``get_forecast`` gives the point forecasts and their variances,
       which include the differencing, so the normal intervals (at each of the run's levels,
       ``self.levels``) widen with the horizon; the mean/drift is added back.
    8. **Fallbacks**, never raising for a usable series, and never silent: an order that cannot
       be fitted (too few observations for its lags, optimiser failure, non-finite output,
       unstable roots) is skipped in the search (that is the search, not a fallback); if the
       forecast of the final model fails, the next models of step 6 are tried (up to 4
       forecasts), then the random walk (naive forecast, interval ``sigma sqrt(h)`` from the
       one-step differences). Each of these returns a :class:`harness.Forecast` whose ``note``
       names what was used and why (``"fallback: naive (ARIMA(2,1,1) failed: LinAlgError:
       ...)"``), shown as the message of the series' ``ok`` row and counted in the report.
       Where R stops ("No suitable ARIMA model found") or fits a model to fewer than 4
       differenced values, this model answers with the naive forecast and says so.
       The harness's time limit is a ``BaseException``: the catch-alls here (``except
       Exception``) let it through, so a series over its limit is a ``timeout`` row, never a
       fallback. Statsmodels convergence and estimation warnings are silenced inside the fit.
       A fixed ``order`` (and ``seasonal_order``) skips steps 2-5: no search, the given
       differencing; its constant defaults to a mean/drift when ``d+D <= 1``. A fixed order
       that cannot be fitted to the series at all (fewer observations after differencing than
       its lags and parameters need, e.g. ``order=[400,0,0]`` on 100 values) raises
       :class:`harness.ModelError` (a ``failed`` row naming the order): it is the user's
       explicit request, and scoring another model under its name would be wrong. One that
       can be attempted but fails to fit falls back to naive with a note, as above.

    Parameters (declared below): ``order``/``seasonal_order`` fixed (p,d,q)/(P,D,Q) or None for
    the search; ``include_constant`` None (choose by ic; for a fixed order: when d+D<=1),
    True or False; ``d``/``D`` None (test) or fixed; ``ic``; ``stepwise``; ``max_p`` ...
    ``max_D``, ``max_order``, ``start_p`` ... ``start_Q``, ``nmodels`` as in auto.arima;
    ``seasonal`` (False: non-seasonal even if m > 1); ``alpha`` of the KPSS test;
    ``seasonal_threshold`` on the seasonal strength; ``approximation`` (True, False, or None
    for R's rule); ``refit`` (next or css); ``method``;
    ``maxiter`` of the final MLE. The interval levels are the run's (``levels`` of the suite).
    """

    name = "arima"
    family = "arima"
    order: tuple[int, int, int] | None = harness.param(
        None, "fixed (p, d, q) order, skipping the search (null: stepwise search)", type=tuple
    )
    seasonal_order: tuple[int, int, int] | None = harness.param(
        None,
        "fixed seasonal (P, D, Q) order, only with order (null: searched, or none when order is fixed)",
        type=tuple,
    )
    include_constant: bool | None = harness.param(
        None, "mean/drift term (null: chosen by ic; for a fixed order, when d+D <= 1)", type=bool
    )
    d: int | None = harness.param(None, "differencing order (null: KPSS tests)", type=int, ge=0)
    D: int | None = harness.param(None, "seasonal differencing order (null: seasonal strength test)", type=int, ge=0)
    ic: str = harness.param("aicc", "information criterion the search minimises", choices=_IC_NAMES)
    stepwise: bool = harness.param(True, "Hyndman-Khandakar stepwise search (false: all orders up to max_order)")
    max_p: int = harness.param(5, "largest AR order searched", ge=0)
    max_q: int = harness.param(5, "largest MA order searched", ge=0)
    max_P: int = harness.param(2, "largest seasonal AR order searched", ge=0)
    max_Q: int = harness.param(2, "largest seasonal MA order searched", ge=0)
    max_order: int = harness.param(5, "largest p+q+P+Q of the non-stepwise search", ge=0)
    max_d: int = harness.param(2, "largest differencing order d the KPSS tests may choose", ge=0)
    max_D: int = harness.param(1, "largest seasonal differencing order D", ge=0)
    start_p: int = harness.param(2, "AR order of the stepwise search's starting model", ge=0)
    start_q: int = harness.param(2, "MA order of the starting model", ge=0)
    start_P: int = harness.param(1, "seasonal AR order of the starting model", ge=0)
    start_Q: int = harness.param(1, "seasonal MA order of the starting model", ge=0)
    nmodels: int = harness.param(94, "most candidate models the stepwise search fits", ge=0)
    seasonal: bool = harness.param(True, "allow seasonal terms (false: non-seasonal even if m > 1)")
    alpha: float = harness.param(
        0.05, "significance level of the KPSS differencing tests (R's range, 0.01 to 0.1)", ge=0.01, le=0.1
    )
    seasonal_threshold: float = harness.param(
        0.64, "seasonal strength above which the series is seasonally differenced", ge=0, le=1
    )
    approximation: bool | None = harness.param(
        True,
        "compare candidates by the fast CSS criterion (false: exact MLE; null: R's rule, n > 150 or m > 12)",
        type=bool,
        nullable=True,
    )
    method: str = harness.param(
        "css-ml", "final fit: css-ml (CSS, then exact maximum likelihood) or css (CSS estimates)", choices=_METHODS
    )
    refit: str = harness.param(
        "next",
        "after an approximated search, a model whose exact refit fails: next (R: the next best is refitted) "
        "or css (its CSS estimates are kept; ~3x less CPU on M3 monthly, 0.14 sMAPE worse)",
        choices=("next", "css"),
    )
    maxiter: int = harness.param(50, "L-BFGS iterations of the final maximum-likelihood fit", ge=0)

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        if self.horizon <= 0:
            raise harness.ModelError(f"arima: horizon must be positive, got {self.horizon}")
        self._order = _check_order(self.order, "order")
        self._sorder = _check_order(self.seasonal_order, "seasonal_order")
        if self._sorder is not None and self._order is None:
            raise harness.ModelError("arima: seasonal_order needs order as well")
        self.last_model: dict[str, Any] | None = None  # what the last call fitted, for inspection
        _import_statsmodels()

    # ------------------------------------------------------------------ public entry point
    def fit_predict_one(self, y: np.ndarray) -> harness.Forecast:
        y = np.asarray(y, dtype=float).reshape(-1)
        y = y[np.isfinite(y)]
        h = self.horizon
        if y.size == 0:
            raise harness.ModelError("arima: the series has no finite values")
        scale = float(np.max(np.abs(y)))
        if y.size == 1 or np.ptp(y) <= 1e-12 * scale:  # constant (all zero included): relative, unit-free
            self.last_model = {"kind": "constant"}
            return harness.Forecast.normal(np.full(h, float(np.mean(y))), np.zeros(h), self.levels)
        # Units must not matter: fit and forecast y / scale, then scale the forecast back. Every
        # step is equivariant in exact arithmetic, but the numerics are not (the Kalman filter's
        # approximate diffuse start of variance 1e6, optimiser tolerances, thresholds), so without
        # this y * 100 and y gave different orders and forecasts.
        scale = float(np.mean(np.abs(y)))
        # The time limit (harness UnitTimeout) is a BaseException: it passes the catch-alls below
        # and stops the fit, rather than turning into a fallback.
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            with np.errstate(all="ignore"):
                try:
                    fc = self._forecast(y / scale)
                except harness.ModelError:
                    raise
                except Exception as exc:  # any failure falls back to naive, saying so
                    fc = self._naive(y / scale, _why(exc))
        if self.last_model is not None:
            self.last_model["scale"] = scale
        intervals = {level: (lower * scale, upper * scale) for level, (lower, upper) in fc.intervals.items()}
        return harness.Forecast(fc.mean * scale, note=fc.note, intervals=intervals)

    # ------------------------------------------------------------------ procedure
    def _forecast(self, y: np.ndarray) -> harness.Forecast:
        m = self.season_length if (self.season_length > 1 and self.seasonal) else 1
        n = y.size
        # R's default decides by the series length and its frequency (not the m searched)
        approx = search.approximates(n, self.season_length) if self.approximation is None else self.approximation
        if self._order is not None:
            p, d, q = self._order
            P, D, Q = self._sorder if (self._sorder is not None and m > 1) else (0, 0, 0)
            if m == 1:
                P = D = Q = 0
            const = (d + D <= 1) if self.include_constant is None else bool(self.include_constant) and d + D <= 1
            # A fixed order is the user's explicit request: one that cannot be fitted to this
            # series at all (too few observations for its lags) is an error, not another model.
            w = search.difference(y, d, D, m)
            need = max(p + m * P + p + q + P + Q + int(const) + 3, 2)
            if w.size < need:
                raise harness.ModelError(
                    f"arima: {_label(p, d, q, P, D, Q, m, const)} cannot be fitted to a series of {n} values: "
                    f"it needs at least {need} values after differencing, the series has {w.size}"
                )
            searcher = _Search(w, m, self.ic, approx, self.maxiter)
            cand = searcher.fit(p, q, P, Q, const)
            if cand is None:
                return self._naive(
                    y, f"{_label(p, d, q, P, D, Q, m, const)} cannot be fitted: no stable, finite CSS estimate"
                )
            ranked = [cand]
        else:
            D = self._choose_D(y, m)
            d = self._choose_d(search.difference(y, 0, D, m))
            w = search.difference(y, d, D, m)
            if w.size < 4:  # fewer cannot fit even a mean: ARIMA(0,0,0) without one forecasts 0
                return self._naive(y, f"{n} values, {w.size} after differencing: too few for an ARIMA model")
            searcher = _Search(w, m if D > 0 or self.max_P + self.max_Q > 0 else 1, self.ic, approx, self.maxiter)
            if np.ptp(w) <= 1e-12 * float(np.max(np.abs(y))):
                # the differenced series is constant (an exact trend or seasonal pattern): the
                # exact (0,d,0)(0,D,0) model, with its drift/mean when d+D <= 1, tiny noise
                const = d + D <= 1
                ranked = [
                    {
                        "p": 0,
                        "q": 0,
                        "P": 0,
                        "Q": 0,
                        "const": const,
                        "ar": _EMPTY,
                        "ma": _EMPTY,
                        "sar": _EMPTY,
                        "sma": _EMPTY,
                        "mean": float(w[0]) if const else 0.0,
                        "sigma2": 1e-12 * max(float(np.var(y)), 1e-300),
                        "ic": -math.inf,
                        "exact": True,
                    }
                ]
            else:
                ranked = self._search(searcher, n, m, d, D)
        failed: list[str] = []  # what was tried before the forecast that is returned, and why it failed
        refit = self.method == "css-ml" and approx
        passed_over: list[str] = []  # candidates whose exact refit failed (R moves on to the next best)
        for cand, params, how in search.final_fits(ranked, searcher.refine, refit, passed_over, self.refit):
            if len(failed) >= 4:  # four forecasts failed: the naive method below
                break
            label = _label(cand["p"], d, cand["q"], cand["P"], D, cand["Q"], searcher.m, cand["const"])
            try:
                fc = _sarimax_forecast(y, params, d, D, m, self.horizon, self.levels)
            except Exception as exc:  # try the next candidate (a time limit is not an Exception)
                failed.append(f"{label} failed: {_why(exc)}")
                continue
            if fc is None:
                failed.append(f"{label} failed: non-finite forecast")
                continue
            self.last_model = {
                "kind": "arima",
                "order": (cand["p"], d, cand["q"]),
                "seasonal_order": (cand["P"], D, cand["Q"], m),
                "constant": cand["const"],
                "ic": cand["ic"],
                "n_candidates": len(searcher.cache),
                "params": params,
                "passed_over": passed_over,
                "approximation": approx,
            }
            if failed or how:
                why = f" ({'; '.join(failed)})" if failed else ""
                fc = harness.Forecast(fc.mean, note=f"fallback: {label}{how}{why}", intervals=fc.intervals)
            return fc
        if not ranked:
            failed.append("no ARIMA candidate could be fitted")
        return self._naive(y, "; ".join(failed))

    def _choose_D(self, y: np.ndarray, m: int) -> int:
        if m == 1:
            return 0
        if self.D is not None:
            return int(self.D)
        return search.choose_D(y, m, self.seasonal_threshold, self.max_D)

    def _choose_d(self, x: np.ndarray) -> int:
        if self.d is not None:
            return int(self.d)
        return search.choose_d(x, self.alpha, self.max_d)

    def _search(self, s: _Search, n: int, m: int, d: int, D: int) -> list[dict]:
        caps = search.order_caps(n, m, self.max_p, self.max_q, self.max_P, self.max_Q)
        if self.include_constant is None:
            consts = (True, False) if d + D <= 1 else (False,)
        else:
            consts = (bool(self.include_constant) and d + D <= 1,)
        if not self.stepwise:
            max_p, max_q, max_P, max_Q = caps
            for p in range(max_p + 1):
                for q in range(max_q + 1):
                    for P in range(max_P + 1):
                        for Q in range(max_Q + 1):
                            if p + q + P + Q <= self.max_order:
                                for c in consts:
                                    s.fit(p, q, P, Q, c)
            return s.ranked()
        start = (self.start_p, self.start_q, self.start_P, self.start_Q)
        search.stepwise_search(
            s.fit, lambda: len(s.cache), lambda spec: s.key(*spec) in s.cache, caps, start, consts, n, self.nmodels
        )
        return s.ranked()

    def _naive(self, y: np.ndarray, why: str) -> harness.Forecast:
        """Random walk: last value, interval sigma*sqrt(h) with sigma from the one-step changes."""
        self.last_model = {"kind": "naive", "reason": why}
        note = f"fallback: naive ({why})"
        h = self.horizon
        mean = np.full(h, float(y[-1]))
        sigma = float(np.sqrt(np.mean(np.diff(y) ** 2))) if y.size > 1 else 0.0
        if not np.isfinite(sigma):
            sigma = 0.0
        return harness.Forecast.normal(mean, sigma * np.sqrt(np.arange(1, h + 1)), self.levels, note=note)


# ---------------------------------------------------------------------- helpers
def _import_statsmodels() -> None:
    """Import what a fit uses from scipy and statsmodels (~1 s, once per process) when the model is built,
    outside any time limit: an import interrupted half-way by the harness's time limit leaves a
    half-initialised module (``patsy``) behind, and every later fit of that process failed on it
    and fell back to naive. Not at plugin load, so commands that never fit arima stay fast."""
    import scipy.optimize  # noqa: F401  (the fits' least squares and filters, ~0.3 s)
    import scipy.signal  # noqa: F401
    import scipy.special  # noqa: F401
    import statsmodels.base.covtype  # noqa: F401  (imported by the first fit otherwise)
    import statsmodels.tsa.seasonal  # noqa: F401
    import statsmodels.tsa.statespace.kalman_filter  # noqa: F401
    import statsmodels.tsa.statespace.sarimax  # noqa: F401


def least_squares(*args: Any, **kwargs: Any) -> Any:
    """``scipy.optimize.least_squares``, imported on first use (loaded when the model is built,
    by :func:`_import_statsmodels`): scipy costs ~0.3 s, which loading the plugin must not."""
    from scipy.optimize import least_squares as solve

    return solve(*args, **kwargs)


def _why(exc: Exception) -> str:
    """An exception as a short, one-line reason."""
    text = " ".join(str(exc).split())
    return f"{type(exc).__name__}: {text[:200]}" if text else type(exc).__name__


def _label(p: int, d: int, q: int, P: int, D: int, Q: int, m: int, const: bool) -> str:
    """An order as forecast::auto.arima prints it: ARIMA(2,1,1)(0,1,1)[12] with drift."""
    out = f"ARIMA({p},{d},{q})"
    if m > 1 and P + D + Q > 0:
        out += f"({P},{D},{Q})[{m}]"
    if const:
        out += " with drift" if d + D == 1 else " with non-zero mean"
    return out


def _check_order(order: Any, what: str) -> tuple[int, int, int] | None:
    if order is None:
        return None
    try:
        vals = tuple(int(v) for v in order)
    except (TypeError, ValueError):
        raise harness.ModelError(f"arima: {what} must be a tuple of non-negative integers, got {order!r}") from None
    if len(vals) == 4:  # (P, D, Q, m) as statsmodels writes it: m comes from season_length
        vals = vals[:3]
    if len(vals) != 3 or min(vals) < 0:
        raise harness.ModelError(f"arima: {what} must be (p, d, q) with non-negative integers, got {order!r}")
    return vals  # type: ignore[return-value]


_EMPTY = np.zeros(0)
_ONE = np.ones(1)


def _seasonal_filter(x: np.ndarray, poly: np.ndarray, m: int) -> np.ndarray:
    """poly(B^m) x, with poly in powers of B^m (lowest first), truncated to len(x)."""
    if poly.size == 1:
        return x
    full = np.zeros((poly.size - 1) * m + 1)
    full[::m] = poly
    return np.convolve(x, full)[: x.size]


def _expand(coefs: np.ndarray, scoefs: np.ndarray, m: int, sign: float) -> np.ndarray:
    """Polynomial 1 + sign*(c1 B + ...) times 1 + sign*(C1 B^m + ...), lowest power first."""
    a = np.empty(coefs.size + 1)
    a[0] = 1.0
    a[1:] = sign * coefs
    if scoefs.size:
        s = np.zeros(scoefs.size * m + 1)
        s[0] = 1.0
        s[m::m] = sign * scoefs
        a = np.convolve(a, s)
    return a


def _min_root(poly: np.ndarray) -> float:
    nz = np.nonzero(np.abs(poly[1:]) > 1e-8)[0]
    if nz.size == 0:
        return math.inf
    roots = np.roots(poly[: nz[-1] + 2][::-1])
    return float(np.min(np.abs(roots))) if roots.size else math.inf


class _Search:
    """Fits ARMA candidates to the differenced series ``w`` once each (cached by order)."""

    def __init__(self, w: np.ndarray, m: int, ic: str, approximation: bool, maxiter: int) -> None:
        self.m = m
        self.ic = ic
        self.approximation = approximation
        self.maxiter = maxiter
        self.scale = float(np.std(w)) or 1.0
        self.z = w / self.scale  # scaled: parameters and tolerances are scale free
        self.zmean = float(np.mean(self.z))
        self.nstar = w.size
        self.cache: dict[tuple, dict | None] = {}

    @staticmethod
    def key(p: int, q: int, P: int, Q: int, const: bool) -> tuple:
        return (p, q, P, Q, bool(const))

    def ranked(self) -> list[dict]:
        fits = [f for f in self.cache.values() if f is not None and np.isfinite(f["ic"])]
        return sorted(fits, key=lambda f: f["ic"])

    def fit(self, p: int, q: int, P: int, Q: int, const: bool) -> dict | None:
        key = self.key(p, q, P, Q, const)
        if key not in self.cache:
            try:
                fit = self._css(p, q, P, Q, bool(const))
                if fit is not None and not self.approximation:
                    fit = self.refine(fit)
            except Exception:  # an unfittable order is skipped
                fit = None
            self.cache[key] = fit
        return self.cache[key]

    # -- conditional sum of squares on the standardised differenced series
    def _css(self, p: int, q: int, P: int, Q: int, const: bool) -> dict | None:
        from scipy.signal import lfilter  # loaded when the model is built (_import_statsmodels)

        m, z = self.m, self.z
        ncond = p + m * P
        k = p + q + P + Q + int(const)
        nz = z.size
        n_used = nz - ncond
        if n_used < k + 3:
            return None

        def unpack(x: np.ndarray) -> tuple:
            return x[:p], x[p : p + q], x[p + q : p + q + P], x[p + q + P : p + q + P + Q], (x[-1] if const else 0.0)

        ones = np.ones(nz)
        state: dict[str, Any] = {}

        def compute(x: np.ndarray) -> dict:
            """Residuals e = (phi Phi / theta Theta)(z - mu), conditional on e_t = 0, t < ncond."""
            if state.get("x") is not None and np.array_equal(state["x"], x):
                return state
            ar, ma, sar, sma, mu = unpack(x)
            a_reg, a_sea = _expand(ar, _EMPTY, 1, -1.0), _expand(sar, _EMPTY, 1, -1.0)
            b_reg, b_sea = _expand(ma, _EMPTY, 1, 1.0), _expand(sma, _EMPTY, 1, 1.0)
            a = _expand(ar, sar, m, -1.0)
            b = _expand(ma, sma, m, 1.0)
            xz = z - mu
            u = np.convolve(xz, a)[:nz] if p + P else xz.copy()
            u[:ncond] = 0.0
            e = lfilter(_ONE, b, u) if q + Q else u
            state.update(x=x.copy(), e=e, xz=xz, a=a, b=b, a_reg=a_reg, a_sea=a_sea, b_reg=b_reg, b_sea=b_sea)
            return state

        def resid(x: np.ndarray) -> np.ndarray:
            e = compute(x)["e"][ncond:]
            if not np.all(np.isfinite(e)):
                e = np.nan_to_num(e, nan=1e6, posinf=1e6, neginf=-1e6)
            return e

        def jac(x: np.ndarray) -> np.ndarray:
            """Exact Jacobian of the conditional residuals: derivatives of the filter input,
            stacked, pushed through 1/(theta Theta) in one 2-D lfilter call."""
            st = compute(x)
            e, xz, b = st["e"], st["xz"], st["b"]
            g = np.zeros((k, nz))
            row = 0
            if p:  # d u / d phi_j = -B^j Phi(B^m) x
                r = _seasonal_filter(xz, st["a_sea"], m)
                for j in range(1, p + 1):
                    g[row, j:] = -r[: nz - j]
                    row += 1
            if q:  # b e = u  =>  b de = -B^j Theta(B^m) e
                r = _seasonal_filter(e, st["b_sea"], m)
                for j in range(1, q + 1):
                    g[row, j:] = -r[: nz - j]
                    row += 1
            if P:
                r = np.convolve(xz, st["a_reg"])[:nz]
                for j in range(1, P + 1):
                    g[row, m * j :] = -r[: nz - m * j]
                    row += 1
            if Q:
                r = np.convolve(e, st["b_reg"])[:nz]
                for j in range(1, Q + 1):
                    g[row, m * j :] = -r[: nz - m * j]
                    row += 1
            if const:
                g[row] = -(np.convolve(ones, st["a"])[:nz] if p + P else ones)
            g[:p, :ncond] = 0.0  # the AR and mean rows act on u, which is zero before ncond
            g[p + q : p + q + P, :ncond] = 0.0
            if const:
                g[-1, :ncond] = 0.0
            if q + Q:
                g = lfilter(_ONE, b, g, axis=1)
            out = g[:, ncond:].T
            if not np.all(np.isfinite(out)):
                out = np.nan_to_num(out, nan=0.0, posinf=1e6, neginf=-1e6)
            return out

        x = np.zeros(k)
        if const:
            x[-1] = self.zmean
        if k:
            sol = least_squares(resid, x, jac=jac, method="lm", xtol=1e-6, ftol=1e-6, max_nfev=50)
            x = sol.x
        e = resid(x)
        ss = float(e @ e)
        if not np.isfinite(ss) or ss <= 0:
            return None
        ar, ma, sar, sma, mu = unpack(x)
        phi, theta = _expand(ar, sar, m, -1.0), _expand(ma, sma, m, 1.0)
        if min(_min_root(phi), _min_root(theta)) < _MIN_ROOT:
            return None
        sigma2 = ss / n_used
        npar = k + 1
        ic = self._criterion(self.nstar * (math.log(2 * math.pi * sigma2) + 1.0), npar)
        return {
            "p": p,
            "q": q,
            "P": P,
            "Q": Q,
            "const": const,
            "ar": ar.copy(),
            "ma": ma.copy(),
            "sar": sar.copy(),
            "sma": sma.copy(),
            "mean": self.scale * float(mu),
            "sigma2": self.scale**2 * ss / max(self.nstar - npar + 1, 1),
            "ic": ic,
        }

    def _criterion(self, m2ll: float, npar: int) -> float:
        aic = m2ll + 2 * npar
        if self.ic == "aic":
            return aic
        if self.ic == "bic":
            return aic + npar * (math.log(self.nstar) - 2)
        den = self.nstar - npar - 1
        return aic + 2 * npar * (npar + 1) / den if den > 0 else math.inf

    # -- exact Gaussian MLE (statsmodels SARIMAX) on the differenced series, from CSS values
    def refine(self, fit: dict) -> dict | None:
        from statsmodels.tsa.statespace.sarimax import SARIMAX

        p, q, P, Q, const = fit["p"], fit["q"], fit["P"], fit["Q"], fit["const"]
        k = p + q + P + Q
        if k == 0 and not const:
            return fit
        m = self.m
        z = self.z
        mod = SARIMAX(
            z,
            exog=np.ones(z.size) if const else None,
            order=(p, 0, q),
            seasonal_order=(P, 0, Q, m) if P + Q else (0, 0, 0, 0),
            trend="n",
            enforce_stationarity=True,
            enforce_invertibility=True,
            concentrate_scale=True,
        )
        start = np.r_[([fit["mean"] / self.scale] if const else []), fit["ar"], fit["ma"], fit["sar"], fit["sma"]]
        mod.ssm.tolerance = 1e-7  # steady-state Kalman gain once converged: far fewer updates
        res = mod.fit(
            start_params=start, method="lbfgs", maxiter=self.maxiter, disp=False, cov_type="none", factr=1e9, pgtol=1e-4
        )
        x = np.asarray(res.params, dtype=float)
        llf = float(res.llf)
        if not (np.all(np.isfinite(x)) and np.isfinite(llf)):
            return None
        off = int(const)
        ar, ma = x[off : off + p], x[off + p : off + p + q]
        sar, sma = x[off + p + q : off + p + q + P], x[off + p + q + P : off + k]
        phi, theta = _expand(ar, sar, m, -1.0), _expand(ma, sma, m, 1.0)
        if min(_min_root(phi), _min_root(theta)) < _MIN_ROOT:
            return None
        npar = k + int(const) + 1
        out = dict(fit)
        out.update(
            ar=ar,
            ma=ma,
            sar=sar,
            sma=sma,
            mean=self.scale * float(x[0]) if const else 0.0,
            # R (myarima): the residual variance made unbiased, sum(e^2) / (nstar - npar + 1); the
            # concentrated maximum-likelihood scale is sum(e^2) / nstar. Only the intervals use it.
            sigma2=self.scale**2 * float(res.scale) * self.nstar / max(self.nstar - npar + 1, 1),
            ic=fit["ic"] if self.approximation else self._criterion(-2.0 * llf, npar),
        )
        return out


def _conserve_flags() -> int:
    from statsmodels.tsa.statespace import kalman_filter as kf

    return (
        kf.MEMORY_NO_FILTERED
        | kf.MEMORY_NO_GAIN
        | kf.MEMORY_NO_SMOOTHING
        | kf.MEMORY_NO_STD_FORECAST
        | kf.MEMORY_NO_PREDICTED
    )


def _sarimax_forecast(
    y: np.ndarray, fit: dict, d: int, D: int, m: int, h: int, levels: tuple[float, ...]
) -> harness.Forecast | None:
    """Forecast the integrated model with statsmodels' Kalman filter at fixed parameters."""
    from statsmodels.tsa.statespace.sarimax import SARIMAX

    n = y.size
    t = np.arange(n + h, dtype=float)
    mu = fit["mean"] if fit["const"] else 0.0
    if d + D == 0:
        det = np.full(n + h, mu)
    elif d + D == 1:
        det = mu * t / (m if D == 1 else 1)
    else:
        det = np.zeros(n + h)
    p, q, P, Q = fit["p"], fit["q"], fit["P"], fit["Q"]
    seasonal = (P, D, Q, m) if m > 1 and (P + D + Q) > 0 else (0, 0, 0, 0)
    mod = SARIMAX(
        y - det[:n],
        order=(p, d, q),
        seasonal_order=seasonal,
        trend="n",
        enforce_stationarity=False,
        enforce_invertibility=False,
    )
    # Only the last predicted state feeds the forecast: keeping every step's state covariance
    # costs n x k^2 floats (9 GB per process for a period-192 seasonal AR(2) on 2300 values) and
    # 3-4x the time. Same forecasts and variances, bit for bit.
    mod.ssm.set_conserve_memory(_conserve_flags())
    params = np.r_[fit["ar"], fit["ma"], fit["sar"], fit["sma"], fit["sigma2"]]
    res = mod.filter(params, cov_type="none")
    pred = res.get_forecast(h)
    mean = np.asarray(pred.predicted_mean, dtype=float) + det[n:]
    var = np.asarray(pred.var_pred_mean, dtype=float)
    if not (np.all(np.isfinite(mean)) and np.all(np.isfinite(var))):
        return None
    return harness.Forecast.normal(mean, np.sqrt(np.maximum(var, 0.0)), levels)


@harness.hookimpl
def register_models(register: Any) -> None:
    register(AutoArima)
