"""HTTP API of the registry, one router per resource: partners, membership, council,
certification, the incentive register, agreements and partner matching.

Roles: ``registry_admin`` manages everything; a ``college`` or ``enterprise`` token (bound
to one partner id) may replace its own contacts and sign agreements it is a party to;
every authenticated role reads public fields; contacts (personal data) are shown only
to registry admins, auditors and the partner itself (``access``). Updates of a partner's
profile, contacts and an agreement's terms need ``If-Match``; lifecycle actions accept an
optional ``If-Match`` (412 unless it names the current version) and otherwise apply to
the current version. Lists use ``cursor`` + ``limit`` and answer ``next_cursor``.
"""

from __future__ import annotations

from fastapi import APIRouter

from alliance_registry.adapters.http import (
    agreements,
    certifications,
    council,
    incentives,
    matching,
    memberships,
    partners,
)

ROUTERS: tuple[APIRouter, ...] = (
    partners.router,
    memberships.router,
    council.router,
    certifications.router,
    incentives.router,
    agreements.router,
    matching.router,
)
