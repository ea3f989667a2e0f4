"""Officers review submitted applications and decide them."""

from __future__ import annotations

from typing import Literal

from fastapi import APIRouter, Response
from pydantic import BaseModel, ConfigDict

from alliance_funding.adapters.http.access import Officer
from alliance_funding.adapters.http.deps import Now, Repos
from alliance_funding.domain.application import Application
from alliance_funding.service import applications
from alliance_shared.contract.base import MinorUnits
from alliance_shared.contract.vocabulary import Reason
from alliance_shared.web.conditional import IfMatch, set_etag

router = APIRouter(tags=["review"])


class DecisionIn(BaseModel):
    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {"decision": "approve", "reason": "meets all criteria", "approved_minor": 90_000_000},
                {"decision": "return", "reason": "budget lines lack quotations"},
            ]
        },
    )

    decision: Literal["approve", "reject", "return"]
    reason: Reason
    approved_minor: MinorUnits | None = None


@router.post("/applications/{application_id}/review", summary="Start reviewing a submission")
async def start_review(
    application_id: str, response: Response, _: Officer, expected: IfMatch, repos: Repos
) -> Application:
    outcome = await applications.start_review(repos, application_id, expected=expected)
    set_etag(response, outcome.version)
    return outcome.item


@router.post(
    "/applications/{application_id}/decision",
    summary="Approve (commits the money and grants the award), reject or return, with a reason",
)
async def decide_application(
    application_id: str,
    body: DecisionIn,
    response: Response,
    principal: Officer,
    expected: IfMatch,
    repos: Repos,
    clock: Now,
) -> Application:
    outcome = await applications.decide_application(
        repos,
        clock,
        application_id,
        decision=body.decision,
        reason=body.reason,
        approved_minor=body.approved_minor,
        actor_id=principal.subject,
        expected=expected,
    )
    set_etag(response, outcome.version)
    return outcome.item
