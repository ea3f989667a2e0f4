"""Object-level access checks, each a named dependency: the caller holds the role (checked
first, as a sub-dependency) and may act on this very record (403 ``auth.object_forbidden``),
which must exist (404). The record is handed to the route, so it is read once."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Annotated

from fastapi import Depends

from alliance_evaluation.adapters.http.deps import (
    AUDITOR,
    EVALUATOR,
    SUPERVISOR,
    AnyReader,
    CycleReader,
    Evaluation,
    EvidenceWriter,
    Party,
    PartyReader,
    Scorer,
    Supervisor,
)
from alliance_evaluation.domain.appeal import Appeal
from alliance_evaluation.domain.panel import Panel
from alliance_evaluation.domain.rectification import RectificationOrder
from alliance_evaluation.domain.result import EvaluationResult
from alliance_evaluation.service import queries
from alliance_evaluation.service.records import AgreementView
from alliance_shared.auth.dependencies import forbid_unless
from alliance_shared.auth.principal import Principal
from alliance_shared.persistence.repository import Loaded


def is_overseer(principal: Principal) -> bool:
    return principal.has_any(SUPERVISOR, AUDITOR)


def is_party(principal: Principal, party_ids: Iterable[str]) -> bool:
    return any(principal.is_partner(p) for p in party_ids)


def party_filter(principal: Principal) -> str | None:
    """Whose records a list shows: overseers every one (None), parties those about their own agreements."""
    return None if is_overseer(principal) else principal.partner_id


# --- agreements ------------------------------------------------------------------------------


async def readable_agreement(agreement_id: str, principal: AnyReader, ctx: Evaluation) -> AgreementView:
    """Overseers, the agreement's parties and evaluators sitting on one of its panels."""
    agreement = await queries.get_agreement(ctx, agreement_id)
    allowed = (
        is_overseer(principal)
        or is_party(principal, agreement.snapshot().party_ids)
        or (principal.has_any(EVALUATOR) and await queries.sits_on_a_panel_of(ctx, principal.subject, agreement_id))
    )
    forbid_unless(allowed, f"agreement {agreement_id} is not one of yours")
    return agreement


async def enterprise_agreement(agreement_id: str, principal: EvidenceWriter, ctx: Evaluation) -> AgreementView:
    """Supervisors, and enterprises that are a party."""
    agreement = await queries.get_agreement(ctx, agreement_id)
    forbid_unless(
        principal.has_any(SUPERVISOR) or is_party(principal, agreement.enterprise_ids),
        f"agreement {agreement_id} is not one of your enterprise's agreements",
    )
    return agreement


async def readable_agreement_results(
    agreement_id: str, principal: PartyReader, ctx: Evaluation
) -> list[EvaluationResult]:
    """Overseers and the agreement's parties (as its results name them, else as the agreement does)."""
    results = await queries.results_of_agreement(ctx, agreement_id)
    if results:
        party_ids = results[0].party_ids
    else:
        party_ids = (await queries.get_agreement(ctx, agreement_id)).snapshot().party_ids
    forbid_unless(
        is_overseer(principal) or is_party(principal, party_ids), f"agreement {agreement_id} is not one of yours"
    )
    return results


ReadableAgreement = Annotated[AgreementView, Depends(readable_agreement)]
EnterpriseAgreement = Annotated[AgreementView, Depends(enterprise_agreement)]
ReadableAgreementResults = Annotated[list[EvaluationResult], Depends(readable_agreement_results)]


# --- panels ----------------------------------------------------------------------------------


async def readable_panel(cycle_id: str, agreement_id: str, principal: CycleReader, ctx: Evaluation) -> Loaded[Panel]:
    """Overseers and the panel's evaluators."""
    loaded = await queries.get_panel(ctx, cycle_id, agreement_id)
    forbid_unless(
        is_overseer(principal) or principal.subject in loaded.item.evaluator_ids, "you do not sit on this panel"
    )
    return loaded


async def scorable_panel(cycle_id: str, agreement_id: str, principal: Scorer, ctx: Evaluation) -> Loaded[Panel]:
    """The panel's own evaluators only."""
    loaded = await queries.get_panel(ctx, cycle_id, agreement_id)
    forbid_unless(principal.subject in loaded.item.evaluator_ids, "only evaluators on this panel may score it")
    return loaded


ReadablePanel = Annotated[Loaded[Panel], Depends(readable_panel)]
ScorablePanel = Annotated[Loaded[Panel], Depends(scorable_panel)]


# --- results and appeals ---------------------------------------------------------------------


async def readable_result(result_id: str, principal: PartyReader, ctx: Evaluation) -> Loaded[EvaluationResult]:
    loaded = await queries.get_result(ctx, result_id)
    forbid_unless(is_overseer(principal) or is_party(principal, loaded.item.party_ids), "this result is not about you")
    return loaded


async def appealable_result(result_id: str, principal: Party, ctx: Evaluation) -> EvaluationResult:
    result = (await queries.get_result(ctx, result_id)).item
    forbid_unless(is_party(principal, result.party_ids), "only a party to the agreement may appeal")
    return result


def sees_appeal(principal: Principal, appeal: Appeal) -> bool:
    """Overseers see every appeal, parties the appeals about their agreements."""
    return is_overseer(principal) or is_party(principal, appeal.party_ids)


async def readable_appeal(appeal_id: str, principal: PartyReader, ctx: Evaluation) -> Loaded[Appeal]:
    loaded = await queries.get_appeal(ctx, appeal_id)
    forbid_unless(sees_appeal(principal, loaded.item), "not your appeal")
    return loaded


ReadableResult = Annotated[Loaded[EvaluationResult], Depends(readable_result)]
AppealableResult = Annotated[EvaluationResult, Depends(appealable_result)]
ReadableAppeal = Annotated[Loaded[Appeal], Depends(readable_appeal)]


# --- rectification ---------------------------------------------------------------------------


async def readable_order(order_id: str, principal: PartyReader, ctx: Evaluation) -> Loaded[RectificationOrder]:
    loaded = await queries.get_order(ctx, order_id)
    forbid_unless(is_overseer(principal) or is_party(principal, loaded.item.party_ids), "not your order")
    return loaded


async def order_to_answer(order_id: str, principal: Party, ctx: Evaluation) -> RectificationOrder:
    """The order's responsible party only."""
    order = (await queries.get_order(ctx, order_id)).item
    forbid_unless(principal.is_partner(order.responsible_party_id), "only the responsible party may respond")
    return order


async def order_to_verify(order_id: str, _: Supervisor, ctx: Evaluation) -> RectificationOrder:
    """Any supervisor, on an order that exists (404 comes before a missing If-Match)."""
    return (await queries.get_order(ctx, order_id)).item


ReadableOrder = Annotated[Loaded[RectificationOrder], Depends(readable_order)]
OrderToAnswer = Annotated[RectificationOrder, Depends(order_to_answer)]
OrderToVerify = Annotated[RectificationOrder, Depends(order_to_verify)]
