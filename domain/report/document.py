"""The mergeable state of a report, and the document materialised from it.

State is a set of last-writer-wins registers (``domain.registers``), a few grow-only sets and
two max-maps; every one of them merges commutatively, associatively and idempotently, so
``apply`` gives the same document whatever order (and however many times) events arrive.

- report: ``created``, ``workspace_id``, ``name``, ``dataset_id``
- per page: ``added``, ``name``, ``key`` (fractional index among pages)
- per visual: ``added``, ``page``, ``type``, ``x``, ``y``, ``w``, ``h``, ``key`` (z-order), and
  ``on:<page id>`` for every page a ``VisualAdded`` named (see orphans below)
- per (visual, well, field): a binding register ``(bound, aggregation)`` and a ``key``
  register: an LWW element set, so unbinding and binding again works
- per (target, path): a property register; per (target, field): a filter register (the
  filter, or ``None`` once cleared) and the smallest stamp that ever set it (list order)
- tombstones of removed pages and visuals (grow-only); ``version vector`` and per-replica
  highest HLC (max-maps)

Registers are kept for things not yet created (an edit can arrive before the ``...Added``
it follows); what the document shows is derived: a page shows once added and not removed, a
visual once added, not removed and on a page that shows. Deletes win: once a page or visual
is removed, its registers are dropped and every later-arriving edit of it is ignored.

Visuals of removed pages are *orphans*: a visual remembers every page a ``VisualAdded`` put it
on (an ``on:<page id>`` register; normally one), and once any of those pages is removed -- in
whichever order the two events arrive -- its bindings, properties and filters are dropped and
later edits of them are ignored. It keeps its own few registers (type and layout, so it can
still be named); it never shows (its page is gone). So a long history does not drag the
contents of every removed page along in memory and in snapshots. The orphans are derived from
the registers and tombstones, not stored.

Snapshots: ``parts()`` hands out every container (``StateParts``) and ``from_parts`` builds a
state from them; ``domain.report.snapshot`` encodes them, so a restored state is the state.

Atomic batches: while a savepoint is open, every change to the state records (container,
key, old value) in an undo log, and ``rollback_to`` replays the log backwards: cost
proportional to the changes, not to the size of the report.
"""

from __future__ import annotations

from collections.abc import Callable
from contextlib import contextmanager
from functools import partial
from typing import TYPE_CHECKING, Any, ClassVar, Final, TypeVar

import msgspec

from domain.clock import ZERO, Hlc
from domain.errors import NotFound
from domain.registers import Register, Stamp, wins
from domain.report import layout, properties
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
from domain.report.filters import Filter, filter_entry
from domain.report.targets import REPORT, canonical_target
from domain.report.visuals import VISUAL_TYPES
from domain.versions import VersionVector

if TYPE_CHECKING:
    from collections.abc import Iterator
    from uuid import UUID

    from domain.metadata import EventMetadata

K = TypeVar("K")
V = TypeVar("V")

Registers = dict[str, Register[Any]]
#: (visual's well, field) → register
BindingKey = tuple[str, str]
#: A bound field in display order: (key, field, aggregation).
BoundField = tuple[str, str, str | None]

_MISSING: Final = object()
_WELL_NAMES: Final = {name: spec.well_names for name, spec in VISUAL_TYPES.items()}


class Savepoint(msgspec.Struct, frozen=True):
    """A point in the undo log that the state can roll back to."""

    position: int
    epoch: int


class StateParts(msgspec.Struct, frozen=True, kw_only=True):
    """Every container of a ``ReportState``: what a snapshot must keep (see
    ``domain.report.snapshot``). The containers are the state's own, not copies: registers are
    immutable, but the dicts must not be changed by whoever holds the parts."""

    report: Registers
    pages: dict[str, Registers]
    visuals: dict[str, Registers]
    removed: dict[str, bool]
    bindings: dict[str, dict[BindingKey, Register[tuple[bool, str | None]]]]
    binding_keys: dict[str, dict[BindingKey, Register[str]]]
    properties: dict[str, dict[str, Register[Any]]]
    filters: dict[str, dict[str, Register[Filter | None]]]
    filter_order: dict[str, dict[str, Stamp]]
    versions: dict[str, int]
    clocks: dict[str, Hlc]


class ReportState:
    """Registers, tombstones and clocks of one report; see the module docstring.

    Pages and visuals are keyed by their id as a string (the canonical lowercase UUID): hashing
    and printing ``uuid.UUID`` objects is slow in CPython, and the document shows strings.
    """

    def __init__(self, report_id: UUID) -> None:
        self.report_id: Final = report_id
        self._report: Registers = {}
        self._pages: dict[str, Registers] = {}
        self._visuals: dict[str, Registers] = {}
        #: Removed pages and visuals, by target ("page:<id>", "visual:<id>").
        self._removed: dict[str, bool] = {}
        self._bindings: dict[str, dict[BindingKey, Register[tuple[bool, str | None]]]] = {}
        self._binding_keys: dict[str, dict[BindingKey, Register[str]]] = {}
        self._properties: dict[str, dict[str, Register[Any]]] = {}
        self._filters: dict[str, dict[str, Register[Filter | None]]] = {}
        self._filter_order: dict[str, dict[str, Stamp]] = {}
        self._versions: dict[str, int] = {}
        self._clocks: dict[str, Hlc] = {}
        #: Visuals put on a page that was removed (derived: see the module docstring).
        self._orphans: dict[str, bool] = {}
        self._undo: list[tuple[dict[Any, Any], Any, Any]] | None = None
        self._epoch = 0

    # -- parts (snapshots) -------------------------------------------------------------------

    def parts(self) -> StateParts:
        """The state's containers, shared (not copied); ``ValueError`` while a savepoint is open,
        since the state then holds changes that may still be rolled back."""
        if self._undo is not None:
            raise ValueError("the state has an open savepoint; take parts after releasing it")
        return StateParts(
            report=self._report,
            pages=self._pages,
            visuals=self._visuals,
            removed=self._removed,
            bindings=self._bindings,
            binding_keys=self._binding_keys,
            properties=self._properties,
            filters=self._filters,
            filter_order=self._filter_order,
            versions=self._versions,
            clocks=self._clocks,
        )

    @classmethod
    def from_parts(cls, report_id: UUID, parts: StateParts) -> ReportState:
        """A state that owns ``parts`` (the caller hands them over and keeps no reference)."""
        state = cls(report_id)
        state._report = parts.report
        state._pages = parts.pages
        state._visuals = parts.visuals
        state._removed = parts.removed
        state._bindings = parts.bindings
        state._binding_keys = parts.binding_keys
        state._properties = parts.properties
        state._filters = parts.filters
        state._filter_order = parts.filter_order
        state._versions = parts.versions
        state._clocks = parts.clocks
        removed = parts.removed
        for visual_id, visual in parts.visuals.items():
            for name in visual:
                if name[:3] == "on:" and "page:" + name[3:] in removed:
                    state._orphans[visual_id] = True
                    break
        for visual_id in state._orphans:  # a snapshot of older code may still hold them
            state._bindings.pop(visual_id, None)
            state._binding_keys.pop(visual_id, None)
            state._properties.pop("visual:" + visual_id, None)
            state._filters.pop("visual:" + visual_id, None)
            state._filter_order.pop("visual:" + visual_id, None)
        return state

    # -- clocks ------------------------------------------------------------------------------

    @property
    def version_vector(self) -> VersionVector:
        return VersionVector(self._versions)

    @property
    def max_hlc(self) -> Hlc:
        return max(self._clocks.values(), default=ZERO)

    # -- savepoints --------------------------------------------------------------------------

    def savepoint(self) -> Savepoint:
        """Start (or nest) recording changes; ``rollback_to`` undoes everything after this."""
        if self._undo is None:
            self._undo = []
            self._epoch += 1
        return Savepoint(len(self._undo), self._epoch)

    def rollback_to(self, savepoint: Savepoint) -> None:
        """Undo every change made since ``savepoint``; the savepoint stays usable."""
        undo = self._check(savepoint)
        while len(undo) > savepoint.position:
            container, key, old = undo.pop()
            if old is _MISSING:
                del container[key]
            else:
                container[key] = old

    def release(self, savepoint: Savepoint) -> None:
        """Keep the changes. Releasing the outermost savepoint stops recording."""
        self._check(savepoint)
        if savepoint.position == 0:
            self._undo = None

    @contextmanager
    def atomic(self) -> Iterator[None]:
        """Everything in the block happens, or (on an exception) none of it does."""
        savepoint = self.savepoint()
        try:
            yield
        except BaseException:
            self.rollback_to(savepoint)
            self.release(savepoint)
            raise
        self.release(savepoint)

    def _check(self, savepoint: Savepoint) -> list[tuple[dict[Any, Any], Any, Any]]:
        undo = self._undo
        if undo is None or savepoint.epoch != self._epoch or savepoint.position > len(undo):
            raise ValueError(f"{savepoint} was released or belongs to another state")
        return undo

    def _log(self, container: dict[Any, Any], key: object, old: object) -> None:
        if self._undo is not None:
            self._undo.append((container, key, old))

    def _set(self, container: dict[K, V], key: K, value: V) -> None:
        self._log(container, key, container.get(key, _MISSING))
        container[key] = value

    def _put(self, registers: dict[K, Register[V]], key: K, new: Register[V]) -> None:
        """Merge a write into a register (last writer wins)."""
        old = registers.get(key)
        if old is None or wins(new, old):
            self._log(registers, key, _MISSING if old is None else old)
            registers[key] = new

    def _child(self, container: dict[K, dict[Any, Any]], key: K) -> dict[Any, Any]:
        child = container.get(key)
        if child is None:
            child = {}
            self._set(container, key, child)
        return child

    def _drop(self, container: dict[K, Any], key: K) -> None:
        if key in container:
            self._log(container, key, container.pop(key))

    # -- apply -------------------------------------------------------------------------------

    def apply(self, event: ReportEvent, meta: EventMetadata) -> None:
        """Merge one event into the state. Commutative, associative and idempotent."""
        replica = meta.replica
        if meta.dot.counter > self._versions.get(replica, 0):
            # A replica's later events have later clocks. Equal stamps would make two writes
            # of one replica tie, and the tie-break (by value) would ignore their order.
            if meta.hlc <= self._clocks.get(replica, ZERO):
                raise ValueError(
                    f"event {meta.dot.replica}:{meta.dot.counter} has HLC {meta.hlc}, not after "
                    f"{self._clocks[replica]} of an earlier event of that replica; "
                    "give every event its own, increasing HLC"
                )
            self._set(self._versions, replica, meta.dot.counter)
        if meta.hlc > self._clocks.get(replica, ZERO):
            self._set(self._clocks, replica, meta.hlc)
        self._APPLY[type(event)](self, event, meta.stamp)

    def _report_created(self, event: ReportCreated, stamp: Stamp) -> None:
        if event.report_id != self.report_id:
            raise ValueError(f"event of report {event.report_id} applied to {self.report_id}")
        self._put(self._report, "created", Register(stamp, value=True))
        self._put(self._report, "workspace_id", Register(stamp, event.workspace_id))
        self._put(self._report, "name", Register(stamp, event.name))
        self._put(self._report, "dataset_id", Register(stamp, event.dataset_id))

    def _report_renamed(self, event: ReportRenamed, stamp: Stamp) -> None:
        self._put(self._report, "name", Register(stamp, event.name))

    def _page_added(self, event: PageAdded, stamp: Stamp) -> None:
        page_id = str(event.page_id)
        if "page:" + page_id in self._removed:
            return
        page = self._child(self._pages, page_id)
        self._put(page, "added", Register(stamp, value=True))
        self._put(page, "name", Register(stamp, event.name))
        self._put(page, "key", Register(stamp, event.key))

    def _page_renamed(self, event: PageRenamed, stamp: Stamp) -> None:
        self._page_write(str(event.page_id), "name", Register(stamp, event.name))

    def _page_moved(self, event: PageMoved, stamp: Stamp) -> None:
        self._page_write(str(event.page_id), "key", Register(stamp, event.key))

    def _page_removed(self, event: PageRemoved, _stamp: Stamp) -> None:
        page_id = str(event.page_id)
        target = "page:" + page_id
        if target in self._removed:
            return
        self._set(self._removed, target, True)  # noqa: FBT003
        self._drop(self._pages, page_id)
        self._drop_target(target)
        on_page = "on:" + page_id
        for visual_id, visual in self._visuals.items():
            if on_page in visual and visual_id not in self._orphans:
                self._orphan(visual_id)

    def _visual_added(self, event: VisualAdded, stamp: Stamp) -> None:
        visual_id = str(event.visual_id)
        if "visual:" + visual_id in self._removed:
            return
        visual = self._child(self._visuals, visual_id)
        for name, value in (
            ("added", True),
            ("page", str(event.page_id)),
            ("type", event.visual_type),
            ("x", event.x),
            ("y", event.y),
            ("w", event.w),
            ("h", event.h),
            ("key", event.key),
        ):
            self._put(visual, name, Register(stamp, value))
        page_id = str(event.page_id)
        self._put(visual, "on:" + page_id, Register(stamp, value=True))
        if "page:" + page_id in self._removed and visual_id not in self._orphans:
            self._orphan(visual_id)

    def _visual_moved(self, event: VisualMoved, stamp: Stamp) -> None:
        visual_id = str(event.visual_id)
        self._visual_write(visual_id, "x", Register(stamp, event.x))
        self._visual_write(visual_id, "y", Register(stamp, event.y))
        if event.key is not None:
            self._visual_write(visual_id, "key", Register(stamp, event.key))

    def _visual_resized(self, event: VisualResized, stamp: Stamp) -> None:
        visual_id = str(event.visual_id)
        self._visual_write(visual_id, "w", Register(stamp, event.w))
        self._visual_write(visual_id, "h", Register(stamp, event.h))

    def _visual_type_changed(self, event: VisualTypeChanged, stamp: Stamp) -> None:
        self._visual_write(str(event.visual_id), "type", Register(stamp, event.visual_type))

    def _visual_removed(self, event: VisualRemoved, _stamp: Stamp) -> None:
        visual_id = str(event.visual_id)
        target = "visual:" + visual_id
        if target in self._removed:
            return
        self._set(self._removed, target, True)  # noqa: FBT003
        self._drop(self._visuals, visual_id)
        self._drop(self._orphans, visual_id)
        self._drop(self._bindings, visual_id)
        self._drop(self._binding_keys, visual_id)
        self._drop_target(target)

    def _field_bound(self, event: FieldBound, stamp: Stamp) -> None:
        visual_id = str(event.visual_id)
        if "visual:" + visual_id in self._removed or visual_id in self._orphans:
            return
        binding = (event.well, event.field)
        bindings = self._child(self._bindings, visual_id)
        self._put(bindings, binding, Register(stamp, (True, event.aggregation)))
        keys = self._child(self._binding_keys, visual_id)
        self._put(keys, binding, Register(stamp, event.key))

    def _field_unbound(self, event: FieldUnbound, stamp: Stamp) -> None:
        visual_id = str(event.visual_id)
        if "visual:" + visual_id in self._removed or visual_id in self._orphans:
            return
        bindings = self._child(self._bindings, visual_id)
        self._put(bindings, (event.well, event.field), Register(stamp, (False, None)))

    def _field_moved(self, event: FieldMoved, stamp: Stamp) -> None:
        visual_id = str(event.visual_id)
        if "visual:" + visual_id in self._removed or visual_id in self._orphans:
            return
        keys = self._child(self._binding_keys, visual_id)
        self._put(keys, (event.well, event.field), Register(stamp, event.key))

    def _property_set(self, event: PropertySet, stamp: Stamp) -> None:
        target = canonical_target(event.target)
        if target in self._removed or (target[:7] == "visual:" and target[7:] in self._orphans):
            return
        registers = self._child(self._properties, target)
        self._put(registers, event.path, Register(stamp, event.value))

    def _filter_set(self, event: FilterSet, stamp: Stamp) -> None:
        target = canonical_target(event.target)
        if target in self._removed or (target[:7] == "visual:" and target[7:] in self._orphans):
            return
        filters = self._child(self._filters, target)
        self._put(filters, event.field, Register[Filter | None](stamp, event.filter))
        order = self._child(self._filter_order, target)
        first = order.get(event.field)
        if first is None or stamp < first:
            self._set(order, event.field, stamp)

    def _filter_cleared(self, event: FilterCleared, stamp: Stamp) -> None:
        target = canonical_target(event.target)
        if target in self._removed or (target[:7] == "visual:" and target[7:] in self._orphans):
            return
        filters = self._child(self._filters, target)
        self._put(filters, event.field, Register[Filter | None](stamp, None))

    def _page_write(self, page_id: str, name: str, register: Register[Any]) -> None:
        if "page:" + page_id not in self._removed:
            self._put(self._child(self._pages, page_id), name, register)

    def _visual_write(self, visual_id: str, name: str, register: Register[Any]) -> None:
        if "visual:" + visual_id not in self._removed:
            self._put(self._child(self._visuals, visual_id), name, register)

    def _drop_target(self, target: str) -> None:
        self._drop(self._properties, target)
        self._drop(self._filters, target)
        self._drop(self._filter_order, target)

    def _orphan(self, visual_id: str) -> None:
        """Forget what a visual of a removed page holds (it can never show again)."""
        self._set(self._orphans, visual_id, True)  # noqa: FBT003
        self._drop(self._bindings, visual_id)
        self._drop(self._binding_keys, visual_id)
        self._drop_target("visual:" + visual_id)

    _APPLY: ClassVar[dict[type[Any], Callable[[ReportState, Any, Stamp], None]]] = {
        ReportCreated: _report_created,
        ReportRenamed: _report_renamed,
        PageAdded: _page_added,
        PageRenamed: _page_renamed,
        PageMoved: _page_moved,
        PageRemoved: _page_removed,
        VisualAdded: _visual_added,
        VisualMoved: _visual_moved,
        VisualResized: _visual_resized,
        VisualTypeChanged: _visual_type_changed,
        VisualRemoved: _visual_removed,
        FieldBound: _field_bound,
        FieldUnbound: _field_unbound,
        FieldMoved: _field_moved,
        PropertySet: _property_set,
        FilterSet: _filter_set,
        FilterCleared: _filter_cleared,
    }

    # -- queries (for decisions; ids are canonical UUID strings) -----------------------------

    @property
    def created(self) -> bool:
        return "created" in self._report

    def report_value(self, name: str) -> Any:
        register = self._report.get(name)
        return None if register is None else register.value

    def is_removed(self, target: str) -> bool:
        """Whether the page or visual (``"page:<id>"``, ``"visual:<id>"``) was removed."""
        return target in self._removed

    def page(self, page_id: str) -> Registers | None:
        """The page's registers if the page shows, else ``None``."""
        page = self._pages.get(page_id)
        return page if page is not None and "added" in page else None

    def pages_in_order(self) -> list[tuple[str, str, Registers]]:
        """(key, id, registers) of the pages that show, in display order."""
        pages = [
            (page["key"].value, page_id, page)
            for page_id, page in self._pages.items()
            if "added" in page
        ]
        pages.sort(key=_key_then_id)
        return pages

    def visual(self, visual_id: str) -> Registers | None:
        """The visual's registers if it was added and not removed (its page may be gone)."""
        visual = self._visuals.get(visual_id)
        return visual if visual is not None and "added" in visual else None

    def visuals_on(self, page_id: str) -> list[tuple[str, str, Registers]]:
        """(key, id, registers) of the visuals on a page, bottom to top."""
        visuals = [
            (visual["key"].value, visual_id, visual)
            for visual_id, visual in self._visuals.items()
            if "added" in visual and visual["page"].value == page_id
        ]
        visuals.sort(key=_key_then_id)
        return visuals

    def bound_fields(self, visual_id: str, well: str) -> list[BoundField]:
        """The fields bound in one well, in order."""
        return self.all_bound_fields(visual_id).get(well, [])

    def all_bound_fields(self, visual_id: str) -> dict[str, list[BoundField]]:
        """Every bound field of a visual by well (wells of any type), in order."""
        keys = self._binding_keys.get(visual_id, {})
        wells: dict[str, list[BoundField]] = {}
        for binding, register in self._bindings.get(visual_id, {}).items():
            bound, aggregation = register.value
            if bound:
                key = keys.get(binding)
                entry = ("" if key is None else key.value, binding[1], aggregation)
                wells.setdefault(binding[0], []).append(entry)
        for fields in wells.values():
            fields.sort(key=_first_two)
        return wells

    def filter_of(self, target: str, field: str) -> Filter | None:
        register = self._filters.get(target, {}).get(field)
        return None if register is None else register.value

    def properties_of(self, target: str) -> dict[str, Any]:
        """The materialised properties of a target (canonical spelling), a fresh object."""
        registers = self._properties.get(target)
        return properties.materialise(registers) if registers else {}

    # -- the document ------------------------------------------------------------------------

    def document(self, render: VisualRenderer | None = None) -> dict[str, Any]:
        """The report as shared/API.md "The report document" shows it (less ``version`` and
        ``position``, which the caller adds). Pages and visuals are in display order.
        ``properties`` on the report and on pages extend that shape (SetProperty targets them).

        ``render(visual_id, make)`` stands for each visual in the document; ``make()`` builds
        the visual's part. A caller that keeps parts between documents (the reports
        projection) may return one kept from before, as long as no event that
        ``visual_changed_by`` names for that visual was applied since.
        """
        if not self.created:
            raise NotFound(f"report {self.report_id} does not exist", code="report_not_found")
        pages = self.pages_in_order()
        on_page: dict[str, list[tuple[str, str, Registers]]] = {
            page_id: [] for _, page_id, _ in pages
        }
        for visual_id, visual in self._visuals.items():
            if "added" in visual:
                bucket = on_page.get(visual["page"].value)
                if bucket is not None:
                    bucket.append((visual["key"].value, visual_id, visual))
        page_documents = []
        for _, page_id, page in pages:
            target = "page:" + page_id
            visuals = on_page[page_id]
            visuals.sort(key=_key_then_id)
            page_documents.append(
                {
                    "id": page_id,
                    "name": page["name"].value,
                    "filters": self._filter_entries(target),
                    "properties": self.properties_of(target),
                    "visuals": [self._visual_document(vid, visual) for _, vid, visual in visuals]
                    if render is None
                    else [
                        render(vid, partial(self._visual_document, vid, visual))
                        for _, vid, visual in visuals
                    ],
                }
            )
        workspace_id = self.report_value("workspace_id")
        dataset_id = self.report_value("dataset_id")
        return {
            "id": str(self.report_id),
            "workspace_id": None if workspace_id is None else str(workspace_id),
            "name": self.report_value("name"),
            "dataset_id": None if dataset_id is None else str(dataset_id),
            "filters": self._filter_entries(REPORT),
            "properties": self.properties_of(REPORT),
            "pages": page_documents,
        }

    def _visual_document(self, visual_id: str, visual: Registers) -> dict[str, Any]:
        # The hot path: a report of 1000 visuals must materialise in a few milliseconds.
        target = "visual:" + visual_id
        visual_type = visual["type"].value
        x = visual["x"].value
        y = visual["y"].value
        w = visual["w"].value
        h = visual["h"].value
        if not (
            x >= 0
            and w > 0
            and x + w <= layout.COLUMNS
            and y >= 0
            and 0 < h <= layout.MAX_HEIGHT
            and y + h <= layout.ROWS
        ):
            x, y, w, h = layout.clamp(x, y, w, h)
        wells: dict[str, list[dict[str, Any]]] = {
            name: [] for name in _WELL_NAMES.get(visual_type, ())
        }
        bindings = self._bindings.get(visual_id)
        if bindings:
            keys = self._binding_keys.get(visual_id, {})
            bound = []
            for binding, register in bindings.items():
                is_bound, aggregation = register.value
                if is_bound and binding[0] in wells:
                    key = keys.get(binding)
                    bound.append(
                        (binding[0], "" if key is None else key.value, binding[1], aggregation)
                    )
            bound.sort(key=_first_three)
            for well, _, field, aggregation in bound:
                wells[well].append({"field": field, "aggregation": aggregation})
        property_registers = self._properties.get(target)
        return {
            "id": visual_id,
            "visual_type": visual_type,
            "layout": {"x": x, "y": y, "w": w, "h": h},
            "wells": wells,
            "properties": properties.materialise(property_registers) if property_registers else {},
            "filters": self._filter_entries(target) if target in self._filters else [],
        }

    def _filter_entries(self, target: str) -> list[dict[str, Any]]:
        registers = self._filters.get(target)
        if not registers:
            return []
        if len(registers) == 1:
            ((field, register),) = registers.items()
            flt = register.value
            return [] if flt is None else [filter_entry(field, flt)]
        order = self._filter_order.get(target, {})
        entries = [
            (order.get(field, register.stamp), field, register.value)
            for field, register in registers.items()
            if register.value is not None
        ]
        entries.sort(key=_first_two)
        return [filter_entry(field, flt) for _, field, flt in entries if flt is not None]


assert set(ReportState._APPLY) == set(EVENT_TYPES.values()), "an event type has no apply"  # noqa: SLF001

#: ``render(visual_id, make)`` of ``ReportState.document``.
VisualRenderer = Callable[[str, Callable[[], dict[str, Any]]], Any]
#: ``visual_changed_by``: an event that may change any visual's part of the document.
EVERY_VISUAL: Final = "*"
_VISUAL_EVENTS: Final = (
    VisualAdded,
    VisualMoved,
    VisualResized,
    VisualTypeChanged,
    VisualRemoved,
    FieldBound,
    FieldUnbound,
    FieldMoved,
)


def visual_changed_by(event: ReportEvent) -> str | None:
    """The visual whose part of the document (``_visual_document``) applying ``event`` may
    change: its id; ``EVERY_VISUAL``; or ``None`` when it changes no visual's part.

    A visual's part depends only on its own registers, bindings, properties and filters (its
    target "visual:<id>"), and every event that writes those names the visual. Removing a page
    orphans its visuals, which then never show again; it is answered ``EVERY_VISUAL`` anyway,
    being rare and the safe answer.
    """
    if isinstance(event, _VISUAL_EVENTS):
        return str(event.visual_id)
    if isinstance(event, PropertySet | FilterSet | FilterCleared):
        target = canonical_target(event.target)
        return target[7:] if target[:7] == "visual:" else None
    if isinstance(event, PageRemoved):
        return EVERY_VISUAL
    return None


T1 = TypeVar("T1")
T2 = TypeVar("T2")
T3 = TypeVar("T3")


def _first_two(entry: tuple[T1, T2, *tuple[Any, ...]]) -> tuple[T1, T2]:
    return entry[0], entry[1]


def _first_three(entry: tuple[T1, T2, T3, Any]) -> tuple[T1, T2, T3]:
    return entry[0], entry[1], entry[2]


def _key_then_id(item: tuple[str, str, Registers]) -> tuple[str, str]:
    return item[0], item[1]
