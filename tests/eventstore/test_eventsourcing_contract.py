"""eventsourcing's own recorder test suite, run against LoupeApplicationRecorder.

The library's test cases are unittest classes; the DSN comes from conftest's ``engines``
fixture (so embedded engines start when no server runs) through a class-scoped fixture that
puts it on the class. Each test gets a fresh schema, created in setUp and dropped in tearDown.
The base classes are reached through the module (``contract.``) so that pytest does not
collect the abstract ones.
"""

from __future__ import annotations

import asyncio
import uuid
from typing import ClassVar

import asyncpg
import eventsourcing.tests.persistence as contract
import pytest

from commands.eventstore.recorder import LoupeApplicationRecorder


@pytest.fixture(scope="class")
def _postgres_dsn(request: pytest.FixtureRequest, engines) -> None:
    request.cls.dsn = engines.postgres


async def _execute(dsn: str, sql: str) -> None:
    conn = await asyncpg.connect(dsn)
    try:
        await conn.execute(sql)
    finally:
        await conn.close()


class _FreshSchema:
    """setUp/tearDown of a schema of the test's own, and the recorders made in it."""

    dsn: ClassVar[str]
    schema: str
    recorders: list[LoupeApplicationRecorder]

    def setUp(self) -> None:
        self.schema = f"t_{uuid.uuid4().hex[:16]}"
        self.recorders = []
        asyncio.run(_execute(self.dsn, f"CREATE SCHEMA {self.schema}"))

    def tearDown(self) -> None:
        for recorder in self.recorders:
            recorder.close()
        asyncio.run(_execute(self.dsn, f"DROP SCHEMA IF EXISTS {self.schema} CASCADE"))

    def create_recorder(self) -> LoupeApplicationRecorder:
        recorder = LoupeApplicationRecorder(self.dsn, self.schema)
        self.recorders.append(recorder)
        return recorder


@pytest.mark.usefixtures("_postgres_dsn")
class TestLoupeApplicationRecorder(
    _FreshSchema, contract.ApplicationRecorderTestCase[LoupeApplicationRecorder]
):
    def test_insert_subscribe(self) -> None:
        self.optional_test_insert_subscribe()


@pytest.mark.usefixtures("_postgres_dsn")
class TestLoupeNonInterleavingNotificationIDs(
    _FreshSchema, contract.NonInterleavingNotificationIDsBaseCase
):
    pass
