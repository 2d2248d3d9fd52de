"""Figures (PNG files from small synthetic tables) and the self-contained HTML page."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from harness import figures
from harness.html import CSP, SCRIPT, render_html, write_html

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
MODELS = ["arima", "lstm-torch", "naive", "naive2", "rnn-numpy"]
DATASETS = ["m3-monthly", "airline"]


def assert_png(path: Path, min_kb: float = 8.0) -> None:
    assert path.is_file()
    data = path.read_bytes()
    assert data[:8] == PNG_SIGNATURE
    assert len(data) > min_kb * 1024, f"{path.name} is only {len(data)} bytes"
    import matplotlib.image as mpimg

    img = mpimg.imread(path)
    assert img.shape[0] > 200 and img.shape[1] > 300
    assert float(img[..., :3].std()) > 0.01  # something is drawn


@pytest.fixture(scope="module")
def tables() -> dict:
    rng = np.random.default_rng(0)
    acc = pd.DataFrame([{"dataset": d, "model": m, "smape": 10 + rng.random() * 5} for d in DATASETS for m in MODELS])
    spd = pd.DataFrame(
        [{"dataset": d, "model": m, "ms_per_series": 10 ** rng.uniform(-2, 2)} for d in DATASETS for m in MODELS]
    )
    steps = pd.DataFrame(
        [
            {"dataset": d, "model": m, "step": h, "smape": 8 + h + rng.random()}
            for d in DATASETS
            for m in MODELS
            for h in range(1, 7)
        ]
    )
    ranks = pd.DataFrame({"model": MODELS, "avg_rank": [1.6, 2.1, 3.4, 3.6, 4.3]})
    rows = []
    for d in DATASETS:
        for uid in ["S3", "S1", "S2", "S4", "S5"]:
            y = 100 + rng.normal(size=6).cumsum()
            for m in MODELS:
                for seed in (0, 1):
                    for h in range(6):
                        rows.append(
                            {
                                "unique_id": uid,
                                "window": 0,
                                "origin": 30,
                                "step": h + 1,
                                "y": y[h],
                                "yhat": y[h] + rng.normal(),
                                "lo": np.nan,
                                "hi": np.nan,
                                "dataset": d,
                                "model": m,
                                "seed": seed,
                            }
                        )
    return {
        "accuracy": acc,
        "speed": spd,
        "step_errors": steps,
        "ranks": {"m3-monthly": ranks},
        "cd": {"m3-monthly": 1.2},
        "forecasts": pd.DataFrame(rows),
    }


def test_accuracy_vs_cost(tables: dict, tmp_path: Path) -> None:
    assert_png(figures.accuracy_vs_cost(tables["accuracy"], tables["speed"], tmp_path / "a.png"))
    assert_png(figures.accuracy_vs_cost(tables["accuracy"], tables["speed"], tmp_path / "b.png", dataset="airline"))


def test_smape_by_step(tables: dict, tmp_path: Path) -> None:
    assert_png(figures.smape_by_step(tables["step_errors"], tmp_path / "s.png"))


def test_critical_difference(tables: dict, tmp_path: Path) -> None:
    assert_png(figures.critical_difference(tables["ranks"]["m3-monthly"], 1.2, tmp_path / "cd.png", title="t"))


def test_cd_groups_are_maximal_cliques() -> None:
    ranks = {"a": 1.0, "b": 1.5, "c": 2.4, "d": 4.0}
    assert figures.cd_groups(ranks, 1.0) == [("a", "b"), ("b", "c")]
    assert figures.cd_groups(ranks, 0.1) == []
    assert figures.cd_groups(ranks, 10.0) == [("a", "b", "c", "d")]


def test_forecast_examples_with_and_without_history(tables: dict, tmp_path: Path) -> None:
    fc = tables["forecasts"]
    assert_png(figures.forecast_examples(fc, None, tmp_path / "f.png", n=4))

    def history(ds, uid):
        return np.linspace(90, 100, 30)

    assert_png(figures.forecast_examples(fc, history, tmp_path / "g.png", n=2, models=["arima", "naive"]))


def test_write_figures_names_and_skips_missing(tables: dict, tmp_path: Path) -> None:
    written = figures.write_figures(tmp_path, tables)
    assert set(written) == {
        "accuracy_vs_cost",
        "smape_by_step",
        "cd_m3-monthly",
        "forecasts_m3-monthly",
        "forecasts_airline",
    }
    for path in written.values():
        assert path.parent == tmp_path / "figures"
        assert_png(path)
    only = figures.write_figures(tmp_path / "partial", {"step_errors": tables["step_errors"], "speed": None})
    assert set(only) == {"smape_by_step"}
    assert figures.write_figures(tmp_path / "none", {}) == {}


def test_hostile_names_do_not_break_figures_or_paths(tables: dict, tmp_path: Path) -> None:
    acc = tables["accuracy"].assign(
        model=lambda d: d["model"].replace("arima", "$\\bad{$"),
        dataset=lambda d: d["dataset"].replace("airline", "../../evil"),
    )
    spd = tables["speed"].assign(
        model=lambda d: d["model"].replace("arima", "$\\bad{$"),
        dataset=lambda d: d["dataset"].replace("airline", "../../evil"),
    )
    written = figures.write_figures(
        tmp_path, {"accuracy": acc, "speed": spd, "ranks": {"../../evil": tables["ranks"]["m3-monthly"]}}
    )
    assert set(written) == {"accuracy_vs_cost", "cd_evil"}
    assert all(p.parent == tmp_path / "figures" for p in written.values())


def test_model_styles_consistent_and_distinct() -> None:
    a = figures.model_styles(["b", "a", "naive", "c"])
    assert a == figures.model_styles(["c", "naive", "a", "b"])
    colours = [s["color"] for m, s in a.items()]
    assert len(set(colours)) == len(colours)


EVIL = "<script>alert(1)</script>"


def _page(tmp_path: Path) -> tuple[str, Path]:
    png = figures.smape_by_step(
        pd.DataFrame(
            {"dataset": "d", "model": ["a", "a", EVIL, EVIL], "step": [1, 2, 1, 2], "smape": [1.0, 2.0, 1.5, 2.5]}
        ),
        tmp_path / "fig.png",
    )
    table = pd.DataFrame({"model": [EVIL, "arima"], "smape": [12.34567, float("nan")], "n": [3, 4]})
    sections = [(f"dataset {EVIL}", [f"model {EVIL} did well", table, png]), ("Second", ["plain & simple"])]
    return render_html(f"run {EVIL}", sections), png


def test_render_html_escapes_and_embeds(tmp_path: Path) -> None:
    page, _ = _page(tmp_path)
    # the page's one script is its own fixed one (sorting), allowed by hash; the evil name is text
    assert page.lower().count("<script") == 1 and f"<script>{SCRIPT}</script>" in page
    assert f'content="{CSP}"' in page and "script-src 'sha256-" in CSP and "unsafe-inline" not in CSP
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page
    assert 'src="data:image/png;base64,' in page
    assert "<table>" in page and "12.346" in page and "arima" in page
    assert "plain &amp; simple" in page
    assert "http://" not in page and "https://" not in page  # self-contained


def test_write_html_atomic(tmp_path: Path) -> None:
    out = write_html(tmp_path / "r" / "report.html", "t", [("s", ["x"])])
    assert out.read_text(encoding="utf-8").startswith("<!DOCTYPE html>")
    assert [p.name for p in out.parent.iterdir()] == ["report.html"]


@pytest.mark.slow
@pytest.mark.skipif(shutil.which("chromium") is None, reason="chromium not installed")
def test_page_renders_in_headless_chromium(tmp_path: Path) -> None:
    import matplotlib.image as mpimg

    page, _ = _page(tmp_path)
    html_path = tmp_path / "report.html"
    html_path.write_text(page, encoding="utf-8")
    shot = tmp_path / "shot.png"
    cmd = [
        shutil.which("chromium"),
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-quic",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        f"--user-data-dir={tmp_path / 'profile'}",
        f"--screenshot={shot}",
        "--window-size=1200,2000",
        html_path.resolve().as_uri(),
    ]
    subprocess.run(cmd, check=False, timeout=120, capture_output=True)
    assert shot.is_file() and shot.stat().st_size > 0
    img = mpimg.imread(shot)[..., :3]
    assert img.var() > 0
    assert not np.all(img >= 0.999)
