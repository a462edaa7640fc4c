"""Hypothesis strategies for random multi-replica edit histories of a report.

Each step, a replica either decides a random command against its own copy (ids are drawn
from small pools so that replicas collide on the same pages, visuals, wells and paths), or
receives the events another replica has. Commands that the replica's copy refuses (a
DomainError) are simply dropped, as a client would drop them.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable
from typing import Any
from uuid import UUID

from hypothesis import strategies as st

from domain.errors import DomainError
from domain.report import Report
from domain.report.events import ReportEvent
from domain.report.filters import (
    InFilter,
    NotInFilter,
    RangeFilter,
    RelativeDateFilter,
    TopBy,
    TopFilter,
)
from domain.report.visuals import VISUAL_TYPES
from tests.domain.report_replicas import WORKSPACE_ID, Replica, Stamped

PAGE_IDS = [UUID(int=0x1000 + n) for n in range(6)]
VISUAL_IDS = [UUID(int=0x2000 + n) for n in range(10)]
VISUAL_TYPE_NAMES = ["column", "bar", "line", "pie", "card", "table", "scatter", "matrix"]
FIELDS = ["region", "sales", "year", "profit"]
PATHS = ["title", "title.text", "title.color", "legend.show", "a.b.c", "background"]
VALUES: list[Any] = [None, "x", "y", 1, 2.5, True, {"text": "t"}, {"show": False}, [1, 2]]
FILTERS = [
    InFilter(values=("EU",)),
    InFilter(values=(2024, 2025)),
    NotInFilter(values=(None,)),
    RangeFilter(min=1, max=10),
    RelativeDateFilter(unit="week", last=2),
    TopFilter(n=3, by=TopBy(field="sales", agg="sum")),
]
REPLICA_NAMES = ["alice", "bob", "carol"]

Decide = Callable[[Report], ReportEvent]


def _targets(document: dict[str, Any]) -> list[str]:
    targets = ["report"]
    for page in document["pages"]:
        targets.append(f"page:{page['id']}")
        targets.extend(f"visual:{visual['id']}" for visual in page["visuals"])
    return targets


def _visuals(document: dict[str, Any]) -> list[dict[str, Any]]:
    return [visual for page in document["pages"] for visual in page["visuals"]]


def _filters(document: dict[str, Any], target: str) -> list[str]:
    if target == "report":
        return [f["field"] for f in document["filters"]]
    for page in document["pages"]:
        if target == f"page:{page['id']}":
            return [f["field"] for f in page["filters"]]
        for visual in page["visuals"]:
            if target == f"visual:{visual['id']}":
                return [f["field"] for f in visual["filters"]]
    return []


@st.composite
def commands(draw: st.DrawFn, report: Report) -> Decide:  # noqa: PLR0911, PLR0912
    """A command that is usually, but not always, valid for ``report`` as it is now."""
    document = report.document()
    pages = [UUID(page["id"]) for page in document["pages"]]
    visuals = _visuals(document)
    # Mostly aim at what this replica sees; sometimes at any id of the pool, even one that is
    # gone or unknown here (the decision then refuses, or it is a new id).
    page = draw(
        st.sampled_from(pages) if pages and draw(st.integers(0, 3)) else st.sampled_from(PAGE_IDS)
    )
    visual: dict[str, Any] | None = None
    if visuals and draw(st.integers(0, 5)):
        visual = draw(st.sampled_from(visuals))
        visual_id = UUID(visual["id"])
        spec = VISUAL_TYPES[visual["visual_type"]]
    else:
        visual_id = draw(st.sampled_from(VISUAL_IDS))
        spec = VISUAL_TYPES["column"]
    index = draw(st.none() | st.integers(0, 6))
    kind = draw(st.sampled_from(KINDS))
    if kind == "rename":
        name = draw(st.sampled_from(["Sales", "Revenue", "Q3"]))
        return lambda r: r.rename(name)
    if kind == "add_page":
        new_page = draw(st.sampled_from(PAGE_IDS))
        name = draw(st.sampled_from(["One", "Two"]))
        return lambda r: r.add_page(new_page, name, index)
    if kind == "rename_page":
        name = draw(st.sampled_from(["Renamed", "Again"]))
        return lambda r: r.rename_page(page, name)
    if kind == "move_page":
        to = draw(st.integers(0, 6))
        return lambda r: r.move_page(page, to)
    if kind == "remove_page":
        return lambda r: r.remove_page(page)
    if kind == "add_visual":
        new_id = draw(st.sampled_from(VISUAL_IDS))
        visual_type = draw(st.sampled_from(VISUAL_TYPE_NAMES))
        w = draw(st.integers(1, 24))
        x = draw(st.integers(0, 24 - w))
        h = draw(st.integers(1, 10))
        y = draw(st.integers(0, 20))
        return lambda r: r.add_visual(new_id, page, visual_type, x=x, y=y, w=w, h=h)
    if kind == "move_visual":
        w = visual["layout"]["w"] if visual else 1
        x, y = draw(st.integers(0, 24 - w)), draw(st.integers(0, 30))
        z = draw(st.none() | st.integers(0, 5))
        return lambda r: r.move_visual(visual_id, x, y, z_index=z)
    if kind == "resize_visual":
        x = visual["layout"]["x"] if visual else 0
        w, h = draw(st.integers(1, 24 - x)), draw(st.integers(1, 12))
        return lambda r: r.resize_visual(visual_id, w, h)
    if kind == "change_visual_type":
        visual_type = draw(st.sampled_from(VISUAL_TYPE_NAMES))
        return lambda r: r.change_visual_type(visual_id, visual_type)
    if kind == "remove_visual":
        return lambda r: r.remove_visual(visual_id)
    well = draw(st.sampled_from(spec.wells))
    bound = [f["field"] for f in visual["wells"].get(well.name, [])] if visual else []
    if kind == "bind_field":
        field = draw(st.sampled_from(bound + FIELDS))
        choices = [None, "sum", "avg", "count"] if well.takes_aggregation else [None]
        aggregation = draw(st.sampled_from(choices))
        return lambda r: r.bind_field(visual_id, well.name, field, aggregation, index)
    if kind == "unbind_field":
        field = draw(st.sampled_from(bound or FIELDS))
        return lambda r: r.unbind_field(visual_id, well.name, field)
    target = draw(st.sampled_from(_targets(document)) | st.just("report"))
    if kind == "set_property":
        path = draw(st.sampled_from(PATHS))
        value = draw(st.sampled_from(VALUES))
        return lambda r: r.set_property(target, path, value)
    if kind == "set_filter":
        field = draw(st.sampled_from(FIELDS[:3]))
        flt = draw(st.sampled_from(FILTERS))
        return lambda r: r.set_filter(target, field, flt)
    field = draw(st.sampled_from(_filters(document, target) or FIELDS))
    return lambda r: r.clear_filter(target, field)


KINDS = [
    "rename",
    "add_page",
    "add_page",
    "rename_page",
    "move_page",
    "move_page",
    "remove_page",
    "add_visual",
    "add_visual",
    "add_visual",
    "move_visual",
    "move_visual",
    "resize_visual",
    "change_visual_type",
    "remove_visual",
    "bind_field",
    "bind_field",
    "bind_field",
    "unbind_field",
    "set_property",
    "set_property",
    "set_filter",
    "set_filter",
    "clear_filter",
]


@st.composite
def histories(draw: st.DrawFn, max_steps: int = 60) -> tuple[list[Replica], list[Stamped]]:
    """Replicas that edited a shared report concurrently, and the union of their events."""
    skews = draw(st.lists(st.integers(-50, 50), min_size=3, max_size=3))
    replicas = [
        Replica(name, skew_ms=skew) for name, skew in zip(REPLICA_NAMES, skews, strict=True)
    ]
    now = 1_000_000
    first = replicas[0]
    first.do(lambda r: r.create(WORKSPACE_ID, "Report", None), now)
    for page_id, visual_ids in ((PAGE_IDS[0], VISUAL_IDS[:2]), (PAGE_IDS[1], VISUAL_IDS[2:3])):
        first.do(lambda r, p=page_id: r.add_page(p, "Base"), now)
        for visual_id in visual_ids:
            first.do(
                lambda r, p=page_id, v=visual_id: r.add_visual(v, p, "column", x=0, y=0, w=6, h=4),
                now,
            )
            first.do(lambda r, v=visual_id: r.bind_field(v, "y", "sales", "sum"), now)
            first.do(lambda r, v=visual_id: r.bind_field(v, "tooltip", "profit", "avg"), now)
    for replica in replicas[1:]:
        replica.sync(first.log, now)
    for _ in range(draw(st.integers(1, max_steps))):
        now += draw(st.sampled_from([0, 0, 1, 3, 20]))
        replica = draw(st.sampled_from(replicas))
        if draw(st.integers(0, 7)) == 0:
            source = draw(st.sampled_from(replicas))
            replica.sync(source.log, now)
            continue
        decide = draw(commands(replica.report))
        with contextlib.suppress(DomainError):
            replica.do(decide, now)
    union = {meta.event_id: (event, meta) for replica in replicas for event, meta in replica.log}
    return replicas, list(union.values())
