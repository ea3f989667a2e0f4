"""Rankings and the supervisors' dashboard of a cycle, computed from the current results
(never from counters): the ranking by score (overall, or within each programme, province
or mode), each agreement's trend across the cycles it was evaluated in, the grade
distribution, figures by funding programme, by region (province: the first two digits of
a party's region code) and by declared mode, the formality-risk list and the overdue
rectification orders."""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal
from fractions import Fraction
from typing import Any, Literal

from alliance_evaluation.domain.evidence import fmt
from alliance_evaluation.domain.rectification import OrderStatus
from alliance_evaluation.domain.result import EvaluationResult
from alliance_evaluation.service import programmes, queries
from alliance_evaluation.service.context import Context
from alliance_evaluation.service.records import AgreementView, ProgrammeView
from alliance_shared.contract.vocabulary import Grade

GroupBy = Literal["programme", "region", "mode"]
#: The group an agreement falls in when it has no programme, region or mode.
NO_PROGRAMME, NO_REGION, NO_MODE = "none", "unknown", "none"


@dataclass(frozen=True)
class TrendPoint:
    """An agreement's current result in one cycle."""

    cycle_id: str
    completed_at: str
    score: str
    grade: str


@dataclass(frozen=True)
class RankingRow:
    rank: int
    agreement_id: str
    result_id: str
    score: str
    score_hundredths: int
    grade: str
    overall_risk: str
    formality_risk: bool
    actual_depth: str
    declared_depth: str
    provinces: tuple[str, ...]
    modes: tuple[str, ...]
    programme_ids: tuple[str, ...] = ()
    programme_names: tuple[str, ...] = ()
    #: Oldest first, up to and including this cycle's result.
    trend: tuple[TrendPoint, ...] = ()
    previous_score: str | None = None
    #: This score minus the previous cycle's, signed ("+2.50", "-1", "0").
    score_change: str | None = None

    def groups(self, by: GroupBy) -> tuple[str, ...]:
        if by == "programme":
            return self.programme_ids or (NO_PROGRAMME,)
        if by == "region":
            return self.provinces or (NO_REGION,)
        return self.modes or (NO_MODE,)

    def as_dict(self) -> dict[str, Any]:
        return {**self.__dict__, "trend": [point.__dict__ for point in self.trend]}


@dataclass
class Group:
    name: str | None = None
    agreements: int = 0
    total_hundredths: int = 0
    grades: dict[str, int] = field(default_factory=dict)

    def add(self, result: EvaluationResult) -> None:
        self.agreements += 1
        self.total_hundredths += result.score_hundredths
        self.grades[str(result.grade)] = self.grades.get(str(result.grade), 0) + 1

    def as_dict(self) -> dict[str, Any]:
        mean = Fraction(self.total_hundredths, 100 * self.agreements) if self.agreements else Fraction(0)
        figures = {"agreements": self.agreements, "mean_score": fmt(mean), "grades": dict(sorted(self.grades.items()))}
        return figures if self.name is None else {"name": self.name, **figures}


def _signed(hundredths: int) -> str:
    text = fmt(Fraction(hundredths, 100))
    return text if hundredths <= 0 else "+" + text


async def _trend(ctx: Context, result: EvaluationResult) -> tuple[TrendPoint, ...]:
    """The agreement's current results up to this one, oldest first (one per cycle)."""
    earlier = [
        r
        for r in await queries.results_of_agreement(ctx, result.agreement_id)
        if r.is_current and r.completed_at <= result.completed_at and r.cycle_id != result.cycle_id
    ]
    return tuple(
        TrendPoint(
            cycle_id=r.cycle_id,
            completed_at=r.completed_at.isoformat(),
            score=fmt(Fraction(r.score_hundredths, 100)),
            grade=str(r.grade),
        )
        for r in sorted([*earlier, result], key=lambda r: (r.completed_at, r.cycle_id))
    )


async def ranking(ctx: Context, cycle_id: str) -> list[RankingRow]:
    results = await queries.current_results(ctx, cycle_id)
    views: dict[str, AgreementView | None] = {}
    funded_by: dict[str, list[ProgrammeView]] = {}
    trends: dict[str, tuple[TrendPoint, ...]] = {}
    for result in results:
        views[result.agreement_id] = await queries.find_agreement(ctx, result.agreement_id)
        funded_by[result.agreement_id] = sorted(
            await programmes.programmes_of(ctx, result.agreement_id), key=lambda p: p.programme_id
        )
        trends[result.agreement_id] = await _trend(ctx, result)
    ordered = sorted(results, key=lambda r: (-r.score_hundredths, r.agreement_id))
    rows: list[RankingRow] = []
    previous: tuple[int, int] | None = None  # (score, rank): equal scores share a rank
    for position, result in enumerate(ordered, start=1):
        rank = previous[1] if previous and previous[0] == result.score_hundredths else position
        view = views.get(result.agreement_id)
        funders = funded_by[result.agreement_id]
        trend = trends[result.agreement_id]
        previous = (result.score_hundredths, rank)
        before = _hundredths(trend[-2].score) if len(trend) > 1 else None
        rows.append(
            RankingRow(
                rank=rank,
                agreement_id=result.agreement_id,
                result_id=result.result_id,
                score=fmt(Fraction(result.score_hundredths, 100)),
                score_hundredths=result.score_hundredths,
                grade=str(result.grade),
                overall_risk=str(result.overall_risk),
                formality_risk=result.formality_risk,
                actual_depth=str(result.actual_depth),
                declared_depth=str(result.declared_depth),
                provinces=tuple(sorted({c[:2] for c in view.region_codes})) if view else (),
                modes=tuple(str(m) for m in view.modes) if view else (),
                programme_ids=tuple(p.programme_id for p in funders),
                programme_names=tuple(p.name or p.programme_id for p in funders),
                trend=trend,
                previous_score=trend[-2].score if len(trend) > 1 else None,
                score_change=None if before is None else _signed(result.score_hundredths - before),
            )
        )
    return rows


def _hundredths(score: str) -> int:
    return int(Fraction(score) * 100)


def grouped_ranking(rows: list[RankingRow], by: GroupBy) -> list[tuple[str, list[RankingRow]]]:
    """The ranking within each group (an agreement in two programmes is ranked in both);
    equal scores share a rank, as overall."""
    members: dict[str, list[RankingRow]] = {}
    for row in rows:
        for group in row.groups(by):
            members.setdefault(group, []).append(row)
    grouped: list[tuple[str, list[RankingRow]]] = []
    for group, in_group in sorted(members.items()):
        reranked: list[RankingRow] = []
        for position, row in enumerate(in_group, start=1):
            tied = reranked and reranked[-1].score_hundredths == row.score_hundredths
            rank = reranked[-1].rank if tied else position
            reranked.append(RankingRow(**{**row.__dict__, "rank": rank}))
        grouped.append((group, reranked))
    return grouped


async def dashboard(ctx: Context, cycle_id: str) -> dict[str, Any]:
    rows = await ranking(ctx, cycle_id)
    results = {r.agreement_id: r for r in await queries.current_results(ctx, cycle_id)}
    grades = {g.value: 0 for g in Grade}
    by_programme: dict[str, Group] = {}
    by_region: dict[str, Group] = {}
    by_mode: dict[str, Group] = {}
    for row in rows:
        result = results[row.agreement_id]
        grades[row.grade] += 1
        names = dict(zip(row.programme_ids, row.programme_names, strict=True))
        for programme in row.groups("programme"):
            by_programme.setdefault(programme, Group(name=names.get(programme))).add(result)
        for province in row.groups("region"):
            by_region.setdefault(province, Group()).add(result)
        for mode in row.groups("mode"):
            by_mode.setdefault(mode, Group()).add(result)
    formality = [
        {
            "agreement_id": r.agreement_id,
            "result_id": r.result_id,
            "reasons": list(r.formality_reasons),
            "explanation": r.formality_explanation,
        }
        for r in sorted(results.values(), key=lambda r: r.agreement_id)
        if r.formality_risk
    ]
    overdue = [
        {
            "order_id": o.order_id,
            "agreement_id": o.agreement_id,
            "responsible_party_id": o.responsible_party_id,
            "due_at": o.due_at.isoformat(),
            "status": str(o.status),
        }
        for o in await queries.list_orders(ctx, status=OrderStatus.OVERDUE, cycle_id=cycle_id)
    ]
    return {
        "cycle_id": cycle_id,
        "agreements": len(rows),
        "ranking": [row.as_dict() for row in rows],
        "grade_distribution": grades,
        "by_programme": {k: g.as_dict() for k, g in sorted(by_programme.items())},
        "by_region": {k: g.as_dict() for k, g in sorted(by_region.items())},
        "by_mode": {k: g.as_dict() for k, g in sorted(by_mode.items())},
        "formality_risk": formality,
        "overdue_rectifications": overdue,
    }


def ranking_record(row: RankingRow) -> dict[str, Any]:
    """A ranking row as an export record: the trend as "score (grade)" steps, oldest first."""
    trend = " → ".join(f"{p.score} ({p.grade})" for p in row.trend)
    figures = {key: _number(getattr(row, key)) for key in ("score", "previous_score", "score_change")}
    return {**row.__dict__, **figures, "trend": trend}


def _number(text: str | None) -> Decimal | None:
    """A figure as a number for a spreadsheet (a text "-1" would be quoted as a formula)."""
    return None if text is None else Decimal(text)


def grouped_records(groups: list[tuple[str, list[RankingRow]]], by: GroupBy) -> list[dict[str, Any]]:
    return [{"group_by": by, "group": group, **ranking_record(row)} for group, rows in groups for row in rows]


def dashboard_records(board: dict[str, Any]) -> list[dict[str, Any]]:
    """The dashboard flattened to section, key, name, count, value rows (a spreadsheet's view)."""
    records: list[dict[str, Any]] = [
        {"section": "grade", "key": g, "count": n} for g, n in board["grade_distribution"].items()
    ]
    for section in ("by_programme", "by_region", "by_mode"):
        records += [
            {"section": section, "key": k, "name": v.get("name"), "count": v["agreements"], "value": v["mean_score"]}
            for k, v in board[section].items()
        ]
    records += [
        {"section": "trend", "key": r["agreement_id"], "count": len(r["trend"]), "value": _number(r["score_change"])}
        for r in board["ranking"]
    ]
    records += [{"section": "formality_risk", "key": f["agreement_id"], "count": 1} for f in board["formality_risk"]]
    records += [
        {"section": "overdue_rectification", "key": o["order_id"], "count": 1, "value": o["agreement_id"]}
        for o in board["overdue_rectifications"]
    ]
    return records
