"""The indicator definition language (``computation.py``): the shipped indicators, now
data, give the results they gave as code; definitions are checked; a new indicator
scores without code."""

from __future__ import annotations

import json
from datetime import date
from fractions import Fraction
from pathlib import Path
from typing import Any

import pytest
from pydantic import ValidationError

from alliance_evaluation.domain.computation import (
    Aggregation,
    Computation,
    Condition,
    Op,
    RecordKind,
    Selection,
    aggregate_evidence,
    compute,
    evidence_facts,
)
from alliance_evaluation.domain.default_framework import default_framework, default_measures
from alliance_evaluation.domain.framework import IndicatorDefinition, absolute
from alliance_evaluation.domain.scoring import score_agreement

from .evaluation_support import WINDOW, completed, placed
from .shipped_evidence import DECLARED_MODES, SEEDS, TARGETS, evidence

#: Figures and scores of the shipped framework on the seeded evidence, recorded with the
#: per-indicator code the definitions replaced (commit bb8d246), before it was removed.
BEFORE: dict[str, Any] = json.loads((Path(__file__).parent / "shipped_indicators_before.json").read_text("utf-8"))


def _text(value: Fraction | None) -> str | None:
    return None if value is None else str(value)


@pytest.mark.parametrize("seed", SEEDS)
def test_the_shipped_definitions_give_the_results_the_code_gave(seed: int) -> None:
    reports, manual = evidence(seed)
    framework = default_framework()
    summary = aggregate_evidence(reports, manual, WINDOW, DECLARED_MODES, framework.measures())
    card = score_agreement(framework, summary.measurements, TARGETS)
    before = BEFORE[str(seed)]
    assert (len(reports), len(manual)) == (before["reports"], before["manual"])
    assert {name: _text(m.value) for name, m in sorted(summary.measurements.items())} == before["figures"]
    assert {i.code: [None if i.band is None else str(i.band), _text(i.score)] for i in card.indicators} == before[
        "indicators"
    ]
    assert (str(card.composite), str(card.grade), str(card.overall_risk)) == (
        before["composite"],
        before["grade"],
        before["overall_risk"],
    )


def test_the_seeded_evidence_reaches_every_band_and_no_evidence() -> None:
    bands = {band for seed in SEEDS for band, _ in BEFORE[str(seed)]["indicators"].values()}
    assert {"on_track", "needs_improvement", "at_risk", "no_evidence"} <= bands
    assert len(default_measures()) == 19


def test_every_shipped_measured_indicator_is_a_definition() -> None:
    measured = [i for i in default_framework().indicators if i.measure is not None]
    assert len(measured) == 19
    assert all(isinstance(i.computation, Computation) for i in measured)
    # The definitions survive the document round trip a stored framework makes.
    framework = default_framework()
    assert type(framework).from_document(framework.to_document()) == framework


def _distinct_students_hosted(months: int) -> Computation:
    return Computation(
        aggregation=Aggregation.DISTINCT_COUNT,
        what="students hosted long enough",
        records=Selection(
            kinds=(RecordKind.INTERNSHIP_COMPLETED,),
            where=(Condition(field="months_completed", op=Op.GE, value=months),),
        ),
        fields=("student_ref",),
    )


def test_compute_a_new_definition() -> None:
    facts = evidence_facts(
        [completed("S1", months=7), completed("S1", months=8), completed("S2", months=2), placed("S3")],
        [],
        WINDOW,
        DECLARED_MODES,
    )
    hosted = compute(_distinct_students_hosted(6), facts)
    assert hosted.value == 1
    assert "1 of 3 records left out" in hosted.how
    mean_months = Computation(
        aggregation=Aggregation.MEAN,
        what="months completed",
        records=Selection(kinds=(RecordKind.INTERNSHIP_COMPLETED,)),
        fields=("months_completed",),
    )
    assert compute(mean_months, facts).value == Fraction(17, 3)
    share = Computation(
        aggregation=Aggregation.RATIO,
        what="placements lasting six months or more",
        numerator=_distinct_students_hosted(6),
        denominator=_distinct_students_hosted(0),
    )
    assert compute(share, facts).value == Fraction(1, 2)


def test_no_college_report_is_no_evidence_not_zero() -> None:
    facts = evidence_facts([], [], WINDOW, DECLARED_MODES)
    assert compute(_distinct_students_hosted(6), facts).value is None
    outside = evidence_facts([placed("S1", on=date(2024, 12, 31))], [], WINDOW, DECLARED_MODES)
    assert compute(_distinct_students_hosted(6), outside).value is None


@pytest.mark.parametrize(
    ("definition", "message"),
    [
        (
            {"aggregation": "sum", "what": "x", "records": {"kinds": ["internship.placed"]}, "fields": ["post"]},
            "not a number",
        ),
        (
            {
                "aggregation": "count",
                "what": "x",
                "records": {"kinds": ["internship.placed"], "where": [{"field": "hours"}]},
            },
            "unknown field 'hours'",
        ),
        ({"aggregation": "ratio", "what": "x", "numerator": None}, "numerator"),
        ({"aggregation": "mean", "what": "x"}, "needs records"),
        ({"aggregation": "count", "what": "x", "records": {"kinds": ["no.such"]}}, "kinds"),
    ],
)
def test_a_malformed_definition_is_refused(definition: dict[str, Any], message: str) -> None:
    with pytest.raises(ValidationError, match=message):
        Computation.model_validate(definition)


def test_an_indicator_names_its_measure_with_its_computation() -> None:
    with pytest.raises(ValidationError, match="together with its computation"):
        IndicatorDefinition.model_validate(
            {
                "code": "TT-09",
                "dimension": "talent_training",
                "name_zh": "x",
                "name_en": "x",
                "unit": "persons",
                "source": "college_reports",
                "measure": "hosted_six_months",
                "computation": None,
                "weight_bp": 100,
                "needs_improvement": absolute(2),
                "at_risk": absolute(1),
            }
        )
