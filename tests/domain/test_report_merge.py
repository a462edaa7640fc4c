"""Merging concurrent edits: scenarios named after what users see.

Two replicas start from the same report, edit concurrently (neither sees the other's events),
then exchange events. Both must end with the same document, whichever order events arrive.
"""

from __future__ import annotations

import itertools
from typing import Any
from uuid import UUID

import msgspec
import pytest

from domain.errors import TargetDeleted
from domain.report.events import ReportRenamed
from domain.report.filters import InFilter
from domain.versions import Dot
from tests.domain.report_replicas import WORKSPACE_ID, Replica, Stamped, replay

PAGE = UUID("11111111-1111-4111-8111-111111111111")
VISUAL = UUID("33333333-3333-4333-8333-333333333333")


@pytest.fixture
def pair() -> tuple[Replica, Replica]:
    """Two replicas of a report with one page holding one column chart."""
    alice = Replica("alice")
    alice.do(lambda r: r.create(WORKSPACE_ID, "Sales", None), now_ms=1_000)
    alice.do(lambda r: r.add_page(PAGE, "Overview"), now_ms=1_000)
    alice.do(lambda r: r.add_visual(VISUAL, PAGE, "column", x=0, y=0, w=12, h=6), now_ms=1_000)
    bob = Replica("bob")
    bob.sync(alice.log)
    return alice, bob


def exchange(*replicas: Replica) -> dict[str, Any]:
    """Every replica receives every event; all must agree. Returns the common document."""
    everything = [stamped for replica in replicas for stamped in replica.log]
    for replica in replicas:
        replica.sync(everything)
    documents = [replica.document() for replica in replicas]
    for document in documents[1:]:
        assert document == documents[0]
    for order in itertools.islice(itertools.permutations(everything), 50):
        assert replay(list(order)).document() == documents[0]
    assert replay(everything[::-1]).document() == documents[0]
    return documents[0]


def the_visual(document: dict[str, Any]) -> dict[str, Any] | None:
    for page in document["pages"]:
        for visual in page["visuals"]:
            if visual["id"] == str(VISUAL):
                return visual  # type: ignore[no-any-return]
    return None


def test_concurrent_moves_converge_on_the_later_one(pair: tuple[Replica, Replica]) -> None:
    alice, bob = pair
    alice.do(lambda r: r.move_visual(VISUAL, 2, 2), now_ms=2_000)
    bob.do(lambda r: r.move_visual(VISUAL, 8, 8), now_ms=3_000)
    visual = the_visual(exchange(alice, bob))
    assert visual is not None
    assert visual["layout"] == {"x": 8, "y": 8, "w": 12, "h": 6}


def test_equal_clocks_are_broken_by_replica_id(pair: tuple[Replica, Replica]) -> None:
    alice, bob = pair
    alice.do(lambda r: r.rename("From Alice"), now_ms=5_000)
    bob.do(lambda r: r.rename("From Bob"), now_ms=5_000)
    assert alice.log[-1][1].hlc == bob.log[-1][1].hlc
    assert exchange(alice, bob)["name"] == "From Bob"  # "bob" > "alice"


def test_concurrent_move_and_resize_both_survive(pair: tuple[Replica, Replica]) -> None:
    alice, bob = pair
    alice.do(lambda r: r.move_visual(VISUAL, 4, 10), now_ms=2_000)
    bob.do(lambda r: r.resize_visual(VISUAL, 8, 3), now_ms=2_000)
    visual = the_visual(exchange(alice, bob))
    assert visual is not None
    assert visual["layout"] == {"x": 4, "y": 10, "w": 8, "h": 3}


def test_a_move_and_a_resize_that_overflow_together_are_pushed_back_on_the_grid(
    pair: tuple[Replica, Replica],
) -> None:
    alice, bob = pair
    alice.do(lambda r: r.move_visual(VISUAL, 12, 0), now_ms=2_000)  # 12 + 12 = 24: fits
    bob.do(lambda r: r.resize_visual(VISUAL, 20, 6), now_ms=2_000)  # 0 + 20: fits
    visual = the_visual(exchange(alice, bob))
    assert visual is not None
    assert visual["layout"] == {"x": 4, "y": 0, "w": 20, "h": 6}  # size wins, x moves left


def test_delete_wins_over_concurrent_move(pair: tuple[Replica, Replica]) -> None:
    alice, bob = pair
    alice.do(lambda r: r.remove_visual(VISUAL), now_ms=2_000)
    bob.do(lambda r: r.move_visual(VISUAL, 8, 8), now_ms=9_000)  # later, but concurrent
    bob.do(lambda r: r.bind_field(VISUAL, "x", "region"), now_ms=9_001)
    bob.do(lambda r: r.set_property(f"visual:{VISUAL}", "title.text", "t"), now_ms=9_002)
    assert the_visual(exchange(alice, bob)) is None


def test_the_loser_of_a_delete_is_told_why(pair: tuple[Replica, Replica]) -> None:
    alice, bob = pair
    alice.do(lambda r: r.remove_visual(VISUAL), now_ms=2_000)
    moved = bob.do(lambda r: r.move_visual(VISUAL, 8, 8), now_ms=9_000)
    assert bob.report.lost_to_delete(moved) is None  # bob has not seen the removal yet
    alice.sync(bob.log)
    lost = alice.report.lost_to_delete(moved)
    assert isinstance(lost, TargetDeleted)
    assert lost.detail == f"visual {VISUAL} was removed"
    with pytest.raises(TargetDeleted):
        alice.report.move_visual(VISUAL, 1, 1)


def test_removing_a_page_wins_over_a_visual_added_to_it_concurrently(
    pair: tuple[Replica, Replica],
) -> None:
    alice, bob = pair
    new_visual = UUID(int=99)
    alice.do(lambda r: r.remove_page(PAGE), now_ms=2_000)
    added = bob.do(
        lambda r: r.add_visual(new_visual, PAGE, "card", x=0, y=0, w=4, h=4), now_ms=3_000
    )
    bob.do(lambda r: r.move_visual(VISUAL, 1, 1), now_ms=3_001)
    document = exchange(alice, bob)
    assert document["pages"] == []
    lost = alice.report.lost_to_delete(added)
    assert lost is not None
    assert lost.detail == f"page {PAGE} was removed"
    lost_move = alice.report.lost_to_delete(bob.log[-1][0])
    assert lost_move is not None
    assert lost_move.detail == f"visual {VISUAL} was removed with its page {PAGE}"


def test_concurrent_page_inserts_at_the_same_place_are_ordered_by_id(
    pair: tuple[Replica, Replica],
) -> None:
    alice, bob = pair
    low, high = UUID(int=5), UUID("ffffffff-0000-4000-8000-000000000000")
    alice.do(lambda r: r.add_page(high, "Alice's"), now_ms=2_000)
    bob.do(lambda r: r.add_page(low, "Bob's"), now_ms=2_000)
    document = exchange(alice, bob)
    assert [page["name"] for page in document["pages"]] == ["Overview", "Bob's", "Alice's"]
    # The tie leaves equal keys; inserting between them lands next to the run.
    bob.do(lambda r: r.add_page(UUID(int=7), "Between", 2), now_ms=4_000)
    names = [page["name"] for page in exchange(alice, bob)["pages"]]
    assert names.index("Between") in (1, 3)


def test_concurrent_page_moves_converge(pair: tuple[Replica, Replica]) -> None:
    alice, bob = pair
    pages = [UUID(int=n) for n in range(1, 4)]
    for number, page in enumerate(pages):
        alice.do(lambda r, p=page, n=number: r.add_page(p, f"P{n}"), now_ms=1_500)
    bob.sync(alice.log)
    alice.do(lambda r: r.move_page(PAGE, 3), now_ms=2_000)
    bob.do(lambda r: r.move_page(pages[2], 0), now_ms=2_100)
    document = exchange(alice, bob)
    assert [page["name"] for page in document["pages"]] == ["P2", "P0", "P1", "Overview"]


def test_a_bind_concurrent_with_an_unbind_follows_the_later(
    pair: tuple[Replica, Replica],
) -> None:
    alice, bob = pair
    alice.do(lambda r: r.bind_field(VISUAL, "y", "sales", "sum"), now_ms=2_000)
    bob.sync(alice.log)
    alice.do(lambda r: r.unbind_field(VISUAL, "y", "sales"), now_ms=3_000)
    bob.do(lambda r: r.bind_field(VISUAL, "y", "sales", "avg"), now_ms=4_000)
    visual = the_visual(exchange(alice, bob))
    assert visual is not None
    assert visual["wells"]["y"] == [{"field": "sales", "aggregation": "avg"}]


def test_concurrent_field_reorders_converge(pair: tuple[Replica, Replica]) -> None:
    alice, bob = pair
    for field in ("a", "b", "c"):
        alice.do(lambda r, f=field: r.bind_field(VISUAL, "tooltip", f, "sum"), now_ms=1_500)
    bob.sync(alice.log)
    alice.do(lambda r: r.bind_field(VISUAL, "tooltip", "a", "sum", 2), now_ms=2_000)
    bob.do(lambda r: r.bind_field(VISUAL, "tooltip", "c", "sum", 0), now_ms=2_000)
    visual = the_visual(exchange(alice, bob))
    assert visual is not None
    assert [f["field"] for f in visual["wells"]["tooltip"]] == ["c", "b", "a"]


def test_a_concurrent_type_change_hides_bindings_the_new_type_lacks(
    pair: tuple[Replica, Replica],
) -> None:
    alice, bob = pair
    alice.do(lambda r: r.change_visual_type(VISUAL, "card"), now_ms=2_000)
    bob.do(lambda r: r.bind_field(VISUAL, "x", "region"), now_ms=2_000)
    visual = the_visual(exchange(alice, bob))
    assert visual is not None
    assert visual["wells"] == {"values": []}
    alice.do(lambda r: r.change_visual_type(VISUAL, "bar"), now_ms=3_000)
    visual = the_visual(exchange(alice, bob))
    assert visual is not None
    assert visual["wells"]["x"] == [{"field": "region", "aggregation": None}]


def test_concurrent_property_sets_merge_by_path(pair: tuple[Replica, Replica]) -> None:
    alice, bob = pair
    target = f"visual:{VISUAL}"
    alice.do(lambda r: r.set_property(target, "title.text", "Revenue"), now_ms=2_000)
    bob.do(lambda r: r.set_property(target, "title.color", "red"), now_ms=2_000)
    bob.do(lambda r: r.set_property(target, "legend", {"show": True}), now_ms=2_001)
    alice.do(lambda r: r.set_property(target, "legend.position", "top"), now_ms=3_000)
    visual = the_visual(exchange(alice, bob))
    assert visual is not None
    assert visual["properties"] == {
        "title": {"text": "Revenue", "color": "red"},
        "legend": {"show": True, "position": "top"},
    }


def test_concurrent_filters_are_listed_by_who_set_first(pair: tuple[Replica, Replica]) -> None:
    alice, bob = pair
    bob.do(lambda r: r.set_filter("report", "region", InFilter(values=("EU",))), now_ms=2_000)
    alice.do(lambda r: r.set_filter("report", "year", InFilter(values=(2024,))), now_ms=2_500)
    alice.do(lambda r: r.clear_filter("report", "year"), now_ms=2_600)
    bob.do(lambda r: r.set_filter("report", "year", InFilter(values=(2025,))), now_ms=2_700)
    document = exchange(alice, bob)
    assert document["filters"] == [
        {"field": "region", "op": "in", "values": ["EU"]},
        {"field": "year", "op": "in", "values": [2025]},
    ]


def test_edits_arriving_before_the_creation_show_once_it_arrives() -> None:
    alice = Replica("alice")
    alice.do(lambda r: r.create(WORKSPACE_ID, "Sales", None))
    alice.do(lambda r: r.add_page(PAGE, "Overview"))
    alice.do(lambda r: r.add_visual(VISUAL, PAGE, "card", x=0, y=0, w=4, h=4))
    alice.do(lambda r: r.move_visual(VISUAL, 3, 3))
    late_first: list[Stamped] = alice.log[::-1]
    late = replay(late_first[:-1])  # everything but the creation
    assert not late.exists
    late.apply(*late_first[-1])
    assert late.document() == alice.document()


def test_applying_an_event_twice_changes_nothing(pair: tuple[Replica, Replica]) -> None:
    alice, _ = pair
    alice.do(lambda r: r.set_property("report", "theme", "dark"))
    before = alice.document()
    alice.sync(alice.log + alice.log)
    assert alice.document() == before


def test_an_event_of_another_report_is_refused(pair: tuple[Replica, Replica]) -> None:
    alice, _ = pair
    other = Replica("carol", report_id=UUID(int=12345))
    with pytest.raises(ValueError, match="applied to"):
        other.sync(alice.log[:1])


def test_a_replica_must_give_each_event_a_later_clock(pair: tuple[Replica, Replica]) -> None:
    alice, _ = pair
    event, meta = alice.log[-1]
    same_clock = msgspec.structs.replace(
        meta, event_id=UUID(int=5), dot=Dot("alice", meta.dot.counter + 1)
    )
    with pytest.raises(ValueError, match="give every event its own, increasing HLC"):
        alice.report.apply(ReportRenamed(name="x"), same_clock)
    alice.report.apply(event, meta)  # the same event again is fine
