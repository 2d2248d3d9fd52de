"""``sf-autoarima``, ``sf-autoets``, ``sf-autotheta``, ``sf-autoces``: Nixtla statsforecast's
automatic models as local rnnbench models, so a report sets rnnbench's own ``arima`` and
``theta`` beside a widely used implementation, run through the same runner, data, metrics and
timing.

Each model is statsforecast's own method as it ships, with its own defaults: one
``Model(season_length=m, ...).forecast(y=y, h=h, level=levels)`` (the run's interval levels) per series and forecast
origin, exactly what ``StatsForecast(models=[Model(...)], freq=1).forecast(df, h=h,
level=levels)`` computes per series (the tests check it against that oracle). The season length
comes from the task; the options worth comparing are declared parameters (``rnnbench models
sf-autoarima``). No fallback: where statsforecast raises (a series too short for it, no model it
could fit), the series is a failure row with statsforecast's message, as for any model, never a
quiet naive forecast (``StatsForecast(fallback_model=...)`` is not used). What statsforecast does
inside its method stays its own: ``AutoTheta`` switches to additive decomposition on a seasonal
series with values <= 0, ``AutoETS`` leaves multiplicative models out of such series.

The set is the automatic models of the M-competition literature that rnnbench has a counterpart
or a peer for: AutoARIMA (Hyndman & Khandakar 2008; rnnbench's ``arima``), AutoETS (Hyndman et
al. 2008), AutoTheta (Fiorucci et al. 2016; rnnbench's ``theta`` is the standard Theta method)
and AutoCES (Svetunkov & Kourentzes 2015). Naive and seasonal naive are left out (rnnbench's own
are exact by definition: a second implementation compares nothing), and so are TBATS, MSTL and
MFLES (multiple or long seasonalities, which the M-competition data do not have).

statsforecast is an optional extra (``pip install 'rnnbench[statsforecast]'``). Without it, or
with a version before 2.0, this module still imports and registers the four names as
:class:`harness.Unavailable` with the reason and the extra, so ``--models sf-autoets`` fails
with one line saying what to install and ``rnnbench models`` lists them as unavailable.

Timing: statsforecast 2.x computes in its compiled C++ extension; it has no numba JIT (1.x
had, which is why versions before 2.0 are refused), so ``NIXTLA_NUMBA_CACHE`` means nothing to
it and is not set, and there is no compilation to keep out of the timed fit. Its one first-use
cost, importing it (~1.4 s), is paid when the model is built, outside the time limits (as
``arima`` imports statsmodels), and the runner's untimed first fit per process covers anything
lazy after that.
"""

from __future__ import annotations

import importlib.metadata
import importlib.util
import re
from collections.abc import Callable
from typing import Any, ClassVar

import numpy as np

import harness

__all__ = [
    "MODELS",
    "STATSFORECAST_MISSING",
    "SfAutoARIMA",
    "SfAutoCES",
    "SfAutoETS",
    "SfAutoTheta",
    "from_statsforecast",
    "unavailable",
]

#: The extra that installs statsforecast, named in every "not available" line.
INSTALL = "pip install 'rnnbench[statsforecast]'"
#: The oldest statsforecast these models accept: 2.0 replaced numba (compiled on first use in
#: every process, seconds that would land in someone's timing) with a compiled extension.
MIN_VERSION = (2, 0)
STATSFORECAST_MISSING = harness.Unavailable("statsforecast is not installed", install=INSTALL)


class _StatsForecastModel(harness.LocalForecaster):
    """One statsforecast model class, built once per rnnbench model with the task's season length
    and the declared options (:meth:`options`, named as statsforecast names them), and asked for
    each series' forecast."""

    #: the statsforecast class this model runs, by its name in ``statsforecast.models``
    sf_class: ClassVar[str] = ""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        if self.horizon <= 0:
            raise harness.ModelError(f"model {self.name}: horizon must be positive, got {self.horizon}")
        self.check()
        # imported when built, outside any time limit: an import cut half-way by a limit leaves
        # half-initialised modules behind (see plugins/arima.py), and never at plugin load, so
        # commands that never fit these models stay fast
        import statsforecast.models  # the package, not this module (plugins.statsforecast): absolute imports

        cls = getattr(statsforecast.models, self.sf_class)
        self._model = cls(season_length=self.season_length, **self.options())

    def check(self) -> None:
        """Reject parameter values statsforecast would accept here and fail on at every series
        (a one-line :class:`harness.ModelError`, before anything runs). Default: nothing."""
        return None

    def options(self) -> dict[str, Any]:
        """The statsforecast constructor's keyword arguments: every declared parameter, under the
        name statsforecast gives it."""
        return dict(self.params)

    def fit_predict_one(self, y: np.ndarray) -> harness.Forecast:
        levels = [_sf_level(level) for level in self.levels]  # the run's interval levels
        out = self._model.forecast(y=np.asarray(y, dtype=np.float64), h=self.horizon, level=levels or None)
        return from_statsforecast(out, levels)


def _sf_level(level: float) -> int | float:
    """A level as statsforecast is given it, and so names its columns (``lo-95``, ``lo-97.5``)."""
    return int(level) if float(level).is_integer() else float(level)


def from_statsforecast(out: dict[str, np.ndarray], levels: list[int | float]) -> harness.Forecast:
    """A statsforecast ``forecast`` result (``mean``, ``lo-95``, ``hi-95``, ..., keyed by each level
    as it was passed) as a :class:`harness.Forecast` with its central intervals at ``levels``
    percent. The one place that reads statsforecast's intervals."""
    mean = np.asarray(out["mean"], dtype=float)
    intervals = {
        float(level): (np.asarray(out[f"lo-{level}"], dtype=float), np.asarray(out[f"hi-{level}"], dtype=float))
        for level in levels
    }
    return harness.Forecast(mean=mean, intervals=intervals)


class SfAutoARIMA(_StatsForecastModel):
    """statsforecast's ``AutoARIMA``: Hyndman & Khandakar's stepwise auto.arima, a port of R's
    ``forecast::auto.arima`` (rnnbench's ``arima`` follows the same procedure on statsmodels;
    its defaults differ in ``approximation``, True there)."""

    name: ClassVar[str] = "sf-autoarima"
    family: ClassVar[str] = "arima"
    sf_class: ClassVar[str] = "AutoARIMA"
    approximation: bool = harness.param(
        False, "compare candidate orders by conditional sum of squares, refit the chosen one by ML"
    )
    stepwise: bool = harness.param(True, "stepwise order search (false: every order up to max_order)")
    ic: str = harness.param("aicc", "information criterion of the order search", choices=("aic", "aicc", "bic"))
    seasonal: bool = harness.param(True, "consider seasonal orders (false: non-seasonal models only)")


_ETS_MODEL = re.compile(r"[AMZ][NAMZ][NAMZ]")


class SfAutoETS(_StatsForecastModel):
    """statsforecast's ``AutoETS``: exponential smoothing state space models chosen by AICc,
    a port of R's ``forecast::ets``."""

    name: ClassVar[str] = "sf-autoets"
    family: ClassVar[str] = "ets"
    sf_class: ClassVar[str] = "AutoETS"
    model: str = harness.param(
        "ZZZ", "error, trend and season: A additive, M multiplicative, N none, Z chosen (e.g. ZZZ, AAN, MZM)"
    )
    damped: bool | None = harness.param(None, "damped trend (null: chosen)", type=bool)

    def check(self) -> None:
        if not _ETS_MODEL.fullmatch(self.model):  # statsforecast would fail each series on it
            raise harness.ModelError(
                f"model {self.name}: model must be 3 letters: error A/M/Z, trend and season N/A/M/Z, got {self.model!r}"
            )


class SfAutoTheta(_StatsForecastModel):
    """statsforecast's ``AutoTheta``: the standard, optimised, dynamic and dynamic optimised Theta
    models of Fiorucci et al. (2016), the best by in-sample MSE, on the series deseasonalised when
    its 90% autocorrelation test finds seasonality."""

    name: ClassVar[str] = "sf-autotheta"
    family: ClassVar[str] = "theta"
    sf_class: ClassVar[str] = "AutoTheta"
    model: str | None = harness.param(
        None, "STM, OTM, DSTM or DOTM (null: the best of the four)", type=str, choices=("STM", "OTM", "DSTM", "DOTM")
    )
    decomposition_type: str = harness.param(
        "multiplicative", "seasonal decomposition", choices=("multiplicative", "additive")
    )


class SfAutoCES(_StatsForecastModel):
    """statsforecast's ``AutoCES``: complex exponential smoothing (Svetunkov & Kourentzes), the
    seasonal form chosen by AICc. An exponential smoothing state space model, hence family ets."""

    name: ClassVar[str] = "sf-autoces"
    family: ClassVar[str] = "ets"
    sf_class: ClassVar[str] = "AutoCES"
    model: str = harness.param(
        "Z", "N simple, S simple seasonal, P partial, F full seasonality, Z chosen", choices=("N", "S", "P", "F", "Z")
    )


MODELS: tuple[type[_StatsForecastModel], ...] = (SfAutoARIMA, SfAutoETS, SfAutoTheta, SfAutoCES)


def unavailable() -> harness.Unavailable | None:
    """Why these models cannot run here (statsforecast missing or older than 2.0), or None.
    ``find_spec`` and the installed version, not an import: importing statsforecast costs over a
    second in every process of every command, most of which never use it."""
    if importlib.util.find_spec("statsforecast") is None:
        return STATSFORECAST_MISSING
    try:
        version = importlib.metadata.version("statsforecast")
    except importlib.metadata.PackageNotFoundError:  # importable but not installed: a checkout
        return None
    release = tuple(int(part) for part in re.findall(r"\d+", version)[:2])
    if release < MIN_VERSION:
        return harness.Unavailable(f"statsforecast {version} is older than 2.0", install=INSTALL)
    return None


@harness.hookimpl
def register_models(register: Callable[..., Any]) -> None:
    """Register the four sf-* models, or their names as unavailable without statsforecast."""
    missing = unavailable()
    for cls in MODELS:
        if missing is None:
            register(cls)
        else:
            register(missing, name=cls.name)
