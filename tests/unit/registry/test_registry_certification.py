"""Certified industry-education integration enterprises: lifecycle, expiry, validity."""

from __future__ import annotations

from datetime import timedelta

import pytest

from alliance_registry.domain.certification import Certification, CertificationStatus
from alliance_shared.contract.registry import (
    CertificationApplied,
    CertificationExpired,
    CertificationGranted,
    CertificationRevoked,
)
from alliance_shared.errors import DomainError, InvalidTransition
from tests.unit.registry.registry_support import ADMIN, COLLEGE_ID, ENTERPRISE_ID, NOW, PARTNERS, only_event

VALID_FROM = NOW + timedelta(days=10)
VALID_TO = VALID_FROM + timedelta(days=3 * 365)


def applied() -> Certification:
    certification = Certification.apply(
        certification_id="cert-1", partner=PARTNERS[ENTERPRISE_ID], now=NOW, actor_id=ADMIN
    )
    certification.events.clear()
    return certification


def certified() -> Certification:
    certification = applied()
    certification.grant(
        certificate_number="GD-CJRH-2026-017", valid_from=VALID_FROM, valid_to=VALID_TO, now=NOW, actor_id=ADMIN
    )
    certification.events.clear()
    return certification


def test_apply_emits_applied() -> None:
    certification = Certification.apply(
        certification_id="cert-1", partner=PARTNERS[ENTERPRISE_ID], now=NOW, actor_id=ADMIN
    )
    event = only_event(certification.events)
    assert isinstance(event, CertificationApplied)
    assert (event.certification_id, event.partner_id, event.partner_name) == ("cert-1", ENTERPRISE_ID, "鹏城精密")


def test_only_active_enterprises_apply() -> None:
    with pytest.raises(DomainError) as raised:
        Certification.apply(certification_id="c", partner=PARTNERS[COLLEGE_ID], now=NOW, actor_id=ADMIN)
    assert raised.value.code == "certification.not_enterprise"
    gone = PARTNERS[ENTERPRISE_ID].model_copy(update={"active": False})
    with pytest.raises(DomainError) as raised:
        Certification.apply(certification_id="c", partner=gone, now=NOW, actor_id=ADMIN)
    assert raised.value.code == "certification.inactive_partner"


def test_grant_emits_the_certificate() -> None:
    certification = applied()
    certification.grant(
        certificate_number="GD-CJRH-2026-017", valid_from=VALID_FROM, valid_to=VALID_TO, now=NOW, actor_id=ADMIN
    )
    assert certification.status is CertificationStatus.CERTIFIED
    event = only_event(certification.events)
    assert isinstance(event, CertificationGranted)
    assert (event.partner_id, event.certificate_number, event.valid_from, event.valid_to) == (
        ENTERPRISE_ID,
        "GD-CJRH-2026-017",
        VALID_FROM,
        VALID_TO,
    )


def test_grant_needs_a_sensible_validity() -> None:
    with pytest.raises(DomainError) as raised:
        applied().grant(certificate_number="n", valid_from=VALID_TO, valid_to=VALID_FROM, now=NOW, actor_id=ADMIN)
    assert raised.value.code == "certification.validity_invalid"
    with pytest.raises(DomainError) as raised:
        applied().grant(
            certificate_number="n",
            valid_from=NOW - timedelta(days=9),
            valid_to=NOW - timedelta(days=1),
            now=NOW,
            actor_id=ADMIN,
        )
    assert raised.value.code == "certification.validity_passed"


def test_is_certified_only_within_the_validity() -> None:
    certification = certified()
    assert not applied().is_certified_at(VALID_FROM)
    assert not certification.is_certified_at(VALID_FROM - timedelta(seconds=1))
    assert certification.is_certified_at(VALID_FROM)
    assert certification.is_certified_at(VALID_TO - timedelta(seconds=1))
    assert not certification.is_certified_at(VALID_TO)


def test_revoke_ends_the_certification_at_once() -> None:
    certification = certified()
    revoked_at = VALID_FROM + timedelta(days=100)
    certification.revoke("false statements in the application", now=revoked_at, actor_id=ADMIN)
    event = only_event(certification.events)
    assert isinstance(event, CertificationRevoked)
    assert event.reason == "false statements in the application"
    assert event.certificate_number == "GD-CJRH-2026-017"
    assert certification.is_certified_at(revoked_at - timedelta(days=1))
    assert not certification.is_certified_at(revoked_at)
    assert certification.expire_if_due(VALID_TO) is False
    assert len(certification.events) == 1


def test_expire_if_due_emits_once() -> None:
    certification = certified()
    assert certification.expire_if_due(VALID_TO - timedelta(seconds=1)) is False
    assert certification.events == []
    assert certification.expire_if_due(VALID_TO) is True
    event = only_event(certification.events)
    assert isinstance(event, CertificationExpired)
    assert (event.actor_id, event.occurred_at, event.valid_to) == ("system", VALID_TO, VALID_TO)
    assert certification.expire_if_due(VALID_TO + timedelta(days=1)) is False
    assert len(certification.events) == 1
    assert certification.status is CertificationStatus.EXPIRED


def test_illegal_transitions() -> None:
    with pytest.raises(InvalidTransition):
        applied().revoke("r", now=NOW, actor_id=ADMIN)
    assert applied().expire_if_due(VALID_TO) is False
    with pytest.raises(InvalidTransition):
        certified().grant(certificate_number="n", valid_from=VALID_FROM, valid_to=VALID_TO, now=NOW, actor_id=ADMIN)
    expired = certified()
    expired.expire_if_due(VALID_TO)
    with pytest.raises(InvalidTransition):
        expired.revoke("r", now=VALID_TO, actor_id=ADMIN)


def test_revocation_needs_a_reason_and_the_document_round_trips() -> None:
    certification = certified()
    with pytest.raises(DomainError):
        certification.revoke("", now=NOW, actor_id=ADMIN)
    assert certification.status is CertificationStatus.CERTIFIED
    assert Certification.from_document(certification.to_document()) == certification
