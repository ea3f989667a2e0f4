"""Rankings and the supervisors' dashboard of a cycle, computed from the current results
(never from counters): the ranking by score, the grade distribution, figures by region
(province: the first two digits of a party's region code) and by declared mode, the
formality-risk list and the overdue rectification orders."""

from __future__ import annotations

from dataclasses import dataclass, field
from fractions import Fraction
from typing import Any

from alliance_evaluation.domain.evidence import fmt
from alliance_evaluation.domain.rectification import OrderStatus
from alliance_evaluation.domain.result import EvaluationResult
from alliance_evaluation.service import queries
from alliance_evaluation.service.context import Context
from alliance_evaluation.service.records import AgreementView
from alliance_shared.contract.vocabulary import Grade
from alliance_shared.tables import Table


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


@dataclass
class Group:
    agreements: int = 0
    total_hundredths: int = 0
    grades: dict[str, int] = field(default_factory=dict)

    def add(self, result: EvaluationResult) -> None:
        self.agreements += 1
        self.total_hundredths += result.score_hundredths
        self.grades[str(result.grade)] = self.grades.get(str(result.grade), 0) + 1

    def as_dict(self) -> dict[str, Any]:
        mean = Fraction(self.total_hundredths, 100 * self.agreements) if self.agreements else Fraction(0)
        return {"agreements": self.agreements, "mean_score": fmt(mean), "grades": dict(sorted(self.grades.items()))}


async def ranking(ctx: Context, cycle_id: str) -> list[RankingRow]:
    results = await queries.current_results(ctx, cycle_id)
    views: dict[str, AgreementView | None] = {}
    for result in results:
        views[result.agreement_id] = await queries.find_agreement(ctx, result.agreement_id)
    ordered = sorted(results, key=lambda r: (-r.score_hundredths, r.agreement_id))
    rows: list[RankingRow] = []
    previous: tuple[int, int] | None = None  # (score, rank): equal scores share a rank
    for position, result in enumerate(ordered, start=1):
        rank = previous[1] if previous and previous[0] == result.score_hundredths else position
        previous = (result.score_hundredths, rank)
        view = views.get(result.agreement_id)
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
            )
        )
    return rows


async def dashboard(ctx: Context, cycle_id: str) -> dict[str, Any]:
    rows = await ranking(ctx, cycle_id)
    results = {r.agreement_id: r for r in await queries.current_results(ctx, cycle_id)}
    grades = {g.value: 0 for g in Grade}
    by_region: dict[str, Group] = {}
    by_mode: dict[str, Group] = {}
    for row in rows:
        result = results[row.agreement_id]
        grades[row.grade] += 1
        for province in row.provinces or ("unknown",):
            by_region.setdefault(province, Group()).add(result)
        for mode in row.modes or ("none",):
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
        "ranking": [row.__dict__ for row in rows],
        "grade_distribution": grades,
        "by_region": {k: g.as_dict() for k, g in sorted(by_region.items())},
        "by_mode": {k: g.as_dict() for k, g in sorted(by_mode.items())},
        "formality_risk": formality,
        "overdue_rectifications": overdue,
    }


def ranking_table(cycle_id: str, rows: list[RankingRow]) -> Table:
    header = list(RankingRow.__dataclass_fields__)
    return Table(f"ranking {cycle_id}", header, [[getattr(r, h) for h in header] for r in rows])


def dashboard_table(board: dict[str, Any]) -> Table:
    """The dashboard flattened to section, key, count, value rows (a spreadsheet's view)."""
    rows: list[list[Any]] = [["grade", g, n, ""] for g, n in board["grade_distribution"].items()]
    for section in ("by_region", "by_mode"):
        rows += [[section, k, v["agreements"], v["mean_score"]] for k, v in board[section].items()]
    rows += [["formality_risk", f["agreement_id"], 1, ""] for f in board["formality_risk"]]
    rows += [["overdue_rectification", o["order_id"], 1, o["agreement_id"]] for o in board["overdue_rectifications"]]
    return Table(f"dashboard {board['cycle_id']}", ["section", "key", "count", "value"], rows)
