"""Audit descriptions: a sentence per report event, the object it concerns, what changed."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any
from uuid import UUID

import msgspec
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from domain.clock import Hlc
from domain.registers import Register, Stamp
from domain.report import Report
from domain.report.audit import (
    AuditDescription,
    ReportDescriber,
    describe,
    filter_text,
    property_at,
    shorten,
    type_name,
)
from domain.report.events import PageRemoved, ReportRenamed
from domain.report.filters import (
    InFilter,
    NotInFilter,
    RangeFilter,
    RelativeDateFilter,
    TopBy,
    TopFilter,
)
from domain.report.properties import materialise
from tests.domain.report_histories import histories
from tests.domain.report_replicas import REPORT_ID, WORKSPACE_ID, Replica, Stamped, replay

if TYPE_CHECKING:
    from collections.abc import Callable

    from domain.report.events import ReportEvent

DATASET = UUID(int=77)
PAGE = UUID("11111111-1111-4111-8111-111111111111")
PAGE_2 = UUID("22222222-2222-4222-8222-222222222222")
VISUAL = UUID("33333333-3333-4333-8333-333333333333")
VISUAL_2 = UUID("44444444-4444-4444-8444-444444444444")
TITLED = f"visual:{VISUAL}"


@pytest.fixture
def ana() -> Replica:
    """'Sales': page 1 'Draft' (empty), page 2 'Overview' with 'Sales by region' (a column
    chart at 0,0, region on x) and an untitled card at 6,0."""
    replica = Replica("ana")
    replica.do(lambda r: r.create(WORKSPACE_ID, "Sales", DATASET))
    replica.do(lambda r: r.add_page(PAGE_2, "Draft"))
    replica.do(lambda r: r.add_page(PAGE, "Overview"))
    replica.do(lambda r: r.add_visual(VISUAL, PAGE, "column", x=0, y=0, w=6, h=4))
    replica.do(lambda r: r.set_property(TITLED, "title.text", "Sales by region"))
    replica.do(lambda r: r.bind_field(VISUAL, "x", "region"))
    replica.do(lambda r: r.add_visual(VISUAL_2, PAGE, "card", x=6, y=0, w=4, h=4))
    return replica


def described(replica: Replica, decide: Callable[[Report], ReportEvent]) -> AuditDescription:
    """Describe the event ``decide`` makes against the replica's report, then apply it."""
    event = decide(replica.report)
    description = describe(event, replica.report, "Ana")
    replica.do(lambda _: event)
    msgspec.json.encode(description)  # the change is JSON
    return description


# -- the report -------------------------------------------------------------------------------


def test_creating_and_renaming_the_report() -> None:
    replica = Replica("ana")
    created = described(replica, lambda r: r.create(WORKSPACE_ID, "Sales", DATASET))
    assert created == AuditDescription(
        object_type="report",
        object_id=str(REPORT_ID),
        summary="Ana created the report 'Sales'",
        change={
            "name": {"after": "Sales"},
            "workspace_id": {"after": str(WORKSPACE_ID)},
            "dataset_id": {"after": str(DATASET)},
        },
    )
    renamed = described(replica, lambda r: r.rename("Revenue"))
    assert renamed.summary == "Ana renamed the report from 'Sales' to 'Revenue'"
    assert renamed.change == {"name": {"before": "Sales", "after": "Revenue"}}
    assert described(replica, lambda r: r.rename("Revenue")).summary.endswith("(no change)")


def test_an_event_before_the_reports_creation_is_described_too() -> None:
    author = Replica("ana")
    author.do(lambda r: r.create(WORKSPACE_ID, "Sales", None))
    author.do(lambda r: r.add_page(PAGE, "Overview"))
    author.do(lambda r: r.rename("Revenue"))
    empty = Report(REPORT_ID)  # the creation has not arrived
    rename = describe(author.log[2][0], empty, "Ana")
    assert rename.summary == "Ana renamed the report to 'Revenue'"
    assert rename.change == {"name": {"after": "Revenue"}}
    added = describe(author.log[1][0], empty, "Ana")
    assert added.summary == "Ana added page 'Overview' as page 1"
    removed = describe(PageRemoved(page_id=PAGE), empty, "Ana")
    assert removed.summary == "Ana removed a page"


# -- pages ------------------------------------------------------------------------------------


def test_adding_a_page_says_where(ana: Replica) -> None:
    added = described(ana, lambda r: r.add_page(UUID(int=9), "Summary", 1))
    assert added.object_type == "page"
    assert added.object_id == str(UUID(int=9))
    assert added.summary == "Ana added page 'Summary' as page 2"
    assert added.change == {"name": {"after": "Summary"}, "index": {"after": 1}}


def test_renaming_a_page_names_it_by_number(ana: Replica) -> None:
    renamed = described(ana, lambda r: r.rename_page(PAGE, "Summary"))
    assert renamed.summary == "Ana renamed page 2 from 'Overview' to 'Summary'"
    assert renamed.change == {"name": {"before": "Overview", "after": "Summary"}}


def test_moving_a_page(ana: Replica) -> None:
    moved = described(ana, lambda r: r.move_page(PAGE, 0))
    assert moved.summary == "Ana moved page 'Overview' from position 2 to position 1"
    assert moved.change == {"index": {"before": 1, "after": 0}}


def test_removing_a_page_counts_its_visuals(ana: Replica) -> None:
    removed = described(ana, lambda r: r.remove_page(PAGE))
    assert removed.summary == "Ana removed page 'Overview' and its 2 visuals"
    assert removed.change == {
        "name": {"before": "Overview", "after": None},
        "index": {"before": 1, "after": None},
        "visuals": {"before": 2, "after": 0},
    }
    assert described(ana, lambda r: r.remove_page(PAGE_2)).summary == "Ana removed page 'Draft'"


# -- visuals ----------------------------------------------------------------------------------


def test_adding_a_visual(ana: Replica) -> None:
    added = described(ana, lambda r: r.add_visual(UUID(int=8), PAGE, "area", x=0, y=4, w=12, h=6))
    assert added.object_type == "visual"
    assert added.summary == "Ana added an area chart to page 'Overview'"
    assert added.change["visual_type"] == {"after": "area"}
    assert added.change["x"] == {"after": 0}
    assert added.change["page_id"] == {"after": str(PAGE)}


def test_moving_a_visual_names_it_by_title(ana: Replica) -> None:
    moved = described(ana, lambda r: r.move_visual(VISUAL, 6, 4))
    assert moved.summary == "Ana moved 'Sales by region' on page 2 to 6,4"
    assert moved.change == {"x": {"before": 0, "after": 6}, "y": {"before": 0, "after": 4}}


def test_an_untitled_visual_is_named_by_type_and_place(ana: Replica) -> None:
    moved = described(ana, lambda r: r.move_visual(VISUAL_2, 0, 8))
    assert moved.summary == "Ana moved the card at 6,0 on page 2 to 0,8"


def test_restacking_a_visual(ana: Replica) -> None:
    back = described(ana, lambda r: r.move_visual(VISUAL_2, 6, 0, z_index=0))
    assert back.summary == "Ana sent the card at 6,0 on page 2 to the back"
    assert back.change["z_index"] == {"before": 1, "after": 0}
    both = described(ana, lambda r: r.move_visual(VISUAL_2, 8, 0, z_index=1))
    assert both.summary == "Ana moved the card at 6,0 on page 2 to 8,0 and brought it to the front"


def test_resizing_and_retyping_a_visual(ana: Replica) -> None:
    resized = described(ana, lambda r: r.resize_visual(VISUAL, 8, 5))
    assert resized.summary == "Ana resized 'Sales by region' on page 2 from 6×4 to 8×5"  # noqa: RUF001
    assert resized.change == {"w": {"before": 6, "after": 8}, "h": {"before": 4, "after": 5}}
    retyped = described(ana, lambda r: r.change_visual_type(VISUAL, "line"))
    assert (
        retyped.summary
        == "Ana changed 'Sales by region' on page 2 from a column chart to a line chart"
    )
    assert retyped.change == {"visual_type": {"before": "column", "after": "line"}}
    kpi = described(ana, lambda r: r.change_visual_type(VISUAL_2, "kpi"))
    assert kpi.summary == "Ana changed the card at 6,0 on page 2 to a KPI"


def test_removing_a_visual(ana: Replica) -> None:
    removed = described(ana, lambda r: r.remove_visual(VISUAL))
    assert removed.summary == "Ana removed 'Sales by region' from page 2"
    assert removed.change["visual_type"] == {"before": "column", "after": None}


# -- field wells ------------------------------------------------------------------------------


def test_binding_fields(ana: Replica) -> None:
    bound = described(ana, lambda r: r.bind_field(VISUAL, "y", "sales", "sum"))
    assert bound.object_type == "field"
    assert bound.object_id == str(VISUAL)
    assert bound.summary == "Ana bound sum of sales to the y axis of 'Sales by region'"
    assert bound.change == {"sales": {"after": {"aggregation": "sum", "index": 0}}}
    dimension = described(ana, lambda r: r.bind_field(VISUAL, "color", "region"))
    assert dimension.summary == "Ana bound region to the legend of 'Sales by region'"
    on_card = described(ana, lambda r: r.bind_field(VISUAL_2, "values", "profit", "avg"))
    assert (
        on_card.summary == "Ana bound average of profit to the fields of the card at 6,0 on page 2"
    )


def test_rebinding_with_another_aggregation_and_reordering(ana: Replica) -> None:
    ana.do(lambda r: r.bind_field(VISUAL, "y", "sales", "sum"))
    ana.do(lambda r: r.bind_field(VISUAL, "y", "profit", "sum"))
    rebound = described(ana, lambda r: r.bind_field(VISUAL, "y", "sales", "avg"))
    assert (
        rebound.summary
        == "Ana changed sales in the y axis of 'Sales by region' from sum to average"
    )
    assert rebound.change == {
        "sales": {
            "before": {"aggregation": "sum", "index": 0},
            "after": {"aggregation": "avg", "index": 0},
        }
    }
    moved = described(ana, lambda r: r.bind_field(VISUAL, "y", "sales", "avg", 1))
    assert moved.summary == "Ana moved sales to position 2 in the y axis of 'Sales by region'"
    assert moved.change["sales"]["after"] == {"aggregation": "avg", "index": 1}


def test_unbinding_a_field(ana: Replica) -> None:
    unbound = described(ana, lambda r: r.unbind_field(VISUAL, "x", "region"))
    assert unbound.summary == "Ana removed region from the x axis of 'Sales by region'"
    assert unbound.change == {
        "region": {"before": {"aggregation": None, "index": 0}, "after": None}
    }


def test_an_unbind_of_a_field_that_is_not_bound_changes_nothing(ana: Replica) -> None:
    other = Replica("bob")
    other.sync(ana.log)
    event = other.report.unbind_field(VISUAL, "x", "region")
    ana.do(lambda r: r.unbind_field(VISUAL, "x", "region"))
    late = describe(event, ana.report, "Bob")
    assert (
        late.summary
        == "Bob removed region from the x axis of 'Sales by region' (no effect: it was not bound)"
    )
    assert late.change == {}


# -- properties and filters -------------------------------------------------------------------


def test_setting_the_title_uses_the_old_name(ana: Replica) -> None:
    titled = described(ana, lambda r: r.set_property(TITLED, "title.text", "Revenue"))
    assert titled.object_type == "property"
    assert titled.object_id == str(VISUAL)
    assert titled.summary == "Ana set the title of 'Sales by region' to 'Revenue'"
    assert titled.change == {"title.text": {"before": "Sales by region", "after": "Revenue"}}
    untitled = described(ana, lambda r: r.set_property(f"visual:{VISUAL_2}", "title.text", "KPI"))
    assert untitled.summary == "Ana set the title of the card at 6,0 on page 2 to 'KPI'"
    assert untitled.change == {"title.text": {"after": "KPI"}}


def test_other_properties_and_targets(ana: Replica) -> None:
    legend = described(ana, lambda r: r.set_property(TITLED, "legend.show", False))
    assert legend.summary == "Ana set the legend show of 'Sales by region' to false"
    page = described(ana, lambda r: r.set_property(f"page:{PAGE}", "background", {"color": "#fff"}))
    assert page.summary == 'Ana set the background of page \'Overview\' to {"color":"#fff"}'
    assert page.object_id == str(PAGE)
    theme = described(ana, lambda r: r.set_property("report", "theme", "dark"))
    assert theme.summary == "Ana set the theme of the report to 'dark'"
    assert theme.object_id == str(REPORT_ID)
    cleared = described(ana, lambda r: r.set_property("report", "theme", None))
    assert cleared.summary == "Ana removed the theme of the report"
    assert cleared.change == {"theme": {"before": "dark", "after": None}}


def test_filters(ana: Replica) -> None:
    years = InFilter(values=(2024, 2025))
    added = described(ana, lambda r: r.set_filter("report", "year", years))
    assert added.object_type == "filter"
    assert added.object_id == str(REPORT_ID)
    assert added.summary == "Ana filtered the report on year (in: 2024, 2025)"
    assert added.change == {"year": {"after": {"op": "in", "values": [2024, 2025]}}}
    changed = described(ana, lambda r: r.set_filter("report", "year", RangeFilter(min=2020)))
    assert changed.summary == (
        "Ana changed the filter on year of the report from (in: 2024, 2025) to (at least 2020)"
    )
    assert changed.change["year"]["before"] == {"op": "in", "values": [2024, 2025]}
    cleared = described(ana, lambda r: r.clear_filter("report", "year"))
    assert cleared.summary == "Ana removed the filter on year (at least 2020) from the report"
    assert cleared.change == {
        "year": {"before": {"op": "range", "min": 2020, "max": None}, "after": None}
    }
    on_visual = described(
        ana, lambda r: r.set_filter(TITLED, "region", NotInFilter(values=("EU",)))
    )
    assert on_visual.summary == "Ana filtered 'Sales by region' on region (not in: EU)"
    assert on_visual.object_id == str(VISUAL)


@pytest.mark.parametrize(
    ("flt", "text"),
    [
        (InFilter(values=(1, None, True, "x")), "in: 1, blank, true, x"),
        (InFilter(values=tuple(range(8))), "in: 0, 1, 2, 3, 4, and 3 more"),
        (RangeFilter(min=1, max=10), "from 1 to 10"),
        (RangeFilter(max="2025-01-01"), "at most 2025-01-01"),
        (RelativeDateFilter(unit="week", last=2), "last 2 weeks"),
        (RelativeDateFilter(unit="month", last=1), "last month"),
        (TopFilter(n=3, by=TopBy(field="sales", agg="sum")), "top 3 by sum of sales"),
        (TopFilter(n=5, by=TopBy(measure="Margin")), "top 5 by Margin"),
    ],
)
def test_filter_texts(flt: Any, text: str) -> None:
    assert filter_text(flt) == text


# -- lost to a delete, long names -------------------------------------------------------------


def test_an_edit_that_lost_to_a_delete_says_it_had_no_effect(ana: Replica) -> None:
    bob = Replica("bob")
    bob.sync(ana.log)
    move = bob.report.move_visual(VISUAL, 3, 3)
    rename = bob.report.rename_page(PAGE, "Late")
    ana.do(lambda r: r.remove_visual(VISUAL))
    assert describe(move, ana.report, "Bob").summary == (
        "Bob moved a visual to 3,3 (no effect: the visual had been removed)"
    )
    card_move = bob.report.move_visual(VISUAL_2, 1, 1)
    ana.do(lambda r: r.remove_page(PAGE))
    assert describe(rename, ana.report, "Bob").summary == (
        "Bob renamed a page to 'Late' (no effect: the page had been removed)"
    )
    # The card went with its page; it is still named, on a removed page.
    assert describe(card_move, ana.report, "Bob").summary == (
        "Bob moved the card at 6,0 on a removed page to 1,1 (no effect: its page had been removed)"
    )


def test_a_second_removal_changes_nothing(ana: Replica) -> None:
    bob = Replica("bob")
    bob.sync(ana.log)
    late = bob.report.remove_page(PAGE)
    ana.do(lambda r: r.remove_page(PAGE))
    assert describe(late, ana.report, "Bob").summary == (
        "Bob removed a page (no effect: it had already been removed)"
    )


def test_long_names_are_shortened(ana: Replica) -> None:
    long = "Quarterly revenue by region and product line for the board"
    renamed = described(ana, lambda r: r.rename(long))
    assert (
        renamed.summary
        == "Ana renamed the report from 'Sales' to 'Quarterly revenue by region and product…'"
    )
    assert renamed.change["name"]["after"] == long  # the change keeps the whole value
    assert shorten("x" * 100) == "x" * 39 + "…"
    assert len(shorten("word " * 30)) <= 40
    assert describe(ReportRenamed(name="A"), ana.report, "").summary.startswith("Someone ")


def test_visual_type_names() -> None:
    assert type_name("column") == "column chart"
    assert type_name("kpi") == "KPI"
    assert type_name("percent_stacked_bar") == "100% stacked bar chart"
    assert type_name("sankey") == "sankey visual"


# -- every event of random histories, in any order --------------------------------------------

EXAMPLES = settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@EXAMPLES
@given(histories(), st.data())
def test_every_event_of_any_history_is_described_in_any_order(
    history: tuple[list[Replica], list[Stamped]], data: st.DataObject
) -> None:
    _, events = history
    order = data.draw(st.permutations(events))
    report = replay([])
    for event, meta in order:
        description = describe(event, report, "Ana")
        assert description.summary.startswith("Ana ")
        assert description.object_type in {
            "report",
            "page",
            "visual",
            "field",
            "filter",
            "property",
        }
        UUID(description.object_id)
        msgspec.json.encode(description)
        if report.lost_to_delete(event) is not None:
            assert "(no effect" in description.summary
        report.apply(event, meta)


# -- ReportDescriber: the fast way says exactly what describe says ----------------------------

NAMES = st.sampled_from(["Ana", "", "  ", "Bartholomew Featherstonehaugh-Cholmondeley the Third"])


@EXAMPLES
@given(histories(), st.data())
def test_the_report_describer_says_what_describe_says(
    history: tuple[list[Replica], list[Stamped]], data: st.DataObject
) -> None:
    """Any order, duplicates included (a re-delivered event is described and applied again)."""
    _, events = history
    order = data.draw(st.permutations(events))
    again = data.draw(st.lists(st.sampled_from(events), max_size=5)) if events else []
    describer = ReportDescriber(replay([]))
    for event, meta in [*order, *again]:
        name = data.draw(NAMES)
        expected = describe(event, describer.report, name)
        assert describer.describe(event, name) == expected
        describer.apply(event, meta)


class Both:
    """A ReportDescriber beside the plain ``describe``: every event is described both ways
    (the two must agree), then applied."""

    def __init__(self) -> None:
        self.describer = ReportDescriber(replay([]))
        self.summaries: list[str] = []

    def deliver(self, events: list[Stamped]) -> None:
        for event, meta in events:
            expected = describe(event, self.describer.report, "Ana")
            assert self.describer.describe(event, "Ana") == expected
            self.summaries.append(expected.summary)
            self.describer.apply(event, meta)


def test_the_report_describer_forgets_a_title_when_it_changes(ana: Replica) -> None:
    both = Both()
    both.deliver(ana.log)
    ana.do(lambda r: r.move_visual(VISUAL, 1, 1))
    ana.do(lambda r: r.set_property(TITLED, "title", {"text": "Revenue"}))
    ana.do(lambda r: r.move_visual(VISUAL, 2, 2))
    both.deliver(ana.log[-3:])
    assert both.summaries[-1] == "Ana moved 'Revenue' on page 2 to 2,2"


def test_the_report_describer_forgets_titles_on_a_removed_page(ana: Replica) -> None:
    both = Both()
    ana.do(lambda r: r.set_property(f"visual:{VISUAL_2}", "title.text", "KPI"))
    both.deliver(ana.log)
    bob = Replica("bob")
    bob.sync(ana.log)
    bob.do(lambda r: r.move_visual(VISUAL_2, 1, 1))
    ana.do(lambda r: r.move_visual(VISUAL_2, 2, 2))  # named by its title ...
    ana.do(lambda r: r.remove_page(PAGE))  # ... which goes with its page
    both.deliver([*ana.log[-2:], bob.log[-1]])
    assert both.summaries[-3] == "Ana moved 'KPI' on page 2 to 2,2"
    assert both.summaries[-1] == (
        "Ana moved the card at 2,2 on a removed page to 1,1 (no effect: its page had been removed)"
    )


def test_the_report_describer_forgets_a_title_when_a_late_add_orphans_the_visual(
    ana: Replica,
) -> None:
    """Bob added the same visual to a page he then removed: his add, arriving last, leaves
    the visual on a removed page, and its properties go."""
    bob = Replica("bob")
    bob.sync(ana.log[:3])  # the report and its pages, not the visuals
    bob.do(lambda r: r.add_visual(VISUAL, PAGE_2, "card", x=0, y=8, w=4, h=4), now_ms=5_000)
    bob.do(lambda r: r.remove_page(PAGE_2), now_ms=5_000)
    both = Both()
    both.deliver(ana.log)
    ana.do(lambda r: r.move_visual(VISUAL, 1, 1))
    # The removal, then a move (the describer looks the title up), then the add.
    both.deliver([bob.log[-1], ana.log[-1], bob.log[-2]])
    ana.do(lambda r: r.resize_visual(VISUAL_2, 2, 2))
    late = Replica("cy")
    late.sync(ana.log)
    late.do(lambda r: r.move_visual(VISUAL, 3, 3))
    both.deliver(late.log[-1:])
    assert "'Sales by region'" not in both.summaries[-1]


def test_the_report_describer_with_a_savepoint_open(ana: Replica) -> None:
    """The registers cannot be read directly then; the plain lookups answer."""
    describer = ReportDescriber(ana.report)
    event = ana.report.set_property(TITLED, "title.text", "Revenue")
    with ana.report.atomic():
        assert describer.describe(event, "Ana") == describe(event, ana.report, "Ana")


SEGMENTS = ["a", "b", "c"]
#: Paths that are prefixes of one another, siblings, and strangers.
PROPERTY_PATHS = ["a", "a.b", "a.c", "a.b.c", "b", "b.a", "c.a.b"]
JSON_VALUES: Any = st.recursive(
    st.none() | st.booleans() | st.integers(0, 3) | st.sampled_from(["x", " "]),
    lambda children: (
        st.lists(children, max_size=2) | st.dictionaries(st.sampled_from(SEGMENTS), children)
    ),
    max_leaves=6,
)


@settings(max_examples=300, deadline=None)
@given(
    st.dictionaries(
        st.sampled_from(PROPERTY_PATHS),
        st.tuples(st.integers(0, 5), st.sampled_from(["r1", "r2"]), JSON_VALUES),
        max_size=7,
    ),
    st.sampled_from([*PROPERTY_PATHS, "a.b.c.d", "c", "c.a"]),
)
def test_a_property_read_from_its_own_registers_equals_materialising_them_all(
    writes: dict[str, tuple[int, str, Any]], path: str
) -> None:
    registers = {
        written: Register(Stamp(Hlc(ms, 0), replica), value)
        for written, (ms, replica, value) in writes.items()
    }
    whole: Any = materialise(registers)
    expected: tuple[bool, Any] = (False, None)
    for segment in path.split("."):
        if not isinstance(whole, dict) or segment not in whole:
            break
        whole = whole[segment]
    else:
        expected = (True, whole)
    assert property_at(registers, path) == expected
