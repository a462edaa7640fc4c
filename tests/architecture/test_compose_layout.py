"""compose.yaml describes the production layout, and every Loupe container runs a real command."""

from __future__ import annotations

from pathlib import Path

import click
import yaml

from api.cli import main

COMPOSE = Path(__file__).resolve().parents[2] / "compose.yaml"


def _services() -> dict[str, dict]:
    return yaml.safe_load(COMPOSE.read_text())["services"]


def test_compose_has_the_production_layout():
    services = _services()
    assert {"postgres", "nats", "redis", "minio", "nginx", "api", "projector", "worker"} <= set(
        services
    )
    assert "-js" in services["nats"]["command"], "NATS must run with JetStream"
    assert services["nginx"]["ports"], "nginx is the way in"


def test_every_loupe_container_runs_an_existing_loupe_command():
    loupe_services = {
        name: service
        for name, service in _services().items()
        if service.get("image") == "loupe:latest"
    }
    assert {"api", "projector", "worker", "migrate"} <= set(loupe_services)
    for name, service in loupe_services.items():
        program, subcommand, *args = service["command"]
        assert program == "loupe", name
        with click.Context(main) as group:
            command = main.get_command(group, subcommand)
            assert command is not None, f"{name}: `loupe {subcommand}` does not exist"
            command.make_context(subcommand, list(args), parent=group)  # raises on a bad option


def test_every_loupe_container_is_configured_for_external_engines():
    for name, service in _services().items():
        if service.get("image") == "loupe:latest":
            env = service["environment"]
            for key in ("LOUPE_DATABASE_URL", "LOUPE_NATS_URL", "LOUPE_REDIS_URL"):
                assert env.get(key), f"{name} lacks {key}: it would start embedded engines"
