"""The DuckDB side of an import: the counting passes and the conversion to Parquet.

DuckDB reads every column as text (``read_csv`` with explicit VARCHAR columns and no
auto-detection: the dialect is ours), and the conversion is one ``COPY (SELECT …) TO …
(FORMAT parquet)`` whose SELECT turns each column into its type with the chosen format's
expression. A value that expression cannot read stops the COPY through ``error()`` with a
marker naming the column: the importer then counts over the whole file and converts again.
"""

# ruff: noqa: S608 - the only interpolated pieces are column references c0..cN,
# identifiers quoted by quote_identifier and literals made by sql_string; no value of the
# file ever becomes SQL.

from __future__ import annotations

import re
from collections.abc import Sequence
from pathlib import Path
from typing import Final

import duckdb

from connectors.csv.dialect import Dialect
from connectors.csv.formats import DUCKDB_TYPES, MARKERS, ValueFormat, sql_string
from connectors.csv.inference import SAMPLE_ROWS, ColumnCounts, ColumnPlan

#: DuckDB settings for an import: a 2-core server shares its cores and memory with the rest.
IMPORT_THREADS: Final = 2
IMPORT_MEMORY_LIMIT: Final = "1GB"
_MISMATCH: Final = "loupe-value-mismatch:"
_MISMATCH_RE: Final = re.compile(re.escape(_MISMATCH) + r"(\d+)")
_LEADING_ZEROS: Final = " *[+-]?0[0-9]+ *"
_DIGITS: Final = " *[+-]?[0-9]+ *"


def connect(temp_dir: Path) -> duckdb.DuckDBPyConnection:
    con = duckdb.connect(
        ":memory:",
        config={
            "threads": IMPORT_THREADS,
            "memory_limit": IMPORT_MEMORY_LIMIT,
            "temp_directory": str(temp_dir),
        },
    )
    # Timestamps with an offset are stored in UTC (setting it needs ICU, loaded on first use).
    con.execute("SET TimeZone = 'UTC'")
    return con


def column_ref(index: int) -> str:
    return f"c{index}"


def quote_identifier(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def read_csv_sql(path: Path, dialect: Dialect, *, store_rejects: bool = False) -> str:
    columns = ", ".join(f"'{column_ref(i)}': 'VARCHAR'" for i in range(dialect.columns))
    quote = sql_string(dialect.quote)
    extra = ", store_rejects = true" if store_rejects else ""
    return (
        f"read_csv({sql_string(str(path))}, columns = {{{columns}}}, "
        f"header = {str(dialect.header).lower()}, delim = {sql_string(dialect.delimiter)}, "
        f"quote = {quote}, escape = {quote}, skip = {dialect.skip}, auto_detect = false, "
        f"strict_mode = true{extra})"
    )


def _not_blank(ref: str) -> str:
    return f"trim({ref}) <> ''"


def count_sample(
    con: duckdb.DuckDBPyConnection, source: str, formats: Sequence[Sequence[ValueFormat]]
) -> tuple[int, list[ColumnCounts]]:
    """Rows in the sample and, per column, the values each of its ``formats`` fails to read
    (formats not listed count as failing everything)."""
    selects = ["count(*)"]
    for i, candidates in enumerate(formats):
        ref = column_ref(i)
        present = _not_blank(ref)
        selects.append(f"count(*) FILTER (WHERE {present})")
        selects.append(
            f"bool_and(regexp_full_match({ref}, {sql_string(_DIGITS)})) FILTER (WHERE {present})"
        )
        selects.append(
            f"any_value({ref}) FILTER (WHERE regexp_full_match({ref}, "
            f"{sql_string(_LEADING_ZEROS)}))"
        )
        selects.extend(f"bool_or({test.replace('{v}', ref)})" for test in MARKERS.values())
        selects.extend(
            f"count(*) FILTER (WHERE {present} AND NOT {f.accepts(ref)})" for f in candidates
        )
    sql = f"SELECT {', '.join(selects)} FROM (SELECT * FROM {source} LIMIT {SAMPLE_ROWS})"
    row = con.execute(sql).fetchone()
    assert row is not None
    position = 1
    found: list[ColumnCounts] = []
    for candidates in formats:
        values, all_digits, leading_zeros = row[position : position + 3]
        position += 3
        markers = [row[position + k] for k in range(len(MARKERS))]
        position += len(MARKERS)
        separators = frozenset(m for m, seen in zip(MARKERS, markers, strict=True) if seen)
        failures = {f.key: int(n) for f, n in zip(candidates, row[position:], strict=False)}
        position += len(candidates)
        found.append(
            ColumnCounts(
                values=int(values),
                all_digits=bool(all_digits),
                leading_zeros=leading_zeros,
                failures=failures,
                separators=separators,
            )
        )
    return int(row[0]), found


def count_whole_file(
    con: duckdb.DuckDBPyConnection, source: str, plans: Sequence[ColumnPlan]
) -> list[ColumnCounts]:
    """Per column, the values each of its candidates cannot convert, over the whole file (one
    failing value of each, for the warning). Each test is computed once per row, in an inner
    SELECT, and only counted outside."""
    tests: list[str] = []
    selects: list[str] = []
    layout: list[list[str]] = []
    for i, plan in enumerate(plans):
        ref = column_ref(i)
        tests.append(ref)
        tests.append(f"{_not_blank(ref)} AS p{i}")
        selects.append(f"count(*) FILTER (WHERE p{i})")
        for j, f in enumerate(plan.candidates):
            tests.append(f"p{i} AND NOT {f.reads(ref)} AS f{i}_{j}")
            selects.append(f"count(*) FILTER (WHERE f{i}_{j})")
            selects.append(f"any_value({ref}) FILTER (WHERE f{i}_{j})")
        layout.append([f.key for f in plan.candidates])
    inner = f"SELECT {', '.join(tests)} FROM {source}"
    row = con.execute(f"SELECT {', '.join(selects)} FROM ({inner})").fetchone()
    assert row is not None
    found: list[ColumnCounts] = []
    position = 0
    for keys in layout:
        values = int(row[position])
        position += 1
        failures: dict[str, int] = {}
        examples: dict[str, str] = {}
        for key in keys:
            failures[key] = int(row[position])
            if row[position + 1] is not None:
                examples[key] = str(row[position + 1])
            position += 2
        found.append(ColumnCounts(values=values, failures=failures, failing_example=examples))
    return found


def _converted(index: int, f: ValueFormat) -> str:
    ref = column_ref(index)
    if f.type == "text":
        return ref
    marker = sql_string(f"{_MISMATCH}{index}")
    return (
        f"CASE WHEN {ref} IS NULL THEN NULL ELSE coalesce({f.convert(ref)}, "
        f"CASE WHEN trim({ref}) = '' THEN NULL ELSE error({marker}) END) END"
    )


def copy_sql(source: str, plans: Sequence[ColumnPlan], target: Path) -> str:
    selects = ", ".join(
        f"CAST({_converted(i, plan.format)} AS {DUCKDB_TYPES[plan.format.type]}) "
        f"AS {quote_identifier(plan.name)}"
        for i, plan in enumerate(plans)
    )
    return f"COPY (SELECT {selects} FROM {source}) TO {sql_string(str(target))} (FORMAT parquet)"


class Mismatch(Exception):
    """A value the chosen format cannot read, in column ``index``."""

    def __init__(self, index: int) -> None:
        super().__init__(f"a value of column {index + 1} does not fit its format")
        self.index = index


def convert(
    con: duckdb.DuckDBPyConnection, source: str, plans: Sequence[ColumnPlan], target: Path
) -> int:
    """Write the Parquet file; the number of rows. Raises `Mismatch` (file removed) when a
    value does not fit its column's format; DuckDB's own errors pass through."""
    try:
        row = con.execute(copy_sql(source, plans, target)).fetchone()
    except duckdb.Error as error:
        target.unlink(missing_ok=True)
        if match := _MISMATCH_RE.search(str(error)):
            raise Mismatch(int(match.group(1))) from None
        raise
    assert row is not None
    return int(row[0])
