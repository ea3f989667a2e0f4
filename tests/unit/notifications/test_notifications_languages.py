"""Issue #14 item 19: a notice never mixes languages.

Every routed template is rendered in zh-CN and in en from its example payload (whose free
text is partly English, partly Chinese, as people write it). Once a person's quoted words
and the proper names (titles, partner and programme names) are taken out, the English
notice has no Chinese character left, and the Chinese notice has no English phrase — in
particular none of the English catalog's texts.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from typing import Any

import pytest

from alliance_evaluation.domain.default_framework import default_framework
from alliance_notifications.domain.default_rules import DEFAULT_RULES
from alliance_notifications.domain.recipients import Locale
from alliance_notifications.domain.templates import TERMS, RenderedMessage, TemplateRenderer
from alliance_notifications.domain.texts import CODE_TEXTS
from tests.unit.notifications.notifications_support import EXAMPLE_PAYLOADS

RENDERER = TemplateRenderer()
TEMPLATES = sorted({rule.template for rule in DEFAULT_RULES})
RECIPIENT = {Locale.ZH_CN: "王老师", Locale.EN: "Anna Schmidt"}

#: A person's words as ``as_written`` quotes them (and the college report's technical detail).
QUOTED = {
    Locale.ZH_CN: re.compile(r"「[^」]*」(（原文）)?", re.S),
    Locale.EN: re.compile(r"\u201c[^\u201d]*\u201d( \(as written\))?", re.S),
}
#: Payload fields holding proper names: shown as their owner wrote them.
NAME_FIELDS = frozenset({"title", "name", "partner_name"})
CJK = re.compile(r"[\u3000-\u303f\u3400-\u9fff\uff00-\uffef]")
#: Two English words in a row: a phrase, not an id, a code or a unit.
ENGLISH_PHRASE = re.compile(r"[A-Za-z]{2,}[ ,;:]+[A-Za-z]{2,}")


def proper_names(value: Any) -> Iterator[str]:
    if isinstance(value, Mapping):
        for key, item in value.items():
            if key in NAME_FIELDS and isinstance(item, str):
                yield item
            else:
                yield from proper_names(item)
    elif isinstance(value, list | tuple):
        for item in value:
            yield from proper_names(item)


def platform_text(template: str, locale: Locale) -> str:
    """The rendered notice (subject and body) without quoted words and proper names."""
    payload = EXAMPLE_PAYLOADS[template]
    rendered = RENDERER.render(template, locale, payload=payload, recipient_name=RECIPIENT[locale], event_id="evt-42")
    assert isinstance(rendered, RenderedMessage), rendered
    text = QUOTED[locale].sub(" ", f"{rendered.subject}\n{rendered.body}")
    for name in sorted(set(proper_names(payload)), key=len, reverse=True):
        text = text.replace(name, " ")
    return text.replace(RECIPIENT[locale], " ")


def english_catalog_phrases() -> set[str]:
    phrases = {texts[1] for kind in CODE_TEXTS.values() for texts in kind.values()}
    phrases |= {text for kind in TERMS[Locale.EN].values() for text in kind.values()}
    return {p for p in phrases if " " in p}


@pytest.mark.parametrize("template", TEMPLATES)
def test_the_english_notice_has_no_chinese_outside_quoted_words_and_names(template: str) -> None:
    text = platform_text(template, Locale.EN)

    assert not CJK.findall(text), text


@pytest.mark.parametrize("template", TEMPLATES)
def test_the_chinese_notice_has_no_english_phrase_outside_quoted_words_and_names(template: str) -> None:
    text = platform_text(template, Locale.ZH_CN)

    assert not ENGLISH_PHRASE.findall(text), text
    assert not [phrase for phrase in english_catalog_phrases() if phrase in text]


def test_a_persons_english_reason_is_quoted_as_their_words_in_a_chinese_notice() -> None:
    rendered = RENDERER.render(
        "evaluation.rectification.returned",
        Locale.ZH_CN,
        payload=EXAMPLE_PAYLOADS["evaluation.rectification.returned"],
        recipient_name="王老师",
    )

    assert isinstance(rendered, RenderedMessage)
    assert "退回原因：「the evidence does not cover the spring term」（原文）" in rendered.body


def test_generated_requirements_are_rendered_from_codes_and_a_supervisors_own_are_quoted() -> None:
    payload = dict(EXAMPLE_PAYLOADS["evaluation.rectification.ordered"])
    generated = RENDERER.render("evaluation.rectification.ordered", Locale.ZH_CN, payload=payload, recipient_name="x")
    by_hand = RENDERER.render(
        "evaluation.rectification.ordered", Locale.EN, payload={**payload, "by_hand": True}, recipient_name="x"
    )

    assert isinstance(generated, RenderedMessage)
    assert isinstance(by_hand, RenderedMessage)
    assert "[TT-01] 企业提供实习岗位数达成率（存在风险）" in generated.body
    assert "offer at least 40 internship posts" not in generated.body
    assert "The supervisor asks: \u201coffer at least 40 internship posts\u201d (as written)" in by_hand.body


def test_an_unknown_code_is_shown_as_the_code_not_as_another_languages_words() -> None:
    payload = {**EXAMPLE_PAYLOADS["evaluation.formality_risk.flagged"], "reasons": ["brand_new_reason"]}

    rendered = RENDERER.render("evaluation.formality_risk.flagged", Locale.ZH_CN, payload=payload, recipient_name="x")

    assert isinstance(rendered, RenderedMessage)
    assert "- brand_new_reason" in rendered.body


def test_every_catalog_code_has_both_languages_and_the_indicators_are_the_default_frameworks() -> None:
    for kind, codes in CODE_TEXTS.items():
        for code, (zh, en) in codes.items():
            assert CJK.search(zh), (kind, code)
            assert en, (kind, code)
            assert not CJK.search(en), (kind, code)
    shipped = {i.code: (i.name_zh, i.name_en) for i in default_framework().indicators}
    catalog = {code: texts for code, texts in CODE_TEXTS["indicator"].items() if code != "COMPOSITE"}
    assert catalog == shipped
