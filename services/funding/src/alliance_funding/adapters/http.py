"""HTTP API of the funding service: programmes, applications and review, awards and
tranches (maker-checker), terminations and recoveries, the ledger and its verification,
surcharge credit statements, reports.

Roles: ``funding_officer`` manages programmes, reviews applications, releases manual
tranches, prepares (requests) tranches, confirms payments, terminates awards and runs
recoveries; ``funding_approver`` approves prepared tranches — never one they prepared
(enforced here, on the server); ``college`` / ``enterprise`` apply and see only their
own applications and awards; ``auditor`` reads everything and writes nothing.
Updates need ``If-Match`` with the ETag read; ``POST`` accepts ``Idempotency-Key``.
Reports answer JSON, CSV or XLSX (``?format=``).
"""

from __future__ import annotations

import csv
import io
from datetime import UTC, datetime
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Query, Request, Response
from pydantic import BaseModel, ConfigDict, Field

from alliance_funding.adapters.repositories import Repositories, statement_key
from alliance_funding.domain.application import Application, BudgetLine
from alliance_funding.domain.award import Award
from alliance_funding.domain.execution import BudgetExecution
from alliance_funding.domain.programme import EligibilityRules, Programme, TrancheTemplateItem
from alliance_funding.domain.surcharge_credit import Investment
from alliance_funding.service import applications as application_cases
from alliance_funding.service import awards as award_cases
from alliance_funding.service import ledger, reports, surcharge
from alliance_funding.service import programmes as programme_cases
from alliance_funding.service.records import StoredStatement
from alliance_funding.settings import Settings
from alliance_shared.auth.dependencies import forbid_unless, require_roles
from alliance_shared.auth.principal import Principal
from alliance_shared.contract.base import MinorUnits, UtcDateTime
from alliance_shared.contract.funding import SettlementMethod
from alliance_shared.contract.vocabulary import Role
from alliance_shared.errors import DomainError, NotFound
from alliance_shared.persistence.pagination import MAX_PAGE_SIZE, paginate
from alliance_shared.web.conditional import expected_version, set_etag

OFFICER, APPROVER, AUDITOR = Role.FUNDING_OFFICER, Role.FUNDING_APPROVER, Role.AUDITOR
COLLEGE, ENTERPRISE = Role.COLLEGE, Role.ENTERPRISE

Officer = Annotated[Principal, Depends(require_roles(OFFICER))]
Approver = Annotated[Principal, Depends(require_roles(APPROVER))]
Staff = Annotated[Principal, Depends(require_roles(OFFICER, APPROVER, AUDITOR))]
Applicant = Annotated[Principal, Depends(require_roles(COLLEGE, ENTERPRISE))]
Anyone = Annotated[Principal, Depends(require_roles(OFFICER, APPROVER, AUDITOR, COLLEGE, ENTERPRISE))]
StatementReader = Annotated[Principal, Depends(require_roles(OFFICER, AUDITOR, ENTERPRISE))]

Id = Annotated[str, Field(min_length=1, max_length=100)]
Reason = Annotated[str, Field(min_length=1, max_length=2000)]
Format = Annotated[Literal["json", "csv", "xlsx"], Query(description="json, csv or xlsx")]

NOW_EXAMPLE = "2026-03-01T00:00:00Z"


# --- request models ----------------------------------------------------------------------


class ProgrammeIn(BaseModel):
    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {
                    "name": "Shenzhen integration fund 2026",
                    "fiscal_year": 2026,
                    "appropriated_minor": 1_000_000_000,
                    "opens_at": NOW_EXAMPLE,
                    "closes_at": "2026-06-30T16:00:00Z",
                    "eligibility": {
                        "lead_partner_kinds": ["college", "enterprise"],
                        "require_certified_enterprise": True,
                        "require_active_agreement": True,
                        "min_grade": "pass",
                        "region_prefix": "4403",
                    },
                    "award_cap_minor": 200_000_000,
                    "min_cofunding_bp": 3000,
                    "tranche_template": [
                        {"name": "start-up", "share_bp": 3000, "release": {"kind": "on_award"}},
                        {
                            "name": "mid-term",
                            "share_bp": 4000,
                            "release": {"kind": "evaluation", "cycle_kind": "mid_term", "min_grade": "pass"},
                        },
                        {"name": "final", "share_bp": 3000, "release": {"kind": "manual"}},
                    ],
                }
            ]
        },
    )

    name: str = Field(min_length=1, max_length=200)
    fiscal_year: int = Field(ge=2000, le=2100)
    appropriated_minor: MinorUnits
    opens_at: UtcDateTime
    closes_at: UtcDateTime
    eligibility: EligibilityRules
    award_cap_minor: MinorUnits
    min_cofunding_bp: int = Field(ge=0, le=9999)
    tranche_template: list[TrancheTemplateItem] = Field(min_length=1, max_length=20)


class ProgrammeRevisionIn(BaseModel):
    """Settings of a draft programme to change; omitted ones stay."""

    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [{"award_cap_minor": 150_000_000}]})

    name: str | None = Field(default=None, min_length=1, max_length=200)
    fiscal_year: int | None = Field(default=None, ge=2000, le=2100)
    appropriated_minor: MinorUnits | None = None
    opens_at: UtcDateTime | None = None
    closes_at: UtcDateTime | None = None
    eligibility: EligibilityRules | None = None
    award_cap_minor: MinorUnits | None = None
    min_cofunding_bp: int | None = Field(default=None, ge=0, le=9999)
    tranche_template: list[TrancheTemplateItem] | None = Field(default=None, min_length=1, max_length=20)


class ReasonIn(BaseModel):
    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [{"reason": "window ended"}]})

    reason: Reason


class OptionalReasonIn(BaseModel):
    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [{"reason": "project postponed"}]})

    reason: str | None = Field(default=None, max_length=2000)


class ApplicationIn(BaseModel):
    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {
                    "programme_id": "prg-2b9c0e51a2f4",
                    "agreement_id": "agr-7f3c",
                    "requested_minor": 100_000_000,
                    "cofunding_minor": 50_000_000,
                    "budget_lines": [
                        {"category": "equipment", "amount_minor": 70_000_000},
                        {"category": "teacher_training", "amount_minor": 30_000_000},
                    ],
                }
            ]
        },
    )

    programme_id: Id
    agreement_id: Id
    requested_minor: MinorUnits
    cofunding_minor: MinorUnits
    budget_lines: list[BudgetLine] = Field(max_length=10)


class ApplicationRevisionIn(BaseModel):
    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {
                    "requested_minor": 80_000_000,
                    "cofunding_minor": 50_000_000,
                    "budget_lines": [{"category": "equipment", "amount_minor": 80_000_000}],
                }
            ]
        },
    )

    requested_minor: MinorUnits
    cofunding_minor: MinorUnits
    budget_lines: list[BudgetLine] = Field(max_length=10)


class DecisionIn(BaseModel):
    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {"decision": "approve", "reason": "meets all criteria", "approved_minor": 90_000_000},
                {"decision": "return", "reason": "budget lines lack quotations"},
            ]
        },
    )

    decision: Literal["approve", "reject", "return"]
    reason: Reason
    approved_minor: MinorUnits | None = None


class ApproveTrancheIn(BaseModel):
    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {},
                {"approved_minor": 10_000_000, "reason": "equipment bought below budget", "release_remainder": True},
            ]
        },
    )

    approved_minor: MinorUnits | None = Field(default=None, description="default: the scheduled amount")
    release_remainder: bool = False
    reason: str | None = Field(default=None, max_length=2000)


class PaymentIn(BaseModel):
    model_config = ConfigDict(
        extra="forbid", json_schema_extra={"examples": [{"bank_reference": "ICBC-20260402-0091"}]}
    )

    bank_reference: str = Field(min_length=1, max_length=100)


class TerminateIn(BaseModel):
    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {
                    "reason": "agreement terminated by the registry",
                    "recovery_id": "rec-1",
                    "recovery_minor": 5_000_000,
                    "recovery_due_at": "2026-12-31T16:00:00Z",
                }
            ]
        },
    )

    reason: Reason
    recovery_id: str | None = Field(default=None, min_length=1, max_length=100, pattern=r"^[A-Za-z0-9][A-Za-z0-9_-]*$")
    recovery_minor: int = Field(default=0, ge=0, le=10**15)
    recovery_due_at: UtcDateTime | None = None


class RecoveryIn(BaseModel):
    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {
                    "recovery_id": "rec-2",
                    "amount_minor": 1_000_000,
                    "reason": "ineligible spend",
                    "due_at": "2026-12-31T16:00:00Z",
                }
            ]
        },
    )

    recovery_id: str = Field(min_length=1, max_length=100, pattern=r"^[A-Za-z0-9][A-Za-z0-9_-]*$")
    amount_minor: MinorUnits
    reason: Reason
    due_at: UtcDateTime


class SettlementIn(BaseModel):
    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {"settlement_id": "s-1", "method": "repayment", "amount_minor": 500_000, "bank_reference": "BOC-77"},
                {"settlement_id": "s-2", "method": "offset", "amount_minor": 500_000, "tranche_id": "awd-x-t3"},
            ]
        },
    )

    settlement_id: str = Field(min_length=1, max_length=100, pattern=r"^[A-Za-z0-9][A-Za-z0-9_-]*$")
    method: SettlementMethod
    amount_minor: MinorUnits
    bank_reference: str | None = Field(default=None, max_length=100)
    tranche_id: str | None = Field(default=None, max_length=100)


class StatementIn(BaseModel):
    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {
                    "enterprise_id": "ent-042",
                    "year": 2026,
                    "investments": [{"reference": "INV-1", "made_on": "2026-03-01", "amount_minor": 100_000_000}],
                    "education_surcharge_due_minor": 20_000_000,
                    "local_education_surcharge_due_minor": 10_000_000,
                }
            ]
        },
    )

    enterprise_id: Id
    year: int = Field(ge=2000, le=2100)
    investments: list[Investment] = Field(max_length=1000)
    education_surcharge_due_minor: MinorUnits
    local_education_surcharge_due_minor: MinorUnits


# --- response models ---------------------------------------------------------------------


class LedgerOut(BaseModel):
    programme_id: str
    version: int
    currency: str
    balances: dict[str, int]
    execution: BudgetExecution


class JournalLine(BaseModel):
    ledger_version: int
    transfer_id: str
    kind: str
    debit_account: str
    credit_account: str
    amount_minor: int
    at: datetime
    actor_id: str
    refs: dict[str, str]


class VerifyOut(BaseModel):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "programme_id": "prg-1",
                    "consistent": True,
                    "versions": 4,
                    "entries": 5,
                    "trial_balance": 0,
                    "differences": {},
                    "problems": [],
                    "stored_balances": {},
                    "journal_balances": {},
                    "awards": [{"award_id": "awd-app-1", "in_sync": True, "differences": {}}],
                }
            ]
        }
    )

    programme_id: str
    consistent: bool
    versions: int
    entries: int
    trial_balance: int
    differences: dict[str, int]
    problems: list[str]
    stored_balances: dict[str, int]
    journal_balances: dict[str, int]
    awards: list[dict[str, Any]]


class ProgrammePage(BaseModel):
    items: list[Programme]
    next_cursor: str | None = Field(description="pass as ?cursor= for the next page; null on the last")


class ApplicationPage(BaseModel):
    items: list[Application]
    next_cursor: str | None = Field(description="pass as ?cursor= for the next page; null on the last")


class AwardPage(BaseModel):
    items: list[Award]
    next_cursor: str | None = Field(description="pass as ?cursor= for the next page; null on the last")


Cursor = Annotated[str | None, Query(max_length=500, description="next_cursor of the previous page")]
Limit = Annotated[int, Query(ge=1, le=MAX_PAGE_SIZE)]


# --- helpers -----------------------------------------------------------------------------


def is_staff(principal: Principal) -> bool:
    return principal.has_any(OFFICER, APPROVER, AUDITOR)


def partner_of(principal: Principal) -> str:
    forbid_unless(principal.partner_id is not None, "this token names no partner")
    assert principal.partner_id is not None
    return principal.partner_id


def render(table: reports.Table, format: str, filename: str) -> Response:
    if format == "csv":
        buffer = io.StringIO()
        writer = csv.writer(buffer)
        writer.writerow(table.header)
        writer.writerows(table.rows)
        return Response(
            buffer.getvalue(),
            media_type="text/csv; charset=utf-8",
            headers={"Content-Disposition": f'attachment; filename="{filename}.csv"'},
        )
    if format == "xlsx":
        return Response(
            reports.to_xlsx(table),
            media_type="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
            headers={"Content-Disposition": f'attachment; filename="{filename}.xlsx"'},
        )
    import json

    return Response(
        json.dumps({"title": table.title, "rows": table.records()}, default=str, ensure_ascii=False),
        media_type="application/json",
    )


REPORT_RESPONSES: dict[int | str, dict[str, Any]] = {
    200: {
        "description": "the report",
        "content": {
            "application/json": {"example": {"title": "tranche pipeline", "rows": []}},
            "text/csv": {"example": "award_id,programme_id,...\n"},
            "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet": {},
        },
    }
}


def build_router(repos: Repositories, settings: Settings) -> APIRouter:
    router = APIRouter()

    def check_application_reader(principal: Principal, application: Application) -> None:
        forbid_unless(
            is_staff(principal) or principal.is_partner(application.applicant_partner_id),
            f"application {application.application_id} is not yours",
        )

    def check_award_reader(principal: Principal, award: Award) -> None:
        forbid_unless(
            is_staff(principal) or any(principal.is_partner(p) for p in (award.recipient_partner_id, *award.party_ids)),
            f"award {award.award_id} is not yours",
        )

    async def own_application(principal: Principal, application_id: str) -> None:
        loaded = await application_cases.get(repos, application_id)
        forbid_unless(
            principal.is_partner(loaded.item.applicant_partner_id), f"application {application_id} is not yours"
        )

    # --- programmes ------------------------------------------------------------------------

    @router.post("/programmes", status_code=201, tags=["programmes"], summary="Draft a fund programme")
    async def create_programme(body: ProgrammeIn, response: Response, _: Officer) -> Programme:
        loaded = await programme_cases.create(repos, body.model_dump())
        set_etag(response, loaded.version)
        return loaded.item

    @router.get("/programmes", tags=["programmes"], summary="List programmes (cursor pages)")
    async def list_programmes(_: Anyone, cursor: Cursor = None, limit: Limit = 50) -> ProgrammePage:
        page = await paginate(repos.programmes.store, {}, limit=limit, cursor=cursor)
        return ProgrammePage(
            items=[repos.programmes.from_snapshot(s).item for s in page.items], next_cursor=page.next_cursor
        )

    @router.get("/programmes/{programme_id}", tags=["programmes"], summary="One programme")
    async def get_programme(programme_id: str, response: Response, _: Anyone) -> Programme:
        loaded = await programme_cases.get(repos, programme_id)
        set_etag(response, loaded.version)
        return loaded.item

    @router.put("/programmes/{programme_id}", tags=["programmes"], summary="Revise a draft programme")
    async def revise_programme(
        programme_id: str, body: ProgrammeRevisionIn, request: Request, response: Response, _: Officer
    ) -> Programme:
        loaded = await programme_cases.revise(
            repos, programme_id, expected_version(request), body.model_dump(exclude_unset=True)
        )
        set_etag(response, loaded.version)
        return loaded.item

    @router.post(
        "/programmes/{programme_id}/open", tags=["programmes"], summary="Open a programme: appropriate its budget"
    )
    async def open_programme(programme_id: str, request: Request, response: Response, principal: Officer) -> Programme:
        loaded = await programme_cases.open_programme(repos, programme_id, expected_version(request), principal.subject)
        set_etag(response, loaded.version)
        return loaded.item

    @router.post("/programmes/{programme_id}/close", tags=["programmes"], summary="Stop taking applications")
    async def close_programme(
        programme_id: str, body: ReasonIn, request: Request, response: Response, principal: Officer
    ) -> Programme:
        loaded = await programme_cases.close(
            repos, programme_id, expected_version(request), body.reason, principal.subject
        )
        set_etag(response, loaded.version)
        return loaded.item

    @router.post(
        "/programmes/{programme_id}/finalise", tags=["programmes"], summary="Close the books (nothing in flight)"
    )
    async def finalise_programme(
        programme_id: str, request: Request, response: Response, principal: Officer
    ) -> Programme:
        loaded = await programme_cases.finalise(repos, programme_id, expected_version(request), principal.subject)
        set_etag(response, loaded.version)
        return loaded.item

    @router.get(
        "/programmes/{programme_id}/ledger", tags=["ledger"], summary="The programme's book: balances and figures"
    )
    async def get_ledger(programme_id: str, _: Staff) -> LedgerOut:
        await programme_cases.get(repos, programme_id)
        book, version = await ledger.book_of(repos, programme_id)
        execution = await programme_cases.figures(repos, programme_id)
        return LedgerOut(
            programme_id=programme_id,
            version=version,
            currency=book.currency,
            balances=dict(sorted(book.balances.items())),
            execution=execution,
        )

    @router.get(
        "/programmes/{programme_id}/ledger/journal", tags=["ledger"], summary="The append-only journal of the book"
    )
    async def get_journal(programme_id: str, _: Staff) -> list[JournalLine]:
        await programme_cases.get(repos, programme_id)
        return [
            JournalLine(ledger_version=version, **entry.model_dump())
            for version, entry in await ledger.journal(repos, programme_id)
        ]

    @router.get(
        "/programmes/{programme_id}/ledger/verify",
        tags=["ledger"],
        summary="Recompute every balance from the journal and report any difference",
    )
    async def verify_ledger(programme_id: str, _: Staff) -> VerifyOut:
        await programme_cases.get(repos, programme_id)
        result = await ledger.verify_book(repos, programme_id)
        awards = await reports.awards_in_sync(repos, programme_id, result["stored_balances"])
        return VerifyOut(**result, awards=awards)

    # --- applications ----------------------------------------------------------------------

    @router.post("/applications", status_code=201, tags=["applications"], summary="Draft an application")
    async def create_application(body: ApplicationIn, response: Response, principal: Applicant) -> Application:
        loaded = await application_cases.create(
            repos,
            partner_of(principal),
            programme_id=body.programme_id,
            agreement_id=body.agreement_id,
            requested_minor=body.requested_minor,
            cofunding_minor=body.cofunding_minor,
            budget_lines=body.budget_lines,
        )
        set_etag(response, loaded.version)
        return loaded.item

    @router.get("/applications", tags=["applications"], summary="Applications, cursor pages (partners: own only)")
    async def list_applications(
        principal: Anyone,
        programme_id: Annotated[str | None, Query(max_length=100)] = None,
        cursor: Cursor = None,
        limit: Limit = 50,
    ) -> ApplicationPage:
        query: dict[str, Any] = {"programme_id": programme_id} if programme_id else {}
        if not is_staff(principal):
            query["applicant_partner_id"] = partner_of(principal)
        page = await paginate(repos.applications.store, query, limit=limit, cursor=cursor)
        return ApplicationPage(
            items=[repos.applications.from_snapshot(s).item for s in page.items], next_cursor=page.next_cursor
        )

    @router.get("/applications/{application_id}", tags=["applications"], summary="One application")
    async def get_application(application_id: str, response: Response, principal: Anyone) -> Application:
        loaded = await application_cases.get(repos, application_id)
        check_application_reader(principal, loaded.item)
        set_etag(response, loaded.version)
        return loaded.item

    @router.put(
        "/applications/{application_id}", tags=["applications"], summary="Revise a draft or returned application"
    )
    async def revise_application(
        application_id: str, body: ApplicationRevisionIn, request: Request, response: Response, principal: Applicant
    ) -> Application:
        await own_application(principal, application_id)
        loaded = await application_cases.revise(
            repos,
            application_id,
            expected_version(request),
            requested_minor=body.requested_minor,
            cofunding_minor=body.cofunding_minor,
            budget_lines=body.budget_lines,
        )
        set_etag(response, loaded.version)
        return loaded.item

    @router.post(
        "/applications/{application_id}/submit",
        tags=["applications"],
        summary="Submit: eligibility is checked from the read models, each failed rule named",
    )
    async def submit_application(
        application_id: str, request: Request, response: Response, principal: Applicant
    ) -> Application:
        await own_application(principal, application_id)
        loaded = await application_cases.submit(repos, application_id, expected_version(request), principal.subject)
        set_etag(response, loaded.version)
        return loaded.item

    @router.post("/applications/{application_id}/withdraw", tags=["applications"], summary="Withdraw an application")
    async def withdraw_application(
        application_id: str, body: OptionalReasonIn, request: Request, response: Response, principal: Applicant
    ) -> Application:
        await own_application(principal, application_id)
        loaded = await application_cases.withdraw(
            repos, application_id, expected_version(request), body.reason, principal.subject
        )
        set_etag(response, loaded.version)
        return loaded.item

    @router.post("/applications/{application_id}/review", tags=["review"], summary="Start reviewing a submission")
    async def start_review(application_id: str, request: Request, response: Response, _: Officer) -> Application:
        loaded = await application_cases.start_review(repos, application_id, expected_version(request))
        set_etag(response, loaded.version)
        return loaded.item

    @router.post(
        "/applications/{application_id}/decision",
        tags=["review"],
        summary="Approve (commits the money and grants the award), reject or return, with a reason",
    )
    async def decide_application(
        application_id: str, body: DecisionIn, request: Request, response: Response, principal: Officer
    ) -> Application:
        loaded = await application_cases.decide(
            repos,
            application_id,
            expected_version(request),
            decision=body.decision,
            reason=body.reason,
            approved_minor=body.approved_minor,
            actor_id=principal.subject,
        )
        set_etag(response, loaded.version)
        return loaded.item

    @router.post(
        "/applications/{application_id}/award",
        tags=["awards"],
        summary="Grant the award of an approved application (idempotent; repairs an interrupted approval)",
    )
    async def ensure_award(application_id: str, response: Response, principal: Officer) -> Award:
        loaded = await award_cases.ensure_award(repos, application_id, principal.subject)
        set_etag(response, loaded.version)
        return loaded.item

    # --- awards and tranches --------------------------------------------------------------

    @router.get("/awards", tags=["awards"], summary="Awards, cursor pages (partners: only their own)")
    async def list_awards(
        principal: Anyone,
        programme_id: Annotated[str | None, Query(max_length=100)] = None,
        cursor: Cursor = None,
        limit: Limit = 50,
    ) -> AwardPage:
        query: dict[str, Any] = {"programme_id": programme_id} if programme_id else {}
        if not is_staff(principal):
            query["party_ids"] = partner_of(principal)
        page = await paginate(repos.awards.store, query, limit=limit, cursor=cursor)
        return AwardPage(items=[repos.awards.from_snapshot(s).item for s in page.items], next_cursor=page.next_cursor)

    @router.get("/awards/{award_id}", tags=["awards"], summary="One award with its tranches and recoveries")
    async def get_award(award_id: str, response: Response, principal: Anyone) -> Award:
        loaded = await award_cases.get(repos, award_id)
        check_award_reader(principal, loaded.item)
        set_etag(response, loaded.version)
        return loaded.item

    @router.get(
        "/awards/{award_id}/money-history",
        tags=["reports"],
        summary="Every ledger entry of the award (JSON, CSV or XLSX)",
        responses=REPORT_RESPONSES,
    )
    async def money_history(award_id: str, principal: Anyone, format: Format = "json") -> Response:
        award = (await award_cases.get(repos, award_id)).item
        check_award_reader(principal, award)
        return render(await reports.money_history_table(repos, award), format, f"money-history-{award_id}")

    async def award_step(
        request: Request, response: Response, award_id: str, change: Any, action: str, details: dict[str, Any]
    ) -> Award:
        loaded = await award_cases.act(repos, award_id, expected_version(request), change, action, details)
        set_etag(response, loaded.version)
        return loaded.item

    @router.post(
        "/awards/{award_id}/tranches/{tranche_id}/release",
        tags=["tranches"],
        summary="Release a tranche whose condition is manual",
    )
    async def release_tranche(
        award_id: str, tranche_id: str, request: Request, response: Response, principal: Officer
    ) -> Award:
        now = datetime.now(UTC)
        return await award_step(
            request,
            response,
            award_id,
            lambda a: a.release_manually(tranche_id, now, principal.subject),
            "tranche.released",
            {"tranche_id": tranche_id},
        )

    @router.post(
        "/awards/{award_id}/tranches/{tranche_id}/request",
        tags=["tranches"],
        summary="Prepare the disbursement of an eligible tranche (the maker)",
    )
    async def request_tranche(
        award_id: str, tranche_id: str, request: Request, response: Response, principal: Officer
    ) -> Award:
        now = datetime.now(UTC)
        return await award_step(
            request,
            response,
            award_id,
            lambda a: a.request_tranche(tranche_id, now, principal.subject),
            "tranche.requested",
            {"tranche_id": tranche_id},
        )

    @router.post(
        "/awards/{award_id}/tranches/{tranche_id}/approve",
        tags=["tranches"],
        summary="Approve a prepared tranche (the checker: never its preparer); partial with a reason",
    )
    async def approve_tranche(
        award_id: str,
        tranche_id: str,
        body: ApproveTrancheIn,
        request: Request,
        response: Response,
        principal: Approver,
    ) -> Award:
        now = datetime.now(UTC)

        def change(award: Award) -> None:
            tranche = award.tranche(tranche_id)
            award.approve_tranche(
                tranche_id,
                approved_minor=body.approved_minor or tranche.scheduled_minor,
                release_remainder=body.release_remainder,
                reason=body.reason,
                now=now,
                approver_id=principal.subject,
            )

        return await award_step(
            request, response, award_id, change, "tranche.approved", {"tranche_id": tranche_id, **body.model_dump()}
        )

    @router.post(
        "/awards/{award_id}/tranches/{tranche_id}/payment",
        tags=["tranches"],
        summary="Confirm the bank paid an approved tranche",
    )
    async def confirm_payment(
        award_id: str, tranche_id: str, body: PaymentIn, request: Request, response: Response, principal: Officer
    ) -> Award:
        now = datetime.now(UTC)
        return await award_step(
            request,
            response,
            award_id,
            lambda a: a.confirm_payment(tranche_id, body.bank_reference, now, principal.subject),
            "tranche.paid",
            {"tranche_id": tranche_id, "bank_reference": body.bank_reference},
        )

    @router.post(
        "/awards/{award_id}/terminate",
        tags=["awards"],
        summary="Terminate: void what is committed, optionally order recovery of what was paid",
    )
    async def terminate_award(
        award_id: str, body: TerminateIn, request: Request, response: Response, principal: Officer
    ) -> Award:
        now = datetime.now(UTC)
        return await award_step(
            request,
            response,
            award_id,
            lambda a: a.terminate(
                reason=body.reason,
                now=now,
                actor_id=principal.subject,
                recovery_id=body.recovery_id,
                recovery_minor=body.recovery_minor,
                recovery_due_at=body.recovery_due_at,
            ),
            "award.terminated",
            body.model_dump(mode="json"),
        )

    @router.post("/awards/{award_id}/recoveries", tags=["recoveries"], summary="Order recovery of paid money")
    async def order_recovery(
        award_id: str, body: RecoveryIn, request: Request, response: Response, principal: Officer
    ) -> Award:
        now = datetime.now(UTC)
        return await award_step(
            request,
            response,
            award_id,
            lambda a: a.order_recovery(
                recovery_id=body.recovery_id,
                amount_minor=body.amount_minor,
                reason=body.reason,
                due_at=body.due_at,
                now=now,
                actor_id=principal.subject,
            ),
            "recovery.ordered",
            body.model_dump(mode="json"),
        )

    @router.post(
        "/awards/{award_id}/recoveries/{recovery_id}/settlements",
        tags=["recoveries"],
        summary="Settle a recovery by repayment (bank reference) or by offset against an approved tranche",
    )
    async def settle_recovery(
        award_id: str, recovery_id: str, body: SettlementIn, request: Request, response: Response, principal: Officer
    ) -> Award:
        now = datetime.now(UTC)

        def change(award: Award) -> None:
            if body.method is SettlementMethod.REPAYMENT:
                award.settle_by_repayment(
                    recovery_id=recovery_id,
                    settlement_id=body.settlement_id,
                    amount_minor=body.amount_minor,
                    bank_reference=body.bank_reference or "",
                    now=now,
                    actor_id=principal.subject,
                )
            else:
                if not body.tranche_id:
                    raise DomainError("recovery.tranche_required", "an offset names the tranche it is taken from")
                award.settle_by_offset(
                    recovery_id=recovery_id,
                    settlement_id=body.settlement_id,
                    tranche_id=body.tranche_id,
                    amount_minor=body.amount_minor,
                    now=now,
                    actor_id=principal.subject,
                )

        return await award_step(
            request, response, award_id, change, "recovery.settled", {"recovery_id": recovery_id, **body.model_dump()}
        )

    # --- surcharge credit ------------------------------------------------------------------

    @router.post(
        "/surcharge-credit-statements",
        status_code=201,
        tags=["surcharge credit"],
        summary="Compute (or recompute) an enterprise's education-surcharge credit statement for a year",
    )
    async def compute_statement(body: StatementIn, principal: Officer) -> StoredStatement:
        loaded = await surcharge.compute(
            repos,
            enterprise_id=body.enterprise_id,
            year=body.year,
            investments=body.investments,
            education_surcharge_due_minor=body.education_surcharge_due_minor,
            local_education_surcharge_due_minor=body.local_education_surcharge_due_minor,
            rates=settings.surcharge_credit_rates,
            actor_id=principal.subject,
        )
        return loaded.item

    @router.get(
        "/surcharge-credit-statements/{enterprise_id}/{year}",
        tags=["surcharge credit"],
        summary="An enterprise's statement for a year",
    )
    async def get_statement(enterprise_id: str, year: int, principal: StatementReader) -> StoredStatement:
        forbid_unless(
            principal.has_any(OFFICER, AUDITOR) or principal.is_partner(enterprise_id),
            f"the statement of {enterprise_id} is not yours",
        )
        loaded = await repos.statements.get(statement_key(enterprise_id, year))
        if loaded is None:
            raise NotFound("statement.not_found", f"no statement for {enterprise_id} in {year}")
        return loaded.item

    # --- reports ---------------------------------------------------------------------------

    @router.get(
        "/reports/budget-execution",
        tags=["reports"],
        summary="Budget execution per programme, region or cooperation mode (JSON, CSV or XLSX)",
        responses=REPORT_RESPONSES,
    )
    async def budget_execution_report(
        _: Staff,
        by: Annotated[Literal["programme", "region", "mode"], Query()] = "programme",
        format: Format = "json",
    ) -> Response:
        return render(await reports.budget_execution_table(repos, by), format, f"budget-execution-by-{by}")

    @router.get(
        "/reports/tranche-pipeline",
        tags=["reports"],
        summary="Tranches waiting, for whom and for how long (JSON, CSV or XLSX)",
        responses=REPORT_RESPONSES,
    )
    async def tranche_pipeline_report(
        _: Staff, programme_id: Annotated[str | None, Query(max_length=100)] = None, format: Format = "json"
    ) -> Response:
        return render(await reports.tranche_pipeline_table(repos, programme_id), format, "tranche-pipeline")

    return router
