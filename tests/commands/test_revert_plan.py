"""Revert plans: the commands that bring a report back to an earlier version's document."""

from __future__ import annotations

import uuid
from typing import Any
from uuid import UUID

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from commands.decide import decide
from commands.report import (
    AddPage,
    AddVisual,
    BindField,
    ChangeVisualType,
    ClearFilter,
    MovePage,
    MoveVisual,
    RemovePage,
    RemoveVisual,
    RenamePage,
    RenameReport,
    ResizeVisual,
    SetProperty,
    UnbindField,
)
from commands.revert import RevertPlan, make_revert_plan, plan_revert, recreated_id
from domain.report.diff import Change, diff
from domain.report.filters import InFilter, RangeFilter
from domain.report.visuals import VISUAL_TYPES
from tests.domain.report_histories import histories
from tests.domain.report_replicas import WORKSPACE_ID, Replica, Stamped

SEED = UUID("5eed5eed-0000-4000-8000-000000000000")
PAGE = UUID("11111111-1111-4111-8111-111111111111")
PAGE_2 = UUID("22222222-2222-4222-8222-222222222222")
PAGE_3 = UUID("55555555-5555-4555-8555-555555555555")
VISUAL = UUID("33333333-3333-4333-8333-333333333333")
VISUAL_2 = UUID("44444444-4444-4444-8444-444444444444")
VISUAL_3 = UUID("66666666-6666-4666-8666-666666666666")


def execute(replica: Replica, plan: RevertPlan | list[Any]) -> None:
    """Decide every planned command on the replica's report (any refusal fails the test)."""
    commands = plan.commands if isinstance(plan, RevertPlan) else plan
    for command in commands:
        replica.do(lambda r, c=command: decide(r, c))


def with_old_ids(document: dict[str, Any], recreated: dict[str, str]) -> dict[str, Any]:
    back = {new: old for old, new in recreated.items()}
    pages = []
    for page in document["pages"]:
        visuals = [{**v, "id": back.get(v["id"], v["id"])} for v in page["visuals"]]
        pages.append({**page, "id": back.get(page["id"], page["id"]), "visuals": visuals})
    return {**document, "pages": pages}


def reverted(replica: Replica, target: dict[str, Any], seed: UUID = SEED) -> RevertPlan:
    plan = make_revert_plan(replica.report, target, seed=seed)
    execute(replica, plan)
    assert with_old_ids(replica.document(), plan.recreated) == target
    assert plan.unrestorable == []
    return plan


@pytest.fixture
def replica() -> Replica:
    """'Sales': page 'Overview' with a titled, filtered column chart (region on x, sum and avg
    on y) and a card; page 'Detail', empty."""
    replica = Replica("ana")
    replica.do(lambda r: r.create(WORKSPACE_ID, "Sales", None))
    replica.do(lambda r: r.add_page(PAGE, "Overview"))
    replica.do(lambda r: r.add_page(PAGE_2, "Detail"))
    replica.do(lambda r: r.add_visual(VISUAL, PAGE, "column", x=0, y=0, w=6, h=4))
    replica.do(lambda r: r.bind_field(VISUAL, "x", "region"))
    replica.do(lambda r: r.bind_field(VISUAL, "y", "sales", "sum"))
    replica.do(lambda r: r.bind_field(VISUAL, "y", "profit", "avg"))
    replica.do(lambda r: r.set_property(f"visual:{VISUAL}", "title", {"text": "By region"}))
    replica.do(lambda r: r.set_filter(f"visual:{VISUAL}", "year", InFilter(values=(2024,))))
    replica.do(lambda r: r.add_visual(VISUAL_2, PAGE, "card", x=6, y=0, w=4, h=4))
    replica.do(lambda r: r.set_filter("report", "region", InFilter(values=("EU",))))
    return replica


def test_reverting_to_the_same_document_plans_nothing(replica: Replica) -> None:
    assert plan_revert(replica.report, replica.document(), seed=SEED) == []


def test_renames_moves_and_resizes_are_set_back(replica: Replica) -> None:
    target = replica.document()
    replica.do(lambda r: r.rename("Revenue"))
    replica.do(lambda r: r.rename_page(PAGE, "Summary"))
    replica.do(lambda r: r.move_page(PAGE_2, 0))
    replica.do(lambda r: r.move_visual(VISUAL, 10, 8))
    replica.do(lambda r: r.resize_visual(VISUAL_2, 2, 9))
    plan = make_revert_plan(replica.report, target, seed=SEED)
    assert plan.commands == [
        RenameReport(name="Sales"),
        RenamePage(page_id=PAGE, name="Overview"),
        MovePage(page_id=PAGE, index=0),
        MoveVisual(visual_id=VISUAL, x=0, y=0),
        ResizeVisual(visual_id=VISUAL_2, w=4, h=4),
    ]
    reverted(replica, target)


def test_a_move_and_resize_that_cannot_pass_each_other_go_through_a_smaller_size(
    replica: Replica,
) -> None:
    replica.do(lambda r: r.move_visual(VISUAL_2, 20, 0))
    replica.do(lambda r: r.resize_visual(VISUAL_2, 4, 100))  # narrow and tall, top right
    target = replica.document()
    replica.do(lambda r: r.move_visual(VISUAL_2, 0, 0))
    replica.do(lambda r: r.resize_visual(VISUAL_2, 20, 10))
    replica.do(lambda r: r.move_visual(VISUAL_2, 0, 990))  # wide and short, bottom left
    # Moving first leaves the old width off the grid (20 + 20), resizing first the new height
    # (990 + 100): shrink where it is, move, then grow.
    plan = reverted(replica, target)
    assert plan.commands == [
        ResizeVisual(visual_id=VISUAL_2, w=4, h=10),
        MoveVisual(visual_id=VISUAL_2, x=20, y=0),
        ResizeVisual(visual_id=VISUAL_2, w=4, h=100),
    ]


def test_a_type_change_is_undone_after_unbinding_what_the_old_type_cannot_hold(
    replica: Replica,
) -> None:
    target = replica.document()
    for field in ("region", "sales", "profit"):
        well = "x" if field == "region" else "y"
        replica.do(lambda r, f=field, w=well: r.unbind_field(VISUAL, w, f))
    replica.do(lambda r: r.change_visual_type(VISUAL, "pie"))
    replica.do(lambda r: r.bind_field(VISUAL, "values", "sales", "count"))
    replica.do(lambda r: r.bind_field(VISUAL, "color", "year"))
    plan = reverted(replica, target)
    assert plan.commands == [
        UnbindField(visual_id=VISUAL, well="color", field="year"),
        UnbindField(visual_id=VISUAL, well="values", field="sales"),
        ChangeVisualType(visual_id=VISUAL, visual_type="column"),
        BindField(visual_id=VISUAL, well="x", field="region", aggregation=None, index=0),
        BindField(visual_id=VISUAL, well="y", field="sales", aggregation="sum", index=0),
        BindField(visual_id=VISUAL, well="y", field="profit", aggregation="avg", index=1),
    ]


def test_wells_are_rebound_reordered_and_unbound(replica: Replica) -> None:
    target = replica.document()
    replica.do(lambda r: r.bind_field(VISUAL, "y", "profit", "avg", 0))  # reorder
    replica.do(lambda r: r.bind_field(VISUAL, "y", "sales", "max"))  # rebind
    replica.do(lambda r: r.bind_field(VISUAL, "tooltip", "year"))  # added since
    plan = reverted(replica, target)
    assert plan.commands == [  # the move and the rebind are one command
        BindField(visual_id=VISUAL, well="y", field="sales", aggregation="sum", index=0),
        UnbindField(visual_id=VISUAL, well="tooltip", field="year"),
    ]


def test_properties_and_filters_are_set_back(replica: Replica) -> None:
    target = replica.document()
    visual = f"visual:{VISUAL}"
    replica.do(lambda r: r.set_property(visual, "title.text", "Revenue"))
    replica.do(lambda r: r.set_property(visual, "title.color", "red"))
    replica.do(lambda r: r.set_property(visual, "legend", {"show": False}))
    replica.do(lambda r: r.set_property("report", "theme", "dark"))
    replica.do(lambda r: r.set_filter(visual, "year", RangeFilter(min=2020)))
    replica.do(lambda r: r.clear_filter("report", "region"))
    replica.do(lambda r: r.set_filter(f"page:{PAGE}", "year", InFilter(values=(1,))))
    plan = reverted(replica, target)
    assert set(plan.commands) >= {
        SetProperty(target=visual, path="title.text", value="By region"),
        SetProperty(target=visual, path="title.color", value=None),
        SetProperty(target=visual, path="legend", value=None),
        SetProperty(target="report", path="theme", value=None),
        ClearFilter(target=f"page:{PAGE}", field="year"),
    }


def test_things_added_since_are_removed(replica: Replica) -> None:
    target = replica.document()
    replica.do(lambda r: r.add_page(PAGE_3, "New"))
    replica.do(lambda r: r.add_visual(VISUAL_3, PAGE, "table", x=0, y=4, w=4, h=4))
    plan = reverted(replica, target)
    assert plan.commands == [RemovePage(page_id=PAGE_3), RemoveVisual(visual_id=VISUAL_3)]


def test_removed_pages_and_visuals_come_back_under_new_ids_with_everything(
    replica: Replica,
) -> None:
    replica.do(lambda r: r.set_filter(f"page:{PAGE}", "year", InFilter(values=(2025,))))
    replica.do(lambda r: r.set_property(f"page:{PAGE}", "background", "#eee"))
    replica.do(lambda r: r.move_visual(VISUAL, 0, 0, z_index=5))  # the chart on top
    target = replica.document()
    replica.do(lambda r: r.remove_page(PAGE))
    replica.do(lambda r: r.add_page(PAGE_3, "Other", 0))
    plan = reverted(replica, target)
    new_page = recreated_id(SEED, str(PAGE))
    new_chart = recreated_id(SEED, str(VISUAL))
    assert plan.recreated == {
        str(PAGE): str(new_page),
        str(VISUAL): str(new_chart),
        str(VISUAL_2): str(recreated_id(SEED, str(VISUAL_2))),
    }
    assert new_page == uuid.uuid5(SEED, str(PAGE))
    assert plan.commands[:2] == [
        RemovePage(page_id=PAGE_3),
        AddPage(page_id=new_page, name="Overview", index=0),
    ]
    assert (
        AddVisual(visual_id=new_chart, page_id=new_page, visual_type="column", x=0, y=0, w=6, h=4)
        in plan.commands
    )
    # The same seed plans the same; another seed other ids.
    again = Replica("bob")
    again.sync(replica.log[: -len(plan.commands)])
    assert plan_revert(again.report, target, seed=SEED) == plan.commands
    other = make_revert_plan(again.report, target, seed=UUID(int=1))
    assert other.recreated[str(PAGE)] != str(new_page)


def test_a_removed_visual_comes_back_in_its_place_in_the_z_order(replica: Replica) -> None:
    replica.do(lambda r: r.add_visual(VISUAL_3, PAGE, "table", x=0, y=4, w=4, h=4))
    target = replica.document()  # chart, card, table (bottom to top)
    replica.do(lambda r: r.remove_visual(VISUAL))
    plan = reverted(replica, target)
    new_chart = recreated_id(SEED, str(VISUAL))
    assert plan.commands[-1] == MoveVisual(visual_id=new_chart, x=0, y=0, z_index=0)


def test_a_second_revert_with_the_same_seed_finds_fresh_ids(replica: Replica) -> None:
    target = replica.document()
    replica.do(lambda r: r.remove_visual(VISUAL_2))
    first = reverted(replica, target)
    again = UUID(first.recreated[str(VISUAL_2)])
    replica.do(lambda r: r.remove_visual(again))
    second = reverted(replica, target)
    assert second.recreated[str(VISUAL_2)] != first.recreated[str(VISUAL_2)]


def test_a_well_fuller_than_its_type_allows_is_reported_not_forced() -> None:
    ana = Replica("ana")
    ana.do(lambda r: r.create(WORKSPACE_ID, "Sales", None))
    ana.do(lambda r: r.add_page(PAGE, "Overview"))
    ana.do(lambda r: r.add_visual(VISUAL, PAGE, "card", x=0, y=0, w=4, h=4))
    bob = Replica("bob")
    bob.sync(ana.log)
    ana.do(lambda r: r.bind_field(VISUAL, "values", "sales", "sum"))
    bob.do(lambda r: r.bind_field(VISUAL, "values", "profit", "sum"))
    ana.sync(bob.log)
    target = ana.document()  # a card with two fields: only concurrent binds make that
    assert len(target["pages"][0]["visuals"][0]["wells"]["values"]) == 2
    ana.do(lambda r: r.remove_visual(VISUAL))
    plan = make_revert_plan(ana.report, target, seed=SEED)
    execute(ana, plan)
    differences = diff(target, with_old_ids(ana.document(), plan.recreated))
    assert [change.path for change in differences] == [
        f"pages[{PAGE}].visuals[{VISUAL}].wells.values"
    ]
    assert plan.unrestorable[0].startswith(f"pages[{PAGE}].visuals[{VISUAL}].wells.values")
    assert any("well_full" in note or "takes at most" in note for note in plan.unrestorable)


def test_a_document_of_another_report_is_refused(replica: Replica) -> None:
    with pytest.raises(ValueError, match="not"):
        plan_revert(replica.report, {**replica.document(), "id": str(UUID(int=5))}, seed=SEED)


def test_planning_leaves_the_report_alone(replica: Replica) -> None:
    target = replica.document()
    replica.do(lambda r: r.remove_page(PAGE))
    before = replica.document()
    version = replica.report.version_vector
    plan_revert(replica.report, target, seed=SEED)
    assert replica.document() == before
    assert replica.report.version_vector == version


# -- any history, any earlier version ---------------------------------------------------------


def artifact(change: Change, target: dict[str, Any]) -> bool:
    """Whether a difference left by the plan is one no command can undo: a well of the target
    holding more fields than it takes or an aggregation where it takes none, or the order of
    a page's or visual's filters (set by the first time each field was filtered there)."""
    if ".filters[" in change.path or change.path.startswith("filters["):
        return change.kind == "moved"
    if ".wells." not in change.path:
        return False
    well = change.path.rsplit(".wells.", 1)[1]
    for page in target["pages"]:
        for visual in page["visuals"]:
            if change.path.startswith(f"pages[{page['id']}].visuals[{visual['id']}]."):
                spec = VISUAL_TYPES[visual["visual_type"]].well(well)
                fields = visual["wells"].get(well, [])
                return spec is not None and (
                    (spec.max_fields is not None and len(fields) > spec.max_fields)
                    or (
                        not spec.takes_aggregation
                        and any(f["aggregation"] is not None for f in fields)
                    )
                )
    return False


EXAMPLES = settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@EXAMPLES
@given(histories(), st.data())
def test_reverting_any_history_to_any_earlier_version(
    history: tuple[list[Replica], list[Stamped]], data: st.DataObject
) -> None:
    _, events = history
    k = data.draw(st.integers(1, len(events)), label="k")
    earlier = Replica("earlier")
    earlier.sync(events[:k])
    target = earlier.document()
    reverter = Replica("reverter")
    reverter.sync(events)
    current = reverter.document()
    seed = UUID(int=data.draw(st.integers(0, 2**128 - 1)), version=4)
    plan = make_revert_plan(reverter.report, target, seed=seed)
    assert reverter.document() == current  # planning changed nothing
    assert plan_revert(reverter.report, target, seed=seed) == plan.commands  # deterministic
    execute(reverter, plan)  # no decision fails
    result = with_old_ids(reverter.document(), plan.recreated)
    differences = diff(target, result)
    assert all(artifact(change, target) for change in differences), differences
    assert len([note for note in plan.unrestorable if not note.startswith("refused")]) == len(
        differences
    )
    # Nothing is re-created that could have been kept, nothing kept twice.
    current_ids = {p["id"] for p in current["pages"]} | {
        v["id"] for p in current["pages"] for v in p["visuals"]
    }
    assert len(set(plan.recreated.values())) == len(plan.recreated)
    for old in plan.recreated:
        page_of = {v["id"]: p["id"] for p in current["pages"] for v in p["visuals"]}
        target_page_of = {v["id"]: p["id"] for p in target["pages"] for v in p["visuals"]}
        assert old not in current_ids or page_of.get(old) != target_page_of.get(old)
    # Reverting the reverted report to the same target changes nothing more.
    if not differences:
        assert (
            plan_revert(
                reverter.report, {**result, "pages": reverter.document()["pages"]}, seed=seed
            )
            == []
        )


def test_planning_inside_an_open_batch_keeps_the_batch(replica: Replica) -> None:
    target = replica.document()
    savepoint = replica.report.savepoint()
    replica.do(lambda r: r.remove_visual(VISUAL))
    inside = replica.document()
    plan = make_revert_plan(replica.report, target, seed=SEED)
    assert plan.recreated.keys() == {str(VISUAL)}
    assert replica.document() == inside
    replica.report.rollback_to(savepoint)  # the batch's own undo still works
    replica.report.release(savepoint)
    assert replica.document() == target
