"""Appending: metadata round trip, optimistic concurrency, idempotency, contiguous batches."""

from __future__ import annotations

import asyncio
import uuid

import asyncpg
import pytest
from eventstore_helpers import new_event, new_stream
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from commands.eventstore import (
    DuplicateEventIdError,
    EventStore,
    NewEvent,
    NotFirstWriteError,
    RecordedEvent,
    WrongExpectedVersion,
)
from commands.eventstore.sql import Statements, append_args


async def test_round_trip_keeps_every_field(store: EventStore) -> None:
    stream = new_stream(workspace_id=uuid.uuid4())
    actor, correlation, command = uuid.uuid4(), uuid.uuid4(), uuid.uuid4()
    events = [
        NewEvent(
            event_id=uuid.uuid4(),
            type="VisualMoved",
            data=b'{"x": 1}',
            actor=actor,
            client_id="replica-a",
            dot_counter=7,
            hlc=(1_700_000_000_000 << 16) | 3,
            correlation_id=correlation,
        ),
        new_event("VisualResized", b'{"w": 2}'),
    ]

    result = await store.append(stream, 0, events, command_id=command)

    assert result.version == 2
    assert not result.duplicate
    assert [e.version for e in result.events] == [1, 2]
    first = result.events[0]
    assert first.stream_id == stream.stream_id
    assert first.stream_type == "report"
    assert first.workspace_id == stream.workspace_id
    assert (first.event_id, first.type, first.data) == (
        events[0].event_id,
        "VisualMoved",
        b'{"x": 1}',
    )
    assert (first.actor, first.client_id, first.dot_counter) == (actor, "replica-a", 7)
    assert first.hlc == events[0].hlc
    assert first.correlation_id == correlation
    assert first.command_id == command
    assert first.recorded_at.tzinfo is not None
    second = result.events[1]
    assert (second.actor, second.client_id, second.dot_counter, second.hlc) == (
        None,
        None,
        None,
        None,
    )
    assert second.position == first.position + 1

    # What the readers get back is exactly what the append reported.
    assert await store.read_stream(stream.stream_id) == result.events
    assert await store.read_all() == result.events
    assert await store.stream_version(stream.stream_id) == 2
    assert await store.head_position() == second.position


async def test_empty_stream_has_version_zero(store: EventStore) -> None:
    assert await store.stream_version(uuid.uuid4()) == 0
    assert await store.read_stream(uuid.uuid4()) == []
    assert await store.head_position() == 0
    assert await store.read_all() == []


async def test_wrong_expected_version_reports_actual_and_writes_nothing(store: EventStore) -> None:
    stream = new_stream()
    await store.append(stream, 0, [new_event()])
    head = await store.head_position()

    for expected in (0, 5):
        with pytest.raises(WrongExpectedVersion) as caught:
            await store.append(stream, expected, [new_event(), new_event()])
        assert caught.value.stream_id == stream.stream_id
        assert caught.value.expected == expected
        assert caught.value.actual == 1

    assert len(await store.read_stream(stream.stream_id)) == 1
    assert await store.head_position() == head
    # The rejection was decided before positions were reserved: no gap was left.
    nxt = await store.append(new_stream(), 0, [new_event()])
    assert nxt.events[0].position == head + 1


async def test_empty_append_checks_the_version(store: EventStore) -> None:
    stream = new_stream()
    await store.append(stream, 0, [new_event()])
    result = await store.append(stream, 1, [])
    assert (result.version, result.events, result.duplicate) == (1, [], False)
    with pytest.raises(WrongExpectedVersion):
        await store.append(stream, 0, [])


async def test_concurrent_appends_to_one_stream_one_winner_per_version(store: EventStore) -> None:
    stream = new_stream()
    contenders = 8
    for version in range(4):
        outcomes = await asyncio.gather(
            *(
                store.append(stream, version, [new_event(data=b'{"n": %d}' % i)])
                for i in range(contenders)
            ),
            return_exceptions=True,
        )
        winners = [o for o in outcomes if not isinstance(o, BaseException)]
        losers = [o for o in outcomes if isinstance(o, BaseException)]
        assert len(winners) == 1
        assert len(losers) == contenders - 1
        assert all(isinstance(o, WrongExpectedVersion) and o.actual == version + 1 for o in losers)
        assert winners[0].version == version + 1

    stored = await store.read_stream(stream.stream_id)
    assert [e.version for e in stored] == [1, 2, 3, 4]


async def test_repeated_command_returns_first_result(store: EventStore) -> None:
    stream = new_stream()
    command = uuid.uuid4()
    first = await store.append(stream, 0, [new_event(), new_event()], command_id=command)

    # A retry, even one built against a now-stale version, gets the first answer back.
    again = await store.append(stream, 0, [new_event(), new_event()], command_id=command)
    later = await store.append(stream, 2, [new_event()], command_id=command)

    for retry in (again, later):
        assert retry.duplicate
        assert retry.version == first.version == 2
        assert retry.events == first.events
    assert len(await store.read_stream(stream.stream_id)) == 2


async def test_command_that_appended_nothing_is_remembered(store: EventStore) -> None:
    stream = new_stream()
    command = uuid.uuid4()
    first = await store.append(stream, 0, [], command_id=command)
    await store.append(stream, 0, [new_event()])
    again = await store.append(stream, 1, [new_event()], command_id=command)
    assert not first.duplicate
    assert again.duplicate
    assert (again.version, again.events) == (0, [])
    assert await store.stream_version(stream.stream_id) == 1


async def test_racing_duplicates_store_one_copy(store: EventStore) -> None:
    stream = new_stream()
    command = uuid.uuid4()
    events = [new_event(), new_event()]

    results = await asyncio.gather(
        *(store.append(stream, 0, events, command_id=command) for _ in range(8))
    )

    originals = [r for r in results if not r.duplicate]
    assert len(originals) == 1
    assert all(r.events == originals[0].events and r.version == 2 for r in results)
    assert await store.read_stream(stream.stream_id) == originals[0].events


async def test_reused_event_id_is_rejected(store: EventStore) -> None:
    event = new_event()
    await store.append(new_stream(), 0, [event])
    with pytest.raises(DuplicateEventIdError):
        await store.append(new_stream(), 0, [event])


async def test_append_must_be_first_write_of_its_transaction(
    store: EventStore, raw_conn: asyncpg.Connection, db_schema: str
) -> None:
    sql = Statements.for_schema(db_schema).append
    async with raw_conn.transaction():
        await raw_conn.execute("SELECT pg_current_xact_id()")  # the xid now exists
        with pytest.raises(asyncpg.PostgresError) as caught:
            await raw_conn.fetchrow(sql, *append_args(new_stream(), 0, [new_event()], None))
    assert caught.value.sqlstate == "LP003"
    assert NotFirstWriteError.__doc__  # the Python side maps LP003 to this


async def test_batch_positions_are_contiguous_under_concurrency(store: EventStore) -> None:
    async def writer() -> list[list[int]]:
        batches = []
        for _ in range(10):
            result = await store.append(new_stream(), 0, [new_event() for _ in range(25)])
            batches.append([e.position for e in result.events])
        return batches

    all_batches = [b for bs in await asyncio.gather(*(writer() for _ in range(4))) for b in bs]
    for positions in all_batches:
        assert positions == list(range(positions[0], positions[0] + 25))
    # And what readers see agrees: each batch is one unbroken run of positions.
    stored = await store.read_all(limit=10_000)
    by_stream: dict[uuid.UUID, list[int]] = {}
    for event in stored:
        by_stream.setdefault(event.stream_id, []).append(event.position)
    for positions in by_stream.values():
        assert positions == list(range(positions[0], positions[0] + 25))


async def test_read_stream_ranges(store: EventStore) -> None:
    stream = new_stream()
    await store.append(stream, 0, [new_event() for _ in range(6)])

    async def versions(**kwargs: object) -> list[int]:
        return [e.version for e in await store.read_stream(stream.stream_id, **kwargs)]  # type: ignore[arg-type]

    assert await versions() == [1, 2, 3, 4, 5, 6]
    assert await versions(after_version=2) == [3, 4, 5, 6]
    assert await versions(after_version=2, up_to_version=4) == [3, 4]
    assert await versions(limit=2) == [1, 2]
    assert await versions(descending=True, limit=2) == [6, 5]


async def test_read_all_filters_and_pages(store: EventStore) -> None:
    reports, datasets = new_stream("report"), new_stream("dataset")
    await store.append(reports, 0, [new_event() for _ in range(3)])
    await store.append(datasets, 0, [new_event() for _ in range(2)])
    await store.append(reports, 3, [new_event()])

    everything = await store.read_all()
    assert [e.position for e in everything] == [1, 2, 3, 4, 5, 6]
    assert [e.position for e in await store.read_all(after_position=2, limit=2)] == [3, 4]
    only_datasets = await store.read_all(stream_types={"dataset"})
    assert [e.position for e in only_datasets] == [4, 5]
    assert await store.read_all(stream_types=["nothing"]) == []
    assert await store.head_position(stream_types=["dataset"]) == 5
    assert await store.read_all(limit=0) == []


@settings(
    max_examples=15,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
@given(shapes=st.lists(st.tuples(st.integers(0, 2), st.integers(0, 7)), min_size=1, max_size=12))
async def test_random_batch_shapes(store: EventStore, shapes: list[tuple[int, int]]) -> None:
    """Any sequence of batches over a few streams: versions count up per stream, positions
    are contiguous per batch and increase across batches, and the log reads back whole."""
    streams = [new_stream() for _ in range(3)]
    versions = [0, 0, 0]
    start = await store.head_position()
    appended: list[RecordedEvent] = []
    for index, size in shapes:
        result = await store.append(
            streams[index], versions[index], [new_event() for _ in range(size)]
        )
        assert [e.version for e in result.events] == list(
            range(versions[index] + 1, versions[index] + size + 1)
        )
        versions[index] += size
        assert result.version == versions[index]
        if result.events:
            first = result.events[0].position
            assert [e.position for e in result.events] == list(range(first, first + size))
            assert not appended or first > appended[-1].position
        appended.extend(result.events)

    assert await store.read_all(after_position=start, limit=10_000) == appended
    for stream, version in zip(streams, versions, strict=True):
        assert await store.stream_version(stream.stream_id) == version
        assert [e.version for e in await store.read_stream(stream.stream_id)] == list(
            range(1, version + 1)
        )
