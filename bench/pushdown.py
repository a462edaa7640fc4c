"""Push-down over a PostgreSQL source: the connector's cost beside asyncpg's own.

A table of ``--rows`` rows (default 1,000,000: a date, three text dimensions, a numeric and a
double) is created in a fresh schema; the query

    SELECT d1, d2, date_trunc('month', dt), sum(x), avg(y) FROM facts
    WHERE dt >= $1 GROUP BY 1, 2, 3

returns 12,000 groups (20 x 25 x 24 months). Each round runs, interleaved:

* (a) ``conn.fetch(sql, *params)`` on a plain asyncpg connection: the baseline;
* (b) ``PostgresConnector.run`` → an Arrow table (prepare, cast, COPY, pyarrow CSV);
* (c) the same, then encoded as the JSON answer (``{"columns", "rows"}`` with msgspec) and as
  Arrow IPC stream bytes (what ``Accept: application/vnd.apache.arrow.stream`` gets).

"Cold" means no cache in Loupe: PostgreSQL runs the aggregation every time (its buffer cache is
warm after the warm-up round, for all scenarios alike). Target: median (b) / median (a) ≤ 1.1.

A second table compares the two ways an answer can travel, for answers of 100, 12,000 and
1,000,000 rows of five columns: fetch + Arrow conversion (the connector's small-answer path)
and COPY + pyarrow CSV (its path for anything else).

    .venv/bin/python bench/pushdown.py [--database-url URL] [--rows 1000000] [--runs 7]

Everything lives in a fresh schema ``bench_<hex>`` that is dropped at the end, also on Ctrl-C.
"""


# generated here (bench_<hex>); every value is a bind parameter.

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import secrets
import statistics
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable, Mapping
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit

import asyncpg
import msgspec
import pyarrow as pa

from connectors.plugin import CompiledQuery, ConnectorContext, OutputColumn
from connectors.postgres import PostgresConfig, PostgresConnector
from connectors.postgres.results import records_table

DEFAULT_DATABASE_URL = "postgresql://postgres@127.0.0.1:5432/test"

FACTS_SQL = """
CREATE TABLE {s}.facts AS
SELECT (date '2022-01-01' + ((i / 500) % 730)::int4) AS dt,
       'region ' || (i % 20) AS d1,
       'product ' || ((i / 20) % 25) AS d2,
       'channel ' || (i % 3) AS d3,
       ((i * 37) % 100000)::numeric(12, 2) / 100 AS x,
       ((i * 7919) % 997)::float8 / 7 AS y
FROM generate_series(0::int8, {rows} - 1) AS i
"""

GROUPS_SQL = (
    "SELECT d1, d2, date_trunc('month', dt) AS month, sum(x) AS total, avg(y) AS mean"
    " FROM {s}.facts WHERE dt >= $1 GROUP BY 1, 2, 3"
)
GROUPS_COLUMNS = (
    ("d1", "text"),
    ("d2", "text"),
    ("month", "timestamp"),
    ("total", "decimal"),
    ("mean", "decimal"),
)
ROWS_SQL = "SELECT d1, d2, dt::timestamp AS at, x::float8 AS x, y FROM {s}.facts LIMIT {n}"
ROWS_COLUMNS = (
    ("d1", "text"),
    ("d2", "text"),
    ("at", "timestamp"),
    ("x", "decimal"),
    ("y", "decimal"),
)
ROWS_SCHEMA = pa.schema(
    [
        ("d1", pa.string()),
        ("d2", pa.string()),
        ("at", pa.timestamp("us")),
        ("x", pa.float64()),
        ("y", pa.float64()),
    ]
)


def config_for(url: str) -> PostgresConfig:
    """The connector config reaching the server of ``url`` (TCP or a socket directory)."""
    parts = urlsplit(url)
    query = parse_qs(parts.query)
    return PostgresConfig(
        host=parts.hostname or query.get("host", ["127.0.0.1"])[0],
        port=parts.port or int(query.get("port", ["5432"])[0]),
        database=unquote(parts.path.lstrip("/")) or "postgres",
        user=unquote(parts.username or "postgres"),
        password=unquote(parts.password) if parts.password else None,
    )


def compiled(sql: str, columns: Any, params: tuple[Any, ...] = ()) -> CompiledQuery:
    return CompiledQuery(
        sql=sql,
        params=params,
        columns=tuple(OutputColumn(name=n, type=t) for n, t in columns),
        dialect="postgres",
    )


def json_answer(table: pa.Table) -> bytes:
    """The API's JSON answer: column names and types, then the rows as lists."""
    columns = [{"name": f.name, "type": str(f.type)} for f in table.schema]
    rows = list(zip(*table.to_pydict().values(), strict=True))
    return msgspec.json.encode({"columns": columns, "rows": rows})


def ipc_answer(table: pa.Table) -> bytes:
    sink = pa.BufferOutputStream()
    with pa.ipc.new_stream(sink, table.schema) as writer:
        writer.write_table(table)
    return bytes(sink.getvalue())


async def timed(step: Callable[[], Awaitable[Any]]) -> tuple[float, Any]:
    start = time.perf_counter()
    result = await step()
    return time.perf_counter() - start, result


async def measure(
    steps: Mapping[str, Callable[[], Awaitable[Any]]], runs: int
) -> dict[str, list[float]]:
    """One warm-up round, then ``runs`` rounds with every step once (interleaved)."""
    for step in steps.values():
        await step()
    times: dict[str, list[float]] = {name: [] for name in steps}
    for _ in range(runs):
        for name, step in steps.items():
            elapsed, _result = await timed(step)
            times[name].append(elapsed)
    return times


def show(title: str, times: dict[str, list[float]], baseline: str | None) -> None:
    print(f"\n{title}")
    base = statistics.median(times[baseline]) if baseline else None
    width = max(len(name) for name in times)
    print(f"  {'':<{width}}  {'median ms':>10}  {'min ms':>8}  {'ratio':>6}")
    for name, values in times.items():
        median = statistics.median(values)
        ratio = f"{median / base:6.3f}" if base else ""
        print(f"  {name:<{width}}  {median * 1000:10.1f}  {min(values) * 1000:8.1f}  {ratio:>6}")


async def bench(args: argparse.Namespace, schema: str) -> None:
    s = f'"{schema}"'
    setup = await asyncpg.connect(args.database_url)
    try:
        print(f"PostgreSQL {setup.get_server_version().major}, schema {schema}")
        start = time.perf_counter()
        await setup.execute(f"CREATE SCHEMA {s}")
        await setup.execute(FACTS_SQL.format(s=s, rows=int(args.rows)))
        await setup.execute(f"ANALYZE {s}.facts")
        print(f"{args.rows:,} rows loaded in {time.perf_counter() - start:.1f} s")
    finally:
        await setup.close()

    config = config_for(args.database_url)
    params = (dt.date(2022, 1, 1),)
    groups_sql = GROUPS_SQL.format(s=s)
    query = compiled(groups_sql, GROUPS_COLUMNS, params)
    with tempfile.TemporaryDirectory() as data_dir:
        connector = PostgresConnector(ConnectorContext(data_dir=Path(data_dir)))
        direct = await asyncpg.connect(args.database_url)
        try:
            table = await connector.run(config, query, timeout=300)
            records = await direct.fetch(groups_sql, *params)
            assert table.num_rows == len(records), (table.num_rows, len(records))
            print(f"{table.num_rows:,} groups; JSON answer {len(json_answer(table)):,} B")

            async def encoded() -> tuple[bytes, bytes]:
                answer = await connector.run(config, query, timeout=300)
                return json_answer(answer), ipc_answer(answer)

            times = await measure(
                {
                    "(a) asyncpg conn.fetch": lambda: direct.fetch(groups_sql, *params),
                    "(b) connector.run -> Arrow": lambda: connector.run(config, query, timeout=300),
                    "(c) run + JSON + Arrow IPC": encoded,
                },
                args.runs,
            )
            show(
                f"GROUP BY over {args.rows:,} rows -> {table.num_rows:,} groups (cold: no cache)",
                times,
                "(a) asyncpg conn.fetch",
            )
            ratio = statistics.median(times["(b) connector.run -> Arrow"]) / statistics.median(
                times["(a) asyncpg conn.fetch"]
            )
            print(f"  target (b)/(a) <= 1.10: {'met' if ratio <= 1.1 else 'NOT met'} ({ratio:.3f})")

            for n in (100, 12_000, min(1_000_000, int(args.rows))):
                sql = ROWS_SQL.format(s=s, n=n)
                plain = compiled(sql, ROWS_COLUMNS)

                async def fetch_arrow(sql: str = sql) -> pa.Table:
                    return records_table(await direct.fetch(sql), ROWS_SCHEMA)

                async def copy_arrow(q: CompiledQuery = plain) -> pa.Table:
                    # Through the connector; only answers known to be small are fetched.
                    return await connector.run(config, q, timeout=300)

                steps = {"asyncpg fetch only": lambda sql=sql: direct.fetch(sql)}
                steps["fetch + Arrow"] = fetch_arrow
                if n > 500:
                    steps["COPY + pyarrow CSV (connector.run)"] = copy_arrow
                else:
                    steps["connector.run (fetch path)"] = copy_arrow
                show(
                    f"{n:,} rows x 5 columns", await measure(steps, args.runs), "asyncpg fetch only"
                )
        finally:
            await direct.close()
            await connector.close()


async def drop(url: str, schema: str) -> None:
    conn = await asyncpg.connect(url)
    try:
        await conn.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')
    finally:
        await conn.close()


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--database-url", default=DEFAULT_DATABASE_URL)
    parser.add_argument("--rows", type=int, default=1_000_000, help="default 1,000,000")
    parser.add_argument("--runs", type=int, default=7, help="measured rounds (default 7)")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    schema = f"bench_{secrets.token_hex(6)}"
    try:
        asyncio.run(bench(args, schema))
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
    finally:
        asyncio.run(drop(args.database_url, schema))
    return 0


if __name__ == "__main__":
    sys.exit(main())
