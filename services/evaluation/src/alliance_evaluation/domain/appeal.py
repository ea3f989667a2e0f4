"""Appeals against a result.

A party to the agreement may appeal within ``window_working_days`` working days
(default 10; on the alliance's official calendar: Monday–Friday minus public holidays,
plus make-up working days — see ``working_days``)
after the day the result was recorded: the window ends at the end of that last working
day. A supervisor who did not sit on the agreement's panel decides it. Upheld: the
agreement is re-scored and the new result supersedes the old one (see
``EvaluationResult.supersede``); the decision may correct panel scores — a new score by
the original evaluator or by the deciding supervisor, with the reason — and the re-score
uses them (``Panel.correct_score``). Rejected: the result stands; the decision is recorded.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from alliance_evaluation.domain.panel import ScoreCorrection
from alliance_evaluation.domain.result import EvaluationResult
from alliance_evaluation.domain.working_days import WEEKDAYS_ONLY, OfficialCalendar, end_of_local_day, local_date
from alliance_shared.contract.base import EventPayload, UtcDateTime
from alliance_shared.contract.evaluation import AppealDecided, AppealDecision, AppealLodged
from alliance_shared.errors import DomainError, InvalidTransition

DEFAULT_APPEAL_WORKING_DAYS = 10


@dataclass(frozen=True)
class AppealPolicy:
    window_working_days: int = DEFAULT_APPEAL_WORKING_DAYS
    calendar: OfficialCalendar = WEEKDAYS_ONLY

    def deadline(self, result_recorded_at: datetime) -> datetime:
        """The first instant at which an appeal of the result is too late."""
        last_day = self.calendar.add_working_days(local_date(result_recorded_at), self.window_working_days)
        return end_of_local_day(last_day)


class AppealStatus(StrEnum):
    LODGED = "lodged"
    UPHELD = "upheld"
    REJECTED = "rejected"


def queue_position(status: str, lodged_at: datetime, appeal_id: str) -> str:
    """Where an appeal stands in the supervisors' queue: pending (lodged) first, then oldest
    first, the id breaking ties; fixed-width text, so that it sorts and pages as a string."""
    rank = 0 if status == AppealStatus.LODGED else 1
    return f"{rank}|{lodged_at.astimezone(UTC).strftime('%Y-%m-%dT%H:%M:%S.%f')}|{appeal_id}"


class Appeal(BaseModel):
    model_config = ConfigDict(extra="forbid", validate_assignment=True)

    appeal_id: str = Field(min_length=1, max_length=100)
    result_id: str
    agreement_id: str
    cycle_id: str
    party_ids: tuple[str, ...]
    appellant_party_id: str
    grounds: str = Field(min_length=1, max_length=4000)
    status: AppealStatus = AppealStatus.LODGED
    lodged_at: UtcDateTime
    lodged_by: str
    decided_at: UtcDateTime | None = None
    decided_by: str | None = None
    decision_reason: str | None = None
    #: New panel scores given with an upheld decision; the re-score uses them.
    score_corrections: tuple[ScoreCorrection, ...] = ()
    version: int = 0
    events: list[EventPayload] = Field(default_factory=list, exclude=True)

    @classmethod
    def lodge(
        cls,
        *,
        appeal_id: str,
        result: EvaluationResult,
        appellant_party_id: str,
        grounds: str,
        now: datetime,
        actor_id: str,
        policy: AppealPolicy,
        panel_evaluator_ids: Collection[str] = (),
    ) -> Appeal:
        """Lodge an appeal; ``panel_evaluator_ids`` (who scored the agreement) go into the
        event so the supervisors who may decide it — those not on the panel — are told."""
        if not result.is_current:
            raise DomainError(
                "appeal.result_superseded",
                f"result {result.result_id} was superseded by {result.superseded_by_result_id}; appeal that one",
            )
        if appellant_party_id not in result.party_ids:
            raise DomainError(
                "appeal.not_a_party",
                f"{appellant_party_id} is not a party to agreement {result.agreement_id}",
            )
        deadline = policy.deadline(result.completed_at)
        if now >= deadline:
            raise DomainError(
                "appeal.window_closed",
                f"appeals against result {result.result_id} closed at {deadline.isoformat()} "
                f"({policy.window_working_days} working days)",
                deadline=deadline.isoformat(),
            )
        appeal = cls(
            appeal_id=appeal_id,
            result_id=result.result_id,
            agreement_id=result.agreement_id,
            cycle_id=result.cycle_id,
            party_ids=result.party_ids,
            appellant_party_id=appellant_party_id,
            grounds=grounds,
            lodged_at=now,
            lodged_by=actor_id,
        )
        appeal.events.append(
            AppealLodged(
                appeal_id=appeal.appeal_id,
                result_id=appeal.result_id,
                agreement_id=appeal.agreement_id,
                cycle_id=appeal.cycle_id,
                appellant_party_id=appellant_party_id,
                grounds=grounds,
                party_ids=appeal.party_ids,
                panel_evaluator_ids=tuple(sorted(panel_evaluator_ids)),
                occurred_at=now,
                actor_id=actor_id,
            )
        )
        return appeal

    def decide(
        self,
        decision: AppealDecision,
        reason: str,
        result: EvaluationResult,
        now: datetime,
        decider_id: str,
        score_corrections: Sequence[ScoreCorrection] = (),
    ) -> None:
        """Record the decision of a supervisor (the caller checks the role) not on the panel.

        An upheld decision may correct panel scores (each evaluator's score of an
        indicator once); a rejected one leaves the result, and the scores, as they are."""
        if self.status is not AppealStatus.LODGED:
            raise InvalidTransition("appeal", self.status, "decide")
        if score_corrections and decision is not AppealDecision.UPHELD:
            raise DomainError("appeal.corrections_need_upheld", "panel scores are corrected only by an upheld appeal")
        keys = [(c.evaluator_id, c.indicator_code) for c in score_corrections]
        if len(keys) != len(set(keys)):
            raise DomainError("appeal.duplicate_correction", "each evaluator's score of an indicator is corrected once")
        if result.result_id != self.result_id:
            raise DomainError("appeal.wrong_result", f"appeal {self.appeal_id} concerns result {self.result_id}")
        if decider_id in result.panel_evaluator_ids:
            raise DomainError(
                "appeal.decider_conflict",
                f"{decider_id} sat on the panel that scored result {self.result_id} and cannot decide its appeal",
                decider_id=decider_id,
            )
        self.status = AppealStatus.UPHELD if decision is AppealDecision.UPHELD else AppealStatus.REJECTED
        self.decided_at = now
        self.decided_by = decider_id
        self.decision_reason = reason
        self.score_corrections = tuple(score_corrections)
        self.events.append(
            AppealDecided(
                appeal_id=self.appeal_id,
                result_id=self.result_id,
                agreement_id=self.agreement_id,
                cycle_id=self.cycle_id,
                decision=decision,
                reason=reason,
                party_ids=self.party_ids,
                occurred_at=now,
                actor_id=decider_id,
            )
        )

    def to_document(self) -> dict[str, Any]:
        return self.model_dump(mode="python")

    @classmethod
    def from_document(cls, document: Mapping[str, Any]) -> Appeal:
        return cls.model_validate({k: v for k, v in document.items() if k != "_id"})
