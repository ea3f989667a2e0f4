"""Verifies bearer JWTs (RS256/ES256) against a JWKS from a file or a URL (PyJWT)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import jwt
from jwt import PyJWK, PyJWKClient, PyJWKSet

from alliance_shared.auth.principal import PARTNER_BOUND_ROLES, Principal
from alliance_shared.contract.vocabulary import Role

ALGORITHMS = ["RS256", "ES256"]


class AuthenticationError(Exception):
    def __init__(self, code: str, detail: str) -> None:
        super().__init__(detail)
        self.code = code
        self.detail = detail


class TokenVerifier:
    def __init__(self, *, issuer: str, audience: str, jwks_file: str | None = None, jwks_url: str | None = None):
        if not jwks_file and not jwks_url:
            raise ValueError("configure a JWKS: a file (..._JWKS_FILE) or a URL (..._JWKS_URL)")
        self._issuer = issuer
        self._audience = audience
        self._keys: dict[str, PyJWK] = {}
        self._client: PyJWKClient | None = None
        if jwks_file:
            jwks = PyJWKSet.from_dict(json.loads(Path(jwks_file).read_text()))
            self._keys = {k.key_id: k for k in jwks.keys if k.key_id}
        else:
            assert jwks_url is not None
            self._client = PyJWKClient(jwks_url, cache_keys=True, lifespan=300, timeout=5)

    def _signing_key(self, token: str) -> Any:
        try:
            header = jwt.get_unverified_header(token)
        except jwt.PyJWTError as exc:
            raise AuthenticationError("auth.malformed_token", "the bearer token is not a JWT") from exc
        if header.get("alg") not in ALGORITHMS:
            raise AuthenticationError("auth.bad_algorithm", f"algorithm {header.get('alg')!r} is not accepted")
        if self._client is not None:
            try:
                return self._client.get_signing_key_from_jwt(token).key
            except jwt.PyJWKClientError as exc:
                raise AuthenticationError("auth.unknown_key", str(exc)) from exc
        key = self._keys.get(header.get("kid", ""))
        if key is None:
            raise AuthenticationError("auth.unknown_key", "the token's key id is not in the JWKS")
        return key.key

    def verify(self, token: str) -> Principal:
        key = self._signing_key(token)
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


def principal_from_claims(claims: dict[str, Any]) -> Principal:
    raw_roles = claims.get("roles", [])
    if not isinstance(raw_roles, list):
        raise AuthenticationError("auth.invalid_claims", "roles must be a list")
    roles = frozenset(Role(r) for r in raw_roles if r in Role.__members__.values())
    partner_id = claims.get("partner_id")
    if roles & PARTNER_BOUND_ROLES and not partner_id:
        raise AuthenticationError("auth.invalid_claims", "college and enterprise tokens must carry partner_id")
    return Principal(subject=str(claims["sub"]), roles=roles, partner_id=partner_id, name=claims.get("name"))
