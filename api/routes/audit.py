"""The audit log: who did what, when, to which object — as JSON, CSV or NDJSON — and a report's
history grouped into bursts of edits."""

from __future__ import annotations

import csv
import io
import re
from datetime import datetime
from typing import Annotated, Any, Final
from urllib.parse import urlencode
from uuid import UUID

import msgspec
from litestar import Request, Response, get
from litestar.datastructures import State
from litestar.exceptions import ValidationException
from litestar.openapi.datastructures import ResponseSpec
from litestar.params import FromPath, Parameter, QueryParameter

from api.problems import problem
from api.routes.reports import MinPosition, wait_for_read_model
from api.schemas import AuditPage, ReportHistory
from commands.authorization import Actor
from commands.eventstore import MAX_POSITION
from domain.errors import NotFound
from projections.audit_queries import (
    AuditEntry,
    AuditFilter,
    Visibility,
    audit_entries,
    report_history,
    report_workspace,
)
from projections.workspaces import workspaces_of

JSON: Final = "application/json"
CSV: Final = "text/csv"
NDJSON: Final = "application/x-ndjson"
#: Offered in this order: JSON wins a tie (``*/*``).
MEDIA_TYPES: Final = [JSON, CSV, NDJSON]
MAX_PAGE: Final = 1000
DEFAULT_PAGE: Final = {JSON: 100, CSV: 1000, NDJSON: 1000}
MAX_HISTORY_PAGE: Final = 100
#: The header that carries the next page's ``after`` (also for CSV and NDJSON).
NEXT_AFTER_HEADER: Final = "Loupe-Next-After"
CSV_COLUMNS: Final = (
    "position",
    "at",
    "actor",
    "actor_name",
    "workspace_id",
    "object_type",
    "object_id",
    "event",
    "summary",
    "change",
)

_encoder = msgspec.json.Encoder()

AUDIT_DESCRIPTION = (
    "Entries oldest first. `Accept: text/csv` gives CSV (a header row; `change` as a JSON "
    "string; RFC 4180 quoting), `Accept: application/x-ndjson` one JSON entry per line; both "
    "default to 1,000 entries. The next page's `after` is in `next_after` (JSON) and in the "
    f"`{NEXT_AFTER_HEADER}` header and a `Link: rel=next` (every format)."
)


@get(
    "/audit",
    summary="The audit log: who changed what, when",
    description=AUDIT_DESCRIPTION,
    tags=["audit"],
    responses={200: ResponseSpec(AuditPage, description="A page of audit entries")},
)
async def get_audit(  # noqa: PLR0917 - route parameters
    request: Request[Actor, Any, State],
    state: State,
    workspace: Annotated[
        UUID | None, Parameter(description="Only this workspace's entries.")
    ] = None,
    actor: Annotated[UUID | None, Parameter(description="Only this user's actions.")] = None,
    object_id: Annotated[
        UUID | None,
        QueryParameter(
            name="object",
            description="Only entries about this object (a report, page, visual or member id); "
            "a report's id also gives every entry of that report.",
        ),
    ] = None,
    types: Annotated[
        list[str] | None,
        QueryParameter(
            name="type",
            description="Only these event types (repeat the parameter or separate by commas).",
        ),
    ] = None,
    since: Annotated[
        datetime | None, Parameter(description="Entries at or after (ISO 8601, with a zone).")
    ] = None,
    until: Annotated[
        datetime | None, Parameter(description="Entries before (ISO 8601, with a zone).")
    ] = None,
    after: Annotated[
        int,
        Parameter(
            ge=0, le=MAX_POSITION, description="Only entries after this position (the last seen)."
        ),
    ] = 0,
    limit: Annotated[
        int | None,
        Parameter(ge=1, le=MAX_PAGE, description="1..1000; 100 for JSON, 1000 for CSV/NDJSON."),
    ] = None,
    min_position: MinPosition = None,
) -> Response[Any]:
    media_type = request.accept.best_match(MEDIA_TYPES)
    if media_type is None:
        return problem(
            406,
            f"the audit log is served as {', '.join(MEDIA_TYPES)}; "
            f"Accept: {request.headers.get('accept')} allows none of them",
            code="not-acceptable",
        )
    _check_zone("since", since)
    _check_zone("until", until)
    if since is not None and until is not None and since > until:
        raise ValidationException("since must not be after until")
    services = state.services
    user = request.user
    await wait_for_read_model(services, "audit", min_position)
    # Who may see what comes from the workspace catalogue: it includes the write too.
    await wait_for_read_model(services, "workspaces", min_position)
    visible = {row.id for row in await workspaces_of(services.pool, services.read_schema, user.id)}
    if workspace is not None and workspace not in visible:
        await services.authorizer.require_view(workspace, user.id)  # 404 for a non-member
        visible.add(workspace)  # a member the catalogue has not caught up with yet
    filters = AuditFilter(
        workspace=workspace,
        actor=actor,
        object=object_id,
        types=_types(types),
        since=since,
        until=until,
    )
    entries, next_after = await audit_entries(
        services.pool,
        services.read_schema,
        filters,
        visible=Visibility(workspaces=visible, user_id=user.id),
        after=after,
        limit=limit or DEFAULT_PAGE[media_type],
    )
    headers = {"Vary": "Accept"}
    if next_after is not None:
        headers[NEXT_AFTER_HEADER] = str(next_after)
        headers["Link"] = f'<{_next_link(request, next_after)}>; rel="next"'
    if media_type == CSV:
        return Response(
            to_csv(entries), media_type="text/csv; charset=utf-8; header=present", headers=headers
        )
    if media_type == NDJSON:
        return Response(to_ndjson(entries), media_type=NDJSON, headers=headers)
    body = _encoder.encode(AuditPage(entries=entries, next_after=next_after))
    return Response(body, media_type=JSON, headers=headers)


def _check_zone(name: str, value: datetime | None) -> None:
    if value is not None and value.tzinfo is None:
        raise ValidationException(
            f"{name}={value.isoformat()} has no time zone; add one (e.g. Z or +02:00)"
        )


#: What an event type looks like ("VisualMoved"); anything else cannot match one.
_EVENT_TYPE = re.compile(r"[A-Za-z][A-Za-z0-9_]{0,99}")


def _types(values: list[str] | None) -> tuple[str, ...]:
    found: dict[str, None] = {}
    for value in values or ():
        for part in value.split(","):
            name = part.strip()
            if not name:
                continue
            if not _EVENT_TYPE.fullmatch(name):
                raise ValidationException(
                    f"type={name[:40]!r} is not an event type (letters, digits and _, such as "
                    "VisualMoved)"
                )
            found[name] = None
    return tuple(found)


def _next_link(request: Request[Any, Any, Any], next_after: int) -> str:
    query = [(key, value) for key, value in request.query_params.multi_items() if key != "after"]
    query.append(("after", str(next_after)))
    return f"{request.url.path}?{urlencode(query)}"


def _text(value: object) -> str:
    if value is None:
        return ""
    if isinstance(value, datetime):
        return _encoder.encode(value).decode()[1:-1]  # exactly as in the JSON
    return str(value)


#: A cell that starts with one of these is a formula to Excel, LibreOffice and Google Sheets.
_FORMULA_START: Final = ("=", "+", "-", "@", "\t", "\r")


def _cell(text: str) -> str:
    """People's words (names, summaries) as a spreadsheet shows them, never as a formula (OWASP
    "CSV injection"; Superset escapes its CSV exports the same way): a leading ``'``."""
    return "'" + text if text.startswith(_FORMULA_START) else text


def to_csv(entries: list[AuditEntry]) -> bytes:
    """RFC 4180: CRLF line ends, fields quoted where needed; ``change`` as a JSON string.
    Names and summaries that would start a formula get a leading ``'``."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(CSV_COLUMNS)
    writer.writerows(
        (
            entry.position,
            _text(entry.at),
            _text(entry.actor),
            _cell(_text(entry.actor_name)),
            _text(entry.workspace_id),
            entry.object_type,
            entry.object_id,
            entry.event,
            _cell(entry.summary),
            _encoder.encode(entry.change).decode(),
        )
        for entry in entries
    )
    return out.getvalue().encode()


def to_ndjson(entries: list[AuditEntry]) -> bytes:
    return b"".join(_encoder.encode(entry) + b"\n" for entry in entries)


@get(
    "/reports/{report_id:uuid}/history",
    summary="The report's edits, grouped into bursts by person",
    tags=["history"],
)
async def get_report_history(  # noqa: PLR0917 - route parameters
    report_id: FromPath[UUID],
    request: Request[Actor, Any, State],
    state: State,
    min_position: MinPosition = None,
    before: Annotated[
        int | None,
        Parameter(
            ge=1, le=MAX_POSITION, description="Only edits before this position (`next_before`)."
        ),
    ] = None,
    limit: Annotated[
        int, Parameter(ge=1, le=MAX_HISTORY_PAGE, description="Bursts per page.")
    ] = 20,
) -> ReportHistory:
    """Consecutive events by the same person less than 5 minutes apart form one burst;
    newest burst first, each with its first summaries and its first and last position."""
    services = state.services
    await wait_for_read_model(services, "audit", min_position)
    workspace_id = await report_workspace(services.pool, services.read_schema, report_id)
    if workspace_id is None:
        raise NotFound(f"report {report_id} does not exist", code="report_not_found")
    await services.authorizer.require_view(workspace_id, request.user.id)
    bursts, next_before = await report_history(
        services.pool, services.read_schema, report_id, before=before, limit=limit
    )
    return ReportHistory(report_id=report_id, bursts=bursts, next_before=next_before)
