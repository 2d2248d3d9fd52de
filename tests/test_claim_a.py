"""Claim (a)'s rule (harness.claim_a) and its hierarchical bootstrap (harness.significance) on
constructed panels with known answers: every verdict value, Holm's correction, the numbers in
the evidence, the scopes pooled, the headline's reading."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from harness import claim_a, claims, headline, significance
from harness.analysis import OVERALL
from tests.test_claims import make_series, speed

N = 200


def _boot_sd(panels: list[np.ndarray], seed: int = 0) -> tuple[float, float, float]:
    """(sd, lo, hi) of the bootstrap difference panel 0 - panel 1."""
    means = significance.hierarchical_means(panels, np.random.default_rng(seed))
    diff = means[:, 0] - means[:, 1]
    lo, hi = np.percentile(diff, [2.5, 97.5])
    return float(diff.std(ddof=1)), float(lo), float(hi)


# --------------------------------------------------------------------------- the bootstrap


def test_a_constant_shift_lies_in_the_interval_and_zero_does_not():
    rng = np.random.default_rng(1)
    base = rng.uniform(1, 3, size=N)
    noise = rng.normal(0, 0.5, size=(3, N))
    rnn, ref = base - 0.3 + noise, base[None]
    point = float((rnn.mean(axis=0) - base).mean())
    means = significance.hierarchical_means([rnn, ref], np.random.default_rng(0))
    lo, hi, p = significance.boot_interval(point, means[:, 0] - means[:, 1])
    assert lo < -0.3 < hi and hi < 0 and p < 1e-6
    # paired: the same series resample for both, so a shift without noise has no spread at all
    exact = significance.hierarchical_means([base[None] - 0.3, base[None]], np.random.default_rng(0))
    assert np.allclose(exact[:, 0] - exact[:, 1], -0.3, atol=1e-12)


def test_a_seed_shock_common_to_all_series_widens_the_interval_by_the_seed_sd():
    rng = np.random.default_rng(2)
    base = rng.uniform(1, 3, size=N)
    e = rng.normal(0, 0.5, size=N)
    shocks = np.array([-0.6, 0.0, 0.6])  # one seed's network better or worse on every series
    rnn = base + e + shocks[:, None]
    hier_sd, hier_lo, hier_hi = _boot_sd([rnn, base[None]])
    # a series-only bootstrap (seeds averaged first) cannot see the shocks
    flat_sd, flat_lo, flat_hi = _boot_sd([rnn.mean(axis=0)[None], base[None]])
    assert flat_sd == pytest.approx(e.std(ddof=0) / np.sqrt(N), rel=0.1)
    # seeds resampled: the variance of the mean gains var(shocks) / S
    assert hier_sd**2 == pytest.approx(flat_sd**2 + shocks.var() / len(shocks), rel=0.15)
    assert (hier_hi - hier_lo) > 3 * (flat_hi - flat_lo)


def test_the_generic_bootstrap_is_the_memory_studys_old_one_exactly():
    """The memory study's skill CI drew seeds (n, S) and then series (n, S, N) and averaged a
    seed-free floor over the same series; the generic function makes the very same draws."""
    rng = np.random.default_rng(3)
    model, floor = rng.gamma(2, 1, size=(4, 30)), rng.gamma(2, 1, size=30)
    old = np.random.default_rng(7)
    seeds = old.integers(0, 4, size=(500, 4))
    series = old.integers(0, 30, size=(500, 4, 30))
    expected = np.stack([model[seeds[:, :, None], series].mean(axis=(1, 2)), floor[series].mean(axis=(1, 2))], axis=1)
    got = significance.hierarchical_means([model, floor[None]], np.random.default_rng(7), n_boot=500)
    np.testing.assert_array_equal(got, expected)


def test_holm_and_the_sign_test_by_hand():
    assert significance.holm([0.01, 0.04, 0.03]) == pytest.approx([0.03, 0.06, 0.06])
    held = significance.holm([0.01, np.nan])
    assert held[0] == pytest.approx(0.01) and np.isnan(held[1])  # a NaN is no test: family of one
    rate, p = significance.sign_test(np.array([-1.0] * 8 + [1.0] * 2 + [0.0] * 2))
    assert rate == pytest.approx(9 / 12)
    assert p == pytest.approx(2 * sum(__import__("math").comb(10, k) for k in range(0, 3)) / 2**10)


# --------------------------------------------------------------------------- the verdicts


def _a(series: pd.DataFrame, families: dict[str, str] | None = None) -> tuple[pd.DataFrame, pd.DataFrame]:
    out = claims.claims_tables(series, None, speed({}), families=families)
    v = out["verdicts"]
    return out["claim_a"], v[v["claim"] == "a"].set_index("dataset")


def _with_mase(series: pd.DataFrame, mase: dict[str, np.ndarray]) -> pd.DataFrame:
    """``series`` with the MASE of each model replaced by its per-series values."""
    s = series.copy()
    for model, values in mase.items():
        rows = s["model"] == model
        s.loc[rows, "mase"] = values[s.loc[rows, "unique_id"].str[1:].astype(int).to_numpy()]
    return s


BASE = np.random.default_rng(4).uniform(5, 20, size=100)


def test_supported_and_refuted_when_both_means_and_the_win_rate_agree():
    table, v = _a(make_series({"lstm": BASE - 1, "arima": BASE, "naive2": BASE + 2}, seeds={"lstm": 2}))
    assert v.loc["d1", "verdict"] == "supported" and v.loc[OVERALL, "verdict"] == "supported"
    row = table[table["dataset"] == "d1"].iloc[0]
    assert row["mase_diff"] == pytest.approx(-0.1) and row["smape_diff"] == pytest.approx(-1.0)
    assert row["win_rate"] == 1.0 and row["n_seeds"] == 2 and row["ref_n_seeds"] == 1
    assert row["owa"] < row["owa_ref"] < 1
    _, v = _a(make_series({"lstm": BASE + 1, "arima": BASE}))
    assert v.loc["d1", "verdict"] == "refuted"


def test_mixed_when_the_mean_favours_arima_and_the_win_rate_the_rnn():
    # the RNN is a little better on 80% of the series and far worse on the rest
    diff = np.where(np.arange(len(BASE)) % 5 == 0, 5.0, -0.2)
    table, v = _a(make_series({"lstm": BASE + diff, "arima": BASE}))
    row = table[table["dataset"] == "d1"].iloc[0]
    assert row["smape_diff"] > 0 and row["smape_p_holm"] < 0.05 and row["mase_p_holm"] < 0.05
    assert row["win_rate"] == pytest.approx(0.8) and row["win_p_holm"] < 0.05
    assert row["smape_median_diff"] == pytest.approx(-0.2)
    assert row["verdict"] == "mixed" and v.loc["d1", "verdict"] == "mixed"
    assert row["favours"] == "mean MASE favours arima; mean sMAPE favours arima; win rate favours RNN"
    # the old rule (best by sMAPE, Wilcoxon, win-rate CI) called this inconclusive; the headline knows mixed
    assert headline.headline_verdict(v.reset_index(), evaluated=True) == "mixed"


def test_mixed_when_the_two_means_disagree():
    series = make_series({"lstm": BASE - 1, "arima": BASE})
    worse = np.full(len(BASE), 1.0)
    series = _with_mase(series, {"lstm": worse + 0.2 * (np.arange(len(BASE)) % 2), "arima": worse})
    table, v = _a(series)
    row = table[table["dataset"] == "d1"].iloc[0]
    assert row["favours"].startswith("mean MASE favours arima; mean sMAPE favours RNN")
    assert v.loc["d1", "verdict"] == "mixed"


def test_inconclusive_when_nothing_is_significant():
    flip = np.where(np.arange(len(BASE)) % 2 == 0, 1.0, -1.0)
    table, v = _a(make_series({"lstm": BASE + flip, "arima": BASE}))
    row = table[table["dataset"] == "d1"].iloc[0]
    assert row["smape_diff"] == pytest.approx(0.0, abs=1e-12) and row["win_rate"] == 0.5
    assert row["favours"] == "no test significant" and v.loc["d1", "verdict"] == "inconclusive"
    # no arima: no comparison, said so
    _, v = _a(make_series({"lstm": BASE, "naive2": BASE}))
    assert v.loc["d1", "verdict"] == "inconclusive" and "no arima" in v.loc["d1", "evidence"]


def test_a_dataset_is_supported_by_one_supported_row_and_refuted_only_when_all_are():
    fams = {"lstm": "lstm", "gru": "gru", "arima": "arima"}
    _, v = _a(make_series({"lstm": BASE - 1, "gru": BASE + 1, "arima": BASE}), fams)
    assert v.loc["d1", "verdict"] == "supported" and "1 of 2 RNN rows supported" in v.loc["d1", "evidence"]
    flip = np.where(np.arange(len(BASE)) % 2 == 0, 1.0, -1.0)
    _, v = _a(make_series({"lstm": BASE + flip, "gru": BASE + 1, "arima": BASE}), fams)
    assert v.loc["d1", "verdict"] == "inconclusive"
    _, v = _a(make_series({"lstm": BASE + 2, "gru": BASE + 1, "arima": BASE}), fams)
    assert v.loc["d1", "verdict"] == "refuted"


def test_holm_over_every_rnn_row_takes_away_a_lone_significance():
    rng = np.random.default_rng(5)
    n = 60
    base = rng.uniform(5, 20, size=n)
    weak = base - 0.2 + rng.normal(0, 1.5, size=n)
    alone_table, alone = _a(make_series({"lstm": weak, "arima": base}), {"lstm": "lstm", "arima": "arima"})
    row = alone_table[alone_table["dataset"] == "d1"].iloc[0]
    assert row["mase_p"] < 0.01 and row["mase_p_holm"] < 0.05 and alone.loc["d1", "verdict"] == "supported"
    # the same row among ten other RNN rows that equal arima: 33 tests, and Holm takes it away
    nulls = {f"rnn{k}": base for k in range(10)}
    fams = {"lstm": "lstm", "arima": "arima", **{m: "rnn" for m in nulls}}
    table, v = _a(make_series({"lstm": weak, "arima": base, **nulls}), fams)
    row = table[(table["dataset"] == "d1") & (table["model"] == "lstm")].iloc[0]
    assert row["mase_p"] == pytest.approx(alone_table.iloc[0]["mase_p"])  # the same bootstrap
    assert row["mase_p_holm"] > 0.05 and row["verdict"] == "inconclusive"
    assert v.loc["d1", "verdict"] == "inconclusive"
    # one dataset: its overall pool is the same comparison, counted once in the family
    ps = table[table["dataset"] == "d1"][["mase_p", "smape_p", "win_p"]].to_numpy().ravel()
    assert row["mase_p_holm"] == pytest.approx(significance.holm(ps)[0])


def test_the_evidence_prints_the_numbers_the_rule_used():
    table, v = _a(make_series({"lstm": BASE - 1, "arima": BASE, "naive2": BASE + 2}, seeds={"lstm": 3}))
    r = table[table["dataset"] == "d1"].iloc[0]
    evidence = v.loc["d1", "evidence"]
    for text in (
        f"on {len(BASE)} series (3 seeds)",
        f"mean MASE {r['mase']:.3f} vs {r['mase_ref']:.3f}, diff {r['mase_diff']:+.3f}",
        f"[95% CI {r['mase_lo']:+.3f}, {r['mase_hi']:+.3f}]",
        f"(Holm {r['mase_p_holm']:.2g})",
        f"mean sMAPE {r['smape']:.2f} vs {r['smape_ref']:.2f}",
        f"OWA {r['owa']:.3f} vs {r['owa_ref']:.3f}",
        f"median diff {r['mase_median_diff']:+.3f}",
        f"win rate (MASE) {r['win_rate']:.2f}, sign test p={r['win_p']:.2g}",
        "DM on MASE differences",
    ):
        assert text in evidence, text
    assert v.loc["d1", "rule"] == claim_a.RULE and "Holm" in claim_a.RULE and "hierarchical bootstrap" in claim_a.RULE
    # reproducible: a seeded generator per (scope, model)
    again, _ = _a(make_series({"lstm": BASE - 1, "arima": BASE, "naive2": BASE + 2}, seeds={"lstm": 3}))
    pd.testing.assert_frame_equal(again, table)


# --------------------------------------------------------------------------- contenders, scopes, headline


def test_every_recurrent_row_is_a_contender_variants_included():
    fams = {"lstm-torch": "lstm", "lstm-torch[ens5]": "lstm", "lstm-torch[tuned]": "lstm", "ridge": "baseline"}
    series = make_series(
        {"lstm-torch": BASE - 1, "lstm-torch[ens5]": BASE - 2, "lstm-torch[tuned]": BASE, "ridge": BASE - 3}
        | {"arima": BASE}
    )
    table, v = _a(series, fams | {"arima": "arima"})
    assert table.loc[table["dataset"] == "d1", "model"].tolist() == [
        "lstm-torch",
        "lstm-torch[ens5]",
        "lstm-torch[tuned]",
    ]
    assert "ridge" not in v.loc["d1", "compared"] and v.loc["d1", "verdict"] == "supported"


def test_scopes_datasets_families_and_overall():
    assert claim_a.family_of_dataset("m3-monthly") == "m3" and claim_a.family_of_dataset("airline") == "airline"
    names = [name for name, _ in claim_a.scopes(["m1-yearly", "m1-quarterly", "m3-monthly"])]
    assert names == ["m1-yearly", "m1-quarterly", "m3-monthly", "m1", OVERALL]
    # a family holding every dataset of the run is the overall pool: not repeated
    assert [n for n, _ in claim_a.scopes(["m3-yearly", "m3-monthly"])] == ["m3-yearly", "m3-monthly", OVERALL]
    series = pd.concat(
        [
            make_series({"lstm": BASE - 1, "arima": BASE, "naive2": BASE + 1}, dataset=d)
            for d in ("m1-yearly", "m1-quarterly", "m3-monthly")
        ]
    )
    table, v = _a(series)
    m1 = table[table["dataset"] == "m1"].iloc[0]
    assert m1["n_series"] == 2 * len(BASE) and m1["pooled"] == "m1-yearly, m1-quarterly"
    assert table.loc[table["dataset"] == OVERALL, "n_series"].item() == 3 * len(BASE)
    assert v.loc["m1", "scope"] == "pooled: m1-yearly, m1-quarterly" and v.loc["m3-monthly", "scope"] == ""
    assert list(v.index) == ["m1-yearly", "m1-quarterly", "m3-monthly", "m1", OVERALL]
    assert m1["owa"] == pytest.approx(0.5 * ((BASE - 1).mean() / (BASE + 1).mean() * 2))


def test_the_headline_reads_claim_a_from_the_overall_comparison():
    diff = np.where(np.arange(len(BASE)) % 5 == 0, 5.0, -0.2)
    out = claims.claims_tables(make_series({"lstm": BASE + diff, "arima": BASE}), None, speed({}))
    rows = out["verdicts"][out["verdicts"]["claim"] == "a"]
    text = headline._reading_a(out, rows)
    r = out["claim_a"][out["claim_a"]["dataset"] == OVERALL].iloc[0]
    assert text.startswith(f"All {len(BASE)} series pooled, lstm vs arima: mean MASE {r['mase']:.3f}")
    assert "better on 80% of series" in text and "win rate favours RNN" in text


def test_pooled_accuracy_puts_the_families_series_together():
    """Two M3 datasets (same series ids: kept apart by the dataset prefix) and one M1 dataset:
    pools m3 and overall, means over every pooled series, OWA against Naive2 on the same
    series, sMAPE sd over seeds; a model missing from one dataset of a pool is not in it."""
    two = {"seeds": {"lstm-torch": 2}, "seed_noise": 2.0}
    a = make_series({"naive2": np.array([10.0, 20.0]), "lstm-torch": np.array([8.0, 16.0])}, "m3-monthly", **two)
    b = make_series({"naive2": np.array([30.0]), "lstm-torch": np.array([24.0])}, "m3-yearly", **two)
    c = make_series(
        {"naive2": np.array([40.0]), "lstm-torch": np.array([40.0]), "theta": np.array([1.0])}, "m1-yearly", **two
    )
    pooled = claim_a.pooled_accuracy(pd.concat([a, b, c], ignore_index=True)).set_index(["dataset", "model"])
    assert set(pooled.index.get_level_values(0)) == {"m3", OVERALL}  # m1 has one dataset: no pool
    m3 = pooled.loc[("m3", "lstm-torch")]
    assert m3["n_series"] == 3 and m3["smape"] == pytest.approx(16.0) and m3["owa"] == pytest.approx(0.8)
    assert m3["smape_sd"] == pytest.approx(np.sqrt(2))  # seed means 15 and 17
    assert pooled.loc[("m3", "lstm-torch"), "pooled"] == "m3-monthly, m3-yearly"
    overall = pooled.loc[(OVERALL, "lstm-torch")]
    assert overall["n_series"] == 4 and overall["smape"] == pytest.approx((8 + 16 + 24 + 40) / 4)
    assert overall["owa"] == pytest.approx(88 / 100)
    assert (OVERALL, "theta") not in pooled.index  # run on m1-yearly only
