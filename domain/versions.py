"""Dots and version vectors: which events a replica has seen.

Every event carries a dot ``(replica, counter)``: the n-th event that replica produced. Dots make
events unique (re-sending one is harmless) and a version vector (replica → highest counter
seen) summarises a set of events, so two peers can tell which events the other lacks.

The summary is exact when each replica's events are delivered as a prefix (1..n, no gaps),
which holds because every replica numbers its own events in order and sync sends ranges.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import msgspec

if TYPE_CHECKING:
    from collections.abc import Iterator, Mapping


class Dot(msgspec.Struct, frozen=True, array_like=True, order=True):
    """The ``counter``-th event of ``replica``, counting from 1. JSON: ``[replica, counter]``."""

    replica: str
    counter: int


class DotRange(msgspec.Struct, frozen=True):
    """The dots ``first..last`` (inclusive) of one replica."""

    replica: str
    first: int
    last: int

    def __contains__(self, dot: object) -> bool:
        return (
            isinstance(dot, Dot)
            and dot.replica == self.replica
            and self.first <= dot.counter <= self.last
        )


class VersionVector:
    """An immutable map replica → highest counter seen (absent means 0).

    JSON is an object ``{replica: counter}``: use ``to_dict`` / ``from_dict`` at the edges
    (wire structs declare the field as ``dict[str, int]``).
    """

    __slots__ = ("_counters",)

    _counters: dict[str, int]

    def __init__(self, counters: Mapping[str, int] | None = None) -> None:
        clean: dict[str, int] = {}
        for replica, counter in (counters or {}).items():
            if isinstance(counter, bool) or not isinstance(counter, int) or counter < 0:
                raise ValueError(f"counter of replica {replica!r} must be >= 0, got {counter!r}")
            if counter:
                clean[replica] = counter
        object.__setattr__(self, "_counters", clean)

    def __setattr__(self, name: str, value: object) -> None:
        raise AttributeError("VersionVector is immutable")

    @classmethod
    def from_dict(cls, counters: Mapping[str, int]) -> VersionVector:
        return cls(counters)

    def to_dict(self) -> dict[str, int]:
        """A fresh dict, sorted by replica (stable JSON)."""
        return dict(sorted(self._counters.items()))

    def __getitem__(self, replica: str) -> int:
        return self._counters.get(replica, 0)

    def get(self, replica: str) -> int:
        return self._counters.get(replica, 0)

    def replicas(self) -> Iterator[str]:
        return iter(sorted(self._counters))

    def __len__(self) -> int:
        return len(self._counters)

    def __contains__(self, dot: object) -> bool:
        """Whether the event with this dot is included (``Dot`` only)."""
        return isinstance(dot, Dot) and dot.counter <= self._counters.get(dot.replica, 0)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, VersionVector) and self._counters == other._counters

    def __hash__(self) -> int:
        return hash(frozenset(self._counters.items()))

    def __repr__(self) -> str:
        return f"VersionVector({self.to_dict()!r})"

    def observe(self, dot: Dot) -> VersionVector:
        """This vector after seeing ``dot``."""
        if dot.counter <= self._counters.get(dot.replica, 0):
            return self
        return VersionVector({**self._counters, dot.replica: dot.counter})

    def merge(self, other: VersionVector) -> VersionVector:
        """The least upper bound: commutative, associative, idempotent."""
        merged = dict(self._counters)
        for replica, counter in other._counters.items():
            if counter > merged.get(replica, 0):
                merged[replica] = counter
        return VersionVector(merged)

    def dominates(self, other: VersionVector) -> bool:
        """Whether this vector has seen everything ``other`` has (``self >= other``)."""
        mine = self._counters
        return all(counter <= mine.get(replica, 0) for replica, counter in other._counters.items())

    def concurrent(self, other: VersionVector) -> bool:
        """Whether each has seen something the other has not."""
        return not self.dominates(other) and not other.dominates(self)

    def missing(self, other: VersionVector) -> tuple[DotRange, ...]:
        """The dots ``other`` has seen and this vector has not, by replica.

        On a sync, ``client.missing(server)`` is what the server must send to the client, and
        ``server.missing(client)`` what the client must send to the server.
        """
        mine = self._counters
        return tuple(
            DotRange(replica, mine.get(replica, 0) + 1, counter)
            for replica, counter in sorted(other._counters.items())
            if counter > mine.get(replica, 0)
        )
