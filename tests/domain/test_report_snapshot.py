"""Snapshots: restoring one and applying the rest of the history is folding the whole history."""

from __future__ import annotations

from typing import Any
from uuid import UUID

import msgspec
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from domain.errors import DomainError, NotFound, TargetDeleted
from domain.report import Report
from domain.report.filters import InFilter
from domain.report.snapshot import FORMAT, SnapshotError, restore, snapshot
from tests.domain.report_histories import FIELDS, PAGE_IDS, VISUAL_IDS, histories
from tests.domain.report_replicas import REPORT_ID, WORKSPACE_ID, Replica, Stamped, replay

YEAR_FILTER = InFilter(values=(2024,))
EXAMPLES = settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def outcome(decide: Any) -> object:
    """What a decision answers: its event, or the class and code of the error it raises."""
    try:
        return decide()
    except DomainError as error:
        return (type(error).__name__, error.code)


def decisions(report: Report, events: list[Stamped]) -> list[object]:
    """The answers of a battery of decisions about every id of the pools, and of
    ``lost_to_delete`` for every event."""
    answers: list[object] = [outcome(lambda: report.rename("New name"))]
    for page in PAGE_IDS:
        answers += [
            outcome(lambda p=page: report.add_page(p, "Added", 1)),
            outcome(lambda p=page: report.rename_page(p, "Renamed")),
            outcome(lambda p=page: report.move_page(p, 0)),
            outcome(lambda p=page: report.remove_page(p)),
            outcome(lambda p=page: report.set_property(f"page:{p}", "title.text", "t")),
            outcome(lambda p=page: report.add_visual(VISUAL_IDS[0], p, "bar", x=0, y=0, w=2, h=2)),
        ]
    for visual in VISUAL_IDS:
        answers += [
            outcome(lambda v=visual: report.move_visual(v, 1, 1, z_index=0)),
            outcome(lambda v=visual: report.resize_visual(v, 2, 2)),
            outcome(lambda v=visual: report.change_visual_type(v, "table")),
            outcome(lambda v=visual: report.remove_visual(v)),
            outcome(lambda v=visual: report.add_visual(v, PAGE_IDS[0], "bar", x=0, y=0, w=2, h=2)),
            outcome(lambda v=visual: report.set_filter(f"visual:{v}", "year", YEAR_FILTER)),
        ]
        for field in FIELDS:
            answers += [
                outcome(lambda v=visual, f=field: report.bind_field(v, "y", f, "sum", 0)),
                outcome(lambda v=visual, f=field: report.unbind_field(v, "tooltip", f)),
                outcome(lambda v=visual, f=field: report.clear_filter(f"visual:{v}", f)),
            ]
    for event, _ in events:
        lost = report.lost_to_delete(event)
        answers.append(None if lost is None else (lost.code, lost.detail))
    return answers


def observed(report: Report, events: list[Stamped]) -> dict[str, Any]:
    try:
        document: object = report.document()
    except NotFound as error:
        document = error.code
    return {
        "document": document,
        "version_vector": report.version_vector,
        "max_hlc": report.max_hlc,
        "parts": report.state.parts(),
        "decisions": decisions(report, events),
    }


@EXAMPLES
@given(histories(), st.data())
def test_restoring_a_snapshot_then_applying_the_rest_equals_folding_everything(
    history: tuple[list[Replica], list[Stamped]], data: st.DataObject
) -> None:
    _, events = history
    expected = observed(replay(events), events)
    k = data.draw(st.integers(0, len(events)), label="k")
    # Snapshot any subset of the events (a replica that saw some of them), not just a prefix,
    # and deliver the rest in any order, with duplicates of events on either side of k.
    head = events[:k]
    if data.draw(st.booleans(), label="shuffle head"):
        head = data.draw(st.permutations(head))
    rest = data.draw(st.permutations(events[k:]), label="rest")
    rest += data.draw(st.lists(st.sampled_from(events), max_size=5), label="duplicates")
    restored = restore(REPORT_ID, snapshot(replay(head)))
    for event, meta in rest:
        restored.apply(event, meta)
    assert observed(restored, events) == expected


@EXAMPLES
@given(histories())
def test_a_snapshot_restores_to_the_same_state_and_encodes_to_the_same_bytes(
    history: tuple[list[Replica], list[Stamped]],
) -> None:
    _, events = history
    report = replay(events)
    data = snapshot(report)
    restored = restore(REPORT_ID, data)
    assert restored.state.parts() == report.state.parts()
    assert snapshot(restored) == data


def test_a_snapshot_keeps_events_that_arrived_before_the_reports_creation() -> None:
    author = Replica("a")
    author.do(lambda r: r.create(WORKSPACE_ID, "Sales", None))
    author.do(lambda r: r.add_page(PAGE_IDS[0], "Overview"))
    author.do(lambda r: r.rename_page(PAGE_IDS[0], "Summary"))
    early = replay(author.log[1:])  # the creation is late
    assert not early.exists
    restored = restore(REPORT_ID, snapshot(early))
    assert not restored.exists
    restored.apply(*author.log[0])
    assert restored.document() == author.document()
    assert [page["name"] for page in restored.document()["pages"]] == ["Summary"]


def test_removed_things_stay_removed_after_a_restore() -> None:
    author = Replica("a")
    author.do(lambda r: r.create(WORKSPACE_ID, "Sales", None))
    author.do(lambda r: r.add_page(PAGE_IDS[0], "Overview"))
    author.do(lambda r: r.add_visual(VISUAL_IDS[0], PAGE_IDS[0], "column", x=0, y=0, w=4, h=4))
    late_move = Replica("b")
    late_move.sync(author.log)
    late_move.do(lambda r: r.move_visual(VISUAL_IDS[0], 3, 3))
    author.do(lambda r: r.remove_visual(VISUAL_IDS[0]))
    restored = restore(REPORT_ID, snapshot(author.report))
    with pytest.raises(TargetDeleted):
        restored.move_visual(VISUAL_IDS[0], 1, 1)
    assert restored.lost_to_delete(late_move.log[-1][0]) is not None
    restored.apply(*late_move.log[-1])
    assert restored.document()["pages"][0]["visuals"] == []


def test_a_snapshot_of_another_report_is_refused() -> None:
    data = snapshot(Report(REPORT_ID))
    with pytest.raises(SnapshotError, match="not of"):
        restore(UUID(int=5), data)


def test_a_snapshot_of_an_unknown_format_is_refused() -> None:
    envelope = msgspec.msgpack.decode(snapshot(Report(REPORT_ID)))
    assert envelope[:2] == ["report", FORMAT]
    newer = msgspec.msgpack.encode(["report", FORMAT + 1, envelope[2]])
    with pytest.raises(SnapshotError, match=f"format {FORMAT + 1} is unknown"):
        restore(REPORT_ID, newer)
    with pytest.raises(SnapshotError, match="not of a report"):
        restore(REPORT_ID, msgspec.msgpack.encode(["workspace", 1, {}]))


@pytest.mark.parametrize("data", [b"", b"\x00", b"not msgpack at all", b"\x93\xa6report\x01\x01"])
def test_garbage_is_refused(data: bytes) -> None:
    with pytest.raises(SnapshotError):
        restore(REPORT_ID, data)


def test_no_snapshot_inside_an_open_batch() -> None:
    author = Replica("a")
    author.do(lambda r: r.create(WORKSPACE_ID, "Sales", None))
    with author.report.atomic(), pytest.raises(ValueError, match="open savepoint"):
        snapshot(author.report)
    assert restore(REPORT_ID, snapshot(author.report)).document() == author.document()


def big_report(pages: int = 50, visuals_per_page: int = 20) -> Replica:
    """A report of ``pages`` pages of ``visuals_per_page`` bound, titled, filtered visuals."""
    author = Replica("a")
    author.do(lambda r: r.create(WORKSPACE_ID, "Big", None))
    for p in range(pages):
        page_id = UUID(int=0x10_0000 + p)
        author.do(lambda r, page_id=page_id, p=p: r.add_page(page_id, f"Page {p + 1}"))
        for v in range(visuals_per_page):
            visual_id = UUID(int=0x20_0000 + p * 1000 + v)
            x, y = (v % 4) * 6, (v // 4) * 5
            author.do(
                lambda r, vid=visual_id, pid=page_id, x=x, y=y: r.add_visual(
                    vid, pid, "column", x=x, y=y, w=6, h=5
                )
            )
            author.do(lambda r, vid=visual_id: r.bind_field(vid, "x", "region"))
            author.do(lambda r, vid=visual_id: r.bind_field(vid, "y", "sales", "sum"))
            author.do(lambda r, vid=visual_id: r.bind_field(vid, "tooltip", "profit", "avg"))
            author.do(lambda r, vid=visual_id: r.set_property(f"visual:{vid}", "title.text", "T"))
            author.do(
                lambda r, vid=visual_id: r.set_filter(
                    f"visual:{vid}", "year", InFilter(values=(2024, 2025))
                )
            )
    return author


def test_a_snapshot_of_50_pages_of_20_visuals_restores_the_same_document() -> None:
    """A large report survives the round trip (its speed is measured by bench/projections.py
    --only timetravel, never here)."""
    report = big_report().report
    data = snapshot(report)
    assert restore(REPORT_ID, data).document() == report.document()
    assert snapshot(restore(REPORT_ID, data)) == data


def _report_with_a_removed_page() -> tuple[Replica, Replica]:
    """Ana's report whose page 0 (a titled, bound, filtered visual on it) was removed, and Bob,
    who saw the visual before the removal."""
    ana = Replica("ana")
    ana.do(lambda r: r.create(WORKSPACE_ID, "Sales", None))
    ana.do(lambda r: r.add_page(PAGE_IDS[0], "Draft"))
    ana.do(lambda r: r.add_page(PAGE_IDS[1], "Overview"))
    ana.do(lambda r: r.add_visual(VISUAL_IDS[0], PAGE_IDS[0], "column", x=0, y=0, w=4, h=4))
    ana.do(lambda r: r.bind_field(VISUAL_IDS[0], "y", "sales", "sum", 0))
    ana.do(lambda r: r.set_property(f"visual:{VISUAL_IDS[0]}", "title.text", "Sales"))
    ana.do(lambda r: r.set_filter(f"visual:{VISUAL_IDS[0]}", "year", YEAR_FILTER))
    bob = Replica("bob")
    bob.sync(ana.log)
    ana.do(lambda r: r.remove_page(PAGE_IDS[0]))
    return ana, bob


def test_visuals_of_a_removed_page_are_forgotten_but_still_known_as_removed() -> None:
    ana, bob = _report_with_a_removed_page()
    bob.do(lambda r: r.bind_field(VISUAL_IDS[0], "x", "region", None, 0))
    bob.do(lambda r: r.set_property(f"visual:{VISUAL_IDS[0]}", "title.text", "Late"))
    for event, meta in bob.log[-2:]:
        ana.report.apply(event, meta)
    parts = ana.report.state.parts()
    visual = str(VISUAL_IDS[0])
    assert visual not in parts.bindings
    assert visual not in parts.binding_keys
    assert f"visual:{visual}" not in parts.properties
    assert f"visual:{visual}" not in parts.filters
    with pytest.raises(TargetDeleted, match="with its page"):
        ana.report.move_visual(VISUAL_IDS[0], 1, 1)
    assert ana.report.lost_to_delete(bob.log[-1][0]) is not None
    # Whichever order the removal and the late edits arrive in, the state is the same.
    other = Replica("carol")
    other.sync(bob.log)
    other.sync(ana.log)
    assert other.report.state.parts() == parts


def test_a_format_1_snapshot_is_read_with_the_page_each_visual_was_put_on() -> None:
    ana, _ = _report_with_a_removed_page()
    ana.do(lambda r: r.add_visual(VISUAL_IDS[1], PAGE_IDS[1], "bar", x=0, y=0, w=4, h=4))
    kind, _, body = msgspec.msgpack.decode(snapshot(ana.report))
    for visual in body[3].values():  # the visuals' registers: format 1 had no on:<page>
        for name in [name for name in visual if name.startswith("on:")]:
            del visual[name]
    old = msgspec.msgpack.encode([kind, 1, body])
    restored = restore(REPORT_ID, old)
    assert restored.state.parts() == ana.report.state.parts()
    assert snapshot(restored) == snapshot(ana.report)
