"""Use cases of the routing rule set: seed it, read it and its history, write a new
version (If-Match, validated against the event catalog and the templates), and the dry
run — who would get what for an event, with nothing sent or stored."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from pydantic import ValidationError

from alliance_notifications.domain.default_rules import (
    REMINDER_PROGRAMME_CLOSING,
    REMINDER_RECTIFICATION_DUE,
    REMINDER_TRANCHE_AWAITING_APPROVAL,
)
from alliance_notifications.domain.routing import PlannedDelivery, RoutingRule
from alliance_notifications.domain.rule_set import RULE_SET_ID, RuleSet, RuleSetSource, rule_problems
from alliance_notifications.service.notifier import Notifier
from alliance_notifications.service.planning import plan_event
from alliance_shared.contract.platform import PLATFORM_CATALOG
from alliance_shared.errors import DomainError, NotFound
from alliance_shared.persistence.repository import Loaded
from alliance_shared.persistence.versioned_store import AuditNote
from alliance_shared.persistence.write_path import Decision, Outcome, execute

#: Routing types that are no published event: reminders, routed when they fire.
REMINDER_TYPES = frozenset({REMINDER_RECTIFICATION_DUE, REMINDER_PROGRAMME_CLOSING, REMINDER_TRANCHE_AWAITING_APPROVAL})
#: The event id a dry run plans under when it is given no stored event.
DRY_RUN_EVENT_ID = "dry-run"


def known_event_types() -> frozenset[str]:
    return frozenset(PLATFORM_CATALOG.types) | REMINDER_TYPES


async def seed_rule_set(notifier: Notifier) -> Outcome[RuleSet]:
    """Store the default rules as the first version; a set nobody changed follows changed
    defaults (a new version). An admin's version is left as it is. Safe to race."""
    defaults = notifier.default_rules
    now = notifier.clock.now()

    def decide(current: Loaded[RuleSet] | None) -> Decision[RuleSet] | None:
        if current is not None and not current.item.follows(defaults):
            return None
        audit = AuditNote("routing_rules.seeded", "routing_rules", RULE_SET_ID, after={"rules": len(defaults)})
        return Decision(RuleSet.of_defaults(defaults, now), audit)

    outcome = await execute(notifier.repos.rule_sets, RULE_SET_ID, decide)
    notifier.rules_changed()
    return outcome


async def current_rule_set(notifier: Notifier) -> Loaded[RuleSet]:
    """The rule set in force as stored (version 0: the defaults, before the first start seeded them)."""
    loaded = await notifier.repos.rule_sets.get(RULE_SET_ID)
    if loaded is None:
        return Loaded(RuleSet.of_defaults(notifier.default_rules, notifier.clock.now()), 0)
    return loaded


async def rule_set_history(notifier: Notifier) -> list[Loaded[RuleSet]]:
    """Every stored version, newest first."""
    repo = notifier.repos.rule_sets
    return [repo.from_snapshot(s) for s in reversed(await repo.store.history(RULE_SET_ID))]


def check_rules(notifier: Notifier, rules: Sequence[RoutingRule]) -> None:
    """DomainError ``routing.invalid_rules`` (422) naming each offending rule by index."""
    problems = rule_problems(rules, known_event_types(), notifier.renderer.has_template)
    if problems:
        first = problems[0]
        raise DomainError(
            "routing.invalid_rules",
            f"rule {first.rule_index}: {first.detail}"
            + (f" (and {len(problems) - 1} more problems)" if len(problems) > 1 else ""),
            rule_index=first.rule_index,
            problems=[p.model_dump() for p in problems],
        )


async def replace_rule_set(
    notifier: Notifier, expected: int, rules: Sequence[RoutingRule], actor_id: str, note: str | None
) -> Outcome[RuleSet]:
    """A new version of the rule set (If-Match ``expected``); an invalid one is refused
    whole (422) and changes nothing. Routing uses it from the next event on."""
    check_rules(notifier, rules)
    now = notifier.clock.now()

    def decide(_: object) -> Decision[RuleSet]:
        rule_set = RuleSet(
            rules=tuple(rules), source=RuleSetSource.ADMIN, changed_by=actor_id, changed_at=now, note=note
        )
        audit = AuditNote(
            "routing_rules.replaced", "routing_rules", RULE_SET_ID, after={"rules": len(rules), "note": note}
        )
        return Decision(rule_set, audit)

    outcome = await execute(notifier.repos.rule_sets, RULE_SET_ID, decide, expected=expected)
    notifier.rules_changed()
    return outcome


async def stored_event(notifier: Notifier, event_id: str) -> tuple[str, dict[str, Any]]:
    """Type and payload of an event this service routed before, from its delivery log."""
    found = await notifier.repos.deliveries.find({"event_id": event_id}, limit=1)
    if not found:
        raise NotFound("event.not_found", f"no delivery of event {event_id} is recorded; send its type and payload")
    record = found[0].item
    return record.delivery.event_type, dict(record.payload)


async def dry_run(
    notifier: Notifier,
    event_type: str,
    payload: Mapping[str, Any],
    *,
    event_id: str = DRY_RUN_EVENT_ID,
    rules: Sequence[RoutingRule] | None = None,
) -> list[PlannedDelivery]:
    """Who would get what for this event — by ``rules`` (a draft, checked like a new
    version) or the rule set in force — with today's directory and preferences. Nothing
    is sent or stored. A payload that would be dead-lettered is refused (422)."""
    if event_type not in known_event_types():
        raise DomainError("routing.unknown_event_type", f"{event_type!r} is not an event of the platform's catalog")
    if event_type not in REMINDER_TYPES:
        try:
            PLATFORM_CATALOG.parse(event_type, dict(payload))
        except ValidationError as error:
            raise DomainError(
                "routing.invalid_payload",
                f"the payload is not a valid {event_type}: {error.error_count()} errors",
                errors=error.errors(include_url=False, include_context=False, include_input=False),
            ) from None
    if rules is None:
        rules = (await notifier.rule_set()).item.rules
    else:
        check_rules(notifier, rules)
    return await plan_event(notifier, rules, event_type, event_id, payload, notifier.clock.now())
