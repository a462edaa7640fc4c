"""The eventsourcing adapter beyond the library's contract: sharing the log, stopping, closing."""

from __future__ import annotations

import asyncio
import threading
import time
import uuid
from typing import TYPE_CHECKING, Any

import pytest
from eventsourcing.persistence import IntegrityError, StoredEvent
from eventstore_helpers import new_event, new_stream

from commands.eventstore.recorder import LoupeApplicationRecorder

if TYPE_CHECKING:
    from collections.abc import Coroutine, Iterator


@pytest.fixture
def recorder(dsn: str, db_schema: str) -> Iterator[LoupeApplicationRecorder]:
    made = LoupeApplicationRecorder(dsn, db_schema, pool_size=4)
    yield made
    made.close()


def _on_loop(recorder: LoupeApplicationRecorder, coro: Coroutine[Any, Any, Any]) -> Any:
    return asyncio.run_coroutine_threadsafe(coro, recorder._loop).result()


def _stored(originator: uuid.UUID, version: int, topic: str = "t") -> StoredEvent:
    return StoredEvent(
        originator_id=originator, originator_version=version, topic=topic, state=b"{}"
    )


def test_notifications_are_the_eventsourcing_events_only(
    recorder: LoupeApplicationRecorder,
) -> None:
    store = recorder.store
    _on_loop(recorder, store.append(new_stream(), 0, [new_event()]))
    originator = uuid.uuid4()
    ids = recorder.insert_events([_stored(originator, 1), _stored(originator, 2)])
    _on_loop(recorder, store.append(new_stream(), 0, [new_event()]))

    assert ids == [2, 3]
    notifications = recorder.select_notifications(start=None, limit=10)
    assert [n.id for n in notifications] == [2, 3]
    assert recorder.max_notification_id() == 3
    assert [e.originator_version for e in recorder.select_events(originator)] == [1, 2]
    with recorder.subscribe(gt=None) as subscription:
        assert [next(subscription).id, next(subscription).id] == [2, 3]


def test_version_clash_is_an_integrity_error_and_writes_nothing(
    recorder: LoupeApplicationRecorder,
) -> None:
    originator, other = uuid.uuid4(), uuid.uuid4()
    recorder.insert_events([_stored(originator, 1)])
    with pytest.raises(IntegrityError):
        recorder.insert_events([_stored(other, 1), _stored(originator, 1)])
    assert recorder.select_events(other) == []
    assert recorder.max_notification_id() == 1


def test_stop_from_another_thread_ends_a_blocked_next(recorder: LoupeApplicationRecorder) -> None:
    subscription = recorder.subscribe(gt=None)
    outcome: list[object] = []

    def consume() -> None:
        outcome.extend(subscription)  # blocks: the log is empty

    thread = threading.Thread(target=consume)
    thread.start()
    time.sleep(0.2)  # nothing to await: we want next() to be blocked in its wait
    assert thread.is_alive()
    started = time.monotonic()
    subscription.stop()
    thread.join(5)
    assert not thread.is_alive()
    assert outcome == []
    assert time.monotonic() - started < 1


def test_close_releases_a_blocked_subscription(dsn: str, db_schema: str) -> None:
    recorder = LoupeApplicationRecorder(dsn, db_schema, pool_size=2)
    subscription = recorder.subscribe(gt=None)
    errors: list[BaseException] = []

    def consume() -> None:
        try:
            list(subscription)
        except Exception as exc:
            errors.append(exc)

    thread = threading.Thread(target=consume)
    thread.start()
    time.sleep(0.2)
    recorder.close()
    thread.join(5)
    assert not thread.is_alive()
    assert len(errors) == 1  # the recorder is closed: next() says so instead of hanging
