"""Operating-system errors (issue 17, item 7): an output location that cannot be written is bad
input (exit 2, one line naming the path and the reason, nothing written: see also the output
cases of test_bad_input.py); a write that fails once a run has started (a full disk) ends the run
with one line naming the path and the ``--resume`` command, exit code 74, no temporary file left
and the lock released, and a resume once space is freed ends with the results of an uninterrupted
run. Ctrl-C (exit 130) is tested on a real process in test_resume.py.

A full disk is simulated in-process: the writer of one file (a Parquet row group, a text file, a
CSV, a figure) writes part of its data, then fails with ``ENOSPC`` as the operating system would.
Tests run as root here, where permissions do not apply: a read-only file system is simulated by
answering ``os.access``/``os.statvfs`` as it would, and the ``chmod`` test is skipped for root.
"""

from __future__ import annotations

import errno
import os
import re
from pathlib import Path

import matplotlib.figure
import pandas as pd
import pyarrow.parquet as pq
import pytest

from harness import store as store_mod
from harness.errors import EXIT_OS_ERROR, OutputError, StoreError
from harness.runlock import RunLock
from tests.conftest import RESULT_KEYS, invoke, sorted_metrics, tree

CONFIG = ["--models", "naive,theta", "--seeds", "0", "--executor", "serial"]
TEMP = re.compile(r"\..+\.tmp-[0-9]+")
NO_SPACE = os.strerror(errno.ENOSPC)


def _run(data: Path, out: Path, *extra: str):
    return invoke(["run", *CONFIG, "--datasets", str(data), "--out", str(out), *extra])


def _temps(root: Path) -> list[Path]:
    return [p for p in root.rglob("*") if TEMP.fullmatch(p.name)]


def _forecasts(run: Path) -> pd.DataFrame:
    f = pd.read_parquet(run / "forecasts.parquet")
    return f.sort_values([*RESULT_KEYS, "step"]).reset_index(drop=True)


def _error_lines(stderr: str) -> list[str]:
    return [line for line in stderr.splitlines() if line.startswith("rnnbench: error:")]


@pytest.fixture(scope="module")
def data(tmp_path_factory) -> Path:
    """Two small monthly datasets (two files), four series each."""
    root = tmp_path_factory.mktemp("data")
    for name, shift in (("first", 0.0), ("second", 50.0)):
        rows = []
        for k in range(4):
            t = pd.RangeIndex(48)
            y = 100 + shift + 3 * k + 0.4 * t + 8 * ((t % 12) - 5.5) / 6
            ds = pd.date_range("2016-01-01", periods=48, freq="MS")
            rows.append(pd.DataFrame({"unique_id": f"s{k}", "ds": ds, "y": y}))
        pd.concat(rows).to_csv(root / f"{name}.csv", index=False)
    return root


def _datasets(data: Path) -> str:
    return f"{data / 'first.csv'},{data / 'second.csv'}"


@pytest.fixture(scope="module")
def reference(data, tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("reference") / "run"
    result = invoke(["run", *CONFIG, "--datasets", _datasets(data), "--out", str(out)])
    assert result.exit_code == 0, result.output
    return out


def _no_space(path) -> OSError:
    return OSError(errno.ENOSPC, NO_SPACE, str(path))


class FullDisk:
    """Makes the ``nth`` write whose target name matches ``name`` write part of its data, then
    fail with ENOSPC; remembers the path it failed on."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch, kind: str, name: str, nth: int = 1) -> None:
        self.pattern, self.nth, self.seen, self.failed = re.compile(name), nth, 0, None
        if kind == "text":
            real_text = Path.write_text

            def write_text(path, text, *args, **kwargs):
                if self._hit(path):
                    real_text(path, text[: len(text) // 2], *args, **kwargs)
                    raise _no_space(path)
                return real_text(path, text, *args, **kwargs)

            monkeypatch.setattr(Path, "write_text", write_text)
        elif kind == "parquet":
            real_write = pq.ParquetWriter.write_table

            def write_table(writer, table, *args, **kwargs):
                if self._hit(Path(str(writer.where))):
                    real_write(writer, table.slice(0, max(table.num_rows // 2, 1)), *args, **kwargs)
                    raise OSError(errno.ENOSPC, f"[Errno 28] Error writing bytes to file. Detail: {NO_SPACE}")
                return real_write(writer, table, *args, **kwargs)

            monkeypatch.setattr(pq.ParquetWriter, "write_table", write_table)
        elif kind == "csv":
            real_csv = pd.DataFrame.to_csv

            def to_csv(frame, path=None, *args, **kwargs):
                if path is not None and self._hit(Path(path)):
                    real_csv(frame.head(1), path, *args, **kwargs)
                    raise _no_space(path)
                return real_csv(frame, path, *args, **kwargs)

            monkeypatch.setattr(pd.DataFrame, "to_csv", to_csv)
        elif kind == "figure":
            real_save = matplotlib.figure.Figure.savefig

            def savefig(fig, path, *args, **kwargs):
                if self._hit(Path(path)):
                    Path(path).write_bytes(b"\x89PNG\r\n")
                    raise _no_space(path)
                return real_save(fig, path, *args, **kwargs)

            monkeypatch.setattr(matplotlib.figure.Figure, "savefig", savefig)
        else:
            raise ValueError(kind)

    def _hit(self, path: Path) -> bool:
        if not self.pattern.search(path.name) and not self.pattern.search(path.parent.name):
            return False
        self.seen += 1
        if self.seen != self.nth:
            return False
        self.failed = path
        return True


#: (id, writer kind, pattern of the temporary name it fails on, which such write, the path the
#: error line names): a checkpoint's Parquet (the second experiment), its summary.json, the
#: manifest's second write (this start's executor), the merged results, experiments.csv, a report
#: table, a figure, report.html (the reported leak of .report.html.tmp-PID) and report.md.
MID_RUN = [
    ("checkpoint-parquet", "parquet", r"^series\.parquet$", 3, "parts/"),
    ("checkpoint-summary", "text", r"^summary\.json$", 2, "parts/"),
    ("manifest", "text", r"^\.manifest\.json\.tmp-", 2, "manifest.json"),
    ("metrics-parquet", "parquet", r"^\.metrics\.parquet\.tmp-", 1, "metrics.parquet"),
    ("experiments-csv", "csv", r"^\.experiments\.csv\.tmp-", 1, "experiments.csv"),
    ("accuracy-csv", "csv", r"^\.accuracy\.csv\.tmp-", 1, "accuracy.csv"),
    ("figure", "figure", r"\.png\.tmp-", 1, "figures/"),
    ("report-html", "text", r"^\.report\.html\.tmp-", 1, "report.html"),
    ("report-md", "text", r"^\.report\.md\.tmp-", 1, "report.md"),
]


@pytest.mark.parametrize("case, kind, name, nth, named", MID_RUN, ids=[c[0] for c in MID_RUN])
def test_full_disk_mid_run_is_one_line_no_temp_files_and_resumable(
    data, reference, tmp_path, monkeypatch, case, kind, name, nth, named
):
    out = tmp_path / "run"
    disk = FullDisk(monkeypatch, kind, name, nth)
    result = invoke(["run", *CONFIG, "--datasets", _datasets(data), "--out", str(out)])
    monkeypatch.undo()

    assert disk.failed is not None, "the simulated full disk was never hit"
    assert result.exit_code == EXIT_OS_ERROR, result.output
    assert "Traceback" not in result.output
    (line,) = _error_lines(result.stderr)
    assert line == result.stderr.strip().splitlines()[-1]
    assert re.search(rf"cannot write {re.escape(str(out))}/\S*{re.escape(named)}\S*: {NO_SPACE}", line), line
    assert line.endswith(f"resume with: rnnbench run --resume {out}"), line
    assert not _temps(tmp_path), _temps(tmp_path)
    RunLock(out).acquire().release()  # the lock was released

    resumed = invoke(["run", "--resume", str(out)])
    assert resumed.exit_code == 0, resumed.output
    assert not _temps(tmp_path)
    pd.testing.assert_frame_equal(sorted_metrics(out), sorted_metrics(reference), check_exact=True)
    pd.testing.assert_frame_equal(_forecasts(out), _forecasts(reference), check_exact=True)
    for name in ("report.md", "report.html", "experiments.csv", "accuracy.csv"):
        assert (out / name).is_file()


def test_full_disk_while_creating_the_run_writes_nothing(data, tmp_path, monkeypatch):
    """No space for the manifest: no run was made, so it is an unusable output location (exit 2)
    and the folder it created is gone."""
    out = tmp_path / "new" / "run"
    before = tree(tmp_path)
    FullDisk(monkeypatch, "text", r"^\.manifest\.json\.tmp-")
    result = _run(data / "first.csv", out)
    monkeypatch.undo()
    assert result.exit_code == 2, result.output
    assert result.stderr.strip().splitlines() == [f"rnnbench: error: cannot write output folder {out}: {NO_SPACE}"]
    assert tree(tmp_path) == before


def test_full_disk_while_writing_compare_csv(reference, tmp_path, monkeypatch):
    target = tmp_path / "cmp.csv"
    FullDisk(monkeypatch, "csv", r"^\.cmp\.csv\.tmp-")
    result = invoke(["compare", str(reference), str(reference), "--csv", str(target)])
    monkeypatch.undo()
    assert result.exit_code == EXIT_OS_ERROR, result.output
    assert _error_lines(result.stderr) == [f"rnnbench: error: cannot write {target}: {NO_SPACE}"]
    assert not target.exists() and not _temps(tmp_path)


def test_full_disk_while_rebuilding_a_report(reference, tmp_path, monkeypatch):
    import shutil

    run = Path(shutil.copytree(reference, tmp_path / "run"))
    FullDisk(monkeypatch, "text", r"^\.report\.html\.tmp-")
    result = invoke(["report", str(run)])
    monkeypatch.undo()
    assert result.exit_code == EXIT_OS_ERROR, result.output
    assert _error_lines(result.stderr) == [f"rnnbench: error: cannot write {run / 'report.html'}: {NO_SPACE}"]
    assert not _temps(tmp_path)
    assert invoke(["report", str(run)]).exit_code == 0


def test_output_error_is_an_oserror_naming_the_path():
    exc = OutputError("/x/metrics.parquet", _no_space("/x/.metrics.parquet.tmp-1"))
    assert isinstance(exc, OSError) and exc.errno == errno.ENOSPC and exc.filename == "/x/metrics.parquet"
    assert str(exc) == f"cannot write /x/metrics.parquet: {NO_SPACE}"
    # pyarrow's errors carry the reason in their message only
    assert (
        str(OutputError("f", OSError("Error writing bytes to file"))) == "cannot write f: Error writing bytes to file"
    )


def test_remove_own_temps_keeps_other_processes_files(tmp_path):
    mine, theirs = os.getpid(), os.getpid() + 1
    (tmp_path / "parts" / f".exp.tmp-{mine}").mkdir(parents=True)
    (tmp_path / "parts" / f".exp.tmp-{mine}" / "series.parquet").write_bytes(b"PAR1")
    (tmp_path / f".report.html.tmp-{mine}").write_text("<html")
    (tmp_path / "figures").mkdir()
    (tmp_path / "figures" / f".a.png.tmp-{mine}").write_bytes(b"")
    (tmp_path / f".metrics.parquet.tmp-{theirs}").write_bytes(b"")
    (tmp_path / "report.md").write_text("kept")
    removed = store_mod.remove_own_temps(tmp_path)
    assert len(removed) == 3
    assert sorted(p.name for p in tmp_path.rglob("*")) == sorted(
        ["parts", "figures", f".metrics.parquet.tmp-{theirs}", "report.md"]
    )


# --- read-only locations ----------------------------------------------------------------------


@pytest.fixture
def read_only(monkeypatch):
    """Make folders under the returned callable's argument behave as on a read-only file system
    (what ``access`` and ``statvfs`` answer there, even for root)."""
    roots: list[Path] = []
    real_access, real_statvfs = os.access, os.statvfs

    def under(path) -> bool:
        p = Path(os.path.abspath(path))
        return any(p == r or r in p.parents for r in roots)

    def access(path, mode, *args, **kwargs):
        if mode & os.W_OK and under(path):
            return False
        return real_access(path, mode, *args, **kwargs)

    class _Vfs:
        def __init__(self, real):
            self._real = real
            self.f_flag = real.f_flag | os.ST_RDONLY

        def __getattr__(self, name):
            return getattr(self._real, name)

    def statvfs(path):
        real = real_statvfs(path)
        return _Vfs(real) if under(path) else real

    monkeypatch.setattr(os, "access", access)
    monkeypatch.setattr(os, "statvfs", statvfs)
    return lambda path: roots.append(Path(os.path.abspath(path)))


def _one_error(result, expected: str) -> None:
    assert result.exit_code == 2, result.output
    assert result.stdout == ""
    assert result.stderr.strip().splitlines() == [f"rnnbench: error: {expected}"]


def test_read_only_locations_are_bad_input_and_nothing_is_written(reference, data, tmp_path, read_only):
    import shutil

    run = Path(shutil.copytree(reference, tmp_path / "run"))
    ro = tmp_path / "ro"
    ro.mkdir()
    read_only(run)
    read_only(ro)
    before = tree(tmp_path)
    ro_fs = os.strerror(errno.EROFS)

    _one_error(invoke(["report", str(run)]), f"cannot write run directory {run}: {ro_fs}")
    _one_error(invoke(["run", "--resume", str(run)]), f"cannot write run directory {run}: {ro_fs}")
    _one_error(_run(data / "first.csv", ro / "new"), f"cannot write output folder {ro / 'new'}: {ro_fs} ({ro})")
    _one_error(_run(data / "first.csv", ro), f"cannot write output folder {ro}: {ro_fs}")
    _one_error(
        invoke(["compare", str(reference), str(reference), "--csv", str(ro / "c.csv")]),
        f"cannot write --csv file {ro / 'c.csv'}: {ro_fs} (folder {ro})",
    )
    _one_error(
        invoke(["study", "cost", "--tiny", "--out", str(ro / "cost")]),
        f"cannot write output folder {ro / 'cost'}: {ro_fs} ({ro})",
    )
    assert tree(tmp_path) == before


def test_a_run_directory_that_cannot_be_locked_is_a_store_error(tmp_path, monkeypatch):
    real_open = os.open

    def refuse(path, flags, *args):
        if str(path).endswith(".rnnbench.lock"):
            raise OSError(errno.EROFS, os.strerror(errno.EROFS), str(path))
        return real_open(path, flags, *args)

    monkeypatch.setattr(os, "open", refuse)
    with pytest.raises(StoreError, match=f"cannot write run directory {re.escape(str(tmp_path))}: Read-only"):
        RunLock(tmp_path).acquire()


@pytest.mark.skipif(os.name != "posix" or os.geteuid() == 0, reason="root ignores permissions")
def test_a_folder_without_write_permission_is_bad_input(data, tmp_path):
    locked = tmp_path / "locked"
    locked.mkdir()
    locked.chmod(0o555)
    try:
        before = tree(tmp_path)
        _one_error(
            _run(data / "first.csv", locked / "run"),
            f"cannot write output folder {locked / 'run'}: {os.strerror(errno.EACCES)} ({locked})",
        )
        assert tree(tmp_path) == before
    finally:
        locked.chmod(0o755)


def test_check_output_dir_accepts_what_can_be_written(tmp_path):
    store_mod.check_output_dir(tmp_path)
    store_mod.check_output_dir(tmp_path / "a" / "b" / "c")
    store_mod.check_output_file(tmp_path / "x.csv")
    (tmp_path / "x.csv").write_text("old")
    store_mod.check_output_file(tmp_path / "x.csv")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["x.csv"]


def test_keyboard_interrupt_outside_a_run_exits_130(monkeypatch):
    import harness.cli

    def interrupted(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr(harness.cli, "load_registry", interrupted)
    result = invoke(["models"])
    assert result.exit_code == 130
    assert result.stderr.strip().splitlines() == ["rnnbench: interrupted"]
