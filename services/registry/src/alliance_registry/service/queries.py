"""Read side: partner and agreement lists with cursor pagination, partner profiles, matching."""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date
from typing import Any

from alliance_registry.adapters.repositories import Loaded, Repositories
from alliance_registry.domain.agreement import Agreement
from alliance_registry.domain.certification import Certification
from alliance_registry.domain.matching import (
    CollegeForMatching,
    EnterpriseCandidate,
    Suggestion,
    suggest_partners,
)
from alliance_registry.domain.membership import Membership
from alliance_registry.domain.partner import Partner
from alliance_registry.service import certification as certification_cases
from alliance_registry.service.common import utcnow
from alliance_shared.contract.registry import AgreementStatus, MembershipStatus, PartnerStatus
from alliance_shared.contract.vocabulary import CooperationMode, PartnerKind
from alliance_shared.errors import DomainError
from alliance_shared.persistence.pagination import paginate

REGION_PREFIX = re.compile(r"^([0-9]{2}|[0-9]{4}|[0-9]{6})$")


@dataclass(frozen=True)
class PartnerFilter:
    kind: PartnerKind | None = None
    region_prefix: str | None = None
    sector: str | None = None
    certified: bool | None = None
    membership_status: MembershipStatus | None = None
    status: PartnerStatus | None = None
    text: str | None = None


@dataclass(frozen=True)
class AgreementFilter:
    party_id: str | None = None
    mode: CooperationMode | None = None
    status: AgreementStatus | None = None
    region_prefix: str | None = None
    major: str | None = None
    active_from: date | None = None
    active_to: date | None = None


@dataclass
class PageOf:
    items: list[Any]
    next_cursor: str | None


def _region(prefix: str) -> str:
    if not REGION_PREFIX.match(prefix):
        raise DomainError("query.region_prefix_invalid", "a region prefix is 2, 4 or 6 digits", field="region")
    return prefix


async def partner_query(repos: Repositories, f: PartnerFilter) -> dict[str, Any]:
    query: dict[str, Any] = {}
    if f.kind is not None:
        query["kind"] = f.kind.value
    if f.status is not None:
        query["status"] = f.status.value
    if f.region_prefix:
        query["q_region_prefixes"] = _region(f.region_prefix)
    if f.sector:
        # A sector filter matches the code and its subdivisions ("C" matches "C39").
        query["sector_code"] = {"$regex": "^" + re.escape(f.sector)}
    ids: set[str] | None = None
    if f.certified is not None:
        certified = await certification_cases.certified_partner_ids(repos, utcnow())
        if f.certified:
            ids = certified
        else:
            query["partner_id"] = {"$nin": sorted(certified)}
    if f.membership_status is not None:
        members = await repos.memberships.find({"status": f.membership_status.value})
        with_status = {m.item.partner_id for m in members}
        ids = with_status if ids is None else ids & with_status
    if ids is not None:
        in_ids = {"$in": sorted(ids)}
        query["partner_id"] = {**query.get("partner_id", {}), **in_ids}
    if f.text:
        pattern = {"$regex": re.escape(f.text.strip()), "$options": "i"}
        query["$or"] = [{"name_zh": pattern}, {"name_en": pattern}]
    return query


async def list_partners(repos: Repositories, f: PartnerFilter, *, limit: int, cursor: str | None) -> PageOf:
    page = await paginate(repos.partners.store, await partner_query(repos, f), limit=limit, cursor=cursor)
    return PageOf([repos.partners.from_snapshot(s) for s in page.items], page.next_cursor)


def agreement_query(f: AgreementFilter) -> dict[str, Any]:
    query: dict[str, Any] = {}
    if f.party_id:
        query["q_party_ids"] = f.party_id
    if f.mode is not None:
        query["q_modes"] = f.mode.value
    if f.status is not None:
        query["status"] = f.status.value
    if f.region_prefix:
        query["q_region_prefixes"] = _region(f.region_prefix)
    if f.major:
        query["q_majors"] = f.major
    # Agreements whose term overlaps [active_from, active_to] (ISO dates compare as strings).
    if f.active_to is not None:
        query["q_start"] = {"$lte": f.active_to.isoformat()}
    if f.active_from is not None:
        query["q_end"] = {"$gte": f.active_from.isoformat()}
    return query


async def list_agreements(repos: Repositories, f: AgreementFilter, *, limit: int, cursor: str | None) -> PageOf:
    page = await paginate(repos.agreements.store, agreement_query(f), limit=limit, cursor=cursor)
    return PageOf([repos.agreements.from_snapshot(s) for s in page.items], page.next_cursor)


@dataclass
class Profile:
    partner: Loaded[Partner]
    membership: Membership | None
    certifications: list[Certification]
    agreements: list[Agreement] = field(default_factory=list)


async def profile(repos: Repositories, partner_id: str) -> Profile:
    partner = await repos.partners.read(partner_id, "partner.not_found", "partner")
    membership = await repos.memberships.get(partner_id)
    certifications = await certification_cases.of_partner(repos, partner_id)
    agreements = await repos.agreements.find({"q_party_ids": partner_id})
    return Profile(
        partner=partner,
        membership=membership.item if membership else None,
        certifications=[c.item for c in certifications],
        agreements=[a.item for a in agreements],
    )


#: Agreements that count as cooperation the enterprise carries.
CARRIED = (AgreementStatus.SIGNED.value, AgreementStatus.ACTIVE.value, AgreementStatus.SUSPENDED.value)


async def match(repos: Repositories, college_id: str, majors: Sequence[str], limit: int) -> list[Suggestion]:
    """Active enterprises ranked for ``college_id`` and ``majors`` (domain/matching.py explains the scores)."""
    college = await repos.partners.require(college_id, "partner.not_found", "partner")
    if college.item.kind is not PartnerKind.COLLEGE or college.item.college is None:
        raise DomainError("matching.not_a_college", f"partner {college_id} is not a college")
    enterprises = await repos.partners.find(
        {"kind": PartnerKind.ENTERPRISE.value, "status": PartnerStatus.ACTIVE.value}
    )
    certified = await certification_cases.certified_partner_ids(repos, utcnow())
    carried = await repos.agreements.find({"status": {"$in": list(CARRIED)}})
    active_count: dict[str, int] = {}
    partners_of_college: set[str] = set()
    for agreement in carried:
        terms = agreement.item.terms
        enterprise_ids = terms.ids_of(PartnerKind.ENTERPRISE)
        if agreement.item.status is AgreementStatus.ACTIVE:
            for e in enterprise_ids:
                active_count[e] = active_count.get(e, 0) + 1
        if college_id in terms.party_ids:
            partners_of_college.update(enterprise_ids)
    candidates = [
        EnterpriseCandidate(
            partner_id=e.item.partner_id,
            name=e.item.name_zh,
            region_code=e.item.region_code,
            sector_code=e.item.sector_code,
            certified=e.item.partner_id in certified,
            active_cooperations=active_count.get(e.item.partner_id, 0),
            already_partner_of_college=e.item.partner_id in partners_of_college,
        )
        for e in enterprises
    ]
    subject = CollegeForMatching(
        partner_id=college_id, region_code=college.item.region_code, majors=college.item.college.majors
    )
    return suggest_partners(subject, majors, candidates, limit=limit)
