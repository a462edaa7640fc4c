"""The compiler without an engine: output names and types, refusals with clear details, and
injection attempts that never reach the SQL text."""

from __future__ import annotations

import datetime as dt
import re

import msgspec
import pytest
from hypothesis import given
from hypothesis import strategies as st

from connectors.errors import InvalidQuery
from connectors.plugin import OutputColumn
from connectors.query import (
    GrainDimension,
    InFilter,
    MeasureItem,
    QuerySpec,
    RangeFilter,
    Sort,
    TopFilter,
    compile_count,
    compile_preview,
    compile_query,
    decode_spec,
)
from domain.dataset.schema import CalculatedColumn, DatasetSchema, Field, Measure

TODAY = dt.date(2024, 5, 17)
INJECTION = 'x"; DROP TABLE t; --'
EVIL_QUOTE = "x'); DROP TABLE t; --"
RELATION = "read_parquet('/data/sales.parquet')"

SCHEMA = DatasetSchema(
    fields=(
        Field(name="Region", column="region", type="text", role="dimension"),
        Field(name="Sales Amount", column="amount", type="decimal", role="measure"),
        Field(name="Quantity", column="qty", type="integer", role="measure"),
        Field(name="Order Date", column="order_date", type="date", role="dimension"),
        Field(name="Shipped At", column="shipped", type="timestamp", role="dimension"),
        Field(name="Secret", column="secret", type="text", role="dimension", hidden=True),
        Field(name=INJECTION, column='we"ird col', type="integer", role="measure"),
    ),
    calculated_columns=(
        CalculatedColumn(
            name="Order Year", expression="YEAR([Order Date])", type="integer", role="dimension"
        ),
    ),
    measures=(
        Measure(name="Total", expression="SUM([Sales Amount])"),
        Measure(name="Quoted", expression=f'CALCULATE([Total], [Region] = "{EVIL_QUOTE}")'),
    ),
)


def naive(year: int, month: int, day: int) -> dt.datetime:
    """A TIMESTAMP (no time zone), as the engines return it."""
    return dt.datetime.combine(dt.date(year, month, day), dt.time())


def compile_spec(
    spec: QuerySpec | dict[str, object], dialect: str = "duckdb"
) -> tuple[str, tuple[object, ...], tuple[OutputColumn, ...]]:
    if isinstance(spec, dict):
        spec = msgspec.convert(spec, QuerySpec)
    query = compile_query(spec, SCHEMA, relation=RELATION, dialect=dialect, today=TODAY)
    return query.sql, query.params, query.columns


def refusal(spec: dict[str, object]) -> str:
    with pytest.raises(InvalidQuery) as caught:
        compile_spec(spec)
    return caught.value.detail


def test_output_names_and_types() -> None:
    _, _, columns = compile_spec(
        {
            "dimensions": ["region", {"field": "Order Date", "grain": "month"}, "Order Year"],
            "measures": [
                {"field": "Quantity", "agg": "sum"},
                {"field": "Quantity", "agg": "avg"},
                {"field": "Region", "agg": "distinct_count"},
                {"field": "Sales Amount", "agg": "median", "as": "Typical"},
                {"field": "Shipped At", "agg": "max"},
                {"measure": "total"},
            ],
        }
    )
    assert columns == (
        OutputColumn(name="Region", type="text"),
        OutputColumn(name="Order Date (month)", type="date"),
        OutputColumn(name="Order Year", type="integer"),
        OutputColumn(name="Quantity (sum)", type="integer"),
        OutputColumn(name="Quantity (avg)", type="decimal"),
        OutputColumn(name="Region (distinct_count)", type="integer"),
        OutputColumn(name="Typical", type="decimal"),
        OutputColumn(name="Shipped At (max)", type="timestamp"),
        OutputColumn(name="Total", type="decimal"),
    )


def test_values_are_bound_parameters_of_the_fields_type() -> None:
    sql, params, _ = compile_spec(
        {
            "dimensions": ["Region"],
            "filters": [
                {"field": "Order Date", "op": "range", "min": "2024-01-01", "max": "2024-03-31"},
                {"field": "Region", "op": "in", "values": ["EU", "US"]},
                {"field": "Shipped At", "op": "range", "max": "2024-02-29"},
            ],
            "limit": 10,
        }
    )
    assert params == (
        dt.date(2024, 1, 1),
        dt.date(2024, 3, 31),
        "EU",
        "US",
        naive(2024, 3, 1),
        10,
    )
    assert "'EU'" not in sql
    assert re.search(r"\$6\b", sql)


def test_both_dialects_use_dollar_parameters_and_explicit_null_order() -> None:
    for dialect in ("duckdb", "postgres"):
        sql, _, _ = compile_spec(
            {"dimensions": ["Region"], "sort": [{"by": "Region", "desc": True}], "limit": 5},
            dialect,
        )
        assert "ORDER BY c0 DESC NULLS LAST" in sql
        assert sql.endswith("LIMIT $1")


def test_postgres_compares_text_bytewise() -> None:
    sql, _, _ = compile_spec({"dimensions": ["Region"]}, "postgres")
    assert '"region" COLLATE "C" AS f0' in sql


def test_relative_date_bounds_are_computed_from_today() -> None:
    _, params, _ = compile_spec(
        {
            "measures": [{"field": "Quantity", "agg": "sum"}],
            "filters": [
                {"field": "Order Date", "op": "relative_date", "unit": "month", "last": 3},
                {
                    "field": "Shipped At",
                    "op": "relative_date",
                    "unit": "week",
                    "last": 2,
                    "include_current": False,
                },
            ],
        }
    )
    assert params[:4] == (
        dt.date(2024, 3, 1),
        dt.date(2024, 6, 1),
        naive(2024, 4, 29),  # two whole ISO weeks before the week of Friday May 17
        naive(2024, 5, 13),
    )


def test_hidden_fields_can_be_queried() -> None:
    _, _, columns = compile_spec({"dimensions": ["secret"]})
    assert columns == (OutputColumn(name="Secret", type="text"),)


def test_names_from_before_a_rename_still_compile_under_the_new_names() -> None:
    renamed = DatasetSchema(
        fields=(
            Field(
                name="Area",
                column="region",
                type="text",
                role="dimension",
                former_names=("Region",),
            ),
            Field(
                name="Revenue",
                column="amount",
                type="decimal",
                role="measure",
                former_names=("Sales Amount", "amount"),
            ),
        ),
        calculated_columns=(
            CalculatedColumn(
                name="Net revenue",
                expression="[Sales Amount] * 0.8",
                type="decimal",
                role="measure",
                former_names=("Net",),
            ),
        ),
        # Written before any rename: it still names [Sales Amount] and [Net].
        measures=(
            Measure(name="Total net", expression="SUM([Net])", former_names=("Total",)),
            Measure(name="Share", expression="DIVIDE([Total], SUM([Sales Amount]))"),
        ),
    )
    spec = msgspec.convert(
        {
            "dimensions": ["region"],
            "measures": [
                {"field": "amount", "agg": "sum"},
                {"measure": "Total"},
                {"measure": "Share"},
            ],
            "filters": [{"op": "in", "field": "Region", "values": ["East"]}],
        },
        QuerySpec,
    )
    query = compile_query(spec, renamed, relation=RELATION, dialect="duckdb", today=TODAY)
    assert [column.name for column in query.columns] == [
        "Area",
        "Revenue (sum)",
        "Total net",
        "Share",
    ]
    assert query.sql.count('"amount"') >= 1
    assert query.sql.count('"region"') >= 1


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        (
            {"dimensions": ["Regoin"]},
            "unknown field 'Regoin' in dimensions; did you mean 'Region'?",
        ),
        ({"dimensions": ["Total"]}, "'Total' in dimensions is a measure, not a field"),
        ({"measures": [{"measure": "Totl"}]}, "unknown measure 'Totl'; did you mean 'Total'?"),
        (
            {"measures": [{"field": "Region", "agg": "sum"}]},
            "cannot sum field 'Region': it is text",
        ),
        ({"dimensions": [{"field": "Region", "grain": "year"}]}, "needs a date or timestamp field"),
        ({}, "needs at least one dimension or measure"),
        ({"dimensions": ["Region", "region"]}, "two output columns are named 'Region'"),
        ({"dimensions": ["Region"], "sort": [{"by": "Regio"}]}, "cannot sort by 'Regio'"),
        (
            {
                "dimensions": ["Region"],
                "filters": [{"field": "Quantity", "op": "in", "values": ["3"]}],
            },
            "field 'Quantity' is integer: expected a whole number, got '3'",
        ),
        (
            {
                "dimensions": ["Region"],
                "filters": [{"field": "Order Date", "op": "range", "min": "May 1"}],
            },
            "expected an ISO date",
        ),
        (
            {
                "dimensions": ["Region"],
                "filters": [{"field": "Region", "op": "relative_date", "unit": "day", "last": 1}],
            },
            "relative_date filter needs a date field",
        ),
        (
            {"dimensions": ["Region"], "filters": [{"field": "Quantity", "op": "range"}]},
            "needs a min, a max or both",
        ),
    ],
)
def test_refusals_name_the_problem(spec: dict[str, object], message: str) -> None:
    assert message in refusal(spec)


def test_the_spec_decoder_refuses_unknown_keys_and_bad_shapes() -> None:
    for body, message in [
        (b'{"dimensions": ["a"], "colour": 1}', "unknown field `colour`"),
        (b'{"measures": [{"field": "a"}]}', "needs `field` and `agg`, or `measure`"),
        (b'{"measures": [{"field": "a", "agg": "total"}]}', "$.measures[0].agg"),
        (b'{"filters": [{"field": "a", "op": "like", "values": []}]}', "$.filters[0].op"),
        (b'{"limit": 100001}', "$.limit"),
        (
            b'{"filters": [{"field": "a", "op": "top", "n": 0, "by": {"measure": "m"}}]}',
            "$.filters[0].n",
        ),
    ]:
        with pytest.raises(msgspec.ValidationError, match=re.escape(message)):
            decode_spec(body)
    body = b'{"dimensions": [{"field": "d", "grain": "week"}], '
    spec = decode_spec(body + b'"measures": [{"measure": "m", "as": "M"}]}')
    assert spec.dimensions == (GrainDimension(field="d", grain="week"),)
    assert spec.measures == (MeasureItem(measure="m", as_="M"),)


def test_an_unknown_dialect_is_refused() -> None:
    with pytest.raises(InvalidQuery, match="no SQL dialect"):
        compile_spec({"dimensions": ["Region"]}, "mysql")


# ------------------------------------------------------------------------- injection


def assert_clean(sql: str, *texts: str) -> None:
    for text in texts:
        assert "DROP TABLE" not in sql
        assert text not in sql


def test_injection_in_names_is_refused_without_sql() -> None:
    for spec in [
        {"dimensions": [INJECTION + "x"]},
        {"measures": [{"measure": INJECTION + "x"}]},
        {"dimensions": ["Region"], "sort": [{"by": INJECTION + "x"}]},
        {"dimensions": ["Region"], "filters": [{"field": "Regi'on", "op": "in", "values": ["a"]}]},
    ]:
        detail = refusal(spec)
        assert "unknown" in detail or "cannot sort" in detail


def test_a_field_named_like_an_injection_is_only_an_identifier() -> None:
    """The display name never reaches SQL; the source column is a quoted identifier."""
    for dialect in ("duckdb", "postgres"):
        sql, _, columns = compile_spec(
            {
                "dimensions": [INJECTION],
                "measures": [{"field": INJECTION, "agg": "sum", "as": INJECTION + "!"}],
            },
            dialect,
        )
        assert_clean(sql, INJECTION)
        assert '"we""ird col"' in sql
        assert columns[0].name == INJECTION


def test_injection_in_values_and_measure_text_is_bound() -> None:
    for dialect in ("duckdb", "postgres"):
        sql, params, _ = compile_spec(
            {
                "dimensions": ["Region"],
                "measures": [{"measure": "Quoted"}],
                "filters": [{"field": "Region", "op": "not_in", "values": [INJECTION, EVIL_QUOTE]}],
            },
            dialect,
        )
        assert_clean(sql, INJECTION, EVIL_QUOTE)
        assert INJECTION in params
        assert params.count(EVIL_QUOTE) == 2


def test_injection_in_a_measure_is_a_syntax_error_at_its_place() -> None:
    schema = msgspec.structs.replace(
        SCHEMA, measures=(Measure(name="Evil", expression='SUM([Quantity])"); DROP TABLE t; --'),)
    )
    spec = QuerySpec(measures=(MeasureItem(measure="Evil"),))
    with pytest.raises(InvalidQuery, match=r"measure 'Evil' is invalid: syntax error: unexpected"):
        compile_query(spec, schema, relation=RELATION, dialect="duckdb", today=TODAY)


@given(tail=st.text(st.characters(exclude_characters="\x00"), max_size=30))
def test_arbitrary_names_and_values_never_reach_the_sql(tail: str) -> None:
    """Whatever a client sends as a name either resolves or is refused; as a value it is
    bound or refused. Either way it never appears in the SQL (the marker shows if it did)."""
    text = "§marker§" + tail
    spec = QuerySpec(
        dimensions=("Region",),
        measures=(MeasureItem(field="Quantity", agg="sum", as_=text),),
        filters=(
            InFilter(field="Region", values=(text,)),
            RangeFilter(field="Region", min=text),
            TopFilter(field="Region", n=3, by=MeasureItem(measure="Total")),
        ),
        sort=(Sort(by=text),),
    )
    for dialect in ("duckdb", "postgres"):
        query = compile_query(spec, SCHEMA, relation=RELATION, dialect=dialect, today=TODAY)
        assert "marker" not in query.sql
        assert text in query.params
        assert query.columns[1].name == text
        with pytest.raises(InvalidQuery):
            compile_query(
                msgspec.structs.replace(spec, dimensions=(text,)),
                SCHEMA,
                relation=RELATION,
                dialect=dialect,
                today=TODAY,
            )


def test_preview_pages_through_rows_in_a_total_order() -> None:
    query = compile_preview(
        SCHEMA,
        relation=RELATION,
        dialect="postgres",
        columns=["Region", "Quantity"],
        filters=(InFilter(field="Region", values=("EU",)),),
        sort=(Sort(by="Quantity", desc=True),),
        offset=20,
        limit=10,
    )
    assert query.params == ("EU", 10, 20)
    assert "ORDER BY c1 DESC NULLS LAST, c0 ASC NULLS LAST LIMIT $2 OFFSET $3" in query.sql
    assert query.columns == (
        OutputColumn(name="Region", type="text"),
        OutputColumn(name="Quantity", type="integer"),
    )
    default = compile_preview(SCHEMA, relation=RELATION, dialect="duckdb")
    assert [c.name for c in default.columns] == [
        "Region",
        "Sales Amount",
        "Quantity",
        "Order Date",
        "Shipped At",
        INJECTION,
        "Order Year",
    ]


def test_count_under_filters() -> None:
    query = compile_count(
        SCHEMA,
        relation=RELATION,
        dialect="duckdb",
        filters=(RangeFilter(field="Quantity", min=1),),
    )
    assert query.params == (1,)
    assert query.columns == (OutputColumn(name="rows", type="integer"),)
    assert "COUNT(*)" in query.sql
