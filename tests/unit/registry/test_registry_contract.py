"""The registry's event contract: every documented type, keyed and documented, with valid
examples; aggregates store as documents the MongoDB-wire server accepts."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date, timedelta
from typing import Any, Protocol

import bson
import pytest
from bson.codec_options import CodecOptions

from alliance_registry.domain.certification import Certification
from alliance_registry.domain.council import Council, SeatAssignment
from alliance_registry.domain.credit_code import is_valid_credit_code
from alliance_registry.domain.membership import Membership
from alliance_registry.domain.partner import Partner
from alliance_shared.contract.base import EventPayload
from alliance_shared.contract.catalog import EventCatalog
from alliance_shared.contract.platform import PLATFORM_CATALOG
from alliance_shared.contract.registry import REGISTRY_EVENTS, AgreementActivated, CouncilPosition, PartnerRegistered
from tests.unit.registry.registry_support import (
    ADMIN,
    AGENCY_ID,
    COLLEGE_ID,
    CONTACT,
    ENTERPRISE_ID,
    NOW,
    PARTNERS,
    active_agreement,
    enterprise_details,
)

DOCUMENTED = {
    "partner.registered",
    "partner.updated",
    "partner.deactivated",
    "membership.changed",
    "council.changed",
    "certification.applied",
    "certification.rejected",
    "certification.granted",
    "certification.revoked",
    "certification.expired",
    "incentive.recorded",
    "incentive.suspended",
    "agreement.drafted",
    "agreement.party_signed",
    "agreement.signed",
    "agreement.activated",
    "agreement.amendment_proposed",
    "agreement.amendment_signed",
    "agreement.amendment_withdrawn",
    "agreement.amended",
    "agreement.suspended",
    "agreement.resumed",
    "agreement.terminated",
    "agreement.completed",
}


def test_exactly_the_documented_event_types() -> None:
    types = [model.event_type for model in REGISTRY_EVENTS]
    assert len(types) == len(set(types))
    assert {f"org.coopalliance.registry.{name}.v1" for name in DOCUMENTED} == set(types)
    catalog = EventCatalog([*PLATFORM_CATALOG, *(m for m in REGISTRY_EVENTS if m.event_type not in PLATFORM_CATALOG)])
    assert all(model.event_type in catalog for model in REGISTRY_EVENTS)


@pytest.mark.parametrize("model", REGISTRY_EVENTS, ids=lambda m: m.__name__)
def test_each_model_is_keyed_and_documented(model: type[EventPayload]) -> None:
    assert model.aggregate_field in model.model_fields
    assert "occurred_at" in model.model_fields
    assert "actor_id" in model.model_fields
    assert model.__doc__
    assert model.model_json_schema()["description"]


@pytest.mark.parametrize("model", [PartnerRegistered, AgreementActivated], ids=lambda m: m.__name__)
def test_main_events_have_valid_examples(model: type[EventPayload]) -> None:
    examples = model.model_json_schema()["examples"]
    assert examples
    for example in examples:
        payload = model.model_validate(example)
        assert payload.aggregate_id()


def test_the_partner_example_has_a_valid_credit_code() -> None:
    example = PartnerRegistered.model_json_schema()["examples"][0]
    assert is_valid_credit_code(example["credit_code"])


def test_only_registered_and_updated_carry_contacts() -> None:
    assert {m.__name__ for m in REGISTRY_EVENTS if "contacts" in m.model_fields} == {
        "PartnerRegistered",
        "PartnerUpdated",
    }


def test_agreement_events_round_trip_through_json() -> None:
    agreement = active_agreement()
    agreement.suspend("audit", now=agreement.activated_at or agreement.drafted_at, actor_id="a")
    [event] = agreement.events
    data = event.model_dump(mode="json")
    assert data["start_date"] == "2026-09-01"
    assert data["parties"][0] == {
        "partner_id": "col-001",
        "kind": "college",
        "role": "lead",
        "region_code": "440305",
        "name": "深圳职业技术大学",
    }
    assert type(event).model_validate(data) == event


def _violations(value: Any, path: str = "") -> list[str]:
    """Keys with '.' or a leading '$', and arrays directly inside arrays (FerretDB v1 refuses both)."""
    found: list[str] = []
    if isinstance(value, dict):
        for key, item in value.items():
            if "." in key or key.startswith("$"):
                found.append(f"{path}/{key}")
            found += _violations(item, f"{path}/{key}")
    elif isinstance(value, list | tuple):
        for index, item in enumerate(value):
            if isinstance(item, list | tuple):
                found.append(f"{path}/{index}")
            found += _violations(item, f"{path}/{index}")
    return found


class Storable(Protocol):
    def to_document(self) -> dict[str, Any]: ...

    @classmethod
    def from_document(cls, document: Mapping[str, Any]) -> Storable: ...


def _aggregates() -> dict[str, Storable]:
    certification = Certification.apply(
        certification_id="cert-1", partner=PARTNERS[ENTERPRISE_ID], now=NOW, actor_id=ADMIN
    )
    certification.grant(
        certificate_number="GD-1", valid_from=NOW, valid_to=NOW + timedelta(days=365), now=NOW, actor_id=ADMIN
    )
    membership = Membership.apply(PARTNERS[ENTERPRISE_ID], reason="join", now=NOW, actor_id=ADMIN)
    membership.admit(reason="resolution", now=NOW, actor_id=ADMIN)
    seats = [
        SeatAssignment(
            position=CouncilPosition.DIRECTOR,
            partner_id=partner_id,
            representative="rep",
            term_start=date(2026, 1, 1),
            term_end=date(2028, 12, 31),
        )
        for partner_id in (COLLEGE_ID, ENTERPRISE_ID, AGENCY_ID)
    ]
    members = {pid: summary.kind for pid, summary in PARTNERS.items()}
    return {
        "partner": Partner.register(
            partner_id="ent-042", details=enterprise_details(), contacts=[CONTACT], now=NOW, actor_id=ADMIN
        ),
        "membership": membership,
        "council": Council.constitute(
            council_id="council", seats=seats, members=members, reason="founded", now=NOW, actor_id=ADMIN
        ),
        "certification": certification,
        "agreement": active_agreement(),
    }


@pytest.mark.parametrize("name", ["partner", "membership", "council", "certification", "agreement"])
def test_documents_are_storable(name: str) -> None:
    aggregate = _aggregates()[name]
    document = aggregate.to_document()
    assert _violations(document) == []
    # what the MongoDB client (tz_aware) hands back is read into the same aggregate
    stored: dict[str, Any] = bson.decode(bson.encode(document), codec_options=CodecOptions(tz_aware=True))
    assert type(aggregate).from_document(stored).to_document() == document
