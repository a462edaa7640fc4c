"""The reservation lock is held only for the reservation, and never leaks on errors."""

from __future__ import annotations

from typing import TYPE_CHECKING

import asyncpg
import pytest
from eventstore_helpers import append_in_transaction, new_event, new_stream

if TYPE_CHECKING:
    from commands.eventstore import EventStore

LOCK_CLASS = 1282373232


async def _reservation_locks(conn: asyncpg.Connection, schema: str) -> int:
    """Holders of the schema's reservation lock (two int4 keys: objsubid 2), any mode."""
    count: int = await conn.fetchval(
        "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND granted"
        " AND objsubid = 2 AND classid = $1::oid AND objid = hashtext($2)::oid",
        LOCK_CLASS,
        f'"{schema}"',
    )
    return count


async def _inflight_locks(conn: asyncpg.Connection, schema: str) -> int:
    """Open appends of the schema (the transaction-level locks of their first positions)."""
    count: int = await conn.fetchval(
        "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND granted"
        " AND objsubid = 1 AND classid::bigint >> 15 = 65536 + (hashtext($1) & 65535)",
        f'"{schema}"',
    )
    return count


async def test_open_append_does_not_hold_the_reservation_lock(
    store: EventStore, raw_conn: asyncpg.Connection, db_schema: str
) -> None:
    """Appenders serialise for the reservation only, not until commit (unlike a table lock)."""
    tx = raw_conn.transaction()
    await tx.start()
    await append_in_transaction(raw_conn, db_schema, new_stream(), 0, [new_event()])
    assert await _reservation_locks(raw_conn, db_schema) == 0
    # What it holds until it ends is its own in-flight lock, which blocks nobody.
    assert await _inflight_locks(raw_conn, db_schema) == 1
    # Another append goes through while the first is still open.
    result = await store.append(new_stream(), 0, [new_event()])
    assert result.events[0].position == 2
    await tx.rollback()
    assert await _inflight_locks(raw_conn, db_schema) == 0


async def test_cancelled_while_waiting_for_the_lock_leaves_no_lock(
    store: EventStore, raw_conn: asyncpg.Connection, dsn: str, db_schema: str
) -> None:
    await raw_conn.execute(
        "SELECT pg_advisory_lock($1, hashtext($2))", LOCK_CLASS, f'"{db_schema}"'
    )
    impatient = await asyncpg.connect(dsn)
    try:
        await impatient.execute("SET statement_timeout = '200ms'")
        with pytest.raises(asyncpg.QueryCanceledError):
            await append_in_transaction(impatient, db_schema, new_stream(), 0, [new_event()])
        await raw_conn.execute(
            "SELECT pg_advisory_unlock($1, hashtext($2))", LOCK_CLASS, f'"{db_schema}"'
        )
        assert await _reservation_locks(raw_conn, db_schema) == 0
        await append_in_transaction(impatient, db_schema, new_stream(), 0, [new_event()])
    finally:
        await impatient.close()
    assert (await store.append(new_stream(), 0, [new_event()])).events


async def test_failure_inside_the_critical_section_releases_the_lock(
    store: EventStore, raw_conn: asyncpg.Connection, db_schema: str
) -> None:
    await store.append(new_stream(), 0, [new_event()])
    # Make setval() fail after the lock has been taken: a batch of two needs position 3.
    await raw_conn.execute(f"ALTER SEQUENCE {db_schema}.events_position_seq MAXVALUE 2")
    with pytest.raises(asyncpg.PostgresError, match="out of bounds"):
        await store.append(new_stream(), 0, [new_event(), new_event()])
    assert await _reservation_locks(raw_conn, db_schema) == 0
    assert await _inflight_locks(raw_conn, db_schema) == 0

    await raw_conn.execute(f"ALTER SEQUENCE {db_schema}.events_position_seq NO MAXVALUE")
    result = await store.append(new_stream(), 0, [new_event()])
    assert result.events[0].position == 3  # the failed reservation left a gap, nothing else
