"""Small builders for API tests: workspaces, reports and command batches through real HTTP."""

from __future__ import annotations

import uuid
from typing import Any

import httpx


def uid() -> str:
    return str(uuid.uuid4())


async def create_workspace(client: httpx.AsyncClient, name: str = "Sales") -> dict[str, Any]:
    response = await client.post("/workspaces", json={"name": name})
    assert response.status_code == 201, response.text
    return response.json()  # type: ignore[no-any-return]


async def create_report(
    client: httpx.AsyncClient, workspace_id: str, name: str = "Q3 review"
) -> dict[str, Any]:
    response = await client.post(f"/workspaces/{workspace_id}/reports", json={"name": name})
    assert response.status_code == 201, response.text
    return response.json()  # type: ignore[no-any-return]


def batch(*commands: dict[str, Any], client_id: str = "tab-1", **extra: Any) -> dict[str, Any]:
    return {"command_id": uid(), "client_id": client_id, "commands": list(commands), **extra}


async def send(
    client: httpx.AsyncClient, report_id: str, *commands: dict[str, Any], **extra: Any
) -> httpx.Response:
    return await client.post(f"/reports/{report_id}/commands", json=batch(*commands, **extra))


async def page_with_visual(
    client: httpx.AsyncClient, report_id: str, visual_type: str = "column"
) -> tuple[str, str]:
    page_id, visual_id = uid(), uid()
    response = await send(
        client,
        report_id,
        {"type": "AddPage", "page_id": page_id, "name": "Overview"},
        {
            "type": "AddVisual",
            "visual_id": visual_id,
            "page_id": page_id,
            "visual_type": visual_type,
            "x": 0,
            "y": 0,
            "w": 6,
            "h": 4,
        },
    )
    assert response.status_code == 200, response.text
    return page_id, visual_id


def assert_problem(
    response: httpx.Response, status: int, *, code: str | None = None
) -> dict[str, Any]:
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/problem+json"), response.headers
    body: dict[str, Any] = response.json()
    assert body["status"] == status
    assert body["title"]
    assert body["detail"]
    if code is not None:
        assert body.get("code") == code, body
    return body
