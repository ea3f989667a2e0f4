"""Text from outside in a notice is data, never markup (issue #15 item 9): whatever a
college system put into a rejected report's headers or payload, the rendered notice shows
it literally — never evaluated as a template, without control or format characters, cut
to ``VALUE_LIMIT``."""

from __future__ import annotations

import unicodedata

import pytest

from alliance_notifications.domain.recipients import Locale
from alliance_notifications.domain.templates import VALUE_LIMIT, RenderedMessage, TemplateRenderer
from alliance_shared.outside_text import plain_text
from tests.unit.notifications.notifications_support import EXAMPLE_PAYLOADS

HOSTILE = "<img src=x onerror=alert(1)>{{ 7*7 }}{% for x in range(3) %}loop{% endfor %}\u202e\u200b\x07\r\nForged: line"


@pytest.mark.parametrize("locale", list(Locale))
def test_hostile_text_in_a_rejection_notice_is_shown_literally_and_plainly(locale: Locale) -> None:
    payload = {
        **EXAMPLE_PAYLOADS["evaluation.college_report.rejected"],
        "original_event_id": HOSTILE,
        "original_event_type": HOSTILE,
        "report_id": HOSTILE,
        "detail": HOSTILE + "x" * 5000,
    }
    notice = TemplateRenderer().render(
        "evaluation.college_report.rejected", locale, payload=payload, recipient_name=HOSTILE, event_id="evt-1"
    )
    assert isinstance(notice, RenderedMessage), notice
    literal = "<img src=x onerror=alert(1)>{{ 7*7 }}{% for x in range(3) %}loop{% endfor %}"
    assert notice.body.count(literal) == 5  # greeting, id, type, report id, detail: none evaluated
    assert "49loop" not in notice.body  # what the text would become if a template ran it
    assert "looploop" not in notice.body
    assert "\nForged: line" not in notice.body
    hidden = [c for c in notice.subject + notice.body if c != "\n" and unicodedata.category(c) in ("Cc", "Cf")]
    assert not hidden
    opening, closing = ("「", "」") if locale is Locale.ZH_CN else ("“", "”")
    assert f"{opening}{plain_text(HOSTILE, VALUE_LIMIT)}{closing}" in notice.body  # quoted as received
    shown_detail = plain_text(HOSTILE + "x" * 5000, VALUE_LIMIT)
    assert shown_detail.endswith("x…")
    assert shown_detail in notice.body  # the 5,000-character detail is cut to the limit
