"""The long-memory datasets (claim c): shapes, determinism, registration, and the known optimum
and floor they record, checked against an oracle and the mean baseline on simulated data."""

from __future__ import annotations

import numpy as np
import pytest

from harness.plugins import load_registry
from plugins import longmemory as lm
from plugins.baselines import Mean

GENERATORS = {"copy": lm.lagged_copy, "adding": lm.adding, "seasonal": lm.long_seasonal}


def _errors(dataset, predict):
    """Forecast errors over the last ``h`` points of every series, history = all but those."""
    h = dataset.panel.horizon
    out = []
    for i, y in enumerate(dataset.panel.values):
        history, future = y[:-h], y[-h:]
        out.append(future - predict(dataset, history, i, h))
    return np.concatenate(out)


def _rmse(errors):
    return float(np.sqrt(np.mean(np.square(errors))))


@pytest.mark.parametrize("task", sorted(GENERATORS))
def test_shapes_ids_and_panel_metadata(task):
    d = GENERATORS[task](5, 24, seed=1)
    assert len(d.panel) == 5 and d.test is None
    assert all(v.shape == (lm.default_length(24),) and v.dtype == np.float64 for v in d.panel.values)
    assert lm.default_length(24) == 300 and lm.default_length(96) == 512 and lm.default_length(192) == 896
    assert d.panel.ids[0] == f"{task}-L24-001" and len(set(d.panel.ids)) == 5
    assert (d.panel.season_length, d.panel.horizon) == (24, 6)
    assert all(np.all(np.isfinite(v)) for v in d.panel.values)
    meta = d.meta
    assert meta["lag"] == 24 and meta["seed"] == 1 and meta["horizon"] == 6 and meta["length"] == 300
    assert isinstance(meta["optimal_rmse"], float) and isinstance(meta["floor_rmse"], float)
    assert meta["generator"] in {"lagged_copy", "adding", "long_seasonal"}
    assert len(GENERATORS[task](2, 12, length=100).panel.values[0]) == 100


@pytest.mark.parametrize("task", sorted(GENERATORS))
def test_same_seed_same_values_other_seed_differs(task):
    make = GENERATORS[task]
    a, b, c = make(4, 12, seed=7), make(4, 12, seed=7), make(4, 12, seed=8)
    assert all(np.array_equal(x, y) for x, y in zip(a.panel.values, b.panel.values))
    assert a.fingerprint() == b.fingerprint() != c.fingerprint()
    assert not np.allclose(a.panel.values[0], c.panel.values[0])


def test_copy_numbers_match_hand_computation():
    phi, sigma = 0.8, 2.0
    d = lm.lagged_copy(3, 12, phi=phi, sigma=sigma)
    assert d.meta["phi"] == phi and d.meta["sigma"] == sigma
    assert d.meta["optimal_rmse"] == pytest.approx(sigma)
    assert d.meta["floor_rmse"] == pytest.approx(sigma / np.sqrt(1 - phi**2))  # 3.333
    default = lm.lagged_copy(2, 12)
    assert default.meta["floor_rmse"] == pytest.approx(1 / np.sqrt(1 - 0.95**2))  # 3.2026


def test_adding_floor_matches_ar2_formula():
    a, s = 0.47, 1.5
    d = lm.adding(2, 6, alpha=a, sigma=s)
    gamma0 = s**2 * (1 - a) / ((1 + a) * ((1 - a) ** 2 - a**2))  # AR(2) with a1 = a2 = a
    assert d.meta["floor_rmse"] == pytest.approx(np.sqrt(gamma0))
    assert d.meta["optimal_rmse"] == pytest.approx(s)
    seasonal = lm.long_seasonal(2, 12, amplitude=3.0, sigma=0.5)
    assert seasonal.meta["floor_rmse"] == pytest.approx(np.sqrt(9.25))
    assert seasonal.meta["optimal_rmse"] == pytest.approx(0.5)
    patterns = np.asarray(seasonal.meta["patterns"])
    assert patterns.shape == (2, 12)
    assert np.allclose(patterns.mean(axis=1), 0) and np.allclose(np.sqrt(np.mean(patterns**2, axis=1)), 3.0)


def test_defaults_leave_a_wide_gap_between_optimum_and_floor():
    # optimal/floor with defaults: copy 0.312, adding 0.408, seasonal 0.447. The verdict rule of
    # the memory study needs optimal < 0.5*floor; adding with alpha=0.45 would be 0.513.
    ratios = {
        task: make(2, 12).meta["optimal_rmse"] / make(2, 12).meta["floor_rmse"] for task, make in GENERATORS.items()
    }
    assert ratios["copy"] == pytest.approx(0.3122, abs=1e-3)
    assert ratios["adding"] == pytest.approx(0.4079, abs=1e-3)
    assert ratios["seasonal"] == pytest.approx(0.4472, abs=1e-3)
    assert ratios["copy"] < 0.5 and ratios["adding"] < 0.5
    assert lm.adding(2, 12, alpha=0.45).meta["optimal_rmse"] / lm.adding(2, 12, alpha=0.45).meta["floor_rmse"] > 0.5


@pytest.mark.parametrize(
    "task,lag", [("copy", 6), ("copy", 24), ("adding", 6), ("adding", 12), ("seasonal", 6), ("seasonal", 24)]
)
def test_oracle_reaches_optimal_and_mean_reaches_floor(task, lag):
    # 200 series x 6 test points: the RMSE's relative sampling error is about 2-3%.
    d = GENERATORS[task](200, lag, length=1200, seed=11)
    oracle = _rmse(_errors(d, lm.oracle_forecast))
    mean = _rmse(_errors(d, lambda ds, hist, i, h: np.full(h, hist.mean())))
    assert oracle == pytest.approx(d.meta["optimal_rmse"], rel=0.10)
    assert mean == pytest.approx(d.meta["floor_rmse"], rel=0.12)
    assert oracle < 0.6 * mean


def test_series_are_stationary_from_the_start():
    # the first period has the stationary variance gamma_0, as does the last
    d = lm.adding(400, 6, length=60, burn_in=0, seed=2)
    values = np.stack(d.panel.values)
    gamma0 = d.meta["floor_rmse"] ** 2
    assert np.var(values[:, :6]) == pytest.approx(gamma0, rel=0.1)
    assert np.var(values[:, -6:]) == pytest.approx(gamma0, rel=0.1)


def test_oracle_forecast_by_hand():
    d = lm.lagged_copy(1, 6, phi=0.5)
    history = np.arange(20.0)
    assert np.allclose(lm.oracle_forecast(d, history, 0, 6), 0.5 * history[-6:])
    a = lm.adding(1, 6, alpha=0.25)
    assert np.allclose(lm.oracle_forecast(a, history, 0, 3), 0.25 * (history[-6:-3] + history[-12:-9]))
    s = lm.long_seasonal(2, 6)
    pattern = np.asarray(s.meta["patterns"][1])
    assert np.allclose(lm.oracle_forecast(s, np.zeros(8), 1, 6), pattern[[2, 3, 4, 5, 0, 1]])
    with pytest.raises(ValueError, match="too short"):
        lm.oracle_forecast(a, np.zeros(11), 0, 3)


@pytest.mark.parametrize(
    "call",
    [
        lambda: lm.lagged_copy(2, 4),  # horizon 6 > lag 4
        lambda: lm.adding(2, 6, horizon=7),
        lambda: lm.long_seasonal(2, 5),
        lambda: lm.lagged_copy(2, 12, phi=1.0),
        lambda: lm.lagged_copy(2, 12, phi=-1.2),
        lambda: lm.adding(2, 12, alpha=0.5),
        lambda: lm.adding(2, 12, alpha=-1.0),
        lambda: lm.lagged_copy(2, 0, horizon=1),
        lambda: lm.adding(2, -6, horizon=1),
        lambda: lm.long_seasonal(2, 0, horizon=1),
        lambda: lm.lagged_copy(0, 12),
        lambda: lm.lagged_copy(2, 12, sigma=0.0),
        lambda: lm.adding(2, 12, length=29),  # needs 2*12 + 6 = 30
        lambda: lm.long_seasonal(2, 12, amplitude=0.0),
        lambda: lm.dataset_name("reverse", 6),
    ],
)
def test_bad_parameters_raise(call):
    with pytest.raises(ValueError):
        call()


def test_registered_names_and_collections():
    registry = load_registry()
    names = [lm.dataset_name(task, lag) for task in lm.TASKS for lag in lm.LAGS]
    assert len(names) == 18 and lm.dataset_name("copy", 192) == "memory-copy-L192"
    for name in names:
        spec = registry.dataset(name)
        assert spec.plugin == "plugins.longmemory" and spec.description and spec.load is not None
    for task in lm.TASKS:
        assert registry.dataset(f"memory-{task}").parts == tuple(lm.dataset_name(task, lag) for lag in lm.LAGS)
    assert registry.dataset("memory").parts == tuple(names)
    d = registry.dataset("memory-adding-L192").load()
    assert d.name == "memory-adding-L192" and len(d.panel) == lm.N_SERIES == 256
    assert (d.panel.season_length, d.panel.horizon, len(d.panel.values[0])) == (192, 6, 896)
    assert d.meta["seed"] == 0 and d.meta["alpha"] == 0.47
    small = registry.dataset("memory-seasonal-L6").load()
    assert len(small.panel.values[0]) == 300


def test_registration_info_is_how_the_memory_study_finds_the_panels():
    from harness.studies import memory as M

    registry = load_registry()
    for task in lm.TASKS:
        for lag in lm.LAGS:
            spec = registry.dataset(lm.dataset_name(task, lag))
            assert spec.info == {"study": "memory", "task": task, "lag": lag}
        assert registry.dataset(f"memory-{task}").info == {}  # collections are not memory datasets
    assert M.memory_datasets(registry) == {(t, lag): lm.dataset_name(t, lag) for t in lm.TASKS for lag in lm.LAGS}
    assert M.memory_tasks(registry) == list(lm.TASKS) and M.memory_lags(registry) == list(lm.LAGS)
    assert M.memory_lags(registry, "copy") == list(lm.LAGS)
    for task, make in GENERATORS.items():
        assert make(2, 12).meta["task"] == task


def test_mean_baseline_forecasts_the_mean():
    registry = load_registry()
    assert registry.model("mean").cls is Mean and registry.model("mean").scope == "local"
    model = Mean(horizon=4, season_length=1, seed=0)
    y = np.array([1.0, 2.0, 6.0, 3.0])
    assert np.array_equal(model.fit_predict_one(y), np.full(4, 3.0))
    with pytest.raises(ValueError):
        model.fit_predict_one(np.array([]))


@pytest.mark.parametrize("task", sorted(GENERATORS))
def test_meta_holds_the_oracle_forecast_of_each_series_test_window(task):
    """meta["oracle"][uid] is the optimal forecast of the last h values from the history before
    them: what oracle_forecast gives, so the study's optimum is scored on the scored windows."""
    d = GENERATORS[task](6, 12, seed=3)
    h = d.panel.horizon
    assert list(d.meta["oracle"]) == list(d.panel.ids)
    for i, (uid, y) in enumerate(zip(d.panel.ids, d.panel.values)):
        assert d.meta["oracle"][uid].shape == (h,)
        np.testing.assert_array_equal(d.meta["oracle"][uid], lm.oracle_forecast(d, y[:-h], i, h))
    errors = np.concatenate([y[-h:] - d.meta["oracle"][u] for u, y in zip(d.panel.ids, d.panel.values)])
    assert _rmse(errors) < d.meta["floor_rmse"]  # the oracle knows something a mean forecast does not


def test_study_panels_give_enough_windows_per_series():
    """The study's window of 2.25 L plus the horizon leaves at least 200 windows per series."""
    for lag in (12, 24, 48, 96, 192):
        span = int(np.ceil(2.25 * lag)) + lm.HORIZON
        assert lm.default_length(lag) - span + 1 >= 200
