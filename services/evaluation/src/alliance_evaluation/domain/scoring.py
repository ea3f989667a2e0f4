"""Scoring: indicator scores and bands, the composite, the grade and the overall risk.

Arithmetic is exact (``Fraction``) throughout; results are rounded to hundredths only
when a result is recorded (see ``result.py``).

Indicator score (0–100), given its value v:

- higher is better, with a target T: ``min(100, 100 × v / T)`` — attainment, capped.
- higher is better, no target, thresholds NI (needs improvement) > AR (at risk) in the
  indicator's unit: ``100`` when v >= NI; ``60 + 40 × (v − AR) / (NI − AR)`` when
  AR <= v < NI; ``60 × v / AR`` when v < AR. The band boundaries map to 100 and 60.
- lower is better (e.g. the early-termination rate), NI < AR: ``100`` when v <= NI;
  ``100 − 40 × (v − NI) / (AR − NI)`` when NI < v <= AR; ``60 × AR / v`` when v > AR —
  the thresholds invert the scale, and the score keeps falling towards 0 beyond AR.

Band: higher is better — at risk when v < AR, needs improvement when v < NI, else on
track; lower is better — at risk when v > AR, needs improvement when v > NI. An
indicator marked ``at_risk_when_repeated`` that needs improvement again after needing
improvement (or being at risk) in the previous result is at risk.

An indicator without evidence is ``no_evidence``; the framework's policy decides its
part in the composite, and the explanation says which. An indicator whose target is an
obligation the agreement does not make (or makes as zero) is not applicable: no band,
no score, left out of the composite — the parties never committed to it.

Composite: the weighted mean of the counted scores, ``Σ(weight × score) / Σ weight``,
so it always lies in 0..100. Grade from the framework's bands. Overall risk, from the
worst down:

- ``no_evidence`` — no indicator could be counted (the composite is then recorded as
  0 and the grade as fail, and the explanation says why);
- ``at_risk`` — the grade is fail, or a weighted, counted indicator is at risk;
- ``needs_improvement`` — a weighted, counted indicator needs improvement, or one was
  scored 0 for lack of evidence under ``score_zero_and_flag``;
- ``on_track`` otherwise.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from fractions import Fraction

from alliance_evaluation.domain.evidence import Measurement, fmt
from alliance_evaluation.domain.framework import (
    Dimension,
    Direction,
    EvidenceSource,
    Framework,
    IndicatorDefinition,
    NoEvidencePolicy,
)
from alliance_shared.contract.vocabulary import Grade, ObligationMetric, RiskBand

FULL_MARK = Fraction(100)
NEEDS_IMPROVEMENT_ANCHOR = Fraction(100)
AT_RISK_ANCHOR = Fraction(60)


@dataclass(frozen=True)
class IndicatorScore:
    code: str
    dimension: Dimension
    weight_bp: int
    #: None when the indicator does not apply to the agreement.
    band: RiskBand | None
    #: None when there is no evidence or the indicator does not apply.
    score: Fraction | None
    value: Fraction | None
    target: Fraction | None
    #: The score this indicator contributes to the composite (0 under score_zero_and_flag).
    counted_score: Fraction | None
    explanation: str

    @property
    def applicable(self) -> bool:
        return self.band is not None


@dataclass(frozen=True)
class Scorecard:
    framework_id: str
    framework_version: int
    no_evidence_policy: NoEvidencePolicy
    indicators: tuple[IndicatorScore, ...]
    composite: Fraction
    grade: Grade
    overall_risk: RiskBand
    explanation: str

    def indicator(self, code: str) -> IndicatorScore:
        return next(i for i in self.indicators if i.code == code)

    def codes_in(self, band: RiskBand) -> tuple[str, ...]:
        return tuple(i.code for i in self.indicators if i.band is band)


def score_agreement(
    framework: Framework,
    measurements: Mapping[str, Measurement],
    targets: Mapping[ObligationMetric, Fraction],
    panel: Mapping[str, Measurement] | None = None,
    previous_bands: Mapping[str, RiskBand] | None = None,
) -> Scorecard:
    """Score one agreement against a framework.

    ``measurements`` (measure name → figure) come from ``aggregate_evidence``, ``targets`` from
    ``window_targets``, ``panel`` (indicator code → measurement) from the agreement's
    panel, ``previous_bands`` (indicator code → band) from its previous result.
    """
    panel = panel or {}
    previous_bands = previous_bands or {}
    policy = framework.no_evidence_policy
    scores: list[IndicatorScore] = []
    for definition in framework.indicators:
        if definition.source is EvidenceSource.PANEL:
            measurement = panel.get(
                definition.code, Measurement(value=None, how="no evidence: the panel gave no score")
            )
        else:
            assert definition.measure is not None  # guaranteed by IndicatorDefinition
            measurement = measurements.get(
                definition.measure, Measurement(value=None, how="no evidence: nothing was measured")
            )
        scores.append(score_indicator(definition, measurement, targets, previous_bands.get(definition.code), policy))
    return _compose(framework, tuple(scores))


def resolve_target(
    definition: IndicatorDefinition, targets: Mapping[ObligationMetric, Fraction]
) -> tuple[Fraction | None, str | None]:
    """The indicator's target, or why it does not apply (an obligation not made)."""
    if definition.target_fixed is not None:
        return Fraction(definition.target_fixed), None
    if definition.target_obligation is None:
        return None, None
    target = targets.get(definition.target_obligation, Fraction(0))
    if target <= 0:
        return None, f"the agreement sets no {definition.target_obligation} obligation for this window"
    return target, None


def score_indicator(
    definition: IndicatorDefinition,
    measurement: Measurement,
    targets: Mapping[ObligationMetric, Fraction],
    previous_band: RiskBand | None,
    policy: NoEvidencePolicy,
) -> IndicatorScore:
    target, not_applicable = resolve_target(definition, targets)
    label = f"{definition.code} {definition.name_en}"
    if not_applicable is not None:
        return IndicatorScore(
            code=definition.code,
            dimension=definition.dimension,
            weight_bp=definition.weight_bp,
            band=None,
            score=None,
            value=measurement.value,
            target=None,
            counted_score=None,
            explanation=f"{label}: not applicable, {not_applicable}; left out of the composite",
        )
    if measurement.value is None:
        if policy is NoEvidencePolicy.SCORE_ZERO_AND_FLAG:
            effect, counted = "scored 0 in the composite and flagged (policy score_zero_and_flag)", Fraction(0)
        else:
            effect, counted = "left out of the composite, other weights scaled up (policy exclude_and_reweight)", None
        return IndicatorScore(
            code=definition.code,
            dimension=definition.dimension,
            weight_bp=definition.weight_bp,
            band=RiskBand.NO_EVIDENCE,
            score=None,
            value=None,
            target=target,
            counted_score=counted,
            explanation=f"{label}: {measurement.how}; {effect}",
        )
    value = measurement.value
    needs_improvement = definition.needs_improvement.resolve(target)
    at_risk = definition.at_risk.resolve(target)
    # A threshold relative to the target implies a target (checked by IndicatorDefinition).
    assert needs_improvement is not None
    assert at_risk is not None
    band = _band(definition.direction, value, needs_improvement, at_risk)
    repeated = (
        definition.at_risk_when_repeated
        and band is RiskBand.NEEDS_IMPROVEMENT
        and previous_band in (RiskBand.NEEDS_IMPROVEMENT, RiskBand.AT_RISK)
    )
    if repeated:
        band = RiskBand.AT_RISK
    score, formula = _score(definition.direction, value, target, needs_improvement, at_risk)
    comparison = "below" if definition.direction is Direction.HIGHER_IS_BETTER else "above"
    explanation = (
        f"{label}: value {fmt(value)} {definition.unit} ({measurement.how}); "
        f"score {formula} = {fmt(score)}; band {band} "
        f"(needs improvement {comparison} {fmt(needs_improvement)}, at risk {comparison} {fmt(at_risk)}"
        + (", needs improvement in two consecutive results counts as at risk" if repeated else "")
        + ")"
    )
    return IndicatorScore(
        code=definition.code,
        dimension=definition.dimension,
        weight_bp=definition.weight_bp,
        band=band,
        score=score,
        value=value,
        target=target,
        counted_score=score,
        explanation=explanation,
    )


def _band(direction: Direction, value: Fraction, needs_improvement: Fraction, at_risk: Fraction) -> RiskBand:
    if direction is Direction.HIGHER_IS_BETTER:
        if value < at_risk:
            return RiskBand.AT_RISK
        if value < needs_improvement:
            return RiskBand.NEEDS_IMPROVEMENT
        return RiskBand.ON_TRACK
    if value > at_risk:
        return RiskBand.AT_RISK
    if value > needs_improvement:
        return RiskBand.NEEDS_IMPROVEMENT
    return RiskBand.ON_TRACK


def _score(
    direction: Direction,
    value: Fraction,
    target: Fraction | None,
    needs_improvement: Fraction,
    at_risk: Fraction,
) -> tuple[Fraction, str]:
    """The score and the formula that produced it, with the numbers filled in."""
    v, ni, ar = value, needs_improvement, at_risk
    if direction is Direction.HIGHER_IS_BETTER:
        if target is not None:
            return min(FULL_MARK, FULL_MARK * v / target), f"min(100, 100 × {fmt(v)} / target {fmt(target)})"
        if v >= ni:
            return NEEDS_IMPROVEMENT_ANCHOR, f"100 (at or above {fmt(ni)})"
        if v >= ar:
            span = NEEDS_IMPROVEMENT_ANCHOR - AT_RISK_ANCHOR
            return (
                AT_RISK_ANCHOR + span * (v - ar) / (ni - ar),
                f"60 + 40 × ({fmt(v)} − {fmt(ar)}) / ({fmt(ni)} − {fmt(ar)})",
            )
        return AT_RISK_ANCHOR * v / ar, f"60 × {fmt(v)} / {fmt(ar)}"
    if v <= ni:
        return NEEDS_IMPROVEMENT_ANCHOR, f"100 (at or below {fmt(ni)})"
    if v <= ar:
        span = NEEDS_IMPROVEMENT_ANCHOR - AT_RISK_ANCHOR
        return (
            NEEDS_IMPROVEMENT_ANCHOR - span * (v - ni) / (ar - ni),
            f"100 − 40 × ({fmt(v)} − {fmt(ni)}) / ({fmt(ar)} − {fmt(ni)})",
        )
    return AT_RISK_ANCHOR * ar / v, f"60 × {fmt(ar)} / {fmt(v)}"


def _compose(framework: Framework, scores: tuple[IndicatorScore, ...]) -> Scorecard:
    policy = framework.no_evidence_policy
    counted = [s for s in scores if s.counted_score is not None and s.weight_bp > 0]
    total_weight = sum(s.weight_bp for s in counted)
    no_evidence = [s.code for s in scores if s.band is RiskBand.NO_EVIDENCE]
    not_applicable = [s.code for s in scores if s.band is None]
    notes: list[str] = []
    if no_evidence:
        if policy is NoEvidencePolicy.SCORE_ZERO_AND_FLAG:
            notes.append(f"no evidence, scored 0 and flagged (score_zero_and_flag): {', '.join(no_evidence)}")
        else:
            notes.append(
                f"no evidence, left out with their weight spread over the rest (exclude_and_reweight): "
                f"{', '.join(no_evidence)}"
            )
    if not_applicable:
        notes.append(f"not applicable (no such obligation), left out: {', '.join(not_applicable)}")

    if total_weight == 0:
        composite = Fraction(0)
        grade = Grade.FAIL
        overall = RiskBand.NO_EVIDENCE
        summary = "no indicator could be scored, so no composite can be computed: recorded as 0 and fail"
    else:
        weighted = sum((s.weight_bp * s.counted_score for s in counted if s.counted_score is not None), Fraction(0))
        composite = weighted / total_weight
        grade = framework.grade_bands.grade_for(composite)
        overall = _overall_risk(grade, counted, policy)
        summary = (
            f"composite = Σ(weight × score) / Σ weight over {len(counted)} indicators "
            f"({total_weight} of {framework.total_weight_bp} bp counted) = {fmt(composite)}; grade {grade}"
        )
    explanation = "; ".join([summary, *notes, f"overall risk {overall}"])
    return Scorecard(
        framework_id=framework.framework_id,
        framework_version=framework.version,
        no_evidence_policy=policy,
        indicators=scores,
        composite=composite,
        grade=grade,
        overall_risk=overall,
        explanation=explanation,
    )


def _overall_risk(grade: Grade, counted: list[IndicatorScore], policy: NoEvidencePolicy) -> RiskBand:
    bands = {s.band for s in counted}
    if grade is Grade.FAIL or RiskBand.AT_RISK in bands:
        return RiskBand.AT_RISK
    flagged = policy is NoEvidencePolicy.SCORE_ZERO_AND_FLAG and RiskBand.NO_EVIDENCE in bands
    if RiskBand.NEEDS_IMPROVEMENT in bands or flagged:
        return RiskBand.NEEDS_IMPROVEMENT
    return RiskBand.ON_TRACK
