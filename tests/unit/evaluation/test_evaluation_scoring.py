from __future__ import annotations

from decimal import Decimal
from fractions import Fraction

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from alliance_evaluation.domain.default_framework import default_framework
from alliance_evaluation.domain.evidence import Measure, Measurement
from alliance_evaluation.domain.framework import (
    Dimension,
    EvidenceSource,
    Framework,
    GradeBands,
    IndicatorDefinition,
    NoEvidencePolicy,
    absolute,
)
from alliance_evaluation.domain.scoring import IndicatorScore, score_agreement, score_indicator
from alliance_shared.contract.vocabulary import Grade, ObligationMetric, RiskBand

FULL_TARGETS: dict[ObligationMetric, Fraction] = {metric: Fraction(10) for metric in ObligationMetric}


def measured(v: Fraction | int) -> Measurement:
    return Measurement(value=Fraction(v), how="test figure")


NO_EVIDENCE = Measurement(value=None, how="no evidence: nothing reported")


def indicator(code: str) -> IndicatorDefinition:
    return default_framework().indicator(code)


def score(
    code: str,
    value: Fraction | int,
    targets: dict[ObligationMetric, Fraction] | None = None,
    previous: RiskBand | None = None,
) -> IndicatorScore:
    return score_indicator(
        indicator(code),
        measured(value),
        FULL_TARGETS if targets is None else targets,
        previous,
        NoEvidencePolicy.EXCLUDE_AND_REWEIGHT,
    )


@pytest.mark.parametrize(
    ("placements", "band", "expected_score"),
    [
        (10, RiskBand.ON_TRACK, 100),
        (12, RiskBand.ON_TRACK, 100),
        (8, RiskBand.ON_TRACK, 80),
        (7, RiskBand.NEEDS_IMPROVEMENT, 70),
        (5, RiskBand.NEEDS_IMPROVEMENT, 50),
        (4, RiskBand.AT_RISK, 40),
        (0, RiskBand.AT_RISK, 0),
    ],
)
def test_attainment_against_an_obligation_target(placements: int, band: RiskBand, expected_score: int) -> None:
    result = score("TT-01", placements)
    assert result.band is band
    assert result.score == expected_score
    assert result.target == 10
    assert "min(100, 100 ×" in result.explanation


@pytest.mark.parametrize(
    ("rate", "band", "expected_score"),
    [
        (0, RiskBand.ON_TRACK, 100),
        (15, RiskBand.ON_TRACK, 100),
        (Fraction(35, 2), RiskBand.NEEDS_IMPROVEMENT, 80),
        (20, RiskBand.NEEDS_IMPROVEMENT, 60),
        (40, RiskBand.AT_RISK, 30),
        (100, RiskBand.AT_RISK, 12),
    ],
)
def test_lower_is_better_is_inverted_by_its_thresholds(rate: Fraction, band: RiskBand, expected_score: int) -> None:
    result = score("TT-05", rate)
    assert result.band is band
    assert result.score == expected_score


@given(st.fractions(min_value=0, max_value=100), st.fractions(min_value=0, max_value=100))
def test_lower_is_better_scores_fall_as_the_value_rises(a: Fraction, b: Fraction) -> None:
    low, high = sorted((a, b))
    low_score, high_score = score("TT-05", low).score, score("TT-05", high).score
    assert low_score is not None
    assert high_score is not None
    assert 0 <= high_score <= low_score <= 100


def test_absolute_thresholds_on_a_fixed_target() -> None:
    assert score("SA-01", Fraction(5, 2)).band is RiskBand.ON_TRACK
    assert score("SA-01", Fraction(249, 100)).band is RiskBand.NEEDS_IMPROVEMENT
    assert score("SA-01", Fraction(199, 100)).band is RiskBand.AT_RISK
    assert score("SA-01", Fraction(7, 2)).score == 100
    assert score("SA-01", Fraction(7, 4)).score == 50


def test_rd01_without_target_and_repeated_need_for_improvement_is_at_risk() -> None:
    assert score("RD-01", 1).band is RiskBand.ON_TRACK
    assert score("RD-01", 1).score == 100
    first = score("RD-01", 0)
    assert first.band is RiskBand.NEEDS_IMPROVEMENT
    assert first.score == 60
    second = score("RD-01", 0, previous=RiskBand.NEEDS_IMPROVEMENT)
    assert second.band is RiskBand.AT_RISK
    assert "two consecutive" in second.explanation


def test_rd03_below_target_needs_improvement_and_zero_is_at_risk() -> None:
    assert score("RD-03", 10).band is RiskBand.ON_TRACK
    assert score("RD-03", 9).band is RiskBand.NEEDS_IMPROVEMENT
    assert score("RD-03", 0).band is RiskBand.AT_RISK


def test_an_obligation_the_agreement_does_not_make_is_not_applicable() -> None:
    result = score("TT-01", 3, targets={})
    assert (result.band, result.score, result.counted_score) == (None, None, None)
    assert "not applicable" in result.explanation


def all_measured(v: Fraction) -> dict[Measure, Measurement]:
    return {m: measured(v) for m in Measure}


def on_target() -> dict[Measure, Measurement]:
    """Figures that meet every target and threshold of the default framework."""
    measurements = all_measured(Fraction(10))
    measurements[Measure.EARLY_TERMINATION_RATE] = measured(0)
    measurements[Measure.EMPLOYER_SATISFACTION] = measured(4)
    measurements[Measure.STUDENT_SATISFACTION] = measured(Fraction(7, 2))
    measurements[Measure.CERTIFICATES_PER_STUDENT] = measured(1)
    for rate in (
        Measure.PLACEMENT_COMPLETION_RATE,
        Measure.EMPLOYMENT_OR_STUDY_RATE,
        Measure.EMPLOYED_IN_PARTNER_RATE,
        Measure.DUAL_QUALIFIED_TEACHER_RATE,
        Measure.MODES_CARRIED_OUT_RATE,
        Measure.ACTIVE_MONTHS_RATE,
    ):
        measurements[rate] = measured(100)
    return measurements


def framework_with(policy: NoEvidencePolicy = NoEvidencePolicy.EXCLUDE_AND_REWEIGHT) -> Framework:
    framework = default_framework()
    framework.set_no_evidence_policy(policy)
    return framework


def test_everything_on_target_is_excellent_and_on_track() -> None:
    measurements = on_target()
    card = score_agreement(framework_with(), measurements, FULL_TARGETS)
    assert card.composite == 100
    assert (card.grade, card.overall_risk) == (Grade.EXCELLENT, RiskBand.ON_TRACK)


def test_weights_drive_the_composite() -> None:
    framework = framework_with()
    measurements = on_target()
    measurements[Measure.INTERNSHIP_PLACEMENTS] = measured(0)  # TT-01, weight 600 → score 0
    card = score_agreement(framework, measurements, FULL_TARGETS)
    # The panel's 1500 bp are unscored here, so left out: 8500 bp counted.
    assert card.composite == Fraction(100 * (8_500 - 600), 8_500)
    assert card.overall_risk is RiskBand.AT_RISK  # a weighted indicator is at risk
    assert card.codes_in(RiskBand.AT_RISK) == ("TT-01",)


def test_no_evidence_excluded_and_reweighted_is_said_explicitly() -> None:
    measurements = on_target()
    measurements[Measure.EMPLOYER_SATISFACTION] = NO_EVIDENCE
    card = score_agreement(framework_with(), measurements, FULL_TARGETS)
    sa01 = card.indicator("SA-01")
    assert (sa01.band, sa01.score, sa01.counted_score) == (RiskBand.NO_EVIDENCE, None, None)
    assert "exclude_and_reweight" in sa01.explanation
    assert "exclude_and_reweight" in card.explanation
    assert "SA-01" in card.explanation
    assert card.composite == 100  # the rest is perfect: not dragged to 0, not lifted by a fake 100
    assert card.overall_risk is RiskBand.ON_TRACK


def test_no_evidence_scored_zero_and_flagged_is_said_explicitly() -> None:
    measurements = on_target()
    measurements[Measure.EMPLOYER_SATISFACTION] = NO_EVIDENCE
    card = score_agreement(framework_with(NoEvidencePolicy.SCORE_ZERO_AND_FLAG), measurements, FULL_TARGETS)
    sa01 = card.indicator("SA-01")
    assert sa01.band is RiskBand.NO_EVIDENCE
    assert sa01.score is None
    assert sa01.counted_score == 0
    assert "score_zero_and_flag" in sa01.explanation
    # SA-01 (400 bp) and the unscored panel indicators (1500 bp) count 0.
    assert card.composite == Fraction(100 * (10_000 - 400 - 1_500), 10_000)
    assert card.overall_risk is RiskBand.NEEDS_IMPROVEMENT


def test_nothing_scoreable_is_no_evidence_and_says_so() -> None:
    card = score_agreement(framework_with(), {m: NO_EVIDENCE for m in Measure}, FULL_TARGETS)
    assert card.composite == 0
    assert (card.grade, card.overall_risk) == (Grade.FAIL, RiskBand.NO_EVIDENCE)
    assert "no indicator could be scored" in card.explanation


def test_panel_indicators_take_the_panel_measurement() -> None:
    panel_indicator = IndicatorDefinition(
        code="PN-01",
        dimension=Dimension.COOPERATION_DEPTH,
        name_zh="评审",
        name_en="panel judgement",
        unit="points",
        source=EvidenceSource.PANEL,
        measure=None,
        computation=None,
        target_fixed=Decimal(100),
        weight_bp=10_000,
        needs_improvement=absolute(60),
        at_risk=absolute(40),
    )
    framework = Framework(framework_id="p", version=1, name="panel only", indicators=(panel_indicator,))
    card = score_agreement(framework, {}, {}, panel={"PN-01": measured(Fraction(143, 2))})
    assert card.composite == Fraction(143, 2)
    assert card.grade is Grade.PASS
    missing = score_agreement(framework, {}, {})
    assert missing.indicator("PN-01").band is RiskBand.NO_EVIDENCE


values = st.one_of(st.none(), st.fractions(min_value=0, max_value=10**6))


@settings(max_examples=200, deadline=None)
@given(
    raw=st.fixed_dictionaries({m: values for m in Measure}),
    targets=st.dictionaries(st.sampled_from(list(ObligationMetric)), st.fractions(min_value=0, max_value=1000)),
    policy=st.sampled_from(list(NoEvidencePolicy)),
    excellent=st.integers(80, 100),
)
def test_composite_stays_within_0_and_100(
    raw: dict[Measure, Fraction | None],
    targets: dict[ObligationMetric, Fraction],
    policy: NoEvidencePolicy,
    excellent: int,
) -> None:
    framework = framework_with(policy)
    framework.set_grade_bands(
        GradeBands(excellent_from=Decimal(excellent), good_from=Decimal(70), pass_from=Decimal(50))
    )
    measurements = {m: Measurement(value=v, how="no evidence: none" if v is None else "x") for m, v in raw.items()}
    card = score_agreement(framework, measurements, targets)
    assert 0 <= card.composite <= 100
    for item in card.indicators:
        assert item.score is None or 0 <= item.score <= 100
        assert item.explanation
    assert card.grade is framework.grade_bands.grade_for(card.composite)
    if card.grade is Grade.FAIL and card.overall_risk is not RiskBand.NO_EVIDENCE:
        assert card.overall_risk is RiskBand.AT_RISK
