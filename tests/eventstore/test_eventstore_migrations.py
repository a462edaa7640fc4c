"""The migration runner: versioned, idempotent, one transaction per file, safe concurrently."""

from __future__ import annotations

import asyncio
import uuid
from typing import TYPE_CHECKING

import asyncpg
import pytest
from eventstore_helpers import append_in_transaction, new_event, new_stream

from commands.eventstore import connect_store, migrate
from commands.eventstore.migrations import EVENTSTORE_MIGRATIONS, MigrationError, discover

if TYPE_CHECKING:
    from collections.abc import AsyncIterator
    from pathlib import Path

#: Every migration of the event store, in order.
ALL = ["0001_event_store", "0002_inflight_visibility"]


@pytest.fixture
async def fresh_schema(dsn: str) -> AsyncIterator[str]:
    """A schema name that does not exist yet (migrate must create it); dropped afterwards."""
    name = f"t_{uuid.uuid4().hex[:16]}"
    yield name
    conn = await asyncpg.connect(dsn)
    try:
        await conn.execute(f"DROP SCHEMA IF EXISTS {name} CASCADE")
    finally:
        await conn.close()


async def test_migrate_is_idempotent(raw_conn: asyncpg.Connection, fresh_schema: str) -> None:
    assert await migrate(raw_conn, fresh_schema) == ALL
    assert await migrate(raw_conn, fresh_schema) == []
    rows = await raw_conn.fetch(
        f"SELECT component, version, name FROM {fresh_schema}.schema_migrations ORDER BY version"
    )
    assert [tuple(r) for r in rows] == [
        ("eventstore", 1, "event_store"),
        ("eventstore", 2, "inflight_visibility"),
    ]


async def test_concurrent_migrations_apply_once(dsn: str, fresh_schema: str) -> None:
    conns = [await asyncpg.connect(dsn) for _ in range(4)]
    try:
        results = await asyncio.gather(*(migrate(c, fresh_schema) for c in conns))
    finally:
        for conn in conns:
            await conn.close()
    assert sorted(results) == [[], [], [], ALL]


async def test_migrate_accepts_a_pool(dsn: str, fresh_schema: str) -> None:
    pool = await asyncpg.create_pool(dsn, min_size=1, max_size=2)
    try:
        assert await migrate(pool, fresh_schema) == ALL
        assert await pool.fetchval(f"SELECT count(*) FROM {fresh_schema}.events") == 0
    finally:
        await pool.close()


async def test_a_version_1_store_upgrades_in_place(
    raw_conn: asyncpg.Connection, dsn: str, fresh_schema: str, tmp_path: Path
) -> None:
    """A schema created (and written) by version 1 takes 0002 as it is: old events read back,
    positions continue, and new rows still carry tx_id for readers of version 1."""
    v1 = tmp_path / "v1"
    v1.mkdir()
    (v1 / "0001_event_store.sql").write_text(
        (EVENTSTORE_MIGRATIONS / "0001_event_store.sql").read_text()
    )
    assert await migrate(raw_conn, fresh_schema, directory=v1) == ["0001_event_store"]
    stream = new_stream()
    await append_in_transaction(raw_conn, fresh_schema, stream, 0, [new_event(), new_event()])

    assert await migrate(raw_conn, fresh_schema) == ["0002_inflight_visibility"]
    store = await connect_store(dsn, fresh_schema, min_size=1, max_size=2)
    try:
        assert [e.position for e in await store.read_all()] == [1, 2]
        assert await store.head_position() == 2
        result = await store.append(stream, 2, [new_event()])
        assert result.events[0].position == 3
        assert [e.version for e in await store.read_all()] == [1, 2, 3]
        assert await store.head_position() == 3
    finally:
        await store.close()
    missing = await raw_conn.fetchval(
        f"SELECT count(*) FROM {fresh_schema}.events WHERE tx_id IS NULL"
    )
    assert missing == 0


async def test_components_keep_their_own_versions(
    raw_conn: asyncpg.Connection, fresh_schema: str, tmp_path: Path
) -> None:
    (tmp_path / "0001_things.sql").write_text("CREATE TABLE {schema}.things (id int);")
    (tmp_path / "0002_more.sql").write_text("ALTER TABLE {schema}.things ADD COLUMN name text;")

    assert await migrate(raw_conn, fresh_schema) == ALL
    applied = await migrate(raw_conn, fresh_schema, "things", tmp_path)
    assert applied == ["0001_things", "0002_more"]
    assert await migrate(raw_conn, fresh_schema, "things", tmp_path) == []
    await raw_conn.execute(f"INSERT INTO {fresh_schema}.things VALUES (1, 'x')")


async def test_failed_file_is_rolled_back_and_retried(
    raw_conn: asyncpg.Connection, fresh_schema: str, tmp_path: Path
) -> None:
    (tmp_path / "0001_ok.sql").write_text("CREATE TABLE {schema}.a (id int);")
    bad = tmp_path / "0002_bad.sql"
    bad.write_text("CREATE TABLE {schema}.b (id int); SELECT no_such_function();")

    with pytest.raises(asyncpg.UndefinedFunctionError):
        await migrate(raw_conn, fresh_schema, "c", tmp_path)
    # 0001 stayed applied; nothing of 0002 (not even its first statement) did.
    assert await raw_conn.fetchval(f"SELECT to_regclass('{fresh_schema}.b')") is None
    versions = await raw_conn.fetch(
        f"SELECT version FROM {fresh_schema}.schema_migrations WHERE component = 'c'"
    )
    assert [r["version"] for r in versions] == [1]

    bad.write_text("CREATE TABLE {schema}.b (id int);")
    assert await migrate(raw_conn, fresh_schema, "c", tmp_path) == ["0002_bad"]
    # The session's migration lock was released even after the failure.
    assert (
        await raw_conn.fetchval(
            "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND pid = pg_backend_pid()"
        )
        == 0
    )


def test_bad_file_names_and_duplicate_versions_are_refused(tmp_path: Path) -> None:
    (tmp_path / "1_short.sql").write_text("")
    with pytest.raises(MigrationError):
        discover(tmp_path)
    (tmp_path / "1_short.sql").unlink()
    (tmp_path / "0001_a.sql").write_text("")
    (tmp_path / "0001_b.sql").write_text("")
    with pytest.raises(MigrationError):
        discover(tmp_path)


@pytest.mark.parametrize("name", ["Public", "1abc", "a-b", "a;drop", "", "x" * 64])
async def test_schema_names_are_validated(raw_conn: asyncpg.Connection, name: str) -> None:
    with pytest.raises(ValueError, match="schema name"):
        await migrate(raw_conn, name)
