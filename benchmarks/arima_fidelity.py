"""How each step of ``arima`` that follows R's ``forecast::auto.arima`` changes accuracy and cost.

One *variant* is one version of ``plugins/arima.py`` with parameters: the worktree's (default),
the file at a git revision (``--source REV``), or that file with one later commit's change to it
applied (``--source REV+COMMIT``: "this change alone on top of REV"). Every variant forecasts
the official 18-step test of all 1428 M3 monthly series (dataset ``m3-monthly`` from the harness
registry) in one process, one thread; per series it records sMAPE and MASE (harness.metrics, M4
definitions), the process CPU seconds of fit + forecast, the model chosen and any fallback note,
in ``benchmarks/results/arima_fidelity/<label>.csv``. ``table`` summarises every stored variant
on all series and on the long subset (in-sample length >= 81, the issue's 1045 series), with
the difference to the variant labelled ``before``, into ``benchmarks/results/arima_fidelity.md``.

    python benchmarks/arima_fidelity.py run --label before --source 50dcb21
    python benchmarks/arima_fidelity.py run --label exact --source 50dcb21 --params approximation=False
    python benchmarks/arima_fidelity.py run --label final
    python benchmarks/arima_fidelity.py table

Run with ``PYTHONPATH`` at the checkout (the worktree's ``harness``); ``--limit N`` takes an
evenly spaced subset for a quick check (its CSV is not mixed with full runs: label it apart).
"""

from __future__ import annotations

import os

for _var in ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS"):
    os.environ[_var] = "1"  # one thread each, before numpy is imported

import argparse
import csv
import importlib.util
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from types import ModuleType

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from _runlib import parse_params  # noqa: E402  (the benchmarks' shared helpers)

OUT = ROOT / "benchmarks" / "results" / "arima_fidelity"
TABLE = ROOT / "benchmarks" / "results" / "arima_fidelity.md"
LONG = 81  # the long subset: at least this many in-sample points
FILES = ("plugins/arima.py", "plugins/arima_search.py")


def load_source(source: str) -> ModuleType:
    """The arima module of ``source``: ``worktree``, ``REV`` or ``REV+COMMIT`` (REV's files with
    COMMIT's change to them applied by ``git apply``), imported from a temporary folder; its
    ``plugins/arima_search.py`` (where REV has one) is imported from there too."""
    if source == "worktree":
        import plugins.arima as module

        return module
    rev, _, commit = source.partition("+")
    folder = Path(tempfile.mkdtemp(prefix="arima-variant-"))
    (folder / "plugins").mkdir()
    for name in FILES:
        try:
            (folder / name).write_text(_git("show", f"{rev}:{name}"))
        except subprocess.CalledProcessError:  # an older revision without the file
            pass
    if commit:
        patch = _git("diff", f"{commit}^", commit, "--", *FILES)
        if not patch.strip():
            raise SystemExit(f"commit {commit} does not change {', '.join(FILES)}")
        subprocess.run(["git", "apply", "-"], input=patch, text=True, cwd=folder, check=True)
    tag = f"{rev}_{commit}".replace("+", "_")
    text = (folder / FILES[0]).read_text()
    if (folder / FILES[1]).is_file():
        (folder / f"arima_search_{tag}.py").write_text((folder / FILES[1]).read_text())
        sys.path.insert(0, str(folder))
        text = text.replace("from plugins import arima_search as search", f"import arima_search_{tag} as search")
    (folder / FILES[0]).write_text(text)
    spec = importlib.util.spec_from_file_location(f"arima_{tag}", folder / FILES[0])
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _git(*args: str) -> str:
    return subprocess.run(["git", *args], cwd=ROOT, capture_output=True, text=True, check=True).stdout


def load_m3_monthly(limit: int | None):
    from harness.plugins import load_registry

    ds = load_registry().dataset("m3-monthly").load()
    idx = range(len(ds.panel))
    if limit and limit < len(ds.panel):
        idx = np.unique(np.linspace(0, len(ds.panel) - 1, limit).round().astype(int))
    return [(ds.panel.ids[i], np.asarray(ds.panel.values[i]), np.asarray(ds.test[i])) for i in idx]


def run(label: str, source: str, params: dict, limit: int | None) -> Path:
    import warnings

    from harness.metrics import mase, smape

    module = load_source(source)
    data = load_m3_monthly(limit)
    model = module.AutoArima(horizon=18, season_length=12, seed=0, **params)
    model.fit_predict_one(data[0][1])  # warm-up (first-call imports), not timed
    OUT.mkdir(parents=True, exist_ok=True)
    path = OUT / f"{label}.csv"
    part = path.with_suffix(".csv.part")  # rows as they come; renamed once every series is done
    t0 = time.perf_counter()
    with part.open("w", newline="") as fh:
        writer = csv.DictWriter(fh, fieldnames=["unique_id", "n", "smape", "mase", "cpu_s", "model", "note"])
        writer.writeheader()
        for k, (uid, x, xx) in enumerate(data):
            c0 = time.process_time()
            fc = model.fit_predict_one(x)
            cpu = time.process_time() - c0
            lm = model.last_model or {}
            chosen = lm.get("kind", "")
            if chosen == "arima":
                chosen = f"{lm['order']}{lm['seasonal_order']}{'c' if lm['constant'] else ''}".replace(" ", "")
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                score = mase(xx, fc.mean, x, 12)
            writer.writerow(
                {
                    "unique_id": uid,
                    "n": x.size,
                    "smape": smape(xx, fc.mean),
                    "mase": score,
                    "cpu_s": cpu,
                    "model": chosen,
                    "note": fc.note,
                }
            )
            fh.flush()
            if (k + 1) % 100 == 0:
                print(f"{label}: {k + 1}/{len(data)} series, {time.perf_counter() - t0:.0f} s", flush=True)
    part.replace(path)
    (OUT / f"{label}.source").write_text(f"--source {source} --params {params!r} --limit {limit}\n")
    print(f"wrote {path} ({time.perf_counter() - t0:.0f} s)")
    return path


def summary(path: Path, ids: list[str] | None = None) -> dict[str, dict[str, float]]:
    """Means and CPU of one variant, on all its series and the long subset (or on ``ids``)."""
    import pandas as pd

    df = pd.read_csv(path)
    if ids is not None:
        df = df.set_index("unique_id").loc[ids].reset_index()
    out = {}
    for name, part in (("all", df), ("long", df[df["n"] >= LONG])):
        out[name] = {
            "series": len(part),
            "smape": float(part["smape"].mean()),
            "mase": float(part["mase"].mean()),
            "cpu_s": float(part["cpu_s"].sum()),
            "fallbacks": int(part["note"].fillna("").str.startswith("fallback").sum()),
        }
    return out


def table(order: list[str] | None = None) -> str:
    import pandas as pd

    labels = sorted(p.stem for p in OUT.glob("*.csv"))
    if order:
        labels = [x for x in order if x in labels] + [x for x in labels if x not in order]
    sums = {label: summary(OUT / f"{label}.csv") for label in labels}
    # each variant against "before" on the same series (a --limit run covers a subset)
    ids = {label: list(pd.read_csv(OUT / f"{label}.csv")["unique_id"]) for label in labels}
    bases = {label: summary(OUT / "before.csv", ids[label]) for label in labels} if "before" in labels else {}
    lines = []
    for part, title in (
        ("all", "all M3 monthly series"),
        ("long", f"M3 monthly series with >= {LONG} in-sample points"),
    ):
        n = sums["before"][part]["series"] if "before" in sums else next(iter(sums.values()))[part]["series"]
        lines += [
            f"### {title} ({n}; a variant run on fewer is compared with before on the same series)",
            "",
            "| variant | series | sMAPE | MASE | CPU s | CPU ms/series | d sMAPE | d MASE | CPU x | fallbacks | run with |",
            "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | --- |",
        ]
        for label, s in sums.items():
            r = s[part]
            b = bases[label][part] if bases else r
            how = (OUT / f"{label}.source").read_text().strip() if (OUT / f"{label}.source").is_file() else ""
            lines.append(
                f"| {label} | {r['series']} | {r['smape']:.3f} | {r['mase']:.4f} | {r['cpu_s']:.0f} | {1000 * r['cpu_s'] / r['series']:.0f} | "
                f"{r['smape'] - b['smape']:+.3f} | {r['mase'] - b['mase']:+.4f} | {r['cpu_s'] / b['cpu_s']:.2f} | "
                f"{r['fallbacks']} | `{how}` |"
            )
        lines.append("")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    sub = ap.add_subparsers(dest="cmd", required=True)
    r = sub.add_parser("run", help="forecast M3 monthly with one variant")
    r.add_argument("--label", required=True)
    r.add_argument("--source", default="worktree", help="worktree, REV or REV+COMMIT")
    r.add_argument("--params", default="", help="arima parameters, e.g. 'approximation=False'")
    r.add_argument("--limit", type=int, default=None)
    t = sub.add_parser("table", help="summarise the stored variants")
    t.add_argument("--order", default="", help="labels in the order of the table")
    t.add_argument("--intro", default="", help="a markdown file put before the table")
    args = ap.parse_args(argv)
    if args.cmd == "run":
        run(args.label, args.source, parse_params(args.params), args.limit)
        return 0
    text = table([x for x in args.order.split(",") if x])
    intro = Path(args.intro).read_text() if args.intro else ""
    TABLE.write_text(intro + text)
    print(text)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
