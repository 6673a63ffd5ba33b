"""Money: parsing, rounding, minor units, formatting and Chinese capital amounts (大写金额).

Money is ``Decimal``, never ``float``: a float cannot hold 0.10 exactly, and an accounting
system that is off by a fen somewhere is wrong everywhere. Every function here refuses floats
with ``TypeError`` so the mistake shows up where it is made. Rounding is ROUND_HALF_UP to the
currency's minor unit, as Chinese accounting and banks round (四舍五入), not banker's rounding.

Messages a user can cause (a bad amount typed in a form or import file, an unknown currency
code) are translatable; messages only a programmer can cause (passing a float) are plain English.
"""

from __future__ import annotations

import operator
import re
import unicodedata
from decimal import ROUND_HALF_UP, Context, Decimal

from huikuan.lib._translate import _

# ISO 4217 minor units. Codes are matched exactly (upper case): normalise at the edge.
MINOR_UNITS: dict[str, int] = {
    "CNY": 2,
    "HKD": 2,
    "MOP": 2,
    "TWD": 2,
    "USD": 2,
    "EUR": 2,
    "GBP": 2,
    "CHF": 2,
    "JPY": 0,
    "KRW": 0,
    "VND": 0,
    "SGD": 2,
    "MYR": 2,
    "THB": 2,
    "PHP": 2,
    "IDR": 2,
    "INR": 2,
    "AUD": 2,
    "NZD": 2,
    "CAD": 2,
    "RUB": 2,
    "AED": 2,
    "SAR": 2,
    "KWD": 3,
    "BHD": 3,
    "OMR": 3,
}

# Currencies with a symbol of their own; the rest are written with their code and a space.
SYMBOLS: dict[str, str] = {
    "CNY": "¥",
    "USD": "$",
    "EUR": "€",
    "HKD": "HK$",
    "GBP": "£",
    "JPY": "¥",
}


def is_known_currency(code: str) -> bool:
    return code in MINOR_UNITS


def minor_unit(currency: str) -> int:
    """Decimal places of ``currency`` (2 for CNY, 0 for JPY); ``ValueError`` if unknown."""
    try:
        return MINOR_UNITS[currency]
    except KeyError:
        raise ValueError(_("Unknown currency “%(code)s”.") % {"code": currency}) from None


def _require_decimal(amount: object) -> Decimal:
    # bool is an int, but True as an amount is always a bug.
    if isinstance(amount, bool) or not isinstance(amount, Decimal | int):
        raise TypeError(f"money must be Decimal or int, not {type(amount).__name__}")
    value = Decimal(amount)
    if not value.is_finite():
        raise ValueError(_("“%(value)s” is not an amount.") % {"value": value})
    return value


def quantize(amount: Decimal | int, currency: str = "CNY") -> Decimal:
    """Round to the currency's minor unit, half up: ``1.005`` → ``1.01``."""
    value = _require_decimal(amount)
    places = minor_unit(currency)
    # The default context holds 28 digits and quantize raises InvalidOperation beyond that;
    # a context as wide as the number means a large amount is rounded, never refused.
    context = Context(prec=max(28, value.adjusted() + places + 2), rounding=ROUND_HALF_UP)
    return value.quantize(Decimal((0, (1,), -places)), context=context)


def to_minor(amount: Decimal | int, currency: str = "CNY") -> int:
    """Exact integer minor units (fen) for the columnar engine: ``Decimal("12.30")`` → 1230.

    Refuses amounts with more places than the currency has: dropping them here would be a
    silent rounding; call :func:`quantize` first when rounding is meant.
    """
    value = _require_decimal(amount)
    places = minor_unit(currency)
    sign, digits, exponent = value.as_tuple()
    if not isinstance(exponent, int):  # unreachable: _require_decimal refused NaN/Infinity
        raise ValueError("not a finite amount")
    # Integer arithmetic on the coefficient: exact at any size, no context precision involved.
    coefficient = int("".join(map(str, digits)))
    shift = exponent + places
    units: int  # int ** int is typed as Any: it is a float for a negative exponent
    if shift >= 0:
        units = coefficient * 10**shift
    else:
        units, rest = divmod(coefficient, 10**-shift)
        if rest:
            raise ValueError(
                f"{value} has more decimal places than {currency} allows ({places}); "
                "quantize() it first"
            )
    return -units if sign else units


def from_minor(units: int, currency: str = "CNY") -> Decimal:
    """``1230`` fen → ``Decimal("12.30")``, exact, with the currency's number of places."""
    # operator.index takes numpy/polars integers too, and refuses floats.
    if isinstance(units, bool):
        raise TypeError("minor units must be an integer, not bool")
    number = operator.index(units)
    places = minor_unit(currency)
    digits = tuple(int(c) for c in str(abs(number)))
    return Decimal((1 if number < 0 else 0, digits, -places))


# Marks that may stand before or after the number; matched after NFKC, so "￥" is "¥" here.
_PREFIX = r"(?:¥|RMB|CNY|人民币)"
_SUFFIX = r"(?:元|RMB|CNY)"
# Commas must group by three: "1,5" is 1.5 to a European and 15 to a typo; refuse to guess.
_NUMBER = r"(?:[0-9]{1,3}(?:,[0-9]{3})+|[0-9]+)(?:\.[0-9]*)?|\.[0-9]+"
_AMOUNT = re.compile(
    rf"(?P<sign1>[-+])?\s*(?:{_PREFIX}\s*)?(?P<sign2>[-+])?\s*"
    rf"(?P<number>{_NUMBER})\s*(?:{_SUFFIX})?",
    re.IGNORECASE,
)
# NFKC leaves these minus signs alone; spreadsheets and word processors produce them.
_MINUS = str.maketrans({"\u2212": "-", "\u2013": "-", "\u2010": "-"})


def parse_amount(text: str | int | Decimal) -> Decimal:
    """Read an amount as people write it: ``"￥1,234.50"``, ``"１２３４．５元"``, ``"(1,200.00)"``.

    Accepts thousands separators (also the full-width ``，``), the marks ¥ ￥ 元 RMB CNY 人民币,
    full-width digits, period and minus, surrounding whitespace, a leading minus or plus, and
    accounting parentheses for a negative amount. Keeps every decimal place given: rounding is
    the caller's decision (see :func:`quantize`). ``ValueError`` with a translated message for
    anything else; ``TypeError`` for a float.
    """
    if isinstance(text, float):
        raise TypeError("parse_amount() refuses floats: pass the text or a Decimal")
    if not isinstance(text, str):
        return _require_decimal(text)
    cleaned = unicodedata.normalize("NFKC", text).translate(_MINUS).strip()
    if not cleaned:
        raise ValueError(_("Enter an amount."))
    negative = False
    if cleaned.startswith("(") and cleaned.endswith(")"):
        negative, cleaned = True, cleaned[1:-1].strip()
    match = _AMOUNT.fullmatch(cleaned)
    if match is None or (match["sign1"] and match["sign2"]):
        raise ValueError(_("“%(value)s” is not an amount.") % {"value": text.strip()})
    sign = match["sign1"] or match["sign2"]
    if sign and negative:  # "(-100)": which one did they mean?
        raise ValueError(_("“%(value)s” is not an amount.") % {"value": text.strip()})
    value = Decimal(match["number"].replace(",", ""))
    return value.copy_negate() if negative or sign == "-" else value


def format_amount(amount: Decimal | int, currency: str = "CNY", *, symbol: bool = True) -> str:
    """``Decimal("-1234.5")`` → ``"-¥1,234.50"``; ``"SGD 1,234.50"`` for a code without symbol.

    Rounds half up to the currency's minor unit first. ``symbol=False`` gives the bare number.
    """
    value = quantize(amount, currency)
    # copy_abs, not abs(): abs() rounds to the context's 28 digits.
    body = f"{value.copy_abs():,.{minor_unit(currency)}f}"
    sign = "-" if value < 0 else ""  # Decimal("-0.00") < 0 is False: no "-¥0.00"
    if not symbol:
        return f"{sign}{body}"
    mark = SYMBOLS.get(currency)
    return f"{sign}{mark}{body}" if mark else f"{sign}{currency} {body}"


_CN_DIGITS = "零壹贰叁肆伍陆柒捌玖"
_CN_SMALL_UNITS = ("", "拾", "佰", "仟")


def _cn_group(n: int) -> str:
    """1 ≤ n ≤ 9999 without a leading 零: whether a gap precedes the group is the caller's call.

    One 零 stands for a run of zeros between two digits; trailing zeros are silent. 拾 always
    keeps its 壹 (壹拾, 壹仟零壹拾), as on cheques: a bare 拾 invites a digit written in front.
    """
    out: list[str] = []
    gap = False
    for power in (3, 2, 1, 0):
        digit = n // 10**power % 10
        if digit == 0:
            gap = bool(out)
            continue
        if gap:
            out.append("零")
            gap = False
        out.append(_CN_DIGITS[digit] + _CN_SMALL_UNITS[power])
    return "".join(out)


def _cn_integer(n: int) -> str:
    """n ≥ 1 in 亿/万 sections, recursively (so 10¹² is 壹万亿 and 10¹⁶ 壹亿亿).

    A 零 joins two sections only when the lower one starts with a zero (壹万零伍, 壹亿零伍佰万);
    zeros at the end of the higher section are not written (壹拾万柒仟, the form the PBOC rules
    give first for 107,000).
    """
    for size, unit in ((10**8, "亿"), (10**4, "万")):
        if n >= size:
            high, low = divmod(n, size)
            text = _cn_integer(high) + unit
            if low:
                text += ("零" if low < size // 10 else "") + _cn_integer(low)
            return text
    return _cn_group(n)


def chinese_capital(amount: Decimal | int, *, prefix: str = "人民币") -> str:
    """The uppercase amount on formal documents: ``Decimal("12000")`` → ``"人民币壹万贰仟元整"``.

    Follows the PBOC rules for filling in bills (《支付结算办法》附件): rounded half up to fen;
    整 after 元 when there are no 角/分, none after 角 or 分 (人民币伍角); 零 when 角 is zero and
    分 is not (人民币壹佰万元零柒分); where the rules leave 零 optional (元位 zero, 角 not:
    1,680.32) it is left out (人民币壹仟陆佰捌拾元叁角贰分); no 元 when there are no yuan
    (人民币伍角); 负 before the numerals for a negative amount (人民币负壹佰元整).
    """
    fen_total = to_minor(quantize(amount, "CNY"), "CNY")
    yuan, cents = divmod(abs(fen_total), 100)
    jiao, fen = divmod(cents, 10)
    parts = [prefix, "负" if fen_total < 0 else ""]
    if yuan:
        parts.append(_cn_integer(yuan) + "元")
    if jiao:
        parts.append(_CN_DIGITS[jiao] + "角")
    if fen:
        parts.append(("零" if yuan and not jiao else "") + _CN_DIGITS[fen] + "分")
    if not cents:
        parts.append("整" if yuan else "零元整")
    return "".join(parts)
