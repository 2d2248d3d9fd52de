"""The cost study (claim b): end to end on the tiny config, and its analysis on synthetic rows
whose exponents and crossovers are known exactly."""

from __future__ import annotations

import json
import math

import numpy as np
import pandas as pd
import pytest

import harness
from harness.plugins import ModelSpec, Registry
from harness.studies import cost, cost_analysis
from harness.studies.cost import CostStudyConfig


def _rows(curves: dict[str, tuple[float, float]], axes: dict[str, list[int]]) -> pd.DataFrame:
    """Rows with total_s = a * value**b per model (device cpu); arima only at one hidden value."""
    rows = []
    for axis, values in axes.items():
        for model, (a, b) in curves.items():
            vals = values[:1] if (axis == "hidden" and model == "arima") else values
            for v in vals:
                rows.append({"axis": axis, "value": v, "model": model, "device": "cpu", "total_s": a * v**b})
    return pd.DataFrame(rows)


# --------------------------------------------------------------------------- end to end


def test_tiny_study_end_to_end(tmp_path, registry):
    models = tuple(m for m in ("arima", "rnn-numpy", "lstm-torch") if m in registry.models)
    config = CostStudyConfig.tiny(models=models)
    assert config.repeats == cost.MIN_REPEATS and config.regimes == ("local", "global")
    seen = []
    rows = cost.run_cost_study(config, registry, progress=lambda done, total, row: seen.append((done, total)))
    assert list(rows.columns) == cost.ROW_COLUMNS
    assert seen[-1][0] == seen[-1][1] == len(rows)
    assert sorted(rows["repeat"].unique()) == list(range(config.repeats))
    # arima appears once per repeat on the hidden axis (at the base point), the RNNs at every hidden size
    hid = rows[rows["axis"] == "hidden"]
    assert set(hid.loc[hid["model"] == "arima", "value"]) == {config.base_hidden}
    assert (hid["model"] == "arima").sum() == config.repeats
    assert sorted(set(hid.loc[hid["model"] == "rnn-numpy", "value"])) == list(config.hidden)
    # local and global rows: each RNN in both regimes at every point, arima local only
    assert set(rows.loc[rows["model"] == "arima", "regime"]) == {"local"}
    for model in models[1:]:
        for axis in cost.AXES:
            per = rows[(rows["model"] == model) & (rows["axis"] == axis) & (rows["device"] == "cpu")]
            assert per.groupby("value")["regime"].apply(set).eq({"local", "global"}).all()
    assert (rows["total_s"] > 0).all()
    assert np.allclose(rows["total_s"], rows["fit_s"] + rows["predict_s"])
    assert np.allclose(rows["ms_per_series"], rows["total_s"] * 1000 / rows["n_series"])
    on_cpu = rows["device"] == "cpu"
    assert np.allclose(rows.loc[on_cpu, "cost_s"], rows.loc[on_cpu, "cpu_s"])  # CPU seconds compared on CPU
    assert np.allclose(rows["cpu_ms_per_series"], rows["cpu_s"] * 1000 / rows["n_series"])
    # arima's per-series CPU: one number per series, adding up to its measured CPU
    ar = rows[rows["model"] == "arima"].iloc[0]
    per_series = np.array(ar["series_cpu_ms"].split(), dtype=float)
    assert len(per_series) == ar["n_series"] and per_series.sum() == pytest.approx(ar["cpu_s"] * 1000, rel=1e-3)
    assert (rows.loc[rows["model"] != "arima", "series_cpu_ms"] == "").all()
    nn = rows[rows["model"] == "rnn-numpy"]
    assert (nn["n_params"] > 0).all() and nn["hidden"].notna().all()
    # the base point is measured once per repeat and regime and reused on every axis
    base = rows[
        (rows["length"] == config.base_length)
        & (rows["n_series"] == config.base_n_series)
        & (rows["model"] == "rnn-numpy")
        & (rows["hidden"] == config.base_hidden)
        & (rows["repeat"] == 0)
        & (rows["regime"] == "local")
    ]
    assert base["axis"].nunique() == 3 and base["total_s"].nunique() == 1

    cost.write_cost_study(tmp_path, config, rows)
    out = tmp_path / "studies" / "cost"
    assert list(pd.read_csv(out / "cost.csv").columns) == cost.ROW_COLUMNS
    assert list(pd.read_csv(out / "exponents.csv").columns) == cost.EXPONENT_COLUMNS
    assert list(pd.read_csv(out / "crossover.csv").columns) == cost.CROSSOVER_COLUMNS
    ratios = pd.read_csv(out / "ratios.csv")
    assert list(ratios.columns) == cost.RATIO_COLUMNS and set(ratios["regime"]) == {"local", "global"}
    assert (ratios["ratio_lo"] <= ratios["ratio"]).all() and (ratios["ratio"] <= ratios["ratio_hi"]).all()
    verdict = pd.read_csv(out / "verdict.csv")
    assert list(verdict.columns) == cost.VERDICT_COLUMNS
    assert set(verdict["verdict"]) <= {"supported", "refuted", "inconclusive"}
    scopes = list(verdict["scope"])
    assert scopes[-1] == cost_analysis.SCOPE_ALL and len(scopes) == 3
    assert scopes[0].startswith("global, ") and scopes[1].startswith("local, ") and "-core CPU, hidden 4" in scopes[0]
    for axis in cost.AXES:
        assert (out / f"cost_{axis}.png").stat().st_size > 1000
    manifest = json.loads((tmp_path / "manifest.json").read_text())
    assert manifest["kind"] == "cost-study" and manifest["config"]["epochs"] == 2 and manifest["ref_ms"] > 0
    assert {"hardware", "versions", "git_commit", "created"} <= set(manifest)
    report = (tmp_path / "report.md").read_text()
    assert "Verdict" in report and "studies/cost/cost_length.png" in report and "bootstrap CIs" in report
    cost.write_cost_study(tmp_path, config, rows)  # rewriting its own study is fine


def test_a_study_on_a_real_dataset_times_one_point(tmp_path, registry):
    config = CostStudyConfig.tiny(models=("arima", "rnn-numpy"), dataset="airline", repeats=1)
    rows = cost.run_cost_study(config, registry)
    assert set(rows["axis"]) == {cost.DATASET_AXIS} and set(rows["value"]) == {1}
    assert set(zip(rows["model"], rows["regime"])) == {
        ("arima", "local"),
        ("rnn-numpy", "local"),
        ("rnn-numpy", "global"),
    }
    verdict = cost.write_cost_study(tmp_path, config, rows)
    assert verdict["verdict"] == "inconclusive"  # one repeat: no interval, so nothing is decisive
    scoped = pd.read_csv(tmp_path / "studies" / "cost" / "verdict.csv").iloc[:-1]
    assert list(scoped["scope"]) == [f"{r}, {cost._where()}, hidden 4, 1 airline series" for r in ("global", "local")]
    assert scoped["evidence"].str.contains(r"\[nan, nan\] indecisive .* 1 repeats\)").all()
    assert "1 series of airline" in (tmp_path / "report.md").read_text()


def test_refuses_to_overwrite_a_run_manifest(tmp_path):
    (tmp_path / "manifest.json").write_text(json.dumps({"rnnbench_run": 1}))
    rows = _rows({"arima": (0.01, 1.0), "rnn-numpy": (0.1, 0.5)}, {"n_series": [10, 100]})
    with pytest.raises(ValueError, match="another manifest"):
        cost.write_cost_study(tmp_path, CostStudyConfig.tiny(), rows)


class _Boom(harness.Forecaster):
    name = "boom"
    hidden = harness.param(4, "unused: makes the cost study treat it as an RNN", ge=1)
    epochs = harness.param(1, "unused", ge=1)
    patience = harness.param(1, "unused", ge=1)

    def fit(self, panel):
        raise RuntimeError("cannot fit")

    def predict(self, panel):
        return np.zeros((len(panel), self.horizon))


def test_failed_series_is_an_error(registry):
    reg = Registry(models={**registry.models, "boom": ModelSpec("boom", _Boom, dict(_Boom.defaults), "test")})
    config = CostStudyConfig.tiny(models=("boom",), lengths=(60,), n_series=(4,), hidden=(4,))
    with pytest.raises(RuntimeError, match="boom on cpu at length=60, n_series=4, hidden=4: 4 series failed"):
        cost.run_cost_study(config, reg)


@pytest.mark.parametrize("n_series, length, seed", [(8, 100, 0), (3, 57, 5), (1000, 20, 1)])
def test_workload_is_the_synthetic_arma_panel(n_series, length, seed):
    """The core generates the timed panels itself; they are the numbers plugins.synthetic.arma
    gave when the cost study used it, so timings stay comparable with earlier studies."""
    from plugins.synthetic import arma

    ours = cost.workload(n_series, length, seed=seed, horizon=8, name="w")
    theirs = arma(n_series, length, mean=10.0, seed=seed, horizon=8, name="w")
    assert ours.panel.ids == theirs.panel.ids and ours.fingerprint() == theirs.fingerprint()
    for a, b in zip(ours.panel.values, theirs.panel.values):
        np.testing.assert_array_equal(a, b)
    assert ours.meta == theirs.meta


def test_config_rejects_nonsense():
    with pytest.raises(ValueError, match="lengths"):
        CostStudyConfig(lengths=())
    with pytest.raises(ValueError, match="devices"):
        CostStudyConfig(devices=("tpu",))
    with pytest.raises(ValueError, match="regimes"):
        CostStudyConfig(regimes=("local", "batch"))
    with pytest.raises(ValueError, match="regimes"):
        CostStudyConfig(regimes=("local", "local"))
    with pytest.raises(ValueError, match="training"):
        CostStudyConfig(rnn_params={"training": "local"})
    with pytest.raises(ValueError, match="limit"):
        CostStudyConfig(limit=5)  # a limit needs a dataset
    default = CostStudyConfig().as_dict()
    assert default["lengths"] == [100, 200, 400] and default["repeats"] == 5
    assert default["regimes"] == ["local", "global"]


# --------------------------------------------------------------------------- analysis


def test_fit_exponents_recovers_a_known_power_law():
    rows = _rows(
        {"arima": (0.01, 1.5), "lstm-torch": (0.2, 0.25)}, {"length": [100, 200, 400, 800], "hidden": [8, 16, 32]}
    )
    ex = cost.fit_exponents(rows).set_index(["axis", "model"])
    assert list(ex.reset_index().columns) == cost.EXPONENT_COLUMNS
    assert ex.loc[("length", "arima"), "exponent"] == pytest.approx(1.5, abs=1e-12)
    assert ex.loc[("length", "arima"), "intercept"] == pytest.approx(math.log(0.01), abs=1e-9)
    assert ex.loc[("length", "arima"), "r2"] == pytest.approx(1.0)
    assert ex.loc[("length", "arima"), "n_points"] == 4
    assert ex.loc[("length", "lstm-torch"), "exponent"] == pytest.approx(0.25, abs=1e-12)
    assert ("hidden", "arima") not in ex.index  # one value only: no slope


def test_crossover_where_the_lines_cross():
    # arima 0.01 n, rnn 0.1 n^0.5 -> equal at n* = exp(ln(0.1/0.01) / (1 - 0.5)) = 100
    rows = _rows({"arima": (0.01, 1.0), "rnn-torch": (0.1, 0.5)}, {"n_series": [10, 30, 100, 300, 1000]})
    cx = cost.crossover(rows)
    assert list(cx.columns) == cost.CROSSOVER_COLUMNS
    row = cx.iloc[0]
    assert (row["axis"], row["model"], row["device"]) == ("n_series", "rnn-torch", "cpu")
    assert row["crossover_value"] == pytest.approx(100.0, rel=1e-9)
    assert bool(row["within_range"]) and row["cheaper_below"] == "arima"
    assert "changes within the tested range" in row["note"]


def test_crossover_outside_the_range_and_parallel_lines():
    rows = _rows(
        {"arima": (0.01, 1.0), "rnn-torch": (0.1, 0.5), "gru-torch": (0.5, 1.0)}, {"length": [1000, 2000, 4000]}
    )
    cx = cost.crossover(rows).set_index("model")
    out = cx.loc["rnn-torch"]
    assert out["crossover_value"] == pytest.approx(100.0, rel=1e-9)
    assert not bool(out["within_range"]) and "rnn-torch cheaper everywhere tested" in out["note"]
    par = cx.loc["gru-torch"]
    assert math.isnan(par["crossover_value"]) and not bool(par["within_range"])
    assert "no crossover: slopes equal within 2 se" in par["note"]
    assert "arima cheaper everywhere tested" in par["note"]


def test_crossover_along_hidden_uses_arimas_flat_base_cost():
    # arima timed once (1 s at hidden 16); rnn 0.01 h -> equal at h* = 100, inside 16-256
    rows = _rows({"arima": (1.0, 0.0), "lstm-torch": (0.01, 1.0)}, {"hidden": [16, 64, 256]})
    row = cost.crossover(rows).iloc[0]
    assert row["axis"] == "hidden" and row["crossover_value"] == pytest.approx(100.0, rel=1e-9)
    assert bool(row["within_range"]) and row["cheaper_below"] == "rnn"
    assert "lstm-torch cheaper below, arima above" in row["note"]


def _three_axes(rnn_scale: float, rnn_slope: float = 1.0) -> pd.DataFrame:
    return _rows(
        {"arima": (0.01, 1.0), "rnn-numpy": (0.01 * rnn_scale, rnn_slope), "lstm-torch": (0.02 * rnn_scale, rnn_slope)},
        {"length": [100, 200, 400], "n_series": [8, 32, 128], "hidden": [32, 64, 128]},
    )


def _base(costs: dict[tuple[str, str], list[float]], arima_series: list[list[float]] | None = None) -> pd.DataFrame:
    """Rows of one base point (length 200, 32 series, hidden 32) on every axis: per (model,
    regime) its CPU-ms per series in each repeat; arima local, optionally with per-series costs."""
    rows = []
    for axis in cost.AXES:
        for (model, regime), per_repeat in costs.items():
            for repeat, ms in enumerate(per_repeat):
                series = "" if model != "arima" or arima_series is None else " ".join(map(str, arima_series[repeat]))
                rows.append(
                    {
                        "axis": axis,
                        "value": {"length": 200, "n_series": 32, "hidden": 32}[axis],
                        "model": model,
                        "device": "cpu",
                        "regime": regime,
                        "repeat": repeat,
                        "length": 200,
                        "n_series": 32,
                        "hidden": None if model == "arima" else 32,
                        "cost_s": ms * 32 / 1000,
                        "series_cpu_ms": series,
                        "family": "arima" if model == "arima" else "lstm",
                    }
                )
    return pd.DataFrame(rows)


ARIMA = [80.0, 84.0, 78.0, 90.0, 82.0]


def _verdicts(costs: dict[tuple[str, str], list[float]]) -> pd.DataFrame:
    return cost.cost_verdicts(_base({("arima", "local"): ARIMA, **costs}), where="2-core CPU").set_index("scope")


def test_cost_verdict_per_regime_at_the_base_point():
    v = _verdicts(
        {("lstm", "global"): [20.0, 21.0, 19.0, 24.0, 22.0], ("lstm", "local"): [400.0, 380.0, 420.0, 390.0, 410.0]}
    )
    g, loc = "global, 2-core CPU, hidden 32, 32 series of 200", "local, 2-core CPU, hidden 32, 32 series of 200"
    assert list(v.index) == [g, loc, cost_analysis.SCOPE_ALL]
    assert v.loc[g, "verdict"] == "refuted" and "lstm x0.26 [" in v.loc[g, "evidence"]
    assert "cheaper (21 CPU-ms vs arima 82 CPU-ms per series, 5 repeats)" in v.loc[g, "evidence"]
    assert v.loc[loc, "verdict"] == "supported" and "lstm [local] x4.88" in v.loc[loc, "evidence"]
    overall = v.loc[cost_analysis.SCOPE_ALL]
    assert overall["verdict"] == "inconclusive" and overall["evidence"].startswith("depends on the regime")
    assert overall["rule"] == cost.RULE and overall["claim"] == "b" and overall["compared"] == "lstm (lstm) vs arima"
    # both regimes cheaper: the overall line says refuted, in every scope
    v = _verdicts(
        {("lstm", "global"): [20.0, 21.0, 19.0, 24.0, 22.0], ("lstm", "local"): [30.0, 31.0, 29.0, 33.0, 30.0]}
    )
    assert v.loc[cost_analysis.SCOPE_ALL, "verdict"] == "refuted"
    assert v.loc[cost_analysis.SCOPE_ALL, "evidence"].startswith("refuted in every scope timed")
    # a local RNN about as costly as arima: inconclusive there, and overall
    v = _verdicts(
        {("lstm", "global"): [20.0, 21.0, 19.0, 24.0, 22.0], ("lstm", "local"): [90.0, 150.0, 70.0, 120.0, 100.0]}
    )
    assert v.loc[loc, "verdict"] == "inconclusive" and "indecisive" in v.loc[loc, "evidence"]
    assert v.loc[cost_analysis.SCOPE_ALL, "verdict"] == "inconclusive"
    # one verdict dict, the overall line, for the command's last line
    assert cost.cost_verdict(_base({("arima", "local"): ARIMA, ("lstm", "global"): [20.0] * 5}))["verdict"] == "refuted"


def test_cost_verdict_ignores_points_away_from_the_base():
    """The old rule (every model cheaper at every point of every axis) changed with the axis
    ranges picked; now a point far out on an axis, where arima is cheaper, leaves the base-point
    verdict alone and shows up as a crossover instead."""
    rows = _base({("arima", "local"): ARIMA, ("lstm", "global"): [20.0, 21.0, 19.0, 24.0, 22.0]})
    far = rows[(rows["axis"] == "n_series")].assign(value=4, n_series=4)
    far.loc[far["model"] == "arima", "cost_s"] = 0.001  # arima far cheaper on 4 series
    both = pd.concat([rows, far], ignore_index=True)
    v = cost.cost_verdicts(both, {"length": 200, "n_series": 32, "hidden": 32}).set_index("scope")
    assert v.iloc[0]["verdict"] == "refuted"
    assert "crossovers (reported beside the verdict, not in it)" in v.loc[cost_analysis.SCOPE_ALL, "evidence"]
    ratios = cost.cost_ratios(both)
    assert set(ratios.loc[ratios["axis"] == "n_series", "decision"]) == {"costlier", "cheaper"}


def test_cost_verdict_without_repeats_or_base_point_is_inconclusive():
    one = cost.cost_verdicts(_base({("arima", "local"): [80.0], ("lstm", "global"): [8.0]}))
    assert set(one["verdict"]) == {"inconclusive"} and "[nan, nan] indecisive" in one["evidence"].iloc[0]
    # rows that do not say where the base point is (a study stored before this rule)
    old = _rows({"arima": (0.01, 1.0), "rnn-numpy": (0.0001, 1.0)}, {"length": [100, 200, 400]})
    v = cost.cost_verdict(old)
    assert v["verdict"] == "inconclusive" and v["evidence"].startswith("no base point")
    assert "exponent along length" in v["evidence"]


def test_ratios_resample_arimas_series_when_it_has_them():
    """arima's cost per series varies a lot between series (one slow order search); resampling
    them widens the interval that repeats alone, nearly equal, would make falsely narrow."""
    series = [[10.0] * 31 + [2000.0]] * 5  # mean 72.2 ms, dominated by one series
    rows = _base({("arima", "local"): [72.2] * 5, ("lstm", "global"): [30.0, 31.0, 29.0, 30.5, 30.0]}, series)
    with_series = cost.cost_ratios(rows[rows["axis"] == "length"]).iloc[0]
    without = cost.cost_ratios(rows[rows["axis"] == "length"].assign(series_cpu_ms="")).iloc[0]
    assert with_series["ratio"] == pytest.approx(without["ratio"]) == pytest.approx(30.0 / 72.2)
    assert without["decision"] == "cheaper"  # repeats alone: 0.42 +- little, below 0.5
    assert with_series["ratio_hi"] > 0.5 and with_series["decision"] == "indecisive"


def test_plot_cost_writes_one_figure_per_axis(tmp_path):
    rows = _three_axes(10.0)
    paths = cost.plot_cost(rows, cost.fit_exponents(rows), tmp_path)
    assert set(paths) == set(cost.AXES)
    assert all(p.is_file() and p.name == f"cost_{a}.png" for a, p in paths.items())


# --------------------------------------------------------------------------- the ratio-CI rule


def test_ratio_ci_decisive_indecisive_and_touching_the_band():
    from harness.significance import DECISIVE_BAND, ratio_ci, ratio_decision

    rng = np.random.default_rng(0)
    arima = 80.0 * (1 + 0.05 * rng.standard_normal(5))
    ratio, lo, hi = ratio_ci(10.0 * (1 + 0.05 * rng.standard_normal(5)), arima)
    assert lo <= ratio <= hi < 0.5 and ratio_decision(lo, hi) == "cheaper"
    ratio, lo, hi = ratio_ci(400.0 * (1 + 0.05 * rng.standard_normal(5)), arima)
    assert 2 < lo <= ratio <= hi and ratio_decision(lo, hi) == "costlier"
    ratio, lo, hi = ratio_ci(np.array([40.0, 200.0, 60.0, 180.0, 90.0]), arima)  # wide: straddles the band
    assert lo < 1 < hi and ratio_decision(lo, hi) == "indecisive"
    # a CI that touches 0.5 or 2 is not outside [0.5, 2]
    assert DECISIVE_BAND == (0.5, 2.0)
    assert ratio_decision(0.3, 0.5) == ratio_decision(2.0, 3.0) == "indecisive"
    assert ratio_decision(0.3, 0.4999) == "cheaper" and ratio_decision(2.0001, 3.0) == "costlier"
    assert ratio_decision(float("nan"), 0.1) == "indecisive"
    # repeats are resampled independently: the same inputs give the same interval (seeded)
    assert ratio_ci(np.array([1.0, 2.0, 3.0]), np.array([2.0, 2.5, 3.0])) == ratio_ci(
        np.array([1.0, 2.0, 3.0]), np.array([2.0, 2.5, 3.0])
    )
    assert all(np.isnan(ratio_ci(np.array([]), arima)))
    assert all(np.isnan(ratio_ci(np.array([1.0, 0.0]), arima)))  # a zero cost is not a timing


def test_cost_verdict_names_the_device_and_uses_wall_time_on_an_accelerator():
    rows = _base({("arima", "local"): ARIMA, ("lstm", "global"): [20.0, 21.0, 19.0, 24.0, 22.0]})
    gpu = rows[rows["model"] == "lstm"].assign(device="cuda", cost_s=lambda d: d["cost_s"] * 20)  # 420 wall-ms
    v = cost.cost_verdicts(pd.concat([rows, gpu], ignore_index=True), where="2-core CPU").set_index("scope")
    cuda = v.loc["global, CUDA, hidden 32, 32 series of 200"]
    assert cuda["verdict"] == "supported" and "lstm [cuda] x5.12" in cuda["evidence"]
    assert "wall-ms vs arima 82 CPU-ms per series" in cuda["evidence"]
    assert v.loc["global, 2-core CPU, hidden 32, 32 series of 200", "verdict"] == "refuted"
    overall = v.loc[cost_analysis.SCOPE_ALL]
    assert overall["verdict"] == "inconclusive" and overall["evidence"].startswith("depends on the device")
