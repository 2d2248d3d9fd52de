"""A whole run: from options to a finished run directory (plan, checkpoint, resume, report).

Everything that can be wrong with the input (suite, models, parameters, datasets, a resume with
another config) is checked before the run directory is created, so bad input writes nothing.

Models a plugin registered as unavailable (:class:`harness.Unavailable`: the torch models without
the ``torch`` extra) are left out of a *built-in* suite given by name (``--suite quick``, or none),
with one warning naming them and what to install: those suites are the project's defaults and
run on every install. A model named explicitly is never left out: ``--models``, ``-p MODEL.x=...``
or a suite file given by path (it names its models as ``--models`` does) fail with one line that
says what to install. A resumed run keeps its stored models (and fails the same way).

The output location is checked first of all (a folder it can create or write into: not a file,
``/dev/null``, a name too long or a read-only file system), so an unusable ``--out`` is bad input
too. Once the run has started, what stops it is not bad input: an output that cannot be written (a
full disk: :class:`harness.errors.OutputError`) or Ctrl-C removes this process's temporary files,
keeps every finished checkpoint, releases the lock and ends with one line giving the ``--resume``
command, exit code :data:`EXIT_OS_ERROR` (74) or :data:`EXIT_INTERRUPTED` (130).
"""

from __future__ import annotations

import copy
import dataclasses
import queue
import shlex
import signal
import sys
import threading
import time
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import Any, NamedTuple

import click
import pandas as pd
from tqdm import tqdm

from harness.errors import (
    EXIT_FAILED,
    EXIT_INTERRUPTED,
    EXIT_OK,
    EXIT_OS_ERROR,
    ModelError,
    OptionError,
    OutputError,
    RunStopped,
    SuiteError,
    one_line,
    os_reason,
)
from harness.executors import RunOptions, make_executor
from harness.plugins import Registry
from harness.report import build_report, terminal_summary
from harness.runner import plan, resolve_datasets, run_experiment, work_units
from harness.store import RunStore, check_output_dir, default_run_dir, remove_own_temps
from harness.suite import DEFAULT_SUITE, RunConfig, apply_overrides, is_builtin_suite, load_suite, parse_param
from harness.tasks import ProtocolSpec


class Outcome(NamedTuple):
    """How a run ended: the command's exit code (0, or 1 when some series failed) and its folder."""

    code: int
    root: Path


class SkippedModelsWarning(UserWarning):
    """A built-in suite runs without models that cannot be used here (an optional extra missing)."""


def build_config(options: dict[str, Any], base: RunConfig | None = None) -> RunConfig:
    """The suite (or ``base``, the config of a run being resumed) with command-line overrides."""
    config = copy.deepcopy(base) if base is not None else load_suite(options.get("suite") or DEFAULT_SUITE)
    protocol = None
    if options.get("protocol") or options.get("windows") or options.get("step"):
        current = config.protocol
        kind = options.get("protocol") or ("rolling" if options.get("windows") else current.kind)
        if kind == "holdout" and (options.get("windows") or options.get("step")):
            given = "--windows" if options.get("windows") else "--step"
            raise OptionError(
                f"{given} applies to the rolling protocol: add --protocol rolling (holdout has one window)"
            )
        protocol = ProtocolSpec(
            kind=kind,
            windows=options.get("windows") or current.windows,
            step=options.get("step") or current.step,
            refit_global=current.refit_global,
        )
    return apply_overrides(
        config,
        models=options.get("models"),
        datasets=options.get("datasets"),
        seeds=options.get("seeds"),
        limit=options.get("limit"),
        horizon=options.get("horizon"),
        params=options.get("params") or [],
        protocol=protocol,
        date_format=options.get("date_format"),
        levels=options.get("levels"),
    )


def skip_unavailable(config: RunConfig, registry: Registry, options: dict[str, Any]) -> None:
    """Leave out of ``config`` the models of a built-in suite that ``registry`` knows but cannot
    use here, with one :class:`SkippedModelsWarning` naming them and what to install. Models
    named explicitly (``--models``, a suite file given by path) are kept, so that planning fails
    on them with a line that names what to install; ``-p`` naming such a model fails here."""
    missing = [name for name in config.models if name in registry.unavailable]
    suite = options.get("suite") or DEFAULT_SUITE
    if not missing or options.get("models") is not None or not is_builtin_suite(suite):
        return
    for text in options.get("params") or []:
        model = parse_param(text)[0]
        if model in missing:
            raise ModelError(f"--param {text!r}: {registry.unavailable[model].message()}")
    why: dict[str, list[str]] = {}
    for name in missing:
        why.setdefault(registry.unavailable[name].why, []).append(name)
    text = "; ".join(f"{', '.join(names)}: {reason}" for reason, names in why.items())
    if len(missing) == len(config.models):
        raise SuiteError(f"suite {suite}: none of its models can run here: {text}")
    for name in missing:
        del config.models[name]
    warnings.warn(f"suite {suite} runs without {text}", SkippedModelsWarning, stacklevel=2)


def execute(
    registry: Registry,
    options: dict[str, Any],
    *,
    run: RunOptions,
    out: str | None,
    resume: str | None,
    results_dir: Path,
    argv: list[str],
    after_run: Callable[[RunStore], None] | None = None,
    resume_command: str = "rnnbench run --resume",
    reraise: bool = False,
) -> Outcome:
    """Run (or resume) a suite; return the exit code (0 all ok, 1 something failed, 74 stopped
    by an output that could not be written, 130 interrupted; the last two print
    ``resume_command RUN_DIR``, which finishes the run) and the run directory. With
    ``reraise`` (the Python API), the error or ``KeyboardInterrupt`` that stopped the run is
    raised again after that cleanup and line, instead of becoming an exit code.

    ``after_run(store)`` runs once the results are written and before the report is built, so a
    study can add its own tables (``studies/<kind>/``) to the run's report."""
    if resume:
        store = RunStore.open(Path(resume))
        store.check_writable()
        stored = store.config()
        if options.get("suite"):
            config = build_config(options)
            skip_unavailable(config, registry, options)
        else:
            config = build_config(options, base=stored)
        store.check_same_config(config)
    else:
        check_output_dir(Path(out) if out else results_dir)
        config = build_config(options)
        skip_unavailable(config, registry, options)
    datasets = resolve_datasets(config, registry)
    experiments = plan(config, registry, datasets)
    if not resume:
        root = Path(out) if out else default_run_dir(results_dir, config.suite)
        plugins = [vars(p) | {"hooks": list(p.hooks)} for p in registry.plugins]
        store = RunStore.create(root, config, {d.name: d.fingerprint() for d in datasets}, plugins, argv)
    with store.lock():
        try:
            return Outcome(_run(store, experiments, datasets, run, after_run), store.root)
        except (OSError, KeyboardInterrupt) as exc:
            code = _stopped(store, exc, resume_command)
            if reraise:
                raise
            return Outcome(code, store.root)


def concurrent_experiments(todo: list, run: RunOptions) -> list:
    """The experiments that run side by side, ``run.workers`` at a time: the global models'.

    A local model's experiment already keeps every worker busy with chunks of its series; a
    global one is a single unit (one fit on all series, one torch or BLAS thread), so one after
    another they keep one core busy whatever ``--workers`` says. Side by side each still has a
    core of its own, so its CPU and wall time mean what they meant alone. The serial executor
    runs units in this thread under a signal alarm, which only the main thread may set: there
    they run one by one."""
    if run.executor == "serial" or run.workers < 2:
        return []
    return [e for e in todo if e.model.scope != "local"]


def run_concurrently(one: Callable[[Any], None], experiments: list, workers: int, stopping: threading.Event) -> None:
    """``one(exp)`` for each experiment, at most ``workers`` at once, in daemon threads. The
    first exception (an output error in a thread, Ctrl-C in the main thread) sets ``stopping``,
    starts nothing more and is raised at once; the caller then closes the executor, which ends
    the running units, and their threads discard their checkpoints (``one`` checks
    ``stopping``). Daemon threads, so a unit the closed pool never answers cannot keep the
    process alive after the run has stopped."""
    if not experiments:
        return
    todo: queue.SimpleQueue = queue.SimpleQueue()
    for exp in experiments:
        todo.put(exp)
    errors: queue.SimpleQueue = queue.SimpleQueue()

    def work() -> None:
        while not stopping.is_set():
            try:
                exp = todo.get_nowait()
            except queue.Empty:
                return
            try:
                one(exp)
            except BaseException as exc:  # handed to the main thread, which raises it
                if not stopping.is_set():
                    errors.put(exc)
                stopping.set()
                return

    threads = [
        threading.Thread(target=work, name=f"experiment-{i}", daemon=True)
        for i in range(min(workers, len(experiments)))
    ]
    for thread in threads:
        thread.start()
    try:
        for thread in threads:
            while thread.is_alive():
                thread.join(0.2)  # a timed join: Ctrl-C reaches this thread at once
    except BaseException:
        stopping.set()
        raise
    if not errors.empty():
        raise errors.get()


def _stopped(store: RunStore, exc: BaseException, resume_command: str) -> int:
    """A run stopped by an operating-system error or Ctrl-C (its workers already stopped, the
    lock still held): remove this process's temporary files, say in one line why and how to
    finish the run, and return the exit code."""
    try:  # a second Ctrl-C must not cut the cleanup short (signals: main thread only)
        previous = signal.signal(signal.SIGINT, signal.SIG_IGN)
    except ValueError:
        previous = None
    try:
        remove_own_temps(store.root)
    finally:
        if previous is not None:
            signal.signal(signal.SIGINT, previous)
    again = f"{resume_command} {shlex.quote(str(store.root))}"
    if isinstance(exc, KeyboardInterrupt):
        click.echo(f"rnnbench: interrupted; finished experiments are kept; resume with: {again}", err=True)
        return EXIT_INTERRUPTED
    if isinstance(exc, OutputError):
        what = str(exc)
    else:
        where = f" ({exc.filename})" if getattr(exc, "filename", None) else ""
        what = f"{os_reason(exc) if exc.errno else one_line(exc, with_type=True)}{where}"
    click.echo(
        f"rnnbench: error: {what}; the run stopped, finished experiments are kept; "
        f"once that is fixed, resume with: {again}",
        err=True,
    )
    return EXIT_OS_ERROR


def _run(
    store: RunStore,
    experiments: list,
    datasets: list,
    run: RunOptions,
    after_run: Callable[[RunStore], None] | None,
) -> int:
    """The locked part of :func:`execute`: run what is not checkpointed yet, then write results,
    study tables and the report."""
    todo = [e for e in experiments if not store.is_done(e)]
    skipped = len(experiments) - len(todo)
    click.echo(
        f"rnnbench: {len(experiments)} experiments ({skipped} already done) on {len(datasets)} datasets "
        f"-> {store.root}",
        err=True,
    )
    started = time.perf_counter()
    most = work_units(todo)
    if run.workers > most:  # a pool of 1000 processes for 2 series would only sit idle
        click.echo(
            f"rnnbench: note: using {most} worker(s), not {run.workers}: no experiment of this run has more "
            "work units to run at once (series x windows of a local model, or global models side by side)",
            err=True,
        )
        run = dataclasses.replace(run, workers=most)
    store.record_run_options(run)
    executor = make_executor(run.executor, run.workers, run.scheduler, run.plugins_dir)
    units = sum(len(e.task.dataset.panel) * e.task.protocol.windows for e in todo)
    try:
        with tqdm(total=units, unit="series", disable=None, file=sys.stderr, dynamic_ncols=True) as bar:
            stopping = threading.Event()

            def one(exp: Any) -> None:
                bar.set_description(f"{exp.task.name} {exp.model.name} s{exp.seed}")
                # rows stream into the checkpoint chunk by chunk; it is renamed into place whole
                with store.part_writer(exp) as writer:
                    result = run_experiment(exp, executor, run, progress=bar.update, sink=writer)
                    if stopping.is_set():  # the run stopped meanwhile: its units were killed, not failed
                        raise RunStopped(exp.key)
                    writer.commit(result.summary)

            together = concurrent_experiments(todo, run)
            for exp in todo:
                if exp not in together:
                    one(exp)
            run_concurrently(one, together, run.workers, stopping)
    finally:
        executor.close()

    experiments_df = store.write_results(experiments)
    if after_run is not None:
        after_run(store)
    build_report(store)
    manifest = store.manifest()
    n_failed = int(experiments_df["n_failed"].sum())
    manifest["finished"] = pd.Timestamp.now(tz="UTC").isoformat(timespec="seconds")
    manifest["wall_s"] = round(manifest.get("wall_s", 0.0) + time.perf_counter() - started, 3)
    manifest["failed_series"] = n_failed
    store.write_manifest(manifest)

    click.echo(terminal_summary(store))
    if n_failed:
        click.echo(f"rnnbench: {n_failed} series forecasts failed; see the Failures section of the report", err=True)
    click.echo(f"report: {store.root / 'report.md'}")
    return EXIT_FAILED if n_failed else EXIT_OK
