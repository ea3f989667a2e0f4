"""Registry admin (and auditor, read-only): partners by name, region, sector and kind;
registering a partner (the credit-code check is the registry's); agreements (draft with
parties and obligations, record signatures, bring into force); membership, council seats
and certification moves. Every rule (who may sign, council composition, lifecycle) is
the registry's; the pages send what was typed and show its answer."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, RedirectResponse
from starlette.datastructures import FormData

from alliance_console.api import ApiError, items_of
from alliance_console.i18n import _
from alliance_console.pages.common import (
    EXTRA_CONTACT_ROWS,
    FormInvalid,
    act,
    agreement_with_history,
    integer,
    partner_names,
    put_contacts,
    start_of_day,
    text,
)
from alliance_console.web import render, require

router = APIRouter(prefix="/registry")

READERS = ("registry_admin", "auditor")
COLLEGE_LEVELS = ("higher_vocational", "secondary_vocational", "technician_college", "vocational_undergraduate")
ENTERPRISE_SIZES = ("large", "medium", "small", "micro")
KINDS = ("college", "enterprise", "industry_association", "government_agency", "research_institute")
PAGE_SIZE = 20


@router.get("/partners", include_in_schema=False)
async def partners(
    request: Request,
    q: str | None = None,
    kind: str | None = None,
    region: str | None = None,
    sector: str | None = None,
    cursor: str | None = None,
) -> HTMLResponse:
    person, api = require(request, *READERS)
    page = await api.get(
        "registry", "/partners", q=q, kind=kind, region=region, sector=sector, cursor=cursor, limit=PAGE_SIZE
    )
    items, next_cursor = items_of(page)
    return render(
        request, "registry/partners.html", partners=items, next_cursor=next_cursor, kinds=KINDS,
        college_levels=COLLEGE_LEVELS, enterprise_sizes=ENTERPRISE_SIZES,
        filters={"q": q or "", "kind": kind or "", "region": region or "", "sector": sector or ""},
        can_create=person.has("registry_admin"),
    )  # fmt: skip


@router.post("/partners", include_in_schema=False)
async def create_partner(request: Request) -> RedirectResponse:
    _person, api = require(request, "registry_admin")

    async def call(form: FormData) -> None:
        body: dict[str, Any] = {
            "kind": text(form, "kind"),
            "name_zh": text(form, "name_zh"),
            "credit_code": text(form, "credit_code"),
            "region_code": text(form, "region_code"),
            "sector_code": text(form, "sector_code"),
            "address": text(form, "address"),
            "contacts": [{"name": text(form, "contact_name"), "email": text(form, "contact_email"),
                          "phone": text(form, "contact_phone"), "position": text(form, "contact_position")}],
        }  # fmt: skip
        kind = text(form, "kind")
        if kind == "college":
            majors = [m.strip() for m in text(form, "majors").replace("，", ",").split(",") if m.strip()]
            body["college"] = {"level": text(form, "college_level"), "majors": majors}
        elif kind == "enterprise":
            body["enterprise"] = {"size": text(form, "enterprise_size"), "headcount": integer(form, "headcount")}
        await api.post("registry", "/partners", body)

    return await act(request, "partner", "/registry/partners", call, _("Partner registered."))


@router.get("/partners/{partner_id}", include_in_schema=False)
async def partner(request: Request, partner_id: str) -> HTMLResponse:
    """One partner's profile and contacts; the registry admin edits both."""
    person, api = require(request, *READERS)
    found = await api.get("registry", f"/partners/{partner_id}")
    editor = person.has("registry_admin")
    return render(
        request, "registry/partner.html", partner=found, action=f"/registry/partners/{partner_id}",
        can_edit_profile=editor, can_edit_contacts=editor, college_levels=COLLEGE_LEVELS,
        enterprise_sizes=ENTERPRISE_SIZES, contact_rows=len(found.get("contacts") or []) + EXTRA_CONTACT_ROWS,
    )  # fmt: skip


def profile_body(form: FormData) -> dict[str, Any]:
    """The whole new profile as the registry takes it (the kind does not change)."""
    kind = text(form, "kind")
    body: dict[str, Any] = {
        "kind": kind, "name_zh": text(form, "name_zh"), "name_en": text(form, "name_en") or None,
        "credit_code": text(form, "credit_code"), "region_code": text(form, "region_code"),
        "sector_code": text(form, "sector_code"), "address": text(form, "address"),
        "website": text(form, "website") or None,
    }  # fmt: skip
    if kind == "college":
        majors = [m.strip() for m in text(form, "majors").replace("，", ",").split(",") if m.strip()]
        body["college"] = {"level": text(form, "college_level"), "majors": majors}
    elif kind == "enterprise":
        body["enterprise"] = {"size": text(form, "enterprise_size"), "headcount": integer(form, "headcount")}
    return body


@router.post("/partners/{partner_id}", include_in_schema=False)
async def edit_partner(request: Request, partner_id: str) -> RedirectResponse:
    _person, api = require(request, "registry_admin")

    async def call(form: FormData) -> None:
        await api.put("registry", f"/partners/{partner_id}", profile_body(form), version=text(form, "version"))

    return await act(request, "profile", f"/registry/partners/{partner_id}", call, _("Profile saved."))


@router.post("/partners/{partner_id}/contacts", include_in_schema=False)
async def edit_contacts(request: Request, partner_id: str) -> RedirectResponse:
    _person, api = require(request, "registry_admin")

    async def call(form: FormData) -> None:
        await put_contacts(api, partner_id, form)

    return await act(request, "contacts", f"/registry/partners/{partner_id}", call, _("Contacts saved."))


MODES = ("order_class", "internship_base", "work_study_alternation", "modern_apprenticeship", "joint_rd_centre",
         "industry_college", "joint_lab_or_training_base", "teacher_exchange", "one_plus_x_pilot",
         "curriculum_codevelopment", "employment_recommendation")  # fmt: skip
DEPTHS = ("shallow", "middle", "deep")
PARTY_ROLES = ("lead", "participant", "coordinator", "sponsor")
METRICS = ("internship_posts", "hosted_students", "order_class_students", "engineer_teaching_hours",
           "teacher_practice_persons", "rd_revenue_fen", "courses_codeveloped", "investment_fen")  # fmt: skip
PERIODS = ("per_year", "per_term", "total")
PARTY_ROWS = 3
OBLIGATION_ROWS = 3
MEMBERSHIP_MOVES = ("admit", "reject", "suspend", "reinstate", "withdraw", "expel")
POSITIONS = ("chair", "vice_chair", "director")


@router.get("/agreements", include_in_schema=False)
async def agreements(request: Request, status: str | None = None, cursor: str | None = None) -> HTMLResponse:
    person, api = require(request, *READERS)
    items, next_cursor = items_of(
        await api.get("registry", "/agreements", status=status, cursor=cursor, limit=PAGE_SIZE)
    )
    today = date.today()
    return render(
        request, "partner/agreements.html", agreements=items, next_cursor=next_cursor,
        detail_prefix="/registry/agreements/",
        can_draft=person.has("registry_admin"), modes=MODES, depths=DEPTHS, party_roles=PARTY_ROLES, metrics=METRICS,
        periods=PERIODS, party_rows=range(1, PARTY_ROWS + 1), obligation_rows=range(1, OBLIGATION_ROWS + 1),
        defaults={"start_date": today.isoformat(), "end_date": date(today.year + 3, 12, 31).isoformat()},
        drafted=request.session.pop("drafted_agreement", None),
    )  # fmt: skip


def rows_in(form: FormData, key: str, shown: int) -> range:
    """The numbered rows a form carries: ``shown`` by default, or as many as it says (an
    amendment repeats every party and obligation of the terms in force), at most 500."""
    try:
        count = int(text(form, key) or shown)
    except ValueError:
        count = shown
    return range(1, min(max(count, shown), 500) + 1)


def agreement_body(form: FormData) -> dict[str, Any]:
    """The draft as the registry takes it: parties by id with their roles, obligations by party."""
    parties = [
        {"partner_id": text(form, f"party{n}_id"), "role": text(form, f"party{n}_role")}
        for n in rows_in(form, "party_rows", PARTY_ROWS)
        if text(form, f"party{n}_id")
    ]
    obligations = [
        {"party_id": text(form, f"ob{n}_party"), "metric": text(form, f"ob{n}_metric"),
         "quantity": integer(form, f"ob{n}_quantity"), "period": text(form, f"ob{n}_period")}
        for n in rows_in(form, "obligation_rows", OBLIGATION_ROWS)
        if text(form, f"ob{n}_party")
    ]  # fmt: skip
    majors = [m.strip() for m in text(form, "majors").replace("，", ",").split(",") if m.strip()]
    return {
        "title": text(form, "title"), "parties": parties, "modes": form.getlist("modes"), "majors": majors,
        "start_date": day_of(form, "start_date"), "end_date": day_of(form, "end_date"),
        "declared_depth": text(form, "declared_depth"), "obligations": obligations,
    }  # fmt: skip


def day_of(form: FormData, key: str) -> str:
    try:
        return date.fromisoformat(text(form, key)).isoformat()
    except ValueError:
        raise FormInvalid(key, _("Enter a date.")) from None


@router.post("/agreements", include_in_schema=False)
async def draft_agreement(request: Request) -> RedirectResponse:
    _person, api = require(request, "registry_admin")

    async def call(form: FormData) -> None:
        drafted = await api.post("registry", "/agreements", agreement_body(form))
        request.session["drafted_agreement"] = drafted.get("agreement_id")

    return await act(
        request, "agreement", "/registry/agreements", call, _("Agreement drafted: the parties are asked to sign.")
    )


#: Where the registry's state diagram allows each move (domain/agreement.py there): the page
#: offers a move only in these states, and the registry still decides.
AMENDABLE = ("signed", "active", "suspended")
STATUS_MOVES = {
    "suspend": ("active",),
    "resume": ("suspended",),
    "terminate": ("draft", "signed", "active", "suspended"),
}


@router.get("/agreements/{agreement_id}", include_in_schema=False)
async def agreement(request: Request, agreement_id: str) -> HTMLResponse:
    person, api = require(request, *READERS)
    found, history = await agreement_with_history(api, agreement_id)
    status = str(found.get("status"))
    return render(
        request, "registry/agreement.html", agreement=found, history=history, can_act=person.has("registry_admin"),
        may_amend=status in AMENDABLE and not found.get("pending_amendment"),
        moves=[move for move, states in STATUS_MOVES.items() if status in states], move_label=agreement_move_label,
        modes=MODES, depths=DEPTHS, metrics=METRICS, periods=PERIODS,
    )  # fmt: skip


def agreement_move_label(move: str) -> str:
    return {"suspend": _("Suspend the agreement"), "resume": _("Resume the agreement"),
            "terminate": _("Terminate the agreement (final)")}.get(move, move)  # fmt: skip


@router.post("/agreements/{agreement_id}/amendments", include_in_schema=False)
async def propose_amendment(request: Request, agreement_id: str) -> RedirectResponse:
    """New terms for the same parties, with what they change; in force once every party signed them."""
    return await agreement_move(
        request, agreement_id, "amendment", "amendments",
        lambda form: {**agreement_body(form), "summary": text(form, "summary")},
        _("Amendment proposed: the parties are asked to sign it."),
    )  # fmt: skip


async def agreement_move(
    request: Request, agreement_id: str, form_name: str, step: str, body_of: Callable[[FormData], Any], done: str
) -> RedirectResponse:
    """An admin's step on an agreement (``/agreements/{id}/{step}`` with the version seen), back to its page."""
    _person, api = require(request, "registry_admin")

    async def call(form: FormData) -> None:
        await api.post("registry", f"/agreements/{agreement_id}/{step}", body_of(form), version=text(form, "version"))

    return await act(request, form_name, f"/registry/agreements/{agreement_id}", call, done)


def reason_body(form: FormData) -> dict[str, str]:
    return {"reason": text(form, "reason")}


@router.post("/agreements/{agreement_id}/amendments/sign", include_in_schema=False)
async def record_amendment_signature(request: Request, agreement_id: str) -> RedirectResponse:
    """The signature of an association, agency or institute party on the pending amendment."""
    return await agreement_move(
        request, agreement_id, "amendment-sign", "amendments/sign", lambda form: {"party_id": text(form, "party_id")},
        _("Signature of the amendment recorded."),
    )  # fmt: skip


@router.post("/agreements/{agreement_id}/amendments/withdraw", include_in_schema=False)
async def withdraw_amendment(request: Request, agreement_id: str) -> RedirectResponse:
    return await agreement_move(
        request, agreement_id, "amendment-withdraw", "amendments/withdraw", reason_body,
        _("Amendment withdrawn; the terms in force stay."),
    )  # fmt: skip


@router.post("/agreements/{agreement_id}/status/{move}", include_in_schema=False)
async def move_agreement(request: Request, agreement_id: str, move: str) -> RedirectResponse:
    """Suspend, resume or terminate, with the reason the registry asks for."""
    if move not in STATUS_MOVES:
        return RedirectResponse(f"/registry/agreements/{agreement_id}", status_code=303)
    done = _("Agreement status changed.")
    return await agreement_move(request, agreement_id, f"agreement-{move}", move, reason_body, done)


def agreement_step(step: str) -> Any:
    """Record a signature of an association/agency/institute party, or bring a signed agreement into force."""

    async def handler(request: Request, agreement_id: str) -> RedirectResponse:
        _person, api = require(request, "registry_admin")

        async def call(form: FormData) -> None:
            body = {"party_id": text(form, "party_id")} if step == "sign" else {}
            await api.post("registry", f"/agreements/{agreement_id}/{step}", body, version=text(form, "version"))

        done = _("Signature recorded.") if step == "sign" else _("Agreement in force.")
        return await act(request, f"agreement-{step}", f"/registry/agreements/{agreement_id}", call, done)

    return handler


for _step in ("sign", "activate"):
    router.add_api_route(
        f"/agreements/{{agreement_id}}/{_step}", agreement_step(_step), methods=["POST"], include_in_schema=False
    )


@router.get("/alliance", include_in_schema=False)
async def alliance(
    request: Request, cursor: str | None = None, certification_cursor: str | None = None
) -> HTMLResponse:
    """Members, the council and the certified-enterprise catalogue, as the registry keeps them."""
    person, api = require(request, *READERS)
    members, next_cursor = items_of(await api.get("registry", "/memberships", cursor=cursor, limit=PAGE_SIZE))
    certifications, next_certifications = items_of(
        await api.get("registry", "/certifications", cursor=certification_cursor, limit=PAGE_SIZE)
    )
    try:
        council: dict[str, Any] | None = await api.get("registry", "/council")
    except ApiError as error:
        if error.status != 404:
            raise
        council = None  # not constituted yet
    seats = (council or {}).get("seats") or []
    names = await partner_names(api, [str(m.get("partner_id")) for m in [*members, *seats]])
    today = date.today()
    return render(
        request, "registry/alliance.html", members=members, next_cursor=next_cursor, council=council, names=names,
        certifications=certifications, next_certifications=next_certifications, can_act=person.has("registry_admin"),
        moves=MEMBERSHIP_MOVES, move_label=move_label, positions=POSITIONS,
        defaults={"from": today.isoformat(), "to": date(today.year + 3, today.month, 1).isoformat(),
                  "term_end": date(today.year + 3, 12, 31).isoformat()},
    )  # fmt: skip


def move_label(move: str) -> str:
    return {
        "admit": _("Admit"), "reject": _("Reject the application"), "suspend": _("Suspend"),
        "reinstate": _("Reinstate"), "withdraw": _("Record withdrawal"), "expel": _("Expel"),
    }.get(move, move)  # fmt: skip


@router.post("/memberships", include_in_schema=False)
async def apply_membership(request: Request) -> RedirectResponse:
    """The admin records a partner's application to join (the registry refuses a second one)."""
    _person, api = require(request, "registry_admin")

    async def call(form: FormData) -> None:
        await api.post(
            "registry", "/memberships", {"partner_id": text(form, "partner_id"), "reason": text(form, "reason")}
        )

    return await act(request, "membership", "/registry/alliance", call, _("Application recorded."))


@router.post("/memberships/{partner_id}", include_in_schema=False)
async def move_membership(request: Request, partner_id: str) -> RedirectResponse:
    """Admit, reject, suspend, reinstate, withdraw or expel: whether the move is allowed now is the registry's."""
    _person, api = require(request, "registry_admin")

    async def call(form: FormData) -> None:
        move = text(form, "move")
        if move not in MEMBERSHIP_MOVES:
            raise FormInvalid("move", _("Choose what to do."))
        await api.post("registry", f"/memberships/{partner_id}/{move}", {"reason": text(form, "reason")},
                       version=text(form, "version"))  # fmt: skip

    return await act(request, f"member-{partner_id}", "/registry/alliance", call, _("Membership updated."))


@router.post("/certifications", include_in_schema=False)
async def apply_certification(request: Request) -> RedirectResponse:
    _person, api = require(request, "registry_admin")

    async def call(form: FormData) -> None:
        await api.post("registry", "/certifications", {"partner_id": text(form, "partner_id")})

    return await act(request, "certification", "/registry/alliance", call, _("Certification application recorded."))


@router.post("/certifications/{certification_id}/{step}", include_in_schema=False)
async def certification_step(request: Request, certification_id: str, step: str) -> RedirectResponse:
    """Grant (certificate number and validity), reject or revoke, with a reason."""
    _person, api = require(request, "registry_admin")

    async def call(form: FormData) -> None:
        body: dict[str, Any] = {"reason": text(form, "reason") or None}
        if step == "grant":
            body["certificate_number"] = text(form, "certificate_number")
            body["valid_from"] = start_of_day(form, "valid_from")
            body["valid_to"] = start_of_day(form, "valid_to")
        elif step not in ("reject", "revoke"):
            raise FormInvalid("step", _("Choose what to do."))
        path = f"/certifications/{certification_id}/{step}"
        await api.post("registry", path, body, version=text(form, "version"))

    return await act(request, f"cert-{certification_id}", "/registry/alliance", call, _("Certification updated."))


@router.post("/council/seats", include_in_schema=False)
async def assign_seat(request: Request) -> RedirectResponse:
    """Give a member a seat or change it; an unconstituted council is constituted with it
    (the registry checks the composition either way)."""
    _person, api = require(request, "registry_admin")

    async def call(form: FormData) -> None:
        seat = {"position": text(form, "position"), "representative": text(form, "representative"),
                "term_start": day_of(form, "term_start"), "term_end": day_of(form, "term_end")}  # fmt: skip
        partner_id = text(form, "partner_id")
        if not partner_id:
            raise FormInvalid("partner_id", _("Enter the partner id."))
        if text(form, "constituted") == "yes":
            await api.put("registry", f"/council/seats/{partner_id}", {**seat, "reason": text(form, "reason")},
                          version=text(form, "version"))  # fmt: skip
        else:
            body = {"seats": [{**seat, "partner_id": partner_id}], "reason": text(form, "reason")}
            await api.post("registry", "/council", body)

    return await act(request, "seat", "/registry/alliance", call, _("Council seat recorded."))


@router.post("/council/seats/{partner_id}/vacate", include_in_schema=False)
async def vacate_seat(request: Request, partner_id: str) -> RedirectResponse:
    _person, api = require(request, "registry_admin")

    async def call(form: FormData) -> None:
        await api.post("registry", f"/council/seats/{partner_id}/vacate", {"reason": text(form, "reason")},
                       version=text(form, "version"))  # fmt: skip

    return await act(request, f"vacate-{partner_id}", "/registry/alliance", call, _("Seat vacated."))


def reason_label(code: str) -> str:
    """A matching reason in the person's language (the registry's English text for unknown codes)."""
    labels = {
        "match.sector_fit": _("Its industry serves the college's majors"),
        "match.same_region": _("In the college's region"),
        "match.same_province": _("In the college's province"),
        "match.certified": _("Certified industry-education integration enterprise"),
        "match.spare_capacity": _("Room for more cooperation"),
        "match.existing_partner": _("Already cooperates with the college"),
    }
    return labels.get(code, "")


@router.get("/matching", include_in_schema=False)
async def matching(request: Request, college_id: str | None = None, majors: str | None = None) -> HTMLResponse:
    """Enterprises a college could approach, ranked by the registry, each with its reasons."""
    _person, api = require(request, *READERS)
    chosen = [m.strip() for m in (majors or "").replace("，", ",").split(",") if m.strip()]
    found: dict[str, Any] | None = None
    if college_id:
        found = await api.get("registry", f"/matching/{college_id.strip()}", majors=chosen or None, limit=PAGE_SIZE)
    return render(
        request, "registry/matching.html", found=found, reason_label=reason_label,
        filters={"college_id": college_id or "", "majors": majors or ""},
    )  # fmt: skip
