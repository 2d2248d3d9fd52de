"""One writer per run directory.

A run directory is written by one process at a time: a ``--resume`` started while the run is
still going would redo the experiments the running process has not checkpointed yet, beside it,
and the two would race on every result file. :class:`RunLock` takes an exclusive ``flock`` on
``RUN_DIR/.rnnbench.lock`` and writes the holder's pid into it, so a second ``run --resume``,
study or report rebuild on the same directory fails at once with a line naming that pid.

Why ``flock`` and not a pid file checked with ``kill(pid, 0)``: the kernel drops the lock when
the holder dies, however it dies (SIGKILL, a power cut is moot), so a stale lock is taken over
without a liveness guess and without the race between "check the pid" and "write mine". The pid
in the file is for the message only. The lock file is left in place on release (unlinking it
would let a waiting process lock a name that a third one then recreates); its content is just a
pid. Worker processes forked by the run inherit the lock; if the main process is killed while
they still run, the directory stays locked until they are gone too, which is what should happen:
they may still be writing checkpoints.
"""

from __future__ import annotations

import fcntl
import os
from pathlib import Path
from types import TracebackType

from harness.errors import RunLockedError, StoreError, os_reason

LOCK_FILE = ".rnnbench.lock"


class RunLock:
    """An exclusive lock on a run directory, held from :meth:`acquire` to :meth:`release` (or the
    process's exit). Use as a context manager: ``with RunLock(root): ...``."""

    def __init__(self, root: Path | str) -> None:
        self.root = Path(root)
        self.path = self.root / LOCK_FILE
        self._fd: int | None = None

    @property
    def held(self) -> bool:
        return self._fd is not None

    def acquire(self) -> RunLock:
        """Take the lock, or raise :class:`RunLockedError` naming the holder's pid."""
        if self._fd is not None:
            return self
        try:
            fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
        except OSError as exc:  # a read-only run directory: it cannot be written, so not locked
            raise StoreError(f"cannot write run directory {self.root}: {os_reason(exc)}") from None
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = _read_pid(fd)
            os.close(fd)
            who = f"process {holder}" if holder else "another process"
            raise RunLockedError(
                f"{self.root} is being written by {who} (lock {self.path.name}); "
                "wait for it to finish or stop it, then resume with --resume"
            ) from None
        except OSError:
            os.close(fd)
            raise
        os.ftruncate(fd, 0)
        os.pwrite(fd, f"{os.getpid()}\n".encode(), 0)
        self._fd = fd
        return self

    def release(self) -> None:
        if self._fd is not None:
            fcntl.flock(self._fd, fcntl.LOCK_UN)
            os.close(self._fd)
            self._fd = None

    def __enter__(self) -> RunLock:
        return self.acquire()

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.release()


def _read_pid(fd: int) -> int | None:
    try:
        text = os.pread(fd, 32, 0).decode("ascii", "replace").strip()
    except OSError:
        return None
    return int(text) if text.isdigit() else None
