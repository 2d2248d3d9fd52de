"""Dates in user data files are never guessed (issue 17, item 1).

The loader reads ISO 8601, or the one format of the first value that every value has and that the
file itself settles (a day above 12 tells day-first from month-first); an ambiguous or mixed format
is a one-line error asking for ``date_format`` (``--date-format``, or the suite key), which is then
applied strictly. Dated series must be regular (no gap, one value per period) and of one frequency.
The error cases run through the CLI in tests/test_bad_input.py; here: what loads, and loads right.
"""

from __future__ import annotations

import json
import tempfile
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from harness.errors import DataError
from harness.files import load_long_file
from harness.runner import resolve_datasets
from harness.suite import apply_overrides, parse_suite
from harness.tasks import ProtocolSpec, Task
from tests.conftest import invoke

DAY_MONTH_FORMATS = ["%d/%m/%Y", "%m/%d/%Y", "%d.%m.%Y", "%d-%m-%Y", "%m-%d-%Y", "%d/%m/%Y %H:%M"]


def _write(path: Path, stamps: pd.DatetimeIndex, fmt: str, uid: str = "a") -> Path:
    frame = pd.DataFrame({"unique_id": uid, "ds": stamps.strftime(fmt), "y": np.arange(len(stamps), dtype=float)})
    frame.to_csv(path, index=False)
    return path


def _test_window(dataset) -> list[float]:
    task = Task(dataset, ProtocolSpec())
    task.validate()
    return [float(x) for x in task.windows()[0].truth[0]]


def test_day_first_daily_file_the_file_settles_loads_in_order(tmp_path):
    """The reproduction: 40 days from 2020-01-01 as %d/%m/%Y (days above 12 settle the order)."""
    path = _write(tmp_path / "daily.csv", pd.date_range("2020-01-01", periods=40, freq="D"), "%d/%m/%Y")
    ds = load_long_file(path)
    assert (ds.panel.freq, ds.panel.horizon, ds.panel.season_length) == ("daily", 14, 7)
    assert _test_window(ds) == list(range(26, 40))  # was [34, 4, 35, 5, ...]


def test_day_first_monthly_file_needs_date_format_then_is_monthly(tmp_path):
    path = _write(tmp_path / "monthly.csv", pd.date_range("2015-01-01", periods=40, freq="MS"), "%d/%m/%Y")
    with pytest.raises(DataError, match=r"ambiguous dates: ds '01/02/2015' \(data row 2\)"):
        load_long_file(path)  # was read as daily, h = 14, m = 7
    ds = load_long_file(path, date_format="%d/%m/%Y")
    assert (ds.panel.freq, ds.panel.horizon, ds.panel.season_length) == ("monthly", 18, 12)
    assert _test_window(ds) == list(range(22, 40))
    # the other order, given explicitly, is applied as given: twelve days a year, which the gap check stops
    with pytest.raises(DataError, match="series a has a gap: no value between 2015-01-12 and 2016-01-01"):
        load_long_file(path, date_format="%m/%d/%Y")


def test_day_first_short_daily_file_with_date_format_loads_in_order(tmp_path):
    """Twelve days of March: nothing settles the order, the option does."""
    path = _write(tmp_path / "march.csv", pd.date_range("2020-03-01", periods=12, freq="D"), "%d/%m/%Y")
    with pytest.raises(DataError, match="ambiguous dates"):
        load_long_file(path, horizon=3)
    ds = load_long_file(path, horizon=3, date_format="%d/%m/%Y")
    assert ds.panel.freq == "daily" and _test_window(ds) == [9.0, 10.0, 11.0]


def test_date_format_through_the_suite_key_and_the_option(tmp_path, registry):
    path = _write(tmp_path / "monthly.csv", pd.date_range("2015-01-01", periods=40, freq="MS"), "%d/%m/%Y")
    raw = {"datasets": [{"name": str(path), "date_format": "%d/%m/%Y"}], "models": {"naive": {}}}
    config = parse_suite(raw, name="mine", where="mine.toml")
    (ds,) = resolve_datasets(config, registry)
    assert ds.panel.freq == "monthly" and _test_window(ds) == list(range(22, 40))
    # --limit / --horizon keep it; the stored config names it
    config = apply_overrides(config, limit=5, horizon=6)
    assert config.datasets[0].date_format == "%d/%m/%Y" and config.datasets[0].horizon == 6
    assert config.as_dict()["datasets"][0]["date_format"] == "%d/%m/%Y"
    # the option applies to every data file of the run
    config = parse_suite({"datasets": [str(path), "airline"], "models": {"naive": {}}}, name="m", where="m.toml")
    config = apply_overrides(config, date_format="%d/%m/%Y")
    assert [d.date_format for d in config.datasets] == ["%d/%m/%Y", None]


def test_stored_config_without_date_format_is_unchanged():
    config = parse_suite({"datasets": ["airline"], "models": {"naive": {}}}, name="m", where="m.toml")
    assert config.as_dict()["datasets"] == [{"name": "airline", "limit": None, "horizon": None, "season_length": None}]


def test_cli_run_with_date_format(tmp_path):
    path = _write(tmp_path / "monthly.csv", pd.date_range("2015-01-01", periods=40, freq="MS"), "%d/%m/%Y")
    out = tmp_path / "run"
    args = ["run", "--models", "naive", "--datasets", str(path), "--date-format", "%d/%m/%Y", "--out", str(out)]
    result = invoke([*args, "--workers", "1"])
    assert result.exit_code == 0, result.output
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["config"]["datasets"][0]["date_format"] == "%d/%m/%Y"
    assert "monthly" in (out / "report.md").read_text() or (out / "metrics.parquet").exists()


MONTHS = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"]
FORTY_MONTHS = [(2015 + i // 12, i % 12 + 1) for i in range(40)]


@pytest.mark.parametrize(
    "ds",
    [
        [f"{y}-{m:02d}" for y, m in FORTY_MONTHS],
        [f"{y}/{m:02d}/01" for y, m in FORTY_MONTHS],  # year first: always year-month-day
        [f"{y}-{m:02d}-01T00:00:00" for y, m in FORTY_MONTHS],
        [f"01-{MONTHS[m - 1]}-{y}" for y, m in FORTY_MONTHS],
        [f"{MONTHS[m - 1]} {y}" for y, m in FORTY_MONTHS],
    ],
    ids=["year-month", "year-first-slashes", "iso-with-time", "day-month-name-year", "month-name-year"],
)
def test_unambiguous_formats_parse(tmp_path, ds):
    path = tmp_path / "data.csv"
    pd.DataFrame({"unique_id": "a", "ds": ds, "y": np.arange(40.0)}).to_csv(path, index=False)
    loaded = load_long_file(path)
    assert loaded.panel.freq == "monthly" and _test_window(loaded) == list(range(22, 40))


def test_month_first_file_the_file_settles(tmp_path):
    path = _write(tmp_path / "us.csv", pd.date_range("2020-01-01", periods=40, freq="D"), "%m/%d/%Y")
    ds = load_long_file(path)
    assert ds.panel.freq == "daily" and _test_window(ds) == list(range(26, 40))


def test_integers_are_other_and_date_format_reads_them_as_dates(tmp_path):
    path = tmp_path / "ymd.csv"
    stamps = pd.date_range("2015-01-01", periods=40, freq="MS")
    pd.DataFrame({"unique_id": "a", "ds": stamps.strftime("%Y%m%d").astype(int), "y": np.arange(40.0)}).to_csv(
        path, index=False
    )
    assert load_long_file(path).panel.freq == "other"
    ds = load_long_file(path, date_format="%Y%m%d")
    assert ds.panel.freq == "monthly" and _test_window(ds) == list(range(22, 40))


def test_integer_ds_with_gaps_is_a_plain_sequence(tmp_path):
    path = tmp_path / "ints.csv"
    pd.DataFrame({"unique_id": "a", "ds": [*range(1, 21), *range(100, 120)], "y": np.arange(40.0)}).to_csv(
        path, index=False
    )
    assert load_long_file(path).panel.freq == "other"


def test_business_days_are_a_gap_error_with_the_way_out(tmp_path):
    path = _write(tmp_path / "b.csv", pd.bdate_range("2020-01-01", periods=40), "%Y-%m-%d")
    with pytest.raises(DataError, match="series a has a gap: no value between 2020-01-03 and 2020-01-06.*integer ds"):
        load_long_file(path)


def test_hourly_with_a_time_zone_is_regular(tmp_path):
    stamps = pd.date_range("2021-03-27", periods=72, freq="h", tz="UTC")
    path = tmp_path / "utc.csv"
    pd.DataFrame({"unique_id": "a", "ds": stamps.strftime("%Y-%m-%dT%H:%M:%SZ"), "y": np.arange(72.0)}).to_csv(
        path, index=False
    )
    ds = load_long_file(path, horizon=6)
    assert ds.panel.freq == "hourly" and len(ds.panel.values[0]) == 72


def test_parquet_datetimes_are_checked_for_gaps(tmp_path):
    stamps = pd.date_range("2000-01-01", periods=20, freq="MS").append(
        pd.date_range("2011-09-01", periods=20, freq="MS")
    )
    path = tmp_path / "gap.parquet"
    pd.DataFrame({"unique_id": "a", "ds": stamps, "y": np.arange(40.0)}).to_parquet(path, index=False)
    with pytest.raises(DataError, match="series a has a gap: no value between 2001-08-01 and 2011-09-01"):
        load_long_file(path)


FAST = settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@FAST
@given(
    fmt=st.sampled_from(DAY_MONTH_FORMATS),
    freq=st.sampled_from(["D", "MS", "W-SUN"]),
    start=st.dates(min_value=pd.Timestamp("1990-01-01").date(), max_value=pd.Timestamp("2030-01-01").date()),
    n=st.integers(8, 45),
)
def test_day_month_formats_load_in_order_or_fail_never_reorder(fmt, freq, start, n):
    """Whatever the day/month format, the loader returns the series in its true order with the
    true frequency, or says the dates are ambiguous; with date_format it always loads right."""
    stamps = pd.date_range(pd.Timestamp(start), periods=n, freq=freq)
    want = {"D": "daily", "MS": "monthly", "W-SUN": "weekly"}[freq]
    with tempfile.TemporaryDirectory() as folder:
        path = _write(Path(folder) / "data.csv", stamps, fmt)
        try:
            ds = load_long_file(path, horizon=3)
        except DataError as exc:
            assert "ambiguous dates" in str(exc), exc
        else:
            assert ds.panel.freq == want
            np.testing.assert_array_equal(ds.panel.values[0], np.arange(n, dtype=float))
        ds = load_long_file(path, horizon=3, date_format=fmt)
        assert ds.panel.freq == want
        np.testing.assert_array_equal(ds.panel.values[0], np.arange(n, dtype=float))
