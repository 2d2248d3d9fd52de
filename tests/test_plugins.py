"""Plugin loading: built-ins, entry points, plugins dir, failures and strict mode, listings."""

from __future__ import annotations

import pytest

import harness
from harness.errors import PluginError
from harness.plugins import DEFAULT_PLUGINS, PluginWarning, load_registry
from tests.conftest import invoke, plugin_folder


def test_builtin_plugins_register_models_and_datasets():
    registry = load_registry()
    assert {"naive", "snaive", "naive2", "theta", "arima"} <= set(registry.models)
    assert {"m3", "m3-monthly", "m1", "tourism", "airline", "synthetic-arma"} <= set(registry.datasets)
    assert {p.name for p in registry.plugins} >= set(DEFAULT_PLUGINS)
    assert all(p.source == "builtin" for p in registry.plugins if p.name in DEFAULT_PLUGINS)
    assert registry.models["arima"].scope == "local"


def test_plugins_dir_plugin_is_listed_and_runs(plugins_dir, long_csv, tmp_path):
    registry = load_registry(plugins_dir)
    assert registry.models["drift"].plugin == "throwaway"
    assert registry.models["drift-damped"].params == {"damping": 0.5}
    assert registry.models["panel-mean"].scope == "global"

    listing = invoke(["--plugins-dir", str(plugins_dir), "models"])
    assert listing.exit_code == 0
    assert "drift-damped" in listing.output and "damping=0.5" in listing.output

    out = tmp_path / "run"
    result = invoke(
        [
            "--plugins-dir",
            str(plugins_dir),
            "run",
            "--models",
            "drift,panel-mean",
            "--datasets",
            str(long_csv),
            "--workers",
            "2",
            "--out",
            str(out),
        ]
    )
    assert result.exit_code == 0, result.output
    report = (out / "report.md").read_text()
    assert "| drift " in report and "| panel-mean " in report


def test_entry_point_plugin_is_listed_with_version_and_runs(entry_point_plugin, long_csv, tmp_path):
    registry = load_registry()
    info = {p.name: p for p in registry.plugins}[entry_point_plugin]
    assert (info.source, info.version) == ("entry-point", "1.2.3")
    assert "register_models" in info.hooks
    listing = invoke(["plugins"])
    assert "throwaway" in listing.output and "1.2.3" in listing.output
    out = tmp_path / "run"
    result = invoke(["run", "--models", "drift", "--datasets", str(long_csv), "--workers", "1", "--out", str(out)])
    assert result.exit_code == 0, result.output


def test_broken_plugin_is_named_and_skipped(tmp_path, monkeypatch):
    folder = tmp_path / "broken"
    folder.mkdir()
    (folder / "explodes.py").write_text("raise ImportError('no module named unobtainium')\n")
    (folder / "bad_register.py").write_text(
        "import harness\n@harness.hookimpl\ndef register_models(register):\n    raise RuntimeError('boom')\n"
    )
    with pytest.warns(PluginWarning) as record:
        registry = load_registry(folder)
    messages = " ".join(str(w.message) for w in record)
    assert "'explodes' failed to import" in messages and "'bad_register' failed to register" in messages
    assert "arima" in registry.models  # the others keep working
    assert set(registry.failures) == {"explodes", "bad_register"}
    monkeypatch.setenv("RNNBENCH_STRICT_PLUGINS", "1")
    with pytest.raises(PluginError, match="explodes"):
        load_registry(folder)


def test_load_plugins_env_limits_loading(monkeypatch):
    monkeypatch.setenv("RNNBENCH_LOAD_PLUGINS", "plugins.baselines")
    registry = load_registry()
    assert set(registry.models) == {"naive", "snaive", "naive2", "theta", "mean"}
    assert registry.datasets == {}


def test_register_rejects_non_forecaster_and_unknown_default(tmp_path):
    folder = tmp_path / "p"
    folder.mkdir()
    (folder / "wrong.py").write_text(
        "import harness\nclass X(harness.LocalForecaster):\n    name='x'\n    a = harness.param(1, 'a')\n"
        "    def fit_predict_one(self, y):\n        return y[-self.horizon:]\n"
        "@harness.hookimpl\ndef register_models(register):\n    register(X, name='x2', b=3)\n"
    )
    with pytest.warns(PluginWarning, match="unknown parameter 'b'"):
        registry = load_registry(folder)
    assert "x2" not in registry.models


def test_dataset_info_is_kept_and_must_be_a_mapping(tmp_path):
    folder = plugin_folder(
        tmp_path / "p",
        "import numpy as np\nimport harness\n"
        "def load():\n    return harness.Dataset('x', harness.Panel(('a',), (np.arange(9.0),), 'other', 1, 2))\n"
        "@harness.hookimpl\ndef register_datasets(register):\n"
        "    register('with-info', load, info={'study': 'memory', 'lag': 3})\n"
        "    register('bad-info', load, info=[('lag', 3)])\n",
    )
    with pytest.warns(PluginWarning, match="bad-info: info must be a mapping"):
        registry = load_registry(folder)
    assert registry.dataset("with-info").info == {"study": "memory", "lag": 3}
    assert "bad-info" not in registry.datasets
    assert registry.dataset("m3-monthly").info == {}  # registered without info


def test_model_parameters_are_validated_and_become_attributes():
    naive2 = load_registry().model("naive2")
    model = naive2.build(horizon=3, season_length=4, seed=0, params=naive2.resolve_params())
    assert (model.horizon, model.season_length) == (3, 4)
    with pytest.raises(harness.ModelError, match="unknown parameter 'nope'"):
        naive2.resolve_params({"nope": 1})


def test_listings(monkeypatch):
    monkeypatch.setenv("RNNBENCH_LOAD_PLUGINS", "plugins.baselines,plugins.competitions")
    models = invoke(["models"])
    assert models.exit_code == 0 and "naive2" in models.output and "local" in models.output
    datasets = invoke(["datasets"])
    assert datasets.exit_code == 0
    line = next(row for row in datasets.output.splitlines() if row.startswith("m3-monthly "))
    assert line.split()[1:5] == ["1428", "monthly", "18", "12"]
    assert "collection" in next(row for row in datasets.output.splitlines() if row.startswith("m3 "))
