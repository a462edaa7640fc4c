"""What the dataset routes share: the data side and handler from the app state, read-your-writes
answers, and the catalogue row of a dataset the caller may see."""

from __future__ import annotations

from typing import Annotated
from uuid import UUID

from litestar.datastructures import State
from litestar.params import Parameter

from api.data_side import DataSide
from api.routes.reports import wait_for_read_model
from api.schemas_datasets import (
    DatasetOut,
    dataset_out,
)
from commands.authorization import Actor
from commands.datasets import DatasetHandler, DatasetOutcome, Decide
from domain.errors import NotFound
from projections.datasets import DatasetRecord, dataset_record

#: How long a write waits for the catalogue to include it.
CATALOGUE_WAIT = 5.0
DatasetId = Annotated[UUID, Parameter(description="The dataset's id")]
#: Catalogue rows kept per process (see `catalogue_row`).
RECORDS_KEPT = 1024


def data_of(state: State) -> DataSide:
    data: DataSide = state.services.data
    return data


def handler_of(state: State) -> DatasetHandler:
    handler: DatasetHandler = state.services.datasets
    return handler


async def answer(state: State, outcome: DatasetOutcome) -> DatasetOut:
    """The dataset after a write, once the catalogue has it (read-your-writes)."""
    services = state.services
    await services.projections["datasets"].wait_until(outcome.position, CATALOGUE_WAIT)
    record = await catalogue_row(state, outcome.dataset.id)
    if record is None:
        raise NotFound(f"dataset {outcome.dataset.id} was deleted", code="dataset_not_found")
    return dataset_out(record, data_of(state))


async def visible(
    state: State, dataset_id: UUID, actor: Actor, min_position: int | None
) -> DatasetRecord:
    """The dataset's catalogue row if ``actor`` may see it (404 otherwise, existence hidden)."""
    services = state.services
    await wait_for_read_model(services, "datasets", min_position)
    record = await catalogue_row(state, dataset_id)
    if record is None or record.snapshot.workspace_id is None:
        raise NotFound(f"dataset {dataset_id} does not exist", code="dataset_not_found")
    try:
        await services.authorizer.require_view(record.snapshot.workspace_id, actor.id)
    except NotFound:
        raise NotFound(
            f"dataset {dataset_id} does not exist or you are not a member of its workspace",
            code="dataset_not_found",
        ) from None
    return record


async def catalogue_row(state: State, dataset_id: UUID) -> DatasetRecord | None:
    """The dataset's catalogue row. Where this process runs the catalogue's projection (the
    default layout) a row read is kept until the projection applies its next event: every
    query of a dashboard would otherwise read the same row again."""
    services = state.services
    runner = services.projections["datasets"]
    if not runner.is_leader:
        return await dataset_record(services.pool, services.read_schema, dataset_id)
    kept = data_of(state).records
    position = runner.position  # before the read: an event applied meanwhile voids the entry
    found = kept.get(dataset_id)
    if found is not None and found[0] == position:
        return found[1]
    record = await dataset_record(services.pool, services.read_schema, dataset_id)
    if record is not None:
        if len(kept) >= RECORDS_KEPT:
            kept.clear()
        kept[dataset_id] = (position, record)
    return record


async def change(state: State, dataset_id: UUID, actor: Actor, decide: Decide) -> DatasetOut:
    """Decide and append through the Dataset aggregate; answer the dataset after it."""
    outcome = await handler_of(state).change(dataset_id, actor, decide)
    return await answer(state, outcome)
