"""The overdue aggregates of an account stay current when payments are written."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest

from huikuan.ledger import services
from huikuan.ledger.models import Account
from huikuan.ledger.tests.factories import installments, make_account, make_portfolio

pytestmark = pytest.mark.django_db
AS_OF = dt.date(2026, 11, 23)


def _overdue(account: Account) -> tuple[Decimal, Decimal, Decimal, dt.date | None]:
    account.refresh_from_db()
    return (
        account.overdue_principal,
        account.overdue_interest,
        account.overdue_fee,
        account.next_due_date,
    )


def test_not_computed_until_a_date_is_set():
    account = make_account(make_portfolio(), items=installments(dt.date(2026, 10, 10), 3))
    account.refresh_from_db()
    assert account.overdue_as_of is None
    assert _overdue(account) == (Decimal(0), Decimal(0), Decimal(0), None)


def test_payments_keep_the_overdue_amounts_current(personas):
    # Installments of 1,000 + 50 due 10 Oct, 10 Nov and 10 Dec: two overdue on 23 Nov.
    account = make_account(make_portfolio(), items=installments(dt.date(2026, 10, 10), 3))
    Account.objects.filter(pk=account.pk).update(overdue_as_of=AS_OF)
    services.account_balances_refresh(account_ids=[account.pk])
    assert _overdue(account) == (
        Decimal("2000.00"),
        Decimal("100.00"),
        Decimal("0.00"),
        dt.date(2026, 12, 10),
    )
    services.payment_post(
        account=account,
        amount=Decimal("1100.00"),
        received_on=AS_OF,
        method="bank",
        actor=personas["manager"],
    )
    # The default order takes the interest of both overdue items, then principal.
    assert _overdue(account) == (
        Decimal("1000.00"),
        Decimal("0.00"),
        Decimal("0.00"),
        dt.date(2026, 12, 10),
    )


def test_an_item_due_on_the_day_is_not_overdue_yet():
    account = make_account(make_portfolio(), items=installments(AS_OF, 2))
    Account.objects.filter(pk=account.pk).update(overdue_as_of=AS_OF)
    services.account_balances_refresh(account_ids=[account.pk])
    assert _overdue(account) == (Decimal(0), Decimal(0), Decimal(0), AS_OF)
