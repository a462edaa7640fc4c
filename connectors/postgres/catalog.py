"""What the source holds: its readable tables and views, a table's columns with Loupe types
and roles, and how a table's name in a dataset config becomes quoted SQL."""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any, Final

from connectors.errors import InvalidConfig
from connectors.plugin import SourceColumn, TableInfo
from connectors.postgres.config import quote_ident
from domain.dataset.schema import FieldRole, FieldType

#: PostgreSQL's type (the base type, for a domain) → Loupe's. Anything else is text.
PG_FIELD_TYPES: Final[dict[str, FieldType]] = {
    "int2": "integer",
    "int4": "integer",
    "int8": "integer",
    "numeric": "decimal",
    "float4": "decimal",
    "float8": "decimal",
    "money": "decimal",
    "bool": "boolean",
    "date": "date",
    "timestamp": "timestamp",
    "timestamptz": "timestamp",
}

_KINDS: Final = {"r": "table", "p": "table", "f": "table", "v": "view", "m": "view"}

LIST_TABLES_SQL: Final = """
SELECT n.nspname AS schema, c.relname AS name, c.relkind::text AS kind, c.reltuples AS estimate
FROM pg_catalog.pg_class c
JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
WHERE c.relkind IN ('r', 'p', 'v', 'm', 'f')
  AND NOT c.relispartition
  AND n.nspname NOT IN ('pg_catalog', 'information_schema')
  AND n.nspname NOT LIKE 'pg\\_toast%'
  AND n.nspname NOT LIKE 'pg\\_temp\\_%'
  AND pg_catalog.has_schema_privilege(n.oid, 'USAGE')
  AND pg_catalog.has_table_privilege(c.oid, 'SELECT')
ORDER BY 1, 2
"""

#: The relation named ``schema.table`` ($1, $2), or, with no schema ($1 NULL), the one of that
#: name the search path finds.
FIND_TABLE_SQL: Final = """
SELECT c.oid, n.nspname AS schema, c.relname AS name,
       pg_catalog.has_schema_privilege(n.oid, 'USAGE')
       AND pg_catalog.has_table_privilege(c.oid, 'SELECT') AS readable
FROM pg_catalog.pg_class c
JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
WHERE c.relkind IN ('r', 'p', 'v', 'm', 'f')
  AND c.relname = $2
  AND (n.nspname = $1 OR ($1 IS NULL AND pg_catalog.pg_table_is_visible(c.oid)))
"""

COLUMNS_SQL: Final = """
SELECT a.attname AS name,
       pg_catalog.format_type(a.atttypid, a.atttypmod) AS source_type,
       CASE WHEN t.typtype = 'd' THEN bt.typname ELSE t.typname END AS base_type,
       NOT a.attnotnull AS nullable,
       EXISTS (
           SELECT 1 FROM pg_catalog.pg_constraint k
           WHERE k.conrelid = a.attrelid AND k.contype IN ('p', 'f')
             AND a.attnum = ANY (k.conkey)
       ) AS is_key
FROM pg_catalog.pg_attribute a
JOIN pg_catalog.pg_type t ON t.oid = a.atttypid
LEFT JOIN pg_catalog.pg_type bt ON bt.oid = t.typbasetype
WHERE a.attrelid = $1 AND a.attnum > 0 AND NOT a.attisdropped
ORDER BY a.attnum
"""

_PLAIN_PART = re.compile(r'^[^."]+$')


def table_name(schema: str, name: str) -> str:
    """How a table is named in a dataset config: ``schema.table`` as the catalog spells them
    (case kept), or each part double-quoted when one holds a dot or a double quote."""
    if _PLAIN_PART.match(schema) and _PLAIN_PART.match(name):
        return f"{schema}.{name}"
    return f"{quote_ident(schema)}.{quote_ident(name)}"


def split_table_name(table: str) -> tuple[str | None, str]:
    """``table_name``'s inverse: (schema or None, table). `InvalidConfig` if malformed."""
    parts = _split_quoted(table) if table.startswith('"') else table.split(".")
    if parts is None or not 1 <= len(parts) <= 2 or not all(parts):  # noqa: PLR2004
        raise InvalidConfig(
            f"table {table!r} is not a table name ('schema.table', or each part "
            'double-quoted: \'"my.schema"."table"\')'
        )
    if any("\x00" in part for part in parts):
        raise InvalidConfig("a table name contains a NUL character")
    return (None, parts[0]) if len(parts) == 1 else (parts[0], parts[1])


def relation_sql(table: str) -> str:
    """``"schema"."table"``, every identifier quoted (``"table"`` alone when the name has no
    schema: the config's search path finds it)."""
    schema, name = split_table_name(table)
    if schema is None:
        return quote_ident(name)
    return f"{quote_ident(schema)}.{quote_ident(name)}"


def _split_quoted(text: str) -> list[str] | None:
    parts: list[str] = []
    position = 0
    while True:
        if not text.startswith('"', position):
            return None
        end = position + 1
        while True:
            end = text.find('"', end)
            if end < 0:
                return None
            if text.startswith('""', end):
                end += 2
                continue
            break
        parts.append(text[position + 1 : end].replace('""', '"'))
        position = end + 1
        if position == len(text):
            return parts
        if text[position] != ".":
            return None
        position += 1


def tables_from_rows(rows: Sequence[Any]) -> list[TableInfo]:
    return [
        TableInfo(
            name=table_name(row["schema"], row["name"]),
            # Views have no statistics; -1 is "never analyzed" (PostgreSQL 14+).
            rows_estimate=(
                int(row["estimate"]) if row["kind"] != "v" and row["estimate"] >= 0 else None
            ),
            kind=_KINDS.get(row["kind"], "table"),
        )
        for row in rows
    ]


def field_type(pg_type: str) -> FieldType:
    return PG_FIELD_TYPES.get(pg_type, "text")


def field_role(name: str, typ: FieldType, *, is_key: bool) -> FieldRole:
    """Numbers are measures, unless they identify something (a key, ``id``, ``*_id``)."""
    if typ not in {"integer", "decimal"} or is_key:
        return "dimension"
    folded = name.casefold()
    if folded == "id" or folded.endswith("_id"):
        return "dimension"
    return "measure"


def columns_from_rows(rows: Sequence[Any]) -> list[SourceColumn]:
    columns: list[SourceColumn] = []
    for row in rows:
        typ = field_type(row["base_type"])
        columns.append(
            SourceColumn(
                name=row["name"],
                type=typ,
                role=field_role(row["name"], typ, is_key=row["is_key"]),
                source_type=row["source_type"],
                nullable=row["nullable"],
            )
        )
    return columns
