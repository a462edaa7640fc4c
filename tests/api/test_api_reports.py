"""Reports through the HTTP API: documents, command batches, errors and events."""

from __future__ import annotations

import asyncio

from tests.apiclient import (
    assert_problem,
    batch,
    create_report,
    create_workspace,
    page_with_visual,
    send,
    uid,
)


async def test_edits_show_up_in_the_report_document(loupe):
    async with loupe.client() as client:
        workspace = await create_workspace(client)
        report = await create_report(client, workspace["id"], "Q3 review")
        assert report["version"] == 1
        assert report["pages"] == []
        page_id, visual_id = await page_with_visual(client, report["id"])
        response = await send(
            client,
            report["id"],
            {"type": "BindField", "visual_id": visual_id, "well": "x", "field": "region"},
            {
                "type": "BindField",
                "visual_id": visual_id,
                "well": "y",
                "field": "sales",
                "aggregation": "sum",
            },
            {"type": "MoveVisual", "visual_id": visual_id, "x": 6, "y": 2},
            {
                "type": "SetProperty",
                "target": f"visual:{visual_id}",
                "path": "title.text",
                "value": "Sales by region",
            },
            {
                "type": "SetFilter",
                "target": "report",
                "field": "year",
                "filter": {"op": "in", "values": [2024, 2025]},
            },
            {"type": "RenameReport", "name": "Q3 review (final)"},
        )
        assert response.status_code == 200, response.text
        result = response.json()
        assert result["version"] == 9
        assert [event["type"] for event in result["events"]] == [
            "FieldBound",
            "FieldBound",
            "VisualMoved",
            "PropertySet",
            "FilterSet",
            "ReportRenamed",
        ]
        assert result["position"] == result["events"][-1]["position"]

        document = (
            await client.get(
                f"/reports/{report['id']}", params={"min_position": result["position"]}
            )
        ).json()
    assert document["name"] == "Q3 review (final)"
    assert document["version"] == 9
    assert document["position"] == result["position"]
    assert document["workspace_id"] == workspace["id"]
    assert document["filters"] == [{"field": "year", "op": "in", "values": [2024, 2025]}]
    [page] = document["pages"]
    assert page["id"] == page_id
    [visual] = page["visuals"]
    assert visual["id"] == visual_id
    assert visual["visual_type"] == "column"
    assert visual["layout"] == {"x": 6, "y": 2, "w": 6, "h": 4}
    assert visual["wells"]["x"] == [{"field": "region", "aggregation": None}]
    assert visual["wells"]["y"] == [{"field": "sales", "aggregation": "sum"}]
    assert visual["properties"] == {"title": {"text": "Sales by region"}}


async def test_a_repeated_command_id_returns_the_first_answer_and_appends_nothing(loupe):
    async with loupe.client() as client:
        workspace = await create_workspace(client)
        report = await create_report(client, workspace["id"])
        body = batch({"type": "AddPage", "page_id": uid(), "name": "One"})
        first = await client.post(f"/reports/{report['id']}/commands", json=body)
        again = await client.post(f"/reports/{report['id']}/commands", json=body)
        both = await asyncio.gather(
            *(client.post(f"/reports/{report['id']}/commands", json=body) for _ in range(5))
        )
        events = (await client.get(f"/reports/{report['id']}/events")).json()["events"]
    assert first.status_code == again.status_code == 200
    assert first.json()["duplicate"] is False
    assert again.json()["duplicate"] is True
    assert again.json()["version"] == first.json()["version"]
    assert again.json()["events"] == first.json()["events"]
    assert all(response.json()["events"] == first.json()["events"] for response in both)
    assert [event["type"] for event in events] == ["ReportCreated", "PageAdded"]


async def test_an_edit_of_a_removed_visual_is_409_and_appends_nothing(loupe):
    async with loupe.client() as client:
        workspace = await create_workspace(client)
        report = await create_report(client, workspace["id"])
        _, visual_id = await page_with_visual(client, report["id"])
        removed = await send(client, report["id"], {"type": "RemoveVisual", "visual_id": visual_id})
        assert removed.status_code == 200
        version = removed.json()["version"]
        moved = await send(
            client, report["id"], {"type": "MoveVisual", "visual_id": visual_id, "x": 1, "y": 1}
        )
        problem = assert_problem(moved, 409)
        assert problem["command_index"] == 0
        assert visual_id in problem["detail"]
        document = (
            await client.get(
                f"/reports/{report['id']}", params={"min_position": removed.json()["position"]}
            )
        ).json()
    assert document["version"] == version
    assert document["pages"][0]["visuals"] == []


async def test_a_batch_with_one_bad_command_is_rejected_whole(loupe):
    async with loupe.client() as client:
        workspace = await create_workspace(client)
        report = await create_report(client, workspace["id"])
        page_id = uid()
        response = await send(
            client,
            report["id"],
            {"type": "AddPage", "page_id": page_id, "name": "Fine"},
            {
                "type": "AddVisual",
                "visual_id": uid(),
                "page_id": page_id,
                "visual_type": "column",
                "x": 0,
                "y": 0,
                "w": 0,
                "h": 4,
            },
        )
        problem = assert_problem(response, 422)
        document = (
            await client.get(
                f"/reports/{report['id']}", params={"min_position": report["position"]}
            )
        ).json()
        events = (await client.get(f"/reports/{report['id']}/events")).json()["events"]
    assert problem["command_index"] == 1
    assert problem["command_type"] == "AddVisual"
    assert "w" in problem["detail"]
    assert document["pages"] == []
    assert document["version"] == 1
    assert len(events) == 1


async def test_malformed_requests_are_400_problems_that_say_what_is_wrong(loupe):
    async with loupe.client() as client:
        workspace = await create_workspace(client)
        report = await create_report(client, workspace["id"])
        url = f"/reports/{report['id']}/commands"
        not_json = await client.post(
            url, content=b"{nope", headers={"content-type": "application/json"}
        )
        unknown_type = await client.post(url, json=batch({"type": "Explode"}))
        missing_field = await client.post(url, json=batch({"type": "AddPage", "name": "x"}))
        wrong_type = await client.post(
            url, json=batch({"type": "MoveVisual", "visual_id": uid(), "x": "left", "y": 0})
        )
        unknown_field = await client.post(
            url, json={**batch({"type": "RenameReport", "name": "x"}), "oops": 1}
        )
        empty = await client.post(url, json=batch())
        bad_id = await client.get("/reports/not-a-uuid")
    assert_problem(not_json, 400)
    assert "Explode" in assert_problem(unknown_type, 400)["detail"]
    assert "page_id" in assert_problem(missing_field, 400)["detail"]
    assert "commands[0].x" in assert_problem(wrong_type, 400)["detail"]
    assert "oops" in assert_problem(unknown_field, 400)["detail"]
    assert "commands" in assert_problem(empty, 400)["detail"]
    assert bad_id.status_code in (400, 404)


async def test_reports_are_private_to_their_workspace_members(loupe):
    async with loupe.client("ana") as ana, loupe.client("bo") as bo:
        workspace = await create_workspace(ana)
        report = await create_report(ana, workspace["id"])
        seen = await bo.get(f"/reports/{report['id']}")
        edited = await send(bo, report["id"], {"type": "RenameReport", "name": "mine"})
        created = await bo.post(f"/workspaces/{workspace['id']}/reports", json={"name": "x"})
        listed = (await bo.get("/workspaces")).json()
    assert_problem(seen, 404)
    assert_problem(edited, 404)
    assert_problem(created, 404)
    assert listed == {"workspaces": []}


async def test_unknown_report_is_404(loupe):
    async with loupe.client() as client:
        assert_problem(await client.get(f"/reports/{uid()}"), 404, code="report_not_found")
        assert_problem(await send(client, uid(), {"type": "RenameReport", "name": "x"}), 404)


async def test_without_an_identity_requests_are_401(loupe):
    async with loupe.client(user=None) as client:
        response = await client.get("/workspaces")
    assert_problem(response, 401)


async def test_report_events_come_in_order_with_their_metadata_and_page(loupe):
    async with loupe.client() as client:
        workspace = await create_workspace(client)
        report = await create_report(client, workspace["id"])
        for index in range(5):
            response = await send(
                client,
                report["id"],
                {"type": "AddPage", "page_id": uid(), "name": f"P{index}"},
                client_id="laptop-7",
            )
            assert response.status_code == 200
        first = (await client.get(f"/reports/{report['id']}/events", params={"limit": 4})).json()
        rest = (
            await client.get(
                f"/reports/{report['id']}/events", params={"after": first["next_after"], "limit": 4}
            )
        ).json()
    events = first["events"] + rest["events"]
    assert rest["next_after"] is None
    assert [event["version"] for event in events] == [1, 2, 3, 4, 5, 6]
    positions = [event["position"] for event in events]
    assert positions == sorted(positions)
    page_events = events[1:]
    assert [event["dot"] for event in page_events] == [["laptop-7", n] for n in range(1, 6)]
    hlcs = [tuple(event["hlc"]) for event in events]
    assert hlcs == sorted(hlcs)
    assert len(set(hlcs)) == len(hlcs)
    for event in events:
        assert set(event) >= {
            "id",
            "type",
            "position",
            "version",
            "recorded_at",
            "actor",
            "client_id",
            "dot",
            "hlc",
            "data",
        }
        assert event["actor"] == events[0]["actor"]
    assert page_events[0]["data"]["name"] == "P0"
