"""`loupe projector` killed with SIGKILL at random moments while edits keep coming: after a
restart every read model equals a rebuild from scratch — nothing applied twice, nothing skipped."""

from __future__ import annotations

import asyncio
import os
import random
import signal
import subprocess
import sys
import uuid
from pathlib import Path

import asyncpg
import pytest

from api.bootstrap import migrate_all, open_projection_context
from commands.authorization import Actor, Authorizer
from commands.eventstore import connect_store
from commands.report import AddPage, AddVisual, CommandBatch, CreateReport, MoveVisual, SetProperty
from commands.reports import ReportHandler
from commands.workspace import CreateWorkspace
from commands.workspaces import WorkspaceHandler
from projections.positions import PositionStore
from projections.projection import tables_for
from projections.rebuild import rebuild
from projections.registry import FACTORIES

LOUPE = Path(sys.executable).parent / "loupe"


def _projector(settings) -> subprocess.Popen[bytes]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("LOUPE_")}
    env.update(
        {
            "LOUPE_DATABASE_URL": settings.database_url,
            "LOUPE_NATS_URL": settings.nats_url,
            "LOUPE_REDIS_URL": settings.redis_url,
            "LOUPE_DATABASE_SCHEMA": settings.database_schema,
            "LOUPE_NATS_STREAM": settings.nats_stream,
            "LOUPE_NATS_SUBJECT_PREFIX": settings.nats_subject_prefix,
            "LOUPE_REDIS_PREFIX": settings.redis_prefix,
            "LOUPE_LOG_LEVEL": "WARNING",
        }
    )
    return subprocess.Popen(
        [str(LOUPE), "projector"], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE
    )


async def _edit(settings, stop: asyncio.Event, rng: random.Random) -> int:
    """Keep editing a few reports through the real command path until `stop`."""
    store = await connect_store(settings.database_url, settings.database_schema)
    authorizer = Authorizer(store)
    reports = ReportHandler(store, authorizer)
    workspaces = WorkspaceHandler(store, authorizer, reports.clock)
    actor = Actor(id=uuid.uuid4(), name="Ana")
    workspace = await workspaces.create(CreateWorkspace(name="Crash"), actor)
    ids = []
    for index in range(4):
        outcome = await reports.create(
            workspace.workspace_id, CreateReport(name=f"R{index}"), actor
        )
        page, visual = uuid.uuid4(), uuid.uuid4()
        await reports.handle_batch(
            outcome.report_id,
            CommandBatch(
                command_id=uuid.uuid4(),
                client_id="crash",
                commands=[
                    AddPage(page_id=page, name="P"),
                    AddVisual(
                        visual_id=visual, page_id=page, visual_type="column", x=0, y=0, w=4, h=3
                    ),
                ],
            ),
            actor,
        )
        ids.append((outcome.report_id, visual))
    batches = 0
    while not stop.is_set():
        report_id, visual = rng.choice(ids)
        command = (
            MoveVisual(visual_id=visual, x=rng.randint(0, 20), y=rng.randint(0, 40))
            if rng.random() < 0.6
            else SetProperty(target=f"visual:{visual}", path="title.text", value=f"t{batches}")
        )
        await reports.handle_batch(
            report_id,
            CommandBatch(command_id=uuid.uuid4(), client_id="crash", commands=[command]),
            actor,
        )
        batches += 1
        await asyncio.sleep(rng.uniform(0, 0.004))
    await store.close()
    return batches


async def _dump(pool: asyncpg.Pool, context) -> dict[str, list[tuple]]:
    dumped = {}
    for name, factory in FACTORIES.items():
        projection = factory(context)
        live = tables_for(context.read_schema, projection.tables)
        for logical in projection.tables:
            rows = await pool.fetch(f"SELECT * FROM {live[logical]}")
            dumped[f"{name}.{logical}"] = sorted(tuple(row.values()) for row in rows)
    return dumped


async def _caught_up(pool: asyncpg.Pool, context) -> bool:
    """Every projection has folded the last event it cares about."""
    stored = await PositionStore(pool, context.read_schema).all()
    for name, factory in FACTORIES.items():
        wanted = factory(context).event_types
        last = await pool.fetchval(
            f"""SELECT coalesce(max(position), 0) FROM "{context.store.schema}".events
                WHERE $1::text[] IS NULL OR type = ANY($1)""",
            None if wanted is None else sorted(wanted),
        )
        if name not in stored or stored[name].position < last:
            return False
    return True


@pytest.mark.slow
async def test_read_models_survive_sigkill_at_random_points(settings):
    await migrate_all(settings)
    rng = random.Random()
    stop = asyncio.Event()
    editing = asyncio.create_task(_edit(settings, stop, rng))
    kills = 0
    try:
        async with open_projection_context(settings) as (context, pool):
            positions = PositionStore(pool, context.read_schema)
            for _ in range(6):
                before = (await positions.get("reports")).position
                projector = _projector(settings)
                # Kill it while it is folding: once it has committed something, at a random
                # moment within the next batches.
                async with asyncio.timeout(30):
                    while (await positions.get("reports")).position == before:
                        await asyncio.sleep(0.01)
                await asyncio.sleep(rng.uniform(0, 0.3))
                projector.send_signal(signal.SIGKILL)
                projector.wait(10)
                kills += 1
    finally:
        stop.set()
        batches = await editing
    assert batches > 50, "the edits should have kept coming"

    projector = _projector(settings)
    try:
        async with open_projection_context(settings) as (context, pool), asyncio.timeout(60):
            while not await _caught_up(pool, context):
                await asyncio.sleep(0.1)
    finally:
        projector.send_signal(signal.SIGTERM)
        assert projector.wait(30) == 0, projector.stderr.read().decode() if projector.stderr else ""

    async with open_projection_context(settings) as (context, pool):
        before = await _dump(pool, context)
        for factory in FACTORIES.values():
            await rebuild(factory(context), context.store, pool, context.read_schema)
        after = await _dump(pool, context)
    assert kills == 6
    assert len(before["reports.rm_reports"]) == 4
    assert before.keys() == after.keys()
    for table in before:
        assert before[table] == after[table], f"{table} differs from a rebuild"
