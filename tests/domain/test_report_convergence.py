"""Convergence: the same set of events, applied in any order, gives the same document.

This is the test of both live collaboration and offline sync (DESIGN.md, "Merge semantics").
"""

from __future__ import annotations

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from domain.versions import VersionVector
from tests.domain.report_histories import histories
from tests.domain.report_replicas import Replica, Stamped, replay

EXAMPLES = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@EXAMPLES
@given(histories(), st.data())
def test_any_delivery_order_with_duplicates_gives_the_same_document(
    history: tuple[list[Replica], list[Stamped]], data: st.DataObject
) -> None:
    _, events = history
    expected = replay(events).document()
    for _ in range(3):
        order = data.draw(st.permutations(events))
        duplicates = data.draw(st.lists(st.sampled_from(events), max_size=len(events) // 2 + 1))
        delivery = list(order)
        for duplicate in duplicates:
            delivery.insert(data.draw(st.integers(0, len(delivery))), duplicate)
        assert replay(delivery).document() == expected


@EXAMPLES
@given(histories())
def test_replicas_agree_once_each_has_every_event(
    history: tuple[list[Replica], list[Stamped]],
) -> None:
    replicas, events = history
    for replica in replicas:
        replica.sync(events)
    documents = [replica.document() for replica in replicas]
    assert all(document == documents[0] for document in documents)
    assert documents[0] == replay(events).document()


@EXAMPLES
@given(histories(), st.data())
def test_merging_partial_replays_is_associative(
    history: tuple[list[Replica], list[Stamped]], data: st.DataObject
) -> None:
    # Deliver the events to three peers in overlapping slices, then let them swap everything
    # they hold in different groupings: (a + b) + c and a + (b + c) meet in the same place.
    _, events = history
    slices = [data.draw(st.lists(st.sampled_from(events), max_size=len(events))) for _ in "abc"]
    a, b, c = slices
    left = replay(a + b)
    for event, meta in c:
        left.apply(event, meta)
    right = replay(b + c)
    for event, meta in a:
        right.apply(event, meta)
    if any(type(e).__name__ == "ReportCreated" for e, _ in a + b + c):
        assert left.document() == right.document()
    assert left.version_vector == right.version_vector
    assert left.max_hlc == right.max_hlc


@EXAMPLES
@given(histories())
def test_the_version_vector_counts_each_replicas_events(
    history: tuple[list[Replica], list[Stamped]],
) -> None:
    replicas, events = history
    report = replay(events)
    assert report.version_vector == VersionVector(
        {replica.name: replica.counter for replica in replicas}
    )
    assert report.max_hlc == max(meta.hlc for _, meta in events)
