"""Notification preferences: which kinds of notice reach the person on which channel, and
their quiet hours, as the notifications service keeps them. Every person has some: staff
of a college or enterprise share their partner's, anybody else has their own; which
recipient that is, and whether a choice is allowed, is the service's answer."""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, RedirectResponse
from starlette.datastructures import FormData

from alliance_console.api import ApiError
from alliance_console.i18n import _
from alliance_console.pages.common import act, text
from alliance_console.web import render, require

router = APIRouter(prefix="/notifications")

#: The service's categories of notice and its channels, in the order the page shows them.
CATEGORIES = ("regulatory", "operational", "digest_only")
CHANNELS = ("email", "webhook", "inbox")
#: Webhooks go to a partner's registered endpoints, so only a partner's preferences (the
#: service's recipient id ``partner:<id>``, shared by its staff) offer that channel.
PARTNER_RECIPIENT = "partner:"
#: Where a refusal of the quiet hours is shown (the service names them start, end, or the pair).
QUIET_FIELDS = {"start": "quiet_start", "end": "quiet_end", "quiet_hours": "quiet_end"}


def category_label(category: str) -> tuple[str, str]:
    """A category's name and what it holds, in the person's language."""
    return {
        "regulatory": (
            _("Decisions with legal or financial effect"),
            _("Certification, funding decisions, evaluation results, rectification orders, recoveries."),
        ),
        "operational": (
            _("Steps in the work"),
            _("Something to act on or follow: signatures, tranches to approve, reminders."),
        ),
        "digest_only": (
            _("Announcements"),
            _("A programme opening or closing; by e-mail they wait for the daily digest."),
        ),
    }.get(category, (category, ""))


def channels_of(recipient_id: str) -> tuple[str, ...]:
    """The channels that can reach this recipient."""
    return CHANNELS if recipient_id.startswith(PARTNER_RECIPIENT) else tuple(c for c in CHANNELS if c != "webhook")


def recipient_path(recipient_id: str) -> str:
    return f"/recipients/{quote(recipient_id, safe=':')}/preferences"


@router.get("/preferences", include_in_schema=False)
async def preferences(request: Request) -> HTMLResponse:
    _person, api = require(request)
    # Whose preferences these are is the service's answer (the same recipient as the inbox).
    own = await api.get("notifications", "/inbox/unread-count")
    found = await api.get("notifications", recipient_path(str(own["recipient_id"])))
    muted: dict[str, list[str]] = found.get("muted") or {}
    channels = channels_of(str(found["recipient_id"]))
    return render(
        request,
        "notifications/preferences.html",
        prefs=found,
        categories=CATEGORIES,
        channels=channels,
        category_label=category_label,
        chosen={f"{c}-{ch}": ch not in muted.get(c, []) for c in CATEGORIES for ch in channels},
        quiet=found.get("quiet_hours"),
    )


def preferences_body(form: FormData) -> dict[str, Any]:
    """The complete choices as ticked: a channel offered and left unticked is muted for that category."""
    channels = channels_of(text(form, "recipient_id"))
    muted = {c: [ch for ch in channels if form.get(f"{c}-{ch}") != "on"] for c in CATEGORIES}
    quiet = {"start": text(form, "quiet_start"), "end": text(form, "quiet_end")}
    return {
        "muted": {category: channels for category, channels in muted.items() if channels},
        "quiet_hours": quiet if form.get("quiet_on") == "on" else None,
    }


@router.post("/preferences", include_in_schema=False)
async def save_preferences(request: Request) -> RedirectResponse:
    _person, api = require(request)

    async def call(form: FormData) -> None:
        try:
            await api.put(
                "notifications", recipient_path(text(form, "recipient_id")), preferences_body(form),
                version=text(form, "version"),
            )  # fmt: skip
        except ApiError as error:
            raise with_quiet_hour_errors(error) from None

    return await act(request, "preferences", "/notifications/preferences", call, _("Preferences saved."))


def with_quiet_hour_errors(error: ApiError) -> ApiError:
    """A refused quiet-hours window, next to its time fields in the person's language."""
    for name, shown in QUIET_FIELDS.items():
        if name in error.field_errors:
            del error.field_errors[name]
            error.field_errors[shown] = _("Enter a start and an end time that differ, e.g. 22:00 and 07:00.")
    return error
