"""Signing webhook requests, and the check a receiver runs (copy ``verify_signature``).

Every webhook is an HTTP POST with a JSON body and these headers:

``X-Alliance-Signature``
    ``t=<unix seconds>,v1=<hex>[,v1=<hex>]``: ``v1`` is HMAC-SHA256, keyed with the
    endpoint's secret, over the bytes ``f"{t}.".encode() + body``. During a secret
    rotation's grace period there are two ``v1`` values, one per secret; a request is
    authentic if any of them matches a secret the receiver holds.
``X-Alliance-Delivery-Id``
    the delivery's stable id: a retry carries the same id, so receivers can dedupe.
``X-Alliance-Event-Type``
    the CloudEvents type of the event the notice is about.

Receivers must refuse a timestamp outside their tolerance window (default 5 minutes)
to stop replays, and must compare signatures in constant time.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Sequence
from datetime import datetime

SIGNATURE_HEADER = "X-Alliance-Signature"
DELIVERY_ID_HEADER = "X-Alliance-Delivery-Id"
EVENT_TYPE_HEADER = "X-Alliance-Event-Type"
DEFAULT_TOLERANCE_SECONDS = 300


class SignatureVerificationError(ValueError):
    """The request is not authentic or not fresh; answer it with 400 and do not process it."""


def compute_signature(secret: str, timestamp: int, body: bytes) -> str:
    signed = str(timestamp).encode() + b"." + body
    return hmac.new(secret.encode(), signed, hashlib.sha256).hexdigest()


def signature_header(secrets: Sequence[str], timestamp: int, body: bytes) -> str:
    if not secrets:
        raise ValueError("at least one secret is needed to sign")
    return ",".join([f"t={timestamp}", *(f"v1={compute_signature(s, timestamp, body)}" for s in secrets)])


def webhook_headers(
    *, delivery_id: str, event_type: str, secrets: Sequence[str], body: bytes, now: datetime
) -> dict[str, str]:
    """The headers of one webhook request, signed at ``now``."""
    return {
        "Content-Type": "application/json",
        SIGNATURE_HEADER: signature_header(secrets, int(now.timestamp()), body),
        DELIVERY_ID_HEADER: delivery_id,
        EVENT_TYPE_HEADER: event_type,
    }


def verify_signature(
    header: str, body: bytes, secret: str, *, now: int, tolerance_seconds: int = DEFAULT_TOLERANCE_SECONDS
) -> int:
    """Check an ``X-Alliance-Signature`` header against the raw request body.

    ``now`` is the receiver's clock in unix seconds (``int(time.time())``). Returns the
    signed timestamp; raises ``SignatureVerificationError`` when the header is malformed,
    the timestamp is outside the tolerance window or no signature matches.
    Uses only the standard library, so receivers can copy it as it is.
    """
    timestamp: int | None = None
    signatures: list[str] = []
    for part in header.split(","):
        key, _, value = part.strip().partition("=")
        if key == "t" and value.isdigit():
            timestamp = int(value)
        elif key == "v1" and value:
            signatures.append(value)
    if timestamp is None or not signatures:
        raise SignatureVerificationError("malformed signature header")
    if abs(now - timestamp) > tolerance_seconds:
        raise SignatureVerificationError("timestamp outside the tolerance window")
    expected = compute_signature(secret, timestamp, body)
    if not any(hmac.compare_digest(expected, candidate) for candidate in signatures):
        raise SignatureVerificationError("no signature matches")
    return timestamp
