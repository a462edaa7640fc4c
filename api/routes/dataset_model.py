"""A dataset's model: its fields (rename, retype, role, hide), measures and calculated columns."""

from __future__ import annotations

from typing import Any

from litestar import Request, delete, patch, post, put
from litestar.datastructures import State
from litestar.exceptions import ClientException
from litestar.params import FromPath, JSONBody

from api.routes.dataset_access import (
    DatasetId,
    change,
)
from api.schemas_datasets import (
    DatasetOut,
)
from commands.authorization import Actor
from commands.dataset import (
    ChangeCalculatedColumn,
    ChangeField,
    ChangeMeasure,
    DefineCalculatedColumn,
    DefineMeasure,
)
from connectors.measures import check_calculated_column, check_measure
from connectors.measures.references import rename_references
from domain.dataset.aggregate import Dataset
from domain.dataset.events import DatasetEvent


@patch(
    "/datasets/{dataset_id:uuid}/fields/{field_name:str}",
    summary="Rename, retype, set the role of, hide or show a field",
    tags=["datasets"],
)
async def change_field(
    dataset_id: FromPath[DatasetId],
    field_name: FromPath[str],
    data: JSONBody[ChangeField],
    request: Request[Actor, Any, State],
    state: State,
) -> DatasetOut:
    def decide(dataset: Dataset) -> list[DatasetEvent]:
        events: list[DatasetEvent] = []
        field = dataset.field_named(field_name)
        if data.type is not None and data.type != field.type:
            events.append(dataset.retype_field(field.name, data.type))
        if data.role is not None and data.role != field.role:
            events.append(dataset.set_field_role(field.name, data.role))
        if data.hidden is not None and data.hidden != field.hidden:
            events.append(
                dataset.hide_field(field.name) if data.hidden else dataset.show_field(field.name)
            )
        if data.name is not None and data.name != field.name:
            renamed = dataset.rename_field(field.name, data.name)
            events.append(renamed)
            events += dataset.references_renamed(field.name, renamed.name, rename_references)
        if not events:
            raise ClientException("nothing to change: give name, type, role or hidden")
        return events

    return await change(state, dataset_id, request.user, decide)


@post(
    "/datasets/{dataset_id:uuid}/measures",
    summary="Define a DAX-like measure",
    tags=["datasets"],
    status_code=201,
)
async def define_measure(
    dataset_id: FromPath[DatasetId],
    data: JSONBody[DefineMeasure],
    request: Request[Actor, Any, State],
    state: State,
) -> DatasetOut:
    return await change(
        state,
        dataset_id,
        request.user,
        lambda d: d.define_measure(data.name, data.expression, data.format, check_measure),
    )


@put(
    "/datasets/{dataset_id:uuid}/measures/{measure_name:str}",
    summary="Change (and optionally rename) a measure",
    tags=["datasets"],
)
async def change_measure(
    dataset_id: FromPath[DatasetId],
    measure_name: FromPath[str],
    data: JSONBody[ChangeMeasure],
    request: Request[Actor, Any, State],
    state: State,
) -> DatasetOut:

    def decide(dataset: Dataset) -> list[DatasetEvent]:
        changed = dataset.change_measure(
            measure_name, data.expression, data.format, data.name, check_measure
        )
        if changed.new_name is None:
            return [changed]
        return [
            changed,
            *dataset.references_renamed(changed.name, changed.new_name, rename_references),
        ]

    return await change(state, dataset_id, request.user, decide)


@delete(
    "/datasets/{dataset_id:uuid}/measures/{measure_name:str}",
    summary="Remove a measure",
    tags=["datasets"],
    status_code=200,
)
async def remove_measure(
    dataset_id: FromPath[DatasetId],
    measure_name: FromPath[str],
    request: Request[Actor, Any, State],
    state: State,
) -> DatasetOut:
    return await change(state, dataset_id, request.user, lambda d: d.remove_measure(measure_name))


@post(
    "/datasets/{dataset_id:uuid}/calculated-columns",
    summary="Define a calculated column (a row-level expression)",
    tags=["datasets"],
    status_code=201,
)
async def define_calculated_column(
    dataset_id: FromPath[DatasetId],
    data: JSONBody[DefineCalculatedColumn],
    request: Request[Actor, Any, State],
    state: State,
) -> DatasetOut:
    return await change(
        state,
        dataset_id,
        request.user,
        lambda d: d.define_calculated_column(
            data.name, data.expression, data.role, check_calculated_column
        ),
    )


@put(
    "/datasets/{dataset_id:uuid}/calculated-columns/{column_name:str}",
    summary="Change (and optionally rename) a calculated column",
    tags=["datasets"],
)
async def change_calculated_column(
    dataset_id: FromPath[DatasetId],
    column_name: FromPath[str],
    data: JSONBody[ChangeCalculatedColumn],
    request: Request[Actor, Any, State],
    state: State,
) -> DatasetOut:

    def decide(dataset: Dataset) -> list[DatasetEvent]:
        changed = dataset.change_calculated_column(
            column_name, data.expression, data.role, data.name, check_calculated_column
        )
        if changed.new_name is None:
            return [changed]
        return [
            changed,
            *dataset.references_renamed(changed.name, changed.new_name, rename_references),
        ]

    return await change(state, dataset_id, request.user, decide)


@delete(
    "/datasets/{dataset_id:uuid}/calculated-columns/{column_name:str}",
    summary="Remove a calculated column",
    tags=["datasets"],
    status_code=200,
)
async def remove_calculated_column(
    dataset_id: FromPath[DatasetId],
    column_name: FromPath[str],
    request: Request[Actor, Any, State],
    state: State,
) -> DatasetOut:
    return await change(
        state, dataset_id, request.user, lambda d: d.remove_calculated_column(column_name)
    )


ROUTES = [
    change_field,
    define_measure,
    change_measure,
    remove_measure,
    define_calculated_column,
    change_calculated_column,
    remove_calculated_column,
]
