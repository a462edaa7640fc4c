"""The data side of a Loupe process, wired: connectors, blob store, secrets, query engine and
the I/O the dataset routes do with a source before the Dataset aggregate decides.

Built once per process by ``open_data_side`` (api/bootstrap.py calls it) and closed with it.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import shutil
import tempfile
import uuid
from collections.abc import AsyncIterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import msgspec
import redis.asyncio as aioredis

from api.settings import Settings
from connectors.blobs import BlobStore, dataset_key
from connectors.csv import ingest_csv
from connectors.engine import QueryEngine
from connectors.errors import InvalidConfig, TooLarge
from connectors.plugin import Connector, ConnectorLimits, SourceColumn, TableInfo
from connectors.query_cache import QueryCache
from connectors.registry import Connectors
from connectors.secrets import SecretBox, load_or_create_key
from domain.dataset.events import SourceColumnSeen
from projections.datasets import DatasetRecord

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class ImportedCsv:
    """An uploaded CSV, stored as Parquet in the blob store, not yet part of any dataset."""

    blob: str
    rows: int
    columns: list[SourceColumnSeen]
    refresh: dict[str, Any]


def seen(columns: Sequence[SourceColumn]) -> list[SourceColumnSeen]:
    return [
        SourceColumnSeen(column=c.name, type=c.type, role=c.role, source_type=c.source_type)
        for c in columns
    ]


@dataclass
class DataSide:
    settings: Settings
    connectors: Connectors
    blobs: BlobStore
    secrets: SecretBox
    engine: QueryEngine
    work_dir: Path
    #: dataset id → (the catalogue's position when read, its row): api/routes/dataset_access.py.
    records: dict[uuid.UUID, tuple[int, DatasetRecord]] = field(default_factory=dict)
    #: Seconds a replaced blob is kept for the queries still reading it.
    retire_after: float = 60.0
    retiring: set[asyncio.Task[None]] = field(default_factory=set)

    # -- uploads ----------------------------------------------------------------------------

    def check_declared_size(self, content_length: str | None) -> None:
        """Refuse an upload whose declared size is already over the limit, before reading it."""
        limit = self.settings.upload_max_bytes
        if content_length and content_length.isdigit() and int(content_length) > limit + 65_536:
            raise TooLarge(
                f"the upload is {int(content_length):,} bytes; the limit is {limit:,} bytes "
                "(LOUPE_UPLOAD_MAX_BYTES)"
            )

    async def import_csv(self, dataset_id: uuid.UUID, chunks: AsyncIterator[bytes]) -> ImportedCsv:
        """Read the CSV, convert it to Parquet and store it under a new blob key of the dataset.
        On any error nothing is left behind (no temporary file, no blob)."""
        scratch = Path(tempfile.mkdtemp(prefix="upload-", dir=self.work_dir))
        try:
            ingested = await ingest_csv(
                chunks, work_dir=scratch, max_bytes=self.settings.upload_max_bytes
            )
            key = dataset_key(dataset_id, ingested.sha256)
            await self.blobs.put_file(key, ingested.parquet_path, remove_source=True)
        finally:
            shutil.rmtree(scratch, ignore_errors=True)
        return ImportedCsv(
            blob=key,
            rows=ingested.rows,
            columns=seen(ingested.columns),
            refresh={
                "blob": key,
                "rows": ingested.rows,
                "size_bytes": ingested.size_bytes,
                "sha256": ingested.sha256,
                "details": ingested.details(),
            },
        )

    async def forget_blob(self, key: str) -> None:
        with contextlib.suppress(Exception):
            await self.blobs.delete(key)

    def retire_blob(self, key: str | None) -> None:
        """Delete data no longer the dataset's (after a re-upload or a delete), once queries
        that started on it have had ``retire_after`` seconds to finish. Best effort: a blob
        whose process stopped first stays behind (it is never read again)."""
        if key is None:
            return

        async def later() -> None:
            await asyncio.sleep(self.retire_after)
            await self.forget_blob(key)

        task = asyncio.create_task(later())
        self.retiring.add(task)
        task.add_done_callback(self.retiring.discard)

    # -- live sources -----------------------------------------------------------------------

    def _config(self, name: str, config: Mapping[str, Any]) -> tuple[Connector, Any]:
        connector = self.connectors.get(name)
        try:
            typed = msgspec.convert(dict(config), connector.config_type)
        except msgspec.ValidationError as exc:
            raise InvalidConfig(
                f"the {connector.title} configuration is not valid: {exc}"
            ) from None
        return connector, typed

    async def describe_source(
        self, name: str, config: Mapping[str, Any], table: str
    ) -> tuple[dict[str, Any], list[SourceColumnSeen], int | None]:
        """(the config with its secrets sealed, the table's columns, its estimated rows)."""
        connector, typed = self._config(name, config)
        await connector.test(typed)
        columns, rows = await _columns_and_rows(connector, typed, table)
        sealed = self.secrets.seal(connector.config_type, msgspec.to_builtins(typed))
        return sealed, columns, rows

    async def reread_source(
        self, name: str, sealed: Mapping[str, Any], table: str | None
    ) -> tuple[list[SourceColumnSeen], int | None]:
        connector = self.connectors.get(name)
        opened = self.secrets.open(connector.config_type, dict(sealed))
        _, typed = self._config(name, opened)
        return await _columns_and_rows(connector, typed, table or "")

    async def test_source(self, name: str, config: Mapping[str, Any]) -> None:
        connector, typed = self._config(name, config)
        await connector.test(typed)

    async def tables_of(self, name: str, config: Mapping[str, Any]) -> list[TableInfo]:
        connector, typed = self._config(name, config)
        return await connector.list_tables(typed)

    def redacted(self, name: str, sealed: Mapping[str, Any]) -> dict[str, Any]:
        connector = self.connectors.installed.get(name)
        if connector is None:
            return {}
        return self.secrets.redact(connector.config_type, dict(sealed))


async def _columns_and_rows(
    connector: Connector, config: Any, table: str
) -> tuple[list[SourceColumnSeen], int | None]:
    """``table``'s columns and the source's estimate of its rows (None if it has none)."""
    columns = await connector.infer_schema(config, table)
    info = next((t for t in await connector.list_tables(config) if t.name == table), None)
    return seen(columns), info.rows_estimate if info else None


@contextlib.asynccontextmanager
async def open_data_side(settings: Settings, redis: aioredis.Redis) -> AsyncIterator[DataSide]:
    data_dir = settings.data_dir
    data_dir.mkdir(parents=True, exist_ok=True)
    work_dir = data_dir / "uploads"
    work_dir.mkdir(parents=True, exist_ok=True)
    blobs = BlobStore.from_url(settings.blob_url, data_dir)
    secrets = (
        SecretBox.from_setting(settings.secret_key)
        if settings.secret_key
        else SecretBox.from_setting(load_or_create_key(data_dir))
    )
    limits = ConnectorLimits(query_timeout=settings.query_timeout)
    connectors = Connectors.discover(data_dir, limits=limits, services={"blobs": blobs})
    engine = QueryEngine(
        connectors,
        secrets.open,
        QueryCache(redis, settings.redis_prefix),
        timeout=settings.query_timeout,
    )
    side = DataSide(settings, connectors, blobs, secrets, engine, work_dir)
    try:
        yield side
    finally:
        for task in side.retiring:
            task.cancel()
        await connectors.close()
