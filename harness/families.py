"""Which models of a stored run are "the RNNs" the claims are about.

A model declares its family (:attr:`harness.Forecaster.family`); a run records it in
experiments.csv, and the claims read it from there (:func:`declared_families`), never from the
name. A run stored before models declared a family falls back to the old name rule (a name
containing "rnn", "lstm" or "gru", :func:`legacy_family`) for its models only, and
:class:`Families` says which rule gave each model its family, so the report can say so.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

import pandas as pd

from harness.models import GATED_FAMILIES, RECURRENT_FAMILIES

#: The old rule, kept only for runs stored before models declared a family: a model whose name
#: contains one of these was neural (:func:`legacy_family`).
LEGACY_NAME_TAGS = ("rnn", "lstm", "gru")
FAMILY_COLUMNS = ["model", "family", "neural", "source"]
#: ``source`` of a family in the families table: declared by the model, or guessed from its name
#: by the legacy rule (a run, or a memory study, stored before models declared one).
DECLARED, BY_NAME = "declared", "name (legacy run)"


def legacy_family(model: str) -> str:
    """The family the old name rule gave a model, for stored runs that record none: ``lstm`` or
    ``gru`` when its name contains that, ``rnn`` when it contains rnn, else ``other``. Exactly the
    old selection: neural = the name contains rnn, lstm or gru; gated = it contains lstm or gru."""
    name = str(model).lower()
    for tag in ("lstm", "gru", "rnn"):
        if tag in name:
            return tag
    return "other"


def is_neural(model: str) -> bool:
    """The legacy name rule (name contains rnn, lstm or gru), for runs that record no family."""
    return legacy_family(model) in RECURRENT_FAMILIES


def declared_families(experiments: pd.DataFrame | None) -> dict[str, str]:
    """model -> family from a run's experiments.csv (empty for a run stored before models
    declared a family, whose experiments.csv has no ``family`` column)."""
    if experiments is None or "family" not in experiments.columns or experiments.empty:
        return {}
    known = experiments.dropna(subset=["family"]).drop_duplicates("model")
    return dict(zip(known["model"].astype(str), known["family"].astype(str)))


@dataclass(frozen=True)
class Families:
    """Which family each model has, as the claims see it: ``declared`` (model -> family, from
    experiments.csv or a study's table) where the run recorded one, else the legacy name rule
    (:func:`legacy_family`), which :meth:`source` reports so the report can say so."""

    declared: Mapping[str, str] = field(default_factory=dict)

    def family(self, model: str) -> str:
        return self.declared.get(model) or legacy_family(model)

    def source(self, model: str) -> str:
        return DECLARED if model in self.declared else BY_NAME

    def neural(self, model: str) -> bool:
        """A contender: a recurrent family (rnn, lstm, gru)."""
        return self.family(model) in RECURRENT_FAMILIES

    def gated(self, model: str) -> bool:
        return self.family(model) in GATED_FAMILIES

    def label(self, model: str) -> str:
        """``lstm-torch (lstm)``; ``lstm-torch (lstm by name)`` where the legacy rule gave it."""
        return f"{model} ({self.family(model)}{'' if model in self.declared else ' by name'})"

    def table(self, models: Iterable[str]) -> pd.DataFrame:
        """One row per model: model, family, neural, source (``FAMILY_COLUMNS``)."""
        rows = [
            {"model": m, "family": self.family(m), "neural": self.neural(m), "source": self.source(m)}
            for m in dict.fromkeys(str(m) for m in models)
        ]
        return pd.DataFrame(rows, columns=FAMILY_COLUMNS)


def families_of(families: Families | Mapping[str, str] | None) -> Families:
    """``families`` as :class:`Families` (a plain mapping model -> family is its declarations)."""
    if isinstance(families, Families):
        return families
    return Families(dict(families or {}))
