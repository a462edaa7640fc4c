"""Workspaces and the reports created in them."""

from __future__ import annotations

from typing import Any
from uuid import UUID

from litestar import Request, get, post
from litestar.datastructures import State
from litestar.params import FromPath, JSONBody

from api.routes.reports import MinPosition, document_of, wait_for_read_model
from api.schemas import ReportDocument, ReportSummaryList, WorkspaceList, WorkspaceOut
from commands.authorization import Actor
from commands.report import CreateReport
from commands.workspace import CreateWorkspace
from projections.report_queries import catalogue
from projections.workspaces import workspaces_of

#: How long a write waits for the workspace catalogue to include it (read-your-writes).
CATALOGUE_WAIT = 5.0


@post(
    "/workspaces", summary="Create a workspace (the caller becomes its owner)", tags=["workspaces"]
)
async def create_workspace(
    data: JSONBody[CreateWorkspace], request: Request[Actor, Any, State], state: State
) -> WorkspaceOut:
    services = state.services
    outcome = await services.workspaces.create(data, request.user)
    await services.projections["workspaces"].wait_until(outcome.position, CATALOGUE_WAIT)
    return WorkspaceOut(
        id=outcome.workspace_id, name=outcome.name, role="owner", version=outcome.version
    )


@get("/workspaces", summary="The caller's workspaces", tags=["workspaces"])
async def list_workspaces(request: Request[Actor, Any, State], state: State) -> WorkspaceList:
    services = state.services
    rows = await workspaces_of(services.pool, services.read_schema, request.user.id)
    return WorkspaceList(
        workspaces=[
            WorkspaceOut(id=row.id, name=row.name, role=row.role, version=row.version)
            for row in rows
        ]
    )


@get(
    "/workspaces/{workspace_id:uuid}/reports",
    summary="The workspace's report catalogue",
    tags=["reports"],
)
async def list_reports(
    workspace_id: FromPath[UUID],
    request: Request[Actor, Any, State],
    state: State,
    min_position: MinPosition = None,
) -> ReportSummaryList:
    """Each report with who created it, who last edited it and when, and its size."""
    services = state.services
    await services.authorizer.require_view(workspace_id, request.user.id)
    await wait_for_read_model(services, "reports", min_position)
    return ReportSummaryList(
        reports=await catalogue(services.pool, services.read_schema, workspace_id)
    )


@post(
    "/workspaces/{workspace_id:uuid}/reports",
    summary="Create a report in a workspace",
    tags=["reports"],
)
async def create_report(
    workspace_id: FromPath[UUID],
    data: JSONBody[CreateReport],
    request: Request[Actor, Any, State],
    state: State,
) -> ReportDocument:
    services = state.services
    outcome = await services.reports.create(workspace_id, data, request.user)
    entry = await services.reports.load(outcome.report_id, request.user)
    return document_of(entry.aggregate, entry.version, entry.position)
