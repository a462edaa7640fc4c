"""Fixtures of the subscription tests: a real SMTP server in this process (aiosmtpd), and a
workspace with members, a report and the command side on this test's own PostgreSQL schema."""

from __future__ import annotations

import asyncio
import socket
import threading
import uuid
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email import message_from_bytes, policy
from email.message import EmailMessage
from typing import Any

import asyncpg
import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword

from api.bootstrap import MIGRATIONS
from commands.authorization import Actor, Authorizer
from commands.clock import ServerClock
from commands.envelope import new_event
from commands.eventstore import EventStore, NewEvent, StreamRef, connect_store, migrate
from commands.report import AddPage, CommandBatch, CreateReport
from commands.reports import ReportHandler
from commands.subscriptions import SubscriptionHandler
from commands.workspace import CreateWorkspace
from commands.workspaces import WorkspaceHandler
from delivery.claims import RunClaims, migrate_runs
from domain.clock import Hlc
from domain.metadata import EventMetadata
from domain.user.events import UserRegistered
from domain.user.events import encode as encode_user_event
from domain.versions import Dot
from domain.workspace.events import MemberRemoved, MemberRoleSet, WorkspaceEvent
from domain.workspace.events import encode as encode_workspace_event
from projections.runner import ProjectionRunner
from projections.subscriptions import SubscriptionReadModel

# -- the mail server ------------------------------------------------------------------------


@dataclass(frozen=True)
class Received:
    """A message as the server got it: envelope and parsed content."""

    mail_from: str
    rcpt_tos: list[str]
    data: bytes

    @property
    def message(self) -> EmailMessage:
        parsed = message_from_bytes(self.data, policy=policy.default)
        assert isinstance(parsed, EmailMessage)
        return parsed


@dataclass
class Inbox:
    """The aiosmtpd handler: keeps what it accepts; can be told to refuse."""

    messages: list[Received] = field(default_factory=list)
    #: Reply to DATA instead of accepting ("554 ..."), while set.
    refuse_data: str | None = None
    #: How many DATA commands to answer "451 try again later" first.
    busy: int = 0
    #: Recipient → the reply refusing it.
    refuse_recipients: dict[str, str] = field(default_factory=dict)
    attempts: int = 0
    _lock: threading.Lock = field(default_factory=threading.Lock)

    async def handle_RCPT(  # noqa: N802 - aiosmtpd's hook name
        self, server: Any, session: Any, envelope: Any, address: str, rcpt_options: list[str]
    ) -> str:
        if address in self.refuse_recipients:
            return self.refuse_recipients[address]
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:  # noqa: N802
        with self._lock:
            self.attempts += 1
            if self.busy > 0:
                self.busy -= 1
                return "451 4.3.0 Mail server busy, try again later"
            if self.refuse_data is not None:
                return self.refuse_data
            self.messages.append(
                Received(envelope.mail_from, list(envelope.rcpt_tos), bytes(envelope.content))
            )
        return "250 Message accepted for delivery"


@dataclass(frozen=True)
class SmtpServer:
    host: str
    port: int
    inbox: Inbox


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


@pytest.fixture
def smtp_server() -> Iterator[SmtpServer]:
    """A real SMTP server (aiosmtpd, in a thread of this process) that keeps what it gets."""
    inbox = Inbox()
    port = free_port()
    controller = Controller(inbox, hostname="127.0.0.1", port=port)
    controller.start()
    try:
        yield SmtpServer("127.0.0.1", port, inbox)
    finally:
        controller.stop()


USER, PASSWORD = "loupe", "s3cret"


def _authenticate(
    server: Any, session: Any, envelope: Any, mechanism: str, auth_data: Any
) -> AuthResult:
    ok = isinstance(auth_data, LoginPassword) and (auth_data.login, auth_data.password) == (
        USER.encode(),
        PASSWORD.encode(),
    )
    # handled=False: aiosmtpd answers a refusal with its 535 reply.
    return AuthResult(success=ok, handled=False)


@pytest.fixture
def smtp_server_with_login() -> Iterator[SmtpServer]:
    """A server that takes mail only after a login (over plain text: a test server)."""
    inbox = Inbox()
    port = free_port()
    controller = Controller(
        inbox,
        hostname="127.0.0.1",
        port=port,
        auth_required=True,
        auth_require_tls=False,
        authenticator=_authenticate,
    )
    controller.start()
    try:
        yield SmtpServer("127.0.0.1", port, inbox)
    finally:
        controller.stop()


# -- the command side and the read model ----------------------------------------------------


class ManualClock:
    """A wall clock that stands still until told otherwise."""

    def __init__(self, now: datetime) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now

    def set(self, when: datetime) -> None:
        self.now = when.astimezone(UTC)


@dataclass
class World:
    """A workspace (Ana owns it, Ben edits, Vic views; Cy is a stranger), a report with two
    pages, and the subscription command handler, read model and claims."""

    store: EventStore
    pool: asyncpg.Pool
    schema: str
    read_schema: str
    authorizer: Authorizer
    reports: ReportHandler
    handler: SubscriptionHandler
    claims: RunClaims
    runner: ProjectionRunner
    clock: ManualClock
    ana: Actor
    ben: Actor
    vic: Actor
    cy: Actor
    workspace_id: uuid.UUID
    report_id: uuid.UUID
    pages: list[uuid.UUID]

    async def caught_up(self, position: int) -> None:
        """Wait until the read model includes ``position``."""
        assert await self.runner.wait_until(position, 10), "the read model did not catch up"

    async def workspace_event(self, event: WorkspaceEvent) -> int:
        """Append a membership change (no handler does that yet); its position."""
        version = await self.store.stream_version(self.workspace_id)
        stream = StreamRef(
            stream_id=self.workspace_id, stream_type="workspace", workspace_id=self.workspace_id
        )
        tag = str(event.__struct_config__.tag)
        result = await self.store.append(
            stream, version, [_event(tag, encode_workspace_event(event), self.ana.id)]
        )
        return result.events[-1].position

    async def add_member(self, actor: Actor, role: str) -> int:
        return await self.workspace_event(MemberRoleSet(user_id=actor.id, role=role))

    async def remove_member(self, actor: Actor) -> int:
        return await self.workspace_event(MemberRemoved(user_id=actor.id))


def _event(tag: str, data: bytes, actor: uuid.UUID) -> NewEvent:
    meta = EventMetadata(
        event_id=uuid.uuid4(), replica="test", dot=Dot("test", 1), hlc=Hlc(1, 0), actor=actor
    )
    return new_event(tag, data, meta)


async def register(store: EventStore, actor: Actor, email: str) -> None:
    payload = UserRegistered(user_id=actor.id, name=actor.name, email=email)
    await store.append(
        StreamRef(stream_id=actor.id, stream_type="user"),
        0,
        [_event("UserRegistered", encode_user_event(payload), actor.id)],
    )


#: When the world begins (a Wednesday).
START = datetime(2026, 3, 25, 12, 0, tzinfo=UTC)


@pytest.fixture
async def world(engines: Any, db_schema: str) -> AsyncIterator[World]:
    store = await connect_store(engines.postgres, db_schema)
    pool = await asyncpg.create_pool(engines.postgres, min_size=1, max_size=8)
    read_schema = f"{db_schema}_read"
    async with pool.acquire() as conn:
        await migrate(conn, read_schema, "projections", dict(MIGRATIONS)["projections"])
        await migrate_runs(conn, db_schema)
    authorizer = Authorizer(store)
    server_clock = ServerClock()
    clock = ManualClock(START)
    ana, ben, vic, cy = (Actor(id=uuid.uuid4(), name=name) for name in ("Ana", "Ben", "Vic", "Cy"))
    for actor in (ana, ben, vic, cy):
        await register(store, actor, f"{actor.name.lower()}@example.com")
    workspace = await WorkspaceHandler(store, authorizer, server_clock).create(
        CreateWorkspace(name="Sales"), ana
    )
    reports = ReportHandler(store, authorizer, clock=server_clock)
    report = await reports.create(workspace.workspace_id, CreateReport(name="Revenue"), ana)
    pages = [uuid.uuid4(), uuid.uuid4()]
    await reports.handle_batch(
        report.report_id,
        CommandBatch(
            command_id=uuid.uuid4(),
            client_id="test",
            commands=[
                AddPage(page_id=pages[0], name="Overview"),
                AddPage(page_id=pages[1], name="Regions"),
            ],
        ),
        ana,
    )
    handler = SubscriptionHandler(store, authorizer, reports, server_clock, now=clock)
    runner = ProjectionRunner(SubscriptionReadModel(), store, pool, read_schema, idle_wait=0.05)
    await runner.prepare()  # its tables exist before the first query
    stop = asyncio.Event()
    task = asyncio.create_task(runner.run(stop))
    made = World(
        store=store,
        pool=pool,
        schema=db_schema,
        read_schema=read_schema,
        authorizer=authorizer,
        reports=reports,
        handler=handler,
        claims=RunClaims(pool, db_schema, read_schema),
        runner=runner,
        clock=clock,
        ana=ana,
        ben=ben,
        vic=vic,
        cy=cy,
        workspace_id=workspace.workspace_id,
        report_id=report.report_id,
        pages=pages,
    )
    await made.add_member(ben, "editor")
    await made.add_member(vic, "viewer")
    try:
        yield made
    finally:
        stop.set()
        await task
        await store.close()
        await pool.close()
