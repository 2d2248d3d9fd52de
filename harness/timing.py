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


#: Timings of the reference workload per measurement; the median is recorded.
REFERENCE_REPEATS = 5


def reference_ms(repeats: int = REFERENCE_REPEATS) -> float:
    """CPU milliseconds of a fixed reference workload on this machine: the median of
    ``repeats`` timings (``time.process_time``, so BLAS threads count, as they do for models).

    Recorded once per run (manifest ``ref_ms``, speed.csv), so that CPU-ms per series measured on
    two machines compare through it (``cpu_per_ref``). The workload is what the models spend their
    time on: small dense linear algebra (32 products and solves of 96 x 96 matrices, the size of a
    hidden-32 LSTM's gate block times a batch) and Python-level loops over arrays (an order-2
    recursion over 2000 steps, like a Kalman filter or an RNN step), about 30 ms on a 2020s core. A fixed
    workload replaces naive's own time as the denominator: naive's 0.02-0.06 ms per series is
    mostly timer and call overhead, so ratios to it were noise."""
    import numpy as np

    rng = np.random.default_rng(12345)
    a = rng.standard_normal((96, 96)) + 96 * np.eye(96)
    b = rng.standard_normal((96, 96))
    e = rng.standard_normal(2000)

    def work() -> float:
        x = b
        for _ in range(32):
            x = np.linalg.solve(a, x @ b) / 96.0
        y = np.zeros(3)
        for t in range(2, len(e)):
            y = np.array([0.6 * y[0] - 0.2 * y[1] + e[t], y[0], y[1]])
        return float(x.sum() + y.sum())

    work()  # first call: imports and allocations
    times = []
    for _ in range(max(1, repeats)):
        cpu0 = time.process_time()
        work()
        times.append((time.process_time() - cpu0) * 1000.0)
    return float(sorted(times)[len(times) // 2])
