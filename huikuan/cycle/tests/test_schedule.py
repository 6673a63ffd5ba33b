"""The schedule: the day's run once after HUIKUAN_CYCLE_AT, whoever asks and how often."""

from __future__ import annotations

import datetime as dt
import threading
from decimal import Decimal
from typing import Any

import pytest
from django.core.management import call_command

from huikuan.cycle import services
from huikuan.cycle.models import CycleRun, ScheduleClaim
from huikuan.ledger.tests.factories import installments, make_account, make_portfolio
from huikuan.web.management.commands import worker

pytestmark = pytest.mark.django_db
SHANGHAI = dt.timezone(dt.timedelta(hours=8))
MORNING = dt.datetime(2026, 11, 23, 6, 0, tzinfo=SHANGHAI)
DAWN = dt.datetime(2026, 11, 23, 5, 0, tzinfo=SHANGHAI)


@pytest.fixture
def book(db: Any, settings: Any) -> Any:
    settings.HUIKUAN_CYCLE_AT = "05:30"
    portfolio = make_portfolio()
    make_account(portfolio, items=installments(dt.date(2026, 11, 13), 3, Decimal("1000.00")))
    return portfolio


def test_two_calls_start_one_run(book: Any, django_capture_on_commit_callbacks: Any) -> None:
    with django_capture_on_commit_callbacks(execute=True):
        first = services.cycle_schedule(now=MORNING)
        second = services.cycle_schedule(now=MORNING)
    assert first is not None and second is None
    run = CycleRun.objects.get()
    assert (run.as_of, run.status, run.started_by) == (dt.date(2026, 11, 23), "done", None)
    assert ScheduleClaim.objects.get().run == run
    # Later in the day, and a later check after the run finished: nothing more.
    assert services.cycle_schedule(now=MORNING + dt.timedelta(hours=8)) is None
    assert CycleRun.objects.count() == 1


def test_nothing_before_the_time_or_without_a_schedule(book: Any, settings: Any) -> None:
    assert services.cycle_schedule(now=DAWN) is None
    settings.HUIKUAN_CYCLE_AT = ""
    assert services.cycle_schedule(now=MORNING) is None
    assert not CycleRun.objects.exists() and not ScheduleClaim.objects.exists()


def test_a_day_already_run_by_hand_is_not_run_again(book: Any) -> None:
    services.cycle_run(as_of=dt.date(2026, 11, 23), actor=None)
    assert services.cycle_schedule(now=MORNING) is None
    assert CycleRun.objects.count() == 1


def test_a_claim_taken_by_another_worker_wins(book: Any) -> None:
    ScheduleClaim.objects.create(as_of=dt.date(2026, 11, 23))
    assert services.cycle_schedule(now=MORNING) is None
    assert not CycleRun.objects.exists()


def test_a_refused_day_is_recorded_and_not_retried(book: Any) -> None:
    services.cycle_run(as_of=dt.date(2026, 11, 24), actor=None)
    assert services.cycle_schedule(now=MORNING) is None
    claim = ScheduleClaim.objects.get()
    assert claim.run is None and "already run" in claim.message
    assert services.cycle_schedule(now=MORNING) is None
    assert CycleRun.objects.count() == 1


def test_the_worker_clock_checks_and_stops(
    book: Any, monkeypatch: Any, django_capture_on_commit_callbacks: Any
) -> None:
    calls: list[int] = []
    monkeypatch.setattr(worker, "schedule_check", lambda: calls.append(1))
    stop = threading.Event()
    stop.set()
    worker._clock(stop, 0.01)  # one check at once, then it sees the stop
    assert calls == [1]
    monkeypatch.undo()
    monkeypatch.setattr(worker.connection, "close", lambda: None)  # keep the test's transaction
    with django_capture_on_commit_callbacks(execute=True):
        worker.schedule_check()  # 10:00 in Shanghai (conftest): past 05:30
    assert CycleRun.objects.get().status == "done"


def test_the_cron_command_runs_the_day_once(book: Any, capsys: Any) -> None:
    call_command("cycle", "schedule", "--once")
    assert "2026-11-23" in capsys.readouterr().out
    assert CycleRun.objects.get().status == "done"
    call_command("cycle", "schedule", "--once")  # the day has its run: nothing to do
    assert CycleRun.objects.count() == 1
    call_command("cycle", "schedule")
    assert "05:30" in capsys.readouterr().out
