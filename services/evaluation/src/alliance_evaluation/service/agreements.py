"""The agreement read model: registry agreement events folded into ``AgreementView``.

A tolerant reader: it takes the fields it knows from whatever the registry's agreement
payload carries (agreement_id, status, version, party_ids / college_ids /
enterprise_ids, parties with kind/role/region_code, modes, majors, declared depth,
obligations, start/end dates) and ignores the rest. Fields present in an event replace
the stored ones; absent fields are kept, so a status-only event (suspended, resumed…)
does not wipe the parties. An event with an older agreement ``version`` than the one
stored does not roll the structure back.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import date, datetime
from typing import Any

from alliance_evaluation.domain.targets import Obligation
from alliance_evaluation.service.context import Context
from alliance_evaluation.service.evidence import apply_parked_reports
from alliance_evaluation.service.records import ACTIVE, ActivePeriod, AgreementParty, AgreementView
from alliance_shared.contract.vocabulary import CooperationMode, Depth, ObligationMetric, ObligationPeriod
from alliance_shared.errors import DomainError
from alliance_shared.logging import get_logger
from alliance_shared.messaging.handlers import ConsumedEvent
from alliance_shared.persistence.mongo import TRANSIENT_DB_ERRORS
from alliance_shared.persistence.repository import Loaded
from alliance_shared.persistence.versioned_store import AuditNote
from alliance_shared.persistence.write_path import EVENT_RETRY, Decision, execute

log = get_logger(__name__)

#: The status an agreement event implies when its payload carries none (by the event's verb).
STATUS_BY_VERB: Mapping[str, str] = {
    "registered": "draft",
    "drafted": "draft",
    "created": "draft",
    "signed": "signed",
    "activated": ACTIVE,
    "resumed": ACTIVE,
    "suspended": "suspended",
    "terminated": "terminated",
    "completed": "completed",
    "expired": "completed",
}


def verb_of(event_type: str) -> str:
    # org.coopalliance.registry.agreement.<verb>.v1
    parts = event_type.split(".")
    return parts[-2] if len(parts) >= 2 else ""


def _ids(value: Any) -> tuple[str, ...] | None:
    if not isinstance(value, list | tuple):
        return None
    return tuple(str(v) for v in value if isinstance(v, str | int) and str(v))


def _party(raw: Any) -> AgreementParty | None:
    if not isinstance(raw, Mapping):
        return None
    partner_id = raw.get("partner_id") or raw.get("party_id") or raw.get("id")
    if not partner_id:
        return None
    region = raw.get("region_code") or raw.get("region")

    def text(key: str) -> str | None:
        value = raw.get(key)
        return str(value) if value is not None else None

    return AgreementParty(
        partner_id=str(partner_id), kind=text("kind"), role=text("role"), region_code=str(region) if region else None
    )


def _modes(values: Iterable[Any]) -> tuple[CooperationMode, ...]:
    known = {m.value for m in CooperationMode}
    return tuple(sorted({CooperationMode(v) for v in values if v in known}))


def _obligations(values: Iterable[Any]) -> tuple[Obligation, ...]:
    metrics = {m.value for m in ObligationMetric}
    periods = {p.value for p in ObligationPeriod}
    found: list[Obligation] = []
    for raw in values:
        if not isinstance(raw, Mapping):
            continue
        metric, period, quantity = raw.get("metric"), raw.get("period"), raw.get("quantity")
        party = raw.get("party_id") or raw.get("partner_id")
        if metric in metrics and period in periods and isinstance(quantity, int) and quantity >= 0 and party:
            found.append(
                Obligation(
                    party_id=str(party),
                    metric=ObligationMetric(metric),
                    quantity=quantity,
                    period=ObligationPeriod(period),
                )
            )
    return tuple(found)


def _date(value: Any) -> date | None:
    if isinstance(value, date) and not isinstance(value, datetime):
        return value
    if isinstance(value, str):
        try:
            return date.fromisoformat(value[:10])
        except ValueError:
            return None
    return None


def _periods(view: AgreementView, new_status: str, occurred: date) -> tuple[ActivePeriod, ...]:
    """Open a period when the agreement becomes active, close it when it stops being so."""
    periods = view.active_periods
    if not periods and view.status == ACTIVE and view.active_since is not None:
        periods = (ActivePeriod(start=view.active_since),)  # a read model from before periods were kept
    is_open = bool(periods) and periods[-1].end is None
    if new_status == ACTIVE and not is_open:
        return (*periods, ActivePeriod(start=occurred))
    if new_status != ACTIVE and is_open:
        return (*periods[:-1], ActivePeriod(start=periods[-1].start, end=occurred))
    return periods


def fold(current: AgreementView | None, event_type: str, data: Mapping[str, Any], now: datetime) -> AgreementView:
    """The read model after one registry agreement event."""
    agreement_id = str(data.get("agreement_id") or "")
    if not agreement_id:
        raise DomainError("agreement_event.no_id", "an agreement event without agreement_id")
    view = current.model_copy() if current else AgreementView(agreement_id=agreement_id)
    updates: dict[str, Any] = {"last_event_type": event_type, "updated_at": now}
    version = data.get("version")
    stale = isinstance(version, int) and view.registry_version is not None and version < view.registry_version
    status = data.get("status")
    new_status = str(status) if isinstance(status, str) else STATUS_BY_VERB.get(verb_of(event_type))
    # An older version (a replay behind a newer one) sets neither the status nor the structure back.
    if new_status and not stale:
        updates["status"] = new_status
        occurred = _date(data.get("occurred_at")) or now.date()
        if new_status == ACTIVE and view.active_since is None:
            updates["active_since"] = occurred
        updates["active_periods"] = _periods(view, new_status, occurred)
    if not stale:
        if isinstance(version, int):
            updates["registry_version"] = version
        parties_raw = data.get("parties")
        if isinstance(parties_raw, list):
            parties = tuple(p for p in (_party(r) for r in parties_raw) if p is not None)
            updates["parties"] = parties
            updates["region_codes"] = tuple(sorted({p.region_code for p in parties if p.region_code}))
        else:
            parties = view.parties
        party_ids = _ids(data.get("party_ids"))
        if party_ids is None and isinstance(parties_raw, list):
            party_ids = tuple(p.partner_id for p in parties)
        if party_ids is not None:
            updates["party_ids"] = party_ids
        for key, kind in (("college_ids", "college"), ("enterprise_ids", "enterprise")):
            ids = _ids(data.get(key))
            if ids is None and isinstance(parties_raw, list):
                ids = tuple(p.partner_id for p in parties if p.kind == kind)
            if ids is not None:
                updates[key] = ids
        modes = data.get("modes", data.get("cooperation_modes"))
        if isinstance(modes, list):
            updates["modes"] = _modes(modes)
        majors = _ids(data.get("majors", data.get("major_codes")))
        if majors is not None:
            updates["majors"] = majors
        depth = data.get("declared_depth", data.get("depth"))
        if depth in {d.value for d in Depth}:
            updates["declared_depth"] = Depth(depth)
        obligations = data.get("obligations")
        if isinstance(obligations, list):
            updates["obligations"] = _obligations(obligations)
        for field, keys in (
            ("start_date", ("start_date", "starts_on", "start")),
            ("end_date", ("end_date", "ends_on", "end")),
        ):
            for key in keys:
                if (day := _date(data.get(key))) is not None:
                    updates[field] = day
                    break
    return view.model_copy(update=updates)


async def apply_agreement_event(ctx: Context, event: ConsumedEvent) -> None:
    """Fold one registry agreement event into the read model, once per event id."""
    event_type, data = event.envelope.type, event.envelope.data
    agreement_id = str(data.get("agreement_id") or "")

    def decide(loaded: Loaded[AgreementView] | None) -> Decision[AgreementView]:
        view = fold(None if loaded is None else loaded.item, event_type, data, ctx.clock.now())
        audit = AuditNote(
            "agreement.read_model", "agreement", agreement_id, None, {"event": event_type, "status": view.status}
        )
        return Decision(view, audit, events=())

    await execute(ctx.repos.agreements, agreement_id, decide, caused_by=event.envelope.id, retry=EVENT_RETRY)
    log.info("agreement read model updated", agreement_id=agreement_id, event_type=event_type)
    try:
        applied = await apply_parked_reports(ctx, agreement_id)
    except TRANSIENT_DB_ERRORS:
        raise  # the runner retries the event; folding it again is a no-op
    except Exception:  # a parked report must never fail the agreement's event: the periodic check retries it
        log.exception("could not settle the reports parked for an agreement", agreement_id=agreement_id)
        return
    if applied:
        log.info("parked reports applied", agreement_id=agreement_id, count=applied)
