"""Hybrid logical clocks (Kulkarni et al., 2014).

An HLC timestamp is ``(ms, counter)``: wall-clock milliseconds, plus a counter that orders
events within the same millisecond and keeps the clock monotonic when the wall clock stalls or
goes backwards. Timestamps are totally ordered (ms first, then counter); ties between replicas
are broken by the replica id in ``domain.registers.Stamp``.

The functions here are pure: callers pass the current wall-clock time in.

Both numbers are JavaScript-safe. For storage a timestamp packs into one signed 64-bit integer,
``ms << 16 | counter``; so the counter is 16 bits, and when it would overflow the clock moves on
to the next millisecond instead (the logical clock runs at most a hair ahead of the wall).
"""

from __future__ import annotations

import msgspec

from domain.errors import InvalidCommand

COUNTER_BITS = 16
MAX_COUNTER = (1 << COUNTER_BITS) - 1
#: The packed form must fit a signed 64-bit integer (year ~6400; far beyond any real clock).
MAX_MS = (1 << (63 - COUNTER_BITS)) - 1


class Hlc(msgspec.Struct, frozen=True, array_like=True, order=True):
    """A hybrid logical timestamp. JSON: ``[ms, counter]``."""

    ms: int
    counter: int = 0

    def __str__(self) -> str:
        return f"{self.ms}.{self.counter}"


ZERO = Hlc(0, 0)


def _next(ms: int, counter: int) -> Hlc:
    """The timestamp just after ``(ms, counter)``; on counter overflow, the next millisecond."""
    if counter < MAX_COUNTER:
        return Hlc(ms, counter + 1)
    return Hlc(ms + 1, 0)


def tick(last: Hlc, now_ms: int) -> Hlc:
    """The timestamp of a local or send event, strictly after ``last``."""
    if now_ms > last.ms:
        return Hlc(now_ms, 0)
    return _next(last.ms, last.counter)


def receive(last: Hlc, remote: Hlc, now_ms: int, *, max_drift_ms: int | None = None) -> Hlc:
    """The timestamp after receiving ``remote``: strictly after both ``last`` and ``remote``.

    With ``max_drift_ms``, a remote timestamp further than that ahead of ``now_ms`` is refused
    (``InvalidCommand``, code ``clock_drift``): one peer with a clock a year fast would
    otherwise win every last-writer-wins register until the rest of the world caught up.
    """
    if max_drift_ms is not None and remote.ms - now_ms > max_drift_ms:
        raise InvalidCommand(
            f"timestamp {remote} is {remote.ms - now_ms} ms ahead of this clock "
            f"(at most {max_drift_ms} ms allowed)",
            code="clock_drift",
        )
    ms = max(last.ms, remote.ms, now_ms)
    if ms == last.ms == remote.ms:
        return _next(ms, max(last.counter, remote.counter))
    if ms == last.ms:
        return _next(ms, last.counter)
    if ms == remote.ms:
        return _next(ms, remote.counter)
    return Hlc(ms, 0)


def to_int(hlc: Hlc) -> int:
    """Pack into one order-preserving integer (``ms << 16 | counter``) for storage."""
    if not 0 <= hlc.ms <= MAX_MS:
        raise ValueError(f"HLC ms must be between 0 and {MAX_MS}, got {hlc.ms}")
    if not 0 <= hlc.counter <= MAX_COUNTER:
        raise ValueError(f"HLC counter must be between 0 and {MAX_COUNTER}, got {hlc.counter}")
    return (hlc.ms << COUNTER_BITS) | hlc.counter


def from_int(packed: int) -> Hlc:
    """Unpack what ``to_int`` packed."""
    if not 0 <= packed <= (MAX_MS << COUNTER_BITS) | MAX_COUNTER:
        raise ValueError(f"not a packed HLC: {packed}")
    return Hlc(packed >> COUNTER_BITS, packed & MAX_COUNTER)
