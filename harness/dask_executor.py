"""The ``dask`` executor: units as ``dask.distributed`` futures (see :mod:`harness.executors`).

A module of its own so that importing the harness never imports ``distributed`` (an optional
extra, and half a second of start-up) unless a run asks for ``--executor dask``.
"""

from __future__ import annotations

import time
from collections import deque
from collections.abc import Iterator
from typing import Any

import dask
from distributed import Client, KilledWorker, LocalCluster, wait
from distributed.diagnostics.plugin import WorkerPlugin

from harness.errors import one_line
from harness.executors import (
    Done,
    Executor,
    Lost,
    Outcome,
    Unit,
    UnitTimeout,
    load_plugins,
    lost,
)


class DaskExecutor(Executor):
    """Units as ``dask.distributed`` futures (``pure=False``: every unit runs, none is cached)."""

    name = "dask"

    def __init__(self, workers: int, scheduler: str | None = None, plugins_dir: str | None = None) -> None:
        super().__init__(workers)
        self._cluster = None
        if scheduler:
            self.client = Client(scheduler, timeout="30s")
        else:
            # a unit that kills its worker is lost at once, not retried 3 times on other workers
            with dask.config.set({"distributed.scheduler.allowed-failures": 0}):
                self._cluster = LocalCluster(
                    n_workers=self.workers, threads_per_worker=1, processes=True, dashboard_address=":0"
                )
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
                    yield Lost(unit, "crash", f"worker process died ({one_line(exc, limit=300, with_type=True)})")
                except (UnitTimeout, Exception) as exc:  # raised in the worker and sent back, or not sendable
                    yield lost(unit, exc)
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

        def where(dask_scheduler) -> dict:
            return {
                str(ts.key): ts.processing_on.address
                for ts in dask_scheduler.tasks.values()
                if ts.processing_on is not None
            }

        try:
            return self.client.run_on_scheduler(where)
        except Exception:  # without it, time limits count from submission
            return {}

    def _restart(self, address: str | None) -> None:
        if address:
            try:
                self.client.restart_workers([address], timeout=60)
            except Exception:  # the worker may already be gone
                pass

    def close(self) -> None:
        if getattr(self, "client", None) is not None:
            self.client.close()
            self.client = None
        if self._cluster is not None:
            self._cluster.close()
            self._cluster = None


class _PluginLoader(WorkerPlugin):
    """A dask WorkerPlugin: :func:`load_plugins` when a worker starts."""

    def __init__(self, plugins_dir: str | None) -> None:
        self.plugins_dir = plugins_dir

    def setup(self, worker: Any) -> None:
        load_plugins(self.plugins_dir)
