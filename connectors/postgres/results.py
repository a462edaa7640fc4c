"""From PostgreSQL's answer to Arrow.

Each result column is cast, in PostgreSQL, to the one type that stands for its Loupe type
(``int8``, ``float8``, ``bool``, ``date``, ``timestamp``, ``text``) when it is not that type
already, so that both ways of reading the answer see the same values:

* fetched rows (asyncpg's binary protocol) become Python values, then Arrow arrays;
* ``COPY ... TO STDOUT (FORMAT csv)`` text is parsed by pyarrow's CSV reader with the column
  types given (no inference), whole (`csv_table`) or block by block as it arrives
  (`CsvBatches`).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Final

import pyarrow as pa
import pyarrow.csv as pa_csv

from connectors.errors import InvalidQuery
from connectors.plugin import OutputColumn
from connectors.postgres.catalog import field_type
from connectors.postgres.config import quote_ident
from connectors.postgres.literals import ParamType
from domain.dataset.schema import FieldType

#: Loupe type → Arrow type of a result column. ``decimal`` is float64 as on the DuckDB side
#: (numeric sums and averages are converted by PostgreSQL, exactly rounded); ``timestamp``
#: is naive, in the session time zone (config ``timezone``, UTC by default).
ARROW_TYPES: Final[dict[FieldType, pa.DataType]] = {
    "integer": pa.int64(),
    "decimal": pa.float64(),
    "boolean": pa.bool_(),
    "date": pa.date32(),
    "timestamp": pa.timestamp("us"),
    "text": pa.string(),
}

#: Loupe type → the PostgreSQL type a result column is cast to.
PG_TYPES: Final[dict[FieldType, str]] = {
    "integer": "int8",
    "decimal": "float8",
    "boolean": "bool",
    "date": "date",
    "timestamp": "timestamp",
    "text": "text",
}

#: Bytes of CSV a stream may hold before parsing them, however few rows they are.
_MAX_PENDING_BYTES: Final = 32 * 1024 * 1024


def cast_for(source: str, target: FieldType) -> str | None:
    """The cast that makes a ``source`` column a ``target`` one (None: it is one already)."""
    want = PG_TYPES[target]
    if source == want:
        return None
    if source == "money":  # money casts to numeric only
        return f"::numeric::{want}"
    return f"::{want}"


@dataclass(frozen=True)
class ResultShape:
    """The result's columns as Loupe wants them, and the casts that get them there."""

    columns: tuple[OutputColumn, ...]
    casts: tuple[str | None, ...]

    @property
    def schema(self) -> pa.Schema:
        return pa.schema([pa.field(c.name, ARROW_TYPES[c.type]) for c in self.columns])

    def wrap(self, sql: str, *, limit: int | None = None) -> str:
        """``sql`` with the casts applied and at most ``limit`` rows (``sql`` itself when
        there is nothing to do). Positional names: the compiled SQL's own names may repeat."""
        if limit is None and not any(self.casts):
            return sql
        names = [quote_ident(f"c{number}") for number in range(1, len(self.columns) + 1)]
        selected = ", ".join(
            f"q.{name}{cast or ''}" for name, cast in zip(names, self.casts, strict=True)
        )
        body = _TRAILING_SEMICOLON.sub("", sql)
        # Only quoted positional names and casts are added around the compiled SQL.
        wrapped = f"SELECT {selected} FROM (\n{body}\n) AS q ({', '.join(names)})"  # noqa: S608
        return wrapped if limit is None else f"{wrapped} LIMIT {int(limit)}"


_TRAILING_SEMICOLON = re.compile(r"[\s;]+\Z")


@dataclass(frozen=True)
class Description:
    """What PostgreSQL says of a statement when it prepares it."""

    params: tuple[ParamType, ...]
    #: (name, type name) of each result column.
    columns: tuple[tuple[str, str], ...]

    @classmethod
    def of(cls, statement: Any) -> Description:
        """From an asyncpg ``PreparedStatement``."""
        return cls(
            params=tuple(ParamType.of(typ) for typ in statement.get_parameters()),
            columns=tuple((a.name, str(a.type.name)) for a in statement.get_attributes()),
        )


def result_shape(wanted: Sequence[OutputColumn], described: Description) -> ResultShape:
    """Match the compiled query's declared columns with what PostgreSQL says it returns. With
    no declared columns, the result's own names and types."""
    returned = described.columns
    if not wanted:
        wanted = [OutputColumn(name=name, type=field_type(typ)) for name, typ in returned]
    if len(wanted) != len(returned):
        raise InvalidQuery(
            f"the compiled SQL returns {len(returned)} columns but the query declares {len(wanted)}"
        )
    casts = tuple(
        cast_for(typ, column.type) for column, (_, typ) in zip(wanted, returned, strict=True)
    )
    return ResultShape(columns=tuple(wanted), casts=casts)


# -- fetched rows ----------------------------------------------------------------------------


def records_table(records: Sequence[Any], schema: pa.Schema) -> pa.Table:
    """asyncpg records (already of the cast types) as an Arrow table."""
    columns: list[Sequence[Any]] = (
        list(zip(*records, strict=True)) if records else [() for _ in schema]
    )
    arrays = [
        pa.array(values, type=field.type) for values, field in zip(columns, schema, strict=True)
    ]
    return pa.Table.from_arrays(arrays, schema=schema)


# -- COPY CSV --------------------------------------------------------------------------------


def csv_table(data: bytes | bytearray, schema: pa.Schema, *, use_threads: bool = True) -> pa.Table:
    """``COPY ... (FORMAT csv)`` output (whole rows) as an Arrow table of ``schema``. NULL is
    an unquoted empty field; an empty string is ``""``."""
    # Parse under positional names: result names may repeat, and any name may be a type's.
    names = [f"c{number}" for number in range(len(schema))]
    if not data:
        return schema.empty_table()
    table = pa_csv.read_csv(
        pa.py_buffer(data),
        read_options=pa_csv.ReadOptions(column_names=names, use_threads=use_threads),
        # A row of one NULL is an empty line: a row, not a blank to skip.
        parse_options=pa_csv.ParseOptions(newlines_in_values=True, ignore_empty_lines=False),
        convert_options=pa_csv.ConvertOptions(
            column_types={name: field.type for name, field in zip(names, schema, strict=True)},
            null_values=[""],
            strings_can_be_null=True,
            quoted_strings_can_be_null=False,
            true_values=["t"],
            false_values=["f"],
        ),
    )
    return pa.Table.from_arrays(table.columns, schema=schema)


def row_boundary(data: bytes | bytearray) -> int:
    """The length of the longest prefix of ``data`` made of whole CSV rows (0 if none): just
    after the last newline that is not inside a quoted field. Quotes inside a quoted field are
    doubled, so a newline is a row's end exactly when an even number of quotes precede it."""
    end = data.rfind(b"\n")
    if end < 0:
        return 0
    quotes = data.count(b'"', 0, end)
    while quotes % 2:
        previous = data.rfind(b"\n", 0, end)
        if previous < 0:
            return 0
        quotes -= data.count(b'"', previous, end)
        end = previous
    return end + 1


class CsvBatches:
    """CSV arriving in chunks → record batches of exactly ``batch_rows`` rows (the last one
    shorter), holding at most about one batch of text and one of rows.

    `add` a chunk; when whole rows for a batch have arrived it returns them as a block, which
    the caller parses (`csv_table`, in a thread) and hands back with `add_rows`; `take` gives
    the batches that are full (all of them with ``final``); `flush` returns what is left."""

    def __init__(self, schema: pa.Schema, batch_rows: int) -> None:
        if batch_rows < 1:
            raise ValueError("batch_rows must be positive")
        self._schema = schema
        self._batch_rows = batch_rows
        self._pending = bytearray()
        self._newlines = 0
        self._parsed: list[pa.Table] = []
        self._parsed_rows = 0

    def add(self, chunk: bytes) -> bytes | None:
        self._pending += chunk
        self._newlines += chunk.count(b"\n")
        if self._newlines < self._batch_rows and len(self._pending) < _MAX_PENDING_BYTES:
            return None
        cut = row_boundary(self._pending)
        if cut == 0:
            return None
        block = bytes(self._pending[:cut])
        del self._pending[:cut]
        self._newlines = self._pending.count(b"\n")
        return block

    def flush(self) -> bytes | None:
        if not self._pending:
            return None
        block = bytes(self._pending)
        self._pending.clear()
        self._newlines = 0
        return block

    def add_rows(self, table: pa.Table) -> None:
        self._parsed.append(table)
        self._parsed_rows += table.num_rows

    def take(self, *, final: bool) -> list[pa.RecordBatch]:
        size = self._batch_rows
        if not self._parsed_rows or (self._parsed_rows < size and not final):
            return []
        rows = pa.concat_tables(self._parsed)
        whole = rows.num_rows if final else rows.num_rows - rows.num_rows % size
        batches = [_one_batch(rows.slice(start, size)) for start in range(0, whole, size)]
        rest = rows.slice(whole)
        self._parsed = [rest] if rest.num_rows else []
        self._parsed_rows = rest.num_rows
        return batches


def _one_batch(table: pa.Table) -> pa.RecordBatch:
    return table.combine_chunks().to_batches()[0]
