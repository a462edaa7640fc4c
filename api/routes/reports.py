"""Reports: the document, command batches, and the report's events."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any
from uuid import UUID

import msgspec
from litestar import Request, get, post
from litestar.datastructures import State
from litestar.exceptions import ValidationException
from litestar.params import FromPath, JSONBody, Parameter

from api.schemas import CommandResult, EventPage, ReportDocument
from commands.authorization import Actor
from commands.errors import ReadModelBehind
from commands.eventstore import MAX_POSITION
from commands.report import CommandBatch
from commands.reports import BatchOutcome
from domain.errors import NotFound
from domain.report.aggregate import Report
from projections.report_queries import current_report, report_at
from sync.wire import to_message

MAX_EVENTS_PAGE = 1000
#: How long a read waits for its read model to reach `min_position`.
READ_WAIT = 5.0


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


MinPosition = Annotated[
    int | None,
    Parameter(
        ge=0,
        le=MAX_POSITION,
        description="Wait (up to 5 s) until the read model includes this global position — "
        "pass the `position` a command answered with to read your own write.",
    ),
]


@get("/reports/{report_id:uuid}", summary="The report document, now or as it was", tags=["reports"])
async def get_report(  # noqa: PLR0917 - route parameters
    report_id: FromPath[UUID],
    request: Request[Actor, Any, State],
    state: State,
    min_position: MinPosition = None,
    version: Annotated[
        int | None,
        Parameter(ge=1, le=MAX_POSITION, description="The document as it was at this version."),
    ] = None,
    at: Annotated[
        datetime | None,
        Parameter(description="The document as it was at this time (ISO 8601, with offset)."),
    ] = None,
) -> ReportDocument:
    services = state.services
    if version is not None or at is not None:
        return await _past_document(services, report_id, request.user, version=version, at=at)
    await wait_for_read_model(services, "reports", min_position)
    stored = await current_report(services.pool, services.read_schema, report_id)
    if stored is None or stored.document is None or stored.workspace_id is None:
        raise NotFound(f"report {report_id} does not exist", code="report_not_found")
    await services.authorizer.require_view(stored.workspace_id, request.user.id)
    body = b'{"version":%d,"position":%d,' % (stored.version, stored.position) + stored.document[1:]
    return msgspec.json.decode(body, type=ReportDocument)


async def _past_document(
    services: Any,
    report_id: UUID,
    actor: Actor,
    *,
    version: int | None,
    at: datetime | None,
) -> ReportDocument:
    if version is not None and at is not None:
        raise ValidationException("pass either version or at, not both")
    if at is not None and at.tzinfo is None:
        raise ValidationException(
            f"at={at.isoformat()} has no time zone; add one (e.g. Z or +02:00)"
        )
    past = await report_at(
        services.pool, services.store, services.read_schema, report_id, version=version, at=at
    )
    workspace_id = past.report.workspace_id
    if workspace_id is None:
        latest = await current_report(services.pool, services.read_schema, report_id)
        if latest is not None and latest.workspace_id is not None:
            await services.authorizer.require_view(latest.workspace_id, actor.id)
            raise NotFound(
                f"report {report_id} did not exist yet at {at.isoformat() if at else version}",
                code="not_yet_created",
            )
        raise NotFound(f"report {report_id} does not exist", code="report_not_found")
    await services.authorizer.require_view(workspace_id, actor.id)
    if version is not None and past.version < version:
        raise NotFound(
            f"report {report_id} has {past.version} versions; there is no version {version}",
            code="no_such_version",
        )
    return document_of(past.report, past.version, past.position)


async def wait_for_read_model(services: Any, projection: str, min_position: int | None) -> None:
    if min_position is None:
        return
    runner = services.projections[projection]
    if runner.position < min_position:
        newest = await services.store.last_reserved_position()
        if min_position > newest:
            # Not late: no event has that position (yet) — waiting would not help.
            raise ValidationException(
                f"min_position {min_position} is beyond the newest event ({newest}); pass the "
                "position a command answered with"
            )
    if not await runner.wait_until(min_position, READ_WAIT):
        raise ReadModelBehind(
            f"the {projection} read model has not reached position {min_position} within "
            f"{READ_WAIT:.0f} s; try again"
        )


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
        int,
        Parameter(ge=0, le=MAX_POSITION, description="Only events after this global position"),
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
