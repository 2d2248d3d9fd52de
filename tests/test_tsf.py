"""Standard data formats (issue 14, item 3): Monash ``.tsf`` files by path, M4 and the Monash
archive by name through the download cache, and their bad input.

Nothing here touches the network: every test points ``RNNBENCH_CACHE`` at a temporary folder and
replaces the opener of :mod:`harness.downloads` with one that fails (or serves bytes made here),
so a download a test did not ask for fails it. The bad-input cases go through the same check as
tests/test_bad_input.py (exit 2, one line, nothing written, the temporary tree unchanged).
"""

from __future__ import annotations

import io
import zipfile
from pathlib import Path
from urllib.error import URLError

import numpy as np
import pandas as pd
import pytest

import harness
from harness import downloads
from harness.errors import DataError
from harness.tsf import load_tsf, read_tsf, season_length_of
from tests import test_bad_input as bad
from tests.conftest import invoke

ROOT = Path(__file__).resolve().parent.parent
TINY = ROOT / "datasets" / "tiny_monthly.tsf"

HEAD = "@relation t\n@attribute series_name string\n@attribute start_timestamp date\n@frequency monthly\n@horizon 6\n"


def series(name: str, n: int = 30, start: str = "2015-01-01 00-00-00", value=lambda i: f"{100 + i}") -> str:
    return f"{name}:{start}:" + ",".join(value(i) for i in range(n)) + "\n"


GOOD = HEAD + "@missing false\n@equallength false\n@data\n" + series("a") + series("b", 36)


def no_network(url, timeout=None):
    raise URLError(OSError(101, "Network is unreachable"))


@pytest.fixture(autouse=True)
def offline(tmp_path, monkeypatch):
    """Every test: the cache in a folder of its own, and no network."""
    cache = tmp_path / "cache"
    monkeypatch.setenv("RNNBENCH_CACHE", str(cache))
    monkeypatch.setattr(downloads, "urlopen", no_network)
    return cache


# --- the shipped file and the parser ---------------------------------------------------------


def test_shipped_file_reads_as_documented():
    ds = load_tsf(TINY)
    p = ds.panel
    assert ds.name == "tiny_monthly"
    assert p.ids == ("T1", "T2", "T3", "T4")
    assert [len(v) for v in p.values] == [60, 54, 48, 57]
    assert (p.freq, p.horizon, p.season_length) == ("monthly", 6, 12)
    assert ds.test is None
    assert ds.meta["first_ds"] == [
        "2014-01-01 00:00:00",
        "2014-07-01 00:00:00",
        "2015-01-01 00:00:00",
        "2014-04-01 00:00:00",
    ]
    assert p.values[0][:3].tolist() == [122.5, 131.6, 140.2]


def test_comments_blank_lines_case_and_extra_attributes(tmp_path):
    text = (
        "# a comment\n\n@RELATION x\n@attribute state string\n@attribute series_name string\n"
        "@attribute size numeric\n@Frequency 10_minutes\n@horizon 4\n@missing true\n@equallength true\n\n@data\n"
        "# between rows\nVIC:s1:3.5:1,2,3,4,5,6,7,8\nNSW:s2:7:2,3,4,5,6,7,8,9\n"
    )
    path = tmp_path / "x.tsf"
    path.write_text(text)
    ds = load_tsf(path)
    # the first string attribute names the series; other attributes are checked and ignored
    assert ds.panel.ids == ("VIC", "NSW")
    assert ds.panel.season_length == 144 and ds.panel.freq == "10_minutes" and ds.panel.horizon == 4
    assert "first_ds" not in ds.meta
    np.testing.assert_array_equal(ds.panel.values[1], np.arange(2.0, 10.0))
    assert read_tsf(path).missing is True


@pytest.mark.parametrize(
    "frequency, m",
    [
        ("yearly", 1),
        ("quarterly", 4),
        ("monthly", 12),
        ("weekly", 1),
        ("daily", 7),
        ("hourly", 24),
        ("half_hourly", 48),
        ("10_minutes", 144),
        ("minutely", 1440),
        ("4_seconds", 21600),
        ("15_minutes", 96),
        ("2_hours", 12),
        ("7_minutes", None),
        ("fortnightly", None),
        ("0_minutes", None),
    ],
)
def test_frequency_gives_the_season_length(frequency, m):
    assert season_length_of(frequency) == m


def test_horizon_and_season_length_overrides(tmp_path):
    path = tmp_path / "g.tsf"
    path.write_text(GOOD)
    assert load_tsf(path).panel.horizon == 6
    assert load_tsf(path, horizon=3, season_length=4).panel.horizon == 3
    assert load_tsf(path, season_length=4).panel.season_length == 4
    no_h = tmp_path / "noh.tsf"
    no_h.write_text(GOOD.replace("@horizon 6\n", ""))
    with pytest.raises(DataError, match="no @horizon line and no horizon given"):
        load_tsf(no_h)
    assert load_tsf(no_h, horizon=5).panel.horizon == 5
    assert load_tsf(no_h, default_horizon=7).panel.horizon == 7  # a loader's fallback, below --horizon
    assert load_tsf(no_h, horizon=5, default_horizon=7).panel.horizon == 5


def test_a_run_on_the_shipped_file_end_to_end(tmp_path):
    out = tmp_path / "run"
    result = invoke(["run", "--datasets", str(TINY), "--models", "naive,snaive", "--workers", "1", "--out", str(out)])
    assert result.exit_code == 0, result.output
    metrics = pd.read_parquet(out / "metrics.parquet")
    assert set(metrics["dataset"]) == {"tiny_monthly"}
    assert set(metrics["unique_id"]) == {"T1", "T2", "T3", "T4"}
    assert (metrics["status"] == "ok").all()
    # snaive beats naive on these seasonal series (a real forecast was scored)
    mean = metrics.groupby("model")["smape"].mean()
    assert mean["snaive"] < mean["naive"]


def test_suite_horizon_overrides_the_file(tmp_path):
    suite = tmp_path / "s.toml"
    suite.write_text(f'datasets = [{{name = "{TINY}", horizon = 3}}]\n[models.naive]\n')
    out = tmp_path / "run"
    result = invoke(["run", "--suite", str(suite), "--workers", "1", "--out", str(out)])
    assert result.exit_code == 0, result.output
    forecasts = pd.read_parquet(out / "forecasts.parquet")
    assert forecasts["step"].max() == 3


# --- M4 and the Monash archive through the cache ---------------------------------------------


def tiny_m4(cache: Path) -> None:
    """An M4-like yearly pair in the official layout: quoted header V1.., train rows padded."""
    (cache / "m4").mkdir(parents=True)
    train = '"V1","V2","V3","V4","V5","V6","V7","V8","V9","V10","V11","V12","V13","V14","V15"\n'
    train += '"Y1",' + ",".join(f'"{100 + i}"' for i in range(14)) + "\n"
    train += '"Y2",' + ",".join(f'"{50 + 2 * i}"' for i in range(10)) + ',"","","",""\n'
    test = '"V1","V2","V3","V4","V5","V6","V7"\n"Y1","114","115","116","117","118","119"\n'
    test += '"Y2","70","72","74","76","78","80"\n'
    (cache / "m4" / "Yearly-train.csv").write_text(train)
    (cache / "m4" / "Yearly-test.csv").write_text(test)


def test_m4_from_the_cache_with_its_official_test(offline, registry_fresh):
    tiny_m4(offline)
    ds = registry_fresh().dataset("m4-yearly").load()
    assert ds.panel.ids == ("Y1", "Y2")
    assert [len(v) for v in ds.panel.values] == [14, 10]
    assert (ds.panel.horizon, ds.panel.season_length, ds.panel.freq) == (6, 1, "yearly")
    np.testing.assert_array_equal(ds.test[1], [70, 72, 74, 76, 78, 80])


def test_m4_run_and_listing(offline, tmp_path):
    listed = invoke(["datasets"])
    line = next(row for row in listed.stdout.splitlines() if row.startswith("m4-yearly "))
    assert "download" in line
    assert f"into {offline}" in listed.stdout
    tiny_m4(offline)
    line = next(row for row in invoke(["datasets"]).stdout.splitlines() if row.startswith("m4-yearly "))
    assert "download" not in line and " 2 yearly" in line
    result = invoke(["run", "--datasets", "m4-yearly", "--models", "naive", "--out", str(tmp_path / "run")])
    assert result.exit_code == 0, result.output
    metrics = pd.read_parquet(tmp_path / "run" / "metrics.parquet")
    assert set(metrics["unique_id"]) == {"Y1", "Y2"}


def zipped(member: str, text: str) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr(member, text)
    return buffer.getvalue()


def test_monash_downloads_once_unzips_and_caches(offline, monkeypatch, registry_fresh):
    asked = []

    def serve(url, timeout=None):
        asked.append((url, timeout))
        return io.BytesIO(zipped("tourism_monthly_dataset.tsf", GOOD.replace("@horizon 6\n", "")))

    monkeypatch.setattr(downloads, "urlopen", serve)
    ds = registry_fresh().dataset("monash:tourism_monthly").load()
    assert asked == [("https://zenodo.org/record/4656096/files/tourism_monthly_dataset.zip", downloads.TIMEOUT_S)]
    assert ds.name == "monash:tourism_monthly" and ds.panel.ids == ("a", "b")
    assert ds.panel.horizon == 24  # no @horizon in this file: the archive paper's horizon
    assert sorted(p.name for p in (offline / "monash").iterdir()) == ["tourism_monthly_dataset.tsf"]
    registry_fresh().dataset("monash:tourism_monthly").load()
    assert len(asked) == 1  # read from the cache the second time


def test_a_download_that_breaks_off_leaves_nothing(offline, monkeypatch):
    class Broken(io.BytesIO):
        def read(self, n=-1):
            if self.tell():
                raise TimeoutError("timed out")
            return super().read(5)

    monkeypatch.setattr(downloads, "urlopen", lambda url, timeout=None: Broken(b"0123456789"))
    with pytest.raises(DataError, match=r"download of http://x/y.csv broke off: timed out; put the file at "):
        harness.cached_file("http://x/y.csv", "sub/y.csv")
    assert not offline.exists()  # no partial file, no folder made for it


def test_an_unreachable_address_says_where_to_put_the_file(offline, monkeypatch):
    from urllib.request import urlopen

    monkeypatch.setattr(downloads, "urlopen", urlopen)  # the real opener, to a port nobody serves
    with pytest.raises(DataError) as err:
        harness.cached_file("http://127.0.0.1:9/y.csv", "y.csv", timeout=5)
    message = str(err.value)
    assert message.startswith("cannot download http://127.0.0.1:9/y.csv: ")
    assert message.endswith(f"without network, put the file at {offline / 'y.csv'}")
    assert "\n" not in message and not offline.exists()


@pytest.fixture
def registry_fresh():
    """A registry loaded now (the cache paths of registered datasets follow RNNBENCH_CACHE)."""
    from harness.plugins import load_registry

    return load_registry


# --- bad input: exit 2, one line, nothing written --------------------------------------------


def tsf(name: str, content: str | bytes, expected: str, *extra: str) -> bad.Case:
    return bad.data(name, content, expected, *extra)


MISSING_OK = HEAD + "@missing true\n@data\n"
CASES: list[bad.Case] = [
    tsf("empty.tsf", "", "file is empty"),
    tsf("comments-only.tsf", "# nothing\n\n", "file is empty"),
    tsf("no-data-line.tsf", HEAD + series("a"), "series data before the @data line (is @data missing?)"),
    tsf("header-only.tsf", HEAD + "@missing false\n", "no @data line"),
    tsf("no-series.tsf", HEAD + "@data\n", "no series after @data"),
    tsf(
        "attribute-type.tsf",
        GOOD.replace("start_timestamp date", "start_timestamp datetime"),
        "unknown attribute type 'datetime' for attribute 'start_timestamp' (known: string, numeric, date)",
    ),
    tsf(
        "attribute-twice.tsf", GOOD.replace("@frequency", "@attribute series_name string\n@frequency"), "declared twice"
    ),
    tsf(
        "too-few-attributes.tsf",
        GOOD + "c:1,2,3,4,5,6,7,8,9,10\n",
        "line 11: 1 attribute value(s) before the series values, the header declares 2 (series_name, start_timestamp)",
    ),
    tsf("too-many-attributes.tsf", GOOD + "c:x:2015-01-01 00-00-00:1,2,3\n", "3 attribute value(s)"),
    tsf(
        "non-numeric.tsf",
        GOOD + series("c", value=lambda i: "abc" if i == 4 else "1"),
        "line 11: series c: non-numeric value 'abc' (value 5)",
    ),
    tsf("empty-value.tsf", GOOD + series("c").replace(",101,", ",,"), "series c: non-numeric value '' (value 2)"),
    tsf("inf-value.tsf", GOOD + series("c", value=lambda i: "inf" if i == 2 else "1"), "value 3 is 'inf'"),
    tsf(
        "missing-declared-false.tsf",
        GOOD + series("c", value=lambda i: "?" if i in (3, 8) else "1"),
        "series c has 2 missing value(s) ('?') but the header says @missing false",
    ),
    tsf(
        "missing-undeclared.tsf",
        HEAD + "@data\n" + series("c", value=lambda i: "?" if i == 3 else "1"),
        "but the header has no @missing true",
    ),
    tsf(
        "missing-refused.tsf",
        MISSING_OK
        + series("a")
        + series("c", value=lambda i: "?" if i < 3 else "1")
        + series("d", value=lambda i: "?"),
        "series c has 3 missing value(s) ('?') (1 more series have some); the models need complete series",
    ),
    tsf(
        "unknown-frequency.tsf",
        GOOD.replace("monthly", "montly"),
        "unknown frequency 'montly'; did you mean monthly?",
    ),
    tsf("frequency-not-a-day.tsf", GOOD.replace("monthly", "7_minutes"), "unknown frequency '7_minutes'"),
    tsf("no-frequency.tsf", GOOD.replace("@frequency monthly\n", ""), "no @frequency line"),
    tsf("duplicate-names.tsf", GOOD + series("a"), "series name 'a' appears twice (lines 9 and 11)"),
    tsf("no-horizon.tsf", GOOD.replace("@horizon 6\n", ""), "no @horizon line and no horizon given"),
    tsf("bad-horizon.tsf", GOOD.replace("@horizon 6", "@horizon six"), "@horizon must be a positive integer"),
    tsf("bad-missing.tsf", GOOD.replace("@missing false", "@missing no"), "@missing must be true or false"),
    tsf(
        "bad-date.tsf",
        GOOD + series("c", start="2015-01-01"),
        "attribute start_timestamp (date) has value '2015-01-01'",
    ),
    tsf(
        "unknown-tag.tsf",
        GOOD.replace("@relation t", "@relaton t"),
        "unknown header line '@relaton'; did you mean @relation?",
    ),
    tsf("header-after-data.tsf", GOOD + "@horizon 3\n", "header line '@horizon' after @data"),
    tsf(
        "no-string-attribute.tsf",
        "@attribute start_timestamp date\n@frequency monthly\n@horizon 6\n@data\n2015-01-01 00-00-00:1,2,3,4,5,6,7,8,9,10\n",
        "no string attribute to name the series",
    ),
    tsf(
        "unequal-lengths.tsf",
        GOOD.replace("@equallength false", "@equallength true"),
        "@equallength true but series have 30 to 36 values (series a has 30)",
    ),
    tsf("too-short.tsf", GOOD + series("tiny", 7), "series tiny has 7 values, too short for horizon 6"),
    tsf("not-text.tsf", b"\x81\x8d\x8f\x90\x9d", "not text (neither UTF-8 nor cp1252)"),
    tsf(
        "date-format.tsf",
        GOOD,
        "--date-format applies to data files given by path (.csv, .parquet)",
        "--date-format",
        "%d/%m/%Y",
    ),
    bad.Case(
        "archive-unknown-name",
        lambda c: bad.run("--datasets", "monash:tourism_montly"),
        "unknown dataset 'monash:tourism_montly'; did you mean monash:tourism_monthly?",
    ),
    bad.Case(
        "archive-no-network-m4",
        lambda c: bad.run("--models", "naive", "--datasets", "m4-yearly"),
        "cannot download https://raw.githubusercontent.com/Mcompetitions/M4-methods/master/Dataset/Train/Yearly-train.csv",
        more=("Network is unreachable", "without network, put the file at ", "/cache/m4/Yearly-train.csv"),
    ),
    bad.Case(
        "archive-no-network-monash",
        lambda c: bad.run("--models", "naive", "--datasets", "monash:nn5_daily"),
        "cannot download https://zenodo.org/record/4656117/files/nn5_daily_dataset_without_missing_values.zip",
        more=("put the unzipped nn5_daily_dataset_without_missing_values.tsf at ", "/cache/monash/"),
    ),
]


def test_tsf_case_ids_are_unique_and_new():
    ids = [c.id for c in CASES]
    assert len(ids) == len(set(ids)) and not set(ids) & {c.id for c in bad.CASES}


@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_bad_tsf_and_archive_input(case: bad.Case, tmp_path, monkeypatch, request):
    bad.test_bad_input_exits_2_with_one_line_and_writes_nothing(case, tmp_path, monkeypatch, request)
