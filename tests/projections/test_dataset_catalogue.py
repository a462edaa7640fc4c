"""The dataset catalogue equals the aggregates the command side folded, built incrementally
(with rows restored from their snapshots) and rebuilt from the log."""

from __future__ import annotations

import asyncio
import uuid

import asyncpg
import msgspec

from api.bootstrap import MIGRATIONS
from commands.authorization import Actor, Authorizer
from commands.clock import ServerClock
from commands.datasets import DatasetHandler
from commands.eventstore import connect_store, migrate
from commands.workspace import CreateWorkspace
from commands.workspaces import WorkspaceHandler
from domain.dataset.aggregate import snapshot_of
from domain.dataset.events import SourceColumnSeen
from domain.dataset.schema import DatasetSchema, FieldType
from projections.datasets import DatasetCatalogue, dataset_record, datasets_of
from projections.rebuild import rebuild
from projections.runner import ProjectionRunner

COLUMNS = [
    SourceColumnSeen(column="day", type="date", role="dimension"),
    SourceColumnSeen(column="city", type="text", role="dimension"),
    SourceColumnSeen(column="sales", type="decimal", role="measure"),
]


def _any(_text: str, _schema: DatasetSchema) -> FieldType:
    return "decimal"


async def test_the_catalogue_matches_the_command_side_incrementally_and_after_a_rebuild(
    engines, db_schema
):
    store = await connect_store(engines.postgres, db_schema)
    pool = await asyncpg.create_pool(engines.postgres, min_size=1, max_size=4)
    read_schema = f"{db_schema}_read"
    async with pool.acquire() as conn:
        await migrate(conn, read_schema, "projections", dict(MIGRATIONS)["projections"])
    authorizer = Authorizer(store)
    clock = ServerClock()
    ana = Actor(id=uuid.uuid4(), name="Ana")
    workspace = await WorkspaceHandler(store, authorizer, clock).create(
        CreateWorkspace(name="Sales"), ana
    )
    handler = DatasetHandler(store, authorizer, clock)
    made = []
    for name in ("Orders", "Weather"):
        outcome = await handler.create(
            workspace.workspace_id,
            ana,
            name=name,
            connector="csv",
            config={"blob": f"datasets/{name}.parquet"},
            table=None,
            columns=COLUMNS,
            rows=3,
            refresh={"blob": f"datasets/{name}.parquet", "rows": 3, "details": {"delimiter": ","}},
        )
        made.append(outcome.dataset.id)
    first, second = made
    # Interleaved, so that a catalogue holding one dataset in memory restores the other from
    # its row before every event.
    steps = [
        (first, lambda d: d.rename_field("city", "City")),
        (second, lambda d: d.define_measure("Total", "SUM([sales])", "#,0", _any)),
        (first, lambda d: d.retype_field("sales", "integer")),
        (second, lambda d: d.hide_field("day")),
        (first, lambda d: d.define_calculated_column("Double", "[sales] * 2", None, _any)),
        (second, lambda d: d.change_measure("total", "SUM([sales]) * 2", None, "Twice", _any)),
        (first, lambda d: [d.infer_schema(COLUMNS[1:], 2), d.refresh(blob="b2", rows=2)]),
        (second, lambda d: d.rename("Seattle weather")),
    ]
    for dataset_id, decide in steps:
        await handler.change(dataset_id, ana, decide)
    deleted = await handler.create(
        workspace.workspace_id,
        ana,
        name="Gone",
        connector="csv",
        config={},
        table=None,
        columns=COLUMNS,
        rows=0,
    )
    last = await handler.change(deleted.dataset.id, ana, lambda d: d.delete())

    runner = ProjectionRunner(
        DatasetCatalogue(cache_size=1), store, pool, read_schema, batch_size=3
    )
    stop = asyncio.Event()
    task = asyncio.create_task(runner.run(stop))
    try:
        assert await runner.wait_until(last.position, 10)
    finally:
        stop.set()
        await task

    async def stored() -> dict[uuid.UUID, bytes]:
        out = {}
        for dataset_id in made:
            record = await dataset_record(pool, read_schema, dataset_id)
            assert record is not None
            out[dataset_id] = msgspec.json.encode(record.snapshot)
        return out

    expected = {}
    for dataset_id in made:
        entry = await handler.repository.load(dataset_id)
        expected[dataset_id] = msgspec.json.encode(snapshot_of(entry.aggregate))
    assert await stored() == expected
    assert await dataset_record(pool, read_schema, deleted.dataset.id) is None
    listed = await datasets_of(pool, read_schema, workspace.workspace_id)
    assert [r.snapshot.name for r in listed] == ["Orders", "Seattle weather"]
    first_record = await dataset_record(pool, read_schema, first)
    assert first_record is not None
    assert [f.name for f in first_record.snapshot.schema.fields] == ["City", "sales"]
    assert first_record.snapshot.blob == "b2"

    await rebuild(DatasetCatalogue(), store, pool, read_schema)
    assert await stored() == expected
    await store.close()
    await pool.close()
