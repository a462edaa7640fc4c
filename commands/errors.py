"""Errors of the command path that are not domain rules."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING
from uuid import UUID

from domain.errors import DomainError, NotFound

if TYPE_CHECKING:
    from commands.eventstore import RecordedEvent


class CommandRejected(Exception):
    """Command `index` of a batch broke a rule; the whole batch was rejected, nothing appended."""

    def __init__(self, index: int, command_type: str, error: DomainError) -> None:
        super().__init__(f"command {index} ({command_type}): {error.detail}")
        self.index = index
        self.command_type = command_type
        self.error = error


class StreamOfAnotherKind(NotFound):
    """The id names a stream of another kind (a workspace's id used as a report's): there is
    no such thing of the kind asked for. Ids are never shared across kinds."""

    def __init__(self, stream_id: UUID, wanted: str, found: str) -> None:
        super().__init__(
            f"{wanted} {stream_id} does not exist (that id is a {found}'s)",
            code=f"{wanted}_not_found",
        )
        self.stream_id = stream_id
        self.wanted = wanted
        self.found = found

    @classmethod
    def check(cls, stream_id: UUID, wanted: str, events: Sequence[RecordedEvent]) -> None:
        """Raise if ``events`` (of one stream, just read) are of another kind than ``wanted``."""
        if events and events[0].stream_type != wanted:
            raise cls(stream_id, wanted, events[0].stream_type)


class ConcurrencyExhausted(Exception):
    """Too many concurrent writers on one stream: retried and still losing the race."""


class ReadModelBehind(Exception):
    """A read asked for a position its read model has not reached in time (retry later)."""
