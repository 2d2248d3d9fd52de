"""One writer per run directory: a second run/--resume/study/report on a directory that a live
process is writing fails with one line naming that process; a dead holder's lock is taken over."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from harness.errors import BadInput, RunLockedError, StoreError
from harness.runlock import LOCK_FILE, RunLock
from tests.conftest import invoke, plugin_folder

ROOT = Path(__file__).resolve().parent.parent

#: A model that holds its series until a file appears (bounded), so a run stays busy on demand.
WAITING_PLUGIN = textwrap.dedent(
    """
    import os, time
    import numpy as np
    import harness

    class WaitForFile(harness.LocalForecaster):
        name = "wait-for-file"

        def fit_predict_one(self, y):
            deadline = time.monotonic() + 60
            while not os.path.exists(os.environ["RNNBENCH_TEST_RELEASE"]) and time.monotonic() < deadline:
                time.sleep(0.05)
            return np.repeat(y[-1], self.horizon)

    @harness.hookimpl
    def register_models(register):
        register(WaitForFile)
    """
)


def _wait_for(predicate, timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError("timed out waiting")
        time.sleep(0.05)


def test_lock_is_exclusive_and_names_the_holder(tmp_path):
    first = RunLock(tmp_path).acquire()
    with pytest.raises(RunLockedError, match=rf"being written by process {os.getpid()} "):
        RunLock(tmp_path).acquire()
    first.release()
    with RunLock(tmp_path) as again:  # released: free for the next writer
        assert again.held
    assert not again.held
    assert issubclass(RunLockedError, StoreError) and issubclass(RunLockedError, BadInput)


def test_lock_of_a_killed_process_is_taken_over(tmp_path):
    code = f"from harness.runlock import RunLock; import os, signal; RunLock({str(tmp_path)!r}).acquire(); os.kill(os.getpid(), signal.SIGKILL)"
    proc = subprocess.Popen([sys.executable, "-c", code], cwd=ROOT, env={**os.environ, "PYTHONPATH": str(ROOT)})
    assert proc.wait(timeout=60) == -signal.SIGKILL
    assert _pid_in(tmp_path) == str(proc.pid)  # the dead holder's pid is still in the file
    with RunLock(tmp_path):
        assert (tmp_path / LOCK_FILE).read_text().strip() == str(os.getpid())


def _pid_in(root: Path) -> str:
    return (root / LOCK_FILE).read_text().strip()


def test_second_process_on_a_running_run_fails_with_the_holders_pid(tmp_path, long_csv):
    """Two processes on one directory: `run` holds it; `--resume` and `report` on it fail with
    exit 2 and one line naming the run's pid, and change nothing; the first run finishes
    normally, and a resume afterwards finds everything done."""
    plugins = plugin_folder(tmp_path / "plugins", WAITING_PLUGIN, "waiting.py")
    release = tmp_path / "release"
    run_dir = tmp_path / "run"
    env = {**os.environ, "PYTHONPATH": str(ROOT), "RNNBENCH_TEST_RELEASE": str(release)}
    first = subprocess.Popen(
        [sys.executable, "-m", "harness", "--plugins-dir", str(plugins), "run", "--models", "wait-for-file",
         "--datasets", str(long_csv), "--horizon", "6", "--executor", "serial", "--out", str(run_dir)],
        cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    try:
        _wait_for(lambda: (run_dir / LOCK_FILE).is_file() and _pid_in(run_dir) == str(first.pid))
        # the run is inside the waiting model (its checkpoint folder is open) and writes nothing now
        _wait_for(lambda: any("wait-for-file" in p.name for p in (run_dir / "parts").iterdir()))
        time.sleep(0.5)
        for args in (
            ["--plugins-dir", str(plugins), "run", "--resume", str(run_dir)],
            ["report", str(run_dir)],
        ):
            before = {p: p.stat().st_mtime_ns for p in run_dir.rglob("*")}
            result = invoke(args, env={"RNNBENCH_TEST_RELEASE": str(release)})
            assert result.exit_code == 2, (args, result.output)
            lines = result.stderr.strip().splitlines()
            assert len(lines) == 1 and f"process {first.pid}" in lines[0], (args, lines)
            assert {p: p.stat().st_mtime_ns for p in run_dir.rglob("*")} == before
    finally:
        release.touch()
        out, err = first.communicate(timeout=120)
    assert first.returncode == 0, err
    resumed = invoke(["--plugins-dir", str(plugins), "run", "--resume", str(run_dir)],
                     env={"RNNBENCH_TEST_RELEASE": str(release)})  # fmt: skip
    assert resumed.exit_code == 0, resumed.output
    assert "(3 already done)" in resumed.stderr


def test_cost_study_into_a_folder_another_study_writes_fails(tmp_path):
    out = tmp_path / "cost"
    out.mkdir()
    code = f"from harness.runlock import RunLock; import time; RunLock({str(out)!r}).acquire(); print('ready', flush=True); time.sleep(60)"
    holder = subprocess.Popen([sys.executable, "-c", code], cwd=ROOT, env={**os.environ, "PYTHONPATH": str(ROOT)},
                              stdout=subprocess.PIPE, text=True)  # fmt: skip
    try:
        assert holder.stdout.readline().strip() == "ready"
        result = invoke(["study", "cost", "--tiny", "--models", "naive", "--out", str(out)])
        assert result.exit_code == 2
        assert result.stderr.strip().splitlines() == [
            f"rnnbench: error: {out} is being written by process {holder.pid} (lock {LOCK_FILE}); "
            "wait for it to finish or stop it, then resume with --resume"
        ]
        assert [p.name for p in out.iterdir()] == [LOCK_FILE]
    finally:
        holder.kill()
        holder.wait()
