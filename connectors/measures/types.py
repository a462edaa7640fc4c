"""Type rules of the measure language."""

from __future__ import annotations

from typing import Final

from connectors.measures.ir import ValueType

NUMERIC: Final[frozenset[str]] = frozenset({"integer", "decimal"})
TEMPORAL: Final[frozenset[str]] = frozenset({"date", "timestamp"})


def is_numeric(typ: ValueType) -> bool:
    return typ in NUMERIC or typ == "blank"


def unify(left: ValueType, right: ValueType) -> ValueType | None:
    """The type both fit in (``integer`` and ``decimal`` give ``decimal``, ``date`` and
    ``timestamp`` give ``timestamp``, ``blank`` fits anything), or None."""
    if left == right:
        return left
    if left == "blank":
        return right
    if right == "blank":
        return left
    pair = {left, right}
    if pair == NUMERIC:
        return "decimal"
    if pair == TEMPORAL:
        return "timestamp"
    return None


def arithmetic(left: ValueType, right: ValueType) -> ValueType:
    """``+ - *`` of two numbers: integer only when both are."""
    if left in {"integer", "blank"} and right in {"integer", "blank"}:
        return "integer"
    return "decimal"
