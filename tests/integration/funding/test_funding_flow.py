"""The funding service on the real servers: the whole path from programme to paid tranche
driven by Kafka evaluation events, withholding and re-release, termination and
recovery, duplicate and out-of-order events, replayed transfers, racing approvers and
racing awards against one programme."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
import pytest_asyncio
from pymongo import AsyncMongoClient

from alliance_devstack.provision import Infrastructure
from alliance_funding.adapters.repositories import Repositories
from alliance_funding.app import build_app
from alliance_funding.domain.award import Award
from alliance_funding.service import ledger
from alliance_shared.contract.topics import EVALUATION_EVENTS, FUNDING_EVENTS, REGISTRY_EVENTS
from tests.integration.funding.funding_support import (
    TOPICS,
    Actors,
    agreement_activated,
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
    await skip_history(infra.kafka_bootstrap, settings.consumer_group, TOPICS)
    app = build_app(settings)
    mongo: AsyncMongoClient[dict[str, Any]] = AsyncMongoClient(infra.mongo_url, tz_aware=True)
    async with running(app) as http:
        w = World()
        w.http, w.repos, w.db = http, Repositories(app.state.runtime), mongo[settings.mongo_database]
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
    assert refused.status_code == 403 and refused.json()["code"] == "tranche.maker_checker", refused.text
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

    history = await w.http.get(f"/awards/{aid}/money-history", headers=w.who.college)
    assert [r["kind"] for r in history.json()["rows"]] == ["commit"] + ["disburse", "pay"] * 3

    def ours(records: list[Any]) -> list[str]:
        return [
            header(r, "ce_type") or ""
            for r in records
            if json.loads(r.value or b"{}").get("award_id") == aid
        ]

    records = await read_topic(
        infra.kafka_bootstrap, FUNDING_EVENTS, until=lambda rs: ours(rs).count("org.coopalliance.funding.tranche.paid.v1") >= 3
    )
    types = ours(records)
    assert types.count("org.coopalliance.funding.tranche.paid.v1") == 3
    assert "org.coopalliance.funding.award.granted.v1" in types
