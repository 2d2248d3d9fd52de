"""Monash ``.tsf`` files (the Monash Time Series Forecasting Archive's format), read into a
:class:`Dataset`.

The archive (Godahewa et al. 2021, forecastingdata.org) ships every dataset as one ``.tsf`` text
file: a header of ``@`` lines, then one series per line::

    # comments start with '#'
    @relation tourism
    @attribute series_name string
    @attribute start_timestamp date
    @frequency monthly
    @horizon 24
    @missing false
    @equallength false
    @data
    T1:1979-01-01 00-00-00:1149.87,1053.8,1388.88,...

A row holds one value per ``@attribute`` (``string``, ``numeric``, or ``date`` written
``YYYY-MM-DD HH-MM-SS``), each followed by ``:``, then the series' values separated by ``,``,
``?`` for a missing one. This reader follows the archive's own loader
(``convert_tsf_to_dataframe`` in rakshitha123/TSForecasting) but is strict where that loader is
lenient, because a benchmark on a misread file is worse than no benchmark: every problem is one
:class:`DataError` naming the file, the line and the series, never a value silently dropped.

What the harness takes from the header:

- ``@frequency`` sets the season length (:func:`season_length_of`): the archive's own seasonality
  for yearly (1), quarterly (4), monthly (12) and daily (7); sub-daily frequencies take the daily
  cycle (hourly 24, half_hourly 48, ``10_minutes`` 144, minutely 1440, ``4_seconds`` 21600, any
  ``N_seconds|minutes|hours`` that divides a day). Weekly is 1, not the archive's 365.25/7: a
  season length must be a whole number of periods, a 52-week season drifts by a day and a quarter
  a year, most weekly series of the archive are shorter than the three years the M4 seasonality
  test needs, and it is the M4 convention (and ``harness.files``'s). ``season_length`` overrides.
- ``@horizon`` is the task horizon unless one is given (``--horizon``, a suite's ``horizon``);
  with neither, loading fails with one line saying how to give one.
- ``@missing``: ``?`` is an error unless the header says ``@missing true``, and even then the
  harness refuses the file, naming a series and the count: its models need complete series, and
  filling the gaps is a modelling choice (the archive publishes most such datasets again "without
  missing values", filled by its authors) that the harness will not make quietly.
- ``@equallength true`` is checked: series of different lengths are an error.
- The first ``string`` attribute names the series (``unique_id``); names must be unique. A
  ``start_timestamp`` date attribute gives each series' first date (``meta["first_ds"]``); other
  attributes are read, checked and otherwise ignored.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

import numpy as np

from harness.data import Dataset, Panel
from harness.errors import DataError, did_you_mean

TSF_SUFFIX = ".tsf"
ATTRIBUTE_TYPES: tuple[str, ...] = ("string", "numeric", "date")
#: How the archive writes a ``date`` attribute (dashes, not colons: ``:`` separates the fields).
TSF_DATE_FORMAT = "%Y-%m-%d %H-%M-%S"
HEADER_TAGS: tuple[str, ...] = (
    "@relation",
    "@attribute",
    "@frequency",
    "@horizon",
    "@missing",
    "@equallength",
    "@data",
)

#: Calendar frequencies -> season length (see the module docstring for weekly).
CALENDAR_SEASONS: dict[str, int] = {"yearly": 1, "quarterly": 4, "monthly": 12, "weekly": 1, "daily": 7}
#: Sub-daily frequency words -> seconds per period; their season is the daily cycle.
_SUBDAILY_WORDS: dict[str, int] = {"hourly": 3600, "half_hourly": 1800, "minutely": 60}
_UNIT_SECONDS: dict[str, int] = {"second": 1, "minute": 60, "hour": 3600}
_MULTIPLE = re.compile(r"(?P<n>[1-9][0-9]*)_(?P<unit>seconds?|minutes?|hours?)")
_DAY = 86400


def season_length_of(frequency: str) -> int | None:
    """The season length of a ``.tsf`` ``@frequency``: the calendar ones by
    :data:`CALENDAR_SEASONS`, sub-daily ones (``hourly``, ``half_hourly``, ``minutely``,
    ``10_minutes``, ``4_seconds``, ``2_hours``, ...) the number of periods in a day. None for a
    frequency the archive does not use, or a multiple whose period does not divide a day."""
    name = frequency.lower()
    if name in CALENDAR_SEASONS:
        return CALENDAR_SEASONS[name]
    seconds = _SUBDAILY_WORDS.get(name)
    match = _MULTIPLE.fullmatch(name)
    if match:
        seconds = int(match["n"]) * _UNIT_SECONDS[match["unit"].rstrip("s")]
    if seconds is None or seconds > _DAY or _DAY % seconds:
        return None
    return _DAY // seconds


@dataclass
class TsfFile:
    """A ``.tsf`` file as written: header facts and, per series, its attribute values (text) and
    values (NaN where the file has ``?``), in file order."""

    path: Path
    relation: str = ""
    attributes: list[tuple[str, str]] = field(default_factory=list)
    frequency: str | None = None
    horizon: int | None = None
    missing: bool | None = None
    equallength: bool | None = None
    rows: list[tuple[int, list[str], np.ndarray]] = field(default_factory=list)  # (line, attributes, values)


def read_tsf(path: str | Path) -> TsfFile:
    """Parse a ``.tsf`` file, checking its syntax (not yet what the harness needs of it).

    :raises DataError: one line naming the file and, where there is one, the line.
    """
    path = Path(path)
    out = TsfFile(path)
    lines = _text(path).splitlines()
    if not any(line.strip() and not line.strip().startswith("#") for line in lines):
        raise DataError(f"{path}: file is empty (comments at most)")
    in_data = False
    for number, raw in enumerate(lines, start=1):
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        where = f"{path}: line {number}"
        if line.startswith("@"):
            if in_data:
                raise DataError(f"{where}: header line {line.split()[0]!r} after @data")
            in_data = _header(out, line, where)
            continue
        if not in_data:
            raise DataError(f"{where}: series data before the @data line (is @data missing?)")
        out.rows.append(_row(out, line, number, where))
    if not in_data:
        raise DataError(f"{path}: no @data line (the header ends with @data, then one series per line)")
    if not out.rows:
        raise DataError(f"{path}: no series after @data")
    return out


def load_tsf(
    path: str | Path,
    *,
    horizon: int | None = None,
    season_length: int | None = None,
    name: str | None = None,
    default_horizon: int | None = None,
) -> Dataset:
    """Read a ``.tsf`` file into a :class:`Dataset` (no official test: the holdout is the last
    ``horizon`` values). ``horizon`` and ``season_length`` override the file's; ``default_horizon``
    is used when neither ``horizon`` nor an ``@horizon`` line gives one (a loader that knows the
    archive's horizon for a file without ``@horizon``). ``name`` defaults to the file name
    without ``.tsf``.

    :raises DataError: one line naming the file and the problem.
    """
    tsf = read_tsf(path)
    path = tsf.path
    ids, values, first_ds = _series(tsf)
    h = horizon or tsf.horizon or default_horizon
    if h is None:
        raise DataError(
            f"{path}: no @horizon line and no horizon given; add '@horizon N' to the header, or give --horizon N "
            f'(in a suite: {{name = "{path}", horizon = N}})'
        )
    freq = tsf.frequency
    if season_length is None:
        if freq is None:
            raise DataError(f"{path}: no @frequency line; add one (e.g. '@frequency monthly') or give season_length")
        season_length = season_length_of(freq)
        if season_length is None:
            known = [*CALENDAR_SEASONS, *_SUBDAILY_WORDS, "N_seconds", "N_minutes", "N_hours"]
            hint = did_you_mean(freq, [*CALENDAR_SEASONS, *_SUBDAILY_WORDS])
            raise DataError(
                f"{path}: unknown frequency {freq!r}{'; ' + hint if hint else ''} (known: {', '.join(known)}, "
                "N dividing a day; or give season_length)"
            )
    panel = Panel(
        ids=tuple(ids), values=tuple(values), freq=(freq or "other").lower(), season_length=season_length, horizon=h
    )
    meta: dict = {"file": str(path), "relation": tsf.relation}
    if first_ds is not None:
        meta["first_ds"] = first_ds
    return Dataset(
        name=name or path.stem,
        panel=panel,
        test=None,
        description=f"{path.name}: {len(ids)} series, {panel.freq}, h={h}, m={season_length}",
        source=str(path),
        meta=meta,
    )


def _text(path: Path) -> str:
    """The file as text: UTF-8, else cp1252 (the encoding the archive's own loader reads with)."""
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        raise DataError(f"{path}: file not found") from None
    except IsADirectoryError:
        raise DataError(f"{path}: not a file") from None
    except OSError as exc:
        raise DataError(f"{path}: unreadable: {exc.strerror or exc}") from None
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError:
        pass
    try:
        return data.decode("cp1252")
    except UnicodeDecodeError:
        raise DataError(f"{path}: unreadable: not text (neither UTF-8 nor cp1252)") from None


def _header(out: TsfFile, line: str, where: str) -> bool:
    """Record one ``@`` line; True when it is ``@data``."""
    parts = line.split()
    tag = parts[0].lower()
    if tag not in HEADER_TAGS:
        hint = did_you_mean(tag, HEADER_TAGS)
        raise DataError(f"{where}: unknown header line {parts[0]!r}{'; ' + hint if hint else ''}")
    if tag == "@data":
        if len(parts) != 1:
            raise DataError(f"{where}: @data stands alone on its line; the series follow, one per line")
        if not out.attributes:
            raise DataError(f"{where}: no @attribute before @data (the first string attribute names the series)")
        return True
    if tag == "@attribute":
        if len(parts) != 3:
            raise DataError(f"{where}: expected '@attribute NAME TYPE', got {line!r}")
        name, kind = parts[1], parts[2].lower()
        if kind not in ATTRIBUTE_TYPES:
            raise DataError(
                f"{where}: unknown attribute type {parts[2]!r} for attribute {name!r} (known: {', '.join(ATTRIBUTE_TYPES)})"
            )
        if any(name == known for known, _ in out.attributes):
            raise DataError(f"{where}: attribute {name!r} is declared twice")
        out.attributes.append((name, kind))
        return False
    if tag == "@relation":
        out.relation = " ".join(parts[1:])
        return False
    if len(parts) != 2:
        raise DataError(f"{where}: expected '{tag} VALUE', got {line!r}")
    value = parts[1]
    if tag == "@frequency":
        out.frequency = value
    elif tag == "@horizon":
        if not value.isdigit() or int(value) <= 0:
            raise DataError(f"{where}: @horizon must be a positive integer, got {value!r}")
        out.horizon = int(value)
    else:
        if value.lower() not in ("true", "false"):
            raise DataError(f"{where}: {tag} must be true or false, got {value!r}")
        setattr(out, tag[1:], value.lower() == "true")
    return False


def _row(tsf: TsfFile, line: str, number: int, where: str) -> tuple[int, list[str], np.ndarray]:
    """One series line: its attribute values (checked against their types) and its values."""
    fields = line.split(":")
    n_attr = len(tsf.attributes)
    if len(fields) != n_attr + 1:
        names = ", ".join(name for name, _ in tsf.attributes)
        raise DataError(
            f"{where}: {len(fields) - 1} attribute value(s) before the series values, the header declares "
            f"{n_attr} ({names}); a row is {':'.join(['VALUE'] * n_attr)}:v1,v2,..."
        )
    attrs = [f.strip() for f in fields[:-1]]
    label = _label(tsf, attrs)
    for (name, kind), value in zip(tsf.attributes, attrs):
        _check_attribute(name, kind, value, where)
    texts = [t.strip() for t in fields[-1].split(",")]
    values = np.empty(len(texts), dtype=np.float64)
    for i, text in enumerate(texts):
        if text == "?":
            values[i] = np.nan
            continue
        try:
            values[i] = float(text)
        except ValueError:
            raise DataError(f"{where}: series {label}: non-numeric value {text!r} (value {i + 1})") from None
        if not math.isfinite(values[i]):
            raise DataError(f"{where}: series {label}: value {i + 1} is {text!r}; write a missing value as '?'")
    return number, attrs, values


def _label(tsf: TsfFile, attrs: list[str]) -> str:
    """How a row is named in messages: its series name (the first string attribute)."""
    for (_name, kind), value in zip(tsf.attributes, attrs):
        if kind == "string":
            return value
    return "?"


def _check_attribute(name: str, kind: str, value: str, where: str) -> None:
    if kind == "numeric":
        try:
            if math.isfinite(float(value)):
                return
        except ValueError:
            pass
        raise DataError(f"{where}: attribute {name} (numeric) has value {value!r}, not a finite number")
    if kind == "date":
        try:
            datetime.strptime(value, TSF_DATE_FORMAT)
        except ValueError:
            raise DataError(
                f"{where}: attribute {name} (date) has value {value!r}, not a date written YYYY-MM-DD HH-MM-SS"
            ) from None
    elif not value:
        raise DataError(f"{where}: attribute {name} (string) is empty")


def _series(tsf: TsfFile) -> tuple[list[str], list[np.ndarray], list[str] | None]:
    """Ids, values and first dates of a parsed file, with what the harness needs checked: named,
    unique, complete series (``?`` only under ``@missing true``, and refused even then), of equal
    length where the header says so."""
    path = tsf.path
    kinds = [kind for _, kind in tsf.attributes]
    if "string" not in kinds:
        raise DataError(
            f"{path}: no string attribute to name the series; declare one first (@attribute series_name string)"
        )
    key = kinds.index("string")
    stamp = next((i for i, (n, k) in enumerate(tsf.attributes) if n == "start_timestamp" and k == "date"), None)
    seen: dict[str, int] = {}
    gaps: dict[str, int] = {}
    ids, values, first_ds = [], [], []
    for number, attrs, v in tsf.rows:
        uid = attrs[key]
        if uid in seen:
            raise DataError(f"{path}: series name {uid!r} appears twice (lines {seen[uid]} and {number})")
        seen[uid] = number
        n_missing = int(np.isnan(v).sum())
        if n_missing and not tsf.missing:
            raise DataError(
                f"{path}: line {number}: series {uid} has {n_missing} missing value(s) ('?') but the header "
                f"{'says @missing false' if tsf.missing is False else 'has no @missing true'}"
            )
        if n_missing:
            gaps[uid] = n_missing
        ids.append(uid)
        values.append(v)
        if stamp is not None:
            first_ds.append(datetime.strptime(attrs[stamp], TSF_DATE_FORMAT).isoformat(sep=" "))
    if gaps:
        uid, count = next(iter(gaps.items()))
        more = f" ({len(gaps) - 1} more series have some)" if len(gaps) > 1 else ""
        raise DataError(
            f"{path}: series {uid} has {count} missing value(s) ('?'){more}; the models need complete series: "
            "fill or drop them first (the Monash archive also publishes its datasets without missing values)"
        )
    lengths = {len(v) for v in values}
    if tsf.equallength and len(lengths) > 1:
        short = min(range(len(values)), key=lambda i: len(values[i]))
        raise DataError(
            f"{path}: @equallength true but series have {min(lengths)} to {max(lengths)} values "
            f"(series {ids[short]} has {len(values[short])})"
        )
    return ids, values, (first_ds if stamp is not None else None)
