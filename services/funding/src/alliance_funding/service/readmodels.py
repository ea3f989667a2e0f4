"""Read models folded from registry and evaluation events, each applied once per event id.

* partners: kind, region and status from partner events; certificates from
  certification granted / revoked / expired (a certification event may arrive before
  the partner's registration: the view is created with what is known);
* agreements: status, parties, modes from agreement events; an event carrying an older
  agreement ``version`` than the stored one changes only the status, never the parties;
* agreement holds: suspended, terminated or completed before its end date sets the
  hold its awards' unpaid tranches carry (with the registry's reason); active again
  (resumed) clears it; other events keep it;
* agreement evaluations: the newest result (by its ``occurred_at``; an older result
  arriving late is recorded nowhere and moves nothing) and the overdue rectification
  orders (an ``overdue`` arriving after the order's ``closed`` is ignored).

Evaluation facts also drive the agreement's awards (``awards.apply_result`` ...).
"""

from __future__ import annotations

from alliance_funding.domain.tranche import agreement_hold
from alliance_funding.service.ports import Repositories
from alliance_funding.service.records import (
    AgreementEvaluations,
    AgreementPartyView,
    AgreementView,
    CertificateView,
    PartnerView,
)
from alliance_shared.contract.evaluation import RectificationClosed, RectificationOverdue, ResultCompleted
from alliance_shared.contract.registry import (
    AgreementActivated,
    AgreementAmended,
    AgreementCompleted,
    AgreementDrafted,
    AgreementPartySigned,
    AgreementResumed,
    AgreementSigned,
    AgreementSuspended,
    AgreementTerminated,
    CertificationExpired,
    CertificationGranted,
    CertificationRevoked,
    PartnerDeactivated,
    PartnerRegistered,
    PartnerUpdated,
)
from alliance_shared.persistence.versioned_store import AuditNote, Snapshot
from alliance_shared.persistence.write_path import EVENT_RETRY, Change, apply_change

PartnerEvent = PartnerRegistered | PartnerUpdated | PartnerDeactivated
CertificateEvent = CertificationGranted | CertificationRevoked | CertificationExpired
AgreementEvent = (
    AgreementDrafted
    | AgreementPartySigned
    | AgreementSigned
    | AgreementActivated
    | AgreementAmended
    | AgreementSuspended
    | AgreementResumed
    | AgreementTerminated
    | AgreementCompleted
)


async def apply_partner_event(repos: Repositories, event_id: str, event: PartnerEvent) -> None:
    def decide(snapshot: Snapshot | None) -> Change:
        view = (
            PartnerView(partner_id=event.partner_id)
            if snapshot is None
            else repos.partners.from_snapshot(snapshot).item
        )
        if view.updated_at is not None and event.occurred_at < view.updated_at:
            return Change(repos.partners.state_of(view))  # older than what we know: keep ours
        view = view.model_copy(
            update={
                "kind": event.kind,
                "name": event.name_zh,
                "region_code": event.region_code,
                "status": str(event.status),
                "updated_at": event.occurred_at,
            }
        )
        return Change(
            repos.partners.state_of(view),
            (),
            AuditNote("partner.read_model", "partner", event.partner_id, None, {"event": event.event_type}),
        )

    await apply_change(repos.partners.store, event.partner_id, decide, caused_by=event_id, retry=EVENT_RETRY)


async def apply_certificate_event(repos: Repositories, event_id: str, event: CertificateEvent) -> None:
    state = {CertificationGranted: "granted", CertificationRevoked: "revoked", CertificationExpired: "expired"}[
        type(event)
    ]

    def decide(snapshot: Snapshot | None) -> Change:
        view = (
            PartnerView(partner_id=event.partner_id)
            if snapshot is None
            else repos.partners.from_snapshot(snapshot).item
        )
        others = [c for c in view.certifications if c.certification_id != event.certification_id]
        existing = next((c for c in view.certifications if c.certification_id == event.certification_id), None)
        if existing is not None and existing.state != "granted" and state == "granted":
            return Change(repos.partners.state_of(view))  # a late "granted" does not undo an end
        certificate = CertificateView(
            certification_id=event.certification_id,
            valid_from=event.valid_from,
            valid_to=event.valid_to,
            state=state,
            ended_at=None if state == "granted" else event.occurred_at,
        )
        view = view.model_copy(update={"certifications": [*others, certificate]})
        return Change(
            repos.partners.state_of(view),
            (),
            AuditNote("partner.certification", "partner", event.partner_id, None, {"state": state}),
        )

    await apply_change(repos.partners.store, event.partner_id, decide, caused_by=event_id, retry=EVENT_RETRY)


def _stop_of(event: AgreementEvent) -> tuple[str, str] | None:
    """The hold an agreement event puts on the agreement's money, with its reason."""
    if isinstance(event, AgreementSuspended):
        return agreement_hold("suspended"), event.reason
    if isinstance(event, AgreementTerminated):
        return agreement_hold("terminated"), event.reason
    if isinstance(event, AgreementCompleted) and event.occurred_at.date() < event.end_date:
        return agreement_hold("completed_early"), f"completed on {event.occurred_at.date()}, before {event.end_date}"
    return None


async def apply_agreement_event(repos: Repositories, event_id: str, event: AgreementEvent) -> None:
    def decide(snapshot: Snapshot | None) -> Change:
        view = (
            AgreementView(agreement_id=event.agreement_id)
            if snapshot is None
            else repos.agreements.from_snapshot(snapshot).item
        )
        if view.updated_at is not None and event.occurred_at < view.updated_at:
            return Change(repos.agreements.state_of(view))  # out of order: older news
        updates: dict[str, object] = {"status": str(event.status), "updated_at": event.occurred_at}
        stop = _stop_of(event)
        if stop is not None:
            updates.update(hold=stop[0], hold_reason=stop[1])
        elif event.status == "active":
            updates.update(hold=None, hold_reason=None)
        if view.registry_version is None or event.version >= view.registry_version:
            updates.update(
                registry_version=event.version,
                party_ids=tuple(event.party_ids),
                enterprise_ids=tuple(event.enterprise_ids),
                parties=tuple(
                    AgreementPartyView(partner_id=p.partner_id, kind=str(p.kind), region_code=p.region_code)
                    for p in event.parties
                ),
                modes=tuple(event.modes),
            )
        view = view.model_copy(update=updates)
        return Change(
            repos.agreements.state_of(view),
            (),
            AuditNote("agreement.read_model", "agreement", event.agreement_id, None, {"status": view.status}),
        )

    await apply_change(repos.agreements.store, event.agreement_id, decide, caused_by=event_id, retry=EVENT_RETRY)


async def record_result(repos: Repositories, event_id: str, event: ResultCompleted) -> bool:
    """Fold a completed result; True when it is the agreement's newest (it then drives awards)."""
    newest = [False]

    def decide(snapshot: Snapshot | None) -> Change | None:
        view = (
            AgreementEvaluations(agreement_id=event.agreement_id)
            if snapshot is None
            else repos.evaluations.from_snapshot(snapshot).item
        )
        if view.latest_occurred_at is not None and event.occurred_at < view.latest_occurred_at:
            newest[0] = False
            return None
        newest[0] = True
        view = view.model_copy(
            update={
                "latest_result_id": event.result_id,
                "latest_grade": event.grade,
                "latest_cycle_kind": event.cycle_kind,
                "latest_occurred_at": event.occurred_at,
            }
        )
        return Change(
            repos.evaluations.state_of(view),
            (),
            AuditNote("evaluation.read_model", "agreement", event.agreement_id, None, {"grade": str(event.grade)}),
        )

    version = await apply_change(
        repos.evaluations.store, event.agreement_id, decide, caused_by=event_id, retry=EVENT_RETRY
    )
    # A redelivered event (version None, but newest) still drives awards: their own dedupe holds.
    return newest[0] or version is not None


async def record_rectification(
    repos: Repositories, event_id: str, event: RectificationOverdue | RectificationClosed
) -> bool:
    """Fold an overdue / closed rectification; True when it changes the agreement's holds."""
    overdue = isinstance(event, RectificationOverdue)
    effective = [False]

    def decide(snapshot: Snapshot | None) -> Change | None:
        view = (
            AgreementEvaluations(agreement_id=event.agreement_id)
            if snapshot is None
            else repos.evaluations.from_snapshot(snapshot).item
        )
        if overdue and event.order_id in view.closed_order_ids:
            effective[0] = False
            return None
        effective[0] = True
        if overdue:
            ids = tuple(sorted({*view.overdue_order_ids, event.order_id}))
            view = view.model_copy(update={"overdue_order_ids": ids})
        else:
            view = view.model_copy(
                update={
                    "overdue_order_ids": tuple(o for o in view.overdue_order_ids if o != event.order_id),
                    "closed_order_ids": tuple(sorted({*view.closed_order_ids, event.order_id})),
                }
            )
        return Change(
            repos.evaluations.state_of(view),
            (),
            AuditNote("evaluation.rectification", "agreement", event.agreement_id, None, {"order_id": event.order_id}),
        )

    await apply_change(repos.evaluations.store, event.agreement_id, decide, caused_by=event_id, retry=EVENT_RETRY)
    return effective[0]
