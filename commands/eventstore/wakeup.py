"""Telling waiting readers "look again": local wake-ups, LISTEN/NOTIFY, polling.

A wake-up is only ever a hint. The truth is what a reader finds when it looks; an event can
be committed and still not safe to hand out (an older append is still in flight), so every
waiter re-checks the head position after waking instead of trusting the message.

Three sources, from fastest to most robust:

* appends made by this process wake local waiters directly;
* other processes learn through NOTIFY on a channel named after the schema. Appends do not
  send it inside their transaction (NOTIFY takes a global lock at commit, which would
  serialise every append); instead, after commit, at most one NOTIFY per process is in
  flight, and appends that finish meanwhile are folded into the next one, which leaves at
  least ``notify_interval`` after the previous (an idle store notifies at once; a busy one
  sends a bounded number of NOTIFYs instead of one per append). A dedicated connection
  LISTENs and is re-established whenever it breaks;
* and waiters poll anyway every ``poll_interval`` seconds, so that a broken LISTEN
  connection or a lost NOTIFY can delay a reader but never stall it.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from typing import TYPE_CHECKING, Any

import asyncpg

if TYPE_CHECKING:
    from collections.abc import Callable
    from contextlib import AbstractAsyncContextManager

    from asyncpg.pool import PoolConnectionProxy

    Conn = asyncpg.Connection[asyncpg.Record] | PoolConnectionProxy[asyncpg.Record]
    ListenConnector = Callable[[], AbstractAsyncContextManager[Conn]]

log = logging.getLogger(__name__)

#: How often the LISTEN connection is pinged, to notice a silently dead one.
KEEPALIVE_INTERVAL = 10.0
#: Default minimum gap between two NOTIFYs of one process (seconds).
DEFAULT_NOTIFY_INTERVAL = 0.005
#: Reconnect back-off bounds for the LISTEN connection (seconds).
RECONNECT_MIN = 0.05
RECONNECT_MAX = 5.0

_CONNECTION_ERRORS = (OSError, asyncpg.PostgresError, asyncpg.InterfaceError, TimeoutError)


class Wakeups:
    """The wake-up machinery of one EventStore (one per process and schema, normally)."""

    def __init__(
        self,
        *,
        pool: asyncpg.Pool[asyncpg.Record],
        channel: str,
        notify_sql: str,
        listen_connector: ListenConnector,
        poll_interval: float,
        send_notify: bool,
        notify_interval: float = DEFAULT_NOTIFY_INTERVAL,
    ) -> None:
        self._pool = pool
        self.channel = channel
        self._notify_sql = notify_sql
        self._listen_connector = listen_connector
        self.poll_interval = poll_interval
        self._send_notify = send_notify
        self._notify_interval = notify_interval
        self._last_notify = float("-inf")
        #: Replaced (after being set) on every wake-up: waiters grab the current one
        #: *before* they look, so a wake-up that lands between look and wait is not lost.
        self._changed = asyncio.Event()
        #: The highest position known to be committed (by this process, or announced by
        #: another). Only a hint: committed is not yet safe.
        self.hint = 0
        self._notify_dirty = False
        self._notify_task: asyncio.Task[None] | None = None
        self._listen_task: asyncio.Task[None] | None = None
        self.closed = False
        #: Backend pid of the LISTEN connection while it is up (tests kill it).
        self.listener_pid: int | None = None
        self.listening = asyncio.Event()

    # -- waiting -------------------------------------------------------------------------

    def current(self) -> asyncio.Event:
        """The event that the next wake-up will set; take it before looking."""
        return self._changed

    def wake(self, position: int = 0) -> None:
        """Wake every waiter (they will re-check); remember ``position`` as a hint."""
        self.hint = max(self.hint, position)
        changed, self._changed = self._changed, asyncio.Event()
        changed.set()

    def ensure_listening(self) -> None:
        """Start the LISTEN connection the first time somebody waits."""
        if self._listen_task is None and not self.closed:
            self._listen_task = asyncio.create_task(
                self._listen_forever(), name=f"eventstore-listen:{self.channel}"
            )

    # -- announcing ----------------------------------------------------------------------

    def committed(self, last_position: int) -> None:
        """An append of this process committed: wake local waiters, tell other processes."""
        self.wake(last_position)
        if not self._send_notify or self.closed:
            return
        self._notify_dirty = True
        if self._notify_task is None:
            self._notify_task = asyncio.create_task(self._notify_loop())

    async def _notify_loop(self) -> None:
        loop = asyncio.get_running_loop()
        try:
            while self._notify_dirty and not self.closed:
                pause = self._last_notify + self._notify_interval - loop.time()
                if pause > 0:
                    await asyncio.sleep(pause)
                self._notify_dirty = False
                self._last_notify = loop.time()
                try:
                    await self._pool.execute(self._notify_sql, self.channel, str(self.hint))
                except _CONNECTION_ERRORS as exc:
                    # Not fatal: other processes' readers poll.
                    log.warning("eventstore: NOTIFY %s failed: %s", self.channel, exc)
        finally:
            self._notify_task = None

    # -- listening -----------------------------------------------------------------------

    def _on_notify(self, _conn: Any, _pid: int, _channel: str, payload: object) -> None:
        try:
            position = int(str(payload))
        except ValueError:
            position = 0
        self.wake(position)

    async def _listen_forever(self) -> None:
        delay = RECONNECT_MIN
        while not self.closed:
            try:
                async with self._listen_connector() as conn:
                    await self._listen_on(conn)
                    delay = RECONNECT_MIN
            except _CONNECTION_ERRORS as exc:
                log.warning("eventstore: LISTEN %s connection lost: %s", self.channel, exc)
            finally:
                self.listener_pid = None
                self.listening.clear()
            if self.closed:
                return
            await asyncio.sleep(delay)
            delay = min(delay * 2, RECONNECT_MAX)

    async def _listen_on(self, conn: Conn) -> None:
        lost = asyncio.Event()
        conn.add_termination_listener(lambda _conn: lost.set())
        await conn.add_listener(self.channel, self._on_notify)
        try:
            self.listener_pid = conn.get_server_pid()
            self.listening.set()
            # Anything committed while nobody listened has not been announced: look again.
            self.wake()
            while not lost.is_set() and not conn.is_closed():
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(lost.wait(), KEEPALIVE_INTERVAL)
                    break
                await conn.fetchval("SELECT 1", timeout=KEEPALIVE_INTERVAL)
        finally:
            # A pooled connection must not go back to its pool still listening.
            if not conn.is_closed():
                with contextlib.suppress(*_CONNECTION_ERRORS):
                    await conn.remove_listener(self.channel, self._on_notify)
        # Termination is not an exception from the connector's point of view; report it.
        if not self.closed:
            log.warning("eventstore: LISTEN %s connection closed; reconnecting", self.channel)

    # -- shutting down -------------------------------------------------------------------

    async def close(self) -> None:
        """Stop listening and announcing; pending wake-ups are dropped."""
        self.closed = True
        tasks = [t for t in (self._listen_task, self._notify_task) if t is not None]
        for task in tasks:
            task.cancel()
        for task in tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        self._listen_task = None
        self._notify_task = None
        self.wake()
