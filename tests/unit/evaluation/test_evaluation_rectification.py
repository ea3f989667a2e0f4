from __future__ import annotations

from datetime import date, timedelta

import pytest

from alliance_evaluation.domain.rectification import (
    COMPOSITE_ITEM,
    OrderStatus,
    RectificationOrder,
    plan_rectification,
    responsible_party,
)
from alliance_evaluation.domain.result import EvaluationResult, evaluate_agreement
from alliance_evaluation.domain.targets import Obligation
from alliance_shared.contract import college
from alliance_shared.contract.college import CollegeReport
from alliance_shared.contract.evaluation import (
    RectificationClosed,
    RectificationEscalated,
    RectificationItem,
    RectificationOrdered,
    RectificationOverdue,
    RectificationResponded,
    RectificationReturned,
)
from alliance_shared.contract.vocabulary import Grade, ObligationMetric, ObligationPeriod, RiskBand
from alliance_shared.errors import DomainError, InvalidTransition

from .evaluation_support import (
    AGREEMENT_ID,
    COLLEGE_ID,
    NOW,
    WINDOW,
    agreement,
    completed,
    placed,
    published_default,
    scoring_cycle,
    survey,
)

DUE = NOW + timedelta(days=30)


def certified(student: str, day: date) -> college.StudentCertified:
    return college.StudentCertified(
        report_id=f"C-{student}",
        agreement_id=AGREEMENT_ID,
        college_id=COLLEGE_ID,
        occurred_on=day,
        student_ref=student,
        certificate_kind=college.CertificateKind.ONE_PLUS_X,
        certificate_code="X-1",
        level=college.CertificateLevel.ELEMENTARY,
    )


def result_of(reports: list[CollegeReport]) -> EvaluationResult:
    framework = published_default()
    return evaluate_agreement(
        result_id="res-1",
        cycle=scoring_cycle(framework),
        framework=framework,
        agreement=agreement(),
        reports=reports,
        manual=[],
        panel=None,
        previous=None,
        evaluated_on=WINDOW.end,
        now=NOW,
        actor_id="sup",
    )


def failing() -> EvaluationResult:
    return result_of([survey("student", 3, 150)])


def status(o: RectificationOrder) -> OrderStatus:
    # Read through a call: mypy would keep the status narrowed across the transitions.
    return o.status


def order() -> RectificationOrder:
    made = RectificationOrder.order(
        order_id="o1", result=failing(), responsible_party_id="ent-1", due_at=DUE, now=NOW, actor_id="sup"
    )
    made.events.clear()
    return made


def test_a_failing_result_orders_its_composite_and_at_risk_indicators() -> None:
    result = failing()
    assert result.grade is Grade.FAIL
    items = plan_rectification(result)
    codes = [i.indicator_code for i in items]
    assert codes[0] == COMPOSITE_ITEM
    assert "SA-02" in codes
    assert "CD-02" in codes
    made = RectificationOrder.order(
        order_id="o1", result=result, responsible_party_id="ent-1", due_at=DUE, now=NOW, actor_id="sup"
    )
    [event] = made.events
    assert isinstance(event, RectificationOrdered)
    assert (event.responsible_party_id, event.due_at, event.party_ids) == ("ent-1", DUE, result.party_ids)
    # Generated requirements: readers render them from code and band (the order says so, as its event does).
    assert not made.by_hand
    assert not event.by_hand


def test_a_healthy_result_needs_no_order_and_orders_go_to_parties_only() -> None:
    reports: list[CollegeReport] = []
    for month in range(1, 13):
        day = date(2025, month, 1)
        reports += [placed(f"S{month}", on=day), completed(f"S{month}", on=day), certified(f"S{month}", day)]
    healthy = result_of(reports)
    assert healthy.grade is not Grade.FAIL
    assert plan_rectification(healthy) == ()
    with pytest.raises(DomainError) as raised:
        RectificationOrder.order(
            order_id="o", result=healthy, responsible_party_id="ent-1", due_at=DUE, now=NOW, actor_id="sup"
        )
    assert raised.value.code == "rectification.not_needed"
    with pytest.raises(DomainError) as outsider:
        RectificationOrder.order(
            order_id="o", result=failing(), responsible_party_id="stranger", due_at=DUE, now=NOW, actor_id="sup"
        )
    assert outsider.value.code == "rectification.not_a_party"


def test_respond_return_respond_close() -> None:
    o = order()
    o.respond(["doc-1"], NOW, "ent-user")
    assert o.status is OrderStatus.RESPONDED
    o.return_to_party("photos missing", NOW, "sup")
    assert status(o) is OrderStatus.OPEN
    o.respond(["doc-1", "doc-2"], NOW, "ent-user")
    o.close("verified on site", NOW, "sup")
    assert status(o) is OrderStatus.CLOSED
    assert [type(e) for e in o.events] == [
        RectificationResponded,
        RectificationReturned,
        RectificationResponded,
        RectificationClosed,
    ]
    with pytest.raises(InvalidTransition):
        o.respond(["doc-3"], NOW, "ent-user")


def test_an_open_order_cannot_be_closed_without_a_response_unless_overdue() -> None:
    o = order()
    with pytest.raises(InvalidTransition):
        o.close("nothing", NOW, "sup")
    with pytest.raises(InvalidTransition):
        o.return_to_party("nothing to return", NOW, "sup")


def test_overdue_is_emitted_once_and_an_overdue_order_can_still_close() -> None:
    o = order()
    assert not o.mark_overdue_if_due(DUE - timedelta(seconds=1))
    assert o.mark_overdue_if_due(DUE)
    assert o.status is OrderStatus.OVERDUE
    assert not o.mark_overdue_if_due(DUE + timedelta(days=1))
    o.respond(["late-doc"], DUE + timedelta(days=2), "ent-user")
    o.return_to_party("still insufficient", DUE + timedelta(days=3), "sup")
    assert not o.mark_overdue_if_due(DUE + timedelta(days=4))  # overdue again, not escalated twice
    assert o.status is OrderStatus.OVERDUE
    o.close("verified after escalation", DUE + timedelta(days=5), "sup")
    overdue = [e for e in o.events if isinstance(e, RectificationOverdue)]
    assert len(overdue) == 1
    closed = o.events[-1]
    assert isinstance(closed, RectificationClosed)
    assert closed.was_overdue


def test_a_timely_response_stops_the_clock() -> None:
    o = order()
    o.respond(["doc"], NOW, "ent-user")
    assert not o.mark_overdue_if_due(DUE + timedelta(days=10))
    assert not o.escalate_if_due(DUE + timedelta(days=30), timedelta(days=14))
    assert o.status is OrderStatus.RESPONDED


def test_an_order_still_overdue_past_the_escalation_period_escalates_once() -> None:
    o = order()
    after = timedelta(days=14)
    assert not o.escalate_if_due(DUE + after, after)  # never marked overdue: nothing to escalate
    o.mark_overdue_if_due(DUE)
    assert not o.escalate_if_due(DUE + after - timedelta(seconds=1), after)
    assert o.escalate_if_due(DUE + after, after)
    assert not o.escalate_if_due(DUE + after + timedelta(days=1), after)
    (escalated,) = [e for e in o.events if isinstance(e, RectificationEscalated)]
    assert (escalated.overdue_since, escalated.escalate_after_days, escalated.actor_id) == (DUE, 14, "system")
    assert escalated.party_ids == o.party_ids
    o.respond(["late-doc"], DUE + after + timedelta(days=2), "ent-user")
    o.return_to_party("still insufficient", DUE + after + timedelta(days=3), "sup")
    o.mark_overdue_if_due(DUE + after + timedelta(days=4))
    assert not o.escalate_if_due(DUE + after + timedelta(days=5), after)  # once per order
    assert o.status is OrderStatus.OVERDUE


def test_an_order_survives_its_document_form() -> None:
    o = order()
    o.mark_overdue_if_due(DUE)
    restored = RectificationOrder.from_document({"_id": "x", **o.to_document()})
    assert restored.status is OrderStatus.OVERDUE
    assert restored.was_overdue


def test_the_responsible_party_is_the_one_whose_obligations_drive_the_failing_indicators() -> None:
    result = failing()
    college_id, enterprise_id = result.college_ids[0], result.enterprise_ids[0]
    metric_of = {"TT-01": ObligationMetric.INTERNSHIP_POSTS, "TS-02": ObligationMetric.TEACHER_PRACTICE_PERSONS}
    obligations = [
        Obligation(
            party_id=enterprise_id,
            metric=ObligationMetric.INTERNSHIP_POSTS,
            quantity=4,
            period=ObligationPeriod.PER_YEAR,
        ),
        Obligation(
            party_id=college_id,
            metric=ObligationMetric.TEACHER_PRACTICE_PERSONS,
            quantity=2,
            period=ObligationPeriod.PER_YEAR,
        ),
        Obligation(
            party_id=college_id,
            metric=ObligationMetric.ENGINEER_TEACHING_HOURS,
            quantity=9,
            period=ObligationPeriod.PER_YEAR,
        ),
        Obligation(
            party_id=college_id, metric=ObligationMetric.HOSTED_STUDENTS, quantity=9, period=ObligationPeriod.PER_YEAR
        ),
    ]

    def item(code: str) -> RectificationItem:
        return RectificationItem(indicator_code=code, band=RiskBand.AT_RISK, requirement="r")

    # The college has more obligations in all, but only the enterprise's drive TT-01.
    assert responsible_party(result, [item("TT-01")], obligations, metric_of) == enterprise_id
    assert responsible_party(result, [item("TS-02")], obligations, metric_of) == college_id
    # A failing grade or a fixed-target indicator alone: the college coordinates.
    assert responsible_party(result, [item(COMPOSITE_ITEM), item("TT-07")], obligations, metric_of) == college_id
