"""Service routes: health and metrics (public, no identity needed)."""

from __future__ import annotations

import asyncio
from typing import Any

from litestar import Response, get
from litestar.datastructures import State

from api.metrics import CONTENT_TYPE

HEALTH_TIMEOUT = 2.0


async def _check(name: str, probe: Any) -> tuple[str, str]:
    try:
        async with asyncio.timeout(HEALTH_TIMEOUT):
            await probe()
    except Exception as exc:  # noqa: BLE001 - any failure makes the component unhealthy
        return name, f"error: {type(exc).__name__}: {exc}"[:300]
    return name, "ok"


@get("/health", summary="Health of Loupe and of each engine it uses", tags=["service"])
async def health(state: State) -> Response[dict[str, Any]]:
    """200 when PostgreSQL, NATS and Redis all answer; 503 naming PostgreSQL or NATS when one
    does not. Without Redis Loupe still works (queries answer uncached): 200, status
    "degraded", and the component says why."""
    services = state.services
    results = dict(
        await asyncio.gather(
            _check("postgres", services.ping_postgres),
            _check("nats", services.ping_nats),
            _check("redis", services.ping_redis),
        )
    )
    if results["redis"] != "ok":
        results["redis"] = "degraded (queries answer uncached): " + results["redis"]
    healthy = all(value == "ok" for value in results.values())
    down = any(results[name] != "ok" for name in ("postgres", "nats"))
    body: dict[str, Any] = {"status": "ok" if healthy else "degraded", "components": results}
    return Response(body, status_code=503 if down else 200)


@get("/metrics", summary="Prometheus metrics", tags=["service"], include_in_schema=True)
async def metrics(state: State) -> Response[bytes]:
    return Response(state.services.metrics.render(), media_type=CONTENT_TYPE)
