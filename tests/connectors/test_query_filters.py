"""Filters, grains, ordering and previews, run in DuckDB and PostgreSQL and checked against
answers computed in Python from the raw rows."""

from __future__ import annotations

import datetime as dt
from collections import Counter, defaultdict
from typing import Any

import pytest

from connectors.query import (
    GrainDimension,
    InFilter,
    MeasureItem,
    NotInFilter,
    QuerySpec,
    RangeFilter,
    RelativeDateFilter,
    Sort,
    TopFilter,
    compile_count,
    compile_preview,
)
from connectors.query.spec import Filter
from tests.connectors.query_support import TODAY, Dataset, Engines, same_rows


def naive(year: int, month: int, day: int) -> dt.datetime:
    """A TIMESTAMP (no time zone), as the engines return it."""
    return dt.datetime.combine(dt.date(year, month, day), dt.time())


@pytest.fixture
def stocks(query_engines: Engines) -> Dataset:
    return query_engines.datasets["stocks"]


@pytest.fixture
def cars(query_engines: Engines) -> Dataset:
    return query_engines.datasets["cars"]


def answer(
    engines: Engines, dataset: Dataset, spec: QuerySpec, **kwargs: Any
) -> list[tuple[Any, ...]]:
    duck, pg = engines.both(dataset, spec, **kwargs)
    assert same_rows(duck, pg), (duck, pg)
    return duck


def count_rows(engines: Engines, dataset: Dataset, *filters: Filter, **kwargs: Any) -> int:
    spec = QuerySpec(
        measures=(MeasureItem(measure="Rows" if dataset.name == "stocks" else "Cars"),),
        filters=filters,
    )
    ((value,),) = answer(engines, dataset, spec, **kwargs)
    return value or 0


def test_in_with_null_matches_blanks(query_engines: Engines, cars: Dataset) -> None:
    found = count_rows(query_engines, cars, InFilter(field="Horsepower", values=(None, 150)))
    assert found == sum(1 for r in cars.rows if r["Horsepower"] in (None, 150))


def test_not_in_keeps_blanks_unless_null_is_listed(query_engines: Engines, cars: Dataset) -> None:
    kept = count_rows(query_engines, cars, NotInFilter(field="Horsepower", values=(150,)))
    assert kept == sum(1 for r in cars.rows if r["Horsepower"] != 150)
    dropped = count_rows(query_engines, cars, NotInFilter(field="Horsepower", values=(150, None)))
    assert dropped == sum(1 for r in cars.rows if r["Horsepower"] not in (150, None))


def test_range_bounds_are_inclusive(query_engines: Engines, stocks: Dataset) -> None:
    low, high = dt.date(2005, 1, 1), dt.date(2005, 6, 1)
    found = count_rows(
        query_engines, stocks, RangeFilter(field="Date", min=low.isoformat(), max=high.isoformat())
    )
    assert found == sum(1 for r in stocks.rows if low <= r["date"] <= high)
    assert found == 5 * 6


def test_a_date_only_max_on_a_timestamp_takes_the_whole_day(
    query_engines: Engines, stocks: Dataset
) -> None:
    found = count_rows(query_engines, stocks, RangeFilter(field="Moment", max="2000-01-01"))
    assert found == 4  # four symbols traded on 2000-01-01, at 09:30


@pytest.mark.parametrize(("include_current", "months"), [(True, [1, 2, 3]), (False, [12, 1, 2])])
def test_relative_date_counts_calendar_months(
    query_engines: Engines, stocks: Dataset, include_current: bool, months: list[int]
) -> None:
    rows = answer(
        query_engines,
        stocks,
        QuerySpec(
            dimensions=(GrainDimension(field="Date", grain="month"),),
            filters=(
                RelativeDateFilter(
                    field="Date", unit="month", last=3, include_current=include_current
                ),
            ),
        ),
        today=TODAY,
    )
    assert [period.month for (period,) in rows] == months


def test_week_grain_starts_on_monday(query_engines: Engines, stocks: Dataset) -> None:
    rows = answer(
        query_engines,
        stocks,
        QuerySpec(
            dimensions=(GrainDimension(field="Date", grain="week"),),
            measures=(MeasureItem(field="Price", agg="count"),),
            filters=(RangeFilter(field="Date", min="2003-01-01", max="2003-12-31"),),
        ),
    )
    expected = Counter(
        r["date"] - dt.timedelta(days=r["date"].weekday())
        for r in stocks.rows
        if r["date"].year == 2003
    )
    assert rows == sorted(expected.items())
    assert all(period.weekday() == 0 for period, _ in rows)


def test_timestamp_grain_keeps_a_timestamp(query_engines: Engines, stocks: Dataset) -> None:
    rows = answer(
        query_engines,
        stocks,
        QuerySpec(dimensions=(GrainDimension(field="Moment", grain="quarter"),), limit=2),
    )
    assert rows == [(naive(2000, 1, 1),), (naive(2000, 4, 1),)]


def test_top_keeps_the_n_highest_within_the_other_filters(
    query_engines: Engines, stocks: Dataset
) -> None:
    totals: dict[str, float] = defaultdict(float)
    for r in stocks.rows:
        if r["date"].year == 2001:
            totals[r["symbol"]] += r["price"]
    ranked = sorted(totals, key=lambda s: (-totals[s], s))
    for bottom, expected in ((False, ranked[:2]), (True, ranked[::-1][:2])):
        rows = answer(
            query_engines,
            stocks,
            QuerySpec(
                dimensions=("Symbol",),
                filters=(
                    RangeFilter(field="Date", min="2001-01-01", max="2001-12-31"),
                    TopFilter(
                        field="Symbol", n=2, by=MeasureItem(field="Price", agg="sum"), bottom=bottom
                    ),
                ),
            ),
        )
        assert [symbol for (symbol,) in rows] == sorted(expected)


def test_blanks_sort_last_in_both_directions(query_engines: Engines, cars: Dataset) -> None:
    for desc in (False, True):
        rows = answer(
            query_engines,
            cars,
            QuerySpec(dimensions=("Horsepower",), sort=(Sort(by="Horsepower", desc=desc),)),
        )
        values = [value for (value,) in rows]
        assert values[-1] is None
        assert values[:-1] == sorted(values[:-1], reverse=desc)


def test_sorting_by_a_measure_breaks_ties_by_the_dimensions(
    query_engines: Engines, cars: Dataset
) -> None:
    rows = answer(
        query_engines,
        cars,
        QuerySpec(
            dimensions=("Origin", "Cylinders"),
            measures=(MeasureItem(measure="Cars"),),
            sort=(Sort(by="cars", desc=True),),
        ),
    )
    counts = Counter((r["Origin"], r["Cylinders"]) for r in cars.rows)
    assert rows == sorted(
        ((o, c, n) for (o, c), n in counts.items()), key=lambda t: (-t[2], t[0], t[1])
    )


def test_preview_pages_cover_the_filtered_rows_once(query_engines: Engines, cars: Dataset) -> None:
    filters = (InFilter(field="Origin", values=("Europe",)),)
    pages: list[tuple[Any, ...]] = []
    for offset in range(0, 100, 25):
        queries = [
            compile_preview(
                cars.schema,
                relation=runner.relation(cars),
                dialect=dialect,
                columns=["Name", "Year", "Horsepower"],
                filters=filters,
                sort=(Sort(by="Horsepower", desc=True),),
                offset=offset,
                limit=25,
            )
            for runner, dialect in ((query_engines.duck, "duckdb"), (query_engines.pg, "postgres"))
        ]
        duck, pg = query_engines.duck.run(queries[0]), query_engines.pg.run(queries[1])
        assert same_rows(duck, pg)
        pages.extend(duck)
    europe = [r for r in cars.rows if r["Origin"] == "Europe"]
    assert len(pages) == len(europe)
    assert sorted(pages, key=repr) == sorted(
        ((r["Name"], r["Year"], r["Horsepower"]) for r in europe), key=repr
    )
    counts = [
        runner.run(
            compile_count(
                cars.schema, relation=runner.relation(cars), dialect=dialect, filters=filters
            )
        )
        for runner, dialect in ((query_engines.duck, "duckdb"), (query_engines.pg, "postgres"))
    ]
    assert counts == [[(len(europe),)], [(len(europe),)]]
