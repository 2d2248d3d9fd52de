"""Claims statistics and verdicts on synthetic results built here (no runs needed)."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from harness import claim_a, claims, significance, steps
from harness.families import is_neural


def make_series(
    smape_by_model: dict[str, np.ndarray],
    dataset: str = "d1",
    seeds: dict[str, int] | None = None,
    seed_noise: float = 0.0,
) -> pd.DataFrame:
    """metrics.parquet-like rows: one window, given per-series sMAPE per model (MASE = sMAPE/10)."""
    rows = []
    for model, values in smape_by_model.items():
        n_seeds = (seeds or {}).get(model, 1)
        for seed in range(n_seeds):
            for i, v in enumerate(values):
                noise = seed_noise * (seed - (n_seeds - 1) / 2) if n_seeds > 1 else 0.0
                s = float(v) + noise
                rows.append(
                    {
                        "unique_id": f"S{i}",
                        "category": "x",
                        "window": 0,
                        "origin": 10,
                        "series_s": np.nan,
                        "status": "ok",
                        "message": "",
                        "smape": s,
                        "mase": s / 10,
                        "rmse": s,
                        "mae": s,
                        "coverage": np.nan,
                        "msis": np.nan,
                        "dataset": dataset,
                        "model": model,
                        "seed": seed,
                    }
                )
    return pd.DataFrame(rows)


def make_forecasts(errors: dict[str, np.ndarray], dataset: str = "d1", y: float = 10.0) -> pd.DataFrame:
    """forecasts.parquet-like rows: errors[model] has shape (n_series, h); y constant."""
    rows = []
    for model, err in errors.items():
        for i in range(err.shape[0]):
            for t in range(err.shape[1]):
                rows.append(
                    {
                        "unique_id": f"S{i}",
                        "window": 0,
                        "origin": 10,
                        "step": t + 1,
                        "y": y,
                        "yhat": y + err[i, t],
                        "lo": np.nan,
                        "hi": np.nan,
                        "dataset": dataset,
                        "model": model,
                        "seed": 0,
                    }
                )
    return pd.DataFrame(rows)


def speed(ms: dict[str, float], dataset: str = "d1") -> pd.DataFrame:
    return pd.DataFrame(
        [
            {
                "dataset": dataset,
                "model": m,
                "device": "cpu",
                "n_series": 10,
                "ms_per_series": v,
                "rel_cost": v / ms.get("naive", v),
            }
            for m, v in ms.items()
        ]
    )


RNG = np.random.default_rng(42)
BASE = RNG.uniform(5, 20, size=40)


def verdict_a(series: pd.DataFrame) -> str:
    v = claims.claims_tables(series, None, speed({}))["verdicts"]
    return v[(v["claim"] == "a") & (v["dataset"] == "d1")]["verdict"].item()


def test_is_neural():
    assert is_neural("lstm-torch") and is_neural("rnn-numpy") and is_neural("GRU")
    assert not is_neural("arima") and not is_neural("naive2")


def test_win_rate_and_verdict_a():
    better = make_series({"lstm": BASE - 1, "arima": BASE, "naive2": BASE + 2})
    v = claims.versus_reference(better)
    row = v[(v["dataset"] == "d1") & (v["model"] == "lstm")].iloc[0]
    assert row["win_rate"] == 1.0 and row["win_lo"] == 1.0 and row["win_hi"] == 1.0
    assert row["mean_diff"] == pytest.approx(-1.0)
    assert verdict_a(better) == "supported"
    assert verdict_a(make_series({"lstm": BASE + 1, "arima": BASE})) == "refuted"
    same = make_series({"lstm": BASE, "arima": BASE})
    row = claims.versus_reference(same).iloc[0]
    assert row["win_rate"] == 0.5 and row["wilcoxon_p"] == 1.0
    assert verdict_a(same) == "inconclusive"


def test_win_rate_ci_bootstrap():
    diff = np.array([-1.0] * 30 + [1.0] * 10 + [0.0] * 4)
    rate, lo, hi = significance.win_rate_ci(diff)
    assert rate == pytest.approx((30 + 2) / 44)
    assert lo < rate < hi and 0 <= lo and hi <= 1
    assert significance.win_rate_ci(diff) == (rate, lo, hi)  # seeded, reproducible


def test_wilcoxon_matches_scipy():
    noisy = BASE + RNG.normal(-0.5, 1.0, size=BASE.size)
    v = claims.versus_reference(make_series({"gru": noisy, "arima": BASE}))
    diff = noisy - BASE
    expected = stats.wilcoxon(diff, zero_method="zsplit").pvalue
    assert v.iloc[0]["wilcoxon_p"] == pytest.approx(expected)


def test_seeds_averaged_per_series():
    s = make_series({"rnn": BASE, "arima": BASE + 1}, seeds={"rnn": 3}, seed_noise=0.5)
    per = claims.per_series_scores(s)
    rnn = per[per["model"] == "rnn"].set_index("unique_id")["smape"]
    assert np.allclose(rnn.to_numpy(), BASE)
    summ = claims.summary_table(s).set_index(["dataset", "model"])
    assert summ.loc[("d1", "rnn"), "n_seeds"] == 3
    assert summ.loc[("d1", "rnn"), "smape_seed_sd"] == pytest.approx(0.5)
    assert math.isnan(summ.loc[("d1", "arima"), "smape_seed_sd"])


def test_summary_ranks_owa_and_overall_pooling():
    d1 = make_series({"lstm": BASE - 1, "arima": BASE, "naive2": BASE + 1}, dataset="d1")
    d2 = make_series(
        {"lstm": BASE[:10] + 3, "arima": BASE[:10], "naive2": BASE[:10] + 1, "extra": BASE[:10]}, dataset="d2"
    )
    summ = claims.summary_table(pd.concat([d1, d2])).set_index(["dataset", "model"])
    assert summ.loc[("d1", "lstm"), "avg_rank"] == 1.0 and summ.loc[("d1", "naive2"), "avg_rank"] == 3.0
    assert summ.loc[("d2", "lstm"), "avg_rank"] == 4.0
    assert summ.loc[("d1", "naive2"), "owa"] == pytest.approx(1.0)
    # overall pools 50 series (ids made unique) and drops the model not run on every dataset
    assert summ.loc[("overall", "lstm"), "n_series"] == 50
    assert ("overall", "extra") not in summ.index
    pooled = np.concatenate([BASE - 1, BASE[:10] + 3])
    assert summ.loc[("overall", "lstm"), "smape_mean"] == pytest.approx(pooled.mean())
    assert summ.loc[("overall", "lstm"), "smape_median"] == pytest.approx(np.median(pooled))


def test_common_rows_fairness():
    s = make_series({"lstm": BASE - 1, "arima": BASE})
    s.loc[(s["model"] == "arima") & (s["unique_id"] == "S0"), "status"] = "failed"
    v = claims.versus_reference(s)
    assert v.iloc[0]["n_series"] == len(BASE) - 1


def test_friedman_and_nemenyi():
    x = {"a": BASE, "b": BASE + RNG.normal(0, 1, BASE.size), "c": BASE + 1, "arima": BASE + 0.5}
    fr = claims.friedman_nemenyi(make_series(x))
    d1 = fr[fr["dataset"] == "d1"]
    expected = stats.friedmanchisquare(*x.values())
    assert d1["friedman_stat"].iloc[0] == pytest.approx(expected.statistic)
    assert d1["friedman_p"].iloc[0] == pytest.approx(expected.pvalue)
    ranks = pd.DataFrame(x).rank(axis=1).mean()
    assert d1.set_index("model")["avg_rank"].to_dict() == pytest.approx(ranks.to_dict())
    assert d1["cd"].iloc[0] == pytest.approx(significance.nemenyi_cd(4, len(BASE)))


def test_nemenyi_cd_hand_value():
    assert significance.nemenyi_cd(4, 50) == pytest.approx(2.569 * math.sqrt(4 * 5 / (6 * 50)), rel=1e-3)


def test_diebold_mariano_hand_computation():
    """DM on errors scaled by the in-sample MASE scale: the per-series MASE differences, seeds
    averaged within series (the old scaling by the test window's mean |y| is gone)."""
    n = 30
    base = BASE[:n]
    rnn = base + RNG.normal(-0.3, 1.0, size=n)
    s = make_series({"lstm": rnn, "arima": base}, seeds={"lstm": 2}, seed_noise=0.4)
    hand = (rnn - base) / 10  # make_series: MASE = sMAPE / 10; the seed noise averages out
    stat, p = significance.diebold_mariano(hand)
    t_hand = hand.mean() / math.sqrt(hand.var(ddof=1) / n)
    # HLN form with h=1: DM (variance 1/N) times sqrt((N-1)/N) is the same number
    dm_hln = hand.mean() / math.sqrt(hand.var(ddof=0) / n) * math.sqrt((n - 1) / n)
    assert stat == pytest.approx(t_hand) and stat == pytest.approx(dm_hln)
    assert p == pytest.approx(2 * stats.t.sf(abs(t_hand), n - 1))
    assert p == pytest.approx(stats.ttest_1samp(hand, 0.0).pvalue)
    # and through versus_reference, from metrics alone
    v = claims.versus_reference(s)
    assert v.iloc[0]["dm_stat"] == pytest.approx(t_hand) and v.iloc[0]["dm_n"] == n


def test_step_errors_shape():
    h, n = 4, 5
    fc = pd.concat(
        [make_forecasts({"lstm": np.ones((n, h)), "arima": np.full((n, h), 2.0)}, dataset=d) for d in ("d1", "d2")]
    )
    st = steps.step_errors(fc)
    assert list(st.columns) == steps.STEP_COLUMNS
    assert len(st) == 3 * 2 * h  # (d1, d2, overall) x 2 models x h steps
    row = st[(st["dataset"] == "overall") & (st["model"] == "lstm") & (st["step"] == 1)].iloc[0]
    assert row["smape"] == pytest.approx(200 * 1 / (10 + 11)) and row["n_series"] == 2 * n


def test_verdict_b_cost():
    summary = claims.summary_table(make_series({"lstm": BASE, "rnn": BASE, "arima": BASE}))
    empty = pd.DataFrame(columns=steps.STEP_COLUMNS)

    def vb(ms):
        v = claims.verdicts(summary, pd.DataFrame(columns=claim_a.COLUMNS), speed(ms), empty)
        return v[(v["claim"] == "b") & (v["dataset"] == "d1")]["verdict"].item()

    assert vb({"lstm": 50.0, "rnn": 25.0, "arima": 10.0}) == "supported"
    assert vb({"lstm": 4.0, "rnn": 2.0, "arima": 10.0}) == "refuted"
    assert vb({"lstm": 50.0, "rnn": 2.0, "arima": 10.0}) == "inconclusive"
    # decisive only outside [0.5, 2]: a ratio of 2 or 0.5 (or anything between) is not
    assert vb({"lstm": 50.0, "rnn": 20.0, "arima": 10.0}) == "inconclusive"
    assert vb({"lstm": 5.0, "rnn": 2.0, "arima": 10.0}) == "inconclusive"
    assert vb({"lstm": 15.0, "rnn": 12.0, "arima": 10.0}) == "inconclusive"


def _scoped_speed(rows: list[tuple[str, str, str, float, float]]) -> pd.DataFrame:
    """speed.csv rows (model, regime, device, cpu_ms_per_series, wall ms_per_series) on d1."""
    return pd.DataFrame(
        [
            {"dataset": "d1", "model": m, "regime": r, "device": d, "n_series": 10, "cpu_ms_per_series": c}
            | {"ms_per_series": w}
            for m, r, d, c, w in rows
        ]
    )


def _b_rows(sp: pd.DataFrame, families: dict[str, str]) -> pd.DataFrame:
    series = make_series({m: BASE + i for i, m in enumerate(families)})
    v = claims.claims_tables(series, None, sp, families=families)["verdicts"]
    return v[v["claim"] == "b"].set_index(["dataset", "scope"])


def test_verdict_b_per_regime_and_device_in_cpu_units():
    fams = {"lstm-g": "lstm", "lstm-l": "lstm", "rnn-g": "rnn", "arima": "arima"}
    sp = _scoped_speed(
        [
            ("arima", "local", "cpu", 80.0, 80.0),
            ("lstm-g", "global", "cpu", 20.0, 5.0),  # wall would say x0.06; CPU says x0.25
            ("rnn-g", "global", "cpu", 8.0, 8.0),
            ("lstm-l", "local", "cpu", 200.0, 150.0),
        ]
    )
    v = _b_rows(sp, fams)
    assert v.loc[("d1", "global, CPU"), "verdict"] == "refuted"
    assert "lstm-g 20.0 CPU-ms (x0.25 arima)" in v.loc[("d1", "global, CPU"), "evidence"]
    assert v.loc[("d1", "local, CPU"), "verdict"] == "supported"
    assert v.loc[("overall", "global, CPU"), "verdict"] == "refuted"
    joined = v.loc[("overall", claims.claim_b.SCOPE_ALL)]
    assert joined["verdict"] == "inconclusive"
    assert joined["evidence"].startswith("depends on the regime: global, CPU: refuted; local, CPU: supported")
    # the scopes agree: the overall line says so
    sp.loc[sp["model"] == "lstm-l", "cpu_ms_per_series"] = 10.0
    joined = _b_rows(sp, fams).loc[("overall", claims.claim_b.SCOPE_ALL)]
    assert joined["verdict"] == "refuted" and joined["evidence"].startswith("refuted in every scope timed")
    # a local RNN within a factor of two of arima: inconclusive, and so is the overall line
    sp.loc[sp["model"] == "lstm-l", "cpu_ms_per_series"] = 100.0
    v = _b_rows(sp, fams)
    assert v.loc[("d1", "local, CPU"), "verdict"] == "inconclusive"
    assert v.loc[("overall", claims.claim_b.SCOPE_ALL), "verdict"] == "inconclusive"


def test_verdict_b_on_an_accelerator_uses_wall_time_and_names_the_device():
    fams = {"lstm": "lstm", "arima": "arima"}
    sp = _scoped_speed([("arima", "local", "cpu", 80.0, 80.0), ("lstm", "global", "cuda", 0.5, 300.0)])
    v = _b_rows(sp, fams)
    row = v.loc[("d1", "global, CUDA")]
    assert row["verdict"] == "supported" and "lstm 300.0 wall-ms (x3.75 arima)" in row["evidence"]
    # one scope: its overall row is the overall line, and says what it does not cover
    assert ("overall", claims.claim_b.SCOPE_ALL) not in v.index
    assert v.loc[("overall", "global, CUDA"), "verdict"] == "supported"
    assert claims.claim_b.overall_line(v.reset_index()) == (
        "supported only in the scope timed (global, CUDA: supported; local training not timed, so not covered)"
    )


def test_memory_skill():
    mem = pd.DataFrame({"error": [1.1, 1.0, 3.0, 2.0], "floor": 3.0, "optimum": 1.0})
    assert claims.memory_skill(mem).tolist() == [0.95, 1.0, 0.0, 0.5]


def _memory_verdict(overall: str) -> pd.DataFrame:
    from harness import claim_c

    rows = [
        {
            "claim": "c",
            "scope": "sequence benchmark",
            "verdict": "supported",
            "compared": "elman-numpy, lstm; 4,000 updates",
            "rule": claim_c.RULE,
            "evidence": "sequence benchmark: at adding T=100 lstm solved 3/3",
            "sentence": "",
        },
        {
            "claim": "c",
            "scope": "forecasting study",
            "verdict": "inconclusive",
            "compared": "rnn-numpy, lstm-torch",
            "rule": claim_c.RULE,
            "evidence": "forecasting study: no lag",
            "sentence": "",
        },
        {
            "claim": "c",
            "scope": "overall",
            "verdict": overall,
            "compared": "4,000 updates",
            "rule": claim_c.RULE,
            "evidence": "both",
            "sentence": "With 4,000 updates, elman-numpy T≈50 (adding); lstm T≈200 (adding).",
        },
    ]
    return claim_c.verdict_frame(rows)


def test_verdict_c_comes_from_the_attached_memory_study():
    series = make_series({"arima": BASE, "rnn-numpy": BASE + 1})
    no_study = claims.claims_tables(series, None, speed({}))["verdicts"]
    c = no_study[no_study["claim"] == "c"].set_index("dataset")
    assert c.loc["overall", "verdict"] == "inconclusive" and "no memory study attached" in c.loc["overall", "evidence"]
    v = claims.claims_tables(series, None, speed({}), memory_verdict=_memory_verdict("supported"))["verdicts"]
    c = v[v["claim"] == "c"]
    overall = c[c["dataset"] == "overall"].iloc[0]
    assert overall["verdict"] == "supported" and overall["evidence"].startswith("With 4,000 updates, elman-numpy")
    study = c[c["dataset"] == claims.MEMORY_STUDY].set_index("scope")
    assert study.loc["sequence benchmark", "verdict"] == "supported"
    assert study.loc["forecasting study", "verdict"] == "inconclusive"
    assert c[c["dataset"] == "d1"]["verdict"].tolist() == ["inconclusive"]  # forecasts alone cannot decide (c)


def test_verdict_c_of_a_study_stored_before_the_per_architecture_rule_is_shown_as_decided():
    legacy = pd.DataFrame(
        [
            {
                "claim": "c",
                "verdict": "supported",
                "compared": "memory study: rnn-torch",
                "rule": "old rule",
                "evidence": "memory study: gru skill 0.05 on adding at L=24",
            }
        ]
    )
    series = make_series({"arima": BASE, "rnn-numpy": BASE + 1})
    v = claims.claims_tables(series, None, speed({}), memory_verdict=legacy)["verdicts"]
    overall = v[(v["claim"] == "c") & (v["dataset"] == "overall")].iloc[0]
    assert overall["verdict"] == "supported" and overall["rule"] == "old rule"
    assert "gru skill 0.05" in overall["evidence"]


def test_claims_report_round_trip(tmp_path):
    h = 3
    e_ref = RNG.normal(0, 2, size=(len(BASE), h))
    s = make_series({"lstm": BASE - 1, "arima": BASE, "naive2": BASE + 1})
    s.to_parquet(tmp_path / "metrics.parquet")
    make_forecasts({"lstm": e_ref * 0.5, "arima": e_ref, "naive2": e_ref * 2}).to_parquet(
        tmp_path / "forecasts.parquet"
    )
    speed({"lstm": 30.0, "arima": 10.0, "naive2": 0.1}).to_csv(tmp_path / "speed.csv", index=False)
    out = claims.claims_report(tmp_path)
    assert {"per_series", "summary", "versus", "friedman", "step_errors", "speed", "verdicts"} <= set(out)
    v = out["verdicts"].set_index(["claim", "dataset"])["verdict"]
    assert v[("a", "d1")] == "supported" and v[("b", "d1")] == "supported" and v[("c", "overall")] == "inconclusive"
    assert set(out["verdicts"]["dataset"]) == {"d1", "overall"}


def test_the_diebold_mariano_columns_need_no_forecasts(tmp_path):
    """The DM test is on per-series MASE differences from metrics.parquet: a run kept without its
    forecasts (the committed reference) gets the same numbers as one with them."""
    h = 3
    e_ref = RNG.normal(0, 2, size=(len(BASE), h))
    s = make_series({"lstm": BASE - 1 + RNG.normal(0, 1, len(BASE)), "arima": BASE, "naive2": BASE + 1})
    fc = make_forecasts({"lstm": e_ref * 0.5, "arima": e_ref, "naive2": e_ref * 2})
    sp = speed({"lstm": 30.0, "arima": 10.0, "naive2": 0.1})
    full = claims.claims_tables(s, fc, sp)
    assert full["versus"]["dm_p"].notna().all()
    without = claims.claims_tables(s, None, sp)
    pd.testing.assert_frame_equal(without["versus"], full["versus"])
    pd.testing.assert_frame_equal(without["claim_a"], full["claim_a"])


def test_claim_b_overall_line_joins_the_cost_study_scopes():
    """A run that timed global training only, beside a cost study whose local regime is
    inconclusive: the overall line must not say "refuted" (the regime the run never timed says
    otherwise); it says what it depends on and lists every scope with its source."""
    from harness.analysis import OVERALL
    from harness.claim_b import OVERALL_MARK, SCOPE_ALL, join_study_scopes

    def row(dataset, scope, verdict, evidence="e"):
        return {
            "claim": "b",
            "dataset": dataset,
            "scope": scope,
            "verdict": verdict,
            "evidence": evidence,
            "compared": "c",
            "rule": "r",
        }

    rows = [
        {"claim": "a", "dataset": OVERALL, "scope": "", "verdict": "mixed", "evidence": "", "compared": "", "rule": ""},
        row(OVERALL, "global, CPU", "refuted", f"numbers{OVERALL_MARK}refuted only in the scope timed"),
        row("cost-study", "global, CPU", "refuted"),
        row("cost-study", "local, CPU", "inconclusive"),
        row("cost-study", SCOPE_ALL, "inconclusive"),
    ]
    out = join_study_scopes(rows, "cost-study")
    overall = [r for r in out if r["claim"] == "b" and r["dataset"] == OVERALL]
    assert [r["scope"] for r in overall] == ["global, CPU", SCOPE_ALL]
    assert overall[0]["evidence"] == "numbers"  # its own closing sentence gives way to the joined line
    assert overall[1]["verdict"] == "inconclusive"
    assert overall[1]["evidence"] == (
        "depends on the regime: global, CPU (this run): refuted; global, CPU (cost-study): refuted; "
        "local, CPU (cost-study): inconclusive"
    )
    agreeing = join_study_scopes([r for r in rows if r["scope"] != "local, CPU"], "cost-study")
    assert [r["verdict"] for r in agreeing if r["dataset"] == OVERALL and r["scope"] == SCOPE_ALL] == ["refuted"]
    assert join_study_scopes(rows[:2], "cost-study") == rows[:2]  # no study attached: unchanged
