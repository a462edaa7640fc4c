"""The dataset catalogue: each dataset with its fields, calculated columns and measures
(`GET /datasets/{id}`, `GET /workspaces/{ws}/datasets`), and what the query path needs to
answer a query (connector, sealed config, table or blob, data version).

The row keeps the dataset's whole state (``snapshot``), so folding an event needs nothing but
the row before it: no read of the event log, and a rebuild is one pass.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Sequence
from datetime import datetime
from typing import TYPE_CHECKING, Any
from uuid import UUID

import asyncpg
import msgspec

from commands.eventstore import RecordedEvent
from domain.dataset.aggregate import Dataset, DatasetSnapshot, restore, snapshot_of
from domain.dataset.events import EVENT_TYPES
from domain.dataset.events import decode as decode_dataset_event
from projections.projection import Tables, tables_for

if TYPE_CHECKING:
    from projections.projection import Connection

DATASETS = "rm_datasets"

_encode = msgspec.json.Encoder().encode
_decode_snapshot = msgspec.json.Decoder(DatasetSnapshot).decode


class DatasetRecord(msgspec.Struct, frozen=True, kw_only=True):
    """A dataset as the read model has it."""

    snapshot: DatasetSnapshot
    position: int
    created_by: UUID | None
    created_at: datetime
    updated_by: UUID | None
    updated_at: datetime


class DatasetCatalogue:
    name = "datasets"
    #: 2: fields, calculated columns and measures keep their former names.
    version = 2
    event_types: frozenset[str] = frozenset(EVENT_TYPES)
    tables: tuple[str, ...] = (DATASETS,)

    def __init__(self, cache_size: int = 256) -> None:
        self.cache_size = cache_size
        self._cache: OrderedDict[UUID, Dataset] = OrderedDict()

    def ddl(self, t: Tables) -> list[str]:
        return [
            f"""CREATE TABLE {t[DATASETS]} (
                    id            uuid PRIMARY KEY,
                    workspace_id  uuid NOT NULL,
                    name          text NOT NULL,
                    connector     text NOT NULL,
                    rows          bigint,
                    deleted       boolean NOT NULL,
                    data_version  bigint NOT NULL,
                    version       bigint NOT NULL,
                    position      bigint NOT NULL,
                    created_by    uuid,
                    created_at    timestamptz NOT NULL,
                    updated_by    uuid,
                    updated_at    timestamptz NOT NULL,
                    snapshot      json NOT NULL
                )""",
            f"CREATE INDEX ON {t[DATASETS]} (workspace_id, lower(name))",
        ]

    def reset(self) -> None:
        self._cache.clear()

    def bulk(self, enabled: bool) -> None:  # noqa: FBT001
        """Every batch writes its rows; nothing to defer."""

    async def flush(self, conn: Connection, tables: Tables) -> None:
        """Nothing deferred."""

    async def apply(self, conn: Connection, events: Sequence[RecordedEvent], t: Tables) -> None:
        # The datasets this batch changed: their rows are written at its end, so they are
        # found here (not in the bounded cache, nor in their not-yet-updated rows).
        touched: dict[UUID, tuple[Dataset, RecordedEvent]] = {}
        for event in events:
            held = touched.get(event.stream_id)
            dataset = held[0] if held else await self._before(conn, t, event)
            dataset.apply(decode_dataset_event(event.data), event.version)
            touched[event.stream_id] = (dataset, event)
            if event.version == 1:
                await conn.execute(
                    f"""INSERT INTO {t[DATASETS]} (id, workspace_id, name, connector, rows,
                            deleted, data_version, version, position, created_by, created_at,
                            updated_by, updated_at, snapshot)
                        VALUES ($1, $2, $3, $4, NULL, false, 0, 0, $5, $6, $7, $6, $7, '{{}}')
                        ON CONFLICT (id) DO NOTHING""",  # noqa: S608
                    event.stream_id,
                    dataset.workspace_id,
                    dataset.name,
                    dataset.connector,
                    event.position,
                    event.actor,
                    event.recorded_at,
                )
        for stream_id, (dataset, event) in touched.items():
            await conn.execute(
                f"""UPDATE {t[DATASETS]} SET name = $2, rows = $3, deleted = $4,
                        data_version = $5, version = $6, position = $7, updated_by = $8,
                        updated_at = $9, snapshot = $10::json
                    WHERE id = $1""",  # noqa: S608
                stream_id,
                dataset.name,
                dataset.rows,
                dataset.deleted,
                dataset.data_version,
                dataset.version,
                event.position,
                event.actor,
                event.recorded_at,
                _encode(snapshot_of(dataset)).decode(),
            )

    async def _before(self, conn: Connection, t: Tables, event: RecordedEvent) -> Dataset:
        """The dataset just before ``event`` (from memory, else from its row)."""
        cache = self._cache
        dataset = cache.get(event.stream_id)
        if dataset is None or dataset.version != event.version - 1:
            dataset = Dataset(event.stream_id)
            if event.version > 1:
                text = await conn.fetchval(
                    f"SELECT snapshot FROM {t[DATASETS]} WHERE id = $1",  # noqa: S608
                    event.stream_id,
                )
                if text is not None and text != "{}":
                    dataset = restore(_decode_snapshot(text))
                if dataset.version != event.version - 1:
                    raise RuntimeError(
                        f"datasets: event {event.position} is version {event.version} of "
                        f"dataset {event.stream_id}, whose row is at version {dataset.version}"
                    )
            cache[event.stream_id] = dataset
            while len(cache) > self.cache_size:
                cache.popitem(last=False)
        else:
            cache.move_to_end(event.stream_id)
        return dataset


_COLUMNS = "snapshot, position, created_by, created_at, updated_by, updated_at"


def _record(row: Any) -> DatasetRecord:
    return DatasetRecord(
        snapshot=_decode_snapshot(row["snapshot"]),
        position=row["position"],
        created_by=row["created_by"],
        created_at=row["created_at"],
        updated_by=row["updated_by"],
        updated_at=row["updated_at"],
    )


async def dataset_record(
    pool: asyncpg.Pool, read_schema: str, dataset_id: UUID
) -> DatasetRecord | None:
    """The dataset (None if it never existed or was deleted)."""
    t = tables_for(read_schema, DatasetCatalogue.tables)
    row = await pool.fetchrow(
        f"SELECT {_COLUMNS} FROM {t[DATASETS]} WHERE id = $1 AND NOT deleted",  # noqa: S608
        dataset_id,
    )
    return None if row is None else _record(row)


async def datasets_of(
    pool: asyncpg.Pool, read_schema: str, workspace_id: UUID
) -> list[DatasetRecord]:
    t = tables_for(read_schema, DatasetCatalogue.tables)
    rows = await pool.fetch(
        f"""SELECT {_COLUMNS} FROM {t[DATASETS]}
            WHERE workspace_id = $1 AND NOT deleted
            ORDER BY lower(name), id""",  # noqa: S608
        workspace_id,
    )
    return [_record(row) for row in rows]
