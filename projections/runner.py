"""The projection runner: folds the event log into read models, exactly once, resumably.

The runner feeds a projection every event after its position, in position order, and commits
the projection's rows and the new position in ONE transaction, so a crash at any point leaves
the read model and its position in agreement. The store hands out only events that a late
commit can no longer overtake, so nothing is skipped.

Two guards make double application impossible:

* leadership — one process at a time runs a given projection (an advisory lock);
* the position fence — every batch transaction first locks the projection's position row and
  checks it still holds the position this runner last wrote. If not (a rebuild swapped in new
  tables, or another process wrote meanwhile), the runner drops its in-memory state and
  continues from the stored position instead of writing.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime

import asyncpg

from commands.eventstore import EventStore, RecordedEvent
from commands.eventstore.leader import lock_key, run_as_leader
from projections.positions import PositionStore
from projections.projection import Projection, Tables, tables_for

log = logging.getLogger(__name__)

POLL_INTERVAL = 0.02
#: A projection whose batches hold nothing it folds still stores its position this often.
IDLE_SAVE_INTERVAL = 5.0
DEFAULT_BATCH = 1000
#: After a wake-up, a runner waits this long before it reads: the appends of the next moments
#: join the same batch, and the relay (whose latency people see live) reads first.
DEFAULT_BATCH_WINDOW = 0.01


class FenceMoved(Exception):
    """The position row no longer holds what this runner wrote: start over from it."""


class ProjectionRunner:
    def __init__(
        self,
        projection: Projection,
        store: EventStore,
        pool: asyncpg.Pool,
        read_schema: str,
        *,
        batch_size: int = DEFAULT_BATCH,
        idle_wait: float = 1.0,
        batch_window: float = DEFAULT_BATCH_WINDOW,
        on_batch: Callable[[str, list[RecordedEvent]], None] | None = None,
        rebuild: Callable[[], Awaitable[object]] | None = None,
    ) -> None:
        self.projection = projection
        self.store = store
        self.pool = pool
        self.positions = PositionStore(pool, read_schema)
        self.tables: Tables = tables_for(read_schema, projection.tables)
        self.batch_size = batch_size
        self.idle_wait = idle_wait
        self.batch_window = batch_window
        self.on_batch = on_batch
        #: Called when the stored projection version differs from the code's (api wiring
        #: passes a function that rebuilds and swaps).
        self._rebuild = rebuild
        self.position = 0
        #: What this runner last wrote (or read) in the position row: the fence value.
        self._fence = 0
        self._saved_at = 0.0
        self.is_leader = False
        self._advanced = asyncio.Condition()

    @property
    def name(self) -> str:
        return self.projection.name

    async def stored_position(self) -> int:
        return (await self.positions.get(self.name)).position

    async def prepare(self) -> None:
        """Create the position row and the live tables if this projection is new here."""
        async with self.pool.acquire() as conn, conn.transaction():
            # Several processes start at once: one creates, the others find it done.
            await conn.execute(
                "SELECT pg_advisory_xact_lock($1)",
                lock_key(self.tables.schema, "prepare", self.name),
            )
            await self.positions.claim(conn, self.name, self.projection.version)
            first = self.tables[self.projection.tables[0]]
            if await conn.fetchval("SELECT to_regclass($1)", first) is None:
                for statement in self.projection.ddl(self.tables):
                    await conn.execute(statement)
                # New (or dropped) tables hold nothing: fold from the beginning.
                await self.positions.set(conn, self.name, 0, version=self.projection.version)

    async def run(self, stop: asyncio.Event) -> None:
        await run_as_leader(
            self.pool,
            lock_key(self.tables.schema, "projection", self.name),
            stop,
            lambda: self._follow(stop),
            on_change=self._set_leader,
        )

    def _set_leader(self, leader: bool) -> None:  # noqa: FBT001 - a callback
        self.is_leader = leader

    async def _start(self) -> None:
        """Tables ready (rebuilt if the code's version moved on), position loaded."""
        await self.prepare()
        stored = await self.positions.get(self.name)
        if stored.version != self.projection.version and self._rebuild is not None:
            log.warning(
                "projection %s is at version %s, the code at %s: rebuilding",
                self.name,
                stored.version,
                self.projection.version,
            )
            await self._rebuild()
            stored = await self.positions.get(self.name)
        self.projection.reset()
        self._fence = self.position = stored.position

    async def _follow(self, stop: asyncio.Event) -> None:
        await self._start()
        wanted = self.projection.event_types
        caught_up = False
        while not stop.is_set():
            if caught_up:
                # The last read reached the safe head: nothing to read until something new.
                if not await self.store.wait_for_events(self.position, self.idle_wait):
                    continue
                if self.batch_window > 0:
                    await asyncio.sleep(self.batch_window)
            events, head = await self.store.read_safe(
                after_position=self.position, limit=self.batch_size
            )
            # Fewer than asked for: every event up to the head was handed out.
            caught_up = len(events) < self.batch_size
            if not events:
                if head > self.position:
                    await self._advance(head)  # positions of appends that rolled back
                continue
            relevant = events if wanted is None else [e for e in events if e.type in wanted]
            last = events[-1].position
            now = time.monotonic()
            if not relevant and now - self._saved_at < IDLE_SAVE_INTERVAL:
                # Nothing to fold: move on in memory; the stored position catches up with the
                # next relevant batch (or within IDLE_SAVE_INTERVAL), and a restart merely
                # skims these events again.
                await self._advance(last)
                continue
            try:
                await self._commit_batch(relevant, last)
            except FenceMoved as moved:
                log.warning("projection %s: %s; continuing from there", self.name, moved)
                self.projection.reset()
                self._fence = self.position = await self.stored_position()
                continue
            self._saved_at = now
            if self.on_batch is not None and relevant:
                self.on_batch(self.name, relevant)
            await self._advance(last)

    async def _commit_batch(self, relevant: list[RecordedEvent], last: int) -> None:
        async with self.pool.acquire() as conn:
            try:
                async with conn.transaction():
                    # Read models can be rebuilt from the log and the position commits with
                    # the rows, so a commit lost in a crash is simply replayed: no fsync.
                    await conn.execute("SET LOCAL synchronous_commit = off")
                    self._check_fence(await self.positions.lock(conn, self.name))
                    if relevant:
                        await self.projection.apply(conn, relevant, self.tables)
                    await self.positions.set(conn, self.name, last)
            except BaseException:
                # Whatever the projection cached while folding may belong to rolled-back rows.
                self.projection.reset()
                self.position = self._fence
                raise
        self._fence = last

    def _check_fence(self, stored: int) -> None:
        if stored != self._fence:
            raise FenceMoved(f"its stored position is {stored}, not {self._fence} as last written")

    async def _advance(self, position: int) -> None:
        self.position = position
        async with self._advanced:
            self._advanced.notify_all()

    async def wait_until(self, position: int, timeout: float) -> bool:
        """Read-your-writes: wait (bounded) until the read model includes `position`.

        Works whether or not this process is the projection's leader: a leader elsewhere is
        watched through the stored position.
        """
        deadline = time.monotonic() + timeout
        while True:
            if self.position >= position:
                return True
            if not self.is_leader:
                stored = await self.stored_position()
                if stored >= position:
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


def lag_seconds(events: list[RecordedEvent]) -> list[float]:
    """Seconds from each event's transaction start to now (what the lag histogram observes)."""
    now = datetime.now(UTC)
    return [(now - event.recorded_at).total_seconds() for event in events]
