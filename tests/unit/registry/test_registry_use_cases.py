"""Every registry command as a use case, on the in-memory store twin and a manual clock.

Each command: it succeeds (the events and the audit entry it writes), it is refused (and
writes nothing), and If-Match is exact. These run in about a second; the same commands
run on the real servers in tests/integration/registry/, which these never replace.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest

from alliance_registry.domain.council import SeatAssignment
from alliance_registry.domain.credit_code import with_check_character
from alliance_registry.domain.partner import PartnerDetails
from alliance_registry.service import agreements, certification, council, credit_codes, membership, partners, queries
from alliance_registry.service.agreements import AgreementAction
from alliance_registry.service.ports import CreditCodeClaim
from alliance_registry.service.repositories import STORES, Repositories
from alliance_registry.service.schedule import run_due
from alliance_registry.testing import InMemoryCreditCodeClaims
from alliance_shared.contract.registry import AgreementStatus, CouncilPosition, PartyRole
from alliance_shared.contract.vocabulary import PartnerKind
from alliance_shared.errors import Conflict, DomainError, InvalidTransition, NotFound, PreconditionFailed
from alliance_shared.testing import InMemoryVersionedStore, ManualClock
from tests.unit.registry.registry_support import (
    ADMIN,
    CONTACT,
    agreement_draft,
    college_details,
    enterprise_details,
)

START = datetime(2026, 3, 2, 1, 0, tzinfo=UTC)  # 09:00 in China


def short_type(event_type: str) -> str:
    """``org.coopalliance.registry.partner.registered.v1`` → ``partner.registered``."""
    return re.sub(r"^org\.coopalliance\.registry\.|\.v\d+$", "", event_type)


def code(serial: int) -> str:
    return with_check_character(f"914403{serial:011d}")


@dataclass
class World:
    repos: Repositories
    stores: dict[str, InMemoryVersionedStore]
    claims: InMemoryCreditCodeClaims
    clock: ManualClock
    marks: dict[str, int]

    def written(self) -> list[tuple[str, str]]:
        """(kind, event type or audit action) of every outbox entry since the last call."""
        found: list[tuple[str, str]] = []
        for name, store in self.stores.items():
            for entry in store.outbox[self.marks.get(name, 0) :]:
                if entry["kind"] == "event":
                    found.append(("event", short_type(entry["event"]["type"])))
                else:
                    found.append(("audit", entry["audit"]["action"]))
            self.marks[name] = len(store.outbox)
        return found

    def events(self) -> list[str]:
        return [what for kind, what in self.written() if kind == "event"]

    async def partner(self, details: PartnerDetails) -> str:
        outcome = await partners.register(self.repos, self.clock, details, [CONTACT], ADMIN)
        return outcome.item.partner_id

    async def enterprise(self, serial: int, **changes: Any) -> str:
        return await self.partner(enterprise_details(credit_code=code(serial), **changes))

    async def college(self, serial: int) -> str:
        return await self.partner(college_details(credit_code=code(serial)))

    async def member(self, partner_id: str) -> None:
        await membership.apply(self.repos, self.clock, partner_id, "letter", ADMIN)
        await membership.change_status(self.repos, self.clock, partner_id, "admit", "board", None, ADMIN)

    async def draft(self, start: date = date(2026, 3, 1), end: date = date(2029, 2, 28)) -> tuple[str, str, str, str]:
        """A drafted agreement of a college, an enterprise and an agency: (id, college, enterprise, agency)."""
        college, enterprise = await self.college(1001), await self.enterprise(1002)
        agency = await self.partner(
            enterprise_details(
                kind=PartnerKind.GOVERNMENT_AGENCY, credit_code=code(1003), sector_code="S92", enterprise=None
            )
        )
        terms = agreement_draft(
            parties=[
                {"partner_id": college, "role": PartyRole.LEAD},
                {"partner_id": enterprise, "role": PartyRole.PARTICIPANT},
                {"partner_id": agency, "role": PartyRole.SPONSOR},
            ],
            obligations=[],
            start_date=start,
            end_date=end,
        )
        outcome = await agreements.draft(self.repos, self.clock, terms, ADMIN)
        return outcome.item.agreement_id, college, enterprise, agency

    async def signed(self, **dates: date) -> str:
        agreement_id, *parties = await self.draft(**dates)
        for party in parties:
            await agreements.sign(self.repos, self.clock, agreement_id, party, None, party)
        return agreement_id


@pytest.fixture
def world() -> World:
    stores = {name: InMemoryVersionedStore(name) for name in STORES}
    claims = InMemoryCreditCodeClaims()
    return World(Repositories(stores.__getitem__, claims), stores, claims, ManualClock(START), {})


async def versions(world: World, store: str, aggregate_id: str) -> int:
    return len(await world.stores[store].history(aggregate_id))


# --- partners -----------------------------------------------------------------------------


async def test_register_claims_the_code_and_announces_the_partner(world: World) -> None:
    outcome = await partners.register(world.repos, world.clock, enterprise_details(), [CONTACT], ADMIN)
    assert outcome.written
    assert outcome.version == 1
    assert outcome.item.registered_at == START
    assert world.written() == [("event", "partner.registered"), ("audit", "partner.registered")]
    holder = await world.claims.holder(outcome.item.credit_code)
    assert holder == CreditCodeClaim(outcome.item.credit_code, outcome.item.partner_id, START)


async def test_a_second_registration_of_a_code_is_refused_and_writes_nothing(world: World) -> None:
    first = await world.enterprise(1)
    world.written()
    with pytest.raises(Conflict) as refused:
        await world.enterprise(1, name_zh="另一家公司")
    assert refused.value.code == "partner.credit_code_taken"
    assert refused.value.extensions["partner_id"] == first
    assert world.written() == []


async def test_a_stale_claim_without_partner_is_taken_over_a_fresh_one_is_not(world: World) -> None:
    await world.claims.insert(CreditCodeClaim(code(7), "ent-crashed", START))
    with pytest.raises(Conflict):
        await world.enterprise(7)
    world.clock.advance(credit_codes.STALE_AFTER + timedelta(seconds=1))
    partner_id = await world.enterprise(7)
    assert (await world.claims.holder(code(7))) == CreditCodeClaim(code(7), partner_id, world.clock.now())


async def test_update_needs_the_current_version_and_moves_the_code_claim(world: World) -> None:
    partner_id = await world.enterprise(1)
    world.written()
    for stale_or_future in (0, 2):
        with pytest.raises(PreconditionFailed) as refused:
            await partners.update(world.repos, world.clock, partner_id, enterprise_details(), stale_or_future, ADMIN)
        assert refused.value.code == "aggregate.version_conflict"
    new = enterprise_details(credit_code=code(2), name_zh="鹏城精密二期")
    world.clock.advance(timedelta(hours=1))
    outcome = await partners.update(world.repos, world.clock, partner_id, new, 1, ADMIN)
    assert outcome.version == 2
    assert outcome.item.updated_at == world.clock.now()
    assert world.written() == [("event", "partner.updated"), ("audit", "partner.updated")]
    assert await world.claims.holder(code(1)) is None
    assert (await world.claims.holder(code(2))) is not None


async def test_an_update_that_changes_nothing_writes_nothing(world: World) -> None:
    partner_id = await world.enterprise(1)
    world.written()
    outcome = await partners.update(
        world.repos, world.clock, partner_id, enterprise_details(credit_code=code(1)), 1, ADMIN
    )
    assert not outcome.written
    assert outcome.version == 1
    assert world.written() == []


async def test_contacts_are_replaced_and_stay_out_of_the_audit_trail(world: World) -> None:
    partner_id = await world.enterprise(1)
    world.written()
    with pytest.raises(PreconditionFailed):
        await partners.update_contacts(world.repos, world.clock, partner_id, [], 3, ADMIN)
    outcome = await partners.update_contacts(world.repos, world.clock, partner_id, [], 1, ADMIN)
    assert not outcome.item.contacts
    assert world.written() == [("event", "partner.updated"), ("audit", "partner.contacts_updated")]
    audit = world.stores["partners"].outbox[-1]["audit"]
    assert (audit["action"], audit["before"], audit["after"]) == (
        "partner.contacts_updated",
        {"contacts": 1},
        {"contacts": 0},
    )


async def test_deactivate_once_then_refused(world: World) -> None:
    partner_id = await world.enterprise(1)
    world.written()
    outcome = await partners.deactivate(world.repos, world.clock, partner_id, "merged", None, ADMIN)
    assert outcome.item.deactivated_at == START
    assert world.written() == [("event", "partner.deactivated"), ("audit", "partner.deactivated")]
    with pytest.raises(InvalidTransition):
        await partners.deactivate(world.repos, world.clock, partner_id, "again", None, ADMIN)
    with pytest.raises(NotFound):
        await partners.deactivate(world.repos, world.clock, "ent-none", "r", None, ADMIN)
    assert world.written() == []


# --- membership and council -------------------------------------------------------------


async def test_membership_lifecycle_and_its_refusals(world: World) -> None:
    partner_id = await world.enterprise(1)
    world.written()
    applied = await membership.apply(world.repos, world.clock, partner_id, "letter", ADMIN)
    assert applied.version == 1
    assert world.written() == [("event", "membership.changed"), ("audit", "membership.applied")]
    with pytest.raises(Conflict) as exists:
        await membership.apply(world.repos, world.clock, partner_id, "again", ADMIN)
    assert exists.value.code == "membership.exists"
    with pytest.raises(NotFound):
        await membership.apply(world.repos, world.clock, "ent-none", "letter", ADMIN)
    with pytest.raises(InvalidTransition):
        await membership.change_status(world.repos, world.clock, partner_id, "reinstate", "r", None, ADMIN)
    for action in ("admit", "suspend", "reinstate", "expel"):
        outcome = await membership.change_status(world.repos, world.clock, partner_id, action, "board", None, ADMIN)
        assert world.written() == [("event", "membership.changed"), ("audit", f"membership.{action}")]
    assert outcome.item.status.value == "expelled"
    assert outcome.version == 5
    with pytest.raises(PreconditionFailed):
        await membership.change_status(world.repos, world.clock, partner_id, "withdraw", "r", 4, ADMIN)
    with pytest.raises(InvalidTransition):
        await membership.change_status(world.repos, world.clock, partner_id, "withdraw", "r", 5, ADMIN)
    assert world.written() == []


async def test_withdraw_from_an_application(world: World) -> None:
    partner_id = await world.enterprise(1)
    await membership.apply(world.repos, world.clock, partner_id, "letter", ADMIN)
    outcome = await membership.change_status(world.repos, world.clock, partner_id, "withdraw", "r", 1, ADMIN)
    assert outcome.item.status.value == "withdrawn"


async def seated_council(world: World) -> tuple[str, str, str]:
    college, enterprise = await world.college(1), await world.enterprise(2)
    association = await world.partner(
        enterprise_details(
            kind=PartnerKind.INDUSTRY_ASSOCIATION, credit_code=code(3), sector_code="S92", enterprise=None
        )
    )
    for partner_id in (college, enterprise, association):
        await world.member(partner_id)
    return college, enterprise, association


def seat(partner_id: str, position: CouncilPosition = CouncilPosition.DIRECTOR) -> SeatAssignment:
    return SeatAssignment(
        position=position,
        partner_id=partner_id,
        representative="张伟",
        term_start=date(2026, 1, 1),
        term_end=date(2028, 12, 31),
    )


async def test_council_constitute_assign_vacate(world: World) -> None:
    college, enterprise, association = await seated_council(world)
    with pytest.raises(DomainError) as composition:
        await council.constitute(world.repos, world.clock, [seat(college), seat(enterprise)], "founding", ADMIN)
    assert composition.value.code == "council.composition"
    world.written()
    seats = [seat(college, CouncilPosition.CHAIR), seat(enterprise), seat(association)]
    constituted = await council.constitute(world.repos, world.clock, seats, "founding", ADMIN)
    assert constituted.version == 1
    assert world.written() == [("event", "council.changed"), ("audit", "council.constituted")]
    with pytest.raises(Conflict) as exists:
        await council.constitute(world.repos, world.clock, seats, "again", ADMIN)
    assert exists.value.code == "council.exists"

    second = await world.enterprise(4)
    with pytest.raises(DomainError) as not_member:
        await council.assign_seat(world.repos, world.clock, seat(second), "elected", None, ADMIN)
    assert not_member.value.code == "council.not_a_member"
    await world.member(second)
    world.written()
    with pytest.raises(PreconditionFailed):
        await council.assign_seat(world.repos, world.clock, seat(second), "elected", 2, ADMIN)
    assigned = await council.assign_seat(world.repos, world.clock, seat(second), "elected", 1, ADMIN)
    assert assigned.version == 2
    assert world.written() == [("event", "council.changed"), ("audit", "council.seat_assigned")]

    with pytest.raises(DomainError) as breaks:
        await council.vacate_seat(world.repos, world.clock, association, "term over", None, ADMIN)
    assert breaks.value.code == "council.composition"
    with pytest.raises(NotFound):
        await council.vacate_seat(world.repos, world.clock, "ent-none", "term over", None, ADMIN)
    vacated = await council.vacate_seat(world.repos, world.clock, second, "term over", 2, ADMIN)
    assert vacated.version == 3
    assert second not in {s.partner_id for s in vacated.item.seats}
    assert world.written() == [("event", "council.changed"), ("audit", "council.seat_vacated")]


async def test_seats_need_a_constituted_council(world: World) -> None:
    college, *_ = await seated_council(world)
    with pytest.raises(NotFound) as missing:
        await council.assign_seat(world.repos, world.clock, seat(college), "elected", None, ADMIN)
    assert missing.value.code == "council.not_constituted"


# --- certification ----------------------------------------------------------------------


async def test_certification_apply_grant_revoke_and_expire(world: World) -> None:
    enterprise = await world.enterprise(1)
    world.written()
    applied = await certification.apply(world.repos, world.clock, enterprise, ADMIN)
    cid = applied.item.certification_id
    assert cid == f"cert-{enterprise}-001"
    assert world.written() == [("event", "certification.applied"), ("audit", "certification.applied")]
    with pytest.raises(Conflict) as open_exists:
        await certification.apply(world.repos, world.clock, enterprise, ADMIN)
    assert open_exists.value.code == "certification.open_exists"

    valid_to = START + timedelta(days=30)
    grant: dict[str, Any] = {"certificate_number": "粤〔2026〕1号", "valid_from": START, "valid_to": valid_to}
    with pytest.raises(PreconditionFailed):
        await certification.grant(world.repos, world.clock, cid, **grant, expected=9, actor_id=ADMIN)
    granted = await certification.grant(world.repos, world.clock, cid, **grant, expected=1, actor_id=ADMIN)
    assert granted.item.status.value == "certified"
    assert world.written() == [("event", "certification.granted"), ("audit", "certification.granted")]
    assert (await queries.profile(world.repos, world.clock, enterprise)).certified_now

    # The periodic check expires it once, whoever runs it how often.
    assert (await run_due(world.repos, valid_to - timedelta(seconds=1))).expired == 0
    assert (await run_due(world.repos, valid_to)).expired == 1
    assert (await run_due(world.repos, valid_to)).expired == 0
    assert world.written() == [("event", "certification.expired"), ("audit", "certification.expired")]
    with pytest.raises(InvalidTransition):
        await certification.revoke(world.repos, world.clock, cid, "fraud", None, ADMIN)

    second = await certification.apply(world.repos, world.clock, enterprise, ADMIN)
    cid2 = second.item.certification_id
    assert cid2.endswith("-002")
    await certification.grant(world.repos, world.clock, cid2, **grant, expected=None, actor_id=ADMIN)
    world.written()
    revoked = await certification.revoke(world.repos, world.clock, cid2, "fraud", 2, ADMIN)
    assert revoked.item.status.value == "revoked"
    assert world.written() == [("event", "certification.revoked"), ("audit", "certification.revoked")]


async def test_rejected_applications_are_decided_with_a_reason_and_may_come_again(world: World) -> None:
    enterprise = await world.enterprise(1)
    world.written()
    await membership.apply(world.repos, world.clock, enterprise, "letter", enterprise)
    rejected = await membership.change_status(world.repos, world.clock, enterprise, "reject", "no record", None, ADMIN)
    assert rejected.item.status.value == "rejected"
    again = await membership.apply(world.repos, world.clock, enterprise, "second letter", enterprise)
    assert (again.item.status.value, again.version) == ("applied", 3)
    assert world.written() == [
        ("event", "membership.changed"),
        ("audit", "membership.applied"),
        ("event", "membership.changed"),
        ("audit", "membership.reject"),
        ("event", "membership.changed"),
        ("audit", "membership.applied"),
    ]

    applied = await certification.apply(world.repos, world.clock, enterprise, enterprise)
    cid = applied.item.certification_id
    world.written()
    refused = await certification.reject(world.repos, world.clock, cid, "no evidence", 1, ADMIN)
    assert (refused.item.status.value, refused.item.decision_reason) == ("rejected", "no evidence")
    assert world.written() == [("event", "certification.rejected"), ("audit", "certification.rejected")]
    with pytest.raises(InvalidTransition):
        await certification.reject(world.repos, world.clock, cid, "twice", None, ADMIN)
    second = await certification.apply(world.repos, world.clock, enterprise, enterprise)
    assert second.item.certification_id.endswith("-002")


async def test_certification_of_a_missing_partner_is_refused(world: World) -> None:
    with pytest.raises(NotFound):
        await certification.apply(world.repos, world.clock, "ent-none", ADMIN)
    with pytest.raises(NotFound):
        await certification.revoke(world.repos, world.clock, "cert-none", "r", None, ADMIN)
    assert world.written() == []


# --- agreements -------------------------------------------------------------------------


async def test_draft_and_sign_until_active(world: World) -> None:
    agreement_id, college, enterprise, agency = await world.draft()
    assert world.written()[-2:] == [("event", "agreement.drafted"), ("audit", "agreement.drafted")]
    with pytest.raises(DomainError) as not_party:
        await agreements.sign(world.repos, world.clock, agreement_id, "ent-other", None, ADMIN)
    assert not_party.value.code == "agreement.not_a_party"
    await agreements.sign(world.repos, world.clock, agreement_id, college, 1, college)
    with pytest.raises(PreconditionFailed):
        await agreements.sign(world.repos, world.clock, agreement_id, enterprise, 1, enterprise)
    await agreements.sign(world.repos, world.clock, agreement_id, enterprise, 2, enterprise)
    with pytest.raises(Conflict):
        await agreements.sign(world.repos, world.clock, agreement_id, enterprise, None, enterprise)
    world.written()
    last = await agreements.sign(world.repos, world.clock, agreement_id, agency, None, ADMIN)
    assert last.item.status is AgreementStatus.ACTIVE  # its term began on 1 March
    assert world.events() == ["agreement.party_signed", "agreement.signed", "agreement.activated"]


async def test_draft_with_an_unknown_party_is_refused(world: World) -> None:
    college = await world.college(1)
    world.written()
    terms = agreement_draft(
        parties=[{"partner_id": college, "role": PartyRole.LEAD}, {"partner_id": "ent-none", "role": "participant"}],
        obligations=[],
    )
    with pytest.raises(DomainError) as unknown:
        await agreements.draft(world.repos, world.clock, terms, ADMIN)
    assert unknown.value.code == "agreement.unknown_party"
    assert world.written() == []


async def test_activate_amend_suspend_resume_terminate(world: World) -> None:
    agreement_id = await world.signed(start=date(2026, 4, 1), end=date(2029, 3, 31))
    loaded = await queries.get_agreement(world.repos, agreement_id)
    assert loaded.item.status is AgreementStatus.SIGNED
    with pytest.raises(DomainError) as early:
        await agreements.activate(world.repos, world.clock, agreement_id, None, ADMIN)
    assert early.value.code == "agreement.not_started"

    terms = loaded.item.terms
    draft = agreement_draft(
        parties=[{"partner_id": p.partner_id, "role": p.role} for p in terms.parties],
        obligations=[],
        start_date=date(2026, 3, 1),
        end_date=date(2029, 3, 31),
    )
    with pytest.raises(PreconditionFailed):
        await agreements.amend(world.repos, world.clock, agreement_id, draft, "earlier start", 1, ADMIN)
    world.written()
    proposed = await agreements.amend(world.repos, world.clock, agreement_id, draft, "earlier start", 4, ADMIN)
    assert proposed.item.terms_version == 1
    assert world.written() == [("event", "agreement.amendment_proposed"), ("audit", "agreement.amendment_proposed")]
    party_ids = list(terms.party_ids)
    for party in party_ids[:-1]:
        await agreements.sign_amendment(world.repos, world.clock, agreement_id, party, None, party)
    assert world.written() == [("event", "agreement.amendment_signed"), ("audit", "agreement.amendment_signed")] * (
        len(party_ids) - 1
    )
    with pytest.raises(PreconditionFailed):
        await agreements.sign_amendment(world.repos, world.clock, agreement_id, party_ids[-1], 4, party_ids[-1])
    amended = await agreements.sign_amendment(world.repos, world.clock, agreement_id, party_ids[-1], None, ADMIN)
    assert amended.item.terms_version == 2
    assert amended.item.terms.start_date == date(2026, 3, 1)
    assert world.written() == [
        ("event", "agreement.amendment_signed"),
        ("event", "agreement.amended"),
        ("audit", "agreement.amendment_signed"),
    ]
    with pytest.raises(DomainError) as empty:
        await agreements.amend(world.repos, world.clock, agreement_id, draft, "again", amended.version, ADMIN)
    assert empty.value.code == "agreement.amendment_empty"
    withdrawn_draft = agreement_draft(
        parties=[{"partner_id": p.partner_id, "role": p.role} for p in terms.parties],
        obligations=[],
        start_date=date(2026, 3, 2),
        end_date=date(2029, 3, 31),
    )
    proposal = await agreements.amend(
        world.repos, world.clock, agreement_id, withdrawn_draft, "one day later", amended.version, ADMIN
    )
    world.written()
    withdrawn = await agreements.withdraw_amendment(world.repos, world.clock, agreement_id, "wrong date", None, ADMIN)
    assert withdrawn.item.pending_amendment is None
    assert withdrawn.item.terms.start_date == date(2026, 3, 1)
    assert world.written() == [("event", "agreement.amendment_withdrawn"), ("audit", "agreement.amendment_withdrawn")]
    with pytest.raises(Conflict):
        await agreements.withdraw_amendment(world.repos, world.clock, agreement_id, "again", None, ADMIN)
    assert proposal.version + 1 == withdrawn.version

    active = await agreements.activate(world.repos, world.clock, agreement_id, withdrawn.version, ADMIN)
    assert active.item.status is AgreementStatus.ACTIVE
    assert world.written() == [("event", "agreement.activated"), ("audit", "agreement.activated")]
    with pytest.raises(InvalidTransition):
        await agreements.change_status(world.repos, world.clock, agreement_id, "resume", "r", None, ADMIN)
    steps: tuple[tuple[AgreementAction, str], ...] = (
        ("suspend", "suspended"),
        ("resume", "resumed"),
        ("terminate", "terminated"),
    )
    for action, event in steps:
        outcome = await agreements.change_status(world.repos, world.clock, agreement_id, action, "r", None, ADMIN)
        assert world.written() == [("event", f"agreement.{event}"), ("audit", f"agreement.{action}")]
    assert outcome.item.status is AgreementStatus.TERMINATED


async def test_the_periodic_check_starts_and_completes_agreements_once(world: World) -> None:
    agreement_id = await world.signed(start=date(2026, 4, 1), end=date(2026, 12, 31))
    world.written()
    at_start = datetime(2026, 4, 1, 1, 0, tzinfo=UTC)
    assert (await run_due(world.repos, at_start - timedelta(days=1))).activated == 0
    assert (await run_due(world.repos, at_start)).activated == 1
    assert (await run_due(world.repos, at_start)).activated == 0
    after_end = datetime(2027, 1, 1, 1, 0, tzinfo=UTC)
    assert (await run_due(world.repos, after_end)).completed == 1
    assert (await run_due(world.repos, after_end)).completed == 0
    assert world.events() == ["agreement.activated", "agreement.completed"]
    assert await versions(world, "agreements", agreement_id) == 6


# --- queries ----------------------------------------------------------------------------


async def test_list_filters_run_on_the_twin_as_on_the_server(world: World) -> None:
    enterprise = await world.enterprise(1)
    college = await world.college(2)
    await world.member(enterprise)
    page = await queries.list_partners(
        world.repos, world.clock, queries.PartnerFilter(kind=PartnerKind.ENTERPRISE), limit=10, cursor=None
    )
    assert [p.item.partner_id for p in page.items] == [enterprise]
    members = await queries.list_memberships(world.repos, None, limit=10, cursor=None)
    assert [m.item.partner_id for m in members.items] == [enterprise]
    certified = await queries.list_partners(
        world.repos, world.clock, queries.PartnerFilter(certified=False, region_prefix="4403"), limit=1, cursor=None
    )
    assert len(certified.items) == 1
    assert certified.next_cursor is not None
    rest = await queries.list_partners(
        world.repos,
        world.clock,
        queries.PartnerFilter(certified=False, region_prefix="4403"),
        limit=1,
        cursor=certified.next_cursor,
    )
    assert {certified.items[0].item.partner_id, rest.items[0].item.partner_id} == {enterprise, college}
    suggestions = await queries.match(world.repos, world.clock, college, [], 5)
    assert [s.partner_id for s in suggestions] == [enterprise]
