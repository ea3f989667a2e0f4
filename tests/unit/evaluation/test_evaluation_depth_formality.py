from __future__ import annotations

from datetime import date

import pytest

from alliance_evaluation.domain.depth import actual_depth, compare_depth
from alliance_evaluation.domain.formality import (
    FormalityAssessment,
    FormalityReason,
    assess_formality,
    months_before,
)
from alliance_shared.contract.vocabulary import CooperationMode as M
from alliance_shared.contract.vocabulary import Depth, RiskBand


@pytest.mark.parametrize(
    ("modes", "two_way", "depth"),
    [
        (set(), False, Depth.SHALLOW),
        ({M.EMPLOYMENT_RECOMMENDATION}, False, Depth.SHALLOW),
        ({M.INTERNSHIP_BASE}, False, Depth.MIDDLE),
        ({M.ORDER_CLASS, M.EMPLOYMENT_RECOMMENDATION}, False, Depth.MIDDLE),
        ({M.JOINT_RD_CENTRE}, False, Depth.MIDDLE),  # research alone is not teaching joined with it
        ({M.JOINT_RD_CENTRE, M.INTERNSHIP_BASE}, False, Depth.DEEP),
        ({M.INDUSTRY_COLLEGE, M.ORDER_CLASS}, False, Depth.DEEP),
        ({M.TEACHER_EXCHANGE}, True, Depth.MIDDLE),
        ({M.TEACHER_EXCHANGE, M.INTERNSHIP_BASE}, False, Depth.MIDDLE),  # one way only
        ({M.TEACHER_EXCHANGE, M.INTERNSHIP_BASE}, True, Depth.DEEP),
    ],
)
def test_actual_depth_rules(modes: set[M], two_way: bool, depth: Depth) -> None:
    assert actual_depth(modes, two_way) is depth


def test_declared_depth_is_compared_with_the_evidence() -> None:
    overstated = compare_depth(Depth.DEEP, {M.INTERNSHIP_BASE}, False)
    assert (overstated.actual, overstated.gap, overstated.overstated) == (Depth.MIDDLE, 1, True)
    assert "only middle" in overstated.explain()
    honest = compare_depth(Depth.MIDDLE, {M.ORDER_CLASS}, False)
    assert (honest.gap, honest.overstated) == (0, False)


EVALUATED = date(2025, 12, 31)


def formality(
    activity: list[date],
    *,
    active: bool = True,
    since: date = date(2024, 1, 1),
    cd02: RiskBand | None = RiskBand.ON_TRACK,
    months: int = 3,
) -> FormalityAssessment:
    return assess_formality(
        agreement_active=active,
        active_since=since,
        activity_dates=activity,
        evaluated_on=EVALUATED,
        cd02_band=cd02,
        inactive_months=months,
    )


def test_three_quiet_months_flag_an_active_agreement() -> None:
    result = formality([date(2025, 9, 30)])
    assert result.flagged
    assert result.reasons == (FormalityReason.NO_ACTIVITY,)
    assert result.inactive_months == 3
    assert result.last_activity_on == date(2025, 9, 30)


def test_recent_activity_clears_the_flag() -> None:
    result = formality([date(2025, 5, 1), date(2025, 10, 1)])
    assert not result.flagged
    assert result.reasons == ()


def test_the_quiet_period_is_configurable() -> None:
    assert not formality([date(2025, 9, 30)], months=4).flagged
    assert formality([date(2025, 10, 30)], months=2).flagged


def test_an_agreement_never_active_in_the_period_or_not_active_is_not_flagged_for_quiet() -> None:
    assert not formality([], since=date(2025, 11, 1)).flagged
    assert not formality([], active=False, cd02=RiskBand.AT_RISK).flagged
    assert formality([]).flagged


def test_cd02_at_risk_flags_too() -> None:
    result = formality([date(2025, 12, 1)], cd02=RiskBand.AT_RISK)
    assert result.reasons == (FormalityReason.ACTIVE_MONTHS_AT_RISK,)


def test_months_before_clamps_to_the_end_of_the_month() -> None:
    assert months_before(date(2025, 5, 31), 3) == date(2025, 2, 28)
    assert months_before(date(2025, 1, 15), 1) == date(2024, 12, 15)
