"""The memory study's tables on constructed runs with known answers: the optimum scored on the
very windows the models are (the datasets' oracle forecasts), the skill's hierarchical
bootstrap CI, the training state of the fits, reachable lags on a table of the study's shape (a
still-learning cell is never a failure), the default lags and the figure."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from harness import claim_c
from harness.errors import StudyError
from harness.studies import memory as M
from harness.studies import memory_tables as T

H = 3


def constructed_run(n_series: int = 8, seeds: tuple[int, ...] = (0, 1, 2)):
    """A copy-task dataset "d" (lag 12) with y ~ N(0, 1) + a known oracle per series; models:
    ``oracle`` forecasts exactly meta["oracle"], ``mean`` forecasts 0 (the floor), ``half``
    halfway between, ``noisy`` the oracle plus seed-dependent noise."""
    rng = np.random.default_rng(0)
    ids = [f"s{i}" for i in range(n_series)]
    truth = {u: rng.normal(0, 2, H) for u in ids}
    y = {u: truth[u] + rng.normal(0, 1, H) for u in ids}
    oracle = {u: truth[u] for u in ids}
    rows, series = [], []
    for model in ("oracle", "mean", "half", "noisy"):
        for seed in seeds if model in ("half", "noisy") else (0,):
            noise = np.random.default_rng(seed + 10)
            for u in ids:
                yhat = {
                    "oracle": oracle[u],
                    "mean": np.zeros(H),
                    "half": oracle[u] / 2,
                    "noisy": oracle[u] + noise.normal(0, 0.5, H),
                }[model]
                series.append(
                    {"dataset": "d", "unique_id": u, "window": 0, "status": "ok", "model": model, "seed": seed}
                )
                for step in range(1, H + 1):
                    rows.append(
                        {
                            "dataset": "d",
                            "unique_id": u,
                            "window": 0,
                            "model": model,
                            "seed": seed,
                            "step": step,
                            "y": y[u][step - 1],
                            "yhat": yhat[step - 1],
                        }
                    )
    meta = {"task": "copy", "lag": 12, "optimal_rmse": 1.0, "floor_rmse": 2.2, "oracle": oracle}
    return pd.DataFrame(series), pd.DataFrame(rows), {"d": meta}


def test_a_model_equal_to_the_oracle_has_skill_one_and_the_mean_zero_with_degenerate_cis():
    series, forecasts, metas = constructed_run()
    _, table = M.memory_tables(series, forecasts, metas)
    t = table.set_index("model")
    assert list(table.columns) == M.MEMORY_COLUMNS
    assert t.loc["oracle", ["skill", "skill_lo", "skill_hi"]].tolist() == pytest.approx([1.0, 1.0, 1.0])
    assert t.loc["mean", ["skill", "skill_lo", "skill_hi"]].tolist() == pytest.approx([0.0, 0.0, 0.0], abs=1e-12)
    # the optimum is the oracle's RMSE on the scored values, not the theoretical 1.0
    assert t.loc["half", "optimum"] == pytest.approx(t.loc["oracle", "error"])
    assert t.loc["half", "optimum_theory"] == 1.0 and t.loc["half", "optimum"] != pytest.approx(1.0, abs=1e-3)
    # a model in between: a genuine interval around its point estimate
    for model in ("half", "noisy"):
        lo, skill, hi = t.loc[model, ["skill_lo", "skill", "skill_hi"]]
        assert lo < skill < hi and 0 < skill < 1
    assert t.loc["noisy", "n_seeds"] == 3 and t.loc["oracle", "n_seeds"] == 1


def test_the_optimum_is_scored_on_the_common_windows_only():
    """A series one model failed on leaves the table for every model, the oracle included (one
    failure in 20 series: below the 10% that would leave the model out instead)."""
    series, forecasts, metas = constructed_run(n_series=20)
    series.loc[(series["model"] == "half") & (series["unique_id"] == "s0"), "status"] = "failed"
    _, table = M.memory_tables(series, forecasts, metas)
    kept = forecasts[(forecasts["model"] == "oracle") & (forecasts["unique_id"] != "s0")]
    expected = np.sqrt(((kept["y"] - kept["yhat"]) ** 2).mean())
    assert table["optimum"].tolist() == pytest.approx([expected] * len(table)) and (table["n_series"] == 19).all()
    assert table["optimum"].iloc[0] != pytest.approx(
        np.sqrt(((forecasts["y"] - forecasts["yhat"]) ** 2)[forecasts["model"] == "oracle"].mean())
    )


def test_without_oracle_forecasts_the_optimum_is_the_theoretical_value():
    series, forecasts, metas = constructed_run()
    del metas["d"]["oracle"]
    _, table = M.memory_tables(series, forecasts, metas)
    assert (table["optimum"] == 1.0).all()


def test_an_oracle_missing_a_scored_series_or_several_windows_are_refused():
    series, forecasts, metas = constructed_run()
    del metas["d"]["oracle"]["s3"]
    with pytest.raises(StudyError, match="has no forecast for a scored series"):
        M.memory_tables(series, forecasts, metas)
    series, forecasts, metas = constructed_run()
    later = forecasts.assign(window=1)
    with pytest.raises(StudyError, match="holdout protocol"):
        M.memory_tables(pd.concat([series, series.assign(window=1)]), pd.concat([forecasts, later]), metas)


def test_bootstrap_resamples_seeds_then_series_and_is_seeded():
    rng = np.random.default_rng
    floor, optimum = np.full(50, 4.0), np.full(50, 1.0)
    # every seed and series at the same MSE: no spread at all
    flat = np.full((3, 50), 2.25)  # RMSE 1.5: skill (2 - 1.5) / (2 - 1) = 0.5
    assert T.skill_ci(flat, floor, optimum, rng(1)) == pytest.approx((0.5, 0.5))
    # seeds that differ and series that do not: the spread comes from resampling seeds
    by_seed = np.repeat(np.array([[1.0], [2.25], [4.0]]), 50, axis=1)
    lo, hi = T.skill_ci(by_seed, floor, optimum, rng(1))
    assert lo < 0.5 < hi and hi - lo > 0.3
    assert T.skill_ci(by_seed, floor, optimum, rng(1)) == (lo, hi)  # seeded: reproducible
    one_seed = by_seed[:1]
    assert T.skill_ci(one_seed, floor, optimum, rng(1)) == pytest.approx((1.0, 1.0))


def test_training_state_from_experiments():
    exps = pd.DataFrame(
        {
            "dataset": "d",
            "model": ["net", "net", "net", "mean"],
            "seed": [0, 1, 2, 0],
            "epochs": [20, 9, 20, np.nan],
            "best_epoch": [19, 0, 9, np.nan],
            "updates": [5000, 2250, 5000, np.nan],
            "still_learning": [1.0, 0.0, 0.0, np.nan],
        }
    )
    t = T.training_state(exps).set_index("model")
    assert "mean" not in t.index
    assert t.loc["net", "still_learning"] == pytest.approx(1 / 3)
    assert t.loc["net", "updates"] == pytest.approx((5000 + 2250 + 5000) / 3)
    assert t.loc["net", "best_update"] == pytest.approx((5000 + 250 + 2500) / 3)
    assert T.training_state(exps.drop(columns="still_learning")).empty


def reach_table():
    cells = {  # (model, lag): (skill_lo, skill_hi, still_learning)
        ("a", 12): (0.9, 1.0, 0.0),
        ("a", 24): (0.7, 0.9, 0.0),
        ("a", 48): (0.3, 0.45, 1 / 3),  # below the bar but still learning: not a failure
        ("a", 96): (0.1, 0.2, 0.0),  # the first failure
        ("b", 12): (0.4, 0.8, 0.0),  # not reached (CI straddles 0.5), not failed
        ("b", 24): (0.6, 0.9, 0.0),  # reached, but the chain broke at 12
        ("b", 48): (0.2, 0.49, 0.0),
        ("b", 96): (0.1, 0.3, 0.0),
    }
    return pd.DataFrame(
        [
            {"model": m, "task": "copy", "lag": lag, "skill_lo": lo, "skill_hi": hi, "still_learning": sl}
            for (m, lag), (lo, hi, sl) in cells.items()
        ]
    ).sample(frac=1.0, random_state=0)  # order must not matter


def test_reachable_lags_and_a_still_learning_cell_is_never_a_failure():
    """reach.csv's rule (harness.claim_c.forecast_reach) on a table of the study's shape."""
    r = claim_c.forecast_reach(reach_table()).set_index("model")
    assert r.loc["a", "reachable_lag"] == 24 and r.loc["a", "failed_lag"] == 96
    assert r.loc["a", "still_learning_lags"] == "48"
    assert np.isnan(r.loc["b", "reachable_lag"]) and r.loc["b", "failed_lag"] == 48
    assert r.loc["b", "still_learning_lags"] == ""
    assert claim_c.OK_SKILL == 0.5


def test_default_lags():
    assert M.default_lags(gpu=False) == [12, 24, 48, 96]
    assert M.default_lags(gpu=True) == [12, 24, 48, 96, 192]
    assert M.default_lags() in ([12, 24, 48, 96], [12, 24, 48, 96, 192])


def test_figure_marks_still_learning_cells(tmp_path):
    from harness import figures

    table = reach_table().assign(skill=lambda d: (d["skill_lo"] + d["skill_hi"]) / 2)
    path = figures.memory_vs_lag(table, tmp_path / "m.png", ok_skill=0.5)
    assert path.stat().st_size > 1000
