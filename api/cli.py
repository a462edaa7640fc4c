"""The `loupe` command: serve, projector, worker, migrate.

`loupe serve` with no configuration starts the embedded engines (PostgreSQL, NATS, Redis) as
its own children, migrates, serves the API and runs the background processors (the NATS relay
and the projections) in the same process. In production each role runs on its own (compose.yaml):
`loupe serve --no-processors` x N behind nginx, one or more `loupe projector`, `loupe worker`.
"""

from __future__ import annotations

import asyncio
import contextlib
import errno
import logging
import os
import signal
import socket
import sys
from collections.abc import Iterator

import click
import msgspec

from api.logs import configure_logging
from api.settings import Settings, SettingsError, load_settings

log = logging.getLogger("loupe")

_PORT_SEARCH = 50


def _settings(**overrides: object) -> Settings:
    try:
        settings = load_settings()
    except SettingsError as exc:
        raise click.UsageError(str(exc)) from None
    changes = {key: value for key, value in overrides.items() if value is not None}
    if "port" in changes:
        changes["port_fixed"] = True
    return msgspec.structs.replace(settings, **changes)


def _port_free(host: str, port: int) -> bool:
    with socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((host, port))
        except OSError as exc:
            if exc.errno in (errno.EADDRINUSE, errno.EACCES):
                return False
            raise
    return True


def choose_port(settings: Settings) -> int:
    """The configured port, or (when none was asked for) the first free one after it."""
    if settings.port_fixed:
        if not _port_free(settings.host, settings.port):
            raise click.ClickException(
                f"port {settings.port} on {settings.host} is in use; choose another with --port"
            )
        return settings.port
    for port in range(settings.port, min(settings.port + _PORT_SEARCH, 65536)):
        if _port_free(settings.host, port):
            return port
    raise click.ClickException(
        f"no free port in {settings.port}..{settings.port + _PORT_SEARCH - 1}; use --port"
    )


@contextlib.contextmanager
def _engines(settings: Settings, *, reuse_running: bool = True) -> Iterator[Settings]:
    """Start the embedded engines the settings ask for; yield settings that point at them.

    With `reuse_running`, the engines of a Loupe already running on the same data directory
    (e.g. `make run` in another terminal) are used instead.
    """
    wanted = settings.embedded_engines
    if not wanted:
        yield settings
        return
    from api.engines import EmbeddedEngines, EngineError, running_urls  # noqa: PLC0415

    data_dir = settings.data_dir.resolve()
    running = running_urls(data_dir) if reuse_running else None
    if running is not None and set(wanted) <= running.keys():
        click.echo(f"Using the engines of the Loupe running on {data_dir}", err=True)
        yield msgspec.structs.replace(
            settings,
            database_url=running.get("postgres", settings.database_url),
            nats_url=running.get("nats", settings.nats_url),
            redis_url=running.get("redis", settings.redis_url),
        )
        return
    data_dir.mkdir(parents=True, exist_ok=True)
    click.echo(f"Starting embedded {', '.join(wanted)} (data in {data_dir}) ...", err=True)
    try:
        engines = EmbeddedEngines(data_dir, wanted)
        engines.__enter__()
    except EngineError as exc:
        raise click.ClickException(str(exc)) from None
    try:
        urls = engines.urls
        yield msgspec.structs.replace(
            settings,
            database_url=urls.get("postgres", settings.database_url),
            nats_url=urls.get("nats", settings.nats_url),
            redis_url=urls.get("redis", settings.redis_url),
        )
    finally:
        click.echo("Stopping embedded engines ...", err=True)
        engines.stop()


@click.group()
@click.version_option(package_name="loupe")
def main() -> None:
    """Loupe — a self-hosted BI report designer."""


@main.command()
@click.option("--host", default=None, help="Interface to listen on (LOUPE_HOST; 127.0.0.1).")
@click.option(
    "--port", type=click.IntRange(1, 65535), default=None, help="Port (LOUPE_PORT; 8000)."
)
@click.option(
    "--processors/--no-processors",
    default=True,
    help="Also run the NATS relay and the projections (default: yes); without them, run "
    "`loupe projector` beside it.",
)
@click.option(
    "--projections",
    type=click.Choice(["in-process", "process"]),
    default="in-process",
    help="Where the projections of --processors run: in this process (default) or in a "
    "supervised child process of their own (their CPU off this process's event loop).",
)
def serve(host: str | None, port: int | None, *, processors: bool, projections: str) -> None:
    """Serve the API (and, with no configuration, the embedded engines it needs)."""
    import uvicorn  # noqa: PLC0415 - keep `loupe --help` fast

    from api.app import create_app  # noqa: PLC0415

    settings = _settings(host=host, port=port)
    configure_logging(settings)
    chosen = choose_port(settings)
    with _engines(settings, reuse_running=False) as running:
        asyncio.run(_migrate(running))
        app = create_app(
            running,
            processors=processors,
            projections_in_child=projections == "process",
            long_running=True,
        )
        url = f"http://{_display_host(running.host)}:{chosen}"
        app.state.public_url = url
        config = uvicorn.Config(
            app,
            host=running.host,
            port=chosen,
            loop="uvloop",
            http="httptools",
            ws="websockets-sansio",
            lifespan="on",
            log_config=None,
            access_log=False,
            timeout_graceful_shutdown=10,
        )
        server = uvicorn.Server(config)
        # uvicorn re-raises the signal that stopped it once it has shut down; with these
        # handlers in place that re-raise is a no-op, so we go on to stop the engines in order.
        for sig in (signal.SIGINT, signal.SIGTERM):
            signal.signal(sig, _ignore_signal)
        server.run()
        if not server.started:
            raise click.ClickException("Loupe could not start; see the log above")


def _ignore_signal(_sig: int, _frame: object) -> None:
    """Shutdown is already under way."""


def _display_host(host: str) -> str:
    if host in ("0.0.0.0", "::"):  # noqa: S104 - only for display
        return "localhost"
    return f"[{host}]" if ":" in host else host


@main.command()
@click.option(
    "--relay/--no-relay",
    default=True,
    help="Also run the NATS relay (default: yes). `loupe serve` runs its projections in a "
    "`loupe projector --no-relay` child and keeps the relay, which live editing waits on.",
)
def projector(*, relay: bool) -> None:
    """Run the background processors only: the NATS relay and the projections."""
    from api.processes import run_projector  # noqa: PLC0415

    settings = _settings()
    configure_logging(settings)
    with _engines(settings) as running:
        asyncio.run(_migrate(running))
        run_projector(running, relay=relay)


@main.command()
def worker() -> None:
    """Run the job worker (arq on Redis): exports and scheduled deliveries."""
    from api.processes import run_worker  # noqa: PLC0415

    settings = _settings()
    configure_logging(settings)
    with _engines(settings) as running:
        run_worker(running)


@main.group()
def projections() -> None:
    """Read models: their state, and rebuilding one from the event log."""


@projections.command("status")
def projections_status() -> None:
    """Each projection's position, how far behind the log it is, and its version."""
    from api.processes import projection_status  # noqa: PLC0415

    settings = _settings()
    configure_logging(settings)
    with _engines(settings) as running:
        rows = asyncio.run(projection_status(running))
    click.echo(f"{'projection':<16} {'position':>10} {'behind':>8} {'version':>8}")
    for name, position, head, version in rows:
        click.echo(f"{name:<16} {position:>10} {max(0, head - position):>8} {version:>8}")


@projections.command("rebuild")
@click.argument("name")
@click.option(
    "--workers",
    type=click.IntRange(min=1),
    default=None,
    help="Processes that fold the log at once (default: one per CPU). Used by the projections "
    "whose streams fold independently (reports, audit); the others fold in one.",
)
def projections_rebuild(name: str, workers: int | None) -> None:
    """Rebuild projection NAME from position 0 into fresh tables and swap them in.

    Safe while Loupe is serving: reads use the old tables until the swap, and the live
    runner continues from the rebuilt position.
    """
    from api.processes import rebuild_projection  # noqa: PLC0415
    from projections.registry import FACTORIES  # noqa: PLC0415

    if name not in FACTORIES:
        raise click.BadParameter(f"choose one of {', '.join(sorted(FACTORIES))}", param_hint="NAME")
    settings = _settings()
    configure_logging(settings)

    def progress(position: int, events: int) -> None:
        click.echo(f"\r  {events:,} events folded (position {position:,})", nl=False, err=True)

    with _engines(settings) as running:
        count = workers if workers is not None else len(os.sched_getaffinity(0))
        result = asyncio.run(rebuild_projection(running, name, progress, workers=count))
    click.echo(
        f"\nrebuilt {result.name}: {result.events:,} events in {result.seconds:.1f}s "
        f"({result.rate:,.0f}/s); now at position {result.position:,}"
    )


@main.command()
def migrate() -> None:
    """Apply pending database migrations and exit."""
    settings = _settings()
    configure_logging(settings)
    with _engines(settings) as running:
        applied = asyncio.run(_migrate(running))
    click.echo(
        f"{len(applied)} migration(s) applied" + (f": {', '.join(applied)}" if applied else "")
    )


async def _migrate(settings: Settings) -> list[str]:
    from api.bootstrap import migrate_all  # noqa: PLC0415

    return await migrate_all(settings)


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
