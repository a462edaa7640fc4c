"""Compiling once per spec shape answers exactly what compiling afresh does: for random pairs
of specs that differ only in their values, the second one taken from the first one's
remembered shape has the same SQL and the same parameters as compiling it anew."""

from __future__ import annotations

import datetime as dt
from typing import Any

import msgspec
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from connectors.errors import InvalidQuery
from connectors.plugin import CompiledQuery
from connectors.query import QuerySpec, compile_query
from connectors.query.shapes import ShapeMemo, shape_of
from tests.connectors.query_support import stocks

SCHEMA = stocks().schema
RELATION = "read_parquet('/data/stocks.parquet')"
TODAY = dt.date(2010, 3, 15)
MEASURE_NAMES = [
    m.name
    for m in SCHEMA.measures
    if m.name not in {"YTD", "Last Year", "Previous Month", "Growth"}
]

symbols = st.sampled_from(["MSFT", "AMZN", "IBM", "GOOG", "AAPL", "NONE", "o'brien", 'q"x'])
prices = st.one_of(
    st.integers(-5, 700), st.floats(-5, 700, allow_nan=False).map(lambda f: round(f, 2))
)
dates = st.dates(dt.date(1999, 1, 1), dt.date(2011, 12, 31)).map(dt.date.isoformat)
moments = st.one_of(
    dates,
    st.datetimes(dt.datetime(1999, 1, 1), dt.datetime(2011, 1, 1)).map(  # noqa: DTZ001 - naive by design
        lambda d: d.isoformat()
    ),
)
years = st.integers(1998, 2012)


def _values_for(field: str) -> st.SearchStrategy[Any]:
    return {
        "Symbol": symbols,
        "Price": prices,
        "Date": dates,
        "Moment": moments,
        "Year": years,
        "Expensive": st.booleans(),
    }[field]


@st.composite
def structures(draw: st.DrawFn) -> dict[str, Any]:
    """A spec's structure: dimensions, measures, and filters with their fields and ops."""
    dims = draw(
        st.lists(
            st.sampled_from(["Symbol", "Year", "Expensive", {"field": "Date", "grain": "month"}]),
            max_size=2,
            unique_by=str,
        )
    )
    measures = draw(
        st.lists(
            st.one_of(
                st.sampled_from(MEASURE_NAMES).map(lambda n: {"measure": n}),
                st.sampled_from(["sum", "avg", "max", "count"]).map(
                    lambda a: {"field": "Price", "agg": a}
                ),
            ),
            min_size=1,
            max_size=2,
            unique_by=str,
        )
    )
    filters = draw(
        st.lists(
            st.one_of(
                st.tuples(
                    st.sampled_from(["in", "not_in"]),
                    st.sampled_from(["Symbol", "Year", "Expensive", "Date"]),
                    st.integers(1, 3),
                    st.booleans(),
                ),
                st.tuples(
                    st.just("range"),
                    st.sampled_from(["Price", "Date", "Moment", "Year"]),
                    st.booleans(),
                    st.booleans(),
                ),
                st.tuples(st.just("top"), st.just("Symbol"), st.just(0), st.booleans()),
                st.tuples(
                    st.just("relative_date"), st.just("Date"), st.integers(1, 4), st.booleans()
                ),
            ),
            max_size=3,
            unique_by=lambda f: (f[0], f[1]),
        )
    )
    return {"dims": dims, "measures": measures, "filters": filters, "limit": draw(st.booleans())}


def _fill(structure: dict[str, Any], draw: st.DrawFn) -> dict[str, Any]:
    """A spec of ``structure`` with freshly drawn values."""
    filters = []
    for op, field, a, b in structure["filters"]:
        if op in {"in", "not_in"}:
            values = draw(st.lists(_values_for(field), min_size=a, max_size=a))
            filters.append({"field": field, "op": op, "values": [*values, *([None] if b else [])]})
        elif op == "range":
            low, high = draw(_values_for(field)), draw(_values_for(field))
            bounds = {"min": low} if a else {}
            if b or not a:
                bounds["max"] = high
            filters.append({"field": field, "op": "range", **bounds})
        elif op == "top":
            filters.append(
                {
                    "field": "Symbol",
                    "op": "top",
                    "n": draw(st.integers(1, 5)),
                    "by": {"measure": "Total Price"},
                    "bottom": b,
                }
            )
        else:
            filters.append(
                {
                    "field": "Date",
                    "op": "relative_date",
                    "unit": "month",
                    "last": a,
                    "include_current": b,
                }
            )
    spec: dict[str, Any] = {
        "dimensions": structure["dims"],
        "measures": structure["measures"],
        "filters": filters,
    }
    if structure["limit"]:
        spec["limit"] = draw(st.integers(1, 1000))
    return spec


def _fresh(spec: QuerySpec) -> CompiledQuery:
    return compile_query(spec, SCHEMA, relation=RELATION, dialect="duckdb", today=TODAY)


def _compile_or_error(memo: ShapeMemo, spec: QuerySpec) -> CompiledQuery | str:
    try:
        return memo.compile("stocks", spec, SCHEMA, lambda: _fresh(spec))
    except InvalidQuery as error:
        return f"invalid: {error.code}"


def _fresh_or_error(spec: QuerySpec) -> CompiledQuery | str:
    try:
        shape_of(spec, SCHEMA)  # the memo checks values first; so does this comparison
        return _fresh(spec)
    except InvalidQuery as error:
        return f"invalid: {error.code}"


@settings(max_examples=300, deadline=None)
@given(data=st.data())
def test_a_remembered_shape_answers_what_compiling_afresh_answers(data: st.DataObject) -> None:
    structure = data.draw(structures())
    first = msgspec.convert(_fill(structure, data.draw), QuerySpec)
    second = msgspec.convert(_fill(structure, data.draw), QuerySpec)
    memo = ShapeMemo()
    _compile_or_error(memo, first)
    assert _compile_or_error(memo, second) == _fresh_or_error(second)


def test_a_slicer_move_is_not_compiled_again() -> None:
    memo = ShapeMemo()
    calls: list[QuerySpec] = []

    def fresh(spec: QuerySpec) -> CompiledQuery:
        calls.append(spec)
        return _fresh(spec)

    def spec(symbol: str, low: float) -> QuerySpec:
        return msgspec.convert(
            {
                "dimensions": ["Symbol"],
                "measures": [{"measure": "Total Price"}],
                "filters": [
                    {"field": "Symbol", "op": "in", "values": [symbol]},
                    {"field": "Price", "op": "range", "min": low},
                ],
            },
            QuerySpec,
        )

    a, b = spec("MSFT", 10.0), spec("IBM", 99.5)
    memo.compile("k", a, SCHEMA, lambda: fresh(a))
    got = memo.compile("k", b, SCHEMA, lambda: fresh(b))
    assert calls == [a]
    assert got == _fresh(b)
    assert "IBM" in got.params


def test_a_value_that_is_also_a_constant_is_never_remembered() -> None:
    # 'IBM' is both the filter's value and a literal of the IBM Total measure: the
    # parameters could not be told apart, so that shape compiles every time.
    memo = ShapeMemo()
    calls = []

    def spec(symbol: str) -> QuerySpec:
        return msgspec.convert(
            {
                "measures": [{"measure": "IBM Total"}],
                "filters": [{"field": "Symbol", "op": "in", "values": [symbol]}],
            },
            QuerySpec,
        )

    for symbol in ("IBM", "MSFT"):
        built = spec(symbol)
        got = memo.compile("k", built, SCHEMA, lambda built=built: calls.append(1) or _fresh(built))
        assert got == _fresh(built)
    assert len(calls) == 2


@pytest.mark.parametrize("bad", [{"field": "Price", "op": "in", "values": ["x"]}])
def test_values_are_checked_as_the_compiler_checks_them(bad: dict[str, Any]) -> None:
    spec = msgspec.convert({"measures": [{"measure": "Rows"}], "filters": [bad]}, QuerySpec)
    with pytest.raises(InvalidQuery, match="Price"):
        shape_of(spec, SCHEMA)
