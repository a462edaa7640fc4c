"""Reaching a PostgreSQL source and reading its catalog: connection errors people can act on,
the tables a user may read, and each table's columns with Loupe types and roles."""

from __future__ import annotations

import socket
import uuid
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import asyncpg
import pytest

from connectors.errors import InvalidConfig, SourceUnavailable
from connectors.plugin import SourceColumn
from connectors.postgres import PostgresConfig, PostgresConnector
from connectors.postgres.failures import connect_failure
from tests.connectors.postgres_support import (
    config_for,
    load_stocks,
    load_weather,
    open_connector,
)

PASSWORD = "correct-horse-battery"  # noqa: S105 - a test's own


@pytest.fixture
def cfg(engines: Any, db_schema: str) -> PostgresConfig:
    return config_for(engines.postgres, search_path=(db_schema,))


@pytest.fixture
async def connector(tmp_path: Path) -> AsyncIterator[PostgresConnector]:
    async with open_connector(tmp_path) as opened:
        yield opened


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


# -- test() ----------------------------------------------------------------------------------


async def test_a_reachable_source_passes_the_test(
    connector: PostgresConnector, cfg: PostgresConfig
) -> None:
    await connector.test(cfg)


async def test_an_unknown_database_is_named(connector: PostgresConnector, engines: Any) -> None:
    config = config_for(engines.postgres, database="no_such_db_here", password=PASSWORD)
    with pytest.raises(SourceUnavailable) as caught:
        await connector.test(config)
    assert "database 'no_such_db_here' does not exist" in caught.value.detail
    assert PASSWORD not in caught.value.detail
    assert caught.value.status == 502


async def test_an_unknown_role_is_named(connector: PostgresConnector, engines: Any) -> None:
    config = config_for(engines.postgres, user="nobody_" + uuid.uuid4().hex[:8])
    with pytest.raises(SourceUnavailable, match=r"does not let user 'nobody_\w+' connect"):
        await connector.test(config)


async def test_a_closed_port_is_a_refused_connection(connector: PostgresConnector) -> None:
    config = PostgresConfig(
        host="127.0.0.1", port=free_port(), database="test", user="postgres", password=PASSWORD
    )
    with pytest.raises(SourceUnavailable, match="refused the connection") as caught:
        await connector.test(config)
    assert PASSWORD not in caught.value.detail


async def test_an_unresolvable_host_is_named(connector: PostgresConnector) -> None:
    config = PostgresConfig(host="db.nonexistent.invalid", database="test", user="postgres")
    with pytest.raises(SourceUnavailable, match=r"'db\.nonexistent\.invalid'"):
        await connector.test(config)


async def test_tls_required_from_a_server_without_it_is_explained(
    connector: PostgresConnector, engines: Any
) -> None:
    conn = await asyncpg.connect(engines.postgres)
    try:
        has_ssl = await conn.fetchval("SHOW ssl")
    finally:
        await conn.close()
    if has_ssl == "on":
        pytest.fail("this test needs a server without TLS")
    with pytest.raises(SourceUnavailable, match="does not offer TLS, which sslmode=require"):
        await connector.test(config_for(engines.postgres, sslmode="require"))


def test_a_refused_password_names_the_user_but_never_the_password() -> None:
    # The test server trusts every local connection (pg_hba.conf: trust), so it never asks
    # for a password: the mapping of PostgreSQL's answer is checked on the answer itself.
    config = PostgresConfig(host="db", database="d", user="reader", password=PASSWORD)
    refusal = asyncpg.InvalidPasswordError(
        f'password authentication failed for user "reader" ({PASSWORD})'
    )
    error = connect_failure(config, refusal)
    assert isinstance(error, SourceUnavailable)
    assert error.detail == "PostgreSQL at db:5432 refused the password of user 'reader'"
    generic = connect_failure(config, asyncpg.PostgresError(f"echoing {PASSWORD}"))
    assert PASSWORD not in generic.detail


# -- list_tables -----------------------------------------------------------------------------


async def test_tables_and_views_are_listed_with_row_estimates(
    connector: PostgresConnector, cfg: PostgresConfig, engines: Any, db_schema: str
) -> None:
    rows = await load_stocks(engines.postgres, db_schema)
    tables = {
        t.name: t for t in await connector.list_tables(cfg) if t.name.startswith(f"{db_schema}.")
    }
    assert set(tables) == {f"{db_schema}.{n}" for n in ("stocks", "symbols", "yearly")}
    assert tables[f"{db_schema}.stocks"].kind == "table"
    assert tables[f"{db_schema}.stocks"].rows_estimate == rows
    assert tables[f"{db_schema}.yearly"].kind == "view"
    assert tables[f"{db_schema}.yearly"].rows_estimate is None
    assert not any(
        t.name.startswith(("pg_catalog.", "information_schema.")) for t in tables.values()
    )


async def test_only_tables_the_user_may_select_are_listed(
    tmp_path: Path, engines: Any, db_schema: str
) -> None:
    await load_stocks(engines.postgres, db_schema)
    role = "loupe_reader_" + uuid.uuid4().hex[:8]
    admin = await asyncpg.connect(engines.postgres)
    try:
        await admin.execute(f"CREATE ROLE {role} LOGIN")
        await admin.execute(f"GRANT USAGE ON SCHEMA {db_schema} TO {role}")
        await admin.execute(f"GRANT SELECT ON {db_schema}.symbols TO {role}")
        config = config_for(engines.postgres, user=role)
        async with open_connector(tmp_path) as connector:
            names = [t.name for t in await connector.list_tables(config)]
            assert [n for n in names if n.startswith(f"{db_schema}.")] == [f"{db_schema}.symbols"]
            with pytest.raises(InvalidConfig, match=f"user '{role}' may not SELECT"):
                await connector.infer_schema(config, f"{db_schema}.stocks")
    finally:
        await admin.execute(f"DROP OWNED BY {role}")
        await admin.execute(f"DROP ROLE {role}")
        await admin.close()


async def test_odd_names_are_listed_in_a_form_that_resolves(
    connector: PostgresConnector, cfg: PostgresConfig, engines: Any, db_schema: str
) -> None:
    admin = await asyncpg.connect(engines.postgres)
    try:
        await admin.execute(f'CREATE TABLE {db_schema}."Odd.Name ""x""" (v int)')
    finally:
        await admin.close()
    (listed,) = [t.name for t in await connector.list_tables(cfg) if db_schema in t.name]
    assert listed == f'"{db_schema}"."Odd.Name ""x"""'
    columns = await connector.infer_schema(cfg, listed)
    assert [c.name for c in columns] == ["v"]
    assert connector.relation(cfg, listed) == listed


# -- infer_schema ----------------------------------------------------------------------------


async def test_real_data_gets_types_and_roles(
    connector: PostgresConnector, cfg: PostgresConfig, engines: Any, db_schema: str
) -> None:
    await load_weather(engines.postgres, db_schema)
    await load_stocks(engines.postgres, db_schema)
    weather = await connector.infer_schema(cfg, f"{db_schema}.weather")
    assert weather == [
        SourceColumn(name="day", type="date", role="dimension", source_type="date", nullable=False),
        SourceColumn(
            name="precipitation",
            type="decimal",
            role="measure",
            source_type="numeric(6,1)",
            nullable=False,
        ),
        SourceColumn(
            name="temp_max", type="decimal", role="measure", source_type="double precision"
        ),
        SourceColumn(name="temp_min", type="decimal", role="measure", source_type="real"),
        SourceColumn(name="wind", type="decimal", role="measure", source_type="numeric"),
        SourceColumn(name="weather", type="text", role="dimension", source_type="text"),
    ]
    stocks = {c.name: c for c in await connector.infer_schema(cfg, f"{db_schema}.stocks")}
    assert (stocks["stock_id"].type, stocks["stock_id"].role) == ("integer", "dimension")
    assert (stocks["symbol"].type, stocks["symbol"].role) == ("text", "dimension")  # a key
    assert (stocks["price"].type, stocks["price"].role) == ("decimal", "measure")


async def test_every_postgres_type_maps_to_a_loupe_type(
    connector: PostgresConnector, cfg: PostgresConfig, engines: Any, db_schema: str
) -> None:
    admin = await asyncpg.connect(engines.postgres)
    try:
        await admin.execute(
            f"""
            CREATE TYPE {db_schema}.mood AS ENUM ('sad', 'happy');
            CREATE DOMAIN {db_schema}.score AS int4 CHECK (VALUE >= 0);
            CREATE TABLE {db_schema}.everything (
                id bigint, small int2, normal int4, big int8, exact numeric(12, 2),
                single real, double float8, cash money, flag bool, day date,
                moment timestamp, instant timestamptz, label varchar(20), letter char(1),
                body text, ident uuid, doc json, docb jsonb, feeling {db_schema}.mood,
                points {db_schema}.score, tags text[], clock time, span interval,
                customer_id int4, "Amount" numeric
            )"""
        )
    finally:
        await admin.close()
    columns = {c.name: c for c in await connector.infer_schema(cfg, "everything")}
    types = {name: column.type for name, column in columns.items()}
    assert types == {
        "id": "integer", "small": "integer", "normal": "integer", "big": "integer",
        "exact": "decimal", "single": "decimal", "double": "decimal", "cash": "decimal",
        "flag": "boolean", "day": "date", "moment": "timestamp", "instant": "timestamp",
        "label": "text", "letter": "text", "body": "text", "ident": "text", "doc": "text",
        "docb": "text", "feeling": "text", "points": "integer", "tags": "text",
        "clock": "text", "span": "text", "customer_id": "integer", "Amount": "decimal",
    }  # fmt: skip
    measures = {name for name, column in columns.items() if column.role == "measure"}
    assert measures == {
        "small", "normal", "big", "exact", "single", "double", "cash", "points", "Amount",
    }  # fmt: skip
    assert columns["label"].source_type == "character varying(20)"
    assert columns["points"].source_type == "score"  # the schema is on the search path


async def test_an_unknown_table_is_named(
    connector: PostgresConnector, cfg: PostgresConfig, db_schema: str
) -> None:
    with pytest.raises(InvalidConfig, match=f"table '{db_schema}.nope' does not exist"):
        await connector.infer_schema(cfg, f"{db_schema}.nope")
    with pytest.raises(InvalidConfig, match=r"table 'nope' does not exist .* search path"):
        await connector.infer_schema(cfg, "nope")
