"""The endpoint × role tables every service's authorisation test is built from."""

from __future__ import annotations

from collections.abc import Collection, Iterable, Sequence
from pathlib import Path
from typing import Any

import pytest
from _pytest.mark import ParameterSet
from fastapi import FastAPI

from alliance_shared.contract.vocabulary import Role
from tests.support.http import bearer

ALL_ROLES = [r.value for r in Role]
#: A row: method, path (with made-up ids), body, {role: expected status}; other roles get 403.
Endpoint = tuple[str, str, Any, dict[str, int]]
OPERATIONAL_PATHS = {"/healthz", "/readyz", "/metrics"}


def role_token(
    keys: Path,
    role: str,
    college_id: str = "col-authz",
    enterprise_id: str = "ent-authz",
    agency_id: str = "agy-authz",
) -> dict[str, str]:
    """A bearer token of ``role``; partner-bound tokens belong to the tables' partners."""
    partner = {
        Role.COLLEGE.value: college_id,
        Role.ENTERPRISE.value: enterprise_id,
        Role.AGENCY_STAFF.value: agency_id,
    }.get(role)
    return bearer(keys, role, partner_id=partner)


def role_cases(endpoints: Sequence[Endpoint]) -> list[ParameterSet]:
    """One case per endpoint and role, with the status that role must get."""
    return [
        pytest.param(method, path, body, role, allowed.get(role, 403), id=f"{method} {path.split('?')[0]} as {role}")
        for method, path, body, allowed in endpoints
        for role in ALL_ROLES
    ]


def api_routes(app: FastAPI) -> set[tuple[str, str]]:
    """Every (method, path template) the app serves, the operational endpoints aside."""
    paths: dict[str, dict[str, Any]] = app.openapi()["paths"]
    return {
        (method.upper(), path)
        for path, operations in paths.items()
        for method in operations
        if path not in OPERATIONAL_PATHS
    }


def shapes(routes: Iterable[tuple[str, str]], ids: Collection[str]) -> set[tuple[str, str]]:
    """Routes with their parameters and the tables' made-up ``ids`` blanked, to compare a table with the app."""

    def shape(path: str) -> str:
        path = path.split("?")[0]
        return "/".join(
            "{}" if part.startswith("{") or part in ids or ":" in part else part for part in path.split("/")
        )

    return {(method, shape(path)) for method, path in routes}
