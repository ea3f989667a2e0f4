"""Verifies bearer JWTs (RS256/ES256) against a JWKS from a file or a URL (PyJWT).

A JWKS URL is fetched asynchronously (httpx, bounded timeout), cached, and fetched again
when a token names a key id it does not know — at most once per ``refetch_interval_s``,
with exponential backoff while the IdP is unreachable — so no request ever blocks the
event loop on the identity provider, and a key rotation is picked up without a restart.
"""

from __future__ import annotations

import asyncio
import json
import re
import time
from pathlib import Path
from typing import Any

import httpx
import jwt
from jwt import PyJWK, PyJWKSet

from alliance_shared.auth.principal import PARTNER_BOUND_ROLES, Principal
from alliance_shared.contract.vocabulary import Role

ALGORITHMS = ["RS256", "ES256"]
#: Claims that end up in queries and logs are plain, bounded text.
CLAIM_TEXT = re.compile(r"^[\x20-\x7e\u00a0-\uffff]{1,200}$")


class AuthenticationError(Exception):
    def __init__(self, code: str, detail: str) -> None:
        super().__init__(detail)
        self.code = code
        self.detail = detail


class KeysUnavailable(Exception):
    """The JWKS could not be fetched and no copy is cached: a server-side problem (503)."""


class JwksCache:
    """The keys of a JWKS URL, fetched without blocking and kept between fetches."""

    def __init__(
        self,
        url: str,
        *,
        timeout_s: float = 5.0,
        lifespan_s: float = 300.0,
        refetch_interval_s: float = 30.0,
        max_backoff_s: float = 300.0,
    ) -> None:
        self._url = url
        self._timeout_s = timeout_s
        self._lifespan_s = lifespan_s
        self._refetch_interval_s = refetch_interval_s
        self._max_backoff_s = max_backoff_s
        self._keys: dict[str, PyJWK] = {}
        self._fetched_at = -float("inf")
        self._next_attempt_at = 0.0
        self._failures = 0
        self._lock = asyncio.Lock()

    async def key(self, key_id: str) -> PyJWK | None:
        now = time.monotonic()
        stale = now - self._fetched_at > self._lifespan_s
        if (key_id not in self._keys or stale) and now >= self._next_attempt_at:
            await self._refresh()
        if not self._keys and self._failures:
            raise KeysUnavailable(f"the JWKS at {self._url} cannot be fetched")
        return self._keys.get(key_id)

    async def _refresh(self) -> None:
        async with self._lock:  # one fetch for all the requests that need it
            if time.monotonic() < self._next_attempt_at:
                return
            try:
                async with httpx.AsyncClient(timeout=self._timeout_s, follow_redirects=False) as client:
                    response = await client.get(self._url)
                    response.raise_for_status()
                    keys = PyJWKSet.from_dict(response.json()).keys
            except (httpx.HTTPError, ValueError, jwt.PyJWTError):
                self._failures += 1
                backoff = min(self._max_backoff_s, self._refetch_interval_s * 2 ** (self._failures - 1))
                self._next_attempt_at = time.monotonic() + backoff
                return
            self._keys = {k.key_id: k for k in keys if k.key_id}
            self._failures = 0
            self._fetched_at = time.monotonic()
            self._next_attempt_at = self._fetched_at + self._refetch_interval_s


class TokenVerifier:
    def __init__(self, *, issuer: str, audience: str, jwks_file: str | None = None, jwks_url: str | None = None):
        if not jwks_file and not jwks_url:
            raise ValueError("configure a JWKS: a file (..._JWKS_FILE) or a URL (..._JWKS_URL)")
        self._issuer = issuer
        self._audience = audience
        self._file_keys: dict[str, PyJWK] = {}
        self._remote: JwksCache | None = None
        if jwks_file:
            jwks = PyJWKSet.from_dict(json.loads(Path(jwks_file).read_text()))
            self._file_keys = {k.key_id: k for k in jwks.keys if k.key_id}
        else:
            assert jwks_url is not None
            self._remote = JwksCache(jwks_url)

    async def _signing_key(self, token: str) -> Any:
        try:
            header = jwt.get_unverified_header(token)
        except jwt.PyJWTError as exc:
            raise AuthenticationError("auth.malformed_token", "the bearer token is not a JWT") from exc
        if header.get("alg") not in ALGORITHMS:
            raise AuthenticationError("auth.bad_algorithm", f"algorithm {header.get('alg')!r} is not accepted")
        key_id = header.get("kid")
        if not isinstance(key_id, str):
            raise AuthenticationError("auth.unknown_key", "the token names no key id")
        key = await self._remote.key(key_id) if self._remote is not None else self._file_keys.get(key_id)
        if key is None:
            raise AuthenticationError("auth.unknown_key", "the token's key id is not in the JWKS")
        return key.key

    async def verify(self, token: str) -> Principal:
        key = await self._signing_key(token)
        try:
            claims = jwt.decode(
                token,
                key,
                algorithms=ALGORITHMS,
                audience=self._audience,
                issuer=self._issuer,
                options={"require": ["exp", "iat", "sub", "iss", "aud"]},
            )
        except jwt.ExpiredSignatureError as exc:
            raise AuthenticationError("auth.token_expired", "the bearer token has expired") from exc
        except jwt.InvalidSignatureError as exc:
            raise AuthenticationError("auth.bad_signature", "the token signature does not verify") from exc
        except jwt.PyJWTError as exc:
            raise AuthenticationError("auth.invalid_token", str(exc)) from exc
        return principal_from_claims(claims)


def _text_claim(claims: dict[str, Any], name: str) -> str | None:
    value = claims.get(name)
    if value is None:
        return None
    if not isinstance(value, str) or not CLAIM_TEXT.match(value):
        raise AuthenticationError("auth.invalid_claims", f"{name} must be plain text of at most 200 characters")
    return value


def principal_from_claims(claims: dict[str, Any]) -> Principal:
    raw_roles = claims.get("roles", [])
    if not isinstance(raw_roles, list) or not all(isinstance(r, str) for r in raw_roles):
        raise AuthenticationError("auth.invalid_claims", "roles must be a list of strings")
    roles = frozenset(Role(r) for r in raw_roles if r in Role.__members__.values())
    subject = _text_claim(claims, "sub")
    if subject is None:
        raise AuthenticationError("auth.invalid_claims", "sub is required")
    partner_id = _text_claim(claims, "partner_id")
    if roles & PARTNER_BOUND_ROLES and not partner_id:
        raise AuthenticationError("auth.invalid_claims", "college and enterprise tokens must carry partner_id")
    return Principal(subject=subject, roles=roles, partner_id=partner_id, name=_text_claim(claims, "name"))
