"""HTTP API of the evaluation service: frameworks, evidence, cycles and panels, results,
appeals, rectification orders, rankings and the dashboard.

Roles: ``supervisor`` runs cycles, panels, rectification and appeals; ``evaluator``
scores the panels it sits on (the token's subject is the evaluator id); ``college`` and
``enterprise`` see what concerns their own agreements, respond to their rectification
orders and appeal their results; ``auditor`` reads everything and writes nothing.
Updates need ``If-Match``; lists and reports answer JSON or CSV (``?format=csv`` or
``Accept: text/csv``).
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Sequence
from datetime import date
from typing import Annotated, Any, Literal, Self

from fastapi import APIRouter, Depends, Query, Request, Response
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, Field, model_validator

from alliance_evaluation.adapters.repositories import Repositories
from alliance_evaluation.domain.appeal import Appeal
from alliance_evaluation.domain.cycle import Cycle, CycleStatus
from alliance_evaluation.domain.evidence import EvidenceWindow, ManualEvidenceKind, fmt
from alliance_evaluation.domain.framework import Framework, GradeBands, IndicatorDefinition, NoEvidencePolicy
from alliance_evaluation.domain.panel import Panel, PanelMember, PanelRole
from alliance_evaluation.domain.rectification import OrderStatus, RectificationOrder
from alliance_evaluation.domain.result import EvaluationResult
from alliance_evaluation.service import cycles as cycle_cases
from alliance_evaluation.service import dashboard as reports
from alliance_evaluation.service import evidence as evidence_cases
from alliance_evaluation.service import frameworks as framework_cases
from alliance_evaluation.service import outcomes
from alliance_evaluation.service.records import AgreementView, ManualRecord
from alliance_evaluation.settings import Settings
from alliance_shared.auth.dependencies import forbid_unless, require_roles
from alliance_shared.auth.principal import Principal
from alliance_shared.contract.base import CurrencyCode, MinorUnits, UtcDateTime
from alliance_shared.contract.evaluation import AppealDecision
from alliance_shared.contract.vocabulary import CooperationMode, CycleKind, Role
from alliance_shared.errors import NotFound
from alliance_shared.web.conditional import expected_version, set_etag

SUPERVISOR, EVALUATOR, AUDITOR = Role.SUPERVISOR, Role.EVALUATOR, Role.AUDITOR
COLLEGE, ENTERPRISE = Role.COLLEGE, Role.ENTERPRISE

Supervisor = Annotated[Principal, Depends(require_roles(SUPERVISOR))]
FrameworkReader = Annotated[Principal, Depends(require_roles(SUPERVISOR, EVALUATOR, AUDITOR, COLLEGE, ENTERPRISE))]
CycleReader = Annotated[Principal, Depends(require_roles(SUPERVISOR, EVALUATOR, AUDITOR))]
Overseer = Annotated[Principal, Depends(require_roles(SUPERVISOR, AUDITOR))]
PartyReader = Annotated[Principal, Depends(require_roles(SUPERVISOR, AUDITOR, COLLEGE, ENTERPRISE))]
AgreementReader = Annotated[Principal, Depends(require_roles(SUPERVISOR, EVALUATOR, AUDITOR, COLLEGE, ENTERPRISE))]
EvidenceWriter = Annotated[Principal, Depends(require_roles(SUPERVISOR, ENTERPRISE))]
Party = Annotated[Principal, Depends(require_roles(COLLEGE, ENTERPRISE))]
Scorer = Annotated[Principal, Depends(require_roles(EVALUATOR, SUPERVISOR))]

Id = Annotated[str, Field(min_length=1, max_length=100)]
Reason = Annotated[str, Field(min_length=1, max_length=2000)]
Format = Annotated[Literal["json", "csv"] | None, Query(description="csv for a spreadsheet; or Accept: text/csv")]


# --- request models ----------------------------------------------------------------------


class DraftEditsIn(BaseModel):
    """Parts of a draft framework to replace; omitted parts stay as they are."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [{"name": "Default indicators 2026", "no_evidence_policy": "score_zero_and_flag"}]
        },
    )

    name: str | None = Field(default=None, min_length=1, max_length=200)
    no_evidence_policy: NoEvidencePolicy | None = None
    grade_bands: GradeBands | None = None
    panel_role_weights: dict[PanelRole, Annotated[int, Field(ge=0, le=10_000)]] | None = None
    indicators: list[IndicatorDefinition] | None = Field(default=None, max_length=100)

    def edits(self) -> framework_cases.DraftEdits:
        return framework_cases.DraftEdits(
            name=self.name,
            no_evidence_policy=self.no_evidence_policy,
            grade_bands=self.grade_bands,
            panel_role_weights=self.panel_role_weights,
            indicators=self.indicators,
        )


class OpenCycleIn(BaseModel):
    """Open a cycle for agreements chosen by id, or for all active agreements with a party in a region."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {
                    "kind": "annual",
                    "name": "Annual evaluation 2025",
                    "agreement_ids": ["agr-7f3c"],
                    "window_start": "2025-01-01",
                    "window_end": "2025-12-31",
                    "due_at": "2026-02-28T16:00:00Z",
                    "framework_id": "default",
                    "framework_version": 1,
                },
                {
                    "kind": "mid_term",
                    "name": "Zhejiang mid-term 2025",
                    "region_prefix": "33",
                    "window_start": "2025-01-01",
                    "window_end": "2025-06-30",
                    "due_at": "2025-08-31T16:00:00Z",
                    "framework_id": "default",
                    "framework_version": 1,
                },
            ]
        },
    )

    kind: CycleKind
    name: str = Field(min_length=1, max_length=200)
    agreement_ids: list[Id] | None = Field(default=None, min_length=1, max_length=2000)
    region_prefix: str | None = Field(default=None, pattern=r"^[0-9]{2,6}$")
    window_start: date
    window_end: date
    due_at: UtcDateTime
    framework_id: Id = "default"
    framework_version: int = Field(default=1, ge=1, le=10_000)

    @model_validator(mode="after")
    def _one_selection(self) -> Self:
        if (self.agreement_ids is None) == (self.region_prefix is None):
            raise ValueError("give either agreement_ids or region_prefix")
        if self.window_end < self.window_start:
            raise ValueError("window_end lies on or after window_start")
        return self


class PanelMemberIn(BaseModel):
    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {"evaluator_id": "eval-017", "role": "industry_expert", "affiliation_partner_ids": ["assoc-3"]}
            ]
        },
    )

    evaluator_id: Id
    role: PanelRole
    affiliation_partner_ids: list[Id] = Field(default_factory=list, max_length=50)


class ScoreIn(BaseModel):
    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [{"score": 82}]})

    score: int = Field(strict=True, ge=0, le=100)


class ManualEvidenceIn(BaseModel):
    """Manual evidence with a reference to its supporting document (the attachment)."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {
                    "kind": "enterprise_investment",
                    "occurred_on": "2025-05-20",
                    "document_ref": "att://contracts/2025/inv-0042.pdf",
                    "amount_minor": 50000000,
                    "currency": "CNY",
                    "note": "CNC training line donated to the shared training base",
                }
            ]
        },
    )

    kind: ManualEvidenceKind
    occurred_on: date
    document_ref: str = Field(min_length=1, max_length=500, description="attachment reference")
    note: str | None = Field(default=None, max_length=2000)
    amount_minor: MinorUnits | None = None
    currency: CurrencyCode | None = None
    dual_qualified_teachers: int | None = Field(default=None, ge=0, le=100_000)
    cooperation_teachers: int | None = Field(default=None, ge=1, le=100_000)
    mode: CooperationMode | None = None


class AppealIn(BaseModel):
    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [{"grounds": "Placements of the autumn term were reported late; see PL-2025-0101…"}]
        },
    )

    grounds: str = Field(min_length=1, max_length=4000)


class DecisionIn(BaseModel):
    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={"examples": [{"decision": "upheld", "reason": "late reports verified with the college"}]},
    )

    decision: AppealDecision
    reason: Reason


class ResponseIn(BaseModel):
    model_config = ConfigDict(
        extra="forbid", json_schema_extra={"examples": [{"evidence_refs": ["att://rect/2026/plan-7.pdf"]}]}
    )

    evidence_refs: list[Annotated[str, Field(min_length=1, max_length=500)]] = Field(min_length=1, max_length=50)


class ReasonIn(BaseModel):
    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [{"reason": "verified on site"}]})

    reason: Reason


# --- response models ---------------------------------------------------------------------


class FrameworkSummary(BaseModel):
    framework_id: str
    version: int
    name: str
    status: str
    indicators: int
    published_at: str | None


class EvidenceFigure(BaseModel):
    measure: str
    value: str | None
    how: str
    evidence_count: int


class EvidenceOut(BaseModel):
    agreement_id: str
    window_start: date
    window_end: date
    reports_received: int = Field(description="report records stored (each (college, report id) once)")
    reports_in_window: int
    reports_by_type: dict[str, int]
    manual_evidence: list[ManualRecord]
    figures: list[EvidenceFigure]


class ManualEvidenceOut(BaseModel):
    evidence_id: str
    record: ManualRecord


class TrendPoint(BaseModel):
    result_id: str
    cycle_id: str
    cycle_kind: str
    score_hundredths: int
    grade: str
    overall_risk: str
    status: str
    completed_at: str


class AgreementResultsOut(BaseModel):
    agreement_id: str
    results: list[EvaluationResult]
    trend: list[TrendPoint] = Field(description="current results, oldest first")


class DecisionOut(BaseModel):
    appeal: Appeal
    new_result: EvaluationResult | None


# --- helpers -----------------------------------------------------------------------------


def is_overseer(principal: Principal) -> bool:
    return principal.has_any(SUPERVISOR, AUDITOR)


def is_party(principal: Principal, party_ids: Iterable[str]) -> bool:
    return any(principal.is_partner(p) for p in party_ids)


def wants_csv(request: Request, format: str | None) -> bool:
    if format is not None:
        return format == "csv"
    return "text/csv" in request.headers.get("accept", "")


def csv_response(header: Sequence[str], rows: Iterable[Sequence[Any]], filename: str) -> Response:
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(header)
    for row in rows:
        writer.writerow(["|".join(v) if isinstance(v, tuple | list) else v for v in row])
    return Response(
        buffer.getvalue(),
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": f'attachment; filename="{filename}"'},
    )


def build_router(repos: Repositories, settings: Settings) -> APIRouter:
    router = APIRouter()

    async def load_agreement(agreement_id: str) -> AgreementView:
        loaded = await repos.agreements.get(agreement_id)
        if loaded is None:
            raise NotFound("agreement.not_found", f"no agreement {agreement_id}")
        return loaded.item

    async def sits_on_panel_of(principal: Principal, agreement_id: str) -> bool:
        if not principal.has_any(EVALUATOR):
            return False
        panels = await repos.panels.find({"agreement_id": agreement_id})
        return any(principal.subject in p.item.evaluator_ids for p in panels)

    async def check_agreement_reader(principal: Principal, agreement: AgreementView) -> None:
        allowed = (
            is_overseer(principal)
            or is_party(principal, agreement.snapshot().party_ids)
            or await sits_on_panel_of(principal, agreement.agreement_id)
        )
        forbid_unless(allowed, f"agreement {agreement.agreement_id} is not one of yours")

    # --- frameworks ----------------------------------------------------------------------

    @router.get("/frameworks", tags=["frameworks"], summary="List every framework version")
    async def list_frameworks(_: FrameworkReader) -> list[FrameworkSummary]:
        return [
            FrameworkSummary(
                framework_id=f.item.framework_id,
                version=f.item.version,
                name=f.item.name,
                status=str(f.item.status),
                indicators=len(f.item.indicators),
                published_at=f.item.published_at.isoformat() if f.item.published_at else None,
            )
            for f in await framework_cases.list_frameworks(repos)
        ]

    @router.get("/frameworks/{framework_id}/versions/{version}", tags=["frameworks"], summary="One framework version")
    async def get_framework(framework_id: str, version: int, response: Response, _: FrameworkReader) -> Framework:
        loaded = await framework_cases.get_framework(repos, framework_id, version)
        set_etag(response, loaded.version)
        return loaded.item

    @router.post(
        "/frameworks/{framework_id}/versions",
        status_code=201,
        tags=["frameworks"],
        summary="Derive the next draft version from the latest published one",
    )
    async def new_draft(framework_id: str, body: DraftEditsIn, response: Response, _: Supervisor) -> Framework:
        loaded = await framework_cases.new_draft(repos, framework_id, body.edits())
        set_etag(response, loaded.version)
        return loaded.item

    @router.put("/frameworks/{framework_id}/versions/{version}", tags=["frameworks"], summary="Edit a draft")
    async def edit_draft(
        framework_id: str, version: int, body: DraftEditsIn, request: Request, response: Response, _: Supervisor
    ) -> Framework:
        loaded = await framework_cases.edit_draft(repos, framework_id, version, expected_version(request), body.edits())
        set_etag(response, loaded.version)
        return loaded.item

    @router.post(
        "/frameworks/{framework_id}/versions/{version}/publish",
        tags=["frameworks"],
        summary="Publish a draft: it becomes immutable and usable by cycles",
    )
    async def publish(
        framework_id: str, version: int, request: Request, response: Response, principal: Supervisor
    ) -> Framework:
        loaded = await framework_cases.publish(
            repos, framework_id, version, expected_version(request), principal.subject
        )
        set_etag(response, loaded.version)
        return loaded.item

    # --- agreements and evidence ---------------------------------------------------------

    @router.get("/agreements/{agreement_id}", tags=["evidence"], summary="The agreement as evaluation knows it")
    async def get_agreement(agreement_id: str, principal: AgreementReader) -> AgreementView:
        agreement = await load_agreement(agreement_id)
        await check_agreement_reader(principal, agreement)
        return agreement

    @router.get(
        "/agreements/{agreement_id}/evidence",
        tags=["evidence"],
        summary="Evidence of an agreement in a window: reports by type, manual evidence and the figures",
    )
    async def get_evidence(
        agreement_id: str,
        principal: AgreementReader,
        window_start: Annotated[date, Query()],
        window_end: Annotated[date, Query()],
    ) -> EvidenceOut:
        agreement = await load_agreement(agreement_id)
        await check_agreement_reader(principal, agreement)
        window = cycle_cases.window_of(window_start, window_end)
        evidence = await evidence_cases.evidence_of(repos, agreement_id)
        counts, summary = evidence_cases.summarize(evidence, window, agreement)
        return EvidenceOut(
            agreement_id=agreement_id,
            window_start=window.start,
            window_end=window.end,
            reports_received=evidence.received,
            reports_in_window=sum(counts.values()),
            reports_by_type=dict(sorted(counts.items())),
            manual_evidence=[m for m in evidence.manual if m.evidence.occurred_on <= window.end],
            figures=[
                EvidenceFigure(
                    measure=str(measure),
                    value=None if m.value is None else fmt(m.value),
                    how=m.how,
                    evidence_count=m.evidence_count,
                )
                for measure, m in sorted(summary.measurements.items())
            ],
        )

    @router.post(
        "/agreements/{agreement_id}/evidence",
        status_code=201,
        tags=["evidence"],
        summary="Record manual evidence (supervisors; enterprises for their own agreements)",
    )
    async def add_evidence(
        agreement_id: str, body: ManualEvidenceIn, response: Response, principal: EvidenceWriter
    ) -> ManualEvidenceOut:
        agreement = await load_agreement(agreement_id)
        forbid_unless(
            principal.has_any(SUPERVISOR) or is_party(principal, agreement.enterprise_ids),
            f"agreement {agreement_id} is not one of your enterprise's agreements",
        )
        fields = body.model_dump(exclude={"note"}, exclude_none=True, mode="json")
        record, evidence_id = await evidence_cases.record_manual(
            repos, agreement_id, fields, body.note, principal.subject, principal.primary_role
        )
        set_etag(response, 1)
        return ManualEvidenceOut(evidence_id=evidence_id, record=record)

    # --- cycles and panels ---------------------------------------------------------------

    @router.post("/cycles", status_code=201, tags=["cycles"], summary="Open an evaluation cycle")
    async def open_cycle(body: OpenCycleIn, response: Response, principal: Supervisor) -> Cycle:
        spec = cycle_cases.CycleSpec(
            kind=body.kind,
            name=body.name,
            window=EvidenceWindow(start=body.window_start, end=body.window_end),
            due_at=body.due_at,
            framework_id=body.framework_id,
            framework_version=body.framework_version,
            agreement_ids=body.agreement_ids or (),
            region_prefix=body.region_prefix,
        )
        loaded = await cycle_cases.open_cycle(repos, spec, principal.subject)
        set_etag(response, loaded.version)
        return loaded.item

    @router.get("/cycles", tags=["cycles"], summary="List cycles")
    async def list_cycles(_: CycleReader, status: CycleStatus | None = None) -> list[Cycle]:
        return [c.item for c in await cycle_cases.list_cycles(repos, status)]

    @router.get("/cycles/{cycle_id}", tags=["cycles"], summary="One cycle")
    async def get_cycle(cycle_id: str, response: Response, _: CycleReader) -> Cycle:
        loaded = await cycle_cases.get_cycle(repos, cycle_id)
        set_etag(response, loaded.version)
        return loaded.item

    @router.post("/cycles/{cycle_id}/start-scoring", tags=["cycles"], summary="Close the evidence window")
    async def start_scoring(cycle_id: str, request: Request, response: Response, principal: Supervisor) -> Cycle:
        loaded = await cycle_cases.start_scoring(repos, cycle_id, expected_version(request), principal.subject)
        set_etag(response, loaded.version)
        return loaded.item

    @router.post(
        "/cycles/{cycle_id}/complete",
        tags=["cycles"],
        summary="Score every agreement, record results, order rectification, complete the cycle",
    )
    async def complete(cycle_id: str, request: Request, response: Response, principal: Supervisor) -> Cycle:
        loaded = await cycle_cases.complete_cycle(
            repos, settings, cycle_id, expected_version(request), principal.subject
        )
        set_etag(response, loaded.version)
        return loaded.item

    @router.post(
        "/cycles/{cycle_id}/panels/{agreement_id}/members",
        status_code=201,
        tags=["panels"],
        summary="Seat an evaluator (conflict-of-interest checked)",
    )
    async def seat(cycle_id: str, agreement_id: str, body: PanelMemberIn, response: Response, _: Supervisor) -> Panel:
        member = PanelMember(
            evaluator_id=body.evaluator_id, role=body.role, affiliation_partner_ids=tuple(body.affiliation_partner_ids)
        )
        loaded = await cycle_cases.seat_member(repos, cycle_id, agreement_id, member)
        set_etag(response, loaded.version)
        return loaded.item

    @router.get("/cycles/{cycle_id}/panels/{agreement_id}", tags=["panels"], summary="A panel and its scores")
    async def get_panel(cycle_id: str, agreement_id: str, response: Response, principal: CycleReader) -> Panel:
        loaded = await cycle_cases.get_panel(repos, cycle_id, agreement_id)
        forbid_unless(
            is_overseer(principal) or principal.subject in loaded.item.evaluator_ids, "you do not sit on this panel"
        )
        set_etag(response, loaded.version)
        return loaded.item

    @router.put(
        "/cycles/{cycle_id}/panels/{agreement_id}/scores/{indicator_code}",
        tags=["panels"],
        summary="Score a panel indicator (panel members only; the token's subject is the evaluator id)",
    )
    async def score(
        cycle_id: str, agreement_id: str, indicator_code: str, body: ScoreIn, response: Response, principal: Scorer
    ) -> Panel:
        panel = await cycle_cases.get_panel(repos, cycle_id, agreement_id)
        forbid_unless(principal.subject in panel.item.evaluator_ids, "only evaluators on this panel may score it")
        loaded = await cycle_cases.record_score(
            repos, cycle_id, agreement_id, principal.subject, indicator_code, body.score
        )
        set_etag(response, loaded.version)
        return loaded.item

    @router.get("/cycles/{cycle_id}/ranking", tags=["rankings"], summary="Agreements ranked by score (JSON or CSV)")
    async def ranking(cycle_id: str, request: Request, _: Overseer, format: Format = None) -> Any:
        await cycle_cases.get_cycle(repos, cycle_id)
        rows = await reports.ranking(repos, cycle_id)
        if wants_csv(request, format):
            header = list(reports.RankingRow.__dataclass_fields__)
            return csv_response(header, ([getattr(r, h) for h in header] for r in rows), f"ranking-{cycle_id}.csv")
        return JSONResponse({"cycle_id": cycle_id, "ranking": [r.__dict__ for r in rows]})

    @router.get(
        "/cycles/{cycle_id}/dashboard",
        tags=["rankings"],
        summary="Grade distribution, by region and mode, formality risk, overdue rectification (JSON or CSV)",
    )
    async def get_dashboard(cycle_id: str, request: Request, _: Overseer, format: Format = None) -> Any:
        await cycle_cases.get_cycle(repos, cycle_id)
        board = await reports.dashboard(repos, cycle_id)
        if not wants_csv(request, format):
            return JSONResponse(board)
        rows: list[list[Any]] = [["grade", g, n, ""] for g, n in board["grade_distribution"].items()]
        for section in ("by_region", "by_mode"):
            rows += [[section, k, v["agreements"], v["mean_score"]] for k, v in board[section].items()]
        rows += [["formality_risk", f["agreement_id"], 1, ""] for f in board["formality_risk"]]
        rows += [
            ["overdue_rectification", o["order_id"], 1, o["agreement_id"]] for o in board["overdue_rectifications"]
        ]
        return csv_response(["section", "key", "count", "value"], rows, f"dashboard-{cycle_id}.csv")

    # --- results and appeals -------------------------------------------------------------

    @router.get(
        "/agreements/{agreement_id}/results", tags=["results"], summary="Every result of an agreement and its trend"
    )
    async def agreement_results(agreement_id: str, principal: PartyReader) -> AgreementResultsOut:
        results = await outcomes.results_of_agreement(repos, agreement_id)
        if not results:
            agreement = await load_agreement(agreement_id)
            forbid_unless(
                is_overseer(principal) or is_party(principal, agreement.snapshot().party_ids),
                f"agreement {agreement_id} is not one of yours",
            )
        else:
            forbid_unless(
                is_overseer(principal) or is_party(principal, results[0].party_ids),
                f"agreement {agreement_id} is not one of yours",
            )
        trend = [
            TrendPoint(
                result_id=r.result_id,
                cycle_id=r.cycle_id,
                cycle_kind=str(r.cycle_kind),
                score_hundredths=r.score_hundredths,
                grade=str(r.grade),
                overall_risk=str(r.overall_risk),
                status=str(r.status),
                completed_at=r.completed_at.isoformat(),
            )
            for r in results
            if r.is_current
        ]
        return AgreementResultsOut(agreement_id=agreement_id, results=results, trend=trend)

    @router.get("/results/{result_id}", tags=["results"], summary="A result with its breakdown and explanations")
    async def get_result(result_id: str, response: Response, principal: PartyReader) -> EvaluationResult:
        loaded = await outcomes.get_result(repos, result_id)
        forbid_unless(
            is_overseer(principal) or is_party(principal, loaded.item.party_ids), "this result is not about you"
        )
        set_etag(response, loaded.version)
        return loaded.item

    @router.post(
        "/results/{result_id}/appeals",
        status_code=201,
        tags=["appeals"],
        summary="Appeal a result (a party, within the working-day window)",
    )
    async def lodge(result_id: str, body: AppealIn, response: Response, principal: Party) -> Appeal:
        result = (await outcomes.get_result(repos, result_id)).item
        forbid_unless(is_party(principal, result.party_ids), "only a party to the agreement may appeal")
        assert principal.partner_id is not None
        loaded = await outcomes.lodge_appeal(
            repos, settings, result, principal.partner_id, body.grounds, principal.subject
        )
        set_etag(response, loaded.version)
        return loaded.item

    @router.get("/appeals/{appeal_id}", tags=["appeals"], summary="One appeal")
    async def get_appeal(appeal_id: str, response: Response, principal: PartyReader) -> Appeal:
        loaded = await outcomes.get_appeal(repos, appeal_id)
        forbid_unless(is_overseer(principal) or is_party(principal, loaded.item.party_ids), "not your appeal")
        set_etag(response, loaded.version)
        return loaded.item

    @router.post(
        "/appeals/{appeal_id}/decision",
        tags=["appeals"],
        summary="Decide an appeal (a supervisor not on the panel); upheld re-scores and supersedes the result",
    )
    async def decide(
        appeal_id: str, body: DecisionIn, request: Request, response: Response, principal: Supervisor
    ) -> DecisionOut:
        loaded, new_result = await outcomes.decide_appeal(
            repos, settings, appeal_id, expected_version(request), body.decision, body.reason, principal.subject
        )
        set_etag(response, loaded.version)
        return DecisionOut(appeal=loaded.item, new_result=new_result)

    # --- rectification -------------------------------------------------------------------

    @router.get("/rectifications", tags=["rectification"], summary="Rectification orders (yours, for a party)")
    async def list_orders(
        principal: PartyReader,
        status: OrderStatus | None = None,
        agreement_id: str | None = None,
        cycle_id: str | None = None,
    ) -> list[RectificationOrder]:
        query: dict[str, Any] = {}
        if status is not None:
            query["status"] = status.value
        if agreement_id is not None:
            query["agreement_id"] = agreement_id
        if cycle_id is not None:
            query["cycle_id"] = cycle_id
        orders = [o.item for o in await repos.orders.find(query)]
        if not is_overseer(principal):
            orders = [o for o in orders if is_party(principal, o.party_ids)]
        return orders

    @router.get("/rectifications/{order_id}", tags=["rectification"], summary="One rectification order")
    async def get_order(order_id: str, response: Response, principal: PartyReader) -> RectificationOrder:
        loaded = await outcomes.get_order(repos, order_id)
        forbid_unless(is_overseer(principal) or is_party(principal, loaded.item.party_ids), "not your order")
        set_etag(response, loaded.version)
        return loaded.item

    @router.post(
        "/rectifications/{order_id}/response",
        tags=["rectification"],
        summary="The responsible party answers the order with evidence",
    )
    async def respond(
        order_id: str, body: ResponseIn, request: Request, response: Response, principal: Party
    ) -> RectificationOrder:
        loaded = await outcomes.get_order(repos, order_id)
        forbid_unless(principal.is_partner(loaded.item.responsible_party_id), "only the responsible party may respond")
        saved = await outcomes.respond(
            repos, loaded.item, expected_version(request), body.evidence_refs, principal.subject
        )
        set_etag(response, saved.version)
        return saved.item

    @router.post("/rectifications/{order_id}/return", tags=["rectification"], summary="Return an insufficient response")
    async def return_order(
        order_id: str, body: ReasonIn, request: Request, response: Response, principal: Supervisor
    ) -> RectificationOrder:
        loaded = await outcomes.get_order(repos, order_id)
        saved = await outcomes.return_order(
            repos, loaded.item, expected_version(request), body.reason, principal.subject
        )
        set_etag(response, saved.version)
        return saved.item

    @router.post("/rectifications/{order_id}/close", tags=["rectification"], summary="Close a verified rectification")
    async def close(
        order_id: str, body: ReasonIn, request: Request, response: Response, principal: Supervisor
    ) -> RectificationOrder:
        loaded = await outcomes.get_order(repos, order_id)
        saved = await outcomes.close_order(
            repos, loaded.item, expected_version(request), body.reason, principal.subject
        )
        set_etag(response, saved.version)
        return saved.item

    return router
