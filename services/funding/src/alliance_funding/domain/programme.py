"""Fund programmes: budget, window, eligibility rules, cap, co-funding ratio, tranche template.

Lifecycle::

    draft ──open──▶ open ──close──▶ closed ──finalise──▶ finalised
    (revise)        (applications within the window)

Opening appropriates the budget (an ``appropriate`` ledger transfer in ``transfers``).
Everything a programme holds is validated whenever it is saved: a DomainError
``programme.invalid`` names the offending ``field``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from enum import StrEnum
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from alliance_funding.domain.execution import BudgetExecution
from alliance_funding.domain.ledger import AccountId, Transfer, TransferKind
from alliance_shared.contract.base import EventPayload, MinorUnits, UtcDateTime
from alliance_shared.contract.funding import ProgrammeClosed, ProgrammeFinalised, ProgrammeOpened, ReleaseKind
from alliance_shared.contract.vocabulary import CycleKind, Grade, PartnerKind
from alliance_shared.errors import DomainError, InvalidTransition

FULL_SHARE_BP = 10_000
PROGRAMME_CURRENCY = "CNY"
MAX_TRANCHES = 20


class OnAwardRelease(BaseModel):
    """Eligible as soon as the award is granted."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    kind: Literal[ReleaseKind.ON_AWARD] = ReleaseKind.ON_AWARD


class EvaluationRelease(BaseModel):
    """Eligible on an evaluation result of ``cycle_kind`` graded at least ``min_grade``."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    kind: Literal[ReleaseKind.EVALUATION] = ReleaseKind.EVALUATION
    cycle_kind: CycleKind
    min_grade: Grade


class ManualRelease(BaseModel):
    """Eligible when a funding officer releases it."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    kind: Literal[ReleaseKind.MANUAL] = ReleaseKind.MANUAL


ReleaseCondition = Annotated[OnAwardRelease | EvaluationRelease | ManualRelease, Field(discriminator="kind")]


class TrancheTemplateItem(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    name: str = Field(min_length=1, max_length=200)
    share_bp: int = Field(strict=True, ge=1, le=FULL_SHARE_BP)
    release: ReleaseCondition


class EligibilityRules(BaseModel):
    """Who may apply. ``min_grade`` applies to the agreement's latest evaluation; None: no
    evaluation needed. ``region_prefix``: the applicant's administrative division code
    (GB/T 2260) must start with it; None: anywhere."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    lead_partner_kinds: tuple[PartnerKind, ...] = Field(min_length=1, max_length=len(PartnerKind))
    require_certified_enterprise: bool = False
    require_active_agreement: bool = True
    min_grade: Grade | None = None
    region_prefix: str | None = Field(default=None, pattern=r"^[0-9]{1,6}$")


class ProgrammeStatus(StrEnum):
    DRAFT = "draft"
    OPEN = "open"
    CLOSED = "closed"
    FINALISED = "finalised"


class Programme(BaseModel):
    model_config = ConfigDict(extra="forbid", validate_assignment=True)

    programme_id: AccountId
    name: str = Field(min_length=1, max_length=200)
    fiscal_year: int = Field(strict=True, ge=2000, le=2100)
    currency: str = PROGRAMME_CURRENCY
    appropriated_minor: MinorUnits
    opens_at: UtcDateTime
    closes_at: UtcDateTime
    eligibility: EligibilityRules
    award_cap_minor: MinorUnits
    min_cofunding_bp: int = Field(strict=True, ge=0, le=FULL_SHARE_BP - 1)
    tranche_template: tuple[TrancheTemplateItem, ...] = Field(min_length=1, max_length=MAX_TRANCHES)
    status: ProgrammeStatus = ProgrammeStatus.DRAFT
    version: int = 0
    events: list[EventPayload] = Field(default_factory=list, exclude=True)
    transfers: list[Transfer] = Field(default_factory=list, exclude=True)

    @classmethod
    def draft(cls, **fields: Any) -> Programme:
        """A new programme in draft; DomainError ``programme.invalid`` (with ``field``) if any rule fails."""
        return _validated({**fields, "status": ProgrammeStatus.DRAFT, "version": 0})

    def revise(self, **changes: Any) -> Programme:
        """The programme with changed settings; only a draft may change."""
        if self.status is not ProgrammeStatus.DRAFT:
            raise InvalidTransition("programme", self.status, "revise")
        if {"programme_id", "status", "version"} & changes.keys():
            raise DomainError("programme.invalid", "id, status and version are not revisable", field="programme_id")
        return _validated({**self.to_document(), **changes})

    def accepts_applications(self, now: datetime) -> bool:
        return self.status is ProgrammeStatus.OPEN and self.opens_at <= now < self.closes_at

    def open(self, now: datetime, actor_id: str) -> None:
        """Open the programme and appropriate its budget into the programme's book."""
        if self.status is not ProgrammeStatus.DRAFT:
            raise InvalidTransition("programme", self.status, "open")
        if now >= self.closes_at:
            raise DomainError("programme.window_passed", "the application window has already closed", field="closes_at")
        self.status = ProgrammeStatus.OPEN
        self.transfers.append(
            Transfer(
                transfer_id=f"{self.programme_id}:appropriate",
                kind=TransferKind.APPROPRIATE,
                programme_id=self.programme_id,
                amount_minor=self.appropriated_minor,
                currency=self.currency,
                at=now,
                actor_id=actor_id,
                refs={"fiscal_year": str(self.fiscal_year)},
            )
        )
        self.events.append(
            ProgrammeOpened(
                programme_id=self.programme_id,
                name=self.name,
                fiscal_year=self.fiscal_year,
                appropriated_minor=self.appropriated_minor,
                award_cap_minor=self.award_cap_minor,
                min_cofunding_bp=self.min_cofunding_bp,
                currency=self.currency,
                opens_at=self.opens_at,
                closes_at=self.closes_at,
                occurred_at=now,
                actor_id=actor_id,
            )
        )

    def close(self, reason: str, now: datetime, actor_id: str) -> None:
        """Stop taking applications (at the end of the window, or early with a reason)."""
        if self.status is not ProgrammeStatus.OPEN:
            raise InvalidTransition("programme", self.status, "close")
        self.status = ProgrammeStatus.CLOSED
        self.events.append(
            ProgrammeClosed(programme_id=self.programme_id, reason=reason, occurred_at=now, actor_id=actor_id)
        )

    def finalise(self, figures: BudgetExecution, now: datetime, actor_id: str) -> None:
        """Close the books. Nothing may be in flight: every approved tranche is paid."""
        if self.status is not ProgrammeStatus.CLOSED:
            raise InvalidTransition("programme", self.status, "finalise")
        if figures.programme_id != self.programme_id:
            raise DomainError("programme.wrong_figures", "the figures belong to another programme")
        if figures.disbursed_minor:
            raise DomainError(
                "programme.payments_in_flight",
                f"{figures.disbursed_minor} is approved for payment but not yet confirmed paid",
            )
        self.status = ProgrammeStatus.FINALISED
        self.events.append(
            ProgrammeFinalised(
                **figures.model_dump(),
                currency=self.currency,
                occurred_at=now,
                actor_id=actor_id,
            )
        )

    def to_document(self) -> dict[str, Any]:
        return self.model_dump(mode="python")

    @classmethod
    def from_document(cls, document: Mapping[str, Any]) -> Programme:
        return cls.model_validate({k: v for k, v in document.items() if k != "_id"})


def _validated(fields: Mapping[str, Any]) -> Programme:
    try:
        programme = Programme.model_validate(fields)
    except ValidationError as exc:
        error = exc.errors()[0]
        field = ".".join(str(part) for part in error["loc"]) or "programme"
        raise DomainError("programme.invalid", f"{field}: {error['msg']}", field=field) from None
    _check_rules(programme)
    return programme


def _invalid(field: str, detail: str) -> DomainError:
    return DomainError("programme.invalid", f"{field}: {detail}", field=field)


def _check_rules(programme: Programme) -> None:
    if not programme.name.strip():
        raise _invalid("name", "a programme needs a name")
    if programme.currency != PROGRAMME_CURRENCY:
        raise _invalid("currency", f"programmes are funded in {PROGRAMME_CURRENCY}")
    if programme.appropriated_minor <= 0:
        raise _invalid("appropriated_minor", "the appropriated budget must be positive")
    if programme.closes_at <= programme.opens_at:
        raise _invalid("closes_at", "the window must close after it opens")
    if not 0 < programme.award_cap_minor <= programme.appropriated_minor:
        raise _invalid("award_cap_minor", "the per-award cap must be positive and within the budget")
    if len(set(programme.eligibility.lead_partner_kinds)) != len(programme.eligibility.lead_partner_kinds):
        raise _invalid("eligibility.lead_partner_kinds", "a partner kind is listed twice")
    _check_template(programme.tranche_template)


def _check_template(template: Sequence[TrancheTemplateItem]) -> None:
    total = sum(item.share_bp for item in template)
    if total != FULL_SHARE_BP:
        raise _invalid("tranche_template", f"tranche shares sum to {total} basis points, not {FULL_SHARE_BP}")
    names = [item.name.strip() for item in template]
    if "" in names or len(set(names)) != len(names):
        raise _invalid("tranche_template", "tranche names must be non-blank and distinct")
