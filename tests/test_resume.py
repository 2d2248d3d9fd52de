"""Kill and resume: a run killed at a random point (SIGKILL to its whole process group, workers
included) and resumed with ``--resume`` ends with the same results as an uninterrupted run, keeps
every checkpoint finished before the kill, and redoes only the rest; torn checkpoints (a missing
file, truncated JSON or Parquet, a leftover temporary folder, another config id) are redone."""

from __future__ import annotations

import json
import os
import random
import re
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pandas as pd
import pytest

from harness import store as store_mod
from tests.conftest import RESULT_KEYS, invoke, plan_of, sorted_metrics

#: ~16 experiments, ~15 s uninterrupted on 2 cores: local models in a pool of 2 workers and a
#: global one (the numpy RNN, 3 seeds) in a spawned worker, so a kill hits worker processes too.
CONFIG = [
    "--datasets",
    "synthetic-arma,synthetic-tar",
    "--limit",
    "12",
    "--models",
    "naive,snaive,theta,arima,rnn-numpy",
    "-p",
    "rnn-numpy.epochs=3",
    "--seeds",
    "0,1,2",
    "--workers",
    "2",
]
MODELS = {"naive": 1, "snaive": 1, "theta": 1, "arima": 1, "rnn-numpy": 3, "naive2": 1}  # seeds per model
TOTAL = 2 * sum(MODELS.values())
DONE_LINE = re.compile(r"(\d+) experiments \((\d+) already done\)")


def _cmd(*args: str) -> list[str]:
    return [sys.executable, "-m", "harness", "run", *args]


def _parts(run: Path) -> dict[str, Path]:
    """Finished checkpoints (renamed into place), by key; temporary folders start with '.'."""
    folder = run / "parts"
    if not folder.is_dir():
        return {}
    return {p.name: p for p in folder.iterdir() if not p.name.startswith(".")}


def _snapshot(run: Path) -> dict[str, tuple[bytes, int]]:
    return {
        k: ((p / "summary.json").read_bytes(), (p / "summary.json").stat().st_mtime_ns) for k, p in _parts(run).items()
    }


def _results(run: Path) -> tuple[pd.DataFrame, pd.DataFrame]:
    """metrics.parquet and forecasts.parquet in a canonical row order, timing columns dropped."""
    forecasts = pd.read_parquet(run / "forecasts.parquet")
    forecasts = forecasts.sort_values([*RESULT_KEYS, "step"]).reset_index(drop=True)
    return sorted_metrics(run), forecasts


def _assert_same_results(run: Path, reference: Path) -> None:
    (m, f), (m_ref, f_ref) = _results(run), _results(reference)
    assert len(m) == len(m_ref) and (m["status"] == "ok").all()
    pd.testing.assert_frame_equal(m, m_ref, check_exact=True)
    pd.testing.assert_frame_equal(f, f_ref, check_exact=True)


def _done_line(stderr: str) -> tuple[int, int]:
    match = DONE_LINE.search(stderr)
    assert match, stderr
    return int(match[1]), int(match[2])


@pytest.fixture(scope="module")
def reference(tmp_path_factory) -> Path:
    """The same config run without interruption (a real subprocess, like the killed one)."""
    out = tmp_path_factory.mktemp("reference") / "run"
    done = subprocess.run(
        _cmd(*CONFIG, "--out", str(out)), cwd=out.parent, capture_output=True, text=True, timeout=300, check=False
    )
    assert done.returncode == 0, done.stderr[-3000:]
    assert len(_parts(out)) == TOTAL
    return out


# --- the process group ----------------------------------------------------------------------


def _stat(pid: int) -> tuple[int, int, str, str] | None:
    """(parent pid, process group, state, start time) of a process, or None if it is gone."""
    try:
        text = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    fields = text[text.rindex(")") + 2 :].split()  # the command name may hold spaces and ')'
    return int(fields[1]), int(fields[2]), fields[0], fields[19]


def _group_and_descendants(root: int) -> dict[int, str]:
    """pid -> start time of every live process in ``root``'s process group or below ``root``."""
    stats = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit() and (st := _stat(int(entry.name))) is not None:
            stats[int(entry.name)] = st
    out = {pid: st[3] for pid, st in stats.items() if st[1] == root and st[2] != "Z"}
    frontier = [root]
    while frontier:
        parent = frontier.pop()
        for pid, st in stats.items():
            if st[0] == parent and pid not in out and st[2] != "Z":
                out[pid] = st[3]
                frontier.append(pid)
    return out


def _alive(pid: int, started: str) -> bool:
    """Still running: the same process (same start time), not a zombie waiting to be reaped."""
    st = _stat(pid)
    return st is not None and st[3] == started and st[2] != "Z"


#: (seed of the kill time, checkpoints to wait for, longest extra wait in s after them). One
#: kill runs by default (~15-25 s on 2 cores beside the ~15 s reference run); more with
#: ``-m slow``: later kills, and one once every experiment is saved (while the results and the
#: report are written, or after the run ended).
KILLS = [(0, 1, 0.5)] + [  # the default one lands mid-run: the whole run now ends ~2 s after its first checkpoint
    pytest.param(*kill, marks=pytest.mark.slow)
    for kill in [(1, 1, 3.0), (2, 1, 3.0), (3, 1, 3.0), (4, 1, 12.0), (5, 1, 12.0), (6, TOTAL, 2.0)]
]


@pytest.mark.skipif(not Path("/proc/self/stat").exists() or not hasattr(os, "killpg"), reason="needs POSIX and /proc")
@pytest.mark.parametrize("kill_seed, after_parts, longest", KILLS, ids=str)
def test_kill_whole_group_and_resume(reference, tmp_path, kill_seed, after_parts, longest, capsys):
    """SIGKILL the whole process group of a real ``rnnbench run`` a random time after its first
    checkpoint, then ``--resume``: finished checkpoints are kept as they are, the rest is redone,
    and the results equal an uninterrupted run's."""
    extra = random.Random(kill_seed).uniform(0.0, longest)
    out = tmp_path / "run"
    with open(tmp_path / "stderr.txt", "w") as err:
        proc = subprocess.Popen(
            _cmd(*CONFIG, "--out", str(out)),
            cwd=tmp_path,
            stdout=subprocess.DEVNULL,
            stderr=err,
            start_new_session=True,
        )
    try:
        deadline = time.monotonic() + 120
        while len(_parts(out)) < after_parts:
            assert proc.poll() is None, "the run ended early: " + (tmp_path / "stderr.txt").read_text()[-2000:]
            assert time.monotonic() < deadline, f"not {after_parts} checkpoints within 120 s"
            time.sleep(0.02)
        first = time.monotonic()
        time.sleep(extra)
        group = _group_and_descendants(proc.pid)
        finished_before = proc.poll() is not None
        if not finished_before:
            os.killpg(proc.pid, signal.SIGKILL)
        killed_at = time.monotonic() - first
    finally:
        if proc.poll() is None:
            try:
                os.killpg(proc.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        proc.wait(timeout=30)
    snapshot = _snapshot(out)
    temps = sorted(p.name for folder in (out, out / "parts") for p in folder.iterdir() if ".tmp-" in p.name)

    # nothing of the group survives: driver, pool workers, the spawned global-model worker
    deadline = time.monotonic() + 10
    while (
        survivors := [pid for pid, started in group.items() if _alive(pid, started)]
    ) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not survivors, f"processes of the killed run still alive: {survivors}"
    assert not _group_and_descendants(proc.pid), "a process of the group started after the snapshot survived"
    assert not finished_before or proc.returncode == 0
    assert finished_before or proc.returncode == -signal.SIGKILL
    with capsys.disabled():
        print(
            f"\n[kill seed {kill_seed}] killed {killed_at:.2f} s after checkpoint {after_parts} (extra {extra:.2f} s): "
            f"{len(snapshot)}/{TOTAL} finished, group of {len(group)} processes, temporary files {temps}, "
            f"metrics.parquet {'present' if (out / 'metrics.parquet').exists() else 'absent'}"
            + (" (the run had already finished)" if finished_before else "")
        )

    t0 = time.monotonic()
    resumed = invoke(["run", "--resume", str(out)])
    with capsys.disabled():
        print(f"[kill seed {kill_seed}] resume took {time.monotonic() - t0:.1f} s")
    assert resumed.exit_code == 0, resumed.output
    assert _done_line(resumed.stderr) == (TOTAL, len(snapshot))
    after = _snapshot(out)
    assert len(after) == TOTAL
    for key, (data, mtime) in snapshot.items():
        assert after[key] == (data, mtime), f"{key} was redone or changed"
    redone = [k for k in after if k not in snapshot]
    assert len(redone) == TOTAL - len(snapshot)
    assert all(after[k][1] > max((m for _, m in snapshot.values()), default=0) for k in redone)
    assert not [p for p in (out / "parts").iterdir() if p.name.startswith(".")], "temporary folders left behind"
    _assert_same_results(out, reference)


# --- Ctrl-C ---------------------------------------------------------------------------------


@pytest.mark.skipif(not Path("/proc/self/stat").exists() or not hasattr(os, "killpg"), reason="needs POSIX and /proc")
def test_ctrl_c_exits_130_with_the_resume_command_and_resumes(reference, tmp_path):
    """SIGINT to the whole process group (what Ctrl-C in a terminal sends) a moment after the
    first checkpoint: exit code 130, one line giving the ``--resume`` command and no traceback,
    every process of the run gone, no temporary file left, the lock free, the checkpoints
    written so far kept; ``--resume`` then ends with the results of an uninterrupted run."""
    out = tmp_path / "run"
    proc = subprocess.Popen(
        _cmd(*CONFIG, "--out", str(out)),
        cwd=tmp_path,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,
    )
    try:
        deadline = time.monotonic() + 120
        while len(_parts(out)) < 1:
            assert proc.poll() is None, "the run ended early: " + proc.stderr.read()[-2000:]
            assert time.monotonic() < deadline, "no checkpoint within 120 s"
            time.sleep(0.02)
        time.sleep(0.05)  # mid-run: with arima's faster start the whole run can end ~1 s after the first checkpoint
        group = _group_and_descendants(proc.pid)
        assert proc.poll() is None, "the run finished before Ctrl-C"
        os.killpg(proc.pid, signal.SIGINT)
        stdout, stderr = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(timeout=30)

    assert proc.returncode == 130, stderr[-3000:]
    assert "Traceback" not in stderr and "Aborted" not in stderr, stderr[-3000:]
    assert stderr.strip().splitlines()[-1] == (
        f"rnnbench: interrupted; finished experiments are kept; resume with: rnnbench run --resume {out}"
    )
    deadline = time.monotonic() + 10
    while [pid for pid, started in group.items() if _alive(pid, started)] and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not [pid for pid, started in group.items() if _alive(pid, started)], "workers survived Ctrl-C"
    assert not [p for p in out.rglob("*") if re.fullmatch(r"\..+\.tmp-[0-9]+", p.name)], "temporary files left"
    store_mod.RunLock(out).acquire().release()  # the lock is free
    snapshot = _snapshot(out)
    assert 1 <= len(snapshot) < TOTAL

    resumed = invoke(["run", "--resume", str(out)])
    assert resumed.exit_code == 0, resumed.output
    assert _done_line(resumed.stderr) == (TOTAL, len(snapshot))
    after = _snapshot(out)
    assert all(after[k] == v for k, v in snapshot.items()), "a checkpoint written before Ctrl-C was redone"
    _assert_same_results(out, reference)


# --- torn checkpoints -----------------------------------------------------------------------


def _dead_pid() -> int:
    """The id of a process that has exited (and been reaped)."""
    child = subprocess.Popen([sys.executable, "-c", "pass"])
    child.wait()
    return child.pid


def _key(run: Path, dataset: str, model: str, seed: int = 0) -> str:
    (key,) = [k for k in _parts(run) if k.startswith(f"{dataset}__{model}__seed{seed}__")]
    return key


def test_torn_checkpoints_are_redone(reference, tmp_path):
    """Each kind of torn checkpoint is not done: it is redone on --resume (and only it), stale
    temporary folders and files of dead writers are removed, and the results equal the
    uninterrupted run's."""
    out = tmp_path / "run"
    shutil.copytree(reference, out)
    for name in ("metrics.parquet", "forecasts.parquet", "experiments.csv", "report.md"):
        (out / name).unlink()
    parts = out / "parts"
    dead = _dead_pid()
    torn = {
        "missing file": _key(out, "synthetic-arma", "naive"),
        "truncated summary.json": _key(out, "synthetic-tar", "snaive"),
        "truncated series.parquet": _key(out, "synthetic-tar", "arima"),
        "garbage forecasts.parquet": _key(out, "synthetic-arma", "theta"),
        "leftover temporary folder": _key(out, "synthetic-arma", "naive2"),
        "another config id": _key(out, "synthetic-tar", "naive2"),
    }
    (parts / torn["missing file"] / "forecasts.parquet").unlink()
    summary = parts / torn["truncated summary.json"] / "summary.json"
    summary.write_bytes(summary.read_bytes()[: summary.stat().st_size // 2])
    series = parts / torn["truncated series.parquet"] / "series.parquet"
    series.write_bytes(series.read_bytes()[: series.stat().st_size // 2])
    (parts / torn["garbage forecasts.parquet"] / "forecasts.parquet").write_bytes(b"PAR1" + os.urandom(200))
    # a save killed before its rename: the checkpoint is not there, its temporary folder is
    key = torn["leftover temporary folder"]
    stale = parts / f".{key}.tmp-{dead}"
    (parts / key).rename(stale)
    (stale / "summary.json").unlink()
    stale_result = out / f".metrics.parquet.tmp-{dead}"
    stale_result.write_bytes(b"PAR1")
    live = parts / f".{key}.tmp-{os.getppid()}"  # a live writer's folder is left alone
    live.mkdir()
    summary = parts / torn["another config id"] / "summary.json"
    data = json.loads(summary.read_text())
    data["config_id"] = "0" * 16
    summary.write_text(json.dumps(data))
    before = _snapshot(out) | {key: None}

    resumed = invoke(["run", "--resume", str(out)])
    assert resumed.exit_code == 0, resumed.output
    assert _done_line(resumed.stderr) == (TOTAL, TOTAL - len(torn))
    after = _snapshot(out)
    assert set(after) == set(_parts(reference))
    for case, key in torn.items():
        assert after[key] != before[key], f"{case}: not redone"
        assert (
            json.loads(after[key][0])["config_id"]
            == json.loads((reference / "parts" / key / "summary.json").read_text())["config_id"]
        )
    for key in set(after) - set(torn.values()):
        assert after[key] == before[key], f"{key} was redone"
    assert not stale.exists() and not stale_result.exists()
    assert live.exists()
    _assert_same_results(out, reference)


# --- atomic writing -------------------------------------------------------------------------


class _Boom:
    """A table whose writing fails, as a kill or a full disk would."""

    def to_parquet(self, *args, **kwargs):
        raise OSError("disk full")


def test_save_is_atomic_and_fsynced(reference, tmp_path, monkeypatch):
    """A checkpoint replaces the previous one whole or not at all, and its files and folder
    reach the disk (fsync) before the rename that makes it count."""
    from harness.runner import ExperimentResult

    out = tmp_path / "run"
    shutil.copytree(reference, out)
    store = store_mod.RunStore.open(out)
    exp = next(e for e in plan_of(out) if e.model.name == "naive")
    assert store.is_done(exp)
    old = _snapshot(out)[exp.key]
    series = pd.read_parquet(store.part_dir(exp) / "series.parquet")
    summary = json.loads((store.part_dir(exp) / "summary.json").read_text())

    # a save that fails half-way leaves the previous checkpoint untouched
    with pytest.raises(OSError, match="disk full"):
        store.save(exp, ExperimentResult(summary, series, _Boom()))
    assert store.is_done(exp) and _snapshot(out)[exp.key] == old

    # a save fsyncs every file and the folder before the rename, and the parent after it
    calls: list[tuple[str, Path]] = []
    monkeypatch.setattr(store_mod, "_fsync", lambda p: calls.append(("fsync", Path(p))))
    real_replace = os.replace
    monkeypatch.setattr(store_mod.os, "replace", lambda a, b: (calls.append(("replace", Path(b))), real_replace(a, b)))
    forecasts = pd.read_parquet(store.part_dir(exp) / "forecasts.parquet")
    store.save(exp, ExperimentResult(summary, series, forecasts))
    monkeypatch.undo()
    final = store.part_dir(exp)
    i = calls.index(("replace", final))
    synced = {p.name for kind, p in calls[:i] if kind == "fsync"}
    assert {"series.parquet", "forecasts.parquet", "summary.json", f".{final.name}.tmp-{os.getpid()}"} <= synced
    assert ("fsync", final.parent) in calls[i:]
    assert store.is_done(exp)
    assert not [p for p in (out / "parts").iterdir() if p.name.startswith(".")]

    # the streaming writer a run uses: an experiment that dies half-way leaves the previous
    # checkpoint as it was and no temporary folder; a committed one is fsynced, then renamed
    old = _snapshot(out)[exp.key]
    with pytest.raises(RuntimeError, match="died"), store.part_writer(exp) as writer:
        writer.append(series.iloc[:3], forecasts.iloc[:10])
        raise RuntimeError("the experiment died")
    assert store.is_done(exp) and _snapshot(out)[exp.key] == old
    assert not [p for p in (out / "parts").iterdir() if p.name.startswith(".")]
    calls.clear()
    monkeypatch.setattr(store_mod, "_fsync", lambda p: calls.append(("fsync", Path(p))))
    monkeypatch.setattr(store_mod.os, "replace", lambda a, b: (calls.append(("replace", Path(b))), real_replace(a, b)))
    with store.part_writer(exp) as writer:
        writer.append(series.iloc[:5], forecasts.iloc[:20])
        writer.append(series.iloc[5:], forecasts.iloc[20:])
        writer.commit(summary)
    monkeypatch.undo()
    i = calls.index(("replace", final))
    assert {"series.parquet", "forecasts.parquet", "summary.json", f".{final.name}.tmp-{os.getpid()}"} <= {
        p.name for kind, p in calls[:i] if kind == "fsync"
    }
    assert store.is_done(exp) and _snapshot(out)[exp.key] != old
    pd.testing.assert_frame_equal(pd.read_parquet(final / "series.parquet"), series)
    pd.testing.assert_frame_equal(pd.read_parquet(final / "forecasts.parquet"), forecasts)
