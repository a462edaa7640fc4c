"""Importing real files nobody here wrote (vega_datasets' bundled data): the types found, the
row counts, and that DuckDB over the Parquet file agrees with Python over the raw CSV."""

from __future__ import annotations

import csv
import io
import json
import math
from collections import defaultdict
from pathlib import Path
from typing import Any

import duckdb
import pytest
from vega_datasets import local_data

from connectors.csv import IngestedCsv, ingest_csv
from tests.connectors.fixtures import file_chunks, ingest_bytes, leftovers


def _path(name: str) -> Path:
    return Path(getattr(local_data, name).filepath)


async def _ingest(name: str, work_dir: Path) -> IngestedCsv:
    return await ingest_csv(file_chunks(_path(name)), work_dir=work_dir)


def _types(result: IngestedCsv) -> dict[str, str]:
    return {column.name: column.type for column in result.columns}


def _roles(result: IngestedCsv) -> dict[str, str]:
    return {column.name: column.role for column in result.columns}


def _query(result: IngestedCsv, sql: str) -> list[tuple[Any, ...]]:
    with duckdb.connect() as con:
        return con.execute(sql.replace("DATA", f"read_parquet('{result.parquet_path}')")).fetchall()


async def test_seattle_weather_has_dates_decimals_and_text(tmp_path: Path) -> None:
    result = await _ingest("seattle_weather", tmp_path)
    assert result.rows == 1461
    assert _types(result) == {
        "date": "date",
        "precipitation": "decimal",
        "temp_max": "decimal",
        "temp_min": "decimal",
        "wind": "decimal",
        "weather": "text",
    }
    assert _roles(result)["precipitation"] == "measure"
    assert _roles(result)["date"] == "dimension"
    assert _roles(result)["weather"] == "dimension"
    assert (result.encoding, result.delimiter, result.header) == ("utf-8", ",", True)
    assert result.warnings == ()
    assert leftovers(tmp_path, keep=[result.parquet_path]) == []


async def test_seattle_weather_aggregates_match_python_over_the_raw_csv(tmp_path: Path) -> None:
    result = await _ingest("seattle_weather", tmp_path)
    expected: dict[str, list[float]] = defaultdict(list)
    with _path("seattle_weather").open(newline="") as file:
        for row in csv.DictReader(file):
            expected[row["weather"]].append(float(row["precipitation"]))
    got = _query(result, "SELECT weather, count(*), sum(precipitation) FROM DATA GROUP BY weather")
    assert {w: n for w, n, _ in got} == {w: len(v) for w, v in expected.items()}
    for weather, _, total in got:
        assert math.isclose(total, sum(expected[str(weather)]), rel_tol=1e-9)
    first = _query(result, "SELECT min(date), max(date) FROM DATA")[0]
    assert [str(d) for d in first] == ["2012-01-01", "2015-12-31"]


async def test_stocks_reads_month_name_dates(tmp_path: Path) -> None:
    result = await _ingest("stocks", tmp_path)
    assert result.rows == 560
    assert _types(result) == {"symbol": "text", "date": "date", "price": "decimal"}
    expected: dict[str, float] = defaultdict(float)
    with _path("stocks").open(newline="") as file:
        for row in csv.DictReader(file):
            expected[row["symbol"]] += float(row["price"])
    got: dict[str, float] = dict(
        _query(result, "SELECT symbol, sum(price) FROM DATA GROUP BY symbol")
    )
    assert got.keys() == expected.keys()
    for symbol, total in got.items():
        assert math.isclose(total, expected[symbol], rel_tol=1e-9)
    assert str(_query(result, "SELECT min(date) FROM DATA")[0][0]) == "2000-01-01"


async def test_iowa_electricity_year_is_a_date_and_generation_an_integer(tmp_path: Path) -> None:
    result = await _ingest("iowa_electricity", tmp_path)
    assert result.rows == 51
    assert _types(result) == {"year": "date", "source": "text", "net_generation": "integer"}
    with _path("iowa_electricity").open(newline="") as file:
        total = sum(int(row["net_generation"]) for row in csv.DictReader(file))
    assert _query(result, "SELECT sum(net_generation) FROM DATA")[0][0] == total


async def test_us_employment_mixes_integer_and_decimal_columns(tmp_path: Path) -> None:
    result = await _ingest("us_employment", tmp_path)
    types = _types(result)
    assert result.rows == 120
    assert len(types) == 24
    assert types["month"] == "date"
    assert types["nonfarm"] == "integer"
    assert types["wholesale_trade"] == "decimal"
    assert _roles(result)["nonfarm"] == "measure"
    assert _roles(result)["month"] == "dimension"


async def test_timestamps_with_and_without_seconds(tmp_path: Path) -> None:
    seattle = await _ingest("seattle_temps", tmp_path)
    sf = await _ingest("sf_temps", tmp_path)
    assert _types(seattle) == {"date": "timestamp", "temp": "decimal"}
    assert _types(sf) == {"temp": "decimal", "date": "timestamp"}
    assert seattle.rows == 8759
    assert str(_query(seattle, "SELECT max(date) FROM DATA")[0][0]) == "2010-12-31 23:00:00"


async def test_airports_keep_codes_as_text_and_coordinates_as_dimensions(tmp_path: Path) -> None:
    result = await _ingest("airports", tmp_path)
    assert result.rows == 3376
    assert _types(result)["iata"] == "text"
    assert _types(result)["latitude"] == "decimal"
    assert _roles(result)["latitude"] == "dimension"
    with _path("airports").open(newline="") as file:
        states = {row["state"] for row in csv.DictReader(file) if row["state"]}
    assert _query(result, "SELECT count(DISTINCT state) FROM DATA")[0][0] == len(states)


async def test_cars_written_as_csv_round_trips(tmp_path: Path) -> None:
    cars = json.loads(_path("cars").read_text())
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=list(cars[0]))
    writer.writeheader()
    writer.writerows(cars)
    result = await ingest_bytes(buffer.getvalue().encode(), tmp_path)
    types = _types(result)
    assert result.rows == len(cars) == 406
    assert types["Name"] == "text"
    assert types["Cylinders"] == "integer"
    assert types["Miles_per_Gallon"] in {"integer", "decimal"}
    assert types["Year"] == "date"
    horsepower = [c["Horsepower"] for c in cars if c["Horsepower"] is not None]
    got = _query(result, "SELECT count(Horsepower), sum(Horsepower) FROM DATA")[0]
    assert got == (len(horsepower), sum(horsepower))
    assert _query(result, "SELECT count(*) FROM DATA WHERE Horsepower IS NULL")[0][0] == 6


@pytest.mark.parametrize("chunk_size", [1, 7, 4096])
async def test_tiny_chunks_give_the_same_result(tmp_path: Path, chunk_size: int) -> None:
    data = _path("iowa_electricity").read_bytes()
    result = await ingest_bytes(data, tmp_path, chunk_size=chunk_size)
    assert result.rows == 51
    assert result.byte_size == len(data)
    assert _types(result)["year"] == "date"


async def test_the_details_say_what_was_detected(tmp_path: Path) -> None:
    result = await _ingest("stocks", tmp_path)
    assert result.size_bytes == result.byte_size == _path("stocks").stat().st_size
    assert json.loads(json.dumps(result.details())) == {
        "encoding": "utf-8",
        "delimiter": ",",
        "quote": '"',
        "header": True,
        "decimal_separator": ".",
        "parquet_bytes": result.parquet_size,
        "warnings": [],
    }
