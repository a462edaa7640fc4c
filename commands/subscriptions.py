"""The subscription command path: load the Subscription aggregate, authorize against its
report's workspace, decide, append (expected version = the aggregate's, retried when another
process wrote first).

Who may do what: editors and owners of the report's workspace create, change, pause, resume
and delete its subscriptions; anyone else gets "not found" (a subscription's existence is not
revealed outside its workspace). Recipients must have access to the report: each address must
be the email of a member of the workspace (any role), as registered by ``UserRegistered``.

Members' addresses are read from the event store (`MemberEmails`: the workspace aggregate's
members, each user's stream), not from a read model: the check is as fresh as the membership
check itself, and a workspace has few members.

Delivery outcomes are recorded by the scheduler (no actor; replica ``scheduler``). Their
command id is derived from (subscription, scheduled time), so a run is recorded once however
often a crashed or racing scheduler tries (the store answers a repeated command id with the
first append).
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Final
from uuid import UUID

from commands.authorization import Actor, Authorizer
from commands.clock import ServerClock
from commands.envelope import new_event
from commands.eventstore import EventStore, RecordedEvent, StreamRef, WrongExpectedVersion
from commands.reports import ReportHandler
from commands.repository import Loaded, Repository
from commands.subscription import ChangeSubscription, CreateSubscription
from commands.users import STREAM_TYPE as USER_STREAM_TYPE
from domain.errors import AlreadyExists, NotFound
from domain.metadata import EventMetadata
from domain.subscription.aggregate import Subscription, SubscriptionSnapshot
from domain.subscription.events import SubscriptionEvent, decode, encode, tag_of
from domain.subscription.rules import split_by_access
from domain.user.events import UserRegistered
from domain.user.events import decode as decode_user_event
from domain.versions import Dot
from domain.workspace.aggregate import Workspace

STREAM_TYPE: Final = "subscription"
#: Appends retried after another process wrote the same subscription first.
RETRIES: Final = 3
#: The replica (client id) of the events the scheduler records.
SCHEDULER_REPLICA: Final = "scheduler"
_API_REPLICA: Final = "api"
#: Namespace of the command ids of recorded runs.
_DELIVERY_NAMESPACE: Final = uuid.UUID("6f1b0d2e-5c1a-4f7e-9a43-3d8c2b7e9d10")

Decide = Callable[[Subscription], SubscriptionEvent | Sequence[SubscriptionEvent]]


def utc_now() -> datetime:
    return datetime.now(UTC)


def delivery_command_id(subscription_id: UUID, scheduled_for: datetime) -> UUID:
    """The command id of the outcome of one run: the same for every attempt to record it."""
    instant = scheduled_for.astimezone(UTC).isoformat()
    return uuid.uuid5(_DELIVERY_NAMESPACE, f"{subscription_id}/{instant}")


@dataclass(frozen=True)
class SubscriptionOutcome:
    subscription: SubscriptionSnapshot
    version: int
    events: list[RecordedEvent]
    duplicate: bool = False

    @property
    def position(self) -> int:
        """The global position of the last event appended (0 if none)."""
        return self.events[-1].position if self.events else 0


@dataclass(frozen=True)
class DeliveryPlan:
    """A subscription as it stands now, for the scheduler: who the run may go to."""

    subscription: SubscriptionSnapshot
    #: Recipients who are members of the workspace now.
    recipients: tuple[str, ...]
    #: Recipients who no longer are (their copy is withheld).
    withheld: tuple[str, ...]


class _UserEmail:
    """A user's email address as registered (the only part of a user this path needs)."""

    def __init__(self, _user_id: UUID) -> None:
        self.email: str | None = None


def _apply_user_event(user: _UserEmail, event: RecordedEvent, _: EventMetadata) -> None:
    if event.type == "UserRegistered":
        payload = decode_user_event(event.data)
        if isinstance(payload, UserRegistered) and payload.email:
            user.email = payload.email.strip().lower()


class MemberEmails:
    """The email addresses of a workspace's members (lower case)."""

    def __init__(self, store: EventStore, *, capacity: int = 10_000) -> None:
        self.users: Repository[_UserEmail] = Repository(
            store,
            stream_type=USER_STREAM_TYPE,
            new=_UserEmail,
            apply=_apply_user_event,
            capacity=capacity,
        )

    async def of(self, workspace: Workspace) -> frozenset[str]:
        addresses = set()
        for user_id in workspace.members:
            # A user registers once (commands/users.py): a cached address needs no re-read.
            entry = await self.users.load(user_id, catch_up=False)
            if entry.aggregate.email:
                addresses.add(entry.aggregate.email)
        return frozenset(addresses)


def apply_subscription_event(
    subscription: Subscription, event: RecordedEvent, _: EventMetadata
) -> None:
    subscription.apply(decode(event.data), event.version)


class SubscriptionHandler:
    def __init__(
        self,
        store: EventStore,
        authorizer: Authorizer,
        reports: ReportHandler,
        clock: ServerClock,
        *,
        members: MemberEmails | None = None,
        now: Callable[[], datetime] = utc_now,
        on_outcome: Callable[[str, int], None] | None = None,
    ) -> None:
        self.store = store
        self.authorizer = authorizer
        self.reports = reports
        self.clock = clock
        self.members = members or MemberEmails(store)
        #: The wall clock that stamps when a schedule starts counting (injectable for tests).
        self.now = now
        self.repository: Repository[Subscription] = Repository(
            store, stream_type=STREAM_TYPE, new=Subscription, apply=apply_subscription_event
        )
        self._on_outcome = on_outcome

    # -- reads ----------------------------------------------------------------------------

    async def load(
        self, subscription_id: UUID, actor: Actor, *, edit: bool = False
    ) -> Loaded[Subscription]:
        """The subscription, if the actor may see it (``edit``: change it)."""
        entry = await self.repository.load(subscription_id)
        subscription = entry.aggregate
        if not subscription.exists or subscription.deleted:
            raise NotFound(
                f"subscription {subscription_id} does not exist", code="subscription_not_found"
            )
        workspace_id = subscription.state.workspace_id
        try:
            if edit:
                await self.authorizer.require_edit(workspace_id, actor.id)
            else:
                await self.authorizer.require_view(workspace_id, actor.id)
        except NotFound:
            raise NotFound(
                f"subscription {subscription_id} does not exist or you are not a member of "
                "its workspace",
                code="subscription_not_found",
            ) from None
        return entry

    async def delivery_plan(self, subscription_id: UUID) -> DeliveryPlan | None:
        """The subscription as the store has it now, with its recipients split by current
        access (None if it never existed)."""
        entry = await self.repository.load(subscription_id)
        subscription = entry.aggregate
        if not subscription.exists:
            return None
        state = subscription.state
        workspace = await self.authorizer.workspace(state.workspace_id, fresh=True)
        allowed, withheld = split_by_access(state.recipients, await self.members.of(workspace))
        return DeliveryPlan(subscription=state, recipients=allowed, withheld=withheld)

    # -- writes ---------------------------------------------------------------------------

    async def create(
        self, report_id: UUID, request: CreateSubscription, actor: Actor
    ) -> SubscriptionOutcome:
        report = (await self.reports.load(report_id, actor)).aggregate
        workspace_id = report.workspace_id
        if workspace_id is None:  # pragma: no cover - a loaded report exists
            raise NotFound(f"report {report_id} does not exist", code="report_not_found")
        await self.authorizer.require_edit(workspace_id, actor.id)
        report_pages = [UUID(page_id) for _key, page_id, _page in report.state.pages_in_order()]
        # Fresh, not the authorizer's cached copy: someone added a moment ago may be a recipient.
        workspace = await self.authorizer.workspace(workspace_id, fresh=True)
        members = await self.members.of(workspace)
        subscription_id = request.id or uuid.uuid4()
        command_id = request.command_id or uuid.uuid4()
        entry = await self.repository.load_to_create(subscription_id, code="subscription_exists")
        async with entry.lock:
            subscription = entry.aggregate
            if subscription.exists:
                earlier = await self.store.find_command(command_id)
                if earlier is not None:
                    return SubscriptionOutcome(
                        subscription.state, earlier.version, earlier.events, duplicate=True
                    )
                raise AlreadyExists(
                    f"subscription {subscription_id} exists", code="subscription_exists"
                )
            created = subscription.create(
                report_id=report_id,
                workspace_id=workspace_id,
                owner=actor.id,
                cron=request.cron,
                timezone=request.timezone,
                format=request.format,
                recipients=request.recipients,
                pages=request.pages,
                subject=request.subject if request.subject is not None else report.name or "",
                at=self.now(),
                report_pages=report_pages,
                members=members,
            )
            try:
                return await self._append(entry, [created], actor, command_id)
            except WrongExpectedVersion:
                raise AlreadyExists(
                    f"subscription {subscription_id} exists", code="subscription_exists"
                ) from None

    async def change(
        self, subscription_id: UUID, request: ChangeSubscription, actor: Actor
    ) -> SubscriptionOutcome:
        state = (await self.load(subscription_id, actor, edit=True)).aggregate.state
        members: frozenset[str] = frozenset()
        if request.recipients is not None:
            workspace = await self.authorizer.workspace(state.workspace_id, fresh=True)
            members = await self.members.of(workspace)
        report_pages: list[UUID] = []
        if request.pages is not None:
            report = (await self.reports.load(state.report_id, actor)).aggregate
            report_pages = [UUID(page_id) for _key, page_id, _p in report.state.pages_in_order()]
        at = self.now()
        return await self._change(
            subscription_id,
            actor,
            lambda subscription: subscription.change(
                at=at,
                cron=request.cron,
                timezone=request.timezone,
                format=request.format,
                recipients=request.recipients,
                pages=request.pages,
                subject=request.subject,
                report_pages=report_pages,
                members=members,
            ),
            command_id=request.command_id,
        )

    async def pause(
        self, subscription_id: UUID, actor: Actor, *, command_id: UUID | None = None
    ) -> SubscriptionOutcome:
        return await self._change(
            subscription_id, actor, lambda s: s.pause(), command_id=command_id
        )

    async def resume(
        self, subscription_id: UUID, actor: Actor, *, command_id: UUID | None = None
    ) -> SubscriptionOutcome:
        at = self.now()
        return await self._change(
            subscription_id, actor, lambda s: s.resume(at), command_id=command_id
        )

    async def delete(
        self, subscription_id: UUID, actor: Actor, *, command_id: UUID | None = None
    ) -> SubscriptionOutcome:
        return await self._change(
            subscription_id, actor, lambda s: s.delete(), command_id=command_id
        )

    async def record_delivery(
        self, subscription_id: UUID, scheduled_for: datetime, decide: Decide
    ) -> SubscriptionOutcome:
        """Record the outcome of the run scheduled for ``scheduled_for`` (``decide`` calls
        ``record_success`` or ``record_failure``). Once per run: a repeat appends nothing."""
        command_id = delivery_command_id(subscription_id, scheduled_for)
        for attempt in range(RETRIES):
            entry = await self.repository.load(subscription_id)
            async with entry.lock:
                earlier = await self.store.find_command(command_id)
                if earlier is not None:
                    await self.repository.catch_up(entry, subscription_id)
                    state = entry.aggregate.state
                    return SubscriptionOutcome(
                        state, earlier.version, earlier.events, duplicate=True
                    )
                decided = decide(entry.aggregate)
                payloads = [decided] if not isinstance(decided, Sequence) else list(decided)
                try:
                    return await self._append(entry, payloads, None, command_id)
                except WrongExpectedVersion:
                    if attempt == RETRIES - 1:
                        raise
        raise AssertionError("unreachable")  # pragma: no cover

    async def _change(
        self,
        subscription_id: UUID,
        actor: Actor,
        decide: Decide,
        *,
        command_id: UUID | None,
    ) -> SubscriptionOutcome:
        """Decide against the subscription as it is and append; if another process appended
        first, catch up and decide again."""
        command_id = command_id or uuid.uuid4()
        for attempt in range(RETRIES):
            entry = await self.load(subscription_id, actor, edit=True)
            async with entry.lock:
                earlier = await self.store.find_command(command_id)
                if earlier is not None:
                    state = entry.aggregate.state
                    return SubscriptionOutcome(
                        state, earlier.version, earlier.events, duplicate=True
                    )
                decided = decide(entry.aggregate)
                payloads = [decided] if not isinstance(decided, Sequence) else list(decided)
                if not payloads:  # already as asked: nothing to append
                    state = entry.aggregate.state
                    return SubscriptionOutcome(state, entry.version, [])
                try:
                    return await self._append(entry, payloads, actor, command_id)
                except WrongExpectedVersion:
                    if attempt == RETRIES - 1:
                        raise
        raise AssertionError("unreachable")  # pragma: no cover

    async def _append(
        self,
        entry: Loaded[Subscription],
        payloads: Sequence[SubscriptionEvent],
        actor: Actor | None,
        command_id: UUID,
    ) -> SubscriptionOutcome:
        """Append ``payloads`` at the entry's version (raises `WrongExpectedVersion` after
        catching the entry up, so the caller can decide again)."""
        subscription = entry.aggregate
        replica = _API_REPLICA if actor is not None else SCHEDULER_REPLICA
        base = entry.version
        events = []
        for offset, payload in enumerate(payloads, start=1):
            meta = EventMetadata(
                event_id=uuid.uuid4(),
                replica=replica,
                dot=Dot(replica, base + offset),
                hlc=self.clock.next(),
                actor=actor.id if actor is not None else None,
                command_id=command_id,
                correlation_id=command_id,
            )
            events.append(new_event(tag_of(payload), encode(payload), meta))
        workspace_id = (
            subscription.state.workspace_id if subscription.exists else _created_workspace(payloads)
        )
        try:
            result = await self.store.append(
                StreamRef(
                    stream_id=subscription.id, stream_type=STREAM_TYPE, workspace_id=workspace_id
                ),
                base,
                events,
                command_id=command_id,
            )
        except WrongExpectedVersion:
            await self.repository.catch_up(entry, subscription.id)
            raise
        if result.duplicate:
            await self.repository.catch_up(entry, subscription.id)
        else:
            for recorded, payload in zip(result.events, payloads, strict=True):
                subscription.apply(payload, recorded.version)
                entry.version = recorded.version
                entry.position = recorded.position
        if self._on_outcome is not None:
            outcome = "duplicate" if result.duplicate else "appended"
            self._on_outcome(outcome, 0 if result.duplicate else len(result.events))
        return SubscriptionOutcome(
            subscription.state, result.version, result.events, duplicate=result.duplicate
        )


def _created_workspace(payloads: Sequence[SubscriptionEvent]) -> UUID:
    first = payloads[0] if payloads else None
    workspace_id = getattr(first, "workspace_id", None)
    if not isinstance(workspace_id, UUID):  # pragma: no cover - the handler creates first
        raise NotFound("a subscription's first event creates it", code="subscription_not_found")
    return workspace_id
