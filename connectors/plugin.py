"""The connector plugin interface.

A connector is found through the ``loupe.connectors`` entry-point group: the entry point names a
factory (usually the class) called with a `ConnectorContext`, returning an object with the
`Connector` protocol. Loupe's own connectors (``csv``, ``postgres``) are registered the same way
in pyproject.toml, so a third-party package is a first-class citizen: it declares

    [project.entry-points."loupe.connectors"]
    mysql = "loupe_mysql:MySQLConnector"

and Loupe picks it up on start (docs/connectors.md shows a complete one).

What a connector does, and what it leaves to Loupe:

- It describes its configuration as a msgspec Struct (``config_type``); Loupe validates the
  JSON it receives against it and stores it in the dataset's events with every field marked
  secret (`SECRET`) encrypted (connectors/secrets.py). The connector gets the decrypted config.
- It tests a connection, lists tables, infers a table's schema, and runs a `CompiledQuery`
  (SQL in its ``dialect``, values bound as ``$1..$n``) returning Arrow, or streams it in
  record batches. Loupe compiles the SQL (connectors/query): a connector never sees a spec.
- It keeps its own pools, and closes them in ``close``. Loupe applies the limits
  (`ConnectorLimits`: concurrent queries, timeout, rows) around every call.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, ClassVar, Protocol, runtime_checkable

import msgspec

from domain.dataset.schema import FieldRole, FieldType

if TYPE_CHECKING:
    import pyarrow as pa

ENTRY_POINT_GROUP = "loupe.connectors"

#: Marks a config field whose value is a secret: ``password: Secret``. Stored encrypted, never
#: returned by the API (shown as ``"***"``), marked ``writeOnly`` in the JSON schema.
SECRET_MARK = "secret"  # noqa: S105 - the name of a mark, not a password
Secret = Annotated[
    str, msgspec.Meta(extra={SECRET_MARK: True}, extra_json_schema={"writeOnly": True})
]


class ConnectorLimits(msgspec.Struct, frozen=True, kw_only=True):
    """What Loupe allows one connector, per process."""

    #: Queries running at once against the source; more wait (up to ``queue_timeout``).
    concurrent_queries: int = 8
    queue_timeout: float = 10.0
    #: A query (or a test/introspection call) running longer is cancelled at the source.
    query_timeout: float = 60.0
    #: Rows a query may return in one answer (a preview pages through more).
    max_result_rows: int = 1_000_000


class TableInfo(msgspec.Struct, frozen=True, kw_only=True):
    #: How the table is named in the dataset config (``schema.table`` for PostgreSQL).
    name: str
    #: The source's estimate, when it has one cheaply (pg_class.reltuples).
    rows_estimate: int | None = None
    kind: str = "table"  # "table" | "view" | "file"


class SourceColumn(msgspec.Struct, frozen=True, kw_only=True):
    """A column of the source with the Loupe type and role inferred for it."""

    name: str
    type: FieldType
    role: FieldRole
    #: The source's own type name ("numeric(12,2)", "VARCHAR"), for people.
    source_type: str
    nullable: bool = True


class OutputColumn(msgspec.Struct, frozen=True, kw_only=True):
    name: str
    type: FieldType


class CompiledQuery(msgspec.Struct, frozen=True, kw_only=True):
    """SQL for one connector's dialect, its bound values, and what each result column is."""

    sql: str
    #: Values for ``$1..$n``, in order: int, float, Decimal, str, bool, date, datetime, None.
    params: tuple[Any, ...] = ()
    columns: tuple[OutputColumn, ...] = ()
    dialect: str = "duckdb"


@dataclass(frozen=True)
class ConnectorContext:
    """What Loupe hands a connector factory."""

    #: Where the connector may keep files (caches, temporary files): its own folder.
    data_dir: Path
    limits: ConnectorLimits = field(default_factory=ConnectorLimits)
    #: Anything else a built-in connector needs (the blob store for csv), by name.
    services: dict[str, Any] = field(default_factory=dict)


@runtime_checkable
class Connector(Protocol):
    #: The entry-point name, stored in dataset events ("csv", "postgres").
    name: ClassVar[str]
    #: For people ("PostgreSQL").
    title: ClassVar[str]
    #: The sqlglot dialect the query compiler writes for this connector ("duckdb", "postgres").
    dialect: ClassVar[str]
    #: The validated configuration (a msgspec Struct; secret fields annotated `Secret`).
    config_type: ClassVar[type[msgspec.Struct]]

    async def test(self, config: Any) -> None:
        """Raise `SourceUnavailable` (or `InvalidConfig`) with a clear detail unless the source
        answers with this config."""
        ...

    async def list_tables(self, config: Any) -> list[TableInfo]: ...

    async def infer_schema(self, config: Any, table: str) -> list[SourceColumn]:
        """The columns of ``table`` with Loupe types and roles (`InvalidConfig` if unknown)."""
        ...

    def relation(self, config: Any, table: str) -> str:
        """SQL (in ``dialect``) naming the rows of ``table`` in a FROM clause, every identifier
        quoted: ``"sales"."orders"`` or ``read_parquet('/var/blobs/….parquet')``. Never built
        from anything but the stored, validated config and table."""
        ...

    async def run(self, config: Any, query: CompiledQuery, *, timeout: float) -> pa.Table:
        """The whole answer as one Arrow table, columns named as ``query.columns``."""
        ...

    def stream(
        self, config: Any, query: CompiledQuery, *, timeout: float, batch_rows: int = 65_536
    ) -> AsyncIterator[pa.RecordBatch]:
        """The answer in record batches (never the whole result in memory at once)."""
        ...

    async def close(self) -> None:
        """Release pools and connections."""
        ...


@runtime_checkable
class RowsConnector(Protocol):
    """Optional: a connector that can also answer with plain Python rows. Loupe asks for rows
    when the answer goes out as JSON (a chart's few hundred rows): no Arrow table to build
    and take apart again, which is most of the cost of a small answer."""

    async def fetch_rows(
        self, config: Any, query: CompiledQuery, *, timeout: float
    ) -> list[tuple[Any, ...]]:
        """The whole answer as rows (values: int, float, str, bool, date, datetime, None)."""
        ...


def secret_fields(config_type: type[msgspec.Struct]) -> frozenset[str]:
    """The names of ``config_type``'s fields annotated `Secret`."""
    info = msgspec.inspect.type_info(config_type)
    assert isinstance(info, msgspec.inspect.StructType)
    return frozenset(item.name for item in info.fields if _is_secret(item.type))


def _is_secret(typ: msgspec.inspect.Type) -> bool:
    if isinstance(typ, msgspec.inspect.Metadata):
        return bool((typ.extra or {}).get(SECRET_MARK))
    if isinstance(typ, msgspec.inspect.UnionType):  # Secret | None
        return any(_is_secret(option) for option in typ.types)
    return False
