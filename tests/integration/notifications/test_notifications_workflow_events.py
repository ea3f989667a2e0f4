"""Issue #14 item 17 on the real servers: every workflow step that asks someone to act
reaches them, by e-mail (read from the SMTP sink) in their language and in their inbox.

The registry's signing and membership steps are published as the registry publishes
them; the evaluation steps are driven through the evaluation service's HTTP API (its
events are what the notifications service consumes), so the fields recipients are
resolved from — the seated evaluator, the order's issuer, the panel — come from the
producer itself.
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
import pytest_asyncio
from pymongo import AsyncMongoClient

from alliance_devstack.provision import Infrastructure
from alliance_evaluation.app import build_app as build_evaluation
from alliance_notifications.app import build_app as build_notifications
from alliance_shared.contract.topics import REGISTRY_EVENTS
from tests.integration.evaluation.evaluation_support import (
    LAST_YEAR,
    WINDOW_END,
    WINDOW_START,
    agreement_event,
    etag,
    evaluation_settings,
    send,
)
from tests.integration.notifications.notifications_support import (
    contact,
    event_of,
    mails_to,
    new_id,
    notifications_settings,
    partner_registered,
    publish,
    skip_history,
    wait_for,
)
from tests.support.http import bearer, running
from tests.unit.notifications.notifications_support import EXAMPLE_PAYLOADS

pytestmark = pytest.mark.infra

RUN = uuid.uuid4().hex[:8]
COLLEGE, ENTERPRISE = new_id("col"), new_id("ent")
COLLEGE_MAIL, ENTERPRISE_MAIL = f"{COLLEGE}@szpu.example.cn", f"{ENTERPRISE}@example.de"
#: Supervisors: A (zh-CN) sits on the panel; B (en) does not, and orders by hand.
SUP_A, SUP_B, ADMIN, EXPERT = f"sup-a-{RUN}", f"sup-b-{RUN}", f"admin-{RUN}", f"expert-{RUN}"
MAIL = {SUP_A: f"{SUP_A}@jyj.example.cn", SUP_B: f"{SUP_B}@jyj.example.cn", ADMIN: f"{ADMIN}@jyj.example.cn"}


@pytest_asyncio.fixture(scope="module", loop_scope="session")
async def notifications(infra: Infrastructure, dev_keys_dir: Path) -> AsyncIterator[httpx.AsyncClient]:
    settings = notifications_settings(infra, f"workflow_{RUN}", dev_keys_dir)
    await skip_history(infra.kafka_admin, settings.consumer_group)
    async with running(build_notifications(settings)) as http:
        admin = {**bearer(dev_keys_dir, "registry_admin", sub="admin-root"), "If-Match": '"0"'}
        groups = {
            "supervisors": [
                {"member_id": SUP_A, "name": "陈督导", "email": MAIL[SUP_A]},
                {"member_id": SUP_B, "name": "Mary Lee", "email": MAIL[SUP_B], "locale": "en"},
            ],
            "registry_admins": [{"member_id": ADMIN, "name": "Tom Admin", "email": MAIL[ADMIN], "locale": "en"}],
        }
        for group, members in groups.items():
            written = await http.put(f"/role-groups/{group}", json={"members": members}, headers=admin)
            assert written.status_code == 200, written.text
        await publish(
            infra,
            partner_registered(COLLEGE, "college", "深圳职业技术大学", contact("王老师", COLLEGE_MAIL)),
            partner_registered(ENTERPRISE, "enterprise", "鹏城精密", contact("Anna Schmidt", ENTERPRISE_MAIL, "en")),
        )
        mongo: AsyncMongoClient[dict[str, Any]] = AsyncMongoClient(infra.mongo_url, tz_aware=True)
        contacts = mongo[f"notifications_workflow_{RUN}"]["contacts"]

        async def known() -> bool:
            return all([await contacts.find_one({"_id": p}) is not None for p in (COLLEGE, ENTERPRISE)])

        await wait_for(known, what="the partners' contacts")
        await mongo.close()
        yield http


@pytest_asyncio.fixture(scope="module", loop_scope="session")
async def evaluation(infra: Infrastructure, dev_keys_dir: Path) -> AsyncIterator[httpx.AsyncClient]:
    settings = evaluation_settings(infra, f"wf_{RUN}", dev_keys_dir)
    await skip_history(infra.kafka_admin, settings.consumer_group)
    async with running(build_evaluation(settings)) as http:
        yield http


def inbox_of(keys: Path, *, partner_id: str | None = None, member: str | None = None) -> dict[str, str]:
    """A token of the inbox's owner: a partner's user, or the person (a member) themself."""
    if partner_id is not None:
        role = "college" if partner_id.startswith("col") else "enterprise"
        return bearer(keys, role, partner_id=partner_id)
    return bearer(keys, "evaluator" if member == EXPERT else "supervisor", sub=member or "")


async def subjects(http: httpx.AsyncClient, headers: dict[str, str]) -> dict[str, str]:
    """Event type (short) → subject of each inbox entry."""
    listed = await http.get("/inbox", params={"limit": "100"}, headers=headers)
    assert listed.status_code == 200, listed.text
    return {".".join(e["event_type"].split(".")[2:-1]): e["subject"] for e in listed.json()["items"]}


async def wait_for_mail(infra: Infrastructure, address: str, subject_part: str, body_part: str = "") -> str:
    """The body of the mail to ``address`` whose subject contains ``subject_part`` (and body ``body_part``)."""

    def matching() -> list[str]:
        return [m.body for m in mails_to(infra, address) if subject_part in m.subject and body_part in m.body]

    async def arrived() -> bool:
        return bool(matching())

    await wait_for(arrived, what=f"a mail to {address} about {subject_part!r}")
    return matching()[0]


async def test_signing_and_membership_steps_reach_who_must_act_in_their_language(
    infra: Infrastructure, notifications: httpx.AsyncClient, dev_keys_dir: Path
) -> None:
    agreement_id = new_id("agr")
    agreement = {
        **EXAMPLE_PAYLOADS["registry.agreement.drafted"],
        "agreement_id": agreement_id,
        "party_ids": [COLLEGE, ENTERPRISE],
        "college_ids": [COLLEGE],
        "enterprise_ids": [ENTERPRISE],
        "parties": [
            {**p, "partner_id": pid}
            for p, pid in zip(
                EXAMPLE_PAYLOADS["registry.agreement.drafted"]["parties"], (COLLEGE, ENTERPRISE), strict=True
            )
        ],
    }
    signed = {
        **agreement, "party_id": COLLEGE, "signed_party_ids": [COLLEGE], "pending_party_ids": [ENTERPRISE],
    }  # fmt: skip
    membership = {**EXAMPLE_PAYLOADS["registry.membership.changed"], "partner_id": ENTERPRISE}

    await publish(
        infra,
        event_of("registry.agreement.drafted", agreement),
        event_of("registry.agreement.party_signed", signed),
        event_of("registry.agreement.amendment_signed", {**signed, "proposed_version": 2}),
        event_of("registry.membership.changed", membership),
    )

    # Drafted: every party is asked to sign, each in its contact's language.
    assert "请登录联盟控制台核对协议条款" in await wait_for_mail(infra, COLLEGE_MAIL, "请签署合作协议")
    assert "sign it for your organisation" in await wait_for_mail(infra, ENTERPRISE_MAIL, "Please sign")
    # Signed by the college: only the enterprise, still to sign, is asked again.
    await wait_for_mail(infra, ENTERPRISE_MAIL, "awaits your signature")
    await wait_for_mail(infra, ENTERPRISE_MAIL, "An amendment awaits your signature")
    # The membership application: the applicant and the registry admins (who decide it).
    applied = await wait_for_mail(infra, MAIL[ADMIN], "Alliance membership: applied for membership")
    assert "Registry admins: please decide it" in applied
    assert "\u201c我们希望加入联盟，共建数控实训基地\u201d (as written)" in applied
    await wait_for_mail(infra, ENTERPRISE_MAIL, "Alliance membership")

    college_inbox = await subjects(notifications, inbox_of(dev_keys_dir, partner_id=COLLEGE))
    enterprise_inbox = await subjects(notifications, inbox_of(dev_keys_dir, partner_id=ENTERPRISE))
    assert set(college_inbox) == {"registry.agreement.drafted"}  # it signed: not asked again
    assert {
        "registry.agreement.drafted", "registry.agreement.party_signed",
        "registry.agreement.amendment_signed", "registry.membership.changed",
    } <= set(enterprise_inbox)  # fmt: skip
    admin_inbox = await subjects(notifications, bearer(dev_keys_dir, "registry_admin", sub=ADMIN))
    assert set(admin_inbox) == {"registry.membership.changed"}


async def test_evaluation_steps_reach_the_parties_the_evaluators_the_issuer_and_the_supervisors_off_the_panel(
    infra: Infrastructure, notifications: httpx.AsyncClient, evaluation: httpx.AsyncClient, dev_keys_dir: Path
) -> None:
    agreement_id = new_id("agr")
    await send(
        infra,
        REGISTRY_EVENTS,
        [agreement_event(agreement_id, "activated", college_ids=[COLLEGE], enterprise_ids=[ENTERPRISE])],
    )
    sup_a, sup_b = bearer(dev_keys_dir, "supervisor", sub=SUP_A), bearer(dev_keys_dir, "supervisor", sub=SUP_B)

    async def known() -> bool:
        return (await evaluation.get(f"/agreements/{agreement_id}", headers=sup_a)).status_code == 200

    await wait_for(known, what="the agreement in evaluation's read model")

    # A cycle opens: the parties are told, each in its language.
    opened = await evaluation.post(
        "/cycles",
        json={
            "kind": "annual", "name": f"Annual {LAST_YEAR} {RUN}", "agreement_ids": [agreement_id],
            "window_start": str(WINDOW_START), "window_end": str(WINDOW_END),
            "due_at": (datetime.now(UTC) + timedelta(days=30)).isoformat(),
        },
        headers=sup_a,
    )  # fmt: skip
    assert opened.status_code == 201, opened.text
    cycle_id = opened.json()["cycle_id"]
    assert "佐证统计期" in await wait_for_mail(infra, COLLEGE_MAIL, "年度评价已启动")
    assert "Evidence window" in await wait_for_mail(infra, ENTERPRISE_MAIL, "Annual review opened")

    # Panel seats: supervisor A (e-mail, zh-CN) and an expert in no role group (inbox only).
    for evaluator_id, role in ((SUP_A, "supervisor"), (EXPERT, "industry_expert")):
        seated = await evaluation.post(
            f"/cycles/{cycle_id}/panels/{agreement_id}/members",
            json={"evaluator_id": evaluator_id, "role": role},
            headers=sup_a,
        )
        assert seated.status_code == 201, seated.text
    seat_mail = await wait_for_mail(infra, MAIL[SUP_A], f"请为合作协议评分（{agreement_id}）")
    assert "身份：联盟督导" in seat_mail

    async def expert_told() -> bool:
        found = await subjects(notifications, inbox_of(dev_keys_dir, member=EXPERT))
        return "evaluation.panel.member_seated" in found

    await wait_for(expert_told, what="the expert's inbox")
    expert_inbox = await subjects(notifications, inbox_of(dev_keys_dir, member=EXPERT))
    assert expert_inbox["evaluation.panel.member_seated"] == f"请为合作协议评分（{agreement_id}）"

    # The cycle completes; supervisor B orders rectification by hand; the enterprise responds:
    # B — who issued the order — is asked to review it, in English.
    scoring = await evaluation.post(f"/cycles/{cycle_id}/start-scoring", headers={**sup_a, **etag(opened)})
    done = await evaluation.post(f"/cycles/{cycle_id}/complete", headers={**sup_a, **etag(scoring)})
    assert done.status_code == 200, done.text
    (result,) = (await evaluation.get(f"/agreements/{agreement_id}/results", headers=sup_a)).json()["results"]
    ordered = await evaluation.post(
        "/rectifications",
        json={
            "result_id": result["result_id"],
            "items": [{"indicator_code": "COMPOSITE", "requirement": "提交下一学期的实习安排"}],
            "responsible_party_id": ENTERPRISE,
            "due_at": (datetime.now(UTC) + timedelta(days=20)).isoformat(),
        },
        headers=sup_b,
    )
    assert ordered.status_code == 201, ordered.text
    # (completing the failing cycle ordered rectification too: the hand order is the one quoting B)
    await wait_for_mail(
        infra,
        ENTERPRISE_MAIL,
        f"Rectification order for agreement {agreement_id}",
        "The supervisor asks: \u201c提交下一学期的实习安排\u201d (as written)",
    )
    responded = await evaluation.post(
        f"/rectifications/{ordered.json()['order_id']}/response",
        json={"evidence_refs": ["att://rect/plan.pdf"]},
        headers={**inbox_of(dev_keys_dir, partner_id=ENTERPRISE), **etag(ordered)},
    )
    assert responded.status_code == 200, responded.text
    review = await wait_for_mail(infra, MAIL[SUP_B], f"Rectification evidence to review ({ordered.json()['order_id']})")
    assert "close the order if the evidence suffices" in review

    # The college appeals: supervisor B (not on the panel) is asked to decide; A, who sat on it, is not.
    lodged = await evaluation.post(
        f"/results/{result['result_id']}/appeals",
        json={"grounds": "春季学期的实习记录迟报"},
        headers=inbox_of(dev_keys_dir, partner_id=COLLEGE),
    )
    assert lodged.status_code == 201, lodged.text
    appeal_mail = await wait_for_mail(infra, MAIL[SUP_B], f"New appeal to decide ({agreement_id})")
    assert "Grounds: \u201c春季学期的实习记录迟报\u201d (as written)" in appeal_mail
    supervisor_a_inbox = await subjects(notifications, inbox_of(dev_keys_dir, member=SUP_A))
    assert "evaluation.appeal.lodged" not in supervisor_a_inbox
    assert not [m for m in mails_to(infra, MAIL[SUP_A]) if agreement_id in m.subject and "申诉" in m.subject]
