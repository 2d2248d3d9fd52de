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
from harness.studies import cost
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
    seen = []
    rows = cost.run_cost_study(config, registry, progress=lambda done, total, row: seen.append((done, total)))
    assert list(rows.columns) == cost.ROW_COLUMNS
    assert seen[-1][0] == seen[-1][1] == len(rows)
    # arima appears once on the hidden axis (at the base point), the RNNs at every hidden size
    hid = rows[rows["axis"] == "hidden"]
    assert list(hid.loc[hid["model"] == "arima", "value"]) == [config.base_hidden]
    assert sorted(hid.loc[hid["model"] == "rnn-numpy", "value"]) == list(config.hidden)
    assert (rows["total_s"] > 0).all()
    assert np.allclose(rows["total_s"], rows["fit_s"] + rows["predict_s"])
    assert np.allclose(rows["ms_per_series"], rows["total_s"] * 1000 / rows["n_series"])
    nn = rows[rows["model"] == "rnn-numpy"]
    assert (nn["n_params"] > 0).all() and nn["hidden"].notna().all()
    # the base point is measured once and reused on every axis
    base = rows[
        (rows["length"] == config.base_length)
        & (rows["n_series"] == config.base_n_series)
        & (rows["model"] == "rnn-numpy")
        & (rows["hidden"] == config.base_hidden)
    ]
    assert base["axis"].nunique() == 3 and base["total_s"].nunique() == 1

    cost.write_cost_study(tmp_path, config, rows)
    out = tmp_path / "studies" / "cost"
    assert list(pd.read_csv(out / "cost.csv").columns) == cost.ROW_COLUMNS
    assert list(pd.read_csv(out / "exponents.csv").columns) == cost.EXPONENT_COLUMNS
    assert list(pd.read_csv(out / "crossover.csv").columns) == cost.CROSSOVER_COLUMNS
    verdict = pd.read_csv(out / "verdict.csv")
    assert list(verdict.columns) == cost.VERDICT_COLUMNS
    assert verdict["verdict"].iloc[0] in ("supported", "refuted", "inconclusive")
    for axis in cost.AXES:
        assert (out / f"cost_{axis}.png").stat().st_size > 1000
    manifest = json.loads((tmp_path / "manifest.json").read_text())
    assert manifest["kind"] == "cost-study" and manifest["config"]["epochs"] == 2
    assert {"hardware", "versions", "git_commit", "created"} <= set(manifest)
    report = (tmp_path / "report.md").read_text()
    assert "Verdict" in report and "studies/cost/cost_length.png" in report
    cost.write_cost_study(tmp_path, config, rows)  # rewriting its own study is fine


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
    assert CostStudyConfig().as_dict()["lengths"] == [100, 200, 400, 800, 1600]


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


def test_cost_verdict_rules():
    assert cost.cost_verdict(_three_axes(10.0))["verdict"] == "supported"
    assert cost.cost_verdict(_three_axes(0.01))["verdict"] == "refuted"
    # arima's hidden-axis cost (one point, 0.32 s) is the reference for every hidden size
    mixed = cost.cost_verdict(_three_axes(50.0, rnn_slope=0.0))
    assert mixed["verdict"] == "inconclusive"
    assert mixed["claim"] == "b" and mixed["rule"] == cost.RULE
    assert "exponent along n_series" in mixed["evidence"] and "crossovers" in mixed["evidence"]
    only_arima = _rows({"arima": (0.01, 1.0)}, {"length": [100, 200]})
    assert cost.cost_verdict(only_arima)["verdict"] == "inconclusive"


def test_plot_cost_writes_one_figure_per_axis(tmp_path):
    rows = _three_axes(10.0)
    paths = cost.plot_cost(rows, cost.fit_exponents(rows), tmp_path)
    assert set(paths) == set(cost.AXES)
    assert all(p.is_file() and p.name == f"cost_{a}.png" for a, p in paths.items())
