"""Model families: each model declares what it is, the run records it, and the claims pick their
contenders by that declaration, never by name (a stored run without families keeps the old rule)."""

from __future__ import annotations

import importlib.util
import textwrap
from pathlib import Path

import pandas as pd
import pytest

import harness
from harness.models import FAMILIES, GATED_FAMILIES, RECURRENT_FAMILIES, is_recurrent, model_family
from harness.plugins import load_registry
from tests.conftest import invoke, plugin_folder

REPO = Path(__file__).resolve().parents[1]
REFERENCE_RUN = REPO / "results" / "reference"

#: A last-value model whose name says rnn, and a recurrent model whose name does not.
FAMILY_PLUGIN = textwrap.dedent(
    '''
    import numpy as np
    import harness

    class RidgeRnnLike(harness.LocalForecaster):
        """The last value repeated, whatever its name suggests."""
        name = "ridge-rnnlike"
        family = "baseline"

        def fit_predict_one(self, y):
            return np.full(self.horizon, y[-1])

    class MyElman(harness.LocalForecaster):
        """A one-unit linear Elman recurrence h_t = a h_(t-1) + (1 - a) y_t over the series."""
        name = "my-elman"
        family = "rnn"
        a = harness.param(0.5, "recurrent weight", ge=0, lt=1)

        def fit_predict_one(self, y):
            h = y[0]
            for v in y[1:]:
                h = self.a * h + (1 - self.a) * v
            return np.full(self.horizon, h)

    @harness.hookimpl
    def register_models(register):
        register(RidgeRnnLike)
        register(MyElman)
    '''
)


# --- the declaration --------------------------------------------------------------------------


def test_builtin_models_declare_their_family():
    registry = load_registry()
    expected = {
        "rnn-numpy": "rnn",
        "arima": "arima",
        "theta": "theta",
        "naive": "baseline",
        "snaive": "baseline",
        "naive2": "baseline",
        "mean": "baseline",
    }
    if importlib.util.find_spec("torch") is not None:
        expected.update({"rnn-torch": "rnn", "lstm-torch": "lstm", "gru-torch": "gru"})
    for name, family in expected.items():
        spec = registry.model(name)
        assert model_family(spec.cls, spec.params, name) == family, name
    assert RECURRENT_FAMILIES == {"rnn", "lstm", "gru"} and GATED_FAMILIES == {"lstm", "gru"}
    assert set(RECURRENT_FAMILIES) <= set(FAMILIES) and is_recurrent("lstm") and not is_recurrent("tcn")


@pytest.mark.skipif(importlib.util.find_spec("torch") is None, reason="needs torch")
def test_family_follows_the_registered_and_chosen_cell():
    spec = load_registry().model("rnn-torch")
    assert model_family(spec.cls, spec.resolve_params({"cell": "gru"})) == "gru"
    built = load_registry().model("lstm-torch")
    model = built.build(horizon=2, season_length=1, seed=0, params=built.resolve_params({"device": "cpu"}))
    assert model.family == "lstm"  # the object's family; the class's default cell is rnn
    assert type(model).family == "rnn"


def test_undeclared_family_is_other_and_unknown_families_are_refused():
    class Plain(harness.LocalForecaster):
        def fit_predict_one(self, y):
            return y[-1:]

    assert Plain.family == "other" and Plain(horizon=1).family == "other"
    with pytest.raises(TypeError, match="family 'LSTM' is not one of rnn, lstm, gru"):

        class Typo(harness.LocalForecaster):
            family = "LSTM"

            def fit_predict_one(self, y):
                return y[-1:]

    class Chooser(harness.LocalForecaster):
        kind = harness.param("rnn", "what it claims to be")

        @classmethod
        def family_of(cls, params):
            return params["kind"]

        def fit_predict_one(self, y):
            return y[-1:]

    assert Chooser(horizon=1).family == "rnn"
    with pytest.raises(harness.ModelError, match="model chooser: family 'elman' is not one of"):
        model_family(Chooser, {"kind": "elman"}, "chooser")
    with pytest.raises(harness.ModelError, match="family 'elman'"):  # checked when the model is built
        Chooser(horizon=1, kind="elman")
    with pytest.raises(TypeError, match="'family' cannot be a parameter name"):

        class Clash(harness.LocalForecaster):
            family = harness.param("rnn", "a parameter may not be named family")

            def fit_predict_one(self, y):
                return y[-1:]


def test_models_listing_and_description_show_the_family(tmp_path):
    folder = plugin_folder(tmp_path / "p", FAMILY_PLUGIN)
    listing = invoke(["--plugins-dir", str(folder), "models"])
    assert listing.exit_code == 0, listing.output
    rows = {line.split()[0]: line.split() for line in listing.output.splitlines()}
    assert rows["ridge-rnnlike"][1:3] == ["local", "baseline"]
    assert rows["my-elman"][1:3] == ["local", "rnn"]
    assert rows["rnn-numpy"][1:3] == ["global", "rnn"] and rows["arima"][2] == "arima"
    described = invoke(["--plugins-dir", str(folder), "models", "my-elman"]).output.splitlines()
    assert any(line.startswith("  family  rnn: Elman") and "a contender in the claims" in line for line in described)
    described = invoke(["--plugins-dir", str(folder), "models", "ridge-rnnlike"]).output.splitlines()
    assert any(line.startswith("  family  baseline:") and "not a contender" in line for line in described)


def test_each_experiment_records_its_family(tmp_path, long_csv):
    folder = plugin_folder(tmp_path / "p", FAMILY_PLUGIN)
    out = tmp_path / "run"
    args = ["--plugins-dir", str(folder), "run", "--models", "ridge-rnnlike,my-elman", "--datasets", str(long_csv)]
    result = invoke([*args, "--workers", "1", "--out", str(out)])
    assert result.exit_code == 0, result.output
    experiments = pd.read_csv(out / "experiments.csv")
    columns = list(experiments.columns)
    assert columns.index("family") == columns.index("scope") + 1
    families = experiments.drop_duplicates("model").set_index("model")["family"].to_dict()
    assert families == {"ridge-rnnlike": "baseline", "my-elman": "rnn", "naive": "baseline", "naive2": "baseline"}
