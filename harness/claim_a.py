"""Claim (a), "RNNs forecast more accurately than ARIMA": the rule, its comparisons and its rows.

The rule it replaces weighed one RNN, picked on the test set by mean sMAPE, with a Wilcoxon test
and a DM test on errors scaled by the test window's mean |y|. Picking the winner on the data
that judges it, and one metric whose mean can disagree with MASE's and with the win rate, hid a
significant mixed result (issue 12). This rule declares everything up front:

- Primary metrics: MASE and sMAPE (M4 definitions, per series in metrics.parquet); OWA is the M4
  summary of the two. The estimand is the MEAN over series of each; medians and win rates are
  reported beside it, and decide only where they significantly contradict the mean ("mixed").
- Contenders: every model of the run whose family is recurrent (rnn, lstm, gru;
  :class:`harness.families.Families`), each row on its own - single-seed models and variant rows
  such as ``lstm-torch[ens5]`` or ``lstm-torch[tuned]``, whose family is their base's. None is
  picked on the test set; Holm's correction over every p of every (RNN row, dataset) comparison
  pays for looking at all of them.
- Uncertainty: a hierarchical bootstrap of the difference in mean loss (RNN - arima), on the very
  loss reported (:func:`harness.significance.hierarchical_means`: seeds, then series; the same
  series resample for both models, each model's seeds resampled on their own, arima one seed);
  the 95% percentile interval and a two-sided p from the normal approximation z = difference /
  bootstrap sd (:func:`harness.significance.boot_interval`), which resolves the small p Holm needs.
- Beside it: the win rate on MASE (share of series where the RNN's seed-averaged MASE is lower,
  ties half) with its sign test, the median differences, and the Diebold-Mariano test on errors
  scaled by the in-sample MASE scale (the per-series MASE differences, seeds averaged).
- Scopes: each dataset; each family of datasets (the part of the name before the first "-",
  "m3-monthly" -> "m3") with more than one dataset in the run, its series pooled; and "overall",
  every series of the run pooled. Pooling puts the per-series rows of the datasets together
  (MASE is scale-free; the pool's OWA comes from the pool's Naive2 means); only models run on
  every dataset of a pool take part in it. A family pool holding every dataset of the run is the
  overall pool and is not repeated, and the overall pool of a one-dataset run is that dataset's
  comparison: each comparison is counted once in Holm's family.

The rows of a scope are the table :func:`comparisons` (``claims/claim_a.csv``); the verdict of a
row and of a scope are :func:`row_verdict` and :func:`scope_verdict`; :data:`RULE` says it in
words in verdicts.csv's ``rule`` column and the report.
"""

from __future__ import annotations

import math
from collections.abc import Mapping

import numpy as np
import pandas as pd

from harness import analysis, metrics
from harness.analysis import OVERALL
from harness.claim_b import REFERENCE
from harness.families import Families
from harness.significance import (
    ALPHA,
    N_BOOT,
    boot_interval,
    diebold_mariano,
    hierarchical_means,
    holm,
    named_rng,
    sign_test,
)

#: The primary metrics, in the order the bootstrap carries them; the win rate is on the first.
PRIMARY = ("mase", "smape")
LABELS = {"mase": "MASE", "smape": "sMAPE"}
#: The seed of every comparison's generator (with the scope and model names: :func:`named_rng`).
BOOTSTRAP_SEED = 12
VERDICTS = ("supported", "refuted", "mixed", "inconclusive")

RULE = (
    "every RNN row (each model of a recurrent family: rnn, lstm, gru, variants such as [ens5] or [tuned] "
    "included; none picked on the test set) vs arima, per dataset, per family of datasets (series pooled) "
    "and overall (all series pooled), on the series both scored, seeds averaged per series; primary: "
    "mean MASE and mean sMAPE (M4); the difference of each mean (RNN - arima) with a 95% CI and p from a "
    f"hierarchical bootstrap ({N_BOOT} resamples of seeds, then series, paired; p by z = difference / "
    "bootstrap sd); win rate on MASE (ties half) with a sign test; Holm's correction over all three p of "
    f"every (RNN row, dataset) comparison; a test favours a side when its Holm p < {ALPHA}. A row is "
    "supported if both means favour the RNN and the win rate does not favour arima, refuted if both favour "
    "arima and the win rate does not favour the RNN, mixed if one test favours the RNN and another arima "
    "(e.g. the mean one way, the win rate or the other mean the other), else inconclusive. A dataset is "
    "supported if some RNN row is supported, else mixed if some row is mixed, else refuted if every row is "
    "refuted, else inconclusive. Beside, not deciding: OWA, median differences, Diebold-Mariano on the "
    "per-series MASE differences"
)

COLUMNS = [
    "dataset",
    "pooled",
    "model",
    "family",
    "reference",
    "n_series",
    "n_seeds",
    "ref_n_seeds",
    *[
        f"{m}{suffix}"
        for m in PRIMARY
        for suffix in ("", "_ref", "_diff", "_lo", "_hi", "_p", "_p_holm", "_median_diff")
    ],
    "owa",
    "owa_ref",
    "win_rate",
    "win_p",
    "win_p_holm",
    "dm_stat",
    "dm_p",
    "verdict",
    "favours",
]


def per_seed_scores(series: pd.DataFrame) -> pd.DataFrame:
    """Common rows (:func:`harness.analysis.common_rows`) averaged over windows: one row per
    dataset x series x model x seed with its sMAPE and MASE."""
    common = analysis.common_rows(series)
    keys = ["dataset", "unique_id", "model", "seed"]
    return common.groupby(keys, sort=False)[["smape", "mase"]].mean().reset_index()


def family_of_dataset(dataset: str) -> str:
    """The family a dataset is pooled in: its name before the first "-" ("m3-monthly" -> "m3")."""
    return str(dataset).split("-", 1)[0]


def scopes(datasets: list[str]) -> list[tuple[str, tuple[str, ...]]]:
    """(name, datasets pooled) of every scope of the rule: each dataset, each family with more
    than one dataset (but not every dataset of the run: that is "overall"), and overall."""
    out = [(d, (d,)) for d in datasets]
    families: dict[str, list[str]] = {}
    for d in datasets:
        families.setdefault(family_of_dataset(d), []).append(d)
    for name, members in families.items():
        if 1 < len(members) < len(datasets) and name not in datasets:
            out.append((name, tuple(members)))
    out.append((OVERALL, tuple(datasets)))
    return out


def pooled_accuracy(series: pd.DataFrame) -> pd.DataFrame:
    """The accuracy table (:func:`harness.analysis.accuracy_table`: means over the common series,
    OWA against Naive2 on the same series, ``smape_sd`` over seeds) of every pool of the rule: each
    family with more than one dataset and overall (:func:`scopes`), the series of its datasets
    together (ids ``dataset:unique_id``), only the models run on every one of them. Written as
    ``accuracy_pooled.csv``, with the pool's datasets in ``pooled``."""
    datasets = list(dict.fromkeys(series["dataset"]))
    frames = []
    for name, members in scopes(datasets):
        if len(members) < 2:
            continue
        rows = _pool(series, members)
        table = analysis.accuracy_table(rows.assign(dataset=name))
        frames.append(table.assign(pooled=", ".join(members)))
    if not frames:
        return pd.DataFrame(columns=[*analysis.accuracy_table(series.iloc[:0]).columns, "pooled"])
    return pd.concat(frames, ignore_index=True)


def _pool(per_seed: pd.DataFrame, datasets: tuple[str, ...]) -> pd.DataFrame:
    """The per-seed rows of ``datasets`` together, series ids ``dataset:unique_id`` when more than
    one, and only the models run on every one of them."""
    rows = per_seed[per_seed["dataset"].isin(datasets)]
    if len(datasets) == 1:
        return rows
    everywhere = rows.groupby("model")["dataset"].nunique()
    rows = rows[rows["model"].isin(everywhere[everywhere == len(datasets)].index)]
    return rows.assign(unique_id=rows["dataset"].astype(str) + ":" + rows["unique_id"].astype(str))


def _cube(rows: pd.DataFrame) -> pd.DataFrame:
    """seed x (metric, series) of one model: its per-seed scores, NaN where a seed lacks a series."""
    return rows.pivot_table(index="seed", columns="unique_id", values=list(PRIMARY), aggfunc="mean")


def _panel(cube: pd.DataFrame, ids: pd.Index) -> np.ndarray:
    """(seeds, series, metric) array of a :func:`_cube` on ``ids``."""
    return np.stack([cube[m].reindex(columns=ids).to_numpy() for m in PRIMARY], axis=-1)


def compare(pool: pd.DataFrame, model: str, rng: np.random.Generator, n_boot: int = N_BOOT) -> dict:
    """One RNN row against arima on a pool: every number of :data:`COLUMNS` up to ``win_p`` and
    the DM test, before Holm's correction. The series are those both models scored with every
    seed and a finite MASE and sMAPE (a series whose in-sample scale is zero has no MASE)."""
    rnn, ref = _cube(pool[pool["model"] == model]), _cube(pool[pool["model"] == REFERENCE])
    complete = [c.notna().all(axis=0).groupby(level="unique_id").all() for c in (rnn, ref)]
    ok = complete[0] & complete[1].reindex(complete[0].index, fill_value=False)
    ids = ok[ok].index
    out: dict = {"model": model, "reference": REFERENCE, "n_series": len(ids)}
    out |= {"n_seeds": len(rnn.index), "ref_n_seeds": len(ref.index)}
    if len(ids) < 2:
        return out
    a, b = _panel(rnn, ids), _panel(ref, ids)
    per_series = a.mean(axis=0) - b.mean(axis=0)  # (series, metric), seeds averaged within series
    boot = hierarchical_means([a, b], rng, n_boot)
    diffs = boot[:, 0] - boot[:, 1]
    for k, m in enumerate(PRIMARY):
        diff = float(per_series[:, k].mean())
        lo, hi, p = boot_interval(diff, diffs[:, k])
        out |= {m: float(a[..., k].mean(axis=0).mean()), f"{m}_ref": float(b[..., k].mean(axis=0).mean())}
        out |= {f"{m}_diff": diff, f"{m}_lo": lo, f"{m}_hi": hi, f"{m}_p": p}
        out[f"{m}_median_diff"] = float(np.median(per_series[:, k]))
    naive2 = pool[pool["model"] == analysis.REFERENCE_ACCURACY].groupby("unique_id")[list(PRIMARY)].mean()
    n2 = naive2.reindex(ids)
    for key, m_smape, m_mase in (("owa", out["smape"], out["mase"]), ("owa_ref", out["smape_ref"], out["mase_ref"])):
        out[key] = metrics.owa(m_smape, m_mase, n2["smape"].mean(), n2["mase"].mean()) if len(naive2) else math.nan
    out["win_rate"], out["win_p"] = sign_test(per_series[:, 0])
    out["dm_stat"], out["dm_p"] = diebold_mariano(per_series[:, 0])
    return out


def _sides(row: Mapping) -> dict[str, str]:
    """Which side each significant test favours, after Holm: {"mase": "RNN", "win rate": "arima", ...}."""
    out = {}
    for m in PRIMARY:
        p, d = row.get(f"{m}_p_holm", math.nan), row.get(f"{m}_diff", math.nan)
        if np.isfinite(p) and p < ALPHA and d != 0:
            out[f"mean {LABELS[m]}"] = "RNN" if d < 0 else REFERENCE
    p, w = row.get("win_p_holm", math.nan), row.get("win_rate", math.nan)
    if np.isfinite(p) and p < ALPHA and w != 0.5:
        out["win rate"] = "RNN" if w > 0.5 else REFERENCE
    return out


def row_verdict(row: Mapping) -> str:
    """The verdict of one (dataset, RNN row) comparison from its Holm-corrected tests (:data:`RULE`)."""
    sides = _sides(row)
    means = [sides.get(f"mean {LABELS[m]}") for m in PRIMARY]
    if set(sides.values()) == {"RNN", REFERENCE}:
        return "mixed"
    if means == ["RNN", "RNN"]:
        return "supported"
    if means == [REFERENCE, REFERENCE]:
        return "refuted"
    return "inconclusive"


def scope_verdict(verdicts: list[str]) -> str:
    """The verdict of a dataset (or pool) from its rows' verdicts (:data:`RULE`)."""
    if "supported" in verdicts:
        return "supported"
    if "mixed" in verdicts:
        return "mixed"
    if verdicts and all(v == "refuted" for v in verdicts):
        return "refuted"
    return "inconclusive"


def comparisons(series: pd.DataFrame, families: Families, n_boot: int = N_BOOT) -> pd.DataFrame:
    """Claim (a)'s table: one row per scope (dataset, family pool, overall) x RNN row with every
    number the rule uses (:data:`COLUMNS`), Holm's correction over all of them, and each row's
    verdict and ``favours`` (the significant tests and the side each favours)."""
    if series.empty:
        return pd.DataFrame(columns=COLUMNS)
    per_seed = per_seed_scores(series)
    datasets = list(dict.fromkeys(per_seed["dataset"]))
    done: dict[tuple[str, ...], list[dict]] = {}
    rows = []
    for name, members in scopes(datasets):
        if len(members) == 1 and members in done:  # the overall pool of a one-dataset run
            rows += [{**r, "dataset": name} for r in done[members]]
            continue
        pool = _pool(per_seed, members)
        models = list(dict.fromkeys(pool["model"]))
        scoped = []
        if REFERENCE in models:
            for model in (m for m in models if families.neural(m)):
                rng = named_rng(BOOTSTRAP_SEED, name, model)
                base = {"dataset": name, "pooled": ", ".join(members), "family": families.family(model)}
                scoped.append(base | compare(pool, model, rng, n_boot))
        done[members] = scoped
        rows += scoped
    table = pd.DataFrame(rows, columns=COLUMNS)
    if table.empty:
        return table
    first = ~table.duplicated(["pooled", "model"])  # a comparison counted once in Holm's family
    tests = ["mase_p", "smape_p", "win_p"]
    adjusted = holm(table.loc[first, tests].to_numpy(dtype=float).ravel()).reshape(-1, len(tests))
    held = pd.DataFrame(adjusted, index=table.index[first], columns=[f"{t}_holm" for t in tests])
    key = table["pooled"] + "\0" + table["model"]
    for column in held.columns:
        table[column] = key.map(dict(zip(key[first], held[column], strict=True)))
    table["verdict"] = [row_verdict(r) for r in table.to_dict("records")]
    table["favours"] = [
        "; ".join(f"{test} favours {side}" for test, side in _sides(r).items()) or "no test significant"
        for r in table.to_dict("records")
    ]
    return table[COLUMNS]


# --------------------------------------------------------------------------- verdict rows


def _num(x: float, nd: int = 3, sign: bool = False) -> str:
    if x is None or not np.isfinite(x):
        return "nan"
    return f"{x:+.{nd}f}" if sign else f"{x:.{nd}f}"


def _p(x: float) -> str:
    return "nan" if x is None or not np.isfinite(x) else f"{x:.2g}"


def row_evidence(r: Mapping) -> str:
    """The numbers one row's verdict used, in words: means of both with the CI and Holm p of the
    difference, OWA, median differences, win rate with its p, DM, n series, n seeds."""
    parts = [f"{r['model']} vs {REFERENCE} on {int(r['n_series'])} series ({int(r['n_seeds'])} seeds)"]
    for m in PRIMARY:
        nd = 3 if m == "mase" else 2
        parts.append(
            f"mean {LABELS[m]} {_num(r[m], nd)} vs {_num(r[f'{m}_ref'], nd)}, diff {_num(r[f'{m}_diff'], nd, True)} "
            f"[95% CI {_num(r[f'{m}_lo'], nd, True)}, {_num(r[f'{m}_hi'], nd, True)}], p={_p(r[f'{m}_p'])} "
            f"(Holm {_p(r[f'{m}_p_holm'])}), median diff {_num(r[f'{m}_median_diff'], nd, True)}"
        )
    parts.append(f"OWA {_num(r['owa'])} vs {_num(r['owa_ref'])}")
    parts.append(f"win rate (MASE) {_num(r['win_rate'], 2)}, sign test p={_p(r['win_p'])} (Holm {_p(r['win_p_holm'])})")
    parts.append(f"DM on MASE differences {_p(r['dm_stat'])} (p={_p(r['dm_p'])})")
    return "; ".join(parts) + f": {r['verdict']} ({r['favours']})"


def deciding(rows: pd.DataFrame, verdict: str) -> pd.DataFrame:
    """The rows that decided a scope's verdict: the supported (or mixed) ones, else all of them;
    best mean MASE first."""
    chosen = rows[rows["verdict"] == verdict] if verdict in ("supported", "mixed") else rows
    return chosen.sort_values("mase", na_position="last")


def verdict_rows(table: pd.DataFrame, datasets: list[str], compared: Mapping[str, str]) -> list[dict]:
    """verdicts.csv's claim (a) rows: per dataset (and family pool, before ``overall``) its
    verdict, ``compared`` (from the caller, by dataset; a family pool lists its RNN rows), the
    rule, and the deciding rows' numbers as evidence (:func:`row_evidence`)."""
    names = [d for d in datasets if d != OVERALL]
    names += [d for d in dict.fromkeys(table["dataset"]) if d not in names and d != OVERALL]
    names += [OVERALL] if OVERALL in datasets or OVERALL in set(table["dataset"]) else []
    out = []
    for name in names:
        rows = table[table["dataset"] == name]
        pooled = str(rows["pooled"].iloc[0]) if len(rows) else name
        scope = f"pooled: {pooled}" if name not in datasets else ""
        if rows.empty:
            verdict, evidence = "inconclusive", f"no recurrent model or no {REFERENCE} scored on this dataset"
        else:
            verdict = scope_verdict(list(rows["verdict"]))
            chosen = deciding(rows, verdict)
            lead = f"{verdict}: " + (
                f"{len(chosen)} of {len(rows)} RNN rows {verdict}"
                if verdict in ("supported", "mixed")
                else f"{', '.join(f'{m} {v}' for m, v in zip(rows['model'], rows['verdict'], strict=True))}"
            )
            evidence = lead + " | " + " | ".join(row_evidence(r) for r in chosen.to_dict("records"))
        label = compared.get(name) or ", ".join(rows["model"]) + f" vs {REFERENCE}"
        out.append(
            {"claim": "a", "dataset": name, "scope": scope, "verdict": verdict, "compared": label, "rule": RULE}
            | {"evidence": evidence}
        )
    return out


def reading(table: pd.DataFrame, rows: pd.DataFrame) -> str:
    """Claim (a)'s sentence for the headline: the overall verdict's deciding row (best mean MASE)
    in numbers and what each significant test favours; "" without an overall comparison."""
    overall = table[table["dataset"] == OVERALL]
    verdict_row = rows[rows["dataset"] == OVERALL]
    if overall.empty or verdict_row.empty:
        return ""
    verdict = str(verdict_row["verdict"].iloc[0])
    r = deciding(overall, verdict).iloc[0]
    return (
        f"All {int(r['n_series'])} series pooled, {r['model']} vs arima: mean MASE {_num(r['mase'])} vs "
        f"{_num(r['mase_ref'])} (diff {_num(r['mase_diff'], 3, True)}, 95% CI {_num(r['mase_lo'], 3, True)} to "
        f"{_num(r['mase_hi'], 3, True)}), mean sMAPE {_num(r['smape'], 2)} vs {_num(r['smape_ref'], 2)} "
        f"(diff {_num(r['smape_diff'], 2, True)}, {_num(r['smape_lo'], 2, True)} to {_num(r['smape_hi'], 2, True)}), "
        f"better on {_num(100 * r['win_rate'], 0)}% of series (sign test Holm p = {_p(r['win_p_holm'])}): "
        f"{r['favours']}"
    )
