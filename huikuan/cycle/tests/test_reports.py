"""Managers' reports: aging from the totals, roll rates, segments and steps, planned actions."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any

import pytest
from django.db.models import Count
from django.test import Client
from django.urls import reverse
from django.utils import translation

from huikuan.cycle import selectors, services
from huikuan.cycle.models import AccountState, CycleRun, PlannedAction, Snapshot
from huikuan.ledger import selectors as ledger_selectors
from huikuan.ledger.tests.factories import PASSWORD, installments, make_account, make_portfolio

pytestmark = pytest.mark.django_db
AS_OF = dt.date(2026, 11, 23)


def browser(user: Any) -> Client:
    client = Client(HTTP_ACCEPT_LANGUAGE="en")
    assert client.login(username=user.username, password=PASSWORD)
    return client


@pytest.fixture
def two_portfolios(personas: dict[str, Any]) -> dict[str, Any]:
    first = make_portfolio(code="P1")
    second = make_portfolio(code="P2", bucket_bounds=[0, 60, 120])
    loans = (
        (first, dt.date(2026, 11, 13), 3, "1000.00"),
        (first, dt.date(2026, 10, 23), 3, "1000.00"),
        (first, dt.date(2026, 5, 1), 6, "10000.00"),
        (first, dt.date(2026, 12, 13), 3, "800.00"),
        (second, dt.date(2026, 9, 1), 4, "2500.00"),
        (second, dt.date(2026, 11, 1), 2, "300.00"),
    )
    for portfolio, first_due, count, principal in loans:
        make_account(portfolio, items=installments(first_due, count, Decimal(principal)))
    return {"first": first, "second": second, **personas}


def test_aging_from_the_cycle_equals_the_ledger_on_the_as_of_date(
    two_portfolios: dict[str, Any],
) -> None:
    services.cycle_run(as_of=AS_OF, actor=None, partitions=2)
    report = selectors.aging_report(AS_OF)
    ledger = ledger_selectors.aging_summary(two_portfolios["manager"], as_of=AS_OF)
    expected = {(r.portfolio_id, r.bucket.code): (r.count, r.amount) for r in ledger}
    found = {
        (t.portfolio_id, line.bucket.code): (line.accounts, line.outstanding)
        for t in report.tables
        for line in t.lines
    }
    assert found == expected
    assert len(report.tables) == 2
    for table in report.tables:
        assert sum(line.share for line in table.lines) == pytest.approx(Decimal(100), abs=1)

    client = browser(two_portfolios["manager"])
    page = client.get(reverse("web:report_aging"), {"as_of": "2026-11-23"}).content.decode()
    total = sum((t.outstanding for t in report.tables), Decimal(0))
    assert total > 0
    for table in report.tables:
        assert f'data-total-amount="{table.outstanding}"' in page
    body = client.get("/api/v1/cycle/reports/aging", {"as_of": "2026-11-23"}).json()
    assert {p["portfolio_id"]: Decimal(p["outstanding"]) for p in body["portfolios"]} == {
        t.portfolio_id: t.outstanding for t in report.tables
    }


def test_the_date_picker_offers_the_dates_with_a_finished_run(
    two_portfolios: dict[str, Any],
) -> None:
    services.cycle_run(as_of=AS_OF, actor=None)
    services.cycle_run(as_of=AS_OF + dt.timedelta(days=1), actor=None)
    services.cycle_start(as_of=AS_OF + dt.timedelta(days=2), actor=None)  # still running
    assert selectors.done_dates() == [AS_OF + dt.timedelta(days=1), AS_OF]
    page = browser(two_portfolios["manager"]).get(reverse("web:report_aging")).content.decode()
    assert 'value="2026-11-24" selected' in page and 'value="2026-11-25"' not in page
    picked = browser(two_portfolios["manager"]).get(
        reverse("web:report_aging"), {"as_of": "2026-11-25"}
    )
    assert picked.status_code == 200
    assert "Select a valid choice" in picked.content.decode()


def _snapshot(day: dt.date, account: int, portfolio: int, dpd: int | None, amount: str) -> None:
    oldest = None if dpd is None else day - dt.timedelta(days=dpd)
    Snapshot.objects.create(
        as_of=day,
        account_id=account,
        portfolio_id=portfolio,
        dpd=dpd or 0,
        bucket="",  # the bucket on a date follows from the oldest unpaid due date
        oldest_unpaid_due=oldest,
        outstanding=Decimal(amount),
        overdue=Decimal(amount),
    )


def test_the_roll_rate_matrix_of_a_hand_built_case(personas: dict[str, Any]) -> None:
    portfolio = make_portfolio().pk
    first, second = dt.date(2026, 10, 31), AS_OF  # 23 days apart
    CycleRun.objects.create(as_of=first, status="done", full_snapshot=True)
    CycleRun.objects.create(as_of=second, status="done")
    # The first day holds every account (a full snapshot); the second only those that changed.
    _snapshot(first, 1, portfolio, 10, "100.00")  # 1–30, still unpaid: DPD 33 → 31–90
    _snapshot(first, 2, portfolio, 40, "200.00")  # 31–90, paid off on the second day
    _snapshot(second, 2, portfolio, None, "0.00")
    _snapshot(first, 3, portfolio, 2, "300.00")  # 1–30, DPD 25 on the second day: stays
    _snapshot(first, 4, portfolio, None, "400.00")  # current, unchanged
    _snapshot(second, 5, portfolio, 3, "500.00")  # opened since: from current to 1–30
    _snapshot(first, 6, portfolio, 100, "600.00")  # 91–180, partly paid: DPD 20 → 1–30
    _snapshot(second, 6, portfolio, 20, "250.00")

    result = selectors.roll_rates(first, second)
    codes = [b.code for b in result.buckets]
    assert codes == ["current", "1-30", "31-90", "91-180", "180+"]
    matrix = {
        row.bucket: {
            code: (c.accounts, c.amount)
            for code, c in zip(codes, row.cells, strict=True)
            if c.accounts
        }
        for row in result.rows
    }
    assert matrix == {
        "current": {"current": (1, Decimal("400.00")), "1-30": (1, Decimal("500.00"))},
        "1-30": {"1-30": (1, Decimal("300.00")), "31-90": (1, Decimal("100.00"))},
        "31-90": {"current": (1, Decimal("200.00"))},
        "91-180": {"1-30": (1, Decimal("600.00"))},
        "180+": {},
    }
    early = result.rows[1]
    assert [c.accounts_share for c in early.cells[1:3]] == [Decimal("50.0"), Decimal("50.0")]
    assert [c.amount_share for c in early.cells[1:3]] == [Decimal("75.0"), Decimal("25.0")]
    assert (early.accounts, early.amount) == (2, Decimal("400.00"))

    client = browser(personas["manager"])
    with translation.override("en"):
        page = client.get(
            reverse("web:report_rolls"), {"first": "2026-10-31", "second": "2026-11-23"}
        ).content.decode()
    assert "current / paid" in page and "was current on the from date" in page
    assert 'data-accounts="1"' in page
    body = client.get(
        "/api/v1/cycle/reports/roll-rates", {"first": "2026-10-31", "second": "2026-11-23"}
    ).json()
    assert body["rows"][1]["to"][2] == {
        "to_bucket": "31-90",
        "accounts": 1,
        "amount": "100.00",
        "accounts_share": "50.0",
        "amount_share": "25.0",
    }
    backwards = client.get(
        reverse("web:report_rolls"), {"first": "2026-11-23", "second": "2026-10-31"}
    )
    assert "Choose a date after the from date." in backwards.content.decode()


def test_segments_and_steps_and_the_planned_actions(two_portfolios: dict[str, Any]) -> None:
    services.cycle_run(as_of=AS_OF, actor=None)
    run = selectors.latest_done_run(AS_OF)
    assert run is not None
    lines = selectors.segment_steps(run)
    states = dict(
        AccountState.objects.exclude(segment="")
        .values_list("segment")
        .annotate(n=Count("account_id"))
        .values_list("segment", "n")
    )
    by_segment: dict[str, int] = {}
    for line in lines:
        if line.segment:
            by_segment[line.segment] = by_segment.get(line.segment, 0) + line.accounts
    assert by_segment == states

    client = browser(two_portfolios["manager"])
    page = client.get(reverse("web:report_segments")).content.decode()
    assert "light_small" in page
    # The light segment's conditions are a DPD range: the ledger can list them.
    assert f"{reverse('web:ledger')}?dpd_min=1&amp;dpd_max=30" in page

    frame = selectors.planned_actions(AS_OF)
    planned = dict(
        PlannedAction.objects.filter(as_of=AS_OF)
        .values_list("channel")
        .annotate(n=Count("id"))
        .values_list("channel", "n")
    )
    assert dict(zip(frame["channel"], frame["actions"], strict=True)) == planned
    assert frame["outstanding_fen"].sum() > 0
    page = client.get(reverse("web:report_actions"), {"as_of": "2026-11-23"}).content.decode()
    assert 'id="planned-actions"' in page
    body = client.get("/api/v1/cycle/reports/planned-actions").json()
    assert sum(r["actions"] for r in body["rows"]) == sum(planned.values())
    body = client.get("/api/v1/cycle/reports/segments").json()
    assert body["run_id"] == run.pk


def test_reports_without_a_run_say_so(personas: dict[str, Any]) -> None:
    client = browser(personas["manager"])
    with translation.override("en"):
        for name in ("report_aging", "report_segments", "report_rolls", "report_actions"):
            response = client.get(reverse(f"web:{name}"))
            assert response.status_code == 200
            assert 'class="empty"' in response.content.decode(), name
    response = client.get("/api/v1/cycle/reports/aging")
    assert response.status_code == 422
