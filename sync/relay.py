"""The relay: every committed event reaches NATS, exactly in position order.

The relay is the only publisher. It follows the event store from its checkpoint (kept in
PostgreSQL), publishes each batch to JetStream with the event id as ``Nats-Msg-Id``, and moves
its checkpoint only after every message of the batch was acknowledged. If NATS is down, or the
process dies between publish and checkpoint, the same events are published again later and
JetStream drops the copies; nothing committed is ever lost on the way to NATS.

Several processes may run a relay (every `loupe serve` and `loupe projector` does); a
PostgreSQL advisory lock elects one leader, the others wait to take over.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable

import asyncpg

from commands.eventstore import EventStore
from commands.eventstore.leader import lock_key, run_as_leader
from sync.bus import BusError, EventBus
from sync.wire import to_message

log = logging.getLogger(__name__)

RELAY_NAME = "nats"


class Relay:
    def __init__(
        self,
        store: EventStore,
        bus: EventBus,
        pool: asyncpg.Pool,
        schema: str,
        *,
        name: str = RELAY_NAME,
        batch_size: int = 1000,
        idle_wait: float = 1.0,
        max_backoff: float = 5.0,
        on_published: Callable[[int], None] | None = None,
    ) -> None:
        self.store = store
        self.bus = bus
        self.pool = pool
        self.schema = schema
        self.name = name
        self.batch_size = batch_size
        self.idle_wait = idle_wait
        self.max_backoff = max_backoff
        self.on_published = on_published
        self.position = 0
        self.is_leader = False
        self._advanced = asyncio.Condition()

    async def checkpoint(self) -> int:
        row = await self.pool.fetchval(
            f"SELECT position FROM {self.schema}.relay_checkpoints WHERE name = $1",  # noqa: S608
            self.name,
        )
        return int(row) if row is not None else 0

    async def _save_checkpoint(self, position: int) -> None:
        # Asynchronous commit: no fsync per batch. A checkpoint lost in a crash only means the
        # last few hundred milliseconds are published again, and JetStream drops the copies.
        async with self.pool.acquire() as conn, conn.transaction():
            await conn.execute("SET LOCAL synchronous_commit = off")
            await conn.execute(
                f"""INSERT INTO {self.schema}.relay_checkpoints (name, position) VALUES ($1, $2)
                    ON CONFLICT (name) DO UPDATE
                    SET position = EXCLUDED.position, updated_at = now()""",  # noqa: S608
                self.name,
                position,
            )

    async def run(self, stop: asyncio.Event, *, retry_leadership: float = 2.0) -> None:
        """Publish until `stop` is set, whenever this process holds the relay's leadership."""
        await run_as_leader(
            self.pool,
            lock_key(self.schema, "relay", self.name),
            stop,
            lambda: self._lead(stop),
            retry=retry_leadership,
            on_change=self._set_leader,
        )

    def _set_leader(self, leader: bool) -> None:  # noqa: FBT001 - a callback
        self.is_leader = leader

    async def _lead(self, stop: asyncio.Event) -> None:
        self.position = await self.checkpoint()
        backoff = 0.05
        caught_up = False
        while not stop.is_set():
            # After a read that reached the safe head, wait for something new rather than
            # read again at once (each read and each wait computes the head).
            if caught_up and not await self.store.wait_for_events(self.position, self.idle_wait):
                continue
            events, head = await self.store.read_safe(
                after_position=self.position, limit=self.batch_size
            )
            caught_up = len(events) < self.batch_size
            if not events:
                # Nothing between the cursor and the head (positions of rolled-back appends).
                self.position = max(self.position, head)
                continue
            try:
                await self.bus.publish([to_message(event) for event in events])
            except BusError as exc:
                log.warning("relay could not publish (retrying in %.2fs): %s", backoff, exc)
                caught_up = False  # the same events again, after the pause
                await _wait(stop, backoff)
                backoff = min(backoff * 2, self.max_backoff)
                continue
            backoff = 0.05
            last = events[-1].position
            await self._save_checkpoint(last)
            self.position = last
            if self.on_published is not None:
                self.on_published(len(events))
            async with self._advanced:
                self._advanced.notify_all()

    async def wait_until(self, position: int, timeout: float) -> bool:
        """Wait until everything up to `position` is acknowledged by NATS (tests, tools)."""
        try:
            async with asyncio.timeout(timeout), self._advanced:
                await self._advanced.wait_for(lambda: self.position >= position)
        except TimeoutError:
            return False
        return True


async def _wait(stop: asyncio.Event, seconds: float) -> None:
    with contextlib.suppress(TimeoutError):
        await asyncio.wait_for(stop.wait(), timeout=seconds)
