from __future__ import annotations

from importlib.resources import files

import pytest
from hypothesis import given
from hypothesis import strategies as st
from jinja2 import DictLoader

from alliance_notifications.domain.default_rules import DEFAULT_RULES
from alliance_notifications.domain.recipients import Locale
from alliance_notifications.domain.templates import (
    RenderedMessage,
    RenderFailure,
    TemplateRenderer,
    format_basis_points,
    format_local_time,
    format_money,
    template_file,
)
from tests.unit.notifications.notifications_support import EXAMPLE_PAYLOADS

RENDERER = TemplateRenderer()
TEMPLATE_DIR = files("alliance_notifications") / "templates"
TEMPLATES = sorted({rule.template for rule in DEFAULT_RULES})


def render(template: str, locale: Locale, **overrides: object) -> RenderedMessage | RenderFailure:
    return RENDERER.render(
        template,
        locale,
        payload={**EXAMPLE_PAYLOADS[template], **overrides},
        recipient_name="王老师" if locale is Locale.ZH_CN else "Anna Schmidt",
        time_zone="Asia/Shanghai" if locale is Locale.ZH_CN else "Europe/Berlin",
        event_id="evt-42",
    )


@pytest.mark.parametrize("template", TEMPLATES)
def test_every_routed_template_exists_in_both_locales_with_an_example(template: str) -> None:
    for locale in Locale:
        assert TEMPLATE_DIR.joinpath(template_file(template, locale)).is_file()
    assert template in EXAMPLE_PAYLOADS


@pytest.mark.parametrize("locale", list(Locale))
@pytest.mark.parametrize("template", TEMPLATES)
def test_every_routed_template_renders_its_example(template: str, locale: Locale) -> None:
    result = render(template, locale)

    assert isinstance(result, RenderedMessage), result
    assert result.subject
    assert "\n" not in result.subject
    assert "{{" not in result.body
    assert "{%" not in result.body
    assert "evt-42" in result.body
    if locale is Locale.ZH_CN:
        assert result.body.startswith("王老师，您好：")
    else:
        assert result.body.startswith("Dear Anna Schmidt,")


def test_chinese_and_english_render_money_and_time_for_the_recipient() -> None:
    zh = render("funding.recovery.ordered", Locale.ZH_CN)
    en = render("funding.recovery.ordered", Locale.EN)

    assert isinstance(zh, RenderedMessage)
    assert isinstance(en, RenderedMessage)
    assert "需退回资金 50,000.01 元" in zh.body
    assert "退回期限：2026年8月31日 23:59（北京时间）" in zh.body
    assert "must repay CNY 50,000.01" in en.body
    assert "Due by: 31 Aug 2026, 17:59 (Europe/Berlin)" in en.body


def test_vocabulary_codes_are_translated() -> None:
    zh = render("evaluation.result.completed", Locale.ZH_CN)

    assert isinstance(zh, RenderedMessage)
    assert zh.subject == "中期评价结果：良好（agr-7f3c）"
    assert "综合得分：87.25 分" in zh.body


def test_missing_template_is_a_failure_result_not_an_exception() -> None:
    result = RENDERER.render("funding.no_such.thing", Locale.EN, payload={}, recipient_name="x")

    assert result == RenderFailure(code="template.missing", detail="no template funding.no_such.thing.en.txt.j2")


def test_a_payload_missing_a_field_is_a_failure_result() -> None:
    payload = dict(EXAMPLE_PAYLOADS["funding.tranche.paid"])
    del payload["paid_minor"]

    result = RENDERER.render("funding.tranche.paid", Locale.ZH_CN, payload=payload, recipient_name="x")

    assert isinstance(result, RenderFailure)
    assert result.code == "template.undefined"
    assert "paid_minor" in result.detail


def test_a_float_amount_is_refused_rather_than_rounded() -> None:
    result = render("funding.tranche.paid", Locale.EN, paid_minor=17_500_000.5)

    assert isinstance(result, RenderFailure)
    assert result.code == "template.render_error"
    assert "integer minor units" in result.detail


def test_payload_text_cannot_break_the_subject_into_headers() -> None:
    result = render("evaluation.college_report.rejected", Locale.EN, reason_code="report.x\r\nBcc: evil@example.com")

    assert isinstance(result, RenderedMessage)
    assert "\n" not in result.subject
    assert "\r" not in result.subject


def test_templates_run_in_a_sandbox() -> None:
    renderer = TemplateRenderer(
        DictLoader(
            {
                "evil.en.txt.j2": "{% block subject %}{{ event.__class__.__mro__ }}{% endblock %}",
                "broken.en.txt.j2": "{% block subject %}{% if %}{% endblock %}",
                "nosubject.en.txt.j2": "just a body",
            }
        )
    )

    evil = renderer.render("evil", Locale.EN, payload={}, recipient_name="x")
    broken = renderer.render("broken", Locale.EN, payload={}, recipient_name="x")
    no_subject = renderer.render("nosubject", Locale.EN, payload={}, recipient_name="x")

    assert isinstance(evil, RenderFailure)
    assert evil.code in ("template.unsafe", "template.undefined")
    assert isinstance(broken, RenderFailure)
    assert broken.code == "template.syntax_error"
    assert isinstance(no_subject, RenderFailure)
    assert no_subject.code == "template.no_subject"


@given(st.integers(min_value=-(10**15), max_value=10**15))
def test_money_is_exact_yuan_with_two_decimals(amount_minor: int) -> None:
    zh = format_money(amount_minor, "CNY", Locale.ZH_CN)
    en = format_money(amount_minor, "CNY", Locale.EN)

    figure = zh.removesuffix(" 元")
    assert en == f"CNY {figure}"
    whole, _, fraction = figure.partition(".")
    assert len(fraction) == 2
    sign = -1 if whole.startswith("-") else 1
    assert sign * (int(whole.lstrip("-").replace(",", "")) * 100 + int(fraction)) == amount_minor


def test_money_formatting_examples() -> None:
    assert format_money(0, "CNY", Locale.ZH_CN) == "0.00 元"
    assert format_money(5, "CNY", Locale.EN) == "CNY 0.05"
    assert format_money(123_456_789, "USD", Locale.ZH_CN) == "1,234,567.89 USD"
    with pytest.raises(TypeError):
        format_money(True, "CNY", Locale.EN)


def test_time_and_share_formatting() -> None:
    assert format_local_time("2026-01-01T16:30:00Z", "Asia/Shanghai", Locale.ZH_CN) == "2026年1月2日 00:30（北京时间）"
    assert format_local_time("2026-07-01T10:00:00Z", "Europe/Berlin", Locale.EN) == "1 Jul 2026, 12:00 (Europe/Berlin)"
    with pytest.raises(TypeError):
        format_local_time("2026-07-01T10:00:00", "Europe/Berlin", Locale.EN)
    assert format_basis_points(3000) == "30%"
    assert format_basis_points(3050) == "30.5%"
    assert format_basis_points(1) == "0.01%"
