"""The ``csv`` connector over an imported file: schema, relation, run, stream, timeouts and
the concurrency limit."""

from __future__ import annotations

import asyncio
import datetime as dt
import time
from collections.abc import AsyncIterator
from importlib.metadata import entry_points
from pathlib import Path

import pyarrow as pa
import pytest

from connectors.blobs import BlobStore, dataset_key, open_blob_store
from connectors.csv import CsvConnector, CsvSource
from connectors.errors import (
    InvalidConfig,
    InvalidQuery,
    QueryTimeout,
    SourceBusy,
    SourceUnavailable,
)
from connectors.plugin import CompiledQuery, Connector, ConnectorContext, ConnectorLimits
from tests.connectors.fixtures import ingest_text

_SALES = "day,region,units,price\n" + "".join(
    f"2024-01-{(i % 28) + 1:02d},{['North', 'South', 'East', 'West', 'Centre'][i % 5]},"
    f"{i % 7},{(i % 13) + 0.5}\n"
    for i in range(2000)
)
# A cross join DuckDB needs many seconds for: what a timeout must stop.
_SLOW = "SELECT count(*) FROM range(100000000) AS a, range(100000) AS b WHERE a.range + b.range = 7"


@pytest.fixture
async def blobs(tmp_path: Path) -> BlobStore:
    return open_blob_store(tmp_path / "data")


@pytest.fixture
async def source(tmp_path: Path, blobs: BlobStore) -> CsvSource:
    result = await ingest_text(_SALES, tmp_path / "work")
    key = dataset_key("sales", result.sha256)
    await blobs.put_file(key, result.parquet_path, remove_source=True)
    return CsvSource(blob=key)


def _connector(tmp_path: Path, blobs: BlobStore, **limits: float) -> CsvConnector:
    context = ConnectorContext(
        data_dir=tmp_path / "connector",
        limits=ConnectorLimits(**limits),  # type: ignore[arg-type]
        services={"blobs": blobs},
    )
    return CsvConnector(context)


@pytest.fixture
async def connector(tmp_path: Path, blobs: BlobStore) -> AsyncIterator[CsvConnector]:
    connector = _connector(tmp_path, blobs)
    yield connector
    await connector.close()


def test_the_csv_entry_point_names_the_connector() -> None:
    (entry,) = entry_points(group="loupe.connectors", name="csv")
    assert entry.load() is CsvConnector


async def test_it_has_the_connector_protocol(connector: CsvConnector) -> None:
    assert isinstance(connector, Connector)
    assert (connector.name, connector.title, connector.dialect) == ("csv", "CSV file", "duckdb")
    assert connector.config_type is CsvSource


async def test_a_stored_file_passes_the_test_and_a_missing_one_does_not(
    connector: CsvConnector, source: CsvSource
) -> None:
    await connector.test(source)
    with pytest.raises(SourceUnavailable):
        await connector.test(CsvSource(blob="datasets/none/1-00.parquet"))
    with pytest.raises(InvalidConfig):
        await connector.test(CsvSource(blob="../../etc/passwd"))


async def test_one_file_table_with_the_imported_schema(
    connector: CsvConnector, source: CsvSource
) -> None:
    assert [(t.name, t.rows_estimate, t.kind) for t in await connector.list_tables(source)] == [
        ("file", 2000, "file")
    ]
    columns = await connector.infer_schema(source, "file")
    assert [(c.name, c.type, c.role) for c in columns] == [
        ("day", "date", "dimension"),
        ("region", "text", "dimension"),
        ("units", "integer", "measure"),
        ("price", "decimal", "measure"),
    ]
    with pytest.raises(InvalidConfig):
        await connector.infer_schema(source, "other")


async def test_the_relation_quotes_a_path_with_quotes_in_it(tmp_path: Path) -> None:
    blobs = open_blob_store(tmp_path / "it's data")
    result = await ingest_text("a,b\n1,x\n2,y\n", tmp_path / "work")
    source = CsvSource(blob=dataset_key("q", result.sha256))
    await blobs.put_file(source.blob, result.parquet_path, remove_source=True)
    connector = _connector(tmp_path, blobs)
    try:
        relation = connector.relation(source, "file")
        assert "it''s data" in relation
        assert relation.startswith("read_parquet('")
        answer = await connector.run(
            source, CompiledQuery(sql=f"SELECT sum(a) AS s FROM {relation}"), timeout=5
        )
        assert answer.column("s").to_pylist() == [3]
    finally:
        await connector.close()


async def test_run_answers_with_bound_parameters(
    connector: CsvConnector, source: CsvSource
) -> None:
    relation = connector.relation(source, "file")
    query = CompiledQuery(
        sql=(
            f"SELECT region, sum(units) AS units FROM {relation} "
            "WHERE day >= $1 AND region <> $2 GROUP BY region ORDER BY region"
        ),
        params=(dt.date(2024, 1, 1), "West"),
    )
    table = await connector.run(source, query, timeout=10)
    assert isinstance(table, pa.Table)
    assert table.column_names == ["region", "units"]
    assert table.column("region").to_pylist() == ["Centre", "East", "North", "South"]
    expected = dict.fromkeys(["North", "South", "East", "West", "Centre"], 0)
    for i in range(2000):
        expected[["North", "South", "East", "West", "Centre"][i % 5]] += i % 7
    assert table.column("units").to_pylist() == [
        expected[r] for r in ["Centre", "East", "North", "South"]
    ]


async def test_a_small_aggregate_costs_about_a_millisecond(
    connector: CsvConnector, source: CsvSource
) -> None:
    query = CompiledQuery(
        sql=f"SELECT region, sum(price) FROM {connector.relation(source, 'file')} GROUP BY 1"
    )
    await connector.run(source, query, timeout=10)  # warm: threads and cursors exist
    times = []
    for _ in range(50):
        start = time.perf_counter()
        await connector.run(source, query, timeout=10)
        times.append(time.perf_counter() - start)
    median = sorted(times)[len(times) // 2]
    assert median < 0.010, f"median {median * 1000:.2f} ms"  # ~1-2 ms here; generous for CI


async def test_stream_yields_every_row_in_batches(
    connector: CsvConnector, source: CsvSource
) -> None:
    query = CompiledQuery(sql=f"SELECT * FROM {connector.relation(source, 'file')}")
    batches = [b async for b in connector.stream(source, query, timeout=10, batch_rows=300)]
    assert sum(b.num_rows for b in batches) == 2000
    assert max(b.num_rows for b in batches) <= 300
    assert len(batches) >= 7


async def test_a_slow_query_is_interrupted_at_its_timeout(
    connector: CsvConnector, source: CsvSource
) -> None:
    start = time.perf_counter()
    with pytest.raises(QueryTimeout):
        await connector.run(source, CompiledQuery(sql=_SLOW), timeout=0.3)
    assert time.perf_counter() - start < 2
    # the cursor is usable again
    answer = await connector.run(source, CompiledQuery(sql="SELECT 42 AS n"), timeout=5)
    assert answer.column("n").to_pylist() == [42]


async def test_a_slow_stream_is_interrupted_at_its_timeout(
    connector: CsvConnector, source: CsvSource
) -> None:
    start = time.perf_counter()
    with pytest.raises(QueryTimeout):
        async for _ in connector.stream(source, CompiledQuery(sql=_SLOW), timeout=0.3):
            pass
    assert time.perf_counter() - start < 2


async def test_queries_beyond_the_limit_wait_then_get_source_busy(
    tmp_path: Path, blobs: BlobStore, source: CsvSource
) -> None:
    connector = _connector(tmp_path, blobs, concurrent_queries=1, queue_timeout=0.2)
    try:
        slow = asyncio.create_task(connector.run(source, CompiledQuery(sql=_SLOW), timeout=1.5))
        await asyncio.sleep(0.05)
        with pytest.raises(SourceBusy):
            await connector.run(source, CompiledQuery(sql="SELECT 1"), timeout=5)
        with pytest.raises(QueryTimeout):
            await slow
        assert (
            await connector.run(source, CompiledQuery(sql="SELECT 1 AS x"), timeout=5)
        ).num_rows == 1
    finally:
        await connector.close()


async def test_queries_within_the_limit_run_side_by_side(
    connector: CsvConnector, source: CsvSource
) -> None:
    relation = connector.relation(source, "file")
    queries = [
        CompiledQuery(sql=f"SELECT count(*) AS n FROM {relation} WHERE units = $1", params=(i,))
        for i in range(7)
    ]
    answers = await asyncio.gather(*(connector.run(source, q, timeout=10) for q in queries))
    assert sum(a.column("n")[0].as_py() for a in answers) == 2000


async def test_queries_cannot_read_files_outside_the_blob_store(
    connector: CsvConnector, source: CsvSource
) -> None:
    with pytest.raises((InvalidQuery, SourceUnavailable)):
        await connector.run(
            source, CompiledQuery(sql="SELECT * FROM read_csv('/etc/passwd')"), timeout=5
        )
    with pytest.raises((InvalidQuery, SourceUnavailable)):
        await connector.run(
            source, CompiledQuery(sql="SET enable_external_access = true"), timeout=5
        )


async def test_a_missing_file_is_source_unavailable(connector: CsvConnector) -> None:
    with pytest.raises(SourceUnavailable):
        await connector.run(
            CsvSource(blob="datasets/x/1-00.parquet"), CompiledQuery(sql="SELECT 1"), timeout=5
        )
