"""Revert a report to an earlier version: the commands that turn it back into that document.

``plan_revert(current, target, seed=...)`` compares the report as it is with ``target`` (a
document of an earlier version, the shape of ``Report.document()``) and returns the commands
that make the one into the other, ready to be sent as one batch:

- things added since are removed (pages with their visuals, visuals, filters, properties:
  a property the target lacks is set to null);
- things in both get their differing leaves set back: the report's and pages' names, a
  visual's layout (move and resize, in an order every step of which fits the grid), its type
  (after unbinding what the new type cannot hold), its wells (unbound, rebound with another
  aggregation, bound, reordered), properties, filters, and the order of pages and of visuals
  (only the ones that changed place move: the longest run that kept its order stays put);
- things removed since come back under NEW ids -- deletes win and ids are never reused -- derived
  from ``seed`` and the old id (``uuid5``), so planning twice with one seed gives one plan; all
  that belonged to them is restored under the new id: a page with its visuals, a visual with
  its layout, wells in order with their aggregations, properties, filters and z-order.

Every command is decided and applied as it is planned -- on ``current`` itself, inside a
savepoint that is rolled back before returning, so ``current`` ends as it began -- and so the
plan never fails a decision against the report it was made for: no ``TargetDeleted``, no
``AlreadyExists``, no layout off the grid. Should the report move on before the batch is sent,
plan again.

Some states only concurrent edits can make, and no sequence of commands can make again; the
plan then gets as close as the decisions allow, and ``RevertPlan.unrestorable`` says what
differs: more fields in a well than it takes, an aggregation in a well that takes none, and
the order of filters on a page or visual that still exists (a filter's place is set by the
first time its field was ever filtered there, which an earlier-stamped edit that arrived late
may have moved up).
"""

from __future__ import annotations

import uuid
from typing import TYPE_CHECKING, Any, Final

import msgspec

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
    ReportCommand,
    ResizeVisual,
    SetFilter,
    SetProperty,
    UnbindField,
)
from domain.clock import tick
from domain.errors import DomainError, NotFound
from domain.metadata import EventMetadata
from domain.report import layout
from domain.report.audit import shorten
from domain.report.diff import diff, same, stable_subsequence
from domain.report.filters import Filter
from domain.report.properties import MAX_PATH_DEPTH, MAX_PATH_LENGTH, MAX_VALUE_BYTES
from domain.report.visuals import VISUAL_TYPES
from domain.versions import Dot

if TYPE_CHECKING:
    from collections.abc import Callable
    from uuid import UUID

    from domain.report.aggregate import Report

#: The replica planned events are stamped with while planning (they are rolled back).
PLANNER: Final = "loupe.revert-plan"
#: Past the end of any z-order or well: "on top", "last".
_END: Final = 100_000


class RevertPlan(msgspec.Struct, frozen=True, kw_only=True):
    """The commands, the new ids of re-created things, and what the commands cannot restore."""

    commands: list[ReportCommand]
    #: old page or visual id → the new id it is re-created under.
    recreated: dict[str, str]
    #: Differences the commands leave, for people ("pages[…].visuals[…].wells.y: …").
    unrestorable: list[str]


def plan_revert(current: Report, target: dict[str, Any], *, seed: UUID) -> list[ReportCommand]:
    """The commands that turn ``current`` into the ``target`` document (see the module)."""
    return make_revert_plan(current, target, seed=seed).commands


def make_revert_plan(current: Report, target: dict[str, Any], *, seed: UUID) -> RevertPlan:
    """``plan_revert`` with the new ids and the differences the commands cannot undo.

    ``NotFound`` if ``current`` does not exist; ``ValueError`` if ``target`` is not a document
    of the same report."""
    if not current.exists:
        raise NotFound(f"report {current.id} does not exist", code="report_not_found")
    if target.get("id") != str(current.id):
        raise ValueError(f"the target document is of report {target.get('id')}, not {current.id}")
    # Plan on the report itself and undo it all afterwards: the undo log costs O(changes), a
    # copy O(report). Nothing else can see the report meanwhile (no await in between).
    savepoint = current.savepoint()
    try:
        planner = _Planner(current, seed)
        planner.plan(target)
        return RevertPlan(
            commands=planner.commands,
            recreated=planner.recreated,
            unrestorable=planner.unrestorable(target),
        )
    finally:
        current.rollback_to(savepoint)
        current.release(savepoint)


def recreated_id(seed: UUID, old_id: str, attempt: int = 0) -> UUID:
    """The id a removed page or visual comes back under (the first attempt not in use)."""
    return uuid.uuid5(seed, old_id if attempt == 0 else f"{old_id}/{attempt}")


class _Planner:
    def __init__(self, work: Report, seed: UUID) -> None:
        self.work = work
        self.seed = seed
        self.commands: list[ReportCommand] = []
        self.recreated: dict[str, str] = {}
        self.refused: list[str] = []

    # -- deciding as we go ----------------------------------------------------------------------

    def emit(self, command: ReportCommand) -> bool:
        """Decide ``command`` on the report and apply it; keep it only if it was accepted."""
        try:
            event = decide(self.work, command)
        except DomainError as error:
            self.refused.append(f"{type(command).__name__}: {error.detail}")
            return False
        counter = self.work.version_vector.get(PLANNER) + 1
        hlc = tick(self.work.max_hlc, self.work.max_hlc.ms)
        meta = EventMetadata(
            event_id=uuid.uuid5(self.seed, f"plan/{counter}"),
            replica=PLANNER,
            dot=Dot(PLANNER, counter),
            hlc=hlc,
        )
        self.work.apply(event, meta)
        self.commands.append(command)
        return True

    def new_id(self, old_id: str) -> str:
        state = self.work.state
        taken = set(self.recreated.values())
        for attempt in range(1000):  # pragma: no branch - a free id is found at once
            candidate = str(recreated_id(self.seed, old_id, attempt))
            if (
                candidate not in taken
                and not state.is_removed("page:" + candidate)
                and not state.is_removed("visual:" + candidate)
                and state.page(candidate) is None
                and state.visual(candidate) is None
            ):
                self.recreated[old_id] = candidate
                return candidate
        raise ValueError(f"no free id for {old_id} from seed {self.seed}")  # pragma: no cover

    # -- the plan -----------------------------------------------------------------------------

    def plan(self, target: dict[str, Any]) -> None:
        if target["name"] != self.work.name:
            self.emit(RenameReport(name=target["name"]))
        current = self.work.document()
        wanted = {page["id"] for page in target["pages"]}
        for page in current["pages"]:
            if page["id"] not in wanted:
                self.emit(RemovePage(page_id=uuid.UUID(page["id"])))
        self.plan_pages(target["pages"], {page["id"]: page for page in current["pages"]})
        self.plan_properties("report", current["properties"], target["properties"])
        self.plan_filters("report", current["filters"], target["filters"])

    def plan_pages(self, pages: list[dict[str, Any]], current: dict[str, dict[str, Any]]) -> None:
        for page in pages:
            if page["id"] in current and page["name"] != current[page["id"]]["name"]:
                self.emit(RenamePage(page_id=uuid.UUID(page["id"]), name=page["name"]))
        kept = [page["id"] for page in pages if page["id"] in current]
        self.reorder(
            kept,
            self.page_order,
            lambda page_id, index: self.emit(MovePage(page_id=uuid.UUID(page_id), index=index)),
        )
        # Removed pages come back in their places (kept pages are in order by now).
        order = [page["id"] for page in pages]
        for position, page in enumerate(pages):
            if page["id"] not in current:
                order[position] = self.new_id(page["id"])
                index = _after(self.page_order(), order, position)
                self.emit(
                    AddPage(page_id=uuid.UUID(order[position]), name=page["name"], index=index)
                )
        shown = self.page_order()
        if shown != order and set(shown) == set(order):  # equal keys of concurrent inserts
            for page_id in order:
                self.emit(MovePage(page_id=uuid.UUID(page_id), index=_END))
        for page, page_id in zip(pages, order, strict=True):
            if self.work.state.page(page_id) is not None:
                self.plan_page(page, page_id, current.get(page["id"]))

    def plan_page(self, page: dict[str, Any], page_id: str, current: dict[str, Any] | None) -> None:
        target = "page:" + page_id
        self.plan_properties(target, current["properties"] if current else {}, page["properties"])
        self.plan_filters(target, current["filters"] if current else [], page["filters"])
        on_page = {visual["id"]: visual for visual in current["visuals"]} if current else {}
        wanted = {visual["id"] for visual in page["visuals"]}
        for visual_id in on_page:
            if visual_id not in wanted:
                self.emit(RemoveVisual(visual_id=uuid.UUID(visual_id)))
        order = []
        for visual in page["visuals"]:
            if visual["id"] in on_page:
                if not same(visual, on_page[visual["id"]]):
                    self.plan_visual(visual, on_page[visual["id"]])
                order.append(visual["id"])
            else:
                order.append(self.recreate_visual(visual, page_id))
        # Re-created visuals went on top, in the target's order; restack what is out of place.
        shown = self.z_order(page_id)
        order = [visual_id for visual_id in order if visual_id in shown]
        self.reorder(order, lambda: self.z_order(page_id), self.restack)
        shown = self.z_order(page_id)
        if shown != order and set(shown) == set(order):  # equal keys of concurrent inserts
            for visual_id in order:
                self.restack(visual_id, _END)

    # -- visuals ------------------------------------------------------------------------------

    def recreate_visual(self, visual: dict[str, Any], page_id: str) -> str:
        new = self.new_id(visual["id"])
        box = visual["layout"]
        added = self.emit(
            AddVisual(
                visual_id=uuid.UUID(new),
                page_id=uuid.UUID(page_id),
                visual_type=visual["visual_type"],
                x=box["x"],
                y=box["y"],
                w=box["w"],
                h=box["h"],
            )
        )
        if added:
            for well, fields in visual["wells"].items():
                for entry in fields:
                    self.emit(
                        BindField(
                            visual_id=uuid.UUID(new),
                            well=well,
                            field=entry["field"],
                            aggregation=entry["aggregation"],
                        )
                    )
            self.plan_properties("visual:" + new, {}, visual["properties"])
            self.plan_filters("visual:" + new, [], visual["filters"])
        return new

    def plan_visual(self, visual: dict[str, Any], current: dict[str, Any]) -> None:
        visual_id = visual["id"]
        if visual["visual_type"] != current["visual_type"]:
            self.retype(visual_id, current, visual)
            self.plan_wells(visual_id, visual["wells"])
        elif not same(visual["wells"], current["wells"]):
            self.plan_wells(visual_id, visual["wells"])
        if not same(visual["layout"], current["layout"]):
            self.plan_layout(visual_id, visual["layout"])
        target = "visual:" + visual_id
        self.plan_properties(target, current["properties"], visual["properties"])
        self.plan_filters(target, current["filters"], visual["filters"])

    def retype(self, visual_id: str, current: dict[str, Any], visual: dict[str, Any]) -> None:
        """Unbind what the new type cannot hold, then change the type."""
        new_spec = VISUAL_TYPES.get(visual["visual_type"])
        if new_spec is None:
            return
        wanted = visual["wells"]
        for well, fields in current["wells"].items():
            spec = new_spec.well(well)
            keep = [
                entry["field"]
                for entry in wanted.get(well, [])
                if spec is not None
                and (entry["aggregation"] is None or spec.takes_aggregation)
                and any(same(entry, have) for have in fields)
            ]
            if spec is not None and spec.max_fields is not None:
                keep = keep[: spec.max_fields]
            for entry in fields:
                if entry["field"] not in keep:
                    self.emit(
                        UnbindField(visual_id=uuid.UUID(visual_id), well=well, field=entry["field"])
                    )
        self.emit(
            ChangeVisualType(visual_id=uuid.UUID(visual_id), visual_type=visual["visual_type"])
        )

    def plan_wells(self, visual_id: str, wells: dict[str, list[dict[str, Any]]]) -> None:
        registers = self.work.state.visual(visual_id)
        spec = VISUAL_TYPES.get(registers["type"].value) if registers is not None else None
        if spec is None:
            return
        vid = uuid.UUID(visual_id)
        for well in spec.well_names:
            wanted = wells.get(well, [])
            aggregation = {entry["field"]: entry["aggregation"] for entry in wanted}
            for _, field, _ in self.work.state.bound_fields(visual_id, well):
                if field not in aggregation:
                    self.emit(UnbindField(visual_id=vid, well=well, field=field))
            bound = {field: agg for _, field, agg in self.work.state.bound_fields(visual_id, well)}
            fields = [entry["field"] for entry in wanted]
            stable = set(
                stable_subsequence(
                    [list(bound).index(field) for field in fields if field in bound],
                    [field for field in fields if field in bound],
                )
            )
            for position, field in enumerate(fields):
                agg = aggregation[field]
                if field in stable:
                    if bound[field] != agg:  # rebind in place
                        self.emit(BindField(visual_id=vid, well=well, field=field, aggregation=agg))
                    continue
                shown = [f for _, f, _ in self.work.state.bound_fields(visual_id, well)]
                index = _after([f for f in shown if f != field], fields, position)
                self.emit(
                    BindField(visual_id=vid, well=well, field=field, aggregation=agg, index=index)
                )
            shown = [f for _, f, _ in self.work.state.bound_fields(visual_id, well)]
            if shown != fields and set(shown) == set(fields):  # equal keys got in the way
                for field in fields:
                    self.emit(
                        BindField(
                            visual_id=vid,
                            well=well,
                            field=field,
                            aggregation=aggregation[field],
                            index=_END,
                        )
                    )

    def plan_layout(self, visual_id: str, box: dict[str, int]) -> None:
        """Move and resize so that every step lies on the grid."""
        registers = self.work.state.visual(visual_id)
        if registers is None:  # pragma: no cover - a kept visual shows
            return
        x, y, w, h = (registers[name].value for name in ("x", "y", "w", "h"))
        cx, cy, _, _ = layout.clamp(x, y, w, h)
        tx, ty, tw, th = box["x"], box["y"], box["w"], box["h"]
        vid = uuid.UUID(visual_id)
        move = MoveVisual(visual_id=vid, x=tx, y=ty)
        resize = ResizeVisual(visual_id=vid, w=tw, h=th)
        if (w, h) == (tw, th):
            if (x, y) != (tx, ty):
                self.emit(move)
        elif (x, y) == (tx, ty):
            self.emit(resize)
        elif _fits(tx, ty, w, h):
            self.emit(move)
            self.emit(resize)
        elif _fits(cx, cy, tw, th):
            self.emit(resize)
            self.emit(move)
        else:  # shrink where it is, move, then grow
            self.emit(ResizeVisual(visual_id=vid, w=min(w, tw), h=min(h, th)))
            self.emit(move)
            self.emit(resize)

    # -- properties and filters ---------------------------------------------------------------

    def plan_properties(self, target: str, current: dict[str, Any], wanted: dict[str, Any]) -> None:
        self.set_properties(target, "", current, wanted)

    def set_properties(
        self, target: str, prefix: str, current: dict[str, Any], wanted: dict[str, Any]
    ) -> None:
        """Make the object at ``prefix`` (whose keys are addressable) equal ``wanted``: set
        what differs, deepest where a path can reach, and null what ``wanted`` lacks."""
        for key in sorted(current.keys() | wanted.keys()):
            path = f"{prefix}.{key}" if prefix else key
            if key not in wanted:
                self.emit(SetProperty(target=target, path=path, value=None))
                continue
            have, value = current.get(key, _ABSENT), wanted[key]
            if have is not _ABSENT and same(have, value):
                continue
            if isinstance(have, dict) and isinstance(value, dict) and _reachable(path, have, value):
                self.set_properties(target, path, have, value)
            elif _fits_one_set(value) or not (
                isinstance(value, dict) and _reachable(path, {}, value)
            ):
                self.emit(SetProperty(target=target, path=path, value=value))
            else:  # too big for one set: build it from its parts
                self.emit(SetProperty(target=target, path=path, value={}))
                self.set_properties(target, path, {}, value)

    def plan_filters(
        self, target: str, current: list[dict[str, Any]], wanted: list[dict[str, Any]]
    ) -> None:
        have = {entry["field"]: entry for entry in current}
        fields = {entry["field"] for entry in wanted}
        for field in have:
            if field not in fields:
                self.emit(ClearFilter(target=target, field=field))
        for entry in wanted:
            old = have.get(entry["field"])
            if old is not None and same(old, entry):
                continue
            data = {key: value for key, value in entry.items() if key != "field"}
            try:
                flt = msgspec.convert(data, Filter)
            except msgspec.ValidationError as error:
                self.refused.append(f"filter on {entry['field']} of {target}: {error}")
                continue
            self.emit(SetFilter(target=target, field=entry["field"], filter=flt))

    # -- order --------------------------------------------------------------------------------

    def page_order(self) -> list[str]:
        return [page_id for _, page_id, _ in self.work.state.pages_in_order()]

    def z_order(self, page_id: str) -> list[str]:
        return [visual_id for _, visual_id, _ in self.work.state.visuals_on(page_id)]

    def restack(self, visual_id: str, z_index: int) -> bool:
        registers = self.work.state.visual(visual_id)
        if registers is None:  # pragma: no cover - only shown visuals are restacked
            return False
        x, y, _, _ = layout.clamp(*(registers[name].value for name in ("x", "y", "w", "h")))
        return self.emit(MoveVisual(visual_id=uuid.UUID(visual_id), x=x, y=y, z_index=z_index))

    @staticmethod
    def reorder(
        wanted: list[str],
        shown: Callable[[], list[str]],
        move: Callable[[str, int], bool],
    ) -> None:
        """Bring the items of ``wanted`` (all shown) into that relative order: the longest run
        already in order stays, each other item moves just after its predecessor."""
        order = [item for item in shown() if item in set(wanted)]
        position = {item: index for index, item in enumerate(order)}
        stable = set(stable_subsequence([position[item] for item in wanted], wanted))
        for index, item in enumerate(wanted):
            if item not in stable:
                move(item, _after([other for other in shown() if other != item], wanted, index))

    # -- what is left -------------------------------------------------------------------------

    def unrestorable(self, target: dict[str, Any]) -> list[str]:
        back = {new: old for old, new in self.recreated.items()}
        document = _with_ids(self.work.document(), back)
        notes = [
            f"{change.path}: {change.kind}, is {_short(change.after)}, was {_short(change.before)}"
            if change.kind != "moved"
            else f"{change.path}: at {change.after}, was at {change.before}"
            for change in diff(target, document)
            if change.path not in ("version", "position")
        ]
        return notes + [f"refused: {detail}" for detail in self.refused]


_ABSENT: Final = object()


def _after(others: list[str], wanted: list[str], position: int) -> int:
    """The index among ``others`` (in display order) that puts ``wanted[position]`` right after
    the nearest item before it in ``wanted`` that shows (first, if none does)."""
    where = {item: index for index, item in enumerate(others)}
    for previous in reversed(wanted[:position]):
        if previous in where:
            return where[previous] + 1
    return 0


def _fits(x: int, y: int, w: int, h: int) -> bool:
    return x + w <= layout.COLUMNS and y + h <= layout.ROWS


def _reachable(path: str, have: dict[str, Any], value: dict[str, Any]) -> bool:
    """Whether each key below ``path`` can be set on its own: names a path can spell, not too
    deep, and no null to keep (a null set removes the key instead)."""
    depth = path.count(".") + 2
    if depth > MAX_PATH_DEPTH:
        return False
    for key in have.keys() | value.keys():
        if (
            not key.isidentifier()
            or not key.isascii()
            or len(path) + 1 + len(key) > MAX_PATH_LENGTH
        ):
            return False
    return all(item is not None for item in value.values())


def _fits_one_set(value: Any) -> bool:
    return len(msgspec.json.encode(value)) <= MAX_VALUE_BYTES


def _with_ids(document: dict[str, Any], back: dict[str, str]) -> dict[str, Any]:
    """The document with re-created pages and visuals under their old ids."""
    pages = []
    for page in document["pages"]:
        visuals = [
            {**visual, "id": back.get(visual["id"], visual["id"])} for visual in page["visuals"]
        ]
        pages.append({**page, "id": back.get(page["id"], page["id"]), "visuals": visuals})
    return {**document, "pages": pages}


def _short(value: Any) -> str:
    return shorten(msgspec.json.encode(value).decode(), 80)
