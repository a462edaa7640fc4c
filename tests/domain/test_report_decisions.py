"""Report decisions: each command is validated against the state and returns its event."""

from __future__ import annotations

from typing import Any
from uuid import UUID

import pytest

from domain.errors import AlreadyExists, InvalidCommand, NotFound, TargetDeleted
from domain.report import Report
from domain.report.events import (
    FieldBound,
    FieldMoved,
    PageAdded,
    ReportCreated,
    VisualAdded,
    VisualMoved,
)
from domain.report.filters import (
    Filter,
    InFilter,
    NotInFilter,
    RangeFilter,
    RelativeDateFilter,
    TopBy,
    TopFilter,
)
from tests.domain.report_replicas import REPORT_ID, WORKSPACE_ID, Replica

DATASET_ID = UUID(int=77)
PAGE = UUID("11111111-1111-4111-8111-111111111111")
PAGE_2 = UUID("22222222-2222-4222-8222-222222222222")
VISUAL = UUID("33333333-3333-4333-8333-333333333333")
VISUAL_2 = UUID("44444444-4444-4444-8444-444444444444")


@pytest.fixture
def replica() -> Replica:
    """A report with one page holding one empty column chart."""
    replica = Replica("r1")
    replica.do(lambda r: r.create(WORKSPACE_ID, "Sales", DATASET_ID))
    replica.do(lambda r: r.add_page(PAGE, "Overview"))
    replica.do(lambda r: r.add_visual(VISUAL, PAGE, "column", x=0, y=0, w=12, h=6))
    return replica


def visual_doc(replica: Replica, visual_id: UUID = VISUAL) -> dict[str, Any]:
    for page in replica.document()["pages"]:
        for visual in page["visuals"]:
            if visual["id"] == str(visual_id):
                return visual  # type: ignore[no-any-return]
    raise AssertionError(f"no visual {visual_id}")


def page_names(replica: Replica) -> list[str]:
    return [page["name"] for page in replica.document()["pages"]]


# -- report -----------------------------------------------------------------------------------


def test_create_returns_the_event_with_a_trimmed_name() -> None:
    event = Report(REPORT_ID).create(WORKSPACE_ID, "  Sales 2025 ", DATASET_ID)
    assert event == ReportCreated(
        report_id=REPORT_ID, workspace_id=WORKSPACE_ID, name="Sales 2025", dataset_id=DATASET_ID
    )


def test_the_report_knows_its_workspace_dataset_and_name(replica: Replica) -> None:
    assert replica.report.workspace_id == WORKSPACE_ID
    assert replica.report.dataset_id == DATASET_ID
    assert replica.report.name == "Sales"
    fresh = Report(REPORT_ID)
    assert (fresh.workspace_id, fresh.dataset_id, fresh.name) == (None, None, None)


def test_a_report_without_a_dataset_can_be_created() -> None:
    replica = Replica("r1")
    replica.do(lambda r: r.create(WORKSPACE_ID, "Empty", None))
    assert replica.document()["dataset_id"] is None


def test_creating_a_report_twice_is_already_exists(replica: Replica) -> None:
    with pytest.raises(AlreadyExists, match=str(REPORT_ID)):
        replica.report.create(WORKSPACE_ID, "Again", None)


@pytest.mark.parametrize(
    "decide",
    [
        lambda r: r.rename("x"),
        lambda r: r.add_page(PAGE, "p"),
        lambda r: r.set_property("report", "title", "t"),
        lambda r: r.set_filter("report", "year", InFilter(values=(2024,))),
        lambda r: r.remove_page(PAGE),
        lambda r: r.bind_field(VISUAL, "x", "region"),
    ],
)
def test_anything_before_create_is_not_found(decide: Any) -> None:
    with pytest.raises(NotFound):
        decide(Report(REPORT_ID))


def test_the_document_of_a_report_not_created_is_not_found() -> None:
    with pytest.raises(NotFound, match="does not exist"):
        Report(REPORT_ID).document()


@pytest.mark.parametrize(
    ("name", "detail"),
    [
        ("", "must not be empty"),
        ("   ", "must not be empty"),
        ("x" * 201, "at most 200 characters, got 201"),
        ("a\nb", "control characters"),
    ],
)
def test_report_names_are_1_to_200_characters(replica: Replica, name: str, detail: str) -> None:
    with pytest.raises(InvalidCommand, match=detail) as caught:
        replica.report.rename(name)
    assert caught.value.code == "invalid_name"


def test_a_name_of_200_characters_is_fine(replica: Replica) -> None:
    replica.do(lambda r: r.rename("x" * 200))
    assert replica.document()["name"] == "x" * 200


def test_rename_report(replica: Replica) -> None:
    replica.do(lambda r: r.rename(" Revenue "))
    assert replica.document()["name"] == "Revenue"


# -- pages ------------------------------------------------------------------------------------


def test_pages_are_added_at_the_end_by_default(replica: Replica) -> None:
    replica.do(lambda r: r.add_page(PAGE_2, "Details"))
    assert page_names(replica) == ["Overview", "Details"]


def test_a_page_is_added_at_its_index(replica: Replica) -> None:
    replica.do(lambda r: r.add_page(PAGE_2, "Cover", 0))
    replica.do(lambda r: r.add_page(UUID(int=3), "Middle", 1))
    replica.do(lambda r: r.add_page(UUID(int=4), "Far", 99))
    assert page_names(replica) == ["Cover", "Middle", "Overview", "Far"]


def test_a_negative_index_is_invalid(replica: Replica) -> None:
    with pytest.raises(InvalidCommand, match="index must be an integer >= 0, got -1"):
        replica.report.add_page(PAGE_2, "p", -1)


def test_adding_a_page_with_an_existing_id_is_already_exists(replica: Replica) -> None:
    with pytest.raises(AlreadyExists, match=f"page {PAGE}"):
        replica.report.add_page(PAGE, "Again")


def test_a_removed_page_id_cannot_be_reused(replica: Replica) -> None:
    replica.do(lambda r: r.remove_page(PAGE))
    with pytest.raises(AlreadyExists):
        replica.report.add_page(PAGE, "Again")


def test_rename_page(replica: Replica) -> None:
    replica.do(lambda r: r.rename_page(PAGE, " Summary "))
    assert page_names(replica) == ["Summary"]


def test_renaming_an_unknown_page_is_not_found(replica: Replica) -> None:
    with pytest.raises(NotFound, match=f"page {PAGE_2} is not on this report"):
        replica.report.rename_page(PAGE_2, "x")


@pytest.mark.parametrize("index", [0, 1, 2, 3, 10])
def test_move_page_puts_it_at_the_index(replica: Replica, index: int) -> None:
    for number, name in enumerate(["B", "C", "D"], start=1):
        replica.do(lambda r, n=number, name=name: r.add_page(UUID(int=n), name))
    replica.do(lambda r: r.move_page(PAGE, index))
    names = ["B", "C", "D"]
    names.insert(min(index, 3), "Overview")
    assert page_names(replica) == names


def test_remove_page_removes_its_visuals(replica: Replica) -> None:
    replica.do(lambda r: r.add_page(PAGE_2, "Other"))
    replica.do(lambda r: r.remove_page(PAGE))
    document = replica.document()
    assert [page["id"] for page in document["pages"]] == [str(PAGE_2)]
    with pytest.raises(TargetDeleted, match=f"visual {VISUAL} was removed with its page {PAGE}"):
        replica.report.move_visual(VISUAL, 1, 1)


@pytest.mark.parametrize(
    "decide",
    [
        lambda r: r.rename_page(PAGE, "x"),
        lambda r: r.move_page(PAGE, 0),
        lambda r: r.remove_page(PAGE),
        lambda r: r.add_visual(VISUAL_2, PAGE, "card", x=0, y=0, w=4, h=4),
        lambda r: r.set_property(f"page:{PAGE}", "background.color", "#fff"),
        lambda r: r.set_filter(f"page:{PAGE}", "year", InFilter(values=(1,))),
        lambda r: r.set_property(f"visual:{VISUAL}", "title.text", "t"),
    ],
)
def test_editing_a_removed_page_is_target_deleted(replica: Replica, decide: Any) -> None:
    replica.do(lambda r: r.remove_page(PAGE))
    with pytest.raises(TargetDeleted) as caught:
        decide(replica.report)
    assert str(PAGE) in caught.value.detail


# -- visuals ----------------------------------------------------------------------------------


def test_add_visual_returns_its_layout_and_a_z_key(replica: Replica) -> None:
    event = replica.report.add_visual(VISUAL_2, PAGE, "bar", x=12, y=0, w=12, h=6)
    assert isinstance(event, VisualAdded)
    assert (event.x, event.y, event.w, event.h) == (12, 0, 12, 6)
    assert event.key > visual_key(replica, VISUAL)


def visual_key(replica: Replica, visual_id: UUID) -> str:
    for event, _ in replica.log:
        if isinstance(event, VisualAdded | VisualMoved) and event.visual_id == visual_id:
            key = event.key
    assert key is not None
    return key


def test_a_new_visual_goes_on_top(replica: Replica) -> None:
    replica.do(lambda r: r.add_visual(VISUAL_2, PAGE, "card", x=0, y=0, w=4, h=4))
    visuals = replica.document()["pages"][0]["visuals"]
    assert [v["id"] for v in visuals] == [str(VISUAL), str(VISUAL_2)]


@pytest.mark.parametrize(
    ("layout", "detail"),
    [
        ((-1, 0, 4, 4), "x must be between 0 and 23, got -1"),
        ((24, 0, 1, 4), "x must be between 0 and 23, got 24"),
        ((0, 0, 0, 4), "w must be between 1 and 24, got 0"),
        ((0, 0, 25, 4), "w must be between 1 and 24, got 25"),
        ((20, 0, 5, 4), "x \\+ w must be at most 24, got 20 \\+ 5 = 25"),
        ((0, -1, 4, 4), "y must be between 0 and 999, got -1"),
        ((0, 0, 4, 0), "h must be between 1 and 100, got 0"),
        ((0, 0, 4, 101), "h must be between 1 and 100, got 101"),
        ((0, 950, 4, 60), "y \\+ h must be at most 1000, got 950 \\+ 60 = 1010"),
        ((0, 0, True, 4), "w must be between 1 and 24, got True"),
    ],
)
def test_visuals_stay_on_the_grid(
    replica: Replica, layout: tuple[int, int, int, int], detail: str
) -> None:
    x, y, w, h = layout
    with pytest.raises(InvalidCommand, match=detail) as caught:
        replica.report.add_visual(VISUAL_2, PAGE, "card", x=x, y=y, w=w, h=h)
    assert caught.value.code == "invalid_layout"


def test_the_grid_corners_are_allowed(replica: Replica) -> None:
    replica.do(lambda r: r.add_visual(VISUAL_2, PAGE, "card", x=23, y=900, w=1, h=100))
    assert visual_doc(replica, VISUAL_2)["layout"] == {"x": 23, "y": 900, "w": 1, "h": 100}


def test_an_unknown_visual_type_is_invalid(replica: Replica) -> None:
    with pytest.raises(InvalidCommand, match="unknown visual type 'sparkle'") as caught:
        replica.report.add_visual(VISUAL_2, PAGE, "sparkle", x=0, y=0, w=4, h=4)
    assert caught.value.code == "unknown_visual_type"


def test_a_visual_id_is_never_reused(replica: Replica) -> None:
    with pytest.raises(AlreadyExists, match=f"visual {VISUAL}"):
        replica.report.add_visual(VISUAL, PAGE, "card", x=0, y=0, w=4, h=4)
    replica.do(lambda r: r.remove_visual(VISUAL))
    with pytest.raises(AlreadyExists):
        replica.report.add_visual(VISUAL, PAGE, "card", x=0, y=0, w=4, h=4)


def test_a_visual_on_an_unknown_page_is_not_found(replica: Replica) -> None:
    with pytest.raises(NotFound, match=f"page {PAGE_2}"):
        replica.report.add_visual(VISUAL_2, PAGE_2, "card", x=0, y=0, w=4, h=4)


def test_move_visual(replica: Replica) -> None:
    replica.do(lambda r: r.move_visual(VISUAL, 12, 30))
    assert visual_doc(replica)["layout"] == {"x": 12, "y": 30, "w": 12, "h": 6}


def test_a_move_must_keep_the_current_width_on_the_grid(replica: Replica) -> None:
    with pytest.raises(InvalidCommand, match="x \\+ w must be at most 24, got 13 \\+ 12"):
        replica.report.move_visual(VISUAL, 13, 0)


def test_move_visual_can_change_the_z_order(replica: Replica) -> None:
    replica.do(lambda r: r.add_visual(VISUAL_2, PAGE, "card", x=0, y=0, w=4, h=4))
    replica.do(lambda r: r.move_visual(VISUAL_2, 0, 0, z_index=0))
    visuals = replica.document()["pages"][0]["visuals"]
    assert [v["id"] for v in visuals] == [str(VISUAL_2), str(VISUAL)]
    replica.do(lambda r: r.move_visual(VISUAL_2, 0, 0, z_index=5))
    visuals = replica.document()["pages"][0]["visuals"]
    assert [v["id"] for v in visuals] == [str(VISUAL), str(VISUAL_2)]


def test_resize_visual(replica: Replica) -> None:
    replica.do(lambda r: r.resize_visual(VISUAL, 24, 10))
    assert visual_doc(replica)["layout"] == {"x": 0, "y": 0, "w": 24, "h": 10}


def test_a_resize_must_keep_the_current_position_on_the_grid(replica: Replica) -> None:
    replica.do(lambda r: r.move_visual(VISUAL, 10, 0))
    with pytest.raises(InvalidCommand, match="x \\+ w must be at most 24, got 10 \\+ 15"):
        replica.report.resize_visual(VISUAL, 15, 5)


def test_change_visual_type_keeps_bindings_that_fit(replica: Replica) -> None:
    replica.do(lambda r: r.bind_field(VISUAL, "x", "region"))
    replica.do(lambda r: r.bind_field(VISUAL, "y", "sales", "sum"))
    replica.do(lambda r: r.change_visual_type(VISUAL, "line"))
    visual = visual_doc(replica)
    assert visual["visual_type"] == "line"
    assert visual["wells"] == {
        "x": [{"field": "region", "aggregation": None}],
        "y": [{"field": "sales", "aggregation": "sum"}],
        "secondary_y": [],
        "color": [],
        "tooltip": [],
    }


def test_change_visual_type_refuses_to_lose_bindings(replica: Replica) -> None:
    replica.do(lambda r: r.bind_field(VISUAL, "x", "region"))
    replica.do(lambda r: r.bind_field(VISUAL, "y", "sales", "sum"))
    replica.do(lambda r: r.bind_field(VISUAL, "y", "profit", "sum"))
    with pytest.raises(InvalidCommand) as caught:
        replica.report.change_visual_type(VISUAL, "card")
    assert caught.value.code == "bindings_would_be_lost"
    assert "x: region" in caught.value.detail
    assert "y: sales" in caught.value.detail
    with pytest.raises(InvalidCommand, match="y: sum\\(sales\\)"):
        replica.report.change_visual_type(VISUAL, "heatmap")  # y of a heatmap is a dimension
    with pytest.raises(InvalidCommand, match="y: 2 fields where a waterfall takes 1"):
        replica.report.change_visual_type(VISUAL, "waterfall")


def test_after_unbinding_the_type_can_change(replica: Replica) -> None:
    replica.do(lambda r: r.bind_field(VISUAL, "x", "region"))
    replica.do(lambda r: r.unbind_field(VISUAL, "x", "region"))
    replica.do(lambda r: r.change_visual_type(VISUAL, "card"))
    assert visual_doc(replica)["wells"] == {"values": []}


def test_remove_visual(replica: Replica) -> None:
    replica.do(lambda r: r.remove_visual(VISUAL))
    assert replica.document()["pages"][0]["visuals"] == []


@pytest.mark.parametrize(
    "decide",
    [
        lambda r: r.move_visual(VISUAL, 0, 0),
        lambda r: r.resize_visual(VISUAL, 4, 4),
        lambda r: r.change_visual_type(VISUAL, "bar"),
        lambda r: r.remove_visual(VISUAL),
        lambda r: r.bind_field(VISUAL, "x", "region"),
        lambda r: r.unbind_field(VISUAL, "x", "region"),
        lambda r: r.set_property(f"visual:{VISUAL}", "title.text", "t"),
        lambda r: r.set_filter(f"visual:{VISUAL}", "year", InFilter(values=(1,))),
        lambda r: r.clear_filter(f"visual:{VISUAL}", "year"),
    ],
)
def test_editing_a_removed_visual_is_target_deleted(replica: Replica, decide: Any) -> None:
    replica.do(lambda r: r.remove_visual(VISUAL))
    with pytest.raises(TargetDeleted, match=f"visual {VISUAL} was removed") as caught:
        decide(replica.report)
    assert caught.value.code == "visual_removed"


def test_an_unknown_visual_is_not_found(replica: Replica) -> None:
    with pytest.raises(NotFound, match=f"visual {VISUAL_2} is not on this report"):
        replica.report.move_visual(VISUAL_2, 0, 0)


# -- field wells ------------------------------------------------------------------------------


def wells(replica: Replica, visual_id: UUID = VISUAL) -> dict[str, list[dict[str, Any]]]:
    return visual_doc(replica, visual_id)["wells"]  # type: ignore[no-any-return]


def test_fields_are_bound_in_order(replica: Replica) -> None:
    replica.do(lambda r: r.bind_field(VISUAL, "y", "sales", "sum"))
    replica.do(lambda r: r.bind_field(VISUAL, "y", "profit", "avg"))
    replica.do(lambda r: r.bind_field(VISUAL, "y", "cost", None, 0))
    assert wells(replica)["y"] == [
        {"field": "cost", "aggregation": None},
        {"field": "sales", "aggregation": "sum"},
        {"field": "profit", "aggregation": "avg"},
    ]


def test_binding_a_bound_field_at_another_index_moves_it(replica: Replica) -> None:
    for field in ("a", "b", "c"):
        replica.do(lambda r, f=field: r.bind_field(VISUAL, "tooltip", f, "sum"))
    event = replica.do(lambda r: r.bind_field(VISUAL, "tooltip", "c", "sum", 0))
    assert isinstance(event, FieldMoved)
    assert [f["field"] for f in wells(replica)["tooltip"]] == ["c", "a", "b"]
    replica.do(lambda r: r.bind_field(VISUAL, "tooltip", "c", "sum", 2))
    assert [f["field"] for f in wells(replica)["tooltip"]] == ["a", "b", "c"]


def test_binding_a_bound_field_with_another_aggregation_rebinds_it_in_place(
    replica: Replica,
) -> None:
    replica.do(lambda r: r.bind_field(VISUAL, "y", "sales", "sum"))
    replica.do(lambda r: r.bind_field(VISUAL, "y", "profit", "sum"))
    event = replica.do(lambda r: r.bind_field(VISUAL, "y", "sales", "avg"))
    assert isinstance(event, FieldBound)
    assert wells(replica)["y"] == [
        {"field": "sales", "aggregation": "avg"},
        {"field": "profit", "aggregation": "sum"},
    ]


def test_binding_to_a_well_the_type_lacks_is_invalid(replica: Replica) -> None:
    with pytest.raises(InvalidCommand, match="a column visual has no well 'rows'") as caught:
        replica.report.bind_field(VISUAL, "rows", "region")
    assert caught.value.code == "unknown_well"


def test_a_dimension_well_takes_no_aggregation(replica: Replica) -> None:
    with pytest.raises(InvalidCommand, match="well x of a column visual takes no aggregation"):
        replica.report.bind_field(VISUAL, "x", "region", "sum")


def test_an_unknown_aggregation_is_invalid(replica: Replica) -> None:
    with pytest.raises(InvalidCommand, match="aggregation must be one of avg, count"):
        replica.report.bind_field(VISUAL, "y", "sales", "p99")


@pytest.mark.parametrize("field", ["", " ", "x" * 201])
def test_a_field_name_is_1_to_200_characters(replica: Replica, field: str) -> None:
    with pytest.raises(InvalidCommand, match="field name"):
        replica.report.bind_field(VISUAL, "x", field)


def test_a_full_well_takes_no_more_fields(replica: Replica) -> None:
    replica.do(lambda r: r.bind_field(VISUAL, "x", "region"))
    with pytest.raises(InvalidCommand, match="at most 1 field\\(s\\) and holds region") as caught:
        replica.report.bind_field(VISUAL, "x", "country")
    assert caught.value.code == "well_full"


def test_unbind_field(replica: Replica) -> None:
    replica.do(lambda r: r.bind_field(VISUAL, "x", "region"))
    replica.do(lambda r: r.unbind_field(VISUAL, "x", "region"))
    assert wells(replica)["x"] == []


def test_unbinding_a_field_not_in_the_well_is_not_found(replica: Replica) -> None:
    with pytest.raises(NotFound, match="field 'region' is not in well x of visual"):
        replica.report.unbind_field(VISUAL, "x", "region")


def test_a_field_can_be_bound_again_after_unbinding(replica: Replica) -> None:
    replica.do(lambda r: r.bind_field(VISUAL, "y", "sales", "sum"))
    replica.do(lambda r: r.unbind_field(VISUAL, "y", "sales"))
    replica.do(lambda r: r.bind_field(VISUAL, "y", "sales", "max"))
    assert wells(replica)["y"] == [{"field": "sales", "aggregation": "max"}]


# -- properties -------------------------------------------------------------------------------


def props(replica: Replica) -> dict[str, Any]:
    return visual_doc(replica)["properties"]  # type: ignore[no-any-return]


def set_prop(replica: Replica, path: str, value: Any, target: str = f"visual:{VISUAL}") -> None:
    replica.do(lambda r: r.set_property(target, path, value))


def test_properties_nest_along_the_path(replica: Replica) -> None:
    set_prop(replica, "title.text", "Revenue")
    set_prop(replica, "title.font.size", 14)
    set_prop(replica, "legend", {"show": False})
    assert props(replica) == {
        "title": {"text": "Revenue", "font": {"size": 14}},
        "legend": {"show": False},
    }


def test_a_later_set_of_a_prefix_replaces_the_deeper_values(replica: Replica) -> None:
    set_prop(replica, "title.text", "Revenue")
    set_prop(replica, "title.color", "red")
    set_prop(replica, "title", {"text": "Plain"})
    assert props(replica) == {"title": {"text": "Plain"}}


def test_a_later_deeper_set_edits_inside_an_older_prefix(replica: Replica) -> None:
    set_prop(replica, "title", {"text": "Plain", "color": "red"})
    set_prop(replica, "title.text", "Revenue")
    assert props(replica) == {"title": {"text": "Revenue", "color": "red"}}


def test_a_deeper_set_replaces_a_scalar_prefix(replica: Replica) -> None:
    set_prop(replica, "title", "just text")
    set_prop(replica, "title.text", "Revenue")
    assert props(replica) == {"title": {"text": "Revenue"}}


def test_null_removes_the_key(replica: Replica) -> None:
    set_prop(replica, "title.text", "Revenue")
    set_prop(replica, "title.color", "red")
    set_prop(replica, "title.text", None)
    set_prop(replica, "nothing.here", None)
    assert props(replica) == {"title": {"color": "red"}}


def test_the_document_does_not_share_property_values(replica: Replica) -> None:
    set_prop(replica, "colors", ["red", "blue"])
    props(replica)["colors"].append("green")
    assert props(replica) == {"colors": ["red", "blue"]}


def test_report_and_page_properties_show_in_the_document(replica: Replica) -> None:
    set_prop(replica, "theme", "dark", target="report")
    set_prop(replica, "background.color", "#fff", target=f"page:{PAGE}")
    document = replica.document()
    assert document["properties"] == {"theme": "dark"}
    assert document["pages"][0]["properties"] == {"background": {"color": "#fff"}}


def test_targets_are_stored_in_one_spelling(replica: Replica) -> None:
    event = replica.report.set_property(f"visual:{str(VISUAL).upper()}", "a", 1)
    assert event.target == f"visual:{VISUAL}"


@pytest.mark.parametrize("target", ["", "Report", "page:", "page:nope", "chart:" + str(VISUAL)])
def test_a_malformed_target_is_invalid(replica: Replica, target: str) -> None:
    with pytest.raises(InvalidCommand, match="target must be") as caught:
        replica.report.set_property(target, "a", 1)
    assert caught.value.code == "invalid_target"


@pytest.mark.parametrize(
    "path", ["", "title.", ".title", "title..text", "1st", "title-text", "a.b.c.d.e.f.g", "é"]
)
def test_a_malformed_path_is_invalid(replica: Replica, path: str) -> None:
    with pytest.raises(InvalidCommand, match="property path") as caught:
        replica.report.set_property("report", path, 1)
    assert caught.value.code == "invalid_property"


def test_a_path_of_six_segments_is_fine(replica: Replica) -> None:
    set_prop(replica, "a.b.c.d.e.f", 1, target="report")
    assert replica.document()["properties"] == {"a": {"b": {"c": {"d": {"e": {"f": 1}}}}}}


@pytest.mark.parametrize(
    "value", [float("nan"), float("inf"), 2**53, {1: "a"}, {"a": {1, 2}}, b"bytes"]
)
def test_a_value_that_is_not_portable_json_is_invalid(replica: Replica, value: Any) -> None:
    with pytest.raises(InvalidCommand) as caught:
        replica.report.set_property("report", "a", value)
    assert caught.value.code == "invalid_value"


def test_a_value_over_64_kib_is_invalid(replica: Replica) -> None:
    with pytest.raises(InvalidCommand, match="bytes of JSON, at most 65536"):
        replica.report.set_property("report", "text", "x" * 70_000)


# -- filters ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("flt", "entry"),
    [
        (InFilter(values=("EU", "US")), {"op": "in", "values": ["EU", "US"]}),
        (NotInFilter(values=(None,)), {"op": "not_in", "values": [None]}),
        (RangeFilter(min=1, max=5.5), {"op": "range", "min": 1, "max": 5.5}),
        (RangeFilter(min="2024-01-01"), {"op": "range", "min": "2024-01-01", "max": None}),
        (
            RelativeDateFilter(unit="month", last=3),
            {"op": "relative_date", "unit": "month", "last": 3},
        ),
        (
            TopFilter(n=5, by=TopBy(field="sales", agg="sum")),
            {"op": "top", "n": 5, "by": {"field": "sales", "agg": "sum"}},
        ),
        (
            TopFilter(n=5, by=TopBy(measure="Margin")),
            {"op": "top", "n": 5, "by": {"measure": "Margin"}},
        ),
    ],
)
def test_a_filter_shows_as_a_query_spec_filter(
    replica: Replica, flt: Filter, entry: dict[str, Any]
) -> None:
    replica.do(lambda r: r.set_filter(f"visual:{VISUAL}", "region", flt))
    assert visual_doc(replica)["filters"] == [{"field": "region", **entry}]


def test_filters_are_listed_in_the_order_first_set(replica: Replica) -> None:
    target = f"page:{PAGE}"
    replica.do(lambda r: r.set_filter(target, "year", InFilter(values=(2024,))))
    replica.do(lambda r: r.set_filter(target, "region", InFilter(values=("EU",))))
    replica.do(lambda r: r.set_filter(target, "year", InFilter(values=(2025,))))
    filters = replica.document()["pages"][0]["filters"]
    assert filters == [
        {"field": "year", "op": "in", "values": [2025]},
        {"field": "region", "op": "in", "values": ["EU"]},
    ]


def test_clear_filter(replica: Replica) -> None:
    replica.do(lambda r: r.set_filter("report", "year", InFilter(values=(2024,))))
    replica.do(lambda r: r.set_filter("report", "region", InFilter(values=("EU",))))
    replica.do(lambda r: r.clear_filter("report", "year"))
    assert replica.document()["filters"] == [{"field": "region", "op": "in", "values": ["EU"]}]
    replica.do(lambda r: r.set_filter("report", "year", InFilter(values=(2023,))))
    assert [f["field"] for f in replica.document()["filters"]] == ["year", "region"]


def test_clearing_a_filter_not_set_is_not_found(replica: Replica) -> None:
    with pytest.raises(NotFound, match="there is no filter on 'year' of report"):
        replica.report.clear_filter("report", "year")


@pytest.mark.parametrize(
    ("flt", "detail"),
    [
        (InFilter(values=()), "takes 1 to 1000 values, got 0"),
        (InFilter(values=tuple(range(1001))), "takes 1 to 1000 values, got 1001"),
        (NotInFilter(values=(float("nan"),)), "filter values must be"),
        (InFilter(values=("x" * 1001,)), "at most 1000 characters"),
        (RangeFilter(), "needs a min, a max or both"),
        (RangeFilter(min=5, max=1), "min must not exceed max"),
        (RangeFilter(min=1, max="2024"), "both be numbers or both be strings"),
        (RangeFilter(min=True), "must be a number or an ISO date string"),
        (RelativeDateFilter(unit="fortnight", last=1), "unit must be one of"),
        (RelativeDateFilter(unit="day", last=0), "last must be between 1 and 1000, got 0"),
        (RelativeDateFilter(unit="day", last=1001), "last must be between 1 and 1000"),
        (TopFilter(n=0, by=TopBy(measure="m")), "top n must be between 1 and 1000, got 0"),
        (TopFilter(n=1001, by=TopBy(measure="m")), "top n must be between 1 and 1000"),
        (TopFilter(n=5, by=TopBy()), "needs \\{field, agg\\} or \\{measure\\}"),
        (TopFilter(n=5, by=TopBy(field="s")), "needs \\{field, agg\\} or \\{measure\\}"),
        (TopFilter(n=5, by=TopBy(field="s", agg="sum", measure="m")), "not both"),
        (TopFilter(n=5, by=TopBy(field="s", agg="mode")), "agg must be one of"),
    ],
)
def test_filters_are_checked(replica: Replica, flt: Filter, detail: str) -> None:
    with pytest.raises(InvalidCommand, match=detail) as caught:
        replica.report.set_filter("report", "region", flt)
    assert caught.value.code == "invalid_filter"


def test_a_filter_of_1000_values_is_fine(replica: Replica) -> None:
    replica.do(lambda r: r.set_filter("report", "id", InFilter(values=tuple(range(1000)))))
    assert len(replica.document()["filters"][0]["values"]) == 1000


def test_page_added_event_carries_a_key_not_an_index(replica: Replica) -> None:
    event = replica.report.add_page(PAGE_2, "Second", 0)
    assert isinstance(event, PageAdded)
    assert event.key < visual_key_of_page(replica)


def visual_key_of_page(replica: Replica) -> str:
    added = next(e for e, _ in replica.log if isinstance(e, PageAdded) and e.page_id == PAGE)
    return added.key
