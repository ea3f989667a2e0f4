"""Tokens verified against a JWKS URL served on loopback: fetched without blocking,
cached, fetched again for a rotated key, and a dead IdP answered with 503, not a hang."""

from __future__ import annotations

import asyncio
import json
import time
from pathlib import Path

import jwt
import pytest
from cryptography.hazmat.primitives import serialization
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from alliance_devstack.loopback import serving
from alliance_shared.auth.devtokens import DEFAULT_AUDIENCE, DEFAULT_ISSUER, ensure_keys, mint
from alliance_shared.auth.jwt import AuthenticationError, JwksCache, KeysUnavailable, TokenVerifier


class Idp:
    """Serves one JWKS document, swappable; counts the fetches."""

    def __init__(self, jwks_file: Path) -> None:
        self.jwks = json.loads(jwks_file.read_text())
        self.fetches = 0
        self.app = Starlette(routes=[Route("/jwks", self.serve)])

    async def serve(self, request: Request) -> JSONResponse:
        self.fetches += 1
        return JSONResponse(self.jwks)


def with_key_id(keys_dir: Path, token: str, key_id: str) -> str:
    """The same claims signed with the key in ``keys_dir`` under another key id."""
    key = serialization.load_pem_private_key((keys_dir / "signing-key.pem").read_bytes(), password=None)
    claims = jwt.decode(token, options={"verify_signature": False})
    return jwt.encode(claims, key, algorithm="ES256", headers={"kid": key_id})  # type: ignore[arg-type]


def verifier(url: str, **cache: float) -> TokenVerifier:
    made = TokenVerifier(issuer=DEFAULT_ISSUER, audience=DEFAULT_AUDIENCE, jwks_url=url)
    if cache:
        made._remote = JwksCache(url, **cache)  # tighter timings than production, for the test
    return made


async def test_keys_are_fetched_once_and_a_rotated_key_is_fetched_again(tmp_path: Path) -> None:
    first, second = tmp_path / "first", tmp_path / "second"
    idp = Idp(ensure_keys(first))
    async with serving(idp.app) as port:
        check = verifier(f"http://127.0.0.1:{port}/jwks", refetch_interval_s=0.2)
        tokens = [mint(first, f"user-{i}", ["auditor"]) for i in range(20)]
        principals = await asyncio.gather(*(check.verify(t) for t in tokens))
        assert [p.subject for p in principals] == [f"user-{i}" for i in range(20)]
        assert idp.fetches == 1  # concurrent requests share one fetch

        # The IdP rotates to a new key (same key id here, so the old token's signature fails).
        idp.jwks = json.loads(ensure_keys(second).read_text())
        idp.jwks["keys"][0]["kid"] = "rotated"
        rotated = with_key_id(second, mint(second, "carol", ["auditor"]), "rotated")
        await asyncio.sleep(0.25)
        assert (await check.verify(rotated)).subject == "carol"
        assert idp.fetches == 2


async def test_a_dead_idp_is_a_quick_503_not_a_hang(tmp_path: Path) -> None:
    keys = tmp_path / "keys"
    ensure_keys(keys)
    check = verifier("http://127.0.0.1:9/jwks", timeout_s=1.0)  # nothing listens on the discard port
    started = time.monotonic()
    with pytest.raises(KeysUnavailable):
        await check.verify(mint(keys, "dave", ["auditor"]))
    with pytest.raises(KeysUnavailable):  # in backoff: no second attempt, no wait
        await check.verify(mint(keys, "dave", ["auditor"]))
    assert time.monotonic() - started < 3.0


async def test_claims_used_in_queries_are_typed(tmp_path: Path) -> None:
    keys = tmp_path / "keys"
    idp = Idp(ensure_keys(keys))
    async with serving(idp.app) as port:
        check = verifier(f"http://127.0.0.1:{port}/jwks")
        with pytest.raises(AuthenticationError, match="partner_id"):
            await check.verify(mint(keys, "eve", ["college"], partner_id="x" * 500))
        with pytest.raises(AuthenticationError, match="partner_id"):
            await check.verify(mint(keys, "eve", ["college"], partner_id="col-1\nadmin"))
        assert (await check.verify(mint(keys, "eve", ["college"], partner_id="col-1"))).partner_id == "col-1"
