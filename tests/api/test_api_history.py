"""The report's past through the API: versions, times, diffs, reverts and the catalogue."""

from __future__ import annotations

from tests.apiclient import (
    assert_problem,
    create_report,
    create_workspace,
    page_with_visual,
    send,
    uid,
)


async def _edit_history(client, report_id: str) -> tuple[str, str, list[dict]]:
    page_id, visual_id = await page_with_visual(client, report_id)
    results = []
    for x in (1, 2, 3):
        response = await send(
            client, report_id, {"type": "MoveVisual", "visual_id": visual_id, "x": x, "y": 0}
        )
        results.append(response.json())
    response = await send(
        client,
        report_id,
        {
            "type": "SetProperty",
            "target": f"visual:{visual_id}",
            "path": "title.text",
            "value": "Sales",
        },
    )
    results.append(response.json())
    return page_id, visual_id, results


async def test_the_document_at_a_version_and_at_a_time(loupe):
    async with loupe.client() as client:
        workspace = await create_workspace(client)
        report = await create_report(client, workspace["id"])
        _, _visual_id, results = await _edit_history(client, report["id"])
        url = f"/reports/{report['id']}"
        v4 = (await client.get(url, params={"version": 4})).json()
        v3 = (await client.get(url, params={"version": 3})).json()
        at = results[0]["events"][0]["recorded_at"]
        by_time = (await client.get(url, params={"at": at})).json()
        too_far = await client.get(url, params={"version": 99})
        both = await client.get(url, params={"version": 2, "at": at})
        naive = await client.get(url, params={"at": "2026-01-01T00:00:00"})
        before = await client.get(url, params={"at": "2000-01-01T00:00:00Z"})
    assert v3["version"] == 3
    assert v3["pages"][0]["visuals"][0]["layout"]["x"] == 0
    assert v4["pages"][0]["visuals"][0]["layout"]["x"] == 1
    assert by_time["version"] == 4
    assert by_time == v4
    assert "99" in assert_problem(too_far, 404, code="no_such_version")["detail"]
    assert_problem(both, 400)
    assert "time zone" in assert_problem(naive, 400)["detail"]
    assert_problem(before, 404, code="not_yet_created")


async def test_diff_lists_what_changed_between_versions(loupe):
    async with loupe.client() as client:
        workspace = await create_workspace(client)
        report = await create_report(client, workspace["id"])
        page_id, visual_id, _results = await _edit_history(client, report["id"])
        body = (
            await client.get(f"/reports/{report['id']}/diff", params={"from": 3, "to": 7})
        ).json()
        to_now = (await client.get(f"/reports/{report['id']}/diff", params={"from": 1})).json()
    visual = f"pages[{page_id}].visuals[{visual_id}]"
    changes = {change["path"]: change for change in body["changes"]}
    assert body["from_version"] == 3
    assert body["to_version"] == 7
    assert changes[f"{visual}.layout.x"] == {
        "path": f"{visual}.layout.x",
        "kind": "changed",
        "before": 0,
        "after": 3,
    }
    assert changes[f"{visual}.properties.title"]["kind"] == "added"
    assert to_now["to_version"] == 7
    assert [c["kind"] for c in to_now["changes"]] == ["added"]


async def test_revert_appends_edits_that_restore_an_earlier_version(loupe):
    async with loupe.client() as client:
        workspace = await create_workspace(client)
        report = await create_report(client, workspace["id"])
        page_id, visual_id, _ = await _edit_history(client, report["id"])
        removed = await send(client, report["id"], {"type": "RemovePage", "page_id": page_id})
        assert removed.status_code == 200
        reverted = await client.post(
            f"/reports/{report['id']}/revert", json={"to_version": 7, "command_id": uid()}
        )
        assert reverted.status_code == 200, reverted.text
        result = reverted.json()
        again = await client.post(
            f"/reports/{report['id']}/revert",
            json={"to_version": 7, "command_id": result["command_id"]},
        )
        now = (
            await client.get(
                f"/reports/{report['id']}", params={"min_position": result["position"]}
            )
        ).json()
        v7 = (await client.get(f"/reports/{report['id']}", params={"version": 7})).json()
        events = (
            await client.get(f"/reports/{report['id']}/events", params={"limit": 1000})
        ).json()
    assert result["version"] > 8
    assert set(result["recreated"]) == {page_id, visual_id}
    assert again.json()["duplicate"] is True
    assert again.json()["version"] == result["version"]
    [page] = now["pages"]
    assert page["id"] == result["recreated"][page_id]
    [visual] = page["visuals"]
    assert visual["id"] == result["recreated"][visual_id]
    assert visual["layout"] == v7["pages"][0]["visuals"][0]["layout"]
    assert visual["properties"] == {"title": {"text": "Sales"}}
    assert visual["wells"] == v7["pages"][0]["visuals"][0]["wells"]
    assert [e["version"] for e in events["events"]] == list(range(1, result["version"] + 1))


async def test_the_catalogue_lists_a_workspaces_reports_with_their_sizes(loupe):
    async with loupe.client("ana") as ana, loupe.client("bo") as bo:
        workspace = await create_workspace(ana)
        first = await create_report(ana, workspace["id"], "Beta")
        second = await create_report(ana, workspace["id"], "alpha")
        await page_with_visual(ana, first["id"])
        response = await send(ana, first["id"], {"type": "RenameReport", "name": "Beta 2"})
        listed = (
            await ana.get(
                f"/workspaces/{workspace['id']}/reports",
                params={"min_position": response.json()["position"]},
            )
        ).json()["reports"]
        hidden = await bo.get(f"/workspaces/{workspace['id']}/reports")
    assert [r["name"] for r in listed] == ["alpha", "Beta 2"]
    beta = listed[1]
    assert beta["id"] == first["id"]
    assert (beta["pages"], beta["visuals"], beta["version"]) == (1, 1, 4)
    assert beta["created_by"] == beta["last_edited_by"]
    assert beta["last_edited_at"] >= beta["created_at"]
    assert listed[0]["id"] == second["id"]
    assert_problem(hidden, 404)


async def test_bad_query_values_are_named_as_the_client_sent_them(loupe):
    async with loupe.client() as client:
        workspace = await create_workspace(client)
        report = await create_report(client, workspace["id"])
        response = await client.get(f"/reports/{report['id']}/diff", params={"from": 0})
        assert response.status_code == 400
        assert response.json()["errors"][0]["key"] == "from"
        assert "`from`" in response.json()["detail"]
        response = await client.get("/audit", params={"object": "not-a-uuid"})
        assert response.status_code == 400
        assert response.json()["errors"][0]["key"] == "object"
