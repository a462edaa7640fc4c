"""What the chart tests share: four vega_datasets samples as Loupe datasets (cars and stocks from
the query tests, seattle-weather and iowa-electricity here), real answers to a visual's query
(the project's query compiler over Parquet in DuckDB, as tests/connectors does), the visual
compiled, and what a rendering looks like (PNG pixels, SVG marks)."""

from __future__ import annotations

import datetime as dt
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import msgspec
import pyarrow as pa
from vega_datasets import local_data

from charts.compiler import compile_visual
from charts.fields import dataset_fields
from charts.query import QueryPlan, query_for
from connectors.query import compile_query, decode_spec
from domain.dataset.schema import CalculatedColumn, DatasetSchema, Field, Measure
from tests.connectors.query_support import Dataset, DuckRunner, cars, stocks

TODAY = dt.date(2016, 1, 1)


def _field(name: str, column: str, typ: str) -> Field:
    role = "measure" if typ in {"integer", "decimal"} else "dimension"
    return Field(name=name, column=column, type=typ, role=role)  # type: ignore[arg-type]


def seattle_weather() -> Dataset:
    frame = local_data.seattle_weather()
    rows = [
        {
            "date": row.date.date(),
            "precipitation": float(row.precipitation),
            "temp_max": float(row.temp_max),
            "temp_min": float(row.temp_min),
            "wind": float(row.wind),
            "weather": str(row.weather),
        }
        for row in frame.itertuples()
    ]
    table = pa.Table.from_pylist(
        rows,
        schema=pa.schema(
            [
                ("date", pa.date32()),
                ("precipitation", pa.float64()),
                ("temp_max", pa.float64()),
                ("temp_min", pa.float64()),
                ("wind", pa.float64()),
                ("weather", pa.string()),
            ]
        ),
    )
    schema = DatasetSchema(
        fields=(
            _field("Date", "date", "date"),
            _field("Precipitation", "precipitation", "decimal"),
            _field("Max Temperature", "temp_max", "decimal"),
            _field("Min Temperature", "temp_min", "decimal"),
            _field("Wind", "wind", "decimal"),
            _field("Weather", "weather", "text"),
        ),
        calculated_columns=(
            CalculatedColumn(
                name="Windy", expression="[Wind] > 4", type="boolean", role="dimension"
            ),
        ),
        measures=(
            Measure(name="Days", expression="COUNTROWS()"),
            Measure(name="Rain", expression="SUM([Precipitation])", format="#,0.0"),
        ),
    )
    return Dataset("seattle_weather", schema, table, {}, rows)


def iowa_electricity() -> Dataset:
    frame = local_data.iowa_electricity()
    rows = [
        {
            "year": row.year.date(),
            "source": str(row.source),
            "net_generation": int(row.net_generation),
        }
        for row in frame.itertuples()
    ]
    table = pa.Table.from_pylist(
        rows,
        schema=pa.schema(
            [("year", pa.date32()), ("source", pa.string()), ("net_generation", pa.int64())]
        ),
    )
    schema = DatasetSchema(
        fields=(
            _field("Year", "year", "date"),
            _field("Source", "source", "text"),
            _field("Net Generation", "net_generation", "integer"),
        ),
        calculated_columns=(
            CalculatedColumn(
                name="Renewable",
                expression='[Source] <> "Fossil Fuels"',
                type="boolean",
                role="dimension",
            ),
        ),
        measures=(Measure(name="Generation", expression="SUM([Net Generation])", format="#,0"),),
    )
    return Dataset("iowa_electricity", schema, table, {}, rows)


@dataclass(frozen=True)
class Palette:
    """The fields of a dataset that play each part in the test visuals."""

    category: str
    category2: str
    date: str
    number: str
    number2: str
    measure: str
    detail: str


PALETTES = {
    "cars": Palette(
        category="Origin",
        category2="Cylinders",
        date="Year",
        number="Horsepower",
        number2="MPG",
        measure="Cars",
        detail="Name",
    ),
    "stocks": Palette(
        category="Symbol",
        category2="Expensive",
        date="Date",
        number="Price",
        number2="Year",
        measure="Total Price",
        detail="Date",
    ),
    "seattle_weather": Palette(
        category="Weather",
        category2="Windy",
        date="Date",
        number="Max Temperature",
        number2="Precipitation",
        measure="Rain",
        detail="Date",
    ),
    "iowa_electricity": Palette(
        category="Source",
        category2="Renewable",
        date="Year",
        number="Net Generation",
        number2="Net Generation",
        measure="Generation",
        detail="Year",
    ),
}


def datasets() -> dict[str, Dataset]:
    return {d.name: d for d in (cars(), stocks(), seattle_weather(), iowa_electricity())}


def to_json(value: Any) -> Any:
    """As the query API answers: JSON values (dates as ISO strings)."""
    return json.loads(msgspec.json.encode(value))


class ChartData:
    """The sample datasets in DuckDB (Parquet files), answering visuals' queries."""

    def __init__(self, folder: Path) -> None:
        self.datasets = datasets()
        self.runner = DuckRunner(folder, list(self.datasets.values()))

    def answer(self, dataset: str, spec: dict[str, Any]) -> dict[str, Any]:
        data = self.datasets[dataset]
        query = compile_query(
            decode_spec(json.dumps(spec)),
            data.schema,
            relation=self.runner.relation(data),
            dialect="duckdb",
            today=TODAY,
        )
        rows = self.runner.run(query)
        return to_json(
            {"columns": [{"name": c.name, "type": c.type} for c in query.columns], "rows": rows}
        )

    def plan(
        self, dataset: str, visual: dict[str, Any], filters: list[dict[str, Any]] | None = None
    ) -> QueryPlan:
        plan = query_for(
            visual,
            filters=filters or [],
            dataset_fields=dataset_fields(self.datasets[dataset].schema),
        )
        assert plan is not None, f"nothing to fetch for {visual}"
        return plan

    def compile(
        self,
        dataset: str,
        visual: dict[str, Any],
        *,
        filters: list[dict[str, Any]] | None = None,
        theme: dict[str, Any] | None = None,
        width: float = 480,
        height: float = 300,
    ) -> tuple[QueryPlan, dict[str, Any]]:
        plan = self.plan(dataset, visual, filters)
        result = self.answer(dataset, plan.spec)
        totals = [self.answer(dataset, query.spec) for query in plan.totals]
        spec = compile_visual(
            visual, result, plan=plan, theme=theme, width=width, height=height, totals=totals
        )
        return plan, spec

    def close(self) -> None:
        self.runner.close()


def visual(visual_type: str, wells: dict[str, list[Any]], **properties: Any) -> dict[str, Any]:
    """A visual in the report document's form; wells list field names or ``(name, agg)``."""
    return {
        "id": "00000000-0000-0000-0000-000000000001",
        "visual_type": visual_type,
        "layout": {"x": 0, "y": 0, "w": 8, "h": 6},
        "wells": {
            well: [
                {"field": f, "aggregation": None}
                if isinstance(f, str)
                else {"field": f[0], "aggregation": f[1]}
                for f in fields
            ]
            for well, fields in wells.items()
        },
        "properties": properties,
        "filters": [],
    }
