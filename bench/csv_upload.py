"""CSV upload to queryable Parquet, beside DuckDB's own CSV-to-Parquet conversion.

Generates a CSV file (default 1,000,000 rows, ~56 MB: an ISO date, two text dimensions, an
integer id, an integer quantity, two decimals and a mostly empty text column with quoted
commas) in a temporary folder, then measures, interleaved, ``--runs`` times each:

* baseline: ``COPY (SELECT * FROM read_csv('file')) TO 'out.parquet' (FORMAT parquet)`` on a
  fresh DuckDB connection with the importer's settings (2 threads, 1 GB): DuckDB's own sniffer
  on a sample and its typed reader — the physical limit of the same job;
* ingest_csv: the importer from a file-backed chunk iterator (1 MiB chunks, as an upload
  arrives): streaming to disk with the SHA-256 and the UTF-8 check, dialect detection, the
  sample pass, the typed COPY to Parquet;
* ingest_csv, late surprise: the same file with one value after the sample that the sample's
  type cannot hold (an integer column meeting ``2.5`` on the last row), which costs the
  whole-file count and a second conversion.

The table shows the median seconds, rows per second and the ratio to the baseline (target:
ingest_csv at most 2.0 x baseline).

    .venv/bin/python bench/csv_upload.py [--rows 1000000] [--runs 3] [--json PATH]
"""

# ruff: noqa: S608 - the only interpolated values are this run's own temporary file paths.

from __future__ import annotations

import argparse
import asyncio
import csv
import datetime as dt
import json
import random
import statistics
import sys
import tempfile
import time
from collections.abc import AsyncIterator, Callable, Sequence
from pathlib import Path

import duckdb

from connectors.csv import ingest_csv
from connectors.csv.scan import IMPORT_MEMORY_LIMIT, IMPORT_THREADS

_REGIONS = ["North", "South", "East", "West", "Centre"]
_PRODUCTS = [f"Product {i:03d}" for i in range(200)]


def generate(path: Path, rows: int, *, surprise: bool = False) -> None:
    rng = random.Random(1)
    start = dt.date(2020, 1, 1)
    with path.open("w", newline="") as file:
        writer = csv.writer(file)
        writer.writerow(
            ["order_date", "region", "product", "customer_id", "quantity", "unit_price",
             "amount", "note"]
        )  # fmt: skip
        for i in range(rows):
            quantity = rng.randint(1, 50)
            price = round(rng.uniform(1, 500), 2)
            writer.writerow(
                [
                    (start + dt.timedelta(days=rng.randint(0, 1500))).isoformat(),
                    rng.choice(_REGIONS),
                    rng.choice(_PRODUCTS),
                    rng.randint(1, 99_999),
                    2.5 if surprise and i == rows - 1 else quantity,
                    price,
                    round(quantity * price, 2),
                    "" if rng.random() < 0.9 else "rush, fragile",
                ]
            )


def baseline(csv_path: Path, out: Path) -> float:
    con = duckdb.connect(config={"threads": IMPORT_THREADS, "memory_limit": IMPORT_MEMORY_LIMIT})
    try:
        start = time.perf_counter()
        con.execute(
            f"COPY (SELECT * FROM read_csv('{csv_path}')) TO '{out}' (FORMAT parquet)"
        ).fetchall()
        return time.perf_counter() - start
    finally:
        con.close()
        out.unlink(missing_ok=True)


async def _chunks(path: Path, size: int = 1 << 20) -> AsyncIterator[bytes]:
    with path.open("rb") as file:
        while block := file.read(size):
            yield block


def importer(csv_path: Path, work_dir: Path) -> float:
    async def run() -> float:
        start = time.perf_counter()
        result = await ingest_csv(_chunks(csv_path), work_dir=work_dir)
        elapsed = time.perf_counter() - start
        result.parquet_path.unlink()
        return elapsed

    return asyncio.run(run())


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rows", type=int, default=1_000_000, help="default %(default)s")
    parser.add_argument("--runs", type=int, default=3, help="runs per scenario (default 3)")
    parser.add_argument("--json", type=Path, help="also write the figures to this file")
    return parser.parse_args(argv)


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="loupe-bench-csv-") as folder:
        root = Path(folder)
        plain, surprise = root / "sales.csv", root / "sales-surprise.csv"
        generate(plain, args.rows)
        generate(surprise, args.rows, surprise=True)
        size = plain.stat().st_size
        print(f"{args.rows:,} rows, {size / 1e6:.1f} MB, {args.runs} runs (median)\n")
        scenarios: dict[str, Callable[[], float]] = {
            "baseline: DuckDB read_csv -> Parquet": lambda: baseline(plain, root / "b.parquet"),
            "ingest_csv": lambda: importer(plain, root / "work"),
            "ingest_csv, late surprise": lambda: importer(surprise, root / "work"),
        }
        samples: dict[str, list[float]] = {name: [] for name in scenarios}
        for name, run in scenarios.items():  # warm-up: imports, page cache
            run()
            del name
        for _ in range(args.runs):
            for name, run in scenarios.items():
                samples[name].append(run())
    medians = {name: statistics.median(values) for name, values in samples.items()}
    base = medians["baseline: DuckDB read_csv -> Parquet"]
    header = ["scenario", "seconds", "rows/s", "x baseline"]
    rows = [
        [name, f"{m:.3f}", f"{args.rows / m:,.0f}", f"{m / base:.2f}"]
        for name, m in medians.items()
    ]
    widths = [max(len(r[i]) for r in [header, *rows]) for i in range(len(header))]

    def line(cells: list[str]) -> str:
        return "  ".join(
            cell.ljust(widths[i]) if i == 0 else cell.rjust(widths[i])
            for i, cell in enumerate(cells)
        )

    print(line(header))
    print("  ".join("-" * w for w in widths))
    for row in rows:
        print(line(row))
    ratio = medians["ingest_csv"] / base
    print(f"\ntarget ingest_csv <= 2.0 x baseline: {'met' if ratio <= 2.0 else 'NOT met'}")
    if args.json:
        args.json.write_text(
            json.dumps(
                {"rows": args.rows, "bytes": size, "samples": samples, "medians": medians},
                indent=2,
            )
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
