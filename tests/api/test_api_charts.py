"""A report's visuals and pages drawn through the API: Vega-Lite specs with their data, SVG,
PNG and PDF, now and as they were at an earlier version."""

from __future__ import annotations

import csv
import io
from urllib.parse import urlsplit

import asyncpg
import pypdf

from tests.api.charts_support import WEATHER, weather_report
from tests.apiclient import assert_problem, send, uid
from tests.images import pixel_variance, png_size


async def test_each_visual_of_a_report_is_a_vega_lite_spec_with_its_data(loupe):
    async with loupe.client() as client:
        report = await weather_report(client)
        for visual_type, visual_id in report.visuals.items():
            response = await client.get(f"/reports/{report.report_id}/visuals/{visual_id}/spec")
            assert response.status_code == 200, (visual_type, response.text)
            spec = response.json()
            assert spec["$schema"].startswith("https://vega.github.io/schema/vega-lite/v6")
            assert response.headers["x-loupe-report-version"] == str(report.version)
            assert report.titles[visual_id] in response.text, visual_type
            values = _values(spec)
            assert values, (visual_type, spec)
        column = (
            await client.get(f"/reports/{report.report_id}/visuals/{report.visuals['column']}/spec")
        ).json()
        # One bar per kind of weather, each counting its days: 1,461 days in all.
        counts = [v for row in _values(column) for v in row.values() if isinstance(v, int)]
        assert len(_values(column)) == 5
        assert sum(counts) == 1461


def _values(spec):
    """Every inline data row of a spec (top level, layers, concatenations)."""
    rows = []
    stack = [spec]
    while stack:
        node = stack.pop()
        if isinstance(node, dict):
            data = node.get("data")
            if isinstance(data, dict) and isinstance(data.get("values"), list):
                rows += data["values"]
            datasets = node.get("datasets")
            if isinstance(datasets, dict):
                for values in datasets.values():
                    rows += values
            stack += [v for k, v in node.items() if k not in {"data", "datasets"}]
        elif isinstance(node, list):
            stack += node
    return rows


async def test_a_visual_is_drawn_as_svg_png_and_pdf(loupe):
    async with loupe.client() as client:
        report = await weather_report(client)
        base = f"/reports/{report.report_id}/visuals/{report.visuals['column']}"
        svg = await client.get(base + ".svg")
        assert svg.status_code == 200, svg.text
        assert svg.headers["content-type"].startswith("image/svg+xml")
        assert "<svg" in svg.text
        assert "Days by weather" in svg.text
        assert svg.text.count('role-mark"') >= 1 or "mark-rect" in svg.text

        png = await client.get(base + ".png")
        assert png.status_code == 200, png.text
        assert png.headers["content-type"] == "image/png"
        width, height = png_size(png.content)
        assert pixel_variance(png.content) > 10
        double = await client.get(base + ".png", params={"scale": 2})
        double_width, double_height = png_size(double.content)
        # A box of 426⅔ px is 426 px at scale 1 and 853 px at scale 2.
        assert abs(double_width - width * 2) <= 1
        assert abs(double_height - height * 2) <= 1

        pdf = await client.get(base + ".pdf")
        assert pdf.status_code == 200, pdf.text
        assert pdf.headers["content-type"] == "application/pdf"
        reader = pypdf.PdfReader(io.BytesIO(pdf.content))
        assert len(reader.pages) == 1
        assert "Days by weather" in reader.pages[0].extract_text()


async def test_a_page_is_drawn_as_a_pdf_with_its_titles_and_version_footer(loupe):
    async with loupe.client() as client:
        report = await weather_report(client)
        response = await client.get(
            f"/reports/{report.report_id}/pages/{report.page_id}.pdf",
            params={"paper": "A4", "orientation": "landscape"},
        )
        assert response.status_code == 200, response.text
        reader = pypdf.PdfReader(io.BytesIO(response.content))
        assert len(reader.pages) == 1
        box = reader.pages[0].mediabox
        assert (round(float(box.width)), round(float(box.height))) == (842, 595)
        text = reader.pages[0].extract_text()
        for title in report.titles.values():
            assert title in text, title
        assert "Overview" in text
        assert f"Report v{report.version}" in text

        png = await client.get(f"/reports/{report.report_id}/pages/{report.page_id}.png")
        assert png.status_code == 200
        assert pixel_variance(png.content) > 10


async def test_a_visual_is_drawn_as_it_was_at_an_earlier_version(loupe):
    async with loupe.client() as client:
        report = await weather_report(client)
        column = report.visuals["column"]
        renamed = await send(
            client,
            report.report_id,
            {
                "type": "SetProperty",
                "target": f"visual:{column}",
                "path": "title.text",
                "value": "Weather, counted",
            },
        )
        assert renamed.status_code == 200
        position = renamed.json()["position"]
        now = await client.get(
            f"/reports/{report.report_id}/visuals/{column}/spec",
            params={"min_position": position},
        )
        assert "Weather, counted" in now.text
        before = await client.get(
            f"/reports/{report.report_id}/visuals/{column}/spec",
            params={"version": report.version},
        )
        assert before.status_code == 200
        assert "Days by weather" in before.text
        assert "Weather, counted" not in before.text
        assert before.headers["x-loupe-report-version"] == str(report.version)


async def test_drawing_asks_are_checked_and_answered_with_problems(loupe):
    async with loupe.client() as client:
        report = await weather_report(client)
        base = f"/reports/{report.report_id}"
        assert_problem(
            await client.get(f"{base}/visuals/{uid()}.png"), 404, code="visual_not_found"
        )
        assert_problem(
            await client.get(f"{base}/visuals/{report.visuals['pie']}.gif"),
            404,
            code="unknown_format",
        )
        assert_problem(await client.get(f"{base}/visuals/not-a-visual.png"), 404)
        assert_problem(
            await client.get(f"{base}/visuals/{report.visuals['pie']}.png", params={"scale": 40}),
            400,
        )
        assert_problem(await client.get(f"{base}/pages/{uid()}.pdf"), 404, code="page_not_found")
        assert_problem(
            await client.get(f"{base}/pages/{report.page_id}.pdf", params={"paper": "B5"}), 400
        )
        assert_problem(
            await client.get(
                f"{base}/visuals/{report.visuals['pie']}/spec", params={"version": 999}
            ),
            404,
            code="no_such_version",
        )
    async with loupe.client(user="eve@example.com") as outsider:
        assert_problem(await outsider.get(f"{base}/visuals/{report.visuals['pie']}.svg"), 404)


async def test_a_visual_whose_source_is_gone_costs_that_visual_not_the_page(
    loupe, engines, db_schema
):
    source = f"{db_schema}_src"
    conn = await asyncpg.connect(engines.postgres)
    try:
        await conn.execute(f'CREATE SCHEMA "{source}"')
        await conn.execute(f'CREATE TABLE "{source}".sales (region text, amount numeric)')
        await conn.execute(f"INSERT INTO \"{source}\".sales VALUES ('North', 10), ('South', 20)")
        async with loupe.client() as client:
            report = await weather_report(client)
            parts = urlsplit(engines.postgres)
            connected = await client.post(
                f"/workspaces/{report.workspace_id}/datasets",
                json={
                    "name": "Sales (live)",
                    "connector": "postgres",
                    "config": {
                        "host": parts.hostname or "127.0.0.1",
                        "port": parts.port or 5432,
                        "database": parts.path.lstrip("/"),
                        "user": parts.username or "postgres",
                        "password": parts.password,
                        "sslmode": "disable",
                    },
                    "table": f"{source}.sales",
                },
            )
            assert connected.status_code == 201, connected.text
            live = (
                await client.post(
                    f"/workspaces/{report.workspace_id}/reports",
                    json={"name": "Live sales", "dataset_id": connected.json()["id"]},
                )
            ).json()["id"]
            page, bars = uid(), uid()
            sent = await send(
                client,
                live,
                {"type": "AddPage", "page_id": page, "name": "Regions"},
                {
                    "type": "AddVisual",
                    "visual_id": bars,
                    "page_id": page,
                    "visual_type": "bar",
                    "x": 0,
                    "y": 0,
                    "w": 12,
                    "h": 10,
                },
                {"type": "BindField", "visual_id": bars, "well": "y", "field": "region"},
                {
                    "type": "BindField",
                    "visual_id": bars,
                    "well": "x",
                    "field": "amount",
                    "aggregation": "sum",
                },
                {
                    "type": "SetProperty",
                    "target": f"visual:{bars}",
                    "path": "title.text",
                    "value": "Amount by region",
                },
            )
            assert sent.status_code == 200, sent.text
            await client.get(f"/reports/{live}", params={"min_position": sent.json()["position"]})
            drawn = await client.get(f"/reports/{live}/visuals/{bars}.svg")
            assert drawn.status_code == 200, drawn.text

            await conn.execute(f'DROP TABLE "{source}".sales')
            # A new question (answers already asked are served from the cache).
            filtered = await send(
                client,
                live,
                {
                    "type": "SetFilter",
                    "target": f"visual:{bars}",
                    "field": "region",
                    "filter": {"op": "in", "values": ["North"]},
                },
            )
            position = filtered.json()["position"]
            gone = await client.get(
                f"/reports/{live}/visuals/{bars}.svg", params={"min_position": position}
            )
            problem = assert_problem(gone, 409, code="source_changed")
            assert "sales" in problem["detail"]
            page_pdf = await client.get(f"/reports/{live}/pages/{page}.pdf")
            assert page_pdf.status_code == 200, page_pdf.text
            text = pypdf.PdfReader(io.BytesIO(page_pdf.content)).pages[0].extract_text()
            assert "Amount by region could not be rendered" in " ".join(text.split())
    finally:
        await conn.execute(f'DROP SCHEMA IF EXISTS "{source}" CASCADE')
        await conn.close()


async def test_visuals_and_measures_written_before_a_field_rename_keep_working(loupe):
    async with loupe.client() as client:
        report = await weather_report(client)
        base = f"/datasets/{report.dataset_id}"
        defined = await client.post(
            f"{base}/measures", json={"name": "Rainfall", "expression": "SUM([precipitation])"}
        )
        assert defined.status_code == 201, defined.text
        for old, new in (("weather", "Conditions"), ("precipitation", "Rain (mm)")):
            renamed = await client.patch(f"{base}/fields/{old}", json={"name": new})
            assert renamed.status_code == 200, renamed.text
        fields = {f["name"]: f for f in renamed.json()["fields"]}
        assert fields["Conditions"]["former_names"] == ["weather"]
        # The pie still binds "weather" and "precipitation": drawn under the new names.
        pie = report.visuals["pie"]
        response = await client.get(f"/reports/{report.report_id}/visuals/{pie}/spec")
        assert response.status_code == 200, response.text
        rows = _values(response.json())
        assert sorted(row["color0"] for row in rows) == ["drizzle", "fog", "rain", "snow", "sun"]
        assert "Conditions" in response.text
        assert "Rain (mm)" in response.text
        with WEATHER.open() as file:
            total = sum(float(row["precipitation"]) for row in csv.DictReader(file))
        assert abs(sum(row["values0"] for row in rows) - total) < 1e-6
        # A query and a measure written with the old names answer too.
        answer = await client.post(
            f"{base}/query",
            json={"dimensions": ["weather"], "measures": [{"measure": "Rainfall"}]},
        )
        assert answer.status_code == 200, answer.text
        body = answer.json()
        assert [c["name"] for c in body["columns"]] == ["Conditions", "Rainfall"]
        assert abs(sum(row[1] for row in body["rows"]) - total) < 1e-6


async def test_only_members_learn_how_many_versions_a_report_has(loupe):
    async with loupe.client() as client:
        report = await weather_report(client)
        url = f"/reports/{report.report_id}/visuals/{report.visuals['pie']}/spec"
        member = await client.get(url, params={"version": 999})
    async with loupe.client(user="eve@example.com") as stranger:
        outsider = await stranger.get(url, params={"version": 999})
        diff = await stranger.get(f"/reports/{report.report_id}/diff", params={"from": 999})
    assert_problem(member, 404, code="no_such_version")
    assert_problem(outsider, 404, code="workspace_not_found")
    assert_problem(diff, 404, code="workspace_not_found")
