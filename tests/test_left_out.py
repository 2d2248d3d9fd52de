"""Failures do not erase the others: a model that failed on more than MAX_FAILED_SHARE of a
dataset's series is left out of that dataset's comparison instead of taking those series from
every model; below the share the old fairness rule (drop the series for all) still holds."""

from __future__ import annotations

import textwrap
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from harness import analysis, claims, steps
from tests.conftest import invoke, plugin_folder
from tests.test_claims import make_forecasts, make_series, speed

N = 20
VALUES = np.linspace(5.0, 24.0, N)

#: Fails on every series, or (``fails-one``) on the one whose first value is 1000.
FAILING_PLUGIN = textwrap.dedent(
    """
    import numpy as np
    import harness

    class AlwaysFails(harness.LocalForecaster):
        name = "always-fails"

        def fit_predict_one(self, y):
            raise RuntimeError("this plugin never forecasts")

    class FailsOne(harness.LocalForecaster):
        name = "fails-one"

        def fit_predict_one(self, y):
            if y[0] == 1000.0:
                raise RuntimeError("not this one")
            return np.full(self.horizon, y[-1])

    @harness.hookimpl
    def register_models(register):
        register(AlwaysFails)
        register(FailsOne)
    """
)


def _fail(series: pd.DataFrame, model: str, ids: list[str]) -> pd.DataFrame:
    s = series.copy()
    rows = (s["model"] == model) & s["unique_id"].isin(ids)
    s.loc[rows, "status"] = "failed"
    s.loc[rows, "message"] = "boom"
    s.loc[rows, ["smape", "mase", "rmse", "mae"]] = np.nan
    return s


def _ids(k: int) -> list[str]:
    return [f"S{i}" for i in range(k)]


def test_the_share_is_a_stated_constant_and_its_edge_keeps_the_old_rule():
    assert analysis.MAX_FAILED_SHARE == 0.10
    base = make_series({"a": VALUES, "b": VALUES + 1})
    at_share = _fail(base, "b", _ids(2))  # 2 of 20 = 10%: not more than the share
    shares = analysis.failure_shares(at_share).set_index("model")
    assert shares.loc["b", "n_failed_pairs"] == 2 and shares.loc["b", "n_pairs"] == N
    assert not shares["left_out"].any() and analysis.left_out(at_share).empty
    above = _fail(base, "b", _ids(3))  # 3 of 20 = 15%
    left = analysis.left_out(above)
    assert left[["dataset", "model"]].values.tolist() == [["d1", "b"]]
    assert left["failed_share"].item() == pytest.approx(0.15)


def test_a_model_failing_everywhere_leaves_the_others_as_without_it():
    without = make_series({"naive2": VALUES, "arima": VALUES - 1})
    with_it = _fail(make_series({"naive2": VALUES, "arima": VALUES - 1, "broken": VALUES}), "broken", _ids(N))
    acc = analysis.accuracy_table(with_it).set_index("model")
    ref = analysis.accuracy_table(without).set_index("model")
    pd.testing.assert_frame_equal(acc.loc[["naive2", "arima"]], ref.loc[["naive2", "arima"]])
    assert acc.loc["naive2", "n_series"] == N and acc.loc["naive2", "smape"] == pytest.approx(VALUES.mean())
    broken = acc.loc["broken"]
    assert broken["left_out"] and broken["n_series"] == 0 and broken["n_failed"] == N
    assert broken["n_excluded"] == N and np.isnan(broken["smape"]) and np.isnan(broken["owa"])
    assert not acc.loc[["naive2", "arima"], "left_out"].any()
    # claims: the same summary and comparisons as without it; it is listed, not compared
    out = claims.claims_tables(with_it, None, speed({"naive2": 1.0, "arima": 10.0, "broken": 0.1}))
    ref_out = claims.claims_tables(without, None, speed({"naive2": 1.0, "arima": 10.0}))
    for name in ("summary", "versus", "friedman"):
        pd.testing.assert_frame_equal(out[name], ref_out[name])
    assert analysis.left_out(with_it)["model"].tolist() == ["broken"]


def test_a_model_failing_on_one_series_in_twenty_still_removes_it_for_all():
    s = _fail(make_series({"naive2": VALUES, "arima": VALUES - 1, "flaky": VALUES + 1}), "flaky", _ids(1))
    acc = analysis.accuracy_table(s).set_index("model")
    assert (acc["n_series"] == N - 1).all() and (acc["n_excluded"] == 1).all() and not acc["left_out"].any()
    assert acc.loc["naive2", "smape"] == pytest.approx(VALUES[1:].mean())
    assert acc.loc["flaky", "n_failed"] == 1
    v = claims.versus_reference(s).set_index("model")
    assert (v["n_series"] == N - 1).all()


def test_a_failure_in_one_seed_counts_for_the_series():
    s = make_series({"naive2": VALUES, "rnn": VALUES - 1}, seeds={"rnn": 2})
    bad = (s["model"] == "rnn") & (s["seed"] == 1) & s["unique_id"].isin(_ids(3))
    s.loc[bad, "status"] = "failed"
    left = analysis.left_out(s)
    assert left["model"].tolist() == ["rnn"] and left["n_failed_pairs"].item() == 3


def test_a_left_out_contender_takes_part_in_no_claim_and_is_named():
    # "lstm" fails on 5 of 20 series, fast: it must not make claim (b) refuted, nor claim (a) anything
    s = _fail(make_series({"lstm": VALUES - 5, "rnn": VALUES - 1, "arima": VALUES}), "lstm", _ids(5))
    sp = speed({"lstm": 0.5, "rnn": 50.0, "arima": 10.0})
    families = {"lstm": "lstm", "rnn": "rnn", "arima": "arima"}
    out = claims.claims_tables(s, None, sp, families=families)
    v = out["verdicts"].set_index(["claim", "dataset"])
    assert v.loc[("b", "d1"), "verdict"] == "supported"  # rnn costs more than arima; lstm's time is not counted
    assert "lstm" not in v.loc[("b", "d1"), "evidence"] and "rnn vs arima on" in v.loc[("a", "d1"), "evidence"]
    note = "rnn (rnn) vs arima; left out, failed on more than 10% of the series: lstm (5/20 failed)"
    assert v.loc[("a", "d1"), "compared"] == note and v.loc[("b", "d1"), "compared"] == note
    assert "lstm on d1 (5/20 failed)" in v.loc[("a", "overall"), "compared"]
    assert set(out["summary"]["model"]) == {"rnn", "arima"}


def test_streamed_step_errors_leave_the_same_models_out(tmp_path):
    s = _fail(make_series({"lstm": VALUES, "arima": VALUES, "broken": VALUES}), "broken", _ids(N))
    h = 3
    errors = {"lstm": np.ones((N, h)), "arima": np.full((N, h), 2.0)}
    fc = make_forecasts(errors)  # the broken model has no forecasts, as a run stores it
    fc.to_parquet(tmp_path / "forecasts.parquet", row_group_size=25)
    streamed = steps.step_errors_by_row_group(tmp_path / "forecasts.parquet", s)
    whole = steps.step_errors(analysis.without_left_out(fc, analysis.left_out(s)))
    key = ["dataset", "model", "step"]
    pd.testing.assert_frame_equal(
        streamed.sort_values(key).reset_index(drop=True), whole.sort_values(key).reset_index(drop=True)
    )
    assert set(streamed["model"]) == {"lstm", "arima"} and (streamed["n_series"] == N).all()


# --- end to end -----------------------------------------------------------------------------------


def _panel(path: Path, marked: bool) -> Path:
    """Twenty monthly series of 60 values in long format; with ``marked`` series s00 starts at 1000
    (the one ``fails-one`` refuses)."""
    rng = np.random.default_rng(0)
    rows = []
    for k in range(N):
        t = np.arange(60)
        y = 100 + 2 * k + 0.5 * t + 10 * np.sin(2 * np.pi * t / 12) + rng.normal(0, 1, 60)
        if marked and k == 0:
            y[0] = 1000.0
        ds = pd.date_range("2015-01-01", periods=60, freq="MS")
        rows.append(pd.DataFrame({"unique_id": f"s{k:02d}", "ds": ds, "y": y}))
    pd.concat(rows).to_csv(path, index=False)
    return path


def _run(tmp_path: Path, folder: Path, models: str, data: Path, name: str) -> tuple[object, Path]:
    out = tmp_path / name
    result = invoke(
        [
            "--plugins-dir",
            str(folder),
            "run",
            "--models",
            models,
            "--datasets",
            str(data),
            "--workers",
            "1",
            "--out",
            str(out),
        ]
    )
    return result, out


SCORES = ["n_series", "n_excluded", "n_failed", "smape", "mase", "owa", "rmse", "mae", "left_out"]


def test_run_with_a_plugin_failing_everywhere_scores_the_others_as_without_it(tmp_path):
    folder = plugin_folder(tmp_path / "p", FAILING_PLUGIN)
    data = _panel(tmp_path / "panel.csv", marked=False)
    result, with_it = _run(tmp_path, folder, "naive,snaive,naive2,always-fails", data, "with")
    assert result.exit_code == 1, result.output  # some series failed
    result, without = _run(tmp_path, folder, "naive,snaive,naive2", data, "without")
    assert result.exit_code == 0, result.output
    acc = pd.read_csv(with_it / "accuracy.csv").set_index("model")
    ref = pd.read_csv(without / "accuracy.csv").set_index("model")
    others = ["naive", "snaive", "naive2"]
    pd.testing.assert_frame_equal(acc.loc[others, SCORES], ref.loc[others, SCORES])
    assert acc.loc["naive2", "n_series"] == N and acc.loc["naive2", "owa"] == pytest.approx(1.0)
    failing = acc.loc["always-fails"]
    assert failing["left_out"] and failing["n_series"] == 0 and failing["n_failed"] == N and np.isnan(failing["smape"])
    report = (with_it / "report.md").read_text()
    assert (
        f"{N} series, fingerprint" in report
        and "left out of this dataset's comparison for failing on more than 10% of its series: "
        "always-fails (failed on 20 of 20)"
        in report
    )
    failures = report.split("## Failures", 1)[1]
    assert "unless that model failed on more than 10% of the dataset's series" in failures
    assert "this plugin never forecasts" in failures
    dataset = report.split("\n## Dataset ", 1)[1]  # its row of the dataset's accuracy table
    header = next(line for line in dataset.splitlines() if line.startswith("| model ") and "n_failed" in line)
    row = next(line for line in dataset.splitlines() if line.startswith("| always-fails "))
    cells = dict(zip([c.strip() for c in header.split("|")], [c.strip() for c in row.split("|")]))
    assert (cells["n_series"], cells["n_failed"], cells["smape"]) == ("0", "20", "–")  # its failures, no means


def test_run_with_a_plugin_failing_on_one_series_drops_it_for_all(tmp_path):
    folder = plugin_folder(tmp_path / "p", FAILING_PLUGIN)
    data = _panel(tmp_path / "panel.csv", marked=True)
    result, out = _run(tmp_path, folder, "naive,naive2,fails-one", data, "run")
    assert result.exit_code == 1, result.output
    acc = pd.read_csv(out / "accuracy.csv").set_index("model")
    assert (acc["n_series"] == N - 1).all() and (acc["n_excluded"] == 1).all() and not acc["left_out"].any()
    assert acc.loc["fails-one", "n_failed"] == 1
    report = (out / "report.md").read_text()
    assert "19 series, fingerprint" in report and "1 series left out because a model failed on them" in report
    assert "left out of this dataset's comparison" not in report
