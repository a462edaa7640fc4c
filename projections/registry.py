"""Every projection Loupe runs, by name: what `loupe serve`/`loupe projector` run and what
`loupe projections rebuild NAME` accepts."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import redis.asyncio as aioredis

from commands.eventstore import EventStore
from projections.audit import AuditLog
from projections.datasets import DatasetCatalogue
from projections.projection import Projection
from projections.query_cache import QueryCacheInvalidation
from projections.reports import ReportReadModel
from projections.subscriptions import SubscriptionReadModel
from projections.workspaces import WorkspaceCatalogue


@dataclass(frozen=True)
class ProjectionContext:
    """What projections may need besides their own tables."""

    store: EventStore
    read_schema: str
    redis: aioredis.Redis | None = None
    redis_prefix: str = "loupe:"


Factory = Callable[[ProjectionContext], Projection]

#: name → factory. A factory builds a FRESH instance (its own in-memory state).
FACTORIES: dict[str, Factory] = {
    "workspaces": lambda _ctx: WorkspaceCatalogue(),
    "reports": lambda ctx: ReportReadModel(ctx.store),
    # After "reports": its snapshots (when they exist) make the audit's cold loads cheap.
    "audit": lambda ctx: AuditLog(ctx.store),
    "datasets": lambda _ctx: DatasetCatalogue(),
    "query_cache": lambda ctx: QueryCacheInvalidation(ctx.redis, ctx.redis_prefix),
    "subscriptions": lambda _ctx: SubscriptionReadModel(),
}
