"""torch is an optional extra (issue 16, item 8). Without it the torch plugin registers its three
names as unavailable; a built-in suite runs without them, with one warning naming them and what
to install, and a run that names one explicitly (``--models``, ``-p``, a suite file given by path)
exits 2 with one line that says what to install.

A missing torch is simulated honestly: in a subprocess that hides torch from every import finder
(:mod:`tests.without_torch`), or in-process by making ``importlib.util.find_spec("torch")`` return
None before the registry is loaded (what the plugin asks). These tests need no torch and run with
or without it.
"""

from __future__ import annotations

import importlib.util
import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from harness.errors import ModelError, SuiteError
from harness.execute import SkippedModelsWarning, skip_unavailable
from harness.plugins import PluginWarning, Registry, UnavailableModel, load_registry
from harness.suite import SUITES_DIR, load_suite
from tests.conftest import invoke, tree

ROOT = Path(__file__).resolve().parent.parent
TORCH_MODELS = ["rnn-torch", "lstm-torch", "gru-torch", "elman-torch", "irnn-torch"]
#: The torch models of the other torch plugin module (a temporal convolutional network).
TCN_MODELS = ["tcn-torch"]
WHY = "torch is not installed (pip install 'rnnbench[torch]')"
SKIPPED = f"rnnbench: warning: suite quick runs without rnn-torch, lstm-torch, gru-torch: {WHY}"


def rnnbench_without_torch(*args: str, cwd: Path) -> subprocess.CompletedProcess:
    """The real ``rnnbench`` command in a fresh process that cannot import torch."""
    code = "import sys, tests.without_torch; from harness.cli import main; sys.argv[0] = 'rnnbench'; main()"
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    env.pop("RNNBENCH_STRICT_PLUGINS", None)
    return subprocess.run(
        [sys.executable, "-c", code, *args], cwd=cwd, env=env, capture_output=True, text=True, timeout=600
    )


@pytest.fixture
def no_torch(monkeypatch):
    """In this process, ``importlib.util.find_spec("torch")`` says torch is not installed."""
    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec", lambda name, *a: None if name == "torch" else real(name, *a))


def test_the_plugin_module_imports_and_registers_its_names_as_unavailable_without_torch():
    code = (
        "import tests.without_torch, warnings, harness\n"
        "warnings.simplefilter('error')\n"  # no warning at registration: it comes where a run skips them
        "import plugins.torch_rnn as m\n"
        "got = []\n"
        "m.register_models(register=lambda cls, name=None, **k: got.append((cls, name, k)))\n"
        "missing = harness.Unavailable('torch is not installed', install=\"pip install 'rnnbench[torch]'\")\n"
        "assert got == [(missing, 'rnn-torch', {'cell': 'rnn'}), (missing, 'lstm-torch', {'cell': 'lstm'}),\n"
        "               (missing, 'gru-torch', {'cell': 'gru'}),\n"
        "               (missing, 'elman-torch', {'cell': 'rnn', 'init': 'orthogonal'}),\n"
        "               (missing, 'irnn-torch', {'cell': 'rnn', 'activation': 'relu', 'init': 'identity', 'lr': 1e-4})],"
        " got\n"
        "import sys; assert 'torch' not in sys.modules\n"
    )
    subprocess.run([sys.executable, "-c", code], cwd=ROOT, env={**os.environ, "PYTHONPATH": str(ROOT)}, check=True)


def test_the_tcn_plugin_module_imports_and_registers_its_name_as_unavailable_without_torch():
    code = (
        "import tests.without_torch, warnings, harness\n"
        "warnings.simplefilter('error')\n"
        "import plugins.torch_tcn as m\n"
        "got = []\n"
        "m.register_models(register=lambda cls, name=None, **k: got.append((cls, name, k)))\n"
        "missing = harness.Unavailable('torch is not installed', install=\"pip install 'rnnbench[torch]'\")\n"
        "assert got == [(missing, 'tcn-torch', {})], got\n"
        "import sys; assert 'torch' not in sys.modules\n"
    )
    subprocess.run([sys.executable, "-c", code], cwd=ROOT, env={**os.environ, "PYTHONPATH": str(ROOT)}, check=True)


def test_the_registry_knows_the_names_and_what_to_install(no_torch, recwarn):
    registry = load_registry()
    assert not [w for w in recwarn if issubclass(w.category, PluginWarning)]  # a valid registration
    assert not set(TORCH_MODELS + TCN_MODELS) & set(registry.models)
    # other optional plugins (statsforecast) may be unavailable too, depending on the environment
    torch_plugins = {
        k: v for k, v in registry.unavailable.items() if v.plugin in ("plugins.torch_rnn", "plugins.torch_tcn")
    }
    assert torch_plugins == {
        **{
            name: UnavailableModel(name, "torch is not installed", "pip install 'rnnbench[torch]'", "plugins.torch_rnn")
            for name in TORCH_MODELS
        },
        **{
            name: UnavailableModel(name, "torch is not installed", "pip install 'rnnbench[torch]'", "plugins.torch_tcn")
            for name in TCN_MODELS
        },
    }
    expected = f"model 'lstm-torch' is not available: {WHY}"
    with pytest.raises(ModelError, match=f"^{re.escape(expected)}$"):
        registry.model("lstm-torch")
    with pytest.raises(ModelError, match="did you mean lstm-torch"):
        registry.model("lstm-torc")
    assert "plugins.torch_rnn" in {p.name for p in registry.plugins} and not registry.failures


def test_listings_show_them_as_unavailable(no_torch):
    models = invoke(["models"])
    assert models.exit_code == 0
    rows = [line for line in models.stdout.splitlines() if line.split()[0] in TORCH_MODELS + TCN_MODELS]
    assert rows == [
        f"{name:<16} {'-':<7} {'-':<9} {'plugins.torch_tcn' if name in TCN_MODELS else 'plugins.torch_rnn':<24} "
        f"unavailable: {WHY}"
        for name in sorted(TORCH_MODELS + TCN_MODELS)
    ]
    one = invoke(["models", "rnn-torch"])
    assert one.exit_code == 2 and one.stdout == ""
    assert one.stderr.strip() == f"rnnbench: error: model 'rnn-torch' is not available: {WHY}"


@pytest.mark.parametrize(
    "args, expected",
    [
        (["--models", "naive,rnn-torch"], f"model 'rnn-torch' is not available: {WHY}"),
        (["-p", "lstm-torch.hidden=4"], f"--param 'lstm-torch.hidden=4': model 'lstm-torch' is not available: {WHY}"),
        (["--suite", str(SUITES_DIR / "quick.toml")], f"model 'rnn-torch' is not available: {WHY}"),
        (["--suite", "m3-monthly", "--models", "arima,gru-torch"], f"model 'gru-torch' is not available: {WHY}"),
    ],
    ids=["models", "param-with-builtin-suite", "suite-file-by-path", "models-over-builtin-suite"],
)
def test_naming_one_explicitly_exits_2_with_one_line_naming_the_extra(no_torch, tmp_path, long_csv, args, expected):
    out = tmp_path / "out"
    before = tree(tmp_path)
    result = invoke(["run", "--datasets", str(long_csv), *args, "--out", str(out)])
    assert result.exit_code == 2 and result.stdout == ""
    assert result.stderr.strip().splitlines() == [f"rnnbench: error: {expected}"]
    assert not out.exists() and tree(tmp_path) == before


def test_a_builtin_suite_runs_without_them_with_one_warning(tmp_path, long_csv):
    out = tmp_path / "run"
    result = rnnbench_without_torch(
        "run", "--suite", "quick", "--datasets", str(long_csv), "--executor", "serial", "--out", str(out), cwd=tmp_path
    )
    assert result.returncode == 0, result.stderr
    warnings = [line for line in result.stderr.splitlines() if "warning" in line]
    assert warnings == [SKIPPED]
    manifest = json.loads((out / "manifest.json").read_text())
    assert list(manifest["config"]["models"]) == ["naive", "snaive", "naive2", "theta", "arima", "rnn-numpy"]
    assert "| rnn-numpy " in (out / "report.md").read_text()


def test_naming_one_without_torch_fails_before_anything_is_written(tmp_path, long_csv):
    out = tmp_path / "run"
    result = rnnbench_without_torch(
        "run", "--models", "rnn-torch", "--datasets", str(long_csv), "--out", str(out), cwd=tmp_path
    )
    assert result.returncode == 2 and result.stdout == ""
    assert result.stderr.splitlines() == [f"rnnbench: error: model 'rnn-torch' is not available: {WHY}"]
    assert not out.exists() and list(tmp_path.iterdir()) == [long_csv]


def _registry_without(*names: str) -> Registry:
    registry = Registry()
    registry.unavailable = {n: UnavailableModel(n, "needs the moon", "pip install moon", "lunar") for n in names}
    return registry


def test_skip_unavailable_only_for_builtin_suites_named_and_never_all_models():
    config = load_suite("quick")
    with pytest.warns(SkippedModelsWarning) as record:
        skip_unavailable(config, _registry_without("arima", "gru-torch"), {"suite": None})
    assert [str(w.message) for w in record] == [
        "suite quick runs without arima, gru-torch: needs the moon (pip install moon)"
    ]
    assert "arima" not in config.models and "gru-torch" not in config.models and "naive" in config.models

    by_path = load_suite(str(SUITES_DIR / "quick.toml"))
    skip_unavailable(by_path, _registry_without("arima"), {"suite": str(SUITES_DIR / "quick.toml")})
    assert "arima" in by_path.models  # named explicitly: planning fails on it, naming what to install

    everything = load_suite("m3-monthly")
    with pytest.raises(SuiteError, match="^suite m3-monthly: none of its models can run here: naive, snaive"):
        skip_unavailable(everything, _registry_without(*everything.models), {"suite": "m3-monthly"})


def test_memory_study_without_torch_stops_before_the_run(no_torch, tmp_path):
    """Its sequence benchmark trains torch networks (elman-torch, the first of them): without
    torch it says so at once, not after the whole memory suite has run."""
    out = tmp_path / "memory"
    result = invoke(["study", "memory", "--tasks", "copy", "--lags", "6", "--out", str(out)])
    assert result.exit_code == 2
    assert result.stderr.strip().splitlines() == [f"rnnbench: error: model 'elman-torch' is not available: {WHY}"]
    assert not out.exists()
