"""A conversion that runs too long is stopped: its worker is killed and replaced, the caller
gets ``RenderTimedOut`` (a page shows a placeholder for that visual), and the next conversion
works. A conversion whose caller goes away is stopped the same way."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator

import pytest

from charts import render
from charts.canvas import GridLayout
from charts.page import PageToRender, PlacedVisual, page_svg_async
from charts.render import DEFAULT_RENDER_TIMEOUT, RenderTimedOut, default_render_workers

V5 = "https://vega.github.io/schema/vega-lite/v5.json"


def slow_chart() -> dict:
    """A chart that takes vl-convert ~20 s on this machine (a moving median over 20,000 rows,
    each over a window of 8,001), yet needs little memory."""
    return {
        "$schema": V5,
        "data": {"sequence": {"start": 0, "stop": 20_000, "as": "x"}},
        "transform": [
            {"window": [{"op": "median", "field": "x", "as": "m"}], "frame": [-4000, 4000]}
        ],
        "mark": "point",
        "encoding": {
            "x": {"field": "x", "type": "quantitative"},
            "y": {"field": "m", "type": "quantitative"},
        },
    }


def bar_chart(title: str = "Quick") -> dict:
    return {
        "$schema": V5,
        "title": title,
        "data": {"values": [{"k": f"k{i}", "v": i + 1} for i in range(5)]},
        "mark": "bar",
        "encoding": {
            "x": {"field": "k", "type": "nominal"},
            "y": {"field": "v", "type": "quantitative"},
        },
    }


@pytest.fixture
def limit() -> Iterator[None]:
    """Render workers with a 1 s limit; the defaults again afterwards."""
    render.configure_render_workers(default_render_workers(), timeout=1.0)
    yield
    render.configure_render_workers(default_render_workers(), timeout=DEFAULT_RENDER_TIMEOUT)
    render.shutdown_render_workers()


@pytest.mark.usefixtures("limit")
async def test_a_render_that_overruns_the_limit_is_stopped_and_the_next_render_works():
    started = time.monotonic()
    with pytest.raises(RenderTimedOut, match="longer than 1 s") as caught:
        await render.render_svg_async(slow_chart())
    # Stopped, not waited for: drawing the chart to the end takes ~20 s.
    assert time.monotonic() - started < 12
    assert caught.value.code == "render_timeout"
    svg = await render.render_svg_async(bar_chart())
    assert svg.count("mark-rect") == 1
    assert "Quick" in svg


@pytest.mark.usefixtures("limit")
async def test_a_page_draws_a_placeholder_for_a_visual_that_overruns_the_limit():
    page = PageToRender(
        report_name="Quarterly sales",
        page_name="Overview",
        footer="v1",
        visuals=(
            PlacedVisual(layout=GridLayout(x=0, y=0, w=12, h=12), spec=bar_chart("Healthy")),
            PlacedVisual(
                layout=GridLayout(x=12, y=0, w=12, h=12), spec=slow_chart(), name="Moving median"
            ),
        ),
    )
    svg = await page_svg_async(page)
    assert "Healthy" in svg
    assert "Moving median could not be rendered" in svg
    assert "longer than 1 s" in svg


async def test_a_render_whose_caller_gives_up_is_stopped():
    # One worker and no time limit: only cancelling can free it for the next render.
    render.configure_render_workers(1, timeout=None)
    try:
        await render.render_svg_async(bar_chart())  # the worker is up
        slow = asyncio.ensure_future(render.render_svg_async(slow_chart()))
        await asyncio.sleep(1.0)  # it is drawing
        slow.cancel()
        with pytest.raises(asyncio.CancelledError):
            await slow
        # Were the slow chart still being drawn, this would wait ~20 s for the worker.
        svg = await asyncio.wait_for(render.render_svg_async(bar_chart("After")), 10)
        assert "After" in svg
    finally:
        render.configure_render_workers(default_render_workers(), timeout=DEFAULT_RENDER_TIMEOUT)
        render.shutdown_render_workers()


def test_the_limit_must_be_a_positive_number_of_seconds():
    for bad in (0, -1, True, "60"):
        with pytest.raises(ValueError, match="timeout"):
            render.configure_render_workers(1, timeout=bad)  # type: ignore[arg-type]
