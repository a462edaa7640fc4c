"""Fixtures of the chart tests."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.charts.support import ChartData


@pytest.fixture(scope="session")
def chart_data(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ChartData]:
    """The four sample datasets as Parquet files in one DuckDB connection; the tests only
    read them, so they share it."""
    data = ChartData(tmp_path_factory.mktemp("chart-data"))
    try:
        yield data
    finally:
        data.close()
