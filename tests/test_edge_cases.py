"""Edge-case series (issue 17, items 4 and 5) for every model but arima (its own tests cover it):
very short, constant, all-zero, negative constant and zero-crossing series. Each model either gives
a sensible forecast (a constant series forecasts its constant; a short series is not forecast as 0
unless 0 is its level) or fails with a message that says why; a forecast made by other means than
the model's own method carries a ``fallback: ...`` note (the report counts them).

Also: theta on a constant series, duplicate seeds, NaN/inf in every declared float parameter, a
suite with a byte-order mark and the ``--workers`` cap.
"""

from __future__ import annotations

import json
import math
import re
import warnings

import numpy as np
import pandas as pd
import pytest

import harness
from harness.models import as_forecast, forecasts_by_series, read_only
from tests.conftest import invoke

H, M = 4, 4
SERIES = {
    "short-3": np.array([5.0, 6.0, 7.0]),
    "short-9": np.arange(5.0, 14.0),
    "constant": np.full(24, 42.0),
    "all-zero": np.zeros(24),
    "negative-constant": np.full(24, -7.0),
    # seasonal by the M4 test (m = 4) and crossing zero: multiplicative deseasonalisation is undefined
    "seasonal-crossing": np.tile([10.0, -3.0, 5.0, 1.0], 6),
    "trend-crossing": np.linspace(-10.0, 13.0, 24),
}
BASELINES = ("naive", "snaive", "naive2", "theta", "mean")
NEURAL = ("rnn-numpy", "rnn-torch", "lstm-torch", "gru-torch")
#: (model, series) -> the message its failure must hold; every other pair must forecast.
FAILS = {
    **{(m, "short-3"): "no series is long enough for one window of 5 inputs and 4 targets" for m in NEURAL},
}
#: models whose own method deseasonalises: a seasonal series they cannot adjust is a noted fallback
DESEASONALISING = ("naive2", "theta", *NEURAL)


def _forecast(registry, model: str, y: np.ndarray) -> harness.Forecast:
    spec = registry.model(model)
    built = spec.build(horizon=H, season_length=M, seed=0, params=spec.resolve_params({}))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        if built.scope == "local":
            return as_forecast(built.fit_predict_one(read_only(y)), H)
        panel = harness.Panel(("s",), (y.copy(),), "other", M, H)
        built.fit(panel)
        got, missing, _ = forecasts_by_series(built.predict(panel), panel, H, model)
        assert not missing
        return as_forecast(got[0], H)


@pytest.mark.parametrize("case", list(SERIES))
@pytest.mark.parametrize("model", [*BASELINES, *NEURAL])
def test_edge_case_series_forecast_sensibly_or_fail_clearly(registry, model, case):
    if model.endswith("-torch"):
        pytest.importorskip("torch")
    y = SERIES[case]
    if (model, case) in FAILS:
        with pytest.raises(ValueError, match=FAILS[model, case]):
            _forecast(registry, model, y)
        return
    fc = _forecast(registry, model, y)
    assert fc.mean.shape == (H,) and np.all(np.isfinite(fc.mean))
    level = y[-1]
    exact = not model.endswith("-torch")  # a torch network's random initial biases leave a small error
    if np.all(y == y[0]):  # constant (42, 0, -7): the constant
        if exact:
            np.testing.assert_allclose(fc.mean, level, atol=1e-9)
        else:
            np.testing.assert_allclose(fc.mean, level, atol=0.1 * abs(level) + 0.1)
        for bounds in fc.intervals.values():
            np.testing.assert_allclose(bounds, level, atol=1e-9)
    elif case.startswith("short"):  # a rising short series is not forecast as 0 (nor far below its values)
        assert np.all(fc.mean >= y.min()), fc.mean
        assert np.all(fc.mean <= y.max() + (y.max() - y.min()) * 2), fc.mean
    else:  # crossing zero: within the series' range widened by its span
        span = y.max() - y.min()
        assert np.all(fc.mean >= y.min() - span) and np.all(fc.mean <= y.max() + span), fc.mean
    seasonal_unadjusted = case == "seasonal-crossing" or (case == "trend-crossing" and harness.unadjusted_reason(y, M))
    note = _without_interval_notes(model, fc.note)
    if model in DESEASONALISING and seasonal_unadjusted:
        assert note.startswith("fallback: "), note
        assert "seasonal by the M4 test (m=4)" in note and "values <= 0" in note
    else:
        assert note == ""


#: What a neural model's note says when it has too few calibration series (one series here)
#: for a conformal interval, or a context without a MASE scale; nothing else may be in it.
_INTERVAL_NOTE = re.compile(
    r"^(no \d+% interval: [01] calibration series, it needs \d+"
    r"|no interval: the context has no usable MASE scale \(a constant series\))$"
)


def _without_interval_notes(model: str, note: str) -> str:
    if model not in NEURAL:
        return note
    parts = note.split("; ") if note else []
    kept = [p for p in parts if not _INTERVAL_NOTE.match(p)]
    assert len(parts) - len(kept) >= 2, note  # one series is too few for 80% and for 95%
    return "; ".join(kept)


def test_theta_forecasts_a_constant_series_as_its_constant(registry):
    """statsmodels fits a drift to an exactly constant series (all 42 forecast 47-56): Theta's own
    answer is the constant (no drift, every SES level the constant), with an interval of width 0."""
    theta = registry.model("theta")
    for value, n in ((42.0, 40), (-7.0, 24), (1e-8, 30), (3.5e9, 12)):
        model = theta.build(horizon=18, season_length=12, seed=0, params=theta.resolve_params({}))
        fc = model.fit_predict_one(np.full(n, value))
        assert np.all(fc.mean == value) and list(fc.intervals) == [80.0, 95.0] and fc.note == ""
        for lower, upper in fc.intervals.values():
            assert np.all(lower == value) and np.all(upper == value)


def test_theta_on_a_constant_file_scores_zero_error(tmp_path):
    data = tmp_path / "flat.csv"
    rows = [f"{uid},{2015 + i // 12}-{i % 12 + 1:02d}-01,{v}" for uid, v in (("a", 42), ("b", 7.5)) for i in range(48)]
    data.write_text("unique_id,ds,y\n" + "\n".join(rows) + "\n")
    out = tmp_path / "run"
    result = invoke(["run", "--models", "theta", "--datasets", str(data), "--executor", "serial", "--out", str(out)])
    assert result.exit_code == 0, result.output
    m = pd.read_parquet(out / "metrics.parquet")
    theta = m[m["model"] == "theta"]
    assert len(theta) == 2 and (theta["status"] == "ok").all() and (theta["smape"] == 0).all()
    f = pd.read_parquet(out / "forecasts.parquet")
    f = f[f["model"] == "theta"]
    assert set(f["yhat"]) == {42.0, 7.5}


def test_a_fallback_is_counted_in_the_report(tmp_path):
    """naive2 and theta on a seasonal series that crosses zero: ok rows with the note, counted."""
    data = tmp_path / "crossing.csv"
    pattern = [10.0, -3.0, 5.0, 1.0]
    rows = [f"s,{2015 + i // 12}-{i % 12 + 1:02d}-01,{pattern[i % 4] + 0.01 * i}" for i in range(60)]
    data.write_text("unique_id,ds,y\n" + "\n".join(rows) + "\n")
    out = tmp_path / "run"
    # a period-4 pattern in a monthly file: the season length comes from the suite
    suite = tmp_path / "s.toml"
    suite.write_text(
        f'datasets = [{{name = "{data}", season_length = 4, horizon = 4}}]\n[models.naive2]\n[models.theta]\n'
    )
    result = invoke(["run", "--suite", str(suite), "--executor", "serial", "--out", str(out)])
    assert result.exit_code == 0, result.output
    m = pd.read_parquet(out / "metrics.parquet")
    for model in ("naive2", "theta"):
        (message,) = m[m["model"] == model]["message"]
        assert message.startswith("fallback: ") and "values <= 0" in message
    report = (out / "report.md").read_text()
    section = report.split("## Fallbacks and notes", 1)[1]
    assert "naive2" in section and "theta" in section


def test_every_declared_float_parameter_rejects_nan_and_infinity(registry):
    checked = 0
    for name in sorted(registry.models):
        spec = registry.model(name)
        for key, declared in spec.cls.parameters.items():
            if declared.type is not float:
                continue
            for bad in (math.nan, math.inf, -math.inf):
                with pytest.raises(harness.ModelError, match=f"^model {name}: {key} must be finite, got"):
                    spec.resolve_params({key: bad})
            checked += 1
    assert checked >= 10  # theta's theta and level, the networks' lr, dropout, input_seasons ...


def test_duplicate_seeds_are_rejected_before_anything_is_written(tmp_path, long_csv):
    out = tmp_path / "run"
    result = invoke(["run", "--models", "naive", "--datasets", str(long_csv), "--seeds", "0,0", "--out", str(out)])
    assert result.exit_code == 2 and not out.exists()
    assert result.stderr.strip() == "rnnbench: error: --seeds: seed 0 is given more than once; give each seed once"


def test_a_suite_with_a_byte_order_mark_loads(tmp_path):
    from harness.suite import load_suite

    path = tmp_path / "bom.toml"
    path.write_bytes(b'\xef\xbb\xbfdatasets = ["airline"]\nseeds = [0, 1]\n[models.naive]\n')
    config = load_suite(str(path))
    assert config.seeds == [0, 1] and list(config.models) == ["naive"]


def test_workers_are_capped_at_the_work_units(tmp_path):
    """--workers 1000 for 2 series (holdout): 2 processes, with a note; the manifest and
    experiments.csv record the count used."""
    data = tmp_path / "two.csv"
    rows = [f"{uid},{2015 + i // 12}-{i % 12 + 1:02d}-01,{100 + i}" for uid in "ab" for i in range(40)]
    data.write_text("unique_id,ds,y\n" + "\n".join(rows) + "\n")
    out = tmp_path / "run"
    result = invoke(["run", "--models", "naive", "--datasets", str(data), "--workers", "1000", "--out", str(out)])
    assert result.exit_code == 0, result.output
    assert "rnnbench: note: using 2 worker(s), not 1000" in result.stderr
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["executions"][-1]["workers"] == 2
    assert set(pd.read_csv(out / "experiments.csv")["workers"]) == {2}


def test_workers_cap_counts_global_experiments_that_run_side_by_side(tmp_path):
    """Three seeds of a global model are three units at once (they run side by side), more than
    the 2 series of the local references: 3 workers, not 1000 and not 2."""
    data = tmp_path / "two.csv"
    rows = [f"{uid},{2015 + i // 12}-{i % 12 + 1:02d}-01,{100 + i}" for uid in "ab" for i in range(60)]
    data.write_text("unique_id,ds,y\n" + "\n".join(rows) + "\n")
    out = tmp_path / "run"
    args = ["run", "--models", "rnn-numpy", "-p", "rnn-numpy.epochs=1", "-p", "rnn-numpy.hidden=2"]
    result = invoke([*args, "--seeds", "0,1,2", "--datasets", str(data), "--workers", "1000", "--out", str(out)])
    assert result.exit_code == 0, result.output
    assert "using 3 worker(s), not 1000" in result.stderr
    assert json.loads((out / "manifest.json").read_text())["executions"][-1]["workers"] == 3


def test_workers_cap_counts_windows_and_leaves_a_fitting_count_alone(tmp_path):
    data = tmp_path / "two.csv"
    rows = [f"{uid},{2015 + i // 12}-{i % 12 + 1:02d}-01,{100 + i}" for uid in "ab" for i in range(60)]
    data.write_text("unique_id,ds,y\n" + "\n".join(rows) + "\n")
    out = tmp_path / "run"
    args = ["run", "--models", "naive", "--datasets", str(data), "--horizon", "6", "--windows", "3"]
    result = invoke([*args, "--workers", "1000", "--out", str(out)])
    assert result.exit_code == 0, result.output
    assert "using 6 worker(s), not 1000" in result.stderr  # 2 series x 3 windows
    again = invoke([*args, "--workers", "2", "--out", str(tmp_path / "again")])
    assert again.exit_code == 0 and "note: using" not in again.stderr
