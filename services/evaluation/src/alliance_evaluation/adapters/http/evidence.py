"""Agreements as evaluation knows them, their evidence in a window, and manual evidence."""

from __future__ import annotations

from datetime import date
from typing import Annotated

from fastapi import APIRouter, Query, Response
from pydantic import BaseModel, ConfigDict, Field

from alliance_evaluation.adapters.http.access import EnterpriseAgreement, ReadableAgreement
from alliance_evaluation.adapters.http.deps import Evaluation, EvidenceWriter
from alliance_evaluation.domain.evidence import ManualEvidenceKind, fmt
from alliance_evaluation.service import queries
from alliance_evaluation.service.evidence import record_manual_evidence
from alliance_evaluation.service.records import AgreementView, ManualRecord
from alliance_shared.contract.base import CurrencyCode, MinorUnits
from alliance_shared.contract.vocabulary import CooperationMode
from alliance_shared.web.conditional import set_etag

router = APIRouter(tags=["evidence"])


class ManualEvidenceIn(BaseModel):
    """Manual evidence with a reference to its supporting document (the attachment)."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {
                    "kind": "enterprise_investment",
                    "occurred_on": "2025-05-20",
                    "document_ref": "att://contracts/2025/inv-0042.pdf",
                    "amount_minor": 50000000,
                    "currency": "CNY",
                    "note": "CNC training line donated to the shared training base",
                }
            ]
        },
    )

    kind: ManualEvidenceKind
    occurred_on: date
    document_ref: str = Field(min_length=1, max_length=500, description="attachment reference")
    note: str | None = Field(default=None, max_length=2000)
    amount_minor: MinorUnits | None = None
    currency: CurrencyCode | None = None
    dual_qualified_teachers: int | None = Field(default=None, ge=0, le=100_000)
    cooperation_teachers: int | None = Field(default=None, ge=1, le=100_000)
    mode: CooperationMode | None = None


class EvidenceFigure(BaseModel):
    measure: str
    value: str | None
    how: str
    evidence_count: int


class EvidenceOut(BaseModel):
    agreement_id: str
    window_start: date
    window_end: date
    reports_received: int = Field(description="report records stored (each (college, report id) once)")
    reports_in_window: int
    reports_by_type: dict[str, int]
    manual_evidence: list[ManualRecord]
    figures: list[EvidenceFigure]


class ManualEvidenceOut(BaseModel):
    evidence_id: str
    record: ManualRecord


@router.get("/agreements/{agreement_id}", summary="The agreement as evaluation knows it")
async def get_agreement(agreement: ReadableAgreement) -> AgreementView:
    return agreement


@router.get(
    "/agreements/{agreement_id}/evidence",
    summary="Evidence of an agreement in a window: reports by type, manual evidence and the figures",
)
async def get_evidence(
    agreement: ReadableAgreement,
    window_start: Annotated[date, Query()],
    window_end: Annotated[date, Query()],
    ctx: Evaluation,
) -> EvidenceOut:
    evidence = await queries.evidence_in_window(ctx, agreement, window_start, window_end)
    return EvidenceOut(
        agreement_id=agreement.agreement_id,
        window_start=evidence.window.start,
        window_end=evidence.window.end,
        reports_received=evidence.received,
        reports_in_window=sum(evidence.counts_by_type.values()),
        reports_by_type=evidence.counts_by_type,
        manual_evidence=evidence.manual,
        figures=[
            EvidenceFigure(
                measure=str(measure),
                value=None if m.value is None else fmt(m.value),
                how=m.how,
                evidence_count=m.evidence_count,
            )
            for measure, m in sorted(evidence.summary.measurements.items())
        ],
    )


@router.post(
    "/agreements/{agreement_id}/evidence",
    status_code=201,
    summary="Record manual evidence (supervisors; enterprises for their own agreements)",
)
async def add_evidence(
    agreement: EnterpriseAgreement,
    body: ManualEvidenceIn,
    response: Response,
    principal: EvidenceWriter,
    ctx: Evaluation,
) -> ManualEvidenceOut:
    fields = body.model_dump(exclude={"note"}, exclude_none=True, mode="json")
    record, evidence_id = await record_manual_evidence(
        ctx, agreement.agreement_id, fields, body.note, principal.subject, principal.primary_role
    )
    set_etag(response, 1)
    return ManualEvidenceOut(evidence_id=evidence_id, record=record)
