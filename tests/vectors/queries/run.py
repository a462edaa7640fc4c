"""Answers a query vector with the Python compiler and DuckDB (the reference)."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path
from typing import Any

import duckdb
import msgspec
import pyarrow as pa
import pyarrow.parquet as pq

from connectors.postgres.results import ARROW_TYPES
from connectors.query import compile_query, decode_spec
from domain.dataset.schema import DatasetSchema


def _typed(value: Any, typ: str) -> Any:
    if value is None:
        return None
    if typ == "date":
        return dt.date.fromisoformat(value)
    if typ == "timestamp":
        return dt.datetime.fromisoformat(value)
    return value


def answer(vector: dict[str, Any], work: Path) -> dict[str, Any]:
    """``{"columns", "rows"}`` as the query API answers them (JSON values)."""
    schema = msgspec.convert(vector["schema"], DatasetSchema)
    columns = {f.column: f.type for f in schema.fields}
    table = pa.Table.from_pylist(
        [{c: _typed(row.get(c), t) for c, t in columns.items()} for row in vector["rows"]],
        schema=pa.schema([(c, ARROW_TYPES[t]) for c, t in columns.items()]),
    )
    path = work / f"{vector['name']}.parquet"
    pq.write_table(table, path)
    compiled = compile_query(
        decode_spec(json.dumps(vector["spec"])),
        schema,
        relation=f"read_parquet('{path}')",
        dialect="duckdb",
        today=dt.date.fromisoformat(vector["today"]),
    )
    con = duckdb.connect()
    try:
        rows = con.execute(compiled.sql, list(compiled.params)).fetchall()
    finally:
        con.close()
    return json.loads(
        msgspec.json.encode(
            {
                "columns": [{"name": c.name, "type": c.type} for c in compiled.columns],
                "rows": rows,
            }
        )
    )
