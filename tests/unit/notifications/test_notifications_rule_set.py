"""The routing rule set as data (issue #14 item 18) on in-memory twins: seeded from the
defaults, replaced with the exact version, refused whole when a rule names an unknown
event or a template without both languages, and the dry run planning what routing then
records. The real-server tests are in tests/integration/notifications/test_notifications_routing_rules.py.
"""

from __future__ import annotations

import pytest

from alliance_notifications.domain.default_rules import DEFAULT_RULES, PEOPLE_CHANNELS
from alliance_notifications.domain.preferences import Category
from alliance_notifications.domain.routing import Disposition, RoutingRule
from alliance_notifications.domain.rule_set import RULE_SET_ID, RuleSetSource
from alliance_notifications.service.planning import handle_event
from alliance_notifications.service.repositories import ROUTING_RULES
from alliance_notifications.service.routing_rules import (
    current_rule_set,
    dry_run,
    replace_rule_set,
    rule_set_history,
    seed_rule_set,
)
from alliance_shared.contract.notifications import Channel
from alliance_shared.errors import DomainError, PreconditionFailed
from tests.unit.notifications.notifications_support import COLLEGE, ENTERPRISE, NOW, example
from tests.unit.notifications.test_notifications_use_cases import seeded
from tests.unit.notifications.twins import Twins

ORDERED = "org.coopalliance.evaluation.rectification.ordered.v1"
#: A rule set that tells only the responsible party, in its inbox.
INBOX_ONLY = RoutingRule(
    event_type=ORDERED,
    selectors=("responsible_party",),
    category=Category.REGULATORY,
    channels=(Channel.INBOX,),
    template="evaluation.rectification.ordered",
)


async def test_the_first_start_seeds_the_defaults_once() -> None:
    twins = Twins(NOW)

    first = await seed_rule_set(twins.notifier)
    again = await seed_rule_set(twins.notifier)

    assert first.written
    assert first.version == 1
    assert first.item.rules == DEFAULT_RULES
    assert first.item.source is RuleSetSource.DEFAULTS
    assert not again.written
    assert again.version == 1
    assert twins.audit_actions(ROUTING_RULES) == ["routing_rules.seeded"]


async def test_unchanged_defaults_follow_the_shipped_ones_but_an_admins_version_stays() -> None:
    twins = Twins(NOW)
    await seed_rule_set(twins.notifier)
    twins.notifier.default_rules = (*DEFAULT_RULES, INBOX_ONLY)  # a release adds a rule

    followed = await seed_rule_set(twins.notifier)
    await replace_rule_set(twins.notifier, 2, [INBOX_ONLY], "admin-wang", "only the inbox")
    twins.notifier.default_rules = DEFAULT_RULES
    kept = await seed_rule_set(twins.notifier)

    assert followed.written
    assert followed.version == 2
    assert followed.item.rules[-1] == INBOX_ONLY
    assert not kept.written
    assert kept.version == 3
    assert kept.item.rules == (INBOX_ONLY,)


async def test_a_new_version_changes_who_hears_of_the_next_event() -> None:
    twins = await seeded()
    await seed_rule_set(twins.notifier)
    await twins.notifier.rule_set()  # cached: the new version must replace it at once

    written = await replace_rule_set(twins.notifier, 1, [INBOX_ONLY], "admin-wang", "inbox only")
    event_type, payload = example("evaluation.rectification.ordered")
    await handle_event(twins.notifier, "evt-1", event_type, payload)

    assert written.version == 2
    assert written.item.source is RuleSetSource.ADMIN
    deliveries = [found.item.delivery for found in await twins.notifier.repos.deliveries.find({})]
    assert [(d.recipient_id, d.channel) for d in deliveries] == [(f"partner:{ENTERPRISE}", Channel.INBOX)]
    assert [loaded.version for loaded in await rule_set_history(twins.notifier)] == [2, 1]


async def test_a_stale_version_is_refused_and_changes_nothing() -> None:
    twins = Twins(NOW)
    await seed_rule_set(twins.notifier)

    with pytest.raises(PreconditionFailed):
        await replace_rule_set(twins.notifier, 0, [INBOX_ONLY], "admin-wang", None)

    assert (await current_rule_set(twins.notifier)).item.rules == DEFAULT_RULES


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"event_type": "org.coopalliance.funding.tranche.vanished.v1"}, "event_type"),
        ({"template": "funding.tranche.vanished"}, "template"),
    ],
)
async def test_an_invalid_rule_is_refused_by_its_index_and_nothing_changes(change: dict[str, str], field: str) -> None:
    twins = Twins(NOW)
    await seed_rule_set(twins.notifier)
    broken = INBOX_ONLY.model_copy(update=change)

    with pytest.raises(DomainError) as refused:
        await replace_rule_set(twins.notifier, 1, [INBOX_ONLY, broken], "admin-wang", None)

    assert refused.value.code == "routing.invalid_rules"
    assert refused.value.extensions["rule_index"] == 1
    assert [p["field"] for p in refused.value.extensions["problems"]] == [field]
    current = await current_rule_set(twins.notifier)
    assert current.version == 1
    assert current.item.rules == DEFAULT_RULES


async def test_the_dry_run_plans_what_routing_then_records_and_stores_nothing() -> None:
    twins = await seeded()
    await seed_rule_set(twins.notifier)
    event_type, payload = example("evaluation.rectification.ordered")

    planned = await dry_run(twins.notifier, event_type, payload, event_id="evt-2")
    assert await twins.notifier.repos.deliveries.find({}) == []
    await handle_event(twins.notifier, "evt-2", event_type, payload)

    recorded = {found.item.delivery.delivery_id for found in await twins.notifier.repos.deliveries.find({})}
    assert {p.delivery_id for p in planned if p.disposition is not Disposition.DIGEST} == recorded
    assert {p.recipient_id for p in planned} >= {f"partner:{COLLEGE}", f"partner:{ENTERPRISE}"}


async def test_a_dry_run_of_a_draft_uses_the_draft_and_checks_it() -> None:
    twins = await seeded()
    await seed_rule_set(twins.notifier)
    event_type, payload = example("evaluation.rectification.ordered")
    officers = INBOX_ONLY.model_copy(update={"selectors": ("role_group:supervisors",), "channels": PEOPLE_CHANNELS})

    planned = await dry_run(twins.notifier, event_type, payload, rules=[officers])

    assert planned
    assert all(p.recipient_id.startswith("member:") for p in planned)
    with pytest.raises(DomainError) as refused:
        await dry_run(twins.notifier, event_type, payload, rules=[officers.model_copy(update={"template": "nope"})])
    assert refused.value.code == "routing.invalid_rules"


async def test_a_dry_run_refuses_an_event_that_would_be_dead_lettered() -> None:
    twins = Twins(NOW)

    with pytest.raises(DomainError) as unknown:
        await dry_run(twins.notifier, "org.coopalliance.nothing.v1", {})
    with pytest.raises(DomainError) as invalid:
        await dry_run(twins.notifier, ORDERED, {"order_id": "rect-1"})

    assert unknown.value.code == "routing.unknown_event_type"
    assert invalid.value.code == "routing.invalid_payload"
    assert await twins.stores[ROUTING_RULES].history(RULE_SET_ID) == []
