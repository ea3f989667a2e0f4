"""The HTTP runtime on the real servers: auth, problem+json, ETags, idempotency, audit, readiness."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from pymongo import AsyncMongoClient

from alliance_devstack.provision import Infrastructure
from alliance_shared import audit_cli
from alliance_shared.audit import AUDIT_COLLECTION, AuditTrail
from alliance_shared.auth.devtokens import ensure_keys, mint
from alliance_shared.contract.audit import AuditChainAnchored
from alliance_shared.contract.topics import REGISTRY_EVENTS
from alliance_shared.runtime import ServiceRuntime
from alliance_shared.web.ops import ops_app_of
from tests.integration.shared.test_runtime_outbox import probe_settings, wait_for
from tests.support.http import bearer, running
from tests.support.kafka_io import header, read_topic
from tests.support.probe import build_probe

pytestmark = pytest.mark.infra

PROBLEM = "application/problem+json"


def assert_problem(response: httpx.Response, status: int, code: str) -> None:
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith(PROBLEM)
    body = response.json()
    assert body["status"] == status
    assert body["code"] == code
    assert body["title"]
    assert body["detail"]


async def test_tokens_roles_and_problem_details(
    infra: Infrastructure, dev_keys_dir: Path, unique: str, tmp_path: Path
) -> None:
    app = build_probe(probe_settings(infra, f"probe_{unique}", dev_keys_dir, run_consumers=False))
    async with running(app) as client:
        body = {"widget_id": "w1", "label": "one"}
        assert_problem(await client.post("/widgets", json=body), 401, "auth.missing_token")
        expired = bearer(dev_keys_dir, "registry_admin", ttl_s=-120)
        assert_problem(await client.post("/widgets", json=body, headers=expired), 401, "auth.token_expired")
        other_keys = tmp_path / "other-keys"
        ensure_keys(other_keys)  # same key id, different key: the signature cannot verify
        forged = {"Authorization": "Bearer " + mint(other_keys, "mallory", ["registry_admin"])}
        assert_problem(await client.post("/widgets", json=body, headers=forged), 401, "auth.bad_signature")
        garbage = {"Authorization": "Bearer not-a-jwt"}
        assert_problem(await client.post("/widgets", json=body, headers=garbage), 401, "auth.malformed_token")
        auditor = bearer(dev_keys_dir, "auditor")
        assert_problem(await client.post("/widgets", json=body, headers=auditor), 403, "auth.role_forbidden")

        admin = bearer(dev_keys_dir, "registry_admin")
        created = await client.post("/widgets", json=body, headers=admin)
        assert created.status_code == 201
        assert created.headers["etag"] == '"1"'
        bad = await client.post("/widgets", json={"widget_id": "", "label": "x" * 80}, headers=admin)
        assert_problem(bad, 422, "request.invalid")
        assert {tuple(e["loc"]) for e in bad.json()["errors"]} == {("body", "widget_id"), ("body", "label")}
        assert_problem(await client.post("/widgets", json=body, headers=admin), 409, "aggregate.exists")
        assert_problem(await client.get("/widgets/nope", headers=auditor), 404, "widget.not_found")
        assert_problem(await client.get("/no/such/route"), 404, "route.not_found")
        assert created.headers["x-request-id"]


async def test_if_match_lets_one_of_two_concurrent_updates_win(
    infra: Infrastructure, dev_keys_dir: Path, unique: str
) -> None:
    app = build_probe(probe_settings(infra, f"probe_{unique}", dev_keys_dir, run_consumers=False))
    admin = bearer(dev_keys_dir, "registry_admin")
    async with running(app) as client:
        await client.post("/widgets", json={"widget_id": "w", "label": "v1"}, headers=admin)
        no_precondition = await client.put("/widgets/w/label", json={"widget_id": "w", "label": "x"}, headers=admin)
        assert_problem(no_precondition, 428, "precondition.if_match_required")
        results = await asyncio.gather(
            *(
                client.put(
                    "/widgets/w/label", json={"widget_id": "w", "label": label}, headers={**admin, "If-Match": '"1"'}
                )
                for label in ("left", "right")
            )
        )
        statuses = sorted(r.status_code for r in results)
        assert statuses == [200, 412]
        loser = next(r for r in results if r.status_code == 412)
        assert_problem(loser, 412, "aggregate.version_conflict")
        winner = next(r for r in results if r.status_code == 200)
        current = await client.get("/widgets/w", headers=admin)
        assert current.json()["label"] == winner.json()["label"]
        assert current.headers["etag"] == '"2"'


async def test_idempotency_key_replays_the_first_response(
    infra: Infrastructure, dev_keys_dir: Path, unique: str, mongo_client: AsyncMongoClient[dict[str, Any]]
) -> None:
    database = f"probe_{unique}"
    app = build_probe(probe_settings(infra, database, dev_keys_dir, run_consumers=False))
    admin = {**bearer(dev_keys_dir, "registry_admin"), "Idempotency-Key": "create-w-1"}
    async with running(app) as client:
        first = await client.post("/widgets", json={"widget_id": "w", "label": "a"}, headers=admin)
        again = await client.post("/widgets", json={"widget_id": "w", "label": "a"}, headers=admin)
        assert first.status_code == again.status_code == 201
        assert again.json() == first.json()
        assert again.headers["idempotent-replayed"] == "true"
        other_body = await client.post("/widgets", json={"widget_id": "w", "label": "b"}, headers=admin)
        assert_problem(other_body, 422, "idempotency.key_reused")
    assert await mongo_client[database]["widgets"].count_documents({}) == 1  # one version of one widget


async def test_a_retry_during_the_first_request_waits_and_replays_it(
    infra: Infrastructure, dev_keys_dir: Path, unique: str, mongo_client: AsyncMongoClient[dict[str, Any]]
) -> None:
    database = f"probe_{unique}"
    app = build_probe(probe_settings(infra, database, dev_keys_dir, run_consumers=False, probe_request_delay_s=1.0))
    admin = {**bearer(dev_keys_dir, "registry_admin"), "Idempotency-Key": "slow-1"}
    async with running(app) as client:
        first, retry = await asyncio.gather(
            client.post("/widgets", json={"widget_id": "w", "label": "a"}, headers=admin),
            client.post("/widgets", json={"widget_id": "w", "label": "a"}, headers=admin),
        )
    assert first.status_code == retry.status_code == 201
    assert first.json() == retry.json()
    assert sorted(r.headers.get("idempotent-replayed", "no") for r in (first, retry)) == ["no", "true"]
    assert await mongo_client[database]["widgets_journal"].count_documents({}) == 1  # ran once


async def test_a_first_request_that_failed_leaves_its_key_free(
    infra: Infrastructure, dev_keys_dir: Path, unique: str
) -> None:
    app = build_probe(probe_settings(infra, f"probe_{unique}", dev_keys_dir, run_consumers=False))
    admin = {**bearer(dev_keys_dir, "registry_admin"), "Idempotency-Key": "boom-1"}
    async with running(app) as client:
        for _ in range(2):  # the retry runs again (500 again), it is not told the key is in use
            failed = await client.post("/widgets", json={"widget_id": "w", "label": "explode"}, headers=admin)
            assert failed.status_code == 500


async def test_requests_meet_size_path_and_id_limits_before_any_route(
    infra: Infrastructure, dev_keys_dir: Path, unique: str
) -> None:
    settings = probe_settings(infra, f"probe_{unique}", dev_keys_dir, run_consumers=False, http_max_body_bytes=4096)
    app = build_probe(settings)
    admin = bearer(dev_keys_dir, "registry_admin")
    async with running(app) as client:
        big = b'{"widget_id": "w", "label": "' + b"x" * 5000 + b'"}'
        announced = await client.post("/widgets", content=big, headers={**admin, "content-type": "application/json"})
        assert_problem(announced, 413, "request.too_large")

        async def stream() -> AsyncIterator[bytes]:
            for _ in range(10):
                yield b" " * 1000  # no Content-Length: counted as it arrives

        streamed = await client.post(
            "/widgets", content=stream(), headers={**admin, "content-type": "application/json"}
        )
        assert_problem(streamed, 413, "request.too_large")
        assert_problem(await client.get("/widgets/w%00x", headers=admin), 400, "request.bad_path")
        forged_id = "<script>" + "x" * 300
        answered = await client.get("/widgets/w", headers={**admin, "X-Request-ID": forged_id})
        assert answered.headers["x-request-id"] != forged_id
        assert len(answered.headers["x-request-id"]) <= 128
        kept = await client.get("/widgets/w", headers={**admin, "X-Request-ID": "req-123.a:b"})
        assert kept.headers["x-request-id"] == "req-123.a:b"
        fine = await client.post("/widgets", json={"widget_id": "w", "label": "ok"}, headers=admin)
        assert fine.status_code == 201


async def test_audit_trail_records_changes_and_detects_an_edited_record(
    infra: Infrastructure, dev_keys_dir: Path, unique: str, mongo_client: AsyncMongoClient[dict[str, Any]]
) -> None:
    database = f"probe_{unique}"
    app = build_probe(probe_settings(infra, database, dev_keys_dir, run_consumers=False))
    admin = bearer(dev_keys_dir, "registry_admin", sub="alice")
    async with running(app) as client:
        for i in range(3):
            await client.post("/widgets", json={"widget_id": f"w{i}", "label": f"l{i}"}, headers=admin)
        audit = AuditTrail(mongo_client[database][AUDIT_COLLECTION], "registry")
        for _ in range(100):
            if await mongo_client[database][AUDIT_COLLECTION].count_documents({}) == 3:
                break
            await asyncio.sleep(0.1)
        records = await audit.history("widget", "w1")
        assert len(records) == 1
        assert records[0]["actor_id"] == "alice"
        assert records[0]["actor_role"] == "registry_admin"
        assert records[0]["after"] == {"label": "l1"}
        assert records[0]["action"] == "widget.create"
        assert await audit.verify() == []
        await mongo_client[database][AUDIT_COLLECTION].update_one({"_id": 2}, {"$set": {"after": {"label": "forged"}}})
        breaks = await audit.verify()
        assert [b.seq for b in breaks] == [2]
        assert "edited" in breaks[0].problem


async def test_readyz_follows_mongodb_and_kafka(infra: Infrastructure, dev_keys_dir: Path, unique: str) -> None:
    if infra.kind != "local":
        pytest.skip("stopping servers needs the local stack (servers given by URL or Docker are not ours)")
    app = build_probe(probe_settings(infra, f"probe_{unique}", dev_keys_dir, run_consumers=False))
    async with running(app) as client:

        async def readiness(expected: int) -> dict[str, Any]:
            for _ in range(120):
                response = await client.get("/readyz")
                if response.status_code == expected:
                    return dict(response.json())
                await asyncio.sleep(0.25)
            raise AssertionError(f"/readyz never answered {expected}")

        assert (await readiness(200))["checks"] == {"mongodb": "ok", "kafka": "ok"}
        infra.mongo.stop()
        try:
            body = await readiness(503)
            assert body["checks"]["mongodb"].startswith("unavailable")
            assert body["checks"]["kafka"] == "ok"
        finally:
            infra.mongo.start()
        await readiness(200)
        infra.kafka.stop()
        try:
            body = await readiness(503)
            assert body["checks"]["kafka"].startswith("unavailable")
        finally:
            infra.kafka.start()
        await readiness(200)
        assert (await client.get("/healthz")).status_code == 200
        assert_problem(await client.get("/metrics"), 404, "route.not_found")  # the ops port's, not the public one's
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=ops_app_of(app)), base_url="http://ops") as ops:
            metrics = await ops.get("/metrics")
        assert "http_request_duration_seconds_bucket" in metrics.text
        assert "alliance_outbox_backlog" in metrics.text


async def test_auditors_verify_the_chain_and_its_anchor_finds_a_truncated_trail(
    infra: Infrastructure, dev_keys_dir: Path, unique: str, mongo_client: AsyncMongoClient[dict[str, Any]]
) -> None:
    database = f"probe_{unique}"
    app = build_probe(probe_settings(infra, database, dev_keys_dir, run_consumers=False))
    two_roles = {"Authorization": "Bearer " + mint(dev_keys_dir, "bob", ["auditor", "registry_admin"])}
    auditor = bearer(dev_keys_dir, "auditor")
    trail = mongo_client[database][AUDIT_COLLECTION]
    async with running(app) as client:
        for i in range(3):
            await client.post("/widgets", json={"widget_id": f"w{i}", "label": f"l{i}"}, headers=two_roles)

        async def chained() -> bool:
            return await trail.count_documents({}) == 3

        await wait_for(chained)
        assert_problem(
            await client.get("/audit/verify", headers=bearer(dev_keys_dir, "registry_admin")),
            403,
            "auth.role_forbidden",
        )
        verified = (await client.get("/audit/verify", headers=auditor)).json()
        assert (verified["intact"], verified["records"], verified["breaks"]) == (True, 3, [])
        records = (await client.get("/audit/records?entity=widget&entity_id=w1", headers=auditor)).json()
        assert [r["actor_role"] for r in records["items"]] == ["registry_admin"]  # the role the action needed
        page = (await client.get("/audit/records?limit=2", headers=auditor)).json()
        assert ([r["seq"] for r in page["items"]], page["next_after_seq"]) == ([1, 2], 2)

        runtime: ServiceRuntime = app.state.runtime
        assert await runtime.anchor_audit_chain() == 3
        await runtime.relay.publish_written()
        published = await read_topic(
            infra.kafka_admin,
            REGISTRY_EVENTS,
            until=lambda rs: any(header(r, "ce_type") == AuditChainAnchored.event_type for r in rs),
        )
        assert any(header(r, "ce_type") == AuditChainAnchored.event_type for r in published)

        await trail.delete_one({"_id": 3})  # the newest record removed: the chain alone still verifies
        assert await AuditTrail(trail, "registry").verify() == []
        truncated = (await client.get("/audit/verify", headers=auditor)).json()
        assert truncated["intact"] is False
        assert truncated["breaks"][0]["seq"] == 3
        assert "truncated" in truncated["breaks"][0]["problem"]

    report = await audit_cli.verify("registry", infra.mongo_url, database, infra.kafka_admin)
    assert report["intact"] is False
    assert report["first_break"] == {"seq": 3, "problem": "an anchored record is missing: the trail was truncated"}
