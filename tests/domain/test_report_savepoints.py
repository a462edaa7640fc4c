"""Atomic batches: rolling back to a savepoint restores the state exactly, cheaply."""

from __future__ import annotations

import contextlib
from typing import TYPE_CHECKING, Any
from uuid import UUID

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from domain.errors import DomainError, InvalidCommand
from tests.domain.report_histories import commands, histories
from tests.domain.report_replicas import WORKSPACE_ID, Replica, Stamped, replay

if TYPE_CHECKING:
    from domain.report import Report
    from domain.report.document import ReportState

PAGE = UUID(int=1)


def snapshot(report: Report) -> dict[str, Any]:
    """Every container of the state, copied (registers are immutable, so copies suffice)."""
    state: ReportState = report._state

    def copy(value: Any) -> Any:
        return (
            {key: copy(item) for key, item in value.items()} if isinstance(value, dict) else value
        )

    names = [
        "_report",
        "_pages",
        "_visuals",
        "_removed",
        "_bindings",
        "_binding_keys",
        "_properties",
        "_filters",
        "_filter_order",
        "_versions",
        "_clocks",
    ]
    return {name: copy(getattr(state, name)) for name in names}


@pytest.fixture
def replica() -> Replica:
    replica = Replica("r1")
    replica.do(lambda r: r.create(WORKSPACE_ID, "Sales", None))
    replica.do(lambda r: r.add_page(PAGE, "Overview"))
    return replica


def test_rollback_undoes_a_failed_batch(replica: Replica) -> None:
    before = replica.document()
    savepoint = replica.report.savepoint()
    replica.do(lambda r: r.rename("Renamed"))
    replica.do(lambda r: r.add_visual(UUID(int=2), PAGE, "card", x=0, y=0, w=4, h=4))
    replica.do(lambda r: r.remove_page(PAGE))
    with pytest.raises(InvalidCommand):
        replica.do(lambda r: r.rename(""))  # command 4 of the batch fails
    replica.report.rollback_to(savepoint)
    replica.report.release(savepoint)
    assert replica.document() == before


def test_release_keeps_the_changes_and_stops_recording(replica: Replica) -> None:
    savepoint = replica.report.savepoint()
    replica.do(lambda r: r.rename("Renamed"))
    replica.report.release(savepoint)
    assert replica.document()["name"] == "Renamed"
    assert replica.report._state._undo is None
    with pytest.raises(ValueError, match="released"):
        replica.report.rollback_to(savepoint)


def test_a_savepoint_of_an_earlier_batch_cannot_be_used_again(replica: Replica) -> None:
    old = replica.report.savepoint()
    replica.report.release(old)
    replica.report.savepoint()
    with pytest.raises(ValueError, match="released"):
        replica.report.rollback_to(old)


def test_nested_savepoints_roll_back_separately(replica: Replica) -> None:
    outer = replica.report.savepoint()
    replica.do(lambda r: r.rename("One"))
    inner = replica.report.savepoint()
    replica.do(lambda r: r.rename("Two"))
    replica.report.rollback_to(inner)
    assert replica.document()["name"] == "One"
    replica.report.release(inner)
    replica.report.rollback_to(outer)
    assert replica.document()["name"] == "Sales"
    replica.report.release(outer)


def test_atomic_rolls_back_on_an_exception(replica: Replica) -> None:
    before = snapshot(replica.report)

    def batch() -> None:
        with replica.report.atomic():
            replica.do(lambda r: r.rename("Renamed"))
            replica.do(lambda r: r.rename_page(UUID(int=404), "x"))

    with pytest.raises(DomainError):
        batch()
    assert snapshot(replica.report) == before
    with replica.report.atomic():
        replica.do(lambda r: r.rename("Kept"))
    assert replica.document()["name"] == "Kept"


def test_rollback_restores_the_clocks(replica: Replica) -> None:
    vector, clock = replica.report.version_vector, replica.report.max_hlc
    savepoint = replica.report.savepoint()
    replica.do(lambda r: r.rename("Renamed"), now_ms=99_999)
    assert replica.report.max_hlc > clock
    replica.report.rollback_to(savepoint)
    assert replica.report.version_vector == vector
    assert replica.report.max_hlc == clock


def test_the_undo_log_grows_with_the_changes_not_the_report() -> None:
    big = Replica("r1")
    big.do(lambda r: r.create(WORKSPACE_ID, "Big", None))
    for page in range(20):
        page_id = UUID(int=1000 + page)
        big.do(lambda r, p=page_id: r.add_page(p, "Page"))
        for number in range(20):
            visual_id = UUID(int=page * 100 + number + 1)
            big.do(lambda r, p=page_id, v=visual_id: r.add_visual(v, p, "card", x=0, y=0, w=4, h=4))
    savepoint = big.report.savepoint()
    big.do(lambda r: r.move_visual(UUID(int=1), 2, 2))
    undo = big.report._state._undo
    assert undo is not None
    assert len(undo) <= 6  # two registers and the two clocks: not 400 visuals
    big.report.rollback_to(savepoint)
    assert undo == []


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(histories(max_steps=25), st.data())
def test_rollback_restores_exactly_what_was_there(
    history: tuple[list[Replica], list[Stamped]], data: st.DataObject
) -> None:
    replicas, events = history
    start = data.draw(st.integers(0, len(events)))
    report = replay(events[:start])
    before = snapshot(report)
    document = report.document() if report.exists else None
    savepoint = report.savepoint()
    # A batch: events from elsewhere (out of order, duplicated) and fresh local decisions.
    for event, meta in data.draw(st.lists(st.sampled_from(events), max_size=30)):
        report.apply(event, meta)
    local = Replica("local")
    local.report = report
    for _ in range(data.draw(st.integers(0, 5))):
        if report.exists:
            decide = data.draw(commands(report))
            with contextlib.suppress(DomainError):
                local.do(decide)
    report.rollback_to(savepoint)
    report.release(savepoint)
    assert snapshot(report) == before
    if document is not None:
        assert report.document() == document
    assert replicas
