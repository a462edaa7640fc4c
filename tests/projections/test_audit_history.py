"""A report's history in bursts: one actor's consecutive edits, each less than the gap after
the previous one (the gap is a parameter here so that real pauses of a fraction of a second
can stand in for minutes)."""

from __future__ import annotations

import asyncio
import uuid
from datetime import timedelta

import asyncpg
import pytest

from api.bootstrap import MIGRATIONS
from commands.envelope import new_event
from commands.eventstore import EventStore, StreamRef, connect_store, migrate
from domain.clock import Hlc
from domain.metadata import EventMetadata
from domain.report.events import ReportCreated, ReportEvent, ReportRenamed, encode
from domain.versions import Dot
from projections.audit import AuditLog
from projections.audit_queries import HistoryBurst, report_history
from projections.runner import ProjectionRunner

ANA, BO = uuid.UUID(int=0xA0), uuid.UUID(int=0xB0)
WORKSPACE = uuid.UUID(int=0xAA)
PAUSE = 0.4
GAP = timedelta(seconds=0.2)


@pytest.fixture
async def store(engines, db_schema):
    store = await connect_store(engines.postgres, db_schema)
    yield store
    await store.close()


@pytest.fixture
async def pool(engines, db_schema):
    pool = await asyncpg.create_pool(engines.postgres, min_size=1, max_size=4)
    async with pool.acquire() as conn:
        await migrate(conn, f"{db_schema}_read", "projections", dict(MIGRATIONS)["projections"])
    yield pool
    await pool.close()


async def _edit(
    store: EventStore, report_id: uuid.UUID, actor: uuid.UUID, event: ReportEvent
) -> int:
    version = await store.stream_version(report_id)
    meta = EventMetadata(
        event_id=uuid.uuid4(),
        replica="tab",
        dot=Dot("tab", version + 1),
        hlc=Hlc(version + 1, 0),
        actor=actor,
    )
    result = await store.append(
        StreamRef(stream_id=report_id, stream_type="report", workspace_id=WORKSPACE),
        version,
        [new_event(str(event.__struct_config__.tag), encode(event), meta)],
    )
    return result.events[0].position


async def _history(store, pool, db_schema) -> tuple[uuid.UUID, list[int]]:
    """Ana: v1 v2 | pause | Ana: v3, Bo: v4 v5 | pause | Bo: v6, Ana: v7."""
    report_id = uuid.uuid4()
    plan = [
        (ANA, ReportCreated(report_id=report_id, workspace_id=WORKSPACE, name="v1"), 0),
        (ANA, ReportRenamed(name="v2"), 0),
        (ANA, ReportRenamed(name="v3"), PAUSE),
        (BO, ReportRenamed(name="v4"), 0),
        (BO, ReportRenamed(name="v5"), 0),
        (BO, ReportRenamed(name="v6"), PAUSE),
        (ANA, ReportRenamed(name="v7"), 0),
    ]
    positions = []
    for actor, event, pause in plan:
        await asyncio.sleep(pause)
        positions.append(await _edit(store, report_id, actor, event))
    runner = ProjectionRunner(AuditLog(store), store, pool, f"{db_schema}_read")
    stop = asyncio.Event()
    task = asyncio.create_task(runner.run(stop))
    try:
        assert await runner.wait_until(positions[-1], 20)
    finally:
        stop.set()
        await task
    return report_id, positions


def _shape(bursts: list[HistoryBurst]) -> list[tuple[uuid.UUID | None, int, int, int]]:
    return [(b.actor, b.from_version, b.to_version, b.events) for b in bursts]


async def _pages(pool, read_schema, report_id, **options) -> list[HistoryBurst]:
    bursts: list[HistoryBurst] = []
    before = None
    while True:
        page, before = await report_history(pool, read_schema, report_id, before=before, **options)
        bursts += page
        if before is None:
            return bursts


async def test_bursts_split_on_a_new_actor_and_on_a_pause(store, pool, db_schema):
    read_schema = f"{db_schema}_read"
    report_id, positions = await _history(store, pool, db_schema)

    bursts, next_before = await report_history(pool, read_schema, report_id, gap=GAP)
    assert next_before is None
    assert _shape(bursts) == [
        (ANA, 7, 7, 1),
        (BO, 6, 6, 1),
        (BO, 4, 5, 2),
        (ANA, 3, 3, 1),
        (ANA, 1, 2, 2),
    ]
    assert bursts[2].positions == [positions[3], positions[4]]
    assert bursts[2].summaries == [
        f"user {str(BO)[:8]} renamed the report from 'v3' to 'v4'",
        f"user {str(BO)[:8]} renamed the report from 'v4' to 'v5'",
    ]
    assert bursts[4].summaries[0] == f"user {str(ANA)[:8]} created the report 'v1'"
    assert all(b.started_at <= b.ended_at for b in bursts)
    assert bursts[1].started_at - bursts[2].ended_at >= timedelta(seconds=PAUSE * 0.9)

    # A gap longer than the pauses: only the change of actor splits.
    long, _ = await report_history(pool, read_schema, report_id, gap=timedelta(seconds=30))
    assert _shape(long) == [(ANA, 7, 7, 1), (BO, 4, 6, 3), (ANA, 1, 3, 3)]
    # The default gap (5 minutes) groups the same way.
    default, _ = await report_history(pool, read_schema, report_id)
    assert default == long
    # Summaries: the first ones of the burst, as many as asked.
    short, _ = await report_history(pool, read_schema, report_id, summaries=1)
    assert [b.summaries for b in short][1] == [
        f"user {str(BO)[:8]} renamed the report from 'v3' to 'v4'"
    ]


async def test_pages_of_bursts_join_up(store, pool, db_schema):
    read_schema = f"{db_schema}_read"
    report_id, positions = await _history(store, pool, db_schema)
    whole, _ = await report_history(pool, read_schema, report_id, gap=GAP)
    for limit in (1, 2, 3):
        assert await _pages(pool, read_schema, report_id, gap=GAP, limit=limit) == whole
    first, before = await report_history(pool, read_schema, report_id, gap=GAP, limit=2)
    assert before == whole[1].positions[0]
    assert first == whole[:2]
    older, _ = await report_history(pool, read_schema, report_id, gap=GAP, before=positions[3])
    assert _shape(older) == [(ANA, 3, 3, 1), (ANA, 1, 2, 2)]
    none, end = await report_history(pool, read_schema, uuid.uuid4())
    assert (none, end) == ([], None)


async def test_a_burst_longer_than_the_scan_continues_on_the_next_page(store, pool, db_schema):
    read_schema = f"{db_schema}_read"
    report_id, _ = await _history(store, pool, db_schema)
    long = timedelta(seconds=30)
    pages = []
    before = None
    while True:
        page, before = await report_history(
            pool, read_schema, report_id, gap=long, before=before, max_scan=2
        )
        pages.append(_shape(page))
        if before is None:
            break
    # Bo's burst v4..v6 is cut where a page's scan ends; the pieces add up.
    assert pages == [
        [(ANA, 7, 7, 1), (BO, 6, 6, 1)],
        [(BO, 4, 5, 2)],
        [(ANA, 2, 3, 2)],
        [(ANA, 1, 1, 1)],
    ]
