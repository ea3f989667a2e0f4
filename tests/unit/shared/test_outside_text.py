"""Text from outside shown as plain data (issue #15 item 9): ``alliance_shared.outside_text``."""

from __future__ import annotations

import unicodedata

from hypothesis import given
from hypothesis import strategies as st

from alliance_shared.outside_text import ELLIPSIS, plain_text

HIDDEN = ("Cc", "Cf", "Zl", "Zp")


def test_markup_stays_as_its_characters_and_what_changes_the_display_goes() -> None:
    hostile = "<script>alert(1)</script>{{ 7*7 }}{% if x %}\u202egnp.exe\u200b\ufeff\x1b[31mred\r\nSubject: forged"
    assert plain_text(hostile, 500) == "<script>alert(1)</script>{{ 7*7 }}{% if x %}gnp.exe [31mred  Subject: forged"


def test_a_long_text_is_cut_to_the_limit_with_an_ellipsis() -> None:
    assert plain_text("x" * 5000, 1000) == "x" * 999 + ELLIPSIS
    assert plain_text("x" * 1000, 1000) == "x" * 1000


@given(st.text(), st.integers(min_value=1, max_value=300))
def test_nothing_hidden_survives_and_nothing_is_longer_than_its_limit(text: str, limit: int) -> None:
    shown = plain_text(text, limit)
    assert len(shown) <= limit
    assert not [c for c in shown if unicodedata.category(c) in HIDDEN]
    if len(shown) < len(text) and shown.endswith(ELLIPSIS):
        assert shown[:-1] in plain_text(text, len(text))
