"""Audit descriptions: what one report event did, in a sentence a person reads.

``describe(event, before, actor_name)`` looks at the report as it was just BEFORE the event was
applied (the caller applies it afterwards, in the order the audit log records events) and
returns an ``AuditDescription``: the kind and id of the object concerned, a summary in the
style of Power BI's activity log but written for people --

    Ana moved 'Sales by region' on page 2 to 6,0
    Ana added a column chart to page 'Overview'
    Ana bound region to the x axis of 'Sales by region'
    Ana renamed page 2 from 'Overview' to 'Summary'
    Ana set the title of 'Sales by region' to 'Revenue'
    Ana filtered the report on year (in: 2024, 2025)
    Ana removed page 'Draft' and its 3 visuals

-- and ``change``: each field the event sets, as ``{"before": ..., "after": ...}`` (``before``
only where a previous value existed, ``after`` only where one remains), in JSON values.

Naming: a visual by its title (the ``title.text`` property) if it has one, else by its type
and place ("the column chart at 0,0 on page 2"); a page by its name, or by its 1-based number
where the name is what changes. Long names and values are shortened with "…".

Events that change nothing say so: an edit of something removed before it arrived
("… (no effect: the visual had been removed)"; deletes win), a removal of something already
removed, an unbind of a field that is not bound, a write of the value already there
("(no change)"). Events that arrive before the report's creation are described like any other.

Pure: only the report's state is read (no document is materialised). ``describe`` asks the
state afresh for everything it needs; ``ReportDescriber`` says the same for the events of one
report in turn, keeping what it looked up between them, for half the cost or less (the audit
log's rebuild describes every event of the log).
"""

from __future__ import annotations

from bisect import bisect_left
from collections.abc import Callable, Mapping
from functools import lru_cache
from typing import TYPE_CHECKING, Any, Final, Literal

import msgspec

from domain.json_values import copy_json
from domain.report.events import (
    EVENT_TYPES,
    FieldBound,
    FieldMoved,
    FieldUnbound,
    FilterCleared,
    FilterSet,
    PageAdded,
    PageMoved,
    PageRemoved,
    PageRenamed,
    PropertySet,
    ReportCreated,
    ReportEvent,
    ReportRenamed,
    VisualAdded,
    VisualMoved,
    VisualRemoved,
    VisualResized,
    VisualTypeChanged,
)
from domain.report.filters import (
    Filter,
    InFilter,
    NotInFilter,
    RangeFilter,
    RelativeDateFilter,
    TopFilter,
)
from domain.report.layout import COLUMNS, MAX_HEIGHT, ROWS, clamp
from domain.report.properties import materialise
from domain.report.targets import REPORT, canonical_target, parse_target
from domain.report.visuals import VISUAL_TYPES

if TYPE_CHECKING:
    from uuid import UUID

    from domain.metadata import EventMetadata
    from domain.registers import Register
    from domain.report.aggregate import Report
    from domain.report.document import Registers, ReportState

ObjectType = Literal[
    "report",
    "page",
    "visual",
    "field",
    "filter",
    "property",
    "workspace",
    "member",
    "dataset",
    "measure",
    "calculated_column",
    "subscription",
]

#: Characters of a name (report, page, visual title, field) before it is shortened.
MAX_NAME: Final = 40
#: Characters of a rendered value (property values, filter bounds).
MAX_VALUE: Final = 60
#: Values of an ``in`` filter listed before "and N more".
MAX_LISTED: Final = 5

AGGREGATION_WORDS: Final = {
    "sum": "sum",
    "avg": "average",
    "min": "minimum",
    "max": "maximum",
    "count": "count",
    "distinct_count": "distinct count",
    "median": "median",
}


class AuditDescription(msgspec.Struct, frozen=True, kw_only=True):
    """What an event did: ``object_type``/``object_id`` (page or visual id, the report's or
    workspace's id, a member's user id), ``summary`` for people, ``change`` for machines."""

    object_type: ObjectType
    object_id: str
    summary: str
    change: dict[str, Any] = msgspec.field(default_factory=dict)


# -- wording shared with domain.workspace.audit ----------------------------------------------


@lru_cache(maxsize=16384)
def shorten(text: str, limit: int = MAX_NAME) -> str:
    """``text`` cut to ``limit`` characters with "…", at a word boundary when one is near."""
    text = " ".join(text.split())
    if len(text) <= limit:
        return text
    cut = text[: limit - 1]
    space = cut.rfind(" ")
    if text[limit - 1] != " " and space >= limit * 2 // 3:
        cut = cut[:space]  # end on a whole word, unless that loses a third of the room
    return cut.rstrip(" ,.;:-") + "…"


def quoted(name: str | None, limit: int = MAX_NAME) -> str:
    """A name in single quotes, shortened."""
    return f"'{shorten(name or '', limit)}'"


def actor(name: str) -> str:
    return shorten(name) if name and name.strip() else "Someone"


def change_of(before: Any, after: Any, *, had_before: bool = True) -> dict[str, Any]:
    """``{"before", "after"}``, without ``before`` when nothing was there."""
    return {"before": before, "after": after} if had_before else {"after": after}


def value_text(value: Any) -> str:
    """A JSON value as a reader sees it: strings quoted, the rest as compact JSON."""
    if isinstance(value, str):
        return quoted(value, MAX_VALUE)
    return shorten(msgspec.json.encode(value).decode(), MAX_VALUE)


def place(index: int) -> str:
    """``0`` → "position 1"."""
    return f"position {index + 1}"


# -- the report's vocabulary -----------------------------------------------------------------


@lru_cache(maxsize=1024)
def type_name(visual_type: str) -> str:
    """ "column chart", "KPI", "100% stacked bar chart"; an unknown type: "<type> visual"."""
    spec = VISUAL_TYPES.get(visual_type)
    if spec is None:
        return f"{shorten(visual_type, 30)} visual"
    label = spec.label
    return label if label[:2].isupper() else label[0].lower() + label[1:]


def with_article(noun: str) -> str:
    return ("an " if noun[:1].lower() in "aeiou" else "a ") + noun


@lru_cache(maxsize=4096)
def well_name(visual_type: str | None, well: str) -> str:
    """The well as the field pane labels it for that type: "the x axis", "the legend"."""
    spec = VISUAL_TYPES.get(visual_type or "")
    found = spec.well(well) if spec is not None else None
    if found is None:
        return f"the {shorten(well, 30)} well"
    return "the " + found.label.lower().replace("-axis", " axis")


def aggregated(field: str, aggregation: str | None) -> str:
    """ "sum of sales", or just "region"."""
    name = shorten(field)
    if aggregation is None:
        return name
    return f"{AGGREGATION_WORDS.get(aggregation) or shorten(aggregation, 20)} of {name}"


def property_name(path: str) -> str:
    """ "title" for ``title.text``, "legend show" for ``legend.show``."""
    segments = path.split(".")
    if len(segments) > 1 and segments[-1] == "text":
        segments.pop()
    return shorten(" ".join(segments).replace("_", " "))


def filter_text(flt: Filter) -> str:  # noqa: PLR0911 - one phrase per kind of filter
    """ "in: 2024, 2025", "from 1 to 10", "last 2 weeks", "top 3 by sum of sales"."""
    if isinstance(flt, (InFilter, NotInFilter)):
        values = [_scalar(value) for value in flt.values[:MAX_LISTED]]
        more = len(flt.values) - MAX_LISTED
        if more > 0:
            values.append(f"and {more} more")
        return f"{'in' if isinstance(flt, InFilter) else 'not in'}: {', '.join(values)}"
    if isinstance(flt, RangeFilter):
        if flt.min is not None and flt.max is not None:
            return f"from {_scalar(flt.min)} to {_scalar(flt.max)}"
        if flt.min is not None:
            return f"at least {_scalar(flt.min)}"
        return f"at most {_scalar(flt.max)}"
    if isinstance(flt, RelativeDateFilter):
        unit = shorten(flt.unit, 20)
        return f"last {unit}" if flt.last == 1 else f"last {flt.last} {unit}s"
    if isinstance(flt, TopFilter):
        by = flt.by
        ranked = (
            shorten(by.measure) if by.measure is not None else aggregated(by.field or "", by.agg)
        )
        return f"top {flt.n} by {ranked}"
    return "a filter"  # pragma: no cover - every filter type is handled above


def _scalar(value: object) -> str:
    if value is None:
        return "blank"
    if isinstance(value, bool):
        return "true" if value else "false"
    return shorten(str(value), MAX_VALUE // 2)


def _filter_data(flt: Filter | None) -> Any:
    return None if flt is None else copy_json(msgspec.to_builtins(flt))


def _binding(aggregation: str | None, index: int) -> dict[str, Any]:
    return {"aggregation": aggregation, "index": index}


# -- describing ------------------------------------------------------------------------------


def describe(event: ReportEvent, before: Report, actor_name: str) -> AuditDescription:
    """What ``event`` did to ``before`` (the report just before it is applied).

    The straightforward way: every lookup asks the report's state afresh. ``ReportDescriber``
    says exactly the same faster, for someone who describes a report's events one after the
    other (the audit projection).
    """
    return _Describer(before, actor(actor_name)).of(event)


class _Describer:
    """The sentences of ``describe``; its lookups (the methods under "lookups") ask the state
    in the plainest way, and ``ReportDescriber`` overrides them with faster ones."""

    def __init__(self, report: Report, who: str) -> None:
        self.report = report
        self.state: ReportState = report.state
        self.who = who

    def of(self, event: ReportEvent) -> AuditDescription:
        return _ARMS[type(event)](self, event)

    # -- lookups ------------------------------------------------------------------------------

    def id(self, uuid: UUID) -> str:
        """A page's or visual's id as the state keys it."""
        return str(uuid)

    def lost(self, event: ReportEvent) -> str:
        """ " (no effect: ...)" if the event lost to a removal, else ""."""
        if self.report.lost_to_delete(event) is None:
            return ""
        target = _target_of(event)
        if target.startswith("visual:") and not self.state.is_removed(target):
            return _LOST_WITH_PAGE
        return _LOST_PAGE if target.startswith("page:") else _LOST_VISUAL

    def pages_in_order(self) -> list[tuple[str, str, Registers]]:
        """The state's ``pages_in_order()`` (not to be changed: it may be shared)."""
        return self.state.pages_in_order()

    def page_index(self, page_id: str) -> int | None:
        for index, (_, other, _) in enumerate(self.pages_in_order()):
            if other == page_id:
                return index
        return None

    def property_at(self, target: str, path: str) -> tuple[bool, Any]:
        """(whether the target's materialised properties hold ``path``, its value there)."""
        return _lookup(self.state.properties_of(target), path)

    def title(self, visual_id: str) -> str | None:
        title = self.state.properties_of("visual:" + visual_id).get("title")
        text = title.get("text") if isinstance(title, dict) else None
        return text if isinstance(text, str) and text.strip() else None

    def target_ref(self, target: str) -> str:
        kind, target_id = parse_target(target)
        if target_id is None:
            return "the report"
        if kind == "page":
            return self.page_named(str(target_id))
        return self.visual_ref(str(target_id))

    def object_of(self, target: str) -> str:
        _, target_id = parse_target(target)
        return str(self.report.id if target_id is None else target_id)

    # -- names built from the lookups ---------------------------------------------------------

    def page_number(self, page_id: str) -> str:
        """ "page 2", or "a removed page" / "a page" when it does not show."""
        index = self.page_index(page_id)
        if index is not None:
            return f"page {index + 1}"
        return "a removed page" if self.state.is_removed("page:" + page_id) else "a page"

    def page_named(self, page_id: str) -> str:
        """ "page 'Overview'", or "a page" when it does not show."""
        page = self.state.page(page_id)
        return f"page {quoted(page['name'].value)}" if page is not None else "a page"

    def visual(self, visual_id: str) -> tuple[str, str | None]:
        """(name, page): "'Sales by region'" or "the column chart at 0,0", and "page 2"
        (``None`` for a visual that is gone or not added yet: its name is then "a visual")."""
        registers = self.state.visual(visual_id)
        if registers is None:
            return "a visual", None
        page = self.page_number(registers["page"].value)
        title = self.title(visual_id)
        if title is not None:
            return quoted(title), page
        x, y, _, _ = _layout(registers)
        return f"the {type_name(registers['type'].value)} at {x},{y}", page

    def visual_on(self, visual_id: str, preposition: str = "on") -> str:
        """ "'Sales by region' on page 2", "the column chart at 0,0 on page 2"."""
        name, page = self.visual(visual_id)
        return name if page is None else f"{name} {preposition} {page}"

    def visual_ref(self, visual_id: str) -> str:
        """A titled visual by its title alone; an untitled one with its page."""
        name, page = self.visual(visual_id)
        return name if page is None or name.startswith("'") else f"{name} on {page}"

    def described(
        self, object_type: ObjectType, object_id: object, summary: str, change: dict[str, Any]
    ) -> AuditDescription:
        return AuditDescription(
            object_type=object_type,
            object_id=str(object_id),
            summary=f"{self.who} {summary}",
            change=change,
        )

    # -- the report ---------------------------------------------------------------------------

    def report_created(self, event: ReportCreated) -> AuditDescription:
        state = self.state
        existed = state.created
        change = {
            "name": change_of(state.report_value("name"), event.name, had_before=existed),
            "workspace_id": change_of(
                _str(state.report_value("workspace_id")),
                str(event.workspace_id),
                had_before=existed,
            ),
            "dataset_id": change_of(
                _str(state.report_value("dataset_id")), _str(event.dataset_id), had_before=existed
            ),
        }
        suffix = " (it already existed)" if existed else ""
        return self.described(
            "report", event.report_id, f"created the report {quoted(event.name)}{suffix}", change
        )

    def report_renamed(self, event: ReportRenamed) -> AuditDescription:
        old = self.state.report_value("name")
        if old is None:
            summary = f"renamed the report to {quoted(event.name)}"
        else:
            summary = f"renamed the report from {quoted(old)} to {quoted(event.name)}"
            summary += _unchanged(old, event.name)
        change = {"name": change_of(old, event.name, had_before=old is not None)}
        return self.described("report", self.report.id, summary, change)

    # -- pages --------------------------------------------------------------------------------

    def page_added(self, event: PageAdded) -> AuditDescription:
        page_id = self.id(event.page_id)
        others = [(key, other) for key, other, _ in self.pages_in_order() if other != page_id]
        index = bisect_left(others, (event.key, page_id))
        summary = f"added page {quoted(event.name)} as page {index + 1}"
        if self.state.is_removed("page:" + page_id):
            summary += " (no effect: the page had been removed)"
        change = {"name": change_of(None, event.name, had_before=False)}
        change["index"] = change_of(None, index, had_before=False)
        return self.described("page", page_id, summary, change)

    def page_renamed(self, event: PageRenamed) -> AuditDescription:
        page_id = self.id(event.page_id)
        page = self.state.page(page_id)
        if page is None:
            summary = f"renamed a page to {quoted(event.name)}{self.lost(event)}"
            return self.described(
                "page", page_id, summary, {"name": change_of(None, event.name, had_before=False)}
            )
        old = page["name"].value
        summary = (
            f"renamed {self.page_number(page_id)} from {quoted(old)} to {quoted(event.name)}"
            + _unchanged(old, event.name)
        )
        return self.described("page", page_id, summary, {"name": change_of(old, event.name)})

    def page_moved(self, event: PageMoved) -> AuditDescription:
        page_id = self.id(event.page_id)
        old = self.page_index(page_id)
        others = [(key, other) for key, other, _ in self.pages_in_order() if other != page_id]
        new = bisect_left(others, (event.key, page_id))
        if old is None:
            summary = f"moved a page to {place(new)}{self.lost(event)}"
            return self.described(
                "page", page_id, summary, {"index": change_of(None, new, had_before=False)}
            )
        summary = (
            f"moved {self.page_named(page_id)} from {place(old)} to {place(new)}"
            + _unchanged(old, new)
        )
        return self.described("page", page_id, summary, {"index": change_of(old, new)})

    def page_removed(self, event: PageRemoved) -> AuditDescription:
        page_id = self.id(event.page_id)
        page = self.state.page(page_id)
        if page is None:
            suffix = (
                " (no effect: it had already been removed)"
                if self.state.is_removed("page:" + page_id)
                else ""
            )
            return self.described("page", page_id, f"removed a page{suffix}", {})
        count = len(self.state.visuals_on(page_id))
        summary = f"removed page {quoted(page['name'].value)}"
        if count == 1:
            summary += " and its visual"
        elif count:
            summary += f" and its {count} visuals"
        change = {
            "name": change_of(page["name"].value, None),
            "index": change_of(self.page_index(page_id), None),
            "visuals": change_of(count, 0),
        }
        return self.described("page", page_id, summary, change)

    # -- visuals ------------------------------------------------------------------------------

    def visual_added(self, event: VisualAdded) -> AuditDescription:
        visual_id = self.id(event.visual_id)
        summary = (
            f"added {with_article(type_name(event.visual_type))} to "
            f"{self.page_named(self.id(event.page_id))}"
        )
        if self.state.is_removed("visual:" + visual_id):
            summary += " (no effect: the visual had been removed)"
        else:
            summary += self.lost(event)
        change = {
            name: change_of(None, value, had_before=False)
            for name, value in (
                ("page_id", self.id(event.page_id)),
                ("visual_type", event.visual_type),
                ("x", event.x),
                ("y", event.y),
                ("w", event.w),
                ("h", event.h),
            )
        }
        return self.described("visual", visual_id, summary, change)

    def visual_moved(self, event: VisualMoved) -> AuditDescription:
        visual_id = self.id(event.visual_id)
        registers = self.state.visual(visual_id)
        lost = self.lost(event)
        if registers is None or lost:
            change = {
                "x": change_of(None, event.x, had_before=False),
                "y": change_of(None, event.y, had_before=False),
            }
            where = self.visual_on(visual_id)
            summary = f"moved {where} to {event.x},{event.y}{lost}"
            return self.described("visual", visual_id, summary, change)
        x, y, _, _ = _layout(registers)
        change = {"x": change_of(x, event.x), "y": change_of(y, event.y)}
        parts = []
        if (x, y) != (event.x, event.y):
            parts.append(f"moved {self.visual_on(visual_id)} to {event.x},{event.y}")
        if event.key is not None:
            restack, old, new = self.restack(registers, visual_id, event.key)
            change["z_index"] = change_of(old, new)
            if restack:
                subject = "it" if parts else self.visual_on(visual_id)
                parts.append(restack.format(subject))
        if not parts:
            summary = f"moved {self.visual_on(visual_id)} to {event.x},{event.y} (no change)"
        else:
            summary = " and ".join(parts)
        return self.described("visual", visual_id, summary, change)

    def restack(self, registers: Registers, visual_id: str, key: str) -> tuple[str, int, int]:
        """How a new z-order key restacks the visual: a phrase with a {} for the visual (empty
        if it stays at its place), its index before and after (0 = bottom)."""
        stack = self.state.visuals_on(registers["page"].value)
        old = next(index for index, (_, other, _) in enumerate(stack) if other == visual_id)
        others = [(other_key, other) for other_key, other, _ in stack if other != visual_id]
        new = bisect_left(others, (key, visual_id))
        if new == old:
            return "", old, new
        if new == len(others):
            return "brought {} to the front", old, new
        if new == 0:
            return "sent {} to the back", old, new
        return ("brought {} forward" if new > old else "sent {} backward"), old, new

    def visual_resized(self, event: VisualResized) -> AuditDescription:
        visual_id = self.id(event.visual_id)
        registers = self.state.visual(visual_id)
        lost = self.lost(event)
        size = f"{event.w}×{event.h}"  # noqa: RUF001 - the multiplication sign
        if registers is None or lost:
            change = {
                "w": change_of(None, event.w, had_before=False),
                "h": change_of(None, event.h, had_before=False),
            }
            summary = f"resized {self.visual_on(visual_id)} to {size}{lost}"
            return self.described("visual", visual_id, summary, change)
        _, _, w, h = _layout(registers)
        old_size = f"{w}×{h}"  # noqa: RUF001 - the multiplication sign
        summary = f"resized {self.visual_on(visual_id)} from {old_size} to {size}"
        summary += _unchanged((w, h), (event.w, event.h))
        return self.described(
            "visual", visual_id, summary, {"w": change_of(w, event.w), "h": change_of(h, event.h)}
        )

    def visual_type_changed(self, event: VisualTypeChanged) -> AuditDescription:
        visual_id = self.id(event.visual_id)
        registers = self.state.visual(visual_id)
        new = with_article(type_name(event.visual_type))
        lost = self.lost(event)
        if registers is None or lost:
            summary = f"changed {self.visual_on(visual_id)} to {new}{lost}"
            change = {"visual_type": change_of(None, event.visual_type, had_before=False)}
            return self.described("visual", visual_id, summary, change)
        old_type = registers["type"].value
        name, page = self.visual(visual_id)
        if name.startswith("'"):
            summary = f"changed {name} on {page} from {with_article(type_name(old_type))} to {new}"
        else:
            summary = f"changed {name} on {page} to {new}"
        summary += _unchanged(old_type, event.visual_type)
        change = {"visual_type": change_of(old_type, event.visual_type)}
        return self.described("visual", visual_id, summary, change)

    def visual_removed(self, event: VisualRemoved) -> AuditDescription:
        visual_id = self.id(event.visual_id)
        registers = self.state.visual(visual_id)
        if registers is None:
            suffix = (
                " (no effect: it had already been removed)"
                if self.state.is_removed("visual:" + visual_id)
                else ""
            )
            return self.described("visual", visual_id, f"removed a visual{suffix}", {})
        x, y, w, h = _layout(registers)
        change = {
            "visual_type": change_of(registers["type"].value, None),
            "page_id": change_of(registers["page"].value, None),
            "x": change_of(x, None),
            "y": change_of(y, None),
            "w": change_of(w, None),
            "h": change_of(h, None),
        }
        suffix = ""
        if self.state.is_removed("page:" + registers["page"].value):
            suffix = " (no effect: its page had been removed)"
        summary = f"removed {self.visual_on(visual_id, 'from')}{suffix}"
        return self.described("visual", visual_id, summary, change)

    # -- field wells --------------------------------------------------------------------------

    def well_of(self, visual_id: str, well: str) -> tuple[str, list[tuple[str, str, str | None]]]:
        """The well's name for the visual's type, and its bound fields (key, field, agg)."""
        registers = self.state.visual(visual_id)
        visual_type = None if registers is None else registers["type"].value
        return well_name(visual_type, well), self.state.bound_fields(visual_id, well)

    def field_bound(self, event: FieldBound) -> AuditDescription:
        visual_id = self.id(event.visual_id)
        well, bound = self.well_of(visual_id, event.well)
        visual = self.visual_ref(visual_id)
        lost = self.lost(event)
        others = [(key, field) for key, field, _ in bound if field != event.field]
        new_index = bisect_left(others, (event.key, event.field))
        current = next(
            ((index, entry) for index, entry in enumerate(bound) if entry[1] == event.field), None
        )
        field = shorten(event.field)
        if current is None or lost:
            summary = (
                f"bound {aggregated(event.field, event.aggregation)} to {well} of {visual}{lost}"
            )
            after = _binding(event.aggregation, new_index)
            change = {event.field: change_of(None, after, had_before=False)}
            return self.described("field", visual_id, summary, change)
        old_index, (_, _, old_aggregation) = current
        change = {
            event.field: change_of(
                _binding(old_aggregation, old_index), _binding(event.aggregation, new_index)
            )
        }
        if old_aggregation != event.aggregation:
            summary = (
                f"changed {field} in {well} of {visual} from {_aggregation_word(old_aggregation)} "
                f"to {_aggregation_word(event.aggregation)}"
            )
        elif old_index != new_index:
            summary = f"moved {field} to {place(new_index)} in {well} of {visual}"
        else:
            summary = (
                f"bound {aggregated(event.field, event.aggregation)} to {well} of {visual} "
                "(no change)"
            )
        return self.described("field", visual_id, summary, change)

    def field_unbound(self, event: FieldUnbound) -> AuditDescription:
        visual_id = self.id(event.visual_id)
        well, bound = self.well_of(visual_id, event.well)
        visual = self.visual_ref(visual_id)
        lost = self.lost(event)
        current = next(
            ((index, entry) for index, entry in enumerate(bound) if entry[1] == event.field), None
        )
        if current is None or lost:
            suffix = lost or " (no effect: it was not bound)"
            summary = f"removed {shorten(event.field)} from {well} of {visual}{suffix}"
            return self.described("field", visual_id, summary, {})
        index, (_, _, aggregation) = current
        summary = f"removed {aggregated(event.field, aggregation)} from {well} of {visual}"
        change = {event.field: change_of(_binding(aggregation, index), None)}
        return self.described("field", visual_id, summary, change)

    def field_moved(self, event: FieldMoved) -> AuditDescription:
        visual_id = self.id(event.visual_id)
        well, bound = self.well_of(visual_id, event.well)
        visual = self.visual_ref(visual_id)
        lost = self.lost(event)
        others = [(key, field) for key, field, _ in bound if field != event.field]
        new_index = bisect_left(others, (event.key, event.field))
        old_index = next((i for i, entry in enumerate(bound) if entry[1] == event.field), None)
        field = shorten(event.field)
        if old_index is None or lost:
            suffix = lost or " (no effect: it was not bound)"
            summary = f"moved {field} to {place(new_index)} in {well} of {visual}{suffix}"
            return self.described("field", visual_id, summary, {})
        aggregation = bound[old_index][2]
        summary = f"moved {field} to {place(new_index)} in {well} of {visual}" + _unchanged(
            old_index, new_index
        )
        change = {
            event.field: change_of(
                _binding(aggregation, old_index), _binding(aggregation, new_index)
            )
        }
        return self.described("field", visual_id, summary, change)

    # -- properties and filters ---------------------------------------------------------------

    def property_set(self, event: PropertySet) -> AuditDescription:
        target = canonical_target(event.target)
        found, old = self.property_at(target, event.path)
        name = property_name(event.path)
        of = self.target_ref(target)
        lost = self.lost(event)
        if event.value is None:
            if not found and not lost:
                summary = f"removed the {name} of {of} (no effect: it was not set)"
            else:
                summary = f"removed the {name} of {of}{lost}"
        else:
            summary = f"set the {name} of {of} to {value_text(event.value)}{lost}"
            if found and not lost:
                summary += _unchanged(old, event.value)
        change = {event.path: change_of(old, copy_json(event.value), had_before=found)}
        return self.described("property", self.object_of(target), summary, change)

    def filter_set(self, event: FilterSet) -> AuditDescription:
        target = canonical_target(event.target)
        old = self.state.filter_of(target, event.field)
        field = shorten(event.field)
        of = self.target_ref(target)
        lost = self.lost(event)
        new_text = filter_text(event.filter)
        if old is None or lost:
            summary = f"filtered {of} on {field} ({new_text}){lost}"
        elif old == event.filter:
            summary = f"filtered {of} on {field} ({new_text}) (no change)"
        else:
            summary = (
                f"changed the filter on {field} of {of} from ({filter_text(old)}) to ({new_text})"
            )
        change = {
            event.field: change_of(
                _filter_data(old), _filter_data(event.filter), had_before=old is not None
            )
        }
        return self.described("filter", self.object_of(target), summary, change)

    def filter_cleared(self, event: FilterCleared) -> AuditDescription:
        target = canonical_target(event.target)
        old = self.state.filter_of(target, event.field)
        field = shorten(event.field)
        of = self.target_ref(target)
        lost = self.lost(event)
        if old is None or lost:
            suffix = lost or f" (no effect: there was no filter on {field})"
            summary = f"removed the filter on {field} from {of}{suffix}"
            return self.described("filter", self.object_of(target), summary, {})
        summary = f"removed the filter on {field} ({filter_text(old)}) from {of}"
        change = {event.field: change_of(_filter_data(old), None)}
        return self.described("filter", self.object_of(target), summary, change)


_LOST_PAGE: Final = " (no effect: the page had been removed)"
_LOST_VISUAL: Final = " (no effect: the visual had been removed)"
_LOST_WITH_PAGE: Final = " (no effect: its page had been removed)"

#: The sentence for each type of event.
_ARMS: Final[dict[type[Any], Callable[[_Describer, Any], AuditDescription]]] = {
    ReportCreated: _Describer.report_created,
    ReportRenamed: _Describer.report_renamed,
    PageAdded: _Describer.page_added,
    PageRenamed: _Describer.page_renamed,
    PageMoved: _Describer.page_moved,
    PageRemoved: _Describer.page_removed,
    VisualAdded: _Describer.visual_added,
    VisualMoved: _Describer.visual_moved,
    VisualResized: _Describer.visual_resized,
    VisualTypeChanged: _Describer.visual_type_changed,
    VisualRemoved: _Describer.visual_removed,
    FieldBound: _Describer.field_bound,
    FieldUnbound: _Describer.field_unbound,
    FieldMoved: _Describer.field_moved,
    PropertySet: _Describer.property_set,
    FilterSet: _Describer.filter_set,
    FilterCleared: _Describer.filter_cleared,
}
assert set(_ARMS) == set(EVENT_TYPES.values()), "an event type has no sentence"

#: Events that change which pages show or their order (nothing else does).
_PAGE_EVENTS: Final = frozenset({PageAdded, PageRenamed, PageMoved, PageRemoved})
#: Events about one visual (``visual_id``), about a target (``target``), about a page.
_ON_VISUAL: Final = frozenset(
    {VisualMoved, VisualResized, VisualTypeChanged, FieldBound, FieldUnbound, FieldMoved}
)
_ON_TARGET: Final = frozenset({PropertySet, FilterSet, FilterCleared})
_ON_PAGE: Final = frozenset({PageRenamed, PageMoved, VisualAdded})
#: Ids kept as strings per report before the map is started afresh.
_MAX_IDS: Final = 4096
_UNKNOWN: Final = object()


class ReportDescriber(_Describer):
    """Describes the events of one report in the order they are applied to it: ``describe``
    an event, then ``apply`` it, then the next.

    Says exactly what ``describe`` says (tests/domain/test_report_audit.py checks it on random
    histories in any order) for a fraction of the cost, which matters when a whole log is
    described (an audit rebuild): ids are turned into strings once; the pages in order are
    kept until a page event is applied, a visual's title until its properties may have
    changed; a property (a title, the value a ``PropertySet`` replaces) is read from the
    registers of its path alone (``property_at``) instead of materialising every property of
    the target; lost-to-delete checks use the ids as strings.

    Every change of the report must go through ``apply`` (it drops what an event may change).
    """

    def __init__(self, report: Report) -> None:
        super().__init__(report, "")
        self._report_id = str(report.id)
        self._ids: dict[int, str] = {}
        self._pages: list[tuple[str, str, Registers]] | None = None
        self._page_indexes: dict[str, int] | None = None
        #: visual id → its title (None: untitled), as ``title`` found it.
        self._titles: dict[str, str | None] = {}

    def describe(self, event: ReportEvent, actor_name: str) -> AuditDescription:
        """What ``event`` does to the report as it is now (before ``apply(event)``)."""
        self.who = actor(actor_name)
        return _ARMS[type(event)](self, event)

    def apply(self, event: ReportEvent, meta: EventMetadata) -> None:
        """Apply ``event`` to the report (``Report.apply``)."""
        kind = type(event)
        # What the event may change is forgotten first (also kept right should apply fail).
        if kind in _PAGE_EVENTS:
            self._pages = self._page_indexes = None
            if kind is PageRemoved:  # its visuals' properties go with it
                self._titles.clear()
        elif kind is PropertySet:
            target = canonical_target(event.target)  # type: ignore[union-attr]
            if target.startswith("visual:"):
                self._titles.pop(target[7:], None)
        elif kind is VisualAdded or kind is VisualRemoved:
            self._titles.pop(self.id(event.visual_id), None)  # type: ignore[union-attr]
        self.report.apply(event, meta)

    # -- faster lookups -----------------------------------------------------------------------

    def id(self, uuid: UUID) -> str:
        ids = self._ids
        number = uuid.int  # hashed in C, unlike the UUID
        text = ids.get(number)
        if text is None:
            if len(ids) >= _MAX_IDS:
                ids.clear()
            text = ids[number] = str(uuid)
        return text

    def lost(self, event: ReportEvent) -> str:
        kind = type(event)
        if kind in _ON_VISUAL:
            return self._lost_visual(self.id(event.visual_id))  # type: ignore[union-attr]
        if kind in _ON_TARGET:
            target = canonical_target(event.target)  # type: ignore[union-attr]
            if target == REPORT:
                return ""
            if target.startswith("page:"):
                return _LOST_PAGE if self.state.is_removed(target) else ""
            return self._lost_visual(target[7:])
        if kind in _ON_PAGE:
            removed = self.state.is_removed("page:" + self.id(event.page_id))  # type: ignore[union-attr]
            return _LOST_PAGE if removed else ""
        return ""

    def _lost_visual(self, visual_id: str) -> str:
        state = self.state
        if state.is_removed("visual:" + visual_id):
            return _LOST_VISUAL
        registers = state.visual(visual_id)
        if registers is not None and state.is_removed("page:" + registers["page"].value):
            return _LOST_WITH_PAGE
        return ""

    def pages_in_order(self) -> list[tuple[str, str, Registers]]:
        pages = self._pages
        if pages is None:
            pages = self._pages = self.state.pages_in_order()
        return pages

    def page_index(self, page_id: str) -> int | None:
        indexes = self._page_indexes
        if indexes is None:
            indexes = self._page_indexes = {
                other: index for index, (_, other, _) in enumerate(self.pages_in_order())
            }
        return indexes.get(page_id)

    def property_at(self, target: str, path: str) -> tuple[bool, Any]:
        try:
            registers = self.state.parts().properties.get(target)
        except ValueError:  # a savepoint is open: no direct look at the registers
            return super().property_at(target, path)
        if not registers:
            return False, None
        return property_at(registers, path)

    def title(self, visual_id: str) -> str | None:
        titles = self._titles
        title = titles.get(visual_id, _UNKNOWN)
        if title is _UNKNOWN:
            found, text = self.property_at("visual:" + visual_id, "title.text")
            title = titles[visual_id] = (
                text if found and isinstance(text, str) and text.strip() else None
            )
        return title  # type: ignore[return-value]

    def target_ref(self, target: str) -> str:
        if target == REPORT:
            return "the report"
        if target.startswith("page:"):
            return self.page_named(target[5:])
        return self.visual_ref(target[7:])

    def object_of(self, target: str) -> str:
        return self._report_id if target == REPORT else target.partition(":")[2]


def property_at(registers: Mapping[str, Register[Any]], path: str) -> tuple[bool, Any]:
    """``(found, value)`` at ``path`` of ``properties.materialise(registers)``, from the
    registers that can decide it alone: those of ``path``, of its prefixes ("title" for
    "title.text") and of paths under it ("title.text.size"). A register of any other path
    ("title.show") can at most turn a prefix that is not an object into an empty object, and
    ``path`` is missing either way."""
    prefixes = _prefixes(path)
    under = path + "."
    deciding = [(other, registers[other]) for other in prefixes if other in registers]
    deciding += [item for item in registers.items() if item[0].startswith(under)]
    register = registers.get(path)
    if not deciding:
        if register is None or register.value is None:
            return False, None
        value = register.value
        return True, copy_json(value) if isinstance(value, (dict, list)) else value
    if register is not None:
        deciding.append((path, register))
    return _lookup(materialise(dict(deciding)), path)


@lru_cache(maxsize=4096)
def _prefixes(path: str) -> tuple[str, ...]:
    """ "a.b.c" → ("a", "a.b")."""
    segments = path.split(".")
    return tuple(".".join(segments[:end]) for end in range(1, len(segments)))


def _target_of(event: ReportEvent) -> str:
    """The page or visual an event is about ("page:<id>", "visual:<id>", or "report")."""
    match event:
        case PageAdded() | PageRenamed() | PageMoved() | PageRemoved():
            return f"page:{event.page_id}"
        case (
            VisualAdded()
            | VisualMoved()
            | VisualResized()
            | VisualTypeChanged()
            | VisualRemoved()
            | FieldBound()
            | FieldUnbound()
            | FieldMoved()
        ):
            if isinstance(event, VisualAdded):
                return f"page:{event.page_id}"
            return f"visual:{event.visual_id}"
        case PropertySet() | FilterSet() | FilterCleared():
            return canonical_target(event.target)
    return REPORT


def _layout(registers: Registers) -> tuple[int, int, int, int]:
    x, y, w, h = (
        registers["x"].value,
        registers["y"].value,
        registers["w"].value,
        registers["h"].value,
    )
    if x >= 0 and w > 0 and x + w <= COLUMNS and y >= 0 and 0 < h <= MAX_HEIGHT and y + h <= ROWS:
        return x, y, w, h  # on the grid already: what clamp would return
    return clamp(x, y, w, h)


def _lookup(properties: dict[str, Any], path: str) -> tuple[bool, Any]:
    node: Any = properties
    for segment in path.split("."):
        if not isinstance(node, dict) or segment not in node:
            return False, None
        node = node[segment]
    return True, node


def _unchanged(old: object, new: object) -> str:
    return " (no change)" if old == new and type(old) is type(new) else ""


def _aggregation_word(aggregation: str | None) -> str:
    if aggregation is None:
        return "no aggregation"
    return AGGREGATION_WORDS.get(aggregation, shorten(aggregation, 20))


def _str(value: object) -> str | None:
    return None if value is None else str(value)
