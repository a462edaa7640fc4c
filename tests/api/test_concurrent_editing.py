"""Several people editing one report at the same moment: everyone's edit lands."""

from __future__ import annotations

import asyncio

from tests.apiclient import create_report, create_workspace, page_with_visual, send
from tests.server import running_loupe


async def test_two_clients_editing_different_properties_at_once_both_succeed(loupe):
    async with loupe.client() as client:
        workspace = await create_workspace(client)
        report = await create_report(client, workspace["id"])
        _, visual_id = await page_with_visual(client, report["id"])
        target = f"visual:{visual_id}"
        title, colour = await asyncio.gather(
            send(
                client,
                report["id"],
                {"type": "SetProperty", "target": target, "path": "title.text", "value": "Revenue"},
                client_id="ana",
            ),
            send(
                client,
                report["id"],
                {
                    "type": "SetProperty",
                    "target": target,
                    "path": "legend.position",
                    "value": "bottom",
                },
                client_id="bo",
            ),
        )
        newest = max(title.json()["position"], colour.json()["position"])
        document = (
            await client.get(f"/reports/{report['id']}", params={"min_position": newest})
        ).json()
    assert title.status_code == colour.status_code == 200
    assert {title.json()["version"], colour.json()["version"]} == {4, 5}
    properties = document["pages"][0]["visuals"][0]["properties"]
    assert properties == {"title": {"text": "Revenue"}, "legend": {"position": "bottom"}}


async def test_edits_through_two_servers_at_once_all_land_despite_version_conflicts(loupe):
    """Two API processes on one database: optimistic concurrency makes one of them retry."""
    async with (
        running_loupe(loupe.settings, processors=False) as other,
        loupe.client() as one,
        other.client() as two,
    ):
        workspace = await create_workspace(one)
        report = await create_report(one, workspace["id"])
        _, visual_id = await page_with_visual(one, report["id"])
        target = f"visual:{visual_id}"
        edits = [
            send(
                one if index % 2 else two,
                report["id"],
                {"type": "SetProperty", "target": target, "path": f"p{index}", "value": index},
                client_id=f"client-{index % 2}",
            )
            for index in range(40)
        ]
        responses = await asyncio.gather(*edits)
        assert [r.status_code for r in responses] == [200] * 40
        newest = max(r.json()["position"] for r in responses)
        document = (
            await two.get(f"/reports/{report['id']}", params={"min_position": newest})
        ).json()
        retries = loupe.services.metrics.command_batches.labels("conflict_retry")._value.get()
        retries += other.services.metrics.command_batches.labels("conflict_retry")._value.get()
    assert document["version"] == 3 + 40
    assert document["pages"][0]["visuals"][0]["properties"] == {f"p{i}": i for i in range(40)}
    assert sorted(r.json()["version"] for r in responses) == list(range(4, 44))
    assert retries > 0, "the two servers should have raced at least once"
