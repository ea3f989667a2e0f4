"""Every command of the evaluation service on the in-memory store twin and a manual clock:
a success and a refusal each, the events it emits and the audit note it writes.

Fast (no servers), and in addition to the real-server tests in
tests/integration/evaluation/, never instead of them.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import Any, cast

import pytest

from alliance_evaluation.domain.appeal import AppealStatus
from alliance_evaluation.domain.cycle import CycleStatus
from alliance_evaluation.domain.evidence import EvidenceWindow
from alliance_evaluation.domain.panel import CorrectionSource, PanelMember, PanelRole, ScoreCorrection
from alliance_evaluation.domain.rectification import OrderStatus
from alliance_evaluation.service import appeals, cycles, evidence, frameworks, queries, rectification
from alliance_evaluation.service.agreements import apply_agreement_event
from alliance_evaluation.service.context import Context
from alliance_evaluation.service.repositories import STORES, Repositories, panel_key
from alliance_evaluation.settings import Settings
from alliance_shared.contract import college
from alliance_shared.contract.base import EventPayload
from alliance_shared.contract.envelope import CloudEvent
from alliance_shared.contract.evaluation import AppealDecision
from alliance_shared.contract.registry import AgreementActivated, AgreementSuspended
from alliance_shared.contract.topics import REGISTRY_EVENTS, college_reports_topic, dlq_of
from alliance_shared.contract.vocabulary import CycleKind
from alliance_shared.errors import Conflict, DomainError, InvalidTransition, NotFound, PreconditionFailed
from alliance_shared.messaging.handlers import ConsumedEvent, DeadLetter
from alliance_shared.persistence.versioned_store import AuditNote
from alliance_shared.testing import InMemoryVersionedStore, ManualClock

NOW = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
WINDOW = EvidenceWindow(start=date(2025, 1, 1), end=date(2025, 12, 31))
GOOD, POOR = "agr-good", "agr-poor"
COL, ENT, COL2, ENT2 = "col-1", "ent-1", "col-2", "ent-2"
SUPERVISOR, EVALUATOR = "sup-1", "eva-1"


@dataclass
class Harness:
    ctx: Context
    clock: ManualClock
    stores: dict[str, InMemoryVersionedStore]
    _seen: dict[str, int] = field(default_factory=dict)

    def written(self) -> tuple[list[str], list[str]]:
        """(event names, audit actions) written since the last call, e.g. ``cycle.opened``;
        store by store, so only the order within one store is the order of writing."""
        events: list[str] = []
        audits: list[str] = []
        for name, store in self.stores.items():
            for entry in store.outbox[self._seen.get(name, 0) :]:
                if entry["kind"] == "event":
                    events.append(".".join(entry["event"]["type"].split(".")[3:-1]))
                else:
                    audits.append(entry["audit"]["action"])
            self._seen[name] = len(store.outbox)
        return events, audits

    def nothing_written(self) -> bool:
        return self.written() == ([], [])


@dataclass
class DeadLetterTwin:
    """The dead-letter port's twin: what would have gone to the DLQ topic."""

    sent: list[tuple[str, dict[str, bytes]]] = field(default_factory=list)

    async def publish(
        self, topic: str, key: bytes | None, value: bytes | None, headers: Sequence[tuple[str, bytes]]
    ) -> None:
        self.sent.append((topic, dict(headers)))


def context(stores: dict[str, InMemoryVersionedStore], clock: ManualClock) -> Context:
    return Context(Repositories(stores.__getitem__), clock, Settings(), DeadLetterTwin())


@pytest.fixture
async def h() -> Harness:
    stores = {name: InMemoryVersionedStore(name) for name in STORES}
    clock = ManualClock(NOW)
    harness = Harness(context(stores, clock), clock, stores)
    await frameworks.ensure_default_framework(harness.ctx)
    await agreement(harness, GOOD, COL, ENT)
    await agreement(harness, POOR, COL2, ENT2)
    harness.written()
    return harness


def consumed(payload: EventPayload, topic: str, event_id: str | None = None) -> ConsumedEvent:
    return ConsumedEvent(CloudEvent.wrap(payload, "test", event_id=event_id), payload, topic, 0, 0)


def agreement_payload(
    agreement_id: str, college_id: str, enterprise_id: str, model: type[EventPayload] = AgreementActivated
) -> EventPayload:
    parties = [
        {"partner_id": college_id, "kind": "college", "role": "lead", "region_code": "330100", "name": "学院"},
        {
            "partner_id": enterprise_id,
            "kind": "enterprise",
            "role": "participant",
            "region_code": "330100",
            "name": "企业",
        },
    ]
    data: dict[str, Any] = {
        "agreement_id": agreement_id,
        "version": 1,
        "status": "suspended" if model is AgreementSuspended else "active",
        "title": f"合作协议 {agreement_id}",
        "party_ids": [college_id, enterprise_id],
        "college_ids": [college_id],
        "enterprise_ids": [enterprise_id],
        "parties": parties,
        "modes": ["internship_base"],
        "majors": ["460103"],
        "declared_depth": "middle",
        "obligations": [],
        "start_date": "2025-01-01",
        "end_date": "2027-12-31",
        "occurred_at": NOW.isoformat(),
        "actor_id": "system",
    }
    if model is AgreementSuspended:
        data["reason"] = "suspended in a test"
    return model.model_validate(data)


async def agreement(h: Harness, agreement_id: str, college_id: str, enterprise_id: str) -> None:
    await apply_agreement_event(
        h.ctx, consumed(agreement_payload(agreement_id, college_id, enterprise_id), REGISTRY_EVENTS)
    )


def placed(report_id: str, agreement_id: str = GOOD, college_id: str = COL) -> college.InternshipPlaced:
    return college.InternshipPlaced(
        report_id=report_id,
        agreement_id=agreement_id,
        college_id=college_id,
        occurred_on=date(2025, 3, 1),
        student_ref="S1",
        enterprise_id=ENT,
        post="assistant",
        start_date=date(2025, 3, 1),
        planned_months=6,
    )


def spec(*agreement_ids: str, region_prefix: str | None = None) -> cycles.CycleSpec:
    return cycles.CycleSpec(
        kind=CycleKind.ANNUAL,
        name="Annual 2025",
        window=WINDOW,
        due_at=NOW + timedelta(days=30),
        framework_id="default",
        framework_version=1,
        agreement_ids=agreement_ids,
        region_prefix=region_prefix,
    )


async def scoring_cycle(h: Harness, *agreement_ids: str) -> str:
    opened = await cycles.open_cycle(h.ctx, spec(*agreement_ids), SUPERVISOR)
    await cycles.start_scoring(h.ctx, opened.item.cycle_id, opened.version, SUPERVISOR)
    return opened.item.cycle_id


async def completed_cycle(h: Harness, *agreement_ids: str) -> str:
    cycle_id = await scoring_cycle(h, *agreement_ids)
    await cycles.complete_cycle(h.ctx, cycle_id, 2, SUPERVISOR)
    h.written()
    return cycle_id


# --- frameworks --------------------------------------------------------------------------------


async def test_the_default_framework_is_seeded_once() -> None:
    stores = {name: InMemoryVersionedStore(name) for name in STORES}
    ctx = context(stores, ManualClock(NOW))
    await frameworks.ensure_default_framework(ctx)
    await frameworks.ensure_default_framework(ctx)  # already there: nothing written
    seeded = (await queries.get_framework(ctx, "default", 1)).item
    assert seeded.is_published
    assert seeded.published_at == NOW
    assert [e["audit"]["action"] for e in stores["frameworks"].outbox] == ["framework.seeded"]


async def test_create_draft(h: Harness) -> None:
    draft = await frameworks.create_draft(h.ctx, "default", frameworks.DraftEdits(name="Default 2026"))
    assert (draft.item.version, draft.item.status, draft.item.name, draft.version) == (2, "draft", "Default 2026", 1)
    assert h.written() == ([], ["framework.draft_created"])
    with pytest.raises(Conflict, match="still a draft"):
        await frameworks.create_draft(h.ctx, "default", frameworks.DraftEdits())
    with pytest.raises(NotFound):
        await frameworks.create_draft(h.ctx, "other", frameworks.DraftEdits())
    assert h.nothing_written()


async def test_edit_draft(h: Harness) -> None:
    draft = await frameworks.create_draft(h.ctx, "default", frameworks.DraftEdits())
    h.written()
    edited = await frameworks.edit_draft(h.ctx, "default", 2, draft.version, frameworks.DraftEdits(name="renamed"))
    assert (edited.item.name, edited.version) == ("renamed", 2)
    assert h.written() == ([], ["framework.draft_edited"])
    for expected in (1, 3):  # older or newer than the current version
        with pytest.raises(PreconditionFailed):
            await frameworks.edit_draft(h.ctx, "default", 2, expected, frameworks.DraftEdits(name="lost"))
    with pytest.raises(NotFound):  # unknown before any If-Match question
        await frameworks.edit_draft(h.ctx, "default", 9, 4, frameworks.DraftEdits(name="x"))
    with pytest.raises(DomainError) as published:
        await frameworks.edit_draft(h.ctx, "default", 1, 1, frameworks.DraftEdits(name="x"))
    assert published.value.code == "framework.published_immutable"
    assert h.nothing_written()


async def test_publish_framework(h: Harness) -> None:
    draft = await frameworks.create_draft(h.ctx, "default", frameworks.DraftEdits())
    h.written()
    h.clock.advance(timedelta(hours=1))
    published = await frameworks.publish_framework(h.ctx, "default", 2, draft.version, SUPERVISOR)
    assert (published.item.status, published.item.published_at) == ("published", NOW + timedelta(hours=1))
    assert h.written() == ([], ["framework.published"])
    with pytest.raises(PreconditionFailed):
        await frameworks.publish_framework(h.ctx, "default", 2, draft.version, SUPERVISOR)
    assert h.nothing_written()


# --- consumed events ---------------------------------------------------------------------------


async def test_agreement_events_fold_into_the_read_model_once(h: Harness) -> None:
    suspended = consumed(agreement_payload(GOOD, COL, ENT, AgreementSuspended), REGISTRY_EVENTS)
    await apply_agreement_event(h.ctx, suspended)
    await apply_agreement_event(h.ctx, suspended)  # redelivered: applied once
    assert (await queries.get_agreement(h.ctx, GOOD)).status == "suspended"
    assert len(await h.stores["agreements"].history(GOOD)) == 2
    assert h.written() == ([], ["agreement.read_model"])
    no_id = suspended.envelope.model_copy(update={"data": {"status": "active"}, "id": "other"})
    with pytest.raises(DomainError) as refused:
        await apply_agreement_event(h.ctx, ConsumedEvent(no_id, suspended.payload, REGISTRY_EVENTS, 0, 1))
    assert refused.value.code == "agreement_event.no_id"
    assert h.nothing_written()


async def test_a_college_report_becomes_evidence_once(h: Harness) -> None:
    await evidence.ingest_college_report(h.ctx, consumed(placed("PL-1"), college_reports_topic(COL)))
    assert await evidence.ingest_report(h.ctx, "another-event-id", placed("PL-1")) is False  # same report
    assert h.written() == ([], ["evidence.received"])
    refusals = {
        "report.unknown_agreement": placed("PL-2", agreement_id="agr-unknown"),
        "report.college_not_party": placed("PL-3", college_id=COL2),
    }
    for code, report in refusals.items():
        with pytest.raises(DomainError) as refused:
            await evidence.ingest_report(h.ctx, f"evt-{code}", report)
        assert refused.value.code == code
    await apply_agreement_event(h.ctx, consumed(agreement_payload(GOOD, COL, ENT, AgreementSuspended), REGISTRY_EVENTS))
    h.written()
    with pytest.raises(DomainError, match="was not active on 2025-03-01"):
        await evidence.ingest_report(h.ctx, "evt-late", placed("PL-4"))
    assert h.nothing_written()
    # Activated and suspended on NOW's day: a report about that day is still accepted.
    assert await evidence.ingest_report(
        h.ctx, "evt-in-period", placed("PL-5").model_copy(update={"occurred_on": NOW.date()})
    )


async def test_a_report_naming_another_college_than_its_topic_is_refused(h: Harness) -> None:
    with pytest.raises(DomainError) as refused:
        await evidence.ingest_college_report(h.ctx, consumed(placed("PL-1"), college_reports_topic(COL2)))
    assert refused.value.code == "report.college_mismatch"
    with pytest.raises(DomainError) as elsewhere:
        await evidence.ingest_college_report(h.ctx, consumed(placed("PL-1"), REGISTRY_EVENTS))
    assert elsewhere.value.code == "report.college_mismatch"
    assert h.nothing_written()


async def test_a_report_before_its_agreement_is_parked_then_applied_when_the_agreement_arrives(h: Harness) -> None:
    early = consumed(placed("PL-1", agreement_id="agr-late", college_id=COL2), college_reports_topic(COL2))
    await evidence.ingest_college_report(h.ctx, early)
    await evidence.ingest_college_report(h.ctx, early)  # redelivered: parked once
    assert h.written() == ([], ["evidence.parked"])
    assert (await queries.evidence_of(h.ctx, "agr-late")).received == 0
    await agreement(h, "agr-late", COL2, ENT)
    assert (await queries.evidence_of(h.ctx, "agr-late")).received == 1
    assert sorted(h.written()[1]) == ["agreement.read_model", "evidence.parked_applied", "evidence.received"]
    assert await evidence.settle_parked_reports(h.ctx) == 0  # nothing left parked


async def test_a_parked_report_is_dead_lettered_once_its_wait_is_over(h: Harness) -> None:
    await evidence.ingest_college_report(
        h.ctx, consumed(placed("PL-1", agreement_id="agr-never"), college_reports_topic(COL))
    )
    h.written()
    assert await evidence.settle_parked_reports(h.ctx) == 0  # still within its wait
    h.clock.advance(timedelta(seconds=h.ctx.settings.parked_report_max_seconds))
    assert await evidence.settle_parked_reports(h.ctx) == 1
    assert await evidence.settle_parked_reports(h.ctx) == 0  # settled once
    events, audits = h.written()
    assert events == ["college_report.rejected"]
    assert sorted(audits) == ["college_report.rejected", "evidence.parked_dead_lettered"]
    dead_letters = cast(DeadLetterTwin, h.ctx.dead_letters).sent
    assert [(topic, headers["dlq_reason"]) for topic, headers in dead_letters] == [
        (dlq_of(college_reports_topic(COL)), b"report.unknown_agreement")
    ]
    (rejection,) = await h.ctx.repos.rejections.find({})
    assert (rejection.item.reason_code, rejection.item.agreement_id) == ("report.unknown_agreement", "agr-never")


@dataclass
class Record:
    topic: str
    partition: int = 0
    offset: int = 7
    key: bytes | None = None
    value: bytes | None = b'{"college_id": "col-1", "report_id": "PL-9"}'
    headers: Sequence[tuple[str, bytes]] = (("ce_id", b"evt-bad"), ("ce_type", b"x.y.v1"))


async def test_a_dead_lettered_report_is_told_back_to_the_college_once(h: Harness) -> None:
    # The payload names col-1; the topic is COL2's, so COL2 sent it and is told.
    dead = DeadLetter(
        Record(college_reports_topic(COL2)), "event.invalid_payload", "occurred_on missing", "ValidationError", None
    )
    await evidence.reject_report(h.ctx, dead)
    await evidence.reject_report(h.ctx, dead)  # the same dead letter again: told once
    assert h.written() == (["college_report.rejected"], ["college_report.rejected"])
    event = h.stores["report_rejections"].published_events[0]
    assert (event["data"]["college_id"], event["data"]["reason_code"]) == (COL2, "report.invalid")
    await evidence.reject_report(h.ctx, DeadLetter(Record(REGISTRY_EVENTS), "event.invalid_payload", "", "E", None))
    assert h.nothing_written()  # not a college report: nobody to tell


# --- evidence ------------------------------------------------------------------------------------


async def test_record_manual_evidence(h: Harness) -> None:
    fields = {
        "kind": "enterprise_investment",
        "occurred_on": "2025-05-20",
        "document_ref": "att://inv.pdf",
        "amount_minor": 100,
        "currency": "CNY",
    }
    record, evidence_id = await evidence.record_manual_evidence(h.ctx, GOOD, fields, "note", ENT, "enterprise")
    assert (record.recorded_at, record.evidence.evidence_id) == (NOW, evidence_id)
    assert h.written() == ([], ["evidence.manual_recorded"])
    with pytest.raises(NotFound):
        await evidence.record_manual_evidence(h.ctx, "agr-unknown", fields, None, ENT, "enterprise")
    with pytest.raises(DomainError) as invalid:
        await evidence.record_manual_evidence(h.ctx, GOOD, {**fields, "mode": "order_class"}, None, ENT, "enterprise")
    assert invalid.value.code == "evidence.invalid"
    assert h.nothing_written()


# --- cycles and panels ---------------------------------------------------------------------------


async def test_open_cycle(h: Harness) -> None:
    opened = await cycles.open_cycle(h.ctx, spec(region_prefix="33"), SUPERVISOR)
    assert (opened.item.agreement_ids, opened.item.status, opened.version) == ((GOOD, POOR), CycleStatus.OPEN, 1)
    assert h.written() == (["cycle.opened"], ["cycle.opened"])
    refusals = {
        "cycle.unknown_agreement": spec("agr-unknown"),
        "cycle.no_agreements": spec(region_prefix="11"),
    }
    for code, refused_spec in refusals.items():
        with pytest.raises(DomainError) as refused:
            await cycles.open_cycle(h.ctx, refused_spec, SUPERVISOR)
        assert refused.value.code == code
    assert h.nothing_written()


async def test_seat_member(h: Harness) -> None:
    cycle_id = (await cycles.open_cycle(h.ctx, spec(GOOD), SUPERVISOR)).item.cycle_id
    h.written()
    expert = PanelMember(evaluator_id=EVALUATOR, role=PanelRole.INDUSTRY_EXPERT, affiliation_partner_ids=("assoc",))
    seated = await cycles.seat_member(h.ctx, cycle_id, GOOD, expert, SUPERVISOR)
    assert (seated.item.evaluator_ids, seated.version) == (frozenset({EVALUATOR}), 1)
    assert h.written() == (["panel.member_seated"], ["panel.member_seated"])
    assert seated.events[0].model_dump(include={"evaluator_id", "role", "actor_id"}) == {
        "evaluator_id": EVALUATOR,
        "role": "industry_expert",
        "actor_id": SUPERVISOR,
    }
    conflicted = PanelMember(evaluator_id="eva-2", role=PanelRole.INDUSTRY_EXPERT, affiliation_partner_ids=(ENT,))
    with pytest.raises(DomainError) as refused:
        await cycles.seat_member(h.ctx, cycle_id, GOOD, conflicted, SUPERVISOR)
    assert refused.value.code == "panel.conflict_of_interest"
    with pytest.raises(NotFound):
        await cycles.seat_member(h.ctx, cycle_id, POOR, expert, SUPERVISOR)  # not evaluated in this cycle
    assert h.nothing_written()


async def test_record_score(h: Harness) -> None:
    cycle_id = (await cycles.open_cycle(h.ctx, spec(GOOD, POOR), SUPERVISOR)).item.cycle_id
    expert = PanelMember(evaluator_id=EVALUATOR, role=PanelRole.INDUSTRY_EXPERT)
    await cycles.seat_member(h.ctx, cycle_id, GOOD, expert, SUPERVISOR)
    h.written()
    scored = await cycles.record_score(h.ctx, cycle_id, GOOD, EVALUATOR, "PR-01", 82)
    assert [(s.indicator_code, s.score, s.scored_at) for s in scored.item.scores] == [("PR-01", 82, NOW)]
    assert h.written() == ([], ["panel.scored"])
    with pytest.raises(DomainError) as refused:
        await cycles.record_score(h.ctx, cycle_id, GOOD, EVALUATOR, "RI-01", 82)
    assert refused.value.code == "panel.not_panel_indicator"
    with pytest.raises(NotFound):
        await cycles.record_score(h.ctx, cycle_id, POOR, EVALUATOR, "PR-01", 82)  # no panel seated
    assert h.nothing_written()


async def test_start_scoring(h: Harness) -> None:
    opened = await cycles.open_cycle(h.ctx, spec(GOOD), SUPERVISOR)
    cycle_id = opened.item.cycle_id
    h.written()
    for expected in (0, 2):
        with pytest.raises(PreconditionFailed):
            await cycles.start_scoring(h.ctx, cycle_id, expected, SUPERVISOR)
    with pytest.raises(NotFound):
        await cycles.start_scoring(h.ctx, "no-such-cycle", 1, SUPERVISOR)
    assert h.nothing_written()
    started = await cycles.start_scoring(h.ctx, cycle_id, 1, SUPERVISOR)
    assert (started.item.status, started.item.scoring_started_at, started.version) == (CycleStatus.SCORING, NOW, 2)
    assert h.written() == ([], ["cycle.scoring_started"])
    with pytest.raises(InvalidTransition):
        await cycles.start_scoring(h.ctx, cycle_id, 2, SUPERVISOR)
    assert h.nothing_written()


async def test_complete_cycle(h: Harness) -> None:
    await evidence.ingest_report(h.ctx, "evt-1", placed("PL-1"))
    cycle_id = await scoring_cycle(h, GOOD, POOR)
    h.written()
    with pytest.raises(PreconditionFailed):
        await cycles.complete_cycle(h.ctx, cycle_id, 3, SUPERVISOR)
    assert h.nothing_written()  # If-Match is checked before any result is written
    completed = await cycles.complete_cycle(h.ctx, cycle_id, 2, SUPERVISOR)
    assert (completed.item.status, completed.version) == (CycleStatus.COMPLETED, 3)
    events, audits = h.written()
    assert events.count("result.completed") == 2
    assert "cycle.closed" in events
    assert audits.count("result.completed") == 2
    assert "cycle.completed" in audits
    poor = await queries.results_of_agreement(h.ctx, POOR)
    orders = await queries.list_orders(h.ctx, agreement_id=POOR)
    assert [o.result_id for o in orders] == [poor[0].result_id]
    assert "rectification.ordered" in events
    with pytest.raises(InvalidTransition):
        await cycles.complete_cycle(h.ctx, cycle_id, 3, SUPERVISOR)
    assert h.nothing_written()


# --- appeals -------------------------------------------------------------------------------------


async def test_lodge_appeal(h: Harness) -> None:
    await completed_cycle(h, GOOD)
    result = (await queries.results_of_agreement(h.ctx, GOOD))[0]
    lodged = await appeals.lodge_appeal(h.ctx, result, COL, "late reports", "col-user")
    assert (lodged.item.status, lodged.item.lodged_at, lodged.version) == (AppealStatus.LODGED, NOW, 1)
    assert h.written() == (["appeal.lodged"], ["appeal.lodged"])
    with pytest.raises(DomainError) as outsider:
        await appeals.lodge_appeal(h.ctx, result, COL2, "not mine", "col-2-user")
    assert outsider.value.code == "appeal.not_a_party"
    h.clock.advance(timedelta(days=30))
    with pytest.raises(DomainError) as late:
        await appeals.lodge_appeal(h.ctx, result, COL, "too late", "col-user")
    assert late.value.code == "appeal.window_closed"
    assert h.nothing_written()


async def test_list_appeals_pending_first_in_cursor_pages(h: Harness) -> None:
    await completed_cycle(h, GOOD, POOR)
    (good,) = await queries.results_of_agreement(h.ctx, GOOD)
    (poor,) = await queries.results_of_agreement(h.ctx, POOR)
    first = (await appeals.lodge_appeal(h.ctx, good, COL, "late reports", "col-user")).item
    h.clock.advance(timedelta(hours=1))
    second = (await appeals.lodge_appeal(h.ctx, poor, COL2, "late reports", "col-2-user")).item
    await appeals.decide_appeal(h.ctx, first.appeal_id, 1, AppealDecision.REJECTED, "stands", SUPERVISOR)
    h.written()
    everyone = await queries.appeals_page(h.ctx, party_id=None, limit=1)
    assert [a.appeal_id for a in everyone.items] == [second.appeal_id]  # pending first, though younger
    assert everyone.next_cursor is not None
    rest = await queries.appeals_page(h.ctx, party_id=None, limit=1, cursor=everyone.next_cursor)
    assert ([a.appeal_id for a in rest.items], rest.next_cursor) == ([first.appeal_id], None)
    mine = await queries.appeals_page(h.ctx, party_id=COL)
    assert [a.appeal_id for a in mine.items] == [first.appeal_id]
    rejected = await queries.appeals_page(h.ctx, party_id=None, status=AppealStatus.REJECTED)
    assert [a.appeal_id for a in rejected.items] == [first.appeal_id]
    assert h.nothing_written()


async def test_decide_appeal_upheld_rescores_and_supersedes(h: Harness) -> None:
    await completed_cycle(h, GOOD)
    old = (await queries.results_of_agreement(h.ctx, GOOD))[0]
    lodged = await appeals.lodge_appeal(h.ctx, old, COL, "late reports", "col-user")
    appeal_id = lodged.item.appeal_id
    h.written()
    with pytest.raises(PreconditionFailed):
        await appeals.decide_appeal(h.ctx, appeal_id, 2, AppealDecision.UPHELD, "verified", SUPERVISOR)
    assert h.nothing_written()
    decided, new = await appeals.decide_appeal(h.ctx, appeal_id, 1, AppealDecision.UPHELD, "verified", SUPERVISOR)
    assert (decided.item.status, decided.version) == (AppealStatus.UPHELD, 2)
    assert new is not None
    assert new.supersedes_result_id == old.result_id
    assert (await queries.get_result(h.ctx, old.result_id)).item.superseded_by_result_id == new.result_id
    events, audits = h.written()
    # No evidence at all: the re-score flags formality risk again.
    assert sorted(events) == ["appeal.decided", "formality_risk.flagged", "result.completed", "result.superseded"]
    assert sorted(audits) == ["appeal.decided", "result.rescored", "result.superseded"]
    with pytest.raises(InvalidTransition):
        await appeals.decide_appeal(h.ctx, appeal_id, 2, AppealDecision.REJECTED, "again", SUPERVISOR)
    assert h.nothing_written()


async def appealed_panel_result(h: Harness, score: int) -> tuple[str, str]:
    """GOOD scored by one expert (PR-01 ``score``) and appealed: (old result id, appeal id)."""
    cycle_id = (await cycles.open_cycle(h.ctx, spec(GOOD), SUPERVISOR)).item.cycle_id
    await cycles.seat_member(
        h.ctx, cycle_id, GOOD, PanelMember(evaluator_id=EVALUATOR, role=PanelRole.INDUSTRY_EXPERT), SUPERVISOR
    )
    await cycles.record_score(h.ctx, cycle_id, GOOD, EVALUATOR, "PR-01", score)
    await cycles.start_scoring(h.ctx, cycle_id, 1, SUPERVISOR)
    await cycles.complete_cycle(h.ctx, cycle_id, 2, SUPERVISOR)
    (old,) = await queries.results_of_agreement(h.ctx, GOOD)
    appeal = await appeals.lodge_appeal(h.ctx, old, COL, "the expert scored the wrong base", "col-user")
    h.written()
    return old.result_id, appeal.item.appeal_id


def correction(evaluator_id: str = EVALUATOR, score: int = 90) -> ScoreCorrection:
    return ScoreCorrection(
        evaluator_id=evaluator_id,
        indicator_code="PR-01",
        score=score,
        given_by=CorrectionSource.ORIGINAL_EVALUATOR,
        reason="the second training base was checked on a follow-up visit",
    )


async def test_an_upheld_appeal_corrects_panel_scores_and_the_result_is_recomputed(h: Harness) -> None:
    old_id, appeal_id = await appealed_panel_result(h, 40)
    old = (await queries.get_result(h.ctx, old_id)).item
    assert next(i for i in old.indicators if i.code == "PR-01").value == "40"
    for refused_code, decision, wrong in (
        ("appeal.corrections_need_upheld", AppealDecision.REJECTED, correction()),
        ("panel.no_such_score", AppealDecision.UPHELD, correction(evaluator_id="nobody")),
    ):
        with pytest.raises(DomainError) as refused:
            await appeals.decide_appeal(h.ctx, appeal_id, 1, decision, "checked", SUPERVISOR, [wrong])
        assert refused.value.code == refused_code
    assert h.nothing_written()

    decided, new = await appeals.decide_appeal(
        h.ctx, appeal_id, 1, AppealDecision.UPHELD, "checked", SUPERVISOR, [correction()]
    )
    assert decided.item.score_corrections == (correction(),)
    assert new is not None
    pr01 = next(i for i in new.indicators if i.code == "PR-01")
    assert pr01.value == "90"
    assert f"corrected on appeal: {EVALUATOR} 40 → 90" in pr01.explanation
    assert new.score_hundredths > old.score_hundredths
    panel = await h.ctx.repos.panels.get(panel_key(old.cycle_id, GOOD))
    assert panel is not None
    (score,) = panel.item.scores
    assert (score.score, score.previous_score, score.corrected_by, score.corrected_in_appeal) == (
        90,
        40,
        EVALUATOR,
        appeal_id,
    )
    events, audits = h.written()
    assert "panel.scores_corrected" in audits
    assert "result.superseded" in events
    history = await queries.results_of_agreement(h.ctx, GOOD)
    assert {r.result_id: r.is_current for r in history} == {old_id: False, new.result_id: True}


async def test_finish_upheld_appeals_completes_an_interrupted_rescore_once(h: Harness) -> None:
    await completed_cycle(h, GOOD)
    result = (await queries.results_of_agreement(h.ctx, GOOD))[0]
    appeal = (await appeals.lodge_appeal(h.ctx, result, COL, "late reports", "col-user")).item
    # What a crash between the decision and the re-score leaves: the decision saved, no re-score.
    appeal.decide(AppealDecision.UPHELD, "verified", result, NOW, SUPERVISOR)
    await h.ctx.repos.appeals.save(appeal.appeal_id, 1, appeal, AuditNote("appeal.decided", "appeal", appeal.appeal_id))
    h.written()
    assert await appeals.finish_upheld_appeals(h.ctx) == 1
    events, audits = h.written()
    assert events == ["result.completed", "formality_risk.flagged", "result.superseded"]
    assert audits == ["result.rescored", "result.superseded"]
    assert await appeals.finish_upheld_appeals(h.ctx) == 0
    assert h.nothing_written()


# --- rectification ---------------------------------------------------------------------------------


async def ordered(h: Harness) -> tuple[str, str]:
    """A fresh rectification order for the poor agreement: (order id, responsible party)."""
    await completed_cycle(h, POOR)
    order = (await queries.list_orders(h.ctx, agreement_id=POOR, status=OrderStatus.OPEN))[-1]
    return order.order_id, order.responsible_party_id


async def test_order_by_hand(h: Harness) -> None:
    await completed_cycle(h, POOR)
    (result,) = await queries.results_of_agreement(h.ctx, POOR)
    due = NOW + timedelta(days=10)
    wanted = [("COMPOSITE", "reach a pass"), ("CD-02", "report every month")]
    with pytest.raises(DomainError) as stranger:
        await rectification.order_by_hand(h.ctx, result.result_id, wanted, COL, due, SUPERVISOR)
    assert stranger.value.code == "rectification.not_a_party"
    with pytest.raises(DomainError) as twice:
        await rectification.order_by_hand(h.ctx, result.result_id, wanted * 2, ENT2, due, SUPERVISOR)
    assert twice.value.code == "rectification.duplicate_item"
    with pytest.raises(NotFound):
        await rectification.order_by_hand(h.ctx, "no-such-result", wanted, ENT2, due, SUPERVISOR)
    assert h.nothing_written()
    ordered_ = await rectification.order_by_hand(h.ctx, result.result_id, wanted, ENT2, due, SUPERVISOR)
    order = ordered_.item
    assert (order.responsible_party_id, order.due_at, order.ordered_by) == (ENT2, due, SUPERVISOR)
    assert [(i.indicator_code, i.requirement) for i in order.items] == wanted
    assert order.by_hand  # the requirements are the supervisor's own words, shown as written
    assert h.written() == (["rectification.ordered"], ["rectification.ordered_by_hand"])


async def test_respond_to_order(h: Harness) -> None:
    order_id, party = await ordered(h)
    assert party == COL2
    with pytest.raises(PreconditionFailed):
        await rectification.respond_to_order(h.ctx, order_id, 2, ["att://plan.pdf"], "col-2-user")
    assert h.nothing_written()
    responded = await rectification.respond_to_order(h.ctx, order_id, 1, ["att://plan.pdf"], "col-2-user")
    assert (responded.item.status, responded.version) == (OrderStatus.RESPONDED, 2)
    assert h.written() == (["rectification.responded"], ["rectification.responded"])
    with pytest.raises(InvalidTransition):
        await rectification.respond_to_order(h.ctx, order_id, 2, ["att://again.pdf"], "col-2-user")
    assert h.nothing_written()


async def test_return_order(h: Harness) -> None:
    order_id, _ = await ordered(h)
    with pytest.raises(InvalidTransition):
        await rectification.return_order(h.ctx, order_id, 1, "nothing to return yet", SUPERVISOR)
    assert h.nothing_written()
    await rectification.respond_to_order(h.ctx, order_id, 1, ["att://plan.pdf"], "col-2-user")
    h.written()
    returned = await rectification.return_order(h.ctx, order_id, 2, "insufficient", SUPERVISOR)
    assert (returned.item.status, returned.version) == (OrderStatus.OPEN, 3)
    assert h.written() == (["rectification.returned"], ["rectification.returned"])


async def test_close_order(h: Harness) -> None:
    order_id, _ = await ordered(h)
    with pytest.raises(InvalidTransition):
        await rectification.close_order(h.ctx, order_id, 1, "not answered yet", SUPERVISOR)
    assert h.nothing_written()
    await rectification.respond_to_order(h.ctx, order_id, 1, ["att://plan.pdf"], "col-2-user")
    h.written()
    closed = await rectification.close_order(h.ctx, order_id, 2, "verified on site", SUPERVISOR)
    assert (closed.item.status, closed.item.closed_at, closed.version) == (OrderStatus.CLOSED, NOW, 3)
    assert h.written() == (["rectification.closed"], ["rectification.closed"])


async def test_check_deadlines_marks_overdue_then_escalates_each_once(h: Harness) -> None:
    order_id, _ = await ordered(h)
    assert await rectification.check_deadlines(h.ctx) == 0  # not due yet
    assert h.nothing_written()
    h.clock.advance(timedelta(seconds=h.ctx.settings.rectification_due_seconds))
    assert await rectification.check_deadlines(h.ctx) == 1
    assert h.written() == (["rectification.overdue"], ["rectification.overdue"])
    assert (await queries.get_order(h.ctx, order_id)).item.status is OrderStatus.OVERDUE
    assert await rectification.check_deadlines(h.ctx) == 0
    assert h.nothing_written()
    h.clock.advance(timedelta(seconds=h.ctx.settings.rectification_escalate_after_seconds - 1))
    assert await rectification.check_deadlines(h.ctx) == 0  # a second short of the escalation period
    assert h.nothing_written()
    h.clock.advance(timedelta(seconds=1))
    assert await rectification.check_deadlines(h.ctx) == 1
    assert h.written() == (["rectification.escalated"], ["rectification.escalated"])
    escalated = (await queries.get_order(h.ctx, order_id)).item
    assert (escalated.status, escalated.escalated_at) == (OrderStatus.OVERDUE, h.clock.now())
    assert await rectification.check_deadlines(h.ctx) == 0  # the pass again: nothing more
    assert h.nothing_written()
