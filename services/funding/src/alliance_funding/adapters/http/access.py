"""Who may call what: role checks, and the object-level checks (whose application,
award or statement it is) as named dependencies that load the object once.

Roles: ``funding_officer`` manages programmes, reviews applications, releases manual
tranches, prepares (requests) tranches, confirms payments, terminates awards and runs
recoveries; ``funding_approver`` approves prepared tranches — never one they prepared
(enforced by the domain, on the server); ``college`` / ``enterprise`` apply and see
only their own applications and awards; ``auditor`` reads everything and writes nothing.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends

from alliance_funding.adapters.http.deps import Repos
from alliance_funding.domain.application import Application
from alliance_funding.domain.award import Award
from alliance_funding.service import applications, awards
from alliance_shared.auth.dependencies import forbid_unless, require_roles
from alliance_shared.auth.principal import Principal
from alliance_shared.contract.vocabulary import Role
from alliance_shared.persistence.repository import Loaded

OFFICER, APPROVER, AUDITOR = Role.FUNDING_OFFICER, Role.FUNDING_APPROVER, Role.AUDITOR
COLLEGE, ENTERPRISE = Role.COLLEGE, Role.ENTERPRISE

Officer = Annotated[Principal, Depends(require_roles(OFFICER))]
Approver = Annotated[Principal, Depends(require_roles(APPROVER))]
Staff = Annotated[Principal, Depends(require_roles(OFFICER, APPROVER, AUDITOR))]
Applicant = Annotated[Principal, Depends(require_roles(COLLEGE, ENTERPRISE))]
Anyone = Annotated[Principal, Depends(require_roles(OFFICER, APPROVER, AUDITOR, COLLEGE, ENTERPRISE))]
StatementReader = Annotated[Principal, Depends(require_roles(OFFICER, AUDITOR, ENTERPRISE))]


def is_staff(principal: Principal) -> bool:
    return principal.has_any(OFFICER, APPROVER, AUDITOR)


def partner_of(principal: Principal) -> str:
    forbid_unless(principal.partner_id is not None, "this token names no partner")
    assert principal.partner_id is not None
    return principal.partner_id


def partner_filter(principal: Principal) -> str | None:
    """Lists: staff see everything (None), partners only their own."""
    return None if is_staff(principal) else partner_of(principal)


async def readable_application(application_id: str, principal: Anyone, repos: Repos) -> Loaded[Application]:
    loaded = await applications.get(repos, application_id)
    forbid_unless(
        is_staff(principal) or principal.is_partner(loaded.item.applicant_partner_id),
        f"application {application_id} is not yours",
    )
    return loaded


async def own_application(application_id: str, principal: Applicant, repos: Repos) -> Principal:
    """The applicant whose application this is (the only one who may change it)."""
    loaded = await applications.get(repos, application_id)
    forbid_unless(principal.is_partner(loaded.item.applicant_partner_id), f"application {application_id} is not yours")
    return principal


async def readable_award(award_id: str, principal: Anyone, repos: Repos) -> Loaded[Award]:
    loaded = await awards.get(repos, award_id)
    award = loaded.item
    forbid_unless(
        is_staff(principal) or any(principal.is_partner(p) for p in (award.recipient_partner_id, *award.party_ids)),
        f"award {award_id} is not yours",
    )
    return loaded


def statement_reader(enterprise_id: str, principal: StatementReader) -> Principal:
    forbid_unless(
        principal.has_any(OFFICER, AUDITOR) or principal.is_partner(enterprise_id),
        f"the statement of {enterprise_id} is not yours",
    )
    return principal


ReadableApplication = Annotated[Loaded[Application], Depends(readable_application)]
OwnApplication = Annotated[Principal, Depends(own_application)]
ReadableAward = Annotated[Loaded[Award], Depends(readable_award)]
StatementOwner = Annotated[Principal, Depends(statement_reader)]
