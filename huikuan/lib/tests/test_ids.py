"""PRC identifiers. Sample numbers below were checked with an independent implementation of
each algorithm, not taken from memory. Messages are only tested for presence (``is not None``)
so the tests need no Django set-up."""

from __future__ import annotations

import datetime as dt

import pytest
from hypothesis import given
from hypothesis import strategies as st

from huikuan.lib.ids import (
    USCC_CHARSET,
    org_code_check_char,
    resident_id_birth_date,
    resident_id_check_char,
    resident_id_error,
    resident_id_gender,
    resident_id_make,
    resident_id_normalize,
    uscc_check_char,
    uscc_error,
    uscc_make,
    uscc_normalize,
)

# The examples printed in GB 11643-1999.
VALID_RESIDENT_IDS = ["11010519491231002X", "440524188001010014"]


@pytest.mark.parametrize("number", VALID_RESIDENT_IDS)
def test_resident_id_valid(number: str) -> None:
    assert resident_id_error(number) is None
    assert resident_id_check_char(number[:17]) == number[17]


def test_resident_id_normalize_and_lowercase_x() -> None:
    assert resident_id_error(" 11010519491231002x ") is None
    assert resident_id_error("１１０１０５１９４９１２３１００２Ｘ") is None
    assert resident_id_normalize(" 11010519491231002x ") == "11010519491231002X"


@pytest.mark.parametrize(
    "number",
    [
        "",
        "110105194912310",  # old 15-digit number
        "11010519491231002",  # 17 characters
        "11010519491231002XX",
        "1101051949123100XX",  # X only as the last character
        "11010519491231002Y",
        "1101051949123100٢X",  # an Arabic-Indic 2: a digit to isdigit(), not to us
        "110105194902300024",  # 30 February
        "11010519491231002 ",  # stripped to 17
        "110105194912310021",  # check character wrong
    ],
)
def test_resident_id_invalid(number: str) -> None:
    assert resident_id_error(number) is not None


def test_resident_id_fields() -> None:
    assert resident_id_birth_date("11010519491231002X") == dt.date(1949, 12, 31)
    assert resident_id_gender("11010519491231002X") == "female"  # 17th digit 2
    assert resident_id_gender("440524188001010014") == "male"  # 17th digit 1
    with pytest.raises(ValueError):
        resident_id_birth_date("110105194912310021")
    with pytest.raises(ValueError):
        resident_id_gender("nonsense")


def test_resident_id_make() -> None:
    assert resident_id_make("110105", dt.date(1949, 12, 31), 2) == "11010519491231002X"
    assert resident_id_make("440524", dt.date(1880, 1, 1), 1) == "440524188001010014"
    for bad in (
        lambda: resident_id_make("11010", dt.date(2000, 1, 1), 1),
        lambda: resident_id_make("110105", dt.date(2000, 1, 1), 1000),
        lambda: resident_id_make("110105", dt.date(2000, 1, 1), -1),
    ):
        with pytest.raises(ValueError):
            bad()
    with pytest.raises(ValueError):
        resident_id_check_char("1101051949123100")


resident_ids = st.builds(
    resident_id_make,
    st.text("0123456789", min_size=6, max_size=6),
    st.dates(min_value=dt.date(1800, 1, 1), max_value=dt.date(2199, 12, 31)),
    st.integers(0, 999),
)


@given(resident_ids)
def test_made_resident_ids_are_valid(number: str) -> None:
    assert resident_id_error(number) is None
    assert resident_id_make(number[:6], resident_id_birth_date(number), int(number[14:17])) == (
        number
    )
    assert resident_id_gender(number) == ("male" if int(number[16]) % 2 else "female")


@given(resident_ids, st.integers(0, 17), st.sampled_from("0123456789X"))
def test_any_single_change_breaks_a_resident_id(number: str, position: int, char: str) -> None:
    if position < 17 and char == "X":
        char = "0"
    changed = number[:position] + char + number[position + 1 :]
    if changed != number:
        assert resident_id_error(changed) is not None


# 91350100M000100Y43: a published code, checked with both check characters.
# 91110000100000000R: the GB 32100 character is right, the organisation code's is not (8 != 0).
def test_uscc_valid() -> None:
    assert uscc_error("91350100M000100Y43") is None
    assert uscc_error("91350100M000100Y43", check_org_code=True) is None
    assert uscc_error(" 91350100m000100y43 ") is None
    assert uscc_normalize(" 91350100m000100y43 ") == "91350100M000100Y43"
    assert uscc_check_char("91350100M000100Y4") == "3"
    assert org_code_check_char("M000100Y") == "4"


def test_uscc_org_code_check_is_opt_in() -> None:
    assert uscc_error("91110000100000000R") is None
    assert uscc_error("91110000100000000R", check_org_code=True) is not None
    assert org_code_check_char("10000000") == "8"


@pytest.mark.parametrize(
    "code",
    [
        "",
        "91350100M000100Y4",
        "91350100M000100Y433",
        "91350100M000100Y42",  # wrong check character
        "91350100M000I00Y43",  # I is not in the charset
        "913501O0M000100Y43",  # O in the region
        "9135010AM000100Y4A",  # a letter in the region, whatever the check says
        "91350100M000100Y4-",
    ],
)
def test_uscc_invalid(code: str) -> None:
    assert uscc_error(code) is not None


def test_org_code_check_char_maps_10_and_11() -> None:
    # Bodies whose weighted sum mod 11 is 1 (→ 10 → X) and 0 (→ 11 → 0).
    assert org_code_check_char("00000030") == "X"  # 3*4 = 12 ≡ 1
    assert org_code_check_char("00000000") == "0"
    with pytest.raises(ValueError):
        org_code_check_char("0000000")
    with pytest.raises(ValueError):
        org_code_check_char("0000000a")


def test_uscc_make() -> None:
    assert uscc_make(region="350100", org_code_body="M000100Y") == "91350100M000100Y43"
    code = uscc_make(
        registration_authority="5", kind="2", region="440300", org_code_body="12345678"
    )
    assert code == "52440300123456788N"  # 8: the GB 11714 check of 12345678
    assert uscc_error(code, check_org_code=True) is None
    for bad_kwargs in (
        {"org_code_body": "1234567"},
        {"org_code_body": "1234567I"},
        {"org_code_body": "12345678", "region": "11000A"},
        {"org_code_body": "12345678", "kind": "Z"},
        {"org_code_body": "12345678", "registration_authority": "91"},
    ):
        with pytest.raises(ValueError):
            uscc_make(**bad_kwargs)
    with pytest.raises(ValueError):
        uscc_check_char("91350100M000100YI")


charset_chars = st.sampled_from(USCC_CHARSET)
usccs = st.builds(
    lambda authority, kind, region, body: uscc_make(
        registration_authority=authority, kind=kind, region=region, org_code_body=body
    ),
    charset_chars,
    charset_chars,
    st.text("0123456789", min_size=6, max_size=6),
    st.text(USCC_CHARSET, min_size=8, max_size=8),
)


@given(usccs)
def test_made_usccs_are_valid(code: str) -> None:
    assert uscc_error(code) is None
    assert uscc_error(code, check_org_code=True) is None


@given(usccs, st.integers(0, 17), charset_chars)
def test_any_single_change_breaks_a_uscc(code: str, position: int, char: str) -> None:
    changed = code[:position] + char + code[position + 1 :]
    if changed != code:
        assert uscc_error(changed) is not None
