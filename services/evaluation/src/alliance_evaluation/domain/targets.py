"""Targets of a window from an agreement's obligations.

An obligation is a party's commitment (registry): a metric, a quantity, a period. A
cycle's window rarely matches the period, so the target is pro-rated by days:
``per_year`` by window days / 365, ``per_term`` by window days / 182 (a term is half a
year), ``total`` (over the agreement's term) by the share of the term the window covers.
Enterprise investment is cumulative, so its ``total`` pledge is pro-rated by the share
of the term elapsed at the window's end instead. Obligations of several parties on
the same metric add up.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date
from fractions import Fraction

from pydantic import BaseModel, ConfigDict, Field

from alliance_evaluation.domain.evidence import EvidenceWindow
from alliance_shared.contract.vocabulary import ObligationMetric, ObligationPeriod

DAYS_PER_YEAR = 365
DAYS_PER_TERM = 182
CUMULATIVE_METRICS: frozenset[ObligationMetric] = frozenset({ObligationMetric.INVESTMENT_FEN})


class Obligation(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    party_id: str = Field(min_length=1, max_length=100)
    metric: ObligationMetric
    quantity: int = Field(ge=0)
    period: ObligationPeriod


def _days(start: date, end: date) -> int:
    """Days from start to end, both included; 0 when they do not overlap."""
    return max(0, (end - start).days + 1)


def window_targets(
    obligations: Iterable[Obligation], window: EvidenceWindow, term_start: date, term_end: date
) -> dict[ObligationMetric, Fraction]:
    """The target of each committed metric for ``window``."""
    term_days = _days(term_start, term_end)
    overlap_days = _days(max(window.start, term_start), min(window.end, term_end))
    elapsed_days = _days(term_start, min(window.end, term_end))
    targets: dict[ObligationMetric, Fraction] = {}
    for obligation in obligations:
        if obligation.period is ObligationPeriod.PER_YEAR:
            share = Fraction(overlap_days, DAYS_PER_YEAR)
        elif obligation.period is ObligationPeriod.PER_TERM:
            share = Fraction(overlap_days, DAYS_PER_TERM)
        elif term_days == 0:
            share = Fraction(0)
        elif obligation.metric in CUMULATIVE_METRICS:
            share = Fraction(elapsed_days, term_days)
        else:
            share = Fraction(overlap_days, term_days)
        targets[obligation.metric] = targets.get(obligation.metric, Fraction(0)) + obligation.quantity * share
    return targets
