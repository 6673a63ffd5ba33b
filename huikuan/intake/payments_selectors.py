"""Reads of a payments import: its job and lines, the accounts lines can go to, in columns for
matching and as rows for the review screen.

Who may: a payments job is reached through ``intake.selectors.access_job`` (the kinds a person
may import), and accounts through ``ledger.selectors.accounts_visible_to`` (the data scope), so
this module never decides a scope of its own.
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

import polars as pl
from django.db.models import Count, DecimalField, F, OuterRef, Q, QuerySet, Subquery, Sum, Value
from django.db.models.functions import Coalesce
from django.http import Http404

from huikuan.intake import selectors as job_selectors
from huikuan.intake.models import ImportJob, StatementLine
from huikuan.ledger.domain import AccountStatus
from huikuan.ledger.models import Account, Payment, Portfolio, ReceivableItem
from huikuan.ledger.selectors import accounts_visible_to
from huikuan.ledger.services import portfolio_today

MONEY: DecimalField = DecimalField(max_digits=20, decimal_places=2)
ZERO = Decimal("0.00")
# Lines a person may still decide: pick an account for, or skip.
OPEN = (
    StatementLine.Status.MATCHED,
    StatementLine.Status.AMBIGUOUS,
    StatementLine.Status.UNMATCHED,
)
# The order the review screen lists the groups in: what needs a person first.
STATUS_ORDER = (
    StatementLine.Status.AMBIGUOUS,
    StatementLine.Status.UNMATCHED,
    StatementLine.Status.MATCHED,
    StatementLine.Status.POSTED,
    StatementLine.Status.DUPLICATE,
    StatementLine.Status.SKIPPED,
    StatementLine.Status.IGNORED,
)
_KEY_BATCH = 900  # keys per IN (...) query: below SQLite's oldest limit of 999 parameters


# --- the job and its lines ------------------------------------------------------------------


def access_payments_job(user: Any, job_id: int) -> ImportJob:
    """A payments job the user may see, or 404 (missing, out of reach or another kind)."""
    job = job_selectors.access_job(user, job_id)
    if job.kind != ImportJob.Kind.PAYMENTS:
        raise Http404
    return job


def job_lines(job: ImportJob, status: str | None = None) -> QuerySet[StatementLine]:
    lines = StatementLine.objects.filter(job=job).select_related(
        "account", "account__debtor", "payment", "decided_by"
    )
    if status:
        lines = lines.filter(status=status)
    return lines.order_by("line_no", "pk")


def access_line(job: ImportJob, line_id: int) -> StatementLine:
    line = job_lines(job).filter(pk=line_id).first()
    if line is None:
        raise Http404
    return line


def line_counts(job: ImportJob) -> dict[str, int]:
    """Lines per status, every status present (0 when none), in one query."""
    found = dict(
        StatementLine.objects.filter(job=job)
        .order_by()
        .values_list("status")
        .annotate(n=Count("pk"))
        .values_list("status", "n")
    )
    return {status: int(found.get(status, 0)) for status in STATUS_ORDER}


def payments_by_key(keys: Iterable[str]) -> dict[str, tuple[int, int]]:
    """Idempotency key → (payment id, account id) of the payments already posted with them."""
    unique = sorted(set(keys))
    found: dict[str, tuple[int, int]] = {}
    for start in range(0, len(unique), _KEY_BATCH):
        batch = unique[start : start + _KEY_BATCH]
        rows = Payment.objects.filter(idempotency_key__in=batch).values_list(
            "idempotency_key", "pk", "account_id"
        )
        found.update({key: (pk, account) for key, pk, account in rows if key})
    return found


# --- accounts a line can go to --------------------------------------------------------------


def creditor_accounts(job: ImportJob) -> QuerySet[Account]:
    """The accounts of the job's creditor (and portfolio, when it names one) that can take a
    payment: a closed account refuses them."""
    accounts = Account.objects.filter(creditor_id=job.creditor_id).exclude(
        status=AccountStatus.CLOSED
    )
    if job.portfolio_id:
        accounts = accounts.filter(portfolio_id=job.portfolio_id)
    return accounts


def assignable_accounts(user: Any, job: ImportJob) -> QuerySet[Account]:
    """What a person may pick for a line: the creditor's open accounts within their scope."""
    return creditor_accounts(job).filter(pk__in=accounts_visible_to(user).values("pk"))


def _open_item() -> Any:
    return sum(
        (F(f"{c}_due") - F(f"{c}_paid") for c in ("principal", "interest", "fee")), Value(ZERO)
    )


def _overdue(as_of: dt.date) -> Any:
    """What was due before ``as_of`` and is unpaid (``ledger.domain.overdue_amount``)."""
    items = (
        ReceivableItem.objects.filter(account=OuterRef("pk"), due_date__lt=as_of)
        .order_by()
        .values("account")
        .annotate(t=Sum(_open_item(), output_field=MONEY))
        .values("t")
    )
    return Coalesce(Subquery(items), Value(ZERO), output_field=MONEY)


def _installment() -> Any:
    """The amount due of the oldest unpaid item: the installment a debtor is asked for."""
    due = F("principal_due") + F("interest_due") + F("fee_due")
    first_open = (
        ReceivableItem.objects.filter(account=OuterRef("pk"))
        .alias(open=_open_item())
        .filter(open__gt=0)
        .order_by("due_date", "pk")
        .annotate(d=Coalesce(due, Value(ZERO), output_field=MONEY))
        .values("d")[:1]
    )
    return Subquery(first_open, output_field=MONEY)


def _by_business_date(accounts: QuerySet[Account]) -> dict[dt.date, list[int]]:
    """Portfolio ids by their today: overdue is counted to each portfolio's own date."""
    portfolio_ids = accounts.order_by().values("portfolio_id").distinct()
    dates: dict[dt.date, list[int]] = defaultdict(list)
    for portfolio in Portfolio.objects.filter(pk__in=portfolio_ids).only("pk", "timezone"):
        dates[portfolio_today(portfolio)].append(portfolio.pk)
    return dates


ACCOUNT_FRAME_SCHEMA: dict[str, pl.DataType] = {
    "account_id": pl.Int64(),
    "contract_no": pl.String(),
    "debtor_name": pl.String(),
    "currency": pl.String(),
    "outstanding": pl.Decimal(20, 2),
    "overdue": pl.Decimal(20, 2),
    "installment": pl.Decimal(20, 2),
}


def accounts_frame(accounts: QuerySet[Account]) -> pl.DataFrame:
    """The accounts in the columns :func:`matching.match_lines` reads, money in fen.

    One query per distinct business date of the portfolios involved (in practice one), the
    overdue amount and the installment computed by the database per account.
    """
    frames = []
    for as_of, portfolio_ids in _by_business_date(accounts).items():
        rows = (
            accounts.filter(portfolio_id__in=portfolio_ids)
            .annotate(_overdue=_overdue(as_of), _installment=_installment())
            .values_list(
                "pk",
                "contract_no",
                "debtor__name",
                "currency",
                "outstanding",
                "_overdue",
                "_installment",
            )
        )
        frames.append(pl.DataFrame(list(rows), schema=ACCOUNT_FRAME_SCHEMA, orient="row"))
    frame = pl.concat(frames) if frames else pl.DataFrame(schema=ACCOUNT_FRAME_SCHEMA)

    def fen(name: str) -> pl.Expr:
        # Decimal(20, 2) × 100 is exact; the cast then only drops ".00".
        return (pl.col(name) * 100).cast(pl.Int64)

    return frame.select(
        "account_id",
        "contract_no",
        "debtor_name",
        "currency",
        fen("outstanding").alias("outstanding_fen"),
        fen("overdue").alias("overdue_fen"),
        # No promises are kept in the ledger yet; matching reads a null as "none".
        pl.lit(None, pl.Int64).alias("open_promise_fen"),
        fen("installment").alias("installment_fen"),
    )


# --- accounts as the review screen shows them -----------------------------------------------


@dataclass(frozen=True)
class AccountChoice:
    account: Account
    overdue: Decimal

    @property
    def outstanding(self) -> Decimal:
        return self.account.outstanding


def account_choices(
    accounts: QuerySet[Account], *, limit: int | None = None
) -> list[AccountChoice]:
    """Accounts with debtor and overdue amount, ordered by contract number."""
    choices = []
    for as_of, portfolio_ids in _by_business_date(accounts).items():
        rows = (
            accounts.filter(portfolio_id__in=portfolio_ids)
            .select_related("debtor", "portfolio")
            .annotate(_overdue=_overdue(as_of))
            .order_by("contract_no", "pk")
        )
        if limit is not None:
            rows = rows[:limit]
        choices += [AccountChoice(a, getattr(a, "_overdue", ZERO)) for a in rows]
    choices.sort(key=lambda c: (c.account.contract_no, c.account.pk))
    return choices[:limit] if limit is not None else choices


def candidate_choices(
    user: Any, job: ImportJob, lines: Sequence[StatementLine]
) -> dict[int, list[AccountChoice]]:
    """Line id → its candidate accounts the user may see, for every line given, in one go."""
    wanted = {int(pk) for line in lines for pk in (line.candidates or [])}
    if not wanted:
        return {}
    by_id = {
        c.account.pk: c
        for c in account_choices(assignable_accounts(user, job).filter(pk__in=wanted))
    }
    return {
        line.pk: [by_id[int(pk)] for pk in line.candidates or [] if int(pk) in by_id]
        for line in lines
    }


SEARCH_LIMIT = 20


def account_search(user: Any, job: ImportJob, text: str) -> list[AccountChoice]:
    """The creditor's accounts whose contract number or debtor name holds ``text``."""
    text = text.strip()
    if not text:
        return []
    found = assignable_accounts(user, job).filter(
        Q(contract_no__icontains=text) | Q(debtor__name__icontains=text)
    )
    return account_choices(found, limit=SEARCH_LIMIT)


def posting_outcome(before: dict[str, int], after: dict[str, int]) -> dict[str, int]:
    """What posting the matched lines did, from the line counts before and after: new
    payments, lines found already paid, lines the ledger refused (back to unmatched)."""
    return {
        "posted": after["posted"] - before["posted"],
        "duplicate": after["duplicate"] - before["duplicate"],
        "refused": max(0, after["unmatched"] - before["unmatched"]),
    }
