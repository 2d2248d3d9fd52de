"""The Python API: ``harness.run(...)`` runs a benchmark and ``harness.load_run(path)`` reads one
back, both as a :class:`Run` whose tables are pandas DataFrames, for notebooks.

``rnnbench run`` is a thin layer over the same function: the command parses its options and
calls :func:`run_benchmark`, which checks the execution options, names the output folder and
calls :func:`harness.execute.execute`; :func:`run` checks its keywords' names and types, turns
them into exactly what the command would pass, and calls :func:`run_benchmark` too. So an option
means the same in both, and bad input is the same one-line :class:`harness.BadInput` the command
prints (exit code 2) - here raised, with nothing written.

A :class:`Run` only reads the run directory: the tables are the files the report is made from
(accuracy.csv, speed.csv, claims/verdicts.csv), so a run loaded now and the same run loaded
next year give equal tables, and nothing is recomputed. ``forecasts`` (forecasts.parquet, one
row per series x step x model x seed, large for big runs) is read on first use.
"""

from __future__ import annotations

import contextlib
import functools
import importlib.util
import io
import json
import os
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

from harness.errors import OptionError, StoreError, did_you_mean
from harness.executors import RunOptions

if TYPE_CHECKING:
    import pandas as pd

    from harness.execute import Outcome
    from harness.plugins import Registry

__all__ = ["RESULTS_DIR", "Run", "load_run", "out_dir", "run", "run_benchmark", "run_options", "split_list"]

#: Where a run without ``out`` / ``--out`` gets a fresh folder (relative to the working directory).
RESULTS_DIR = Path("results")
#: The report's tables a finished run holds, by :class:`Run` attribute.
TABLES = {"accuracy": "accuracy.csv", "speed": "speed.csv", "verdicts": "claims/verdicts.csv"}
REPORT = "report.html"


# --------------------------------------------------------------------------- shared with the CLI


def split_list(text: str) -> list[str]:
    """``"a, b,c"`` -> ``["a", "b", "c"]``: how ``--models``, ``--datasets`` and ``--seeds`` (and
    the API's string values for them) are read."""
    return [v.strip() for v in text.split(",") if v.strip()]


def run_options(
    workers: int | None = None,
    executor: str = "processes",
    scheduler: str | None = None,
    timeout_series: float | None = None,
    timeout_experiment: float | None = None,
    plugins_dir: str | None = None,
    debug: bool = False,
) -> RunOptions:
    """How a run executes (``--workers``, ``--executor``, ``--scheduler``, the time limits), checked:
    a value that cannot work is an :class:`OptionError` before anything is written."""
    if workers is not None and workers < 1:
        raise OptionError(f"--workers must be a positive integer, got {workers}")
    if scheduler and executor != "dask":
        raise OptionError(f"--scheduler needs --executor dask (got --executor {executor})")
    if executor == "dask" and importlib.util.find_spec("distributed") is None:
        raise OptionError("--executor dask needs the dask extra: pip install 'rnnbench[dask]'")
    for name, value in (("--timeout-series", timeout_series), ("--timeout-experiment", timeout_experiment)):
        if value is not None and not value > 0:
            raise OptionError(f"{name} must be a positive number of seconds, got {value:g}")
    return RunOptions(
        executor=executor,
        workers=workers or os.cpu_count() or 1,
        scheduler=scheduler,
        timeout_series=timeout_series,
        timeout_experiment=timeout_experiment,
        plugins_dir=plugins_dir,
        debug=debug,
    )


def out_dir(out: str | None, run_id: str | None, resume: str | None = None) -> str | None:
    """``--out``, or ``results/RUN_ID`` for ``--run-id`` (a plain name, so it cannot lead out of
    results/); both at once, or ``--run-id`` with ``--resume``, is bad input."""
    if run_id is None:
        return out
    if out is not None:
        raise StoreError("--run-id and --out both name the output folder; give one of them")
    if resume is not None:
        raise StoreError("--run-id names a new run; to continue a run give --resume alone")
    from harness.store import run_dir_for  # pandas and pyarrow: only once a run is asked for

    return str(run_dir_for(RESULTS_DIR, run_id))


def run_benchmark(
    registry: Registry,
    options: dict[str, Any],
    *,
    workers: int | None = None,
    executor: str = "processes",
    scheduler: str | None = None,
    timeout_series: float | None = None,
    timeout_experiment: float | None = None,
    plugins_dir: str | None = None,
    debug: bool = False,
    out: str | None = None,
    run_id: str | None = None,
    resume: str | None = None,
    argv: list[str],
    reraise: bool = False,
) -> Outcome:
    """Run (or resume) a benchmark: what ``rnnbench run`` and :func:`run` both do. ``options``
    are :func:`harness.execute.build_config`'s (suite, models, datasets, limit, seeds, horizon,
    date_format, protocol, windows, step, params as ``MODEL.NAME=VALUE`` texts). With
    ``reraise``, a run stopped by an OS error or Ctrl-C raises it (after the same cleanup and
    the line giving the resume command) instead of returning its exit code."""
    from harness.execute import execute  # pandas, the runner and the report: only for a run

    out = out_dir(out, run_id, resume)
    run = run_options(workers, executor, scheduler, timeout_series, timeout_experiment, plugins_dir, debug)
    return execute(
        registry, options, run=run, out=out, resume=resume, results_dir=RESULTS_DIR, argv=argv, reraise=reraise
    )


# --------------------------------------------------------------------------- the API's keywords


def _fail(key: str, expected: str, value: Any) -> OptionError:
    return OptionError(f"{key} must be {expected}, got {value!r}")


def _names(key: str) -> Callable[[Any], list[str]]:
    def check(value: Any) -> list[str]:
        if isinstance(value, (str, os.PathLike)):
            items = split_list(os.fspath(value))
        elif isinstance(value, (list, tuple)) and all(isinstance(v, (str, os.PathLike)) for v in value):
            items = [os.fspath(v).strip() for v in value]
        else:
            raise _fail(key, "a list of names or a comma-separated string", value)
        if not items or not all(items):
            raise _fail(key, "one or more non-empty names", value)
        return items

    return check


def _seeds(value: Any) -> list[int]:
    items = split_list(value) if isinstance(value, str) else value if isinstance(value, (list, tuple)) else [value]
    if isinstance(value, str) and all(v.lstrip("-").isdigit() for v in items):
        items = [int(v) for v in items]
    if not items or not all(isinstance(v, int) and not isinstance(v, bool) for v in items):
        raise _fail("seeds", "an integer, a list of integers or a comma-separated string such as '0,1'", value)
    return list(items)


def _levels(value: Any) -> list[float]:
    """Interval levels in percent: a number, a list of numbers or '80,95'; their range and
    duplicates are checked with the suite's levels (:func:`harness.suite.check_levels`)."""
    items = split_list(value) if isinstance(value, str) else value if isinstance(value, (list, tuple)) else [value]
    try:
        levels = [float(v) for v in items if not isinstance(v, bool)]
    except (TypeError, ValueError):
        levels = []
    if not items or len(levels) != len(items):
        raise _fail("levels", "a number, a list of numbers or a comma-separated string such as '80,95'", value)
    return levels


def _integer(key: str, minimum: int | None = None) -> Callable[[Any], int]:
    def check(value: Any) -> int:
        if not isinstance(value, int) or isinstance(value, bool) or (minimum is not None and value < minimum):
            raise _fail(key, "an integer" if minimum is None else f"an integer >= {minimum}", value)
        return value

    return check


def _seconds(key: str) -> Callable[[Any], float]:
    def check(value: Any) -> float:
        if not isinstance(value, (int, float)) or isinstance(value, bool):
            raise _fail(key, "a number of seconds (inf: no limit)", value)
        return float(value)

    return check


def _text(key: str, choices: tuple[str, ...] = ()) -> Callable[[Any], str]:
    def check(value: Any) -> str:
        if not isinstance(value, str) or (choices and value not in choices):
            raise _fail(key, f"one of {', '.join(choices)}" if choices else "a string", value)
        return value

    return check


def _path(key: str) -> Callable[[Any], str]:
    def check(value: Any) -> str:
        if not isinstance(value, (str, os.PathLike)) or not os.fspath(value):
            raise _fail(key, "a path (str or pathlib.Path)", value)
        return os.fspath(value)

    return check


def _flag(key: str) -> Callable[[Any], bool]:
    def check(value: Any) -> bool:
        if not isinstance(value, bool):
            raise _fail(key, "True or False", value)
        return value

    return check


def _param_value(value: Any) -> str:
    """A parameter value as the text of ``-p MODEL.NAME=TEXT`` that reads back as ``value``
    (:func:`harness.suite.parse_param`): a string that is not JSON as it is, anything else as JSON."""
    if isinstance(value, str):
        try:
            json.loads(value)
        except json.JSONDecodeError:
            return value
    return json.dumps(value, allow_nan=True)


def _params(value: Any) -> list[str]:
    example = "a dict of dicts such as {'arima': {'ic': 'bic'}}"
    if not isinstance(value, Mapping):
        raise _fail("params", example, value)
    texts = []
    for model, values in value.items():
        if not isinstance(model, str) or not isinstance(values, Mapping):
            raise _fail("params", example, value)
        for key, v in values.items():
            if not isinstance(key, str):
                raise _fail("params", example, value)
            try:
                texts.append(f"{model}.{key}={_param_value(v)}")
            except (TypeError, ValueError):
                raise _fail(f"params[{model!r}][{key!r}]", "a number, string, boolean, None or list", v) from None
    return texts


#: run()'s keywords besides models and datasets, each with the check that reads its value.
OPTIONS: dict[str, Callable[[Any], Any]] = {
    "suite": _path("suite"),
    "limit": _integer("limit"),
    "seeds": _seeds,
    "horizon": _integer("horizon"),
    "levels": _levels,
    "date_format": _text("date_format"),
    "protocol": _text("protocol", ("holdout", "rolling")),
    "windows": _integer("windows", minimum=1),
    "step": _integer("step", minimum=1),
    "params": _params,
    "workers": _integer("workers"),
    "executor": _text("executor", ("serial", "processes", "dask")),
    "scheduler": _text("scheduler"),
    "timeout_series": _seconds("timeout_series"),
    "timeout_experiment": _seconds("timeout_experiment"),
    "out": _path("out"),
    "run_id": _text("run_id"),
    "resume": _path("resume"),
    "plugins_dir": _path("plugins_dir"),
    "debug": _flag("debug"),
    "quiet": _flag("quiet"),
}
#: The keywords that become build_config's options; the rest say how and where the run executes.
CONFIG_KEYS = ("suite", "limit", "seeds", "horizon", "levels", "date_format", "protocol", "windows", "step", "params")


def run(models: list[str] | str | None = None, datasets: list[str] | str | None = None, **options: Any) -> Run:
    """Run a benchmark as ``rnnbench run`` does and return it as a :class:`Run`.

    ``models`` and ``datasets`` are lists or comma-separated strings (datasets may be paths of
    long-format .csv/.parquet files); None keeps the suite's. The other keywords are the
    command's options, with ``_`` for ``-``: ``suite``, ``seeds`` (an int, a list or "0,1"),
    ``limit``, ``horizon``, ``levels`` (interval levels in percent, e.g. [80, 95]), ``date_format``, ``protocol`` ("holdout" or "rolling"), ``windows``,
    ``step``, ``params`` (``{"arima": {"ic": "bic"}}``, the ``-p`` values), ``workers``,
    ``executor`` ("serial", "processes" - the default - or "dask"), ``scheduler``,
    ``timeout_series``, ``timeout_experiment``, ``out`` (default: a new folder under
    ``results/``), ``run_id``, ``resume``, ``plugins_dir`` and ``debug``; ``quiet=True`` prints
    nothing (no progress, no summary).

    Bad input - an unknown keyword, a value of the wrong type, an unknown model or dataset, an
    unusable output folder - raises a :class:`harness.BadInput` with the line the command
    prints, before anything is written. A run stopped by Ctrl-C or an output that could not be
    written raises that (``KeyboardInterrupt``, :class:`harness.errors.OutputError`) once it has
    printed how to resume. Series a model failed on do not raise: they are rows of the tables,
    as in the report.
    """
    for key in options:
        if key not in OPTIONS:
            hint = did_you_mean(key, [*OPTIONS, "models", "datasets"])
            raise OptionError(f"run() got an unknown option {key!r}" + (f"; {hint}" if hint else ""))
    given = {key: OPTIONS[key](value) for key, value in options.items() if value is not None}
    config = {key: given.get(key) for key in CONFIG_KEYS}
    config["models"] = None if models is None else _names("models")(models)
    config["datasets"] = None if datasets is None else _names("datasets")(datasets)
    quiet = given.pop("quiet", False)
    execution = {key: value for key, value in given.items() if key not in CONFIG_KEYS}
    argv = ["harness.run", *(f"{k}={v!r}" for k, v in (("models", models), ("datasets", datasets)) if v is not None)]
    argv += [f"{k}={v!r}" for k, v in options.items() if v is not None]

    from harness.plugins import load_registry  # every plugin: only once a run is asked for

    with contextlib.ExitStack() as stack:
        if quiet:  # progress bar, notes and summary all go to sys.stdout / sys.stderr
            stack.enter_context(contextlib.redirect_stdout(io.StringIO()))
            stack.enter_context(contextlib.redirect_stderr(io.StringIO()))
        registry = load_registry(execution.get("plugins_dir"))
        outcome = run_benchmark(registry, config, **execution, argv=argv, reraise=True)
    return load_run(outcome.root)


# --------------------------------------------------------------------------- reading a run


class Run:
    """A finished run directory, read-only: its report's tables as pandas DataFrames.

    ``accuracy`` (per dataset x model: sMAPE, MASE, OWA...), ``speed`` (per dataset x model:
    times, cost per series, relative cost), ``verdicts`` (claims a, b, c per dataset and
    overall) are read by :func:`load_run`; ``forecasts`` (every forecast with its actual value)
    when first used. ``path`` is the run directory, ``report_path`` its report.html,
    ``manifest`` its manifest.json (config, versions, hardware, timings).
    """

    def __init__(self, path: Path, tables: dict[str, pd.DataFrame], manifest: dict[str, Any]) -> None:
        self.path = path
        self.report_path = path / REPORT
        self.manifest = manifest
        self.accuracy = tables["accuracy"]
        self.speed = tables["speed"]
        self.verdicts = tables["verdicts"]

    @functools.cached_property
    def forecasts(self) -> pd.DataFrame:
        """forecasts.parquet: unique_id, window, origin, step, y, yhat, lo, hi, dataset, model, seed."""
        import pandas as pd  # pandas at first use: importing harness stays cheap

        return pd.read_parquet(self.path / "forecasts.parquet")

    def __repr__(self) -> str:
        models = sorted(set(self.accuracy["model"])) if "model" in self.accuracy else []
        return f"Run({str(self.path)!r}, models={models}, report={str(self.report_path)!r})"


def load_run(path: str | os.PathLike) -> Run:
    """The finished run in ``path`` (a folder ``rnnbench run`` or :func:`run` wrote). A folder
    that is no run, or a run that has not finished (or whose report was never built), is a
    :class:`harness.errors.StoreError` saying what to do."""
    import pandas as pd  # pandas at first use: importing harness stays cheap

    from harness.store import RunStore  # pandas and pyarrow: only once a run is read

    if not isinstance(path, (str, os.PathLike)):
        raise _fail("load_run path", "a path (str or pathlib.Path)", path)
    store = RunStore.open(Path(path))
    root = store.root
    missing = [name for name in [*TABLES.values(), REPORT] if not (root / name).is_file()]
    if missing:
        if (root / "metrics.parquet").is_file():
            raise StoreError(f"{root} has no report ({missing[0]}); build it with: rnnbench report {root}")
        raise StoreError(f"{root} has no finished results; finish it with: rnnbench run --resume {root}")
    tables = {}
    for attr, name in TABLES.items():
        try:
            tables[attr] = pd.read_csv(root / name)
        except (OSError, ValueError) as exc:
            raise StoreError(f"cannot read {root / name}: {exc}") from None
    return Run(root, tables, store.manifest())
