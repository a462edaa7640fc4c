"""Test helpers: replicas of a report, each with its own copy, clock and dot counter.

A replica decides commands against its own copy (as an offline client or a server would),
stamps each event the way the command handler does (the next dot of its replica id, an HLC
after every HLC it has seen) and applies it. ``sync`` delivers another replica's events.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any
from uuid import UUID, uuid4

from domain.clock import ZERO, Hlc, receive, tick
from domain.metadata import EventMetadata
from domain.report import Report
from domain.report.events import ReportEvent
from domain.versions import Dot

if TYPE_CHECKING:
    from collections.abc import Callable

Stamped = tuple[ReportEvent, EventMetadata]

REPORT_ID = UUID("00000000-0000-4000-8000-000000000001")
WORKSPACE_ID = UUID("00000000-0000-4000-8000-0000000000aa")


class Replica:
    def __init__(self, name: str, report_id: UUID = REPORT_ID, skew_ms: int = 0) -> None:
        self.name = name
        self.report = Report(report_id)
        self.skew_ms = skew_ms
        self.counter = 0
        self.clock: Hlc = ZERO
        self.log: list[Stamped] = []

    def stamp(self, now_ms: int) -> EventMetadata:
        self.counter += 1
        self.clock = tick(max(self.clock, self.report.max_hlc), now_ms + self.skew_ms)
        return EventMetadata(
            event_id=uuid4(), replica=self.name, dot=Dot(self.name, self.counter), hlc=self.clock
        )

    def do(self, decide: Callable[[Report], ReportEvent], now_ms: int = 1_000) -> ReportEvent:
        """Decide a command on this replica's copy, stamp the event, apply it, log it."""
        event = decide(self.report)
        meta = self.stamp(now_ms)
        self.report.apply(event, meta)
        self.log.append((event, meta))
        return event

    def sync(self, events: list[Stamped], now_ms: int = 1_000) -> None:
        """Receive events from elsewhere (duplicates are harmless)."""
        for event, meta in events:
            self.clock = receive(self.clock, meta.hlc, now_ms + self.skew_ms)
            self.report.apply(event, meta)

    def document(self) -> dict[str, Any]:
        return self.report.document()


def replay(events: list[Stamped], report_id: UUID = REPORT_ID) -> Report:
    report = Report(report_id)
    for event, meta in events:
        report.apply(event, meta)
    return report
