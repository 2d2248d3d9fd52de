"""rnnbench core: the public face that plugins import.

Plugins use only the names exported here, never the modules behind them, so the core can
change without breaking them.
"""

from harness import windows
from harness.data import DataError, Dataset, Panel
from harness.hookspecs import hookimpl
from harness.models import Forecast, Forecaster, LocalForecaster, ModelError
from harness.neural import WindowForecaster
from harness.params import Param, param

__version__ = "0.1.0"

__all__ = [
    "Dataset",
    "DataError",
    "Forecast",
    "Forecaster",
    "LocalForecaster",
    "ModelError",
    "Panel",
    "Param",
    "hookimpl",
    "param",
    "windows",
    "WindowForecaster",
    "__version__",
]
