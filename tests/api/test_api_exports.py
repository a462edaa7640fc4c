"""Export jobs through the API: a page to PDF on a worker, progress, download, one job per
report version and options, retention."""

from __future__ import annotations

import io
import zipfile

import pypdf

from tests.api.charts_support import wait_for_export, weather_report
from tests.apiclient import assert_problem, send, uid
from tests.images import pixel_variance


async def test_a_page_is_exported_to_pdf_through_a_job(loupe):
    async with loupe.client() as client:
        report = await weather_report(client)
        response = await client.post(
            f"/reports/{report.report_id}/exports",
            json={"format": "pdf", "pages": [report.page_id], "paper": "A4"},
        )
        assert response.status_code == 202, response.text
        job = response.json()
        assert response.headers["location"] == f"/exports/{job['id']}"
        assert job["status"] in {"queued", "running", "complete"}
        assert job["version"] == report.version
        done = await wait_for_export(client, job["id"])
        assert done["status"] == "complete", done
        assert done["pages_done"] == 1
        assert done["expires_at"] > done["finished_at"]
        download = await client.get(done["download"])
        assert download.status_code == 200
        assert download.headers["content-type"] == "application/pdf"
        assert f"v{report.version}.pdf" in download.headers["content-disposition"]
        reader = pypdf.PdfReader(io.BytesIO(download.content))
        assert len(reader.pages) == 1
        text = reader.pages[0].extract_text()
        assert "Days by weather" in text
        assert f"Report v{report.version}" in text


async def test_the_same_export_of_the_same_version_is_made_once(loupe):
    async with loupe.client() as client:
        report = await weather_report(client)
        ask = {"format": "pdf", "paper": "Letter", "orientation": "portrait"}
        first = (await client.post(f"/reports/{report.report_id}/exports", json=ask)).json()
        second = (await client.post(f"/reports/{report.report_id}/exports", json=ask)).json()
        assert second["id"] == first["id"]
        done = await wait_for_export(client, first["id"])
        assert done["status"] == "complete"
        again = await client.post(f"/reports/{report.report_id}/exports", json=ask)
        assert again.status_code == 200  # made already: nothing to wait for
        assert again.json()["id"] == first["id"]
        assert again.json()["attempts"] == 1
        assert again.json()["finished_at"] == done["finished_at"]

        edited = await send(
            client,
            report.report_id,
            {"type": "RenamePage", "page_id": report.page_id, "name": "Summary"},
        )
        await client.get(
            f"/reports/{report.report_id}", params={"min_position": edited.json()["position"]}
        )
        newer = (await client.post(f"/reports/{report.report_id}/exports", json=ask)).json()
        assert newer["id"] != first["id"]
        assert newer["version"] == report.version + 1
        other_paper = (
            await client.post(f"/reports/{report.report_id}/exports", json={**ask, "paper": "A3"})
        ).json()
        assert other_paper["id"] not in {first["id"], newer["id"]}


async def test_an_earlier_version_exports_as_it_was(loupe):
    async with loupe.client() as client:
        report = await weather_report(client)
        edited = await send(
            client,
            report.report_id,
            {"type": "RenamePage", "page_id": report.page_id, "name": "Renamed later"},
        )
        assert edited.status_code == 200
        job = (
            await client.post(
                f"/reports/{report.report_id}/exports", json={"version": report.version}
            )
        ).json()
        done = await wait_for_export(client, job["id"])
        pdf = (await client.get(done["download"])).content
        text = pypdf.PdfReader(io.BytesIO(pdf)).pages[0].extract_text()
        assert "Overview" in text
        assert "Renamed later" not in text
        assert f"Report v{report.version}" in text


async def test_several_pages_export_as_one_pdf_or_a_zip_of_pngs(loupe):
    async with loupe.client() as client:
        report = await weather_report(client)
        second = uid()
        added = await send(
            client,
            report.report_id,
            {"type": "AddPage", "page_id": second, "name": "Appendix"},
            {
                "type": "AddVisual",
                "visual_id": uid(),
                "page_id": second,
                "visual_type": "card",
                "x": 0,
                "y": 0,
                "w": 6,
                "h": 6,
            },
        )
        await client.get(
            f"/reports/{report.report_id}", params={"min_position": added.json()["position"]}
        )
        pdf_job = (await client.post(f"/reports/{report.report_id}/exports", json={})).json()
        assert pdf_job["pages"] == [report.page_id, second]
        pdf = await client.get((await wait_for_export(client, pdf_job["id"]))["download"])
        reader = pypdf.PdfReader(io.BytesIO(pdf.content))
        assert len(reader.pages) == 2
        assert "Appendix" in reader.pages[1].extract_text()

        png_job = (
            await client.post(
                f"/reports/{report.report_id}/exports", json={"format": "png", "scale": 1}
            )
        ).json()
        archive = await client.get((await wait_for_export(client, png_job["id"]))["download"])
        assert archive.headers["content-type"] == "application/zip"
        with zipfile.ZipFile(io.BytesIO(archive.content)) as zipped:
            names = zipped.namelist()
            assert names == ["page-001.png", "page-002.png"]
            assert pixel_variance(zipped.read("page-001.png")) > 10


async def test_export_asks_are_checked_and_answered_with_problems(loupe):
    async with loupe.client() as client:
        report = await weather_report(client)
        url = f"/reports/{report.report_id}/exports"
        assert_problem(await client.post(url, json={"format": "docx"}), 400)
        assert_problem(await client.post(url, json={"pages": []}), 400)
        assert_problem(await client.post(url, json={"pages": [uid()]}), 404, code="page_not_found")
        assert_problem(await client.post(url, json={"version": 999}), 404, code="no_such_version")
        assert_problem(await client.post(url, json={"colour": "red"}), 400)
        assert_problem(await client.get("/exports/export-0000"), 404, code="export_not_found")
        job = (await client.post(url, json={})).json()
    async with loupe.client(user="eve@example.com") as outsider:
        assert_problem(await outsider.post(url, json={}), 404)
        assert_problem(await outsider.get(f"/exports/{job['id']}"), 404, code="export_not_found")
        assert_problem(
            await outsider.get(f"/exports/{job['id']}/download"), 404, code="export_not_found"
        )


async def test_expired_exports_are_deleted_and_can_be_asked_for_again(loupe):
    exports = loupe.services.exports
    async with loupe.client() as client:
        report = await weather_report(client)
        job = (await client.post(f"/reports/{report.report_id}/exports", json={})).json()
        done = await wait_for_export(client, job["id"])
        record = await exports.records.get(job["id"])
        assert await exports.blobs.exists(record.job.blob_key)
        deleted = await exports.sweep(now=record.expires_at)
        assert deleted == 1
        assert not await exports.blobs.exists(record.job.blob_key)
        gone = await client.get(done["download"])
        assert_problem(gone, 404, code="export_expired")
        again = await client.post(f"/reports/{report.report_id}/exports", json={})
        assert again.status_code == 202
        assert (await wait_for_export(client, job["id"]))["status"] == "complete"
        assert await exports.blobs.exists(record.job.blob_key)
