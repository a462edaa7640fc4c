"""A report page laid out as on screen, on paper: one SVG, then PDF or PNG; a report as one PDF.

The page is composed as a single SVG document in points (1/72 in) the size of the paper:

- a header: the report's name and the page's title;
- the filters in effect, report-level then page-level, as sentences ("Region in (East, West)");
- the canvas (charts/canvas.py) scaled to fit the space left and centred, each visual's own
  SVG nested at its box (``<svg x y width height viewBox>``), sized to the box before it is
  rendered so that its text is not stretched;
- a footer that says which version of the report this is and when it was exported, so that a
  printout can be traced ("Report v42 · exported 2026-12-01 10:32 UTC"), and the page number.

vl-convert turns that SVG into a PDF (text stays text, fonts are embedded as subsets) or a PNG.
A visual whose spec cannot be rendered becomes a placeholder box that shows the error: one
broken chart never costs the whole page. A report's pages are merged into one PDF with pypdf.
"""

from __future__ import annotations

import asyncio
import io
import re
import unicodedata
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from typing import Any, Final, Literal
from xml.sax.saxutils import escape

import msgspec
import pypdf

from charts.canvas import Box, GridLayout, canvas_size, visual_box
from charts.render import (
    RenderError,
    RenderFailed,
    RenderTimedOut,
    check_scale,
    render_svg,
    run_off_loop,
    svg_size,
    svg_to_pdf,
    svg_to_png,
)

PaperSize = Literal["A4", "A3", "Letter", "Legal", "Slide16x9"]
Orientation = Literal["portrait", "landscape"]

PAPER_POINTS: Final[Mapping[str, tuple[int, int]]] = {
    "A4": (595, 842),
    "A3": (842, 1191),
    "Letter": (612, 792),
    "Legal": (612, 1008),
    "Slide16x9": (540, 960),  # a 13.33 x 7.5 in presentation slide
}
"""Paper sizes in points, portrait (short side first)."""


class Paper(msgspec.Struct, frozen=True, kw_only=True):
    """The sheet a page is printed on."""

    size: PaperSize = "A4"
    orientation: Orientation = "landscape"

    @property
    def points(self) -> tuple[int, int]:
        """(width, height) in points."""
        short, long = PAPER_POINTS[self.size]
        return (long, short) if self.orientation == "landscape" else (short, long)


class PlacedVisual(msgspec.Struct, frozen=True, kw_only=True):
    """A visual's Vega-Lite spec (data inlined) at its place on the grid.

    ``name`` labels the placeholder if the spec cannot be rendered.
    """

    layout: GridLayout
    spec: dict[str, Any]
    name: str = ""
    #: Why the visual has no chart (its data could not be fetched): drawn as a placeholder.
    error: str | None = None


class PageToRender(msgspec.Struct, frozen=True, kw_only=True):
    """Everything printed on one page. Filters are sentences (``describe_filter``)."""

    report_name: str
    page_name: str
    report_filters: tuple[str, ...] = ()
    page_filters: tuple[str, ...] = ()
    footer: str = ""
    visuals: tuple[PlacedVisual, ...] = ()


# --- what the header and footer say -------------------------------------------------------

_MAX_LISTED_VALUES: Final = 10


def _value_text(value: object) -> str:
    if value is None:
        return "(blank)"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        return f"{value:g}"
    return str(value)


def _values_text(values: Sequence[object]) -> str:
    shown = ", ".join(_value_text(v) for v in values[:_MAX_LISTED_VALUES])
    hidden = len(values) - _MAX_LISTED_VALUES
    return f"{shown}, … {hidden} more" if hidden > 0 else shown


def describe_filter(entry: Mapping[str, Any]) -> str:
    """A filter of the report document (``{"field", "op", ...}``) as a sentence."""
    field, op = entry.get("field", "?"), entry.get("op")
    if op in {"in", "not_in"}:
        verb = "in" if op == "in" else "not in"
        return f"{field} {verb} ({_values_text(list(entry.get('values', ())))})"
    if op == "range":
        low, high = entry.get("min"), entry.get("max")
        if low is not None and high is not None:
            return f"{field} between {_value_text(low)} and {_value_text(high)}"
        return (
            f"{field} ≥ {_value_text(low)}" if low is not None else f"{field} ≤ {_value_text(high)}"
        )
    if op == "relative_date":
        last, unit = entry.get("last"), entry.get("unit", "")
        return f"{field} in the last {last} {unit}{'' if last == 1 else 's'}"
    if op == "top":
        by = entry.get("by") or {}
        ranked = by.get("measure") or f"{by.get('agg', '?')} of {by.get('field', '?')}"
        return f"top {entry.get('n')} {field} by {ranked}"
    rest = {k: v for k, v in entry.items() if k not in {"field", "op"}}
    return f"{field} {op} {msgspec.json.encode(rest).decode()}"


def export_footer(version: int, exported_at: datetime) -> str:
    """``Report v42 · exported 2026-12-01 10:32 UTC``; a naive time is taken to be UTC."""
    when = exported_at if exported_at.tzinfo else exported_at.replace(tzinfo=UTC)
    return f"Report v{version} · exported {when.astimezone(UTC):%Y-%m-%d %H:%M} UTC"


# --- SVG text -----------------------------------------------------------------------------

_FONT: Final = "sans-serif"
_NOT_XML = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff]")


def _text(text: str) -> str:
    return escape(_NOT_XML.sub("", text))


def _text_width(text: str, size: float) -> float:
    """A generous estimate of the width of ``text``: wide (CJK) characters 1 em, others 0.6."""
    return sum(size if unicodedata.east_asian_width(c) in "WF" else 0.6 * size for c in text)


def _fitting_prefix(text: str, width: float, size: float) -> int:
    """How many leading characters of ``text`` fit ``width`` (at least one)."""
    cut = len(text)
    while cut > 1 and _text_width(text[:cut], size) > width:
        cut -= 1
    return cut


def _wrap(text: str, width: float, size: float, max_lines: int) -> list[str]:
    """``text`` broken at spaces into at most ``max_lines`` lines that fit ``width``.

    A word wider than a line is cut; a text that needs more lines ends in "…".
    """
    lines: list[str] = []
    line = ""
    for token in re.split(r"(\s+)", text):
        if line.strip() and _text_width(line + token, size) > width:
            lines.append(line.rstrip())
            line = token.lstrip()
        else:
            line += token
        while _text_width(line, size) > width and len(line) > 1:
            cut = _fitting_prefix(line, width, size)
            lines.append(line[:cut].rstrip())
            line = line[cut:].lstrip()
    if line.strip():
        lines.append(line.rstrip())
    if len(lines) > max_lines:
        last = lines[max_lines - 1]
        while last and _text_width(last + "…", size) > width:
            last = last[:-1]
        lines = [*lines[: max_lines - 1], last.rstrip() + "…"]
    return lines


def _text_element(
    x: float,
    y: float,
    text: str,
    size: float,
    *,
    fill: str = "#000",
    bold: bool = False,
    end: bool = False,
) -> str:
    weight = ' font-weight="bold"' if bold else ""
    anchor = ' text-anchor="end"' if end else ""
    return (
        f'<text x="{x:.2f}" y="{y:.2f}" font-family="{_FONT}" font-size="{size}"'
        f'{weight}{anchor} fill="{fill}">{_text(text)}</text>'
    )


# --- visuals ------------------------------------------------------------------------------

_SIZED_BY_WIDTH_HEIGHT: Final = ("mark", "layer")


def fitted_spec(spec: Mapping[str, Any], width: float, height: float) -> dict[str, Any]:
    """``spec`` sized to fill ``width`` x ``height`` pixels, axes, legend and title included.

    Only single-view and layered specs can be sized so; a concat or facet keeps its own size
    and is scaled into the box instead.
    """
    fitted = dict(spec)
    if any(key in spec for key in _SIZED_BY_WIDTH_HEIGHT):
        fitted["width"] = round(width)
        fitted["height"] = round(height)
        fitted["autosize"] = {"type": "fit", "contains": "padding"}
    return fitted


def _placeholder(name: str, error: RenderError, width: float, height: float) -> str:
    """A box that says the visual could not be rendered, and why."""
    pad, size = 10.0, 11.0
    lines = _wrap(error.detail, width - 2 * pad, size, max(1, int((height - 44) // 15)))
    title = f"{name or 'This visual'} could not be rendered"
    body = "".join(
        _text_element(pad, 44 + i * 15, line, size, fill="#555") for i, line in enumerate(lines)
    )
    return (
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{width:.2f}" height="{height:.2f}" '
        f'viewBox="0 0 {width:.2f} {height:.2f}">'
        f'<rect x="1" y="1" width="{width - 2:.2f}" height="{height - 2:.2f}" fill="#fbf7f7" '
        f'stroke="#b03a2e" stroke-width="1.5" stroke-dasharray="6 4"/>'
        f"{_text_element(pad, 24, title, 13, fill='#b03a2e', bold=True)}{body}</svg>"
    )


def render_visual(visual: PlacedVisual) -> str:
    """The visual as a standalone SVG sized to its box, or a placeholder that shows the error."""
    box = visual_box(visual.layout)
    if visual.error is not None:
        return _placeholder(
            visual.name, RenderError(visual.error, code="no_data"), box.width, box.height
        )
    try:
        return render_svg(fitted_spec(visual.spec, box.width, box.height))
    except RenderError as error:
        return _placeholder(visual.name, error, box.width, box.height)


_SVG_ROOT = re.compile(r"^\s*(?:<\?xml[^>]*\?>\s*)?<svg\b[^>]*>", re.DOTALL)
_TAG = re.compile(r"<[^<>]+>")


def _nest(svg: str, at: Box, prefix: str) -> str:
    """``svg`` re-rooted as a nested ``<svg>`` that fills ``at`` (points on the page).

    Ids (clip paths, gradients) are prefixed so that two visuals' ``clip1`` do not collide;
    only inside tags, never in text. The original size becomes the viewBox, so the visual
    scales uniformly into its box.
    """
    root = _SVG_ROOT.match(svg)
    if root is None:
        raise RenderFailed("a visual's SVG has no root element")
    width, height = svg_size(svg)
    view_box = re.search(r'\sviewBox="([^"]*)"', root.group(0))
    inner = _TAG.sub(
        lambda tag: (
            tag.group(0)
            .replace(' id="', f' id="{prefix}')
            .replace("url(#", f"url(#{prefix}")
            .replace('href="#', f'href="#{prefix}')
        ),
        svg[root.end() :],
    )
    return (
        f'<svg x="{at.x:.2f}" y="{at.y:.2f}" width="{at.width:.2f}" height="{at.height:.2f}" '
        f'viewBox="{view_box.group(1) if view_box else f"0 0 {width} {height}"}" '
        f'preserveAspectRatio="xMidYMid meet" overflow="hidden">{inner}'
    )


# --- the page -----------------------------------------------------------------------------

MARGIN: Final = 28.0
"""Paper margin in points (~1 cm)."""

_HEADER_SIZE, _TITLE_SIZE, _FILTER_SIZE, _FOOTER_SIZE = 9.0, 16.0, 8.0, 8.0
_MAX_FILTER_LINES: Final = 3
_GREY, _RULE = "#666", "#d0d0d0"


def compose_page(
    page: PageToRender, paper: Paper, visual_svgs: Sequence[str], *, page_label: str = ""
) -> str:
    """The page's SVG from its visuals' SVGs (``render_visual``, in ``page.visuals`` order)."""
    if len(visual_svgs) != len(page.visuals):
        raise ValueError(f"{len(page.visuals)} visuals but {len(visual_svgs)} SVGs")
    paper_w, paper_h = paper.points
    text_w = paper_w - 2 * MARGIN
    parts: list[str] = [f'<rect width="{paper_w}" height="{paper_h}" fill="white"/>']

    y = MARGIN + _HEADER_SIZE
    parts.append(_text_element(MARGIN, y, page.report_name, _HEADER_SIZE, fill=_GREY))
    y += 6 + _TITLE_SIZE
    parts.append(_text_element(MARGIN, y, page.page_name, _TITLE_SIZE, bold=True))
    y += 4
    for label, filters in (
        ("Report filters", page.report_filters),
        ("Page filters", page.page_filters),
    ):
        if not filters:
            continue
        sentence = f"{label}: " + "; ".join(filters)
        for line in _wrap(sentence, text_w, _FILTER_SIZE, _MAX_FILTER_LINES):
            y += _FILTER_SIZE + 3
            parts.append(_text_element(MARGIN, y, line, _FILTER_SIZE, fill=_GREY))
    y += 8
    parts.append(_rule(y, paper_w))

    footer_y = paper_h - MARGIN + _FOOTER_SIZE
    parts.append(_rule(footer_y - _FOOTER_SIZE - 6, paper_w))
    parts.append(_text_element(MARGIN, footer_y, page.footer, _FOOTER_SIZE, fill=_GREY))
    if page_label:
        parts.append(
            _text_element(
                paper_w - MARGIN, footer_y, page_label, _FOOTER_SIZE, fill=_GREY, end=True
            )
        )

    body_top, body_bottom = y + 8, footer_y - _FOOTER_SIZE - 14
    canvas_w, canvas_h = canvas_size(v.layout for v in page.visuals)
    scale = max(0.0, min(text_w / canvas_w, (body_bottom - body_top) / canvas_h))
    origin_x = MARGIN + (text_w - canvas_w * scale) / 2
    for index, (visual, svg) in enumerate(zip(page.visuals, visual_svgs, strict=True)):
        box = visual_box(visual.layout)
        at = Box(
            origin_x + box.x * scale,
            body_top + box.y * scale,
            box.width * scale,
            box.height * scale,
        )
        parts.append(_nest(svg, at, f"v{index}-"))

    return (
        '<svg xmlns="http://www.w3.org/2000/svg" xmlns:xlink="http://www.w3.org/1999/xlink" '
        f'width="{paper_w}" height="{paper_h}" viewBox="0 0 {paper_w} {paper_h}">'
        f"{''.join(parts)}</svg>"
    )


def _rule(y: float, paper_w: float) -> str:
    return (
        f'<line x1="{MARGIN}" y1="{y:.2f}" x2="{paper_w - MARGIN}" y2="{y:.2f}" '
        f'stroke="{_RULE}" stroke-width="0.5"/>'
    )


def page_svg(page: PageToRender, paper: Paper | None = None, *, page_label: str = "") -> str:
    """The page as an SVG document, one unit per point of ``paper`` (A4 landscape by default)."""
    svgs = [render_visual(visual) for visual in page.visuals]
    return compose_page(page, paper or Paper(), svgs, page_label=page_label)


def page_pdf(page: PageToRender, paper: Paper | None = None, *, page_label: str = "") -> bytes:
    """The page as a one-page PDF of the paper's size."""
    return svg_to_pdf(page_svg(page, paper, page_label=page_label))


def page_png(page: PageToRender, paper: Paper | None = None, *, scale: float = 1.0) -> bytes:
    """The page as a PNG, ``scale`` pixels per point (A4 landscape at 2: 1684 x 1190 px)."""
    check_scale(scale)
    return svg_to_png(page_svg(page, paper), scale=scale)


def _page_labels(count: int) -> list[str]:
    return [f"{number} / {count}" for number in range(1, count + 1)]


def merge_pdfs(documents: Sequence[bytes], *, title: str = "") -> bytes:
    """One PDF with the pages of ``documents`` in order."""
    writer = pypdf.PdfWriter()
    for document in documents:
        writer.append(pypdf.PdfReader(io.BytesIO(document)))
    if title:
        writer.add_metadata({"/Title": title})
    out = io.BytesIO()
    writer.write(out)
    return out.getvalue()


def report_pdf(pages: Sequence[PageToRender], paper: Paper | None = None) -> bytes:
    """A report's pages as one PDF, numbered "n / total" in the footer."""
    if not pages:
        raise ValueError("a report PDF needs at least one page")
    documents = [
        page_pdf(page, paper, page_label=label)
        for page, label in zip(pages, _page_labels(len(pages)), strict=True)
    ]
    return merge_pdfs(documents, title=pages[0].report_name)


# --- off the event loop: visuals render in parallel in the render workers -----------------


async def page_svg_async(
    page: PageToRender, paper: Paper | None = None, *, page_label: str = ""
) -> str:
    """``page_svg``, each visual rendered in a render worker, concurrently."""
    svgs = await asyncio.gather(*(_visual_svg_async(visual) for visual in page.visuals))
    return compose_page(page, paper or Paper(), svgs, page_label=page_label)


async def _visual_svg_async(visual: PlacedVisual) -> str:
    """``render_visual`` in a render worker; a visual that overruns the render time limit
    is a placeholder that says so (the rest of the page is drawn)."""
    try:
        return await run_off_loop(render_visual, visual)
    except RenderTimedOut as error:
        box = visual_box(visual.layout)
        return _placeholder(visual.name, error, box.width, box.height)


async def page_pdf_async(
    page: PageToRender, paper: Paper | None = None, *, page_label: str = ""
) -> bytes:
    """``page_pdf`` off the event loop."""
    return await run_off_loop(svg_to_pdf, await page_svg_async(page, paper, page_label=page_label))


async def page_png_async(
    page: PageToRender, paper: Paper | None = None, *, scale: float = 1.0
) -> bytes:
    """``page_png`` off the event loop."""
    check_scale(scale)
    return await run_off_loop(svg_to_png, await page_svg_async(page, paper), scale=scale)


async def report_pdf_async(pages: Sequence[PageToRender], paper: Paper | None = None) -> bytes:
    """``report_pdf`` off the event loop, its pages rendered concurrently."""
    if not pages:
        raise ValueError("a report PDF needs at least one page")
    documents = await asyncio.gather(
        *(
            page_pdf_async(page, paper, page_label=label)
            for page, label in zip(pages, _page_labels(len(pages)), strict=True)
        )
    )
    return await run_off_loop(merge_pdfs, documents, title=pages[0].report_name)
