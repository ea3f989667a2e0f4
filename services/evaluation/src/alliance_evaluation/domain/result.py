"""Evaluation results: the recorded outcome of scoring one agreement in one cycle.

``evaluate_agreement`` is the whole pure pipeline — evidence aggregation, targets,
scoring, depth, formality — ending in an ``EvaluationResult`` with its events.

Scores are exact fractions while computing and are rounded half up to hundredths of a
point only here, when recorded (``score_hundredths``: 8725 means 87.25).

The overall risk of a result is the scorecard's (see ``scoring.py``), raised to
``at_risk`` when the agreement is flagged for formality risk.

A result is never changed or deleted. An upheld appeal leads to a new result that
``supersedes`` it; the old one is marked superseded and both stay on record.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Mapping
from datetime import date, datetime
from enum import StrEnum
from fractions import Fraction
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from alliance_evaluation.domain.computation import aggregate_evidence
from alliance_evaluation.domain.cycle import Cycle, CycleStatus
from alliance_evaluation.domain.depth import DepthComparison, compare_depth
from alliance_evaluation.domain.evidence import IsoDate, ManualEvidence, Measure, fmt
from alliance_evaluation.domain.formality import DEFAULT_INACTIVE_MONTHS, FormalityAssessment, assess_formality
from alliance_evaluation.domain.framework import Dimension, EvidenceSource, Framework
from alliance_evaluation.domain.panel import Panel
from alliance_evaluation.domain.scoring import Scorecard, score_agreement
from alliance_evaluation.domain.targets import Obligation, window_targets
from alliance_shared.contract.base import EventPayload, UtcDateTime
from alliance_shared.contract.college import CollegeReport
from alliance_shared.contract.evaluation import (
    FormalityRiskFlagged,
    IndicatorBand,
    ResultCompleted,
    ResultSuperseded,
)
from alliance_shared.contract.vocabulary import CooperationMode, CycleKind, Depth, Grade, RiskBand
from alliance_shared.errors import DomainError, InvalidTransition

Ids = tuple[str, ...]


def to_hundredths(value: Fraction) -> int:
    """A 0–100 score as hundredths of a point, rounded half up."""
    return int((value * 100 + Fraction(1, 2)).__floor__())


class AgreementSnapshot(BaseModel):
    """What evaluation knows of an agreement, from the registry's events."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    agreement_id: str = Field(min_length=1, max_length=100)
    party_ids: Ids = Field(min_length=1, max_length=200)
    college_ids: Ids = ()
    enterprise_ids: Ids = ()
    declared_modes: tuple[CooperationMode, ...] = ()
    declared_depth: Depth
    active: bool
    term_start: IsoDate
    term_end: IsoDate
    active_since: IsoDate
    obligations: tuple[Obligation, ...] = ()


class ResultStatus(StrEnum):
    CURRENT = "current"
    SUPERSEDED = "superseded"


class IndicatorOutcome(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    code: str
    dimension: Dimension
    weight_bp: int
    band: RiskBand | None
    score_hundredths: int | None
    #: The measured value and target as decimals rounded to two places, for display.
    value: str | None
    target: str | None
    explanation: str


class EvaluationResult(BaseModel):
    model_config = ConfigDict(extra="forbid", validate_assignment=True)

    result_id: str = Field(min_length=1, max_length=100)
    agreement_id: str
    cycle_id: str
    cycle_kind: CycleKind
    framework_id: str
    framework_version: int
    party_ids: Ids
    college_ids: Ids = ()
    enterprise_ids: Ids = ()
    score_hundredths: int = Field(ge=0, le=10_000)
    grade: Grade
    overall_risk: RiskBand
    indicators: tuple[IndicatorOutcome, ...]
    explanation: str
    declared_depth: Depth
    actual_depth: Depth
    depth_explanation: str
    formality_risk: bool
    formality_reasons: tuple[str, ...] = ()
    formality_explanation: str
    #: Who scored on the agreement's panel; they may not decide an appeal of this result.
    panel_evaluator_ids: Ids = ()
    status: ResultStatus = ResultStatus.CURRENT
    completed_at: UtcDateTime
    completed_by: str
    supersedes_result_id: str | None = None
    superseded_by_result_id: str | None = None
    superseded_at: UtcDateTime | None = None
    version: int = 0
    events: list[EventPayload] = Field(default_factory=list, exclude=True)

    @classmethod
    def record(
        cls,
        *,
        result_id: str,
        cycle: Cycle,
        agreement: AgreementSnapshot,
        scorecard: Scorecard,
        depth: DepthComparison,
        formality: FormalityAssessment,
        panel_evaluator_ids: Collection[str],
        now: datetime,
        actor_id: str,
        supersedes: EvaluationResult | None = None,
    ) -> EvaluationResult:
        """Record a scored agreement. A re-score after an upheld appeal passes ``supersedes``
        and may be recorded after the cycle completed; a first result needs a scoring cycle."""
        if not cycle.includes(agreement.agreement_id):
            raise DomainError(
                "result.agreement_not_in_cycle",
                f"agreement {agreement.agreement_id} is not evaluated in cycle {cycle.cycle_id}",
            )
        if (scorecard.framework_id, scorecard.framework_version) != (cycle.framework_id, cycle.framework_version):
            raise DomainError(
                "result.framework_mismatch",
                f"cycle {cycle.cycle_id} is pinned to {cycle.framework_id} v{cycle.framework_version}",
            )
        if supersedes is None and cycle.status is not CycleStatus.SCORING:
            raise DomainError("result.cycle_not_scoring", f"cycle {cycle.cycle_id} is {cycle.status}, not scoring")
        if supersedes is not None and supersedes.agreement_id != agreement.agreement_id:
            raise DomainError("result.supersedes_other_agreement", "a re-score replaces a result of the same agreement")
        overall = RiskBand.AT_RISK if formality.flagged else scorecard.overall_risk
        explanation = scorecard.explanation
        if formality.flagged:
            explanation += f"; formality risk ({formality.explanation}) raises the overall risk to at_risk"
        result = cls(
            result_id=result_id,
            agreement_id=agreement.agreement_id,
            cycle_id=cycle.cycle_id,
            cycle_kind=cycle.kind,
            framework_id=scorecard.framework_id,
            framework_version=scorecard.framework_version,
            party_ids=agreement.party_ids,
            college_ids=agreement.college_ids,
            enterprise_ids=agreement.enterprise_ids,
            score_hundredths=to_hundredths(scorecard.composite),
            grade=scorecard.grade,
            overall_risk=overall,
            indicators=tuple(
                IndicatorOutcome(
                    code=i.code,
                    dimension=i.dimension,
                    weight_bp=i.weight_bp,
                    band=i.band,
                    score_hundredths=None if i.score is None else to_hundredths(i.score),
                    value=None if i.value is None else fmt(i.value),
                    target=None if i.target is None else fmt(i.target),
                    explanation=i.explanation,
                )
                for i in scorecard.indicators
            ),
            explanation=explanation,
            declared_depth=depth.declared,
            actual_depth=depth.actual,
            depth_explanation=depth.explain(),
            formality_risk=formality.flagged,
            formality_reasons=tuple(str(r) for r in formality.reasons),
            formality_explanation=formality.explanation,
            panel_evaluator_ids=tuple(sorted(set(panel_evaluator_ids))),
            completed_at=now,
            completed_by=actor_id,
            supersedes_result_id=None if supersedes is None else supersedes.result_id,
        )
        result.events.append(result._completed_event(now, actor_id))
        if formality.flagged:
            result.events.append(
                FormalityRiskFlagged(
                    agreement_id=result.agreement_id,
                    cycle_id=result.cycle_id,
                    result_id=result.result_id,
                    party_ids=result.party_ids,
                    reasons=result.formality_reasons,
                    inactive_months=formality.inactive_months,
                    last_activity_on=formality.last_activity_on,
                    detail=formality.explanation,
                    occurred_at=now,
                    actor_id=actor_id,
                )
            )
        return result

    @property
    def is_current(self) -> bool:
        return self.status is ResultStatus.CURRENT

    def bands(self) -> dict[str, RiskBand]:
        """Indicator code → band, as ``previous_bands`` for the agreement's next scoring."""
        return {i.code: i.band for i in self.indicators if i.band is not None}

    def supersede(self, by: EvaluationResult, appeal_id: str, now: datetime, actor_id: str) -> None:
        """Retire this result in favour of ``by``, its re-score after an upheld appeal."""
        if not self.is_current:
            raise InvalidTransition("result", self.status, "supersede")
        if by.supersedes_result_id != self.result_id:
            raise DomainError(
                "result.not_its_rescore",
                f"result {by.result_id} was not recorded as the re-score of {self.result_id}",
            )
        self.status = ResultStatus.SUPERSEDED
        self.superseded_by_result_id = by.result_id
        self.superseded_at = now
        self.events.append(
            ResultSuperseded(
                result_id=self.result_id,
                superseded_by_result_id=by.result_id,
                agreement_id=self.agreement_id,
                cycle_id=self.cycle_id,
                appeal_id=appeal_id,
                party_ids=self.party_ids,
                occurred_at=now,
                actor_id=actor_id,
            )
        )

    def _completed_event(self, now: datetime, actor_id: str) -> ResultCompleted:
        return ResultCompleted(
            result_id=self.result_id,
            agreement_id=self.agreement_id,
            cycle_id=self.cycle_id,
            cycle_kind=self.cycle_kind,
            framework_id=self.framework_id,
            framework_version=self.framework_version,
            score_hundredths=self.score_hundredths,
            grade=self.grade,
            overall_risk=self.overall_risk,
            indicators=tuple(
                IndicatorBand(code=i.code, band=i.band, score_hundredths=i.score_hundredths) for i in self.indicators
            ),
            actual_depth=self.actual_depth,
            declared_depth=self.declared_depth,
            formality_risk=self.formality_risk,
            party_ids=self.party_ids,
            college_ids=self.college_ids,
            enterprise_ids=self.enterprise_ids,
            supersedes_result_id=self.supersedes_result_id,
            occurred_at=now,
            actor_id=actor_id,
        )

    def to_document(self) -> dict[str, Any]:
        return self.model_dump(mode="python")

    @classmethod
    def from_document(cls, document: Mapping[str, Any]) -> EvaluationResult:
        return cls.model_validate({k: v for k, v in document.items() if k != "_id"})


def evaluate_agreement(
    *,
    result_id: str,
    cycle: Cycle,
    framework: Framework,
    agreement: AgreementSnapshot,
    reports: Iterable[CollegeReport],
    manual: Iterable[ManualEvidence],
    panel: Panel | None,
    previous: EvaluationResult | None,
    evaluated_on: date,
    now: datetime,
    actor_id: str,
    recent_activity: Iterable[date] = (),
    inactive_months: int = DEFAULT_INACTIVE_MONTHS,
    supersedes: EvaluationResult | None = None,
) -> EvaluationResult:
    """Aggregate, score, classify and record one agreement of a cycle.

    ``previous`` is the agreement's previous current result (for repeated-band rules);
    ``recent_activity`` adds activity dates from before the window, for formality risk.
    """
    if not cycle.uses(framework):
        raise DomainError(
            "result.framework_mismatch",
            f"cycle {cycle.cycle_id} is pinned to {cycle.framework_id} v{cycle.framework_version}",
        )
    summary = aggregate_evidence(reports, manual, cycle.window, agreement.declared_modes, framework.measures())
    targets = window_targets(agreement.obligations, cycle.window, agreement.term_start, agreement.term_end)
    panel_codes = [i.code for i in framework.indicators if i.source is EvidenceSource.PANEL]
    panel_measurements = {} if panel is None else panel.measurements(panel_codes, framework.panel_role_weights)
    scorecard = score_agreement(
        framework,
        summary.measurements,
        targets,
        panel=panel_measurements,
        previous_bands=None if previous is None else previous.bands(),
    )
    active_months_codes = {i.code for i in framework.indicators if i.measure == Measure.ACTIVE_MONTHS_RATE}
    cd02 = next((i for i in scorecard.indicators if i.code in active_months_codes), None)
    formality = assess_formality(
        agreement_active=agreement.active,
        active_since=agreement.active_since,
        activity_dates=[*summary.activity_dates, *recent_activity],
        evaluated_on=evaluated_on,
        cd02_band=None if cd02 is None else cd02.band,
        inactive_months=inactive_months,
    )
    depth = compare_depth(agreement.declared_depth, summary.modes_carried_out, summary.two_way_teacher_exchange)
    return EvaluationResult.record(
        result_id=result_id,
        cycle=cycle,
        agreement=agreement,
        scorecard=scorecard,
        depth=depth,
        formality=formality,
        panel_evaluator_ids=() if panel is None else panel.evaluator_ids,
        now=now,
        actor_id=actor_id,
        supersedes=supersedes,
    )
