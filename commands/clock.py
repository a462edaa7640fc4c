"""This process's hybrid logical clock: every event it stamps is after everything it has seen."""

from __future__ import annotations

import time

from domain.clock import ZERO, Hlc, receive, tick

#: A client clock further ahead than this is refused (see `domain.clock.receive`).
MAX_CLIENT_DRIFT_MS = 5 * 60 * 1000


def wall_ms() -> int:
    return time.time_ns() // 1_000_000


class ServerClock:
    def __init__(self) -> None:
        self.last: Hlc = ZERO

    def observe(self, remote: Hlc, *, max_drift_ms: int | None = MAX_CLIENT_DRIFT_MS) -> None:
        """Move past a timestamp seen elsewhere (a client's clock, a stream's newest event)."""
        if remote > self.last:
            self.last = receive(self.last, remote, wall_ms(), max_drift_ms=max_drift_ms)

    def next(self) -> Hlc:
        self.last = tick(self.last, wall_ms())
        return self.last
