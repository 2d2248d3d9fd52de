"""User data files in long format (``unique_id, ds, y``, as in statsforecast), read and written.

A benchmark on someone's own data is only as good as the file it reads, so the loader checks
everything a forecast needs and stops at the first problem with one line that names the problem
and the file (a :class:`DataError`), instead of letting a NaN or a duplicated date surface later
as a strange metric. Frequency is inferred from ``ds`` when not given, and the horizon and season
length default to the M4 conventions for that frequency; explicit arguments always win.

Dates are never guessed (see :func:`parse_dates`): ISO 8601 and formats whose day/month order the
file itself settles parse; an ambiguous or mixed format is an error that asks for an explicit
``date_format`` (``--date-format``, or the suite key), which is then applied strictly. Every
series must have one value per period of one frequency shared by the whole file: a missing period
(a gap), two values in one period or series of different frequencies are errors naming the
series and the dates.

An optional ``category`` column is kept as the series category (used in per-category reports and
by ``Dataset.sample``); other extra columns are ignored.
"""

from __future__ import annotations

import math
import re
import warnings
from collections import Counter
from pathlib import Path

import numpy as np
import pandas as pd

from harness.data import Dataset, Panel
from harness.errors import DataError, one_line
from harness.tasks import MIN_CONTEXT
from harness.tsf import TSF_SUFFIX

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
    than a registered dataset: a long-format file or a Monash ``.tsf`` (:mod:`harness.tsf`)."""
    return Path(name).suffix.lower() in (*SUPPORTED_SUFFIXES, TSF_SUFFIX) or "/" in name or "\\" in name


def is_long_file(name: str) -> bool:
    """Whether a data file is in long format (read by :func:`load_long_file`), not a ``.tsf``."""
    return is_data_file(name) and Path(name).suffix.lower() != TSF_SUFFIX


def load_long_file(
    path: str | Path,
    *,
    horizon: int | None = None,
    season_length: int | None = None,
    freq: str | None = None,
    date_format: str | None = None,
) -> Dataset:
    """Read a ``.csv`` or ``.parquet`` file in long format into a :class:`Dataset`.

    Series keep the order of their first appearance in the file and are sorted by ``ds`` within
    each series. ``ds`` may be dates/timestamps or integers (integers mean frequency ``"other"``);
    text dates are read by :func:`parse_dates` (``date_format``: an strptime format such as
    ``%d/%m/%Y``, applied strictly, also to digits such as ``20200131`` with ``%Y%m%d``). Dated
    series must be regular (:func:`check_regular`) and, unless ``freq`` is given, of one frequency.
    Each series needs at least ``horizon + MIN_CONTEXT`` points (``MIN_CONTEXT`` = 3 values before
    the forecast origin, the rule of :meth:`harness.tasks.Task.validate`).

    :raises DataError: one line naming the problem and the file.
    """
    path = Path(path)
    frame = _read(path)
    where = f"{path}"

    missing = [c for c in REQUIRED_COLUMNS if c not in frame.columns]
    if missing:
        raise DataError(
            f"{where}: missing required column(s) {', '.join(missing)} "
            f"(found: {', '.join(map(str, frame.columns)) or 'none'}; need unique_id, ds, y){_separator_hint(frame.columns)}"
        )
    if len(frame) == 0:
        raise DataError(f"{where}: file has no rows")
    if date_format is not None and (not isinstance(date_format, str) or "%" not in date_format):
        raise DataError(f"{where}: date format {date_format!r} has no % directive; give one such as %d/%m/%Y")

    if frame["unique_id"].isna().any():
        row = int(np.flatnonzero(frame["unique_id"].isna().to_numpy())[0])
        raise DataError(f"{where}: empty unique_id in data row {row + 1}")
    ids = _as_text(frame["unique_id"], "unique_id", where)
    if (ids == "").any():  # an empty name is no name: pandas 2 and 3 also group it differently
        row = int(np.flatnonzero((ids == "").to_numpy())[0])
        raise DataError(f"{where}: empty unique_id in data row {row + 1}")
    y = _numeric_y(frame["y"], ids, where)
    ds = _parse_ds(frame["ds"], ids, where, date_format)

    bad = ~np.isfinite(y)
    if bad.any():
        _check_overflow(path, bad, ids, where)
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

    names = {uid: series_frequency(groups[uid]["ds"]) for uid in order}
    if freq is None:
        _check_one_frequency(order, groups, names, where)
    _check_all_regular(data, order, groups, names, where)
    freq_name = _resolve_freq(freq, list(names.values()), where)
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
        if len(g) < h + MIN_CONTEXT:
            raise DataError(
                f"{where}: series {uid} is too short: {len(g)} points, needs at least {h + MIN_CONTEXT} "
                f"for horizon {h} (horizon + {MIN_CONTEXT}: {MIN_CONTEXT} values before the forecast origin)"
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
        raise DataError(f"{path}: malformed CSV: {_more_fields(path)}") from None
    except pd.errors.ParserError as exc:
        detail = str(exc).strip().splitlines()[-1] if str(exc).strip() else type(exc).__name__
        raise DataError(f"{path}: malformed CSV: {detail}{_separator_hint(pd.Index(_csv_header(path)))}") from None
    except UnicodeDecodeError:
        raise DataError(f"{path}: unreadable: not UTF-8 text") from None
    except OSError as exc:
        raise DataError(f"{path}: unreadable: {exc.strerror or exc}") from None
    except Exception as exc:  # pyarrow raises its own types for corrupt files
        raise DataError(f"{path}: unreadable {suffix[1:]} file: {one_line(exc, limit=200, with_type=True)}") from None


_DECIMAL_COMMA = re.compile(r"[+-]?\d+,\d+([eE][+-]?\d+)?")
_SEPARATORS = {";": "';'", "\t": "a tab", "|": "'|'"}
_FIX_CSV = (
    "rnnbench reads comma-separated files with '.' as the decimal point: write the file with sep=',' and "
    "decimal='.' (pandas: df.to_csv(path, index=False))"
)


def _separator_hint(columns: pd.Index) -> str:
    """Why the header is one column: another separator."""
    if len(columns) == 1:
        for sep, name in _SEPARATORS.items():
            if sep in str(columns[0]):
                return f"; the header is separated by {name}, not ','; {_FIX_CSV}"
    return ""


def _csv_header(path: Path) -> list[str]:
    import csv

    try:
        with path.open(encoding="utf-8", newline="") as handle:
            return next(csv.reader(handle), [])
    except (OSError, UnicodeDecodeError, csv.Error):
        return []


def _more_fields(path: Path) -> str:
    """What a row with more fields than the header most likely is: another separator with decimal
    commas (``a;2020-01-31;1,5``) or decimal commas (``a,2020-01-31,1,5``)."""
    import csv

    try:
        with path.open(encoding="utf-8", newline="") as handle:
            reader = csv.reader(handle)
            header = next(reader, [])
            found = next(((n, row) for n, row in enumerate(reader, start=2) if len(row) > len(header)), None)
        if found is None:
            return "the rows have more fields than the header"
        number, row = found
    except (OSError, UnicodeDecodeError, csv.Error):
        return "the rows have more fields than the header"
    line = ",".join(row)
    hint = _separator_hint(pd.Index(header))
    if hint:
        return f"line {number} {line!r} splits into {len(row)} fields at ',' but the header into {len(header)}{hint}"
    commas = [f"{a},{b}" for a, b in zip(row, row[1:]) if _DECIMAL_COMMA.fullmatch(f"{a},{b}".strip())]
    if commas:
        return (
            f"line {number} {line!r} has {len(row)} fields but the header has {len(header)}: a decimal comma "
            f"({commas[-1]!r})? write decimals with a point ({commas[-1].replace(',', '.')}), or quote the field"
        )
    return f"line {number} has {len(row)} fields but the header has {len(header)} ({', '.join(header)})"


def _check_overflow(path: Path, bad: np.ndarray, ids: pd.Series, where: str) -> None:
    """A y written as a number beyond float64 (``1e309``) reads as infinite: say it overflows."""
    if path.suffix.lower() != ".csv":
        return
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            raw = pd.read_csv(path, dtype=str, keep_default_na=False, index_col=False)["y"]
    except Exception:  # the file read a moment ago; no better message then
        return
    if len(raw) != len(bad):
        return
    for i in np.flatnonzero(bad):
        text = str(raw.iloc[i]).strip()
        try:
            number = float(text)
        except ValueError:
            continue
        _refuse_overflow(text, number, ids.iloc[i], i, where)


def _refuse_overflow(text: str, number: float, uid: object, i: int, where: str) -> None:
    """A number written beyond float64 (``1e309``) is an overflow, not a NaN or a word."""
    if math.isinf(number) and "inf" not in text.lower():
        raise DataError(
            f"{where}: y value {text!r} in series {uid} (data row {i + 1}) overflows a 64-bit float "
            "(magnitude at most 1.8e308); rescale the series"
        )


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
        value = str(column.iloc[i])
        try:  # pandas 2 leaves '1e309' as text where pandas 3 reads inf: the same overflow either way
            number = float(value.strip())
        except ValueError:
            number = math.nan
        _refuse_overflow(value.strip(), number, ids.iloc[i], i, where)
        hint = ""
        if _DECIMAL_COMMA.fullmatch(value.strip()):
            hint = f"; a decimal comma? write decimals with a point ({value.strip().replace(',', '.')})"
        raise DataError(
            f"{where}: non-numeric y value {value!r} in series {ids.iloc[i]} "
            f"(data row {i + 1}); {int(bad.sum())} such row(s){hint}"
        )
    return numeric.to_numpy(dtype=np.float64)


def _parse_ds(column: pd.Series, ids: pd.Series, where: str, date_format: str | None = None) -> pd.Series:
    """Integers stay integers (frequency "other"); anything else must parse as dates
    (:func:`parse_dates`). With ``date_format``, text and integers alike are dates in that format."""
    if column.isna().any():
        i = int(np.flatnonzero(column.isna().to_numpy())[0])
        raise DataError(f"{where}: missing ds in series {ids.iloc[i]} (data row {i + 1})")
    if pd.api.types.is_datetime64_any_dtype(column):
        return column.reset_index(drop=True)
    int64 = np.iinfo(np.int64)
    if pd.api.types.is_integer_dtype(column):
        if column.max() > int64.max:  # uint64 beyond int64 would wrap around
            raise DataError(f"{where}: integer ds {column.max()} is out of range (at most {int64.max})")
        if date_format is not None:
            return parse_dates(column.astype(str), ids, where, date_format)
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
        if date_format is not None:
            return parse_dates(column.astype(np.int64).astype(str), ids, where, date_format)
        return column.astype(np.int64).reset_index(drop=True)
    text = _as_text(column, "ds", where).str.strip()
    if date_format is None and text.str.fullmatch(r"[+-]?\d+").all():
        try:
            return text.astype(np.int64).reset_index(drop=True)
        except (OverflowError, ValueError):
            raise DataError(f"{where}: integer ds out of range (from {int64.min} to {int64.max})") from None
    return parse_dates(text, ids, where, date_format)


def _fix_dates(example: str = "%d/%m/%Y") -> str:
    return (
        f"give the format with --date-format (e.g. --date-format {example}; in a suite, "
        f'{{name = "data.csv", date_format = "{example}"}}) or write ds as ISO 8601 (YYYY-MM-DD)'
    )


def parse_dates(text: pd.Series, ids: pd.Series, where: str, date_format: str | None = None) -> pd.Series:
    """Text dates, never guessed. With ``date_format``: exactly that strptime format, every value
    (one that does not match is an error naming its row). Without: ISO 8601 (``2020-01-31``,
    ``2020-01``, ``2020-01-31 10:00``, ``2020/01/31``; year first is always year-month-day); else
    the format of the first value, which every value must have (mixing formats is an error); where
    that format could be day-first or month-first (``01/02/2020``), the file must settle it - a
    value that only one order reads (a day above 12) - or it is an error asking for the format."""
    text = text.reset_index(drop=True)
    if date_format is not None:
        parsed = _dates(text, where, format=date_format)
        if parsed is None:
            raise DataError(f"{where}: date format {date_format!r} is not a valid strptime format (e.g. %d/%m/%Y)")
        bad = parsed.isna()
        if bad.any():
            i = int(np.flatnonzero(bad.to_numpy())[0])
            raise DataError(
                f"{where}: ds {text.iloc[i]!r} in series {ids.iloc[i]} (data row {i + 1}) does not match the "
                f"date format {date_format!r}; {int(bad.sum())} such row(s)"
            )
        return _one_zone(parsed, where)

    iso = _dates(text, where, format="ISO8601")
    if iso is not None and not iso.isna().any():
        return _one_zone(iso, where)

    first = text.iloc[0]
    formats = _candidate_formats(first)
    if not formats:
        return _dates_without_format(text, ids, where)
    fits = {}
    parses = {}
    for fmt in formats:
        parsed = _dates(text, where, format=fmt)
        if parsed is not None:
            parses[fmt] = parsed
            if not parsed.isna().any():
                fits[fmt] = parsed
    if len(fits) == 1:
        return _one_zone(next(iter(fits.values())), where)
    if len(fits) == 2:
        (f1, p1), (f2, p2) = fits.items()
        if p1.equals(p2):
            return _one_zone(p1, where)
        i = int(np.flatnonzero((p1 != p2).to_numpy())[0])
        day_first, month_first = (f1, f2) if f1.find("%d") < f1.find("%m") else (f2, f1)
        raise DataError(
            f"{where}: ambiguous dates: ds {text.iloc[i]!r} (data row {i + 1}) reads as day-first ({day_first}) "
            f"or month-first ({month_first}) and no ds in the file tells which; {_fix_dates(day_first)}"
        )
    # No format of the first value reads every value: the first value that none reads.
    missed = np.logical_and.reduce([p.isna().to_numpy() for p in parses.values()]) if parses else None
    if missed is None or not missed.any():
        # every value reads in one order or the other, but not all in the same one
        a = int(np.flatnonzero(parses[formats[0]].isna().to_numpy())[0])
        b = int(np.flatnonzero(parses[formats[1]].isna().to_numpy())[0]) if len(formats) > 1 else a
        raise DataError(
            f"{where}: ds mixes day-first and month-first dates ({text.iloc[b]!r} in data row {b + 1}, "
            f"{text.iloc[a]!r} in data row {a + 1}); write every ds in one format: {_fix_dates()}"
        )
    i = int(np.flatnonzero(missed)[0])
    if (
        _dates(text.iloc[[i]], where, format="mixed") is None
        or _dates(text.iloc[[i]], where, format="mixed").isna().any()
    ):
        raise DataError(
            f"{where}: unparseable ds {text.iloc[i]!r} in series {ids.iloc[i]} (data row {i + 1}); "
            "ds must be dates or integers"
        )
    raise DataError(
        f"{where}: ds mixes date formats: {first!r} (data row 1) and {text.iloc[i]!r} (data row {i + 1}); "
        f"write every ds in one format: {_fix_dates()}"
    )


def _candidate_formats(value: str) -> list[str]:
    """The strptime formats a value could be written in: month-first and day-first where both
    read it; year first is year-month-day only (nobody writes year-day-month)."""
    from pandas.tseries.api import guess_datetime_format

    out: list[str] = []
    for dayfirst in (False, True):
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")  # "Parsing dates in %d/%m/%Y format when dayfirst=False"
                fmt = guess_datetime_format(value, dayfirst=dayfirst)
        except (ValueError, TypeError):
            fmt = None
        if fmt is None or fmt in out:
            continue
        year = min((k for k in (fmt.find("%Y"), fmt.find("%y")) if k >= 0), default=-1)
        day, month = fmt.find("%d"), fmt.find("%m")
        if 0 <= year < day < month:
            continue
        out.append(fmt)
    return out


def _dates_without_format(text: pd.Series, ids: pd.Series, where: str) -> pd.Series:
    """Values with no strptime format to check them against (``Jan 2020``, ``01/02/20``): each read
    on its own, accepted only where reading it day-first, month-first or year-first agrees."""
    readings = [
        _dates(text, where, format="mixed"),
        _dates(text, where, format="mixed", dayfirst=True),
        _dates(text, where, format="mixed", yearfirst=True),
    ]
    if any(r is None for r in readings):
        raise DataError(f"{where}: unparseable ds {text.iloc[0]!r}; ds must be dates or integers")
    base = readings[0]
    bad = base.isna()
    if bad.any():
        i = int(np.flatnonzero(bad.to_numpy())[0])
        raise DataError(
            f"{where}: unparseable ds {text.iloc[i]!r} in series {ids.iloc[i]} (data row {i + 1}); "
            "ds must be dates or integers"
        )
    for other in readings[1:]:
        differ = (other != base).to_numpy()
        if differ.any():
            i = int(np.flatnonzero(differ)[0])
            raise DataError(
                f"{where}: ambiguous dates: ds {text.iloc[i]!r} (data row {i + 1}) reads as "
                f"{_stamp(base.iloc[i])} or {_stamp(other.iloc[i])}; {_fix_dates()}"
            )
    return _one_zone(base, where)


def _dates(text: pd.Series, where: str, **kwargs) -> pd.Series | None:
    """``pd.to_datetime`` with NaT for what does not read; None where the format itself is
    invalid. Time zones that differ between values are an error."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            return pd.Series(pd.to_datetime(text, errors="coerce", **kwargs), index=text.index)
        except (ValueError, TypeError, OverflowError) as exc:
            if "timezone" in str(exc).lower() or "time zone" in str(exc).lower():
                raise DataError(
                    f"{where}: ds mixes time zones (or dates with and without one); give all ds in one time zone"
                ) from None
            return None


def _one_zone(parsed: pd.Series, where: str) -> pd.Series:
    if not pd.api.types.is_datetime64_any_dtype(parsed):
        raise DataError(f"{where}: ds mixes time zones (or dates with and without one); give all ds in one time zone")
    return parsed.reset_index(drop=True)


def _stamp(ts: pd.Timestamp) -> str:
    """A date as ISO 8601, without the time at midnight."""
    ts = pd.Timestamp(ts)
    return ts.date().isoformat() if ts == ts.normalize() else ts.isoformat(sep=" ")


# Frequency name -> pandas period code: one value per period.
_PERIODS: dict[str, str] = {"yearly": "Y", "quarterly": "Q", "monthly": "M", "weekly": "W", "daily": "D", "hourly": "h"}
_PERIOD_WORDS: dict[str, str] = {
    "yearly": "year",
    "quarterly": "quarter",
    "monthly": "month",
    "weekly": "week",
    "daily": "day",
    "hourly": "hour",
}


def _ordinals(ds: pd.Series, name: str) -> np.ndarray:
    """The number of the period (of frequency ``name``) each date falls in."""
    stamps = pd.DatetimeIndex(ds)
    if stamps.tz is not None:  # hours count in UTC (no DST jumps), days and longer by the local calendar
        stamps = stamps.tz_convert("UTC").tz_localize(None) if name == "hourly" else stamps.tz_localize(None)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return stamps.to_period(_PERIODS[name]).asi8


def _check_all_regular(data: pd.DataFrame, order: list[str], groups: dict, names: dict, where: str) -> None:
    """:func:`check_regular` for every series, in one pass per frequency (the message comes from
    the first irregular series in file order)."""
    if not pd.api.types.is_datetime64_any_dtype(data["ds"]):
        return
    for name in dict.fromkeys(n for n in names.values() if n in _PERIODS):
        uids = [uid for uid in order if names[uid] == name]
        sub = data[data["unique_id"].isin(uids)]  # sorted by ds, so each series in time order
        steps = pd.Series(_ordinals(sub["ds"], name), index=sub.index).groupby(sub["unique_id"].to_numpy()).diff()
        irregular = set(sub["unique_id"].to_numpy()[(steps.notna() & (steps != 1)).to_numpy()])
        for uid in uids:
            if uid in irregular:
                check_regular(groups[uid]["ds"], uid, where, name)


def check_regular(ds: pd.Series, uid: str, where: str, name: str | None = None) -> None:
    """A dated series (sorted) of a calendar frequency (``name``, else inferred from ``ds``) has
    exactly one value per period: a missing period (a gap) or two values in one period is an
    error naming the series and the dates. Integer ``ds`` and irregular dates (frequency
    ``"other"``) are sequences and not checked."""
    if not pd.api.types.is_datetime64_any_dtype(ds) or len(ds) < 2:
        return
    name = name or series_frequency(ds)
    if name not in _PERIODS:
        return
    steps = np.diff(_ordinals(ds, name))
    word = _PERIOD_WORDS[name]
    if (steps == 0).any():
        i = int(np.flatnonzero(steps == 0)[0])
        raise DataError(
            f"{where}: series {uid} has two values in the same {word}: {_stamp(ds.iloc[i])} and "
            f"{_stamp(ds.iloc[i + 1])} (a {name} series has one value per {word}); "
            "aggregate them or give integer ds 1, 2, 3, ... to read the rows as a plain sequence"
        )
    if (steps > 1).any():
        i = int(np.flatnonzero(steps > 1)[0])
        missing = int(steps[i]) - 1
        raise DataError(
            f"{where}: series {uid} has a gap: no value between {_stamp(ds.iloc[i])} and {_stamp(ds.iloc[i + 1])} "
            f"({missing} {word}(s) missing in a {name} series; {int((steps > 1).sum())} gap(s) in all); "
            "fill the missing periods, or give integer ds 1, 2, 3, ... to read the rows as a plain sequence"
        )


def _check_one_frequency(order: list[str], groups: dict, names: dict, where: str) -> None:
    """Series of one file share one frequency (it sets the horizon and season length of all):
    series whose dates say otherwise are an error naming one of each."""
    seen: dict[str, str] = {}
    for uid in order:
        ds = groups[uid]["ds"]
        if not pd.api.types.is_datetime64_any_dtype(ds) or len(ds) < 3:
            continue
        seen.setdefault(names[uid], uid)
        if len(seen) > 1:
            break
    if len(seen) > 1:
        (f1, a), (f2, b) = list(seen.items())[:2]

        def show(uid: str, name: str) -> str:
            ds = groups[uid]["ds"]
            kind = name if name != "other" else "irregular"
            return f"series {uid} is {kind} ({_stamp(ds.iloc[0])}, {_stamp(ds.iloc[1])}, ...)"

        raise DataError(
            f"{where}: {show(a, f1)} but {show(b, f2)}; one file holds one frequency (it sets the horizon and "
            "season length): put series of each frequency in a file of their own"
        )


def _resolve_freq(freq: str | None, names: list[str], where: str) -> str:
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
    return _vote(names)


def infer_frequency(stamps: list[pd.Series]) -> str:
    """Frequency name from the ``ds`` of each series (:func:`series_frequency`); the most common
    answer over series wins (the loader first requires them to agree)."""
    return _vote([series_frequency(ds) for ds in stamps])


def _vote(names: list[str]) -> str:
    votes = Counter(names)
    if not votes:
        return "other"
    return max(votes.items(), key=lambda kv: (kv[1], kv[0] != "other"))[0]


def series_frequency(ds: pd.Series) -> str:
    """Frequency name of one series' ``ds``: ``pd.infer_freq`` where it succeeds, else the median
    spacing (which tolerates a few gaps, then reported by :func:`check_regular`); integer or
    irregular ``ds`` give ``"other"``."""
    if not pd.api.types.is_datetime64_any_dtype(ds) or len(ds) < 2:
        return "other"
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
    return name or _spacing_name(ds)


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
