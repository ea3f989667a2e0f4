"""Two replicas of every consuming service share its consumer group: the broker splits each
topic's partitions between them, both consume records, and nothing is applied twice. Then
one replica of each is killed with SIGKILL in the middle of the load; the survivor takes
over its partitions and the totals are still exact.

The load is the platform story (colleges, enterprises, three agreements, a programme with
awards, college reports on two colleges' topics, a mid-term and an annual evaluation, an
appeal, tranches changed and paid, notifications by inbox, e-mail and webhook) told through
the first replicas' HTTP APIs, while the two colleges' systems keep publishing reports in
the background. The event topics and the college topics have three partitions on the
local stack (the `replicas` fixture raises any event topic with fewer).
"""

from __future__ import annotations

import asyncio
from collections import Counter
from datetime import date
from functools import partial
from pathlib import Path
from typing import Any

import httpx
import pytest

from alliance_devstack.demo.access import PlatformAccess
from alliance_devstack.demo.story import (
    ADMIN,
    AUDITOR,
    H1,
    H2,
    OPS,
    SUPERVISOR,
    Facts,
    Story,
    credit_code,
    wait_until,
)
from alliance_devstack.provision import Infrastructure
from alliance_devstack.services import Platform, ServiceProcess, prefix_of
from alliance_shared.contract import college
from alliance_shared.contract.envelope import CloudEvent, EnvelopeError, from_kafka, to_kafka
from alliance_shared.contract.topics import FUNDING_EVENTS, SERVICE_TOPICS, college_reports_topic
from alliance_shared.messaging.kafka import partitions_of
from tests.support.kafka_io import Record, group_assignment, read_topic
from tests.system.conftest import platform_access

pytestmark = [pytest.mark.infra, pytest.mark.timeout(600)]

#: Batches of reports a college system publishes in the background before the kill (at
#: most: it may still be at them when the kill comes) and after it, their size and the pause
#: between them (bounded: the local engine scans, and the machine is shared).
BATCHES_BEFORE_KILL = 6
BATCHES_AFTER_KILL = 4
REPORTS_PER_PUBLISH = 10
PUBLISH_PAUSE_S = 1.0
#: Reports the story itself publishes per agreement and half-year (Story.reports_for).
STORY_REPORTS = 12
#: The story step after which both replicas are seen at work and the second ones are killed:
#: the colleges' reports are still arriving, both evaluations, the appeal, the tranche changes
#: they cause and their notifications are left to the survivors.
KILL_AFTER = "college_reports"
#: How long a replica that has consumed nothing is given before a bystander registration.
NUDGE_PAUSE_S = 5.0
TRANCHE_CHANGES = ("org.coopalliance.funding.tranche.eligible.v1", "org.coopalliance.funding.tranche.withheld.v1")
#: Each service's one consumer (one subscription) makes one member of its group per process.
SERVICES = tuple(SERVICE_TOPICS)

Partitions = set[tuple[str, int]]


class Drill:
    """The story told through the first replicas, with two colleges publishing reports in
    the background from the moment their agreements exist; in its middle, the shared
    partitions are checked and the second replicas killed."""

    def __init__(self, replicas: tuple[Platform, Platform], infra: Infrastructure, access: PlatformAccess) -> None:
        self.first, self.second = replicas
        self.infra, self.access = infra, access
        self.story = Story(access, lambda line: None, self.interlude)
        self.background: dict[str, int] = {}
        self.publishers: list[asyncio.Task[None]] = []
        self.killed = asyncio.Event()
        self.shares_before_kill: dict[str, list[Partitions]] = {}
        self.consumed_before_kill: dict[str, int] = {}
        self.bystanders = 0

    @property
    def facts(self) -> Facts:
        return self.story.facts

    async def tell(self) -> None:
        # Both replicas of each service in their group before the first event: else the
        # first to join may consume the story's opening alone and the second hold only
        # partitions already read.
        for name in SERVICES:
            event_topics = {
                (topic, partition)
                for topic in SERVICE_TOPICS[name].consumes
                for partition in await partitions_of(self.infra.kafka_admin, topic)
            }
            await wait_for_group(self.infra, self.first[name], 2, event_topics)
        try:
            await self.story.tell()
        except BaseException:
            for publisher in self.publishers:  # a story cut short leaves no college publishing on
                publisher.cancel()
            await asyncio.gather(*self.publishers, return_exceptions=True)
            raise
        await asyncio.gather(*self.publishers)

    async def interlude(self, step: str) -> None:
        if step == "agreements":
            self.publishers = [
                asyncio.create_task(self.publish_in_background(agreement, college_key))
                for agreement, college_key in (("A1", "college-szpu"), ("A2", "college-gdlg"))
            ]
        elif step == KILL_AFTER:
            await self.see_both_at_work()
            for name in SERVICES:
                await asyncio.to_thread(self.second[name].kill)
            self.killed.set()

    async def see_both_at_work(self) -> None:
        """Each replica holds partitions of its group of its own and consumed records."""
        for name in SERVICES:
            self.shares_before_kill[name] = await wait_for_group(
                self.infra, self.first[name], 2, await self.subscribed_partitions(name)
            )
            # A replica may hold only partitions nothing reached yet: the background reports,
            # keyed apart, reach every partition of the colleges' topics soon; a bystander
            # partner registered now and then does the same for the registry topic every
            # service reads (its id is a new key, on a partition of its own choosing).
            await wait_until(partial(self.both_consumed_or_nudge, name), f"both {name} replicas to consume records")
            self.consumed_before_kill[name] = await consumed(self.first[name])

    async def both_consumed_or_nudge(self, name: str) -> bool:
        if all([await consumed(replica[name]) > 0 for replica in (self.first, self.second)]):
            return True
        await asyncio.sleep(NUDGE_PAUSE_S)
        if all([await consumed(replica[name]) > 0 for replica in (self.first, self.second)]):
            return True
        await self.register_bystander()
        return False

    async def register_bystander(self) -> None:
        self.bystanders += 1
        await self.access.call(
            "registry",
            "POST",
            "/partners",
            ADMIN,
            json_body={
                "kind": "enterprise",
                "name_zh": f"旁观企业{self.bystanders}号",
                "credit_code": credit_code(),
                "region_code": "440305",
                "sector_code": "C34",
                "enterprise": {"size": "small", "headcount": 40},
                "address": "深圳市南山区",
                "contacts": [
                    {
                        "name": "旁观联络人",
                        "email": f"bystander{self.bystanders}.{self.story.run}@demo.coopalliance.local",
                        "phone": "+86 755 2601 8899",
                        "position": "cooperation office",
                    }
                ],
            },
            expect=(201,),
        )

    async def subscribed_partitions(self, service: str) -> Partitions:
        """The partitions of the topics ``service`` reads (for evaluation, the story's
        colleges' reports topics too, which it finds by pattern)."""
        access = SERVICE_TOPICS[service]
        topics = list(access.consumes)
        if access.consumes_college_reports:
            topics += [college_reports_topic(self.facts.partners[key]) for key in ("college-szpu", "college-gdlg")]
        found = {topic: await partitions_of(self.infra.kafka_admin, topic) for topic in topics}
        assert all(len(partitions) >= 2 for partitions in found.values()), found  # one partition feeds one member
        return {(topic, partition) for topic, partitions in found.items() for partition in partitions}

    async def publish_in_background(self, agreement: str, college_key: str) -> None:
        """A college system placing students for ``agreement`` in small batches, before and
        after the kill, once evaluation knows the agreement (it refuses reports for others)."""
        agreement_id, college_id = self.facts.agreements[agreement], self.facts.partners[college_key]
        enterprise_id = self.facts.partners["enterprise-pengcheng" if agreement == "A1" else "enterprise-huanan"]

        async def known() -> bool:
            found = await self.access.call(
                "evaluation", "GET", f"/agreements/{agreement_id}", SUPERVISOR, expect=(200, 404)
            )
            return found.status_code == 200 and found.json().get("status") == "active"

        await wait_until(known, f"evaluation to know {agreement} as active")
        for batch in range(BATCHES_BEFORE_KILL + BATCHES_AFTER_KILL):
            if batch == BATCHES_BEFORE_KILL:
                await self.killed.wait()
            day = date(H1[0].year, 1 + batch % 6, 1)
            payloads = [
                college.InternshipPlaced(
                    report_id=f"BG-{agreement_id}-{batch}-{i}",
                    agreement_id=agreement_id,
                    college_id=college_id,
                    occurred_on=day,
                    student_ref=f"BG{batch}-{i}",
                    enterprise_id=enterprise_id,
                    post="装配钳工",
                    start_date=day,
                    planned_months=3,
                )
                for i in range(REPORTS_PER_PUBLISH)
            ]
            # Keyed by report, not by agreement, so that they reach every partition of the topic.
            records = [to_kafka(CloudEvent.wrap(payload, "college-sis")) for payload in payloads]
            keyed = [
                (payload.report_id.encode(), value, headers)
                for payload, (_, value, headers) in zip(payloads, records, strict=True)
            ]
            await self.access.publish_raw(college_id, keyed)
            self.background[agreement] = self.background.get(agreement, 0) + len(payloads)
            await asyncio.sleep(PUBLISH_PAUSE_S)


def consumer_group(service: ServiceProcess) -> str:
    return service.env[prefix_of(service.name) + "KAFKA_CONSUMER_GROUP"]


async def wait_for_group(
    infra: Infrastructure, service: ServiceProcess, members: int, wanted: Partitions
) -> list[Partitions]:
    """The assignments of a stable group of ``members`` members, each with partitions of its
    own, together holding ``wanted`` (a rebalance after a join, a death or a new college
    topic may still be under way)."""
    shares: list[Partitions] = []

    async def settled() -> bool:
        nonlocal shares
        assignment = await asyncio.to_thread(group_assignment, infra.kafka_admin, consumer_group(service))
        shares = list((assignment or {}).values())
        return len(shares) == members and all(shares) and wanted <= set().union(*shares)

    await wait_until(settled, f"{service.name}'s group to settle on {members} member(s)")
    return shares


async def consumed(service: ServiceProcess) -> int:
    """Records the process consumed (any outcome), from its /metrics on the ops port."""
    async with httpx.AsyncClient(base_url=service.ops_url, timeout=30.0) as ops:
        page = await ops.get("/metrics")
    page.raise_for_status()
    return int(
        sum(
            float(line.rsplit(" ", 1)[1])
            for line in page.text.splitlines()
            if line.startswith("alliance_events_consumed_total{")
        )
    )


async def assert_reports_counted_once(drill: Drill) -> None:
    expected = {
        ("A1", H1): STORY_REPORTS + drill.background["A1"],
        ("A2", H1): STORY_REPORTS + drill.background["A2"],
        ("A2", H2): STORY_REPORTS,
    }
    for (agreement, window), count in expected.items():

        async def caught_up(agreement: str = agreement, window: tuple[date, date] = window, count: int = count) -> bool:
            return await drill.story.evidence_count(agreement, window) >= count

        await wait_until(caught_up, f"{count} reports of {agreement} as evidence")
        assert await drill.story.evidence_count(agreement, window) == count, (agreement, window)


def assert_money_exact(facts: Facts) -> None:
    assert facts.ledger["consistent"] is True, facts.ledger
    assert facts.ledger["trial_balance"] == 0
    assert facts.budget_execution["paid_minor"] == (1_200_000_00 + 800_000_00) * 7 // 10  # tranches of 30 % + 40 %
    assert facts.tranche_statuses["A1"][:2] == ["paid", "paid"]
    assert facts.tranche_statuses["A2"][:2] == ["paid", "paid"]


async def assert_notified_once(drill: Drill) -> None:
    """One delivery planned per (event, recipient, channel), one mail sent per delivery."""
    deliveries: list[dict[str, Any]] = []
    for partner_id in drill.facts.partners.values():
        response = await drill.access.call(
            "notifications", "GET", "/deliveries", OPS, params={"partner_id": partner_id, "limit": "200"}
        )
        deliveries += response.json()["items"]
        assert response.json().get("next_cursor") is None
    assert deliveries
    planned = Counter((d["event_id"], d["recipient_id"], d["channel"]) for d in deliveries)
    assert max(planned.values()) == 1, [key for key, n in planned.items() if n > 1]
    mails = [m for m in drill.access.mail() if any(drill.story.run in r for r in m.recipients)]
    assert mails
    sent = Counter(m.headers.get("X-Alliance-Delivery-Id") for m in mails)
    assert max(sent.values()) == 1, sent


async def assert_one_tranche_change_per_evaluation(drill: Drill) -> None:
    """Each evaluation result moved each tranche it concerns once: one event id per
    (tranche, change, result) on the funding topic (a republished record repeats its id)."""
    facts = drill.facts
    award_of: dict[str, str] = {}
    for award_id in facts.awards.values():
        found = await drill.access.call("funding", "GET", f"/awards/{award_id}", AUDITOR)
        award_of.update({tranche["tranche_id"]: award_id for tranche in found.json()["tranches"]})
    expected = {
        (facts.awards[award], change, facts.results[result]["result_id"])
        for award, change, result in (
            ("A1", "eligible", "mid_term/A1"),
            ("A2", "eligible", "mid_term/A2"),
            ("A2", "withheld", "annual/A2"),
            ("A2", "eligible", "rescored/A2"),
        )
    }
    changes: dict[tuple[str, str, str], set[str]] = {}
    read = 0

    def seen() -> set[tuple[str, str, str]]:
        return {(award_of[tranche], change, result) for tranche, change, result in changes}

    def all_seen(records: list[Record]) -> bool:
        nonlocal read
        for record in records[read:]:
            try:
                event = from_kafka(record.key, record.value, list(record.headers))
            except EnvelopeError:
                continue
            data = event.data
            if event.type in TRANCHE_CHANGES and data.get("tranche_id") in award_of and data.get("result_id"):
                change = event.type.rsplit(".", 2)[-2]
                changes.setdefault((data["tranche_id"], change, data["result_id"]), set()).add(event.id)
        read = len(records)
        return seen() >= expected

    await read_topic(drill.infra.kafka_admin, FUNDING_EVENTS, until=all_seen, timeout_s=90.0)
    assert seen() >= expected, (seen(), expected)
    assert all(len(ids) == 1 for ids in changes.values()), changes


async def test_two_replicas_share_partitions_and_apply_nothing_twice(
    replicas: tuple[Platform, Platform], infra: Infrastructure, dev_keys_dir: Path
) -> None:
    first, second = replicas
    assert set(SERVICES) <= set(first.services), "every consuming service is part of this checkout"
    drill = Drill(replicas, infra, platform_access(first, infra, dev_keys_dir))
    try:
        await drill.tell()
    finally:
        await drill.access.close()

    # (a) Before the kill, each replica held partitions of its own and consumed records.
    assert set(drill.shares_before_kill) == set(SERVICES)
    for name, shares in drill.shares_before_kill.items():
        assert len(shares) == 2, (name, shares)
        assert not shares[0] & shares[1], (name, shares)

    # (c) After it, the survivor holds every partition and went on consuming.
    assert not any(second[name].running() for name in SERVICES)
    assert not first.exited()
    for name in SERVICES:
        wanted = await drill.subscribed_partitions(name)
        (alone,) = await wait_for_group(infra, first[name], 1, wanted)
        assert alone >= wanted | set().union(*drill.shares_before_kill[name])
        assert await consumed(first[name]) > drill.consumed_before_kill[name]

    # (b) Nothing applied twice, before or after the kill.
    assert drill.background["A1"] > 0, drill.background
    assert drill.background["A2"] > 0, drill.background
    assert_money_exact(drill.facts)
    await assert_reports_counted_once(drill)
    await assert_notified_once(drill)
    await assert_one_tranche_change_per_evaluation(drill)
