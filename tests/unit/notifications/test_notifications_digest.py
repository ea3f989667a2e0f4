from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

from alliance_notifications.domain.default_rules import DEFAULT_RULES
from alliance_notifications.domain.digest import (
    DigestEntry,
    build_daily_digests,
    next_digest_at,
    plan_digest_delivery,
    render_digest,
)
from alliance_notifications.domain.recipients import Locale
from alliance_notifications.domain.routing import Disposition, plan_deliveries
from alliance_notifications.domain.templates import RenderedMessage, TemplateRenderer
from alliance_shared.contract.notifications import Channel
from tests.unit.notifications.notifications_support import NOW, directory, example

RENDERER = TemplateRenderer()


def digest_entries(short_name: str, event_id: str, now: datetime) -> list[DigestEntry]:
    event_type, payload = example(short_name)
    plans = plan_deliveries(event_type, event_id, payload, directory(), DEFAULT_RULES, {}, now)
    return [DigestEntry.from_plan(p, payload) for p in plans if p.disposition is Disposition.DIGEST]


def test_digest_only_events_are_grouped_per_recipient_oldest_first() -> None:
    entries = [
        *digest_entries("funding.programme.closed", "evt-2", NOW + timedelta(hours=2)),
        *digest_entries("funding.programme.opened", "evt-1", NOW),
        *digest_entries("funding.tranche.requested", "evt-3", NOW + timedelta(hours=1)),
    ]

    digests = {d.recipient_id: d for d in build_daily_digests(entries, NOW + timedelta(hours=20))}

    # The funding officers follow the programme windows in their digest too.
    assert set(digests) == {"partner:col-001", "partner:ent-042", "member:officer-zhang"}
    assert [e.event_id for e in digests["member:officer-zhang"].entries] == ["evt-1", "evt-2"]
    assert [e.event_id for e in digests["partner:col-001"].entries] == ["evt-1", "evt-3", "evt-2"]
    assert [e.event_id for e in digests["partner:ent-042"].entries] == ["evt-1", "evt-2"]
    assert digests["partner:ent-042"].locale is Locale.EN


def test_the_digest_id_is_one_per_recipient_and_local_day() -> None:
    entries = digest_entries("funding.programme.opened", "evt-1", NOW)
    late_evening_in_berlin = datetime(2026, 5, 6, 21, 0, tzinfo=UTC)  # 23:00 in Berlin, 05:00 on the 7th in Shanghai

    first = build_daily_digests(entries, late_evening_in_berlin)
    again = build_daily_digests(entries, late_evening_in_berlin + timedelta(minutes=30))

    college = next(d for d in first if d.recipient_id == "partner:col-001")
    enterprise = next(d for d in first if d.recipient_id == "partner:ent-042")
    assert college.digest_id == "digest:partner:col-001:2026-05-07"
    assert enterprise.digest_date == date(2026, 5, 6)  # still the evening before in Berlin
    assert [d.digest_id for d in first] == [d.digest_id for d in again]


def test_digests_render_in_the_recipients_language() -> None:
    entries = [
        *digest_entries("funding.programme.opened", "evt-1", NOW),
        *digest_entries("funding.programme.closed", "evt-2", NOW + timedelta(hours=1)),
    ]
    digests = {d.recipient_id: d for d in build_daily_digests(entries, NOW + timedelta(hours=16))}

    zh = render_digest(digests["partner:col-001"], RENDERER)
    en = render_digest(digests["partner:ent-042"], RENDERER)

    assert isinstance(zh, RenderedMessage)
    assert isinstance(en, RenderedMessage)
    assert zh.subject == "联盟平台每日摘要（2026-05-07，共 2 条）"
    assert "1. 资助项目开始受理申报：2026 Shenzhen industry-education integration fund" in zh.body
    assert "2. 资助项目已停止受理申报（prg-2026-sz）" in zh.body
    assert en.subject == "Alliance platform daily digest for 2026-05-07 (2 notices)"
    assert "1. Fund programme open for applications" in en.body


def test_an_entry_whose_template_fails_still_appears_in_the_digest() -> None:
    [entry, *_] = digest_entries("funding.programme.opened", "evt-1", NOW)
    broken = entry.model_copy(update={"payload": {}})
    [digest] = build_daily_digests([broken], NOW)

    rendered = render_digest(digest, RENDERER)

    assert isinstance(rendered, RenderedMessage)
    assert "org.coopalliance.funding.programme.opened.v1 (evt-1)" in rendered.body


def test_the_digest_is_sent_as_one_email_with_a_stable_key() -> None:
    [digest, *_] = build_daily_digests(digest_entries("funding.programme.opened", "evt-1", NOW), NOW)

    plan = plan_digest_delivery(digest, None, NOW)

    assert plan.channel is Channel.EMAIL
    assert plan.delivery_key == f"{digest.digest_id}|{digest.recipient_id}|email"
    assert plan.disposition is Disposition.SEND
    assert plan.address == digest.address


def test_the_next_digest_is_at_eight_local_time() -> None:
    assert next_digest_at(NOW, "Asia/Shanghai") == datetime(2026, 5, 7, 0, 0, tzinfo=UTC)
    assert next_digest_at(NOW, "Europe/Berlin") == datetime(2026, 5, 7, 6, 0, tzinfo=UTC)
    assert next_digest_at(datetime(2026, 5, 6, 5, 0, tzinfo=UTC), "Europe/Berlin") == datetime(
        2026, 5, 6, 6, 0, tzinfo=UTC
    )


def test_officers_and_supervisors_get_their_overview_events_in_the_digest_and_inbox() -> None:
    from alliance_notifications.domain.default_rules import DEFAULT_RULES
    from alliance_notifications.domain.routing import Disposition, plan_deliveries
    from alliance_shared.contract.notifications import Channel
    from tests.unit.notifications.notifications_support import NOW, directory, example

    for short_name, member in (
        ("funding.tranche.paid", "member:officer-zhang"),
        ("funding.programme.opened", "member:officer-zhang"),
        ("evaluation.result.completed", "member:supervisor-chen"),
        ("evaluation.rectification.closed", "member:supervisor-chen"),
    ):
        event_type, payload = example(short_name)
        plans = plan_deliveries(event_type, "evt-9", payload, directory(), DEFAULT_RULES, {}, NOW)
        mine = {p.channel: p.disposition for p in plans if p.recipient_id == member}
        assert mine == {Channel.EMAIL: Disposition.DIGEST, Channel.INBOX: Disposition.SEND}, short_name
