"""Classification codes partners and agreements are described with, checked against the
tables shipped in ``tables/`` (each names its source and edition in its header)."""

from __future__ import annotations

import re
from collections.abc import Mapping
from importlib import resources

from alliance_shared.errors import DomainError


def _table(name: str) -> dict[str, str]:
    """code → name from a shipped table (``tables/<name>``: ``#`` lines say its source and edition)."""
    text = resources.files(__package__).joinpath("tables", name).read_text(encoding="utf-8")
    rows = (line.split("\t") for line in text.splitlines() if line and not line.startswith("#"))
    return {code: label for code, label in list(rows)[1:]}


#: GB/T 2260 administrative divisions (provinces, prefectures and the counties shipped; see the table's header).
REGIONS: Mapping[str, str] = _table("regions_gb2260.tsv")
#: GB/T 4754-2017 sections (a letter) and divisions (letter + 2 digits).
SECTORS: Mapping[str, str] = _table("sectors_gbt4754_2017.tsv")
REGION_TABLE = "GB/T 2260 (MCA, 2021)"
SECTOR_TABLE = "GB/T 4754-2017"

_SIX_DIGITS = re.compile(r"^[0-9]{6}$")
#: GB/T 4754: section letter A–T, then division (2), group (3) or class (4) digits.
_SECTOR = re.compile(r"^[A-T]([0-9]{2,4})?$")
#: Vocational major catalogue: category (2 digits), class (4) or major (6).
_MAJOR = re.compile(r"^[0-9]{2}([0-9]{2}){0,2}$")


def validate_region_code(code: str) -> str:
    """``code`` unchanged when the division table has it, or DomainError ``partner.region_code_invalid``."""
    if not _SIX_DIGITS.match(code):
        raise DomainError("partner.region_code_invalid", "a region code is exactly 6 digits", field="region_code")
    if code not in REGIONS:
        raise DomainError(
            "partner.region_code_invalid",
            f"{code} is not an administrative division in the code table ({REGION_TABLE})",
            field="region_code",
            table=REGION_TABLE,
        )
    return code


def validate_sector_code(code: str) -> str:
    """``code`` unchanged when GB/T 4754-2017 has its section and division, or DomainError
    ``partner.sector_code_invalid`` (3- and 4-digit codes are checked down to their division)."""
    if not _SECTOR.match(code):
        raise DomainError(
            "partner.sector_code_invalid",
            "an industry code is a section letter A–T, optionally followed by 2 to 4 digits",
            field="sector_code",
        )
    if code[:3] not in SECTORS:
        raise DomainError(
            "partner.sector_code_invalid",
            f"{code[:3]} is not a division of section {code[0]} in {SECTOR_TABLE}",
            field="sector_code",
            table=SECTOR_TABLE,
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
