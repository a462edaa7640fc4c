"""Realistic report edits for bench/projections.py: commands that are valid by construction.

`ReportEditor` keeps a small model of one report (its pages, its visuals with their layout and
bound fields, its filters) and hands out the next command of an editing session: mostly moves,
property sets and resizes, then binds and unbinds, filters, visuals added and removed, pages
renamed, added, moved and removed, now and then a report rename or a visual type change. The
model follows every command it hands out, so as long as the commands are decided in the order
they were made, none is rejected; the command path and the generator below count any that are.

`Generator` decides those commands against an in-memory `Report` with `commands.decide.decide`,
stamps them the way `ReportHandler._stamp` does (a dot after the replica's counter, an HLC after
the report's, a fresh event id, the batch's command id as correlation id), applies them and
encodes them as `NewEvent`s ready for `EventStore.append`: the stored events are what the
command path would have stored, without paying for it a million times.
"""

from __future__ import annotations

import random
import uuid
from dataclasses import dataclass, field
from uuid import UUID

from commands.clock import ServerClock
from commands.decide import decide
from commands.envelope import new_event
from commands.eventstore import NewEvent
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
from domain.errors import DomainError
from domain.metadata import EventMetadata
from domain.report.aggregate import Report
from domain.report.events import encode
from domain.report.filters import InFilter, RangeFilter
from domain.report.visuals import VISUAL_TYPES
from domain.versions import Dot

COLUMNS = 24
#: Types a visual may change between without losing bindings (same wells, same rules).
COLUMN_FAMILY = ("column", "clustered_column", "stacked_column", "area")
NEW_VISUAL_TYPES = (*COLUMN_FAMILY, "column", "line", "table", "card", "pie")
DIMENSIONS = (
    "Date[Month]",
    "Date[Quarter]",
    "Region[Name]",
    "Product[Category]",
    "Customer[Segment]",
    "Channel[Name]",
)
MEASURES = ("Sales[Revenue]", "Sales[Units]", "Sales[Margin]", "Sales[Discount]", "Sales[Cost]")
AGGREGATIONS = ("sum", "sum", "avg", "count", "max")
PROPERTY_PATHS: tuple[tuple[str, tuple[object, ...]], ...] = (
    ("title.text", ("Revenue by region", "Units by month", "Margin trend", "Top customers")),
    ("title.show", (True, False)),
    ("legend.show", (True, False)),
    ("legend.position", ("top", "bottom", "right")),
    ("colors.primary", ("#3366cc", "#dc3912", "#ff9900", "#109618")),
    ("data_labels.show", (True, False)),
    ("background.color", ("#ffffff", "#f4f4f4", None)),
    ("border.width", (0, 1, 2)),
)
PAGE_NAMES = ("Overview", "Sales", "Customers", "Products", "Trends", "Details", "Regions")

#: (kind, weight): the mix of one editing session (weights need not sum to anything).
MIX: tuple[tuple[str, int], ...] = (
    ("move", 300),
    ("property", 250),
    ("resize", 120),
    ("bind", 80),
    ("unbind", 40),
    ("filter", 40),
    ("clear_filter", 20),
    ("add_visual", 40),
    ("remove_visual", 30),
    ("change_type", 20),
    ("rename_page", 20),
    ("add_page", 5),
    ("move_page", 10),
    ("remove_page", 3),
    ("rename_report", 10),
)
MIN_PAGES, MAX_PAGES = 2, 6
MIN_VISUALS, MAX_VISUALS = 2, 8  # per page
MAX_VALUE_FIELDS = 4


@dataclass
class VisualModel:
    page: UUID
    type: str
    x: int
    y: int
    w: int
    h: int
    wells: dict[str, list[str]] = field(default_factory=dict)


@dataclass
class ReportEditor:
    """The next valid command for one report, from a model that follows each command."""

    report_id: UUID
    rng: random.Random
    pages: list[UUID] = field(default_factory=list)
    visuals: dict[UUID, VisualModel] = field(default_factory=dict)
    #: (target, field) pairs that hold a filter.
    filters: set[tuple[str, str]] = field(default_factory=set)
    commands: int = 0

    def __post_init__(self) -> None:
        kinds, weights = zip(*MIX, strict=True)
        self._kinds: tuple[str, ...] = kinds
        self._weights: tuple[int, ...] = weights

    # -- the initial report ------------------------------------------------------------------

    def layout_commands(self, pages: int = 3, visuals_per_page: int = 4) -> list[ReportCommand]:
        """Pages with visuals and their first bindings: what a new report gets first."""
        commands: list[ReportCommand] = []
        for _ in range(pages):
            commands.append(self._add_page())
            page = self.pages[-1]
            for _ in range(visuals_per_page):
                commands.append(self._add_visual(page))
                visual_id = next(reversed(self.visuals))
                commands.extend(self._bind(visual_id) for _ in range(2))
        return [command for command in commands if command is not None]

    # -- editing -----------------------------------------------------------------------------

    def next_command(self) -> ReportCommand:
        while True:
            kind = self.rng.choices(self._kinds, self._weights)[0]
            command = getattr(self, "_" + kind)()
            if command is not None:
                self.commands += 1
                return command

    def _on_page_count(self, page: UUID) -> int:
        return sum(1 for visual in self.visuals.values() if visual.page == page)

    def _any_visual(self) -> UUID | None:
        if not self.visuals:
            return None
        return self.rng.choice(list(self.visuals))

    def _target(self) -> str:
        roll = self.rng.random()
        if roll < 0.1 or not self.visuals:
            if roll < 0.05 or not self.pages:
                return "report"
            return f"page:{self.rng.choice(self.pages)}"
        return f"visual:{self._any_visual()}"

    def _move(self) -> ReportCommand | None:
        visual_id = self._any_visual()
        if visual_id is None:
            return None
        visual = self.visuals[visual_id]
        visual.x = self.rng.randint(0, COLUMNS - visual.w)
        visual.y = self.rng.randint(0, 40)
        z_index = self.rng.randint(0, 6) if self.rng.random() < 0.1 else None
        return MoveVisual(visual_id=visual_id, x=visual.x, y=visual.y, z_index=z_index)

    def _resize(self) -> ReportCommand | None:
        visual_id = self._any_visual()
        if visual_id is None:
            return None
        visual = self.visuals[visual_id]
        visual.w = self.rng.randint(1, COLUMNS - visual.x)
        visual.h = self.rng.randint(2, 12)
        return ResizeVisual(visual_id=visual_id, w=visual.w, h=visual.h)

    def _property(self) -> ReportCommand | None:
        path, values = self.rng.choice(PROPERTY_PATHS)
        return SetProperty(target=self._target(), path=path, value=self.rng.choice(values))

    def _bind(self, visual_id: UUID | None = None) -> ReportCommand | None:
        visual_id = visual_id or self._any_visual()
        if visual_id is None:
            return None
        visual = self.visuals[visual_id]
        spec = VISUAL_TYPES[visual.type]
        well = self.rng.choice(spec.wells)
        bound = visual.wells.setdefault(well.name, [])
        limit = well.max_fields if well.max_fields is not None else MAX_VALUE_FIELDS
        if len(bound) >= limit:
            return None
        names = MEASURES if well.takes_aggregation else DIMENSIONS
        free = [name for name in names if name not in bound]
        if not free:
            return None
        chosen = self.rng.choice(free)
        bound.append(chosen)
        aggregation = self.rng.choice(AGGREGATIONS) if well.takes_aggregation else None
        return BindField(visual_id=visual_id, well=well.name, field=chosen, aggregation=aggregation)

    def _unbind(self) -> ReportCommand | None:
        visual_id = self._any_visual()
        if visual_id is None:
            return None
        visual = self.visuals[visual_id]
        wells = [name for name, fields in visual.wells.items() if fields]
        if not wells:
            return None
        well = self.rng.choice(wells)
        chosen = self.rng.choice(visual.wells[well])
        visual.wells[well].remove(chosen)
        return UnbindField(visual_id=visual_id, well=well, field=chosen)

    def _filter(self) -> ReportCommand | None:
        target = self._target()
        name = self.rng.choice(DIMENSIONS[:4])
        self.filters.add((target, name))
        if self.rng.random() < 0.7:
            values = tuple(self.rng.sample(("North", "South", "East", "West", "Online"), 2))
            return SetFilter(target=target, field=name, filter=InFilter(values=values))
        low = self.rng.randint(0, 500)
        return SetFilter(target=target, field=name, filter=RangeFilter(min=low, max=low + 100))

    def _clear_filter(self) -> ReportCommand | None:
        if not self.filters:
            return None
        target, name = self.rng.choice(sorted(self.filters))
        self.filters.discard((target, name))
        return ClearFilter(target=target, field=name)

    def _add_visual(self, page: UUID | None = None) -> ReportCommand | None:
        if page is None:
            if not self.pages:
                return None
            page = self.rng.choice(self.pages)
        if self._on_page_count(page) >= MAX_VISUALS:
            return None
        visual_id = uuid.UUID(int=self.rng.getrandbits(128), version=4)
        w = self.rng.randint(4, 12)
        x = self.rng.randint(0, COLUMNS - w)
        y, h = self.rng.randint(0, 30), self.rng.randint(3, 8)
        visual_type = self.rng.choice(NEW_VISUAL_TYPES)
        self.visuals[visual_id] = VisualModel(page, visual_type, x, y, w, h)
        return AddVisual(
            visual_id=visual_id, page_id=page, visual_type=visual_type, x=x, y=y, w=w, h=h
        )

    def _remove_visual(self) -> ReportCommand | None:
        visual_id = self._any_visual()
        if visual_id is None or self._on_page_count(self.visuals[visual_id].page) <= MIN_VISUALS:
            return None
        del self.visuals[visual_id]
        self._forget_filters(f"visual:{visual_id}")
        return RemoveVisual(visual_id=visual_id)

    def _change_type(self) -> ReportCommand | None:
        family = [vid for vid, visual in self.visuals.items() if visual.type in COLUMN_FAMILY]
        if not family:
            return None
        visual_id = self.rng.choice(family)
        visual = self.visuals[visual_id]
        visual.type = self.rng.choice([t for t in COLUMN_FAMILY if t != visual.type])
        return ChangeVisualType(visual_id=visual_id, visual_type=visual.type)

    def _rename_page(self) -> ReportCommand | None:
        if not self.pages:
            return None
        name = f"{self.rng.choice(PAGE_NAMES)} {self.rng.randint(1, 9)}"
        return RenamePage(page_id=self.rng.choice(self.pages), name=name)

    def _add_page(self) -> ReportCommand | None:
        if len(self.pages) >= MAX_PAGES:
            return None
        page_id = uuid.UUID(int=self.rng.getrandbits(128), version=4)
        self.pages.append(page_id)
        return AddPage(page_id=page_id, name=self.rng.choice(PAGE_NAMES))

    def _move_page(self) -> ReportCommand | None:
        if len(self.pages) < 2:
            return None
        return MovePage(
            page_id=self.rng.choice(self.pages), index=self.rng.randint(0, len(self.pages) - 1)
        )

    def _remove_page(self) -> ReportCommand | None:
        if len(self.pages) <= MIN_PAGES:
            return None
        page = self.rng.choice(self.pages)
        self.pages.remove(page)
        for visual_id in [vid for vid, visual in self.visuals.items() if visual.page == page]:
            del self.visuals[visual_id]
            self._forget_filters(f"visual:{visual_id}")
        self._forget_filters(f"page:{page}")
        return RemovePage(page_id=page)

    def _rename_report(self) -> ReportCommand | None:
        return RenameReport(name=f"Sales report {self.rng.randint(1, 999)}")

    def _forget_filters(self, target: str) -> None:
        self.filters = {pair for pair in self.filters if pair[0] != target}


@dataclass
class Generator:
    """Events of one report decided, stamped and applied in memory, ready to append.

    An editing session (a replica: a browser tab) sends batches of 1-4 commands; a new session
    starts every `session_events` events on average, by one of `actors`.
    """

    report_id: UUID
    workspace_id: UUID
    actors: list[UUID]
    rng: random.Random
    clock: ServerClock
    session_events: int = 300
    report: Report = field(init=False)
    editor: ReportEditor = field(init=False)
    rejected: int = 0
    _version: int = 0
    _session: int = 0
    _replica: str = "gen-0"
    _actor: UUID | None = None
    _left_in_session: int = 0

    def __post_init__(self) -> None:
        self.report = Report(self.report_id)
        self.editor = ReportEditor(self.report_id, random.Random(self.rng.getrandbits(64)))
        self._actor = self.actors[0]

    @property
    def version(self) -> int:
        return self._version

    def start(self, name: str) -> list[NewEvent]:
        """The report's creation and its first layout."""
        self._version = 0
        payload = self.report.create(self.workspace_id, name, None)
        command_id = uuid.uuid4()
        events = [self._stamp_apply(payload, command_id)]
        command_id = uuid.uuid4()
        for command in self.editor.layout_commands():
            event = self._decide(command, command_id)
            if event is not None:
                events.append(event)
        return events

    def edits(self, count: int) -> list[NewEvent]:
        """`count` more events, in batches of 1-4 commands of changing sessions."""
        events: list[NewEvent] = []
        while len(events) < count:
            if self._left_in_session <= 0:
                self._session += 1
                self._replica = f"tab-{self.report_id.hex[:8]}-{self._session}"
                self._actor = self.rng.choice(self.actors)
                self._left_in_session = self.rng.randint(
                    self.session_events // 2, self.session_events * 3 // 2
                )
            command_id = uuid.uuid4()
            for _ in range(min(self.rng.randint(1, 4), count - len(events))):
                event = self._decide(self.editor.next_command(), command_id)
                if event is not None:
                    events.append(event)
                    self._left_in_session -= 1
        return events

    def _decide(self, command: ReportCommand, command_id: UUID) -> NewEvent | None:
        try:
            payload = decide(self.report, command)
        except DomainError:
            self.rejected += 1
            return None
        return self._stamp_apply(payload, command_id)

    def _stamp_apply(self, payload: object, command_id: UUID) -> NewEvent:
        report = self.report
        self.clock.observe(report.max_hlc, max_drift_ms=None)
        replica = self._replica
        meta = EventMetadata(
            event_id=uuid.uuid4(),
            replica=replica,
            dot=Dot(replica, report.version_vector.get(replica) + 1),
            hlc=self.clock.next(),
            actor=self._actor,
            command_id=command_id,
            correlation_id=command_id,
        )
        report.apply(payload, meta)  # type: ignore[arg-type]
        self._version += 1
        return new_event(str(payload.__struct_config__.tag), encode(payload), meta)  # type: ignore[attr-defined]
