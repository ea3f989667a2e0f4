"""Helpers shared by the registry service's integration tests (not a test module)."""

from __future__ import annotations

import itertools
import json
import random
from collections.abc import Callable, Collection
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import httpx

from alliance_devstack.provision import Infrastructure
from alliance_registry.domain.credit_code import with_check_character
from alliance_registry.settings import Settings
from alliance_shared.contract.base import EventPayload
from alliance_shared.contract.envelope import from_kafka
from alliance_shared.contract.platform import PLATFORM_CATALOG
from alliance_shared.contract.topics import REGISTRY_EVENTS
from tests.conftest import service_env
from tests.support.http import bearer
from tests.support.kafka_io import Record, read_topic

_ALPHABET = "0123456789ABCDEFGHJKLMNPQRTUWXY"
_serial = itertools.count()
_rng = random.Random()


def registry_settings(infra: Infrastructure, unique: str, keys_dir: Path, **extra: Any) -> Settings:
    env = service_env(infra, "REGISTRY_", f"registry_{unique}", keys_dir, **extra)
    return Settings(**{k.removeprefix("REGISTRY_").lower(): v for k, v in env.items()})  # type: ignore[arg-type]


def credit_code(region: str = "440300") -> str:
    """A fresh, valid unified social credit code (random organisation code)."""
    body = "".join(_rng.choice(_ALPHABET) for _ in range(9))
    return with_check_character("91" + region + body)


def admin(keys: Path) -> dict[str, str]:
    return bearer(keys, "registry_admin", sub="admin-chen")


def partner_token(keys: Path, role: str, partner_id: str) -> dict[str, str]:
    return bearer(keys, role, sub=f"{role}-{partner_id}", partner_id=partner_id)


CONTACT = {"name": "王芳", "email": "wang.fang@example.cn", "phone": "+86 755 2601 8899", "position": "HR director"}


def partner_body(kind: str, **changes: Any) -> dict[str, Any]:
    n = next(_serial)
    body: dict[str, Any] = {
        "kind": kind,
        "name_zh": f"测试{kind}{n}",
        "credit_code": credit_code(),
        "region_code": "440305",
        "sector_code": {"college": "P83", "enterprise": "C39"}.get(kind, "S92"),
        "address": "深圳市南山区",
        "contacts": [CONTACT],
    }
    if kind == "college":
        body["college"] = {"level": "higher_vocational", "majors": ["460103", "510201"]}
    if kind == "enterprise":
        body["enterprise"] = {"size": "medium", "headcount": 500}
    body.update(changes)
    return body


async def register(http: httpx.AsyncClient, keys: Path, kind: str, **changes: Any) -> dict[str, Any]:
    response = await http.post("/partners", json=partner_body(kind, **changes), headers=admin(keys))
    assert response.status_code == 201, response.text
    return dict(response.json())


def agreement_body(
    college: str, enterprise: str, *extra: tuple[str, str], start: date | None = None, end: date | None = None
) -> dict[str, Any]:
    start = start or date.today() - timedelta(days=30)
    end = end or start + timedelta(days=3 * 365)
    return {
        "title": "数控技术订单班协议",
        "parties": [
            {"partner_id": college, "role": "lead"},
            {"partner_id": enterprise, "role": "participant"},
            *({"partner_id": p, "role": r} for p, r in extra),
        ],
        "modes": ["order_class", "internship_base"],
        "majors": ["460103"],
        "start_date": start.isoformat(),
        "end_date": end.isoformat(),
        "declared_depth": "deep",
        "obligations": [
            {"party_id": enterprise, "metric": "internship_posts", "quantity": 40, "period": "per_year"},
        ],
    }


def etag(response: httpx.Response) -> dict[str, str]:
    return {"If-Match": response.headers["etag"]}


def parsed(record: Record) -> tuple[str, EventPayload]:
    """(type, payload) of a registry record, decoded and validated with the platform catalog."""
    event = from_kafka(record.key, record.value, record.headers)
    return event.type, PLATFORM_CATALOG.parse(event.type, event.data)


async def registry_events(
    infra: Infrastructure,
    subjects: Collection[str],
    *,
    until: Callable[[list[tuple[str, EventPayload]]], bool],
    timeout_s: float = 30.0,
) -> list[tuple[str, EventPayload]]:
    """Every registry event about ``subjects`` (Kafka key), in topic order per key."""

    def ours(records: list[Record]) -> list[tuple[str, EventPayload]]:
        return [parsed(r) for r in records if r.key is not None and r.key.decode() in subjects]

    records = await read_topic(
        infra.kafka_admin, REGISTRY_EVENTS, until=lambda rs: until(ours(rs)), timeout_s=timeout_s
    )
    return ours(records)


def types_of(events: list[tuple[str, EventPayload]]) -> list[str]:
    return [t.split(".")[-3] + "." + t.split(".")[-2] for t, _ in events]


def dumps(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False, default=str)
