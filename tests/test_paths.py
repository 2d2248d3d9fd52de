"""Path safety: run ids and output paths cannot escape the output folder, and nothing read back
is unpickled.

Names that end up in file names come from users and plugins (model and dataset names, series
ids, data file names); a run must write only inside its own run directory whatever they are.
The bad ``--run-id`` values themselves are cases of the table in test_bad_input.py.
"""

from __future__ import annotations

import re
import sys
import textwrap
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from harness.errors import StoreError
from harness.store import run_dir_for
from tests.conftest import invoke, plugin_folder, tree

ROOT = Path(__file__).resolve().parent.parent


@pytest.mark.parametrize("name", ["run1", "2026-01-01_quick", "a.b.c", "A-Z_0.9", "x" * 128, "_", "-"])
def test_run_dir_for_accepts_plain_names(name):
    assert run_dir_for(Path("results"), name) == Path("results") / name


@pytest.mark.parametrize(
    "name",
    [
        "",
        ".",
        "..",
        "../x",
        "a/b",
        "a/../b",
        "/abs",
        "\\abs",
        "a\\b",
        ".hidden",
        "x" * 129,
        "tab\there",
        "new\nline",
        "nul\0",
        "sp ace",
        "ünïcode",
        "a:b",
        "~",
    ],
)
def test_run_dir_for_refuses_anything_else(name):
    with pytest.raises(StoreError, match="plain name"):
        run_dir_for(Path("results"), name)


def hostile_plugin(tmp: Path) -> str:
    """Models and a dataset whose names and series ids look like paths, some of them absolute
    paths into the test's own folder (so a write there would be seen)."""
    return textwrap.dedent(
        f"""
        import numpy as np
        import harness

        class Escape(harness.LocalForecaster):
            name = "../../escape"

            def fit_predict_one(self, y):
                return np.repeat(y[-1], self.horizon)

        class AbsoluteEscape(harness.Forecaster):
            name = {str(tmp / "abs-escape")!r}

            def fit(self, panel):
                pass

            def predict(self, panel):
                return np.array([[v[-1]] * self.horizon for v in panel.values])

        def load():
            v = np.linspace(10.0, 60.0, 40)
            ids = ("../../x", "..", {str(tmp / "series-escape")!r})
            return harness.Dataset({str(tmp / "nest" / ".." / "dataset-escape")!r},
                                   harness.Panel(ids, (v, v + 1, v * 2), "other", 1, 6))

        @harness.hookimpl
        def register_models(register):
            register(Escape)
            register(AbsoluteEscape)

        @harness.hookimpl
        def register_datasets(register):
            register("..", load)
        """
    )


def test_hostile_names_write_only_inside_the_run_dir(tmp_path, monkeypatch):
    work = tmp_path / "a" / "b" / "c" / "work"  # any ../ from the run dir still lands inside tmp_path
    work.mkdir(parents=True)
    monkeypatch.chdir(work)
    monkeypatch.setattr(sys, "dont_write_bytecode", True)
    plugins = plugin_folder(tmp_path / "plugins", hostile_plugin(tmp_path), "hostile.py")
    ids = ["../../x", "..", str(tmp_path / "csv-escape"), 'quo"te, comma']
    t = np.arange(40)
    frame = pd.concat(pd.DataFrame({"unique_id": uid, "ds": t, "y": 50.0 + k + t}) for k, uid in enumerate(ids))
    data = tmp_path / "odd näme (v2) 'q' $x;&.csv"
    frame.to_csv(data, index=False)
    before = tree(tmp_path)

    models = f"../../escape,{tmp_path / 'abs-escape'},naive"
    result = invoke(
        [
            "--plugins-dir",
            str(plugins),
            "run",
            "--run-id",
            "hostile-1.0_x",
            "--models",
            models,
            "--datasets",
            f"{data},..",
            "--horizon",
            "6",
            "--workers",
            "1",
        ]
    )

    assert result.exit_code == 0, result.output
    run_dir = work / "results" / "hostile-1.0_x"
    assert (run_dir / "report.md").is_file() and (run_dir / "report.html").is_file()
    after = tree(tmp_path)
    new = set(after) - set(before)
    outside = sorted(str(p) for p in new if p != work / "results" and run_dir not in p.parents and p != run_dir)
    assert outside == []
    changed = sorted(str(p) for p, v in before.items() if after.get(p) != v and not p.is_dir())
    assert changed == []
    for path in run_dir.rglob("*"):
        assert path.resolve().is_relative_to(run_dir.resolve())
        assert ".." not in path.relative_to(run_dir).parts
    parts = sorted(p.name for p in (run_dir / "parts").iterdir())
    assert len(parts) == 2 * 4  # 2 datasets x (2 hostile models, naive, naive2), one folder each
    metrics = pd.read_parquet(run_dir / "metrics.parquet")
    assert set(ids) <= set(metrics["unique_id"])  # the names themselves survive, as data
    assert {"../../escape", str(tmp_path / "abs-escape")} <= set(metrics["model"])

    # the same --run-id again is refused, and nothing changes
    before = tree(tmp_path)
    again = invoke(
        [
            "--plugins-dir",
            str(plugins),
            "run",
            "--run-id",
            "hostile-1.0_x",
            "--models",
            "naive",
            "--datasets",
            str(data),
            "--horizon",
            "6",
        ]
    )
    assert again.exit_code == 2 and "already holds a run" in again.stderr
    assert tree(tmp_path) == before


# --- nothing read back is unpickled ---------------------------------------------------------------

#: Calls that unpickle (or may): each is an error in the harness and the built-in plugins, which
#: read back only JSON, CSV and Parquet. ``np.load`` is allowed without ``allow_pickle=True`` and
#: ``torch.load`` only with ``weights_only=True``.
UNPICKLING = [
    (re.compile(r"\b(c?pickle|dill|cloudpickle|joblib|marshal)\.(load|loads|Unpickler)\b"), "unpickles"),
    (re.compile(r"\bread_pickle\b"), "pd.read_pickle unpickles"),
    (re.compile(r"\bshelve\.open\b"), "shelve unpickles"),
    (re.compile(r"\ballow_pickle\s*=\s*True"), "np.load(allow_pickle=True) unpickles"),
    (re.compile(r"\btorch\.load\((?![^)]*weights_only\s*=\s*True)"), "torch.load without weights_only=True unpickles"),
]


def unpickling_calls(text: str) -> list[str]:
    return [why for pattern, why in UNPICKLING if pattern.search(text)]


@pytest.mark.parametrize(
    "snippet",
    [
        "pickle.load(f)",
        "obj = pickle.loads(b)",
        "pd.read_pickle(path)",
        "df = pandas.read_pickle(p)",
        "np.load(p, allow_pickle=True)",
        "numpy.load(p, allow_pickle = True)",
        "joblib.load(p)",
        "torch.load(p)",
        "torch.load(p, map_location='cpu')",
        "cloudpickle.loads(b)",
        "dill.load(f)",
        "shelve.open(p)",
    ],
)
def test_the_scanner_finds_unpickling(snippet):
    assert unpickling_calls(snippet)


@pytest.mark.parametrize(
    "snippet",
    [
        "np.load(p)",
        "torch.load(p, weights_only=True)",
        "json.loads(text)",
        "pd.read_parquet(p)",
        "pickle.dumps(x)",
    ],
)
def test_the_scanner_lets_safe_reads_pass(snippet):
    assert not unpickling_calls(snippet)


def test_nothing_read_back_is_unpickled():
    sources = sorted((ROOT / "harness").rglob("*.py")) + sorted((ROOT / "plugins").rglob("*.py"))
    assert len(sources) > 20
    found = []
    for path in sources:
        for lineno, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
            code = line.split("#", 1)[0]
            found.extend(f"{path.relative_to(ROOT)}:{lineno}: {why}: {line.strip()}" for why in unpickling_calls(code))
    assert found == []
