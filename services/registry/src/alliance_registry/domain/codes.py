"""Classification codes partners and agreements are described with."""

from __future__ import annotations

import re

from alliance_shared.errors import DomainError

#: Province-level divisions of GB/T 2260 (the first two digits of a region code); 71, 81
#: and 82 are Taiwan, Hong Kong and Macao.
PROVINCE_PREFIXES = frozenset(
    {
        *("11", "12", "13", "14", "15"),
        *("21", "22", "23"),
        *("31", "32", "33", "34", "35", "36", "37"),
        *("41", "42", "43", "44", "45", "46"),
        *("50", "51", "52", "53", "54"),
        *("61", "62", "63", "64", "65"),
        *("71", "81", "82"),
    }
)

_SIX_DIGITS = re.compile(r"^[0-9]{6}$")
#: GB/T 4754: section letter A–T, then division (2), group (3) or class (4) digits.
_SECTOR = re.compile(r"^[A-T]([0-9]{2,4})?$")
#: Vocational major catalogue: category (2 digits), class (4) or major (6).
_MAJOR = re.compile(r"^[0-9]{2}([0-9]{2}){0,2}$")


def validate_region_code(code: str) -> str:
    """``code`` unchanged, or DomainError ``partner.region_code_invalid``."""
    if not _SIX_DIGITS.match(code):
        raise DomainError("partner.region_code_invalid", "a region code is exactly 6 digits", field="region_code")
    if code[:2] not in PROVINCE_PREFIXES:
        raise DomainError(
            "partner.region_code_invalid", f"{code[:2]} is not a province-level division", field="region_code"
        )
    return code


def validate_sector_code(code: str) -> str:
    """``code`` unchanged, or DomainError ``partner.sector_code_invalid``."""
    if not _SECTOR.match(code):
        raise DomainError(
            "partner.sector_code_invalid",
            "an industry code is a section letter A–T, optionally followed by 2 to 4 digits",
            field="sector_code",
        )
    return code


def validate_major_codes(codes: tuple[str, ...], field: str) -> tuple[str, ...]:
    """The codes sorted without duplicates, or DomainError ``major_code_invalid``."""
    for code in codes:
        if not _MAJOR.match(code):
            raise DomainError("major_code_invalid", f"{code!r} is not a 2, 4 or 6-digit major code", field=field)
    return tuple(sorted(set(codes)))


def province_of(region_code: str) -> str:
    return region_code[:2]
