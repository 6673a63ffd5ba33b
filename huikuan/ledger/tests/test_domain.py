"""The ledger's rules without a database: allocation, aging, buckets, transitions."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from huikuan.ledger import domain
from huikuan.ledger.domain import AccountStatus as S
from huikuan.ledger.domain import AllocationMode, Component, ItemBalance

cents = st.integers(min_value=0, max_value=10_000_000).map(lambda n: Decimal(n) / 100)
days = st.dates(min_value=dt.date(2020, 1, 1), max_value=dt.date(2030, 12, 31))


@st.composite
def item_lists(draw: st.DrawFn) -> list[ItemBalance]:
    count = draw(st.integers(min_value=0, max_value=8))
    items = []
    for n in range(count):
        due = {c: draw(cents) for c in Component}
        paid = {c: min(due[c], draw(cents)) for c in Component}
        items.append(ItemBalance(key=n, due_date=draw(days), due=due, paid=paid))
    return items


orders = st.permutations(list(Component))
modes = st.sampled_from(list(AllocationMode))


@given(items=item_lists(), amount=cents, order=orders, mode=modes)
def test_allocation_never_creates_or_loses_a_cent(items, amount, order, mode):
    lines, left = domain.allocate(amount, items, order=order, mode=mode)
    assert sum((ln.amount for ln in lines), Decimal(0)) + left == amount
    assert left >= 0
    assert all(ln.amount > 0 for ln in lines)


@given(items=item_lists(), amount=cents, order=orders, mode=modes)
def test_allocation_never_overpays_a_component(items, amount, order, mode):
    lines, left = domain.allocate(amount, items, order=order, mode=mode)
    by_key = {i.key: i for i in items}
    applied: dict[tuple[object, Component], Decimal] = {}
    for ln in lines:
        applied[(ln.item_key, ln.component)] = (
            applied.get((ln.item_key, ln.component), 0) + ln.amount
        )
    for (key, comp), total in applied.items():
        assert total <= by_key[key].open(comp)
    # Money is left over only when every item is fully paid.
    if left > 0:
        assert sum(applied.values(), Decimal(0)) == domain.outstanding(items)


@given(items=item_lists(), start=days, steps=st.lists(st.integers(0, 400), max_size=6))
def test_dpd_never_falls_as_the_date_advances_while_nothing_is_paid(items, start, steps):
    as_of, previous = start, domain.dpd(items, start)
    for step in steps:
        as_of += dt.timedelta(days=step)
        current = domain.dpd(items, as_of)
        assert current >= previous
        previous = current


@given(
    dpd=st.integers(min_value=0, max_value=5000),
    bounds=st.lists(st.integers(1, 2000), min_size=0, max_size=6, unique=True).map(
        lambda b: [0, *sorted(b)]
    ),
)
def test_every_dpd_lands_in_exactly_one_bucket(dpd, bounds):
    matches = [
        b for b in domain.buckets(bounds) if b.low <= dpd and (b.high is None or dpd <= b.high)
    ]
    assert len(matches) == 1
    assert domain.bucket_for(dpd, bounds) == matches[0]


def test_default_buckets_are_the_design_ones():
    codes = [b.code for b in domain.buckets()]
    assert codes == ["current", "1-30", "31-90", "91-180", "180+"]
    assert domain.bucket_for(0).code == "current"
    assert domain.bucket_for(1).code == "1-30"
    assert domain.bucket_for(30).code == "1-30"
    assert domain.bucket_for(31).code == "31-90"
    assert domain.bucket_for(180).code == "91-180"
    assert domain.bucket_for(181).code == "180+"


@pytest.mark.parametrize("bounds", [[], [5, 30], [0, 30, 30], [0, 90, 30]])
def test_bad_bounds_are_refused(bounds):
    with pytest.raises(ValueError):
        domain.buckets(bounds)


def _item(key, due, principal="100.00", interest="10.00", fee="5.00", paid=None):
    amounts = {
        Component.PRINCIPAL: Decimal(principal),
        Component.INTEREST: Decimal(interest),
        Component.FEE: Decimal(fee),
    }
    return ItemBalance(key=key, due_date=due, due=amounts, paid=paid or {})


def test_dpd_counts_from_the_oldest_unpaid_due_date():
    items = [
        _item(
            1,
            dt.date(2026, 9, 1),
            paid={
                Component.PRINCIPAL: Decimal("100.00"),
                Component.INTEREST: Decimal("10.00"),
                Component.FEE: Decimal("5.00"),
            },
        ),
        _item(2, dt.date(2026, 10, 1)),
        _item(3, dt.date(2026, 11, 1)),
    ]
    assert domain.oldest_unpaid_due(items) == dt.date(2026, 10, 1)
    assert domain.dpd(items, dt.date(2026, 10, 1)) == 0  # due today is not late yet
    assert domain.dpd(items, dt.date(2026, 10, 2)) == 1
    assert domain.dpd(items, dt.date(2026, 11, 23)) == 53
    assert domain.outstanding(items) == Decimal("230.00")
    assert domain.overdue_amount(items, dt.date(2026, 10, 15)) == Decimal("115.00")


def test_by_item_clears_the_oldest_item_fee_interest_principal_first():
    items = [_item("b", dt.date(2026, 2, 1)), _item("a", dt.date(2026, 1, 1))]
    lines, left = domain.allocate(Decimal("120.00"), items)
    assert [(ln.item_key, ln.component, ln.amount) for ln in lines] == [
        ("a", Component.FEE, Decimal("5.00")),
        ("a", Component.INTEREST, Decimal("10.00")),
        ("a", Component.PRINCIPAL, Decimal("100.00")),
        ("b", Component.FEE, Decimal("5.00")),
    ]
    assert left == 0


def test_by_component_takes_every_fee_before_any_interest():
    items = [_item("a", dt.date(2026, 1, 1)), _item("b", dt.date(2026, 2, 1))]
    lines, _left = domain.allocate(Decimal("12.00"), items, mode=AllocationMode.BY_COMPONENT)
    assert [(ln.item_key, ln.component, ln.amount) for ln in lines] == [
        ("a", Component.FEE, Decimal("5.00")),
        ("b", Component.FEE, Decimal("5.00")),
        ("a", Component.INTEREST, Decimal("2.00")),
    ]


def test_overpayment_is_left_unapplied():
    lines, left = domain.allocate(Decimal("200.00"), [_item(1, dt.date(2026, 1, 1))])
    assert sum(ln.amount for ln in lines) == Decimal("115.00")
    assert left == Decimal("85.00")


def test_negative_payment_is_refused():
    with pytest.raises(ValueError):
        domain.allocate(Decimal("-1"), [])


@pytest.mark.parametrize(
    ("old", "new"),
    [
        (S.CLOSED, S.DELINQUENT),
        (S.WRITTEN_OFF, S.CURRENT),
        (S.CURRENT, S.LEGAL),
        (S.SETTLED, S.PAID_OFF),
    ],
)
def test_illegal_transitions_are_refused_with_a_reason(old, new):
    with pytest.raises(domain.IllegalTransition) as err:
        domain.check_transition(old, new)
    assert err.value.old == old and err.value.new == new


def test_every_status_has_a_row_and_targets_are_statuses():
    assert set(domain.ACCOUNT_TRANSITIONS) == set(S)
    for old, targets in domain.ACCOUNT_TRANSITIONS.items():
        assert old not in targets
        for new in targets:
            domain.check_transition(old, new)


@pytest.mark.parametrize(
    ("status", "outstanding", "dpd", "expected"),
    [
        (S.DELINQUENT, Decimal("0"), 5, S.PAID_OFF),
        (S.PAID_OFF, Decimal("10"), 3, S.DELINQUENT),
        (S.PAID_OFF, Decimal("10"), 0, S.CURRENT),
        (S.CURRENT, Decimal("10"), 1, S.DELINQUENT),
        (S.LEGAL, Decimal("0"), 0, S.LEGAL),  # people close working statuses, not balances
    ],
)
def test_balance_status(status, outstanding, dpd, expected):
    assert domain.balance_status(status, outstanding=outstanding, dpd=dpd) == expected
