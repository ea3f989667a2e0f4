"""Issue #14 item 20 on the real servers: a refusal reads in the reader's language —
zh-CN when Accept-Language asks for it or names no language we have, en when asked —
with the same stable ``code``, the values of the detail kept, and Content-Language set."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import pytest_asyncio

from alliance_devstack.provision import Infrastructure
from alliance_registry.app import build_app
from tests.integration.registry.registry_support import admin, partner_body, registry_settings
from tests.support.http import running

pytestmark = pytest.mark.infra


def has_chinese(text: str) -> bool:
    return any("\u4e00" <= ch <= "\u9fff" for ch in text)


@pytest_asyncio.fixture(scope="module", loop_scope="session")
async def client(infra: Infrastructure, dev_keys_dir: Path) -> AsyncIterator[httpx.AsyncClient]:
    settings = registry_settings(infra, f"lang_{uuid.uuid4().hex[:8]}", dev_keys_dir)
    async with running(build_app(settings)) as http:
        yield http


async def both(
    client: httpx.AsyncClient,
    method: str,
    url: str,
    *,
    headers: dict[str, str] | None = None,
    json: dict[str, Any] | None = None,
) -> dict[str, httpx.Response]:
    """The same request as a Chinese reader, an English one and one who names neither."""
    answers = {}
    for label, language in (("zh-CN", "zh-CN,zh;q=0.9"), ("en", "en-GB,en;q=0.8"), ("default", None)):
        sent = {**(headers or {}), **({"Accept-Language": language} if language else {})}
        answers[label] = await client.request(method, url, headers=sent, json=json)
    return answers


def assert_same_problem_in_both_languages(answers: dict[str, httpx.Response], status: int, code: str) -> None:
    zh, en, default = (answers[k] for k in ("zh-CN", "en", "default"))
    for answer in (zh, en, default):
        assert answer.status_code == status, answer.text
        assert answer.headers["content-type"].startswith("application/problem+json")
        assert answer.json()["code"] == code
        assert "Accept-Language" in answer.headers["vary"]
    assert zh.headers["content-language"] == default.headers["content-language"] == "zh-CN"
    assert en.headers["content-language"] == "en"
    same = ("title", "detail", "code")
    assert [zh.json()[k] for k in same] == [default.json()[k] for k in same]  # zh-CN is the default
    assert has_chinese(zh.json()["title"])
    assert has_chinese(zh.json()["detail"])
    assert not has_chinese(en.json()["title"])
    assert not has_chinese(en.json()["detail"])
    assert zh.json()["type"] == en.json()["type"]


async def test_a_rule_refusal_reads_in_each_language_with_its_values(
    client: httpx.AsyncClient, dev_keys_dir: Path
) -> None:
    answers = await both(
        client, "POST", "/partners", json=partner_body("enterprise", sector_code="C44"), headers=admin(dev_keys_dir)
    )

    assert_same_problem_in_both_languages(answers, 422, "partner.sector_code_invalid")
    zh, en = answers["zh-CN"].json(), answers["en"].json()
    assert en["title"] == "Invalid sector code"
    assert en["detail"] == "C44 is not a division of section C in GB/T 4754-2017"
    assert zh["title"] == "行业代码无效"
    assert zh["detail"] == "C44 不是 GB/T 4754-2017 中门类 C 下的大类"
    assert zh["table"] == en["table"] == "GB/T 4754-2017"


async def test_not_found_validation_and_auth_problems_follow_the_reader(
    client: httpx.AsyncClient, dev_keys_dir: Path
) -> None:
    missing = f"ent-{uuid.uuid4().hex[:8]}"
    not_found = await both(client, "GET", f"/partners/{missing}", headers=admin(dev_keys_dir))
    assert_same_problem_in_both_languages(not_found, 404, "partner.not_found")
    assert not_found["en"].json()["detail"] == f"no partner {missing}"
    assert not_found["zh-CN"].json()["detail"] == f"合作单位 {missing} 不存在"

    invalid = await both(client, "POST", "/partners", json={"kind": "enterprise"}, headers=admin(dev_keys_dir))
    assert_same_problem_in_both_languages(invalid, 422, "request.invalid")
    assert invalid["zh-CN"].json()["errors"] == invalid["en"].json()["errors"]

    unsigned = await both(client, "GET", f"/partners/{missing}")
    assert_same_problem_in_both_languages(unsigned, 401, "auth.missing_token")
    assert unsigned["zh-CN"].json()["title"] == "需要登录"
    assert unsigned["en"].json()["title"] == "Sign-in required"
    assert unsigned["en"].headers["www-authenticate"].startswith("Bearer")


async def test_the_guards_before_the_routes_answer_in_the_readers_language_too(
    client: httpx.AsyncClient, dev_keys_dir: Path
) -> None:
    too_large = {"kind": "enterprise", "name_zh": "x" * (1024 * 1024 + 1)}
    oversized = await both(client, "POST", "/partners", json=too_large, headers=admin(dev_keys_dir))
    assert_same_problem_in_both_languages(oversized, 413, "request.too_large")
    assert oversized["en"].json()["detail"] == "the body may be at most 1048576 bytes"
    assert oversized["zh-CN"].json()["detail"] == "请求正文最多 1048576 字节"

    long_key = {**admin(dev_keys_dir), "Idempotency-Key": "k" * 201}
    refused = await both(client, "POST", "/partners", json=partner_body("enterprise"), headers=long_key)
    assert_same_problem_in_both_languages(refused, 422, "idempotency.key_too_long")
    assert refused["zh-CN"].json()["detail"] == "最多 200 个字符"
