"""Indicator frameworks: versioned configuration of what is measured and how it is judged.

A framework is data. A draft may be edited; ``publish`` freezes it for good, and cycles
pin the (framework_id, version) they score with, so a published version never changes
under a result. To change a published framework, derive the next draft version.

Numbers in a framework (targets, thresholds, grade bands) are ``Decimal`` and are stored
as decimal strings, so nothing is lost to binary floats; scoring turns them into exact
fractions.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from decimal import Decimal
from enum import StrEnum
from fractions import Fraction
from typing import Annotated, Any, Self

from pydantic import BaseModel, ConfigDict, Field, PlainSerializer, model_validator

from alliance_evaluation.domain.computation import Computation
from alliance_evaluation.domain.panel import PanelRole
from alliance_shared.contract.base import UtcDateTime
from alliance_shared.contract.vocabulary import Grade, ObligationMetric
from alliance_shared.errors import DomainError

TOTAL_WEIGHT_BP = 10_000

#: A configured number: exact decimal in memory, a decimal string in documents.
ConfigNumber = Annotated[
    Decimal,
    Field(ge=0, allow_inf_nan=False),
    PlainSerializer(str, return_type=str),
]

IndicatorCode = Annotated[str, Field(pattern=r"^[A-Z0-9]{1,8}-[0-9]{2}$")]
#: The name of a measured figure (e.g. ``internship_placements``), shown beside the evidence.
MeasureName = Annotated[str, Field(pattern=r"^[a-z][a-z0-9_]{0,59}$")]


class Dimension(StrEnum):
    TALENT_TRAINING = "talent_training"
    TEACHING_STAFF = "teaching_staff"
    RD_AND_SOCIAL_SERVICE = "rd_and_social_service"
    RESOURCE_INVESTMENT = "resource_investment"
    SATISFACTION = "satisfaction"
    COOPERATION_DEPTH = "cooperation_depth"
    PANEL_REVIEW = "panel_review"


class EvidenceSource(StrEnum):
    COLLEGE_REPORTS = "college_reports"
    MANUAL = "manual"
    SURVEY = "survey"
    PANEL = "panel"
    DERIVED = "derived"


class Direction(StrEnum):
    HIGHER_IS_BETTER = "higher_is_better"
    LOWER_IS_BETTER = "lower_is_better"


class NoEvidencePolicy(StrEnum):
    """What an indicator without any evidence contributes to the composite.

    ``exclude_and_reweight``: it is left out and the other weights are scaled up.
    ``score_zero_and_flag``: it counts with a score of 0 and the result is flagged.
    Either way the indicator is reported as ``no_evidence``, never as a measured 0 or 100.
    """

    EXCLUDE_AND_REWEIGHT = "exclude_and_reweight"
    SCORE_ZERO_AND_FLAG = "score_zero_and_flag"


class FrameworkStatus(StrEnum):
    DRAFT = "draft"
    PUBLISHED = "published"


class ThresholdBasis(StrEnum):
    #: ``value`` is basis points of the indicator's target (8000 = 80 % of target).
    TARGET_BASIS_POINTS = "target_basis_points"
    #: ``value`` is in the indicator's own unit (60 = 60 %, 2.5 = 2.5 on a 1–4 scale).
    ABSOLUTE = "absolute"


class Threshold(BaseModel):
    """A band boundary. Higher-is-better indicators are in the band when the value is
    below it; lower-is-better ones when the value is above it."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    basis: ThresholdBasis
    value: ConfigNumber

    def resolve(self, target: Fraction | None) -> Fraction | None:
        """The boundary in the indicator's unit; None when it is relative and there is no target."""
        if self.basis is ThresholdBasis.ABSOLUTE:
            return Fraction(self.value)
        if target is None:
            return None
        return target * Fraction(self.value) / TOTAL_WEIGHT_BP

    def describe(self) -> str:
        if self.basis is ThresholdBasis.ABSOLUTE:
            return str(self.value)
        return f"{Fraction(self.value) / 100}% of target"


def of_target(basis_points: int) -> Threshold:
    return Threshold(basis=ThresholdBasis.TARGET_BASIS_POINTS, value=Decimal(basis_points))


def absolute(value: str | int) -> Threshold:
    return Threshold(basis=ThresholdBasis.ABSOLUTE, value=Decimal(value))


class IndicatorDefinition(BaseModel):
    """One indicator: the figure it reads (``measure``, computed by ``computation`` — see
    ``computation.py``; panel indicators have neither), its target, thresholds and weight."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    code: IndicatorCode
    dimension: Dimension
    name_zh: str = Field(min_length=1, max_length=200)
    name_en: str = Field(min_length=1, max_length=200)
    unit: str = Field(min_length=1, max_length=60)
    source: EvidenceSource
    measure: MeasureName | None
    computation: Computation | None
    target_fixed: ConfigNumber | None = None
    target_obligation: ObligationMetric | None = None
    direction: Direction = Direction.HIGHER_IS_BETTER
    weight_bp: int = Field(ge=0, le=TOTAL_WEIGHT_BP)
    needs_improvement: Threshold
    at_risk: Threshold
    #: Needs improvement in this window and the previous one counts as at risk (RD-01).
    at_risk_when_repeated: bool = False

    @model_validator(mode="after")
    def _consistent(self) -> Self:
        if self.target_fixed is not None and self.target_obligation is not None:
            raise ValueError(f"{self.code}: a target is fixed or an obligation, not both")
        if self.target_fixed is not None and self.target_fixed <= 0:
            raise ValueError(f"{self.code}: a fixed target must be positive")
        if (self.source is EvidenceSource.PANEL) != (self.measure is None):
            raise ValueError(f"{self.code}: panel indicators have no measure, all others need one")
        if (self.measure is None) != (self.computation is None):
            raise ValueError(f"{self.code}: a measure is named together with its computation")
        has_target = self.target_fixed is not None or self.target_obligation is not None
        for threshold in (self.needs_improvement, self.at_risk):
            if threshold.basis is ThresholdBasis.TARGET_BASIS_POINTS and not has_target:
                raise ValueError(f"{self.code}: a threshold relative to the target needs a target")
        if self.needs_improvement.basis is self.at_risk.basis:
            worse_first = (
                self.at_risk.value <= self.needs_improvement.value
                if self.direction is Direction.HIGHER_IS_BETTER
                else self.at_risk.value >= self.needs_improvement.value
            )
            if not worse_first:
                raise ValueError(f"{self.code}: the at-risk threshold must be worse than needs-improvement")
        return self

    @property
    def has_target(self) -> bool:
        return self.target_fixed is not None or self.target_obligation is not None


class GradeBands(BaseModel):
    """Lowest composite score (0–100) of each grade; below ``pass_from`` is a fail."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    excellent_from: ConfigNumber = Decimal(90)
    good_from: ConfigNumber = Decimal(75)
    pass_from: ConfigNumber = Decimal(60)

    @model_validator(mode="after")
    def _descending(self) -> Self:
        if not (100 >= self.excellent_from > self.good_from > self.pass_from > 0):
            raise ValueError("grade bands must satisfy 100 >= excellent > good > pass > 0")
        return self

    def grade_for(self, score: Fraction) -> Grade:
        if score >= Fraction(self.excellent_from):
            return Grade.EXCELLENT
        if score >= Fraction(self.good_from):
            return Grade.GOOD
        if score >= Fraction(self.pass_from):
            return Grade.PASS
        return Grade.FAIL


DEFAULT_PANEL_ROLE_WEIGHTS: Mapping[PanelRole, int] = {
    PanelRole.SUPERVISOR: 3000,
    PanelRole.INDUSTRY_EXPERT: 2500,
    PanelRole.ENTERPRISE_REPRESENTATIVE: 1500,
    PanelRole.COLLEGE_SELF_ASSESSMENT: 1500,
    PanelRole.STUDENT_REPRESENTATIVE: 1500,
}


class Framework(BaseModel):
    """A versioned indicator framework. Any change after ``publish`` raises
    ``framework.published_immutable``, whether through a method or an attribute."""

    model_config = ConfigDict(extra="forbid", validate_assignment=True)

    framework_id: str = Field(min_length=1, max_length=100)
    version: int = Field(ge=1)
    name: str = Field(min_length=1, max_length=200)
    status: FrameworkStatus = FrameworkStatus.DRAFT
    no_evidence_policy: NoEvidencePolicy = NoEvidencePolicy.EXCLUDE_AND_REWEIGHT
    grade_bands: GradeBands = GradeBands()
    #: Basis points per evaluator role, used to combine the roles' panel scores.
    panel_role_weights: dict[PanelRole, int] = Field(default_factory=lambda: dict(DEFAULT_PANEL_ROLE_WEIGHTS))
    indicators: tuple[IndicatorDefinition, ...] = ()
    published_at: UtcDateTime | None = None
    published_by: str | None = None

    @model_validator(mode="after")
    def _unique_codes(self) -> Self:
        codes = [indicator.code for indicator in self.indicators]
        if len(codes) != len(set(codes)):
            raise ValueError("indicator codes must be unique within a framework")
        computations: dict[str, Computation] = {}
        for indicator in self.indicators:
            if indicator.measure is None or indicator.computation is None:
                continue
            if computations.setdefault(indicator.measure, indicator.computation) != indicator.computation:
                raise ValueError(f"measure {indicator.measure} is computed in two different ways")
        if any(weight < 0 for weight in self.panel_role_weights.values()):
            raise ValueError("panel role weights must not be negative")
        return self

    def __setattr__(self, name: str, value: Any) -> None:
        if self.__dict__.get("status") is FrameworkStatus.PUBLISHED:
            raise self._immutable()
        super().__setattr__(name, value)

    @property
    def is_published(self) -> bool:
        return self.status is FrameworkStatus.PUBLISHED

    @property
    def total_weight_bp(self) -> int:
        return sum(indicator.weight_bp for indicator in self.indicators)

    def measures(self) -> dict[str, Computation]:
        """Every measured figure the indicators read, by name."""
        return {
            i.measure: i.computation for i in self.indicators if i.measure is not None and i.computation is not None
        }

    def indicator(self, code: str) -> IndicatorDefinition:
        for indicator in self.indicators:
            if indicator.code == code:
                return indicator
        raise DomainError("framework.unknown_indicator", f"framework has no indicator {code}", indicator_code=code)

    # --- editing a draft -------------------------------------------------------------

    def put_indicator(self, definition: IndicatorDefinition) -> None:
        """Add the indicator, or replace the one with the same code."""
        kept = tuple(i for i in self.indicators if i.code != definition.code)
        self.indicators = (*kept, definition)

    def remove_indicator(self, code: str) -> None:
        self.indicator(code)
        self.indicators = tuple(i for i in self.indicators if i.code != code)

    def set_grade_bands(self, bands: GradeBands) -> None:
        self.grade_bands = bands

    def set_no_evidence_policy(self, policy: NoEvidencePolicy) -> None:
        self.no_evidence_policy = policy

    def set_panel_role_weights(self, weights: Mapping[PanelRole, int]) -> None:
        self.panel_role_weights = dict(weights)

    def publish(self, now: datetime, actor_id: str) -> None:
        """Check the framework is complete and freeze it."""
        if self.is_published:
            raise self._immutable()
        if not self.indicators:
            raise DomainError("framework.empty", "a framework needs at least one indicator")
        if self.total_weight_bp != TOTAL_WEIGHT_BP:
            raise DomainError(
                "framework.weights_invalid",
                f"indicator weights sum to {self.total_weight_bp} basis points, not {TOTAL_WEIGHT_BP}",
                total_weight_bp=self.total_weight_bp,
            )
        uses_panel = any(i.source is EvidenceSource.PANEL for i in self.indicators)
        if uses_panel and sum(self.panel_role_weights.values()) != TOTAL_WEIGHT_BP:
            raise DomainError(
                "framework.panel_role_weights_invalid",
                f"panel role weights must sum to {TOTAL_WEIGHT_BP} basis points",
            )
        self.published_at = now
        self.published_by = actor_id
        self.status = FrameworkStatus.PUBLISHED

    def next_draft(self) -> Framework:
        """A new draft version with this version's content, to edit and publish."""
        return Framework(
            framework_id=self.framework_id,
            version=self.version + 1,
            name=self.name,
            no_evidence_policy=self.no_evidence_policy,
            grade_bands=self.grade_bands,
            panel_role_weights=dict(self.panel_role_weights),
            indicators=self.indicators,
        )

    def to_document(self) -> dict[str, Any]:
        return self.model_dump(mode="python")

    @classmethod
    def from_document(cls, document: Mapping[str, Any]) -> Framework:
        return cls.model_validate({k: v for k, v in document.items() if k != "_id"})

    def _immutable(self) -> DomainError:
        return DomainError(
            "framework.published_immutable",
            f"framework {self.framework_id} v{self.version} is published and cannot change; "
            "derive the next draft version instead",
            framework_id=self.framework_id,
            version=self.version,
        )
