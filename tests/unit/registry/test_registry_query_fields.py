"""The query fields the registry stores next to each partner and agreement, and the filters built on them."""

from __future__ import annotations

from datetime import date

import pytest

from alliance_registry.service.queries import AgreementFilter, agreement_query
from alliance_registry.service.repositories import agreement_query_fields, partner_query_fields, region_prefixes
from alliance_shared.contract.registry import AgreementStatus
from alliance_shared.contract.vocabulary import CooperationMode
from alliance_shared.errors import DomainError
from tests.unit.registry.registry_support import COLLEGE_ID, ENTERPRISE_ID, drafted_agreement


def test_region_prefixes_cover_province_city_and_county() -> None:
    assert region_prefixes(["440305", "440300"]) == ["44", "4403", "440300", "440305"]
    assert partner_query_fields({"region_code": "110108"}) == {"q_region_prefixes": ["11", "1101", "110108"]}


def test_agreement_query_fields_follow_the_terms_in_force() -> None:
    state = drafted_agreement().to_document()
    fields = agreement_query_fields(state)
    assert fields["q_party_ids"] == [COLLEGE_ID, ENTERPRISE_ID, "gov-007"]
    assert fields["q_college_ids"] == [COLLEGE_ID]
    assert fields["q_enterprise_ids"] == [ENTERPRISE_ID]
    assert fields["q_modes"] == ["internship_base", "order_class"]
    assert fields["q_majors"] == ["460103", "460104"]
    assert "4403" in fields["q_region_prefixes"]
    assert "440300" in fields["q_region_prefixes"]
    assert (fields["q_start"], fields["q_end"]) == ("2026-09-01", "2029-08-31")


def test_agreement_filters_combine() -> None:
    query = agreement_query(
        AgreementFilter(
            party_id="col-1",
            mode=CooperationMode.ORDER_CLASS,
            status=AgreementStatus.ACTIVE,
            region_prefix="4403",
            major="460103",
            active_from=date(2027, 1, 1),
            active_to=date(2027, 12, 31),
        )
    )
    assert query == {
        "q_party_ids": "col-1",
        "q_modes": "order_class",
        "status": "active",
        "q_region_prefixes": "4403",
        "q_majors": "460103",
        "q_start": {"$lte": "2027-12-31"},
        "q_end": {"$gte": "2027-01-01"},
    }


@pytest.mark.parametrize("prefix", ["4", "440", "44030", "4403051", "ab"])
def test_a_region_prefix_is_2_4_or_6_digits(prefix: str) -> None:
    with pytest.raises(DomainError) as raised:
        agreement_query(AgreementFilter(region_prefix=prefix))
    assert raised.value.code == "query.region_prefix_invalid"
