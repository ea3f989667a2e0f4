"""Records the service keeps besides the domain aggregates: the agreement read model
(event-carried state from the registry), the programme read model (from funding's
events), evidence received from colleges, manual
evidence, reports parked until their agreement is known, and the rejections told back
to colleges."""

from __future__ import annotations

import uuid
from datetime import date, datetime
from enum import StrEnum
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from alliance_evaluation.domain.evidence import IsoDate, ManualEvidence
from alliance_evaluation.domain.result import AgreementSnapshot
from alliance_evaluation.domain.targets import Obligation
from alliance_shared.contract.base import UtcDateTime
from alliance_shared.contract.vocabulary import CooperationMode, Depth

#: Deterministic ids (uuid5) for things a retry must not create twice.
ID_NAMESPACE = uuid.UUID("6f1d3c1e-5b7a-4c59-9d3e-0c4f9a1e2b77")

ACTIVE = "active"


def derived_id(*parts: str) -> str:
    return str(uuid.uuid5(ID_NAMESPACE, "|".join(parts)))


class AgreementParty(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    partner_id: str
    kind: str | None = None
    role: str | None = None
    region_code: str | None = None


class ActivePeriod(BaseModel):
    """Days on which the agreement was active, both ends included; open while it is."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    start: IsoDate
    end: IsoDate | None = None


class AgreementView(BaseModel):
    """What the evaluation service knows of a cooperation agreement, from registry events."""

    model_config = ConfigDict(extra="forbid")

    agreement_id: str
    status: str = "draft"
    registry_version: int | None = None
    party_ids: tuple[str, ...] = ()
    college_ids: tuple[str, ...] = ()
    enterprise_ids: tuple[str, ...] = ()
    parties: tuple[AgreementParty, ...] = ()
    region_codes: tuple[str, ...] = ()
    modes: tuple[CooperationMode, ...] = ()
    majors: tuple[str, ...] = ()
    declared_depth: Depth = Depth.SHALLOW
    obligations: tuple[Obligation, ...] = ()
    start_date: IsoDate | None = None
    end_date: IsoDate | None = None
    active_since: IsoDate | None = None
    #: Every stretch of activity, from the registry's events (a report about one is accepted).
    active_periods: tuple[ActivePeriod, ...] = ()
    last_event_type: str | None = None
    updated_at: UtcDateTime | None = None

    @property
    def is_active(self) -> bool:
        return self.status == ACTIVE

    def was_active_on(self, day: date) -> bool:
        return any(p.start <= day and (p.end is None or day <= p.end) for p in self.active_periods)

    def snapshot(self) -> AgreementSnapshot:
        """The domain's view of the agreement, for scoring."""
        start = self.start_date or self.active_since or date(1970, 1, 1)
        end = self.end_date or date(9999, 12, 31)
        return AgreementSnapshot(
            agreement_id=self.agreement_id,
            party_ids=self.party_ids or (*self.college_ids, *self.enterprise_ids),
            college_ids=self.college_ids,
            enterprise_ids=self.enterprise_ids,
            declared_modes=self.modes,
            declared_depth=self.declared_depth,
            active=self.is_active,
            term_start=start,
            term_end=end,
            active_since=self.active_since or start,
            obligations=self.obligations,
        )


class EvidenceRecord(BaseModel):
    """One college report, stored once per (college id, report id)."""

    model_config = ConfigDict(extra="forbid")

    event_id: str
    event_type: str
    agreement_id: str
    college_id: str
    report_id: str
    occurred_on: IsoDate
    payload: dict[str, Any]
    received_at: UtcDateTime


class ParkedStatus(StrEnum):
    PARKED = "parked"
    APPLIED = "applied"
    DEAD_LETTERED = "dead_lettered"


class ParkedReport(BaseModel):
    """A college report that arrived before its agreement: kept until the agreement is
    known (then applied as evidence) or the wait runs out (then dead-lettered)."""

    model_config = ConfigDict(extra="forbid")

    event_id: str
    agreement_id: str
    college_id: str
    report_id: str
    #: The CloudEvent as received, to apply it or to dead-letter a faithful copy.
    envelope: dict[str, Any]
    partition: int
    offset: int
    parked_at: UtcDateTime
    status: ParkedStatus = ParkedStatus.PARKED
    settled_at: UtcDateTime | None = None
    reason_code: str | None = None


class ManualRecord(BaseModel):
    """Evidence recorded by hand (supervisor or enterprise), with a note and an attachment reference."""

    model_config = ConfigDict(extra="forbid")

    agreement_id: str
    evidence: ManualEvidence
    note: str | None = Field(default=None, max_length=2000)
    recorded_role: str
    recorded_at: UtcDateTime


class RejectionRecord(BaseModel):
    """A college report that was dead-lettered and told back to the college (once)."""

    model_config = ConfigDict(extra="forbid")

    original_event_id: str
    college_id: str
    reason_code: str
    detail: str
    report_id: str | None = None
    agreement_id: str | None = None
    original_event_type: str | None = None
    rejected_at: datetime


class ProgrammeAward(BaseModel):
    model_config = ConfigDict(extra="forbid")

    award_id: str
    agreement_id: str
    terminated: bool = False


class ProgrammeView(BaseModel):
    """What evaluation knows of a funding programme; ``agreement_ids`` (those with a live
    award) is kept beside the awards so the lookup by agreement has an index."""

    model_config = ConfigDict(extra="forbid")

    programme_id: str
    name: str | None = None
    fiscal_year: int | None = None
    awards: tuple[ProgrammeAward, ...] = ()
    agreement_ids: tuple[str, ...] = ()
    updated_at: UtcDateTime | None = None
