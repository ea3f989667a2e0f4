"""Rectification orders: what a result requires to be put right, by whom, by when.

A result calls for rectification when its grade is fail or any indicator is at risk
(``plan_rectification`` decides the items). Lifecycle::

    open ──respond──▶ responded ──close (supervisor verified)──▶ closed
      │  ▲                │
      │  └────return──────┘
      └─deadline passes─▶ overdue ──respond──▶ responded
                             └──────close──────▶ closed

``mark_overdue_if_due(now)`` and ``escalate_if_due(now, escalate_after)`` are called by
a scheduled pass on the injected clock. The first time an order goes overdue it emits
``rectification.overdue`` (the responsible party and the supervisors are told); an
order still overdue ``escalate_after`` past its deadline emits ``rectification.escalated``
(the supervisors and the administrators are told). Each is sent exactly once per order,
even if the order is returned and goes overdue again. A response in time stops the
clock: a responded order is neither overdue nor escalated while the supervisor reviews it.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
from datetime import datetime, timedelta
from enum import StrEnum
from fractions import Fraction
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from alliance_evaluation.domain.evidence import fmt
from alliance_evaluation.domain.result import EvaluationResult
from alliance_evaluation.domain.targets import Obligation
from alliance_shared.contract.base import EventPayload, UtcDateTime
from alliance_shared.contract.evaluation import (
    RectificationClosed,
    RectificationEscalated,
    RectificationItem,
    RectificationOrdered,
    RectificationOverdue,
    RectificationResponded,
    RectificationReturned,
)
from alliance_shared.contract.vocabulary import Grade, ObligationMetric, RiskBand
from alliance_shared.errors import DomainError, InvalidTransition

#: The item code of a failing composite grade.
COMPOSITE_ITEM = "COMPOSITE"


def plan_rectification(result: EvaluationResult) -> tuple[RectificationItem, ...]:
    """The items a result requires: its failing grade and each at-risk indicator. Empty: none needed."""
    items: list[RectificationItem] = []
    if result.grade is Grade.FAIL:
        items.append(
            RectificationItem(
                indicator_code=COMPOSITE_ITEM,
                band=RiskBand.AT_RISK,
                requirement=(
                    f"raise the composite score from {fmt(Fraction(result.score_hundredths, 100))} to a pass; "
                    f"{result.explanation}"
                )[:2000],
            )
        )
    for indicator in result.indicators:
        if indicator.band is RiskBand.AT_RISK:
            items.append(
                RectificationItem(
                    indicator_code=indicator.code,
                    band=indicator.band,
                    requirement=f"bring {indicator.code} out of the at-risk band: {indicator.explanation}"[:2000],
                )
            )
    return tuple(items)


def responsible_party(
    result: EvaluationResult,
    items: Sequence[RectificationItem],
    obligations: Sequence[Obligation],
    metric_of: Mapping[str, ObligationMetric],
) -> str:
    """Who must put the items right: the party whose obligations drive the failing
    indicators — of the obligations on the metrics those indicators measure against
    (``metric_of``: indicator code → metric), the party with the most (ties: the lowest
    id). No such obligation (a failing grade only, or indicators with fixed targets):
    the first college, which coordinates the cooperation's reporting."""
    failing = {metric_of[i.indicator_code] for i in items if i.indicator_code in metric_of}
    counts: dict[str, int] = {}
    for obligation in obligations:
        if obligation.metric in failing and obligation.party_id in result.party_ids:
            counts[obligation.party_id] = counts.get(obligation.party_id, 0) + 1
    if counts:
        return max(sorted(counts), key=lambda party_id: counts[party_id])
    return result.college_ids[0] if result.college_ids else result.party_ids[0]


def chosen_items(result: EvaluationResult, requirements: Sequence[tuple[str, str]]) -> tuple[RectificationItem, ...]:
    """Items a supervisor chose by hand: (indicator code or ``COMPOSITE``, requirement),
    each with the band the result gave it."""
    bands: dict[str, RiskBand | None] = {i.code: i.band for i in result.indicators}
    bands[COMPOSITE_ITEM] = RiskBand.AT_RISK if result.grade is Grade.FAIL else result.overall_risk
    codes = [code for code, _ in requirements]
    if len(codes) != len(set(codes)):
        raise DomainError("rectification.duplicate_item", "each indicator is named once in an order")
    items: list[RectificationItem] = []
    for code, requirement in requirements:
        if code not in bands:
            raise DomainError(
                "rectification.unknown_item",
                f"result {result.result_id} has no indicator {code}",
                indicator_code=code,
            )
        band = bands[code]
        if band is None:
            raise DomainError(
                "rectification.item_not_applicable",
                f"{code} does not apply to agreement {result.agreement_id} (no such obligation)",
                indicator_code=code,
            )
        items.append(RectificationItem(indicator_code=code, band=band, requirement=requirement))
    return tuple(items)


class OrderStatus(StrEnum):
    OPEN = "open"
    RESPONDED = "responded"
    OVERDUE = "overdue"
    CLOSED = "closed"


class RectificationOrder(BaseModel):
    model_config = ConfigDict(extra="forbid", validate_assignment=True)

    order_id: str = Field(min_length=1, max_length=100)
    agreement_id: str
    result_id: str
    cycle_id: str
    responsible_party_id: str
    party_ids: tuple[str, ...]
    items: tuple[RectificationItem, ...] = Field(min_length=1, max_length=100)
    #: A supervisor chose the items and wrote each requirement; otherwise the requirements
    #: are generated (in English) and readers render them from indicator code and band.
    by_hand: bool = False
    due_at: UtcDateTime
    status: OrderStatus = OrderStatus.OPEN
    evidence_refs: tuple[str, ...] = ()
    #: When the order first went overdue (``rectification.overdue`` was sent).
    overdue_at: UtcDateTime | None = None
    #: When the order, still overdue, was escalated (``rectification.escalated`` was sent).
    escalated_at: UtcDateTime | None = None
    ordered_at: UtcDateTime
    ordered_by: str
    closed_at: UtcDateTime | None = None
    closed_by: str | None = None
    version: int = 0
    events: list[EventPayload] = Field(default_factory=list, exclude=True)

    @classmethod
    def order(
        cls,
        *,
        order_id: str,
        result: EvaluationResult,
        responsible_party_id: str,
        due_at: datetime,
        now: datetime,
        actor_id: str,
        items: Sequence[RectificationItem] | None = None,
    ) -> RectificationOrder:
        """Issue an order for a result; ``items`` default to ``plan_rectification(result)``."""
        chosen = tuple(items) if items is not None else plan_rectification(result)
        if not chosen:
            raise DomainError(
                "rectification.not_needed",
                f"result {result.result_id} has no failing grade and no at-risk indicator",
            )
        if responsible_party_id not in result.party_ids:
            raise DomainError(
                "rectification.not_a_party",
                f"{responsible_party_id} is not a party to agreement {result.agreement_id}",
            )
        if due_at <= now:
            raise DomainError("rectification.due_in_past", "a rectification deadline lies in the future")
        order = cls(
            order_id=order_id,
            agreement_id=result.agreement_id,
            result_id=result.result_id,
            cycle_id=result.cycle_id,
            responsible_party_id=responsible_party_id,
            party_ids=result.party_ids,
            items=chosen,
            by_hand=items is not None,
            due_at=due_at,
            ordered_at=now,
            ordered_by=actor_id,
        )
        order.events.append(
            RectificationOrdered(
                **order._common(now, actor_id), cycle_id=order.cycle_id, items=order.items, by_hand=order.by_hand
            )
        )
        return order

    @property
    def was_overdue(self) -> bool:
        return self.overdue_at is not None

    def respond(self, evidence_refs: Collection[str], now: datetime, actor_id: str) -> None:
        if self.status not in (OrderStatus.OPEN, OrderStatus.OVERDUE):
            raise InvalidTransition("rectification", self.status, "respond to")
        if not evidence_refs:
            raise DomainError("rectification.no_evidence", "a response names at least one piece of evidence")
        self.evidence_refs = tuple(evidence_refs)
        self.status = OrderStatus.RESPONDED
        self.events.append(RectificationResponded(**self._common(now, actor_id), evidence_refs=self.evidence_refs))

    def return_to_party(self, reason: str, now: datetime, actor_id: str) -> None:
        """The response does not suffice: the order is open again (overdue again on the next sweep)."""
        if self.status is not OrderStatus.RESPONDED:
            raise InvalidTransition("rectification", self.status, "return")
        self.status = OrderStatus.OPEN
        self.events.append(RectificationReturned(**self._common(now, actor_id), reason=reason))

    def close(self, reason: str, now: datetime, verifier_id: str) -> None:
        """A supervisor verified the rectification; an overdue order may be closed too."""
        if self.status not in (OrderStatus.RESPONDED, OrderStatus.OVERDUE):
            raise InvalidTransition("rectification", self.status, "close")
        self.status = OrderStatus.CLOSED
        self.closed_at = now
        self.closed_by = verifier_id
        self.events.append(
            RectificationClosed(**self._common(now, verifier_id), was_overdue=self.was_overdue, reason=reason)
        )

    def mark_overdue_if_due(self, now: datetime) -> bool:
        """Move an unanswered order past its deadline to overdue; True when this sent ``rectification.overdue``."""
        if self.status is not OrderStatus.OPEN or now < self.due_at:
            return False
        self.status = OrderStatus.OVERDUE
        if self.overdue_at is not None:
            return False
        self.overdue_at = now
        self.events.append(RectificationOverdue(**self._common(now, "system")))
        return True

    def escalate_if_due(self, now: datetime, escalate_after: timedelta) -> bool:
        """Escalate an order still overdue ``escalate_after`` past its deadline, once;
        True when this sent ``rectification.escalated``."""
        if self.status is not OrderStatus.OVERDUE or self.escalated_at is not None:
            return False
        if now < self.due_at + escalate_after:
            return False
        assert self.overdue_at is not None  # an overdue order went overdue
        self.escalated_at = now
        self.events.append(
            RectificationEscalated(
                **self._common(now, "system"),
                overdue_since=self.overdue_at,
                escalate_after_days=escalate_after.days,
            )
        )
        return True

    def _common(self, now: datetime, actor_id: str) -> dict[str, Any]:
        return {
            "order_id": self.order_id,
            "agreement_id": self.agreement_id,
            "result_id": self.result_id,
            "responsible_party_id": self.responsible_party_id,
            "party_ids": self.party_ids,
            "due_at": self.due_at,
            "ordered_by": self.ordered_by,
            "occurred_at": now,
            "actor_id": actor_id,
        }

    def to_document(self) -> dict[str, Any]:
        return self.model_dump(mode="python")

    @classmethod
    def from_document(cls, document: Mapping[str, Any]) -> RectificationOrder:
        return cls.model_validate({k: v for k, v in document.items() if k != "_id"})
