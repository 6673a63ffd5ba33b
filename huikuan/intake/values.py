"""Vectorised Polars parsers for the values found in ledgers and bank files.

One-step parsers (:func:`text`, :func:`nfkc_column`) are expressions. The ones with several
steps (:func:`parse_date`, :func:`parse_amount`, :func:`phone_fast`, and the ID checks in
:mod:`huikuan.intake.idnumbers`) are a :class:`Parser`: ``with_columns`` stages over named
columns, each intermediate computed once and read from a column. (Eager Polars computes an
expression used twice twice, and ``struct.with_fields`` chains grow exponentially, since each
``pl.field`` is expanded into the whole input.) :func:`run` merges the stages of many parsers,
so the columns of one stage are computed in parallel.

Speed comes from three habits: a fast path for the common spelling (``1234.5``,
``2025-03-01``) with the full grammar applied only to the other rows (the rest are nulled, and
a null costs a string kernel next to nothing); validation patterns without capture groups
(the Rust engine then runs a DFA); and words (currency, product, kind) looked up once per
distinct value. Python loops over rows only in :func:`phone_fallback`, on the values the fast
path refused. Empty cells become null and are never an error here: whether a field is
required is :mod:`huikuan.intake.validate`'s business.

The rules follow :mod:`huikuan.lib.money` and :mod:`huikuan.lib.ids` (NFKC, the same
whitespace, the same amount grammar, the same check characters); the tests compare both on
generated values. Regular expressions say ``[0-9]``, never ``\\d``: the Rust engine's ``\\d``
is Unicode and would take an Arabic-Indic digit, which the Python helpers refuse.
"""

from __future__ import annotations

import datetime as dt
import re
import unicodedata
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import TypeVar

import phonenumbers
import polars as pl

from huikuan.lib.money import MINOR_UNITS

# What str.strip() removes. Polars' default strip uses Unicode White_Space, which differs on
# \x1c-\x1f; the same set as Python keeps these parsers in step with lib.money and lib.ids.
PY_WHITESPACE = (
    "\t\n\x0b\x0c\r\x1c\x1d\x1e\x1f \x85\xa0\u1680\u2000\u2001\u2002\u2003\u2004\u2005"
    "\u2006\u2007\u2008\u2009\u200a\u2028\u2029\u202f\u205f\u3000"
)
_WS = "[" + "".join(f"\\x{{{ord(c):x}}}" for c in PY_WHITESPACE) + "]"

Frame = TypeVar("Frame", pl.DataFrame, pl.LazyFrame)


@dataclass(frozen=True)
class Parser:
    """Stages of named expressions; stage *i* reads only source columns and columns written
    by earlier stages. ``temporary`` columns are dropped by :func:`run` after the last stage."""

    stages: Sequence[Mapping[str, pl.Expr]]
    temporary: Sequence[str] = ()


def run(frame: Frame, parsers: Iterable[Parser]) -> Frame:
    """Apply parsers, stage by stage, all parsers' stage *i* in one ``with_columns``."""
    parsers = list(parsers)
    for depth in range(max((len(p.stages) for p in parsers), default=0)):
        merged: dict[str, pl.Expr] = {}
        for parser in parsers:
            if depth < len(parser.stages):
                merged.update(parser.stages[depth])
        # A parser's temporary columns go as soon as its last stage has run: a chunk's
        # working frame is the bulk of the import's memory.
        done = [name for p in parsers if len(p.stages) == depth + 1 for name in p.temporary]
        frame = frame.with_columns(**merged).drop(done)
    return frame


def text(expr: pl.Expr) -> pl.Expr:
    """Stripped text; an empty or blank cell is null."""
    return expr.str.strip_chars(PY_WHITESPACE).replace("", None)


def nfkc(expr: pl.Expr) -> pl.Expr:
    """NFKC: a Chinese input method's full-width ``１２３，ＡＢＣ（）`` read as ``123,ABC()``."""
    return expr.str.normalize("NFKC")


def nfkc_column(column: pl.Expr) -> pl.Expr:
    """:func:`nfkc` computed for non-ASCII values only (ASCII is its own NFKC form): most
    cells are ASCII, and normalising a null costs nothing. Pass a column, not a computation:
    it is read three times."""
    non_ascii = column.str.len_bytes() != column.str.len_chars()
    return pl.coalesce(nfkc(pl.when(non_ascii).then(column)), column)


# --- Dates -------------------------------------------------------------------------------

# Validation patterns have no capture groups: then the Rust engine runs a DFA, several times
# faster than extracting groups. The parts are cut out afterwards with plain string kernels.
_TIME = r"(?:[01]?[0-9]|2[0-3]):[0-5][0-9](?::[0-5][0-9](?:\.[0-9]+)?)?"
_ISO_DATE = r"^[0-9]{4}-[0-9]{2}-[0-9]{2}$"
# One separator throughout (2025-3/1 is a typo); 日 only after 年…月; an optional time.
_YMD = (
    r"^[0-9]{4}(?:-[0-9]{1,2}-[0-9]{1,2}|/[0-9]{1,2}/[0-9]{1,2}|\.[0-9]{1,2}\.[0-9]{1,2}"
    rf"|年[0-9]{{1,2}}月[0-9]{{1,2}}日?)(?:(?:T| +){_TIME})?$"
)
_COMPACT_DATE = r"^[0-9]{8}$"
_SERIAL = r"^[0-9]{1,5}(?:\.[0-9]+)?$"
_DATE_SEPARATORS = {"/": "-", ".": "-", "年": "-", "月": "-", "日": ""}
# Excel's day 1 is 1900-01-01, and it counts a 29 February 1900 that never was (Lotus 1-2-3's
# bug, kept for compatibility): serials from 61 on are days since 1899-12-30, those before 60
# days since 1899-12-31, and 60 itself is no date.
_EPOCH_1970 = 25569
DATE_MIN = dt.date(1900, 1, 1)
DATE_MAX = dt.date(2199, 12, 31)


def excel_serial_to_date(serial: pl.Expr) -> pl.Expr:
    """Excel (1900 date system) serial number → date; null for 0 and for 60 (no such day)."""
    days = (
        pl.when(serial >= 61)
        .then(serial - _EPOCH_1970)
        .when((serial >= 1) & (serial <= 59))
        .then(serial - _EPOCH_1970 + 1)
    )
    return days.cast(pl.Int32).cast(pl.Date)


def parse_date(source: pl.Expr, out: str) -> Parser:
    """``out`` (Date) from ``2025-03-01``, ``2025/3/1``, ``2025.3.1``, ``2025年3月1日``,
    ``20250301``, an Excel serial (``45717``; a fraction is the time of day) or one of the
    first four with a time (``2025-03-01 14:30:00``, ``2025-03-01T14:30``), the time dropped.
    Null unless a real date from 1900 to 2199. Day-first ``01/03/2025`` is refused: ambiguous.
    """
    names = ("t", "iso", "rest", "r", "ymd", "compact", "serial", "v")
    t, iso, rest, r, ymd, compact, serial, value = (f"_{out}_{n}" for n in names)
    # chrono reads "2025-3-1" as well as "2025-03-01" (and is lenient beyond that, hence the
    # patterns first): the date part, separators made "-", is all it needs.
    date_part = (
        pl.col(r)
        .str.replace("T", " ", literal=True)
        .str.split_exact(" ", 1)
        .struct.field("field_0")
        .str.replace_many(_DATE_SEPARATORS)
    )
    serial_days = (
        pl.col(r).str.split_exact(".", 1).struct.field("field_0").cast(pl.Int64, strict=False)
    )
    return Parser(
        stages=(
            {t: text(source)},
            {iso: pl.col(t).str.contains(_ISO_DATE)},
            {
                value: pl.when(pl.col(iso)).then(pl.col(t).str.to_date("%Y-%m-%d", strict=False)),
                # The other formats only see the other rows: a null costs next to nothing.
                rest: pl.when(~pl.col(iso)).then(pl.col(t)),
            },
            {r: nfkc_column(pl.col(rest))},
            {
                ymd: pl.col(r).str.contains(_YMD),
                compact: pl.col(r).str.contains(_COMPACT_DATE),
                serial: pl.col(r).str.contains(_SERIAL),
            },
            {
                value: pl.coalesce(
                    pl.col(value),
                    pl.when(pl.col(ymd)).then(date_part.str.to_date("%Y-%m-%d", strict=False)),
                    pl.when(pl.col(compact)).then(pl.col(r).str.to_date("%Y%m%d", strict=False)),
                    pl.when(pl.col(serial)).then(excel_serial_to_date(serial_days)),
                )
            },
            {out: pl.when(pl.col(value).is_between(DATE_MIN, DATE_MAX)).then(pl.col(value))},
        ),
        temporary=(t, iso, rest, r, ymd, compact, serial, value),
    )


# --- Amounts ----------------------------------------------------------------------------

# lib.money's grammar: a sign, ¥/RMB/CNY/人民币, a sign (but not two), digits with commas
# grouping by three, a fraction, 元/RMB/CNY. After NFKC, so "￥" is "¥" here.
_PFX = rf"(?:¥|rmb|cny|人民币){_WS}*"
_NUMBER = r"(?:(?:[0-9]{1,3}(?:,[0-9]{3})+|[0-9]+)(?:\.[0-9]*)?|\.[0-9]+)"
_AMOUNT = (
    rf"(?i)^(?:[-+]{_WS}*(?:{_PFX})?|(?:{_PFX})?(?:[-+]{_WS}*)?){_NUMBER}{_WS}*(?:元|rmb|cny)?$"
)
_PLAIN_AMOUNT = r"^[0-9]{1,16}(?:\.[0-9]{0,2})?$"
MAX_INTEGER_DIGITS = 16  # 10¹⁶ yuan in fen still fits Int64 and DecimalField(20, 2)

AMOUNT_INVALID = "invalid"
AMOUNT_TOO_LARGE = "too_large"
AMOUNT_PRECISION = "precision"


def parse_amount(source: pl.Expr, out: str) -> Parser:
    """``out`` (Int64 fen), ``out_places`` and ``out_problem`` for amounts as people write them.

    Fen are exact: the digits are cut and cast as integers, never through a float.
    ``out_places`` counts significant decimals (``1.50`` → 1), so a caller can hold JPY to
    none. ``out_problem`` is ``"invalid"`` (what ``lib.money.parse_amount`` refuses),
    ``"too_large"`` (more than 16 integer digits) or ``"precision"`` (a non-zero third
    decimal: rounding it away would be a silent change); fen is then null. All null if empty.
    """
    names = (
        *("t", "plain", "rest", "s", "paren", "inner", "ok", "minus", "split", "digits"),
        *("frac", "negative", "places", "big"),
    )
    t, plain, rest, s, paren, inner, ok, minus, split, digits, frac, negative, places, big = (
        f"_{out}_{n}" for n in names
    )
    problem, places_out = f"{out}_problem", f"{out}_places"
    part = pl.col(split).struct.field
    return Parser(
        stages=(
            {t: text(source)},
            {plain: pl.col(t).str.contains(_PLAIN_AMOUNT)},  # "1234.5", most cells
            {rest: pl.when(~pl.col(plain)).then(pl.col(t))},  # the full grammar for the rest
            {
                s: nfkc_column(pl.col(rest))
                .str.replace_many(
                    dict.fromkeys("\u2212\u2013\u2010", "-")
                )  # minus signs NFKC keeps
                .str.strip_chars(PY_WHITESPACE)
            },
            {paren: pl.col(s).str.starts_with("(") & pl.col(s).str.ends_with(")")},
            {
                inner: pl.when(pl.col(paren))
                .then(pl.col(s).str.slice(1, pl.col(s).str.len_chars() - 2))
                .otherwise(pl.col(s))
                .str.strip_chars(PY_WHITESPACE)
            },
            {
                # "(-5)": which did they mean? Refused, as lib.money does.
                ok: pl.col(inner).str.contains(_AMOUNT)
                & ~(pl.col(paren) & pl.col(inner).str.contains("[-+]")),
                minus: pl.col(paren) | pl.col(inner).str.contains("-", literal=True),
                # Marks and signs hold no digit or dot: what is left is the number.
                split: pl.when(pl.col(plain))
                .then(pl.col(t))
                .otherwise(pl.col(inner).str.replace_all("[^0-9.]", ""))
                .str.split_exact(".", 1),
            },
            {
                digits: part("field_0").str.strip_chars_start("0"),
                frac: part("field_1").fill_null(""),
                negative: pl.col(plain).not_() & pl.col(minus),
                ok: pl.col(plain) | pl.col(ok),
            },
            {
                places: pl.col(frac).str.strip_chars_end("0").str.len_chars(),
                big: pl.col(digits).str.len_chars() > MAX_INTEGER_DIGITS,
            },
            {
                problem: pl.when(pl.col(t).is_null())
                .then(None)
                .when(~pl.col(ok))
                .then(pl.lit(AMOUNT_INVALID))
                .when(pl.col(big))
                .then(pl.lit(AMOUNT_TOO_LARGE))
                .when(pl.col(places) > 2)
                .then(pl.lit(AMOUNT_PRECISION)),
            },
            {
                out: pl.when(pl.col(problem).is_null() & pl.col(t).is_not_null()).then(
                    (
                        pl.col(digits).str.zfill(1).cast(pl.Int64, strict=False) * 100
                        + pl.concat_str(pl.col(frac), pl.lit("00")).str.slice(0, 2).cast(pl.Int64)
                    )
                    * pl.when(pl.col(negative)).then(-1).otherwise(1)
                ),
                places_out: pl.when(pl.col(problem).is_null() & pl.col(t).is_not_null()).then(
                    pl.col(places)
                ),
            },
        ),
        temporary=tuple(f"_{out}_{n}" for n in names),
    )


def fen_to_decimal(fen: pl.Expr) -> pl.Expr:
    """Int64 fen → Decimal(20, 2), exactly (a Decimal multiplication, no division, no float)."""
    return (fen.cast(pl.Decimal(38, 0)) * pl.lit(Decimal("0.01"))).cast(pl.Decimal(20, 2))


def format_fen(fen: pl.Expr) -> pl.Expr:
    """``123456`` → ``"1234.56"`` for messages."""
    sign = pl.when(fen < 0).then(pl.lit("-")).otherwise(pl.lit(""))
    magnitude = fen.abs()
    return pl.concat_str(
        sign,
        (magnitude // 100).cast(pl.String),
        pl.lit("."),
        (magnitude % 100).cast(pl.String).str.zfill(2),
    )


# --- Words: currency, product, debtor kind ------------------------------------------------

CURRENCY_WORDS: dict[str, str] = {
    **{code.lower(): code for code in MINOR_UNITS},
    **dict.fromkeys(("人民币", "人民币元", "元", "rmb", "¥", "cn¥"), "CNY"),
    **dict.fromkeys(("美元", "美金", "us$", "$"), "USD"),
    **dict.fromkeys(("港币", "港元", "hk$"), "HKD"),
    **dict.fromkeys(("欧元", "€"), "EUR"),
    **dict.fromkeys(("日元", "円"), "JPY"),
    **dict.fromkeys(("英镑", "£"), "GBP"),
    **dict.fromkeys(("澳门元", "澳门币"), "MOP"),  # not 澳币: people mean AUD by it too
    **dict.fromkeys(("新台币", "台币", "nt$"), "TWD"),
    **dict.fromkeys(("新加坡元", "新元"), "SGD"),
    **dict.fromkeys(("韩元",), "KRW"),
    **dict.fromkeys(("澳元", "澳大利亚元"), "AUD"),
    **dict.fromkeys(("加元", "加拿大元"), "CAD"),
    **dict.fromkeys(("瑞士法郎",), "CHF"),
}

PRODUCT_WORDS: dict[str, str] = {
    **dict.fromkeys(
        (
            "loan", "贷款", "消费贷", "消费贷款", "个人贷款", "信用贷", "信用贷款", "经营贷",
            "经营贷款", "现金贷", "车贷", "房贷", "抵押贷款", "小额贷款", "网贷",
            "consumerloan", "personalloan", "cashloan",
        ),
        "loan",
    ),
    **dict.fromkeys(("信用卡", "贷记卡", "creditcard", "card"), "credit_card"),
    **dict.fromkeys(
        ("应收账款", "货款", "账款", "贸易", "赊销", "trade", "tradereceivable", "receivable"),
        "trade",
    ),
    **dict.fromkeys(("其他", "其它", "other", "others"), "other"),
}  # fmt: skip

KIND_WORDS: dict[str, str] = {
    # Not 个体: a 个体工商户 has a credit code; an unknown word is reported, not guessed.
    **dict.fromkeys(("个人", "自然人", "individual", "person", "personal"), "individual"),
    **dict.fromkeys(
        ("企业", "公司", "单位", "法人", "机构", "enterprise", "company", "corporate", "business"),
        "enterprise",
    ),
}

# Names that are organisations, for the debtor kind when the ID number does not tell.
ENTERPRISE_NAME = (
    r"公司|有限|集团|企业|工厂|厂$|店$|合作社|事务所|中心$|(?i:\b(?:co|ltd|inc|llc|corp)\b)"
)


def word_key(value: str) -> str:
    """Key for matching words (currency, product, kind): NFKC, lower case, no spaces or ``_-.``."""
    return re.sub(r"[\s_\-.]+", "", unicodedata.normalize("NFKC", value).lower())


def word_table(values: Iterable[str], words: Mapping[str, str]) -> dict[str, str | None]:
    """The canonical word for each distinct cell (``"人民币"`` → ``"CNY"``; None if unknown).

    Per distinct value in Python: a column of currencies holds a handful of them, and a
    dictionary lookup on those beats normalising a million cells.
    """
    return {value: words.get(word_key(value)) for value in set(values)}


def lookup_words(column: pl.Expr, values: pl.Series, words: Mapping[str, str]) -> pl.Expr:
    """``column`` mapped through the :func:`word_table` of ``values`` (the same cells)."""
    table = word_table(values.drop_nulls().unique().to_list(), words)
    return column.replace_strict(table, default=None, return_dtype=pl.String)


# --- Phones ------------------------------------------------------------------------------


# The national pattern phonenumbers itself uses for Chinese mobiles, so the fast path accepts
# exactly what the fallback (and ledger.services.phone_normalize) would: no second list to age.
def _mobile_pattern() -> str:
    metadata = phonenumbers.PhoneMetadata.metadata_for_region("CN")
    pattern = metadata.mobile.national_number_pattern if metadata and metadata.mobile else None
    if not pattern:
        raise RuntimeError("phonenumbers has no pattern for Chinese mobiles")
    return pattern.replace(r"\d", "[0-9]")


_MOBILE = _mobile_pattern()


def phone_fast(source: pl.Expr, out: str) -> Parser:
    """``out``: E.164 (``+8613812345678``) for a Chinese mobile written with or without
    +86/0086, spaces, hyphens, dots or brackets; null for anything else (then ask
    :func:`phone_fallback`)."""
    t, compact = f"_{out}_t", f"_{out}_compact"
    mobile = f"^(?:\\+86|0086)?(?:{_MOBILE})$"
    return Parser(
        stages=(
            {t: text(source)},
            {compact: nfkc_column(pl.col(t)).str.replace_all(r"[ \-().]", "")},
            {
                out: pl.when(pl.col(compact).str.contains(mobile)).then(
                    pl.concat_str(pl.lit("+86"), pl.col(compact).str.slice(-11))
                )
            },
        ),
        temporary=(t, compact),
    )


def phone_fallback(values: Iterable[str], region: str = "CN") -> dict[str, str | None]:
    """E.164 or None for each distinct value, by phonenumbers (landlines, Hong Kong, typos).

    Per-row Python, but only on what :func:`phone_fast` refused, each distinct value once.
    """
    result: dict[str, str | None] = {}
    for value in set(values):
        # No valid number anywhere has fewer than 7 digits with its country code: a column of
        # junk then costs a count, not a phonenumbers parse, per value.
        if sum(c.isdigit() for c in value) < 7:
            result[value] = None
            continue
        try:
            number = phonenumbers.parse(value, region)
        except phonenumbers.NumberParseException:
            result[value] = None
            continue
        valid = phonenumbers.is_valid_number(number)
        result[value] = (
            phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)
            if valid
            else None
        )
    return result


EMAIL = r"^[^@\s]+@[^@\s]+\.[^@\s.]+$"
