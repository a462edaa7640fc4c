"""The engines ``loupe serve`` starts when no external URL is configured.

Started in a fixed order (PostgreSQL, the truth, first; then NATS; then Redis) and stopped in
reverse, each under ``<data_dir>/<name>``. The data directory is locked for as long as the
engines run, so a second Loupe on the same directory fails at once with a clear message
instead of two servers writing the same files.

Signals are the caller's business: the engines run in their own sessions, so a Ctrl-C reaches
only this process, whose ``KeyboardInterrupt`` (or a SIGTERM handler that exits normally) leaves
the ``with`` block and stops them in order. If the process dies without that, the kernel still
stops them (PR_SET_PDEATHSIG, see ``_process``).
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import TYPE_CHECKING, Self

from api.engines._lock import DirLock
from api.engines.errors import EngineError
from api.engines.nats import EmbeddedNats
from api.engines.postgres import EmbeddedPostgres
from api.engines.redis import EmbeddedRedis

if TYPE_CHECKING:
    from collections.abc import Sequence
    from types import TracebackType

    from api.engines.base import Engine

#: Start order.
ENGINES: dict[str, type[Engine]] = {
    "postgres": EmbeddedPostgres,
    "nats": EmbeddedNats,
    "redis": EmbeddedRedis,
}


#: Written while the engines run, so that other `loupe` commands can use them.
URLS_FILE = "engines.json"


def _write_urls(data_dir: Path, urls: dict[str, str]) -> None:
    path = data_dir / URLS_FILE
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as file:
        json.dump(urls, file)


def running_urls(data_dir: Path) -> dict[str, str] | None:
    """The URLs of the engines another Loupe process runs on `data_dir`, if one does.

    The data-directory lock says whether they really run: a file left by a crash is stale.
    """
    path = data_dir.resolve() / URLS_FILE
    if not path.exists():
        return None
    try:
        lock = DirLock.acquire(data_dir.resolve(), "a check")
    except EngineError:
        pass  # held: the engines run
    else:
        lock.release()
        return None
    try:
        urls = json.loads(path.read_text())
    except (OSError, ValueError):
        return None
    return {str(key): str(value) for key, value in urls.items()}


class EmbeddedEngines:
    """Context manager: ``with EmbeddedEngines(Path("var"), ["postgres"]) as e: e.urls``."""

    def __init__(self, data_dir: Path, which: Sequence[str]) -> None:
        unknown = sorted(set(which) - ENGINES.keys())
        if unknown:
            raise EngineError(f"unknown embedded engine(s) {unknown}; known: {list(ENGINES)}")
        self.data_dir = data_dir.resolve()
        self.engines: list[Engine] = [
            cls(self.data_dir / name) for name, cls in ENGINES.items() if name in which
        ]
        self._lock: DirLock | None = None

    @property
    def urls(self) -> dict[str, str]:
        """Client URL of every running engine, by name."""
        return {engine.name: engine.url for engine in self.engines if engine.pid is not None}

    @property
    def pids(self) -> dict[str, int]:
        """Server pid of every running engine, by name."""
        return {e.name: pid for e in self.engines if (pid := e.pid) is not None}

    def start(self, timeout: float = 60) -> None:
        """Lock the data directory and start the engines; all or nothing."""
        if not self.engines:
            return
        if self._lock is not None:
            raise EngineError(f"the embedded engines in {self.data_dir} are already started")
        self.data_dir.mkdir(parents=True, exist_ok=True)
        self._lock = DirLock.acquire(self.data_dir, "Loupe's embedded engines")
        try:
            for engine in self.engines:
                engine.start(timeout)
            _write_urls(self.data_dir, self.urls)
        except BaseException:
            self.stop()
            raise

    def stop(self, timeout: float = 15) -> None:
        """Stop the engines in reverse order and unlock; safe to call twice."""
        failures: list[str] = []
        for engine in reversed(self.engines):
            try:
                engine.stop(timeout)
            except Exception as exc:  # noqa: BLE001 - stop the others, report all at the end
                failures.append(f"{engine.name}: {exc}")
        if self._lock is not None:
            (self.data_dir / URLS_FILE).unlink(missing_ok=True)
            self._lock.release()
            self._lock = None
        if failures:
            raise EngineError("stopping the embedded engines failed: " + "; ".join(failures))

    def __enter__(self) -> Self:
        self.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()
