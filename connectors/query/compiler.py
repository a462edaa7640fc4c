"""Query spec → SQL for one dialect (`compile_query`), and the raw-rows preview
(`compile_preview`, `compile_count`). docs/query-spec.md is the manual.

Result order is always total, so DuckDB and PostgreSQL return the same rows in the same
order: the requested sort keys, then every dimension (or, in a preview, every column)
ascending; NULLs last in both directions.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence

from sqlglot import exp

from connectors.errors import InvalidQuery
from connectors.plugin import CompiledQuery, OutputColumn
from connectors.query.compilation import Compilation
from connectors.query.dialects import check_dialect
from connectors.query.grouping import Grouped
from connectors.query.names import near, resolve_field
from connectors.query.spec import MAX_LIMIT, MAX_PREVIEW_LIMIT, Filter, QuerySpec, Sort
from connectors.query.sqlparts import cast_to, normalized, table
from domain.dataset.schema import DatasetSchema, FieldType


def compile_query(
    spec: QuerySpec,
    schema: DatasetSchema,
    *,
    relation: str,
    dialect: str,
    today: dt.date,
) -> CompiledQuery:
    """The SQL answering ``spec`` over ``relation`` (trusted FROM text written by the
    connector). ``today`` anchors relative dates. `InvalidQuery` names what is wrong."""
    sql_dialect = check_dialect(dialect)
    if not spec.dimensions and not spec.measures:
        raise InvalidQuery("a query needs at least one dimension or measure", code="empty_query")
    _check_limit(spec.limit, MAX_LIMIT)
    comp = Compilation(schema, sql_dialect, today)
    dims = [comp.dimension(item) for item in spec.dimensions]
    measures = [comp.measure(item) for item in spec.measures]
    names = [dim.name for dim in dims] + [measure.name for measure in measures]
    _check_unique(names)
    grouped = Grouped(comp, dims, comp.filters(spec.filters), prefix="")
    outputs: list[tuple[str, exp.Expr]] = [
        (f"c{i}", grouped.dim_column(i)) for i in range(len(dims))
    ]
    outputs += [
        (f"c{len(dims) + i}", grouped.measure_sql(measure.expr, implicit=measure.implicit))
        for i, measure in enumerate(measures)
    ]
    select = grouped.select(outputs)
    order = _order(spec.sort, names, tie_breaks=range(len(dims)))
    if order:
        select = select.order_by(*order, copy=False)
    select = select.limit(comp.params.add(spec.limit))
    types: list[FieldType] = [dim.type for dim in dims] + [m.type for m in measures]
    return _compiled(comp, select, relation, names, types)


def compile_preview(
    schema: DatasetSchema,
    *,
    relation: str,
    dialect: str,
    columns: Sequence[str] | None = None,
    filters: Sequence[Filter] = (),
    sort: Sequence[Sort] = (),
    offset: int = 0,
    limit: int = 100,
    today: dt.date | None = None,
) -> CompiledQuery:
    """A page of raw rows: ``columns`` (default: every visible field, then the calculated
    columns) under ``filters``, ordered by ``sort`` then every column."""
    sql_dialect = check_dialect(dialect)
    _check_limit(limit, MAX_PREVIEW_LIMIT)
    if isinstance(offset, bool) or not isinstance(offset, int) or offset < 0:
        raise InvalidQuery(f"offset must be a whole number >= 0, got {offset!r}")
    comp = Compilation(schema, sql_dialect, today or _today())
    if columns is None:
        names = [f.name for f in schema.fields if not f.hidden]
        names += [c.name for c in schema.calculated_columns]
    else:
        names = list(columns)
    refs = [resolve_field(schema, name, where="columns") for name in names]
    names = [ref.name for ref in refs]
    if not refs:
        raise InvalidQuery("a preview needs at least one column", code="empty_query")
    _check_unique(names)
    conditions = [item.condition for item in comp.filters(filters)]
    select = exp.select(
        *(exp.alias_(normalized(comp.column(ref), ref.type), f"c{i}") for i, ref in enumerate(refs))
    ).from_(table("base"), copy=False)
    if conditions:
        select = select.where(exp.and_(*conditions), copy=False)
    select = select.order_by(*_order(sort, names, tie_breaks=range(len(refs))), copy=False)
    select = select.limit(comp.params.add(limit)).offset(comp.params.add(offset))
    return _compiled(comp, select, relation, names, [ref.type for ref in refs])


def compile_count(
    schema: DatasetSchema,
    *,
    relation: str,
    dialect: str,
    filters: Sequence[Filter] = (),
    today: dt.date | None = None,
) -> CompiledQuery:
    """The number of rows under ``filters`` (one column, ``rows``)."""
    comp = Compilation(schema, check_dialect(dialect), today or _today())
    conditions = [item.condition for item in comp.filters(filters)]
    select = exp.select(exp.alias_(cast_to(exp.Count(this=exp.Star()), "BIGINT"), "c0"))
    select = select.from_(table("base"), copy=False)
    if conditions:
        select = select.where(exp.and_(*conditions), copy=False)
    return _compiled(comp, select, relation, ["rows"], ["integer"])


def _today() -> dt.date:
    return dt.datetime.now(tz=dt.UTC).date()


def _compiled(
    comp: Compilation,
    select: exp.Select,
    relation: str,
    names: Sequence[str],
    types: Sequence[FieldType],
) -> CompiledQuery:
    return CompiledQuery(
        sql=comp.finish(select, relation),
        params=tuple(comp.params.values),
        columns=tuple(OutputColumn(name=n, type=t) for n, t in zip(names, types, strict=True)),
        dialect=comp.dialect,
    )


def _check_limit(limit: int, maximum: int) -> None:
    if isinstance(limit, bool) or not isinstance(limit, int) or not 1 <= limit <= maximum:
        raise InvalidQuery(f"limit must be between 1 and {maximum}, got {limit!r}")


def _check_unique(names: Sequence[str]) -> None:
    seen: set[str] = set()
    for name in names:
        if name.casefold() in seen:
            raise InvalidQuery(
                f'two output columns are named {name!r}; name one differently with "as"',
                code="duplicate_output",
            )
        seen.add(name.casefold())


def _order(sort: Sequence[Sort], names: Sequence[str], *, tie_breaks: range) -> list[exp.Ordered]:
    """The ORDER BY keys: ``sort`` by output name, then ``tie_breaks`` (output indexes)
    ascending; NULLs last in both directions."""
    index = {name.casefold(): i for i, name in enumerate(names)}
    keys: list[exp.Ordered] = []
    used: set[int] = set()
    for item in sort:
        position = index.get(item.by.casefold())
        if position is None:
            raise InvalidQuery(
                f"cannot sort by {item.by!r}: not an output column{near(item.by, list(names))}",
                code="unknown_sort",
            )
        if position in used:
            continue
        used.add(position)
        keys.append(exp.Ordered(this=exp.column(f"c{position}"), desc=item.desc, nulls_first=False))
    keys += [
        exp.Ordered(this=exp.column(f"c{i}"), desc=False, nulls_first=False)
        for i in tie_breaks
        if i not in used
    ]
    return keys
