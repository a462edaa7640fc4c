"""The Report aggregate: decisions (validate a command, return the event) and ``apply``.

A decision checks the command against the current state and returns the event payload, or
raises a ``DomainError``; it changes nothing. The command handler stamps the payload with
``EventMetadata`` (a dot after ``version_vector``, an HLC after ``max_hlc``), calls ``apply``
and appends. A batch is atomic through ``savepoint`` / ``rollback_to`` / ``release`` (or the
``atomic()`` block): the undo log costs O(changes).

Stamping rules (``apply`` relies on them): each replica numbers its events 1, 2, 3... (its
dots), and gives every event its own HLC, greater than that of its previous event and than
``max_hlc`` -- one ``domain.clock.tick`` per event, even within a batch. ``apply`` refuses
(``ValueError``) a new dot whose HLC is not after the replica's previous ones.

Decisions are made against the state the deciding replica has seen; ``apply`` merges
whatever arrives (see ``domain.report.document``). Removal wins over concurrent edits;
``lost_to_delete`` tells the sync service which incoming events lost that way, so it can
report them to their author.
"""

from __future__ import annotations

from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

from domain.errors import AlreadyExists, InvalidCommand, NotFound, TargetDeleted
from domain.names import clean_name
from domain.ordering import key_between, key_for_index
from domain.report import layout
from domain.report.document import Registers, ReportState, Savepoint, VisualRenderer
from domain.report.events import (
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
from domain.report.filters import Filter, check_field_name, check_filter
from domain.report.properties import check_path, check_value
from domain.report.targets import canonical_target, page_target, parse_target, visual_target
from domain.report.visuals import AGGREGATIONS, VISUAL_TYPES, VisualSpec

if TYPE_CHECKING:
    from collections.abc import Iterator
    from uuid import UUID

    from domain.clock import Hlc
    from domain.metadata import EventMetadata
    from domain.versions import VersionVector


class Report:
    """One report: its mergeable state and the decisions that guard it."""

    def __init__(self, report_id: UUID, *, state: ReportState | None = None) -> None:
        """A report with nothing applied yet, or holding ``state`` (a restored snapshot)."""
        if state is not None and state.report_id != report_id:
            raise ValueError(f"the state of report {state.report_id} given to {report_id}")
        self._state = ReportState(report_id) if state is None else state

    @classmethod
    def from_state(cls, state: ReportState) -> Report:
        """The report holding ``state`` (``domain.report.snapshot.restore`` builds one)."""
        return cls(state.report_id, state=state)

    @property
    def state(self) -> ReportState:
        """The mergeable state, for read-only queries (audit descriptions, snapshots, revert
        plans). Change it only through ``apply``."""
        return self._state

    @property
    def id(self) -> UUID:
        return self._state.report_id

    @property
    def exists(self) -> bool:
        """Whether the report was created (events may have arrived before its creation)."""
        return self._state.created

    @property
    def workspace_id(self) -> UUID | None:
        """The workspace the report belongs to (None until its creation is applied)."""
        value: UUID | None = self._state.report_value("workspace_id")
        return value

    @property
    def dataset_id(self) -> UUID | None:
        value: UUID | None = self._state.report_value("dataset_id")
        return value

    @property
    def name(self) -> str | None:
        value: str | None = self._state.report_value("name")
        return value

    @property
    def version_vector(self) -> VersionVector:
        """The dots of every event applied so far (replica → highest counter)."""
        return self._state.version_vector

    @property
    def max_hlc(self) -> Hlc:
        """The greatest HLC of any event applied so far; a new event's HLC must exceed it."""
        return self._state.max_hlc

    # -- state -------------------------------------------------------------------------------

    def apply(self, event: ReportEvent, meta: EventMetadata) -> None:
        """Merge an event: commutative, associative, idempotent. Stale edits (of removed
        things) are ignored; ``ValueError`` only for an event of another report or one that
        breaks the stamping rules above."""
        self._state.apply(event, meta)

    def document(self, render: VisualRenderer | None = None) -> dict[str, Any]:
        """The report document (shared/API.md), without ``version`` and ``position``; see
        ``ReportState.document`` for ``render``."""
        return self._state.document(render)

    def savepoint(self) -> Savepoint:
        return self._state.savepoint()

    def rollback_to(self, savepoint: Savepoint) -> None:
        self._state.rollback_to(savepoint)

    def release(self, savepoint: Savepoint) -> None:
        self._state.release(savepoint)

    @contextmanager
    def atomic(self) -> Iterator[None]:
        """All applies in the block happen, or on an exception none do."""
        with self._state.atomic():
            yield

    def lost_to_delete(self, event: ReportEvent) -> TargetDeleted | None:
        """Why ``event`` has no effect because its target (or the target's page) was removed;
        ``None`` if it was not lost that way. Removals and duplicate additions never lose."""
        match event:
            case PageRenamed() | PageMoved():
                return self._page_deleted(event.page_id)
            case VisualAdded():
                return self._page_deleted(event.page_id)
            case (
                VisualMoved()
                | VisualResized()
                | VisualTypeChanged()
                | FieldBound()
                | FieldUnbound()
                | FieldMoved()
            ):
                return self._visual_deleted(event.visual_id)
            case PropertySet() | FilterSet() | FilterCleared():
                kind, target_id = parse_target(event.target)
                if kind == "page" and target_id is not None:
                    return self._page_deleted(target_id)
                if kind == "visual" and target_id is not None:
                    return self._visual_deleted(target_id)
        return None

    def _page_deleted(self, page_id: UUID) -> TargetDeleted | None:
        if self._state.is_removed(page_target(page_id)):
            return TargetDeleted(f"page {page_id} was removed", code="page_removed")
        return None

    def _visual_deleted(self, visual_id: UUID) -> TargetDeleted | None:
        if self._state.is_removed(visual_target(visual_id)):
            return TargetDeleted(f"visual {visual_id} was removed", code="visual_removed")
        visual = self._state.visual(str(visual_id))
        if visual is not None and self._state.is_removed("page:" + visual["page"].value):
            return TargetDeleted(
                f"visual {visual_id} was removed with its page {visual['page'].value}",
                code="visual_removed",
            )
        return None

    # -- lookups that raise ------------------------------------------------------------------

    def _require_report(self) -> None:
        if not self._state.created:
            raise NotFound(f"report {self.id} does not exist", code="report_not_found")

    def _require_page(self, page_id: UUID) -> Registers:
        self._require_report()
        deleted = self._page_deleted(page_id)
        if deleted is not None:
            raise deleted
        page = self._state.page(str(page_id))
        if page is None:
            raise NotFound(f"page {page_id} is not on this report", code="page_not_found")
        return page

    def _require_visual(self, visual_id: UUID) -> Registers:
        self._require_report()
        deleted = self._visual_deleted(visual_id)
        if deleted is not None:
            raise deleted
        visual = self._state.visual(str(visual_id))
        if visual is None or self._state.page(visual["page"].value) is None:
            raise NotFound(f"visual {visual_id} is not on this report", code="visual_not_found")
        return visual

    def _require_target(self, target: str) -> str:
        """The canonical spelling of a target that exists."""
        kind, target_id = parse_target(target)
        if target_id is None:
            self._require_report()
        elif kind == "page":
            self._require_page(target_id)
        else:
            self._require_visual(target_id)
        return canonical_target(target)

    # -- decisions: report -------------------------------------------------------------------

    def create(self, workspace_id: UUID, name: str, dataset_id: UUID | None) -> ReportCreated:
        if self._state.created:
            raise AlreadyExists(f"report {self.id} already exists", code="report_exists")
        return ReportCreated(
            report_id=self.id,
            workspace_id=workspace_id,
            name=clean_name(name, "report"),
            dataset_id=dataset_id,
        )

    def rename(self, name: str) -> ReportRenamed:
        self._require_report()
        return ReportRenamed(name=clean_name(name, "report"))

    # -- decisions: pages --------------------------------------------------------------------

    def add_page(self, page_id: UUID, name: str, index: int | None = None) -> PageAdded:
        """A new page at ``index`` (``None`` or past the end: last)."""
        self._require_report()
        if self._state.is_removed(page_target(page_id)) or self._state.page(str(page_id)):
            raise AlreadyExists(f"page {page_id} already exists", code="page_exists")
        keys = [key for key, _, _ in self._state.pages_in_order()]
        return PageAdded(
            page_id=page_id,
            name=clean_name(name, "page"),
            key=key_for_index(keys, _position(index, len(keys))),
        )

    def rename_page(self, page_id: UUID, name: str) -> PageRenamed:
        self._require_page(page_id)
        return PageRenamed(page_id=page_id, name=clean_name(name, "page"))

    def move_page(self, page_id: UUID, index: int) -> PageMoved:
        """Move a page to position ``index`` (0 first; past the end: last)."""
        self._require_page(page_id)
        others = [key for key, other, _ in self._state.pages_in_order() if other != str(page_id)]
        return PageMoved(page_id=page_id, key=key_for_index(others, _position(index, 0)))

    def remove_page(self, page_id: UUID) -> PageRemoved:
        """Remove a page and its visuals."""
        self._require_page(page_id)
        return PageRemoved(page_id=page_id)

    # -- decisions: visuals ------------------------------------------------------------------

    def add_visual(
        self,
        visual_id: UUID,
        page_id: UUID,
        visual_type: str,
        *,
        x: int,
        y: int,
        w: int,
        h: int,
    ) -> VisualAdded:
        """A new visual on top of the page's others; the layout is keyword-only."""
        self._require_page(page_id)
        if self._state.is_removed(visual_target(visual_id)) or self._state.visual(str(visual_id)):
            raise AlreadyExists(f"visual {visual_id} already exists", code="visual_exists")
        _visual_spec(visual_type)
        layout.check_position(x, y, w, h)
        on_page = self._state.visuals_on(str(page_id))
        top = on_page[-1][0] if on_page else None
        return VisualAdded(
            visual_id=visual_id,
            page_id=page_id,
            visual_type=visual_type,
            x=x,
            y=y,
            w=w,
            h=h,
            key=key_between(top, None),
        )

    def move_visual(
        self, visual_id: UUID, x: int, y: int, *, z_index: int | None = None
    ) -> VisualMoved:
        """Move a visual to cell (x, y); with ``z_index``, also to that place in the page's
        z-order (0 bottom; past the end: top)."""
        visual = self._require_visual(visual_id)
        _, _, w, h = _layout(visual)
        layout.check_position(x, y, w, h)
        key = None
        if z_index is not None:
            others = [
                key
                for key, other, _ in self._state.visuals_on(visual["page"].value)
                if other != str(visual_id)
            ]
            key = key_for_index(others, _position(z_index, 0, "z_index"))
        return VisualMoved(visual_id=visual_id, x=x, y=y, key=key)

    def resize_visual(self, visual_id: UUID, w: int, h: int) -> VisualResized:
        visual = self._require_visual(visual_id)
        x, y, _, _ = _layout(visual)
        layout.check_position(x, y, w, h)
        return VisualResized(visual_id=visual_id, w=w, h=h)

    def change_visual_type(self, visual_id: UUID, visual_type: str) -> VisualTypeChanged:
        """Change the type, if every bound field fits the new type's wells. Otherwise
        ``InvalidCommand`` (code ``bindings_would_be_lost``) lists the fields that would be
        lost; the client unbinds or rebinds them in the same batch."""
        visual = self._require_visual(visual_id)
        new = _visual_spec(visual_type)
        old_type = visual["type"].value
        old = VISUAL_TYPES.get(old_type)
        shown = old.well_names if old is not None else ()
        bound = self._state.all_bound_fields(str(visual_id))
        lost: list[str] = []
        for well in shown:
            fields = bound.get(well, [])
            if not fields:
                continue
            target = new.well(well)
            if target is None:
                lost.extend(f"{well}: {field}" for _, field, _ in fields)
                continue
            if not target.takes_aggregation:
                lost.extend(
                    f"{well}: {aggregation}({field}) ({well} of a {new.visual_type} "
                    "takes no aggregation)"
                    for _, field, aggregation in fields
                    if aggregation is not None
                )
            if target.max_fields is not None and len(fields) > target.max_fields:
                lost.append(
                    f"{well}: {len(fields)} fields where a {new.visual_type} takes "
                    f"{target.max_fields}"
                )
        if lost:
            raise InvalidCommand(
                f"changing visual {visual_id} from {old_type} to {visual_type} would lose "
                f"{'; '.join(lost)}; unbind them first",
                code="bindings_would_be_lost",
            )
        return VisualTypeChanged(visual_id=visual_id, visual_type=visual_type)

    def remove_visual(self, visual_id: UUID) -> VisualRemoved:
        self._require_visual(visual_id)
        return VisualRemoved(visual_id=visual_id)

    # -- decisions: field wells --------------------------------------------------------------

    def bind_field(
        self,
        visual_id: UUID,
        well: str,
        field: str,
        aggregation: str | None = None,
        index: int | None = None,
    ) -> FieldBound | FieldMoved:
        """Put ``field`` in ``well`` at ``index`` (``None``: last, or where it already is).

        Binding a field already in the well with the same aggregation and an index moves it
        (``FieldMoved``); with another aggregation, rebinds it (``FieldBound``).
        """
        visual = self._require_visual(visual_id)
        visual_type = visual["type"].value
        spec = _visual_spec(visual_type)
        well_spec = spec.well(well)
        if well_spec is None:
            raise InvalidCommand(
                f"a {visual_type} visual has no well {well!r} "
                f"(its wells: {', '.join(spec.well_names)})",
                code="unknown_well",
            )
        check_field_name(field)
        if aggregation is not None:
            if aggregation not in AGGREGATIONS:
                raise InvalidCommand(
                    f"aggregation must be one of {', '.join(sorted(AGGREGATIONS))}, "
                    f"got {aggregation!r}",
                    code="invalid_aggregation",
                )
            if not well_spec.takes_aggregation:
                raise InvalidCommand(
                    f"well {well} of a {visual_type} visual takes no aggregation, "
                    f"got {aggregation}",
                    code="invalid_aggregation",
                )
        bound = self._state.bound_fields(str(visual_id), well)
        others = [key for key, other, _ in bound if other != field]
        current = next((entry for entry in bound if entry[1] == field), None)
        if current is None:
            if well_spec.max_fields is not None and len(bound) >= well_spec.max_fields:
                raise InvalidCommand(
                    f"well {well} of a {visual_type} visual takes at most "
                    f"{well_spec.max_fields} field(s) and holds "
                    f"{', '.join(name for _, name, _ in bound)}; unbind one first",
                    code="well_full",
                )
            key = key_for_index(others, _position(index, len(others)))
            return FieldBound(
                visual_id=visual_id, well=well, field=field, aggregation=aggregation, key=key
            )
        current_key, _, current_aggregation = current
        key = current_key if index is None else key_for_index(others, _position(index, 0))
        if aggregation == current_aggregation and index is not None:
            return FieldMoved(visual_id=visual_id, well=well, field=field, key=key)
        return FieldBound(
            visual_id=visual_id, well=well, field=field, aggregation=aggregation, key=key
        )

    def unbind_field(self, visual_id: UUID, well: str, field: str) -> FieldUnbound:
        self._require_visual(visual_id)
        if not any(name == field for _, name, _ in self._state.bound_fields(str(visual_id), well)):
            raise NotFound(
                f"field {field!r} is not in well {well} of visual {visual_id}",
                code="field_not_bound",
            )
        return FieldUnbound(visual_id=visual_id, well=well, field=field)

    # -- decisions: properties and filters ---------------------------------------------------

    def set_property(self, target: str, path: str, value: Any) -> PropertySet:
        """Set a format property (``value`` ``None`` removes it)."""
        canonical = self._require_target(target)
        check_path(path)
        check_value(path, value)
        return PropertySet(target=canonical, path=path, value=value)

    def set_filter(self, target: str, field: str, filter: Filter) -> FilterSet:  # noqa: A002
        canonical = self._require_target(target)
        check_field_name(field)
        check_filter(filter)
        return FilterSet(target=canonical, field=field, filter=filter)

    def clear_filter(self, target: str, field: str) -> FilterCleared:
        canonical = self._require_target(target)
        if self._state.filter_of(canonical, field) is None:
            raise NotFound(f"there is no filter on {field!r} of {target}", code="filter_not_set")
        return FilterCleared(target=canonical, field=field)


def _position(index: int | None, default: int, name: str = "index") -> int:
    if index is None:
        return default
    if isinstance(index, bool) or not isinstance(index, int) or index < 0:
        raise InvalidCommand(f"{name} must be an integer >= 0, got {index!r}", code="invalid_index")
    return index


def _visual_spec(visual_type: str) -> VisualSpec:
    spec = VISUAL_TYPES.get(visual_type)
    if spec is None:
        raise InvalidCommand(
            f"unknown visual type {visual_type!r} (known: {', '.join(VISUAL_TYPES)})",
            code="unknown_visual_type",
        )
    return spec


def _layout(visual: Registers) -> tuple[int, int, int, int]:
    return layout.clamp(visual["x"].value, visual["y"].value, visual["w"].value, visual["h"].value)
