"""WS /reports/{id}/live: co-editors see each other's edits as they commit, and each other."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import websockets
from websockets.asyncio.client import ClientConnection

from tests.apiclient import create_report, create_workspace, page_with_visual, uid


async def _connect(loupe, report_id: str, user: str, **params: Any) -> ClientConnection:
    query = "&".join(f"{key}={value}" for key, value in {"dev_user": user, **params}.items())
    return await websockets.connect(f"{loupe.ws_url}/reports/{report_id}/live?{query}")


async def _next(ws: ClientConnection, kind: str, timeout: float = 10) -> dict[str, Any]:
    """The next frame of `kind`, skipping others (presence updates come and go)."""
    async with asyncio.timeout(timeout):
        while True:
            frame = json.loads(await ws.recv())
            if frame["type"] == kind:
                return frame


def _commands(*commands: dict[str, Any], client_id: str) -> str:
    return json.dumps(
        {
            "type": "commands",
            "command_id": uid(),
            "client_id": client_id,
            "commands": list(commands),
        }
    )


async def test_two_clients_see_each_others_edits(loupe):
    async with loupe.client("ana") as client:
        workspace = await create_workspace(client)
        report = await create_report(client, workspace["id"])
        _, visual_id = await page_with_visual(client, report["id"])
    ana = await _connect(loupe, report["id"], "ana", client_id="ana-tab", after_version=3)
    ana_2 = await _connect(loupe, report["id"], "ana", client_id="ana-laptop", after_version=3)
    try:
        assert (await _next(ana, "hello"))["version"] == 3
        assert (await _next(ana_2, "hello"))["version"] == 3

        await ana.send(
            _commands(
                {"type": "MoveVisual", "visual_id": visual_id, "x": 3, "y": 1}, client_id="ana-tab"
            )
        )
        result = await _next(ana, "result")
        assert result["version"] == 4
        seen_by_other = await _next(ana_2, "event")
        assert seen_by_other["event"]["type"] == "VisualMoved"
        assert seen_by_other["event"]["version"] == 4
        assert seen_by_other["event"]["client_id"] == "ana-tab"
        assert seen_by_other["event"]["data"]["x"] == 3
        own = await _next(ana, "event")
        assert own["event"]["id"] == seen_by_other["event"]["id"]

        await ana_2.send(
            _commands(
                {
                    "type": "SetProperty",
                    "target": f"visual:{visual_id}",
                    "path": "title.text",
                    "value": "Hi",
                },
                client_id="ana-laptop",
            )
        )
        back = await _next(ana, "event")
        assert back["event"]["type"] == "PropertySet"
        assert back["event"]["version"] == 5
    finally:
        await ana.close()
        await ana_2.close()


async def test_a_reconnecting_client_catches_up_from_its_version(loupe):
    async with loupe.client("ana") as client:
        workspace = await create_workspace(client)
        report = await create_report(client, workspace["id"])
        await page_with_visual(client, report["id"])
        for name in ("a", "b", "c"):
            response = await client.post(
                f"/reports/{report['id']}/commands",
                json={
                    "command_id": uid(),
                    "client_id": "x",
                    "commands": [{"type": "RenameReport", "name": name}],
                },
            )
            assert response.status_code == 200
    ws = await _connect(loupe, report["id"], "ana", after_version=2)
    try:
        versions = [(await _next(ws, "event"))["event"]["version"] for _ in range(4)]
        hello = await _next(ws, "hello")
    finally:
        await ws.close()
    assert versions == [3, 4, 5, 6]
    assert hello["version"] == 6


async def test_presence_lists_everyone_in_the_report(loupe):
    async with loupe.client("ana") as client:
        workspace = await create_workspace(client)
        report = await create_report(client, workspace["id"])
    first = await _connect(loupe, report["id"], "ana", client_id="one")
    second = await _connect(loupe, report["id"], "ana", client_id="two")
    try:
        await second.send(json.dumps({"type": "presence", "state": {"selection": ["v1"]}}))
        async with asyncio.timeout(10):
            while True:
                frame = await _next(first, "presence")
                members = {m["client_id"]: m for m in frame["members"]}
                if members.get("two", {}).get("state") == {"selection": ["v1"]}:
                    break
        assert set(members) == {"one", "two"}
        assert members["one"]["name"] == "ana"
        await second.close()
        async with asyncio.timeout(10):
            while True:
                frame = await _next(first, "presence")
                if [m["client_id"] for m in frame["members"]] == ["one"]:
                    break
    finally:
        await first.close()


async def test_bad_messages_get_an_error_frame_and_the_socket_stays_open(loupe):
    async with loupe.client("ana") as client:
        workspace = await create_workspace(client)
        report = await create_report(client, workspace["id"])
    ws = await _connect(loupe, report["id"], "ana")
    try:
        await ws.send("not json")
        assert (await _next(ws, "error"))["problem"]["status"] == 400
        await ws.send(
            json.dumps(
                {
                    "type": "commands",
                    "command_id": uid(),
                    "client_id": "c",
                    "commands": [{"type": "RemoveVisual", "visual_id": uid()}],
                }
            )
        )
        error = await _next(ws, "error")
        assert error["problem"]["status"] == 404
        assert error["problem"]["command_index"] == 0
        await ws.send(json.dumps({"type": "ping"}))
        await _next(ws, "pong")
    finally:
        await ws.close()


async def test_a_non_member_is_turned_away(loupe):
    async with loupe.client("ana") as client:
        workspace = await create_workspace(client)
        report = await create_report(client, workspace["id"])
    ws = await _connect(loupe, report["id"], "mallory")
    error = await _next(ws, "error")
    assert error["problem"]["status"] == 404
    with __import__("pytest").raises(websockets.ConnectionClosed) as closed:
        await ws.recv()
    assert closed.value.rcvd.code == 4404
