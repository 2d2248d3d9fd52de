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
* ``dask`` (:mod:`harness.dask_executor`) submits them to a ``dask.distributed`` cluster
  (``--scheduler ADDRESS``), or to a ``LocalCluster`` of ``workers`` single-threaded processes
  when no address is given. Workers import the run's plugins when they start (built-ins and
  installed plugins must be installed there; a ``--plugins-dir`` must be readable at the same
  path on every worker). Units are submitted as worker threads free up, so a worker that dies
  takes only the unit it was running (after the scheduler's ``allowed-failures`` retries; none
  on a LocalCluster); a unit past its limit is reported lost and its worker restarted, since a
  thread cannot be killed.

Results are identical whichever executor runs a unit: the unit carries its model, parameters,
seed and data, and runs with one BLAS thread per local fit everywhere.
"""

from __future__ import annotations

import ctypes
import multiprocessing
import signal
import threading
from collections.abc import Callable, Iterator
from concurrent.futures import TimeoutError as FutureTimeout
from concurrent.futures import as_completed
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from harness.errors import one_line

EXECUTORS = ("serial", "processes", "dask")


class UnitTimeout(BaseException):
    """A unit (or one series inside it) ran past its time limit.

    A ``BaseException``, like ``KeyboardInterrupt``: model code's catch-alls (``except
    Exception``) cannot swallow it and carry on with something else, which would turn a time
    limit into a different, timing-dependent forecast. Only the harness catches it (by name)."""


#: A time limit of at least this many seconds (about 115 days), or ``inf``, means "no limit":
#: the timers cannot represent much longer ones (``inf`` overflowed ``setitimer``) and a limit
#: that long can never fire within a run anyway.
NO_LIMIT_S = 1e7


def limit_or_none(seconds: float | None) -> float | None:
    """A time limit as the timers take it: None for no limit (None, 0, ``inf`` or ``>= NO_LIMIT_S``)."""
    if not seconds or not seconds < NO_LIMIT_S:
        return None
    return float(seconds)


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
    """Raise :class:`UnitTimeout` in this thread after ``seconds``; a no-op without a limit.

    In the main thread (serial, processes) a ``SIGALRM``; in any other thread (a dask worker
    runs tasks in a thread pool, where signals cannot reach) a timer thread raises it in this
    one with ``PyThreadState_SetAsyncExc``. Both interrupt Python code between bytecodes, so a
    plugin stuck inside one long C call is only stopped by the executor's hard limit
    (``processes`` kills the worker; ``dask`` restarts it). ``inf`` or a limit of
    :data:`NO_LIMIT_S` or more is no limit."""
    seconds = limit_or_none(seconds)
    if seconds is None:
        yield
        return
    message = f"timed out after {seconds:g} s"
    if threading.current_thread() is not threading.main_thread():
        with _thread_alarm(float(seconds), message):
            yield
        return

    def _raise(signum, frame):
        raise UnitTimeout(message)

    previous = signal.signal(signal.SIGALRM, _raise)
    signal.setitimer(signal.ITIMER_REAL, float(seconds))
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)


@contextmanager
def _thread_alarm(seconds: float, message: str) -> Iterator[None]:
    """:func:`alarm` off the main thread. The lock makes "fired" and "left the block" exclusive:
    once the block is left no exception can be scheduled, and one scheduled but not yet raised
    is withdrawn, so it never surfaces in the code after the block."""
    set_async_exc = ctypes.pythonapi.PyThreadState_SetAsyncExc
    target = ctypes.c_ulong(threading.get_ident())

    class Expired(UnitTimeout):  # SetAsyncExc takes a class; it is raised without arguments
        def __init__(self) -> None:
            super().__init__(message)

    lock = threading.Lock()
    state = {"inside": True, "fired": False}

    def fire() -> None:
        with lock:
            if state["inside"]:
                state["fired"] = True
                set_async_exc(target, ctypes.py_object(Expired))

    timer = threading.Timer(seconds, fire)
    timer.daemon = True
    timer.start()
    try:
        yield
    finally:
        with lock:
            state["inside"] = False
            if state["fired"]:
                set_async_exc(target, None)  # withdraw it if it has not been raised yet
        timer.cancel()


class Executor:
    """Runs units and yields their outcomes as they finish (in any order)."""

    name = "base"

    def __init__(self, workers: int) -> None:
        self.workers = max(1, int(workers))

    def run(self, units: list[Unit]) -> Iterator[Outcome]:
        raise NotImplementedError

    def close(self) -> None:
        """Release workers and connections; safe to call twice."""

    def __enter__(self) -> Executor:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def lost(unit: Unit, exc: BaseException) -> Lost:
    """What a unit that raised outside the model's own error handling is: a ``timeout`` when the
    harness's time limit stopped it (:class:`UnitTimeout`, a BaseException, also when raised in a
    worker and sent back), else a ``crash`` with the one-line reason. Every executor reports it so."""
    if isinstance(exc, UnitTimeout):
        return Lost(unit, "timeout", str(exc))
    return Lost(unit, "crash", f"unit failed outside the model: {one_line(exc, limit=300, with_type=True)}")


class SerialExecutor(Executor):
    name = "serial"

    def __init__(self, workers: int = 1) -> None:
        super().__init__(1)

    def run(self, units: list[Unit]) -> Iterator[Outcome]:
        for unit in units:
            try:
                with alarm(unit.timeout):
                    value = unit.fn(*unit.args)
            except (UnitTimeout, Exception) as exc:  # as the other executors report it
                yield lost(unit, exc)
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
        self._lock = threading.Lock()

    def _pool(self, method: str):
        with self._lock:  # global experiments run side by side share the pools
            return self._pool_unlocked(method)

    def _pool_unlocked(self, method: str):
        if method not in self._pools:
            from pebble import ProcessPool

            # a spawned worker starts empty: it imports the same plugins before its first unit
            init = (load_plugins, (self.plugins_dir,)) if method == "spawn" else (None, ())
            self._pools[method] = ProcessPool(
                max_workers=self.workers,
                context=multiprocessing.get_context(method),
                initializer=init[0],
                initargs=init[1],
            )
        return self._pools[method]

    def run(self, units: list[Unit]) -> Iterator[Outcome]:
        from pebble import ProcessExpired

        with _workers_ignore_sigint():
            futures = {
                self._pool("spawn" if u.fresh else "fork").schedule(u.fn, args=u.args, timeout=u.timeout): u
                for u in units
            }
        try:
            for future in as_completed(futures):
                unit = futures[future]
                try:
                    yield Done(unit, future.result())
                except FutureTimeout:
                    yield Lost(unit, "timeout", f"timed out after {unit.timeout:g} s (worker killed)")
                except ProcessExpired as exc:
                    yield Lost(unit, "crash", f"worker process died ({_exit_reason(exc.exitcode)})")
                except (UnitTimeout, Exception) as exc:  # raised in the worker and sent back, or not sendable
                    yield lost(unit, exc)
        finally:  # the caller stopped early (experiment time limit): stop what is left
            for future in futures:
                future.cancel()

    def close(self) -> None:
        for pool in self._pools.values():
            pool.stop()
            pool.join()
        self._pools = {}


@contextmanager
def _workers_ignore_sigint() -> Iterator[None]:
    """Workers started in here (the pools start theirs on the first ``schedule``) ignore Ctrl-C
    from their first instruction: SIGINT is *ignored* in this process meanwhile, a disposition a
    spawned interpreter inherits (pebble ignores it too, but only once the worker has imported
    everything). Ctrl-C reaches the whole process group; the run's process alone handles it and
    stops the workers. A Ctrl-C within these milliseconds is lost (press it again)."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = signal.signal(signal.SIGINT, signal.SIG_IGN)
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, previous)


def load_plugins(plugins_dir: str | None) -> None:
    """Import the plugins a run uses (built-ins, entry points, ``plugins_dir`` files) into this
    worker, so the model classes units refer to can be unpickled here."""
    from harness.plugins import load_registry

    load_registry(plugins_dir)


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
    if name == "dask":  # its own module: runs without dask never import distributed (0.5 s)
        from harness.dask_executor import DaskExecutor

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
    #: also print every failure's traceback to stderr as it is logged (``rnnbench --debug``)
    debug: bool = False

    def __post_init__(self) -> None:
        # ``inf`` (or a limit too long to ever fire) is no limit: recorded as None in the
        # manifest, and never multiplied into a unit limit the timers cannot represent
        self.timeout_series = limit_or_none(self.timeout_series)
        self.timeout_experiment = limit_or_none(self.timeout_experiment)
