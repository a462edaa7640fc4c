"""Turning DuckDB's complaint about a malformed file into an error that names line and column.

When a pass fails on the file's structure, the file is read once more with
``store_rejects``: DuckDB then lists the faulty rows (error kind, the row's byte position, the
field) instead of stopping. The first one becomes the error; its line is counted in the file
itself, so it is the line an editor shows even after fields spanning several lines.
"""

# ruff: noqa: S608 - read_csv_sql quotes the path with sql_string; nothing else is
# interpolated.

from __future__ import annotations

import csv
import re
from collections.abc import Sequence
from pathlib import Path
from typing import Final

import duckdb

from connectors.csv.dialect import Dialect
from connectors.csv.encoding import line_and_column
from connectors.csv.scan import read_csv_sql
from connectors.errors import InvalidData

_FOUND: Final = re.compile(r"Found:\s*(\d+)")
_ANY_LINE: Final = re.compile(r"Line:\s*(\d+)")


def diagnose(
    con: duckdb.DuckDBPyConnection,
    path: Path,
    dialect: Dialect,
    names: Sequence[str],
    error: duckdb.Error,
) -> InvalidData:
    """The `InvalidData` to raise for ``error``, a failure reading ``path``."""
    try:
        source = read_csv_sql(path, dialect, store_rejects=True)
        con.execute(f"SELECT count(*) FROM {source}").fetchall()  # runs only when fetched
        row = con.execute(
            "SELECT line_byte_position, column_idx, error_type, csv_line, error_message "
            "FROM reject_errors ORDER BY byte_position LIMIT 1"
        ).fetchone()
    except duckdb.Error:
        row = None
    if row is None:
        return _undiagnosed(error)
    line_start, column_index, kind, csv_line, message = row
    line, _ = line_and_column(path, int(line_start))
    kind = str(kind)
    if kind in {"TOO MANY COLUMNS", "MISSING COLUMNS"}:
        found = _FOUND.search(str(message))
        fields = int(found.group(1)) if found else _count_fields(str(csv_line), dialect)
        against = "the header has" if dialect.header else "the first line has"
        return InvalidData(
            f"line {line:,} has {fields:,} fields; {against} {dialect.columns:,}",
            code="ragged_rows",
            line=line,
        )
    column = _column_name(names, column_index)
    if kind == "UNQUOTED VALUE":
        return _quote_error(str(csv_line), dialect, line, column)
    if kind == "LINE SIZE OVER MAXIMUM":
        return InvalidData(
            f"line {line:,} is longer than DuckDB's 2 MB limit for one row (a quote that is "
            "never closed makes the rest of the file one row)",
            code="line_too_long",
            line=line,
        )
    return InvalidData(
        f"line {line:,}: {str(message).splitlines()[0]}", code="malformed_csv", line=line
    )


def _quote_error(csv_line: str, dialect: Dialect, line: int, column: str | None) -> InvalidData:
    where = f"line {line:,}" + (f", column {column!r}" if column else "")
    try:
        list(
            csv.reader(
                [csv_line], delimiter=dialect.delimiter, quotechar=dialect.quote, strict=True
            )
        )
    except csv.Error as error:
        if "expected after" in str(error):
            return InvalidData(
                f"{where}: text after a closing quote (a quote inside a quoted value must be "
                "doubled)",
                code="malformed_csv",
                line=line,
                column=column,
            )
    return InvalidData(
        f"{where}: a quoted value is never closed (unterminated quote)",
        code="unterminated_quote",
        line=line,
        column=column,
    )


def _column_name(names: Sequence[str], index: object) -> str | None:
    if isinstance(index, int) and 1 <= index <= len(names):
        return names[index - 1]
    return None


def _count_fields(csv_line: str, dialect: Dialect) -> int:
    rows = list(csv.reader([csv_line], delimiter=dialect.delimiter, quotechar=dialect.quote))
    return len(rows[0]) if rows else 0


def _undiagnosed(error: duckdb.Error) -> InvalidData:
    text = str(error)
    found = _ANY_LINE.search(text)
    line = int(found.group(1)) if found else None
    first = text.splitlines()[0].removeprefix("Invalid Input Error: ")
    return InvalidData(f"the file cannot be read as CSV: {first}", code="malformed_csv", line=line)
