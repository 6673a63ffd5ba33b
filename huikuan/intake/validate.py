"""Ledger rows: from text columns to clean typed columns plus an error report, a chunk at a time.

A row with any error stays out of ``clean``; every error is one row of the report (row as the
user sees it, column as written, a stable code, a translated message). Missing *columns* are
reported once per file by :func:`mapping_errors`, not once per row.

Amounts are worked in Int64 fen and leave as ``Decimal(20, 2)``. When the file gives only a
total (应收金额) it is the principal due; when it gives principal, interest and fee, the total
is their sum, and a total given as well must agree with it. ``paid_amount`` is the total paid
(or the sum of the paid parts); splitting it over the components is the ledger's allocation
order, so it is left to the loader.
"""

from __future__ import annotations

import re
from collections.abc import Mapping

import polars as pl

from huikuan.intake import messages
from huikuan.intake import values as v
from huikuan.intake.checks import ERROR_SCHEMA, Check, Source, errors_frame, sources
from huikuan.intake.duplicates import SeenKeys
from huikuan.intake.headers import LABELS, LEDGER_REQUIRED, LEDGER_SYNONYMS, missing_fields
from huikuan.intake.idnumbers import uscc_bad_char
from huikuan.intake.ledger_parse import (
    DATES,
    DUE_PARTS,
    PAID_PARTS,
    PHONES,
    BySource,
    amount_sources,
    one,
    parse_ledger,
)
from huikuan.lib._translate import _

MONEY = pl.Decimal(20, 2)
LEDGER_SCHEMA: dict[str, pl.DataType] = {
    "row": pl.Int64(),
    "debtor_kind": pl.String(),
    "debtor_name": pl.String(),
    "id_number": pl.String(),
    "region": pl.String(),
    "contract_no": pl.String(),
    "product": pl.String(),
    "currency": pl.String(),
    "principal": MONEY,
    "open_date": pl.Date(),
    "item_no": pl.String(),
    "item_kind": pl.String(),
    "due_date": pl.Date(),
    "principal_due": MONEY,
    "interest_due": MONEY,
    "fee_due": MONEY,
    "amount_due": MONEY,
    "paid_amount": MONEY,
    "principal_paid": MONEY,
    "interest_paid": MONEY,
    "fee_paid": MONEY,
    "phone": pl.String(),
    "address": pl.String(),
    "email": pl.String(),
    "guarantor_name": pl.String(),
    "guarantor_phone": pl.String(),
}
# The model's column sizes: longer text would fail at COPY, far from the row that caused it.
MAX_CHARS = {
    "debtor_name": 200,
    "contract_no": 64,
    "item_no": 40,
    "address": 300,
    "email": 254,
    "guarantor_name": 200,
}
ID_CODES = {
    "individual": {
        "old_15": "id_old_15",
        "length": "id_length",
        "format": "id_format",
        "birth_date": "id_birth_date",
        "check": "id_check",
    },
    "enterprise": {
        "length": "id_length",
        "charset": "uscc_charset",
        "region": "uscc_region",
        "check": "uscc_check",
    },
}
_ID_MESSAGES = sorted({*ID_CODES["individual"].values(), *ID_CODES["enterprise"].values()})


def mapping_errors(
    mapping: Mapping[int, str], *, header_row_number: int, language: str | None = None
) -> pl.DataFrame:
    """One error per required field with no column, reported on the header row."""
    with messages.language(language):
        rows = [
            {
                "row": header_row_number,
                "field": "",
                "code": "column_missing",
                "message": _(messages.TEMPLATES["column_missing"])
                % {
                    "row": header_row_number,
                    "label": _(LABELS[name]),
                    "example": LEDGER_SYNONYMS[name][0],
                },
            }
            for name in missing_fields(mapping, "ledger")
        ]
    return pl.DataFrame(rows, schema=ERROR_SCHEMA)


def validate_ledger_chunk(
    df: pl.DataFrame,
    mapping: Mapping[int, str],
    *,
    first_row_number: int,
    language: str | None = None,
    seen: SeenKeys | None = None,
    default_currency: str = "CNY",
) -> tuple[pl.DataFrame, pl.DataFrame]:
    """``(clean, errors)`` for one chunk of text columns laid out as in the file.

    ``mapping`` is column index → field (:func:`headers.guess_mapping`); the column names of
    ``df`` are the headers as written, which messages quote. Row numbers come from the readers'
    ``__row__`` column, else ``first_row_number`` + position. Pass one ``seen`` to every chunk
    of a file to find (contract, item) keys repeated across chunks. ``clean`` follows
    :data:`LEDGER_SCHEMA`; it stays empty while a required column is missing altogether
    (:func:`mapping_errors` reports that, once).
    """
    by_field = sources(df.columns, mapping)
    with messages.language(language):
        parsed = parse_ledger(
            df,
            by_field,
            first_row_number=first_row_number,
            default_currency=default_currency,
            seen=seen,
        )
        errors = errors_frame(parsed, _checks(by_field))
    columns = _clean_columns(by_field)
    if missing_fields(mapping, "ledger"):
        return parsed.clear().select(columns), errors
    clean = parsed.join(errors.select("row").unique(), on="row", how="anti", maintain_order="left")
    return clean.select(columns), errors


def _cell(source: Source) -> pl.Expr:
    return v.text(pl.col(source.raw))


def _checks(by_field: BySource) -> list[Check]:
    return [
        *_presence_checks(by_field),
        *_id_checks(by_field),
        *_value_checks(by_field),
        *_amount_checks(by_field),
        *_duplicate_checks(by_field),
    ]


def _presence_checks(by_field: BySource) -> list[Check]:
    checks = [
        Check("required", s, _cell(s).is_null())
        for name in LEDGER_REQUIRED
        if (s := one(by_field, name))
    ]
    due = amount_sources(by_field, ("amount_due", *DUE_PARTS))
    if due:
        empty = pl.all_horizontal(_cell(s).is_null() for s in due)
        checks.append(Check("amount_missing", due[0], empty))
    for name, limit in MAX_CHARS.items():
        if s := one(by_field, name):
            length = pl.col(name).str.len_chars()
            checks.append(
                Check("too_long", s, length > limit, {"count": length, "max": pl.lit(limit)})
            )
    return checks


def _id_checks(by_field: BySource) -> list[Check]:
    source = one(by_field, "id_number")
    if source is None:
        return []
    number = pl.col("id_number")
    individual = pl.col("debtor_kind") == "individual"
    kind = one(by_field, "debtor_kind")
    params = {
        "count": number.str.len_chars(),
        "date": number.str.slice(6, 8),
        # Computed on failing rows only: the check character is the expensive part.
        "expected": pl.when(individual).then("id_rid_check").otherwise("id_uscc_check"),
        "actual": number.str.slice(17, 1),
        "char": uscc_bad_char(number),
        "kind_field": pl.lit(kind.header if kind else ""),
    }
    code = (
        pl.when(individual)
        .then(pl.col("id_rid").replace_strict(ID_CODES["individual"], default=None))
        .otherwise(pl.col("id_uscc").replace_strict(ID_CODES["enterprise"], default=None))
    )
    checks: list[Check] = []
    if kind is not None:
        # The kind column contradicts a number that is valid for the other kind: say that,
        # rather than explain the number by the wrong standard.
        given = pl.col("kind_given")
        is_uscc = pl.col("id_uscc").is_null() & pl.col("id_rid").is_not_null()
        is_rid = pl.col("id_rid").is_null() & pl.col("id_uscc").is_not_null()
        enterprise_number = (given == "individual") & is_uscc
        individual_number = (given == "enterprise") & is_rid
        checks += [
            Check("kind_is_enterprise", source, enterprise_number, params),
            Check("kind_is_individual", source, individual_number, params),
        ]
        code = pl.when(enterprise_number | individual_number).then(None).otherwise(code)
    return checks + [Check(name, source, code == name, params) for name in _ID_MESSAGES]


def _value_checks(by_field: BySource) -> list[Check]:
    checks: list[Check] = []
    unparsed = [(name, "date_invalid") for name in DATES]
    unparsed += [(name, "phone_invalid") for name in PHONES]
    unparsed += [("currency", "currency_unknown"), ("product", "product_unknown")]
    for name, code in unparsed:
        if s := one(by_field, name):
            checks.append(Check(code, s, _cell(s).is_not_null() & pl.col(name).is_null()))
    if s := one(by_field, "debtor_kind"):
        checks.append(
            Check("kind_invalid", s, _cell(s).is_not_null() & pl.col("kind_given").is_null())
        )
    if s := one(by_field, "email"):
        checks.append(Check("email_invalid", s, ~pl.col("email").str.contains(v.EMAIL)))
    if s := one(by_field, "region"):
        checks.append(Check("region_invalid", s, ~pl.col("region").str.contains("^[0-9]{6}$")))
    return checks


def _amount_checks(by_field: BySource) -> list[Check]:
    checks: list[Check] = []
    for s in amount_sources(by_field):
        problem = pl.col(f"amt{s.index}_problem")
        places = pl.col(f"amt{s.index}_places")
        precision = {"currency": pl.col("currency").fill_null("?"), "places": pl.col("max_places")}
        checks += [
            Check("amount_invalid", s, problem == v.AMOUNT_INVALID),
            Check("amount_too_large", s, problem == v.AMOUNT_TOO_LARGE),
            Check(
                "amount_precision",
                s,
                (problem == v.AMOUNT_PRECISION) | (places > pl.col("max_places")),
                precision,
            ),
            Check("amount_negative", s, pl.col(f"amt{s.index}") < 0),
        ]
    if total := one(by_field, "amount_due"):
        differs = pl.col("amounts_ok") & (pl.col("amount_due") != pl.col("due_sum"))
        params = {
            "total": v.format_fen(pl.col("amount_due")),
            "sum": v.format_fen(pl.col("due_sum")),
        }
        checks.append(Check("amount_mismatch", total, differs, params))
    if paid_total := one(by_field, "paid_amount"):
        differs = pl.col("amounts_ok") & (pl.col("paid_amount") != pl.col("paid_sum"))
        params = {
            "total": v.format_fen(pl.col("paid_amount")),
            "sum": v.format_fen(pl.col("paid_sum")),
        }
        checks.append(Check("paid_mismatch", paid_total, differs, params))
    paid = amount_sources(by_field, ("paid_amount", *PAID_PARTS))
    if paid:
        over = pl.col("amounts_ok") & (pl.col("total_paid") > pl.col("total_due"))
        params = {
            "paid": v.format_fen(pl.col("total_paid")),
            "due": v.format_fen(pl.col("total_due")),
        }
        checks.append(Check("paid_exceeds_due", paid[0], over, params))
    return checks


def _duplicate_checks(by_field: BySource) -> list[Check]:
    item, contract = one(by_field, "item_no"), one(by_field, "contract_no")
    if contract is None:
        return []
    repeated = pl.col("dup_first").is_not_null() & (pl.col("dup_first") != pl.col("row"))
    params = {"contract": pl.col("contract_no"), "first": pl.col("dup_first")}
    by_due = pl.col("item_no").is_null()
    return [
        Check(
            "duplicate", item or contract, repeated & ~by_due, {**params, "item": pl.col("item_no")}
        ),
        Check(
            "duplicate_due",
            one(by_field, "due_date") or contract,
            repeated & by_due,
            {**params, "item": pl.col("due_date").cast(pl.String)},
        ),
    ]


def _clean_columns(by_field: BySource) -> list[pl.Expr]:
    money = {
        "principal": "principal",
        "principal_due": "principal_due_out",
        "interest_due": "interest_due_out",
        "fee_due": "fee_due_out",
        "amount_due": "total_due",
        "paid_amount": "total_paid",
        **{name: name for name in PAID_PARTS},
    }
    number = pl.col("id_number")
    derived_region = (
        pl.when(pl.col("debtor_kind") == "individual")
        .then(number.str.slice(0, 6))
        .otherwise(number.str.slice(2, 6))
    )
    columns = {
        name: v.fen_to_decimal(pl.col(money[name])) if name in money else pl.col(name)
        for name in LEDGER_SCHEMA
    }
    columns["region"] = pl.coalesce("region", derived_region)
    # Invoices where the file numbers invoices (发票号) or the receivable is trade; else the
    # installments of a loan or card.
    item = one(by_field, "item_no")
    invoices = item is not None and bool(re.search("发票|invoice", item.header, re.IGNORECASE))
    columns["item_kind"] = (
        pl.when(pl.lit(invoices) | (pl.col("product") == "trade"))
        .then(pl.lit("invoice"))
        .otherwise(pl.lit("installment"))
    )
    return [expr.cast(LEDGER_SCHEMA[name]).alias(name) for name, expr in columns.items()]
