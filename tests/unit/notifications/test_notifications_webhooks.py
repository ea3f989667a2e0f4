from __future__ import annotations

import hashlib
import hmac
import json
from datetime import timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from alliance_notifications.domain.endpoints import EndpointStatus, WebhookEndpoint, check_webhook_url
from alliance_notifications.domain.webhook_signing import (
    DELIVERY_ID_HEADER,
    EVENT_TYPE_HEADER,
    SIGNATURE_HEADER,
    SignatureVerificationError,
    signature_header,
    verify_signature,
    webhook_headers,
)
from alliance_shared.errors import DomainError, InvalidTransition
from tests.unit.notifications.notifications_support import NOW, SECRET

BODY = json.dumps({"type": "org.coopalliance.funding.tranche.paid.v1", "data": {"paid_minor": 100}}).encode()
TS = int(NOW.timestamp())
NEW_SECRET = "whsec_" + "n" * 40


def status_of(subject: WebhookEndpoint) -> EndpointStatus:
    """Read afresh: mypy keeps an attribute narrowed by an earlier assert across method calls."""
    return subject.status


def test_signature_follows_the_documented_recipe() -> None:
    header = signature_header([SECRET], TS, BODY)

    expected = hmac.new(SECRET.encode(), f"{TS}.".encode() + BODY, hashlib.sha256).hexdigest()
    assert header == f"t={TS},v1={expected}"


@given(st.binary(max_size=2000), st.integers(min_value=0, max_value=2**40))
def test_signed_requests_verify(body: bytes, timestamp: int) -> None:
    header = signature_header([SECRET], timestamp, body)

    assert verify_signature(header, body, SECRET, now=timestamp) == timestamp


def test_headers_carry_signature_delivery_id_and_event_type() -> None:
    headers = webhook_headers(
        delivery_id="d-1", event_type="org.coopalliance.funding.tranche.paid.v1", secrets=[SECRET], body=BODY, now=NOW
    )

    assert headers[DELIVERY_ID_HEADER] == "d-1"
    assert headers[EVENT_TYPE_HEADER] == "org.coopalliance.funding.tranche.paid.v1"
    assert verify_signature(headers[SIGNATURE_HEADER], BODY, SECRET, now=TS + 10) == TS


def test_a_tampered_body_or_wrong_secret_is_detected() -> None:
    header = signature_header([SECRET], TS, BODY)

    with pytest.raises(SignatureVerificationError, match="no signature matches"):
        verify_signature(header, BODY.replace(b"100", b"900"), SECRET, now=TS)
    with pytest.raises(SignatureVerificationError, match="no signature matches"):
        verify_signature(header, BODY, NEW_SECRET, now=TS)
    forged_time = header.replace(f"t={TS}", f"t={TS + 1}")
    with pytest.raises(SignatureVerificationError, match="no signature matches"):
        verify_signature(forged_time, BODY, SECRET, now=TS)


def test_a_stale_or_future_timestamp_is_refused() -> None:
    header = signature_header([SECRET], TS, BODY)

    assert verify_signature(header, BODY, SECRET, now=TS + 300) == TS
    with pytest.raises(SignatureVerificationError, match="tolerance"):
        verify_signature(header, BODY, SECRET, now=TS + 301)
    with pytest.raises(SignatureVerificationError, match="tolerance"):
        verify_signature(header, BODY, SECRET, now=TS - 301)


@pytest.mark.parametrize("header", ["", "v1=abc", f"t={TS}", "t=yesterday,v1=abc", "garbage"])
def test_a_malformed_header_is_refused(header: str) -> None:
    with pytest.raises(SignatureVerificationError, match="malformed"):
        verify_signature(header, BODY, SECRET, now=TS)


def registered() -> WebhookEndpoint:
    return WebhookEndpoint.register(
        endpoint_id="wh-1", partner_id="col-001", url="https://hooks.example.cn/alliance", secret=SECRET,
        now=NOW, actor_id="it-admin",
    )  # fmt: skip


def test_verification_handshake() -> None:
    endpoint = registered()
    assert status_of(endpoint) is EndpointStatus.PENDING_VERIFICATION
    assert not endpoint.receives_notices

    with pytest.raises(DomainError) as no_challenge:
        endpoint.confirm_challenge("anything", NOW)
    assert no_challenge.value.code == "webhook.no_challenge"

    token = endpoint.issue_challenge("c" * 32, NOW)
    with pytest.raises(DomainError) as mismatch:
        endpoint.confirm_challenge("d" * 32, NOW)
    assert mismatch.value.code == "webhook.challenge_mismatch"

    endpoint.confirm_challenge(token, NOW + timedelta(minutes=1))
    assert status_of(endpoint) is EndpointStatus.VERIFIED
    assert endpoint.receives_notices
    assert endpoint.challenge is None
    with pytest.raises(InvalidTransition):
        endpoint.confirm_challenge(token, NOW)


def test_an_expired_challenge_must_be_reissued() -> None:
    endpoint = registered()
    token = endpoint.issue_challenge("c" * 32, NOW)

    with pytest.raises(DomainError) as expired:
        endpoint.confirm_challenge(token, NOW + timedelta(minutes=16))
    assert expired.value.code == "webhook.challenge_expired"

    fresh = endpoint.issue_challenge("e" * 32, NOW + timedelta(minutes=16))
    endpoint.confirm_challenge(fresh, NOW + timedelta(minutes=17))
    assert status_of(endpoint) is EndpointStatus.VERIFIED


def test_a_disabled_endpoint_receives_nothing_and_stays_disabled() -> None:
    endpoint = registered()
    endpoint.disable("partner asked", NOW)

    assert not endpoint.receives_notices
    with pytest.raises(InvalidTransition):
        endpoint.issue_challenge("c" * 32, NOW)
    with pytest.raises(InvalidTransition):
        endpoint.disable("again", NOW)


def test_secret_rotation_signs_with_both_secrets_during_the_grace_period() -> None:
    endpoint = registered()
    endpoint.rotate_secret(NEW_SECRET, NOW, grace=timedelta(hours=24))

    during = endpoint.signing_secrets(NOW + timedelta(hours=1))
    after = endpoint.signing_secrets(NOW + timedelta(hours=24))

    assert during == (NEW_SECRET, SECRET)
    assert after == (NEW_SECRET,)
    header = signature_header(during, TS, BODY)
    assert header.count("v1=") == 2
    # A receiver that has not switched yet and one that has both accept the request.
    assert verify_signature(header, BODY, SECRET, now=TS) == TS
    assert verify_signature(header, BODY, NEW_SECRET, now=TS) == TS


def test_secrets_must_be_long_and_new() -> None:
    endpoint = registered()
    with pytest.raises(DomainError) as short:
        endpoint.rotate_secret("short", NOW)
    assert short.value.code == "webhook.secret_too_short"
    with pytest.raises(DomainError) as reused:
        endpoint.rotate_secret(SECRET, NOW)
    assert reused.value.code == "webhook.secret_reused"


@pytest.mark.parametrize("url", ["https://hooks.example.cn/x", "http://127.0.0.1:8080/hook", "http://localhost/hook"])
def test_accepted_webhook_urls(url: str) -> None:
    assert check_webhook_url(url) == url


@pytest.mark.parametrize(
    "url",
    ["http://hooks.example.cn/x", "ftp://hooks.example.cn", "https://", "https://user:pw@hooks.example.cn/x", "x"],
)
def test_refused_webhook_urls(url: str) -> None:
    with pytest.raises(DomainError) as refused:
        check_webhook_url(url)
    assert refused.value.code.startswith("webhook.url_")


def test_endpoints_round_trip_through_a_document() -> None:
    endpoint = registered()
    endpoint.issue_challenge("c" * 32, NOW)

    assert WebhookEndpoint.from_document(endpoint.to_document()) == endpoint
