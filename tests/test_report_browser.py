"""The report's first screen: the three claims as verdict badges, visible at a laptop viewport.

A real report of a tiny run (two datasets, an RNN and arima) is opened in headless Chromium at
1280x800; a script injected into a copy of the page measures the badges after load and writes
what it saw into the DOM as JSON, which ``--dump-dom`` returns. Without Chromium the browser
test is skipped, unless ``RNNBENCH_REQUIRE_BROWSER=1`` (CI sets it), which makes it fail.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from harness import headline, html
from harness.report import SKILL_TITLE
from tests.conftest import invoke

VIEWPORT = (1280, 800)
MEASURE = """
window.addEventListener("load", function () {
  var out = {width: window.innerWidth, height: window.innerHeight, badges: [], sorted: null};
  document.querySelectorAll(".claim .badge").forEach(function (b) {
    var r = b.getBoundingClientRect(), st = getComputedStyle(b);
    out.badges.push({claim: b.closest(".claim").dataset.claim, word: b.querySelector(".word").textContent,
      text: b.textContent, top: r.top, left: r.left, bottom: r.bottom, right: r.right, width: r.width,
      height: r.height, display: st.display, visibility: st.visibility, background: st.backgroundColor});
  });
  var table = null, col = -1;
  document.querySelectorAll("details table").forEach(function (t) {
    t.querySelectorAll("thead th").forEach(function (th, i) {
      if (!table && th.textContent === "smape_mean") { table = t; col = i; }
    });
  });
  if (table) {
    table.querySelectorAll("thead th")[col].click();
    out.sorted = Array.from(table.querySelectorAll("tbody")).map(function (body) {
      return Array.from(body.rows).filter(function (r) { return !r.classList.contains("group"); })
        .map(function (r) { return r.cells[col].textContent; });
    });
  }
  var pre = document.createElement("pre");
  pre.id = "measured";
  pre.textContent = JSON.stringify(out);
  document.body.appendChild(pre);
});
"""


def _panel(path: Path, level: float, seed: int) -> Path:
    rng = np.random.default_rng(seed)
    rows = []
    for k in range(4):
        t = np.arange(60)
        y = level + 2 * k + 0.5 * t + 10 * np.sin(2 * np.pi * t / 12) + rng.normal(0, 1, 60)
        ds = pd.date_range("2015-01-01", periods=60, freq="MS")
        rows.append(pd.DataFrame({"unique_id": f"s{k}", "ds": ds, "y": y}))
    pd.concat(rows).to_csv(path, index=False)
    return path


@pytest.fixture(scope="module")
def report_run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A finished run of two small monthly panels: baselines, arima and a 3-epoch Elman RNN."""
    root = tmp_path_factory.mktemp("browser")
    data = f"{_panel(root / 'alpha.csv', 100.0, 0)},{_panel(root / 'beta.csv', 50.0, 1)}"
    out = root / "run"
    models = "naive,snaive,naive2,arima,rnn-numpy"
    args = ["run", "--models", models, "-p", "rnn-numpy.epochs=3", "--datasets", data, "--workers", "1"]
    result = invoke([*args, "--out", str(out)])
    assert result.exit_code == 0, result.output
    return out


def _chromium() -> str | None:
    found = shutil.which("chromium") or shutil.which("chromium-browser")
    if found is None and os.environ.get("RNNBENCH_REQUIRE_BROWSER") == "1":
        pytest.fail("RNNBENCH_REQUIRE_BROWSER=1 but no chromium on PATH (apt-get install -y chromium)")
    if found is None:
        pytest.skip("chromium not installed (set RNNBENCH_REQUIRE_BROWSER=1 to make this a failure)")
    return found


def test_first_screen_shows_the_three_verdicts_in_headless_chromium(report_run: Path, tmp_path: Path) -> None:
    browser = _chromium()
    page = (report_run / "report.html").read_text(encoding="utf-8")
    assert html.CSP in page
    # the copy runs the measuring script too: its hash joins the page's policy
    probe = page.replace("script-src ", f"script-src {html.csp_hash(MEASURE)} ", 1)
    probe = probe.replace("</body>", f"<script>{MEASURE}</script></body>", 1)
    copy = tmp_path / "probe.html"
    copy.write_text(probe, encoding="utf-8")
    cmd = [
        browser,
        "--headless=new",
        "--no-sandbox",
        "--disable-gpu",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        f"--user-data-dir={tmp_path / 'profile'}",
        f"--window-size={VIEWPORT[0]},{VIEWPORT[1]}",
        "--virtual-time-budget=5000",
        "--dump-dom",
        copy.resolve().as_uri(),
    ]
    done = subprocess.run(cmd, check=False, timeout=120, capture_output=True, text=True)
    found = re.search(r'<pre id="measured">(.*?)</pre>', done.stdout, re.S)
    assert found, f"no measurement in the dumped DOM (rc {done.returncode}): {done.stderr[-2000:]}"
    seen = json.loads(found.group(1).replace("&quot;", '"').replace("&amp;", "&"))
    # headless=new counts window decorations in --window-size: the page gets <= 800 px of height,
    # so the badges are checked against the viewport the page really had (stricter, not looser)
    width, height = seen["width"], seen["height"]
    assert width == VIEWPORT[0] and 600 <= height <= VIEWPORT[1]
    verdicts = pd.read_csv(report_run / "claims" / "verdicts.csv")
    badges = {b["claim"]: b for b in seen["badges"]}
    assert sorted(badges) == ["a", "b", "c"]
    for claim, b in badges.items():
        # on the first screen, displayed, non-empty, and what it says is a verdict word
        assert b["display"] != "none" and b["visibility"] == "visible" and b["width"] > 0 and b["height"] > 0
        assert 0 <= b["left"] and b["right"] <= width and 0 <= b["top"] and b["bottom"] <= height, b
        assert b["word"] in headline.SYMBOLS and b["text"] == headline.SYMBOLS[b["word"]] + b["word"]
        rows = verdicts[verdicts["claim"] == claim]
        assert b["word"] == headline.headline_verdict(rows, evaluated=claim != "c")
    assert badges["c"]["word"] == "not evaluated"  # no memory study attached
    colours = {b["word"]: b["background"] for b in badges.values()}
    assert len(set(colours.values())) == len(colours)  # one colour per verdict word
    # the page's own script ran under its policy: a click on a header sorted each dataset's rows
    # (the claims summary: alpha, beta and overall, five models each)
    assert seen["sorted"] and len(seen["sorted"]) == 3
    for group in seen["sorted"]:
        values = [float(v) for v in group if v != "–"]
        assert values == sorted(values) and len(values) == 5


def test_report_opens_on_the_readings_and_folds_the_evidence(report_run: Path) -> None:
    md = (report_run / "report.md").read_text(encoding="utf-8")
    page = (report_run / "report.html").read_text(encoding="utf-8")
    top = md.split("\n## ", 1)[0].splitlines()
    readings = [line for line in top if line.startswith("- **(")]
    assert [r.split(":")[0] for r in readings] == ["- **(a) Accuracy", "- **(b) Cost", "- **(c) Memory"]
    assert "not evaluated.** Forecast errors alone" in readings[2] and "rnnbench study memory" in readings[2]
    assert "series pooled, rnn-numpy vs arima: mean MASE" in readings[0] and "mean sMAPE" in readings[0]
    assert "ms per series, arima" in readings[1] or "nothing pooled" in readings[1]
    # the first screen comes before the first fold; every section is a closed fold
    assert page.index('class="claims"') < page.index("<details")
    assert page.count("<details") == page.count("</details>") and "<details open" not in page
    for heading in ("(a) Accuracy", "(b) Cost", "(c) Memory", SKILL_TITLE, "Dataset alpha", "Dataset beta"):
        assert f"<h2>{heading}" in page and f"## {heading}" in md
    # tables with several datasets are grouped: one tbody per dataset, headed by its name
    assert '<tr class="group"><th colspan=' in page and ">alpha</th></tr>" in page
    assert (report_run / "figures" / "headline_a.png").is_file() and (
        report_run / "figures" / "headline_b.png"
    ).is_file()
    assert "http://" not in page and "https://" not in page


def test_skill_summary_is_in_the_report_and_skill_csv(report_run: Path) -> None:
    skill = pd.read_csv(report_run / "skill.csv")
    assert set(skill["metric"]) == {"mase", "smape"}
    snaive = skill[skill["model"] == "snaive"]
    assert (snaive["skill"] == 0).all() and (snaive["gmean_rel"] == 1).all()
    assert list(skill.columns[-2:]) == ["alpha", "beta"] and (skill["n_datasets"] == 2).all()
    md = (report_run / "report.md").read_text(encoding="utf-8")
    section = md.split(f"## {SKILL_TITLE}", 1)[1].split("\n## ", 1)[0]
    assert "n = 2 datasets: too few for a bootstrap interval" in section and "| snaive " in section
