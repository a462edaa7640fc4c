"""What a subscription's email carries: its report (or the chosen pages) drawn at its current
version — one PDF, or a PNG per page (attached or inline) — for delivery/scheduler.py."""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Callable

from charts.page import Paper, page_png_async, report_pdf_async
from delivery.mail import Attachment
from delivery.scheduler import Rendering
from domain.errors import NotFound
from domain.subscription.aggregate import SubscriptionSnapshot
from exports.charts import VisualCharts
from exports.documents import ReportDocuments

_NOT_IN_NAMES = re.compile(r"[^\w.-]+")


def file_stem(name: str) -> str:
    """A report or page name as a file name people recognise ("Q3 review" → "Q3-review")."""
    return _NOT_IN_NAMES.sub("-", name).strip("-.")[:80] or "report"


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


class SubscriptionRenderer:
    """`delivery.scheduler.Render` over the stored reports."""

    def __init__(
        self,
        documents: ReportDocuments,
        charts: VisualCharts,
        *,
        paper: Paper | None = None,
        clock: Callable[[], dt.datetime] = _now,
    ) -> None:
        self.documents = documents
        self.charts = charts
        self.paper = paper or Paper()
        self.clock = clock

    async def __call__(self, subscription: SubscriptionSnapshot) -> Rendering:
        loaded = await self.documents.load(subscription.report_id)
        shown = [page["id"] for page in loaded.document["pages"]]
        wanted = [str(page) for page in subscription.pages] or shown
        pages_ids = [page for page in shown if page in set(wanted)]
        if not pages_ids:
            raise NotFound(
                f"report {subscription.report_id} has none of the subscribed pages any more",
                code="page_not_found",
            )
        exported_at = self.clock()
        pages = [await self.charts.page(loaded, page_id, exported_at) for page_id in pages_ids]
        report_name = loaded.document.get("name") or "Report"
        stem = file_stem(report_name)
        attachments: list[Attachment]
        if subscription.format == "pdf":
            data = await report_pdf_async(pages, self.paper)
            attachments = [
                Attachment(
                    filename=f"{stem}-v{loaded.version}.pdf",
                    content_type="application/pdf",
                    data=data,
                    title=report_name,
                )
            ]
        else:
            attachments = [
                Attachment(
                    filename=f"{stem}-{number}-{file_stem(page.page_name)}.png",
                    content_type="image/png",
                    data=await page_png_async(page, self.paper),
                    title=page.page_name,
                )
                for number, page in enumerate(pages, start=1)
            ]
        return Rendering(
            report_name=report_name, attachments=attachments, report_version=loaded.version
        )
