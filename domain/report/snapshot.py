"""Snapshots of a report's mergeable state: fold a long history once, restore it later.

``snapshot(report)`` encodes the COMPLETE state that ``apply`` and the decisions depend on, not
the document: every register with its stamp (also those of pages and visuals whose ``...Added``
has not arrived yet), the tombstones of removed pages and visuals, field bindings and their
order keys, property and filter registers, the stamp that orders each filter, the version
vector and each replica's highest HLC. So ``restore(snapshot(fold(events[:k])))`` followed by
``events[k:]`` -- in any order, with duplicates, concurrent or late -- is the very report that
folding every event gives: same document, same version vector and ``max_hlc``, same decisions
(``TargetDeleted`` for removed things, ``AlreadyExists`` for used ids) and the same
``lost_to_delete`` answers.

Encoding: MessagePack (msgspec), ``[kind, format, body]``. ``kind`` is ``"report"``; ``format``
numbers the body's layout. A reader decodes the two header fields first (the body stays raw
bytes) and picks the decoder for that format, so a future layout can migrate old snapshots
(add a decoder for the old number that converts) or refuse them; a snapshot newer than this
code is refused (``SnapshotError``), never misread. Snapshots are a cache: whoever stores them
keeps the stream version they were taken at, and can always rebuild from the events.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Final
from uuid import UUID

import msgspec

from domain.clock import Hlc
from domain.registers import Register, Stamp
from domain.report.aggregate import Report
from domain.report.document import ReportState, StateParts
from domain.report.filters import Filter

if TYPE_CHECKING:
    from collections.abc import Callable

KIND: Final = "report"
#: The body layout this code writes. Bump it when ``_BodyV1`` changes shape or meaning, and
#: keep a decoder for each older number that still has to be read (see ``_DECODERS``).
#: 2: visuals carry an ``on:<page id>`` register per page a ``VisualAdded`` named (format 1
#: snapshots get it from the visual's ``page`` register, which is the same when, as the command
#: path guarantees, each visual is added once).
FORMAT: Final = 2


class SnapshotError(ValueError):
    """The bytes are not a report snapshot this code can read (or not of this report)."""


class _Envelope(msgspec.Struct, frozen=True, array_like=True):
    kind: str
    format: int
    body: msgspec.Raw


class _ReportRegistersV1(msgspec.Struct, frozen=True, array_like=True):
    """The report's own registers, typed (the ids are UUIDs in the state)."""

    created: Register[bool] | None = None
    workspace_id: Register[UUID] | None = None
    name: Register[str] | None = None
    dataset_id: Register[UUID | None] | None = None


#: (well, field, register) of one visual.
_BindingV1 = tuple[str, str, Register[tuple[bool, str | None]]]
_BindingKeyV1 = tuple[str, str, Register[str]]


class _BodyV1(msgspec.Struct, frozen=True, array_like=True):
    report_id: UUID
    report: _ReportRegistersV1
    #: Page and visual registers hold JSON scalars only (bool, str, int).
    pages: dict[str, dict[str, Register[Any]]]
    visuals: dict[str, dict[str, Register[Any]]]
    #: Removed targets ("page:<id>", "visual:<id>").
    removed: list[str]
    bindings: dict[str, list[_BindingV1]]
    binding_keys: dict[str, list[_BindingKeyV1]]
    #: Property registers hold JSON values.
    properties: dict[str, dict[str, Register[Any]]]
    filters: dict[str, dict[str, Register[Filter | None]]]
    filter_order: dict[str, dict[str, Stamp]]
    versions: dict[str, int]
    clocks: dict[str, Hlc]


_REPORT_REGISTERS: Final = ("created", "workspace_id", "name", "dataset_id")

_encoder = msgspec.msgpack.Encoder()
_envelope_decoder = msgspec.msgpack.Decoder(_Envelope)
_body_v1_decoder = msgspec.msgpack.Decoder(_BodyV1)


def snapshot(report: Report) -> bytes:
    """The report's complete mergeable state as bytes (``ValueError`` inside an open batch)."""
    parts = report.state.parts()
    unknown = set(parts.report) - set(_REPORT_REGISTERS)
    if unknown:  # pragma: no cover - a new report register needs a new format
        raise ValueError(f"report registers {sorted(unknown)} have no place in format {FORMAT}")
    body = _BodyV1(
        report_id=report.id,
        report=_ReportRegistersV1(**parts.report),
        pages=parts.pages,
        visuals=parts.visuals,
        removed=list(parts.removed),
        bindings={
            visual: [(well, field, register) for (well, field), register in bindings.items()]
            for visual, bindings in parts.bindings.items()
        },
        binding_keys={
            visual: [(well, field, register) for (well, field), register in keys.items()]
            for visual, keys in parts.binding_keys.items()
        },
        properties=parts.properties,
        filters=parts.filters,
        filter_order=parts.filter_order,
        versions=parts.versions,
        clocks=parts.clocks,
    )
    return _encoder.encode(_Envelope(KIND, FORMAT, msgspec.Raw(_encoder.encode(body))))


def restore(report_id: UUID, data: bytes) -> Report:
    """The report ``snapshot`` encoded, ready for more events and decisions.

    ``SnapshotError`` if ``data`` is not a snapshot, is one of another report, or has a
    format this code does not know (one written by newer code)."""
    try:
        envelope = _envelope_decoder.decode(data)
    except msgspec.DecodeError as error:
        raise SnapshotError(f"not a report snapshot: {error}") from error
    if envelope.kind != KIND:
        raise SnapshotError(f"a snapshot of a {envelope.kind!r}, not of a report")
    decode = _DECODERS.get(envelope.format)
    if decode is None:
        raise SnapshotError(
            f"report snapshot format {envelope.format} is unknown to this code (it reads "
            f"{', '.join(map(str, sorted(_DECODERS)))}); rebuild the report from its events"
        )
    try:
        snapshot_id, parts = decode(envelope.body)
    except msgspec.DecodeError as error:
        raise SnapshotError(f"corrupt report snapshot: {error}") from error
    if snapshot_id != report_id:
        raise SnapshotError(f"a snapshot of report {snapshot_id}, not of {report_id}")
    return Report.from_state(ReportState.from_parts(report_id, parts))


def _decode_v1(raw: msgspec.Raw) -> tuple[UUID, StateParts]:
    report_id, parts = _decode_v2(raw)
    for visual in parts.visuals.values():
        page = visual.get("page")
        if page is not None:
            visual["on:" + page.value] = Register(page.stamp, value=True)
    return report_id, parts


def _decode_v2(raw: msgspec.Raw) -> tuple[UUID, StateParts]:
    body = _body_v1_decoder.decode(raw)
    registers = body.report
    report: dict[str, Register[Any]] = {}
    for name in _REPORT_REGISTERS:
        register = getattr(registers, name)
        if register is not None:
            report[name] = register
    return body.report_id, StateParts(
        report=report,
        pages=body.pages,
        visuals=body.visuals,
        removed=dict.fromkeys(body.removed, True),
        bindings={
            visual: {(well, field): register for well, field, register in entries}
            for visual, entries in body.bindings.items()
        },
        binding_keys={
            visual: {(well, field): register for well, field, register in entries}
            for visual, entries in body.binding_keys.items()
        },
        properties=body.properties,
        filters=body.filters,
        filter_order=body.filter_order,
        versions=body.versions,
        clocks=body.clocks,
    )


#: format number → decoder of that body layout into the current parts (migrations go here).
_DECODERS: Final[dict[int, Callable[[msgspec.Raw], tuple[UUID, StateParts]]]] = {
    1: _decode_v1,
    2: _decode_v2,
}
