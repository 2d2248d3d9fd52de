"""The ``rnnbench`` command (also ``python -m harness``).

Exit codes: 0 everything ran; 1 the run finished but some series or experiments failed (they
are rows in the results and listed in the report); 2 bad input (unknown model or dataset,
unreadable suite or data, a resume with another config, an output location that cannot be
written...), reported in one line, with nothing written; 74 an output could not be written once
work had started (a full disk: one line naming the path; a run prints its ``--resume`` command);
130 interrupted (Ctrl-C; a run prints its ``--resume`` command). See :mod:`harness.errors`.
"""

from __future__ import annotations

import gc
import os
import sys
import warnings
from dataclasses import asdict
from pathlib import Path

import click

from harness.api import RESULTS_DIR, out_dir, run_benchmark, run_options, split_list
from harness.downloads import cache_dir, missing_files
from harness.errors import (
    EXIT_BAD_INPUT,
    EXIT_INTERRUPTED,
    EXIT_OS_ERROR,
    BadInput,
    ModelError,
    OutputError,
    StudyError,
    one_line,
)
from harness.plugins import Registry, load_registry
from harness.suite import DEFAULT_SUITE


def _show_warning(message, category, filename, lineno, file=None, line=None):
    click.echo(f"rnnbench: warning: {message}", err=True)


def _registry(ctx: click.Context) -> Registry:
    obj = ctx.ensure_object(dict)
    if "registry" not in obj:
        obj["registry"] = load_registry(obj.get("plugins_dir"))
    return obj["registry"]


def _group_options(ctx: click.Context) -> dict:
    """``rnnbench --plugins-dir DIR --debug``, as the keywords of :func:`harness.api.run_options`."""
    obj = ctx.ensure_object(dict)
    return {"plugins_dir": obj.get("plugins_dir"), "debug": bool(obj.get("debug"))}


def _csv_list(value: str | None) -> list[str] | None:
    if value is None:
        return None
    items = split_list(value)
    if not items:
        raise click.BadParameter("expected a comma-separated list")
    return items


def _int_list(value: str | None, what: str) -> list[int] | None:
    items = _csv_list(value)
    if items is None:
        return None
    try:
        return [int(v) for v in items]
    except ValueError:
        raise click.BadParameter(f"{what} must be integers, got {value!r}") from None


def _seed_list(value: str | None) -> list[int] | None:
    return _int_list(value, "seeds")


def _level_list(value: str | None) -> list[float] | None:
    items = _csv_list(value)
    if items is None:
        return None
    try:
        return [float(v) for v in items]
    except ValueError:
        raise click.BadParameter(f"levels must be numbers (percent), got {value!r}") from None


class _Group(click.Group):
    """Turns the project's bad-input errors, and click's own usage errors (``rnnbench --bogus``,
    ``run --horizon abc``, ``--seeds a,b``), into one line and exit code 2; an output that could
    not be written once work had started into one line and exit code 74, Ctrl-C into exit code
    130 (a run says itself how to resume; see :mod:`harness.execute`)."""

    def parse_args(self, ctx: click.Context, args: list[str]) -> list[str]:
        try:
            return super().parse_args(ctx, args)
        except click.UsageError as exc:
            _usage_error(ctx, exc)

    def invoke(self, ctx: click.Context):
        try:
            return super().invoke(ctx)
        except BadInput as exc:
            click.echo(f"rnnbench: error: {one_line(exc)}", err=True)
            ctx.exit(EXIT_BAD_INPUT)
        except OutputError as exc:
            click.echo(f"rnnbench: error: {one_line(exc)}", err=True)
            ctx.exit(EXIT_OS_ERROR)
        except KeyboardInterrupt:
            click.echo("rnnbench: interrupted", err=True)
            ctx.exit(EXIT_INTERRUPTED)
        except click.UsageError as exc:
            _usage_error(ctx, exc)


def _usage_error(ctx: click.Context, exc: click.UsageError) -> None:
    if isinstance(exc, getattr(click.exceptions, "NoArgsIsHelpError", ())):
        raise exc  # `rnnbench study` alone prints its help
    hint = f" (see '{exc.ctx.command_path} --help')" if exc.ctx is not None else ""
    click.echo(f"rnnbench: error: {' '.join(exc.format_message().splitlines())}{hint}", err=True)
    ctx.exit(2)


@click.group(cls=_Group)
@click.version_option(package_name="rnnbench")
@click.option(
    "--plugins-dir", type=click.Path(file_okay=False), default=None, help="Also load every .py plugin in this folder."
)
@click.option(
    "--debug",
    is_flag=True,
    help="Also print each failed fit/predict's traceback to stderr (always kept in RUN_DIR/failures.jsonl).",
)
@click.pass_context
def cli(ctx: click.Context, plugins_dir: str | None, debug: bool) -> None:
    """Benchmark recurrent neural networks against ARIMA on the same time series."""
    warnings.showwarning = _show_warning
    ctx.ensure_object(dict)["plugins_dir"] = plugins_dir
    ctx.obj["debug"] = debug


def execution_options(fn):
    """--workers, --executor, --scheduler and the time limits, shared by run and study memory."""
    opts = [
        click.option(
            "--workers",
            type=int,
            default=None,
            help="Worker processes (or dask LocalCluster workers) [default: all cores].",
        ),
        click.option(
            "--executor",
            type=click.Choice(["serial", "processes", "dask"]),
            default="processes",
            show_default=True,
            help="serial (in this process, for debugging), processes (a pool on this machine) or dask.",
        ),
        click.option(
            "--scheduler",
            metavar="ADDRESS",
            default=None,
            help="With --executor dask: a running scheduler (tcp://host:8786); without it a LocalCluster is started.",
        ),
        click.option(
            "--timeout-series",
            type=float,
            default=None,
            metavar="SECONDS",
            help="Time limit of one local-model fit; past it the series is a `timeout` row (inf: no limit).",
        ),
        click.option(
            "--timeout-experiment",
            type=float,
            default=None,
            metavar="SECONDS",
            help="Time limit of one experiment (a model on a dataset with one seed; inf: no limit).",
        ),
    ]
    for opt in reversed(opts):
        fn = opt(fn)
    return fn


RUN_ID_HELP = "Name the run folder results/NAME (letters, digits, '-', '_', '.'); instead of --out."


@cli.command()
@click.option(
    "--suite", default=None, help=f"Suite name in datasets/suites/ or a .toml path [default: {DEFAULT_SUITE}]."
)
@click.option("--models", help="Comma-separated model names (replaces the suite's).")
@click.option("--datasets", help="Comma-separated dataset names, long-format .csv/.parquet paths or Monash .tsf paths.")
@click.option("--limit", type=int, help="Deterministic sample of N series per dataset, spread over categories.")
@click.option("--seeds", help="Comma-separated integer seeds, e.g. 0,1,2.")
@click.option("--horizon", type=int, help="Forecast horizon for datasets without an official test set.")
@click.option(
    "--levels",
    help="Comma-separated central prediction interval levels in percent, each strictly between 0 and 100 "
    "[default: the suite's, else 80,95].",
)
@click.option(
    "--date-format",
    metavar="FORMAT",
    help="strptime format of ds in data files, e.g. %d/%m/%Y (applied strictly; needed where day and month "
    "order is ambiguous) [default: ISO 8601 or a format the file settles].",
)
@click.option("--protocol", type=click.Choice(["holdout", "rolling"]), help="Evaluation protocol.")
@click.option("--windows", type=click.IntRange(min=1), help="Rolling protocol: number of forecast origins.")
@click.option("--step", type=click.IntRange(min=1), help="Rolling protocol: steps between origins [default: horizon].")
@click.option("--param", "-p", "params", multiple=True, help="Model parameter MODEL.NAME=VALUE (repeatable).")
@execution_options
@click.option("--out", type=click.Path(file_okay=False), help="Run directory [default: a new folder under results/].")
@click.option("--run-id", "run_id", metavar="NAME", help=RUN_ID_HELP)
@click.option(
    "--resume", type=click.Path(file_okay=False), help="Continue this run directory, skipping finished experiments."
)
@click.pass_context
def run(
    ctx: click.Context,
    suite,
    models,
    datasets,
    limit,
    seeds,
    horizon,
    levels,
    date_format,
    protocol,
    windows,
    step,
    params,
    workers,
    executor,
    scheduler,
    timeout_series,
    timeout_experiment,
    out,
    run_id,
    resume,
) -> None:
    """Run a benchmark suite and write results and report.md."""
    options = dict(
        suite=suite,
        models=_csv_list(models),
        datasets=_csv_list(datasets),
        limit=limit,
        seeds=_seed_list(seeds),
        horizon=horizon,
        levels=_level_list(levels),
        date_format=date_format,
        protocol=protocol,
        windows=windows,
        step=step,
        params=list(params),
    )
    code = run_benchmark(
        _registry(ctx),
        options,
        workers=workers,
        executor=executor,
        scheduler=scheduler,
        timeout_series=timeout_series,
        timeout_experiment=timeout_experiment,
        out=out,
        run_id=run_id,
        resume=resume,
        **_group_options(ctx),
        argv=sys.argv,
    ).code
    ctx.exit(code)


@cli.command()
@click.argument("run_dir", type=click.Path(file_okay=False))
@click.option(
    "--study",
    "study_dirs",
    multiple=True,
    type=click.Path(file_okay=False),
    help="Attach this study's summary (a `rnnbench study` directory) first (repeatable).",
)
def report(run_dir: str, study_dirs: tuple[str, ...]) -> None:
    """Rebuild accuracy.csv, speed.csv and report.md of RUN_DIR from its stored results.

    With --study, the study's summary tables and figures are copied into RUN_DIR/studies/ and
    its verdicts join the claims (b: cost study, c: memory study); later rebuilds keep them."""
    from harness.report import build_report
    from harness.store import RunStore
    from harness.studies import attach_study

    store = RunStore.open(Path(run_dir))
    store.check_writable()  # a read-only run: one line, before anything is computed
    with store.lock():  # not while a run or another rebuild writes the directory
        store.read_results()  # a run without results is bad input before anything is copied into it
        for study_dir in study_dirs:
            kinds = attach_study(store.root, study_dir)
            click.echo(f"rnnbench: attached {', '.join(kinds)} study from {study_dir}", err=True)
        build_report(store)
    click.echo(f"report: {store.root / 'report.md'}")


@cli.group()
def study() -> None:
    """Studies that isolate one claim: `memory` (c, old information), `cost` (b, scaling) and
    `sequential` (b, the cost of backpropagation through time against its length)."""


@study.command("memory")
@click.option(
    "--part",
    type=click.Choice(["all", "sequence", "forecast"]),
    default="all",
    show_default=True,
    help="sequence: the adding and copy problems; forecast: the forecasting tasks; all: both and the verdict.",
)
@click.option("--tiny", is_flag=True, help="A version of the chosen parts that runs in seconds (for CI).")
@click.option("--tasks", help="Forecasting tasks: copy, adding, seasonal [default: all].")
@click.option("--lags", help="Forecasting lags L from 6,12,24,48,96,192 [default: 12,24,48,96, and 192 with a GPU].")
@click.option("--models", help="Forecasting models, comma-separated (replaces the memory suite's).")
@click.option("--seeds", help="Comma-separated integer seeds of both parts [default: 0,1,2].")
@click.option("--param", "-p", "params", multiple=True, help="Forecasting model parameter MODEL.NAME=VALUE.")
@click.option("--sequence-tasks", help="Sequence problems: adding, copy [default: both].")
@click.option("--lengths", help="Sequence delays T [default: 25,50,100,200; 400,600 too with a GPU].")
@click.option("--architectures", help="Sequence architectures [default: all six, see `rnnbench study memory --help`].")
@click.option("--updates", type=int, help="Training updates of every sequence cell [default: 4000].")
@click.option(
    "--device",
    type=click.Choice(["auto", "cpu", "cuda"]),
    default="auto",
    show_default=True,
    help="Where the sequence benchmark trains its torch networks.",
)
@execution_options
@click.option("--out", type=click.Path(file_okay=False), help="Study directory [default: a new folder under results/].")
@click.option("--run-id", "run_id", metavar="NAME", help=RUN_ID_HELP)
@click.option("--resume", type=click.Path(file_okay=False), help="Continue this study directory.")
@click.pass_context
def study_memory(
    ctx: click.Context,
    part,
    tiny,
    tasks,
    lags,
    models,
    seeds,
    params,
    sequence_tasks,
    lengths,
    architectures,
    updates,
    device,
    workers,
    executor,
    scheduler,
    timeout_series,
    timeout_experiment,
    out,
    run_id,
    resume,
) -> None:
    """How far back each architecture reaches, under a stated budget (claim c).

    The sequence-memory benchmark trains each architecture (elman-numpy, elman-torch, irnn, lstm,
    gru, elman-torch-default) on the adding and copy problems at delays T for a fixed budget of
    updates; the forecasting study runs the `memory` suite (results stored like any run). Both
    write studies/memory/ in the study directory: sequence.csv, sequence_summary.csv, memory.csv,
    reach.csv, architectures.csv, verdict.csv and figures. Cells of the sequence benchmark are
    cached in studies/memory/cells/, so a study re-run with the same settings only adds what
    is missing."""
    from harness.studies import study_dir, write_study_manifest
    from harness.studies.memory import (
        KIND,
        SUITE,
        budget_text,
        dataset_names,
        default_lags,
        study_models,
        write_forecast_study,
        write_study_info,
    )
    from harness.studies.memory_verdict import write_memory_verdict
    from harness.studies.sequence_memory import budget_text as sequence_budget
    from harness.studies.sequence_memory import check_available, sequence_config, write_sequence_study

    registry = _registry(ctx)
    seed_list = _seed_list(seeds)
    config = None
    if part != "forecast":
        config = sequence_config(
            tiny=tiny,
            tasks=_csv_list(sequence_tasks),
            lengths=_int_list(lengths, "lengths"),
            architectures=_csv_list(architectures),
            seeds=seed_list,
            updates=updates,
            device=device,
        )
    if config is not None:
        check_available(config, registry)  # a missing torch: said now, not after the forecasting run
    n_workers = workers if workers else max(1, os.cpu_count() or 1)

    def progress(message: str) -> None:
        click.echo(f"rnnbench: sequence {message}", err=True)

    def finish(root: Path, forecast: dict | None) -> dict:
        folder = study_dir(root, KIND)
        folder.mkdir(parents=True, exist_ok=True)
        seq = None
        if config is not None:
            seq = write_sequence_study(folder, config, registry=registry, workers=n_workers, progress=progress)
        f_budget = budget_text(forecast["models"]) if forecast else ""
        tables = write_memory_verdict(
            folder,
            sequence=seq["sequence"] if seq else None,
            sequence_summary=seq["sequence_summary"] if seq else None,
            forecast=forecast["memory"] if forecast else None,
            sequence_budget=sequence_budget(config) if config else "",
            forecast_budget=f_budget,
        )
        info = {"parts": part, "sequence": asdict(config) if config else None, "forecast_budget": f_budget}
        write_study_info(folder, info)
        v = tables["verdict"].iloc[-1]
        click.echo(f"rnnbench: memory study: claim (c) {v['verdict']}: {v['sentence'] or v['evidence']}", err=True)
        return info

    if part == "sequence":
        target = out_dir(out, run_id, resume)
        root = Path(resume) if resume else _new_study_root(target, KIND)
        info = finish(root, None)
        write_study_manifest(root, "memory-study", info, study_dir(root, KIND))
        click.echo(f"study: {study_dir(root, KIND)}")
        return

    from harness.execute import execute

    out = out_dir(out, run_id, resume)
    run = run_options(workers, executor, scheduler, timeout_series, timeout_experiment, **_group_options(ctx))
    forecast_lags = _int_list(lags, "lags") or (None if resume else ([6] if tiny else default_lags()))
    options = dict(
        suite=None if resume else SUITE,
        models=study_models(_csv_list(models)),
        seeds=seed_list or ([0] if tiny and not resume else None),
        datasets=dataset_names(registry, _csv_list(tasks) or (["copy"] if tiny else None), forecast_lags),
        params=[*(_tiny_memory_params(_csv_list(models)) if tiny and not resume else []), *params],
    )

    def after_run(store) -> None:
        forecast = write_forecast_study(store, registry)
        finish(store.root, {"memory": forecast["memory"], "models": store.config().models})

    code = execute(
        registry,
        options,
        run=run,
        out=out,
        resume=resume,
        results_dir=RESULTS_DIR,
        argv=sys.argv,
        after_run=after_run,
        resume_command="rnnbench study memory --resume",
    ).code
    ctx.exit(code)


def _tiny_memory_params(models: list[str] | None) -> list[str]:
    """--tiny's forecasting budget: a few updates of each network of the memory suite that runs
    (all three, or those of --models)."""
    return [
        f"{model}.{name}={value}"
        for model in ("rnn-numpy", "lstm-torch", "gru-torch")
        if models is None or model in models
        for name, value in (("max_updates", 20), ("check_every", 10), ("hidden", 8))
    ]


def _new_study_root(out: str | None, kind: str) -> Path:
    """The directory a new study writes: ``out`` (or a new folder under results/) that this
    process can write and that is empty; created. One-line errors otherwise, before any work."""
    from harness.runlock import LOCK_FILE
    from harness.store import check_output_dir, default_run_dir

    root = Path(out) if out else default_run_dir(RESULTS_DIR, kind)
    check_output_dir(root)
    if root.exists() and any(p.name != LOCK_FILE for p in root.iterdir()):
        raise StudyError(f"output directory {root} is not empty; give a new --out")
    root.mkdir(parents=True, exist_ok=True)
    return root


@study.command("cost")
@click.option("--models", help="Comma-separated models [default: arima and the four RNNs].")
@click.option("--lengths", help="Series lengths to time [default: 100,200,400,800,1600].")
@click.option("--n-series", "n_series", help="Numbers of series to time [default: 8,32,128,512].")
@click.option("--hidden", help="RNN hidden sizes to time [default: 8,16,32,64,128].")
@click.option("--epochs", type=int, default=None, help="Fixed training epochs of the RNNs [default: 20].")
@click.option(
    "--repeats", type=int, default=None, help="Timings per point (medians compared, with bootstrap CIs) [default: 5]."
)
@click.option("--regimes", help="How the RNNs are trained: local, global or both [default: local,global].")
@click.option(
    "--dataset", metavar="NAME", help="Time one point on a registered dataset (e.g. m3-monthly) instead of the axes."
)
@click.option("--limit", type=int, default=None, help="With --dataset: a deterministic sample of this many series.")
@click.option("--tiny", is_flag=True, help="A seconds-long study (two values per axis, 2 epochs, 3 repeats), for CI.")
@click.option("--out", type=click.Path(file_okay=False), help="Study directory [default: a new folder under results/].")
@click.option("--run-id", "run_id", metavar="NAME", help=RUN_ID_HELP)
@click.pass_context
def study_cost(
    ctx: click.Context, models, lengths, n_series, hidden, epochs, repeats, regimes, dataset, limit, tiny, out, run_id
) -> None:
    """How fit+predict CPU time grows with series length, number of series and hidden size (claim b),
    each RNN trained local and global, and its cost ratio to arima with a bootstrap CI.

    Writes studies/cost/ (cost.csv, exponents.csv, crossover.csv, ratios.csv, verdict.csv, figures),
    manifest.json and report.md in the study directory. Torch models also run on CUDA when present.
    With --dataset, one point on that dataset's series (--limit of them) replaces the axes."""
    from tqdm import tqdm

    from harness.runlock import RunLock
    from harness.studies.cost import CostStudyConfig, run_cost_study, write_cost_study

    out = out_dir(out, run_id)
    overrides: dict = {}
    for key, value in (
        ("models", _csv_list(models)),
        ("lengths", _int_list(lengths, "lengths")),
        ("n_series", _int_list(n_series, "n-series")),
        ("hidden", _int_list(hidden, "hidden")),
        ("epochs", epochs),
        ("repeats", repeats),
        ("regimes", _csv_list(regimes)),
        ("dataset", dataset),
        ("limit", limit),
    ):
        if value is not None:
            overrides[key] = tuple(value) if isinstance(value, list) else value
    try:
        config = CostStudyConfig.tiny(**overrides) if tiny else CostStudyConfig(**overrides)
    except ValueError as exc:
        raise StudyError(f"cost study: {exc}") from None
    registry = _registry(ctx)
    for name in config.models:
        registry.model(name)  # unknown model: one line, exit 2, before anything is written
    if config.dataset is not None:
        registry.dataset(config.dataset)  # unknown dataset: the same
    root = _new_study_root(out, "cost")
    with RunLock(root), tqdm(unit="point", disable=None, file=sys.stderr, dynamic_ncols=True) as bar:

        def progress(done: int, total: int, row: dict) -> None:
            bar.total = total
            bar.set_description(f"{row['axis']}={row['value']} {row['model']} {row['regime']}")
            bar.update(done - bar.n)

        rows = run_cost_study(config, registry, progress=progress)
        verdict = write_cost_study(root, config, rows)
    click.echo(f"rnnbench: cost study: claim (b) {verdict['verdict']}: {verdict['evidence']}", err=True)
    click.echo(f"verdicts per regime and device: {root / 'studies' / 'cost' / 'verdict.csv'}")
    click.echo(f"report: {root / 'report.md'}")


@study.command("sequential")
@click.option(
    "--models",
    help="Comma-separated window-trained networks [default: rnn-numpy,rnn-torch,lstm-torch,gru-torch,tcn-torch].",
)
@click.option("--reference", help="The model the others are divided by, or 'none' [default: tcn-torch].")
@click.option("--bptt", "lengths", help="BPTT lengths T (input windows) [default: 16,32,64,128,256,512,1024].")
@click.option(
    "--windows", type=int, default=None, help="Training windows per series, the same at every T [default: 32]."
)
@click.option("--n-series", "n_series", type=int, default=None, help="Series [default: 8].")
@click.option("--epochs", type=int, default=None, help="Exact training epochs (no early stopping) [default: 10].")
@click.option("--batch-size", "batch_size", type=int, default=None, help="Windows per update [default: 64].")
@click.option("--hidden", type=int, default=None, help="Hidden size of models that have one [default: 32].")
@click.option("--repeats", type=int, default=None, help="Timings per point (medians compared) [default: 5].")
@click.option("--threads", type=int, default=None, help="CPU threads of every fit (BLAS and torch) [default: 1].")
@click.option("--tiny", is_flag=True, help="A seconds-long study (T 4,8,16, 2 epochs, 3 repeats), for CI.")
@click.option("--out", type=click.Path(file_okay=False), help="Study directory [default: a new folder under results/].")
@click.option("--run-id", "run_id", metavar="NAME", help=RUN_ID_HELP)
@click.pass_context
def study_sequential(ctx: click.Context, models, reference, lengths, tiny, out, run_id, **numbers) -> None:
    """Time per training update against the BPTT length T, RNNs vs a network parallel over time (claim b).

    A fixed number of windows and updates at every T, so only the cost of an update changes.
    Writes studies/sequential/ (sequential.csv, exponents.csv, ratios.csv, verdict.csv,
    sequential.png), manifest.json and report.md. Torch models also run on CUDA when present."""
    from tqdm import tqdm

    from harness.runlock import RunLock
    from harness.studies.sequential import (
        SequentialConfig,
        check_models,
        run_sequential_study,
        write_sequential_study,
    )

    out = out_dir(out, run_id)
    overrides: dict = {k: v for k, v in numbers.items() if v is not None}
    if models is not None:
        overrides["models"] = tuple(_csv_list(models))
    if lengths is not None:
        overrides["lengths"] = tuple(_int_list(lengths, "BPTT lengths"))
    if reference is not None:
        overrides["reference"] = None if reference.strip().lower() == "none" else reference.strip()
    try:
        config = SequentialConfig.tiny(**overrides) if tiny else SequentialConfig(**overrides)
        check_models(config, _registry(ctx))  # unknown or unfit model: one line, before anything is written
    except ValueError as exc:
        raise StudyError(f"sequential study: {one_line(exc)}") from None
    root = _new_study_root(out, "sequential")
    with RunLock(root), tqdm(unit="fit", disable=None, file=sys.stderr, dynamic_ncols=True) as bar:

        def progress(done: int, total: int, row: dict) -> None:
            bar.total = total
            bar.set_description(f"T={row['T']} {row['model']} [{row['device']}]")
            bar.update(done - bar.n)

        rows = run_sequential_study(config, _registry(ctx), progress=progress)
        verdicts = write_sequential_study(root, config, rows)
    for _, v in verdicts.iterrows():
        click.echo(f"rnnbench: sequential study: claim (b) on {v['device']} {v['verdict']}: {v['evidence']}", err=True)
    click.echo(f"report: {root / 'report.md'}")


@cli.command()
@click.argument("run_a", type=click.Path(file_okay=False))
@click.argument("run_b", type=click.Path(file_okay=False))
@click.option("--csv", "csv_out", type=click.Path(dir_okay=False), help="Also write the comparison table to this CSV.")
def compare(run_a: str, run_b: str, csv_out: str | None) -> None:
    """Compare accuracy and speed of RUN_B against RUN_A (deltas are B - A)."""
    from harness.compare import compare_runs
    from harness.report import markdown_table
    from harness.store import RunStore, atomic_write_frame, check_output_file

    if csv_out:  # an unusable --csv is bad input before the table is printed
        check_output_file(csv_out, "--csv file")
    table, notes = compare_runs(RunStore.open(Path(run_a)), RunStore.open(Path(run_b)))
    for note in notes:
        click.echo(f"rnnbench: warning: {note}", err=True)
    click.echo(markdown_table(table))
    if csv_out:
        atomic_write_frame(table, Path(csv_out))


@cli.command("models")
@click.argument("name", required=False)
@click.pass_context
def list_models(ctx: click.Context, name: str | None) -> None:
    """List registered models with their scope, family, plugin and default parameters; with NAME,
    describe that model and each of its parameters (type, default, bounds, meaning)."""
    registry = _registry(ctx)
    if name is not None:
        for line in describe_model(registry.model(name)):
            click.echo(line)
        return
    for spec in sorted(registry.models.values(), key=lambda s: s.name):
        params = ", ".join(f"{k}={v!r}" for k, v in spec.params.items()) or "-"
        click.echo(f"{spec.name:<16} {spec.scope:<7} {_family(spec):<9} {spec.plugin:<24} {params}")
    for missing in sorted(registry.unavailable.values(), key=lambda m: m.name):
        click.echo(f"{missing.name:<16} {'-':<7} {'-':<9} {missing.plugin:<24} unavailable: {missing.why}")


def _family(spec, described: bool = False) -> str:
    """The family a registered model declares (``lstm-torch``: lstm); with ``described``, also
    whether the claims count it as an RNN. A declaration the harness refuses says so."""
    from harness.models import FAMILIES, is_recurrent, model_family

    try:
        family = model_family(spec.cls, spec.params, spec.name)
    except ModelError as exc:
        return f"invalid ({one_line(exc)})" if described else "invalid"
    if not described:
        return family
    role = "recurrent: a contender in the claims" if is_recurrent(family) else "not a contender in the claims"
    return f"{family}: {FAMILIES[family]}; {role}"


def describe_model(spec) -> list[str]:
    """The lines of ``rnnbench models NAME``: what the model is, then a table of its parameters
    with the values of this registration (``lstm-torch``: ``cell`` is ``lstm``)."""
    import inspect
    import json

    doc = inspect.getdoc(spec.cls) or ""
    summary = " ".join(doc.split("\n\n", 1)[0].split()).replace("``", "")
    summary = summary.removeprefix(f"{spec.name}: ")  # a docstring that starts with the name says it once
    lines = [
        f"{spec.name}: {summary}" if summary else spec.name,
        "",
        f"  plugin  {spec.plugin}",
        f"  class   {spec.cls.__module__}.{spec.cls.__qualname__}",
        f"  scope   {spec.scope}{' (deterministic: one seed per task)' if spec.cls.deterministic else ''}",
        f"  family  {_family(spec, described=True)}",
        f"  device  {_model_device(spec)}",
        "",
    ]

    def shown(value) -> str:  # as a -p value or a suite would write it
        return value if isinstance(value, str) else json.dumps(value, default=str)

    def searched(p) -> str:  # the tuner's range where this registration searches it
        if not p.searched_under(spec.params):
            return ""
        if isinstance(p.search, list):
            return "|".join(shown(v) for v in p.search)
        low, high, scale, *unit = p.search
        return f"{low:g}..{high:g} {scale}" + (f" x {unit[0]}" if unit else "")

    variant = spec.variant
    if variant is not None:
        what = (
            f"the median forecast of {variant.size} networks, seeds s..s+{variant.size - 1}"
            if variant.kind == "ens"
            else f"{variant.size} trials of random search over the 'search' column on the validation tail"
        )
        lines.insert(len(lines) - 1, f"  variant {variant.kind}: {what}; runs once per task, at the run's first seed")
    header = ("parameter", "type", "default", "bounds", "search", "description")
    rows = [
        (key, p.type_name, shown(spec.params.get(key, p.default)), p.bounds, searched(p), p.description)
        for key, p in spec.cls.parameters.items()
    ]
    if not rows:
        return [*lines, "  no parameters"]
    widths = [max(len(r[i]) for r in [header, *rows]) for i in range(5)]
    for row in [header, *rows]:
        cells = [cell.ljust(width) for cell, width in zip(row, widths)]
        lines.append(("  " + "  ".join([*cells, row[5]])).rstrip())
    return lines


def _model_device(spec) -> str:
    """Where the model computes with its registered parameters (built once to ask it)."""
    asked = spec.params.get("device")
    try:
        model = spec.build(horizon=1, season_length=1, seed=0, params=spec.resolve_params())
    except Exception as exc:  # a listing must not fail because one model cannot be built here
        return f"unknown ({' '.join(str(exc).splitlines())})"
    device = model.device
    return f"{device} (device={asked})" if isinstance(asked, str) and asked != device else device


@cli.command("datasets")
@click.pass_context
def list_datasets(ctx: click.Context) -> None:
    """List registered datasets: series count, frequency, horizon, season length, test set; those
    whose files are not downloaded yet are marked ``download`` (listing never downloads)."""
    registry = _registry(ctx)
    downloads = 0
    click.echo(f"{'name':<20} {'series':>6} {'freq':<10} {'h':>3} {'m':>3}  {'test':<8} description")
    for spec in sorted(registry.datasets.values(), key=lambda s: s.name):
        if spec.parts:
            click.echo(f"{spec.name:<20} {'':>6} {'':<10} {'':>3} {'':>3}  {'':<8} collection: {', '.join(spec.parts)}")
            continue
        if missing_files(spec.info.get("cache_files", ())):  # listing never downloads
            downloads += 1
            click.echo(f"{spec.name:<20} {'':>6} {'':<10} {'':>3} {'':>3}  {'download':<8} {spec.description}")
            continue
        try:
            ds = spec.load()
        except Exception as exc:  # one broken loader must not hide the others
            click.echo(f"{spec.name:<20} failed to load: {type(exc).__name__}: {exc}")
            continue
        p = ds.panel
        test = "official" if ds.test is not None else "holdout"
        click.echo(
            f"{spec.name:<20} {len(p):>6} {p.freq:<10} {p.horizon:>3} {p.season_length:>3}  {test:<8} {ds.description}"
        )
    if downloads:
        click.echo(f"({downloads} marked download: fetched on first use into {cache_dir()}, set by RNNBENCH_CACHE)")


@cli.command("plugins")
@click.pass_context
def list_plugins(ctx: click.Context) -> None:
    """List every plugin found, once: version, source, and loaded with its hooks or FAILED with why."""
    registry = _registry(ctx)
    for info, state, detail in registry.listing():
        click.echo(f"{info.name:<28} {info.version:<10} {info.source:<12} {state:<7} {detail}")


def main() -> None:
    try:
        cli(prog_name="rnnbench")
    finally:
        # The command's process ends here: at shutdown the interpreter would garbage-collect every
        # object pandas, scipy and matplotlib made (~0.3 s CPU of a ~2.5 s small run, measured);
        # frozen objects are skipped and the OS frees them. Every result is written and closed by now.
        gc.freeze()
