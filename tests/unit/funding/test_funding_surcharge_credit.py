from __future__ import annotations

from datetime import date
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from alliance_funding.domain.surcharge_credit import (
    NATIONAL_CREDIT_RATES,
    CertifiedPeriod,
    CreditRate,
    Investment,
    LineOutcome,
    credit_statement,
    rate_in_force,
)
from alliance_shared.errors import DomainError

WHOLE_YEAR = (CertifiedPeriod(valid_from=date(2025, 1, 1), valid_to=date(2025, 12, 31)),)


def statement(**changes: Any) -> Any:
    fields: dict[str, Any] = {
        "enterprise_id": "ent-1",
        "year": 2025,
        "investments": [Investment(reference="inv-1", made_on=date(2025, 3, 1), amount_minor=1_000_000_00)],
        "certified_periods": WHOLE_YEAR,
        "education_surcharge_due_minor": 200_000_00,
        "local_education_surcharge_due_minor": 150_000_00,
        "carried_in_minor": 0,
    }
    return credit_statement(**{**fields, **changes})


def test_thirty_percent_offsets_the_education_surcharge_first_then_the_local_one() -> None:
    result = statement()
    assert result.credit_earned_minor == 300_000_00
    assert (result.education_surcharge_offset_minor, result.education_surcharge_payable_minor) == (200_000_00, 0)
    assert (result.local_education_surcharge_offset_minor, result.local_education_surcharge_payable_minor) == (
        100_000_00,
        50_000_00,
    )
    assert result.carried_out_minor == 0


def test_unused_credit_is_carried_forward_and_used_the_next_year() -> None:
    first = statement(education_surcharge_due_minor=100_000_00, local_education_surcharge_due_minor=50_000_00)
    assert first.carried_out_minor == 150_000_00
    second = statement(
        year=2026,
        investments=[],
        certified_periods=(),
        carried_in_minor=first.carried_out_minor,
        education_surcharge_due_minor=120_000_00,
        local_education_surcharge_due_minor=80_000_00,
    )
    assert second.credit_earned_minor == 0
    assert (second.education_surcharge_offset_minor, second.local_education_surcharge_offset_minor) == (
        120_000_00,
        30_000_00,
    )
    assert (second.local_education_surcharge_payable_minor, second.carried_out_minor) == (50_000_00, 0)


def test_only_investment_made_while_certified_counts() -> None:
    periods = (
        CertifiedPeriod(valid_from=date(2025, 1, 1), valid_to=date(2025, 3, 31)),
        CertifiedPeriod(valid_from=date(2025, 9, 1), valid_to=date(2025, 12, 31)),
    )
    investments = [
        Investment(reference="before-lapse", made_on=date(2025, 3, 31), amount_minor=100_00),
        Investment(reference="lapsed", made_on=date(2025, 6, 15), amount_minor=900_00),
        Investment(reference="recertified", made_on=date(2025, 9, 1), amount_minor=200_00),
    ]
    result = statement(investments=investments, certified_periods=periods)
    assert [line.outcome for line in result.lines] == [
        LineOutcome.CREDITED,
        LineOutcome.NOT_CERTIFIED,
        LineOutcome.CREDITED,
    ]
    assert result.eligible_investment_minor == 300_00
    assert result.credit_earned_minor == 90_00


def test_the_rate_in_force_on_the_investment_day_applies_and_each_line_rounds_down() -> None:
    rates = (
        CreditRate(effective_from=date(2019, 1, 1), rate_bp=3000),
        CreditRate(effective_from=date(2025, 7, 1), rate_bp=2500),
    )
    investments = [
        Investment(reference="a", made_on=date(2025, 6, 30), amount_minor=333),  # 99.9 → 99
        Investment(reference="b", made_on=date(2025, 7, 1), amount_minor=333),  # 83.25 → 83
    ]
    result = statement(investments=investments, rates=rates)
    assert [(line.rate_bp, line.credit_minor) for line in result.lines] == [(3000, 99), (2500, 83)]
    assert result.credit_earned_minor == 182
    assert rate_in_force(rates, date(2018, 12, 31)) is None
    assert rate_in_force(NATIONAL_CREDIT_RATES, date(2025, 1, 1)) == 3000


def test_investment_before_any_rate_earns_nothing() -> None:
    rates = (CreditRate(effective_from=date(2025, 6, 1), rate_bp=3000),)
    result = statement(rates=rates)
    assert result.lines[0].outcome is LineOutcome.NO_RATE
    assert result.credit_earned_minor == 0


@pytest.mark.parametrize(
    ("changes", "code"),
    [
        ({"investments": [Investment(reference="x", made_on=date(2024, 12, 31), amount_minor=1)]}, "outside_year"),
        ({"carried_in_minor": -1}, "negative_amount"),
        (
            {
                "investments": [
                    Investment(reference="x", made_on=date(2025, 1, 2), amount_minor=1),
                    Investment(reference="x", made_on=date(2025, 1, 3), amount_minor=1),
                ]
            },
            "investment_repeated",
        ),
        (
            {
                "rates": (
                    CreditRate(effective_from=date(2025, 1, 1), rate_bp=1),
                    CreditRate(effective_from=date(2025, 1, 1), rate_bp=2),
                )
            },
            "rate_dates_repeated",
        ),
    ],
)
def test_inconsistent_inputs_are_refused(changes: dict[str, Any], code: str) -> None:
    with pytest.raises(DomainError) as raised:
        statement(**changes)
    assert raised.value.code.endswith(code)


@settings(max_examples=200, deadline=None)
@given(
    amounts=st.lists(st.integers(1, 10**12), max_size=6),
    carried_in=st.integers(0, 10**12),
    education_due=st.integers(0, 10**12),
    local_due=st.integers(0, 10**12),
)
def test_the_statement_always_balances(amounts: list[int], carried_in: int, education_due: int, local_due: int) -> None:
    investments = [
        Investment(reference=f"i{n}", made_on=date(2025, 1 + n, 1), amount_minor=amount)
        for n, amount in enumerate(amounts)
    ]
    result = statement(
        investments=investments,
        carried_in_minor=carried_in,
        education_surcharge_due_minor=education_due,
        local_education_surcharge_due_minor=local_due,
    )
    assert result.credit_earned_minor == sum(amount * 3000 // 10_000 for amount in amounts)
    used = result.education_surcharge_offset_minor + result.local_education_surcharge_offset_minor
    assert used + result.carried_out_minor == carried_in + result.credit_earned_minor
    assert result.education_surcharge_payable_minor + result.education_surcharge_offset_minor == education_due
    assert result.local_education_surcharge_payable_minor + result.local_education_surcharge_offset_minor == local_due
    assert (
        min(
            result.carried_out_minor,
            result.education_surcharge_payable_minor + result.local_education_surcharge_payable_minor,
        )
        == 0
    )
