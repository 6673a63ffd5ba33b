"""The parsing half of ledger validation: one working frame with every cell parsed.

The parsers of all columns run stage by stage (:func:`values.run`), so every cell is parsed
once and the columns of a stage in parallel. Amounts stay Int64 fen here (``amt<i>`` for the
file's column *i*); :mod:`validate` turns them into ``Decimal`` at the end.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import polars as pl

from huikuan.intake import values as v
from huikuan.intake.checks import Source, row_numbers, skipped_rows
from huikuan.intake.duplicates import SeenKeys, key_hash
from huikuan.intake.idnumbers import id_checks, id_normalize, infer_kind
from huikuan.lib.money import MINOR_UNITS

DUE_PARTS = ("principal_due", "interest_due", "fee_due")
PAID_PARTS = ("principal_paid", "interest_paid", "fee_paid")
AMOUNTS = ("principal", "amount_due", "paid_amount", *DUE_PARTS, *PAID_PARTS)
DATES = ("open_date", "due_date")
PHONES = ("phone", "guarantor_phone")
TEXTS = ("debtor_name", "contract_no", "item_no", "address", "email", "guarantor_name", "region")
# Decimal places an amount may have in each currency; never more than the model's two.
_PLACES = {code: min(places, 2) for code, places in MINOR_UNITS.items()}

BySource = Mapping[str, Sequence[Source]]


def one(by_field: BySource, name: str) -> Source | None:
    found = by_field.get(name)
    return found[0] if found else None


def raw(by_field: BySource, name: str) -> pl.Expr:
    """The text of the field's (first) column; a null literal when the file has none."""
    source = one(by_field, name)
    return pl.col(source.raw) if source else pl.lit(None, pl.String)


def amount_sources(by_field: BySource, names: Sequence[str] = AMOUNTS) -> list[Source]:
    return [s for name in names for s in by_field.get(name, ())]


def parse_ledger(
    df: pl.DataFrame,
    by_field: BySource,
    *,
    first_row_number: int,
    default_currency: str,
    seen: SeenKeys | None,
) -> pl.DataFrame:
    """The working frame: ``row``, ``raw<i>`` texts, parsed fields, problem codes, fen sums."""
    parsed = _stages(df, by_field, first_row_number, default_currency).collect()
    parsed = _phone_fallback(parsed, by_field)
    return _duplicates(parsed, seen if seen is not None else SeenKeys())


def _stages(
    df: pl.DataFrame, by_field: BySource, first_row_number: int, default_currency: str
) -> pl.LazyFrame:
    amounts = amount_sources(by_field)
    keep = ~skipped_rows(df)
    base = (
        df.lazy()
        .select(
            row_numbers(df, first_row_number).alias("row"),
            *[pl.col(s.header).alias(s.raw) for group in by_field.values() for s in group],
        )
        .filter(keep)
    )
    currency = _words(df, by_field, "currency", v.CURRENCY_WORDS)
    cells = v.Parser(
        stages=(
            {
                **{name: v.text(raw(by_field, name)) for name in TEXTS},
                "id_number": id_normalize(raw(by_field, "id_number")),
                "kind_given": _words(df, by_field, "debtor_kind", v.KIND_WORDS),
                "product": _words(df, by_field, "product", v.PRODUCT_WORDS),
                # An empty currency cell is the portfolio's currency; an unknown word is null.
                "currency": pl.when(v.text(raw(by_field, "currency")).is_null())
                .then(pl.lit(default_currency))
                .otherwise(currency),
            },
        )
    )
    ids = id_checks("id_number", "id", uscc_also=pl.col("kind_given") == "enterprise")
    parsers = [
        cells,
        v.Parser(stages=({}, *ids.stages), temporary=ids.temporary),  # after id_number
        *[v.phone_fast(raw(by_field, name), name) for name in PHONES],
        *[v.parse_date(raw(by_field, name), name) for name in DATES],
        *[v.parse_amount(pl.col(s.raw), f"amt{s.index}") for s in amounts],
    ]
    parsed = v.run(base, parsers).with_columns(
        debtor_kind=pl.coalesce(
            "kind_given",
            infer_kind(
                pl.col("id_number"), pl.col("debtor_name"), pl.col("id_rid"), pl.col("id_uscc")
            ),
        ),
        max_places=pl.col("currency").replace_strict(_PLACES, default=2, return_dtype=pl.Int64),
        # Sums and comparisons only mean something when every amount in the row is sound.
        amounts_ok=pl.all_horizontal(
            pl.lit(True),
            *[
                pl.col(f"amt{s.index}_problem").is_null()
                & (pl.col(f"amt{s.index}").fill_null(0) >= 0)
                for s in amounts
            ],
        ),
        **{name: _field_fen(by_field, name) for name in AMOUNTS},
    )
    return parsed.with_columns(**_totals())


def _words(df: pl.DataFrame, by_field: BySource, name: str, words: Mapping[str, str]) -> pl.Expr:
    """The field's canonical word, looked up once per distinct cell of this chunk."""
    source = one(by_field, name)
    if source is None:
        return pl.lit(None, pl.String)
    return v.lookup_words(pl.col(source.raw), df.get_column(source.header), words).alias(name)


def _field_fen(by_field: BySource, name: str) -> pl.Expr:
    """Fen of a field: its column, or the sum of its columns (fees split over several)."""
    columns = [pl.col(f"amt{s.index}") for s in by_field.get(name, ())]
    if not columns:
        return pl.lit(None, pl.Int64)
    if len(columns) == 1:
        return columns[0]
    return pl.when(pl.any_horizontal(c.is_not_null() for c in columns)).then(
        pl.sum_horizontal(columns)
    )


def _sum(parts: Sequence[str]) -> pl.Expr:
    """Sum of the parts with empty ones as zero; null when all are empty."""
    given = pl.any_horizontal(pl.col(p).is_not_null() for p in parts)
    return pl.when(given).then(pl.sum_horizontal(pl.col(p).fill_null(0) for p in parts))


def _totals() -> dict[str, pl.Expr]:
    total_due = pl.coalesce("amount_due", _sum(DUE_PARTS))
    has_due = total_due.is_not_null()
    return {
        "due_sum": _sum(DUE_PARTS),
        "paid_sum": _sum(PAID_PARTS),
        "total_due": total_due,
        "total_paid": pl.coalesce("paid_amount", _sum(PAID_PARTS), pl.lit(0, pl.Int64)),
        # A total alone (应收金额) is all principal.
        "principal_due_out": pl.when(_sum(DUE_PARTS).is_null())
        .then(pl.col("amount_due"))
        .otherwise(pl.col("principal_due").fill_null(0)),
        "interest_due_out": pl.when(has_due).then(pl.col("interest_due").fill_null(0)),
        "fee_due_out": pl.when(has_due).then(pl.col("fee_due").fill_null(0)),
    }


def _phone_fallback(parsed: pl.DataFrame, by_field: BySource) -> pl.DataFrame:
    """Ask phonenumbers about the phones the fast path refused, each distinct value once."""
    for name in PHONES:
        source = one(by_field, name)
        if source is None:
            continue
        cell = v.text(pl.col(source.raw))
        refused = (
            parsed.lazy()
            .filter(pl.col(name).is_null())
            .select(cell.alias("cell"))
            .drop_nulls()
            .unique()
            .collect()
            .get_column("cell")
        )
        if refused.is_empty():
            continue
        found = v.phone_fallback(refused.to_list())
        parsed = parsed.with_columns(
            pl.coalesce(
                pl.col(name),
                cell.replace_strict(found, default=None, return_dtype=pl.String),
            ).alias(name)
        )
    return parsed


def _duplicates(parsed: pl.DataFrame, seen: SeenKeys) -> pl.DataFrame:
    """``dup_first``: the row where this row's (contract, item) key first appeared.

    Without an item number the due date stands in: two rows of one contract with different
    due dates are two installments, with the same one they are the same installment twice.
    """
    item = pl.coalesce(
        pl.concat_str(pl.lit("n:"), pl.col("item_no")),
        pl.concat_str(pl.lit("d:"), pl.col("due_date").cast(pl.String)),
    )
    keys = parsed.select(key_hash(pl.col("contract_no"), item)).to_series()
    return parsed.with_columns(dup_first=seen.first_rows(keys, parsed.get_column("row")))
