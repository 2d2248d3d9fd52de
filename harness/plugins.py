"""Plugin loading and the registries of models and datasets they fill.

Built-in plugins (``DEFAULT_PLUGINS``) are ordinary pluggy plugins registered by the same path as
third-party ones, which come from the entry-point group ``rnnbench`` or from ``.py`` files in a
``--plugins-dir``. ``RNNBENCH_LOAD_PLUGINS=a,b`` loads only the named plugins.

A plugin is checked whole, and used whole or not at all:

1. *load*: it must import, and every function it marks with ``@harness.hookimpl`` must be an
   rnnbench hook (a typo such as ``register_model`` is an error that suggests the close match,
   not a hook that silently never runs) whose arguments pluggy accepts; as in pluggy's
   ``check_pending``, ``@harness.hookimpl(optionalhook=True)`` opts a function out of that check
   (a hook of a newer rnnbench, unknown to this one);
2. *register*: everything its hooks register (models and datasets) is collected first and
   validated together (names already taken by other plugins or twice by this one, classes that
   are not forecasters or leave part of the contract abstract, registered defaults their
   declarations reject, malformed datasets, a hook that raises); it enters the registry only if
   every item is valid.

A plugin that fails either step is skipped whole, with one warning naming it and each problem,
so one broken plugin never takes the others down and never half-works;
``RNNBENCH_STRICT_PLUGINS=1`` makes that an error (:class:`PluginError`). ``rnnbench plugins``
shows each plugin once, loaded or FAILED with the reason.

A model whose optional dependency is missing is registered as :class:`harness.Unavailable`: its
name stays known, with the reason and the install hint, so a run that names it fails saying what
to install, and a built-in suite runs without it (see :mod:`harness.execute`).
"""

from __future__ import annotations

import importlib
import importlib.metadata
import importlib.util
import inspect
import os
import sys
import warnings
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import pluggy

from harness import hookspecs
from harness.data import Dataset
from harness.errors import DataError, ModelError, PluginError, did_you_mean, one_line
from harness.hookspecs import Unavailable
from harness.metrics import DEFAULT_LEVELS
from harness.models import Forecaster
from harness.variants import Variant, parse_variant

DEFAULT_PLUGINS: tuple[str, ...] = (
    "plugins.baselines",
    "plugins.arima",
    "plugins.statsforecast",
    "plugins.numpy_rnn",
    "plugins.torch_rnn",
    "plugins.torch_tcn",
    "plugins.competitions",
    "plugins.archives",
    "plugins.classic",
    "plugins.synthetic",
    "plugins.longmemory",
)
ENTRY_POINT_GROUP = hookspecs.PROJECT_NAME


class PluginWarning(UserWarning):
    """A plugin failed to load or register and was skipped whole."""


@dataclass(frozen=True)
class ModelSpec:
    """A registered model: its class, registry name, default parameters and plugin.

    A variant (``lstm-torch[ens5]``, ``gru-torch[tuned]``; :mod:`harness.variants`) is a spec
    derived from its base's by :meth:`Registry.model`: the full variant name, the base's class,
    parameters and plugin, and the parsed ``variant``, which decides how it is built, its scope
    and how many seeds it runs at."""

    name: str
    cls: type[Forecaster]
    params: dict[str, Any]
    plugin: str
    variant: Variant | None = None

    @property
    def scope(self) -> str:
        return self.cls.scope if self.variant is None else self.variant.scope(self)

    @property
    def one_seed(self) -> bool:
        """Run once per task, at the run's first seed: a deterministic model (the same forecasts
        for every seed) or a seed ensemble (its members already span the seeds)."""
        return self.cls.deterministic or (self.variant is not None and self.variant.one_seed)

    def base(self) -> ModelSpec:
        """The registered model a variant is made of (the spec itself when it is no variant)."""
        return self if self.variant is None else replace(self, name=self.variant.base, variant=None)

    def resolve_params(self, overrides: dict[str, Any] | None = None) -> dict[str, Any]:
        """Registered defaults updated with ``overrides``, each value checked against its
        declaration (:class:`harness.Param`); an unknown name or a bad value is a one-line
        :class:`ModelError`, raised before anything runs."""
        overrides = overrides or {}
        unknown = sorted(set(overrides) - set(self.params))
        if unknown:
            known = ", ".join(sorted(self.params)) or "none"
            raise ModelError(f"model {self.name}: unknown parameter {unknown[0]!r} (known: {known})")
        resolved = {**self.params, **overrides}
        _validate(self.name, self.cls, resolved)
        return resolved

    def build(
        self,
        *,
        horizon: int,
        season_length: int,
        seed: int,
        params: dict[str, Any],
        levels: tuple[float, ...] = DEFAULT_LEVELS,
    ) -> Forecaster:
        """The model object, forecasting at the interval ``levels`` (percent; the run's). A
        constructor that rejects its parameters with any exception is a :class:`ModelError` (bad
        input), whichever exception type the plugin chose."""
        if self.variant is not None:
            return self.variant.build(
                self.name,
                self.base(),
                horizon=horizon,
                season_length=season_length,
                seed=seed,
                params=params,
                levels=levels,
            )
        # named before __init__ runs, so the constructor's own errors name the model the user
        # asked for (`lstm-torch`), not the class it is registered from (`rnn-torch`)
        model = self.cls.__new__(self.cls)
        model.name = self.name
        try:
            model.__init__(horizon=horizon, season_length=season_length, seed=seed, levels=levels, **params)
        except ModelError:
            raise
        except Exception as exc:  # a plugin's own validation error
            raise ModelError(
                f"model {self.name}: cannot be built with these parameters: {one_line(exc, with_type=True)}"
            ) from exc
        return model


@dataclass(frozen=True)
class DatasetSpec:
    """A registered dataset (``load`` returns a :class:`Dataset`) or a collection of ``parts``.

    ``info`` holds what the plugin declared about the dataset at registration, known without
    loading it (a copy of the mapping given, empty if none; not to be changed). The core reads
    one key, ``cache_files`` (the downloaded files a loader reads; the dataset listing shows a
    dataset with any missing as needing a download instead of loading it); a tool that selects
    datasets documents the keys it reads (the memory study: ``study="memory"``, ``task``,
    ``lag``; see :mod:`harness.studies.memory`).
    """

    name: str
    load: Callable[[], Dataset] | None
    description: str
    parts: tuple[str, ...]
    plugin: str
    info: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class UnavailableModel:
    """A model name a plugin registered as :class:`harness.Unavailable`: known, not usable here."""

    name: str
    reason: str
    install: str
    plugin: str

    @property
    def why(self) -> str:
        """``torch is not installed (pip install 'rnnbench[torch]')``"""
        return f"{self.reason} ({self.install})" if self.install else self.reason

    def message(self) -> str:
        """``model 'rnn-torch' is not available: torch is not installed (pip install 'rnnbench[torch]')``"""
        return f"model {self.name!r} is not available: {self.why}"


@dataclass(frozen=True)
class PluginInfo:
    name: str
    version: str
    hooks: tuple[str, ...]
    source: str  # "builtin", "entry-point", "plugins-dir"


@dataclass
class Registry:
    """Everything the loaded plugins registered, plus the plugins that failed.

    ``found`` lists every plugin found, in load order; ``plugins`` those of them that loaded and
    registered (what a run records in its manifest), ``failures`` the others with the reason they
    were skipped (``failed to register: ...``). A plugin is in exactly one of the two."""

    models: dict[str, ModelSpec] = field(default_factory=dict)
    datasets: dict[str, DatasetSpec] = field(default_factory=dict)
    plugins: list[PluginInfo] = field(default_factory=list)
    failures: dict[str, str] = field(default_factory=dict)
    unavailable: dict[str, UnavailableModel] = field(default_factory=dict)
    found: list[PluginInfo] = field(default_factory=list)

    def model(self, name: str) -> ModelSpec:
        """The registered model, or the variant a name asks for (``BASE[ensK]``,
        ``BASE[tunedN]``: :mod:`harness.variants`), derived from its base's registration; an
        unknown name, one registered as unavailable here (its dependency missing), a malformed
        variant or one its base cannot have is a one-line :class:`ModelError` saying so."""
        try:
            return self.models[name]
        except KeyError:
            variant = parse_variant(name)
            if variant is not None:
                try:
                    base = self.model(variant.base)
                except ModelError as exc:
                    raise ModelError(f"model {name!r}: {one_line(exc)}") from None
                variant.check(name, base)
                return replace(base, name=name, variant=variant)
            if name in self.unavailable:
                raise ModelError(self.unavailable[name].message()) from None
            hint = did_you_mean(name, [*self.models, *self.unavailable], n=3)
            hint = f"; {hint}" if hint else ""
            raise ModelError(f"unknown model {name!r}{hint} (known: {', '.join(sorted(self.models))})") from None

    def listing(self) -> list[tuple[PluginInfo, str, str]]:
        """One row per plugin found, in load order: its info, ``loaded`` or ``FAILED``, and its
        hooks (loaded) or why it was skipped (FAILED)."""
        rows = []
        for info in self.found:
            if info.name in self.failures:
                rows.append((info, "FAILED", self.failures[info.name]))
            else:
                rows.append((info, "loaded", ", ".join(info.hooks)))
        return rows

    def dataset(self, name: str) -> DatasetSpec:
        try:
            return self.datasets[name]
        except KeyError:
            # a family named by prefix (monash:...) lists only its own members
            family = [n for n in self.datasets if ":" in name and n.startswith(name.split(":")[0] + ":")]
            hint = did_you_mean(name, self.datasets)
            raise DataError(
                f"unknown dataset {name!r}{'; ' + hint if hint else ''} (known: {', '.join(sorted(family or self.datasets))}; "
                "or a path to a .csv, .parquet or .tsf file)"
            ) from None


def _strict() -> bool:
    return os.environ.get("RNNBENCH_STRICT_PLUGINS", "") not in ("", "0")


def _fail(registry: Registry, plugin: str, what: str, reason: str, exc: BaseException | None = None) -> None:
    """Skip ``plugin`` whole: one warning naming it and ``reason`` (each problem), or in strict mode
    a :class:`PluginError`. ``what`` is the step that failed: import, load or register."""
    if _strict():  # not skipped: an error
        raise PluginError(f"plugin {plugin!r} failed to {what} (RNNBENCH_STRICT_PLUGINS is set): {reason}") from exc
    registry.failures[plugin] = f"failed to {what}: {reason}"
    warnings.warn(f"plugin {plugin!r} failed to {what} and was skipped: {reason}", PluginWarning, stacklevel=3)


def _wanted(name: str) -> bool:
    only = os.environ.get("RNNBENCH_LOAD_PLUGINS")
    if only is None:
        return True
    return name in {n.strip() for n in only.split(",") if n.strip()}


def _import_path(path: Path) -> Any:
    """Import a plugin file under a stable module name so worker processes can find its classes."""
    module_name = f"rnnbench_plugin_{path.stem}"  # top-level, so pickle can find it
    spec = importlib.util.spec_from_file_location(module_name, path)
    if spec is None or spec.loader is None:
        raise ImportError(f"cannot import {path}")
    module = importlib.util.module_from_spec(spec)
    sys.modules[module_name] = module
    # a run writes only into its run directory: no __pycache__ in the user's plugins folder
    # (every worker process imports the file again)
    previous, sys.dont_write_bytecode = sys.dont_write_bytecode, True
    try:
        spec.loader.exec_module(module)
    except BaseException:
        del sys.modules[module_name]
        raise
    finally:
        sys.dont_write_bytecode = previous
    return module


def _unknown_hooks(pm: pluggy.PluginManager, plugin: Any) -> list[str]:
    """One problem per function of ``plugin`` marked as a hook implementation whose name is not an
    rnnbench hook (what :meth:`pluggy.PluginManager.check_pending` finds, per plugin and before it
    is registered), with the close match: a ``register_model`` that would never be called."""
    hooks = sorted(name for name, caller in vars(pm.hook).items() if not name.startswith("_") and caller.has_spec())
    problems = []
    for attr in dir(plugin):
        opts = pm.parse_hookimpl_opts(plugin, attr)
        if opts is None or opts.get("optionalhook"):  # optional: pluggy's way to allow a hook unknown here
            continue
        hook = opts.get("specname") or attr
        caller = getattr(pm.hook, hook, None)
        if caller is not None and caller.has_spec():
            continue
        hint = did_you_mean(hook, hooks) or f"rnnbench hooks: {', '.join(hooks)}"
        problems.append(f"unknown hook {hook!r}; {hint}")
    return problems


def build_plugin_manager(
    plugins_dir: str | Path | None = None, registry: Registry | None = None
) -> pluggy.PluginManager:
    """A PluginManager with the built-in, entry-point and plugins-dir plugins that loaded (imported,
    and implement only rnnbench hooks, with arguments their specifications have); the others are
    recorded as failures in ``registry`` (every plugin found is in ``registry.found``)."""
    registry = registry if registry is not None else Registry()
    pm = pluggy.PluginManager(hookspecs.PROJECT_NAME)
    pm.add_hookspecs(hookspecs)
    from harness import __version__

    def add(name: str, load: Callable[[], Any], source: str, version: str) -> None:
        info = PluginInfo(name=name, version=version, hooks=(), source=source)
        try:
            plugin = load()
        except Exception as exc:  # any import failure is reported, not fatal
            registry.found.append(info)
            _fail(registry, name, "import", one_line(exc, with_type=True), exc)
            return
        problems = _unknown_hooks(pm, plugin)
        if not problems:
            try:
                pm.register(plugin, name)  # checks each hook's arguments against its specification
            except Exception as exc:  # pluggy's PluginValidationError, or a name already taken
                problems = [one_line(exc, with_type=True)]
        if problems:
            registry.found.append(info)
            _fail(registry, name, "load", "; ".join(problems))
            return
        hooks = tuple(sorted(h.name for h in pm.get_hookcallers(plugin) or ()))
        registry.found.append(PluginInfo(name=name, version=version, hooks=hooks, source=source))

    for module_name in DEFAULT_PLUGINS:
        if _wanted(module_name):
            add(module_name, lambda m=module_name: importlib.import_module(m), "builtin", __version__)

    for ep in importlib.metadata.entry_points(group=ENTRY_POINT_GROUP):
        if not _wanted(ep.name) or any(info.name == ep.name for info in registry.found):
            continue
        add(ep.name, ep.load, "entry-point", ep.dist.version if ep.dist is not None else "unknown")

    if plugins_dir is not None:
        folder = Path(plugins_dir)
        if not folder.is_dir():
            raise PluginError(f"--plugins-dir {folder} is not a directory")
        for path in sorted(folder.glob("*.py")):
            if path.name.startswith("_") or not _wanted(path.stem):
                continue
            if any(info.name == path.stem for info in registry.found):  # one row per name
                _fail(registry, str(path), "load", f"a plugin named {path.stem!r} is already loaded")
                registry.found.append(PluginInfo(name=str(path), version="-", hooks=(), source="plugins-dir"))
                continue
            add(path.stem, lambda p=path: _import_path(p), "plugins-dir", "-")
    return pm


def load_registry(plugins_dir: str | Path | None = None) -> Registry:
    """Load all plugins and collect what they register, one plugin at a time: everything a plugin
    registers is validated first and enters the registry only if all of it is valid; otherwise
    the plugin is skipped whole (see the module's docstring)."""
    registry = Registry()
    pm = build_plugin_manager(plugins_dir, registry)
    for name, plugin in pm.list_name_plugin():
        if plugin is None:  # blocked
            continue
        staged = _Staged(name, registry)
        for hook in ("register_models", "register_datasets"):
            register = staged.register_model if hook == "register_models" else staged.register_dataset
            for impl in getattr(pm.hook, hook).get_hookimpls():
                if impl.plugin is not plugin:
                    continue
                try:
                    impl.function(register=register)
                except Exception as exc:  # a plugin's hook may fail in any way: the plugin is skipped
                    staged.problems.append(f"{hook} raised {one_line(exc, with_type=True)}")
        if staged.problems:
            pm.unregister(plugin)
            _fail(registry, name, "register", "; ".join(staged.problems))
        else:
            staged.commit()
    registry.plugins = [info for info in registry.found if info.name not in registry.failures]
    return registry


def _validate(model: str, cls: type[Forecaster], params: dict[str, Any]) -> None:
    """Check every value against its declaration; the first bad one is a :class:`ModelError`."""
    for key, value in params.items():
        declared = cls.parameters.get(key)
        if declared is not None:
            declared.validate(model, key, value)


class _Staged:
    """What one plugin's hooks register, validated item by item and kept aside: it enters the
    registry (:meth:`commit`) only when ``problems`` stays empty. ``register_model`` and
    ``register_dataset`` are the ``register`` callbacks its hooks get; a bad item is recorded
    as a problem, not raised, so the warning can name every problem of the plugin at once."""

    def __init__(self, plugin: str, registry: Registry) -> None:
        self.plugin = plugin
        self.registry = registry
        self.models: dict[str, ModelSpec] = {}
        self.unavailable: dict[str, UnavailableModel] = {}
        self.datasets: dict[str, DatasetSpec] = {}
        self.problems: list[str] = []

    def _model_name_taken(self, name: str) -> str | None:
        registry = self.registry
        if name in self.models or name in self.unavailable:
            return f"model name {name!r} is registered twice"
        taken = registry.models.get(name) or registry.unavailable.get(name)
        if taken is not None:
            return f"model name {name!r} is already registered by {taken.plugin}"
        return None

    def register_model(self, cls: Any, name: str | None = None, **default_params: Any) -> None:
        problem = self._model_problem(cls, name, default_params)
        if problem is not None:
            self.problems.append(problem)
            return
        if isinstance(cls, Unavailable):  # name checked above
            self.unavailable[name] = UnavailableModel(name, cls.reason, cls.install, self.plugin)
            return
        model_name = name or cls.name
        self.models[model_name] = ModelSpec(model_name, cls, {**cls.defaults, **default_params}, self.plugin)

    def _model_problem(self, cls: Any, name: str | None, default_params: dict[str, Any]) -> str | None:
        if name is not None and not (isinstance(name, str) and name):
            return f"a model name must be a non-empty string, got {name!r}"
        if isinstance(cls, Unavailable):
            if name is None:
                return "a model registered as harness.Unavailable needs name=..."
            return self._model_name_taken(name)
        if not (isinstance(cls, type) and issubclass(cls, Forecaster)):
            return f"{cls!r} is not a subclass of harness.Forecaster"
        if inspect.isabstract(cls):
            missing = ", ".join(sorted(cls.__abstractmethods__))
            return f"model class {cls.__name__} does not implement {missing}"
        model_name = name or cls.name
        if not model_name:
            return f"model class {cls.__name__} has no name; pass name=..."
        unknown = sorted(set(default_params) - set(cls.parameters))
        if unknown:
            return f"model {model_name}: unknown parameter {unknown[0]!r}"
        try:
            _validate(model_name, cls, {**cls.defaults, **default_params})
        except ModelError as exc:
            return one_line(exc)
        return self._model_name_taken(model_name)

    def register_dataset(
        self,
        name: str,
        load: Callable[[], Dataset] | None,
        *,
        description: str = "",
        parts: tuple[str, ...] | list[str] = (),
        info: Mapping[str, Any] | None = None,
    ) -> None:
        problem = self._dataset_problem(name, load, description, parts, info)
        if problem is not None:
            self.problems.append(problem)
            return
        self.datasets[name] = DatasetSpec(
            name,
            None if load is None else _checked_loader(name, load),
            description,
            tuple(parts),
            self.plugin,
            dict(info or {}),
        )

    def _dataset_problem(self, name: Any, load: Any, description: Any, parts: Any, info: Any) -> str | None:
        if not (isinstance(name, str) and name):
            return f"a dataset name must be a non-empty string, got {name!r}"
        if load is not None and not callable(load):
            return f"dataset {name}: the loader must be callable, got {type(load).__name__}"
        if isinstance(parts, str) or not isinstance(parts, (tuple, list)) or not all(isinstance(p, str) for p in parts):
            return f"dataset {name}: parts must be a list of dataset names, got {parts!r}"
        if (load is None) == (not parts):
            return f"dataset {name}: give either a loader or parts, not both or neither"
        if not isinstance(description, str):
            return f"dataset {name}: description must be a string, got {type(description).__name__}"
        if info is not None and not isinstance(info, Mapping):
            return f"dataset {name}: info must be a mapping, got {type(info).__name__}"
        if name in self.datasets:
            return f"dataset name {name!r} is registered twice"
        if name in self.registry.datasets:
            return f"dataset name {name!r} is already registered by {self.registry.datasets[name].plugin}"
        return None

    def commit(self) -> None:
        self.registry.models.update(self.models)
        self.registry.unavailable.update(self.unavailable)
        self.registry.datasets.update(self.datasets)


def _checked_loader(name: str, load: Callable[[], Dataset]) -> Callable[[], Dataset]:
    """The plugin's loader, with any failure turned into a one-line :class:`DataError` naming the
    dataset (a dataset that cannot be loaded is bad input, not a crash)."""

    def checked() -> Dataset:
        try:
            return load()
        except DataError:
            raise
        except Exception as exc:  # a plugin's loader may fail in any way
            raise DataError(f"dataset {name!r} failed to load: {one_line(exc, with_type=True)}") from exc

    checked.__wrapped__ = load  # type: ignore[attr-defined]
    return checked
