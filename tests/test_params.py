"""Declared model parameters (harness.param): inference, validation messages, collection over the
class hierarchy, the legacy ``defaults`` dict, validation before anything runs, and
``rnnbench models NAME``."""

from __future__ import annotations

import importlib.util
import math
import textwrap
import warnings

import numpy as np
import pytest

import harness
from harness.errors import PluginError
from harness.params import Param, param
from harness.plugins import PluginWarning, load_registry
from tests.conftest import invoke, plugin_folder

# --- declaration and inference ------------------------------------------------------------------


@pytest.mark.parametrize(
    "default, kind",
    [(3, int), (2.5, float), (True, bool), ("mimo", str), ((1, 0, 1), tuple), ([1, 2], list)],
)
def test_type_is_inferred_from_the_default(default, kind):
    p = param(default, "d")
    assert p.type is kind and p.nullable is False and p.default == default and p.description == "d"


def test_none_default_needs_a_type_and_is_nullable():
    with pytest.raises(TypeError, match="needs type="):
        param(None, "input size")
    p = param(None, "input size", type=int, ge=1)
    assert (p.type, p.nullable, p.type_name) == (int, True, "int|null")
    assert param(95.0, "level", gt=0, lt=100, nullable=True).nullable is True


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"default": -1, "description": "n", "ge": 0}, "the default must be an integer >= 0, got -1"),
        ({"default": "x", "description": "s", "choices": ("a", "b")}, "the default must be one of a, b, got 'x'"),
        ({"default": "x", "description": "s", "ge": 0}, "bounds need type int or float"),
        ({"default": 1, "description": "n", "ge": 0, "gt": 0}, "ge or gt, not both"),
        ({"default": 1, "description": "n", "type": dict}, "type must be one of"),
        ({"default": 1.0, "description": "n", "choices": ()}, "choices must not be empty"),
        ({"default": 1.0, "description": "n", "search": (1, 0, "log")}, "search must be"),
        ({"default": 1.0, "description": "n", "search": (0.1, 1, "cubic")}, "search must be"),
        ({"default": 1, "description": None}, "description must be a string"),
    ],
)
def test_a_bad_declaration_fails_when_the_class_is_written(kwargs, message):
    with pytest.raises(TypeError, match=message.replace("(", r"\(").replace(")", r"\)")):
        param(**kwargs)


def test_search_is_stored_for_a_future_tuner():
    assert param(1e-3, "lr", gt=0, search=(1e-4, 1e-1, "log")).search == (1e-4, 1e-1, "log")
    assert param("lstm", "cell", search=["rnn", "lstm"]).search == ["rnn", "lstm"]
    assert param(1, "n").search is None


def test_bounds_and_type_names_for_listings():
    assert param(0.0, "d", ge=0, lt=1).bounds == "in [0, 1)"
    assert param(2.0, "d", gt=1, le=5).bounds == "in (1, 5]"
    assert param(3, "d", ge=1).bounds == ">= 1"
    assert param(3, "d", lt=10).bounds == "< 10"
    assert param("a", "d", choices=("a", "b")).bounds == "one of a, b"
    assert param(True, "d").bounds == ""
    assert (param(True, "d").type_name, param((1,), "d").type_name) == ("bool", "list")
    assert Param(None, "", type=None, nullable=True).type_name == "any"


# --- validation ---------------------------------------------------------------------------------


def message(p: Param, value) -> str:
    with pytest.raises(harness.ModelError) as info:
        p.validate("lstm-torch", "x", value)
    return str(info.value)


@pytest.mark.parametrize(
    "p, value, expected",
    [
        (param(32, "", ge=1), -4, "model lstm-torch: x must be an integer >= 1, got -4"),
        (param(32, "", ge=1), True, "model lstm-torch: x must be an integer >= 1, got True"),
        (param(32, "", ge=1), 2.0, "model lstm-torch: x must be an integer >= 1, got 2.0"),
        (param(32, "", ge=1), "32", "model lstm-torch: x must be an integer >= 1, got '32'"),
        (param(32, "", ge=1), None, "model lstm-torch: x must be an integer >= 1, got None"),
        (param(2.0, "", ge=1), "half", "model lstm-torch: x must be a number >= 1, got 'half'"),
        (param(2.0, "", ge=1), math.nan, "model lstm-torch: x must be finite, got nan"),
        (param(2.0, ""), math.inf, "model lstm-torch: x must be finite, got inf"),
        (param(2.0, ""), -math.inf, "model lstm-torch: x must be finite, got -inf"),
        (param(2.0, ""), False, "model lstm-torch: x must be a number, got False"),
        (param(0.5, "", gt=0, lt=1), 1, "model lstm-torch: x must be a number in (0, 1), got 1"),
        (param(5, "", le=5, nullable=True), 6, "model lstm-torch: x must be an integer <= 5 or null, got 6"),
        (
            param("mimo", "", choices=("mimo", "recursive")),
            "x",
            "model lstm-torch: x must be one of mimo, recursive, got 'x'",
        ),
        (
            param("mimo", "", choices=("mimo", "recursive")),
            3,
            "model lstm-torch: x must be one of mimo, recursive, got 3",
        ),
        (param(True, ""), "yes", "model lstm-torch: x must be true or false, got 'yes'"),
        (param(True, ""), 1, "model lstm-torch: x must be true or false, got 1"),
        (param("a", ""), 1, "model lstm-torch: x must be a string, got 1"),
        (param((1, 0, 1), ""), "1,0,1", "model lstm-torch: x must be a list, got '1,0,1'"),
    ],
)
def test_bad_values_are_one_line_model_errors(p, value, expected):
    assert message(p, value) == expected


@pytest.mark.parametrize(
    "p, value",
    [
        (param(32, "", ge=1), 1),
        (param(32, "", ge=1), np.int64(4)),
        (param(2.0, "", ge=1), 3),
        (param(2.0, "", ge=1), np.float64(1.5)),
        (param(0.5, "", gt=0, lt=1, nullable=True), None),
        (param((1, 0, 1), "", nullable=True), [2, 1, 2]),
        (param((1, 0, 1), "", nullable=True), (0, 1, 1)),
        (param("a", "", choices=("a", "b")), "b"),
        (param(False, ""), True),
        (Param(None, "", type=None, nullable=True), {"anything": 1}),
    ],
)
def test_good_values_pass(p, value):
    assert p.problem(value) is None
    p.validate("m", "x", value)


# --- collection over the class hierarchy ---------------------------------------------------------


class Base(harness.LocalForecaster):
    """A base model with two declared parameters."""

    name = "base"
    width: int = param(3, "window width", ge=1)
    level: float = param(95, "interval level", type=float, gt=0, lt=100)

    def fit_predict_one(self, y):
        return np.repeat(y[-1], self.horizon)


class Child(Base):
    """Overrides one declaration and adds one."""

    name = "child"
    width: int = param(5, "a wider window", ge=2, le=10)
    order = param(None, "an order", type=tuple)


def test_declarations_are_collected_over_the_mro_and_may_be_overridden():
    assert list(Base.parameters) == ["width", "level"]
    assert list(Child.parameters) == ["width", "level", "order"]  # the override keeps its place
    assert Child.parameters["width"].le == 10 and Base.parameters["width"].le is None
    assert Child.parameters["level"] is Base.parameters["level"]
    assert Base.defaults == {"width": 3, "level": 95}
    assert Child.defaults == {"width": 5, "level": 95, "order": None}
    assert "width" not in harness.LocalForecaster.parameters and harness.Forecaster.defaults == {}


def test_values_become_attributes_unconverted_and_are_validated():
    order = [1, 0, 1]
    model = Child(horizon=2, order=order)
    assert model.order is order  # recorded and hashed exactly as given
    assert model.level == 95 and isinstance(model.level, int)  # a float parameter keeps an int
    assert model.width == 5 and isinstance(Child.__dict__["width"], Param)  # instance shadows the declaration
    assert model.params == {"width": 5, "level": 95, "order": [1, 0, 1]}
    with pytest.raises(harness.ModelError, match=r"^model child: width must be an integer in \[2, 10\], got 1$"):
        Child(horizon=2, width=1)
    Base(horizon=2, width=1)  # the base's own declaration allows it
    with pytest.raises(
        harness.ModelError, match="model child: unknown parameter 'nope' \\(known: level, order, width\\)"
    ):
        Child(horizon=2, nope=1)


def test_reserved_names_cannot_be_parameters():
    with pytest.raises(TypeError, match="'horizon' cannot be a parameter name"):

        class Bad(harness.LocalForecaster):
            horizon = param(3, "clashes with the constructor")

            def fit_predict_one(self, y):
                return y


# --- the legacy defaults dict --------------------------------------------------------------------


def test_a_legacy_defaults_dict_still_works_with_one_deprecation_warning():
    with pytest.warns(
        DeprecationWarning, match=r"test_params\.Legacy sets a plain `defaults` dict.*harness\.param"
    ) as w:

        class Legacy(harness.LocalForecaster):
            name = "legacy"
            defaults = {"damping": 1.0, "window": 3, "mode": "fast", "extra": None}

            def fit_predict_one(self, y):
                return np.repeat(y[-1], self.horizon)

    assert len([x for x in w if issubclass(x.category, DeprecationWarning)]) == 1
    assert Legacy.defaults == {"damping": 1.0, "window": 3, "mode": "fast", "extra": None}
    p = Legacy.parameters
    assert (p["damping"].type, p["window"].type, p["mode"].type) == (float, int, str)
    assert p["extra"].type is None and p["extra"].nullable and all(q.description == "" for q in p.values())
    model = Legacy(horizon=2, window=4, extra={"any": "thing"})
    assert (model.window, model.extra, model.damping) == (4, {"any": "thing"}, 1.0)
    with pytest.raises(harness.ModelError, match="model legacy: window must be an integer, got 'four'"):
        Legacy(horizon=2, window="four")
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # a subclass that sets nothing is not warned about again

        class Quiet(Legacy):
            pass

    assert Quiet.parameters == Legacy.parameters


def test_a_legacy_dict_over_declared_bases_keeps_their_declarations():
    with pytest.warns(DeprecationWarning, match="LegacyRNN"):

        class LegacyRNN(harness.WindowForecaster):
            defaults = {**harness.WindowForecaster.defaults, "strategy": "recursive", "hidden": 8}

            def train_network(self, train, val, seed):
                raise NotImplementedError

    strategy = LegacyRNN.parameters["strategy"]
    assert strategy.default == "recursive" and strategy.choices == ("mimo", "recursive") and strategy.description
    assert LegacyRNN.parameters["hidden"].type is int
    with pytest.raises(harness.ModelError, match="strategy must be one of mimo, recursive, got 'x'"):
        LegacyRNN(horizon=3, strategy="x")


def test_an_empty_legacy_dict_is_not_warned_about():
    with warnings.catch_warnings():
        warnings.simplefilter("error")

        class NoParams(harness.LocalForecaster):
            defaults: dict = {}

            def fit_predict_one(self, y):
                return y

    assert NoParams.parameters == {}


# --- validation before anything runs -------------------------------------------------------------


def test_resolve_params_validates_suite_and_command_line_values(registry):
    theta = registry.model("theta")
    assert theta.resolve_params({"theta": 3}) == {"theta": 3}
    with pytest.raises(harness.ModelError, match="^model theta: theta must be finite, got nan$"):
        theta.resolve_params({"theta": float("nan")})
    with pytest.raises(harness.ModelError, match="^model theta: theta must be a number >= 1, got 0.5$"):
        theta.resolve_params({"theta": 0.5})
    arima = registry.model("arima")
    assert arima.resolve_params({"order": [1, 1, 1]})["order"] == [1, 1, 1]


REGISTERS_BAD_DEFAULT = textwrap.dedent(
    """
    import numpy as np
    import harness

    class Damped(harness.LocalForecaster):
        name = "damped"
        phi = harness.param(0.9, "damping", gt=0, le=1)

        def fit_predict_one(self, y):
            return np.repeat(y[-1], self.horizon)

    @harness.hookimpl
    def register_models(register):
        register(Damped)
        register(Damped, name="damped-bad", phi=1.5)
    """
)


def test_registration_overrides_are_validated(tmp_path, monkeypatch):
    folder = plugin_folder(tmp_path / "p", REGISTERS_BAD_DEFAULT, "damping.py")
    with pytest.warns(PluginWarning, match=r"model damped-bad: phi must be a number in \(0, 1\], got 1.5"):
        registry = load_registry(folder)
    # all or nothing: the plugin's valid registration of damped is not used either
    assert "damped" not in registry.models and "damped-bad" not in registry.models
    assert registry.failures["damping"].startswith("failed to register: model damped-bad: phi must be")
    monkeypatch.setenv("RNNBENCH_STRICT_PLUGINS", "1")
    with pytest.raises(PluginError, match="damped-bad: phi must be"):
        load_registry(folder)


def test_builtin_registrations_use_declared_parameters(registry):
    for spec in registry.models.values():
        if spec.plugin.startswith("plugins."):
            assert set(spec.params) == set(spec.cls.parameters), spec.name
            assert all(p.description for p in spec.cls.parameters.values()), spec.name
            declared = {n for k in spec.cls.__mro__ for n, v in vars(k).items() if isinstance(v, Param)}
            assert declared == set(spec.cls.parameters), spec.name  # none from a legacy dict
            assert not hasattr(spec.cls, "positive"), spec.name


# --- rnnbench models NAME ------------------------------------------------------------------------


def table(output: str) -> dict[str, dict[str, str]]:
    """The parameter table of ``rnnbench models NAME``, cut at the header's column starts."""
    lines = output.splitlines()
    start = next(i for i, line in enumerate(lines) if line.startswith("  parameter "))
    header = lines[start]
    names = header.split()
    cuts = [header.index(n) for n in names] + [None]
    rows = {}
    for line in lines[start + 1 :]:
        cells = [line[cuts[i] : cuts[i + 1]].strip() for i in range(len(names))]
        rows[cells[0]] = dict(zip(names, cells))
    return rows


def test_models_name_describes_one_model_and_its_parameters(monkeypatch):
    monkeypatch.setenv("RNNBENCH_LOAD_PLUGINS", "plugins.baselines,plugins.arima")
    result = invoke(["models", "theta"])
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    assert lines[0] == "theta: The standard Theta method (Assimakopoulos & Nikolopoulos 2000; Hyndman & Billah 2003)."
    assert "  plugin  plugins.baselines" in lines and "  device  cpu" in lines
    assert any(line.startswith("  scope   local") for line in lines)
    rows = table(result.output)
    assert list(rows) == ["theta"]
    assert rows["theta"] == {
        "parameter": "theta",
        "type": "float",
        "default": "2.0",
        "bounds": ">= 1",
        "search": "",
        "description": "SES plus (1 - 1/theta) x the linear trend's drift; 2 is the standard Theta method",
    }
    arima = table(invoke(["models", "arima"]).output)
    assert list(arima) == list(load_registry().model("arima").cls.parameters)
    assert (arima["ic"]["default"], arima["ic"]["bounds"]) == ("aicc", "one of aic, aicc, bic")
    assert (arima["order"]["type"], arima["order"]["default"]) == ("list|null", "null")
    assert (arima["stepwise"]["type"], arima["stepwise"]["default"]) == ("bool", "true")


@pytest.mark.skipif(importlib.util.find_spec("torch") is None, reason="needs torch")
def test_models_name_shows_the_registered_value():
    result = invoke(["models", "lstm-torch"])
    assert result.exit_code == 0, result.output
    rows = table(result.output)
    assert (rows["cell"]["default"], rows["cell"]["bounds"]) == ("lstm", "one of rnn, lstm, gru")
    assert (rows["hidden"]["type"], rows["hidden"]["default"], rows["hidden"]["bounds"]) == ("int", "32", ">= 1")
    assert rows["threads"]["type"] == "int|null" and rows["dropout"]["bounds"] == "in [0, 1)"
    assert "  plugin  plugins.torch_rnn" in result.output.splitlines()
    # the tuner's ranges, where this registration searches them (a GRU never draws forget_bias)
    assert rows["hidden"]["search"] == "8..64 log" and rows["cell"]["search"] == ""
    assert rows["forget_bias"]["search"] == "null|1.0"
    assert table(invoke(["models", "gru-torch"]).output)["forget_bias"]["search"] == ""
    tuned = invoke(["models", "lstm-torch[tuned]"])
    assert tuned.exit_code == 0, tuned.output
    assert any(line.startswith("  variant tuned: 20 trials of random search") for line in tuned.output.splitlines())


def test_models_name_unknown_is_one_line_with_close_matches(monkeypatch):
    monkeypatch.setenv("RNNBENCH_LOAD_PLUGINS", "plugins.baselines")
    result = invoke(["models", "nave2"])
    assert result.exit_code == 2 and result.stdout == ""
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("rnnbench: error: unknown model 'nave2'; did you mean naive2")
    listing = invoke(["models"])
    assert listing.exit_code == 0 and len(listing.output.splitlines()) == 5  # the plain listing is unchanged
