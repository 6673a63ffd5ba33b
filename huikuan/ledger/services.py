"""Every write to the ledger. Each function is one transaction and audits itself."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

import phonenumbers
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.db.models import DecimalField, F, Min, OuterRef, Subquery, Sum, Value
from django.db.models.functions import Coalesce
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_noop

from huikuan.audit.services import audit_record
from huikuan.ledger import domain
from huikuan.ledger.domain import AccountStatus, Component, ItemBalance
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
from huikuan.lib import ids, money

MONEY: DecimalField = DecimalField(max_digits=20, decimal_places=2)
ZERO = Decimal("0.00")


def portfolio_today(portfolio: Portfolio) -> dt.date:
    """The business date now, in the portfolio's own time zone."""
    return timezone.now().astimezone(ZoneInfo(portfolio.timezone)).date()


def _currency_supported(code: str) -> bool:
    # Money columns keep two decimals, so three-decimal currencies (KWD, BHD...) would be
    # rounded by the database; refuse them rather than lose a fils.
    return money.is_known_currency(code) and money.minor_unit(code) <= 2


# --- master data ----------------------------------------------------------------------------


def creditor_create(*, code: str, name: str, actor: Any) -> Creditor:
    code, name = code.strip(), name.strip()
    if not code or not name:
        raise ValidationError({"code" if not code else "name": _("This field is required.")})
    with transaction.atomic():
        if Creditor.objects.filter(code=code).exists():
            raise ValidationError(
                {"code": _("A creditor with code %(code)s exists.") % {"code": code}}
            )
        creditor = Creditor.objects.create(code=code, name=name)
        audit_record(
            actor=actor,
            action="creditor.create",
            obj=creditor,
            changes={"code": [None, code], "name": [None, name]},
        )
    return creditor


def portfolio_create(
    *,
    creditor: Creditor,
    code: str,
    name: str,
    actor: Any,
    currency: str = "CNY",
    timezone_name: str = "Asia/Shanghai",
    bucket_bounds: Sequence[int] = domain.DEFAULT_BUCKET_BOUNDS,
    allocation_order: Sequence[str] = tuple(domain.DEFAULT_ALLOCATION_ORDER),
    allocation_mode: str = domain.AllocationMode.BY_ITEM,
) -> Portfolio:
    errors: dict[str, str] = {}
    if not _currency_supported(currency):
        errors["currency"] = _("Unknown currency %(code)s.") % {"code": currency}
    try:
        ZoneInfo(timezone_name)
    except (KeyError, ValueError):
        errors["timezone"] = _("Unknown time zone %(tz)s.") % {"tz": timezone_name}
    for name_, check in (
        ("bucket_bounds", lambda: domain.validate_bounds(list(bucket_bounds))),
        ("allocation_order", lambda: domain.parse_order(list(allocation_order))),
        ("allocation_mode", lambda: domain.AllocationMode(allocation_mode)),
    ):
        try:
            check()
        except ValueError as exc:
            errors[name_] = str(exc)
    if errors:
        raise ValidationError(errors)
    with transaction.atomic():
        if Portfolio.objects.filter(creditor=creditor, code=code).exists():
            raise ValidationError(
                {"code": _("This creditor already has portfolio %(code)s.") % {"code": code}}
            )
        portfolio = Portfolio.objects.create(
            creditor=creditor,
            code=code,
            name=name,
            currency=currency,
            timezone=timezone_name,
            bucket_bounds=list(bucket_bounds),
            allocation_order=list(allocation_order),
            allocation_mode=allocation_mode,
        )
        audit_record(
            actor=actor,
            action="portfolio.create",
            obj=portfolio,
            changes={"code": [None, code], "currency": [None, currency]},
        )
    return portfolio


def debtor_id_error(kind: str, id_number: str) -> str | None:
    if kind == Debtor.Kind.INDIVIDUAL:
        return ids.resident_id_error(id_number)
    if kind == Debtor.Kind.ENTERPRISE:
        return ids.uscc_error(id_number)
    return _("Unknown debtor kind %(kind)s.") % {"kind": kind}


def debtor_create(*, kind: str, name: str, id_number: str, actor: Any, region: str = "") -> Debtor:
    id_number = id_number.strip().upper()
    errors = {}
    if not name.strip():
        errors["name"] = _("This field is required.")
    if error := debtor_id_error(kind, id_number):
        errors["id_number"] = str(error)
    elif Debtor.objects.filter(kind=kind, id_number=id_number).exists():
        errors["id_number"] = _("A debtor with this ID number already exists.")
    if errors:
        raise ValidationError(errors)
    with transaction.atomic():
        # The administrative division code sits at the front of a resident ID and at
        # positions 3–8 of a credit code.
        default_region = id_number[2:8] if kind == Debtor.Kind.ENTERPRISE else id_number[:6]
        debtor = Debtor.objects.create(
            kind=kind, name=name.strip(), id_number=id_number, region=region or default_region
        )
        audit_record(
            actor=actor,
            action="debtor.create",
            obj=debtor,
            changes={"kind": [None, kind], "name": [None, debtor.name]},
        )
    return debtor


def phone_normalize(raw: str, region: str = "CN") -> str:
    """E.164 form of a phone number, or ValidationError naming the problem."""
    try:
        number = phonenumbers.parse(raw, region)
    except phonenumbers.NumberParseException as exc:
        raise ValidationError(
            {"phone": _("“%(value)s” is not a phone number.") % {"value": raw}}
        ) from exc
    if not phonenumbers.is_valid_number(number):
        raise ValidationError(
            {"phone": _("“%(value)s” is not a valid phone number.") % {"value": raw}}
        )
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


def contact_create(
    *,
    debtor: Debtor,
    relation: str,
    actor: Any,
    name: str = "",
    phone: str = "",
    email: str = "",
    address: str = "",
    verified: bool = False,
    do_not_contact: bool = False,
) -> Contact:
    if relation not in Contact.Relation.values:
        raise ValidationError({"relation": _("Unknown relation %(value)s.") % {"value": relation}})
    if not (phone or email or address):
        raise ValidationError({"phone": _("Give at least a phone, an email or an address.")})
    if email:
        from django.core.validators import validate_email

        try:
            validate_email(email)
        except ValidationError as exc:
            raise ValidationError(
                {"email": _("“%(value)s” is not an email address.") % {"value": email}}
            ) from exc
    phone = phone_normalize(phone) if phone else ""
    if phone and Contact.objects.filter(debtor=debtor, relation=relation, phone=phone).exists():
        raise ValidationError({"phone": _("This debtor already has this phone for this relation.")})
    with transaction.atomic():
        contact = Contact.objects.create(
            debtor=debtor,
            relation=relation,
            name=name,
            phone=phone,
            email=email,
            address=address,
            verified=verified,
            do_not_contact=do_not_contact,
        )
        audit_record(
            actor=actor,
            action="contact.create",
            obj=contact,
            changes={"relation": [None, relation], "debtor": [None, debtor.pk]},
        )
    return contact


@dataclass(frozen=True)
class ItemInput:
    number: str
    due_date: dt.date
    principal_due: Decimal = ZERO
    interest_due: Decimal = ZERO
    fee_due: Decimal = ZERO
    kind: str = ReceivableItem.Kind.INSTALLMENT


def account_create(
    *,
    portfolio: Portfolio,
    debtor: Debtor,
    contract_no: str,
    product: str,
    principal: Decimal,
    open_date: dt.date,
    items: Sequence[ItemInput],
    actor: Any,
    currency: str | None = None,
) -> Account:
    currency = currency or portfolio.currency
    errors: dict[str, str] = {}
    if not contract_no.strip():
        errors["contract_no"] = _("This field is required.")
    if product not in Account.Product.values:
        errors["product"] = _("Unknown product %(value)s.") % {"value": product}
    if not _currency_supported(currency):
        errors["currency"] = _("Unknown currency %(code)s.") % {"code": currency}
    if principal < 0:
        errors["principal"] = _("The amount cannot be negative.")
    numbers = [i.number for i in items]
    if len(set(numbers)) != len(numbers):
        errors["items"] = _("Item numbers must be unique within the account.")
    for n, item in enumerate(items, start=1):
        if min(item.principal_due, item.interest_due, item.fee_due) < 0:
            errors["items"] = _("Item %(n)s: amounts cannot be negative.") % {"n": n}
    if errors:
        raise ValidationError(errors)
    with transaction.atomic():
        if Account.objects.filter(creditor=portfolio.creditor, contract_no=contract_no).exists():
            raise ValidationError(
                {
                    "contract_no": _("Contract %(no)s already exists for this creditor.")
                    % {"no": contract_no}
                }
            )
        account = Account.objects.create(
            creditor=portfolio.creditor,
            portfolio=portfolio,
            debtor=debtor,
            contract_no=contract_no.strip(),
            product=product,
            currency=currency,
            principal=money.quantize(principal, currency),
            open_date=open_date,
        )
        ReceivableItem.objects.bulk_create(
            ReceivableItem(
                account=account,
                kind=i.kind,
                number=i.number,
                due_date=i.due_date,
                principal_due=i.principal_due,
                interest_due=i.interest_due,
                fee_due=i.fee_due,
            )
            for i in items
        )
        account_balances_refresh(account_ids=[account.pk])
        account.refresh_from_db()
        audit_record(
            actor=actor,
            action="account.create",
            obj=account,
            changes={
                "contract_no": [None, account.contract_no],
                "items": [None, len(items)],
                "outstanding": [None, account.outstanding],
            },
        )
        _apply_balance_status(account, actor=actor, reason=gettext_noop("Account created"))
    return account


# --- balances -------------------------------------------------------------------------------


def _open_expr(prefix: str = "") -> Any:
    return sum(
        (F(f"{prefix}{c}_due") - F(f"{prefix}{c}_paid") for c in ("principal", "interest", "fee")),
        Value(ZERO),
    )


def account_balances_refresh(*, account_ids: Sequence[int]) -> int:
    """Recompute the balance aggregates of these accounts from their items, in one statement:
    what is outstanding, the oldest unpaid due date and, on the date the overdue amounts were
    last computed for (``overdue_as_of``, left alone when not set yet), what is overdue and the
    next unpaid due date."""
    items = ReceivableItem.objects.filter(account=OuterRef("pk")).order_by().values("account")
    overdue_items = items.filter(due_date__lt=OuterRef("overdue_as_of"))

    def total(expr: Any, source: Any = items) -> Any:
        return Coalesce(
            Subquery(source.annotate(t=Sum(expr)).values("t")), Value(ZERO), output_field=MONEY
        )

    open_items = (
        ReceivableItem.objects.filter(account=OuterRef("pk"))
        .alias(open=_open_expr())
        .filter(open__gt=0)
        .order_by()
        .values("account")
    )
    upcoming = open_items.filter(due_date__gte=OuterRef("overdue_as_of"))
    return Account.objects.filter(pk__in=account_ids).update(
        principal_outstanding=total(F("principal_due") - F("principal_paid")),
        interest_outstanding=total(F("interest_due") - F("interest_paid")),
        fee_outstanding=total(F("fee_due") - F("fee_paid")),
        outstanding=total(_open_expr()),
        oldest_unpaid_due=Subquery(open_items.annotate(d=Min("due_date")).values("d")),
        overdue_principal=total(F("principal_due") - F("principal_paid"), overdue_items),
        overdue_interest=total(F("interest_due") - F("interest_paid"), overdue_items),
        overdue_fee=total(F("fee_due") - F("fee_paid"), overdue_items),
        next_due_date=Subquery(upcoming.annotate(d=Min("due_date")).values("d")),
    )


def _item_balances(account: Account) -> list[ItemBalance]:
    return [
        ItemBalance(
            key=item.pk,
            due_date=item.due_date,
            due={Component(c): getattr(item, f"{c}_due") for c in Component.values},
            paid={Component(c): getattr(item, f"{c}_paid") for c in Component.values},
        )
        for item in account.items.all()
    ]


def _apply_balance_status(account: Account, *, actor: Any, reason: str) -> None:
    """Move between current / delinquent / paid off as the balance says, audited."""
    today = portfolio_today(account.portfolio)
    new = domain.balance_status(
        account.status,
        outstanding=account.outstanding,
        dpd=domain.dpd_from(account.oldest_unpaid_due, today),
    )
    if new != account.status:
        domain.check_transition(account.status, new)
        old = account.status
        Account.objects.filter(pk=account.pk).update(status=new)
        account.status = new
        audit_record(
            actor=actor,
            action="account.status",
            obj=account,
            changes={"status": [old, new]},
            reason=reason,
        )


# --- status ---------------------------------------------------------------------------------


def account_status_change(*, account: Account, status: str, reason: str, actor: Any) -> Account:
    if not reason.strip():
        raise ValidationError({"reason": _("Say why the status changes.")})
    with transaction.atomic():
        locked = Account.objects.select_for_update().select_related("portfolio").get(pk=account.pk)
        try:
            domain.check_transition(locked.status, status)
        except domain.IllegalTransition as exc:
            raise ValidationError({"status": str(exc)}) from exc
        dpd = domain.dpd_from(locked.oldest_unpaid_due, portfolio_today(locked.portfolio))
        if conflict := domain.balance_conflict(status, outstanding=locked.outstanding, dpd=dpd):
            raise ValidationError({"status": conflict})
        old = locked.status
        locked.status = AccountStatus(status)
        locked.save(update_fields=["status", "updated_at"])
        audit_record(
            actor=actor,
            action="account.status",
            obj=locked,
            changes={"status": [old, locked.status]},
            reason=reason.strip(),
        )
    return locked


# --- payments -------------------------------------------------------------------------------


class IdempotencyConflict(Exception):
    """The key was used before for a different payment."""


def payment_post(
    *,
    account: Account,
    amount: Decimal,
    received_on: dt.date,
    method: str,
    actor: Any,
    reference: str = "",
    idempotency_key: str | None = None,
) -> Payment:
    """Record money received and allocate it by the portfolio's order.

    With an idempotency key, posting the same payment again returns the first one unchanged.
    """
    if idempotency_key and (prior := _replay(idempotency_key, account, amount, received_on)):
        return prior
    _check_payment_input(account, amount, received_on, method)
    try:
        return _payment_post(
            account=account,
            amount=money.quantize(amount, account.currency),
            received_on=received_on,
            method=method,
            actor=actor,
            reference=reference,
            idempotency_key=idempotency_key or None,
        )
    except IntegrityError:
        # Two requests with one key raced; the loser returns the winner's payment.
        if idempotency_key and (prior := _replay(idempotency_key, account, amount, received_on)):
            return prior
        raise


def _replay(key: str, account: Account, amount: Decimal, received_on: dt.date) -> Payment | None:
    prior = Payment.objects.filter(idempotency_key=key).first()
    if prior is None:
        return None
    if (prior.account_id, prior.amount, prior.received_on) != (account.pk, amount, received_on):
        raise IdempotencyConflict(
            _("Idempotency key %(key)s was already used for a different payment.") % {"key": key}
        )
    return prior


def _check_payment_input(
    account: Account, amount: Decimal, received_on: dt.date, method: str
) -> None:
    errors = {}
    if amount <= 0:
        errors["amount"] = _("A payment must be more than zero.")
    elif money.quantize(amount, account.currency) != amount:
        errors["amount"] = _("%(currency)s amounts have at most %(n)s decimals.") % {
            "currency": account.currency,
            "n": money.minor_unit(account.currency),
        }
    if received_on > portfolio_today(account.portfolio):
        errors["received_on"] = _("A payment cannot be received in the future.")
    if method not in Payment.Method.values:
        errors["method"] = _("Unknown payment method %(value)s.") % {"value": method}
    if errors:
        raise ValidationError(errors)


def _payment_post(
    *,
    account: Account,
    amount: Decimal,
    received_on: dt.date,
    method: str,
    actor: Any,
    reference: str,
    idempotency_key: str | None,
) -> Payment:
    with transaction.atomic():
        locked = Account.objects.select_for_update().select_related("portfolio").get(pk=account.pk)
        # Checked on the locked row: the caller's copy may predate a concurrent closing.
        if locked.status == AccountStatus.CLOSED:
            raise ValidationError(
                {"account": _("The account is closed; payments cannot be posted to it.")}
            )
        before = locked.outstanding
        portfolio = locked.portfolio
        lines, left = domain.allocate(
            amount,
            _item_balances(locked),
            order=domain.parse_order(portfolio.allocation_order),
            mode=portfolio.allocation_mode,
        )
        payment = Payment.objects.create(
            account=locked,
            amount=amount,
            currency=locked.currency,
            received_on=received_on,
            method=method,
            reference=reference,
            idempotency_key=idempotency_key,
            unapplied=left,
            created_by=actor,
        )
        _write_allocations(
            payment,
            [(ln.item_key, ln.component, ln.amount) for ln in lines],
            effective_on=received_on,
        )
        Account.objects.filter(pk=locked.pk).update(unapplied=F("unapplied") + left)
        account_balances_refresh(account_ids=[locked.pk])
        locked.refresh_from_db()
        audit_record(
            actor=actor,
            action="payment.post",
            obj=payment,
            changes={
                "account": [None, locked.pk],
                "amount": [None, amount],
                "received_on": [None, received_on],
                "unapplied": [None, left],
                "allocations": [None, [[ln.item_key, ln.component, ln.amount] for ln in lines]],
                "outstanding": [before, locked.outstanding],
            },
        )
        _apply_balance_status(locked, actor=actor, reason=gettext_noop("Payment posted"))
    return payment


def _write_allocations(
    payment: Payment, lines: Sequence[tuple[Any, str, Decimal]], *, effective_on: dt.date
) -> None:
    """Store allocation rows and add them to the items' paid amounts (bulk, a few rows)."""
    Allocation.objects.bulk_create(
        Allocation(
            payment=payment, item_id=key, component=comp, amount=amt, effective_on=effective_on
        )
        for key, comp, amt in lines
    )
    items = {i.pk: i for i in ReceivableItem.objects.filter(pk__in={k for k, _c, _a in lines})}
    for key, comp, amt in lines:
        field = f"{comp}_paid"
        setattr(items[key], field, getattr(items[key], field) + amt)
    ReceivableItem.objects.bulk_update(items.values(), [f"{c}_paid" for c in Component.values])


def payment_reverse(
    *, payment: Payment, reason: str, actor: Any, reversed_on: dt.date | None = None
) -> Payment:
    """Undo a payment by an opposite entry; the original and its allocations stay as they were."""
    if not reason.strip():
        raise ValidationError({"reason": _("Say why the payment is reversed.")})
    with transaction.atomic():
        account = (
            Account.objects.select_for_update()
            .select_related("portfolio")
            .get(pk=payment.account_id)
        )
        original = Payment.objects.select_for_update().get(pk=payment.pk)
        if original.is_reversal:
            raise ValidationError({"payment": _("A reversal cannot itself be reversed.")})
        if Payment.objects.filter(reversal_of=original).exists():
            raise ValidationError({"payment": _("This payment has already been reversed.")})
        today = portfolio_today(account.portfolio)
        on = reversed_on or today
        if not original.received_on <= on <= today:
            raise ValidationError(
                {"reversed_on": _("A reversal falls between the payment's date and today.")}
            )
        before = (account.outstanding, account.status)
        reversal = Payment.objects.create(
            account=account,
            amount=-original.amount,
            currency=original.currency,
            received_on=on,
            method=original.method,
            reference=original.reference,
            unapplied=-original.unapplied,
            reversal_of=original,
            reason=reason.strip(),
            created_by=actor,
        )
        lines = [(a.item_id, a.component, -a.amount) for a in original.allocations.all()]
        _write_allocations(reversal, lines, effective_on=on)
        Account.objects.filter(pk=account.pk).update(unapplied=F("unapplied") - original.unapplied)
        account_balances_refresh(account_ids=[account.pk])
        account.refresh_from_db()
        audit_record(
            actor=actor,
            action="payment.reverse",
            obj=original,
            reason=reason.strip(),
            changes={
                "reversal": [None, reversal.pk],
                "amount": [original.amount, ZERO],
                "outstanding": [before[0], account.outstanding],
            },
        )
        _apply_balance_status(account, actor=actor, reason=gettext_noop("Payment reversed"))
    return reversal
