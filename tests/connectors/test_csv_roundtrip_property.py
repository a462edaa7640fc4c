"""Property: any table Python's csv module writes comes back from the Parquet file equal,
typed as the importer inferred (integers, decimals, booleans, dates, tricky text, NULLs)."""

from __future__ import annotations

import csv
import datetime as dt
import io
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import duckdb
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.connectors.fixtures import ingest_bytes, leftovers

_TEXT = st.text(
    alphabet=st.characters(blacklist_categories=("Cs", "Cc"), whitelist_characters=",;|\t\n\r\"' "),
    max_size=12,
).map(lambda s: "x" + s)  # never a number, date or boolean
_KINDS: dict[str, tuple[st.SearchStrategy[Any], str, Callable[[Any], str]]] = {
    "integer": (st.integers(-(10**17), 10**17), "integer", str),
    "decimal": (
        st.floats(allow_nan=False, allow_infinity=False, width=64).filter(lambda f: f != int(f)),
        "decimal",
        repr,
    ),
    "boolean": (st.booleans(), "boolean", str),
    "date": (st.dates(dt.date(1000, 1, 1), dt.date(9999, 12, 31)), "date", dt.date.isoformat),
    "text": (_TEXT, "text", str),
}


@st.composite
def tables(draw: st.DrawFn) -> tuple[list[str], list[list[Any]]]:
    kinds = draw(st.lists(st.sampled_from(sorted(_KINDS)), min_size=2, max_size=5))
    rows = draw(st.integers(1, 30))
    columns = []
    for kind in kinds:
        values = st.one_of(st.none(), _KINDS[kind][0]) if draw(st.booleans()) else _KINDS[kind][0]
        columns.append(draw(st.lists(values, min_size=rows, max_size=rows)))
    return kinds, [list(row) for row in zip(*columns, strict=True)]


def _csv(kinds: list[str], rows: list[list[Any]]) -> bytes:
    buffer = io.StringIO(newline="")
    writer = csv.writer(buffer)
    writer.writerow([f"c{i}" for i in range(len(kinds))])
    for row in rows:
        writer.writerow(
            ["" if v is None else _KINDS[kind][2](v) for kind, v in zip(kinds, row, strict=True)]
        )
    return buffer.getvalue().encode("utf-8")


def _expected(kind: str, value: Any) -> Any:
    if value is None or value == "":
        return None
    return value


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(tables())
async def test_written_tables_round_trip_through_parquet(
    table: tuple[list[str], list[list[Any]]],
) -> None:
    kinds, rows = table
    with tempfile.TemporaryDirectory() as folder:
        work_dir = Path(folder)
        result = await ingest_bytes(_csv(kinds, rows), work_dir, chunk_size=97)
        assert result.rows == len(rows)
        for kind, column, values in zip(
            kinds, result.columns, zip(*rows, strict=True), strict=True
        ):
            if all(v is None for v in values):
                assert column.type == "text"
            else:
                assert column.type == _KINDS[kind][1], (kind, column, values)
        with duckdb.connect() as con:
            got = con.execute(f"SELECT * FROM read_parquet('{result.parquet_path}')").fetchall()
        expected = [
            tuple(_expected(kind, v) for kind, v in zip(kinds, row, strict=True)) for row in rows
        ]
        assert got == expected
        assert leftovers(work_dir, keep=[result.parquet_path]) == []
