"""How a page runs an action: check CSRF, call the service, keep a refusal next to the form."""

from __future__ import annotations

import asyncio
from collections import OrderedDict
from collections.abc import Awaitable, Callable, Iterable, Sequence
from datetime import UTC, date, datetime, time
from typing import Any

from fastapi import Request
from fastapi.responses import RedirectResponse
from starlette.datastructures import FormData

from alliance_console.api import Api, ApiError, items_of
from alliance_console.i18n import TIME_ZONE, _, current_language, fen_from_yuan
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


def start_of_day(form: FormData, key: str, *, required: bool = True) -> str | None:
    """A day typed by the person, as the instant it starts in China time (UTC ISO)."""
    raw = text(form, key)
    if not raw and not required:
        return None
    try:
        day = date.fromisoformat(raw)
    except ValueError:
        raise FormInvalid(key, _("Enter a date.")) from None
    return datetime.combine(day, time(0, 0), tzinfo=TIME_ZONE).astimezone(UTC).isoformat()


def integer(form: FormData, key: str) -> int:
    try:
        return int(text(form, key))
    except ValueError:
        raise FormInvalid(key, _("Enter a whole number.")) from None


#: The most names (agreement titles, partner names) one page looks up per kind (a page of
#: rows; the rest keep their ids).
TITLE_LOOKUPS = 50


async def _registry_names(
    api: Api, kind: str, ids: Iterable[str], name_of: Callable[[dict[str, Any]], str | None]
) -> dict[str, str]:
    """One name per registry record of a page, read together with the person's token (the
    registry has no batch read, so one bounded round of concurrent reads); a record the
    person may not read, or without a name, keeps its id."""
    wanted = [found for found in dict.fromkeys(ids) if found][:TITLE_LOOKUPS]
    records = await api.get_each("registry", [f"/{kind}/{record_id}" for record_id in wanted])
    names = {record_id: name_of(record) for record_id, record in zip(wanted, records, strict=True) if record}
    return {record_id: name for record_id, name in names.items() if name}


async def agreement_titles(api: Api, agreement_ids: Iterable[str]) -> dict[str, str]:
    """The registry's titles of a page's agreements."""
    return await _registry_names(api, "agreements", agreement_ids, lambda found: found.get("terms", {}).get("title"))


async def partner_names(api: Api, partner_ids: Iterable[str]) -> dict[str, str]:
    """The registry's names of a page's partners (the English name for English pages, where
    the partner has one)."""
    return await _registry_names(api, "partners", partner_ids, partner_name)


def partner_name(partner: dict[str, Any]) -> str | None:
    english = partner.get("name_en") if current_language() == "en" else None
    return english or partner.get("name_zh")


class FrameworkVersions:
    """Framework versions as the evaluation service answered them, kept once published.

    Publishing freezes a version for good (the service refuses any change with
    ``framework.published_immutable``), so a kept one is never stale and a page naming
    indicators by code costs no call per framework. Every reader may read frameworks, so
    one copy serves every person. Drafts are never kept; the least recently used version
    goes first beyond ``capacity``."""

    def __init__(self, capacity: int = 64) -> None:
        self._capacity = capacity
        self._kept: OrderedDict[tuple[str, int], dict[str, Any]] = OrderedDict()

    async def get(self, api: Api, framework_id: str, version: int) -> dict[str, Any]:
        """One version; the service's refusal is raised (``ApiError``)."""
        kept = self._take((framework_id, version))
        if kept is not None:
            return kept
        found: dict[str, Any] = await api.get("evaluation", _version_path(framework_id, version))
        self._keep((framework_id, version), found)
        return found

    async def get_each(self, api: Api, keys: Sequence[tuple[str, int]]) -> list[dict[str, Any] | None]:
        """Several versions, the missing ones read together; None where the service refused."""
        missing = [key for key in dict.fromkeys(keys) if key not in self._kept]
        fetched = dict(
            zip(missing, await api.get_each("evaluation", [_version_path(*k) for k in missing]), strict=True)
        )
        for key, found in fetched.items():
            if found is not None:
                self._keep(key, found)
        return [fetched[key] if key in fetched else self._take(key) for key in keys]

    def _take(self, key: tuple[str, int]) -> dict[str, Any] | None:
        kept = self._kept.get(key)
        if kept is not None:
            self._kept.move_to_end(key)
        return kept

    def _keep(self, key: tuple[str, int], framework: dict[str, Any]) -> None:
        if framework.get("status") != "published":
            return
        self._kept[key] = framework
        self._kept.move_to_end(key)
        while len(self._kept) > self._capacity:
            self._kept.popitem(last=False)


def _version_path(framework_id: str, version: int) -> str:
    return f"/frameworks/{framework_id}/versions/{version}"


def framework_versions(request: Request) -> FrameworkVersions:
    versions: FrameworkVersions = request.app.state.framework_versions
    return versions


async def indicator_names(request: Request, api: Api) -> dict[str, dict[str, Any]]:
    """Indicator code → the indicator (its ``name_zh``, ``name_en``) in the newest published
    version of each framework: rectification orders name indicators by code only."""
    published, _cursor = items_of(await api.get("evaluation", "/frameworks", status="published", limit=200))
    newest: dict[str, int] = {}
    for framework in published:
        framework_id, version = str(framework.get("framework_id")), int(framework.get("version", 0))
        newest[framework_id] = max(version, newest.get(framework_id, 0))
    return {
        str(indicator.get("code")): indicator
        for framework in await framework_versions(request).get_each(api, list(newest.items()))
        if framework is not None
        for indicator in framework.get("indicators", [])
    }


async def agreement_with_history(api: Api, agreement_id: str) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """An agreement and every version of its terms (oldest first), read together; the
    history is empty where the registry does not answer it."""
    found, versions = await asyncio.gather(
        api.get("registry", f"/agreements/{agreement_id}"),
        api.get_each("registry", [f"/agreements/{agreement_id}/versions"]),
    )
    return found, list((versions[0] or {}).get("revisions", []))


async def award_names(api: Api, award: dict[str, Any]) -> dict[str, Any]:
    """The award's agreement title and programme name, read together, for its page."""
    agreement_id = str(award.get("agreement_id"))
    titles, programme = await asyncio.gather(
        agreement_titles(api, [agreement_id]), api.get("funding", f"/programmes/{award.get('programme_id')}")
    )
    return {"agreement_title": titles.get(agreement_id), "programme_name": programme.get("name")}


#: Contact rows a profile form shows beyond the partner's own (one blank to add a person).
EXTRA_CONTACT_ROWS = 1


def contacts_body(form: FormData) -> dict[str, Any]:
    """The contacts as typed (each keeps its language), rows left blank dropped; the registry checks each field."""
    count = int(text(form, "contact_rows")) if text(form, "contact_rows").isdigit() else 0
    contacts = []
    for n in range(1, min(count, 20) + 1):
        contact = {key: text(form, f"c{n}_{key}") for key in ("name", "email", "phone", "position")}
        if any(contact.values()):
            contacts.append({**contact, "locale": text(form, f"c{n}_locale") or "zh-CN"})
    return {"contacts": contacts}


def with_contact_errors(error: ApiError) -> ApiError:
    """A refusal of the contacts list with each error put next to its row's field (``c2_email``)."""
    for problem in error.problem.get("errors") or []:
        loc = [str(part) for part in problem.get("loc", []) if str(part) != "body"]
        if len(loc) >= 3 and loc[0] == "contacts" and loc[1].isdigit():
            error.field_errors[f"c{int(loc[1]) + 1}_{loc[2]}"] = contact_field_message(loc[2])
    return error


def contact_field_message(name: str) -> str:
    """What a refused contact field needs, in the person's language (the service's text is English)."""
    return {
        "email": _("Enter an e-mail address, e.g. name@example.cn"),
        "phone": _("Enter a phone number, e.g. +86 755 1234 5678"),
    }.get(name, _("Fill this in (at most a line)."))


async def put_contacts(api: Api, partner_id: str, form: FormData) -> None:
    """Replace a partner's contacts with those typed (the registry says who may)."""
    try:
        await api.put(
            "registry", f"/partners/{partner_id}/contacts", contacts_body(form), version=text(form, "version")
        )
    except ApiError as error:
        raise with_contact_errors(error) from None
