"""Export jobs: a report's pages as a PDF (or PNG images), made by a worker and downloaded
when ready (exports/service.py)."""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Any
from uuid import UUID

import msgspec
from litestar import Request, Response, get, post
from litestar.datastructures import State
from litestar.params import FromPath, JSONBody, Parameter
from litestar.response import File

from commands.authorization import Actor
from domain.errors import InvalidCommand, NotFound
from exports.options import ExportRequest
from exports.records import ExportRecord, ExportStatus
from exports.service import Exports

JobId = Annotated[str, Parameter(description="The export job's id", max_length=64)]


class ExportOut(msgspec.Struct, frozen=True, kw_only=True):
    """An export job and where it stands."""

    id: str
    status: ExportStatus
    report_id: UUID
    version: int
    format: str
    paper: str
    orientation: str
    pages: list[UUID]
    pages_done: int
    attempts: int
    media_type: str
    error: str | None
    size: int | None
    requested_at: dt.datetime
    started_at: dt.datetime | None
    finished_at: dt.datetime | None
    #: When the file is deleted (the retention period after it was made).
    expires_at: dt.datetime | None
    #: Where to fetch the file once ``status`` is ``complete``.
    download: str | None


def export_out(record: ExportRecord) -> ExportOut:
    job = record.job
    return ExportOut(
        id=job.job_id,
        status=record.status,
        report_id=job.report_id,
        version=job.version,
        format=job.format,
        paper=job.paper,
        orientation=job.orientation,
        pages=job.pages,
        pages_done=record.pages_done,
        attempts=record.attempts,
        media_type=job.media_type,
        error=record.error,
        size=record.size,
        requested_at=record.requested_at,
        started_at=record.started_at,
        finished_at=record.finished_at,
        expires_at=record.expires_at,
        download=f"/exports/{job.job_id}/download" if record.status == "complete" else None,
    )


def _exports(state: State) -> Exports:
    exports: Exports = state.services.exports
    return exports


@post(
    "/reports/{report_id:uuid}/exports",
    summary="Export pages of the report as PDF or PNG (a job; poll GET /exports/{id})",
    tags=["exports"],
    status_code=202,
)
async def create_export(
    report_id: FromPath[UUID],
    data: JSONBody[ExportRequest],
    request: Request[Actor, Any, State],
    state: State,
) -> Response[ExportOut]:
    """The same export of the same report version is made once: asking again answers the
    job already queued, running or done (200 when its file is ready, else 202)."""
    services = state.services
    exports = _exports(state)
    report = await exports.pages.pages_at(report_id, data.version)
    await services.authorizer.require_view(report.workspace_id, request.user.id)
    record = await exports.request(report, data, str(request.user.id))
    status = 200 if record.status == "complete" else 202
    return Response(
        export_out(record),
        status_code=status,
        headers={"Location": f"/exports/{record.job.job_id}"},
    )


async def _visible(state: State, job_id: str, actor: Actor) -> ExportRecord:
    record = await _exports(state).records.get(job_id)
    missing = NotFound(
        f"no export {job_id} (it may have expired, or you may not see its report)",
        code="export_not_found",
    )
    if record is None:
        raise missing
    try:
        await state.services.authorizer.require_view(record.job.workspace_id, actor.id)
    except NotFound:
        raise missing from None
    return record


@get(
    "/exports/{job_id:str}",
    summary="An export job: status, progress, download link",
    tags=["exports"],
)
async def get_export(
    job_id: FromPath[JobId], request: Request[Actor, Any, State], state: State
) -> ExportOut:
    return export_out(await _visible(state, job_id, request.user))


@get(
    "/exports/{job_id:str}/download",
    summary="The file of a finished export",
    tags=["exports"],
    media_type="application/octet-stream",
)
async def download_export(
    job_id: FromPath[JobId], request: Request[Actor, Any, State], state: State
) -> File:
    record = await _visible(state, job_id, request.user)
    if record.status != "complete":
        raise InvalidCommand(
            f"export {job_id} is {record.status}"
            + (f": {record.error}" if record.error else "; poll GET /exports/{id} until complete"),
            code="export_not_ready",
        )
    job = record.job
    try:
        path = await _exports(state).blobs.local_path(job.blob_key)
    except FileNotFoundError:
        raise NotFound(
            f"export {job_id} has expired; ask for it again", code="export_expired"
        ) from None
    return File(
        path=path,
        filename=f"report-{job.report_id}-v{job.version}.{job.extension}",
        media_type=job.media_type,
    )


ROUTES = [create_export, get_export, download_export]
