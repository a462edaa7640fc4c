"""The report pages an export draws: found in the stored report, laid out by exports/charts.py."""

from __future__ import annotations

import datetime as dt
from uuid import UUID

from charts.page import PageToRender
from exports.charts import VisualCharts
from exports.documents import LoadedDocument, ReportDocuments
from exports.options import ExportJob
from exports.service import PagesAt


class StoredReportPages:
    """`exports.service.ReportPages` over the event store and the read models."""

    def __init__(self, documents: ReportDocuments, charts: VisualCharts) -> None:
        self.documents = documents
        self.charts = charts
        #: The document of the job being drawn (its pages are asked for one after another).
        self._loaded: tuple[str, LoadedDocument] | None = None

    async def pages_at(self, report_id: UUID, version: int | None) -> PagesAt:
        loaded = await self.documents.load(report_id, version)
        return PagesAt(
            report_id=report_id,
            workspace_id=loaded.workspace_id,
            version=loaded.version,
            page_ids=[UUID(page["id"]) for page in loaded.document["pages"]],
        )

    async def page(self, job: ExportJob, page_id: UUID, exported_at: dt.datetime) -> PageToRender:
        kept = self._loaded
        if kept is not None and kept[0] == job.job_id:
            loaded = kept[1]
        else:
            loaded = await self.documents.load(job.report_id, job.version)
            self._loaded = (job.job_id, loaded)
        return await self.charts.page(loaded, page_id, exported_at)
