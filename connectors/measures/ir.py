"""The bound, typed form of an expression: names resolved against the dataset, measures
expanded inline, every node typed. The query compiler turns it into SQL
(connectors/query/expressions.py); nothing here knows SQL.

Nodes are frozen and hashable: the compiler shares one aggregate between every place that
asks for the same thing in the same filter context.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Literal

from domain.dataset.schema import FieldType

#: ``blank``: the type of ``BLANK()``, which fits anywhere.
ValueType = FieldType | Literal["blank"]

AggFunc = Literal["sum", "avg", "min", "max", "count", "distinct_count", "median", "countrows"]
DateShiftUnit = Literal["day", "week", "month", "quarter", "year"]
ToDateUnit = Literal["month", "quarter", "year"]


@dataclass(frozen=True, slots=True)
class FieldRef:
    """A field or calculated column, by its name in the dataset (as the schema spells it)."""

    name: str
    type: FieldType
    calculated: bool = False

    @property
    def key(self) -> str:
        """Case-folded: the identity used to match filters and dimensions."""
        return self.name.casefold()


@dataclass(frozen=True, slots=True)
class Lit:
    value: int | float | str | bool | dt.date | dt.datetime | None
    type: ValueType


@dataclass(frozen=True, slots=True)
class Col:
    field: FieldRef

    @property
    def type(self) -> ValueType:
        return self.field.type


@dataclass(frozen=True, slots=True)
class Func:
    """A scalar operator or function (``add``, ``eq``, ``upper``, ``divide``…), see
    connectors/measures/functions.py for the names."""

    name: str
    args: tuple[Expr, ...]
    type: ValueType


@dataclass(frozen=True, slots=True)
class Case:
    """``IF`` and ``SWITCH``: the first true condition's result, else ``default``."""

    whens: tuple[tuple[Expr, Expr], ...]
    default: Expr | None
    type: ValueType


@dataclass(frozen=True, slots=True)
class Agg:
    """An aggregate over the rows of the current filter context; ``arg`` is row-level
    (``None`` for ``countrows``)."""

    func: AggFunc
    arg: Expr | None
    type: ValueType


@dataclass(frozen=True, slots=True)
class FilterMod:
    """A CALCULATE filter: keep rows where ``condition`` holds. It replaces the filters (and
    the result row's values) on ``fields``, unless ``keep`` (KEEPFILTERS)."""

    fields: frozenset[str]
    condition: Expr
    keep: bool = False


@dataclass(frozen=True, slots=True)
class RemoveMod:
    """ALL / REMOVEFILTERS: drop the filters on ``fields`` (every filter when ``None``)."""

    fields: frozenset[str] | None


@dataclass(frozen=True, slots=True)
class ShiftMod:
    """SAMEPERIODLASTYEAR / DATEADD: the result row's period of ``field``, moved by ``n``
    ``unit``s."""

    field: FieldRef
    n: int
    unit: DateShiftUnit


@dataclass(frozen=True, slots=True)
class ToDateMod:
    """TOTALYTD / DATESYTD (and the MTD, QTD ones): from the start of the ``unit`` holding the
    end of the result row's period of ``field`` to that end."""

    field: FieldRef
    unit: ToDateUnit


Mod = FilterMod | RemoveMod | ShiftMod | ToDateMod
TimeMod = ShiftMod | ToDateMod


@dataclass(frozen=True, slots=True)
class Calc:
    """CALCULATE: ``body`` evaluated with the filter context changed by ``mods``, in order."""

    body: Expr
    mods: tuple[Mod, ...]

    @property
    def type(self) -> ValueType:
        return self.body.type


Expr = Lit | Col | Func | Case | Agg | Calc


def fields_of(expr: Expr) -> frozenset[str]:
    """The keys of the fields a row-level expression reads."""
    if isinstance(expr, Col):
        return frozenset({expr.field.key})
    if isinstance(expr, Func):
        return frozenset().union(*(fields_of(arg) for arg in expr.args))
    if isinstance(expr, Case):
        parts = [fields_of(part) for pair in expr.whens for part in pair]
        if expr.default is not None:
            parts.append(fields_of(expr.default))
        return frozenset().union(*parts)
    if isinstance(expr, Agg):
        return fields_of(expr.arg) if expr.arg is not None else frozenset()
    if isinstance(expr, Calc):
        return fields_of(expr.body)
    return frozenset()
