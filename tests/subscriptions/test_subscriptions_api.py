"""Subscriptions end to end through the API: subscribe a report, let the scheduler's clock
reach the run, and find the email — with the report as a PDF of the version sent — in a real
SMTP server; the send history says so."""

from __future__ import annotations

import datetime as dt
import io
from zoneinfo import ZoneInfo

import msgspec
import pypdf

from api.processes import build_scheduler
from tests.api.charts_support import weather_report
from tests.apiclient import assert_problem


def _with_mail(settings, smtp_server):
    return msgspec.structs.replace(
        settings,
        smtp_host=smtp_server.host,
        smtp_port=smtp_server.port,
        smtp_security="none",
        smtp_from="reports@loupe.test",
        public_url="https://loupe.example.com",
    )


async def test_a_subscribed_report_arrives_by_email_as_a_pdf(loupe, smtp_server):
    async with loupe.client() as client:
        report = await weather_report(client)
        created = await client.post(
            f"/reports/{report.report_id}/subscriptions",
            json={
                "cron": "0 9 * * 1",
                "timezone": "Europe/Berlin",
                "recipients": ["ana@example.com"],
                "format": "pdf",
                "subject": "Weekly weather",
            },
        )
        assert created.status_code == 201, created.text
        subscription = created.json()
        due = dt.datetime.fromisoformat(subscription["next_run_at"])
        local = due.astimezone(ZoneInfo("Europe/Berlin"))
        assert (local.weekday(), local.hour, local.minute) == (0, 9, 0)

        scheduler = build_scheduler(
            _with_mail(loupe.settings, smtp_server),
            loupe.services,
            clock=lambda: due + dt.timedelta(seconds=5),
        )
        reports = await scheduler.tick()
        assert [r.outcome for r in reports] == ["succeeded"]

        (received,) = smtp_server.inbox.messages
        assert received.rcpt_tos == ["ana@example.com"]
        message = received.message
        assert message["Subject"] == "Weekly weather"
        assert "reports@loupe.test" in message["From"]
        (attachment,) = list(message.iter_attachments())
        assert attachment.get_content_type() == "application/pdf"
        pdf = pypdf.PdfReader(io.BytesIO(attachment.get_content()))
        text = pdf.pages[0].extract_text()
        assert "Days by weather" in text
        assert f"Report v{report.version}" in text

        history = await client.get(
            f"/subscriptions/{subscription['id']}/deliveries",
            params={"min_position": reports[0].position},
        )
        assert history.status_code == 200, history.text
        (delivery,) = history.json()["deliveries"]
        assert delivery["outcome"] == "succeeded"
        assert delivery["recipients"] == ["ana@example.com"]
        assert delivery["report_version"] == report.version
        assert dt.datetime.fromisoformat(delivery["scheduled_for"]) == due
        after = (await client.get(f"/subscriptions/{subscription['id']}")).json()
        assert after["last_outcome"] == "succeeded"
        assert dt.datetime.fromisoformat(after["next_run_at"]) == due + dt.timedelta(days=7)


async def test_subscriptions_are_managed_through_the_api(loupe):
    async with loupe.client() as client:
        report = await weather_report(client)
        url = f"/reports/{report.report_id}/subscriptions"
        created = (
            await client.post(
                url,
                json={
                    "cron": "30 7 * * *",
                    "timezone": "America/New_York",
                    "recipients": ["ana@example.com"],
                    "format": "inline",
                    "pages": [report.page_id],
                },
            )
        ).json()
        assert created["subject"] == "Seattle weather review"
        assert created["pages"] == [report.page_id]
        listed = (await client.get(url)).json()["subscriptions"]
        assert [s["id"] for s in listed] == [created["id"]]

        changed = await client.patch(
            f"/subscriptions/{created['id']}", json={"cron": "0 18 * * 5", "format": "png"}
        )
        assert changed.status_code == 200, changed.text
        assert changed.json()["cron"] == "0 18 * * 5"
        assert changed.json()["format"] == "png"
        paused = await client.post(f"/subscriptions/{created['id']}/pause")
        assert paused.json()["paused"] is True
        assert paused.json()["next_run_at"] is None
        resumed = await client.post(f"/subscriptions/{created['id']}/resume")
        assert resumed.json()["paused"] is False
        assert resumed.json()["next_run_at"] is not None
        deleted = await client.delete(f"/subscriptions/{created['id']}")
        assert deleted.status_code == 204
        assert_problem(
            await client.get(f"/subscriptions/{created['id']}"), 404, code="subscription_not_found"
        )
        assert (await client.get(url)).json()["subscriptions"] == []


async def test_bad_subscriptions_are_refused_with_clear_problems(loupe):
    async with loupe.client() as client:
        report = await weather_report(client)
        url = f"/reports/{report.report_id}/subscriptions"
        good = {"cron": "0 9 * * *", "timezone": "Europe/Berlin", "recipients": ["ana@example.com"]}
        assert_problem(await client.post(url, json={**good, "cron": "every day"}), 422)
        assert_problem(await client.post(url, json={**good, "timezone": "Mars/Olympus"}), 422)
        stranger = await client.post(url, json={**good, "recipients": ["eve@example.com"]})
        body = assert_problem(stranger, 422)
        assert "eve@example.com" in body["detail"]
        assert_problem(await client.post(url, json={**good, "format": "docx"}), 422)
        assert_problem(await client.post(url, json={**good, "colour": "red"}), 400)
    async with loupe.client(user="eve@example.com") as outsider:
        assert_problem(await outsider.post(url, json=good), 404)
        assert_problem(await outsider.get(url), 404)
