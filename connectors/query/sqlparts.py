"""Small SQL builders shared by the compiler: bound values, types, casts, date grains,
aggregates. Each writes the same thing for DuckDB and PostgreSQL, or spells out where they
differ, so that both engines give the same Python values."""

from __future__ import annotations

import functools
from typing import Any, Final

from sqlglot import exp

from connectors.measures.ir import AggFunc, ValueType
from connectors.query.dialects import SqlDialect

#: The SQL type each Loupe type is cast to where the engines could differ.
SQL_TYPES: Final[dict[str, str]] = {
    "integer": "BIGINT",
    "decimal": "DOUBLE",
    "boolean": "BOOLEAN",
    "text": "TEXT",
    "date": "DATE",
    "timestamp": "TIMESTAMP",
    "blank": "DOUBLE",
}

#: Grain / interval units in the order of their length.
GRAIN_ORDER: Final = ("day", "week", "month", "quarter", "year")


class Params:
    """The values bound to ``$1..$n``, in order."""

    def __init__(self) -> None:
        self.values: list[Any] = []

    def add(self, value: Any) -> exp.Parameter:
        self.values.append(value)
        return exp.Parameter(this=exp.Literal.number(len(self.values)))

    def typed(self, value: Any, typ: ValueType) -> exp.Expr:
        """A bound value with an explicit cast, for places where PostgreSQL could not infer
        the parameter's type (``CASE``, function arguments)."""
        if value is None:
            return cast_to(exp.null(), SQL_TYPES[typ])
        return cast_to(self.add(value), SQL_TYPES[typ])


def cast(expression: exp.Expr, typ: ValueType) -> exp.Expr:
    return cast_to(expression, SQL_TYPES[typ])


def cast_to(expression: exp.Expr, sql_type: str) -> exp.Expr:
    """``CAST(expression AS sql_type)``, the type parsed once per process (sqlglot parses a
    type given as text on every call, which was a tenth of a compile)."""
    return exp.cast(expression, _data_type(sql_type))


def table(name: str) -> exp.Table:
    """The CTE or table ``name`` (a name of our own: built, not parsed)."""
    return exp.Table(this=exp.to_identifier(name))


@functools.cache
def _data_type(sql_type: str) -> exp.DataType:
    return exp.DataType.build(sql_type)


def normalized(expression: exp.Expr, typ: ValueType) -> exp.Expr:
    """Integers as BIGINT and decimals as DOUBLE (PostgreSQL's ``int4``/``numeric`` and
    DuckDB's ``HUGEINT``/``DECIMAL`` would otherwise come back as different Python types)."""
    if typ in {"integer", "decimal"}:
        return cast(expression, typ)
    return expression


def collated(expression: exp.Expr, typ: ValueType, dialect: SqlDialect) -> exp.Expr:
    """Text compared and sorted byte-wise in PostgreSQL too (``COLLATE "C"``), as in DuckDB."""
    if typ == "text" and dialect == "postgres":
        return exp.Collate(this=expression, expression=exp.Identifier(this="C", quoted=True))
    return expression


def null_safe_eq(left: exp.Expr, right: exp.Expr) -> exp.Expr:
    return exp.NullSafeEQ(this=left, expression=right)


def interval(n: int, unit: str) -> exp.Interval:
    """``n`` units as an interval: weeks as days, quarters as months. ``n`` is an int the
    compiler computed, never text from a request."""
    if unit == "week":
        n, unit = n * 7, "day"
    elif unit == "quarter":
        n, unit = n * 3, "month"
    return exp.Interval(this=exp.Literal.string(str(int(n))), unit=exp.Var(this=unit.upper()))


def date_trunc(unit: str, expression: exp.Expr) -> exp.Expr:
    """The start of the ``unit`` holding ``expression`` as a TIMESTAMP (ISO weeks start on
    Monday in both engines). The argument is cast to TIMESTAMP first: PostgreSQL would
    otherwise pick ``timestamptz`` for a date and depend on the session's time zone."""
    return exp.Anonymous(
        this="DATE_TRUNC",
        expressions=[exp.Literal.string(unit), cast_to(expression, "TIMESTAMP")],
    )


def grain(expression: exp.Expr, unit: str, typ: ValueType) -> exp.Expr:
    """A date or timestamp truncated to its period's start, keeping its type."""
    if typ == "date":
        if unit == "day":
            return cast_to(expression, "DATE")
        return cast_to(date_trunc(unit, expression), "DATE")
    return date_trunc(unit, expression)


def aggregate(  # noqa: PLR0911 - one return per aggregate
    func: AggFunc, arg: exp.Expr | None, arg_type: ValueType, dialect: SqlDialect
) -> exp.Expr:
    """``func`` over ``arg`` with the result cast to the same type in both engines:
    counts BIGINT; sum keeps integer/decimal; avg and median DOUBLE."""
    if func == "countrows" or arg is None:
        return exp.Count(this=exp.Star())
    if func == "count":
        return exp.Count(this=arg)
    if func == "distinct_count":
        return exp.Count(this=exp.Distinct(expressions=[arg]))
    if func == "sum":
        return cast(exp.Sum(this=arg), arg_type)
    if func == "avg":
        return cast(exp.Avg(this=cast_to(arg, "DOUBLE")), "decimal")
    if func == "median":
        value = cast_to(arg, "DOUBLE")
        if dialect == "duckdb":
            return cast(exp.Anonymous(this="MEDIAN", expressions=[value]), "decimal")
        within = exp.WithinGroup(
            this=exp.Anonymous(this="PERCENTILE_CONT", expressions=[exp.Literal.number("0.5")]),
            expression=exp.Order(expressions=[exp.Ordered(this=value)]),
        )
        return cast(within, "decimal")
    if arg_type == "boolean":  # PostgreSQL has no min/max of booleans
        name = "BOOL_AND" if func == "min" else "BOOL_OR"
        return exp.Anonymous(this=name, expressions=[arg])
    result: exp.Expr = exp.Min(this=arg) if func == "min" else exp.Max(this=arg)
    return normalized(result, arg_type)
