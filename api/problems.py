"""The one place where errors become HTTP answers: RFC 9457 ``application/problem+json``.

Every error the API returns has ``type``, ``title``, ``status`` and a ``detail`` a person can
act on; domain errors add their stable ``code`` (and, for a command batch, the index of the
command that failed). Nothing a client sends can produce a 500: an unexpected exception is a bug,
logged with its traceback, and answered with a problem that carries a reference to the log line.
"""

from __future__ import annotations

import logging
import uuid
from http import HTTPStatus
from typing import Any

import msgspec
from litestar import Request, Response
from litestar.exceptions import HTTPException, ValidationException
from litestar.types import ExceptionHandlersMap

from charts.render import RenderError, RenderFailed
from commands.errors import CommandRejected, ConcurrencyExhausted, ReadModelBehind
from connectors.errors import DataError
from domain.errors import (
    AlreadyExists,
    DomainError,
    InvalidCommand,
    NotAllowed,
    NotFound,
    TargetDeleted,
)

log = logging.getLogger(__name__)

PROBLEM_JSON = "application/problem+json"
#: Problem types are URNs: stable identifiers to branch on, documented in docs/api.md.
PROBLEM_TYPE_BASE = "urn:loupe:problem:"

_DOMAIN_STATUS: list[tuple[type[DomainError], int]] = [
    (NotFound, 404),
    (NotAllowed, 403),
    (TargetDeleted, 409),
    (AlreadyExists, 409),
    (InvalidCommand, 422),
]


def problem(
    status: int,
    detail: str,
    *,
    code: str | None = None,
    title: str | None = None,
    headers: dict[str, str] | None = None,
    **extra: Any,
) -> Response[dict[str, Any]]:
    body = problem_body(status, detail, code=code, title=title, **extra)
    return Response(body, status_code=status, media_type=PROBLEM_JSON, headers=headers)


def problem_body(
    status: int, detail: str, *, code: str | None = None, title: str | None = None, **extra: Any
) -> dict[str, Any]:
    phrase = HTTPStatus(status).phrase
    body: dict[str, Any] = {
        "type": PROBLEM_TYPE_BASE + (code or phrase.lower().replace(" ", "-")),
        "title": title or phrase,
        "status": status,
        "detail": detail,
    }
    if code is not None:
        body["code"] = code
    body.update({key: value for key, value in extra.items() if value is not None})
    return body


def describe(exc: Exception) -> dict[str, Any] | None:  # noqa: PLR0911 - one arm per kind
    """The problem body for an error a client caused (None: not the client's fault)."""
    if isinstance(exc, CommandRejected):
        return problem_body(
            domain_status(exc.error),
            exc.error.detail,
            code=exc.error.code,
            command_index=exc.index,
            command_type=exc.command_type,
        )
    if isinstance(exc, DomainError):
        return problem_body(domain_status(exc), exc.detail, code=exc.code)
    if isinstance(exc, DataError):
        return problem_body(exc.status, exc.detail, code=exc.code, line=exc.line, column=exc.column)
    if isinstance(exc, RenderFailed):
        return problem_body(503, exc.detail, code=exc.code)
    if isinstance(exc, RenderError):
        return problem_body(422, exc.detail, code=exc.code)
    if isinstance(exc, ConcurrencyExhausted):
        return problem_body(503, str(exc), code="busy")
    if isinstance(exc, ReadModelBehind):
        return problem_body(503, str(exc), code="read-model-behind")
    if isinstance(exc, msgspec.ValidationError):
        return problem_body(400, str(exc), code="invalid-request")
    if isinstance(exc, msgspec.DecodeError):
        return problem_body(400, f"not valid JSON: {exc}", code="invalid-json")
    return None


def domain_status(exc: DomainError) -> int:
    for kind, status in _DOMAIN_STATUS:
        if isinstance(exc, kind):
            return status
    return 422


def _client_error(_: Request[Any, Any, Any], exc: Exception) -> Response[dict[str, Any]]:
    body = describe(exc)
    assert body is not None
    return Response(body, status_code=body["status"], media_type=PROBLEM_JSON)


def _exhausted(_: Request[Any, Any, Any], exc: Exception) -> Response[dict[str, Any]]:
    body = describe(exc)
    assert body is not None
    return Response(body, status_code=503, media_type=PROBLEM_JSON, headers={"Retry-After": "1"})


def _public_names(request: Request[Any, Any, Any]) -> dict[str, str]:
    """Handler argument → the name the client sent it under, where they differ (``from`` for
    ``from_version``): validation errors name the argument, the client knows the other."""
    try:
        parameters = request.route_handler.parsed_fn_signature.parameters
    except AttributeError:  # not a route's error (no handler resolved)
        return {}
    names = {}
    for argument, field in parameters.items():
        public = getattr(field.kwarg_definition, "name", None)
        if isinstance(public, str) and public != argument:
            names[argument] = public
    return names


def _validation(
    request: Request[Any, Any, Any], exc: ValidationException
) -> Response[dict[str, Any]]:
    errors = exc.extra if isinstance(exc.extra, list) else []
    public = _public_names(request) if errors else {}
    parts = []
    for error in errors:
        if isinstance(error, dict):
            if error.get("key") in public:
                error["key"] = public[error["key"]]
            key = error.get("key")
            where = f" at `{key}`" if key and key != "data" else ""
            parts.append(f"{error.get('message', 'invalid value')}{where}")
    detail = "; ".join(parts) or str(exc.detail)
    return problem(400, detail, code="invalid-request", errors=errors or None)


def _http(_: Request[Any, Any, Any], exc: HTTPException) -> Response[dict[str, Any]]:
    status = exc.status_code
    detail = str(exc.detail) if exc.detail else HTTPStatus(status).phrase
    return problem(status, detail, headers=exc.headers)


def _unexpected(request: Request[Any, Any, Any], exc: Exception) -> Response[dict[str, Any]]:
    reference = uuid.uuid4().hex[:12]
    log.error(
        "unhandled error %s on %s %s", reference, request.method, request.url.path, exc_info=exc
    )
    return problem(
        500,
        f"Loupe hit an unexpected error (reference {reference}). A command batch is atomic and "
        "idempotent: sending it again with the same command_id is safe. The server log has "
        "the details.",
        code="internal",
        reference=reference,
    )


EXCEPTION_HANDLERS: ExceptionHandlersMap = {
    CommandRejected: _client_error,
    ConcurrencyExhausted: _exhausted,
    ReadModelBehind: _exhausted,
    DomainError: _client_error,
    DataError: _client_error,
    RenderError: _client_error,
    ValidationException: _validation,
    HTTPException: _http,
    Exception: _unexpected,
}
