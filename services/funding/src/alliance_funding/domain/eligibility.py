"""Eligibility of an application under a programme's rules.

A pure check over a read-model snapshot (what funding learned from registry and
evaluation events). Every failed rule is reported, so an applicant sees all that is
missing at once.
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field

from alliance_funding.domain.programme import EligibilityRules
from alliance_shared.contract.vocabulary import GRADE_ORDER, Grade, PartnerKind

#: The registry's status of an agreement in force.
ACTIVE_AGREEMENT_STATUS = "active"


class EligibilitySnapshot(BaseModel):
    """What the read models say about an applicant and its agreement at the time of checking."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    applicant_partner_kind: PartnerKind
    applicant_region_code: str = Field(pattern=r"^[0-9]{1,12}$")
    enterprise_certified: bool = Field(
        description="an enterprise party of the agreement is a certified integration enterprise now"
    )
    agreement_status: str = Field(min_length=1, max_length=40)
    latest_grade: Grade | None = Field(description="grade of the agreement's latest evaluation; None: never evaluated")
    applicant_is_party: bool


class FailedRule(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    code: str
    text: str


def failed_rules(rules: EligibilityRules, snapshot: EligibilitySnapshot) -> list[FailedRule]:
    """Every rule the applicant fails (empty: eligible)."""
    failures: list[FailedRule] = []
    if snapshot.applicant_partner_kind not in rules.lead_partner_kinds:
        allowed = ", ".join(kind.value for kind in rules.lead_partner_kinds)
        failures.append(
            FailedRule(
                code="eligibility.partner_kind",
                text=f"a {snapshot.applicant_partner_kind.value} may not lead an application; allowed: {allowed}",
            )
        )
    if not snapshot.applicant_is_party:
        failures.append(
            FailedRule(code="eligibility.not_a_party", text="the applicant is not a party of the agreement")
        )
    if rules.region_prefix is not None and not snapshot.applicant_region_code.startswith(rules.region_prefix):
        failures.append(
            FailedRule(
                code="eligibility.region",
                text=f"region {snapshot.applicant_region_code} is outside the programme's region {rules.region_prefix}",
            )
        )
    if rules.require_certified_enterprise and not snapshot.enterprise_certified:
        failures.append(
            FailedRule(
                code="eligibility.certified_enterprise",
                text="no enterprise party is a certified industry-education integration enterprise",
            )
        )
    if rules.require_active_agreement and snapshot.agreement_status != ACTIVE_AGREEMENT_STATUS:
        failures.append(
            FailedRule(
                code="eligibility.agreement_active",
                text=f"the agreement is {snapshot.agreement_status}, not {ACTIVE_AGREEMENT_STATUS}",
            )
        )
    if rules.min_grade is not None:
        if snapshot.latest_grade is None:
            failures.append(
                FailedRule(
                    code="eligibility.min_grade",
                    text=f"the agreement has no evaluation yet; at least {rules.min_grade.value} is required",
                )
            )
        elif GRADE_ORDER[snapshot.latest_grade] < GRADE_ORDER[rules.min_grade]:
            failures.append(
                FailedRule(
                    code="eligibility.min_grade",
                    text=(
                        f"the agreement's latest grade {snapshot.latest_grade.value} is below "
                        f"the required {rules.min_grade.value}"
                    ),
                )
            )
    return failures
