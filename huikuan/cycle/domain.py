"""One day of the collection cycle over a frame of accounts: pure, vectorised, no database.

``cycle_compute`` takes the accounts (one narrow row each: balances, dates, owner, debtor
attributes) and where each stood before, and returns where each stands on ``as_of``: DPD and
bucket, segment, strategy and arm, step, the day's planned actions, the moves between steps and
the snapshot rows. The same function runs on SQLite and PostgreSQL (the engine only reads and
writes around it), so the two give identical results by construction.

Rules of the day:

- DPD is signed: days since the oldest unpaid due date, negative while that date is still ahead
  (so a strategy can remind three days before). The bucket uses DPD ≥ 0 with the portfolio's
  bounds.
- Accounts closed (paid off, settled, written off), with nothing outstanding, or in legal
  proceedings are in no segment: the cycle does not work them.
- An account keeps its strategy, arm and step while it stays in its segment; in a new segment
  it starts on the step its key gives (days in the segment start at 0).
- The arm is drawn by the stable hash of (account, segment), so reruns and later days agree.
- An action is planned on the day an account reaches a step, then every ``repeat_every`` days
  while it stays, unless its treatment is paused (an open dispute, an active plan). The state's
  next action is the first one after the day (the day's own are the planned actions).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import polars as pl

from huikuan.ledger.domain import AccountStatus, buckets
from huikuan.strategy import domain as strategy

NOT_WORKED = (
    AccountStatus.PAID_OFF.value,
    AccountStatus.SETTLED.value,
    AccountStatus.WRITTEN_OFF.value,
    AccountStatus.LEGAL.value,
)

ACCOUNTS_SCHEMA: dict[str, pl.DataType] = {
    **strategy.ACCOUNT_COLUMNS,
    "portfolio_id": pl.Int64(),
    "status": pl.String(),
    "overdue_fen": pl.Int64(),
    "oldest_unpaid_due": pl.Date(),
    "collector_id": pl.Int64(),
    "disputed": pl.Boolean(),
}
# Where each account stood before the day (null for an account the cycle has not seen).
PREVIOUS_SCHEMA: dict[str, pl.DataType] = {
    "account_id": pl.Int64(),
    "segment": pl.String(),
    "segment_since": pl.Date(),
    "strategy": pl.String(),
    "arm": pl.String(),
    "step": pl.String(),
    "step_since": pl.Date(),
}
STATE_COLUMNS = (
    "account_id",
    "dpd",
    "bucket",
    "outstanding_fen",
    "overdue_fen",
    "oldest_unpaid_due",
    "collector_id",
    "segment",
    "segment_since",
    "strategy",
    "arm",
    "step",
    "step_since",
    "paused",
    "next_action_on",
    "next_channel",
)


@dataclass(frozen=True)
class Plan:
    """What the cycle needs to know about the configuration on the day."""

    rules: Sequence[strategy.SegmentRule]
    # segment code → (champion code, challenger code or "", challenger share in basis points)
    arms: Mapping[str, tuple[str, str, int]]
    strategies: Mapping[str, strategy.Strategy]
    # portfolio id → its bucket bounds
    bounds: Mapping[int, Sequence[int]]


@dataclass(frozen=True)
class Day:
    state: pl.DataFrame  # STATE_COLUMNS, one row per account
    actions: pl.DataFrame  # the day's planned actions
    moves: pl.DataFrame  # accounts whose segment, strategy or step changed
    snapshots: pl.DataFrame  # every account's row; the engine keeps those that changed
    totals: pl.DataFrame  # every account with money outstanding, summed (TOTALS_KEYS)


TOTALS_KEYS = ("portfolio_id", "bucket", "segment", "step")


def cycle_compute(
    accounts: pl.DataFrame,
    previous: pl.DataFrame,
    *,
    as_of: dt.date,
    plan: Plan,
) -> Day:
    day = pl.lit(as_of, pl.Date)
    frame = (
        accounts.join(
            previous.rename({c: f"prev_{c}" for c in PREVIOUS_SCHEMA if c != "account_id"}),
            on="account_id",
            how="left",
        )
        .with_columns(
            dpd=pl.when(pl.col("oldest_unpaid_due").is_null())
            .then(pl.lit(0))
            .otherwise((day - pl.col("oldest_unpaid_due")).dt.total_days())
            .cast(pl.Int32)
        )
        .with_columns(bucket=bucket_expr(plan.bounds))
    )
    worked = ~pl.col("status").is_in(NOT_WORKED) & (pl.col("outstanding_fen") > 0)
    frame = frame.with_columns(
        segment=pl.when(worked).then(strategy.segment_expr(plan.rules)).otherwise(None)
    )
    stays = pl.col("segment").is_not_null() & (pl.col("segment") == pl.col("prev_segment"))
    frame = frame.with_columns(
        segment_since=pl.when(pl.col("segment").is_null())
        .then(None)
        .when(stays)
        .then(pl.col("prev_segment_since"))
        .otherwise(day)
    )
    frame = _arms(frame, plan)
    frame = _steps(frame, plan, as_of)
    state = frame.select(
        *[c for c in STATE_COLUMNS if c in frame.columns],
    )
    return Day(
        state=state,
        actions=_actions(frame, as_of),
        moves=_moves(frame, as_of),
        snapshots=_snapshots(frame, as_of),
        totals=_totals(frame),
    )


def bucket_expr(bounds: Mapping[int, Sequence[int]]) -> pl.Expr:
    """The bucket code of DPD ≥ 0 under each portfolio's bounds (a few distinct bound sets)."""
    by_bounds: dict[tuple[int, ...], list[int]] = {}
    for portfolio, bound in bounds.items():
        by_bounds.setdefault(tuple(bound), []).append(portfolio)
    days = pl.col("dpd").clip(lower_bound=0)
    expr: pl.Expr = pl.lit(None, pl.String)
    for bound, portfolios in by_bounds.items():
        code: Any = pl
        for b in buckets(bound):
            code = code.when(days <= b.high if b.high is not None else pl.lit(True)).then(
                pl.lit(b.code)
            )
        expr = pl.when(pl.col("portfolio_id").is_in(portfolios)).then(code).otherwise(expr)
    return expr


def _arms(frame: pl.DataFrame, plan: Plan) -> pl.DataFrame:
    """Strategy and arm by segment, by the stable hash of (account, segment)."""
    arms = pl.DataFrame(
        {
            "segment": list(plan.arms),
            "champion": [a[0] for a in plan.arms.values()],
            "challenger": [a[1] or None for a in plan.arms.values()],
            "share_bp": [a[2] if a[1] else 0 for a in plan.arms.values()],
            "salt": pl.Series([strategy.salt_for(code) for code in plan.arms], dtype=pl.UInt64),
        },
        schema_overrides={
            "segment": pl.String,
            "champion": pl.String,
            "challenger": pl.String,
            "share_bp": pl.Int64,
        },
    )
    # With no segment defined, the segment column is all null: give it its type to join on.
    frame = frame.with_columns(pl.col("segment").cast(pl.String))
    frame = frame.join(arms, on="segment", how="left")
    hashed = strategy.stable_hash(
        frame["account_id"].to_numpy(), frame["salt"].fill_null(0).to_numpy()
    )
    frame = frame.with_columns(
        challenger_arm=pl.Series(hashed % 10_000, dtype=pl.UInt64) < pl.col("share_bp")
    )
    return (
        frame.with_columns(
            strategy=pl.when(pl.col("challenger_arm"))
            .then(pl.col("challenger"))
            .otherwise(pl.col("champion")),
            arm=pl.when(pl.col("segment").is_null())
            .then(None)
            .when(pl.col("challenger_arm"))
            .then(pl.lit("challenger"))
            .otherwise(pl.lit("champion")),
        )
        .with_columns(
            # A segment's strategies are configuration; a strategy that is not in force (retired,
            # not yet effective) leaves the account unworked rather than guessing.
            strategy=pl.when(pl.col("strategy").is_in(list(plan.strategies))).then(
                pl.col("strategy")
            ),
        )
        .drop("champion", "challenger", "share_bp", "salt", "challenger_arm")
    )


def _steps(frame: pl.DataFrame, plan: Plan, as_of: dt.date) -> pl.DataFrame:
    day = pl.lit(as_of, pl.Date)
    parts = []
    unassigned = frame.filter(pl.col("strategy").is_null())
    parts.append(
        unassigned.with_columns(
            step=pl.lit(None, pl.String),
            step_index=pl.lit(None, pl.Int32),
            reason=pl.lit("none"),
            paused=pl.lit(False),
            channel=pl.lit(None, pl.String),
            template=pl.lit(None, pl.String),
            team_kind=pl.lit(None, pl.String),
            repeat_every=pl.lit(None, pl.Int32),
            next_offset=pl.lit(None, pl.Int32),
            next_step_channel=pl.lit(None, pl.String),
            key=pl.lit(None, pl.Int32),
        )
    )
    for code, path in plan.strategies.items():
        rows = frame.filter(pl.col("strategy") == code)
        if rows.is_empty():
            continue
        key = (
            pl.col("dpd")
            if path.key == "dpd"
            else (day - pl.col("segment_since")).dt.total_days().cast(pl.Int32)
        )
        same_path = (pl.col("prev_strategy") == code) & (
            pl.col("prev_segment") == pl.col("segment")
        )
        codes = [s.code for s in path.steps]
        previous = (
            pl.when(same_path)
            .then(pl.col("prev_step").replace_strict(codes, list(range(len(codes))), default=None))
            .otherwise(None)
            .cast(pl.Int32)
        )
        placed = strategy.placement(path, key=key, previous=previous)
        index = pl.col("step_index")
        offsets = [s.offset for s in path.steps]
        parts.append(
            rows.with_columns(
                step_index=placed.step, reason=placed.reason, paused=placed.paused, key=key
            ).with_columns(
                step=strategy.step_column(path, index, "code"),
                channel=strategy.step_column(path, index, "channel"),
                template=strategy.step_column(path, index, "template"),
                team_kind=strategy.step_column(path, index, "team_kind"),
                repeat_every=strategy.step_column(path, index, "repeat_every").cast(pl.Int32),
                next_offset=(index + 1)
                .replace_strict(list(range(1, len(offsets))), offsets[1:], default=None)
                .cast(pl.Int32),
                next_step_channel=(index + 1).replace_strict(
                    list(range(1, len(offsets))),
                    [step.channel for step in path.steps[1:]],
                    default=None,
                    return_dtype=pl.String,
                ),
            )
        )
    frame = pl.concat(parts, how="diagonal_relaxed")
    moved = pl.col("step").is_not_null() & (
        pl.col("step").ne_missing(pl.col("prev_step"))
        | pl.col("strategy").ne_missing(pl.col("prev_strategy"))
        | pl.col("segment").ne_missing(pl.col("prev_segment"))
    )
    frame = frame.with_columns(
        step_since=pl.when(pl.col("step").is_null())
        .then(None)
        .when(moved)
        .then(day)
        .otherwise(pl.col("prev_step_since"))
    )
    due = (
        pl.col("step").is_not_null()
        & ~pl.col("paused")
        & strategy.action_due(
            entered_on=pl.col("step_since"), as_of=day, repeat_every=pl.col("repeat_every")
        )
    )
    since = (day - pl.col("step_since")).dt.total_days()
    every = pl.col("repeat_every")
    next_repeat = pl.when(every > 0).then(day + pl.duration(days=every - since % every.clip(1)))
    next_step = pl.when(pl.col("next_offset").is_not_null()).then(
        day + pl.duration(days=(pl.col("next_offset") - pl.col("key")).clip(lower_bound=1))
    )
    idle = pl.col("step").is_null() | pl.col("paused")
    repeat_first = next_repeat.is_not_null() & (next_step.is_null() | (next_repeat <= next_step))
    return frame.with_columns(action_due=due.fill_null(False)).with_columns(
        # After the as-of date (the day's own actions are the planned actions): so the date
        # stays put from one day to the next until the account moves or an action repeats.
        next_action_on=pl.when(idle)
        .then(None)
        .otherwise(pl.min_horizontal(next_repeat, next_step)),
        next_channel=pl.when(idle)
        .then(None)
        .when(repeat_first)
        .then(pl.col("channel"))
        .otherwise(pl.col("next_step_channel")),
    )


def _actions(frame: pl.DataFrame, as_of: dt.date) -> pl.DataFrame:
    return (
        frame.filter(pl.col("action_due"))
        .select(
            "account_id",
            pl.lit(as_of, pl.Date).alias("as_of"),
            "segment",
            "strategy",
            "arm",
            "step",
            "channel",
            pl.col("template").fill_null(""),
            "team_kind",
            "collector_id",
        )
        .sort("account_id")
    )


def _moves(frame: pl.DataFrame, as_of: dt.date) -> pl.DataFrame:
    changed = (
        pl.col("step").ne_missing(pl.col("prev_step"))
        | pl.col("segment").ne_missing(pl.col("prev_segment"))
        | pl.col("strategy").ne_missing(pl.col("prev_strategy"))
    )
    reason = (
        pl.when(pl.col("segment").is_null() & pl.col("prev_segment").is_not_null())
        .then(pl.lit("left"))
        .when(pl.col("segment").ne_missing(pl.col("prev_segment")))
        .then(pl.lit("segment"))
        .otherwise(pl.col("reason"))
    )
    return (
        frame.filter(changed)
        .select(
            "account_id",
            pl.lit(as_of, pl.Date).alias("as_of"),
            pl.col("segment").fill_null(""),
            pl.col("strategy").fill_null(""),
            pl.col("arm").fill_null(""),
            pl.col("prev_step").fill_null("").alias("from_step"),
            pl.col("step").fill_null("").alias("to_step"),
            reason.alias("reason"),
        )
        .sort("account_id")
    )


def _snapshots(frame: pl.DataFrame, as_of: dt.date) -> pl.DataFrame:
    return frame.select(
        pl.lit(as_of, pl.Date).alias("as_of"),
        "account_id",
        "portfolio_id",
        "dpd",
        "bucket",
        "oldest_unpaid_due",
        "outstanding_fen",
        "overdue_fen",
        pl.col("segment").fill_null(""),
        pl.col("step").fill_null(""),
        "collector_id",
    ).sort("account_id")


def _totals(frame: pl.DataFrame) -> pl.DataFrame:
    """Accounts and money per portfolio, bucket, segment and step: the whole day's aging in a
    few hundred rows, for any date, where the snapshots keep only the delinquent accounts."""
    return (
        frame.filter(pl.col("outstanding_fen") > 0)
        .with_columns(pl.col("segment").fill_null(""), pl.col("step").fill_null(""))
        .group_by(TOTALS_KEYS)
        .agg(
            accounts=pl.len().cast(pl.Int64),
            outstanding_fen=pl.col("outstanding_fen").sum(),
            overdue_fen=pl.col("overdue_fen").sum(),
        )
        .sort(TOTALS_KEYS)
    )


def is_month_end(day: dt.date) -> bool:
    return (day + dt.timedelta(days=1)).month != day.month
