"""Report events: stable tags, JSON round trips."""

from __future__ import annotations

from typing import get_args
from uuid import UUID

import msgspec
import pytest

from domain.report import events
from domain.report.events import (
    EVENT_TYPES,
    FieldBound,
    FieldMoved,
    FieldUnbound,
    FilterCleared,
    FilterSet,
    PageAdded,
    PageMoved,
    PageRemoved,
    PageRenamed,
    PropertySet,
    ReportCreated,
    ReportEvent,
    ReportRenamed,
    VisualAdded,
    VisualMoved,
    VisualRemoved,
    VisualResized,
    VisualTypeChanged,
)
from domain.report.filters import RangeFilter, TopBy, TopFilter

A = UUID(int=1)
B = UUID(int=2)

ONE_OF_EACH: list[ReportEvent] = [
    ReportCreated(report_id=A, workspace_id=B, name="Sales", dataset_id=None),
    ReportRenamed(name="Revenue"),
    PageAdded(page_id=A, name="Overview", key="a0"),
    PageRenamed(page_id=A, name="Summary"),
    PageMoved(page_id=A, key="Zz"),
    PageRemoved(page_id=A),
    VisualAdded(visual_id=B, page_id=A, visual_type="bar", x=0, y=0, w=6, h=4, key="a0"),
    VisualMoved(visual_id=B, x=3, y=4),
    VisualMoved(visual_id=B, x=3, y=4, key="a1"),
    VisualResized(visual_id=B, w=8, h=8),
    VisualTypeChanged(visual_id=B, visual_type="line"),
    VisualRemoved(visual_id=B),
    FieldBound(visual_id=B, well="y", field="sales", aggregation="sum", key="a0"),
    FieldUnbound(visual_id=B, well="y", field="sales"),
    FieldMoved(visual_id=B, well="y", field="sales", key="a2"),
    PropertySet(target=f"visual:{B}", path="title.text", value={"a": [1, None, "x"]}),
    FilterSet(target="report", field="date", filter=RangeFilter(min="2024-01-01")),
    FilterSet(target="report", field="region", filter=TopFilter(n=3, by=TopBy(measure="M"))),
    FilterCleared(target="report", field="date"),
]


def test_every_event_type_is_exercised() -> None:
    assert {type(event) for event in ONE_OF_EACH} == set(get_args(ReportEvent))


def test_event_tags_are_the_class_names() -> None:
    assert set(EVENT_TYPES) == {cls.__name__ for cls in get_args(ReportEvent)}
    for tag, cls in EVENT_TYPES.items():
        assert cls.__struct_config__.tag == tag
        assert cls.__struct_config__.tag_field == "type"


@pytest.mark.parametrize("event", ONE_OF_EACH, ids=lambda e: type(e).__name__)
def test_event_round_trips_through_json(event: ReportEvent) -> None:
    encoded = events.encode(event)
    assert msgspec.json.decode(encoded)["type"] == type(event).__name__
    assert events.decode(encoded) == event


@pytest.mark.parametrize("event", ONE_OF_EACH, ids=lambda e: type(e).__name__)
def test_event_round_trips_as_type_and_data(event: ReportEvent) -> None:
    data = events.to_data(event)
    assert "type" not in data
    assert events.from_data(type(event).__name__, msgspec.json.decode(msgspec.json.encode(data)))
    assert events.from_data(type(event).__name__, data) == event


def test_events_are_frozen() -> None:
    with pytest.raises(AttributeError):
        ONE_OF_EACH[1].name = "x"  # type: ignore[union-attr]


def test_a_filter_is_tagged_on_op() -> None:
    encoded = events.encode(ONE_OF_EACH[16])
    assert b'"filter":{"op":"range","min":"2024-01-01","max":null}' in encoded


def test_unknown_fields_from_a_newer_version_are_ignored() -> None:
    data = b'{"type":"ReportRenamed","name":"x","colour":"new in v2"}'
    assert events.decode(data) == ReportRenamed(name="x")


def test_an_unknown_event_type_is_refused() -> None:
    with pytest.raises(msgspec.ValidationError):
        events.decode(b'{"type":"ReportExploded"}')
    with pytest.raises(KeyError):
        events.from_data("ReportExploded", {})
