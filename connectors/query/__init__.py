"""The query compiler: a query spec (connectors/query/spec.py) → SQL for DuckDB or PostgreSQL
(connectors/query/compiler.py), measures included (connectors/measures). Pure code: it reads
the dataset schema and writes SQL text and bound values; the connectors run it."""

from __future__ import annotations

from connectors.query.compiler import compile_count, compile_preview, compile_query
from connectors.query.spec import (
    MAX_LIMIT,
    Filter,
    GrainDimension,
    InFilter,
    MeasureItem,
    NotInFilter,
    QuerySpec,
    RangeFilter,
    RelativeDateFilter,
    Sort,
    TopFilter,
    decode_spec,
)

__all__ = [
    "MAX_LIMIT",
    "Filter",
    "GrainDimension",
    "InFilter",
    "MeasureItem",
    "NotInFilter",
    "QuerySpec",
    "RangeFilter",
    "RelativeDateFilter",
    "Sort",
    "TopFilter",
    "compile_count",
    "compile_preview",
    "compile_query",
    "decode_spec",
]
