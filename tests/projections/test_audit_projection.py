"""The audit log has one row per event, describing it against the state just before it and
naming actors as known at the time; rebuilt from scratch it equals the incrementally built one."""

from __future__ import annotations

import asyncio
import random
import uuid
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

import asyncpg
import msgspec
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from api.bootstrap import MIGRATIONS
from commands.envelope import metadata_of, new_event
from commands.eventstore import (
    EventStore,
    NewEvent,
    RecordedEvent,
    StreamRef,
    connect_store,
    migrate,
)
from domain.clock import Hlc
from domain.metadata import EventMetadata
from domain.report.aggregate import Report
from domain.report.audit import describe
from domain.report.events import decode as decode_report_event
from domain.report.events import encode as encode_report_event
from domain.subscription.aggregate import Subscription
from domain.subscription.audit import describe_subscription_event
from domain.subscription.events import (
    DeliveryFailed,
    DeliverySucceeded,
    SubscriptionCreated,
    SubscriptionEvent,
    SubscriptionPaused,
    SubscriptionScheduleChanged,
)
from domain.subscription.events import decode as decode_subscription_event
from domain.subscription.events import encode as encode_subscription_event
from domain.user.events import UserRegistered
from domain.user.events import encode as encode_user_event
from domain.versions import Dot
from domain.workspace.aggregate import Workspace
from domain.workspace.audit import describe_workspace_event
from domain.workspace.events import (
    MemberRemoved,
    MemberRoleSet,
    WorkspaceCreated,
    WorkspaceEvent,
    WorkspaceRenamed,
)
from domain.workspace.events import decode as decode_workspace_event
from domain.workspace.events import encode as encode_workspace_event
from projections.audit import AUDIT, AuditLog
from projections.projection import tables_for
from projections.rebuild import rebuild
from projections.rebuild_split import Workers
from projections.reports import ReportReadModel
from projections.runner import ProjectionRunner
from tests.domain.report_histories import histories
from tests.domain.report_replicas import WORKSPACE_ID, Stamped
from tests.projections.schemas import drop, for_report, prepare

ANA, BO, CY, DEE = (uuid.UUID(int=0xA0 + n) for n in range(4))
NAMES = {ANA: "Ana", BO: "Bo", CY: "Cy"}  # Dee never registers
SUBSCRIPTION_ID = uuid.UUID(int=0x5B)
#: A Monday, 08:00 in Berlin.
MONDAY = datetime(2026, 12, 7, 7, 0, tzinfo=UTC)


def _meta(actor: uuid.UUID | None, counter: int) -> EventMetadata:
    return EventMetadata(
        event_id=uuid.uuid4(),
        replica="server",
        dot=Dot("server", counter),
        hlc=Hlc(0, 0),
        actor=actor,
    )


async def _append_one(
    store: EventStore, stream: StreamRef, event_type: str, data: bytes, actor: uuid.UUID | None
) -> RecordedEvent:
    version = await store.stream_version(stream.stream_id)
    result = await store.append(
        stream, version, [new_event(event_type, data, _meta(actor, version + 1))]
    )
    return result.events[-1]


async def _register(store: EventStore, user: uuid.UUID) -> None:
    payload = UserRegistered(user_id=user, name=NAMES[user], email=f"{NAMES[user].lower()}@x.io")
    await _append_one(
        store,
        StreamRef(stream_id=user, stream_type="user"),
        "UserRegistered",
        encode_user_event(payload),
        user,
    )


async def _workspace_event(store: EventStore, event: WorkspaceEvent, actor: uuid.UUID) -> None:
    stream = StreamRef(stream_id=WORKSPACE_ID, stream_type="workspace", workspace_id=WORKSPACE_ID)
    await _append_one(
        store, stream, str(event.__struct_config__.tag), encode_workspace_event(event), actor
    )


async def _subscription_event(
    store: EventStore, event: SubscriptionEvent, actor: uuid.UUID | None
) -> None:
    """Deliveries are recorded by the scheduler: no actor."""
    stream = StreamRef(
        stream_id=SUBSCRIPTION_ID, stream_type="subscription", workspace_id=WORKSPACE_ID
    )
    await _append_one(
        store, stream, str(event.__struct_config__.tag), encode_subscription_event(event), actor
    )


def _subscribed(recipients: tuple[str, ...] = ("ana@x.io", "bo@x.io")) -> SubscriptionCreated:
    return SubscriptionCreated(
        subscription_id=SUBSCRIPTION_ID,
        report_id=uuid.uuid4(),
        workspace_id=WORKSPACE_ID,
        owner=ANA,
        cron="0 8 * * 1",
        timezone="Europe/Berlin",
        format="pdf",
        recipients=recipients,
        subject="Weather",
        at=datetime(2026, 12, 1, tzinfo=UTC),
    )


def _delivered(scheduled_for: datetime) -> DeliverySucceeded:
    return DeliverySucceeded(
        scheduled_for=scheduled_for,
        sent_at=scheduled_for,
        recipients=("ana@x.io", "bo@x.io"),
        report_version=12,
        message_id=f"<{scheduled_for:%Y%m%d}@loupe>",
    )


async def _generic_event(store: EventStore, actor: uuid.UUID | None) -> None:
    stream = StreamRef(stream_id=uuid.uuid4(), stream_type="dataset", workspace_id=WORKSPACE_ID)
    data = msgspec.json.encode({"type": "DatasetUploaded", "file": "sales.csv", "rows": 12})
    await store.append(
        stream, 0, [NewEvent(event_id=uuid.uuid4(), type="DatasetUploaded", data=data, actor=actor)]
    )


async def _append_report(
    store: EventStore,
    report_id: uuid.UUID,
    events: Sequence[Stamped],
    rng: random.Random,
    actors: list[uuid.UUID | None],
) -> None:
    stream = StreamRef(stream_id=report_id, stream_type="report", workspace_id=WORKSPACE_ID)
    version = await store.stream_version(report_id)
    index = 0
    while index < len(events):
        chunk = events[index : index + rng.randint(1, 4)]
        actor = rng.choice(actors)
        await store.append(
            stream,
            version,
            [
                new_event(
                    str(event.__struct_config__.tag),
                    encode_report_event(event),
                    msgspec.structs.replace(meta, actor=actor),
                )
                for event, meta in chunk
            ],
        )
        version += len(chunk)
        index += len(chunk)


async def _all_events(store: EventStore) -> list[RecordedEvent]:
    events: list[RecordedEvent] = []
    while batch := await store.read_all(after_position=events[-1].position if events else 0):
        events += batch
    return events


def _expected(events: list[RecordedEvent]) -> list[tuple[Any, ...]]:
    """The audit rows folded the simplest way: every state in memory, from the first event."""
    reports: dict[uuid.UUID, Report] = {}
    workspaces: dict[uuid.UUID, Workspace] = {}
    subscriptions: dict[uuid.UUID, Subscription] = {}
    names: dict[uuid.UUID, str] = {}
    rows = []
    for event in events:
        if event.type == "UserRegistered":
            names[event.stream_id] = NAMES[event.stream_id]
        who = (
            None if event.actor is None else names.get(event.actor, f"user {str(event.actor)[:8]}")
        )
        if event.stream_type == "report":
            report = reports.setdefault(event.stream_id, Report(event.stream_id))
            payload = decode_report_event(event.data)
            described = describe(payload, report, who or "")
            report.apply(payload, metadata_of(event))
            kind, object_id, summary, change = (
                described.object_type,
                described.object_id,
                described.summary,
                described.change,
            )
        elif event.stream_type == "workspace":
            workspace = workspaces.setdefault(event.stream_id, Workspace(event.stream_id))
            payload_ws = decode_workspace_event(event.data)
            described = describe_workspace_event(payload_ws, workspace, who or "", user_names=names)
            workspace.apply(payload_ws)
            kind, object_id, summary, change = (
                described.object_type,
                described.object_id,
                described.summary,
                described.change,
            )
        elif event.stream_type == "subscription":
            subscription = subscriptions.setdefault(event.stream_id, Subscription(event.stream_id))
            payload_sub = decode_subscription_event(event.data)
            described = describe_subscription_event(payload_sub, subscription, who or "")
            subscription.apply(payload_sub, event.version)
            kind, object_id, summary, change = (
                described.object_type,
                described.object_id,
                described.summary,
                described.change,
            )
        elif event.stream_type == "user":
            kind, object_id, summary = "user", str(event.stream_id), f"{who} joined Loupe"
            change = {"name": {"after": who}, "email": {"after": f"{who.lower()}@x.io"}}
        else:
            kind, object_id = "dataset", str(event.stream_id)
            summary = (
                f"{who or 'Someone'} recorded a dataset event: DatasetUploaded "
                f"(dataset {str(event.stream_id)[:8]})"
            )
            change = {"file": {"after": "sales.csv"}, "rows": {"after": 12}}
        rows.append(
            (
                event.position,
                event.recorded_at,
                event.workspace_id,
                event.actor,
                who,
                event.stream_type,
                event.stream_id,
                event.version,
                event.type,
                kind,
                object_id,
                summary,
                change,
            )
        )
    return rows


async def _rows(pool: asyncpg.Pool, read_schema: str) -> list[tuple[Any, ...]]:
    table = tables_for(read_schema, AuditLog.tables)[AUDIT]
    rows = await pool.fetch(
        f"""SELECT position, recorded_at, workspace_id, actor, actor_name, stream_type,
                   stream_id, version, event_type, object_type, object_id, summary, change
            FROM {table} ORDER BY position"""
    )
    return [(*row[:12], msgspec.json.decode(row["change"])) for row in rows]


async def _run_until_head(runners: list[ProjectionRunner], store: EventStore, work) -> None:
    stop = asyncio.Event()
    tasks = [asyncio.create_task(runner.run(stop)) for runner in runners]
    try:
        await work
        # The last appended position: the safe head may lag it while a projection's write
        # transaction (older than the last append) is still open.
        head = await store._pool.fetchval(f"SELECT max(position) FROM {store.schema}.events")
        for runner in runners:
            assert await runner.wait_until(head, 60), runner.name
    finally:
        stop.set()
        await asyncio.gather(*tasks)


async def _scenario(
    database_url: str, drawn: list, rng: random.Random, workers: int | None = None
) -> None:
    schema, store, pool = await prepare(database_url, 6)
    read_schema = f"{schema}_read"
    try:
        reports = {}
        for _, events in drawn:
            order = list(events[:1]) + rng.sample(events[1:], len(events) - 1)
            reports[uuid.uuid4()] = for_report(order, uuid.uuid4())
        reports = {
            report_id: for_report(events, report_id) for report_id, events in reports.items()
        }
        actors: list[uuid.UUID | None] = [ANA, BO, CY, DEE, None]

        async def write() -> None:
            await _register(store, ANA)
            await _workspace_event(
                store, WorkspaceCreated(workspace_id=WORKSPACE_ID, name="Sales", owner=ANA), ANA
            )
            await _workspace_event(store, MemberRoleSet(user_id=BO, role="editor"), ANA)
            await _workspace_event(store, MemberRoleSet(user_id=DEE, role="viewer"), ANA)
            await _subscription_event(store, _subscribed(), ANA)
            for report_id, events in reports.items():
                await _append_report(store, report_id, events[: len(events) // 2], rng, actors)
            await _register(store, BO)  # Bo acted unnamed before, named from here on
            await _generic_event(store, rng.choice(actors))
            await _workspace_event(store, MemberRoleSet(user_id=BO, role="owner"), BO)
            await _workspace_event(store, WorkspaceRenamed(name="Sales EMEA"), BO)
            await _subscription_event(store, _delivered(MONDAY), None)
            await _subscription_event(
                store,
                SubscriptionScheduleChanged(cron="0 9 * * *", timezone="UTC", at=MONDAY),
                BO,
            )
            for report_id, events in reports.items():
                await _append_report(store, report_id, events[len(events) // 2 :], rng, actors)
            await _register(store, CY)
            await _workspace_event(store, MemberRemoved(user_id=DEE), CY)
            await _subscription_event(store, SubscriptionPaused(), CY)
            await _generic_event(store, None)

        # Tiny caches and COPY chunks: cold loads (which need the connection) interleave with
        # COPYs in flight.
        audit = AuditLog(
            store,
            cache_size=1,
            copy_from=rng.choice([1, 3, 1000]),
            copy_chunk=rng.choice([1, 2, 5]),
        )
        runners = [
            ProjectionRunner(
                ReportReadModel(store, snapshot_every=rng.choice([2, 3, 7])),
                store,
                pool,
                read_schema,
                batch_size=rng.randint(1, 9),
            ),
            ProjectionRunner(audit, store, pool, read_schema, batch_size=rng.randint(1, 9)),
        ]
        if rng.random() < 0.5:
            runners.reverse()
        await _run_until_head(runners, store, write())
        expected = _expected(await _all_events(store))
        incremental = await _rows(pool, read_schema)
        assert incremental == expected

        await rebuild(
            AuditLog(
                store, bulk_cache_size=rng.choice([1, 100]), copy_chunk=rng.choice([1, 3, 1000])
            ),
            store,
            pool,
            read_schema,
            batch_size=rng.randint(1, 13),
        )
        assert await _rows(pool, read_schema) == incremental
        if workers is not None:
            # Split across processes: each folds its reports (and learns every name), one
            # writes the rows of the other events.
            result = await rebuild(
                AuditLog(store),
                store,
                pool,
                read_schema,
                batch_size=rng.randint(1, 13),
                workers=Workers(database_url, workers),
            )
            assert result.position == (await _all_events(store))[-1].position
            assert await _rows(pool, read_schema) == incremental
    finally:
        await drop(database_url, schema, store, pool)


@settings(
    max_examples=12,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(st.lists(histories(max_steps=30), min_size=1, max_size=3), st.integers(0, 2**32))
def test_every_event_once_described_as_it_happened_and_a_rebuild_equals_it(engines, drawn, seed):
    # A plain Random from a drawn seed: its draws happen while projections run concurrently.
    asyncio.run(_scenario(engines.postgres, drawn, random.Random(seed)))


@settings(
    max_examples=3,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(
    st.lists(histories(max_steps=30), min_size=2, max_size=4),
    st.integers(0, 2**32),
    st.sampled_from([2, 3]),
)
def test_a_rebuild_split_across_processes_equals_the_incremental_log(engines, drawn, seed, workers):
    asyncio.run(_scenario(engines.postgres, drawn, random.Random(seed), workers))


async def test_names_survive_a_restart_and_unknown_actors_show_their_id(engines, db_schema):
    store = await connect_store(engines.postgres, db_schema)
    pool = await asyncpg.create_pool(engines.postgres, min_size=1, max_size=4)
    read_schema = f"{db_schema}_read"
    async with pool.acquire() as conn:
        await migrate(conn, read_schema, "projections", dict(MIGRATIONS)["projections"])
    try:
        await _register(store, ANA)
        await _workspace_event(
            store, WorkspaceCreated(workspace_id=WORKSPACE_ID, name="Sales", owner=ANA), ANA
        )
        await _workspace_event(store, MemberRoleSet(user_id=BO, role="editor"), ANA)
        await _run_until_head(
            [ProjectionRunner(AuditLog(store), store, pool, read_schema)], store, asyncio.sleep(0)
        )
        # A new process (fresh in-memory state) names Ana from the table.
        await _register(store, BO)
        await _workspace_event(store, WorkspaceRenamed(name="Sales EMEA"), BO)
        await _workspace_event(store, MemberRoleSet(user_id=DEE, role="viewer"), DEE)
        await _run_until_head(
            [ProjectionRunner(AuditLog(store), store, pool, read_schema)], store, asyncio.sleep(0)
        )
        rows = await _rows(pool, read_schema)
        summaries = [row[11] for row in rows]
        assert summaries == [
            "Ana joined Loupe",
            "Ana created the workspace 'Sales'",
            f"Ana added user {str(BO)[:8]} to the workspace as an editor",
            "Bo joined Loupe",
            "Bo renamed the workspace from 'Sales' to 'Sales EMEA'",
            f"user {str(DEE)[:8]} added user {str(DEE)[:8]} to the workspace as a viewer",
        ]
        assert [row[4] for row in rows] == ["Ana", "Ana", "Ana", "Bo", "Bo", f"user {str(DEE)[:8]}"]
        await rebuild(AuditLog(store), store, pool, read_schema)
        assert await _rows(pool, read_schema) == rows
    finally:
        await store.close()
        await pool.close()


async def test_subscription_events_read_as_they_happened_also_after_a_restart(engines, db_schema):
    store = await connect_store(engines.postgres, db_schema)
    pool = await asyncpg.create_pool(engines.postgres, min_size=1, max_size=4)
    read_schema = f"{db_schema}_read"
    async with pool.acquire() as conn:
        await migrate(conn, read_schema, "projections", dict(MIGRATIONS)["projections"])
    try:
        await _register(store, ANA)
        await _subscription_event(store, _subscribed(), ANA)
        await _subscription_event(store, _delivered(MONDAY), None)
        await _run_until_head(
            [ProjectionRunner(AuditLog(store), store, pool, read_schema)], store, asyncio.sleep(0)
        )
        # A new process: the subscription as it was is folded from its stream.
        await _subscription_event(
            store,
            SubscriptionScheduleChanged(cron="0 9 * * *", timezone="Europe/Berlin", at=MONDAY),
            ANA,
        )
        await _subscription_event(
            store,
            DeliveryFailed(
                scheduled_for=MONDAY.replace(day=8, hour=8),
                failed_at=MONDAY.replace(day=8, hour=8),
                error="421 busy",
                attempts=3,
            ),
            None,
        )
        await _subscription_event(store, SubscriptionPaused(), ANA)
        await _run_until_head(
            [ProjectionRunner(AuditLog(store), store, pool, read_schema)], store, asyncio.sleep(0)
        )
        rows = await _rows(pool, read_schema)
        subscription_rows = [row for row in rows if row[5] == "subscription"]
        assert [row[11] for row in subscription_rows] == [
            "Ana subscribed 2 people to 'Weather' at 08:00 on Monday (Europe/Berlin) as PDF",
            "Loupe sent 'Weather' v12 to 2 people (scheduled for 2026-12-07 08:00 Europe/Berlin)",
            (
                "Ana changed the schedule of the subscription to 'Weather' from "
                "'at 08:00 on Monday' to 'at 09:00 every day' (Europe/Berlin)"
            ),
            (
                "Sending 'Weather' failed: 421 busy "
                "(scheduled for 2026-12-08 09:00 Europe/Berlin; after 3 attempts)"
            ),
            "Ana paused the subscription to 'Weather'",
        ]
        assert {(row[9], row[10]) for row in subscription_rows} == {
            ("subscription", str(SUBSCRIPTION_ID))
        }
        # Deliveries have no actor.
        assert [row[3] for row in subscription_rows] == [ANA, None, ANA, None, ANA]
        assert subscription_rows[2][12]["cron"] == {"before": "0 8 * * 1", "after": "0 9 * * *"}
        assert subscription_rows[3][12]["outcome"] == {"before": "succeeded", "after": "failed"}
        await rebuild(AuditLog(store), store, pool, read_schema)
        assert await _rows(pool, read_schema) == rows
    finally:
        await store.close()
        await pool.close()


class _Failing(AuditLog):
    """Fails once, in the middle of a batch, while a COPY of the batch's first rows runs."""

    def __init__(self, store: EventStore, fail_at: int) -> None:
        super().__init__(store, copy_from=1, copy_chunk=1)
        self.fail_at = fail_at
        self.seen = 0

    async def _row(self, *args: Any) -> Any:
        self.seen += 1
        if self.seen == self.fail_at:
            raise RuntimeError("crash in the middle of a batch")
        return await super()._row(*args)


async def test_a_batch_that_fails_with_a_copy_in_flight_leaves_nothing_behind(engines, db_schema):
    store = await connect_store(engines.postgres, db_schema)
    pool = await asyncpg.create_pool(engines.postgres, min_size=1, max_size=4)
    read_schema = f"{db_schema}_read"
    async with pool.acquire() as conn:
        await migrate(conn, read_schema, "projections", dict(MIGRATIONS)["projections"])
    try:
        await _register(store, ANA)
        await _workspace_event(
            store, WorkspaceCreated(workspace_id=WORKSPACE_ID, name="Sales", owner=ANA), ANA
        )
        for name in ("A", "B", "C", "D", "E"):
            await _workspace_event(store, WorkspaceRenamed(name=name), ANA)
        failing = ProjectionRunner(_Failing(store, fail_at=4), store, pool, read_schema)
        stop = asyncio.Event()
        try:
            await asyncio.wait_for(failing._follow(stop), 10)
        except RuntimeError:
            pass
        else:
            raise AssertionError("the batch should have failed")
        assert await _rows(pool, read_schema) == []
        await _run_until_head(
            [
                ProjectionRunner(
                    AuditLog(store, copy_from=1, copy_chunk=2), store, pool, read_schema
                )
            ],
            store,
            asyncio.sleep(0),
        )
        assert await _rows(pool, read_schema) == _expected(await _all_events(store))
    finally:
        await store.close()
        await pool.close()
