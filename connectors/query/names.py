"""Names in a spec resolved against the dataset schema (case-insensitively), with "did you
mean" hints when one is unknown."""

from __future__ import annotations

import difflib

from connectors.errors import InvalidQuery
from connectors.measures import bind_calculated_column, bind_measure
from connectors.measures.ir import Expr, FieldRef
from domain.dataset.schema import DatasetSchema


def near(name: str, candidates: list[str]) -> str:
    """``; did you mean 'Sales Amount'?`` or, for a short list, every candidate."""
    by_folded = {candidate.casefold(): candidate for candidate in candidates}
    close = difflib.get_close_matches(name.casefold(), list(by_folded), n=3, cutoff=0.6)
    if close:
        return "; did you mean " + " or ".join(repr(by_folded[c]) for c in close) + "?"
    if candidates and len(candidates) <= 10:  # noqa: PLR2004 - a short list is shown whole
        return "; available: " + ", ".join(repr(c) for c in candidates)
    return ""


def field_names(schema: DatasetSchema) -> list[str]:
    return [f.name for f in schema.fields] + [c.name for c in schema.calculated_columns]


def resolve_field(schema: DatasetSchema, name: str, *, where: str = "") -> FieldRef:
    """The field or calculated column called ``name`` (hidden ones included: hiding is for
    the field list, as in Power BI)."""
    field = schema.field(name)
    if field is not None:
        return FieldRef(name=field.name, type=field.type)
    column = schema.calculated_column(name)
    if column is not None:
        expr = calculated_expression(schema, column.name)
        typ = "decimal" if expr.type == "blank" else expr.type
        return FieldRef(name=column.name, type=typ, calculated=True)
    suffix = f" in {where}" if where else ""
    message = f"unknown field {name!r}{suffix}{near(name, field_names(schema))}"
    if schema.measure(name) is not None:
        message = f'{name!r}{suffix} is a measure, not a field; use {{"measure": {name!r}}}'
    raise InvalidQuery(message, code="unknown_field")


def calculated_expression(schema: DatasetSchema, name: str) -> Expr:
    column = schema.calculated_column(name)
    assert column is not None
    try:
        return bind_calculated_column(column.expression, schema, name=column.name)
    except InvalidQuery as error:
        raise InvalidQuery(
            f"calculated column {column.name!r} is invalid: {error.detail}", code=error.code
        ) from None


def measure_expression(schema: DatasetSchema, name: str) -> tuple[str, Expr]:
    """The measure called ``name``: its name as defined and its bound expression."""
    measure = schema.measure(name)
    if measure is None:
        names = [m.name for m in schema.measures]
        message = f"unknown measure {name!r}{near(name, names)}"
        if schema.field(name) is not None or schema.calculated_column(name) is not None:
            message = f'{name!r} is a field, not a measure; use {{"field": {name!r}, "agg": …}}'
        raise InvalidQuery(message, code="unknown_measure")
    try:
        return measure.name, bind_measure(measure.expression, schema, name=measure.name)
    except InvalidQuery as error:
        raise InvalidQuery(
            f"measure {measure.name!r} is invalid: {error.detail}", code=error.code
        ) from None
