"""Measures give DAX's answers, in DuckDB and in PostgreSQL alike. Every expected value is
computed here in Python from the raw stocks rows (symbol, date, price), not by the compiler."""

from __future__ import annotations

import datetime as dt
import math
import statistics
from collections import defaultdict
from collections.abc import Callable, Iterable
from typing import Any

import msgspec
import pytest

from connectors.errors import InvalidQuery
from connectors.query import GrainDimension, InFilter, MeasureItem, QuerySpec, RangeFilter
from tests.connectors.query_support import Dataset, Engines, same_rows

Row = dict[str, Any]


@pytest.fixture
def stocks(query_engines: Engines) -> Dataset:
    return query_engines.datasets["stocks"]


def with_measures(dataset: Dataset, **measures: str) -> Dataset:
    """The dataset with more measures defined (name → expression)."""
    from domain.dataset.schema import Measure  # noqa: PLC0415

    extra = tuple(
        Measure(name=name.replace("_", " "), expression=text) for name, text in measures.items()
    )
    schema = msgspec.structs.replace(dataset.schema, measures=dataset.schema.measures + extra)
    return Dataset(dataset.name, schema, dataset.table, dataset.pg_types, dataset.rows)


def answer(engines: Engines, dataset: Dataset, spec: QuerySpec) -> list[tuple[Any, ...]]:
    """DuckDB's answer, after checking PostgreSQL gives the same."""
    duck, pg = engines.both(dataset, spec)
    assert same_rows(duck, pg), (duck, pg)
    return duck


def spec(*dims: str | GrainDimension, measures: Iterable[str], **more: Any) -> QuerySpec:
    return QuerySpec(
        dimensions=dims, measures=tuple(MeasureItem(measure=m) for m in measures), **more
    )


def month(day: dt.date) -> dt.date:
    return day.replace(day=1)


def year(day: dt.date) -> dt.date:
    return day.replace(month=1, day=1)


def total(rows: Iterable[Row], keep: Callable[[Row], bool] = lambda _row: True) -> float | None:
    prices = [row["price"] for row in rows if keep(row)]
    return sum(prices) if prices else None


def close(left: float | None, right: float | None) -> bool:
    if left is None or right is None:
        return left is right
    return math.isclose(left, right, rel_tol=1e-9, abs_tol=1e-9)


def test_sum_average_and_distinct_count_per_symbol(query_engines: Engines, stocks: Dataset) -> None:
    rows = answer(
        query_engines,
        stocks,
        spec("Symbol", measures=["Total Price", "Average Price", "Rows", "Median Price"]),
    )
    by_symbol: dict[str, list[float]] = defaultdict(list)
    for row in stocks.rows:
        by_symbol[row["symbol"]].append(row["price"])
    assert [row[0] for row in rows] == sorted(by_symbol)
    for symbol, summed, average, count, median in rows:
        prices = by_symbol[symbol]
        assert close(summed, sum(prices))
        assert close(average, statistics.fmean(prices))
        assert count == len(prices)
        assert close(median, statistics.median(prices))
    (symbols,) = answer(query_engines, stocks, spec(measures=["Symbols"]))
    assert symbols == (len(by_symbol),)


def test_divide_by_the_all_total_gives_the_share_of_each_symbol(
    query_engines: Engines, stocks: Dataset
) -> None:
    rows = answer(query_engines, stocks, spec("Symbol", measures=["Share"]))
    grand = total(stocks.rows)
    assert grand is not None
    for symbol, share in rows:
        assert close(share, (total(stocks.rows, lambda r, s=symbol: r["symbol"] == s) or 0) / grand)
    assert close(sum(share for _, share in rows), 1.0)


def test_all_ignores_the_query_filters_too(query_engines: Engines, stocks: Dataset) -> None:
    filtered = spec(
        "Symbol",
        measures=["Share"],
        filters=(InFilter(field="Symbol", values=("IBM", "MSFT")),),
    )
    rows = answer(query_engines, stocks, filtered)
    grand = total(stocks.rows)
    assert grand is not None
    assert [symbol for symbol, _ in rows] == ["IBM", "MSFT"]
    for symbol, share in rows:
        assert close(share, (total(stocks.rows, lambda r, s=symbol: r["symbol"] == s) or 0) / grand)


def test_calculate_replaces_the_symbol_filter_and_the_rows_symbol(
    query_engines: Engines, stocks: Dataset
) -> None:
    """CALCULATE(…, [Symbol] = "IBM") gives IBM's total on every row, even rows grouped by
    another symbol and under a query filter that excludes IBM."""
    query = spec(
        "Symbol",
        GrainDimension(field="Date", grain="year"),
        measures=["IBM Total"],
        filters=(InFilter(field="Symbol", values=("MSFT", "AAPL")),),
    )
    rows = answer(query_engines, stocks, query)
    assert rows
    for symbol, period, ibm in rows:
        assert symbol in {"MSFT", "AAPL"}
        expected = total(
            stocks.rows, lambda r, p=period: r["symbol"] == "IBM" and year(r["date"]) == p
        )
        assert close(ibm, expected)


def test_calculate_keeps_the_filters_on_other_fields(
    query_engines: Engines, stocks: Dataset
) -> None:
    query = spec(
        measures=["Big Tech"],
        filters=(RangeFilter(field="Date", min="2005-01-01", max="2005-12-31"),),
    )
    ((value,),) = answer(query_engines, stocks, query)
    expected = total(
        stocks.rows,
        lambda r: r["symbol"] in {"MSFT", "AAPL", "GOOG"} and r["date"].year == 2005,
    )
    assert close(value, expected)


def test_all_of_one_column_keeps_the_other_dimensions(
    query_engines: Engines, stocks: Dataset
) -> None:
    rows = answer(
        query_engines,
        stocks,
        spec("Symbol", GrainDimension(field="Date", grain="year"), measures=["All Symbols"]),
    )
    for _symbol, period, value in rows:
        assert close(value, total(stocks.rows, lambda r, p=period: year(r["date"]) == p))


def test_if_and_switch_pick_per_row(query_engines: Engines, stocks: Dataset) -> None:
    rows = answer(
        query_engines,
        stocks,
        spec("Symbol", GrainDimension(field="Date", grain="year"), measures=["Band", "Size"]),
    )
    for symbol, period, band, size in rows:
        prices = [
            r["price"] for r in stocks.rows if r["symbol"] == symbol and year(r["date"]) == period
        ]
        assert band == ("high" if statistics.fmean(prices) > 100 else "low")
        count = len(prices)
        assert size == ("many" if count >= 100 else "some" if count >= 12 else "few")


def test_totalytd_by_month_runs_from_january(query_engines: Engines, stocks: Dataset) -> None:
    rows = answer(
        query_engines,
        stocks,
        spec("Symbol", GrainDimension(field="Date", grain="month"), measures=["YTD"]),
    )
    assert len(rows) == len(stocks.rows)
    for symbol, period, ytd in rows:
        expected = total(
            stocks.rows,
            lambda r, s=symbol, p=period: (
                r["symbol"] == s and r["date"].year == p.year and r["date"] <= p
            ),
        )
        assert close(ytd, expected)


def test_totalytd_by_year_is_the_year_total(query_engines: Engines, stocks: Dataset) -> None:
    rows = answer(
        query_engines,
        stocks,
        spec(GrainDimension(field="Date", grain="year"), measures=["YTD", "Total Price"]),
    )
    for _period, ytd, summed in rows:
        assert close(ytd, summed)


def test_totalytd_ignores_a_date_filter_inside_the_year(
    query_engines: Engines, stocks: Dataset
) -> None:
    """The result rows are the filtered months; each row's year-to-date still starts on
    January 1 (DAX: DATESYTD replaces the filter on the date column)."""
    query = spec(
        GrainDimension(field="Date", grain="month"),
        measures=["YTD"],
        filters=(RangeFilter(field="Date", min="2006-06-01", max="2006-08-31"),),
    )
    rows = answer(query_engines, stocks, query)
    assert [period for period, _ in rows] == [dt.date(2006, m, 1) for m in (6, 7, 8)]
    for period, ytd in rows:
        expected = total(stocks.rows, lambda r, p=period: r["date"].year == 2006 and r["date"] <= p)
        assert close(ytd, expected)


def test_sameperiodlastyear_by_month_and_by_year(query_engines: Engines, stocks: Dataset) -> None:
    for grain, truncate in (("month", month), ("year", year)):
        rows = answer(
            query_engines,
            stocks,
            spec("Symbol", GrainDimension(field="Date", grain=grain), measures=["Last Year"]),  # type: ignore[arg-type]
        )
        for symbol, period, last_year in rows:
            target = period.replace(year=period.year - 1)
            expected = total(
                stocks.rows,
                lambda r, s=symbol, t=target, f=truncate: r["symbol"] == s and f(r["date"]) == t,
            )
            assert close(last_year, expected), (grain, symbol, period)


def test_sameperiodlastyear_reaches_outside_the_query_filter(
    query_engines: Engines, stocks: Dataset
) -> None:
    query = spec(
        GrainDimension(field="Date", grain="year"),
        measures=["Total Price", "Last Year", "Growth"],
        filters=(RangeFilter(field="Date", min="2005-01-01"),),
    )
    rows = answer(query_engines, stocks, query)
    first_period, first_total, first_last_year, first_growth = rows[0]
    assert first_period == dt.date(2005, 1, 1)
    expected = total(stocks.rows, lambda r: r["date"].year == 2004)
    assert close(first_last_year, expected)
    assert expected is not None
    assert first_total is not None
    assert close(first_growth, (first_total - expected) / expected)


def test_dateadd_minus_one_month_is_the_previous_month(
    query_engines: Engines, stocks: Dataset
) -> None:
    rows = answer(
        query_engines,
        stocks,
        spec("Symbol", GrainDimension(field="Date", grain="month"), measures=["Previous Month"]),
    )
    for symbol, period, previous in rows:
        target = (period - dt.timedelta(days=1)).replace(day=1)
        expected = total(
            stocks.rows, lambda r, s=symbol, t=target: r["symbol"] == s and r["date"] == t
        )
        assert close(previous, expected)
    first = next(row for row in rows if row[0] == "GOOG")
    assert first[2] is None  # GOOG's first month has no previous one: blank


def test_dateadd_by_quarters_on_yearly_rows(query_engines: Engines, stocks: Dataset) -> None:
    dataset = with_measures(
        stocks, Year_Ago="CALCULATE(SUM([Price]), DATEADD([Date], -4, QUARTER))"
    )
    rows = answer(
        query_engines,
        dataset,
        spec(GrainDimension(field="Date", grain="year"), measures=["Year Ago"]),
    )
    for period, value in rows:
        assert close(value, total(stocks.rows, lambda r, y=period.year: r["date"].year == y - 1))


def test_time_intelligence_needs_a_date_dimension(query_engines: Engines, stocks: Dataset) -> None:
    with pytest.raises(InvalidQuery, match=r"needs the query grouped by \[Date\]"):
        query_engines.duckdb(stocks, spec("Symbol", measures=["YTD"]))


def test_a_count_of_nothing_is_blank_in_a_measure(query_engines: Engines, stocks: Dataset) -> None:
    dataset = with_measures(stocks, Nothing='CALCULATE(COUNTROWS(), [Symbol] = "NONE")')
    rows = answer(query_engines, dataset, spec("Symbol", measures=["Nothing"]))
    assert {value for _, value in rows} == {None}


def test_divide_by_zero_gives_the_alternate(query_engines: Engines, stocks: Dataset) -> None:
    dataset = with_measures(
        stocks,
        Zero="DIVIDE(SUM([Price]), SUM([Price]) - SUM([Price]))",
        Alternate="DIVIDE(SUM([Price]), 0, -1)",
        Slash="SUM([Price]) / 0",
    )
    rows = answer(query_engines, dataset, spec(measures=["Zero", "Alternate", "Slash"]))
    assert rows == [(None, -1.0, None)]


def test_calculated_columns_group_and_filter(query_engines: Engines, stocks: Dataset) -> None:
    query = QuerySpec(
        dimensions=("Year", "Expensive"),
        measures=(MeasureItem(field="Price", agg="count"),),
        filters=(InFilter(field="Year", values=(2008, 2009)),),
    )
    rows = answer(query_engines, stocks, query)
    counts: dict[tuple[int, bool], int] = defaultdict(int)
    for row in stocks.rows:
        if row["date"].year in {2008, 2009}:
            counts[row["date"].year, row["price"] > 100] += 1
    assert rows == [(y, e, n) for (y, e), n in sorted(counts.items())]
