"""Queries and partner matching on a seeded data set (its own database): partner and
agreement filters, cursor pagination, the partner profile and the matching ranking."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
import pytest_asyncio

from alliance_devstack.provision import Infrastructure
from alliance_registry.app import build_app
from tests.integration.registry.registry_support import (
    admin,
    agreement_body,
    partner_token,
    register,
    registry_settings,
)
from tests.support.http import bearer, running

pytestmark = pytest.mark.infra

RUN = uuid.uuid4().hex[:8]
TODAY = date.today()


class Seed:
    ids: dict[str, str]
    agreements: dict[str, str]


@pytest_asyncio.fixture(scope="module", loop_scope="session")
async def seeded(infra: Infrastructure, dev_keys_dir: Path) -> AsyncIterator[tuple[httpx.AsyncClient, Seed]]:
    keys = dev_keys_dir
    async with running(build_app(registry_settings(infra, f"query_{RUN}", keys))) as http:
        seed = Seed()
        college = {"level": "higher_vocational", "majors": ["460103", "510201"]}
        specs: dict[str, tuple[str, dict[str, Any]]] = {
            "C1": ("college", {"region_code": "440305", "college": college, "name_zh": "深圳职业技术大学"}),
            "C2": ("college", {"region_code": "110108", "name_zh": "北京电子科技职业学院"}),
            "E1": (
                "enterprise",
                {"region_code": "440305", "sector_code": "C39", "name_zh": "深圳鹏城精密", "name_en": "Pengcheng"},
            ),
            "E2": ("enterprise", {"region_code": "440306", "sector_code": "C34", "name_zh": "宝安机床厂"}),
            "E3": ("enterprise", {"region_code": "110108", "sector_code": "I65", "name_zh": "中关村软件"}),
            "E4": ("enterprise", {"region_code": "440305", "sector_code": "C39", "name_zh": "南山电子"}),
            "E5": ("enterprise", {"region_code": "330100", "sector_code": "A01", "name_zh": "西湖茶业"}),
            "E6": ("enterprise", {"region_code": "440305", "sector_code": "C39", "name_zh": "已注销电子"}),
            "G1": ("government_agency", {"region_code": "440300", "name_zh": "深圳市教育局"}),
        }
        seed.ids = {
            name: (await register(http, keys, kind, **fields))["partner_id"] for name, (kind, fields) in specs.items()
        }
        ids = seed.ids
        await http.post(f"/partners/{ids['E6']}/deactivate", json={"reason": "closed"}, headers=admin(keys))
        cert = await http.post("/certifications", json={"partner_id": ids["E1"]}, headers=admin(keys))
        now = datetime.now(UTC)
        granted = await http.post(
            f"/certifications/{cert.json()['certification_id']}/grant",
            json={
                "certificate_number": "粤产教〔2026〕9号",
                "valid_from": (now - timedelta(days=1)).isoformat(),
                "valid_to": (now + timedelta(days=365)).isoformat(),
            },
            headers=admin(keys),
        )
        assert granted.status_code == 200, granted.text
        for name in ("C1", "E1"):
            await http.post("/memberships", json={"partner_id": ids[name], "reason": "letter"}, headers=admin(keys))
            await http.post(f"/memberships/{ids[name]}/admit", json={"reason": "vote"}, headers=admin(keys))
        await http.post("/memberships", json={"partner_id": ids["E2"], "reason": "letter"}, headers=admin(keys))

        a1 = await http.post(
            "/agreements",
            json=agreement_body(
                ids["C1"], ids["E4"], start=TODAY - timedelta(days=30), end=TODAY + timedelta(days=900)
            ),
            headers=admin(keys),
        )
        a1_id = a1.json()["agreement_id"]
        await http.post(f"/agreements/{a1_id}/sign", json={}, headers=partner_token(keys, "college", ids["C1"]))
        active = await http.post(
            f"/agreements/{a1_id}/sign", json={}, headers=partner_token(keys, "enterprise", ids["E4"])
        )
        assert active.json()["status"] == "active"
        a2_body = {
            **agreement_body(ids["C2"], ids["E3"], start=date(TODAY.year + 1, 1, 1), end=date(TODAY.year + 2, 12, 31)),
            "modes": ["joint_rd_centre"],
            "majors": ["510201"],
        }
        a2 = await http.post("/agreements", json=a2_body, headers=admin(keys))
        assert a2.status_code == 201, a2.text
        seed.agreements = {"A1": a1_id, "A2": a2.json()["agreement_id"]}
        yield http, seed


async def all_pages(http: httpx.AsyncClient, path: str, headers: dict[str, str], limit: int = 2) -> list[str]:
    """Follow next_cursor to the end; the ids of every item (partner or agreement)."""
    found: list[str] = []
    cursor: str | None = None
    sep = "&" if "?" in path else "?"
    for _ in range(100):
        url = f"{path}{sep}limit={limit}" + (f"&cursor={cursor}" if cursor else "")
        response = await http.get(url, headers=headers)
        assert response.status_code == 200, response.text
        page = response.json()
        found += [item.get("partner_id") or item["agreement_id"] for item in page["items"]]
        cursor = page["next_cursor"]
        if cursor is None:
            return found
    raise AssertionError("pagination did not end")


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("kind=enterprise", {"E1", "E2", "E3", "E4", "E5", "E6"}),
        ("kind=enterprise&status=active", {"E1", "E2", "E3", "E4", "E5"}),
        ("region=44", {"C1", "E1", "E2", "E4", "E6", "G1"}),
        ("region=440305", {"C1", "E1", "E4", "E6"}),
        ("region=4403&kind=enterprise", {"E1", "E2", "E4", "E6"}),
        ("sector=C", {"E1", "E2", "E4", "E6"}),
        ("sector=C39&status=active", {"E1", "E4"}),
        ("certified=true", {"E1"}),
        ("certified=false&kind=enterprise&status=active", {"E2", "E3", "E4", "E5"}),
        ("membership=admitted", {"C1", "E1"}),
        ("membership=applied", {"E2"}),
        ("q=鹏城", {"E1"}),
        ("q=pengCHENG", {"E1"}),
        ("q=电子", {"E4", "E6", "C2"}),
    ],
)
async def test_partner_filters_with_pagination(
    seeded: tuple[httpx.AsyncClient, Seed], dev_keys_dir: Path, query: str, expected: set[str]
) -> None:
    http, seed = seeded
    names = {v: k for k, v in seed.ids.items()}
    found = await all_pages(http, f"/partners?{query}", bearer(dev_keys_dir, "supervisor"))
    assert len(found) == len(set(found))  # no item twice across pages
    assert {names[i] for i in found} == expected


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("party={E4}", {"A1"}),
        ("party={C2}", {"A2"}),
        ("mode=joint_rd_centre", {"A2"}),
        ("mode=order_class&status=active", {"A1"}),
        ("status=draft", {"A2"}),
        ("region=11", {"A2"}),
        ("region=440305", {"A1"}),
        ("major=510201", {"A2"}),
        ("major=460103", {"A1"}),
        (f"active_from={TODAY.year + 1}-06-01&active_to={TODAY.year + 1}-07-01", {"A1", "A2"}),
        (f"active_to={TODAY - timedelta(days=60)}", set()),
        (f"active_from={TODAY.year + 3}-01-01", {"A1"}),  # A2 ends the year before
    ],
)
async def test_agreement_filters(
    seeded: tuple[httpx.AsyncClient, Seed], dev_keys_dir: Path, query: str, expected: set[str]
) -> None:
    http, seed = seeded
    names = {v: k for k, v in seed.agreements.items()}
    found = await all_pages(http, "/agreements?" + query.format(**seed.ids), bearer(dev_keys_dir, "auditor"), limit=1)
    assert {names[i] for i in found} == expected


async def test_partner_profile(seeded: tuple[httpx.AsyncClient, Seed], dev_keys_dir: Path) -> None:
    http, seed = seeded
    profile = await http.get(f"/partners/{seed.ids['C1']}/profile", headers=bearer(dev_keys_dir, "funding_officer"))
    assert profile.status_code == 200
    body = profile.json()
    assert body["partner"]["contacts"] is None  # personal data hidden from this role
    assert body["membership"]["status"] == "admitted"
    assert [a["agreement_id"] for a in body["agreements"]] == [seed.agreements["A1"]]
    assert body["certified_now"] is False
    certified = (await http.get(f"/partners/{seed.ids['E1']}/profile", headers=admin(dev_keys_dir))).json()
    assert certified["certified_now"] is True
    assert certified["partner"]["contacts"]
    assert certified["certifications"][0]["status"] == "certified"


async def test_matching_ranks_and_explains(seeded: tuple[httpx.AsyncClient, Seed], dev_keys_dir: Path) -> None:
    http, seed = seeded
    names = {v: k for k, v in seed.ids.items()}
    response = await http.get(
        f"/matching/{seed.ids['C1']}", headers=partner_token(dev_keys_dir, "college", seed.ids["C1"])
    )
    assert response.status_code == 200, response.text
    ranked = [(names[s["partner_id"]], s["score"]) for s in response.json()["suggestions"]]
    # E1: both majors 40 + same region 20 + certified 15 + no cooperation 15 = 90
    # E4: both majors 40 + region 20 + one active cooperation 12 - existing partner 10 = 62
    # E2: one of two majors 20 + same province 10 + 15 = 45; E3: 20 + 15 = 35; E5: 15. E6 is deactivated.
    assert ranked == [("E1", 90), ("E4", 62), ("E2", 45), ("E3", 35), ("E5", 15)]
    e4 = response.json()["suggestions"][1]
    assert [r["code"] for r in e4["reasons"]] == [
        "match.sector_fit",
        "match.same_region",
        "match.spare_capacity",
        "match.existing_partner",
    ]
    only_51 = await http.get(
        f"/matching/{seed.ids['C1']}?majors=510201&limit=2", headers=bearer(dev_keys_dir, "supervisor")
    )
    assert [(names[s["partner_id"]], s["score"]) for s in only_51.json()["suggestions"]] == [("E1", 90), ("E4", 62)]
    not_college = await http.get(f"/matching/{seed.ids['E1']}", headers=admin(dev_keys_dir))
    assert not_college.status_code == 422
    assert not_college.json()["code"] == "matching.not_a_college"
