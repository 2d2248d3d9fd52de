"""Series collections (Panel, Dataset), dataset fingerprints and deterministic sampling.

A Panel is what a model sees: a list of 1-D float arrays with ids, all sharing one frequency,
season length and horizon (global models need one horizon). A Dataset is a Panel plus the
official test set when the source publishes one (M-competitions), so protocols can use it.
Long format (``unique_id, ds, y``, as in statsforecast) is how data enters and leaves files.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass, field, replace

import numpy as np

from harness.errors import DataError


@dataclass(frozen=True)
class Panel:
    """Several series of one frequency, season length and forecast horizon.

    ``values[i]`` is a 1-D float64 array of observations of series ``ids[i]``; lengths may differ.
    """

    ids: tuple[str, ...]
    values: tuple[np.ndarray, ...]
    freq: str
    season_length: int
    horizon: int
    categories: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        if len(self.ids) != len(self.values):
            raise DataError(f"panel has {len(self.ids)} ids but {len(self.values)} series")
        if not self.categories:
            object.__setattr__(self, "categories", ("",) * len(self.ids))
        if len(self.categories) != len(self.ids):
            raise DataError("panel categories do not match its ids")
        if self.horizon <= 0:
            raise DataError(f"horizon must be a positive integer, got {self.horizon}")
        if self.season_length <= 0:
            raise DataError(f"season length must be a positive integer, got {self.season_length}")

    def __len__(self) -> int:
        return len(self.ids)

    def with_values(self, values: Sequence[np.ndarray]) -> Panel:
        """The same series (ids, metadata) with other values, e.g. cut at a forecast origin."""
        return replace(self, values=tuple(values))

    def subset(self, indices: Sequence[int]) -> Panel:
        return replace(
            self,
            ids=tuple(self.ids[i] for i in indices),
            values=tuple(self.values[i] for i in indices),
            categories=tuple(self.categories[i] for i in indices),
        )


@dataclass(frozen=True)
class Dataset:
    """A named Panel and, where the source publishes one, its official test set.

    ``test[i]`` follows ``panel.values[i]`` in time and has ``panel.horizon`` values.
    """

    name: str
    panel: Panel
    test: tuple[np.ndarray, ...] | None = None
    description: str = ""
    source: str = ""
    meta: dict = field(default_factory=dict)

    def __post_init__(self) -> None:
        # Series are told apart by id (results rows, a global model's keyed forecasts): unique.
        if len(set(self.panel.ids)) != len(self.panel.ids):
            seen: set[str] = set()
            twice = next(uid for uid in self.panel.ids if uid in seen or seen.add(uid))
            raise DataError(f"dataset {self.name}: series id {twice!r} appears twice")
        # A dataset is input: a NaN from a plugin's loader is bad input (exit 2), as in a file.
        for uid, values in zip(self.panel.ids, self.panel.values):
            _check_finite(self.name, uid, values)
        if self.test is not None:
            if len(self.test) != len(self.panel):
                raise DataError(f"dataset {self.name}: {len(self.test)} test series for {len(self.panel)} series")
            for uid, t in zip(self.panel.ids, self.test):
                if len(t) != self.panel.horizon:
                    raise DataError(
                        f"dataset {self.name}: series {uid} has {len(t)} test values, horizon is {self.panel.horizon}"
                    )
                _check_finite(self.name, uid, t, "test ")

    def full_values(self) -> tuple[np.ndarray, ...]:
        """Each series with its official test appended (the whole observed history)."""
        if self.test is None:
            return self.panel.values
        return tuple(np.concatenate([v, t]) for v, t in zip(self.panel.values, self.test))

    def fingerprint(self) -> str:
        """SHA-256 (first 16 hex digits) of ids, metadata and all values, test included."""
        h = hashlib.sha256()
        p = self.panel
        h.update(f"{p.freq}|{p.season_length}|{p.horizon}|{self.test is not None}".encode())
        for uid, values in zip(p.ids, self.full_values()):
            h.update(uid.encode())
            h.update(np.ascontiguousarray(values, dtype=np.float64).tobytes())
        return h.hexdigest()[:16]

    def subset(self, indices: Sequence[int]) -> Dataset:
        test = None if self.test is None else tuple(self.test[i] for i in indices)
        return replace(self, panel=self.panel.subset(indices), test=test)

    def sample(self, limit: int | None) -> Dataset:
        """A deterministic sample of ``limit`` series spread over the dataset's categories.

        Series are taken in turn from each category (in order of first appearance), each
        category contributing its series in their original order at evenly spaced positions,
        so ``--limit`` gives the same series on every machine and keeps the category mix.
        """
        if limit is None or limit >= len(self.panel):
            return self
        if limit <= 0:
            raise DataError(f"--limit must be a positive integer, got {limit}")
        groups: dict[str, list[int]] = {}
        for i, cat in enumerate(self.panel.categories):
            groups.setdefault(cat, []).append(i)
        quota = _proportional_quota([len(g) for g in groups.values()], limit)
        chosen: list[int] = []
        for members, k in zip(groups.values(), quota):
            if k:
                positions = np.linspace(0, len(members) - 1, k).round().astype(int)
                chosen.extend(members[j] for j in positions)
        return self.subset(sorted(chosen))


def _check_finite(name: str, uid: str, values: np.ndarray, what: str = "") -> None:
    try:
        array = np.asarray(values, dtype=np.float64)
    except (TypeError, ValueError):
        raise DataError(f"dataset {name}: series {uid} has non-numeric {what}values") from None
    bad = int(array.size - np.count_nonzero(np.isfinite(array)))
    if bad:
        raise DataError(f"dataset {name}: series {uid} has {bad} NaN or infinite {what}value(s)")


def _proportional_quota(sizes: list[int], total: int) -> list[int]:
    """Split ``total`` over groups in proportion to their sizes (largest remainder), at least
    one per group while ``total`` allows it."""
    n = sum(sizes)
    exact = [total * s / n for s in sizes]
    quota = [min(s, max(1, int(e))) if total >= len(sizes) else int(e) for s, e in zip(sizes, exact)]
    order = sorted(range(len(sizes)), key=lambda i: exact[i] - int(exact[i]), reverse=True)
    while sum(quota) < total:
        for i in order:
            if sum(quota) < total and quota[i] < sizes[i]:
                quota[i] += 1
    while sum(quota) > total:
        i = max(range(len(sizes)), key=lambda j: quota[j] - exact[j])
        quota[i] -= 1
    return quota
