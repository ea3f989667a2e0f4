"""Read side: lists with their filters and cursor pagination, single reads for display,
partner profiles, the parties of an agreement, matching."""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date
from typing import Any, Generic, TypeVar

from pydantic import BaseModel

from alliance_registry.domain.agreement import Agreement
from alliance_registry.domain.certification import Certification, CertificationStatus
from alliance_registry.domain.council import Council
from alliance_registry.domain.matching import (
    CollegeForMatching,
    EnterpriseCandidate,
    Suggestion,
    suggest_partners,
)
from alliance_registry.domain.membership import Membership
from alliance_registry.domain.partner import Partner
from alliance_registry.service import agreements as agreement_cases
from alliance_registry.service import certification as certification_cases
from alliance_registry.service import council as council_cases
from alliance_registry.service import membership as membership_cases
from alliance_registry.service import partners as partner_cases
from alliance_registry.service.repositories import COUNCIL_ID, Repositories, read_current
from alliance_shared.clock import Clock
from alliance_shared.contract.registry import AgreementStatus, MembershipStatus, PartnerStatus
from alliance_shared.contract.vocabulary import CooperationMode, PartnerKind
from alliance_shared.errors import DomainError
from alliance_shared.persistence.pagination import paginate
from alliance_shared.persistence.repository import Loaded, Repository

M = TypeVar("M", bound=BaseModel)

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


@dataclass(frozen=True)
class PageOf(Generic[M]):
    items: list[Loaded[M]]
    next_cursor: str | None


async def _page(repo: Repository[M], query: Mapping[str, Any], limit: int, cursor: str | None) -> PageOf[M]:
    page = await paginate(repo.store, query, limit=limit, cursor=cursor)
    return PageOf([repo.from_snapshot(s) for s in page.items], page.next_cursor)


def _region(prefix: str) -> str:
    if not REGION_PREFIX.match(prefix):
        raise DomainError("query.region_prefix_invalid", "a region prefix is 2, 4 or 6 digits", field="region")
    return prefix


async def partner_query(repos: Repositories, clock: Clock, f: PartnerFilter) -> dict[str, Any] | None:
    """The partners' filter; None when ``f`` can match no partner (nobody holds the asked
    certification or membership status), which spares the scan of every partner that the
    local engine makes for any non-``_id`` filter."""
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
        certified = await certification_cases.certified_partner_ids(repos, clock.now())
        if f.certified:
            ids = certified
        else:
            query["partner_id"] = {"$nin": sorted(certified)}
    if f.membership_status is not None:
        members = await repos.memberships.find({"status": f.membership_status.value})
        with_status = {m.item.partner_id for m in members}
        ids = with_status if ids is None else ids & with_status
    if ids is not None:
        if not ids:
            return None
        in_ids = {"$in": sorted(ids)}
        query["partner_id"] = {**query.get("partner_id", {}), **in_ids}
    if f.text:
        pattern = {"$regex": re.escape(f.text.strip()), "$options": "i"}
        query["$or"] = [{"name_zh": pattern}, {"name_en": pattern}]
    return query


async def list_partners(
    repos: Repositories, clock: Clock, f: PartnerFilter, *, limit: int, cursor: str | None
) -> PageOf[Partner]:
    query = await partner_query(repos, clock, f)
    if query is None:
        return PageOf([], None)
    return await _page(repos.partners, query, limit, cursor)


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


async def list_agreements(
    repos: Repositories, f: AgreementFilter, *, limit: int, cursor: str | None
) -> PageOf[Agreement]:
    return await _page(repos.agreements, agreement_query(f), limit, cursor)


async def list_memberships(
    repos: Repositories, status: MembershipStatus | None, *, limit: int, cursor: str | None
) -> PageOf[Membership]:
    query = {} if status is None else {"status": status.value}
    return await _page(repos.memberships, query, limit, cursor)


async def list_certifications(
    repos: Repositories,
    status: CertificationStatus | None,
    partner_id: str | None,
    *,
    limit: int,
    cursor: str | None,
) -> PageOf[Certification]:
    query: dict[str, Any] = {}
    if status is not None:
        query["status"] = status.value
    if partner_id is not None:
        query["partner_id"] = partner_id
    return await _page(repos.certifications, query, limit, cursor)


# --- single reads, for display (the current document; decisions load exactly) ----------


async def get_partner(repos: Repositories, partner_id: str) -> Loaded[Partner]:
    return await read_current(repos.partners, partner_id, partner_cases.NOT_FOUND)


async def get_membership(repos: Repositories, partner_id: str) -> Loaded[Membership]:
    return await read_current(repos.memberships, partner_id, membership_cases.NOT_FOUND)


async def get_council(repos: Repositories) -> Loaded[Council]:
    return await read_current(repos.council, COUNCIL_ID, council_cases.NOT_FOUND)


async def get_certification(repos: Repositories, certification_id: str) -> Loaded[Certification]:
    return await read_current(repos.certifications, certification_id, certification_cases.NOT_FOUND)


async def get_agreement(repos: Repositories, agreement_id: str) -> Loaded[Agreement]:
    return await read_current(repos.agreements, agreement_id, agreement_cases.NOT_FOUND)


async def agreement_parties(repos: Repositories, agreement_id: str) -> dict[str, PartnerKind]:
    """The parties of an agreement and their kinds, as it stands (who may sign is decided on them)."""
    loaded = await repos.agreements.require(agreement_id, *agreement_cases.NOT_FOUND)
    return {p.partner_id: p.kind for p in loaded.item.terms.parties}


@dataclass(frozen=True)
class Profile:
    partner: Loaded[Partner]
    membership: Membership | None
    certifications: list[Certification]
    certified_now: bool
    agreements: list[Loaded[Agreement]] = field(default_factory=list)


async def profile(repos: Repositories, clock: Clock, partner_id: str) -> Profile:
    found = await read_current(repos.partners, partner_id, partner_cases.NOT_FOUND)
    membership = await repos.memberships.get(partner_id)
    certifications = [c.item for c in await certification_cases.of_partner(repos, partner_id)]
    now = clock.now()
    return Profile(
        partner=found,
        membership=membership.item if membership else None,
        certifications=certifications,
        certified_now=any(c.is_certified_at(now) for c in certifications),
        agreements=await repos.agreements.find({"q_party_ids": partner_id}),
    )


#: Agreements that count as cooperation the enterprise carries.
CARRIED = (AgreementStatus.SIGNED.value, AgreementStatus.ACTIVE.value, AgreementStatus.SUSPENDED.value)


async def match(
    repos: Repositories, clock: Clock, college_id: str, majors: Sequence[str], limit: int
) -> list[Suggestion]:
    """Active enterprises ranked for ``college_id`` and ``majors`` (domain/matching.py explains the scores)."""
    college = await repos.partners.require(college_id, *partner_cases.NOT_FOUND)
    if college.item.kind is not PartnerKind.COLLEGE or college.item.college is None:
        raise DomainError("matching.not_a_college", f"partner {college_id} is not a college")
    enterprises = await repos.partners.find(
        {"kind": PartnerKind.ENTERPRISE.value, "status": PartnerStatus.ACTIVE.value}
    )
    certified = await certification_cases.certified_partner_ids(repos, clock.now())
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
