"""Kafka handlers, declared by payload type: funding's award grants add fiscal entries to
the incentive register and its surcharge statements keep one tax entry a year, and the
registry's own revocations suspend the enterprise's open entries. Each event applies once
(its id is the dedupe key of every write it causes); an event the contract refuses goes to
the DLQ (the runtime's consumer)."""

from __future__ import annotations

from typing import cast

from alliance_registry.service import incentives
from alliance_registry.service.repositories import Repositories
from alliance_shared.clock import Clock
from alliance_shared.contract.funding import AwardGranted, SurchargeStatementIssued
from alliance_shared.contract.registry import CertificationRevoked
from alliance_shared.contract.topics import FUNDING_EVENTS, REGISTRY_EVENTS
from alliance_shared.messaging.handlers import ConsumedEvent, Handlers
from alliance_shared.runtime import Subscription


def build_handlers(repos: Repositories, clock: Clock) -> Handlers:
    async def award_granted(event: ConsumedEvent) -> None:
        await incentives.on_award_granted(repos, clock, event.envelope.id, cast(AwardGranted, event.payload))

    async def statement_issued(event: ConsumedEvent) -> None:
        payload = cast(SurchargeStatementIssued, event.payload)
        await incentives.on_statement_issued(repos, clock, event.envelope.id, payload)

    async def certification_revoked(event: ConsumedEvent) -> None:
        payload = cast(CertificationRevoked, event.payload)
        await incentives.on_certification_revoked(repos, clock, event.envelope.id, payload)

    return {
        AwardGranted: award_granted,
        SurchargeStatementIssued: statement_issued,
        CertificationRevoked: certification_revoked,
    }


def build_subscription(repos: Repositories, clock: Clock) -> Subscription:
    return Subscription(topics=[REGISTRY_EVENTS, FUNDING_EVENTS], handlers=build_handlers(repos, clock))
