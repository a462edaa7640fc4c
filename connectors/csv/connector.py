"""The ``csv`` connector: an uploaded file, stored as Parquet in the blob store, queried by
DuckDB (connectors/csv/runner.py). The upload itself is `ingest_csv`'s business; a dataset's
config names only the Parquet blob."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any, ClassVar, Final

import msgspec
import pyarrow as pa
import pyarrow.parquet as pq

from connectors.blobs import BlobStore, InvalidBlobKey, check_key, open_blob_store
from connectors.csv.formats import sql_string
from connectors.csv.roles import role_for
from connectors.csv.runner import DuckDBRunner
from connectors.errors import InvalidConfig, SourceUnavailable
from connectors.plugin import (
    CompiledQuery,
    ConnectorContext,
    SourceColumn,
    TableInfo,
)
from domain.dataset.schema import FieldType

#: The one table of a CSV source.
TABLE: Final = "file"


class CsvSource(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    #: The Parquet file's key in the blob store (`connectors.blobs.dataset_key`).
    blob: str


class CsvConnector:
    name: ClassVar[str] = "csv"
    title: ClassVar[str] = "CSV file"
    dialect: ClassVar[str] = "duckdb"
    config_type: ClassVar[type[msgspec.Struct]] = CsvSource

    def __init__(self, context: ConnectorContext) -> None:
        blobs = context.services.get("blobs")
        self._blobs: BlobStore = blobs if blobs is not None else open_blob_store(context.data_dir)
        self._limits = context.limits
        self._runner = DuckDBRunner(
            readable=[self._blobs.local_directory],
            temp_dir=context.data_dir / "duckdb-tmp",
            slots=context.limits.concurrent_queries,
            queue_timeout=context.limits.queue_timeout,
        )

    async def test(self, config: CsvSource) -> None:
        _check(config)
        if not await self._blobs.exists(config.blob):
            raise SourceUnavailable(f"the dataset's file {config.blob!r} is not in the blob store")

    async def list_tables(self, config: CsvSource) -> list[TableInfo]:
        path = await self._local(config)
        metadata = await asyncio.to_thread(pq.read_metadata, path)
        return [TableInfo(name=TABLE, rows_estimate=metadata.num_rows, kind="file")]

    async def infer_schema(self, config: CsvSource, table: str) -> list[SourceColumn]:
        path = await self._local(config)
        _check_table(config, table)
        schema = await asyncio.to_thread(pq.read_schema, path)
        columns: list[SourceColumn] = []
        for item in schema:
            field_type = loupe_type(item.type)
            columns.append(
                SourceColumn(
                    name=item.name,
                    type=field_type,
                    role=role_for(item.name, field_type),
                    source_type=str(item.type),
                    nullable=item.nullable,
                )
            )
        return columns

    def relation(self, config: CsvSource, table: str) -> str:
        _check(config)
        _check_table(config, table)
        return f"read_parquet({sql_string(str(self._blobs.cache_path(config.blob)))})"

    async def run(self, config: CsvSource, query: CompiledQuery, *, timeout: float) -> pa.Table:
        await self._local(config)
        return await self._runner.run(query.sql, query.params, timeout=timeout)

    async def fetch_rows(
        self, config: CsvSource, query: CompiledQuery, *, timeout: float
    ) -> list[tuple[Any, ...]]:
        await self._local(config)
        return await self._runner.rows(query.sql, query.params, timeout=timeout)

    async def stream(
        self, config: CsvSource, query: CompiledQuery, *, timeout: float, batch_rows: int = 65_536
    ) -> AsyncIterator[pa.RecordBatch]:
        await self._local(config)
        async for batch in self._runner.stream(
            query.sql, query.params, timeout=timeout, batch_rows=batch_rows
        ):
            yield batch

    async def close(self) -> None:
        await self._runner.close()

    async def _local(self, config: Any) -> Any:
        _check(config)
        try:
            return await self._blobs.local_path(config.blob)
        except FileNotFoundError:
            raise SourceUnavailable(
                f"the dataset's file {config.blob!r} is not in the blob store"
            ) from None


def loupe_type(arrow_type: pa.DataType) -> FieldType:
    """The Loupe type of a Parquet column as Arrow reads it."""
    if pa.types.is_boolean(arrow_type):
        return "boolean"
    if pa.types.is_integer(arrow_type):
        return "integer"
    if pa.types.is_floating(arrow_type) or pa.types.is_decimal(arrow_type):
        return "decimal"
    if pa.types.is_date(arrow_type):
        return "date"
    if pa.types.is_timestamp(arrow_type):
        return "timestamp"
    return "text"


def _check(config: Any) -> None:
    if not isinstance(config, CsvSource):
        raise InvalidConfig("a CSV source is configured as {'blob': '<key>'}")
    try:
        check_key(config.blob)
    except InvalidBlobKey as error:
        raise InvalidConfig(str(error)) from None


def _check_table(config: CsvSource, table: str) -> None:
    """A CSV source has one table, ``file``; its blob key and "" name it too (the only table is
    never ambiguous, and the dataset API passes the blob key)."""
    if table not in {TABLE, config.blob, ""}:
        raise InvalidConfig(f"a CSV source has one table, {TABLE!r}, not {table!r}")
