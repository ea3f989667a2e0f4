"""Registry lifecycles on the real servers: partners, membership, council, certification
and agreements — legal and illegal transitions, validation failures, concurrency
(ETag), idempotent retries, the periodic check, and every change on Kafka exactly as the
contract documents it."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
import pytest_asyncio
from fastapi import FastAPI

from alliance_devstack.provision import Infrastructure
from alliance_registry.app import build_app
from alliance_registry.service.schedule import run_due
from alliance_shared.contract.registry import (
    AgreementActivated,
    AgreementAmended,
    AgreementAmendmentProposed,
    AgreementAmendmentSigned,
    AgreementAmendmentWithdrawn,
    AgreementCompleted,
    AgreementDrafted,
    AgreementPartySigned,
    AgreementSigned,
    CertificationExpired,
    CertificationGranted,
    CertificationRejected,
    MembershipChanged,
    PartnerDeactivated,
    PartnerRegistered,
    PartnerUpdated,
)
from tests.integration.registry.registry_support import (
    CONTACT,
    admin,
    agreement_body,
    credit_code,
    etag,
    partner_body,
    partner_token,
    register,
    registry_events,
    registry_settings,
    types_of,
)
from tests.support.http import bearer, running

pytestmark = pytest.mark.infra

RUN = uuid.uuid4().hex[:8]


@pytest_asyncio.fixture(scope="module", loop_scope="session")
async def app(infra: Infrastructure, dev_keys_dir: Path) -> AsyncIterator[tuple[FastAPI, httpx.AsyncClient]]:
    application = build_app(registry_settings(infra, f"life_{RUN}", dev_keys_dir, schedule_check_seconds=0.5))
    async with running(application) as http:
        yield application, http


@pytest.fixture
def client(app: tuple[FastAPI, httpx.AsyncClient]) -> httpx.AsyncClient:
    return app[1]


# --- partners -----------------------------------------------------------------------------


async def test_partner_register_update_deactivate_with_events(
    client: httpx.AsyncClient, dev_keys_dir: Path, infra: Infrastructure
) -> None:
    keys = dev_keys_dir
    created = await client.post("/partners", json=partner_body("enterprise", name_en="Pengcheng"), headers=admin(keys))
    assert created.status_code == 201, created.text
    assert created.headers["etag"] == '"1"'
    partner = created.json()
    pid = partner["partner_id"]
    assert pid.startswith("ent-")
    assert partner["contacts"] == [{**CONTACT, "locale": "zh-CN"}]

    # Contacts: personal data, for admins, auditors and the partner itself only.
    for role, sees in [("registry_admin", True), ("auditor", True), ("supervisor", False), ("funding_officer", False)]:
        got = await client.get(f"/partners/{pid}", headers=bearer(keys, role))
        assert got.status_code == 200
        assert (got.json()["contacts"] is not None) is sees, role
    own = await client.get(f"/partners/{pid}", headers=partner_token(keys, "enterprise", pid))
    assert own.json()["contacts"] is not None
    other = await client.get(f"/partners/{pid}", headers=partner_token(keys, "enterprise", "ent-other"))
    assert other.json()["contacts"] is None

    # Update needs If-Match; two updates on the same ETag: one wins, one gets 412.
    body = {k: v for k, v in partner_body("enterprise").items() if k != "contacts"}
    body["credit_code"] = partner["credit_code"]
    no_match = await client.put(f"/partners/{pid}", json=body, headers=admin(keys))
    assert no_match.status_code == 428
    first = {**body, "address": "深圳市福田区 1 号"}
    second = {**body, "address": "深圳市罗湖区 2 号"}
    results = await asyncio.gather(
        client.put(f"/partners/{pid}", json=first, headers={**admin(keys), **etag(created)}),
        client.put(f"/partners/{pid}", json=second, headers={**admin(keys), **etag(created)}),
    )
    assert sorted(r.status_code for r in results) == [200, 412], [r.text for r in results]
    loser = next(r for r in results if r.status_code == 412)
    assert loser.headers["content-type"].startswith("application/problem+json")
    winner = next(r for r in results if r.status_code == 200)
    assert winner.headers["etag"] == '"2"'

    # The partner replaces its own contacts; another enterprise may not.
    new_contacts = {"contacts": [{**CONTACT, "name": "李雷", "email": "li.lei@example.cn"}]}
    refused = await client.put(
        f"/partners/{pid}/contacts",
        json=new_contacts,
        headers={**partner_token(keys, "enterprise", "ent-other"), **etag(winner)},
    )
    assert refused.status_code == 403
    changed = await client.put(
        f"/partners/{pid}/contacts",
        json=new_contacts,
        headers={**partner_token(keys, "enterprise", pid), **etag(winner)},
    )
    assert changed.status_code == 200, changed.text
    assert changed.json()["contacts"][0]["name"] == "李雷"

    gone = await client.post(f"/partners/{pid}/deactivate", json={"reason": "merged"}, headers=admin(keys))
    assert gone.status_code == 200
    assert gone.json()["status"] == "deactivated"
    again = await client.post(f"/partners/{pid}/deactivate", json={"reason": "twice"}, headers=admin(keys))
    assert again.status_code == 409
    assert again.json()["code"] == "partner.illegal_transition"
    stale = await client.put(f"/partners/{pid}", json=first, headers={**admin(keys), **etag(gone)})
    assert stale.status_code == 409

    events = await registry_events(infra, {pid}, until=lambda es: len(es) >= 4)
    assert types_of(events) == ["partner.registered", "partner.updated", "partner.updated", "partner.deactivated"]
    registered, updated, contacts_updated, deactivated = (p for _, p in events)
    assert isinstance(registered, PartnerRegistered)
    assert registered.contacts[0].email == CONTACT["email"]
    assert isinstance(updated, PartnerUpdated)
    assert "address" in updated.changed_fields
    assert updated.address == winner.json()["address"]
    assert isinstance(contacts_updated, PartnerUpdated)
    assert contacts_updated.changed_fields == ("contacts",)
    assert isinstance(deactivated, PartnerDeactivated)
    assert deactivated.reason == "merged"
    assert not hasattr(deactivated, "contacts")


@pytest.mark.parametrize(
    ("changes", "code"),
    [
        ({"credit_code": "91440300MA5G4WNN44"}, "partner.credit_code_invalid"),
        ({"credit_code": "91440300MA5G4WNN4"}, "partner.credit_code_invalid"),
        ({"region_code": "990101"}, "partner.region_code_invalid"),
        ({"region_code": "4403"}, "partner.region_code_invalid"),
        ({"sector_code": "Z99"}, "partner.sector_code_invalid"),
        ({"enterprise": None}, "partner.profile_mismatch"),
    ],
)
async def test_partner_validation_failures(
    client: httpx.AsyncClient, dev_keys_dir: Path, changes: dict[str, Any], code: str
) -> None:
    response = await client.post("/partners", json=partner_body("enterprise", **changes), headers=admin(dev_keys_dir))
    assert response.status_code == 422, response.text
    assert response.headers["content-type"].startswith("application/problem+json")
    assert response.json()["code"] == code


@pytest.mark.parametrize(
    ("changes", "code", "table"),
    [
        # Well-formed, but not in the shipped tables: the answer names the table it was checked against.
        ({"region_code": "440399"}, "partner.region_code_invalid", "GB/T 2260 (MCA, 2021)"),
        ({"region_code": "110100"}, "partner.region_code_invalid", "GB/T 2260 (MCA, 2021)"),
        ({"sector_code": "C44"}, "partner.sector_code_invalid", "GB/T 4754-2017"),
        ({"sector_code": "T96"}, "partner.sector_code_invalid", "GB/T 4754-2017"),
    ],
)
async def test_unknown_codes_are_refused_from_the_tables(
    client: httpx.AsyncClient, dev_keys_dir: Path, changes: dict[str, Any], code: str, table: str
) -> None:
    keys = dev_keys_dir
    response = await client.post("/partners", json=partner_body("enterprise", **changes), headers=admin(keys))
    assert response.status_code == 422, response.text
    problem = response.json()
    assert (problem["code"], problem["table"]) == (code, table)
    assert table in problem["detail"]
    # A profile update is checked against the same tables, and changes nothing when refused.
    partner = await register(client, keys, "enterprise")
    current = await client.get(f"/partners/{partner['partner_id']}", headers=admin(keys))
    body = {k: v for k, v in partner_body("enterprise", **changes).items() if k != "contacts"}
    refused = await client.put(
        f"/partners/{partner['partner_id']}", json=body, headers={**admin(keys), **etag(current)}
    )
    assert refused.status_code == 422, refused.text
    assert refused.json()["code"] == code
    after = await client.get(f"/partners/{partner['partner_id']}", headers=admin(keys))
    assert after.headers["etag"] == current.headers["etag"]


async def test_schema_failures_are_problems(client: httpx.AsyncClient, dev_keys_dir: Path) -> None:
    response = await client.post("/partners", json={"kind": "enterprise"}, headers=admin(dev_keys_dir))
    assert response.status_code == 422
    assert response.json()["code"] == "request.invalid"
    bad_cursor = await client.get("/partners?cursor=!!", headers=admin(dev_keys_dir))
    assert bad_cursor.status_code == 400
    assert bad_cursor.json()["code"] == "pagination.bad_cursor"


async def test_duplicate_credit_code_is_a_clear_409_even_when_racing(
    client: httpx.AsyncClient, dev_keys_dir: Path
) -> None:
    code = credit_code()
    results = await asyncio.gather(
        *(
            client.post("/partners", json=partner_body("enterprise", credit_code=code), headers=admin(dev_keys_dir))
            for _ in range(3)
        )
    )
    statuses = sorted(r.status_code for r in results)
    assert statuses == [201, 409, 409], [r.text for r in results]
    conflict = next(r for r in results if r.status_code == 409).json()
    winner = next(r for r in results if r.status_code == 201).json()
    assert conflict["code"] == "partner.credit_code_taken"
    assert conflict["partner_id"] == winner["partner_id"]
    # Changing another partner's code to a taken one is refused as well.
    other = await client.post("/partners", json=partner_body("enterprise"), headers=admin(dev_keys_dir))
    body = {k: v for k, v in partner_body("enterprise", credit_code=code).items() if k != "contacts"}
    clash = await client.put(
        f"/partners/{other.json()['partner_id']}", json=body, headers={**admin(dev_keys_dir), **etag(other)}
    )
    assert clash.status_code == 409
    assert clash.json()["code"] == "partner.credit_code_taken"


async def test_idempotent_retry_registers_once(client: httpx.AsyncClient, dev_keys_dir: Path) -> None:
    body = partner_body("college")
    headers = {**admin(dev_keys_dir), "Idempotency-Key": f"reg-{uuid.uuid4()}"}
    first = await client.post("/partners", json=body, headers=headers)
    retry = await client.post("/partners", json=body, headers=headers)
    assert first.status_code == retry.status_code == 201
    assert retry.headers.get("idempotent-replayed") == "true"
    assert retry.json()["partner_id"] == first.json()["partner_id"]
    pid = first.json()["partner_id"]
    # A retried transition answers the first response and changes nothing a second time.
    apply_headers = {**admin(dev_keys_dir), "Idempotency-Key": f"apply-{uuid.uuid4()}"}
    apply_body = {"partner_id": pid, "reason": "letter"}
    applied = await client.post("/memberships", json=apply_body, headers=apply_headers)
    applied_again = await client.post("/memberships", json=apply_body, headers=apply_headers)
    assert applied.status_code == applied_again.status_code == 201
    assert applied_again.headers.get("idempotent-replayed") == "true"
    membership = await client.get(f"/memberships/{pid}", headers=admin(dev_keys_dir))
    assert len(membership.json()["history"]) == 1
    listed = await client.get(f"/partners?q={body['name_zh']}", headers=admin(dev_keys_dir))
    assert [p["partner_id"] for p in listed.json()["items"]] == [first.json()["partner_id"]]


# --- membership and council ---------------------------------------------------------------


async def test_membership_lifecycle_and_council_composition(
    client: httpx.AsyncClient, dev_keys_dir: Path, infra: Infrastructure
) -> None:
    keys = dev_keys_dir
    college = (await register(client, keys, "college"))["partner_id"]
    enterprise = (await register(client, keys, "enterprise"))["partner_id"]
    association = (await register(client, keys, "industry_association"))["partner_id"]
    agency = (await register(client, keys, "government_agency"))["partner_id"]
    for pid in (college, enterprise, association, agency):
        applied = await client.post("/memberships", json={"partner_id": pid, "reason": "letter"}, headers=admin(keys))
        assert applied.status_code == 201, applied.text
    twice = await client.post("/memberships", json={"partner_id": college, "reason": "x"}, headers=admin(keys))
    assert twice.status_code == 409
    unknown = await client.post("/memberships", json={"partner_id": "ent-none", "reason": "x"}, headers=admin(keys))
    assert unknown.status_code == 404

    # Illegal: reinstate / suspend / expel an applicant.
    for action in ("reinstate", "suspend", "expel"):
        refused = await client.post(f"/memberships/{college}/{action}", json={"reason": "r"}, headers=admin(keys))
        assert refused.status_code == 409, (action, refused.text)
        assert refused.json()["code"] == "membership.illegal_transition"
    for pid in (college, enterprise, association):
        admitted = await client.post(f"/memberships/{pid}/admit", json={"reason": "vote"}, headers=admin(keys))
        assert admitted.status_code == 200
        assert admitted.json()["status"] == "admitted"

    seat = {"term_start": "2026-01-01", "term_end": "2028-12-31"}
    not_member = await client.post(
        "/council",
        json={
            "seats": [
                {"position": "chair", "partner_id": college, "representative": "张伟", **seat},
                {"position": "director", "partner_id": agency, "representative": "周", **seat},
                {"position": "director", "partner_id": enterprise, "representative": "王芳", **seat},
            ],
            "reason": "founding",
        },
        headers=admin(keys),
    )
    assert not_member.status_code == 422
    assert not_member.json()["code"] == "council.not_a_member"
    missing_group = await client.post(
        "/council",
        json={
            "seats": [
                {"position": "chair", "partner_id": college, "representative": "张伟", **seat},
                {"position": "director", "partner_id": enterprise, "representative": "王芳", **seat},
            ],
            "reason": "founding",
        },
        headers=admin(keys),
    )
    assert missing_group.status_code == 422
    assert missing_group.json()["code"] == "council.composition"
    council = await client.post(
        "/council",
        json={
            "seats": [
                {"position": "chair", "partner_id": college, "representative": "张伟", **seat},
                {"position": "vice_chair", "partner_id": enterprise, "representative": "王芳", **seat},
                {"position": "director", "partner_id": association, "representative": "赵强", **seat},
            ],
            "reason": "founding assembly",
        },
        headers=admin(keys),
    )
    assert council.status_code == 201, council.text
    breaks = await client.post(f"/council/seats/{association}/vacate", json={"reason": "x"}, headers=admin(keys))
    assert breaks.status_code == 422
    assert breaks.json()["code"] == "council.composition"
    await client.post(f"/memberships/{agency}/admit", json={"reason": "vote"}, headers=admin(keys))
    added = await client.put(
        f"/council/seats/{agency}",
        json={"position": "supervisor", "representative": "周", **seat, "reason": "elected"},
        headers=admin(keys),
    )
    assert added.status_code == 200, added.text
    vacated = await client.post(
        f"/council/seats/{association}/vacate", json={"reason": "term ended"}, headers={**admin(keys), **etag(added)}
    )
    assert vacated.status_code == 200, vacated.text
    assert {s["partner_id"] for s in vacated.json()["seats"]} == {college, enterprise, agency}

    # suspend ↔ reinstate, then expel (final) and withdraw.
    for action, status in [("suspend", "suspended"), ("reinstate", "admitted"), ("suspend", "suspended")]:
        moved = await client.post(f"/memberships/{enterprise}/{action}", json={"reason": action}, headers=admin(keys))
        assert moved.json()["status"] == status
    expelled = await client.post(f"/memberships/{enterprise}/expel", json={"reason": "fraud"}, headers=admin(keys))
    assert expelled.json()["status"] == "expelled"
    final = await client.post(f"/memberships/{enterprise}/reinstate", json={"reason": "x"}, headers=admin(keys))
    assert final.status_code == 409
    history = (await client.get(f"/memberships/{enterprise}", headers=bearer(keys, "auditor"))).json()["history"]
    assert [h["action"] for h in history] == ["apply", "admit", "suspend", "reinstate", "suspend", "expel"]
    assert all(h["actor_id"] == "admin-chen" and h["reason"] and h["at"] for h in history)
    blank = await client.post(f"/memberships/{college}/withdraw", json={"reason": "  "}, headers=admin(keys))
    assert blank.status_code == 422
    assert blank.json()["code"] == "reason_required"

    events = await registry_events(infra, {enterprise}, until=lambda es: len(es) >= 7)
    changes = [p for _, p in events if isinstance(p, MembershipChanged)]
    assert [(c.from_status, c.to_status) for c in changes] == [
        (None, "applied"),
        ("applied", "admitted"),
        ("admitted", "suspended"),
        ("suspended", "admitted"),
        ("admitted", "suspended"),
        ("suspended", "expelled"),
    ]
    council_events = await registry_events(infra, {"council"}, until=lambda es: len(es) >= 3)
    assert [p.change for _, p in council_events][-3:] == ["constituted", "seat_assigned", "seat_vacated"]  # type: ignore[attr-defined]


# --- certification ------------------------------------------------------------------------


async def test_certification_grant_revoke_and_automatic_expiry_once(
    client: httpx.AsyncClient, dev_keys_dir: Path, infra: Infrastructure
) -> None:
    keys = dev_keys_dir
    enterprise = (await register(client, keys, "enterprise"))["partner_id"]
    college = (await register(client, keys, "college"))["partner_id"]
    not_enterprise = await client.post("/certifications", json={"partner_id": college}, headers=admin(keys))
    assert not_enterprise.status_code == 422
    assert not_enterprise.json()["code"] == "certification.not_enterprise"

    applied = await client.post("/certifications", json={"partner_id": enterprise}, headers=admin(keys))
    assert applied.status_code == 201, applied.text
    cid = applied.json()["certification_id"]
    duplicate = await client.post("/certifications", json={"partner_id": enterprise}, headers=admin(keys))
    assert duplicate.status_code == 409
    early_revoke = await client.post(f"/certifications/{cid}/revoke", json={"reason": "x"}, headers=admin(keys))
    assert early_revoke.status_code == 409

    now = datetime.now(UTC)
    granted = await client.post(
        f"/certifications/{cid}/grant",
        json={
            "certificate_number": "粤产教〔2026〕1号",
            "valid_from": (now - timedelta(days=1)).isoformat(),
            "valid_to": (now + timedelta(seconds=2)).isoformat(),
        },
        headers=admin(keys),
    )
    assert granted.status_code == 200, granted.text
    profile = (await client.get(f"/partners/{enterprise}/profile", headers=bearer(keys, "supervisor"))).json()
    assert profile["certified_now"] is True

    async def expired() -> bool:
        got = await client.get(f"/certifications/{cid}", headers=admin(keys))
        return bool(got.json()["status"] == "expired")

    for _ in range(60):
        if await expired():
            break
        await asyncio.sleep(0.25)
    else:
        raise AssertionError("the certificate did not expire")
    # Further rounds (and a round at a later instant) announce nothing more.
    application: FastAPI = client._transport.app  # type: ignore[attr-defined]
    again = await run_due(application.state.repositories, datetime.now(UTC) + timedelta(days=1))
    assert again.expired == 0

    # A second certification: granted, then revoked.
    second = await client.post("/certifications", json={"partner_id": enterprise}, headers=admin(keys))
    cid2 = second.json()["certification_id"]
    assert cid2 != cid
    await client.post(
        f"/certifications/{cid2}/grant",
        json={
            "certificate_number": "粤产教〔2026〕2号",
            "valid_from": now.isoformat(),
            "valid_to": (now + timedelta(days=365)).isoformat(),
        },
        headers=admin(keys),
    )
    revoked = await client.post(f"/certifications/{cid2}/revoke", json={"reason": "false filing"}, headers=admin(keys))
    assert revoked.json()["status"] == "revoked"

    events = await registry_events(infra, {enterprise}, until=lambda es: len(es) >= 7)
    await asyncio.sleep(1.5)  # a duplicate expiry would have had time to arrive
    events = await registry_events(infra, {enterprise}, until=lambda es: False, timeout_s=2)
    assert types_of(events) == [
        "partner.registered",
        "certification.applied",
        "certification.granted",
        "certification.expired",
        "certification.applied",
        "certification.granted",
        "certification.revoked",
    ]
    assert isinstance(events[2][1], CertificationGranted)
    assert events[2][1].certificate_number == "粤产教〔2026〕1号"
    assert isinstance(events[3][1], CertificationExpired)
    assert events[3][1].actor_id == "system"


# --- self-service applications -----------------------------------------------------------


async def test_self_service_applications_decided_with_a_reason(
    client: httpx.AsyncClient, dev_keys_dir: Path, infra: Infrastructure
) -> None:
    keys = dev_keys_dir
    enterprise = (await register(client, keys, "enterprise"))["partner_id"]
    other = (await register(client, keys, "enterprise"))["partner_id"]
    college = (await register(client, keys, "college"))["partner_id"]
    as_enterprise = partner_token(keys, "enterprise", enterprise)
    as_college = partner_token(keys, "college", college)

    # Certification: the enterprise applies for itself, never for another.
    for_other = await client.post("/certifications", json={"partner_id": other}, headers=as_enterprise)
    assert for_other.status_code == 403
    applied = await client.post("/certifications", json={"partner_id": enterprise}, headers=as_enterprise)
    assert applied.status_code == 201, applied.text
    cid = applied.json()["certification_id"]
    not_admin = await client.post(f"/certifications/{cid}/reject", json={"reason": "x"}, headers=as_enterprise)
    assert not_admin.status_code == 403
    no_reason = await client.post(f"/certifications/{cid}/reject", json={"reason": ""}, headers=admin(keys))
    assert no_reason.status_code == 422
    rejected = await client.post(
        f"/certifications/{cid}/reject", json={"reason": "no R&D investment evidence"}, headers=admin(keys)
    )
    assert rejected.status_code == 200, rejected.text
    assert (rejected.json()["status"], rejected.json()["decision_reason"]) == ("rejected", "no R&D investment evidence")
    twice = await client.post(f"/certifications/{cid}/grant", json=_grant("x"), headers=admin(keys))
    assert twice.status_code == 409
    again = await client.post("/certifications", json={"partner_id": enterprise}, headers=as_enterprise)
    assert again.status_code == 201, again.text
    granted = await client.post(
        f"/certifications/{again.json()['certification_id']}/grant",
        json=_grant("evidence complete"),
        headers=admin(keys),
    )
    assert granted.status_code == 200, granted.text
    assert granted.json()["decision_reason"] == "evidence complete"

    # Membership: a college applies for itself; the admin rejects with a reason; it applies again.
    foreign = await client.post("/memberships", json={"partner_id": college, "reason": "r"}, headers=as_enterprise)
    assert foreign.status_code == 403
    joined = await client.post("/memberships", json={"partner_id": college, "reason": "letter"}, headers=as_college)
    assert joined.status_code == 201, joined.text
    refused = await client.post(
        f"/memberships/{college}/reject", json={"reason": "articles not signed"}, headers=admin(keys)
    )
    assert refused.json()["status"] == "rejected"
    reapplied = await client.post(
        "/memberships", json={"partner_id": college, "reason": "articles signed"}, headers=as_college
    )
    assert reapplied.status_code == 201, reapplied.text
    admitted = await client.post(f"/memberships/{college}/admit", json={"reason": "council vote"}, headers=admin(keys))
    assert admitted.json()["status"] == "admitted"
    history = admitted.json()["history"]
    assert [(h["action"], h["actor_id"], h["reason"]) for h in history] == [
        ("apply", f"college-{college}", "letter"),
        ("reject", "admin-chen", "articles not signed"),
        ("apply", f"college-{college}", "articles signed"),
        ("admit", "admin-chen", "council vote"),
    ]

    events = await registry_events(infra, {enterprise, college}, until=lambda es: len(es) >= 10)
    assert [t for t in types_of(events) if t.startswith("certification")] == [
        "certification.applied",
        "certification.rejected",
        "certification.applied",
        "certification.granted",
    ]
    [rejection] = [p for _, p in events if isinstance(p, CertificationRejected)]
    assert (rejection.reason, rejection.actor_id) == ("no R&D investment evidence", "admin-chen")
    changes = [p for _, p in events if isinstance(p, MembershipChanged)]
    assert [(c.action, c.to_status, c.reason) for c in changes] == [
        ("apply", "applied", "letter"),
        ("reject", "rejected", "articles not signed"),
        ("apply", "applied", "articles signed"),
        ("admit", "admitted", "council vote"),
    ]


def _grant(reason: str) -> dict[str, str]:
    start = datetime.now(UTC)
    return {
        "certificate_number": f"粤产教〔2026〕{uuid.uuid4().hex[:6]}号",
        "valid_from": start.isoformat(),
        "valid_to": (start + timedelta(days=365)).isoformat(),
        "reason": reason,
    }


# --- agreements ---------------------------------------------------------------------------


async def test_agreement_validation_failures(client: httpx.AsyncClient, dev_keys_dir: Path) -> None:
    keys = dev_keys_dir
    college = (await register(client, keys, "college"))["partner_id"]
    enterprise = (await register(client, keys, "enterprise"))["partner_id"]
    other_enterprise = (await register(client, keys, "enterprise"))["partner_id"]
    cases = [
        (agreement_body(college, "ent-nobody"), "agreement.unknown_party"),
        (
            {
                **agreement_body(college, enterprise),
                "parties": [
                    {"partner_id": enterprise, "role": "lead"},
                    {"partner_id": other_enterprise, "role": "participant"},
                ],
            },
            "agreement.no_college",
        ),
        ({**agreement_body(college, enterprise), "end_date": "2000-01-01"}, "agreement.dates"),
        ({**agreement_body(college, enterprise), "majors": ["4601x"]}, "major_code_invalid"),
        ({**agreement_body(college, enterprise), "modes": ["tea_party"]}, "request.invalid"),
    ]
    for body, code in cases:
        response = await client.post("/agreements", json=body, headers=admin(keys))
        assert response.status_code == 422, response.text
        assert response.json()["code"] == code


async def test_agreement_lifecycle_signing_amendment_and_events(
    client: httpx.AsyncClient, dev_keys_dir: Path, infra: Infrastructure
) -> None:
    keys = dev_keys_dir
    college = (await register(client, keys, "college"))["partner_id"]
    enterprise = (await register(client, keys, "enterprise"))["partner_id"]
    agency = (await register(client, keys, "government_agency"))["partner_id"]
    body = agreement_body(college, enterprise, (agency, "sponsor"))
    drafted = await client.post("/agreements", json=body, headers=admin(keys))
    assert drafted.status_code == 201, drafted.text
    aid = drafted.json()["agreement_id"]
    assert drafted.json()["pending_party_ids"] == [college, enterprise, agency]

    early = await client.post(f"/agreements/{aid}/activate", headers=admin(keys))
    assert early.status_code == 409
    # Each party signs for itself.
    not_party = await client.post(f"/agreements/{aid}/sign", json={}, headers=partner_token(keys, "college", "col-x"))
    assert not_party.status_code == 403
    for_other = await client.post(
        f"/agreements/{aid}/sign", json={"party_id": enterprise}, headers=partner_token(keys, "college", college)
    )
    assert for_other.status_code == 403
    admin_for_college = await client.post(f"/agreements/{aid}/sign", json={"party_id": college}, headers=admin(keys))
    assert admin_for_college.status_code == 403
    signed_c = await client.post(f"/agreements/{aid}/sign", json={}, headers=partner_token(keys, "college", college))
    assert signed_c.status_code == 200, signed_c.text
    twice = await client.post(f"/agreements/{aid}/sign", json={}, headers=partner_token(keys, "college", college))
    assert twice.status_code == 409
    assert twice.json()["code"] == "agreement.already_signed"
    await client.post(f"/agreements/{aid}/sign", json={}, headers=partner_token(keys, "enterprise", enterprise))
    # The agency has no token of its own: the admin records its signature; the start date has
    # passed, so the last signature brings the agreement into force at once.
    last = await client.post(f"/agreements/{aid}/sign", json={"party_id": agency}, headers=admin(keys))
    assert last.status_code == 200, last.text
    assert last.json()["status"] == "active"
    assert last.json()["pending_party_ids"] == []

    # Amend: a proposal every party must sign before it takes effect; stale If-Match refused.
    amended_terms = {**body, "obligations": [{**body["obligations"][0], "quantity": 50}]}
    no_match = await client.post(
        f"/agreements/{aid}/amendments", json={**amended_terms, "summary": "50 posts"}, headers=admin(keys)
    )
    assert no_match.status_code == 428
    stale = await client.post(
        f"/agreements/{aid}/amendments",
        json={**amended_terms, "summary": "50 posts"},
        headers={**admin(keys), **etag(drafted)},
    )
    assert stale.status_code == 412
    amended = await client.post(
        f"/agreements/{aid}/amendments",
        json={**amended_terms, "summary": "50 posts"},
        headers={**admin(keys), **etag(last)},
    )
    assert amended.status_code == 200, amended.text
    assert amended.json()["terms_version"] == 1
    assert amended.json()["terms"]["obligations"][0]["quantity"] == 40
    assert amended.json()["pending_amendment"]["revision"]["version"] == 2
    assert amended.json()["amendment_pending_party_ids"] == [college, enterprise, agency]
    new_parties = {
        **amended_terms,
        "parties": body["parties"][:2],
        "obligations": [],
        "summary": "drop the agency",
    }
    fixed = await client.post(
        f"/agreements/{aid}/amendments", json=new_parties, headers={**admin(keys), **etag(amended)}
    )
    assert fixed.status_code == 422
    assert fixed.json()["code"] == "agreement.parties_fixed"
    # Each party signs the amendment for itself; the admin records the agency's signature.
    for_other = await client.post(
        f"/agreements/{aid}/amendments/sign",
        json={"party_id": college},
        headers=partner_token(keys, "enterprise", enterprise),
    )
    assert for_other.status_code == 403
    c_signs = await client.post(
        f"/agreements/{aid}/amendments/sign", json={}, headers=partner_token(keys, "college", college)
    )
    assert c_signs.status_code == 200, c_signs.text
    assert c_signs.json()["amendment_pending_party_ids"] == [enterprise, agency]
    again = await client.post(
        f"/agreements/{aid}/amendments/sign", json={}, headers=partner_token(keys, "college", college)
    )
    assert again.status_code == 409
    assert again.json()["code"] == "agreement.already_signed"
    await client.post(
        f"/agreements/{aid}/amendments/sign", json={}, headers=partner_token(keys, "enterprise", enterprise)
    )
    in_force = await client.post(f"/agreements/{aid}/amendments/sign", json={"party_id": agency}, headers=admin(keys))
    assert in_force.status_code == 200, in_force.text
    assert in_force.json()["terms_version"] == 2
    assert in_force.json()["terms"]["obligations"][0]["quantity"] == 50
    assert in_force.json()["pending_amendment"] is None
    nothing_pending = await client.post(
        f"/agreements/{aid}/amendments/sign", json={}, headers=partner_token(keys, "college", college)
    )
    assert nothing_pending.status_code == 409
    assert nothing_pending.json()["code"] == "agreement.no_pending_amendment"
    # A proposal a party will not sign is withdrawn with a reason; the terms in force stay.
    unsigned = await client.post(
        f"/agreements/{aid}/amendments",
        json={**body, "obligations": [{**body["obligations"][0], "quantity": 70}], "summary": "70 posts"},
        headers={**admin(keys), **etag(in_force)},
    )
    assert unsigned.status_code == 200, unsigned.text
    not_admin = await client.post(
        f"/agreements/{aid}/amendments/withdraw", json={"reason": "x"}, headers=partner_token(keys, "college", college)
    )
    assert not_admin.status_code == 403
    withdrawn = await client.post(
        f"/agreements/{aid}/amendments/withdraw", json={"reason": "the enterprise declined"}, headers=admin(keys)
    )
    assert withdrawn.status_code == 200, withdrawn.text
    assert (withdrawn.json()["pending_amendment"], withdrawn.json()["terms_version"]) == (None, 2)
    assert withdrawn.json()["terms"]["obligations"][0]["quantity"] == 50
    versions = (await client.get(f"/agreements/{aid}/versions", headers=bearer(keys, "supervisor"))).json()
    assert [r["version"] for r in versions["revisions"]] == [1, 2]
    assert versions["revisions"][0]["terms"]["obligations"][0]["quantity"] == 40

    # suspend ↔ resume; illegal ones refused; terminate is final.
    assert (
        await client.post(f"/agreements/{aid}/resume", json={"reason": "r"}, headers=admin(keys))
    ).status_code == 409
    suspended = await client.post(f"/agreements/{aid}/suspend", json={"reason": "audit"}, headers=admin(keys))
    assert suspended.json()["status"] == "suspended"
    resumed = await client.post(f"/agreements/{aid}/resume", json={"reason": "cleared"}, headers=admin(keys))
    assert resumed.json()["status"] == "active"
    terminated = await client.post(f"/agreements/{aid}/terminate", json={"reason": "plant closed"}, headers=admin(keys))
    assert terminated.json()["status"] == "terminated"
    after = await client.post(f"/agreements/{aid}/suspend", json={"reason": "x"}, headers=admin(keys))
    assert after.status_code == 409
    assert after.json()["code"] == "agreement.illegal_transition"

    events = await registry_events(infra, {aid}, until=lambda es: len(es) >= 16)
    assert types_of(events) == [
        "agreement.drafted",
        "agreement.party_signed",
        "agreement.party_signed",
        "agreement.party_signed",
        "agreement.signed",
        "agreement.activated",
        "agreement.amendment_proposed",
        "agreement.amendment_signed",
        "agreement.amendment_signed",
        "agreement.amendment_signed",
        "agreement.amended",
        "agreement.amendment_proposed",
        "agreement.amendment_withdrawn",
        "agreement.suspended",
        "agreement.resumed",
        "agreement.terminated",
    ]
    payloads = [p for _, p in events]
    assert isinstance(payloads[0], AgreementDrafted)
    assert payloads[0].college_ids == (college,)
    assert isinstance(payloads[3], AgreementPartySigned)
    assert payloads[3].pending_party_ids == ()
    assert isinstance(payloads[4], AgreementSigned)
    assert isinstance(payloads[5], AgreementActivated)
    assert payloads[5].status == "active"
    proposed = payloads[6]
    assert isinstance(proposed, AgreementAmendmentProposed)
    assert (proposed.version, proposed.proposed_version) == (1, 2)
    assert proposed.pending_party_ids == (college, enterprise, agency)
    assert proposed.proposal.obligations[0].quantity == 50
    last_signature = payloads[9]
    assert isinstance(last_signature, AgreementAmendmentSigned)
    assert (last_signature.party_id, last_signature.pending_party_ids) == (agency, ())
    assert isinstance(payloads[10], AgreementAmended)
    assert payloads[10].version == 2
    assert payloads[10].obligations[0].quantity == 50
    assert payloads[10].previous_version == 1
    withdrawal = payloads[12]
    assert isinstance(withdrawal, AgreementAmendmentWithdrawn)
    assert (withdrawal.version, withdrawal.proposed_version, withdrawal.reason) == (2, 3, "the enterprise declined")
    assert {p.partner_id: p.kind for p in payloads[0].parties} == {  # type: ignore[attr-defined]
        college: "college",
        enterprise: "enterprise",
        agency: "government_agency",
    }


async def test_agreement_starts_and_completes_by_itself(
    app: tuple[FastAPI, httpx.AsyncClient], dev_keys_dir: Path, infra: Infrastructure
) -> None:
    application, client = app
    keys = dev_keys_dir
    college = (await register(client, keys, "college"))["partner_id"]
    enterprise = (await register(client, keys, "enterprise"))["partner_id"]
    start = date.today() + timedelta(days=10)
    end = start + timedelta(days=365)
    drafted = await client.post(
        "/agreements", json=agreement_body(college, enterprise, start=start, end=end), headers=admin(keys)
    )
    aid = drafted.json()["agreement_id"]
    await client.post(f"/agreements/{aid}/sign", json={}, headers=partner_token(keys, "college", college))
    signed = await client.post(
        f"/agreements/{aid}/sign", json={}, headers=partner_token(keys, "enterprise", enterprise)
    )
    assert signed.json()["status"] == "signed"  # starts in ten days

    repos = application.state.repositories
    at_start = datetime.combine(start, datetime.min.time(), UTC) + timedelta(hours=1)
    rounds = await asyncio.gather(run_due(repos, at_start), run_due(repos, at_start))  # two replicas at once
    assert sum(r.activated for r in rounds) == 1
    got = await client.get(f"/agreements/{aid}", headers=admin(keys))
    assert got.json()["status"] == "active"
    after_end = datetime.combine(end + timedelta(days=1), datetime.min.time(), UTC) + timedelta(hours=1)
    done = await asyncio.gather(run_due(repos, after_end), run_due(repos, after_end))
    assert sum(r.completed for r in done) == 1
    assert (await run_due(repos, after_end)).completed == 0
    got = await client.get(f"/agreements/{aid}", headers=admin(keys))
    assert got.json()["status"] == "completed"
    events = await registry_events(infra, {aid}, until=lambda es: len(es) >= 6)
    assert types_of(events) == [
        "agreement.drafted",
        "agreement.party_signed",
        "agreement.party_signed",
        "agreement.signed",
        "agreement.activated",
        "agreement.completed",
    ]
    assert isinstance(events[-1][1], AgreementCompleted)
    assert events[-1][1].actor_id == "system"


async def test_a_claim_left_by_a_crash_is_taken_over_once_stale(
    app: tuple[FastAPI, httpx.AsyncClient], dev_keys_dir: Path
) -> None:
    application, client = app
    claims = application.state.runtime.db["credit_codes"]
    fresh, stale = credit_code(), credit_code()
    now = datetime.now(UTC)
    # A registration in flight (its partner not written yet) holds its code...
    await claims.insert_one({"_id": fresh, "partner_id": "ent-inflight", "claimed_at": now})
    refused = await client.post(
        "/partners", json=partner_body("enterprise", credit_code=fresh), headers=admin(dev_keys_dir)
    )
    assert refused.status_code == 409
    assert refused.json()["code"] == "partner.credit_code_taken"
    # ...but a claim whose writer died long ago (no partner behind it) is taken over.
    await claims.insert_one({"_id": stale, "partner_id": "ent-crashed", "claimed_at": now - timedelta(hours=1)})
    taken = await client.post(
        "/partners", json=partner_body("enterprise", credit_code=stale), headers=admin(dev_keys_dir)
    )
    assert taken.status_code == 201, taken.text
    holder = await claims.find_one({"_id": stale})
    assert holder is not None
    assert holder["partner_id"] == taken.json()["partner_id"]
