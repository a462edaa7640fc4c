"""Loading aggregates: fold a stream's events, and keep recent aggregates warm in memory.

The cache is optimistic. A cached aggregate may be behind the store (another process appended);
the handler decides against it anyway and appends with the cached version as the expected
version. If the store is ahead, the append is refused, the handler catches the aggregate up with
the events it missed and decides again. So the cache never makes a decision wrong, and in the
common case (the editing happens in this process) a command costs no read at all.
"""

from __future__ import annotations

import asyncio
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Generic, TypeVar
from uuid import UUID

from commands.envelope import metadata_of
from commands.errors import StreamOfAnotherKind
from commands.eventstore import EventStore, RecordedEvent
from domain.errors import AlreadyExists
from domain.metadata import EventMetadata

DEFAULT_CAPACITY = 2000


A = TypeVar("A")


@dataclass(eq=False)
class Loaded(Generic[A]):
    """An aggregate with the stream version it reflects, and the lock its writers share."""

    aggregate: A
    version: int
    #: The global position of the newest event folded in (0 when none).
    position: int = 0
    lock: asyncio.Lock = field(default_factory=asyncio.Lock)


class Repository(Generic[A]):
    def __init__(
        self,
        store: EventStore,
        *,
        stream_type: str,
        new: Callable[[UUID], A],
        apply: Callable[[A, RecordedEvent, EventMetadata], None],
        capacity: int = DEFAULT_CAPACITY,
    ) -> None:
        self.store = store
        #: The kind of stream this repository folds: an id of another kind is not one of ours.
        self.stream_type = stream_type
        self._new = new
        self._apply = apply
        self._capacity = capacity
        self._cache: OrderedDict[UUID, Loaded[A]] = OrderedDict()

    def cached(self, stream_id: UUID) -> Loaded[A]:
        """The cached entry (created empty at version 0 if absent) — no I/O."""
        entry = self._cache.get(stream_id)
        if entry is None:
            entry = Loaded(self._new(stream_id), 0)
            self._cache[stream_id] = entry
            while len(self._cache) > self._capacity:
                oldest, evicted = next(iter(self._cache.items()))
                if evicted.lock.locked():
                    break  # in use; try again next time
                del self._cache[oldest]
        else:
            self._cache.move_to_end(stream_id)
        return entry

    async def load(self, stream_id: UUID, *, catch_up: bool = True) -> Loaded[A]:
        """The aggregate, caught up with the store when `catch_up` (one read, usually empty)."""
        entry = self.cached(stream_id)
        if catch_up or entry.version == 0:
            await self.catch_up(entry, stream_id)
        return entry

    async def load_to_create(self, stream_id: UUID, *, code: str) -> Loaded[A]:
        """``load`` for a create: an id that names a stream of another kind is taken
        (`AlreadyExists` with ``code``), not missing."""
        entry = self.cached(stream_id)
        await self.catch_up_to_create(entry, stream_id, code=code)
        return entry

    async def catch_up_to_create(self, entry: Loaded[A], stream_id: UUID, *, code: str) -> None:
        """``catch_up`` for a create (see ``load_to_create``)."""
        try:
            await self.catch_up(entry, stream_id)
        except StreamOfAnotherKind as taken:
            raise AlreadyExists(
                f"cannot create {taken.wanted} {stream_id}: that id is a {taken.found}'s",
                code=code,
            ) from None

    async def catch_up(self, entry: Loaded[A], stream_id: UUID) -> None:
        events = await self.store.read_stream(stream_id, after_version=entry.version)
        StreamOfAnotherKind.check(stream_id, self.stream_type, events)
        for event in events:
            self._apply(entry.aggregate, event, metadata_of(event))
            entry.version = event.version
            entry.position = event.position

    def reset(self, entry: Loaded[A], stream_id: UUID) -> None:
        """Forget an entry's state (it can no longer be trusted); keep its lock."""
        entry.aggregate = self._new(stream_id)
        entry.version = 0
        entry.position = 0
