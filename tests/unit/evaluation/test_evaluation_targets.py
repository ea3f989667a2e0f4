from __future__ import annotations

from datetime import date
from fractions import Fraction

import pytest

from alliance_evaluation.domain.evidence import EvidenceWindow, fmt
from alliance_evaluation.domain.targets import Obligation, window_targets
from alliance_shared.contract.vocabulary import ObligationMetric as Metric
from alliance_shared.contract.vocabulary import ObligationPeriod as Period

TERM_START, TERM_END = date(2025, 1, 1), date(2026, 12, 31)  # 730 days
YEAR = EvidenceWindow(start=date(2025, 1, 1), end=date(2025, 12, 31))
HALF = EvidenceWindow(start=date(2025, 1, 1), end=date(2025, 7, 1))  # 182 days


def obligation(metric: Metric, quantity: int, period: Period, party: str = "ent-1") -> Obligation:
    return Obligation(party_id=party, metric=metric, quantity=quantity, period=period)


def test_yearly_and_term_obligations_are_prorated_by_days() -> None:
    targets = window_targets(
        [
            obligation(Metric.INTERNSHIP_POSTS, 20, Period.PER_YEAR),
            obligation(Metric.HOSTED_STUDENTS, 5, Period.PER_TERM),
        ],
        HALF,
        TERM_START,
        TERM_END,
    )
    assert targets[Metric.INTERNSHIP_POSTS] == Fraction(20 * 182, 365)
    assert targets[Metric.HOSTED_STUDENTS] == 5


def test_totals_are_shared_over_the_term_and_investment_accumulates() -> None:
    second_year = EvidenceWindow(start=date(2026, 1, 1), end=date(2026, 12, 31))
    targets = window_targets(
        [
            obligation(Metric.COURSES_CODEVELOPED, 4, Period.TOTAL),
            obligation(Metric.INVESTMENT_FEN, 1_000_000, Period.TOTAL),
        ],
        second_year,
        TERM_START,
        TERM_END,
    )
    assert targets[Metric.COURSES_CODEVELOPED] == 2
    assert targets[Metric.INVESTMENT_FEN] == 1_000_000


def test_obligations_of_several_parties_add_up() -> None:
    targets = window_targets(
        [
            obligation(Metric.INTERNSHIP_POSTS, 10, Period.PER_YEAR, "ent-1"),
            obligation(Metric.INTERNSHIP_POSTS, 5, Period.PER_YEAR, "ent-2"),
        ],
        YEAR,
        TERM_START,
        TERM_END,
    )
    assert targets == {Metric.INTERNSHIP_POSTS: 15}


@pytest.mark.parametrize(
    ("value", "text"),
    [
        (Fraction(100, 3), "33.33"),
        (Fraction(2, 3), "0.67"),
        (Fraction(5, 2), "2.5"),
        (Fraction(10), "10"),
        (Fraction(1, 20), "0.05"),
        (Fraction(1, 200), "0.01"),
    ],
)
def test_figures_are_shown_rounded_half_up_to_two_places(value: Fraction, text: str) -> None:
    assert fmt(value) == text
