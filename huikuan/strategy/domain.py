"""Segments, strategies and champion/challenger as vectorised rules (no database).

Everything here turns rules into Polars expressions over one frame of accounts, so the daily
cycle evaluates a rule for ten million accounts in one pass instead of a Python call per
account. The frame's columns (see :data:`ACCOUNT_COLUMNS`) are what the cycle reads per
account: one narrow row each.

- A **segment** is an ordered list of rules; the first rule that matches an account wins, and an
  account no rule matches has no segment (it is not worked).
- A **strategy** is a path of steps keyed by DPD or by days in the segment; an account stands on
  the last step whose offset it has reached. Events move it: a broken promise escalates it one
  step ahead of where its DPD alone would put it, an open dispute or an active payment plan
  pauses it (no collection actions), a cured account leaves the path.
- **Champion/challenger**: a stable hash of (account, segment) picks the arm, so an account
  stays in its arm across reruns and across days, whatever else changes.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import polars as pl

# The columns rules may read (the cycle provides all of them; tests build small frames).
ACCOUNT_COLUMNS: dict[str, pl.DataType] = {
    "account_id": pl.Int64(),
    "dpd": pl.Int32(),  # negative: days until the next due date of a current account
    "bucket": pl.String(),
    "outstanding_fen": pl.Int64(),
    "product": pl.String(),
    "debtor_kind": pl.String(),
    "region": pl.String(),
    "score": pl.Int32(),  # 0–1000, null when the account has not been scored
    "risk_grade": pl.String(),
    "tags": pl.List(pl.String()),
    "promise_status": pl.String(),  # PROMISE_STATUSES
    "plan_status": pl.String(),  # PLAN_STATUSES
}
PROMISE_STATUSES = ("none", "open", "due_today", "kept", "broken")
PLAN_STATUSES = ("none", "proposed", "active", "completed", "broken")


# --- segments ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class Condition:
    """What a rule asks of an account; every condition given must hold (an empty one matches
    every account). Ranges are inclusive; amounts are in fen."""

    buckets: tuple[str, ...] = ()
    dpd_min: int | None = None
    dpd_max: int | None = None
    amount_min_fen: int | None = None
    amount_max_fen: int | None = None
    products: tuple[str, ...] = ()
    debtor_kinds: tuple[str, ...] = ()
    regions: tuple[str, ...] = ()  # prefixes of the 6-digit division code: "44" is Guangdong
    score_min: int | None = None
    score_max: int | None = None
    risk_grades: tuple[str, ...] = ()
    tags: tuple[str, ...] = ()  # any of them
    promise_statuses: tuple[str, ...] = ()
    plan_statuses: tuple[str, ...] = ()

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Condition:
        known = {f for f in cls.__dataclass_fields__}
        unknown = set(data) - known
        if unknown:
            raise ValueError(f"unknown condition fields: {sorted(unknown)}")
        values: dict[str, Any] = {
            k: tuple(v) if isinstance(v, list) else v for k, v in data.items()
        }
        return cls(**values)

    def to_json(self) -> dict[str, Any]:
        return {
            name: list(value) if isinstance(value, tuple) else value
            for name in self.__dataclass_fields__
            if (value := getattr(self, name)) not in ((), None)
        }


def condition_expr(condition: Condition) -> pl.Expr:
    """The condition as one boolean expression; null values never match a bound."""
    c = condition
    parts: list[pl.Expr] = []
    if c.buckets:
        parts.append(pl.col("bucket").is_in(c.buckets))
    parts += _range("dpd", c.dpd_min, c.dpd_max)
    parts += _range("outstanding_fen", c.amount_min_fen, c.amount_max_fen)
    parts += _range("score", c.score_min, c.score_max)
    for column, values in (
        ("product", c.products),
        ("debtor_kind", c.debtor_kinds),
        ("risk_grade", c.risk_grades),
        ("promise_status", c.promise_statuses),
        ("plan_status", c.plan_statuses),
    ):
        if values:
            parts.append(pl.col(column).is_in(values))
    if c.regions:
        parts.append(pl.any_horizontal(pl.col("region").str.starts_with(p) for p in c.regions))
    if c.tags:
        parts.append(pl.col("tags").list.eval(pl.element().is_in(c.tags)).list.any())
    if not parts:
        return pl.lit(True)
    return pl.all_horizontal(parts).fill_null(False)


def _range(column: str, low: int | None, high: int | None) -> list[pl.Expr]:
    parts = []
    if low is not None:
        parts.append(pl.col(column) >= low)
    if high is not None:
        parts.append(pl.col(column) <= high)
    return parts


@dataclass(frozen=True)
class SegmentRule:
    segment: str  # the segment's code
    condition: Condition


def segment_expr(rules: Sequence[SegmentRule]) -> pl.Expr:
    """The code of the first rule's segment that matches, else null."""
    if not rules:
        return pl.lit(None, pl.String)
    expr: Any = pl
    for rule in rules:
        expr = expr.when(condition_expr(rule.condition)).then(pl.lit(rule.segment))
    return expr.otherwise(pl.lit(None, pl.String))


def rule_index_expr(rules: Sequence[SegmentRule]) -> pl.Expr:
    """The position of the first rule that matches, else null (for the preview)."""
    if not rules:
        return pl.lit(None, pl.Int32)
    expr: Any = pl
    for index, rule in enumerate(rules):
        expr = expr.when(condition_expr(rule.condition)).then(pl.lit(index, pl.Int32))
    return expr.otherwise(pl.lit(None, pl.Int32))


def segment_preview(accounts: pl.DataFrame, rules: Sequence[SegmentRule]) -> pl.DataFrame:
    """Per rule, in order: how many accounts and how much money it would take now (first
    match wins, so a rule only counts what the rules above it left over); a last row with
    ``rule`` null for the accounts no rule takes."""
    taken = (
        accounts.lazy()
        .select(rule_index_expr(rules).alias("rule"), "outstanding_fen")
        .group_by("rule")
        .agg(pl.len().alias("accounts"), pl.col("outstanding_fen").sum().alias("outstanding_fen"))
        .collect()
    )
    every = pl.DataFrame(
        {
            "rule": pl.Series([*range(len(rules)), None], dtype=pl.Int32),
            "segment": [r.segment for r in rules] + [None],
        }
    )
    return (
        every.join(taken, on="rule", how="left", nulls_equal=True)
        .with_columns(
            pl.col("accounts").fill_null(0).cast(pl.Int64),
            pl.col("outstanding_fen").fill_null(0).cast(pl.Int64),
        )
        .select("rule", "segment", "accounts", "outstanding_fen")
    )


# The default segmentation of the course material: light, medium, heavy and near bad debt by
# DPD, each split at 10,000 yuan (large balances are worked by the more senior teams).
LARGE_FEN = 10_000_00
DEFAULT_SEGMENTS: tuple[tuple[str, str, int, int | None], ...] = (
    ("light", "轻度逾期", 1, 30),
    ("medium", "中度逾期", 31, 90),
    ("heavy", "重度逾期", 91, 180),
    ("near_bad", "临近坏账", 181, None),
)


def default_rules() -> list[SegmentRule]:
    rules = []
    for code, _name, low, high in DEFAULT_SEGMENTS:
        rules.append(
            SegmentRule(
                f"{code}_large", Condition(dpd_min=low, dpd_max=high, amount_min_fen=LARGE_FEN)
            )
        )
        rules.append(SegmentRule(f"{code}_small", Condition(dpd_min=low, dpd_max=high)))
    return rules


# --- strategies -------------------------------------------------------------------------------

CHANNELS = ("sms", "call", "email", "letter", "visit", "wechat", "lawyer_letter", "legal", "agency")
KEYS = ("dpd", "days_in_segment")


@dataclass(frozen=True)
class Step:
    code: str
    offset: int  # the DPD (or days in segment) from which the account stands on this step
    channel: str
    template: str = ""
    team_kind: str = "phone"
    repeat_every: int = 0  # days between repeats while on the step; 0: once


@dataclass(frozen=True)
class Strategy:
    code: str
    steps: tuple[Step, ...]  # ascending offsets
    key: str = "dpd"

    def __post_init__(self) -> None:
        offsets = [s.offset for s in self.steps]
        if offsets != sorted(offsets) or len(set(offsets)) != len(offsets):
            raise ValueError("steps need strictly ascending offsets")
        if self.key not in KEYS:
            raise ValueError(f"unknown key {self.key}")


@dataclass(frozen=True)
class Placement:
    """Where an account stands after the day's rules: the step index (null when it stands on
    none), whether its treatment is paused, and why it moved."""

    step: pl.Expr
    paused: pl.Expr
    reason: pl.Expr


def step_index_expr(strategy: Strategy, key: pl.Expr) -> pl.Expr:
    """Index of the last step whose offset ``key`` has reached; null before the first."""
    expr: Any = pl
    for index in reversed(range(len(strategy.steps))):
        expr = expr.when(key >= strategy.steps[index].offset).then(pl.lit(index, pl.Int32))
    return expr.otherwise(pl.lit(None, pl.Int32))


def placement(strategy: Strategy, *, key: pl.Expr, previous: pl.Expr) -> Placement:
    """The step an account stands on today.

    ``previous`` is yesterday's step index on this strategy (null when it was not on it). The
    key alone gives a step; a broken promise puts the account one step further than both that
    and where it stood (escalation, never past the last step); it never moves back while it
    stays delinquent, except that a kept promise or a completed plan lets the key decide again
    (de-escalation). An open dispute or an active plan pauses it where it stands.
    """
    last = len(strategy.steps) - 1
    by_key = step_index_expr(strategy, key)
    broken = pl.col("promise_status") == "broken"
    relieved = pl.col("promise_status").is_in(("kept",)) | (pl.col("plan_status") == "completed")
    held = pl.max_horizontal(by_key, previous)
    escalated = pl.min_horizontal(held.fill_null(-1) + 1, pl.lit(last, pl.Int32))
    paused = (pl.col("plan_status") == "active") | pl.col("disputed").fill_null(False)
    step = (
        pl.when(paused)
        .then(previous)
        .when(broken)
        .then(escalated)
        .when(relieved)
        .then(by_key)
        .otherwise(held)
        .cast(pl.Int32)
    )
    reason = (
        pl.when(paused)
        .then(pl.lit("paused"))
        .when(broken)
        .then(pl.lit("broken_promise"))
        .when(relieved)
        .then(pl.lit("relieved"))
        .otherwise(pl.lit("schedule"))
    )
    return Placement(step=step, paused=paused.fill_null(False), reason=reason)


def step_column(strategy: Strategy, index: pl.Expr, attribute: str) -> pl.Expr:
    """A step's attribute (code, channel...) for a step index."""
    values = [getattr(s, attribute) for s in strategy.steps]
    return index.replace_strict(list(range(len(values))), values, default=None)


def action_due(*, entered_on: pl.Expr, as_of: pl.Expr, repeat_every: pl.Expr) -> pl.Expr:
    """Whether a step's action falls on ``as_of``: the day the account reached the step, then
    every ``repeat_every`` days while it stays (never when 0)."""
    days = (as_of - entered_on).dt.total_days()
    repeat = (repeat_every > 0) & (days > 0) & ((days % repeat_every.clip(1)) == 0)
    return (days == 0) | repeat


# --- champion / challenger ----------------------------------------------------------------------

_MASK = np.uint64(0xFFFFFFFFFFFFFFFF)


def stable_hash(values: np.ndarray, salt: int | np.ndarray) -> np.ndarray:
    """SplitMix64 of (value xor salt): the same on every machine and version, unlike Python's
    ``hash`` or a library's hash function, so an account keeps its arm forever. ``salt`` is
    one number or one per value."""
    salts = (
        np.uint64(salt & 0xFFFFFFFFFFFFFFFF)
        if isinstance(salt, int)
        else np.asarray(salt).astype(np.uint64)
    )
    with np.errstate(over="ignore"):
        z = values.astype(np.uint64) ^ salts
        z = (z + np.uint64(0x9E3779B97F4A7C15)) & _MASK
        z = ((z ^ (z >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)) & _MASK
        z = ((z ^ (z >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)) & _MASK
        return z ^ (z >> np.uint64(31))


def salt_for(segment: str) -> int:
    """A segment's salt from its code, so two segments split the same accounts differently."""
    value = 0
    for byte in segment.encode():
        value = (value * 131 + byte) & 0xFFFFFFFFFFFFFFFF
    return value


def challenger_arm(account_ids: np.ndarray, *, segment: str, share_bp: int) -> np.ndarray:
    """True for the accounts of the challenger arm: ``share_bp`` basis points (1/10,000) of
    the segment's accounts, by stable hash."""
    if share_bp <= 0:
        return np.zeros(len(account_ids), dtype=bool)
    bucket = stable_hash(account_ids, salt_for(segment)) % np.uint64(10_000)
    return bucket < np.uint64(share_bp)


@dataclass(frozen=True)
class SegmentPlan:
    """A segment's strategies: the champion, and optionally a challenger on a share."""

    segment: str
    champion: Strategy
    challenger: Strategy | None = None
    challenger_share_bp: int = 0
    extra: dict[str, Any] = field(default_factory=dict)
