"""Pages and reports on paper: PDF, PNG and SVG composed from real vl-convert renderings."""

from __future__ import annotations

import io
import re
import xml.etree.ElementTree as ET
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta, timezone

import pypdf
import pytest
from hypothesis import given
from hypothesis import strategies as st

from charts import render
from charts.canvas import GridLayout, visual_box
from charts.page import (
    PAPER_POINTS,
    PageToRender,
    Paper,
    PlacedVisual,
    _text_width,
    _wrap,
    describe_filter,
    export_footer,
    fitted_spec,
    page_pdf,
    page_pdf_async,
    page_png,
    page_svg,
    report_pdf,
    report_pdf_async,
)
from tests.images import png_size

V5 = "https://vega.github.io/schema/vega-lite/v5.json"
SVG = "{http://www.w3.org/2000/svg}"
FOOTER = "Report v42 · exported 2026-12-01 10:32 UTC"


def bar(title: str, bars: int = 12) -> dict:
    return {
        "$schema": V5,
        "title": title,
        "data": {"values": [{"k": f"k{i}", "v": i + 1} for i in range(bars)]},
        "mark": "bar",
        "encoding": {
            "x": {"field": "k", "type": "nominal"},
            "y": {"field": "v", "type": "quantitative"},
        },
    }


def line(title: str) -> dict:
    return {
        "$schema": V5,
        "title": title,
        "data": {"values": [{"t": i, "v": i * i} for i in range(20)]},
        "mark": {"type": "line", "clip": True},
        "encoding": {
            "x": {"field": "t", "type": "quantitative", "scale": {"domain": [2, 15]}},
            "y": {"field": "v", "type": "quantitative"},
        },
    }


def pie(title: str) -> dict:
    return {
        "$schema": V5,
        "title": title,
        "data": {"values": [{"r": r, "v": v} for r, v in [("East", 3), ("West", 5), ("North", 2)]]},
        "mark": "arc",
        "encoding": {
            "theta": {"field": "v", "type": "quantitative"},
            "color": {"field": "r", "type": "nominal"},
        },
    }


def table(title: str) -> dict:
    return {
        "$schema": V5,
        "title": title,
        "data": {"values": [{"p": f"Product {i}", "u": i * 7} for i in range(6)]},
        "mark": "text",
        "encoding": {
            "y": {"field": "p", "type": "nominal"},
            "text": {"field": "u", "type": "quantitative"},
        },
    }


SIX_TITLES = (
    "Sales by month",
    "Margin trend",
    "Share by region",
    "Top products",
    "Units by store",
    "Returns by week",
)


def six_visual_page(name: str = "Overview") -> PageToRender:
    specs = [
        bar(SIX_TITLES[0]),
        line(SIX_TITLES[1]),
        pie(SIX_TITLES[2]),
        table(SIX_TITLES[3]),
        bar(SIX_TITLES[4], bars=30),
        line(SIX_TITLES[5]),
    ]
    layouts = [GridLayout(x=(i % 3) * 8, y=(i // 3) * 16, w=8, h=16) for i in range(6)]
    return PageToRender(
        report_name="Quarterly sales",
        page_name=name,
        report_filters=("Region in (East, West)",),
        page_filters=("Year between 2023 and 2024",),
        footer=FOOTER,
        visuals=tuple(
            PlacedVisual(layout=layout, spec=spec)
            for layout, spec in zip(layouts, specs, strict=True)
        ),
    )


def one_visual_page(name: str = "Detail", spec: dict | None = None) -> PageToRender:
    return PageToRender(
        report_name="Quarterly sales",
        page_name=name,
        footer=FOOTER,
        visuals=(PlacedVisual(layout=GridLayout(x=0, y=0, w=12, h=12), spec=spec or bar("Sales")),),
    )


def pdf_pages(pdf: bytes) -> list[pypdf.PageObject]:
    return list(pypdf.PdfReader(io.BytesIO(pdf)).pages)


def page_size(page: pypdf.PageObject) -> tuple[int, int]:
    return round(float(page.mediabox.width)), round(float(page.mediabox.height))


def parse(svg: str) -> ET.Element:
    return ET.fromstring(svg)  # noqa: S314  # our own composer's output


@pytest.fixture(autouse=True, scope="module")
def _stop_render_workers() -> Iterator[None]:
    yield
    render.shutdown_render_workers()


@pytest.fixture(scope="module")
def six_visual_pdf() -> bytes:
    return page_pdf(six_visual_page(), Paper(size="A4", orientation="landscape"))


# --- paper ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("size", "orientation", "points"),
    [
        ("A4", "landscape", (842, 595)),
        ("A4", "portrait", (595, 842)),
        ("A3", "landscape", (1191, 842)),
        ("Letter", "portrait", (612, 792)),
        ("Legal", "landscape", (1008, 612)),
        ("Slide16x9", "landscape", (960, 540)),
    ],
)
def test_page_pdf_is_one_page_of_the_paper_size(size, orientation, points):
    paper = Paper(size=size, orientation=orientation)
    assert paper.points == points
    pages = pdf_pages(page_pdf(one_visual_page(), paper))
    assert len(pages) == 1
    assert page_size(pages[0]) == points


def test_paper_defaults_to_a4_landscape():
    assert Paper().points == (842, 595)
    assert set(PAPER_POINTS) == {"A4", "A3", "Letter", "Legal", "Slide16x9"}


# --- what the page says ----------------------------------------------------------------------


def test_page_pdf_text_has_the_visual_titles_page_title_and_version_footer(six_visual_pdf):
    (page,) = pdf_pages(six_visual_pdf)
    text = page.extract_text()
    for title in SIX_TITLES:
        assert title in text
    assert "Overview" in text
    assert "Quarterly sales" in text
    assert FOOTER in text


def test_page_pdf_prints_the_filters_in_effect(six_visual_pdf):
    text = pdf_pages(six_visual_pdf)[0].extract_text()
    assert "Report filters: Region in (East, West)" in text
    assert "Page filters: Year between 2023 and 2024" in text


def test_page_pdf_embeds_its_fonts(six_visual_pdf):
    page = pdf_pages(six_visual_pdf)[0]
    fonts = page["/Resources"]["/Font"].values()
    assert fonts
    for reference in fonts:
        font = reference.get_object()
        owner = font["/DescendantFonts"][0].get_object() if "/DescendantFonts" in font else font
        descriptor = owner["/FontDescriptor"].get_object()
        assert {"/FontFile", "/FontFile2", "/FontFile3"} & set(descriptor), font["/BaseFont"]


def test_a_non_latin_page_keeps_its_words_in_the_pdf_text():
    page = PageToRender(
        report_name="Отчёт",
        page_name="Продажи 売上 Πωλήσεις",
        footer=FOOTER,
        visuals=(PlacedVisual(layout=GridLayout(x=0, y=0, w=8, h=8), spec=bar("Выручка")),),
    )
    text = pdf_pages(page_pdf(page))[0].extract_text()
    for word in ("Отчёт", "Продажи", "売上", "Πωλήσεις", "Выручка"):
        assert word in text


def test_a_broken_visual_becomes_a_placeholder_and_the_page_still_renders():
    good = PlacedVisual(layout=GridLayout(x=0, y=0, w=12, h=12), spec=bar("Healthy chart"))
    broken = PlacedVisual(
        layout=GridLayout(x=12, y=0, w=12, h=12),
        spec={**bar("Never drawn"), "mark": "banana"},
        name="Margin by banana",
    )
    page = PageToRender(report_name="R", page_name="P", footer=FOOTER, visuals=(good, broken))
    text = pdf_pages(page_pdf(page))[0].extract_text()
    assert "Healthy chart" in text
    assert "Margin by banana could not be rendered" in text
    assert "banana" in text.split("could not be rendered", 1)[1]
    assert FOOTER in text


def test_markup_in_names_is_printed_not_interpreted():
    page = one_visual_page(name='<b>Q1 & "Q2"</b>')
    root = parse(page_svg(page))
    texts = [t.text for t in root.iter(f"{SVG}text")]
    assert '<b>Q1 & "Q2"</b>' in texts


# --- layout -----------------------------------------------------------------------------------


def test_each_visual_is_nested_at_its_box_scaled_uniformly():
    page = six_visual_page()
    root = parse(page_svg(page, Paper(size="A3", orientation="portrait")))
    nested = root.findall(f"{SVG}svg")
    assert len(nested) == len(page.visuals)
    scales = set()
    for element, visual in zip(nested, page.visuals, strict=True):
        box = visual_box(visual.layout)
        width, height = float(element.get("width")), float(element.get("height"))
        scales.add(round(width / box.width, 6))
        assert height / box.height == pytest.approx(width / box.width)
    assert len(scales) == 1  # one scale for the whole canvas
    # neighbours stay neighbours: the second column starts where the first ends
    first, second = nested[0], nested[1]
    assert float(first.get("x")) + float(first.get("width")) == pytest.approx(
        float(second.get("x"))
    )


def test_the_canvas_fits_inside_the_paper_margins():
    paper = Paper(size="Letter", orientation="portrait")
    root = parse(page_svg(six_visual_page(), paper))
    width, height = paper.points
    for element in root.findall(f"{SVG}svg"):
        x, y = float(element.get("x")), float(element.get("y"))
        assert x >= 0
        assert y >= 0
        assert x + float(element.get("width")) <= width
        assert y + float(element.get("height")) <= height


def test_ids_of_different_visuals_do_not_collide_and_every_reference_resolves():
    page = PageToRender(
        report_name="R",
        page_name="P",
        visuals=tuple(
            PlacedVisual(layout=GridLayout(x=12 * i, y=0, w=12, h=10), spec=line(f"Clipped {i}"))
            for i in range(2)
        ),
    )
    svg = page_svg(page)
    ids = [element.get("id") for element in parse(svg).iter() if element.get("id")]
    assert ids
    assert len(ids) == len(set(ids))
    assert set(re.findall(r"url\(#([^)]+)\)", svg)) <= set(ids)


def test_a_single_view_spec_is_sized_to_its_box_and_a_concat_is_left_alone():
    fitted = fitted_spec(bar("x"), 640, 200)
    assert (fitted["width"], fitted["height"]) == (640, 200)
    assert fitted["autosize"] == {"type": "fit", "contains": "padding"}
    concat = {"hconcat": [bar("a"), bar("b")]}
    assert fitted_spec(concat, 640, 200) == concat


# --- PNG and SVG ------------------------------------------------------------------------------


def test_page_png_is_the_paper_size_times_the_scale():
    paper = Paper(size="A4", orientation="landscape")
    assert png_size(page_png(one_visual_page(), paper)) == (842, 595)
    assert png_size(page_png(one_visual_page(), paper, scale=2)) == (1684, 1190)


def test_page_svg_is_the_paper_size_in_points():
    root = parse(page_svg(one_visual_page(), Paper(size="Slide16x9")))
    assert (root.get("width"), root.get("height")) == ("960", "540")


# --- reports ----------------------------------------------------------------------------------


def test_a_report_of_three_pages_is_one_pdf_of_three_numbered_pages():
    pages = [one_visual_page(name=f"Page {n}") for n in ("one", "two", "three")]
    pdf = report_pdf(pages, Paper(size="A4", orientation="portrait"))
    reader = pypdf.PdfReader(io.BytesIO(pdf))
    assert len(reader.pages) == 3
    for number, (page, name) in enumerate(zip(reader.pages, ("one", "two", "three"), strict=True)):
        assert page_size(page) == (595, 842)
        text = page.extract_text()
        assert f"Page {name}" in text
        assert f"{number + 1} / 3" in text
        assert FOOTER in text
    assert reader.metadata.title == "Quarterly sales"


def test_a_report_needs_a_page():
    with pytest.raises(ValueError, match="at least one page"):
        report_pdf([])


async def test_a_page_rendered_off_the_loop_says_what_the_page_rendered_here_says():
    page = six_visual_page()
    here = pdf_pages(page_pdf(page))[0].extract_text()
    there = pdf_pages(await page_pdf_async(page))[0].extract_text()
    assert there == here


async def test_a_report_rendered_off_the_loop_keeps_its_page_order():
    pages = [one_visual_page(name=f"Page {n}") for n in range(3)]
    reader = pypdf.PdfReader(io.BytesIO(await report_pdf_async(pages)))
    assert [f"Page {n}" in p.extract_text() for n, p in enumerate(reader.pages)] == [True] * 3


# --- sentences ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("entry", "sentence"),
    [
        ({"field": "Region", "op": "in", "values": ["East", "West"]}, "Region in (East, West)"),
        ({"field": "Region", "op": "not_in", "values": [None]}, "Region not in ((blank))"),
        ({"field": "Amount", "op": "range", "min": 10, "max": 20.5}, "Amount between 10 and 20.5"),
        ({"field": "Date", "op": "range", "min": "2024-01-01"}, "Date ≥ 2024-01-01"),
        ({"field": "Date", "op": "range", "max": "2024-12-31"}, "Date ≤ 2024-12-31"),
        (
            {"field": "Date", "op": "relative_date", "unit": "month", "last": 3},
            "Date in the last 3 months",
        ),
        (
            {"field": "Date", "op": "relative_date", "unit": "day", "last": 1},
            "Date in the last 1 day",
        ),
        (
            {"field": "Product", "op": "top", "n": 5, "by": {"field": "Sales", "agg": "sum"}},
            "top 5 Product by sum of Sales",
        ),
        (
            {"field": "Product", "op": "top", "n": 3, "by": {"measure": "Profit"}},
            "top 3 Product by Profit",
        ),
        ({"field": "Flag", "op": "in", "values": [True, False]}, "Flag in (true, false)"),
    ],
)
def test_filters_read_as_sentences(entry, sentence):
    assert describe_filter(entry) == sentence


def test_a_long_value_list_is_cut_short():
    sentence = describe_filter(
        {"field": "City", "op": "in", "values": [f"c{i}" for i in range(25)]}
    )
    assert sentence.startswith("City in (c0, c1,")
    assert sentence.endswith("c9, … 15 more)")


@pytest.mark.parametrize(
    "moment",
    [
        datetime(2026, 12, 1, 10, 32, 59, tzinfo=UTC),
        datetime(2026, 12, 1, 10, 32),  # noqa: DTZ001  # naive: taken as UTC
        datetime(2026, 12, 1, 11, 32, tzinfo=timezone(timedelta(hours=1))),
    ],
)
def test_the_footer_names_the_version_and_the_utc_export_time(moment):
    assert export_footer(42, moment) == FOOTER


@given(
    st.text(alphabet=st.sampled_from("ab cd 売上Пр\n"), max_size=300),
    st.floats(60, 500),
    st.integers(1, 4),
)
def test_wrapped_lines_fit_and_keep_the_words_in_order(text, width, max_lines):
    lines = _wrap(text, width, 8.0, max_lines)
    assert len(lines) <= max_lines
    assert all(_text_width(line, 8.0) <= width for line in lines)
    words = "".join(text.split())
    joined = "".join("".join(lines).split())
    if lines and lines[-1].endswith("…"):
        assert words.startswith(joined.removesuffix("…"))
    else:
        assert joined == words
