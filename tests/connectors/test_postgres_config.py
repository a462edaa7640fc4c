"""A PostgreSQL source's config: what is accepted, what is refused and how, and how table
names become quoted SQL."""

from __future__ import annotations

from typing import Any

import msgspec
import pytest
from hypothesis import given
from hypothesis import strategies as st

from connectors.errors import InvalidConfig
from connectors.plugin import Connector, ConnectorContext, secret_fields
from connectors.postgres import PostgresConfig, PostgresConnector
from connectors.postgres.catalog import relation_sql, split_table_name, table_name
from connectors.postgres.config import connect_arguments, pool_key
from connectors.postgres.connector import checked

BASE: dict[str, Any] = {"host": "db.example.org", "database": "sales", "user": "reader"}


def test_a_minimal_config_gets_the_defaults() -> None:
    config = checked(BASE)
    assert (config.port, config.sslmode, config.password, config.timezone) == (
        5432,
        "prefer",
        None,
        "UTC",
    )
    assert config.search_path == ()


def test_the_connector_declares_itself_and_its_secret_field(tmp_path: Any) -> None:
    connector = PostgresConnector(ConnectorContext(data_dir=tmp_path))
    assert isinstance(connector, Connector)
    assert (connector.name, connector.title, connector.dialect) == (
        "postgres",
        "PostgreSQL",
        "postgres",
    )
    assert secret_fields(PostgresConfig) == {"password"}
    schema = msgspec.json.schema(PostgresConfig)["$defs"]["PostgresConfig"]
    assert {"writeOnly": True, "type": "string"} in schema["properties"]["password"]["anyOf"]


@pytest.mark.parametrize(
    ("change", "detail"),
    [
        ({"host": ""}, "host"),
        ({"host": "db.example.org; rm -rf /"}, "is not a host name"),
        ({"host": "a.example,b.example"}, "host lists are not supported"),
        ({"port": 0}, "port"),
        ({"port": 70000}, "port"),
        ({"database": " "}, "database must not be empty"),
        ({"user": "x" * 64}, "63-byte"),
        ({"sslmode": "sometimes"}, "sslmode"),
        ({"search_path": ["ok", ""]}, "search_path must not be empty"),
        ({"statement_timeout": 0}, "statement_timeout"),
        ({"timezone": "Mars/Olympus_Mons"}, "not a known IANA time zone"),
        ({"timezone": "UTC'; --"}, "not a time zone name"),
        ({"password": 1234}, "password"),
        ({"colour": "blue"}, "colour"),
    ],
)
def test_an_invalid_config_is_refused_naming_the_field(change: dict[str, Any], detail: str) -> None:
    with pytest.raises(InvalidConfig) as caught:
        checked({**BASE, **change})
    assert detail in caught.value.detail
    assert caught.value.status == 422


def test_a_config_built_in_code_is_checked_too() -> None:
    with pytest.raises(InvalidConfig, match="port 0 is outside 1-65535"):
        PostgresConfig(host="h", database="d", user="u", port=0)


def test_connection_arguments_never_fall_back_to_the_servers_own_credentials() -> None:
    arguments = connect_arguments(checked(BASE))
    assert arguments["password"] == ""  # not None: asyncpg would read PGPASSWORD or ~/.pgpass
    assert arguments["ssl"] == "prefer"  # not None: asyncpg would read PGSSLMODE
    settings = arguments["server_settings"]
    assert settings["default_transaction_read_only"] == "on"
    assert settings["standard_conforming_strings"] == "on"
    assert settings["TimeZone"] == "UTC"


def test_session_options_reach_the_server_settings() -> None:
    config = checked(
        {
            **BASE,
            "search_path": ["sales", 'we"ird'],
            "statement_timeout": 2.5,
            "timezone": "Europe/Paris",
        }
    )
    settings = connect_arguments(config)["server_settings"]
    assert settings["search_path"] == '"sales", "we""ird"'
    assert settings["statement_timeout"] == "2500"
    assert settings["TimeZone"] == "Europe/Paris"


def test_each_distinct_config_has_its_own_pool_key_which_hides_the_password() -> None:
    one = checked({**BASE, "password": "hunter2-secret"})
    other = checked({**BASE, "password": "hunter3-secret"})
    assert pool_key(one) == pool_key(checked({**BASE, "password": "hunter2-secret"}))
    assert pool_key(one) != pool_key(other)
    assert "hunter2" not in pool_key(one)


# -- table names -----------------------------------------------------------------------------


def test_a_relation_is_quoted_schema_and_table() -> None:
    assert relation_sql("sales.Orders") == '"sales"."Orders"'
    assert relation_sql("orders") == '"orders"'
    assert relation_sql('"my.schema"."odd ""name"""') == '"my.schema"."odd ""name"""'


def test_an_injection_attempt_in_a_table_name_stays_inside_the_quotes() -> None:
    assert relation_sql('public.x"; DROP TABLE y; --') == '"public"."x""; DROP TABLE y; --"'


@pytest.mark.parametrize("table", ["", "a.b.c", ".t", "s.", '"unclosed', '"a"b', "a.\x00"])
def test_a_malformed_table_name_is_refused(table: str) -> None:
    with pytest.raises(InvalidConfig, match="table"):
        relation_sql(table)


identifiers = st.text(
    alphabet=st.characters(exclude_characters="\x00", exclude_categories=("Cs",)), min_size=1
)


@given(schema=identifiers, name=identifiers)
def test_a_listed_table_name_splits_back_into_its_parts(schema: str, name: str) -> None:
    assert split_table_name(table_name(schema, name)) == (schema, name)
