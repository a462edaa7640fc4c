"""The Litestar application: routes, auth, errors, OpenAPI, metrics and the services' lifespan."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import sys
from collections.abc import AsyncIterator
from importlib.metadata import version

from litestar import Litestar
from litestar.middleware.base import DefineMiddleware
from litestar.openapi import OpenAPIConfig
from litestar.openapi.spec import Components, SecurityScheme

from api.auth import DEV_USER_HEADER, DevAuthMiddleware
from api.bootstrap import open_services, settle_heap
from api.metrics import Metrics, MetricsMiddleware
from api.problems import EXCEPTION_HANDLERS
from api.processes import running_scheduler, running_worker
from api.projector_child import run_projector_child
from api.routes import (
    charts,
    connectors,
    dataset_model,
    datasets,
    exports,
    queries,
    subscriptions,
)
from api.routes.audit import get_audit, get_report_history
from api.routes.live import live
from api.routes.reports import get_events, get_report, post_commands
from api.routes.service import health, metrics
from api.routes.time_travel import get_diff, post_revert
from api.routes.workspaces import create_report, create_workspace, list_reports, list_workspaces
from api.settings import Settings
from charts.render import shutdown_render_workers

log = logging.getLogger("loupe")


async def _stop_task(task: asyncio.Task[None], stop: asyncio.Event) -> None:
    stop.set()
    await task


def create_app(
    settings: Settings,
    *,
    processors: bool = True,
    projections_in_child: bool = False,
    long_running: bool = False,
) -> Litestar:
    """Build the app. The engines must be reachable (embedded or external) when it starts.

    ``projections_in_child``: with ``processors``, the projections run in a child process
    (api/projector_child.py), the relay here. ``long_running``: the app is the process (`loupe
    serve`): its heap is settled once it has started (``settle_heap``); not for apps that
    tests start and stop by the dozen."""
    app_metrics = Metrics()

    @contextlib.asynccontextmanager
    async def services_lifespan(app: Litestar) -> AsyncIterator[None]:
        child = processors and projections_in_child
        async with contextlib.AsyncExitStack() as stack:
            services = await stack.enter_async_context(
                open_services(
                    settings,
                    processors=processors,
                    run_projections=not child,
                    metrics=app_metrics,
                )
            )
            app.state.services = services
            if processors:
                # Export jobs and subscriptions run here too (`loupe worker` scales them out).
                await stack.enter_async_context(running_worker(settings, services))
                await stack.enter_async_context(running_scheduler(settings, services))
            if child:
                stop = asyncio.Event()
                task = asyncio.create_task(run_projector_child(settings, stop), name="projector")
                stack.push_async_callback(_stop_task, task, stop)
            if long_running:
                # The render workers (charts/render.py) stop with the server; in tests they
                # serve app after app and stop with the interpreter.
                stack.callback(shutdown_render_workers)
                settle_heap()
            url = getattr(app.state, "public_url", None)
            if url:
                banner = f"Loupe is running at {url}"
                if settings.dev_auth:
                    banner += f"  (development identity: send {DEV_USER_HEADER}: <name>)"
                print(banner, file=sys.stderr, flush=True)  # noqa: T201 - the promised printed URL
            yield

    return Litestar(
        route_handlers=[
            health,
            metrics,
            create_workspace,
            list_workspaces,
            create_report,
            list_reports,
            get_report,
            get_diff,
            post_revert,
            post_commands,
            get_events,
            get_audit,
            get_report_history,
            live,
            *datasets.ROUTES,
            *dataset_model.ROUTES,
            *queries.ROUTES,
            *connectors.ROUTES,
            *charts.ROUTES,
            *exports.ROUTES,
            *subscriptions.ROUTES,
        ],
        lifespan=[services_lifespan],
        middleware=[
            DefineMiddleware(MetricsMiddleware, metrics=app_metrics),
            DefineMiddleware(DevAuthMiddleware, enabled=settings.dev_auth),
        ],
        exception_handlers=EXCEPTION_HANDLERS,
        openapi_config=OpenAPIConfig(
            title="Loupe",
            version=version("loupe"),
            description=(
                "Self-hosted BI report designer: every edit is an event; live co-editing, "
                "offline sync and full history. Errors are RFC 9457 problem+json."
            ),
            path="/schema",
            components=Components(
                security_schemes={
                    "devUser": SecurityScheme(
                        type="apiKey",
                        name=DEV_USER_HEADER,
                        security_scheme_in="header",
                        description="Development identity (LOUPE_DEV_AUTH=1 only).",
                    )
                }
            ),
            security=[{"devUser": []}],
        ),
        logging_config=None,  # api.logs configures logging once, for every process type
        debug=False,
    )
