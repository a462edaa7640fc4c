"""Errors of the command path that are not domain rules."""

from __future__ import annotations

from domain.errors import DomainError


class CommandRejected(Exception):
    """Command `index` of a batch broke a rule; the whole batch was rejected, nothing appended."""

    def __init__(self, index: int, command_type: str, error: DomainError) -> None:
        super().__init__(f"command {index} ({command_type}): {error.detail}")
        self.index = index
        self.command_type = command_type
        self.error = error


class ConcurrencyExhausted(Exception):
    """Too many concurrent writers on one stream: retried and still losing the race."""


class ReadModelBehind(Exception):
    """A read asked for a position its read model has not reached in time (retry later)."""
