"""Education-surcharge credit statements of certified industry-education integration enterprises.

A certified enterprise's qualifying investment in vocational education earns a credit
against the education surcharge and the local education surcharge it owes for the
year; what it cannot use is carried forward to later years.

How a statement is computed (all integer fen):

* an investment counts only if made on a day inside one of the enterprise's certified
  periods (both ends included);
* its credit rate is the configured rate in force on the investment day (the step with
  the latest ``effective_from`` on or before it); before the first step there is none;
* each counting investment's credit is ``amount * rate_bp // 10000`` — rounded down to
  whole fen, per investment, so every line can be checked by hand and the statement's
  credit is exactly the sum of its lines;
* available = carried in + earned; it offsets the education surcharge first, then the
  local education surcharge; the rest is carried out to the next year.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date
from enum import StrEnum

from pydantic import BaseModel, ConfigDict, Field, model_validator

from alliance_funding.domain.programme import FULL_SHARE_BP
from alliance_shared.errors import DomainError


class CreditRate(BaseModel):
    """A credit rate in basis points, in force from ``effective_from`` until the next step."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    effective_from: date
    rate_bp: int = Field(strict=True, ge=0, le=FULL_SHARE_BP)


#: National policy: 30 % of qualifying investment may be credited.
NATIONAL_CREDIT_RATES: tuple[CreditRate, ...] = (CreditRate(effective_from=date(2019, 1, 1), rate_bp=3000),)


class Investment(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    reference: str = Field(min_length=1, max_length=100)
    made_on: date
    amount_minor: int = Field(strict=True, gt=0, le=10**15)


class CertifiedPeriod(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    valid_from: date
    valid_to: date = Field(description="last certified day, included")

    @model_validator(mode="after")
    def _ordered(self) -> CertifiedPeriod:
        if self.valid_to < self.valid_from:
            raise ValueError("a certified period ends on or after its start")
        return self

    def covers(self, day: date) -> bool:
        return self.valid_from <= day <= self.valid_to


class LineOutcome(StrEnum):
    CREDITED = "credited"
    NOT_CERTIFIED = "not_certified"
    NO_RATE = "no_rate"


class StatementLine(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    reference: str
    made_on: date
    amount_minor: int
    outcome: LineOutcome
    rate_bp: int
    credit_minor: int


class SurchargeCreditStatement(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    enterprise_id: str
    year: int
    lines: tuple[StatementLine, ...]
    eligible_investment_minor: int
    credit_earned_minor: int
    carried_in_minor: int
    available_minor: int
    education_surcharge_due_minor: int
    education_surcharge_offset_minor: int
    education_surcharge_payable_minor: int
    local_education_surcharge_due_minor: int
    local_education_surcharge_offset_minor: int
    local_education_surcharge_payable_minor: int
    carried_out_minor: int


def rate_in_force(rates: Sequence[CreditRate], day: date) -> int | None:
    """The rate of the latest step effective on or before ``day``; None before the first step."""
    in_force = [rate for rate in rates if rate.effective_from <= day]
    return max(in_force, key=lambda rate: rate.effective_from).rate_bp if in_force else None


def credit_statement(
    *,
    enterprise_id: str,
    year: int,
    investments: Sequence[Investment],
    certified_periods: Sequence[CertifiedPeriod],
    education_surcharge_due_minor: int,
    local_education_surcharge_due_minor: int,
    carried_in_minor: int,
    rates: Sequence[CreditRate] = NATIONAL_CREDIT_RATES,
) -> SurchargeCreditStatement:
    """The year's statement for one enterprise (see the module notes for the rules)."""
    for name, value in (
        ("education_surcharge_due_minor", education_surcharge_due_minor),
        ("local_education_surcharge_due_minor", local_education_surcharge_due_minor),
        ("carried_in_minor", carried_in_minor),
    ):
        if value < 0:
            raise DomainError("surcharge.negative_amount", f"{name} cannot be negative", field=name)
    if len({rate.effective_from for rate in rates}) != len(rates):
        raise DomainError("surcharge.rate_dates_repeated", "two credit rates take effect on the same day")
    outside = [i.reference for i in investments if i.made_on.year != year]
    if outside:
        raise DomainError(
            "surcharge.investment_outside_year",
            f"investments {', '.join(outside)} were not made in {year}",
            references=outside,
        )
    if len({i.reference for i in investments}) != len(investments):
        raise DomainError("surcharge.investment_repeated", "an investment reference appears twice")

    lines = [_line(investment, certified_periods, rates) for investment in sorted(investments, key=_by_day)]
    earned = sum(line.credit_minor for line in lines)
    available = carried_in_minor + earned
    education_offset = min(available, education_surcharge_due_minor)
    local_offset = min(available - education_offset, local_education_surcharge_due_minor)
    return SurchargeCreditStatement(
        enterprise_id=enterprise_id,
        year=year,
        lines=tuple(lines),
        eligible_investment_minor=sum(line.amount_minor for line in lines if line.outcome is LineOutcome.CREDITED),
        credit_earned_minor=earned,
        carried_in_minor=carried_in_minor,
        available_minor=available,
        education_surcharge_due_minor=education_surcharge_due_minor,
        education_surcharge_offset_minor=education_offset,
        education_surcharge_payable_minor=education_surcharge_due_minor - education_offset,
        local_education_surcharge_due_minor=local_education_surcharge_due_minor,
        local_education_surcharge_offset_minor=local_offset,
        local_education_surcharge_payable_minor=local_education_surcharge_due_minor - local_offset,
        carried_out_minor=available - education_offset - local_offset,
    )


def _by_day(investment: Investment) -> tuple[date, str]:
    return investment.made_on, investment.reference


def _line(investment: Investment, periods: Sequence[CertifiedPeriod], rates: Sequence[CreditRate]) -> StatementLine:
    def line(outcome: LineOutcome, rate_bp: int, credit_minor: int) -> StatementLine:
        return StatementLine(
            reference=investment.reference,
            made_on=investment.made_on,
            amount_minor=investment.amount_minor,
            outcome=outcome,
            rate_bp=rate_bp,
            credit_minor=credit_minor,
        )

    if not any(period.covers(investment.made_on) for period in periods):
        return line(LineOutcome.NOT_CERTIFIED, 0, 0)
    rate_bp = rate_in_force(rates, investment.made_on)
    if rate_bp is None:
        return line(LineOutcome.NO_RATE, 0, 0)
    return line(LineOutcome.CREDITED, rate_bp, investment.amount_minor * rate_bp // FULL_SHARE_BP)
