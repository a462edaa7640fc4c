"""The state of one compile call: bound values, the base relation's columns, the CTEs, and the
spec's dimensions, measures and filters turned into SQL pieces.

Every query starts from one CTE, ``base``: the relation's columns the query uses under
generated names (``f0``, ``f1``…) and the calculated columns computed from them. Nothing of
the spec reaches the SQL text except through a quoted identifier taken from the schema (a
source column's name) or a bound ``$n`` parameter.
"""

from __future__ import annotations

import datetime as dt
import functools
import itertools
from collections.abc import Sequence
from dataclasses import dataclass

import sqlglot
from sqlglot import exp

from connectors.errors import InvalidQuery
from connectors.measures.ir import Agg, AggFunc, Col, Expr, FieldRef
from connectors.query.dialects import SqlDialect, render
from connectors.query.expressions import ExpressionSql
from connectors.query.names import calculated_expression, measure_expression, resolve_field
from connectors.query.spec import (
    Dimension,
    Filter,
    Grain,
    GrainDimension,
    InFilter,
    MeasureItem,
    NotInFilter,
    RangeFilter,
    RelativeDateFilter,
    TopFilter,
)
from connectors.query.sqlparts import GRAIN_ORDER, Params, collated, grain, normalized, table
from connectors.query.values import coerce, range_upper, relative_bounds
from domain.dataset.schema import DatasetSchema, FieldType

#: What a spec aggregation means in the measure language (and its result type rule).
_SPEC_AGGREGATES: dict[str, AggFunc] = {
    "sum": "sum",
    "avg": "avg",
    "min": "min",
    "max": "max",
    "count": "count",
    "distinct_count": "distinct_count",
    "median": "median",
}


@dataclass(frozen=True, slots=True)
class Dim:
    """A dimension of the query: a field, maybe at a date grain, and its output name."""

    ref: FieldRef
    grain: Grain | None
    name: str

    @property
    def type(self) -> FieldType:
        return self.ref.type

    @property
    def period(self) -> str | None:
        """The period unit this dimension stands for (time intelligence), if any."""
        if self.grain is not None:
            return self.grain
        return "day" if self.ref.type == "date" else None


@dataclass(frozen=True, slots=True)
class RowFilter:
    """A query filter as a condition over ``base``'s columns, and the field it is on."""

    key: str
    condition: exp.Expr


@dataclass(frozen=True, slots=True)
class MeasureOutput:
    name: str
    expr: Expr
    #: A spec ``{"field", "agg"}`` (SQL counting: 0, not blank) rather than a measure.
    implicit: bool

    @property
    def type(self) -> FieldType:
        return "decimal" if self.expr.type == "blank" else self.expr.type


class Compilation:
    def __init__(self, schema: DatasetSchema, dialect: SqlDialect, today: dt.date) -> None:
        self.schema = schema
        self.dialect = dialect
        self.today = today
        self.params = Params()
        self.ctes: list[exp.CTE] = []
        self._aliases: dict[str, tuple[FieldRef, str]] = {}
        self._counter = itertools.count()

    # ---------------------------------------------------------------- base columns

    def column(self, ref: FieldRef) -> exp.Column:
        """The base CTE's column holding field ``ref`` (added on first use)."""
        entry = self._aliases.get(ref.key)
        if entry is None:
            entry = (ref, f"f{len(self._aliases)}")
            self._aliases[ref.key] = entry
        return exp.column(entry[1])

    def row_sql(self, expr: Expr) -> exp.Expr:
        """A row-level expression over the base CTE's columns."""
        lowering = ExpressionSql(self.dialect, self.params, today=self.today, column=self.column)
        return lowering.sql(expr)

    def dim_sql(self, dim: Dim) -> exp.Expr:
        column = self.column(dim.ref)
        if dim.grain is not None:
            return grain(column, dim.grain, dim.ref.type)
        return normalized(column, dim.ref.type)

    def fresh(self, stem: str) -> str:
        return f"{stem}{next(self._counter)}"

    def add_cte(self, name: str, select: exp.Expr, *, materialized: bool | None = None) -> None:
        cte = exp.CTE(this=select, alias=exp.TableAlias(this=exp.to_identifier(name)))
        if materialized is not None:
            cte.set("materialized", materialized)
        self.ctes.append(cte)

    def finish(self, select: exp.Select, relation: str) -> str:
        """The whole statement: ``base`` first, then every CTE in the order added."""
        base = exp.CTE(
            this=self._base_select(relation),
            alias=exp.TableAlias(this=exp.to_identifier("base")),
            materialized=False,
        )
        select.set("with_", exp.With(expressions=[base, *self.ctes]))
        return render(select, self.dialect)

    def _base_select(self, relation: str) -> exp.Select:
        columns: list[exp.Expr] = [
            exp.alias_(collated(self._source(ref, ()), ref.type, self.dialect), alias)
            for ref, alias in self._aliases.values()
        ]
        if not columns:
            columns = [exp.alias_(exp.Literal.number(1), "f_")]
        return exp.select(*columns).from_(self._relation(relation), copy=False)

    def _source(self, ref: FieldRef, stack: tuple[str, ...]) -> exp.Expr:
        """Field ``ref`` over the relation: its quoted source column, or a calculated column's
        expression (calculated columns it uses are inlined)."""
        if not ref.calculated:
            field = self.schema.field(ref.name)
            assert field is not None
            return exp.column(field.column, quoted=True)
        if ref.key in stack:  # pragma: no cover - the binder refuses cycles first
            raise InvalidQuery(f"calculated column {ref.name!r} refers to itself")
        expr = calculated_expression(self.schema, ref.name)

        def source(inner: FieldRef) -> exp.Expr:
            return self._source(inner, (*stack, ref.key))

        lowering = ExpressionSql(self.dialect, self.params, today=self.today, column=source)
        return exp.Paren(this=lowering.sql(expr))

    def _relation(self, relation: str) -> exp.Expr:
        """The connector's FROM text (trusted), parsed so that it is written in the dialect."""
        return _parsed_relation(relation, self.dialect).copy()

    # ---------------------------------------------------------------- spec items

    def dimension(self, item: Dimension) -> Dim:
        if isinstance(item, GrainDimension):
            ref = resolve_field(self.schema, item.field, where="dimensions")
            if ref.type not in {"date", "timestamp"}:
                raise InvalidQuery(
                    f"grain {item.grain!r} needs a date or timestamp field; "
                    f"{ref.name!r} is {ref.type}",
                    code="invalid_grain",
                )
            return Dim(ref, item.grain, f"{ref.name} ({item.grain})")
        ref = resolve_field(self.schema, item, where="dimensions")
        return Dim(ref, None, ref.name)

    def measure(self, item: MeasureItem) -> MeasureOutput:
        if item.measure is not None:
            name, expr = measure_expression(self.schema, item.measure)
            return MeasureOutput(item.as_ or name, expr, implicit=False)
        assert item.field is not None
        assert item.agg is not None
        ref = resolve_field(self.schema, item.field, where="measures")
        expr = field_aggregate(ref, item.agg)
        return MeasureOutput(item.as_ or f"{ref.name} ({item.agg})", expr, implicit=True)

    # ---------------------------------------------------------------- filters

    def filters(self, filters: Sequence[Filter]) -> list[RowFilter]:
        """Every filter as a condition; a ``top`` filter ranks within the other, plain ones."""
        plain = [self._plain(item) for item in filters if not isinstance(item, TopFilter)]
        tops = [self._top(item, plain) for item in filters if isinstance(item, TopFilter)]
        return plain + tops

    def _plain(self, item: Filter) -> RowFilter:
        ref = resolve_field(self.schema, item.field, where="filters")
        column = self.column(ref)
        if isinstance(item, InFilter | NotInFilter):
            condition = self._membership(ref, column, item)
        elif isinstance(item, RangeFilter):
            condition = self._range(ref, column, item)
        else:
            assert isinstance(item, RelativeDateFilter)
            condition = self._relative(ref, column, item)
        return RowFilter(ref.key, condition)

    def _membership(
        self, ref: FieldRef, column: exp.Column, item: InFilter | NotInFilter
    ) -> exp.Expr:
        """``in``: a null value matches blanks. ``not_in`` keeps blanks unless null is listed
        (as Power BI's basic filter does)."""
        values = [coerce(ref, value) for value in item.values if value is not None]
        with_null = any(value is None for value in item.values)
        params: list[exp.Expr] = [self.params.add(value) for value in dict.fromkeys(values)]
        is_null = exp.Is(this=column.copy(), expression=exp.null())
        if isinstance(item, InFilter):
            if not params:
                return is_null
            member = exp.In(this=column, expressions=params)
            return exp.Paren(this=exp.Or(this=member, expression=is_null)) if with_null else member
        if not params:
            return exp.Not(this=is_null)
        outside = exp.Not(this=exp.In(this=column, expressions=params))
        if with_null:
            return exp.And(this=outside, expression=exp.Not(this=is_null))
        return exp.Paren(this=exp.Or(this=outside, expression=is_null))

    def _range(self, ref: FieldRef, column: exp.Column, item: RangeFilter) -> exp.Expr:
        if ref.type == "boolean":
            raise InvalidQuery(
                f"a range filter needs a number, date or text field; {ref.name!r} is boolean",
                code="invalid_filter",
            )
        if item.min is None and item.max is None:
            raise InvalidQuery("a range filter needs a min, a max or both", code="invalid_filter")
        parts: list[exp.Expr] = []
        if item.min is not None:
            low = coerce(ref, item.min, numbers_only=True)
            parts.append(exp.GTE(this=column.copy(), expression=self.params.add(low)))
        if item.max is not None:
            high, inclusive = range_upper(ref, item.max)
            node = exp.LTE if inclusive else exp.LT
            parts.append(node(this=column.copy(), expression=self.params.add(high)))
        return exp.and_(*parts)

    def _relative(self, ref: FieldRef, column: exp.Column, item: RelativeDateFilter) -> exp.Expr:
        if ref.type not in {"date", "timestamp"}:
            raise InvalidQuery(
                f"a relative_date filter needs a date field; {ref.name!r} is {ref.type}",
                code="invalid_filter",
            )
        low, high = relative_bounds(
            self.today, item.unit, item.last, include_current=item.include_current
        )
        bounds: list[dt.date] = [low, high]
        if ref.type == "timestamp":
            bounds = [dt.datetime.combine(day, dt.time()) for day in bounds]
        return exp.and_(
            exp.GTE(this=column.copy(), expression=self.params.add(bounds[0])),
            exp.LT(this=column.copy(), expression=self.params.add(bounds[1])),
        )

    def _top(self, item: TopFilter, others: list[RowFilter]) -> RowFilter:
        from connectors.query.grouping import Grouped  # noqa: PLC0415 - they use each other

        ref = resolve_field(self.schema, item.field, where="filters")
        measure = self.measure(item.by)
        grouped = Grouped(self, [Dim(ref, None, ref.name)], others, prefix=self.fresh("t") + "_")
        value = grouped.measure_sql(measure.expr, implicit=measure.implicit)
        inner = grouped.select([("v", grouped.dim_column(0)), ("m", value)])
        ranked = (
            exp.select(exp.column("v"))
            .from_(inner.subquery("r"), copy=False)
            .where(exp.Not(this=exp.Is(this=exp.column("v"), expression=exp.null())), copy=False)
            .order_by(
                exp.Ordered(this=exp.column("m"), desc=not item.bottom, nulls_first=False),
                exp.Ordered(this=exp.column("v"), desc=False, nulls_first=False),
            )
            .limit(self.params.add(item.n))
        )
        name = self.fresh("top")
        self.add_cte(name, ranked)
        member = exp.In(
            this=self.column(ref),
            query=exp.select(exp.column("v")).from_(table(name), copy=False).subquery(),
        )
        return RowFilter(ref.key, member)


def field_aggregate(ref: FieldRef, agg: str) -> Agg:
    """A spec ``{"field", "agg"}`` as an aggregate, with the measure language's type rules."""
    func = _SPEC_AGGREGATES[agg]
    if func in {"sum", "avg", "median"} and ref.type not in {"integer", "decimal"}:
        raise InvalidQuery(
            f"cannot {agg} field {ref.name!r}: it is {ref.type}; "
            "sum, avg and median need a number field",
            code="invalid_aggregation",
        )
    typ: FieldType
    if func in {"count", "distinct_count"}:
        typ = "integer"
    elif func in {"avg", "median"}:
        typ = "decimal"
    else:
        typ = ref.type
    return Agg(func, Col(ref), typ)


def finest(dims: Sequence[Dim], key: str) -> int | None:
    """The index of the finest period dimension on field ``key``, if any."""
    candidates = [
        (GRAIN_ORDER.index(dim.period), index)
        for index, dim in enumerate(dims)
        if dim.ref.key == key and dim.period is not None
    ]
    return min(candidates)[1] if candidates else None


@functools.lru_cache(maxsize=256)
def _parsed_relation(relation: str, dialect: str) -> exp.Expr:
    """A relation parsed once (every query of a dataset names the same one); callers copy it."""
    parsed = sqlglot.parse_one(f"SELECT * FROM {relation}", read=dialect)  # noqa: S608 - trusted
    source = parsed.args.get("from_")
    if not isinstance(source, exp.From) or parsed.args.get("joins") or parsed.args.get("where"):
        raise ValueError(f"not a relation: {relation!r}")
    relation_sql: exp.Expr = source.this
    return relation_sql
