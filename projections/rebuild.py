"""Rebuild a read model from position 0 into fresh tables and swap them in without downtime.

1. Fresh tables (``<name>__rebuild``) are created beside the live ones, without their
   secondary indexes (every non-unique ``CREATE INDEX`` of the projection's ``ddl``).
2. A fresh instance of the projection folds the whole log into them, in large batches, while
   the live tables keep serving reads and the live runner keeps them current. Only the event
   types the projection folds are read (the store filters them), and the next batch is read
   while the current one is folded.
   With ``workers`` (``loupe projections rebuild NAME --workers N``), a projection that can be
   split (`projections.projection.Splittable`: the reports and the audit log) folds the log
   up to the safe head in N processes at once, each a share of the streams
   (projections/rebuild_worker.py); this process then folds what came after the head.
3. What bulk mode deferred is written (outside the swap, whose lock the live runner waits
   on), then the secondary indexes are built, each in one pass over the filled table: several times
   cheaper than keeping them up to date row by row.
4. The swap is one transaction: it locks the projection's position row (the live runner's
   batches wait on that lock), folds the last events, renames the fresh tables over the live
   ones, and moves the position (and the projection version). Readers wait for the renames
   for a moment; nobody sees a half-built read model. The live runner notices the moved
   position (its fence) and continues from it with empty caches.
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import logging
import re
import time
from collections.abc import Awaitable, Callable, Iterator, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

import asyncpg

from commands.eventstore import EventStore, RecordedEvent, Share
from projections.positions import PositionStore
from projections.projection import REBUILD_SUFFIX, Projection, Splittable, Tables, tables_for
from projections.rebuild_split import Workers, fold_split

if TYPE_CHECKING:
    from projections.projection import Connection

log = logging.getLogger(__name__)

REBUILD_BATCH = 5000
#: Secondary indexes built at the same time (each on its own connection of the pool).
INDEX_BUILDS = 2

#: A statement that builds an index no write relies on: built after the bulk fold. (A UNIQUE
#: index may back an ``ON CONFLICT``, so it is created with its table.)
_SECONDARY_INDEX = re.compile(r"\s*CREATE\s+INDEX\s", re.IGNORECASE)


@dataclass(frozen=True)
class RebuildResult:
    name: str
    position: int
    #: Events of the log the rebuild went through: up to ``position``. When the store filtered
    #: the events by type, the ones it skipped are counted by position (a gap left by an
    #: append that rolled back counts too).
    events: int
    seconds: float
    #: Events handed to the projection.
    folded: int = 0

    @property
    def rate(self) -> float:
        return self.events / self.seconds if self.seconds > 0 else float("inf")


def deferred_indexes(statements: Sequence[str]) -> tuple[list[str], list[str]]:
    """(statements that create the tables, secondary indexes a rebuild builds at the end)."""
    create = [s for s in statements if not _SECONDARY_INDEX.match(s)]
    return create, [s for s in statements if _SECONDARY_INDEX.match(s)]


async def rebuild(
    projection: Projection,
    store: EventStore,
    pool: asyncpg.Pool,
    read_schema: str,
    *,
    batch_size: int = REBUILD_BATCH,
    on_progress: Callable[[int, int], None] | None = None,
    workers: Workers | None = None,
) -> RebuildResult:
    """Rebuild `projection` (a FRESH instance: no state shared with a live runner).

    With ``workers`` (of 2 or more processes) and a `Splittable` projection, the log up to
    the safe head is folded by that many worker processes; otherwise by this one.
    """
    started = time.perf_counter()
    positions = PositionStore(pool, read_schema)
    live = tables_for(read_schema, projection.tables)
    fresh = tables_for(read_schema, projection.tables, suffix=REBUILD_SUFFIX)
    projection.reset()
    projection.bulk(enabled=True)
    create, indexes = deferred_indexes(projection.ddl(fresh))
    async with pool.acquire() as conn, conn.transaction():
        await positions.claim(conn, projection.name, 0)
        for logical in projection.tables:
            await conn.execute(f"DROP TABLE IF EXISTS {fresh[logical]} CASCADE")
        for statement in create:
            await conn.execute(statement)

    reader = BatchReader.of_types(store, projection, batch_size)
    with fewer_collections():
        if workers is not None and workers.count > 1 and isinstance(projection, Splittable):
            head = await store.head_position()
            if head > 0:
                shares = [
                    Share(index=i, count=workers.count, stream_types=projection.split_stream_types)
                    for i in range(workers.count)
                ]
                folded = await fold_split(
                    workers,
                    projection.name,
                    store.schema,
                    read_schema,
                    shares,
                    head,
                    batch_size,
                    on_progress,
                )
                reader.skip_to(head, folded)
        await fold_all(projection, reader, pool, fresh, on_progress)
    # What bulk mode deferred (a million events' report documents) is written now, not in the
    # swap transaction below, whose lock holds up the live runner until it commits.
    async with pool.acquire() as conn, conn.transaction():
        await conn.execute("SET LOCAL synchronous_commit = off")
        await projection.flush(conn, fresh)
    await _build(pool, indexes)

    async with pool.acquire() as conn, conn.transaction():
        await positions.lock(conn, projection.name)
        while True:
            events, complete = await reader.next()
            if events:
                await projection.apply(conn, events, fresh)
            if complete:
                break
        await projection.flush(conn, fresh)
        projection.bulk(enabled=False)
        await _swap(conn, projection, live, fresh)
        await positions.set(conn, projection.name, reader.position, version=projection.version)
    seconds = time.perf_counter() - started
    log.info(
        "rebuilt projection %s: %d events (%d folded) in %.1fs (%.0f/s), now at position %d",
        projection.name,
        reader.events,
        reader.folded,
        seconds,
        reader.events / seconds if seconds else 0,
        reader.position,
    )
    return RebuildResult(projection.name, reader.position, reader.events, seconds, reader.folded)


#: ``read(after_position, limit)`` → (events after it, in position order, at most ``limit``;
#: a head such that fewer events than ``limit`` means every one up to the head was returned).
ReadBatch = Callable[[int, int], Awaitable[tuple[list[RecordedEvent], int]]]


class BatchReader:
    """A log (or a share of it) after a position, a batch at a time."""

    def __init__(self, read: ReadBatch, batch_size: int, *, filtered: bool) -> None:
        self.read = read
        self.batch_size = batch_size
        #: Whether ``read`` skips events (by type or share): positions then count, not events.
        self.filtered = filtered
        self.position = 0
        #: Events gone through (see `RebuildResult.events`), events handed out.
        self.events = 0
        self.folded = 0

    @classmethod
    def of_types(cls, store: EventStore, projection: Projection, batch_size: int) -> BatchReader:
        """The projection's event types, up to the store's safe head."""
        wanted = projection.event_types
        types = None if wanted is None else sorted(wanted)

        def read(after: int, limit: int) -> Awaitable[tuple[list[RecordedEvent], int]]:
            return store.read_safe(after_position=after, limit=limit, types=types)

        return cls(read, batch_size, filtered=types is not None)

    def skip_to(self, position: int, folded: int) -> None:
        """Events up to ``position`` were folded elsewhere (by the workers of a split)."""
        self.events += position - self.position
        self.position = position
        self.folded += folded

    async def next(self) -> tuple[list[RecordedEvent], bool]:
        """(the next batch, whether it reached the head: nothing more for now)."""
        events, head = await self.read(self.position, self.batch_size)
        complete = len(events) < self.batch_size
        before = self.position
        # Fewer events than asked for: every event up to the head was handed out.
        self.position = max(head, before) if complete else events[-1].position
        self.events += self.position - before if self.filtered else len(events)
        self.folded += len(events)
        return events, complete


async def fold_all(
    projection: Projection,
    reader: BatchReader,
    pool: asyncpg.Pool,
    fresh: Tables,
    on_progress: Callable[[int, int], None] | None,
) -> None:
    """Fold the log up to the safe head, a transaction per batch; the next batch is read
    while one is folded."""
    batch = asyncio.ensure_future(reader.next())
    try:
        while True:
            events, complete = await batch
            if not complete:
                batch = asyncio.ensure_future(reader.next())
            if events:
                async with pool.acquire() as conn, conn.transaction():
                    await conn.execute("SET LOCAL synchronous_commit = off")
                    await projection.apply(conn, events, fresh)
            if on_progress is not None:
                on_progress(reader.position, reader.events)
            if complete:
                return
    finally:
        if not batch.done():
            batch.cancel()
        elif not batch.cancelled():
            batch.exception()  # seen: after a failure, a failed read no longer matters


#: The cyclic garbage collector's first threshold while a rebuild folds (CPython's: 700).
GC_THRESHOLD = 100_000
_collections_held = 0
_thresholds: tuple[int, int, int] = gc.get_threshold()


@contextlib.contextmanager
def fewer_collections() -> Iterator[None]:
    """Let the cyclic garbage collector run rarely meanwhile (process-wide; the thresholds
    are restored when the last rebuild of the process ends).

    A rebuild allocates all the time and keeps what it folds (thousands of report states) in
    memory: at CPython's thresholds the collector walks all of it again and again, ~10 µs per
    event folded, a sixth of the audit log's rebuild and a quarter of the reports'. The
    garbage of a fold is freed by reference counting anyway.
    """
    global _collections_held, _thresholds  # noqa: PLW0603 - one setting per process
    if _collections_held == 0:
        _thresholds = gc.get_threshold()
        gc.set_threshold(max(_thresholds[0], GC_THRESHOLD), 50, 100)
    _collections_held += 1
    try:
        yield
    finally:
        _collections_held -= 1
        if _collections_held == 0:
            gc.set_threshold(*_thresholds)


async def _build(pool: asyncpg.Pool, statements: list[str]) -> None:
    """Run the statements, `INDEX_BUILDS` at a time, each in a transaction of its own."""
    slots = asyncio.Semaphore(INDEX_BUILDS)

    async def one(statement: str) -> None:
        async with slots, pool.acquire() as conn:
            await conn.execute(statement)

    await asyncio.gather(*(one(statement) for statement in statements))


async def _swap(conn: Connection, projection: Projection, live: Tables, fresh: Tables) -> None:
    for logical in projection.tables:
        await conn.execute(f"DROP TABLE IF EXISTS {live[logical]} CASCADE")
        await conn.execute(f'ALTER TABLE {fresh[logical]} RENAME TO "{live.bare(logical)}"')
