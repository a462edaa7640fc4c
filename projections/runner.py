"""The projection runner: folds the event log into read models, exactly once, resumably.

A projection names the event types it folds and how; the runner feeds it every event after
its position, in position order, and writes the rows and the new position in ONE transaction,
so a crash at any point leaves the read model and its position in agreement. The store hands
out only events that can no longer be overtaken by a late commit, so nothing is skipped.
One process at a time runs a given projection (an advisory lock elects it).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Collection
from typing import TYPE_CHECKING, Protocol, TypeAlias

import asyncpg

if TYPE_CHECKING:
    from asyncpg.pool import PoolConnectionProxy

    #: What a projection writes through: a pooled connection inside the runner's transaction.
    Connection: TypeAlias = PoolConnectionProxy[asyncpg.Record]

from commands.eventstore import EventStore, RecordedEvent
from commands.eventstore.leader import lock_key, run_as_leader

log = logging.getLogger(__name__)

POLL_INTERVAL = 0.02
#: A projection whose batches hold nothing it folds still stores its position this often.
IDLE_SAVE_INTERVAL = 5.0


class Projection(Protocol):
    #: Stable name: the key of its position row and of its leadership lock.
    name: str

    #: The event types it folds; others only move its position.
    @property
    def event_types(self) -> Collection[str]: ...

    async def apply(self, conn: Connection, event: RecordedEvent) -> None:
        """Fold one event, inside the runner's transaction."""


class ProjectionRunner:
    def __init__(
        self,
        projection: Projection,
        store: EventStore,
        pool: asyncpg.Pool,
        schema: str,
        *,
        batch_size: int = 500,
        idle_wait: float = 1.0,
    ) -> None:
        self.projection = projection
        self.store = store
        self.pool = pool
        self.schema = schema
        self.batch_size = batch_size
        self.idle_wait = idle_wait
        self.position = 0
        self._saved_at = 0.0
        self.is_leader = False
        self._advanced = asyncio.Condition()

    @property
    def name(self) -> str:
        return self.projection.name

    async def stored_position(self) -> int:
        value = await self.pool.fetchval(
            f"SELECT position FROM {self.schema}.projection_positions WHERE name = $1",  # noqa: S608
            self.name,
        )
        return int(value) if value is not None else 0

    async def run(self, stop: asyncio.Event) -> None:
        await run_as_leader(
            self.pool,
            lock_key(self.schema, "projection", self.name),
            stop,
            lambda: self._follow(stop),
            on_change=self._set_leader,
        )

    def _set_leader(self, leader: bool) -> None:  # noqa: FBT001 - a callback
        self.is_leader = leader

    async def _follow(self, stop: asyncio.Event) -> None:
        self.position = await self.stored_position()
        wanted = frozenset(self.projection.event_types)
        while not stop.is_set():
            events = await self.store.read_all(after_position=self.position, limit=self.batch_size)
            if not events:
                await self.store.wait_for_events(self.position, self.idle_wait)
                continue
            relevant = [event for event in events if event.type in wanted]
            now = time.monotonic()
            if not relevant and now - self._saved_at < IDLE_SAVE_INTERVAL:
                # Nothing to fold: move on in memory; the stored position catches up with the
                # next relevant batch (or within IDLE_SAVE_INTERVAL), and a restart merely
                # skims these events again.
                await self._advance(events[-1].position)
                continue
            async with self.pool.acquire() as conn, conn.transaction():
                # Read models can be rebuilt from the log and the position commits with the
                # rows, so a commit lost in a crash is simply replayed: no fsync needed.
                await conn.execute("SET LOCAL synchronous_commit = off")
                for event in relevant:
                    await self.projection.apply(conn, event)
                await conn.execute(
                    f"""INSERT INTO {self.schema}.projection_positions (name, position)
                        VALUES ($1, $2)
                        ON CONFLICT (name) DO UPDATE
                        SET position = EXCLUDED.position, updated_at = now()""",  # noqa: S608
                    self.name,
                    events[-1].position,
                )
            self._saved_at = now
            await self._advance(events[-1].position)

    async def _advance(self, position: int) -> None:
        self.position = position
        async with self._advanced:
            self._advanced.notify_all()

    async def wait_until(self, position: int, timeout: float) -> bool:
        """Read-your-writes: wait (bounded) until the read model includes `position`.

        Works whether or not this process is the projection's leader: a follower elsewhere is
        watched through its stored position.
        """
        deadline = time.monotonic() + timeout
        while True:
            if self.position >= position:
                return True
            if not self.is_leader:
                self.position = max(self.position, await self.stored_position())
                if self.position >= position:
                    return True
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                return False
            if self.is_leader:
                with contextlib.suppress(TimeoutError):
                    async with asyncio.timeout(remaining), self._advanced:
                        await self._advanced.wait_for(lambda: self.position >= position)
            else:
                await asyncio.sleep(min(POLL_INTERVAL, remaining))
