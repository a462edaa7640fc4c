"""The installed connectors: their configuration schemas, testing a connection, listing tables."""

from __future__ import annotations

from typing import Any

from litestar import Request, get, post
from litestar.datastructures import State
from litestar.params import FromPath, JSONBody

from api.routes.dataset_access import (
    data_of,
)
from api.schemas_datasets import (
    ConnectorList,
    TablesOut,
    TestConnection,
)
from commands.authorization import Actor

# -- connectors ---------------------------------------------------------------------------------


@get("/connectors", summary="The installed connectors and their configuration", tags=["datasets"])
async def list_connectors(state: State) -> ConnectorList:
    return ConnectorList(connectors=data_of(state).connectors.describe())


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
    await data_of(state).test_source(name, data.config)
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
    return TablesOut(tables=await data_of(state).tables_of(name, data.config))


ROUTES = [
    list_connectors,
    test_connection,
    list_tables,
]
