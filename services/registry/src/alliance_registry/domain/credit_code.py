"""Unified social credit codes of organisations (GB 32100-2015).

18 characters: registration authority (1), organisation type (1), administrative
division (6), organisation code (9, its last character a check character of its own),
and a check character over the first 17. Only the final check character is verified
here; the embedded organisation code check is optional in the brief and not enforced.
"""

from __future__ import annotations

from alliance_shared.errors import DomainError

CHARSET = "0123456789ABCDEFGHJKLMNPQRTUWXY"
WEIGHTS = (1, 3, 9, 27, 19, 26, 16, 17, 20, 29, 25, 13, 8, 24, 10, 30, 28)
CODE_LENGTH = 18
_VALUE = {character: value for value, character in enumerate(CHARSET)}


def check_character(first17: str) -> str:
    """The check character for the first 17 characters of a code (ValueError if they are not 17 code characters)."""
    if len(first17) != CODE_LENGTH - 1 or any(c not in _VALUE for c in first17):
        raise ValueError(f"{first17!r} is not 17 characters of {CHARSET}")
    weighted = sum(_VALUE[c] * weight for c, weight in zip(first17, WEIGHTS, strict=True))
    return CHARSET[(31 - weighted % 31) % 31]


def with_check_character(first17: str) -> str:
    """A valid 18-character code: ``first17`` followed by its check character.

    Tests and fixtures use it to make codes that pass validation.
    """
    return first17 + check_character(first17)


def credit_code_problem(code: str) -> str | None:
    """Why ``code`` is not a valid unified social credit code, or None when it is."""
    if len(code) != CODE_LENGTH:
        return f"must be {CODE_LENGTH} characters, not {len(code)}"
    bad = sorted({c for c in code if c not in _VALUE})
    if bad:
        return f"contains characters outside the code's alphabet: {''.join(bad)}"
    if check_character(code[:-1]) != code[-1]:
        return "check character does not match"
    return None


def is_valid_credit_code(code: str) -> bool:
    return credit_code_problem(code) is None


def validate_credit_code(code: str) -> str:
    """``code`` unchanged, or DomainError ``partner.credit_code_invalid`` saying why."""
    problem = credit_code_problem(code)
    if problem is not None:
        raise DomainError("partner.credit_code_invalid", f"unified social credit code {problem}", field="credit_code")
    return code
