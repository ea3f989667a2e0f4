"""Issue #14 item 20: every problem code the services raise has its title in zh-CN and
en, and every detail template raised in the code base its Chinese counterpart.

The codes are collected from the source itself (``ast``): every ``ProblemError``,
``problem(...)``, ``DomainError`` (and subclass) and ``AuthenticationError`` raised with a
literal code, every ``not found`` tuple the write path reads, and the few codes chosen at
run time from a literal listed below. A new code or a new detail without its texts in
``alliance_shared/web/problem_texts.py`` fails here.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

import pytest

from alliance_shared.web.problem_texts import (
    DEFAULT_LANGUAGE,
    PROBLEM_TEXTS,
    STATUS_TITLES,
    chinese_detail,
    localize,
    negotiate,
)

REPO = Path(__file__).resolve().parents[3]
SOURCES = ("services/registry/src", "services/funding/src", "services/evaluation/src", "services/notifications/src")
SHARED = "shared/src"
ERRORS = frozenset(
    {
        "DomainError", "InvalidInput", "NotFound", "Conflict", "Forbidden", "PreconditionFailed",
        "RateLimited", "EventTooLarge", "AuthenticationError",
    }
)  # fmt: skip
#: Codes picked at run time from a literal (a loop over limits, a rate limit's code
#: argument, the HTTP error mapping, the ASGI guards): each must still occur in the source.
INDIRECT = (
    "application.approval_over_request", "application.approval_over_cap", "application.approval_over_available",
    "webhook.verify_rate_limited", "route.not_found", "route.method_not_allowed", "request.too_large", "http.error",
    "request.bad_path", "idempotency.key_too_long", "idempotency.key_reused", "idempotency.in_progress",
)  # fmt: skip

Site = tuple[str, str | None, str]  # code, detail template (None: not a literal), where


def _python_files() -> Iterator[Path]:
    for base in (*SOURCES, SHARED):
        yield from sorted((REPO / base).rglob("*.py"))


def _module_strings(tree: ast.Module) -> dict[str, str]:
    found: dict[str, str] = {}
    for node in tree.body:
        if isinstance(node, ast.Assign | ast.AnnAssign) and isinstance(node.value, ast.Constant):
            targets = node.targets if isinstance(node, ast.Assign) else [node.target]
            for target in targets:
                if isinstance(target, ast.Name) and isinstance(node.value.value, str):
                    found[target.id] = node.value.value
    return found


def _template(node: ast.expr | None, strings: dict[str, str]) -> str | None:
    """A literal or f-string as its template (``{expression}`` for each value)."""
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        return node.value
    if isinstance(node, ast.Name):
        return strings.get(node.id)
    if isinstance(node, ast.JoinedStr):
        return "".join(
            str(part.value) if isinstance(part, ast.Constant) else "{" + ast.unparse(part.value) + "}"
            for part in node.values
            if isinstance(part, ast.Constant | ast.FormattedValue)
        )
    return None


def _call_site(node: ast.Call, strings: dict[str, str]) -> tuple[str | None, str | None] | None:
    name = node.func.id if isinstance(node.func, ast.Name) else getattr(node.func, "attr", None)
    keywords = {k.arg: k.value for k in node.keywords}
    args: list[ast.expr | None] = [*node.args, None, None, None, None]
    if name == "ProblemError":
        code, detail = args[1] or keywords.get("code"), args[2] or keywords.get("detail")
    elif name == "problem" and len(node.args) >= 3:
        code, detail = args[2], args[3] or keywords.get("detail")
    elif name in ERRORS:
        code, detail = args[0] or keywords.get("code"), args[1] or keywords.get("detail")
    else:
        return None
    return _template(code, strings), _template(detail, strings)


def _not_found_tuple(node: ast.expr, strings: dict[str, str]) -> Site | None:
    """``("agreement.not_found", "agreement")``: the write path says ``no agreement <id>``."""
    if not (isinstance(node, ast.Tuple) and len(node.elts) == 2):
        return None
    code, what = (_template(e, strings) for e in node.elts)
    if code is None or what is None or "." not in code:
        return None
    return code, f"no {what} {{aggregate_id}}", ""


def raised() -> list[Site]:
    sites: list[Site] = []
    for path in _python_files():
        tree = ast.parse(path.read_text())
        strings = _module_strings(tree)
        where = str(path.relative_to(REPO))
        for node in ast.walk(tree):
            if isinstance(node, ast.Call):
                if getattr(node.func, "id", None) == "InvalidTransition":
                    entity = _template(node.args[0], strings) if node.args else None
                    sites.append(
                        (f"{entity}.illegal_transition", "cannot {action} a {entity} that is {current}", where)
                    )
                    continue
                found = _call_site(node, strings)
                if found is not None and found[0] is not None and "{" not in found[0]:
                    sites.append((found[0], found[1], f"{where}:{node.lineno}"))
                for keyword in node.keywords:
                    tuple_site = _not_found_tuple(keyword.value, strings) if keyword.arg == "not_found" else None
                    if tuple_site is not None:
                        sites.append((tuple_site[0], tuple_site[1], f"{where}:{node.lineno}"))
            if isinstance(node, ast.Assign) and any(
                isinstance(t, ast.Name) and "NOT_FOUND" in t.id for t in node.targets
            ):
                tuple_site = _not_found_tuple(node.value, strings)
                if tuple_site is not None:
                    sites.append((tuple_site[0], tuple_site[1], f"{where}:{node.lineno}"))
    return sites


SITES = raised()


def test_the_collector_sees_the_code_base() -> None:
    codes = {code for code, _, _ in SITES}
    assert len(codes) > 150
    assert {"agreement.not_found", "auth.token_expired", "webhook.url_not_https", "request.invalid"} <= codes
    sources = "\n".join(path.read_text() for path in _python_files())
    assert [code for code in INDIRECT if f'"{code}"' not in sources] == []


def test_every_code_raised_has_a_title_in_both_languages() -> None:
    missing = sorted(({code for code, _, _ in SITES} | set(INDIRECT)) - set(PROBLEM_TEXTS))
    assert missing == [], f"add these codes to alliance_shared/web/problem_texts.py: {missing}"
    for code, texts in PROBLEM_TEXTS.items():
        assert texts.title_zh, code
        assert texts.title_en, code
        assert texts.title_zh != texts.title_en, code


def test_every_literal_detail_has_its_chinese_text() -> None:
    missing = sorted(
        {
            (code, detail)
            for code, detail, _ in SITES
            if detail is not None and detail not in PROBLEM_TEXTS[code].details
        }
    )
    assert missing == [], f"add these detail templates to alliance_shared/web/problem_texts.py: {missing}"


def test_chinese_templates_use_exactly_the_values_of_their_english_ones() -> None:
    for code, texts in PROBLEM_TEXTS.items():
        for english, chinese in texts.details.items():
            assert sorted(_placeholders(english)) == sorted(_placeholders(chinese)), (code, english)


def _placeholders(template: str) -> list[str]:
    parts = template.replace("{{", "").split("{")[1:]
    return [part.split("}")[0] for part in parts]


@pytest.mark.parametrize(
    ("header", "language"),
    [
        (None, "zh-CN"),
        ("", "zh-CN"),
        ("en", "en"),
        ("en-GB,en;q=0.9", "en"),
        ("zh-CN,zh;q=0.9,en;q=0.8", "zh-CN"),
        ("zh-TW", "zh-CN"),
        ("en;q=0.4, zh;q=0.8", "zh-CN"),
        ("de-DE, en;q=0.5", "en"),
        ("de-DE", "zh-CN"),
        ("*", "zh-CN"),
        ("en;q=0, zh;q=0.1", "zh-CN"),
        ("en;q=bogus", "zh-CN"),
    ],
)
def test_accept_language_picks_chinese_or_english(header: str | None, language: str) -> None:
    assert negotiate(header) == language
    assert DEFAULT_LANGUAGE == "zh-CN"


def test_a_detail_keeps_its_values_in_chinese_and_stays_as_raised_in_english() -> None:
    detail = "unified social credit code 91440300MA5G4WNN43 is already registered to partner ent-042"

    assert localize("partner.credit_code_taken", 409, detail, "en") == ("Credit code already registered", detail)
    assert localize("partner.credit_code_taken", 409, detail, "zh-CN") == (
        "统一社会信用代码已登记",
        "统一社会信用代码 91440300MA5G4WNN43 已由合作单位 ent-042 登记",
    )


def test_a_detail_matching_no_template_gets_the_codes_sentence_not_a_mix() -> None:
    entry = PROBLEM_TEXTS["application.ineligible"]

    assert chinese_detail(entry, "the enterprise must be certified; the college must be in region 44") == (
        "不符合申报条件；未满足的条件见 failed_rules"
    )


def test_an_unknown_code_gets_its_status_title_and_keeps_its_detail() -> None:
    assert localize("brand.new_code", 409, "it clashed", "zh-CN") == (STATUS_TITLES[409][0], "it clashed")
    assert localize("brand.new_code", 409, "it clashed", "en") == ("Conflict", "it clashed")
