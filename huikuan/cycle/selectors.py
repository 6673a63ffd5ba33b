"""Reads of the cycle: its runs, the schedule, the reports and the accounts the segment
preview counts.

Reports read the totals and snapshots the cycle wrote; they are portfolio-wide sums, so the
views require ``VIEW_ALL`` (whoever may read every account may read their sums). A date's
figures come from its latest finished run (a rerun of a day replaces what an earlier one said).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

import polars as pl
from django.conf import settings
from django.http import Http404
from django.utils import timezone

from huikuan.cycle import reports
from huikuan.cycle.models import CycleRun, ScheduleClaim
from huikuan.ledger import domain as ledger_domain
from huikuan.ledger.models import Portfolio
from huikuan.lib.frames import fen, read_frame

DONE = CycleRun.Status.DONE
LAST_COLOUR = 4  # the reddest bucket colour (web.templatetags.huikuan.bucket_class)

# --- runs and the schedule --------------------------------------------------------------------


def access_run(pk: int) -> CycleRun:
    run = CycleRun.objects.select_related("started_by").filter(pk=pk).first()
    if run is None:
        raise Http404
    return run


def runs() -> Any:
    return CycleRun.objects.select_related("started_by").order_by("-started_at", "-id")


def scheduled_run_ids(run_ids: Sequence[int]) -> set[int]:
    """Which of these runs the schedule started (the others: a person or the command line)."""
    return set(
        ScheduleClaim.objects.filter(run_id__in=list(run_ids)).values_list("run_id", flat=True)
    )


def schedule_at() -> dt.time | None:
    """``HUIKUAN_CYCLE_AT`` as a time of day; None when empty (no schedule)."""
    text = str(getattr(settings, "HUIKUAN_CYCLE_AT", "") or "").strip()
    if not text:
        return None
    return dt.time.fromisoformat(text)


def schedule_due_on(now: dt.datetime, *, require_time: bool = True) -> dt.date | None:
    """The local business date whose run is due at ``now``; None when the schedule is off or
    its time of day has not come yet. ``require_time=False`` (cron, ``cycle schedule --once``):
    the date is due whenever asked, since cron decides when."""
    local = timezone.localtime(now)
    if require_time:
        at = schedule_at()
        if at is None or local.time() < at:
            return None
    return local.date()


def latest_done_run(as_of: dt.date | None = None) -> CycleRun | None:
    """The latest finished run of ``as_of`` (of any date when None)."""
    found = CycleRun.objects.filter(status=DONE)
    if as_of is not None:
        found = found.filter(as_of=as_of)
    return found.order_by("-as_of", "-finished_at", "-id").first()


def done_dates(limit: int = 400) -> list[dt.date]:
    """Dates with a finished run, newest first (what the report date pickers offer)."""
    dates = (
        CycleRun.objects.filter(status=DONE)
        .order_by("-as_of")
        .values_list("as_of", flat=True)
        .distinct()
    )
    return list(dates[:limit])


# --- aging from the totals --------------------------------------------------------------------


@dataclass(frozen=True)
class BucketRef:
    code: str
    label: str
    index: int  # for the colour: 0 current … 4 and over the latest buckets


def bucket_refs(codes: Sequence[str], bounds: Sequence[int] | None = None) -> list[BucketRef]:
    """The buckets of ``bounds`` (every portfolio's when None) in DPD order, then any other
    code found in ``codes`` (bounds changed since the date), each with its label."""
    if bounds is not None:
        known = {b.code: b for b in ledger_domain.buckets(bounds)}
    else:
        known = {}
        every = {tuple(p) for p in Portfolio.objects.values_list("bucket_bounds", flat=True)}
        for each in sorted(every or {ledger_domain.DEFAULT_BUCKET_BOUNDS}):
            for bucket in ledger_domain.buckets(each):
                known.setdefault(bucket.code, bucket)
    ordered = sorted(known.values(), key=lambda b: (b.low, b.index))
    refs = [BucketRef(b.code, b.label, b.index) for b in ordered]
    extra = sorted(set(codes) - known.keys())
    return refs + [BucketRef(code, code, LAST_COLOUR) for code in extra]


@dataclass
class AgingLine:
    bucket: BucketRef
    accounts: int
    outstanding: Decimal
    overdue: Decimal
    share: Decimal


@dataclass
class AgingTable:
    portfolio_id: int
    portfolio: str
    currency: str
    lines: list[AgingLine] = field(default_factory=list)
    accounts: int = 0
    outstanding: Decimal = Decimal("0.00")
    overdue: Decimal = Decimal("0.00")


@dataclass
class AgingReport:
    as_of: dt.date
    run: CycleRun | None
    tables: list[AgingTable]


TOTALS_SCHEMA: dict[str, pl.DataType] = {
    "portfolio_id": pl.Int64(),
    "bucket": pl.String(),
    "segment": pl.String(),
    "step": pl.String(),
    "accounts": pl.Int64(),
    "outstanding_fen": pl.Int64(),
    "overdue_fen": pl.Int64(),
}


def run_totals(run: CycleRun, portfolio: int | None = None) -> pl.DataFrame:
    sql = f"""SELECT portfolio_id, bucket, segment, step, accounts, {fen("outstanding")},
                     {fen("overdue")}
              FROM cycle_snapshottotal WHERE run_id = %s"""  # noqa: S608
    params: list[Any] = [run.pk]
    if portfolio:
        sql += " AND portfolio_id = %s"
        params.append(portfolio)
    # "" (no segment, no step) may come back as null through PostgreSQL's CSV.
    return read_frame(sql, params, TOTALS_SCHEMA).with_columns(
        pl.col("segment", "step").fill_null("")
    )


def aging_report(as_of: dt.date, *, portfolio: int | None = None) -> AgingReport:
    """Accounts, outstanding and overdue per portfolio and bucket on ``as_of`` (every account
    with money outstanding), with each bucket's share of the portfolio's outstanding."""
    run = latest_done_run(as_of)
    if run is None:
        return AgingReport(as_of, None, [])
    sums = reports.totals_by(run_totals(run, portfolio), ["portfolio_id", "bucket"])
    portfolios = Portfolio.objects.in_bulk(sums["portfolio_id"].unique().to_list())
    tables = []
    for (pid,), part in sorted(sums.partition_by("portfolio_id", as_dict=True).items()):
        found = portfolios.get(int(pid))
        table = AgingTable(
            int(pid),
            found.name if found else f"#{pid}",
            found.currency if found else "CNY",
        )
        by_code = {r["bucket"]: r for r in part.iter_rows(named=True)}
        whole = int(part["outstanding_fen"].sum())
        bounds = found.bucket_bounds if found else None
        for ref in bucket_refs(list(by_code), bounds):
            row = by_code.get(ref.code, {})
            amount = int(row.get("outstanding_fen", 0))
            table.lines.append(
                AgingLine(
                    ref,
                    int(row.get("accounts", 0)),
                    reports.money(amount),
                    reports.money(row.get("overdue_fen", 0)),
                    reports.share(amount, whole),
                )
            )
        table.accounts = sum(line.accounts for line in table.lines)
        table.outstanding = sum((line.outstanding for line in table.lines), Decimal("0.00"))
        table.overdue = sum((line.overdue for line in table.lines), Decimal("0.00"))
        tables.append(table)
    return AgingReport(as_of, run, tables)


# --- roll rates -------------------------------------------------------------------------------


@dataclass
class RollRates:
    first: dt.date
    second: dt.date
    buckets: list[BucketRef]
    rows: list[reports.RollRow]
    currency: str


def snapshot_frame(as_of: dt.date, portfolio: int | None = None) -> pl.DataFrame:
    """The accounts with money outstanding on ``as_of`` as the snapshots tell it (their latest
    row up to that date): ``account_id``, ``bucket``, ``outstanding_fen``."""
    from huikuan.cycle.snapshots import snapshot_on

    found = snapshot_on(as_of, portfolio=portfolio)
    if found is None:
        return pl.DataFrame(schema=reports.SNAPSHOT_SCHEMA)
    return found.filter(pl.col("outstanding_fen") > 0).select(list(reports.SNAPSHOT_SCHEMA))


def roll_rates(first: dt.date, second: dt.date, *, portfolio: int | None = None) -> RollRates:
    moves = reports.roll_moves(snapshot_frame(first, portfolio), snapshot_frame(second, portfolio))
    codes = moves["from_bucket"].to_list() + moves["to_bucket"].to_list()
    bounds = None
    currencies = set(Portfolio.objects.values_list("currency", flat=True))
    if portfolio:
        chosen = Portfolio.objects.filter(pk=portfolio).first()
        bounds = chosen.bucket_bounds if chosen else None
        currencies = {chosen.currency} if chosen else currencies
    refs = bucket_refs(codes, bounds)
    rows = reports.roll_matrix(moves, [r.code for r in refs])
    currency = currencies.pop() if len(currencies) == 1 else "CNY"
    return RollRates(first, second, refs, rows, currency)


# --- segments and steps -----------------------------------------------------------------------


@dataclass
class SegmentStepLine:
    segment: str
    step: str
    accounts: int
    outstanding: Decimal
    overdue: Decimal


def segment_steps(run: CycleRun) -> list[SegmentStepLine]:
    """Accounts and money per segment and step in a run (accounts in no segment included)."""
    sums = reports.totals_by(run_totals(run), ["segment", "step"])
    return [
        SegmentStepLine(
            r["segment"],
            r["step"],
            int(r["accounts"]),
            reports.money(r["outstanding_fen"]),
            reports.money(r["overdue_fen"]),
        )
        for r in sums.iter_rows(named=True)
    ]


# --- planned actions --------------------------------------------------------------------------

ACTIONS_SCHEMA: dict[str, pl.DataType] = {
    "account_id": pl.Int64(),
    "team_kind": pl.String(),
    "channel": pl.String(),
    "status": pl.String(),
}
MONEY_SCHEMA: dict[str, pl.DataType] = {
    "account_id": pl.Int64(),
    "outstanding_fen": pl.Int64(),
    "overdue_fen": pl.Int64(),
}


def planned_actions(as_of: dt.date) -> pl.DataFrame:
    """The day's planned actions per team kind and channel, with the accounts' money that day
    (from the snapshots)."""
    from huikuan.cycle.snapshots import snapshot_on

    actions = read_frame(
        """SELECT account_id, team_kind, channel, status FROM cycle_plannedaction
           WHERE as_of = %s""",
        [as_of],
        ACTIONS_SCHEMA,
    )
    money = snapshot_on(as_of) if not actions.is_empty() else None
    if money is None:
        money = pl.DataFrame(schema=MONEY_SCHEMA)
    joined = actions.join(money.select(list(MONEY_SCHEMA)), on="account_id", how="left")
    return reports.actions_by_team_and_channel(joined)


# --- the accounts as the segment preview sees them ----------------------------------------------


def preview_accounts(as_of: dt.date) -> pl.DataFrame:
    """Every account the cycle would segment on ``as_of``, with the columns rules read.

    Read and derived as the cycle does it (``engine.read_accounts``, then the DPD, bucket and
    "worked" rules of ``cycle.domain``), so a preview's counts are what the next run assigns
    as long as the ledger does not change in between."""
    from huikuan.cycle import domain, engine

    accounts = engine.read_accounts(as_of)
    bounds = dict(Portfolio.objects.values_list("pk", "bucket_bounds"))
    day = pl.lit(as_of, pl.Date)
    frame = accounts.with_columns(
        dpd=pl.when(pl.col("oldest_unpaid_due").is_null())
        .then(pl.lit(0))
        .otherwise((day - pl.col("oldest_unpaid_due")).dt.total_days())
        .cast(pl.Int32)
    ).with_columns(bucket=domain.bucket_expr(bounds))
    worked = ~pl.col("status").is_in(domain.NOT_WORKED) & (pl.col("outstanding_fen") > 0)
    return frame.filter(worked)
