"""The vectorised parsers agree with the per-value helpers in lib, on generated values."""

from __future__ import annotations

import datetime as dt
import sys
from decimal import Decimal

import phonenumbers
import polars as pl
from hypothesis import given, settings
from hypothesis import strategies as st

from huikuan.intake import idnumbers, values
from huikuan.lib import ids
from huikuan.lib.money import parse_amount, to_minor

FULL_WIDTH = str.maketrans("0123456789,.-", "０１２３４５６７８９，．－")


def run(parser, cells: list[str], *outputs: str) -> list[tuple]:
    frame = pl.DataFrame({"cell": cells}, schema={"cell": pl.String})
    return values.run(frame, [parser(pl.col("cell"), "out")]).select(outputs).rows()


def test_whitespace_is_pythons():
    assert set(values.PY_WHITESPACE) == {
        c for c in map(chr, range(sys.maxunicode + 1)) if c.isspace()
    }


# --- Amounts -----------------------------------------------------------------------------


@st.composite
def formatted_amounts(draw) -> str:
    """An amount written the ways people write them."""
    units = draw(st.integers(0, 10**17))
    places = draw(st.integers(0, 4))
    value = Decimal(units).scaleb(-places)
    number = f"{value:,f}" if draw(st.booleans()) else f"{value:f}"
    if draw(st.booleans()) and "." in number:
        number = number.rstrip("0")
    prefix = draw(st.sampled_from(["", "¥", "￥", "RMB", "rmb ", "CNY ", "人民币"]))
    suffix = draw(st.sampled_from(["", "元", " RMB", "cny"]))
    sign = draw(st.sampled_from(["", "-", "+", "−", "－"]))
    text = draw(
        st.sampled_from(
            [
                f"{sign}{prefix}{number}{suffix}",
                f"{prefix}{sign}{number}{suffix}",
                f"({prefix}{number}{suffix})",
            ]
        )
    )
    if draw(st.booleans()):
        text = text.translate(FULL_WIDTH)
    pad = draw(st.sampled_from(["", " ", "\u3000", "\t"]))
    return f"{pad}{text}{pad}"


JUNK = st.text(
    alphabet="0123456789,.-+()¥￥元RMBrmbCNY人民币 \u3000１２．，−", min_size=1, max_size=12
)


@settings(max_examples=150, deadline=None)
@given(st.lists(st.one_of(formatted_amounts(), JUNK), min_size=1, max_size=30))
def test_amounts_agree_with_lib_money(cells):
    results = run(values.parse_amount, cells, "out", "out_problem")
    for cell, (fen, problem) in zip(cells, results, strict=True):
        try:
            expected = parse_amount(cell)
        except ValueError:
            if cell.strip():
                assert problem == "invalid", cell
            else:
                assert (fen, problem) == (None, None), cell
            continue
        if abs(expected) >= 10**16:
            assert problem == "too_large", cell
        elif expected != expected.quantize(Decimal("0.01")):
            assert problem == "precision", cell
        else:
            assert (fen, problem) == (to_minor(expected.quantize(Decimal("0.01"))), None), cell


# --- Dates -------------------------------------------------------------------------------


def spellings(day: dt.date) -> list[str]:
    y, m, d = day.year, day.month, day.day
    serial = (
        (day - dt.date(1899, 12, 30)).days
        if day >= dt.date(1900, 3, 1)
        else ((day - dt.date(1899, 12, 31)).days)
    )
    out = [
        day.isoformat(), f"{y}/{m}/{d}", f"{y}/{m:02d}/{d:02d}", f"{y}.{m}.{d}", f"{y}-{m}-{d}",
        f"{y}年{m}月{d}日", f"{y}年{m:02d}月{d:02d}日", f"{y}{m:02d}{d:02d}",
        f"{day.isoformat()} 13:45:00", f"{y}/{m}/{d} 9:05", f"{day.isoformat()}T23:59:59.5",
        f"{y}年{m}月{d}日".translate(FULL_WIDTH),
    ]  # fmt: skip
    if serial <= 99999:
        out += [str(serial), f"{serial}.25"]
    return out


@settings(max_examples=80, deadline=None)
@given(st.lists(st.dates(dt.date(1900, 1, 1), dt.date(2199, 12, 31)), min_size=1, max_size=10))
def test_dates_in_every_format(days):
    cells = [text for day in days for text in spellings(day)]
    expected = [day for day in days for _ in spellings(day)]
    assert [r[0] for r in run(values.parse_date, cells, "out")] == expected


# --- ID numbers --------------------------------------------------------------------------

CORRUPTIONS = st.sampled_from(["replace", "swap", "drop", "insert", "lower", "wide", "none"])


@st.composite
def id_numbers(draw) -> str:
    if draw(st.booleans()):
        birth = draw(st.dates(dt.date(1900, 1, 1), dt.date(2025, 12, 31)))
        region = "".join(draw(st.lists(st.sampled_from("0123456789"), min_size=6, max_size=6)))
        number = ids.resident_id_make(region, birth, draw(st.integers(0, 999)))
    else:
        chars = st.sampled_from(ids.USCC_CHARSET)
        number = ids.uscc_make(
            registration_authority=draw(chars),
            kind=draw(chars),
            region="".join(draw(st.lists(st.sampled_from("0123456789"), min_size=6, max_size=6))),
            org_code_body="".join(draw(st.lists(chars, min_size=8, max_size=8))),
        )
    how = draw(CORRUPTIONS)
    i = draw(st.integers(0, len(number) - 2))
    other = draw(st.sampled_from(ids.USCC_CHARSET + "IOSVZx "))
    return {
        "replace": number[:i] + other + number[i + 1 :],
        "swap": number[:i] + number[i + 1] + number[i] + number[i + 2 :],
        "drop": number[:i] + number[i + 1 :],
        "insert": number[:i] + other + number[i:],
        "lower": number.lower(),
        "wide": number.translate(str.maketrans("0123456789X", "０１２３４５６７８９Ｘ")),
        "none": number,
    }[how]


@settings(max_examples=120, deadline=None)
@given(st.lists(id_numbers(), min_size=1, max_size=40))
def test_id_checks_agree_with_lib_ids(numbers):
    frame = pl.DataFrame({"n": numbers}).with_columns(n=idnumbers.id_normalize(pl.col("n")))
    out = values.run(frame, [idnumbers.id_checks("n", "id", uscc_also=pl.lit(True))])
    for raw, (rid, rid_check, uscc, uscc_check) in zip(
        numbers,
        out.select("id_rid", "id_rid_check", "id_uscc", "id_uscc_check").rows(),
        strict=True,
    ):
        assert (ids.resident_id_error(raw) is None) == (rid is None), raw
        assert (ids.uscc_error(raw) is None) == (uscc is None), raw
        normal = ids.resident_id_normalize(raw)
        if rid == "check":
            assert rid_check == ids.resident_id_check_char(normal[:17]), raw
        if uscc == "check":
            assert uscc_check == ids.uscc_check_char(normal[:17]), raw


# --- Phones ------------------------------------------------------------------------------


@st.composite
def mobiles(draw) -> str:
    digits = "1" + "".join(draw(st.lists(st.sampled_from("0123456789"), min_size=10, max_size=10)))
    prefix = draw(st.sampled_from(["", "+86", "+86 ", "0086", "0086-"]))
    if draw(st.booleans()):
        digits = f"{digits[:3]}{draw(st.sampled_from([' ', '-']))}{digits[3:7]} {digits[7:]}"
    return prefix + digits


@settings(max_examples=80, deadline=None)
@given(st.lists(mobiles(), min_size=1, max_size=30))
def test_phone_fast_path_agrees_with_phonenumbers(cells):
    for cell, (fast,) in zip(cells, run(values.phone_fast, cells, "out"), strict=True):
        number = phonenumbers.parse(cell, "CN")
        if phonenumbers.is_valid_number(number):
            assert fast == phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)
        else:
            assert fast is None, cell
