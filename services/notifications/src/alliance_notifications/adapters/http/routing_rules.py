"""The routing rules, as data an admin manages: read by ``registry_admin``, ``ops`` and
``auditor`` (with their history and the dry run); a new version is written by
``registry_admin`` only, with If-Match."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Response
from pydantic import BaseModel, ConfigDict, Field, model_validator

from alliance_notifications.adapters.http.deps import NotifierDep, RulesReader, RulesWriter
from alliance_notifications.domain.preferences import Category
from alliance_notifications.domain.routing import Disposition, PlannedDelivery, RoutingRule
from alliance_notifications.domain.rule_set import MAX_RULES, RuleSet, RuleSetSource
from alliance_notifications.service.routing_rules import (
    DRY_RUN_EVENT_ID,
    current_rule_set,
    dry_run,
    replace_rule_set,
    rule_set_history,
    stored_event,
)
from alliance_shared.contract.base import UtcDateTime
from alliance_shared.contract.notifications import Channel
from alliance_shared.persistence.repository import Loaded
from alliance_shared.web.conditional import IfMatch, set_etag

router = APIRouter(tags=["routing rules"])

_EXAMPLE_RULE: dict[str, Any] = {
    "event_type": "org.coopalliance.funding.tranche.paid.v1",
    "selectors": ["award_recipient"],
    "category": "operational",
    "channels": ["email", "webhook", "inbox"],
    "template": "funding.tranche.paid",
}


class RuleSetIn(BaseModel):
    model_config = ConfigDict(
        extra="forbid", json_schema_extra={"examples": [{"rules": [_EXAMPLE_RULE], "note": "officers off paid"}]}
    )

    rules: list[RoutingRule] = Field(min_length=1, max_length=MAX_RULES)
    note: str | None = Field(default=None, max_length=500)


class RuleSetOut(BaseModel):
    version: int
    source: RuleSetSource
    changed_by: str
    changed_at: UtcDateTime
    note: str | None
    rules: list[RoutingRule]

    @classmethod
    def of(cls, loaded: Loaded[RuleSet]) -> RuleSetOut:
        item = loaded.item
        return cls(
            version=loaded.version,
            source=item.source,
            changed_by=item.changed_by,
            changed_at=item.changed_at,
            note=item.note,
            rules=list(item.rules),
        )


class RuleSetHistory(BaseModel):
    versions: list[RuleSetOut] = Field(description="newest first")


class DryRunIn(BaseModel):
    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {"event_type": "org.coopalliance.funding.tranche.paid.v1", "payload": {"tranche_id": "..."}},
                {"event_id": "3b8f3c0e-2f4e-4c55-9d39-1f0f8d7c2a10"},
            ]
        },
    )

    event_type: str | None = Field(default=None, max_length=200)
    payload: dict[str, Any] | None = None
    event_id: str | None = Field(
        default=None,
        max_length=200,
        description="alone: an event this service routed before (its type and payload are read from the log); "
        "with event_type and payload: the id to plan under, as the real event would be",
    )
    rules: list[RoutingRule] | None = Field(
        default=None, min_length=1, max_length=MAX_RULES, description="a draft rule set; the one in force if omitted"
    )

    @model_validator(mode="after")
    def _an_event(self) -> DryRunIn:
        if (self.event_type is None) != (self.payload is None):
            raise ValueError("give event_type and payload together")
        if self.event_type is None and self.event_id is None:
            raise ValueError("give event_type and payload, or the event_id of a routed event")
        return self


class DryRunDelivery(BaseModel):
    delivery_id: str
    recipient_id: str
    recipient_name: str
    partner_id: str | None
    channel: Channel
    template: str
    language: str
    category: Category
    disposition: Disposition
    address: str | None
    not_before: UtcDateTime
    reason_code: str | None

    @classmethod
    def of(cls, plan: PlannedDelivery) -> DryRunDelivery:
        return cls(
            delivery_id=plan.delivery_id,
            recipient_id=plan.recipient_id,
            recipient_name=plan.recipient_name,
            partner_id=plan.partner_id,
            channel=plan.channel,
            template=plan.template,
            language=plan.locale.value,
            category=plan.category,
            disposition=plan.disposition,
            address=plan.address,
            not_before=plan.not_before,
            reason_code=plan.reason_code,
        )


class DryRunOut(BaseModel):
    event_type: str
    event_id: str
    rule_set_version: int | None = Field(description="the version in force that was applied; None for a draft")
    deliveries: list[DryRunDelivery]


@router.get("/routing-rules", summary="The routing rule set in force; ETag for If-Match")
async def read_rules(_: RulesReader, notifier: NotifierDep, response: Response) -> RuleSetOut:
    loaded = await current_rule_set(notifier)
    set_etag(response, loaded.version)
    return RuleSetOut.of(loaded)


@router.put(
    "/routing-rules",
    summary="Write a new version of the routing rules (If-Match); checked against the event catalog and templates",
)
async def write_rules(
    principal: RulesWriter, expected: IfMatch, body: RuleSetIn, notifier: NotifierDep, response: Response
) -> RuleSetOut:
    outcome = await replace_rule_set(notifier, expected, body.rules, principal.subject, body.note)
    set_etag(response, outcome.version)
    return RuleSetOut.of(Loaded(outcome.item, outcome.version))


@router.get("/routing-rules/versions", summary="Every version of the routing rules, newest first")
async def rules_history(_: RulesReader, notifier: NotifierDep) -> RuleSetHistory:
    return RuleSetHistory(versions=[RuleSetOut.of(loaded) for loaded in await rule_set_history(notifier)])


@router.post("/routing-rules/dry-run", summary="Who would get what for an event; nothing is sent or stored")
async def dry_run_rules(_: RulesReader, body: DryRunIn, notifier: NotifierDep) -> DryRunOut:
    if body.event_type is not None and body.payload is not None:
        event_type, payload = body.event_type, body.payload
        event_id = body.event_id or DRY_RUN_EVENT_ID
    else:
        event_id = body.event_id or DRY_RUN_EVENT_ID
        event_type, payload = await stored_event(notifier, event_id)
    version = None if body.rules is not None else (await notifier.rule_set()).version
    plans = await dry_run(notifier, event_type, payload, event_id=event_id, rules=body.rules)
    return DryRunOut(
        event_type=event_type,
        event_id=event_id,
        rule_set_version=version,
        deliveries=[DryRunDelivery.of(p) for p in plans],
    )
