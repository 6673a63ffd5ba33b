"""Money helpers. No database, no evaluated lazy strings: these run without Django set up."""

from __future__ import annotations

import re
from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from huikuan.lib.money import (
    MINOR_UNITS,
    chinese_capital,
    format_amount,
    from_minor,
    is_known_currency,
    minor_unit,
    parse_amount,
    quantize,
    to_minor,
)

D = Decimal
cny_amounts = st.decimals(
    min_value=D("-1e15"), max_value=D("1e15"), places=2, allow_nan=False, allow_infinity=False
)
currencies = st.sampled_from(sorted(MINOR_UNITS))


def test_minor_units() -> None:
    assert minor_unit("CNY") == 2
    assert minor_unit("JPY") == 0
    assert minor_unit("KWD") == 3
    assert is_known_currency("HKD")
    assert not is_known_currency("XYZ")
    assert not is_known_currency("cny")  # codes are matched exactly
    with pytest.raises(ValueError):
        minor_unit("XYZ")


@pytest.mark.parametrize(
    ("amount", "currency", "expected"),
    [
        ("1.005", "CNY", "1.01"),
        ("1.004", "CNY", "1.00"),
        ("-1.005", "CNY", "-1.01"),  # half away from zero, as 四舍五入
        ("2.5", "JPY", "3"),
        ("0.0005", "KWD", "0.001"),
        ("12345678901234567890123456789.555", "CNY", "12345678901234567890123456789.56"),
    ],
)
def test_quantize(amount: str, currency: str, expected: str) -> None:
    result = quantize(D(amount), currency)
    assert result == D(expected)
    assert str(result) == expected


def test_quantize_takes_int_refuses_float() -> None:
    assert str(quantize(5)) == "5.00"
    with pytest.raises(TypeError):
        quantize(1.5)  # type: ignore[arg-type]
    with pytest.raises(TypeError):
        quantize(True)
    with pytest.raises(ValueError):
        quantize(D("NaN"))


def test_minor_units_conversion() -> None:
    assert to_minor(D("12.30")) == 1230
    assert to_minor(D("-0.01")) == -1
    assert to_minor(D("12.3")) == 1230
    assert to_minor(D("1E+3")) == 100000
    assert to_minor(D("1500"), "JPY") == 1500
    assert str(from_minor(1230)) == "12.30"
    assert str(from_minor(-5)) == "-0.05"
    assert str(from_minor(1500, "JPY")) == "1500"
    with pytest.raises(ValueError):
        to_minor(D("1.234"))
    with pytest.raises(TypeError):
        from_minor(1.0)  # type: ignore[arg-type]


@given(currencies, st.integers(min_value=-(10**30), max_value=10**30), st.integers(0, 3))
def test_minor_round_trip(currency: str, coefficient: int, places: int) -> None:
    places = min(places, MINOR_UNITS[currency])
    amount = D(coefficient).scaleb(-places)
    assert from_minor(to_minor(amount, currency), currency) == amount
    assert to_minor(from_minor(coefficient, currency), currency) == coefficient


@given(currencies, st.decimals(allow_nan=False, allow_infinity=False))
def test_quantize_idempotent(currency: str, amount: Decimal) -> None:
    once = quantize(amount, currency)
    twice = quantize(once, currency)
    assert twice == once
    assert twice.as_tuple() == once.as_tuple()
    assert -once.as_tuple().exponent == MINOR_UNITS[currency]  # type: ignore[operator]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("1234.50", "1234.50"),
        ("1,234.50", "1234.50"),
        ("1，234.50", "1234.50"),
        ("  ¥1,234.50 ", "1234.50"),
        ("￥1,234.50", "1234.50"),
        ("1234.5元", "1234.5"),
        ("RMB 1,234,567.00", "1234567.00"),
        ("rmb100", "100"),
        ("CNY 100", "100"),
        ("100 CNY", "100"),
        ("人民币 100元", "100"),
        ("１，２３４．５０", "1234.50"),
        ("－１２", "-12"),
        ("−12.00", "-12.00"),
        ("-¥1,234.50", "-1234.50"),
        ("¥-1,234.50", "-1234.50"),
        ("(1,200.00)", "-1200.00"),
        ("（¥1,200.00）", "-1200.00"),
        ("+5", "5"),
        (".5", "0.5"),
        ("0", "0"),
    ],
)
def test_parse_amount(text: str, expected: str) -> None:
    result = parse_amount(text)
    assert result == D(expected)
    assert str(result) == expected


@pytest.mark.parametrize(
    "text",
    [
        "",
        "   ",
        "abc",
        "1,23.00",
        "1,5",
        "12,34,567",
        "1.2.3",
        "--5",
        "-¥-5",
        "(-5)",
        "1e5",
        "NaN",
        "Infinity",
        "¥",
        "5-",
        "1 234",
        "12元5角",
        "$5",
        "٣",
    ],
)
def test_parse_amount_rejects_junk(text: str) -> None:
    with pytest.raises(ValueError):
        parse_amount(text)


def test_parse_amount_types() -> None:
    assert parse_amount(D("1.25")) == D("1.25")
    assert parse_amount(7) == D(7)
    with pytest.raises(TypeError):
        parse_amount(1.25)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("amount", "currency", "symbol", "expected"),
    [
        ("1234.5", "CNY", True, "¥1,234.50"),
        ("-1234.5", "CNY", True, "-¥1,234.50"),
        ("1234567.891", "CNY", True, "¥1,234,567.89"),
        ("0", "CNY", True, "¥0.00"),
        ("-0.001", "CNY", True, "¥0.00"),
        ("999.995", "CNY", True, "¥1,000.00"),
        ("12", "USD", True, "$12.00"),
        ("12", "EUR", True, "€12.00"),
        ("12", "HKD", True, "HK$12.00"),
        ("12", "GBP", True, "£12.00"),
        ("1234.5", "JPY", True, "¥1,235"),
        ("-1234.5", "SGD", True, "-SGD 1,234.50"),
        ("-1234.5", "CNY", False, "-1,234.50"),
        (
            "12345678901234567890123456789",
            "CNY",
            True,
            "¥12,345,678,901,234,567,890,123,456,789.00",
        ),
    ],
)
def test_format_amount(amount: str, currency: str, symbol: bool, expected: str) -> None:
    assert format_amount(D(amount), currency, symbol=symbol) == expected


def test_format_amount_unknown_currency() -> None:
    with pytest.raises(ValueError):
        format_amount(D(1), "XYZ")


@given(cny_amounts)
def test_parse_reads_what_format_writes(amount: Decimal) -> None:
    assert parse_amount(format_amount(amount)) == amount
    assert parse_amount(format_amount(amount, symbol=False)) == amount


@pytest.mark.parametrize(
    ("amount", "expected"),
    [
        ("10005.00", "人民币壹万零伍元整"),
        ("12000.00", "人民币壹万贰仟元整"),
        ("0.50", "人民币伍角"),
        ("1000000.07", "人民币壹佰万元零柒分"),
        ("100000000", "人民币壹亿元整"),
        ("0", "人民币零元整"),
        ("105.30", "人民币壹佰零伍元叁角"),
        ("1010.01", "人民币壹仟零壹拾元零壹分"),
        # The examples in the PBOC rules (《支付结算办法》附件一).
        ("1409.50", "人民币壹仟肆佰零玖元伍角"),
        ("6007.14", "人民币陆仟零柒元壹角肆分"),
        ("1680.32", "人民币壹仟陆佰捌拾元叁角贰分"),
        ("107000.53", "人民币壹拾万柒仟元伍角叁分"),
        ("16409.02", "人民币壹万陆仟肆佰零玖元零贰分"),
        ("325.04", "人民币叁佰贰拾伍元零肆分"),
        # 壹拾 keeps its 壹 at the start, after 零, and before a section unit.
        ("10", "人民币壹拾元整"),
        ("15", "人民币壹拾伍元整"),
        ("110", "人民币壹佰壹拾元整"),
        ("100000", "人民币壹拾万元整"),
        # Zeros across 万 and 亿 sections.
        ("100500", "人民币壹拾万零伍佰元整"),
        ("1005000", "人民币壹佰万伍仟元整"),
        ("100010000", "人民币壹亿零壹万元整"),
        ("100000001", "人民币壹亿零壹元整"),
        ("105000000", "人民币壹亿零伍佰万元整"),
        ("150000000", "人民币壹亿伍仟万元整"),
        ("1000000000000", "人民币壹万亿元整"),
        ("1000100000000", "人民币壹万零壹亿元整"),
        ("0.05", "人民币伍分"),
        ("0.55", "人民币伍角伍分"),
        ("0.005", "人民币壹分"),  # rounded half up to fen first
        ("0.004", "人民币零元整"),
        ("-100", "人民币负壹佰元整"),
        ("-0.001", "人民币零元整"),  # rounds to zero: no 负
    ],
)
def test_chinese_capital(amount: str, expected: str) -> None:
    assert chinese_capital(D(amount)) == expected


def test_chinese_capital_prefix() -> None:
    assert chinese_capital(D(12), prefix="") == "壹拾贰元整"
    with pytest.raises(TypeError):
        chinese_capital(1.5)  # type: ignore[arg-type]


_CN_VALUES = dict(zip("零壹贰叁肆伍陆柒捌玖", range(10), strict=True))
_CN_SMALL = {"拾": 10, "佰": 100, "仟": 1000}


def _read_cn_integer(text: str) -> int:
    """The inverse of the writer, written differently: split at the last 亿, then at 万."""
    if "亿" in text:
        high, _, low = text.rpartition("亿")
        return _read_cn_integer(high) * 10**8 + (_read_cn_integer(low) if low else 0)
    if "万" in text:
        high, _, low = text.partition("万")
        return _read_cn_integer(high) * 10**4 + (_read_cn_integer(low) if low else 0)
    total = 0
    for digit, unit in re.findall(r"([壹贰叁肆伍陆柒捌玖])([拾佰仟]?)", text):
        total += _CN_VALUES[digit] * _CN_SMALL.get(unit, 1)
    return total


def _read_capital(text: str) -> Decimal:
    text = text.removeprefix("人民币")
    negative = text.startswith("负")
    text = text.removeprefix("负").removesuffix("整")
    yuan_text, _, cents_text = text.rpartition("元") if "元" in text else ("", "", text)
    jiao = re.search(r"([壹贰叁肆伍陆柒捌玖])角", cents_text)
    fen = re.search(r"([壹贰叁肆伍陆柒捌玖])分", cents_text)
    value = (
        _read_cn_integer(yuan_text) * 100
        + (_CN_VALUES[jiao[1]] * 10 if jiao else 0)
        + (_CN_VALUES[fen[1]] if fen else 0)
    )
    return from_minor(-value if negative else value)


@given(
    st.decimals(min_value=D("-1e20"), max_value=D("1e20"), allow_nan=False, allow_infinity=False)
)
def test_chinese_capital_properties(amount: Decimal) -> None:
    text = chinese_capital(amount)
    fen_total = to_minor(quantize(amount))
    jiao, fen = divmod(abs(fen_total) % 100, 10)
    assert not any(c.isdigit() for c in text)
    assert text.startswith("人民币")
    if fen:
        assert text.endswith("分")
    elif jiao:
        assert text.endswith("角")
    else:
        assert text.endswith("元整")
    # 零 is never doubled, never right before a unit, and only opens the text for zero.
    assert "零零" not in text
    assert not re.search("零[元角分拾佰仟万亿整]", text) or text == "人民币零元整"
    assert "负" not in text or fen_total < 0
    # Reading it back gives the rounded amount: nothing was lost or doubled.
    assert _read_capital(text) == quantize(amount)
