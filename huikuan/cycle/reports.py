"""What managers read from the cycle's tables, computed in Polars (no database here).

``selectors`` reads the rows (one query each) and hands frames to these functions; money is
integer fen throughout and becomes ``Decimal`` only in the dataclasses the pages show.

Roll rates (迁徙率) between two dates compare the accounts with money outstanding on the two
days, as the snapshots tell it. The rule for the accounts found on only one of the two days:

- found on the first day, not on the second (paid off, settled, written off): it left
  delinquency, and counts as "current / paid";
- found on the second day, not on the first (opened since): it came from "current".

The amount of a move is the outstanding balance on the first day (on the second day for the
accounts the first day did not record). Percentages are shares of each from-bucket's row.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from decimal import Decimal

import polars as pl

CURRENT = "current"
SNAPSHOT_SCHEMA: dict[str, pl.DataType] = {
    "account_id": pl.Int64(),
    "bucket": pl.String(),
    "outstanding_fen": pl.Int64(),
}


def money(fen: int | None) -> Decimal:
    return (Decimal(int(fen or 0)) / 100).quantize(Decimal("0.01"))


def share(part: int, whole: int) -> Decimal:
    """``part`` of ``whole`` in per cent, one decimal; 0 when there is no whole."""
    if whole <= 0:
        return Decimal("0.0")
    return (Decimal(part) * 100 / Decimal(whole)).quantize(Decimal("0.1"))


# --- sums of the snapshot totals --------------------------------------------------------------


def totals_by(totals: pl.DataFrame, keys: Sequence[str]) -> pl.DataFrame:
    """Accounts, outstanding and overdue summed over the partitions per ``keys``."""
    return (
        totals.group_by(list(keys))
        .agg(
            pl.col("accounts").sum(),
            pl.col("outstanding_fen").sum(),
            pl.col("overdue_fen").sum(),
        )
        .sort(list(keys))
    )


# --- roll rates -------------------------------------------------------------------------------


def roll_moves(first: pl.DataFrame, second: pl.DataFrame) -> pl.DataFrame:
    """Accounts and amount per (from bucket, to bucket), by the rule in the module's doc."""
    joined = first.join(second, on="account_id", how="full", coalesce=True, suffix="_to")
    return (
        joined.select(
            pl.col("bucket").fill_null(CURRENT).alias("from_bucket"),
            pl.col("bucket_to").fill_null(CURRENT).alias("to_bucket"),
            pl.coalesce("outstanding_fen", "outstanding_fen_to").fill_null(0).alias("amount_fen"),
        )
        .group_by("from_bucket", "to_bucket")
        .agg(pl.len().cast(pl.Int64).alias("accounts"), pl.col("amount_fen").sum())
        .sort("from_bucket", "to_bucket")
    )


@dataclass(frozen=True)
class RollCell:
    accounts: int
    amount: Decimal
    accounts_share: Decimal
    amount_share: Decimal
    # Where the account went relative to where it came from: better, same or worse.
    direction: str


@dataclass
class RollRow:
    bucket: str
    cells: list[RollCell] = field(default_factory=list)
    accounts: int = 0
    amount: Decimal = Decimal("0.00")


def roll_matrix(moves: pl.DataFrame, order: Sequence[str]) -> list[RollRow]:
    """One row per from-bucket in ``order`` (bucket codes, current first), each with one cell
    per to-bucket in the same order; codes found in ``moves`` but not in ``order`` go last."""
    codes = list(order)
    for column in ("from_bucket", "to_bucket"):
        for code in moves[column].unique().sort().to_list():
            if code not in codes:
                codes.append(code)
    found = {
        (r["from_bucket"], r["to_bucket"]): (r["accounts"], r["amount_fen"])
        for r in moves.iter_rows(named=True)
    }
    rows = []
    for i, origin in enumerate(codes):
        line = [found.get((origin, target), (0, 0)) for target in codes]
        accounts = sum(n for n, _ in line)
        amount = sum(a for _, a in line)
        row = RollRow(origin, accounts=accounts, amount=money(amount))
        for j, (n, a) in enumerate(line):
            direction = "same" if i == j else ("better" if j < i else "worse")
            row.cells.append(RollCell(n, money(a), share(n, accounts), share(a, amount), direction))
        rows.append(row)
    return rows


# --- planned actions --------------------------------------------------------------------------


def actions_by_team_and_channel(actions: pl.DataFrame) -> pl.DataFrame:
    """Per team kind and channel: actions, of which done, accounts, their outstanding and
    overdue (each account counted once per channel even with two actions on the day)."""
    per_account = actions.group_by("team_kind", "channel", "account_id").agg(
        pl.len().alias("actions"),
        (pl.col("status") == "done").sum().alias("done"),
        pl.col("outstanding_fen").first(),
        pl.col("overdue_fen").first(),
    )
    return (
        per_account.group_by("team_kind", "channel")
        .agg(
            pl.col("actions").sum().cast(pl.Int64),
            pl.col("done").sum().cast(pl.Int64),
            pl.len().cast(pl.Int64).alias("accounts"),
            pl.col("outstanding_fen").fill_null(0).sum(),
            pl.col("overdue_fen").fill_null(0).sum(),
        )
        .sort("team_kind", "channel")
    )
