"""Event metadata and domain errors."""

from __future__ import annotations

from datetime import UTC, datetime
from uuid import UUID

import msgspec
import pytest

from domain.clock import Hlc
from domain.errors import (
    AlreadyExists,
    DomainError,
    InvalidCommand,
    NotAllowed,
    NotFound,
    TargetDeleted,
)
from domain.metadata import EventMetadata
from domain.registers import Stamp
from domain.versions import Dot

EVENT_ID = UUID(int=1)


def test_metadata_stamp_orders_by_hlc_then_replica() -> None:
    meta = EventMetadata(event_id=EVENT_ID, replica="r1", dot=Dot("r1", 4), hlc=Hlc(10, 2))
    assert meta.stamp == Stamp(Hlc(10, 2), "r1")


def test_metadata_round_trips_through_json() -> None:
    meta = EventMetadata(
        event_id=EVENT_ID,
        actor=UUID(int=2),
        replica="r1",
        dot=Dot("r1", 4),
        hlc=Hlc(10, 2),
        command_id=UUID(int=3),
        correlation_id=UUID(int=4),
        recorded_at=datetime(2025, 1, 2, 3, 4, 5, tzinfo=UTC),
    )
    encoded = msgspec.json.encode(meta)
    assert b'"dot":["r1",4]' in encoded
    assert b'"hlc":[10,2]' in encoded
    assert msgspec.json.decode(encoded, type=EventMetadata) == meta


def test_metadata_is_frozen_and_keyword_only() -> None:
    meta = EventMetadata(event_id=EVENT_ID, replica="r", dot=Dot("r", 1), hlc=Hlc(1, 0))
    with pytest.raises(AttributeError):
        meta.replica = "other"  # type: ignore[misc]
    with pytest.raises(TypeError):
        EventMetadata(EVENT_ID, "r", Dot("r", 1), Hlc(1, 0))  # type: ignore[misc]


def test_a_dot_of_another_replica_is_refused() -> None:
    with pytest.raises(ValueError, match="does not belong"):
        EventMetadata(event_id=EVENT_ID, replica="r1", dot=Dot("r2", 1), hlc=Hlc(1, 0))


@pytest.mark.parametrize(
    ("error", "code"),
    [
        (InvalidCommand, "invalid_command"),
        (NotFound, "not_found"),
        (TargetDeleted, "target_deleted"),
        (AlreadyExists, "already_exists"),
        (NotAllowed, "not_allowed"),
    ],
)
def test_each_error_has_a_stable_default_code(error: type[DomainError], code: str) -> None:
    raised = error("visual 7f is not on this report")
    assert isinstance(raised, DomainError)
    assert raised.code == code
    assert raised.detail == "visual 7f is not on this report"
    assert str(raised) == raised.detail


def test_an_error_can_carry_a_more_specific_code() -> None:
    raised = InvalidCommand("w must be between 1 and 24, got 0", code="invalid_layout")
    assert raised.code == "invalid_layout"
    assert InvalidCommand.default_code == "invalid_command"
    assert "invalid_layout" in repr(raised)
