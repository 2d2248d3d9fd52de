"""rnnbench core: the public face that plugins import.

Plugins use only the names exported here, never the modules behind them, so the core can
change without breaking them.
"""

from harness import windows
from harness.data import Dataset, Panel
from harness.downloads import cache_path, cached_file
from harness.errors import BadInput, DataError, ModelError, OptionError, PluginError, StoreError, StudyError, SuiteError
from harness.hookspecs import Unavailable, hookimpl
from harness.models import Forecast, Forecaster, LocalForecaster
from harness.neural import WindowForecaster
from harness.params import Param, param
from harness.seasonality import deseasonalize_if_seasonal, unadjusted_reason
from harness.tsf import load_tsf

__version__ = "0.1.0"

__all__ = [
    "BadInput",
    "Dataset",
    "DataError",
    "Forecast",
    "Forecaster",
    "LocalForecaster",
    "ModelError",
    "OptionError",
    "PluginError",
    "StoreError",
    "StudyError",
    "SuiteError",
    "Panel",
    "cache_path",
    "cached_file",
    "load_tsf",
    "deseasonalize_if_seasonal",
    "unadjusted_reason",
    "Param",
    "hookimpl",
    "param",
    "Unavailable",
    "windows",
    "WindowForecaster",
    "__version__",
]
