"""Running compiled queries on one in-process DuckDB database, from asyncio.

DuckDB's Python connection is not thread-safe; its documented pattern is one database and a
``cursor()`` (a connection to the same database) per thread. So: a fixed pool of worker
threads, each with its own cursor made once and reused (a query then costs what DuckDB
needs, not a connection set-up: ~1.5 ms for a 5-row aggregate over a 2,000-row file); results
come through the relation API (``cursor.sql``), which hands Arrow over without the extra copy
of a DB-API result; an `asyncio.Semaphore` for the concurrency limit (waiting
longer than ``queue_timeout`` → `SourceBusy`); a timeout that ``interrupt()``s the cursor
running the query (→ `QueryTimeout`). Streams get a cursor of their own for their lifetime.

The database may read only the blob directory: external access is off, and the
configuration is locked, so SQL cannot turn it back on.
"""

from __future__ import annotations

import asyncio
import contextlib
import threading
from collections.abc import AsyncIterator, Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any, Final, TypeVar

import duckdb
import pyarrow as pa

from connectors.csv.formats import sql_string
from connectors.errors import InvalidQuery, QueryTimeout, SourceBusy, SourceUnavailable

T = TypeVar("T")

QUERY_THREADS: Final = 2
QUERY_MEMORY_LIMIT: Final = "1GB"


class _Running:
    """The cursor a query runs on, so that another thread can interrupt it."""

    def __init__(self) -> None:
        self.cursor: duckdb.DuckDBPyConnection | None = None
        self.stopped = False
        self.lock = threading.Lock()

    def start(self, cursor: duckdb.DuckDBPyConnection) -> None:
        with self.lock:
            if self.stopped:
                raise duckdb.InterruptException("stopped before it started")
            self.cursor = cursor

    def finish(self) -> None:
        with self.lock:
            self.cursor = None

    def interrupt(self) -> None:
        with self.lock:
            self.stopped = True
            if self.cursor is not None:
                self.cursor.interrupt()


class DuckDBRunner:
    def __init__(
        self,
        *,
        readable: Sequence[Path],
        temp_dir: Path,
        slots: int,
        queue_timeout: float,
        threads: int = QUERY_THREADS,
        memory_limit: str = QUERY_MEMORY_LIMIT,
    ) -> None:
        temp_dir.mkdir(parents=True, exist_ok=True)
        self._con = duckdb.connect(
            ":memory:",
            config={
                "threads": threads,
                "memory_limit": memory_limit,
                "temp_directory": str(temp_dir),
            },
        )
        allowed = ", ".join(sql_string(f"{path.resolve()}/") for path in [*readable, temp_dir])
        self._con.execute(f"SET allowed_directories = [{allowed}]")
        self._con.execute("SET enable_external_access = false")
        self._con.execute("SET lock_configuration = true")
        self._slots = slots
        self._pool = ThreadPoolExecutor(max_workers=slots, thread_name_prefix="loupe-duckdb")
        self._semaphore = asyncio.Semaphore(slots)
        self._queue_timeout = queue_timeout
        self._local = threading.local()
        self._cursors: list[duckdb.DuckDBPyConnection] = []
        self._cursors_lock = threading.Lock()
        self._closed = False

    def _thread_cursor(self) -> duckdb.DuckDBPyConnection:
        cursor: duckdb.DuckDBPyConnection | None = getattr(self._local, "cursor", None)
        if cursor is None:
            cursor = self._con.cursor()
            self._local.cursor = cursor
            with self._cursors_lock:
                self._cursors.append(cursor)
        return cursor

    async def _acquire(self) -> None:
        try:
            await asyncio.wait_for(self._semaphore.acquire(), self._queue_timeout)
        except TimeoutError:
            raise SourceBusy(
                f"all {self._slots} query slots stayed busy for {self._queue_timeout:g} s; "
                "try again shortly"
            ) from None

    async def run(self, sql: str, params: Sequence[Any], *, timeout: float) -> pa.Table:
        """The whole answer of ``sql`` as one Arrow table."""
        await self._acquire()
        try:
            running = _Running()
            return await self._call(running, lambda: self._fetch(running, sql, params), timeout)
        finally:
            self._semaphore.release()

    async def rows(
        self, sql: str, params: Sequence[Any], *, timeout: float
    ) -> list[tuple[Any, ...]]:
        """The whole answer of ``sql`` as Python rows (for small answers sent as JSON)."""
        await self._acquire()
        try:
            running = _Running()
            return await self._call(
                running, lambda: self._fetch_rows(running, sql, params), timeout
            )
        finally:
            self._semaphore.release()

    def _fetch_rows(
        self, running: _Running, sql: str, params: Sequence[Any]
    ) -> list[tuple[Any, ...]]:
        cursor = self._thread_cursor()
        running.start(cursor)
        try:
            return cursor.execute(sql, list(params)).fetchall()
        finally:
            running.finish()

    def _fetch(self, running: _Running, sql: str, params: Sequence[Any]) -> pa.Table:
        cursor = self._thread_cursor()
        running.start(cursor)
        try:
            return cursor.sql(sql, params=list(params)).to_arrow_table()
        finally:
            running.finish()

    async def stream(
        self, sql: str, params: Sequence[Any], *, timeout: float, batch_rows: int
    ) -> AsyncIterator[pa.RecordBatch]:
        """The answer of ``sql`` in record batches; ``timeout`` bounds the whole stream."""
        await self._acquire()
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        cursor = self._con.cursor()
        running = _Running()
        try:

            def start() -> pa.RecordBatchReader:
                running.start(cursor)
                return cursor.sql(sql, params=list(params)).to_arrow_reader(batch_rows)

            reader = await self._call(running, start, timeout)
            while True:
                remaining = deadline - loop.time()
                batch = await self._call(running, lambda: _next_batch(reader), remaining)
                if batch is None:
                    return
                yield batch
        finally:
            cursor.close()
            self._semaphore.release()

    async def _call(self, running: _Running, work: Callable[[], T], timeout: float) -> T:
        future = asyncio.get_running_loop().run_in_executor(self._pool, work)
        try:
            return await asyncio.wait_for(asyncio.shield(future), max(timeout, 0))
        except TimeoutError:
            running.interrupt()
            with contextlib.suppress(Exception):
                await future
            raise QueryTimeout(f"the query ran longer than {timeout:g} s and was stopped") from None
        except asyncio.CancelledError:
            running.interrupt()
            with contextlib.suppress(Exception):
                await future
            raise
        except duckdb.IOException as error:
            raise SourceUnavailable(
                f"the dataset's file cannot be read: {_first_line(error)}"
            ) from None
        except duckdb.InterruptException:
            raise QueryTimeout("the query was stopped") from None
        except duckdb.Error as error:
            raise InvalidQuery(f"DuckDB cannot run the query: {_first_line(error)}") from None

    async def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        await asyncio.to_thread(self._pool.shutdown, wait=True)
        with self._cursors_lock:
            for cursor in self._cursors:
                cursor.close()
        self._con.close()


def _next_batch(reader: pa.RecordBatchReader) -> pa.RecordBatch | None:
    try:
        return reader.read_next_batch()
    except StopIteration:
        return None


def _first_line(error: Exception) -> str:
    return str(error).splitlines()[0] if str(error) else type(error).__name__
