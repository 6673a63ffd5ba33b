"""Factory functions for tests: small, explicit, valid by construction."""

from __future__ import annotations

import datetime as dt
import itertools
from decimal import Decimal
from typing import Any

from django.contrib.auth.models import Group

from huikuan.iam.models import User
from huikuan.ledger import services
from huikuan.ledger.models import Account, Creditor, Debtor, Portfolio
from huikuan.lib import ids

_seq = itertools.count(1)
PASSWORD = "test-pass-123"


def make_user(role: str | None, *, username: str | None = None) -> User:
    user = User.objects.create_user(username=username or role or "nobody", password=PASSWORD)
    if role:
        user.groups.add(Group.objects.get(name=role))
    return user


def make_portfolio(*, code: str | None = None, **kwargs: Any) -> Portfolio:
    n = next(_seq)
    creditor = Creditor.objects.create(code=f"CR{n}", name=f"测试银行{n}")
    return services.portfolio_create(
        creditor=creditor, code=code or f"P{n}", name=f"消费贷资产包{n}", actor=None, **kwargs
    )


def make_debtor(*, kind: str = Debtor.Kind.INDIVIDUAL, name: str = "张三") -> Debtor:
    n = next(_seq)
    if kind == Debtor.Kind.INDIVIDUAL:
        id_number = ids.resident_id_make("110101", dt.date(1985, 3, 1), n % 1000)
    else:
        id_number = ids.uscc_make(org_code_body=f"{n:08d}")
    return services.debtor_create(kind=kind, name=name, id_number=id_number, actor=None)


def installments(
    first_due: dt.date,
    count: int,
    principal: Decimal = Decimal("1000.00"),
    interest: Decimal = Decimal("50.00"),
    fee: Decimal = Decimal("0.00"),
) -> list[services.ItemInput]:
    items = []
    for i in range(count):
        month = first_due.month - 1 + i
        due = first_due.replace(year=first_due.year + month // 12, month=month % 12 + 1)
        items.append(
            services.ItemInput(
                number=f"{i + 1:02d}",
                due_date=due,
                principal_due=principal,
                interest_due=interest,
                fee_due=fee,
            )
        )
    return items


def make_account(
    portfolio: Portfolio,
    *,
    contract_no: str | None = None,
    collector: User | None = None,
    team: Any = None,
    items: list[services.ItemInput] | None = None,
    debtor: Debtor | None = None,
) -> Account:
    n = next(_seq)
    account = services.account_create(
        portfolio=portfolio,
        debtor=debtor or make_debtor(),
        contract_no=contract_no or f"HT{n:06d}",
        product=Account.Product.LOAN,
        principal=Decimal("3000.00"),
        open_date=dt.date(2026, 1, 10),
        items=items if items is not None else installments(dt.date(2026, 8, 10), 3),
        actor=None,
    )
    if collector or team:
        Account.objects.filter(pk=account.pk).update(collector=collector, team=team)
        account.refresh_from_db()
    return account
