"""The ``rnnbench`` command (also ``python -m harness``).

Exit codes: 0 everything ran; 1 the run finished but some series or experiments failed (they
are rows in the results and listed in the report); 2 bad input (unknown model or dataset,
unreadable suite or data, a resume with another config...), reported in one line, with nothing
written.
"""

from __future__ import annotations

import os
import sys
import warnings
from pathlib import Path

import click

from harness.data import DataError
from harness.models import ModelError
from harness.plugins import PluginError, Registry, load_registry
from harness.store import StoreError
from harness.suite import DEFAULT_SUITE, SuiteError

BAD_INPUT = (DataError, ModelError, SuiteError, StoreError, PluginError)
RESULTS_DIR = Path("results")


def _show_warning(message, category, filename, lineno, file=None, line=None):  # noqa: ANN001
    click.echo(f"rnnbench: warning: {message}", err=True)


def _registry(ctx: click.Context) -> Registry:
    obj = ctx.ensure_object(dict)
    if "registry" not in obj:
        obj["registry"] = load_registry(obj.get("plugins_dir"))
    return obj["registry"]


def _csv_list(value: str | None) -> list[str] | None:
    if value is None:
        return None
    items = [v.strip() for v in value.split(",") if v.strip()]
    if not items:
        raise click.BadParameter("expected a comma-separated list")
    return items


def _seed_list(value: str | None) -> list[int] | None:
    items = _csv_list(value)
    if items is None:
        return None
    try:
        return [int(v) for v in items]
    except ValueError:
        raise click.BadParameter(f"seeds must be integers, got {value!r}") from None


class _Group(click.Group):
    """Turns the project's bad-input errors into one line and exit code 2."""

    def invoke(self, ctx: click.Context):  # noqa: ANN201
        try:
            return super().invoke(ctx)
        except BAD_INPUT as exc:
            click.echo(f"rnnbench: error: {exc}", err=True)
            ctx.exit(2)


@click.group(cls=_Group)
@click.version_option(package_name="rnnbench")
@click.option("--plugins-dir", type=click.Path(file_okay=False), default=None,
              help="Also load every .py plugin in this folder.")
@click.pass_context
def cli(ctx: click.Context, plugins_dir: str | None) -> None:
    """Benchmark recurrent neural networks against ARIMA on the same time series."""
    warnings.showwarning = _show_warning
    ctx.ensure_object(dict)["plugins_dir"] = plugins_dir


@cli.command()
@click.option("--suite", default=None, help=f"Suite name in datasets/suites/ or a .toml path [default: {DEFAULT_SUITE}].")
@click.option("--models", help="Comma-separated model names (replaces the suite's).")
@click.option("--datasets", help="Comma-separated dataset names or long-format .csv/.parquet paths.")
@click.option("--limit", type=int, help="Deterministic sample of N series per dataset, spread over categories.")
@click.option("--seeds", help="Comma-separated integer seeds, e.g. 0,1,2.")
@click.option("--horizon", type=int, help="Forecast horizon for datasets without an official test set.")
@click.option("--protocol", type=click.Choice(["holdout", "rolling"]), help="Evaluation protocol.")
@click.option("--windows", type=int, help="Rolling protocol: number of forecast origins.")
@click.option("--step", type=int, help="Rolling protocol: steps between origins [default: horizon].")
@click.option("--param", "-p", "params", multiple=True, help="Model parameter MODEL.NAME=VALUE (repeatable).")
@click.option("--workers", type=int, default=None, help="Worker processes for local models [default: all cores].")
@click.option("--out", type=click.Path(file_okay=False), help="Run directory [default: a new folder under results/].")
@click.option("--resume", type=click.Path(file_okay=False), help="Continue this run directory, skipping finished experiments.")
@click.pass_context
def run(ctx: click.Context, suite, models, datasets, limit, seeds, horizon, protocol, windows, step, params, workers, out, resume) -> None:  # noqa: ANN001
    """Run a benchmark suite and write results and report.md."""
    from harness.execute import execute

    if workers is not None and workers < 1:
        raise SuiteError(f"--workers must be a positive integer, got {workers}")
    options = dict(
        suite=suite, models=_csv_list(models), datasets=_csv_list(datasets), limit=limit, seeds=_seed_list(seeds),
        horizon=horizon, protocol=protocol, windows=windows, step=step, params=list(params),
    )
    code = execute(_registry(ctx), options, workers=workers or os.cpu_count() or 1, out=out, resume=resume,
                   results_dir=RESULTS_DIR, argv=sys.argv)
    ctx.exit(code)


@cli.command()
@click.argument("run_dir", type=click.Path(file_okay=False))
def report(run_dir: str) -> None:
    """Rebuild accuracy.csv, speed.csv and report.md of RUN_DIR from its stored results."""
    from harness.report import build_report
    from harness.store import RunStore

    store = RunStore.open(Path(run_dir))
    build_report(store)
    click.echo(f"report: {store.root / 'report.md'}")


@cli.command()
@click.argument("run_a", type=click.Path(file_okay=False))
@click.argument("run_b", type=click.Path(file_okay=False))
@click.option("--csv", "csv_out", type=click.Path(dir_okay=False), help="Also write the comparison table to this CSV.")
def compare(run_a: str, run_b: str, csv_out: str | None) -> None:
    """Compare accuracy and speed of RUN_B against RUN_A (deltas are B - A)."""
    from harness.compare import compare_runs
    from harness.report import markdown_table
    from harness.store import RunStore

    table, notes = compare_runs(RunStore.open(Path(run_a)), RunStore.open(Path(run_b)))
    for note in notes:
        click.echo(f"rnnbench: warning: {note}", err=True)
    click.echo(markdown_table(table))
    if csv_out:
        table.to_csv(csv_out, index=False, float_format="%.6g")


@cli.command("models")
@click.pass_context
def list_models(ctx: click.Context) -> None:
    """List registered models with their plugin, scope and default parameters."""
    registry = _registry(ctx)
    for spec in sorted(registry.models.values(), key=lambda s: s.name):
        params = ", ".join(f"{k}={v!r}" for k, v in spec.params.items()) or "-"
        click.echo(f"{spec.name:<16} {spec.scope:<7} {spec.plugin:<24} {params}")


@cli.command("datasets")
@click.pass_context
def list_datasets(ctx: click.Context) -> None:
    """List registered datasets: series count, frequency, horizon, season length, test set."""
    registry = _registry(ctx)
    click.echo(f"{'name':<20} {'series':>6} {'freq':<10} {'h':>3} {'m':>3}  {'test':<8} description")
    for spec in sorted(registry.datasets.values(), key=lambda s: s.name):
        if spec.parts:
            click.echo(f"{spec.name:<20} {'':>6} {'':<10} {'':>3} {'':>3}  {'':<8} collection: {', '.join(spec.parts)}")
            continue
        try:
            ds = spec.load()
        except Exception as exc:  # noqa: BLE001 - one broken loader must not hide the others
            click.echo(f"{spec.name:<20} failed to load: {type(exc).__name__}: {exc}")
            continue
        p = ds.panel
        test = "official" if ds.test is not None else "holdout"
        click.echo(f"{spec.name:<20} {len(p):>6} {p.freq:<10} {p.horizon:>3} {p.season_length:>3}  {test:<8} {ds.description}")


@cli.command("plugins")
@click.pass_context
def list_plugins(ctx: click.Context) -> None:
    """List loaded plugins with their version, source and hooks, and those that failed."""
    registry = _registry(ctx)
    for info in registry.plugins:
        click.echo(f"{info.name:<28} {info.version:<10} {info.source:<12} {', '.join(info.hooks)}")
    for name, message in registry.failures.items():
        click.echo(f"{name:<28} FAILED       {message}")


def main() -> None:
    cli(prog_name="rnnbench")
