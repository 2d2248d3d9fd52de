"""Datasets downloaded on first use: M4 from the competition's own repository, and the Monash
Time Series Forecasting Archive from Zenodo.

Too large to ship (M4 is 100,000 series), they are fetched once into the download cache
(``$RNNBENCH_CACHE``, default ``~/.cache/rnnbench``; see :mod:`harness.downloads`, reached as
``harness.cached_file``) the first time a run loads them, and read from there afterwards.
Registering them reads and downloads nothing, and ``rnnbench datasets`` lists them as needing a
download until their files are cached (they are registered with ``info={"cache_files": ...}``).
Without network, loading fails with one line naming the URL and where to put the file by hand.

- ``m4-yearly`` ... ``m4-hourly`` (collection ``m4``): the official train and test CSVs of
  Mcompetitions/M4-methods (``Dataset/Train/Yearly-train.csv``, ``Dataset/Test/Yearly-test.csv``:
  one series per row, id first, the train rows padded with empty fields), with the official test
  set and the competition's horizons and season lengths (yearly 6/1, quarterly 8/4, monthly 18/12,
  weekly 13/1, daily 14/1, hourly 48/24: M4 gave daily and weekly series frequency 1). The series
  categories (``M4-info.csv``) are not read.
- ``monash:<name>``: one ``.tsf`` of the archive (read by ``harness.load_tsf``), from the table
  :data:`MONASH` of record numbers and file names. Where the archive publishes a dataset with and
  without missing values, the name means the version without (the harness refuses missing
  values). A file without an ``@horizon`` line gets the horizon of the archive's paper (Godahewa
  et al. 2021, table 2), listed here. ``cif_2016`` is left out: its series have two horizons in
  one file, and a dataset has one.
"""

from __future__ import annotations

import csv
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

import harness

M4_URL = "https://raw.githubusercontent.com/Mcompetitions/M4-methods/master/Dataset"
#: part -> (file prefix, horizon, season length, number of series), the competition's own.
M4_PARTS: dict[str, tuple[str, int, int, int]] = {
    "yearly": ("Yearly", 6, 1, 23000),
    "quarterly": ("Quarterly", 8, 4, 24000),
    "monthly": ("Monthly", 18, 12, 48000),
    "weekly": ("Weekly", 13, 1, 359),
    "daily": ("Daily", 14, 1, 4227),
    "hourly": ("Hourly", 48, 24, 414),
}

ZENODO_URL = "https://zenodo.org/record"
#: name -> (Zenodo record, file name without .zip/.tsf, horizon of the archive's paper). The
#: record serves ``<file>.zip`` holding ``<file>.tsf``.
MONASH: dict[str, tuple[str, str, int]] = {
    "m1_yearly": ("4656193", "m1_yearly_dataset", 6),
    "m1_quarterly": ("4656154", "m1_quarterly_dataset", 8),
    "m1_monthly": ("4656159", "m1_monthly_dataset", 18),
    "m3_yearly": ("4656222", "m3_yearly_dataset", 6),
    "m3_quarterly": ("4656262", "m3_quarterly_dataset", 8),
    "m3_monthly": ("4656298", "m3_monthly_dataset", 18),
    "m3_other": ("4656335", "m3_other_dataset", 8),
    "m4_yearly": ("4656379", "m4_yearly_dataset", 6),
    "m4_quarterly": ("4656410", "m4_quarterly_dataset", 8),
    "m4_monthly": ("4656480", "m4_monthly_dataset", 18),
    "m4_weekly": ("4656522", "m4_weekly_dataset", 13),
    "m4_daily": ("4656548", "m4_daily_dataset", 14),
    "m4_hourly": ("4656589", "m4_hourly_dataset", 48),
    "tourism_yearly": ("4656103", "tourism_yearly_dataset", 4),
    "tourism_quarterly": ("4656093", "tourism_quarterly_dataset", 8),
    "tourism_monthly": ("4656096", "tourism_monthly_dataset", 24),
    "nn5_daily": ("4656117", "nn5_daily_dataset_without_missing_values", 56),
    "nn5_weekly": ("4656125", "nn5_weekly_dataset", 8),
    "kaggle_web_traffic": ("4656075", "kaggle_web_traffic_dataset_without_missing_values", 59),
    "kaggle_web_traffic_weekly": ("4656664", "kaggle_web_traffic_weekly_dataset", 8),
    "electricity_hourly": ("4656140", "electricity_hourly_dataset", 168),
    "electricity_weekly": ("4656141", "electricity_weekly_dataset", 8),
    "traffic_hourly": ("4656132", "traffic_hourly_dataset", 168),
    "traffic_weekly": ("4656135", "traffic_weekly_dataset", 8),
    "solar_10_minutes": ("4656144", "solar_10_minutes_dataset", 1008),
    "solar_weekly": ("4656151", "solar_weekly_dataset", 5),
    "hospital": ("4656014", "hospital_dataset", 12),
    "covid_deaths": ("4656009", "covid_deaths_dataset", 30),
    "car_parts": ("4656021", "car_parts_dataset_without_missing_values", 12),
    "fred_md": ("4654833", "fred_md_dataset", 12),
    "pedestrian_counts": ("4656626", "pedestrian_counts_dataset", 24),
    "us_births": ("4656049", "us_births_dataset", 30),
    "saugeen_river_flow": ("4656058", "saugeenday_dataset", 30),
    "sunspot": ("4654722", "sunspot_dataset_without_missing_values", 30),
    "weather": ("4654822", "weather_dataset", 30),
    "australian_electricity_demand": ("4659727", "australian_electricity_demand_dataset", 336),
    "kdd_cup_2018": ("4656756", "kdd_cup_2018_dataset_without_missing_values", 168),
}


def m4_files(part: str) -> tuple[tuple[str, str], tuple[str, str]]:
    """``((url, cache name), (url, cache name))`` of the train and test CSV of one M4 part."""
    prefix = M4_PARTS[part][0]
    train = (f"{M4_URL}/Train/{prefix}-train.csv", f"m4/{prefix}-train.csv")
    test = (f"{M4_URL}/Test/{prefix}-test.csv", f"m4/{prefix}-test.csv")
    return train, test


def monash_file(name: str) -> tuple[str, str, str]:
    """``(url, cache name, zip member)`` of one archive dataset."""
    record, stem, _ = MONASH[name]
    return f"{ZENODO_URL}/{record}/files/{stem}.zip", f"monash/{stem}.tsf", f"{stem}.tsf"


def _read_wide(path: Path, what: str) -> dict[str, np.ndarray]:
    """An M4 CSV: a header (V1, V2, ...), then one series per row, its id first and its values
    after, empty fields padding the shorter series."""
    out: dict[str, np.ndarray] = {}
    try:
        with path.open(encoding="utf-8", newline="") as handle:
            rows = csv.reader(handle)
            next(rows, None)
            for number, row in enumerate(rows, start=2):
                if not row:
                    continue
                uid, fields = row[0].strip(), [f for f in row[1:] if f.strip()]
                try:
                    values = np.array(fields, dtype=np.float64)
                except ValueError:
                    raise harness.DataError(f"{path}: line {number}: series {uid} has a non-numeric value") from None
                if uid in out:
                    raise harness.DataError(f"{path}: line {number}: series {uid} appears twice")
                out[uid] = values
    except (OSError, UnicodeDecodeError, csv.Error) as exc:
        raise harness.DataError(f"{path}: unreadable {what}: {exc}; delete it to download it again") from None
    if not out:
        raise harness.DataError(f"{path}: no series in the {what}; delete it to download it again")
    return out


def load_m4(part: str) -> harness.Dataset:
    """One M4 frequency with its official test set, downloaded into the cache if need be."""
    _prefix, horizon, season_length, _count = M4_PARTS[part]
    (train_url, train_name), (test_url, test_name) = m4_files(part)
    train = _read_wide(harness.cached_file(train_url, train_name), "M4 train file")
    test_path = harness.cached_file(test_url, test_name)
    test = _read_wide(test_path, "M4 test file")
    if list(test) != list(train):
        at = next((i for i, (a, b) in enumerate(zip(train, test)) if a != b), min(len(train), len(test)))
        raise harness.DataError(
            f"{test_path}: its series do not match the train file's: {len(test)} series for {len(train)}, "
            f"the first difference at series {at + 1}"
        )
    for uid, values in test.items():
        if len(values) != horizon:
            raise harness.DataError(f"{test_path}: series {uid} has {len(values)} test values, M4 {part} has {horizon}")
    ids = tuple(train)
    panel = harness.Panel(ids, tuple(train.values()), part, season_length, horizon)
    return harness.Dataset(
        name=f"m4-{part}",
        panel=panel,
        test=tuple(test.values()),
        description=_m4_description(part, len(ids)),
        source=f"{M4_URL}/Train (and Test)/{M4_PARTS[part][0]}-*.csv",
        meta={"competition": "M4", "official_test": True},
    )


def _m4_description(part: str, count: int) -> str:
    _prefix, horizon, season_length, _ = M4_PARTS[part]
    return f"M4 {part}: {count} series, official test set, h={horizon}, m={season_length}"


def load_monash(name: str) -> harness.Dataset:
    """One dataset of the Monash archive, downloaded into the cache if need be."""
    url, cache_name, member = monash_file(name)
    path = harness.cached_file(url, cache_name, member=member)
    return harness.load_tsf(path, name=f"monash:{name}", default_horizon=MONASH[name][2])


def _bind(load: Callable[[str], harness.Dataset], arg: str) -> Callable[[], harness.Dataset]:
    """A zero-argument loader (a closure, so registering reads and downloads nothing)."""

    def loader() -> harness.Dataset:
        return load(arg)

    loader.__name__ = f"{load.__name__}_{arg}"
    return loader


@harness.hookimpl
def register_datasets(register: Callable[..., Any]) -> None:
    """Register the M4 parts, their collection ``m4``, and each archive dataset of :data:`MONASH`."""
    names = []
    for part, (_prefix, _h, _m, count) in M4_PARTS.items():
        names.append(f"m4-{part}")
        files = tuple(str(harness.cache_path(cache)) for _url, cache in m4_files(part))
        register(
            f"m4-{part}", _bind(load_m4, part), description=_m4_description(part, count), info={"cache_files": files}
        )
    register("m4", None, description=f"M4: all 100000 series ({', '.join(names)})", parts=names)
    for name, (record, stem, _horizon) in MONASH.items():
        _url, cache_name, _member = monash_file(name)
        register(
            f"monash:{name}",
            _bind(load_monash, name),
            description=f"Monash archive {stem}.tsf (Zenodo record {record})",
            info={"cache_files": (str(harness.cache_path(cache_name)),)},
        )
