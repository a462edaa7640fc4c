"""The checks a subscription's settings must pass: recipients, pages, subject, format.

Email addresses are compared and stored in lower case (mail systems treat them so in
practice, and a member's address must match however it was typed). Subjects and addresses end
up in mail headers, so line breaks and other control characters are refused outright.
"""

from __future__ import annotations

import re
from collections.abc import Collection, Iterable, Sequence
from typing import Final
from uuid import UUID

from domain.errors import InvalidCommand
from domain.subscription.events import Format

MAX_RECIPIENTS: Final = 50
MAX_SUBJECT_LENGTH: Final = 200
#: RFC 5321's limit on a forward path.
MAX_ADDRESS_LENGTH: Final = 254
FORMATS: Final[tuple[Format, ...]] = ("pdf", "png", "inline")

_LABEL: Final = r"[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?"
#: A dot-atom local part and a host name: what people type, without quoted or bracketed forms.
_ADDRESS: Final = re.compile(
    rf"[a-z0-9!#$%&'*+/=?^_`{{|}}~-]+(?:\.[a-z0-9!#$%&'*+/=?^_`{{|}}~-]+)*@{_LABEL}(?:\.{_LABEL})*"
)


def normalise_address(address: str) -> str:
    """``address`` trimmed and lower-cased, checked to be a plain ``name@host`` address."""
    cleaned = address.strip().lower()
    if len(cleaned) > MAX_ADDRESS_LENGTH or not _ADDRESS.fullmatch(cleaned):
        raise InvalidCommand(
            f"{address!r} is not an email address like 'ana@example.com'",
            code="invalid_recipient",
        )
    return cleaned


def check_recipients(addresses: Iterable[str], members: Collection[str]) -> tuple[str, ...]:
    """The recipients normalised, duplicates dropped (first kept): 1 to 50 addresses, each an
    email address of a member of the report's workspace (``members``: lower-case addresses)."""
    seen: dict[str, None] = {}
    for address in addresses:
        seen.setdefault(normalise_address(address), None)
    if not seen:
        raise InvalidCommand("a subscription needs at least one recipient", code="no_recipients")
    if len(seen) > MAX_RECIPIENTS:
        raise InvalidCommand(
            f"a subscription has at most {MAX_RECIPIENTS} recipients, got {len(seen)}",
            code="too_many_recipients",
        )
    outsiders = [address for address in seen if address not in members]
    if outsiders:
        listed = ", ".join(outsiders)
        raise InvalidCommand(
            f"{listed} {'has' if len(outsiders) == 1 else 'have'} no access to this report: "
            "only members of its workspace (owners, editors, viewers) can receive it",
            code="recipient_without_access",
        )
    return tuple(seen)


def split_by_access(
    recipients: Iterable[str], members: Collection[str]
) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """(still members, no longer members): who a run may go to now."""
    allowed: list[str] = []
    withheld: list[str] = []
    for address in recipients:
        (allowed if address in members else withheld).append(address)
    return tuple(allowed), tuple(withheld)


def check_pages(pages: Iterable[UUID], report_pages: Sequence[UUID]) -> tuple[UUID, ...]:
    """The chosen pages in report order, each a page of the report; none chosen: every page."""
    chosen = set()
    for page in pages:
        if page in chosen:
            raise InvalidCommand(f"page {page} is listed twice", code="invalid_pages")
        chosen.add(page)
    unknown = chosen.difference(report_pages)
    if unknown:
        listed = ", ".join(sorted(str(page) for page in unknown))
        raise InvalidCommand(f"the report has no page {listed}", code="page_not_found")
    return tuple(page for page in report_pages if page in chosen)


def check_subject(subject: str) -> str:
    """A subject line: trimmed, 1 to 200 characters, no line breaks or control characters."""
    trimmed = subject.strip()
    if not trimmed:
        raise InvalidCommand("the subject must not be empty", code="invalid_subject")
    if len(trimmed) > MAX_SUBJECT_LENGTH:
        raise InvalidCommand(
            f"the subject is at most {MAX_SUBJECT_LENGTH} characters, got {len(trimmed)}",
            code="invalid_subject",
        )
    if any(char < " " or char == "\x7f" for char in trimmed):
        raise InvalidCommand(
            "the subject must not contain line breaks or control characters",
            code="invalid_subject",
        )
    return trimmed


def check_format(value: str) -> Format:
    for known in FORMATS:
        if value == known:
            return known
    raise InvalidCommand(
        f"the format is one of {', '.join(FORMATS)}; got {value!r}", code="invalid_format"
    )
