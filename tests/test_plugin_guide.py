"""docs/plugins.md cannot rot: its plugin files load without a failure and run through the real
command line, and its test blocks pass.

A block that starts with ``# file: NAME.py`` is a plugin file; one that starts with ``# test`` is
run with the plugin files importable."""

from __future__ import annotations

import re
import runpy
import sys
import warnings
from pathlib import Path

import pandas as pd
import pytest

from harness.plugins import load_registry
from tests.conftest import invoke

GUIDE = Path(__file__).resolve().parent.parent / "docs" / "plugins.md"
BLOCK = re.compile(r"^```python\n(.*?)^```", re.S | re.M)


def blocks() -> tuple[dict[str, str], list[str]]:
    files, tests = {}, []
    for code in BLOCK.findall(GUIDE.read_text(encoding="utf-8")):
        first = code.splitlines()[0].strip()
        if first.startswith("# file:"):
            files[first.removeprefix("# file:").strip()] = code
        elif first == "# test":
            tests.append(code)
    return files, tests


@pytest.fixture(scope="module")
def guide_plugins(tmp_path_factory) -> Path:
    folder = tmp_path_factory.mktemp("guide_plugins")
    files, _ = blocks()
    for name, code in files.items():
        (folder / name).write_text(code, encoding="utf-8")
    return folder


def test_the_guide_has_its_examples():
    files, tests = blocks()
    assert {"guide_drift.py", "guide_panel_mean.py", "guide_linear.py", "guide_dataset.py"} <= set(files)
    assert tests, "no '# test' block in docs/plugins.md"


def test_every_example_plugin_loads_cleanly(guide_plugins):
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # a failing plugin warns: that is a failure here
        registry = load_registry(str(guide_plugins))
    names = {"guide-drift", "guide-drift-damped", "guide-panel-ratio", "guide-linear"}
    assert names <= set(registry.models)
    assert "guide-needs-a-package" in registry.unavailable
    assert "guide-trend-cycle" in registry.datasets
    assert registry.model("guide-linear").cls.family == "other"


def test_the_example_models_run_on_the_example_dataset(guide_plugins, tmp_path):
    out = tmp_path / "run"
    models = "guide-drift,guide-drift-damped,guide-panel-ratio,guide-linear"
    args = ["--plugins-dir", str(guide_plugins), "run", "--models", models, "--datasets", "guide-trend-cycle"]
    result = invoke([*args, "--executor", "serial", "--out", str(out)])
    assert result.exit_code == 0, result.output
    metrics = pd.read_parquet(out / "metrics.parquet")
    assert set(models.split(",")) <= set(metrics["model"])
    assert (metrics["status"] == "ok").all()
    # the noiseless trend-cycle is easy: the linear window model learns it almost exactly
    linear = metrics[metrics["model"] == "guide-linear"]["smape"].mean()
    assert linear < 1.0, linear
    drift = metrics[metrics["model"] == "guide-drift"]
    assert drift["coverage_80"].notna().all() and drift["coverage_95"].notna().all()  # it gives both levels
    assert drift["wql"].notna().all()


def test_the_guide_test_blocks_pass(guide_plugins, monkeypatch):
    monkeypatch.syspath_prepend(str(guide_plugins))
    _, tests = blocks()
    for i, code in enumerate(tests):
        path = guide_plugins / f"guide_test_{i}.py"
        path.write_text(code, encoding="utf-8")
        runpy.run_path(str(path), run_name="__guide_test__")
    for name in [m for m in sys.modules if m.startswith("guide_")]:
        sys.modules.pop(name)
