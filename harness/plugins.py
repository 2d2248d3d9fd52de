"""Plugin loading and the registries of models and datasets they fill.

Built-in plugins (``DEFAULT_PLUGINS``) are ordinary pluggy plugins registered by the same path as
third-party ones, which come from the entry-point group ``rnnbench`` or from ``.py`` files in a
``--plugins-dir``. A plugin that fails to import or to register is named in a warning and
skipped, so one broken plugin never takes the others down; ``RNNBENCH_STRICT_PLUGINS=1`` turns
that into an error. ``RNNBENCH_LOAD_PLUGINS=a,b`` loads only the named plugins.
"""

from __future__ import annotations

import difflib
import importlib
import importlib.metadata
import importlib.util
import inspect
import os
import sys
import warnings
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pluggy

from harness import hookspecs
from harness.data import Dataset
from harness.errors import DataError, ModelError, PluginError, one_line
from harness.models import Forecaster

DEFAULT_PLUGINS: tuple[str, ...] = (
    "plugins.baselines",
    "plugins.arima",
    "plugins.numpy_rnn",
    "plugins.torch_rnn",
    "plugins.competitions",
    "plugins.classic",
    "plugins.synthetic",
    "plugins.longmemory",
)
ENTRY_POINT_GROUP = hookspecs.PROJECT_NAME


class PluginWarning(UserWarning):
    """A plugin failed to load or register and was skipped."""


@dataclass(frozen=True)
class ModelSpec:
    """A registered model: its class, registry name, default parameters and plugin."""

    name: str
    cls: type[Forecaster]
    params: dict[str, Any]
    plugin: str

    @property
    def scope(self) -> str:
        return self.cls.scope

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

    def build(self, *, horizon: int, season_length: int, seed: int, params: dict[str, Any]) -> Forecaster:
        """The model object. A constructor that rejects its parameters with any exception is a
        :class:`ModelError` (bad input), whichever exception type the plugin chose."""
        # named before __init__ runs, so the constructor's own errors name the model the user
        # asked for (`lstm-torch`), not the class it is registered from (`rnn-torch`)
        model = self.cls.__new__(self.cls)
        model.name = self.name
        try:
            model.__init__(horizon=horizon, season_length=season_length, seed=seed, **params)
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
    loading it (a copy of the mapping given, empty if none; not to be changed). The core gives
    its keys no meaning of its own; a tool that selects datasets documents the keys it reads
    (the memory study: ``study="memory"``, ``task``, ``lag``; see :mod:`harness.studies.memory`).
    """

    name: str
    load: Callable[[], Dataset] | None
    description: str
    parts: tuple[str, ...]
    plugin: str
    info: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class PluginInfo:
    name: str
    version: str
    hooks: tuple[str, ...]
    source: str  # "builtin", "entry-point", "plugins-dir"


@dataclass
class Registry:
    """Everything the loaded plugins registered, plus the plugins that failed."""

    models: dict[str, ModelSpec] = field(default_factory=dict)
    datasets: dict[str, DatasetSpec] = field(default_factory=dict)
    plugins: list[PluginInfo] = field(default_factory=list)
    failures: dict[str, str] = field(default_factory=dict)

    def model(self, name: str) -> ModelSpec:
        try:
            return self.models[name]
        except KeyError:
            close = difflib.get_close_matches(name, list(self.models), n=3)
            hint = f"; did you mean {', '.join(close)}?" if close else ""
            raise ModelError(f"unknown model {name!r}{hint} (known: {', '.join(sorted(self.models))})") from None

    def dataset(self, name: str) -> DatasetSpec:
        try:
            return self.datasets[name]
        except KeyError:
            raise DataError(
                f"unknown dataset {name!r} (known: {', '.join(sorted(self.datasets))}; or a path to a .csv/.parquet file)"
            ) from None


def _strict() -> bool:
    return os.environ.get("RNNBENCH_STRICT_PLUGINS", "") not in ("", "0")


def _fail(registry: Registry, plugin: str, what: str, exc: BaseException) -> None:
    message = f"plugin {plugin!r} failed to {what} and was skipped: {type(exc).__name__}: {exc}"
    if _strict():  # not skipped: an error
        raise PluginError(
            f"plugin {plugin!r} failed to {what} (RNNBENCH_STRICT_PLUGINS is set): {type(exc).__name__}: {exc}"
        ) from exc
    registry.failures[plugin] = message
    warnings.warn(message, PluginWarning, stacklevel=3)


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


def build_plugin_manager(
    plugins_dir: str | Path | None = None, registry: Registry | None = None
) -> pluggy.PluginManager:
    """A PluginManager with the built-in, entry-point and plugins-dir plugins that loaded."""
    registry = registry if registry is not None else Registry()
    pm = pluggy.PluginManager(hookspecs.PROJECT_NAME)
    pm.add_hookspecs(hookspecs)
    sources: dict[str, tuple[str, str]] = {}
    from harness import __version__

    for module_name in DEFAULT_PLUGINS:
        if not _wanted(module_name):
            continue
        try:
            pm.register(importlib.import_module(module_name), module_name)
            sources[module_name] = ("builtin", __version__)
        except Exception as exc:  # any import failure is reported, not fatal
            _fail(registry, module_name, "import", exc)

    for ep in importlib.metadata.entry_points(group=ENTRY_POINT_GROUP):
        if not _wanted(ep.name) or pm.has_plugin(ep.name):
            continue
        try:
            pm.register(ep.load(), ep.name)
            version = ep.dist.version if ep.dist is not None else "unknown"
            sources[ep.name] = ("entry-point", version)
        except Exception as exc:
            _fail(registry, ep.name, "import", exc)

    if plugins_dir is not None:
        folder = Path(plugins_dir)
        if not folder.is_dir():
            raise PluginError(f"--plugins-dir {folder} is not a directory")
        for path in sorted(folder.glob("*.py")):
            if path.name.startswith("_") or not _wanted(path.stem):
                continue
            try:
                pm.register(_import_path(path), path.stem)
                sources[path.stem] = ("plugins-dir", "-")
            except Exception as exc:
                _fail(registry, path.stem, "import", exc)

    for name, plugin in pm.list_name_plugin():
        hooks = tuple(sorted(h.name for h in pm.get_hookcallers(plugin) or ()))
        source, version = sources.get(name, ("unknown", "-"))
        registry.plugins.append(PluginInfo(name=name, version=version, hooks=hooks, source=source))
    return pm


def load_registry(plugins_dir: str | Path | None = None) -> Registry:
    """Load all plugins and collect what they register, one plugin at a time so that a failing
    registration is attributed to its plugin and skipped."""
    registry = Registry()
    pm = build_plugin_manager(plugins_dir, registry)
    for impl in pm.hook.register_models.get_hookimpls():
        _collect(
            registry,
            impl.plugin_name,
            "register models",
            lambda reg, f=impl.function: f(register=reg),
            _model_registrar(registry, impl.plugin_name),
        )
    for impl in pm.hook.register_datasets.get_hookimpls():
        _collect(
            registry,
            impl.plugin_name,
            "register datasets",
            lambda reg, f=impl.function: f(register=reg),
            _dataset_registrar(registry, impl.plugin_name),
        )
    return registry


def _collect(registry: Registry, plugin: str, what: str, call: Callable, register: Callable) -> None:
    try:
        call(register)
    except PluginError:  # already says which plugin and why (strict mode)
        raise
    except Exception as exc:
        _fail(registry, plugin, what, exc)


def _validate(model: str, cls: type[Forecaster], params: dict[str, Any]) -> None:
    """Check every value against its declaration; the first bad one is a :class:`ModelError`."""
    for key, value in params.items():
        declared = cls.parameters.get(key)
        if declared is not None:
            declared.validate(model, key, value)


def _skip_model(registry: Registry, plugin: str, message: str) -> None:
    """One model of a plugin cannot be used: an error in strict mode, else a warning and the
    plugin's other models are registered as usual."""
    if _strict():
        raise PluginError(f"{message} (RNNBENCH_STRICT_PLUGINS is set)")
    previous = registry.failures.get(plugin)
    registry.failures[plugin] = f"{previous}; {message}" if previous else message
    warnings.warn(f"{message}; the model was skipped", PluginWarning, stacklevel=3)


def _model_registrar(registry: Registry, plugin: str) -> Callable[..., None]:
    def register(cls: type[Forecaster], name: str | None = None, **default_params: Any) -> None:
        if not (isinstance(cls, type) and issubclass(cls, Forecaster)):
            raise TypeError(f"register_models: {cls!r} is not a subclass of harness.Forecaster")
        if inspect.isabstract(cls):
            missing = ", ".join(sorted(cls.__abstractmethods__))
            _skip_model(registry, plugin, f"plugin {plugin!r}: model class {cls.__name__} does not implement {missing}")
            return
        model_name = name or cls.name
        if not model_name:
            raise ValueError(f"register_models: {cls.__name__} has no name; pass name=...")
        unknown = sorted(set(default_params) - set(cls.parameters))
        if unknown:
            raise ModelError(f"register_models: {model_name}: unknown parameter {unknown[0]!r}")
        params = {**cls.defaults, **default_params}
        _validate(model_name, cls, params)
        if model_name in registry.models:
            raise ValueError(f"model name {model_name!r} is already registered by {registry.models[model_name].plugin}")
        registry.models[model_name] = ModelSpec(model_name, cls, params, plugin)

    return register


def _dataset_registrar(registry: Registry, plugin: str) -> Callable[..., None]:
    def register(
        name: str,
        load: Callable[[], Dataset] | None,
        *,
        description: str = "",
        parts: tuple[str, ...] | list[str] = (),
        info: Mapping[str, Any] | None = None,
    ) -> None:
        if (load is None) == (not parts):
            raise ValueError(f"register_datasets: {name}: give either a loader or parts, not both or neither")
        if info is not None and not isinstance(info, Mapping):
            raise TypeError(f"register_datasets: {name}: info must be a mapping, got {type(info).__name__}")
        if name in registry.datasets:
            raise ValueError(f"dataset name {name!r} is already registered by {registry.datasets[name].plugin}")
        registry.datasets[name] = DatasetSpec(
            name,
            None if load is None else _checked_loader(name, load),
            description,
            tuple(parts),
            plugin,
            dict(info or {}),
        )

    return register


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
