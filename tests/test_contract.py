"""The model contract is checked: fit/predict (global), fit_predict_one (local) and train_network
(window networks) are abstract, and a plugin that registers a class still missing one is named
and skipped whole at load, its complete models included (registration is all-or-nothing; an
error in strict mode)."""

from __future__ import annotations

import textwrap

import numpy as np
import pytest

import harness
from harness.errors import PluginError
from harness.plugins import PluginWarning, load_registry
from tests.conftest import invoke, plugin_folder

INCOMPLETE_PLUGIN = textwrap.dedent(
    """
    import numpy as np
    import harness

    class Foo(harness.LocalForecaster):
        '''Forgot fit_predict_one.'''
        name = "foo"

    class Net(harness.WindowForecaster):
        '''Forgot train_network.'''
        name = "net"

    class Nothing(harness.Forecaster):
        '''Forgot fit and predict.'''
        name = "nothing"

    class Fine(harness.LocalForecaster):
        name = "fine"

        def fit_predict_one(self, y):
            return np.repeat(y[-1], self.horizon)

    @harness.hookimpl
    def register_models(register):
        register(Foo)
        register(Net)
        register(Nothing)
        register(Fine)
    """
)


@pytest.mark.parametrize(
    "base, missing",
    [
        (harness.Forecaster, "fit, predict"),
        (harness.LocalForecaster, "fit_predict_one"),
        (harness.WindowForecaster, "train_network"),
    ],
)
def test_a_class_missing_part_of_the_contract_cannot_be_built(base, missing):
    incomplete = type("Incomplete", (base,), {"name": "incomplete"})
    assert sorted(incomplete.__abstractmethods__) == missing.split(", ")
    with pytest.raises(TypeError, match="abstract"):
        incomplete(horizon=3)


INCOMPLETE_PROBLEMS = (
    "model class Foo does not implement fit_predict_one; "
    "model class Net does not implement train_network; "
    "model class Nothing does not implement fit, predict"
)


def test_an_incomplete_model_class_is_named_and_its_plugin_skipped_whole(tmp_path):
    folder = plugin_folder(tmp_path / "plugins", INCOMPLETE_PLUGIN, "myplug.py")
    with pytest.warns(PluginWarning) as record:
        registry = load_registry(folder)
    messages = [str(w.message) for w in record if issubclass(w.category, PluginWarning)]
    assert messages == [f"plugin 'myplug' failed to register and was skipped: {INCOMPLETE_PROBLEMS}"]
    assert not {"fine", "foo", "net", "nothing"} & set(registry.models)  # all or nothing
    assert registry.failures == {"myplug": f"failed to register: {INCOMPLETE_PROBLEMS}"}
    assert "myplug" not in {p.name for p in registry.plugins}
    listing = invoke(["--plugins-dir", str(folder), "plugins"])
    rows = [line for line in listing.stdout.splitlines() if line.startswith("myplug ")]
    assert rows == [f"{'myplug':<28} {'-':<10} {'plugins-dir':<12} FAILED  failed to register: {INCOMPLETE_PROBLEMS}"]


def test_strict_mode_makes_an_incomplete_class_an_error(tmp_path, monkeypatch):
    folder = plugin_folder(tmp_path / "plugins", INCOMPLETE_PLUGIN, "myplug.py")
    monkeypatch.setenv("RNNBENCH_STRICT_PLUGINS", "1")
    with pytest.raises(PluginError) as info:
        load_registry(folder)
    assert str(info.value) == (
        f"plugin 'myplug' failed to register (RNNBENCH_STRICT_PLUGINS is set): {INCOMPLETE_PROBLEMS}"
    )
    result = invoke(["--plugins-dir", str(folder), "models"], env={"RNNBENCH_STRICT_PLUGINS": "1"})
    assert result.exit_code == 2 and result.stdout == ""
    assert result.stderr.strip() == (
        f"rnnbench: error: plugin 'myplug' failed to register (RNNBENCH_STRICT_PLUGINS is set): {INCOMPLETE_PROBLEMS}"
    )


def test_registering_something_that_is_not_a_forecaster_fails(tmp_path):
    text = (
        "import harness\nclass NotAModel:\n    name = 'not-a-model'\n"
        "@harness.hookimpl\ndef register_models(register):\n    register(NotAModel)\n"
    )
    folder = plugin_folder(tmp_path / "plugins", text, "wrongtype.py")
    with pytest.warns(PluginWarning, match="wrongtype.*is not a subclass of harness.Forecaster"):
        registry = load_registry(folder)
    assert "not-a-model" not in registry.models and "wrongtype" in registry.failures
    assert "wrongtype" not in {p.name for p in registry.plugins}


def test_complete_builtin_models_are_not_abstract(registry):
    assert registry.models and all(not spec.cls.__abstractmethods__ for spec in registry.models.values())
    naive = registry.model("naive").build(horizon=2, season_length=1, seed=0, params={})
    assert naive.predict(harness.Panel(("a",), (np.arange(5.0),), "other", 1, 2))[0].mean.tolist() == [4.0, 4.0]
