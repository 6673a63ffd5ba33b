"""The write side of a ledger import, against the real database (SQLite, and PostgreSQL when
DATABASE_URL points at one): idempotence, diffs and their audit, conflicts, balances, rollback."""

from __future__ import annotations

import datetime as dt
import random
from decimal import Decimal
from typing import Any

import polars as pl
import pytest
from django.utils import translation

from huikuan.audit.models import AuditEvent
from huikuan.intake import upsert
from huikuan.intake.upsert import FRAME_SCHEMA, UpsertError, ledger_upsert
from huikuan.ledger import domain, services
from huikuan.ledger.domain import AccountStatus
from huikuan.ledger.models import Account, Contact, Debtor, Portfolio, ReceivableItem
from huikuan.ledger.tests.factories import make_portfolio, make_user
from huikuan.lib import ids

pytestmark = pytest.mark.django_db
D = Decimal
BALANCES = (
    "outstanding",
    "principal_outstanding",
    "interest_outstanding",
    "fee_outstanding",
    "oldest_unpaid_due",
    "unapplied",
)


@pytest.fixture(autouse=True)
def _english():
    with translation.override("en"):
        yield


@pytest.fixture
def portfolio() -> Portfolio:
    return make_portfolio()


@pytest.fixture
def actor() -> Any:
    return make_user(None, username="importer")


def _today(portfolio: Portfolio) -> dt.date:
    return services.portfolio_today(portfolio)


def _id(n: int) -> str:
    return ids.resident_id_make("110101", dt.date(1985, 3, 1), n)


def _row(
    contract: str = "HT-001",
    item: str | None = "01",
    *,
    due: dt.date,
    debtor: int = 1,
    principal: int = 100_000,
    interest: int = 5_000,
    fee: int = 0,
    paid: int = 0,
    **fields: Any,
) -> dict[str, Any]:
    row = {
        "debtor_name": f"债务人{debtor}",
        "debtor_kind": "individual",
        "id_number": _id(debtor),
        "region": None,
        "phone": f"+8613800{debtor:06d}",
        "address": None,
        "email": None,
        "guarantor_name": None,
        "guarantor_phone": None,
        "contract_no": contract,
        "product": "loan",
        "currency": "CNY",
        "principal_fen": None,
        "open_date": None,
        "item_no": item,
        "item_kind": "installment",
        "due_date": due,
        "principal_due_fen": principal,
        "interest_due_fen": interest,
        "fee_due_fen": fee,
        "paid_fen": paid,
    }
    row.update(fields)
    return row


def _frame(rows: list[dict[str, Any]]) -> pl.DataFrame:
    return pl.DataFrame(rows, schema=FRAME_SCHEMA, orient="row")


def _schedule(portfolio: Portfolio, contract: str = "HT-001", **kw: Any) -> list[dict[str, Any]]:
    """Three monthly installments: one 40 days late, one due in 10 days, one in 40."""
    today = _today(portfolio)
    return [
        _row(contract, f"{n:02d}", due=today + dt.timedelta(days=days), **kw)
        for n, days in ((1, -40), (2, 10), (3, 40))
    ]


def _import(portfolio: Portfolio, rows: list[dict[str, Any]], actor: Any = None) -> Any:
    return ledger_upsert(
        creditor=portfolio.creditor,
        portfolio=portfolio,
        frame=_frame(rows),
        actor=actor,
        source="ledger.csv",
    )


def _snapshot() -> dict[str, list[tuple[Any, ...]]]:
    """Every ledger row, every column: what "writes nothing" is checked against."""
    return {
        model.__name__: list(model.objects.order_by("pk").values_list())
        for model in (Debtor, Contact, Account, ReceivableItem)
    }


# --- creating -------------------------------------------------------------------------------


def test_first_import_creates_debtors_accounts_items_and_contacts(portfolio, actor):
    rows = _schedule(portfolio) + _schedule(
        portfolio, "HT-002", guarantor_name="李四", guarantor_phone="+8613900000001"
    )
    result = _import(portfolio, rows, actor)
    assert result.counts() == {
        "rows": 6,
        "debtors_created": 1,  # both contracts belong to debtor 1
        "debtors_updated": 0,
        "contacts_created": 2,
        "accounts_created": 2,
        "accounts_updated": 0,
        "items_created": 6,
        "items_updated": 0,
        "statuses_changed": 0,
        "conflicts": 0,
    }
    debtor = Debtor.objects.get()
    assert (debtor.kind, debtor.name, debtor.region) == ("individual", "债务人1", "110101")
    assert sorted(Contact.objects.values_list("relation", "name", "phone")) == [
        ("guarantor", "李四", "+8613900000001"),
        ("self", "债务人1", "+8613800000001"),
    ]
    account = Account.objects.get(contract_no="HT-001")
    assert (account.portfolio, account.debtor, account.creditor) == (
        portfolio,
        debtor,
        portfolio.creditor,
    )
    # Defaults: the principal due of the contract, a month before the first due date.
    first_due = _today(portfolio) - dt.timedelta(days=40)
    assert account.principal == D("3000.00")
    month_earlier = pl.Series([first_due]).dt.offset_by("-1mo").item()
    assert account.open_date == month_earlier
    assert account.outstanding == D("3150.00")
    assert account.oldest_unpaid_due == first_due
    assert account.status == AccountStatus.DELINQUENT
    item = account.items.get(number="02")
    assert (item.principal_due, item.interest_due, item.fee_due) == (D("1000.00"), D("50.00"), 0)


def test_the_batch_event_covers_what_was_created(portfolio, actor):
    _import(portfolio, _schedule(portfolio), actor)
    event = AuditEvent.objects.get(action="import.ledger")
    assert (event.action, event.actor, event.object_id) == (
        "import.ledger",
        actor,
        str(portfolio.pk),
    )
    assert event.changes["source"] == [None, "ledger.csv"]
    assert event.changes["items_created"] == [None, 3]


def test_given_principal_open_date_and_region_are_used(portfolio):
    rows = _schedule(
        portfolio, principal_fen=500_000, open_date=dt.date(2025, 1, 5), region="310104"
    )
    _import(portfolio, rows)
    account = Account.objects.get()
    assert (account.principal, account.open_date) == (D("5000.00"), dt.date(2025, 1, 5))
    assert account.debtor.region == "310104"


def test_an_enterprise_gets_its_region_from_the_credit_code(portfolio):
    code = ids.uscc_make(org_code_body="12345678")
    rows = [
        _row(due=_today(portfolio), debtor_kind="enterprise", id_number=code, item_kind="invoice")
    ]
    _import(portfolio, rows)
    assert Debtor.objects.get().region == code[2:8]


def test_a_row_without_an_item_number_is_named_by_its_due_date(portfolio):
    due = _today(portfolio)
    _import(portfolio, [_row(item=None, due=due)])
    assert ReceivableItem.objects.get().number == due.isoformat()


# --- idempotence, diffs, never deleting -----------------------------------------------------


def test_importing_the_same_frame_twice_writes_nothing(portfolio, actor):
    rows = _schedule(portfolio, paid=30_000, address="北京市东城区人民路1号")
    rows += _schedule(portfolio, "HT-002", debtor=2, guarantor_name="王五")
    _import(portfolio, rows, actor)
    before, events = _snapshot(), AuditEvent.objects.count()

    again = _import(portfolio, rows, actor)

    assert not again.written
    assert {k: v for k, v in again.counts().items() if k != "rows"} == dict.fromkeys(
        ("debtors_created", "debtors_updated", "contacts_created", "accounts_created"), 0
    ) | dict.fromkeys(
        ("accounts_updated", "items_created", "items_updated", "statuses_changed", "conflicts"), 0
    )
    assert _snapshot() == before
    assert AuditEvent.objects.count() == events


def test_a_changed_amount_updates_exactly_that_item_and_audits_old_and_new(portfolio, actor):
    rows = _schedule(portfolio)
    _import(portfolio, rows, actor)
    before = _snapshot()
    rows[1] = {**rows[1], "interest_due_fen": 6_000}

    result = _import(portfolio, rows, actor)

    assert (result.items_updated, result.items_created, result.accounts_updated) == (1, 0, 0)
    item = ReceivableItem.objects.get(number="02")
    assert item.interest_due == D("60.00")
    after = _snapshot()
    assert [r for r in after["ReceivableItem"] if r not in before["ReceivableItem"]] == [
        next(r for r in after["ReceivableItem"] if r[0] == item.pk)
    ]
    event = AuditEvent.objects.get(action="item.update")
    assert (event.object_type, event.object_id, event.actor) == (
        "ledger.receivableitem",
        str(item.pk),
        actor,
    )
    assert event.changes == {"interest_due": ["50.00", "60.00"]}
    account = Account.objects.get()
    assert account.interest_outstanding == D("160.00")
    batch = AuditEvent.objects.filter(action="import.ledger").order_by("pk").last()
    assert batch.changes["items_updated"] == [None, 1]


def test_changed_account_and_debtor_fields_are_updated_and_audited(portfolio):
    rows = _schedule(portfolio)
    _import(portfolio, rows)
    changed = [
        {**r, "debtor_name": "新名字", "product": "other", "principal_fen": 400_000} for r in rows
    ]
    result = _import(portfolio, changed)
    assert (result.debtors_updated, result.accounts_updated, result.items_updated) == (1, 1, 0)
    debtor_event = AuditEvent.objects.get(action="debtor.update")
    assert debtor_event.changes == {"name": ["债务人1", "新名字"]}
    account_event = AuditEvent.objects.get(action="account.update")
    assert account_event.changes == {
        "product": ["loan", "other"],
        "principal": ["3000.00", "4000.00"],
    }


def test_a_null_never_overwrites_what_the_ledger_has(portfolio):
    rows = _schedule(portfolio, principal_fen=500_000, open_date=dt.date(2025, 1, 5))
    rows = [{**r, "region": "310104"} for r in rows]
    _import(portfolio, rows)
    blank = [{**r, "principal_fen": None, "open_date": None, "region": None} for r in rows]
    assert not _import(portfolio, blank).written
    account = Account.objects.get()
    assert (account.principal, account.open_date, account.debtor.region) == (
        D("5000.00"),
        dt.date(2025, 1, 5),
        "310104",
    )


def test_rows_missing_from_the_next_file_are_not_deleted(portfolio):
    rows = _schedule(portfolio) + _schedule(portfolio, "HT-002", debtor=2)
    _import(portfolio, rows)
    before = _snapshot()
    result = _import(portfolio, rows[:2])
    assert not result.written
    assert _snapshot() == before


def test_contacts_are_added_never_changed_or_removed(portfolio):
    rows = _schedule(portfolio, address="旧地址")
    _import(portfolio, rows)
    Contact.objects.update(verified=True)
    # Same phone, other address: the known contact stays as the collectors left it.
    _import(portfolio, [{**r, "address": "新地址"} for r in rows])
    assert list(Contact.objects.values_list("phone", "address", "verified")) == [
        ("+8613800000001", "旧地址", True)
    ]
    # A new phone is a new contact; the old one stays.
    result = _import(portfolio, [{**r, "phone": "+8613800009999"} for r in rows])
    assert result.contacts_created == 1
    assert Contact.objects.count() == 2
    # Without a phone, name, email and address tell contacts apart.
    no_phone = [{**r, "phone": None, "email": "a@example.com"} for r in rows]
    assert _import(portfolio, no_phone).contacts_created == 1
    assert _import(portfolio, no_phone).contacts_created == 0


# --- paid amounts ---------------------------------------------------------------------------


def test_paid_is_spread_fee_interest_principal_by_default(portfolio):
    _import(portfolio, [_row(due=_today(portfolio), fee=2_000, paid=10_000)])
    item = ReceivableItem.objects.get()
    assert (item.fee_paid, item.interest_paid, item.principal_paid) == (
        D("20.00"),
        D("50.00"),
        D("30.00"),
    )
    assert Account.objects.get().outstanding == D("970.00")


def test_paid_follows_the_portfolio_allocation_order():
    portfolio = make_portfolio(allocation_order=["principal", "interest", "fee"])
    _import(portfolio, [_row(due=_today(portfolio), fee=2_000, paid=101_000)])
    item = ReceivableItem.objects.get()
    assert (item.principal_paid, item.interest_paid, item.fee_paid) == (
        D("1000.00"),
        D("10.00"),
        D("0.00"),
    )


def test_paid_never_drops_below_payments_posted_in_huikuan(portfolio, actor):
    rows = _schedule(portfolio)
    _import(portfolio, rows)
    account = Account.objects.get()
    services.payment_post(
        account=account,
        amount=D("300.00"),
        received_on=_today(portfolio),
        method="bank",
        actor=actor,
    )
    before, events = _snapshot(), AuditEvent.objects.count()

    # The file still shows nothing paid: the payment stays, the row is reported.
    stale = _import(portfolio, rows)
    assert not stale.written
    assert _snapshot() == before
    assert AuditEvent.objects.count() == events
    assert stale.conflicts.select("row", "code").rows() == [(1, "paid_below_ledger")]

    # Once the creditor's figure covers the payment it is taken.
    caught_up = [{**rows[0], "paid_fen": 40_000}, *rows[1:]]
    result = _import(portfolio, caught_up)
    assert (result.items_updated, result.conflicts.height) == (1, 0)
    item = ReceivableItem.objects.get(number="01")
    assert (item.interest_paid, item.principal_paid) == (D("50.00"), D("350.00"))
    assert AuditEvent.objects.get(action="item.update").changes == {
        "principal_paid": ["250.00", "350.00"]
    }


def test_amounts_due_below_what_payments_paid_are_refused(portfolio, actor):
    rows = _schedule(portfolio)
    _import(portfolio, rows)
    services.payment_post(
        account=Account.objects.get(),
        amount=D("300.00"),
        received_on=_today(portfolio),
        method="bank",
        actor=actor,
    )
    cut = [{**rows[0], "principal_due_fen": 10_000}, *rows[1:]]
    result = _import(portfolio, cut)
    assert result.conflicts.select("row", "code").rows() == [(1, "due_below_paid")]
    assert ReceivableItem.objects.get(number="01").principal_due == D("1000.00")


# --- conflicts and errors -------------------------------------------------------------------


def test_an_account_in_another_portfolio_is_a_conflict_not_a_move(portfolio):
    _import(portfolio, _schedule(portfolio))
    other = Portfolio.objects.create(creditor=portfolio.creditor, code="OTHER", name="另一个")
    changed = [{**r, "interest_due_fen": 9_000} for r in _schedule(portfolio)]
    changed += _schedule(portfolio, "HT-NEW", debtor=2)
    result = ledger_upsert(
        creditor=portfolio.creditor, portfolio=other, frame=_frame(changed), actor=None
    )
    assert Account.objects.get(contract_no="HT-001").portfolio == portfolio
    assert Account.objects.get(contract_no="HT-NEW").portfolio == other
    assert ReceivableItem.objects.filter(interest_due=D("90.00")).count() == 0
    conflicts = result.conflicts
    assert conflicts.select("row", "code", "field").rows() == [
        (n, "portfolio_mismatch", "portfolio") for n in (1, 2, 3)
    ]
    assert portfolio.code in conflicts.get_column("message")[0]


def test_a_contract_under_another_debtor_is_a_conflict(portfolio):
    _import(portfolio, _schedule(portfolio))
    result = _import(portfolio, _schedule(portfolio, debtor=2))
    assert set(result.conflicts.get_column("code")) == {"debtor_mismatch"}
    assert not result.written
    assert Debtor.objects.count() == 1


def test_rows_of_one_contract_that_disagree_are_conflicts(portfolio):
    rows = _schedule(portfolio)
    rows[2] = {**rows[2], "product": "trade"}
    rows += _schedule(portfolio, "HT-002", debtor=2)
    result = _import(portfolio, rows)
    assert result.conflicts.select("row", "code", "field").rows() == [
        (n, "contract_inconsistent", "product") for n in (1, 2, 3)
    ]
    assert list(Account.objects.values_list("contract_no", flat=True)) == ["HT-002"]


def test_more_paid_than_due_is_a_conflict(portfolio):
    rows = _schedule(portfolio)
    rows[0] = {**rows[0], "paid_fen": 200_000}
    result = _import(portfolio, rows)
    assert result.conflicts.select("row", "code").rows() == [(1, "paid_exceeds_due")]
    assert ReceivableItem.objects.count() == 2


def test_the_frame_row_numbers_are_reported(portfolio):
    rows = _schedule(portfolio)
    rows[0] = {**rows[0], "paid_fen": 200_000}
    frame = _frame(rows).with_columns(row=pl.Series([7, 8, 9]))
    result = ledger_upsert(
        creditor=portfolio.creditor, portfolio=portfolio, frame=frame, actor=None
    )
    assert result.conflicts.get_column("row").to_list() == [7]
    assert result.conflicts.get_column("message")[0].startswith("Row 7:")


def test_a_duplicate_key_is_refused_before_anything_is_written(portfolio):
    rows = _schedule(portfolio)
    with pytest.raises(UpsertError, match="Rows 2, 4"):
        _import(portfolio, [*rows, {**rows[1], "paid_fen": 1}])
    assert _snapshot() == {"Debtor": [], "Contact": [], "Account": [], "ReceivableItem": []}


def test_text_longer_than_its_column_is_refused(portfolio):
    rows = _schedule(portfolio)
    rows[2] = {**rows[2], "region": "1101011"}
    with pytest.raises(UpsertError, match="Rows 3: “region” is longer"):
        _import(portfolio, rows)


def test_an_unknown_product_is_refused(portfolio):
    rows = [{**r, "product": "mortgage"} for r in _schedule(portfolio)]
    with pytest.raises(UpsertError, match="“product” is not one of the known values"):
        _import(portfolio, rows)


def test_a_frame_without_a_required_column_is_refused(portfolio):
    with pytest.raises(UpsertError, match="contract_no"):
        ledger_upsert(
            creditor=portfolio.creditor,
            portfolio=portfolio,
            frame=_frame(_schedule(portfolio)).drop("contract_no"),
            actor=None,
        )


def test_an_error_midway_leaves_the_ledger_as_it_was(portfolio, monkeypatch):
    rows = _schedule(portfolio)
    _import(portfolio, rows)
    before, events = _snapshot(), AuditEvent.objects.count()

    def fail(self: Any) -> int:
        raise RuntimeError("disk full")

    # Debtors, accounts and items are written by the time balances are computed.
    monkeypatch.setattr(upsert._Run, "_balances", fail)
    changed = [{**r, "debtor_name": "改名", "interest_due_fen": 7_000} for r in rows]
    with pytest.raises(RuntimeError):
        _import(portfolio, changed + _schedule(portfolio, "HT-002", debtor=2))
    assert _snapshot() == before
    assert AuditEvent.objects.count() == events
    monkeypatch.undo()
    # The temp tables went with the transaction: the next import runs normally.
    assert _import(portfolio, changed).items_updated == 3


# --- balances and statuses ------------------------------------------------------------------


def _random_rows(portfolio: Portfolio, accounts: int, seed: int) -> list[dict[str, Any]]:
    rng = random.Random(seed)
    today = _today(portfolio)
    rows = []
    for a in range(accounts):
        first = today + dt.timedelta(days=rng.randint(-200, 30))
        for n in range(rng.randint(1, 5)):
            p, i, f = rng.randint(0, 90_000), rng.randint(0, 9_000), rng.choice((0, 0, 2_000))
            paid = rng.choice((0, p + i + f, rng.randint(0, p + i + f)))
            due = first + dt.timedelta(days=30 * n)
            rows.append(
                _row(f"R-{a:03d}", f"{n:02d}", due=due, debtor=a % 7 + 1, principal=p,
                     interest=i, fee=f, paid=paid)
            )  # fmt: skip
    return rows


def _balances() -> dict[int, tuple[Any, ...]]:
    return {a.pk: tuple(getattr(a, f) for f in BALANCES) for a in Account.objects.all()}


def test_balances_and_statuses_equal_what_the_services_compute(portfolio):
    result = _import(portfolio, _random_rows(portfolio, 40, seed=3))
    assert result.accounts_created == 40
    bulk = _balances()
    services.account_balances_refresh(account_ids=list(bulk))
    assert _balances() == bulk
    today = _today(portfolio)
    pairs = [
        (
            a.status,
            domain.balance_status(
                AccountStatus.CURRENT,
                outstanding=a.outstanding,
                dpd=domain.dpd_from(a.oldest_unpaid_due, today),
            ),
        )
        for a in Account.objects.all()
    ]
    assert [status for status, _expected in pairs] == [expected for _status, expected in pairs]
    assert {status for status, _expected in pairs} == {
        AccountStatus.CURRENT,
        AccountStatus.DELINQUENT,
        AccountStatus.PAID_OFF,
    }


def test_balances_after_an_update_equal_the_refresh(portfolio):
    rows = _random_rows(portfolio, 30, seed=5)
    _import(portfolio, rows)
    rng = random.Random(9)
    changed = [
        {**r, "paid_fen": rng.randint(0, r["principal_due_fen"])} if rng.random() < 0.3 else r
        for r in rows
    ]
    assert _import(portfolio, changed).items_updated > 0
    bulk = _balances()
    services.account_balances_refresh(account_ids=list(bulk))
    assert _balances() == bulk
    today = _today(portfolio)
    for account in Account.objects.all():
        dpd = domain.dpd_from(account.oldest_unpaid_due, today)
        expected = domain.balance_status(
            AccountStatus.CURRENT, outstanding=account.outstanding, dpd=dpd
        )
        assert account.status == expected, account.contract_no


def test_an_account_made_by_the_services_is_updated_in_place(portfolio, actor):
    from huikuan.ledger.tests.factories import installments, make_account

    account = make_account(
        portfolio, contract_no="HT-001", items=installments(_today(portfolio), 2)
    )
    services.payment_post(
        account=account,
        amount=D("5000.00"),
        received_on=_today(portfolio),
        method="bank",
        actor=actor,
    )
    account.refresh_from_db()
    assert (account.status, account.unapplied) == (AccountStatus.PAID_OFF, D("2900.00"))
    debtor = account.debtor
    rows = [
        _row(
            "HT-001",
            "03",
            due=_today(portfolio),
            debtor_kind=debtor.kind,
            id_number=debtor.id_number,
            debtor_name=debtor.name,
        )
    ]
    result = _import(portfolio, rows, actor)
    assert (result.items_created, result.debtors_created, result.statuses_changed) == (1, 0, 1)
    account.refresh_from_db()
    assert account.unapplied == D("2900.00")  # credit stays credit; the import never applies it
    assert (account.outstanding, account.status) == (D("1050.00"), AccountStatus.CURRENT)
    bulk = _balances()
    services.account_balances_refresh(account_ids=list(bulk))
    assert _balances() == bulk


def test_an_import_moves_an_automatic_status_and_audits_it(portfolio, actor):
    today = _today(portfolio)
    rows = [_row(due=today + dt.timedelta(days=20))]
    _import(portfolio, rows, actor)
    account = Account.objects.get()
    assert account.status == AccountStatus.CURRENT
    result = _import(portfolio, [{**rows[0], "due_date": today - dt.timedelta(days=3)}], actor)
    assert result.statuses_changed == 1
    account.refresh_from_db()
    assert account.status == AccountStatus.DELINQUENT
    event = AuditEvent.objects.get(action="account.status")
    assert (event.object_id, event.changes) == (
        str(account.pk),
        {"status": ["current", "delinquent"]},
    )
    paid = _import(portfolio, [{**rows[0], "due_date": today, "paid_fen": 105_000}], actor)
    assert paid.statuses_changed == 1
    account.refresh_from_db()
    assert (account.status, account.outstanding, account.oldest_unpaid_due) == (
        AccountStatus.PAID_OFF,
        0,
        None,
    )


def test_a_working_status_is_left_alone(portfolio):
    rows = _schedule(portfolio)
    _import(portfolio, rows)
    Account.objects.update(status=AccountStatus.DISPUTED)
    result = _import(portfolio, [{**r, "paid_fen": 105_000} for r in rows])
    assert (result.items_updated, result.statuses_changed) == (3, 0)
    account = Account.objects.get()
    assert (account.status, account.outstanding) == (AccountStatus.DISPUTED, 0)


def test_the_statuses_an_import_moves_between_are_all_allowed():
    for old in domain.AUTOMATIC_STATUSES:
        for new in domain.AUTOMATIC_STATUSES - {old}:
            assert new in domain.ACCOUNT_TRANSITIONS[old], (old, new)
            domain.check_transition(old, new)  # raises if the table ever disagrees


# --- several chunks -------------------------------------------------------------------------


def _chunked(portfolio: Portfolio, chunks: list[list[dict[str, Any]]], **kw: Any) -> Any:
    """One import of several chunk frames, the file's row numbers running on across them."""
    frames, start = [], 1
    for rows in chunks:
        frames.append(_frame(rows).with_columns(row=pl.int_range(start, start + len(rows))))
        start += len(rows)
    return ledger_upsert(
        creditor=portfolio.creditor, portfolio=portfolio, frame=iter(frames), actor=None, **kw
    )


def _values() -> list[tuple[Any, ...]]:
    """The ledger without ids and timestamps."""
    debtors = list(Debtor.objects.values_list("kind", "id_number", "name", "region"))
    contacts = list(Contact.objects.values_list("debtor__id_number", "relation", "name", "phone"))
    accounts = list(
        Account.objects.values_list("contract_no", "debtor__id_number", *BALANCES, "status")
    )
    items = list(ReceivableItem.objects.values_list("account__contract_no", "number", "due_date"))
    return sorted(debtors) + sorted(contacts) + sorted(accounts) + sorted(items)


def _clear() -> None:
    for model in (Contact, ReceivableItem, Account, Debtor):
        model.objects.all().delete()


def test_an_account_split_over_two_chunks_gives_the_ledger_of_one_chunk(portfolio):
    rows = _random_rows(portfolio, 12, seed=8)
    rows += _schedule(portfolio, "HT-G", debtor=3, guarantor_name="王五", region="310104")
    whole = _import(portfolio, rows)
    expected = _values()
    _clear()
    cut = len(rows) // 2 + 1  # inside a schedule
    assert rows[cut - 1]["contract_no"] == rows[cut]["contract_no"]

    split = _chunked(portfolio, [rows[:cut], rows[cut:-3], rows[-3:]])

    assert _values() == expected
    assert split.counts() == whole.counts()


def test_the_first_name_and_region_win_across_chunks(portfolio):
    rows = _schedule(portfolio, debtor_name="先", region=None)
    later = [
        {**r, "contract_no": "HT-002", "debtor_name": "后", "region": "440305"}
        for r in _schedule(portfolio)
    ]
    _chunked(portfolio, [rows[:1], [*rows[1:], *later]])
    debtor = Debtor.objects.get()
    assert (debtor.name, debtor.region) == ("先", "440305")


def test_contacts_repeated_across_chunks_are_added_once(portfolio):
    rows = _schedule(portfolio, guarantor_name="王五", guarantor_phone="+8613900000001")
    result = _chunked(portfolio, [[row] for row in rows])
    assert result.contacts_created == 2
    assert Contact.objects.count() == 2


def test_a_key_repeated_in_a_later_chunk_is_refused(portfolio):
    rows = _schedule(portfolio)
    with pytest.raises(UpsertError, match="Rows 2, 4"):
        _chunked(portfolio, [rows, [{**rows[1], "paid_fen": 1}]])
    assert _snapshot() == {"Debtor": [], "Contact": [], "Account": [], "ReceivableItem": []}


def test_rows_of_one_contract_that_disagree_across_chunks_are_conflicts(portfolio):
    rows = _schedule(portfolio) + _schedule(portfolio, "HT-002", debtor=2)
    rows[2] = {**rows[2], "currency": "USD"}
    result = _chunked(portfolio, [rows[:2], rows[2:]])
    assert result.conflicts.select("row", "code", "field").rows() == [
        (n, "contract_inconsistent", "currency") for n in (1, 2, 3)
    ]
    assert list(Account.objects.values_list("contract_no", flat=True)) == ["HT-002"]
    assert list(Debtor.objects.values_list("name", flat=True)) == ["债务人2"]


def test_a_chunk_that_raises_leaves_the_ledger_as_it_was(portfolio):
    rows = _schedule(portfolio)

    def chunks() -> Any:
        yield _frame(rows)
        raise RuntimeError("the file ended early")

    with pytest.raises(RuntimeError):
        ledger_upsert(creditor=portfolio.creditor, portfolio=portfolio, frame=chunks(), actor=None)
    assert _snapshot() == {"Debtor": [], "Contact": [], "Account": [], "ReceivableItem": []}
    assert _import(portfolio, rows).items_created == 3  # nothing left behind


def test_refusing_conflicts_rolls_everything_back(portfolio):
    rows = _schedule(portfolio) + _schedule(portfolio, "HT-002", debtor=2)
    rows[0] = {**rows[0], "paid_fen": 200_000}
    events = AuditEvent.objects.count()
    with pytest.raises(upsert.UpsertConflicts) as caught:
        ledger_upsert(
            creditor=portfolio.creditor,
            portfolio=portfolio,
            frame=_frame(rows),
            actor=None,
            refuse_conflicts=True,
        )
    result = caught.value.result
    assert result.conflicts.select("row", "code").rows() == [(1, "paid_exceeds_due")]
    assert result.accounts_created == 2  # what it would have done
    assert _snapshot() == {"Debtor": [], "Contact": [], "Account": [], "ReceivableItem": []}
    assert AuditEvent.objects.count() == events


def test_progress_goes_step_by_step(portfolio):
    calls: list[tuple[str, int, int]] = []
    ledger_upsert(
        creditor=portfolio.creditor,
        portfolio=portfolio,
        frame=_frame(_schedule(portfolio)),
        actor=None,
        progress=lambda *call: calls.append(call),
    )
    assert [phase for phase, _done, _total in calls] == ["import"] * len(calls)
    assert [done for _phase, done, _total in calls] == list(range(1, len(calls) + 1))
    assert calls[-1][1] == calls[-1][2]


# --- a big first load on PostgreSQL: indexes rebuilt, not maintained -------------------------


def _schema() -> list[tuple[Any, ...]]:
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute(
            """SELECT c.relname, pg_get_indexdef(i.indexrelid) FROM pg_index i
               JOIN pg_class c ON c.oid = i.indrelid WHERE c.relname = ANY(%s)
               UNION ALL
               SELECT conrelid::regclass::text, pg_get_constraintdef(oid) FROM pg_constraint
               WHERE conrelid::regclass::text = ANY(%s) ORDER BY 1, 2""",
            [list(upsert.LEDGER_TABLES)] * 2,
        )
        return cursor.fetchall()


def _postgres_only() -> None:
    from django.db import connection

    if connection.vendor != "postgresql":
        pytest.skip("the bulk path is PostgreSQL's")


def test_a_big_first_load_drops_and_rebuilds_the_indexes(portfolio, monkeypatch):
    _postgres_only()
    schema = _schema()
    rows = _random_rows(portfolio, 20, seed=4)
    expected_counts = _import(portfolio, rows).counts()
    expected = _values()
    _clear()
    statements: list[str] = []
    original = upsert._Run._execute

    def watch(self: Any, sql: str, params: Any = None) -> int:
        statements.append(sql)
        return original(self, sql, params)

    monkeypatch.setattr(upsert.bulk, "BULK_MIN_ROWS", 1)
    monkeypatch.setattr(upsert._Run, "_execute", watch)
    assert _import(portfolio, rows).counts() == expected_counts
    assert any(s.startswith("LOCK TABLE") for s in statements)
    assert _values() == expected
    assert _schema() == schema
    # Fewer new accounts than the ledger holds: the next import keeps the indexes.
    statements.clear()
    more = [{**r, "contract_no": r["contract_no"] + "-2"} for r in rows[:10]]
    _import(portfolio, more)
    assert not any(s.startswith("LOCK TABLE") for s in statements)


def test_a_big_load_that_cannot_lock_keeps_the_indexes(portfolio, monkeypatch):
    _postgres_only()
    from django.db import OperationalError

    schema = _schema()
    original = upsert._Run._execute

    def busy(self: Any, sql: str, params: Any = None) -> int:
        if sql.startswith("LOCK TABLE"):
            raise OperationalError("canceling statement due to lock timeout")
        return original(self, sql, params)

    monkeypatch.setattr(upsert.bulk, "BULK_MIN_ROWS", 1)
    monkeypatch.setattr(upsert._Run, "_execute", busy)
    assert _import(portfolio, _random_rows(portfolio, 5, seed=2)).accounts_created == 5
    assert _schema() == schema
