"""The runner folds every event exactly once, survives rebuilds and refuses to double-apply."""

from __future__ import annotations

import asyncio
import gc
import uuid
from collections.abc import Sequence

import asyncpg
import pytest

from api.bootstrap import MIGRATIONS
from commands.eventstore import (
    EventStore,
    NewEvent,
    RecordedEvent,
    StreamRef,
    connect_store,
    migrate,
)
from projections.positions import PositionStore
from projections.projection import Tables, tables_for
from projections.rebuild import rebuild
from projections.runner import ProjectionRunner


class Ledger:
    """Writes one row per event it folds; the primary key makes a double apply fail loudly."""

    name = "ledger"
    version = 1
    event_types: tuple[str, ...] = ("Counted",)
    tables: tuple[str, ...] = ("rm_ledger",)

    def __init__(self, *, fail_after: int | None = None) -> None:
        self.fail_after = fail_after
        self.applied = 0

    def ddl(self, t: Tables) -> list[str]:
        return [f"CREATE TABLE {t['rm_ledger']} (position bigint PRIMARY KEY, stream_id uuid)"]

    def reset(self) -> None:
        pass

    def bulk(self, enabled: bool) -> None:
        pass

    async def flush(self, conn, tables: Tables) -> None:
        pass

    async def apply(self, conn, events: Sequence[RecordedEvent], t: Tables) -> None:
        await conn.executemany(
            f"INSERT INTO {t['rm_ledger']} (position, stream_id) VALUES ($1, $2)",
            [(event.position, event.stream_id) for event in events],
        )
        self.applied += len(events)
        if self.fail_after is not None and self.applied > self.fail_after:
            raise RuntimeError("crash in the middle of a batch")


@pytest.fixture
async def store(engines, db_schema):
    store = await connect_store(engines.postgres, db_schema)
    yield store
    await store.close()


@pytest.fixture
async def pool(engines, db_schema):
    pool = await asyncpg.create_pool(engines.postgres, min_size=1, max_size=6)
    read_schema = f"{db_schema}_read"
    directory = dict(MIGRATIONS)["projections"]
    async with pool.acquire() as conn:
        await migrate(conn, read_schema, "projections", directory)
    yield pool
    await pool.close()


async def _append(store: EventStore, count: int, event_type: str = "Counted") -> list[int]:
    positions = []
    for _ in range(count):
        stream = StreamRef(stream_id=uuid.uuid4(), stream_type="test")
        result = await store.append(
            stream, 0, [NewEvent(event_id=uuid.uuid4(), type=event_type, data=b"{}")]
        )
        positions.append(result.events[0].position)
    return positions


async def _ledger_positions(pool, read_schema: str) -> list[int]:
    table = tables_for(read_schema, ["rm_ledger"])["rm_ledger"]
    return [row[0] for row in await pool.fetch(f"SELECT position FROM {table} ORDER BY 1")]


async def test_every_relevant_event_is_folded_once_and_others_only_move_the_position(
    store, pool, db_schema
):
    read_schema = f"{db_schema}_read"
    counted = await _append(store, 30)
    await _append(store, 10, "Ignored")
    counted += await _append(store, 5)
    runner = ProjectionRunner(Ledger(), store, pool, read_schema, batch_size=7)
    stop = asyncio.Event()
    task = asyncio.create_task(runner.run(stop))
    try:
        assert await runner.wait_until(max(counted), 10)
    finally:
        stop.set()
        await task
    assert await _ledger_positions(pool, read_schema) == counted


async def test_a_failed_batch_leaves_rows_and_position_together(store, pool, db_schema):
    read_schema = f"{db_schema}_read"
    counted = await _append(store, 20)
    failing = ProjectionRunner(Ledger(fail_after=12), store, pool, read_schema, batch_size=5)
    stop = asyncio.Event()
    task = asyncio.create_task(failing._follow(stop))
    with pytest.raises(RuntimeError):
        await asyncio.wait_for(task, 10)
    stored = await PositionStore(pool, read_schema).get("ledger")
    rows = await _ledger_positions(pool, read_schema)
    assert rows == [p for p in counted if p <= stored.position], "rows and position disagree"
    # A fresh runner picks up where the committed part ended; nothing twice, nothing missed.
    runner = ProjectionRunner(Ledger(), store, pool, read_schema, batch_size=5)
    stop = asyncio.Event()
    task = asyncio.create_task(runner.run(stop))
    try:
        assert await runner.wait_until(counted[-1], 10)
    finally:
        stop.set()
        await task
    assert await _ledger_positions(pool, read_schema) == counted


async def test_two_runners_without_leadership_never_apply_an_event_twice(store, pool, db_schema):
    read_schema = f"{db_schema}_read"
    counted = await _append(store, 200)
    stop = asyncio.Event()
    one = ProjectionRunner(Ledger(), store, pool, read_schema, batch_size=3)
    two = ProjectionRunner(Ledger(), store, pool, read_schema, batch_size=4)
    await one.prepare()
    tasks = [asyncio.create_task(runner._follow(stop)) for runner in (one, two)]
    try:
        async with asyncio.timeout(30):
            while (await PositionStore(pool, read_schema).get("ledger")).position < counted[-1]:
                await asyncio.sleep(0.02)
    finally:
        stop.set()
        await asyncio.gather(*tasks)
    assert await _ledger_positions(pool, read_schema) == counted


async def test_a_rebuild_swaps_in_while_the_live_runner_keeps_folding(store, pool, db_schema):
    read_schema = f"{db_schema}_read"
    counted = await _append(store, 300)
    runner = ProjectionRunner(Ledger(), store, pool, read_schema, batch_size=50)
    stop = asyncio.Event()
    live = asyncio.create_task(runner.run(stop))
    writing = asyncio.create_task(_append(store, 200))
    try:
        result = await rebuild(Ledger(), store, pool, read_schema, batch_size=64)
        counted += await writing
        assert await runner.wait_until(counted[-1], 20)
    finally:
        stop.set()
        await live
    assert result.position >= 300
    assert await _ledger_positions(pool, read_schema) == counted
    tables = await pool.fetch(
        "SELECT tablename FROM pg_tables WHERE schemaname = $1 AND tablename LIKE 'rm_ledger%'",
        read_schema,
    )
    assert [row[0] for row in tables] == ["rm_ledger"], "the old tables are gone"


async def test_a_new_projection_version_is_rebuilt_when_its_runner_starts(store, pool, db_schema):
    read_schema = f"{db_schema}_read"
    counted = await _append(store, 40)
    first = ProjectionRunner(Ledger(), store, pool, read_schema)
    stop = asyncio.Event()
    task = asyncio.create_task(first.run(stop))
    assert await first.wait_until(counted[-1], 10)
    stop.set()
    await task

    class LedgerV2(Ledger):
        version = 2

    second = ProjectionRunner(
        LedgerV2(),
        store,
        pool,
        read_schema,
        rebuild=lambda: rebuild(LedgerV2(), store, pool, read_schema),
    )
    stop = asyncio.Event()
    task = asyncio.create_task(second.run(stop))
    try:
        async with asyncio.timeout(10):
            while (await PositionStore(pool, read_schema).get("ledger")).version != 2:
                await asyncio.sleep(0.02)
        assert await second.wait_until(counted[-1], 10)
    finally:
        stop.set()
        await task
    assert await _ledger_positions(pool, read_schema) == counted


class IndexedLedger(Ledger):
    """A ledger with a secondary index; notes which indexes its table has while it folds."""

    def __init__(self) -> None:
        super().__init__()
        self.indexes_seen: set[str] = set()

    def ddl(self, t: Tables) -> list[str]:
        return [
            *super().ddl(t),
            f"CREATE UNIQUE INDEX ON {t['rm_ledger']} (stream_id)",
            f"create index on {t['rm_ledger']} (stream_id, position)",
        ]

    async def apply(self, conn, events: Sequence[RecordedEvent], t: Tables) -> None:
        await super().apply(conn, events, t)
        rows = await conn.fetch(
            "SELECT indexdef FROM pg_indexes WHERE schemaname = $1 AND tablename = $2",
            t.schema,
            t.bare("rm_ledger"),
        )
        self.indexes_seen.update(row[0].split(" USING ")[1] for row in rows)


async def test_a_rebuild_reads_only_what_it_folds_and_builds_secondary_indexes_last(
    store, pool, db_schema
):
    read_schema = f"{db_schema}_read"
    counted = await _append(store, 12)
    ignored = await _append(store, 30, "Ignored")
    counted += await _append(store, 9)
    projection = IndexedLedger()
    thresholds = gc.get_threshold()
    result = await rebuild(projection, store, pool, read_schema, batch_size=4)
    assert gc.get_threshold() == thresholds, "the collector runs as before"
    assert await _ledger_positions(pool, read_schema) == counted
    assert result.folded == len(counted)
    assert result.events == len(counted) + len(ignored) == result.position
    # While folding: the primary key and the unique index (an ON CONFLICT may need it), not
    # the secondary index; the live table has all three.
    assert projection.indexes_seen == {'btree ("position")', "btree (stream_id)"}
    rows = await pool.fetch(
        "SELECT indexdef FROM pg_indexes WHERE schemaname = $1 AND tablename = 'rm_ledger'",
        read_schema,
    )
    assert sorted(row[0].split(" USING ")[1] for row in rows) == [
        'btree ("position")',
        "btree (stream_id)",
        'btree (stream_id, "position")',
    ]
