"""Through the API: the stocks data uploaded as a CSV (answered by DuckDB) and the same rows in a
PostgreSQL table connected as a dataset (answered by push-down) give the same answer to random
query specs, measures included."""

from __future__ import annotations

import asyncio
import csv
import datetime as dt
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import asyncpg
import httpx
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from vega_datasets import local_data

from tests.apiclient import create_workspace
from tests.connectors.query_support import same_rows

STOCKS = Path(local_data.stocks.filepath)
MEASURES = {
    "Total": "SUM([price])",
    "Share of all": "DIVIDE(SUM([price]), CALCULATE(SUM([price]), ALL('stocks')))",
    "MSFT only": 'CALCULATE(AVERAGE([price]), [symbol] = "MSFT")',
    "Rows": "COUNTROWS()",
}
SYMBOLS = ["MSFT", "AMZN", "IBM", "GOOG", "AAPL", "NONE"]

dimension = st.sampled_from(
    [
        "symbol",
        {"field": "date", "grain": "year"},
        {"field": "date", "grain": "quarter"},
        {"field": "date", "grain": "month"},
    ]
)
aggregate = st.builds(
    lambda agg: {"field": "price", "agg": agg},
    st.sampled_from(["sum", "avg", "min", "max", "count", "distinct_count", "median"]),
)
measure = st.sampled_from(sorted(MEASURES)).map(lambda name: {"measure": name})
filters = st.lists(
    st.one_of(
        st.builds(
            lambda values: {"field": "symbol", "op": "in", "values": values},
            st.lists(st.sampled_from(SYMBOLS), min_size=1, max_size=3, unique=True),
        ),
        st.builds(
            lambda low: {"field": "price", "op": "range", "min": low},
            st.sampled_from([10, 25.5, 100]),
        ),
        st.builds(
            lambda low, high: {"field": "date", "op": "range", "min": low, "max": high},
            st.sampled_from(["2001-01-01", "2004-06-15"]),
            st.sampled_from(["2007-01-01", "2010-03-01"]),
        ),
        st.builds(
            lambda n: {
                "field": "symbol",
                "op": "top",
                "n": n,
                "by": {"field": "price", "agg": "sum"},
            },
            st.integers(min_value=1, max_value=4),
        ),
    ),
    max_size=2,
    unique_by=lambda f: (f["field"], f["op"]),
)


@st.composite
def specs(draw: st.DrawFn) -> dict[str, Any]:
    dims = draw(st.lists(dimension, max_size=2, unique_by=str))
    measures = draw(st.lists(st.one_of(aggregate, measure), min_size=1, max_size=3, unique_by=str))
    spec: dict[str, Any] = {"dimensions": dims, "measures": measures, "filters": draw(filters)}
    if draw(st.booleans()):
        spec["limit"] = draw(st.integers(min_value=1, max_value=50))
    return spec


async def _load_stocks(url: str, schema: str) -> None:
    with STOCKS.open(newline="") as file:
        rows = [
            (r["symbol"], dt.datetime.strptime(r["date"], "%b %d %Y").date(), float(r["price"]))  # noqa: DTZ007 - a date
            for r in csv.DictReader(file)
        ]
    conn = await asyncpg.connect(url)
    try:
        await conn.execute(f'CREATE SCHEMA "{schema}"')
        await conn.execute(
            f'CREATE TABLE "{schema}".stocks (symbol text, date date, price double precision)'
        )
        await conn.copy_records_to_table("stocks", schema_name=schema, records=rows)
    finally:
        await conn.close()


async def _drop(url: str, schema: str) -> None:
    conn = await asyncpg.connect(url)
    try:
        await conn.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')
    finally:
        await conn.close()


def _pg_config(url: str) -> dict[str, Any]:
    parts = urlsplit(url)
    return {
        "host": parts.hostname or "127.0.0.1",
        "port": parts.port or 5432,
        "database": parts.path.lstrip("/"),
        "user": parts.username or "postgres",
        "password": parts.password,
        "sslmode": "disable",
    }


async def test_csv_and_postgres_datasets_answer_random_specs_alike(loupe, engines, db_schema):
    source = f"{db_schema}_src"
    await _load_stocks(engines.postgres, source)
    try:
        async with loupe.client() as client:
            workspace = (await create_workspace(client))["id"]
            uploaded = await client.post(
                f"/workspaces/{workspace}/datasets",
                files={"file": ("stocks.csv", STOCKS.read_bytes(), "text/csv")},
                data={"name": "stocks"},
            )
            assert uploaded.status_code == 201, uploaded.text
            connected = await client.post(
                f"/workspaces/{workspace}/datasets",
                json={
                    "name": "stocks (live)",
                    "connector": "postgres",
                    "config": _pg_config(engines.postgres),
                    "table": f"{source}.stocks",
                },
            )
            assert connected.status_code == 201, connected.text
            datasets = [uploaded.json()["id"], connected.json()["id"]]
            for dataset in datasets:
                for name, expression in MEASURES.items():
                    response = await client.post(
                        f"/datasets/{dataset}/measures",
                        json={"name": name, "expression": expression},
                    )
                    assert response.status_code == 201, response.text

            # Hypothesis runs synchronous tests: it runs in a thread with its own client
            # while the server goes on serving on this loop.
            http = httpx.Client(base_url=loupe.url, headers=dict(client.headers), timeout=30)

            @settings(
                max_examples=40,
                deadline=None,
                suppress_health_check=[HealthCheck.function_scoped_fixture],
            )
            @given(spec=specs())
            def same_answer(spec: dict[str, Any]) -> None:
                answers = []
                for dataset in datasets:
                    response = http.post(f"/datasets/{dataset}/query", json=spec)
                    assert response.status_code == 200, (spec, response.text)
                    answers.append(response.json())
                duck, pg = answers
                assert duck["columns"] == pg["columns"]
                assert same_rows(
                    [tuple(r) for r in duck["rows"]], [tuple(r) for r in pg["rows"]]
                ), (spec, duck["rows"][:5], pg["rows"][:5])

            try:
                await asyncio.to_thread(same_answer)
            finally:
                http.close()
    finally:
        await _drop(engines.postgres, source)
