"""The email of a run, sent to a real SMTP server (aiosmtpd in this process) and read back
with the email package."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from email.message import EmailMessage

import pytest

from delivery.mail import (
    MAX_ATTACHMENT_BYTES,
    Attachment,
    MessageTooLarge,
    build_message,
    message_id_for,
)
from delivery.smtp import SendFailed, SmtpMailer, SmtpSettings
from tests.subscriptions.conftest import PASSWORD, USER, SmtpServer, free_port

SCHEDULED = datetime(2026, 3, 30, 7, 0, tzinfo=UTC)
PDF = b"%PDF-1.7\n" + bytes(range(256)) * 8 + b"\n%%EOF\n"
PNG = b"\x89PNG\r\n\x1a\n" + bytes(range(256)) * 4
SUBSCRIPTION = uuid.UUID(int=7)


def settings_for(server: SmtpServer, **changes: object) -> SmtpSettings:
    values: dict[str, object] = {
        "host": server.host,
        "port": server.port,
        "security": "none",
        "from_address": "reports@loupe.example",
        "timeout": 5.0,
    }
    values.update(changes)
    return SmtpSettings(**values)  # type: ignore[arg-type]


def message(
    attachments: list[Attachment],
    *,
    inline: bool = False,
    recipients: tuple[str, ...] = ("ana@example.com", "ben@example.com"),
) -> EmailMessage:
    return build_message(
        sender="reports@loupe.example",
        sender_name="Loupe",
        recipients=recipients,
        subject="Revenue — weekly",
        report_name="Revenue <Q1>",
        scheduled_for=SCHEDULED,
        timezone="Europe/Berlin",
        attachments=attachments,
        inline=inline,
        message_id=message_id_for(SUBSCRIPTION, SCHEDULED, "loupe.example"),
        link="https://loupe.example/reports/42",
    )


async def test_a_pdf_attachment_arrives_with_its_recipients_subject_and_bytes(
    smtp_server: SmtpServer,
) -> None:
    mailer = SmtpMailer(settings_for(smtp_server))
    recipients = ("ana@example.com", "ben@example.com")
    sent = await mailer.send(
        message([Attachment(filename="Revenue.pdf", content_type="application/pdf", data=PDF)]),
        recipients,
    )
    assert sent.accepted == recipients
    assert sent.refused == {}
    [received] = smtp_server.inbox.messages
    assert received.mail_from == "reports@loupe.example"
    assert received.rcpt_tos == list(recipients)
    parsed = received.message
    assert parsed["Subject"] == "Revenue — weekly"
    assert parsed["To"] == "ana@example.com, ben@example.com"
    assert parsed["From"] == "Loupe <reports@loupe.example>"
    # (A long header may arrive folded: compare the value without the folding whitespace.)
    assert parsed["Message-ID"].strip() == message_id_for(SUBSCRIPTION, SCHEDULED, "loupe.example")
    assert message_id_for(SUBSCRIPTION, SCHEDULED, "loupe.example") == (
        f"<loupe.{SUBSCRIPTION.hex}.20260330T070000Z@loupe.example>"
    )
    assert parsed["Auto-Submitted"] == "auto-generated"
    [attachment] = list(parsed.iter_attachments())
    assert attachment.get_content_type() == "application/pdf"
    assert attachment.get_filename() == "Revenue.pdf"
    assert attachment.get_content() == PDF
    text = parsed.get_body(preferencelist=("plain",))
    html = parsed.get_body(preferencelist=("html",))
    assert text is not None
    assert html is not None
    assert "https://loupe.example/reports/42" in text.get_content()
    assert "Monday 30 March 2026, 09:00 (Europe/Berlin)" in text.get_content()
    # The report's name is escaped in the HTML.
    assert "<strong>Revenue &lt;Q1&gt;</strong>" in html.get_content()
    assert 'href="https://loupe.example/reports/42"' in html.get_content()


async def test_png_pages_arrive_as_image_attachments(smtp_server: SmtpServer) -> None:
    pages = [
        Attachment(filename=f"page-{n}.png", content_type="image/png", data=PNG + bytes([n]))
        for n in (1, 2)
    ]
    await SmtpMailer(settings_for(smtp_server)).send(message(pages), ["ana@example.com"])
    parsed = smtp_server.inbox.messages[0].message
    attachments = list(parsed.iter_attachments())
    assert [a.get_content_type() for a in attachments] == ["image/png", "image/png"]
    assert [a.get_filename() for a in attachments] == ["page-1.png", "page-2.png"]
    assert [a.get_content() for a in attachments] == [page.data for page in pages]


async def test_inline_images_are_referenced_by_content_id_from_the_html(
    smtp_server: SmtpServer,
) -> None:
    pages = [
        Attachment(
            filename=f"page-{n}.png",
            content_type="image/png",
            data=PNG + bytes([n]),
            title=title,
        )
        for n, title in ((1, "Overview"), (2, "Regions"))
    ]
    await SmtpMailer(settings_for(smtp_server)).send(
        message(pages, inline=True), ["ana@example.com"]
    )
    parsed = smtp_server.inbox.messages[0].message
    assert list(parsed.iter_attachments()) == []  # nothing to download: the pages show
    html = parsed.get_body(preferencelist=("related", "html"))
    assert html is not None
    assert html.get_content_type() == "multipart/related"
    body = html.get_body(preferencelist=("html",))
    assert body is not None
    markup = body.get_content()
    images = [part for part in html.iter_parts() if part.get_content_type() == "image/png"]
    assert len(images) == 2
    for image, page in zip(images, pages, strict=True):
        cid = image["Content-ID"].strip().strip("<>")
        assert f'src="cid:{cid}"' in markup
        assert image.get_content() == page.data
    assert 'alt="Overview"' in markup
    assert 'alt="Regions"' in markup


def test_a_message_too_large_to_email_is_refused() -> None:
    huge = Attachment(
        filename="huge.pdf", content_type="application/pdf", data=b"0" * (MAX_ATTACHMENT_BYTES + 1)
    )
    with pytest.raises(MessageTooLarge, match="more than the 18 MB"):
        message([huge])


def test_attachment_file_names_lose_their_paths() -> None:
    built = message(
        [Attachment(filename="../../etc/passwd\r\n.pdf", content_type="application/pdf", data=PDF)]
    )
    [attachment] = list(built.iter_attachments())
    assert attachment.get_filename() == "passwd_.pdf"


async def test_recipients_the_server_refuses_are_reported_while_the_others_get_it(
    smtp_server: SmtpServer,
) -> None:
    smtp_server.inbox.refuse_recipients["ben@example.com"] = "550 5.1.1 No such user"
    sent = await SmtpMailer(settings_for(smtp_server)).send(
        message([]), ["ana@example.com", "ben@example.com"]
    )
    assert sent.accepted == ("ana@example.com",)
    assert sent.refused == {"ben@example.com": "550 5.1.1 No such user"}
    assert smtp_server.inbox.messages[0].rcpt_tos == ["ana@example.com"]


async def test_a_server_refusing_the_message_is_a_permanent_failure(
    smtp_server: SmtpServer,
) -> None:
    smtp_server.inbox.refuse_data = "554 5.7.1 Message rejected"
    with pytest.raises(SendFailed) as failed:
        await SmtpMailer(settings_for(smtp_server)).send(message([]), ["ana@example.com"])
    assert not failed.value.transient
    assert "554 5.7.1 Message rejected" in failed.value.detail


async def test_a_busy_server_is_a_transient_failure(smtp_server: SmtpServer) -> None:
    smtp_server.inbox.busy = 1
    with pytest.raises(SendFailed) as failed:
        await SmtpMailer(settings_for(smtp_server)).send(message([]), ["ana@example.com"])
    assert failed.value.transient
    assert "451" in failed.value.detail


async def test_an_unreachable_server_is_a_transient_failure() -> None:
    settings = SmtpSettings(host="127.0.0.1", port=free_port(), security="none", timeout=2.0)
    with pytest.raises(SendFailed) as failed:
        await SmtpMailer(settings).send(message([]), ["ana@example.com"])
    assert failed.value.transient
    assert "could not reach the mail server" in failed.value.detail


@pytest.mark.filterwarnings("ignore:Requiring AUTH while not requiring TLS")
async def test_the_settings_login_is_used(smtp_server_with_login: SmtpServer) -> None:
    good = settings_for(smtp_server_with_login, username=USER, password=PASSWORD)
    await SmtpMailer(good).send(message([]), ["ana@example.com"])
    assert len(smtp_server_with_login.inbox.messages) == 1
    wrong = settings_for(smtp_server_with_login, username=USER, password=PASSWORD + "!")
    with pytest.raises(SendFailed) as failed:
        await SmtpMailer(wrong).send(message([]), ["ana@example.com"])
    assert not failed.value.transient
    assert "refused the login" in failed.value.detail
