"""College and enterprise staff: their agreements, applications, awards, results,
rectification orders to answer, inbox (live) and webhook endpoints.

Every call carries the person's own token, so each service returns only what belongs to
their partner; the console adds no filter of its own that could widen or narrow that.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import date
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, RedirectResponse, StreamingResponse
from starlette.datastructures import FormData

from alliance_console.api import Api, ApiError, items_of
from alliance_console.i18n import _
from alliance_console.pages.common import (
    EXTRA_CONTACT_ROWS,
    FormInvalid,
    FrameworkVersions,
    act,
    agreement_titles,
    agreement_with_history,
    amount,
    award_names,
    framework_versions,
    indicator_names,
    partner_names,
    put_contacts,
    text,
)
from alliance_console.web import NotAllowed, Person, metric_label, render, require

router = APIRouter(prefix="/partner")

PARTY = ("college", "enterprise")
PAGE_SIZE = 20
BUDGET_CATEGORIES = ("equipment", "training_base_construction", "teacher_training", "student_subsidies", "rd", "other")


def partner_of(person: Person) -> str:
    return person.partner_id or ""


@router.get("/agreements", include_in_schema=False)
async def agreements(request: Request, cursor: str | None = None) -> HTMLResponse:
    person, api = require(request, *PARTY)
    page = await api.get("registry", "/agreements", party=partner_of(person), cursor=cursor, limit=PAGE_SIZE)
    items, next_cursor = items_of(page)
    return render(request, "partner/agreements.html", agreements=items, next_cursor=next_cursor,
                  detail_prefix="/partner/agreements/")  # fmt: skip


@router.get("/agreements/{agreement_id}", include_in_schema=False)
async def agreement(request: Request, agreement_id: str, year: int | None = None) -> HTMLResponse:
    """One of the partner's agreements: its terms and signatures (signing when asked), and
    each obligation's target against the evidence the evaluation service holds so far."""
    person, api = require(request, *PARTY)
    found, history = await agreement_with_history(api, agreement_id)
    if partner_of(person) not in [p.get("partner_id") for p in found.get("terms", {}).get("parties", [])]:
        raise NotAllowed()  # the registry lists any agreement to any reader; staff see their own here
    today = date.today()
    chosen = year if year and 2000 <= year <= today.year else today.year
    rows = await obligations_against_evidence(api, framework_versions(request), found, chosen, today)
    chart = {
        "categories": [row["label"] for row in rows],
        "series": [
            {"name": _("Target (as committed)"), "data": [row["target"] for row in rows]},
            {"name": _("Evidence so far"), "data": [row["evidence"] or 0 for row in rows]},
        ],
        "unit": "",
    }
    return render(
        request, "partner/agreement.html", agreement=found, history=history, rows=rows, chart_data=chart, year=chosen,
        years=list(range(today.year, today.year - 4, -1)), me=partner_of(person),
        may_sign=partner_of(person) in found.get("pending_party_ids", []),
        may_sign_amendment=partner_of(person) in found.get("amendment_pending_party_ids", []),
    )  # fmt: skip


async def obligations_against_evidence(
    api: Api, frameworks: FrameworkVersions, agreement_doc: dict[str, Any], year: int, today: date
) -> list[dict[str, Any]]:
    """Each obligation with the evaluation service's figure for the measure the current
    framework measures that obligation by, over ``year`` up to today. The console only
    puts the two side by side: judging them (pro-rating, grades) is evaluation's."""
    obligations = agreement_doc.get("terms", {}).get("obligations", [])
    if not obligations:
        return []
    measure_of: dict[str, str] = {}
    figures: dict[str, float | None] = {}
    try:
        summaries, _cursor = items_of(await api.get("evaluation", "/frameworks"))
        published = [f for f in summaries if f.get("status") == "published"]
        if published:
            newest = max(published, key=lambda f: (str(f.get("published_at") or ""), int(f.get("version", 0))))
            framework = await frameworks.get(api, str(newest["framework_id"]), int(newest["version"]))
            for indicator in framework.get("indicators", []):
                if indicator.get("target_obligation") and indicator.get("measure"):
                    measure_of.setdefault(str(indicator["target_obligation"]), str(indicator["measure"]))
        evidence = await api.get(
            "evaluation", f"/agreements/{agreement_doc['agreement_id']}/evidence",
            window_start=date(year, 1, 1).isoformat(), window_end=min(date(year, 12, 31), today).isoformat(),
        )  # fmt: skip
        for figure in evidence.get("figures", []):
            figures[str(figure.get("measure"))] = number(figure.get("value"))
    except ApiError:
        pass  # evaluation has not heard of the agreement yet: targets alone, no evidence
    return [
        {
            "obligation": o,
            "label": metric_label(o.get("metric")),
            "target": o.get("quantity", 0),
            "evidence": figures.get(measure_of.get(str(o.get("metric")), "")),
        }
        for o in obligations
    ]


def number(value: object) -> float | None:
    """A figure as the evaluation service wrote it (a decimal string), or None when unmeasured."""
    try:
        return round(float(str(value)), 2) if value is not None else None
    except ValueError:
        return None


@router.post("/agreements/{agreement_id}/sign", include_in_schema=False)
async def sign_agreement(request: Request, agreement_id: str) -> RedirectResponse:
    """Sign for one's own organisation (the registry checks it is a party still to sign)."""
    _person, api = require(request, *PARTY)

    async def call(form: FormData) -> None:
        await api.post("registry", f"/agreements/{agreement_id}/sign", {}, version=text(form, "version"))

    return await act(request, "sign", f"/partner/agreements/{agreement_id}", call, _("Signed for your organisation."))


@router.post("/agreements/{agreement_id}/amendment/sign", include_in_schema=False)
async def sign_amendment(request: Request, agreement_id: str) -> RedirectResponse:
    """Sign the pending amendment for the person's own organisation (the registry checks it is a party)."""
    _person, api = require(request, *PARTY)

    async def call(form: FormData) -> None:
        path = f"/agreements/{agreement_id}/amendments/sign"
        await api.post("registry", path, {}, version=text(form, "version"))

    back = f"/partner/agreements/{agreement_id}"
    return await act(request, "sign-amendment", back, call, _("Amendment signed for your organisation."))


@router.get("/applications", include_in_schema=False)
async def applications(request: Request, cursor: str | None = None) -> HTMLResponse:
    person, api = require(request, *PARTY)
    applications_page, programmes_page, mine_page = await asyncio.gather(
        api.get("funding", "/applications", cursor=cursor, limit=PAGE_SIZE),
        api.get("funding", "/programmes", limit=200),
        api.get("registry", "/agreements", party=partner_of(person), status="active", limit=200),
    )
    items, next_cursor = items_of(applications_page)
    programmes, _c = items_of(programmes_page)
    mine, _c2 = items_of(mine_page)
    return render(
        request, "partner/applications.html", applications=items, next_cursor=next_cursor,
        programmes=[p for p in programmes if p.get("status") == "open"], agreements=mine,
        programme_names={p.get("programme_id"): p.get("name") for p in programmes},
        categories=BUDGET_CATEGORIES,
    )  # fmt: skip


def application_body(form: FormData) -> dict[str, Any]:
    requested = amount(form, "requested")
    lines = []
    for row in (1, 2):
        category = text(form, f"line{row}_category")
        if category and text(form, f"line{row}_amount"):
            lines.append({"category": category, "amount_minor": amount(form, f"line{row}_amount")})
    if not text(form, "programme_id"):
        raise FormInvalid("programme_id", _("Choose a programme."))
    return {
        "programme_id": text(form, "programme_id"),
        "agreement_id": text(form, "agreement_id"),
        "requested_minor": requested,
        "cofunding_minor": amount(form, "cofunding"),
        "budget_lines": lines,
    }


@router.post("/applications", include_in_schema=False)
async def draft_application(request: Request) -> RedirectResponse:
    _person, api = require(request, *PARTY)

    async def call(form: FormData) -> None:
        await api.post("funding", "/applications", application_body(form))

    return await act(request, "application", "/partner/applications", call, _("Application drafted."))


@router.post("/applications/{application_id}/submit", include_in_schema=False)
async def submit_application(request: Request, application_id: str) -> RedirectResponse:
    _person, api = require(request, *PARTY)

    async def call(form: FormData) -> None:
        await api.post("funding", f"/applications/{application_id}/submit", version=text(form, "version"))

    return await act(request, f"submit-{application_id}", "/partner/applications", call, _("Application submitted."))


@router.get("/awards", include_in_schema=False)
async def awards(request: Request, cursor: str | None = None) -> HTMLResponse:
    _person, api = require(request, *PARTY)
    items, next_cursor = items_of(await api.get("funding", "/awards", cursor=cursor, limit=PAGE_SIZE))
    recipients = await partner_names(api, [str(a.get("recipient_partner_id")) for a in items])
    return render(request, "funding/awards.html", awards=items, next_cursor=next_cursor,
                  detail_prefix="/partner/awards/", recipients=recipients)  # fmt: skip


@router.get("/awards/{award_id}", include_in_schema=False)
async def award(request: Request, award_id: str) -> HTMLResponse:
    person, api = require(request, *PARTY)
    found = await api.get("funding", f"/awards/{award_id}")
    return render(request, "funding/award.html", award=found, me=person.sub, can_prepare=False, can_approve=False,
                  **await award_names(api, found))  # fmt: skip


@router.get("/results", include_in_schema=False)
async def results(request: Request) -> HTMLResponse:
    person, api = require(request, *PARTY)
    mine, _c = items_of(await api.get("registry", "/agreements", party=partner_of(person), limit=200))
    answers = await api.get_each("evaluation", [f"/agreements/{a['agreement_id']}/results" for a in mine])
    # None: evaluation has not evaluated (or not yet heard of) that agreement
    rows = [
        {"agreement": agreement, "result": entry}
        for agreement, found in zip(mine, answers, strict=True)
        if found is not None
        for entry in found.get("trend", [])
    ]
    return render(request, "partner/results.html", rows=rows, appeal_id=request.session.pop("appeal_id", None))


@router.post("/results/{result_id}/appeals", include_in_schema=False)
async def appeal(request: Request, result_id: str) -> RedirectResponse:
    _person, api = require(request, *PARTY)

    async def call(form: FormData) -> None:
        lodged = await api.post("evaluation", f"/results/{result_id}/appeals", {"grounds": text(form, "grounds")})
        request.session["appeal_id"] = lodged.get("appeal_id")

    return await act(request, f"appeal-{result_id}", "/partner/results", call, _("Appeal filed."))


@router.get("/rectifications", include_in_schema=False)
async def rectifications(request: Request, cursor: str | None = None) -> HTMLResponse:
    _person, api = require(request, *PARTY)
    orders_page, indicators = await asyncio.gather(
        api.get("evaluation", "/rectifications", cursor=cursor, limit=50),
        indicator_names(request, api),
    )
    items, next_cursor = items_of(orders_page)
    return render(
        request,
        "partner/rectifications.html",
        orders=items,
        next_cursor=next_cursor,
        titles=await agreement_titles(api, [str(o.get("agreement_id")) for o in items]),
        indicators=indicators,
    )


@router.post("/rectifications/{order_id}/response", include_in_schema=False)
async def respond(request: Request, order_id: str) -> RedirectResponse:
    _person, api = require(request, *PARTY)

    async def call(form: FormData) -> None:
        refs = [line.strip() for line in text(form, "evidence_refs").splitlines() if line.strip()]
        await api.post("evaluation", f"/rectifications/{order_id}/response", {"evidence_refs": refs},
                       version=text(form, "version"))  # fmt: skip

    return await act(request, f"respond-{order_id}", "/partner/rectifications", call, _("Response sent."))


@router.get("/inbox", include_in_schema=False)
async def inbox(request: Request, before: str | None = None) -> HTMLResponse:
    _person, api = require(request, *PARTY)
    page = await api.get("notifications", "/inbox", before=before, limit=PAGE_SIZE)
    items, next_cursor = items_of(page)
    return render(request, "partner/inbox.html", notices=items, next_cursor=next_cursor)


@router.get("/inbox/stream", include_in_schema=False)
async def inbox_stream(request: Request) -> StreamingResponse:
    """The notifications service's server-sent events, relayed with the person's token."""
    _person, api = require(request, *PARTY)
    client = request.app.state.clients["notifications"]

    async def relay() -> AsyncIterator[bytes]:
        headers = {"Authorization": f"Bearer {api.token}", "Accept": "text/event-stream"}
        async with client.stream("GET", "/inbox/stream", headers=headers, timeout=None) as upstream:
            async for chunk in upstream.aiter_raw():
                if await request.is_disconnected():
                    break
                yield chunk

    return StreamingResponse(relay(), media_type="text/event-stream", headers={"Cache-Control": "no-store"})


@router.get("/webhooks", include_in_schema=False)
async def webhooks(request: Request) -> HTMLResponse:
    person, api = require(request, *PARTY)
    found = await api.get("notifications", f"/partners/{partner_of(person)}/webhooks")
    items, _c = items_of(found)
    secret = request.session.pop("webhook_secret", None)
    return render(request, "partner/webhooks.html", endpoints=items, secret=secret)


@router.post("/webhooks", include_in_schema=False)
async def register_webhook(request: Request) -> RedirectResponse:
    person, api = require(request, *PARTY)

    async def call(form: FormData) -> None:
        created = await api.post(
            "notifications", f"/partners/{partner_of(person)}/webhooks", {"url": text(form, "url")}
        )
        # Shown once, on the next page only: the service will not show it again.
        request.session["webhook_secret"] = created.get("secret")

    return await act(request, "webhook", "/partner/webhooks", call, _("Endpoint registered."))


def webhook_step(step: str) -> Any:
    async def handler(request: Request, endpoint_id: str) -> RedirectResponse:
        person, api = require(request, *PARTY)

        async def call(form: FormData) -> None:
            answer = await api.post("notifications", f"/partners/{partner_of(person)}/webhooks/{endpoint_id}/{step}")
            if step == "rotate-secret":
                request.session["webhook_secret"] = answer.get("secret")

        done = _("Endpoint verified.") if step == "verify" else _("Secret rotated.")
        return await act(request, f"webhook-{endpoint_id}", "/partner/webhooks", call, done)

    return handler


for _step in ("verify", "rotate-secret"):
    router.add_api_route(
        f"/webhooks/{{endpoint_id}}/{_step}", webhook_step(_step), methods=["POST"], include_in_schema=False
    )


@router.get("/profile", include_in_schema=False)
async def profile(request: Request) -> HTMLResponse:
    """The person's own organisation as the registry keeps it; they edit its contacts (the
    registry lets a partner change only its own contacts; the profile is the admin's)."""
    person, api = require(request, *PARTY)
    found = await api.get("registry", f"/partners/{partner_of(person)}")
    return render(
        request, "registry/partner.html", partner=found, action="/partner/profile", can_edit_profile=False,
        can_edit_contacts=True, contact_rows=len(found.get("contacts") or []) + EXTRA_CONTACT_ROWS,
    )  # fmt: skip


@router.post("/profile/contacts", include_in_schema=False)
async def edit_contacts(request: Request) -> RedirectResponse:
    person, api = require(request, *PARTY)

    async def call(form: FormData) -> None:
        await put_contacts(api, partner_of(person), form)

    return await act(request, "contacts", "/partner/profile", call, _("Contacts saved."))
