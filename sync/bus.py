"""The NATS side of Loupe: JetStream for committed events, core subjects for presence.

Subjects (``<prefix>`` is ``LOUPE_NATS_SUBJECT_PREFIX``, ``loupe`` by default):

* ``<prefix>.<workspace>.<stream_type>.<stream_id>`` — every committed event, captured by the
  JetStream stream (``LOUPE``). The message id (``Nats-Msg-Id``) is the event id, so a
  re-published event is dropped by JetStream's duplicate window.
* ``<prefix>.presence.<report_id>`` — who is in a report right now. Three tokens, so the
  stream (which captures four-token subjects) never stores it.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Sequence
from uuid import UUID

import nats
from nats.aio.client import Client as NatsClient
from nats.aio.msg import Msg
from nats.aio.subscription import Subscription
from nats.js import JetStreamContext
from nats.js.api import DiscardPolicy, PubAck, RetentionPolicy, StorageType, StreamConfig
from nats.js.errors import NotFoundError

from sync.wire import EventMessage, encode_message

log = logging.getLogger(__name__)

#: JetStream drops a message whose id it has seen within this window.
DUPLICATE_WINDOW_SECONDS = 120.0
#: How many publishes may await their acknowledgement at once.
MAX_PUBLISH_IN_FLIGHT = 256
NO_WORKSPACE = "_"


class BusError(Exception):
    """NATS refused or did not acknowledge a publish."""


def event_subject(prefix: str, message: EventMessage) -> str:
    workspace = str(message.workspace_id) if message.workspace_id else NO_WORKSPACE
    return f"{prefix}.{workspace}.{message.stream_type}.{message.stream_id}"


def stream_subject(
    prefix: str, workspace_id: UUID | None, stream_type: str, stream_id: UUID
) -> str:
    workspace = str(workspace_id) if workspace_id else NO_WORKSPACE
    return f"{prefix}.{workspace}.{stream_type}.{stream_id}"


def presence_subject(prefix: str, report_id: UUID) -> str:
    return f"{prefix}.presence.{report_id}"


async def connect_nats(url: str, *, name: str = "loupe") -> NatsClient:
    """Connect with endless reconnects: a NATS outage must never stop the process."""
    client = NatsClient()
    state = {"down": False}

    async def on_error(exc: Exception) -> None:
        if not state["down"] and not client.is_closed:
            log.warning("NATS connection problem: %r", exc)

    async def on_disconnect() -> None:
        if not state["down"] and not client.is_closed:
            state["down"] = True
            log.warning("NATS disconnected; reconnecting (events wait in PostgreSQL meanwhile)")

    async def on_reconnect() -> None:
        state["down"] = False
        log.info("NATS reconnected")

    await client.connect(
        url,
        name=name,
        max_reconnect_attempts=-1,
        reconnect_time_wait=1,
        connect_timeout=5,
        allow_reconnect=True,
        error_cb=on_error,
        disconnected_cb=on_disconnect,
        reconnected_cb=on_reconnect,
    )
    return client


class EventBus:
    """Publishes committed events to JetStream and subscribes to them."""

    def __init__(
        self,
        nc: NatsClient,
        *,
        stream: str,
        subject_prefix: str,
        max_age: float,
    ) -> None:
        self.nc = nc
        self.stream = stream
        self.prefix = subject_prefix
        self.max_age = max_age
        self._js: JetStreamContext = nc.jetstream(
            publish_async_max_pending=MAX_PUBLISH_IN_FLIGHT,
        )

    @property
    def jetstream(self) -> JetStreamContext:
        return self._js

    async def ensure_stream(self) -> None:
        """Create the stream, or bring an existing one to the configuration we need."""
        config = StreamConfig(
            name=self.stream,
            subjects=[f"{self.prefix}.*.*.*"],
            retention=RetentionPolicy.LIMITS,
            discard=DiscardPolicy.OLD,
            storage=StorageType.FILE,
            max_age=self.max_age,
            duplicate_window=DUPLICATE_WINDOW_SECONDS,
        )
        try:
            await self._js.stream_info(self.stream)
        except NotFoundError:
            await self._js.add_stream(config)
        else:
            await self._js.update_stream(config)

    async def publish(self, messages: Sequence[EventMessage], *, timeout: float = 5.0) -> None:
        """Publish in order with many acknowledgements in flight; return when all are acked.

        Raises `BusError` when NATS is unreachable or did not acknowledge in time; the caller
        (the relay) then publishes the same events again, and JetStream drops the copies.
        """
        futures: list[asyncio.Future[PubAck]] = []
        try:
            for message in messages:
                future = await self._js.publish_async(
                    event_subject(self.prefix, message),
                    encode_message(message),
                    wait_stall=timeout,
                    headers={"Nats-Msg-Id": str(message.id)},
                )
                futures.append(future)
            async with asyncio.timeout(timeout):
                acks = await asyncio.gather(*futures)
        except (TimeoutError, nats.errors.Error) as exc:
            for future in futures:
                future.cancel()
            raise BusError(f"publishing to NATS failed: {exc!r}") from exc
        for ack in acks:
            if getattr(ack, "stream", None) != self.stream:
                raise BusError(f"a publish was stored in {ack!r}, not in stream {self.stream}")

    async def subscribe(
        self, subject: str, handler: Callable[[Msg], Awaitable[None]]
    ) -> Subscription:
        """A core subscription: the lowest latency path for live fan-out."""
        return await self.nc.subscribe(subject, cb=handler)

    async def publish_core(self, subject: str, payload: bytes) -> None:
        await self.nc.publish(subject, payload)
