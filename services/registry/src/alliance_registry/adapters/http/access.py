"""Object-level access checks, each a named dependency: the caller holds an allowed role
(``deps``), and these decide whether it may see or act on this very record."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends

from alliance_registry.adapters.http.bodies import CertificationApplyIn, MembershipApplyIn, SignIn
from alliance_registry.adapters.http.deps import AdminOrPartner, PathId, Reader, Repos
from alliance_registry.service import queries
from alliance_shared.auth.dependencies import forbid_unless
from alliance_shared.auth.principal import Principal
from alliance_shared.contract.vocabulary import PartnerKind, Role
from alliance_shared.web.problems import ProblemError


async def contacts_visible(partner_id: PathId, principal: Reader) -> bool:
    """Contacts are personal data: registry admins, auditors and the partner itself see them."""
    return principal.has_any(Role.REGISTRY_ADMIN, Role.AUDITOR) or principal.is_partner(partner_id)


async def contacts_editor(partner_id: PathId, principal: AdminOrPartner) -> Principal:
    """A registry admin, or the partner itself, replaces a partner's contacts."""
    forbid_unless(
        principal.has_any(Role.REGISTRY_ADMIN) or principal.is_partner(partner_id),
        "you may change only your own contacts",
    )
    return principal


async def signing_party(agreement_id: PathId, body: SignIn, principal: AdminOrPartner, repos: Repos) -> str:
    """Whose signature the caller gives: colleges and enterprises sign only for themselves
    (a party of the agreement); a registry admin records the signature of an association,
    agency or institute by naming it, never that of a college or enterprise."""
    parties = await queries.agreement_parties(repos, agreement_id)
    own = principal.partner_id
    if own is not None and principal.has_any(Role.COLLEGE, Role.ENTERPRISE):
        forbid_unless(body.party_id in (None, own), "each party signs for itself")
        forbid_unless(own in parties, f"you are not a party of agreement {agreement_id}")
        return own
    if body.party_id is None:
        raise ProblemError(422, "agreement.party_required", "name the party whose signature you record")
    if parties.get(body.party_id) in (PartnerKind.COLLEGE, PartnerKind.ENTERPRISE):
        raise ProblemError(
            403,
            "agreement.party_signs_itself",
            f"{body.party_id} is a college or enterprise: it signs with its own token",
        )
    return body.party_id


def _own_application(partner_id: str, principal: Principal) -> None:
    # Colleges and enterprises apply only for themselves; admins record any partner's application.
    forbid_unless(
        principal.has_any(Role.REGISTRY_ADMIN) or principal.is_partner(partner_id), "you may apply only for yourself"
    )


async def membership_applicant(body: MembershipApplyIn, principal: AdminOrPartner) -> Principal:
    _own_application(body.partner_id, principal)
    return principal


async def certification_applicant(body: CertificationApplyIn, principal: AdminOrPartner) -> Principal:
    _own_application(body.partner_id, principal)
    return principal


ContactsVisible = Annotated[bool, Depends(contacts_visible)]
ContactsEditor = Annotated[Principal, Depends(contacts_editor)]
SigningParty = Annotated[str, Depends(signing_party)]
MembershipApplicant = Annotated[Principal, Depends(membership_applicant)]
CertificationApplicant = Annotated[Principal, Depends(certification_applicant)]
