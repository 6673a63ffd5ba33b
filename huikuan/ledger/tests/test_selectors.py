"""Ledger reads: sorting, DPD filters, and aging rebuilt for past dates."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest

from huikuan.ledger import selectors, services
from huikuan.ledger.tests.factories import installments, make_account, make_portfolio

pytestmark = pytest.mark.django_db
AS_OF = dt.date(2026, 11, 23)


def _contracts(user, **flt) -> list[str]:
    accounts = selectors.ledger_accounts(user, selectors.LedgerFilter(**flt), as_of=AS_OF)
    return list(accounts.values_list("contract_no", flat=True))


@pytest.fixture
def three(personas):
    portfolio = make_portfolio()
    make_account(portfolio, contract_no="OLD", items=installments(dt.date(2026, 5, 10), 2))
    make_account(portfolio, contract_no="NEW", items=installments(dt.date(2026, 11, 10), 1))
    make_account(portfolio, contract_no="NONE", items=[])  # paid off: DPD 0
    return portfolio


def test_dpd_sort_puts_accounts_without_arrears_at_the_low_end(personas, three):
    manager = personas["manager"]
    assert _contracts(manager, sort="-dpd") == ["OLD", "NEW", "NONE"]
    assert _contracts(manager, sort="dpd") == ["NONE", "NEW", "OLD"]


def test_dpd_range_counts_accounts_without_arrears_as_zero(personas, three):
    manager = personas["manager"]
    assert set(_contracts(manager, dpd_max=30)) == {"NEW", "NONE"}
    assert _contracts(manager, dpd_min=1, dpd_max=30) == ["NEW"]
    assert _contracts(manager, dpd_min=180) == ["OLD"]
    assert _contracts(manager, bucket="current") == ["NONE"]


def test_aging_leaves_out_zero_balances_and_adds_up(personas, three):
    rows = selectors.aging_summary(personas["manager"], as_of=AS_OF)
    by_code = {r.bucket.code: r for r in rows}
    assert by_code["current"].count == 0
    assert by_code["1-30"].count == 1 and by_code["1-30"].amount == Decimal("1050.00")
    assert by_code["180+"].count == 1 and by_code["180+"].amount == Decimal("2100.00")
    assert sum(r.count for r in rows) == 2


def test_aging_for_a_past_date_adds_back_later_payments(personas):
    portfolio = make_portfolio()
    account = make_account(portfolio, items=installments(dt.date(2026, 9, 10), 1))
    services.payment_post(
        account=account,
        amount=Decimal("1050.00"),
        received_on=dt.date(2026, 11, 1),
        method="bank",
        actor=None,
    )
    before = {
        r.bucket.code: r
        for r in selectors.aging_summary(
            personas["manager"], as_of=dt.date(2026, 10, 31), portfolio=portfolio.pk
        )
    }
    after = {
        r.bucket.code: r
        for r in selectors.aging_summary(
            personas["manager"], as_of=dt.date(2026, 11, 2), portfolio=portfolio.pk
        )
    }
    assert before["31-90"].count == 1 and before["31-90"].amount == Decimal("1050.00")
    assert sum(r.count for r in after.values()) == 0


def test_aging_follows_the_data_scope(personas, ledger):
    rows = selectors.aging_summary(personas["collector"], as_of=AS_OF)
    assert sum(r.count for r in rows) == 1
    assert selectors.aging_summary(personas["outsider"], as_of=AS_OF) == []
