"""The indicator definition language: how a measured indicator's figure is computed, as data.

An indicator's ``computation`` names the evidence records it reads (``Selection``: the
kinds of record, the part of the window, an optional "latest per key" pick and
conditions) and the aggregation over them (count, distinct count, sum, mean,
respondent-weighted mean, latest, or the ratio of two computations). ``compute`` is the
one function that evaluates any definition against an agreement's evidence, so a
supervisor adds an indicator to a new framework version without code; the shipped 19
are written in this language in ``default_framework.py`` and tabled in
docs/evaluation.md ("The indicator definition language").

Every evidence record is a flat set of fields: the report's own fields (the college
contract) or the manual evidence's, plus ``occurred_on``, ``month`` (``YYYY-MM``),
``record_id`` (report or evidence id) and ``mode`` (the cooperation mode the record
shows, if any). Definitions are checked when a framework version is created: fields
must exist on every kind selected, and sums and means take numeric fields only.
"""

from __future__ import annotations

import types
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from enum import StrEnum
from fractions import Fraction
from typing import Annotated, Any, Self, Union, get_args, get_origin

from pydantic import BaseModel, ConfigDict, Field, PlainSerializer, model_validator

from alliance_evaluation.domain.evidence import (
    MODE_SHOWN_BY,
    EvidenceSummary,
    EvidenceWindow,
    ManualEvidence,
    ManualEvidenceKind,
    Measurement,
    dedupe_manual,
    dedupe_reports,
    fmt,
)
from alliance_shared.contract import college
from alliance_shared.contract.college import CollegeReport
from alliance_shared.contract.vocabulary import CooperationMode

FieldName = Annotated[str, Field(pattern=r"^[a-z][a-z0-9_]{0,59}$")]
Scalar = bool | int | str | None
#: A configured factor: exact decimal in memory, a decimal string in documents.
Factor = Annotated[Decimal, Field(gt=0, allow_inf_nan=False), PlainSerializer(str, return_type=str)]

#: Put as a condition's value, stands for the currency the cycle counts money in.
CURRENCY = "$currency"


class RecordKind(StrEnum):
    """The kinds of evidence record: the ten college reports and the three manual kinds."""

    INTERNSHIP_PLACED = "internship.placed"
    INTERNSHIP_COMPLETED = "internship.completed"
    ORDER_CLASS_ENROLLED = "order_class.enrolled"
    STUDENT_CERTIFIED = "student.certified"
    GRADUATE_EMPLOYED = "graduate.employed"
    TEACHER_PRACTICE_COMPLETED = "teacher_practice.completed"
    ENGINEER_TEACHING_REPORTED = "engineer_teaching.reported"
    COURSE_CODEVELOPED = "course.codeveloped"
    RD_OUTPUT_REPORTED = "rd_output.reported"
    SURVEY_SUBMITTED = "survey.submitted"
    ENTERPRISE_INVESTMENT = "manual.enterprise_investment"
    DUAL_QUALIFIED_TEACHERS = "manual.dual_qualified_teachers"
    MODE_CARRIED_OUT = "manual.mode_carried_out"


_REPORT_KIND: Mapping[type[CollegeReport], RecordKind] = {
    college.InternshipPlaced: RecordKind.INTERNSHIP_PLACED,
    college.InternshipCompleted: RecordKind.INTERNSHIP_COMPLETED,
    college.OrderClassEnrolled: RecordKind.ORDER_CLASS_ENROLLED,
    college.StudentCertified: RecordKind.STUDENT_CERTIFIED,
    college.GraduateEmployed: RecordKind.GRADUATE_EMPLOYED,
    college.TeacherPracticeCompleted: RecordKind.TEACHER_PRACTICE_COMPLETED,
    college.EngineerTeachingReported: RecordKind.ENGINEER_TEACHING_REPORTED,
    college.CourseCodeveloped: RecordKind.COURSE_CODEVELOPED,
    college.RdOutputReported: RecordKind.RD_OUTPUT_REPORTED,
    college.SurveySubmitted: RecordKind.SURVEY_SUBMITTED,
}
_MANUAL_KIND: Mapping[ManualEvidenceKind, RecordKind] = {
    ManualEvidenceKind.ENTERPRISE_INVESTMENT: RecordKind.ENTERPRISE_INVESTMENT,
    ManualEvidenceKind.DUAL_QUALIFIED_TEACHERS: RecordKind.DUAL_QUALIFIED_TEACHERS,
    ManualEvidenceKind.MODE_CARRIED_OUT: RecordKind.MODE_CARRIED_OUT,
}
#: Where a record keeps its kind (not a field name a definition can use: reports have their own ``kind``).
_KIND = "__kind"
_COMMON_FIELDS = frozenset({"occurred_on", "month", "record_id", "mode"})
_MANUAL_FIELDS = {
    RecordKind.ENTERPRISE_INVESTMENT: {"amount_minor": True, "currency": False},
    RecordKind.DUAL_QUALIFIED_TEACHERS: {"dual_qualified_teachers": True, "cooperation_teachers": True},
    RecordKind.MODE_CARRIED_OUT: {},
}


def _is_numeric(annotation: Any) -> bool:
    if annotation is int:
        return True
    if get_origin(annotation) in (Union, types.UnionType):
        return any(_is_numeric(arg) for arg in get_args(annotation) if arg is not type(None))
    return False


def _report_fields(model: type[CollegeReport]) -> dict[str, bool]:
    skipped = {"report_id", "agreement_id", "college_id"}
    return {name: _is_numeric(info.annotation) for name, info in model.model_fields.items() if name not in skipped}


#: Field name → numeric, per kind of record.
FIELDS: Mapping[RecordKind, Mapping[str, bool]] = {
    **{kind: {**_report_fields(model), **dict.fromkeys(_COMMON_FIELDS, False)} for model, kind in _REPORT_KIND.items()},
    **{kind: {**fields, **dict.fromkeys(_COMMON_FIELDS, False)} for kind, fields in _MANUAL_FIELDS.items()},
}


class Scope(StrEnum):
    #: Records dated inside the cycle's window.
    IN_WINDOW = "in_window"
    #: Every record up to the window's end (cumulative figures such as investment).
    UP_TO_WINDOW_END = "up_to_window_end"


class Op(StrEnum):
    EQ = "eq"
    NE = "ne"
    GT = "gt"
    GE = "ge"
    LT = "lt"
    LE = "le"
    #: The field's value is one of the cooperation modes the agreement declares.
    IN_DECLARED_MODES = "in_declared_modes"


class Condition(BaseModel):
    """``field op value``; the value ``$currency`` stands for the cycle's currency."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    field: FieldName
    op: Op = Op.EQ
    value: Scalar = None

    def holds(self, record: Mapping[str, Any], currency: str, declared: frozenset[CooperationMode]) -> bool:
        actual = record.get(self.field)
        if self.op is Op.IN_DECLARED_MODES:
            return actual in declared
        expected = currency if self.value == CURRENCY else self.value
        if self.op is Op.EQ:
            return bool(actual == expected)
        if self.op is Op.NE:
            return bool(actual != expected)
        if actual is None or expected is None or isinstance(actual, bool) != isinstance(expected, bool):
            return False
        try:
            return bool(
                {
                    Op.GT: lambda: actual > expected,
                    Op.GE: lambda: actual >= expected,
                    Op.LT: lambda: actual < expected,
                    Op.LE: lambda: actual <= expected,
                }[self.op]()
            )
        except TypeError:  # a number compared with text: the condition does not hold
            return False

    def describe(self, currency: str) -> str:
        if self.op is Op.IN_DECLARED_MODES:
            return f"{self.field} is a declared mode"
        return f"{self.field} {self.op} {currency if self.value == CURRENCY else self.value}"


class Selection(BaseModel):
    """Which records: the kinds (none named: every kind), the part of the window, then —
    when ``latest_per`` names a field — only the latest record per value of that field
    (ranked by ``latest_by``, then record id: a correction supersedes), then the records
    meeting every ``where`` condition and, if any are given, one of ``where_any``."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    kinds: tuple[RecordKind, ...] = Field(default=(), max_length=20)
    scope: Scope = Scope.IN_WINDOW
    latest_per: FieldName | None = None
    latest_by: tuple[FieldName, ...] = Field(default=("occurred_on",), max_length=5)
    where: tuple[Condition, ...] = Field(default=(), max_length=10)
    where_any: tuple[Condition, ...] = Field(default=(), max_length=10)

    def field_errors(self, fields: Iterable[str], numeric: Iterable[str] = ()) -> list[str]:
        """Fields the selected kinds do not all have (and sums or means over non-numbers)."""
        catalog = [FIELDS[kind] for kind in self.kinds] or [dict.fromkeys(_COMMON_FIELDS, False)]
        named = {*fields, *self.latest_by, *(c.field for c in (*self.where, *self.where_any))}
        if self.latest_per:
            named.add(self.latest_per)
        errors = [
            f"unknown field {name!r} for {', '.join(self.kinds) or 'every kind'}"
            for name in sorted(named)
            if any(name not in c for c in catalog)
        ]
        errors += [
            f"field {name!r} is not a number"
            for name in numeric
            if all(name in c for c in catalog) and not all(c[name] for c in catalog)
        ]
        return errors


class Aggregation(StrEnum):
    COUNT = "count"
    DISTINCT_COUNT = "distinct_count"
    SUM = "sum"
    MEAN = "mean"
    #: Σ(value × weight) / Σ weight over ``fields`` = (value, weight).
    WEIGHTED_MEAN = "weighted_mean"
    #: The field of the latest record (by ``latest_by``, then record id).
    LATEST = "latest"
    #: numerator / (denominator or a fact of the agreement).
    RATIO = "ratio"


class Fact(StrEnum):
    """Numbers a ratio may divide by that are not evidence."""

    WINDOW_MONTHS = "window_months"
    DECLARED_MODES = "declared_modes"


class NoEvidenceWhen(StrEnum):
    """When a count, distinct count or sum is "no evidence" rather than a measured zero."""

    #: The college sent no report at all for the agreement in the window.
    NO_COLLEGE_REPORT = "no_college_report"
    #: No record of the selected kinds in scope (before the conditions).
    NO_RECORD_OF_KINDS = "no_record_of_kinds"
    #: Never: zero is a zero.
    NEVER = "never"


_FIELD_COUNT: Mapping[Aggregation, tuple[int, int]] = {
    Aggregation.COUNT: (0, 0),
    Aggregation.DISTINCT_COUNT: (1, 5),
    Aggregation.SUM: (1, 1),
    Aggregation.MEAN: (1, 1),
    Aggregation.WEIGHTED_MEAN: (2, 2),
    Aggregation.LATEST: (1, 1),
    Aggregation.RATIO: (0, 0),
}
_NUMERIC = {Aggregation.SUM, Aggregation.MEAN, Aggregation.WEIGHTED_MEAN, Aggregation.LATEST}


class Computation(BaseModel):
    """One figure: an aggregation over selected records, or the ratio of two figures,
    times ``scale`` (100 for a percentage). ``what`` says in words what is counted."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    aggregation: Aggregation
    what: str = Field(min_length=1, max_length=200)
    records: Selection | None = None
    fields: tuple[FieldName, ...] = Field(default=(), max_length=5)
    numerator: Computation | None = None
    denominator: Computation | None = None
    denominator_fact: Fact | None = None
    scale: Factor = Decimal(1)
    no_evidence_when: NoEvidenceWhen = NoEvidenceWhen.NO_COLLEGE_REPORT

    @model_validator(mode="after")
    def _well_formed(self) -> Self:
        if self.aggregation is Aggregation.RATIO:
            if self.records is not None or self.fields:
                raise ValueError("a ratio takes a numerator and a denominator, not records or fields")
            if self.numerator is None or (self.denominator is None) == (self.denominator_fact is None):
                raise ValueError("a ratio needs a numerator and either a denominator or a denominator_fact")
            return self
        if self.numerator is not None or self.denominator is not None or self.denominator_fact is not None:
            raise ValueError(f"{self.aggregation} takes records, not a numerator or denominator")
        if self.records is None:
            raise ValueError(f"{self.aggregation} needs records to aggregate")
        least, most = _FIELD_COUNT[self.aggregation]
        if not least <= len(self.fields) <= most:
            raise ValueError(f"{self.aggregation} takes {least}..{most} fields, not {len(self.fields)}")
        numeric = self.fields if self.aggregation in _NUMERIC else ()
        errors = self.records.field_errors(self.fields, numeric)
        if errors:
            raise ValueError("; ".join(errors))
        return self


@dataclass(frozen=True)
class EvidenceFacts:
    """One agreement's evidence, as records, with what a computation may refer to."""

    records: tuple[Mapping[str, Any], ...]
    window: EvidenceWindow
    declared_modes: frozenset[CooperationMode]
    currency: str
    college_reports_in_window: int


def _record(
    kind: RecordKind, fields: Mapping[str, Any], record_id: str, mode: CooperationMode | None
) -> dict[str, Any]:
    occurred_on: date = fields["occurred_on"]
    return {
        **fields,
        _KIND: kind,
        "record_id": record_id,
        "month": f"{occurred_on.year:04d}-{occurred_on.month:02d}",
        "mode": mode,
    }


def evidence_facts(
    reports: Iterable[CollegeReport],
    manual: Iterable[ManualEvidence],
    window: EvidenceWindow,
    declared_modes: Iterable[CooperationMode],
    currency: str = "CNY",
) -> EvidenceFacts:
    """Reports (each (college, report id) once) and manual evidence as records."""
    records: list[dict[str, Any]] = []
    kept_reports = dedupe_reports(reports)
    for report in kept_reports:
        fields = report.model_dump(exclude={"report_id", "agreement_id", "college_id"})
        records.append(_record(_REPORT_KIND[type(report)], fields, report.report_id, MODE_SHOWN_BY.get(type(report))))
    for item in dedupe_manual(manual):
        fields = item.model_dump(exclude={"evidence_id", "kind", "recorded_by", "document_ref"})
        fields["occurred_on"] = item.occurred_on
        records.append(_record(_MANUAL_KIND[item.kind], fields, item.evidence_id, item.mode))
    return EvidenceFacts(
        records=tuple(records),
        window=window,
        declared_modes=frozenset(declared_modes),
        currency=currency,
        college_reports_in_window=sum(1 for r in kept_reports if r.occurred_on in window),
    )


def _in_scope(selection: Selection, facts: EvidenceFacts) -> list[Mapping[str, Any]]:
    def in_scope(day: date) -> bool:
        return day in facts.window if selection.scope is Scope.IN_WINDOW else day <= facts.window.end

    kinds = set(selection.kinds)
    return [r for r in facts.records if (not kinds or r[_KIND] in kinds) and in_scope(r["occurred_on"])]


def _rank(record: Mapping[str, Any], by: Sequence[str]) -> tuple[Any, ...]:
    # None ranks lowest; the record id breaks ties so the pick never depends on arrival order.
    return (*((record.get(name) is not None, record.get(name)) for name in by), record["record_id"])


def _select(selection: Selection, facts: EvidenceFacts) -> tuple[list[Mapping[str, Any]], int]:
    """The records a selection keeps, and how many of its kinds were in scope."""
    scoped = _in_scope(selection, facts)
    picked = scoped
    if selection.latest_per is not None:
        latest: dict[Any, Mapping[str, Any]] = {}
        for record in scoped:
            key = record.get(selection.latest_per)
            if key not in latest or _rank(record, selection.latest_by) > _rank(latest[key], selection.latest_by):
                latest[key] = record
        picked = list(latest.values())

    def meets(record: Mapping[str, Any]) -> bool:
        every = all(c.holds(record, facts.currency, facts.declared_modes) for c in selection.where)
        some = not selection.where_any or any(
            c.holds(record, facts.currency, facts.declared_modes) for c in selection.where_any
        )
        return every and some

    return [r for r in picked if meets(r)], len(scoped)


def _number(value: Any) -> Fraction:
    return Fraction(0) if value is None else Fraction(value)


def _left_out(selection: Selection, kept: int, scoped: int, currency: str) -> str:
    conditions = [c.describe(currency) for c in selection.where]
    if selection.where_any:
        conditions.append("(" + " or ".join(c.describe(currency) for c in selection.where_any) + ")")
    if kept == scoped or not conditions:
        return ""
    return f"; {scoped - kept} of {scoped} records left out (kept: {' and '.join(conditions)})"


def compute(computation: Computation, facts: EvidenceFacts) -> Measurement:
    """The figure a computation defines, from one agreement's evidence: ``value`` None,
    with the reason, when there is no evidence for it."""
    if computation.aggregation is Aggregation.RATIO:
        return _ratio(computation, facts)
    selection = computation.records
    assert selection is not None  # checked by Computation
    kept, scoped = _select(selection, facts)
    what = computation.what
    scale = Fraction(computation.scale)
    if computation.aggregation in (Aggregation.COUNT, Aggregation.DISTINCT_COUNT, Aggregation.SUM):
        rule = computation.no_evidence_when
        if rule is NoEvidenceWhen.NO_COLLEGE_REPORT and facts.college_reports_in_window == 0:
            return Measurement(
                value=None, how="no evidence: the college sent no report at all for this agreement in the window"
            )
        if rule is NoEvidenceWhen.NO_RECORD_OF_KINDS and scoped == 0:
            return Measurement(value=None, how=f"no evidence: no record of {', '.join(selection.kinds)}")
        raw = _plain(computation, kept)
        value = raw * scale
        return Measurement(
            value=value,
            how=f"{fmt(value)} {what}{_left_out(selection, len(kept), scoped, facts.currency)}",
            numerator=value,
            evidence_count=scoped,
        )
    if not kept:
        return Measurement(value=None, how=f"no evidence: no record for {what}")
    if computation.aggregation is Aggregation.WEIGHTED_MEAN:
        field, weight = computation.fields
        total_weight = sum((_number(r.get(weight)) for r in kept), Fraction(0))
        if total_weight == 0:
            return Measurement(value=None, how=f"no evidence: nothing to weigh for {what}")
        weighted = sum((_number(r.get(field)) * _number(r.get(weight)) for r in kept), Fraction(0)) * scale
        mean = weighted / total_weight
        return Measurement(
            value=mean,
            how=f"{weight}-weighted mean {fmt(mean)} {what}, {len(kept)} records, {fmt(total_weight)} {weight}",
            numerator=weighted,
            denominator=int(total_weight) if total_weight.denominator == 1 else None,
            evidence_count=len(kept),
        )
    (field,) = computation.fields
    if computation.aggregation is Aggregation.MEAN:
        mean = sum((_number(r.get(field)) for r in kept), Fraction(0)) * scale / len(kept)
        return Measurement(
            value=mean,
            how=f"mean {fmt(mean)} {what} of {len(kept)} records",
            denominator=len(kept),
            evidence_count=len(kept),
        )
    latest = max(kept, key=lambda r: _rank(r, selection.latest_by))
    value = _number(latest.get(field)) * scale
    return Measurement(
        value=value,
        how=f"{fmt(value)} {what} (latest record, {latest['occurred_on'].isoformat()})",
        numerator=value,
        evidence_count=len(kept),
    )


def _plain(computation: Computation, kept: Sequence[Mapping[str, Any]]) -> Fraction:
    if computation.aggregation is Aggregation.COUNT:
        return Fraction(len(kept))
    if computation.aggregation is Aggregation.DISTINCT_COUNT:
        return Fraction(
            len({tuple(r.get(f) for f in computation.fields) for r in kept if r.get(computation.fields[0]) is not None})
        )
    (field,) = computation.fields
    return sum((_number(r.get(field)) for r in kept), Fraction(0))


def _part(part: Computation, facts: EvidenceFacts) -> tuple[Fraction | None, int]:
    """A ratio's part as a plain number: counts and sums are never "no evidence" inside a ratio."""
    if part.aggregation in (Aggregation.COUNT, Aggregation.DISTINCT_COUNT, Aggregation.SUM):
        assert part.records is not None
        kept, scoped = _select(part.records, facts)
        return _plain(part, kept) * Fraction(part.scale), scoped
    measurement = compute(part, facts)
    return measurement.value, measurement.evidence_count


def _fact(fact: Fact, facts: EvidenceFacts) -> Fraction:
    if fact is Fact.WINDOW_MONTHS:
        return Fraction(len(facts.window.months()))
    return Fraction(len(facts.declared_modes))


def _ratio(computation: Computation, facts: EvidenceFacts) -> Measurement:
    assert computation.numerator is not None  # checked by Computation
    numerator, counted = _part(computation.numerator, facts)
    if computation.denominator is not None:
        denominator, denominator_count = _part(computation.denominator, facts)
        counted = max(counted, denominator_count)
        below = computation.denominator.what
    else:
        assert computation.denominator_fact is not None
        denominator = _fact(computation.denominator_fact, facts)
        below = str(computation.denominator_fact).replace("_", " ")
    if numerator is None or denominator is None or denominator == 0:
        return Measurement(
            value=None,
            how=f"no evidence for {computation.what}: nothing to divide by ({below})",
            evidence_count=counted,
        )
    value = Fraction(computation.scale) * numerator / denominator
    return Measurement(
        value=value,
        how=f"{fmt(numerator)} of {fmt(denominator)}: {computation.what}",
        numerator=numerator,
        denominator=int(denominator) if denominator.denominator == 1 else None,
        evidence_count=counted,
    )


def aggregate_evidence(
    reports: Iterable[CollegeReport],
    manual: Iterable[ManualEvidence],
    window: EvidenceWindow,
    declared_modes: Iterable[CooperationMode],
    measures: Mapping[str, Computation],
    currency: str = "CNY",
) -> EvidenceSummary:
    """Every named measure's figure from one agreement's evidence, with the facts the
    depth and formality checks read (modes carried out, two-way exchange, activity)."""
    facts = evidence_facts(reports, manual, window, declared_modes, currency)
    in_window = [r for r in facts.records if r["occurred_on"] in window]
    kinds = {r[_KIND] for r in in_window}
    return EvidenceSummary(
        measurements={name: compute(computation, facts) for name, computation in measures.items()},
        modes_carried_out=frozenset(r["mode"] for r in in_window if r["mode"] is not None),
        two_way_teacher_exchange={RecordKind.TEACHER_PRACTICE_COMPLETED, RecordKind.ENGINEER_TEACHING_REPORTED}
        <= kinds,
        activity_dates=tuple(sorted({r["occurred_on"] for r in in_window})),
        college_report_count=facts.college_reports_in_window,
    )
