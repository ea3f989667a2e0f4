from __future__ import annotations

import re
from collections.abc import Callable
from datetime import UTC, datetime
from decimal import Decimal
from fractions import Fraction
from pathlib import Path

import pytest
from pydantic import ValidationError

from alliance_evaluation.domain.default_framework import default_framework, default_measures
from alliance_evaluation.domain.evidence import Measure
from alliance_evaluation.domain.framework import (
    TOTAL_WEIGHT_BP,
    Dimension,
    EvidenceSource,
    Framework,
    GradeBands,
    IndicatorDefinition,
    NoEvidencePolicy,
    absolute,
    of_target,
)
from alliance_shared.contract.vocabulary import Grade, ObligationMetric
from alliance_shared.errors import DomainError

NOW = datetime(2025, 1, 1, tzinfo=UTC)

#: docs/evaluation.md tables the default indicators; code and table must agree.
EVALUATION_DOC = Path(__file__).parents[3] / "docs" / "evaluation.md"


def documented_codes(heading: str = "## The default indicators") -> list[str]:
    section = EVALUATION_DOC.read_text(encoding="utf-8").split(heading, 1)[1].split("\n## ", 1)[0]
    return [line.split("|")[1].strip() for line in section.splitlines() if re.match(r"\| [A-Z]{2}-\d\d \|", line)]


def test_the_documented_definitions_are_the_shipped_measured_indicators() -> None:
    measured = [i.code for i in default_framework().indicators if i.computation is not None]
    assert documented_codes("## The indicator definition language") == measured


def test_default_framework_has_the_22_documented_indicators_3_of_them_scored_by_the_panel() -> None:
    framework = default_framework()
    assert len(framework.indicators) == 22
    assert [i.code for i in framework.indicators] == documented_codes()
    assert {i.dimension for i in framework.indicators} == set(Dimension)
    assert {i.measure for i in framework.indicators} - {None} == set(Measure)
    panel = [i.code for i in framework.indicators if i.source is EvidenceSource.PANEL]
    assert panel == ["PR-01", "PR-02", "PR-03"]
    assert sum(framework.indicator(code).weight_bp for code in panel) == 1500
    assert sum(framework.panel_role_weights.values()) == TOTAL_WEIGHT_BP


def test_default_weights_sum_to_10000_and_are_all_positive() -> None:
    framework = default_framework()
    assert framework.total_weight_bp == TOTAL_WEIGHT_BP
    assert all(i.weight_bp > 0 for i in framework.indicators)


def test_default_grade_bands_and_thresholds_follow_indicators_md() -> None:
    framework = default_framework()
    assert framework.grade_bands == GradeBands(excellent_from=Decimal(90), good_from=Decimal(75), pass_from=Decimal(60))
    tt05 = framework.indicator("TT-05")
    assert (tt05.needs_improvement.value, tt05.at_risk.value) == (Decimal(15), Decimal(20))
    sa01 = framework.indicator("SA-01")
    assert (sa01.needs_improvement.value, sa01.at_risk.value) == (Decimal("2.5"), Decimal("2.0"))
    tt01 = framework.indicator("TT-01")
    assert tt01.target_obligation is ObligationMetric.INTERNSHIP_POSTS
    assert (tt01.needs_improvement, tt01.at_risk) == (of_target(8000), of_target(5000))


def test_a_published_framework_is_immutable() -> None:
    framework = default_framework()
    framework.publish(NOW, "admin")
    assert framework.is_published
    assert framework.published_by == "admin"
    changes: list[Callable[[], object]] = [
        lambda: framework.set_no_evidence_policy(NoEvidencePolicy.SCORE_ZERO_AND_FLAG),
        lambda: framework.remove_indicator("TT-01"),
        lambda: framework.put_indicator(framework.indicator("TT-01")),
        lambda: framework.set_grade_bands(GradeBands()),
        lambda: framework.publish(NOW, "admin"),
        lambda: setattr(framework, "name", "renamed"),
    ]
    for change in changes:
        with pytest.raises(DomainError) as raised:
            change()
        assert raised.value.code == "framework.published_immutable"
    assert framework.name == "Default school-enterprise cooperation indicators"
    assert len(framework.indicators) == 22


def test_a_draft_can_change_and_the_next_draft_derives_from_a_published_version() -> None:
    framework = default_framework()
    framework.set_no_evidence_policy(NoEvidencePolicy.SCORE_ZERO_AND_FLAG)
    framework.publish(NOW, "admin")
    draft = framework.next_draft()
    assert (draft.version, draft.is_published) == (2, False)
    draft.remove_indicator("CD-02")
    assert len(draft.indicators) == 21
    assert len(framework.indicators) == 22


def test_publishing_requires_weights_summing_to_10000() -> None:
    framework = default_framework()
    framework.remove_indicator("CD-02")
    with pytest.raises(DomainError) as raised:
        framework.publish(NOW, "admin")
    assert raised.value.code == "framework.weights_invalid"
    assert not framework.is_published


def test_a_framework_survives_its_document_form() -> None:
    framework = default_framework()
    framework.publish(NOW, "admin")
    document = framework.to_document()
    assert not any("." in key or key.startswith("$") for key in document)
    assert Framework.from_document({"_id": "x", **document}) == framework


def _definition(**changes: object) -> dict[str, object]:
    base: dict[str, object] = {
        "code": "XX-01",
        "dimension": Dimension.TALENT_TRAINING,
        "name_zh": "测试",
        "name_en": "test",
        "unit": "%",
        "source": EvidenceSource.COLLEGE_REPORTS,
        "measure": Measure.PLACEMENT_COMPLETION_RATE,
        "computation": default_measures()[Measure.PLACEMENT_COMPLETION_RATE],
        "weight_bp": 100,
        "needs_improvement": absolute(60),
        "at_risk": absolute(50),
    }
    return {**base, **changes}


@pytest.mark.parametrize(
    "changes",
    [
        {"needs_improvement": of_target(8000)},  # relative without a target
        {"target_fixed": Decimal(1), "target_obligation": ObligationMetric.HOSTED_STUDENTS},
        {"source": EvidenceSource.PANEL},  # a panel indicator has no measure
        {"measure": None},
        {"needs_improvement": absolute(40)},  # at risk above needs improvement
        {"weight_bp": 10_001},
        {"code": "bad code"},
    ],
)
def test_inconsistent_indicator_definitions_are_rejected(changes: dict[str, object]) -> None:
    with pytest.raises(ValidationError):
        IndicatorDefinition.model_validate(_definition(**changes))


def test_duplicate_indicator_codes_are_rejected() -> None:
    definition = IndicatorDefinition.model_validate(_definition())
    with pytest.raises(ValidationError):
        Framework(framework_id="f", version=1, name="f", indicators=(definition, definition))


@pytest.mark.parametrize(
    ("score", "grade"),
    [
        (100, Grade.EXCELLENT),
        (90, Grade.EXCELLENT),
        (89, Grade.GOOD),
        (75, Grade.GOOD),
        (60, Grade.PASS),
        (59, Grade.FAIL),
    ],
)
def test_grade_bands(score: int, grade: Grade) -> None:
    assert GradeBands().grade_for(Fraction(score)) is grade
