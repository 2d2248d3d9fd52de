"""The statsforecast plugin (issue 14, item 4): ``sf-autoarima``, ``sf-autoets``,
``sf-autotheta``, ``sf-autoces`` are registered when statsforecast (>= 2.0) is installed and give
exactly statsforecast's own forecasts and intervals (the oracle: ``StatsForecast(...).forecast``
on the same series); without it their names are known but unavailable, and naming one is one line
saying what to install. A statsforecast exception on a series is that series' failure row.

The tests that run the models skip without statsforecast; the absence is simulated in-process by
making ``importlib.util.find_spec("statsforecast")`` return None (what the plugin asks), so those
tests run with or without it.
"""

from __future__ import annotations

import importlib.metadata
import importlib.util
import json
import os
import re
import subprocess
import sys
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import harness
from harness.errors import ModelError
from harness.models import read_only
from harness.plugins import PluginWarning, UnavailableModel, load_registry
from tests.conftest import invoke, tree

ROOT = Path(__file__).resolve().parent.parent
SF_MODELS = ["sf-autoarima", "sf-autoets", "sf-autotheta", "sf-autoces"]
INSTALL = "pip install 'rnnbench[statsforecast]'"
WHY = f"statsforecast is not installed ({INSTALL})"
FAMILIES = {"sf-autoarima": "arima", "sf-autoets": "ets", "sf-autotheta": "theta", "sf-autoces": "ets"}

# tox's `statsforecast` environment sets RNNBENCH_REQUIRE_STATSFORECAST=1: there a missing package
# is a failure, not a skip, so these tests cannot pass by not running
needs_statsforecast = pytest.mark.skipif(
    importlib.util.find_spec("statsforecast") is None and os.environ.get("RNNBENCH_REQUIRE_STATSFORECAST") != "1",
    reason=f"statsforecast is not installed ({INSTALL})",
)


@pytest.fixture
def no_statsforecast(monkeypatch):
    """In this process, ``importlib.util.find_spec("statsforecast")`` says it is not installed."""
    real = importlib.util.find_spec
    monkeypatch.setattr(
        importlib.util, "find_spec", lambda name, *a: None if name == "statsforecast" else real(name, *a)
    )


def _build(registry, name: str, horizon: int, season_length: int, levels=(80.0, 95.0), **params):
    spec = registry.model(name)
    return spec.build(
        horizon=horizon, season_length=season_length, seed=0, params=spec.resolve_params(params), levels=levels
    )


# --- without statsforecast --------------------------------------------------------------------


def test_the_plugin_module_does_not_import_statsforecast():
    """Listing models or running others never pays statsforecast's import (over a second)."""
    code = (
        "import sys, plugins.statsforecast as m\n"
        "m.register_models(register=lambda cls, name=None, **k: None)\n"
        "assert 'statsforecast' not in sys.modules, 'imported at load'\n"
    )
    subprocess.run([sys.executable, "-c", code], cwd=ROOT, env={**os.environ, "PYTHONPATH": str(ROOT)}, check=True)


def test_without_statsforecast_the_names_are_known_and_say_what_to_install(no_statsforecast, recwarn):
    registry = load_registry()
    assert not [w for w in recwarn if issubclass(w.category, PluginWarning)]
    assert not set(SF_MODELS) & set(registry.models)
    assert {name: registry.unavailable.get(name) for name in SF_MODELS} == {
        name: UnavailableModel(name, "statsforecast is not installed", INSTALL, "plugins.statsforecast")
        for name in SF_MODELS
    }
    expected = f"model 'sf-autoets' is not available: {WHY}"
    with pytest.raises(ModelError, match=f"^{re.escape(expected)}$"):
        registry.model("sf-autoets")


def test_without_statsforecast_a_run_naming_one_exits_2_with_one_line(no_statsforecast, tmp_path, long_csv):
    out = tmp_path / "out"
    before = tree(tmp_path)
    result = invoke(["run", "--datasets", str(long_csv), "--models", "arima,sf-autoets", "--out", str(out)])
    assert result.exit_code == 2 and result.stdout == ""
    assert result.stderr.strip().splitlines() == [f"rnnbench: error: model 'sf-autoets' is not available: {WHY}"]
    assert not out.exists() and tree(tmp_path) == before
    models = invoke(["models"])
    rows = [line for line in models.stdout.splitlines() if line.startswith("sf-")]
    assert rows == [
        f"{name:<16} {'-':<7} {'-':<9} {'plugins.statsforecast':<24} unavailable: {WHY}" for name in sorted(SF_MODELS)
    ]


def test_a_statsforecast_before_2_0_is_unavailable_too(monkeypatch):
    """1.x compiled with numba on first use in every process: refused, saying why."""
    real = importlib.metadata.version
    monkeypatch.setattr(importlib.metadata, "version", lambda name: "1.7.8" if name == "statsforecast" else real(name))
    if importlib.util.find_spec("statsforecast") is None:
        pytest.skip(f"statsforecast is not installed ({INSTALL})")
    registry = load_registry()
    with pytest.raises(ModelError, match=re.escape(f"statsforecast 1.7.8 is older than 2.0 ({INSTALL})")):
        registry.model("sf-autoarima")


# --- with statsforecast -----------------------------------------------------------------------


@needs_statsforecast
def test_registered_as_local_deterministic_models_of_their_family(registry):
    for name in SF_MODELS:
        spec = registry.model(name)
        assert spec.plugin == "plugins.statsforecast" and spec.scope == "local"
        assert spec.cls.deterministic and spec.cls.family_of(spec.params) == FAMILIES[name]
        assert issubclass(spec.cls, harness.LocalForecaster) and "level" not in spec.params  # the run's levels


def _m3_monthly(registry, n: int) -> list[np.ndarray]:
    return [np.asarray(v, dtype=float) for v in registry.dataset("m3-monthly").load().panel.values[:n]]


def _oracle(sf_model, series: list[np.ndarray], h: int, levels: tuple[int, ...] = (80, 95)) -> pd.DataFrame:
    """statsforecast's own answer: StatsForecast(models=[...], freq=1).forecast on the series."""
    from statsforecast import StatsForecast

    df = pd.concat(
        pd.DataFrame({"unique_id": f"s{k}", "ds": np.arange(1, y.size + 1), "y": y}) for k, y in enumerate(series)
    )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        out = StatsForecast(models=[sf_model], freq=1).forecast(df=df, h=h, level=list(levels))
    return out.set_index("unique_id")


@needs_statsforecast
@pytest.mark.parametrize(
    "model, sf_class, params",
    [
        ("sf-autoarima", "AutoARIMA", {}),
        ("sf-autoarima", "AutoARIMA", {"approximation": True, "ic": "bic"}),
        ("sf-autoets", "AutoETS", {}),
        ("sf-autoets", "AutoETS", {"model": "AAN", "damped": True}),
        ("sf-autotheta", "AutoTheta", {}),
        ("sf-autotheta", "AutoTheta", {"model": "OTM", "decomposition_type": "additive"}),
        ("sf-autoces", "AutoCES", {}),
    ],
    ids=["arima", "arima-options", "ets", "ets-options", "theta", "theta-options", "ces"],
)
def test_forecasts_and_intervals_equal_statsforecasts_own(registry, model, sf_class, params):
    import statsforecast.models

    series = _m3_monthly(registry, 2)
    built = _build(registry, model, 18, 12, **params)
    sf_model = getattr(statsforecast.models, sf_class)(season_length=12, **params)
    oracle, alias = _oracle(sf_model, series, 18), repr(sf_model)  # columns AutoARIMA, AutoARIMA-lo-95, ...
    for k, y in enumerate(series):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            fc = built.fit_predict_one(read_only(y))
        want = oracle.loc[f"s{k}"]
        np.testing.assert_allclose(fc.mean, want[alias].to_numpy(), rtol=1e-10)
        assert set(fc.intervals) == {80.0, 95.0}
        for level in (80, 95):
            lower, upper = fc.intervals[float(level)]
            np.testing.assert_allclose(lower, want[f"{alias}-lo-{level}"].to_numpy(), rtol=1e-10)
            np.testing.assert_allclose(upper, want[f"{alias}-hi-{level}"].to_numpy(), rtol=1e-10)
            assert np.all(lower < fc.mean) and np.all(fc.mean < upper)


@needs_statsforecast
def test_the_runs_levels_are_passed_through(registry):
    y = _m3_monthly(registry, 1)[0]
    wide, both = (_build(registry, "sf-autoets", 6, 12, levels=v) for v in ((95.0,), (97.5, 50.0)))
    a, b = (m.fit_predict_one(read_only(y)) for m in (wide, both))
    assert set(a.intervals) == {95.0} and set(b.intervals) == {97.5, 50.0}  # lo-97.5: a level that is not whole
    (lo95, hi95), (lo97, hi97), (lo50, hi50) = a.intervals[95.0], b.intervals[97.5], b.intervals[50.0]
    assert np.all(lo97 < lo95) and np.all(hi95 < hi97) and np.all(lo95 < lo50) and np.all(hi50 < hi95)
    np.testing.assert_array_equal(a.mean, b.mean)


@needs_statsforecast
def test_bad_options_are_one_line_before_anything_runs(registry):
    with pytest.raises(ModelError, match=r"^model sf-autoets: model must be 3 letters: .* got 'ZZ'$"):
        _build(registry, "sf-autoets", 6, 12, model="ZZ")
    with pytest.raises(ModelError, match=r"^model sf-autotheta: model must be one of STM, OTM, DSTM, DOTM or null"):
        registry.model("sf-autotheta").resolve_params({"model": "XYZ"})
    with pytest.raises(ModelError, match=r"^model sf-autoarima: ic must be one of aic, aicc, bic, got 'hqic'$"):
        registry.model("sf-autoarima").resolve_params({"ic": "hqic"})


@needs_statsforecast
def test_a_tiny_run_beside_arima_with_a_failure_row_from_statsforecast(tmp_path, long_csv):
    """sf-autoets and arima through the real runner: ok rows with intervals scored, the family
    recorded, forecasts exactly AutoETS's own; a series too short for AutoETS ("tiny datasets")
    is a failed row with statsforecast's message (no fallback), and the run exits 1."""
    from statsforecast.models import AutoETS

    data = pd.read_csv(long_csv)
    short = pd.DataFrame({"unique_id": "tiny", "ds": data["ds"].iloc[:7], "y": [5.0, 6.0, 7.0, 8.0, 9.0, 9.5, 10.0]})
    path = tmp_path / "with_tiny.csv"
    pd.concat([data, short]).to_csv(path, index=False)
    out = tmp_path / "run"
    args = ["run", "--models", "arima,sf-autoets", "--datasets", str(path), "--horizon", "4", "--executor", "serial"]
    result = invoke([*args, "--out", str(out)])
    assert result.exit_code == 1, result.output
    m = pd.read_parquet(out / "metrics.parquet")
    sf = m[m["model"] == "sf-autoets"].set_index("unique_id")
    assert set(sf.index) == {"s0", "s1", "s2", "s3", "tiny"}
    assert (sf.drop(index="tiny")["status"] == "ok").all() and sf.drop(index="tiny")["coverage_95"].notna().all()
    assert sf.loc["tiny", "status"] == "failed" and "tiny datasets" in sf.loc["tiny", "message"]
    assert (m[m["model"] == "arima"]["status"] == "ok").all()
    experiments = pd.read_csv(out / "experiments.csv").set_index("model")
    assert experiments.loc["sf-autoets", "family"] == "ets" and experiments.loc["arima", "family"] == "arima"
    f = pd.read_parquet(out / "forecasts.parquet")
    got = f[(f["model"] == "sf-autoets") & (f["unique_id"] == "s2")].sort_values("step")["yhat"].to_numpy()
    y = data[data["unique_id"] == "s2"]["y"].to_numpy()[:-4]
    want = AutoETS(season_length=12).forecast(y=y, h=4)["mean"]
    np.testing.assert_allclose(got, want, rtol=1e-10)
    params = json.loads(experiments.loc["sf-autoets", "params"])
    assert params == {"model": "ZZZ", "damped": None}
