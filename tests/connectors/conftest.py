"""Fixtures of the connector tests."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.conftest import EngineUrls
from tests.connectors.query_support import DuckRunner, Engines, PgRunner, cars, stocks


@pytest.fixture(scope="session")
def query_engines(
    engines: EngineUrls, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Engines]:
    """The stocks and cars datasets loaded once per session into DuckDB (Parquet files) and
    into a PostgreSQL schema of this session's own (dropped after): the query tests only
    read, so they share them."""
    datasets = {dataset.name: dataset for dataset in (stocks(), cars())}
    folder: Path = tmp_path_factory.mktemp("query-data")
    duck = DuckRunner(folder, list(datasets.values()))
    pg = PgRunner(engines.postgres)
    try:
        for dataset in datasets.values():
            pg.load(dataset)
        yield Engines(duck=duck, pg=pg, datasets=datasets)
    finally:
        pg.close()
        duck.close()
