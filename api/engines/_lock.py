"""An exclusive lock on a data directory.

Two processes running engines on the same files would corrupt them (two Redis servers
appending to one AOF, a second NATS server replaying the same JetStream store). ``flock`` is
released by the kernel when the last holder of the open file closes it, however it dies, so a
crash never leaves a stale lock behind. The file also records the pid that took it, for the
error message only.

An engine's own lock is also inherited by its server process (``pass_fds``): if Loupe is
killed, the server keeps the lock until it has really finished shutting down, and a Loupe
restarted at once waits for it instead of starting a second server on the same files.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import time
from typing import TYPE_CHECKING

from api.engines.errors import EngineError

if TYPE_CHECKING:
    from pathlib import Path

_RETRY_INTERVAL = 0.1


class DirLock:
    """Holds ``<directory>/.lock`` until :meth:`release` (or until the process ends)."""

    def __init__(self, directory: Path, fd: int) -> None:
        self.directory = directory
        self._fd = fd

    @property
    def fd(self) -> int:
        """The locked file descriptor, for a child that must hold the lock as long as it runs."""
        return self._fd

    @classmethod
    def acquire(cls, directory: Path, what: str, wait: float = 0) -> DirLock:
        """Lock ``directory``, waiting up to ``wait`` s, or raise EngineError naming it."""
        path = directory / ".lock"
        fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o644)
        deadline = time.monotonic() + wait
        try:
            while True:
                try:
                    fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                    break
                except BlockingIOError:
                    if time.monotonic() >= deadline:
                        raise EngineError(cls._busy(directory, path, fd, what)) from None
                    time.sleep(_RETRY_INTERVAL)
        except BaseException:
            os.close(fd)
            raise
        os.ftruncate(fd, 0)
        os.write(fd, f"{os.getpid()}\n".encode())
        return cls(directory, fd)

    @staticmethod
    def _busy(directory: Path, path: Path, fd: int, what: str) -> str:
        holder = os.pread(fd, 32, 0).decode(errors="replace").strip()
        by = f" (process {holder})" if holder.isdigit() else ""
        return (
            f"{directory} is already in use by {what}{by}, which holds {path}. "
            "Stop it, or use another data directory (LOUPE_DATA_DIR)."
        )

    def release(self) -> None:
        """Unlock; safe to call twice. The file stays: deleting it would race a new holder."""
        fd, self._fd = self._fd, -1
        if fd >= 0:
            with contextlib.suppress(OSError):
                os.close(fd)
