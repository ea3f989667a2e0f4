"""Multi-party scoring panels: who may score an agreement, and how their scores combine.

A panel scores the framework's panel-sourced indicators of one agreement in one cycle.
Each score is 0–100. Per role, the scores are averaged — trimmed (one highest and one
lowest dropped) once a role has five or more scores, so one extreme evaluator cannot
swing the figure; plainly otherwise. The role means are then combined by the
framework's role weights, re-normalised over the roles that actually scored.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
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
    model_config = ConfigDict(frozen=True, extra="forbid")

    evaluator_id: str
    indicator_code: str = Field(min_length=1, max_length=20)
    score: int = Field(strict=True, ge=0, le=100)
    scored_at: UtcDateTime


def trimmed_mean(scores: Sequence[int | Fraction]) -> Fraction:
    """Mean of the scores, without one highest and one lowest once there are five or more."""
    if not scores:
        raise ValueError("a mean of no scores is undefined")
    ordered = sorted(Fraction(s) for s in scores)
    if len(ordered) >= TRIM_FROM:
        ordered = ordered[1:-1]
    return sum(ordered, Fraction(0)) / len(ordered)


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

    def measurement(self, indicator_code: str, role_weights: Mapping[PanelRole, int]) -> Measurement:
        """The panel's combined score of one indicator, with how it was reached."""
        role_of = {m.evaluator_id: m.role for m in self.members}
        by_role: dict[PanelRole, list[int]] = {}
        for s in self.scores:
            if s.indicator_code == indicator_code:
                by_role.setdefault(role_of[s.evaluator_id], []).append(s.score)
        if not by_role:
            return Measurement(value=None, how="no evidence: no panel member scored this indicator")
        role_means = {role: trimmed_mean(scores) for role, scores in by_role.items()}
        combined = combine_roles(role_means, role_weights)
        count = sum(len(v) for v in by_role.values())
        if combined is None:
            return Measurement(
                value=None,
                how="no evidence: only roles without weight scored this indicator",
                evidence_count=count,
            )
        parts = "; ".join(
            f"{role} {fmt(role_means[role])} from {len(by_role[role])} scores"
            f"{' (trimmed)' if len(by_role[role]) >= TRIM_FROM else ''}, weight {role_weights.get(role, 0)} bp"
            for role in sorted(by_role)
        )
        return Measurement(
            value=combined,
            how=f"panel score {fmt(combined)}: {parts}",
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
