"""A report's visuals as Vega-Lite specs and images, and its pages as PDF, PNG or SVG — drawn
on request (exports/charts.py; bigger exports are jobs: api/routes/exports.py)."""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Any, Final, Literal
from uuid import UUID

import msgspec
from litestar import Request, Response, get
from litestar.datastructures import State
from litestar.params import FromPath, Parameter

from api.routes.reports import MinPosition, wait_for_read_model
from charts.page import (
    Orientation,
    Paper,
    PaperSize,
    page_pdf_async,
    page_png_async,
    page_svg_async,
)
from charts.render import MAX_SCALE, render_pdf_async, render_png_async, render_svg_async
from commands.authorization import Actor
from commands.eventstore import MAX_POSITION
from domain.errors import NotFound
from exports.documents import LoadedDocument

MEDIA_TYPES: Final = {
    "svg": "image/svg+xml",
    "png": "image/png",
    "pdf": "application/pdf",
}
ImageFormat = Literal["svg", "png", "pdf"]

Version = Annotated[
    int | None,
    Parameter(ge=1, le=MAX_POSITION, description="Draw the report as it was at this version."),
]
Scale = Annotated[
    float,
    Parameter(ge=0.5, le=MAX_SCALE, description="PNG pixels per canvas pixel (e.g. 2 for retina)."),
]
Pixels = Annotated[int | None, Parameter(ge=50, le=4000)]


async def _document(
    state: State, report_id: UUID, actor: Actor, version: int | None, min_position: int | None
) -> LoadedDocument:
    services = state.services
    if version is None:
        await wait_for_read_model(services, "reports", min_position)
    loaded: LoadedDocument = await services.documents.load(
        report_id, version, authorize=services.authorizer.viewer(actor.id)
    )
    return loaded


def _file(file_name: str, what: str) -> tuple[UUID, ImageFormat]:
    """``"<id>.png"`` → (id, "png")."""
    stem, _, extension = file_name.rpartition(".")
    try:
        object_id = UUID(stem)
    except ValueError:
        raise NotFound(
            f"{file_name!r} names no {what}: use /<{what} id>.svg, .png or .pdf",
            code=f"{what}_not_found",
        ) from None
    if extension not in MEDIA_TYPES:
        raise NotFound(
            f"{what}s are drawn as .svg, .png or .pdf, not .{extension or '(none)'}",
            code="unknown_format",
        )
    return object_id, extension  # type: ignore[return-value]


def _drawn(body: bytes | str, fmt: ImageFormat, loaded: LoadedDocument, name: str) -> Response[Any]:
    return Response(
        body.encode() if isinstance(body, str) else body,
        media_type=MEDIA_TYPES[fmt],
        headers={
            "Content-Disposition": f'inline; filename="{name}.{fmt}"',
            "X-Loupe-Report-Version": str(loaded.version),
        },
    )


@get(
    "/reports/{report_id:uuid}/visuals/{visual_id:uuid}/spec",
    summary="A visual's Vega-Lite spec, its data inlined",
    tags=["charts"],
    media_type="application/json",
)
async def visual_spec(  # noqa: PLR0917 - route parameters
    report_id: FromPath[UUID],
    visual_id: FromPath[UUID],
    request: Request[Actor, Any, State],
    state: State,
    version: Version = None,
    min_position: MinPosition = None,
    width: Pixels = None,
    height: Pixels = None,
) -> Response[bytes]:
    """Sized like the visual's box on the page unless `width`/`height` say otherwise;
    `usermeta.loupe` says what the chart shows (e.g. a reduced view of a large result)."""
    loaded = await _document(state, report_id, request.user, version, min_position)
    spec = await state.services.charts.spec(loaded, visual_id, width=width, height=height)
    return Response(
        msgspec.json.encode(spec),
        media_type="application/json",
        headers={"X-Loupe-Report-Version": str(loaded.version)},
    )


@get(
    "/reports/{report_id:uuid}/visuals/{file_name:str}",
    summary="A visual drawn as SVG, PNG or PDF: /visuals/<id>.svg|png|pdf",
    tags=["charts"],
    media_type="application/octet-stream",
)
async def visual_image(  # noqa: PLR0917 - route parameters
    report_id: FromPath[UUID],
    file_name: FromPath[str],
    request: Request[Actor, Any, State],
    state: State,
    version: Version = None,
    min_position: MinPosition = None,
    scale: Scale = 1.0,
    width: Pixels = None,
    height: Pixels = None,
) -> Response[Any]:
    visual_id, fmt = _file(file_name, "visual")
    loaded = await _document(state, report_id, request.user, version, min_position)
    spec = await state.services.charts.spec(loaded, visual_id, width=width, height=height)
    body: bytes | str
    if fmt == "svg":
        body = await render_svg_async(spec)
    elif fmt == "png":
        body = await render_png_async(spec, scale=scale)
    else:
        body = await render_pdf_async(spec)
    return _drawn(body, fmt, loaded, f"visual-{visual_id}")


@get(
    "/reports/{report_id:uuid}/pages/{file_name:str}",
    summary="A page laid out as on the canvas, as PDF, PNG or SVG: /pages/<id>.pdf|png|svg",
    tags=["charts"],
    media_type="application/octet-stream",
)
async def page_image(  # noqa: PLR0917 - route parameters
    report_id: FromPath[UUID],
    file_name: FromPath[str],
    request: Request[Actor, Any, State],
    state: State,
    version: Version = None,
    min_position: MinPosition = None,
    paper: Annotated[PaperSize, Parameter(description="The sheet's size.")] = "A4",
    orientation: Annotated[Orientation, Parameter(description="The sheet's way up.")] = (
        "landscape"
    ),
    scale: Scale = 1.0,
) -> Response[Any]:
    """The page with its title, the filters in effect, and a footer naming the report version
    and the time it was drawn. Several pages at once: `POST /reports/{id}/exports`."""
    page_id, fmt = _file(file_name, "page")
    loaded = await _document(state, report_id, request.user, version, min_position)
    page = await state.services.charts.page(loaded, page_id, dt.datetime.now(dt.UTC))
    sheet = Paper(size=paper, orientation=orientation)
    body: bytes | str
    if fmt == "pdf":
        body = await page_pdf_async(page, sheet)
    elif fmt == "png":
        body = await page_png_async(page, sheet, scale=scale)
    else:
        body = await page_svg_async(page, sheet)
    return _drawn(body, fmt, loaded, f"page-{page_id}")


ROUTES = [visual_spec, visual_image, page_image]
