"""A report's document, now or at a version, for drawing it (no authorization here: the API
checks the caller may see the workspace; a worker draws what the API accepted)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any
from uuid import UUID

import asyncpg
import msgspec

from commands.eventstore import EventStore
from domain.errors import NotFound
from projections.report_queries import Authorize, current_report, existing_report_at


@dataclass(frozen=True)
class LoadedDocument:
    report_id: UUID
    workspace_id: UUID
    version: int
    position: int
    #: The report document (shared/API.md), without ``version`` and ``position``.
    document: dict[str, Any]

    def page(self, page_id: UUID | str) -> dict[str, Any]:
        wanted = str(page_id)
        for page in self.document["pages"]:
            if page["id"] == wanted:
                return dict(page)
        raise NotFound(
            f"report {self.report_id} has no page {wanted} at version {self.version}",
            code="page_not_found",
        )

    def visual(self, visual_id: UUID | str) -> tuple[dict[str, Any], dict[str, Any]]:
        """(the page, the visual) of a visual that shows on a page."""
        wanted = str(visual_id)
        for page in self.document["pages"]:
            for visual in page["visuals"]:
                if visual["id"] == wanted:
                    return page, visual
        raise NotFound(
            f"report {self.report_id} has no visual {wanted} at version {self.version}",
            code="visual_not_found",
        )


class ReportDocuments:
    def __init__(self, pool: asyncpg.Pool, store: EventStore, read_schema: str) -> None:
        self.pool = pool
        self.store = store
        self.read_schema = read_schema

    async def load(
        self, report_id: UUID, version: int | None = None, *, authorize: Authorize | None = None
    ) -> LoadedDocument:
        """The document now (the read model's) or at ``version`` (folded from a snapshot);
        ``authorize`` checks the reader may see its workspace before anything else is said."""
        if version is None:
            stored = await current_report(self.pool, self.read_schema, report_id)
            if stored is None or stored.document is None or stored.workspace_id is None:
                raise NotFound(f"report {report_id} does not exist", code="report_not_found")
            if authorize is not None:
                await authorize(stored.workspace_id)
            return LoadedDocument(
                report_id=report_id,
                workspace_id=stored.workspace_id,
                version=stored.version,
                position=stored.position,
                document=msgspec.json.decode(stored.document),
            )
        past, workspace_id = await existing_report_at(
            self.pool, self.store, self.read_schema, report_id, version, authorize
        )
        return LoadedDocument(
            report_id=report_id,
            workspace_id=workspace_id,
            version=past.version,
            position=past.position,
            document=past.report.document(),
        )
