"""Helpers of the event store tests (imported by the test modules and their conftest)."""

from __future__ import annotations

import asyncio
import time
import uuid
from typing import TYPE_CHECKING

from commands.eventstore import NewEvent, StreamRef
from commands.eventstore.sql import Statements, append_args

if TYPE_CHECKING:
    from collections.abc import Awaitable, Callable

    import asyncpg


def new_event(type_: str = "VisualMoved", data: bytes = b"{}", **metadata: object) -> NewEvent:
    return NewEvent(event_id=uuid.uuid4(), type=type_, data=data, **metadata)  # type: ignore[arg-type]


def new_stream(stream_type: str = "report", workspace_id: uuid.UUID | None = None) -> StreamRef:
    return StreamRef(stream_id=uuid.uuid4(), stream_type=stream_type, workspace_id=workspace_id)


async def append_in_transaction(
    conn: asyncpg.Connection,
    schema: str,
    stream: StreamRef,
    expected_version: int,
    events: list[NewEvent],
) -> int:
    """Run the store's append statement on ``conn`` (which may be inside an open transaction).

    Returns the first position. Lets a test hold an append uncommitted for as long as it likes.
    """
    row = await conn.fetchrow(
        Statements.for_schema(schema).append, *append_args(stream, expected_version, events, None)
    )
    assert row is not None
    return int(row["first_position"])


async def eventually(check: Callable[[], Awaitable[bool]], timeout: float = 5.0) -> None:
    """Poll ``check`` until it is true, for state that offers nothing to await."""
    deadline = time.monotonic() + timeout
    while not await check():
        if time.monotonic() > deadline:
            raise AssertionError("condition not reached in time")
        await asyncio.sleep(0.01)
