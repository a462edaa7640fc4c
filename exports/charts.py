"""A visual of a report, drawn: its query planned (charts/query.py), answered by the query
engine (through the answer cache, like any dashboard query), and compiled to Vega-Lite
(charts/compile.py); and a page of visuals laid out for charts/page.py."""

from __future__ import annotations

import asyncio
import datetime as dt
from collections.abc import Callable, Mapping
from typing import Any
from uuid import UUID

import asyncpg
import msgspec

from charts.canvas import GridLayout, visual_box
from charts.compile import compile_visual
from charts.fields import dataset_fields
from charts.page import PageToRender, PlacedVisual, describe_filter, export_footer
from charts.query import QueryPlan, query_for
from charts.theme import theme_from
from connectors.engine import QueryEngine
from connectors.errors import DataError
from connectors.query import decode_spec
from domain.dataset.aggregate import DatasetSnapshot
from exports.documents import LoadedDocument
from projections.datasets import dataset_record

_decode_answer = msgspec.json.Decoder().decode


def _today() -> dt.date:
    return dt.datetime.now(dt.UTC).date()


class VisualCharts:
    def __init__(
        self,
        pool: asyncpg.Pool,
        read_schema: str,
        engine: QueryEngine,
        *,
        today: Callable[[], dt.date] = _today,
    ) -> None:
        self.pool = pool
        self.read_schema = read_schema
        self.engine = engine
        self.today = today

    async def dataset(self, loaded: LoadedDocument) -> DatasetSnapshot | None:
        dataset_id = loaded.document.get("dataset_id")
        if dataset_id is None:
            return None
        record = await dataset_record(self.pool, self.read_schema, UUID(dataset_id))
        return None if record is None else record.snapshot

    async def spec(
        self,
        loaded: LoadedDocument,
        visual_id: UUID | str,
        *,
        dataset: DatasetSnapshot | None = None,
        width: float | None = None,
        height: float | None = None,
    ) -> dict[str, Any]:
        """The visual's Vega-Lite spec with its data; sized like its box on the canvas unless
        ``width``/``height`` say otherwise."""
        page, visual = loaded.visual(visual_id)
        if dataset is None:
            dataset = await self.dataset(loaded)
        box = visual_box(msgspec.convert(visual["layout"], GridLayout))
        return await self._compile(
            loaded, page, visual, dataset, width=width or box.width, height=height or box.height
        )

    async def _compile(
        self,
        loaded: LoadedDocument,
        page: Mapping[str, Any],
        visual: Mapping[str, Any],
        dataset: DatasetSnapshot | None,
        *,
        width: float,
        height: float,
    ) -> dict[str, Any]:
        theme = theme_from(loaded.document.get("properties", {}).get("theme"))
        plan: QueryPlan | None = None
        result: dict[str, Any] | None = None
        totals: list[dict[str, Any]] = []
        if dataset is not None:
            plan = query_for(
                visual,
                filters=[*loaded.document.get("filters", []), *page.get("filters", [])],
                dataset_fields=dataset_fields(dataset.schema),
            )
        if plan is not None and dataset is not None:
            # The answer, and the totals a table or matrix prints (one query each).
            answers = await asyncio.gather(
                self._answer(dataset, plan.spec),
                *(self._answer(dataset, query.spec) for query in plan.totals),
            )
            result, totals = answers[0], list(answers[1:])
        return compile_visual(
            visual, result, plan=plan, theme=theme, width=width, height=height, totals=totals
        )

    async def _answer(self, dataset: DatasetSnapshot, spec: dict[str, Any]) -> dict[str, Any]:
        query = decode_spec(msgspec.json.encode(spec))
        compiled = self.engine.compile(dataset, query, self.today())
        answer = await self.engine.answer(dataset, compiled, "json")
        decoded: dict[str, Any] = _decode_answer(answer.body)
        return decoded

    async def page(
        self, loaded: LoadedDocument, page_id: UUID | str, exported_at: dt.datetime
    ) -> PageToRender:
        """Everything printed on one page of the report."""
        page = loaded.page(page_id)
        dataset = await self.dataset(loaded)
        placed = []
        for visual in page["visuals"]:
            layout = msgspec.convert(visual["layout"], GridLayout)
            box = visual_box(layout)
            try:
                spec = await self._compile(
                    loaded, page, visual, dataset, width=box.width, height=box.height
                )
            except DataError as error:
                # One visual's failing query (a source gone, a measure that no longer
                # compiles) costs that visual, not the page: it says why in its place.
                placed.append(
                    PlacedVisual(layout=layout, spec={}, name=_name(visual), error=error.detail)
                )
                continue
            placed.append(PlacedVisual(layout=layout, spec=spec, name=_name(visual)))
        return PageToRender(
            report_name=loaded.document.get("name") or "",
            page_name=page.get("name") or "",
            report_filters=tuple(describe_filter(f) for f in loaded.document.get("filters", [])),
            page_filters=tuple(describe_filter(f) for f in page.get("filters", [])),
            footer=export_footer(loaded.version, exported_at),
            visuals=tuple(placed),
        )


def _name(visual: Mapping[str, Any]) -> str:
    title = (visual.get("properties") or {}).get("title")
    text = title.get("text") if isinstance(title, Mapping) else None
    return text if isinstance(text, str) and text else str(visual.get("visual_type", "visual"))
