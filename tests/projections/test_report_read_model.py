"""The report read model equals folding the events in memory, incrementally or rebuilt, and
time travel returns exactly what the document was."""

from __future__ import annotations

import asyncio
import random
import uuid
from collections.abc import Sequence

import asyncpg
import msgspec
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from api.bootstrap import MIGRATIONS
from commands.envelope import new_event
from commands.eventstore import EventStore, StreamRef, connect_store, migrate
from domain.errors import DomainError
from domain.report.events import encode
from domain.report.filters import InFilter
from projections.positions import PositionStore
from projections.rebuild import rebuild
from projections.rebuild_split import Workers
from projections.report_queries import current_report, report_at
from projections.reports import ReportReadModel
from projections.runner import ProjectionRunner
from tests.domain.report_histories import histories
from tests.domain.report_replicas import WORKSPACE_ID, Replica, Stamped, replay
from tests.projections.schemas import drop, for_report, prepare


async def _append_all(
    store: EventStore, report_id: uuid.UUID, events: Sequence[Stamped], rng: random.Random
) -> None:
    stream = StreamRef(stream_id=report_id, stream_type="report", workspace_id=WORKSPACE_ID)
    version = await store.stream_version(report_id)
    index = 0
    while index < len(events):
        size = rng.randint(1, 4)
        chunk = events[index : index + size]
        await store.append(
            stream,
            version,
            [new_event(str(e.__struct_config__.tag), encode(e), meta) for e, meta in chunk],
        )
        version += len(chunk)
        index += size


async def _last_position(pool: asyncpg.Pool, schema: str) -> int:
    """The position of the newest committed event (the store's safe head may trail it while
    another transaction, e.g. a projection's batch, is open)."""
    return int(await pool.fetchval(f"SELECT coalesce(max(position), 0) FROM {schema}.events"))


async def _documents(pool: asyncpg.Pool, read_schema: str, report_ids) -> dict:
    documents = {}
    for report_id in report_ids:
        stored = await current_report(pool, read_schema, report_id)
        assert stored is not None
        assert stored.document is not None
        documents[report_id] = msgspec.json.decode(stored.document)
    return documents


async def _catalogue(pool: asyncpg.Pool, read_schema: str) -> list[tuple[object, ...]]:
    rows = await pool.fetch(
        f"""SELECT report_id, workspace_id, name, dataset_id, created_by, created_at,
                   last_edited_by, last_edited_at, pages, visuals, version, position
            FROM {read_schema}.rm_reports ORDER BY report_id"""
    )
    return [tuple(row) for row in rows]


async def _scenario(
    database_url: str, drawn: list, rng: random.Random, workers: int | None = None
) -> None:
    schema, store, pool = await prepare(database_url)
    read_schema = f"{schema}_read"
    try:
        reports = {}
        for _, events in drawn:
            order = list(events[:1]) + rng.sample(events[1:], len(events) - 1)
            reports[uuid.uuid4()] = order
        projection = ReportReadModel(store, cache_size=1, snapshot_every=rng.choice([2, 3, 7]))
        runner = ProjectionRunner(
            projection, store, pool, read_schema, batch_size=rng.randint(1, 9)
        )
        stop = asyncio.Event()
        task = asyncio.create_task(runner.run(stop))
        try:
            for report_id, events in reports.items():
                half = len(events) // 2
                await _append_all(store, report_id, for_report(events[:half], report_id), rng)
            for report_id, events in reports.items():
                half = len(events) // 2
                await _append_all(store, report_id, for_report(events[half:], report_id), rng)
            assert await runner.wait_until(await _last_position(pool, schema), 30)
        finally:
            stop.set()
            await task
        expected = {
            report_id: replay(for_report(events, report_id), report_id).document()
            for report_id, events in reports.items()
        }
        incremental = await _documents(pool, read_schema, reports)
        assert incremental == expected
        catalogue = await _catalogue(pool, read_schema)

        # A small cache makes the rebuild write reports whose states leave it on the way.
        await rebuild(
            ReportReadModel(
                store, snapshot_every=rng.choice([2, 5]), bulk_cache_size=rng.choice([1, 2, 512])
            ),
            store,
            pool,
            read_schema,
            batch_size=rng.randint(1, 13),
        )
        assert await _documents(pool, read_schema, reports) == expected
        assert await _catalogue(pool, read_schema) == catalogue
        assert (await PositionStore(pool, read_schema).get("reports")).position == (
            await _last_position(pool, schema)
        )
        if workers is not None:
            await rebuild(
                ReportReadModel(store),
                store,
                pool,
                read_schema,
                batch_size=rng.randint(1, 13),
                workers=Workers(database_url, workers),
            )
            assert await _documents(pool, read_schema, reports) == expected
            assert await _catalogue(pool, read_schema) == catalogue
    finally:
        await drop(database_url, schema, store, pool)


@settings(
    max_examples=12,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(st.lists(histories(max_steps=30), min_size=1, max_size=3), st.randoms())
def test_incremental_read_model_equals_a_rebuild_and_the_in_memory_fold(engines, drawn, rng):
    asyncio.run(_scenario(engines.postgres, drawn, rng))


@settings(
    max_examples=3,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(
    st.lists(histories(max_steps=30), min_size=2, max_size=4), st.randoms(), st.sampled_from([2, 3])
)
def test_a_rebuild_split_across_processes_equals_the_incremental_read_model(
    engines, drawn, rng, workers
):
    asyncio.run(_scenario(engines.postgres, drawn, rng, workers))


def _long_history(report_id: uuid.UUID, rng: random.Random, size: int) -> list[Stamped]:  # noqa: PLR0912
    """Two replicas editing one report for `size` events: pages, visuals, moves, fields,
    properties, filters, removals — with occasional exchanges, so edits are concurrent."""
    replicas = [Replica("ana", report_id), Replica("bo", report_id, skew_ms=7)]
    now = 1_000_000
    replicas[0].do(lambda r: r.create(WORKSPACE_ID, "Long", None), now)
    replicas[1].sync(replicas[0].log, now)
    visuals: list[uuid.UUID] = []
    pages: list[uuid.UUID] = []
    while sum(len(r.log) for r in replicas) < size:
        now += rng.choice([0, 1, 5])
        replica = rng.choice(replicas)
        if rng.random() < 0.05:
            replica.sync(rng.choice(replicas).log, now)
            continue
        choice = rng.random()
        try:
            if choice < 0.05 or not pages:
                page = uuid.uuid4()
                replica.do(lambda r, p=page: r.add_page(p, f"Page {len(pages)}"), now)
                pages.append(page)
            elif choice < 0.15 or not visuals:
                visual = uuid.uuid4()
                page = rng.choice(pages)
                replica.do(
                    lambda r, v=visual, p=page: r.add_visual(v, p, "column", x=0, y=0, w=4, h=3),
                    now,
                )
                visuals.append(visual)
            elif choice < 0.5:
                visual = rng.choice(visuals)
                x, y = rng.randint(0, 20), rng.randint(0, 50)
                replica.do(lambda r, v=visual, x=x, y=y: r.move_visual(v, x, y), now)
            elif choice < 0.7:
                visual = rng.choice(visuals)
                text = f"t{rng.randint(0, 99)}"
                replica.do(
                    lambda r, v=visual, t=text: r.set_property(f"visual:{v}", "title.text", t),
                    now,
                )
            elif choice < 0.8:
                visual = rng.choice(visuals)
                field = rng.choice(["region", "year"])
                replica.do(lambda r, v=visual, f=field: r.bind_field(v, "x", f), now)
            elif choice < 0.85:
                replica.do(lambda r: r.rename(f"Long {rng.randint(0, 9)}"), now)
            elif choice < 0.9:
                values = (rng.randint(2020, 2025),)
                replica.do(
                    lambda r, vs=values: r.set_filter("report", "year", InFilter(values=vs)), now
                )
            elif choice < 0.92 and len(visuals) > 3:
                visual = visuals.pop(rng.randrange(len(visuals)))
                replica.do(lambda r, v=visual: r.remove_visual(v), now)
            else:
                visual = rng.choice(visuals)
                w = rng.randint(1, 6)
                replica.do(lambda r, v=visual, w=w: r.resize_visual(v, w, 3), now)
        except DomainError:
            continue  # e.g. the other replica removed it; a client would drop the edit
    seen: dict[uuid.UUID, Stamped] = {}
    for replica in replicas:
        for event, meta in replica.log:
            seen.setdefault(meta.event_id, (event, meta))
    ordered = sorted(seen.values(), key=lambda item: (item[1].hlc, item[1].replica))
    return ordered[:size]


async def test_time_travel_returns_exactly_the_document_at_each_version(engines, db_schema):
    store = await connect_store(engines.postgres, db_schema)
    pool = await asyncpg.create_pool(engines.postgres, min_size=1, max_size=4)
    read_schema = f"{db_schema}_read"
    async with pool.acquire() as conn:
        await migrate(conn, read_schema, "projections", dict(MIGRATIONS)["projections"])
    try:
        report_id = uuid.uuid4()
        rng = random.Random(7)
        events = _long_history(report_id, rng, 2500)
        await _append_all(store, report_id, events, rng)
        projection = ReportReadModel(store, snapshot_every=100)
        runner = ProjectionRunner(projection, store, pool, read_schema)
        stop = asyncio.Event()
        task = asyncio.create_task(runner.run(stop))
        try:
            assert await runner.wait_until(await _last_position(pool, db_schema), 60)
        finally:
            stop.set()
            await task
        recorded = await store.read_stream(report_id)
        for version in sorted(
            {1, 2, 99, 100, 101, 250, 1234, len(recorded), *rng.sample(range(1, len(recorded)), 25)}
        ):
            past = await report_at(pool, store, read_schema, report_id, version=version)
            assert past.version == version
            assert past.report.document() == replay(events[:version], report_id).document(), version
            at = recorded[version - 1].recorded_at
            if version == len(recorded) or recorded[version].recorded_at > at:
                by_time = await report_at(pool, store, read_schema, report_id, at=at)
                assert by_time.version == version
        before = recorded[0].recorded_at.replace(year=2000)
        assert (await report_at(pool, store, read_schema, report_id, at=before)).version == 0
    finally:
        await store.close()
        await pool.close()
