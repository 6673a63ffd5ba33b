"""The demo portfolio: valid identifiers, consistent balances, the bucket spread, determinism."""

from __future__ import annotations

import datetime as dt
import hashlib
from collections import Counter, defaultdict
from decimal import Decimal
from io import StringIO

import numpy as np
import phonenumbers
import polars as pl
import pytest
from django.core.management import call_command
from django.db import connection
from django.db.models import Sum
from django.utils import translation

from huikuan.audit.models import AuditEvent
from huikuan.iam.models import Team
from huikuan.ledger import demo, domain, services
from huikuan.ledger.demo import DemoError, demo_frames, demo_generate
from huikuan.ledger.models import (
    Account,
    Allocation,
    Contact,
    Creditor,
    Debtor,
    Payment,
    Portfolio,
    ReceivableItem,
)
from huikuan.ledger.tests.factories import make_user
from huikuan.lib import ids

AS_OF = dt.date(2026, 11, 23)
N = 300
BALANCE_FIELDS = (
    "outstanding",
    "principal_outstanding",
    "interest_outstanding",
    "fee_outstanding",
    "oldest_unpaid_due",
    "overdue_principal",
    "overdue_interest",
    "overdue_fee",
    "overdue_as_of",
    "next_due_date",
)
PROVINCE = {code: province for code, province, *_rest in demo.REGIONS}
SHARES = {"current": 0.35, "1-30": 0.25, "31-90": 0.18, "91-180": 0.10, "180+": 0.12}


@pytest.fixture
def loaded(db):
    collectors = [make_user(None, username=f"c{i}").pk for i in range(3)]
    agency = Team.objects.create(name="委外", kind=Team.Kind.AGENCY)
    actor = make_user(None, username="loader")
    result = demo_generate(
        accounts=N, seed=7, as_of=AS_OF, actor=actor, collectors=collectors, agency_team=agency.pk
    )
    return {"result": result, "collectors": collectors, "agency": agency.pk, "actor": actor}


def _dpd(account: Account) -> int:
    return domain.dpd_from(account.oldest_unpaid_due, AS_OF)


# --- what the loader wrote ------------------------------------------------------------------


def test_counts_match_the_tables(loaded):
    result = loaded["result"]
    assert result.accounts == Account.objects.count() == N
    assert result.debtors == Debtor.objects.count() == N
    assert result.contacts == Contact.objects.count()
    assert result.items == ReceivableItem.objects.count()
    assert result.payments == Payment.objects.count() > 0
    assert result.allocations == Allocation.objects.count() > 0
    assert (result.creditors, result.portfolios) == (
        Creditor.objects.count(),
        Portfolio.objects.count(),
    )


def test_identifiers_phones_and_addresses_are_valid(loaded):
    for debtor in Debtor.objects.all():
        if debtor.kind == Debtor.Kind.INDIVIDUAL:
            assert ids.resident_id_error(debtor.id_number) is None, debtor.id_number
            assert (
                dt.date(1960, 1, 1)
                <= ids.resident_id_birth_date(debtor.id_number)
                <= dt.date(2002, 12, 31)
            )
            assert debtor.region == debtor.id_number[:6]
        else:
            assert ids.uscc_error(debtor.id_number, check_org_code=True) is None, debtor.id_number
            assert debtor.name.endswith("有限公司")
            assert debtor.region == debtor.id_number[2:8]
    for contact in Contact.objects.select_related("debtor"):
        number = phonenumbers.parse(contact.phone)
        assert contact.phone.startswith("+861") and phonenumbers.is_valid_number(number)
        if contact.relation == Contact.Relation.SELF:
            assert contact.address.startswith(PROVINCE[contact.debtor.region])
            assert contact.address.endswith(("号", "室"))
    relations = Counter(Contact.objects.values_list("relation", flat=True))
    assert relations["self"] == N
    assert N * 0.35 < sum(relations.values()) - N < N * 0.65
    assert Contact.objects.exclude(email="").exists()


def test_aggregates_equal_a_recomputation(loaded):
    before = {a["pk"]: a for a in Account.objects.values("pk", *BALANCE_FIELDS)}
    services.account_balances_refresh(account_ids=list(before))
    after = {a["pk"]: a for a in Account.objects.values("pk", *BALANCE_FIELDS)}
    assert before == after
    assert not Account.objects.exclude(unapplied=0).exists()


def test_status_follows_the_balance(loaded):
    for account in Account.objects.all():
        if account.outstanding == 0:
            assert account.status == Account.Status.PAID_OFF
            assert account.oldest_unpaid_due is None
        elif account.oldest_unpaid_due < AS_OF:
            assert account.status in (Account.Status.DELINQUENT, Account.Status.PLACED)
        else:
            assert account.status == Account.Status.CURRENT
        if account.status == Account.Status.PLACED:
            assert account.team_id == loaded["agency"] and _dpd(account) > 90
            assert account.collector_id is None
        elif account.status == Account.Status.DELINQUENT:
            assert account.collector_id in loaded["collectors"]
        else:
            assert account.collector_id is None and account.team_id is None
    load = Counter(
        Account.objects.filter(status="delinquent").values_list("collector_id", flat=True)
    )
    assert max(load.values()) - min(load.values()) <= 1  # round-robin


def test_bucket_spread_roughly_as_specified(loaded):
    found = Counter(domain.bucket_for(_dpd(a)).code for a in Account.objects.all())
    assert set(found) == set(SHARES)
    for code, share in SHARES.items():
        assert abs(found[code] / N - share) < 0.08, (code, found)


def test_allocations_are_consistent_with_items_and_payments(loaded):
    items = {i.pk: i for i in ReceivableItem.objects.all()}
    allocated = defaultdict(Decimal)
    for allocation in Allocation.objects.select_related("payment"):
        payment = allocation.payment
        assert allocation.effective_on == payment.received_on
        allocated[(allocation.item_id, allocation.component)] += allocation.amount
        item = items[allocation.item_id]
        assert item.account_id == payment.account_id
        # Oldest item first: everything due earlier on the account is paid in full.
        earlier = [
            i
            for i in items.values()
            if i.account_id == item.account_id
            and (i.due_date, i.number) < (item.due_date, item.number)
        ]
        assert all(
            i.principal_paid == i.principal_due
            and i.interest_paid == i.interest_due
            and i.fee_paid == i.fee_due
            for i in earlier
        )
        # Fee, then interest, then principal.
        if allocation.component != "fee":
            assert item.fee_paid == item.fee_due
        if allocation.component == "principal":
            assert item.interest_paid == item.interest_due
    for (item_id, component), amount in allocated.items():
        item = items[item_id]
        assert 0 < amount <= getattr(item, f"{component}_paid") <= getattr(item, f"{component}_due")
    for payment in Payment.objects.annotate(total=Sum("allocations__amount")):
        assert payment.total == payment.amount and payment.unapplied == 0
        assert AS_OF - dt.timedelta(days=60) <= payment.received_on <= AS_OF
        assert payment.method in ("bank", "alipay", "wechat") and payment.reference
        assert payment.created_by == loaded["actor"]
    with_payments = Payment.objects.values("account").distinct().count()
    assert 0.15 * N < with_payments < 0.35 * N


def test_items_follow_the_products(loaded):
    for account in Account.objects.prefetch_related("items"):
        items = list(account.items.all())
        assert account.open_date <= AS_OF and (AS_OF - account.open_date).days <= 3 * 366 + 31
        assert all(i.due_date > account.open_date for i in items)
        if account.product == Account.Product.TRADE:
            assert 1 <= len(items) <= 5 and account.debtor.kind == Debtor.Kind.ENTERPRISE
            assert all(i.interest_due == 0 == i.fee_due for i in items)
        else:
            assert 6 <= len(items) <= 36 and all(i.interest_due > 0 for i in items)
            assert all(i.fee_due == 0 or i.due_date < AS_OF for i in items)
        assert account.principal == sum(i.principal_due for i in items)


def test_one_audit_event(loaded):
    event = AuditEvent.objects.get(action="demo.generate")
    assert AuditEvent.objects.count() == 1
    assert (event.object_type, event.object_id, event.actor) == (
        "ledger.demo",
        "7",
        loaded["actor"],
    )
    assert event.changes["accounts"] == [None, N]
    assert event.changes["as_of"] == [None, AS_OF.isoformat()]


def test_a_second_run_is_refused_and_changes_nothing(loaded):
    before = (Account.objects.count(), ReceivableItem.objects.count(), AuditEvent.objects.count())
    with translation.override("en"), pytest.raises(DemoError, match="already loaded"):
        demo_generate(accounts=10, as_of=AS_OF)
    after = (Account.objects.count(), ReceivableItem.objects.count(), AuditEvent.objects.count())
    assert before == after


def test_clashing_contract_numbers_are_refused_and_nothing_is_loaded(db):
    first = demo_frames(accounts=5, seed=3, as_of=AS_OF)[0]["ledger_account"]["contract_no"][0]
    creditor = Creditor.objects.create(code="OTHER", name="其他银行")
    portfolio = Portfolio.objects.create(creditor=creditor, code="P", name="P")
    debtor = Debtor.objects.create(kind="individual", name="张三", id_number="110101198503010071")
    Account.objects.create(
        creditor=creditor,
        portfolio=portfolio,
        debtor=debtor,
        contract_no=first,
        product="loan",
        open_date=AS_OF,
    )
    with pytest.raises(DemoError, match=first):
        demo_generate(accounts=5, seed=3, as_of=AS_OF)
    assert Account.objects.count() == 1 and not Creditor.objects.filter(code="DEMO-BANK").exists()


def _schema() -> set[tuple[str, str]]:
    with connection.cursor() as cursor:
        cursor.execute(
            """SELECT conname, pg_get_constraintdef(oid) FROM pg_constraint
               WHERE conrelid::regclass::text LIKE 'ledger%%'
               UNION SELECT indexname, indexdef FROM pg_indexes WHERE tablename LIKE 'ledger%%'"""
        )
        return set(cursor.fetchall())


@pytest.mark.skipif(connection.vendor != "postgresql", reason="the bulk path is PostgreSQL's")
def test_bulk_load_rebuilds_every_index_and_constraint(db, monkeypatch):
    monkeypatch.setattr(demo, "BULK_MIN_ACCOUNTS", 100)
    before = _schema()
    demo_generate(accounts=N, seed=7, as_of=AS_OF)
    assert _schema() == before
    balances = {a["pk"]: a for a in Account.objects.values("pk", *BALANCE_FIELDS)}
    services.account_balances_refresh(account_ids=list(balances))
    assert balances == {a["pk"]: a for a in Account.objects.values("pk", *BALANCE_FIELDS)}
    account = Account.objects.order_by("pk").last()
    first = Account.objects.order_by("pk").first()
    assert account.pk - first.pk + 1 == N  # one block of ids, and the sequence moved past it
    assert (
        Account.objects.create(
            creditor=account.creditor,
            portfolio=account.portfolio,
            debtor=account.debtor,
            contract_no="AFTER-1",
            product="loan",
            open_date=AS_OF,
        ).pk
        == account.pk + 1
    )


# --- determinism ----------------------------------------------------------------------------


def _fingerprint() -> str:
    """A hash of the demo's content by natural keys: ids and timestamps left out."""
    rows = [
        *Account.objects.values_list(
            "creditor__code",
            "contract_no",
            "portfolio__code",
            "debtor__id_number",
            "debtor__name",
            "product",
            "principal",
            "open_date",
            "status",
            *BALANCE_FIELDS,
        ),
        *ReceivableItem.objects.values_list(
            "account__contract_no",
            "number",
            "kind",
            "due_date",
            "principal_due",
            "interest_due",
            "fee_due",
            "principal_paid",
            "interest_paid",
            "fee_paid",
        ),
        *Contact.objects.values_list(
            "debtor__id_number",
            "relation",
            "name",
            "phone",
            "email",
            "address",
            "verified",
            "do_not_contact",
        ),
        *Payment.objects.values_list(
            "account__contract_no", "reference", "amount", "received_on", "method"
        ),
        *Allocation.objects.values_list(
            "payment__reference", "item__number", "component", "amount", "effective_on"
        ),
    ]
    return hashlib.sha256(repr(sorted(map(repr, rows))).encode()).hexdigest()


def _remove_demo() -> None:
    Allocation.objects.all().delete()
    Payment.objects.all().delete()
    ReceivableItem.objects.all().delete()
    Account.objects.all().delete()
    Debtor.objects.all().delete()
    Portfolio.objects.all().delete()
    Creditor.objects.all().delete()


def test_the_same_seed_gives_the_same_portfolio(db):
    demo_generate(accounts=120, seed=11, as_of=AS_OF)
    first = _fingerprint()
    _remove_demo()
    demo_generate(accounts=120, seed=11, as_of=AS_OF)
    assert _fingerprint() == first
    _remove_demo()
    demo_generate(accounts=120, seed=12, as_of=AS_OF)
    assert _fingerprint() != first


def test_frames_are_a_pure_function_of_seed_and_size():
    one = demo_frames(accounts=500, seed=5, as_of=AS_OF)
    two = demo_frames(accounts=500, seed=5, as_of=AS_OF)
    assert all(one[0][t].equals(two[0][t]) for t in one[0])
    other = demo_frames(accounts=500, seed=6, as_of=AS_OF)
    assert not one[0]["ledger_debtor"].equals(other[0]["ledger_debtor"])


@pytest.mark.parametrize("accounts", [1, 2, 3, 7])
def test_tiny_portfolios_have_typed_empty_tables(accounts):
    frames = demo_frames(accounts=accounts, seed=2026, as_of=AS_OF)[0]
    assert frames["ledger_account"].height == accounts
    assert frames["ledger_allocation"].schema["amount"] == pl.Int64


def test_large_sample_spread_without_a_database():
    """Tighter shares on 20,000 accounts, generated without writing them."""
    frames = demo_frames(accounts=20_000, seed=1, as_of=AS_OF)[0]
    accounts = frames["ledger_account"]
    dpd = [domain.dpd_from(d, AS_OF) for d in accounts["oldest_unpaid_due"].to_list()]
    found = Counter(domain.bucket_for(d).code for d in dpd)
    for code, share in SHARES.items():
        assert abs(found[code] / len(dpd) - share) < 0.02, (code, found)
    paying = frames["ledger_payment"]["account_id"].n_unique() / accounts.height
    assert 0.22 < paying < 0.28
    terms = frames["ledger_receivableitem"].group_by("account_id").len()["len"]
    assert terms.min() == 1 and terms.max() == 36
    debtors = frames["ledger_debtor"]
    assert debtors["name"].n_unique() > 2_000  # surname + given names vary


# --- the command ----------------------------------------------------------------------------


def test_command_prints_the_counts(db):
    out = StringIO()
    call_command("demo", "--accounts", "40", "--seed", "3", "--as-of", "2026-11-23", stdout=out)
    assert "40" in out.getvalue() and Account.objects.count() == 40


def test_command_help_renders():
    from huikuan.ledger.management.commands.demo import Command

    assert "--accounts" in Command().create_parser("huikuan", "demo").format_help()


def test_command_reports_a_second_load_as_an_error(db):
    call_command("demo", "--accounts", "5", "--as-of", "2026-11-23", stdout=StringIO())
    from django.core.management.base import CommandError

    with translation.override("en"), pytest.raises(CommandError, match="already loaded"):
        call_command("demo", "--accounts", "5", stdout=StringIO())


def test_id_numbers_stay_unique_across_chunks(monkeypatch):
    # Debtors drawn 40 a chunk from a pool of 4,000 ID numbers: repeats across chunks are
    # certain, and each must be drawn again.
    monkeypatch.setattr(demo, "CHUNK", 40)
    draw = demo._Chunk._resident_ids
    pool: list[pl.Series] = []

    def from_a_small_pool(self, code, male):
        if not pool:
            pool.append(draw(self, np.repeat(code[:1], 4_000), np.ones(4_000, bool)).unique())
        return pool[0].sample(len(code), with_replacement=True, seed=int(self.rng.integers(1e9)))

    monkeypatch.setattr(demo._Chunk, "_resident_ids", from_a_small_pool)
    chunks = demo_frames(accounts=1_500, as_of=dt.date(2026, 11, 23), seed=7)
    debtors = pl.concat([chunk["ledger_debtor"] for chunk in chunks])
    assert debtors.height == 1_500
    assert debtors.select(pl.struct("kind", "id_number").is_unique().all()).item()


def test_seen_keys_find_what_was_added_in_any_run():
    seen = demo._SeenKeys()
    for start in range(0, 700, 100):
        seen.add(pl.Series(range(start, start + 100)).to_numpy() * 3)
    assert len(seen.runs) <= 4  # merged as they grow
    probe = pl.Series([0, 3, 1_797, 2_097, 1, 2_100]).to_numpy()
    assert seen.contains(probe).tolist() == [True, True, True, True, False, False]
