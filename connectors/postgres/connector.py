"""The PostgreSQL connector: queries run in place, aggregated by PostgreSQL (push-down).

Loupe compiles a query spec into PostgreSQL SQL (connectors/query); this connector runs it over
an asyncpg pool and returns Arrow. The answer travels one of two ways (docs/postgres.md has the
measurements behind the choice):

* fetched (extended protocol, values bound as ``$1..$n``) when the SQL ends in a ``LIMIT`` of
  at most `SMALL_RESULT_ROWS`: for a handful of rows this is the cheapest;
* otherwise ``COPY (query) TO STDOUT (FORMAT csv)``, parsed by pyarrow: from about a thousand
  rows on it is faster than fetching, and 4-6x faster at a million rows. COPY takes no bind
  parameters, so the values are inlined as typed literals (connectors/postgres/literals.py).

Before either, the statement is described once per source (prepared; the description is kept
per source and SQL, and dropped when a run of that SQL fails): PostgreSQL says which types the
parameters and the result columns have, so values are checked against the types the server
inferred and each column is cast to the type its Loupe type stands for
(connectors/postgres/results.py).
"""

from __future__ import annotations

import asyncio
import re
import time
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass
from typing import Any, ClassVar, Final

import asyncpg
import msgspec
import pyarrow as pa

from connectors.errors import DataError, InvalidConfig, InvalidQuery, TooLarge
from connectors.plugin import (
    CompiledQuery,
    ConnectorContext,
    SourceColumn,
    TableInfo,
)
from connectors.postgres.catalog import (
    COLUMNS_SQL,
    FIND_TABLE_SQL,
    LIST_TABLES_SQL,
    columns_from_rows,
    relation_sql,
    split_table_name,
    tables_from_rows,
)
from connectors.postgres.config import PostgresConfig, connect_arguments
from connectors.postgres.failures import (
    CONNECT_ERRORS,
    QUERY_ERRORS,
    connect_failure,
    query_failure,
)
from connectors.postgres.literals import ParamType, bind_value, inline_params
from connectors.postgres.pools import Connection, Source, Sources
from connectors.postgres.results import (
    CsvBatches,
    Description,
    ResultShape,
    csv_table,
    records_table,
    result_shape,
)

#: Answers known (from a final ``LIMIT``) to have at most this many rows are fetched; larger
#: or unknown ones come by COPY. Fetching wins below a few hundred rows on this machine.
SMALL_RESULT_ROWS: Final = 500
#: CSV longer than this is parsed in a worker thread, not on the event loop.
_THREAD_PARSE_BYTES: Final = 1 << 20
#: Record batches a stream parses ahead of its reader.
_STREAM_AHEAD: Final = 2

_FINAL_LIMIT = re.compile(
    r"\bLIMIT\s+(?:(\d+)|\$(\d+))(?:\s+OFFSET\s+(?:\d+|\$\d+))?\s*;?\s*\Z", re.IGNORECASE
)


class PostgresConnector:
    name: ClassVar[str] = "postgres"
    title: ClassVar[str] = "PostgreSQL"
    dialect: ClassVar[str] = "postgres"
    config_type: ClassVar[type[msgspec.Struct]] = PostgresConfig

    def __init__(self, context: ConnectorContext) -> None:
        self.context = context
        self.limits = context.limits
        self._sources = Sources(context.limits)

    # -- introspection -----------------------------------------------------------------------

    async def test(self, config: Any) -> None:
        """Connect afresh (not through a pool: the config may be a draft) and run ``SELECT 1``."""
        config = checked(config)
        try:
            conn = await asyncpg.connect(**connect_arguments(config))
        except CONNECT_ERRORS as exc:
            raise connect_failure(config, exc) from None
        try:
            await conn.fetchval("SELECT 1", timeout=self.limits.query_timeout)
        except QUERY_ERRORS as exc:
            raise query_failure(config, exc, self.limits.query_timeout) from None
        finally:
            conn.terminate()

    async def list_tables(self, config: Any) -> list[TableInfo]:
        """Tables, views, materialized views and foreign tables the user may SELECT from,
        outside the system schemas (partitions are read through their parent)."""
        config = checked(config)
        timeout = self.limits.query_timeout
        async with self._sources.connection(config) as (_, conn):
            try:
                rows = await conn.fetch(LIST_TABLES_SQL, timeout=timeout)
            except QUERY_ERRORS as exc:
                raise query_failure(config, exc, timeout) from None
        return tables_from_rows(rows)

    async def infer_schema(self, config: Any, table: str) -> list[SourceColumn]:
        config = checked(config)
        schema, name = split_table_name(table)
        timeout = self.limits.query_timeout
        async with self._sources.connection(config) as (_, conn):
            try:
                found = await conn.fetch(FIND_TABLE_SQL, schema, name, timeout=timeout)
                if len(found) == 1 and found[0]["readable"]:
                    rows = await conn.fetch(COLUMNS_SQL, found[0]["oid"], timeout=timeout)
            except QUERY_ERRORS as exc:
                raise query_failure(config, exc, timeout) from None
        if not found:
            raise InvalidConfig(
                f"table {table!r} does not exist in database {config.database!r}"
                + ("" if schema is not None else " (on the search path)")
            )
        if not found[0]["readable"]:
            raise InvalidConfig(f"user {config.user!r} may not SELECT from table {table!r}")
        return columns_from_rows(rows)

    def relation(self, config: Any, table: str) -> str:  # noqa: ARG002 - the protocol's
        return relation_sql(table)

    # -- queries -----------------------------------------------------------------------------

    async def run(self, config: Any, query: CompiledQuery, *, timeout: float) -> pa.Table:
        """The whole answer; `TooLarge` past ``limits.max_result_rows`` rows (PostgreSQL stops
        producing one row after the limit)."""
        config = checked(config)
        deadline = Deadline(timeout)
        most = self.limits.max_result_rows
        async with self._sources.connection(config) as (source, conn):
            try:
                plan = await _prepare(conn, source, query, deadline)
                expected = expected_rows(query.sql, plan.params)
                if expected is not None and expected <= min(SMALL_RESULT_ROWS, most):
                    table = await _fetch(conn, query, plan, deadline)
                else:
                    table = await _copy(conn, source, query, plan, deadline, limit=most + 1)
            except DataError:
                source.descriptions.forget(query.sql)
                raise
            except QUERY_ERRORS as exc:
                source.descriptions.forget(query.sql)
                raise query_failure(config, exc, timeout) from None
        if table.num_rows > most:
            raise TooLarge(
                f"the query returns more than {most:,} rows; narrow it (filters, a coarser "
                "grain, a limit) or export it",
                code="too_many_rows",
            )
        return table

    async def stream(
        self, config: Any, query: CompiledQuery, *, timeout: float, batch_rows: int = 65_536
    ) -> AsyncIterator[pa.RecordBatch]:
        """The answer in record batches of ``batch_rows`` rows as COPY delivers it, parsed a
        couple of batches ahead of the reader; a slow reader slows the COPY down (the whole
        COPY must still finish within ``timeout``). Close the iterator (``aclosing``) to stop
        early: the COPY is cancelled at the source."""
        config = checked(config)
        deadline = Deadline(timeout)
        async with self._sources.connection(config) as (source, conn):
            try:
                plan = await _prepare(conn, source, query, deadline)
                sql = inline_params(
                    plan.shape.wrap(query.sql), plan.params, plan.types, source.zone
                )
            except DataError:
                source.descriptions.forget(query.sql)
                raise
            except QUERY_ERRORS as exc:
                source.descriptions.forget(query.sql)
                raise query_failure(config, exc, timeout) from None
            queue: asyncio.Queue[pa.RecordBatch | _End] = asyncio.Queue(_STREAM_AHEAD)
            producer = asyncio.create_task(
                _copy_batches(conn, sql, plan.shape, batch_rows, queue, deadline)
            )
            try:
                while not isinstance(item := await queue.get(), _End):
                    yield item
                if item.error is not None:
                    source.descriptions.forget(query.sql)
                    if isinstance(item.error, DataError):
                        raise item.error
                    raise query_failure(config, item.error, timeout) from None
            finally:
                if not producer.done():
                    producer.cancel()
                    await asyncio.wait([producer])
                    # A COPY stopped half-way may leave the server blocked writing to a socket
                    # nobody reads, where a cancel request waits unprocessed: closing the
                    # connection ends the COPY at once (the pool opens a new one).
                    conn.terminate()

    async def close(self) -> None:
        await self._sources.close()


def checked(config: Any) -> PostgresConfig:
    """The config as a validated `PostgresConfig` (a mapping is converted)."""
    if isinstance(config, PostgresConfig):
        return config
    try:
        return msgspec.convert(config, PostgresConfig)
    except msgspec.ValidationError as exc:
        raise InvalidConfig(f"the PostgreSQL configuration is not valid: {exc}") from None


def expected_rows(sql: str, params: Sequence[Any]) -> int | None:
    """The row count a final ``LIMIT n`` (or ``LIMIT $k``) caps the answer at, if any."""
    found = _FINAL_LIMIT.search(sql)
    if found is None:
        return None
    if found.group(1) is not None:
        return int(found.group(1))
    index = int(found.group(2)) - 1
    value = params[index] if 0 <= index < len(params) else None
    return value if isinstance(value, int) and not isinstance(value, bool) else None


class Deadline:
    """One timeout shared by the statements of one call."""

    def __init__(self, seconds: float) -> None:
        if not seconds > 0:
            raise InvalidQuery("the timeout must be a positive number of seconds")
        self.seconds = seconds
        self._end = time.monotonic() + seconds

    def left(self) -> float:
        left = self._end - time.monotonic()
        if left <= 0:
            raise TimeoutError
        return left


@dataclass(frozen=True)
class _Plan:
    types: tuple[ParamType, ...]
    #: The parameters checked against ``types`` and normalized (`bind_value`).
    params: tuple[Any, ...]
    shape: ResultShape


@dataclass(frozen=True)
class _End:
    error: BaseException | None = None


async def _prepare(
    conn: Connection, source: Source, query: CompiledQuery, deadline: Deadline
) -> _Plan:
    """Check the query against what PostgreSQL says of it (asked once per source and SQL)."""
    if query.dialect != "postgres":
        raise InvalidQuery(f"the query was compiled for {query.dialect}, not postgres")
    described = source.descriptions.get(query.sql)
    if described is None:
        statement = await conn.prepare(query.sql, timeout=deadline.left())
        described = source.descriptions.put(query.sql, Description.of(statement))
    types = described.params
    if len(types) != len(query.params):
        raise InvalidQuery(
            f"the query takes {len(types)} parameters but {len(query.params)} were given"
        )
    params = tuple(
        bind_value(value, typ, source.zone, number)
        for number, (value, typ) in enumerate(zip(query.params, types, strict=True), start=1)
    )
    return _Plan(types=types, params=params, shape=result_shape(query.columns, described))


async def _fetch(
    conn: Connection, query: CompiledQuery, plan: _Plan, deadline: Deadline
) -> pa.Table:
    sql = plan.shape.wrap(query.sql)
    records = await conn.fetch(sql, *plan.params, timeout=deadline.left())
    return records_table(records, plan.shape.schema)


async def _copy(
    conn: Connection,
    source: Source,
    query: CompiledQuery,
    plan: _Plan,
    deadline: Deadline,
    *,
    limit: int,
) -> pa.Table:
    wrapped = plan.shape.wrap(query.sql, limit=limit)
    sql = inline_params(wrapped, plan.params, plan.types, source.zone)
    chunks: list[bytes] = []

    async def collect(chunk: bytes) -> None:
        chunks.append(chunk)

    await conn.copy_from_query(sql, output=collect, format="csv", timeout=deadline.left())
    data = b"".join(chunks)
    del chunks[:]
    schema = plan.shape.schema
    if len(data) > _THREAD_PARSE_BYTES:
        return await asyncio.to_thread(csv_table, data, schema)
    return csv_table(data, schema, use_threads=False)


async def _copy_batches(  # noqa: PLR0917 - a task's body, called once
    conn: Connection,
    sql: str,
    shape: ResultShape,
    batch_rows: int,
    queue: asyncio.Queue[pa.RecordBatch | _End],
    deadline: Deadline,
) -> None:
    """Run the COPY, handing batches to ``queue`` as they are parsed, then an `_End`."""
    schema = shape.schema
    batcher = CsvBatches(schema, batch_rows)

    async def parse(block: bytes) -> None:
        batcher.add_rows(await asyncio.to_thread(csv_table, block, schema))

    async def sink(chunk: bytes) -> None:
        block = batcher.add(chunk)
        if block is not None:
            await parse(block)
            for batch in batcher.take(final=False):
                await queue.put(batch)

    try:
        await conn.copy_from_query(sql, output=sink, format="csv", timeout=deadline.left())
        rest = batcher.flush()
        if rest is not None:
            await parse(rest)
        for batch in batcher.take(final=True):
            await queue.put(batch)
    except Exception as exc:  # noqa: BLE001 - handed to the reader, who raises it
        await queue.put(_End(exc))
    else:
        await queue.put(_End())
