"""PRC identifiers: resident identity numbers and unified social credit codes.

Checks are what the standards define (check characters, a real birth date) and nothing that
would turn a real person away: region codes are not checked against a list, because lists
go stale and foreigners' permanent residence numbers (starting with 9) use the same format.

``*_error`` functions return ``None`` for a valid value, else one translated sentence saying
what is wrong, so a form or an import report can show it next to the field or row.
"""

from __future__ import annotations

import datetime as dt
import unicodedata
from typing import Literal

from huikuan.lib._translate import _


def _is_digits(text: str) -> bool:
    # str.isdigit alone accepts "²" and Arabic-Indic digits.
    return text.isascii() and text.isdigit()


def _normalize(value: str) -> str:
    # NFKC turns the full-width characters a Chinese input method types into ASCII.
    return unicodedata.normalize("NFKC", value).strip().upper()


# --- Resident identity number, GB 11643-1999 -----------------------------------------------
# 6-digit region, 8-digit birth date, 3-digit sequence (odd = male), check character.

_RID_WEIGHTS = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)  # 2**(17-i) mod 11
_RID_CHECK = "10X98765432"  # indexed by the weighted sum mod 11 (ISO 7064 MOD 11-2)


def resident_id_normalize(value: str) -> str:
    return _normalize(value)


def resident_id_check_char(first17: str) -> str:
    """The 18th character for 17 digits: ``"11010519491231002"`` → ``"X"``."""
    if len(first17) != 17 or not _is_digits(first17):
        raise ValueError(f"expected 17 digits, got {first17!r}")
    total = sum(int(c) * w for c, w in zip(first17, _RID_WEIGHTS, strict=True))
    return _RID_CHECK[total % 11]


def _rid_birth(value: str) -> dt.date | None:
    try:
        return dt.date(int(value[6:10]), int(value[10:12]), int(value[12:14]))
    except ValueError:
        return None


def resident_id_error(value: str) -> str | None:
    """``None`` if ``value`` is a valid 18-character number (a lowercase x is accepted)."""
    number = resident_id_normalize(value)
    if not number:
        return _("Enter a resident identity number.")
    if len(number) == 15 and _is_digits(number):
        # First-generation cards (before 1999) had 15 digits and no check character.
        return _("This is an old 15-digit number; enter the 18-character number instead.")
    if len(number) != 18:
        return _("A resident identity number has 18 characters, not %(count)d.") % {
            "count": len(number)
        }
    if not _is_digits(number[:17]) or not (_is_digits(number[17]) or number[17] == "X"):
        return _("A resident identity number is 17 digits followed by a digit or X.")
    if _rid_birth(number) is None:
        return _("Characters 7 to 14 should be a birth date, but %(date)s is not a real date.") % {
            "date": number[6:14]
        }
    expected = resident_id_check_char(number[:17])
    if number[17] != expected:
        return _(
            "The last character should be “%(expected)s”, not “%(actual)s”: "
            "the number has a typo somewhere."
        ) % {"expected": expected, "actual": number[17]}
    return None


def _rid_valid(value: str) -> str:
    number = resident_id_normalize(value)
    if error := resident_id_error(number):
        raise ValueError(error)
    return number


def resident_id_birth_date(value: str) -> dt.date:
    """Birth date of a valid number; ``ValueError`` (with the reason) for an invalid one."""
    birth = _rid_birth(_rid_valid(value))
    if birth is None:  # unreachable: validation checked the date
        raise ValueError(value)
    return birth


def resident_id_gender(value: str) -> Literal["male", "female"]:
    """From the 17th digit (the sequence's last): odd is male, even is female."""
    return "male" if int(_rid_valid(value)[16]) % 2 else "female"


def resident_id_make(region: str, birth: dt.date, sequence: int) -> str:
    """A valid number for tests and demo data: ``("110101", date(1985, 3, 1), 7)``."""
    if len(region) != 6 or not _is_digits(region):
        raise ValueError(f"region must be 6 digits, got {region!r}")
    if not 0 <= sequence <= 999:
        raise ValueError(f"sequence must be 0..999, got {sequence}")
    first17 = f"{region}{birth.year:04d}{birth.month:02d}{birth.day:02d}{sequence:03d}"
    if len(first17) != 17:  # a year past 9999 cannot be written in 4 digits
        raise ValueError(f"cannot write birth date {birth} in 8 digits")
    return first17 + resident_id_check_char(first17)


# --- Unified social credit code, GB 32100-2015 ---------------------------------------------
# 1 registration authority, 1 kind, 6-digit region, 9-character organisation code
# (GB 11714: 8 characters + its own check character), check character.

# Digits and capitals without I O S V Z, which are too easily read as 1 0 5 U 2.
USCC_CHARSET = "0123456789ABCDEFGHJKLMNPQRTUWXY"
_USCC_VALUES = {c: i for i, c in enumerate(USCC_CHARSET)}
_USCC_WEIGHTS = (1, 3, 9, 27, 19, 26, 16, 17, 20, 29, 25, 13, 8, 24, 10, 30, 28)  # 3**i mod 31
_ORG_WEIGHTS = (3, 7, 9, 10, 5, 8, 4, 2)


def uscc_normalize(value: str) -> str:
    return _normalize(value)


def uscc_check_char(first17: str) -> str:
    """The 18th character for 17 characters from :data:`USCC_CHARSET` (mod 31)."""
    if len(first17) != 17 or any(c not in _USCC_VALUES for c in first17):
        raise ValueError(f"expected 17 characters from {USCC_CHARSET}, got {first17!r}")
    total = sum(_USCC_VALUES[c] * w for c, w in zip(first17, _USCC_WEIGHTS, strict=True))
    return USCC_CHARSET[(31 - total % 31) % 31]


def org_code_check_char(first8: str) -> str:
    """GB 11714 organisation code check character: digits count as such, A=10 … Z=35."""
    if (
        len(first8) != 8
        or not first8.isascii()
        or not all(c.isdigit() or c.isupper() for c in first8)
    ):
        raise ValueError(f"expected 8 digits or capital letters, got {first8!r}")
    total = sum(int(c, 36) * w for c, w in zip(first8, _ORG_WEIGHTS, strict=True))
    check = 11 - total % 11
    return {10: "X", 11: "0"}.get(check, str(check))


def uscc_error(value: str, *, check_org_code: bool = False) -> str | None:
    """``None`` if ``value`` is a valid code: 18 characters, a digit region, the mod-31 check.

    ``check_org_code=True`` also checks the GB 11714 check character of the embedded
    organisation code (characters 9 to 17). It is off by default: the GB 32100 character
    already catches every single-character typo, and a rule stricter than the standard's own
    check would risk refusing a code a registry really issued.
    """
    code = uscc_normalize(value)
    if not code:
        return _("Enter a unified social credit code.")
    if len(code) != 18:
        return _("A unified social credit code has 18 characters, not %(count)d.") % {
            "count": len(code)
        }
    if bad := next((c for c in code if c not in _USCC_VALUES), None):
        return _(
            "“%(char)s” cannot appear in a unified social credit code, which uses digits and "
            "capital letters except I, O, S, V and Z."
        ) % {"char": bad}
    if not _is_digits(code[2:8]):
        return _("Characters 3 to 8 of a unified social credit code are a region code: digits.")
    expected = uscc_check_char(code[:17])
    if code[17] != expected:
        return _(
            "The last character should be “%(expected)s”, not “%(actual)s”: "
            "the code has a typo somewhere."
        ) % {"expected": expected, "actual": code[17]}
    if check_org_code and (org_expected := org_code_check_char(code[8:16])) != code[16]:
        return _(
            "Character 17 is the check character of the organisation code and should be "
            "“%(expected)s”, not “%(actual)s”."
        ) % {"expected": org_expected, "actual": code[16]}
    return None


def uscc_make(
    *,
    registration_authority: str = "9",
    kind: str = "1",
    region: str = "110000",
    org_code_body: str,
) -> str:
    """A valid code for tests and demo data, both check characters included.

    Defaults: registered with market regulation (9), an enterprise (1), in Beijing (110000).
    """
    for name, part, size in (
        ("registration_authority", registration_authority, 1),
        ("kind", kind, 1),
        ("org_code_body", org_code_body, 8),
    ):
        if len(part) != size or any(c not in _USCC_VALUES for c in part):
            raise ValueError(f"{name} must be {size} characters from {USCC_CHARSET}, got {part!r}")
    if len(region) != 6 or not _is_digits(region):
        raise ValueError(f"region must be 6 digits, got {region!r}")
    first17 = (
        registration_authority + kind + region + org_code_body + org_code_check_char(org_code_body)
    )
    return first17 + uscc_check_char(first17)
