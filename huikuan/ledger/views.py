"""Ledger pages: the list, the account page and its three writes, the aging summary.

Views parse, fetch through ``selectors.access_*`` (the data scope), call one service and render;
anything out of scope is a 404 from the selector, a missing permission a 403 here.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.paginator import Paginator
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.functional import Promise
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_POST

from huikuan.audit.selectors import events_for
from huikuan.iam.domain import format_phone, mask_address, mask_email, mask_id_number, mask_phone
from huikuan.iam.roles import CHANGE_STATUS, POST_PAYMENT, REVERSE_PAYMENT
from huikuan.iam.selectors import can_see_pii
from huikuan.ledger import domain, selectors, services
from huikuan.ledger.forms import AgingForm, LedgerFilterForm, PaymentForm, ReverseForm, StatusForm
from huikuan.ledger.models import Account, Debtor, Payment, Portfolio
from huikuan.lib.money import format_amount
from huikuan.lib.views import add_service_errors, is_partial

PAGE_SIZE = 50


def _require(user: Any, permission: str) -> None:
    if not user.has_perm(permission):
        raise PermissionDenied


# --- the ledger list ------------------------------------------------------------------------


@login_required
def ledger_list(request: HttpRequest) -> HttpResponse:
    portfolios = list(selectors.portfolios_visible_to(request.user))
    form = LedgerFilterForm(request.GET, portfolios=portfolios, buckets=selectors.bucket_codes())
    form.is_valid()
    flt = form.to_filter()
    as_of = _list_as_of(flt.portfolio, portfolios)
    accounts = selectors.ledger_accounts(request.user, flt, as_of=as_of).select_related("team")
    page = Paginator(accounts, PAGE_SIZE).get_page(request.GET.get("page"))
    context = {
        "form": form,
        "page_obj": page,
        "rows": _ledger_rows(page, as_of),
        "columns": _ledger_columns(flt.sort),
        "sort": flt.sort,
        "as_of": as_of,
        "filtered": any(request.GET.get(k) for k in form.fields if k != "sort"),
    }
    context["partial"] = is_partial(request)
    template = "ledger/_results.html" if context["partial"] else "ledger/list.html"
    return render(request, template, context)


def _list_as_of(portfolio_id: int | None, portfolios: list[Portfolio]) -> dt.date:
    """DPD in the list is counted to today in the chosen portfolio's zone, else the site's."""
    chosen = next((p for p in portfolios if p.pk == portfolio_id), None)
    return services.portfolio_today(chosen) if chosen else timezone.localdate()


# --- the account page -----------------------------------------------------------------------


@login_required
def account_detail(request: HttpRequest, pk: int) -> HttpResponse:
    return _account_page(request, selectors.access_account(request.user, pk))


def _account_page(
    request: HttpRequest, account: Account, *, status: int = 200, **forms: Any
) -> HttpResponse:
    user = request.user
    today = services.portfolio_today(account.portfolio)
    pii = can_see_pii(user)
    can = {
        "post": user.has_perm(POST_PAYMENT),
        "reverse": user.has_perm(REVERSE_PAYMENT),
        "status": user.has_perm(CHANGE_STATUS),
    }
    payments = _payment_rows(account)
    context = {
        "account": account,
        "position": selectors.account_position(account, today),
        "today": today,
        "pii": pii,
        "debtor": _debtor_view(account.debtor, pii=pii),
        "contacts": _contact_rows(account.debtor, pii=pii),
        "items": _item_rows(account, today),
        "payments": payments,
        "events": _account_events(account, [p.payment.pk for p in payments]),
        "can": can,
        "payment_form": forms.get("payment_form")
        or (PaymentForm(today=today) if can["post"] else None),
        "status_form": forms.get("status_form")
        or (StatusForm(current=account.status) if can["status"] else None),
        "reverse_form": forms.get("reverse_form"),
        "reverse_failed": forms.get("reverse_failed"),
    }
    return render(request, "ledger/account.html", context, status=status)


def _back_to(account: Account, anchor: str) -> HttpResponse:
    return redirect(reverse("web:account", args=[account.pk]) + anchor)


@login_required
@require_POST
def payment_post(request: HttpRequest, pk: int) -> HttpResponse:
    _require(request.user, POST_PAYMENT)
    account = selectors.access_account(request.user, pk)
    form = PaymentForm(request.POST, today=services.portfolio_today(account.portfolio))
    if form.is_valid():
        data = form.cleaned_data
        try:
            payment = services.payment_post(
                account=account,
                amount=data["amount"],
                received_on=data["received_on"],
                method=data["method"],
                reference=data["reference"],
                actor=request.user,
                idempotency_key=data["idempotency_key"] or None,
            )
        except ValidationError as exc:
            add_service_errors(form, exc)
        except services.IdempotencyConflict as exc:
            form.add_error(None, str(exc))
        else:
            messages.success(
                request,
                _("Payment of %(amount)s posted.")
                % {"amount": format_amount(payment.amount, payment.currency)},
            )
            return _back_to(account, "#payments")
    return _account_page(request, account, status=422, payment_form=form)


@login_required
@require_POST
def payment_reverse(request: HttpRequest, pk: int) -> HttpResponse:
    _require(request.user, REVERSE_PAYMENT)
    payment = selectors.access_payment(request.user, pk)
    account = selectors.access_account(request.user, payment.account_id)
    form = ReverseForm(request.POST)
    if form.is_valid():
        try:
            services.payment_reverse(
                payment=payment, reason=form.cleaned_data["reason"], actor=request.user
            )
        except ValidationError as exc:
            add_service_errors(form, exc)
        else:
            messages.success(
                request,
                _("Payment of %(amount)s reversed.")
                % {"amount": format_amount(payment.amount, payment.currency)},
            )
            return _back_to(account, "#payments")
    return _account_page(request, account, status=422, reverse_form=form, reverse_failed=payment.pk)


@login_required
@require_POST
def account_status(request: HttpRequest, pk: int) -> HttpResponse:
    _require(request.user, CHANGE_STATUS)
    account = selectors.access_account(request.user, pk)
    form = StatusForm(request.POST, current=account.status)
    if form.is_valid():
        try:
            changed = services.account_status_change(
                account=account,
                status=form.cleaned_data["status"],
                reason=form.cleaned_data["reason"],
                actor=request.user,
            )
        except ValidationError as exc:
            add_service_errors(form, exc)
        else:
            messages.success(
                request,
                _("Status changed to “%(status)s”.")
                % {"status": domain.AccountStatus(changed.status).label},
            )
            return _back_to(account, "")
    return _account_page(request, account, status=422, status_form=form)


# --- aging ----------------------------------------------------------------------------------


@login_required
def aging(request: HttpRequest) -> HttpResponse:
    portfolios = list(selectors.portfolios_visible_to(request.user))
    today = timezone.localdate()
    form = AgingForm(request.GET or None, portfolios=portfolios, initial={"as_of": today})
    as_of, portfolio = today, None
    if form.is_valid():
        as_of = form.cleaned_data["as_of"] or today
        portfolio = form.cleaned_data["portfolio"]
    rows = selectors.aging_summary(request.user, as_of=as_of, portfolio=portfolio)
    context = {"form": form, "as_of": as_of, "tables": _aging_tables(rows)}
    template = "ledger/_aging_tables.html" if is_partial(request) else "ledger/aging.html"
    return render(request, template, context)


# --- what the templates show ----------------------------------------------------------------

ZERO = Decimal("0.00")
COMPONENTS = ("principal", "interest", "fee")


@dataclass(frozen=True)
class Column:
    label: str | Promise
    sort_key: str | None = None
    numeric: bool = False
    next_sort: str = ""
    arrow: str = ""


_COLUMNS = (
    Column(gettext_lazy("Contract no."), "contract"),
    Column(gettext_lazy("Debtor"), "debtor"),
    Column(gettext_lazy("Portfolio")),
    Column(gettext_lazy("Product")),
    Column(gettext_lazy("Status"), "status"),
    Column(gettext_lazy("Outstanding"), "outstanding", numeric=True),
    Column(gettext_lazy("DPD"), "dpd", numeric=True),
    Column(gettext_lazy("Bucket")),
    Column(gettext_lazy("Collector")),
)


def _ledger_columns(sort: str) -> list[Column]:
    """Headers with the sort a click asks for: the same column flips, a new one starts with
    the largest numbers or A first."""
    key, desc = sort.lstrip("-"), sort.startswith("-")
    columns = []
    for col in _COLUMNS:
        if col.sort_key is None:
            columns.append(col)
        elif col.sort_key == key:
            columns.append(
                Column(
                    col.label, key, col.numeric, key if desc else f"-{key}", "▼" if desc else "▲"
                )
            )
        else:
            first = f"-{col.sort_key}" if col.numeric else col.sort_key
            columns.append(Column(col.label, col.sort_key, col.numeric, first))
    return columns


def _ledger_rows(accounts: Iterable[Account], as_of: dt.date) -> list[dict[str, Any]]:
    rows = []
    for account in accounts:
        days = domain.dpd_from(account.oldest_unpaid_due, as_of)
        bucket = domain.bucket_for(days, account.portfolio.bucket_bounds)
        rows.append({"account": account, "dpd": days, "bucket": bucket})
    return rows


def _debtor_view(debtor: Debtor, *, pii: bool) -> dict[str, Any]:
    shown = debtor.id_number if pii else mask_id_number(debtor.id_number)
    return {"debtor": debtor, "id_number": shown}


def _contact_rows(debtor: Debtor, *, pii: bool) -> list[dict[str, Any]]:
    """Contacts with phone, email and address masked unless the role may see them (PIPL)."""
    rows = []
    for contact in debtor.contacts.all():
        phone, email, address = contact.phone, contact.email, contact.address
        rows.append(
            {
                "contact": contact,
                "phone": (format_phone(phone) if pii else mask_phone(phone)) if phone else "",
                "email": (email if pii else mask_email(email)) if email else "",
                "address": (address if pii else mask_address(address)) if address else "",
            }
        )
    return rows


def _item_rows(account: Account, today: dt.date) -> dict[str, Any]:
    rows = []
    totals = {f"{c}_{side}": ZERO for c in COMPONENTS for side in ("due", "paid")}
    for item in account.items.all():
        values = {
            f"{c}_{side}": getattr(item, f"{c}_{side}")
            for c in COMPONENTS
            for side in ("due", "paid")
        }
        for name, value in values.items():
            totals[name] += value
        left = sum((values[f"{c}_due"] - values[f"{c}_paid"] for c in COMPONENTS), ZERO)
        rows.append(
            {
                "item": item,
                "cells": [values[f"{c}_{side}"] for c in COMPONENTS for side in ("due", "paid")],
                "outstanding": left,
                "overdue": left > 0 and item.due_date < today,
            }
        )
    outstanding = sum((totals[f"{c}_due"] - totals[f"{c}_paid"] for c in COMPONENTS), ZERO)
    return {
        "rows": rows,
        "totals": [totals[f"{c}_{side}"] for c in COMPONENTS for side in ("due", "paid")],
        "outstanding": outstanding,
    }


@dataclass
class PaymentRow:
    payment: Payment
    allocations: list[Any] = field(default_factory=list)
    reversed_by: Payment | None = None

    @property
    def reversible(self) -> bool:
        return not self.payment.is_reversal and self.reversed_by is None


def _payment_rows(account: Account) -> list[PaymentRow]:
    payments = list(
        account.payments.select_related("created_by", "reversal_of").prefetch_related(
            "allocations__item"
        )
    )
    reversals = {p.reversal_of_id: p for p in payments if p.reversal_of_id}
    return [
        PaymentRow(
            p,
            sorted(p.allocations.all(), key=lambda a: (a.item.due_date, a.pk)),
            reversals.get(p.pk),
        )
        for p in payments
    ]


def _account_events(account: Account, payment_ids: list[int], limit: int = 200) -> list[Any]:
    """The account's trail and its payments' trail, newest first, in one list."""
    events = [
        *events_for(object_type="ledger.account", object_ids=[str(account.pk)])[:limit],
        *events_for(object_type="ledger.payment", object_ids=[str(i) for i in payment_ids])[:limit],
    ]
    events.sort(key=lambda e: (e.at, e.pk), reverse=True)
    return events[:limit]


def _aging_tables(rows: Iterable[selectors.AgingRow]) -> dict[str, Any]:
    """One table per portfolio with each bucket's share of the amount, plus totals."""
    tables: dict[int, dict[str, Any]] = {}
    for row in rows:
        table = tables.setdefault(
            row.portfolio_id,
            {
                "portfolio": row.portfolio,
                "currency": row.currency,
                "rows": [],
                "count": 0,
                "amount": ZERO,
            },
        )
        table["rows"].append({"bucket": row.bucket, "count": row.count, "amount": row.amount})
        table["count"] += row.count
        table["amount"] += row.amount
    for table in tables.values():
        for row in table["rows"]:
            row["share"] = _share(row["amount"], table["amount"])
    currencies = {t["currency"] for t in tables.values()}
    grand = None
    if len(tables) > 1 and len(currencies) == 1:
        grand = {
            "currency": currencies.pop(),
            "count": sum(t["count"] for t in tables.values()),
            "amount": sum((t["amount"] for t in tables.values()), ZERO),
        }
    return {"list": list(tables.values()), "grand": grand}


def _share(part: Decimal, whole: Decimal) -> Decimal:
    if whole <= 0:
        return Decimal("0.0")
    return (part * 100 / whole).quantize(Decimal("0.1"))
