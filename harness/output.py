"""How the harness writes a file or folder that must exist whole or not at all: under a
temporary name (``.<name>.tmp-<pid>``, :func:`tmp_name`) beside it, renamed into place when done;
whatever stops the writing removes the temporary (:func:`writing`), and an operating-system error
comes out as one :class:`harness.errors.OutputError` naming the path. The store, the figures and
the HTML page all write this way, so a run directory never holds a half-written result and every
temporary name can be found again (:func:`temps_under`) and cleared.
"""

from __future__ import annotations

import os
import re
import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from harness.errors import OutputError

#: Temporary names: ``.<name>.tmp-<pid>`` beside the file or checkpoint folder they will replace.
TMP_NAME = re.compile(r"\.(?P<name>.+)\.tmp-(?P<pid>[0-9]+)")


def tmp_name(path: Path) -> Path:
    """``.<name>.tmp-<pid>`` beside ``path``: where it is written before the rename that makes it count."""
    return path.with_name(f".{path.name}.tmp-{os.getpid()}")


def remove_path(path: Path) -> bool:
    """Remove a temporary file or folder, if it is there; never fails. False when it could not
    be removed (a read-only run directory: harmless, temporary names are never read)."""
    try:
        if path.is_dir() and not path.is_symlink():
            shutil.rmtree(path)
        else:
            path.unlink(missing_ok=True)
    except OSError:
        return False
    return True


def temps_under(root: Path | str) -> Iterator[tuple[Path, int]]:
    """Every temporary file or folder (``.<name>.tmp-<pid>``) under ``root``, with its writer's
    pid; the inside of a temporary folder is not visited."""
    for folder, dirs, files in os.walk(root):
        for name in [*dirs, *files]:
            match = TMP_NAME.fullmatch(name)
            if match:
                yield Path(folder, name), int(match["pid"])
        dirs[:] = [d for d in dirs if not TMP_NAME.fullmatch(d)]


@contextmanager
def writing(path: Path | str, *temps: Path) -> Iterator[None]:
    """Around the writing of ``path``: whatever stops it (an exception, Ctrl-C) removes
    ``temps`` (its temporary file or folder), and an ``OSError`` - no space left, an I/O error, a
    file system gone read-only - comes out as an :class:`OutputError` naming ``path``."""
    try:
        yield
    except BaseException as exc:
        for tmp in temps:
            remove_path(tmp)
        if isinstance(exc, OSError) and not isinstance(exc, OutputError):
            raise OutputError(path, exc) from exc
        raise
