"""Export jobs: asked for through the API, run on arq workers, kept in the blob store.

- ``request`` (the API's side) resolves the pages and version, names the job by a hash of
  them (exports/options.py) and enqueues it unless the same export is queued, running or
  finished and still kept — then that one is the answer. Nothing is rendered twice.
- ``run`` (the worker's side) renders page after page (progress in the record), writes the
  file to the blob store under ``exports/<job id>.<ext>`` and marks the record complete with
  its expiry. A transient failure (a connection lost, a store unreachable) is retried by arq
  with back-off (``Retry``); anything else fails the job with its reason in the record.
- ``sweep`` (an arq cron job) deletes the files whose retention ended.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import io
import logging
import tempfile
import zipfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final, Protocol
from uuid import UUID

import asyncpg
import msgspec
import redis.exceptions
from arq import Retry
from arq.connections import ArqRedis
from arq.constants import result_key_prefix

from charts.page import PageToRender, Paper, page_png_async, report_pdf_async
from charts.render import RenderError
from connectors.blobs import BlobStore
from connectors.errors import DataError
from domain.errors import DomainError, InvalidCommand, NotFound
from exports.options import ExportJob, ExportRequest, export_job
from exports.records import RETENTION, ExportRecord, ExportRecords

log = logging.getLogger(__name__)

#: The arq function that runs an export.
EXPORT_FUNCTION: Final = "export_report"
#: Tries before a job that keeps failing transiently is given up (arq counts them).
MAX_TRIES: Final = 4
#: Errors worth another try: the next one may find the database or store back.
TRANSIENT: Final = (
    OSError,
    asyncpg.PostgresConnectionError,
    asyncpg.exceptions.CannotConnectNowError,
    asyncpg.exceptions.TooManyConnectionsError,
    redis.exceptions.ConnectionError,
    asyncio.TimeoutError,
)


@dataclass(frozen=True)
class PagesAt:
    """A report's pages at a version."""

    report_id: UUID
    workspace_id: UUID
    version: int
    #: In report order.
    page_ids: list[UUID]


class ReportPages(Protocol):
    """What the service needs to know of a report and how to draw its pages."""

    async def pages_at(self, report_id: UUID, version: int | None) -> PagesAt:
        """The report's pages at ``version`` (None: now); `NotFound` if there is no such
        report or version."""
        ...

    async def page(self, job: ExportJob, page_id: UUID, exported_at: dt.datetime) -> PageToRender:
        """What one page of ``job`` prints (its visuals' specs with their data)."""
        ...


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


class Exports:
    def __init__(
        self,
        records: ExportRecords,
        blobs: BlobStore,
        pages: ReportPages,
        *,
        queue: ArqRedis | None = None,
        queue_name: str = "arq:queue",
        work_dir: Path | None = None,
        clock: Callable[[], dt.datetime] = _now,
        retention: dt.timedelta = RETENTION,
    ) -> None:
        self.records = records
        self.blobs = blobs
        self.pages = pages
        self.queue = queue
        self.queue_name = queue_name
        self.work_dir = work_dir
        self.clock = clock
        self.retention = retention

    # -- the API's side -----------------------------------------------------------------------

    async def request(
        self, report: PagesAt, request: ExportRequest, requested_by: str | None
    ) -> ExportRecord:
        """The export for ``request`` of ``report`` (at the version ``pages_at`` found): the
        one already made or under way, else a new job (enqueued)."""
        report_id, found, page_ids = report.report_id, report.version, report.page_ids
        pages = page_ids
        if request.pages is not None:
            unknown = [page for page in request.pages if page not in page_ids]
            if unknown:
                raise NotFound(
                    f"report {report_id} has no page {unknown[0]} at version {found}",
                    code="page_not_found",
                )
            wanted = set(request.pages)
            pages = [page for page in page_ids if page in wanted]
        if not pages:
            raise InvalidCommand(
                f"report {report_id} has no pages to export at version {found}", code="no_pages"
            )
        job = export_job(report_id, report.workspace_id, found, pages, request)
        record = ExportRecord(job=job, requested_by=requested_by, requested_at=self.clock())
        if not await self.records.create(record):
            existing = await self.records.get(job.job_id)
            if existing is not None and await self._still_good(existing):
                return existing
            await self.records.replace(record)  # failed, or its file is gone: make it again
            await self._forget_run(job)
        await self._enqueue(job)
        return record

    async def _still_good(self, record: ExportRecord) -> bool:
        if record.status == "failed":
            return False
        if record.status == "complete":
            return await self.blobs.exists(record.job.blob_key)
        return True  # queued or running: arq has it

    def _arq_id(self, job: ExportJob) -> str:
        """arq's id of the job: namespaced like every key of this installation."""
        return self.records.prefix + job.job_id

    async def _enqueue(self, job: ExportJob) -> None:
        if self.queue is None:
            raise RuntimeError("exports were asked for where no job queue is connected")
        # None when arq has the job already (queued, running, or its result still kept).
        await self.queue.enqueue_job(
            EXPORT_FUNCTION,
            msgspec.json.encode(job).decode(),
            _job_id=self._arq_id(job),
            _queue_name=self.queue_name,
        )

    async def _forget_run(self, job: ExportJob) -> None:
        """Drop arq's result of an earlier run, which would stop the job being enqueued."""
        if self.queue is not None:
            await self.queue.delete(result_key_prefix + self._arq_id(job))

    # -- the worker's side --------------------------------------------------------------------

    async def run(self, job: ExportJob, job_try: int) -> ExportRecord:
        record = await self.records.get(job.job_id) or ExportRecord(
            job=job, requested_at=self.clock()
        )
        record.status = "running"
        record.attempts = job_try
        record.started_at = self.clock()
        record.error = None
        await self.records.save(record)
        try:
            data = await self._render(job, record)
            await self._store(job, data)
        except TRANSIENT as error:
            if job_try >= MAX_TRIES:
                await self._fail(record, f"gave up after {job_try} tries: {error}")
                return record
            delay = 2**job_try
            log.warning("export %s: try %d failed (%s); again in %d s", job, job_try, error, delay)
            record.status = "queued"
            record.error = f"try {job_try} failed: {error}; retrying"
            await self.records.save(record)
            raise Retry(defer=delay) from error
        except (DomainError, DataError, RenderError, ValueError) as error:
            # Cannot succeed however often it is tried: the reason goes in the record.
            await self._fail(record, getattr(error, "detail", None) or str(error))
            return record
        except Exception:
            # A bug: logged with its traceback; the record must not say "running" forever.
            log.exception("export %s failed unexpectedly", job.job_id)
            await self._fail(record, "an unexpected error; the worker's log has the details")
            return record
        finished = self.clock()
        record.status = "complete"
        record.pages_done = len(job.pages)
        record.size = len(data)
        record.finished_at = finished
        record.expires_at = finished + self.retention
        await self.records.save(record)
        return record

    async def _render(self, job: ExportJob, record: ExportRecord) -> bytes:
        exported_at = record.started_at or self.clock()
        paper = Paper(size=job.paper, orientation=job.orientation)
        pages = []
        for page_id in job.pages:
            pages.append(await self.pages.page(job, page_id, exported_at))
            record.pages_done = len(pages)
            await self.records.save(record)
        if job.format == "pdf":
            return await report_pdf_async(pages, paper)
        files = [await page_png_async(page, paper, scale=job.scale) for page in pages]
        if len(files) == 1:
            return files[0]
        buffer = io.BytesIO()
        with zipfile.ZipFile(buffer, "w", compression=zipfile.ZIP_STORED) as archive:
            for number, png in enumerate(files, start=1):
                archive.writestr(f"page-{number:03d}.png", png)
        return buffer.getvalue()

    async def _store(self, job: ExportJob, data: bytes) -> None:
        with tempfile.NamedTemporaryFile(
            dir=self.work_dir, suffix="." + job.extension, delete=False
        ) as file:
            file.write(data)
            path = Path(file.name)
        await self.blobs.put_file(job.blob_key, path, remove_source=True)

    async def _fail(self, record: ExportRecord, reason: str) -> None:
        log.warning("export %s failed: %s", record.job.job_id, reason)
        record.status = "failed"
        record.error = reason
        record.finished_at = self.clock()
        await self.records.save(record)

    async def sweep(self, now: dt.datetime | None = None) -> int:
        """Delete the files of exports past their retention (at ``now``); how many."""
        keys = await self.records.expired_files(now or self.clock())
        for key in keys:
            await self.blobs.delete(key)
        await self.records.forget_files(keys)
        return len(keys)


async def export_report(ctx: dict[str, Any], job_json: str) -> dict[str, Any]:
    """The arq job: ``ctx["exports"]`` is the worker's `Exports`."""
    exports: Exports = ctx["exports"]
    job = msgspec.json.decode(job_json, type=ExportJob)
    record = await exports.run(job, int(ctx.get("job_try", 1)))
    return {"status": record.status, "size": record.size, "error": record.error}


async def sweep_exports(ctx: dict[str, Any]) -> int:
    exports: Exports = ctx["exports"]
    return await exports.sweep()
