"""Alliance membership lifecycle and the council's composition rule."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date, timedelta

import pytest

from alliance_registry.domain.council import Council, SeatAssignment
from alliance_registry.domain.membership import Membership
from alliance_shared.contract.registry import (
    CouncilChange,
    CouncilChanged,
    CouncilPosition,
    MembershipAction,
    MembershipChanged,
    MembershipStatus,
)
from alliance_shared.contract.vocabulary import PartnerKind
from alliance_shared.errors import DomainError, InvalidTransition, NotFound
from tests.unit.registry.registry_support import (
    ADMIN,
    AGENCY_ID,
    ASSOCIATION_ID,
    COLLEGE_ID,
    ENTERPRISE_ID,
    INSTITUTE_ID,
    NOW,
    PARTNERS,
    only_event,
)

LATER = NOW + timedelta(days=1)


def applied() -> Membership:
    membership = Membership.apply(PARTNERS[ENTERPRISE_ID], reason="wants to join", now=NOW, actor_id=ADMIN)
    membership.events.clear()
    return membership


def admitted() -> Membership:
    membership = applied()
    membership.admit(reason="council resolution 2026-03", now=NOW, actor_id=ADMIN)
    membership.events.clear()
    return membership


def suspended() -> Membership:
    membership = admitted()
    membership.suspend(reason="dues unpaid", now=NOW, actor_id=ADMIN)
    membership.events.clear()
    return membership


def withdrawn() -> Membership:
    membership = admitted()
    membership.withdraw(reason="left", now=NOW, actor_id=ADMIN)
    membership.events.clear()
    return membership


def expelled() -> Membership:
    membership = admitted()
    membership.expel(reason="fraud", now=NOW, actor_id=ADMIN)
    membership.events.clear()
    return membership


def rejected() -> Membership:
    membership = applied()
    membership.reject(reason="no cooperation record yet", now=NOW, actor_id=ADMIN)
    membership.events.clear()
    return membership


STATES: dict[MembershipStatus, Callable[[], Membership]] = {
    MembershipStatus.APPLIED: applied,
    MembershipStatus.REJECTED: rejected,
    MembershipStatus.ADMITTED: admitted,
    MembershipStatus.SUSPENDED: suspended,
    MembershipStatus.WITHDRAWN: withdrawn,
    MembershipStatus.EXPELLED: expelled,
}

LEGAL: dict[tuple[MembershipStatus, MembershipAction], MembershipStatus] = {
    (MembershipStatus.APPLIED, MembershipAction.ADMIT): MembershipStatus.ADMITTED,
    (MembershipStatus.APPLIED, MembershipAction.REJECT): MembershipStatus.REJECTED,
    (MembershipStatus.APPLIED, MembershipAction.WITHDRAW): MembershipStatus.WITHDRAWN,
    (MembershipStatus.ADMITTED, MembershipAction.SUSPEND): MembershipStatus.SUSPENDED,
    (MembershipStatus.ADMITTED, MembershipAction.WITHDRAW): MembershipStatus.WITHDRAWN,
    (MembershipStatus.ADMITTED, MembershipAction.EXPEL): MembershipStatus.EXPELLED,
    (MembershipStatus.SUSPENDED, MembershipAction.REINSTATE): MembershipStatus.ADMITTED,
    (MembershipStatus.SUSPENDED, MembershipAction.WITHDRAW): MembershipStatus.WITHDRAWN,
    (MembershipStatus.SUSPENDED, MembershipAction.EXPEL): MembershipStatus.EXPELLED,
}

ACTIONS = [a for a in MembershipAction if a is not MembershipAction.APPLY]


def act(membership: Membership, action: MembershipAction) -> None:
    method = getattr(membership, action.value)
    method(reason=f"reason to {action.value}", now=LATER, actor_id="sec-li")


def test_apply_records_history_and_event() -> None:
    membership = Membership.apply(PARTNERS[ENTERPRISE_ID], reason="wants to join", now=NOW, actor_id=ADMIN)
    assert membership.status is MembershipStatus.APPLIED
    assert [(s.action, s.from_status, s.to_status) for s in membership.history] == [
        (MembershipAction.APPLY, None, MembershipStatus.APPLIED)
    ]
    event = only_event(membership.events)
    assert isinstance(event, MembershipChanged)
    assert event.partner_kind is PartnerKind.ENTERPRISE
    assert (event.from_status, event.to_status, event.reason) == (None, MembershipStatus.APPLIED, "wants to join")


def test_a_deactivated_partner_cannot_apply() -> None:
    gone = PARTNERS[ENTERPRISE_ID].model_copy(update={"active": False})
    with pytest.raises(DomainError) as raised:
        Membership.apply(gone, reason="r", now=NOW, actor_id=ADMIN)
    assert raised.value.code == "membership.inactive_partner"


@pytest.mark.parametrize("status", list(MembershipStatus))
@pytest.mark.parametrize("action", ACTIONS)
def test_every_transition(status: MembershipStatus, action: MembershipAction) -> None:
    membership = STATES[status]()
    history_before = len(membership.history)
    target = LEGAL.get((status, action))
    if target is None:
        with pytest.raises(InvalidTransition) as raised:
            act(membership, action)
        assert raised.value.code == "membership.illegal_transition"
        assert membership.status is status
        assert membership.events == []
        return
    act(membership, action)
    assert membership.status is target
    step = membership.history[-1]
    assert len(membership.history) == history_before + 1
    assert (step.action, step.from_status, step.to_status) == (action, status, target)
    assert (step.reason, step.actor_id, step.at) == (f"reason to {action.value}", "sec-li", LATER)
    event = only_event(membership.events)
    assert isinstance(event, MembershipChanged)
    assert (event.action, event.from_status, event.to_status) == (action, status, target)
    assert (event.partner_id, event.actor_id, event.occurred_at) == (ENTERPRISE_ID, "sec-li", LATER)


def test_a_rejected_applicant_may_apply_again_on_the_same_record() -> None:
    membership = rejected()
    membership.apply_again(PARTNERS[ENTERPRISE_ID], reason="second letter", now=LATER, actor_id="ent-user")
    assert membership.status is MembershipStatus.APPLIED
    assert [s.action for s in membership.history] == [
        MembershipAction.APPLY,
        MembershipAction.REJECT,
        MembershipAction.APPLY,
    ]
    event = only_event(membership.events)
    assert isinstance(event, MembershipChanged)
    assert (event.from_status, event.to_status) == (MembershipStatus.REJECTED, MembershipStatus.APPLIED)
    with pytest.raises(InvalidTransition):
        applied().apply_again(PARTNERS[ENTERPRISE_ID], reason="twice", now=LATER, actor_id="ent-user")


def test_suspended_and_reinstated_is_admitted_again() -> None:
    membership = suspended()
    assert not membership.is_member
    membership.reinstate(reason="dues paid", now=LATER, actor_id=ADMIN)
    assert membership.is_member


def test_membership_document_round_trip() -> None:
    membership = suspended()
    assert Membership.from_document(membership.to_document()) == membership


# --- council ----------------------------------------------------------------------------

MEMBERS = {pid: summary.kind for pid, summary in PARTNERS.items()}
TERM = (date(2026, 1, 1), date(2029, 12, 31))


def seat(partner_id: str, position: CouncilPosition = CouncilPosition.DIRECTOR) -> SeatAssignment:
    return SeatAssignment(
        position=position,
        partner_id=partner_id,
        representative=f"rep of {partner_id}",
        term_start=TERM[0],
        term_end=TERM[1],
    )


BALANCED = [
    seat(COLLEGE_ID, CouncilPosition.CHAIR),
    seat(ENTERPRISE_ID, CouncilPosition.VICE_CHAIR),
    seat(AGENCY_ID),
]


def constituted() -> Council:
    council = Council.constitute(
        council_id="council", seats=BALANCED, members=MEMBERS, reason="founding assembly", now=NOW, actor_id=ADMIN
    )
    council.events.clear()
    return council


def test_constitute_a_balanced_council() -> None:
    council = Council.constitute(
        council_id="council", seats=BALANCED, members=MEMBERS, reason="founding assembly", now=NOW, actor_id=ADMIN
    )
    event = only_event(council.events)
    assert isinstance(event, CouncilChanged)
    assert event.change is CouncilChange.CONSTITUTED
    assert event.partner_id is None
    assert [(s.position, s.partner_id, s.partner_kind) for s in event.seats] == [
        (CouncilPosition.CHAIR, COLLEGE_ID, PartnerKind.COLLEGE),
        (CouncilPosition.VICE_CHAIR, ENTERPRISE_ID, PartnerKind.ENTERPRISE),
        (CouncilPosition.DIRECTOR, AGENCY_ID, PartnerKind.GOVERNMENT_AGENCY),
    ]
    assert event.seats[0].term_start == TERM[0]


@pytest.mark.parametrize(
    ("seats", "missing"),
    [
        ([seat(ENTERPRISE_ID), seat(AGENCY_ID)], ["college"]),
        ([seat(COLLEGE_ID), seat(ASSOCIATION_ID)], ["enterprise"]),
        ([seat(COLLEGE_ID), seat(ENTERPRISE_ID), seat(INSTITUTE_ID)], ["government_agency_or_industry_association"]),
        ([], ["college", "enterprise", "government_agency_or_industry_association"]),
    ],
)
def test_constitute_refuses_an_unbalanced_council(seats: list[SeatAssignment], missing: list[str]) -> None:
    with pytest.raises(DomainError) as raised:
        Council.constitute(council_id="c", seats=seats, members=MEMBERS, reason="r", now=NOW, actor_id=ADMIN)
    assert raised.value.code == "council.composition"
    assert raised.value.extensions["missing"] == missing


def test_an_industry_association_satisfies_the_third_group() -> None:
    seats = [seat(COLLEGE_ID), seat(ENTERPRISE_ID), seat(ASSOCIATION_ID)]
    council = Council.constitute(council_id="c", seats=seats, members=MEMBERS, reason="r", now=NOW, actor_id=ADMIN)
    assert len(council.seats) == 3


def test_vacating_the_only_enterprise_seat_is_refused() -> None:
    council = constituted()
    with pytest.raises(DomainError) as raised:
        council.vacate_seat(ENTERPRISE_ID, reason="term over", now=LATER, actor_id=ADMIN)
    assert raised.value.code == "council.composition"
    assert len(council.seats) == 3
    assert council.events == []


def test_vacate_when_the_group_stays_represented() -> None:
    council = constituted()
    council.assign_seat(seat(ASSOCIATION_ID), members=MEMBERS, reason="elected", now=LATER, actor_id=ADMIN)
    assigned = only_event(council.events)
    assert isinstance(assigned, CouncilChanged)
    assert (assigned.change, assigned.partner_id, len(assigned.seats)) == (
        CouncilChange.SEAT_ASSIGNED,
        ASSOCIATION_ID,
        4,
    )
    council.events.clear()
    council.vacate_seat(AGENCY_ID, reason="agency left", now=LATER, actor_id=ADMIN)
    vacated = only_event(council.events)
    assert isinstance(vacated, CouncilChanged)
    assert vacated.change is CouncilChange.SEAT_VACATED
    assert vacated.reason == "agency left"
    assert AGENCY_ID not in {s.partner_id for s in vacated.seats}


def test_reassigning_a_member_replaces_its_seat_but_keeps_the_balance() -> None:
    council = constituted()
    council.assign_seat(
        seat(ENTERPRISE_ID, CouncilPosition.DIRECTOR), members=MEMBERS, reason="moved", now=LATER, actor_id=ADMIN
    )
    assert [s.position for s in council.seats if s.partner_id == ENTERPRISE_ID] == [CouncilPosition.DIRECTOR]
    assert len(council.seats) == 3


def test_seats_go_to_members_only_with_a_proper_term_and_one_chair() -> None:
    council = constituted()
    with pytest.raises(DomainError) as raised:
        council.assign_seat(seat("ent-999"), members=MEMBERS, reason="r", now=LATER, actor_id=ADMIN)
    assert raised.value.code == "council.not_a_member"
    backwards = SeatAssignment(
        position=CouncilPosition.SUPERVISOR,
        partner_id=INSTITUTE_ID,
        representative="x",
        term_start=TERM[1],
        term_end=TERM[0],
    )
    with pytest.raises(DomainError) as raised:
        council.assign_seat(backwards, members=MEMBERS, reason="r", now=LATER, actor_id=ADMIN)
    assert raised.value.code == "council.term_invalid"
    with pytest.raises(DomainError) as raised:
        council.assign_seat(
            seat(INSTITUTE_ID, CouncilPosition.CHAIR), members=MEMBERS, reason="r", now=LATER, actor_id=ADMIN
        )
    assert raised.value.code == "council.single_chair"
    with pytest.raises(DomainError) as raised:
        Council.constitute(
            council_id="c", seats=[*BALANCED, seat(COLLEGE_ID)], members=MEMBERS, reason="r", now=NOW, actor_id=ADMIN
        )
    assert raised.value.code == "council.duplicate_partner"
    assert council.events == []


def test_vacating_a_seat_nobody_holds() -> None:
    with pytest.raises(NotFound):
        constituted().vacate_seat(INSTITUTE_ID, reason="r", now=LATER, actor_id=ADMIN)


def test_seats_in_term_and_document_round_trip() -> None:
    council = constituted()
    assert len(council.seats_in_term(date(2027, 6, 1))) == 3
    assert council.seats_in_term(date(2030, 1, 1)) == []
    document = council.to_document()
    assert document["seats"][0]["term_start"] == "2026-01-01"
    assert Council.from_document(document) == council
