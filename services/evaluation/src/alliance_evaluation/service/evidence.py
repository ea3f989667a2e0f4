"""College report ingestion, reports parked until their agreement arrives, rejections
told back to colleges, manual evidence.

A report is the college's whose topic it arrived on: each college writes only its own
``alliance.college.<college id>.reports`` under its own Kafka principal, so the broker has
authenticated the sender. A report naming another college is rejected
(``report.college_mismatch``), and every rejection — even of bytes that are not JSON — is
told to the topic's college, whatever the payload or ``ce_source`` claim.

A report is validated (the runner checks the payload against the contract; here: the
agreement is active, or was on the day the report is about; the college and any named
enterprise are its parties) and stored once: its record's id is ``report:<college id>:<report id>`` and the insert
carries the CloudEvent id as dedupe key, so a redelivered event and the same report
sent again under a new event id both count once. Figures are computed from the stored
records when asked (``queries.evidence_in_window``; ``aggregate_evidence`` is
order-independent), never kept as counters.

A report for an agreement the service does not know yet (the registry's event is still
on its way) is parked, not refused: it is applied when the agreement arrives, or by the
periodic check, and dead-lettered as ``report.unknown_agreement`` (the college told)
once it has waited ``EVALUATION_PARKED_REPORT_MAX_SECONDS``.
"""

from __future__ import annotations

import asyncio
import json
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any, cast

from alliance_evaluation.domain.evidence import ManualEvidence
from alliance_evaluation.service import queries
from alliance_evaluation.service.context import Context
from alliance_evaluation.service.records import (
    AgreementView,
    EvidenceRecord,
    ManualRecord,
    ParkedReport,
    ParkedStatus,
    RejectionRecord,
)
from alliance_evaluation.service.repositories import evidence_key
from alliance_shared import context
from alliance_shared.contract.college import CollegeReport
from alliance_shared.contract.envelope import CloudEvent, to_kafka
from alliance_shared.contract.evaluation import CollegeReportRejected
from alliance_shared.contract.platform import PLATFORM_CATALOG
from alliance_shared.contract.topics import college_of_topic, college_reports_topic, dlq_of
from alliance_shared.errors import Conflict, DomainError
from alliance_shared.logging import get_logger
from alliance_shared.messaging.handlers import ConsumedEvent, DeadLetter
from alliance_shared.outside_text import plain_text
from alliance_shared.persistence.repository import Loaded
from alliance_shared.persistence.versioned_store import AuditNote, NewAggregate
from alliance_shared.persistence.write_path import Decision, create, execute

log = get_logger(__name__)

#: The longest rejection detail a college is told (characters; a longer one ends in "…").
REJECTION_DETAIL_LIMIT = 1000

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


async def ingest_college_report(ctx: Context, event: ConsumedEvent) -> None:
    """One consumed college report (``ingest_college_reports`` of one): evidence, parked
    while its agreement is unknown, or refused with a DomainError."""
    refusal = (await ingest_college_reports(ctx, [event])).get(event.envelope.id)
    if refusal is not None:
        raise refusal


def parked_key(event_id: str) -> str:
    return f"parked:{event_id}"


async def park_report(ctx: Context, event: ConsumedEvent, report: CollegeReport) -> None:
    """Keep a report whose agreement is not known yet (once per event id)."""
    record = ParkedReport(
        event_id=event.envelope.id,
        agreement_id=report.agreement_id,
        college_id=report.college_id,
        report_id=report.report_id,
        envelope=event.envelope.to_document(),
        partition=event.partition,
        offset=event.offset,
        parked_at=ctx.clock.now(),
    )
    key = parked_key(event.envelope.id)
    audit = AuditNote("evidence.parked", "parked_report", key, None, {"agreement_id": report.agreement_id})
    try:
        await create(ctx.repos.parked, key, record, audit, events=(), caused_by=event.envelope.id)
    except Conflict:
        return  # parked already by an earlier delivery
    log.info("report parked until its agreement is known", agreement_id=report.agreement_id, key=key)


@dataclass
class _ParkedRecord:
    """The parked report as the Kafka record a dead letter names (``RawRecord``)."""

    topic: str
    partition: int
    offset: int
    key: bytes | None
    value: bytes | None
    headers: Sequence[tuple[str, bytes]] = field(default_factory=list)


async def _dead_letter_parked(ctx: Context, parked: ParkedReport, refusal: DomainError) -> None:
    """Publish the dead-letter copy with the reason, then tell the college (both repeatable)."""
    envelope = CloudEvent.from_document(parked.envelope)
    key, value, headers = to_kafka(envelope)
    topic = college_reports_topic(parked.college_id)  # parked only when it matched its topic
    annotations = [
        ("dlq_reason", refusal.code.encode()),
        ("dlq_detail", refusal.detail[:2000].encode(errors="replace")),
        ("dlq_error_class", b"DomainError"),
        ("dlq_source_topic", topic.encode()),
        ("dlq_source_partition", str(parked.partition).encode()),
        ("dlq_source_offset", str(parked.offset).encode()),
        ("dlq_at", ctx.clock.now().isoformat().encode()),
    ]
    await ctx.dead_letters.publish(dlq_of(topic), key, value, [*headers, *annotations])
    record = _ParkedRecord(topic, parked.partition, parked.offset, key, value, headers)
    await reject_report(ctx, DeadLetter(record, refusal.code, refusal.detail, "DomainError", envelope))


async def settle_parked(ctx: Context, key: str, *, waited_out: bool) -> ParkedStatus:
    """Apply a parked report if its agreement is known now; dead-letter it if it cannot
    be applied and its wait is over (or the agreement refuses it); else leave it parked."""
    loaded = await ctx.repos.parked.get(key)
    if loaded is None or loaded.item.status is not ParkedStatus.PARKED:
        return ParkedStatus.APPLIED if loaded is None else loaded.item.status
    parked = loaded.item
    agreement = await queries.find_agreement(ctx, parked.agreement_id)
    refusal: DomainError | None = None
    if agreement is None:
        if not waited_out:
            return ParkedStatus.PARKED
        refusal = DomainError(
            "report.unknown_agreement",
            f"agreement {parked.agreement_id} did not become known from the alliance registry within "
            f"{ctx.settings.parked_report_max_seconds:g} s of the report",
        )
    else:
        report = PLATFORM_CATALOG.parse(parked.envelope["type"], parked.envelope["data"])
        assert isinstance(report, CollegeReport)  # parked only after the runner validated it
        try:
            await ingest_report(ctx, parked.event_id, report)
        except DomainError as refused:
            # Drafted or signed, never active yet: activation is on its way.
            if refused.code == "report.agreement_inactive" and not agreement.active_periods and not waited_out:
                return ParkedStatus.PARKED
            refusal = refused
    if refusal is not None:
        await _dead_letter_parked(ctx, parked, refusal)
    status = ParkedStatus.APPLIED if refusal is None else ParkedStatus.DEAD_LETTERED

    def decide(current: Loaded[ParkedReport] | None) -> Decision[ParkedReport] | None:
        if current is None or current.item.status is not ParkedStatus.PARKED:
            return None  # settled by a concurrent pass
        settled = current.item.model_copy(
            update={
                "status": status,
                "settled_at": ctx.clock.now(),
                "reason_code": None if refusal is None else refusal.code,
            }
        )
        return Decision(
            settled, AuditNote(f"evidence.parked_{status.value}", "parked_report", key, "parked", status.value)
        )

    await execute(ctx.repos.parked, key, decide)
    return status


async def apply_parked_reports(ctx: Context, agreement_id: str) -> int:
    """Settle the reports parked for an agreement that has just become known (or changed)."""
    parked = await ctx.repos.parked.find({"agreement_id": agreement_id, "status": ParkedStatus.PARKED.value})
    applied = 0
    for loaded in parked:
        if await settle_parked(ctx, parked_key(loaded.item.event_id), waited_out=False) is ParkedStatus.APPLIED:
            applied += 1
    return applied


async def settle_parked_reports(ctx: Context) -> int:
    """One pass of the periodic check: apply what can be, dead-letter what waited too long."""
    now = ctx.clock.now()
    limit = timedelta(seconds=ctx.settings.parked_report_max_seconds)
    settled = 0
    for loaded in await ctx.repos.parked.find({"status": ParkedStatus.PARKED.value}):
        waited_out = now - loaded.item.parked_at >= limit
        if await settle_parked(ctx, parked_key(loaded.item.event_id), waited_out=waited_out) is not ParkedStatus.PARKED:
            settled += 1
    return settled


def evidence_of(ctx: Context, agreement: AgreementView | None, event_id: str, report: CollegeReport) -> EvidenceRecord:
    """The evidence a report becomes, or the DomainError that refuses it."""
    if agreement is None:
        raise DomainError(
            "report.unknown_agreement", f"agreement {report.agreement_id} is not known to the alliance registry"
        )
    if not agreement.is_active and not agreement.was_active_on(report.occurred_on):
        raise DomainError(
            "report.agreement_inactive",
            f"agreement {report.agreement_id} is {agreement.status} and was not active on {report.occurred_on}; "
            "reports are accepted for active agreements and for days on which they were active",
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
    return EvidenceRecord(
        event_id=event_id,
        event_type=report.event_type,
        agreement_id=report.agreement_id,
        college_id=report.college_id,
        report_id=report.report_id,
        occurred_on=report.occurred_on,
        payload=report.model_dump(mode="json"),
        received_at=ctx.clock.now(),
    )


def _received(key: str, event_id: str, report: CollegeReport) -> AuditNote:
    return AuditNote("evidence.received", "evidence", key, None, {"event_id": event_id, "type": report.event_type})


async def ingest_report(ctx: Context, event_id: str, report: CollegeReport) -> bool:
    """Store one college report as evidence; False when it was already there (counted once)."""
    record = evidence_of(ctx, await queries.find_agreement(ctx, report.agreement_id), event_id, report)
    key = evidence_key(report.college_id, report.report_id)
    try:
        outcome = await create(
            ctx.repos.evidence, key, record, _received(key, event_id, report), events=(), caused_by=event_id
        )
    except Conflict:
        log.info("report already recorded under another event id", key=key, event_id=event_id)
        return False
    return outcome.written


def college_mismatch(topic: str, report: CollegeReport) -> DomainError | None:
    """The refusal of a report that names another college than the one whose topic it
    arrived on (only that college's principal may write it); None when they agree."""
    if college_of_topic(topic) == report.college_id:
        return None
    return DomainError(
        "report.college_mismatch",
        f"the report names college {report.college_id[:100]} but arrived on {topic[:200]}, "
        "which only its own college may write; a college reports only its own facts",
    )


async def ingest_college_reports(ctx: Context, events: Sequence[ConsumedEvent]) -> dict[str, DomainError]:
    """Many consumed college reports at once (a poll's run from one partition): each
    agreement read once, every valid report stored in one bulk insert (a report stored
    before, under this or another event id, is skipped), reports of unknown agreements
    parked. Returns the refused reports by event id, for the runner to dead-letter."""
    refusals: dict[str, DomainError] = {}
    reports: list[tuple[ConsumedEvent, CollegeReport]] = []
    for event in events:
        report = cast(CollegeReport, event.payload)
        mismatch = college_mismatch(event.topic, report)
        if mismatch is not None:
            refusals[event.envelope.id] = mismatch
        else:
            reports.append((event, report))
    agreement_ids = sorted({report.agreement_id for _, report in reports})
    found = await asyncio.gather(*(queries.find_agreement(ctx, agreement_id) for agreement_id in agreement_ids))
    agreements = dict(zip(agreement_ids, found, strict=True))
    new: list[NewAggregate] = []
    for event, report in reports:
        agreement = agreements[report.agreement_id]
        if agreement is None:
            with context.bound(event.context()):
                await park_report(ctx, event, report)
            continue
        event_id = event.envelope.id
        try:
            record = evidence_of(ctx, agreement, event_id, report)
        except DomainError as refused:
            refusals[event_id] = refused
            continue
        key = evidence_key(report.college_id, report.report_id)
        state = ctx.repos.evidence.state_of(record)
        new.append(NewAggregate(key, state, (), _received(key, event_id, report), event_id, event.context()))
    written = await ctx.repos.evidence.store.create_many(new)
    if not all(written):
        log.info("reports already recorded skipped", skipped=written.count(False), of=len(new))
    return refusals


def _short(value: Any, limit: int) -> str | None:
    """Header or payload text of a rejected record as plain data (``plain_text``), or None."""
    if isinstance(value, str | int):
        return plain_text(str(value), limit) or None
    return None


def _data_of(dead: DeadLetter) -> Mapping[str, Any]:
    if dead.envelope is not None:
        return dead.envelope.data
    try:
        parsed = json.loads(dead.record.value or b"")
    except (ValueError, UnicodeDecodeError, RecursionError):  # RecursionError: nesting too deep
        return {}
    return parsed if isinstance(parsed, dict) else {}


async def reject_report(ctx: Context, dead: DeadLetter) -> None:
    """Tell the college its report was dead-lettered: one ``college_report.rejected`` per
    original event, to the college whose topic it arrived on (the authenticated sender)."""
    record = dead.record
    college_id = college_of_topic(record.topic)
    if college_id is None:
        return
    headers = {k: v.decode(errors="replace") for k, v in record.headers}
    data = _data_of(dead)
    original_id = (
        _short(dead.envelope.id if dead.envelope is not None else headers.get("ce_id"), 200)
        or f"{record.topic}:{record.partition}:{record.offset}"
    )
    event_type = dead.envelope.type if dead.envelope is not None else headers.get("ce_type")
    code = reason_code(dead.reason)
    detail = plain_text(dead.detail or dead.reason, REJECTION_DETAIL_LIMIT) or dead.reason
    now = ctx.clock.now()
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
    audit = AuditNote("college_report.rejected", "college_report", original_id, None, {"reason": code})
    try:
        await create(
            ctx.repos.rejections, f"rejection:{original_id}", rejection, audit, events=[event], caused_by=original_id
        )
    except Conflict:
        pass  # told already


async def record_manual_evidence(
    ctx: Context,
    agreement_id: str,
    fields: Mapping[str, Any],
    note: str | None,
    actor_id: str,
    actor_role: str,
) -> tuple[ManualRecord, str]:
    """Record manual evidence (supervisor, or an enterprise party of the agreement)."""
    await queries.get_agreement(ctx, agreement_id)
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
        recorded_at=ctx.clock.now(),
    )
    state = ctx.repos.manual.state_of(record)
    audit = AuditNote("evidence.manual_recorded", "manual_evidence", evidence_id, None, state)
    await create(ctx.repos.manual, evidence_id, record, audit, events=())
    return record, evidence_id
