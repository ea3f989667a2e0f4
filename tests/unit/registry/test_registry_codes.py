"""Unified social credit codes (GB 32100-2015), region and sector codes."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from alliance_registry.domain.codes import (
    REGIONS,
    SECTORS,
    validate_major_codes,
    validate_region_code,
    validate_sector_code,
)
from alliance_registry.domain.credit_code import (
    CHARSET,
    check_character,
    credit_code_problem,
    is_valid_credit_code,
    validate_credit_code,
    with_check_character,
)
from alliance_shared.errors import DomainError

# Codes of real organisations, published on their licences.
REAL_CODES = ("91350100M000100Y43", "91110000802100433B", "91440300708461136T")

first17 = st.text(alphabet=CHARSET, min_size=17, max_size=17)


@pytest.mark.parametrize("code", REAL_CODES)
def test_published_codes_are_valid(code: str) -> None:
    assert is_valid_credit_code(code)
    assert validate_credit_code(code) == code


def test_check_character_31_becomes_0() -> None:
    # weighted sum ≡ 0 (mod 31) → 31 - 0 = 31 → "0"
    assert check_character("0" * 17) == "0"


def test_wrong_check_character_is_refused() -> None:
    code = REAL_CODES[0]
    wrong = code[:-1] + ("0" if code[-1] != "0" else "1")
    assert credit_code_problem(wrong) == "check character does not match"
    with pytest.raises(DomainError) as raised:
        validate_credit_code(wrong)
    assert raised.value.code == "partner.credit_code_invalid"
    assert raised.value.extensions == {"field": "credit_code"}


@pytest.mark.parametrize("letter", ["I", "O", "S", "V", "Z", "a", "-"])
def test_characters_outside_the_alphabet_are_refused(letter: str) -> None:
    code = "9135010" + letter + "M000100Y43"
    assert not is_valid_credit_code(code)
    problem = credit_code_problem(code)
    assert problem is not None
    assert "alphabet" in problem


@pytest.mark.parametrize("code", ["", "91350100M000100Y4", "91350100M000100Y433"])
def test_wrong_length_is_refused(code: str) -> None:
    problem = credit_code_problem(code)
    assert problem is not None
    assert "18 characters" in problem


def test_check_character_needs_17_code_characters() -> None:
    with pytest.raises(ValueError, match="17 characters"):
        check_character("9135")


@given(first17)
def test_any_prefix_with_its_check_character_validates(prefix: str) -> None:
    code = with_check_character(prefix)
    assert len(code) == 18
    assert is_valid_credit_code(code)


@given(first17, st.integers(min_value=0, max_value=17), st.sampled_from(CHARSET))
def test_any_single_character_change_is_detected(prefix: str, position: int, replacement: str) -> None:
    code = with_check_character(prefix)
    if code[position] == replacement:
        return  # not a change
    changed = code[:position] + replacement + code[position + 1 :]
    assert not is_valid_credit_code(changed)


@pytest.mark.parametrize(
    "code", ["110000", "110108", "440300", "440305", "445300", "652300", "650102", "710000", "810000", "820000"]
)
def test_region_codes_in_the_table(code: str) -> None:
    assert validate_region_code(code) == code


def test_the_region_table_ships_provinces_prefectures_and_the_counties_in_use() -> None:
    provinces = [c for c in REGIONS if c.endswith("0000")]
    prefectures = [c for c in REGIONS if c.endswith("00") and not c.endswith("0000")]
    counties = sorted(c for c in REGIONS if not c.endswith("00"))
    assert (len(provinces), len(prefectures)) == (34, 333)
    assert counties == [
        "110108",
        "310115",
        "320505",
        "330106",
        "440103",
        "440106",
        "440305",
        "440306",
        "510107",
        "650102",
    ]
    assert REGIONS["440305"] == "南山区"
    # Every prefecture and county sits under a shipped province.
    assert all(f"{c[:2]}0000" in REGIONS for c in REGIONS)


@pytest.mark.parametrize(
    "code",
    ["44030", "4403051", "44030a", "000000", "100000", "660000", "700000", "990000", "440399", "110100", "441100"],
)
def test_bad_region_codes(code: str) -> None:
    with pytest.raises(DomainError) as raised:
        validate_region_code(code)
    assert raised.value.code == "partner.region_code_invalid"


@pytest.mark.parametrize("code", ["A", "A01", "C", "C39", "I65", "C391", "C3911", "S96", "T97"])
def test_sector_codes(code: str) -> None:
    assert validate_sector_code(code) == code


def test_the_sector_table_has_every_section_and_division_of_gbt_4754_2017() -> None:
    assert len([c for c in SECTORS if len(c) == 1]) == 20
    divisions = [c for c in SECTORS if len(c) == 3]
    assert sorted(int(c[1:]) for c in divisions) == list(range(1, 98))
    assert all(c[0] in SECTORS for c in divisions)
    assert SECTORS["C39"] == "计算机、通信和其他电子设备制造业"


@pytest.mark.parametrize("code", ["", "c39", "C3", "C39111", "U10", "39", "T96", "G19", "C44", "A06", "D4711"])
def test_bad_sector_codes(code: str) -> None:
    with pytest.raises(DomainError) as raised:
        validate_sector_code(code)
    assert raised.value.code == "partner.sector_code_invalid"


def test_major_codes_are_sorted_and_deduplicated() -> None:
    assert validate_major_codes(("510201", "46", "4601", "510201"), "majors") == ("46", "4601", "510201")
    with pytest.raises(DomainError) as raised:
        validate_major_codes(("51020",), "majors")
    assert raised.value.extensions == {"field": "majors"}
