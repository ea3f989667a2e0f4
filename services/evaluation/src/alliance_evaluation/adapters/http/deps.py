"""What routes get injected: the use cases' context from the app state, and the callers
admitted by role (object-level checks are in ``access``)."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request

from alliance_evaluation.service.context import Context
from alliance_shared.auth.dependencies import require_roles
from alliance_shared.auth.principal import Principal
from alliance_shared.contract.vocabulary import Role

SUPERVISOR, EVALUATOR, AUDITOR = Role.SUPERVISOR, Role.EVALUATOR, Role.AUDITOR
COLLEGE, ENTERPRISE = Role.COLLEGE, Role.ENTERPRISE


def use_case_context(request: Request) -> Context:
    context: Context = request.app.state.evaluation
    return context


Evaluation = Annotated[Context, Depends(use_case_context)]

Supervisor = Annotated[Principal, Depends(require_roles(SUPERVISOR))]
AnyReader = Annotated[Principal, Depends(require_roles(SUPERVISOR, EVALUATOR, AUDITOR, COLLEGE, ENTERPRISE))]
CycleReader = Annotated[Principal, Depends(require_roles(SUPERVISOR, EVALUATOR, AUDITOR))]
Overseer = Annotated[Principal, Depends(require_roles(SUPERVISOR, AUDITOR))]
PartyReader = Annotated[Principal, Depends(require_roles(SUPERVISOR, AUDITOR, COLLEGE, ENTERPRISE))]
EvidenceWriter = Annotated[Principal, Depends(require_roles(SUPERVISOR, ENTERPRISE))]
Party = Annotated[Principal, Depends(require_roles(COLLEGE, ENTERPRISE))]
Scorer = Annotated[Principal, Depends(require_roles(EVALUATOR, SUPERVISOR))]
