"""The cross-dataset summary by skill against seasonal naive (analysis.skill_summary), as fev:
per dataset a model's error over snaive's, the geometric mean over datasets, skill = 1 - it;
and the first screen's one word per claim (headline.headline_verdict)."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from harness import analysis, headline
from harness.analysis import OVERALL
from tests.test_claims import make_series


def accuracy(errors: dict[str, dict[str, float]], left_out: set[tuple[str, str]] = frozenset()) -> pd.DataFrame:
    """accuracy_table-like rows from {dataset: {model: mean MASE}} (sMAPE = 10 x MASE)."""
    rows = []
    for dataset, by_model in errors.items():
        for model, mase in by_model.items():
            out = (dataset, model) in left_out
            rows.append(
                {
                    "dataset": dataset,
                    "model": model,
                    "mase": np.nan if out else mase,
                    "smape": np.nan if out else 10 * mase,
                    "left_out": out,
                }
            )
    return pd.DataFrame(rows)


def row(table: pd.DataFrame, model: str) -> pd.Series:
    return table.set_index("model").loc[model]


def test_geometric_mean_of_errors_relative_to_snaive() -> None:
    acc = accuracy(
        {
            "d1": {"snaive": 2.0, "a": 1.0, "b": 0.5, "c": 1.0, "d": 2.0, "e": 20.0},
            "d2": {"snaive": 4.0, "a": 8.0, "b": 2.0, "c": 4.0, "d": 1.0, "e": 4.0},
            "d3": {"snaive": 1.0, "a": 1.0, "b": 1.0, "d": 1.0, "e": 1.0},  # c not run on d3
            "d4": {"snaive": 0.0, "a": 1.0, "b": 1.0, "c": 1.0, "d": 1.0, "e": 1.0},  # no usable baseline
        },
        left_out={("d2", "d")},
    )
    table = analysis.skill_summary(acc, "mase")
    assert list(table.columns) == [*analysis.SKILL_COLUMNS, "d1", "d2", "d3"]  # d4 left out: snaive 0
    # a: relative 0.5, 2, 1 -> geometric mean 1, skill 0; b: 0.25, 0.5, 1 -> 0.5, skill 0.5
    assert row(table, "a")["gmean_rel"] == pytest.approx(1.0) and row(table, "a")["skill"] == pytest.approx(0.0)
    assert row(table, "b")["gmean_rel"] == pytest.approx(0.5) and row(table, "b")["skill"] == pytest.approx(0.5)
    assert row(table, "b")[["d1", "d2", "d3"]].tolist() == pytest.approx([0.25, 0.5, 1.0])
    # the baseline's own skill is exactly 0
    assert row(table, "snaive")["skill"] == 0.0 and row(table, "snaive")["n_datasets"] == 3
    # a model missing on a dataset (not run, or left out for its failures) has no skill: never imputed
    for model in ("c", "d"):
        assert math.isnan(row(table, model)["skill"]) and row(table, model)["n_datasets"] == 2
    assert math.isnan(row(table, "c")["d3"]) and math.isnan(row(table, "d")["d2"])
    assert row(table, "d")["d1"] == pytest.approx(1.0)
    # relative errors are clipped to [1e-3, 5] in the mean (fev), shown unclipped and counted
    e = row(table, "e")
    assert e["d1"] == pytest.approx(10.0) and e["n_clipped"] == 1
    assert e["gmean_rel"] == pytest.approx(5.0 ** (1 / 3)) and e["skill"] == pytest.approx(1 - 5.0 ** (1 / 3))
    # best first, missing last; sMAPE gives the same ratios here (sMAPE = 10 x MASE)
    order = table["model"].tolist()
    assert order[0] == "b" and set(order[1:3]) == {"a", "snaive"} and order[3:] in (["e", "c", "d"], ["e", "d", "c"])
    smape = analysis.skill_summary(acc, "smape")
    assert smape["skill"].tolist() == pytest.approx(table["skill"].tolist(), nan_ok=True)
    # three datasets are too few for a bootstrap interval over datasets
    assert table["skill_lo"].isna().all() and table["skill_hi"].isna().all()


def test_bootstrap_interval_over_datasets_only_with_enough_datasets() -> None:
    rng = np.random.default_rng(3)
    rel = np.exp(rng.normal(-0.3, 0.2, 12))
    errors = {f"d{i}": {"snaive": 2.0, "m": 2.0 * r} for i, r in enumerate(rel)}
    table = analysis.skill_summary(accuracy(errors), "mase")
    m = row(table, "m")
    gmean = float(np.exp(np.log(rel).mean()))
    assert m["gmean_rel"] == pytest.approx(gmean) and m["skill"] == pytest.approx(1 - gmean)
    assert m["skill_lo"] < m["skill"] < m["skill_hi"] and m["skill_hi"] - m["skill_lo"] < 0.5
    assert row(table, "snaive")[["skill_lo", "skill_hi"]].tolist() == [0.0, 0.0]
    fewer = {k: v for k, v in list(errors.items())[: analysis.SKILL_MIN_DATASETS_CI - 1]}
    assert analysis.skill_summary(accuracy(fewer), "mase")["skill_lo"].isna().all()


def test_skill_uses_the_common_series_of_each_dataset() -> None:
    """Through accuracy_table: a series one model failed on is out of every model's mean (the
    fairness rule), so the relative error is over the same series for model and baseline."""
    n = 20
    snaive, model = np.linspace(10, 29, n), np.linspace(5, 24, n)
    series = make_series({"snaive": snaive, "m": model, "fails-one": model})
    failed = (series["model"] == "fails-one") & (series["unique_id"] == "S0")
    series.loc[failed, ["status", "smape", "mase"]] = ["failed", np.nan, np.nan]
    table = analysis.skill_summary(analysis.accuracy_table(series), "mase")
    expected = model[1:].mean() / snaive[1:].mean()  # S0 out for everybody
    assert row(table, "m")["d1"] == pytest.approx(expected) and row(table, "m")["skill"] == pytest.approx(1 - expected)
    assert analysis.skill_summary(analysis.accuracy_table(series[series["model"] != "snaive"]), "mase").empty


def verdict_rows(*pairs: tuple[str, str]) -> pd.DataFrame:
    return pd.DataFrame([{"dataset": d, "verdict": v} for d, v in pairs])


def test_headline_verdict_one_word_per_claim() -> None:
    agree = verdict_rows(("d1", "refuted"), ("d2", "inconclusive"), (OVERALL, "refuted"))
    assert headline.headline_verdict(agree, evaluated=True) == "refuted"
    split = verdict_rows(("d1", "supported"), ("d2", "refuted"), (OVERALL, "inconclusive"))
    assert headline.headline_verdict(split, evaluated=True) == "mixed"
    study = verdict_rows(("d1", "refuted"), (OVERALL, "refuted"), ("cost-study", "supported"))
    assert headline.headline_verdict(study, evaluated=True) == "mixed"
    assert headline.headline_verdict(agree, evaluated=False) == "not evaluated"
    assert headline.headline_verdict(verdict_rows(), evaluated=True) == "not evaluated"
    assert set(headline.SYMBOLS) == {"supported", "refuted", "mixed", "inconclusive", "not evaluated"}


def test_claim_b_word_does_not_overreach_a_regime_the_run_never_timed() -> None:
    """The run timed global training (refuted); the cost study's local scope says inconclusive:
    the first screen must not say refuted for RNNs at large."""

    def rows(*triples: tuple[str, str, str]) -> pd.DataFrame:
        return pd.DataFrame([{"dataset": d, "scope": sc, "verdict": v} for d, sc, v in triples])

    run = [("d1", "global, CPU", "refuted"), (OVERALL, "global, CPU", "refuted")]
    local = ("cost-study", "local, CPU", "inconclusive")
    both = [("cost-study", "global, CPU", "refuted"), local, ("cost-study", "all regimes and devices", "inconclusive")]
    assert headline.headline_verdict(rows(*run), evaluated=True) == "refuted"
    assert headline.headline_verdict(rows(*run, *both), evaluated=True) == "inconclusive"
    agree = [("cost-study", "global, CPU", "refuted"), ("cost-study", "local, CPU", "refuted")]
    assert headline.headline_verdict(rows(*run, *agree), evaluated=True) == "refuted"
    assert len(set(headline.SYMBOLS.values())) == len(headline.SYMBOLS)
