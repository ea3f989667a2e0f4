"""The programme read model: funding's programme and award events folded into
``ProgrammeView`` — a programme's name and which agreements it awarded funds to.

A cycle scoped to a programme covers its awarded agreements (an award terminated no
longer counts); rankings and dashboards group agreements by the programmes that fund
them. Each event is applied once (``caused_by`` is its id), and the fold does not depend
on arrival order: a termination is final, a late grant does not revive the award.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

from alliance_evaluation.service.context import Context
from alliance_evaluation.service.records import ProgrammeAward, ProgrammeView
from alliance_shared.contract.funding import AwardGranted, AwardTerminated, ProgrammeOpened
from alliance_shared.errors import DomainError
from alliance_shared.messaging.handlers import ConsumedEvent
from alliance_shared.persistence.repository import Loaded
from alliance_shared.persistence.versioned_store import AuditNote
from alliance_shared.persistence.write_path import EVENT_RETRY, Decision, execute


def _awarded(awards: tuple[ProgrammeAward, ...]) -> tuple[str, ...]:
    return tuple(sorted({a.agreement_id for a in awards if not a.terminated}))


def fold(current: ProgrammeView | None, event_type: str, data: Mapping[str, Any], now: datetime) -> ProgrammeView:
    programme_id = str(data.get("programme_id") or "")
    if not programme_id:
        raise DomainError("programme_event.no_id", "a funding event without programme_id")
    view = current or ProgrammeView(programme_id=programme_id)
    updates: dict[str, Any] = {"updated_at": now}
    if event_type == ProgrammeOpened.event_type:
        updates["name"] = str(data["name"])
        updates["fiscal_year"] = int(data["fiscal_year"])
    else:
        award_id, agreement_id = str(data["award_id"]), str(data["agreement_id"])
        terminated = event_type == AwardTerminated.event_type
        others = tuple(a for a in view.awards if a.award_id != award_id)
        known = next((a for a in view.awards if a.award_id == award_id), None)
        award = ProgrammeAward(
            award_id=award_id,
            agreement_id=agreement_id,
            terminated=terminated or (known is not None and known.terminated),
        )
        awards = tuple(sorted((*others, award), key=lambda a: a.award_id))
        updates["awards"] = awards
        updates["agreement_ids"] = _awarded(awards)
    return view.model_copy(update=updates)


async def apply_programme_event(ctx: Context, event: ConsumedEvent) -> None:
    """Fold one funding programme or award event into the read model, once per event id."""
    event_type, data = event.envelope.type, event.envelope.data
    programme_id = str(data.get("programme_id") or "")

    def decide(loaded: Loaded[ProgrammeView] | None) -> Decision[ProgrammeView]:
        view = fold(None if loaded is None else loaded.item, event_type, data, ctx.clock.now())
        audit = AuditNote("programme.read_model", "programme", programme_id, None, {"event": event_type})
        return Decision(view, audit, events=())

    await execute(ctx.repos.programmes, programme_id, decide, caused_by=event.envelope.id, retry=EVENT_RETRY)


#: The funding events the read model folds.
PROGRAMME_EVENTS = (ProgrammeOpened, AwardGranted, AwardTerminated)


async def find_programme(ctx: Context, programme_id: str) -> ProgrammeView | None:
    loaded = await ctx.repos.programmes.get(programme_id)
    return None if loaded is None else loaded.item


async def programmes_of(ctx: Context, agreement_id: str) -> list[ProgrammeView]:
    """The programmes with a live award for the agreement (indexed on ``agreement_ids``)."""
    return [p.item for p in await ctx.repos.programmes.find({"agreement_ids": agreement_id})]


async def get_programme(ctx: Context, programme_id: str) -> ProgrammeView:
    return (await ctx.repos.programmes.require(programme_id, "programme.not_found", "programme")).item
