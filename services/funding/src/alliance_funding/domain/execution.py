"""Budget-execution figures of a programme, read straight off its ledger balances.

Every figure is an outstanding balance, so the figures add up to what was appropriated::

    appropriated = available + committed + disbursed + paid + recovery_receivable + recovered + written_off

``paid`` is what recipients hold (net of recoveries ordered); the execution rate is
``paid / appropriated`` in basis points, rounded down so a programme never reports more
execution than happened (0 when nothing was appropriated).
"""

from __future__ import annotations

from collections.abc import Mapping

from pydantic import BaseModel, ConfigDict

from alliance_funding.domain.ledger import AccountKind, parse_account


class BudgetExecution(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    programme_id: str
    appropriated_minor: int
    available_minor: int
    committed_minor: int
    disbursed_minor: int
    paid_minor: int
    recovery_receivable_minor: int
    recovered_minor: int
    written_off_minor: int
    execution_rate_bp: int


def budget_execution(programme_id: str, balances: Mapping[str, int]) -> BudgetExecution:
    """Figures of one programme from the balances of its ledger document."""
    totals = dict.fromkeys(AccountKind, 0)
    for account, balance in balances.items():
        scope, owner_id, kind = parse_account(account)
        if scope == "programme" and owner_id != programme_id:
            raise ValueError(f"{account} belongs to another programme's book")
        totals[kind] += balance
    appropriated = -totals[AccountKind.APPROPRIATION]
    paid = totals[AccountKind.PAID]
    return BudgetExecution(
        programme_id=programme_id,
        appropriated_minor=appropriated,
        available_minor=totals[AccountKind.AVAILABLE],
        committed_minor=totals[AccountKind.COMMITTED],
        disbursed_minor=totals[AccountKind.DISBURSED],
        paid_minor=paid,
        recovery_receivable_minor=totals[AccountKind.RECOVERY_RECEIVABLE],
        recovered_minor=totals[AccountKind.RECOVERED],
        written_off_minor=totals[AccountKind.WRITTEN_OFF],
        execution_rate_bp=paid * 10_000 // appropriated if appropriated > 0 else 0,
    )
