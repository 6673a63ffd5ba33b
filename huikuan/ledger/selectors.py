"""Reads of the ledger, always through the caller's data scope.

The scope is decided here and only here: views, the API and exports call ``accounts_visible_to``
or one of the ``access_*`` helpers and never filter by role themselves.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

import polars as pl
from django.db.models import F, OrderBy, Q, QuerySet
from django.http import Http404

from huikuan.iam.roles import VIEW_ALL
from huikuan.ledger import domain
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


def account_scope(user: Any) -> Q | None:
    """The filter for the accounts ``user`` may read; None means all of them."""
    if not getattr(user, "is_authenticated", False) or not user.is_active:
        return Q(pk__in=[])
    if user.is_superuser or user.has_perm(VIEW_ALL):
        return None
    led = user.led_teams.all()
    return (
        Q(collector=user)
        | Q(team__in=led)
        | Q(collector__teams__in=led)
        # Agency users see what is placed with the agency teams they belong to.
        | Q(team__kind="agency", team__members=user)
    )


def accounts_visible_to(user: Any) -> QuerySet[Account]:
    scope = account_scope(user)
    accounts = Account.objects.all()
    if scope is None:
        return accounts
    # The joins through teams can repeat an account; ids in a subquery keep it unique.
    return accounts.filter(pk__in=Account.objects.filter(scope).values("pk"))


def access_account(user: Any, pk: int) -> Account:
    """The account, or 404 whether it does not exist or is out of scope (no leak either way)."""
    account = (
        accounts_visible_to(user)
        .select_related("creditor", "portfolio", "debtor", "collector", "team")
        .filter(pk=pk)
        .first()
    )
    if account is None:
        raise Http404
    return account


def access_payment(user: Any, pk: int) -> Payment:
    payment = Payment.objects.filter(pk=pk, account__in=accounts_visible_to(user)).first()
    if payment is None:
        raise Http404
    return payment


def debtors_visible_to(user: Any) -> QuerySet[Debtor]:
    if account_scope(user) is None:
        return Debtor.objects.all()
    return Debtor.objects.filter(accounts__in=accounts_visible_to(user)).distinct()


def access_debtor(user: Any, pk: int) -> Debtor:
    debtor = debtors_visible_to(user).filter(pk=pk).first()
    if debtor is None:
        raise Http404
    return debtor


def contacts_visible_to(user: Any) -> QuerySet[Contact]:
    return Contact.objects.filter(debtor__in=debtors_visible_to(user))


def items_visible_to(user: Any) -> QuerySet[ReceivableItem]:
    return ReceivableItem.objects.filter(account__in=accounts_visible_to(user))


def payments_visible_to(user: Any) -> QuerySet[Payment]:
    return Payment.objects.filter(account__in=accounts_visible_to(user))


def creditors_visible_to(user: Any) -> QuerySet[Creditor]:
    if account_scope(user) is None and user.is_authenticated:
        return Creditor.objects.all()
    return Creditor.objects.filter(accounts__in=accounts_visible_to(user)).distinct()


def portfolios_visible_to(user: Any) -> QuerySet[Portfolio]:
    if account_scope(user) is None and user.is_authenticated:
        return Portfolio.objects.select_related("creditor")
    return (
        Portfolio.objects.filter(accounts__in=accounts_visible_to(user))
        .select_related("creditor")
        .distinct()
    )


# --- the ledger list ------------------------------------------------------------------------


@dataclass(frozen=True)
class LedgerFilter:
    portfolio: int | None = None
    status: str = ""
    bucket: str = ""
    dpd_min: int | None = None
    dpd_max: int | None = None
    amount_min: Decimal | None = None
    amount_max: Decimal | None = None
    text: str = ""
    sort: str = "-dpd"


# sort key → (field, whether the field runs opposite to the key). DPD grows as the oldest
# unpaid due date gets older, so sorting by DPD is sorting that date the other way.
SORTS = {
    "dpd": ("oldest_unpaid_due", True),
    "outstanding": ("outstanding", False),
    "contract": ("contract_no", False),
    "debtor": ("debtor__name", False),
    "status": ("status", False),
}


def _ordering(sort: str) -> OrderBy:
    field, inverted = SORTS.get(sort.lstrip("-"), SORTS["dpd"])
    descending = sort.startswith("-") != inverted
    # A missing oldest unpaid date means DPD 0, i.e. the latest date: the same on every database.
    return F(field).desc(nulls_first=True) if descending else F(field).asc(nulls_last=True)


def _dpd_range(as_of: dt.date, low: int | None, high: int | None) -> Q:
    """DPD in [low, high] as a condition on the stored oldest unpaid due date (index-friendly).

    An account with nothing unpaid (no oldest date) or nothing late yet has DPD 0.
    """
    q = Q()
    if low is not None and low > 0:
        q &= Q(oldest_unpaid_due__lte=as_of - dt.timedelta(days=low))
    if high is not None:
        if high < 0:
            return Q(pk__in=[])
        q &= Q(oldest_unpaid_due__isnull=True) | Q(
            oldest_unpaid_due__gte=as_of - dt.timedelta(days=high)
        )
    return q


def _text_match(text: str) -> Q:
    q = Q(contract_no__icontains=text) | Q(debtor__name__icontains=text)
    q |= Q(debtor__id_number=text.upper())
    digits = "".join(ch for ch in text if ch.isdigit())
    if len(digits) >= 7:
        # Phones are stored as E.164, which ends with the national digits however typed.
        q |= Q(debtor__contacts__phone__endswith=digits)
    return q


def ledger_accounts(user: Any, flt: LedgerFilter, *, as_of: dt.date) -> QuerySet[Account]:
    qs = accounts_visible_to(user).select_related("debtor", "portfolio", "collector")
    if flt.portfolio:
        qs = qs.filter(portfolio_id=flt.portfolio)
    if flt.status:
        qs = qs.filter(status=flt.status)
    if flt.bucket:
        qs = _filter_bucket(qs, flt.bucket, as_of)
    if flt.dpd_min is not None or flt.dpd_max is not None:
        qs = qs.filter(_dpd_range(as_of, flt.dpd_min, flt.dpd_max))
    if flt.amount_min is not None:
        qs = qs.filter(outstanding__gte=flt.amount_min)
    if flt.amount_max is not None:
        qs = qs.filter(outstanding__lte=flt.amount_max)
    if flt.text.strip():
        matches = Account.objects.filter(_text_match(flt.text.strip())).values("pk")
        qs = qs.filter(pk__in=matches)
    return qs.order_by(_ordering(flt.sort), "pk")


def _filter_bucket(qs: QuerySet[Account], code: str, as_of: dt.date) -> QuerySet[Account]:
    """Bucket codes are per portfolio bounds, so match each portfolio's own range."""
    q = Q(pk__in=[])
    for portfolio in Portfolio.objects.only("pk", "bucket_bounds"):
        for bucket in domain.buckets(portfolio.bucket_bounds):
            if bucket.code == code:
                q |= Q(portfolio=portfolio) & _dpd_range(as_of, bucket.low, bucket.high)
    return qs.filter(q)


def bucket_codes() -> list[tuple[str, str]]:
    """Every bucket code any portfolio uses, with its label, in DPD order."""
    seen: dict[str, domain.Bucket] = {}
    bounds_list = {tuple(p.bucket_bounds) for p in Portfolio.objects.only("bucket_bounds")}
    for bounds in bounds_list or {domain.DEFAULT_BUCKET_BOUNDS}:
        for bucket in domain.buckets(bounds):
            seen.setdefault(bucket.code, bucket)
    return [(b.code, b.label) for b in sorted(seen.values(), key=lambda b: b.low)]


# --- the account page -----------------------------------------------------------------------


def item_balances(account: Account) -> list[domain.ItemBalance]:
    comps = domain.Component
    return [
        domain.ItemBalance(
            key=i.pk,
            due_date=i.due_date,
            due={comps(c): getattr(i, f"{c}_due") for c in comps.values},
            paid={comps(c): getattr(i, f"{c}_paid") for c in comps.values},
        )
        for i in account.items.all()
    ]


@dataclass(frozen=True)
class AccountPosition:
    as_of: dt.date
    outstanding: Decimal
    overdue: Decimal
    dpd: int
    bucket: domain.Bucket


def account_position(account: Account, as_of: dt.date) -> AccountPosition:
    items = item_balances(account)
    days = domain.dpd(items, as_of)
    return AccountPosition(
        as_of=as_of,
        outstanding=domain.outstanding(items),
        overdue=domain.overdue_amount(items, as_of),
        dpd=days,
        bucket=domain.bucket_for(days, account.portfolio.bucket_bounds),
    )


# --- aging summary --------------------------------------------------------------------------


@dataclass(frozen=True)
class AgingRow:
    portfolio_id: int
    portfolio: str
    currency: str
    bucket: domain.Bucket
    count: int
    amount: Decimal


def aging_summary(user: Any, *, as_of: dt.date, portfolio: int | None = None) -> list[AgingRow]:
    """Count and outstanding per bucket per portfolio, as the ledger stood on ``as_of``.

    Balances are rebuilt for that date: allocations effective after it are added back, accounts
    opened after it are left out. One query per table, computed in Polars.
    """
    accounts = accounts_visible_to(user).filter(open_date__lte=as_of)
    if portfolio:
        accounts = accounts.filter(portfolio_id=portfolio)
    later = Allocation.objects.filter(effective_on__gt=as_of, item__account__in=accounts)
    if later.exists():
        per_account = _aging_rebuilt(accounts, as_of)
    else:
        per_account = _aging_from_aggregates(accounts)
    return _bucket_rows(per_account, as_of)


def _aging_from_aggregates(accounts: QuerySet[Account]) -> pl.DataFrame:
    rows = accounts.values_list("portfolio_id", "outstanding", "oldest_unpaid_due")
    return pl.DataFrame(
        list(rows),
        schema={"portfolio_id": pl.Int64, "outstanding": pl.Decimal(20, 2), "oldest": pl.Date},
        orient="row",
    )


def _aging_rebuilt(accounts: QuerySet[Account], as_of: dt.date) -> pl.DataFrame:
    items = ReceivableItem.objects.filter(account__in=accounts).values_list(
        "pk",
        "account_id",
        "account__portfolio_id",
        "due_date",
        "principal_due",
        "interest_due",
        "fee_due",
        "principal_paid",
        "interest_paid",
        "fee_paid",
    )
    schema: dict[str, pl.DataType] = {
        "item": pl.Int64(),
        "account": pl.Int64(),
        "portfolio_id": pl.Int64(),
        "due": pl.Date(),
    }
    money_cols = ["pd", "id", "fd", "pp", "ip", "fp"]
    schema |= {c: pl.Decimal(20, 2) for c in money_cols}
    frame = pl.DataFrame(list(items), schema=schema, orient="row")
    later = Allocation.objects.filter(
        effective_on__gt=as_of, item__account__in=accounts
    ).values_list("item_id", "amount")
    added_back = (
        pl.DataFrame(
            list(later), schema={"item": pl.Int64, "back": pl.Decimal(20, 2)}, orient="row"
        )
        .group_by("item")
        .agg(pl.col("back").sum())
    )
    frame = frame.join(added_back, on="item", how="left").with_columns(
        open=(
            pl.col("pd")
            + pl.col("id")
            + pl.col("fd")
            - pl.col("pp")
            - pl.col("ip")
            - pl.col("fp")
            + pl.col("back").fill_null(0)
        )
    )
    return (
        frame.group_by("account", "portfolio_id")
        .agg(
            outstanding=pl.col("open").sum(),
            oldest=pl.col("due").filter(pl.col("open") > 0).min(),
        )
        .select("portfolio_id", "outstanding", "oldest")
    )


def _bucket_rows(per_account: pl.DataFrame, as_of: dt.date) -> list[AgingRow]:
    portfolios = {p.pk: p for p in Portfolio.objects.all()}
    # Paid-off, settled and written-off balances of zero are not aged.
    per_account = per_account.filter(pl.col("outstanding") > 0).with_columns(
        dpd=pl.when(pl.col("oldest").is_null())
        .then(0)
        .otherwise((pl.lit(as_of) - pl.col("oldest")).dt.total_days().clip(lower_bound=0))
    )
    rows = []
    for (pid,), frame in sorted(per_account.partition_by("portfolio_id", as_dict=True).items()):
        portfolio = portfolios[int(pid)]
        for bucket in domain.buckets(portfolio.bucket_bounds):
            upper = bucket.high if bucket.high is not None else 10**9
            part = frame.filter(pl.col("dpd").is_between(bucket.low, upper))
            total = part["outstanding"].sum() if part.height else Decimal("0.00")
            rows.append(
                AgingRow(
                    int(pid),
                    portfolio.name,
                    portfolio.currency,
                    bucket,
                    part.height,
                    Decimal(total or 0).quantize(Decimal("0.01")),
                )
            )
    return rows
