"""The two SQL dialects the compiler writes, as sqlglot dialects with two changes.

- A bound value is ``$n`` in both (DuckDB and asyncpg take it); sqlglot's own dialects write
  ``%(n)s`` for PostgreSQL or drop it.
- Every ORDER BY key says its direction and ``NULLS LAST``/``NULLS FIRST`` explicitly, so the
  answer never depends on an engine's default null ordering (DuckDB's is configurable).
"""

from __future__ import annotations

from typing import Final, Literal

from sqlglot import exp
from sqlglot.dialects.duckdb import DuckDB
from sqlglot.dialects.postgres import Postgres
from sqlglot.generator import Generator
from sqlglot.generators.duckdb import DuckDBGenerator
from sqlglot.generators.postgres import PostgresGenerator

from connectors.errors import InvalidQuery

SqlDialect = Literal["duckdb", "postgres"]


def _parameter_sql(_generator: Generator, expression: exp.Parameter) -> str:
    return f"${expression.name}"


def _ordered_sql(generator: Generator, expression: exp.Ordered) -> str:
    this = generator.sql(expression, "this")
    direction = " DESC" if expression.args.get("desc") else " ASC"
    nulls = " NULLS FIRST" if expression.args.get("nulls_first") else " NULLS LAST"
    return f"{this}{direction}{nulls}"


class _DuckDBGenerator(DuckDBGenerator):
    TRANSFORMS = {  # noqa: RUF012 - sqlglot's own pattern for dialect generators
        **DuckDBGenerator.TRANSFORMS,
        exp.Parameter: _parameter_sql,
        exp.Ordered: _ordered_sql,
    }


class _PostgresGenerator(PostgresGenerator):
    TRANSFORMS = {  # noqa: RUF012 - sqlglot's own pattern for dialect generators
        **PostgresGenerator.TRANSFORMS,
        exp.Parameter: _parameter_sql,
        exp.Ordered: _ordered_sql,
    }


class LoupeDuckDB(DuckDB):
    Generator = _DuckDBGenerator


class LoupePostgres(Postgres):
    Generator = _PostgresGenerator


DIALECTS: Final[dict[str, type[DuckDB | Postgres]]] = {
    "duckdb": LoupeDuckDB,
    "postgres": LoupePostgres,
}


_DIALECT_INSTANCES: Final[dict[str, DuckDB | Postgres]] = {
    name: dialect() for name, dialect in DIALECTS.items()
}


def check_dialect(dialect: str) -> SqlDialect:
    if dialect == "duckdb":
        return "duckdb"
    if dialect == "postgres":
        return "postgres"
    raise InvalidQuery(f"no SQL dialect {dialect!r}; the compiler writes duckdb or postgres")


def render(expression: exp.Expr, dialect: SqlDialect) -> str:
    """The SQL of ``expression`` (a tree built for this one query: written without the copy
    sqlglot makes by default, which cost more than the writing)."""
    return expression.sql(dialect=_DIALECT_INSTANCES[dialect], copy=False)
