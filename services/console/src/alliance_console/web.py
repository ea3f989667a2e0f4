"""What every page shares: the signed-in person, CSRF, rendering, and the one-click menus."""

from __future__ import annotations

import hmac
import secrets
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import quote

from fastapi import Request
from fastapi.responses import HTMLResponse
from fastapi.templating import Jinja2Templates
from starlette.datastructures import FormData

from alliance_console import i18n
from alliance_console.api import Api, ApiError
from alliance_console.i18n import _

TEMPLATES_DIR = Path(__file__).parent / "templates"
CSRF_FIELD = "csrf_token"
CSRF_HEADER = "x-csrf-token"


@dataclass(frozen=True)
class Person:
    """Who is signed in, as the identity provider's claims say (the services check it again)."""

    sub: str
    name: str
    roles: tuple[str, ...]
    partner_id: str | None = None

    def has(self, *roles: str) -> bool:
        return any(role in self.roles for role in roles)

    def to_session(self) -> dict[str, Any]:
        return {"sub": self.sub, "name": self.name, "roles": list(self.roles), "partner_id": self.partner_id}

    @classmethod
    def from_claims(cls, claims: dict[str, Any]) -> Person:
        roles = claims.get("roles") or []
        if isinstance(roles, str):
            roles = roles.split()
        return cls(
            sub=str(claims.get("sub", "")),
            name=str(claims.get("name") or claims.get("preferred_username") or claims.get("sub", "")),
            roles=tuple(str(r) for r in roles),
            partner_id=(str(claims["partner_id"]) if claims.get("partner_id") else None),
        )


class SignInRequired(Exception):
    """No session, or the services said the token expired: back to sign-in, then back here."""

    def __init__(self, next_url: str) -> None:
        self.next_url = next_url


class NotAllowed(Exception):
    """The page is not for the person's roles (the services would refuse it anyway)."""


#: A menu entry for every signed-in person, whatever their roles.
EVERYONE: tuple[str, ...] = ()


def menu(person: Person) -> list[tuple[str, str]]:
    """Every page of the person's job, one click from home (label, path)."""
    entries: list[tuple[str, str, tuple[str, ...]]] = [
        (_("Programmes"), "/funding/programmes", ("funding_officer", "funding_approver", "auditor")),
        (_("Application queue"), "/funding/applications", ("funding_officer", "funding_approver", "auditor")),
        (_("Awards"), "/funding/awards", ("funding_officer", "funding_approver", "auditor")),
        (_("Approval queue"), "/funding/approvals", ("funding_approver",)),
        (_("Budget execution"), "/funding/budget", ("funding_officer", "funding_approver", "auditor")),
        (_("Surcharge credit statements"), "/funding/surcharge", ("funding_officer", "funding_approver", "auditor")),
        (_("Evaluation cycles"), "/evaluation/cycles", ("supervisor", "auditor")),
        (_("Rectification orders"), "/evaluation/rectifications", ("supervisor", "auditor")),
        (_("Appeals"), "/evaluation/appeals", ("supervisor", "auditor")),
        (_("My panels"), "/evaluation/panels", ("evaluator",)),
        (_("My agreements"), "/partner/agreements", ("college", "enterprise")),
        (_("My applications"), "/partner/applications", ("college", "enterprise")),
        (_("My awards"), "/partner/awards", ("college", "enterprise")),
        (_("My results"), "/partner/results", ("college", "enterprise")),
        (_("Rectifications to answer"), "/partner/rectifications", ("college", "enterprise")),
        (_("Inbox"), "/partner/inbox", ("college", "enterprise")),
        (_("Webhook endpoints"), "/partner/webhooks", ("college", "enterprise")),
        (_("Partners"), "/registry/partners", ("registry_admin", "auditor")),
        (_("Agreements"), "/registry/agreements", ("registry_admin", "auditor")),
        (_("Alliance: members, council, certification"), "/registry/alliance", ("registry_admin", "auditor")),
        (_("Partner matching"), "/registry/matching", ("registry_admin", "auditor")),
        (_("Audit trail"), "/audit", ("auditor",)),
        (_("Delivery log"), "/notifications/deliveries", ("ops", "auditor")),
        (_("Incentive register"), "/incentives", ("agency_staff", "enterprise", "registry_admin", "auditor")),
        (_("Our profile and contacts"), "/partner/profile", ("college", "enterprise")),
        (_("Notification preferences"), "/notifications/preferences", EVERYONE),
    ]
    return [(label, path) for label, path, roles in entries if roles is EVERYONE or person.has(*roles)]


def role_label(role: str) -> str:
    names = {
        "registry_admin": _("Registry admin"),
        "funding_officer": _("Funding officer"),
        "funding_approver": _("Funding approver"),
        "supervisor": _("Supervisor"),
        "evaluator": _("Evaluator"),
        "college": _("College staff"),
        "enterprise": _("Enterprise staff"),
        "auditor": _("Auditor"),
        "ops": _("Operations"),
        "agency_staff": _("Government agency staff"),
    }
    return names.get(role, role)


def current_person(request: Request) -> Person | None:
    stored = request.session.get("person")
    if not stored or not request.session.get("token"):
        return None
    return Person(
        sub=stored["sub"], name=stored["name"], roles=tuple(stored["roles"]), partner_id=stored.get("partner_id")
    )


def require(request: Request, *roles: str) -> tuple[Person, Api]:
    """The signed-in person (one of ``roles`` when given) and the services as they may use them."""
    person = current_person(request)
    if person is None:
        raise SignInRequired(request.url.path + (f"?{request.url.query}" if request.url.query else ""))
    if roles and not person.has(*roles):
        raise NotAllowed()
    return person, Api(request.app.state.clients, str(request.session["token"]))


def csrf_token(request: Request) -> str:
    token = request.session.get("csrf")
    if not token:
        token = secrets.token_urlsafe(32)
        request.session["csrf"] = token
    return str(token)


class CsrfRefused(Exception):
    pass


async def checked_form(request: Request) -> FormData:
    """The posted form, once its CSRF token matches the session's (synchronizer token)."""
    form = await request.form()
    sent = str(form.get(CSRF_FIELD) or request.headers.get(CSRF_HEADER) or "")
    expected = str(request.session.get("csrf") or "")
    if not expected or not hmac.compare_digest(sent, expected):
        raise CsrfRefused()
    return form


def sign_in_url(next_url: str) -> str:
    return "/auth/login?next=" + quote(next_url, safe="")


def flash(request: Request, message: str, kind: str = "ok") -> None:
    request.session["flash"] = {"message": message, "kind": kind}


@dataclass
class FormState:
    """What a refused form held and why, kept across the redirect so nothing typed is lost."""

    name: str = ""
    values: dict[str, str] = field(default_factory=dict)
    errors: dict[str, str] = field(default_factory=dict)
    message: str = ""
    rules: list[str] = field(default_factory=list)

    def value(self, key: str, default: str = "") -> str:
        return self.values.get(key, default)


def keep_refusal(request: Request, form_name: str, form: FormData | None, error: ApiError | str) -> None:
    values = {k: str(v) for k, v in form.items() if k != CSRF_FIELD} if form is not None else {}
    if isinstance(error, ApiError):
        state = {
            "name": form_name,
            "values": values,
            "errors": error.field_errors,
            "message": error.message,
            "rules": error.failed_rules(),
        }
    else:
        state = {"name": form_name, "values": values, "errors": {}, "message": error, "rules": []}
    request.session["form_state"] = state


def render(request: Request, template: str, status_code: int = 200, **context: Any) -> HTMLResponse:
    templates: Jinja2Templates = request.app.state.templates
    person = current_person(request)
    state = request.session.pop("form_state", None)
    base: dict[str, Any] = {
        "person": person,
        "menu": menu(person) if person else [],
        "role_label": role_label,
        "label": label,
        "metric_label": metric_label,
        "indicator_name": indicator_name,
        "csrf_token": csrf_token(request),
        "lang": i18n.current_language(),
        "html_lang": "zh-CN" if i18n.current_language() == "zh-CN" else "en",
        "flash": request.session.pop("flash", None),
        "form_state": FormState(**state) if state else FormState(),
        "dev_login": request.app.state.settings.dev_login,
    }
    return templates.TemplateResponse(request, template, {**base, **context}, status_code=status_code)


def metric_label(metric: object) -> str:
    """An obligation's metric (the registry's vocabulary) in the person's language."""
    labels = {
        "internship_posts": _("Internship posts"), "hosted_students": _("Students hosted (3 months or more)"),
        "order_class_students": _("Order-class students"), "engineer_teaching_hours": _("Engineers' teaching hours"),
        "teacher_practice_persons": _("Teachers in enterprise practice"),
        "rd_revenue_fen": _("Technical-service revenue (fen)"), "courses_codeveloped": _("Courses co-developed"),
        "investment_fen": _("Enterprise investment (fen)"),
    }  # fmt: skip
    return labels.get(str(metric), str(metric))


def indicator_name(indicator: Mapping[str, Any]) -> str:
    """A framework indicator's name in the person's language (empty when it has none)."""
    if i18n.current_language() == "zh-CN" and indicator.get("name_zh"):
        return str(indicator["name_zh"])
    return str(indicator.get("name_en") or indicator.get("name") or "")


def label(value: object) -> str:
    """A status or kind the services answer, in the person's language (unknown ones as they are)."""
    labels = {
        "draft": _("Draft"), "open": _("Open"), "closed": _("Closed"), "finalised": _("Finalised"),
        "submitted": _("Submitted"), "under_review": _("Under review"), "approved": _("Approved"),
        "rejected": _("Rejected"), "returned": _("Returned"), "withdrawn": _("Withdrawn"),
        "active": _("Active"), "terminated": _("Terminated"), "scheduled": _("Scheduled"),
        "eligible": _("Eligible"), "withheld": _("Withheld"), "requested": _("Awaiting approval"),
        "paid": _("Paid"), "cancelled": _("Cancelled"), "scoring": _("Scoring"), "completed": _("Completed"),
        "responded": _("Responded"), "overdue": _("Overdue"), "signed": _("Signed"), "suspended": _("Suspended"),
        "excellent": _("Excellent"), "good": _("Good"), "pass": _("Pass"), "fail": _("Fail"),
        "mid_term": _("Mid-term"), "annual": _("Annual"), "final_acceptance": _("Final acceptance"),
        "on_award": _("On award"), "manual": _("Manual"), "evaluation": _("On evaluation"),
        "college": _("College"), "enterprise": _("Enterprise"), "industry_association": _("Industry association"),
        "government_agency": _("Government agency"), "research_institute": _("Research institute"),
        "supervisor": _("Supervisor"), "industry_expert": _("Industry expert"),
        "enterprise_representative": _("Enterprise representative"),
        "college_self_assessment": _("College self-assessment"), "student_representative": _("Student representative"),
        "equipment": _("Equipment"), "training_base_construction": _("Training base construction"),
        "teacher_training": _("Teacher training"), "student_subsidies": _("Student subsidies"),
        "rd": _("Research and development"), "other": _("Other"), "current": _("Current"),
        "superseded": _("Superseded"), "pending_verification": _("Pending verification"), "verified": _("Verified"),
        "disabled": _("Disabled"), "approve": _("Approve"), "reject": _("Refuse"),
        "higher_vocational": _("Higher vocational college"), "secondary_vocational": _("Secondary vocational school"),
        "technician_college": _("Technician college"), "vocational_undergraduate": _("Vocational university"),
        "large": _("Large"), "medium": _("Medium"), "small": _("Small"), "micro": _("Micro"),
        "lodged": _("Lodged"), "upheld": _("Upheld"),
        "lead": _("Lead"), "participant": _("Participant"), "coordinator": _("Coordinator"), "sponsor": _("Sponsor"),
        "applied": _("Applied"), "admitted": _("Admitted"), "expelled": _("Expelled"), "certified": _("Certified"),
        "revoked": _("Revoked"), "expired": _("Expired"), "chair": _("Chair"), "vice_chair": _("Vice chair"),
        "director": _("Director"), "on_track": _("On track"), "needs_improvement": _("Needs improvement"),
        "at_risk": _("At risk"), "no_evidence": _("No evidence"), "credited": _("Credited"),
        "not_certified": _("Not certified"), "no_rate": _("No credit rate in force"),
        "repayment": _("Repayment"), "offset": _("Offset"), "settled": _("Settled"), "written_off": _("Written off"),
        "per_year": _("per year"), "per_term": _("per term"), "total": _("over the term"),
        "shallow": _("Shallow"), "middle": _("Middle"), "deep": _("Deep"),
        "order_class": _("Order class"), "internship_base": _("Internship base"),
        "work_study_alternation": _("Work-study alternation"), "modern_apprenticeship": _("Modern apprenticeship"),
        "joint_rd_centre": _("Joint R&D centre"), "industry_college": _("Industry college"),
        "joint_lab_or_training_base": _("Joint lab or training base"), "teacher_exchange": _("Teacher exchange"),
        "one_plus_x_pilot": _("1+X certificate pilot"), "curriculum_codevelopment": _("Curriculum co-development"),
        "employment_recommendation": _("Employment recommendation"), "reinstated": _("Reinstated"),
        "fiscal": _("Fiscal (special fund)"), "tax": _("Tax (surcharge credit)"),
        "financial": _("Financial (loans, interest subsidies)"), "land": _("Land use"), "credit": _("Credit rating"),
        "sent": _("Sent"), "failed": _("Failed, will retry"), "dead": _("Failed for good"), "pending": _("Pending"),
        "skipped_by_preference": _("Skipped (recipient's preference)"), "unroutable": _("No address"),
        "email": _("E-mail"), "webhook": _("Webhook"), "inbox": _("Inbox"),
    }  # fmt: skip
    return labels.get(str(value), str(value))
