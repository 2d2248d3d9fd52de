"""Experiments (task x model x seed): plan them, run them, time them, isolate their failures.

Local models are fit series by series, in chunks handed to an executor (:mod:`harness.executors`:
serial, worker processes or a dask cluster); a global model is fit once per task (or per origin
when the protocol asks) as one unit of its own, in a fresh worker process. A series whose fit
raises or whose forecast is the wrong shape or not finite becomes a ``failed`` row with its
message; one past its time limit a ``timeout`` row. A chunk whose worker died (``os._exit``, a
segfault) or hung is retried series by series, so only the culprit's rows are lost; the other
series and experiments go on.

Results stream: a local model's chunks are scored as they come back and handed, in series order,
to a *sink* (``append(series, forecasts)``: :class:`harness.store.PartWriter` writes them into
the experiment's checkpoint as Parquet row groups), so the driver holds the forecasts of a few
chunks at a time, not of every series. Without a sink, :func:`run_experiment` gathers the frames
in memory and returns them.
"""

from __future__ import annotations

import json
import math
import time
import warnings
from collections.abc import Callable, Iterable
from dataclasses import replace
from typing import Any

import numpy as np
import pandas as pd
from threadpoolctl import threadpool_limits

from harness import metrics
from harness.data import Dataset
from harness.errors import DataError, one_line
from harness.executors import Done, Executor, RunOptions, SerialExecutor, Unit, UnitTimeout, alarm
from harness.experiments import FORECAST_COLUMNS, SERIES_COLUMNS, Experiment, ExperimentResult, Sink
from harness.models import Forecast, Forecaster, as_forecast
from harness.plugins import ModelSpec, Registry
from harness.suite import DatasetChoice, RunConfig
from harness.tasks import Task, Window
from harness.timing import Timer, peak_rss_mb, thread_count

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
    """Keeps every batch, for :func:`run_experiment` without a sink."""

    def __init__(self) -> None:
        self.series: list[pd.DataFrame] = []
        self.forecasts: list[pd.DataFrame] = []

    def append(self, series: pd.DataFrame, forecasts: pd.DataFrame) -> None:
        self.series.append(series)
        self.forecasts.append(forecasts)

    def frames(self) -> tuple[pd.DataFrame, pd.DataFrame]:
        return (_concat(self.series, SERIES_COLUMNS), _concat(self.forecasts, FORECAST_COLUMNS))


def _concat(frames: list[pd.DataFrame], columns: dict[str, str]) -> pd.DataFrame:
    frames = [f for f in frames if len(f)]
    return pd.concat(frames, ignore_index=True) if frames else _empty(columns)


def _empty(columns: dict[str, str]) -> pd.DataFrame:
    return pd.DataFrame({name: pd.Series(dtype=dtype) for name, dtype in columns.items()})


class _Tally:
    """Passes scored batches on to the sink and keeps what the summary needs of them."""

    def __init__(self, sink: Sink) -> None:
        self.sink = sink
        self.n_rows = self.n_failed = self.n_timeout = 0
        self.first_message = ""

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
    from harness.files import is_data_file, load_long_file

    out: list[Dataset] = []
    for choice in config.datasets:
        limit = choice.limit or config.limit
        if is_data_file(choice.name):
            loaded = [load_long_file(choice.name, horizon=choice.horizon, season_length=choice.season_length)]
        else:
            loaded = [_with_overrides(ds, choice) for ds in _load_registered(choice.name, registry)]
        out.extend(ds.sample(limit) for ds in loaded)
    names = [d.name for d in out]
    dupes = sorted({n for n in names if names.count(n) > 1})
    if dupes:
        raise DataError(f"dataset {dupes[0]!r} appears twice in this run")
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
        task = Task(dataset, config.protocol)
        task.validate()
        for name in model_names:
            spec = specs[name]
            # building once checks parameter values the model itself validates
            spec.build(
                horizon=task.horizon, season_length=task.season_length, seed=config.seeds[0], params=params[name]
            )
            seeds = config.seeds[:1] if spec.cls.deterministic else config.seeds
            experiments.extend(Experiment(task, spec, params[name], seed) for seed in seeds)
    return experiments


# --- running ----------------------------------------------------------------------------------


#: One result row of a local fit: (key, forecast or None, error message, status, wall s, cpu s).
LocalRow = tuple[tuple[int, int], "Forecast | None", "str | None", str, float, float]


def _fit_predict_chunk(
    spec: ModelSpec,
    params: dict,
    horizon: int,
    season_length: int,
    seed: int,
    items: list[tuple[tuple[int, int], np.ndarray]],
    timeout_series: float | None,
) -> tuple[list[LocalRow], float]:
    """Worker: fit and forecast each series of a chunk, timing each and catching its failure;
    a series past ``timeout_series`` seconds is a ``timeout`` row and the chunk goes on."""
    model = spec.build(horizon=horizon, season_length=season_length, seed=seed, params=params)
    model_name = spec.name
    out: list[LocalRow] = []
    # One BLAS thread per series fit: the pool already uses every core, and multithreaded BLAS on
    # the tiny matrices of a per-series fit oversubscribes them (measured 7x slower for arima).
    with threadpool_limits(LOCAL_THREADS), warnings.catch_warnings():
        warnings.simplefilter("ignore")
        _warm_up(model, model_name, items, timeout_series)
        for key, y in items:
            wall0, cpu0 = time.perf_counter(), time.process_time()
            try:
                with alarm(timeout_series):
                    raw = model.fit_predict_one(y)
                fc, err, status = as_forecast(raw, horizon), None, "ok"
            except UnitTimeout as exc:
                fc, err, status = None, f"series {exc}", "timeout"
            except Exception as exc:  # a failing series is a row, not a crash
                fc, err, status = None, one_line(exc, limit=500, with_type=True), "failed"
            out.append((key, fc, err, status, time.perf_counter() - wall0, time.process_time() - cpu0))
    return out, peak_rss_mb()


_WARMED: set[str] = set()


def _warm_up(model: Forecaster, name: str, items: list, timeout: float | None) -> None:
    """One untimed fit per model and process, so lazy imports and first-call costs are not
    charged to whichever series happens to come first (they dwarf a naive forecast)."""
    if name in _WARMED or not items:
        return
    _WARMED.add(name)
    try:
        with alarm(timeout):
            model.fit_predict_one(items[0][1])
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
    memory = MemorySink() if sink is None else None
    tally = _Tally(sink if sink is not None else memory)
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
        "wall_s": wall_s,
        "peak_rss_mb": timing["peak_rss_mb"],
        "executor": executor.name,
        "workers": executor.workers if exp.model.scope == "local" else 1,
        "threads": LOCAL_THREADS if exp.model.scope == "local" else timing.get("threads", thread_count()),
        "n_windows": len(windows),
        "n_failed": n_failed,
        "status": "ok" if n_failed == 0 else ("timeout" if tally.n_timeout == tally.n_rows else "failed"),
        "message": timing.get("message", "") or tally.first_message,
    }
    if memory is None:
        return ExperimentResult(summary)
    return ExperimentResult(summary, *memory.frames())


#: Hard limit of a unit beyond the per-series limits it holds: room for start-up and warm-up.
UNIT_MARGIN_S = 30.0


def _unit_limit(options: RunOptions, n_series: int, deadline: float | None) -> float | None:
    limits = []
    if options.timeout_series:
        limits.append(options.timeout_series * (n_series + 1) + UNIT_MARGIN_S)
    if deadline is not None:
        limits.append(max(deadline - time.monotonic(), 0.001))
    return min(limits) if limits else None


def _chunks(items: list, workers: int) -> list[list]:
    """Consecutive chunks of about equal size: at least ``workers * 8`` (for balance) and at most
    :data:`CHUNK_SERIES` items each (for bounded memory)."""
    n = max(1, min(len(items), workers * 8), math.ceil(len(items) / CHUNK_SERIES))
    bounds = [len(items) * k // n for k in range(n + 1)]
    return [items[bounds[k] : bounds[k + 1]] for k in range(n)]


#: What became of one series and window: (forecast or None, status, message, fit wall s).
Resolved = tuple["Forecast | None", str, str, float]


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
            (*base, chunk, options.timeout_series),
            timeout=_unit_limit(options, len(chunk), deadline),
            tag=(number, chunk),
        )

    def flush() -> None:
        nonlocal flushed
        while flushed < len(chunks) and len(received.get(flushed, ())) == len(chunks[flushed]):
            got = received.pop(flushed)
            tally.add(*_score(exp, by_index, [(key, *got[key]) for key, _ in chunks[flushed]]))
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
                for key, fc, err, status, wall, cpu in rows:
                    fit_s += wall
                    cpu_s += cpu
                    got[key] = (fc if status == "ok" else None, status, err or "", wall)
                progress(len(chunk))
            elif len(chunk) > 1 and not _past(deadline):
                # the worker died or hung somewhere in this chunk: find the culprit series alone
                retry.extend(unit(number, [item]) for item in chunk)
            else:
                status = "timeout" if outcome.kind == "timeout" else "failed"
                for key, _ in chunk:
                    got[key] = (None, status, outcome.message, math.nan)
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
                    (None, "timeout", f"experiment timed out after {options.timeout_experiment:g} s", math.nan)
                    if timed_out
                    else (None, "failed", "no forecast", math.nan)
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
    # the windows carry every series' context: the task's dataset is not sent to the worker again
    args = (
        exp.model,
        exp.params,
        task.horizon,
        task.season_length,
        task.protocol.refit_global,
        exp.seed,
        windows,
        options.timeout_experiment,
    )
    limit = options.timeout_experiment + UNIT_MARGIN_S if options.timeout_experiment else None
    (outcome,) = list(executor.run([Unit(_global_unit, args, timeout=limit, fresh=True)]))
    n_all = sum(len(w.context) for w in windows)
    progress(n_all)
    if isinstance(outcome, Done):
        forecasts, failures, timing = outcome.value
        default = ("failed", "no forecast")
    else:  # the unit was lost: every series fails with its message
        forecasts, failures = {}, {}
        default = ("timeout" if outcome.kind == "timeout" else "failed", outcome.message)
        timing = {
            "device": "unknown",
            "fit_s": math.nan,
            "predict_s": math.nan,
            "cpu_s": math.nan,
            "peak_rss_mb": math.nan,
            "message": outcome.message,
        }
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


def _global_unit(
    spec: ModelSpec,
    params: dict,
    horizon: int,
    season_length: int,
    refit: bool,
    seed: int,
    windows: list[Window],
    timeout: float | None,
):
    """Worker: fit a global model once (or at every origin when ``refit``) and forecast every window."""
    model = spec.build(horizon=horizon, season_length=season_length, seed=seed, params=params)
    fit_timer = Timer(model.synchronize)
    predict_timer = Timer(model.synchronize)
    forecasts: dict[tuple[int, int], Forecast] = {}
    failures: dict[tuple[int, int], tuple[str, str]] = {}
    message = ""
    fitted = False
    try:
        with alarm(timeout):
            model.warm_up(windows[0].context)
    except (Exception, UnitTimeout):  # a real problem shows up again, and is recorded, in fit
        pass
    deadline = time.monotonic() + timeout if timeout else None
    for w in windows:
        keys = [(w.index, i) for i in range(len(w.context))]
        try:
            with alarm(max(deadline - time.monotonic(), 0.001) if deadline else None):
                if not fitted or refit:
                    with fit_timer:
                        model.fit(w.context)
                    fitted = True
                with predict_timer:
                    out = model.predict(w.context)
            per_series = _split_global_output(out, len(w.context))
        except (Exception, UnitTimeout) as exc:
            status = "timeout" if isinstance(exc, UnitTimeout) else "failed"
            message = f"experiment {exc}" if status == "timeout" else one_line(exc, limit=500, with_type=True)
            failures.update({k: (status, message) for k in keys})
            if not fitted or status == "timeout":
                failures.update(
                    {
                        (v.index, i): (status, message)
                        for v in windows
                        for i in range(len(v.context))
                        if (v.index, i) not in forecasts
                    }
                )
                break
            continue
        for key, raw in zip(keys, per_series):
            try:
                forecasts[key] = as_forecast(raw, horizon)
            except ValueError as exc:
                failures[key] = ("failed", one_line(exc, limit=500, with_type=True))
    timing = {
        "device": model.device,
        "device_name": model.device_name,
        "peak_device_mb": model.peak_device_memory_mb(),
        "fit_s": fit_timer.wall_s,
        "predict_s": predict_timer.wall_s,
        "cpu_s": fit_timer.cpu_s + predict_timer.cpu_s,
        "peak_rss_mb": peak_rss_mb(),
        "threads": thread_count(),
        "message": message,
    }
    return forecasts, failures, timing


def _split_global_output(out: Any, n: int) -> list[Any]:
    if isinstance(out, np.ndarray):
        if out.ndim != 2 or out.shape[0] != n:
            raise ValueError(f"predict returned shape {out.shape}, expected ({n}, horizon)")
        return list(out)
    out = list(out)
    if len(out) != n:
        raise ValueError(f"predict returned {len(out)} forecasts for {n} series")
    return out


def _score(
    exp: Experiment,
    windows: dict[int, Window],
    results: Iterable[tuple[tuple[int, int], Forecast | None, str, str, float]],
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Per-series metric rows and long-format forecast rows of a batch of results, in its order.

    ``windows``: window index -> Window; each result is (key (window index, series index),
    forecast or None, status, message, fit wall seconds). Columns and dtypes: ``SERIES_COLUMNS``
    and ``FORECAST_COLUMNS``, the same for every batch.
    """
    task = exp.task
    panel = task.dataset.panel
    m = task.season_length
    h = task.horizon
    # built column by column with the final dtypes: a frame of row dicts cast afterwards cost
    # ~15 ms of pandas per chunk, more than scoring it (measured on M3 with naive models)
    text: dict[str, list] = {"unique_id": [], "category": [], "status": [], "message": []}
    ints: dict[str, list] = {"window": [], "origin": []}
    floats: dict[str, list] = {"series_s": [], **{k: [] for k in metrics.SCORE_NAMES}}
    fc_rows: list[tuple] = []  # (row number, truth, forecast) of the series with a forecast
    nan_scores = dict.fromkeys(metrics.SCORE_NAMES, math.nan)
    for (wi, i), fc, status, message, series_s in results:
        w = windows[wi]
        truth = w.truth[i]
        if fc is None:
            scores = nan_scores
        else:
            status, message = "ok", ""
            scores = metrics.series_scores(truth, fc.mean, w.context.values[i], m, fc.lower, fc.upper, fc.level)
            fc_rows.append((len(ints["window"]), truth, fc))
        text["unique_id"].append(panel.ids[i])
        text["category"].append(panel.categories[i])
        text["status"].append(status)
        text["message"].append(message)
        ints["window"].append(wi)
        ints["origin"].append(w.cutoffs[i])
        floats["series_s"].append(series_s)
        for k in metrics.SCORE_NAMES:
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
    series = pd.DataFrame({name: columns[name] for name in SERIES_COLUMNS})
    n = len(fc_rows)
    if not n:
        return series, _empty(FORECAST_COLUMNS)
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
            "lo": np.concatenate(
                [nan if fc.lower is None else np.asarray(fc.lower, dtype=float) for _, _, fc in fc_rows]
            ),
            "hi": np.concatenate(
                [nan if fc.upper is None else np.asarray(fc.upper, dtype=float) for _, _, fc in fc_rows]
            ),
            "dataset": [task.name] * (n * h),
            "model": [exp.model.name] * (n * h),
            "seed": np.full(n * h, exp.seed, dtype=np.int64),
        }
    )
    return series, fc_df
