"""Reports: the document, command batches, and the report's events."""

from __future__ import annotations

from typing import Annotated, Any
from uuid import UUID

import msgspec
from litestar import Request, get, post
from litestar.datastructures import State
from litestar.params import FromPath, JSONBody, Parameter

from api.schemas import CommandResult, EventPage, ReportDocument
from commands.authorization import Actor
from commands.report import CommandBatch
from commands.reports import BatchOutcome
from domain.report.aggregate import Report
from sync.wire import to_message

MAX_EVENTS_PAGE = 1000


def document_of(report: Report, version: int, position: int) -> ReportDocument:
    body = report.document()
    body["version"] = version
    body["position"] = position
    return msgspec.convert(body, ReportDocument)


def command_result(outcome: BatchOutcome, command_id: UUID) -> CommandResult:
    return CommandResult(
        report_id=outcome.report_id,
        command_id=command_id,
        version=outcome.version,
        position=outcome.position,
        duplicate=outcome.duplicate,
        events=[to_message(event) for event in outcome.events],
    )


@get("/reports/{report_id:uuid}", summary="The report document", tags=["reports"])
async def get_report(
    report_id: FromPath[UUID], request: Request[Actor, Any, State], state: State
) -> ReportDocument:
    entry = await state.services.reports.load(report_id, request.user)
    return document_of(entry.aggregate, entry.version, entry.position)


@post(
    "/reports/{report_id:uuid}/commands",
    summary="Apply a batch of edits (atomic, idempotent on command_id)",
    tags=["reports"],
    status_code=200,
)
async def post_commands(
    report_id: FromPath[UUID],
    data: JSONBody[CommandBatch],
    request: Request[Actor, Any, State],
    state: State,
) -> CommandResult:
    outcome = await state.services.reports.handle_batch(report_id, data, request.user)
    return command_result(outcome, data.command_id)


@get(
    "/reports/{report_id:uuid}/events",
    summary="The report's events, oldest first",
    tags=["reports"],
)
async def get_events(
    report_id: FromPath[UUID],
    request: Request[Actor, Any, State],
    state: State,
    after: Annotated[
        int, Parameter(ge=0, description="Only events after this global position")
    ] = 0,
    limit: Annotated[int, Parameter(ge=1, le=MAX_EVENTS_PAGE)] = 100,
) -> EventPage:
    services = state.services
    await services.reports.workspace_of(report_id, request.user)  # authorizes
    events = await services.store.read_stream(report_id, after_position=after, limit=limit + 1)
    more = len(events) > limit
    events = events[:limit]
    return EventPage(
        events=[to_message(event) for event in events],
        next_after=events[-1].position if more and events else None,
    )
