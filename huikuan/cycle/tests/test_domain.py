"""One day of the cycle on small hand-built portfolios with known answers (no database)."""

from __future__ import annotations

import datetime as dt
from typing import Any

import polars as pl
import pytest

from huikuan.cycle.domain import ACCOUNTS_SCHEMA, PREVIOUS_SCHEMA, Plan, cycle_compute, is_month_end
from huikuan.strategy import defaults
from huikuan.strategy.domain import Condition, SegmentRule, Step, Strategy

AS_OF = dt.date(2026, 11, 23)


def default_plan(**arms: tuple[str, str, int]) -> Plan:
    strategies = {
        code: Strategy(
            code,
            tuple(
                Step(s[0], s[2], s[3], template=s[4], team_kind=s[5], repeat_every=s[6])
                for s in steps
            ),
        )
        for code, (_name, steps) in defaults.STRATEGIES.items()
    }
    rows = defaults.segment_rows()
    rules = [SegmentRule(r["code"], Condition.from_json(r["conditions"])) for r in rows]
    plan_arms = {r["code"]: (r["champion"], "", 0) for r in rows}
    plan_arms.update(arms)
    return Plan(rules=rules, arms=plan_arms, strategies=strategies, bounds={1: [0, 30, 90, 180]})


def accounts(**columns: list[Any]) -> pl.DataFrame:
    n = len(next(iter(columns.values())))
    base: dict[str, list[Any]] = {
        "account_id": list(range(1, n + 1)),
        "portfolio_id": [1] * n,
        "status": ["delinquent"] * n,
        "outstanding_fen": [500_00] * n,
        "overdue_fen": [100_00] * n,
        "oldest_unpaid_due": [AS_OF] * n,
        "collector_id": [7] * n,
        "product": ["loan"] * n,
        "debtor_kind": ["individual"] * n,
        "region": ["110101"] * n,
        "score": [None] * n,
        "risk_grade": [None] * n,
        "tags": [[] for _ in range(n)],
        "promise_status": ["none"] * n,
        "plan_status": ["none"] * n,
        "disputed": [False] * n,
        "bucket": [None] * n,
        "dpd": [None] * n,
    }
    base.update(columns)
    return pl.DataFrame(base, schema=ACCOUNTS_SCHEMA).drop("bucket", "dpd")


def no_previous() -> pl.DataFrame:
    return pl.DataFrame(schema=PREVIOUS_SCHEMA)


def due(*dpds: int) -> list[dt.date]:
    return [AS_OF - dt.timedelta(days=d) for d in dpds]


def run(frame: pl.DataFrame, previous: pl.DataFrame | None = None, **kw: Any) -> Any:
    plan = kw.pop("plan", None) or default_plan()
    return cycle_compute(
        frame,
        previous if previous is not None else no_previous(),
        as_of=kw.pop("as_of", AS_OF),
        plan=plan,
    )


def by_id(frame: pl.DataFrame, *columns: str) -> dict[int, tuple[Any, ...]]:
    return {row[0]: tuple(row[1:]) for row in frame.select("account_id", *columns).iter_rows()}


def test_dpd_bucket_and_segment_at_the_boundaries() -> None:
    frame = accounts(oldest_unpaid_due=due(-4, -3, 0, 30, 31, 90, 91, 181, 181))
    frame = frame.with_columns(
        outstanding_fen=pl.Series([500_00] * 8 + [2_000_000], dtype=pl.Int64)
    )
    state = by_id(run(frame).state, "dpd", "bucket", "segment")
    assert state == {
        1: (-4, "current", None),
        2: (-3, "current", "pre_due"),
        3: (0, "current", "pre_due"),
        4: (30, "1-30", "light_small"),
        5: (31, "31-90", "medium_small"),
        6: (90, "31-90", "medium_small"),
        7: (91, "91-180", "heavy_small"),
        8: (181, "180+", "near_bad_small"),
        9: (181, "180+", "near_bad_large"),
    }


def test_closed_and_legal_accounts_are_not_worked() -> None:
    frame = accounts(
        status=["paid_off", "legal", "written_off", "delinquent"],
        oldest_unpaid_due=due(10, 10, 10, 10),
    )
    frame = frame.with_columns(outstanding_fen=pl.Series([0, 100, 100, 0], dtype=pl.Int64))
    day = run(frame)
    assert day.state["segment"].to_list() == [None, None, None, None]
    assert day.actions.is_empty()
    # They stay in the snapshot while they are past due: roll rates need every late account.
    assert day.snapshots["account_id"].to_list() == [1, 2, 3, 4]


def test_a_new_account_starts_on_its_steps_day_and_plans_that_action() -> None:
    frame = accounts(oldest_unpaid_due=due(-3, 1, 7, 8, 15))
    day = run(frame)

    def after(days: int) -> dt.date:
        return AS_OF + dt.timedelta(days=days)

    assert by_id(day.state, "step", "next_action_on", "next_channel") == {
        1: ("sms_reminder", None, None),  # the reminder path has nothing after its SMS
        2: ("friendly_call", after(days=3), "call"),  # the call repeats every 3 days
        3: ("email", after(days=8), "letter"),  # the demand letter at DPD 15
        4: ("email", after(days=7), "letter"),
        5: ("demand_letter", after(days=1), "call"),  # the firm call at DPD 16
    }
    assert day.actions["channel"].to_list() == ["sms", "call", "email", "email", "letter"]
    assert day.moves["reason"].to_list() == ["segment"] * 5


def step_on(previous_step: str, since: dt.date, segment: str = "light_small") -> dict[str, Any]:
    return {
        "segment": segment,
        "segment_since": dt.date(2026, 11, 1),
        "strategy": "light",
        "arm": "champion",
        "step": previous_step,
        "step_since": since,
    }


def previous_rows(rows: dict[int, dict[str, Any]]) -> pl.DataFrame:
    return pl.DataFrame(
        [{"account_id": account, **row} for account, row in rows.items()], schema=PREVIOUS_SCHEMA
    )


def test_repeats_escalation_and_a_dispute_opened_mid_path() -> None:
    frame = accounts(
        oldest_unpaid_due=due(4, 5, 9, 9),
        promise_status=["none", "none", "broken", "none"],
        disputed=[False, False, False, True],
    )
    previous = previous_rows(
        {
            1: step_on("friendly_call", AS_OF - dt.timedelta(days=3)),  # repeats every 3 days
            2: step_on("friendly_call", AS_OF - dt.timedelta(days=4)),
            3: step_on("email", AS_OF - dt.timedelta(days=2)),
            4: step_on("email", AS_OF - dt.timedelta(days=2)),
        }
    )
    day = run(frame, previous)
    assert by_id(day.state, "step", "paused", "next_action_on") == {
        1: ("friendly_call", False, AS_OF + dt.timedelta(days=3)),  # called today, again in 3
        2: ("friendly_call", False, AS_OF + dt.timedelta(days=2)),
        3: ("demand_letter", False, AS_OF + dt.timedelta(days=7)),  # escalated by the broken
        # promise; the firm call follows at DPD 16
        4: ("email", True, None),  # the dispute holds it and plans nothing
    }
    assert day.actions["account_id"].to_list() == [1, 3]
    assert by_id(day.moves, "from_step", "to_step", "reason") == {
        3: ("email", "demand_letter", "broken_promise")
    }


def test_the_next_action_is_the_next_steps_day_when_nothing_repeats() -> None:
    frame = accounts(oldest_unpaid_due=due(8))
    previous = previous_rows({1: step_on("email", AS_OF - dt.timedelta(days=1))})
    day = run(frame, previous)
    # email (no repeat) at DPD 7; the demand letter at DPD 15, seven days from now.
    assert by_id(day.state, "step", "next_action_on") == {
        1: ("email", AS_OF + dt.timedelta(days=7))
    }
    assert day.actions.is_empty() and day.moves.is_empty()


def test_a_cured_account_leaves_its_path() -> None:
    frame = accounts(oldest_unpaid_due=due(-20))
    previous = previous_rows({1: step_on("email", AS_OF - dt.timedelta(days=1))})
    day = run(frame, previous)
    assert by_id(day.state, "segment", "step") == {1: (None, None)}
    assert by_id(day.moves, "from_step", "to_step", "reason") == {1: ("email", "", "left")}


def test_the_challenger_arm_is_stable_and_takes_its_share() -> None:
    n = 20_000
    frame = accounts(oldest_unpaid_due=due(*([10] * n)))
    plan = default_plan(light_small=("light", "medium", 2_000))
    first = run(frame, plan=plan).state
    share = (first["arm"] == "challenger").mean()
    assert share is not None and abs(float(share) - 0.2) < 0.015
    assert set(first.filter(pl.col("arm") == "challenger")["strategy"]) == {"medium"}
    again = run(frame, plan=plan).state
    assert first["arm"].to_list() == again["arm"].to_list()


def test_snapshot_rows_for_every_account_with_what_dates_need() -> None:
    frame = accounts(oldest_unpaid_due=due(-20, 5))
    snapshots = run(frame).snapshots
    assert snapshots["account_id"].to_list() == [1, 2]
    assert snapshots["oldest_unpaid_due"].to_list() == due(-20, 5)
    assert is_month_end(dt.date(2026, 11, 30)) and not is_month_end(AS_OF)


@pytest.mark.parametrize("key", ["dpd", "days_in_segment"])
def test_days_in_segment_paths_count_from_entering_the_segment(key: str) -> None:
    path = Strategy("p", (Step("a", 0, "call"), Step("b", 5, "letter")), key=key)
    plan = Plan(
        rules=[SegmentRule("s", Condition(dpd_min=1))],
        arms={"s": ("p", "", 0)},
        strategies={"p": path},
        bounds={1: [0, 30]},
    )
    frame = accounts(oldest_unpaid_due=due(40))
    previous = pl.DataFrame(
        [
            {
                "account_id": 1,
                "segment": "s",
                "segment_since": AS_OF - dt.timedelta(days=2),
                "strategy": "p",
                "arm": "champion",
                "step": "a",
                "step_since": AS_OF - dt.timedelta(days=2),
            }
        ],
        schema=PREVIOUS_SCHEMA,
    )
    step = run(frame, previous, plan=plan).state["step"].to_list()
    assert step == (["b"] if key == "dpd" else ["a"])


def test_an_account_in_no_segment_has_no_date_in_it() -> None:
    # Otherwise its state would change every day and be rewritten every day.
    frame = accounts(status=["paid_off", "delinquent"], oldest_unpaid_due=due(10, 10))
    frame = frame.with_columns(outstanding_fen=pl.Series([0, 100], dtype=pl.Int64))
    state = run(frame).state
    assert state["segment_since"].to_list() == [None, AS_OF]


def test_with_no_segment_defined_nothing_is_worked() -> None:
    plan = default_plan()
    empty = Plan(rules=[], arms={}, strategies=plan.strategies, bounds=plan.bounds)
    day = run(accounts(oldest_unpaid_due=due(10, 40)), plan=empty)
    assert day.state["segment"].to_list() == [None, None]
    assert day.actions.is_empty()
    assert run(accounts(oldest_unpaid_due=due(10)).clear(), plan=empty).state.is_empty()
