"""API endpoints of the ledger, mounted under /api/v1/ by ``huikuan.api.api``.

Each endpoint: check the permission (403), fetch through a ``*_visible_to``/``access_*``
selector (out of scope is 404, never a leak), call one service, render. Money leaves as a
decimal string; ID numbers, phones, emails and addresses are masked unless the caller may see
them (the schemas' resolvers decide, so no endpoint can forget).
"""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Any, TypeVar

from django.core.exceptions import PermissionDenied, ValidationError
from django.db.models import Model, QuerySet
from django.http import HttpRequest
from django.utils import timezone
from django.utils.translation import gettext as _
from ninja import Header, Query, Router

from huikuan.api.pagination import CursorParams, Page, paginate
from huikuan.iam import roles
from huikuan.ledger import selectors, services
from huikuan.ledger.models import (
    Account,
    Contact,
    Creditor,
    Debtor,
    Payment,
    Portfolio,
)
from huikuan.ledger.schemas import (
    AccountDetailOut,
    AccountFilter,
    AccountIn,
    AccountOut,
    AgingOut,
    ContactIn,
    ContactOut,
    CreditorIn,
    CreditorOut,
    DebtorIn,
    DebtorOut,
    ItemOut,
    PaymentIn,
    PaymentOut,
    PortfolioIn,
    PortfolioOut,
    ReverseIn,
    StatusIn,
)

router = Router()
_M = TypeVar("_M", bound=Model)


def _require(request: HttpRequest, permission: str) -> None:
    user: Any = request.user
    if not user.has_perm(permission):
        raise PermissionDenied


# --- creditors and portfolios ---------------------------------------------------------------


@router.get("/creditors", response=Page[CreditorOut])
def creditor_list(request: HttpRequest, page: Query[CursorParams]) -> dict[str, Any]:
    return paginate(selectors.creditors_visible_to(request.user), page)


@router.post("/creditors", response={201: CreditorOut})
def creditor_create(request: HttpRequest, payload: CreditorIn) -> tuple[int, Creditor]:
    _require(request, roles.MANAGE_LEDGER)
    return 201, services.creditor_create(code=payload.code, name=payload.name, actor=request.user)


@router.get("/portfolios", response=Page[PortfolioOut])
def portfolio_list(request: HttpRequest, page: Query[CursorParams]) -> dict[str, Any]:
    return paginate(selectors.portfolios_visible_to(request.user), page)


@router.post("/portfolios", response={201: PortfolioOut})
def portfolio_create(request: HttpRequest, payload: PortfolioIn) -> tuple[int, Portfolio]:
    _require(request, roles.MANAGE_LEDGER)
    creditor = _pick(selectors.creditors_visible_to(request.user), payload.creditor, "creditor")
    return 201, services.portfolio_create(
        creditor=creditor,
        code=payload.code,
        name=payload.name,
        actor=request.user,
        currency=payload.currency,
        timezone_name=payload.timezone,
        bucket_bounds=payload.bucket_bounds,
        allocation_order=payload.allocation_order,
        allocation_mode=payload.allocation_mode,
    )


def _pick(queryset: QuerySet[_M], pk: int, field: str) -> _M:
    """An object named in a request body; unknown and out of scope read the same."""
    found = queryset.filter(pk=pk).first()
    if found is None:
        raise ValidationError({field: _("No such %(field)s: %(pk)s.") % {"field": field, "pk": pk}})
    return found


# --- debtors and contacts -------------------------------------------------------------------


@router.get("/debtors", response=Page[DebtorOut])
def debtor_list(request: HttpRequest, page: Query[CursorParams]) -> dict[str, Any]:
    return paginate(selectors.debtors_visible_to(request.user), page)


@router.get("/debtors/{debtor_id}", response=DebtorOut)
def debtor_detail(request: HttpRequest, debtor_id: int) -> Debtor:
    return selectors.access_debtor(request.user, debtor_id)


@router.post("/debtors", response={201: DebtorOut})
def debtor_create(request: HttpRequest, payload: DebtorIn) -> tuple[int, Debtor]:
    _require(request, roles.MANAGE_LEDGER)
    return 201, services.debtor_create(
        kind=payload.kind,
        name=payload.name,
        id_number=payload.id_number,
        region=payload.region,
        actor=request.user,
    )


@router.get("/debtors/{debtor_id}/contacts", response=Page[ContactOut])
def contact_list(request: HttpRequest, debtor_id: int, page: Query[CursorParams]) -> dict[str, Any]:
    debtor = selectors.access_debtor(request.user, debtor_id)
    return paginate(debtor.contacts.all(), page)


@router.post("/debtors/{debtor_id}/contacts", response={201: ContactOut})
def contact_create(request: HttpRequest, debtor_id: int, payload: ContactIn) -> tuple[int, Contact]:
    _require(request, roles.MANAGE_LEDGER)
    debtor = selectors.access_debtor(request.user, debtor_id)
    return 201, services.contact_create(debtor=debtor, actor=request.user, **payload.model_dump())


# --- accounts -------------------------------------------------------------------------------


@router.get("/accounts", response=Page[AccountOut])
def account_list(
    request: HttpRequest, flt: Query[AccountFilter], page: Query[CursorParams]
) -> dict[str, Any]:
    ledger_filter = selectors.LedgerFilter(
        portfolio=flt.portfolio,
        status=flt.status or "",
        bucket=flt.bucket,
        dpd_min=flt.dpd_min,
        dpd_max=flt.dpd_max,
        amount_min=flt.amount_min,
        amount_max=flt.amount_max,
        text=flt.q,
    )
    as_of = flt.as_of or _today(request, flt.portfolio)
    return paginate(selectors.ledger_accounts(request.user, ledger_filter, as_of=as_of), page)


def _today(request: HttpRequest, portfolio_id: int | None) -> dt.date:
    """Today in the filtered portfolio's time zone, else in the site's."""
    if portfolio_id is not None and (
        portfolio := selectors.portfolios_visible_to(request.user).filter(pk=portfolio_id).first()
    ):
        return services.portfolio_today(portfolio)
    return timezone.localdate()


class _WithPosition:
    """An account seen through AccountDetailOut: its own fields plus its position."""

    def __init__(self, account: Account, position: selectors.AccountPosition) -> None:
        self._account, self.position = account, position

    def __getattr__(self, name: str) -> Any:
        return getattr(self._account, name)


@router.get("/accounts/{account_id}", response=AccountDetailOut)
def account_detail(
    request: HttpRequest, account_id: int, as_of: dt.date | None = None
) -> _WithPosition:
    account = selectors.access_account(request.user, account_id)
    when = as_of or services.portfolio_today(account.portfolio)
    return _WithPosition(account, selectors.account_position(account, when))


@router.post("/accounts", response={201: AccountOut})
def account_create(request: HttpRequest, payload: AccountIn) -> tuple[int, Account]:
    _require(request, roles.MANAGE_LEDGER)
    user = request.user
    account = services.account_create(
        portfolio=_pick(selectors.portfolios_visible_to(user), payload.portfolio, "portfolio"),
        debtor=_pick(selectors.debtors_visible_to(user), payload.debtor, "debtor"),
        contract_no=payload.contract_no,
        product=payload.product,
        principal=payload.principal,
        open_date=payload.open_date,
        currency=payload.currency,
        actor=user,
        items=[services.ItemInput(**item.model_dump()) for item in payload.items],
    )
    return 201, selectors.access_account(user, account.pk)


@router.post("/accounts/{account_id}/status", response=AccountOut)
def account_status_change(request: HttpRequest, account_id: int, payload: StatusIn) -> Account:
    _require(request, roles.CHANGE_STATUS)
    account = selectors.access_account(request.user, account_id)
    services.account_status_change(
        account=account, status=payload.status, reason=payload.reason, actor=request.user
    )
    return selectors.access_account(request.user, account_id)


@router.get("/accounts/{account_id}/items", response=Page[ItemOut])
def item_list(request: HttpRequest, account_id: int, page: Query[CursorParams]) -> dict[str, Any]:
    account = selectors.access_account(request.user, account_id)
    return paginate(account.items.all(), page)


# --- payments -------------------------------------------------------------------------------


def _payments(account_id: int) -> QuerySet[Payment]:
    return (
        Payment.objects.filter(account_id=account_id)
        .select_related("created_by", "reversed_by")
        .prefetch_related("allocations")
    )


@router.get("/accounts/{account_id}/payments", response=Page[PaymentOut])
def payment_list(
    request: HttpRequest, account_id: int, page: Query[CursorParams]
) -> dict[str, Any]:
    account = selectors.access_account(request.user, account_id)
    return paginate(_payments(account.pk), page)


@router.post("/accounts/{account_id}/payments", response={200: PaymentOut, 201: PaymentOut})
def payment_post(
    request: HttpRequest,
    account_id: int,
    payload: PaymentIn,
    idempotency_key: Annotated[
        str | None,
        Header(
            alias="Idempotency-Key",
            max_length=100,
            description="Retry with the same key: the payment is posted once.",
        ),
    ] = None,
) -> tuple[int, Payment]:
    _require(request, roles.POST_PAYMENT)
    account = selectors.access_account(request.user, account_id)
    # A replay answers 200 with the first payment; the rare loser of a race on one key is
    # also given the winner's payment by the service, but reported as 201.
    replay = (
        bool(idempotency_key) and Payment.objects.filter(idempotency_key=idempotency_key).exists()
    )
    payment = services.payment_post(
        account=account,
        amount=payload.amount,
        received_on=payload.received_on,
        method=payload.method,
        reference=payload.reference,
        actor=request.user,
        idempotency_key=idempotency_key or None,
    )
    return (200 if replay else 201), _payments(account.pk).get(pk=payment.pk)


@router.post("/payments/{payment_id}/reverse", response={201: PaymentOut})
def payment_reverse(
    request: HttpRequest, payment_id: int, payload: ReverseIn
) -> tuple[int, Payment]:
    _require(request, roles.REVERSE_PAYMENT)
    payment = selectors.access_payment(request.user, payment_id)
    reversal = services.payment_reverse(payment=payment, reason=payload.reason, actor=request.user)
    return 201, _payments(payment.account_id).get(pk=reversal.pk)


# --- aging ----------------------------------------------------------------------------------


@router.get("/aging", response=AgingOut)
def aging(
    request: HttpRequest, as_of: dt.date | None = None, portfolio: int | None = None
) -> dict[str, Any]:
    when = as_of or _today(request, portfolio)
    rows = selectors.aging_summary(request.user, as_of=when, portfolio=portfolio)
    return {"as_of": when, "rows": rows}
