"""The torch RNNs against rnn-numpy and ARIMA on M3 monthly (1428 series, h = 18): accuracy and cost.

Runs the real CLI, so the numbers are exactly what ``rnnbench run`` records::

    rnnbench run --models rnn-torch,lstm-torch,gru-torch,rnn-numpy,arima --datasets m3-monthly --out DIR

then prints one row per model from ``DIR/accuracy.csv`` and ``DIR/speed.csv``: device, sMAPE, MASE,
OWA, fit and predict seconds, train+forecast seconds (fit_s + predict_s, the model's own compute;
for arima the sum over its per-series fits across worker processes) and milliseconds per series.

    python benchmarks/m3_monthly_rnns.py [--limit N] [--device auto|cpu|cuda] [--out DIR]

"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
from pathlib import Path

import pandas as pd

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

MODELS = ("rnn-torch", "lstm-torch", "gru-torch", "rnn-numpy", "arima")
TORCH_MODELS = MODELS[:3]
DATASET = "m3-monthly"


def run(out: Path, limit: int | None, device: str) -> None:
    cmd = [
        sys.executable,
        "-m",
        "harness",
        "run",
        "--models",
        ",".join(MODELS),
        "--datasets",
        DATASET,
        "--out",
        str(out),
    ]
    if limit:
        cmd += ["--limit", str(limit)]
    for model in TORCH_MODELS:
        cmd += ["-p", f"{model}.device={device}"]
    print("$", " ".join(cmd), flush=True)
    subprocess.run(cmd, check=False, cwd=ROOT)  # exit code 1 = some series failed; the table says


def table(out: Path) -> pd.DataFrame:
    acc = pd.read_csv(out / "accuracy.csv")
    speed = pd.read_csv(out / "speed.csv")
    df = acc.merge(speed, on=["dataset", "model"], how="left", suffixes=("", "_speed"))
    df = df[(df["dataset"] == DATASET) & df["model"].isin(MODELS)].copy()
    df["train+forecast_s"] = df["fit_s"] + df["predict_s"]
    cols = [
        "model",
        "device",
        "n_series",
        "n_failed",
        "smape",
        "mase",
        "owa",
        "fit_s",
        "predict_s",
        "train+forecast_s",
        "ms_per_series",
    ]
    return df[cols].sort_values("smape").reset_index(drop=True)


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--limit", type=int, default=None, help="sample of N series (default: all 1428)")
    ap.add_argument("--device", default="auto", choices=["auto", "cpu", "cuda"], help="device of the torch models")
    ap.add_argument("--out", type=Path, default=None, help="run directory (default: a new temporary one)")
    args = ap.parse_args(argv)
    out = args.out or Path(tempfile.mkdtemp(prefix="m3_monthly_rnns_")) / "run"
    run(out, args.limit, args.device)
    with pd.option_context("display.width", 200, "display.max_columns", 20, "display.float_format", "{:.3f}".format):
        print(table(out).to_string(index=False))


if __name__ == "__main__":
    main()
