"""Resident identity numbers (GB 11643) and unified social credit codes (GB 32100), vectorised.

The same rules, in the same order, with the same constants as :mod:`huikuan.lib.ids`, so an
import and a form never disagree about a number (the tests compare them on random numbers).
"""

from __future__ import annotations

import polars as pl

from huikuan.intake.values import ENTERPRISE_NAME, PY_WHITESPACE, Parser, nfkc_column
from huikuan.lib import ids as lib_ids

_RID_CHARS = dict(enumerate(lib_ids._RID_CHECK))
_USCC_CHARS = dict(enumerate(lib_ids.USCC_CHARSET))
_USCC_NOT = "[^" + lib_ids.USCC_CHARSET + "]"


UNCHECKED = "unchecked"


def id_normalize(column: pl.Expr) -> pl.Expr:
    """As ``lib.ids``: NFKC, stripped, upper case; null when empty."""
    return nfkc_column(column).str.strip_chars(PY_WHITESPACE).str.to_uppercase().replace("", None)


def id_checks(column: str, out: str, *, uscc_also: pl.Expr | None = None) -> Parser:
    """Checks of the normalised numbers in ``column`` under both standards.

    Writes ``out_rid`` and ``out_uscc``: null for a valid number, else the first rule broken,
    in ``lib.ids``' order (``resident_id_error``: ``old_15``, ``length``, ``format``,
    ``birth_date``, ``check``; ``uscc_error``: ``length``, ``charset``, ``region``,
    ``check``), and ``out_rid_check``/``out_uscc_check``: the check character the first 17
    characters call for (null when they are not 17 digits / charset characters).

    The credit-code check (17 character lookups) runs only where it can matter: numbers that
    are not a valid resident ID, and rows where ``uscc_also`` holds (say, a kind column that
    says enterprise); elsewhere ``out_uscc`` is :data:`UNCHECKED`. ``uscc_also=pl.lit(True)``
    checks every row.
    """
    number = pl.col(column)
    as_int, birth, masked, total = (f"_{out}_{n}" for n in ("int", "birth", "masked", "total"))
    hexed = f"_{out}_hex"
    rid, uscc = f"{out}_rid", f"{out}_uscc"
    rid_check, uscc_check = f"{out}_rid_check", f"{out}_uscc_check"
    first17 = number.str.slice(0, 17)
    # One integer per number and arithmetic for its digits: cheaper than 17 substrings.
    rid_digits = [
        pl.col(as_int) // 10 ** (16 - i) % 10 * weight
        for i, weight in enumerate(lib_ids._RID_WEIGHTS)
    ]
    # The 17 characters' bytes, from their hex form in three integers (7 + 7 + 3 characters,
    # at most 14 hex digits each, so they fit Int64), then byte → value by arithmetic: a
    # digit is itself, a letter counts from A = 10 skipping I, O, S and V (Z is not in the
    # set). Much cheaper than 17 table lookups; characters outside the set fail "charset"
    # before this total is ever compared.
    uscc_values = []
    for i, weight in enumerate(lib_ids._USCC_WEIGHTS):
        part, position = divmod(i, 7)
        width = min(7, 17 - 7 * part)
        byte = pl.col(f"{hexed}{part}") // 256 ** (width - 1 - position) % 256
        letter = byte - 55 - sum((byte > skipped).cast(pl.Int64) for skipped in (73, 79, 83, 86))
        uscc_values.append(pl.when(byte < 65).then(byte - 48).otherwise(letter) * weight)
    birth_text = number.str.slice(6, 8).str.to_date("%Y%m%d", strict=False)
    length = number.str.len_chars()
    code, code_length = pl.col(masked), pl.col(masked).str.len_chars()
    return Parser(
        stages=(
            {
                as_int: pl.when(first17.str.contains("^[0-9]{17}$")).then(
                    first17.cast(pl.Int64, strict=False)
                ),
                # chrono has a year 0, Python's date does not.
                birth: pl.when(birth_text.dt.year() >= 1).then(birth_text),
            },
            {
                rid_check: pl.sum_horizontal(rid_digits, ignore_nulls=False)
                .mod(11)
                .replace_strict(_RID_CHARS, default=None, return_dtype=pl.String),
            },
            {
                rid: pl.when(number.is_null())
                .then(None)
                .when((length == 15) & number.str.contains("^[0-9]{15}$"))
                .then(pl.lit("old_15"))
                .when(length != 18)
                .then(pl.lit("length"))
                .when(~number.str.contains("^[0-9]{17}[0-9X]$"))
                .then(pl.lit("format"))
                .when(pl.col(birth).is_null())
                .then(pl.lit("birth_date"))
                .when(number.str.slice(17, 1) != pl.col(rid_check))
                .then(pl.lit("check")),
            },
            {
                masked: pl.when(
                    pl.col(rid).is_not_null() | (uscc_also if uscc_also is not None else False)
                ).then(number)
            },
            {
                f"{hexed}{part}": pl.col(masked)
                .str.slice(7 * part, min(7, 17 - 7 * part))
                .str.encode("hex")
                .str.to_integer(base=16, strict=False)
                for part in range(3)
            },
            {
                total: pl.when(~pl.col(masked).str.slice(0, 17).str.contains(_USCC_NOT)).then(
                    pl.sum_horizontal(uscc_values, ignore_nulls=False)
                )
            },
            {
                uscc_check: ((31 - pl.col(total) % 31) % 31).replace_strict(
                    _USCC_CHARS, default=None, return_dtype=pl.String
                )
            },
            {
                uscc: pl.when(number.is_null())
                .then(None)
                .when(code.is_null())
                .then(pl.lit(UNCHECKED))
                .when(code_length != 18)
                .then(pl.lit("length"))
                .when(code.str.contains(_USCC_NOT))
                .then(pl.lit("charset"))
                .when(~code.str.slice(2, 6).str.contains("^[0-9]{6}$"))
                .then(pl.lit("region"))
                .when(code.str.slice(17, 1) != pl.col(uscc_check))
                .then(pl.lit("check")),
            },
        ),
        temporary=(as_int, birth, masked, total, *(f"{hexed}{part}" for part in range(3))),
    )


def uscc_bad_char(code: pl.Expr) -> pl.Expr:
    """The first character a unified social credit code may not contain (for the message)."""
    return code.str.extract(f"({_USCC_NOT})", 1)


def infer_kind(
    number: pl.Expr, name: pl.Expr, rid_problem: pl.Expr, uscc_problem: pl.Expr
) -> pl.Expr:
    """``"individual"`` or ``"enterprise"`` from a normalised ID number, the debtor's name and
    the two problem columns of :func:`id_checks`.

    A number that passes one standard's check decides; else an organisation's name (公司, 有限,
    Ltd...); else the shape (digits → individual, letters → enterprise). The kind then picks
    which standard's rules explain what is wrong with the number.
    """
    individual, enterprise = pl.lit("individual"), pl.lit("enterprise")
    return (
        pl.when(number.is_not_null() & rid_problem.is_null())
        .then(individual)
        .when(number.is_not_null() & uscc_problem.is_null())
        .then(enterprise)
        .when(name.str.contains(ENTERPRISE_NAME))
        .then(enterprise)
        .when(number.str.contains("[A-Z]"))
        .then(enterprise)
        .otherwise(individual)
    )
