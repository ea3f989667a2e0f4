"""Rendering notices from the Jinja2 templates shipped in ``alliance_notifications/templates``.

One file per template name and locale: ``<name>.<locale>.txt.j2`` (``funding.tranche.paid.zh-CN.txt.j2``),
extending ``_layout.<locale>.txt.j2``. A template defines a ``subject`` block (one line) and a
``body`` block; the layout wraps the body with the greeting and the footer.

Templates run in a ``SandboxedEnvironment`` with ``StrictUndefined``: a field the payload
lacks is an error, not an empty string. ``render`` never raises: a missing template or a
failed render comes back as a ``RenderFailure`` (code + detail) for the delivery record.
Every value a template prints is plain data (``_shown``): no control or format
characters, at most ``VALUE_LIMIT`` characters.

Template context: ``event`` (the payload dict), ``recipient_name``, ``locale``,
``time_zone``, ``event_id``, ``event_type`` and any extra values (the digest's entries).
Filters: ``money`` (integer minor units → ``500,000.00 元`` / ``CNY 500,000.00``), ``local_time``
(a UTC instant in the recipient's time zone), ``score`` (hundredths → ``87.25``), ``percent``
(basis points → ``30%``), ``term(kind)`` (a vocabulary or catalog code in the recipient's
language, ``texts.py``) and ``as_written`` (a person's own words, quoted and attributed).
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

from jinja2 import (
    BaseLoader,
    PackageLoader,
    StrictUndefined,
    TemplateNotFound,
    TemplateSyntaxError,
    UndefinedError,
    is_undefined,
    pass_context,
)
from jinja2.exceptions import SecurityError
from jinja2.runtime import Context
from jinja2.sandbox import SandboxedEnvironment
from pydantic import BaseModel, ConfigDict

from alliance_notifications.domain.recipients import DEFAULT_TIME_ZONE, Locale, zone
from alliance_notifications.domain.texts import code_text
from alliance_shared.outside_text import plain_text

_EN_MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")

#: Vocabulary codes of the event contract in each language, by kind.
TERMS: dict[Locale, dict[str, dict[str, str]]] = {
    Locale.ZH_CN: {
        "grade": {"excellent": "优秀", "good": "良好", "pass": "合格", "fail": "不合格"},
        "risk": {"on_track": "正常", "needs_improvement": "需改进", "at_risk": "存在风险", "no_evidence": "缺少佐证"},
        "cycle_kind": {"mid_term": "中期评价", "annual": "年度评价", "final_acceptance": "结项验收"},
        "depth": {"shallow": "浅层合作", "middle": "中度合作", "deep": "深度合作"},
        "appeal_decision": {"upheld": "申诉成立", "rejected": "申诉不成立"},
        "settlement_method": {"repayment": "退回资金", "offset": "从后续拨款中抵扣"},
        "eligible_trigger": {
            "on_award": "立项后即可拨付",
            "evaluation": "评价结果达到要求",
            "manual": "经人工确认",
            "hold_lifted": "暂缓原因已解除",
        },
    },
    Locale.EN: {
        "grade": {"excellent": "excellent", "good": "good", "pass": "pass", "fail": "fail"},
        "risk": {
            "on_track": "on track",
            "needs_improvement": "needs improvement",
            "at_risk": "at risk",
            "no_evidence": "no evidence",
        },
        "cycle_kind": {
            "mid_term": "mid-term review",
            "annual": "annual review",
            "final_acceptance": "final acceptance",
        },
        "depth": {"shallow": "shallow", "middle": "medium", "deep": "deep"},
        "appeal_decision": {"upheld": "upheld", "rejected": "rejected"},
        "settlement_method": {"repayment": "repayment", "offset": "offset against a later tranche"},
        "eligible_trigger": {
            "on_award": "released on award",
            "evaluation": "the evaluation met the required grade",
            "manual": "confirmed manually",
            "hold_lifted": "the hold was lifted",
        },
    },
}


#: The longest value a notice prints in one place (characters; a longer one ends in "…").
VALUE_LIMIT = 2000


def _shown(value: object) -> object:
    """Every value a template prints, as plain data: text from an event may come from
    outside (a college system's header), so it loses control and format characters (no
    forged lines, no reordered words) and is cut to ``VALUE_LIMIT``."""
    return plain_text(value, VALUE_LIMIT) if isinstance(value, str) else value


class RenderedMessage(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    subject: str
    body: str


class RenderFailure(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    code: str
    detail: str


RenderResult = RenderedMessage | RenderFailure


def template_file(name: str, locale: Locale) -> str:
    return f"{name}.{locale.value}.txt.j2"


def format_money(amount_minor: object, currency: str, locale: Locale) -> str:
    """Integer minor units as major units with two decimals; integer arithmetic only."""
    if isinstance(amount_minor, bool) or not isinstance(amount_minor, int):
        raise TypeError(f"money must be integer minor units, got {amount_minor!r}")
    major, minor = divmod(abs(amount_minor), 100)
    figure = f"{'-' if amount_minor < 0 else ''}{major:,}.{minor:02d}"
    if locale is Locale.ZH_CN:
        return f"{figure} 元" if currency == "CNY" else f"{figure} {currency}"
    return f"{currency} {figure}"


def format_local_time(value: object, time_zone: str, locale: Locale) -> str:
    instant = datetime.fromisoformat(value) if isinstance(value, str) else value
    if not isinstance(instant, datetime) or instant.tzinfo is None:
        raise TypeError(f"expected a timezone-aware instant, got {value!r}")
    local = instant.astimezone(zone(time_zone))
    clock = f"{local.hour:02d}:{local.minute:02d}"
    if locale is Locale.ZH_CN:
        where = "北京时间" if time_zone == DEFAULT_TIME_ZONE else time_zone
        return f"{local.year}年{local.month}月{local.day}日 {clock}（{where}）"
    return f"{local.day} {_EN_MONTHS[local.month - 1]} {local.year}, {clock} ({time_zone})"


def format_score(hundredths: object) -> str:
    if isinstance(hundredths, bool) or not isinstance(hundredths, int):
        raise TypeError(f"scores are integer hundredths, got {hundredths!r}")
    whole, fraction = divmod(hundredths, 100)
    return f"{whole}.{fraction:02d}"


def format_basis_points(bp: object) -> str:
    """Basis points as a percentage: 3000 → ``30%``, 3050 → ``30.5%``."""
    if isinstance(bp, bool) or not isinstance(bp, int):
        raise TypeError(f"shares are integer basis points, got {bp!r}")
    whole, fraction = divmod(bp, 100)
    return f"{whole}.{fraction:02d}".rstrip("0").rstrip(".") + "%"


def _defined(value: object) -> object:
    """Make a filter fail on a missing field the way StrictUndefined does, naming the field."""
    if is_undefined(value):
        str(value)  # StrictUndefined raises UndefinedError("... has no attribute 'paid_minor'")
    return value


def _locale_of(context: Context) -> Locale:
    return Locale(context["locale"])


@pass_context
def _money_filter(context: Context, amount_minor: object, currency: str = "CNY") -> str:
    return format_money(_defined(amount_minor), currency, _locale_of(context))


@pass_context
def _local_time_filter(context: Context, value: object) -> str:
    return format_local_time(_defined(value), str(context["time_zone"]), _locale_of(context))


@pass_context
def _term_filter(context: Context, code: object, kind: str) -> str:
    """A code in the reader's language (``TERMS``, then the catalog of ``texts.py``); an
    unknown code stays the code itself, never another language's words."""
    text = str(_defined(code))
    locale = _locale_of(context)
    found = TERMS[locale].get(kind, {}).get(text)
    return found or code_text(kind, text, locale is Locale.EN) or text


def quote_as_written(text: str, locale: Locale) -> str:
    """A person's own words, quoted and attributed: the reader sees they are not the platform's."""
    if locale is Locale.ZH_CN:
        return f"「{text}」（原文）"
    return f"“{text}” (as written)"


@pass_context
def _as_written_filter(context: Context, text: object) -> str:
    return quote_as_written(str(_defined(text)), _locale_of(context))


class TemplateRenderer:
    """Renders subject and body of a notice; safe to share between deliveries."""

    def __init__(self, loader: BaseLoader | None = None) -> None:
        self._env = SandboxedEnvironment(
            loader=loader or PackageLoader("alliance_notifications", "templates"),
            undefined=StrictUndefined,
            autoescape=False,  # plain-text e-mail and inbox bodies
            finalize=_shown,
            trim_blocks=True,
            lstrip_blocks=True,
        )
        self._env.filters["money"] = _money_filter
        self._env.filters["local_time"] = _local_time_filter
        self._env.filters["term"] = _term_filter
        self._env.filters["as_written"] = _as_written_filter
        self._env.filters["score"] = lambda value: format_score(_defined(value))
        self._env.filters["percent"] = lambda value: format_basis_points(_defined(value))

    def has_template(self, template: str, locale: Locale) -> bool:
        """Whether ``template`` has a text in ``locale`` (checked before a rule naming it is stored)."""
        try:
            self._env.get_template(template_file(template, locale))
        except TemplateNotFound:
            return False
        return True

    def render(
        self,
        template: str,
        locale: Locale,
        *,
        payload: Mapping[str, Any],
        recipient_name: str,
        time_zone: str = DEFAULT_TIME_ZONE,
        event_id: str = "",
        event_type: str = "",
        extra: Mapping[str, Any] | None = None,
    ) -> RenderResult:
        name = template_file(template, locale)
        variables: dict[str, Any] = {
            **(extra or {}),
            "event": dict(payload),
            "recipient_name": recipient_name,
            "locale": locale.value,
            "time_zone": time_zone,
            "event_id": event_id,
            "event_type": event_type,
        }
        try:
            compiled = self._env.get_template(name)
            subject_block = compiled.blocks.get("subject")
            if subject_block is None:
                return RenderFailure(code="template.no_subject", detail=f"{name} defines no subject block")
            subject = "".join(subject_block(compiled.new_context(variables)))
            body = compiled.render(variables)
        except TemplateNotFound:
            return RenderFailure(code="template.missing", detail=f"no template {name}")
        except TemplateSyntaxError as error:
            return RenderFailure(code="template.syntax_error", detail=f"{name}, line {error.lineno}: {error.message}")
        except UndefinedError as error:
            return RenderFailure(code="template.undefined", detail=f"{name}: {error.message}")
        except SecurityError as error:
            return RenderFailure(code="template.unsafe", detail=f"{name}: {error}")
        except Exception as error:  # any other failure is recorded on the delivery, never raised
            return RenderFailure(code="template.render_error", detail=f"{name}: {type(error).__name__}: {error}")
        # One line: a line break in a subject would let payload text forge mail headers.
        return RenderedMessage(subject=" ".join(subject.split()), body=body.strip() + "\n")
