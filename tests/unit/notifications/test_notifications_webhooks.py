from __future__ import annotations

import hashlib
import hmac
import json
from datetime import timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from alliance_notifications.domain.egress import EgressPolicy
from alliance_notifications.domain.endpoints import EndpointStatus, WebhookEndpoint, check_webhook_url
from alliance_notifications.domain.rate_limit import RateLimited, SlidingWindowLimit
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
        now=NOW, actor_id="it-admin", policy=EgressPolicy(),
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


DEMO = EgressPolicy.of(["127.0.0.1"], [])


@pytest.mark.parametrize(
    ("url", "policy"),
    [
        ("https://hooks.example.cn/x", EgressPolicy()),
        ("https://93.184.215.14/x", EgressPolicy()),
        ("http://127.0.0.1:8080/hook", DEMO),  # allow-listed: the demo's receiver
        ("https://127.0.0.1:8443/hook", DEMO),
    ],
)
def test_accepted_webhook_urls(url: str, policy: EgressPolicy) -> None:
    assert check_webhook_url(url, policy) == url


@pytest.mark.parametrize(
    ("url", "code"),
    [
        ("http://hooks.example.cn/x", "webhook.url_not_https"),
        ("ftp://hooks.example.cn", "webhook.url_not_https"),
        ("https://", "webhook.url_invalid"),
        ("https://user:pw@hooks.example.cn/x", "webhook.url_credentials"),
        ("x", "webhook.url_invalid"),
        ("http://127.0.0.1:8080/hook", "webhook.url_not_https"),  # not allow-listed
        ("http://localhost/hook", "webhook.url_not_https"),
        ("https://localhost/hook", "webhook.url_not_public"),
        ("https://notifications/hook", "webhook.url_not_public"),  # a single label: a cluster service
        ("https://registry.alliance.svc.cluster.local/x", "webhook.url_not_public"),
        ("https://kafka.alliance.svc/x", "webhook.url_not_public"),
        ("https://127.0.0.1/x", "webhook.address_not_public"),
        ("https://10.1.2.3/x", "webhook.address_not_public"),
        ("https://172.16.0.1/x", "webhook.address_not_public"),
        ("https://192.168.1.1/x", "webhook.address_not_public"),
        ("https://169.254.169.254/latest/meta-data", "webhook.address_not_public"),
        ("https://100.64.0.1/x", "webhook.address_not_public"),
        ("https://224.0.0.1/x", "webhook.address_not_public"),
        ("https://0.0.0.0/x", "webhook.address_not_public"),
        ("https://[::1]/x", "webhook.address_not_public"),
        ("https://[fe80::1]/x", "webhook.address_not_public"),
        ("https://[fd00::1]/x", "webhook.address_not_public"),
        ("https://[ff02::1]/x", "webhook.address_not_public"),
        ("https://[::ffff:10.0.0.1]/x", "webhook.address_not_public"),
    ],
)
def test_refused_webhook_urls(url: str, code: str) -> None:
    with pytest.raises(DomainError) as refused:
        check_webhook_url(url, EgressPolicy())
    assert refused.value.code == code


def test_the_clusters_own_public_networks_are_refused_too() -> None:
    policy = EgressPolicy.of([], ["203.0.113.0/24"])
    with pytest.raises(DomainError):
        policy.check_addresses(["93.184.215.14", "203.0.113.7"])  # one inward answer is enough
    with pytest.raises(DomainError) as unresolvable:
        policy.check_addresses([])
    assert unresolvable.value.code == "webhook.url_unresolvable"
    policy.check_addresses(["93.184.215.14", "2606:2800:21f:cb07:6820:80da:af6b:8b2c"])


def test_an_old_secret_is_dropped_only_after_its_grace() -> None:
    endpoint = registered()
    endpoint.rotate_secret(NEW_SECRET, NOW, timedelta(hours=1))
    assert not endpoint.drop_expired_secret(NOW + timedelta(minutes=59))
    assert endpoint.drop_expired_secret(NOW + timedelta(hours=1))
    assert (endpoint.previous_secret, endpoint.previous_secret_valid_until) == (None, None)
    assert not endpoint.drop_expired_secret(NOW + timedelta(hours=2))


def test_a_sliding_window_limits_each_key() -> None:
    limit = SlidingWindowLimit(2, timedelta(minutes=1))
    limit.take("col-001", NOW, "x.limited")
    limit.take("col-001", NOW + timedelta(seconds=10), "x.limited")
    limit.take("col-002", NOW + timedelta(seconds=10), "x.limited")
    with pytest.raises(RateLimited) as limited:
        limit.take("col-001", NOW + timedelta(seconds=30), "x.limited")
    assert limited.value.extensions["retry_after_seconds"] == 31
    limit.take("col-001", NOW + timedelta(seconds=60), "x.limited")


def test_endpoints_round_trip_through_a_document() -> None:
    endpoint = registered()
    endpoint.issue_challenge("c" * 32, NOW)

    assert WebhookEndpoint.from_document(endpoint.to_document()) == endpoint
