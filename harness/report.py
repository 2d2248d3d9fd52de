"""report.md, report.html and the terminal summary, built from stored results alone.

``rnnbench report RUN_DIR`` calls ``build_report`` on a finished run, so a report can be rebuilt
(or improved) without re-running any model. Both files are made from one list of sections
(heading + blocks: paragraph text, tables, figures), so they always say the same thing.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from harness import analysis, claims, figures, headline, html
from harness.analysis import FAIRNESS_RULE, MAX_FAILED_SHARE, accuracy_table, failures_table, notes_table, speed_table
from harness.families import BY_NAME
from harness.store import RunStore, atomic_write_frame, atomic_write_text
from harness.studies import Study, read_studies
from harness.training import STILL_LEARNING_SHARE, TTA_TOLERANCE

ACCURACY_SHOWN = [
    "model",
    "n_series",
    "n_failed",
    "smape",
    "mase",
    "owa",
    "rmse",
    "mae",
    "coverage*",  # coverage_80, coverage_95 ...; plain coverage (95%) in runs made before levels
    "msis",
    "wql",
    "smape_sd",
]
SPEED_SHOWN = [
    "model",
    "regime",
    "device",
    "cpu_ms_per_series",
    "ms_per_series",
    "cpu_per_ref",
    "tta_cpu_s",
    "fit_s",
    "predict_s",
    "cpu_s",
    "peak_rss_mb",
]
SUMMARY_SHOWN = [
    "dataset",
    "model",
    "n_series",
    "smape_mean",
    "smape_median",
    "mase_mean",
    "owa",
    "avg_rank",
    "smape_seed_sd",
]
VERSUS_SHOWN = [
    "dataset",
    "model",
    "n_series",
    "mean_diff",
    "win_rate",
    "win_lo",
    "win_hi",
    "wilcoxon_p",
    "dm_stat",
    "dm_p",
]
#: claim (a)'s table (claims/claim_a.csv) as the report shows it: the numbers its rule used.
CLAIM_A_SHOWN = [
    "dataset",
    "model",
    "n_series",
    "n_seeds",
    "mase",
    "mase_ref",
    "mase_diff",
    "mase_lo",
    "mase_hi",
    "mase_p_holm",
    "smape",
    "smape_ref",
    "smape_diff",
    "smape_lo",
    "smape_hi",
    "smape_p_holm",
    "owa",
    "owa_ref",
    "mase_median_diff",
    "win_rate",
    "win_p_holm",
    "verdict",
]
CLAIM_TITLES = {claim: headline.title(claim) for claim in headline.CLAIMS}
SKILL_TITLE = "Across datasets: skill against seasonal naive"
Section = tuple[str, list]


def markdown_table(df: pd.DataFrame) -> str:
    shown = df.apply(lambda col: col.map(html.fmt_value)) if len(df) else df
    return shown.to_markdown(index=False)


def _present(df: pd.DataFrame, columns: list[str]) -> pd.DataFrame:
    """``columns`` of ``df`` that it has (``prefix_*`` stands for every column of that prefix, in
    the table's order), leaving out optional ones that are NaN throughout (interval scores of a
    run where no model gave that interval)."""
    optional = ("msis", "wql", "smape_sd", "smape_seed_sd", "dm_stat", "dm_p", "skill_lo", "skill_hi")
    expanded = [
        name for c in columns for name in ([k for k in df.columns if k.startswith(c[:-1])] if c.endswith("*") else [c])
    ]
    shown = [
        c
        for c in expanded
        if c in df.columns and not ((c in optional or c.startswith("coverage")) and df[c].isna().all())
    ]
    # n_failed only where some model failed: a left-out model's row then shows its failures
    return df[[c for c in shown if not (c == "n_failed" and not (df[c].fillna(0) > 0).any())]]


def _contender_notes(tables: dict) -> list[str]:
    """What the claims section says about how contenders were chosen: by declared family, or,
    for a run (or memory study) stored before models declared one, by the old name rule; and
    which models were left out of a dataset for their failures."""
    fam = tables.get("families")
    notes = [
        "Each claim gets a verdict per dataset and overall (all series pooled) by the rule written "
        "beside it: supported, refuted or inconclusive. The RNNs (contenders) are the models whose declared "
        "family is recurrent - rnn (Elman), lstm or gru; `rnnbench models` shows each model's family - "
        "never chosen by name; the reference is arima. The compared column names the models each verdict compared."
    ]
    if fam is not None and len(fam):
        for where, what in (("run", "This run"), ("memory study", "The attached memory study")):
            legacy = fam[(fam["where"] == where) & (fam["source"] == BY_NAME)]
            if len(legacy) == 0:
                continue
            neural = legacy.loc[legacy["neural"].astype(bool), "model"].tolist()
            notes.append(
                f"{what} was stored before models declared a family (no family recorded for "
                f"{', '.join(legacy['model'])}), so for it alone the old name rule applies: a model whose name "
                f"contains rnn, lstm or gru is a contender ({', '.join(neural) or 'none'})."
            )
    left = tables.get("left_out")
    if left is not None and len(left):
        parts = [f"{r.model} on {r.dataset} ({r.n_failed_pairs} of {r.n_pairs})" for r in left.itertuples()]
        notes.append(
            f"Left out of a dataset's comparison (accuracy and claims) for failing on more than "
            f"{MAX_FAILED_SHARE:.0%} of its series: " + ", ".join(parts) + "."
        )
    return notes


def _cost_blocks(study: Study | None) -> list:
    if study is None:
        return [
            "How cost grows with series length, number of series and hidden size: attach a cost study "
            "(`rnnbench study cost`, then `rnnbench report RUN_DIR --study STUDY_DIR`)."
        ]
    t = study.tables
    blocks: list = [
        "Cost study: fit+predict time against the work; exponent = slope of log time on log size "
        "(1 = linear). Where arima's cost (per series, so linear in the number of series) and a "
        "global RNN's cross:"
    ]
    for name in ("exponents", "crossover"):
        if name in t:
            blocks.append(t[name])
    return blocks + [study.figures[k] for k in sorted(study.figures)]


def _training_blocks(training: pd.DataFrame | None) -> list:
    """What the neural models' training did (none: nothing to show)."""
    if training is None or training.empty:
        return []
    return [
        "Training of the neural models (means over seeds; with local training over the series' networks, "
        "whose updates and times add up): epochs run of the max_epochs budget, best_epoch (from 0) whose weights "
        "were kept, still_learning = share of networks whose best epoch lay in the last "
        f"{STILL_LEARNING_SHARE:.0%} of the budget (more epochs would likely have helped), and the time to "
        f"accuracy: seconds of training until the validation loss first came within {TTA_TOLERANCE:.0%} of the "
        "network's own best.",
        training,
    ]


def _pooled_blocks(pooled: pd.DataFrame | None) -> list:
    """Accuracy per family of datasets and over all series (none: a one-dataset run)."""
    if pooled is None or pooled.empty:
        return []
    shown = ["dataset", "model", "n_series", "n_seeds", "smape", "smape_sd", "mase", "owa", "pooled"]
    return [
        "Accuracy per family of datasets and over every series of the run (accuracy_pooled.csv: the "
        "datasets' series together; OWA against Naive2 on the same series; smape_sd over seeds):",
        _present(pooled.sort_values(["dataset", "owa"]), [c for c in shown if c in pooled.columns]),
    ]


def _tuning_blocks(tuning: pd.DataFrame | None) -> list:
    """What each tuned model chose and what the search cost (none: no tuned model)."""
    if tuning is None or tuning.empty:
        return []
    return [
        "Tuned models (tuning.csv): random search over the plugin's declared space, each trial fit on the "
        "in-sample data without its last horizon and scored by OWA on that validation tail (the test set is "
        "never read); trial 0 is the registered defaults; the chosen values are refit on all the in-sample "
        "data. tune_cpu_s is the trials' CPU time, cpu_s the whole fit's (trials + final fit), as charged in "
        "the speed table:",
        tuning,
    ]


def _sequential_blocks(study: Study | None) -> list:
    if study is None:
        return [
            "How the cost of an update grows with the BPTT length T, beside a network parallel over time: "
            "attach a sequential study (`rnnbench study sequential`, then `rnnbench report RUN_DIR --study DIR`)."
        ]
    t = study.tables
    blocks: list = [
        "Sequential study: time per training update against the BPTT length T at a fixed number of windows "
        "and updates; exponent = slope of log time on log T; ratio = a model's time per update over the "
        "reference's (median over repeats, 95% bootstrap CI):"
    ]
    if "exponents" in t:
        blocks.append(t["exponents"])
    if "ratios" in t:
        r = t["ratios"]
        blocks.append(r[r["metric"] == "s_per_update"] if "metric" in r.columns else r)
    return blocks + [study.figures[k] for k in sorted(study.figures)]


def _memory_blocks(study: Study | None) -> list:
    """Claim (c)'s section: the memory study's verdict rows and sentence, the per-architecture
    table, the sequence benchmark's summary, the forecasting skill with its CIs, and figures."""
    if study is None or not study.tables:
        return [
            "The memory study (`rnnbench study memory`) isolates this claim; attach it with "
            "`rnnbench report RUN_DIR --study STUDY_DIR`."
        ]
    t, blocks = study.tables, []
    verdict = t.get("verdict")
    if verdict is not None and "sentence" in verdict.columns:
        said = verdict.loc[verdict["scope"] == "overall", "sentence"].dropna()
        blocks += [str(s) for s in said if str(s)]
        blocks.append(verdict[["scope", "verdict", "compared", "evidence"]])
    if "architectures" in t:
        blocks += [
            "Per architecture (reachable length under the stated budgets; rule in the verdict rows):",
            t["architectures"],
        ]
    if "sequence_summary" in t:
        blocks += [
            "Sequence-memory benchmark (adding and copy problems): per task and architecture the largest delay T a "
            "majority of seeds solve (test loss <= 5% of the trivial loss), the updates it took, and the seeds "
            "that solved each T; seeds still learning at the end of the budget never count as failures:",
            t["sequence_summary"],
        ]
    if "memory" in t:
        mem = t["memory"]
        value = "skill"
        if {"skill_lo", "skill_hi"} <= set(mem.columns):
            learning = mem["still_learning"].fillna(0) > 0 if "still_learning" in mem else [False] * len(mem)
            mem = mem.assign(
                shown=[
                    f"{s:.2f} [{lo:.2f}, {hi:.2f}]" + (" *" if slow else "")
                    for s, lo, hi, slow in zip(mem["skill"], mem["skill_lo"], mem["skill_hi"], learning, strict=True)
                ]
            )
            value = "shown"
        wide = mem.pivot_table(index=["task", "lag"], columns="model", values=value, aggfunc="first").reset_index()
        wide.columns.name = None
        blocks += [
            "Forecasting memory study: skill = (floor - error) / (floor - optimum) of RMSE per task and lag L of the "
            "needed information (1 = the oracle's error, 0 = the series mean's), with its bootstrap CI over seeds "
            "and series where computed; * = a seed still learning when its budget ended:",
            wide,
        ]
    names = ("sequence_loss", "sequence_curves", "gradient_training", "memory_error", "gradient_decay")
    blocks += [study.figures[k] for k in names if k in study.figures]
    if "decay_training" in t:
        blocks += [
            "Gradient decay on the adding problem at initialisation, midway and at the end of training: the norm "
            "of dh_T/dh_(T-k) falls as rho^k (half-life in steps):",
            t["decay_training"],
        ]
    return blocks


def skill_tables(accuracy: pd.DataFrame) -> dict[str, pd.DataFrame]:
    """:func:`harness.analysis.skill_summary` for each of :data:`~harness.analysis.SKILL_METRICS`
    in the accuracy table, by metric (empty without a seasonal naive in the run)."""
    metrics = [m for m in analysis.SKILL_METRICS if m in accuracy.columns and accuracy[m].notna().any()]
    tables = {m: analysis.skill_summary(accuracy, m) for m in metrics}
    return {m: t for m, t in tables.items() if len(t)}


def _skill_blocks(accuracy: pd.DataFrame, tables: dict[str, pd.DataFrame]) -> list:
    base = analysis.SKILL_BASELINE
    if not tables:
        return [f"No seasonal naive ({base}) scored in this run, so no skill summary: add {base} to the models."]
    first = next(iter(tables.values()))
    used = list(first.columns[len(analysis.SKILL_COLUMNS) :])
    unused = [d for d in dict.fromkeys(accuracy["dataset"]) if d not in used]
    lo, hi = analysis.SKILL_CLIP
    n_min = analysis.SKILL_MIN_DATASETS_CI
    blocks: list = [
        f"As fev summarises a benchmark: per dataset, a model's mean error over the dataset's common series divided "
        f"by {base}'s on the same series (its relative error, one column per dataset); skill = 1 - the geometric "
        f"mean of the relative errors over the datasets (gmean_rel), each clipped to [{lo:g}, {hi:g}] (n_clipped "
        f"counts those). 0 is no better than {base}, 1 a perfect forecast; beside OWA and the average ranks of "
        f"claim (a). A model missing on a dataset (not run there, or left out for its failures) has no skill: "
        f"nothing is imputed. n = {len(used)} dataset{'s' if len(used) != 1 else ''}: "
        + (
            "skill_lo and skill_hi are the 95% bootstrap interval over datasets."
            if len(used) >= n_min
            else f"too few for a bootstrap interval over datasets (it needs {n_min})."
        )
        + (f" Left out for want of a positive {base} score: {', '.join(map(str, unused))}." if unused else "")
    ]
    for metric, table in tables.items():
        blocks += [f"{'sMAPE' if metric == 'smape' else metric.upper()}:", _present(table, list(table.columns))]
    return blocks


def _claim_sections(tables: dict, figs: dict[str, Path], studies: dict[str, Study]) -> list[Section]:
    verdicts = tables["verdicts"]
    sections: list[Section] = [
        (
            "Claims",
            [
                *_contender_notes(tables),
                _present(verdicts, ["claim", "dataset", "scope", "verdict", "compared", "evidence"]),
            ],
        )
    ]
    for claim, title in CLAIM_TITLES.items():
        rows = verdicts[verdicts["claim"] == claim]
        blocks: list = [f"Rule: {rows['rule'].iloc[0]}" if len(rows) else "No verdict (no data)."]
        if claim == "a":
            blocks += [
                "Every RNN row against arima (claims/claim_a.csv, every number of the rule): means of MASE "
                "and sMAPE of the RNN and of arima (_ref), the difference RNN - arima with its 95% "
                "hierarchical-bootstrap interval (_lo, _hi) and Holm-corrected p, OWA, the median MASE "
                "difference, the win rate on MASE with its sign test (Holm p); negative differences and win "
                "rates above 0.5 favour the RNN:",
                _present(tables["claim_a"], CLAIM_A_SHOWN),
                _present(tables["summary"], SUMMARY_SHOWN),
                *_pooled_blocks(tables.get("pooled")),
                *_tuning_blocks(tables.get("tuning")),
                "Every model's paired comparison with arima over series (win rate on sMAPE with a 95% bootstrap "
                "interval, Wilcoxon signed-rank, Diebold-Mariano on the per-series MASE differences):",
                _present(tables["versus"], VERSUS_SHOWN),
            ]
            fr = tables["friedman"].drop_duplicates("dataset")[
                ["dataset", "k", "n_series", "friedman_stat", "friedman_p", "cd"]
            ]
            blocks += ["Friedman test across all models and the Nemenyi critical difference of average ranks:", fr]
            blocks += [figs[k] for k in sorted(figs) if k.startswith("cd_")]
        elif claim == "b":
            speed = tables["speed"]
            if len(speed):
                blocks.append(
                    _present(
                        speed,
                        [
                            "dataset",
                            "model",
                            "regime",
                            "device",
                            "device_name",
                            "cpu_ms_per_series",
                            "ms_per_series",
                            "cpu_per_ref",
                        ],
                    )
                )
            blocks += [figs[k] for k in ("accuracy_vs_cost",) if k in figs]
            blocks += _training_blocks(tables.get("training"))
            blocks += _cost_blocks(studies.get("cost"))
            blocks += _sequential_blocks(studies.get("sequential"))
        else:
            steps = tables["step_errors"]
            if len(steps):
                wide = steps.pivot_table(index=["dataset", "step"], columns="model", values="smape").reset_index()
                wide.columns.name = None
                blocks += [
                    "sMAPE by forecast step (a steeper rise means information decays faster with lead time):",
                    wide,
                ]
            blocks += [figs[k] for k in ("smape_by_step",) if k in figs]
            blocks += _memory_blocks(studies.get("memory"))
        sections.append((title, blocks))
    return sections


def _ms(value: object) -> str:
    """A manifest's ``ref_ms`` for the text; a run made before it had none."""
    return (
        f"= {float(value):.1f} CPU-ms on this machine"
        if isinstance(value, (int, float))
        else "not recorded: run made before it"
    )


def build_report(store: RunStore) -> str:
    """Write accuracy.csv, speed.csv, claims/*.csv, figures/, report.md and report.html from the
    run's stored results; return the markdown."""
    experiments, series = store.read_results()
    accuracy = accuracy_table(series)
    speed = speed_table(experiments, store.manifest().get("ref_ms"))
    failures = failures_table(series)
    notes = notes_table(series)
    atomic_write_frame(accuracy, store.root / "accuracy.csv")
    pooled = claims.claim_a.pooled_accuracy(series)
    if len(pooled):
        atomic_write_frame(pooled, store.root / "accuracy_pooled.csv")
    atomic_write_frame(speed, store.root / "speed.csv")
    skill = skill_tables(accuracy)
    if skill:
        frames = [t.assign(metric=m) for m, t in skill.items()]
        atomic_write_frame(
            pd.concat(frames, ignore_index=True).pipe(lambda f: f[["metric", *f.columns[:-1]]]),
            store.root / "skill.csv",
        )
    # only the columns used; above steps.FORECAST_ROWS_IN_MEMORY rows, step errors row group by
    # row group and no example figures (``large_note``)
    studies = read_studies(store.root)
    forecasts, large_note, stored = claims.stored_inputs(store.root, series, studies)
    tables = claims.claims_tables(series, forecasts, speed, **stored)
    tables["training"] = analysis.training_table(experiments)
    tables["pooled"] = pooled
    tables["tuning"] = analysis.tuning_table(experiments)
    if len(tables["tuning"]):
        atomic_write_frame(tables["tuning"], store.root / "tuning.csv")
    left_out = tables["left_out"]  # models left out of a dataset for their failures (analysis.left_out)
    (store.root / "claims").mkdir(exist_ok=True)
    for name in ("summary", "versus", "claim_a", "friedman", "step_errors", "verdicts", "families"):
        atomic_write_frame(tables[name], store.root / "claims" / f"{name}.csv")
    fr = tables["friedman"]
    figs = figures.write_figures(
        store.root,
        {
            "accuracy": accuracy,
            "speed": speed,
            "step_errors": tables["step_errors"],
            "ranks": {d: g[["model", "avg_rank"]] for d, g in fr.groupby("dataset")},
            "cd": {d: float(g["cd"].iloc[0]) for d, g in fr.groupby("dataset")},
            "forecasts": forecasts,
        },
    )
    manifest = store.manifest()
    config = manifest["config"]
    intro = [
        f"Suite `{config['suite']}`, protocol `{config['protocol']['kind']}`"
        + (f" ({config['protocol']['windows']} windows)" if config["protocol"]["kind"] == "rolling" else "")
        + f", seeds {config['seeds']}, created {manifest.get('created', '?')}. "
        f"Machine: {manifest['hardware'].get('cpu')} ({manifest['hardware'].get('cores')} cores), "
        f"Python {manifest['versions'].get('python')}, rnnbench {manifest['versions'].get('rnnbench', '?')}, "
        f"commit {manifest.get('git_commit') or 'unknown'}.",
        "Accuracy: means over series (M4 definitions: sMAPE in %, MASE scaled by the in-sample seasonal "
        "naive error, OWA relative to Naive2; lower is better). " + FAIRNESS_RULE,
        "Speed: cpu_ms_per_series is the process CPU time of fit + predict per series (BLAS threads counted; "
        "for local models the worker processes' CPU, summed over series, independent of worker count), the unit "
        "models are compared in; ms_per_series is the same in wall time; regime says whether the model fits one "
        "model per series (local) or one for all (global); cpu_per_ref is CPU-ms per series in units of the run's "
        f"reference workload (ref_ms {_ms(manifest.get('ref_ms'))}), for comparing machines; "
        "tta_cpu_s is the CPU time to accuracy (neural models: until validation loss came within 5% of its best; "
        "others: their fit time).",
    ]
    if large_note:
        intro.append(large_note)
    sections: list[Section] = [("Run", intro)] + _claim_sections(tables, figs, studies)
    sections.append((SKILL_TITLE, _skill_blocks(accuracy, skill)))
    for dataset in accuracy["dataset"].unique():
        acc = accuracy[accuracy["dataset"] == dataset].sort_values("smape")
        spd = speed[speed["dataset"] == dataset].set_index("model").reindex(acc["model"]).reset_index()
        fp = manifest.get("datasets", {}).get(dataset, "")
        compared = acc[~acc["left_out"].astype(bool)]
        excluded = int(compared["n_excluded"].max()) if len(compared) else 0
        left = left_out[left_out["dataset"] == dataset]
        dropped = ", ".join(f"{r.model} (failed on {r.n_failed_pairs} of {r.n_pairs})" for r in left.itertuples())
        blocks = [
            f"{int(compared['n_series'].max()) if len(compared) else 0} series, fingerprint {fp}"
            + (f", {excluded} series left out because a model failed on them" if excluded else "")
            + (
                f"; left out of this dataset's comparison for failing on more than {MAX_FAILED_SHARE:.0%} "
                f"of its series: {dropped}"
                if dropped
                else ""
            )
            + ".",
            "Accuracy:",
            _present(acc, ACCURACY_SHOWN),
            "Speed:",
            _present(spd, SPEED_SHOWN),
        ]
        key = f"forecasts_{figures.safe_name(dataset)}"
        if key in figs:
            blocks.append(figs[key])
        sections.append((f"Dataset {dataset}", blocks))
    if len(notes):
        said = (
            "Series a model forecast by other means than its own method (a fallback) are scored like any "
            "other; the model said so in a note, kept as the message of the series' row in metrics.parquet."
        )
        sections.append(("Fallbacks and notes", [said, notes]))
    if len(failures):
        log = "Every failure, with its traceback, is in failures.jsonl in the run directory (one JSON record a line)."
        sections.append(("Failures", [FAIRNESS_RULE, failures, log]))
    title = f"rnnbench run {store.root.name}"
    cards = headline.badges(tables, studies, store.root)
    lead = (
        f"Suite {config['suite']}, {config['protocol']['kind']} protocol, {accuracy['dataset'].nunique()} datasets, "
        f"{accuracy['model'].nunique()} models, seeds {config['seeds']}; created {manifest.get('created', '?')}. "
        "The evidence, rules and tables are in the folds below."
    )
    html.write_html(store.root / "report.html", title, sections, cards, lead)
    text = _markdown(title, sections, store.root, headline.markdown_lines(cards))
    atomic_write_text(store.root / "report.md", text)
    return text


def _markdown(title: str, sections: list[Section], root: Path, top: list[str]) -> str:
    lines = [f"# {title}", "", *top, ""]
    for heading, blocks in sections:
        lines += [f"## {heading}", ""]
        for block in blocks:
            if isinstance(block, pd.DataFrame):
                lines += [markdown_table(block), ""]
            elif isinstance(block, Path):
                rel = block.relative_to(root) if block.is_relative_to(root) else block
                lines += [f"![{block.stem}]({rel.as_posix()})", ""]
            else:
                lines += [str(block), ""]
    return "\n".join(lines)


def terminal_summary(store: RunStore) -> str:
    """A compact table for the end of ``rnnbench run``."""
    accuracy = pd.read_csv(store.root / "accuracy.csv")
    speed = pd.read_csv(store.root / "speed.csv")
    cost = [c for c in ("regime", "cpu_ms_per_series", "ms_per_series") if c in speed.columns]
    merged = accuracy.merge(speed[["dataset", "model", *cost]], on=["dataset", "model"], how="left")
    shown = merged[["dataset", "model", "n_series", "smape", "mase", "owa", *cost]]
    verdicts = pd.read_csv(store.root / "claims" / "verdicts.csv")
    columns = [c for c in ("claim", "scope", "verdict", "compared", "evidence") if c in verdicts.columns]
    overall = verdicts[verdicts["dataset"] == claims.OVERALL][columns]
    return markdown_table(shown.sort_values(["dataset", "smape"])) + "\n\n" + markdown_table(overall)
