"""Ledger services against the real database: payments, reversals, statuses, validation."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest
from django.core.exceptions import ValidationError
from django.utils import translation
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from huikuan.audit.models import AuditEvent
from huikuan.ledger import services
from huikuan.ledger.domain import AccountStatus
from huikuan.ledger.models import Account, Allocation, Payment, ReceivableItem
from huikuan.ledger.tests.factories import installments, make_account, make_debtor, make_portfolio

pytestmark = pytest.mark.django_db
D = Decimal


@pytest.fixture(autouse=True)
def _english():
    # These tests match message words; the zh-Hans rendering is tested with the views.
    with translation.override("en"):
        yield


def _refresh(account: Account) -> Account:
    account.refresh_from_db()
    return account


def test_account_aggregates_follow_the_items():
    account = make_account(make_portfolio(), items=installments(dt.date(2026, 8, 10), 3))
    assert account.outstanding == D("3150.00")
    assert account.principal_outstanding == D("3000.00")
    assert account.interest_outstanding == D("150.00")
    assert account.oldest_unpaid_due == dt.date(2026, 8, 10)
    assert account.status == AccountStatus.DELINQUENT


def test_payment_allocates_fee_interest_principal_oldest_first(personas):
    account = make_account(make_portfolio(), items=installments(dt.date(2026, 8, 10), 3))
    payment = services.payment_post(
        account=account,
        amount=D("1100.00"),
        received_on=dt.date(2026, 11, 20),
        method="bank",
        actor=personas["finance"],
    )
    lines = list(
        payment.allocations.order_by("id").values_list("item__number", "component", "amount")
    )
    assert lines == [
        ("01", "interest", D("50.00")),
        ("01", "principal", D("1000.00")),
        ("02", "interest", D("50.00")),
    ]
    account = _refresh(account)
    assert account.outstanding == D("2050.00")
    assert account.oldest_unpaid_due == dt.date(2026, 9, 10)
    event = AuditEvent.objects.get(action="payment.post")
    assert event.actor == personas["finance"]
    assert event.changes["outstanding"] == ["3150.00", "2050.00"]


def test_overpayment_pays_off_and_keeps_the_excess_as_unapplied_credit(personas):
    account = make_account(make_portfolio(), items=installments(dt.date(2026, 8, 10), 1))
    payment = services.payment_post(
        account=account,
        amount=D("2000.00"),
        received_on=dt.date(2026, 11, 20),
        method="cash",
        actor=personas["finance"],
    )
    account = _refresh(account)
    assert payment.unapplied == D("950.00")
    assert account.unapplied == D("950.00")
    assert account.outstanding == D("0.00")
    assert account.status == AccountStatus.PAID_OFF


def test_reversal_restores_balance_and_reopens_a_paid_off_account(personas):
    account = make_account(make_portfolio(), items=installments(dt.date(2026, 8, 10), 2))
    payment = services.payment_post(
        account=account,
        amount=D("2200.00"),
        received_on=dt.date(2026, 11, 20),
        method="bank",
        actor=personas["finance"],
    )
    assert _refresh(account).status == AccountStatus.PAID_OFF
    reversal = services.payment_reverse(payment=payment, reason="退票", actor=personas["finance"])
    account = _refresh(account)
    assert reversal.amount == D("-2200.00")
    assert account.outstanding == D("2100.00")
    assert account.unapplied == D("0.00")
    assert account.status == AccountStatus.DELINQUENT
    # Nothing was edited: the original payment and its allocations are still there.
    assert Payment.objects.get(pk=payment.pk).amount == D("2200.00")
    assert Allocation.objects.filter(payment=payment).count() == 4
    assert (
        sum(Allocation.objects.filter(item__account=account).values_list("amount", flat=True)) == 0
    )


def test_a_payment_is_reversed_once_and_a_reversal_never(personas):
    account = make_account(make_portfolio())
    payment = services.payment_post(
        account=account,
        amount=D("10.00"),
        received_on=dt.date(2026, 11, 20),
        method="bank",
        actor=None,
    )
    reversal = services.payment_reverse(payment=payment, reason="错账", actor=None)
    with pytest.raises(ValidationError, match="already"):
        services.payment_reverse(payment=payment, reason="again", actor=None)
    with pytest.raises(ValidationError, match="reversal"):
        services.payment_reverse(payment=reversal, reason="again", actor=None)
    with pytest.raises(ValidationError):
        services.payment_reverse(payment=payment, reason="  ", actor=None)


def test_idempotency_key_replays_and_refuses_a_different_payment():
    account = make_account(make_portfolio())
    kwargs = dict(
        account=account,
        amount=D("100.00"),
        received_on=dt.date(2026, 11, 20),
        method="bank",
        actor=None,
        idempotency_key="bank-ref-1",
    )
    first = services.payment_post(**kwargs)
    again = services.payment_post(**kwargs)
    assert first.pk == again.pk
    assert Payment.objects.count() == 1
    with pytest.raises(services.IdempotencyConflict):
        services.payment_post(**{**kwargs, "amount": D("101.00")})


@pytest.mark.parametrize(
    ("amount", "received_on", "method", "field"),
    [
        (D("0"), dt.date(2026, 11, 1), "bank", "amount"),
        (D("-5"), dt.date(2026, 11, 1), "bank", "amount"),
        (D("1.005"), dt.date(2026, 11, 1), "bank", "amount"),
        (D("5"), dt.date(2099, 1, 1), "bank", "received_on"),
        (D("5"), dt.date(2026, 11, 1), "barter", "method"),
    ],
)
def test_bad_payments_are_refused_naming_the_field_and_change_nothing(
    amount, received_on, method, field
):
    account = make_account(make_portfolio())
    events = AuditEvent.objects.count()
    with pytest.raises(ValidationError) as err:
        services.payment_post(
            account=account, amount=amount, received_on=received_on, method=method, actor=None
        )
    assert field in err.value.message_dict
    assert Payment.objects.count() == 0
    assert AuditEvent.objects.count() == events
    assert _refresh(account).outstanding == D("3150.00")


def test_closed_accounts_take_no_payments():
    account = make_account(make_portfolio(), items=[])
    services.account_status_change(account=account, status="closed", reason="结清销户", actor=None)
    with pytest.raises(ValidationError, match="closed"):
        services.payment_post(
            account=account,
            amount=D("1"),
            received_on=dt.date(2026, 11, 1),
            method="bank",
            actor=None,
        )


def test_status_change_is_checked_and_audited(personas):
    account = make_account(make_portfolio())
    with pytest.raises(ValidationError) as err:
        services.account_status_change(
            account=account, status="closed", reason="x", actor=personas["manager"]
        )
    assert "cannot become" in err.value.message_dict["status"][0]
    services.account_status_change(
        account=account, status="legal", reason="起诉", actor=personas["manager"]
    )
    assert _refresh(account).status == AccountStatus.LEGAL
    event = AuditEvent.objects.filter(action="account.status").latest("id")
    assert event.changes == {"status": ["delinquent", "legal"]}
    assert event.reason == "起诉"


def test_status_change_must_agree_with_the_balance():
    account = make_account(make_portfolio())  # 3,150.00 owed, months late
    for status, words in (("paid_off", "still owes"), ("current", "days past due")):
        with pytest.raises(ValidationError, match=words):
            services.account_status_change(account=account, status=status, reason="x", actor=None)
    assert _refresh(account).status == AccountStatus.DELINQUENT


def test_debtor_id_numbers_are_checked():
    good = make_debtor()
    bad = good.id_number[:-1] + ("0" if good.id_number[-1] != "0" else "1")
    with pytest.raises(ValidationError) as err:
        services.debtor_create(kind="individual", name="李四", id_number=bad, actor=None)
    assert "id_number" in err.value.message_dict
    with pytest.raises(ValidationError):
        services.debtor_create(
            kind="enterprise", name="某公司", id_number="91350100M000100Y40", actor=None
        )
    company = make_debtor(kind="enterprise", name="厦门某某贸易有限公司")
    assert company.region == company.id_number[2:8]


def test_contact_phone_is_validated_and_stored_in_e164():
    debtor = make_debtor()
    contact = services.contact_create(
        debtor=debtor, relation="self", phone="138 0013 8000", actor=None
    )
    assert contact.phone == "+8613800138000"
    with pytest.raises(ValidationError) as err:
        services.contact_create(debtor=debtor, relation="self", phone="12345", actor=None)
    assert "phone" in err.value.message_dict
    with pytest.raises(ValidationError):
        services.contact_create(debtor=debtor, relation="cousin", phone="13800138000", actor=None)


def test_contract_number_is_unique_per_creditor():
    portfolio = make_portfolio()
    make_account(portfolio, contract_no="HT-1")
    with pytest.raises(ValidationError, match="HT-1"):
        make_account(portfolio, contract_no="HT-1")
    make_account(make_portfolio(), contract_no="HT-1")  # another creditor may reuse it
    assert Account.objects.filter(contract_no="HT-1").count() == 2


payments = st.lists(
    st.integers(min_value=1, max_value=400_000).map(lambda n: D(n) / 100), min_size=1, max_size=5
)


@settings(
    max_examples=15,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(amounts=payments, mode=st.sampled_from(["by_item", "by_component"]))
def test_posting_then_reversing_everything_returns_to_the_start(db, amounts, mode):
    account = make_account(make_portfolio(allocation_mode=mode))
    start = (account.outstanding, account.oldest_unpaid_due)
    posted = [
        services.payment_post(
            account=account, amount=a, received_on=dt.date(2026, 11, 1), method="bank", actor=None
        )
        for a in amounts
    ]
    account = _refresh(account)
    applied = sum(amounts) - account.unapplied
    assert account.outstanding == start[0] - applied
    for payment in posted:
        services.payment_reverse(payment=payment, reason="test", actor=None)
    account = _refresh(account)
    assert (account.outstanding, account.oldest_unpaid_due) == start
    assert account.unapplied == 0
    paid = ReceivableItem.objects.filter(account=account).values_list(
        "principal_paid", "interest_paid", "fee_paid"
    )
    assert all(v == 0 for row in paid for v in row)


@pytest.mark.parametrize("currency", ["XXX", "KWD", "cny"])
def test_unsupported_currencies_are_refused(currency):
    with pytest.raises(ValidationError) as err:
        make_portfolio(currency=currency)
    assert "currency" in err.value.message_dict


def test_a_reversal_cannot_predate_its_payment_or_be_in_the_future():
    account = make_account(make_portfolio())
    payment = services.payment_post(
        account=account,
        amount=D("10.00"),
        received_on=dt.date(2026, 11, 20),
        method="bank",
        actor=None,
    )
    for day in (dt.date(2026, 11, 19), dt.date(2026, 12, 1)):
        with pytest.raises(ValidationError) as err:
            services.payment_reverse(payment=payment, reason="x", actor=None, reversed_on=day)
        assert "reversed_on" in err.value.message_dict
    assert not Payment.objects.filter(reversal_of=payment).exists()
