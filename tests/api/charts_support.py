"""A report over the Seattle weather dataset with several visual types, built through the API
(what the chart and export tests draw)."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
from vega_datasets import local_data

from tests.apiclient import create_workspace, send, uid

WEATHER = Path(local_data.seattle_weather.filepath)


@dataclass
class WeatherReport:
    workspace_id: str
    dataset_id: str
    report_id: str
    page_id: str
    version: int
    #: visual type → visual id
    visuals: dict[str, str] = field(default_factory=dict)
    #: visual id → its title
    titles: dict[str, str] = field(default_factory=dict)


def _visual(
    page_id: str, visual_type: str, x: int, y: int, *, w: int = 8, h: int = 12
) -> dict[str, Any]:
    return {
        "type": "AddVisual",
        "visual_id": uid(),
        "page_id": page_id,
        "visual_type": visual_type,
        "x": x,
        "y": y,
        "w": w,
        "h": h,
    }


def _bind(
    visual_id: str, well: str, field_name: str, aggregation: str | None = None
) -> dict[str, Any]:
    command = {"type": "BindField", "visual_id": visual_id, "well": well, "field": field_name}
    if aggregation is not None:
        command["aggregation"] = aggregation
    return command


def _title(visual_id: str, text: str) -> dict[str, Any]:
    return {
        "type": "SetProperty",
        "target": f"visual:{visual_id}",
        "path": "title.text",
        "value": text,
    }


async def weather_report(client: httpx.AsyncClient) -> WeatherReport:
    """Six visuals on one page: column, line, pie, scatter, table and card."""
    workspace = await create_workspace(client)
    upload = await client.post(
        f"/workspaces/{workspace['id']}/datasets",
        files={"file": ("seattle-weather.csv", WEATHER.read_bytes(), "text/csv")},
        data={"name": "Seattle weather"},
    )
    assert upload.status_code == 201, upload.text
    dataset_id = upload.json()["id"]
    created = await client.post(
        f"/workspaces/{workspace['id']}/reports",
        json={"name": "Seattle weather review", "dataset_id": dataset_id},
    )
    assert created.status_code == 201, created.text
    report_id = created.json()["id"]
    page_id = uid()
    column = _visual(page_id, "column", 0, 0)
    line = _visual(page_id, "line", 8, 0)
    pie = _visual(page_id, "pie", 16, 0)
    scatter = _visual(page_id, "scatter", 0, 12)
    table = _visual(page_id, "table", 8, 12)
    card = _visual(page_id, "card", 16, 12, h=6)
    ids = {c["visual_type"]: c["visual_id"] for c in (column, line, pie, scatter, table, card)}
    titles = {
        ids["column"]: "Days by weather",
        ids["line"]: "Warmest day by month",
        ids["pie"]: "Rain by weather",
        ids["scatter"]: "Wind against temperature",
        ids["table"]: "Weather table",
        ids["card"]: "Total precipitation",
    }
    response = await send(
        client,
        report_id,
        {"type": "AddPage", "page_id": page_id, "name": "Overview"},
        column,
        line,
        pie,
        scatter,
        table,
        card,
        _bind(ids["column"], "x", "weather"),
        _bind(ids["column"], "y", "date", "count"),
        _bind(ids["line"], "x", "date"),
        _bind(ids["line"], "y", "temp_max", "max"),
        _bind(ids["pie"], "color", "weather"),
        _bind(ids["pie"], "values", "precipitation", "sum"),
        _bind(ids["scatter"], "details", "date"),
        _bind(ids["scatter"], "x", "temp_max", "avg"),
        _bind(ids["scatter"], "y", "wind", "avg"),
        _bind(ids["table"], "values", "weather"),
        _bind(ids["table"], "values", "precipitation", "sum"),
        _bind(ids["card"], "values", "precipitation", "sum"),
        *(_title(visual_id, text) for visual_id, text in titles.items()),
    )
    assert response.status_code == 200, response.text
    answer = response.json()
    await wait_for_document(client, report_id, answer["position"])
    return WeatherReport(
        workspace_id=workspace["id"],
        dataset_id=dataset_id,
        report_id=report_id,
        page_id=page_id,
        version=answer["version"],
        visuals=ids,
        titles=titles,
    )


async def wait_for_document(client: httpx.AsyncClient, report_id: str, position: int) -> None:
    response = await client.get(f"/reports/{report_id}", params={"min_position": position})
    assert response.status_code == 200, response.text


async def wait_for_export(
    client: httpx.AsyncClient, job_id: str, timeout: float = 60
) -> dict[str, Any]:
    """Poll the job until it is finished (the job's own status, not a fixed sleep)."""
    deadline = asyncio.get_running_loop().time() + timeout
    while True:
        response = await client.get(f"/exports/{job_id}")
        assert response.status_code == 200, response.text
        body: dict[str, Any] = response.json()
        if body["status"] in {"complete", "failed"}:
            return body
        assert asyncio.get_running_loop().time() < deadline, (
            f"export still {body['status']}: {body}"
        )
        await asyncio.sleep(0.1)
