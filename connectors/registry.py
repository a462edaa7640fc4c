"""The connectors installed: found through the ``loupe.connectors`` entry points, built once
per process, closed on shutdown."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from importlib.metadata import entry_points
from pathlib import Path
from typing import Any

import msgspec

from connectors.errors import InvalidConfig
from connectors.plugin import (
    ENTRY_POINT_GROUP,
    Connector,
    ConnectorContext,
    ConnectorLimits,
    secret_fields,
)

log = logging.getLogger(__name__)


class ConnectorInfo(msgspec.Struct, frozen=True, kw_only=True):
    """A connector as `GET /connectors` shows it."""

    name: str
    title: str
    dialect: str
    #: JSON Schema of its configuration (secret fields are ``writeOnly``).
    config_schema: dict[str, Any]
    secret_fields: list[str]


@dataclass
class Connectors:
    """name → connector."""

    installed: dict[str, Connector]

    @classmethod
    def discover(
        cls,
        data_dir: Path,
        *,
        limits: ConnectorLimits | None = None,
        services: dict[str, Any] | None = None,
    ) -> Connectors:
        """Build every connector of the entry-point group. One that fails to load is logged and
        left out (a broken plugin must not stop Loupe)."""
        installed: dict[str, Connector] = {}
        for entry in entry_points(group=ENTRY_POINT_GROUP):
            if entry.name in installed:
                log.warning("connector %r is registered twice; keeping the first", entry.name)
                continue
            context = ConnectorContext(
                data_dir=data_dir / "connectors" / entry.name,
                limits=limits or ConnectorLimits(),
                services=dict(services or {}),
            )
            try:
                factory = entry.load()
                connector = factory(context)
            except Exception:
                log.exception("connector %r (%s) failed to load", entry.name, entry.value)
                continue
            if not isinstance(connector, Connector):
                log.error(
                    "connector %r (%s) lacks the Connector interface", entry.name, entry.value
                )
                continue
            installed[entry.name] = connector
        return cls(installed)

    def get(self, name: str) -> Connector:
        connector = self.installed.get(name)
        if connector is None:
            known = ", ".join(sorted(self.installed)) or "none"
            raise InvalidConfig(
                f"there is no connector {name!r} (installed: {known})", code="unknown_connector"
            )
        return connector

    def describe(self) -> list[ConnectorInfo]:
        return [
            ConnectorInfo(
                name=name,
                title=connector.title,
                dialect=connector.dialect,
                config_schema=msgspec.json.schema(connector.config_type),
                secret_fields=sorted(secret_fields(connector.config_type)),
            )
            for name, connector in sorted(self.installed.items())
        ]

    async def close(self) -> None:
        for name, connector in self.installed.items():
            try:
                await connector.close()
            except Exception:
                log.exception("connector %r did not close cleanly", name)
