"""What the registry's routes are given: the repositories and the clock from the app's
state (set by the composition root), the caller by role, and the path parameter type."""

from __future__ import annotations

from typing import Annotated, cast

from fastapi import Depends, Path, Request

from alliance_registry.service.repositories import Repositories
from alliance_shared.auth.dependencies import require_roles
from alliance_shared.auth.principal import Principal
from alliance_shared.clock import Clock
from alliance_shared.contract.vocabulary import Role


def _repositories(request: Request) -> Repositories:
    return cast(Repositories, request.app.state.repositories)


def _clock(request: Request) -> Clock:
    return cast(Clock, request.app.state.clock)


Repos = Annotated[Repositories, Depends(_repositories)]
AppClock = Annotated[Clock, Depends(_clock)]

Admin = Annotated[Principal, Depends(require_roles(Role.REGISTRY_ADMIN))]
Reader = Annotated[Principal, Depends(require_roles(*Role))]
AdminOrPartner = Annotated[Principal, Depends(require_roles(Role.REGISTRY_ADMIN, Role.COLLEGE, Role.ENTERPRISE))]

PathId = Annotated[str, Path(min_length=1, max_length=100)]
