"""The audit log through the HTTP API: every event once, named and described; filters and
pages; CSV and NDJSON; who sees what; report history in bursts."""

from __future__ import annotations

import csv
import io
import json
import random
import uuid
from datetime import datetime, timedelta
from typing import Any

import httpx

from commands.envelope import new_event
from commands.eventstore import StreamRef
from domain.clock import Hlc
from domain.metadata import EventMetadata
from domain.versions import Dot
from domain.workspace.events import MemberRoleSet
from domain.workspace.events import encode as encode_workspace_event
from tests.apiclient import (
    assert_problem,
    create_report,
    create_workspace,
    page_with_visual,
    send,
    uid,
)

ANA = "ana@example.com"
BO = "Bo Berg"
CY = "cy"


async def _audit(client: httpx.AsyncClient, **params: Any) -> dict[str, Any]:
    response = await client.get("/audit", params=params)
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("application/json")
    return response.json()  # type: ignore[no-any-return]


async def _all_entries(client: httpx.AsyncClient, **params: Any) -> list[dict[str, Any]]:
    entries: list[dict[str, Any]] = []
    after = 0
    while True:
        page = await _audit(client, **params, after=after, limit=1000)
        entries += page["entries"]
        if page["next_after"] is None:
            return entries
        after = page["next_after"]


async def _head(loupe) -> int:
    """The last appended position, once it is safe to read (every event up to it committed)."""
    store = loupe.services.store
    last = await loupe.services.pool.fetchval(f"SELECT max(position) FROM {store.schema}.events")
    while await store.head_position() < last:
        await store.wait_for_events(await store.head_position(), 1)
    return int(last)


async def _add_member(loupe, workspace_id: str, user_name: str, role: str, by: str) -> int:
    """Append MemberRoleSet to the workspace's stream (no HTTP route manages members yet)."""
    from api.auth import dev_actor  # noqa: PLC0415

    store = loupe.services.store
    workspace = uuid.UUID(workspace_id)
    version = await store.stream_version(workspace)
    payload = MemberRoleSet(user_id=dev_actor(user_name).id, role=role)
    meta = EventMetadata(
        event_id=uuid.uuid4(),
        replica="server",
        dot=Dot("server", version + 1),
        hlc=Hlc(0, 0),
        actor=dev_actor(by).id,
    )
    result = await store.append(
        StreamRef(stream_id=workspace, stream_type="workspace", workspace_id=workspace),
        version,
        [new_event("MemberRoleSet", encode_workspace_event(payload), meta)],
    )
    return result.events[-1].position


async def test_every_event_appears_once_named_and_described(loupe):
    async with loupe.client(ANA) as client:
        workspace = await create_workspace(client, "Sales")
        report = await create_report(client, workspace["id"], "Q3 review")
        page_id, visual_id = await page_with_visual(client, report["id"])
        titled = await send(
            client,
            report["id"],
            {
                "type": "SetProperty",
                "target": f"visual:{visual_id}",
                "path": "title.text",
                "value": "Sales by region",
            },
            {"type": "MoveVisual", "visual_id": visual_id, "x": 6, "y": 2},
            {"type": "BindField", "visual_id": visual_id, "well": "x", "field": "region"},
            {"type": "RenamePage", "page_id": page_id, "name": "Summary"},
        )
        assert titled.status_code == 200, titled.text
        head = await _head(loupe)
        page = await _audit(client, min_position=head)
    events = [event async for event in _store_events(loupe)]
    entries = page["entries"]
    assert page["next_after"] is None
    assert [entry["position"] for entry in entries] == [event.position for event in events]
    assert [entry["event"] for entry in entries] == [event.type for event in events]
    by_type = {entry["event"]: entry for entry in entries}
    assert set(by_type) >= {
        "UserRegistered",
        "WorkspaceCreated",
        "ReportCreated",
        "PageAdded",
        "VisualAdded",
        "PropertySet",
        "VisualMoved",
        "FieldBound",
        "PageRenamed",
    }
    for entry in entries:
        assert entry["actor_name"] == ANA
        assert entry["summary"].startswith(ANA)
        assert isinstance(entry["change"], dict)
        datetime.fromisoformat(entry["at"])
    assert by_type["UserRegistered"]["workspace_id"] is None
    assert by_type["UserRegistered"]["object_type"] == "user"
    assert by_type["WorkspaceCreated"]["summary"] == f"{ANA} created the workspace 'Sales'"
    assert by_type["ReportCreated"]["summary"] == f"{ANA} created the report 'Q3 review'"
    moved = by_type["VisualMoved"]
    assert "'Sales by region'" in moved["summary"], moved
    assert moved["object_type"] == "visual"
    assert moved["object_id"] == visual_id
    assert moved["change"] == {"x": {"before": 0, "after": 6}, "y": {"before": 0, "after": 2}}
    assert moved["workspace_id"] == workspace["id"]
    assert "'Sales by region'" in by_type["FieldBound"]["summary"]
    renamed = by_type["PageRenamed"]["summary"]
    assert "'Overview'" in renamed
    assert "'Summary'" in renamed


async def _store_events(loupe):
    store = loupe.services.store
    after = 0
    while True:
        events = await store.read_all(after_position=after, limit=1000)
        for event in events:
            yield event
        if len(events) < 1000:
            return
        after = events[-1].position


async def _busy_log(loupe) -> dict[str, Any]:
    """Ana and Bo in a shared workspace, Ana alone in another, Cy alone in a third."""
    async with loupe.client(ANA) as ana, loupe.client(BO) as bo, loupe.client(CY) as cy:
        assert (await bo.get("/workspaces")).status_code == 200  # Bo is registered first
        shared = await create_workspace(ana, "Shared")
        private = await create_workspace(ana, "Private")
        elsewhere = await create_workspace(cy, "Cy's")
        await _add_member(loupe, shared["id"], BO, "editor", ANA)
        reports = [
            await create_report(ana, shared["id"], "One"),
            await create_report(ana, private["id"], "Two"),
            await create_report(cy, elsewhere["id"], "Three"),
        ]
        rng = random.Random(11)
        visuals: dict[str, list[str]] = {}
        for report in reports:
            _, visual_id = await page_with_visual(
                cy if report["name"] == "Three" else ana, report["id"]
            )
            visuals[report["id"]] = [visual_id]
        # Bo can edit the shared report once the authorizer sees his role.
        for step in range(40):
            report = rng.choice(reports[:2] if step % 3 else reports)
            client = (
                cy
                if report["name"] == "Three"
                else rng.choice([ana, bo] if report["name"] == "One" else [ana])
            )
            visual_id = rng.choice(visuals[report["id"]])
            kind = rng.random()
            if kind < 0.4:
                command = {
                    "type": "MoveVisual",
                    "visual_id": visual_id,
                    "x": rng.randint(0, 10),
                    "y": rng.randint(0, 10),
                }
            elif kind < 0.6:
                command = {
                    "type": "SetProperty",
                    "target": f"visual:{visual_id}",
                    "path": "title.text",
                    "value": f"Title {rng.randint(0, 99)}",
                }
            elif kind < 0.8:
                command = {"type": "RenameReport", "name": f"Name {rng.randint(0, 99)}"}
            else:
                new_visual = uid()
                page = (
                    await client.get(
                        f"/reports/{report['id']}", params={"min_position": await _head(loupe)}
                    )
                ).json()["pages"][0]["id"]
                command = {
                    "type": "AddVisual",
                    "visual_id": new_visual,
                    "page_id": page,
                    "visual_type": "card",
                    "x": 0,
                    "y": 10,
                    "w": 2,
                    "h": 2,
                }
                visuals[report["id"]].append(new_visual)
            response = await send(client, report["id"], command)
            assert response.status_code == 200, response.text
    return {
        "shared": shared["id"],
        "private": private["id"],
        "elsewhere": elsewhere["id"],
        "reports": reports,
        "visuals": visuals,
    }


def _dev_id(name: str) -> str:
    from api.auth import dev_actor  # noqa: PLC0415

    return str(dev_actor(name).id)


def _at(entry: dict[str, Any]) -> datetime:
    return datetime.fromisoformat(entry["at"])


def _matches(entry: dict[str, Any], stream_of: dict[int, str], query: dict[str, Any]) -> bool:
    if "workspace" in query and entry["workspace_id"] != query["workspace"]:
        return False
    if "actor" in query and entry["actor"] != query["actor"]:
        return False
    if "object" in query and query["object"] not in (
        entry["object_id"],
        stream_of[entry["position"]],
    ):
        return False
    if "types" in query and entry["event"] not in query["types"]:
        return False
    if "since" in query and _at(entry) < query["since"]:
        return False
    return not ("until" in query and _at(entry) >= query["until"])


def _params(query: dict[str, Any], rng: random.Random) -> list[tuple[str, str]]:
    params: list[tuple[str, str]] = []
    for key, value in query.items():
        if key == "types":
            if rng.random() < 0.5:
                params.append(("type", ",".join(value)))
            else:
                params += [("type", one) for one in value]
        elif key in ("since", "until"):
            zone = rng.choice([0, 2, -5])
            params.append((key, value.astimezone(_zone(zone)).isoformat()))
        else:
            params.append((key, value))
    return params


def _zone(hours: int):
    from datetime import timezone  # noqa: PLC0415

    return timezone(timedelta(hours=hours))


async def test_filters_and_pages_return_exactly_the_matching_entries(loupe):
    log = await _busy_log(loupe)
    head = await _head(loupe)
    events = [event async for event in _store_events(loupe)]
    stream_of = {event.position: str(event.stream_id) for event in events}
    ana_id = _dev_id(ANA)
    async with loupe.client(ANA) as ana:
        await _audit(ana, min_position=head)
        everything = await _all_entries(ana)
        rng = random.Random(5)
        objects = [report["id"] for report in log["reports"]] + [
            visual for visuals in log["visuals"].values() for visual in visuals
        ]
        times = sorted({_at(entry) for entry in everything})
        kinds = sorted({entry["event"] for entry in everything})
        for _ in range(40):
            query: dict[str, Any] = {}
            if rng.random() < 0.4:
                query["workspace"] = rng.choice([log["shared"], log["private"]])
            if rng.random() < 0.4:
                query["actor"] = rng.choice([ana_id, _dev_id(BO), _dev_id(CY)])
            if rng.random() < 0.3:
                query["object"] = rng.choice(objects)
            if rng.random() < 0.4:
                query["types"] = rng.sample(kinds, rng.randint(1, 3))
            if rng.random() < 0.4:
                query["since"] = rng.choice(times)
            if rng.random() < 0.4:
                query["until"] = rng.choice(times) + timedelta(microseconds=rng.choice([0, 1]))
            if "since" in query and "until" in query and query["since"] > query["until"]:
                query["since"], query["until"] = query["until"], query["since"]
            expected = [entry for entry in everything if _matches(entry, stream_of, query)]
            limit = rng.randint(1, 9)
            got: list[dict[str, Any]] = []
            after = 0
            while True:
                params = [*_params(query, rng), ("after", str(after)), ("limit", str(limit))]
                response = await ana.get("/audit", params=params)
                assert response.status_code == 200, (query, response.text)
                page = response.json()
                assert len(page["entries"]) <= limit
                got += page["entries"]
                if page["next_after"] is None:
                    assert "Loupe-Next-After" not in response.headers
                    break
                assert page["next_after"] == page["entries"][-1]["position"]
                assert response.headers["Loupe-Next-After"] == str(page["next_after"])
                assert f"after={page['next_after']}" in response.headers["Link"]
                after = page["next_after"]
            assert got == expected, query
    # Ana sees her workspaces' entries and her own registration: exactly those.
    visible = {log["shared"], log["private"]}
    assert [entry["position"] for entry in everything] == [
        event.position
        for event in events
        if (str(event.workspace_id) in visible)
        or (event.workspace_id is None and str(event.stream_id) == ana_id)
    ]
    names = {entry["actor"]: entry["actor_name"] for entry in everything}
    assert names == {ana_id: ANA, _dev_id(BO): BO}


async def test_csv_and_ndjson_carry_the_same_entries_as_json(loupe):
    async with loupe.client(ANA) as client:
        workspace = await create_workspace(client, 'Sales, "EMEA"')
        report = await create_report(client, workspace["id"], "Q3; review")
        _, visual_id = await page_with_visual(client, report["id"])
        response = await send(
            client,
            report["id"],
            {
                "type": "SetProperty",
                "target": f"visual:{visual_id}",
                "path": "title.text",
                "value": 'Revenue, "net" ü',
            },
            {"type": "MoveVisual", "visual_id": visual_id, "x": 3, "y": 1},
        )
        head = response.json()["position"]
        entries = (await _audit(client, min_position=head))["entries"]
        as_csv = await client.get("/audit", headers={"Accept": "text/csv"})
        as_ndjson = await client.get("/audit", headers={"Accept": "application/x-ndjson"})
        preferred = await client.get(
            "/audit", headers={"Accept": "application/x-ndjson;q=0.5, text/csv"}
        )
        paged = await client.get("/audit", params={"limit": 2}, headers={"Accept": "text/csv"})
    assert as_csv.status_code == 200, as_csv.text
    assert as_csv.headers["content-type"].startswith("text/csv")
    assert as_csv.content.endswith(b"\r\n")
    rows = list(csv.reader(io.StringIO(as_csv.text, newline="")))
    assert rows[0] == [
        "position",
        "at",
        "actor",
        "actor_name",
        "workspace_id",
        "object_type",
        "object_id",
        "event",
        "summary",
        "change",
    ]
    parsed = [
        {
            **row,
            "position": int(row["position"]),
            "actor": row["actor"] or None,
            "actor_name": row["actor_name"] or None,
            "workspace_id": row["workspace_id"] or None,
            "change": json.loads(row["change"]),
        }
        for row in csv.DictReader(io.StringIO(as_csv.text, newline=""))
    ]
    assert parsed == entries
    assert any('"net"' in entry["summary"] for entry in parsed)
    assert as_ndjson.status_code == 200
    assert as_ndjson.headers["content-type"].startswith("application/x-ndjson")
    lines = as_ndjson.text.split("\n")
    assert lines[-1] == ""
    assert [json.loads(line) for line in lines[:-1]] == entries
    assert preferred.headers["content-type"].startswith("text/csv")
    assert len(list(csv.reader(io.StringIO(paged.text, newline="")))) == 3
    assert paged.headers["Loupe-Next-After"] == str(entries[1]["position"])


async def test_a_caller_sees_only_their_workspaces_and_themselves(loupe):
    log = await _busy_log(loupe)
    head = await _head(loupe)
    ana_id, bo_id, cy_id = _dev_id(ANA), _dev_id(BO), _dev_id(CY)
    async with loupe.client(BO) as bo, loupe.client(CY) as cy:
        await _audit(bo, min_position=head)
        bo_sees = await _all_entries(bo)
        cy_sees = await _all_entries(cy)
        hidden = await bo.get("/audit", params={"workspace": log["private"]})
        unknown = await cy.get("/audit", params={"workspace": str(uuid.uuid4())})
        of_ana = await cy.get("/audit", params={"actor": ana_id})
    assert {entry["workspace_id"] for entry in bo_sees} == {log["shared"], None}
    assert {entry["workspace_id"] for entry in cy_sees} == {log["elsewhere"], None}
    users_bo = [entry for entry in bo_sees if entry["workspace_id"] is None]
    assert [(entry["event"], entry["object_id"]) for entry in users_bo] == [
        ("UserRegistered", bo_id)
    ]
    assert {entry["actor"] for entry in cy_sees} == {cy_id}
    assert_problem(hidden, 404, code="workspace_not_found")
    assert_problem(unknown, 404, code="workspace_not_found")
    assert of_ana.json() == {"entries": [], "next_after": None}
    # Bo sees Ana's edits of the shared report, with her name, and how he was added.
    added = [entry for entry in bo_sees if entry["event"] == "MemberRoleSet"]
    assert [entry["summary"] for entry in added] == [
        f"{ANA} added {BO} to the workspace as an editor"
    ]


async def test_bad_parameters_are_problems(loupe):
    async with loupe.client(ANA) as client:
        cases = [
            {"since": "yesterday"},
            {"until": "2025-13-01T00:00:00Z"},
            {"since": "2025-01-01T00:00:00"},
            {"since": "2025-02-01T00:00:00Z", "until": "2025-01-01T00:00:00Z"},
            {"limit": 0},
            {"limit": 1001},
            {"after": -1},
            {"workspace": "sales"},
            {"actor": "42"},
            {"object": "nope"},
        ]
        for params in cases:
            assert_problem(await client.get("/audit", params=params), 400)
        refused = await client.get("/audit", headers={"Accept": "application/xml"})
        assert_problem(refused, 406)
        for params in ({"limit": 0}, {"limit": 101}, {"before": 0}):
            assert_problem(await client.get(f"/reports/{uid()}/history", params=params), 400)


async def test_report_history_groups_edits_by_person(loupe):
    async with loupe.client(ANA) as ana, loupe.client(BO) as bo, loupe.client(CY) as cy:
        workspace = await create_workspace(ana, "Shared")
        await _add_member(loupe, workspace["id"], BO, "editor", ANA)
        report = await create_report(ana, workspace["id"], "Plan")
        _, visual_id = await page_with_visual(ana, report["id"])

        async def move(client: httpx.AsyncClient, x: int) -> int:
            response = await send(
                client, report["id"], {"type": "MoveVisual", "visual_id": visual_id, "x": x, "y": 0}
            )
            assert response.status_code == 200, response.text
            return response.json()["position"]

        await move(bo, 1)
        await move(bo, 2)
        await move(ana, 3)
        last = await move(bo, 4)
        response = await ana.get(f"/reports/{report['id']}/history", params={"min_position": last})
        assert response.status_code == 200, response.text
        history = response.json()
        pages = []
        before = None
        while True:
            params = {"limit": 1} | ({"before": before} if before else {})
            page = (await ana.get(f"/reports/{report['id']}/history", params=params)).json()
            pages += page["bursts"]
            before = page["next_before"]
            if before is None:
                break
        hidden = await cy.get(f"/reports/{report['id']}/history")
        added = await _audit(ana, type="MemberRoleSet")
        missing = await ana.get(f"/reports/{uid()}/history")
    assert history["report_id"] == report["id"]
    assert history["next_before"] is None
    bursts = history["bursts"]
    assert [(burst["actor_name"], burst["events"]) for burst in bursts] == [
        (BO, 1),
        (ANA, 1),
        (BO, 2),
        (ANA, 3),  # created the report, added the page and the visual
    ]
    assert [(burst["from_version"], burst["to_version"]) for burst in bursts] == [
        (7, 7),
        (6, 6),
        (4, 5),
        (1, 3),
    ]
    assert bursts[0]["positions"] == [last, last]
    assert bursts[0]["summaries"] == [f"{BO} moved the column chart at 3,0 on page 1 to 4,0"]
    assert bursts[2]["summaries"] == [
        f"{BO} moved the column chart at 0,0 on page 1 to 1,0",
        f"{BO} moved the column chart at 1,0 on page 1 to 2,0",
    ]
    assert bursts[2]["positions"][0] < bursts[2]["positions"][1] < bursts[1]["positions"][0]
    assert bursts[2]["started_at"] <= bursts[2]["ended_at"]
    oldest = bursts[-1]
    assert oldest["from_version"] == 1
    assert oldest["summaries"][0] == f"{ANA} created the report 'Plan'"
    assert len(oldest["summaries"]) == 3
    assert pages == bursts
    # Bo was added before he had made a request: his name was not known yet.
    [entry] = added["entries"]
    assert entry["summary"] == f"{ANA} added user {_dev_id(BO)[:8]} to the workspace as an editor"
    assert_problem(hidden, 404, code="workspace_not_found")
    assert_problem(missing, 404, code="report_not_found")


async def test_the_routes_are_in_the_openapi_document(loupe):
    async with loupe.client(None) as client:
        schema = (await client.get("/schema/openapi.json")).json()
    audit = schema["paths"]["/audit"]["get"]
    assert {p["name"] for p in audit["parameters"]} >= {
        "workspace",
        "actor",
        "object",
        "type",
        "since",
        "until",
        "after",
        "limit",
        "min_position",
    }
    assert audit["responses"]["200"]["content"]["application/json"]["schema"] == {
        "$ref": "#/components/schemas/AuditPage"
    }
    history = schema["paths"]["/reports/{report_id}/history"]["get"]
    assert {p["name"] for p in history["parameters"]} >= {"before", "limit", "min_position"}
    assert "HistoryBurst" in schema["components"]["schemas"]


async def test_csv_never_hands_a_spreadsheet_a_formula(loupe):
    attacker = '=HYPERLINK("http://evil.example","x")'
    async with loupe.client(attacker) as client:
        workspace = await create_workspace(client, "+SUM(A1:A9)")
        report = await create_report(client, workspace["id"], "@report")
        entries = (await _audit(client, min_position=report["position"]))["entries"]
        as_csv = await client.get("/audit", headers={"Accept": "text/csv"})
    assert as_csv.status_code == 200, as_csv.text
    rows = list(csv.DictReader(io.StringIO(as_csv.text, newline="")))
    assert [row["position"] for row in rows] == [str(entry["position"]) for entry in entries]
    for row, entry in zip(rows, entries, strict=True):
        assert entry["summary"].startswith("=HYPERLINK")  # JSON carries the words as they are
        assert row["summary"] == "'" + entry["summary"]
        assert row["actor_name"] == "'" + attacker
    assert not any(cell.startswith(("=", "+", "-", "@")) for row in rows for cell in row.values())
