"""Unique unified social credit codes: a partner claims its code before it is written.

The claims' unique key refuses a second holder even when two registrations race. A
claim is released if the partner write fails. A claim whose partner does not exist is
either a registration still in flight (refused like any taken code) or, once older than
``STALE_AFTER``, the leftover of a crash between the two writes, which the next
registration takes over.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from alliance_registry.service.ports import CreditCodeClaim
from alliance_registry.service.repositories import Repositories
from alliance_shared.errors import Conflict

STALE_AFTER = timedelta(minutes=2)
#: Claims tried before giving up when holders keep appearing and vanishing.
ATTEMPTS = 3


async def claim(repos: Repositories, code: str, partner_id: str, now: datetime) -> None:
    """``partner_id`` holds ``code`` afterwards; 409 ``partner.credit_code_taken`` if another partner does."""
    for _ in range(ATTEMPTS):
        if await repos.credit_codes.insert(CreditCodeClaim(code, partner_id, now)):
            return
        holder = await repos.credit_codes.holder(code)
        if holder is None:  # released meanwhile: claim again
            continue
        if holder.partner_id == partner_id:
            return
        stale = now - holder.claimed_at > STALE_AFTER
        if not stale or await repos.partners.get(holder.partner_id) is not None:
            raise Conflict(
                "partner.credit_code_taken",
                f"unified social credit code {code} is already registered to partner {holder.partner_id}",
                field="credit_code",
                partner_id=holder.partner_id,
            )
        await repos.credit_codes.release(code, holder.partner_id)
    raise Conflict("partner.credit_code_contended", f"credit code {code} is being registered concurrently")
