from __future__ import annotations

from datetime import UTC, date, datetime

import pytest
from pydantic import ValidationError

from alliance_shared.contract import evaluation
from alliance_shared.contract.base import TYPE_PATTERN
from alliance_shared.contract.catalog import EventCatalog
from alliance_shared.contract.vocabulary import CycleKind, Depth, Grade, RiskBand

NOW = datetime(2025, 12, 31, tzinfo=UTC)

EXPECTED_TYPES = {
    f"org.coopalliance.evaluation.{name}.v1"
    for name in [
        "cycle.opened",
        "cycle.closed",
        "panel.member_seated",
        "result.completed",
        "result.superseded",
        "rectification.ordered",
        "rectification.responded",
        "rectification.returned",
        "rectification.closed",
        "rectification.overdue",
        "rectification.escalated",
        "formality_risk.flagged",
        "appeal.lodged",
        "appeal.decided",
        "college_report.rejected",
    ]
}


def test_every_evaluation_event_type_is_defined_exactly_once() -> None:
    catalog = EventCatalog(evaluation.EVALUATION_EVENTS)
    assert set(catalog.types) == EXPECTED_TYPES
    for model in evaluation.EVALUATION_EVENTS:
        assert TYPE_PATTERN.match(model.event_type)
        assert model.__doc__
        assert model.aggregate_field in model.model_fields


def completed_result(**changes: object) -> evaluation.ResultCompleted:
    fields: dict[str, object] = {
        "result_id": "r1",
        "agreement_id": "a1",
        "cycle_id": "c1",
        "cycle_kind": CycleKind.ANNUAL,
        "framework_id": "default",
        "framework_version": 1,
        "score_hundredths": 8725,
        "grade": Grade.GOOD,
        "overall_risk": RiskBand.NEEDS_IMPROVEMENT,
        "indicators": [
            {"code": "TT-01", "band": "on_track", "score_hundredths": 10000},
            {"code": "SA-01", "band": "no_evidence", "score_hundredths": None},
        ],
        "actual_depth": Depth.MIDDLE,
        "declared_depth": Depth.DEEP,
        "formality_risk": False,
        "party_ids": ["col-1", "ent-1"],
        "occurred_at": NOW,
        "actor_id": "sup",
    }
    return evaluation.ResultCompleted.model_validate({**fields, **changes})


def test_result_completed_round_trips_through_json_and_is_keyed_by_agreement() -> None:
    event = completed_result()
    assert event.aggregate_id() == "a1"
    assert evaluation.ResultCompleted.model_validate_json(event.model_dump_json()) == event


@pytest.mark.parametrize(
    "changes",
    [
        {"score_hundredths": 10_001},
        {"score_hundredths": 87.25},
        {"occurred_at": datetime(2025, 1, 1)},
        {"unknown": 1},
        {"grade": "superb"},
    ],
)
def test_result_completed_rejects_bad_fields(changes: dict[str, object]) -> None:
    with pytest.raises(ValidationError):
        completed_result(**changes)


def test_college_report_rejected_carries_what_the_college_needs() -> None:
    event = evaluation.CollegeReportRejected(
        college_id="col-1",
        original_event_id="2f1c",
        original_event_type="org.coopalliance.college.survey.submitted.v1",
        report_id="SV-1",
        reason_code="report.invalid",
        detail="mean_score_hundredths: must be 100..400",
        occurred_at=NOW,
    )
    assert event.aggregate_id() == "col-1"
    with pytest.raises(ValidationError):
        evaluation.CollegeReportRejected.model_validate({**event.model_dump(), "reason_code": "Bad Code"})


def test_cycle_opened_carries_dates_of_the_window() -> None:
    event = evaluation.CycleOpened(
        cycle_id="c1",
        cycle_kind=CycleKind.MID_TERM,
        name="mid",
        agreement_ids=("a1",),
        party_ids=("p",),
        window_start=date(2025, 1, 1),
        window_end=date(2025, 6, 30),
        due_at=NOW,
        framework_id="default",
        framework_version=1,
        occurred_at=NOW,
        actor_id="sup",
    )
    assert event.model_dump(mode="json")["window_end"] == "2025-06-30"
