"""Shared fixtures: a throwaway third-party plugin, installed both as an entry point and as a
plugins-dir file, and a helper that runs the real CLI in-process."""

from __future__ import annotations

import sys
import textwrap
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from click.testing import CliRunner

import harness
from harness.cli import cli

THROWAWAY_PLUGIN = textwrap.dedent(
    '''
    """A third-party plugin written only against harness's public face."""
    import numpy as np
    import harness

    class Drift(harness.LocalForecaster):
        """The line through the first and last values, extended (damped by ``damping``)."""
        name = "drift"
        damping = harness.param(1.0, "fraction of the drift kept", ge=0)

        def fit_predict_one(self, y):
            step = (y[-1] - y[0]) / (len(y) - 1)
            return y[-1] + self.damping * step * np.arange(1, self.horizon + 1)

    class PanelMean(harness.Forecaster):
        """A global model: one level learned from all series, scaled to each series' last value."""
        name = "panel-mean"
        window = harness.param(3, "last values averaged per series", ge=1)

        def fit(self, panel):
            ratios = [np.mean(v[-self.window:]) / v[-1] for v in panel.values if v[-1] != 0]
            self.ratio_ = float(np.mean(ratios))

        def predict(self, panel):
            return {uid: np.full(self.horizon, v[-1] * self.ratio_) for uid, v in zip(panel.ids, panel.values)}

    @harness.hookimpl
    def register_models(register):
        register(Drift)
        register(Drift, name="drift-damped", damping=0.5)
        register(PanelMean)
    '''
)


#: Columns of metrics.parquet that hold measured time, not results.
TIMING = ["series_s"]
RESULT_KEYS = ["dataset", "model", "seed", "unique_id", "window"]


def sorted_metrics(run: Path) -> pd.DataFrame:
    """A run's metrics.parquet in a canonical row order, timing columns dropped (to compare runs)."""
    m = pd.read_parquet(run / "metrics.parquet").drop(columns=TIMING)
    return m.sort_values(RESULT_KEYS).reset_index(drop=True)


def plan_of(run: Path) -> list:
    """The experiments of a stored run, planned again from its manifest as a resume would."""
    from harness.execute import build_config
    from harness.plugins import load_registry
    from harness.runner import plan, resolve_datasets
    from harness.store import RunStore

    registry = load_registry()
    config = build_config({}, base=RunStore.open(run).config())
    return plan(config, registry, resolve_datasets(config, registry))


def tree(root: Path) -> dict[Path, tuple]:
    """Every path under ``root``: folder, or file with its size and modification time."""
    return {p: (p.is_dir(), None if p.is_dir() else (p.stat().st_size, p.stat().st_mtime_ns)) for p in root.rglob("*")}


def plugin_folder(folder: Path, text: str, name: str = "plugin.py") -> Path:
    """A plugins dir (for --plugins-dir) holding one plugin file."""
    folder.mkdir(parents=True, exist_ok=True)
    (folder / name).write_text(text)
    return folder


@pytest.fixture(scope="module")
def registry():
    """The built-in plugins, loaded once per module."""
    from harness.plugins import load_registry

    return load_registry()


def sine_panel(n_series: int = 6, length: int = 96, h: int = 12) -> harness.Panel:
    """Noiseless monthly sines of slightly different amplitude and phase (for neural models)."""
    t = np.arange(length)
    values = tuple(50 + 10 * (1 + 0.1 * k) * np.sin(2 * np.pi * (t + k) / 12) for k in range(n_series))
    return harness.Panel(tuple(f"s{k}" for k in range(n_series)), values, "monthly", 12, h)


def split(panel: harness.Panel) -> tuple[harness.Panel, np.ndarray]:
    """The panel without its last ``horizon`` values, and those values."""
    h = panel.horizon
    return panel.with_values([v[:-h] for v in panel.values]), np.array([v[-h:] for v in panel.values])


def stacked(forecasts, panel: harness.Panel) -> np.ndarray:
    """A global model's forecasts keyed by unique_id as an array ``(n_series, horizon)`` in panel
    order (the point forecasts of :class:`harness.Forecast` values); the keys must be exactly the
    panel's ids."""
    assert list(forecasts) == list(panel.ids)

    def mean(fc):
        return fc.mean if isinstance(fc, harness.Forecast) else fc

    return np.vstack([np.asarray(mean(forecasts[uid]), dtype=float) for uid in panel.ids])


def invoke(args: list[str], env: dict[str, str] | None = None):
    """Run the rnnbench CLI in this process; returns click's Result (exit_code, output, stderr)."""
    return CliRunner().invoke(cli, args, env=env, catch_exceptions=False)


@pytest.fixture
def plugins_dir(tmp_path: Path) -> Path:
    return plugin_folder(tmp_path / "myplugins", THROWAWAY_PLUGIN, "throwaway.py")


@pytest.fixture
def entry_point_plugin(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> str:
    """Install the throwaway plugin as a distribution with an ``rnnbench`` entry point, the way
    ``pip install`` would lay it out (a module plus a .dist-info folder on sys.path)."""
    site = tmp_path / "site"
    site.mkdir()
    (site / "rnnbench_throwaway.py").write_text(THROWAWAY_PLUGIN)
    info = site / "rnnbench_throwaway-1.2.3.dist-info"
    info.mkdir()
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: rnnbench-throwaway\nVersion: 1.2.3\n")
    (info / "entry_points.txt").write_text("[rnnbench]\nthrowaway = rnnbench_throwaway\n")
    monkeypatch.syspath_prepend(str(site))
    yield "throwaway"
    sys.modules.pop("rnnbench_throwaway", None)


@pytest.fixture
def long_csv(tmp_path: Path) -> Path:
    """Four monthly series of 60 points in long format (unique_id, ds, y)."""
    rng = np.random.default_rng(0)
    rows = []
    for k in range(4):
        t = np.arange(60)
        y = 100 + 2 * k + 0.5 * t + 10 * np.sin(2 * np.pi * t / 12) + rng.normal(0, 1, 60)
        ds = pd.date_range("2015-01-01", periods=60, freq="MS")
        rows.append(pd.DataFrame({"unique_id": f"s{k}", "ds": ds, "y": y}))
    path = tmp_path / "panel.csv"
    pd.concat(rows).to_csv(path, index=False)
    return path
