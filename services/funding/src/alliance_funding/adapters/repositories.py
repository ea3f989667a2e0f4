"""Domain aggregates and read models <-> VersionedStore snapshots.

Each aggregate is stored as its full state (``model_dump``); the store's version is
the aggregate's version (its ETag) and is never stored inside the state. Events and
the audit note ride in the same insert, so no state change is unannounced.

Stores:

* ``programmes``, ``applications``, ``awards`` — the aggregates;
* ``ledgers`` — one book per programme: balances, the replay window of applied
  transfer ids and, in each version, the journal entries of the posting that made
  it. The store's journal (``ledgers_journal``) is the ledger's journal;
* ``partners``, ``agreements``, ``agreement_evaluations`` — read models folded from
  registry and evaluation events;
* ``surcharge_statements`` — one education-surcharge credit statement per enterprise
  and year.
"""

from __future__ import annotations

from alliance_funding.domain.application import Application
from alliance_funding.domain.award import Award
from alliance_funding.domain.programme import Programme
from alliance_funding.service.records import (
    AgreementEvaluations,
    AgreementView,
    LedgerBook,
    PartnerView,
    StoredStatement,
)
from alliance_shared.persistence.repository import Repository
from alliance_shared.persistence.versioned_store import VERSION, MongoVersionedStore, Snapshot, snapshot_of, version_id
from alliance_shared.runtime import ServiceRuntime

PROGRAMMES = "programmes"
APPLICATIONS = "applications"
AWARDS = "awards"
LEDGERS = "ledgers"
PARTNERS = "partners"
AGREEMENTS = "agreements"
EVALUATIONS = "agreement_evaluations"
STATEMENTS = "surcharge_statements"

STORES = (PROGRAMMES, APPLICATIONS, AWARDS, LEDGERS, PARTNERS, AGREEMENTS, EVALUATIONS, STATEMENTS)


class LedgerStore(MongoVersionedStore):
    """The programme books' store: ``MongoVersionedStore`` that plans postings on ``_id`` hits only."""

    def __init__(self, runtime: ServiceRuntime, name: str) -> None:
        super().__init__(runtime.db, name, runtime.settings.service_name, runtime.relay.notify)

    async def load_for_write(self, aggregate_id: str, at_least: int = 0) -> Snapshot | None:
        """A version at least ``at_least`` to plan the next posting on, read by ``_id`` hits only.

        The local server answers an ``_id`` lookup that finds nothing by scanning the
        collection, and ``load`` always ends on such a miss (it looks one version past
        the newest). A writer does not need the newest version to be correct — the
        unique id of version N+1 refuses it if N was not the newest — so it reads the
        current document (each writer refreshes it right after its insert) and, if that
        still shows less than the version that just beat us, that version itself.
        """
        head = await self.current.find_one({"_id": aggregate_id})
        if head is not None and int(head[VERSION]) >= at_least:
            return snapshot_of(head)
        if at_least == 0:
            return None
        doc = await self.journal.find_one({"_id": version_id(aggregate_id, at_least)})
        return snapshot_of(doc) if doc else await self.load(aggregate_id)


class Repositories:
    """Every store of the service, typed."""

    def __init__(self, runtime: ServiceRuntime) -> None:
        self.programmes = Repository(runtime.store(PROGRAMMES), Programme)
        self.applications = Repository(runtime.store(APPLICATIONS), Application)
        self.awards = Repository(runtime.store(AWARDS), Award)
        self.ledgers = Repository(LedgerStore(runtime, LEDGERS), LedgerBook, version_field=None)
        self.partners = Repository(runtime.store(PARTNERS), PartnerView, version_field=None)
        self.agreements = Repository(runtime.store(AGREEMENTS), AgreementView, version_field=None)
        self.evaluations = Repository(runtime.store(EVALUATIONS), AgreementEvaluations, version_field=None)
        self.statements = Repository(runtime.store(STATEMENTS), StoredStatement, version_field=None)


def statement_key(enterprise_id: str, year: int) -> str:
    return f"{enterprise_id}:{year}"
