"""Wall and CPU timers, device synchronisation and peak memory.

GPU work is asynchronous, so a clock read without a synchronisation measures only the launch:
the timer calls the model's ``synchronize()`` before each read. CPU time is the process's own
(``time.process_time``), which also counts BLAS threads.
"""

from __future__ import annotations

import os
import platform
import resource
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass


@dataclass
class Timer:
    """Accumulates wall and CPU seconds over several timed blocks."""

    synchronize: Callable[[], None] = lambda: None
    wall_s: float = 0.0
    cpu_s: float = 0.0

    def __enter__(self) -> Timer:
        self.synchronize()
        self._wall0 = time.perf_counter()
        self._cpu0 = time.process_time()
        return self

    def __exit__(self, *exc: object) -> None:
        self.synchronize()
        self.wall_s += time.perf_counter() - self._wall0
        self.cpu_s += time.process_time() - self._cpu0


def peak_rss_mb() -> float:
    """Peak resident set size of this process so far, in MiB (Linux reports KiB, macOS bytes)."""
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak / (1024 * 1024) if sys.platform == "darwin" else peak / 1024


def thread_count() -> int:
    """Threads available to numerical libraries: the BLAS/OpenMP limit if set, else the cores."""
    for var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
        value = os.environ.get(var, "")
        if value.isdigit():
            return int(value)
    return os.cpu_count() or 1


def hardware() -> dict:
    """What the numbers were measured on, recorded in every run manifest."""
    cpu = platform.processor() or platform.machine()
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    cpu = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    mem_gb = None
    try:
        mem_gb = round(os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 1024**3, 1)
    except (ValueError, OSError, AttributeError):
        pass
    return {
        "machine": platform.machine(),
        "system": platform.system(),
        "cpu": cpu,
        "cores": os.cpu_count(),
        "memory_gb": mem_gb,
        "python": platform.python_version(),
    }
