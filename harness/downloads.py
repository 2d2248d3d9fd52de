"""The download cache: data too large to ship (M4, the Monash archive) fetched once, on first
use, into ``$RNNBENCH_CACHE`` (default ``~/.cache/rnnbench``), and read from there afterwards.

Only a dataset loader downloads, and only when its file is not cached; listing datasets never
does (a loader registered with ``info={"cache_files": ...}`` is listed as needing a download
instead, see :func:`missing_files`). Nothing else in the harness touches the network, and tests
point ``RNNBENCH_CACHE`` at folders of small files they made.

A download is written like every result of the harness (:mod:`harness.output`): under a
temporary name, renamed into place when whole, so the cache never holds half a file. When it
fails - no network, a proxy, a moved URL - the loader stops with one :class:`DataError` (exit 2)
naming the URL and the path where the file can be put by hand; folders it created for it are
removed again, so a failed download leaves nothing behind. A ``.zip`` (as the Monash archive
serves) is unpacked as it arrives: the cache keeps only the one member that is read.
"""

from __future__ import annotations

import os
import shutil
import zipfile
from collections.abc import Iterable
from http.client import HTTPException
from pathlib import Path
from urllib.error import URLError
from urllib.request import urlopen

from harness.errors import DataError, os_reason
from harness.output import remove_path, tmp_name, writing

#: Seconds a download may wait for the server (to connect, then for each block), not in all.
TIMEOUT_S = 30.0
_BLOCK = 1 << 20


def cache_dir() -> Path:
    """Where downloads are kept: ``$RNNBENCH_CACHE``, else ``~/.cache/rnnbench``."""
    where = os.environ.get("RNNBENCH_CACHE")
    return Path(where).expanduser() if where else Path.home() / ".cache" / "rnnbench"


def cache_path(relative: str) -> Path:
    """The cached file at ``relative`` (``m4/Yearly-train.csv``) under :func:`cache_dir`."""
    return cache_dir() / relative


def missing_files(paths: Iterable[str | Path]) -> list[Path]:
    """Those of ``paths`` not in the cache yet (what a loader would download first)."""
    return [Path(p) for p in paths if not Path(p).is_file()]


def cached_file(url: str, relative: str, *, member: str | None = None, timeout: float = TIMEOUT_S) -> Path:
    """The file ``relative`` in the cache, downloaded from ``url`` first if it is not there.

    With ``member``, ``url`` is a zip archive and the cached file is its member of that name.

    :raises DataError: one line naming ``url``, why it failed and where to put the file by hand.
    """
    path = cache_path(relative)
    if path.is_file():
        return path
    created = _make_folders(path.parent)
    try:
        _download(url, path, member, timeout)
    except BaseException:
        for folder in reversed(created):
            try:
                folder.rmdir()
            except OSError:  # not empty: another download put a file there meanwhile
                break
        raise
    return path


def _make_folders(folder: Path) -> list[Path]:
    """Create ``folder`` and its missing parents; returns those created, outermost first."""
    created = [p for p in [*reversed(folder.parents), folder] if not p.exists()]
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise DataError(
            f"cannot create the download cache folder {folder}: {os_reason(exc)}; set RNNBENCH_CACHE to a writable folder"
        ) from None
    return created


def _download(url: str, path: Path, member: str | None, timeout: float) -> None:
    tmp = tmp_name(path)
    raw = tmp.with_name(tmp.name + ".zip") if member else tmp
    by_hand = f"put {'the unzipped ' + member if member else 'the file'} at {path}"
    with writing(path, tmp, raw):
        try:
            response = urlopen(url, timeout=timeout)
        except (URLError, HTTPException, OSError, ValueError) as exc:
            raise DataError(f"cannot download {url}: {_reason(exc)}; without network, {by_hand}") from None
        with response, raw.open("wb") as out:
            while True:
                try:
                    block = response.read(_BLOCK)
                except (HTTPException, OSError) as exc:
                    raise DataError(f"download of {url} broke off: {_reason(exc)}; {by_hand}") from None
                if not block:
                    break
                out.write(block)
        if member:
            _unzip(raw, member, tmp, url, by_hand)
            remove_path(raw)
        os.replace(tmp, path)


def _unzip(archive: Path, member: str, target: Path, url: str, by_hand: str) -> None:
    try:
        with zipfile.ZipFile(archive) as zipped, zipped.open(member) as src, target.open("wb") as out:
            shutil.copyfileobj(src, out, _BLOCK)
    except KeyError:
        raise DataError(f"{url} holds no {member}; {by_hand}") from None
    except zipfile.BadZipFile:
        raise DataError(f"{url} is not a zip archive; {by_hand}") from None


def _reason(exc: BaseException) -> str:
    """Why a download failed, in a few words (the server's status, or the network's error)."""
    code = getattr(exc, "code", None)
    if isinstance(code, int):
        return f"HTTP {code} {getattr(exc, 'reason', '')}".strip()
    reason = getattr(exc, "reason", None)
    if isinstance(reason, BaseException):
        return os_reason(reason)
    if isinstance(exc, TimeoutError):
        return "timed out"
    return os_reason(exc) if isinstance(exc, OSError) else str(exc) or type(exc).__name__
