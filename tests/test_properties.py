"""Property-based tests (hypothesis) of the two things every result depends on: the long-format
loader (valid panels round-trip, junk is a DataError and nothing else) and the metrics (ranges,
symmetry, scale invariance, undefined is NaN).

Files are written in a fresh temporary folder per example (function-scoped fixtures are not reset
between hypothesis examples).
"""

from __future__ import annotations

import datetime
import math
import tempfile
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from harness import metrics
from harness.data import Dataset
from harness.errors import DataError
from harness.files import load_long_file

FAST = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
MORE = settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])

finite = st.floats(allow_nan=False, allow_infinity=False)
#: Values a forecast realistically takes: 0 or a magnitude in [1e-100, 1e100]. Beyond ~1e154
#: squares overflow (and |y - f| near the largest floats: sMAPE is then inf/inf), below ~1e-154
#: they underflow to 0 (an RMSE of errors all that small is 0, less than their MAE).
moderate = st.just(0.0) | st.floats(1e-100, 1e100) | st.floats(-1e100, -1e-100)
#: Any series id: unicode, commas, quotes, line breaks, spaces, things that look like numbers or "NA".
TRICKY_IDS = [
    "NA",
    "nan",
    "None",
    "null",
    "N/A",
    "#N/A",
    "1",
    "01",
    "1.0",
    "-",
    " a ",
    'q"uote',
    "com,ma",
    "ünï",
    "../x",
    "a\rb",
    "line\nbreak",
]
series_id = st.text(min_size=1, max_size=10) | st.sampled_from(TRICKY_IDS)
#: The same without NUL, where pandas' CSV parser ends a field (a CSV with NUL in it is not text).
csv_series_id = st.text(
    st.characters(codec="utf-8", exclude_characters="\x00"), min_size=1, max_size=10
) | st.sampled_from(TRICKY_IDS)


@st.composite
def panels(draw, ids_from=series_id) -> dict:
    """A valid long-format panel: 1-5 series of at least horizon + 3 finite values each, ids of any
    text, integer or date ``ds``, rows in any order."""
    horizon = draw(st.integers(1, 6))
    ids = draw(st.lists(ids_from, min_size=1, max_size=5, unique=True))
    values = [draw(st.lists(finite, min_size=horizon + 3, max_size=horizon + 12)) for _ in ids]
    kind = draw(st.sampled_from(["int", "monthly", "daily"]))
    start = draw(st.integers(-10_000, 10_000))
    parts = []
    for uid, v in zip(ids, values):
        n = len(v)
        if kind == "int":
            ds = np.arange(start, start + n, dtype=np.int64)
        else:
            ds = pd.date_range("2001-01-01", periods=n, freq="MS" if kind == "monthly" else "D")
        parts.append(pd.DataFrame({"unique_id": uid, "ds": ds, "y": np.asarray(v, dtype=np.float64)}))
    frame = pd.concat(parts, ignore_index=True)
    order = draw(st.permutations(range(len(frame))))
    return {"frame": frame.iloc[list(order)].reset_index(drop=True), "horizon": horizon, "ids": ids, "values": values}


def _load(frame: pd.DataFrame, suffix: str, **kwargs) -> Dataset:
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / f"panel{suffix}"
        if suffix == ".csv":
            # CRLF rows, as RFC 4180: with "\n" alone, pandas leaves an id holding "\r" unquoted
            frame.to_csv(path, index=False, lineterminator="\r\n")
        else:
            frame.to_parquet(path, index=False)
        return load_long_file(path, **kwargs)


def _check_round_trip(panel: dict, loaded: Dataset, exact: bool) -> None:
    first_seen = list(dict.fromkeys(panel["frame"]["unique_id"]))  # the documented order
    assert list(loaded.panel.ids) == first_seen
    assert loaded.panel.horizon == panel["horizon"]
    by_id = dict(zip(panel["ids"], panel["values"]))
    for uid, got in zip(loaded.panel.ids, loaded.panel.values):
        want = np.asarray(by_id[uid], dtype=np.float64)  # in ds order: the loader sorts by ds
        assert got.dtype == np.float64 and got.shape == want.shape
        if exact:
            assert np.array_equal(got.view(np.int64), want.view(np.int64)), uid  # bit for bit, -0.0 too
        else:
            # CSV holds each float as its shortest repr, which reads back as the same float
            assert np.array_equal(got, np.array([float(repr(float(x))) for x in want])), uid


@FAST
@given(panel=panels())
def test_parquet_round_trips_exactly(panel):
    loaded = _load(panel["frame"], ".parquet", horizon=panel["horizon"])
    _check_round_trip(panel, loaded, exact=True)


@FAST
@given(panel=panels(csv_series_id))
def test_csv_round_trips_to_float_repr(panel):
    loaded = _load(panel["frame"], ".csv", horizon=panel["horizon"])
    _check_round_trip(panel, loaded, exact=False)


def _loads_or_data_error(path: Path, horizon: int | None) -> None:
    try:
        result = load_long_file(path, horizon=horizon)
    except DataError as exc:
        assert str(exc).strip()  # the CLI shows it on one line (an id may hold a line break)
    else:
        assert isinstance(result, Dataset)


@MORE
@given(content=st.binary(max_size=300), suffix=st.sampled_from([".csv", ".parquet"]))
def test_random_bytes_load_or_raise_data_error(content, suffix):
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / f"junk{suffix}"
        path.write_bytes(content)
        _loads_or_data_error(path, None)


TOKENS = st.sampled_from(
    [
        "",
        " ",
        "a",
        "b",
        "s1",
        "NA",
        "nan",
        "inf",
        "-inf",
        "1e400",
        "-0",
        "0",
        "1",
        "3.5",
        "-2",
        "true",
        "False",
        "99999999999999999999",
        "-99999999999999999999",
        "9223372036854775808",
        "2020-01-01",
        "2020-02-01",
        "2020-13-45",
        "1677-09-21",
        "2262-04-12",
        "9999-12-31",
        "10000-01-01",
        "0001-01-01",
        "2020-01-01 25:00",
        "2020-01-01T00:00:00+05:00",
        "2020-01-01T00:00:00Z",
        "20200101",
        "1.5e3",
        '"',
        '""',
        "'",
        "\t",
        "ü",
        "\r",
        "#",
        "NaT",
        "None",
    ]
) | st.text(max_size=6)
HEADERS = st.sampled_from(
    [
        "unique_id,ds,y",
        "unique_id,ds,y,category",
        "ds,y",
        "unique_id,y,ds",
        "unique_id,ds,y,y",
        "unique_id,unique_id,ds,y",
        "",
        "unique_id,ds,y,",
    ]
)


@MORE
@given(
    header=HEADERS,
    rows=st.lists(st.lists(TOKENS, min_size=1, max_size=5), max_size=30),
    horizon=st.none() | st.integers(-1, 4),
)
def test_junk_csv_loads_or_raises_data_error(header, rows, horizon):
    text = header + "\n" + "".join(",".join(row) + "\n" for row in rows)
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "junk.csv"
        path.write_text(text, encoding="utf-8", errors="surrogatepass")
        _loads_or_data_error(path, horizon)


@MORE
@given(text=st.text(max_size=300))
def test_random_text_csv_loads_or_raises_data_error(text):
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "junk.csv"
        path.write_text(text, encoding="utf-8", errors="surrogatepass")
        _loads_or_data_error(path, None)


@MORE
@given(
    ds=st.lists(TOKENS, min_size=1, max_size=12),
    ids=st.lists(st.sampled_from(["a", "b", "NA", "1"]), min_size=12, max_size=12),
    horizon=st.none() | st.integers(1, 3),
)
def test_csv_with_junk_ds_loads_or_raises_data_error(ds, ids, horizon):
    """Valid ids and values, any ds: the ds parser is where dates, integers and junk meet."""
    text = "unique_id,ds,y\n" + "".join(f"{uid},{d},{k}.5\n" for k, (uid, d) in enumerate(zip(ids, ds)))
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "junk.csv"
        path.write_text(text, encoding="utf-8")
        _loads_or_data_error(path, horizon)


def _column(n: int):
    """A column of any of the types a Parquet file may hold."""
    return st.one_of(
        st.lists(st.integers(-(2**63), 2**63 - 1), min_size=n, max_size=n),
        st.lists(st.floats(), min_size=n, max_size=n),
        st.lists(st.text(max_size=5), min_size=n, max_size=n),
        st.lists(st.booleans(), min_size=n, max_size=n),
        st.lists(st.datetimes(), min_size=n, max_size=n),
        st.lists(st.none() | st.integers(-5, 5), min_size=n, max_size=n),
        st.lists(st.sampled_from(["2020-01-01", "2020-02-01", "x", "1", "nan"]), min_size=n, max_size=n),
        st.lists(st.binary(max_size=3), min_size=n, max_size=n),
        st.lists(
            st.datetimes(timezones=st.sampled_from([datetime.UTC, datetime.timezone(datetime.timedelta(hours=5))])),
            min_size=n,
            max_size=n,
        ),
        st.lists(st.integers(0, 2**64 - 1), min_size=n, max_size=n).map(lambda v: np.array(v, dtype=np.uint64)),
        st.lists(st.floats(-1e30, 1e30).map(round), min_size=n, max_size=n).map(lambda v: np.array(v, dtype=float)),
    )


def _parquet_loads_or_data_error(frame: pd.DataFrame, horizon: int | None) -> None:
    """Write ``frame`` as Parquet (examples pyarrow cannot store are skipped) and load it."""
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "junk.parquet"
        try:
            frame.to_parquet(path, index=False)
        except Exception:  # pyarrow cannot store this frame; nothing to load
            assume(False)
        _loads_or_data_error(path, horizon)


@MORE
@given(data=st.data(), n=st.integers(1, 12), horizon=st.none() | st.integers(1, 3))
def test_parquet_with_any_ds_type_loads_or_raises_data_error(data, n, horizon):
    """Valid ids and values, a ds column of any type Parquet holds."""
    frame = pd.DataFrame(
        {
            "unique_id": data.draw(st.lists(st.sampled_from(["a", "b"]), min_size=n, max_size=n)),
            "ds": data.draw(_column(n), label="ds"),
            "y": np.arange(n, dtype=float),
        }
    )
    _parquet_loads_or_data_error(frame, horizon)


@MORE
@given(
    data=st.data(),
    n=st.integers(0, 25),
    columns=st.sets(st.sampled_from(["unique_id", "ds", "y", "category"])),
    horizon=st.none() | st.integers(1, 4),
)
def test_parquet_of_any_column_types_loads_or_raises_data_error(data, n, columns, horizon):
    frame = pd.DataFrame({name: data.draw(_column(n), label=name) for name in sorted(columns)})
    _parquet_loads_or_data_error(frame, horizon)


# --- metrics ------------------------------------------------------------------------------------

pairs = st.integers(1, 24).flatmap(
    lambda n: st.tuples(st.lists(moderate, min_size=n, max_size=n), st.lists(moderate, min_size=n, max_size=n))
)


@MORE
@given(pair=pairs)
def test_smape_is_between_0_and_200_and_symmetric(pair):
    y, f = pair
    value = metrics.smape(y, f)
    assert 0.0 <= value <= 200.0
    assert value == metrics.smape(f, y)


@MORE
@given(pair=pairs)
def test_smape_is_zero_iff_the_forecast_is_exact(pair):
    y, f = pair
    assert (metrics.smape(y, f) == 0.0) == all(a == b for a, b in zip(y, f))
    assert metrics.smape(y, y) == 0.0


scale_values = st.floats(min_value=-1e6, max_value=1e6, allow_nan=False, allow_infinity=False)


@MORE
@given(h=st.integers(1, 12), n=st.integers(2, 40), m=st.integers(1, 12), c=st.floats(1e-3, 1e3), data=st.data())
def test_mase_is_scale_invariant(h, n, m, c, data):
    y = np.array(data.draw(st.lists(scale_values, min_size=h, max_size=h), label="y"))
    f = np.array(data.draw(st.lists(scale_values, min_size=h, max_size=h), label="f"))
    x = np.array(data.draw(st.lists(scale_values, min_size=n, max_size=n), label="insample"))
    assume(metrics.mase_scale(x, m) > 1e-3)
    base = metrics.mase(y, f, x, m)
    scaled = metrics.mase(c * y, c * f, c * x, m)
    assert math.isfinite(base) and base >= 0
    assert scaled == pytest.approx(base, rel=1e-9, abs=1e-12)


@MORE
@given(h=st.integers(1, 12), m=st.integers(1, 12), cycles=st.integers(1, 5), data=st.data())
def test_mase_is_nan_not_inf_when_the_scale_is_zero(h, m, cycles, data):
    season = data.draw(st.lists(moderate, min_size=m, max_size=m), label="season")
    x = np.tile(season, cycles + 1)  # repeats with period m: no seasonal difference, scale 0
    y = np.array(data.draw(st.lists(moderate, min_size=h, max_size=h), label="y"))
    f = np.array(data.draw(st.lists(moderate, min_size=h, max_size=h), label="f"))
    assert metrics.mase_scale(x, m) == 0.0
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # undefined is NaN, without a warning
        assert math.isnan(metrics.mase(y, f, x, m))
        assert math.isnan(metrics.mase(y, f, np.full(len(x), season[0]), 1))
        assert math.isnan(metrics.mase(y, f, x[:1], m))  # no difference at all


@MORE
@given(pair=pairs)
def test_rmse_is_at_least_mae_which_is_nonnegative(pair):
    y, f = pair
    rmse, mae = metrics.rmse(y, f), metrics.mae(y, f)
    assert mae >= 0.0
    assert rmse >= mae * (1 - 1e-12)


@MORE
@given(n=st.integers(1, 24), data=st.data())
def test_coverage_is_a_share(n, data):
    y, lo, hi = (data.draw(st.lists(finite, min_size=n, max_size=n), label=k) for k in ("y", "lo", "hi"))
    value = metrics.coverage(y, lo, hi)
    assert 0.0 <= value <= 1.0
    assert metrics.coverage(y, np.minimum(y, lo), np.maximum(y, hi)) == 1.0


@MORE
@given(
    h=st.integers(1, 18),
    n=st.integers(0, 30),
    m=st.integers(1, 24),
    intervals=st.booleans(),
    level=st.none() | st.floats(0.5, 99.5),
    data=st.data(),
)
def test_series_scores_never_raises_on_finite_input(h, n, m, intervals, level, data):
    def draw(k, size):
        return np.array(data.draw(st.lists(finite, min_size=size, max_size=size), label=k))

    y, f, x = draw("y", h), draw("f", h), draw("insample", n)
    lower, upper = (draw("lower", h), draw("upper", h)) if intervals else (None, None)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # overflow near the largest floats warns; it must not raise
        levels = (level,) if level is not None else metrics.DEFAULT_LEVELS
        given = {levels[0]: (lower, upper)} if intervals else None
        scores = metrics.series_scores(y, f, x, m, given, levels)
    assert list(scores) == list(metrics.score_names(levels))
    assert all(isinstance(v, float) for v in scores.values())
    assert math.isnan(scores[f"coverage_{metrics.level_key(levels[0])}"]) != intervals
    assert 0.0 <= scores["mae"] or math.isnan(scores["mae"])
