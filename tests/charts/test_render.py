"""One chart to SVG, PNG and PDF with the real vl-convert, on and off the event loop."""

from __future__ import annotations

import io
import os
import pickle
import xml.etree.ElementTree as ET
from collections.abc import Iterator

import altair as alt
import pypdf
import pytest

from charts import render
from charts.fonts import bundled_font_directory
from charts.render import (
    InvalidRenderOptions,
    InvalidSpec,
    RenderFailed,
    render_pdf,
    render_png,
    render_svg,
)
from tests.images import ink_share, png_pixels, png_size

V5 = "https://vega.github.io/schema/vega-lite/v5.json"
SVG = "{http://www.w3.org/2000/svg}"
TITLE = "Продажи 売上 Πωλήσεις"


def bar_chart(bars: int = 50, title: str = "Sales by category") -> dict:
    return {
        "$schema": V5,
        "title": title,
        "data": {
            "values": [{"category": f"c{i}", "sales": (i * 37) % 50 + 1} for i in range(bars)]
        },
        "mark": "bar",
        "encoding": {
            "x": {"field": "category", "type": "nominal", "sort": None},
            "y": {"field": "sales", "type": "quantitative"},
        },
    }


def line_chart() -> dict:
    return {
        "$schema": V5,
        "title": "Revenue by month",
        "data": {"values": [{"month": f"2024-{m:02d}-01", "revenue": m * m} for m in range(1, 13)]},
        "mark": "line",
        "encoding": {
            "x": {"field": "month", "type": "temporal"},
            "y": {"field": "revenue", "type": "quantitative"},
        },
    }


def pie_chart() -> dict:
    shares = [("East", 4), ("West", 6), ("North", 3), ("South", 2)]
    return {
        "$schema": V5,
        "title": "Share by region",
        "data": {"values": [{"region": r, "sales": v} for r, v in shares]},
        "mark": "arc",
        "encoding": {
            "theta": {"field": "sales", "type": "quantitative"},
            "color": {"field": "region", "type": "nominal"},
        },
    }


def text_table() -> dict:
    rows = [{"product": f"Product {i}", "units": i * 10} for i in range(5)]
    return {
        "$schema": V5,
        "title": "Units by product",
        "data": {"values": rows},
        "mark": "text",
        "encoding": {
            "y": {"field": "product", "type": "nominal"},
            "text": {"field": "units", "type": "quantitative"},
        },
    }


# --- a PNG decoder: PIL is not a dependency, and the format is simple -----------------------


def pdf_text(pdf: bytes) -> str:
    return "\n".join(page.extract_text() for page in pypdf.PdfReader(io.BytesIO(pdf)).pages)


def pdf_fonts(pdf: bytes) -> dict[str, bool]:
    """Each font's name → whether its glyphs are embedded in the file."""
    fonts: dict[str, bool] = {}

    def visit(resources) -> None:
        resources = resources.get_object() if resources is not None else {}
        for reference in (resources.get("/Font") or {}).values():
            font = reference.get_object()
            descendants = font.get("/DescendantFonts")
            descriptor_owner = descendants[0].get_object() if descendants else font
            descriptor = descriptor_owner.get("/FontDescriptor").get_object()
            fonts[str(font["/BaseFont"])] = any(
                key in descriptor for key in ("/FontFile", "/FontFile2", "/FontFile3")
            )
        for xobject in (resources.get("/XObject") or {}).values():
            visit(xobject.get_object().get("/Resources"))

    for page in pypdf.PdfReader(io.BytesIO(pdf)).pages:
        visit(page.get("/Resources"))
    return fonts


def marks(svg: str, mark: str) -> list[ET.Element]:
    """The items of the chart's ``mark`` marks (not axes or legends) in a Vega SVG."""
    root = ET.fromstring(svg)  # noqa: S314  # our own renderer's output
    groups = [
        g
        for g in root.iter(f"{SVG}g")
        if f"mark-{mark}" in g.get("class", "") and "role-mark" in g.get("class", "")
    ]
    return [item for group in groups for item in group]


@pytest.fixture(autouse=True, scope="module")
def _stop_render_workers() -> Iterator[None]:
    yield
    render.shutdown_render_workers()


# --- formats ------------------------------------------------------------------------------


def test_png_of_a_bar_chart_is_not_blank():
    png = render_png(bar_chart())
    assert 0.05 < ink_share(png) < 0.95


def test_png_at_scale_two_is_twice_as_large_each_way():
    width, height = png_size(render_png(bar_chart(), scale=1))
    assert png_size(render_png(bar_chart(), scale=2)) == (width * 2, height * 2)


def test_png_is_the_size_of_the_svg():
    svg = render_svg(bar_chart())
    assert png_size(render_png(bar_chart())) == tuple(round(v) for v in render.svg_size(svg))


def test_svg_of_a_bar_chart_draws_one_rect_per_bar():
    svg = render_svg(bar_chart(bars=50))
    assert len(marks(svg, "rect")) == 50
    assert "Sales by category" in svg


def test_svg_of_a_line_chart_draws_a_line():
    assert len(marks(render_svg(line_chart()), "line")) == 1


def test_svg_of_a_pie_draws_one_arc_per_slice():
    assert len(marks(render_svg(pie_chart()), "arc")) == 4


def test_svg_of_a_text_table_writes_each_cell():
    svg = render_svg(text_table())
    cells = [item.text for item in marks(svg, "text")]
    assert cells == ["0", "10", "20", "30", "40"]
    assert "Product 4" in svg


def test_pdf_of_a_chart_is_one_page_the_size_of_the_chart_with_its_text():
    pdf = render_pdf(line_chart())
    reader = pypdf.PdfReader(io.BytesIO(pdf))
    assert len(reader.pages) == 1
    width, height = render.svg_size(render_svg(line_chart()))
    box = reader.pages[0].mediabox
    assert (round(float(box.width)), round(float(box.height))) == (round(width), round(height))
    assert "Revenue by month" in pdf_text(pdf)


def test_pdf_embeds_every_font_it_uses():
    fonts = pdf_fonts(render_pdf(bar_chart()))
    assert fonts
    assert all(fonts.values()), fonts


# --- fonts ----------------------------------------------------------------------------------


def test_the_bundled_fonts_are_installed():
    directory = bundled_font_directory()
    assert directory is not None
    assert {p.name for p in directory.glob("*.ttf")} >= {
        "KurintoSans-Rg.ttf",
        "KurintoSansJP-Rg.ttf",
    }


def test_non_latin_title_stays_text_in_svg():
    svg = render_svg(bar_chart(title=TITLE))
    titles = [t.text for t in ET.fromstring(svg).iter(f"{SVG}text")]  # noqa: S314
    assert TITLE in titles


def test_non_latin_title_is_text_in_pdf_drawn_with_the_bundled_font():
    pdf = render_pdf(bar_chart(title=TITLE))
    text = pdf_text(pdf)
    for word in TITLE.split():
        assert word in text
    fonts = pdf_fonts(pdf)
    # This machine has no CJK system font: the glyphs of 売上 can only come from Kurinto.
    assert any("Kurinto" in name for name in fonts), fonts
    assert all(fonts.values()), fonts


@pytest.mark.parametrize("word", ["売上", "कमल", "مبيعات"])
def test_non_latin_words_render_as_glyphs_not_as_missing_glyph_boxes(word):
    # Private-use characters have no glyph in any font: they draw as the "missing" box. Had the
    # word no font either, both images would be the same boxes in the same places.
    tofu = "".join(chr(0xE000 + i) for i in range(len(word)))
    drawn = png_pixels(render_png(bar_chart(bars=3, title=word)))
    missing = png_pixels(render_png(bar_chart(bars=3, title=tofu)))
    assert drawn != missing


# --- errors ---------------------------------------------------------------------------------


def test_unknown_mark_is_an_invalid_spec_that_names_the_mark_and_the_allowed_ones():
    spec = {**bar_chart(), "mark": "banana"}
    with pytest.raises(InvalidSpec) as caught:
        render_svg(spec)
    assert caught.value.code == "invalid_spec"
    assert "mark" in caught.value.detail
    assert "'banana'" in caught.value.detail
    assert "'bar'" in caught.value.detail


def test_bad_field_type_is_an_invalid_spec_that_names_its_place():
    spec = bar_chart()
    spec["encoding"]["x"]["type"] = "weird"
    with pytest.raises(InvalidSpec, match=r"encoding\.x\.type: 'weird' is not one of"):
        render_png(spec)


def test_broken_expression_is_an_invalid_spec_without_a_javascript_stack():
    spec = {**bar_chart(), "transform": [{"calculate": "datum.sales +* 2", "as": "double"}]}
    with pytest.raises(InvalidSpec) as caught:
        render_pdf(spec)
    assert "Unexpected token" in caught.value.detail
    assert " at " not in caught.value.detail
    assert "jsdelivr" not in caught.value.detail


def test_a_spec_without_a_mark_is_an_invalid_spec():
    with pytest.raises(InvalidSpec, match="'mark' is a required property"):
        render_svg({"data": {"values": [{"a": 1}]}})


def test_values_that_are_not_json_are_an_invalid_spec():
    spec = bar_chart(bars=1)
    spec["data"]["values"][0]["when"] = object()
    with pytest.raises(InvalidSpec, match="not plain JSON"):
        render_svg(spec)


def test_a_list_is_not_a_spec():
    with pytest.raises(InvalidSpec, match="JSON object"):
        render_svg([bar_chart()])  # type: ignore[arg-type]


def test_external_data_is_refused():
    spec = {**bar_chart(), "data": {"url": "https://example.com/sales.csv"}}
    with pytest.raises(InvalidSpec, match="External data url not allowed"):
        render_svg(spec)


@pytest.mark.parametrize("scale", [0, -1, 4.5, float("nan"), True])
def test_scale_out_of_bounds_is_refused(scale):
    with pytest.raises(InvalidRenderOptions, match="scale"):
        render_png(bar_chart(bars=2), scale=scale)


def test_a_png_too_large_to_draw_is_refused_before_drawing():
    spec = {**bar_chart(bars=2), "width": 20_000, "height": 20_000}
    with pytest.raises(InvalidRenderOptions, match="pixels"):
        render_png(spec)
    assert render_svg(spec)  # the SVG is fine: only the raster is too large


@pytest.mark.parametrize(
    "error", [InvalidSpec("bad mark"), InvalidRenderOptions("big"), RenderFailed("died")]
)
def test_errors_keep_their_class_code_and_detail_when_pickled(error):
    copy = pickle.loads(pickle.dumps(error))  # noqa: S301  # our own bytes
    assert (type(copy), copy.code, copy.detail) == (type(error), error.code, error.detail)


# --- the Vega-Lite version --------------------------------------------------------------------


def test_vegalite_version_follows_the_spec_schema():
    v5 = [v for v in render._bundled_versions() if v[0] == 5]
    assert render.vegalite_version({"$schema": V5}) == "{}.{}".format(*max(v5))
    assert (
        render.vegalite_version({"$schema": "https://vega.github.io/schema/vega-lite/v5.8.0.json"})
        == "5.8"
    )


def test_vegalite_version_without_schema_is_altairs():
    major, minor = alt.SCHEMA_VERSION.lstrip("v").split(".")[:2]
    assert render.vegalite_version({}) == f"{major}.{minor}"


def test_vegalite_version_of_an_unbundled_major_is_left_to_vl_convert():
    assert (
        render.vegalite_version({"$schema": "https://vega.github.io/schema/vega-lite/v2.json"})
        is None
    )


# --- off the event loop -----------------------------------------------------------------------


async def test_png_rendered_in_a_worker_is_the_png_rendered_here():
    spec = bar_chart()
    assert png_pixels(await render.render_png_async(spec, scale=2)) == png_pixels(
        render_png(spec, scale=2)
    )


async def test_svg_and_pdf_render_in_a_worker():
    assert len(marks(await render.render_svg_async(pie_chart()), "arc")) == 4
    assert "Units by product" in pdf_text(await render.render_pdf_async(text_table()))


async def test_an_invalid_spec_raises_invalid_spec_across_the_process_boundary():
    with pytest.raises(InvalidSpec, match="banana") as caught:
        await render.render_svg_async({**bar_chart(), "mark": "banana"})
    assert caught.value.code == "invalid_spec"


async def test_a_worker_that_dies_fails_its_call_and_the_next_call_works():
    with pytest.raises(RenderFailed, match="worker died"):
        await render.run_off_loop(os._exit, 1)
    assert png_size(await render.render_png_async(bar_chart(bars=3)))


async def test_with_no_worker_processes_rendering_runs_in_a_thread():
    render.configure_render_workers(0)
    try:
        svg = await render.render_svg_async(bar_chart(bars=7))
        assert len(marks(svg, "rect")) == 7
        assert await render.run_off_loop(os.getpid) == os.getpid()
    finally:
        render.configure_render_workers(min(2, os.cpu_count() or 1))
