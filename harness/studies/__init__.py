"""Studies: experiments that isolate one claim, beyond what forecasting benchmarks show.

``memory`` (claim c): error against the lag of the information a series needs, and how fast
gradients decay through time in trained networks. ``cost`` (claim b): how fit+predict time
grows with series length, number of series and hidden size. ``sequential`` (claim b): time per
training update against the length T that backpropagation through time runs over, recurrent
networks beside one parallel over time. Each writes its summary tables to
``<dir>/studies/<kind>/``, which ``rnnbench report RUN_DIR --study DIR`` attaches to a run.
"""

from __future__ import annotations

import datetime as _dt
import json
import shutil
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd

from harness.errors import StudyError

KINDS = ("memory", "cost", "sequential")
#: The ``dataset`` of claim (b)'s verdict rows from an attached sequential study.
SEQUENTIAL_STUDY = "sequential-study"


@dataclass
class Study:
    """One study's stored summary: its tables (``<name>.csv``) and figures (PNGs, any depth)."""

    kind: str
    root: Path
    tables: dict[str, pd.DataFrame] = field(default_factory=dict)
    figures: dict[str, Path] = field(default_factory=dict)


def study_dir(run_root: Path | str, kind: str) -> Path:
    """Where a study of ``kind`` keeps its summary inside a run directory."""
    return Path(run_root) / "studies" / kind


def check_study_root(root: Path | str, kind: str) -> None:
    """Refuse a study directory whose ``manifest.json`` belongs to something else (a benchmark
    run, another kind of study), so a study never overwrites a run's manifest; ``kind`` is the
    manifest kind the study writes (e.g. "cost-study")."""
    path = Path(root) / "manifest.json"
    if not path.is_file():
        return
    try:
        found = json.loads(path.read_text(encoding="utf-8")).get("kind")
    except (OSError, json.JSONDecodeError, AttributeError):
        found = None
    if found != kind:
        raise ValueError(f"{root} already holds another manifest (kind {found!r}); write the study elsewhere")


def write_study_manifest(root: Path | str, kind: str, config: dict[str, Any], out_dir: Path) -> dict[str, Any]:
    """The ``manifest.json`` of a study directory: its kind, when, the config, the hardware and
    its reference workload's ``ref_ms`` (:func:`harness.timing.reference_ms`), package versions
    and git commit it ran with, and the files of its summary (``out_dir``); returned as written."""
    # store and timing stay out of `import harness.studies`, which the report imports
    from harness.store import _git_commit, _versions, atomic_write_text
    from harness.timing import hardware, reference_ms

    root = Path(root)
    manifest = {
        "kind": kind,
        "created": _dt.datetime.now().astimezone().isoformat(timespec="seconds"),
        "config": config,
        "hardware": hardware(),
        "ref_ms": reference_ms(),  # the fixed reference workload, so machines compare
        "versions": _versions(),
        "git_commit": _git_commit(),
        "files": sorted(str(p.relative_to(root)) for p in out_dir.iterdir() if not p.name.startswith(".")),
    }
    atomic_write_text(root / "manifest.json", json.dumps(manifest, indent=2, default=str))
    return manifest


def read_studies(run_root: Path | str) -> dict[str, Study]:
    """The studies stored in (or attached to) a run directory, by kind."""
    out = {}
    for kind in KINDS:
        root = study_dir(run_root, kind)
        if not root.is_dir():
            continue
        study = Study(kind, root)
        for path in sorted(root.glob("*.csv")):
            study.tables[path.stem] = pd.read_csv(path)
        for path in sorted(root.rglob("*.png")):
            study.figures[path.stem] = path
        out[kind] = study
    return out


def sequential_rows(verdict: pd.DataFrame | None) -> list[dict]:
    """Claim (b)'s verdict rows (as :func:`harness.claims.verdicts` makes them) from an attached
    sequential study's verdict.csv, one per device, dataset ``sequential-study``; ``compared``
    names the device. Here rather than in claims.py so the study's rows have one home beside
    its kind. None or empty: no rows."""
    if verdict is None or verdict.empty:
        return []
    return [
        {
            "claim": "b",
            "dataset": SEQUENTIAL_STUDY,
            "compared": str(v["compared"]),
            "rule": str(v["rule"]),
            "verdict": str(v["verdict"]),
            "evidence": str(v["evidence"]),
        }
        for _, v in verdict.iterrows()
    ]


def attach_study(run_root: Path | str, study_root: Path | str) -> list[str]:
    """Copy the summaries of every study in ``study_root`` (a study's run directory, or a
    ``studies/<kind>`` folder itself) into ``run_root/studies/<kind>/``, replacing an older copy
    of the same kind in one rename, so a run's report can quote a study made elsewhere and still
    be rebuilt from the run directory alone. Returns the kinds attached."""
    src = Path(study_root)
    if not src.is_dir():
        raise StudyError(f"study directory {src} does not exist")
    if src.name in KINDS and src.parent.name == "studies":
        sources = {src.name: src}
    else:
        sources = {k: study_dir(src, k) for k in KINDS if study_dir(src, k).is_dir()}
    if not sources:
        raise StudyError(
            f"{src} holds no study (expected {' or '.join(f'studies/{k}/' for k in KINDS)} in it); "
            f"make one with {' or '.join(f'`rnnbench study {k}`' for k in KINDS)}"
        )
    dest_root = Path(run_root) / "studies"
    for kind, path in sources.items():
        if not (path / "verdict.csv").exists():
            raise StudyError(f"{path} is not a finished study (no verdict.csv)")
        dest = dest_root / kind
        if dest.resolve() == path.resolve():
            continue
        tmp = dest_root / f".{kind}.{uuid.uuid4().hex[:8]}.tmp"
        shutil.copytree(path, tmp)
        if dest.exists():
            old = dest_root / f".{kind}.{uuid.uuid4().hex[:8]}.old"
            dest.rename(old)
            tmp.rename(dest)
            shutil.rmtree(old)
        else:
            tmp.rename(dest)
    return sorted(sources)
