"""The query engine: a query spec over a dataset → compiled SQL → the dataset's connector →
an encoded answer (JSON or Arrow IPC), through the query cache.

The cache stores the *encoded* answer (the bytes sent), keyed by the dataset's data version
and the compiled SQL (connectors/query_cache.py): a hit costs one Redis GET and no
re-encoding, and an answer computed from older data can never be found. When Redis fails the
query still answers, uncached, and ``redis_ok`` turns False until Redis answers again.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, Literal

import msgspec
import pyarrow as pa
import redis.exceptions

from connectors.plugin import CompiledQuery, Connector, RowsConnector
from connectors.query import QuerySpec, compile_query
from connectors.query.shapes import ShapeMemo
from connectors.query_cache import QueryCache
from connectors.registry import Connectors
from domain.dataset.aggregate import DatasetSnapshot

log = logging.getLogger(__name__)

AnswerFormat = Literal["json", "arrow"]
#: The one table of a file dataset (connectors/csv).
FILE_TABLE = "file"
ARROW_STREAM = "application/vnd.apache.arrow.stream"

_json = msgspec.json.Encoder(decimal_format="number")
_spec_bytes = msgspec.json.Encoder().encode
#: Compiled queries remembered per process.
COMPILED_KEPT = 4096


@dataclass(frozen=True)
class Answer:
    body: bytes
    media_type: str
    cached: bool
    rows: int | None = None


@dataclass(frozen=True)
class Source:
    """A dataset's connector, its opened config and the FROM of its queries."""

    connector: Connector
    config: Any
    relation: str


class QueryEngine:
    def __init__(
        self,
        connectors: Connectors,
        open_config: Callable[[type[msgspec.Struct], dict[str, Any]], dict[str, Any]],
        cache: QueryCache | None,
        *,
        timeout: float = 60.0,
    ) -> None:
        self.connectors = connectors
        self._open_config = open_config
        self.cache = cache
        self.timeout = timeout
        self.redis_ok = True
        #: answer key → the answer being stored in Redis right now.
        self._storing: dict[str, bytes] = {}
        self._tasks: set[asyncio.Task[None]] = set()
        #: (dataset id, version) → its source: configs are decrypted once per version.
        self._sources: dict[tuple[Any, int], Source] = {}
        #: Compiled queries per spec shape: a new value of a slicer needs no compiling.
        self._shapes = ShapeMemo()
        #: (dataset id, version, spec, today) → compiled query, oldest first.
        self._compiled: dict[tuple[Any, int, bytes, dt.date], CompiledQuery] = {}

    def source(self, dataset: DatasetSnapshot) -> Source:
        key = (dataset.id, dataset.version)
        found = self._sources.get(key)
        if found is not None:
            return found
        connector = self.connectors.get(dataset.connector)
        opened = dict(self._open_config(connector.config_type, dataset.config))
        if dataset.blob is not None:
            # A file dataset's data is its newest blob (a re-upload moves it on); the config
            # names the first one.
            opened["blob"] = dataset.blob
        config = msgspec.convert(opened, connector.config_type)
        relation = connector.relation(config, dataset.table or FILE_TABLE)
        if len(self._sources) > 1024:  # noqa: PLR2004 - a bound, not a tuning knob
            self._sources.clear()
        found = self._sources[key] = Source(connector, config, relation)
        return found

    def compile(
        self,
        dataset: DatasetSnapshot,
        spec: QuerySpec,
        today: dt.date,
    ) -> CompiledQuery:
        """``spec`` compiled for ``dataset`` (remembered: a dashboard asks the same questions
        again and again, and compiling costs more than answering from the cache)."""
        key = (dataset.id, dataset.version, _spec_bytes(spec), today)
        compiled = self._compiled.get(key)
        if compiled is None:
            source = self.source(dataset)
            dialect = source.connector.dialect
            compiled = self._shapes.compile(
                (dataset.id, dataset.version, source.relation, dialect, today),
                spec,
                dataset.schema,
                lambda: compile_query(
                    spec, dataset.schema, relation=source.relation, dialect=dialect, today=today
                ),
            )
            if len(self._compiled) >= COMPILED_KEPT:
                self._compiled.pop(next(iter(self._compiled)))
            self._compiled[key] = compiled
        return compiled

    async def answer(
        self, dataset: DatasetSnapshot, query: CompiledQuery, fmt: AnswerFormat
    ) -> Answer:
        """The encoded answer of ``query`` over ``dataset``, from the cache when it has it."""
        media = ARROW_STREAM if fmt == "arrow" else "application/json"
        # The answer carries its columns' names, which the SQL does not (``"as"``): they are
        # part of the key.
        names = _spec_bytes([(c.name, c.type) for c in query.columns]).decode()
        key = self._key(dataset, f"{query.sql}\n-- {fmt} {names}", query.params)
        stored = await self._cached(key)
        if stored is not None:
            return Answer(_finish(stored, fmt, cached=True), media, cached=True)
        source = self.source(dataset)
        connector = source.connector
        count: int
        if fmt == "json" and isinstance(connector, RowsConnector):
            rows = await connector.fetch_rows(source.config, query, timeout=self.timeout)
            stored, count = encode_rows(query, rows), len(rows)
        else:
            table = await connector.run(source.config, query, timeout=self.timeout)
            count = table.num_rows
            stored = encode_arrow(table) if fmt == "arrow" else encode_json_rows(query, table)
        if key is not None:
            # Stored while the answer goes out (nobody waits for the cache); until Redis has
            # it, this process answers the same question from ``_storing``.
            self._storing[key] = stored
            task = asyncio.create_task(self._store(dataset, key, stored))
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)
        return Answer(_finish(stored, fmt, cached=False), media, cached=False, rows=count)

    async def rows(self, dataset: DatasetSnapshot, query: CompiledQuery) -> pa.Table:
        """Uncached rows (previews page through data; their pages are not worth caching)."""
        source = self.source(dataset)
        return await source.connector.run(source.config, query, timeout=self.timeout)

    def _key(self, dataset: DatasetSnapshot, sql: str, params: tuple[Any, ...]) -> str | None:
        if self.cache is None:
            return None
        return self.cache.key(dataset.id, dataset.data_version, sql, params)

    async def _cached(self, key: str | None) -> bytes | None:
        if self.cache is None or key is None:
            return None
        storing = self._storing.get(key)
        if storing is not None:
            return storing
        try:
            found = await self.cache.get_key(key)
        except (redis.exceptions.RedisError, OSError) as exc:
            self._redis_failed(exc)
            return None
        self.redis_ok = True
        return found

    async def _store(self, dataset: DatasetSnapshot, key: str, stored: bytes) -> None:
        try:
            if self.cache is not None and self.redis_ok:
                await self.cache.put_key(dataset.id, dataset.data_version, key, stored)
        except (redis.exceptions.RedisError, OSError) as exc:
            self._redis_failed(exc)
        finally:
            self._storing.pop(key, None)

    def _redis_failed(self, exc: BaseException) -> None:
        if self.redis_ok:
            log.warning("query cache: Redis failed (%s); answering uncached", exc)
        self.redis_ok = False


def _finish(stored: bytes, fmt: AnswerFormat, *, cached: bool) -> bytes:
    """The response body: a JSON answer gets its ``"cached"`` member in front (the stored bytes
    are the object without its opening brace); Arrow bytes go as stored."""
    if fmt == "arrow":
        return stored
    return (b'{"cached":true,' if cached else b'{"cached":false,') + stored


def encode_rows(query: CompiledQuery, rows: Sequence[Sequence[Any]]) -> bytes:
    """``"columns":[…],"rows":[[…],…]}`` — a JSON object without its opening brace. Dates and
    times as ISO 8601, NaN and infinities (no JSON form) as null."""
    columns = [{"name": c.name, "type": c.type} for c in query.columns]
    return _json.encode({"columns": columns, "rows": rows})[1:]


def encode_json_rows(query: CompiledQuery, table: pa.Table) -> bytes:
    """`encode_rows` of an Arrow table."""
    return encode_rows(query, list(zip(*(_values(c) for c in table.columns), strict=True)))


def _values(column: pa.ChunkedArray) -> list[Any]:
    if pa.types.is_decimal(column.type):
        column = column.cast(pa.float64())
    values: list[Any] = column.to_pylist()
    return values


def encode_arrow(table: pa.Table) -> bytes:
    sink = pa.BufferOutputStream()
    with pa.ipc.new_stream(sink, table.schema) as writer:
        writer.write_table(table)
    return bytes(sink.getvalue())
