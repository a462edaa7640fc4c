"""An eventsourcing ``ApplicationRecorder`` over the Loupe event store's tables.

Why it exists: the eventsourcing library's recorder test suite is a thorough, independent
contract for "an append-only log with a global order and a subscription", and running it
against our store checks our store. It also lets eventsourcing applications live in the same
log. Mapping: originator_id → stream_id, originator_version → version, topic → type,
state → data, notification id → position; such events have stream_type "eventsourcing", and
this recorder's notifications are those events only.

eventsourcing is synchronous and threaded; the store is asyncio. The recorder runs the store
on a private event loop in a background thread and calls into it with
``asyncio.run_coroutine_threadsafe``, so any number of threads may use it at once.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import threading
import uuid
from collections import deque
from typing import TYPE_CHECKING, Any, TypeVar

import asyncpg
from eventsourcing.persistence import (
    ApplicationRecorder,
    IntegrityError,
    InterfaceError,
    Notification,
    OperationalError,
    PersistenceError,
    ProgrammingError,
    StoredEvent,
    Subscription,
)

from commands.eventstore.errors import (
    DuplicateEventIdError,
    EventStoreError,
    VersionConflictError,
)
from commands.eventstore.model import NewEvent, StreamRef
from commands.eventstore.store import connect_store

if TYPE_CHECKING:
    from collections.abc import Coroutine, Sequence

    from commands.eventstore.store import EventStore

T = TypeVar("T")

#: stream_type of the events written through this recorder.
STREAM_TYPE = "eventsourcing"
_STREAM_TYPES = (STREAM_TYPE,)
#: Notifications fetched per round trip by a subscription.
_SUBSCRIPTION_BATCH = 500
#: A subscription waits at most this long per round before it looks again.
_SUBSCRIPTION_WAIT = 5.0


class LoupeApplicationRecorder(ApplicationRecorder):
    """eventsourcing's ApplicationRecorder contract, implemented by the Loupe event store."""

    def __init__(
        self,
        dsn: str,
        schema: str,
        *,
        pool_size: int = 10,
        create_table: bool = True,
        poll_interval: float = 0.5,
    ) -> None:
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(
            target=self._loop.run_forever, name=f"loupe-recorder:{schema}", daemon=True
        )
        self._thread.start()
        self._closed = False
        try:
            self.store: EventStore = self._run(
                connect_store(
                    dsn,
                    schema,
                    min_size=1,
                    max_size=pool_size,
                    run_migrations=create_table,
                    poll_interval=poll_interval,
                )
            )
        except BaseException:
            self._stop_loop()
            raise

    # -- plumbing ------------------------------------------------------------------------

    def _run(self, coro: Coroutine[Any, Any, T]) -> T:
        """Run ``coro`` on the private loop and wait for it, mapping errors to eventsourcing's."""
        if self._closed:
            coro.close()
            msg = "recorder is closed"
            raise InterfaceError(msg)
        try:
            return asyncio.run_coroutine_threadsafe(coro, self._loop).result()
        except (VersionConflictError, DuplicateEventIdError) as exc:
            raise IntegrityError(str(exc)) from exc
        except asyncpg.IntegrityConstraintViolationError as exc:
            raise IntegrityError(str(exc)) from exc
        except (OSError, asyncpg.InterfaceError, asyncpg.PostgresConnectionError) as exc:
            raise OperationalError(str(exc)) from exc
        except (asyncpg.PostgresError, EventStoreError) as exc:
            raise ProgrammingError(str(exc)) from exc

    def _submit(self, coro: Coroutine[Any, Any, T]) -> concurrent.futures.Future[T]:
        return asyncio.run_coroutine_threadsafe(coro, self._loop)

    def close(self) -> None:
        """Close the store and stop the private loop. Idempotent."""
        if self._closed:
            return
        try:
            self._run(self._shutdown())
        finally:
            self._closed = True
            self._stop_loop()

    async def _shutdown(self) -> None:
        """Close the store, then end whatever still runs on the loop (a subscription's wait),
        so that no thread is left blocked on a future of a stopped loop."""
        await self.store.close()
        current = asyncio.current_task()
        tasks = [t for t in asyncio.all_tasks() if t is not current]
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)

    def _stop_loop(self) -> None:
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join()
        self._loop.close()

    def __del__(self) -> None:
        if not getattr(self, "_closed", True) and self._loop.is_running():
            # Best effort for recorders nobody closed; the pool dies with the loop.
            self._loop.call_soon_threadsafe(self._loop.stop)

    # -- AggregateRecorder ---------------------------------------------------------------

    def insert_events(
        self, stored_events: Sequence[StoredEvent], **_kwargs: Any
    ) -> Sequence[int] | None:
        if not stored_events:
            return None
        items = [
            (
                StreamRef(stream_id=_stream_id(e.originator_id), stream_type=STREAM_TYPE),
                e.originator_version,
                NewEvent(event_id=uuid.uuid4(), type=e.topic, data=e.state),
            )
            for e in stored_events
        ]
        return self._run(self.store.append_versioned(items))

    def select_events(
        self,
        originator_id: uuid.UUID | str,
        *,
        gt: int | None = None,
        lte: int | None = None,
        desc: bool = False,
        limit: int | None = None,
    ) -> Sequence[StoredEvent]:
        events = self._run(
            self.store.read_stream(
                _stream_id(originator_id),
                after_version=-1 if gt is None else gt,
                up_to_version=lte,
                limit=limit,
                descending=desc,
            )
        )
        return [
            StoredEvent(
                originator_id=e.stream_id,
                originator_version=e.version,
                topic=e.type,
                state=e.data,
            )
            for e in events
        ]

    # -- ApplicationRecorder -------------------------------------------------------------

    def select_notifications(
        self,
        start: int | None,
        limit: int,
        stop: int | None = None,
        topics: Sequence[str] = (),
        *,
        inclusive_of_start: bool = True,
    ) -> Sequence[Notification]:
        after = 0 if start is None else (start - 1 if inclusive_of_start else start)
        notifications, _head = self._read(after, limit, topics, stop)
        return notifications

    def _read(
        self, after: int, limit: int, topics: Sequence[str], stop: int | None = None
    ) -> tuple[list[Notification], int]:
        events, head = self._run(
            self.store.read_safe(
                after_position=after,
                limit=limit,
                stream_types=_STREAM_TYPES,
                types=list(topics) if topics else None,
                up_to_position=stop,
            )
        )
        return [
            _notification(e.position, e.stream_id, e.version, e.type, e.data) for e in events
        ], head

    def max_notification_id(self) -> int | None:
        return self._run(self.store.head_position(stream_types=_STREAM_TYPES)) or None

    def subscribe(
        self, gt: int | None = None, topics: Sequence[str] = ()
    ) -> Subscription[ApplicationRecorder]:
        return LoupeSubscription(self, gt=gt, topics=topics)

    def _wait(self, after: int) -> concurrent.futures.Future[bool]:
        return self._submit(self.store.wait_for_events(after, _SUBSCRIPTION_WAIT))


class LoupeSubscription(Subscription[ApplicationRecorder]):
    """A blocking iterator of notifications, woken by the store's wake-up machinery.

    ``stop()`` may be called from any thread: it cancels the wait in progress, so a blocked
    ``next()`` returns (StopIteration) at once.
    """

    def __init__(
        self, recorder: LoupeApplicationRecorder, gt: int | None = None, topics: Sequence[str] = ()
    ) -> None:
        super().__init__(recorder=recorder, gt=gt, topics=topics)
        self._loupe = recorder
        #: How far the log has been scanned; beyond the last notification when filters skip.
        self._cursor = gt or 0
        self._buffer: deque[Notification] = deque()
        self._lock = threading.Lock()
        self._waiting: concurrent.futures.Future[bool] | None = None

    def stop(self) -> None:
        with self._lock:
            super().stop()
            waiting = self._waiting
        if waiting is not None:
            waiting.cancel()

    def __next__(self) -> Notification:
        while True:
            if self._has_been_stopped:
                raise StopIteration
            if self._buffer:
                notification = self._buffer.popleft()
                self._last_notification_id = notification.id
                return notification
            notifications, head = self._loupe._read(  # noqa: SLF001 - a friend class
                self._cursor, _SUBSCRIPTION_BATCH, self._topics
            )
            if notifications:
                self._buffer.extend(notifications)
                self._cursor = notifications[-1].id
            if len(notifications) < _SUBSCRIPTION_BATCH:
                self._cursor = max(self._cursor, head)
            if not notifications:
                self._wait()

    def _wait(self) -> None:
        with self._lock:
            if self._has_been_stopped:
                return
            self._waiting = self._loupe._wait(self._cursor)  # noqa: SLF001
        try:
            self._waiting.result()
        except concurrent.futures.CancelledError:
            pass
        except PersistenceError:
            raise
        except (OSError, asyncpg.PostgresError, asyncpg.InterfaceError) as exc:
            raise OperationalError(str(exc)) from exc
        finally:
            with self._lock:
                self._waiting = None


def _stream_id(originator_id: uuid.UUID | str) -> uuid.UUID:
    if isinstance(originator_id, uuid.UUID):
        return originator_id
    try:
        return uuid.UUID(originator_id)
    except ValueError:
        msg = f"originator_id must be a UUID, got {originator_id!r}"
        raise ProgrammingError(msg) from None


def _notification(
    position: int, stream_id: uuid.UUID, version: int, topic: str, state: bytes
) -> Notification:
    return Notification(
        id=position,
        originator_id=stream_id,
        originator_version=version,
        topic=topic,
        state=state,
    )
