"""What routes are given: the notifier the composition root put in the app state, and
the caller's principal by role."""

from __future__ import annotations

from typing import Annotated, cast

from fastapi import Depends, Request

from alliance_notifications.service.notifier import Notifier
from alliance_shared.auth.dependencies import require_roles
from alliance_shared.auth.principal import Principal
from alliance_shared.contract.vocabulary import Role


def get_notifier(request: Request) -> Notifier:
    return cast(Notifier, request.app.state.notifier)


NotifierDep = Annotated[Notifier, Depends(get_notifier)]

OPS, AUDITOR, ADMIN = Role.OPS, Role.AUDITOR, Role.REGISTRY_ADMIN
COLLEGE, ENTERPRISE = Role.COLLEGE, Role.ENTERPRISE

PartnerUser = Annotated[Principal, Depends(require_roles(COLLEGE, ENTERPRISE))]
EndpointDisabler = Annotated[Principal, Depends(require_roles(COLLEGE, ENTERPRISE, OPS))]
EndpointReader = Annotated[Principal, Depends(require_roles(COLLEGE, ENTERPRISE, OPS, AUDITOR))]
GroupReader = Annotated[Principal, Depends(require_roles(ADMIN, OPS, AUDITOR))]
GroupWriter = Annotated[Principal, Depends(require_roles(ADMIN, OPS))]
LogReader = Annotated[Principal, Depends(require_roles(OPS, AUDITOR))]
Operator = Annotated[Principal, Depends(require_roles(OPS))]
RulesReader = Annotated[Principal, Depends(require_roles(ADMIN, OPS, AUDITOR))]
RulesWriter = Annotated[Principal, Depends(require_roles(ADMIN))]
