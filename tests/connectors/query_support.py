"""What the query-compiler and measure tests share: two real datasets (vega_datasets' stocks
and cars), their dataset schemas, and runners that execute a `CompiledQuery` in DuckDB (over a
Parquet file written with pyarrow) and in PostgreSQL (the same rows in a table)."""

from __future__ import annotations

import asyncio
import datetime as dt
import math
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import Any

import asyncpg
import duckdb
import pyarrow as pa
import pyarrow.parquet as pq
from vega_datasets import data

from connectors.plugin import CompiledQuery
from connectors.query import QuerySpec, compile_query
from domain.dataset.schema import CalculatedColumn, DatasetSchema, Field, Measure

TODAY = dt.date(2010, 3, 15)


@dataclass(frozen=True)
class Dataset:
    name: str
    schema: DatasetSchema
    table: pa.Table
    #: PostgreSQL column types, by source column.
    pg_types: dict[str, str]
    rows: list[dict[str, Any]] = field(default_factory=list)


def _field(name: str, column: str, typ: str, *, hidden: bool = False) -> Field:
    role = "measure" if typ in {"integer", "decimal"} else "dimension"
    return Field(name=name, column=column, type=typ, role=role, hidden=hidden)  # type: ignore[arg-type]


STOCK_MEASURES = (
    Measure(name="Total Price", expression="SUM([Price])"),
    Measure(name="Average Price", expression="AVERAGE([Price])"),
    Measure(name="Rows", expression="COUNTROWS()"),
    Measure(name="Symbols", expression="DISTINCTCOUNT([Symbol])"),
    Measure(
        name="Share", expression="DIVIDE([Total Price], CALCULATE([Total Price], ALL(Stocks)))"
    ),
    Measure(name="IBM Total", expression='CALCULATE([Total Price], [Symbol] = "IBM")'),
    Measure(
        name="Big Tech",
        expression='CALCULATE([Total Price], [Symbol] IN {"MSFT", "AAPL", "GOOG"})',
    ),
    Measure(name="All Symbols", expression="CALCULATE([Total Price], ALL([Symbol]))"),
    Measure(name="YTD", expression="TOTALYTD([Total Price], [Date])"),
    Measure(name="Last Year", expression="CALCULATE([Total Price], SAMEPERIODLASTYEAR([Date]))"),
    Measure(
        name="Previous Month", expression="CALCULATE([Total Price], DATEADD([Date], -1, MONTH))"
    ),
    Measure(name="Growth", expression="DIVIDE([Total Price] - [Last Year], [Last Year])"),
    Measure(name="Band", expression='IF([Average Price] > 100, "high", "low")'),
    Measure(
        name="Size",
        expression='SWITCH(TRUE(), [Rows] >= 100, "many", [Rows] >= 12, "some", "few")',
    ),
    Measure(name="Peak", expression="MAX([Price])"),
    Measure(name="Median Price", expression="MEDIAN([Price])"),
)


def stocks() -> Dataset:
    frame = data.stocks()
    rows = [
        {
            "symbol": str(row.symbol),
            "date": row.date.date(),
            "price": float(row.price),
            "moment": dt.datetime.combine(row.date.date(), dt.time(9, 30)),
        }
        for row in frame.itertuples()
    ]
    table = pa.Table.from_pylist(
        rows,
        schema=pa.schema(
            [
                ("symbol", pa.string()),
                ("date", pa.date32()),
                ("price", pa.float64()),
                ("moment", pa.timestamp("us")),
            ]
        ),
    )
    schema = DatasetSchema(
        fields=(
            _field("Symbol", "symbol", "text"),
            _field("Date", "date", "date"),
            _field("Price", "price", "decimal"),
            _field("Moment", "moment", "timestamp", hidden=True),
        ),
        calculated_columns=(
            CalculatedColumn(
                name="Year", expression="YEAR([Date])", type="integer", role="dimension"
            ),
            CalculatedColumn(
                name="Expensive", expression="[Price] > 100", type="boolean", role="dimension"
            ),
            CalculatedColumn(
                name="Label",
                expression='UPPER(LEFT([Symbol], 2)) & "-" & YEAR([Date])',
                type="text",
                role="dimension",
            ),
        ),
        measures=STOCK_MEASURES,
    )
    pg_types = {"symbol": "text", "date": "date", "price": "numeric(10,2)", "moment": "timestamp"}
    return Dataset("stocks", schema, table, pg_types, rows)


CAR_MEASURES = (
    Measure(name="Cars", expression="COUNTROWS()"),
    Measure(name="Total Weight", expression="SUM([Weight])"),
    Measure(name="Mean MPG", expression="AVERAGE([MPG])"),
    Measure(name="Power per Ton", expression="DIVIDE(SUM([Horsepower]), SUM([Weight]) / 2000)"),
    Measure(name="USA Share", expression="DIVIDE([Cars], CALCULATE([Cars], ALL(Cars)))"),
    Measure(name="Japan Cars", expression='CALCULATE([Cars], [Origin] = "Japan")'),
    Measure(name="Known HP", expression="COUNT([Horsepower])"),
    Measure(name="Models", expression="DISTINCTCOUNT([Name])"),
    Measure(name="Heaviest", expression="MAX([Weight])"),
    Measure(name="Kind", expression='IF([Mean MPG] >= 25, "frugal", "thirsty")'),
    Measure(name="Same Origin Other Years", expression="CALCULATE([Cars], REMOVEFILTERS([Year]))"),
)


def cars() -> Dataset:
    frame = data.cars()
    rows = []
    for row in frame.itertuples():
        rows.append(
            {
                "Name": str(row.Name),
                "Miles_per_Gallon": None
                if math.isnan(row.Miles_per_Gallon)
                else float(row.Miles_per_Gallon),
                "Cylinders": int(row.Cylinders),
                "Displacement": float(row.Displacement),
                "Horsepower": None if math.isnan(row.Horsepower) else int(row.Horsepower),
                "Weight_in_lbs": int(row.Weight_in_lbs),
                "Acceleration": float(row.Acceleration),
                "Year": row.Year.date(),
                "Origin": str(row.Origin),
            }
        )
    table = pa.Table.from_pylist(
        rows,
        schema=pa.schema(
            [
                ("Name", pa.string()),
                ("Miles_per_Gallon", pa.float64()),
                ("Cylinders", pa.int64()),
                ("Displacement", pa.float64()),
                ("Horsepower", pa.int64()),
                ("Weight_in_lbs", pa.int64()),
                ("Acceleration", pa.float64()),
                ("Year", pa.date32()),
                ("Origin", pa.string()),
            ]
        ),
    )
    schema = DatasetSchema(
        fields=(
            _field("Name", "Name", "text"),
            _field("MPG", "Miles_per_Gallon", "decimal"),
            _field("Cylinders", "Cylinders", "integer"),
            _field("Displacement", "Displacement", "decimal"),
            _field("Horsepower", "Horsepower", "integer"),
            _field("Weight", "Weight_in_lbs", "integer"),
            _field("Acceleration", "Acceleration", "decimal"),
            _field("Year", "Year", "date"),
            _field("Origin", "Origin", "text"),
        ),
        calculated_columns=(
            CalculatedColumn(
                name="Heavy", expression="[Weight] > 3500", type="boolean", role="dimension"
            ),
            CalculatedColumn(
                name="HP per Liter",
                expression="ROUND(DIVIDE([Horsepower], [Displacement] / 61.0237), 1)",
                type="decimal",
                role="measure",
            ),
        ),
        measures=CAR_MEASURES,
    )
    pg_types = {
        "Name": "text",
        "Miles_per_Gallon": "double precision",
        "Cylinders": "integer",
        "Displacement": "double precision",
        "Horsepower": "integer",
        "Weight_in_lbs": "integer",
        "Acceleration": "double precision",
        "Year": "date",
        "Origin": "text",
    }
    return Dataset("cars", schema, table, pg_types, rows)


class DuckRunner:
    """DuckDB in memory over each dataset's Parquet file."""

    def __init__(self, folder: Path, datasets: Sequence[Dataset]) -> None:
        self.con = duckdb.connect()
        self.paths: dict[str, Path] = {}
        for dataset in datasets:
            path = folder / f"{dataset.name}.parquet"
            pq.write_table(dataset.table, path)
            self.paths[dataset.name] = path

    def relation(self, dataset: Dataset) -> str:
        return f"read_parquet('{self.paths[dataset.name]}')"

    def run(self, query: CompiledQuery) -> list[tuple[Any, ...]]:
        return self.con.execute(query.sql, list(query.params)).fetchall()

    def close(self) -> None:
        self.con.close()


class PgRunner:
    """PostgreSQL: each dataset as a table in a schema of this run's own, queried through
    asyncpg (which binds ``$n`` as the PostgreSQL connector does)."""

    def __init__(self, url: str) -> None:
        self.loop = asyncio.new_event_loop()
        self.schema = f"t_q{uuid.uuid4().hex[:12]}"
        self.conn: asyncpg.Connection = self.loop.run_until_complete(asyncpg.connect(url))
        self.loop.run_until_complete(self.conn.execute(f"CREATE SCHEMA {self.schema}"))

    def load(self, dataset: Dataset) -> None:
        columns = ", ".join(f'"{name}" {typ}' for name, typ in dataset.pg_types.items())
        records = [
            tuple(
                Decimal(str(value)) if typ.startswith("numeric") and value is not None else value
                for value, typ in zip(row.values(), dataset.pg_types.values(), strict=True)
            )
            for row in dataset.rows
        ]

        async def go() -> None:
            await self.conn.execute(f'CREATE TABLE {self.schema}."{dataset.name}" ({columns})')
            await self.conn.copy_records_to_table(
                dataset.name,
                records=records,
                columns=list(dataset.pg_types),
                schema_name=self.schema,
            )

        self.loop.run_until_complete(go())

    def relation(self, dataset: Dataset) -> str:
        return f'"{self.schema}"."{dataset.name}"'

    def run(self, query: CompiledQuery) -> list[tuple[Any, ...]]:
        records = self.loop.run_until_complete(self.conn.fetch(query.sql, *query.params))
        return [tuple(record.values()) for record in records]

    def close(self) -> None:
        self.loop.run_until_complete(self.conn.execute(f"DROP SCHEMA {self.schema} CASCADE"))
        self.loop.run_until_complete(self.conn.close())
        self.loop.close()


@dataclass
class Engines:
    duck: DuckRunner
    pg: PgRunner
    datasets: dict[str, Dataset]

    def both(
        self, dataset: Dataset, spec: QuerySpec, *, today: dt.date = TODAY
    ) -> tuple[list[tuple[Any, ...]], list[tuple[Any, ...]]]:
        """The answers of DuckDB and PostgreSQL to ``spec``."""
        duck = compile_query(
            spec,
            dataset.schema,
            relation=self.duck.relation(dataset),
            dialect="duckdb",
            today=today,
        )
        pg = compile_query(
            spec,
            dataset.schema,
            relation=self.pg.relation(dataset),
            dialect="postgres",
            today=today,
        )
        return self.duck.run(duck), self.pg.run(pg)

    def duckdb(
        self, dataset: Dataset, spec: QuerySpec, *, today: dt.date = TODAY
    ) -> list[tuple[Any, ...]]:
        query = compile_query(
            spec,
            dataset.schema,
            relation=self.duck.relation(dataset),
            dialect="duckdb",
            today=today,
        )
        return self.duck.run(query)


def same_value(left: Any, right: Any) -> bool:
    if isinstance(left, float) or isinstance(right, float):
        if left is None or right is None:
            return left is right
        return math.isclose(float(left), float(right), rel_tol=1e-9, abs_tol=1e-9)
    return type(left) is type(right) and left == right


def same_rows(left: Sequence[tuple[Any, ...]], right: Sequence[tuple[Any, ...]]) -> bool:
    return len(left) == len(right) and all(
        len(a) == len(b) and all(same_value(x, y) for x, y in zip(a, b, strict=True))
        for a, b in zip(left, right, strict=True)
    )
