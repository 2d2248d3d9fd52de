"""``rnnbench compare``: a run against itself is clean; edited results and manifests produce the
right flags and warnings; a folder that is not a run is one line and exit code 2."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pandas as pd
import pytest

from harness.compare import DEFAULT_TOLERANCE, compare_runs
from harness.store import RunStore
from tests.conftest import invoke


@pytest.fixture
def run_dir(long_csv: Path, tmp_path: Path) -> Path:
    out = tmp_path / "a"
    result = invoke(
        ["run", "--models", "naive,snaive", "--datasets", str(long_csv), "--workers", "1", "--out", str(out)]
    )
    assert result.exit_code == 0, result.output
    return out


def _copy(run: Path, name: str) -> Path:
    dest = run.parent / name
    shutil.copytree(run, dest)
    return dest


def _edit_manifest(run: Path, edit) -> None:
    path = run / "manifest.json"
    manifest = json.loads(path.read_text())
    edit(manifest)
    path.write_text(json.dumps(manifest))


def test_run_against_itself_is_clean(run_dir: Path, tmp_path: Path) -> None:
    csv = tmp_path / "cmp.csv"
    result = invoke(["compare", str(run_dir), str(run_dir), "--csv", str(csv)])
    assert result.exit_code == 0, result.output
    assert "warning" not in result.stderr
    table = pd.read_csv(csv)
    assert sorted(table["model"]) == ["naive", "naive2", "snaive"]
    assert table["flag"].isna().all()  # an empty flag is an empty CSV cell
    assert (table[["delta_smape", "delta_mase", "delta_owa"]] == 0).all().all()
    assert table["speed_ratio"].tolist() == pytest.approx([1.0] * len(table))
    assert "| naive" in result.stdout and "delta_smape" in result.stdout


def test_changed_smape_and_manifest_give_flags_and_warnings(run_dir: Path) -> None:
    b = _copy(run_dir, "b")
    acc = pd.read_csv(b / "accuracy.csv")
    acc.loc[acc["model"] == "naive", "smape"] += 5 * DEFAULT_TOLERANCE
    acc.loc[acc["model"] == "snaive", "smape"] += DEFAULT_TOLERANCE / 2  # within rounding: not flagged
    acc = pd.concat([acc, acc[acc["model"] == "naive"].assign(model="extra")])
    acc.to_csv(b / "accuracy.csv", index=False)

    def edit(m: dict) -> None:
        m["hardware"]["cpu"] = "Some Other CPU"
        m["datasets"]["panel"] = "0000000000000000"
        m["versions"]["numpy"] = "0.0.1"
        m["config"]["protocol"]["kind"] = "rolling"

    _edit_manifest(b, edit)
    table, warnings = compare_runs(RunStore.open(run_dir), RunStore.open(b))
    flags = table.set_index("model")["flag"]
    assert flags.to_dict() == {"naive": "changed", "naive2": "", "snaive": "", "extra": "only in B"}
    assert table.set_index("model").loc["naive", "delta_smape"] == pytest.approx(5 * DEFAULT_TOLERANCE, rel=1e-3)
    text = "\n".join(warnings)
    assert "different machines" in text and "Some Other CPU" in text
    assert "dataset panel has different fingerprints" in text
    assert "numpy" in text and "protocols differ" in text
    assert len(warnings) == 4

    result = invoke(["compare", str(b), str(run_dir)])
    assert result.exit_code == 0
    assert result.stderr.count("rnnbench: warning: ") == 4
    assert "only in A" in result.stdout


def test_seed_spread_sets_the_tolerance(run_dir: Path) -> None:
    b = _copy(run_dir, "b")
    acc = pd.read_csv(b / "accuracy.csv")
    acc["smape_sd"] = 1.0
    acc.loc[acc["model"] == "naive", "smape"] += 0.5  # inside the seed spread
    acc.loc[acc["model"] == "snaive", "smape"] += 2.0  # outside it
    acc.to_csv(b / "accuracy.csv", index=False)
    table, warnings = compare_runs(RunStore.open(run_dir), RunStore.open(b))
    assert table.set_index("model")["flag"].to_dict() == {"naive": "", "naive2": "", "snaive": "changed"}
    assert warnings == []


def test_not_a_run_is_one_line_and_exit_2(run_dir: Path, tmp_path: Path) -> None:
    empty = tmp_path / "empty"
    empty.mkdir()
    result = invoke(["compare", str(run_dir), str(empty)])
    assert result.exit_code == 2
    assert result.stderr.startswith("rnnbench: error: ") and result.stderr.count("\n") == 1
