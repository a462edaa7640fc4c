"""Asking a dataset: query specs (JSON or Arrow, through the answer cache), the SQL a spec
compiles to, and pages of raw rows."""

from __future__ import annotations

import datetime as dt
from typing import Any

from litestar import Request, Response, post
from litestar.datastructures import State
from litestar.params import FromPath, JSONBody

from api.routes.dataset_access import (
    DatasetId,
    data_of,
    visible,
)
from api.routes.reports import MinPosition
from api.schemas_datasets import (
    CompiledOut,
    PreviewOut,
    PreviewRequest,
)
from commands.authorization import Actor
from connectors.engine import ARROW_STREAM, AnswerFormat, encode_json_rows
from connectors.query import QuerySpec, compile_count, compile_preview

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
    record = await visible(state, dataset_id, request.user, min_position)
    data_side = data_of(state)
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
    record = await visible(state, dataset_id, request.user, None)
    snapshot = record.snapshot
    compiled = data_of(state).engine.compile(snapshot, data, dt.datetime.now(dt.UTC).date())
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
    record = await visible(state, dataset_id, request.user, min_position)
    data_side = data_of(state)
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


ROUTES = [
    query_dataset,
    query_sql,
    preview_rows,
]
