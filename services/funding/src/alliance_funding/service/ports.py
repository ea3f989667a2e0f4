"""What the use cases need from outside: the versioned stores (one per kind of aggregate
or read model), typed as repositories.

The composition root builds ``Repositories`` on the runtime's MongoDB stores
(``ServiceRuntime.store``); the use-case tests on ``InMemoryVersionedStore``.

Stores:

* ``programmes``, ``applications``, ``awards`` — the aggregates;
* ``ledgers`` — one book per programme: balances, the replay window of applied
  transfer ids and, in each version, the journal entries of the postings that made
  it (one batch, ``service/ledger.py``). The store's journal (``ledgers_journal``) is
  the ledger's journal;
* ``partners``, ``agreements``, ``agreement_evaluations`` — read models folded from
  registry and evaluation events;
* ``surcharge_statements`` — one education-surcharge credit statement per enterprise
  and year.

``TransferReceipts`` is the ledger's own port: one receipt per applied transfer id, so a
transfer is applied at most once even after its id left a book's replay window
(``service/ledger.py``).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Protocol

from alliance_funding.domain.application import Application
from alliance_funding.domain.award import Award
from alliance_funding.domain.ledger import AppliedTransfer
from alliance_funding.domain.programme import Programme
from alliance_funding.service.records import (
    AgreementEvaluations,
    AgreementView,
    LedgerBook,
    PartnerView,
    StoredStatement,
)
from alliance_shared.persistence.repository import Repository
from alliance_shared.persistence.versioned_store import VersionedStore

PROGRAMMES = "programmes"
APPLICATIONS = "applications"
AWARDS = "awards"
LEDGERS = "ledgers"
PARTNERS = "partners"
AGREEMENTS = "agreements"
EVALUATIONS = "agreement_evaluations"
STATEMENTS = "surcharge_statements"

STORES = (PROGRAMMES, APPLICATIONS, AWARDS, LEDGERS, PARTNERS, AGREEMENTS, EVALUATIONS, STATEMENTS)

#: Gives the versioned store of a name (``ServiceRuntime.store``, or an in-memory twin).
StoreFactory = Callable[[str], VersionedStore]


class TransferReceipts(Protocol):
    """Receipts of applied transfers, keyed by programme and transfer id; written only
    for transfers a stored book version holds, never changed."""

    async def record(self, programme_id: str, applied: Sequence[AppliedTransfer]) -> None:
        """Write the receipts; those that exist already are kept as they are."""

    async def find(self, programme_id: str, transfer_ids: Sequence[str]) -> list[AppliedTransfer]:
        """The receipts among ``transfer_ids`` (those never applied have none)."""

    async def ids(self, programme_id: str) -> set[str]:
        """The transfer id of every receipt of the programme's book."""


class Repositories:
    """Every store of the service, typed, and the ledger's transfer receipts."""

    def __init__(self, stores: StoreFactory, receipts: TransferReceipts) -> None:
        self.receipts = receipts
        self.programmes = Repository(stores(PROGRAMMES), Programme)
        self.applications = Repository(stores(APPLICATIONS), Application)
        self.awards = Repository(stores(AWARDS), Award)
        self.ledgers = Repository(stores(LEDGERS), LedgerBook, version_field=None)
        self.partners = Repository(stores(PARTNERS), PartnerView, version_field=None)
        self.agreements = Repository(stores(AGREEMENTS), AgreementView, version_field=None)
        self.evaluations = Repository(stores(EVALUATIONS), AgreementEvaluations, version_field=None)
        self.statements = Repository(stores(STATEMENTS), StoredStatement, version_field=None)


def statement_key(enterprise_id: str, year: int) -> str:
    return f"{enterprise_id}:{year}"
