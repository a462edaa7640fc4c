"""Response bodies of the HTTP API (msgspec Structs: they document the OpenAPI schema too)."""

from __future__ import annotations

from typing import Any
from uuid import UUID

import msgspec

from domain.report.diff import Change
from projections.audit_queries import AuditEntry, HistoryBurst
from projections.report_queries import ReportSummary
from sync.wire import EventMessage


class WorkspaceOut(msgspec.Struct, frozen=True, kw_only=True):
    id: UUID
    name: str
    #: The caller's role in it.
    role: str
    version: int


class WorkspaceList(msgspec.Struct, frozen=True, kw_only=True):
    workspaces: list[WorkspaceOut]


class Layout(msgspec.Struct, frozen=True, kw_only=True):
    x: int
    y: int
    w: int
    h: int


class FieldRef(msgspec.Struct, frozen=True, kw_only=True):
    field: str
    aggregation: str | None


class VisualOut(msgspec.Struct, frozen=True, kw_only=True):
    id: UUID
    visual_type: str
    layout: Layout
    wells: dict[str, list[FieldRef]]
    properties: dict[str, Any]
    #: Each is a query-spec filter: ``{"field", "op", ...}``.
    filters: list[dict[str, Any]]


class PageOut(msgspec.Struct, frozen=True, kw_only=True):
    id: UUID
    name: str
    filters: list[dict[str, Any]]
    properties: dict[str, Any]
    visuals: list[VisualOut]


class ReportDocument(msgspec.Struct, frozen=True, kw_only=True):
    """The report as it stands: pages and visuals in display order."""

    id: UUID
    workspace_id: UUID
    name: str
    dataset_id: UUID | None
    #: The report's stream version: how many edits it has had.
    version: int
    #: The global position of its latest event.
    position: int
    filters: list[dict[str, Any]]
    properties: dict[str, Any]
    pages: list[PageOut]


class CommandResult(msgspec.Struct, frozen=True, kw_only=True):
    """The answer to a command batch (also the answer to a repeated one)."""

    report_id: UUID
    command_id: UUID
    #: The report's version after the batch.
    version: int
    #: The global position of the batch's last event: pass it as ``min_position`` to read
    #: your own write.
    position: int
    #: True when this ``command_id`` had been applied before: nothing new was appended.
    duplicate: bool
    events: list[EventMessage]


class EventPage(msgspec.Struct, frozen=True, kw_only=True):
    events: list[EventMessage]
    #: Pass as ``after`` to get the next page; ``None`` when this page was the last.
    next_after: int | None


class ReportDiff(msgspec.Struct, frozen=True, kw_only=True):
    report_id: UUID
    from_version: int
    to_version: int
    changes: list[Change]


class RevertResult(CommandResult, frozen=True, kw_only=True):
    """A command result, plus what the revert could not do by edits."""

    to_version: int
    #: Old page/visual id → the new id it was re-created under (removed ids never return).
    recreated: dict[str, str]
    #: Differences edits cannot undo (e.g. concurrent edits that overfilled a well).
    unrestorable: list[str]


class ReportSummaryList(msgspec.Struct, frozen=True, kw_only=True):
    reports: list[ReportSummary]


class AuditPage(msgspec.Struct, frozen=True, kw_only=True):
    """Audit entries, oldest first."""

    entries: list[AuditEntry]
    #: Pass as ``after`` to get the next page; ``None`` when this page was the last.
    next_after: int | None


class ReportHistory(msgspec.Struct, frozen=True, kw_only=True):
    """A report's edits grouped into bursts, newest first."""

    report_id: UUID
    bursts: list[HistoryBurst]
    #: Pass as ``before`` to get the next (older) page; ``None`` when this page was the last.
    next_before: int | None
