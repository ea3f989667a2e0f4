from __future__ import annotations

from datetime import date, timedelta
from typing import Any

import pytest

from alliance_evaluation.domain.cycle import Cycle, CycleStatus
from alliance_evaluation.domain.default_framework import default_framework
from alliance_evaluation.domain.result import EvaluationResult, evaluate_agreement
from alliance_shared.contract.college import CollegeReport
from alliance_shared.contract.evaluation import CycleClosed, CycleOpened, FormalityRiskFlagged, ResultCompleted
from alliance_shared.contract.vocabulary import CooperationMode, CycleKind, Depth, Grade, RiskBand
from alliance_shared.errors import DomainError, InvalidTransition

from .evaluation_support import (
    AGREEMENT_ID,
    NOW,
    PARTY_IDS,
    WINDOW,
    agreement,
    completed,
    placed,
    published_default,
    scoring_cycle,
    survey,
)


def monthly_activity() -> list[CollegeReport]:
    reports: list[CollegeReport] = []
    for month in range(1, 13):
        reports.append(placed(f"S{month}", on=date(2025, month, 2)))
        reports.append(completed(f"S{month}", months=6, on=date(2025, month, 20)))
    return reports


def evaluate(reports: list[CollegeReport], **agreement_changes: Any) -> EvaluationResult:
    framework = published_default()
    return evaluate_agreement(
        result_id="res-1",
        cycle=scoring_cycle(framework),
        framework=framework,
        agreement=agreement(**agreement_changes),
        reports=reports,
        manual=[],
        panel=None,
        previous=None,
        evaluated_on=WINDOW.end,
        now=NOW,
        actor_id="sup-1",
    )


def test_a_cycle_pins_a_published_framework_and_runs_open_scoring_completed() -> None:
    draft = default_framework()
    with pytest.raises(DomainError) as raised:
        Cycle.open(
            cycle_id="c",
            kind=CycleKind.ANNUAL,
            name="n",
            agreement_ids=["a"],
            party_ids=[],
            window=WINDOW,
            due_at=NOW + timedelta(days=1),
            framework=draft,
            now=NOW,
            actor_id="sup",
        )
    assert raised.value.code == "cycle.framework_not_published"
    framework = published_default()
    cycle = Cycle.open(
        cycle_id="c",
        kind=CycleKind.ANNUAL,
        name="n",
        agreement_ids=["a", "b"],
        party_ids=["p"],
        window=WINDOW,
        due_at=NOW + timedelta(days=1),
        framework=framework,
        now=NOW,
        actor_id="sup",
    )
    assert isinstance(cycle.events[0], CycleOpened)
    assert cycle.events[0].framework_version == 1
    with pytest.raises(InvalidTransition):
        cycle.complete(["a", "b"], NOW, "sup")
    cycle.start_scoring(NOW, "sup")
    with pytest.raises(DomainError) as missing:
        cycle.complete(["a"], NOW, "sup")
    assert missing.value.code == "cycle.results_missing"
    cycle.complete(["a", "b"], NOW, "sup")
    assert cycle.status is CycleStatus.COMPLETED
    assert isinstance(cycle.events[-1], CycleClosed)
    assert Cycle.from_document(cycle.to_document()).status is CycleStatus.COMPLETED


def test_an_active_cooperation_gets_a_result_with_its_event() -> None:
    result = evaluate(monthly_activity())
    assert result.agreement_id == AGREEMENT_ID
    assert result.actual_depth is Depth.MIDDLE
    assert not result.formality_risk
    tt01 = next(i for i in result.indicators if i.code == "TT-01")
    assert (tt01.band, tt01.score_hundredths) == (RiskBand.ON_TRACK, 10_000)
    [event] = result.events
    assert isinstance(event, ResultCompleted)
    assert event.party_ids == PARTY_IDS
    assert event.score_hundredths == result.score_hundredths
    assert event.declared_depth is Depth.MIDDLE
    assert {b.code for b in event.indicators} == {i.code for i in result.indicators}
    assert 0 <= result.score_hundredths <= 10_000
    document = result.to_document()
    assert "events" not in document
    assert EvaluationResult.from_document(document).score_hundredths == result.score_hundredths


def test_a_paper_only_agreement_is_flagged_at_risk() -> None:
    result = evaluate([survey("student", 3, 300)], modes=(CooperationMode.JOINT_RD_CENTRE,), depth=Depth.DEEP)
    assert result.formality_risk
    assert result.overall_risk is RiskBand.AT_RISK
    assert result.actual_depth is Depth.SHALLOW
    assert any(isinstance(e, FormalityRiskFlagged) for e in result.events)
    assert result.grade is Grade.FAIL


def test_a_result_needs_a_scoring_cycle_with_the_agreement() -> None:
    framework = published_default()
    cycle = scoring_cycle(framework)
    cycle.complete([AGREEMENT_ID], NOW, "sup")
    with pytest.raises(DomainError) as raised:
        evaluate_agreement(
            result_id="r",
            cycle=cycle,
            framework=framework,
            agreement=agreement(),
            reports=[],
            manual=[],
            panel=None,
            previous=None,
            evaluated_on=WINDOW.end,
            now=NOW,
            actor_id="s",
        )
    assert raised.value.code == "result.cycle_not_scoring"
    other_version = framework.next_draft()
    other_version.publish(NOW, "admin")
    with pytest.raises(DomainError) as mismatch:
        evaluate_agreement(
            result_id="r",
            cycle=scoring_cycle(framework),
            framework=other_version,
            agreement=agreement(),
            reports=[],
            manual=[],
            panel=None,
            previous=None,
            evaluated_on=WINDOW.end,
            now=NOW,
            actor_id="s",
        )
    assert mismatch.value.code == "result.framework_mismatch"
