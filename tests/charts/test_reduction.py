"""Data reduction: a visual draws at most its type's limit, and says what it left out."""

from __future__ import annotations

import datetime as dt
import json
from typing import Any

import duckdb
import pytest
from hypothesis import given
from hypothesis import strategies as st

from charts.compiler import compile_visual
from charts.query import query_for
from charts.reduction import RULES, Reduction, first_categories, sample_indices, sample_series
from charts.validation import schema_errors
from tests.charts.support import to_json, visual

FIELDS = [
    {"name": "Name", "type": "text", "role": "dimension"},
    {"name": "Group", "type": "text", "role": "dimension"},
    {"name": "Day", "type": "date", "role": "dimension"},
    {"name": "Value", "type": "integer", "role": "measure"},
]


@pytest.fixture(scope="module")
def big() -> duckdb.DuckDBPyConnection:
    """40,000 rows: 2,000 names, 4 groups, 10,000 days (made in DuckDB)."""
    con = duckdb.connect()
    con.execute(
        """CREATE TABLE big AS SELECT
             'n' || lpad(CAST(i % 2000 AS VARCHAR), 4, '0') AS name,
             'g' || CAST(i % 4 AS VARCHAR) AS grp,
             DATE '2000-01-01' + CAST(i % 10000 AS INTEGER) AS day,
             CAST((i * 7919) % 1000 AS BIGINT) AS value
           FROM range(40000) t(i)"""
    )
    return con


def answer(con: duckdb.DuckDBPyConnection, spec: dict[str, Any]) -> dict[str, Any]:
    """The answer to a spec over ``big``, through the project's query compiler."""
    from connectors.query import compile_query, decode_spec  # noqa: PLC0415
    from domain.dataset.schema import DatasetSchema, Field  # noqa: PLC0415

    schema = DatasetSchema(
        fields=(
            Field(name="Name", column="name", type="text", role="dimension"),
            Field(name="Group", column="grp", type="text", role="dimension"),
            Field(name="Day", column="day", type="date", role="dimension"),
            Field(name="Value", column="value", type="integer", role="measure"),
        )
    )
    query = compile_query(
        decode_spec(json.dumps(spec)),
        schema,
        relation="big",
        dialect="duckdb",
        today=dt.date(2030, 1, 1),
    )
    rows = con.execute(query.sql, list(query.params)).fetchall()
    return to_json(
        {"columns": [{"name": c.name, "type": c.type} for c in query.columns], "rows": rows}
    )


def draw(con: duckdb.DuckDBPyConnection, chosen: dict[str, Any]) -> dict[str, Any]:
    plan = query_for(chosen, dataset_fields=FIELDS)
    assert plan is not None
    spec = compile_visual(chosen, answer(con, plan.spec), plan=plan, width=600, height=400)
    assert schema_errors(spec) == []
    return spec


def test_a_bar_chart_draws_the_top_categories_and_says_so(big: duckdb.DuckDBPyConnection) -> None:
    spec = draw(big, visual("bar", {"y": ["Name"], "x": [("Value", "sum")]}))
    names = {row["y0"] for row in spec["data"]["values"]}
    assert len(names) == RULES["bar"].limit
    assert spec["usermeta"]["loupe"] == {
        "visual_type": "bar",
        "reduced": True,
        "limit": 500,
        "strategy": "top",
        "unit": "categories",
        "shown": 500,
    }
    assert spec["title"]["subtitle"] == "Showing the top 500 of more than 500 categories"
    everything = answer(
        big,
        {
            "dimensions": ["Name"],
            "measures": [{"field": "Value", "agg": "sum"}],
            "sort": [{"by": "Value (sum)", "desc": True}],
        },
    )
    assert names == {row[0] for row in everything["rows"][:500]}, "the largest 500"


def test_a_line_is_sampled_evenly_per_series(big: duckdb.DuckDBPyConnection) -> None:
    spec = draw(big, visual("line", {"x": ["Day"], "y": [("Value", "sum")], "color": ["Group"]}))
    rows = spec["data"]["values"]
    meta = spec["usermeta"]["loupe"]
    assert meta["strategy"] == "sample"
    assert meta["reduced"] is True
    assert meta["total"] == 10_000
    assert meta["shown"] == len(rows) <= 3_500
    days = sorted(row["x0"] for row in rows if row["color0"] == "g0")
    assert days[0] == "2000-01-01", "each series keeps its first point"
    assert spec["title"]["subtitle"].startswith("Showing a sample of")


def test_a_table_shows_its_first_rows_and_what_fits(big: duckdb.DuckDBPyConnection) -> None:
    spec = draw(big, visual("table", {"values": ["Name", ("Value", "sum")]}))
    meta = spec["usermeta"]["loupe"]
    assert (meta["strategy"], meta["shown"], meta["reduced"]) == ("first", 500, True)
    assert spec["title"]["text"].startswith("Showing ")
    assert spec["title"]["text"].endswith(" of more than 500 rows")


def test_a_small_answer_is_not_reduced(big: duckdb.DuckDBPyConnection) -> None:
    spec = draw(big, visual("column", {"x": ["Group"], "y": [("Value", "sum")]}))
    assert spec["usermeta"]["loupe"]["reduced"] is False
    assert "subtitle" not in spec["title"]


def test_a_date_axis_keeps_whole_categories() -> None:
    rows = [{"x": d, "s": s} for d in range(5) for s in range(3)]
    kept, shown, dropped = first_categories(rows[:10], 10, lambda r: r["x"], cut=True)
    assert (shown, dropped) == (3, True), "category 3 was cut by the row limit: dropped whole"
    assert {r["x"] for r in kept} == {0, 1, 2}


@given(st.integers(0, 500), st.integers(0, 600))
def test_sample_indices_are_even_ordered_and_keep_both_ends(count: int, wanted: int) -> None:
    indices = sample_indices(count, wanted)
    assert indices == sorted(set(indices))
    assert len(indices) == min(count, wanted)
    if count and wanted >= 2:
        assert indices[0] == 0
        assert indices[-1] == count - 1


@given(st.lists(st.sampled_from("abc"), min_size=1, max_size=400), st.integers(6, 100))
def test_sampling_keeps_every_series(series: list[str], limit: int) -> None:
    rows = [{"s": s, "i": i} for i, s in enumerate(series)]
    kept = sample_series(rows, limit, lambda r: r["s"])
    assert {r["s"] for r in kept} == set(series)
    assert [r["i"] for r in kept] == sorted(r["i"] for r in kept)
    if len(rows) > limit:
        assert len(kept) <= limit + 2 * len(set(series))


def test_reduction_notes_read_naturally() -> None:
    sample = Reduction(
        reduced=True, limit=3500, strategy="sample", unit="points", shown=3498, total=12000
    )
    assert sample.note() == "Showing a sample of 3,498 of 12,000 points"
    assert Reduction(reduced=False, limit=1, strategy="none", unit="x", shown=1).note() is None
