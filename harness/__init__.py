"""rnnbench core: the public face that plugins and notebooks import.

Plugins use only the names exported here, never the modules behind them, so the core can
change without breaking them. A notebook runs a benchmark with :func:`run` and reads one back
with :func:`load_run` (both return a :class:`Run`).

Every name is imported on first use (PEP 562 ``__getattr__``), not when ``harness`` is: the
modules behind the face import numpy and pandas, and ``rnnbench --help`` or ``rnnbench models``
(which import ``harness`` through the command and each plugin) must not pay ~0.3 s for pandas
they never use. ``tests/test_api.py`` checks that ``import harness.cli`` and loading the model
registry leave pandas, torch, scipy and statsmodels unimported.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from harness.errors import BadInput, DataError, ModelError, OptionError, PluginError, StoreError, StudyError, SuiteError

# What the lazy names are, for type checkers and readers; run, load_run and Run (harness.api) are
# left out: every core module imports this package, and tests/test_layering.py reads these lines
# as imports, so naming the drivers here would make the store seem to import the runner.
if TYPE_CHECKING:
    from harness import windows
    from harness.data import Dataset, Panel
    from harness.downloads import cache_path, cached_file
    from harness.hookspecs import Unavailable, hookimpl
    from harness.models import Forecast, Forecaster, LocalForecaster
    from harness.neural import WindowForecaster
    from harness.params import Param, param
    from harness.seasonality import deseasonalize_if_seasonal, unadjusted_reason
    from harness.training import TrainingLog, UpdateBudget
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
    "Run",
    "StoreError",
    "StudyError",
    "SuiteError",
    "Panel",
    "TrainingLog",
    "UpdateBudget",
    "cache_path",
    "cached_file",
    "load_tsf",
    "deseasonalize_if_seasonal",
    "load_run",
    "run",
    "unadjusted_reason",
    "Param",
    "hookimpl",
    "param",
    "Unavailable",
    "windows",
    "WindowForecaster",
    "__version__",
]

#: Each lazy public name -> the module that defines it (``windows`` is that module itself).
_LAZY: dict[str, str] = {
    "Dataset": "harness.data",
    "Panel": "harness.data",
    "Forecast": "harness.models",
    "Forecaster": "harness.models",
    "LocalForecaster": "harness.models",
    "Param": "harness.params",
    "param": "harness.params",
    "Run": "harness.api",
    "load_run": "harness.api",
    "run": "harness.api",
    "Unavailable": "harness.hookspecs",
    "hookimpl": "harness.hookspecs",
    "TrainingLog": "harness.training",
    "UpdateBudget": "harness.training",
    "WindowForecaster": "harness.neural",
    "deseasonalize_if_seasonal": "harness.seasonality",
    "unadjusted_reason": "harness.seasonality",
    "windows": "harness.windows",
    "cache_path": "harness.downloads",
    "cached_file": "harness.downloads",
    "load_tsf": "harness.tsf",
}


def __getattr__(name: str) -> Any:
    """A public name, imported from its module on first use and kept (PEP 562)."""
    where = _LAZY.get(name)
    if where is None:
        raise AttributeError(f"module 'harness' has no attribute {name!r}")
    module = importlib.import_module(where)
    value = module if name == "windows" else getattr(module, name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))
