"""The steps where ``arima`` follows R's ``forecast::auto.arima`` (docs/arima.md), each on a small
constructed case: the approximation rule, the stepwise neighbourhood and its start, the order
caps, the constant/drift rule by d+D, the exact refit passing over a failed candidate, the
unbiased residual variance, the KPSS p-value and the STL settings of the seasonal test."""

from __future__ import annotations

import numpy as np
import pytest

import harness
import plugins.arima as arima
from plugins import arima_search as search
from plugins.arima import AutoArima

# --- the approximation rule: R's approximation = (length(x) > 150 || frequency(x) > 12) ---------


@pytest.mark.parametrize(
    "n, m, expected",
    [
        (150, 1, False),
        (151, 1, True),
        (150, 12, False),
        (40, 12, False),
        (40, 13, True),
        (151, 12, True),
        (3, 52, True),
    ],
)
def test_r_approximation_rule(n, m, expected):
    assert search.approximates(n, m) is expected


def _count_refits(monkeypatch) -> list[int]:
    calls = []
    real = arima._Search.refine

    def counting(self, fit):
        calls.append(1)
        return real(self, fit)

    monkeypatch.setattr(arima._Search, "refine", counting)
    return calls


@pytest.mark.parametrize("n, m, approx", [(150, 1, False), (151, 1, True), (48, 12, False), (48, 13, True)])
def test_auto_approximation_switches_exactly_at_n_150_and_m_12(monkeypatch, n, m, approx):
    """null ("auto") approximates exactly when R would: the search then refits only the chosen
    model by maximum likelihood; without approximation every candidate is fitted by it."""
    rng = np.random.default_rng(n + m)
    y = 10 + np.cumsum(rng.standard_normal(n)) * 0.3 + np.sin(np.arange(n) * 2 * np.pi / m)
    calls = _count_refits(monkeypatch)
    model = AutoArima(horizon=3, season_length=m, approximation=None)
    model.fit_predict_one(y)
    info = model.last_model
    assert info["kind"] == "arima" and info["approximation"] is approx
    if approx:  # one exact refit, plus one for each candidate passed over
        assert len(calls) == 1 + len(info["passed_over"])
    else:  # every candidate the search fitted (some may fail before the refinement)
        assert len(calls) >= 5 and len(calls) > info["n_candidates"] // 2


def test_explicit_approximation_overrides_the_rule():
    y = np.cumsum(np.random.default_rng(1).standard_normal(200))
    for value in (True, False):
        model = AutoArima(horizon=3, season_length=1, approximation=value)
        model.fit_predict_one(y[:60])
        assert model.last_model["approximation"] is value
    with pytest.raises(harness.ModelError):
        AutoArima(horizon=3, season_length=1, approximation="auto")  # null is R's rule


# --- the stepwise neighbourhood -----------------------------------------------------------------


def _run_stepwise(ic, caps, consts=(True, False), n=100, start=(2, 2, 1, 1), nmodels=94):
    order, cache = [], {}

    def fit(p, q, P, Q, c):
        key = (p, q, P, Q, bool(c))
        assert key not in cache, f"{key} fitted twice"
        order.append(key)
        value = ic(*key)
        cache[key] = None if value is None else {"ic": value}
        return cache[key]

    search.stepwise_search(fit, lambda: len(cache), lambda k: tuple(k) in cache, caps, start, consts, n, nmodels)
    return order, cache


def test_stepwise_visits_r_start_models_and_moves_in_r_order():
    """A bowl with its minimum at ARIMA(3,d,1) with constant; R's auto.arima fits exactly
    this sequence: the start (2,2), the null, AR(1), MA(1) and null without constant, then
    p-1, q-1, p+1, q+1, both, and the constant toggled, moving on at the first improvement."""

    def ic(p, q, P, Q, c):
        return (p - 3) ** 2 + (q - 1) ** 2 + (0.0 if c else 0.5)

    order, _ = _run_stepwise(ic, (5, 5, 0, 0))
    T, F = True, False
    expected = [
        (2, 2, T),
        (0, 0, T),
        (1, 0, T),
        (0, 1, T),
        (0, 0, F),  # the start models
        (1, 2, T),
        (2, 1, T),  # q-1 improves: move
        (1, 1, T),
        (2, 0, T),
        (3, 1, T),  # p+1 improves: move
        (3, 0, T),
        (4, 1, T),
        (3, 2, T),
        (4, 0, T),
        (4, 2, T),
        (3, 1, F),  # the constant toggled; nothing improved: stop
    ]
    assert order == [(p, q, 0, 0, c) for p, q, c in expected]


def test_stepwise_seasonal_moves_come_first_and_respect_the_caps():
    def ic(p, q, P, Q, c):
        return abs(p - 1) + abs(q - 1) + abs(P - 0) + abs(Q - 2) + (0 if c else 1)

    order, cache = _run_stepwise(ic, (2, 2, 1, 2))
    assert order[:5] == [
        (2, 2, 1, 1, True),
        (0, 0, 0, 0, True),
        (1, 0, 1, 0, True),
        (0, 1, 0, 1, True),
        (0, 0, 0, 0, False),
    ]
    assert order[5] == (0, 1, 0, 0, True)  # from the best start, MA(1)(1): Q-1 before any p, q move
    best = min((v["ic"], k) for k, v in cache.items() if v)[1]
    assert best == (1, 1, 0, 2, True)
    assert all(p <= 2 and q <= 2 and P <= 1 and Q <= 2 for p, q, P, Q, _ in order)


def test_stepwise_null_without_constant_keeps_the_constant_of_the_neighbourhood():
    """R: when the null model without constant is best among the start models, the orders go
    to zero but the search goes on with the constant (its toggle is already fitted)."""

    def ic(p, q, P, Q, c):
        return 0.0 if (p, q, P, Q, c) == (0, 0, 0, 0, False) else 1.0 + p + q + P + Q

    order, _ = _run_stepwise(ic, (5, 5, 2, 2))
    assert order[5] == (0, 0, 1, 0, True)  # P+1 from (0,0,0,0) with the constant
    assert all(c for *_, c in order[5:])


def test_stepwise_short_series_start_and_nmodels_cap():
    order, _ = _run_stepwise(lambda *k: 1.0, (3, 3, 1, 1), n=9)
    assert order[0] == (1, 1, 0, 0, True)  # n < 10: (1,d,1) at most, no seasonal terms
    order, cache = _run_stepwise(lambda p, q, P, Q, c: -(p + q + P + Q), (5, 5, 2, 2), nmodels=12)
    assert len(cache) == 12


def test_order_caps_as_r():
    assert search.order_caps(30, 1, 5, 5, 2, 2) == (5, 5, 0, 0)
    assert search.order_caps(12, 1, 5, 5, 2, 2) == (4, 4, 0, 0)  # floor(n/3)
    assert search.order_caps(100, 4, 5, 5, 2, 2) == (3, 3, 2, 2)  # m-1 with seasonal terms
    assert search.order_caps(100, 4, 5, 5, 0, 2) == (5, 3, 0, 2)  # p not capped: no P to search
    assert search.order_caps(60, 12, 5, 5, 2, 2) == (5, 5, 1, 1)  # floor(n/3/m)


# --- constants and drift: mean when d+D = 0, drift when d+D = 1, none beyond ------------------


def _constants_tried(monkeypatch, **params) -> set[bool]:
    seen = set()
    real = arima._Search.fit

    def recording(self, p, q, P, Q, const):
        seen.add(bool(const))
        return real(self, p, q, P, Q, const)

    monkeypatch.setattr(arima._Search, "fit", recording)
    y = 0.4 * np.arange(80) + np.cumsum(np.random.default_rng(4).standard_normal(80))
    AutoArima(horizon=3, season_length=1, **params).fit_predict_one(y)
    return seen


@pytest.mark.parametrize("d, expected", [(0, {True, False}), (1, {True, False}), (2, {False})])
def test_constant_is_searched_only_when_d_plus_D_is_at_most_one(monkeypatch, d, expected):
    assert _constants_tried(monkeypatch, d=d) == expected


def test_drift_is_kept_on_a_random_walk_with_drift():
    y = 2.0 * np.arange(120) + np.cumsum(np.random.default_rng(5).standard_normal(120))
    model = AutoArima(horizon=5, season_length=1)
    fc = model.fit_predict_one(y)
    assert model.last_model["order"][1] == 1 and model.last_model["constant"]
    assert np.all(np.diff(fc.mean) > 1.0)  # the forecast keeps climbing about 2 a step


# --- the exact refit: a failed candidate is passed over for the next best ---------------------


def test_a_failed_exact_refit_passes_to_the_next_best_candidate(monkeypatch):
    y = np.cumsum(np.random.default_rng(6).standard_normal(90)) + 40
    real = arima._Search.refine
    calls = []

    def first_fails(self, fit):
        calls.append((fit["p"], fit["q"], fit["const"]))
        return None if len(calls) == 1 else real(self, fit)

    monkeypatch.setattr(arima._Search, "refine", first_fails)
    model = AutoArima(horizon=4, season_length=1)
    fc = model.fit_predict_one(y)
    info = model.last_model
    first = calls[0]  # the best candidate by the approximate criterion, its refit failed
    assert (info["order"][0], info["order"][2], info["constant"]) == calls[-1] != first
    assert len(info["passed_over"]) == len(calls) - 1 >= 1
    assert fc.note == ""  # R's procedure, not a fallback
    assert np.all(np.isfinite(fc.mean))


def test_refit_css_keeps_the_best_with_its_css_estimates(monkeypatch):
    """The cheaper rule kept as a parameter: the best candidate, CSS estimates, noted."""
    y = np.cumsum(np.random.default_rng(6).standard_normal(90)) + 40
    real = arima._Search.refine
    calls = []

    def first_fails(self, fit):
        calls.append((fit["p"], fit["q"], fit["const"]))
        return None if len(calls) == 1 else real(self, fit)

    monkeypatch.setattr(arima._Search, "refine", first_fails)
    model = AutoArima(horizon=4, season_length=1, refit="css")
    fc = model.fit_predict_one(y)
    assert len(calls) == 1 and (model.last_model["order"][0], model.last_model["order"][2]) == calls[0][:2]
    assert fc.note.startswith("fallback: ARIMA(") and "with CSS estimates" in fc.note, fc.note
    assert model.last_model["passed_over"] == []


def test_the_exact_fit_residual_variance_is_unbiased_as_r():
    """R's myarima: sigma2 = sum(e^2) / (nstar - npar + 1). White noise with a mean: the ML mean
    is the sample mean, npar = 2 (mean, sigma2), so sigma2 is the sample variance (ddof 1)."""
    y = 5 + np.random.default_rng(7).standard_normal(200)
    model = AutoArima(horizon=2, season_length=1, order=(0, 0, 0))
    model.fit_predict_one(y)
    sigma2 = model.last_model["params"]["sigma2"] * model.last_model["scale"] ** 2
    np.testing.assert_allclose(sigma2, np.var(y, ddof=1), rtol=2e-4)
    assert abs(sigma2 / np.var(y) - 1) > 3e-3  # not the ML scale sum(e^2) / n


# --- the unit-root and seasonal tests ---------------------------------------------------------


def test_kpss_pvalue_is_r_interpolation_clamped():
    assert search.kpss_pvalue(0.463) == pytest.approx(0.05)
    assert search.kpss_pvalue(0.5) == pytest.approx(0.05 - 0.025 * (0.5 - 0.463) / (0.574 - 0.463))
    assert search.kpss_pvalue(0.1) == 0.10 and search.kpss_pvalue(5.0) == 0.01
    rw = np.cumsum(np.random.default_rng(8).standard_normal(150))
    stat = search.kpss_statistic(rw)
    for alpha in (0.01, 0.025, 0.05, 0.1):
        assert search.kpss_rejects(rw, alpha) == (search.kpss_pvalue(stat) < alpha)
    with pytest.raises(harness.ModelError):
        AutoArima(horizon=3, season_length=1, alpha=0.2)  # R's range is 0.01-0.1


def test_seasonal_strength_uses_r_stl_settings():
    """R's stl for m = 12 and s.window 11: t.window 21, l.window 13, jumps 2, 3 and 2."""
    from statsmodels.tsa.seasonal import STL

    rng = np.random.default_rng(9)
    t = np.arange(96)
    y = 50 + 0.3 * t + 4 * np.sin(2 * np.pi * t / 12) + rng.standard_normal(96) * 2
    fit = STL(
        y, period=12, seasonal=11, trend=21, low_pass=13, seasonal_deg=0, seasonal_jump=2, trend_jump=3, low_pass_jump=2
    ).fit()
    rem, sea = np.asarray(fit.resid), np.asarray(fit.seasonal)
    expected = 1 - np.var(rem, ddof=1) / np.var(rem + sea, ddof=1)
    assert search.seasonal_strength(y, 12) == pytest.approx(expected, rel=1e-12)
    assert search.choose_D(y, 12, 0.64, 1) == int(expected > 0.64)
    assert search.choose_D(y[:24], 12, 0.64, 1) == 0  # two seasons or fewer: no test
