"""If-Match is exact on every route that takes it: only the current version succeeds;
an older one, a newer one or a malformed tag is 412 and changes nothing.

The routes are read from the app's OpenAPI document (every operation with an If-Match header),
so a new If-Match route fails ``test_every_if_match_route_has_a_case`` until it is
driven here too. Real Kafka and MongoDB-wire server, the app in-process.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
import pytest_asyncio
from fastapi import FastAPI
from hypothesis import example, given, settings
from hypothesis import strategies as st

from alliance_devstack.provision import Infrastructure
from alliance_notifications.app import build_app
from tests.integration.notifications.notifications_support import notifications_settings
from tests.support.http import bearer, running
from tests.support.if_match import Route, if_match_routes

pytestmark = pytest.mark.infra


@dataclass(frozen=True)
class Case:
    """How to drive one If-Match route: a concrete path (also readable with GET, which
    answers the ETag), who may call it, and bodies that each change the resource."""

    path: str
    role: str
    partner_id: str | None
    bodies: tuple[dict[str, Any], ...]

    def headers(self, keys: Path) -> dict[str, str]:
        return bearer(keys, self.role, partner_id=self.partner_id)


def member(n: int) -> dict[str, Any]:
    return {"member_id": f"sup-{n}", "name": f"督导 {n}", "email": f"sup-{n}@gov.cn"}


def rule(short_name: str) -> dict[str, Any]:
    """A routing rule telling an award's recipient in its inbox."""
    return {
        "event_type": f"org.coopalliance.{short_name}.v1",
        "selectors": ["award_recipient"],
        "category": "operational",
        "channels": ["inbox"],
        "template": short_name,
    }


CASES: dict[Route, Case] = {
    ("PUT", "/recipients/{recipient_id}/preferences"): Case(
        "/recipients/partner:col-ifm/preferences",
        "college",
        "col-ifm",
        (
            {"muted": {"operational": ["email"]}},
            {"muted": {"digest_only": ["email"]}, "quiet_hours": {"start": "22:00", "end": "07:00"}},
            {"muted": {}, "quiet_hours": None},
        ),
    ),
    ("PUT", "/role-groups/{group}"): Case(
        "/role-groups/supervisors", "ops", None, ({"members": [member(1)]}, {"members": [member(1), member(2)]})
    ),
    ("PUT", "/routing-rules"): Case(
        "/routing-rules",
        "registry_admin",
        None,
        (
            {"rules": [rule("funding.tranche.paid")]},
            {"rules": [rule("funding.tranche.paid"), rule("funding.award.granted")]},
        ),
    ),
}

#: Tags that are not an ETag of this API.
MALFORMED = ('"abc"', "*", 'W/"1x"', '""', "1, 2")


@pytest_asyncio.fixture(scope="module", loop_scope="session")
async def app(infra: Infrastructure, dev_keys_dir: Path) -> FastAPI:
    return build_app(notifications_settings(infra, "ifmatch", dev_keys_dir, run_consumers=False))


@pytest_asyncio.fixture(scope="module", loop_scope="session")
async def client(app: FastAPI, dev_keys_dir: Path) -> AsyncIterator[httpx.AsyncClient]:
    async with running(app) as http:
        for route in if_match_routes(app):  # version 1 at least, so a stale version exists
            case = CASES[route]
            current = await read(http, case, dev_keys_dir)
            await write(http, case, dev_keys_dir, case.bodies[0], current["etag"])
        yield http


async def read(http: httpx.AsyncClient, case: Case, keys: Path) -> dict[str, Any]:
    response = await http.get(case.path, headers=case.headers(keys))
    assert response.status_code == 200, response.text
    return {"etag": response.headers["ETag"], "body": response.json()}


async def write(http: httpx.AsyncClient, case: Case, keys: Path, body: dict[str, Any], tag: str) -> httpx.Response:
    return await http.put(case.path, json=body, headers={**case.headers(keys), "If-Match": tag})


def test_every_if_match_route_has_a_case(app: FastAPI) -> None:
    assert if_match_routes(app) == set(CASES)


@settings(max_examples=50, deadline=None)
@given(sent=st.one_of(st.integers(min_value=-3, max_value=3), st.sampled_from(MALFORMED)), body_index=st.integers(0, 9))
@example(sent=-1, body_index=0)  # stale
@example(sent=0, body_index=1)  # current
@example(sent=1, body_index=0)  # from the future
@example(sent=MALFORMED[0], body_index=0)
async def test_only_the_current_version_is_accepted(
    app: FastAPI, client: httpx.AsyncClient, dev_keys_dir: Path, sent: int | str, body_index: int
) -> None:
    """``sent`` is an offset from the current version, or a malformed tag."""
    for route in sorted(if_match_routes(app)):
        case = CASES[route]
        before = await read(client, case, dev_keys_dir)
        current = int(before["etag"].strip('"'))
        tag = sent if isinstance(sent, str) else f'"{current + sent}"'
        body = case.bodies[body_index % len(case.bodies)]

        response = await write(client, case, dev_keys_dir, body, tag)

        after = await read(client, case, dev_keys_dir)
        if sent == 0:
            assert response.status_code == 200, (route, tag, response.text)
            assert after["etag"] == response.headers["ETag"] == f'"{current + 1}"'
        else:
            assert response.status_code == 412, (route, tag, response.text)
            assert response.json()["code"] in ("aggregate.version_conflict", "precondition.bad_etag")
            assert after == before, f"{route} changed on a refused If-Match {tag}"
