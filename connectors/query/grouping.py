"""One grouped query: result rows = the dimension values present in the filtered rows, and
measures evaluated per row in DAX's filter context.

A measure becomes a scalar expression over *aggregate slots*. A slot is an aggregate computed
in some filter context (`Context`):

- in the query's own context, slots are columns of ``<p>grouped`` (``GROUP BY`` the
  dimensions over ``<p>rows``, the filtered base rows);
- in a context CALCULATE changed, slots are columns of their own CTE ``<p>calcN``: the base
  rows under the changed filters, grouped by the dimensions whose row values still apply,
  LEFT JOINed to ``<p>grouped`` on those (null-safe);
- with time intelligence, the CTE joins each result row's period (of the date dimension) to
  the base rows whose date falls in the moved period, then groups by the result row: correct
  for every aggregate, additive or not.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

from sqlglot import exp

from connectors.errors import InvalidQuery
from connectors.measures.ir import Agg, Calc, Expr, FieldRef, ShiftMod
from connectors.query.compilation import Compilation, Dim, RowFilter, finest
from connectors.query.context import Context
from connectors.query.expressions import ExpressionSql
from connectors.query.sqlparts import (
    aggregate,
    cast,
    collated,
    date_trunc,
    interval,
    null_safe_eq,
    table,
)

_COUNTS = frozenset({"count", "distinct_count", "countrows"})


@dataclass
class _Slots:
    """The aggregates computed in one filter context, by the alias of their column."""

    name: str
    aliases: dict[Agg, str] = field(default_factory=dict)

    def alias(self, agg: Agg, stem: str) -> str:
        return self.aliases.setdefault(agg, f"{stem}{len(self.aliases)}")


class Grouped:
    def __init__(
        self, comp: Compilation, dims: Sequence[Dim], filters: Sequence[RowFilter], prefix: str
    ) -> None:
        self.comp = comp
        self.dims = list(dims)
        self.filters = list(filters)
        self.prefix = prefix
        self.main = _Slots(f"{prefix}grouped")
        self.contexts: dict[Context, _Slots] = {}
        self._stack: list[Context] = [Context()]
        self._implicit = False

    def dim_column(self, index: int) -> exp.Column:
        return exp.column(f"d{index}", table=self.main.name)

    # ---------------------------------------------------------------- measures

    def measure_sql(self, expr: Expr, *, implicit: bool = False) -> exp.Expr:
        """A measure as an expression over the slots of this query (registered as needed).
        ``implicit``: a spec aggregate, whose count of nothing is 0 (a measure's is blank)."""
        self._implicit = implicit
        lowering = ExpressionSql(
            self.comp.dialect,
            self.comp.params,
            today=self.comp.today,
            column=self._no_column,
            aggregate=self._aggregate,
            calculate=lambda calc: self._calculate(calc, lowering),
        )
        return cast(lowering.sql(expr), expr.type)

    def _no_column(self, ref: FieldRef) -> exp.Expr:  # pragma: no cover - binder refuses
        raise InvalidQuery(f"column [{ref.name}] must be aggregated in a measure")

    def _aggregate(self, agg: Agg) -> exp.Expr:
        context = self._stack[-1]
        if context.is_query:
            slots, stem = self.main, "s"
        else:
            if context not in self.contexts:
                self.contexts[context] = _Slots(self.comp.fresh(f"{self.prefix}calc"))
            slots, stem = self.contexts[context], "v"
        ref: exp.Expr = exp.column(slots.alias(agg, stem), table=slots.name)
        if agg.func in _COUNTS and not self._implicit:  # DAX: a count of nothing is blank
            ref = exp.Nullif(this=ref, expression=exp.Literal.number(0))
        return ref

    def _calculate(self, calc: Calc, lowering: ExpressionSql) -> exp.Expr:
        context = self._stack[-1]
        for mod in calc.mods:
            context = context.apply(mod)
        self._stack.append(context)
        try:
            return lowering.sql(calc.body)
        finally:
            self._stack.pop()

    # ---------------------------------------------------------------- SQL

    def select(self, outputs: Sequence[tuple[str, exp.Expr]]) -> exp.Select:
        """``SELECT outputs FROM <p>grouped LEFT JOIN <p>calcN …``; adds the CTEs it needs."""
        self._rows_and_grouped()
        select = exp.select(
            *(
                exp.alias_(collated(sql, "text", self.comp.dialect) if _is_text(sql) else sql, a)
                for a, sql in outputs
            )
        ).from_(table(self.main.name), copy=False)
        for context, slots in self.contexts.items():
            joined = self._context_cte(context, slots)
            keys = [
                null_safe_eq(self.dim_column(i), exp.column(f"d{i}", table=slots.name))
                for i in joined
            ]
            on = exp.and_(*keys) if keys else exp.true()
            select = select.join(table(slots.name), on=on, join_type="left", copy=False)
        return select

    def _args(self, slots: _Slots) -> list[exp.Expr]:
        return [
            exp.alias_(self.comp.row_sql(agg.arg), f"a{index}")
            for index, agg in enumerate(slots.aliases)
            if agg.arg is not None
        ]

    def _aggregates(self, slots: _Slots, table: str) -> list[exp.Expr]:
        return [
            exp.alias_(
                aggregate(
                    agg.func,
                    exp.column(f"a{index}", table=table) if agg.arg is not None else None,
                    agg.arg.type if agg.arg is not None else "integer",
                    self.comp.dialect,
                ),
                alias,
            )
            for index, (agg, alias) in enumerate(slots.aliases.items())
        ]

    def _where(self, conditions: list[exp.Expr], select: exp.Select) -> exp.Select:
        return select.where(exp.and_(*conditions), copy=False) if conditions else select

    def _rows_and_grouped(self) -> None:
        rows_name = f"{self.prefix}filtered"
        dims = [exp.alias_(self.comp.dim_sql(dim), f"d{i}") for i, dim in enumerate(self.dims)]
        columns = dims + self._args(self.main)
        rows = exp.select(*(columns or [exp.alias_(exp.Literal.number(1), "one")])).from_(
            table("base"), copy=False
        )
        rows = self._where([f.condition.copy() for f in self.filters], rows)
        self.comp.add_cte(rows_name, rows)
        grouped_columns = [exp.column(f"d{i}") for i in range(len(self.dims))]
        measures = self._aggregates(self.main, rows_name)
        grouped = exp.select(*(grouped_columns + measures or [exp.Count(this=exp.Star())]))
        grouped = grouped.from_(table(rows_name), copy=False)
        if grouped_columns:
            grouped = grouped.group_by(*(column.copy() for column in grouped_columns), copy=False)
        self.comp.add_cte(self.main.name, grouped)

    def _conditions(self, context: Context) -> list[exp.Expr]:
        kept = [f.condition.copy() for f in self.filters if context.keeps(f.key)]
        added = [self.comp.row_sql(mod.condition) for mod in context.filters]
        return kept + added

    def _context_cte(self, context: Context, slots: _Slots) -> list[int]:
        """Adds the CTE of ``context``'s slots; the indexes of the dimensions it joins on."""
        kept = [i for i, dim in enumerate(self.dims) if context.keeps(dim.ref.key)]
        dims = [exp.alias_(self.comp.dim_sql(self.dims[i]), f"d{i}") for i in kept]
        if context.time_field is not None:
            return self._time_cte(context, slots, kept, dims)
        inner = exp.select(
            *(dims + self._args(slots) or [exp.alias_(exp.Literal.number(1), "one")])
        )
        inner = self._where(self._conditions(context), inner.from_(table("base"), copy=False))
        columns = [exp.column(f"d{i}", table="r") for i in kept]
        select = exp.select(*columns, *self._aggregates(slots, "r")).from_(
            inner.subquery("r"), copy=False
        )
        if columns:
            select = select.group_by(*(column.copy() for column in columns), copy=False)
        self.comp.add_cte(slots.name, select)
        return kept

    def _time_cte(
        self, context: Context, slots: _Slots, kept: list[int], dims: list[exp.Expr]
    ) -> list[int]:
        field_ref = context.time_field
        assert field_ref is not None
        period = finest(self.dims, field_ref.key)
        if period is None:
            raise InvalidQuery(
                f"time intelligence on [{field_ref.name}] needs the query grouped by "
                f"[{field_ref.name}] at a grain (year, quarter, month, week or day)",
                code="needs_date_dimension",
            )
        moment = exp.alias_(self.comp.column(field_ref), "t")
        inner = exp.select(*dims, moment, *self._args(slots)).from_(table("base"), copy=False)
        inner = self._where(self._conditions(context), inner)
        low, high = self._bounds(context, period)
        on = [
            null_safe_eq(exp.column(f"d{i}", table="k"), exp.column(f"d{i}", table="r"))
            for i in kept
        ]
        on += [
            exp.GTE(this=exp.column("t", table="r"), expression=low),
            exp.LT(this=exp.column("t", table="r"), expression=high),
        ]
        keys = [exp.column(f"d{i}", table="k") for i in range(len(self.dims))]
        select = (
            exp.select(*keys, *self._aggregates(slots, "r"))
            .from_(table(self.main.name).as_("k"), copy=False)
            .join(inner.subquery("r"), on=exp.and_(*on), copy=False)
            .group_by(*(key.copy() for key in keys), copy=False)
        )
        self.comp.add_cte(slots.name, select)
        return list(range(len(self.dims)))

    def _bounds(self, context: Context, period: int) -> tuple[exp.Expr, exp.Expr]:
        """``[low, high)`` of the result row's period after the context's time steps."""
        unit = self.dims[period].period
        assert unit is not None
        start: exp.Expr = exp.column(f"d{period}", table="k")
        end: exp.Expr = exp.Add(this=start.copy(), expression=interval(1, unit))
        for mod in context.time:
            if isinstance(mod, ShiftMod):
                start = exp.Add(this=start, expression=interval(mod.n, mod.unit))
                last_day = exp.Sub(this=end, expression=interval(1, "day"))
                moved = exp.Add(this=last_day, expression=interval(mod.n, mod.unit))
                end = exp.Add(this=moved, expression=interval(1, "day"))
            else:
                last_day = exp.Sub(this=end.copy(), expression=interval(1, "day"))
                start = date_trunc(mod.unit, last_day)
        return start, end


def _is_text(sql: exp.Expr) -> bool:
    return isinstance(sql, exp.Cast) and sql.to.this == exp.DataType.Type.TEXT
