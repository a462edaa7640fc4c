"""Importing an uploaded CSV file: bytes in, a typed Parquet file out (docs/csv.md).

1. `receive_upload`: stream to a UTF-8 file, counting (`TooLarge`), hashing, refusing binary
   files, checking or converting the encoding.
2. `detect_dialect` on the first 64 KiB: delimiter, quote, header; `clean_names`.
3. DuckDB counts, over the first `SAMPLE_ROWS` rows, which formats read each column
   (`plan_from_sample`), then converts the whole file to Parquet in one COPY. A value the
   sample's choice cannot read stops the COPY; DuckDB then counts over the whole file
   (`plan_from_whole_file`) and converts again — so the types always hold for every row.
4. A malformed file (ragged rows, an unterminated quote) fails whole with the line (`diagnose`).

Nothing is left behind on failure: the upload, DuckDB's spill files and a partial Parquet file
are removed. On success only the Parquet file remains; the caller moves it to the blob store.
"""

from __future__ import annotations

import asyncio
import contextlib
import secrets
import shutil
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final

import duckdb

from connectors.csv.diagnose import diagnose
from connectors.csv.dialect import Dialect, detect_dialect, sample_rows
from connectors.csv.formats import DUCKDB_TYPES, TEXT
from connectors.csv.inference import (
    SAMPLE_ROWS,
    ColumnPlan,
    Plan,
    plan_from_sample,
    plan_from_whole_file,
    possible_formats,
)
from connectors.csv.names import clean_names
from connectors.csv.options import CsvOptions
from connectors.csv.roles import role_for
from connectors.csv.scan import (
    Mismatch,
    connect,
    convert,
    count_sample,
    count_whole_file,
    read_csv_sql,
)
from connectors.csv.upload import Upload, receive_upload
from connectors.plugin import SourceColumn

#: The largest upload accepted.
MAX_UPLOAD_BYTES: Final = 1 << 30
#: The beginning of the file the dialect is detected on.
DIALECT_SAMPLE_BYTES: Final = 64 * 1024
#: Conversions after the first (each one makes a column text that still does not fit).
_MAX_RETRIES: Final = 3


@dataclass(frozen=True)
class IngestedCsv:
    """An imported upload: the Parquet file and what was found on the way."""

    #: The Parquet file, in ``work_dir``: the caller stores it (`BlobStore.put_file`).
    parquet_path: Path
    parquet_size: int
    rows: int
    columns: tuple[SourceColumn, ...]
    #: The upload as sent: its size in bytes and SHA-256 (hex).
    byte_size: int
    sha256: str
    #: "utf-8", "utf-8-sig" (with a byte-order mark), "utf-16-le", "utf-16-be", "cp1252", ...
    encoding: str
    delimiter: str
    quote: str
    header: bool
    #: "." or "," — how numbers were read.
    decimal_separator: str
    #: For people: columns kept as text and why, guesses that could be wrong.
    warnings: tuple[str, ...]

    @property
    def size_bytes(self) -> int:
        """The upload's size (an alias of ``byte_size``)."""
        return self.byte_size

    def details(self) -> dict[str, Any]:
        """What was detected, as JSON-ready data (for the dataset's refresh event)."""
        return {
            "encoding": self.encoding,
            "delimiter": self.delimiter,
            "quote": self.quote,
            "header": self.header,
            "decimal_separator": self.decimal_separator,
            "parquet_bytes": self.parquet_size,
            "warnings": list(self.warnings),
        }


async def ingest_csv(
    chunks: AsyncIterator[bytes],
    *,
    work_dir: Path,
    max_bytes: int = MAX_UPLOAD_BYTES,
    options: CsvOptions | None = None,
) -> IngestedCsv:
    """Import the CSV file arriving as ``chunks`` (see the module docstring). Raises
    `InvalidData` (with ``line``/``column`` where the fault is in the file) or `TooLarge`."""
    await asyncio.to_thread(work_dir.mkdir, parents=True, exist_ok=True)
    upload = await receive_upload(
        chunks,
        work_dir=work_dir,
        max_bytes=max_bytes,
        encoding=options.encoding if options else None,
    )
    try:
        job = _Conversion(upload, work_dir, options or CsvOptions())
        future = asyncio.get_running_loop().run_in_executor(None, job.run)
        try:
            return await asyncio.shield(future)
        except asyncio.CancelledError:
            job.interrupt()
            with contextlib.suppress(BaseException):
                done = await future
                done.parquet_path.unlink(missing_ok=True)
            raise
    finally:
        upload.path.unlink(missing_ok=True)


class _Conversion:
    """Steps 2 to 4, in a worker thread."""

    def __init__(self, upload: Upload, work_dir: Path, options: CsvOptions) -> None:
        token = secrets.token_hex(8)
        self.upload = upload
        self.options = options
        self.target = work_dir / f"dataset-{token}.parquet"
        self.spill_dir = work_dir / f"duckdb-{token}"
        self.con: duckdb.DuckDBPyConnection | None = None

    def interrupt(self) -> None:
        if self.con is not None:
            self.con.interrupt()

    def run(self) -> IngestedCsv:
        path = self.upload.path
        sample, complete = _read_sample(path)
        dialect = detect_dialect(sample, complete=complete, options=self.options)
        names = clean_names(dialect.first_row if dialect.header else None, dialect.columns)
        self.con = con = connect(self.spill_dir)
        source = read_csv_sql(path, dialect)
        try:
            try:
                plan, rows = self._convert(con, source, names, dialect, sample)
            except duckdb.Error as error:
                raise diagnose(con, path, dialect, names, error) from None
            return self._result(plan, rows, dialect)
        except BaseException:
            self.target.unlink(missing_ok=True)
            raise
        finally:
            con.close()
            shutil.rmtree(self.spill_dir, ignore_errors=True)

    def _convert(
        self,
        con: duckdb.DuckDBPyConnection,
        source: str,
        names: list[str],
        dialect: Dialect,
        sample: str,
    ) -> tuple[Plan, int]:
        formats = [possible_formats(values) for values in _sample_columns(sample, dialect)]
        sampled, counts = count_sample(con, source, formats)
        plan = plan_from_sample(
            names,
            counts,
            complete=sampled < SAMPLE_ROWS,
            delimiter=dialect.delimiter,
            options=self.options,
        )
        if plan.needs_whole_file:
            plan = plan_from_whole_file(plan, count_whole_file(con, source, plan.columns))
        for attempt in range(_MAX_RETRIES + 1):
            try:
                return plan, convert(con, source, plan.columns, self.target)
            except Mismatch as mismatch:
                if attempt == 0:
                    counts = count_whole_file(con, source, plan.columns)
                    plan = plan_from_whole_file(plan, counts)
                else:  # the formats' tests and conversions disagree: keep the column as text
                    plan = _as_text(plan, mismatch.index)
        raise AssertionError("unreachable: the last attempt converts every column as text")

    def _result(self, plan: Plan, rows: int, dialect: Dialect) -> IngestedCsv:
        columns = tuple(
            SourceColumn(
                name=column.name,
                type=column.format.type,
                role=role_for(column.name, column.format.type),
                source_type=DUCKDB_TYPES[column.format.type],
            )
            for column in plan.columns
        )
        return IngestedCsv(
            parquet_path=self.target,
            parquet_size=self.target.stat().st_size,
            rows=rows,
            columns=columns,
            byte_size=self.upload.byte_size,
            sha256=self.upload.sha256,
            encoding=self.upload.encoding,
            delimiter=dialect.delimiter,
            quote=dialect.quote,
            header=dialect.header,
            decimal_separator="," if plan.locale == "comma" else ".",
            warnings=plan.warnings,
        )


def _as_text(plan: Plan, index: int) -> Plan:
    columns = list(plan.columns)
    name = columns[index].name
    columns[index] = ColumnPlan(name, (TEXT,))
    warning = f"column {name!r} kept as text: some values do not fit one type"
    return Plan(tuple(columns), plan.locale, plan.day_first, (*plan.warnings, warning))


def _read_sample(path: Path) -> tuple[str, bool]:
    with path.open("rb") as file:
        data = file.read(DIALECT_SAMPLE_BYTES + 1)
    complete = len(data) <= DIALECT_SAMPLE_BYTES
    return data[:DIALECT_SAMPLE_BYTES].decode("utf-8", errors="ignore"), complete


def _sample_columns(sample: str, dialect: Dialect) -> list[list[str]]:
    """The values of each column in the dialect sample's data rows."""
    rows = sample_rows(sample, dialect)
    return [[row[i] for row in rows if i < len(row)] for i in range(dialect.columns)]
