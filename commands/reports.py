"""The report command path: load → authorize → decide → append, with retries.

One function decides each command against the report; `ReportHandler.handle_batch` runs a
whole batch atomically. Within this process, batches for one report take turns (a lock per
report), so they do not race each other; against other processes, optimistic concurrency on
the stream version decides, and the loser catches up and decides again — edits merge, so two
people editing one report at the same moment both succeed.
"""

from __future__ import annotations

import asyncio
import random
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any
from uuid import UUID

from commands.authorization import Actor, Authorizer
from commands.clock import ServerClock
from commands.decide import decide
from commands.envelope import new_event
from commands.errors import CommandRejected, ConcurrencyExhausted
from commands.eventstore import (
    AppendResult,
    EventStore,
    NewEvent,
    RecordedEvent,
    StreamRef,
    WrongExpectedVersion,
)
from commands.report import (
    CommandBatch,
    CreateReport,
)
from commands.repository import Loaded, Repository
from commands.revert import RevertPlan, make_revert_plan
from domain.errors import AlreadyExists, DomainError, NotFound
from domain.metadata import EventMetadata
from domain.report.aggregate import Report
from domain.report.document import Savepoint
from domain.report.events import ReportEvent, decode, encode
from domain.versions import Dot

STREAM_TYPE = "report"
#: Version conflicts (another process appended first) are retried this many times, with a
#: short random pause that grows, so that two busy servers take turns.
MAX_ATTEMPTS = 50
MAX_BACKOFF_SECONDS = 0.05


def apply_recorded(report: Report, event: RecordedEvent, meta: EventMetadata) -> None:
    report.apply(decode(event.data), meta)


@dataclass(frozen=True)
class BatchOutcome:
    """What a batch produced: the stream version after it and the events, as recorded."""

    report_id: UUID
    workspace_id: UUID
    version: int
    events: Sequence[RecordedEvent]
    duplicate: bool

    @property
    def position(self) -> int:
        """The global position of the batch's last event (0 if it produced none)."""
        return self.events[-1].position if self.events else 0


class ReportHandler:
    def __init__(
        self,
        store: EventStore,
        authorizer: Authorizer,
        *,
        clock: ServerClock | None = None,
        capacity: int = 2000,
        on_outcome: Callable[[str, int], None] | None = None,
    ) -> None:
        self.store = store
        self.authorizer = authorizer
        self.clock = clock or ServerClock()
        self.reports: Repository[Report] = Repository(
            store, stream_type=STREAM_TYPE, new=Report, apply=apply_recorded, capacity=capacity
        )
        self._on_outcome = on_outcome

    def _count(self, outcome: str, events: int = 0) -> None:
        if self._on_outcome is not None:
            self._on_outcome(outcome, events)

    # -- reads (interim: the report document comes from the aggregate until the projection
    #    issue gives it a read model) ------------------------------------------------------

    async def load(self, report_id: UUID, actor: Actor) -> Loaded[Report]:
        """The report, caught up with the store, if `actor` may view it.

        The caller reads the entry's aggregate, version and position right away (no await in
        between), so they agree with each other."""
        entry = await self.reports.load(report_id)
        async with entry.lock:
            await self.reports.catch_up(entry, report_id)
            report = entry.aggregate
            if not report.exists:
                raise NotFound(f"report {report_id} does not exist", code="report_not_found")
            await self.authorizer.require_view(_workspace_of(report), actor.id)
            return entry

    async def workspace_of(self, report_id: UUID, actor: Actor) -> UUID:
        entry = await self.load(report_id, actor)
        return _workspace_of(entry.aggregate)

    # -- writes -------------------------------------------------------------------------------

    async def create(self, workspace_id: UUID, request: CreateReport, actor: Actor) -> BatchOutcome:
        await self.authorizer.require_edit(workspace_id, actor.id)
        report_id = request.id or uuid.uuid4()
        command_id = request.command_id or uuid.uuid4()
        entry = self.reports.cached(report_id)
        async with entry.lock:
            await self.reports.catch_up_to_create(entry, report_id, code="report_exists")
            report = entry.aggregate
            if report.exists or entry.version > 0:
                duplicate = await self.store.find_command(command_id)
                if duplicate is not None:
                    return self._outcome(report, duplicate)
                raise AlreadyExists(f"report {report_id} exists", code="report_exists")
            payload = report.create(workspace_id, request.name, request.dataset_id)
            meta = self._stamp(report, request.client_id, actor, command_id, None)
            stream = StreamRef(
                stream_id=report_id, stream_type=STREAM_TYPE, workspace_id=workspace_id
            )
            result = await self._append(entry, stream, [(payload, meta)], command_id=command_id)
            return self._outcome(entry.aggregate, result)

    async def handle_batch(
        self, report_id: UUID, batch: CommandBatch, actor: Actor
    ) -> BatchOutcome:
        """Decide and append a whole batch, atomically and idempotently."""
        if batch.hlc is not None:
            self.clock.observe(batch.hlc)
        return await self._run(report_id, actor, lambda _report: batch)

    async def revert(
        self,
        report_id: UUID,
        target: dict[str, Any],
        actor: Actor,
        *,
        command_id: UUID,
        client_id: str,
    ) -> tuple[BatchOutcome, RevertPlan | None]:
        """Append the edits that bring the report back to `target` (an earlier document).

        History is never rewritten: the revert is one more atomic, idempotent batch. The plan
        is made against the report as it stands when the batch is decided (again, if another
        server edited meanwhile). Returns the plan (None for a repeated command_id)."""
        earlier = await self.store.find_command(command_id)
        if earlier is not None:
            entry = await self.reports.load(report_id)
            return self._outcome(entry.aggregate, earlier), None
        plans: list[RevertPlan] = []

        def plan(report: Report) -> CommandBatch | None:
            made = make_revert_plan(report, target, seed=command_id)
            plans.append(made)
            if not made.commands:
                return None
            return CommandBatch(command_id=command_id, client_id=client_id, commands=made.commands)

        outcome = await self._run(report_id, actor, plan)
        return outcome, plans[-1] if plans else None

    async def _run(
        self,
        report_id: UUID,
        actor: Actor,
        make_batch: Callable[[Report], CommandBatch | None],
    ) -> BatchOutcome:
        entry = self.reports.cached(report_id)
        async with entry.lock:
            if entry.version == 0:
                await self.reports.catch_up(entry, report_id)
            for attempt in range(MAX_ATTEMPTS):
                report = entry.aggregate
                if not report.exists:
                    raise NotFound(f"report {report_id} does not exist", code="report_not_found")
                workspace_id = _workspace_of(report)
                await self.authorizer.require_edit(workspace_id, actor.id)
                batch = make_batch(report)
                if batch is None:  # nothing to do
                    return BatchOutcome(report_id, workspace_id, entry.version, [], duplicate=False)
                savepoint = report.savepoint()
                try:
                    decided = self._decide_all(report, batch, actor)
                except CommandRejected:
                    report.rollback_to(savepoint)
                    duplicate = await self.store.find_command(batch.command_id)
                    if duplicate is not None:
                        return self._outcome(report, duplicate)
                    raise
                stream = StreamRef(
                    stream_id=report_id, stream_type=STREAM_TYPE, workspace_id=workspace_id
                )
                try:
                    result = await self._append(
                        entry, stream, decided, command_id=batch.command_id, savepoint=savepoint
                    )
                except WrongExpectedVersion:
                    self._count("conflict_retry")
                    if attempt:
                        await asyncio.sleep(
                            random.uniform(0, min(0.001 * 2**attempt, MAX_BACKOFF_SECONDS))  # noqa: S311
                        )
                    await self.reports.catch_up(entry, report_id)
                    continue
                return self._outcome(entry.aggregate, result)
        raise ConcurrencyExhausted(
            f"report {report_id} is being edited too fast from several servers; "
            "send the same batch again (it is idempotent)"
        )

    def _decide_all(
        self, report: Report, batch: CommandBatch, actor: Actor
    ) -> list[tuple[ReportEvent, EventMetadata]]:
        decided: list[tuple[ReportEvent, EventMetadata]] = []
        for index, command in enumerate(batch.commands):
            try:
                payload = decide(report, command)
            except DomainError as exc:
                raise CommandRejected(index, type(command).__name__, exc) from exc
            meta = self._stamp(
                report, batch.client_id, actor, batch.command_id, batch.correlation_id
            )
            report.apply(payload, meta)
            decided.append((payload, meta))
        return decided

    def _stamp(
        self,
        report: Report,
        replica: str,
        actor: Actor,
        command_id: UUID,
        correlation_id: UUID | None,
    ) -> EventMetadata:
        self.clock.observe(report.max_hlc, max_drift_ms=None)
        return EventMetadata(
            event_id=uuid.uuid4(),
            replica=replica,
            dot=Dot(replica, report.version_vector.get(replica) + 1),
            hlc=self.clock.next(),
            actor=actor.id,
            command_id=command_id,
            correlation_id=correlation_id or command_id,
        )

    async def _append(
        self,
        entry: Loaded[Report],
        stream: StreamRef,
        decided: Sequence[tuple[ReportEvent, EventMetadata]],
        *,
        command_id: UUID,
        savepoint: Savepoint | None = None,
    ) -> AppendResult:
        report = entry.aggregate
        if savepoint is None:
            savepoint = report.savepoint()
            for payload, meta in decided:
                report.apply(payload, meta)
        events: list[NewEvent] = [
            new_event(str(payload.__struct_config__.tag), encode(payload), meta)
            for payload, meta in decided
        ]
        try:
            result = await self.store.append(stream, entry.version, events, command_id=command_id)
        except BaseException:
            report.rollback_to(savepoint)
            raise
        if result.duplicate:
            # Nothing was appended: the batch had been applied before (and is in the stream).
            report.rollback_to(savepoint)
            self._count("duplicate")
            await self.reports.catch_up(entry, stream.stream_id)
            return result
        report.release(savepoint)
        entry.version = result.version
        if result.events:
            entry.position = result.events[-1].position
        self._count("appended", len(result.events))
        return result

    def _outcome(self, report: Report, result: AppendResult) -> BatchOutcome:
        return BatchOutcome(
            report_id=report.id,
            workspace_id=_workspace_of(report),
            version=result.version,
            events=result.events,
            duplicate=result.duplicate,
        )


def _workspace_of(report: Report) -> UUID:
    workspace_id = report.workspace_id
    if workspace_id is None:  # pragma: no cover - exists implies created
        raise NotFound(f"report {report.id} has no workspace", code="report_not_found")
    return workspace_id
