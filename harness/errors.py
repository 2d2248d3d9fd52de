"""One home for the errors that mean "the input cannot be used" (exit code 2), and the one way to
turn any exception into a one-line message.

Everything a user can get wrong — a data file, a suite, an option, a model parameter, a plugin, a
run directory, a study's arguments — raises a subclass of :class:`BadInput`. The CLI catches the
base alone and prints one line; the Python API lets it propagate, so ``except harness.BadInput``
is how a notebook tells a mistake of its own from a bug. The subclasses only say *where* the
mistake was; none adds behaviour.

A model that fails on a series is not bad input: it becomes a failure row (see the runner), not
an error of this family. Nor is an output file that cannot be written once a run has started (a
full disk, an I/O error): that is an :class:`OutputError`, exit code :data:`EXIT_OS_ERROR`, and
the run stays resumable.
"""

from __future__ import annotations

import difflib
import errno as _errno
import os
import traceback
from collections.abc import Iterable
from pathlib import Path

__all__ = [
    "EXIT_BAD_INPUT",
    "EXIT_FAILED",
    "EXIT_INTERRUPTED",
    "EXIT_OK",
    "EXIT_OS_ERROR",
    "BadInput",
    "DataError",
    "ModelError",
    "OptionError",
    "OutputError",
    "PluginError",
    "RunLockedError",
    "StoreError",
    "StudyError",
    "SuiteError",
    "did_you_mean",
    "one_line",
    "os_reason",
    "traceback_text",
]

#: The command's exit codes: everything ran; the run finished but some series failed; bad input
#: (one line, nothing written); an output could not be written once work had started (one line
#: naming the path; sysexits' EX_IOERR; a run is resumable); interrupted (Ctrl-C, 128 + SIGINT).
EXIT_OK, EXIT_FAILED, EXIT_BAD_INPUT, EXIT_OS_ERROR, EXIT_INTERRUPTED = 0, 1, 2, 74, 130


class BadInput(ValueError):
    """Input the harness cannot use; the command line exits with code 2 and one line."""


class DataError(BadInput):
    """A dataset or data file the harness cannot use."""


class ModelError(BadInput):
    """A model was asked for something it cannot do (unknown parameter, bad value)."""


class SuiteError(BadInput):
    """A suite file that is malformed or names things that do not exist."""


class OptionError(BadInput):
    """A command-line option (or its API keyword) with an unusable value."""


class PluginError(BadInput):
    """A plugin failed to load or register while strict mode is on."""


class StoreError(BadInput):
    """A run directory that cannot be created, read or resumed."""


class RunLockedError(StoreError):
    """Another live process is writing the run directory."""


class StudyError(BadInput):
    """A study asked for something it cannot do (bad axis values, an unfit output folder)."""


class OutputError(OSError):
    """Writing ``path`` failed once work had started (no space left, an I/O error, a file system
    that turned read-only): not the user's input, so not a :class:`BadInput`. An ``OSError``
    (``errno`` and ``filename`` are the failed write's), printed as one line naming the path and
    the operating system's reason."""

    def __init__(self, path: Path | str, error: BaseException) -> None:
        code = getattr(error, "errno", None)
        super().__init__(code if isinstance(code, int) else None, os_reason(error), str(path))
        self.path = Path(path)

    def __str__(self) -> str:
        return f"cannot write {self.path}: {self.strerror}"


class RunStopped(Exception):
    """Raised in a thread running an experiment side by side with others when the run stopped
    meanwhile (Ctrl-C, an output error in another thread): its units were killed, not failed, so
    its checkpoint is discarded instead of written (:func:`harness.execute.run_concurrently`)."""


def os_reason(exc: BaseException) -> str:
    """The operating system's reason for an ``OSError`` in a few words ("No space left on
    device", "Read-only file system"); for an error without an errno (pyarrow's, a plain
    ``OSError("...")``), its message as one line."""
    code = getattr(exc, "errno", None)
    if isinstance(code, int) and code in _errno.errorcode:
        return os.strerror(code)
    return one_line(exc) or type(exc).__name__


def did_you_mean(name: str, known: Iterable[str], n: int = 1) -> str:
    """``"did you mean a, b?"`` for the ``n`` closest of ``known`` to a mistyped ``name``, or ""
    when nothing is close: the one hint every "unknown X" message gives."""
    close = difflib.get_close_matches(str(name), list(known), n=n)
    return f"did you mean {', '.join(close)}?" if close else ""


def one_line(exc: BaseException, *, limit: int | None = None, with_type: bool = False) -> str:
    """``exc`` as one line: its message's lines joined by single spaces, prefixed with the
    exception's type name when ``with_type`` (a result row's message, where the type says what
    went wrong), cut to ``limit`` characters (ending in "...") when given."""
    text = " ".join(line.strip() for line in str(exc).splitlines() if line.strip())
    if with_type:
        text = f"{type(exc).__name__}: {text}" if text else type(exc).__name__
    if limit is not None and len(text) > limit:
        text = text[: max(limit - 3, 0)] + "..."
    return text


#: Longest traceback kept (characters): its head and tail, what a runaway recursion prints between.
TRACEBACK_LIMIT = 20_000


def traceback_text(exc: BaseException, *, limit: int = TRACEBACK_LIMIT) -> str:
    """``exc``'s full traceback as printed by Python (chained causes included), for a failure log;
    one longer than ``limit`` characters keeps its first and last halves around a marker."""
    text = "".join(traceback.format_exception(exc))
    if len(text) > limit:
        half = limit // 2
        text = f"{text[:half]}\n... ({len(text) - 2 * half} characters left out) ...\n{text[-half:]}"
    return text
