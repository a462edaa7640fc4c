"""``query_for``: a visual's wells, filters and properties → the query spec and the role of
each answer column."""

from __future__ import annotations

import datetime as dt
import json
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from charts.fields import DatasetField, dataset_fields
from charts.query import Role, query_for
from connectors.query import compile_query, decode_spec
from domain.report.visuals import AGGREGATIONS, VISUAL_TYPES
from tests.charts.support import visual
from tests.connectors.query_support import cars

SCHEMA = cars().schema
FIELDS = dataset_fields(SCHEMA)


def plan_of(visual_type: str, wells: dict[str, list[Any]], **properties: Any) -> Any:
    return query_for(visual(visual_type, wells, **properties), dataset_fields=FIELDS)


def test_a_visual_with_nothing_bound_fetches_nothing() -> None:
    assert plan_of("column", {}) is None
    assert query_for({"visual_type": "column"}, dataset_fields=FIELDS) is None


def test_an_unknown_visual_type_fetches_nothing() -> None:
    assert query_for({"visual_type": "radar", "wells": {}}, dataset_fields=FIELDS) is None


def test_a_well_uses_only_as_many_fields_as_it_takes() -> None:
    plan = plan_of("pie", {"color": ["Origin", "Cylinders"], "values": ["Cars", ("MPG", "avg")]})
    assert plan.spec["dimensions"] == ["Origin"]
    assert plan.spec["measures"] == [{"measure": "Cars"}]


def test_a_field_the_dataset_lacks_is_skipped_with_a_warning() -> None:
    plan = plan_of("column", {"x": ["Region"], "y": ["Cars"]})
    assert "dimensions" not in plan.spec
    assert any("Region" in w for w in plan.warnings)


def test_a_visual_bound_before_a_rename_queries_and_labels_the_new_names() -> None:
    fields = [
        DatasetField(name="Area", type="text", former_names=("Origin",)),
        DatasetField(name="Power", type="integer", role="measure", former_names=("Horsepower",)),
        DatasetField(name="Car count", kind="measure", role="measure", former_names=("Cars",)),
        # A name in use now wins over a former name.
        DatasetField(name="Horsepower", type="text"),
    ]
    bound = visual("column", {"x": ["Origin"], "y": [("Horsepower", "avg"), "Cars"]})
    plan = query_for(bound, dataset_fields=fields)
    assert plan is not None
    assert plan.spec["dimensions"] == ["Area"]
    assert plan.spec["measures"][:2] == [
        {"field": "Horsepower", "agg": "count"},
        {"measure": "Car count"},
    ]
    assert plan.role("x").label == "Area"


def test_a_dataset_measure_is_queried_by_name_and_labelled_by_it() -> None:
    plan = plan_of("column", {"x": ["Origin"], "y": [("Cars", "sum")]})
    assert plan.spec["measures"] == [{"measure": "Cars"}]
    assert plan.role("y").label == "Cars"
    assert any("measure" in w for w in plan.warnings), "the aggregation was ignored"


def test_value_wells_aggregate_with_power_bi_labels() -> None:
    plan = plan_of("column", {"x": ["Origin"], "y": [("Horsepower", "avg")]})
    assert plan.spec == {
        "dimensions": ["Origin"],
        "measures": [{"field": "Horsepower", "agg": "avg"}],
        "filters": [
            {
                "field": "Origin",
                "op": "top",
                "n": 501,
                "by": {"field": "Horsepower", "agg": "avg"},
            }
        ],
        "sort": [{"by": "Horsepower (avg)", "desc": True}],
    }
    column = plan.role("y")
    assert (column.name, column.label, column.key) == (
        "Horsepower (avg)",
        "Average of Horsepower",
        "y0",
    )


def test_a_table_does_not_summarize_a_field_bound_without_aggregation() -> None:
    table = plan_of("table", {"values": ["Origin", "Weight", ("Weight", "sum")]})
    assert table.spec["dimensions"] == ["Origin", "Weight"]
    assert table.spec["measures"] == [{"field": "Weight", "agg": "sum"}]
    chart = plan_of("column", {"x": ["Origin"], "y": ["Weight"]})
    assert chart.spec["measures"] == [{"field": "Weight", "agg": "sum"}], "charts sum numbers"


def test_a_card_shows_the_first_value_of_a_text_field() -> None:
    plan = plan_of("card", {"values": ["Name"]})
    assert plan.spec["measures"] == [{"field": "Name", "agg": "min"}]


def test_a_number_aggregation_of_text_counts_it_instead() -> None:
    plan = plan_of("column", {"x": ["Origin"], "y": [("Name", "sum")]})
    assert plan.spec["measures"] == [{"field": "Name", "agg": "count"}]
    assert any("cannot sum" in w for w in plan.warnings)


def test_the_same_field_in_two_wells_is_queried_once_and_fills_both() -> None:
    plan = plan_of("clustered_column", {"x": ["Origin"], "y": ["Cars"], "color": ["Origin"]})
    assert plan.spec["dimensions"] == ["Origin"]
    assert plan.role("x") is plan.role("color")
    assert plan.role("x").roles == (Role("x", 0), Role("color", 0))


def test_with_a_legend_only_the_first_value_is_drawn() -> None:
    plan = plan_of("line", {"x": ["Year"], "y": ["Cars", ("MPG", "avg")], "color": ["Origin"]})
    assert plan.spec["measures"] == [{"measure": "Cars"}]


def test_filters_apply_report_then_page_then_visual() -> None:
    chosen = visual("card", {"values": ["Cars"]})
    chosen["filters"] = [{"field": "Cylinders", "op": "in", "values": [4]}]
    plan = query_for(
        chosen,
        filters=[
            {"field": "Origin", "op": "in", "values": ["USA"]},
            {"field": "year", "op": "range", "min": "1975-01-01"},
        ],
        dataset_fields=FIELDS,
    )
    assert plan.spec["filters"] == [
        {"field": "Origin", "op": "in", "values": ["USA"]},
        {"field": "Year", "op": "range", "min": "1975-01-01"},
        {"field": "Cylinders", "op": "in", "values": [4]},
    ]


def test_unusable_filters_are_left_out_with_a_warning() -> None:
    plan = query_for(
        visual("card", {"values": ["Cars"]}),
        filters=[
            {"field": "Region", "op": "in", "values": ["x"]},
            {"field": "Origin", "op": "between", "values": ["x"]},
            "not a filter",
        ],
        dataset_fields=FIELDS,
    )
    assert "filters" not in plan.spec
    assert len(plan.warnings) == 3


def test_a_slicer_lists_every_value_its_own_filter_would_hide() -> None:
    plan = query_for(
        visual("slicer", {"values": ["Origin"]}),
        filters=[
            {"field": "Origin", "op": "in", "values": ["USA"]},
            {"field": "Cylinders", "op": "in", "values": [4]},
        ],
        dataset_fields=FIELDS,
    )
    assert plan.spec["filters"] == [{"field": "Cylinders", "op": "in", "values": [4]}]
    assert plan.selection == ({"field": "Origin", "op": "in", "values": ["USA"]},)


def test_a_number_slicer_asks_for_the_range() -> None:
    plan = plan_of("slicer", {"values": ["Horsepower"]})
    assert plan.spec["measures"] == [
        {"field": "Horsepower", "agg": "min"},
        {"field": "Horsepower", "agg": "max"},
    ]
    assert "dimensions" not in plan.spec


def test_text_categories_are_cut_to_the_top_by_value() -> None:
    plan = plan_of("bar", {"y": ["Name"], "x": ["Cars"]})
    assert plan.strategy == "top"
    assert plan.spec["filters"] == [
        {"field": "Name", "op": "top", "n": 501, "by": {"measure": "Cars"}}
    ]
    assert (plan.category, plan.ranking) == ("y0", "x0")


def test_a_date_axis_keeps_its_first_categories() -> None:
    plan = plan_of("stacked_column", {"x": ["Year"], "y": ["Cars"], "color": ["Origin"]})
    assert plan.strategy == "first"
    assert "filters" not in plan.spec
    assert plan.spec["limit"] == 501 * 60, "room for 60 series of each of 501 categories"


def test_lines_fetch_rows_to_sample_from() -> None:
    plan = plan_of("line", {"x": ["Year"], "y": ["Cars"]})
    assert plan.strategy == "sample"
    assert plan.spec["limit"] == 30_001


def test_a_table_fetches_one_row_more_than_it_shows() -> None:
    plan = plan_of("table", {"values": ["Name", "Cars"]})
    assert (plan.strategy, plan.spec["limit"]) == ("first", 501)


def test_the_sort_property_orders_the_query() -> None:
    plan = plan_of(
        "column", {"x": ["Origin"], "y": ["Cars"]}, sort={"by": "Origin", "order": "desc"}
    )
    assert plan.spec["sort"] == [{"by": "Origin", "desc": True}]
    assert (plan.order.key, plan.order.descending) == ("x0", True)


def test_the_top_n_property_filters_the_categories() -> None:
    plan = plan_of(
        "column",
        {"x": ["Name"], "y": [("MPG", "avg")]},
        top_n={"n": 5, "by": "Weight", "bottom": True},
    )
    assert plan.spec["filters"] == [
        {
            "field": "Name",
            "op": "top",
            "n": 5,
            "by": {"field": "Weight", "agg": "sum"},
            "bottom": True,
        }
    ]
    assert plan.strategy == "none", "five categories need no further reduction"


def test_the_grain_property_groups_dates() -> None:
    plan = plan_of("line", {"x": ["Year"], "y": ["Cars"]}, grain={"x": "quarter"})
    assert plan.spec["dimensions"] == [{"field": "Year", "grain": "quarter"}]
    assert plan.role("x").name == "Year (quarter)"


def test_small_multiples_add_a_dimension() -> None:
    plan = plan_of(
        "column", {"x": ["Cylinders"], "y": ["Cars"]}, small_multiples={"field": "Origin"}
    )
    assert plan.spec["dimensions"] == ["Cylinders", "Origin"]
    assert plan.role("small_multiples").key == "small_multiples0"


def test_a_matrix_asks_for_every_subtotal_level() -> None:
    plan = plan_of(
        "matrix",
        {"rows": ["Origin", "Cylinders"], "columns": ["Heavy"], "values": ["Cars"]},
    )
    levels = {query.name: query.spec.get("dimensions", []) for query in plan.totals}
    assert levels == {
        "r0c0": [],
        "r0c1": ["Heavy"],
        "r1c0": ["Origin"],
        "r1c1": ["Origin", "Heavy"],
        "r2c0": ["Origin", "Cylinders"],
    }
    off = plan_of(
        "matrix",
        {"rows": ["Origin"], "columns": ["Heavy"], "values": ["Cars"]},
        subtotals={"rows": False, "columns": False},
    )
    assert off.totals == ()


def test_a_table_asks_for_its_total_row_unless_turned_off() -> None:
    plan = plan_of("table", {"values": ["Origin", ("MPG", "avg")]})
    assert [(q.name, q.spec) for q in plan.totals] == [
        ("total", {"measures": [{"field": "MPG", "agg": "avg"}]})
    ]
    assert plan_of("table", {"values": ["Origin", "Cars"]}, totals={"show": False}).totals == ()


def test_a_combo_with_a_legend_queries_its_lines_by_the_axis_alone() -> None:
    plan = plan_of(
        "combo",
        {"x": ["Origin"], "y": ["Cars"], "secondary_y": [("MPG", "avg")], "color": ["Cylinders"]},
    )
    assert plan.spec["measures"] == [{"measure": "Cars"}]
    (lines,) = plan.totals
    assert lines.name == "secondary"
    assert lines.spec["dimensions"] == ["Origin"]
    assert lines.spec["measures"] == [{"field": "MPG", "agg": "avg"}]


# -- any wells give a spec the query API takes -------------------------------------------------

NAMES = [f.name for f in FIELDS] + ["Nowhere"]
binding = st.fixed_dictionaries(
    {
        "field": st.sampled_from(NAMES),
        "aggregation": st.one_of(st.none(), st.sampled_from(sorted(AGGREGATIONS))),
    }
)


@st.composite
def visuals(draw: st.DrawFn) -> dict[str, Any]:
    visual_type = draw(st.sampled_from(sorted(VISUAL_TYPES)))
    wells = {
        name: draw(st.lists(binding, max_size=4, unique_by=lambda b: b["field"]))
        for name in draw(
            st.sets(
                st.sampled_from(
                    [
                        "x",
                        "y",
                        "secondary_y",
                        "color",
                        "size",
                        "details",
                        "tooltip",
                        "rows",
                        "columns",
                        "values",
                        "target",
                    ]
                )
            )
        )
    }
    properties = draw(
        st.fixed_dictionaries(
            {},
            optional={
                "sort": st.fixed_dictionaries(
                    {"by": st.sampled_from(NAMES), "order": st.sampled_from(["asc", "desc", 3])}
                ),
                "top_n": st.fixed_dictionaries(
                    {"n": st.integers(-1, 2000), "by": st.sampled_from(NAMES)}
                ),
                "grain": st.fixed_dictionaries(
                    {"x": st.sampled_from(["year", "month", "hour", 1])}
                ),
                "small_multiples": st.fixed_dictionaries({"field": st.sampled_from(NAMES)}),
            },
        )
    )
    return {"visual_type": visual_type, "wells": wells, "properties": properties}


@settings(max_examples=300, deadline=None)
@given(visuals())
def test_any_wells_give_a_query_the_api_and_the_compiler_accept(chosen: dict[str, Any]) -> None:
    plan = query_for(chosen, dataset_fields=FIELDS)
    if plan is None:
        return
    for spec in (plan.spec, *(q.spec for q in plan.totals)):
        decoded = decode_spec(json.dumps(spec))
        compiled = compile_query(
            decoded, SCHEMA, relation="cars", dialect="duckdb", today=dt.date(2020, 1, 1)
        )
        assert len(compiled.columns) == len(spec.get("dimensions", [])) + len(
            spec.get("measures", [])
        )
    answer_names = [
        c.name
        for c in compile_query(
            decode_spec(json.dumps(plan.spec)),
            SCHEMA,
            relation="cars",
            dialect="duckdb",
            today=dt.date(2020, 1, 1),
        ).columns
    ]
    assert answer_names == [c.name for c in plan.columns], "the plan names the answer's columns"


def test_dataset_fields_accept_plain_json() -> None:
    plan = query_for(
        visual("card", {"values": ["Total"]}),
        dataset_fields=[{"name": "Total", "kind": "measure"}, {"bad": 1}],
    )
    assert plan.spec == {"measures": [{"measure": "Total"}]}
    assert DatasetField(name="x").kind == "column"
