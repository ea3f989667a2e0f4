"""Calls to the four services with the signed-in person's own token.

The console decides nothing: every answer is shown as the service gave it, and every
refusal (RFC 9457 problem+json) is turned into a message in the person's language,
with field errors kept so that the page can show them next to the fields.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import httpx

from alliance_console.i18n import _

SERVICES = ("registry", "funding", "evaluation", "notifications")
#: The most calls one page has in flight to a service at a time: a page's lookups run
#: together, but one page cannot flood a service.
PARALLEL_CALLS = 8


def problem_messages() -> dict[str, str]:
    """Known problem codes in the person's language (others fall back to the service's detail)."""
    return {
        "auth.token_expired": _("Your sign-in has expired. Please sign in again."),
        "auth.forbidden": _("You are not allowed to do this."),
        "auth.object_forbidden": _("You are not allowed to do this."),
        "aggregate.version_conflict": _("Someone changed this in the meantime. Reload the page and try again."),
        "precondition.failed": _("Someone changed this in the meantime. Reload the page and try again."),
        "request.invalid": _("Some fields are not valid."),
        "dependency.unavailable": _("A service is busy or unreachable. Try again in a moment."),
        "service.unavailable": _("A service is busy or unreachable. Try again in a moment."),
        "service.timeout": _(
            "The service did not answer in time. It may still finish the request: look at the page again"
            " before you repeat it."
        ),
        "tranche.maker_checker": _("You prepared this tranche, so you may not approve it (maker-checker)."),
        "application.ineligible": _("The application does not meet the programme's eligibility rules."),
        "application.programme_not_open": _("The programme is not open for applications."),
        "application.cofunding_too_low": _("The co-funding is below the programme's minimum share."),
        "application.request_over_cap": _("The requested amount is above the programme's award cap."),
        "application.budget_lines_mismatch": _("The budget lines must add up to the requested amount."),
        "application.approval_over_request": _("The approved amount is above the requested amount."),
        "application.approved_amount_required": _("An approval must name the approved amount."),
        "panel.conflict_of_interest": _(
            "This evaluator is affiliated with a party of the agreement (conflict of interest)."
        ),
        "panel.already_member": _("This evaluator already sits on the panel."),
        "panel.not_a_member": _("Only evaluators on this panel may score it."),
        "cycle.results_missing": _("Some agreements of the cycle have no result yet."),
        "rectification.no_evidence": _("Attach at least one piece of evidence."),
        "partner.credit_code_invalid": _("The unified social credit code is not valid (check character)."),
        "partner.credit_code_taken": _("A partner with this credit code is already registered."),
        "route.not_found": _("Not found."),
        "partner.profile_mismatch": _("Colleges need a college profile and enterprises an enterprise profile."),
        "award.maker_checker": _(
            "You did the first step yourself, so a second person must do this one (maker-checker)."
        ),
        "recovery.maker_checker": _("You proposed this, so you may not approve it (maker-checker)."),
        "recovery.write_off_not_proposed": _("No write-off of this recovery awaits approval."),
        "recovery.write_off_stale": _("The recovery changed since the write-off was proposed: propose it again."),
        "tranche.approval_out_of_range": _(
            "The approved amount must be more than zero and at most the scheduled amount."
        ),
        "tranche.reason_required": _("Approving less than scheduled needs a reason."),
        "tranche.no_remainder_kept": _("This tranche keeps no remainder to release."),
        "award.reason_required": _("A termination needs a reason."),
        "award.termination_not_proposed": _("No termination of this award awaits approval."),
        "recovery.exceeds_paid": _("The recovery is more than what was paid and not yet recovered."),
        "recovery.settlement_out_of_range": _("The settlement must be more than zero and at most what is outstanding."),
        "recovery.bank_reference_required": _("A repayment is recorded with the bank's reference."),
        "recovery.tranche_required": _("An offset names the approved tranche it is taken from."),
        "recovery.offset_exceeds_tranche": _("The offset is more than the tranche's approved, unpaid amount."),
        "council.composition": _(
            "The council must keep at least one college, one enterprise and one government agency or industry"
            " association seat."
        ),
        "agreement.duplicate_party": _("A partner can be a party of an agreement only once."),
        "agreement.no_college": _("An agreement needs at least one college among its parties."),
        "agreement.no_enterprise": _("An agreement needs at least one enterprise among its parties."),
        "agreement.unknown_party": _("A party is not a registered partner (check the partner id)."),
        "agreement.inactive_party": _("A party is deactivated in the registry."),
        "agreement.lead": _("Exactly one college or enterprise leads the agreement."),
        "agreement.dates": _("The end date must be after the start date."),
        "agreement.obligation_party": _("An obligation names a partner who is not a party."),
        "agreement.role_mismatch": _("This kind of partner cannot have that role in an agreement."),
        "agreement.illegal_transition": _("The agreement's state does not allow this now."),
        "agreement.parties_fixed": _("An amendment cannot add or remove parties: draft a new agreement."),
        "agreement.amendment_empty": _("The amendment changes nothing."),
        "agreement.no_pending_amendment": _("No amendment awaits signatures."),
        "agreement.already_signed": _("This party has already signed."),
        "incentive.not_in_catalogue": _("The enterprise is not in the catalogue of certified enterprises."),
        "incentive.amount_required": _("This kind of incentive states its amount."),
        "incentive.amount_not_money": _("This kind of incentive has no amount."),
        "incentive.validity_invalid": _("The validity must end after it starts."),
        "incentive.before_certification": _("The incentive starts before the enterprise was certified."),
        "incentive.after_certification": _("The incentive runs past the enterprise's certification."),
        "incentive.kind_from_funding": _("Fiscal entries come from the funding service's awards."),
        "delivery.not_found": _("The notifications service has no such delivery."),
        "preferences.regulatory_mandatory": _(
            "Decisions with legal or financial effect reach you on every channel: they cannot be switched off."
        ),
        "delivery.not_final": _("Only a delivery that was sent or failed for good can be sent again."),
        "delivery.resend_inbox": _("Inbox entries are not sent again: they stay in the inbox."),
        "delivery.not_rendered": _("The notice could not be written from its template: fix the template first."),
    }


def eligibility_messages() -> dict[str, str]:
    return {
        "eligibility.partner_kind": _("This kind of partner may not lead an application."),
        "eligibility.not_a_party": _("The applicant is not a party of the agreement."),
        "eligibility.region": _("The applicant is outside the programme's region."),
        "eligibility.certified_enterprise": _("No party is a certified industry-education integration enterprise."),
        "eligibility.agreement_active": _("The agreement is not active."),
        "eligibility.min_grade": _("The agreement's latest grade is below the programme's minimum."),
        "eligibility.lead_partner_kinds": _("The lead partner's kind is not allowed."),
    }


@dataclass
class ApiError(Exception):
    """A service refused or failed; ``problem`` is its problem+json body."""

    status: int
    problem: dict[str, Any]
    field_errors: dict[str, str] = field(default_factory=dict)

    @property
    def code(self) -> str:
        return str(self.problem.get("code", "http.error"))

    @property
    def message(self) -> str:
        known = problem_messages().get(self.code)
        detail = str(self.problem.get("detail") or self.problem.get("title") or "")
        if known is None:
            # Not inside the f-string: Babel's extractor does not look into f-strings.
            lead = _("The service refused the request")
            return f"{lead}: {detail} ({self.code})"
        return known

    @property
    def detail(self) -> str:
        return str(self.problem.get("detail") or "")

    def failed_rules(self) -> list[str]:
        """Each failed eligibility rule, named in the person's language."""
        names = eligibility_messages()
        rules = self.problem.get("failed_rules") or []
        return [names.get(str(r.get("code")), str(r.get("text", r))) for r in rules if isinstance(r, dict)]


def _field_errors(problem: Mapping[str, Any]) -> dict[str, str]:
    """request.invalid lists each failing field; keyed by its last name (the form's field)."""
    found: dict[str, str] = {}
    for error in problem.get("errors") or []:
        loc = [str(p) for p in error.get("loc", []) if str(p) != "body"]
        name = next((p for p in reversed(loc) if not p.isdigit()), "") if loc else ""
        found.setdefault(name or "_", field_error_message(str(error.get("type", "")), str(error.get("msg", ""))))
    return found


def field_error_message(error_type: str, service_text: str) -> str:
    """A field's validation error (pydantic's error type) in the person's language; an
    unknown type keeps the service's English text."""
    known = {
        "missing": _("Fill this in."),
        "string_too_short": _("Fill this in."),
        "too_short": _("Add at least one."),
        "string_too_long": _("This is too long."),
        "too_long": _("There are too many."),
        "string_pattern_mismatch": _("Check the format of this field."),
        "int_parsing": _("Enter a whole number."),
        "int_type": _("Enter a whole number."),
        "greater_than": _("The number is too small."),
        "greater_than_equal": _("The number is too small."),
        "less_than": _("The number is too large."),
        "less_than_equal": _("The number is too large."),
        "enum": _("Choose one of the offered values."),
        "literal_error": _("Choose one of the offered values."),
        "date_from_datetime_parsing": _("Enter a date."),
        "date_parsing": _("Enter a date."),
        "datetime_parsing": _("Enter a date and time."),
        "datetime_from_date_parsing": _("Enter a date and time."),
        "url_parsing": _("Enter a web address starting with https://"),
        "time_parsing": _("Enter a time, e.g. 22:00."),
    }
    return known.get(error_type, service_text)


#: Refusals that concern one field of the form that caused them (shown next to it).
CODE_FIELDS = {
    "partner.credit_code_invalid": "credit_code",
    "partner.credit_code_taken": "credit_code",
    "partner.region_code_invalid": "region_code",
    "partner.sector_code_invalid": "sector_code",
    "application.cofunding_too_low": "cofunding",
    "application.request_over_cap": "requested",
    "application.approval_over_request": "approved",
    "application.approved_amount_required": "approved",
    "panel.conflict_of_interest": "evaluator_id",
    "panel.already_member": "evaluator_id",
    "rectification.no_evidence": "evidence_refs",
    "agreement.dates": "end_date",
    "tranche.approval_out_of_range": "approved",
    "tranche.reason_required": "reason",
    "award.reason_required": "reason",
    "recovery.exceeds_paid": "amount",
    "recovery.settlement_out_of_range": "amount",
    "recovery.bank_reference_required": "bank_reference",
    "recovery.tranche_required": "tranche_id",
    "recovery.offset_exceeds_tranche": "amount",
    "agreement.amendment_empty": "summary",
    "incentive.not_in_catalogue": "partner_id",
    "incentive.amount_required": "amount",
    "incentive.amount_not_money": "amount",
    "incentive.validity_invalid": "valid_to",
    "incentive.before_certification": "valid_from",
    "incentive.after_certification": "valid_to",
    "incentive.kind_from_funding": "kind",
}


def _error_of(response: httpx.Response) -> ApiError:
    try:
        body = response.json()
    except ValueError:
        body = {"detail": response.text[:300]}
    if not isinstance(body, dict):
        body = {"detail": str(body)[:300]}
    body.setdefault("code", f"http.{response.status_code}")
    error = ApiError(response.status_code, body, _field_errors(body))
    if body["code"] in CODE_FIELDS:
        error.field_errors.setdefault(CODE_FIELDS[body["code"]], error.message)
    return error


def unreachable(service: str, exc: httpx.TransportError) -> ApiError:
    """A call that got no answer: timed out (the service may still complete it) or never arrived."""
    detail = f"{service}: {exc.__class__.__name__}"
    if isinstance(exc, httpx.TimeoutException):
        return ApiError(504, {"code": "service.timeout", "detail": detail})
    return ApiError(503, {"code": "service.unavailable", "detail": detail})


class ServiceClients:
    """One pooled HTTP client per service, opened with the app and closed with it."""

    def __init__(self, urls: Mapping[str, str], timeout_s: float) -> None:
        self._clients = {name: httpx.AsyncClient(base_url=url, timeout=timeout_s) for name, url in urls.items()}

    def __getitem__(self, service: str) -> httpx.AsyncClient:
        return self._clients[service]

    async def close(self) -> None:
        for client in self._clients.values():
            await client.aclose()


@dataclass
class Api:
    """The services as the signed-in person may use them (their bearer token on every call)."""

    clients: ServiceClients
    token: str

    def _headers(self, extra: Mapping[str, str] | None = None) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token}", "Accept": "application/json", **(extra or {})}

    async def send(
        self,
        service: str,
        method: str,
        path: str,
        *,
        json_body: Any = None,
        params: Mapping[str, Any] | None = None,
        version: int | str | None = None,
        idempotency_key: str | None = None,
    ) -> httpx.Response:
        extra: dict[str, str] = {}
        if version is not None and version != "":
            extra["If-Match"] = f'"{version}"'
        if method == "POST":
            extra["Idempotency-Key"] = idempotency_key or str(uuid.uuid4())
        clean = {k: v for k, v in (params or {}).items() if v not in (None, "")}
        try:
            response = await self.clients[service].request(
                method, path, json=json_body, params=clean or None, headers=self._headers(extra)
            )
        except httpx.TransportError as exc:
            raise unreachable(service, exc) from exc
        if response.status_code >= 400:
            raise _error_of(response)
        return response

    async def get(self, service: str, path: str, **params: Any) -> Any:
        return (await self.send(service, "GET", path, params=params)).json()

    async def get_each(self, service: str, paths: Sequence[str]) -> list[Any | None]:
        """GET every path together (at most ``PARALLEL_CALLS`` at a time), answers in the
        paths' order; None where the service refused, so the page shows what it has."""
        in_flight = asyncio.Semaphore(PARALLEL_CALLS)

        async def one(path: str) -> Any | None:
            async with in_flight:
                try:
                    return await self.get(service, path)
                except ApiError:
                    return None

        return list(await asyncio.gather(*map(one, paths)))

    async def post(
        self,
        service: str,
        path: str,
        body: Any = None,
        *,
        version: int | str | None = None,
        idempotency_key: str | None = None,
    ) -> Any:
        """POST with a fresh ``Idempotency-Key``, or the form's own (one per form shown, so a
        form sent twice acts once)."""
        response = await self.send(
            service,
            "POST",
            path,
            json_body=body if body is not None else {},
            version=version,
            idempotency_key=idempotency_key,
        )
        return response.json() if response.content else {}

    async def put(self, service: str, path: str, body: Any, *, version: int | str | None = None) -> Any:
        return (await self.send(service, "PUT", path, json_body=body, version=version)).json()

    async def raw(self, service: str, path: str, **params: Any) -> httpx.Response:
        return await self.send(service, "GET", path, params=params)


def items_of(page: Any) -> tuple[list[dict[str, Any]], str | None]:
    """A list answer's items and next cursor (some lists are bare arrays)."""
    if isinstance(page, list):
        return page, None
    return list(page.get("items", [])), page.get("next_cursor")


async def download(api: Api, service: str, path: str, language: str, params: Mapping[str, str]) -> httpx.Response:
    """A service's CSV/XLSX export fetched with the person's token, headers in their language
    (the services negotiate ``Accept-Language``); a refusal is an ApiError like any call's."""
    clean = {key: value for key, value in params.items() if value}
    headers = {"Authorization": f"Bearer {api.token}", "Accept-Language": language}
    try:
        response = await api.clients[service].get(path, params=clean, headers=headers)
    except httpx.TransportError as exc:
        raise unreachable(service, exc) from exc
    if response.status_code >= 400:
        raise _error_of(response)
    return response
