"""Compare two finished runs: accuracy and speed deltas per (dataset, model), plus warnings.

``rnnbench compare RUN_A RUN_B`` answers "did this change (code, versions, hardware) move the
numbers?". It reads only the stored result files (accuracy.csv, speed.csv, manifest.json), so no
model is re-run. A delta is flagged only when it is larger than the noise we can measure (the
spread of sMAPE over seeds), and the warnings say when a comparison is not meaningful at all:
timings from different machines, accuracy on different data, other library versions or another
evaluation protocol.
"""

from __future__ import annotations

import math
from typing import Any

import pandas as pd

from harness.errors import StoreError
from harness.store import RunStore

KEYS = ["dataset", "model"]

#: Tolerance (in sMAPE points) for rows without a seed spread (single seed, or sd 0). The stored
#: CSVs keep 6 significant digits, so a deterministic model re-run on the same data reproduces
#: its sMAPE to about 1e-4; anything beyond 0.01 points is a real change, not rounding.
DEFAULT_TOLERANCE = 0.01

#: Hardware fields that change timings; "python" and "system" are covered elsewhere or irrelevant.
HARDWARE_FIELDS = ("machine", "cpu", "cores", "memory_gb")

#: Libraries whose version can change forecasts or speed of the built-in models.
VERSION_FIELDS = ("numpy", "statsmodels", "torch")

COLUMNS = [
    "dataset",
    "model",
    "flag",
    "smape_a",
    "smape_b",
    "delta_smape",
    "tolerance",
    "mase_a",
    "mase_b",
    "delta_mase",
    "owa_a",
    "owa_b",
    "delta_owa",
    "ms_per_series_a",
    "ms_per_series_b",
    "speed_ratio",
    "cpu_ms_per_series_a",
    "cpu_ms_per_series_b",
]


def _read(store: RunStore, name: str, columns: list[str], required: bool) -> pd.DataFrame:
    """One result CSV reduced to KEYS + columns; a missing speed.csv is tolerated (NaN timings)."""
    path = store.root / name
    if not path.is_file():
        if required:
            raise StoreError(f"{store.root} has no {name}; rebuild it with `rnnbench report {store.root}`")
        return pd.DataFrame(columns=KEYS + columns)
    try:
        df = pd.read_csv(path)
    except (OSError, ValueError) as exc:
        raise StoreError(f"cannot read {path}: {exc}") from None
    missing = [c for c in KEYS if c not in df.columns]
    if missing:
        raise StoreError(f"{path} lacks column(s) {', '.join(missing)}")
    for c in columns:
        if c not in df.columns:
            df[c] = math.nan
    # speed.csv could hold one row per device; keep the first so the merge stays one-to-one.
    return df[KEYS + columns].drop_duplicates(KEYS)


def _tolerance(sd_a: float, sd_b: float) -> float:
    """The seed spread when known, never below the rounding tolerance of deterministic models."""
    spreads = [s for s in (sd_a, sd_b) if not pd.isna(s)]
    return max(spreads + [DEFAULT_TOLERANCE])


def _flag(row: pd.Series) -> str:
    if row["_merge"] == "left_only":
        return "only in A"
    if row["_merge"] == "right_only":
        return "only in B"
    delta = row["delta_smape"]
    if pd.isna(delta):
        # one side has no sMAPE (all series failed): that is a change worth a look.
        return "" if pd.isna(row["smape_a"]) and pd.isna(row["smape_b"]) else "changed"
    return "changed" if abs(delta) > row["tolerance"] else ""


def _differs(a: dict[str, Any], b: dict[str, Any], fields: tuple[str, ...]) -> list[str]:
    return [f"{f} {a.get(f, '?')} vs {b.get(f, '?')}" for f in fields if a.get(f) != b.get(f)]


def compare_warnings(a: RunStore, b: RunStore) -> list[str]:
    """One line per reason that some deltas between the two runs do not mean what they seem."""
    ma, mb = a.manifest(), b.manifest()
    out: list[str] = []
    hw = _differs(ma.get("hardware") or {}, mb.get("hardware") or {}, HARDWARE_FIELDS)
    if hw:
        out.append(f"runs are from different machines ({'; '.join(hw)}): timing comparisons are not meaningful")
    fa, fb = ma.get("datasets") or {}, mb.get("datasets") or {}
    for name in sorted(set(fa) & set(fb)):
        if fa[name] != fb[name]:
            out.append(
                f"dataset {name} has different fingerprints ({fa[name]} vs {fb[name]}): its accuracy is not comparable"
            )
    ver = _differs(ma.get("versions") or {}, mb.get("versions") or {}, VERSION_FIELDS)
    if ver:
        out.append(f"package versions differ ({'; '.join(ver)}): forecasts and timings may differ for that reason")
    pa, pb = (ma.get("config") or {}).get("protocol"), (mb.get("config") or {}).get("protocol")
    if pa != pb:
        out.append(f"evaluation protocols differ ({pa} vs {pb}): accuracy is not comparable")
    return out


def compare_runs(a: RunStore, b: RunStore) -> tuple[pd.DataFrame, list[str]]:
    """Per (dataset, model) deltas between run A and run B (B − A), and warnings.

    Rows present in only one run are kept, with the other side NaN and flag "only in A" / "only
    in B", so that a model that disappeared (or crashed out of the table) is not silently lost.
    ``speed_ratio`` is ms_per_series B / A: above 1 means B is slower.
    """
    acc_cols = ["n_series", "smape", "mase", "owa", "smape_sd"]
    speed_cols = ["ms_per_series", "cpu_ms_per_series"]
    sides = []
    for store in (a, b):
        acc = _read(store, "accuracy.csv", acc_cols, required=True)
        speed = _read(store, "speed.csv", speed_cols, required=False)
        sides.append(acc.merge(speed, on=KEYS, how="outer"))
    df = sides[0].merge(sides[1], on=KEYS, how="outer", suffixes=("_a", "_b"), indicator=True)
    for m in ("smape", "mase", "owa"):
        df[f"delta_{m}"] = df[f"{m}_b"] - df[f"{m}_a"]
    df["speed_ratio"] = df["ms_per_series_b"] / df["ms_per_series_a"]
    df["tolerance"] = [_tolerance(x, y) for x, y in zip(df["smape_sd_a"], df["smape_sd_b"])]
    df["flag"] = df.apply(_flag, axis=1) if len(df) else pd.Series(dtype=str)

    warnings = compare_warnings(a, b)
    both = df[df["_merge"] == "both"]
    diff_n = both[both["n_series_a"] != both["n_series_b"]]
    for _, row in diff_n.iterrows():
        warnings.append(
            f"{row['dataset']}/{row['model']} was scored on {row['n_series_a']:.0f} vs "
            f"{row['n_series_b']:.0f} series: its accuracy is not comparable"
        )
    df = df.sort_values(KEYS, kind="stable").reset_index(drop=True)
    return df[COLUMNS], warnings
