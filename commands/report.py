"""Report commands: what a client asks for (imperative), as the API and WebSocket accept them.

A command batch is atomic: every command is decided in order against the report as the
previous ones left it, and either all their events are appended or none. Ids of new pages
and visuals come from the client, so an offline client can create things too.
"""

from __future__ import annotations

from typing import Annotated, Any
from uuid import UUID

import msgspec

from commands.eventstore import MAX_POSITION
from domain.clock import Hlc
from domain.report.filters import Filter

Name = Annotated[str, msgspec.Meta(min_length=1, max_length=200)]
ClientId = Annotated[str, msgspec.Meta(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_.:@-]+$")]
Target = Annotated[str, msgspec.Meta(min_length=1, max_length=64)]
GridInt = Annotated[int, msgspec.Meta(ge=-1_000_000, le=1_000_000)]
Index = Annotated[int, msgspec.Meta(ge=0, le=100_000)]

MAX_COMMANDS_PER_BATCH = 500


class _Command(
    msgspec.Struct, frozen=True, kw_only=True, tag_field="type", forbid_unknown_fields=True
):
    pass


class RenameReport(_Command, frozen=True, kw_only=True, tag="RenameReport"):
    name: Name


class AddPage(_Command, frozen=True, kw_only=True, tag="AddPage"):
    page_id: UUID
    name: Name
    index: Index | None = None


class RenamePage(_Command, frozen=True, kw_only=True, tag="RenamePage"):
    page_id: UUID
    name: Name


class MovePage(_Command, frozen=True, kw_only=True, tag="MovePage"):
    page_id: UUID
    index: Index


class RemovePage(_Command, frozen=True, kw_only=True, tag="RemovePage"):
    page_id: UUID


class AddVisual(_Command, frozen=True, kw_only=True, tag="AddVisual"):
    visual_id: UUID
    page_id: UUID
    visual_type: Annotated[str, msgspec.Meta(min_length=1, max_length=64)]
    x: GridInt
    y: GridInt
    w: GridInt
    h: GridInt


class MoveVisual(_Command, frozen=True, kw_only=True, tag="MoveVisual"):
    visual_id: UUID
    x: GridInt
    y: GridInt
    #: Also restack it: 0 = bottom of the page's z-order; past the end = on top.
    z_index: Index | None = None


class ResizeVisual(_Command, frozen=True, kw_only=True, tag="ResizeVisual"):
    visual_id: UUID
    w: GridInt
    h: GridInt


class ChangeVisualType(_Command, frozen=True, kw_only=True, tag="ChangeVisualType"):
    visual_id: UUID
    visual_type: Annotated[str, msgspec.Meta(min_length=1, max_length=64)]


class RemoveVisual(_Command, frozen=True, kw_only=True, tag="RemoveVisual"):
    visual_id: UUID


class BindField(_Command, frozen=True, kw_only=True, tag="BindField"):
    visual_id: UUID
    well: Annotated[str, msgspec.Meta(min_length=1, max_length=64)]
    field: Annotated[str, msgspec.Meta(min_length=1, max_length=200)]
    aggregation: str | None = None
    index: Index | None = None


class UnbindField(_Command, frozen=True, kw_only=True, tag="UnbindField"):
    visual_id: UUID
    well: Annotated[str, msgspec.Meta(min_length=1, max_length=64)]
    field: Annotated[str, msgspec.Meta(min_length=1, max_length=200)]


class SetProperty(_Command, frozen=True, kw_only=True, tag="SetProperty"):
    target: Target
    path: Annotated[str, msgspec.Meta(min_length=1, max_length=200)]
    value: Any


class SetFilter(_Command, frozen=True, kw_only=True, tag="SetFilter"):
    target: Target
    field: Annotated[str, msgspec.Meta(min_length=1, max_length=200)]
    filter: Filter


class ClearFilter(_Command, frozen=True, kw_only=True, tag="ClearFilter"):
    target: Target
    field: Annotated[str, msgspec.Meta(min_length=1, max_length=200)]


ReportCommand = (
    RenameReport
    | AddPage
    | RenamePage
    | MovePage
    | RemovePage
    | AddVisual
    | MoveVisual
    | ResizeVisual
    | ChangeVisualType
    | RemoveVisual
    | BindField
    | UnbindField
    | SetProperty
    | SetFilter
    | ClearFilter
)


class CommandBatch(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """`POST /reports/{id}/commands` and the WebSocket's ``commands`` message."""

    #: Chosen by the client; sending the same batch again returns the first answer.
    command_id: UUID
    #: The replica (browser tab, offline client, script) that sends it: the first half of
    #: every dot its events get.
    client_id: ClientId
    commands: Annotated[
        list[ReportCommand], msgspec.Meta(min_length=1, max_length=MAX_COMMANDS_PER_BATCH)
    ]
    #: The report version the client had when it made these edits. Informational: edits merge
    #: (last writer wins per property), so a stale base is not an error.
    base_version: Annotated[int, msgspec.Meta(ge=0, le=MAX_POSITION)] | None = None
    #: The client's hybrid logical clock, so that its edits are ordered after what it has seen.
    hlc: Hlc | None = None
    correlation_id: UUID | None = None


class CreateReport(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """`POST /workspaces/{ws}/reports`."""

    name: Name
    dataset_id: UUID | None = None
    #: Optional client-chosen id (offline clients create reports too).
    id: UUID | None = None
    client_id: ClientId = "api"
    command_id: UUID | None = None
