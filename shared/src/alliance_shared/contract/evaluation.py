"""Events of the evaluation context (topic ``alliance.evaluation.events``).

Keys (``aggregate_field``): cycle events by ``cycle_id``; results, formality flags and
appeals by ``agreement_id``, so everything decided about one agreement reaches
consumers in order; rectification orders by ``order_id``; rejected college reports by
``college_id``.

Scores travel as hundredths of a point (``score_hundredths``: 8725 is 87.25 of 100),
never as floats. Every event carries ``party_ids`` (all partners of the agreement) where
an agreement is concerned, so notification routing needs no look-up.
"""

from __future__ import annotations

from datetime import date
from enum import StrEnum
from typing import Annotated, ClassVar

from pydantic import BaseModel, ConfigDict, Field

from alliance_shared.contract.base import EventPayload, UtcDateTime
from alliance_shared.contract.vocabulary import CycleKind, Depth, Grade, Reason, RiskBand

Id = Annotated[str, Field(min_length=1, max_length=100)]
PartyIds = Annotated[tuple[Id, ...], Field(max_length=200)]
#: A score of 0–100 in hundredths of a point.
ScoreHundredths = Annotated[int, Field(strict=True, ge=0, le=10_000)]

_ACTOR = Field(description="who made the change; 'system' for scheduled transitions")


class CycleOpened(EventPayload):
    """An evaluation cycle opened for a set of agreements, pinned to a framework version."""

    event_type: ClassVar[str] = "org.coopalliance.evaluation.cycle.opened.v1"
    aggregate_field: ClassVar[str] = "cycle_id"

    cycle_id: Id
    cycle_kind: CycleKind
    name: str = Field(min_length=1, max_length=200)
    agreement_ids: tuple[Id, ...] = Field(min_length=1, max_length=2000)
    party_ids: tuple[Id, ...] = Field(max_length=10_000, description="all partners of those agreements")
    window_start: date = Field(description="first day of the evidence window")
    window_end: date = Field(description="last day of the evidence window, included")
    due_at: UtcDateTime
    framework_id: Id
    framework_version: int = Field(ge=1)
    occurred_at: UtcDateTime
    actor_id: Id = _ACTOR


class CycleClosed(EventPayload):
    """An evaluation cycle completed: every agreement in it has a result."""

    event_type: ClassVar[str] = "org.coopalliance.evaluation.cycle.closed.v1"
    aggregate_field: ClassVar[str] = "cycle_id"

    cycle_id: Id
    cycle_kind: CycleKind
    agreement_ids: tuple[Id, ...] = Field(min_length=1, max_length=2000)
    occurred_at: UtcDateTime
    actor_id: Id = _ACTOR


class PanelMemberSeated(EventPayload):
    """An evaluator was seated on the panel of one agreement in a cycle: they are asked to score.

    ``role`` is the panel role (``supervisor``, ``industry_expert``, ``enterprise_representative``,
    ``college_self_assessment``, ``student_representative``); ``due_at`` is the cycle's deadline.
    """

    event_type: ClassVar[str] = "org.coopalliance.evaluation.panel.member_seated.v1"
    aggregate_field: ClassVar[str] = "agreement_id"
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "cycle_id": "cyc-2026-mid",
                    "agreement_id": "agr-7f3c",
                    "evaluator_id": "expert-chen",
                    "role": "industry_expert",
                    "party_ids": ["col-001", "ent-042"],
                    "due_at": "2026-07-15T09:59:59Z",
                    "occurred_at": "2026-06-01T02:00:00Z",
                    "actor_id": "supervisor-wang",
                }
            ]
        }
    )

    cycle_id: Id
    agreement_id: Id
    evaluator_id: Id = Field(description="the seated evaluator: a person, by their token subject")
    role: str = Field(pattern=r"^[a-z_]+$", max_length=60)
    party_ids: PartyIds
    due_at: UtcDateTime | None = Field(default=None, description="the cycle's deadline for scores")
    occurred_at: UtcDateTime
    actor_id: Id = _ACTOR


class IndicatorBand(BaseModel):
    """One indicator of a result. ``band`` is None when the indicator does not apply to the
    agreement; ``score_hundredths`` is None when there was no evidence or it does not apply."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    code: str = Field(min_length=1, max_length=20)
    band: RiskBand | None
    score_hundredths: ScoreHundredths | None


class ResultCompleted(EventPayload):
    """An agreement was scored in a cycle. The basis of tranche release and rectification.

    ``supersedes_result_id`` is set when the result replaces an earlier one after an
    upheld appeal (a ``result.superseded`` event announces the old one's retirement).
    """

    event_type: ClassVar[str] = "org.coopalliance.evaluation.result.completed.v1"
    aggregate_field: ClassVar[str] = "agreement_id"

    result_id: Id
    agreement_id: Id
    cycle_id: Id
    cycle_kind: CycleKind
    framework_id: Id
    framework_version: int = Field(ge=1)
    score_hundredths: ScoreHundredths
    grade: Grade
    overall_risk: RiskBand
    indicators: tuple[IndicatorBand, ...] = Field(max_length=200)
    actual_depth: Depth
    declared_depth: Depth
    formality_risk: bool
    party_ids: PartyIds
    college_ids: PartyIds = ()
    enterprise_ids: PartyIds = ()
    supersedes_result_id: Id | None = None
    occurred_at: UtcDateTime
    actor_id: Id = _ACTOR


class ResultSuperseded(EventPayload):
    """A result was replaced by a re-score after an upheld appeal; both stay on record."""

    event_type: ClassVar[str] = "org.coopalliance.evaluation.result.superseded.v1"
    aggregate_field: ClassVar[str] = "agreement_id"

    result_id: Id = Field(description="the result that no longer counts")
    superseded_by_result_id: Id
    agreement_id: Id
    cycle_id: Id
    appeal_id: Id
    party_ids: PartyIds
    occurred_at: UtcDateTime
    actor_id: Id = _ACTOR


class RectificationItem(BaseModel):
    """What must be put right: an indicator (or ``COMPOSITE`` for a failing grade)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    indicator_code: str = Field(min_length=1, max_length=20)
    band: RiskBand
    requirement: str = Field(min_length=1, max_length=2000)


class _RectificationEvent(EventPayload):
    aggregate_field: ClassVar[str] = "order_id"

    order_id: Id
    agreement_id: Id
    result_id: Id
    responsible_party_id: Id
    party_ids: PartyIds
    due_at: UtcDateTime
    ordered_by: Id | None = Field(
        default=None, description="who issued the order: a supervisor, or whoever completed the cycle"
    )
    occurred_at: UtcDateTime
    actor_id: Id = _ACTOR


class RectificationOrdered(_RectificationEvent):
    """A rectification order was issued to the responsible party, with a deadline."""

    event_type: ClassVar[str] = "org.coopalliance.evaluation.rectification.ordered.v1"

    cycle_id: Id
    items: tuple[RectificationItem, ...] = Field(min_length=1, max_length=100)
    by_hand: bool = Field(
        default=False,
        description="a supervisor chose the items and wrote each requirement; otherwise the requirements "
        "are generated from the result and readers render them from indicator_code and band",
    )


class RectificationResponded(_RectificationEvent):
    """The responsible party answered the order with evidence."""

    event_type: ClassVar[str] = "org.coopalliance.evaluation.rectification.responded.v1"

    evidence_refs: tuple[Annotated[str, Field(min_length=1, max_length=500)], ...] = Field(min_length=1, max_length=50)


class RectificationReturned(_RectificationEvent):
    """The supervisor found the response insufficient; the order is open again."""

    event_type: ClassVar[str] = "org.coopalliance.evaluation.rectification.returned.v1"

    reason: Reason


class RectificationClosed(_RectificationEvent):
    """The supervisor verified the rectification; ``was_overdue`` if it came late."""

    event_type: ClassVar[str] = "org.coopalliance.evaluation.rectification.closed.v1"

    was_overdue: bool
    reason: Reason


class RectificationOverdue(_RectificationEvent):
    """The deadline passed without a response; escalated to the supervisors. Sent once."""

    event_type: ClassVar[str] = "org.coopalliance.evaluation.rectification.overdue.v1"


class RectificationEscalated(_RectificationEvent):
    """Still unanswered ``escalate_after_days`` after the deadline: escalated to the
    supervisors and the alliance's administrators. Sent once per order."""

    event_type: ClassVar[str] = "org.coopalliance.evaluation.rectification.escalated.v1"

    overdue_since: UtcDateTime
    escalate_after_days: int = Field(ge=0, le=3650)


class FormalityRiskFlagged(EventPayload):
    """An active agreement looks like cooperation on paper only."""

    event_type: ClassVar[str] = "org.coopalliance.evaluation.formality_risk.flagged.v1"
    aggregate_field: ClassVar[str] = "agreement_id"

    agreement_id: Id
    cycle_id: Id
    result_id: Id
    party_ids: PartyIds
    reasons: tuple[Annotated[str, Field(min_length=1, max_length=60)], ...] = Field(min_length=1, max_length=10)
    inactive_months: int = Field(ge=0)
    last_activity_on: date | None = None
    detail: Reason
    occurred_at: UtcDateTime
    actor_id: Id = _ACTOR


class AppealLodged(EventPayload):
    """A party appealed a result within the appeal window."""

    event_type: ClassVar[str] = "org.coopalliance.evaluation.appeal.lodged.v1"
    aggregate_field: ClassVar[str] = "agreement_id"

    appeal_id: Id
    result_id: Id
    agreement_id: Id
    cycle_id: Id
    appellant_party_id: Id
    grounds: str = Field(min_length=1, max_length=4000)
    party_ids: PartyIds
    panel_evaluator_ids: tuple[Id, ...] = Field(
        default=(), max_length=200, description="who sat on the panel: they may not decide the appeal"
    )
    occurred_at: UtcDateTime
    actor_id: Id = _ACTOR


class AppealDecision(StrEnum):
    UPHELD = "upheld"
    REJECTED = "rejected"


class AppealDecided(EventPayload):
    """A supervisor not on the original panel decided an appeal.

    ``upheld``: the agreement is re-scored and a new result supersedes the old one.
    ``rejected``: the result stands; the decision and its reason are on record.
    """

    event_type: ClassVar[str] = "org.coopalliance.evaluation.appeal.decided.v1"
    aggregate_field: ClassVar[str] = "agreement_id"

    appeal_id: Id
    result_id: Id
    agreement_id: Id
    cycle_id: Id
    decision: AppealDecision
    reason: Reason
    party_ids: PartyIds
    occurred_at: UtcDateTime
    actor_id: Id = _ACTOR


class CollegeReportRejected(EventPayload):
    """A college report could not be accepted; consumed by the reporting college's system.

    ``reason_code`` is machine-readable (e.g. ``report.invalid``, ``report.unknown_type``,
    ``report.wrong_agreement``, ``report.oversized``); ``detail`` says what to fix.
    """

    event_type: ClassVar[str] = "org.coopalliance.evaluation.college_report.rejected.v1"
    aggregate_field: ClassVar[str] = "college_id"

    college_id: Id
    original_event_id: str = Field(min_length=1, max_length=200)
    original_event_type: str | None = Field(default=None, max_length=200)
    report_id: str | None = Field(default=None, max_length=100)
    agreement_id: str | None = Field(default=None, max_length=100)
    reason_code: str = Field(pattern=r"^[a-z_]+(\.[a-z_]+)+$", max_length=100)
    detail: Reason
    occurred_at: UtcDateTime


EVALUATION_EVENTS: tuple[type[EventPayload], ...] = (
    CycleOpened,
    CycleClosed,
    PanelMemberSeated,
    ResultCompleted,
    ResultSuperseded,
    RectificationOrdered,
    RectificationResponded,
    RectificationReturned,
    RectificationClosed,
    RectificationOverdue,
    RectificationEscalated,
    FormalityRiskFlagged,
    AppealLodged,
    AppealDecided,
    CollegeReportRejected,
)
