"""Multi-party scoring panels: who may score an agreement, and how their scores combine.

A panel scores the framework's panel-sourced indicators of one agreement in one cycle.
Each score is 0–100. For one indicator (the formula and a worked example are in
docs/evaluation.md, "How a panel scores"):

1. once the whole panel gave the indicator five or more scores, the one highest and the
   one lowest are dropped (ties broken by evaluator id, so the same scores always drop
   the same two), so one extreme evaluator cannot swing the figure;
2. the scores left are averaged per role;
3. the role means are combined by the framework's role weights, re-normalised over the
   roles that still have a score and carry weight.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import datetime
from enum import StrEnum
from fractions import Fraction
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from alliance_evaluation.domain.evidence import Measurement, fmt
from alliance_shared.contract.base import UtcDateTime
from alliance_shared.errors import DomainError

TRIM_FROM = 5


class PanelRole(StrEnum):
    SUPERVISOR = "supervisor"
    INDUSTRY_EXPERT = "industry_expert"
    ENTERPRISE_REPRESENTATIVE = "enterprise_representative"
    COLLEGE_SELF_ASSESSMENT = "college_self_assessment"
    STUDENT_REPRESENTATIVE = "student_representative"


#: Roles that must be independent of every party to the agreement.
NEUTRAL_ROLES: frozenset[PanelRole] = frozenset({PanelRole.SUPERVISOR, PanelRole.INDUSTRY_EXPERT})


class PanelMember(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    evaluator_id: str = Field(min_length=1, max_length=100)
    role: PanelRole
    #: Partner ids the evaluator works for or represents.
    affiliation_partner_ids: tuple[str, ...] = Field(default=(), max_length=50)


class PanelScore(BaseModel):
    """An evaluator's score of an indicator; a score corrected on an upheld appeal keeps
    the score it replaced, who gave the new one, why, and the appeal."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    evaluator_id: str
    indicator_code: str = Field(min_length=1, max_length=20)
    score: int = Field(strict=True, ge=0, le=100)
    scored_at: UtcDateTime
    previous_score: int | None = None
    corrected_by: str | None = None
    correction_reason: str | None = None
    corrected_in_appeal: str | None = None


class CorrectionSource(StrEnum):
    """Who gave a corrected score: the evaluator whose score it replaces, or the
    supervisor deciding the appeal."""

    ORIGINAL_EVALUATOR = "original_evaluator"
    DECIDING_SUPERVISOR = "deciding_supervisor"


class ScoreCorrection(BaseModel):
    """A new score for one evaluator's score of a panel indicator, given on an upheld appeal."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    evaluator_id: str = Field(min_length=1, max_length=100, description="whose score is replaced")
    indicator_code: str = Field(min_length=1, max_length=20)
    score: int = Field(strict=True, ge=0, le=100)
    given_by: CorrectionSource
    reason: str = Field(min_length=1, max_length=2000)


def combine_roles(role_means: Mapping[PanelRole, Fraction], role_weights: Mapping[PanelRole, int]) -> Fraction | None:
    """Weighted mean of the role means over the roles that scored and carry weight."""
    weighted = {role: role_weights.get(role, 0) for role in role_means}
    total = sum(weighted.values())
    if total == 0:
        return None
    return sum((role_means[role] * weight for role, weight in weighted.items()), Fraction(0)) / total


class Panel(BaseModel):
    """The panel of one agreement in one cycle."""

    model_config = ConfigDict(extra="forbid", validate_assignment=True)

    panel_id: str = Field(min_length=1, max_length=100)
    cycle_id: str = Field(min_length=1, max_length=100)
    agreement_id: str = Field(min_length=1, max_length=100)
    party_ids: tuple[str, ...] = Field(min_length=1, max_length=200)
    members: tuple[PanelMember, ...] = ()
    scores: tuple[PanelScore, ...] = ()
    version: int = 0

    @property
    def evaluator_ids(self) -> frozenset[str]:
        return frozenset(m.evaluator_id for m in self.members)

    def add_member(self, member: PanelMember) -> None:
        """Seat an evaluator; a neutral role must not be affiliated with any party."""
        if member.evaluator_id in self.evaluator_ids:
            raise DomainError(
                "panel.already_member",
                f"evaluator {member.evaluator_id} already sits on this panel",
                evaluator_id=member.evaluator_id,
            )
        conflicts = sorted(set(member.affiliation_partner_ids) & set(self.party_ids))
        if member.role in NEUTRAL_ROLES and conflicts:
            raise DomainError(
                "panel.conflict_of_interest",
                f"evaluator {member.evaluator_id} is affiliated with {', '.join(conflicts)}, "
                f"a party to agreement {self.agreement_id}, and cannot sit as {member.role}",
                evaluator_id=member.evaluator_id,
                role=str(member.role),
                conflicting_partner_ids=conflicts,
                reason="affiliated_with_party",
            )
        self.members = (*self.members, member)

    def record_score(self, evaluator_id: str, indicator_code: str, score: int, now: datetime) -> None:
        """Record or replace the evaluator's score of an indicator; only members may score."""
        if evaluator_id not in self.evaluator_ids:
            raise DomainError(
                "panel.not_a_member",
                f"evaluator {evaluator_id} is not on the panel of agreement {self.agreement_id}",
                evaluator_id=evaluator_id,
            )
        kept = tuple(
            s for s in self.scores if not (s.evaluator_id == evaluator_id and s.indicator_code == indicator_code)
        )
        entry = PanelScore(evaluator_id=evaluator_id, indicator_code=indicator_code, score=score, scored_at=now)
        self.scores = (*kept, entry)

    def correct_score(self, correction: ScoreCorrection, appeal_id: str, decider_id: str, now: datetime) -> bool:
        """Replace an evaluator's score with the corrected one; False when this appeal's
        correction is already in (applying it again changes nothing)."""
        current = next(
            (
                s
                for s in self.scores
                if s.evaluator_id == correction.evaluator_id and s.indicator_code == correction.indicator_code
            ),
            None,
        )
        if current is None:
            raise DomainError(
                "panel.no_such_score",
                f"evaluator {correction.evaluator_id} gave no score for {correction.indicator_code} "
                f"on the panel of agreement {self.agreement_id}",
                evaluator_id=correction.evaluator_id,
                indicator_code=correction.indicator_code,
            )
        if current.corrected_in_appeal == appeal_id:
            return False
        corrected_by = (
            correction.evaluator_id if correction.given_by is CorrectionSource.ORIGINAL_EVALUATOR else decider_id
        )
        entry = PanelScore(
            evaluator_id=correction.evaluator_id,
            indicator_code=correction.indicator_code,
            score=correction.score,
            scored_at=now,
            previous_score=current.score,
            corrected_by=corrected_by,
            correction_reason=correction.reason,
            corrected_in_appeal=appeal_id,
        )
        self.scores = (*(s for s in self.scores if s is not current), entry)
        return True

    def measurement(self, indicator_code: str, role_weights: Mapping[PanelRole, int]) -> Measurement:
        """The panel's combined score of one indicator, with how it was reached."""
        role_of = {m.evaluator_id: m.role for m in self.members}
        given = sorted((s.score, s.evaluator_id) for s in self.scores if s.indicator_code == indicator_code)
        if not given:
            return Measurement(value=None, how="no evidence: no panel member scored this indicator")
        count = len(given)
        kept = given[1:-1] if count >= TRIM_FROM else given
        by_role: dict[PanelRole, list[int]] = {}
        for score, evaluator_id in kept:
            by_role.setdefault(role_of[evaluator_id], []).append(score)
        role_means = {role: Fraction(sum(scores), len(scores)) for role, scores in by_role.items()}
        combined = combine_roles(role_means, role_weights)
        if combined is None:
            return Measurement(
                value=None,
                how="no evidence: only roles without weight scored this indicator",
                evidence_count=count,
            )
        trimmed = (
            f"{count} scores, highest {given[-1][0]} ({given[-1][1]}) and lowest {given[0][0]} ({given[0][1]}) "
            "dropped; "
            if count >= TRIM_FROM
            else f"{count} scores, none dropped (fewer than {TRIM_FROM}); "
        )
        parts = ", ".join(
            f"{role} {fmt(role_means[role])} from {len(by_role[role])} × weight {role_weights.get(role, 0)} bp"
            for role in sorted(by_role)
        )
        corrected = [
            f"{s.evaluator_id} {s.previous_score} → {s.score} ({s.correction_reason})"
            for s in self.scores
            if s.indicator_code == indicator_code and s.corrected_in_appeal is not None
        ]
        on_appeal = f"; corrected on appeal: {'; '.join(sorted(corrected))}" if corrected else ""
        return Measurement(
            value=combined,
            how=f"panel score {fmt(combined)}: {trimmed}role means {parts}{on_appeal}",
            numerator=combined,
            evidence_count=count,
        )

    def measurements(
        self, indicator_codes: Iterable[str], role_weights: Mapping[PanelRole, int]
    ) -> dict[str, Measurement]:
        return {code: self.measurement(code, role_weights) for code in indicator_codes}

    def to_document(self) -> dict[str, Any]:
        return self.model_dump(mode="python")

    @classmethod
    def from_document(cls, document: Mapping[str, Any]) -> Panel:
        return cls.model_validate({k: v for k, v in document.items() if k != "_id"})
