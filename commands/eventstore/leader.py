"""Leader election for the event store's followers (the NATS relay, each projection).

Any number of processes may run the same follower; a PostgreSQL session advisory lock makes
exactly one of them active. The lock lives as long as the leader's connection: if the process
dies or the connection breaks, PostgreSQL releases it and a standby takes over. A watchdog
pings the connection so that a silently broken one ends the leadership promptly.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import zlib
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING

import asyncpg

if TYPE_CHECKING:
    from asyncpg.pool import PoolConnectionProxy

log = logging.getLogger(__name__)

WATCHDOG_INTERVAL = 5.0


def lock_key(*parts: str) -> int:
    """A stable advisory-lock key (fits PostgreSQL's bigint) for a named follower."""
    return zlib.crc32(":".join(("loupe", *parts)).encode()) & 0x7FFF_FFFF


async def run_as_leader(
    pool: asyncpg.Pool,
    key: int,
    stop: asyncio.Event,
    work: Callable[[], Awaitable[None]],
    *,
    retry: float = 2.0,
    on_change: Callable[[bool], None] | None = None,
) -> None:
    """Run `work` whenever this process holds the lock `key`, until `stop` is set.

    `work` should return only when `stop` is set; if it raises, or the lock's connection dies,
    leadership is given up and sought again after `retry` seconds.
    """
    while not stop.is_set():
        try:
            async with pool.acquire() as conn:
                if await conn.fetchval("SELECT pg_try_advisory_lock($1)", key):
                    if on_change is not None:
                        on_change(True)  # noqa: FBT003 - a callback
                    try:
                        await _lead(conn, stop, work)
                    finally:
                        if on_change is not None:
                            on_change(False)  # noqa: FBT003 - a callback
                        if not conn.is_closed():
                            with contextlib.suppress(asyncpg.PostgresError, OSError):
                                await conn.execute("SELECT pg_advisory_unlock($1)", key)
        except (OSError, asyncpg.PostgresError, asyncpg.InterfaceError) as exc:
            log.warning("leadership %s lost: %r", key, exc)
        if not stop.is_set():
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), timeout=retry)


async def _lead(
    conn: PoolConnectionProxy[asyncpg.Record],
    stop: asyncio.Event,
    work: Callable[[], Awaitable[None]],
) -> None:
    worker = asyncio.ensure_future(work())
    stopper = asyncio.ensure_future(stop.wait())
    try:
        while True:
            done, _ = await asyncio.wait(
                {worker, stopper}, timeout=WATCHDOG_INTERVAL, return_when=asyncio.FIRST_COMPLETED
            )
            if worker in done:
                worker.result()  # re-raise what went wrong
                return
            if stopper in done:
                return
            await conn.fetchval("SELECT 1")  # the watchdog: raises if the lock is gone
    finally:
        for task in (worker, stopper):
            task.cancel()
        with contextlib.suppress(asyncio.CancelledError, Exception):
            await worker
