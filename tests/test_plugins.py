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


DATASET_LOADER = (
    "import numpy as np\nimport harness\n"
    "def load():\n    return harness.Dataset('x', harness.Panel(('a',), (np.arange(9.0),), 'other', 1, 2))\n"
    "@harness.hookimpl\ndef register_datasets(register):\n"
)


def test_dataset_info_is_kept_and_must_be_a_mapping(tmp_path):
    folder = plugin_folder(
        tmp_path / "p", DATASET_LOADER + "    register('with-info', load, info={'study': 'memory', 'lag': 3})\n"
    )
    plugin_folder(
        folder,
        DATASET_LOADER
        + "    register('fine-too', load, info={'lag': 3})\n    register('bad-info', load, info=[('lag', 3)])\n",
        "badinfo.py",
    )
    with pytest.warns(
        PluginWarning, match="'badinfo' failed to register and was skipped: dataset bad-info: info must be a mapping"
    ):
        registry = load_registry(folder)
    assert registry.dataset("with-info").info == {"study": "memory", "lag": 3}
    assert "bad-info" not in registry.datasets and "fine-too" not in registry.datasets  # all or nothing
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


# --- hooks checked at load; registrations all or nothing (issue 16, item 4) ---------------------

LAST = (
    "import numpy as np\nimport harness\n"
    "class Last(harness.LocalForecaster):\n    name = 'last'\n"
    "    def fit_predict_one(self, y):\n        return np.repeat(y[-1], self.horizon)\n"
)


def _rows(output: str, name: str) -> list[str]:
    """The rows of `rnnbench plugins` for one plugin."""
    return [line for line in output.splitlines() if line.split()[:1] == [name]]


def test_a_misspelt_hook_fails_its_plugin_at_load_with_the_close_match(tmp_path, monkeypatch):
    folder = plugin_folder(
        tmp_path / "p", LAST + "@harness.hookimpl\ndef register_model(register):\n    register(Last)\n", "typo.py"
    )
    expected = "unknown hook 'register_model'; did you mean register_models?"
    with pytest.warns(PluginWarning) as record:
        registry = load_registry(folder)
    assert [str(w.message) for w in record] == [f"plugin 'typo' failed to load and was skipped: {expected}"]
    assert "last" not in registry.models and "typo" not in {p.name for p in registry.plugins}
    assert registry.failures == {"typo": f"failed to load: {expected}"}

    listing = invoke(["--plugins-dir", str(folder), "plugins"])
    assert _rows(listing.stdout, "typo") == [
        f"{'typo':<28} {'-':<10} {'plugins-dir':<12} FAILED  failed to load: {expected}"
    ]

    monkeypatch.setenv("RNNBENCH_STRICT_PLUGINS", "1")
    with pytest.raises(PluginError) as info:
        load_registry(folder)
    assert str(info.value) == f"plugin 'typo' failed to load (RNNBENCH_STRICT_PLUGINS is set): {expected}"


def test_an_unknown_hook_without_a_close_match_lists_the_hooks_and_optional_hooks_are_allowed(tmp_path):
    text = (
        LAST
        + "@harness.hookimpl\ndef register_models(register):\n    register(Last)\n"
        + "@harness.hookimpl(optionalhook=True)\ndef register_metrics(register):\n    pass\n"
    )
    plugin_folder(tmp_path / "p", text, "optional.py")
    plugin_folder(tmp_path / "p", "import harness\n@harness.hookimpl\ndef setup():\n    pass\n", "other.py")
    with pytest.warns(PluginWarning) as record:
        registry = load_registry(tmp_path / "p")
    assert [str(w.message) for w in record] == [
        "plugin 'other' failed to load and was skipped: unknown hook 'setup'; "
        "rnnbench hooks: register_datasets, register_models"
    ]
    assert registry.models["last"].plugin == "optional"  # optionalhook=True: pluggy's opt-in, honoured


def test_a_hook_with_arguments_its_spec_lacks_fails_at_load(tmp_path):
    folder = plugin_folder(
        tmp_path / "p", LAST + "@harness.hookimpl\ndef register_models(reg):\n    reg(Last)\n", "args.py"
    )
    with pytest.warns(
        PluginWarning, match=r"plugin 'args' failed to load and was skipped: PluginValidationError: .*'reg'"
    ):
        registry = load_registry(folder)
    assert "last" not in registry.models and set(registry.failures) == {"args"}


def test_a_plugin_with_a_valid_and_a_duplicate_name_registers_nothing_and_shows_once(tmp_path, monkeypatch, long_csv):
    folder = plugin_folder(
        tmp_path / "p",
        LAST
        + "@harness.hookimpl\ndef register_models(register):\n    register(Last)\n    register(Last, name='naive')\n",
        "dupes.py",
    )
    expected = "model name 'naive' is already registered by plugins.baselines"
    with pytest.warns(PluginWarning) as record:
        registry = load_registry(folder)
    assert [str(w.message) for w in record] == [f"plugin 'dupes' failed to register and was skipped: {expected}"]
    assert "last" not in registry.models and registry.models["naive"].plugin == "plugins.baselines"
    assert "dupes" not in {p.name for p in registry.plugins}

    listing = invoke(["--plugins-dir", str(folder), "plugins"])
    assert _rows(listing.stdout, "dupes") == [
        f"{'dupes':<28} {'-':<10} {'plugins-dir':<12} FAILED  failed to register: {expected}"
    ]
    assert all(line.split()[3] == "loaded" for line in listing.stdout.splitlines() if line.startswith("plugins."))
    run = invoke(
        [
            "--plugins-dir",
            str(folder),
            "run",
            "--models",
            "last",
            "--datasets",
            str(long_csv),
            "--out",
            str(tmp_path / "r"),
        ]
    )
    assert run.exit_code == 2 and "unknown model 'last'" in run.stderr and not (tmp_path / "r").exists()

    monkeypatch.setenv("RNNBENCH_STRICT_PLUGINS", "1")
    with pytest.raises(
        PluginError, match=f"^plugin 'dupes' failed to register \\(RNNBENCH_STRICT_PLUGINS is set\\): {expected}$"
    ):
        load_registry(folder)


@pytest.mark.parametrize(
    "body, problems",
    [
        (
            "    register(Last)\n    register(Last)\n    register(Last, name='naive')\n",
            "model name 'last' is registered twice; model name 'naive' is already registered by plugins.baselines",
        ),
        ("    register(Last)\n    raise RuntimeError('boom')\n", "register_models raised RuntimeError: boom"),
        ("    register(Last)\n    register(Last, name='')\n", "a model name must be a non-empty string, got ''"),
        (
            "    register(Last)\n    register(harness.Unavailable('needs unobtainium'))\n",
            "a model registered as harness.Unavailable needs name=...",
        ),
    ],
    ids=["twice-in-plugin-and-taken", "hook-raises-after-registering", "empty-name", "unavailable-without-name"],
)
def test_every_model_problem_is_named_and_nothing_is_registered(tmp_path, body, problems):
    text = (
        LAST
        + "@harness.hookimpl\ndef register_models(register):\n"
        + body
        + "def load():\n    return None\n@harness.hookimpl\ndef register_datasets(register):\n    register('mine', load)\n"
    )
    folder = plugin_folder(tmp_path / "p", text, "mixed.py")
    with pytest.warns(PluginWarning) as record:
        registry = load_registry(folder)
    assert [str(w.message) for w in record] == [f"plugin 'mixed' failed to register and was skipped: {problems}"]
    assert "last" not in registry.models and "mine" not in registry.datasets  # its valid dataset neither


@pytest.mark.parametrize(
    "body, problem",
    [
        ("    register('airline', load)\n", "dataset name 'airline' is already registered by plugins.classic"),
        ("    register('mine', load)\n    register('mine', load)\n", "dataset name 'mine' is registered twice"),
        (
            "    register('mine', load, parts=('a',))\n",
            "dataset mine: give either a loader or parts, not both or neither",
        ),
        ("    register('mine', None, parts='ab')\n", "dataset mine: parts must be a list of dataset names, got 'ab'"),
        ("    register('mine', 'not-callable')\n", "dataset mine: the loader must be callable, got str"),
        ("    register(3, load)\n", "a dataset name must be a non-empty string, got 3"),
    ],
    ids=["taken", "twice", "loader-and-parts", "parts-a-string", "loader-not-callable", "name-not-a-string"],
)
def test_a_bad_dataset_registration_skips_the_plugin_with_its_models(tmp_path, body, problem):
    text = (
        LAST
        + "@harness.hookimpl\ndef register_models(register):\n    register(Last)\n"
        + "def load():\n    return None\n@harness.hookimpl\ndef register_datasets(register):\n"
        + "    register('fine', load)\n"
        + body
    )
    folder = plugin_folder(tmp_path / "p", text, "data.py")
    with pytest.warns(PluginWarning) as record:
        registry = load_registry(folder)
    assert [str(w.message) for w in record] == [f"plugin 'data' failed to register and was skipped: {problem}"]
    assert "last" not in registry.models and "fine" not in registry.datasets
    assert registry.dataset("airline").plugin == "plugins.classic"


def test_a_failed_plugin_takes_no_name_from_the_plugins_after_it(tmp_path):
    """A skipped plugin's names are not taken: a later plugin may register them."""
    plugin_folder(
        tmp_path / "p",
        LAST + "@harness.hookimpl\ndef register_models(register):\n    register(Last)\n    register(int)\n",
        "a_broken.py",
    )
    plugin_folder(
        tmp_path / "p", LAST + "@harness.hookimpl\ndef register_models(register):\n    register(Last)\n", "b_fine.py"
    )
    with pytest.warns(PluginWarning, match="'a_broken' failed to register"):
        registry = load_registry(tmp_path / "p")
    assert registry.models["last"].plugin == "b_fine"
    assert [p.name for p in registry.plugins][-1] == "b_fine" and set(registry.failures) == {"a_broken"}
