"""The incentive register: the domain's rules (certification validity, amounts, suspension)
and its use cases on the in-memory store twin (agency records, funding's awards, the
revocation's sweep, summaries). The same paths run on the real servers in
tests/integration/registry/test_registry_incentives.py."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from alliance_registry.domain.certification import Certification
from alliance_registry.domain.incentive import Grant, IncentiveEntry, IncentiveStatus
from alliance_registry.domain.partner import PartnerDetails
from alliance_registry.service import certification, incentive_register, incentives, partners
from alliance_registry.service.incentive_register import IncentiveFilter, SummaryBy
from alliance_registry.service.repositories import INCENTIVES, STORES, Repositories
from alliance_registry.testing import InMemoryCreditCodeClaims
from alliance_shared.contract.funding import AwardGranted, SurchargeStatementIssued
from alliance_shared.contract.registry import CertificationRevoked, IncentiveKind, IncentiveRecorded
from alliance_shared.contract.vocabulary import PartnerKind
from alliance_shared.errors import Conflict, DomainError
from alliance_shared.testing import InMemoryVersionedStore, ManualClock
from tests.unit.registry.registry_support import ADMIN, CONTACT, PARTNERS, enterprise_details
from tests.unit.registry.test_registry_use_cases import code

START = datetime(2026, 3, 2, 1, 0, tzinfo=UTC)
VALID_FROM = datetime(2026, 1, 1, tzinfo=UTC)
VALID_TO = datetime(2029, 1, 1, tzinfo=UTC)
BANK = "staff-bank"


def certified(**changes: Any) -> Certification:
    applied = Certification.apply(
        certification_id="cert-ent-042-001", partner=PARTNERS["ent-042"], now=START, actor_id=ADMIN
    )
    applied.grant(certificate_number="CQE-1", valid_from=VALID_FROM, valid_to=VALID_TO, now=START, actor_id=ADMIN)
    for field, value in changes.items():
        setattr(applied, field, value)
    return applied


def grant(**changes: Any) -> Grant:
    fields: dict[str, Any] = {
        "kind": IncentiveKind.FINANCIAL,
        "agency_id": "bank-01",
        "reference": "SZRCB-2026-0193",
        "amount_minor": 12_000_000,
        "valid_from": datetime(2026, 6, 1, tzinfo=UTC),
        "valid_to": datetime(2027, 6, 1, tzinfo=UTC),
    }
    return Grant(**{**fields, **changes})


def record(certification: Certification | None, g: Grant) -> IncentiveEntry:
    return IncentiveEntry.record(
        entry_id="inc-1", region_code="440305", certification=certification, grant=g, now=START, actor_id=BANK
    )


# --- domain ---------------------------------------------------------------------------


def test_an_entry_within_the_certificate_is_recorded_and_announced() -> None:
    entry = record(certified(), grant())
    assert entry.status is IncentiveStatus.OPEN
    assert (entry.partner_id, entry.certification_id) == ("ent-042", "cert-ent-042-001")
    [event] = entry.events
    assert isinstance(event, IncentiveRecorded)
    assert (event.kind, event.amount_minor, event.agency_id) == (IncentiveKind.FINANCIAL, 12_000_000, "bank-01")


def test_an_enterprise_never_certified_gets_none() -> None:
    pending = Certification.apply(certification_id="c", partner=PARTNERS["ent-042"], now=START, actor_id=ADMIN)
    for candidate in (None, pending):
        with pytest.raises(DomainError) as refused:
            record(candidate, grant())
        assert refused.value.code == "incentive.not_in_catalogue"


@pytest.mark.parametrize(
    ("changes", "code_expected"),
    [
        ({"valid_from": datetime(2025, 12, 31, tzinfo=UTC)}, "incentive.before_certification"),
        ({"valid_from": VALID_TO, "valid_to": None}, "incentive.after_certification"),
        ({"valid_to": VALID_TO + timedelta(days=1)}, "incentive.after_certification"),
        ({"valid_to": datetime(2026, 5, 1, tzinfo=UTC)}, "incentive.validity_invalid"),
        ({"amount_minor": None}, "incentive.amount_required"),
        ({"kind": IncentiveKind.LAND}, "incentive.amount_not_money"),
    ],
)
def test_entries_outside_the_rules_are_refused(changes: dict[str, Any], code_expected: str) -> None:
    with pytest.raises(DomainError) as refused:
        record(certified(), grant(**changes))
    assert refused.value.code == code_expected


def test_an_entitlement_dated_after_the_revocation_is_refused_though_the_printed_validity_runs_on() -> None:
    revoked = certified()
    revoked.revoke("obligations not met", now=datetime(2026, 9, 1, tzinfo=UTC), actor_id=ADMIN)
    with pytest.raises(DomainError) as refused:
        record(revoked, grant(valid_from=datetime(2026, 10, 1, tzinfo=UTC), valid_to=None))
    assert refused.value.code == "incentive.after_certification"
    # Dated before the revocation and ending before it: still a fact of the register.
    assert record(revoked, grant(valid_to=datetime(2026, 8, 1, tzinfo=UTC))).status is IncentiveStatus.OPEN


def test_land_and_credit_entries_carry_no_amount() -> None:
    entry = record(certified(), grant(kind=IncentiveKind.CREDIT, amount_minor=None, valid_to=None))
    assert entry.amount_minor is None


def test_suspension_happens_once() -> None:
    entry = record(certified(), grant())
    entry.events.clear()
    assert entry.suspend("revoked", now=START, actor_id=ADMIN)
    assert not entry.suspend("revoked", now=START, actor_id=ADMIN)
    assert entry.status is IncentiveStatus.SUSPENDED
    assert [e.event_type for e in entry.events] == ["org.coopalliance.registry.incentive.suspended.v1"]


# --- use cases on the in-memory twin ---------------------------------------------------


class World:
    def __init__(self) -> None:
        self.stores = {name: InMemoryVersionedStore(name) for name in STORES}
        self.repos = Repositories(self.stores.__getitem__, InMemoryCreditCodeClaims())
        self.clock = ManualClock(START)

    async def partner(self, details: PartnerDetails) -> str:
        return (await partners.register(self.repos, self.clock, details, [CONTACT], ADMIN)).item.partner_id

    async def certified_enterprise(self, serial: int, region: str = "440305") -> tuple[str, str]:
        enterprise = await self.partner(enterprise_details(credit_code=code(serial), region_code=region))
        applied = await certification.apply(self.repos, self.clock, enterprise, ADMIN)
        cid = applied.item.certification_id
        await certification.grant(
            self.repos,
            self.clock,
            cid,
            certificate_number=f"CQE-{serial}",
            valid_from=VALID_FROM,
            valid_to=VALID_TO,
            expected=None,
            actor_id=ADMIN,
        )
        return enterprise, cid

    async def agency(self, serial: int) -> str:
        return await self.partner(
            enterprise_details(
                kind=PartnerKind.GOVERNMENT_AGENCY, credit_code=code(serial), sector_code="S92", enterprise=None
            )
        )

    def outbox_events(self) -> list[str]:
        return [e["event"]["type"].split(".")[-2] for e in self.stores[INCENTIVES].outbox if e["kind"] == "event"]


def award(recipient: str, award_id: str = "awd-2026-0007") -> AwardGranted:
    example = AwardGranted.model_json_schema()["examples"][0]
    return AwardGranted.model_validate(
        {**example, "award_id": award_id, "recipient_partner_id": recipient, "occurred_at": "2026-04-01T02:00:00Z"}
    )


@pytest.fixture
def world() -> World:
    return World()


async def test_an_agency_records_for_a_catalogue_enterprise_once_per_reference(world: World) -> None:
    enterprise, cid = await world.certified_enterprise(2001)
    agency = await world.agency(2002)
    outcome = await incentives.record(
        world.repos, world.clock, grant(agency_id=agency), partner_id=enterprise, actor_id=BANK
    )
    assert outcome.item.certification_id == cid
    assert outcome.item.agency_name is not None
    assert world.outbox_events() == ["recorded"]
    with pytest.raises(Conflict):
        await incentives.record(world.repos, world.clock, grant(agency_id=agency), partner_id=enterprise, actor_id=BANK)


async def test_fiscal_entries_come_only_from_awards(world: World) -> None:
    enterprise, _ = await world.certified_enterprise(2011)
    agency = await world.agency(2012)
    with pytest.raises(DomainError) as refused:
        await incentives.record(
            world.repos,
            world.clock,
            grant(agency_id=agency, kind=IncentiveKind.FISCAL),
            partner_id=enterprise,
            actor_id=BANK,
        )
    assert refused.value.code == "incentive.kind_from_funding"


async def test_an_uncertified_enterprise_gets_no_entry_from_the_agency_or_an_award(world: World) -> None:
    enterprise = await world.partner(enterprise_details(credit_code=code(2021)))
    agency = await world.agency(2022)
    with pytest.raises(DomainError) as refused:
        await incentives.record(world.repos, world.clock, grant(agency_id=agency), partner_id=enterprise, actor_id=BANK)
    assert refused.value.code == "incentive.not_in_catalogue"
    await incentives.on_award_granted(world.repos, world.clock, "evt-1", award(enterprise))
    assert await incentive_register.entries(world.repos, IncentiveFilter()) == []


async def test_an_award_is_one_fiscal_entry_however_often_it_is_delivered(world: World) -> None:
    enterprise, _ = await world.certified_enterprise(2031)
    for _ in range(2):
        await incentives.on_award_granted(world.repos, world.clock, "evt-award", award(enterprise))
    [entry] = await incentive_register.entries(world.repos, IncentiveFilter(partner_id=enterprise))
    assert (entry.kind, entry.amount_minor, entry.agency_id) == (IncentiveKind.FISCAL, 50_000_000, None)
    assert world.outbox_events() == ["recorded"]


def statement_issued(enterprise: str, version: int, credit_minor: int, year: int = 2026) -> SurchargeStatementIssued:
    example = SurchargeStatementIssued.model_json_schema()["examples"][0]
    return SurchargeStatementIssued.model_validate(
        {
            **example,
            "enterprise_id": enterprise,
            "year": year,
            "statement_version": version,
            "credit_earned_minor": credit_minor,
            "occurred_at": "2026-04-01T02:00:00Z",
        }
    )


async def test_a_statement_is_one_tax_entry_a_year_restated_by_newer_versions(world: World) -> None:
    enterprise, cid = await world.certified_enterprise(2051)
    for _ in range(2):  # redelivered
        await incentives.on_statement_issued(
            world.repos, world.clock, "evt-s1", statement_issued(enterprise, 1, 30_000)
        )
    await incentives.on_statement_issued(world.repos, world.clock, "evt-s3", statement_issued(enterprise, 3, 45_000))
    await incentives.on_statement_issued(world.repos, world.clock, "evt-s2", statement_issued(enterprise, 2, 38_000))
    [entry] = await incentive_register.entries(world.repos, IncentiveFilter(partner_id=enterprise))
    assert (entry.entry_id, entry.reference) == (f"tax-{enterprise}-2026", f"tax-{enterprise}-2026")
    assert (entry.kind, entry.amount_minor, entry.source_version) == (IncentiveKind.TAX, 45_000, 3)
    assert (entry.certification_id, entry.agency_id) == (cid, None)
    assert world.outbox_events() == ["recorded"]  # a restated amount announces nothing
    actions = [e["audit"]["action"] for e in world.stores[INCENTIVES].outbox if e["kind"] == "audit"]
    assert actions == ["incentive.recorded", "incentive.restated"]


async def test_a_statement_of_an_enterprise_not_certified_then_adds_nothing(world: World) -> None:
    uncertified = await world.partner(enterprise_details(credit_code=code(2061)))
    await incentives.on_statement_issued(world.repos, world.clock, "evt-u", statement_issued(uncertified, 1, 30_000))
    enterprise, _ = await world.certified_enterprise(2062)
    before = statement_issued(enterprise, 1, 30_000).model_copy(update={"occurred_at": VALID_FROM - timedelta(days=1)})
    await incentives.on_statement_issued(world.repos, world.clock, "evt-b", before)
    agency = await world.agency(2063)
    await incentives.on_statement_issued(world.repos, world.clock, "evt-a", statement_issued(agency, 1, 30_000))
    assert await incentive_register.entries(world.repos, IncentiveFilter()) == []


async def test_revocation_suspends_open_entries_once(world: World) -> None:
    enterprise, cid = await world.certified_enterprise(2041)
    agency = await world.agency(2042)
    await incentives.record(world.repos, world.clock, grant(agency_id=agency), partner_id=enterprise, actor_id=BANK)
    await incentives.on_award_granted(world.repos, world.clock, "evt-award", award(enterprise))
    revoked = await certification.revoke(world.repos, world.clock, cid, "obligations not met", None, ADMIN)
    [event] = revoked.events
    assert isinstance(event, CertificationRevoked)
    assert await incentives.on_certification_revoked(world.repos, world.clock, "evt-rev", event) == 2
    assert await incentives.on_certification_revoked(world.repos, world.clock, "evt-rev", event) == 0
    entries = await incentive_register.entries(world.repos, IncentiveFilter(partner_id=enterprise))
    assert {e.status for e in entries} == {IncentiveStatus.SUSPENDED}
    assert world.outbox_events() == ["recorded", "recorded", "suspended", "suspended"]
    with pytest.raises(DomainError) as refused:
        await incentives.record(
            world.repos, world.clock, grant(agency_id=agency, reference="later"), partner_id=enterprise, actor_id=BANK
        )
    assert refused.value.code == "incentive.after_certification"


async def test_summaries_per_enterprise_region_and_kind(world: World) -> None:
    shenzhen, _ = await world.certified_enterprise(2051, region="440305")
    beijing, _ = await world.certified_enterprise(2052, region="110108")
    agency = await world.agency(2053)
    await incentives.record(world.repos, world.clock, grant(agency_id=agency), partner_id=shenzhen, actor_id=BANK)
    await incentives.record(
        world.repos,
        world.clock,
        grant(agency_id=agency, kind=IncentiveKind.LAND, amount_minor=None, reference="land-1"),
        partner_id=beijing,
        actor_id=BANK,
    )
    await incentives.on_award_granted(world.repos, world.clock, "evt-award", award(beijing))
    found = await incentive_register.entries(world.repos, IncentiveFilter())
    by_region = {r.key: r for r in incentive_register.summarise(found, SummaryBy.REGION)}
    assert {k: (r.entries, r.amount_minor) for k, r in by_region.items()} == {
        "110108": (2, 50_000_000),
        "440305": (1, 12_000_000),
    }
    by_kind = {r.key: r.entries for r in incentive_register.summarise(found, SummaryBy.KIND)}
    assert by_kind == {"financial": 1, "fiscal": 1, "land": 1}
    by_enterprise = incentive_register.summarise(found, SummaryBy.ENTERPRISE)
    assert {r.key for r in by_enterprise} == {shenzhen, beijing}
    assert all(r.name for r in by_enterprise)


async def test_entries_rest_on_the_certificate_in_force_at_their_date(world: World) -> None:
    enterprise, first = await world.certified_enterprise(2061)
    agency = await world.agency(2062)
    await certification.revoke(world.repos, world.clock, first, "obligations not met", None, ADMIN)
    reapplied = await certification.apply(world.repos, world.clock, enterprise, ADMIN)
    second = reapplied.item.certification_id
    world.clock.advance(timedelta(days=1))
    await certification.grant(
        world.repos,
        world.clock,
        second,
        certificate_number="CQE-2061-2",
        valid_from=START + timedelta(days=1),
        valid_to=VALID_TO,
        expected=None,
        actor_id=ADMIN,
    )
    outcome = await incentives.record(
        world.repos, world.clock, grant(agency_id=agency), partner_id=enterprise, actor_id=BANK
    )
    assert outcome.item.certification_id == second
    # An award made under the first certificate, before its revocation, and delivered only now.
    earlier = award(enterprise).model_copy(update={"occurred_at": START - timedelta(days=1)})
    await incentives.on_award_granted(world.repos, world.clock, "evt-late", earlier)
    [fiscal] = await incentive_register.entries(world.repos, IncentiveFilter(kind=IncentiveKind.FISCAL))
    assert fiscal.certification_id == first
