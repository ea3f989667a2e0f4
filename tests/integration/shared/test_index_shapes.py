"""Every query the services send is served by an index they declare, and their command
and consume paths read by `_id` (issue 13, item 3).

Each service runs on a database of its own with a pymongo command listener recording
what it sends (tests/support/query_shapes.py). First its main command flows and
consumed events run, and what they sent must read by `_id` alone — but for the
allow-list below, each entry saying why it is not hot. Then every GET route of its API
is called with each query parameter its OpenAPI document offers (every value of an
enumeration), as every role; every query recorded in both phases must be served by a
declared ``IndexSpec`` (the ESR rule). The unserved shapes are printed with where
they were sent from.
"""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable, Iterable, Mapping
from datetime import UTC, date, datetime, timedelta
from fnmatch import fnmatchcase
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from alliance_devstack.provision import Infrastructure
from alliance_evaluation.app import build_app as build_evaluation
from alliance_funding.app import build_app as build_funding
from alliance_notifications.app import build_app as build_notifications
from alliance_registry.app import build_app as build_registry
from alliance_registry.service.incentives import award_entry_id
from alliance_shared.audit import AUDIT_INDEXES
from alliance_shared.contract import college
from alliance_shared.contract.topics import EVALUATION_EVENTS, FUNDING_EVENTS, REGISTRY_EVENTS, college_reports_topic
from alliance_shared.contract.vocabulary import Role
from alliance_shared.persistence.mongo import IndexSpec
from alliance_shared.persistence.pagination import encode_cursor
from alliance_shared.persistence.versioned_store import versioned_indexes
from alliance_shared.runtime import ServiceRuntime
from alliance_shared.web.idempotency import IDEMPOTENCY_INDEXES
from tests.integration.evaluation import evaluation_support as evaluation
from tests.integration.funding import funding_support as funding
from tests.integration.notifications import notifications_support as notifications
from tests.integration.registry import registry_support as registry
from tests.support.http import bearer, running
from tests.support.kafka_io import produce, skip_history
from tests.support.query_shapes import QueryShape, Recorded, probing, recorder, unserved
from tests.unit.notifications.notifications_support import EXAMPLE_PAYLOADS

pytestmark = pytest.mark.infra

RUN = uuid.uuid4().hex[:8]
PARTNER_ROLES = {Role.COLLEGE, Role.ENTERPRISE, Role.AGENCY_STAFF}
#: Parameters that page or size a list rather than filter it (a cursor is given as a value of its own).
NOT_FILTERS = {"limit"}

#: Reads on command and consume paths that filter by more than `_id`, each with why it is
#: not hot. Keyed by (collection — "*_journal": every journal —, the filter's and sort's fields).
ALLOWED_OFF_ID: dict[tuple[str, frozenset[str]], str] = {
    ("*_journal", frozenset({"_written_at"})): "the relay's sweep for versions a crash left unsettled: "
    "once per scan interval, not per write (written versions are handed to the relay directly)",
    ("*_settled", frozenset({"at"})): "the relay's sweep: the versions settled since its horizon, "
    "once per scan interval",
    ("audit_trail", frozenset({"_id"})): "the audit chain's verification: the whole chain, once per verify interval",
    ("audit_trail", frozenset({"entry_id"})): "the audit chain after a refused append (another writer "
    "took the sequence number, or a replay): which entries are in already, by the unique entry_id",
    # registry
    ("certifications", frozenset({"status", "_id"})): "the schedule's pass over certified "
    "enterprises (expiry), once per schedule interval",
    ("agreements", frozenset({"status", "_id"})): "the schedule's pass over agreements due to start "
    "or end, once per schedule interval",
    ("certifications", frozenset({"partner_id", "_id"})): "an enterprise's certifications (a few over "
    "time, so no one `_id`): on a certification request, and when an award or a tax statement for it "
    "arrives (per award or statement, not per report)",
    ("incentives", frozenset({"partner_id", "status", "_id"})): "a certification revoked (rare): the "
    "enterprise's open register entries, by index",
    # funding
    ("applications", frozenset({"status", "_id"})): "the reconciliation pass over approved "
    "applications, once per reconcile interval",
    ("awards", frozenset({"recovery_open", "_id"})): "the recovery deadline pass, once per interval",
    ("programmes", frozenset({"_id"})): "the reconciliation pass over every programme's book, once "
    "per reconcile interval",
    ("awards", frozenset({"agreement_id", "status", "_id"})): "an agreement or evaluation event (per "
    "agreement, not per report) reaches the agreement's active awards — a few, by index",
    # evaluation
    ("rectifications", frozenset({"status", "_id"})): "the overdue pass over open orders, once per interval",
    ("appeals", frozenset({"status", "_id"})): "housekeeping: upheld appeals whose correction is unfinished",
    ("parked_reports", frozenset({"status", "_id"})): "housekeeping: reports parked for an unknown "
    "agreement, applied or dead-lettered when they waited too long",
    ("parked_reports", frozenset({"agreement_id", "status", "_id"})): "on an agreement event (not per "
    "report): the reports that came before their agreement; rare, and indexed",
    # Scoring when a cycle's window closes or the cycle completes: once per agreement per
    # cycle, each agreement's evidence and earlier results by index (its evidence is many records).
    ("evidence", frozenset({"agreement_id", "_id"})): "scoring: an agreement's evidence, once per cycle",
    ("manual_evidence", frozenset({"agreement_id", "_id"})): "scoring: an agreement's manual evidence, once per cycle",
    ("results", frozenset({"agreement_id", "_id"})): "scoring: an agreement's previous result, once per cycle",
    # notifications
    ("delivery_due", frozenset({"next_attempt_at"})): "the delivery worker's poll for due retries, "
    "once per poll interval, by time (what the due list is for)",
    ("deliveries", frozenset({"status", "_id"})): "the due list rebuilt from the open deliveries, "
    "at the worker's start only",
    ("reminders", frozenset({"status", "fire_at"})): "the reminder pass, once per scan interval, by time",
    ("digest_entries", frozenset({"digest_id", "_id"})): "the daily digest pass: entries not yet sent",
    ("webhook_endpoints", frozenset({"previous_secret"})): "the pass dropping rotated-out secrets "
    "after their overlap, once per interval",
    ("inbox", frozenset({"recipient_id", "read_at", "_id"})): "a person marks all their notices "
    "read: their unread entries, by index",
    # The recipient directory routing reads for every event: cached for directory_cache_seconds,
    # but read whole again after any change to it (a partner registered, a webhook added).
    ("contacts", frozenset({"_id"})): "the recipient directory (cached; read whole after a change)",
    ("role_groups", frozenset({"_id"})): "the recipient directory (cached; read whole after a change)",
    ("webhook_endpoints", frozenset({"_id"})): "the recipient directory (cached; read whole after a change)",
}


def allowed(shape: QueryShape) -> bool:
    return any(fnmatchcase(shape.collection, name) and fields == shape.fields for name, fields in ALLOWED_OFF_ID)


def declared_indexes(runtime: ServiceRuntime) -> list[IndexSpec]:
    """What ``ServiceRuntime.start`` creates: the service's own, the audit trail's, the
    idempotency records' and each store's journal's."""
    journals = [spec for store in runtime.stores for spec in versioned_indexes(store)]
    return [*runtime.indexes, *AUDIT_INDEXES, *IDEMPOTENCY_INDEXES, *journals]


def report(title: str, shapes: Iterable[QueryShape], commands: list[Recorded]) -> str:
    lines = [title]
    for shape in shapes:
        origins = sorted({c.origin for c in commands if shape in c.shapes})
        lines.append(f"  {shape.describe()}\n      sent from {'; '.join(origins)}")
    return "\n".join(lines)


def off_id(commands: list[Recorded]) -> list[QueryShape]:
    found: dict[QueryShape, None] = {}
    for command in commands:
        for shape in command.shapes:
            if not shape.by_id and not allowed(shape):
                found.setdefault(shape)
    return list(found)


# --- calling every GET route with each filter its API offers -------------------------------------


def _resolve(schema: Mapping[str, Any], components: Mapping[str, Any]) -> Mapping[str, Any]:
    if "$ref" in schema:
        return dict(components[schema["$ref"].rsplit("/", 1)[-1]])
    options = [s for s in schema.get("anyOf", []) if s.get("type") != "null"]
    return _resolve(options[0], components) if options else schema


def _values(name: str, schema: Mapping[str, Any], components: Mapping[str, Any], ids: Mapping[str, str]) -> list[Any]:
    """Values that exercise a query parameter: each of an enumeration, both booleans, else one."""
    schema = _resolve(schema, components)
    if name == "cursor":
        return [encode_cursor("0")]
    if "enum" in schema:
        return list(schema["enum"])
    kind = schema.get("type")
    if kind == "boolean":
        return ["true", "false"]
    if kind == "integer":
        return [max(int(schema.get("minimum", 1)), min(int(schema.get("maximum", 2026)), 2026))]
    if kind == "array":
        return [_values(name, schema["items"], components, ids)[:1]]
    if schema.get("format") == "date":
        return [date.today().isoformat()]
    if schema.get("format") == "date-time":
        return [datetime.now(UTC).isoformat()]
    pattern = str(schema.get("pattern", ""))
    if pattern.startswith("^[0-9]"):
        return ["44"]
    if pattern.startswith("^[A-"):
        return ["C"]
    return [ids.get(name, ids.get("partner_id", "probe"))]


async def call_every_list(
    http: httpx.AsyncClient, app: FastAPI, keys: Path, ids: Mapping[str, str]
) -> list[tuple[str, int]]:
    """Call every GET route, as each role, without filters and with each filter value; the
    (url, status) of any answer that was a server error."""
    spec = app.openapi()
    components = spec.get("components", {}).get("schemas", {})
    roles = {
        role: bearer(keys, role.value, partner_id=ids["partner_id"] if role in PARTNER_ROLES else None) for role in Role
    }
    failures: list[tuple[str, int]] = []
    for path, operations in spec["paths"].items():
        get = operations.get("get")
        if get is None or path.endswith("/stream"):
            continue  # the inbox stream never ends; it reads what /inbox reads
        parameters = get.get("parameters", [])
        url = path.format(**{p["name"]: ids.get(p["name"], "probe") for p in parameters if p["in"] == "path"})
        variants: list[dict[str, Any]] = [{}]
        for p in parameters:
            if p["in"] == "query" and p["name"] not in NOT_FILTERS:
                variants += [{p["name"]: v} for v in _values(p["name"], p.get("schema", {}), components, ids)]
        for headers in roles.values():
            if (await http.get(url, headers=headers)).status_code in (401, 403):
                continue
            for params in variants:
                answered = await http.get(url, params=params, headers=headers)
                if answered.status_code >= 500:
                    failures.append((str(answered.url), answered.status_code))
    return failures


async def check_service(
    app: FastAPI,
    keys: Path,
    database: str,
    command_flows: Callable[[httpx.AsyncClient], Awaitable[dict[str, str]]],
) -> None:
    listener = recorder()
    listener.databases.add(database)
    runtime: ServiceRuntime = app.state.runtime
    try:
        async with running(app) as http:
            ids = await command_flows(http)
            on_command_paths = listener.take()
            failures = await call_every_list(http, app, keys, ids)
            on_lists = listener.take()
    finally:
        listener.databases.discard(database)
        listener.take()  # what the service sent while stopping: not the next test's
    assert not failures, f"server errors: {failures}"
    assert on_command_paths, "nothing recorded on the command paths: is the listener registered?"
    assert on_lists, "nothing recorded by the lists"
    everything = on_command_paths + on_lists
    problems = []
    if reading_off_id := off_id(on_command_paths):
        problems.append(
            report("command and consume paths filter by more than `_id`:", reading_off_id, on_command_paths)
        )
    if missing := unserved(declared_indexes(runtime), (s for c in everything for s in c.shapes)):
        problems.append(report("queries no declared index serves:", missing, everything))
    assert not problems, "\n".join(problems)


# --- the services' command flows and consumed events ---------------------------------------------


async def test_registry_queries_are_index_served(infra: Infrastructure, dev_keys_dir: Path) -> None:
    group = f"alliance-registry-shapes-{RUN}"
    await skip_history(infra.kafka_admin, group, (REGISTRY_EVENTS, FUNDING_EVENTS))
    settings = registry.registry_settings(infra, f"shapes_{RUN}", dev_keys_dir, kafka_consumer_group=group)
    keys = dev_keys_dir
    app = build_registry(settings)

    async def flows(http: httpx.AsyncClient) -> dict[str, str]:
        admin = registry.admin(keys)
        college_id = (await registry.register(http, keys, "college"))["partner_id"]
        enterprise_id = (await registry.register(http, keys, "enterprise"))["partner_id"]
        applied = await http.post("/memberships", json={"partner_id": college_id, "reason": "letter"}, headers=admin)
        assert applied.status_code == 201, applied.text
        admitted = await http.post(f"/memberships/{college_id}/admit", json={"reason": "vote"}, headers=admin)
        assert admitted.status_code == 200, admitted.text
        certification = await http.post("/certifications", json={"partner_id": enterprise_id}, headers=admin)
        assert certification.status_code == 201, certification.text
        certification_id = certification.json()["certification_id"]
        now = datetime.now(UTC)
        validity = {
            "valid_from": (now - timedelta(days=1)).isoformat(),
            "valid_to": (now + timedelta(days=365)).isoformat(),
        }
        grant = {"certificate_number": "粤产教〔2026〕9号", **validity}
        granted = await http.post(f"/certifications/{certification_id}/grant", json=grant, headers=admin)
        assert granted.status_code == 200, granted.text
        body = registry.agreement_body(college_id, enterprise_id)
        drafted = await http.post("/agreements", json=body, headers=admin)
        assert drafted.status_code == 201, drafted.text
        agreement_id = drafted.json()["agreement_id"]
        for role, party in (("college", college_id), ("enterprise", enterprise_id)):
            signed = await http.post(
                f"/agreements/{agreement_id}/sign", json={}, headers=registry.partner_token(keys, role, party)
            )
            assert signed.status_code == 200, signed.text
        # consumed: funding's award to the catalogue enterprise (a fiscal entry), then the
        # registry's own revocation of its certification (the entry suspended)
        award_id = f"awd-shapes-{RUN}"
        award = {
            **EXAMPLE_PAYLOADS["funding.award.granted"],
            "award_id": award_id,
            "recipient_partner_id": enterprise_id,
            "occurred_at": now.isoformat(),
        }
        await notifications.publish(infra, notifications.event_of("funding.award.granted", award))
        entries = app.state.repositories.incentives

        async def entry_becomes(status: str) -> None:
            async def reached() -> bool:
                with probing():
                    entry = await entries.get(award_entry_id(award_id))
                return entry is not None and str(entry.item.status) == status

            await notifications.wait_for(reached, what=f"the award's incentive entry {status}")

        await entry_becomes("open")
        revoked = await http.post(
            f"/certifications/{certification_id}/revoke", json={"reason": "虚报投入"}, headers=admin
        )
        assert revoked.status_code == 200, revoked.text
        await entry_becomes("suspended")
        return {
            "partner_id": college_id,
            "college_id": college_id,
            "agreement_id": agreement_id,
            "certification_id": certification_id,
        }

    await check_service(app, keys, settings.mongo_database, flows)


async def test_funding_queries_are_index_served(infra: Infrastructure, dev_keys_dir: Path) -> None:
    settings = funding.funding_settings(infra, f"shapes_{RUN}", dev_keys_dir)
    await skip_history(infra.kafka_admin, settings.consumer_group)
    college_id, enterprise_id = funding.new_id("col"), funding.new_id("ent")
    agreement_id = funding.new_id("agr")
    who = funding.Actors(dev_keys_dir, college_id, enterprise_id)
    app = build_funding(settings)

    async def flows(http: httpx.AsyncClient) -> dict[str, str]:
        await funding.send(
            infra,
            REGISTRY_EVENTS,
            [
                funding.partner_registered(college_id, "college"),
                funding.partner_registered(enterprise_id, "enterprise"),
                funding.certification_granted(enterprise_id),
                funding.agreement_activated(agreement_id, college_id, enterprise_id),
            ],
        )

        repos = app.state.repos

        async def known() -> bool:
            with probing():
                enterprise = await repos.partners.get(enterprise_id)
                return (
                    await repos.agreements.get(agreement_id) is not None
                    and await repos.partners.get(college_id) is not None
                    and enterprise is not None
                    and bool(enterprise.item.certifications)
                )

        await funding.wait_for(known)
        programme = await funding.open_programme(http, who)
        award = await funding.award_for(http, who, programme["programme_id"], agreement_id)
        # an evaluation event about the agreement reaches its active awards (a hold here)
        granted = await http.get(f"/awards/{award['award_id']}", headers=who.officer)
        order = funding.rectification(agreement_id, [college_id, enterprise_id], funding.new_id("rect"), closed=False)
        await funding.send(infra, EVALUATION_EVENTS, [order])

        async def held() -> bool:
            with probing():
                now = await http.get(f"/awards/{award['award_id']}", headers=who.officer)
            return now.headers["etag"] != granted.headers["etag"]

        await funding.wait_for(held)
        return {
            "partner_id": college_id,
            "programme_id": programme["programme_id"],
            "award_id": award["award_id"],
            "application_id": award["application_id"],
            "enterprise_id": enterprise_id,
        }

    await check_service(app, dev_keys_dir, settings.mongo_database, flows)


async def test_evaluation_queries_are_index_served(infra: Infrastructure, dev_keys_dir: Path) -> None:
    settings = evaluation.evaluation_settings(infra, f"shapes_{RUN}", dev_keys_dir)
    await skip_history(infra.kafka_admin, settings.consumer_group)
    college_id, enterprise_id = evaluation.new_id("col"), evaluation.new_id("ent")
    agreement_id = evaluation.new_id("agr")
    supervisor = bearer(dev_keys_dir, "supervisor")

    async def flows(http: httpx.AsyncClient) -> dict[str, str]:
        activated = evaluation.agreement_event(
            agreement_id, "activated", college_ids=[college_id], enterprise_ids=[enterprise_id]
        )
        # The college's principal first: its credential is in force by the time its report is sent.
        reporter = await infra.onboard_college(college_id)
        await evaluation.send(infra, REGISTRY_EVENTS, [activated])

        async def known() -> bool:
            with probing():
                return (await http.get(f"/agreements/{agreement_id}", headers=supervisor)).status_code == 200

        await evaluation.wait_for(known)
        placed = college.InternshipPlaced(
            report_id="PL-1",
            agreement_id=agreement_id,
            college_id=college_id,
            occurred_on=date(evaluation.LAST_YEAR, 3, 3),
            student_ref="S1",
            enterprise_id=enterprise_id,
            post="CNC assistant",
            start_date=date(evaluation.LAST_YEAR, 3, 3),
            planned_months=6,
        )
        await produce(reporter, college_reports_topic(college_id), [evaluation.report_record(placed)])

        window = {"window_start": str(evaluation.WINDOW_START), "window_end": str(evaluation.WINDOW_END)}

        async def evidence_in() -> bool:
            with probing():
                found = await http.get(f"/agreements/{agreement_id}/evidence", params=window, headers=supervisor)
            return found.status_code == 200 and found.json()["reports_received"] >= 1

        await evaluation.wait_for(evidence_in)
        opened = await evaluation.open_cycle(http, supervisor, [agreement_id])
        await evaluation.complete_cycle(http, supervisor, opened)
        return {"partner_id": college_id, "agreement_id": agreement_id, "cycle_id": opened.json()["cycle_id"]}

    await check_service(build_evaluation(settings), dev_keys_dir, settings.mongo_database, flows)


async def test_notifications_queries_are_index_served(infra: Infrastructure, dev_keys_dir: Path) -> None:
    settings = notifications.notifications_settings(infra, f"shapes_{RUN}", dev_keys_dir)
    await notifications.skip_history(infra.kafka_admin, settings.consumer_group)
    partner_id = notifications.new_id("col")
    address = f"{partner_id}@example.cn"
    app = build_notifications(settings)

    async def flows(http: httpx.AsyncClient) -> dict[str, str]:
        registered = notifications.partner_registered(
            partner_id, "college", "深圳职业技术大学", notifications.contact("李老师", address)
        )
        paid_payload = {**EXAMPLE_PAYLOADS["funding.tranche.paid"], "recipient_partner_id": partner_id}
        paid = notifications.event_of("funding.tranche.paid", paid_payload)
        await notifications.publish(infra, registered)
        contacts = app.state.runtime.db["contacts"]

        async def known() -> bool:
            with probing():
                return await contacts.find_one({"_id": partner_id}) is not None

        await notifications.wait_for(known, what="the contact")
        await notifications.publish(infra, paid)

        async def mailed() -> bool:
            return bool(notifications.mails_to(infra, address))

        await notifications.wait_for(mailed, what="the tranche mail")
        college = bearer(dev_keys_dir, "college", partner_id=partner_id)
        marked = await http.post("/inbox/read-all", headers=college)
        assert marked.status_code == 200, marked.text
        return {"partner_id": partner_id, "recipient_id": partner_id, "event_id": paid.id}

    await check_service(app, dev_keys_dir, settings.mongo_database, flows)
