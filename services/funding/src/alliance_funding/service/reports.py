"""Reports officers ask for, as tables (header + rows) the HTTP layer renders as JSON,
CSV or XLSX: budget execution per programme / region / cooperation mode, the tranche
pipeline (what waits for whom, since when), and an award's money history.

Figures come straight from the programme books (balances are outstanding amounts;
see ``domain.execution``). Per region and per mode they are summed over awards: an
award counts in its recipient's region, and in every mode of its agreement — so the
mode table is not additive across modes when agreements combine modes.
"""

from __future__ import annotations

from typing import Any

from alliance_funding.domain.award import Award
from alliance_funding.domain.execution import budget_execution
from alliance_funding.domain.ledger import AccountKind, award_account
from alliance_funding.domain.tranche import TrancheStatus
from alliance_funding.service import ledger
from alliance_funding.service.ports import Repositories
from alliance_shared.clock import Clock
from alliance_shared.errors import DomainError
from alliance_shared.tables import Table

AWARD_FIGURES = [
    "awarded_minor",
    "committed_minor",
    "disbursed_minor",
    "paid_minor",
    "recovery_receivable_minor",
    "recovered_minor",
    "written_off_minor",
]


async def _award_figures(repos: Repositories) -> list[tuple[Award, dict[str, int]]]:
    books: dict[str, dict[str, int]] = {}
    out = []
    for loaded in await repos.awards.find({}):
        award = loaded.item
        if award.programme_id not in books:
            books[award.programme_id] = (await ledger.book_of(repos, award.programme_id))[0].balances
        balances = books[award.programme_id]

        def bal(kind: AccountKind, award_id: str = award.award_id, book: dict[str, int] = balances) -> int:
            return book.get(award_account(award_id, kind), 0)

        recovered = sum(r.settled_minor for r in award.recoveries)
        out.append(
            (
                award,
                {
                    "awarded_minor": award.amount_minor,
                    "committed_minor": bal(AccountKind.COMMITTED),
                    "disbursed_minor": bal(AccountKind.DISBURSED),
                    "paid_minor": bal(AccountKind.PAID),
                    "recovery_receivable_minor": bal(AccountKind.RECOVERY_RECEIVABLE),
                    "recovered_minor": recovered,
                    "written_off_minor": sum(r.written_off_minor for r in award.recoveries),
                },
            )
        )
    return out


def _rate(paid: int, base: int) -> int:
    return paid * 10_000 // base if base > 0 else 0


async def budget_execution_table(repos: Repositories, by: str) -> Table:
    if by == "programme":
        table = Table(
            "budget execution by programme",
            [
                "programme_id",
                "name",
                "fiscal_year",
                "status",
                "appropriated_minor",
                "available_minor",
                "committed_minor",
                "disbursed_minor",
                "paid_minor",
                "recovery_receivable_minor",
                "recovered_minor",
                "written_off_minor",
                "execution_rate_bp",
            ],
        )
        for loaded in await repos.programmes.find({}):
            programme = loaded.item
            book, _ = await ledger.book_of(repos, programme.programme_id)
            execution = budget_execution(programme.programme_id, book.balances)
            table.rows.append(
                [
                    programme.programme_id,
                    programme.name,
                    programme.fiscal_year,
                    str(programme.status),
                    execution.appropriated_minor,
                    execution.available_minor,
                    execution.committed_minor,
                    execution.disbursed_minor,
                    execution.paid_minor,
                    execution.recovery_receivable_minor,
                    execution.recovered_minor,
                    execution.written_off_minor,
                    execution.execution_rate_bp,
                ]
            )
        return table
    if by not in ("region", "mode"):
        raise DomainError("report.bad_grouping", "group by programme, region or mode")
    groups: dict[str, dict[str, int]] = {}
    for award, figures in await _award_figures(repos):
        if by == "region":
            partner = await repos.partners.get(award.recipient_partner_id)
            keys = [partner.item.region_code if partner and partner.item.region_code else "unknown"]
        else:
            agreement = await repos.agreements.get(award.agreement_id)
            keys = [str(m) for m in agreement.item.modes] if agreement and agreement.item.modes else ["unknown"]
        for key in keys:
            group = groups.setdefault(key, dict.fromkeys([*AWARD_FIGURES, "awards"], 0))
            group["awards"] += 1
            for name in AWARD_FIGURES:
                group[name] += figures[name]
    table = Table(f"budget execution by {by}", [by, "awards", *AWARD_FIGURES, "execution_rate_bp"])
    for key, group in sorted(groups.items()):
        table.rows.append(
            [
                key,
                group["awards"],
                *(group[n] for n in AWARD_FIGURES),
                _rate(group["paid_minor"], group["awarded_minor"]),
            ]
        )
    return table


WAITING_FOR = {
    TrancheStatus.SCHEDULED: "release condition",
    TrancheStatus.ELIGIBLE: "funding_officer (request)",
    TrancheStatus.REQUESTED: "funding_approver (approve)",
    TrancheStatus.APPROVED: "payment confirmation",
    TrancheStatus.WITHHELD: "recipient (evaluation or rectification)",
}


async def tranche_pipeline_table(repos: Repositories, clock: Clock, programme_id: str | None = None) -> Table:
    now = clock.now()
    table = Table(
        "tranche pipeline",
        [
            "award_id",
            "programme_id",
            "tranche_id",
            "sequence",
            "status",
            "waiting_for",
            "scheduled_minor",
            "approved_minor",
            "holds",
            "since",
            "waiting_days",
            "prepared_by",
        ],
    )
    query = {"programme_id": programme_id} if programme_id else {}
    for loaded in await repos.awards.find(query):
        award = loaded.item
        for t in award.tranches:
            if t.status not in WAITING_FOR:
                continue
            since = t.approved_at or t.requested_at or award.granted_at
            table.rows.append(
                [
                    award.award_id,
                    award.programme_id,
                    t.tranche_id,
                    t.sequence,
                    str(t.status),
                    WAITING_FOR[t.status],
                    t.scheduled_minor,
                    t.approved_minor,
                    "|".join(t.holds),
                    since.isoformat(),
                    (now - since).days,
                    t.prepared_by,
                ]
            )
    return table


async def money_history_table(repos: Repositories, award: Award) -> Table:
    table = Table(
        f"money history {award.award_id}"[:31],
        [
            "ledger_version",
            "at",
            "transfer_id",
            "kind",
            "debit_account",
            "credit_account",
            "amount_minor",
            "actor_id",
            "refs",
        ],
    )
    prefix = f"award:{award.award_id}:"
    for version, entry in await ledger.journal(repos, award.programme_id):
        if entry.debit_account.startswith(prefix) or entry.credit_account.startswith(prefix):
            table.rows.append(
                [
                    version,
                    entry.at.isoformat(),
                    entry.transfer_id,
                    str(entry.kind),
                    entry.debit_account,
                    entry.credit_account,
                    entry.amount_minor,
                    entry.actor_id,
                    ";".join(f"{k}={v}" for k, v in sorted(entry.refs.items())),
                ]
            )
    return table


def award_sync(award: Award, balances: dict[str, int]) -> dict[str, Any]:
    """Does the award's state agree with its accounts in the book? (the crash check)"""
    expected = {
        AccountKind.COMMITTED: award.committed_minor,
        AccountKind.DISBURSED: sum(t.unpaid_approved_minor for t in award.tranches),
        AccountKind.PAID: award.paid_total_minor - award.recovery_ordered_minor,
        AccountKind.RECOVERY_RECEIVABLE: sum(r.outstanding_minor for r in award.recoveries),
    }
    differences = {
        str(kind): {"award_state": value, "ledger": balances.get(award_account(award.award_id, kind), 0)}
        for kind, value in expected.items()
        if balances.get(award_account(award.award_id, kind), 0) != value
    }
    return {"award_id": award.award_id, "in_sync": not differences, "differences": differences}


async def awards_in_sync(repos: Repositories, programme_id: str, balances: dict[str, int]) -> list[dict[str, Any]]:
    """Each award of the programme, at its newest version, against the book.

    Current documents can lag the journal for a moment after a crash (the relay's sweep
    settles them), so verification reads every award's newest version itself.
    """
    found = await repos.awards.find({"programme_id": programme_id})
    newest = [await repos.awards.get(a.item.award_id, exact=True) for a in found]
    return [award_sync(a.item, balances) for a in newest if a is not None]
