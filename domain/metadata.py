"""What every stored event carries besides its payload."""

from datetime import datetime
from uuid import UUID

import msgspec

from domain.clock import Hlc
from domain.registers import Stamp
from domain.versions import Dot


class EventMetadata(msgspec.Struct, frozen=True, kw_only=True):
    """Identity, causality and provenance of one event.

    ``replica`` is the client (or server replica) that produced the event; ``dot`` numbers the
    event among that replica's events and ``hlc`` orders it for last-writer-wins merges.
    ``recorded_at`` is set by the event store when the event commits.
    """

    event_id: UUID
    replica: str
    dot: Dot
    hlc: Hlc
    actor: UUID | None = None
    command_id: UUID | None = None
    correlation_id: UUID | None = None
    recorded_at: datetime | None = None

    def __post_init__(self) -> None:
        if self.dot.replica != self.replica:
            raise ValueError(
                f"dot {self.dot.replica!r} does not belong to replica {self.replica!r}"
            )

    @property
    def stamp(self) -> Stamp:
        """The order of this event's writes in last-writer-wins registers."""
        return Stamp(self.hlc, self.replica)
