"""How a page runs an action: check CSRF, call the service, keep a refusal next to the form."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Iterable
from typing import Any

from fastapi import Request
from fastapi.responses import RedirectResponse
from starlette.datastructures import FormData

from alliance_console.api import Api, ApiError
from alliance_console.i18n import _, fen_from_yuan
from alliance_console.web import SignInRequired, checked_form, flash, keep_refusal


class FormInvalid(Exception):
    """What the person typed cannot be sent at all (e.g. an amount that is not a number)."""

    def __init__(self, field: str, message: str) -> None:
        self.field = field
        self.message = message


async def act(
    request: Request,
    form_name: str,
    back_to: str,
    call: Callable[[FormData], Awaitable[Any]],
    done: str,
) -> RedirectResponse:
    """POST → service → redirect back (303) with the result, or with the refusal kept."""
    form = await checked_form(request)
    try:
        await call(form)
    except ApiError as error:
        keep_refusal(request, form_name, form, error)
        if error.status == 401:
            # The token expired: sign in again, then back to this form with what was typed.
            request.session.pop("token", None)
            raise SignInRequired(back_to) from error
    except FormInvalid as invalid:
        keep_refusal(request, form_name, form, invalid.message)
        state = request.session["form_state"]
        state["errors"] = {invalid.field: invalid.message}
        request.session["form_state"] = state
    else:
        flash(request, done)
    # A form may ask to come back to the page it was on (a filtered list), never elsewhere.
    back = text(form, "back")
    return RedirectResponse(back if back.startswith(back_to.split("?")[0]) else back_to, status_code=303)


def text(form: FormData, key: str) -> str:
    return str(form.get(key) or "").strip()


def amount(form: FormData, key: str, *, required: bool = True) -> int | None:
    """A yuan amount typed by the person, in fen."""
    raw = text(form, key)
    if not raw and not required:
        return None
    fen = fen_from_yuan(raw)
    if fen is None:
        raise FormInvalid(key, _("Enter an amount in yuan, e.g. 1200.50"))
    return fen


def integer(form: FormData, key: str) -> int:
    try:
        return int(text(form, key))
    except ValueError:
        raise FormInvalid(key, _("Enter a whole number.")) from None


#: The most agreement titles one page looks up (a page of results; the rest keep their ids).
TITLE_LOOKUPS = 50


async def agreement_titles(api: Api, agreement_ids: Iterable[str]) -> dict[str, str]:
    """The registry's titles of a page's agreements, fetched together (the registry has no
    batch read, so one bounded round of concurrent reads); an unreadable one keeps its id."""
    wanted = list(dict.fromkeys(agreement_ids))[:TITLE_LOOKUPS]

    async def title_of(agreement_id: str) -> tuple[str, str | None]:
        try:
            found = await api.get("registry", f"/agreements/{agreement_id}")
        except ApiError:
            return agreement_id, None
        return agreement_id, found.get("terms", {}).get("title")

    return {key: title for key, title in await asyncio.gather(*map(title_of, wanted)) if title}
