"""Funding: programmes, the application queue, awards and their tranche pipeline, the
approval queue (maker-checker is the funding service's rule; the page shows its answer),
budget execution with its chart and downloads."""

from __future__ import annotations

import asyncio
import csv
import io
import re
import uuid
from datetime import UTC, date, datetime, time, timedelta
from typing import Any
from urllib.parse import quote

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from starlette.datastructures import FormData

from alliance_console.api import Api, ApiError, eligibility_messages, items_of
from alliance_console.i18n import TIME_ZONE, _
from alliance_console.pages.common import (
    FormInvalid,
    act,
    agreement_titles,
    amount,
    award_names,
    integer,
    partner_names,
    text,
)
from alliance_console.web import render, require
from alliance_shared.tables import Table
from alliance_shared.web.exports import render_table

router = APIRouter(prefix="/funding")

STAFF = ("funding_officer", "funding_approver", "auditor")
OFFICER = ("funding_officer",)
PAGE_SIZE = 20
#: Applications the officer still decides: their queue rows show eligibility now.
AWAITING_DECISION = ("submitted", "under_review")
TEMPLATE_ROWS = 3
WHOLE_NUMBER = re.compile(r"-?[0-9]+")
RELEASES = ("on_award", "manual", "mid_term", "annual", "final_acceptance")


def start_of(day_text: str, field: str) -> str:
    """A day typed by the person as the start of that day, China time, ISO 8601."""
    try:
        day = date.fromisoformat(day_text)
    except ValueError:
        raise FormInvalid(field, _("Enter a date.")) from None
    return datetime.combine(day, time(0, 0), tzinfo=TIME_ZONE).astimezone(UTC).isoformat()


def release_of(kind: str) -> dict[str, Any]:
    if kind in ("on_award", "manual"):
        return {"kind": kind}
    return {"kind": "evaluation", "cycle_kind": kind, "min_grade": "pass"}


def programme_body(form: FormData) -> dict[str, Any]:
    template = []
    for row in range(1, TEMPLATE_ROWS + 1):
        name = text(form, f"t{row}_name")
        if not name:
            continue
        template.append(
            {
                "name": name,
                "share_bp": integer(form, f"t{row}_share") * 100,
                "release": release_of(text(form, f"t{row}_release") or "manual"),
            }
        )
    return {
        "name": text(form, "name"),
        "fiscal_year": integer(form, "fiscal_year"),
        "appropriated_minor": amount(form, "appropriated"),
        "opens_at": start_of(text(form, "opens_on"), "opens_on"),
        "closes_at": start_of(text(form, "closes_on"), "closes_on"),
        "eligibility": {
            "lead_partner_kinds": form.getlist("lead_kinds"),
            "require_certified_enterprise": form.get("require_certified_enterprise") == "on",
            "require_active_agreement": form.get("require_active_agreement") == "on",
            "region_prefix": text(form, "region_prefix") or None,
        },
        "award_cap_minor": amount(form, "award_cap"),
        "min_cofunding_bp": integer(form, "min_cofunding_pct") * 100,
        "tranche_template": template,
    }


@router.get("/programmes", include_in_schema=False)
async def programmes(request: Request, cursor: str | None = None) -> HTMLResponse:
    person, api = require(request, *STAFF)
    items, next_cursor = items_of(await api.get("funding", "/programmes", cursor=cursor, limit=PAGE_SIZE))
    today = date.today()
    return render(
        request,
        "funding/programmes.html",
        programmes=items,
        next_cursor=next_cursor,
        can_create=person.has(*OFFICER),
        defaults={
            "fiscal_year": str(today.year),
            "opens_on": today.isoformat(),
            "closes_on": date(today.year, 12, 31).isoformat(),
        },
        template_rows=range(1, TEMPLATE_ROWS + 1),
        releases=RELEASES,
    )


@router.post("/programmes", include_in_schema=False)
async def create_programme(request: Request) -> RedirectResponse:
    _person, api = require(request, *OFFICER)

    async def call(form: FormData) -> None:
        await api.post("funding", "/programmes", programme_body(form))

    return await act(request, "programme", "/funding/programmes", call, _("Programme drafted."))


@router.get("/programmes/{programme_id}", include_in_schema=False)
async def programme(request: Request, programme_id: str) -> HTMLResponse:
    person, api = require(request, *STAFF)
    found = await api.get("funding", f"/programmes/{programme_id}")
    verify: dict[str, Any] | None
    try:
        verify = await api.get("funding", f"/programmes/{programme_id}/ledger/verify")
    except ApiError as error:
        verify = {"error": error.message}
    return render(request, "funding/programme.html", programme=found, verify=verify, can_act=person.has(*OFFICER))


@router.post("/programmes/{programme_id}/open", include_in_schema=False)
async def open_programme(request: Request, programme_id: str) -> RedirectResponse:
    _person, api = require(request, *OFFICER)

    async def call(form: FormData) -> None:
        await api.post("funding", f"/programmes/{programme_id}/open", version=text(form, "version"))

    return await act(request, "open", f"/funding/programmes/{programme_id}", call, _("Programme opened."))


@router.post("/programmes/{programme_id}/close", include_in_schema=False)
async def close_programme(request: Request, programme_id: str) -> RedirectResponse:
    _person, api = require(request, *OFFICER)

    async def call(form: FormData) -> None:
        body = {"reason": text(form, "reason")}
        await api.post("funding", f"/programmes/{programme_id}/close", body, version=text(form, "version"))

    return await act(request, "close", f"/funding/programmes/{programme_id}", call, _("Programme closed."))


@router.get("/applications", include_in_schema=False)
async def applications(request: Request, programme_id: str | None = None, cursor: str | None = None) -> HTMLResponse:
    person, api = require(request, *STAFF)
    page = await api.get("funding", "/applications", programme_id=programme_id, cursor=cursor, limit=PAGE_SIZE)
    items, next_cursor = items_of(page)
    # Eligibility as funding judges it now, for those still to be decided (the console decides nothing).
    waiting = [str(a["application_id"]) for a in items if a.get("status") in AWAITING_DECISION]
    judged, applicants, titles = await asyncio.gather(
        api.get_each("funding", [f"/applications/{waiting_id}/eligibility" for waiting_id in waiting]),
        partner_names(api, [str(a.get("applicant_partner_id")) for a in items]),
        agreement_titles(api, [str(a.get("agreement_id")) for a in items]),
    )
    return render(
        request,
        "funding/applications.html",
        applications=items,
        next_cursor=next_cursor,
        programme_id=programme_id or "",
        can_decide=person.has(*OFFICER),
        eligibility={application_id: found for application_id, found in zip(waiting, judged, strict=True) if found},
        rule_names=eligibility_messages(),
        applicants=applicants,
        titles=titles,
    )


@router.post("/applications/{application_id}/review", include_in_schema=False)
async def review(request: Request, application_id: str) -> RedirectResponse:
    _person, api = require(request, *OFFICER)

    async def call(form: FormData) -> None:
        await api.post("funding", f"/applications/{application_id}/review", version=text(form, "version"))

    return await act(request, f"decide-{application_id}", "/funding/applications", call, _("Review started."))


@router.post("/applications/{application_id}/decision", include_in_schema=False)
async def decide(request: Request, application_id: str) -> RedirectResponse:
    _person, api = require(request, *OFFICER)

    async def call(form: FormData) -> None:
        decision = text(form, "decision")
        body: dict[str, Any] = {"decision": decision, "reason": text(form, "reason")}
        if decision == "approve":
            body["approved_minor"] = amount(form, "approved", required=False)
        await api.post("funding", f"/applications/{application_id}/decision", body, version=text(form, "version"))

    return await act(request, f"decide-{application_id}", "/funding/applications", call, _("Decision recorded."))


@router.get("/awards", include_in_schema=False)
async def awards(request: Request, programme_id: str | None = None, cursor: str | None = None) -> HTMLResponse:
    _person, api = require(request, *STAFF)
    page = await api.get("funding", "/awards", programme_id=programme_id, cursor=cursor, limit=PAGE_SIZE)
    items, next_cursor = items_of(page)
    return render(
        request,
        "funding/awards.html",
        awards=items,
        next_cursor=next_cursor,
        detail_prefix="/funding/awards/",
        recipients=await partner_names(api, [str(a.get("recipient_partner_id")) for a in items]),
    )


@router.get("/awards/{award_id}", include_in_schema=False)
async def award(request: Request, award_id: str) -> HTMLResponse:
    person, api = require(request, *STAFF)
    found = await api.get("funding", f"/awards/{award_id}")
    return render(request, "funding/award.html", award=found, me=person.sub, can_prepare=person.has(*OFFICER),
                  **await award_names(api, found),
                  can_approve=person.has("funding_approver"), recovery_id=fresh_id("rec"),
                  settlement_id=fresh_id("stl"), due_default=(date.today() + timedelta(days=30)).isoformat(),
                  offset_tranches=[t for t in found.get("tranches", []) if t.get("status") == "approved"])  # fmt: skip


def fresh_id(prefix: str) -> str:
    """A new id for an operation the funding service refuses twice (one per form shown)."""
    return f"{prefix}-{uuid.uuid4().hex[:10]}"


def due_at(form: FormData, key: str) -> str:
    """The end of a day typed by the person, China time, ISO 8601."""
    try:
        due = date.fromisoformat(text(form, key))
    except ValueError:
        raise FormInvalid(key, _("Enter a date.")) from None
    return datetime.combine(due, time(23, 59), tzinfo=TIME_ZONE).astimezone(UTC).isoformat()


@router.post("/awards/{award_id}/recoveries", include_in_schema=False)
async def order_recovery(request: Request, award_id: str) -> RedirectResponse:
    """The officer orders recovery of paid money; whether it may be recovered is funding's decision."""
    _person, api = require(request, *OFFICER)

    async def call(form: FormData) -> None:
        body = {
            # A fresh id per form: the funding service refuses the same recovery twice.
            "recovery_id": text(form, "recovery_id"),
            "amount_minor": amount(form, "amount"),
            "reason": text(form, "reason"),
            "due_at": due_at(form, "due_on"),
        }
        await api.post("funding", f"/awards/{award_id}/recoveries", body, version=text(form, "version"))

    return await act(request, "recovery", f"/funding/awards/{award_id}", call, _("Recovery proposed or ordered."))


@router.post("/awards/{award_id}/recoveries/{recovery_id}/settlements", include_in_schema=False)
async def settle_recovery(request: Request, award_id: str, recovery_id: str) -> RedirectResponse:
    """The officer records a repayment (bank reference) or an offset against an approved tranche."""
    _person, api = require(request, *OFFICER)

    async def call(form: FormData) -> None:
        method = text(form, "method")
        body: dict[str, Any] = {
            "settlement_id": text(form, "settlement_id"),
            "method": method,
            "amount_minor": amount(form, "amount"),
        }
        if method == "offset":
            body["tranche_id"] = text(form, "tranche_id") or None
        else:
            body["bank_reference"] = text(form, "bank_reference") or None
        path = f"/awards/{award_id}/recoveries/{recovery_id}/settlements"
        await api.post("funding", path, body, version=text(form, "version"))

    return await act(request, f"settle-{recovery_id}", f"/funding/awards/{award_id}", call, _("Settlement recorded."))


@router.post("/awards/{award_id}/recoveries/{recovery_id}/write-off", include_in_schema=False)
async def propose_write_off(request: Request, award_id: str, recovery_id: str) -> RedirectResponse:
    """The officer proposes writing off what is outstanding; a second person approves it."""
    _person, api = require(request, *OFFICER)

    async def call(form: FormData) -> None:
        path = f"/awards/{award_id}/recoveries/{recovery_id}/write-off"
        await api.post("funding", path, {"reason": text(form, "reason")}, version=text(form, "version"))

    done = _("Write-off proposed: a second person approves it.")
    return await act(request, f"write-off-{recovery_id}", f"/funding/awards/{award_id}", call, done)


@router.post("/awards/{award_id}/recoveries/{recovery_id}/write-off/approve", include_in_schema=False)
async def approve_write_off(request: Request, award_id: str, recovery_id: str) -> RedirectResponse:
    _person, api = require(request, "funding_approver")

    async def call(form: FormData) -> None:
        path = f"/awards/{award_id}/recoveries/{recovery_id}/write-off/approve"
        await api.post("funding", path, version=text(form, "version"))

    done = _("Write-off approved: the recovery is closed.")
    return await act(request, f"write-off-{recovery_id}", "/funding/approvals", call, done)


@router.post("/awards/{award_id}/terminate", include_in_schema=False)
async def propose_termination(request: Request, award_id: str) -> RedirectResponse:
    """The officer proposes terminating the award (optionally recovering paid money); a
    second person approves it — who may is the funding service's decision."""
    _person, api = require(request, *OFFICER)

    async def call(form: FormData) -> None:
        body: dict[str, Any] = {"reason": text(form, "reason")}
        recover = amount(form, "recovery_amount", required=False)
        if recover:
            body.update(recovery_id=text(form, "recovery_id"), recovery_minor=recover,
                        recovery_due_at=due_at(form, "recovery_due_on"))  # fmt: skip
        await api.post("funding", f"/awards/{award_id}/terminate", body, version=text(form, "version"))

    return await act(
        request,
        "terminate",
        f"/funding/awards/{award_id}",
        call,
        _("Termination proposed: a second person approves it."),
    )


@router.post("/awards/{award_id}/terminate/approve", include_in_schema=False)
async def approve_termination(request: Request, award_id: str) -> RedirectResponse:
    _person, api = require(request, "funding_approver")

    async def call(form: FormData) -> None:
        await api.post("funding", f"/awards/{award_id}/terminate/approve", version=text(form, "version"))

    back = text(await request.form(), "back")
    back_to = "/funding/approvals" if back == "/funding/approvals" else f"/funding/awards/{award_id}"
    return await act(
        request, f"terminate-{award_id}", back_to, call, _("Termination approved: the award is terminated.")
    )


def tranche_done(step: str) -> str:
    return {
        "request": _("Tranche prepared and sent for approval."),
        "approve": _("Tranche approved."),
        "payment": _("Payment recorded."),
        "release-remainder": _("Remainder released to the programme."),
    }[step]


def tranche_action(step: str) -> Any:
    async def handler(request: Request, award_id: str, tranche_id: str) -> RedirectResponse:
        role = "funding_approver" if step in ("approve", "release-remainder") else "funding_officer"
        _person, api = require(request, role)

        async def call(form: FormData) -> None:
            body: dict[str, Any] | None = None
            if step == "payment":
                body = {"bank_reference": text(form, "bank_reference")}
            elif step == "approve":
                # Less than scheduled is a partial approval; the service asks for its reason.
                body = {
                    "approved_minor": amount(form, "approved", required=False),
                    "reason": text(form, "reason") or None,
                    "release_remainder": form.get("release_remainder") == "on",
                }
            path = f"/awards/{award_id}/tranches/{tranche_id}/{step}"
            await api.post("funding", path, body, version=text(form, "version"))

        back_to = text(await request.form(), "back") or f"/funding/awards/{award_id}"
        if not back_to.startswith("/funding/"):
            back_to = f"/funding/awards/{award_id}"
        return await act(request, f"tranche-{tranche_id}", back_to, call, tranche_done(step))

    return handler


async def all_awards(api: Api) -> list[dict[str, Any]]:
    """Every award with its tranches (the approval queue needs each award's tranche list)."""
    found: list[dict[str, Any]] = []
    cursor: str | None = None
    while True:
        items, cursor = items_of(await api.get("funding", "/awards", cursor=cursor, limit=200))
        found.extend(items)
        if not cursor:
            return found


@router.get("/approvals", include_in_schema=False)
async def approvals(request: Request) -> HTMLResponse:
    person, api = require(request, "funding_approver")
    queue = []
    recoveries = []
    terminations = []
    write_offs = []
    for summary in await all_awards(api):
        tranches = summary.get("tranches")
        award_doc = summary if tranches is not None else await api.get("funding", f"/awards/{summary['award_id']}")
        for tranche in award_doc.get("tranches", []):
            if tranche.get("status") == "requested":
                queue.append({"award": award_doc, "tranche": tranche, "mine": tranche.get("prepared_by") == person.sub})
        termination = award_doc.get("proposed_termination")
        if termination and award_doc.get("status") == "active":
            terminations.append(
                {"award": award_doc, "termination": termination, "mine": termination.get("proposed_by") == person.sub}
            )
        for recovery in award_doc.get("recoveries") or []:
            proposed = recovery.get("proposed_write_off")
            if proposed:
                write_offs.append({"award": award_doc, "recovery": recovery, "write_off": proposed,
                                   "mine": proposed.get("proposed_by") == person.sub})  # fmt: skip
        for proposal in award_doc.get("proposed_recoveries") or []:
            recoveries.append(
                {"award": award_doc, "recovery": proposal, "mine": proposal.get("proposed_by") == person.sub}
            )
    return render(
        request, "funding/approvals.html", queue=queue, grants=await awards_to_grant(api, person.sub),
        recoveries=recoveries, terminations=terminations, write_offs=write_offs,
    )  # fmt: skip


async def awards_to_grant(api: Api, me: str) -> list[dict[str, Any]]:
    """Approved applications whose award a second person must still grant (funding asks for
    it when its applications carry ``award_approved_by``; otherwise the award is granted on approval)."""
    found: list[dict[str, Any]] = []
    cursor: str | None = None
    while True:
        items, cursor = items_of(await api.get("funding", "/applications", cursor=cursor, limit=200))
        found += [
            {**a, "mine": a.get("decided_by") == me}
            for a in items
            if a.get("status") == "approved" and "award_approved_by" in a and a["award_approved_by"] is None
        ]
        if not cursor:
            return found


@router.post("/applications/{application_id}/award", include_in_schema=False)
async def grant_award(request: Request, application_id: str) -> RedirectResponse:
    _person, api = require(request, "funding_approver")

    async def call(form: FormData) -> None:
        await api.post("funding", f"/applications/{application_id}/award")

    return await act(request, f"grant-{application_id}", "/funding/approvals", call, _("Award granted."))


@router.post("/awards/{award_id}/recoveries/{recovery_id}/approve", include_in_schema=False)
async def approve_recovery(request: Request, award_id: str, recovery_id: str) -> RedirectResponse:
    _person, api = require(request, "funding_approver")

    async def call(form: FormData) -> None:
        path = f"/awards/{award_id}/recoveries/{recovery_id}/approve"
        await api.post("funding", path, version=text(form, "version"))

    return await act(
        request, f"recovery-{recovery_id}", "/funding/approvals", call, _("Recovery approved: it is ordered.")
    )


@router.get("/budget", include_in_schema=False)
async def budget(request: Request) -> HTMLResponse:
    _person, api = require(request, *STAFF)
    report = await api.get("funding", "/reports/budget-execution", by="programme")
    rows = report.get("rows", []) if isinstance(report, dict) else report
    chart = {
        "categories": [str(r.get("programme_name") or r.get("name") or r.get("programme_id", "")) for r in rows],
        "series": [
            {"name": label, "data": [round(int(r.get(key) or 0) / 100, 2) for r in rows]}
            for key, label in (
                ("appropriated_minor", _("Appropriated")),
                ("committed_minor", _("Committed")),
                ("disbursed_minor", _("Disbursed")),
                ("paid_minor", _("Paid")),
            )
        ],
        "unit": _("yuan"),
    }
    return render(request, "funding/budget.html", rows=rows, chart_data=chart)


def export_header(column: str) -> str:
    """A column of the funding service's export in the person's language (amounts stay in fen)."""
    headers = {
        "programme_id": _("Programme id"), "name": _("Programme"), "fiscal_year": _("Fiscal year"),
        "status": _("Status"), "appropriated_minor": _("Appropriated (fen)"), "available_minor": _("Available (fen)"),
        "committed_minor": _("Committed (fen)"), "disbursed_minor": _("Disbursed (fen)"), "paid_minor": _("Paid (fen)"),
        "recovery_receivable_minor": _("Recovery receivable (fen)"), "recovered_minor": _("Recovered (fen)"),
        "execution_rate_bp": _("Execution rate (basis points)"),
    }  # fmt: skip
    return headers.get(column, column)


@router.get("/budget.{fmt}", include_in_schema=False)
async def budget_download(request: Request, fmt: str) -> Response:
    """The funding service's export with its headers translated; the rows are the service's as they are."""
    _person, api = require(request, *STAFF)
    if fmt not in ("csv", "xlsx"):
        return Response(status_code=404)
    answer = await api.raw("funding", "/reports/budget-execution", by="programme", format="csv")
    header, *rows = list(csv.reader(io.StringIO(answer.content.decode("utf-8-sig"))))
    table = Table(
        _("Budget execution"),
        [export_header(column) for column in header],
        [[int(cell) if WHOLE_NUMBER.fullmatch(cell) else cell for cell in row] for row in rows],
    )
    return render_table(table, "csv" if fmt == "csv" else "xlsx", "budget-execution")


for _step in ("request", "approve", "payment", "release-remainder"):
    router.add_api_route(
        f"/awards/{{award_id}}/tranches/{{tranche_id}}/{_step}",
        tranche_action(_step),
        methods=["POST"],
        include_in_schema=False,
    )


INVESTMENT_ROWS = 3


@router.get("/surcharge", include_in_schema=False)
async def surcharge(request: Request, enterprise_id: str | None = None, year: int | None = None) -> HTMLResponse:
    """An enterprise's education-surcharge credit statement for a year, as funding computed it."""
    person, api = require(request, *STAFF)
    found: dict[str, Any] | None = None
    if enterprise_id and year:
        try:
            found = await api.get("funding", f"/surcharge-credit-statements/{enterprise_id.strip()}/{year}")
        except ApiError as error:
            if error.status != 404:
                raise
    names = await partner_names(api, [str(found["enterprise_id"])] if found else [])
    return render(
        request, "funding/surcharge.html", found=found, searched=bool(enterprise_id and year), names=names,
        filters={"enterprise_id": enterprise_id or "", "year": year or date.today().year - 1},
        can_compute=person.has(*OFFICER), rows=range(INVESTMENT_ROWS),
    )  # fmt: skip


@router.post("/surcharge", include_in_schema=False)
async def compute_statement(request: Request) -> RedirectResponse:
    _person, api = require(request, *OFFICER)
    form = await request.form()
    enterprise_id, year = text(form, "enterprise_id"), text(form, "year")

    async def call(form: FormData) -> None:
        investments = []
        for n in range(INVESTMENT_ROWS):
            if not text(form, f"inv{n}_reference"):
                continue
            try:
                made_on = date.fromisoformat(text(form, f"inv{n}_made_on")).isoformat()
            except ValueError:
                raise FormInvalid(f"inv{n}_made_on", _("Enter a date.")) from None
            investments.append(
                {"reference": text(form, f"inv{n}_reference"), "made_on": made_on,
                 "amount_minor": amount(form, f"inv{n}_amount")}
            )  # fmt: skip
        body = {
            "enterprise_id": text(form, "enterprise_id"),
            "year": integer(form, "year"),
            "investments": investments,
            "education_surcharge_due_minor": amount(form, "education_due"),
            "local_education_surcharge_due_minor": amount(form, "local_due"),
        }
        await api.post("funding", "/surcharge-credit-statements", body)

    back = f"/funding/surcharge?enterprise_id={quote(enterprise_id)}&year={quote(year)}"
    return await act(request, "statement", back, call, _("Statement computed."))
