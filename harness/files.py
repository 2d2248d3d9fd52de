"""User data files in long format (``unique_id, ds, y``, as in statsforecast), read and written.

A benchmark on someone's own data is only as good as the file it reads, so the loader checks
everything a forecast needs and stops at the first problem with one line that names the problem
and the file (a :class:`DataError`), instead of letting a NaN or a duplicated date surface later
as a strange metric. Frequency is inferred from ``ds`` when not given, and the horizon and season
length default to the M4 conventions for that frequency; explicit arguments always win.

An optional ``category`` column is kept as the series category (used in per-category reports and
by ``Dataset.sample``); other extra columns are ignored.
"""

from __future__ import annotations

import math
import warnings
from collections import Counter
from pathlib import Path

import numpy as np
import pandas as pd

from harness.data import Dataset, Panel
from harness.errors import DataError, one_line

REQUIRED_COLUMNS: tuple[str, ...] = ("unique_id", "ds", "y")
SUPPORTED_SUFFIXES: tuple[str, ...] = (".csv", ".parquet", ".pq")

# M4 conventions: frequency -> (horizon, season length).
FREQ_DEFAULTS: dict[str, tuple[int, int]] = {
    "yearly": (6, 1),
    "quarterly": (8, 4),
    "monthly": (18, 12),
    "weekly": (13, 1),
    "daily": (14, 7),
    "hourly": (48, 24),
    "other": (8, 1),
}

# What pandas reads as missing by default (the read_csv documentation); kept for ds, y and
# category, not for unique_id.
_CSV_NA: list[str] = [
    "",
    "#N/A",
    "#N/A N/A",
    "#NA",
    "-1.#IND",
    "-1.#QNAN",
    "-NaN",
    "-nan",
    "1.#IND",
    "1.#QNAN",
    "<NA>",
    "N/A",
    "NA",
    "NULL",
    "NaN",
    "None",
    "n/a",
    "nan",
    "null",
]

# pandas offsets for writing dates of a known frequency.
_PANDAS_FREQ: dict[str, str] = {
    "yearly": "YS",
    "quarterly": "QS",
    "monthly": "MS",
    "weekly": "W",
    "daily": "D",
    "hourly": "h",
}


def is_data_file(name: str) -> bool:
    """Whether a ``--datasets`` entry names a file (by its extension or a path separator) rather
    than a registered dataset."""
    return Path(name).suffix.lower() in SUPPORTED_SUFFIXES or "/" in name or "\\" in name


def load_long_file(
    path: str | Path, *, horizon: int | None = None, season_length: int | None = None, freq: str | None = None
) -> Dataset:
    """Read a ``.csv`` or ``.parquet`` file in long format into a :class:`Dataset`.

    Series keep the order of their first appearance in the file and are sorted by ``ds`` within
    each series. ``ds`` may be dates/timestamps or integers (integers mean frequency ``"other"``).
    Each series needs more than ``horizon + 1`` points so that a holdout of ``horizon`` leaves at
    least two in-sample points (one to fit, one to difference for MASE).

    :raises DataError: one line naming the problem and the file.
    """
    path = Path(path)
    frame = _read(path)
    where = f"{path}"

    missing = [c for c in REQUIRED_COLUMNS if c not in frame.columns]
    if missing:
        raise DataError(
            f"{where}: missing required column(s) {', '.join(missing)} "
            f"(found: {', '.join(map(str, frame.columns)) or 'none'}; need unique_id, ds, y)"
        )
    if len(frame) == 0:
        raise DataError(f"{where}: file has no rows")

    if frame["unique_id"].isna().any():
        row = int(np.flatnonzero(frame["unique_id"].isna().to_numpy())[0])
        raise DataError(f"{where}: empty unique_id in data row {row + 1}")
    ids = _as_text(frame["unique_id"], "unique_id", where)
    y = _numeric_y(frame["y"], ids, where)
    ds = _parse_ds(frame["ds"], ids, where)

    bad = ~np.isfinite(y)
    if bad.any():
        counts = Counter(ids[bad])
        first, n_bad = next(iter(counts.items()))
        more = f" (and {len(counts) - 1} more series)" if len(counts) > 1 else ""
        raise DataError(f"{where}: series {first} has {n_bad} NaN or infinite y value(s){more}")

    data = pd.DataFrame({"unique_id": ids, "ds": ds, "y": y})
    dup = data.duplicated(["unique_id", "ds"])
    if dup.any():
        row = data[dup].iloc[0]
        total = int(dup.sum())
        raise DataError(
            f"{where}: duplicate (unique_id, ds) = ({row['unique_id']}, {row['ds']}); {total} duplicate row(s) in all"
        )

    category = _as_text(frame["category"], "category", where) if "category" in frame.columns else None
    if category is not None:
        data["category"] = category.to_numpy()

    data = data.sort_values(["ds"], kind="stable")
    order = list(dict.fromkeys(ids))  # first appearance in the file
    groups = {uid: g for uid, g in data.groupby("unique_id", sort=False)}

    freq_name = _resolve_freq(freq, [groups[uid]["ds"] for uid in order], where)
    default_h, default_m = FREQ_DEFAULTS[freq_name]
    h = default_h if horizon is None else horizon
    m = default_m if season_length is None else season_length
    if not isinstance(h, (int, np.integer)) or isinstance(h, bool) or h <= 0:
        raise DataError(f"{where}: horizon must be a positive integer, got {h!r}")
    if not isinstance(m, (int, np.integer)) or isinstance(m, bool) or m <= 0:
        raise DataError(f"{where}: season length must be a positive integer, got {m!r}")

    values: list[np.ndarray] = []
    categories: list[str] = []
    for uid in order:
        g = groups[uid]
        if len(g) <= h + 1:
            raise DataError(
                f"{where}: series {uid} is too short: {len(g)} points, needs at least {h + 2} "
                f"for horizon {h} (more than horizon + 1)"
            )
        values.append(g["y"].to_numpy(dtype=np.float64))
        categories.append(str(g["category"].iloc[0]) if category is not None else "")

    panel = Panel(
        ids=tuple(order),
        values=tuple(values),
        freq=freq_name,
        season_length=int(m),
        horizon=int(h),
        categories=tuple(categories),
    )
    first_ds = [str(groups[uid]["ds"].iloc[0]) for uid in order]
    return Dataset(
        name=path.stem,
        panel=panel,
        test=None,
        description=f"{path.name}: {len(order)} series, {freq_name}, h={h}, m={m}",
        source=str(path),
        meta={"file": str(path), "first_ds": first_ds},
    )


def write_long_file(dataset: Dataset, path: str | Path, *, start: str | None = None) -> Path:
    """Write a dataset in long format (``unique_id, ds, y`` and ``category`` when set) to ``.csv``
    or ``.parquet``, chosen by the suffix.

    The whole observed history is written, official test included (``Dataset.full_values``), so
    reading it back and holding out the last ``horizon`` points gives the same split. ``ds`` is
    1, 2, ... per series unless ``start`` is given with a calendar frequency (yearly ... hourly),
    then dates from ``start`` at that frequency.
    """
    path = Path(path)
    suffix = path.suffix.lower()
    if suffix not in SUPPORTED_SUFFIXES:
        raise DataError(f"{path}: unsupported file type {suffix or '(none)'}; use .csv or .parquet")
    panel = dataset.panel
    pandas_freq = _PANDAS_FREQ.get(panel.freq)
    if start is not None and pandas_freq is None:
        raise DataError(f"cannot write dates for frequency {panel.freq!r}; omit start to write integer ds")
    parts = []
    has_category = any(panel.categories)
    for uid, cat, values in zip(panel.ids, panel.categories, dataset.full_values()):
        n = len(values)
        ds = (
            pd.date_range(start, periods=n, freq=pandas_freq)
            if start is not None
            else np.arange(1, n + 1, dtype=np.int64)
        )
        part = pd.DataFrame({"unique_id": uid, "ds": ds, "y": np.asarray(values, dtype=np.float64)})
        if has_category:
            part["category"] = cat
        parts.append(part)
    frame = pd.concat(parts, ignore_index=True)
    path.parent.mkdir(parents=True, exist_ok=True)
    if suffix == ".csv":
        frame.to_csv(path, index=False)
    else:
        frame.to_parquet(path, index=False)
    return path


# pandas 3 parses floats exactly by default and deprecates the option; pandas 2 needs it.
_EXACT_FLOATS = {"float_precision": "round_trip"} if int(pd.__version__.split(".")[0]) < 3 else {}


def _read(path: Path) -> pd.DataFrame:
    suffix = path.suffix.lower()
    if suffix not in SUPPORTED_SUFFIXES:
        raise DataError(
            f"{path}: unsupported file type {suffix or '(none)'}; use .csv or .parquet (long format unique_id, ds, y)"
        )
    if not path.exists():
        raise DataError(f"{path}: file not found")
    if not path.is_file():
        raise DataError(f"{path}: not a file")
    try:
        if suffix == ".csv":
            # ds is read as text so that dates and integers are parsed by one rule below. A series
            # id is any text ("NA", "None", "null" are ids, not missing); only an empty one is missing.
            # y is parsed exactly (pandas' default fast parser can be 1 ulp off the written value).
            # Rows with more fields than the header are an error: pandas would otherwise take the
            # first fields as an index and shift every column (index_col=False makes it warn; a
            # trailing comma on every line is still read correctly).
            with warnings.catch_warnings():
                warnings.simplefilter("error", pd.errors.ParserWarning)
                return pd.read_csv(
                    path,
                    dtype={"unique_id": str, "ds": str},
                    keep_default_na=False,
                    na_values={"unique_id": [""], "ds": _CSV_NA, "y": _CSV_NA, "category": _CSV_NA},
                    index_col=False,
                    **_EXACT_FLOATS,
                )
        return pd.read_parquet(path)
    except pd.errors.EmptyDataError:
        raise DataError(f"{path}: file is empty") from None
    except pd.errors.ParserWarning:
        raise DataError(f"{path}: malformed CSV: the rows have more fields than the header") from None
    except pd.errors.ParserError as exc:
        detail = str(exc).strip().splitlines()[-1] if str(exc).strip() else type(exc).__name__
        raise DataError(f"{path}: malformed CSV: {detail}") from None
    except UnicodeDecodeError:
        raise DataError(f"{path}: unreadable: not UTF-8 text") from None
    except OSError as exc:
        raise DataError(f"{path}: unreadable: {exc.strerror or exc}") from None
    except Exception as exc:  # pyarrow raises its own types for corrupt files
        raise DataError(f"{path}: unreadable {suffix[1:]} file: {one_line(exc, limit=200, with_type=True)}") from None


def _as_text(column: pd.Series, name: str, where: str) -> pd.Series:
    """A column as str; bytes (a Parquet binary column) must be UTF-8 text."""
    try:
        return column.astype(str)
    except UnicodeDecodeError:
        raise DataError(f"{where}: {name} holds bytes that are not UTF-8 text") from None


def _numeric_y(column: pd.Series, ids: pd.Series, where: str) -> np.ndarray:
    """y as float64; text that is not a number is an error (a blank cell is NaN, reported later)."""
    if pd.api.types.is_bool_dtype(column):
        raise DataError(f"{where}: y must be numeric, found booleans")
    numeric = pd.to_numeric(column, errors="coerce")
    bad = numeric.isna() & column.notna() & (_as_text(column, "y", where).str.strip() != "")
    if bad.any():
        i = int(np.flatnonzero(bad.to_numpy())[0])
        raise DataError(
            f"{where}: non-numeric y value {str(column.iloc[i])!r} in series {ids.iloc[i]} "
            f"(data row {i + 1}); {int(bad.sum())} such row(s)"
        )
    return numeric.to_numpy(dtype=np.float64)


def _parse_ds(column: pd.Series, ids: pd.Series, where: str) -> pd.Series:
    """Integers stay integers (frequency "other"); anything else must parse as dates."""
    if column.isna().any():
        i = int(np.flatnonzero(column.isna().to_numpy())[0])
        raise DataError(f"{where}: missing ds in series {ids.iloc[i]} (data row {i + 1})")
    if pd.api.types.is_datetime64_any_dtype(column):
        return column.reset_index(drop=True)
    int64 = np.iinfo(np.int64)
    if pd.api.types.is_integer_dtype(column):
        if column.max() > int64.max:  # uint64 beyond int64 would wrap around
            raise DataError(f"{where}: integer ds {column.max()} is out of range (at most {int64.max})")
        return column.astype(np.int64).reset_index(drop=True)
    if pd.api.types.is_float_dtype(column):
        v = column.to_numpy(dtype=np.float64)
        with np.errstate(invalid="ignore"):
            ok = np.isfinite(v) & (np.abs(v) < 2.0**63) & (np.mod(v, 1) == 0)
        if not ok.all():
            i = int(np.flatnonzero(~ok)[0])
            raise DataError(
                f"{where}: ds {float(v[i])!r} in series {ids.iloc[i]} (data row {i + 1}) is not an integer; "
                "ds must be dates or integers"
            )
        return column.astype(np.int64).reset_index(drop=True)
    text = _as_text(column, "ds", where).str.strip()
    if text.str.fullmatch(r"[+-]?\d+").all():
        try:
            return text.astype(np.int64).reset_index(drop=True)
        except (OverflowError, ValueError):
            raise DataError(f"{where}: integer ds out of range (from {int64.min} to {int64.max})") from None
    with warnings.catch_warnings():
        # "Could not infer format" / mixed time zones: the checks below give the verdict
        warnings.simplefilter("ignore")
        try:
            parsed = pd.Series(pd.to_datetime(text))
        except (ValueError, TypeError, OverflowError):
            try:
                parsed = pd.Series(pd.to_datetime(text, errors="coerce", format="mixed"))
            except (ValueError, TypeError, OverflowError) as exc:
                raise DataError(f"{where}: unparseable ds ({exc}); ds must be dates or integers") from None
    bad = parsed.isna()
    if bad.any():
        i = int(np.flatnonzero(bad.to_numpy())[0])
        raise DataError(
            f"{where}: unparseable ds {text.iloc[i]!r} in series {ids.iloc[i]} (data row {i + 1}); "
            "ds must be dates or integers"
        )
    if not pd.api.types.is_datetime64_any_dtype(parsed):
        raise DataError(f"{where}: ds mixes time zones (or dates with and without one); give all ds in one time zone")
    return parsed.reset_index(drop=True)


def _resolve_freq(freq: str | None, stamps: list[pd.Series], where: str) -> str:
    """The explicit frequency (a name in FREQ_DEFAULTS or a pandas alias such as ``MS``), else
    the most common frequency inferred over the series."""
    if freq is not None:
        name = str(freq).lower()
        if name in FREQ_DEFAULTS:
            return name
        mapped = _offset_name(str(freq))
        if mapped is None:
            raise DataError(f"{where}: unknown frequency {freq!r} (use one of {', '.join(FREQ_DEFAULTS)})")
        return mapped
    return infer_frequency(stamps)


def infer_frequency(stamps: list[pd.Series]) -> str:
    """Frequency name from the ``ds`` of each series: ``pd.infer_freq`` where it succeeds, else the
    median spacing (which tolerates a few gaps); the most common answer over series wins, and
    integer or irregular ``ds`` give ``"other"``."""
    votes: Counter[str] = Counter()
    for ds in stamps:
        if not pd.api.types.is_datetime64_any_dtype(ds) or len(ds) < 2:
            votes["other"] += 1
            continue
        name = None
        if len(ds) >= 3:
            try:
                with warnings.catch_warnings():
                    # pandas 3 warns that infer_freq will return an offset instead of a string;
                    # _offset_name accepts either.
                    warnings.simplefilter("ignore")
                    alias = pd.infer_freq(pd.DatetimeIndex(ds))
            except (ValueError, TypeError):
                alias = None
            name = _offset_name(alias) if alias else None
        votes[name or _spacing_name(ds)] += 1
    if not votes:
        return "other"
    return max(votes.items(), key=lambda kv: (kv[1], kv[0] != "other"))[0]


def _offset_name(alias: object) -> str | None:
    try:
        offset = pd.tseries.frequencies.to_offset(alias)
    except (ValueError, TypeError):
        return None
    if offset.n != 1:
        return None
    from pandas.tseries import offsets as o

    kinds = [
        ((o.YearBegin, o.YearEnd, o.BYearBegin, o.BYearEnd), "yearly"),
        ((o.QuarterBegin, o.QuarterEnd, o.BQuarterBegin, o.BQuarterEnd), "quarterly"),
        ((o.MonthBegin, o.MonthEnd, o.BusinessMonthBegin, o.BusinessMonthEnd), "monthly"),
        ((o.Week,), "weekly"),
        ((o.Day,), "daily"),
        ((o.Hour,), "hourly"),
    ]
    for types, name in kinds:
        if isinstance(offset, types):
            return name
    return None


def _spacing_name(ds: pd.Series) -> str:
    days = float(np.median(np.diff(ds.sort_values().to_numpy()).astype("timedelta64[s]").astype(np.int64))) / 86400
    for name, lo, hi in (
        ("hourly", 1 / 24 - 1e-6, 1 / 24 + 1e-6),
        ("daily", 1, 1),
        ("weekly", 7, 7),
        ("monthly", 28, 31),
        ("quarterly", 89, 92),
        ("yearly", 365, 366),
    ):
        if lo - 1e-9 <= days <= hi + 1e-9 and not math.isnan(days):
            return name
    return "other"
