"""What the PostgreSQL connector tests share: a connector, a config for the test server, and
real data (vega_datasets' CSV files) loaded into the test's own schema."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator, Sequence
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit

import asyncpg
import msgspec
import vega_datasets

from connectors.plugin import CompiledQuery, ConnectorContext, ConnectorLimits, OutputColumn
from connectors.postgres import PostgresConfig, PostgresConnector
from domain.dataset.schema import FieldType

DATA = Path(vega_datasets.__file__).parent / "_data"


def config_for(url: str, **changes: Any) -> PostgresConfig:
    """The connector config that reaches the server of ``url`` (TCP or a socket directory)."""
    parts = urlsplit(url)
    query = parse_qs(parts.query)
    fields: dict[str, Any] = {
        "host": parts.hostname or query.get("host", ["127.0.0.1"])[0],
        "port": parts.port or int(query.get("port", ["5432"])[0]),
        "database": unquote(parts.path.lstrip("/")) or "postgres",
        "user": unquote(parts.username or "postgres"),
        "password": unquote(parts.password) if parts.password else None,
    }
    fields.update(changes)
    return msgspec.convert(fields, PostgresConfig)


@contextlib.asynccontextmanager
async def open_connector(tmp_path: Path, **limits: Any) -> AsyncIterator[PostgresConnector]:
    """A connector with these limits, closed after."""
    conn = PostgresConnector(ConnectorContext(data_dir=tmp_path, limits=ConnectorLimits(**limits)))
    try:
        yield conn
    finally:
        await conn.close()


def query(
    sql: str, columns: Sequence[tuple[str, FieldType]] = (), params: Sequence[Any] = ()
) -> CompiledQuery:
    return CompiledQuery(
        sql=sql,
        params=tuple(params),
        columns=tuple(OutputColumn(name=name, type=typ) for name, typ in columns),
        dialect="postgres",
    )


async def load_weather(url: str, schema: str) -> int:
    """seattle-weather.csv as ``<schema>.weather`` with a key and a few typed columns."""
    conn = await asyncpg.connect(url)
    try:
        await conn.execute(
            f"""
            CREATE TABLE {schema}.weather (
                day date PRIMARY KEY,
                precipitation numeric(6, 1) NOT NULL,
                temp_max double precision,
                temp_min real,
                wind numeric,
                weather text
            )"""
        )
        with (DATA / "seattle-weather.csv").open("rb") as source:
            await conn.copy_to_table(
                "weather", schema_name=schema, source=source, format="csv", header=True
            )
        await conn.execute(f"ANALYZE {schema}.weather")
        return int(await conn.fetchval(f"SELECT count(*) FROM {schema}.weather"))
    finally:
        await conn.close()


async def load_stocks(url: str, schema: str) -> int:
    """stocks.csv as ``<schema>.stocks`` (symbol, date, price), plus a ``symbols`` table the
    stocks reference and a view over them."""
    conn = await asyncpg.connect(url)
    try:
        await conn.execute(
            f"""
            CREATE TABLE {schema}.symbols (symbol text PRIMARY KEY, name text);
            CREATE TABLE {schema}.stocks (
                stock_id serial PRIMARY KEY,
                symbol text NOT NULL,
                date date NOT NULL,
                price numeric(10, 2) NOT NULL
            )"""
        )
        with (DATA / "stocks.csv").open("rb") as source:
            await conn.copy_to_table(
                "stocks",
                schema_name=schema,
                source=source,
                columns=["symbol", "date", "price"],
                format="csv",
                header=True,
            )
        await conn.execute(
            f"""
            INSERT INTO {schema}.symbols SELECT DISTINCT symbol, lower(symbol)
                FROM {schema}.stocks;
            ALTER TABLE {schema}.stocks ADD FOREIGN KEY (symbol)
                REFERENCES {schema}.symbols (symbol);
            CREATE VIEW {schema}.yearly AS
                SELECT symbol, date_trunc('year', date)::date AS year, avg(price) AS price
                FROM {schema}.stocks GROUP BY 1, 2;
            ANALYZE {schema}.stocks"""
        )
        return int(await conn.fetchval(f"SELECT count(*) FROM {schema}.stocks"))
    finally:
        await conn.close()
