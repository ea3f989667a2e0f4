"""The funding service on the real servers: the whole path from programme to paid tranche
driven by Kafka evaluation events, withholding and re-release, termination and
recovery, duplicate and out-of-order events, replayed transfers, racing approvers and
racing awards against one programme."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import AsyncIterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import httpx
import jwt
import pytest
import pytest_asyncio
from cryptography.hazmat.primitives import serialization
from pymongo import AsyncMongoClient

from alliance_devstack.provision import Infrastructure
from alliance_funding.app import build_app
from alliance_funding.domain.award import Award
from alliance_funding.service import applications, awards, ledger
from alliance_funding.service.deadlines import DeadlinePolicy, check_recovery_deadlines
from alliance_funding.service.ports import Repositories
from alliance_funding.service.reconcile import reconcile_once
from alliance_shared.auth.devtokens import DEFAULT_AUDIENCE, DEFAULT_ISSUER, KEY_ID
from alliance_shared.clock import SystemClock
from alliance_shared.contract.evaluation import ResultCompleted
from alliance_shared.contract.registry import AgreementResumed, AgreementSuspended, AgreementTerminated
from alliance_shared.contract.topics import EVALUATION_EVENTS, FUNDING_EVENTS, REGISTRY_EVENTS, dlq_of
from alliance_shared.persistence.versioned_store import AuditNote
from alliance_shared.testing import ManualClock
from tests.integration.funding.funding_support import (
    TOPICS,
    Actors,
    agreement_activated,
    agreement_event,
    award_for,
    certification_granted,
    funding_settings,
    new_id,
    now,
    open_programme,
    partner_registered,
    rectification,
    result_completed,
    send,
    sibling_agreement,
    wait_for,
    with_etag,
)
from tests.support.http import bearer, running
from tests.support.kafka_io import header, read_topic, skip_history

pytestmark = pytest.mark.infra

RUN = new_id("flow").replace("-", "_")


class World:
    http: httpx.AsyncClient
    repos: Repositories
    db: Any
    who: Actors
    keys: Path
    college: str
    enterprise: str


@pytest_asyncio.fixture(scope="module", loop_scope="session")
async def world(infra: Infrastructure, dev_keys_dir: Path) -> AsyncIterator[World]:
    settings = funding_settings(infra, RUN, dev_keys_dir)
    await skip_history(infra.kafka_admin, settings.consumer_group, TOPICS)
    app = build_app(settings)
    mongo: AsyncMongoClient[dict[str, Any]] = AsyncMongoClient(infra.mongo_url, tz_aware=True)
    async with running(app) as http:
        w = World()
        w.http, w.repos, w.db = http, app.state.repos, mongo[settings.mongo_database]
        w.college, w.enterprise = new_id("col"), new_id("ent")
        w.who = Actors(dev_keys_dir, w.college, w.enterprise)
        w.keys = dev_keys_dir
        await send(
            infra,
            REGISTRY_EVENTS,
            [
                partner_registered(w.college, "college"),
                partner_registered(w.enterprise, "enterprise"),
                certification_granted(w.enterprise),
            ],
        )
        yield w
    await mongo.close()


async def new_agreement(infra: Infrastructure, w: World) -> str:
    agreement_id = new_id("agr")
    await send(infra, REGISTRY_EVENTS, [agreement_activated(agreement_id, w.college, w.enterprise)])

    async def known() -> bool:
        partner = await w.repos.partners.get(w.enterprise)
        return (
            await w.repos.agreements.get(agreement_id) is not None
            and partner is not None
            and bool(partner.item.certifications)
            and await w.repos.partners.get(w.college) is not None
        )

    await wait_for(known)
    return agreement_id


async def tranche_status(w: World, award_id: str, sequence: int) -> str:
    award = (await w.http.get(f"/awards/{award_id}", headers=w.who.officer)).json()
    return str(award["tranches"][sequence - 1]["status"])


async def wait_status(w: World, award_id: str, sequence: int, status: str) -> None:
    async def reached() -> bool:
        return await tranche_status(w, award_id, sequence) == status

    await wait_for(reached)


async def step(w: World, award_id: str, path: str, headers: dict[str, str], body: Any = None) -> httpx.Response:
    current = await w.http.get(f"/awards/{award_id}", headers=w.who.officer)
    return await w.http.post(f"/awards/{award_id}/{path}", json=body, headers=with_etag(headers, current))


async def pay_tranche(w: World, award_id: str, tranche_id: str, bank_reference: str = "ICBC-1") -> None:
    requested = await step(w, award_id, f"tranches/{tranche_id}/request", w.who.officer)
    assert requested.status_code == 200, requested.text
    approved = await step(w, award_id, f"tranches/{tranche_id}/approve", w.who.approver, {})
    assert approved.status_code == 200, approved.text
    paid = await step(w, award_id, f"tranches/{tranche_id}/payment", w.who.officer, {"bank_reference": bank_reference})
    assert paid.status_code == 200, paid.text


async def assert_consistent(w: World, programme_id: str) -> dict[str, Any]:
    verified = await w.http.get(f"/programmes/{programme_id}/ledger/verify", headers=w.who.auditor)
    assert verified.status_code == 200, verified.text
    body = verified.json()
    assert body["consistent"], body
    assert body["trial_balance"] == 0
    assert all(a["in_sync"] for a in body["awards"]), body["awards"]
    return dict(body)


async def test_whole_path_to_paid(infra: Infrastructure, world: World) -> None:
    w = world
    agreement_id = await new_agreement(infra, w)
    programme = await open_programme(w.http, w.who)
    pid = programme["programme_id"]
    award = await award_for(w.http, w.who, pid, agreement_id)
    aid = award["award_id"]
    t1, t2, t3 = (t["tranche_id"] for t in award["tranches"])
    assert [t["status"] for t in award["tranches"]] == ["eligible", "scheduled", "scheduled"]
    assert [t["scheduled_minor"] for t in award["tranches"]] == [90_000, 120_000, 90_000]

    # maker-checker: an officer cannot approve (role), nor can the preparer holding an approver token
    requested = await step(w, aid, f"tranches/{t1}/request", w.who.officer)
    assert requested.status_code == 200, requested.text
    as_officer = await step(w, aid, f"tranches/{t1}/approve", w.who.officer, {})
    assert as_officer.status_code == 403
    same_person = bearer(w.keys, "funding_approver", sub="officer-zhang")  # an approver token for the preparer
    refused = await step(w, aid, f"tranches/{t1}/approve", same_person, {})
    assert refused.status_code == 403, refused.text
    assert refused.json()["code"] == "tranche.maker_checker"
    approved = await step(w, aid, f"tranches/{t1}/approve", w.who.approver, {})
    assert approved.status_code == 200, approved.text
    paid = await step(w, aid, f"tranches/{t1}/payment", w.who.officer, {"bank_reference": "ICBC-20260402-0091"})
    assert paid.status_code == 200, paid.text

    # an evaluation result on Kafka releases the mid-term tranche
    await send(infra, EVALUATION_EVENTS, [result_completed(agreement_id, [w.college, w.enterprise], "good")])
    await wait_status(w, aid, 2, "eligible")
    await pay_tranche(w, aid, t2, "ICBC-2")
    released = await step(w, aid, f"tranches/{t3}/release", w.who.officer)
    assert released.status_code == 200, released.text
    await pay_tranche(w, aid, t3, "ICBC-3")

    ledger_view = (await w.http.get(f"/programmes/{pid}/ledger", headers=w.who.approver)).json()
    assert ledger_view["execution"]["paid_minor"] == 300_000
    assert ledger_view["execution"]["available_minor"] == 700_000
    await assert_consistent(w, pid)

    mine = (await w.http.get("/awards", headers=w.who.enterprise)).json()["items"]  # a party sees it
    assert aid in {a["award_id"] for a in mine}
    first_page = (await w.http.get("/applications?limit=1", headers=w.who.auditor)).json()
    assert len(first_page["items"]) == 1
    if first_page["next_cursor"]:
        second = await w.http.get(f"/applications?limit=1&cursor={first_page['next_cursor']}", headers=w.who.auditor)
        assert second.json()["items"][0]["application_id"] != first_page["items"][0]["application_id"]
    history = await w.http.get(f"/awards/{aid}/money-history", headers=w.who.college)
    assert [r["kind"] for r in history.json()["rows"]] == ["commit"] + ["disburse", "pay"] * 3

    def ours(records: list[Any]) -> list[str]:
        return [header(r, "ce_type") or "" for r in records if json.loads(r.value or b"{}").get("award_id") == aid]

    records = await read_topic(
        infra.kafka_admin,
        FUNDING_EVENTS,
        until=lambda rs: ours(rs).count("org.coopalliance.funding.tranche.paid.v1") >= 3,
    )
    types = ours(records)
    assert types.count("org.coopalliance.funding.tranche.paid.v1") == 3
    assert "org.coopalliance.funding.award.granted.v1" in types


async def test_withhold_and_release_again(infra: Infrastructure, world: World) -> None:
    w = world
    agreement_id = await new_agreement(infra, w)
    pid = (await open_programme(w.http, w.who))["programme_id"]
    award = await award_for(w.http, w.who, pid, agreement_id)
    aid = award["award_id"]
    parties = [w.college, w.enterprise]
    await send(infra, EVALUATION_EVENTS, [result_completed(agreement_id, parties, "pass")])
    await wait_status(w, aid, 2, "eligible")
    # prepared, then a failing result withholds it and voids the preparation
    assert (
        await step(w, aid, f"tranches/{award['tranches'][1]['tranche_id']}/request", w.who.officer)
    ).status_code == 200
    await send(infra, EVALUATION_EVENTS, [result_completed(agreement_id, parties, "fail")])
    await wait_status(w, aid, 2, "withheld")
    current = (await w.http.get(f"/awards/{aid}", headers=w.who.officer)).json()
    assert current["tranches"][1]["prepared_by"] is None
    assert current["tranches"][0]["status"] == "eligible"  # an evaluation holds only evaluation tranches
    # an overdue rectification adds a second hold; a pass alone is not enough
    order_id = new_id("rect")
    await send(infra, EVALUATION_EVENTS, [rectification(agreement_id, parties, order_id, closed=False)])

    async def two_holds() -> bool:
        award_now = (await w.http.get(f"/awards/{aid}", headers=w.who.officer)).json()
        return len(award_now["tranches"][1]["holds"]) == 2

    await wait_for(two_holds)
    assert await tranche_status(w, aid, 1) == "withheld"  # an overdue rectification holds every released tranche
    await send(infra, EVALUATION_EVENTS, [result_completed(agreement_id, parties, "good")])

    async def one_hold() -> bool:
        award_now = (await w.http.get(f"/awards/{aid}", headers=w.who.officer)).json()
        return award_now["tranches"][1]["holds"] == [f"rectification:{order_id}"]

    await wait_for(one_hold)
    assert await tranche_status(w, aid, 2) == "withheld"
    await send(infra, EVALUATION_EVENTS, [rectification(agreement_id, parties, order_id, closed=True)])
    await wait_status(w, aid, 2, "eligible")
    assert await tranche_status(w, aid, 1) == "eligible"
    await assert_consistent(w, pid)


async def test_termination_voids_and_recovery_settles(infra: Infrastructure, world: World) -> None:
    w = world
    agreement_id = await new_agreement(infra, w)
    pid = (await open_programme(w.http, w.who))["programme_id"]
    award = await award_for(w.http, w.who, pid, agreement_id)
    aid = award["award_id"]
    t1 = award["tranches"][0]["tranche_id"]
    await pay_tranche(w, aid, t1)  # 90,000 paid
    terminated = await step(
        w,
        aid,
        "terminate",
        w.who.officer,
        {
            "reason": "agreement ended early",
            "recovery_id": "rec-1",
            "recovery_minor": 60_000,
            "recovery_due_at": (now() + timedelta(days=30)).isoformat(),
        },
    )
    assert terminated.status_code == 200, terminated.text
    assert terminated.json()["status"] == "active"  # proposed: the money waits for a second person
    assert terminated.json()["proposed_termination"]["proposed_by"] == "officer-zhang"
    as_officer = await step(w, aid, "terminate/approve", w.who.officer2)
    assert as_officer.status_code == 403, as_officer.text  # an officer is not an approver
    approved = await step(w, aid, "terminate/approve", w.who.approver)
    assert approved.status_code == 200, approved.text
    assert approved.json()["voided_minor"] == 210_000
    figures = (await w.http.get(f"/programmes/{pid}/ledger", headers=w.who.auditor)).json()["execution"]
    assert figures["available_minor"] == 910_000
    assert figures["recovery_receivable_minor"] == 60_000
    assert figures["paid_minor"] == 30_000
    too_much = await step(
        w,
        aid,
        "recoveries/rec-1/settlements",
        w.who.officer,
        {"settlement_id": "s-0", "method": "repayment", "amount_minor": 60_001, "bank_reference": "BOC-1"},
    )
    assert too_much.status_code == 422
    for sid, amount in (("s-1", 20_000), ("s-2", 40_000)):
        settled = await step(
            w,
            aid,
            "recoveries/rec-1/settlements",
            w.who.officer,
            {"settlement_id": sid, "method": "repayment", "amount_minor": amount, "bank_reference": f"BOC-{sid}"},
        )
        assert settled.status_code == 200, settled.text
    figures = (await w.http.get(f"/programmes/{pid}/ledger", headers=w.who.auditor)).json()["execution"]
    assert figures["recovered_minor"] == 60_000
    assert figures["recovery_receivable_minor"] == 0
    await assert_consistent(w, pid)
    # nothing in flight: the programme can be closed and finalised with its figures
    current = await w.http.get(f"/programmes/{pid}", headers=w.who.officer)
    closed = await w.http.post(
        f"/programmes/{pid}/close", json={"reason": "window over"}, headers=with_etag(w.who.officer, current)
    )
    assert closed.status_code == 200, closed.text
    finalised = await w.http.post(f"/programmes/{pid}/finalise", headers=with_etag(w.who.officer, closed))
    assert finalised.status_code == 200, finalised.text
    assert finalised.json()["status"] == "finalised"
    by_mode = (await w.http.get("/reports/budget-execution?by=mode", headers=w.who.approver)).json()["rows"]
    assert {"internship_base", "order_class"} <= {row["mode"] for row in by_mode}
    by_region = (await w.http.get("/reports/budget-execution?by=region", headers=w.who.approver)).json()["rows"]
    assert "440305" in {row["region"] for row in by_region}
    report = await w.http.get("/reports/budget-execution?by=programme&format=csv", headers=w.who.auditor)
    assert report.status_code == 200
    assert pid in report.text
    xlsx = await w.http.get("/reports/tranche-pipeline?format=xlsx", headers=w.who.officer)
    assert xlsx.status_code == 200
    assert xlsx.content[:2] == b"PK"


async def test_recovery_offset_against_a_later_tranche(infra: Infrastructure, world: World) -> None:
    w = world
    agreement_id = await new_agreement(infra, w)
    pid = (await open_programme(w.http, w.who))["programme_id"]
    award = await award_for(w.http, w.who, pid, agreement_id)
    aid = award["award_id"]
    t1, _, t3 = (t["tranche_id"] for t in award["tranches"])
    await pay_tranche(w, aid, t1)
    ordered = await step(
        w,
        aid,
        "recoveries",
        w.who.officer,
        {
            "recovery_id": "rec-o",
            "amount_minor": 10_000,
            "reason": "ineligible spend",
            "due_at": (now() + timedelta(days=9)).isoformat(),
        },
    )
    assert ordered.status_code == 200, ordered.text
    approved = await step(w, aid, "recoveries/rec-o/approve", w.who.approver)
    assert approved.status_code == 200, approved.text
    assert (await step(w, aid, f"tranches/{t3}/release", w.who.officer)).status_code == 200
    assert (await step(w, aid, f"tranches/{t3}/request", w.who.officer)).status_code == 200
    assert (await step(w, aid, f"tranches/{t3}/approve", w.who.approver, {})).status_code == 200
    offset = await step(
        w,
        aid,
        "recoveries/rec-o/settlements",
        w.who.officer,
        {"settlement_id": "off-1", "method": "offset", "amount_minor": 10_000, "tranche_id": t3},
    )
    assert offset.status_code == 200, offset.text
    paid = await step(w, aid, f"tranches/{t3}/payment", w.who.officer, {"bank_reference": "ICBC-9"})
    assert paid.status_code == 200, paid.text
    assert paid.json()["tranches"][2]["paid_minor"] == 80_000
    await assert_consistent(w, pid)


async def test_duplicate_and_out_of_order_events(infra: Infrastructure, world: World) -> None:
    w = world
    agreement_id = await new_agreement(infra, w)
    pid = (await open_programme(w.http, w.who))["programme_id"]
    aid = (await award_for(w.http, w.who, pid, agreement_id))["award_id"]
    parties = [w.college, w.enterprise]
    newest_pass = result_completed(agreement_id, parties, "good", at=now())
    older_fail = result_completed(agreement_id, parties, "fail", at=now() - timedelta(days=1))
    # the same event three times, then an older result arriving late
    await send(infra, EVALUATION_EVENTS, [newest_pass, newest_pass, newest_pass, older_fail])
    marker = new_id("rect")
    await send(infra, EVALUATION_EVENTS, [rectification(agreement_id, parties, marker, closed=True)])

    async def marker_seen() -> bool:
        view = await w.repos.evaluations.get(agreement_id)
        return view is not None and marker in view.item.closed_order_ids

    await wait_for(marker_seen)
    award = await w.repos.awards.get(aid)
    assert award is not None
    assert award.item.tranches[1].status == "eligible"  # released once; the late, older fail withheld nothing
    history = await w.repos.awards.store.history(aid)
    assert len(history) == 2  # granted, then released once — the duplicates wrote nothing
    view = await w.repos.evaluations.get(agreement_id)
    assert view is not None
    assert view.item.latest_grade == "good"
    # an overdue arriving after its order was closed holds nothing
    await send(infra, EVALUATION_EVENTS, [rectification(agreement_id, parties, marker, closed=False)])
    await asyncio.sleep(1.0)
    view = await w.repos.evaluations.get(agreement_id)
    assert view is not None
    assert marker not in view.item.overdue_order_ids


async def test_same_transfer_id_twice_applies_once(infra: Infrastructure, world: World) -> None:
    """A crash between the ledger posting and the award save, then the command retried."""
    w = world
    agreement_id = await new_agreement(infra, w)
    pid = (await open_programme(w.http, w.who))["programme_id"]
    award_json = await award_for(w.http, w.who, pid, agreement_id)
    aid, t1 = award_json["award_id"], award_json["tranches"][0]["tranche_id"]
    assert (await step(w, aid, f"tranches/{t1}/request", w.who.officer)).status_code == 200
    loaded = await w.repos.awards.get(aid)
    assert loaded is not None
    crashed: Award = loaded.item
    crashed.approve_tranche(
        t1, approved_minor=90_000, release_remainder=False, reason=None, now=now(), approver_id="approver-li"
    )
    first = await ledger.post(w.repos, pid, crashed.transfers)
    assert first.applied
    again = await ledger.post(w.repos, pid, crashed.transfers)
    assert not again.applied  # the same transfer id: applied once
    # the book is ahead of the award now: verify says so, naming the award
    verified = (await w.http.get(f"/programmes/{pid}/ledger/verify", headers=w.who.auditor)).json()
    assert verified["consistent"]
    assert [a["in_sync"] for a in verified["awards"] if a["award_id"] == aid] == [False]
    # a different amount under the same transfer id is refused
    other = await step(w, aid, f"tranches/{t1}/approve", w.who.approver, {"approved_minor": 50_000, "reason": "less"})
    assert other.status_code == 409, other.text
    assert other.json()["code"] == "ledger.transfer_id_reused"
    # the retried command completes the award without moving money again
    retried = await step(w, aid, f"tranches/{t1}/approve", w.who.approver, {})
    assert retried.status_code == 200, retried.text
    body = await assert_consistent(w, pid)
    assert body["stored_balances"][f"award:{aid}:disbursed"] == 90_000


async def test_two_approvers_racing_one_wins(infra: Infrastructure, world: World) -> None:
    w = world
    agreement_id = await new_agreement(infra, w)
    pid = (await open_programme(w.http, w.who))["programme_id"]
    award_json = await award_for(w.http, w.who, pid, agreement_id)
    aid, t1 = award_json["award_id"], award_json["tranches"][0]["tranche_id"]
    requested = await step(w, aid, f"tranches/{t1}/request", w.who.officer)
    assert requested.status_code == 200
    outcomes = await asyncio.gather(
        *(
            w.http.post(f"/awards/{aid}/tranches/{t1}/approve", json={}, headers=with_etag(h, requested))
            for h in (w.who.approver, w.who.approver2, w.who.approver, w.who.approver2)
        )
    )
    codes = sorted(r.status_code for r in outcomes)
    assert codes.count(200) == 1, [r.text for r in outcomes]
    assert all(c in (409, 412) for c in codes if c != 200), codes
    body = await assert_consistent(w, pid)
    assert body["stored_balances"][f"award:{aid}:disbursed"] == 90_000


async def test_concurrent_awards_never_overcommit(infra: Infrastructure, world: World) -> None:
    w = world
    agreement_id = await new_agreement(infra, w)
    pid = (await open_programme(w.http, w.who))["programme_id"]  # 1,000,000 available, cap 500,000
    reviewed = []
    for _ in range(4):
        draft = await w.http.post(
            "/applications",
            json={
                "programme_id": pid,
                "agreement_id": await sibling_agreement(w.repos, agreement_id),
                "requested_minor": 400_000,
                "cofunding_minor": 400_000,
                "budget_lines": [{"category": "training_base_construction", "amount_minor": 400_000}],
            },
            headers=w.who.college,
        )
        app_id = draft.json()["application_id"]
        submitted = await w.http.post(f"/applications/{app_id}/submit", headers=with_etag(w.who.college, draft))
        review = await w.http.post(f"/applications/{app_id}/review", headers=with_etag(w.who.officer, submitted))
        assert review.status_code == 200, review.text
        reviewed.append((app_id, review))
    outcomes = await asyncio.gather(
        *(
            w.http.post(
                f"/applications/{app_id}/decision",
                json={"decision": "approve", "reason": "ok", "approved_minor": 400_000},
                headers=with_etag(w.who.officer, review),
            )
            for app_id, review in reviewed
        )
    )
    assert [r.status_code for r in outcomes] == [200] * 4, [r.text for r in outcomes]  # nothing committed yet
    # the second person grants all four at once: the book lets exactly two commitments through
    grants = await asyncio.gather(
        *(w.http.post(f"/applications/{app_id}/award", headers=w.who.approver) for app_id, _ in reviewed)
    )
    assert sorted(r.status_code for r in grants)[:2] == [200, 200], [r.text for r in grants]
    refused = {r.json()["code"] for r in grants if r.status_code != 200}
    assert refused <= {"ledger.insufficient_funds"}, refused
    granted = (await w.http.get(f"/awards?programme_id={pid}", headers=w.who.auditor)).json()["items"]
    assert len(granted) == 2  # the book let exactly two commitments through
    body = await assert_consistent(w, pid)
    assert body["stored_balances"][f"programme:{pid}:available"] == 200_000
    # an application approved whose award lost the race: granting it later is refused while the money is gone
    for app_id, _ in reviewed:
        if f"awd-{app_id}" not in {a["award_id"] for a in granted}:
            retry = await w.http.post(f"/applications/{app_id}/award", headers=w.who.approver2)
            assert retry.status_code in (409, 422), retry.text


async def test_ineligible_submission_names_every_failed_rule(infra: Infrastructure, world: World) -> None:
    w = world
    agreement_id = await new_agreement(infra, w)
    rules = {
        "lead_partner_kinds": ["enterprise"],
        "require_certified_enterprise": True,
        "require_active_agreement": True,
        "min_grade": "good",
        "region_prefix": "11",
    }
    pid = (await open_programme(w.http, w.who, eligibility=rules))["programme_id"]
    draft = await w.http.post(
        "/applications",
        json={
            "programme_id": pid,
            "agreement_id": agreement_id,
            "requested_minor": 100_000,
            "cofunding_minor": 100_000,
            "budget_lines": [{"category": "equipment", "amount_minor": 100_000}],
        },
        headers=w.who.college,
    )
    assert draft.status_code == 201, draft.text
    refused = await w.http.post(
        f"/applications/{draft.json()['application_id']}/submit", headers=with_etag(w.who.college, draft)
    )
    assert refused.status_code == 422, refused.text
    problem = refused.json()
    assert problem["code"] == "application.ineligible"
    assert {r["code"] for r in problem["failed_rules"]} == {
        "eligibility.partner_kind",
        "eligibility.region",
        "eligibility.min_grade",
    }
    other = await w.http.get(f"/applications/{draft.json()['application_id']}", headers=w.who.enterprise)
    assert other.status_code == 403  # the enterprise is a party but not the applicant


async def test_surcharge_credit_statement_and_carry_forward(infra: Infrastructure, world: World) -> None:
    w = world
    await new_agreement(infra, w)  # makes sure the enterprise and its certificate are known
    year = now().year
    first = await w.http.post(
        "/surcharge-credit-statements",
        json={
            "enterprise_id": w.enterprise,
            "year": year - 1,
            "investments": [{"reference": "INV-1", "made_on": f"{year - 1}-12-01", "amount_minor": 1_000_000}],
            "education_surcharge_due_minor": 100_000,
            "local_education_surcharge_due_minor": 50_000,
        },
        headers=w.who.officer,
    )
    assert first.status_code == 201, first.text
    statement = first.json()["statement"]
    assert statement["lines"][0]["outcome"] == "credited"  # certified since 400 days ago: last December counts
    assert statement["credit_earned_minor"] == 300_000  # 30 %
    assert statement["carried_out_minor"] == 150_000
    second = await w.http.post(
        "/surcharge-credit-statements",
        json={
            "enterprise_id": w.enterprise,
            "year": year,
            "investments": [],
            "education_surcharge_due_minor": 10_000,
            "local_education_surcharge_due_minor": 0,
        },
        headers=w.who.officer,
    )
    assert second.status_code == 201, second.text
    assert second.json()["statement"]["carried_in_minor"] == statement["carried_out_minor"]
    own = await w.http.get(f"/surcharge-credit-statements/{w.enterprise}/{year}", headers=w.who.enterprise)
    assert own.status_code == 200

    def issued(records: list[Any]) -> list[tuple[int, int, int]]:  # (year, version, credit) of the enterprise's
        payloads = [
            json.loads(r.value or b"{}")
            for r in records
            if header(r, "ce_type") == "org.coopalliance.funding.surcharge_statement.issued.v1"
        ]
        return [
            (p["year"], p["statement_version"], p["credit_earned_minor"])
            for p in payloads
            if p["enterprise_id"] == w.enterprise and p["year"] in (year - 1, year)
        ]

    records = await read_topic(infra.kafka_admin, FUNDING_EVENTS, until=lambda rs: len(issued(rs)) >= 2)
    assert issued(records)[:2] == [(year - 1, 1, 300_000), (year, 1, 0)]
    ledger_untouched = await w.http.get("/reports/budget-execution", headers=w.who.auditor)
    assert ledger_untouched.status_code == 200


async def test_award_changed_between_posting_and_save_is_decided_again(
    infra: Infrastructure, world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Another writer saves the award right after our posting: the book must not stay ahead."""
    w = world
    agreement_id = await new_agreement(infra, w)
    pid = (await open_programme(w.http, w.who))["programme_id"]
    award_json = await award_for(w.http, w.who, pid, agreement_id)
    aid = award_json["award_id"]
    t1, _, t3 = (t["tranche_id"] for t in award_json["tranches"])
    assert (await step(w, aid, f"tranches/{t1}/request", w.who.officer)).status_code == 200
    original = ledger.post
    calls = 0

    async def post_then_interfere(*args: Any, **kwargs: Any) -> ledger.PostResult:
        nonlocal calls
        result = await original(*args, **kwargs)
        calls += 1
        if calls == 1:  # between our posting and our award save, someone releases tranche 3
            await awards.release_tranche(w.repos, SystemClock(), aid, t3, "officer-wu")
        return result

    monkeypatch.setattr(ledger, "post", post_then_interfere)

    done = await awards.approve_tranche(
        w.repos,
        SystemClock(),
        aid,
        t1,
        approved_minor=90_000,
        release_remainder=False,
        reason=None,
        approver_id="approver-li",
    )
    monkeypatch.undo()
    assert done.item.tranche(t1).status == "approved"
    assert done.item.tranche(t3).status == "eligible"
    # ours and the interfering release's: decided again on the newest award, the approval
    # asks for the very transfers the book already has, so it is saved without a new posting
    assert calls == 2
    body = await assert_consistent(w, pid)
    assert body["stored_balances"][f"award:{aid}:disbursed"] == 90_000


async def test_reconciling_pass_grants_the_award_a_crash_left_out(infra: Infrastructure, world: World) -> None:
    """A crash right after the approval was saved: the reconciling pass commits and grants once."""
    w = world
    agreement_id = await new_agreement(infra, w)
    pid = (await open_programme(w.http, w.who))["programme_id"]
    draft = await w.http.post(
        "/applications",
        json={
            "programme_id": pid,
            "agreement_id": agreement_id,
            "requested_minor": 200_000,
            "cofunding_minor": 200_000,
            "budget_lines": [{"category": "rd", "amount_minor": 200_000}],
        },
        headers=w.who.college,
    )
    assert draft.status_code == 201, draft.text
    app_id = draft.json()["application_id"]
    submitted = await w.http.post(f"/applications/{app_id}/submit", headers=with_etag(w.who.college, draft))
    review = await w.http.post(f"/applications/{app_id}/review", headers=with_etag(w.who.officer, submitted))
    assert review.status_code == 200, review.text
    # the approval as the use case saves it, then "the process dies" before the award
    loaded = await w.repos.applications.get(app_id)
    assert loaded is not None
    programme = (await w.repos.programmes.get(pid)).item  # type: ignore[union-attr]
    application = loaded.item
    application.approve(
        approved_minor=200_000,
        reason="ok",
        programme=programme,
        available_minor=1_000_000,
        eligibility=await applications.eligibility_snapshot(w.repos, application, now()),
        now=now(),
        actor_id="o",
    )
    await w.repos.applications.save(
        app_id, loaded.version, application, AuditNote("application.approve", "application", app_id)
    )
    # approved by the maker only: the pass never grants without the second person
    assert app_id not in (await reconcile_once(w.repos, SystemClock()))["awards_granted"]
    # the approver's confirmation is saved, then "the process dies" before the commitment
    assert application.approve_award(now(), "approver-li")
    await w.repos.applications.save(
        app_id, loaded.version + 1, application, AuditNote("award.approved", "application", app_id)
    )
    assert await w.repos.awards.get(f"awd-{app_id}") is None
    first = await reconcile_once(w.repos, SystemClock())
    assert app_id in first["awards_granted"]
    granted = await w.repos.awards.get(f"awd-{app_id}")
    assert granted is not None
    assert granted.item.granted_by == "approver-li"
    again = await reconcile_once(w.repos, SystemClock())
    assert app_id not in again["awards_granted"]
    body = await assert_consistent(w, pid)
    assert body["stored_balances"][f"award:awd-{app_id}:committed"] == 200_000


async def test_a_malformed_evaluation_event_is_dead_lettered(infra: Infrastructure, world: World) -> None:
    w = world
    agreement_id = await new_agreement(infra, w)
    event_id = new_id("bad")
    headers = [
        ("ce_id", event_id.encode()),
        ("ce_source", b"evaluation"),
        ("ce_type", ResultCompleted.event_type.encode()),
        ("ce_specversion", b"1.0"),
        ("ce_subject", agreement_id.encode()),
        ("content-type", b"application/json"),
    ]
    bad = json.dumps({"agreement_id": agreement_id, "grade": "superb"}).encode()
    await send(infra, EVALUATION_EVENTS, [(agreement_id.encode(), bad, headers)])
    # the consumer goes on: a good event after it is applied
    await send(infra, EVALUATION_EVENTS, [result_completed(agreement_id, [w.college, w.enterprise], "good")])

    async def applied() -> bool:
        view = await w.repos.evaluations.get(agreement_id)
        return view is not None and view.item.latest_grade == "good"

    await wait_for(applied)
    records = await read_topic(
        infra.kafka_admin,
        dlq_of(EVALUATION_EVENTS),
        until=lambda rs: any(header(r, "ce_id") == event_id for r in rs),
    )
    dead = [r for r in records if header(r, "ce_id") == event_id]
    assert len(dead) == 1
    assert header(dead[0], "dlq_reason")


async def test_an_agreement_that_stops_stops_its_money(infra: Infrastructure, world: World) -> None:
    """Issue #14 item 8: the registry's suspension holds the unpaid tranches with its reason,
    the resumption releases them, a termination holds them again (all through Kafka)."""
    w = world
    agreement_id = await new_agreement(infra, w)
    pid = (await open_programme(w.http, w.who))["programme_id"]
    award = await award_for(w.http, w.who, pid, agreement_id)
    aid = award["award_id"]
    first, final = award["tranches"][0]["tranche_id"], award["tranches"][2]["tranche_id"]
    assert (await step(w, aid, f"tranches/{first}/request", w.who.officer)).status_code == 200

    def stop(kind: type[Any], status: str, **extra: Any) -> Any:
        return agreement_event(kind, agreement_id, w.college, w.enterprise, status=status, **extra)

    await send(infra, REGISTRY_EVENTS, [stop(AgreementSuspended, "suspended", reason="停产整顿")])
    await wait_status(w, aid, 1, "withheld")
    held = (await w.http.get(f"/awards/{aid}", headers=w.who.officer)).json()
    assert held["tranches"][0]["holds"] == ["agreement:suspended"]
    assert held["tranches"][0]["prepared_by"] is None  # the request must be prepared again
    assert held["agreement_hold_reason"] == "停产整顿"
    # a tranche released while the agreement is suspended is held at once
    released = await step(w, aid, f"tranches/{final}/release", w.who.officer)
    assert released.status_code == 200, released.text
    assert released.json()["tranches"][2]["status"] == "withheld"
    refused = await step(w, aid, f"tranches/{first}/request", w.who.officer)
    assert refused.status_code == 409, refused.text

    await send(infra, REGISTRY_EVENTS, [stop(AgreementResumed, "active", reason="整改完成")])
    await wait_status(w, aid, 1, "eligible")
    assert await tranche_status(w, aid, 3) == "eligible"
    resumed = (await w.http.get(f"/awards/{aid}", headers=w.who.officer)).json()
    assert resumed["agreement_hold"] is None

    await send(infra, REGISTRY_EVENTS, [stop(AgreementTerminated, "terminated", reason="企业退出合作")])
    await wait_status(w, aid, 1, "withheld")
    ended = (await w.http.get(f"/awards/{aid}", headers=w.who.officer)).json()
    assert [t["holds"] for t in ended["tranches"]] == [["agreement:terminated"], [], ["agreement:terminated"]]
    assert ended["agreement_hold_reason"] == "企业退出合作"
    await assert_consistent(w, pid)


async def test_one_application_per_agreement_and_programme_and_eligibility_again_at_approval(
    infra: Infrastructure, world: World
) -> None:
    """Issue #14 item 11: a second application of the agreement in the programme is refused
    naming the first (whoever of its parties drafts it); approval checks eligibility again."""
    w = world
    agreement_id = await new_agreement(infra, w)
    pid = (await open_programme(w.http, w.who))["programme_id"]
    body = {
        "programme_id": pid,
        "agreement_id": agreement_id,
        "requested_minor": 300_000,
        "cofunding_minor": 300_000,
        "budget_lines": [{"category": "equipment", "amount_minor": 300_000}],
    }
    first = await w.http.post("/applications", json=body, headers=w.who.college)
    assert first.status_code == 201, first.text
    app_id = first.json()["application_id"]
    racing = await asyncio.gather(*(w.http.post("/applications", json=body, headers=h) for h in [w.who.enterprise] * 3))
    for duplicate in racing:
        assert duplicate.status_code == 409, duplicate.text
        assert duplicate.json()["code"] == "application.duplicate"
        assert duplicate.json()["application_id"] == app_id
        assert app_id in duplicate.json()["detail"]
    listed = await w.http.get("/applications", params={"programme_id": pid}, headers=w.who.officer)
    assert [a["application_id"] for a in listed.json()["items"]] == [app_id]

    submitted = await w.http.post(f"/applications/{app_id}/submit", headers=with_etag(w.who.college, first))
    assert submitted.status_code == 200, submitted.text
    review = await w.http.post(f"/applications/{app_id}/review", headers=with_etag(w.who.officer, submitted))
    eligibility = await w.http.get(f"/applications/{app_id}/eligibility", headers=w.who.officer)
    assert eligibility.json() == {"eligible": True, "failed_rules": []}, eligibility.text
    suspended = agreement_event(
        AgreementSuspended, agreement_id, w.college, w.enterprise, status="suspended", reason="停产整顿"
    )
    await send(infra, REGISTRY_EVENTS, [suspended])

    async def known_suspended() -> bool:
        view = await w.repos.agreements.get(agreement_id)
        return view is not None and view.item.status == "suspended"

    await wait_for(known_suspended)
    # The officer's queue reads the same judgement the approval will make, without deciding anything.
    eligibility = await w.http.get(f"/applications/{app_id}/eligibility", headers=w.who.officer)
    assert eligibility.json()["eligible"] is False, eligibility.text
    assert [r["code"] for r in eligibility.json()["failed_rules"]] == ["eligibility.agreement_active"]
    decided = await w.http.post(
        f"/applications/{app_id}/decision",
        json={"decision": "approve", "reason": "sound plan", "approved_minor": 300_000},
        headers=with_etag(w.who.officer, review),
    )
    assert decided.status_code == 422, decided.text
    assert decided.json()["code"] == "application.ineligible"
    assert [r["code"] for r in decided.json()["failed_rules"]] == ["eligibility.agreement_active"]
    assert (await w.http.get(f"/awards/awd-{app_id}", headers=w.who.officer)).status_code == 404


async def test_every_money_decision_needs_a_second_person(infra: Infrastructure, world: World) -> None:
    """Issue #14 item 9: granting, terminating and ordering a recovery are refused to the
    person who made the decision, even holding the approver's role (server side)."""
    w = world
    maker_as_checker = bearer(w.keys, "funding_approver", sub="officer-zhang")
    agreement_id = await new_agreement(infra, w)
    pid = (await open_programme(w.http, w.who))["programme_id"]
    draft = await w.http.post(
        "/applications",
        json={
            "programme_id": pid,
            "agreement_id": agreement_id,
            "requested_minor": 300_000,
            "cofunding_minor": 300_000,
            "budget_lines": [{"category": "equipment", "amount_minor": 300_000}],
        },
        headers=w.who.college,
    )
    app_id = draft.json()["application_id"]
    submitted = await w.http.post(f"/applications/{app_id}/submit", headers=with_etag(w.who.college, draft))
    review = await w.http.post(f"/applications/{app_id}/review", headers=with_etag(w.who.officer, submitted))
    decided = await w.http.post(
        f"/applications/{app_id}/decision",
        json={"decision": "approve", "reason": "sound plan", "approved_minor": 300_000},
        headers=with_etag(w.who.officer, review),
    )
    assert decided.status_code == 200, decided.text
    assert (await w.http.get(f"/awards/awd-{app_id}", headers=w.who.officer)).status_code == 404  # nothing committed
    refused = await w.http.post(f"/applications/{app_id}/award", headers=maker_as_checker)
    assert refused.status_code == 403, refused.text
    assert refused.json()["code"] == "award.maker_checker"
    book = (await w.http.get(f"/programmes/{pid}/ledger", headers=w.who.auditor)).json()["execution"]
    assert book["committed_minor"] == 0
    granted = await w.http.post(f"/applications/{app_id}/award", headers=w.who.approver)
    assert granted.status_code == 200, granted.text
    assert granted.json()["granted_by"] == "approver-li"
    aid = granted.json()["award_id"]
    await pay_tranche(w, aid, granted.json()["tranches"][0]["tranche_id"])

    recovery = {"recovery_id": "rec-2p", "amount_minor": 10_000, "reason": "ineligible spend"}
    proposed = await step(
        w, aid, "recoveries", w.who.officer, {**recovery, "due_at": (now() + timedelta(days=9)).isoformat()}
    )
    assert proposed.status_code == 200, proposed.text
    assert proposed.json()["recoveries"] == []
    refused = await step(w, aid, "recoveries/rec-2p/approve", maker_as_checker)
    assert (refused.status_code, refused.json()["code"]) == (403, "recovery.maker_checker")
    ordered = await step(w, aid, "recoveries/rec-2p/approve", w.who.approver)
    assert ordered.status_code == 200, ordered.text
    assert ordered.json()["recoveries"][0]["approved_by"] == "approver-li"

    proposed = await step(w, aid, "terminate", w.who.officer, {"reason": "agreement ended early"})
    assert proposed.status_code == 200, proposed.text
    refused = await step(w, aid, "terminate/approve", maker_as_checker)
    assert (refused.status_code, refused.json()["code"]) == (403, "award.maker_checker")
    assert (await w.http.get(f"/awards/{aid}", headers=w.who.officer)).json()["status"] == "active"
    terminated = await step(w, aid, "terminate/approve", w.who.approver2)
    assert terminated.status_code == 200, terminated.text
    assert terminated.json()["status"] == "terminated"
    await assert_consistent(w, pid)


async def test_surcharge_carry_forward_walks_back_over_gap_years_and_a_recomputed_year_cascades(
    infra: Infrastructure, world: World
) -> None:
    """Issue #14 item 12: a statement carries in the newest earlier statement's carry-out
    (no statement in the year between: no investment, nothing offset); recomputing the
    earlier year recomputes the later one."""
    w = world
    enterprise = new_id("ent")
    await send(
        infra, REGISTRY_EVENTS, [partner_registered(enterprise, "enterprise"), certification_granted(enterprise)]
    )

    async def certified() -> bool:
        view = await w.repos.partners.get(enterprise)
        return view is not None and view.item.kind is not None and bool(view.item.certifications)

    await wait_for(certified)
    year = now().year

    async def statement(for_year: int, invested: int, due: int) -> dict[str, Any]:
        investments = [{"reference": "INV-1", "made_on": f"{for_year}-12-01", "amount_minor": invested}]
        answer = await w.http.post(
            "/surcharge-credit-statements",
            json={
                "enterprise_id": enterprise,
                "year": for_year,
                "investments": investments if invested else [],
                "education_surcharge_due_minor": due,
                "local_education_surcharge_due_minor": 0,
            },
            headers=w.who.officer,
        )
        assert answer.status_code == 201, answer.text
        return dict(answer.json())

    first = await statement(year - 1, 1_000_000, 100_000)
    assert first["carried_out_minor"] == 200_000  # 30 % earned, 100,000 offset
    later = await statement(year + 1, 0, 50_000)  # nothing stored for `year`
    assert later["carried_in_from_year"] == year - 1
    assert later["statement"]["carried_in_minor"] == 200_000
    assert later["carried_out_minor"] == 150_000
    await statement(year - 1, 2_000_000, 100_000)  # recomputed: 600,000 earned
    cascaded = await w.http.get(f"/surcharge-credit-statements/{enterprise}/{year + 1}", headers=w.who.officer)
    assert cascaded.json()["statement"]["carried_in_minor"] == 500_000
    assert cascaded.json()["carried_out_minor"] == 450_000
    assert cascaded.json()["statement"]["education_surcharge_due_minor"] == 50_000  # its own inputs kept


async def test_a_kept_remainder_is_released_without_terminating(infra: Infrastructure, world: World) -> None:
    """Issue #14 item 10 (part): the remainder a partial approval kept goes back to the
    programme while the award goes on."""
    w = world
    agreement_id = await new_agreement(infra, w)
    pid = (await open_programme(w.http, w.who))["programme_id"]
    award = await award_for(w.http, w.who, pid, agreement_id)
    aid, t1 = award["award_id"], award["tranches"][0]["tranche_id"]
    assert (await step(w, aid, f"tranches/{t1}/request", w.who.officer)).status_code == 200
    partial = {"approved_minor": 60_000, "release_remainder": False, "reason": "equipment quote lower"}
    assert (await step(w, aid, f"tranches/{t1}/approve", w.who.approver, partial)).status_code == 200
    before = (await w.http.get(f"/programmes/{pid}/ledger", headers=w.who.auditor)).json()["execution"]
    as_officer = await step(w, aid, f"tranches/{t1}/release-remainder", w.who.officer)
    assert as_officer.status_code == 403, as_officer.text
    released = await step(w, aid, f"tranches/{t1}/release-remainder", w.who.approver)
    assert released.status_code == 200, released.text
    assert released.json()["status"] == "active"
    assert released.json()["released_minor"] == 30_000
    after = (await w.http.get(f"/programmes/{pid}/ledger", headers=w.who.auditor)).json()["execution"]
    assert after["available_minor"] == before["available_minor"] + 30_000
    again = await step(w, aid, f"tranches/{t1}/release-remainder", w.who.approver)
    assert (again.status_code, again.json()["code"]) == (422, "tranche.no_remainder_kept")
    await assert_consistent(w, pid)


async def test_an_approval_of_zero_is_refused_never_the_full_amount(infra: Infrastructure, world: World) -> None:
    """Issue #15 item 15: 0 is an amount, not "absent"; without the fix a tranche approved
    at 0 paid its whole scheduled amount."""
    w = world
    agreement_id = await new_agreement(infra, w)
    pid = (await open_programme(w.http, w.who))["programme_id"]
    award = await award_for(w.http, w.who, pid, agreement_id)
    aid, t1 = award["award_id"], award["tranches"][0]["tranche_id"]
    requested = await step(w, aid, f"tranches/{t1}/request", w.who.officer)
    assert requested.status_code == 200, requested.text
    zero = {"approved_minor": 0, "release_remainder": False, "reason": "nothing spent yet"}
    refused = await step(w, aid, f"tranches/{t1}/approve", w.who.approver, zero)
    assert refused.status_code == 422, refused.text
    assert refused.headers["content-type"].startswith("application/problem+json")
    assert refused.json()["code"] == "tranche.approval_not_positive"
    unchanged = await w.http.get(f"/awards/{aid}", headers=w.who.officer)
    assert unchanged.headers["etag"] == requested.headers["etag"]
    assert (unchanged.json()["tranches"][0]["status"], unchanged.json()["tranches"][0]["approved_minor"]) == (
        "requested",
        None,
    )
    absent = await step(w, aid, f"tranches/{t1}/approve", w.who.approver, {})  # absent: the scheduled amount
    assert absent.status_code == 200, absent.text
    assert absent.json()["tranches"][0]["approved_minor"] == 90_000
    await assert_consistent(w, pid)


def forged(keys: Path, **claims: Any) -> dict[str, str]:
    """A token signed with the real dev key, carrying claims of the wrong type."""
    issued = int(time.time())
    base: dict[str, Any] = {"iss": DEFAULT_ISSUER, "aud": DEFAULT_AUDIENCE, "sub": "someone", "iat": issued}
    key = serialization.load_pem_private_key((keys / "signing-key.pem").read_bytes(), password=None)
    token = jwt.encode({**base, "exp": issued + 600, **claims}, key, algorithm="ES256", headers={"kid": KEY_ID})  # type: ignore[arg-type]
    return {"Authorization": f"Bearer {token}"}


@pytest.mark.parametrize(
    "claims",
    [
        {"roles": ["college"], "partner_id": {"$ne": ""}},
        {"roles": ["college"], "partner_id": ["a", "b"]},
        {"roles": ["college"], "partner_id": {"$gt": ""}, "sub": {"$ne": ""}},
        {"roles": ["college"], "partner_id": "col-1\x00"},
    ],
)
async def test_a_claim_used_in_a_query_is_plain_text_or_the_token_is_refused(
    world: World, claims: dict[str, Any]
) -> None:
    """Issue #15 item 15: the applicant filter of GET /applications comes from partner_id;
    a signed token whose claim is an operator document would otherwise list everyone's."""
    listed = await world.http.get("/applications", headers=forged(world.keys, **claims))
    assert listed.status_code == 401, listed.text
    assert listed.headers["content-type"].startswith("application/problem+json")
    assert listed.json()["code"].startswith("auth.")


async def ordered_recovery(w: World, aid: str, recovery_id: str, amount: int, due_in_days: int) -> None:
    body = {
        "recovery_id": recovery_id,
        "amount_minor": amount,
        "reason": "ineligible spend",
        "due_at": (now() + timedelta(days=due_in_days)).isoformat(),
    }
    proposed = await step(w, aid, "recoveries", w.who.officer, body)
    assert proposed.status_code == 200, proposed.text
    ordered = await step(w, aid, f"recoveries/{recovery_id}/approve", w.who.approver)
    assert ordered.status_code == 200, ordered.text


def award_events(records: list[Any], award_id: str) -> list[str]:
    return [
        (header(r, "ce_type") or "").removeprefix("org.coopalliance.funding.").removesuffix(".v1")
        for r in records
        if json.loads(r.value or b"{}").get("award_id") == award_id
    ]


async def test_a_recovery_is_written_off_by_a_second_person(infra: Infrastructure, world: World) -> None:
    """Issue #14 items 9/10: an officer proposes writing off what is outstanding; the same
    person is refused as approver; another approver's approval books it (receivable →
    the programme's written-off account) and closes the recovery, announced on Kafka."""
    w = world
    maker_as_checker = bearer(w.keys, "funding_approver", sub="officer-zhang")
    agreement_id = await new_agreement(infra, w)
    pid = (await open_programme(w.http, w.who))["programme_id"]
    award = await award_for(w.http, w.who, pid, agreement_id)
    aid = award["award_id"]
    await pay_tranche(w, aid, award["tranches"][0]["tranche_id"])  # 90,000 paid
    await ordered_recovery(w, aid, "rec-wo", 40_000, due_in_days=30)
    repaid = await step(
        w,
        aid,
        "recoveries/rec-wo/settlements",
        w.who.officer,
        {"settlement_id": "s-1", "method": "repayment", "amount_minor": 15_000, "bank_reference": "BOC-WO"},
    )
    assert repaid.status_code == 200, repaid.text
    blank = await step(w, aid, "recoveries/rec-wo/write-off", w.who.officer, {"reason": " "})
    assert (blank.status_code, blank.json()["code"]) == (422, "recovery.reason_required")
    proposed = await step(w, aid, "recoveries/rec-wo/write-off", w.who.officer, {"reason": "企业已注销，无可追回财产"})
    assert proposed.status_code == 200, proposed.text
    assert proposed.json()["recoveries"][0]["proposed_write_off"]["amount_minor"] == 25_000
    assert proposed.json()["recoveries"][0]["status"] == "open"
    refused = await step(w, aid, "recoveries/rec-wo/write-off/approve", maker_as_checker)
    assert (refused.status_code, refused.json()["code"]) == (403, "recovery.maker_checker")
    as_officer = await step(w, aid, "recoveries/rec-wo/write-off/approve", w.who.officer2)
    assert as_officer.status_code == 403, as_officer.text  # an officer is not an approver
    book = (await w.http.get(f"/programmes/{pid}/ledger", headers=w.who.auditor)).json()["execution"]
    assert (book["recovery_receivable_minor"], book["written_off_minor"]) == (25_000, 0)
    written = await step(w, aid, "recoveries/rec-wo/write-off/approve", w.who.approver)
    assert written.status_code == 200, written.text
    recovery = written.json()["recoveries"][0]
    assert recovery["status"] == "written_off"
    assert recovery["write_off"]["proposed_by"] == "officer-zhang"
    assert recovery["write_off"]["approved_by"] == "approver-li"
    again = await step(w, aid, "recoveries/rec-wo/write-off/approve", w.who.approver2)
    assert (again.status_code, again.json()["code"]) == (409, "recovery.write_off_not_proposed")
    book = (await w.http.get(f"/programmes/{pid}/ledger", headers=w.who.auditor)).json()["execution"]
    assert book["recovery_receivable_minor"] == 0
    assert book["written_off_minor"] == 25_000
    assert book["recovered_minor"] == 15_000
    await assert_consistent(w, pid)
    records = await read_topic(
        infra.kafka_admin, FUNDING_EVENTS, until=lambda rs: "recovery.written_off" in award_events(rs, aid)
    )
    written_off = [
        json.loads(r.value or b"{}")
        for r in records
        if header(r, "ce_type") == "org.coopalliance.funding.recovery.written_off.v1"
        and json.loads(r.value or b"{}").get("award_id") == aid
    ]
    assert len(written_off) == 1
    assert (written_off[0]["written_off_minor"], written_off[0]["approved_by"]) == (25_000, "approver-li")


async def test_recovery_deadlines_remind_mark_overdue_and_escalate_once(infra: Infrastructure, world: World) -> None:
    """Issue #14 item 10: the deadline pass (on the real store, a manual clock) reminds 7
    days before the deadline, marks the recovery overdue past it and escalates it 30 days
    later — each once, however often the pass runs; the events reach Kafka once each."""
    w = world
    policy = DeadlinePolicy(remind_before=timedelta(days=7), escalate_after=timedelta(days=30))
    agreement_id = await new_agreement(infra, w)
    pid = (await open_programme(w.http, w.who))["programme_id"]
    award = await award_for(w.http, w.who, pid, agreement_id)
    aid = award["award_id"]
    await pay_tranche(w, aid, award["tranches"][0]["tranche_id"])
    await ordered_recovery(w, aid, "rec-dl", 30_000, due_in_days=20)
    clock = ManualClock(now())

    async def passes(days: int) -> None:
        clock.advance(timedelta(days=days))
        for _ in range(2):
            await check_recovery_deadlines(w.repos, clock, policy)

    async def recovery_status() -> str:
        return str((await w.http.get(f"/awards/{aid}", headers=w.who.officer)).json()["recoveries"][0]["status"])

    await passes(5)  # 15 days left: nothing yet
    assert (await w.repos.awards.get(aid, exact=True)).item.recoveries[0].reminded_at is None  # type: ignore[union-attr]
    await passes(9)  # 6 days left: reminded
    assert await recovery_status() == "open"
    await passes(7)  # a day past the deadline: overdue
    assert await recovery_status() == "overdue"
    await passes(20)
    await passes(11)  # 31 days past: escalated
    await passes(30)
    expected = ["recovery.due_soon", "recovery.overdue", "recovery.escalated"]

    def deadline_events(records: list[Any]) -> list[str]:
        return [t for t in award_events(records, aid) if t in expected]

    records = await read_topic(
        infra.kafka_admin, FUNDING_EVENTS, until=lambda rs: len(deadline_events(rs)) >= len(expected)
    )
    assert deadline_events(records) == expected
    escalated = next(
        json.loads(r.value or b"{}")
        for r in records
        if header(r, "ce_type") == "org.coopalliance.funding.recovery.escalated.v1"
        and json.loads(r.value or b"{}").get("award_id") == aid
    )
    assert escalated["outstanding_minor"] == 30_000
    await assert_consistent(w, pid)


async def test_closing_a_programme_releases_the_kept_remainders(infra: Infrastructure, world: World) -> None:
    """Issue #14 item 10: closing returns the remainders partial approvals kept to the
    programme's available budget (once, with an event); unapproved and approved-unpaid
    tranches stay committed / disbursed (the awards' obligations)."""
    w = world
    agreement_id = await new_agreement(infra, w)
    pid = (await open_programme(w.http, w.who))["programme_id"]
    award = await award_for(w.http, w.who, pid, agreement_id)
    aid, t1 = award["award_id"], award["tranches"][0]["tranche_id"]
    assert (await step(w, aid, f"tranches/{t1}/request", w.who.officer)).status_code == 200
    partial = {"approved_minor": 50_000, "release_remainder": False, "reason": "one invoice missing"}
    assert (await step(w, aid, f"tranches/{t1}/approve", w.who.approver, partial)).status_code == 200
    before = (await w.http.get(f"/programmes/{pid}/ledger", headers=w.who.auditor)).json()["execution"]
    assert (before["committed_minor"], before["disbursed_minor"]) == (250_000, 50_000)
    current = await w.http.get(f"/programmes/{pid}", headers=w.who.officer)
    closed = await w.http.post(
        f"/programmes/{pid}/close", json={"reason": "window over"}, headers=with_etag(w.who.officer, current)
    )
    assert closed.status_code == 200, closed.text
    after = (await w.http.get(f"/programmes/{pid}/ledger", headers=w.who.auditor)).json()["execution"]
    assert after["available_minor"] == before["available_minor"] + 40_000  # t1's kept 40,000
    assert (after["committed_minor"], after["disbursed_minor"]) == (210_000, 50_000)  # t2 + t3; t1 unpaid
    tranche = (await w.http.get(f"/awards/{aid}", headers=w.who.officer)).json()["tranches"][0]
    assert tranche["remainder_released"] is True
    again = await w.http.post(
        f"/programmes/{pid}/close", json={"reason": "again"}, headers=with_etag(w.who.officer, closed)
    )
    assert again.status_code == 409, again.text
    assert (await w.http.get(f"/programmes/{pid}/ledger", headers=w.who.auditor)).json()["execution"] == after
    records = await read_topic(
        infra.kafka_admin, FUNDING_EVENTS, until=lambda rs: "tranche.remainder_released" in award_events(rs, aid)
    )
    assert award_events(records, aid).count("tranche.remainder_released") == 1
    await assert_consistent(w, pid)


async def test_a_withdrawn_or_rejected_application_frees_the_agreements_place(
    infra: Infrastructure, world: World
) -> None:
    """Issue #14 item 11: one application per agreement and programme counts only those
    still in play — after a withdrawal or a rejection the agreement may apply again;
    racing drafts of the new attempt meet at one id (one wins, the rest are named it)."""
    w = world
    agreement_id = await new_agreement(infra, w)
    pid = (await open_programme(w.http, w.who))["programme_id"]
    body = {
        "programme_id": pid,
        "agreement_id": agreement_id,
        "requested_minor": 300_000,
        "cofunding_minor": 300_000,
        "budget_lines": [{"category": "equipment", "amount_minor": 300_000}],
    }
    first = await w.http.post("/applications", json=body, headers=w.who.college)
    assert first.status_code == 201, first.text
    first_id = first.json()["application_id"]
    withdrawn = await w.http.post(
        f"/applications/{first_id}/withdraw", json={"reason": "plan redone"}, headers=with_etag(w.who.college, first)
    )
    assert withdrawn.status_code == 200, withdrawn.text
    drafters = [w.who.college, w.who.enterprise] * 2
    racing = await asyncio.gather(*(w.http.post("/applications", json=body, headers=h) for h in drafters))
    created = [r for r in racing if r.status_code == 201]
    assert len(created) == 1, [r.text for r in racing]
    applicant = drafters[racing.index(created[0])]
    second_id = created[0].json()["application_id"]
    assert second_id == f"{first_id}-2"
    for refused in (r for r in racing if r.status_code != 201):
        assert (refused.status_code, refused.json()["code"]) == (409, "application.duplicate")
        assert refused.json()["application_id"] == second_id
    # rejected: the place is free again
    submitted = await w.http.post(f"/applications/{second_id}/submit", headers=with_etag(applicant, created[0]))
    assert submitted.status_code == 200, submitted.text
    review = await w.http.post(f"/applications/{second_id}/review", headers=with_etag(w.who.officer, submitted))
    rejected = await w.http.post(
        f"/applications/{second_id}/decision",
        json={"decision": "reject", "reason": "budget lines unclear"},
        headers=with_etag(w.who.officer, review),
    )
    assert rejected.status_code == 200, rejected.text
    third = await w.http.post("/applications", json=body, headers=w.who.enterprise)
    assert third.status_code == 201, third.text
    assert third.json()["application_id"] == f"{first_id}-3"
    listed = await w.http.get("/applications", params={"programme_id": pid}, headers=w.who.officer)
    statuses = {a["application_id"]: a["status"] for a in listed.json()["items"]}
    assert statuses == {first_id: "withdrawn", second_id: "rejected", f"{first_id}-3": "draft"}


async def test_a_stopped_agreement_holds_approved_unpaid_tranches(infra: Infrastructure, world: World) -> None:
    """Issue #14 item 8: a tranche approved but not paid when the registry suspends the
    agreement keeps its disbursed money, but its payment is held with the hold (409
    ``tranche.payment_held``) until the registry's resumption lifts it — through Kafka."""
    w = world
    agreement_id = await new_agreement(infra, w)
    pid = (await open_programme(w.http, w.who))["programme_id"]
    award = await award_for(w.http, w.who, pid, agreement_id)
    aid, t1 = award["award_id"], award["tranches"][0]["tranche_id"]
    assert (await step(w, aid, f"tranches/{t1}/request", w.who.officer)).status_code == 200
    assert (await step(w, aid, f"tranches/{t1}/approve", w.who.approver, {})).status_code == 200

    async def payment_holds() -> list[str]:
        award_now = (await w.http.get(f"/awards/{aid}", headers=w.who.officer)).json()
        return list(award_now["tranches"][0]["payment_holds"])

    async def held() -> bool:
        return await payment_holds() == ["agreement:suspended"]

    suspended = agreement_event(
        AgreementSuspended, agreement_id, w.college, w.enterprise, status="suspended", reason="停产整顿"
    )
    await send(infra, REGISTRY_EVENTS, [suspended])
    await wait_for(held)
    assert await tranche_status(w, aid, 1) == "approved"
    refused = await step(w, aid, f"tranches/{t1}/payment", w.who.officer, {"bank_reference": "ICBC-H"})
    assert (refused.status_code, refused.json()["code"]) == (409, "tranche.payment_held")
    book = (await w.http.get(f"/programmes/{pid}/ledger", headers=w.who.auditor)).json()["execution"]
    assert (book["disbursed_minor"], book["paid_minor"]) == (90_000, 0)

    async def lifted() -> bool:
        return await payment_holds() == []

    resumed = agreement_event(
        AgreementResumed, agreement_id, w.college, w.enterprise, status="active", reason="整改完成"
    )
    await send(infra, REGISTRY_EVENTS, [resumed])
    await wait_for(lifted)
    paid = await step(w, aid, f"tranches/{t1}/payment", w.who.officer, {"bank_reference": "ICBC-H"})
    assert paid.status_code == 200, paid.text
    await assert_consistent(w, pid)
