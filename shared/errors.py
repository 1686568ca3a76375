"""Errors every layer understands. A PermanentError is never retried."""

from __future__ import annotations


class PermanentError(Exception):
    """Retrying cannot help (bad data, a refused transition): record it for administrators."""


class InvalidField(PermanentError):
    """Input that breaks a rule the request model could not check (answered as 422 naming the field)."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(f"{field}: {message}")
        self.field = field
        self.message = message


class NotFound(PermanentError):
    pass


class IllegalTransition(PermanentError):
    def __init__(self, current: str, target: str) -> None:
        super().__init__(f"an idea cannot move from {current} to {target}")
        self.current = current
        self.target = target


class StaleStatus(Exception):
    """The idea's status changed between reading it and changing it; the caller retries."""


class Conflict(PermanentError):
    """A request that contradicts the current state (answering an offer twice, say)."""
