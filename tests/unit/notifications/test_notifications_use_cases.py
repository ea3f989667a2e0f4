"""Every command of the notifications service on in-memory twins and a manual clock: a
success and a refusal each, with the events and audit entries written.

Fast, and never instead of the real-server tests in tests/integration/notifications/.
"""

from __future__ import annotations

from datetime import timedelta

import pytest

from alliance_notifications.domain.delivery import DeliveryStatus
from alliance_notifications.domain.endpoints import EndpointStatus
from alliance_notifications.domain.preferences import Category
from alliance_notifications.domain.rate_limit import RateLimited
from alliance_notifications.domain.recipients import GroupMember, RoleGroup, RoleGroupRoster
from alliance_notifications.domain.reminders import ReminderStatus
from alliance_notifications.service import queries
from alliance_notifications.service.deliveries import resend_delivery
from alliance_notifications.service.inbox import mark_all_read, mark_read
from alliance_notifications.service.planning import handle_event, handle_partner_event
from alliance_notifications.service.ports import SendOutcome
from alliance_notifications.service.recipients import replace_preferences, replace_role_group
from alliance_notifications.service.repositories import DELIVERIES, ENDPOINTS, PREFERENCES, ROLE_GROUPS
from alliance_notifications.service.schedules import fire_due_reminders, send_digests
from alliance_notifications.service.webhooks import (
    disable_webhook,
    drop_expired_secrets,
    register_webhook,
    rotate_webhook_secret,
    verify_webhook,
)
from alliance_notifications.service.worker import attempt_delivery
from alliance_shared.contract.notifications import Channel
from alliance_shared.errors import Conflict, DomainError, InvalidTransition, NotFound, PreconditionFailed
from alliance_shared.persistence.write_path import create
from tests.unit.notifications.notifications_support import (
    COLLEGE,
    ENTERPRISE,
    NOW,
    directory,
    example,
    partner_registered_example,
)
from tests.unit.notifications.twins import Twins

DELIVERED = "org.coopalliance.notifications.delivery.delivered.v1"
FAILED = "org.coopalliance.notifications.delivery.failed.v1"


async def seeded() -> Twins:
    """Twins holding the example directory: two partners, a verified webhook, role groups."""
    twins = Twins(NOW)
    repos = twins.notifier.repos
    example_directory = directory()
    for contact in example_directory.contacts.values():
        await create(repos.contacts, contact.partner_id, contact, None)
    for endpoint in example_directory.endpoints.values():
        await create(repos.endpoints, endpoint.endpoint_id, endpoint, None)
    for group, members in example_directory.groups.items():
        await create(repos.groups, group.value, RoleGroupRoster(group=group, members=members), None)
    return twins


async def delivered_order(twins: Twins) -> str:
    """Route a rectification order; the id of the college's e-mail delivery."""
    event_type, payload = example("evaluation.rectification.ordered")
    await handle_event(twins.notifier, "evt-order", event_type, payload)
    [found] = await twins.notifier.repos.deliveries.find({"recipient_id": f"partner:{COLLEGE}", "channel": "email"})
    return found.item.delivery.delivery_id


# --- consumed events ------------------------------------------------------------------------


async def test_a_partner_event_sets_the_contact_once() -> None:
    twins = Twins(NOW)
    event_type = "org.coopalliance.registry.partner.registered.v1"

    await handle_partner_event(twins.notifier, "evt-p1", event_type, partner_registered_example())
    await handle_partner_event(twins.notifier, "evt-p1", event_type, partner_registered_example())  # redelivered

    contact = await twins.notifier.repos.contacts.get(ENTERPRISE)
    assert contact is not None
    assert contact.version == 1
    assert twins.audit_actions("contacts") == ["contact.applied"]
    assert (await twins.notifier.read_directory()).partner_audience(ENTERPRISE) is not None


async def test_a_partner_event_without_a_partner_id_changes_nothing() -> None:
    twins = Twins(NOW)
    payload = {k: v for k, v in partner_registered_example().items() if k != "partner_id"}

    await handle_partner_event(twins.notifier, "evt-p2", "org.coopalliance.registry.partner.registered.v1", payload)

    assert await twins.notifier.repos.contacts.find({}) == []


async def test_an_event_plans_its_deliveries_once_and_stores_the_inbox_entries() -> None:
    twins = await seeded()
    event_type, payload = example("evaluation.rectification.ordered")

    await handle_event(twins.notifier, "evt-1", event_type, payload)
    planned = len(await twins.notifier.repos.deliveries.find({}))
    await handle_event(twins.notifier, "evt-1", event_type, payload)  # redelivered: nothing twice

    assert planned == len(await twins.notifier.repos.deliveries.find({})) >= 5
    inbox = await queries.inbox_page(twins.notifier, f"partner:{COLLEGE}", unread_only=True, before=None, limit=10)
    assert [e.event_id for e in inbox] == ["evt-1"]
    assert DELIVERED in twins.events(DELIVERIES)  # inbox deliveries count as delivered
    assert twins.notifier.planned_now  # e-mails and the webhook go to this process's worker at once


async def test_reminders_are_scheduled_by_one_event_and_cancelled_by_another() -> None:
    twins = await seeded()
    ordered_type, ordered = example("evaluation.rectification.ordered")
    closed_type, closed = example("evaluation.rectification.closed")

    await handle_event(twins.notifier, "evt-o", ordered_type, ordered)
    scheduled = await twins.notifier.repos.reminders.find({"status": "scheduled"})
    await handle_event(twins.notifier, "evt-c", closed_type, closed)

    assert len(scheduled) == 2  # 7 days and 1 day before the due date
    assert {r.item.status for r in await twins.notifier.repos.reminders.find({})} == {ReminderStatus.CANCELLED}


async def test_an_event_without_reminder_fields_schedules_nothing() -> None:
    twins = await seeded()
    event_type, payload = example("evaluation.rectification.ordered")
    del payload["due_at"]

    await handle_event(twins.notifier, "evt-x", event_type, payload)

    assert await twins.notifier.repos.reminders.find({}) == []


# --- the worker -----------------------------------------------------------------------------


async def test_an_attempt_that_succeeds_marks_the_delivery_sent_and_announces_it() -> None:
    twins = await seeded()
    delivery_id = await delivered_order(twins)

    await attempt_delivery(twins.notifier, delivery_id)

    loaded = await queries.delivery(twins.notifier, delivery_id)
    assert loaded.item.delivery.status is DeliveryStatus.SENT
    assert loaded.version == 3  # planned, claimed, sent
    assert [d.delivery_id for d in twins.email.sent] == [delivery_id]
    # This e-mail, and the inbox entries and the webhook, delivered when planned.
    sent_when_planned = await twins.notifier.repos.deliveries.find({"channel": {"$in": ["inbox", "webhook"]}})
    assert twins.events(DELIVERIES).count(DELIVERED) == 1 + len(sent_when_planned)


async def test_a_permanent_refusal_makes_the_delivery_dead_and_announces_it() -> None:
    twins = await seeded()
    delivery_id = await delivered_order(twins)
    twins.email.answer = SendOutcome.failed("email.smtp_550", "no such mailbox", retryable=False)

    await attempt_delivery(twins.notifier, delivery_id)

    assert (await queries.delivery(twins.notifier, delivery_id)).item.delivery.status is DeliveryStatus.DEAD
    assert twins.events(DELIVERIES).count(FAILED) == 1
    assert delivery_id not in twins.due.hints


async def test_a_retryable_failure_waits_on_the_due_list_and_is_retried_when_due() -> None:
    twins = await seeded()
    delivery_id = await delivered_order(twins)
    twins.email.answer = SendOutcome.failed("email.relay_unreachable", "down", retryable=True)

    await attempt_delivery(twins.notifier, delivery_id)
    assert await twins.due.due_ids(twins.clock.now()) == []  # not yet
    twins.email.answer = SendOutcome.ok()
    twins.clock.advance(timedelta(hours=2))
    assert await twins.due.due_ids(twins.clock.now()) == [delivery_id]
    await attempt_delivery(twins.notifier, delivery_id)

    delivery = (await queries.delivery(twins.notifier, delivery_id)).item.delivery
    assert [a.succeeded for a in delivery.attempts] == [False, True]
    assert delivery_id not in twins.due.hints


async def test_a_delivery_not_due_is_not_attempted() -> None:
    twins = await seeded()
    delivery_id = await delivered_order(twins)
    await attempt_delivery(twins.notifier, delivery_id)

    await attempt_delivery(twins.notifier, delivery_id)  # sent already

    assert len(twins.email.sent) == 1


async def test_a_webhook_is_sent_when_planned_and_recorded_once_with_its_outcome() -> None:
    twins = await seeded()
    event_type, payload = example("evaluation.rectification.ordered")

    await handle_event(twins.notifier, "evt-w", event_type, payload)

    [webhook] = await twins.notifier.repos.deliveries.find({"channel": "webhook"})
    assert (webhook.item.delivery.status, webhook.version) == (DeliveryStatus.SENT, 1)
    assert [d.delivery_id for d, _ in twins.webhooks.sent] == [webhook.item.delivery.delivery_id]
    assert webhook.item.delivery.delivery_id not in twins.notifier.planned_now
    await handle_event(twins.notifier, "evt-w", event_type, payload)  # redelivered: not sent again
    assert len(twins.webhooks.sent) == 1


async def test_a_webhook_to_a_disabled_endpoint_ends_dead() -> None:
    twins = await seeded()
    twins.webhooks.answer = SendOutcome.failed("webhook.http_503", "endpoint answered 503", retryable=True)
    event_type, payload = example("evaluation.rectification.ordered")
    await handle_event(twins.notifier, "evt-w", event_type, payload)
    [webhook] = await twins.notifier.repos.deliveries.find({"channel": "webhook"})
    assert webhook.item.delivery.status is DeliveryStatus.FAILED  # its first attempt, when planned
    await disable_webhook(twins.notifier, "wh-col-001", "retired")
    twins.clock.advance(timedelta(hours=2))

    await attempt_delivery(twins.notifier, webhook.item.delivery.delivery_id)

    delivery = (await queries.delivery(twins.notifier, webhook.item.delivery.delivery_id)).item.delivery
    assert (delivery.status, delivery.final_error_code) == (DeliveryStatus.DEAD, "webhook.endpoint_disabled")
    assert len(twins.webhooks.sent) == 1  # nothing sent once it was disabled


# --- reminders and digests ------------------------------------------------------------------


async def test_a_due_reminder_fires_once_and_not_before_its_time() -> None:
    twins = await seeded()
    event_type, payload = example("evaluation.rectification.ordered")
    await handle_event(twins.notifier, "evt-r", event_type, payload)

    assert await fire_due_reminders(twins.notifier) == 0  # not due yet
    twins.clock.set(NOW + timedelta(days=60))
    assert await fire_due_reminders(twins.notifier) == 2
    assert await fire_due_reminders(twins.notifier) == 0

    fired = await twins.notifier.repos.reminders.find({"status": "fired"})
    reminder_ids = {r.item.reminder_id for r in fired}
    assert reminder_ids <= {d.item.delivery.event_id for d in await twins.notifier.repos.deliveries.find({})}


async def test_the_digest_goes_out_once_a_day_and_not_before_the_digest_hour() -> None:
    twins = await seeded()
    twins.clock.set(NOW.replace(hour=22))  # 06:00 in Shanghai: before the digest hour
    event_type, payload = example("funding.programme.opened")
    await handle_event(twins.notifier, "evt-d", event_type, payload)
    assert await twins.notifier.repos.digest_entries.find({"digest_id": None}) != []

    assert await send_digests(twins.notifier) == 0  # 06:00 in Shanghai, midnight in Berlin
    twins.clock.set(NOW + timedelta(days=1))
    sent = await send_digests(twins.notifier)

    assert sent >= 1
    assert await send_digests(twins.notifier) == 0
    assert await twins.notifier.repos.digest_entries.find({"digest_id": None}) == []


# --- webhook endpoints ----------------------------------------------------------------------


async def test_registering_a_webhook_audits_it_and_refuses_plain_http() -> None:
    twins = Twins(NOW)

    outcome, secret = await register_webhook(twins.notifier, COLLEGE, "https://erp.example.cn/hook", "it-admin")
    with pytest.raises(DomainError) as refused:
        await register_webhook(twins.notifier, COLLEGE, "http://erp.example.cn/hook", "it-admin")

    assert outcome.version == 1
    assert secret.startswith("whsec_")
    assert outcome.item.status is EndpointStatus.PENDING_VERIFICATION
    assert refused.value.code == "webhook.url_not_https"
    assert twins.audit_actions(ENDPOINTS) == ["webhook.registered"]


async def test_verification_passes_when_the_challenge_is_echoed() -> None:
    twins = Twins(NOW)
    registered, _ = await register_webhook(twins.notifier, COLLEGE, "https://erp.example.cn/hook", "it-admin")

    verified = await verify_webhook(twins.notifier, registered.item.endpoint_id)

    assert (verified.item.status, verified.version) == (EndpointStatus.VERIFIED, 2)
    assert twins.audit_actions(ENDPOINTS) == ["webhook.registered", "webhook.verified"]


@pytest.mark.parametrize(("echo", "reachable", "rebound"), [
    ("not-the-challenge", True, False),
    (None, False, False),
    (None, True, True),  # the name now resolves inward: refused before anything is sent
])  # fmt: skip
async def test_verification_fails_the_same_way_whatever_the_target_did(
    echo: str | None, reachable: bool, rebound: bool
) -> None:
    twins = Twins(NOW)
    registered, _ = await register_webhook(twins.notifier, COLLEGE, "https://erp.example.cn/hook", "it-admin")
    twins.webhooks.echo, twins.webhooks.reachable = echo, reachable
    if rebound:
        twins.resolver.answers["erp.example.cn"] = ["10.0.0.7"]

    with pytest.raises(DomainError) as refused:
        await verify_webhook(twins.notifier, registered.item.endpoint_id)

    assert (refused.value.code, refused.value.status) == ("webhook.verification_failed", 422)
    assert (await queries.webhook(twins.notifier, registered.item.endpoint_id)).version == 1


async def test_verifying_a_verified_endpoint_is_an_illegal_transition_not_a_target_failure() -> None:
    twins = Twins(NOW)
    registered, _ = await register_webhook(twins.notifier, COLLEGE, "https://erp.example.cn/hook", "it-admin")
    await verify_webhook(twins.notifier, registered.item.endpoint_id)

    with pytest.raises(InvalidTransition):
        await verify_webhook(twins.notifier, registered.item.endpoint_id)


async def test_a_host_resolving_to_any_inward_address_is_refused_at_registration() -> None:
    twins = Twins(NOW)
    twins.resolver.answers["inward.example.cn"] = ["93.184.215.14", "169.254.169.254"]
    twins.resolver.answers["nowhere.example.cn"] = []

    for url, code in [
        ("https://inward.example.cn/hook", "webhook.address_not_public"),
        ("https://nowhere.example.cn/hook", "webhook.url_unresolvable"),
        ("https://192.168.0.10/hook", "webhook.address_not_public"),
    ]:
        with pytest.raises(DomainError) as refused:
            await register_webhook(twins.notifier, COLLEGE, url, "it-admin")
        assert refused.value.code == code
    assert await queries.webhooks_of(twins.notifier, COLLEGE) == []


async def test_a_partner_has_at_most_the_cap_of_endpoints_not_disabled() -> None:
    twins = Twins(NOW, webhook_max_endpoints_per_partner=2)
    first, _ = await register_webhook(twins.notifier, COLLEGE, "https://erp.example.cn/1", "it-admin")
    await register_webhook(twins.notifier, COLLEGE, "https://erp.example.cn/2", "it-admin")

    with pytest.raises(Conflict) as refused:
        await register_webhook(twins.notifier, COLLEGE, "https://erp.example.cn/3", "it-admin")
    await register_webhook(twins.notifier, ENTERPRISE, "https://erp.example.cn/4", "it-admin")
    await disable_webhook(twins.notifier, first.item.endpoint_id, "replaced")
    await register_webhook(twins.notifier, COLLEGE, "https://erp.example.cn/3", "it-admin")

    assert refused.value.code == "webhook.too_many_endpoints"


async def test_handshakes_are_rate_limited_per_partner() -> None:
    twins = Twins(NOW, verify_rate_limit=2, verify_rate_window_seconds=60)
    registered, _ = await register_webhook(twins.notifier, COLLEGE, "https://erp.example.cn/hook", "it-admin")
    twins.webhooks.reachable = False
    for _ in range(2):
        with pytest.raises(DomainError):
            await verify_webhook(twins.notifier, registered.item.endpoint_id)

    with pytest.raises(RateLimited) as limited:
        await verify_webhook(twins.notifier, registered.item.endpoint_id)
    twins.clock.advance(timedelta(seconds=61))
    twins.webhooks.reachable = True
    verified = await verify_webhook(twins.notifier, registered.item.endpoint_id)

    assert (limited.value.status, limited.value.code) == (429, "webhook.verify_rate_limited")
    assert verified.item.status is EndpointStatus.VERIFIED


async def test_secrets_are_stored_encrypted_and_dropped_after_their_grace() -> None:
    twins = Twins(NOW, secret_rotation_grace_seconds=3600)
    registered, first = await register_webhook(twins.notifier, COLLEGE, "https://erp.example.cn/hook", "it-admin")
    endpoint_id = registered.item.endpoint_id
    _, second = await rotate_webhook_secret(twins.notifier, endpoint_id)
    stored = str(twins.stores[ENDPOINTS]._journals)  # what the store holds, every version

    assert first not in stored
    assert second not in stored
    assert await drop_expired_secrets(twins.notifier) == 0
    twins.clock.advance(timedelta(hours=1))
    assert await drop_expired_secrets(twins.notifier) == 1
    assert await drop_expired_secrets(twins.notifier) == 0
    endpoint = await queries.webhook(twins.notifier, endpoint_id)
    assert (endpoint.secret, endpoint.previous_secret) == (second, None)


async def test_rotating_a_secret_keeps_the_old_one_and_is_refused_once_disabled() -> None:
    twins = Twins(NOW)
    registered, first = await register_webhook(twins.notifier, COLLEGE, "https://erp.example.cn/hook", "it-admin")
    endpoint_id = registered.item.endpoint_id

    rotated, second = await rotate_webhook_secret(twins.notifier, endpoint_id)
    await disable_webhook(twins.notifier, endpoint_id, "system retired")

    assert rotated.item.signing_secrets(twins.clock.now()) == (second, first)
    with pytest.raises(InvalidTransition):
        await rotate_webhook_secret(twins.notifier, endpoint_id)
    with pytest.raises(InvalidTransition):
        await disable_webhook(twins.notifier, endpoint_id, "again")
    with pytest.raises(NotFound):
        await disable_webhook(twins.notifier, "wh-none", "gone")
    assert twins.audit_actions(ENDPOINTS) == ["webhook.registered", "webhook.secret_rotated", "webhook.disabled"]


# --- preferences and role groups ------------------------------------------------------------


async def test_preferences_are_replaced_with_the_exact_version() -> None:
    twins = Twins(NOW)
    recipient = f"partner:{COLLEGE}"

    first = await replace_preferences(twins.notifier, recipient, 0, {Category.OPERATIONAL: [Channel.EMAIL]}, None, "u")
    for stale_or_future in (0, 2):
        with pytest.raises(PreconditionFailed) as refused:
            await replace_preferences(twins.notifier, recipient, stale_or_future, {}, None, "u")
        assert refused.value.code == "aggregate.version_conflict"
    second = await replace_preferences(twins.notifier, recipient, 1, {}, None, "u")

    assert (first.version, second.version) == (1, 2)
    assert first.item.muted == {Category.OPERATIONAL: [Channel.EMAIL]}
    assert twins.audit_actions(PREFERENCES) == ["preferences.replaced"] * 2


async def test_regulatory_notices_cannot_be_muted() -> None:
    twins = Twins(NOW)

    with pytest.raises(DomainError) as refused:
        await replace_preferences(twins.notifier, "member:u", 0, {Category.REGULATORY: [Channel.EMAIL]}, None, "u")

    assert refused.value.code == "preferences.regulatory_mandatory"
    assert twins.stores[PREFERENCES].outbox == []


async def test_a_role_group_is_replaced_with_the_exact_version_and_feeds_the_directory() -> None:
    twins = Twins(NOW)
    member = GroupMember(member_id="sup-1", name="陈督导", email="chen@gov.cn")

    outcome = await replace_role_group(twins.notifier, RoleGroup.SUPERVISORS, 0, [member, member])
    with pytest.raises(PreconditionFailed):
        await replace_role_group(twins.notifier, RoleGroup.SUPERVISORS, 0, [])

    assert (outcome.version, outcome.item.members) == (1, [member])
    assert [a.recipient_id for a in (await twins.notifier.directory()).group_audiences(RoleGroup.SUPERVISORS)] == [
        "member:sup-1"
    ]
    assert twins.audit_actions(ROLE_GROUPS) == ["role_group.replaced"]


# --- the inbox ------------------------------------------------------------------------------


async def test_marking_read_is_for_the_owner_only_and_happens_once() -> None:
    twins = await seeded()
    await delivered_order(twins)
    [entry] = await queries.inbox_page(twins.notifier, f"partner:{COLLEGE}", unread_only=False, before=None, limit=5)

    with pytest.raises(NotFound):
        await mark_read(twins.notifier, f"partner:{ENTERPRISE}", entry.inbox_id)
    read = await mark_read(twins.notifier, f"partner:{COLLEGE}", entry.inbox_id)
    again = await mark_read(twins.notifier, f"partner:{COLLEGE}", entry.inbox_id)

    assert read.written
    assert read.item.read_at == NOW
    assert not again.written
    assert await queries.unread_count(twins.notifier, f"partner:{COLLEGE}") == 0


async def test_marking_all_read_counts_the_unread_entries() -> None:
    twins = await seeded()
    await delivered_order(twins)

    assert await mark_all_read(twins.notifier, f"partner:{ENTERPRISE}") == 1
    assert await mark_all_read(twins.notifier, f"partner:{ENTERPRISE}") == 0


# --- the delivery log -----------------------------------------------------------------------


async def test_a_final_delivery_is_resent_as_a_new_one_with_an_audit_note() -> None:
    twins = await seeded()
    delivery_id = await delivered_order(twins)
    await attempt_delivery(twins.notifier, delivery_id)

    copy = await resend_delivery(twins.notifier, delivery_id, "op-1", "ops-user")
    with pytest.raises(Conflict):
        await resend_delivery(twins.notifier, delivery_id, "op-1", "ops-user")  # the same request, once

    assert copy.item.resend_of == delivery_id
    assert copy.version == 1
    assert copy.item.delivery.status is DeliveryStatus.PENDING
    assert copy.item.delivery.delivery_id in twins.notifier.planned_now
    assert twins.audit_actions(DELIVERIES) == ["delivery.resent"]


async def test_an_open_delivery_or_an_inbox_entry_is_not_resent() -> None:
    twins = await seeded()
    delivery_id = await delivered_order(twins)
    [inbox] = await twins.notifier.repos.deliveries.find({"channel": "inbox", "partner_id": COLLEGE})

    with pytest.raises(Conflict) as still_open:
        await resend_delivery(twins.notifier, delivery_id, "op-2", "ops-user")
    with pytest.raises(DomainError) as inbox_entry:
        await resend_delivery(twins.notifier, inbox.item.delivery.delivery_id, "op-3", "ops-user")

    assert still_open.value.code == "delivery.not_final"
    assert inbox_entry.value.code == "delivery.resend_inbox"
    assert twins.audit_actions(DELIVERIES) == []
