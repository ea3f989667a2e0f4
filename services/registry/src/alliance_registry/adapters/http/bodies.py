"""Request bodies of the registry's routes, each with the examples the API documents."""

from __future__ import annotations

from datetime import date
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field

from alliance_registry.adapters.http.openapi import (
    AGREEMENT_EXAMPLE,
    COLLEGE_EXAMPLE,
    CONTACT_EXAMPLE,
    ENTERPRISE_EXAMPLE,
)
from alliance_registry.domain.agreement import AgreementDraft
from alliance_registry.domain.council import SeatAssignment
from alliance_registry.domain.partner import PartnerDetails
from alliance_shared.contract.base import UtcDateTime
from alliance_shared.contract.registry import ContactView, CouncilPosition
from alliance_shared.contract.vocabulary import Reason

Id = Annotated[str, Field(min_length=1, max_length=100)]


class PartnerIn(PartnerDetails):
    """A partner to register: the profile of its kind and its contacts (personal data)."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [{**ENTERPRISE_EXAMPLE, "contacts": [CONTACT_EXAMPLE]}, {**COLLEGE_EXAMPLE, "contacts": []}]
        }
    )

    contacts: list[ContactView] = Field(default_factory=list, max_length=20)

    def details(self) -> PartnerDetails:
        return PartnerDetails.model_validate(self.model_dump(exclude={"contacts"}))


class PartnerDetailsIn(PartnerDetails):
    """The whole new profile (the kind cannot change; contacts have their own endpoint)."""

    model_config = ConfigDict(json_schema_extra={"examples": [ENTERPRISE_EXAMPLE]})

    def details(self) -> PartnerDetails:
        return PartnerDetails.model_validate(self.model_dump())


class ContactsIn(BaseModel):
    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [{"contacts": [CONTACT_EXAMPLE]}]})

    contacts: list[ContactView] = Field(max_length=20)


class MembershipApplyIn(BaseModel):
    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={"examples": [{"partner_id": "ent-1a2b3c4d5e6f", "reason": "application letter 2026-03-01"}]},
    )

    partner_id: Id
    reason: Reason


class SeatIn(BaseModel):
    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {
                    "position": "vice_chair",
                    "representative": "李明",
                    "term_start": "2026-01-01",
                    "term_end": "2028-12-31",
                    "reason": "elected at the general assembly",
                }
            ]
        },
    )

    position: CouncilPosition
    representative: str = Field(min_length=1, max_length=200)
    term_start: date
    term_end: date
    reason: Reason


class ConstituteIn(BaseModel):
    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {
                    "seats": [
                        {
                            "position": "chair",
                            "partner_id": "col-0a1b2c3d4e5f",
                            "representative": "张伟",
                            "term_start": "2026-01-01",
                            "term_end": "2028-12-31",
                        },
                        {
                            "position": "vice_chair",
                            "partner_id": "ent-1a2b3c4d5e6f",
                            "representative": "王芳",
                            "term_start": "2026-01-01",
                            "term_end": "2028-12-31",
                        },
                        {
                            "position": "director",
                            "partner_id": "ia-3a4b5c6d7e8f",
                            "representative": "赵强",
                            "term_start": "2026-01-01",
                            "term_end": "2028-12-31",
                        },
                    ],
                    "reason": "founding assembly",
                }
            ]
        },
    )

    seats: list[SeatAssignment] = Field(min_length=1, max_length=200)
    reason: Reason


class CertificationApplyIn(BaseModel):
    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [{"partner_id": "ent-1a2b3c4d5e6f"}]})

    partner_id: Id


class GrantIn(BaseModel):
    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {
                    "certificate_number": "粤产教融合〔2026〕018号",
                    "valid_from": "2026-04-01T00:00:00Z",
                    "valid_to": "2029-04-01T00:00:00Z",
                    "reason": "材料齐全，评审通过",
                }
            ]
        },
    )

    certificate_number: str = Field(min_length=1, max_length=100)
    valid_from: UtcDateTime
    valid_to: UtcDateTime
    reason: str | None = Field(default=None, max_length=2000, description="why the application is granted")


class AgreementIn(AgreementDraft):
    """The terms of a new agreement; the parties are partner ids with their roles."""

    model_config = ConfigDict(json_schema_extra={"examples": [AGREEMENT_EXAMPLE]})

    def draft(self) -> AgreementDraft:
        return AgreementDraft.model_validate(self.model_dump())


class AmendmentIn(AgreementDraft):
    """The complete new terms (the same parties) and what the amendment changes."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [{**AGREEMENT_EXAMPLE, "summary": "internship posts raised from 40 to 50 per year"}]
        }
    )

    summary: Reason

    def draft(self) -> AgreementDraft:
        return AgreementDraft.model_validate(self.model_dump(exclude={"summary"}))


class SignIn(BaseModel):
    """Colleges and enterprises sign for themselves (leave ``party_id`` out); a registry admin
    records the signature of an association, agency or institute party by naming it."""

    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [{}, {"party_id": "gov-2a3b4c5d6e7f"}]})

    party_id: Id | None = None
