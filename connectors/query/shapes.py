"""Compiling once per spec *shape*.

A spec's values (filter values and bounds, a top filter's n, the limit) become bound
parameters, so two specs that differ only in values — a slicer moved, a range dragged —
compile to the same SQL text with different parameters. `ShapeMemo` remembers, per shape,
the compiled query and where each of its parameters comes from, and answers a spec of a known
shape by putting the new values in place: no tree to build, no SQL to write.

A shape is the spec with every value replaced by what the SQL's structure depends on: for an
``in``/``not_in`` filter the number of distinct values (after they are checked and converted
exactly as the compiler does) and whether ``null`` is among them; for a range which bounds are
given and whether the upper one is inclusive; every value's Python type. A relative-date filter
stays whole (its bounds come from ``today``, part of the key). A compiled query is only
remembered when each of its shape's values appears exactly once among its parameters, so no
parameter can be taken for another; otherwise that shape is simply compiled every time.
tests/connectors/test_query_shapes.py checks on random pairs of specs that a remembered shape
answers exactly what compiling afresh answers.
"""

from __future__ import annotations

from collections.abc import Callable, Hashable
from dataclasses import dataclass
from typing import Any

from connectors.plugin import CompiledQuery
from connectors.query.names import resolve_field
from connectors.query.spec import (
    InFilter,
    NotInFilter,
    QuerySpec,
    RangeFilter,
    RelativeDateFilter,
    TopFilter,
)
from connectors.query.values import coerce, range_upper
from domain.dataset.schema import DatasetSchema

#: Shapes remembered per memo (oldest dropped first).
SHAPES_KEPT = 2048


@dataclass(frozen=True)
class _Remembered:
    compiled: CompiledQuery
    #: Per parameter: the index of the shape value it takes, or None (a constant: kept).
    sources: tuple[int | None, ...]


def shape_of(spec: QuerySpec, schema: DatasetSchema) -> tuple[Hashable, list[Any]]:
    """(the spec's shape, its values in a fixed order). Raises `InvalidQuery` for a value the
    compiler would refuse."""
    parts: list[Hashable] = []
    values: list[Any] = []
    for item in spec.filters:
        if isinstance(item, InFilter | NotInFilter):
            ref = resolve_field(schema, item.field, where="filters")
            distinct = list(dict.fromkeys(coerce(ref, v) for v in item.values if v is not None))
            with_null = any(v is None for v in item.values)
            parts.append((type(item).__name__, item.field, with_null, _types(distinct)))
            values += distinct
        elif isinstance(item, RangeFilter):
            ref = resolve_field(schema, item.field, where="filters")
            low = None if item.min is None else coerce(ref, item.min, numbers_only=True)
            high, inclusive = (None, None) if item.max is None else range_upper(ref, item.max)
            given = [v for v, bound in ((low, item.min), (high, item.max)) if bound is not None]
            parts.append(("range", item.field, item.min is None, item.max is None, inclusive))
            parts.append(_types(given))
            values += given
        elif isinstance(item, TopFilter):
            parts.append(("top", item.field, item.by, item.bottom))
            values.append(item.n)
        else:
            assert isinstance(item, RelativeDateFilter)
            parts.append(item)
    values.append(spec.limit)
    return (spec.dimensions, spec.measures, tuple(parts), spec.sort), values


def _types(values: list[Any]) -> tuple[str, ...]:
    return tuple(type(v).__name__ for v in values)


def _typed(value: Any) -> tuple[str, Any]:
    """A value with its type: ``True`` is not ``1``, ``1.0`` is not ``1``."""
    return type(value).__name__, value


class ShapeMemo:
    def __init__(self, capacity: int = SHAPES_KEPT) -> None:
        self.capacity = capacity
        self._kept: dict[Hashable, _Remembered | None] = {}

    def compile(
        self,
        key: Hashable,
        spec: QuerySpec,
        schema: DatasetSchema,
        compile_fresh: Callable[[], CompiledQuery],
    ) -> CompiledQuery:
        """``spec`` compiled, from a remembered shape when ``key`` (what else the SQL depends
        on: the dataset and its version, the relation, the dialect, today) and the shape match.
        """
        shape, values = shape_of(spec, schema)
        full_key = (key, shape)
        remembered = self._kept.get(full_key)
        if remembered is not None:
            params = tuple(
                values[source] if source is not None else constant
                for source, constant in zip(
                    remembered.sources, remembered.compiled.params, strict=True
                )
            )
            compiled = remembered.compiled
            return CompiledQuery(
                sql=compiled.sql, params=params, columns=compiled.columns, dialect=compiled.dialect
            )
        compiled = compile_fresh()
        if full_key not in self._kept:
            if len(self._kept) >= self.capacity:
                self._kept.pop(next(iter(self._kept)))
            self._kept[full_key] = _remember(compiled, values)
        return compiled


def _remember(compiled: CompiledQuery, values: list[Any]) -> _Remembered | None:
    """Where each parameter comes from; None when a shape value is not exactly one parameter
    (it could not be told apart)."""
    try:
        typed = [_typed(v) for v in values]
        if len(set(typed)) != len(typed):
            return None
        where = {value: index for index, value in enumerate(typed)}
        sources = tuple(where.get(_typed(param)) for param in compiled.params)
    except TypeError:  # an unhashable parameter: not worth remembering
        return None
    found = [s for s in sources if s is not None]
    if sorted(found) != list(range(len(values))):
        return None
    return _Remembered(compiled, sources)
