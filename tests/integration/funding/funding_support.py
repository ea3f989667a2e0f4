"""Helpers shared by the funding service's integration tests (not a test module)."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Awaitable, Callable, Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, cast

import httpx

from alliance_devstack.provision import Infrastructure
from alliance_funding.service import readmodels
from alliance_funding.service.ports import Repositories
from alliance_funding.settings import Settings
from alliance_shared.contract.base import EventPayload
from alliance_shared.contract.envelope import CloudEvent, to_kafka
from alliance_shared.contract.evaluation import RectificationClosed, RectificationOverdue, ResultCompleted
from alliance_shared.contract.registry import AgreementActivated, CertificationGranted, PartnerRegistered
from alliance_shared.contract.topics import EVALUATION_EVENTS, REGISTRY_EVENTS
from tests.conftest import service_env
from tests.support.http import bearer
from tests.support.kafka_io import produce

KafkaRecord = tuple[bytes | None, bytes | None, list[tuple[str, bytes]]]
TOPICS = (REGISTRY_EVENTS, EVALUATION_EVENTS)


def funding_settings(infra: Infrastructure, unique: str, keys_dir: Path, **extra: Any) -> Settings:
    env = service_env(
        infra,
        "FUNDING_",
        f"funding_{unique}",
        keys_dir,
        kafka_consumer_group=f"alliance-funding-test-{unique}",
        **extra,
    )
    return Settings(**{k.removeprefix("FUNDING_").lower(): v for k, v in env.items()})  # type: ignore[arg-type]


async def wait_for(predicate: Callable[[], Awaitable[bool]], timeout_s: float = 30.0) -> None:
    deadline = asyncio.get_running_loop().time() + timeout_s
    while not await predicate():
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError("condition not met in time")
        await asyncio.sleep(0.2)


def new_id(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:10]}"


def now() -> datetime:
    return datetime.now(UTC)


def record(payload: EventPayload, source: str, event_id: str | None = None) -> KafkaRecord:
    return to_kafka(CloudEvent.wrap(payload, source, event_id=event_id))


def partner_registered(
    partner_id: str, kind: str, region_code: str = "440305", at: datetime | None = None
) -> KafkaRecord:
    data: dict[str, Any] = {
        "partner_id": partner_id,
        "kind": kind,
        "name_zh": f"机构 {partner_id}",
        "credit_code": "91440300MA5G4WNN43",
        "region_code": region_code,
        "sector_code": "C39",
        "address": "深圳市南山区",
        "status": "active",
        "college": {"level": "higher_vocational"} if kind == "college" else None,
        "enterprise": {"size": "medium", "headcount": 100} if kind == "enterprise" else None,
        "occurred_at": (at or now()).isoformat(),
        "actor_id": "admin",
    }
    return record(PartnerRegistered.model_validate(data), "registry")


def certification_granted(partner_id: str) -> KafkaRecord:
    return record(
        CertificationGranted(
            certification_id=new_id("cert"),
            partner_id=partner_id,
            partner_name=f"企业 {partner_id}",
            certificate_number="CERT-1",
            valid_from=now() - timedelta(days=400),
            valid_to=now() + timedelta(days=400),
            occurred_at=now(),
            actor_id="admin",
        ),
        "registry",
    )


def agreement_activated(
    agreement_id: str, college_id: str, enterprise_id: str, region_code: str = "440305"
) -> KafkaRecord:
    return agreement_event(AgreementActivated, agreement_id, college_id, enterprise_id, region_code=region_code)


def agreement_event(
    kind: type[EventPayload], agreement_id: str, college_id: str, enterprise_id: str, **fields: Any
) -> KafkaRecord:
    """A registry agreement event of ``kind`` (suspended, resumed, …) as a Kafka record."""
    return record(agreement_payload(kind, agreement_id, college_id, enterprise_id, **fields), "registry")


async def sibling_agreement(repos: Repositories, agreement_id: str) -> str:
    """Another active agreement of the same college and enterprise, told to the read model
    through its use case (an agreement has one application per programme: a test that
    needs several applications in one programme needs several agreements)."""
    view = await repos.agreements.get(agreement_id)
    assert view is not None, agreement_id
    college = next(p.partner_id for p in view.item.parties if p.kind == "college")
    enterprise = next(p.partner_id for p in view.item.parties if p.kind == "enterprise")
    sibling = new_id("agr")
    payload = agreement_payload(AgreementActivated, sibling, college, enterprise)
    await readmodels.apply_agreement_event(repos, new_id("evt"), cast(AgreementActivated, payload))
    return sibling


def agreement_payload(
    kind: type[EventPayload],
    agreement_id: str,
    college_id: str,
    enterprise_id: str,
    *,
    status: str = "active",
    region_code: str = "440305",
    **extra: Any,
) -> EventPayload:
    """A registry agreement event of ``kind`` with ``extra`` fields (a suspension's reason)."""
    parties = [
        {"partner_id": college_id, "kind": "college", "role": "lead", "region_code": region_code, "name": "学院"},
        {
            "partner_id": enterprise_id,
            "kind": "enterprise",
            "role": "participant",
            "region_code": region_code,
            "name": "企业",
        },
    ]
    data = {
        "agreement_id": agreement_id,
        "version": 1,
        "status": status,
        "title": f"合作协议 {agreement_id}",
        "party_ids": [college_id, enterprise_id],
        "college_ids": [college_id],
        "enterprise_ids": [enterprise_id],
        "parties": parties,
        "modes": ["internship_base", "order_class"],
        "majors": ["460103"],
        "start_date": "2025-01-01",
        "end_date": "2028-12-31",
        "declared_depth": "middle",
        "obligations": [],
        "occurred_at": now().isoformat(),
        "actor_id": "admin",
        **extra,
    }
    return kind.model_validate(data)


def result_completed(
    agreement_id: str, party_ids: Sequence[str], grade: str, cycle_kind: str = "mid_term", at: datetime | None = None
) -> KafkaRecord:
    payload = ResultCompleted.model_validate(
        {
            "result_id": new_id("res"),
            "agreement_id": agreement_id,
            "cycle_id": new_id("cyc"),
            "cycle_kind": cycle_kind,
            "framework_id": "default",
            "framework_version": 1,
            "score_hundredths": 8000,
            "grade": grade,
            "overall_risk": "on_track",
            "indicators": [],
            "actual_depth": "middle",
            "declared_depth": "middle",
            "formality_risk": False,
            "party_ids": list(party_ids),
            "occurred_at": (at or now()).isoformat(),
            "actor_id": "system",
        }
    )
    return record(payload, "evaluation")


def rectification(agreement_id: str, party_ids: Sequence[str], order_id: str, *, closed: bool) -> KafkaRecord:
    common: dict[str, Any] = {
        "order_id": order_id,
        "agreement_id": agreement_id,
        "result_id": "res-x",
        "responsible_party_id": party_ids[0],
        "party_ids": list(party_ids),
        "due_at": now().isoformat(),
        "occurred_at": now().isoformat(),
        "actor_id": "system",
    }
    if closed:
        return record(
            RectificationClosed.model_validate({**common, "was_overdue": True, "reason": "done"}), "evaluation"
        )
    return record(RectificationOverdue.model_validate(common), "evaluation")


async def send(infra: Infrastructure, topic: str, records: Sequence[KafkaRecord]) -> None:
    await produce(infra.kafka_admin, topic, records)


PROGRAMME_BODY: dict[str, Any] = {
    "name": "Shenzhen integration fund",
    "fiscal_year": 2026,
    "appropriated_minor": 1_000_000,
    "eligibility": {
        "lead_partner_kinds": ["college", "enterprise"],
        "require_certified_enterprise": True,
        "require_active_agreement": True,
        "region_prefix": "4403",
    },
    "award_cap_minor": 500_000,
    "min_cofunding_bp": 2000,
    "tranche_template": [
        {"name": "start-up", "share_bp": 3000, "release": {"kind": "on_award"}},
        {
            "name": "mid-term",
            "share_bp": 4000,
            "release": {"kind": "evaluation", "cycle_kind": "mid_term", "min_grade": "pass"},
        },
        {"name": "final", "share_bp": 3000, "release": {"kind": "manual"}},
    ],
}


class Actors:
    """Bearer headers of the people in a scenario."""

    def __init__(self, keys: Path, college_id: str, enterprise_id: str) -> None:
        self.officer = bearer(keys, "funding_officer", sub="officer-zhang")
        self.officer2 = bearer(keys, "funding_officer", sub="officer-wu")
        self.approver = bearer(keys, "funding_approver", sub="approver-li")
        self.approver2 = bearer(keys, "funding_approver", sub="approver-he")
        self.auditor = bearer(keys, "auditor", sub="auditor-ma")
        self.college = bearer(keys, "college", sub="col-user", partner_id=college_id)
        self.enterprise = bearer(keys, "enterprise", sub="ent-user", partner_id=enterprise_id)


def with_etag(headers: dict[str, str], response: httpx.Response) -> dict[str, str]:
    return {**headers, "If-Match": response.headers["etag"]}


async def open_programme(http: httpx.AsyncClient, who: Actors, **changes: Any) -> dict[str, Any]:
    body = {
        **PROGRAMME_BODY,
        "opens_at": (now() - timedelta(days=1)).isoformat(),
        "closes_at": (now() + timedelta(days=30)).isoformat(),
        **changes,
    }
    created = await http.post("/programmes", json=body, headers=who.officer)
    assert created.status_code == 201, created.text
    opened = await http.post(
        f"/programmes/{created.json()['programme_id']}/open", headers=with_etag(who.officer, created)
    )
    assert opened.status_code == 200, opened.text
    return dict(opened.json())


async def award_for(
    http: httpx.AsyncClient, who: Actors, programme_id: str, agreement_id: str, amount: int = 300_000
) -> dict[str, Any]:
    """Draft → submit → review → approve (officer) → grant (approver): the award."""
    draft = await http.post(
        "/applications",
        json={
            "programme_id": programme_id,
            "agreement_id": agreement_id,
            "requested_minor": amount,
            "cofunding_minor": amount,
            "budget_lines": [{"category": "equipment", "amount_minor": amount}],
        },
        headers=who.college,
    )
    assert draft.status_code == 201, draft.text
    app_id = draft.json()["application_id"]
    submitted = await http.post(f"/applications/{app_id}/submit", headers=with_etag(who.college, draft))
    assert submitted.status_code == 200, submitted.text
    review = await http.post(f"/applications/{app_id}/review", headers=with_etag(who.officer, submitted))
    assert review.status_code == 200, review.text
    decided = await http.post(
        f"/applications/{app_id}/decision",
        json={"decision": "approve", "reason": "sound plan", "approved_minor": amount},
        headers=with_etag(who.officer, review),
    )
    assert decided.status_code == 200, decided.text
    granted = await http.post(f"/applications/{app_id}/award", headers=who.approver)  # the second person
    assert granted.status_code == 200, granted.text
    award = await http.get(f"/awards/awd-{app_id}", headers=who.officer)
    assert award.status_code == 200, award.text
    return dict(award.json())
