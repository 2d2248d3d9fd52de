"""Model families: each model declares what it is, the run records it, and the claims pick their
contenders by that declaration, never by name (a stored run without families keeps the old rule)."""

from __future__ import annotations

import importlib.util
import shutil
import textwrap
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import harness
from harness import claims
from harness.families import DECLARED, declared_families
from harness.models import FAMILIES, GATED_FAMILIES, RECURRENT_FAMILIES, is_recurrent, model_family
from harness.plugins import load_registry
from tests.conftest import invoke, plugin_folder
from tests.test_claims import BASE, make_series, speed

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
        expected.update({"rnn-torch": "rnn", "lstm-torch": "lstm", "gru-torch": "gru", "tcn-torch": "tcn"})
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


# --- the claims choose by declaration -----------------------------------------------------------


def _verdict(frame: pd.DataFrame, claim: str, dataset: str = "d1") -> pd.Series:
    return frame[(frame["claim"] == claim) & (frame["dataset"] == dataset)].iloc[0]


def test_claims_select_contenders_by_declared_family_not_by_name():
    series = make_series({"ridge-rnnlike": BASE + 1, "my-elman": BASE - 1, "arima": BASE})
    sp = speed({"ridge-rnnlike": 0.1, "my-elman": 50.0, "arima": 10.0})
    declared = {"ridge-rnnlike": "baseline", "my-elman": "rnn", "arima": "arima"}
    out = claims.claims_tables(series, None, sp, families=declared)
    v = out["verdicts"]
    assert _verdict(v, "a")["verdict"] == "supported" and "my-elman vs arima on" in _verdict(v, "a")["evidence"]
    assert _verdict(v, "b")["verdict"] == "supported" and "ridge-rnnlike" not in _verdict(v, "b")["evidence"]
    for claim in ("a", "b", "c"):
        assert _verdict(v, claim)["compared"] == "my-elman (rnn) vs arima"
    summary = out["summary"].set_index(["dataset", "model"])
    assert not summary.loc[("d1", "ridge-rnnlike"), "neural"] and summary.loc[("d1", "my-elman"), "neural"]
    assert summary.loc[("d1", "ridge-rnnlike"), "family"] == "baseline"
    fam = out["families"].set_index("model")
    assert fam.loc["my-elman", "source"] == DECLARED and not fam.loc["ridge-rnnlike", "neural"]
    # the same rows without declarations: the old name rule, which picked the wrong model
    legacy = claims.claims_tables(series, None, sp)["verdicts"]
    assert _verdict(legacy, "a")["verdict"] == "refuted"
    assert "ridge-rnnlike vs arima on" in _verdict(legacy, "a")["evidence"]
    assert _verdict(legacy, "a")["compared"] == "ridge-rnnlike (rnn by name) vs arima"


def test_cost_study_contenders_by_family():
    from harness.studies import cost

    rows = pd.DataFrame(
        {
            "axis": "length",
            "value": [100, 200] * 3,
            "model": ["arima"] * 2 + ["ridge-rnnlike"] * 2 + ["my-elman"] * 2,
            "device": "cpu",
            "total_s": [1.0, 2.0, 0.01, 0.02, 5.0, 9.0],
        }
    )
    assert cost.contenders(rows) == ["ridge-rnnlike", "my-elman"]  # a study without families: its old rule
    rows["family"] = rows["model"].map({"arima": "arima", "ridge-rnnlike": "baseline", "my-elman": "rnn"})
    assert cost.contenders(rows) == ["my-elman"]
    # the verdict (at the base point, with repeats for an interval) weighs my-elman only
    timed = pd.concat([rows.assign(repeat=r, total_s=rows["total_s"] * (1 + 0.01 * r)) for r in range(3)])
    timed = timed.assign(length=timed["value"], n_series=32, hidden=np.where(timed["model"] == "arima", np.nan, 8))
    v = cost.cost_verdict(timed, {"length": 100, "n_series": 32, "hidden": 8})
    assert v["verdict"] == "supported" and v["compared"] == "my-elman (rnn) vs arima"
    assert "ridge-rnnlike" not in v["evidence"].split(". exponent")[0]


# --- end to end: recorded, rebuilt, listed ------------------------------------------------------


def test_run_records_families_and_the_report_lists_the_compared_models(tmp_path, long_csv):
    folder = plugin_folder(tmp_path / "p", FAMILY_PLUGIN)
    out = tmp_path / "run"
    result = invoke(
        [
            "--plugins-dir",
            str(folder),
            "run",
            "--models",
            "arima,ridge-rnnlike,my-elman",
            "--datasets",
            str(long_csv),
            "--workers",
            "1",
            "--out",
            str(out),
        ]
    )
    assert result.exit_code == 0, result.output
    experiments = pd.read_csv(out / "experiments.csv")
    assert list(experiments.columns).index("family") == list(experiments.columns).index("scope") + 1
    families = experiments.drop_duplicates("model").set_index("model")["family"].to_dict()
    assert families == {
        "arima": "arima",
        "ridge-rnnlike": "baseline",
        "my-elman": "rnn",
        "naive": "baseline",
        "naive2": "baseline",
    }
    verdicts = pd.read_csv(out / "claims" / "verdicts.csv")
    assert (verdicts["compared"] == "my-elman (rnn) vs arima").all()
    assert not verdicts["evidence"].str.contains("ridge-rnnlike").any()
    assert verdicts["evidence"].str.contains("my-elman").any()
    report = (out / "report.md").read_text()
    assert "models whose declared family is recurrent" in report and "my-elman (rnn) vs arima" in report
    assert "old name rule" not in report
    assert "my-elman (rnn) vs arima" in (out / "report.html").read_text()
    assert "my-elman (rnn) vs arima" in result.output  # the terminal summary too
    # a rebuild knows the families from the stored run alone, without the plugin
    rebuilt = invoke(["report", str(out)])
    assert rebuilt.exit_code == 0
    assert (out / "report.md").read_text() == report


def test_the_committed_reference_rebuilds_to_its_verdicts_by_declared_families(tmp_path):
    """The committed reference (issue 12's) records every model's family: rebuilt, its verdicts
    are unchanged, the contenders are the models of a recurrent family - the four RNNs and
    their [ens5] and [tuned] variants, whose family is their base's - and no name rule is
    mentioned. (A run stored without families keeps the name rule: see the legacy test above.)"""
    run = tmp_path / "reference"
    shutil.copytree(REFERENCE_RUN, run)
    result = invoke(["report", str(run)])
    assert result.exit_code == 0, result.output
    before = pd.read_csv(REFERENCE_RUN / "claims" / "verdicts.csv")
    after = pd.read_csv(run / "claims" / "verdicts.csv")
    # the committed reference was rebuilt by this code: a rebuild changes no verdict, evidence,
    # rule or list of compared models
    pd.testing.assert_frame_equal(after, before)
    a = after[(after["claim"] == "a") & (after["dataset"] == "overall")].iloc[0]
    assert a["compared"].startswith("rnn-numpy (rnn), rnn-torch (rnn), lstm-torch (lstm), gru-torch (gru)")
    assert "lstm-torch[ens5] (lstm)" in a["compared"] and "gru-torch[tuned] (gru)" in a["compared"]
    report = (run / "report.md").read_text()
    assert "This run was stored before models declared a family" not in report
    fam = pd.read_csv(run / "claims" / "families.csv")
    ran = fam[fam["where"] == "run"]
    assert set(ran["source"]) == {DECLARED}
    bases = ("rnn-numpy", "rnn-torch", "lstm-torch", "gru-torch")
    neural = {m for b in bases for m in (b, f"{b}[ens5]", f"{b}[tuned]")}
    assert set(ran.loc[ran["neural"], "model"]) == neural
    assert set(fam.loc[fam["where"] == "memory study", "source"]) == {"declared"}


def test_declared_families_of_experiments():
    assert declared_families(None) == {}
    assert declared_families(pd.DataFrame({"model": ["a"], "scope": ["local"]})) == {}
    exp = pd.DataFrame({"model": ["a", "a", "b", "c"], "family": ["rnn", "rnn", np.nan, "arima"]})
    assert declared_families(exp) == {"a": "rnn", "c": "arima"}
