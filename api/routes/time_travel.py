"""A report's past: what changed between two versions, and going back to one of them."""

from __future__ import annotations

import uuid
from typing import Annotated, Any
from uuid import UUID

import msgspec
from litestar import Request, get, post
from litestar.datastructures import State
from litestar.params import FromPath, JSONBody, QueryParameter

from api.routes.reports import command_result, wait_for_read_model
from api.schemas import ReportDiff, RevertResult
from commands.authorization import Actor
from commands.eventstore import MAX_POSITION
from commands.report import ClientId
from domain.report.diff import diff
from projections.report_queries import existing_report_at, report_at
from projections.report_states import ReportAt


class RevertRequest(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """`POST /reports/{id}/revert`."""

    #: The version whose document the report should look like again.
    to_version: Annotated[int, msgspec.Meta(ge=1, le=MAX_POSITION)]
    command_id: UUID | None = None
    client_id: ClientId = "revert"


async def _at_version(services: Any, report_id: UUID, version: int, actor: Actor) -> ReportAt:
    past, _ = await existing_report_at(
        services.pool,
        services.store,
        services.read_schema,
        report_id,
        version,
        services.authorizer.viewer(actor.id),
    )
    return past


@get(
    "/reports/{report_id:uuid}/diff", summary="What changed between two versions", tags=["history"]
)
async def get_diff(
    report_id: FromPath[UUID],
    request: Request[Actor, Any, State],
    state: State,
    from_version: Annotated[int, QueryParameter(name="from", ge=1, le=MAX_POSITION)],
    to_version: Annotated[int | None, QueryParameter(name="to", ge=1, le=MAX_POSITION)] = None,
) -> ReportDiff:
    """Changes from version `from` to version `to` (default: the current one): pages and
    visuals by id, each added, removed, changed or moved path with its before and after."""
    services = state.services
    before = await _at_version(services, report_id, from_version, request.user)
    if to_version is None:
        after = await report_at(services.pool, services.store, services.read_schema, report_id)
    else:
        after = await _at_version(services, report_id, to_version, request.user)
    return ReportDiff(
        report_id=report_id,
        from_version=before.version,
        to_version=after.version,
        changes=diff(before.report.document(), after.report.document()),
    )


@post(
    "/reports/{report_id:uuid}/revert",
    summary="Make the report look as it did at an earlier version (by appending edits)",
    tags=["history"],
    status_code=200,
)
async def post_revert(
    report_id: FromPath[UUID],
    data: JSONBody[RevertRequest],
    request: Request[Actor, Any, State],
    state: State,
) -> RevertResult:
    """History is never rewritten: the revert appends one atomic batch of ordinary edits.
    Pages and visuals removed since come back under new ids (ids are never reused); the
    answer maps old ids to new ones and lists what edits cannot restore."""
    services = state.services
    target = await _at_version(services, report_id, data.to_version, request.user)
    command_id = data.command_id or uuid.uuid4()
    outcome, plan = await services.reports.revert(
        report_id,
        target.report.document(),
        request.user,
        command_id=command_id,
        client_id=data.client_id,
    )
    await wait_for_read_model(services, "reports", outcome.position or None)
    return RevertResult(
        **msgspec.structs.asdict(command_result(outcome, command_id)),
        to_version=data.to_version,
        recreated=plan.recreated if plan else {},
        unrestorable=plan.unrestorable if plan else [],
    )
