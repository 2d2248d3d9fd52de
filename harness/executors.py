"""Where the work of a run executes: ``serial``, ``processes`` (default) or ``dask``.

The runner cuts an experiment into *units* (a chunk of series of a local model, or a whole global
experiment) and hands them to an executor; each unit is a plain function call whose result comes
back as :class:`Done` or as :class:`Lost` (the worker process died, or the unit ran past its time
limit). The runner decides what a lost unit costs (see :mod:`harness.runner`): a lost chunk is
retried series by series, so a plugin that crashes or hangs costs only its own rows.

* ``serial`` runs units in this process, one after another: for debugging (a debugger and
  prints work). Time limits use ``SIGALRM``; a plugin that kills the process kills the run.
* ``processes`` runs them in a pool of worker processes (pebble, fork start method): a worker
  that dies (``os._exit``, a segfault) is replaced, and a unit past its time limit is killed.
* ``dask`` submits them to a ``dask.distributed`` cluster (``--scheduler ADDRESS``), or to a
  ``LocalCluster`` of ``workers`` single-threaded processes when no address is given. Workers
  import the run's plugins when they start (built-ins and installed plugins must be installed
  there; a ``--plugins-dir`` must be readable at the same path on every worker). Units are
  submitted as worker threads free up, so a worker that dies takes only the unit it was running
  (after the scheduler's ``allowed-failures`` retries; none on a LocalCluster); a unit past its
  limit is reported lost and its worker restarted, since a thread cannot be killed.

Results are identical whichever executor runs a unit: the unit carries its model, parameters,
seed and data, and runs with one BLAS thread per local fit everywhere.
"""

from __future__ import annotations

import multiprocessing
import signal
import threading
import time
from collections import deque
from concurrent.futures import TimeoutError as FutureTimeout
from concurrent.futures import as_completed
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any, Callable, Iterator

EXECUTORS = ("serial", "processes", "dask")


class UnitTimeout(Exception):
    """A unit (or one series inside it) ran past its time limit."""


@dataclass
class Unit:
    """One call ``fn(*args)`` with a time limit in seconds (None: no limit); ``tag`` is the
    caller's, returned with the outcome. ``fresh`` asks for a worker started from a clean
    interpreter (spawn, not fork): global models may use torch threads or CUDA, which a process
    forked from a parent that used them cannot safely use."""

    fn: Callable[..., Any]
    args: tuple
    timeout: float | None = None
    tag: Any = None
    fresh: bool = False


@dataclass
class Done:
    unit: Unit
    value: Any


@dataclass
class Lost:
    """The unit produced nothing: ``kind`` is ``"timeout"`` or ``"crash"`` (with the message)."""

    unit: Unit
    kind: str
    message: str


Outcome = Done | Lost


@contextmanager
def alarm(seconds: float | None) -> Iterator[None]:
    """Raise :class:`UnitTimeout` in this (main) thread after ``seconds``; a no-op without a
    limit or off the main thread (dask worker threads: the driver enforces the limit there).

    A signal interrupts Python code between bytecodes, so a plugin stuck inside one long C call
    is only stopped by the executor's hard limit (``processes`` kills the worker)."""
    if not seconds or threading.current_thread() is not threading.main_thread():
        yield
        return

    def _raise(signum, frame):  # noqa: ANN001, ARG001
        raise UnitTimeout(f"timed out after {seconds:g} s")

    previous = signal.signal(signal.SIGALRM, _raise)
    signal.setitimer(signal.ITIMER_REAL, float(seconds))
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)


class Executor:
    """Runs units and yields their outcomes as they finish (in any order)."""

    name = "base"

    def __init__(self, workers: int) -> None:
        self.workers = max(1, int(workers))

    def run(self, units: list[Unit]) -> Iterator[Outcome]:
        raise NotImplementedError

    def close(self) -> None:
        """Release workers and connections; safe to call twice."""

    def __enter__(self) -> "Executor":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class SerialExecutor(Executor):
    name = "serial"

    def __init__(self, workers: int = 1) -> None:
        super().__init__(1)

    def run(self, units: list[Unit]) -> Iterator[Outcome]:
        for unit in units:
            try:
                with alarm(unit.timeout):
                    value = unit.fn(*unit.args)
            except UnitTimeout as exc:
                yield Lost(unit, "timeout", str(exc))
                continue
            except Exception as exc:  # noqa: BLE001 - as the other executors report it
                yield Lost(unit, "crash", f"unit failed outside the model: {_first_line(exc)}")
                continue
            yield Done(unit, value)


class ProcessExecutor(Executor):
    """pebble process pools: dead workers are replaced, overdue units killed. Local chunks go to
    forked workers (cheap to start, inherit loaded plugins); ``fresh`` units to spawned ones."""

    name = "processes"

    def __init__(self, workers: int, plugins_dir: str | None = None) -> None:
        super().__init__(workers)
        self.plugins_dir = plugins_dir
        self._pools: dict[str, Any] = {}

    def _pool(self, method: str):  # noqa: ANN202
        if method not in self._pools:
            from pebble import ProcessPool

            # a spawned worker starts empty: it imports the same plugins before its first unit
            init = (load_plugins, (self.plugins_dir,)) if method == "spawn" else (None, ())
            self._pools[method] = ProcessPool(max_workers=self.workers, context=multiprocessing.get_context(method),
                                              initializer=init[0], initargs=init[1])
        return self._pools[method]

    def run(self, units: list[Unit]) -> Iterator[Outcome]:
        from pebble import ProcessExpired

        futures = {self._pool("spawn" if u.fresh else "fork").schedule(u.fn, args=u.args, timeout=u.timeout): u
                   for u in units}
        try:
            for future in as_completed(futures):
                unit = futures[future]
                try:
                    yield Done(unit, future.result())
                except FutureTimeout:
                    yield Lost(unit, "timeout", f"timed out after {unit.timeout:g} s (worker killed)")
                except ProcessExpired as exc:
                    yield Lost(unit, "crash", f"worker process died ({_exit_reason(exc.exitcode)})")
                except Exception as exc:  # noqa: BLE001 - e.g. a result that cannot be sent back
                    yield Lost(unit, "crash", f"unit failed outside the model: {_first_line(exc)}")
        finally:  # the caller stopped early (experiment time limit): stop what is left
            for future in futures:
                future.cancel()

    def close(self) -> None:
        for pool in self._pools.values():
            pool.stop()
            pool.join()
        self._pools = {}


class DaskExecutor(Executor):
    """Units as ``dask.distributed`` futures (``pure=False``: every unit runs, none is cached)."""

    name = "dask"

    def __init__(self, workers: int, scheduler: str | None = None, plugins_dir: str | None = None) -> None:
        super().__init__(workers)
        import dask
        from distributed import Client, LocalCluster

        self.scheduler = scheduler
        self._cluster = None
        if scheduler:
            self.client = Client(scheduler, timeout="30s")
        else:
            # a unit that kills its worker is lost at once, not retried 3 times on other workers
            with dask.config.set({"distributed.scheduler.allowed-failures": 0}):
                self._cluster = LocalCluster(n_workers=self.workers, threads_per_worker=1, processes=True,
                                             dashboard_address=":0")
            self.client = Client(self._cluster)
        self.workers = max(1, len(self.client.scheduler_info().get("workers", {})) or self.workers)
        # every worker (and any that joins or restarts later) imports the run's plugins first
        self.client.register_plugin(_PluginLoader(plugins_dir), name="rnnbench-plugins")

    def run(self, units: list[Unit]) -> Iterator[Outcome]:
        queue = deque(units)
        pending: dict[Any, Unit] = {}
        try:
            yield from self._collect(queue, pending)
        finally:  # the caller stopped early (experiment time limit): stop what is left
            if pending:
                self.client.cancel(list(pending))

    def _slots(self) -> int:
        """Units the cluster can run at once (its worker threads)."""
        workers = self.client.scheduler_info().get("workers", {})
        return max(1, sum(int(w.get("nthreads", 1)) for w in workers.values()))

    def _collect(self, queue: deque, pending: dict) -> Iterator[Outcome]:
        from distributed import KilledWorker, wait

        # Units are submitted only as threads free up, never all at once: a worker that dies
        # fails every task the scheduler had placed on it, so a queue of innocent units behind a
        # crashing one would be lost with it (seen as a flaky "worker died" on a healthy series).
        slots = self._slots()
        started: dict[Any, float] = {}
        while queue or pending:
            while queue and len(pending) < slots:
                unit = queue.popleft()
                pending[self.client.submit(unit.fn, *unit.args, pure=False)] = unit
            try:
                done, _ = wait(list(pending), timeout=1.0, return_when="FIRST_COMPLETED")
            except TimeoutError:
                done = set()
            now = time.monotonic()
            for future in done:
                unit = pending.pop(future)
                try:
                    yield Done(unit, future.result())
                except KilledWorker as exc:
                    yield Lost(unit, "crash", f"worker process died ({_first_line(exc)})")
                except Exception as exc:  # noqa: BLE001 - e.g. a result that cannot be sent back
                    yield Lost(unit, "crash", f"unit failed outside the model: {_first_line(exc)}")
            # where units run is only needed to enforce time limits: don't poll the scheduler otherwise
            processing = self._processing() if any(u.timeout for u in pending.values()) else {}
            for future, unit in list(pending.items()):
                if future.key in processing and future not in started:
                    started[future] = now
                if unit.timeout and future in started and now - started[future] > unit.timeout:
                    pending.pop(future)
                    self.client.cancel(future)
                    self._restart(processing.get(future.key))
                    yield Lost(unit, "timeout", f"timed out after {unit.timeout:g} s (worker restarted)")

    def _processing(self) -> dict[str, str]:
        """Task key -> address of the worker running it now."""
        def where(dask_scheduler) -> dict:  # noqa: ANN001
            return {str(ts.key): ts.processing_on.address for ts in dask_scheduler.tasks.values()
                    if ts.processing_on is not None}
        try:
            return self.client.run_on_scheduler(where)
        except Exception:  # noqa: BLE001 - without it, time limits count from submission
            return {}

    def _restart(self, address: str | None) -> None:
        if address:
            try:
                self.client.restart_workers([address], timeout=60)
            except Exception:  # noqa: BLE001 - the worker may already be gone
                pass

    def close(self) -> None:
        if getattr(self, "client", None) is not None:
            self.client.close()
            self.client = None
        if self._cluster is not None:
            self._cluster.close()
            self._cluster = None


def load_plugins(plugins_dir: str | None) -> None:
    """Import the plugins a run uses (built-ins, entry points, ``plugins_dir`` files) into this
    worker, so the model classes units refer to can be unpickled here."""
    from harness.plugins import load_registry

    load_registry(plugins_dir)


try:  # dask is optional: the `dask` extra
    from distributed.diagnostics.plugin import WorkerPlugin as _WorkerPlugin
except ImportError:  # pragma: no cover - only the dask executor needs it
    _WorkerPlugin = object


class _PluginLoader(_WorkerPlugin):
    """A dask WorkerPlugin: :func:`load_plugins` when a worker starts."""

    def __init__(self, plugins_dir: str | None) -> None:
        self.plugins_dir = plugins_dir

    def setup(self, worker: Any) -> None:  # noqa: ARG002
        load_plugins(self.plugins_dir)


def _first_line(exc: BaseException) -> str:
    return f"{type(exc).__name__}: {exc}".splitlines()[0][:300]


def _exit_reason(code: int | None) -> str:
    if code is not None and code < 0:
        try:
            return f"killed by {signal.Signals(-code).name}"
        except ValueError:
            return f"killed by signal {-code}"
    return f"exit code {code}"


def make_executor(name: str, workers: int, scheduler: str | None = None, plugins_dir: str | None = None) -> Executor:
    """The executor called ``name`` (one of :data:`EXECUTORS`)."""
    if name == "serial":
        return SerialExecutor()
    if name == "processes":
        return ProcessExecutor(workers, plugins_dir)
    if name == "dask":
        return DaskExecutor(workers, scheduler, plugins_dir)
    raise ValueError(f"unknown executor {name!r}; choose from {', '.join(EXECUTORS)}")


@dataclass
class RunOptions:
    """How a run executes (not what it computes): recorded in the manifest, not in config ids,
    so a run may be resumed with another executor or worker count."""

    executor: str = "processes"
    workers: int = 1
    scheduler: str | None = None
    timeout_series: float | None = None
    timeout_experiment: float | None = None
    plugins_dir: str | None = None
