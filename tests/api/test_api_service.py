"""Service routes and the API's own description."""

from __future__ import annotations

from tests.apiclient import create_workspace


async def test_health_reports_every_engine(loupe):
    async with loupe.client(user=None) as client:
        response = await client.get("/health")
    assert response.status_code == 200
    assert response.json() == {
        "status": "ok",
        "components": {"postgres": "ok", "nats": "ok", "redis": "ok"},
    }


async def test_metrics_count_requests_and_appends(loupe):
    async with loupe.client() as client:
        await create_workspace(client)
        text = (await client.get("/metrics")).text
    assert 'loupe_http_requests_total{method="POST",route="/workspaces",status="201"} 1.0' in text
    assert "loupe_events_appended_total 1.0" in text
    assert "loupe_live_connections" in text


async def test_openapi_describes_the_routes_others_rely_on(loupe):
    async with loupe.client(user=None) as client:
        schema = (await client.get("/schema/openapi.json")).json()
    assert schema["openapi"].startswith("3.1")
    paths = schema["paths"]
    for path in (
        "/health",
        "/workspaces",
        "/workspaces/{workspace_id}/reports",
        "/reports/{report_id}",
        "/reports/{report_id}/commands",
        "/reports/{report_id}/events",
    ):
        assert path in paths, path
    assert "AddVisual" in str(schema["components"])
