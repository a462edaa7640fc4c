"""Syntax tree → typed IR: names resolved against the dataset schema, measures expanded
inline (cycles refused), every function's arity and argument types checked.

An expression is bound in one of four modes, which decide what it may contain:

- ``measure``: the top of a measure. Aggregates, CALCULATE, time intelligence and other
  measures are allowed; a bare column is not (it must be aggregated).
- ``aggregate``: the argument of an aggregate. Row-level: columns, no aggregate, no measure.
- ``filter``: a CALCULATE filter argument. Row-level and boolean, naming at least one column.
- ``row``: a calculated column. Row-level; no aggregate, no measure, no CALCULATE.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import replace
from typing import Final, Literal

from connectors.errors import InvalidQuery
from connectors.measures.ast import (
    Binary,
    Call,
    ColumnRef,
    InList,
    NameRef,
    Node,
    Number,
    Span,
    String,
    Unary,
)
from connectors.measures.errors import ExpressionError, error_at, suggestion
from connectors.measures.ir import (
    Agg,
    AggFunc,
    Calc,
    Case,
    Col,
    DateShiftUnit,
    Expr,
    FieldRef,
    FilterMod,
    Func,
    Lit,
    Mod,
    RemoveMod,
    ShiftMod,
    ToDateMod,
    ToDateUnit,
    ValueType,
    fields_of,
)
from connectors.measures.parser import parse_measure
from connectors.measures.types import NUMERIC, TEMPORAL, arithmetic, is_numeric, unify
from domain.dataset.schema import DatasetSchema

Mode = Literal["measure", "aggregate", "filter", "row"]

#: Measures referring to measures referring to…: deeper than this is refused.
MAX_DEPTH: Final = 32

_COMPARISONS: Final = {"=": "eq", "<>": "ne", "<": "lt", "<=": "le", ">": "gt", ">=": "ge"}
_ARITHMETIC: Final = {"+": "add", "-": "sub", "*": "mul"}

#: Aggregates over one argument: DAX name → (IR function, accepted argument types, result
#: type or None for "the argument's type").
_AGGREGATES: Final[dict[str, tuple[AggFunc, frozenset[str] | None, ValueType | None]]] = {
    "SUM": ("sum", NUMERIC, None),
    "AVERAGE": ("avg", NUMERIC, "decimal"),
    "MEDIAN": ("median", NUMERIC, "decimal"),
    "MIN": ("min", None, None),
    "MAX": ("max", None, None),
    "COUNT": ("count", None, "integer"),
    "COUNTA": ("count", None, "integer"),
    "DISTINCTCOUNT": ("distinct_count", None, "integer"),
}
#: The iterator forms (``SUMX(Sales, [Price] * [Quantity])``); the table is the dataset's.
_ITERATORS: Final = {
    "SUMX": "SUM",
    "AVERAGEX": "AVERAGE",
    "MEDIANX": "MEDIAN",
    "MINX": "MIN",
    "MAXX": "MAX",
    "COUNTX": "COUNT",
    "COUNTAX": "COUNTA",
}
_FILTER_ONLY: Final = frozenset(
    {
        "ALL",
        "REMOVEFILTERS",
        "KEEPFILTERS",
        "SAMEPERIODLASTYEAR",
        "DATEADD",
        "DATESYTD",
        "DATESQTD",
        "DATESMTD",
    }
)
_TO_DATE: Final[dict[str, ToDateUnit]] = {
    "TOTALYTD": "year",
    "TOTALQTD": "quarter",
    "TOTALMTD": "month",
    "DATESYTD": "year",
    "DATESQTD": "quarter",
    "DATESMTD": "month",
}
_SHIFT_UNITS: Final[dict[str, DateShiftUnit]] = {
    "DAY": "day",
    "WEEK": "week",
    "MONTH": "month",
    "QUARTER": "quarter",
    "YEAR": "year",
}
#: Row-level functions of one text argument.
_TEXT_FUNCTIONS: Final = {"UPPER": "upper", "LOWER": "lower", "TRIM": "trim"}
_DATE_PARTS: Final = {"YEAR": "year", "QUARTER": "quarter", "MONTH": "month", "DAY": "day"}
_UNSUPPORTED: Final = {
    "FILTER": 'write the condition directly: CALCULATE(…, [Region] = "EU")',
    "VALUES": "group the query by the column instead",
    "RELATED": "a dataset is one table; refer to the column directly",
    "EARLIER": "row context functions are not supported",
}
_LITERAL_NAMES: Final = {"TRUE": True, "FALSE": False}

#: Every function name the language knows, for "did you mean" hints and the docs.
FUNCTIONS: Final[frozenset[str]] = frozenset(
    {
        *_AGGREGATES,
        *_ITERATORS,
        *_FILTER_ONLY,
        *_TO_DATE,
        *_TEXT_FUNCTIONS,
        *_DATE_PARTS,
        *_LITERAL_NAMES,
        "COUNTROWS",
        "CALCULATE",
        "IF",
        "SWITCH",
        "DIVIDE",
        "BLANK",
        "AND",
        "OR",
        "NOT",
        "ISBLANK",
        "COALESCE",
        "ABS",
        "ROUND",
        "INT",
        "LEN",
        "LEFT",
        "RIGHT",
        "MID",
        "CONCATENATE",
        "DATE",
        "TODAY",
    }
)


class Binder:
    """Binds the expressions of one schema. ``stack`` holds the names being expanded (for
    cycle detection), outermost first."""

    def __init__(self, schema: DatasetSchema, text: str, stack: tuple[str, ...] = ()) -> None:
        self.schema = schema
        self.text = text
        self.stack = stack

    # ---------------------------------------------------------------- entry points

    def bind(self, node: Node, mode: Mode) -> Expr:  # noqa: PLR0911 - one branch per node kind
        if isinstance(node, Number):
            return Lit(node.value, "integer" if isinstance(node.value, int) else "decimal")
        if isinstance(node, String):
            return Lit(node.value, "text")
        if isinstance(node, ColumnRef):
            return self._reference(node, mode)
        if isinstance(node, NameRef):
            return self._name(node)
        if isinstance(node, Unary):
            return self._unary(node, mode)
        if isinstance(node, Binary):
            return self._binary(node, mode)
        if isinstance(node, InList):
            return self._in_list(node, mode)
        return self._call(node, mode)

    def error(self, span: Span, message: str, *, hint: str = "") -> InvalidQuery:
        return error_at(self.text, span, message, hint=hint)

    # ---------------------------------------------------------------- names

    def _reference(self, node: ColumnRef, mode: Mode) -> Expr:
        field = self.schema.field(node.name)
        if field is not None:
            ref = FieldRef(name=field.name, type=field.type)
            return self._column(ref, node, mode)
        column = self.schema.calculated_column(node.name)
        if column is not None:
            typ = self._calculated_type(column.name, column.expression, node.span)
            ref = FieldRef(name=column.name, type="decimal" if typ == "blank" else typ)
            return self._column(replace(ref, calculated=True), node, mode)
        measure = self.schema.measure(node.name)
        if measure is not None and node.table is None:
            return self._measure(measure.name, measure.expression, node, mode)
        raise self.error(
            node.span,
            f"unknown field [{node.name}]",
            hint=suggestion(node.name, self._names()),
        )

    def _names(self) -> list[str]:
        return [
            item.name
            for group in (self.schema.fields, self.schema.calculated_columns, self.schema.measures)
            for item in group
        ]

    def _column(self, ref: FieldRef, node: ColumnRef, mode: Mode) -> Expr:
        if mode == "measure":
            raise self.error(
                node.span,
                f"column [{ref.name}] cannot be used on its own in a measure",
                hint=f"aggregate it, e.g. SUM([{ref.name}]) or MAX([{ref.name}])",
            )
        return Col(ref)

    def _enter(self, name: str, span: Span) -> tuple[str, ...]:
        folded = name.casefold()
        if folded in (item.casefold() for item in self.stack):
            path = " → ".join(f"[{item}]" for item in (*self.stack, name))
            raise self.error(span, f"circular reference: {path}", hint="")
        if len(self.stack) >= MAX_DEPTH:
            raise self.error(span, f"references nest deeper than {MAX_DEPTH} levels")
        return (*self.stack, name)

    def _nested(self, name: str, text: str, span: Span, mode: Mode) -> Expr:
        """Binds the expression of measure or calculated column ``name``; its errors are
        restated at ``span``, where this expression refers to it."""
        stack = self._enter(name, span)
        try:
            return Binder(self.schema, text, stack).bind(parse_measure(text), mode)
        except ExpressionError as error:
            message = error.message
            if not message.startswith("circular reference"):
                message = f"[{name}] is invalid: {message}"
            raise self.error(span, message) from None

    def _measure(self, name: str, text: str, node: ColumnRef, mode: Mode) -> Expr:
        if mode != "measure":
            where = {
                "row": "a calculated column",
                "aggregate": "an aggregate's argument",
                "filter": "a CALCULATE filter",
            }[mode]
            raise self.error(node.span, f"measure [{name}] cannot be used in {where}")
        return self._nested(name, text, node.span, "measure")

    def _calculated_type(self, name: str, text: str, span: Span) -> ValueType:
        return self._nested(name, text, span, "row").type

    def _name(self, node: NameRef) -> Expr:
        value = _LITERAL_NAMES.get(node.name.upper()) if not node.quoted else None
        if value is not None:
            return Lit(value, "boolean")
        if node.name.upper() == "BLANK" and not node.quoted:
            return Lit(None, "blank")
        raise self.error(
            node.span,
            f"unexpected name {node.name}",
            hint="columns and measures are written in brackets: [Name]",
        )

    # ---------------------------------------------------------------- operators

    def _unary(self, node: Unary, mode: Mode) -> Expr:
        operand = self.bind(node.operand, mode)
        if node.op == "NOT":
            self._expect_boolean(operand, node.span, "NOT")
            return Func("not", (operand,), "boolean")
        if not is_numeric(operand.type):
            raise self.error(node.span, f"'{node.op}' needs a number, got {operand.type}")
        if node.op == "+":
            return operand
        typ: ValueType = "integer" if operand.type == "blank" else operand.type
        return Func("neg", (operand,), typ)

    def _binary(self, node: Binary, mode: Mode) -> Expr:
        left = self.bind(node.left, mode)
        right = self.bind(node.right, mode)
        op = node.op
        if op in _COMPARISONS:
            left, right = self._comparable(left, right, node.span)
            return Func(_COMPARISONS[op], (left, right), "boolean")
        if op in {"&&", "||"}:
            self._expect_boolean(left, node.span, op)
            self._expect_boolean(right, node.span, op)
            return Func("and" if op == "&&" else "or", (left, right), "boolean")
        if op == "&":
            return Func("concat", (left, right), "text")
        for side in (left, right):
            if not is_numeric(side.type):
                raise self.error(node.span, f"'{op}' needs numbers, got {side.type}")
        if op == "/":
            return Func("div", (left, right), "decimal")
        if op == "^":
            return Func("pow", (left, right), "decimal")
        return Func(_ARITHMETIC[op], (left, right), arithmetic(left.type, right.type))

    def _in_list(self, node: InList, mode: Mode) -> Expr:
        operand = self.bind(node.operand, mode)
        if not node.items:
            raise self.error(node.span, "IN needs at least one value in { }")
        items: list[Expr] = []
        for item in node.items:
            _, bound = self._comparable(operand, self.bind(item, mode), node.span)
            items.append(bound)
        return Func("in", (operand, *items), "boolean")

    def _comparable(self, left: Expr, right: Expr, span: Span) -> tuple[Expr, Expr]:
        left = self._as_date(left, right.type, span)
        right = self._as_date(right, left.type, span)
        if unify(left.type, right.type) is None:
            raise self.error(span, f"cannot compare {left.type} with {right.type}")
        return left, right

    def _as_date(self, expr: Expr, other: ValueType, span: Span) -> Expr:
        """A text literal compared with a date is read as an ISO date (``"2020-01-31"``)."""
        if other not in TEMPORAL or not isinstance(expr, Lit) or expr.type != "text":
            return expr
        assert isinstance(expr.value, str)
        try:
            if other == "date":
                return Lit(dt.date.fromisoformat(expr.value), "date")
            return Lit(dt.datetime.fromisoformat(expr.value), "timestamp")
        except ValueError:
            raise self.error(span, f"{expr.value!r} is not an ISO {other} (YYYY-MM-DD)") from None

    def _expect_boolean(self, expr: Expr, span: Span, what: str) -> None:
        if expr.type not in {"boolean", "blank"}:
            raise self.error(span, f"{what} needs a true/false value, got {expr.type}")

    # ---------------------------------------------------------------- functions

    def _call(self, node: Call, mode: Mode) -> Expr:
        name = node.name
        method = _HANDLERS.get(name)
        if method is not None:
            handler: Callable[[Call, Mode], Expr] = getattr(self, method)
            return handler(node, mode)
        if name in _AGGREGATES or name in _ITERATORS or name == "COUNTROWS":
            return self._aggregate(node, mode)
        if name in _FILTER_ONLY:
            raise self.error(
                node.span, f"{name} can only be used as a filter argument of CALCULATE"
            )
        if name in _UNSUPPORTED:
            raise self.error(node.span, f"{name} is not supported", hint=_UNSUPPORTED[name])
        raise self.error(
            node.span,
            f"unknown function {name}",
            hint=suggestion(name, FUNCTIONS, brackets=False),
        )

    def _arity(self, node: Call, low: int, high: int | None = None) -> None:
        count = len(node.args)
        high = low if high is None else high
        if low <= count <= high:
            return
        if low == high:
            expected = f"{low} argument{'s' if low != 1 else ''}"
        elif high > low + 1_000:
            expected = f"at least {low} arguments"
        else:
            expected = f"{low} to {high} arguments"
        raise self.error(node.span, f"{node.name} takes {expected}, got {count}")

    def _args(self, node: Call, mode: Mode) -> list[Expr]:
        return [self.bind(arg, mode) for arg in node.args]

    def _literal(self, node: Call, value: bool | None) -> Expr:  # noqa: FBT001
        self._arity(node, 0)
        return Lit(value, "blank" if value is None else "boolean")

    def _true(self, node: Call, _mode: Mode) -> Expr:
        return self._literal(node, value=True)

    def _false(self, node: Call, _mode: Mode) -> Expr:
        return self._literal(node, value=False)

    def _blank(self, node: Call, _mode: Mode) -> Expr:
        return self._literal(node, None)

    def _if(self, node: Call, mode: Mode) -> Expr:
        self._arity(node, 2, 3)
        cond, then, *rest = self._args(node, mode)
        otherwise = rest[0] if rest else None
        self._expect_boolean(cond, node.span, "IF's condition")
        typ = unify(then.type, otherwise.type if otherwise is not None else "blank")
        if typ is None:
            assert otherwise is not None
            raise self.error(
                node.span, f"IF's results have different types: {then.type} and {otherwise.type}"
            )
        return Case(((cond, then),), otherwise, typ)

    def _switch(self, node: Call, mode: Mode) -> Expr:
        self._arity(node, 3, 10_000)
        subject, *rest = self._args(node, mode)
        default = rest.pop() if len(rest) % 2 else None
        by_condition = isinstance(subject, Lit) and subject.value is True
        whens: list[tuple[Expr, Expr]] = []
        typ: ValueType | None = default.type if default is not None else "blank"
        for value, result in zip(rest[::2], rest[1::2], strict=True):
            if by_condition:
                self._expect_boolean(value, node.span, "SWITCH(TRUE(), …)'s condition")
                condition = value
            else:
                left, right = self._comparable(subject, value, node.span)
                condition = Func("eq", (left, right), "boolean")
            whens.append((condition, result))
            typ = unify(typ, result.type) if typ is not None else None
            if typ is None:
                raise self.error(node.span, "SWITCH's results have different types")
        assert typ is not None
        return Case(tuple(whens), default, typ)

    def _divide(self, node: Call, mode: Mode) -> Expr:
        self._arity(node, 2, 3)
        args = self._args(node, mode)
        for arg in args:
            if not is_numeric(arg.type):
                raise self.error(node.span, f"DIVIDE needs numbers, got {arg.type}")
        return Func("divide", tuple(args), "decimal")

    def _logical(self, node: Call, mode: Mode) -> Expr:
        if node.name == "NOT":
            self._arity(node, 1)
        else:
            self._arity(node, 2)
        args = self._args(node, mode)
        for arg in args:
            self._expect_boolean(arg, node.span, node.name)
        return Func(node.name.lower(), tuple(args), "boolean")

    def _isblank(self, node: Call, mode: Mode) -> Expr:
        self._arity(node, 1)
        return Func("isblank", tuple(self._args(node, mode)), "boolean")

    def _coalesce(self, node: Call, mode: Mode) -> Expr:
        self._arity(node, 2, 10_000)
        args = self._args(node, mode)
        typ: ValueType | None = "blank"
        for arg in args:
            typ = unify(typ, arg.type) if typ is not None else None
        if typ is None:
            raise self.error(node.span, "COALESCE's arguments have different types")
        return Func("coalesce", tuple(args), typ)

    def _number(self, node: Call, mode: Mode) -> Expr:
        if node.name == "ROUND":
            self._arity(node, 2)
        else:
            self._arity(node, 1)
        args = self._args(node, mode)
        if not is_numeric(args[0].type):
            raise self.error(node.span, f"{node.name} needs a number, got {args[0].type}")
        if node.name == "ROUND":
            digits = args[1]
            if not (isinstance(digits, Lit) and digits.type == "integer") and not (
                isinstance(digits, Func)
                and digits.name == "neg"
                and isinstance(digits.args[0], Lit)
            ):
                raise self.error(node.span, "ROUND's digits must be a whole number literal")
            return Func("round", tuple(args), "decimal")
        if node.name == "INT":
            return Func("int", tuple(args), "integer")
        typ: ValueType = "integer" if args[0].type == "blank" else args[0].type
        return Func("abs", tuple(args), typ)

    def _text(self, node: Call, mode: Mode) -> Expr:
        arity = {"LEN": (1, 1), "LEFT": (1, 2), "RIGHT": (1, 2), "MID": (3, 3)}.get(
            node.name, (1, 1)
        )
        self._arity(node, *arity)
        args = self._args(node, mode)
        if args[0].type not in {"text", "blank"}:
            raise self.error(node.span, f"{node.name} needs text, got {args[0].type}")
        for arg in args[1:]:
            if arg.type not in {"integer", "blank"}:
                raise self.error(node.span, f"{node.name} needs whole numbers, got {arg.type}")
        if node.name in {"LEFT", "RIGHT"} and len(args) == 1:
            args.append(Lit(1, "integer"))
        if node.name == "LEN":
            return Func("len", tuple(args), "integer")
        return Func(_TEXT_FUNCTIONS.get(node.name, node.name.lower()), tuple(args), "text")

    def _concatenate(self, node: Call, mode: Mode) -> Expr:
        self._arity(node, 2)
        return Func("concat", tuple(self._args(node, mode)), "text")

    def _date_part(self, node: Call, mode: Mode) -> Expr:
        self._arity(node, 1)
        (arg,) = self._args(node, mode)
        if arg.type not in {*TEMPORAL, "blank"}:
            raise self.error(node.span, f"{node.name} needs a date, got {arg.type}")
        return Func(_DATE_PARTS[node.name], (arg,), "integer")

    def _date(self, node: Call, mode: Mode) -> Expr:
        self._arity(node, 3)
        args = self._args(node, mode)
        for arg in args:
            if arg.type not in {"integer", "blank"}:
                raise self.error(node.span, f"DATE needs whole numbers, got {arg.type}")
        values = [arg.value for arg in args if isinstance(arg, Lit)]
        if len(values) == len(args) and all(isinstance(value, int) for value in values):
            try:
                return Lit(dt.date(*values), "date")  # type: ignore[arg-type]
            except ValueError as error:
                raise self.error(node.span, f"DATE: {error}") from None
        return Func("make_date", tuple(args), "date")

    def _today(self, node: Call, _mode: Mode) -> Expr:
        self._arity(node, 0)
        return Func("today", (), "date")

    def _min_max_scalar(self, node: Call, mode: Mode) -> Expr:
        args = self._args(node, mode)
        left, right = self._comparable(args[0], args[1], node.span)
        typ = unify(left.type, right.type)
        assert typ is not None
        return Func("least" if node.name == "MIN" else "greatest", (left, right), typ)

    # ---------------------------------------------------------------- aggregates

    def _aggregate(self, node: Call, mode: Mode) -> Expr:
        name = node.name
        if name in {"MIN", "MAX"} and len(node.args) == 2:  # noqa: PLR2004 - MIN(a, b)
            return self._min_max_scalar(node, mode)
        if mode != "measure":
            where = {
                "row": "a calculated column",
                "aggregate": "another aggregate",
                "filter": "a CALCULATE filter",
            }[mode]
            raise self.error(node.span, f"{name} cannot be used in {where}")
        if name == "COUNTROWS":
            self._arity(node, 0, 1)
            if node.args:
                self._table(node.args[0])
            return Agg("countrows", None, "integer")
        if name in _ITERATORS:
            self._arity(node, 2)
            self._table(node.args[0])
            arg_node = node.args[1]
            name = _ITERATORS[name]
        else:
            self._arity(node, 1)
            arg_node = node.args[0]
        func, accepted, result = _AGGREGATES[name]
        arg = self.bind(arg_node, "aggregate")
        if arg.type == "blank" or (accepted is not None and arg.type not in accepted):
            raise self.error(node.span, f"{node.name} cannot aggregate {arg.type} values")
        if func in {"min", "max"} and arg.type == "boolean":
            result = "boolean"
        return Agg(func, arg, result or arg.type)

    def _table(self, node: Node) -> None:
        """A table argument: any name (a dataset is one table), never a column."""
        if not isinstance(node, NameRef):
            raise self.error(
                getattr(node, "span", Span(1, 1)), "expected a table name here, e.g. Sales"
            )

    # ---------------------------------------------------------------- filter context

    def _calculate(self, node: Call, mode: Mode) -> Expr:
        self._arity(node, 1, 10_000)
        self._measure_only(node, mode)
        body = self.bind(node.args[0], "measure")
        mods = [self._modifier(arg) for arg in node.args[1:]]
        return Calc(body, _ordered(mods))

    def _total_to_date(self, node: Call, mode: Mode) -> Expr:
        self._arity(node, 2, 10_000)
        self._measure_only(node, mode)
        body = self.bind(node.args[0], "measure")
        field = self._date_field(node.args[1], node)
        mods: list[Mod] = [ToDateMod(field, _TO_DATE[node.name])]
        mods.extend(self._modifier(arg) for arg in node.args[2:])
        return Calc(body, _ordered(mods))

    def _measure_only(self, node: Call, mode: Mode) -> None:
        if mode != "measure":
            raise self.error(node.span, f"{node.name} can only be used in a measure")

    def _modifier(self, node: Node) -> Mod:
        if isinstance(node, Call) and node.name in _FILTER_ONLY:
            return self._filter_function(node)
        if isinstance(node, Call) and node.name in _UNSUPPORTED:
            raise self.error(
                node.span, f"{node.name} is not supported", hint=_UNSUPPORTED[node.name]
            )
        condition = self.bind(node, "filter")
        span = getattr(node, "span", Span(1, 1))
        self._expect_boolean(condition, span, "a CALCULATE filter")
        fields = fields_of(condition)
        if not fields:
            raise self.error(span, 'a CALCULATE filter must compare a column, e.g. [Region] = "EU"')
        return FilterMod(fields, condition)

    def _filter_function(self, node: Call) -> Mod:
        name = node.name
        if name in {"ALL", "REMOVEFILTERS"}:
            if any(isinstance(arg, NameRef) for arg in node.args) or not node.args:
                return RemoveMod(None)
            keys = frozenset(self._field_arg(arg, node).key for arg in node.args)
            return RemoveMod(keys)
        if name == "KEEPFILTERS":
            self._arity(node, 1)
            mod = self._modifier(node.args[0])
            if not isinstance(mod, FilterMod):
                raise self.error(node.span, "KEEPFILTERS takes a condition")
            return FilterMod(mod.fields, mod.condition, keep=True)
        if name == "SAMEPERIODLASTYEAR":
            self._arity(node, 1)
            return ShiftMod(self._date_field(node.args[0], node), -1, "year")
        if name == "DATEADD":
            self._arity(node, 3)
            field = self._date_field(node.args[0], node)
            return ShiftMod(field, self._whole_number(node.args[1], node), self._unit(node.args[2]))
        self._arity(node, 1)
        return ToDateMod(self._date_field(node.args[0], node), _TO_DATE[name])

    def _field_arg(self, node: Node, call: Call) -> FieldRef:
        if not isinstance(node, ColumnRef):
            raise self.error(call.span, f"{call.name} takes a table or columns, e.g. [Region]")
        expr = self.bind(node, "filter")
        assert isinstance(expr, Col)
        return expr.field

    def _date_field(self, node: Node, call: Call) -> FieldRef:
        field = self._field_arg(node, call)
        if field.type not in TEMPORAL:
            raise self.error(
                call.span, f"{call.name} needs a date column, [{field.name}] is {field.type}"
            )
        return field

    def _whole_number(self, node: Node, call: Call) -> int:
        if isinstance(node, Number) and isinstance(node.value, int):
            return node.value
        if (
            isinstance(node, Unary)
            and node.op in {"-", "+"}
            and isinstance(node.operand, Number)
            and isinstance(node.operand.value, int)
        ):
            return -node.operand.value if node.op == "-" else node.operand.value
        raise self.error(call.span, f"{call.name} needs a whole number of intervals, e.g. -1")

    def _unit(self, node: Node) -> DateShiftUnit:
        name = node.name.upper() if isinstance(node, NameRef) and not node.quoted else ""
        unit = _SHIFT_UNITS.get(name)
        if unit is None:
            raise self.error(
                getattr(node, "span", Span(1, 1)),
                "expected an interval: DAY, WEEK, MONTH, QUARTER or YEAR",
            )
        return unit


def _ordered(mods: list[Mod]) -> tuple[Mod, ...]:
    """As in DAX, ALL/REMOVEFILTERS apply before the other arguments of the same CALCULATE."""
    removals = [mod for mod in mods if isinstance(mod, RemoveMod)]
    return (*removals, *(mod for mod in mods if not isinstance(mod, RemoveMod)))


_HANDLERS: Final[dict[str, str]] = {
    "TRUE": "_true",
    "FALSE": "_false",
    "BLANK": "_blank",
    "IF": "_if",
    "SWITCH": "_switch",
    "DIVIDE": "_divide",
    "AND": "_logical",
    "OR": "_logical",
    "NOT": "_logical",
    "ISBLANK": "_isblank",
    "COALESCE": "_coalesce",
    "ABS": "_number",
    "ROUND": "_number",
    "INT": "_number",
    "UPPER": "_text",
    "LOWER": "_text",
    "TRIM": "_text",
    "LEN": "_text",
    "LEFT": "_text",
    "RIGHT": "_text",
    "MID": "_text",
    "CONCATENATE": "_concatenate",
    "YEAR": "_date_part",
    "QUARTER": "_date_part",
    "MONTH": "_date_part",
    "DAY": "_date_part",
    "DATE": "_date",
    "TODAY": "_today",
    "CALCULATE": "_calculate",
    "TOTALYTD": "_total_to_date",
    "TOTALQTD": "_total_to_date",
    "TOTALMTD": "_total_to_date",
}
