"""Readers never skip an event that commits late, and never hand out one twice."""

from __future__ import annotations

import asyncio
import random
from typing import TYPE_CHECKING

import asyncpg
from eventstore_helpers import append_in_transaction, new_event, new_stream

if TYPE_CHECKING:
    import uuid

    from commands.eventstore import EventStore, RecordedEvent


async def test_late_commit_is_not_skipped(
    store: EventStore, raw_conn: asyncpg.Connection, db_schema: str
) -> None:
    stream_a, stream_b = new_stream(), new_stream()
    received: list[RecordedEvent] = []
    got_two = asyncio.Event()

    async def subscriber() -> None:
        async for event in store.subscribe():
            received.append(event)
            if len(received) == 2:
                got_two.set()

    reader = asyncio.create_task(subscriber())
    try:
        # A reserves the lower position and stays open; B commits after it.
        tx = raw_conn.transaction()
        await tx.start()
        position_a = await append_in_transaction(raw_conn, db_schema, stream_a, 0, [new_event("A")])
        result_b = await store.append(stream_b, 0, [new_event("B")])
        position_b = result_b.events[0].position
        assert position_a < position_b

        # B is committed, but handing it out now could let A slip behind a reader's cursor.
        assert await store.read_all() == []
        assert await store.head_position() == 0
        assert not await store.wait_for_events(0, timeout=0.3)
        assert received == []

        await tx.commit()

        assert await store.wait_for_events(0, timeout=5)
        assert [(e.position, e.type) for e in await store.read_all()] == [
            (position_a, "A"),
            (position_b, "B"),
        ]
        await asyncio.wait_for(got_two.wait(), 5)
        assert [e.position for e in received] == [position_a, position_b]
    finally:
        reader.cancel()


async def test_rolled_back_append_leaves_a_gap_that_readers_pass(
    store: EventStore, raw_conn: asyncpg.Connection, db_schema: str
) -> None:
    tx = raw_conn.transaction()
    await tx.start()
    await append_in_transaction(raw_conn, db_schema, new_stream(), 0, [new_event("lost")])
    later = await store.append(new_stream(), 0, [new_event("kept")])
    assert await store.read_all() == []
    await tx.rollback()
    assert await store.wait_for_events(0, timeout=5)
    assert await store.read_all() == later.events


async def test_subscriber_under_load_gets_every_commit_once_in_order(
    store: EventStore, dsn: str, db_schema: str
) -> None:
    """Writers hold their appends open for random times (some roll back) while a subscriber
    reads: it must receive exactly the committed events, each once, in position order."""
    writers, appends_per_writer = 6, 15
    committed: set[uuid.UUID] = set()
    received: list[RecordedEvent] = []
    rng = random.Random(20240601)
    expected_count: list[int] = []  # filled in once every writer is done
    caught_up = asyncio.Event()

    def check_caught_up() -> None:
        if expected_count and len(received) >= expected_count[0]:
            caught_up.set()

    async def writer(number: int) -> None:
        conn = await asyncpg.connect(dsn)
        try:
            for i in range(appends_per_writer):
                events = [new_event(f"w{number}") for _ in range(rng.randint(1, 4))]
                tx = conn.transaction()
                await tx.start()
                await append_in_transaction(conn, db_schema, new_stream(), 0, events)
                await asyncio.sleep(rng.uniform(0, 0.02))
                if i % 7 == 3:
                    await tx.rollback()
                else:
                    await tx.commit()
                    committed.update(e.event_id for e in events)
        finally:
            await conn.close()

    async def subscriber() -> None:
        async for event in store.subscribe(batch_size=7):
            received.append(event)
            check_caught_up()

    async def store_writer() -> None:
        # Appends through the store itself too, so local wake-ups are part of the mix.
        for _ in range(20):
            result = await store.append(new_stream(), 0, [new_event("s"), new_event("s")])
            committed.update(e.event_id for e in result.events)
            await asyncio.sleep(rng.uniform(0, 0.01))

    reader = asyncio.create_task(subscriber())
    try:
        await asyncio.gather(*(writer(n) for n in range(writers)), store_writer())
        expected_count.append(len(committed))
        check_caught_up()
        await asyncio.wait_for(caught_up.wait(), 10)
    finally:
        reader.cancel()

    positions = [e.position for e in received]
    assert positions == sorted(set(positions)), "out of order or repeated"
    assert [e.event_id for e in received if e.event_id not in committed] == []
    assert {e.event_id for e in received} == committed
    assert len(received) == len(committed)


async def test_filtered_subscription_moves_past_other_stream_types(store: EventStore) -> None:
    await store.append(new_stream("dataset"), 0, [new_event() for _ in range(30)])
    wanted = await store.append(new_stream("report"), 0, [new_event("R")])
    await store.append(new_stream("dataset"), 0, [new_event() for _ in range(30)])

    subscription = store.subscribe(stream_types={"report"}, batch_size=5)
    first = await asyncio.wait_for(anext(subscription), 5)
    assert first == wanted.events[0]

    # Only non-matching events follow; the subscription must wait, not spin or skip ahead.
    pending = asyncio.ensure_future(anext(subscription))
    done, _ = await asyncio.wait({pending}, timeout=0.3)
    assert not done
    later = await store.append(new_stream("report"), 0, [new_event("R2")])
    assert await asyncio.wait_for(pending, 5) == later.events[0]
    await subscription.aclose()
