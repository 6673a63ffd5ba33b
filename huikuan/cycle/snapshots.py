"""The portfolio as it stood on a past date, rebuilt from the snapshots.

The cycle writes every account's row on a full day (month-ends and the first run) and, on other
days, only the rows that changed (``engine._snapshot_rows``). An account's row on a date is
therefore its latest row from the last full day up to that date; its DPD and bucket on the date
follow from the oldest unpaid due date in that row and its portfolio's bounds, so they are exact
even for a day on which nothing about the account was written.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

import polars as pl

from huikuan.cycle.domain import bucket_expr
from huikuan.cycle.models import CycleRun
from huikuan.ledger.models import Portfolio
from huikuan.lib.frames import fen, read_frame

SNAPSHOT_SCHEMA: dict[str, pl.DataType] = {
    "as_of": pl.Date(),
    "account_id": pl.Int64(),
    "portfolio_id": pl.Int64(),
    "oldest_unpaid_due": pl.Date(),
    "outstanding_fen": pl.Int64(),
    "overdue_fen": pl.Int64(),
    "segment": pl.String(),
    "step": pl.String(),
    "collector_id": pl.Int64(),
}


def base_day(day: dt.date) -> dt.date | None:
    """The latest full snapshot on or before ``day`` (None: the cycle had not run by then)."""
    run = (
        CycleRun.objects.filter(status=CycleRun.Status.DONE, full_snapshot=True, as_of__lte=day)
        .order_by("-as_of")
        .values_list("as_of", flat=True)
        .first()
    )
    return run


def snapshot_on(day: dt.date, *, portfolio: int | None = None) -> pl.DataFrame | None:
    """Each account on ``day``: ``SNAPSHOT_SCHEMA`` plus ``dpd`` (signed) and ``bucket``, one row
    per account the cycle had seen by then; None when the cycle had not run by ``day``."""
    base = base_day(day)
    if base is None:
        return None
    sql = f"""SELECT as_of, account_id, portfolio_id, oldest_unpaid_due, {fen("outstanding")},
                     {fen("overdue")}, segment, step, collector_id
              FROM cycle_snapshot WHERE as_of >= %s AND as_of <= %s"""  # noqa: S608
    params: list[Any] = [base, day]
    if portfolio is not None:
        sql += " AND portfolio_id = %s"
        params.append(portfolio)
    rows = read_frame(sql, params, SNAPSHOT_SCHEMA)
    latest = rows.sort("account_id", "as_of").unique("account_id", keep="last", maintain_order=True)
    bounds = dict(Portfolio.objects.values_list("pk", "bucket_bounds"))
    on = pl.lit(day, pl.Date)
    return latest.with_columns(
        dpd=pl.when(pl.col("oldest_unpaid_due").is_null())
        .then(pl.lit(0))
        .otherwise((on - pl.col("oldest_unpaid_due")).dt.total_days())
        .cast(pl.Int32)
    ).with_columns(bucket=bucket_expr(bounds))
