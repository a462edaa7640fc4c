"""Differential test: random query specs over the same rows give the same answer in DuckDB
(over Parquet) and in PostgreSQL (a table with numeric and int4 columns), floats within 1e-9.

The specs use every kind of dimension (fields, date grains, calculated columns), every spec
aggregation, the measure library of tests/connectors/query_support.py (CALCULATE, ALL,
DIVIDE, IF, SWITCH, time intelligence when a date grain is grouped by), every filter op, sorts
and limits."""

from __future__ import annotations

import datetime as dt
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from connectors.query import (
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
)
from connectors.query.spec import Dimension
from tests.connectors.query_support import Dataset, Engines, same_rows

GRAINS = ("year", "quarter", "month", "week", "day")
TIME_MEASURES = frozenset({"YTD", "Last Year", "Previous Month", "Growth"})
#: Per dataset: dimensions, (field, aggregations) pairs, values to filter on, range bounds.
SHAPES: dict[str, dict[str, Any]] = {
    "stocks": {
        "dims": ["Symbol", "Year", "Expensive", "Label", "Price"],
        "dates": ["Date", "Moment"],
        "aggs": [
            ("Price", ["sum", "avg", "min", "max", "count", "distinct_count", "median"]),
            ("Symbol", ["min", "max", "count", "distinct_count"]),
            ("Date", ["min", "max", "count"]),
            ("Year", ["sum", "avg", "max"]),
            ("Expensive", ["min", "max", "count"]),
        ],
        "values": {
            "Symbol": ["MSFT", "AMZN", "IBM", "GOOG", "AAPL", "NONE"],
            "Year": [2000, 2004, 2008, 2010],
            "Expensive": [True, False],
        },
        "ranges": {
            "Price": [10, 25.5, 50, 100, 300],
            "Date": ["2001-01-01", "2004-06-15", "2008-01-01", "2010-01-01"],
            "Moment": ["2003-01-01", "2007-03-01T10:00:00", "2009-12-31"],
            "Symbol": ["B", "H", "M"],
        },
    },
    "cars": {
        "dims": ["Origin", "Cylinders", "Heavy", "Horsepower"],
        "dates": ["Year"],
        "aggs": [
            ("MPG", ["sum", "avg", "min", "max", "count", "median"]),
            ("Horsepower", ["sum", "avg", "min", "max", "count", "distinct_count"]),
            ("Weight", ["sum", "avg", "max"]),
            ("HP per Liter", ["avg", "max", "median"]),
            ("Name", ["count", "distinct_count", "min"]),
            ("Heavy", ["min", "max"]),
        ],
        "values": {
            "Origin": ["USA", "Europe", "Japan"],
            "Cylinders": [3, 4, 6, 8],
            "Horsepower": [None, 88, 150],
            "Heavy": [True, False, None],
        },
        "ranges": {
            "MPG": [15, 20.5, 30],
            "Horsepower": [70, 100, 200],
            "Year": ["1972-01-01", "1976-06-01", "1980-01-01"],
        },
    },
}


@st.composite
def dimensions(draw: st.DrawFn, shape: dict[str, Any]) -> list[Dimension]:
    plain = draw(st.lists(st.sampled_from(shape["dims"]), max_size=2, unique=True))
    dims: list[Dimension] = list(plain)
    if draw(st.booleans()):
        field = draw(st.sampled_from(shape["dates"]))
        dims.append(GrainDimension(field=field, grain=draw(st.sampled_from(GRAINS))))
    return draw(st.permutations(dims))


@st.composite
def aggregate_items(draw: st.DrawFn, shape: dict[str, Any]) -> MeasureItem:
    field, aggs = draw(st.sampled_from(shape["aggs"]))
    return MeasureItem(field=field, agg=draw(st.sampled_from(aggs)))


def measure_items(
    dataset: Dataset, shape: dict[str, Any], *, time: bool
) -> st.SearchStrategy[MeasureItem]:
    names = [m.name for m in dataset.schema.measures if time or m.name not in TIME_MEASURES]
    return st.one_of(
        aggregate_items(shape), st.sampled_from(names).map(lambda name: MeasureItem(measure=name))
    )


@st.composite
def filters(draw: st.DrawFn, dataset: Dataset, shape: dict[str, Any]) -> Filter:
    kind = draw(st.sampled_from(["in", "not_in", "range", "relative_date", "top"]))
    if kind in {"in", "not_in"}:
        field = draw(st.sampled_from(sorted(shape["values"])))
        values = tuple(
            draw(st.lists(st.sampled_from(shape["values"][field]), min_size=1, max_size=3))
        )
        return (
            InFilter(field=field, values=values)
            if kind == "in"
            else NotInFilter(field=field, values=values)
        )
    if kind == "range":
        field = draw(st.sampled_from(sorted(shape["ranges"])))
        bounds = sorted(
            draw(st.lists(st.sampled_from(shape["ranges"][field]), min_size=2, max_size=2)), key=str
        )
        low, high = draw(
            st.sampled_from([(bounds[0], bounds[1]), (bounds[0], None), (None, bounds[1])])
        )
        if isinstance(low, (int, float)) and isinstance(high, (int, float)) and low > high:
            low, high = high, low
        return RangeFilter(field=field, min=low, max=high)
    if kind == "relative_date":
        return RelativeDateFilter(
            field=draw(st.sampled_from(shape["dates"])),
            unit=draw(st.sampled_from(GRAINS)),
            last=draw(st.integers(1, 30)),
            include_current=draw(st.booleans()),
        )
    field = draw(st.sampled_from(shape["dims"][:2]))
    return TopFilter(
        field=field,
        n=draw(st.integers(1, 4)),
        by=draw(measure_items(dataset, shape, time=False)),
        bottom=draw(st.booleans()),
    )


@st.composite
def specs(draw: st.DrawFn, datasets: dict[str, Dataset]) -> tuple[Dataset, QuerySpec, dt.date]:
    dataset = datasets[draw(st.sampled_from(sorted(datasets)))]
    shape = SHAPES[dataset.name]
    dims = draw(dimensions(shape))
    time = any(isinstance(d, GrainDimension) and d.field == "Date" for d in dims)
    measures = draw(
        st.lists(measure_items(dataset, shape, time=time), max_size=3, min_size=0 if dims else 1)
    )
    unique: dict[str, MeasureItem] = {}
    for item in measures:
        unique.setdefault((item.measure or f"{item.field} ({item.agg})").casefold(), item)
    outputs = [d if isinstance(d, str) else f"{d.field} ({d.grain})" for d in dims] + [
        item.measure or f"{item.field} ({item.agg})" for item in unique.values()
    ]
    sort = draw(st.lists(st.sampled_from(outputs), max_size=2, unique=True)) if outputs else []
    spec = QuerySpec(
        dimensions=tuple(dims),
        measures=tuple(unique.values()),
        filters=tuple(draw(st.lists(filters(dataset, shape), max_size=2))),
        sort=tuple(Sort(by=name, desc=draw(st.booleans())) for name in sort),
        limit=draw(st.sampled_from([1, 3, 10, 100_000])),
    )
    today = draw(st.sampled_from([dt.date(2010, 3, 15), dt.date(2008, 1, 1), dt.date(1978, 7, 4)]))
    return dataset, spec, today


def test_duckdb_and_postgresql_give_the_same_answers(query_engines: Engines) -> None:
    @settings(
        max_examples=120,
        deadline=None,
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
        derandomize=False,
    )
    @given(case=specs(query_engines.datasets))
    def check(case: tuple[Dataset, QuerySpec, dt.date]) -> None:
        dataset, spec, today = case
        duck, pg = query_engines.both(dataset, spec, today=today)
        assert same_rows(duck, pg), (spec, duck[:5], pg[:5])

    check()
