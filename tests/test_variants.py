"""Model variants (harness/variants.py, harness/tuning.py): seed ensembles ``BASE[ensK]`` and
tuned models ``BASE[tunedN]``, their names, search spaces, blindness to the test set, and a run
through the processes executor that resumes."""

from __future__ import annotations

import json
import math

import numpy as np
import pandas as pd
import pytest

import harness
from harness.data import Dataset, Panel
from harness.errors import ModelError
from harness.experiments import Experiment
from harness.params import param
from harness.plugins import load_registry
from harness.runner import run_experiment
from harness.tasks import ProtocolSpec, Task
from harness.tuning import draw, search_space, validation_owa, validation_split
from harness.variants import median_forecast, parse_variant
from tests.conftest import invoke

H = 4
#: Tiny nets so every fit takes well under a second.
TINY = {"hidden": 4, "epochs": 3, "batch_size": 64, "device": "cpu"}
NUMPY_TINY = {"hidden": 4, "epochs": 3}


def _panel_values(n: int = 6, length: int = 36, seed: int = 0) -> list[np.ndarray]:
    rng = np.random.default_rng(seed)
    t = np.arange(length + H)
    return [50 + 0.3 * k * t + 5 * np.sin(2 * np.pi * t / 4 + k) + rng.normal(0, 1, t.size) for k in range(1, n + 1)]


def dataset(poison: float = 1.0, name: str = "toy") -> Dataset:
    """A small quarterly panel whose official test values can be multiplied by ``poison``."""
    values = _panel_values()
    panel = Panel(
        ids=tuple(f"s{k}" for k in range(len(values))),
        values=tuple(v[:-H] for v in values),
        freq="Q",
        season_length=4,
        horizon=H,
    )
    return Dataset(name, panel, test=tuple(v[-H:] * poison for v in values))


@pytest.fixture(scope="module")
def registry():
    return load_registry()


def _run(registry, name: str, params: dict, seed: int = 0, poison: float = 1.0):
    spec = registry.model(name)
    task = Task(dataset(poison), ProtocolSpec())
    exp = Experiment(task, spec, spec.resolve_params(params), seed)
    return run_experiment(exp)


# --- names ------------------------------------------------------------------------------------


def test_the_name_grammar():
    assert parse_variant("lstm-torch") is None
    ens = parse_variant("lstm-torch[ens5]")
    assert (ens.base, ens.kind, ens.size, ens.one_seed) == ("lstm-torch", "ens", 5, True)
    tuned = parse_variant("gru-torch[tuned]")
    assert (tuned.kind, tuned.size, tuned.one_seed) == ("tuned", 20, True)
    assert parse_variant("gru-torch[tuned7]").size == 7


@pytest.mark.parametrize(
    "name, message",
    [
        ("lstm-torch[ens1]", "a seed ensemble needs at least 2 members, got 1"),
        ("lstm-torch[tuned1]", "tuning needs at least 2 trials, got 1"),
        ("lstm-torch[bag5]", "unknown variant suffix [bag5]"),
        ("lstm-torch[ens2][tuned]", "variants do not nest"),
        ("nope[ens3]", "unknown model 'nope'"),
        ("naive[ens3]", "naive is deterministic"),
        ("arima[tuned]", "arima declares no search space to tune"),
    ],
)
def test_bad_variant_names_are_one_line_model_errors(registry, name, message):
    with pytest.raises(ModelError) as info:
        registry.model(name)
    text = str(info.value)
    assert message in text and text.startswith(f"model {name!r}") and "\n" not in text, text


def test_a_bad_variant_name_exits_2_through_the_cli(tmp_path):
    result = invoke(["run", "--models", "naive[ens3]", "--datasets", "airline", "--out", str(tmp_path / "r")])
    assert result.exit_code == 2
    assert "naive is deterministic" in result.output and not (tmp_path / "r").exists()


def test_a_variant_has_its_base_parameters_family_and_scope(registry):
    spec = registry.model("lstm-torch[ens3]")
    base = registry.model("lstm-torch")
    assert spec.params == base.params and spec.cls is base.cls and spec.scope == "global"
    assert spec.resolve_params({"hidden": 4})["hidden"] == 4
    with pytest.raises(ModelError, match=r"model lstm-torch\[ens3\]: hidden must be an integer >= 1"):
        spec.resolve_params({"hidden": 0})
    model = spec.build(horizon=H, season_length=4, seed=3, params=spec.resolve_params(TINY), levels=())
    assert model.family == "lstm" and [m.seed for m in model.members] == [3, 4, 5]
    assert registry.model("gru-torch[tuned]").scope == "global"


def test_parse_param_and_suites_take_bracketed_names(tmp_path):
    from harness.suite import load_suite, parse_param

    assert parse_param("lstm-torch[ens5].hidden=64") == ("lstm-torch[ens5]", "hidden", 64)
    suite = tmp_path / "s.toml"
    suite.write_text('datasets = ["airline"]\n[models."lstm-torch[ens5]"]\nhidden = 8\n', encoding="utf-8")
    assert load_suite(str(suite)).models == {"lstm-torch[ens5]": {"hidden": 8}}


# --- search spaces --------------------------------------------------------------------------


def test_search_declarations_are_checked():
    with pytest.raises(TypeError, match="log: low > 0"):
        param(1e-3, "lr", gt=0, search=(0.0, 1.0, "log"))
    with pytest.raises(TypeError, match="search value 0 must be"):
        param(4, "hidden", ge=1, search=[0, 4])
    with pytest.raises(TypeError, match="needs an int parameter"):
        param(1.0, "x", search=(0.5, 2.0, "log", "window"))
    with pytest.raises(TypeError, match="search_if needs a search"):
        param(1, "x", search_if={"cell": ("lstm",)})


def test_sampling_respects_bounds_log_scale_and_int_types():
    space = {
        "hidden": param(32, "h", ge=1, search=(8, 64, "log")),
        "lr": param(1e-3, "lr", gt=0, search=(1e-4, 1e-2, "log")),
        "dropout": param(0.0, "d", ge=0, lt=1, search=(0.0, 0.4, "linear")),
        "batch": param(64, "b", ge=1, search=[16, 64, 256]),
        "window": param(None, "w", type=int, ge=1, search=(0.5, 2.0, "linear", "window")),
    }
    rng = np.random.default_rng(0)
    draws = [draw(space, rng, horizon=8, season_length=4) for _ in range(2000)]
    hidden = np.array([d["hidden"] for d in draws])
    lr = np.array([d["lr"] for d in draws])
    assert all(type(d["hidden"]) is int and type(d["window"]) is int for d in draws)
    assert hidden.min() >= 8 and hidden.max() <= 64 and set(hidden) >= {8, 64}
    assert lr.min() >= 1e-4 and lr.max() <= 1e-2
    # log scale: the log is uniform, so half the draws lie below the geometric midpoint 1e-3
    assert abs(np.mean(lr < 1e-3) - 0.5) < 0.05 and abs(np.mean(hidden <= 22) - 0.5) < 0.06
    dropout = np.array([d["dropout"] for d in draws])
    assert dropout.min() >= 0 and dropout.max() <= 0.4 and abs(np.mean(dropout < 0.2) - 0.5) < 0.05
    assert {d["batch"] for d in draws} == {16, 64, 256}
    # multiples 0.5..2 of the default window ceil(1.25 x max(8, 4)) = 10
    assert {d["window"] for d in draws} <= set(range(5, 21)) and {5, 20} <= {d["window"] for d in draws}
    again = np.random.default_rng(0)
    assert [draw(space, again, 8, 4) for _ in range(5)] == draws[:5]  # the seed decides the trials


def test_the_space_depends_on_the_registered_cell(registry):
    def space(name, fixed=()):
        spec = registry.model(name)
        return set(search_space(spec.cls.parameters, spec.params, fixed))

    assert "forget_bias" in space("lstm-torch") and "init" not in space("lstm-torch")
    assert "forget_bias" not in space("gru-torch") and "init" not in space("gru-torch")
    assert "init" in space("elman-torch") and "init" in space("rnn-torch")
    assert "init" not in space("irnn-torch")  # its identity start is the method
    assert {"hidden", "lr", "input_size", "deseasonalize", "epochs", "batch_size"} <= space("rnn-numpy")
    assert "hidden" not in space("rnn-numpy", fixed={"hidden"})


def test_validation_split_and_criterion():
    values = _panel_values(n=3)
    panel = Panel(("a", "b", "c"), (values[0], values[1], values[2][:5]), "Q", 4, H)
    cut, tails, kept = validation_split(panel, H)
    assert kept == [0, 1] and cut.ids == ("a", "b")  # c keeps 1 value before its tail: left out
    assert all(np.array_equal(c, v[:-H]) for c, v in zip(cut.values, values))
    assert all(np.array_equal(t, v[-H:]) for t, v in zip(tails, values))
    from harness.tuning import naive2

    refs = [naive2(h, 4, H) for h in cut.values]
    assert validation_owa(refs, tails, cut.values, 4) == pytest.approx(1.0)  # Naive2 itself
    assert validation_owa(tails, tails, cut.values, 4) == 0.0  # the truth


def test_validation_split_samples_at_most_max_series_seeded_in_panel_order():
    values = _panel_values(n=6)
    panel = Panel(tuple("abcdef"), tuple(values), "Q", 4, H)
    cut, tails, kept = validation_split(panel, H, max_series=4, seed=3)
    assert len(kept) == 4 and kept == sorted(kept) and cut.ids == tuple("abcdef"[i] for i in kept)
    assert all(np.array_equal(t, values[i][-H:]) for t, i in zip(tails, kept))
    assert validation_split(panel, H, max_series=4, seed=3)[2] == kept  # the seed fixes the sample
    assert {tuple(validation_split(panel, H, max_series=4, seed=s)[2]) for s in range(8)} != {tuple(kept)}
    assert validation_split(panel, H, max_series=6, seed=3)[2] == list(range(6))  # no more: all of them


# --- the ensemble ---------------------------------------------------------------------------


def test_median_forecast_is_the_elementwise_median():
    a, b, c = (harness.Forecast(np.array(v, float)) for v in ([1, 5, 3], [2, 0, 9], [7, 4, 4]))
    assert np.array_equal(median_forecast([a, b, c], ()).mean, [2, 4, 4])


@pytest.mark.parametrize("base, params", [("gru-torch", TINY), ("rnn-numpy", NUMPY_TINY)])
def test_the_ensemble_forecast_is_the_median_of_its_members(registry, base, params):
    """The members are the single-seed models of seeds s..s+K-1, run apart: the median of their
    forecasts is the ensemble's, exactly (training is deterministic given the seed)."""
    k, seed = 3, 5
    ens = _run(registry, f"{base}[ens{k}]", params, seed=seed).forecasts
    singles = [_run(registry, base, params, seed=seed + i).forecasts for i in range(k)]
    key = ["unique_id", "step"]
    ens = ens.sort_values(key).reset_index(drop=True)
    yhat = np.vstack([s.sort_values(key)["yhat"].to_numpy() for s in singles])
    assert len(ens) == 6 * H and (ens["yhat"].to_numpy() == np.median(yhat, axis=0)).all()
    # intervals: the median of the members' bounds (every member has them here)
    for col in ("lo_80", "hi_80"):  # 6 series calibrate 80% intervals, too few for 95%
        bounds = np.vstack([s.sort_values(key)[col].to_numpy() for s in singles])
        assert (ens[col].to_numpy() == np.median(bounds, axis=0)).all()


def test_training_is_deterministic_given_the_seed(registry):
    first, second = (_run(registry, "lstm-torch", TINY, seed=2).forecasts for _ in range(2))
    assert (first["yhat"].to_numpy() == second["yhat"].to_numpy()).all()


def test_a_local_base_makes_a_local_ensemble(registry, tmp_path):
    """A non-deterministic local model (a plugin's) ensembles series by series."""
    import textwrap

    (tmp_path / "noisy.py").write_text(
        textwrap.dedent(
            """
            import numpy as np
            import harness

            class Noisy(harness.LocalForecaster):
                name = "noisy"
                deterministic = False

                def fit_predict_one(self, y):
                    return y[-1] + np.random.default_rng(self.seed).normal(size=self.horizon)

            @harness.hookimpl
            def register_models(register):
                register(Noisy)
            """
        ),
        encoding="utf-8",
    )
    reg = load_registry(tmp_path)
    spec = reg.model("noisy[ens3]")
    assert spec.scope == "local" and spec.one_seed
    model = spec.build(horizon=H, season_length=4, seed=1, params={}, levels=())
    y = np.arange(1.0, 21.0)
    members = [np.asarray(m.fit_predict_one(y)) for m in model.members]
    assert np.array_equal(model.fit_predict_one(y).mean, np.median(members, axis=0))


# --- the tuner ------------------------------------------------------------------------------


def _tuning(result) -> list[dict]:
    return json.loads(result.summary["tuning"])


def test_the_tuner_never_sees_the_test_values(registry):
    """The same tuned experiment with the test values multiplied by 1e6: the trials, their
    validation scores and the choice are identical (only the test scores differ)."""
    clean = _run(registry, "gru-torch[tuned3]", TINY, seed=1)
    poisoned = _run(registry, "gru-torch[tuned3]", TINY, seed=1, poison=1e6)
    (a,), (b,) = _tuning(clean), _tuning(poisoned)
    assert a["trials"] == b["trials"] and a["chosen"] == b["chosen"] and a["trial"] == b["trial"]
    assert (clean.forecasts["yhat"].to_numpy() == poisoned.forecasts["yhat"].to_numpy()).all()
    assert poisoned.series["smape"].mean() > 100 > clean.series["smape"].mean()


def test_trial_0_is_the_defaults_and_the_record_is_complete(registry):
    result = _run(registry, "rnn-numpy[tuned3]", NUMPY_TINY, seed=0)
    (record,) = _tuning(result)
    spec = registry.model("rnn-numpy")
    trials = record["trials"]
    assert len(trials) == 3 and [t["trial"] for t in trials] == [0, 1, 2]
    assert "hidden" not in record["space"] and "epochs" not in record["space"]  # fixed by the suite
    assert trials[0]["params"] == {k: spec.params[k] for k in record["space"]}
    assert all(t["owa"] is None or t["owa"] > 0 for t in trials)
    best = min((t for t in trials if t["owa"] is not None), key=lambda t: t["owa"])
    assert record["chosen"] == best["params"] and record["owa"] == best["owa"]
    assert record["owa"] <= trials[0]["owa"]  # never worse than the defaults on validation
    summary = result.summary
    assert 0 < summary["tune_wall_s"] <= summary["fit_s"] and 0 < summary["tune_cpu_s"] <= summary["cpu_s"]
    assert math.isfinite(summary["epochs"])  # the refit base's training summary is kept


# --- end to end -----------------------------------------------------------------------------


def test_variants_run_end_to_end_with_processes_and_resume(tmp_path):
    data = tmp_path / "toy.csv"
    values = _panel_values(n=5)
    rows = [(f"s{k}", t, float(y)) for k, v in enumerate(values) for t, y in enumerate(v)]
    pd.DataFrame(rows, columns=["unique_id", "ds", "y"]).to_csv(data, index=False)
    models = ["gru-torch", "gru-torch[ens2]", "rnn-numpy[tuned2]"]
    params = {"gru-torch": TINY, "gru-torch[ens2]": TINY, "rnn-numpy[tuned2]": NUMPY_TINY}
    options = dict(seeds=[0, 1], horizon=H, executor="processes", workers=2, params=params, quiet=True)
    out = tmp_path / "run"
    run = harness.run(models, [str(data)], out=out, **options)
    exp = pd.read_csv(out / "experiments.csv")
    rows = {(m, s) for m, s in zip(exp["model"], exp["seed"])}
    assert {("gru-torch[ens2]", 0), ("rnn-numpy[tuned2]", 0)} <= rows
    # a variant runs once, at the first seed
    assert ("gru-torch[ens2]", 1) not in rows and ("rnn-numpy[tuned2]", 1) not in rows
    assert (exp["status"] == "ok").all(), exp[["model", "status", "message"]]
    tuned = exp[exp["model"] == "rnn-numpy[tuned2]"]
    assert tuned["tuning"].map(lambda t: len(json.loads(t)[0]["trials"])).tolist() == [2]
    assert (tuned["family"] == "rnn").all() and (exp.loc[exp["model"] == "gru-torch[ens2]", "family"] == "gru").all()
    # the ensemble at seed 0 is made of the networks of the single-seed rows 0 and 1, each fit in
    # a worker process of its own: its forecast is their median, its updates their sum
    fc = pd.read_parquet(out / "forecasts.parquet").sort_values(["unique_id", "step"])
    single = [fc[(fc["model"] == "gru-torch") & (fc["seed"] == s)]["yhat"].to_numpy() for s in (0, 1)]
    ens = fc[fc["model"] == "gru-torch[ens2]"]["yhat"].to_numpy()
    assert len(ens) == 5 * H and (ens == np.median(np.vstack(single), axis=0)).all()
    updates = exp.set_index(["model", "seed"])["updates"]
    assert updates["gru-torch[ens2]", 0] == updates["gru-torch", 0] + updates["gru-torch", 1]
    speed = pd.read_csv(out / "speed.csv")
    assert "tune_cpu_s" in speed.columns and speed.loc[speed["model"] == "rnn-numpy[tuned2]", "tune_cpu_s"].gt(0).all()
    before = {p: p.stat().st_mtime_ns for p in (out / "parts").rglob("summary.json")}
    again = harness.run(models, [str(data)], resume=str(out), **{k: v for k, v in options.items()})
    after = {p: p.stat().st_mtime_ns for p in (out / "parts").rglob("summary.json")}
    assert after == before  # nothing was rerun
    pd.testing.assert_frame_equal(again.accuracy, run.accuracy)


def test_refits_join_their_tuning_records_and_sum_their_seconds():
    from harness.training import combine_fits, training_columns

    fits = [
        {"epochs": 3.0, "tuning": json.dumps([{"trial": 0}]), "tune_wall_s": 1.0, "tune_cpu_s": 2.0},
        {"epochs": 5.0, "tuning": json.dumps([{"trial": 2}]), "tune_wall_s": 0.5, "tune_cpu_s": 1.0},
    ]
    combined = combine_fits(fits)
    assert json.loads(combined["tuning"]) == [{"trial": 0}, {"trial": 2}]
    assert (combined["tune_wall_s"], combined["tune_cpu_s"], combined["epochs"]) == (1.5, 3.0, 4.0)
    plain = training_columns({"epochs": 3.0})
    assert plain["tuning"] == "" and math.isnan(plain["tune_wall_s"]) and math.isnan(plain["tune_cpu_s"])
