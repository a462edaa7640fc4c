"""Prometheus metrics, one registry per app (so tests can build many apps in one process)."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable
from typing import Any

from litestar.enums import ScopeType
from litestar.types import ASGIApp, Message, Receive, Scope, Send
from prometheus_client import CollectorRegistry, Counter, Histogram, generate_latest
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"


class _Gauges(Collector):
    """Gauges computed when scraped (lag, connection counts): never stale, no bookkeeping."""

    def __init__(self) -> None:
        self.sources: dict[
            str, tuple[str, Callable[[], Iterable[tuple[dict[str, str], float]]]]
        ] = {}

    def collect(self) -> Iterable[Metric]:
        for name, (doc, source) in self.sources.items():
            samples = list(source())
            labels = sorted({key for sample_labels, _ in samples for key in sample_labels})
            family = GaugeMetricFamily(name, doc, labels=labels)
            for sample_labels, value in samples:
                family.add_metric([sample_labels.get(key, "") for key in labels], value)
            yield family


class Metrics:
    def __init__(self) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        self.requests = Counter(
            "loupe_http_requests",
            "HTTP requests by route and status",
            ["method", "route", "status"],
            registry=self.registry,
        )
        self.latency = Histogram(
            "loupe_http_request_seconds",
            "HTTP request duration by route",
            ["method", "route"],
            buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5),
            registry=self.registry,
        )
        self.command_batches = Counter(
            "loupe_command_batches",
            "Command batches by outcome (appended, duplicate, rejected, conflict_retry)",
            ["outcome"],
            registry=self.registry,
        )
        self.events_appended = Counter(
            "loupe_events_appended", "Events appended to the store", registry=self.registry
        )
        self.events_published = Counter(
            "loupe_events_published",
            "Events published to NATS by the relay",
            registry=self.registry,
        )
        self.projection_lag = Histogram(
            "loupe_projection_lag_seconds",
            "From an event's commit to its read-model row, per projection",
            ["projection"],
            buckets=(0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30),
            registry=self.registry,
        )
        self.live_frames = Counter(
            "loupe_live_frames", "Frames sent to WebSocket clients", registry=self.registry
        )
        self._gauges = _Gauges()
        self.registry.register(self._gauges)

    def gauge(
        self, name: str, doc: str, source: Callable[[], Iterable[tuple[dict[str, str], float]]]
    ) -> None:
        """Register a gauge whose samples `source` computes at scrape time."""
        self._gauges.sources[name] = (doc, source)

    def render(self) -> bytes:
        return generate_latest(self.registry)


class MetricsMiddleware:
    """Counts and times every HTTP request under its route template (not its raw path)."""

    def __init__(self, app: ASGIApp, metrics: Metrics) -> None:
        self.app = app
        self.metrics = metrics

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != ScopeType.HTTP:
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        status = 500

        async def record_status(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = int(message["status"])
            await send(message)

        try:
            await self.app(scope, receive, record_status)
        finally:
            route = _route_of(scope)
            method = str(scope.get("method", ""))
            self.metrics.requests.labels(method, route, str(status)).inc()
            self.metrics.latency.labels(method, route).observe(time.perf_counter() - started)


def _route_of(scope: Any) -> str:
    handler = scope.get("route_handler")
    paths = getattr(handler, "paths", None)
    if paths:
        return str(min(paths))
    return "unmatched"
