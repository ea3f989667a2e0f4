"""Stored records that are not domain aggregates: the programme ledger document and the
read models folded from registry and evaluation events."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from alliance_funding.domain.ledger import AppliedTransfer, JournalEntry
from alliance_funding.domain.surcharge_credit import CertifiedPeriod
from alliance_shared.contract.base import UtcDateTime
from alliance_shared.contract.vocabulary import CooperationMode, CycleKind, Grade, PartnerKind


class LedgerBook(BaseModel):
    """One version of a programme's book.

    ``balances`` are the balances after this version; ``entries`` are the journal
    entries of the postings that produced it (one batch: ``service/ledger.py``).
    ``applied`` is the replay window of recent transfer ids (the transfer receipts guard
    beyond it).
    """

    model_config = ConfigDict(extra="forbid")

    programme_id: str
    currency: str = "CNY"
    balances: dict[str, int] = Field(default_factory=dict)
    applied: list[AppliedTransfer] = Field(default_factory=list)
    entries: list[JournalEntry] = Field(default_factory=list)
    postings: int = 0


class CertificateView(BaseModel):
    model_config = ConfigDict(extra="forbid")

    certification_id: str
    valid_from: UtcDateTime
    valid_to: UtcDateTime
    state: str = Field(description="granted, revoked or expired")
    ended_at: UtcDateTime | None = None

    def period(self) -> CertifiedPeriod | None:
        """The days the enterprise was certified under this certificate (both ends included)."""
        end = self.valid_to.date()
        if self.state == "revoked" and self.ended_at is not None:
            end = min(end, self.ended_at.date() - timedelta(days=1))
        start = self.valid_from.date()
        return CertifiedPeriod(valid_from=start, valid_to=end) if end >= start else None

    def covers(self, now: datetime) -> bool:
        return self.state == "granted" and self.valid_from <= now <= self.valid_to


class PartnerView(BaseModel):
    """What funding knows of a partner from registry events (partner and certification)."""

    model_config = ConfigDict(extra="forbid")

    partner_id: str
    kind: PartnerKind | None = None
    name: str | None = None
    region_code: str | None = None
    status: str | None = None
    certifications: list[CertificateView] = Field(default_factory=list)
    updated_at: UtcDateTime | None = None

    def certified_at(self, now: datetime) -> bool:
        return any(c.covers(now) for c in self.certifications)

    def certified_periods(self) -> list[CertifiedPeriod]:
        return [p for p in (c.period() for c in self.certifications) if p is not None]


class AgreementPartyView(BaseModel):
    model_config = ConfigDict(extra="forbid")

    partner_id: str
    kind: str | None = None
    region_code: str | None = None


class AgreementView(BaseModel):
    """The agreement as the registry last announced it."""

    model_config = ConfigDict(extra="forbid")

    agreement_id: str
    status: str = "unknown"
    registry_version: int | None = None
    party_ids: tuple[str, ...] = ()
    enterprise_ids: tuple[str, ...] = ()
    parties: tuple[AgreementPartyView, ...] = ()
    modes: tuple[CooperationMode, ...] = ()
    hold: str | None = Field(default=None, description="the awards' hold while the agreement is stopped")
    hold_reason: str | None = None
    updated_at: UtcDateTime | None = None


class AgreementEvaluations(BaseModel):
    """The evaluation facts about one agreement: the latest result, overdue rectifications."""

    model_config = ConfigDict(extra="forbid")

    agreement_id: str
    latest_result_id: str | None = None
    latest_grade: Grade | None = None
    latest_cycle_kind: CycleKind | None = None
    latest_occurred_at: UtcDateTime | None = None
    overdue_order_ids: tuple[str, ...] = ()
    closed_order_ids: tuple[str, ...] = ()


class StoredStatement(BaseModel):
    """An education-surcharge credit statement as computed (JSON form) and who computed it."""

    model_config = ConfigDict(extra="forbid")

    enterprise_id: str
    year: int
    statement: dict[str, Any]
    computed_by: str
    computed_at: UtcDateTime
    carried_out_minor: int
    carried_in_from_year: int | None = Field(
        default=None, description="the earlier year whose carry-out this statement carried in"
    )
    certified_periods: list[dict[str, Any]] = Field(default_factory=list)
