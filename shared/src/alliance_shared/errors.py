"""Domain and application errors with machine-readable codes.

Domain code raises these; the HTTP layer turns them into RFC 9457 problem+json and
the consumer runner turns them into dead-letter records. ``code`` is stable and
documented; ``detail`` is for people.
"""

from __future__ import annotations

from typing import Any


class DomainError(Exception):
    """A request that breaks a rule. Maps to HTTP 422 unless a subclass says otherwise."""

    status: int = 422
    title: str = "Rule violated"

    def __init__(self, code: str, detail: str, **extensions: Any) -> None:
        super().__init__(detail)
        self.code = code
        self.detail = detail
        self.extensions = extensions


class InvalidTransition(DomainError):
    """A lifecycle transition that the state machine does not allow from the current state."""

    status = 409
    title = "Illegal state transition"

    def __init__(self, entity: str, current: str, action: str) -> None:
        super().__init__(
            code=f"{entity}.illegal_transition",
            detail=f"cannot {action} a {entity} that is {current}",
            current_state=current,
            action=action,
        )


class InvalidInput(DomainError):
    """A request that cannot be read at all (a malformed cursor, an unknown format)."""

    status = 400
    title = "Bad request"


class NotFound(DomainError):
    status = 404
    title = "Not found"


class Conflict(DomainError):
    status = 409
    title = "Conflict"


class Forbidden(DomainError):
    status = 403
    title = "Forbidden"


class PreconditionFailed(DomainError):
    status = 412
    title = "Precondition failed"
