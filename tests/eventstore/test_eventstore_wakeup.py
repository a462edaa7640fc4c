"""Waiting for events: local wake-ups, NOTIFY between processes, the polling fallback."""

from __future__ import annotations

import asyncio
import contextlib
import time
from contextlib import asynccontextmanager
from typing import TYPE_CHECKING

import asyncpg
import pytest
from eventstore_helpers import eventually, new_event, new_stream

from commands.eventstore import EventStore, EventStoreError, channel_name

if TYPE_CHECKING:
    from collections.abc import AsyncIterator, Awaitable, Callable

    MakeStore = Callable[..., Awaitable[EventStore]]


async def test_wait_times_out_when_nothing_comes(store: EventStore) -> None:
    started = time.monotonic()
    assert not await store.wait_for_events(0, timeout=0.2)
    assert time.monotonic() - started < 2


async def test_wait_returns_at_once_when_events_are_there(store: EventStore) -> None:
    await store.append(new_stream(), 0, [new_event()])
    assert await store.wait_for_events(0, timeout=0)
    assert not await store.wait_for_events(1, timeout=0)


async def test_local_append_wakes_a_waiter(make_store: MakeStore) -> None:
    store = await make_store(poll_interval=60)
    waiter = asyncio.create_task(store.wait_for_events(0, timeout=30))
    await asyncio.sleep(0)  # let it start waiting
    started = time.monotonic()
    await store.append(new_stream(), 0, [new_event()])
    assert await asyncio.wait_for(waiter, 5)
    assert time.monotonic() - started < 1


async def test_append_in_another_process_wakes_a_waiter_via_notify(make_store: MakeStore) -> None:
    # Polling is effectively off in the reader, so only NOTIFY can wake it in time.
    reader = await make_store(poll_interval=60)
    writer = await make_store()
    waiter = asyncio.create_task(reader.wait_for_events(0, timeout=30))
    await asyncio.wait_for(reader.wakeups.listening.wait(), 5)
    started = time.monotonic()
    await writer.append(new_stream(), 0, [new_event()])
    assert await asyncio.wait_for(waiter, 5)
    assert time.monotonic() - started < 1


async def test_polling_wakes_a_waiter_when_listen_is_gone(
    store: EventStore, dsn: str, db_schema: str, raw_conn: asyncpg.Connection
) -> None:
    """The LISTEN connection is killed and cannot come back: polling alone must wake."""
    attempts = 0

    @asynccontextmanager
    async def listen_once() -> AsyncIterator[asyncpg.Connection]:
        nonlocal attempts
        attempts += 1
        if attempts > 1:
            raise OSError("listen connection refused")
        conn = await asyncpg.connect(dsn)
        try:
            yield conn
        finally:
            with contextlib.suppress(Exception):
                await conn.close()

    pool = await asyncpg.create_pool(dsn, min_size=1, max_size=2)
    reader = EventStore(
        pool, db_schema, listen_connector=listen_once, poll_interval=0.2, owns_pool=True
    )
    try:
        waiter = asyncio.create_task(reader.wait_for_events(0, timeout=30))
        await asyncio.wait_for(reader.wakeups.listening.wait(), 5)
        assert await raw_conn.fetchval(
            "SELECT pg_terminate_backend($1)", reader.wakeups.listener_pid
        )

        async def listener_down() -> bool:
            return reader.wakeups.listener_pid is None and attempts > 1

        await eventually(listener_down)
        started = time.monotonic()
        await store.append(new_stream(), 0, [new_event()])  # NOTIFY goes out, nobody hears it
        assert await asyncio.wait_for(waiter, 5)
        assert time.monotonic() - started < 2
    finally:
        await reader.close()


async def test_listen_connection_is_reestablished(
    make_store: MakeStore, raw_conn: asyncpg.Connection
) -> None:
    reader = await make_store(poll_interval=60)
    writer = await make_store()
    assert not await reader.wait_for_events(0, timeout=0)  # starts the listener
    await asyncio.wait_for(reader.wakeups.listening.wait(), 5)
    old_pid = reader.wakeups.listener_pid
    assert await raw_conn.fetchval("SELECT pg_terminate_backend($1)", old_pid)

    async def listening_again() -> bool:
        pid = reader.wakeups.listener_pid
        return pid is not None and pid != old_pid

    await eventually(listening_again)
    waiter = asyncio.create_task(reader.wait_for_events(0, timeout=30))
    await asyncio.sleep(0)
    started = time.monotonic()
    await writer.append(new_stream(), 0, [new_event()])
    assert await asyncio.wait_for(waiter, 5)
    assert time.monotonic() - started < 1


async def test_notifies_are_coalesced(
    store: EventStore, raw_conn: asyncpg.Connection, db_schema: str
) -> None:
    heard: list[str] = []
    last_position = asyncio.Event()
    target: list[int] = []

    def on_notify(_conn: object, _pid: int, _channel: str, payload: object) -> None:
        heard.append(str(payload))
        if target and int(str(payload)) >= target[0]:
            last_position.set()

    await raw_conn.add_listener(channel_name(db_schema), on_notify)
    results = await asyncio.gather(
        *(store.append(new_stream(), 0, [new_event()]) for _ in range(200))
    )
    target.append(max(r.events[0].position for r in results))
    if heard and int(heard[-1]) >= target[0]:
        last_position.set()
    # The last append is always announced, but far fewer NOTIFYs than appends were sent.
    await asyncio.wait_for(last_position.wait(), 5)
    assert len(heard) < 100


async def test_store_without_listen_connector_listens_on_a_pool_connection(
    store: EventStore, dsn: str, db_schema: str
) -> None:
    pool = await asyncpg.create_pool(dsn, min_size=1, max_size=3)
    reader = EventStore(pool, db_schema, poll_interval=60, owns_pool=True)
    try:
        waiter = asyncio.create_task(reader.wait_for_events(0, timeout=30))
        await asyncio.wait_for(reader.wakeups.listening.wait(), 5)
        started = time.monotonic()
        await store.append(new_stream(), 0, [new_event()])
        assert await asyncio.wait_for(waiter, 5)
        assert time.monotonic() - started < 1
    finally:
        await reader.close()


async def test_closing_the_store_ends_waits(make_store: MakeStore) -> None:
    store = await make_store(poll_interval=60)
    waiter = asyncio.create_task(store.wait_for_events(0, timeout=30))
    await asyncio.wait_for(store.wakeups.listening.wait(), 5)
    await store.close()
    with pytest.raises(EventStoreError):
        await asyncio.wait_for(waiter, 5)
