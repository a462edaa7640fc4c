"""Rebuild a read model from position 0 into fresh tables and swap them in without downtime.

1. Fresh tables (``<name>__rebuild``) are created beside the live ones.
2. A fresh instance of the projection folds the whole log into them, in large batches, while
   the live tables keep serving reads and the live runner keeps them current.
3. The swap is one transaction: it locks the projection's position row (the live runner's
   batches wait on that lock), folds the last events, renames the fresh tables over the live
   ones, and moves the position (and the projection version). Readers wait for the renames
   for a moment; nobody sees a half-built read model. The live runner notices the moved
   position (its fence) and continues from it with empty caches.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

import asyncpg

from commands.eventstore import EventStore, RecordedEvent
from projections.positions import PositionStore
from projections.projection import REBUILD_SUFFIX, Projection, Tables, tables_for

if TYPE_CHECKING:
    from projections.projection import Connection

log = logging.getLogger(__name__)

REBUILD_BATCH = 5000


@dataclass(frozen=True)
class RebuildResult:
    name: str
    position: int
    events: int
    seconds: float

    @property
    def rate(self) -> float:
        return self.events / self.seconds if self.seconds > 0 else float("inf")


async def rebuild(
    projection: Projection,
    store: EventStore,
    pool: asyncpg.Pool,
    read_schema: str,
    *,
    batch_size: int = REBUILD_BATCH,
    on_progress: Callable[[int, int], None] | None = None,
) -> RebuildResult:
    """Rebuild `projection` (a FRESH instance: no state shared with a live runner)."""
    started = time.perf_counter()
    positions = PositionStore(pool, read_schema)
    live = tables_for(read_schema, projection.tables)
    fresh = tables_for(read_schema, projection.tables, suffix=REBUILD_SUFFIX)
    projection.reset()
    projection.bulk(enabled=True)
    async with pool.acquire() as conn, conn.transaction():
        await positions.claim(conn, projection.name, 0)
        for logical in projection.tables:
            await conn.execute(f"DROP TABLE IF EXISTS {fresh[logical]} CASCADE")
        for statement in projection.ddl(fresh):
            await conn.execute(statement)

    position, folded = 0, 0
    while True:
        events = await store.read_all(after_position=position, limit=batch_size)
        if not events:
            break
        relevant = _relevant(projection, events)
        async with pool.acquire() as conn, conn.transaction():
            await conn.execute("SET LOCAL synchronous_commit = off")
            if relevant:
                await projection.apply(conn, relevant, fresh)
        position = events[-1].position
        folded += len(events)
        if on_progress is not None:
            on_progress(position, folded)
        if len(events) < batch_size:
            break

    async with pool.acquire() as conn, conn.transaction():
        await positions.lock(conn, projection.name)
        while events := await store.read_all(after_position=position, limit=batch_size):
            relevant = _relevant(projection, events)
            if relevant:
                await projection.apply(conn, relevant, fresh)
            position = events[-1].position
            folded += len(events)
        await projection.flush(conn, fresh)
        projection.bulk(enabled=False)
        await _swap(conn, projection, live, fresh)
        await positions.set(conn, projection.name, position, version=projection.version)
    seconds = time.perf_counter() - started
    log.info(
        "rebuilt projection %s: %d events in %.1fs (%.0f/s), now at position %d",
        projection.name,
        folded,
        seconds,
        folded / seconds if seconds else 0,
        position,
    )
    return RebuildResult(projection.name, position, folded, seconds)


def _relevant(projection: Projection, events: list[RecordedEvent]) -> list[RecordedEvent]:
    wanted = projection.event_types
    return events if wanted is None else [e for e in events if e.type in wanted]


async def _swap(conn: Connection, projection: Projection, live: Tables, fresh: Tables) -> None:
    for logical in projection.tables:
        await conn.execute(f"DROP TABLE IF EXISTS {live[logical]} CASCADE")
        await conn.execute(f'ALTER TABLE {fresh[logical]} RENAME TO "{live.bare(logical)}"')
