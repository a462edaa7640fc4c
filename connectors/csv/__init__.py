"""The CSV connector: uploads become Parquet files in the blob store, queried by DuckDB.

`ingest_csv` turns an upload into a typed Parquet file (docs/csv.md); `CsvConnector` (the
``csv`` entry point) queries the stored file.
"""

from connectors.csv.connector import TABLE, CsvConnector, CsvSource
from connectors.csv.ingest import MAX_UPLOAD_BYTES, IngestedCsv, ingest_csv
from connectors.csv.options import CsvOptions

__all__ = [
    "MAX_UPLOAD_BYTES",
    "TABLE",
    "CsvConnector",
    "CsvOptions",
    "CsvSource",
    "IngestedCsv",
    "ingest_csv",
]
