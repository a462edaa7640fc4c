"""Errors the domain raises when a decision is refused.

Each error has a stable machine ``code`` (part of the API contract: clients branch on it) and a
human ``detail`` that names the thing concerned ("visual 7f… is not on this report"). The API
maps the classes to HTTP statuses in one place; the domain knows nothing of HTTP. The intended
mapping: InvalidCommand 422, NotFound 404, TargetDeleted 409, AlreadyExists 409, NotAllowed 403.
"""

from __future__ import annotations

from typing import ClassVar


class DomainError(Exception):
    """A decision was refused. ``code`` is stable; ``detail`` is for people."""

    default_code: ClassVar[str] = "domain_error"

    def __init__(self, detail: str, *, code: str | None = None) -> None:
        super().__init__(detail)
        self.detail = detail
        self.code: str = code or self.default_code

    def __repr__(self) -> str:
        return f"{type(self).__name__}(code={self.code!r}, detail={self.detail!r})"


class InvalidCommand(DomainError):
    """Bad input, or a command that would break an invariant."""

    default_code = "invalid_command"


class NotFound(DomainError):
    """The target does not exist (or does not exist yet)."""

    default_code = "not_found"


class TargetDeleted(DomainError):
    """The target was deleted; deletes win, so the edit cannot be merged."""

    default_code = "target_deleted"


class AlreadyExists(DomainError):
    """Something with this id exists, or existed (ids are never reused)."""

    default_code = "already_exists"


class NotAllowed(DomainError):
    """The actor's role does not permit this."""

    default_code = "not_allowed"
