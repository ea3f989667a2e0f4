"""Text from outside the platform (a college system's header or payload, a receiver's
answer) made safe to show as plain data.

``plain_text`` keeps the words and drops what could change how they are displayed: control
characters and line or paragraph separators (a line break would let the text forge a line
of a notice, an escape sequence recolour a terminal) become spaces; invisible format characters (bidirectional overrides
and isolates that reorder what a reader sees, zero-width characters, the byte-order mark)
are removed; and the result is cut to a documented length with an ellipsis, so a reader
can tell it was cut. Markup is left as the characters it is: whoever renders the text
escapes it for their medium (HTML autoescape in the console, JSON in webhooks).
"""

from __future__ import annotations

import unicodedata
from typing import Final

ELLIPSIS: Final = "…"


def plain_text(value: str, limit: int) -> str:
    """``value`` without control or format characters, at most ``limit`` characters long
    (a longer text ends in ``…``)."""
    kept: list[str] = []
    for char in value:
        category = unicodedata.category(char)
        if category in ("Cc", "Zl", "Zp"):
            kept.append(" ")
        elif category != "Cf":
            kept.append(char)
    text = "".join(kept)
    if len(text) <= limit:
        return text
    return text[: max(limit - len(ELLIPSIS), 0)] + ELLIPSIS
