"""Experiments (task x model x seed): plan them, run them, time them, isolate their failures.

Local models are fit series by series in a pool of worker processes; a global model is fit once
per task (or per origin when the protocol asks) in this process. A series whose fit raises or
whose forecast is the wrong shape or not finite becomes a failed row with its message; the
other series and experiments go on.
"""

from __future__ import annotations

import functools
import hashlib
import json
import multiprocessing
import time
import warnings
from concurrent.futures import ProcessPoolExecutor, as_completed
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass, replace
from typing import Any, Callable, Iterator

import numpy as np
import pandas as pd
from threadpoolctl import threadpool_limits

from harness import metrics
from harness.data import Dataset, DataError
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


@dataclass(frozen=True)
class Experiment:
    """One model with one parameter set and seed on one task."""

    task: Task
    model: ModelSpec
    params: dict[str, Any]
    seed: int

    @functools.cached_property
    def config(self) -> dict:
        """What identifies the experiment's results (hashed into ``config_id``); computed once,
        since it fingerprints every value of the dataset."""
        return {
            "dataset": self.task.name,
            "fingerprint": self.task.dataset.fingerprint(),
            "n_series": len(self.task.dataset.panel),
            "horizon": self.task.horizon,
            "season_length": self.task.season_length,
            "protocol": self.task.protocol.as_dict(),
            "model": self.model.name,
            "params": self.params,
            "seed": self.seed,
        }

    @property
    def config_id(self) -> str:
        text = json.dumps(self.config, sort_keys=True, default=str)
        return hashlib.sha256(text.encode()).hexdigest()[:16]

    @property
    def key(self) -> str:
        """A file-name-safe name that is unique within a run."""
        safe = lambda s: "".join(c if c.isalnum() or c in "-." else "_" for c in s)  # noqa: E731
        return f"{safe(self.task.name)}__{safe(self.model.name)}__seed{self.seed}__{self.config_id[:8]}"


@dataclass
class ExperimentResult:
    """What one experiment produced: per-series rows, forecasts, and a timing summary."""

    summary: dict[str, Any]
    series: pd.DataFrame
    forecasts: pd.DataFrame


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
    return replace(dataset, panel=panel)


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
            spec.build(horizon=task.horizon, season_length=task.season_length, seed=config.seeds[0], params=params[name])
            seeds = config.seeds[:1] if spec.cls.deterministic else config.seeds
            experiments.extend(Experiment(task, spec, params[name], seed) for seed in seeds)
    return experiments


# --- running ----------------------------------------------------------------------------------


def _format_error(exc: BaseException) -> str:
    return f"{type(exc).__name__}: {exc}".splitlines()[0][:500]


def _fit_predict_chunk(
    cls: type[Forecaster], name: str, params: dict, horizon: int, season_length: int, seed: int,
    items: list[tuple[tuple[int, int], np.ndarray]],
) -> tuple[list[tuple[tuple[int, int], Forecast | None, str | None, float, float]], float]:
    """Worker: fit and forecast each series of a chunk, timing each and catching its failure."""
    model = cls(horizon=horizon, season_length=season_length, seed=seed, **params)
    model.name = name
    out = []
    # One BLAS thread per series fit: the pool already uses every core, and multithreaded BLAS on
    # the tiny matrices of a per-series fit oversubscribes them (measured 7x slower for arima).
    with threadpool_limits(LOCAL_THREADS), warnings.catch_warnings():
        warnings.simplefilter("ignore")
        _warm_up(model, name, items)
        for key, y in items:
            wall0, cpu0 = time.perf_counter(), time.process_time()
            try:
                fc, err = as_forecast(model.fit_predict_one(y), horizon), None
            except Exception as exc:  # noqa: BLE001 - a failing series is a row, not a crash
                fc, err = None, _format_error(exc)
            out.append((key, fc, err, time.perf_counter() - wall0, time.process_time() - cpu0))
    return out, peak_rss_mb()


_WARMED: set[str] = set()


def _warm_up(model: Forecaster, name: str, items: list) -> None:
    """One untimed fit per model and process, so lazy imports and first-call costs are not
    charged to whichever series happens to come first (they dwarf a naive forecast)."""
    if name in _WARMED or not items:
        return
    _WARMED.add(name)
    try:
        model.fit_predict_one(items[0][1])
    except Exception:  # noqa: BLE001 - the timed call will record the failure
        pass


class LocalPool:
    """A process pool for local models, started on first use and restarted if a worker dies."""

    def __init__(self, workers: int) -> None:
        self.workers = max(1, workers)
        self._pool: ProcessPoolExecutor | None = None

    def _get(self) -> ProcessPoolExecutor:
        if self._pool is None:
            self._pool = ProcessPoolExecutor(self.workers, mp_context=multiprocessing.get_context("fork"))
        return self._pool

    def map_chunks(self, fn: Callable, chunks: list[list], *args: Any) -> Iterator[tuple[list, Any]]:
        """Yield ``(chunk, result)`` as chunks finish; a chunk whose worker died yields an exception."""
        if self.workers == 1:
            for chunk in chunks:
                yield chunk, fn(*args, chunk)
            return
        pool = self._get()
        futures = {pool.submit(fn, *args, chunk): i for i, chunk in enumerate(chunks)}

        for future in as_completed(futures):
            chunk = chunks[futures[future]]
            try:
                yield chunk, future.result()
            except BrokenProcessPool as exc:
                self.close()
                yield chunk, exc

    def close(self) -> None:
        if self._pool is not None:
            self._pool.shutdown(cancel_futures=True)
            self._pool = None


def run_experiment(exp: Experiment, pool: LocalPool, progress: Callable[[int], None] = lambda n: None) -> ExperimentResult:
    """Fit and forecast every window of a task with one model; score each series."""
    windows = exp.task.windows()
    started = time.perf_counter()
    if exp.model.scope == "local":
        outcome = _run_local(exp, windows, pool, progress)
    else:
        outcome = _run_global(exp, windows, progress)
    forecasts, failures, timing = outcome
    wall_s = time.perf_counter() - started
    series, fc_rows = _score(exp, windows, forecasts, failures, timing)
    n_failed = int((series["status"] != "ok").sum())
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
        "workers": pool.workers if exp.model.scope == "local" else 1,
        "threads": LOCAL_THREADS if exp.model.scope == "local" else thread_count(),
        "n_windows": len(windows),
        "n_failed": n_failed,
        "status": "ok" if n_failed == 0 else "failed",
        "message": timing.get("message", "") or (series.loc[series["status"] != "ok", "message"].iloc[0] if n_failed else ""),
    }
    return ExperimentResult(summary, series, fc_rows)


def _run_local(exp: Experiment, windows: list[Window], pool: LocalPool, progress: Callable[[int], None]):
    items = [((w.index, i), np.asarray(y, dtype=float)) for w in windows for i, y in enumerate(w.context.values)]
    n_chunks = max(1, min(len(items), pool.workers * 8))
    chunks = [items[k::n_chunks] for k in range(n_chunks)]
    forecasts: dict[tuple[int, int], Forecast] = {}
    failures: dict[tuple[int, int], str] = {}
    per_series_s: dict[tuple[int, int], float] = {}
    fit_s = cpu_s = 0.0
    peak = 0.0
    args = (exp.model.cls, exp.model.name, exp.params, exp.task.horizon, exp.task.season_length, exp.seed)
    for chunk, result in pool.map_chunks(_fit_predict_chunk, chunks, *args):
        if isinstance(result, BaseException):
            for key, _ in chunk:
                failures[key] = f"worker process died: {_format_error(result)}"
        else:
            rows, rss = result
            peak = max(peak, rss)
            for key, fc, err, wall, cpu in rows:
                fit_s += wall
                cpu_s += cpu
                per_series_s[key] = wall
                if err is None:
                    forecasts[key] = fc
                else:
                    failures[key] = err
        progress(len(chunk))
    timing = {"device": "cpu", "fit_s": fit_s, "predict_s": 0.0, "cpu_s": cpu_s, "peak_rss_mb": peak, "per_series_s": per_series_s}
    return forecasts, failures, timing


def _run_global(exp: Experiment, windows: list[Window], progress: Callable[[int], None]):
    task = exp.task
    model = exp.model.build(horizon=task.horizon, season_length=task.season_length, seed=exp.seed, params=exp.params)
    fit_timer = Timer(model.synchronize)
    predict_timer = Timer(model.synchronize)
    forecasts: dict[tuple[int, int], Forecast] = {}
    failures: dict[tuple[int, int], str] = {}
    message = ""
    fitted = False
    try:
        model.warm_up(windows[0].context)
    except Exception:  # noqa: BLE001 - a real problem shows up again, and is recorded, in fit
        pass
    for w in windows:
        keys = [(w.index, i) for i in range(len(w.context))]
        try:
            if not fitted or task.protocol.refit_global:
                with fit_timer:
                    model.fit(w.context)
                fitted = True
            with predict_timer:
                out = model.predict(w.context)
            per_series = _split_global_output(out, len(w.context))
        except Exception as exc:  # noqa: BLE001
            message = _format_error(exc)
            failures.update({k: message for k in keys})
            if not fitted:
                failures.update({(v.index, i): message for v in windows for i in range(len(v.context))})
                progress(sum(len(v.context) for v in windows))
                break
            progress(len(keys))
            continue
        for key, raw in zip(keys, per_series):
            try:
                forecasts[key] = as_forecast(raw, task.horizon)
            except ValueError as exc:
                failures[key] = _format_error(exc)
        progress(len(keys))
    timing = {
        "device": model.device,
        "device_name": model.device_name,
        "peak_device_mb": model.peak_device_memory_mb(),
        "fit_s": fit_timer.wall_s,
        "predict_s": predict_timer.wall_s,
        "cpu_s": fit_timer.cpu_s + predict_timer.cpu_s,
        "peak_rss_mb": peak_rss_mb(),
        "per_series_s": {},
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


def _score(exp: Experiment, windows: list[Window], forecasts: dict, failures: dict, timing: dict):
    """Per-series metric rows and long-format forecast rows."""
    task = exp.task
    panel = task.dataset.panel
    m = task.season_length
    series_rows = []
    fc_cols: dict[str, list] = {k: [] for k in ("unique_id", "window", "origin", "step", "y", "yhat", "lo", "hi")}
    steps = np.arange(1, task.horizon + 1)
    for w in windows:
        for i, uid in enumerate(panel.ids):
            key = (w.index, i)
            row = {"unique_id": uid, "category": panel.categories[i], "window": w.index, "origin": w.cutoffs[i],
                   "series_s": timing["per_series_s"].get(key, np.nan)}
            truth = w.truth[i]
            fc = forecasts.get(key)
            if fc is None:
                row.update(status="failed", message=failures.get(key, "no forecast"))
                row.update({k: np.nan for k in metrics.SCORE_NAMES})
            else:
                row.update(status="ok", message="")
                row.update(metrics.series_scores(truth, fc.mean, w.context.values[i], m, fc.lower, fc.upper, fc.level))
                fc_cols["unique_id"].extend([uid] * task.horizon)
                fc_cols["window"].extend([w.index] * task.horizon)
                fc_cols["origin"].extend([w.cutoffs[i]] * task.horizon)
                fc_cols["step"].extend(steps)
                fc_cols["y"].extend(truth)
                fc_cols["yhat"].extend(fc.mean)
                nan = np.full(task.horizon, np.nan)
                fc_cols["lo"].extend(nan if fc.lower is None else fc.lower)
                fc_cols["hi"].extend(nan if fc.upper is None else fc.upper)
            series_rows.append(row)
    ident = {"dataset": task.name, "model": exp.model.name, "seed": exp.seed}
    series = pd.DataFrame(series_rows).assign(**ident)
    fc_df = pd.DataFrame(fc_cols).assign(**ident)
    return series, fc_df
