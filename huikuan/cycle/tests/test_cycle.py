"""The cycle on the database: known answers, reruns, crash and resume, partitions."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any

import polars as pl
import pytest
from django.core.exceptions import ValidationError
from django.core.management import call_command
from django.utils import translation

from huikuan.cycle import engine, services
from huikuan.cycle.models import AccountState, CycleRun, PlannedAction, Snapshot, StepHistory
from huikuan.cycle.snapshots import snapshot_on
from huikuan.ledger import services as ledger
from huikuan.ledger.models import Account
from huikuan.ledger.tests.factories import installments, make_account, make_portfolio

pytestmark = pytest.mark.django_db
AS_OF = dt.date(2026, 11, 23)
STATE_FIELDS = (
    "account_id", "bucket", "overdue", "segment", "strategy", "arm", "step", "step_since",
    "paused", "next_action_on", "next_channel",
)  # fmt: skip


@pytest.fixture
def book(db: Any) -> dict[str, Any]:
    """Five loans at known distances from their due dates."""
    portfolio = make_portfolio()

    def loan(first_due: dt.date, count: int = 3, principal: str = "1000.00") -> Any:
        return make_account(portfolio, items=installments(first_due, count, Decimal(principal)))

    return {
        "portfolio": portfolio,
        # Three installments from 2026-11-26: due in three days.
        "soon": loan(dt.date(2026, 11, 26)),
        # First installment 2026-11-13: DPD 10, 1,050.00 overdue of 3,150.00.
        "light": loan(dt.date(2026, 11, 13)),
        # First installment 2026-10-23: DPD 31; the second falls due today, so is not overdue yet.
        "medium": loan(dt.date(2026, 10, 23)),
        # Large: 6 × 10,000 from 2026-05-01, DPD 206.
        "large": loan(dt.date(2026, 5, 1), 6, "10000.00"),
        # Paid in full: not worked.
        "paid": loan(dt.date(2026, 9, 1), 1),
    }


def state(account: Any) -> tuple[Any, ...]:
    s = AccountState.objects.get(account=account)
    return (s.bucket, s.segment, s.step, s.overdue, s.next_channel)


def tables() -> dict[str, list[tuple[Any, ...]]]:
    """Everything the cycle writes, in a comparable form."""
    return {
        "states": list(AccountState.objects.order_by("account_id").values_list(*STATE_FIELDS)),
        "moves": list(
            StepHistory.objects.order_by("account_id", "as_of").values_list(
                "account_id", "as_of", "from_step", "to_step", "reason"
            )
        ),
        "actions": list(
            PlannedAction.objects.order_by("account_id", "as_of").values_list(
                "account_id", "as_of", "step", "channel", "team_kind", "status"
            )
        ),
        "snapshots": list(
            Snapshot.objects.order_by("as_of", "account_id").values_list(
                "as_of", "account_id", "dpd", "bucket", "outstanding", "overdue", "segment", "step"
            )
        ),
    }


def pay_off(account: Any) -> None:
    ledger.payment_post(
        account=account,
        amount=account.outstanding,
        received_on=dt.date(2026, 11, 1),
        method="bank",
        actor=None,
    )


def test_a_day_with_known_answers(book: dict[str, Any]) -> None:
    pay_off(book["paid"])
    run = services.cycle_run(as_of=AS_OF, actor=None)
    assert run.status == CycleRun.Status.DONE
    assert run.counts["accounts"] == 5
    assert set(run.timings) == {"read", "compute", "write"}
    # (bucket, segment, step, overdue, the channel of the next action after today)
    assert state(book["soon"]) == ("current", "pre_due", "sms_reminder", Decimal("0.00"), "")
    assert state(book["light"]) == (
        "1-30", "light_small", "email", Decimal("1050.00"), "letter",
    )  # fmt: skip
    assert state(book["medium"]) == (
        "31-90", "medium_small", "agreement_call", Decimal("1050.00"), "call",
    )  # fmt: skip
    assert state(book["large"]) == (
        "180+", "near_bad_large", "agency_late", Decimal("60300.00"), "",
    )  # fmt: skip
    assert AccountState.objects.get(account=book["paid"]).segment == ""
    channels = dict(PlannedAction.objects.values_list("account_id", "channel"))
    assert channels == {
        book["soon"].pk: "sms",
        book["light"].pk: "email",
        book["medium"].pk: "call",
        book["large"].pk: "agency",
    }
    # The first run snapshots every account: the base later days add their changes to.
    assert run.full_snapshot
    assert set(Snapshot.objects.values_list("account_id", flat=True)) == set(
        Account.objects.values_list("pk", flat=True)
    )


def test_running_a_day_twice_gives_the_same_tables(book: dict[str, Any]) -> None:
    services.cycle_run(as_of=AS_OF, actor=None)
    first = tables()
    services.cycle_run(as_of=AS_OF, actor=None)
    assert tables() == first
    assert CycleRun.objects.filter(as_of=AS_OF, status="done").count() == 2


def test_the_next_day_moves_only_what_moved(book: dict[str, Any]) -> None:
    services.cycle_run(as_of=AS_OF, actor=None)
    services.cycle_run(as_of=AS_OF + dt.timedelta(days=1), actor=None)
    run = CycleRun.objects.latest("started_at")
    # Nothing crossed a step on the 24th: no move recorded. One state is rewritten: the
    # medium loan's installment due on the 23rd is overdue now; its items alone were re-read.
    assert run.counts["states_written"] == 1
    assert run.counts["overdue_refreshed"] == 1
    assert state(book["medium"])[3] == Decimal("2100.00")
    # Only that account's snapshot row is written for the day.
    assert not run.full_snapshot
    next_day = Snapshot.objects.filter(as_of=AS_OF + dt.timedelta(days=1))
    assert list(next_day.values_list("account_id", "overdue")) == [
        (book["medium"].pk, Decimal("2100.00"))
    ]
    assert not StepHistory.objects.filter(as_of=AS_OF + dt.timedelta(days=1)).exists()
    # On the 28th the light account reaches DPD 15 (the demand letter) and the loan that fell
    # due on the 26th is two days late (the first call).
    later = AS_OF + dt.timedelta(days=5)
    services.cycle_run(as_of=later, actor=None)
    moves = StepHistory.objects.filter(as_of=later).values_list("account_id", "to_step", "reason")
    assert sorted(moves) == [
        (book["soon"].pk, "friendly_call", "segment"),
        (book["light"].pk, "demand_letter", "schedule"),
    ]
    assert PlannedAction.objects.filter(
        account_id=book["light"].pk, as_of=later, channel="letter"
    ).exists()


def test_an_earlier_day_is_refused(book: dict[str, Any]) -> None:
    services.cycle_run(as_of=AS_OF, actor=None)
    with translation.override("en"), pytest.raises(ValidationError, match="already run"):
        services.cycle_run(as_of=AS_OF - dt.timedelta(days=1), actor=None)


def test_partitions_give_the_same_result_as_one(book: dict[str, Any]) -> None:
    services.cycle_run(as_of=AS_OF, actor=None, partitions=3)
    split = tables()
    AccountState.objects.all().delete()
    StepHistory.objects.all().delete()
    PlannedAction.objects.all().delete()
    Snapshot.objects.all().delete()
    CycleRun.objects.all().delete()
    services.cycle_run(as_of=AS_OF, actor=None)
    assert tables() == split


@pytest.mark.django_db(transaction=True)
def test_partitions_run_side_by_side_give_the_same_result(book: dict[str, Any]) -> None:
    """Threads with connections of their own (on SQLite the partitions run in turn)."""
    services.cycle_run(as_of=AS_OF, actor=None)
    alone = tables()
    services.cycle_run(as_of=AS_OF + dt.timedelta(days=1), actor=None)
    following = tables()
    for model in (AccountState, StepHistory, PlannedAction, Snapshot, CycleRun):
        model.objects.all().delete()
    Account.objects.update(overdue_as_of=None)
    run = services.cycle_run(as_of=AS_OF, actor=None, partitions=4, workers=2)
    assert run.status == CycleRun.Status.DONE
    assert sorted(run.partitions_done) == [0, 1, 2, 3]
    assert len(run.bounds) == 3
    assert tables() == alone
    services.cycle_run(as_of=AS_OF + dt.timedelta(days=1), actor=None, partitions=4, workers=2)
    assert tables() == following


def test_id_ranges_cover_every_id_once() -> None:
    ranges = engine.id_ranges([10, 20])
    assert [(r.low, r.high) for r in ranges] == [(None, 10), (10, 20), (20, None)]
    assert ranges[1].where("id") == "(id >= %s AND id < %s)"
    assert ranges[1].params == [10, 20]
    assert engine.id_ranges([]) == [engine.ALL_IDS]


def test_a_run_that_dies_resumes_and_ends_as_one_clean_run(
    book: dict[str, Any], monkeypatch: Any
) -> None:
    real = engine.partition_run

    def dies_on_partition_1(**kw: Any) -> Any:
        if kw["partition"] == 1:
            raise RuntimeError("the worker was killed")
        return real(**kw)

    monkeypatch.setattr(services, "partition_run", dies_on_partition_1)
    with pytest.raises(RuntimeError):
        services.cycle_run(as_of=AS_OF, actor=None, partitions=2)
    run = CycleRun.objects.get()
    assert (run.status, run.partitions_done) == ("failed", [0])
    monkeypatch.setattr(services, "partition_run", real)
    resumed = services.cycle_run(as_of=AS_OF, actor=None, partitions=2)
    assert resumed.pk == run.pk and resumed.status == "done"
    assert resumed.partitions_done == [0, 1]
    after = tables()
    for model in (AccountState, StepHistory, PlannedAction, Snapshot, CycleRun):
        model.objects.all().delete()
    services.cycle_run(as_of=AS_OF, actor=None, partitions=2)
    assert tables() == after


def test_the_command(book: dict[str, Any], capsys: Any) -> None:
    call_command("cycle", "run", "--as-of", "2026-11-23")
    out = capsys.readouterr().out
    assert "2026-11-23" in out and "5" in out
    assert CycleRun.objects.get().status == "done"


def test_a_rebuild_from_the_items_gives_what_the_incremental_days_gave(
    book: dict[str, Any],
) -> None:
    services.cycle_run(as_of=AS_OF, actor=None)
    # A part payment between runs: the services keep the aggregates current.
    ledger.payment_post(
        account=book["medium"],
        amount=Decimal("500.00"),
        received_on=AS_OF,
        method="bank",
        actor=None,
    )
    later = AS_OF + dt.timedelta(days=5)
    incremental = services.cycle_run(as_of=later, actor=None)
    assert incremental.counts["overdue_refreshed"] < incremental.counts["accounts"]
    aggregates = list(
        Account.objects.order_by("pk").values_list(
            "pk", "overdue_principal", "overdue_interest", "overdue_fee", "next_due_date"
        )
    )
    before = tables()
    rebuilt = services.cycle_run(as_of=later, actor=None, rebuild=True)
    assert rebuilt.pk != incremental.pk
    assert rebuilt.counts["overdue_refreshed"] == rebuilt.counts["accounts"]
    assert tables() == before
    assert aggregates == list(
        Account.objects.order_by("pk").values_list(
            "pk", "overdue_principal", "overdue_interest", "overdue_fee", "next_due_date"
        )
    )


def test_a_past_day_is_rebuilt_from_the_base_and_the_changes(book: dict[str, Any]) -> None:
    assert snapshot_on(AS_OF) is None  # the cycle has not run yet
    services.cycle_run(as_of=AS_OF, actor=None)
    services.cycle_run(as_of=AS_OF + dt.timedelta(days=1), actor=None)
    later = AS_OF + dt.timedelta(days=5)
    services.cycle_run(as_of=later, actor=None)
    rebuilt = snapshot_on(later)
    assert rebuilt is not None
    got = {
        row["account_id"]: (row["bucket"], row["overdue_fen"], row["segment"], row["step"])
        for row in rebuilt.iter_rows(named=True)
    }
    assert got == {
        s.account_id: (s.bucket, int(s.overdue * 100), s.segment, s.step)
        for s in AccountState.objects.all()
    }
    # On the 24th, the medium loan had its second installment overdue; the light one was 11
    # days late although nothing about it was written that day.
    on_24th = snapshot_on(AS_OF + dt.timedelta(days=1))
    assert on_24th is not None
    rows = {r["account_id"]: r for r in on_24th.iter_rows(named=True)}
    assert rows[book["medium"].pk]["overdue_fen"] == 210_000
    assert rows[book["light"].pk]["dpd"] == 11
    assert rows[book["light"].pk]["bucket"] == "1-30"


def test_a_rerun_keeps_the_actions_already_worked_and_plans_nothing_twice(
    book: dict[str, Any],
) -> None:
    services.cycle_run(as_of=AS_OF, actor=None)
    worked = PlannedAction.objects.get(account_id=book["light"].pk, as_of=AS_OF)
    PlannedAction.objects.filter(pk=worked.pk).update(status=PlannedAction.Status.DONE)
    planned = PlannedAction.objects.filter(status="planned").count()
    services.cycle_run(as_of=AS_OF, actor=None, rebuild=True)
    assert PlannedAction.objects.get(pk=worked.pk).status == PlannedAction.Status.DONE
    assert PlannedAction.objects.filter(account_id=book["light"].pk, as_of=AS_OF).count() == 1
    assert PlannedAction.objects.filter(status="planned").count() == planned


def test_the_workbench_row_escalates_and_pauses(book: dict[str, Any]) -> None:
    """contact.AccountContactState feeds the strategy: an open promise due before the day is
    broken (one step further), a dispute over all the overdue amount pauses, one over part of
    it does not."""
    from huikuan.contact.models import AccountContactState

    services.cycle_run(as_of=AS_OF, actor=None)
    before = {k: state(book[k]) for k in ("light", "medium")}
    AccountContactState.objects.create(
        account=book["light"], promise_status="open", promise_due_on=AS_OF - dt.timedelta(days=2)
    )
    AccountContactState.objects.create(account=book["medium"], disputed_amount=Decimal("3150.00"))
    AccountContactState.objects.create(account=book["large"], disputed_amount=Decimal("100.00"))
    services.cycle_run(as_of=AS_OF + dt.timedelta(days=1), actor=None)
    light = AccountState.objects.get(account=book["light"])
    assert light.step != before["light"][2]
    assert StepHistory.objects.filter(account_id=book["light"].pk, reason="broken_promise").exists()
    assert AccountState.objects.get(account=book["medium"]).paused
    assert not AccountState.objects.get(account=book["large"]).paused


def test_a_promise_due_on_the_day_reads_as_due_today() -> None:
    frame = pl.DataFrame(
        {
            "promise_status": ["open", "open", "open", None, "kept"],
            "promise_due_on": [
                AS_OF,
                AS_OF - dt.timedelta(days=1),
                AS_OF + dt.timedelta(1),
                None,
                AS_OF,
            ],
        }
    )
    got = frame.select(engine._promise_status(AS_OF)).to_series().to_list()
    assert got == ["due_today", "broken", "open", "none", "kept"]


calls: list[tuple[str, int]] = []


def record_before(*, run: CycleRun, actor: Any) -> None:
    calls.append(("before", run.pk))


def record_after(*, run: CycleRun, actor: Any) -> None:
    assert run.status == CycleRun.Status.DONE
    calls.append(("after", run.pk))


def test_the_apps_above_are_called_at_the_start_and_after_the_end(
    book: dict[str, Any], settings: Any
) -> None:
    here = f"{__name__}."
    settings.HUIKUAN_CYCLE_BEFORE = [here + "record_before"]
    settings.HUIKUAN_CYCLE_AFTER = [here + "record_after"]
    calls.clear()
    run = services.cycle_run(as_of=AS_OF, actor=None)
    assert calls == [("before", run.pk), ("after", run.pk)]
