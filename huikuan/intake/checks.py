"""The machinery of validation: mapped source columns, skipped rows, checks, the error frame.

Kept apart from the ledger's rules so that a bank-statement validator can reuse it.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import polars as pl

from huikuan.intake import messages
from huikuan.intake.headers import TOTALS_PATTERN
from huikuan.intake.values import nfkc, text

ROW = "__row__"  # readers add it: the file row number of each data row
ERROR_SCHEMA: dict[str, pl.DataType] = {
    "row": pl.Int64(),
    "field": pl.String(),
    "code": pl.String(),
    "message": pl.String(),
}


@dataclass(frozen=True)
class Source:
    """One mapped column: its position in the file, its header as written, its field."""

    index: int
    header: str
    field: str

    @property
    def raw(self) -> str:
        """Name of the column holding its text, in the working frame."""
        return f"raw{self.index}"


def sources(columns: Sequence[str], mapping: Mapping[int, str]) -> dict[str, list[Source]]:
    """The mapped columns by field; ``mapping``'s indexes count the file's columns (not ROW)."""
    columns = [name for name in columns if name != ROW]
    by_field: dict[str, list[Source]] = {}
    for index, name in sorted(mapping.items()):
        if index < len(columns):
            by_field.setdefault(name, []).append(Source(index, columns[index], name))
    return by_field


@dataclass
class Check:
    """Rows where ``failed`` holds get one error. ``params`` fill the message's placeholders
    and are evaluated on those rows only, so messages cost nothing for the valid rows."""

    code: str
    source: Source
    failed: pl.Expr
    params: dict[str, pl.Expr] = field(default_factory=dict)


def row_numbers(df: pl.DataFrame, first_row_number: int) -> pl.Expr:
    if ROW in df.columns:
        return pl.col(ROW).cast(pl.Int64)
    return pl.int_range(pl.len(), dtype=pl.Int64) + first_row_number


def data_columns(df: pl.DataFrame) -> list[str]:
    return [name for name in df.columns if name != ROW]


# Where a totals label can start (after NFKC it is 合计, 本页合计, Total, Sum...): a cheap test
# that spares normalising the first cell of every ordinary row.
_TOTALS_START = r"(?i)^[\s本全累合总小共汇tgsｔｇｓ]"


def skipped_rows(df: pl.DataFrame) -> pl.Series:
    """True for blank rows, and for totals rows (合计/总计/小计/Total in the first non-empty
    cell): both are how people lay out a sheet, not data, and are left out without an error."""
    columns = [pl.col(name) for name in data_columns(df)]
    first = df.select(first=text(pl.coalesce(columns)), raw=pl.coalesce(columns))
    if (first["raw"].is_not_null() & first["first"].is_null()).any():
        # The first non-null cell is blank (spaces): look further along, in those rows only.
        blank = first["raw"].is_not_null() & first["first"].is_null()
        later = df.select(pl.coalesce([text(c) for c in columns])).to_series()
        first = first.with_columns(first=pl.when(blank).then(later).otherwise(pl.col("first")))
    label = pl.col("first")
    candidate = pl.when(label.str.contains(_TOTALS_START)).then(label)
    totals = nfkc(candidate).str.to_lowercase().str.replace_all(r"\s+", "")
    return first.select(
        label.is_null() | totals.str.contains(TOTALS_PATTERN).fill_null(False)
    ).to_series()


def value_param(source: Source) -> pl.Expr:
    return text(pl.col(source.raw)).str.slice(0, messages.VALUE_CHARS)


def errors_frame(
    parsed: pl.DataFrame, checks: Sequence[Check], templates: Mapping[str, str] | None = None
) -> pl.DataFrame:
    """One row per failed check, ordered by row and then by column as in the file; messages
    from ``templates`` where they have the code (see ``messages.message``)."""
    parts = [
        parsed.lazy()
        .filter(check.failed.fill_null(False))
        .select(
            pl.col("row"),
            pl.lit(check.source.header).alias("field"),
            pl.lit(check.code).alias("code"),
            messages.message(
                check.code,
                {
                    "row": pl.col("row"),
                    "field": pl.lit(check.source.header),
                    "value": value_param(check.source),
                    **check.params,
                },
                templates,
            ).alias("message"),
            pl.lit(check.source.index).alias("_order"),
        )
        for check in checks
    ]
    if not parts:
        return pl.DataFrame(schema=ERROR_SCHEMA)
    return (
        pl.concat(parts)
        .sort("row", "_order", maintain_order=True)
        .drop("_order")
        .collect()
        .cast(ERROR_SCHEMA)  # type: ignore[arg-type]
    )
