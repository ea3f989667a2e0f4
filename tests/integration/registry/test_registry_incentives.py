"""The incentive register on the real servers: an agency records for a catalogue enterprise
(bound to its own partner id), funding's award events add fiscal entries and its surcharge
statement events one tax entry a year, once however often the broker delivers them, a
revocation suspends the open entries and tells the granting agencies by event, reads are
scoped per role, summaries and CSV/XLSX exports."""

from __future__ import annotations

import asyncio
import csv
import io
import time
import uuid
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import openpyxl
import pytest
import pytest_asyncio

from alliance_devstack.provision import Infrastructure
from alliance_registry.app import build_app
from alliance_shared.contract.envelope import CloudEvent, to_kafka
from alliance_shared.contract.funding import AwardGranted, SurchargeStatementIssued
from alliance_shared.contract.registry import IncentiveRecorded, IncentiveSuspended
from alliance_shared.contract.topics import FUNDING_EVENTS, REGISTRY_EVENTS
from tests.integration.registry.registry_support import (
    admin,
    partner_token,
    register,
    registry_events,
    registry_settings,
)
from tests.support.http import bearer, running
from tests.support.kafka_io import produce, skip_history

pytestmark = pytest.mark.infra

RUN = uuid.uuid4().hex[:8]
GROUP = f"alliance-registry-incentives-{RUN}"
GRANT = {"certificate_number": "CQE-T", "valid_from": "2026-01-01T00:00:00Z", "valid_to": "2099-01-01T00:00:00Z"}


@pytest_asyncio.fixture(scope="module", loop_scope="session")
async def client(infra: Infrastructure, dev_keys_dir: Path) -> AsyncIterator[httpx.AsyncClient]:
    await skip_history(infra.kafka_admin, GROUP, (REGISTRY_EVENTS, FUNDING_EVENTS))
    settings = registry_settings(infra, f"inc_{RUN}", dev_keys_dir, kafka_consumer_group=GROUP)
    async with running(build_app(settings)) as http:
        yield http


async def certified_enterprise(http: httpx.AsyncClient, keys: Path, region: str = "440305") -> tuple[str, str]:
    enterprise = (await register(http, keys, "enterprise", region_code=region))["partner_id"]
    applied = await http.post("/certifications", json={"partner_id": enterprise}, headers=admin(keys))
    assert applied.status_code == 201, applied.text
    cid = applied.json()["certification_id"]
    granted = await http.post(f"/certifications/{cid}/grant", json=GRANT, headers=admin(keys))
    assert granted.status_code == 200, granted.text
    return enterprise, cid


def agency_staff(keys: Path, agency: str) -> dict[str, str]:
    return partner_token(keys, "agency_staff", agency)


def entry_body(enterprise: str, **changes: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "partner_id": enterprise,
        "kind": "financial",
        "reference": f"SZRCB-{uuid.uuid4().hex[:6]}",
        "amount_minor": 12_000_055,
        "valid_from": "2026-06-01T00:00:00Z",
        "valid_to": "2027-06-01T00:00:00Z",
    }
    return {**body, **changes}


async def wait_for(http: httpx.AsyncClient, path: str, headers: dict[str, str], ready: Any) -> Any:
    deadline = time.monotonic() + 30
    while True:
        got = await http.get(path, headers=headers)
        assert got.status_code == 200, got.text
        if ready(got.json()) or time.monotonic() > deadline:
            return got.json()
        await asyncio.sleep(0.2)


async def test_an_agency_records_only_for_catalogue_enterprises_within_the_certificate(
    client: httpx.AsyncClient, dev_keys_dir: Path, infra: Infrastructure
) -> None:
    keys = dev_keys_dir
    enterprise, cid = await certified_enterprise(client, keys)
    agency = (await register(client, keys, "government_agency"))["partner_id"]
    staff = agency_staff(keys, agency)

    recorded = await client.post("/incentives", json=entry_body(enterprise), headers=staff)
    assert recorded.status_code == 201, recorded.text
    entry = recorded.json()
    assert (entry["agency_id"], entry["certification_id"], entry["status"]) == (agency, cid, "open")
    again = await client.post("/incentives", json=entry_body(enterprise, reference=entry["reference"]), headers=staff)
    assert again.status_code == 409

    refusals = {
        "incentive.before_certification": entry_body(enterprise, valid_from="2025-06-01T00:00:00Z"),
        "incentive.after_certification": entry_body(enterprise, valid_to="2100-01-01T00:00:00Z"),
        "incentive.amount_not_money": entry_body(enterprise, kind="land"),
        "incentive.kind_from_funding": entry_body(enterprise, kind="fiscal"),
    }
    for code, body in refusals.items():
        refused = await client.post("/incentives", json=body, headers=staff)
        assert refused.status_code == 422, refused.text
        assert refused.headers["content-type"].startswith("application/problem+json")
        assert refused.json()["code"] == code

    uncertified = (await register(client, keys, "enterprise"))["partner_id"]
    none = await client.post("/incentives", json=entry_body(uncertified), headers=staff)
    assert none.status_code == 422
    assert none.json()["code"] == "incentive.not_in_catalogue"

    events = await registry_events(
        infra, {enterprise}, until=lambda es: any(isinstance(p, IncentiveRecorded) for _, p in es)
    )
    [announced] = [p for _, p in events if isinstance(p, IncentiveRecorded)]
    assert (announced.entry_id, announced.amount_minor) == (entry["entry_id"], 12_000_055)


async def test_an_award_delivered_twice_is_one_fiscal_entry(
    client: httpx.AsyncClient, dev_keys_dir: Path, infra: Infrastructure
) -> None:
    keys = dev_keys_dir
    enterprise, _ = await certified_enterprise(client, keys)
    college = (await register(client, keys, "college"))["partner_id"]
    example = AwardGranted.model_json_schema()["examples"][0]

    def award(award_id: str, recipient: str) -> AwardGranted:
        return AwardGranted.model_validate(
            {**example, "award_id": award_id, "recipient_partner_id": recipient, "party_ids": [college, enterprise]}
        )

    to_enterprise = to_kafka(CloudEvent.wrap(award(f"awd-{RUN}-1", enterprise), "funding", event_id=f"evt-{RUN}-1"))
    to_college = to_kafka(CloudEvent.wrap(award(f"awd-{RUN}-2", college), "funding", event_id=f"evt-{RUN}-2"))
    # The same event twice (a redelivery), then an award to a college, which is no incentive.
    await produce(infra.kafka_admin, FUNDING_EVENTS, [to_enterprise, to_enterprise, to_college])
    # A second, later award to the enterprise marks that the first three were consumed (one partition key).
    later = to_kafka(CloudEvent.wrap(award(f"awd-{RUN}-3", enterprise), "funding", event_id=f"evt-{RUN}-3"))
    await produce(infra.kafka_admin, FUNDING_EVENTS, [later])

    path = f"/incentives?partner_id={enterprise}&kind=fiscal"
    page = await wait_for(client, path, admin(keys), lambda body: len(body["items"]) >= 2)
    assert sorted(e["entry_id"] for e in page["items"]) == [f"fiscal-awd-{RUN}-1", f"fiscal-awd-{RUN}-3"]
    summary = await client.get(f"/incentives/summary?by=enterprise&partner_id={enterprise}", headers=admin(keys))
    [row] = summary.json()
    assert (row["entries"], row["amount_minor"]) == (2, 2 * 50_000_000)
    college_page = await client.get(f"/incentives?partner_id={college}", headers=admin(keys))
    assert college_page.json()["items"] == []


async def test_a_statement_delivered_twice_is_one_tax_entry_restated_by_its_recomputation(
    client: httpx.AsyncClient, dev_keys_dir: Path, infra: Infrastructure
) -> None:
    keys = dev_keys_dir
    enterprise, cid = await certified_enterprise(client, keys)
    uncertified = (await register(client, keys, "enterprise"))["partner_id"]
    example = SurchargeStatementIssued.model_json_schema()["examples"][0]

    def issued(partner: str, version: int, credit_minor: int, event_id: str) -> Any:
        payload = SurchargeStatementIssued.model_validate(
            {
                **example,
                "enterprise_id": partner,
                "year": 2026,
                "statement_version": version,
                "credit_earned_minor": credit_minor,
                "occurred_at": "2026-06-01T00:00:00Z",
            }
        )
        return to_kafka(CloudEvent.wrap(payload, "funding", event_id=event_id))

    first = issued(enterprise, 1, 300_000, f"evt-{RUN}-s1")
    # The same event twice (a redelivery) and a statement of an enterprise never certified.
    await produce(infra.kafka_admin, FUNDING_EVENTS, [first, first, issued(uncertified, 1, 300_000, f"evt-{RUN}-u")])
    path = f"/incentives?partner_id={enterprise}&kind=tax"
    page = await wait_for(client, path, admin(keys), lambda body: len(body["items"]) >= 1)
    [entry] = page["items"]
    assert (entry["entry_id"], entry["amount_minor"], entry["certification_id"]) == (
        f"tax-{enterprise}-2026",
        300_000,
        cid,
    )
    # The recomputed statement (one partition key: after the redelivery) restates the amount.
    await produce(infra.kafka_admin, FUNDING_EVENTS, [issued(enterprise, 2, 450_000, f"evt-{RUN}-s2")])
    page = await wait_for(client, path, admin(keys), lambda body: body["items"][0]["amount_minor"] == 450_000)
    [entry] = page["items"]
    assert (entry["entry_id"], entry["amount_minor"], entry["source_version"]) == (f"tax-{enterprise}-2026", 450_000, 2)
    summary = await client.get(f"/incentives/summary?by=enterprise&partner_id={enterprise}", headers=admin(keys))
    [row] = summary.json()
    assert (row["entries"], row["amount_minor"]) == (1, 450_000)
    assert (await client.get(f"/incentives?partner_id={uncertified}", headers=admin(keys))).json()["items"] == []


async def test_revocation_suspends_open_entries_and_tells_the_agency(
    client: httpx.AsyncClient, dev_keys_dir: Path, infra: Infrastructure
) -> None:
    keys = dev_keys_dir
    enterprise, cid = await certified_enterprise(client, keys)
    agency = (await register(client, keys, "government_agency"))["partner_id"]
    for kind, amount in (("financial", 1_000_000), ("credit", None)):
        body = entry_body(enterprise, kind=kind, amount_minor=amount)
        assert (await client.post("/incentives", json=body, headers=agency_staff(keys, agency))).status_code == 201

    revoked = await client.post(f"/certifications/{cid}/revoke", json={"reason": "虚报投入"}, headers=admin(keys))
    assert revoked.status_code == 200, revoked.text

    path = f"/incentives?partner_id={enterprise}&status=suspended"
    page = await wait_for(client, path, admin(keys), lambda body: len(body["items"]) == 2)
    assert {e["kind"] for e in page["items"]} == {"financial", "credit"}
    events = await registry_events(
        infra, {enterprise}, until=lambda es: sum(isinstance(p, IncentiveSuspended) for _, p in es) >= 2
    )
    suspended = [p for _, p in events if isinstance(p, IncentiveSuspended)]
    assert {(p.agency_id, p.reason) for p in suspended} == {(agency, "虚报投入")}
    later = await client.post("/incentives", json=entry_body(enterprise), headers=agency_staff(keys, agency))
    assert later.status_code == 422
    assert later.json()["code"] == "incentive.after_certification"


async def test_reads_are_scoped_and_exports_are_in_the_readers_language(
    client: httpx.AsyncClient, dev_keys_dir: Path
) -> None:
    keys = dev_keys_dir
    mine, _ = await certified_enterprise(client, keys, region="110108")
    other, _ = await certified_enterprise(client, keys, region="110108")
    agency = (await register(client, keys, "government_agency"))["partner_id"]
    for enterprise in (mine, other):
        body = entry_body(enterprise)
        assert (await client.post("/incentives", json=body, headers=agency_staff(keys, agency))).status_code == 201

    own = await client.get("/incentives", headers=partner_token(keys, "enterprise", mine))
    assert {e["partner_id"] for e in own.json()["items"]} == {mine}
    foreign = await client.get(f"/incentives?partner_id={other}", headers=partner_token(keys, "enterprise", mine))
    assert foreign.status_code == 403
    granted = await client.get("/incentives", headers=agency_staff(keys, agency))
    assert {e["partner_id"] for e in granted.json()["items"]} == {mine, other}
    assert (await client.get("/incentives", headers=agency_staff(keys, "agy-else"))).json()["items"] == []
    assert (await client.get("/incentives", headers=bearer(keys, "supervisor"))).status_code == 403

    exported = await client.get(
        f"/incentives?agency_id={agency}&format=csv", headers={**bearer(keys, "auditor"), "Accept-Language": "en"}
    )
    assert exported.status_code == 200
    assert exported.content.startswith(b"\xef\xbb\xbf")
    rows = list(csv.reader(io.StringIO(exported.content.decode("utf-8-sig"))))
    assert rows[0][:3] == ["Entry", "Enterprise ID", "Enterprise name"]
    amount = rows[0].index("Amount (yuan)")
    assert {r[amount] for r in rows[1:]} == {"120000.55"}

    chinese = await client.get(f"/incentives/summary?by=region&agency_id={agency}&format=xlsx", headers=admin(keys))
    sheet = openpyxl.load_workbook(io.BytesIO(chinese.content)).active
    assert sheet is not None
    header, *values = list(sheet.iter_rows(values_only=True))
    assert header[0] == "分组"
    assert [(v[0], v[2]) for v in values] == [("110108", 2)]
