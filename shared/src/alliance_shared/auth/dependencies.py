"""FastAPI dependencies that authenticate the caller and enforce roles."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Annotated

from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from alliance_shared import context
from alliance_shared.auth.jwt import AuthenticationError, KeysUnavailable, TokenVerifier
from alliance_shared.auth.principal import Principal
from alliance_shared.contract.vocabulary import Role
from alliance_shared.web.problems import ProblemError

_bearer = HTTPBearer(auto_error=False, description="OIDC-style bearer JWT (RS256/ES256)")

_CHALLENGE = {"WWW-Authenticate": 'Bearer realm="coop-alliance"'}


async def authenticate(
    request: Request, credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)]
) -> Principal:
    if credentials is None:
        raise ProblemError(401, "auth.missing_token", "a bearer token is required", headers=_CHALLENGE)
    verifier: TokenVerifier = request.app.state.token_verifier
    try:
        principal = await verifier.verify(credentials.credentials)
    except AuthenticationError as exc:
        raise ProblemError(401, exc.code, exc.detail, headers=_CHALLENGE) from exc
    except KeysUnavailable as exc:
        raise ProblemError(
            503,
            "auth.keys_unavailable",
            "the identity provider's keys cannot be fetched",
            headers={"Retry-After": "30"},
        ) from exc
    request.state.principal = principal
    context.set_actor(principal.subject, principal.primary_role)
    return principal


CurrentPrincipal = Annotated[Principal, Depends(authenticate)]


def require_roles(*roles: Role) -> Callable[[Principal], Awaitable[Principal]]:
    """A dependency that admits only callers holding at least one of ``roles``."""
    allowed = frozenset(roles)

    async def _check(principal: CurrentPrincipal) -> Principal:
        used = principal.roles & allowed
        if not used:
            raise ProblemError(
                403,
                "auth.role_forbidden",
                f"this action needs one of the roles {sorted(allowed)}",
                required_roles=sorted(allowed),
            )
        # The audit trail names the role this action was allowed by, not just any role held.
        context.set_actor(principal.subject, min(used))
        return principal

    return _check


def forbid_unless(condition: bool, detail: str) -> None:
    """Object-level check: the caller may hold the role but not act on this record."""
    if not condition:
        raise ProblemError(403, "auth.object_forbidden", detail)
