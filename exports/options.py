"""What an export is asked for, and the job id that names it.

The job id is a hash of the report, its version and the options: asking twice for the same
export of the same version gives the same job, which arq runs once (and a finished one is
served again until it expires). A new version of the report is a new job.
"""

from __future__ import annotations

import hashlib
from typing import Annotated, Final, Literal
from uuid import UUID

import msgspec

from charts.page import Orientation, PaperSize
from commands.eventstore import MAX_POSITION

ExportFormat = Literal["pdf", "png"]

#: Pages one export may hold.
MAX_PAGES: Final = 100


class ExportRequest(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """`POST /reports/{id}/exports`: the report's pages as one PDF, or as PNG images (one page:
    a PNG; several: a ZIP of PNGs, one per page, in report order)."""

    format: ExportFormat = "pdf"
    #: Page ids, or None for every page (in report order).
    pages: Annotated[list[UUID], msgspec.Meta(min_length=1, max_length=MAX_PAGES)] | None = None
    paper: PaperSize = "A4"
    orientation: Orientation = "landscape"
    #: PNG pixels per canvas pixel.
    scale: Annotated[float, msgspec.Meta(ge=0.5, le=4)] = 1.0
    #: The report version to export (None: the current one, resolved when the job is made).
    version: Annotated[int, msgspec.Meta(ge=1, le=MAX_POSITION)] | None = None


class ExportJob(msgspec.Struct, frozen=True, kw_only=True):
    """A resolved export: everything the worker needs, and nothing that changes its output
    beyond what the job id covers."""

    job_id: str
    report_id: UUID
    workspace_id: UUID
    version: int
    format: ExportFormat
    #: The pages, in report order.
    pages: list[UUID]
    paper: PaperSize
    orientation: Orientation
    scale: float

    @property
    def extension(self) -> str:
        return "zip" if self.format == "png" and len(self.pages) > 1 else self.format

    @property
    def media_type(self) -> str:
        return {"pdf": "application/pdf", "png": "image/png", "zip": "application/zip"}[
            self.extension
        ]

    @property
    def blob_key(self) -> str:
        return f"exports/{self.job_id}.{self.extension}"


def export_job(
    report_id: UUID, workspace_id: UUID, version: int, pages: list[UUID], request: ExportRequest
) -> ExportJob:
    """The job for ``request`` on ``version`` of the report, ``pages`` resolved."""
    identity = msgspec.json.encode(
        [
            str(report_id),
            version,
            request.format,
            [str(page) for page in pages],
            request.paper,
            request.orientation,
            request.scale if request.format == "png" else 1.0,
        ]
    )
    job_id = "export-" + hashlib.sha256(identity).hexdigest()[:32]
    return ExportJob(
        job_id=job_id,
        report_id=report_id,
        workspace_id=workspace_id,
        version=version,
        format=request.format,
        pages=pages,
        paper=request.paper,
        orientation=request.orientation,
        scale=request.scale if request.format == "png" else 1.0,
    )
