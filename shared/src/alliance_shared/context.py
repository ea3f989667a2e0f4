"""Per-request / per-event context carried through the call stack with contextvars.

The HTTP middleware and the consumer runner set it; the outbox reads it so every
event it writes carries the correlation and causation ids and the trace parent of
the work that caused it, and structlog adds it to every log line.
"""

from __future__ import annotations

import contextlib
import secrets
import uuid
from collections.abc import Iterator
from contextvars import ContextVar
from dataclasses import dataclass, replace

import structlog


@dataclass(frozen=True)
class MessageContext:
    correlation_id: str
    causation_id: str | None = None
    traceparent: str | None = None
    request_id: str | None = None
    event_id: str | None = None
    actor_id: str | None = None
    actor_role: str | None = None


_current: ContextVar[MessageContext | None] = ContextVar("alliance_message_context", default=None)


def new_traceparent() -> str:
    return f"00-{secrets.token_hex(16)}-{secrets.token_hex(8)}-01"


def child_traceparent(parent: str | None) -> str:
    """Keep the trace id of the parent, give this hop a span id of its own."""
    if parent:
        parts = parent.split("-")
        if len(parts) == 4 and len(parts[1]) == 32:
            return f"00-{parts[1]}-{secrets.token_hex(8)}-{parts[3]}"
    return new_traceparent()


def current() -> MessageContext:
    ctx = _current.get()
    if ctx is None:
        ctx = MessageContext(correlation_id=str(uuid.uuid4()), traceparent=new_traceparent())
    return ctx


@contextlib.contextmanager
def bound(ctx: MessageContext) -> Iterator[MessageContext]:
    token = _current.set(ctx)
    log_fields = {k: v for k, v in ctx.__dict__.items() if v is not None and k != "traceparent"}
    with structlog.contextvars.bound_contextvars(**log_fields):
        try:
            yield ctx
        finally:
            _current.reset(token)


@contextlib.contextmanager
def acting_as(actor_id: str, role: str | None) -> Iterator[MessageContext]:
    with bound(replace(current(), actor_id=actor_id, actor_role=role)) as ctx:
        yield ctx


def set_actor(actor_id: str, role: str | None) -> None:
    """Record the authenticated caller for the rest of this request's task (audit, logs)."""
    _current.set(replace(current(), actor_id=actor_id, actor_role=role))
    structlog.contextvars.bind_contextvars(actor_id=actor_id)
