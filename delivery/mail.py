"""The email of one scheduled run: a short text + HTML body with a link to the report, and the
rendered report as PDF/PNG attachments or as images inside the HTML.

Structure (what mail clients expect):

* attachments (pdf, png): ``multipart/mixed`` → [``multipart/alternative`` → [text, HTML],
  attachment, ...];
* inline: ``multipart/alternative`` → [text, ``multipart/related`` → [HTML, image, ...]], the
  HTML showing each image with ``<img src="cid:...">``.

The Message-ID is derived from (subscription, scheduled time): should a run ever reach someone
twice, their mail client sees one message. ``Auto-Submitted: auto-generated`` (RFC 3834) keeps
out-of-office replies away from the sending address.
"""

from __future__ import annotations

import hashlib
import html
import re
from collections.abc import Sequence
from datetime import UTC, datetime
from email.headerregistry import Address
from email.message import EmailMessage
from email.utils import format_datetime
from typing import Final
from uuid import UUID
from zoneinfo import ZoneInfo

import msgspec

#: Above this many bytes of attachments a run fails rather than being refused by most mail
#: servers (25 MB is a common limit, and base64 adds a third).
MAX_ATTACHMENT_BYTES: Final = 18 * 1024 * 1024
_UNSAFE_FILENAME: Final = re.compile(r"[^\w.() -]+")


class Attachment(msgspec.Struct, frozen=True, kw_only=True):
    """One rendered file: a PDF or a PNG (a page, or the whole report)."""

    filename: str
    #: ``application/pdf`` or ``image/png``.
    content_type: str
    data: bytes
    #: What it shows ("Overview"), for the HTML's alt text.
    title: str = ""


class MessageTooLarge(ValueError):
    """The rendered report is too big to email."""


def message_id_for(subscription_id: UUID, scheduled_for: datetime, domain: str) -> str:
    """The Message-ID of a run: the same for every attempt to send it."""
    stamp = scheduled_for.astimezone(UTC).strftime("%Y%m%dT%H%M%SZ")
    return f"<loupe.{subscription_id.hex}.{stamp}@{domain}>"


def build_message(
    *,
    sender: str,
    sender_name: str,
    recipients: Sequence[str],
    subject: str,
    report_name: str,
    scheduled_for: datetime,
    timezone: str,
    attachments: Sequence[Attachment],
    inline: bool,
    message_id: str,
    link: str | None = None,
    sent_at: datetime | None = None,
) -> EmailMessage:
    """The message (raises `MessageTooLarge` beyond `MAX_ATTACHMENT_BYTES`)."""
    size = sum(len(attachment.data) for attachment in attachments)
    if size > MAX_ATTACHMENT_BYTES:
        raise MessageTooLarge(
            f"the rendered report is {size / 1_048_576:.1f} MB, more than the "
            f"{MAX_ATTACHMENT_BYTES / 1_048_576:.0f} MB an email can carry; subscribe to "
            "fewer pages or use the PDF format"
        )
    when = _local_time(scheduled_for, timezone)
    message = EmailMessage()
    message["Subject"] = subject
    message["From"] = Address(display_name=sender_name, addr_spec=sender)
    message["To"] = ", ".join(recipients)
    message["Date"] = format_datetime((sent_at or scheduled_for).astimezone(UTC))
    message["Message-ID"] = message_id
    message["Auto-Submitted"] = "auto-generated"
    images = [a for a in attachments if inline and a.content_type == "image/png"]
    files = [a for a in attachments if not (inline and a.content_type == "image/png")]
    # Short (a folded Content-ID header trips some clients), unique per message.
    tag = hashlib.sha256(message_id.encode()).hexdigest()[:16]
    cids = [f"page{index}.{tag}@loupe" for index in range(len(images))]
    message.set_content(_text(report_name, when, link, images=len(images), files=len(files)))
    message.add_alternative(
        _html(report_name, when, link, list(zip(cids, images, strict=True)), files=len(files)),
        subtype="html",
    )
    if images:
        html_part = _html_part(message)
        for cid, image in zip(cids, images, strict=True):
            html_part.add_related(
                image.data,
                maintype="image",
                subtype="png",
                cid=f"<{cid}>",
                filename=_filename(image.filename),
                disposition="inline",
            )
    for attachment in files:
        maintype, _, subtype = attachment.content_type.partition("/")
        message.add_attachment(
            attachment.data,
            maintype=maintype,
            subtype=subtype or "octet-stream",
            filename=_filename(attachment.filename),
        )
    return message


def _html_part(message: EmailMessage) -> EmailMessage:
    """The HTML alternative of ``message`` (images are attached to it)."""
    for part in message.walk():
        if part.get_content_type() == "text/html" and isinstance(part, EmailMessage):
            return part
    raise AssertionError("the message has no HTML part")  # pragma: no cover


def _local_time(instant: datetime, timezone: str) -> str:
    local = instant.astimezone(ZoneInfo(timezone))
    return f"{local:%A %d %B %Y, %H:%M} ({timezone})"


def _text(report_name: str, when: str, link: str | None, *, images: int, files: int) -> str:
    lines = [f'Your subscription to the report "{report_name}", as of {when}.', ""]
    if files:
        lines.append("The report is attached." if files == 1 else "The pages are attached.")
    if images:
        lines.append("The pages are shown in the HTML version of this message.")
    if link:
        lines += ["", f"Open it in Loupe: {link}"]
    lines += [
        "",
        "You receive this because a member of the report's workspace subscribed you.",
    ]
    return "\n".join(lines) + "\n"


def _html(
    report_name: str,
    when: str,
    link: str | None,
    images: list[tuple[str, Attachment]],
    *,
    files: int,
) -> str:
    name, at = html.escape(report_name), html.escape(when)
    parts = [
        "<!DOCTYPE html>",
        '<html><body style="font-family: sans-serif; color: #222">',
        f"<p>Your subscription to the report <strong>{name}</strong>, as of {at}.</p>",
    ]
    if files:
        parts.append(
            "<p>The report is attached.</p>" if files == 1 else "<p>The pages are attached.</p>"
        )
    for cid, image in images:
        alt = html.escape(image.title or image.filename, quote=True)
        parts.append(
            f'<p><img src="cid:{html.escape(cid, quote=True)}" alt="{alt}" '
            'style="max-width: 100%"></p>'
        )
    if link:
        parts.append(f'<p><a href="{html.escape(link, quote=True)}">Open it in Loupe</a></p>')
    parts.append(
        '<p style="color: #777; font-size: small">You receive this because a member of the '
        "report's workspace subscribed you.</p>"
    )
    parts.append("</body></html>")
    return "\n".join(parts) + "\n"


def _filename(name: str) -> str:
    """A file name without path separators or characters mail clients mangle."""
    base = name.replace("\\", "/").rsplit("/", 1)[-1]
    cleaned = _UNSAFE_FILENAME.sub("_", base).strip(" .") or "report"
    return cleaned[:120]
