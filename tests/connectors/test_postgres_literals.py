"""Bound values inlined as typed literals (for COPY) read back exactly as the values."""

# ruff: noqa: DTZ001 - naive datetimes are what `timestamp` columns hold

from __future__ import annotations

import datetime as dt
import math
from decimal import Decimal
from typing import Any

import asyncpg
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from connectors.errors import InvalidQuery
from connectors.postgres.literals import (
    ParamType,
    bind_value,
    inline_params,
    sql_literal,
    substitute_params,
)

UTC = dt.UTC
TEXT = ParamType("pg_catalog", "text")
INT8 = ParamType("pg_catalog", "int8")
INT4 = ParamType("pg_catalog", "int4")
FLOAT8 = ParamType("pg_catalog", "float8")
NUMERIC = ParamType("pg_catalog", "numeric")
BOOL = ParamType("pg_catalog", "bool")
DATE = ParamType("pg_catalog", "date")
TIMESTAMP = ParamType("pg_catalog", "timestamp")
TIMESTAMPTZ = ParamType("pg_catalog", "timestamptz")
TEXT_ARRAY = ParamType("pg_catalog", "text[]", element="text")

NASTY_TEXT = [
    "",
    "it's",
    "''",
    "\\",
    "\\'",
    "\\N",
    "NULL",
    "$1",
    "$$",
    "$tag$",
    "'; DROP TABLE x; --",
    '"quoted"',
    "line\nbreak\r\nand\ttab",
    "é☃🦆",
    "\u202eright-to-left",
    "e\u0301",
    "\uffff\U0010ffff",
    " leading and trailing ",
]

SETTINGS = settings(
    max_examples=150,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)


async def read_back(url: str, literals: list[str]) -> list[Any]:
    conn = await asyncpg.connect(url, server_settings={"TimeZone": "UTC"})
    try:
        row = await conn.fetchrow("SELECT " + ", ".join(literals))
    finally:
        await conn.close()
    assert row is not None
    return list(row)


# -- the literals ----------------------------------------------------------------------------


def test_text_is_quoted_with_doubled_quotes_and_typed() -> None:
    assert sql_literal("it's", TEXT, UTC, 1) == "'it''s'::\"pg_catalog\".\"text\""
    assert sql_literal(None, DATE, UTC, 1) == 'NULL::"pg_catalog"."date"'
    assert sql_literal(dt.date(2024, 1, 31), DATE, UTC, 1) == '\'2024-01-31\'::"pg_catalog"."date"'


def test_a_nul_character_is_refused() -> None:
    with pytest.raises(InvalidQuery, match=r"parameter \$3: text cannot contain a NUL"):
        sql_literal("a\x00b", TEXT, UTC, 3)


@pytest.mark.parametrize(
    ("value", "typ"),
    [
        ("42", INT8),
        (True, INT8),
        (1.5, INT4),
        ("2024-01-01", DATE),
        (1, BOOL),
        (3, TEXT),
        (dt.date(2024, 1, 1), TEXT),
        (["a"], TEXT),
        ("a", TEXT_ARRAY),
    ],
)
def test_a_value_the_parameter_type_cannot_take_is_refused(value: Any, typ: ParamType) -> None:
    with pytest.raises(InvalidQuery, match=r"parameter \$1 is a"):
        bind_value(value, typ, UTC, 1)


def test_datetimes_are_normalized_to_the_session_zone() -> None:
    paris = dt.timezone(dt.timedelta(hours=2))
    aware = dt.datetime(2024, 6, 1, 12, 0, tzinfo=paris)
    assert bind_value(aware, TIMESTAMP, UTC, 1) == dt.datetime(2024, 6, 1, 10, 0)
    naive = dt.datetime(2024, 6, 1, 12, 0)
    assert bind_value(naive, TIMESTAMPTZ, UTC, 1) == naive.replace(tzinfo=UTC)
    assert bind_value(dt.date(2024, 6, 1), TIMESTAMP, UTC, 1) == dt.datetime(2024, 6, 1)
    assert bind_value(aware, DATE, UTC, 1) == dt.date(2024, 6, 1)


async def test_values_of_every_type_read_back_exactly(engines: Any) -> None:
    values: list[tuple[Any, ParamType]] = [
        (0, INT8),
        (-(2**63), INT8),
        (2**63 - 1, INT8),
        (-7, INT4),
        (0.1, FLOAT8),
        (-0.0, FLOAT8),
        (1e308, FLOAT8),
        (5e-324, FLOAT8),
        (float("inf"), FLOAT8),
        (float("-inf"), FLOAT8),
        (12, FLOAT8),
        (Decimal("12345678901234567890.123456789"), NUMERIC),
        (Decimal("-1E+30"), NUMERIC),
        (Decimal("NaN"), NUMERIC),
        (True, BOOL),
        (False, BOOL),
        (dt.date(1, 1, 1), DATE),
        (dt.date(9999, 12, 31), DATE),
        (dt.datetime(2024, 2, 29, 23, 59, 59, 999999), TIMESTAMP),
        (dt.datetime(2024, 2, 29, 23, 59, 59, 1, tzinfo=UTC), TIMESTAMPTZ),
        (None, TEXT),
        (["a,b", 'c"d', "e\\f", None, "", "NULL"], TEXT_ARRAY),
        *[(text, TEXT) for text in NASTY_TEXT],
    ]
    literals = [sql_literal(value, typ, UTC, n) for n, (value, typ) in enumerate(values, 1)]
    back = await read_back(engines.postgres, literals)
    for (value, typ), got in zip(values, back, strict=True):
        expected = bind_value(value, typ, UTC, 1)
        if isinstance(expected, Decimal) and expected.is_nan():
            assert isinstance(got, Decimal)
            assert got.is_nan()
        else:
            assert got == expected, (value, typ)
            assert type(got) is type(expected) or typ is FLOAT8


async def test_nan_reads_back_as_nan(engines: Any) -> None:
    (back,) = await read_back(engines.postgres, [sql_literal(math.nan, FLOAT8, UTC, 1)])
    assert math.isnan(back)


@SETTINGS
@given(texts=st.lists(st.text(alphabet=st.characters(exclude_characters="\x00")), max_size=8))
async def test_any_text_round_trips_through_its_literal(engines: Any, texts: list[str]) -> None:
    literals = [sql_literal(text, TEXT, UTC, n) for n, text in enumerate(texts, 1)]
    if texts:
        assert await read_back(engines.postgres, literals) == texts


@SETTINGS
@given(
    numbers=st.lists(
        st.floats(allow_nan=False) | st.integers(-(2**63), 2**63 - 1).map(float), max_size=8
    ),
    decimals=st.lists(st.decimals(allow_nan=False, allow_infinity=False), max_size=4),
)
async def test_any_number_round_trips_through_its_literal(
    engines: Any, numbers: list[float], decimals: list[Decimal]
) -> None:
    literals = [sql_literal(n, FLOAT8, UTC, 1) for n in numbers]
    literals += [sql_literal(d, NUMERIC, UTC, 1) for d in decimals]
    if literals:
        assert await read_back(engines.postgres, literals) == [*numbers, *decimals]


# -- finding the parameters ------------------------------------------------------------------


def test_parameters_inside_strings_identifiers_and_comments_are_left_alone() -> None:
    sql = (
        "SELECT '$1' AS a, \"x$1\" , $1 AS b -- $1 here\n"
        " , /* $1 /* nested $2 */ still $1 */ $$ $1 $$ AS c, $q$ $1 'x' $q$ AS d,"
        " E'\\' $1' AS e, f$1, $2+$10"
    )
    literals = [f"<{n}>" for n in range(1, 11)]
    assert substitute_params(sql, literals) == (
        "SELECT '$1' AS a, \"x$1\" , <1> AS b -- $1 here\n"
        " , /* $1 /* nested $2 */ still $1 */ $$ $1 $$ AS c, $q$ $1 'x' $q$ AS d,"
        " E'\\' $1' AS e, f$1, <2>+<10>"
    )


def test_a_standard_string_ends_at_its_quote_even_after_a_backslash() -> None:
    # standard_conforming_strings: '\' is a one-character string, so $1 is a parameter.
    assert substitute_params("SELECT '\\', $1", ["<1>"]) == "SELECT '\\', <1>"


@pytest.mark.parametrize("sql", ["SELECT 'open", 'SELECT "open', "SELECT /* open", "SELECT $a$ x"])
def test_unterminated_quoting_is_refused(sql: str) -> None:
    with pytest.raises(InvalidQuery, match="unterminated"):
        substitute_params(sql, [])


def test_a_parameter_number_out_of_range_is_refused() -> None:
    with pytest.raises(InvalidQuery, match=r"names \$2 but has 1 parameters"):
        substitute_params("SELECT $1, $2", ["x"])


async def test_an_inlined_query_reads_the_same_as_the_bound_one(engines: Any) -> None:
    sql = "SELECT $1::text AS a, '$1' AS b, $2 + 1 AS c, $3::timestamp - interval '1 day' AS d"
    params = ["it's $1 -- not a comment", 41, dt.datetime(2024, 1, 1)]
    conn = await asyncpg.connect(engines.postgres)
    try:
        statement = await conn.prepare(sql)
        types = [ParamType.of(t) for t in statement.get_parameters()]
        bound = await statement.fetchrow(*params)
        inlined = await conn.fetchrow(inline_params(sql, params, types, UTC))
    finally:
        await conn.close()
    assert bound == inlined
    assert inlined is not None
    assert inlined["b"] == "$1"
