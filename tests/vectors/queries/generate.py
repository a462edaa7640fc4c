"""Writes the query vectors (tests/vectors/queries/*.json) from the cases below.

Each vector is a contract for any implementation of the query compiler (the Python one in
connectors/query, the web app's TypeScript one over DuckDB-WASM): over these rows, with this
dataset schema, this spec (and this "today") answers these columns and rows. The expected
answer is what DuckDB gives for the Python compiler's SQL — which tests/connectors checks
against PostgreSQL and against hand-computed values — so a vector pins behaviour, not SQL
text. tests/connectors/test_query_vectors.py re-checks every vector on each run.

    .venv/bin/python tests/vectors/queries/generate.py   # after a deliberate change
"""

from __future__ import annotations

import datetime as dt
import json
import sys
import tempfile
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parents[2]))

from tests.vectors.queries.run import answer  # noqa: E402

TODAY = "2010-03-15"
#: 8 months of 3 symbols: small enough to read, big enough for grains, tops and YTD.
ROWS: list[dict[str, Any]] = [
    {
        "symbol": symbol,
        "date": (dt.date(2009, 8, 1) + dt.timedelta(days=31 * month)).replace(day=1).isoformat(),
        "price": round(base + month * step + (7 if month % 3 == 0 else 0), 2),
        "volume": None if (symbol == "IBM" and month == 4) else 1000 * (month + 1) + len(symbol),
    }
    for symbol, base, step in (("MSFT", 25.5, 0.75), ("AAPL", 160.0, 9.5), ("IBM", 118.25, -1.5))
    for month in range(8)
]
SCHEMA: dict[str, Any] = {
    "fields": [
        {"name": "Symbol", "column": "symbol", "type": "text", "role": "dimension"},
        {"name": "Date", "column": "date", "type": "date", "role": "dimension"},
        {"name": "Price", "column": "price", "type": "decimal", "role": "measure"},
        {"name": "Volume", "column": "volume", "type": "integer", "role": "measure"},
    ],
    "calculated_columns": [
        {
            "name": "Turnover",
            "expression": "[Price] * [Volume]",
            "type": "decimal",
            "role": "measure",
        },
        {"name": "Year", "expression": "YEAR([Date])", "type": "integer", "role": "dimension"},
    ],
    "measures": [
        {"name": "Total Price", "expression": "SUM([Price])"},
        {"name": "Average Price", "expression": "AVERAGE([Price])"},
        {
            "name": "Share",
            "expression": "DIVIDE([Total Price], CALCULATE([Total Price], ALL('Stocks')))",
        },
        {"name": "MSFT Price", "expression": 'CALCULATE([Total Price], [Symbol] = "MSFT")'},
        {"name": "YTD Price", "expression": "TOTALYTD([Total Price], [Date])"},
        {
            "name": "Last Month",
            "expression": "CALCULATE([Total Price], DATEADD([Date], -1, MONTH))",
        },
        {"name": "Band", "expression": 'IF([Average Price] > 100, "high", "low")'},
        {"name": "Rows", "expression": "COUNTROWS()"},
    ],
}
CASES: dict[str, dict[str, Any]] = {
    "dimension-and-sum": {"dimensions": ["Symbol"], "measures": [{"field": "Price", "agg": "sum"}]},
    "every-aggregation": {
        "dimensions": ["Symbol"],
        "measures": [
            {"field": "Price", "agg": agg}
            for agg in ("sum", "avg", "min", "max", "count", "distinct_count", "median")
        ],
    },
    "count-skips-blanks": {"measures": [{"field": "Volume", "agg": "count"}, {"measure": "Rows"}]},
    "month-grain-sorted-desc": {
        "dimensions": [{"field": "Date", "grain": "month"}],
        "measures": [{"field": "Price", "agg": "avg", "as": "Mean"}],
        "sort": [{"by": "Mean", "desc": True}],
        "limit": 5,
    },
    "quarter-and-week-grains": {
        "dimensions": [{"field": "Date", "grain": "quarter"}, {"field": "Date", "grain": "week"}],
        "measures": [{"measure": "Rows"}],
        "filters": [{"field": "Symbol", "op": "in", "values": ["IBM"]}],
    },
    "in-not-in-and-range": {
        "dimensions": ["Symbol", "Date"],
        "measures": [{"field": "Price", "agg": "max"}],
        "filters": [
            {"field": "Symbol", "op": "not_in", "values": ["AAPL"]},
            {"field": "Date", "op": "range", "min": "2009-10-01", "max": "2009-12-31"},
        ],
    },
    "relative-date-last-3-months": {
        "dimensions": [{"field": "Date", "grain": "month"}],
        "measures": [{"measure": "Total Price"}],
        "filters": [{"field": "Date", "op": "relative_date", "unit": "month", "last": 3}],
    },
    "top-2-symbols-by-price": {
        "dimensions": ["Symbol"],
        "measures": [{"measure": "Total Price"}],
        "filters": [{"field": "Symbol", "op": "top", "n": 2, "by": {"measure": "Total Price"}}],
    },
    "calculate-and-all": {
        "dimensions": ["Symbol"],
        "measures": [{"measure": "Share"}, {"measure": "MSFT Price"}],
    },
    "time-intelligence": {
        "dimensions": [{"field": "Date", "grain": "month"}],
        "measures": [
            {"measure": "Total Price"},
            {"measure": "YTD Price"},
            {"measure": "Last Month"},
        ],
    },
    "calculated-columns": {
        "dimensions": ["Year"],
        "measures": [{"field": "Turnover", "agg": "sum"}, {"measure": "Band"}],
    },
    "grand-total-over-nothing": {
        "measures": [{"measure": "Total Price"}, {"field": "Price", "agg": "count"}],
        "filters": [{"field": "Symbol", "op": "in", "values": ["NONE"]}],
    },
}


def main() -> None:
    with tempfile.TemporaryDirectory() as work:
        for name, spec in CASES.items():
            vector = {
                "name": name,
                "today": TODAY,
                "schema": SCHEMA,
                "rows": ROWS,
                "spec": spec,
            }
            vector["expected"] = answer(vector, Path(work))
            (HERE / f"{name}.json").write_text(json.dumps(vector, indent=1) + "\n")
            print(f"wrote {name}.json")


if __name__ == "__main__":
    main()
