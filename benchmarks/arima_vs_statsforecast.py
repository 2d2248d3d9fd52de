"""Accuracy and speed of the ``arima`` plugin against statsforecast's AutoARIMA on M3.

Both models forecast the official test of the same M3 series (``--datasets``: one or more of
``m3-yearly`` h6 m1, ``m3-quarterly`` h8 m4, ``m3-monthly`` h18 m12, ``m3-other`` h8 m1, or
``m3`` for all four, 3003 series; loaded through the harness dataset registry). The table gives
per family and overall the mean sMAPE and MASE (harness.metrics, M4 definitions) and the CPU
time of fit + forecast per series (process time, one thread; with ``--workers N`` measured
inside the workers, so it stays per-core cost), and, with ``--out``, is written as markdown.

    python benchmarks/arima_vs_statsforecast.py [--datasets m3] [--limit N] [--workers N]
        [--models arima,statsforecast] [--arima-params 'approximation=None'] [--out FILE.md]

statsforecast is an optional extra (``pip install 'rnnbench[statsforecast]'``), not a dependency
of rnnbench; without it only ``arima`` runs and the table says so. Each worker fits one warm-up
series first, which is not timed (imports; numba compilation in statsforecast 1.x). The same
comparison through the harness, with every metric and the report:
``rnnbench run --datasets m3 --models arima,sf-autoarima``.
"""

from __future__ import annotations

import os

for _var in ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS", "NUMBA_NUM_THREADS"):
    os.environ[_var] = "1"  # one thread each, before numpy is imported

import argparse
import importlib.util
import sys
import time
import warnings
from multiprocessing import Pool
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from _runlib import parse_params  # noqa: E402  (the benchmarks' shared helpers)

FAMILIES = ("m3-yearly", "m3-quarterly", "m3-monthly", "m3-other")


def load_series(name: str, limit: int | None) -> tuple[int, int, list[tuple[np.ndarray, np.ndarray]]]:
    """(horizon, season length, [(in-sample, test)]) of one M3 family from the registry."""
    from harness.plugins import load_registry

    ds = load_registry().dataset(name).load()
    idx = range(len(ds.panel))
    if limit and limit < len(ds.panel):
        idx = np.unique(np.linspace(0, len(ds.panel) - 1, limit).round().astype(int))
    data = [(np.asarray(ds.panel.values[i], dtype=float), np.asarray(ds.test[i], dtype=float)) for i in idx]
    return ds.panel.horizon, ds.panel.season_length, data


ARIMA_PARAMS: dict = {}


def make_forecaster(model: str, horizon: int, season: int, params: dict | None = None):
    """A function y -> point forecast of ``horizon`` steps."""
    if model == "arima":
        from plugins.arima import AutoArima

        m = AutoArima(horizon=horizon, season_length=season, seed=0, **(params or {}))
        return lambda y: m.fit_predict_one(y).mean
    if model == "statsforecast":
        from statsforecast.models import AutoARIMA

        def sf(y: np.ndarray) -> np.ndarray:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                try:
                    return AutoARIMA(season_length=season).forecast(y=y, h=horizon)["mean"]
                except Exception:  # as statsforecast's own fallback: naive
                    return np.full(horizon, y[-1])

        return sf
    raise SystemExit(f"unknown model {model!r}")


_FC = {}


def _run_chunk(args: tuple) -> tuple[list[float], list[float], float, int]:
    """sMAPE and MASE per series, CPU seconds of the chunk, count of unusable forecasts."""
    from harness.metrics import mase, smape

    model, horizon, season, chunk, params = args
    key = (model, horizon, season)
    if key not in _FC:
        _FC[key] = make_forecaster(model, horizon, season, params)
        _FC[key](chunk[0][0])  # warm-up (imports; numba in statsforecast 1.x), not timed
    fc = _FC[key]
    smapes, mases, bad, cpu = [], [], 0, 0.0
    for x, xx in chunk:
        c0 = time.process_time()
        f = np.asarray(fc(x), dtype=float)
        cpu += time.process_time() - c0
        if f.shape != (horizon,) or not np.all(np.isfinite(f)):
            bad += 1
            f = np.full(horizon, x[-1])
        smapes.append(smape(xx, f))
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            mases.append(mase(xx, f, x, season))
    return smapes, mases, cpu, bad


def run_family(model: str, name: str, limit: int | None, workers: int, params: dict | None) -> dict:
    horizon, season, data = load_series(name, limit)
    if workers > 1:
        chunks = [c for c in (data[i :: workers * 4] for i in range(workers * 4)) if c]
        with Pool(workers) as pool:
            parts = pool.map(_run_chunk, [(model, horizon, season, c, params) for c in chunks])
    else:
        parts = [_run_chunk((model, horizon, season, data, params))]
    return {
        "model": model,
        "dataset": name,
        "h": horizon,
        "m": season,
        "series": len(data),
        "smape": [e for p in parts for e in p[0]],
        "mase": [e for p in parts for e in p[1]],
        "cpu_s": sum(p[2] for p in parts),
        "failed": sum(p[3] for p in parts),
    }


def table(results: list[dict]) -> str:
    """Per model and family, then per model over all families run: mean sMAPE, MASE (over
    series with a defined MASE), CPU-ms per series."""
    rows = []
    for model in dict.fromkeys(r["model"] for r in results):
        mine = [r for r in results if r["model"] == model]
        total = {
            "model": model,
            "dataset": "all" if len(mine) > 1 else mine[0]["dataset"],
            "h": "",
            "m": "",
            "series": sum(r["series"] for r in mine),
            "smape": [e for r in mine for e in r["smape"]],
            "mase": [e for r in mine for e in r["mase"]],
            "cpu_s": sum(r["cpu_s"] for r in mine),
            "failed": sum(r["failed"] for r in mine),
        }
        rows += mine + ([total] if len(mine) > 1 else [])
    lines = [
        "| model | dataset | h | m | series | sMAPE | MASE | CPU-ms/series | failed |",
        "| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |",
    ]
    for r in rows:
        mase_vals = np.asarray(r["mase"], dtype=float)
        lines.append(
            f"| {r['model']} | {r['dataset']} | {r['h']} | {r['m']} | {r['series']} | {np.mean(r['smape']):.3f} | "
            f"{np.nanmean(mase_vals):.3f} | {1000 * r['cpu_s'] / r['series']:.1f} | {r['failed']} |"
        )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--datasets", default="m3-monthly", help=f"comma-separated of {', '.join(FAMILIES)}, or m3 (all)")
    ap.add_argument("--limit", type=int, default=None, help="evenly spaced subset of N series per family")
    ap.add_argument("--workers", type=int, default=1, help="process pool over series")
    ap.add_argument("--models", default="arima,statsforecast")
    ap.add_argument("--arima-params", default="", help="parameters of arima, e.g. 'method=css,ic=bic'")
    ap.add_argument("--out", default=None, help="also write the table (markdown) to this file")
    args = ap.parse_args(argv)
    names = []
    for item in (t.strip() for t in args.datasets.split(",") if t.strip()):
        if item not in (*FAMILIES, "m3"):
            raise SystemExit(f"--datasets: unknown {item!r} (known: {', '.join(FAMILIES)}, m3)")
        names += list(FAMILIES) if item == "m3" else [item]
    models = [m.strip() for m in args.models.split(",") if m.strip()]
    if "statsforecast" in models and importlib.util.find_spec("statsforecast") is None:
        print("statsforecast is not installed (pip install 'rnnbench[statsforecast]'): running arima only")
        models.remove("statsforecast")
    results = []
    for model in models:
        params = parse_params(args.arima_params) if model == "arima" else None
        for name in names:
            t0 = time.perf_counter()
            results.append(run_family(model, name, args.limit, args.workers, params))
            r = results[-1]
            print(
                f"{model} {name}: {r['series']} series, sMAPE {np.mean(r['smape']):.3f}, "
                f"{1000 * r['cpu_s'] / r['series']:.1f} CPU-ms/series, wall {time.perf_counter() - t0:.0f} s",
                flush=True,
            )
    text = table(results)
    print(text)
    if args.out:
        versions = f"statsforecast {_version('statsforecast')}" if "statsforecast" in models else ""
        head = (
            f"# arima and statsforecast's AutoARIMA on {', '.join(names)}\n\n"
            f"`python benchmarks/arima_vs_statsforecast.py --datasets {args.datasets} --workers {args.workers}"
            f"{' --arima-params ' + repr(args.arima_params) if args.arima_params else ''}`"
            f"{' (' + versions + ')' if versions else ''}; CPU-ms per series: process time of fit + forecast, "
            "one thread. MASE is the mean over series where it is defined (a zero in-sample scale leaves it out).\n\n"
        )
        Path(args.out).parent.mkdir(parents=True, exist_ok=True)
        Path(args.out).write_text(head + text + "\n")
        print(f"wrote {args.out}")
    return 0


def _version(package: str) -> str:
    from importlib.metadata import version

    return version(package)


if __name__ == "__main__":
    raise SystemExit(main())
