"""Who is calling: the verified claims of a bearer token."""

from __future__ import annotations

from dataclasses import dataclass

from alliance_shared.contract.vocabulary import Role

#: Roles bound to one partner: they see and act on their own records only.
PARTNER_BOUND_ROLES = frozenset({Role.COLLEGE, Role.ENTERPRISE, Role.AGENCY_STAFF})


@dataclass(frozen=True)
class Principal:
    subject: str
    roles: frozenset[Role]
    partner_id: str | None = None
    name: str | None = None

    def has_any(self, *roles: Role) -> bool:
        return bool(self.roles.intersection(roles))

    @property
    def primary_role(self) -> str:
        return sorted(self.roles)[0] if self.roles else ""

    def is_partner(self, partner_id: str) -> bool:
        """True when this principal is a partner-bound user of exactly that partner."""
        return self.partner_id is not None and self.partner_id == partner_id and self.has_any(*PARTNER_BOUND_ROLES)
