"""Helpers shared by the evaluation service's integration tests (not a test module)."""

from __future__ import annotations

import asyncio
import json
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from contextlib import asynccontextmanager
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx

from alliance_devstack.provision import Infrastructure
from alliance_evaluation.app import build_app
from alliance_evaluation.settings import Settings
from alliance_shared.clock import Clock
from alliance_shared.contract.base import EventPayload
from alliance_shared.contract.envelope import CloudEvent, to_kafka
from alliance_shared.contract.registry import REGISTRY_EVENTS as REGISTRY_MODELS
from alliance_shared.contract.topics import EVALUATION_EVENTS, REGISTRY_EVENTS, college_reports_topic, dlq_of
from tests.conftest import service_env
from tests.support.http import bearer, running
from tests.support.kafka_io import Record, header, produce, read_topic, skip_history

KafkaRecord = tuple[bytes | None, bytes | None, list[tuple[str, bytes]]]

#: Cycles in the tests evaluate last year: a window wholly in the past.
LAST_YEAR = date.today().year - 1
WINDOW_START, WINDOW_END = date(LAST_YEAR, 1, 1), date(LAST_YEAR, 12, 31)


def evaluation_settings(infra: Infrastructure, unique: str, keys_dir: Path, **extra: Any) -> Settings:
    env = service_env(
        infra,
        "EVALUATION_",
        f"evaluation_{unique}",
        keys_dir,
        kafka_consumer_group=f"alliance-evaluation-test-{unique}",
        **extra,
    )
    return Settings(**{k.removeprefix("EVALUATION_").lower(): v for k, v in env.items()})  # type: ignore[arg-type]


async def wait_for(predicate: Callable[[], Awaitable[bool]], timeout_s: float = 30.0) -> None:
    deadline = asyncio.get_running_loop().time() + timeout_s
    while not await predicate():
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError("condition not met in time")
        await asyncio.sleep(0.2)


def new_id(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:10]}"


AGREEMENT_EVENTS_BY_VERB: dict[str, type[EventPayload]] = {
    model.event_type.split(".")[-2]: model for model in REGISTRY_MODELS if ".registry.agreement." in model.event_type
}


def agreement_event(
    agreement_id: str,
    verb: str,
    *,
    college_ids: Sequence[str],
    enterprise_ids: Sequence[str],
    region_code: str = "330100",
    modes: Sequence[str] = ("internship_base", "order_class"),
    depth: str = "middle",
    obligations: Sequence[dict[str, Any]] = (),
    status: str | None = None,
    event_id: str | None = None,
) -> KafkaRecord:
    """A registry agreement event exactly as the registry publishes it (validated by its contract model)."""
    parties = [
        {"partner_id": c, "kind": "college", "role": "lead", "region_code": region_code, "name": f"学院 {c}"}
        for c in college_ids
    ] + [
        {"partner_id": e, "kind": "enterprise", "role": "participant", "region_code": region_code, "name": f"企业 {e}"}
        for e in enterprise_ids
    ]
    data: dict[str, Any] = {
        "agreement_id": agreement_id,
        "version": 1,
        "status": status or {"activated": "active", "suspended": "suspended"}.get(verb, verb),
        "title": f"合作协议 {agreement_id}",
        "party_ids": [*college_ids, *enterprise_ids],
        "college_ids": list(college_ids),
        "enterprise_ids": list(enterprise_ids),
        "parties": parties,
        "modes": list(modes),
        "majors": ["460103"],
        "declared_depth": depth,
        "obligations": list(obligations),
        "start_date": f"{LAST_YEAR}-01-01",
        "end_date": f"{LAST_YEAR + 2}-12-31",
        "occurred_at": datetime.now(UTC).isoformat(),
        "actor_id": "system",
    }
    if verb in {"suspended", "resumed", "terminated"}:
        data["reason"] = f"agreement {verb} in a test"
    payload = AGREEMENT_EVENTS_BY_VERB[verb].model_validate(data)
    return to_kafka(CloudEvent.wrap(payload, "registry", event_id=event_id))


def report_record(payload: EventPayload, *, event_id: str | None = None) -> KafkaRecord:
    return to_kafka(CloudEvent.wrap(payload, "college-sis", event_id=event_id))


def raw_record(
    event_type: str, data: dict[str, Any] | bytes, *, key: str = "agr", event_id: str | None = None
) -> KafkaRecord:
    """A college record built by hand (to send what the contract refuses)."""
    event_id = event_id or str(uuid.uuid4())
    headers = [
        ("ce_id", event_id.encode()),
        ("ce_source", b"college-sis"),
        ("ce_type", event_type.encode()),
        ("ce_specversion", b"1.0"),
        ("ce_subject", key.encode()),
        ("content-type", b"application/json"),
    ]
    value = data if isinstance(data, bytes) else json.dumps(data).encode()
    return key.encode(), value, headers


async def send(infra: Infrastructure, topic: str, records: Sequence[KafkaRecord]) -> None:
    await produce(infra.kafka_admin, topic, records)


def _college_named(record: KafkaRecord) -> str | None:
    try:
        data = json.loads(record[1] or b"")
    except ValueError:
        return None
    college_id = data.get("college_id") if isinstance(data, dict) else None
    return college_id if isinstance(college_id, str) else None


async def send_reports(
    infra: Infrastructure, records: Sequence[KafkaRecord], *, default_college: str | None = None
) -> None:
    """Each report on the reports topic of the college its payload names, written as that
    college's own principal (onboarded first); a record naming no college (not JSON) goes
    to ``default_college``'s."""
    by_college: dict[str, list[KafkaRecord]] = {}
    for record in records:
        college_id = _college_named(record) or default_college
        assert college_id is not None, "a record that names no college needs default_college"
        by_college.setdefault(college_id, []).append(record)
    for college_id, theirs in by_college.items():
        college = await infra.onboard_college(college_id)
        await produce(college, college_reports_topic(college_id), theirs)


async def evaluation_events(
    infra: Infrastructure, match: Callable[[dict[str, Any], str], bool], *, expect: int, timeout_s: float = 30.0
) -> list[tuple[str, dict[str, Any]]]:
    """(type, data) of the evaluation events ``match`` selects, once ``expect`` of them arrived."""

    def selected(records: list[Record]) -> list[tuple[str, dict[str, Any]]]:
        out = []
        for r in records:
            event_type = header(r, "ce_type") or ""
            data = json.loads(r.value or b"{}")
            if match(data, event_type):
                out.append((event_type, data))
        return out

    records = await read_topic(
        infra.kafka_admin, EVALUATION_EVENTS, until=lambda rs: len(selected(rs)) >= expect, timeout_s=timeout_s
    )
    return selected(records)


async def dlq_records(
    infra: Infrastructure, event_ids: set[str], *, colleges: Sequence[str], expect: int, timeout_s: float = 30.0
) -> list[Record]:
    """The dead letters of these events, from the dead-letter twins of the colleges' topics."""

    def ours(records: list[Record]) -> list[Record]:
        return [r for r in records if header(r, "ce_id") in event_ids]

    found: list[Record] = []
    deadline = asyncio.get_running_loop().time() + timeout_s
    while True:
        found = []
        for college_id in colleges:
            topic = dlq_of(college_reports_topic(college_id))
            found += ours(await read_topic(infra.kafka_admin, topic, timeout_s=1.0))
        if len(found) >= expect or asyncio.get_running_loop().time() > deadline:
            return found


def etag(response: Any) -> dict[str, str]:
    return {"If-Match": response.headers["etag"]}


@asynccontextmanager
async def running_evaluation(
    infra: Infrastructure,
    keys_dir: Path,
    unique: str,
    agreements: Sequence[KafkaRecord],
    *,
    clock: Clock | None = None,
    **extra: Any,
) -> AsyncIterator[httpx.AsyncClient]:
    """An evaluation service on a database and consumer group of its own, told of these
    agreement events (from ``agreement_event``) and yielded once it knows every agreement."""
    settings = evaluation_settings(infra, unique, keys_dir, **extra)
    await skip_history(infra.kafka_admin, settings.consumer_group)
    async with running(build_app(settings, clock=clock)) as http:
        await send(infra, REGISTRY_EVENTS, agreements)
        agreement_ids = {json.loads(value or b"{}")["agreement_id"] for _, value, _ in agreements}
        supervisor = bearer(keys_dir, "supervisor")

        async def known() -> bool:
            found = [(await http.get(f"/agreements/{a}", headers=supervisor)).status_code for a in agreement_ids]
            return all(status == 200 for status in found)

        await wait_for(known)
        yield http


async def open_cycle(
    http: httpx.AsyncClient,
    headers: dict[str, str],
    agreement_ids: Sequence[str],
    *,
    name: str = f"Annual {LAST_YEAR}",
    kind: str = "annual",
    due_at: datetime | None = None,
    **fields: Any,
) -> httpx.Response:
    """Open a cycle over last year's window (due in 30 days unless told; ``fields``: more of
    the request body, e.g. a framework); asserts it opened."""
    opened = await http.post(
        "/cycles",
        json={
            "kind": kind,
            "name": name,
            "agreement_ids": list(agreement_ids),
            "window_start": str(WINDOW_START),
            "window_end": str(WINDOW_END),
            "due_at": (due_at or datetime.now(UTC) + timedelta(days=30)).isoformat(),
            **fields,
        },
        headers=headers,
    )
    assert opened.status_code == 201, opened.text
    return opened


async def complete_cycle(http: httpx.AsyncClient, headers: dict[str, str], opened: httpx.Response) -> httpx.Response:
    """Start scoring and complete the cycle ``opened`` answered for; asserts both."""
    cycle_id = opened.json()["cycle_id"]
    scoring = await http.post(f"/cycles/{cycle_id}/start-scoring", headers={**headers, **etag(opened)})
    assert scoring.status_code == 200, scoring.text
    done = await http.post(f"/cycles/{cycle_id}/complete", headers={**headers, **etag(scoring)})
    assert done.status_code == 200, done.text
    return done
