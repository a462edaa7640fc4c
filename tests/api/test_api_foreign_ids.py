"""Ids and positions a client made up: the id of one kind of thing used as another's, numbers
past what PostgreSQL's bigint holds, a ``min_position`` no event has. Each is a clear problem
(404, 409 or 400), never a 500 and never a wait for something that cannot come."""

from __future__ import annotations

import time

from tests.apiclient import assert_problem, create_report, create_workspace, uid

TOO_BIG = 2**63  # one past the largest bigint


async def test_a_workspace_id_used_as_a_report_dataset_or_subscription_id_is_not_found(loupe):
    async with loupe.client() as client:
        workspace = await create_workspace(client)
        ws = workspace["id"]
        report = await create_report(client, ws)
        answers = {
            "document": await client.get(f"/reports/{ws}"),
            "past document": await client.get(f"/reports/{ws}", params={"version": 1}),
            "diff": await client.get(f"/reports/{ws}/diff", params={"from": 1}),
            "events": await client.get(f"/reports/{ws}/events"),
            "history": await client.get(f"/reports/{ws}/history"),
            "commands": await client.post(
                f"/reports/{ws}/commands",
                json={
                    "command_id": uid(),
                    "client_id": "t",
                    "commands": [{"type": "RenameReport", "name": "x"}],
                },
            ),
            "revert": await client.post(
                f"/reports/{ws}/revert", json={"to_version": 1, "command_id": uid()}
            ),
            "visual spec": await client.get(f"/reports/{ws}/visuals/{uid()}/spec"),
            "dataset": await client.get(f"/datasets/{ws}"),
            "dataset rename": await client.patch(f"/datasets/{ws}", json={"name": "x"}),
            "measure": await client.post(
                f"/datasets/{ws}/measures", json={"name": "m", "expression": "1"}
            ),
            "subscription": await client.get(f"/subscriptions/{ws}"),
            "pause": await client.post(f"/subscriptions/{ws}/pause"),
            "reports of a report": await client.get(f"/workspaces/{report['id']}/reports"),
        }
    for what, response in answers.items():
        assert response.status_code == 404, (what, response.status_code, response.text)
        assert_problem(response, 404)


async def test_creating_something_with_an_id_another_kind_has_is_a_conflict(loupe):
    async with loupe.client() as client:
        workspace = await create_workspace(client)
        ws = workspace["id"]
        report = await client.post(
            f"/workspaces/{ws}/reports", json={"name": "R", "id": ws, "command_id": uid()}
        )
        again = await client.post("/workspaces", json={"name": "W", "id": ws})
        mine = await create_report(client, ws)
        taken = await client.post(
            "/workspaces", json={"name": "W", "id": mine["id"], "command_id": uid()}
        )
    body = assert_problem(report, 409, code="report_exists")
    assert "workspace" in body["detail"]
    assert_problem(again, 409, code="workspace_exists")
    assert "report" in assert_problem(taken, 409, code="workspace_exists")["detail"]


async def test_positions_and_versions_past_a_bigint_are_refused(loupe):
    async with loupe.client() as client:
        workspace = await create_workspace(client)
        report = await create_report(client, workspace["id"])
        rid = report["id"]
        answers = [
            await client.get("/audit", params={"after": TOO_BIG}),
            await client.get(f"/reports/{rid}", params={"version": TOO_BIG}),
            await client.get(f"/reports/{rid}", params={"min_position": TOO_BIG}),
            await client.get(f"/reports/{rid}/events", params={"after": TOO_BIG}),
            await client.get(f"/reports/{rid}/history", params={"before": TOO_BIG}),
            await client.get(f"/reports/{rid}/diff", params={"from": 1, "to": TOO_BIG}),
            await client.post(
                f"/reports/{rid}/revert", json={"to_version": TOO_BIG, "command_id": uid()}
            ),
            await client.post(f"/reports/{rid}/exports", json={"version": TOO_BIG}),
        ]
    for response in answers:
        assert_problem(response, 400)


async def test_an_audit_filter_on_a_type_no_event_can_have_is_refused(loupe):
    async with loupe.client() as client:
        nul = await client.get("/audit", params={"type": "Visual\x00Moved"})
        fine = await client.get("/audit", params={"type": "VisualMoved,PageAdded"})
    assert "not an event type" in assert_problem(nul, 400)["detail"]
    assert fine.status_code == 200, fine.text


async def test_a_min_position_no_event_has_is_refused_at_once(loupe):
    async with loupe.client() as client:
        workspace = await create_workspace(client)
        report = await create_report(client, workspace["id"])
        started = time.monotonic()
        ahead = await client.get(
            f"/reports/{report['id']}", params={"min_position": report["position"] + 1_000_000}
        )
        elapsed = time.monotonic() - started
        mine = await client.get(
            f"/reports/{report['id']}", params={"min_position": report["position"]}
        )
    body = assert_problem(ahead, 400)
    assert "beyond the newest event" in body["detail"]
    # Refused, not waited for: a read model that is behind is waited for up to 5 s.
    assert elapsed < 4
    assert mine.status_code == 200, mine.text
