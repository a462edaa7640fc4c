"""Everything that can happen to a report, as stored events.

Events are frozen, kw-only msgspec Structs tagged on ``"type"`` with their class name. The tag
is written out on each class so that a rename in Python cannot change what is stored. The
payload holds only what the event says; identity, causality (dot, HLC) and provenance travel in
``domain.metadata.EventMetadata``.

Order-dependent choices are made once, when the command is decided, and stored: an index
becomes a fractional ``key``, so replaying the event anywhere gives the same result.

Schema evolution (msgspec's rules): new fields get defaults, a field's type never changes.
Plain ``str`` is used for visual types, wells and aggregations so that events from a newer
version still decode; the decisions check the values.
"""

from typing import Any, Final
from uuid import UUID

import msgspec

from domain.report.filters import Filter


class _ReportEvent(msgspec.Struct, frozen=True, kw_only=True, tag_field="type"):
    pass


class ReportCreated(_ReportEvent, frozen=True, kw_only=True, tag="ReportCreated"):
    report_id: UUID
    workspace_id: UUID
    name: str
    dataset_id: UUID | None = None


class ReportRenamed(_ReportEvent, frozen=True, kw_only=True, tag="ReportRenamed"):
    name: str


class PageAdded(_ReportEvent, frozen=True, kw_only=True, tag="PageAdded"):
    page_id: UUID
    name: str
    #: Fractional index among the pages.
    key: str


class PageRenamed(_ReportEvent, frozen=True, kw_only=True, tag="PageRenamed"):
    page_id: UUID
    name: str


class PageMoved(_ReportEvent, frozen=True, kw_only=True, tag="PageMoved"):
    page_id: UUID
    key: str


class PageRemoved(_ReportEvent, frozen=True, kw_only=True, tag="PageRemoved"):
    """Removes the page and, with it, its visuals."""

    page_id: UUID


class VisualAdded(_ReportEvent, frozen=True, kw_only=True, tag="VisualAdded"):
    visual_id: UUID
    page_id: UUID
    visual_type: str
    x: int
    y: int
    w: int
    h: int
    #: Fractional index in the page's z-order (later keys are drawn on top).
    key: str


class VisualMoved(_ReportEvent, frozen=True, kw_only=True, tag="VisualMoved"):
    visual_id: UUID
    x: int
    y: int
    #: A new z-order key, when the move also brought the visual forward or back.
    key: str | None = None


class VisualResized(_ReportEvent, frozen=True, kw_only=True, tag="VisualResized"):
    visual_id: UUID
    w: int
    h: int


class VisualTypeChanged(_ReportEvent, frozen=True, kw_only=True, tag="VisualTypeChanged"):
    visual_id: UUID
    visual_type: str


class VisualRemoved(_ReportEvent, frozen=True, kw_only=True, tag="VisualRemoved"):
    visual_id: UUID


class FieldBound(_ReportEvent, frozen=True, kw_only=True, tag="FieldBound"):
    visual_id: UUID
    well: str
    field: str
    aggregation: str | None = None
    #: Fractional index among the well's fields.
    key: str


class FieldUnbound(_ReportEvent, frozen=True, kw_only=True, tag="FieldUnbound"):
    visual_id: UUID
    well: str
    field: str


class FieldMoved(_ReportEvent, frozen=True, kw_only=True, tag="FieldMoved"):
    """A bound field reordered within its well."""

    visual_id: UUID
    well: str
    field: str
    key: str


class PropertySet(_ReportEvent, frozen=True, kw_only=True, tag="PropertySet"):
    #: ``"report"``, ``"page:<uuid>"`` or ``"visual:<uuid>"`` (canonical spelling).
    target: str
    #: Dotted, e.g. ``title.text``.
    path: str
    #: Any JSON value; ``None`` removes the key.
    value: Any


class FilterSet(_ReportEvent, frozen=True, kw_only=True, tag="FilterSet"):
    target: str
    field: str
    filter: Filter


class FilterCleared(_ReportEvent, frozen=True, kw_only=True, tag="FilterCleared"):
    target: str
    field: str


ReportEvent = (
    ReportCreated
    | ReportRenamed
    | PageAdded
    | PageRenamed
    | PageMoved
    | PageRemoved
    | VisualAdded
    | VisualMoved
    | VisualResized
    | VisualTypeChanged
    | VisualRemoved
    | FieldBound
    | FieldUnbound
    | FieldMoved
    | PropertySet
    | FilterSet
    | FilterCleared
)

EVENT_TYPES: Final[dict[str, type[ReportEvent]]] = {
    cls.__name__: cls
    for cls in (
        ReportCreated,
        ReportRenamed,
        PageAdded,
        PageRenamed,
        PageMoved,
        PageRemoved,
        VisualAdded,
        VisualMoved,
        VisualResized,
        VisualTypeChanged,
        VisualRemoved,
        FieldBound,
        FieldUnbound,
        FieldMoved,
        PropertySet,
        FilterSet,
        FilterCleared,
    )
}

_encoder = msgspec.json.Encoder()
_decoder: msgspec.json.Decoder[ReportEvent] = msgspec.json.Decoder(ReportEvent)


def encode(event: ReportEvent) -> bytes:
    """JSON bytes, with the event's tag under ``"type"``."""
    return _encoder.encode(event)


def decode(data: bytes | str) -> ReportEvent:
    """The event encoded by ``encode`` (dispatched on ``"type"``)."""
    return _decoder.decode(data)


def to_data(event: ReportEvent) -> dict[str, Any]:
    """The payload as JSON-ready builtins without ``"type"`` (for a store that keeps the type
    in its own column, and for the API's ``data``)."""
    data: dict[str, Any] = msgspec.to_builtins(event)
    del data["type"]
    return data


def from_data(event_type: str, data: dict[str, Any]) -> ReportEvent:
    """The inverse of ``to_data``; raises ``KeyError`` for an unknown type and
    ``msgspec.ValidationError`` for a payload that does not fit it."""
    event: ReportEvent = msgspec.convert(data, EVENT_TYPES[event_type])
    return event
