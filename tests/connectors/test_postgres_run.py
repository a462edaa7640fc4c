"""Running compiled SQL in PostgreSQL: typed Arrow answers, the same by COPY as by fetch,
streamed in batches, within the timeout and the concurrency limit."""

# ruff: noqa: DTZ001 - naive datetimes are what `timestamp` columns hold

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import math
from collections import defaultdict
from collections.abc import AsyncIterator
from decimal import Decimal
from pathlib import Path
from typing import Any

import asyncpg
import pyarrow as pa
import pyarrow.csv as pa_csv
import pytest

from connectors.errors import InvalidQuery, QueryTimeout, SourceBusy, SourceChanged, TooLarge
from connectors.plugin import CompiledQuery
from connectors.postgres import PostgresConfig, PostgresConnector
from connectors.postgres.connector import SMALL_RESULT_ROWS, expected_rows
from tests.connectors.postgres_support import (
    DATA,
    config_for,
    load_weather,
    open_connector,
    query,
)


@pytest.fixture
def cfg(engines: Any, db_schema: str) -> PostgresConfig:
    return config_for(engines.postgres, search_path=(db_schema,))


@pytest.fixture
async def connector(tmp_path: Path) -> AsyncIterator[PostgresConnector]:
    async with open_connector(tmp_path) as opened:
        yield opened


@pytest.fixture
async def weather(engines: Any, db_schema: str) -> int:
    return await load_weather(engines.postgres, db_schema)


def limited(q: CompiledQuery, rows: int = SMALL_RESULT_ROWS) -> CompiledQuery:
    """The same query with a final LIMIT that makes the connector fetch instead of COPY."""
    return CompiledQuery(
        sql=f"{q.sql} LIMIT {rows}", params=q.params, columns=q.columns, dialect=q.dialect
    )


def comparable(table: pa.Table) -> list[dict[str, Any]]:
    """The rows, with NaN (which equals nothing, itself included) as a marker."""
    return [
        {k: "NaN" if isinstance(v, float) and math.isnan(v) else v for k, v in row.items()}
        for row in table.to_pylist()
    ]


async def both_paths(
    connector: PostgresConnector, config: PostgresConfig, q: CompiledQuery
) -> pa.Table:
    """Run ``q`` by COPY and by fetch; they must agree exactly (types, values, NULLs)."""
    by_copy = await connector.run(config, q, timeout=30)
    by_fetch = await connector.run(config, limited(q), timeout=30)
    assert by_copy.schema == by_fetch.schema
    assert comparable(by_copy) == comparable(by_fetch)
    return by_copy


async def running(url: str, needle: str) -> int:
    """Backends of Loupe's sessions whose statement contains ``needle``, now."""
    conn = await asyncpg.connect(url)
    try:
        return int(
            await conn.fetchval(
                "SELECT count(*) FROM pg_stat_activity WHERE application_name = 'loupe'"
                " AND state = 'active' AND strpos(query, $1) > 0",
                needle,
            )
        )
    finally:
        await conn.close()


async def eventually(check: Any, expected: Any, seconds: float = 10.0) -> None:
    """Poll ``check()`` until it returns ``expected`` (a state, not a duration, is tested)."""
    loop = asyncio.get_running_loop()
    end = loop.time() + seconds
    while (value := await check()) != expected and loop.time() < end:
        await asyncio.sleep(0.05)
    assert value == expected


# -- answers ---------------------------------------------------------------------------------


async def test_postgres_aggregates_real_data_and_answers_in_arrow(
    connector: PostgresConnector, cfg: PostgresConfig, db_schema: str, weather: int
) -> None:
    relation = connector.relation(cfg, f"{db_schema}.weather")
    q = query(
        f"SELECT weather, date_trunc('year', day) AS year, count(*) AS days,"
        f" sum(precipitation) AS rain, max(temp_max) AS hottest"
        f" FROM {relation} GROUP BY 1, 2 ORDER BY 1, 2",
        [
            ("weather", "text"),
            ("year", "timestamp"),
            ("days", "integer"),
            ("rain", "decimal"),
            ("hottest", "decimal"),
        ],
    )
    table = await both_paths(connector, cfg, q)
    assert table.schema == pa.schema(
        [
            ("weather", pa.string()),
            ("year", pa.timestamp("us")),
            ("days", pa.int64()),
            ("rain", pa.float64()),
            ("hottest", pa.float64()),
        ]
    )
    # The same aggregation computed here from the CSV file itself.
    source = pa_csv.read_csv(DATA / "seattle-weather.csv").to_pylist()
    expected: dict[tuple[str, int], list[Any]] = defaultdict(lambda: [0, Decimal(0), None])
    for row in source:
        group = expected[row["weather"], int(row["date"][:4])]  # "2012/01/01"
        group[0] += 1
        group[1] += Decimal(str(row["precipitation"]))
        group[2] = row["temp_max"] if group[2] is None else max(group[2], row["temp_max"])
    got = {
        (r["weather"], r["year"].year): [r["days"], r["rain"], r["hottest"]]
        for r in table.to_pylist()
    }
    assert got == {key: [n, float(rain), top] for key, (n, rain, top) in expected.items()}
    assert sum(r["days"] for r in table.to_pylist()) == weather


async def test_parameters_of_every_type_are_bound_on_both_paths(
    connector: PostgresConnector, cfg: PostgresConfig, weather: int
) -> None:
    q = query(
        "SELECT day, weather, precipitation FROM weather"
        " WHERE day BETWEEN $1 AND $2 AND weather <> $3 AND precipitation >= $4"
        " AND temp_max < $5 AND wind <= $6 AND ($7 OR $8::text IS NULL)"
        " AND day < $9::timestamptz ORDER BY day",
        [("day", "date"), ("weather", "text"), ("precipitation", "decimal")],
        [
            dt.date(2012, 1, 1),
            dt.datetime(2012, 12, 31, 23, 59),
            "sun",
            Decimal("0.5"),
            30.5,
            7,
            True,
            None,
            dt.datetime(2013, 1, 1, tzinfo=dt.UTC),
        ],
    )
    table = await both_paths(connector, cfg, q)
    rows = table.to_pylist()
    assert rows
    assert all(dt.date(2012, 1, 1) <= r["day"] <= dt.date(2012, 12, 31) for r in rows)
    assert all(r["weather"] != "sun" and r["precipitation"] >= 0.5 for r in rows)


async def test_copy_and_fetch_agree_on_nulls_unicode_big_numbers_and_odd_text(
    connector: PostgresConnector, cfg: PostgresConfig, engines: Any, db_schema: str
) -> None:
    admin = await asyncpg.connect(engines.postgres)
    try:
        await admin.execute(
            f"""
            CREATE TABLE {db_schema}.odd (
                n int8, x numeric, f float8, r real, m money, b bool, d date, t timestamp,
                tz timestamptz, s text, j jsonb, u uuid
            );
            INSERT INTO {db_schema}.odd VALUES
                (9223372036854775807, 123456789012345678901234567890.5, 1e308, 0.1, 12.34,
                 true, '0001-01-01', '1900-01-01 00:00:00.000001', '2024-06-01 12:00+02',
                 E'a,"b"\\nc\\r\\n', '{{"k": [1, "é"]}}', 'a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11'),
                (-9223372036854775808, -0.000000000000000000001, 'NaN', '-Infinity', -0.01,
                 false, '9999-12-31', '2024-02-29 23:59:59.999999', '1970-01-01 00:00+00',
                 '', 'null', NULL),
                (0, 'NaN', '-0', 'Infinity', 0, NULL, NULL, NULL, NULL,
                 'é☃🦆 \\N NULL '' "" \\ $1 ;--', NULL, NULL),
                (NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL)"""
        )
    finally:
        await admin.close()
    q = query(
        "SELECT n, x, f, r, m, b, d, t, tz, s, j, u FROM odd ORDER BY n NULLS LAST",
        [
            ("n", "integer"),
            ("x", "decimal"),
            ("f", "decimal"),
            ("r", "decimal"),
            ("m", "decimal"),
            ("b", "boolean"),
            ("d", "date"),
            ("t", "timestamp"),
            ("tz", "timestamp"),
            ("s", "text"),
            ("j", "text"),
            ("u", "text"),
        ],
    )
    rows = comparable(await both_paths(connector, cfg, q))
    assert [r["n"] for r in rows] == [-(2**63), 0, 2**63 - 1, None]
    top = rows[2]
    assert top["x"] == 1.2345678901234568e29
    assert top["f"] == 1e308
    assert top["r"] == float(pa.scalar(0.1, pa.float32()).as_py())  # real widened exactly
    assert top["m"] == 12.34
    assert top["tz"] == dt.datetime(2024, 6, 1, 10, 0)  # in the session zone (UTC)
    assert top["s"] == 'a,"b"\nc\r\n'
    assert top["j"] == '{"k": [1, "é"]}'
    assert rows[0]["s"] == ""  # an empty string is not NULL
    assert rows[1]["s"] == 'é☃🦆 \\N NULL \' "" \\ $1 ;--'
    assert rows[1]["f"] == 0.0
    assert rows[3] == dict.fromkeys(rows[3])  # all NULL


async def test_timestamps_are_shown_in_the_configured_time_zone(
    connector: PostgresConnector, engines: Any, db_schema: str
) -> None:
    config = config_for(engines.postgres, timezone="America/New_York")
    q = query(
        "SELECT $1::timestamptz AS instant, date_trunc('day', $1::timestamptz) AS day",
        [("instant", "timestamp"), ("day", "date")],
        [dt.datetime(2024, 1, 1, 3, 0, tzinfo=dt.UTC)],
    )
    table = await both_paths(connector, config, q)
    assert table.to_pylist() == [
        {"instant": dt.datetime(2023, 12, 31, 22, 0), "day": dt.date(2023, 12, 31)}
    ]


async def test_undeclared_columns_take_their_names_and_types_from_postgres(
    connector: PostgresConnector, cfg: PostgresConfig, weather: int
) -> None:
    table = await connector.run(
        cfg, query("SELECT weather, count(*) AS days FROM weather GROUP BY 1"), timeout=30
    )
    assert table.schema == pa.schema([("weather", pa.string()), ("days", pa.int64())])
    assert table.num_rows == 5


async def test_a_row_of_one_null_is_a_row_on_both_paths(
    connector: PostgresConnector, cfg: PostgresConfig, weather: int
) -> None:
    # A grand total over no rows: one row, one NULL (COPY writes it as an empty line).
    q = query(
        "SELECT sum(wind) AS total FROM weather WHERE false UNION ALL SELECT NULL::float8",
        [("total", "decimal")],
    )
    table = await both_paths(connector, cfg, q)
    assert table.to_pylist() == [{"total": None}, {"total": None}]


async def test_an_empty_answer_keeps_its_columns(
    connector: PostgresConnector, cfg: PostgresConfig, weather: int
) -> None:
    q = query("SELECT day, wind FROM weather WHERE false", [("day", "date"), ("wind", "decimal")])
    table = await both_paths(connector, cfg, q)
    assert table.num_rows == 0
    assert table.schema.names == ["day", "wind"]


def test_a_final_limit_tells_the_expected_size() -> None:
    assert expected_rows("SELECT 1 FROM t LIMIT 20", ()) == 20
    assert expected_rows("SELECT 1 FROM t ORDER BY 1 limit $2 OFFSET $3;", (0, 7, 1)) == 7
    assert expected_rows("SELECT * FROM (SELECT 1 FROM t LIMIT 5) q", ()) is None
    assert expected_rows("SELECT 1 FROM t", ()) is None


# -- refusals --------------------------------------------------------------------------------


async def test_sql_postgres_rejects_is_an_invalid_query(
    connector: PostgresConnector, cfg: PostgresConfig
) -> None:
    with pytest.raises(InvalidQuery, match=r"PostgreSQL rejected the query: .*no_such_function"):
        await connector.run(cfg, query("SELECT no_such_function(1)"), timeout=30)


async def test_a_table_gone_from_the_source_is_a_source_change(
    connector: PostgresConnector, cfg: PostgresConfig
) -> None:
    with pytest.raises(SourceChanged, match=r"no_such_table.*refresh the dataset") as caught:
        await connector.run(cfg, query("SELECT * FROM no_such_table"), timeout=30)
    assert caught.value.status == 409


@pytest.mark.parametrize("small", [False, True])
async def test_a_source_is_never_written_to(
    connector: PostgresConnector, cfg: PostgresConfig, engines: Any, db_schema: str, small: bool
) -> None:
    admin = await asyncpg.connect(engines.postgres)
    try:
        await admin.execute(f"CREATE SEQUENCE {db_schema}.counter")
        q = query("SELECT nextval('counter') AS n", [("n", "integer")])
        with pytest.raises(InvalidQuery, match="read-only transaction"):
            await connector.run(cfg, limited(q) if small else q, timeout=30)
        assert await admin.fetchval(f"SELECT last_value FROM {db_schema}.counter") == 1
        assert not await admin.fetchval(f"SELECT is_called FROM {db_schema}.counter")
    finally:
        await admin.close()


async def test_declared_columns_must_match_the_sql(
    connector: PostgresConnector, cfg: PostgresConfig
) -> None:
    with pytest.raises(InvalidQuery, match="returns 2 columns but the query declares 1"):
        await connector.run(cfg, query("SELECT 1 AS a, 2 AS b", [("a", "integer")]), timeout=30)


async def test_a_query_compiled_for_another_dialect_is_refused(
    connector: PostgresConnector, cfg: PostgresConfig
) -> None:
    q = CompiledQuery(sql="SELECT 1", dialect="duckdb")
    with pytest.raises(InvalidQuery, match="compiled for duckdb"):
        await connector.run(cfg, q, timeout=30)


@pytest.mark.parametrize("small", [False, True])
async def test_a_parameter_of_the_wrong_type_is_refused_on_both_paths(
    connector: PostgresConnector, cfg: PostgresConfig, weather: int, small: bool
) -> None:
    q = query("SELECT day FROM weather WHERE day > $1", [("day", "date")], ["2012-01-01"])
    with pytest.raises(InvalidQuery, match=r"parameter \$1 is a str, which a date cannot take"):
        await connector.run(cfg, limited(q) if small else q, timeout=30)


async def test_an_answer_over_the_row_limit_is_too_large(
    tmp_path: Path, cfg: PostgresConfig, weather: int
) -> None:
    async with open_connector(tmp_path, max_result_rows=1000) as connector:
        with pytest.raises(TooLarge, match="more than 1,000 rows"):
            await connector.run(cfg, query("SELECT day FROM weather"), timeout=30)
        exactly = await connector.run(cfg, query("SELECT day FROM weather LIMIT 1000"), timeout=30)
        assert exactly.num_rows == 1000


# -- time and concurrency --------------------------------------------------------------------


@pytest.mark.parametrize("small", [False, True])
async def test_a_query_over_its_timeout_is_cancelled_at_the_source(
    connector: PostgresConnector, cfg: PostgresConfig, engines: Any, small: bool
) -> None:
    marker = f"slow_{'fetch' if small else 'copy'}"
    q = query(f"SELECT pg_sleep(30) AS {marker}", [(marker, "text")])
    with pytest.raises(QueryTimeout, match="cancelled at the source"):
        await connector.run(cfg, limited(q, 1) if small else q, timeout=0.5)
    await eventually(lambda: running(engines.postgres, marker), 0)
    # The connection went back to the pool in a usable state.
    assert (await connector.run(cfg, query("SELECT 1 AS one"), timeout=30)).num_rows == 1


async def test_the_servers_statement_timeout_is_a_query_timeout(
    connector: PostgresConnector, engines: Any
) -> None:
    config = config_for(engines.postgres, statement_timeout=0.2)
    with pytest.raises(QueryTimeout, match="statement timeout"):
        await connector.run(config, query("SELECT pg_sleep(30)::text AS s"), timeout=30)


async def test_queries_over_the_concurrency_limit_wait_then_give_up(
    tmp_path: Path, cfg: PostgresConfig, engines: Any
) -> None:
    async with open_connector(tmp_path, concurrent_queries=1, queue_timeout=0.2) as connector:
        slow = asyncio.create_task(
            connector.run(cfg, query("SELECT pg_sleep(30)::text AS hog"), timeout=60)
        )
        await eventually(lambda: running(engines.postgres, "AS hog"), 1)
        with pytest.raises(SourceBusy, match=r"all 1 query slots .* stayed busy for 0\.2 s"):
            await connector.run(cfg, query("SELECT 1 AS one"), timeout=30)
        slow.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await slow
        # The slot is free again.
        assert (await connector.run(cfg, query("SELECT 1 AS one"), timeout=30)).num_rows == 1


async def test_a_waiting_query_runs_once_a_slot_frees(
    tmp_path: Path, cfg: PostgresConfig, engines: Any
) -> None:
    async with open_connector(tmp_path, concurrent_queries=1, queue_timeout=60) as connector:
        first = asyncio.create_task(
            connector.run(cfg, query("SELECT pg_sleep(0.3)::text AS first"), timeout=60)
        )
        second = asyncio.create_task(connector.run(cfg, query("SELECT 2 AS second"), timeout=60))
        await eventually(lambda: running(engines.postgres, "AS first"), 1)
        assert not second.done()
        assert (await first).num_rows == 1
        assert (await second).to_pylist() == [{"second": 2}]


# -- streams ---------------------------------------------------------------------------------


async def test_a_stream_yields_full_batches_equal_to_the_whole_answer(
    connector: PostgresConnector, cfg: PostgresConfig, weather: int
) -> None:
    q = query(
        "SELECT day, weather, temp_max, day::timestamp + interval '1 hour' AS at,"
        " precipitation > 0 AS wet FROM weather WHERE day >= $1 ORDER BY day",
        [
            ("day", "date"),
            ("weather", "text"),
            ("temp_max", "decimal"),
            ("at", "timestamp"),
            ("wet", "boolean"),
        ],
        [dt.date(2012, 1, 1)],
    )
    batches = [b async for b in connector.stream(cfg, q, timeout=30, batch_rows=100)]
    assert [b.num_rows for b in batches] == [100] * 14 + [61]
    streamed = pa.Table.from_batches(batches)
    assert streamed.equals(await connector.run(cfg, q, timeout=30))


async def test_a_stream_keeps_text_with_newlines_whole_across_chunks(
    connector: PostgresConnector, cfg: PostgresConfig
) -> None:
    q = query(
        "SELECT i, repeat(E'line \"' || i || E'\"\\n', i % 50) AS body"
        " FROM generate_series(1, 20000) i ORDER BY i",
        [("i", "integer"), ("body", "text")],
    )
    batches = [b async for b in connector.stream(cfg, q, timeout=60, batch_rows=3000)]
    assert [b.num_rows for b in batches] == [3000] * 6 + [2000]
    rows = pa.Table.from_batches(batches).to_pylist()
    assert rows[41] == {"i": 42, "body": 'line "42"\n' * 42}
    assert [r["i"] for r in rows] == list(range(1, 20001))


async def test_a_stream_closed_early_cancels_the_copy(
    connector: PostgresConnector, cfg: PostgresConfig, engines: Any
) -> None:
    q = query(
        "SELECT i AS early_close FROM generate_series(1, 5000000) i",
        [("early_close", "integer")],
    )
    async with contextlib.aclosing(connector.stream(cfg, q, timeout=60, batch_rows=1000)) as it:
        first = await anext(it)
    assert first.num_rows == 1000
    await eventually(lambda: running(engines.postgres, "early_close"), 0)
    assert (await connector.run(cfg, query("SELECT 1 AS one"), timeout=30)).num_rows == 1


async def test_a_stream_over_its_timeout_raises(
    connector: PostgresConnector, cfg: PostgresConfig
) -> None:
    q = query("SELECT pg_sleep(30)::text AS s")

    async def read_all() -> None:
        async with contextlib.aclosing(connector.stream(cfg, q, timeout=0.5)) as it:
            async for _ in it:
                pass

    with pytest.raises(QueryTimeout):
        await read_all()
