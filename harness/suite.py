"""Suites: which datasets, models (with parameters), seeds and protocol a run uses.

A suite is a TOML file in ``datasets/suites/`` (or any path). The command line overrides it; the
result is a ``RunConfig``, the one description of a run that is stored in its manifest, compared
on ``--resume`` and hashed into every experiment's config id.

Example::

    description = "a few minutes on 2 cores"
    datasets = ["m3-monthly", {name = "airline", horizon = 12}]
    limit = 40                  # series per dataset (deterministic sample), omit for all
    seeds = [0]
    levels = [80, 95]           # central prediction interval levels in percent (the default)
    [protocol]
    kind = "holdout"            # or "rolling", with windows = 3, step = 6
    [models.naive2]
    [models.arima]
    ic = "aicc"
"""

from __future__ import annotations

import json
import math
import sys
import tomllib
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any

from harness.errors import DataError, OptionError, SuiteError, did_you_mean
from harness.metrics import DEFAULT_LEVELS, level_key
from harness.tasks import ProtocolSpec


def _suites_dir() -> Path:
    """``datasets/suites`` of the source tree (a checkout or an editable install), else the copy a
    regular install puts in ``<prefix>/share/rnnbench/suites``."""
    source = Path(__file__).resolve().parent.parent / "datasets" / "suites"
    if source.is_dir():
        return source
    return Path(sys.prefix) / "share" / "rnnbench" / "suites"


SUITES_DIR = _suites_dir()
DEFAULT_SUITE = "quick"
#: Seeds are what every random number generator accepts (numpy's legacy seed, torch): 0 .. 2**32-1.
MAX_SEED = 2**32 - 1


@dataclass(frozen=True)
class DatasetChoice:
    """A dataset by registry name or file path, with optional per-dataset overrides."""

    name: str
    limit: int | None = None
    horizon: int | None = None
    season_length: int | None = None
    #: strptime format of ``ds`` in a data file (``%d/%m/%Y``), applied strictly; None: ISO 8601 or
    #: a format the file settles (harness.files.parse_dates)
    date_format: str | None = None

    def as_dict(self) -> dict:
        """Without ``date_format`` when unset, so configs from before it existed stay identical."""
        out = asdict(self)
        if out["date_format"] is None:
            del out["date_format"]
        return out


@dataclass
class RunConfig:
    suite: str
    datasets: list[DatasetChoice]
    models: dict[str, dict[str, Any]]
    seeds: list[int] = field(default_factory=lambda: [0])
    protocol: ProtocolSpec = field(default_factory=ProtocolSpec)
    limit: int | None = None
    #: central prediction interval levels in percent, as floats in the order given
    levels: tuple[float, ...] = DEFAULT_LEVELS

    def as_dict(self) -> dict:
        """Without ``levels`` when they are the default, so configs (and the manifests and
        resumes that compare them) from before levels existed stay identical."""
        out = {
            "suite": self.suite,
            "datasets": [d.as_dict() for d in self.datasets],
            "models": self.models,
            "seeds": self.seeds,
            "protocol": self.protocol.as_dict(),
            "limit": self.limit,
        }
        if self.levels != DEFAULT_LEVELS:
            out["levels"] = list(self.levels)
        return out

    @classmethod
    def from_dict(cls, data: dict) -> RunConfig:
        return cls(
            suite=data["suite"],
            datasets=[DatasetChoice(**d) for d in data["datasets"]],
            models={k: dict(v) for k, v in data["models"].items()},
            seeds=list(data["seeds"]),
            protocol=ProtocolSpec(**data["protocol"]),
            limit=data["limit"],
            levels=tuple(float(v) for v in data.get("levels", DEFAULT_LEVELS)),
        )

    def canonical(self) -> str:
        return json.dumps(self.as_dict(), sort_keys=True, default=str)


def suite_path(name_or_path: str) -> Path:
    """A suite name (``quick``) resolves to ``datasets/suites/quick.toml``; a path is taken as is."""
    path = Path(name_or_path)
    if path.suffix == ".toml" or len(path.parts) > 1:
        return path
    return SUITES_DIR / f"{name_or_path}.toml"


def is_builtin_suite(name_or_path: str) -> bool:
    """Whether a ``--suite`` value names a built-in suite (``quick``: one of the project's defaults)
    rather than a suite file given by path (``my.toml``, ``datasets/suites/quick.toml``), which
    names its models explicitly, like ``--models``."""
    return suite_path(name_or_path) == SUITES_DIR / f"{name_or_path}.toml"


def available_suites() -> list[str]:
    return sorted(p.stem for p in SUITES_DIR.glob("*.toml"))


def load_suite(name_or_path: str) -> RunConfig:
    """Read and validate a suite file into a RunConfig."""
    path = suite_path(name_or_path)
    try:
        # utf-8-sig: a byte-order mark (Windows editors write one) is not part of the TOML
        raw = tomllib.loads(path.read_text(encoding="utf-8-sig"))
    except FileNotFoundError:
        known = ", ".join(available_suites())
        raise SuiteError(f"suite {name_or_path!r} not found (no file {path}; built-in suites: {known})") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise SuiteError(f"cannot read suite file {path}: {exc}") from None
    except tomllib.TOMLDecodeError as exc:
        raise SuiteError(f"suite file {path} is not valid TOML: {exc}") from None
    return parse_suite(raw, name=path.stem, where=str(path))


_SUITE_KEYS = ("description", "datasets", "models", "seeds", "protocol", "limit", "levels")
_PROTOCOL_KEYS = ("kind", "windows", "step", "refit_global")
_DATASET_KEYS = ("name", "limit", "horizon", "season_length", "date_format")


def _unknown_key(keys: Any, known: tuple[str, ...], table: str, where: str) -> None:
    """An unknown key is a one-line SuiteError naming the table, the close match and the known keys."""
    unknown = [k for k in keys if k not in known]
    if not unknown:
        return
    key = unknown[0]
    hint = did_you_mean(key, known)
    hint = f"; {hint}" if hint else ""
    raise SuiteError(f"suite {where}: unknown key {key!r} in {table}{hint} (known: {', '.join(known)})")


def parse_suite(raw: dict, *, name: str, where: str) -> RunConfig:
    _unknown_key(raw, _SUITE_KEYS, "the top level", where)
    description = raw.get("description", "")
    if not isinstance(description, str):
        raise SuiteError(f"suite {where}: description must be a string, got {description!r}")
    datasets = [_dataset_choice(d, where) for d in _list(raw.get("datasets", []), "datasets", where)]
    models_raw = raw.get("models", {})
    if not isinstance(models_raw, dict) or not all(isinstance(v, dict) for v in models_raw.values()):
        raise SuiteError(f"suite {where}: [models] must be tables, one per model: [models.arima]")
    seeds = [_int(s, "seeds", where) for s in _list(raw.get("seeds", [0]), "seeds", where)]
    _check_seeds(seeds, f"suite {where}: seeds")
    protocol = _protocol(raw.get("protocol", {}), where)
    limit = raw.get("limit")
    if limit is not None:
        limit = _positive(limit, "limit", where)
    levels = check_levels(_list(raw.get("levels", list(DEFAULT_LEVELS)), "levels", where), f"suite {where}: levels")
    if not datasets:
        raise SuiteError(f"suite {where}: no datasets")
    if not models_raw:
        raise SuiteError(f"suite {where}: no models")
    return RunConfig(name, datasets, {k: dict(v) for k, v in models_raw.items()}, seeds, protocol, limit, levels)


def _protocol(raw: Any, where: str) -> ProtocolSpec:
    """The [protocol] table, each key checked for its type (TOML has them, so ``windows = "3"``
    is a string, not a number) before ProtocolSpec checks the values."""
    if not isinstance(raw, dict):
        raise SuiteError(f"suite {where}: [protocol] must be a table with kind, windows, step")
    _unknown_key(raw, _PROTOCOL_KEYS, "[protocol]", where)
    kind = raw.get("kind", "holdout")
    if not isinstance(kind, str):
        raise SuiteError(f'suite {where}: [protocol] kind must be a string ("holdout" or "rolling"), got {kind!r}')
    for key in ("windows", "step"):
        if key in raw:
            _positive(raw[key], f"[protocol] {key}", where)
    refit = raw.get("refit_global", False)
    if not isinstance(refit, bool):
        raise SuiteError(f"suite {where}: [protocol] refit_global must be true or false, got {refit!r}")
    if kind == "holdout" and (raw.get("windows", 1) != 1 or "step" in raw):
        key = "windows" if raw.get("windows", 1) != 1 else "step"
        raise SuiteError(
            f'suite {where}: [protocol] {key} applies to the rolling protocol; add kind = "rolling" '
            f"(the holdout protocol has one window)"
        )
    try:
        return ProtocolSpec(**{"kind": kind, **raw})
    except DataError as exc:
        raise SuiteError(f"suite {where}: {exc}") from None


def _list(value: Any, key: str, where: str) -> list:
    if not isinstance(value, list):
        raise SuiteError(f"suite {where}: {key} must be a list")
    return value


def _int(value: Any, key: str, where: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        plural = key == "seeds"
        raise SuiteError(f"suite {where}: {key} must be {'integers' if plural else 'an integer'}, got {value!r}")
    return value


def _check_seeds(seeds: list[int], what: str, error: type[SuiteError | OptionError] = SuiteError) -> None:
    """Seeds are integers in the range every generator accepts, each given once: a seed given
    twice would run its experiments twice and store every row twice (metrics, forecasts and
    experiments.csv), weighting that seed double in every mean."""
    if not seeds:
        raise error(f"{what}: give at least one seed")
    for seed in seeds:
        if not 0 <= seed <= MAX_SEED:
            raise error(f"{what}: a seed must be an integer from 0 to {MAX_SEED}, got {seed}")
    repeated = sorted({s for s in seeds if seeds.count(s) > 1})
    if repeated:
        raise error(f"{what}: seed {repeated[0]} is given more than once; give each seed once")


def check_levels(levels: list[Any], what: str, error: type[SuiteError | OptionError] = SuiteError) -> tuple[float, ...]:
    """Interval levels as floats: at least one, each a number strictly between 0 and 100 (a 0%
    or 100% central interval has no finite width to score), none given twice (it would be two
    identical column pairs; levels equal to 10 significant digits count as the same)."""
    if not levels:
        raise error(f"{what}: give at least one level, e.g. 80,95")
    out = []
    for value in levels:
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
            raise error(f"{what}: a level must be a number between 0 and 100 (percent), got {value!r}")
        if not 0 < value < 100:
            raise error(f"{what}: a level must be strictly between 0 and 100 (percent), got {value!r}")
        out.append(float(value))
    keys = [level_key(v) for v in out]
    repeated = [k for k in keys if keys.count(k) > 1]
    if repeated:
        raise error(f"{what}: level {repeated[0]} is given more than once; give each level once")
    return tuple(out)


def _positive(value: Any, key: str, where: str) -> int:
    value = _int(value, key, where)
    if value <= 0:
        raise SuiteError(f"suite {where}: {key} must be a positive integer, got {value}")
    return value


def _is_long_file(name: str) -> bool:
    """:func:`harness.files.is_long_file`, imported on first use: harness.files imports pandas
    (~0.2 s), which ``rnnbench --help`` and ``rnnbench models`` (they import this module) never use."""
    from harness.files import is_long_file

    return is_long_file(name)


def _dataset_choice(item: Any, where: str) -> DatasetChoice:
    if isinstance(item, str):
        return DatasetChoice(item)
    if isinstance(item, dict) and isinstance(item.get("name"), str):
        _unknown_key(item, _DATASET_KEYS, f"dataset {item['name']}", where)
        date_format = item.get("date_format")
        if date_format is not None:
            _check_date_format(date_format, f"suite {where}: dataset {item['name']}: date_format")
            if not _is_long_file(item["name"]):
                raise SuiteError(
                    f"suite {where}: dataset {item['name']}: date_format applies to data files (.csv, .parquet), "
                    "not to registered datasets or .tsf files (whose dates have one fixed form)"
                )
        return DatasetChoice(
            item["name"],
            **{k: _positive(item[k], k, where) for k in ("limit", "horizon", "season_length") if k in item},
            date_format=date_format,
        )
    raise SuiteError(f"suite {where}: each dataset is a name or a table with a name, got {item!r}")


def _check_date_format(value: Any, what: str) -> None:
    if not isinstance(value, str) or "%" not in value:
        raise (OptionError if what.startswith("--") else SuiteError)(
            f"{what} must be an strptime format such as %d/%m/%Y, got {value!r}"
        )


def parse_param(text: str) -> tuple[str, str, Any]:
    """``model.key=value`` from the command line; the value is read as JSON when it parses
    (``3``, ``true``, ``[1, 0, 1]``, ``null``), else taken as a string."""
    key, sep, value = text.partition("=")
    model, dot, param = key.partition(".")
    if not (sep and dot and model and param):
        raise OptionError(f"--param {text!r}: expected MODEL.NAME=VALUE, e.g. arima.ic=bic")
    try:
        parsed = json.loads(value)
    except json.JSONDecodeError:
        parsed = value
    if isinstance(parsed, list):
        parsed = [tuple(v) if isinstance(v, list) else v for v in parsed]
    return model, param, parsed


def apply_overrides(
    config: RunConfig,
    *,
    models: list[str] | None = None,
    datasets: list[str] | None = None,
    seeds: list[int] | None = None,
    limit: int | None = None,
    horizon: int | None = None,
    params: list[str] = (),
    protocol: ProtocolSpec | None = None,
    date_format: str | None = None,
    levels: list[float] | None = None,
) -> RunConfig:
    """The suite with command-line choices applied. ``--models`` keeps the suite's parameters for
    models it names; ``--param`` sets one parameter of one model."""
    if models is not None:
        config.models = {m: config.models.get(m, {}) for m in models}
    if datasets is not None:
        config.datasets = [DatasetChoice(d) for d in datasets]
    if seeds is not None:
        _check_seeds(seeds, "--seeds", OptionError)
        config.seeds = seeds
    if limit is not None:
        if limit <= 0:
            raise OptionError(f"--limit must be a positive integer, got {limit}")
        config.limit = limit
        config.datasets = [replace(d, limit=None) for d in config.datasets]
    if horizon is not None:
        if horizon <= 0:
            raise OptionError(f"--horizon must be a positive integer, got {horizon}")
        config.datasets = [replace(d, horizon=horizon) for d in config.datasets]
    if date_format is not None:
        _check_date_format(date_format, "--date-format")
        if not any(_is_long_file(d.name) for d in config.datasets):
            raise OptionError("--date-format applies to data files given by path (.csv, .parquet); this run has none")
        config.datasets = [replace(d, date_format=date_format) if _is_long_file(d.name) else d for d in config.datasets]
    if protocol is not None:
        config.protocol = protocol
    if levels is not None:
        config.levels = check_levels(levels, "--levels", OptionError)
    for text in params:
        model, key, value = parse_param(text)
        if model not in config.models:
            raise OptionError(
                f"--param {text!r}: model {model!r} is not in this run (models: {', '.join(config.models)})"
            )
        config.models[model][key] = value
    return config
