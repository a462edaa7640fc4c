"""The measure language: a DAX-like formula language for measures and calculated columns.

``parse_measure`` reads text into a syntax tree; ``bind_measure`` / ``bind_calculated_column``
resolve it against a dataset schema into typed IR (connectors/measures/ir.py), which the query
compiler turns into SQL. ``check_measure`` / ``check_calculated_column`` are what a command
handler calls when one is defined: cheap (parsing and binding are cached), and they raise
`InvalidQuery` with the line, the column and a caret excerpt. docs/measures.md is the manual.
"""

from __future__ import annotations

import functools

from connectors.errors import InvalidQuery
from connectors.measures.ast import Node
from connectors.measures.binder import FUNCTIONS, Binder
from connectors.measures.ir import Expr, ValueType
from connectors.measures.parser import parse_measure
from domain.dataset.schema import DatasetSchema, FieldType

__all__ = [
    "FUNCTIONS",
    "Node",
    "bind_calculated_column",
    "bind_measure",
    "check_calculated_column",
    "check_measure",
    "parse_measure",
]


def _field_type(typ: ValueType) -> FieldType:
    """A measure that can only be blank is reported as a decimal (its SQL type too)."""
    return "decimal" if typ == "blank" else typ


@functools.lru_cache(maxsize=512)
def bind_measure(text: str, schema: DatasetSchema, *, name: str | None = None) -> Expr:
    """The typed IR of measure ``text`` (``name``: the measure's own name, if it has one, so
    that a reference to itself is reported as a cycle)."""
    stack = (name,) if name else ()
    return Binder(schema, text, stack).bind(parse_measure(text), "measure")


@functools.lru_cache(maxsize=512)
def bind_calculated_column(text: str, schema: DatasetSchema, *, name: str | None = None) -> Expr:
    """The typed IR of calculated column ``text``, a row-level expression."""
    stack = (name,) if name else ()
    return Binder(schema, text, stack).bind(parse_measure(text), "row")


def check_measure(text: str, schema: DatasetSchema, *, name: str | None = None) -> FieldType:
    """The type measure ``text`` yields; `InvalidQuery` (with its position) if it is invalid."""
    return _field_type(bind_measure(text, schema, name=name).type)


def check_calculated_column(
    text: str, schema: DatasetSchema, *, name: str | None = None
) -> FieldType:
    """The type calculated column ``text`` yields; `InvalidQuery` if it is invalid."""
    expr = bind_calculated_column(text, schema, name=name)
    if expr.type == "blank":
        raise InvalidQuery("a calculated column cannot be always blank", line=1, column=1)
    return _field_type(expr.type)
