"""Studies: experiments that isolate one claim, beyond what forecasting benchmarks show.

``memory`` (claim c): error against the lag of the information a series needs, and how fast
gradients decay through time in trained networks. ``cost`` (claim b): how fit+predict time
grows with series length, number of series and hidden size. Each writes its summary tables to
``<dir>/studies/<kind>/``, which ``rnnbench report RUN_DIR --study DIR`` attaches to a run.
"""

from __future__ import annotations

import shutil
import uuid
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

from harness.errors import StudyError

KINDS = ("memory", "cost")


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
            f"{src} holds no study (expected studies/memory/ or studies/cost/ in it); "
            "make one with `rnnbench study memory` or `rnnbench study cost`"
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
