"""A forecast made by other means than the model's own method says so: its note is the message
of the series' ok row and the report counts it (a fallback is never a bare "ok")."""

from __future__ import annotations

import textwrap

import pandas as pd

from tests.conftest import invoke, plugin_folder

NOTING_PLUGIN = textwrap.dedent(
    """
    import numpy as np
    import harness

    class LastOrMean(harness.LocalForecaster):
        name = "last-or-mean"
        family = "baseline"

        def fit_predict_one(self, y):
            if y[-1] > y.mean():  # pretend the method cannot handle these: fall back, and say so
                return harness.Forecast(np.repeat(y.mean(), self.horizon), note="fallback: mean (last value above mean)")
            return np.repeat(y[-1], self.horizon)

    @harness.hookimpl
    def register_models(register):
        register(LastOrMean)
    """
)


def test_a_fallback_note_is_stored_scored_and_counted(tmp_path, long_csv):
    plugins = plugin_folder(tmp_path / "plugins", NOTING_PLUGIN)
    out = tmp_path / "run"
    result = invoke(["--plugins-dir", str(plugins), "run", "--models", "last-or-mean", "--datasets", str(long_csv),
                     "--horizon", "6", "--executor", "serial", "--out", str(out)])  # fmt: skip
    assert result.exit_code == 0, result.output
    m = pd.read_parquet(out / "metrics.parquet")
    mine = m[m["model"] == "last-or-mean"]
    assert (mine["status"] == "ok").all() and mine["smape"].notna().all()
    noted = mine[mine["message"] != ""]
    values = pd.read_csv(long_csv)
    expected = sum(
        1 for _, g in values.groupby("unique_id") if g["y"].to_numpy()[:-6][-1] > g["y"].to_numpy()[:-6].mean()
    )
    assert len(noted) == expected > 0
    assert set(noted["message"]) == {"fallback: mean (last value above mean)"}
    assert (m[m["model"] == "naive"]["message"] == "").all()
    report = (out / "report.md").read_text()
    assert "## Fallbacks and notes" in report and "fallback: mean (last value above mean)" in report
    row = next(line for line in report.split("## Fallbacks and notes", 1)[1].splitlines() if "last-or-mean" in line)
    cells = [cell.strip() for cell in row.strip("|").split("|")]
    assert cells[:3] == ["panel", "last-or-mean", str(expected)]
    assert float(cells[3]) == expected / len(mine) and cells[-1] == "0"  # share of its rows; no other note
