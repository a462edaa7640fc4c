"""Measure-language IR → sqlglot expressions.

Row-level nodes (literals, columns, operators, functions, IF/SWITCH) become SQL directly;
aggregates and CALCULATE are handed to callbacks, which the compiler implements (an aggregate
becomes a reference to a column computed in the right filter context). Every literal is a
bound parameter with an explicit cast, except whole numbers the grammar has already
validated where SQL needs a constant (ROUND's digits).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from typing import Final

from sqlglot import exp

from connectors.errors import InvalidQuery
from connectors.measures.ir import Agg, Calc, Case, Col, Expr, FieldRef, Func, Lit, ValueType
from connectors.query.dialects import SqlDialect
from connectors.query.sqlparts import SQL_TYPES, Params, cast, cast_to, collated

_COMPARISONS: Final[dict[str, type[exp.Binary]]] = {
    "eq": exp.EQ,
    "ne": exp.NEQ,
    "lt": exp.LT,
    "le": exp.LTE,
    "gt": exp.GT,
    "ge": exp.GTE,
}
_ARITHMETIC: Final[dict[str, type[exp.Binary]]] = {"add": exp.Add, "sub": exp.Sub, "mul": exp.Mul}
_DATE_PARTS: Final = frozenset({"year", "quarter", "month", "day"})


def _fn(name: str, *args: exp.Expr) -> exp.Expr:
    return exp.Anonymous(this=name, expressions=list(args))


def _double(expression: exp.Expr) -> exp.Expr:
    return cast_to(expression, "DOUBLE")


def _int(expression: exp.Expr) -> exp.Expr:
    """PostgreSQL's text and date functions take ``integer`` (int4), not ``bigint``."""
    return cast_to(expression, "INTEGER")


class ExpressionSql:
    """Writes IR as SQL. ``column`` says how to read a field where the expression is used;
    ``aggregate`` and ``calculate`` handle the measure-level nodes (unset: row level)."""

    def __init__(
        self,
        dialect: SqlDialect,
        params: Params,
        *,
        today: dt.date,
        column: Callable[[FieldRef], exp.Expr],
        aggregate: Callable[[Agg], exp.Expr] | None = None,
        calculate: Callable[[Calc], exp.Expr] | None = None,
    ) -> None:
        self.dialect = dialect
        self.params = params
        self.today = today
        self.column = column
        self.aggregate = aggregate
        self.calculate = calculate

    def sql(self, expr: Expr) -> exp.Expr:
        if isinstance(expr, Lit):
            return self._literal(expr)
        if isinstance(expr, Col):
            return self.column(expr.field)
        if isinstance(expr, Func):
            return self._function(expr)
        if isinstance(expr, Case):
            return self._case(expr)
        if isinstance(expr, Agg):
            if self.aggregate is None:
                raise InvalidQuery("an aggregate cannot be used in a row-level expression")
            return self.aggregate(expr)
        if self.calculate is None:
            raise InvalidQuery("CALCULATE cannot be used in a row-level expression")
        return self.calculate(expr)

    def _literal(self, lit: Lit) -> exp.Expr:
        if lit.value is None:
            return exp.null() if lit.type == "blank" else cast(exp.null(), lit.type)
        if isinstance(lit.value, bool):
            return exp.Boolean(this=lit.value)
        typ: ValueType = lit.type
        return self.params.typed(lit.value, typ)

    def _typed(self, expr: Expr, typ: ValueType) -> exp.Expr:
        """``expr`` as ``typ`` where a branch or argument must agree with others."""
        sql = self.sql(expr)
        if expr.type != typ and typ in {"decimal", "timestamp"}:
            return cast_to(sql, SQL_TYPES[typ])
        return sql

    def _case(self, case: Case) -> exp.Expr:
        ifs = [
            exp.If(this=self.sql(cond), true=self._typed(result, case.type))
            for cond, result in case.whens
        ]
        default = self._typed(case.default, case.type) if case.default is not None else None
        if default is None and case.type != "blank":
            default = cast(exp.null(), case.type)
        return exp.Case(ifs=ifs, default=default)

    def _function(self, func: Func) -> exp.Expr:  # noqa: C901, PLR0911, PLR0912 - a dispatch table
        name = func.name
        if name == "coalesce":
            return exp.Coalesce(
                this=self._typed(func.args[0], func.type),
                expressions=[self._typed(arg, func.type) for arg in func.args[1:]],
            )
        if name in {"least", "greatest"}:
            return self._least_greatest(name, func)
        if name == "today":
            return self.params.typed(self.today, "date")
        if name == "round":
            rounded = exp.Round(
                this=cast_to(self.sql(func.args[0]), "DECIMAL(38, 10)"),
                decimals=exp.Literal.number(_whole(func.args[1])),
            )
            return _double(rounded)
        args = [self.sql(arg) for arg in func.args]
        if name in _COMPARISONS:
            return _COMPARISONS[name](this=args[0], expression=args[1])
        if name in _ARITHMETIC:
            if func.type == "decimal":
                args = [_double(arg) for arg in args]
            return _ARITHMETIC[name](this=args[0], expression=args[1])
        if name == "neg":
            return exp.Neg(this=exp.Paren(this=args[0]))
        if name == "div":
            return exp.Div(
                this=_double(args[0]),
                expression=exp.Nullif(this=_double(args[1]), expression=exp.Literal.number(0)),
            )
        if name == "divide":
            return self._divide(args)
        if name == "pow":
            return exp.Pow(this=_double(args[0]), expression=_double(args[1]))
        if name in {"and", "or"}:
            node = exp.And if name == "and" else exp.Or
            return node(this=exp.Paren(this=args[0]), expression=exp.Paren(this=args[1]))
        if name == "not":
            return exp.Not(this=exp.Paren(this=args[0]))
        if name == "in":
            return exp.In(this=args[0], expressions=args[1:])
        if name == "concat":
            parts = [self._text(arg, sql) for arg, sql in zip(func.args, args, strict=True)]
            return collated(_fn("CONCAT", *parts), "text", self.dialect)
        if name == "isblank":
            return exp.Is(this=args[0], expression=exp.null())
        if name in _DATE_PARTS:
            part = exp.Extract(this=exp.Var(this=name.upper()), expression=args[0])
            return cast_to(part, "BIGINT")
        if name == "make_date":
            return _fn("MAKE_DATE", *(_int(arg) for arg in args))
        return self._scalar(name, args)

    def _scalar(self, name: str, args: list[exp.Expr]) -> exp.Expr:
        if name == "abs":
            return exp.Abs(this=args[0])
        if name == "int":
            return cast_to(exp.Floor(this=_double(args[0])), "BIGINT")
        if name in {"upper", "lower", "trim"}:
            node = {"upper": exp.Upper, "lower": exp.Lower, "trim": exp.Trim}[name]
            return collated(node(this=args[0]), "text", self.dialect)
        if name == "len":
            return cast_to(exp.Length(this=args[0]), "BIGINT")
        if name in {"left", "right"}:
            return collated(_fn(name.upper(), args[0], _int(args[1])), "text", self.dialect)
        if name == "mid":
            return collated(
                _fn("SUBSTRING", args[0], _int(args[1]), _int(args[2])), "text", self.dialect
            )
        raise InvalidQuery(f"no SQL for function {name}")  # pragma: no cover - binder's list

    def _divide(self, args: list[exp.Expr]) -> exp.Expr:
        numerator, denominator = _double(args[0]), _double(args[1])
        alternate = _double(args[2]) if len(args) > 2 else cast(exp.null(), "decimal")  # noqa: PLR2004
        zero = exp.Or(
            this=exp.Is(this=denominator, expression=exp.null()),
            expression=exp.EQ(this=denominator.copy(), expression=exp.Literal.number(0)),
        )
        quotient = exp.Div(this=numerator, expression=denominator.copy())
        return exp.Case(ifs=[exp.If(this=zero, true=alternate)], default=quotient)

    def _least_greatest(self, name: str, func: Func) -> exp.Expr:
        """MIN(a, b) / MAX(a, b), ignoring a blank side, spelled out (the engines' LEAST and
        GREATEST do not agree on NULLs)."""
        left, right = (self._typed(arg, func.type) for arg in func.args)
        pick = exp.LTE if name == "least" else exp.GTE
        return exp.Case(
            ifs=[
                exp.If(this=exp.Is(this=left, expression=exp.null()), true=right),
                exp.If(this=exp.Is(this=right.copy(), expression=exp.null()), true=left.copy()),
                exp.If(this=pick(this=left.copy(), expression=right.copy()), true=left.copy()),
            ],
            default=right.copy(),
        )

    def _text(self, expr: Expr, sql: exp.Expr) -> exp.Expr:
        """A value as text for ``&``: booleans as TRUE/FALSE (as DAX writes them)."""
        if expr.type == "text":
            return sql
        if expr.type == "boolean":
            return exp.Case(
                ifs=[
                    exp.If(this=sql, true=exp.Literal.string("TRUE")),
                    exp.If(this=exp.Not(this=sql.copy()), true=exp.Literal.string("FALSE")),
                ]
            )
        return cast_to(sql, "TEXT")


def _whole(expr: Expr) -> int:
    if isinstance(expr, Lit) and isinstance(expr.value, int):
        return expr.value
    if isinstance(expr, Func) and expr.name == "neg":
        return -_whole(expr.args[0])
    raise InvalidQuery("expected a whole number literal")
