"""Bad input, systematically (issue 7, part 5): every case goes through the real CLI and must exit
with code 2, say so in exactly one stderr line ``rnnbench: error: ...`` naming the problem, print
nothing on stdout and write nothing at all: the whole temporary tree (input files, any run being
resumed, the working directory where ``results/`` would go) is byte-for-byte unchanged.

Failures of a plugin *while running* (a forecast of the wrong shape, NaN) are failed rows with
exit code 1 and are tested in test_run.py; here only plugin output that is checked before a run
starts (a dataset loader's result, a model that rejects its parameters) counts as bad input.
"""

from __future__ import annotations

import shutil
import sys
import textwrap
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from tests.conftest import invoke, tree

HEADER = "unique_id,ds,y\n"


def rows(n: int, uid: str = "a", value: Callable[[int], object] = lambda i: 100.0 + i) -> str:
    """``n`` monthly rows of one series from 2015-01, in long format."""
    return "".join(f"{uid},{2015 + i // 12}-{i % 12 + 1:02d}-01,{value(i)}\n" for i in range(n))


GOOD = HEADER + rows(40, "a") + rows(40, "b")

BROKEN_DATASETS_PLUGIN = textwrap.dedent(
    '''
    import numpy as np
    import harness

    def _values():
        return np.linspace(10.0, 50.0, 40)

    def returns_list():
        return [1.0, 2.0, 3.0]

    def raises():
        raise RuntimeError("remote archive unreachable")

    def has_nan():
        v = _values()
        v[7] = np.nan
        return harness.Dataset("has-nan", harness.Panel(("s0",), (v,), "other", 1, 6))

    def short_test():
        return harness.Dataset("short-test", harness.Panel(("s0",), (_values(),), "other", 1, 6),
                               test=(np.ones(4),))

    class Picky(harness.LocalForecaster):
        """Rejects a bad parameter value with a plain ValueError, as plugins often do."""
        name = "picky"
        alpha = harness.param(0.5, "a value the constructor checks itself")

        def __init__(self, **kwargs):
            super().__init__(**kwargs)
            if not 0 < self.alpha < 1:
                raise ValueError(f"alpha must be in (0, 1), got {self.alpha}")

        def fit_predict_one(self, y):
            return np.repeat(y[-1], self.horizon)

    class Drift(harness.LocalForecaster):
        """A third-party model whose parameters are only declared: the harness checks their values."""
        name = "drift"
        damping: float = harness.param(1.0, "fraction of the drift kept", ge=0, le=1)
        window: int = harness.param(3, "last values the drift is measured over", ge=2)
        method: str = harness.param("linear", "how the drift is measured", choices=("linear", "mean"))

        def fit_predict_one(self, y):
            step = (y[-1] - y[-self.window]) / (self.window - 1)
            return y[-1] + self.damping * step * np.arange(1, self.horizon + 1)

    @harness.hookimpl
    def register_models(register):
        register(Picky)
        register(Drift)

    @harness.hookimpl
    def register_datasets(register):
        register("returns-list", returns_list)
        register("raises", raises)
        register("has-nan", has_nan)
        register("short-test", short_test)
    '''
)


class Ctx:
    """What a case's setup may create inside the test's temporary folder (before the snapshot)."""

    def __init__(self, root: Path, request: pytest.FixtureRequest) -> None:
        self.root = root
        self.request = request

    def write(self, name: str, content: str | bytes) -> str:
        path = self.root / name
        if isinstance(content, bytes):
            path.write_bytes(content)
        else:
            path.write_text(content, encoding="utf-8")
        return str(path)

    def frame(self, name: str, frame: pd.DataFrame) -> str:
        path = self.root / name
        frame.to_parquet(path, index=False)
        return str(path)

    def good(self) -> str:
        return self.write("good.csv", GOOD)

    def folder(self, name: str, files: dict[str, str] | None = None) -> str:
        path = self.root / name
        path.mkdir()
        for file, text in (files or {}).items():
            (path / file).write_text(text)
        return str(path)

    def plugins(self, text: str = BROKEN_DATASETS_PLUGIN, name: str = "broken.py") -> str:
        return self.folder("plugins", {name: text})

    def finished_run(self) -> str:
        """A copy of a finished run (naive on GOOD), to resume or to overwrite."""
        source = self.request.getfixturevalue("finished_run")
        return str(shutil.copytree(source, self.root / "run"))


@dataclass(frozen=True)
class Case:
    id: str
    setup: Callable[[Ctx], list[str]]  # the CLI arguments
    expected: str  # a fragment of the error line
    out: bool = True  # append --out OUT (and check OUT is never created)
    env: dict[str, str] | None = None
    more: tuple[str, ...] = ()  # further fragments of the error line


def run(*args: str) -> list[str]:
    return ["run", *args]


def data(name: str, content: str | bytes, expected: str, *extra: str) -> Case:
    """A data file given by path, run with naive."""
    return Case(
        f"file-{name}", lambda c: run("--models", "naive", "--datasets", c.write(name, content), *extra), expected
    )


def option(id: str, expected: str, *args: str) -> Case:
    """Options on the good file."""
    return Case(id, lambda c: run("--datasets", c.good(), *args), expected)


def suite(id: str, text: str, expected: str) -> Case:
    return Case(f"suite-{id}", lambda c: run("--suite", c.write("mine.toml", text)), expected)


def plugin(id: str, expected: str, *args: str) -> Case:
    return Case(f"plugin-{id}", lambda c: ["--plugins-dir", c.plugins(), "run", *args], expected)


def plugin_suite(id: str, text: str, expected: str) -> Case:
    """A suite file naming a model of the plugin."""
    return Case(
        f"plugin-suite-{id}",
        lambda c: ["--plugins-dir", c.plugins(), "run", "--suite", c.write("mine.toml", text)],
        expected,
    )


def run_id(
    id: str,
    value: Callable[[Ctx], str] | str,
    expected: str = "a run id is a plain name",
    *extra: str,
    command: tuple[str, ...] = ("run",),
) -> Case:
    return Case(
        f"run-id-{id}",
        lambda c: [*command, "--run-id", value(c) if callable(value) else value, *extra],
        expected,
        out=False,
    )


def out_case(id: str, where: Callable[[Ctx], str], expected: str, *more: str) -> Case:
    """``run --out WHERE`` on the good file; the error line holds ``expected`` and each of ``more``."""
    return Case(f"out-{id}", lambda c: run("--datasets", c.good(), "--out", where(c)), expected, out=False, more=more)


def _results_file(c: Ctx) -> str:
    """Make ``results`` in the working directory a plain file (``--run-id`` and the default
    output folder go under it); returns an argument that changes nothing (``--models naive``)."""
    (c.root / "nest" / "work" / "results").write_text("not a folder")
    return "--models=naive"


def compare_csv(id: str, where: Callable[[Ctx], str], expected: str) -> Case:
    """``compare RUN RUN --csv WHERE``: nothing printed (not even the table), nothing written."""

    def setup(c: Ctx) -> list[str]:
        finished = c.finished_run()
        return ["compare", finished, finished, "--csv", where(c)]

    return Case(f"compare-csv-{id}", setup, expected, out=False)


CASES: list[Case] = [
    # --- data files (long format unique_id, ds, y) ---
    data("empty.csv", "", "file is empty"),
    data("header-only.csv", HEADER, "file has no rows"),
    data("missing-y.csv", "unique_id,ds,value\n" + rows(30), "missing required column(s) y"),
    data("missing-unique_id.csv", "series,ds,y\n" + rows(30), "missing required column(s) unique_id"),
    data("empty.parquet", b"", "unreadable parquet file"),
    data("non-numeric-y.csv", HEADER + rows(30, value=lambda i: "abc" if i == 9 else i), "non-numeric y value 'abc'"),
    data("nan-y.csv", HEADER + rows(30, value=lambda i: "nan" if i == 4 else i), "series a has 1 NaN or infinite"),
    data("blank-y.csv", HEADER + rows(30, value=lambda i: "" if i == 4 else i), "series a has 1 NaN or infinite"),
    data("inf-y.csv", HEADER + rows(30, value=lambda i: "-inf" if i == 6 else i), "series a has 1 NaN or infinite"),
    data(
        "duplicate-rows.csv",
        HEADER + rows(30) + rows(1, value=lambda i: 5),
        "duplicate (unique_id, ds) = (a, 2015-01-01",
    ),
    data(
        "unparseable-dates.csv",
        HEADER + rows(30).replace("2016-03-01", "the third of March"),
        "unparseable ds 'the third of March'",
    ),
    data("missing-ds.csv", HEADER + rows(30).replace("2016-03-01", ""), "missing ds in series a"),
    data("empty-unique_id.csv", HEADER + rows(30, uid=""), "empty unique_id in data row 1"),
    data("too-short.csv", HEADER + rows(40) + rows(12, uid="tiny"), "series tiny is too short: 12 points"),
    data(
        "shorter-than-horizon.csv",
        HEADER + rows(30),
        "series a is too short: 30 points, needs at least 33",
        "--horizon",
        "30",
    ),
    data("malformed.csv", HEADER + rows(30) + 'a,"2020-01-01,1\n', "malformed CSV"),
    data("extra-field.csv", HEADER + rows(30).replace("\n", ",x\n"), "line 2 has 4 fields but the header has 3"),
    data("latin1.csv", (HEADER + rows(30, uid="Zürich")).encode("latin-1"), "not UTF-8"),
    data(
        "boolean-y.csv",
        HEADER + rows(30, value=lambda i: ["true", "false"][i % 2]),
        "y must be numeric, found booleans",
    ),
    data("really-text.parquet", GOOD, "unreadable parquet file"),
    Case(
        "file-parquet-missing-y",
        lambda c: run(
            "--models",
            "naive",
            "--datasets",
            c.frame("no-y.parquet", pd.DataFrame({"unique_id": ["a"] * 30, "ds": range(30)})),
        ),
        "missing required column(s) y",
    ),
    Case(
        "file-parquet-empty-unique_id",
        lambda c: run(
            "--models",
            "naive",
            "--datasets",
            c.frame(
                "empty-id.parquet",
                pd.DataFrame({"unique_id": ["a"] * 30 + [""] * 30, "ds": list(range(30)) * 2, "y": np.arange(60.0)}),
            ),
        ),
        "empty unique_id in data row 31",
    ),
    Case(
        "file-parquet-nan-y",
        lambda c: run(
            "--models",
            "naive",
            "--datasets",
            c.frame(
                "nan.parquet",
                pd.DataFrame({"unique_id": ["a"] * 30, "ds": range(30), "y": np.r_[np.arange(29.0), np.nan]}),
            ),
        ),
        "series a has 1 NaN or infinite",
    ),
    Case("file-is-a-directory", lambda c: run("--models", "naive", "--datasets", c.folder("folder.csv")), "not a file"),
    Case(
        "file-does-not-exist",
        lambda c: run("--models", "naive", "--datasets", str(c.root / "nowhere.csv")),
        "file not found",
    ),
    data("unsupported.xlsx", "PK\x03\x04", "unsupported file type .xlsx"),
    # --- dates (issue 17): never guessed; gaps, periods and frequencies checked ---
    data(
        "day-first-monthly.csv",
        HEADER + "".join(f"a,01/{i % 12 + 1:02d}/{2015 + i // 12},{i}\n" for i in range(40)),
        "ambiguous dates: ds '01/02/2015' (data row 2) reads as day-first (%d/%m/%Y) or month-first (%m/%d/%Y)",
    ),
    data(
        "day-first-short-daily.csv",
        HEADER + "".join(f"a,{d:%d/%m/%Y},{i}\n" for i, d in enumerate(pd.date_range("2020-03-01", periods=12))),
        "give the format with --date-format (e.g. --date-format %d/%m/%Y",
    ),
    data(
        "mixed-date-formats.csv",
        HEADER
        + "".join(
            f"a,{d:%d/%m/%Y},{i}\n" if i % 2 else f"a,{d:%Y-%m-%d},{i}\n"
            for i, d in enumerate(pd.date_range("2020-01-01", periods=40))
        ),
        "ds mixes date formats: '2020-01-01' (data row 1) and '02/01/2020' (data row 2)",
    ),
    data(
        "mixed-day-month-order.csv",
        HEADER
        + "".join(
            f"a,{d:%d/%m/%Y},{i}\n" if i < 20 else f"a,{d:%m/%d/%Y},{i}\n"
            for i, d in enumerate(pd.date_range("2020-01-01", periods=40))
        ),
        "ds mixes day-first and month-first dates",
    ),
    data(
        "not-the-date-format.csv",
        GOOD,
        "ds '2015-01-01' in series a (data row 1) does not match the date format '%d/%m/%Y'; 80 such row(s)",
        "--date-format",
        "%d/%m/%Y",
    ),
    data("invalid-date-format.csv", GOOD, "date format '%Q' is not a valid strptime format", "--date-format", "%Q"),
    option("date-format-without-directive", "--date-format must be an strptime format", "--date-format", "dd/mm/yyyy"),
    Case(
        "date-format-without-data-file",
        lambda c: run("--datasets", "airline", "--date-format", "%d/%m/%Y"),
        "--date-format applies to data files given by path",
    ),
    suite(
        "date-format-for-registered-dataset",
        'datasets = [{name = "airline", date_format = "%d/%m/%Y"}]\n[models.naive]\n',
        "dataset airline: date_format applies to data files",
    ),
    suite(
        "date-format-not-text",
        'datasets = [{name = "my.csv", date_format = 3}]\n[models.naive]\n',
        "dataset my.csv: date_format must be an strptime format such as %d/%m/%Y, got 3",
    ),
    Case(
        "suite-date-format-mismatch",
        lambda c: run(
            "--suite",
            c.write("mine.toml", f'datasets = [{{name = "{c.good()}", date_format = "%m/%d/%Y"}}]\n[models.naive]\n'),
        ),
        "does not match the date format '%m/%d/%Y'",
    ),
    data(
        "gap.csv",
        HEADER + rows(20) + "".join(f"a,{2026 + i // 12}-{i % 12 + 1:02d}-01,{i}\n" for i in range(20)),
        "series a has a gap: no value between 2016-08-01 and 2026-01-01 (112 month(s) missing in a monthly series",
    ),
    data(
        "two-values-in-a-month.csv",
        HEADER + rows(30) + "a,2015-03-15,7\n",
        "series a has two values in the same month: 2015-03-01 and 2015-03-15",
    ),
    data(
        "mixed-frequencies.csv",
        HEADER
        + rows(40)
        + "".join(f"d,{d:%Y-%m-%d},{i}\n" for i, d in enumerate(pd.date_range("2020-01-01", periods=40))),
        "series a is monthly (2015-01-01, 2015-02-01, ...) but series d is daily (2020-01-01, 2020-01-02, ...)",
    ),
    data(
        "same-instant-twice.csv",
        HEADER + rows(30) + "a,2015-01-01 00:00:00,5\n",
        "duplicate (unique_id, ds) = (a, 2015-01-01",
    ),
    # --- unclear messages (issue 17, item 8) ---
    data(
        "decimal-comma.csv",
        HEADER + rows(30, value=lambda i: f"{i},5"),
        "line 2 'a,2015-01-01,0,5' has 4 fields but the header has 3: a decimal comma ('0,5')? write decimals with a point",
    ),
    data(
        "semicolons-and-decimal-commas.csv",
        HEADER.replace(",", ";")
        + "".join(r.replace(",", ";", 2) + "\n" for r in rows(30, value=lambda i: f"{i},5").split()),
        "the header is separated by ';', not ','; rnnbench reads comma-separated files with '.' as the decimal point",
    ),
    data(
        "semicolons.csv",
        HEADER.replace(",", ";") + rows(30).replace(",", ";"),
        "missing required column(s) unique_id, ds, y (found: unique_id;ds;y; need unique_id, ds, y); the header is "
        "separated by ';'",
    ),
    data(
        "quoted-decimal-comma.csv",
        HEADER + rows(30, value=lambda i: f'"{i},5"'),
        "non-numeric y value '0,5' in series a (data row 1); 30 such row(s); a decimal comma? write decimals with a "
        "point (0.5)",
    ),
    data(
        "overflowing-y.csv",
        HEADER + rows(30, value=lambda i: "1e309" if i == 5 else i),
        "y value '1e309' in series a (data row 6) overflows a 64-bit float",
    ),
    data(
        "horizon-plus-1.csv",
        HEADER + rows(19),
        "series a is too short: 19 points, needs at least 21 for horizon 18 (horizon + 3",
    ),
    data(
        "horizon-plus-2.csv",
        HEADER + rows(20),
        "series a is too short: 20 points, needs at least 21 for horizon 18 (horizon + 3",
    ),
    Case(
        "file-same-name-in-two-folders",
        lambda c: run(
            "--models",
            "naive",
            "--datasets",
            f"{c.folder('x', {'good.csv': GOOD})}/good.csv,{c.folder('y', {'good.csv': GOOD})}/good.csv",
        ),
        "dataset 'good' appears twice in this run: data files",
    ),
    Case(
        "file-given-twice",
        lambda c: run("--models", "naive", "--datasets", f"{c.good()},{c.good()}"),
        "dataset 'good' appears twice",
    ),
    # --- values and options ---
    option("horizon-0", "--horizon must be a positive integer, got 0", "--horizon", "0"),
    option("horizon-negative", "--horizon must be a positive integer, got -3", "--horizon", "-3"),
    option("horizon-not-a-number", "'abc' is not a valid integer", "--horizon", "abc"),
    option("limit-0", "--limit must be a positive integer, got 0", "--limit", "0"),
    option("limit-negative", "--limit must be a positive integer, got -3", "--limit", "-3"),
    option("seeds-not-integers", "seeds must be integers, got 'a,b'", "--seeds", "a,b"),
    option("seeds-empty", "expected a comma-separated list", "--seeds", ","),
    option("seed-negative", "a seed must be an integer from 0 to 4294967295, got -1", "--seeds", "0,-1"),
    option("seed-too-large", "got 99999999999999999999", "--seeds", "99999999999999999999"),
    option("seeds-duplicate", "--seeds: seed 0 is given more than once; give each seed once", "--seeds", "0,0"),
    option("seeds-duplicate-later", "--seeds: seed 2 is given more than once", "--seeds", "2,1,2"),
    option("levels-not-numbers", "levels must be numbers (percent), got '80,high'", "--levels", "80,high"),
    option("levels-empty", "expected a comma-separated list", "--levels", ","),
    option(
        "levels-100", "--levels: a level must be strictly between 0 and 100 (percent), got 100.0", "--levels", "80,100"
    ),
    option("levels-0", "--levels: a level must be strictly between 0 and 100 (percent), got 0.0", "--levels", "0"),
    option("levels-nan", "--levels: a level must be a number between 0 and 100 (percent), got nan", "--levels", "nan"),
    option(
        "levels-duplicate", "--levels: level 95 is given more than once; give each level once", "--levels", "95,80,95.0"
    ),
    option("workers-0", "--workers must be a positive integer, got 0", "--workers", "0"),
    option("windows-0", "'--windows': 0 is not in the range x>=1", "--windows", "0"),
    option("windows-negative", "'--windows': -2 is not in the range x>=1", "--protocol", "rolling", "--windows", "-2"),
    option("step-0", "'--step': 0 is not in the range x>=1", "--protocol", "rolling", "--step", "0"),
    option(
        "windows-with-holdout",
        "--windows applies to the rolling protocol: add --protocol rolling",
        "--protocol",
        "holdout",
        "--windows",
        "3",
    ),
    option("step-with-holdout", "--step applies to the rolling protocol", "--step", "6"),
    option("protocol-unknown", "'sideways' is not one of 'holdout', 'rolling'", "--protocol", "sideways"),
    option("too-many-windows", "too short for horizon 18 with 30 window(s)", "--windows", "30"),
    option("unknown-model", "unknown model 'nosuchmodel'", "--models", "nosuchmodel"),
    Case("unknown-dataset", lambda c: run("--datasets", "nosuchdata"), "unknown dataset 'nosuchdata'"),
    option("param-unknown-name", "model arima: unknown parameter 'nope'", "--models", "arima", "-p", "arima.nope=1"),
    option(
        "param-bad-value",
        "model arima: ic must be one of aic, aicc, bic, got 'nope'",
        "--models",
        "arima",
        "-p",
        "arima.ic=nope",
    ),
    option(
        "param-without-equals", "--param 'arima.ic': expected MODEL.NAME=VALUE", "--models", "arima", "-p", "arima.ic"
    ),
    option("param-without-model", "--param 'ic=bic': expected MODEL.NAME=VALUE", "--models", "arima", "-p", "ic=bic"),
    option(
        "param-negative-hidden",
        "model rnn-numpy: hidden must be an integer >= 1, got -4",
        "--models",
        "rnn-numpy",
        "-p",
        "rnn-numpy.hidden=-4",
    ),
    option(
        "param-string-lr",
        "model lstm-torch: lr must be a number > 0, got 'fast'",
        "--models",
        "lstm-torch",
        "-p",
        "lstm-torch.lr=fast",
    ),
    option("param-nan", "model theta: theta must be finite, got nan", "--models", "theta", "-p", "theta.theta=NaN"),
    option(
        "param-string-for-number",
        "model theta: theta must be a number >= 1, got 'half'",
        "--models",
        "theta",
        "-p",
        "theta.theta=half",
    ),
    option(
        "param-bool-for-integer",
        "model arima: max_p must be an integer >= 0, got True",
        "--models",
        "arima",
        "-p",
        "arima.max_p=true",
    ),
    Case("cli-unknown-top-level-option", lambda c: ["--bogus", "run"], "No such option '--bogus'", out=False),
    Case("cli-unknown-command", lambda c: ["bogus"], "No such command 'bogus'", out=False),
    option("param-model-not-in-run", "model 'arima' is not in this run", "--models", "naive", "-p", "arima.ic=bic"),
    option(
        "param-float-for-integer",
        "model rnn-numpy: hidden must be an integer >= 1, got 2.5",
        "--models",
        "rnn-numpy",
        "-p",
        "rnn-numpy.hidden=2.5",
    ),
    option(
        "param-infinite",
        "model theta: theta must be finite, got inf",
        "--models",
        "theta",
        "-p",
        "theta.theta=Infinity",
    ),
    # issue 17: NaN/inf in any float parameter, nullable ones included
    option(
        "param-nan-nullable",
        "model rnn-numpy: input_seasons must be finite, got nan",
        "--models",
        "rnn-numpy",
        "-p",
        "rnn-numpy.input_seasons=NaN",
    ),
    option(
        "param-infinite-lr",
        "model lstm-torch: lr must be finite, got inf",
        "--models",
        "lstm-torch",
        "-p",
        "lstm-torch.lr=Infinity",
    ),
    option(
        "param-minus-infinite",
        "model rnn-numpy: input_seasons must be finite, got -inf",
        "--models",
        "rnn-numpy",
        "-p",
        "rnn-numpy.input_seasons=-Infinity",
    ),
    option(
        "param-list-for-number",
        "model theta: theta must be a number >= 1, got [2]",
        "--models",
        "theta",
        "-p",
        "theta.theta=[2]",
    ),
    Case(
        "horizon-of-official-test-set",
        lambda c: run("--datasets", "m3-yearly", "--limit", "2", "--horizon", "3"),
        "official test set of horizon 6",
    ),
    # --- suites ---
    Case("suite-missing", lambda c: run("--suite", "nosuchsuite"), "suite 'nosuchsuite' not found"),
    suite("toml-syntax-error", 'datasets = ["airline"\n[models.naive]\n', "is not valid TOML"),
    suite("unknown-key", 'datasets = ["airline"]\ncolour = "red"\n[models.naive]\n', "unknown key 'colour'"),
    suite("no-datasets", "datasets = []\n[models.naive]\n", "no datasets"),
    suite("no-datasets-key", "[models.naive]\n", "no datasets"),
    suite("no-models", 'datasets = ["airline"]\n', "no models"),
    suite("models-not-tables", 'datasets = ["airline"]\nmodels = ["naive"]\n', "[models] must be tables"),
    suite("seeds-not-a-list", 'datasets = ["airline"]\nseeds = 3\n[models.naive]\n', "seeds must be a list"),
    suite("seed-negative", 'datasets = ["airline"]\nseeds = [-4]\n[models.naive]\n', "got -4"),
    suite("limit-0", 'datasets = ["airline"]\nlimit = 0\n[models.naive]\n', "limit must be a positive integer, got 0"),
    suite("levels-not-a-list", 'datasets = ["airline"]\nlevels = 95\n[models.naive]\n', "levels must be a list"),
    suite("levels-empty", 'datasets = ["airline"]\nlevels = []\n[models.naive]\n', "levels: give at least one level"),
    suite(
        "levels-string",
        'datasets = ["airline"]\nlevels = ["95"]\n[models.naive]\n',
        "levels: a level must be a number between 0 and 100 (percent), got '95'",
    ),
    suite(
        "levels-above-100",
        'datasets = ["airline"]\nlevels = [80, 150]\n[models.naive]\n',
        "levels: a level must be strictly between 0 and 100 (percent), got 150",
    ),
    suite(
        "levels-duplicate",
        'datasets = ["airline"]\nlevels = [80, 80.0]\n[models.naive]\n',
        "levels: level 80 is given more than once",
    ),
    suite(
        "unknown-protocol",
        'datasets = ["airline"]\n[protocol]\nkind = "sideways"\n[models.naive]\n',
        "unknown protocol 'sideways'",
    ),
    suite(
        "param-out-of-bounds",
        'datasets = ["airline"]\n[models.rnn-numpy]\nhidden = -4\n',
        "model rnn-numpy: hidden must be an integer >= 1, got -4",
    ),
    suite(
        "param-not-a-choice",
        'datasets = ["airline"]\n[models.rnn-numpy]\nstrategy = "sideways"\n',
        "model rnn-numpy: strategy must be one of mimo, recursive, got 'sideways'",
    ),
    suite(
        "param-string-for-number",
        'datasets = ["airline"]\n[models.theta]\ntheta = "two"\n',
        "model theta: theta must be a number >= 1, got 'two'",
    ),
    suite(
        "param-nan",
        'datasets = ["airline"]\n[models.theta]\ntheta = nan\n',
        "model theta: theta must be finite, got nan",
    ),
    suite(
        "param-float-for-integer",
        'datasets = ["airline"]\n[models.rnn-numpy]\nhidden = 8.5\n',
        "model rnn-numpy: hidden must be an integer >= 1, got 8.5",
    ),
    suite(
        "param-bool-for-number",
        'datasets = ["airline"]\n[models.theta]\ntheta = true\n',
        "model theta: theta must be a number >= 1, got True",
    ),
    suite(
        "param-unknown-name",
        'datasets = ["airline"]\n[models.theta]\nthetta = 2\n',
        "model theta: unknown parameter 'thetta'",
    ),
    suite("unknown-dataset", 'datasets = ["nosuchdata"]\n[models.naive]\n', "unknown dataset 'nosuchdata'"),
    # issue 17: a seed given twice would store every row of that seed twice
    suite(
        "seeds-duplicate",
        'datasets = ["airline"]\nseeds = [0, 1, 0]\n[models.naive]\n',
        "seed 0 is given more than once",
    ),
    # issue 17: unknown keys name their table, the close match and the known keys; types are checked
    suite(
        "protocol-unknown-key",
        'datasets = ["airline"]\n[protocol]\nkind = "rolling"\nwindws = 3\n[models.naive]\n',
        "unknown key 'windws' in [protocol]; did you mean windows? (known: kind, windows, step, refit_global)",
    ),
    suite(
        "protocol-windows-string",
        'datasets = ["airline"]\n[protocol]\nkind = "rolling"\nwindows = "3"\n[models.naive]\n',
        "[protocol] windows must be an integer, got '3'",
    ),
    suite(
        "protocol-windows-float",
        'datasets = ["airline"]\n[protocol]\nkind = "rolling"\nwindows = 2.5\n[models.naive]\n',
        "[protocol] windows must be an integer, got 2.5",
    ),
    suite(
        "protocol-step-0",
        'datasets = ["airline"]\n[protocol]\nkind = "rolling"\nstep = 0\n[models.naive]\n',
        "[protocol] step must be a positive integer, got 0",
    ),
    suite(
        "protocol-windows-without-rolling",
        'datasets = ["airline"]\n[protocol]\nwindows = 3\n[models.naive]\n',
        '[protocol] windows applies to the rolling protocol; add kind = "rolling"',
    ),
    suite(
        "protocol-kind-not-a-string",
        'datasets = ["airline"]\n[protocol]\nkind = 2\n[models.naive]\n',
        '[protocol] kind must be a string ("holdout" or "rolling"), got 2',
    ),
    suite(
        "protocol-refit-not-a-bool",
        'datasets = ["airline"]\n[protocol]\nkind = "rolling"\nrefit_global = "yes"\n[models.naive]\n',
        "[protocol] refit_global must be true or false, got 'yes'",
    ),
    suite(
        "protocol-not-a-table",
        'datasets = ["airline"]\nprotocol = "rolling"\n[models.naive]\n',
        "[protocol] must be a table",
    ),
    suite(
        "unknown-key-close-match",
        'datasets = ["airline"]\nlimt = 3\n[models.naive]\n',
        "unknown key 'limt' in the top level; did you mean limit?",
    ),
    suite(
        "dataset-unknown-key-close-match",
        'datasets = [{name = "airline", horizn = 3}]\n[models.naive]\n',
        "unknown key 'horizn' in dataset airline; did you mean horizon? (known: name, limit, horizon, season_length, date_format)",
    ),
    suite(
        "dataset-horizon-string",
        'datasets = [{name = "airline", horizon = "12"}]\n[models.naive]\n',
        "horizon must be an integer, got '12'",
    ),
    suite(
        "limit-string", 'datasets = ["airline"]\nlimit = "40"\n[models.naive]\n', "limit must be an integer, got '40'"
    ),
    suite(
        "description-not-a-string",
        'description = 3\ndatasets = ["airline"]\n[models.naive]\n',
        "description must be a string, got 3",
    ),
    suite("seeds-string", 'datasets = ["airline"]\nseeds = ["0"]\n[models.naive]\n', "seeds must be integers, got '0'"),
    Case(
        "suite-bom-with-bad-key",  # the BOM is read past (a suite with one loads): the real mistake is named
        lambda c: run(
            "--suite", c.write("mine.toml", b'\xef\xbb\xbfdatasets = ["airline"]\nseeds = 1\n[models.naive]\n')
        ),
        "seeds must be a list",
    ),
    Case("suite-is-a-directory", lambda c: run("--suite", c.folder("suite.toml")), "cannot read suite file"),
    # --- resume and existing output folders ---
    Case(
        "resume-not-a-run",
        lambda c: run("--resume", c.folder("notarun", {"notes.txt": "hello"})),
        "is not a run directory (no manifest.json)",
        out=False,
    ),
    Case("resume-missing", lambda c: run("--resume", str(c.root / "nowhere")), "is not a run directory", out=False),
    Case(
        "resume-changed-models",
        lambda c: run("--resume", c.finished_run(), "--models", "naive,snaive"),
        "it was made with another config (models differ)",
        out=False,
    ),
    Case(
        "resume-changed-seeds",
        lambda c: run("--resume", c.finished_run(), "--seeds", "0,1"),
        "another config (seeds differ)",
        out=False,
    ),
    Case(
        "resume-changed-suite",
        lambda c: run("--resume", c.finished_run(), "--suite", "quick"),
        "another config",
        out=False,
    ),
    Case(
        "resume-corrupt-manifest",
        lambda c: run("--resume", c.folder("corrupt", {"manifest.json": '{"config": '})),
        "cannot read",
        out=False,
    ),
    Case(
        "resume-manifest-without-config",
        lambda c: run("--resume", c.folder("noconfig", {"manifest.json": '{"rnnbench_run": 1}'})),
        "holds no usable run config",
        out=False,
    ),
    Case(
        "out-holds-a-run",
        lambda c: run("--models", "naive", "--datasets", c.good(), "--out", c.finished_run()),
        "already holds a run",
        out=False,
    ),
    Case(
        "out-not-empty",
        lambda c: run("--models", "naive", "--datasets", c.good(), "--out", c.folder("busy", {"keep.txt": "mine"})),
        "is not empty",
        out=False,
    ),
    # --- plugins (what they hand over before a run starts) ---
    Case("plugins-dir-missing", lambda c: ["--plugins-dir", str(c.root / "nowhere"), "run"], "is not a directory"),
    Case(
        "plugin-broken-strict",
        lambda c: ["--plugins-dir", c.plugins("raise ImportError('no wheel for this')\n"), "run"],
        "plugin 'broken' failed to import (RNNBENCH_STRICT_PLUGINS is set): ImportError: no wheel",
        env={"RNNBENCH_STRICT_PLUGINS": "1"},
    ),
    plugin("dataset-not-a-dataset", "its loader returned list, not a harness.Dataset", "--datasets", "returns-list"),
    plugin(
        "dataset-loader-raises",
        "dataset 'raises' failed to load: RuntimeError: remote archive unreachable",
        "--datasets",
        "raises",
    ),
    plugin("dataset-has-nan", "dataset has-nan: series s0 has 1 NaN or infinite value(s)", "--datasets", "has-nan"),
    plugin("dataset-test-too-short", "series s0 has 4 test values, horizon is 6", "--datasets", "short-test"),
    plugin(
        "model-rejects-value",
        "model picky: cannot be built with these parameters: ValueError: alpha must be in (0, 1)",
        "--datasets",
        "airline",
        "--models",
        "picky",
        "-p",
        "picky.alpha=3",
    ),
    # a third-party model's declared parameters are checked like the built-ins' (-p and suites)
    plugin(
        "param-string-for-number",
        "model drift: damping must be a number in [0, 1], got 'half'",
        "--datasets",
        "airline",
        "--models",
        "drift",
        "-p",
        "drift.damping=half",
    ),
    plugin(
        "param-nan",
        "model drift: damping must be finite, got nan",
        "--datasets",
        "airline",
        "--models",
        "drift",
        "-p",
        "drift.damping=NaN",
    ),
    plugin(
        "param-out-of-bounds",
        "model drift: damping must be a number in [0, 1], got 1.5",
        "--datasets",
        "airline",
        "--models",
        "drift",
        "-p",
        "drift.damping=1.5",
    ),
    plugin(
        "param-float-for-integer",
        "model drift: window must be an integer >= 2, got 2.5",
        "--datasets",
        "airline",
        "--models",
        "drift",
        "-p",
        "drift.window=2.5",
    ),
    plugin(
        "param-not-a-choice",
        "model drift: method must be one of linear, mean, got 'cubic'",
        "--datasets",
        "airline",
        "--models",
        "drift",
        "-p",
        "drift.method=cubic",
    ),
    plugin(
        "param-unknown-name",
        "model drift: unknown parameter 'dampning'",
        "--datasets",
        "airline",
        "--models",
        "drift",
        "-p",
        "drift.dampning=0.5",
    ),
    plugin_suite(
        "string-for-number",
        'datasets = ["airline"]\n[models.drift]\ndamping = "half"\n',
        "model drift: damping must be a number in [0, 1], got 'half'",
    ),
    plugin_suite(
        "nan", 'datasets = ["airline"]\n[models.drift]\ndamping = nan\n', "model drift: damping must be finite, got nan"
    ),
    plugin_suite(
        "out-of-bounds",
        'datasets = ["airline"]\n[models.drift]\ndamping = -0.5\n',
        "model drift: damping must be a number in [0, 1], got -0.5",
    ),
    plugin_suite(
        "float-for-integer",
        'datasets = ["airline"]\n[models.drift]\nwindow = 4.0\n',
        "model drift: window must be an integer >= 2, got 4.0",
    ),
    plugin_suite(
        "not-a-choice",
        'datasets = ["airline"]\n[models.drift]\nmethod = "cubic"\n',
        "model drift: method must be one of linear, mean, got 'cubic'",
    ),
    # --- run ids: a plain name under results/, never a path ---
    run_id("parent", "../evil"),
    run_id("nested", "a/b"),
    run_id("absolute", lambda c: str(c.root / "abs")),
    run_id("dotdot", ".."),
    run_id("dot", "."),
    run_id("hidden", ".hidden"),
    run_id("empty", ""),
    run_id("backslash", "a\\..\\b"),
    run_id("newline", "ok\nname"),
    run_id("too-long", "x" * 129),
    run_id("with-out", "fine", "give one of them", "--out", "elsewhere"),
    run_id("with-resume", "fine", "give --resume alone", "--resume", "elsewhere"),
    run_id("study-memory", "../evil", command=("study", "memory")),
    run_id("study-cost", "a/b", command=("study", "cost")),
    # --- output locations that cannot be written: the path and the operating system's reason ---
    out_case("dev-null", lambda c: "/dev/null", "cannot write output folder /dev/null: Not a directory"),
    out_case("below-dev-null", lambda c: "/dev/null/run", "/dev/null/run: Not a directory"),
    out_case(
        "below-a-file",
        lambda c: c.write("plain.txt", "x") + "/run/deeper",
        "plain.txt/run/deeper: Not a directory (",
        " is not a folder)",
    ),
    out_case("name-too-long", lambda c: str(c.root / ("x" * 300)), "File name too long (a name of 300 characters"),
    out_case(
        "parent-name-too-long",
        lambda c: str(c.root / ("y" * 300) / "run"),
        "/run: File name too long (a name of 300 characters",
    ),
    Case(
        "run-id-results-is-a-file",
        lambda c: run("--datasets", c.good(), "--run-id", "fine", _results_file(c)),
        "cannot write output folder results/fine: Not a directory (results is not a folder)",
        out=False,
    ),
    Case(
        "default-out-results-is-a-file",
        lambda c: run("--datasets", c.good(), _results_file(c)),
        "cannot write output folder results: Not a directory",
        out=False,
    ),
    Case(
        "study-memory-out-dev-null",
        lambda c: ["study", "memory", "--out", "/dev/null"],
        "cannot write output folder /dev/null: Not a directory",
        out=False,
    ),
    Case(
        "study-cost-out-below-a-file",
        lambda c: ["study", "cost", "--tiny", "--out", c.write("plain.txt", "x") + "/cost"],
        "plain.txt/cost: Not a directory",
        out=False,
    ),
    compare_csv("missing-folder", lambda c: str(c.root / "nowhere" / "table.csv"), "nowhere does not exist"),
    compare_csv("dev-null", lambda c: "/dev/null", "cannot write --csv file /dev/null: not a regular file"),
    compare_csv("below-a-file", lambda c: c.write("plain.txt", "x") + "/table.csv", "Not a directory"),
    compare_csv("name-too-long", lambda c: str(c.root / ("z" * 300 + ".csv")), "File name too long"),
    compare_csv("is-a-folder", lambda c: c.folder("table.csv"), "is a directory"),
]


@pytest.fixture(scope="module")
def finished_run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("finished")
    data = root / "good.csv"
    data.write_text(GOOD)
    out = root / "run"
    result = invoke(["run", "--models", "naive", "--datasets", str(data), "--workers", "1", "--out", str(out)])
    assert result.exit_code == 0, result.output
    return out


def test_case_ids_are_unique():
    ids = [c.id for c in CASES]
    assert len(ids) == len(set(ids)) and len(ids) >= 24


@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_bad_input_exits_2_with_one_line_and_writes_nothing(case: Case, tmp_path, monkeypatch, request):
    work = tmp_path / "nest" / "work"  # the working directory: results/ would go here, ../.. stays in tmp_path
    work.mkdir(parents=True)
    monkeypatch.chdir(work)
    monkeypatch.setattr(sys, "dont_write_bytecode", True)  # importing a plugin file writes nothing either
    args = case.setup(Ctx(tmp_path, request))
    out = tmp_path / "out"
    if case.out:
        args = [*args, "--out", str(out)]
    before = tree(tmp_path)

    result = invoke(args, env=case.env)

    assert result.exit_code == 2, result.output
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("rnnbench: error: "), lines[0]
    assert case.expected in lines[0]
    assert all(fragment in lines[0] for fragment in case.more), lines[0]
    assert result.stdout == ""
    assert not out.exists()
    assert tree(tmp_path) == before
