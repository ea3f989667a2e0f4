"""Evaluation: cycles with panels (conflict of interest is the service's refusal), results
with ranking and grade distribution, rectification orders; evaluators' panels and scoring."""

from __future__ import annotations

import asyncio
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, RedirectResponse
from starlette.datastructures import FormData

from alliance_console.api import Api, ApiError, items_of
from alliance_console.i18n import TIME_ZONE, _, day
from alliance_console.pages.common import (
    TITLE_LOOKUPS,
    FormInvalid,
    act,
    agreement_titles,
    framework_versions,
    indicator_names,
    integer,
    partner_names,
    text,
)
from alliance_console.web import label, render, require

router = APIRouter(prefix="/evaluation")

OVERSEERS = ("supervisor", "auditor")
CYCLE_KINDS = ("mid_term", "annual", "final_acceptance")
PANEL_ROLES = ("supervisor", "industry_expert", "enterprise_representative", "college_self_assessment",
               "student_representative")  # fmt: skip
GRADES = ("excellent", "good", "pass", "fail")


def day_of(form: FormData, key: str) -> date:
    try:
        return date.fromisoformat(text(form, key))
    except ValueError:
        raise FormInvalid(key, _("Enter a date.")) from None


async def active_agreements(api: Api) -> list[dict[str, Any]]:
    """Agreements a cycle may cover, as the registry lists them (empty when it may not be read)."""
    try:
        items, _cursor = items_of(await api.get("registry", "/agreements", status="active", limit=200))
    except ApiError:
        return []
    return items


@router.get("/cycles", include_in_schema=False)
async def cycles(request: Request) -> HTMLResponse:
    person, api = require(request, *OVERSEERS)
    supervisor = person.has("supervisor")
    # up to 200 cycles: one page of the service's largest size
    cycles_page, frameworks_page, *agreements = await asyncio.gather(
        api.get("evaluation", "/cycles", limit=200),
        api.get("evaluation", "/frameworks", status="published", limit=200),
        *([active_agreements(api)] if supervisor else []),
    )
    found, _cursor = items_of(cycles_page)
    today = date.today()
    return render(
        request,
        "evaluation/cycles.html",
        cycles=sorted(found, key=lambda c: str(c.get("opened_at", "")), reverse=True),
        agreements=agreements[0] if agreements else [],
        frameworks=sorted(
            items_of(frameworks_page)[0],
            key=lambda f: (str(f.get("published_at") or ""), int(f.get("version", 0))),
            reverse=True,
        ),
        can_open=person.has("supervisor"),
        kinds=CYCLE_KINDS,
        defaults={
            "window_start": date(today.year - 1, 1, 1).isoformat(),
            "window_end": date(today.year - 1, 12, 31).isoformat(),
            "due_on": (today + timedelta(days=30)).isoformat(),
        },
    )


@router.post("/cycles", include_in_schema=False)
async def open_cycle(request: Request) -> RedirectResponse:
    _person, api = require(request, "supervisor")

    async def call(form: FormData) -> None:
        chosen = [str(a) for a in form.getlist("agreement_ids")]
        body: dict[str, Any] = {
            "kind": text(form, "kind"),
            "name": text(form, "name"),
            "window_start": day_of(form, "window_start").isoformat(),
            "window_end": day_of(form, "window_end").isoformat(),
            "due_at": datetime.combine(day_of(form, "due_on"), time(23, 59), tzinfo=TIME_ZONE)
            .astimezone(UTC)
            .isoformat(),
        }
        framework_id, _sep, version = text(form, "framework").partition(":")
        if framework_id and version.isdigit():
            body["framework_id"], body["framework_version"] = framework_id, int(version)
        if chosen:
            body["agreement_ids"] = chosen
        else:
            # None chosen: the service takes every active agreement (of the region, if given).
            body["region_prefix"] = text(form, "region_prefix") or None
        await api.post("evaluation", "/cycles", body)

    return await act(request, "cycle", "/evaluation/cycles", call, _("Cycle opened."))


@router.get("/cycles/{cycle_id}", include_in_schema=False)
async def cycle(request: Request, cycle_id: str, rank_page: int = 1) -> HTMLResponse:
    person, api = require(request, *OVERSEERS)
    found = await api.get("evaluation", f"/cycles/{cycle_id}")
    panels = {}
    for agreement_id in found.get("agreement_ids", []):
        try:
            panels[agreement_id] = await api.get("evaluation", f"/cycles/{cycle_id}/panels/{agreement_id}")
        except ApiError:
            panels[agreement_id] = None
    ranking: list[dict[str, Any]] = []
    formality: list[dict[str, Any]] = []
    distribution: dict[str, int] = {}
    if found.get("status") == "completed":
        # The dashboard carries the ranking and the formality-risk list in one call.
        board = await api.get("evaluation", f"/cycles/{cycle_id}/dashboard")
        ranking = list(board.get("ranking", []))
        formality = list(board.get("formality_risk", []))
        for row in ranking:
            grade = str(row.get("grade", ""))
            distribution[grade] = distribution.get(grade, 0) + 1
    # The ranking shows a page of rows at a time, so that their titles are one bounded lookup.
    pages = max(1, -(-len(ranking) // TITLE_LOOKUPS))
    rank_page = min(max(1, rank_page), pages)
    shown = ranking[(rank_page - 1) * TITLE_LOOKUPS : rank_page * TITLE_LOOKUPS]
    titles = await agreement_titles(api, [str(r.get("agreement_id")) for r in [*shown, *formality]] + list(panels))
    chart = {
        "categories": [grade_label(g) for g in GRADES],
        "series": [{"name": _("Agreements"), "data": [distribution.get(g, 0) for g in GRADES]}],
        "unit": "",
    }
    return render(
        request, "evaluation/cycle.html", cycle=found, panels=panels, ranking=shown, chart_data=chart,
        formality=formality, formality_label=formality_label, can_act=person.has("supervisor"),
        panel_roles=PANEL_ROLES, titles=titles, rank_page=rank_page, rank_pages=pages,
    )  # fmt: skip


def formality_label(reason: str) -> str:
    labels = {
        "no_activity": _("No reported activity in the window"),
        "active_months_at_risk": _("Too few months with reported activity"),
    }
    return labels.get(reason, reason)


@router.get("/trend/{agreement_id}", include_in_schema=False)
async def trend(request: Request, agreement_id: str) -> HTMLResponse:
    """An agreement's score across cycles (current results, oldest first)."""
    _person, api = require(request, *OVERSEERS)
    found = await api.get("evaluation", f"/agreements/{agreement_id}/results")
    points = list(found.get("trend", []))
    chart = {
        "categories": [f"{day(p['completed_at'])} {label(p['cycle_kind'])}" for p in points],
        "series": [{"name": _("Score"), "data": [p["score_hundredths"] / 100 for p in points]}],
        "unit": _("points"),
    }
    titles = await agreement_titles(api, [agreement_id])
    return render(request, "evaluation/trend.html", agreement_id=agreement_id, points=points, chart_data=chart,
                  title=titles.get(agreement_id))  # fmt: skip


def grade_label(grade: str) -> str:
    return {"excellent": _("Excellent"), "good": _("Good"), "pass": _("Pass"), "fail": _("Fail")}.get(grade, grade)


@router.post("/cycles/{cycle_id}/panels/{agreement_id}/members", include_in_schema=False)
async def seat(request: Request, cycle_id: str, agreement_id: str) -> RedirectResponse:
    _person, api = require(request, "supervisor")

    async def call(form: FormData) -> None:
        affiliations = [a.strip() for a in text(form, "affiliations").replace("，", ",").split(",") if a.strip()]
        body = {"evaluator_id": text(form, "evaluator_id"), "role": text(form, "role"),
                "affiliation_partner_ids": affiliations}  # fmt: skip
        await api.post("evaluation", f"/cycles/{cycle_id}/panels/{agreement_id}/members", body)

    return await act(request, f"seat-{agreement_id}", f"/evaluation/cycles/{cycle_id}", call, _("Evaluator seated."))


def cycle_step(step: str) -> Any:
    async def handler(request: Request, cycle_id: str) -> RedirectResponse:
        _person, api = require(request, "supervisor")

        async def call(form: FormData) -> None:
            await api.post("evaluation", f"/cycles/{cycle_id}/{step}", version=text(form, "version"))

        done = _("Scoring started.") if step == "start-scoring" else _("Cycle completed.")
        return await act(request, "cycle-step", f"/evaluation/cycles/{cycle_id}", call, done)

    return handler


for _step in ("start-scoring", "complete"):
    router.add_api_route(f"/cycles/{{cycle_id}}/{_step}", cycle_step(_step), methods=["POST"], include_in_schema=False)


@router.get("/rectifications", include_in_schema=False)
async def rectifications(request: Request, status: str | None = None, cursor: str | None = None) -> HTMLResponse:
    person, api = require(request, *OVERSEERS)
    found, indicators = await asyncio.gather(
        api.get("evaluation", "/rectifications", status=status, cursor=cursor, limit=50),
        indicator_names(request, api),
    )
    items, next_cursor = items_of(found)
    titles, parties = await asyncio.gather(
        agreement_titles(api, [str(o.get("agreement_id")) for o in items]),
        partner_names(api, [str(o.get("responsible_party_id")) for o in items]),
    )
    return render(request, "evaluation/rectifications.html", orders=items, status=status or "", titles=titles,
                  parties=parties, indicators=indicators, next_cursor=next_cursor,
                  can_act=person.has("supervisor"))  # fmt: skip


def order_step(step: str) -> Any:
    async def handler(request: Request, order_id: str) -> RedirectResponse:
        _person, api = require(request, "supervisor")

        async def call(form: FormData) -> None:
            body = {"reason": text(form, "reason")}
            await api.post("evaluation", f"/rectifications/{order_id}/{step}", body, version=text(form, "version"))

        done = _("Order closed.") if step == "close" else _("Response sent back.")
        return await act(request, f"order-{order_id}", "/evaluation/rectifications", call, done)

    return handler


for _step in ("close", "return"):
    router.add_api_route(
        f"/rectifications/{{order_id}}/{_step}", order_step(_step), methods=["POST"], include_in_schema=False
    )


async def panel_indicators(request: Request, api: Api, cycle_doc: dict[str, Any]) -> list[dict[str, Any]]:
    framework = await framework_versions(request).get(
        api, str(cycle_doc["framework_id"]), int(cycle_doc["framework_version"])
    )
    return [i for i in framework.get("indicators", []) if i.get("source") == "panel"]


@router.get("/panels", include_in_schema=False)
async def my_panels(request: Request) -> HTMLResponse:
    person, api = require(request, "evaluator")
    mine = []
    for cycle_doc in items_of(await api.get("evaluation", "/cycles", limit=200))[0]:
        if cycle_doc.get("status") == "completed":
            continue
        for agreement_id in cycle_doc.get("agreement_ids", []):
            try:
                panel = await api.get("evaluation", f"/cycles/{cycle_doc['cycle_id']}/panels/{agreement_id}")
            except ApiError:
                continue  # not on this panel: the service says so
            if any(m.get("evaluator_id") == person.sub for m in panel.get("members", [])):
                mine.append({"cycle": cycle_doc, "panel": panel, "agreement_id": agreement_id})
    titles = await agreement_titles(api, [str(p["agreement_id"]) for p in mine])
    return render(request, "evaluation/panels.html", panels=mine, titles=titles)


@router.get("/panels/{cycle_id}/{agreement_id}", include_in_schema=False)
async def scoring_form(request: Request, cycle_id: str, agreement_id: str) -> HTMLResponse:
    person, api = require(request, "evaluator")
    cycle_doc, panel, agreement = await asyncio.gather(
        api.get("evaluation", f"/cycles/{cycle_id}"),
        api.get("evaluation", f"/cycles/{cycle_id}/panels/{agreement_id}"),
        api.get_each("registry", [f"/agreements/{agreement_id}"]),
    )
    mine = {s["indicator_code"]: s["score"] for s in panel.get("scores", []) if s.get("evaluator_id") == person.sub}
    return render(
        request, "evaluation/score.html", cycle=cycle_doc, agreement_id=agreement_id, agreement=agreement[0],
        indicators=await panel_indicators(request, api, cycle_doc), mine=mine,
    )  # fmt: skip


@router.post("/panels/{cycle_id}/{agreement_id}", include_in_schema=False)
async def save_scores(request: Request, cycle_id: str, agreement_id: str) -> RedirectResponse:
    _person, api = require(request, "evaluator")

    async def call(form: FormData) -> None:
        for key in form:
            if key.startswith("score_") and text(form, key):
                code = key.removeprefix("score_")
                score = integer(form, key)
                await api.put("evaluation", f"/cycles/{cycle_id}/panels/{agreement_id}/scores/{code}", {"score": score})

    return await act(request, "scores", f"/evaluation/panels/{cycle_id}/{agreement_id}", call, _("Scores saved."))


@router.get("/appeals", include_in_schema=False)
async def appeals(
    request: Request, appeal_id: str | None = None, status: str | None = None, cursor: str | None = None
) -> HTMLResponse:
    """The appeals queue (pending first, as the evaluation service lists them), and one appeal
    with its decision."""
    person, api = require(request, *OVERSEERS)
    found = await api.get("evaluation", f"/appeals/{appeal_id}") if appeal_id else None
    queue, next_cursor = items_of(await api.get("evaluation", "/appeals", status=status, cursor=cursor, limit=20))
    titles = await agreement_titles(api, [str(a.get("agreement_id")) for a in [*queue, *([found] if found else [])]])
    return render(request, "evaluation/appeals.html", appeal=found, appeal_id=appeal_id or "", queue=queue,
                  titles=titles, next_cursor=next_cursor, status=status or "",
                  can_act=person.has("supervisor"))  # fmt: skip


@router.post("/appeals/{appeal_id}/decision", include_in_schema=False)
async def decide_appeal(request: Request, appeal_id: str) -> RedirectResponse:
    _person, api = require(request, "supervisor")

    async def call(form: FormData) -> None:
        body = {"decision": text(form, "decision"), "reason": text(form, "reason")}
        await api.post("evaluation", f"/appeals/{appeal_id}/decision", body, version=text(form, "version"))

    back_to = f"/evaluation/appeals?appeal_id={appeal_id}"
    return await act(request, "appeal-decision", back_to, call, _("Appeal decided."))
