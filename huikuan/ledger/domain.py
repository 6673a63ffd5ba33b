"""Ledger rules without the database: status transitions, allocation, aging.

Every function takes its as-of date explicitly; nothing here reads the clock.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from itertools import pairwise

from django.db import models
from django.utils.translation import gettext_lazy as _

ZERO = Decimal("0.00")


class AccountStatus(models.TextChoices):
    CURRENT = "current", _("Current")
    DELINQUENT = "delinquent", _("Delinquent")
    PROMISED = "promised", _("Promised")
    IN_PLAN = "in_plan", _("In payment plan")
    DISPUTED = "disputed", _("Disputed")
    LEGAL = "legal", _("Legal")
    PLACED = "placed", _("Placed with agency")
    SETTLED = "settled", _("Settled")
    PAID_OFF = "paid_off", _("Paid off")
    WRITTEN_OFF = "written_off", _("Written off")
    CLOSED = "closed", _("Closed")


S = AccountStatus
_WORKING = {S.DELINQUENT, S.PROMISED, S.IN_PLAN, S.DISPUTED, S.LEGAL, S.PLACED}

# Allowed moves. Payments, the daily cycle and people all go through this one table.
ACCOUNT_TRANSITIONS: dict[AccountStatus, frozenset[AccountStatus]] = {
    S.CURRENT: frozenset({S.DELINQUENT, S.DISPUTED, S.PAID_OFF, S.CLOSED}),
    S.DELINQUENT: frozenset(
        {
            S.CURRENT,
            S.PROMISED,
            S.IN_PLAN,
            S.DISPUTED,
            S.LEGAL,
            S.PLACED,
            S.SETTLED,
            S.PAID_OFF,
            S.WRITTEN_OFF,
        }
    ),
    S.PROMISED: frozenset(
        {S.CURRENT, S.DELINQUENT, S.IN_PLAN, S.DISPUTED, S.LEGAL, S.PLACED, S.SETTLED, S.PAID_OFF}
    ),
    S.IN_PLAN: frozenset({S.CURRENT, S.DELINQUENT, S.DISPUTED, S.SETTLED, S.PAID_OFF}),
    S.DISPUTED: frozenset(
        {S.CURRENT, S.DELINQUENT, S.LEGAL, S.SETTLED, S.PAID_OFF, S.WRITTEN_OFF, S.CLOSED}
    ),
    S.LEGAL: frozenset({S.DELINQUENT, S.IN_PLAN, S.SETTLED, S.PAID_OFF, S.WRITTEN_OFF}),
    S.PLACED: frozenset({S.DELINQUENT, S.LEGAL, S.SETTLED, S.PAID_OFF, S.WRITTEN_OFF}),
    # A settlement that is honoured closes; one that fails reopens the balance.
    S.SETTLED: frozenset({S.DELINQUENT, S.CLOSED}),
    # A reversed payment can reopen a paid-off account.
    S.PAID_OFF: frozenset({S.CURRENT, S.DELINQUENT, S.CLOSED}),
    S.WRITTEN_OFF: frozenset({S.CLOSED}),
    S.CLOSED: frozenset(),
}

# Statuses that balance changes may move between on their own (payments, reversals, the cycle).
AUTOMATIC_STATUSES = frozenset({S.CURRENT, S.DELINQUENT, S.PAID_OFF})


class IllegalTransition(Exception):
    def __init__(self, old: AccountStatus, new: AccountStatus) -> None:
        self.old, self.new = old, new
        targets = ACCOUNT_TRANSITIONS[old]
        allowed = ", ".join(str(s.label) for s in AccountStatus if s in targets) or _("none")
        super().__init__(
            _("An account that is “%(old)s” cannot become “%(new)s”; allowed: %(allowed)s.")
            % {"old": old.label, "new": new.label, "allowed": allowed}
        )


def check_transition(old: AccountStatus | str, new: AccountStatus | str) -> None:
    old, new = AccountStatus(old), AccountStatus(new)
    if new not in ACCOUNT_TRANSITIONS[old]:
        raise IllegalTransition(old, new)


def balance_status(
    current: AccountStatus | str, *, outstanding: Decimal, dpd: int
) -> AccountStatus:
    """The status a balance change implies, for accounts in an automatic status.

    Working statuses (promised, disputed, legal...) are left alone: people set and clear them.
    """
    current = AccountStatus(current)
    if current not in AUTOMATIC_STATUSES:
        return current
    if outstanding <= 0:
        return S.PAID_OFF
    return S.DELINQUENT if dpd > 0 else S.CURRENT


def balance_conflict(status: AccountStatus | str, *, outstanding: Decimal, dpd: int) -> str | None:
    """Why a balance forbids a status a person asks for, or None.

    The transition table says which moves exist; this says the books must agree with the move:
    nobody marks an account paid off while it still owes money.
    """
    status = AccountStatus(status)
    if status == S.PAID_OFF and outstanding > 0:
        return str(_("It still owes %(amount)s; it cannot be paid off.") % {"amount": outstanding})
    if status == S.CURRENT and dpd > 0:
        return str(_("It is %(dpd)s days past due; it cannot be current.") % {"dpd": dpd})
    if status == S.DELINQUENT and outstanding <= 0:
        return str(_("Nothing is owed; it cannot be delinquent."))
    return None


# --- items and aging ------------------------------------------------------------------------


class Component(models.TextChoices):
    FEE = "fee", _("Fee")
    INTEREST = "interest", _("Interest")
    PRINCIPAL = "principal", _("Principal")


class AllocationMode(models.TextChoices):
    # Item by item: clear the oldest item's components before touching the next (the default).
    BY_ITEM = "by_item", _("Oldest item first, component by component")
    # Component across items: all fees oldest first, then all interest, then principal.
    BY_COMPONENT = "by_component", _("Component by component across all items")


DEFAULT_ALLOCATION_ORDER = (Component.FEE, Component.INTEREST, Component.PRINCIPAL)
DEFAULT_BUCKET_BOUNDS = (0, 30, 90, 180)


@dataclass
class ItemBalance:
    """What the aging and allocation rules need to know about one receivable item."""

    key: int | str
    due_date: dt.date
    due: dict[Component, Decimal]
    paid: dict[Component, Decimal] = field(default_factory=dict)

    def open(self, component: Component) -> Decimal:
        return self.due.get(component, ZERO) - self.paid.get(component, ZERO)

    @property
    def outstanding(self) -> Decimal:
        return sum((self.open(c) for c in Component), ZERO)


def outstanding(items: Iterable[ItemBalance]) -> Decimal:
    return sum((i.outstanding for i in items), ZERO)


def overdue_amount(items: Iterable[ItemBalance], as_of: dt.date) -> Decimal:
    """What was due before ``as_of`` and is still unpaid (an item is late the day after)."""
    return sum((i.outstanding for i in items if i.due_date < as_of), ZERO)


def oldest_unpaid_due(items: Iterable[ItemBalance]) -> dt.date | None:
    dates = [i.due_date for i in items if i.outstanding > 0]
    return min(dates) if dates else None


def dpd_from(oldest_due: dt.date | None, as_of: dt.date) -> int:
    """Days past due: days since the oldest unpaid due date, never negative."""
    if oldest_due is None:
        return 0
    return max(0, (as_of - oldest_due).days)


def dpd(items: Sequence[ItemBalance], as_of: dt.date) -> int:
    return dpd_from(oldest_unpaid_due(items), as_of)


@dataclass(frozen=True)
class Bucket:
    index: int
    low: int  # smallest DPD in the bucket
    high: int | None  # largest DPD, None for the open-ended last bucket

    @property
    def code(self) -> str:
        if self.index == 0:
            return "current"
        return f"{self.low - 1}+" if self.high is None else f"{self.low}-{self.high}"

    @property
    def label(self) -> str:
        names = {0: _("Current"), 1: _("Early"), 2: _("Middle"), 3: _("Late"), 4: _("Near loss")}
        if self.index == 0:
            return str(names[0])
        span = f"{self.low - 1}+" if self.high is None else f"{self.low}–{self.high}"
        name = names.get(self.index)
        return f"{span} {name}" if name else span


def buckets(bounds: Sequence[int] = DEFAULT_BUCKET_BOUNDS) -> list[Bucket]:
    """Buckets from ascending bounds: [0, 30, 90, 180] → current, 1–30, 31–90, 91–180, 181+.

    Every DPD ≥ 0 lands in exactly one bucket: the first bound is the top of "current".
    """
    validate_bounds(bounds)
    result = [Bucket(0, 0, bounds[0])]
    for i in range(1, len(bounds)):
        result.append(Bucket(i, bounds[i - 1] + 1, bounds[i]))
    result.append(Bucket(len(bounds), bounds[-1] + 1, None))
    return result


def validate_bounds(bounds: Sequence[int]) -> None:
    if not bounds or bounds[0] != 0:
        raise ValueError(_("Aging bounds must start at 0 (the top of “current”)."))
    if any(b <= a for a, b in pairwise(bounds)):
        raise ValueError(_("Aging bounds must be strictly ascending."))


def bucket_for(days_past_due: int, bounds: Sequence[int] = DEFAULT_BUCKET_BOUNDS) -> Bucket:
    for bucket in buckets(bounds):
        if bucket.high is None or days_past_due <= bucket.high:
            return bucket
    raise AssertionError("unreachable: the last bucket is open-ended")


# --- allocation -----------------------------------------------------------------------------


@dataclass(frozen=True)
class AllocationLine:
    item_key: int | str
    component: Component
    amount: Decimal


def allocate(
    amount: Decimal,
    items: Sequence[ItemBalance],
    *,
    order: Sequence[Component] = DEFAULT_ALLOCATION_ORDER,
    mode: AllocationMode | str = AllocationMode.BY_ITEM,
) -> tuple[list[AllocationLine], Decimal]:
    """Spread a payment over open items, oldest due first; return the lines and what is left.

    The lines plus the unapplied remainder always add up to ``amount`` exactly.
    """
    if amount < 0:
        raise ValueError("a payment amount cannot be negative")
    ordered = sorted(items, key=lambda i: (i.due_date, str(i.key)))
    if AllocationMode(mode) == AllocationMode.BY_ITEM:
        slots = [(item, c) for item in ordered for c in order]
    else:
        slots = [(item, c) for c in order for item in ordered]
    left = amount
    lines = []
    for item, component in slots:
        if left <= 0:
            break
        take = min(left, item.open(component))
        if take > 0:
            lines.append(AllocationLine(item.key, component, take))
            left -= take
    return lines, left


def parse_order(values: Sequence[str]) -> tuple[Component, ...]:
    order = tuple(Component(v) for v in values)
    if sorted(order) != sorted(Component):
        raise ValueError(_("The allocation order must name fee, interest and principal once each."))
    return order
