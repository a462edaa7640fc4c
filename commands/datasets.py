"""The dataset command path: load the Dataset aggregate, authorize against its workspace,
decide, append (one transaction per command, expected version = the aggregate's).

Creation takes what a connector found (columns, rows, the blob of an uploaded file) and appends
``DatasetCreated`` + ``DatasetSchemaInferred`` (+ ``DatasetRefreshed``) together: a dataset
never exists half-made. The caller (api/) does the I/O with the source before; if the append
fails it removes the blob it stored.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any
from uuid import UUID

from commands.authorization import Actor, Authorizer
from commands.clock import ServerClock
from commands.envelope import new_event
from commands.eventstore import EventStore, RecordedEvent, StreamRef, WrongExpectedVersion
from commands.repository import Loaded, Repository
from domain.dataset.aggregate import Dataset
from domain.dataset.events import DatasetEvent, SourceColumnSeen
from domain.dataset.events import decode as decode_dataset_event
from domain.dataset.events import encode as encode_dataset_event
from domain.errors import AlreadyExists, NotFound
from domain.metadata import EventMetadata
from domain.versions import Dot

STREAM_TYPE = "dataset"
#: Appends retried after another process wrote the same dataset first.
RETRIES = 3

Decide = Callable[[Dataset], DatasetEvent | Sequence[DatasetEvent]]


@dataclass(frozen=True)
class DatasetOutcome:
    dataset: Dataset
    version: int
    events: list[RecordedEvent]
    duplicate: bool = False

    @property
    def position(self) -> int:
        return self.events[-1].position if self.events else 0


def apply_dataset_event(dataset: Dataset, event: RecordedEvent, _: EventMetadata) -> None:
    dataset.apply(decode_dataset_event(event.data), event.version)


class DatasetHandler:
    def __init__(
        self,
        store: EventStore,
        authorizer: Authorizer,
        clock: ServerClock,
        *,
        on_outcome: Callable[[str, int], None] | None = None,
    ) -> None:
        self.store = store
        self.authorizer = authorizer
        self.clock = clock
        self.repository: Repository[Dataset] = Repository(
            store, stream_type=STREAM_TYPE, new=Dataset, apply=apply_dataset_event
        )
        self._on_outcome = on_outcome

    async def load(self, dataset_id: UUID, actor: Actor, *, edit: bool = False) -> Loaded[Dataset]:
        """The dataset, if the actor may see it (``edit``: change it)."""
        entry = await self.repository.load(dataset_id)
        dataset = entry.aggregate
        if not dataset.exists or dataset.deleted or dataset.workspace_id is None:
            raise NotFound(f"dataset {dataset_id} does not exist", code="dataset_not_found")
        try:
            if edit:
                await self.authorizer.require_edit(dataset.workspace_id, actor.id)
            else:
                await self.authorizer.require_view(dataset.workspace_id, actor.id)
        except NotFound:
            # Not a member of its workspace: do not reveal that the dataset exists.
            raise NotFound(
                f"dataset {dataset_id} does not exist or you are not a member of its workspace",
                code="dataset_not_found",
            ) from None
        return entry

    async def create(
        self,
        workspace_id: UUID,
        actor: Actor,
        *,
        name: str,
        connector: str,
        config: Mapping[str, Any],
        table: str | None,
        columns: Sequence[SourceColumnSeen],
        rows: int | None,
        refresh: Mapping[str, Any] | None = None,
        dataset_id: UUID | None = None,
        command_id: UUID | None = None,
    ) -> DatasetOutcome:
        await self.authorizer.require_edit(workspace_id, actor.id)
        dataset_id = dataset_id or uuid.uuid4()
        command_id = command_id or uuid.uuid4()
        entry = await self.repository.load_to_create(dataset_id, code="dataset_exists")
        async with entry.lock:
            dataset = entry.aggregate
            if dataset.exists:
                earlier = await self.store.find_command(command_id)
                if earlier is not None:
                    return DatasetOutcome(dataset, earlier.version, earlier.events, duplicate=True)
                raise AlreadyExists(f"dataset {dataset_id} exists", code="dataset_exists")
            created = dataset.create(workspace_id, name, connector, config, table)
            scratch = Dataset(dataset_id)
            scratch.apply(created, 1)
            payloads: list[DatasetEvent] = [created, scratch.infer_schema(columns, rows)]
            if refresh is not None:
                payloads.append(scratch.refresh(**refresh))
            try:
                return await self._append(entry, workspace_id, payloads, actor, command_id)
            except WrongExpectedVersion:
                raise AlreadyExists(f"dataset {dataset_id} exists", code="dataset_exists") from None

    async def change(
        self, dataset_id: UUID, actor: Actor, decide: Decide, *, command_id: UUID | None = None
    ) -> DatasetOutcome:
        """Decide against the dataset as it is and append; if another process appended first,
        catch up and decide again."""
        command_id = command_id or uuid.uuid4()
        for attempt in range(RETRIES):
            entry = await self.load(dataset_id, actor, edit=True)
            async with entry.lock:
                dataset = entry.aggregate
                decided = decide(dataset)
                payloads = list(decided) if isinstance(decided, Sequence) else [decided]
                assert dataset.workspace_id is not None
                try:
                    return await self._append(
                        entry, dataset.workspace_id, payloads, actor, command_id
                    )
                except WrongExpectedVersion:
                    if attempt == RETRIES - 1:
                        raise
                    await self.repository.catch_up(entry, dataset_id)
        raise AssertionError("unreachable")  # pragma: no cover

    async def _append(
        self,
        entry: Loaded[Dataset],
        workspace_id: UUID,
        payloads: Sequence[DatasetEvent],
        actor: Actor,
        command_id: UUID,
    ) -> DatasetOutcome:
        dataset = entry.aggregate
        base = entry.version
        events = []
        for offset, payload in enumerate(payloads, start=1):
            meta = EventMetadata(
                event_id=uuid.uuid4(),
                replica="api",
                dot=Dot("api", base + offset),
                hlc=self.clock.next(),
                actor=actor.id,
                command_id=command_id,
                correlation_id=command_id,
            )
            tag = payload.__struct_config__.tag
            events.append(new_event(str(tag), encode_dataset_event(payload), meta))
        result = await self.store.append(
            StreamRef(stream_id=dataset.id, stream_type=STREAM_TYPE, workspace_id=workspace_id),
            base,
            events,
            command_id=command_id,
        )
        if result.duplicate:
            await self.repository.catch_up(entry, dataset.id)
        else:
            for recorded, payload in zip(result.events, payloads, strict=True):
                dataset.apply(payload, recorded.version)
                entry.version = recorded.version
                entry.position = recorded.position
        if self._on_outcome is not None:
            outcome = "duplicate" if result.duplicate else "appended"
            self._on_outcome(outcome, 0 if result.duplicate else len(result.events))
        return DatasetOutcome(dataset, result.version, result.events, duplicate=result.duplicate)
