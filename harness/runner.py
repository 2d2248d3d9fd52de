"""Experiments (task x model x seed): plan them, run them, time them, isolate their failures.

Local models are fit series by series, in chunks handed to an executor (:mod:`harness.executors`:
serial, worker processes or a dask cluster); a global model is fit once per task (or per origin
when the protocol asks) as one unit of its own, in a fresh worker process. A series whose fit
raises or whose forecast is the wrong shape or not finite becomes a ``failed`` row with its
message; one past its time limit a ``timeout`` row. A chunk whose worker died (``os._exit``, a
segfault) or hung is retried series by series, so only the culprit's rows are lost; the other
series and experiments go on.

Nothing a model does can change a score but its own forecasts. A model gets read-only copies of
its inputs (:func:`harness.models.read_only`: the in-sample values only, never the harness's own
arrays or the test values), so one that writes into them fails with a message naming the rule,
whatever the executor; a global model's forecasts are matched to series by ``unique_id``
(:func:`harness.models.forecasts_by_series`). Every failure the runner catches is also a record
of the experiment's failure log (:data:`harness.experiments.FAILURE_FIELDS`, with the traceback of an exception the
model raised), streamed to the sink beside the rows and kept with the checkpoint.

Results stream: a local model's chunks are scored as they come back and handed, in series order,
to a *sink* (``append(series, forecasts)``: :class:`harness.store.PartWriter` writes them into
the experiment's checkpoint as Parquet row groups), so the driver holds the forecasts of a few
chunks at a time, not of every series. Without a sink, :func:`run_experiment` gathers the frames
in memory and returns them.
"""

from __future__ import annotations

import json
import math
import sys
import time
import warnings
from collections.abc import Callable, Iterable
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from threadpoolctl import threadpool_limits

from harness import metrics
from harness.data import Dataset, Panel
from harness.errors import DataError, one_line, traceback_text
from harness.executors import Done, Executor, RunOptions, SerialExecutor, Unit, UnitTimeout, alarm, limit_or_none
from harness.experiments import Experiment, ExperimentResult, Sink, bound_columns, forecast_columns, series_columns
from harness.models import (
    Forecast,
    Forecaster,
    as_forecast,
    forecasts_by_series,
    input_failure,
    read_only,
    read_only_panel,
)
from harness.plugins import ModelSpec, Registry
from harness.suite import DatasetChoice, RunConfig
from harness.tasks import Task, Window
from harness.timing import Timer, peak_rss_mb, thread_count
from harness.training import combine_fits, training_columns

#: Cheap models always run beside the chosen ones: ``naive`` is the unit of relative cost and
#: ``naive2`` the reference of OWA, so every table can carry both columns.
REFERENCE_MODELS = ("naive", "naive2")
#: BLAS/OpenMP threads for each per-series fit of a local model.
LOCAL_THREADS = 1
#: Most series (x windows) in one chunk of a local model: a chunk is one unit of work and one
#: batch of scored rows (a Parquet row group of the checkpoint), so this bounds what the driver
#: holds at once however many series a dataset has. Fewer series make ``workers * 8`` chunks.
CHUNK_SERIES = 256
#: Series (x windows) per batch when a global model's forecasts are scored and written.
SCORE_BATCH = 2048


class MemorySink:
    """Keeps every batch, for :func:`run_experiment` without a sink (rows of a run at ``levels``)."""

    def __init__(self, levels: tuple[float, ...] = metrics.DEFAULT_LEVELS) -> None:
        self.levels = levels
        self.series: list[pd.DataFrame] = []
        self.forecasts: list[pd.DataFrame] = []
        self.failures: list[dict[str, Any]] = []

    def append(self, series: pd.DataFrame, forecasts: pd.DataFrame) -> None:
        self.series.append(series)
        self.forecasts.append(forecasts)

    def log_failures(self, records: list[dict[str, Any]]) -> None:
        self.failures.extend(records)

    def frames(self) -> tuple[pd.DataFrame, pd.DataFrame]:
        return (
            _concat(self.series, series_columns(self.levels)),
            _concat(self.forecasts, forecast_columns(self.levels)),
        )


def _concat(frames: list[pd.DataFrame], columns: dict[str, str]) -> pd.DataFrame:
    frames = [f for f in frames if len(f)]
    return pd.concat(frames, ignore_index=True) if frames else _empty(columns)


def _empty(columns: dict[str, str]) -> pd.DataFrame:
    return pd.DataFrame({name: pd.Series(dtype=dtype) for name, dtype in columns.items()})


class _Tally:
    """Passes scored batches and failure records on to the sink and keeps what the summary needs
    of them; with ``debug`` each failure's traceback is also printed to stderr."""

    def __init__(self, sink: Sink, exp: Experiment, debug: bool = False) -> None:
        self.sink = sink
        self.n_rows = self.n_failed = self.n_timeout = 0
        self.first_message = ""
        self.debug = debug
        self._ident = {
            "dataset": exp.task.name,
            "model": exp.model.name,
            "seed": exp.seed,
            "config_id": exp.config_id,
        }
        self._ids = exp.task.dataset.panel.ids

    def fail(
        self,
        window: int | None,
        series: int | None,
        n_series: int,
        stage: str,
        status: str,
        message: str,
        trace: str | None,
    ) -> None:
        """Log one failure: of series index ``series`` of ``window``, or (None) of all
        ``n_series`` series of the window (or of the experiment, ``window`` None too)."""
        record = {
            **self._ident,
            "window": window,
            "unique_id": None if series is None else self._ids[series],
            "n_series": n_series,
            "stage": stage,
            "status": status,
            "message": message,
            "traceback": trace,
        }
        self.sink.log_failures([record])
        if self.debug:
            where = f"series {record['unique_id']}" if series is not None else f"{n_series} series"
            print(
                f"rnnbench: {status}: {record['model']} on {record['dataset']}, {where}, window {window}, "
                f"seed {record['seed']} ({stage}): {message}" + (f"\n{trace}" if trace else ""),
                file=sys.stderr,
            )

    def add(self, series: pd.DataFrame, forecasts: pd.DataFrame) -> None:
        status = series["status"].to_numpy()
        bad = status != "ok"
        if not self.n_failed and bad.any():
            self.first_message = str(series["message"].to_numpy()[bad][0])
        self.n_rows += len(series)
        self.n_failed += int(bad.sum())
        self.n_timeout += int((status == "timeout").sum())
        self.sink.append(series, forecasts)


# --- planning ---------------------------------------------------------------------------------


def resolve_datasets(config: RunConfig, registry: Registry) -> list[Dataset]:
    """Load every dataset of the run (collections expand to their parts), sampled and with
    overrides applied. Raises DataError naming the first unusable one."""
    from harness.files import is_data_file, is_long_file, load_long_file
    from harness.tsf import load_tsf

    out: list[Dataset] = []
    for choice in config.datasets:
        limit = choice.limit or config.limit
        if is_data_file(choice.name) and not is_long_file(choice.name):
            loaded = [load_tsf(choice.name, horizon=choice.horizon, season_length=choice.season_length)]
        elif is_data_file(choice.name):
            loaded = [
                load_long_file(
                    choice.name,
                    horizon=choice.horizon,
                    season_length=choice.season_length,
                    date_format=choice.date_format,
                )
            ]
        else:
            loaded = [_with_overrides(ds, choice) for ds in _load_registered(choice.name, registry)]
        out.extend(ds.sample(limit) for ds in loaded)
    names = [d.name for d in out]
    dupes = sorted({n for n in names if names.count(n) > 1})
    if dupes:
        sources = [d.meta["file"] for d in out if d.name == dupes[0] and "file" in (d.meta or {})]
        if len({Path(s).resolve() for s in sources}) > 1:
            raise DataError(
                f"dataset {dupes[0]!r} appears twice in this run: data files {sources[0]} and {sources[1]} share the "
                "name (a file's dataset is named after its file name without the extension); rename one of them"
            )
        raise DataError(f"dataset {dupes[0]!r} appears twice in this run; give each dataset once")
    return out


def _load_registered(name: str, registry: Registry, seen: tuple[str, ...] = ()) -> list[Dataset]:
    spec = registry.dataset(name)
    if spec.parts:
        if name in seen:
            raise DataError(f"dataset collection {name!r} includes itself")
        return [ds for part in spec.parts for ds in _load_registered(part, registry, seen + (name,))]
    dataset = spec.load()
    if not isinstance(dataset, Dataset):
        raise DataError(f"dataset {name!r}: its loader returned {type(dataset).__name__}, not a harness.Dataset")
    return [dataset]


def _with_overrides(dataset: Dataset, choice: DatasetChoice) -> Dataset:
    panel = dataset.panel
    if choice.horizon and choice.horizon != panel.horizon:
        if dataset.test is not None:
            raise DataError(
                f"dataset {dataset.name} has an official test set of horizon {panel.horizon}; its horizon cannot be changed"
            )
        panel = replace(panel, horizon=choice.horizon)
    if choice.season_length and choice.season_length != panel.season_length:
        panel = replace(panel, season_length=choice.season_length)
    # unchanged: no new Dataset (building one checks every value again)
    return dataset if panel is dataset.panel else replace(dataset, panel=panel)


def plan(config: RunConfig, registry: Registry, datasets: list[Dataset]) -> list[Experiment]:
    """All experiments of a run, validated: unknown models or parameters and series too short
    for the protocol raise before anything is written."""
    model_names = list(config.models)
    for ref in REFERENCE_MODELS:
        if ref not in config.models and ref in registry.models:
            model_names.append(ref)
    specs = {name: registry.model(name) for name in model_names}
    params = {name: specs[name].resolve_params(config.models.get(name, {})) for name in model_names}
    experiments = []
    for dataset in datasets:
        task = Task(dataset, config.protocol, config.levels)
        task.validate()
        for name in model_names:
            spec = specs[name]
            # building once checks parameter values the model itself validates
            spec.build(
                horizon=task.horizon,
                season_length=task.season_length,
                seed=config.seeds[0],
                params=params[name],
                levels=task.levels,
            )
            seeds = config.seeds[:1] if spec.one_seed else config.seeds
            experiments.extend(Experiment(task, spec, params[name], seed) for seed in seeds)
    return experiments


# --- running ----------------------------------------------------------------------------------


#: One result row of a local fit: (key, forecast or None, error message, status, wall s, cpu s,
#: the stage that failed and the traceback, both None when it did not fail).
LocalRow = tuple[tuple[int, int], "Forecast | None", "str | None", str, float, float, "str | None", "str | None"]


def _fit_predict_chunk(
    spec: ModelSpec,
    params: dict,
    horizon: int,
    season_length: int,
    seed: int,
    items: list[tuple[tuple[int, int], np.ndarray]],
    timeout_series: float | None,
    levels: tuple[float, ...] = metrics.DEFAULT_LEVELS,
) -> tuple[list[LocalRow], float]:
    """Worker: fit and forecast each series of a chunk, timing each and catching its failure;
    a series past ``timeout_series`` seconds is a ``timeout`` row and the chunk goes on. Each
    call gets a read-only copy of its series, so what a model does to ``y`` cannot reach the
    harness's data, another series or another call, in any executor."""
    model = spec.build(horizon=horizon, season_length=season_length, seed=seed, params=params, levels=levels)
    model_name = spec.name
    out: list[LocalRow] = []
    # One BLAS thread per series fit: the pool already uses every core, and multithreaded BLAS on
    # the tiny matrices of a per-series fit oversubscribes them (measured 7x slower for arima).
    with threadpool_limits(LOCAL_THREADS), warnings.catch_warnings():
        warnings.simplefilter("ignore")
        _warm_up(model, model_name, items, timeout_series)
        for key, y in items:
            y = read_only(y)
            wall0, cpu0 = time.perf_counter(), time.process_time()
            stage = "fit_predict_one"
            trace = None
            try:
                with alarm(timeout_series):
                    raw = model.fit_predict_one(y)
                stage = "output"
                fc, err, status, stage = as_forecast(raw, horizon, levels), None, "ok", None
            except UnitTimeout as exc:
                fc, err, status, trace = None, f"series {exc}", "timeout", traceback_text(exc)
            except Exception as exc:  # a failing series is a row, not a crash
                fc, status = None, "failed"
                if stage == "output":  # the harness's check of what came back: no model frames
                    err = one_line(exc, limit=500, with_type=True)
                else:
                    err = input_failure(model_name, exc, "y") or one_line(exc, limit=500, with_type=True)
                    trace = traceback_text(exc)
            out.append((key, fc, err, status, time.perf_counter() - wall0, time.process_time() - cpu0, stage, trace))
    return out, peak_rss_mb()


_WARMED: set[str] = set()


def _warm_up(model: Forecaster, name: str, items: list, timeout: float | None) -> None:
    """One untimed fit per model and process, so lazy imports and first-call costs are not
    charged to whichever series happens to come first (they dwarf a naive forecast). It fits the
    chunk's first series on a read-only copy of its own and discards the forecast: the timed
    call of that series gets a fresh copy, as every series does.

    Its limit is at least :data:`WARM_UP_S` (well inside the unit's margin), not the series
    limit: a tiny ``--timeout-series`` would otherwise interrupt the model's first imports
    half-way, and a half-initialised module (``patsy``, under statsmodels) made later fits of
    the same process fail and fall back, changing their forecasts (issue 17)."""
    if name in _WARMED or not items:
        return
    _WARMED.add(name)
    try:
        with alarm(max(timeout, WARM_UP_S) if timeout else None):
            model.fit_predict_one(read_only(items[0][1]))
    except (Exception, UnitTimeout):  # the timed call will record the failure
        pass


def run_experiment(
    exp: Experiment,
    executor: Executor | None = None,
    options: RunOptions | None = None,
    progress: Callable[[int], None] = lambda n: None,
    sink: Sink | None = None,
) -> ExperimentResult:
    """Fit and forecast every window of a task with one model; score each series.

    Local models go to ``executor`` in chunks of series; a global model as one unit. Whatever a
    unit loses (its worker died, it ran past its time limit) becomes failed or ``timeout`` rows
    of its own series only. Defaults: serial execution, no time limits.

    With a ``sink`` the scored rows are appended to it batch by batch, in series order, as the
    chunks finish, and the result holds only the summary (``series`` and ``forecasts`` None);
    without one they are gathered in memory and returned as data frames.
    """
    options = options or RunOptions(executor="serial")
    own = executor is None
    executor = executor or SerialExecutor()
    memory = MemorySink(exp.task.levels) if sink is None else None
    tally = _Tally(sink if sink is not None else memory, exp, options.debug)
    windows = exp.task.windows()
    started = time.perf_counter()
    try:
        if exp.model.scope == "local":
            timing = _run_local(exp, windows, executor, options, progress, tally)
        else:
            timing = _run_global(exp, windows, executor, options, progress, tally)
    finally:
        if own:
            executor.close()
    wall_s = time.perf_counter() - started
    n_failed = tally.n_failed
    summary = {
        **{k: v for k, v in exp.config.items() if k not in ("params",)},
        "params": json.dumps(exp.params, sort_keys=True, default=str),
        "config_id": exp.config_id,
        "scope": exp.model.scope,
        "device": timing["device"],
        "device_name": timing.get("device_name", ""),
        "peak_device_mb": timing.get("peak_device_mb"),
        "fit_s": timing["fit_s"],
        "predict_s": timing["predict_s"],
        "cpu_s": timing["cpu_s"],
        # fit alone (a local model's fit and forecast are one call, all of it here, as in fit_s)
        "fit_cpu_s": timing.get("fit_cpu_s", timing["cpu_s"]),
        "wall_s": wall_s,
        "peak_rss_mb": timing["peak_rss_mb"],
        "executor": executor.name,
        "workers": executor.workers if exp.model.scope == "local" else 1,
        "threads": LOCAL_THREADS if exp.model.scope == "local" else timing.get("threads", thread_count()),
        "n_windows": len(windows),
        "n_failed": n_failed,
        "status": "ok" if n_failed == 0 else ("timeout" if tally.n_timeout == tally.n_rows else "failed"),
        "message": timing.get("message", "") or tally.first_message,
        # epochs, best epoch, updates, time to accuracy ... of a model that trains by epochs, else NaN
        **training_columns(timing.get("training")),
    }
    if memory is None:
        return ExperimentResult(summary)
    return ExperimentResult(summary, *memory.frames(), memory.failures)


def work_units(experiments: list[Experiment]) -> int:
    """The most units of work ``experiments`` hand the executor at once: a local model's series x
    windows (local experiments run one after another), or the global models' experiments, one
    unit each, which run side by side (:func:`harness.execute.concurrent_experiments`). More
    workers than that would only sit idle (a pool of 1000 processes for 2 series)."""
    most = sum(1 for exp in experiments if exp.model.scope != "local")
    for exp in experiments:
        if exp.model.scope == "local":
            most = max(most, len(exp.task.dataset.panel) * exp.task.protocol.windows)
    return max(most, 1)


#: Hard limit of a unit beyond the per-series limits it holds: room for start-up and warm-up.
UNIT_MARGIN_S = 30.0
#: Shortest time limit of the untimed warm-up fit (below ``UNIT_MARGIN_S``).
WARM_UP_S = 20.0


def _unit_limit(options: RunOptions, n_series: int, deadline: float | None) -> float | None:
    limits = []
    if options.timeout_series:
        limits.append(options.timeout_series * (n_series + 1) + UNIT_MARGIN_S)
    if deadline is not None:
        limits.append(max(deadline - time.monotonic(), 0.001))
    return limit_or_none(min(limits)) if limits else None


def _chunks(items: list, workers: int) -> list[list]:
    """Consecutive chunks of about equal size: at least ``workers * 8`` (for balance) and at most
    :data:`CHUNK_SERIES` items each (for bounded memory)."""
    n = max(1, min(len(items), workers * 8), math.ceil(len(items) / CHUNK_SERIES))
    bounds = [len(items) * k // n for k in range(n + 1)]
    return [items[bounds[k] : bounds[k + 1]] for k in range(n)]


#: What became of one series and window: (forecast or None, status, message, fit wall s, the
#: stage that failed or None, traceback or None). A failure with a stage is logged.
Resolved = tuple["Forecast | None", str, str, float, "str | None", "str | None"]


def _run_local(
    exp: Experiment,
    windows: list[Window],
    executor: Executor,
    options: RunOptions,
    progress: Callable[[int], None],
    tally: _Tally,
) -> dict:
    """Run a local model chunk by chunk; each chunk's rows go to ``tally`` once it and every
    chunk before it are finished, so rows keep series order whatever order chunks finish in."""
    items = [((w.index, i), np.asarray(y, dtype=float)) for w in windows for i, y in enumerate(w.context.values)]
    chunks = _chunks(items, executor.workers)
    by_index = {w.index: w for w in windows}
    received: dict[int, dict[tuple[int, int], Resolved]] = {}  # chunk number -> what came back so far
    flushed = 0  # chunks before this one are scored and handed on
    fit_s = cpu_s = 0.0
    peak = 0.0
    deadline = time.monotonic() + options.timeout_experiment if options.timeout_experiment else None
    base = (exp.model, exp.params, exp.task.horizon, exp.task.season_length, exp.seed)

    def unit(number: int, chunk: list) -> Unit:
        return Unit(
            _fit_predict_chunk,
            (*base, chunk, options.timeout_series, exp.task.levels),
            timeout=_unit_limit(options, len(chunk), deadline),
            tag=(number, chunk),
        )

    def flush() -> None:
        nonlocal flushed
        while flushed < len(chunks) and len(received.get(flushed, ())) == len(chunks[flushed]):
            got = received.pop(flushed)
            tally.add(*_score(exp, by_index, [(key, *got[key][:4]) for key, _ in chunks[flushed]]))
            for (wi, i), _ in chunks[flushed]:  # logged in series order, whatever the executor
                _, status, message, _, stage, trace = got[(wi, i)]
                if stage is not None:
                    tally.fail(wi, i, 1, stage, status, message, trace)
            flushed += 1

    todo = [unit(number, c) for number, c in enumerate(chunks)]
    while todo:
        retry: list[Unit] = []
        outcomes = executor.run(todo)
        for outcome in outcomes:
            number, chunk = outcome.unit.tag
            got = received.setdefault(number, {})
            if isinstance(outcome, Done):
                rows, rss = outcome.value
                peak = max(peak, rss)
                for key, fc, err, status, wall, cpu, stage, trace in rows:
                    fit_s += wall
                    cpu_s += cpu
                    got[key] = (fc if status == "ok" else None, status, err or "", wall, stage, trace)
                progress(len(chunk))
            elif len(chunk) > 1 and not _past(deadline):
                # the worker died or hung somewhere in this chunk: find the culprit series alone
                retry.extend(unit(number, [item]) for item in chunk)
            else:
                status = "timeout" if outcome.kind == "timeout" else "failed"
                for key, _ in chunk:
                    got[key] = (None, status, outcome.message, math.nan, "worker", None)
                progress(len(chunk))
            flush()
            if _past(deadline):
                outcomes.close()
                break
        todo = [] if _past(deadline) else retry
    timed_out = _past(deadline)
    for number in range(flushed, len(chunks)):  # what never came back
        got = received.setdefault(number, {})
        for key, _ in chunks[number]:
            if key not in got:
                got[key] = (
                    (
                        None,
                        "timeout",
                        f"experiment timed out after {options.timeout_experiment:g} s",
                        math.nan,
                        None,
                        None,
                    )
                    if timed_out
                    else (None, "failed", "no forecast", math.nan, None, None)
                )
    flush()
    if timed_out:
        progress(0)
    return {"device": "cpu", "fit_s": fit_s, "predict_s": 0.0, "cpu_s": cpu_s, "peak_rss_mb": peak}


def _past(deadline: float | None) -> bool:
    return deadline is not None and time.monotonic() > deadline


def _run_global(
    exp: Experiment,
    windows: list[Window],
    executor: Executor,
    options: RunOptions,
    progress: Callable[[int], None],
    tally: _Tally,
) -> dict:
    task = exp.task
    # only each window's context goes to the worker: the truth after it stays here, out of reach
    args = (
        exp.model,
        exp.params,
        task.horizon,
        task.season_length,
        task.protocol.refit_global,
        exp.seed,
        [(w.index, w.context) for w in windows],
        options.timeout_experiment,
        task.levels,
    )
    limit = options.timeout_experiment + UNIT_MARGIN_S if options.timeout_experiment else None
    (outcome,) = list(executor.run([Unit(_global_unit, args, timeout=limit, fresh=True)]))
    n_all = sum(len(w.context) for w in windows)
    progress(n_all)
    if isinstance(outcome, Done):
        forecasts, failures, timing, events = outcome.value
        default = ("failed", "no forecast")
    else:  # the unit was lost: every series fails with its message
        forecasts, failures = {}, {}
        default = ("timeout" if outcome.kind == "timeout" else "failed", outcome.message)
        events = [(None, None, n_all, "worker", default[0], outcome.message, None)]
        timing = {
            "device": "unknown",
            "fit_s": math.nan,
            "predict_s": math.nan,
            "cpu_s": math.nan,
            "peak_rss_mb": math.nan,
            "message": outcome.message,
        }
    for event in events:
        tally.fail(*event)
    for note in timing.pop("notes", ()):
        _warn_once(note)
    by_index = {w.index: w for w in windows}
    batch: list = []
    for w in windows:  # scored and handed on in batches, in series order
        for i in range(len(w.context)):
            key = (w.index, i)
            fc = forecasts.pop(key, None)
            status, message = ("ok", "") if fc is not None else failures.get(key, default)
            batch.append((key, fc, status, message, math.nan))  # a global fit has no per-series time
            if len(batch) >= SCORE_BATCH:
                tally.add(*_score(exp, by_index, batch))
                batch = []
    if batch:
        tally.add(*_score(exp, by_index, batch))
    return timing


_WARNED: set[str] = set()


def _warn_once(note: str) -> None:
    """A deprecation note from a worker, as a FutureWarning (shown to users, unlike a
    DeprecationWarning), once per process."""
    if note not in _WARNED:
        _WARNED.add(note)
        warnings.warn(note, FutureWarning, stacklevel=2)


#: A failure of a global unit, logged by the driver: (window index or None, series index or None,
#: series it cost, stage, status, message, traceback or None); see :meth:`_Tally.fail`.
Event = tuple["int | None", "int | None", int, str, str, str, "str | None"]


def _global_unit(
    spec: ModelSpec,
    params: dict,
    horizon: int,
    season_length: int,
    refit: bool,
    seed: int,
    contexts: list[tuple[int, Panel]],
    timeout: float | None,
    levels: tuple[float, ...] = metrics.DEFAULT_LEVELS,
):
    """Worker: fit a global model once (or at every origin when ``refit``) and forecast every
    window's context panel (``contexts``: window index and panel). The model gets a read-only
    copy of each panel (one per window, shared by its fit and predict) and of the first one for
    ``warm_up``. Returns forecasts and failures by (window, series), timing, and the failure
    events to log."""
    model = spec.build(horizon=horizon, season_length=season_length, seed=seed, params=params, levels=levels)
    name = spec.name
    fit_timer = Timer(model.synchronize)
    predict_timer = Timer(model.synchronize)
    forecasts: dict[tuple[int, int], Forecast] = {}
    failures: dict[tuple[int, int], tuple[str, str]] = {}
    events: list[Event] = []
    notes: list[str] = []
    trained: list[dict | None] = []  # the training summary of each fit
    message = ""
    fitted = False
    try:
        with alarm(timeout):
            model.warm_up(read_only_panel(contexts[0][1]))
    except (Exception, UnitTimeout):  # a real problem shows up again, and is recorded, in fit
        pass
    deadline = time.monotonic() + timeout if timeout else None
    for wi, context in contexts:
        panel = read_only_panel(context)
        keys = [(wi, i) for i in range(len(panel))]
        stage = "fit"
        try:
            with alarm(max(deadline - time.monotonic(), 0.001) if deadline else None):
                if not fitted or refit:
                    with fit_timer:
                        model.fit(panel)
                    fitted = True
                    trained.append(model.training_summary())
                stage = "predict"
                with predict_timer:
                    out = model.predict(panel)
            stage = "output"
            raws, missing, note = forecasts_by_series(out, panel, horizon, name)
        except (Exception, UnitTimeout) as exc:
            status = "timeout" if isinstance(exc, UnitTimeout) else "failed"
            trace = None if stage == "output" else traceback_text(exc)
            if status == "timeout":
                message = f"experiment {exc}"
            elif stage == "output":  # the harness's own sentence, naming the model
                message = one_line(exc, limit=500)
            else:
                message = input_failure(name, exc, "panel.values") or one_line(exc, limit=500, with_type=True)
            lost = keys
            if not fitted or status == "timeout":  # nothing more can be forecast
                lost = [(v, i) for v, c in contexts for i in range(len(c)) if (v, i) not in forecasts]
            failures.update({k: (status, message) for k in lost})
            events.append((wi, None, len(lost), stage, status, message, trace))
            if not fitted or status == "timeout":
                break
            continue
        if note and note not in notes:
            notes.append(note)
        for i, text in missing.items():
            failures[(wi, i)] = ("failed", text)
            events.append((wi, i, 1, "output", "failed", text, None))
        for i, raw in sorted(raws.items()):
            try:
                forecasts[(wi, i)] = as_forecast(raw, horizon, levels)
            except ValueError as exc:
                text = one_line(exc, limit=500, with_type=True)
                failures[(wi, i)] = ("failed", text)
                events.append((wi, i, 1, "output", "failed", text, None))
    timing = {
        "device": model.device,
        "device_name": model.device_name,
        "peak_device_mb": model.peak_device_memory_mb(),
        "fit_s": fit_timer.wall_s,
        "predict_s": predict_timer.wall_s,
        "cpu_s": fit_timer.cpu_s + predict_timer.cpu_s,
        "fit_cpu_s": fit_timer.cpu_s,
        "peak_rss_mb": peak_rss_mb(),
        "threads": thread_count(),
        "message": message,
        "notes": notes,
        "training": combine_fits(trained),
    }
    return forecasts, failures, timing, events


def _score(
    exp: Experiment,
    windows: dict[int, Window],
    results: Iterable[tuple[tuple[int, int], Forecast | None, str, str, float]],
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Per-series metric rows and long-format forecast rows of a batch of results, in its order.

    ``windows``: window index -> Window; each result is (key (window index, series index),
    forecast or None, status, message, fit wall seconds). Columns and dtypes:
    :func:`series_columns` and :func:`forecast_columns` of the task's levels, the same for every
    batch; a level the forecast has no interval at is NaN in its ``lo_``/``hi_`` columns and scores.
    """
    task = exp.task
    panel = task.dataset.panel
    m = task.season_length
    h = task.horizon
    levels = task.levels
    score_names = metrics.score_names(levels)
    # built column by column with the final dtypes: a frame of row dicts cast afterwards cost
    # ~15 ms of pandas per chunk, more than scoring it (measured on M3 with naive models)
    text: dict[str, list] = {"unique_id": [], "category": [], "status": [], "message": []}
    ints: dict[str, list] = {"window": [], "origin": []}
    floats: dict[str, list] = {"series_s": [], **{k: [] for k in score_names}}
    fc_rows: list[tuple] = []  # (row number, truth, forecast) of the series with a forecast
    nan_scores = dict.fromkeys(score_names, math.nan)
    for (wi, i), fc, status, message, series_s in results:
        w = windows[wi]
        truth = w.truth[i]
        if fc is None:
            scores = nan_scores
        else:
            status, message = "ok", fc.note  # a fallback the model took is said, never a bare ok
            scores = metrics.series_scores(truth, fc.mean, w.context.values[i], m, fc.intervals, levels)
            fc_rows.append((len(ints["window"]), truth, fc))
        text["unique_id"].append(panel.ids[i])
        text["category"].append(panel.categories[i])
        text["status"].append(status)
        text["message"].append(message)
        ints["window"].append(wi)
        ints["origin"].append(w.cutoffs[i])
        floats["series_s"].append(series_s)
        for k in score_names:
            floats[k].append(scores[k])
    n_rows = len(ints["window"])
    ident = {
        "dataset": [task.name] * n_rows,
        "model": [exp.model.name] * n_rows,
        "seed": np.full(n_rows, exp.seed, dtype=np.int64),
    }
    columns = {
        **text,
        **{k: np.asarray(v, dtype=np.int64) for k, v in ints.items()},
        **{k: np.asarray(v, dtype=np.float64) for k, v in floats.items()},
        **ident,
    }
    series = pd.DataFrame({name: columns[name] for name in series_columns(levels)})
    n = len(fc_rows)
    if not n:
        return series, _empty(forecast_columns(levels))
    nan = np.full(h, np.nan)
    rows = [r for r, _, _ in fc_rows]
    fc_df = pd.DataFrame(
        {
            "unique_id": np.repeat(np.array([text["unique_id"][r] for r in rows], dtype=object), h),
            "window": np.repeat(columns["window"][rows], h),
            "origin": np.repeat(columns["origin"][rows], h),
            "step": np.tile(np.arange(1, h + 1, dtype=np.int64), n),
            "y": np.concatenate([np.asarray(t, dtype=float) for _, t, _ in fc_rows]),
            "yhat": np.concatenate([np.asarray(fc.mean, dtype=float) for _, _, fc in fc_rows]),
            **{
                name: np.concatenate(
                    [fc.intervals[level][side] if level in fc.intervals else nan for *_, fc in fc_rows]
                )
                for level in levels
                for side, name in enumerate(bound_columns(level))
            },
            "dataset": [task.name] * (n * h),
            "model": [exp.model.name] * (n * h),
            "seed": np.full(n * h, exp.seed, dtype=np.int64),
        }
    )
    return series, fc_df
