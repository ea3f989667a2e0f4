"""Cooperation agreements: validation, signing, lifecycle, amendments, and their events."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest

from alliance_registry.domain.agreement import Agreement, PartyInput
from alliance_shared.contract.base import EventPayload
from alliance_shared.contract.registry import (
    AgreementActivated,
    AgreementAmended,
    AgreementAmendmentProposed,
    AgreementAmendmentSigned,
    AgreementAmendmentWithdrawn,
    AgreementCompleted,
    AgreementDrafted,
    AgreementPartySigned,
    AgreementResumed,
    AgreementSigned,
    AgreementStatus,
    AgreementSuspended,
    AgreementTerminated,
    ObligationView,
    PartyRole,
)
from alliance_shared.contract.vocabulary import CooperationMode, Depth, ObligationMetric, ObligationPeriod, PartnerKind
from alliance_shared.errors import Conflict, DomainError, InvalidTransition
from tests.unit.registry.registry_support import (
    ADMIN,
    AGENCY_ID,
    ASSOCIATION_ID,
    COLLEGE_ID,
    ENTERPRISE_ID,
    INSTITUTE_ID,
    NOW,
    PARTNERS,
    active_agreement,
    agreement_draft,
    drafted_agreement,
    only_event,
    signed_agreement,
)

# 2026-09-01 00:00 in China is 2026-08-31 16:00 UTC.
START_IN_CHINA = datetime(2026, 8, 31, 16, 0, tzinfo=UTC)
LAST_DAY_IN_CHINA = datetime(2029, 8, 31, 15, 59, tzinfo=UTC)
AFTER_END_IN_CHINA = datetime(2029, 8, 31, 16, 0, tzinfo=UTC)
DURING = datetime(2027, 3, 1, tzinfo=UTC)


def parties(*pairs: tuple[str, PartyRole]) -> tuple[PartyInput, ...]:
    return tuple(PartyInput(partner_id=pid, role=role) for pid, role in pairs)


def assert_snapshot(event: EventPayload, agreement: Agreement, status: AgreementStatus) -> None:
    """The fields every agreement event carries: the whole agreement as it stands."""
    data = event.model_dump()
    assert data["agreement_id"] == agreement.agreement_id
    assert data["status"] is status
    assert data["version"] == agreement.terms_version
    assert data["party_ids"] == (COLLEGE_ID, ENTERPRISE_ID, AGENCY_ID)
    assert data["college_ids"] == (COLLEGE_ID,)
    assert data["enterprise_ids"] == (ENTERPRISE_ID,)
    assert [(p["partner_id"], p["kind"], p["role"], p["region_code"]) for p in data["parties"]] == [
        (COLLEGE_ID, PartnerKind.COLLEGE, PartyRole.LEAD, "440305"),
        (ENTERPRISE_ID, PartnerKind.ENTERPRISE, PartyRole.PARTICIPANT, "440305"),
        (AGENCY_ID, PartnerKind.GOVERNMENT_AGENCY, PartyRole.SPONSOR, "440300"),
    ]
    assert data["modes"] == agreement.terms.modes
    assert data["majors"] == agreement.terms.majors
    assert (data["start_date"], data["end_date"]) == (agreement.terms.start_date, agreement.terms.end_date)
    assert data["declared_depth"] is agreement.terms.declared_depth
    assert data["obligations"] == tuple(o.model_dump() for o in agreement.terms.obligations)


# --- drafting and validation ------------------------------------------------------------


def test_draft_emits_the_whole_agreement() -> None:
    agreement = Agreement.draft(
        agreement_id="agr-1", draft=agreement_draft(), partners=PARTNERS, now=NOW, actor_id=ADMIN
    )
    assert agreement.status is AgreementStatus.DRAFT
    assert agreement.terms_version == 1
    assert agreement.terms.modes == (CooperationMode.INTERNSHIP_BASE, CooperationMode.ORDER_CLASS)
    assert agreement.terms.majors == ("460103", "460104")
    event = only_event(agreement.events)
    assert isinstance(event, AgreementDrafted)
    assert_snapshot(event, agreement, AgreementStatus.DRAFT)
    assert event.title == "数控技术订单班协议"
    assert event.declared_depth is Depth.DEEP
    assert event.obligations[0].quantity == 40
    assert (event.occurred_at, event.actor_id) == (NOW, ADMIN)


@pytest.mark.parametrize(
    ("changes", "code"),
    [
        (
            {"parties": parties((ENTERPRISE_ID, PartyRole.LEAD), (AGENCY_ID, PartyRole.SPONSOR))},
            "agreement.no_college",
        ),
        (
            {"parties": parties((COLLEGE_ID, PartyRole.LEAD), (ASSOCIATION_ID, PartyRole.COORDINATOR))},
            "agreement.no_enterprise",
        ),
        (
            {
                "parties": parties(
                    (COLLEGE_ID, PartyRole.LEAD),
                    (ENTERPRISE_ID, PartyRole.PARTICIPANT),
                    ("ent-x", PartyRole.PARTICIPANT),
                )
            },
            "agreement.unknown_party",
        ),
        (
            {
                "parties": parties(
                    (COLLEGE_ID, PartyRole.LEAD),
                    (ENTERPRISE_ID, PartyRole.PARTICIPANT),
                    (COLLEGE_ID, PartyRole.PARTICIPANT),
                )
            },
            "agreement.duplicate_party",
        ),
        (
            {"parties": parties((COLLEGE_ID, PartyRole.LEAD), (ENTERPRISE_ID, PartyRole.LEAD))},
            "agreement.lead",
        ),
        (
            {"parties": parties((COLLEGE_ID, PartyRole.PARTICIPANT), (ENTERPRISE_ID, PartyRole.PARTICIPANT))},
            "agreement.lead",
        ),
        (
            {"parties": parties((COLLEGE_ID, PartyRole.LEAD), (ENTERPRISE_ID, PartyRole.SPONSOR))},
            "agreement.role_mismatch",
        ),
        (
            {
                "parties": parties(
                    (COLLEGE_ID, PartyRole.LEAD),
                    (ENTERPRISE_ID, PartyRole.PARTICIPANT),
                    (AGENCY_ID, PartyRole.PARTICIPANT),
                )
            },
            "agreement.role_mismatch",
        ),
        (
            {
                "parties": parties(
                    (INSTITUTE_ID, PartyRole.LEAD),
                    (COLLEGE_ID, PartyRole.PARTICIPANT),
                    (ENTERPRISE_ID, PartyRole.PARTICIPANT),
                )
            },
            "agreement.role_mismatch",
        ),
        ({"modes": frozenset()}, "agreement.no_modes"),
        ({"end_date": date(2026, 8, 1)}, "agreement.dates"),
        ({"end_date": date(2026, 9, 1)}, "agreement.dates"),
        ({"majors": ("4601x3",)}, "major_code_invalid"),
        (
            {
                "obligations": (
                    ObligationView(
                        party_id=INSTITUTE_ID,
                        metric=ObligationMetric.COURSES_CODEVELOPED,
                        quantity=2,
                        period=ObligationPeriod.TOTAL,
                    ),
                )
            },
            "agreement.obligation_party",
        ),
    ],
)
def test_draft_refuses_broken_terms(changes: dict[str, Any], code: str) -> None:
    with pytest.raises(DomainError) as raised:
        Agreement.draft(agreement_id="a", draft=agreement_draft(**changes), partners=PARTNERS, now=NOW, actor_id=ADMIN)
    assert raised.value.code == code


def test_unknown_party_names_the_ids() -> None:
    draft = agreement_draft(
        parties=parties(
            (COLLEGE_ID, PartyRole.LEAD), ("ent-x", PartyRole.PARTICIPANT), ("ent-a", PartyRole.PARTICIPANT)
        )
    )
    with pytest.raises(DomainError) as raised:
        Agreement.draft(agreement_id="a", draft=draft, partners=PARTNERS, now=NOW, actor_id=ADMIN)
    assert raised.value.extensions["partner_ids"] == ["ent-a", "ent-x"]


def test_a_deactivated_partner_cannot_be_a_party() -> None:
    partners = {**PARTNERS, ENTERPRISE_ID: PARTNERS[ENTERPRISE_ID].model_copy(update={"active": False})}
    with pytest.raises(DomainError) as raised:
        Agreement.draft(agreement_id="a", draft=agreement_draft(), partners=partners, now=NOW, actor_id=ADMIN)
    assert raised.value.code == "agreement.inactive_party"


def test_associations_and_institutes_may_join() -> None:
    draft = agreement_draft(
        parties=parties(
            (ENTERPRISE_ID, PartyRole.LEAD),
            (COLLEGE_ID, PartyRole.PARTICIPANT),
            (ASSOCIATION_ID, PartyRole.COORDINATOR),
            (INSTITUTE_ID, PartyRole.PARTICIPANT),
        )
    )
    agreement = Agreement.draft(agreement_id="a", draft=draft, partners=PARTNERS, now=NOW, actor_id=ADMIN)
    assert agreement.terms.ids_of(PartnerKind.RESEARCH_INSTITUTE) == (INSTITUTE_ID,)


# --- signing -------------------------------------------------------------------------------


def test_each_party_signs_then_the_agreement_is_signed() -> None:
    agreement = drafted_agreement()
    agreement.sign(COLLEGE_ID, now=NOW, actor_id="dean-wu")
    first = only_event(agreement.events)
    assert isinstance(first, AgreementPartySigned)
    assert_snapshot(first, agreement, AgreementStatus.DRAFT)
    assert (first.party_id, first.signed_party_ids, first.pending_party_ids) == (
        COLLEGE_ID,
        (COLLEGE_ID,),
        (ENTERPRISE_ID, AGENCY_ID),
    )
    agreement.sign(AGENCY_ID, now=NOW, actor_id="officer-he")
    assert agreement.pending_party_ids == (ENTERPRISE_ID,)
    assert agreement.signed_at is None
    agreement.events.clear()
    agreement.sign(ENTERPRISE_ID, now=NOW, actor_id="ceo-zhao")
    assert agreement.status is AgreementStatus.SIGNED
    assert agreement.signed_at == NOW
    last, signed = agreement.events
    assert isinstance(last, AgreementPartySigned)
    assert last.pending_party_ids == ()
    assert last.status is AgreementStatus.SIGNED
    assert isinstance(signed, AgreementSigned)
    assert_snapshot(signed, agreement, AgreementStatus.SIGNED)


def test_signing_twice_or_by_a_stranger_is_refused() -> None:
    agreement = drafted_agreement()
    agreement.sign(COLLEGE_ID, now=NOW, actor_id="dean-wu")
    agreement.events.clear()
    with pytest.raises(Conflict) as conflict:
        agreement.sign(COLLEGE_ID, now=NOW, actor_id="dean-wu")
    assert conflict.value.code == "agreement.already_signed"
    with pytest.raises(DomainError) as stranger:
        agreement.sign(INSTITUTE_ID, now=NOW, actor_id="x")
    assert stranger.value.code == "agreement.not_a_party"
    assert agreement.events == []
    assert agreement.signed_party_ids == (COLLEGE_ID,)


# --- activation, completion --------------------------------------------------------------


def test_activate_if_due_at_the_start_date_in_china() -> None:
    agreement = signed_agreement()
    assert agreement.activate_if_due(START_IN_CHINA - timedelta(minutes=1)) is False
    assert agreement.events == []
    assert agreement.activate_if_due(START_IN_CHINA) is True
    event = only_event(agreement.events)
    assert isinstance(event, AgreementActivated)
    assert_snapshot(event, agreement, AgreementStatus.ACTIVE)
    assert event.actor_id == "system"
    assert agreement.activate_if_due(START_IN_CHINA + timedelta(days=1)) is False
    assert len(agreement.events) == 1


def test_activate_only_within_the_term() -> None:
    with pytest.raises(DomainError) as early:
        signed_agreement().activate(now=NOW, actor_id=ADMIN)
    assert early.value.code == "agreement.not_started"
    with pytest.raises(DomainError) as late:
        signed_agreement().activate(now=AFTER_END_IN_CHINA, actor_id=ADMIN)
    assert late.value.code == "agreement.term_over"
    assert signed_agreement().activate_if_due(AFTER_END_IN_CHINA) is False


def test_complete_if_due_after_the_end_date_emits_once() -> None:
    agreement = active_agreement()
    assert agreement.complete_if_due(LAST_DAY_IN_CHINA) is False
    assert agreement.complete_if_due(AFTER_END_IN_CHINA) is True
    event = only_event(agreement.events)
    assert isinstance(event, AgreementCompleted)
    assert_snapshot(event, agreement, AgreementStatus.COMPLETED)
    assert agreement.complete_if_due(AFTER_END_IN_CHINA + timedelta(days=5)) is False
    assert len(agreement.events) == 1


# --- the state machine --------------------------------------------------------------------


def suspended_agreement() -> Agreement:
    agreement = active_agreement()
    agreement.suspend("no interns placed for a year", now=DURING, actor_id=ADMIN)
    agreement.events.clear()
    return agreement


def terminated_agreement() -> Agreement:
    agreement = active_agreement()
    agreement.terminate("enterprise closed its plant", now=DURING, actor_id=ADMIN)
    agreement.events.clear()
    return agreement


def completed_agreement() -> Agreement:
    agreement = active_agreement()
    agreement.complete_if_due(AFTER_END_IN_CHINA)
    agreement.events.clear()
    return agreement


BUILDERS: dict[AgreementStatus, Callable[[], Agreement]] = {
    AgreementStatus.DRAFT: drafted_agreement,
    AgreementStatus.SIGNED: signed_agreement,
    AgreementStatus.ACTIVE: active_agreement,
    AgreementStatus.SUSPENDED: suspended_agreement,
    AgreementStatus.TERMINATED: terminated_agreement,
    AgreementStatus.COMPLETED: completed_agreement,
}

TRANSITIONS: dict[str, tuple[type[EventPayload], dict[AgreementStatus, AgreementStatus]]] = {
    "suspend": (AgreementSuspended, {AgreementStatus.ACTIVE: AgreementStatus.SUSPENDED}),
    "resume": (AgreementResumed, {AgreementStatus.SUSPENDED: AgreementStatus.ACTIVE}),
    "terminate": (
        AgreementTerminated,
        {
            AgreementStatus.DRAFT: AgreementStatus.TERMINATED,
            AgreementStatus.SIGNED: AgreementStatus.TERMINATED,
            AgreementStatus.ACTIVE: AgreementStatus.TERMINATED,
            AgreementStatus.SUSPENDED: AgreementStatus.TERMINATED,
        },
    ),
}


@pytest.mark.parametrize("status", list(AgreementStatus))
@pytest.mark.parametrize("action", list(TRANSITIONS))
def test_suspend_resume_terminate_from_every_state(status: AgreementStatus, action: str) -> None:
    agreement = BUILDERS[status]()
    event_type, legal = TRANSITIONS[action]
    method = getattr(agreement, action)
    if status not in legal:
        with pytest.raises(InvalidTransition) as raised:
            method("a reason", now=DURING, actor_id=ADMIN)
        assert raised.value.code == "agreement.illegal_transition"
        assert agreement.status is status
        assert agreement.events == []
        return
    method("a reason", now=DURING, actor_id=ADMIN)
    assert agreement.status is legal[status]
    event = only_event(agreement.events)
    assert isinstance(event, event_type)
    assert_snapshot(event, agreement, legal[status])
    assert event.model_dump()["reason"] == "a reason"


@pytest.mark.parametrize("status", [s for s in AgreementStatus if s is not AgreementStatus.DRAFT])
def test_only_drafts_are_signed(status: AgreementStatus) -> None:
    with pytest.raises(InvalidTransition):
        BUILDERS[status]().sign(COLLEGE_ID, now=DURING, actor_id=ADMIN)


@pytest.mark.parametrize("status", [s for s in AgreementStatus if s is not AgreementStatus.SIGNED])
def test_only_signed_agreements_are_activated(status: AgreementStatus) -> None:
    agreement = BUILDERS[status]()
    with pytest.raises(InvalidTransition):
        agreement.activate(now=DURING, actor_id=ADMIN)
    assert agreement.activate_if_due(DURING) is False


@pytest.mark.parametrize("status", [s for s in AgreementStatus if s is not AgreementStatus.ACTIVE])
def test_only_active_agreements_complete(status: AgreementStatus) -> None:
    agreement = BUILDERS[status]()
    assert agreement.complete_if_due(AFTER_END_IN_CHINA + timedelta(days=1)) is False
    assert agreement.status is status


def test_transitions_need_a_reason() -> None:
    agreement = active_agreement()
    with pytest.raises(DomainError) as raised:
        agreement.suspend(" ", now=DURING, actor_id=ADMIN)
    assert raised.value.code == "reason_required"
    assert agreement.status is AgreementStatus.ACTIVE


# --- amendments ----------------------------------------------------------------------------

MORE_POSTS = (
    ObligationView(
        party_id=ENTERPRISE_ID,
        metric=ObligationMetric.INTERNSHIP_POSTS,
        quantity=60,
        period=ObligationPeriod.PER_YEAR,
        description="CNC internship posts",
    ),
)


SIGNED_LATER = DURING + timedelta(days=3)


def sign_amendment_by_all(agreement: Agreement) -> None:
    for party_id in (COLLEGE_ID, ENTERPRISE_ID, AGENCY_ID):
        agreement.sign_amendment(party_id, now=SIGNED_LATER, actor_id=f"signer-{party_id}")


def test_an_amendment_is_proposed_and_takes_effect_only_when_every_party_signed() -> None:
    agreement = active_agreement()
    agreement.amend(
        agreement_draft(obligations=MORE_POSTS),
        summary="60 internship posts a year",
        partners=PARTNERS,
        now=DURING,
        actor_id=ADMIN,
    )
    # Proposed: the terms in force do not change, the parties are asked to sign.
    assert (agreement.terms_version, agreement.terms.obligations[0].quantity) == (1, 40)
    proposed = only_event(agreement.events)
    assert isinstance(proposed, AgreementAmendmentProposed)
    assert (proposed.version, proposed.proposed_version, proposed.summary) == (1, 2, "60 internship posts a year")
    assert proposed.proposal.obligations == MORE_POSTS
    assert proposed.pending_party_ids == (COLLEGE_ID, ENTERPRISE_ID, AGENCY_ID)
    agreement.events.clear()

    agreement.sign_amendment(COLLEGE_ID, now=SIGNED_LATER, actor_id="signer-col")
    agreement.sign_amendment(ENTERPRISE_ID, now=SIGNED_LATER, actor_id="signer-ent")
    assert agreement.terms_version == 1
    with pytest.raises(Conflict) as again:
        agreement.sign_amendment(COLLEGE_ID, now=SIGNED_LATER, actor_id="signer-col")
    assert again.value.code == "agreement.already_signed"
    first, second = agreement.events
    assert isinstance(first, AgreementAmendmentSigned)
    assert isinstance(second, AgreementAmendmentSigned)
    assert (second.party_id, second.signed_party_ids, second.pending_party_ids) == (
        ENTERPRISE_ID,
        (COLLEGE_ID, ENTERPRISE_ID),
        (AGENCY_ID,),
    )
    agreement.events.clear()

    agreement.sign_amendment(AGENCY_ID, now=SIGNED_LATER, actor_id=ADMIN)
    assert agreement.status is AgreementStatus.ACTIVE
    assert agreement.terms_version == 2
    assert agreement.terms.obligations[0].quantity == 60
    assert agreement.pending_amendment is None
    [previous] = agreement.previous_revisions
    assert (previous.version, previous.terms.obligations[0].quantity, previous.summary) == (1, 40, "drafted")
    current = agreement.revisions[-1]
    assert (current.recorded_at, current.recorded_by, current.summary) == (DURING, ADMIN, "60 internship posts a year")
    last_signature, amended = agreement.events
    assert isinstance(last_signature, AgreementAmendmentSigned)
    assert last_signature.pending_party_ids == ()
    assert isinstance(amended, AgreementAmended)
    assert_snapshot(amended, agreement, AgreementStatus.ACTIVE)
    assert (amended.version, amended.previous_version, amended.summary) == (2, 1, "60 internship posts a year")


def test_signing_an_amendment_needs_one_pending_and_a_party() -> None:
    agreement = active_agreement()
    with pytest.raises(Conflict) as none:
        agreement.sign_amendment(COLLEGE_ID, now=DURING, actor_id="signer-col")
    assert none.value.code == "agreement.no_pending_amendment"
    agreement.amend(agreement_draft(obligations=MORE_POSTS), summary="s", partners=PARTNERS, now=DURING, actor_id=ADMIN)
    with pytest.raises(DomainError) as stranger:
        agreement.sign_amendment(INSTITUTE_ID, now=DURING, actor_id="x")
    assert stranger.value.code == "agreement.not_a_party"


def test_the_admin_withdraws_a_pending_amendment_with_a_reason() -> None:
    agreement = active_agreement()
    with pytest.raises(Conflict) as none:
        agreement.withdraw_amendment("r", now=DURING, actor_id=ADMIN)
    assert none.value.code == "agreement.no_pending_amendment"
    agreement.amend(agreement_draft(obligations=MORE_POSTS), summary="s", partners=PARTNERS, now=DURING, actor_id=ADMIN)
    agreement.sign_amendment(COLLEGE_ID, now=DURING, actor_id="signer-col")
    agreement.events.clear()
    with pytest.raises(DomainError):
        agreement.withdraw_amendment("  ", now=DURING, actor_id=ADMIN)
    agreement.withdraw_amendment("the enterprise will not sign", now=DURING, actor_id=ADMIN)
    assert agreement.pending_amendment is None
    assert (agreement.terms_version, agreement.terms.obligations[0].quantity) == (1, 40)
    event = only_event(agreement.events)
    assert isinstance(event, AgreementAmendmentWithdrawn)
    assert (event.version, event.proposed_version, event.reason) == (1, 2, "the enterprise will not sign")


def test_a_new_proposal_replaces_the_pending_one_and_termination_drops_it() -> None:
    agreement = active_agreement()
    agreement.amend(agreement_draft(obligations=MORE_POSTS), summary="s", partners=PARTNERS, now=DURING, actor_id=ADMIN)
    agreement.sign_amendment(COLLEGE_ID, now=DURING, actor_id="signer-col")
    agreement.amend(
        agreement_draft(declared_depth=Depth.MIDDLE), summary="depth", partners=PARTNERS, now=DURING, actor_id=ADMIN
    )
    assert agreement.pending_amendment is not None
    assert agreement.pending_amendment.signatures == ()
    assert agreement.pending_amendment.revision.summary == "depth"
    agreement.terminate("ended", now=DURING, actor_id=ADMIN)
    assert agreement.pending_amendment is None
    with pytest.raises(InvalidTransition):
        agreement.sign_amendment(COLLEGE_ID, now=DURING, actor_id="signer-col")


def test_amendments_keep_the_parties_and_must_change_something() -> None:
    agreement = active_agreement()
    fewer = agreement_draft(parties=parties((COLLEGE_ID, PartyRole.LEAD), (ENTERPRISE_ID, PartyRole.PARTICIPANT)))
    with pytest.raises(DomainError) as raised:
        agreement.amend(fewer, summary="drop the sponsor", partners=PARTNERS, now=DURING, actor_id=ADMIN)
    assert raised.value.code == "agreement.parties_fixed"
    with pytest.raises(DomainError) as raised:
        agreement.amend(agreement_draft(), summary="nothing", partners=PARTNERS, now=DURING, actor_id=ADMIN)
    assert raised.value.code == "agreement.amendment_empty"
    with pytest.raises(DomainError) as raised:
        agreement.amend(agreement_draft(modes=frozenset()), summary="x", partners=PARTNERS, now=DURING, actor_id=ADMIN)
    assert raised.value.code == "agreement.no_modes"
    assert agreement.terms_version == 1
    assert agreement.events == []


@pytest.mark.parametrize("status", [AgreementStatus.DRAFT, AgreementStatus.TERMINATED, AgreementStatus.COMPLETED])
def test_amend_is_refused_outside_signed_active_suspended(status: AgreementStatus) -> None:
    with pytest.raises(InvalidTransition):
        BUILDERS[status]().amend(
            agreement_draft(obligations=MORE_POSTS), summary="s", partners=PARTNERS, now=DURING, actor_id=ADMIN
        )


@pytest.mark.parametrize("status", [AgreementStatus.SIGNED, AgreementStatus.SUSPENDED])
def test_amend_while_signed_or_suspended(status: AgreementStatus) -> None:
    agreement = BUILDERS[status]()
    agreement.amend(
        agreement_draft(declared_depth=Depth.MIDDLE), summary="depth", partners=PARTNERS, now=DURING, actor_id=ADMIN
    )
    sign_amendment_by_all(agreement)
    assert agreement.terms.declared_depth is Depth.MIDDLE
    assert agreement.status is status


# --- storage -------------------------------------------------------------------------------


def test_document_round_trip() -> None:
    agreement = active_agreement()
    agreement.amend(agreement_draft(obligations=MORE_POSTS), summary="s", partners=PARTNERS, now=DURING, actor_id=ADMIN)
    sign_amendment_by_all(agreement)
    # A pending proposal with a signature is stored too.
    agreement.amend(
        agreement_draft(declared_depth=Depth.MIDDLE), summary="d", partners=PARTNERS, now=DURING, actor_id=ADMIN
    )
    agreement.sign_amendment(COLLEGE_ID, now=SIGNED_LATER, actor_id="signer-col")
    agreement.events.clear()
    document = agreement.to_document()
    assert document["revisions"][0]["terms"]["start_date"] == "2026-09-01"
    assert Agreement.from_document({"_id": "agr-1", **document}) == agreement
