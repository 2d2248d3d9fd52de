"""Declared model parameters: what a model accepts, with its default, type, bounds and meaning.

A model declares each tunable parameter as a class attribute::

    class MyRNN(harness.WindowForecaster):
        hidden: int = harness.param(32, "hidden units", ge=1)
        cell: str = harness.param("lstm", "recurrent cell", choices=("rnn", "lstm", "gru"))
        clip_norm: float = harness.param(1.0, "gradient clipping norm (null: none)", gt=0, nullable=True)

:class:`harness.Forecaster` collects the declarations of a class and its bases into
``parameters`` (name -> :class:`Param`) and derives ``defaults`` (name -> default) from them.
From the one declaration the harness validates values before anything runs (suites, ``-p``,
registrations), builds the model and lists the parameter (``rnnbench models NAME``).

Values are never converted: what the user gave is what the model gets, what is recorded with
every result and what is hashed into its config id. So ``float`` accepts an integer (``95``
stays ``95``) and a sequence parameter accepts a list or a tuple, as JSON and TOML give lists.

Only the standard library is used, so this module is cheap to import.
"""

from __future__ import annotations

import math
import numbers
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from harness.errors import ModelError

#: Types a declaration may name; ``tuple`` and ``list`` both mean "a list or a tuple".
SUPPORTED_TYPES: tuple[type, ...] = (bool, int, float, str, tuple, list)
_SEQUENCE = (tuple, list)
_SCALES = ("log", "linear")
#: The one relative search unit: multiples of the model's default input window,
#: ``ceil(1.25 x max(horizon, season length))`` (Hewamalage, Bergmeir & Bandara 2021), so one
#: declaration fits a yearly task of horizon 6 and a monthly one of horizon 18 alike.
SEARCH_UNITS = ("window",)


@dataclass(frozen=True)
class Param:
    """One declared parameter. Build it with :func:`param`, which infers ``type`` and ``nullable``.

    ``type`` None accepts any value (only parameters converted from a legacy ``defaults`` dict
    whose default is None). Bounds (``ge``/``gt``/``le``/``lt``) apply to int and float
    parameters, ``choices`` to any type.

    ``search`` is the space the tuner (a ``BASE[tuned]`` model, :mod:`harness.tuning`) draws this
    parameter from: ``(low, high, "log" | "linear")`` for a number (an int parameter gets
    integers), ``(low, high, scale, "window")`` for an int parameter drawn as that many multiples
    of the model's default input window, or a list of values to choose from. ``search_if`` maps
    other parameter names to the values under which this one is searched at all (``{"cell":
    ("lstm",)}``: a forget-gate bias is drawn for an LSTM, never for a GRU); a parameter whose
    condition fails keeps its value in every trial.
    ``id_at_default=False`` keeps the parameter out of an experiment's config id while it has
    its declared default (:func:`keyed_params`): for a parameter added after results existed,
    whose default does what the model did before it, so those results keep their ids and resume.
    """

    default: Any
    description: str
    type: type | None = None
    ge: float | None = None
    gt: float | None = None
    le: float | None = None
    lt: float | None = None
    choices: tuple[Any, ...] | None = None
    nullable: bool = False
    search: tuple[Any, ...] | list[Any] | None = None
    id_at_default: bool = True
    search_if: tuple[tuple[str, tuple[Any, ...]], ...] = ()

    def __post_init__(self) -> None:
        if not isinstance(self.description, str):
            raise TypeError(f"param: description must be a string, got {self.description!r}")
        if self.type is not None and self.type not in SUPPORTED_TYPES:
            names = ", ".join(t.__name__ for t in SUPPORTED_TYPES)
            raise TypeError(f"param: type must be one of {names}, got {self.type!r}")
        bounded = any(b is not None for b in (self.ge, self.gt, self.le, self.lt))
        if bounded and self.type not in (int, float):
            raise TypeError(f"param: bounds need type int or float, not {_type_name(self.type)}")
        if self.ge is not None and self.gt is not None:
            raise TypeError("param: give ge or gt, not both")
        if self.le is not None and self.lt is not None:
            raise TypeError("param: give le or lt, not both")
        for bound in (self.ge, self.gt, self.le, self.lt):
            if bound is not None and (not _is_real(bound) or not math.isfinite(bound)):
                raise TypeError(f"param: a bound must be a finite number, got {bound!r}")
        if self.choices is not None:
            if isinstance(self.choices, (str, bytes)) or not isinstance(self.choices, (tuple, list)):
                raise TypeError(f"param: choices must be a tuple of values, got {self.choices!r}")
            if not self.choices:
                raise TypeError("param: choices must not be empty")
            object.__setattr__(self, "choices", tuple(self.choices))
            for choice in self.choices:
                problem = self._type_problem(choice)
                if problem is not None:
                    raise TypeError(f"param: choice {choice!r} is not {problem}")
        self._check_search()
        problem = self.problem(self.default)
        if problem is not None:
            raise TypeError(f"param: the default must be {problem}, got {self.default!r}")

    def searched_under(self, values: Mapping[str, Any]) -> bool:
        """Whether the tuner draws this parameter for a model with these parameter ``values``:
        it has a ``search`` and every ``search_if`` condition holds."""
        return self.search is not None and all(values.get(k) in allowed for k, allowed in self.search_if)

    def _check_search(self) -> None:
        if not isinstance(self.search_if, tuple) or not all(
            isinstance(c, tuple) and len(c) == 2 and isinstance(c[0], str) and isinstance(c[1], tuple)
            for c in self.search_if
        ):
            raise TypeError(f"param: search_if must map parameter names to tuples of values, got {self.search_if!r}")
        if self.search is None:
            if self.search_if:
                raise TypeError("param: search_if needs a search")
            return
        shape = "(low, high, 'log' | 'linear'[, 'window']) or a non-empty list"
        if isinstance(self.search, tuple):
            low, high, *rest = self.search if len(self.search) in (3, 4) else (None, None)
            ok = _is_real(low) and _is_real(high) and low < high and len(rest) in (1, 2) and rest[0] in _SCALES
            ok = ok and (rest[0] == "linear" or low > 0) and (len(rest) == 1 or rest[1] in SEARCH_UNITS)
            if not ok or self.type not in (int, float):
                raise TypeError(f"param: search must be {shape} (log: low > 0; numbers only), got {self.search!r}")
            if len(self.search) == 4 and self.type is not int:
                raise TypeError("param: a search in multiples of the input window needs an int parameter")
            if len(self.search) == 3:
                for end in self.search[:2]:
                    value = int(end) if self.type is int else end
                    if self.problem(value) is not None:
                        raise TypeError(f"param: search bound {end!r} must be {self.problem(value)}")
        elif isinstance(self.search, list) and self.search:
            for value in self.search:
                if self.problem(value) is not None:
                    raise TypeError(f"param: search value {value!r} must be {self.problem(value)}")
        else:
            raise TypeError(f"param: search must be {shape}, got {self.search!r}")

    # --- describing ---------------------------------------------------------------------------

    @property
    def type_name(self) -> str:
        """The type as ``rnnbench models NAME`` shows it: ``int``, ``float|null``, ``any``."""
        name = _type_name(self.type)
        return f"{name}|null" if self.nullable and self.type is not None else name

    @property
    def bounds(self) -> str:
        """The constraint beyond the type, for listings: ``>= 1``, ``in [0, 1)``, ``one of a, b``."""
        if self.choices is not None:
            return "one of " + ", ".join(map(_show, self.choices))
        low = ("[", self.ge) if self.ge is not None else ("(", self.gt) if self.gt is not None else None
        high = ("]", self.le) if self.le is not None else (")", self.lt) if self.lt is not None else None
        if low and high:
            return f"in {low[0]}{_num(low[1])}, {_num(high[1])}{high[0]}"
        if low:
            return f"{'>=' if low[0] == '[' else '>'} {_num(low[1])}"
        if high:
            return f"{'<=' if high[0] == ']' else '<'} {_num(high[1])}"
        return ""

    def requirement(self) -> str:
        """What a valid value is, as the end of "... must be": ``an integer >= 1 or null``."""
        if self.choices is not None:
            text = self.bounds
        else:
            text = " ".join(part for part in (_KINDS.get(self.type, "any value"), self.bounds) if part)
        return f"{text} or null" if self.nullable else text

    # --- checking -----------------------------------------------------------------------------

    def _type_problem(self, value: Any) -> str | None:
        """The requirement when ``value`` is not of the declared type, else None."""
        ok = {
            None: lambda v: True,
            bool: lambda v: isinstance(v, bool),
            int: lambda v: isinstance(v, numbers.Integral) and not isinstance(v, bool),
            float: _is_real,
            str: lambda v: isinstance(v, str),
            tuple: lambda v: isinstance(v, _SEQUENCE),
            list: lambda v: isinstance(v, _SEQUENCE),
        }[self.type](value)
        return None if ok else self.requirement()

    def problem(self, value: Any) -> str | None:
        """Why ``value`` is not acceptable (the end of "... must be"), or None when it is."""
        if value is None:
            return None if self.nullable or self.type is None else self.requirement()
        problem = self._type_problem(value)
        if problem is not None:
            return problem
        if self.type is float and not math.isfinite(value):
            return "finite"
        if self.choices is not None and value not in self.choices:
            return self.requirement()
        if self.type in (int, float):
            below = (self.ge is not None and value < self.ge) or (self.gt is not None and value <= self.gt)
            above = (self.le is not None and value > self.le) or (self.lt is not None and value >= self.lt)
            if below or above:
                return self.requirement()
        return None

    def validate(self, model: str, key: str, value: Any) -> None:
        """Raise :class:`harness.ModelError` with one line naming the model, the parameter, what
        it must be and the value, e.g. ``model lstm-torch: hidden must be an integer >= 1, got -4``."""
        problem = self.problem(value)
        if problem is not None:
            raise ModelError(f"model {model}: {key} must be {problem}, got {value!r}")


def param(
    default: Any,
    description: str,
    *,
    type: type | None = None,
    ge: float | None = None,
    gt: float | None = None,
    le: float | None = None,
    lt: float | None = None,
    choices: tuple[Any, ...] | list[Any] | None = None,
    nullable: bool | None = None,
    search: tuple[Any, ...] | list[Any] | None = None,
    id_at_default: bool = True,
    search_if: Mapping[str, tuple[Any, ...] | list[Any]] | None = None,
) -> Param:
    """Declare a model parameter (a class attribute of a :class:`harness.Forecaster` subclass).

    ``type`` is inferred from ``default`` (bool, int, float, str, tuple or list); a None default
    needs an explicit ``type``. ``nullable`` (None accepted) defaults to True exactly when the
    default is None. ``int`` rejects booleans; ``float`` accepts integers and rejects NaN and
    infinities; a ``tuple``/``list`` parameter accepts a list or a tuple and leaves its elements to
    the model. ``ge``/``gt``/``le``/``lt`` bound numbers, ``choices`` lists the allowed values.
    ``search`` (with ``search_if``, a condition on other parameters) is the space a
    ``BASE[tuned]`` model draws the parameter from (see :class:`Param`). ``id_at_default=False``:
    the parameter enters config ids only when set to something other than its default.
    """
    if type is None:
        if default is None:
            raise TypeError("param: a parameter whose default is None needs type=...")
        type = infer_type(default)
        if type is None:
            raise TypeError(f"param: cannot infer a type from the default {default!r}; give type=...")
    return Param(
        default,
        description,
        type=type,
        ge=ge,
        gt=gt,
        le=le,
        lt=lt,
        choices=None if choices is None else tuple(choices),
        nullable=default is None if nullable is None else bool(nullable),
        search=search,
        id_at_default=bool(id_at_default),
        search_if=tuple((str(k), tuple(v)) for k, v in (search_if or {}).items()),
    )


def keyed_params(parameters: dict[str, Param], values: dict[str, Any]) -> dict[str, Any]:
    """The parameter values that identify an experiment (hashed into its config id): all of
    ``values`` except those declared ``id_at_default=False`` that equal their declared default,
    so that adding such a parameter does not change the ids of results made before it."""
    return {
        k: v
        for k, v in values.items()
        if k not in parameters or parameters[k].id_at_default or not same_value(v, parameters[k].default)
    }


def same_value(value: Any, default: Any) -> bool:
    """Equal and of the same kind (``1`` is not ``True``, ``1.0`` is ``1``)."""
    return isinstance(value, bool) == isinstance(default, bool) and value == default


def infer_type(value: Any) -> type | None:
    """The supported type of ``value`` (bool before int), or None for None and anything else."""
    for kind in (bool, str, tuple, list):
        if isinstance(value, kind):
            return kind
    if isinstance(value, numbers.Integral):
        return int
    if _is_real(value):
        return float
    return None


def from_legacy(value: Any, inherited: Param | None = None) -> Param:
    """A declaration for one entry of a legacy ``defaults`` dict: the inherited declaration with
    this default when the default fits it, else one typed by the value (None: any type)."""
    if inherited is not None and inherited.problem(value) is None:
        return Param(
            value,
            inherited.description,
            type=inherited.type,
            ge=inherited.ge,
            gt=inherited.gt,
            le=inherited.le,
            lt=inherited.lt,
            choices=inherited.choices,
            nullable=inherited.nullable,
            search=inherited.search,
            id_at_default=inherited.id_at_default,
            search_if=inherited.search_if,
        )
    kind = infer_type(value)
    if kind is float and not math.isfinite(value):
        kind = None  # a legacy default of NaN or inf keeps working
    return Param(value, "", type=kind, nullable=value is None)


_KINDS: dict[type | None, str] = {
    bool: "true or false",
    int: "an integer",
    float: "a number",
    str: "a string",
    tuple: "a list",
    list: "a list",
}


def _is_real(value: Any) -> bool:
    return isinstance(value, numbers.Real) and not isinstance(value, bool)


def _type_name(kind: type | None) -> str:
    return "any" if kind is None else "list" if kind in _SEQUENCE else kind.__name__


def _num(value: float) -> str:
    return repr(value) if isinstance(value, numbers.Integral) else f"{value:g}"


def _show(value: Any) -> str:
    return value if isinstance(value, str) else repr(value)
