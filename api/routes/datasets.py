"""Datasets: upload a CSV or connect a live source, shape its fields and measures, query it.

Writes go through the Dataset aggregate (commands/datasets.py) and answer once the dataset
catalogue has them (read-your-writes); reads and queries come from the catalogue.
"""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Annotated, Any
from uuid import UUID

import msgspec
from litestar import Request, Response, delete, get, patch, post, put
from litestar.datastructures import State
from litestar.exceptions import ClientException
from litestar.params import FromPath, JSONBody, Parameter

from api.data_side import DataSide
from api.routes.reports import MinPosition, wait_for_read_model
from api.schemas_datasets import (
    CompiledOut,
    ConnectorList,
    DatasetList,
    DatasetOut,
    PreviewOut,
    PreviewRequest,
    TablesOut,
    TestConnection,
    dataset_out,
)
from api.uploads import stream_upload
from commands.authorization import Actor
from commands.dataset import (
    ChangeCalculatedColumn,
    ChangeField,
    ChangeMeasure,
    ConnectDataset,
    DefineCalculatedColumn,
    DefineMeasure,
    RenameDataset,
)
from commands.datasets import DatasetHandler, DatasetOutcome
from connectors.engine import ARROW_STREAM, AnswerFormat, encode_json_rows
from connectors.errors import InvalidConfig
from connectors.measures import check_calculated_column, check_measure
from connectors.query import QuerySpec, compile_count, compile_preview
from domain.dataset.aggregate import Dataset
from domain.dataset.events import DatasetEvent
from domain.errors import NotFound
from projections.datasets import DatasetRecord, dataset_record, datasets_of

#: How long a write waits for the catalogue to include it.
CATALOGUE_WAIT = 5.0
#: Catalogue rows kept per process (see `_record`).
RECORDS_KEPT = 1024
DatasetId = Annotated[UUID, Parameter(description="The dataset's id")]


def _data(state: State) -> DataSide:
    data: DataSide = state.services.data
    return data


def _handler(state: State) -> DatasetHandler:
    handler: DatasetHandler = state.services.datasets
    return handler


async def _answer(state: State, outcome: DatasetOutcome) -> DatasetOut:
    services = state.services
    await services.projections["datasets"].wait_until(outcome.position, CATALOGUE_WAIT)
    record = await _record(state, outcome.dataset.id)
    if record is None:
        raise NotFound(f"dataset {outcome.dataset.id} was deleted", code="dataset_not_found")
    return dataset_out(record, _data(state))


async def _visible(state: State, dataset_id: UUID, actor: Actor, min_position: int | None) -> Any:
    services = state.services
    await wait_for_read_model(services, "datasets", min_position)
    record = await _record(state, dataset_id)
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


async def _record(state: State, dataset_id: UUID) -> DatasetRecord | None:
    """The dataset's catalogue row. Where this process runs the catalogue's projection (the
    default layout) a row read is kept until the projection applies its next event: every
    query of a dashboard would otherwise read the same row again."""
    services = state.services
    runner = services.projections["datasets"]
    if not runner.is_leader:
        return await dataset_record(services.pool, services.read_schema, dataset_id)
    kept = _data(state).records
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
    return Response(await _answer(state, outcome), status_code=201)


async def _upload(
    workspace_id: UUID, request: Request[Actor, Any, State], state: State
) -> DatasetOutcome:
    data = _data(state)
    data.check_declared_size(request.headers.get("content-length"))
    upload, chunks = stream_upload(request.headers["content-type"], request.stream())
    dataset_id = uuid.uuid4()
    imported = await data.import_csv(dataset_id, chunks)
    try:
        name = upload.fields.get("name") or _stem(upload.filename) or "Uploaded data"
        return await _handler(state).create(
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
    data = _data(state)
    if command.connector == "csv":
        raise InvalidConfig(
            "a CSV dataset is created by uploading the file (multipart/form-data)",
            code="upload_csv",
        )
    sealed, columns, rows = await data.describe_source(
        command.connector, command.config, command.table
    )
    return await _handler(state).create(
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
    return DatasetList(datasets=[dataset_out(record, _data(state)) for record in records])


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
    record = await _visible(state, dataset_id, request.user, min_position)
    return dataset_out(record, _data(state))


# -- changing -----------------------------------------------------------------------------------


async def _change(state: State, dataset_id: UUID, actor: Actor, decide: Any) -> DatasetOut:
    outcome = await _handler(state).change(dataset_id, actor, decide)
    return await _answer(state, outcome)


@patch("/datasets/{dataset_id:uuid}", summary="Rename a dataset", tags=["datasets"])
async def rename_dataset(
    dataset_id: FromPath[DatasetId],
    data: JSONBody[RenameDataset],
    request: Request[Actor, Any, State],
    state: State,
) -> DatasetOut:
    return await _change(state, dataset_id, request.user, lambda d: d.rename(data.name))


@delete(
    "/datasets/{dataset_id:uuid}", summary="Delete a dataset", tags=["datasets"], status_code=204
)
async def delete_dataset(
    dataset_id: FromPath[DatasetId], request: Request[Actor, Any, State], state: State
) -> None:
    outcome = await _handler(state).change(dataset_id, request.user, lambda d: d.delete())
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
    data = _data(state)
    entry = await _handler(state).load(dataset_id, request.user, edit=True)
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

    try:
        outcome = await _handler(state).change(dataset_id, request.user, decide)
    except BaseException:
        await data.forget_blob(imported.blob)
        raise
    return await _answer(state, outcome)


@post(
    "/datasets/{dataset_id:uuid}/refresh",
    summary="Re-read a live source's columns; cached answers of older versions are dropped",
    tags=["datasets"],
    status_code=200,
)
async def refresh_dataset(
    dataset_id: FromPath[DatasetId], request: Request[Actor, Any, State], state: State
) -> DatasetOut:
    entry = await _handler(state).load(dataset_id, request.user, edit=True)
    dataset = entry.aggregate
    if dataset.connector == "csv":
        raise InvalidConfig(
            "a CSV dataset is refreshed by uploading the file again (PUT /datasets/{id}/data)",
            code="upload_csv",
        )
    columns, rows = await _data(state).reread_source(
        dataset.connector, dataset.config, dataset.table
    )

    def decide(current: Dataset) -> list[DatasetEvent]:
        return [current.infer_schema(columns, rows), current.refresh(blob=None, rows=rows)]

    return await _change(state, dataset_id, request.user, decide)


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
            events.append(dataset.rename_field(field.name, data.name))
        if not events:
            raise ClientException("nothing to change: give name, type, role or hidden")
        return events

    return await _change(state, dataset_id, request.user, decide)


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
    return await _change(
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
    return await _change(
        state,
        dataset_id,
        request.user,
        lambda d: d.change_measure(
            measure_name, data.expression, data.format, data.name, check_measure
        ),
    )


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
    return await _change(state, dataset_id, request.user, lambda d: d.remove_measure(measure_name))


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
    return await _change(
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
    return await _change(
        state,
        dataset_id,
        request.user,
        lambda d: d.change_calculated_column(
            column_name, data.expression, data.role, data.name, check_calculated_column
        ),
    )


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
    return await _change(
        state, dataset_id, request.user, lambda d: d.remove_calculated_column(column_name)
    )


# -- querying -----------------------------------------------------------------------------------


@post(
    "/datasets/{dataset_id:uuid}/query",
    summary="Answer a query spec (JSON, or Arrow IPC with Accept: " + ARROW_STREAM + ")",
    tags=["datasets"],
    status_code=200,
)
async def query_dataset(
    dataset_id: FromPath[DatasetId],
    data: JSONBody[QuerySpec],
    request: Request[Actor, Any, State],
    state: State,
    min_position: MinPosition = None,
) -> Response[bytes]:
    """`{"columns": [{"name", "type"}], "rows": [[…]], "cached": bool}`; with Arrow, the
    `X-Loupe-Cached` header says whether the answer came from the cache."""
    record = await _visible(state, dataset_id, request.user, min_position)
    data_side = _data(state)
    fmt: AnswerFormat = (
        "arrow"
        if request.accept.best_match(["application/json", ARROW_STREAM]) == ARROW_STREAM
        else "json"
    )
    snapshot = record.snapshot
    compiled = data_side.engine.compile(snapshot, data, dt.datetime.now(dt.UTC).date())
    answer = await data_side.engine.answer(snapshot, compiled, fmt)
    return Response(
        answer.body,
        media_type=answer.media_type,
        headers={
            "X-Loupe-Cached": "true" if answer.cached else "false",
            "X-Loupe-Data-Version": str(snapshot.data_version),
            "Vary": "Accept",
        },
    )


@post(
    "/datasets/{dataset_id:uuid}/query/sql",
    summary='The SQL a query spec compiles to (Superset\'s "view query"), without running it',
    tags=["datasets"],
    status_code=200,
)
async def query_sql(
    dataset_id: FromPath[DatasetId],
    data: JSONBody[QuerySpec],
    request: Request[Actor, Any, State],
    state: State,
) -> CompiledOut:
    record = await _visible(state, dataset_id, request.user, None)
    snapshot = record.snapshot
    compiled = _data(state).engine.compile(snapshot, data, dt.datetime.now(dt.UTC).date())
    return CompiledOut(
        dialect=compiled.dialect,
        sql=compiled.sql,
        params=list(compiled.params),
        columns=[{"name": c.name, "type": c.type} for c in compiled.columns],
    )


@post(
    "/datasets/{dataset_id:uuid}/rows",
    summary="A page of the dataset's rows (the table visual's preview)",
    tags=["datasets"],
    status_code=200,
)
async def preview_rows(
    dataset_id: FromPath[DatasetId],
    data: JSONBody[PreviewRequest],
    request: Request[Actor, Any, State],
    state: State,
    min_position: MinPosition = None,
) -> Response[bytes]:
    """Rows stay on the server: the answer is one page (`offset`, `limit` ≤ 10,000) and the
    total under the filters."""
    record = await _visible(state, dataset_id, request.user, min_position)
    data_side = _data(state)
    snapshot = record.snapshot
    source = data_side.engine.source(snapshot)
    today = dt.datetime.now(dt.UTC).date()
    page = compile_preview(
        snapshot.schema,
        relation=source.relation,
        dialect=source.connector.dialect,
        columns=data.columns,
        filters=data.filters,
        sort=data.sort,
        offset=data.offset,
        limit=data.limit,
        today=today,
    )
    count = compile_count(
        snapshot.schema,
        relation=source.relation,
        dialect=source.connector.dialect,
        filters=data.filters,
        today=today,
    )
    rows = await data_side.engine.rows(snapshot, page)
    total = await data_side.engine.rows(snapshot, count)
    body = PreviewOut.encode(
        encode_json_rows(page, rows),
        offset=data.offset,
        limit=data.limit,
        total=int(total.column(0)[0].as_py()),
    )
    return Response(body, media_type="application/json")


# -- connectors ---------------------------------------------------------------------------------


@get("/connectors", summary="The installed connectors and their configuration", tags=["datasets"])
async def list_connectors(state: State) -> ConnectorList:
    return ConnectorList(connectors=_data(state).connectors.describe())


@post(
    "/connectors/{name:str}/test",
    summary="Check that a source answers with this configuration",
    tags=["datasets"],
    status_code=200,
)
async def test_connection(
    name: FromPath[str],
    data: JSONBody[TestConnection],
    request: Request[Actor, Any, State],
    state: State,
) -> dict[str, str]:
    del request  # any signed-in user may test a connection
    await _data(state).test_source(name, data.config)
    return {"status": "ok"}


@post(
    "/connectors/{name:str}/tables",
    summary="The tables a source offers with this configuration",
    tags=["datasets"],
    status_code=200,
)
async def list_tables(
    name: FromPath[str],
    data: JSONBody[TestConnection],
    request: Request[Actor, Any, State],
    state: State,
) -> TablesOut:
    del request
    return TablesOut(tables=await _data(state).tables_of(name, data.config))


DATASET_ROUTES = [
    create_dataset,
    list_datasets,
    get_dataset,
    rename_dataset,
    delete_dataset,
    reupload_dataset,
    refresh_dataset,
    change_field,
    define_measure,
    change_measure,
    remove_measure,
    define_calculated_column,
    change_calculated_column,
    remove_calculated_column,
    query_dataset,
    query_sql,
    preview_rows,
    list_connectors,
    test_connection,
    list_tables,
]
