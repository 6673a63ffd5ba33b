"""Read, compute, write: one partition of the daily cycle, set-based.

1. **Read** the partition's accounts as one narrow row each (balances, overdue amounts, oldest
   unpaid due date, owner, debtor kind and region) with one query, and where each account stood
   (``AccountState``). The ledger keeps each account's overdue amounts as of a date and its
   next unpaid due date; before reading, one grouped pass over the items brings to the as-of
   date only the accounts where an item fell due since (every account with ``rebuild``).
2. **Compute** the day with :func:`domain.cycle_compute` (Polars, vectorised).
3. **Write**, in one transaction: the states that changed (staged, then one upsert), the moves,
   the planned actions and the snapshots of the day (the day's rows of the partition are
   replaced, so a rerun leaves exactly what one run leaves).

Rerunning a day: a state changed on the as-of date keeps what it was before that run
(``base_*``), and the rerun starts from there; a state not changed that day is still what it
was before it. Either way the rerun computes from the same starting point and so writes the
same rows. A partition is one transaction: a run that dies leaves the partitions it finished
and the previous day's state of the others, and resuming runs the others.
"""

from __future__ import annotations

import datetime as dt
import itertools
import time
from dataclasses import dataclass, field
from typing import Any

import polars as pl
from django.conf import settings
from django.db import connection, transaction

from huikuan.cycle.domain import PREVIOUS_SCHEMA, STATE_COLUMNS, Day, Plan, cycle_compute
from huikuan.ledger.domain import Component
from huikuan.lib.frames import copy_into, fen, from_fen, postgres, read_frame, stage_frame

COMPONENTS = tuple(c.value for c in Component)
# What a state holds that can change from one day to the next (DPD changes every day and is not
# stored: it follows from the oldest unpaid due date).
TRACKED = tuple(c for c in STATE_COLUMNS if c not in ("account_id", "dpd"))
_TEXT = ("segment", "strategy", "arm", "step", "next_channel")
_BASE = ("segment", "segment_since", "strategy", "arm", "step", "step_since")
_BASE_TEXT = ("base_segment", "base_strategy", "base_arm", "base_step")

ACCOUNT_READ: dict[str, pl.DataType] = {
    "account_id": pl.Int64(),
    "portfolio_id": pl.Int64(),
    "status": pl.String(),
    "outstanding_fen": pl.Int64(),
    "overdue_fen": pl.Int64(),
    "oldest_unpaid_due": pl.Date(),
    "collector_id": pl.Int64(),
    "product": pl.String(),
    "debtor_kind": pl.String(),
    "region": pl.String(),
}
# The workbench's row about the account (contact.AccountContactState), when it has one.
CONTACT_READ: dict[str, pl.DataType] = {
    "promise_status": pl.String(),
    "promise_due_on": pl.Date(),
    "plan_status": pl.String(),
    "disputed_fen": pl.Int64(),
}
STATE_READ: dict[str, pl.DataType] = {
    "account_id": pl.Int64(),
    "changed_on": pl.Date(),
    "bucket": pl.String(),
    "outstanding_fen": pl.Int64(),
    "overdue_fen": pl.Int64(),
    "oldest_unpaid_due": pl.Date(),
    "collector_id": pl.Int64(),
    "segment": pl.String(),
    "segment_since": pl.Date(),
    "strategy": pl.String(),
    "arm": pl.String(),
    "step": pl.String(),
    "step_since": pl.Date(),
    "paused": pl.Boolean(),
    "next_action_on": pl.Date(),
    "next_channel": pl.String(),
    **{f"base_{c}": PREVIOUS_SCHEMA[c] for c in _BASE},
}


@dataclass(frozen=True)
class IdRange:
    """The accounts of one partition: ids from ``low`` (included) to ``high`` (excluded), either
    end open. Ranges rather than ``id % n``: each partition reads its own slice of every table
    through the primary key or the account index instead of scanning all of them."""

    low: int | None = None
    high: int | None = None

    def where(self, column: str) -> str:
        low = f"{column} >= %s" if self.low is not None else "true"
        high = f"{column} < %s" if self.high is not None else "true"
        return f"({low} AND {high})"

    @property
    def params(self) -> list[int]:
        return [b for b in (self.low, self.high) if b is not None]


def id_ranges(bounds: list[int]) -> list[IdRange]:
    """The partitions of ``bounds`` (``n - 1`` inner boundaries give ``n`` partitions, the first
    and the last open-ended, so an account created during a run still falls in one)."""
    edges: list[int | None] = [None, *bounds, None]
    return [IdRange(low, high) for low, high in itertools.pairwise(edges)]


ALL_IDS = IdRange()
NO_IDS = IdRange(0, 0)


@dataclass
class PartitionResult:
    accounts: int = 0
    overdue_refreshed: int = 0  # accounts whose items were re-read
    states_written: int = 0
    moves: int = 0
    actions: int = 0
    snapshots: int = 0
    seconds: dict[str, float] = field(default_factory=dict)

    def add(self, other: PartitionResult) -> None:
        self.accounts += other.accounts
        self.overdue_refreshed += other.overdue_refreshed
        self.states_written += other.states_written
        self.moves += other.moves
        self.actions += other.actions
        self.snapshots += other.snapshots
        for phase, seconds in other.seconds.items():
            self.seconds[phase] = round(self.seconds.get(phase, 0.0) + seconds, 3)


def partition_run(
    *,
    run_id: int,
    as_of: dt.date,
    plan: Plan,
    partition: int = 0,
    ids: IdRange = ALL_IDS,
    full_snapshot: bool,
    rebuild: bool = False,
) -> PartitionResult:
    started = time.perf_counter()
    accounts, state, refreshed = _read(as_of, ids, rebuild=rebuild)
    read = time.perf_counter()
    previous = _previous(state, as_of)
    day = cycle_compute(accounts, previous, as_of=as_of, plan=plan)
    changed = _changed_states(day, state, previous, as_of)
    snapshots = _snapshot_rows(day, changed, state, as_of, full=full_snapshot)
    computed = time.perf_counter()
    with transaction.atomic(), connection.cursor() as cursor:
        _tune_transaction()
        _write(
            cursor,
            day,
            changed,
            snapshots,
            run_id=run_id,
            as_of=as_of,
            partition=partition,
            ids=ids,
            first=state.is_empty(),
        )
    written = time.perf_counter()
    return PartitionResult(
        accounts=accounts.height,
        overdue_refreshed=refreshed,
        states_written=changed.height,
        moves=day.moves.height,
        actions=day.actions.height,
        snapshots=snapshots.height,
        seconds={
            "read": round(read - started, 3),
            "compute": round(computed - read, 3),
            "write": round(written - computed, 3),
        },
    )


# --- read -------------------------------------------------------------------------------------


def _read(as_of: dt.date, ids: IdRange, *, rebuild: bool) -> tuple[pl.DataFrame, pl.DataFrame, int]:
    """The partition's accounts and states, and how many accounts had their overdue amounts
    recomputed from their items first."""
    with transaction.atomic():
        _tune_transaction()
        refreshed = _refresh_overdue(as_of, ids, rebuild=rebuild)
        accounts, state = _read_rows(ids)
    return _with_contact(accounts, as_of), state, refreshed


def _tune_transaction() -> None:
    """Settings for the cycle's own transactions on PostgreSQL. Its queries group and join
    hundreds of thousands of rows: with the default 4 MB of ``work_mem`` the hash tables spill
    to disk (the overdue refresh took 11 s instead of 3 at a million accounts); and planning
    them with JIT adds half a second each, which a query this simple never wins back."""
    if postgres():
        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT set_config('work_mem', %s, true)", [settings.HUIKUAN_CYCLE_WORK_MEM]
            )
            cursor.execute("SET LOCAL jit = off")


def _read_rows(ids: IdRange) -> tuple[pl.DataFrame, pl.DataFrame]:
    overdue = " + ".join(f"a.overdue_{c}" for c in COMPONENTS)
    accounts = read_frame(
        f"""SELECT a.id, a.portfolio_id, a.status, {fen("a.outstanding")}, {fen(overdue)},
                   a.oldest_unpaid_due, a.collector_id, a.product, d.kind, d.region,
                   cs.promise_status, cs.promise_due_on, cs.plan_status,
                   {fen("cs.disputed_amount")}
            FROM ledger_account a JOIN ledger_debtor d ON d.id = a.debtor_id
            LEFT JOIN contact_accountcontactstate cs ON cs.account_id = a.id
            WHERE {ids.where("a.id")}""",
        ids.params,
        {**ACCOUNT_READ, **CONTACT_READ},
    )
    state = read_frame(
        f"""SELECT account_id, changed_on, bucket, {fen("outstanding")}, {fen("overdue")},
                   oldest_unpaid_due, collector_id, segment, segment_since,
                   strategy, arm, step, step_since, paused, next_action_on, next_channel,
                   base_segment, base_segment_since, base_strategy, base_arm, base_step,
                   base_step_since
            FROM cycle_accountstate WHERE {ids.where("account_id")}""",
        ids.params,
        STATE_READ,
    ).with_columns(
        # Stored as "" for none; the computation speaks null.
        [pl.col(c).replace("", None) for c in (*_TEXT, *_BASE_TEXT)]
    )
    return accounts, state


def _with_contact(accounts: pl.DataFrame, as_of: dt.date) -> pl.DataFrame:
    return (
        accounts.with_columns(
            score=pl.lit(None, pl.Int32),
            risk_grade=pl.lit(None, pl.String),
            tags=pl.lit([], pl.List(pl.String)),
            promise_status=_promise_status(as_of),
            plan_status=pl.col("plan_status").fill_null("none"),
            # A dispute over part of the overdue amount leaves the rest to collect; only a dispute
            # over all of it (or an account marked disputed) pauses the strategy.
            disputed=(pl.col("status") == "disputed")
            | ((pl.col("disputed_fen") > 0) & (pl.col("disputed_fen") >= pl.col("overdue_fen"))),
        )
        .drop("promise_due_on", "disputed_fen")
        .sort("account_id")
    )


def _promise_status(as_of: dt.date) -> pl.Expr:
    """The workbench's promise status as the strategy reads it on ``as_of``: an open promise
    due that day is due today, one due before it is broken until a payment says otherwise."""
    status, due = pl.col("promise_status").fill_null("none"), pl.col("promise_due_on")
    open_ = status == "open"
    return (
        pl.when(open_ & (due == as_of))
        .then(pl.lit("due_today"))
        .when(open_ & (due < as_of))
        .then(pl.lit("broken"))
        .otherwise(status)
    )


def read_accounts(as_of: dt.date) -> pl.DataFrame:
    """Every account as the cycle reads it on ``as_of`` (overdue amounts brought to that day
    where needed): what a segment preview counts."""
    accounts, _state, _refreshed = _read(as_of, ALL_IDS, rebuild=False)
    return accounts


def _refresh_overdue(as_of: dt.date, ids: IdRange, *, rebuild: bool) -> int:
    """Bring the overdue aggregates of the partition's accounts to ``as_of`` where they are not
    there yet: those never computed, computed for a later day, or with an unpaid item that fell
    due since (``next_due_date`` before ``as_of``). Every account on a rebuild. Only the items
    of those accounts are read (a few percent of them on a normal day)."""
    stale = (
        "true"
        if rebuild
        else """(a.overdue_as_of IS NULL OR a.overdue_as_of > %s
                 OR (a.overdue_as_of < %s AND a.next_due_date < %s))"""
    )
    which = f"{stale} AND {ids.where('a.id')}"
    which_params: list[Any] = [*([] if rebuild else [as_of] * 3), *ids.params]
    opens = {c: f"i.{c}_due - i.{c}_paid" for c in COMPONENTS}
    # Sums of exact decimals, turned into fen once per account rather than once per item.
    late = ", ".join(
        f"{fen(f'COALESCE(SUM(CASE WHEN i.due_date < %s THEN {e} END), 0)')} AS {c}"
        for c, e in opens.items()
    )
    unpaid = " + ".join(f"({e})" for e in opens.values())
    sums = f"""{late}, MIN(CASE WHEN i.due_date >= %s AND {unpaid} > 0 THEN i.due_date END)
               AS next_due"""
    sums_params: list[Any] = [*[as_of] * len(COMPONENTS), as_of]
    if postgres() and not rebuild:
        # Each stale account's items through the (account, number) index: a walk of the
        # few that are stale, where a grouped join would scan every item of the portfolio.
        per_account = f"""SELECT a.id AS account_id, s.* FROM ledger_account a
                          CROSS JOIN LATERAL (SELECT {sums} FROM ledger_receivableitem i
                                              WHERE i.account_id = a.id) s
                          WHERE {which}"""
    else:
        per_account = f"""SELECT i.account_id AS account_id, {sums}
                          FROM ledger_receivableitem i
                          WHERE i.account_id IN (SELECT a.id FROM ledger_account a WHERE {which})
                          GROUP BY i.account_id"""
    params = [as_of, *sums_params, *which_params]
    sets = ", ".join(f"overdue_{c} = {from_fen(f's.{c}')}" for c in COMPONENTS)
    with connection.cursor() as cursor:
        cursor.execute(
            f"""UPDATE ledger_account SET {sets}, next_due_date = s.next_due, overdue_as_of = %s
                FROM ({per_account}) s WHERE ledger_account.id = s.account_id""",
            params,
        )
        return int(cursor.rowcount)


def _previous(state: pl.DataFrame, as_of: dt.date) -> pl.DataFrame:
    """Where each account stood before ``as_of``: the base of a state changed that day."""
    rerun = pl.col("changed_on") == as_of
    return state.select(
        "account_id",
        *[
            pl.when(rerun).then(pl.col(f"base_{c}")).otherwise(pl.col(c)).alias(c)
            for c in PREVIOUS_SCHEMA
            if c != "account_id"
        ],
    )


def _snapshot_rows(
    day: Day, changed: pl.DataFrame, state: pl.DataFrame, as_of: dt.date, *, full: bool
) -> pl.DataFrame:
    """Every account on a full day; otherwise those whose state changed on ``as_of`` (by this
    run, or by an earlier run of the same day: a rerun writes the day's rows again)."""
    if full:
        return day.snapshots
    earlier = state.filter(pl.col("changed_on") == as_of).select("account_id")
    touched = pl.concat([changed.select("account_id"), earlier]).unique()
    return day.snapshots.join(touched, on="account_id", how="semi")


def _changed_states(
    day: Day, state: pl.DataFrame, previous: pl.DataFrame, as_of: dt.date
) -> pl.DataFrame:
    """The new states that differ from the stored ones, with the base they started from."""
    new = day.state.select("account_id", *TRACKED)
    old = state.select("account_id", *[pl.col(c).alias(f"old_{c}") for c in TRACKED])
    joined = new.join(old, on="account_id", how="left")
    differs = pl.any_horizontal(pl.col(c).ne_missing(pl.col(f"old_{c}")) for c in TRACKED)
    stored = pl.col("old_bucket").is_not_null()
    changed = joined.filter(~stored | differs).select("account_id", *TRACKED)
    base = previous.select("account_id", *[pl.col(c).alias(f"base_{c}") for c in _BASE])
    return (
        changed.join(base, on="account_id", how="left")
        .with_columns(changed_on=pl.lit(as_of, pl.Date))
        .with_columns([pl.col(c).fill_null("") for c in (*_TEXT, *_BASE_TEXT)])
    )


# --- write ------------------------------------------------------------------------------------


def _write(
    cursor: Any,
    day: Day,
    changed: pl.DataFrame,
    snapshots: pl.DataFrame,
    *,
    run_id: int,
    as_of: dt.date,
    partition: int,
    ids: IdRange,
    first: bool,
) -> None:
    """The day's rows of the partition replace any an earlier run of the day wrote, so a rerun
    leaves what one run leaves. Rows no key can clash with go straight in with ``COPY`` (the
    equivalent on SQLite); only the states of a partition that has some are merged."""
    _write_states(cursor, changed, first=first)
    for table in ("cycle_stephistory", "cycle_snapshot"):
        _execute(
            cursor,
            f"DELETE FROM {table} WHERE as_of = %s AND {ids.where('account_id')}",
            [as_of, *ids.params],
        )
    copy_into(cursor, "cycle_stephistory", day.moves)
    copy_into(cursor, "cycle_snapshot", snapshots, money=("outstanding_fen", "overdue_fen"))
    _write_actions(cursor, day.actions, as_of=as_of, ids=ids)
    _write_totals(cursor, day.totals, run_id=run_id, as_of=as_of, partition=partition)


def _write_actions(cursor: Any, actions: pl.DataFrame, *, as_of: dt.date, ids: IdRange) -> None:
    """Planned actions are replanned; those already worked (done, cancelled) stay, and the
    plan leaves out the steps they cover."""
    _execute(
        cursor,
        f"""DELETE FROM cycle_plannedaction
            WHERE as_of = %s AND status = 'planned' AND {ids.where("account_id")}""",
        [as_of, *ids.params],
    )
    cursor.execute(
        f"""SELECT account_id, step FROM cycle_plannedaction
            WHERE as_of = %s AND {ids.where("account_id")}""",
        [as_of, *ids.params],
    )
    worked = pl.DataFrame(
        cursor.fetchall(), schema={"account_id": pl.Int64, "step": pl.String}, orient="row"
    )
    fresh = actions.join(worked, on=["account_id", "step"], how="anti")
    copy_into(cursor, "cycle_plannedaction", fresh.with_columns(status=pl.lit("planned")))


def _write_totals(
    cursor: Any, totals: pl.DataFrame, *, run_id: int, as_of: dt.date, partition: int
) -> None:
    _execute(
        cursor,
        "DELETE FROM cycle_snapshottotal WHERE run_id = %s AND partition = %s",
        [run_id, partition],
    )
    rows = totals.with_columns(
        run_id=pl.lit(run_id, pl.Int64),
        partition=pl.lit(partition, pl.Int64),
        as_of=pl.lit(as_of, pl.Date),
    )
    copy_into(cursor, "cycle_snapshottotal", rows, money=("outstanding_fen", "overdue_fen"))


def _write_states(cursor: Any, changed: pl.DataFrame, *, first: bool) -> None:
    """Insert or update the changed states; a partition with no states yet takes them whole."""
    columns = ["account_id", "changed_on", *TRACKED, *(f"base_{c}" for c in _BASE)]
    rows = changed.select(columns)
    if first:
        copy_into(cursor, "cycle_accountstate", rows, money=("outstanding_fen", "overdue_fen"))
        return
    stage_frame(cursor, "cycle_stage_states", rows)
    names = [c.removesuffix("_fen") for c in columns]
    values = [from_fen(c) if c.endswith("_fen") else c for c in columns]
    updates = ", ".join(f"{c} = excluded.{c}" for c in names[1:])
    _execute(
        cursor,
        f"""INSERT INTO cycle_accountstate ({", ".join(names)})
            SELECT {", ".join(values)} FROM cycle_stage_states WHERE true
            ON CONFLICT (account_id) DO UPDATE SET {updates}""",
        [],
    )
    _execute(cursor, "DROP TABLE cycle_stage_states", [])


def _execute(cursor: Any, sql: str, params: list[object]) -> None:
    cursor.execute(sql, params)
