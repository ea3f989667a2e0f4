from __future__ import annotations

from typing import Any

import pytest
from pydantic import ValidationError

from alliance_shared.contract import college
from alliance_shared.contract.base import TYPE_PATTERN
from alliance_shared.contract.catalog import EventCatalog


def example(model: type[college.CollegeReport]) -> dict[str, Any]:
    extra = model.model_config.get("json_schema_extra")
    assert isinstance(extra, dict)
    examples = extra["examples"]
    assert isinstance(examples, list)
    first = examples[0]
    assert isinstance(first, dict)
    return dict(first)


REPORTS: list[type[college.CollegeReport]] = [
    m for m in college.COLLEGE_REPORTS if issubclass(m, college.CollegeReport)
]


def test_every_report_type_is_declared_once_in_the_college_context() -> None:
    assert len(REPORTS) == len(college.COLLEGE_REPORTS) == 10
    catalog = EventCatalog(college.COLLEGE_REPORTS)
    assert len(catalog.types) == 10
    for model in REPORTS:
        assert TYPE_PATTERN.match(model.event_type)
        assert model.event_type.startswith("org.coopalliance.college.")
        assert model.aggregate_field == "agreement_id"
        assert model.__doc__


@pytest.mark.parametrize("model", REPORTS, ids=lambda m: m.__name__)
def test_every_example_is_a_valid_report(model: type[college.CollegeReport]) -> None:
    report = model.model_validate(example(model))
    assert report.aggregate_id() == report.agreement_id
    assert model.model_validate_json(report.model_dump_json()) == report


@pytest.mark.parametrize("model", REPORTS, ids=lambda m: m.__name__)
def test_unknown_fields_are_rejected(model: type[college.CollegeReport]) -> None:
    with pytest.raises(ValidationError, match="extra"):
        model.model_validate({**example(model), "student_name": "Zhang San"})


@pytest.mark.parametrize("model", REPORTS, ids=lambda m: m.__name__)
def test_oversized_report_ids_are_rejected(model: type[college.CollegeReport]) -> None:
    with pytest.raises(ValidationError):
        model.model_validate({**example(model), "report_id": "R" * 101})


@pytest.mark.parametrize(
    ("model", "field", "value"),
    [
        (college.InternshipPlaced, "planned_months", -1),
        (college.InternshipPlaced, "planned_months", 0),
        (college.InternshipCompleted, "months_completed", -3),
        (college.TeacherPracticeCompleted, "days", 0),
        (college.EngineerTeachingReported, "hours", -5),
        (college.SurveySubmitted, "respondents", 0),
        (college.SurveySubmitted, "respondents", -2),
        (college.RdOutputReported, "revenue_minor", -1),
        (college.GraduateEmployed, "months_after_graduation", -1),
    ],
)
def test_negative_or_zero_counts_are_rejected(model: type[college.CollegeReport], field: str, value: int) -> None:
    with pytest.raises(ValidationError):
        model.model_validate({**example(model), field: value})


@pytest.mark.parametrize("score", [99, 401, 0, -100, 1000])
def test_survey_scores_outside_the_1_to_4_scale_are_rejected(score: int) -> None:
    with pytest.raises(ValidationError):
        college.SurveySubmitted.model_validate({**example(college.SurveySubmitted), "mean_score_hundredths": score})


@pytest.mark.parametrize("score", [100, 250, 400])
def test_survey_scores_on_the_scale_are_accepted(score: int) -> None:
    report = college.SurveySubmitted.model_validate(
        {**example(college.SurveySubmitted), "mean_score_hundredths": score}
    )
    assert report.mean_score_hundredths == score


def test_scores_and_money_refuse_floats() -> None:
    with pytest.raises(ValidationError):
        college.SurveySubmitted.model_validate({**example(college.SurveySubmitted), "mean_score_hundredths": 3.25})
    with pytest.raises(ValidationError):
        college.RdOutputReported.model_validate({**example(college.RdOutputReported), "revenue_minor": 10.5})


@pytest.mark.parametrize(
    ("field", "value"),
    [("post", "x" * 201), ("student_ref", "S" * 65), ("enterprise_id", "e" * 101)],
)
def test_oversized_strings_are_rejected(field: str, value: str) -> None:
    with pytest.raises(ValidationError):
        college.InternshipPlaced.model_validate({**example(college.InternshipPlaced), field: value})


@pytest.mark.parametrize("ref", ["Zhang San", "张三", "a b", ""])
def test_person_references_cannot_carry_names(ref: str) -> None:
    with pytest.raises(ValidationError):
        college.InternshipPlaced.model_validate({**example(college.InternshipPlaced), "student_ref": ref})


def test_an_early_termination_needs_a_reason_and_a_completion_has_none() -> None:
    base = example(college.InternshipCompleted)
    with pytest.raises(ValidationError, match="termination_reason"):
        college.InternshipCompleted.model_validate({**base, "outcome": "terminated_early"})
    with pytest.raises(ValidationError):
        college.InternshipCompleted.model_validate({**base, "termination_reason": "health"})
    with pytest.raises(ValidationError):
        college.InternshipCompleted.model_validate({**base, "within_probation": True})


def test_an_employed_graduate_needs_an_employer_and_an_unemployed_one_has_none() -> None:
    base = example(college.GraduateEmployed)
    with pytest.raises(ValidationError, match="employer_name"):
        college.GraduateEmployed.model_validate({**base, "employer_name": None})
    with pytest.raises(ValidationError):
        college.GraduateEmployed.model_validate({**base, "employed": False})
    seeking = college.GraduateEmployed.model_validate(
        {
            **base,
            "employed": False,
            "employer_name": None,
            "employer_partner_id": None,
            "post": None,
            "in_partner_enterprise": False,
            "in_partner_sector": False,
        }
    )
    assert not seeking.employed


def test_enumerated_kinds_reject_unknown_values() -> None:
    with pytest.raises(ValidationError):
        college.RdOutputReported.model_validate({**example(college.RdOutputReported), "kind": "paper"})
    with pytest.raises(ValidationError):
        college.StudentCertified.model_validate({**example(college.StudentCertified), "certificate_kind": "1+Y"})
    with pytest.raises(ValidationError):
        college.SurveySubmitted.model_validate({**example(college.SurveySubmitted), "respondent_kind": "parent"})


def test_reports_are_immutable() -> None:
    report = college.SurveySubmitted.model_validate(example(college.SurveySubmitted))
    with pytest.raises(ValidationError):
        report.respondents = 5  # type: ignore[misc]
