"""Applications for funds: one applicant (college or enterprise), one agreement, one programme.

Lifecycle::

    draft ──submit──▶ submitted ──start_review──▶ under_review ──approve──▶ approved
      ▲                                               │ ├──reject──▶ rejected
      │ (revise)                                      │ └──return──▶ returned ──submit──▶ submitted
      └── returned: editable again (revise) ◀─────────┘
    withdraw: from draft, submitted, under_review or returned ──▶ withdrawn

A first submission must fall inside the programme's window; an application returned
for changes may be resubmitted as long as the programme is not finalised, since reviews
go on after the window closes. Review decisions carry a reason.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from enum import StrEnum
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field

from alliance_funding.domain.eligibility import EligibilitySnapshot, failed_rules
from alliance_funding.domain.programme import FULL_SHARE_BP, Programme, ProgrammeStatus
from alliance_shared.contract.base import EventPayload, UtcDateTime
from alliance_shared.contract.funding import (
    ApplicationApproved,
    ApplicationRejected,
    ApplicationReturned,
    ApplicationSubmitted,
    ApplicationWithdrawn,
    BudgetCategory,
    BudgetLineView,
)
from alliance_shared.errors import DomainError, Forbidden, InvalidTransition

Id = Annotated[str, Field(min_length=1, max_length=100)]
Amount = Annotated[int, Field(strict=True, ge=0, le=10**15)]


class ApplicationStatus(StrEnum):
    DRAFT = "draft"
    SUBMITTED = "submitted"
    UNDER_REVIEW = "under_review"
    APPROVED = "approved"
    REJECTED = "rejected"
    RETURNED = "returned"
    WITHDRAWN = "withdrawn"


EDITABLE = (ApplicationStatus.DRAFT, ApplicationStatus.RETURNED)
WITHDRAWABLE = (
    ApplicationStatus.DRAFT,
    ApplicationStatus.SUBMITTED,
    ApplicationStatus.UNDER_REVIEW,
    ApplicationStatus.RETURNED,
)


class BudgetLine(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    category: BudgetCategory
    amount_minor: int = Field(strict=True, gt=0, le=10**15)


def cofunding_ratio_met(requested_minor: int, cofunding_minor: int, min_cofunding_bp: int) -> bool:
    """pledged / (requested + pledged) >= min_bp / 10000, in integers (no rounding at all)."""
    return cofunding_minor * FULL_SHARE_BP >= min_cofunding_bp * (requested_minor + cofunding_minor)


class Application(BaseModel):
    model_config = ConfigDict(extra="forbid", validate_assignment=True)

    application_id: Id
    programme_id: Id
    agreement_id: Id
    applicant_partner_id: Id
    party_ids: tuple[Id, ...] = Field(min_length=1, max_length=200)
    currency: str = "CNY"
    requested_minor: Amount
    cofunding_minor: Amount
    budget_lines: tuple[BudgetLine, ...] = Field(max_length=len(BudgetCategory))
    status: ApplicationStatus = ApplicationStatus.DRAFT
    approved_minor: Amount | None = None
    decision_reason: str | None = None
    decided_by: str | None = None
    decided_at: UtcDateTime | None = None
    award_approved_by: str | None = Field(
        default=None, description="the second person who confirmed the grant (never ``decided_by``)"
    )
    award_approved_at: UtcDateTime | None = None
    submitted_at: UtcDateTime | None = None
    version: int = 0
    events: list[EventPayload] = Field(default_factory=list, exclude=True)

    @classmethod
    def draft(
        cls,
        *,
        application_id: str,
        programme: Programme,
        agreement_id: str,
        applicant_partner_id: str,
        party_ids: Sequence[str],
        requested_minor: int,
        cofunding_minor: int,
        budget_lines: Sequence[BudgetLine],
    ) -> Application:
        """A new, editable application. The figures are checked in full on submission."""
        _check_lines_distinct(budget_lines)
        return cls(
            application_id=application_id,
            programme_id=programme.programme_id,
            agreement_id=agreement_id,
            applicant_partner_id=applicant_partner_id,
            party_ids=tuple(party_ids),
            currency=programme.currency,
            requested_minor=requested_minor,
            cofunding_minor=cofunding_minor,
            budget_lines=tuple(budget_lines),
        )

    def revise(self, *, requested_minor: int, cofunding_minor: int, budget_lines: Sequence[BudgetLine]) -> None:
        if self.status not in EDITABLE:
            raise InvalidTransition("application", self.status, "revise")
        _check_lines_distinct(budget_lines)
        self.requested_minor = requested_minor
        self.cofunding_minor = cofunding_minor
        self.budget_lines = tuple(budget_lines)

    def submit(self, programme: Programme, snapshot: EligibilitySnapshot, now: datetime, actor_id: str) -> None:
        """Submit for review: within the window (or as a resubmission), with sound figures, eligible."""
        if self.status not in EDITABLE:
            raise InvalidTransition("application", self.status, "submit")
        self._check_programme(programme)
        resubmission_allowed = self.status is ApplicationStatus.RETURNED and programme.status in (
            ProgrammeStatus.OPEN,
            ProgrammeStatus.CLOSED,
        )
        if not (resubmission_allowed or programme.accepts_applications(now)):
            raise DomainError(
                "application.programme_not_open",
                f"programme {programme.programme_id} does not take applications now",
            )
        self._check_figures(programme)
        _require_eligible(programme, snapshot)
        self.status = ApplicationStatus.SUBMITTED
        self.submitted_at = now
        self.events.append(
            ApplicationSubmitted(
                **self._common(now, actor_id),
                requested_minor=self.requested_minor,
                cofunding_minor=self.cofunding_minor,
                currency=self.currency,
                budget_lines=tuple(BudgetLineView(**line.model_dump()) for line in self.budget_lines),
            )
        )

    def start_review(self) -> None:
        if self.status is not ApplicationStatus.SUBMITTED:
            raise InvalidTransition("application", self.status, "start reviewing")
        self.status = ApplicationStatus.UNDER_REVIEW

    def approve(
        self,
        *,
        approved_minor: int,
        reason: str,
        programme: Programme,
        available_minor: int,
        eligibility: EligibilitySnapshot,
        now: datetime,
        actor_id: str,
    ) -> None:
        """Approve for at most the request, the programme's cap and what the programme has available,
        and only if the applicant is still eligible (``eligibility``: the read models now — the
        agreement may have been suspended or the certificate revoked since submission)."""
        self._require_reviewable("approve")
        self._check_programme(programme)
        _require_reason(reason)
        _require_eligible(programme, eligibility)
        if approved_minor <= 0:
            raise DomainError("application.approval_not_positive", "an approval is for a positive amount")
        limits = (
            ("application.approval_over_request", self.requested_minor, "the requested amount"),
            ("application.approval_over_cap", programme.award_cap_minor, "the programme's per-award cap"),
            ("application.approval_over_available", available_minor, "what the programme has available"),
        )
        for code, limit, what in limits:
            if approved_minor > limit:
                raise DomainError(code, f"{approved_minor} exceeds {what} ({limit})", limit_minor=limit)
        self._decide(ApplicationStatus.APPROVED, reason, now, actor_id)
        self.approved_minor = approved_minor
        self.events.append(
            ApplicationApproved(
                **self._common(now, actor_id),
                requested_minor=self.requested_minor,
                approved_minor=approved_minor,
                currency=self.currency,
                reason=reason,
            )
        )

    def approve_award(self, now: datetime, approver_id: str) -> bool:
        """A second person confirms granting the award (committing the money) of the approved
        amount; never the officer who approved the application. False: confirmed before."""
        if self.status is not ApplicationStatus.APPROVED:
            raise InvalidTransition("application", self.status, "grant an award for")
        if approver_id == self.decided_by:
            raise Forbidden(
                "award.maker_checker", "the officer who approved the application cannot also grant its award"
            )
        if self.award_approved_by is not None:
            return False
        self.award_approved_by, self.award_approved_at = approver_id, now
        return True

    def reject(self, reason: str, now: datetime, actor_id: str) -> None:
        self._require_reviewable("reject")
        _require_reason(reason)
        self._decide(ApplicationStatus.REJECTED, reason, now, actor_id)
        self.events.append(ApplicationRejected(**self._common(now, actor_id), reason=reason))

    def return_for_changes(self, reason: str, now: datetime, actor_id: str) -> None:
        self._require_reviewable("return")
        _require_reason(reason)
        self._decide(ApplicationStatus.RETURNED, reason, now, actor_id)
        self.events.append(ApplicationReturned(**self._common(now, actor_id), reason=reason))

    def withdraw(self, reason: str | None, now: datetime, actor_id: str) -> None:
        if self.status not in WITHDRAWABLE:
            raise InvalidTransition("application", self.status, "withdraw")
        self.status = ApplicationStatus.WITHDRAWN
        self.events.append(ApplicationWithdrawn(**self._common(now, actor_id), reason=reason or None))

    def _require_reviewable(self, action: str) -> None:
        if self.status is not ApplicationStatus.UNDER_REVIEW:
            raise InvalidTransition("application", self.status, action)

    def _decide(self, status: ApplicationStatus, reason: str, now: datetime, actor_id: str) -> None:
        self.status = status
        self.decision_reason = reason
        self.decided_by = actor_id
        self.decided_at = now

    def _check_programme(self, programme: Programme) -> None:
        if programme.programme_id != self.programme_id:
            raise DomainError("application.wrong_programme", f"the application is for {self.programme_id}")

    def _check_figures(self, programme: Programme) -> None:
        if self.requested_minor <= 0:
            raise DomainError("application.request_not_positive", "the requested amount must be positive")
        if self.requested_minor > programme.award_cap_minor:
            raise DomainError(
                "application.request_over_cap",
                f"the request {self.requested_minor} exceeds the per-award cap {programme.award_cap_minor}",
                limit_minor=programme.award_cap_minor,
            )
        lines_total = sum(line.amount_minor for line in self.budget_lines)
        if lines_total != self.requested_minor:
            raise DomainError(
                "application.budget_lines_mismatch",
                f"the budget lines sum to {lines_total}, the request is {self.requested_minor}",
            )
        if not cofunding_ratio_met(self.requested_minor, self.cofunding_minor, programme.min_cofunding_bp):
            raise DomainError(
                "application.cofunding_too_low",
                f"co-funding {self.cofunding_minor} is below {programme.min_cofunding_bp} basis points "
                f"of the total {self.requested_minor + self.cofunding_minor}",
                min_cofunding_bp=programme.min_cofunding_bp,
            )

    def _common(self, now: datetime, actor_id: str) -> dict[str, Any]:
        return {
            "application_id": self.application_id,
            "programme_id": self.programme_id,
            "agreement_id": self.agreement_id,
            "applicant_partner_id": self.applicant_partner_id,
            "party_ids": self.party_ids,
            "occurred_at": now,
            "actor_id": actor_id,
        }

    def to_document(self) -> dict[str, Any]:
        return self.model_dump(mode="python")

    @classmethod
    def from_document(cls, document: Mapping[str, Any]) -> Application:
        return cls.model_validate({k: v for k, v in document.items() if k != "_id"})


def _check_lines_distinct(lines: Sequence[BudgetLine]) -> None:
    categories = [line.category for line in lines]
    if len(set(categories)) != len(categories):
        raise DomainError("application.budget_category_repeated", "each budget category appears at most once")


def _require_eligible(programme: Programme, snapshot: EligibilitySnapshot) -> None:
    """Every failed rule by name (``application.ineligible``), or nothing."""
    failures = failed_rules(programme.eligibility, snapshot)
    if failures:
        raise DomainError(
            "application.ineligible",
            "; ".join(failure.text for failure in failures),
            failed_rules=[failure.model_dump() for failure in failures],
        )


def _require_reason(reason: str) -> None:
    if not reason.strip():
        raise DomainError("application.reason_required", "a review decision carries a reason")
