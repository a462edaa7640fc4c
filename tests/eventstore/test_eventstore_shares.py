"""Shares of the log (``EventStore.read_share``): the work of a split rebuild. Every stream of
the split stream types is in exactly one share, always the same; every other event is in
every share; each share is in position order and stops at the position asked for."""

from __future__ import annotations

import random

import pytest
from eventstore_helpers import new_event, new_stream
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from commands.eventstore import EventStore, RecordedEvent, Share


async def _share(
    store: EventStore, share: Share, up_to: int, limit: int, types: list[str] | None = None
) -> list[RecordedEvent]:
    """The whole share, read ``limit`` events at a time."""
    events: list[RecordedEvent] = []
    after = 0
    while batch := await store.read_share(
        after_position=after, up_to_position=up_to, limit=limit, share=share, types=types
    ):
        events += batch
        after = batch[-1].position
    return events


@settings(
    max_examples=5,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(seed=st.integers(0, 2**32))
async def test_shares_deal_every_stream_to_exactly_one_share(store: EventStore, seed: int):
    rng = random.Random(seed)
    streams = [new_stream("report") for _ in range(12)] + [
        new_stream(kind) for kind in ("user", "user", "workspace")
    ]
    versions = dict.fromkeys((s.stream_id for s in streams), 0)
    for _ in range(40):
        stream = rng.choice(streams)
        count = rng.randint(1, 3)
        types = [rng.choice(["VisualMoved", "PropertySet"]) for _ in range(count)]
        await store.append(stream, versions[stream.stream_id], [new_event(t) for t in types])
        versions[stream.stream_id] += count
    everything = await store.read_all(after_position=0, limit=10_000)
    # This store's schema is the test's own: the positions are the log's.
    up_to = rng.choice([everything[-1].position, everything[len(everything) // 2].position])
    expected = [e for e in everything if e.position <= up_to]
    for count in (1, 2, 3, 5):
        shares = [
            await _share(
                store,
                Share(index=i, count=count, stream_types=frozenset({"report"})),
                up_to,
                rng.randint(1, 7),
            )
            for i in range(count)
        ]
        seen: dict[int, int] = {}
        for index, share in enumerate(shares):
            positions = [e.position for e in share]
            assert positions == sorted(positions)
            for event in share:
                if event.stream_type == "report":
                    assert seen.setdefault(event.position, index) == index
            assert [e for e in share if e.stream_type != "report"] == [
                e for e in expected if e.stream_type != "report"
            ]
        owners: dict[object, set[int]] = {}
        for event in expected:
            if event.stream_type == "report":
                owners.setdefault(event.stream_id, set()).add(seen[event.position])
        assert all(len(found) == 1 for found in owners.values())  # a stream stays together
        assert sorted(seen) == [e.position for e in expected if e.stream_type == "report"]
    # The type filter applies to every event of a share.
    only = await _share(
        store,
        Share(index=0, count=1, stream_types=frozenset({"report"})),
        up_to,
        5,
        ["PropertySet"],
    )
    assert only == [e for e in expected if e.type == "PropertySet"]


def test_a_share_outside_its_count_is_refused():
    with pytest.raises(ValueError, match="share 2 of 2 does not exist"):
        Share(index=2, count=2, stream_types=frozenset({"report"}))
