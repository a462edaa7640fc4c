"""Datasets: upload a CSV or connect a live source, list, read, rename, delete, refresh.

Writes go through the Dataset aggregate (commands/datasets.py) and answer once the dataset
catalogue has them (read-your-writes); reads come from the catalogue.
"""

from __future__ import annotations

import uuid
from typing import Any
from uuid import UUID

import msgspec
from litestar import Request, Response, delete, get, patch, post, put
from litestar.datastructures import State
from litestar.exceptions import ClientException
from litestar.params import FromPath, JSONBody

from api.routes.dataset_access import (
    CATALOGUE_WAIT,
    DatasetId,
    answer,
    change,
    data_of,
    handler_of,
    visible,
)
from api.routes.reports import MinPosition, wait_for_read_model
from api.schemas_datasets import (
    DatasetList,
    DatasetOut,
    dataset_out,
)
from api.uploads import stream_upload
from commands.authorization import Actor
from commands.dataset import (
    ConnectDataset,
    RenameDataset,
)
from commands.datasets import DatasetOutcome
from connectors.errors import InvalidConfig
from domain.dataset.aggregate import Dataset
from domain.dataset.events import DatasetEvent
from projections.datasets import datasets_of

# -- creating -----------------------------------------------------------------------------------


@post(
    "/workspaces/{workspace_id:uuid}/datasets",
    summary="Upload a CSV (multipart: file, name) or connect a live source (JSON)",
    tags=["datasets"],
    request_max_body_size=None,
)
async def create_dataset(
    workspace_id: FromPath[UUID], request: Request[Actor, Any, State], state: State
) -> Response[DatasetOut]:
    """`multipart/form-data` with a `file` part (the CSV, streamed; up to the configured
    limit, 1 GiB by default) and a `name` field; or JSON `{"name", "connector", "config",
    "table"}` for a PostgreSQL (or any installed connector's) table."""
    services = state.services
    await services.authorizer.require_edit(workspace_id, request.user.id)
    content_type = request.headers.get("content-type", "")
    if content_type.startswith("multipart/"):
        outcome = await _upload(workspace_id, request, state)
    elif content_type.startswith("application/json"):
        command = msgspec.json.decode(await request.body(), type=ConnectDataset)
        outcome = await _connect(workspace_id, command, request.user, state)
    else:
        raise ClientException(
            "send a CSV as multipart/form-data (file, name) or a live source as JSON; got "
            f"Content-Type {content_type!r}"
        )
    return Response(await answer(state, outcome), status_code=201)


async def _upload(
    workspace_id: UUID, request: Request[Actor, Any, State], state: State
) -> DatasetOutcome:
    data = data_of(state)
    data.check_declared_size(request.headers.get("content-length"))
    upload, chunks = stream_upload(request.headers["content-type"], request.stream())
    dataset_id = uuid.uuid4()
    imported = await data.import_csv(dataset_id, chunks)
    try:
        name = upload.fields.get("name") or _stem(upload.filename) or "Uploaded data"
        return await handler_of(state).create(
            workspace_id,
            request.user,
            name=name,
            connector="csv",
            config={"blob": imported.blob},
            table=None,
            columns=imported.columns,
            rows=imported.rows,
            refresh=imported.refresh,
            dataset_id=dataset_id,
        )
    except BaseException:
        await data.forget_blob(imported.blob)
        raise


async def _connect(
    workspace_id: UUID, command: ConnectDataset, actor: Actor, state: State
) -> DatasetOutcome:
    data = data_of(state)
    if command.connector == "csv":
        raise InvalidConfig(
            "a CSV dataset is created by uploading the file (multipart/form-data)",
            code="upload_csv",
        )
    sealed, columns, rows = await data.describe_source(
        command.connector, command.config, command.table
    )
    return await handler_of(state).create(
        workspace_id,
        actor,
        name=command.name,
        connector=command.connector,
        config=sealed,
        table=command.table,
        columns=columns,
        rows=rows,
        refresh={"blob": None, "rows": rows},
        dataset_id=command.id,
        command_id=command.command_id,
    )


def _stem(filename: str | None) -> str | None:
    if not filename:
        return None
    stem = filename.rsplit("/", 1)[-1].rsplit("\\", 1)[-1]
    return stem.rsplit(".", 1)[0].strip() or None


# -- reading ------------------------------------------------------------------------------------


@get(
    "/workspaces/{workspace_id:uuid}/datasets",
    summary="The workspace's datasets",
    tags=["datasets"],
)
async def list_datasets(
    workspace_id: FromPath[UUID],
    request: Request[Actor, Any, State],
    state: State,
    min_position: MinPosition = None,
) -> DatasetList:
    services = state.services
    await services.authorizer.require_view(workspace_id, request.user.id)
    await wait_for_read_model(services, "datasets", min_position)
    records = await datasets_of(services.pool, services.read_schema, workspace_id)
    return DatasetList(datasets=[dataset_out(record, data_of(state)) for record in records])


@get(
    "/datasets/{dataset_id:uuid}",
    summary="A dataset with its fields and measures",
    tags=["datasets"],
)
async def get_dataset(
    dataset_id: FromPath[DatasetId],
    request: Request[Actor, Any, State],
    state: State,
    min_position: MinPosition = None,
) -> DatasetOut:
    record = await visible(state, dataset_id, request.user, min_position)
    return dataset_out(record, data_of(state))


@patch("/datasets/{dataset_id:uuid}", summary="Rename a dataset", tags=["datasets"])
async def rename_dataset(
    dataset_id: FromPath[DatasetId],
    data: JSONBody[RenameDataset],
    request: Request[Actor, Any, State],
    state: State,
) -> DatasetOut:
    return await change(state, dataset_id, request.user, lambda d: d.rename(data.name))


@delete(
    "/datasets/{dataset_id:uuid}", summary="Delete a dataset", tags=["datasets"], status_code=204
)
async def delete_dataset(
    dataset_id: FromPath[DatasetId], request: Request[Actor, Any, State], state: State
) -> None:
    outcome = await handler_of(state).change(dataset_id, request.user, lambda d: d.delete())
    # The rows go with the dataset (its events stay: the audit log still tells its story).
    data_of(state).retire_blob(outcome.dataset.blob)
    await state.services.projections["datasets"].wait_until(outcome.position, CATALOGUE_WAIT)


@put(
    "/datasets/{dataset_id:uuid}/data",
    summary="Upload the CSV again: the dataset's data is refreshed as a new version",
    tags=["datasets"],
    request_max_body_size=None,
)
async def reupload_dataset(
    dataset_id: FromPath[DatasetId], request: Request[Actor, Any, State], state: State
) -> DatasetOut:
    data = data_of(state)
    entry = await handler_of(state).load(dataset_id, request.user, edit=True)
    if entry.aggregate.connector != "csv":
        raise InvalidConfig(
            f"dataset {dataset_id} reads a live {entry.aggregate.connector} source; "
            "POST /datasets/{id}/refresh re-reads it",
            code="not_a_file_dataset",
        )
    data.check_declared_size(request.headers.get("content-length"))
    _, chunks = stream_upload(request.headers.get("content-type", ""), request.stream())
    imported = await data.import_csv(dataset_id, chunks)

    def decide(dataset: Dataset) -> list[DatasetEvent]:
        return [
            dataset.infer_schema(imported.columns, imported.rows),
            dataset.refresh(**imported.refresh),
        ]

    previous = entry.aggregate.blob
    try:
        outcome = await handler_of(state).change(dataset_id, request.user, decide)
    except BaseException:
        await data.forget_blob(imported.blob)
        raise
    if previous != outcome.dataset.blob:
        data.retire_blob(previous)
    return await answer(state, outcome)


@post(
    "/datasets/{dataset_id:uuid}/refresh",
    summary="Re-read a live source's columns; cached answers of older versions are dropped",
    tags=["datasets"],
    status_code=200,
)
async def refresh_dataset(
    dataset_id: FromPath[DatasetId], request: Request[Actor, Any, State], state: State
) -> DatasetOut:
    entry = await handler_of(state).load(dataset_id, request.user, edit=True)
    dataset = entry.aggregate
    if dataset.connector == "csv":
        raise InvalidConfig(
            "a CSV dataset is refreshed by uploading the file again (PUT /datasets/{id}/data)",
            code="upload_csv",
        )
    columns, rows = await data_of(state).reread_source(
        dataset.connector, dataset.config, dataset.table
    )

    def decide(current: Dataset) -> list[DatasetEvent]:
        return [current.infer_schema(columns, rows), current.refresh(blob=None, rows=rows)]

    return await change(state, dataset_id, request.user, decide)


ROUTES = [
    create_dataset,
    list_datasets,
    get_dataset,
    rename_dataset,
    delete_dataset,
    reupload_dataset,
    refresh_dataset,
]
