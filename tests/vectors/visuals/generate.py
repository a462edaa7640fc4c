"""Writes the visual vectors (tests/vectors/visuals/*.json) from the cases below.

Each vector is a contract for any implementation of the visual compiler (the Python one in
charts/, the web app's TypeScript one): this visual, with these filters and dataset fields,
asks this query; given this answer (and these totals answers), it compiles to this Vega-Lite
spec. Answers are computed here by the project's query compiler over DuckDB (as the query
vectors are), so the vectors hold real data. tests/charts/test_visual_vectors.py re-checks
every vector on each run; README.md describes the format.

    .venv/bin/python tests/vectors/visuals/generate.py   # after a deliberate change
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
from tests.vectors.visuals.run import plan_of, queries_of, spec_of  # noqa: E402

TODAY = "2024-07-01"
REGIONS = ("North", "South", "East", "West")
CATEGORIES = (("Bikes", 499.5), ("Clothing", 39.9), ("Accessories", 12.25))
#: 4 regions x 3 categories x 6 months of sales: small enough to read.
SALES: list[dict[str, Any]] = [
    {
        "region": region,
        "category": category,
        "month": dt.date(2024, month, 1).isoformat(),
        "channel": "Online" if (r + c + month) % 2 else "Store",
        "units": 5 + (r * 7 + c * 3 + month * 5) % 23,
        "revenue": round((5 + (r * 7 + c * 3 + month * 5) % 23) * price, 2),
        "returned": (r + month) % 5 == 0,
    }
    for r, region in enumerate(REGIONS)
    for c, (category, price) in enumerate(CATEGORIES)
    for month in range(1, 7)
]
SALES_SCHEMA: dict[str, Any] = {
    "fields": [
        {"name": "Region", "column": "region", "type": "text", "role": "dimension"},
        {"name": "Category", "column": "category", "type": "text", "role": "dimension"},
        {"name": "Month", "column": "month", "type": "date", "role": "dimension"},
        {"name": "Channel", "column": "channel", "type": "text", "role": "dimension"},
        {"name": "Units", "column": "units", "type": "integer", "role": "measure"},
        {"name": "Revenue", "column": "revenue", "type": "decimal", "role": "measure"},
        {"name": "Returned", "column": "returned", "type": "boolean", "role": "dimension"},
    ],
    "measures": [
        {"name": "Total Revenue", "expression": "SUM([Revenue])", "format": "$#,0"},
        {"name": "Orders", "expression": "COUNTROWS()"},
    ],
}
#: 600 names with a value each: enough to be reduced.
MANY: list[dict[str, Any]] = [
    {"name": f"item {i:03d}", "value": (i * 37) % 101} for i in range(600)
]
MANY_SCHEMA: dict[str, Any] = {
    "fields": [
        {"name": "Item", "column": "name", "type": "text", "role": "dimension"},
        {"name": "Value", "column": "value", "type": "integer", "role": "measure"},
    ]
}
DATASETS = {"sales": (SALES_SCHEMA, SALES), "many": (MANY_SCHEMA, MANY)}

THEME: dict[str, Any] = {
    "name": "Harbour",
    "dataColors": ["#0B3C5D", "#328CC1", "#D9B310", "#1D2731"],
    "background": "#FAFAFA",
    "foreground": "#1D2731",
    "good": "#2E7D32",
    "bad": "#C62828",
    "textClasses": {"title": {"fontSize": 14, "color": "#0B3C5D"}, "label": {"fontSize": 10}},
    "visualStyles": {"*": {"*": {"legend": [{"position": "Right"}]}}},
}

REVENUE = ("Revenue", "sum")
UNITS = ("Units", "sum")
#: name → (description, visual type, wells, properties, extra: filters/theme/size/dataset)
CASES: dict[str, tuple[str, str, dict[str, list[Any]], dict[str, Any], dict[str, Any]]] = {
    "column": (
        "Columns by text category, largest first",
        "column",
        {"x": ["Region"], "y": [REVENUE]},
        {},
        {},
    ),
    "column-two-values": (
        "Two values side by side, named in the legend",
        "column",
        {"x": ["Region"], "y": [REVENUE, UNITS]},
        {},
        {},
    ),
    "clustered-column": (
        "A legend splits the value into series side by side",
        "clustered_column",
        {"x": ["Region"], "y": [UNITS], "color": ["Category"]},
        {},
        {},
    ),
    "stacked-column-labels": (
        "Stacked in legend order, labels in the middle",
        "stacked_column",
        {"x": ["Region"], "y": [UNITS], "color": ["Category"]},
        {"data_labels": {"show": True}},
        {},
    ),
    "percent-stacked-column": (
        "Stacks normalised to 100%",
        "percent_stacked_column",
        {"x": ["Month"], "y": [UNITS], "color": ["Channel"]},
        {"grain": {"x": "month"}},
        {},
    ),
    "bar-sorted-by-name": (
        "Horizontal bars sorted by the category",
        "bar",
        {"y": ["Category"], "x": ["Total Revenue"]},
        {"sort": {"by": "Category", "order": "asc"}},
        {},
    ),
    "clustered-bar-colours": (
        "Series colours set one by one",
        "clustered_bar",
        {"y": ["Category"], "x": [UNITS], "color": ["Channel"]},
        {"colors": {"series": {"Store": "#222222"}}},
        {},
    ),
    "stacked-bar": (
        "Horizontal stacks",
        "stacked_bar",
        {"y": ["Region"], "x": [REVENUE], "color": ["Returned"]},
        {},
        {},
    ),
    "percent-stacked-bar-labels": (
        "Normalised stacks with labels at the end",
        "percent_stacked_bar",
        {"y": ["Region"], "x": [UNITS], "color": ["Category"]},
        {"data_labels": {"show": True, "position": "inside_end"}},
        {},
    ),
    "line": (
        "Lines per series over months, with markers",
        "line",
        {"x": ["Month"], "y": [REVENUE], "color": ["Region"]},
        {"grain": {"x": "month"}, "markers": {"show": True}},
        {},
    ),
    "line-secondary-axis": (
        "A second value on a right axis",
        "line",
        {"x": ["Month"], "y": [UNITS], "secondary_y": ["Total Revenue"]},
        {"grain": {"x": "month"}},
        {},
    ),
    "area": (
        "Overlapping areas",
        "area",
        {"x": ["Month"], "y": [UNITS], "color": ["Channel"]},
        {},
        {},
    ),
    "stacked-area": (
        "Stacked areas with labels",
        "stacked_area",
        {"x": ["Month"], "y": [UNITS], "color": ["Category"]},
        {"data_labels": {"show": True}},
        {},
    ),
    "percent-stacked-area": (
        "Normalised areas",
        "percent_stacked_area",
        {"x": ["Month"], "y": [REVENUE], "color": ["Region"]},
        {},
        {},
    ),
    "combo": (
        "Columns and a line on two axes, one legend",
        "combo",
        {"x": ["Category"], "y": [UNITS], "secondary_y": ["Total Revenue"]},
        {},
        {},
    ),
    "combo-with-legend": (
        "A legend splits the columns; the line comes from its own query",
        "combo",
        {"x": ["Region"], "y": [UNITS], "secondary_y": ["Orders"], "color": ["Channel"]},
        {},
        {},
    ),
    "waterfall": (
        "Running total with a Total column",
        "waterfall",
        {"x": ["Category"], "y": [REVENUE]},
        {"data_labels": {"show": True}},
        {},
    ),
    "funnel": (
        "Centred bars with value and % of first",
        "funnel",
        {"x": ["Region"], "y": ["Orders"]},
        {},
        {},
    ),
    "pie": (
        "Slices largest first, value labels",
        "pie",
        {"color": ["Category"], "values": [UNITS]},
        {},
        {},
    ),
    "donut-percent": (
        "A donut labelled with shares",
        "donut",
        {"color": ["Region"], "values": ["Total Revenue"]},
        {"data_labels": {"content": "category_percent"}, "donut": {"inner_radius": 0.5}},
        {},
    ),
    "treemap": (
        "Squarified rectangles (d3's layout)",
        "treemap",
        {"color": ["Region"], "values": [REVENUE]},
        {},
        {},
    ),
    "treemap-details": (
        "Categories split by details",
        "treemap",
        {"color": ["Category"], "details": ["Region"], "values": [UNITS]},
        {},
        {},
    ),
    "scatter": (
        "A point per region",
        "scatter",
        {"details": ["Region"], "x": [UNITS], "y": [REVENUE]},
        {"data_labels": {"show": True}},
        {},
    ),
    "bubble": (
        "Size makes bubbles; a legend colours them",
        "scatter",
        {
            "details": ["Month"],
            "x": [UNITS],
            "y": [REVENUE],
            "size": ["Orders"],
            "color": ["Channel"],
        },
        {},
        {},
    ),
    "table": (
        "Header, rows and a total row",
        "table",
        {"values": ["Region", "Category", UNITS, ("Revenue", "avg")]},
        {},
        {},
    ),
    "table-gradient": (
        "Conditional cell backgrounds, banded rows",
        "table",
        {"values": ["Category", "Total Revenue"]},
        {
            "conditional_colors": {"gradient": {"min_color": "#FFFFFF", "max_color": "#118DFF"}},
            "table": {"stripes": True},
        },
        {},
    ),
    "matrix": (
        "Stepped rows with subtotals, columns by channel, totals",
        "matrix",
        {
            "rows": ["Region", "Category"],
            "columns": ["Channel"],
            "values": [UNITS, ("Revenue", "avg")],
        },
        {},
        {"size": {"width": 640, "height": 520}},
    ),
    "matrix-no-subtotals": (
        "Rows only, no subtotals",
        "matrix",
        {"rows": ["Category"], "values": ["Total Revenue"]},
        {"subtotals": {"rows": False}},
        {},
    ),
    "card": ("A big number in automatic display units", "card", {"values": [REVENUE]}, {}, {}),
    "card-currency": (
        "A card in euros with no display units",
        "card",
        {"values": ["Total Revenue"]},
        {"callout": {"format": {"currency": "€", "display_units": "none"}}},
        {},
    ),
    "multi-row-card": (
        "A card per region",
        "multi_row_card",
        {"values": ["Region", UNITS, "Total Revenue"]},
        {},
        {},
    ),
    "kpi": (
        "Latest month against a target, trend behind",
        "kpi",
        {"values": [UNITS], "x": ["Month"], "target": [("Units", "avg")]},
        {"grain": {"x": "month"}},
        {},
    ),
    "gauge": (
        "Value and target on a half ring",
        "gauge",
        {"values": [("Units", "avg")], "target": [("Units", "median")]},
        {},
        {},
    ),
    "heatmap": (
        "Cells coloured by value, labelled",
        "heatmap",
        {"x": ["Category"], "y": ["Region"], "color": [UNITS]},
        {"data_labels": {"show": True}},
        {},
    ),
    "histogram": (
        "Counts of each value, binned",
        "histogram",
        {"x": ["Units"]},
        {"histogram": {"bins": 8}},
        {},
    ),
    "slicer": (
        "A list with the page filter's values ticked",
        "slicer",
        {"values": ["Region"]},
        {},
        {
            "filters": {
                "report": [],
                "page": [{"field": "Region", "op": "in", "values": ["East", "West"]}],
            }
        },
    ),
    "slicer-between": (
        "A number slicer's range",
        "slicer",
        {"values": ["Units"]},
        {},
        {
            "filters": {
                "report": [],
                "page": [{"field": "Units", "op": "range", "min": 10, "max": 20}],
            }
        },
    ),
    "title-and-subtitle": (
        "Title text, size, colour, alignment; a subtitle",
        "column",
        {"x": ["Category"], "y": [UNITS]},
        {
            "title": {
                "text": "Units sold",
                "font_size": 16,
                "color": "#0B3C5D",
                "alignment": "center",
            },
            "subtitle": {"text": "First half of 2024"},
        },
        {},
    ),
    "axes": (
        "Axis titles, range, log scale, no gridlines, a hidden axis",
        "column",
        {"x": ["Region"], "y": [REVENUE]},
        {
            "x_axis": {"show": False},
            "y_axis": {
                "title": "Revenue",
                "min": 100,
                "max": 100000,
                "scale": "log",
                "gridlines": False,
            },
        },
        {},
    ),
    "legend": (
        "Legend at the bottom without a title",
        "stacked_column",
        {"x": ["Category"], "y": [UNITS], "color": ["Region"]},
        {"legend": {"position": "bottom", "show_title": False}},
        {},
    ),
    "number-formats": (
        "Display units on the axis, a field's own format on labels",
        "column",
        {"x": ["Region"], "y": [REVENUE]},
        {
            "y_axis": {"format": {"display_units": "K"}},
            "formats": {"Revenue (sum)": {"style": "currency", "currency": "£", "decimals": 0}},
            "data_labels": {"show": True},
        },
        {},
    ),
    "conditional-rules": (
        "Bars coloured by thresholds",
        "column",
        {"x": ["Region"], "y": [UNITS]},
        {
            "conditional_colors": {
                "rules": [{"max": 180, "color": "#C62828"}, {"min": 180, "color": "#2E7D32"}]
            }
        },
        {},
    ),
    "top-n": (
        "The top two categories by a value not drawn",
        "column",
        {"x": ["Category"], "y": [UNITS]},
        {"top_n": {"n": 2, "by": "Total Revenue"}},
        {},
    ),
    "small-multiples": (
        "A panel per region",
        "column",
        {"x": ["Category"], "y": [UNITS]},
        {"small_multiples": {"field": "Region", "columns": 2}},
        {"size": {"width": 640, "height": 480}},
    ),
    "theme": (
        "A report theme: colours, text, legend on the right",
        "clustered_column",
        {"x": ["Category"], "y": [REVENUE], "color": ["Channel"]},
        {},
        {"theme": THEME},
    ),
    "filters": (
        "Report, page and visual filters together",
        "column",
        {"x": ["Category"], "y": [UNITS]},
        {},
        {
            "filters": {
                "report": [{"field": "Month", "op": "range", "min": "2024-02-01"}],
                "page": [{"field": "Channel", "op": "in", "values": ["Online"]}],
            },
            "visual_filters": [{"field": "Region", "op": "not_in", "values": ["North"]}],
        },
    ),
    "no-data": (
        "Filters that keep nothing",
        "column",
        {"x": ["Category"], "y": [UNITS]},
        {},
        {"visual_filters": [{"field": "Region", "op": "in", "values": ["Nowhere"]}]},
    ),
    "nothing-bound": ("A new visual with no field yet", "column", {}, {}, {}),
    "wrong-property-types": (
        "Properties of the wrong type are ignored and listed",
        "column",
        {"x": ["Region"], "y": [UNITS]},
        {
            "title": {"text": 42},
            "legend": {"show": "no"},
            "y_axis": {"min": "low"},
            "colors": {"default": "not a colour"},
        },
        {},
    ),
    "bar-reduced-to-top": (
        "600 categories: the top 500 by value are drawn",
        "bar",
        {"y": ["Item"], "x": [("Value", "sum")]},
        {},
        {"dataset": "many"},
    ),
    "table-reduced-to-first": (
        "600 rows: the first 500 are fetched, those that fit shown",
        "table",
        {"values": ["Item", "Value"]},
        {},
        {"dataset": "many"},
    ),
}


def dataset_fields(schema: dict[str, Any]) -> list[dict[str, Any]]:
    fields = [{"name": f["name"], "type": f["type"], "role": f["role"]} for f in schema["fields"]]
    fields += [
        {"name": m["name"], "role": "measure", "kind": "measure", "format": m.get("format")}
        if m.get("format")
        else {"name": m["name"], "role": "measure", "kind": "measure"}
        for m in schema.get("measures", [])
    ]
    return fields


def visual_document(
    visual_type: str,
    wells: dict[str, list[Any]],
    properties: dict[str, Any],
    filters: list[dict[str, Any]],
) -> dict[str, Any]:
    from domain.report.visuals import VISUAL_TYPES  # noqa: PLC0415

    return {
        "id": "7f0c4d7e-0000-4000-8000-000000000001",
        "visual_type": visual_type,
        "layout": {"x": 0, "y": 0, "w": 8, "h": 6},
        "wells": {
            name: [
                {"field": f, "aggregation": None}
                if isinstance(f, str)
                else {"field": f[0], "aggregation": f[1]}
                for f in wells.get(name, [])
            ]
            for name in VISUAL_TYPES[visual_type].well_names
        },
        "properties": properties,
        "filters": filters,
    }


def run_query(dataset: str, spec: dict[str, Any] | None, work: Path, tag: str) -> Any:
    if spec is None:
        return None
    schema, rows = DATASETS[dataset]
    return answer({"name": tag, "today": TODAY, "schema": schema, "rows": rows, "spec": spec}, work)


def build(name: str, work: Path) -> dict[str, Any]:
    description, visual_type, wells, properties, extra = CASES[name]
    dataset = extra.get("dataset", "sales")
    schema, _ = DATASETS[dataset]
    vector: dict[str, Any] = {
        "name": name,
        "description": description,
        "visual": visual_document(visual_type, wells, properties, extra.get("visual_filters", [])),
        "filters": extra.get("filters", {"report": [], "page": []}),
        "dataset_fields": dataset_fields(schema),
        "theme": extra.get("theme"),
        "size": extra.get("size", {"width": 480, "height": 300}),
    }
    plan = plan_of(vector)
    queries = queries_of(plan)
    vector["query"] = queries["query"]
    vector["result"] = run_query(dataset, vector["query"], work, name)
    if "totals" in queries:
        vector["totals"] = [
            {
                "name": t["name"],
                "query": t["query"],
                "result": run_query(dataset, t["query"], work, f"{name}-{t['name']}"),
            }
            for t in queries["totals"]
        ]
    vector["spec"] = spec_of(vector, plan)
    return vector


def main() -> None:
    for old in HERE.glob("*.json"):
        old.unlink()
    with tempfile.TemporaryDirectory() as work:
        for name in CASES:
            vector = build(name, Path(work))
            (HERE / f"{name}.json").write_text(json.dumps(vector, indent=1) + "\n")
            print(f"wrote {name}.json")


if __name__ == "__main__":
    main()
