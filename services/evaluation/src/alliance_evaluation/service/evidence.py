"""College report ingestion, rejections told back to colleges, manual evidence, evidence queries.

A report is validated (the runner checks the payload against the contract; here: the
agreement is known and active, the college and any named enterprise are its parties)
and stored once: its record's id is ``report:<college id>:<report id>`` and the insert
carries the CloudEvent id as dedupe key, so a redelivered event and the same report
sent again under a new event id both count once. Figures are computed from the stored
records when asked (``aggregate_evidence`` is order-independent), never kept as counters.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Any

from alliance_evaluation.adapters.repositories import Repositories, evidence_key
from alliance_evaluation.domain.evidence import (
    EvidenceSummary,
    EvidenceWindow,
    ManualEvidence,
    aggregate_evidence,
    dedupe_reports,
)
from alliance_evaluation.service.records import AgreementView, EvidenceRecord, ManualRecord, RejectionRecord
from alliance_shared.contract.college import CollegeReport
from alliance_shared.contract.evaluation import CollegeReportRejected
from alliance_shared.contract.platform import PLATFORM_CATALOG
from alliance_shared.contract.topics import COLLEGE_REPORTS
from alliance_shared.errors import Conflict, DomainError, NotFound
from alliance_shared.logging import get_logger
from alliance_shared.messaging.handlers import DeadLetter
from alliance_shared.persistence.mongo import TRANSIENT_DB_ERRORS
from alliance_shared.persistence.versioned_store import AuditNote

log = get_logger(__name__)

#: The runner's dead-letter reasons, as the reason codes a college reads.
REASON_CODES: Mapping[str, str] = {
    "event.invalid_payload": "report.invalid",
    "event.unknown_type": "report.unknown_type",
    "record.oversized": "report.oversized",
    "handler.unexpected_error": "report.processing_failed",
}


def reason_code(reason: str) -> str:
    if reason.startswith("report."):
        return reason
    if reason.startswith("envelope."):
        return "report.malformed_envelope"
    return REASON_CODES.get(reason, "report.rejected")


async def ingest_report(repos: Repositories, event_id: str, report: CollegeReport) -> bool:
    """Store one college report as evidence; False when it was already there (counted once)."""
    loaded = await repos.agreements.get(report.agreement_id)
    if loaded is None:
        raise DomainError(
            "report.unknown_agreement", f"agreement {report.agreement_id} is not known to the alliance registry"
        )
    agreement = loaded.item
    if not agreement.is_active:
        raise DomainError(
            "report.agreement_inactive",
            f"agreement {report.agreement_id} is {agreement.status}; reports are accepted for active agreements only",
        )
    if report.college_id not in agreement.college_ids:
        raise DomainError(
            "report.college_not_party",
            f"college {report.college_id} is not a party to agreement {report.agreement_id}",
        )
    enterprise_id = getattr(report, "enterprise_id", None)
    if enterprise_id is not None and enterprise_id not in agreement.party_ids:
        raise DomainError(
            "report.enterprise_not_party",
            f"enterprise {enterprise_id} is not a party to agreement {report.agreement_id}",
        )
    record = EvidenceRecord(
        event_id=event_id,
        event_type=report.event_type,
        agreement_id=report.agreement_id,
        college_id=report.college_id,
        report_id=report.report_id,
        occurred_on=report.occurred_on,
        payload=report.model_dump(mode="json"),
        received_at=datetime.now(UTC),
    )
    key = evidence_key(report.college_id, report.report_id)
    try:
        written = await repos.evidence.store.create(
            key,
            repos.evidence.state_of(record),
            (),
            AuditNote("evidence.received", "evidence", key, None, {"event_id": event_id, "type": report.event_type}),
            caused_by=event_id,
        )
    except Conflict:
        log.info("report already recorded under another event id", key=key, event_id=event_id)
        return False
    return written is not None


def _short(value: Any, limit: int) -> str | None:
    if isinstance(value, str | int) and str(value):
        return str(value)[:limit]
    return None


async def reject_report(repos: Repositories, dead: DeadLetter) -> None:
    """Tell the college its report was dead-lettered: one ``college_report.rejected`` per original event."""
    record = dead.record
    if record.topic != COLLEGE_REPORTS:
        return
    try:
        headers = {k: v.decode(errors="replace") for k, v in record.headers}
        data: Mapping[str, Any] = {}
        if dead.envelope is not None:
            data = dead.envelope.data
        else:
            try:
                parsed = json.loads(record.value or b"")
                data = parsed if isinstance(parsed, dict) else {}
            except (ValueError, UnicodeDecodeError):
                data = {}
        original_id = (
            dead.envelope.id
            if dead.envelope is not None
            else headers.get("ce_id") or f"{record.topic}:{record.partition}:{record.offset}"
        )[:200]
        college_id = _short(data.get("college_id"), 100) or _short(headers.get("ce_source"), 100) or "unknown"
        event_type = dead.envelope.type if dead.envelope is not None else headers.get("ce_type")
        code = reason_code(dead.reason)
        detail = (dead.detail or dead.reason)[:2000]
        now = datetime.now(UTC)
        rejection = RejectionRecord(
            original_event_id=original_id,
            college_id=college_id,
            reason_code=code,
            detail=detail,
            report_id=_short(data.get("report_id"), 100),
            agreement_id=_short(data.get("agreement_id"), 100),
            original_event_type=_short(event_type, 200),
            rejected_at=now,
        )
        event = CollegeReportRejected(
            college_id=college_id,
            original_event_id=original_id,
            original_event_type=rejection.original_event_type,
            report_id=rejection.report_id,
            agreement_id=rejection.agreement_id,
            reason_code=code,
            detail=detail,
            occurred_at=now,
        )
        key = f"rejection:{original_id}"
        try:
            await repos.rejections.store.create(
                key,
                repos.rejections.state_of(rejection),
                [event],
                AuditNote("college_report.rejected", "college_report", original_id, None, {"reason": code}),
                caused_by=original_id,
            )
        except Conflict:
            pass  # told already
    except TRANSIENT_DB_ERRORS:
        raise  # the runner retries the record
    except Exception:
        log.exception("could not tell the college about a rejected report", offset=record.offset)


@dataclass(frozen=True)
class AgreementEvidence:
    reports: tuple[CollegeReport, ...]
    received: int
    manual: tuple[ManualRecord, ...]


def parse_record(record: EvidenceRecord) -> CollegeReport:
    report = PLATFORM_CATALOG.parse(record.event_type, record.payload)
    assert isinstance(report, CollegeReport)
    return report


async def evidence_of(repos: Repositories, agreement_id: str) -> AgreementEvidence:
    records = await repos.evidence.find({"agreement_id": agreement_id})
    manual = await repos.manual.find({"agreement_id": agreement_id})
    reports = dedupe_reports(parse_record(r.item) for r in records)
    return AgreementEvidence(reports, len(records), tuple(m.item for m in manual))


def summarize(
    evidence: AgreementEvidence, window: EvidenceWindow, agreement: AgreementView
) -> tuple[dict[str, int], EvidenceSummary]:
    """Reports per type in the window, and the figures the aggregation computes from them."""
    counts: dict[str, int] = {}
    for report in evidence.reports:
        if report.occurred_on in window:
            counts[report.event_type] = counts.get(report.event_type, 0) + 1
    summary = aggregate_evidence(evidence.reports, [m.evidence for m in evidence.manual], window, agreement.modes)
    return counts, summary


def activity_dates(evidence: AgreementEvidence, until: date) -> Iterable[date]:
    dates = {r.occurred_on for r in evidence.reports} | {m.evidence.occurred_on for m in evidence.manual}
    return sorted(d for d in dates if d <= until)


async def record_manual(
    repos: Repositories,
    agreement_id: str,
    fields: Mapping[str, Any],
    note: str | None,
    actor_id: str,
    actor_role: str,
) -> tuple[ManualRecord, str]:
    """Record manual evidence (supervisor, or an enterprise party of the agreement)."""
    if await repos.agreements.get(agreement_id) is None:
        raise NotFound("agreement.not_found", f"no agreement {agreement_id}")
    evidence_id = str(uuid.uuid4())
    try:
        evidence = ManualEvidence.model_validate({**fields, "evidence_id": evidence_id, "recorded_by": actor_id})
    except ValueError as exc:
        raise DomainError("evidence.invalid", str(exc)[:1000]) from exc
    record = ManualRecord(
        agreement_id=agreement_id,
        evidence=evidence,
        note=note,
        recorded_role=actor_role,
        recorded_at=datetime.now(UTC),
    )
    await repos.manual.store.create(
        evidence_id,
        repos.manual.state_of(record),
        (),
        AuditNote("evidence.manual_recorded", "manual_evidence", evidence_id, None, repos.manual.state_of(record)),
    )
    return record, evidence_id
