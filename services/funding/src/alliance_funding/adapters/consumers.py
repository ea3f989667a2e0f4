"""Kafka handlers, declared by payload type: registry events feed the partner and
agreement read models (an agreement that stops holds its awards' unpaid tranches);
evaluation results and rectification events feed the evaluation read model and move
tranches to eligible / withheld automatically. Each event applies once (its id is the
dedupe key of every write it causes); an event the contract refuses goes to the DLQ
(the runtime's consumer)."""

from __future__ import annotations

from typing import cast

from alliance_funding.service import awards, readmodels
from alliance_funding.service.ports import Repositories
from alliance_funding.service.readmodels import AgreementEvent, CertificateEvent, PartnerEvent
from alliance_shared.clock import Clock
from alliance_shared.contract.evaluation import RectificationClosed, RectificationOverdue, ResultCompleted
from alliance_shared.contract.registry import (
    AgreementActivated,
    AgreementAmended,
    AgreementCompleted,
    AgreementDrafted,
    AgreementPartySigned,
    AgreementResumed,
    AgreementSigned,
    AgreementSuspended,
    AgreementTerminated,
    CertificationExpired,
    CertificationGranted,
    CertificationRevoked,
    PartnerDeactivated,
    PartnerRegistered,
    PartnerUpdated,
)
from alliance_shared.contract.topics import EVALUATION_EVENTS, REGISTRY_EVENTS
from alliance_shared.messaging.handlers import ConsumedEvent, Handlers
from alliance_shared.runtime import Subscription


def build_handlers(repos: Repositories, clock: Clock) -> Handlers:
    """The use case each consumed payload type runs (the consumer dispatches by type,
    so each handler knows the payload's type)."""

    async def partner(event: ConsumedEvent) -> None:
        await readmodels.apply_partner_event(repos, event.envelope.id, cast(PartnerEvent, event.payload))

    async def certificate(event: ConsumedEvent) -> None:
        await readmodels.apply_certificate_event(repos, event.envelope.id, cast(CertificateEvent, event.payload))

    async def agreement(event: ConsumedEvent) -> None:
        await awards.on_agreement_changed(repos, clock, event.envelope.id, cast(AgreementEvent, event.payload))

    async def result(event: ConsumedEvent) -> None:
        await awards.on_result_completed(repos, clock, event.envelope.id, cast(ResultCompleted, event.payload))

    async def rectification(event: ConsumedEvent) -> None:
        payload = cast(RectificationOverdue | RectificationClosed, event.payload)
        await awards.on_rectification_changed(repos, clock, event.envelope.id, payload)

    return {
        PartnerRegistered: partner,
        PartnerUpdated: partner,
        PartnerDeactivated: partner,
        CertificationGranted: certificate,
        CertificationRevoked: certificate,
        CertificationExpired: certificate,
        AgreementDrafted: agreement,
        AgreementPartySigned: agreement,
        AgreementSigned: agreement,
        AgreementActivated: agreement,
        AgreementAmended: agreement,
        AgreementSuspended: agreement,
        AgreementResumed: agreement,
        AgreementTerminated: agreement,
        AgreementCompleted: agreement,
        ResultCompleted: result,
        RectificationOverdue: rectification,
        RectificationClosed: rectification,
    }


def build_subscription(repos: Repositories, clock: Clock) -> Subscription:
    return Subscription(topics=[REGISTRY_EVENTS, EVALUATION_EVENTS], handlers=build_handlers(repos, clock))
