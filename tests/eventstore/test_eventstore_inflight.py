"""The visibility rule: readers stop below this store's in-flight appends, and only those.

Version 1 stopped readers at the cluster-wide xmin, so any open write transaction anywhere
held them back. These tests pin the replacement (docs/event-store.md, "Visibility"): an
append is in flight from its reservation until its transaction ends, announced by a
transaction-level advisory lock, and nothing else delays a reader.
"""

from __future__ import annotations

import asyncio
import random
import uuid
from typing import TYPE_CHECKING

import asyncpg
import pytest
from eventstore_helpers import append_in_transaction, eventually, new_event, new_stream

from commands.eventstore import connect_store
from commands.eventstore.sql import Statements

if TYPE_CHECKING:
    from collections.abc import AsyncIterator

    from commands.eventstore import EventStore, RecordedEvent

LOCK_CLASS = 1282373232
#: Every open append holds this one (with hashtext of the quoted schema) in shared mode.
BUSY_CLASS = 1282373234
#: Positions are limited to 2^47 - 1 by the in-flight lock's key layout.
POSITION_LIMIT = 2**47 - 1


async def _inflight_locks(conn: asyncpg.Connection, schema: str) -> list[tuple[int, int]]:
    """(classid, objid) of the schema's in-flight append locks, as pg_locks shows them."""
    rows = await conn.fetch(
        "SELECT classid::bigint AS classid, objid::bigint AS objid FROM pg_locks"
        " WHERE locktype = 'advisory' AND objsubid = 1 AND granted"
        " AND database = (SELECT oid FROM pg_database WHERE datname = current_database())"
        " AND classid::bigint >> 15 = 65536 + (hashtext($1) & 65535)"
        " ORDER BY 1, 2",
        f'"{schema}"',
    )
    return [(r["classid"], r["objid"]) for r in rows]


async def _busy_holders(conn: asyncpg.Connection, schema: str) -> list[str]:
    """Modes in which the schema's busy lock is held."""
    rows = await conn.fetch(
        "SELECT mode FROM pg_locks WHERE locktype = 'advisory' AND objsubid = 2 AND granted"
        " AND classid = $1::oid AND objid = hashtext($2)::oid ORDER BY mode",
        BUSY_CLASS,
        f'"{schema}"',
    )
    return [r["mode"] for r in rows]


async def _expected_lock(conn: asyncpg.Connection, schema: str, position: int) -> tuple[int, int]:
    """Where the documented key layout puts the in-flight lock of ``position`` in pg_locks."""
    tag: int = await conn.fetchval("SELECT hashtext($1) & 65535", f'"{schema}"')
    return (2**31 + (tag << 15) + (position >> 32), position & 0xFFFF_FFFF)


@pytest.fixture
async def other_conn(dsn: str) -> AsyncIterator[asyncpg.Connection]:
    conn = await asyncpg.connect(dsn)
    yield conn
    await conn.close()


async def test_unrelated_write_transactions_do_not_hold_readers_back(
    store: EventStore, raw_conn: asyncpg.Connection, db_schema: str
) -> None:
    """The bug of the xmin rule: a projection's batch, a rebuild or any other writer that
    keeps a transaction open held back every reader of the event store until it ended."""
    await raw_conn.execute(f"CREATE SCHEMA {db_schema}_read")  # dropped by the fixture
    await raw_conn.execute(f"CREATE TABLE {db_schema}_read.model (id int)")
    tx = raw_conn.transaction()
    await tx.start()
    try:
        await raw_conn.execute("CREATE TEMP TABLE scratch (id int)")
        await raw_conn.execute(f"INSERT INTO {db_schema}_read.model VALUES (1)")
        xid = await raw_conn.fetchval("SELECT pg_current_xact_id()")
        # It really is the case version 1 stalled on: the open transaction holds back xmin.
        assert await raw_conn.fetchval(
            "SELECT pg_snapshot_xmin(pg_current_snapshot()) <= $1::xid8", xid
        )

        first = await store.append(new_stream(), 0, [new_event("A"), new_event("B")])
        assert await store.head_position() == first.events[-1].position
        assert await store.head_position(stream_types=["report"]) == first.events[-1].position
        assert await store.read_all() == first.events
        assert await store.wait_for_events(0, timeout=1)

        subscription = store.subscribe()
        got = [await asyncio.wait_for(anext(subscription), 5) for _ in range(2)]
        assert got == first.events
        later = await store.append(new_stream(), 0, [new_event("C")])
        assert await asyncio.wait_for(anext(subscription), 5) == later.events[0]
        await subscription.aclose()
    finally:
        await tx.rollback()


async def test_an_append_to_another_store_does_not_hold_readers_back(
    store: EventStore, other_conn: asyncpg.Connection, dsn: str, db_schema: str
) -> None:
    other_schema = f"{db_schema}_read"  # dropped by the db_schema fixture
    other = await connect_store(dsn, other_schema, min_size=1, max_size=2)
    try:
        tx = other_conn.transaction()
        await tx.start()
        await append_in_transaction(other_conn, other_schema, new_stream(), 0, [new_event()])
        assert len(await _inflight_locks(other_conn, other_schema)) == 1
        result = await store.append(new_stream(), 0, [new_event()])
        assert await store.read_all() == result.events
        # ... while the other store's own readers wait for it.
        await other.append(new_stream(), 0, [new_event()])
        assert await other.read_all() == []
        await tx.commit()
        assert [e.position for e in await other.read_all()] == [1, 2]
    finally:
        await other.close()


async def test_an_open_append_holds_readers_below_its_first_position(
    store: EventStore, raw_conn: asyncpg.Connection, db_schema: str
) -> None:
    before = await store.append(new_stream(), 0, [new_event() for _ in range(3)])
    tx = raw_conn.transaction()
    await tx.start()
    first = await append_in_transaction(
        raw_conn, db_schema, new_stream(), 0, [new_event("late") for _ in range(3)]
    )
    assert first == 4
    # Announced in pg_locks as documented: one lock for the batch, at its first position.
    assert await _inflight_locks(raw_conn, db_schema) == [
        await _expected_lock(raw_conn, db_schema, first)
    ]
    assert await _busy_holders(raw_conn, db_schema) == ["ShareLock"]
    after = await store.append(new_stream(), 0, [new_event("after")])
    assert after.events[0].position == 7

    assert await store.head_position() == 3
    assert await store.read_all() == before.events
    events, head = await store.read_safe(after_position=0, limit=100)
    assert (events, head) == (before.events, 3)
    assert not await store.wait_for_events(3, timeout=0.2)

    await tx.commit()
    assert await _inflight_locks(raw_conn, db_schema) == []
    assert await _busy_holders(raw_conn, db_schema) == []
    assert await store.wait_for_events(3, timeout=5)
    assert [(e.position, e.type) for e in await store.read_all(after_position=3)] == [
        (4, "late"),
        (5, "late"),
        (6, "late"),
        (7, "after"),
    ]
    assert await store.head_position() == 7


async def test_a_rolled_back_append_stops_holding_readers(
    store: EventStore, raw_conn: asyncpg.Connection, db_schema: str
) -> None:
    tx = raw_conn.transaction()
    await tx.start()
    await append_in_transaction(raw_conn, db_schema, new_stream(), 0, [new_event(), new_event()])
    after = await store.append(new_stream(), 0, [new_event()])
    assert after.events[0].position == 3
    assert await store.head_position() == 0
    await tx.rollback()
    assert await _inflight_locks(raw_conn, db_schema) == []
    assert await store.head_position() == 3
    events, head = await store.read_safe(after_position=0, limit=10)
    assert (events, head) == (after.events, 3)


async def test_the_lowest_of_several_open_appends_decides(
    store: EventStore, raw_conn: asyncpg.Connection, other_conn: asyncpg.Connection, db_schema: str
) -> None:
    committed = await store.append(new_stream(), 0, [new_event()])
    low, high = raw_conn.transaction(), other_conn.transaction()
    await low.start()
    await high.start()
    assert await append_in_transaction(raw_conn, db_schema, new_stream(), 0, [new_event()]) == 2
    await store.append(new_stream(), 0, [new_event()])  # 3
    assert await append_in_transaction(other_conn, db_schema, new_stream(), 0, [new_event()]) == 4
    await store.append(new_stream(), 0, [new_event()])  # 5
    assert await store.read_all() == committed.events

    await high.commit()  # 4 is done, but 2 still runs
    assert await store.head_position() == 1
    await low.commit()
    assert [e.position for e in await store.read_all()] == [1, 2, 3, 4, 5]


async def test_the_pg_locks_scan_agrees_with_the_fast_path(
    store: EventStore, raw_conn: asyncpg.Connection, other_conn: asyncpg.Connection, db_schema: str
) -> None:
    """While anybody holds the busy lock, readers cannot use the fast path ("nothing in
    flight") and scan pg_locks instead: same answers."""
    committed = await store.append(new_stream(), 0, [new_event(), new_event()])
    await other_conn.execute(
        "SELECT pg_advisory_lock_shared($1, hashtext($2))", BUSY_CLASS, f'"{db_schema}"'
    )
    try:
        assert await store.head_position() == 2
        assert await store.read_all() == committed.events
        tx = raw_conn.transaction()
        await tx.start()
        assert await append_in_transaction(raw_conn, db_schema, new_stream(), 0, [new_event()]) == 3
        await store.append(new_stream(), 0, [new_event()])
        assert await store.head_position() == 2
        assert await store.read_all() == committed.events
        await tx.commit()
        assert await store.head_position() == 4
    finally:
        await other_conn.execute(
            "SELECT pg_advisory_unlock_shared($1, hashtext($2))", BUSY_CLASS, f'"{db_schema}"'
        )
    assert await store.head_position() == 4
    assert await _busy_holders(raw_conn, db_schema) == []


async def test_positions_above_2_to_the_32(
    store: EventStore, raw_conn: asyncpg.Connection, db_schema: str
) -> None:
    """The key splits positions over pg_locks' classid and objid; readers put them together."""
    start = 2**33 + 2**32 - 3  # the batch below straddles a 2^32 boundary
    await raw_conn.execute(f"SELECT setval('{db_schema}.events_position_seq', $1)", start)
    first = await store.append(new_stream(), 0, [new_event()])
    assert first.events[0].position == start + 1
    tx = raw_conn.transaction()
    await tx.start()
    position = await append_in_transaction(
        raw_conn, db_schema, new_stream(), 0, [new_event(), new_event(), new_event()]
    )
    assert position == start + 2
    assert await _inflight_locks(raw_conn, db_schema) == [
        await _expected_lock(raw_conn, db_schema, position)
    ]
    await store.append(new_stream(), 0, [new_event()])
    assert await store.head_position() == start + 1
    await tx.commit()
    assert await store.head_position() == start + 5
    assert [e.position for e in await store.read_all(after_position=start)] == list(
        range(start + 1, start + 6)
    )


async def test_positions_end_at_2_to_the_47(
    store: EventStore, raw_conn: asyncpg.Connection, db_schema: str
) -> None:
    await raw_conn.execute(
        f"SELECT setval('{db_schema}.events_position_seq', $1)", POSITION_LIMIT - 1
    )
    with pytest.raises(asyncpg.NumericValueOutOfRangeError, match="2\\^47"):
        await store.append(new_stream(), 0, [new_event(), new_event()])  # would end at 2^47
    assert await _inflight_locks(raw_conn, db_schema) == []
    await raw_conn.execute(
        f"SELECT setval('{db_schema}.events_position_seq', $1)", POSITION_LIMIT - 1
    )
    last = await store.append(new_stream(), 0, [new_event()])
    assert last.events[0].position == POSITION_LIMIT
    assert await store.head_position() == POSITION_LIMIT
    with pytest.raises(asyncpg.NumericValueOutOfRangeError):
        await store.append(new_stream(), 0, [new_event()])
    # Nothing leaked: the reservation lock is free and readers still work.
    assert await store.read_all(after_position=POSITION_LIMIT - 1) == last.events


async def test_rows_are_read_with_a_snapshot_taken_after_the_head(
    store: EventStore,
    raw_conn: asyncpg.Connection,
    other_conn: asyncpg.Connection,
    dsn: str,
    db_schema: str,
) -> None:
    """The reader's statement starts, an append commits, then the head is computed: the head
    includes the append, so the rows must too. (One statement `... WHERE position <=
    safe_head()` would read the rows with the statement's older snapshot and return the
    head without the row: a caller moving its cursor to the head would skip it.)"""
    tx = raw_conn.transaction()
    await tx.start()
    await append_in_transaction(raw_conn, db_schema, new_stream(), 0, [new_event("late")])

    # Hold the reservation lock so the reader stops inside the function, after its
    # statement (and so its statement snapshot) has started.
    await other_conn.execute(
        "SELECT pg_advisory_lock($1, hashtext($2))", LOCK_CLASS, f'"{db_schema}"'
    )
    reader_conn = await asyncpg.connect(dsn)
    try:
        reader_pid = reader_conn.get_server_pid()
        sql = Statements.for_schema(db_schema).read_safe
        reading = asyncio.ensure_future(reader_conn.fetch(sql, 0, 10, None, None, None))

        async def reader_waits() -> bool:
            return bool(
                await other_conn.fetchval(
                    "SELECT EXISTS (SELECT 1 FROM pg_locks WHERE pid = $1"
                    " AND locktype = 'advisory' AND NOT granted)",
                    reader_pid,
                )
            )

        await eventually(reader_waits)
        await tx.commit()  # after the reader's statement started, before its head
        await other_conn.execute(
            "SELECT pg_advisory_unlock($1, hashtext($2))", LOCK_CLASS, f'"{db_schema}"'
        )
        rows = await asyncio.wait_for(reading, 5)
    finally:
        await reader_conn.close()
    assert [(r["head"], r["position"], r["type"]) for r in rows] == [(1, 1, "late")]


async def test_a_cancelled_reader_leaves_no_lock(
    store: EventStore, raw_conn: asyncpg.Connection, dsn: str, db_schema: str
) -> None:
    await store.append(new_stream(), 0, [new_event()])
    await raw_conn.execute(
        "SELECT pg_advisory_lock($1, hashtext($2))", LOCK_CLASS, f'"{db_schema}"'
    )
    impatient = await asyncpg.connect(dsn)
    try:
        await impatient.execute("SET statement_timeout = '200ms'")
        statements = Statements.for_schema(db_schema)
        with pytest.raises(asyncpg.QueryCanceledError):
            await impatient.fetch(statements.read_safe, 0, 10, None, None, None)
        with pytest.raises(asyncpg.QueryCanceledError):
            await impatient.fetchval(statements.head)
        await raw_conn.execute(
            "SELECT pg_advisory_unlock($1, hashtext($2))", LOCK_CLASS, f'"{db_schema}"'
        )
        held = await raw_conn.fetchval(
            "SELECT count(*) FROM pg_locks WHERE pid = $1 AND locktype = 'advisory'",
            impatient.get_server_pid(),
        )
        assert held == 0
        assert await impatient.fetchval(statements.head) == 1
    finally:
        await impatient.close()
    # Appenders (exclusive) are not blocked by a leftover shared lock.
    assert (await store.append(new_stream(), 0, [new_event()])).events[0].position == 2


async def test_readers_refuse_snapshots_older_than_the_head(
    store: EventStore, raw_conn: asyncpg.Connection, db_schema: str
) -> None:
    """Under REPEATABLE READ the rows would come from the transaction's first snapshot, which
    may predate the head: refused rather than silently unsafe."""
    statements = Statements.for_schema(db_schema)
    for isolation in ("repeatable_read", "serializable"):
        async with raw_conn.transaction(isolation=isolation):  # type: ignore[arg-type]
            with pytest.raises(asyncpg.PostgresError) as caught:
                await raw_conn.fetch(statements.read_safe, 0, 10, None, None, None)
        assert caught.value.sqlstate == "LP005"
    async with raw_conn.transaction(isolation="read_committed"):
        assert await raw_conn.fetchval(statements.head) == 0


@pytest.mark.parametrize("seed", [1, 2, 3])
async def test_random_appenders_and_subscribers(
    store: EventStore, dsn: str, db_schema: str, seed: int
) -> None:
    """Many appenders (own connections, random batch sizes, random time between reservation
    and commit, some roll back, some append through the store) and, all along, an unrelated
    transaction holding an xid. Every subscriber receives exactly the committed events, each
    once, in position order, and catches up while the unrelated transaction is still open."""
    rng = random.Random(seed)
    writers, appends_per_writer = 10, 12
    committed: dict[uuid.UUID, str] = {}
    all_events: list[RecordedEvent] = []
    reports: list[RecordedEvent] = []
    caught_up = asyncio.Event()
    target: list[int] = []

    def check() -> None:
        if target and len(all_events) >= target[0] and len(reports) >= target[1]:
            caught_up.set()

    async def writer(number: int) -> None:
        conn = await asyncpg.connect(dsn)
        try:
            for _ in range(appends_per_writer):
                stream_type = rng.choice(("report", "dataset"))
                events = [new_event(f"w{number}") for _ in range(rng.randint(1, 5))]
                tx = conn.transaction()
                await tx.start()
                await append_in_transaction(conn, db_schema, new_stream(stream_type), 0, events)
                await asyncio.sleep(rng.expovariate(1 / 0.005))
                if rng.random() < 0.2:
                    await tx.rollback()
                else:
                    await tx.commit()
                    committed.update((e.event_id, stream_type) for e in events)
        finally:
            await conn.close()

    async def store_writer() -> None:
        for _ in range(25):
            stream_type = rng.choice(("report", "dataset"))
            result = await store.append(new_stream(stream_type), 0, [new_event("s")])
            committed.update((e.event_id, stream_type) for e in result.events)
            await asyncio.sleep(rng.uniform(0, 0.005))

    async def subscriber(into: list[RecordedEvent], **kwargs: object) -> None:
        async for event in store.subscribe(**kwargs):  # type: ignore[arg-type]
            into.append(event)
            check()

    unrelated = await asyncpg.connect(dsn)
    readers = [
        asyncio.create_task(subscriber(all_events, batch_size=rng.randint(1, 9))),
        asyncio.create_task(
            subscriber(reports, stream_types={"report"}, batch_size=rng.randint(1, 9))
        ),
    ]
    try:
        tx = unrelated.transaction()
        await tx.start()
        await unrelated.execute("CREATE TEMP TABLE scratch (id int)")
        await unrelated.execute("SELECT pg_current_xact_id()")
        await asyncio.gather(*(writer(n) for n in range(writers)), store_writer())
        target.extend([len(committed), sum(1 for kind in committed.values() if kind == "report")])
        check()
        await asyncio.wait_for(caught_up.wait(), 20)
        await tx.rollback()
    finally:
        for reader in readers:
            reader.cancel()
        await asyncio.gather(*readers, return_exceptions=True)
        await unrelated.close()

    for received, wanted in (
        (all_events, set(committed)),
        (reports, {i for i, kind in committed.items() if kind == "report"}),
    ):
        positions = [e.position for e in received]
        assert positions == sorted(set(positions)), "out of order or repeated"
        assert received
        assert {e.event_id for e in received} == wanted
        assert len(received) == len(wanted)
