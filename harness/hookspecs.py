"""Pluggy markers and the hook specifications every rnnbench plugin implements.

Hooks take a ``register`` callback (the simonw/llm pattern) so that one plugin can register many
models or datasets from a single function, and so that the core decides what registering means.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pluggy

PROJECT_NAME = "rnnbench"

hookspec = pluggy.HookspecMarker(PROJECT_NAME)
hookimpl = pluggy.HookimplMarker(PROJECT_NAME)


@dataclass(frozen=True)
class Unavailable:
    """Registered in place of a model class that cannot be used here, most often because an
    optional dependency is missing: ``register(harness.Unavailable("torch is not installed",
    install="pip install 'rnnbench[torch]'"), name="rnn-torch")``.

    The name stays known: a run that names the model (``--models``, ``-p``, a suite file) fails
    with one line giving ``reason`` and ``install``, and a built-in suite runs without it, with one
    warning. Parameters passed with it are not used.
    """

    reason: str
    install: str = ""

    def __post_init__(self) -> None:
        if not (isinstance(self.reason, str) and self.reason):
            raise TypeError(f"Unavailable: reason must be a non-empty string, got {self.reason!r}")
        if not isinstance(self.install, str):
            raise TypeError(f"Unavailable: install must be a string, got {self.install!r}")


@hookspec
def register_models(register: Callable[..., Any]) -> None:
    """Register forecasting models.

    :param register: call ``register(cls, name=None, **default_params)`` once per model name.
        ``cls`` subclasses :class:`harness.Forecaster` (global models, fit once on all series)
        or :class:`harness.LocalForecaster` (one series at a time). ``name`` defaults to
        ``cls.name``; ``default_params`` override the defaults of the parameters ``cls`` declares
        (:func:`harness.param`; they are validated) for this registration, so one class can be
        registered under several names (``register(TorchRNN, "lstm-torch", cell="lstm")``).
        ``cls`` may instead be a :class:`Unavailable` (with ``name``) for a model whose
        dependency is missing here.

    Everything a plugin registers is validated before any of it is used: a class that is not a
    forecaster or leaves part of the contract abstract, a name already taken (by another plugin or
    twice by this one), a default its declaration rejects, or an exception from the hook skips the
    whole plugin with one warning naming each problem (an error with
    ``RNNBENCH_STRICT_PLUGINS=1``); none of its models or datasets is registered.
    """


@hookspec
def register_datasets(register: Callable[..., Any]) -> None:
    """Register datasets.

    :param register: call ``register(name, load, *, description="", parts=(), info=None)``.
        ``load`` is a zero-argument callable returning a :class:`harness.Dataset`; it is called
        lazily, only when the dataset is used or listed. A collection of other datasets (such as
        ``m3``, made of ``m3-yearly`` ... ``m3-other``) passes ``load=None`` and the member
        names as ``parts``; running it runs each part as its own dataset. ``info`` is an optional
        mapping of facts about the dataset that tools can read without loading it
        (``registry.dataset(name).info``); the core reads one key, ``cache_files``: the paths
        (``harness.cache_path(...)``) a loader that downloads on first use reads, so that
        ``rnnbench datasets`` lists the dataset as needing a download while any is missing instead
        of loading it. A tool that selects datasets by ``info`` documents its own keys (the memory
        study takes the datasets registered with ``info={"study": "memory", "task": ..., "lag": ...}``). A malformed registration (not a
        loader or parts, ``info`` not a mapping, a name taken) skips the whole plugin, as for
        models.
    """
