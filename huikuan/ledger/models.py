"""The collection ledger (催收台账): who owes what to whom, item by item, and what came back."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _

from huikuan.ledger.domain import (
    DEFAULT_ALLOCATION_ORDER,
    DEFAULT_BUCKET_BOUNDS,
    AccountStatus,
    AllocationMode,
    Component,
)


def _money(label: str, **extra: Any) -> models.DecimalField:
    return models.DecimalField(_(label), max_digits=20, decimal_places=2, default=0, **extra)


def _default_bounds() -> list[int]:
    return list(DEFAULT_BUCKET_BOUNDS)


def _default_order() -> list[str]:
    return [c.value for c in DEFAULT_ALLOCATION_ORDER]


class Creditor(models.Model):
    code = models.CharField(_("code"), max_length=30, unique=True)
    name = models.CharField(_("name"), max_length=200)

    class Meta:
        verbose_name = _("creditor")
        verbose_name_plural = _("creditors")
        ordering = ["code"]

    def __str__(self) -> str:
        return self.name


class Portfolio(models.Model):
    creditor = models.ForeignKey(Creditor, on_delete=models.PROTECT, related_name="portfolios")
    code = models.CharField(_("code"), max_length=30)
    name = models.CharField(_("name"), max_length=200)
    currency = models.CharField(_("currency"), max_length=3, default="CNY")
    timezone = models.CharField(_("time zone"), max_length=64, default="Asia/Shanghai")
    # Upper DPD bounds of each bucket after "current": [0, 30, 90, 180] gives
    # current, 1–30, 31–90, 91–180, 180+.
    bucket_bounds = models.JSONField(_("aging bucket bounds"), default=_default_bounds)
    allocation_order = models.JSONField(_("allocation order"), default=_default_order)
    allocation_mode = models.CharField(
        _("allocation mode"),
        max_length=12,
        choices=AllocationMode.choices,
        default=AllocationMode.BY_ITEM,
    )

    class Meta:
        verbose_name = _("portfolio")
        verbose_name_plural = _("portfolios")
        constraints = [
            models.UniqueConstraint(fields=["creditor", "code"], name="portfolio_code_per_creditor")
        ]
        ordering = ["creditor__code", "code"]

    def __str__(self) -> str:
        return self.name


class Debtor(models.Model):
    class Kind(models.TextChoices):
        INDIVIDUAL = "individual", _("Individual")
        ENTERPRISE = "enterprise", _("Enterprise")

    kind = models.CharField(_("kind"), max_length=10, choices=Kind.choices)
    name = models.CharField(_("name"), max_length=200, db_index=True)
    # Resident ID (GB 11643) for individuals, unified social credit code (GB 32100) for
    # enterprises; checked by services, never stored unchecked.
    id_number = models.CharField(_("ID number"), max_length=18, db_index=True)
    region = models.CharField(_("region"), max_length=6, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        verbose_name = _("debtor")
        verbose_name_plural = _("debtors")
        permissions = [("view_pii", _("Can see unmasked ID numbers, phones and addresses"))]
        # One person or company is one debtor: imports match debtors by this key.
        constraints = [
            models.UniqueConstraint(fields=["kind", "id_number"], name="debtor_unique_id")
        ]

    def __str__(self) -> str:
        return self.name


class Contact(models.Model):
    class Relation(models.TextChoices):
        SELF = "self", _("Self")
        GUARANTOR = "guarantor", _("Guarantor")
        EMERGENCY = "emergency", _("Emergency contact")
        LEGAL_REP = "legal_rep", _("Legal representative")
        FINANCE = "finance", _("Finance contact")

    debtor = models.ForeignKey(Debtor, on_delete=models.CASCADE, related_name="contacts")
    relation = models.CharField(_("relation"), max_length=10, choices=Relation.choices)
    name = models.CharField(_("name"), max_length=200, blank=True)
    phone = models.CharField(_("phone"), max_length=20, blank=True, db_index=True)
    email = models.EmailField(_("email"), blank=True)
    address = models.CharField(_("address"), max_length=300, blank=True)
    verified = models.BooleanField(_("verified"), default=False)
    do_not_contact = models.BooleanField(_("do not contact"), default=False)

    class Meta:
        verbose_name = _("contact")
        verbose_name_plural = _("contacts")
        # Imports only ever add contacts; this keeps a re-import from adding one twice.
        constraints = [
            models.UniqueConstraint(
                fields=["debtor", "relation", "phone"],
                condition=~models.Q(phone=""),
                name="contact_unique_phone",
            )
        ]

    def __str__(self) -> str:
        return f"{self.get_relation_display()} {self.name}"


class Account(models.Model):
    """One contract. Balance fields are aggregates of its items, kept current by services."""

    class Product(models.TextChoices):
        LOAN = "loan", _("Loan")
        CREDIT_CARD = "credit_card", _("Credit card")
        TRADE = "trade", _("Trade receivable")
        OTHER = "other", _("Other")

    Status = AccountStatus

    # Every index on this table is updated with each row the daily cycle rewrites, so none is
    # kept twice: creditor, portfolio and collector lead indexes below (db_index=False).
    creditor = models.ForeignKey(
        Creditor, on_delete=models.PROTECT, related_name="accounts", db_index=False
    )
    portfolio = models.ForeignKey(
        Portfolio, on_delete=models.PROTECT, related_name="accounts", db_index=False
    )
    debtor = models.ForeignKey(Debtor, on_delete=models.PROTECT, related_name="accounts")
    contract_no = models.CharField(_("contract number"), max_length=64)
    product = models.CharField(_("product"), max_length=12, choices=Product.choices)
    currency = models.CharField(_("currency"), max_length=3, default="CNY")
    principal = _money("principal")
    open_date = models.DateField(_("open date"))
    status = models.CharField(
        _("status"),
        max_length=12,
        choices=AccountStatus.choices,
        default=AccountStatus.CURRENT,
    )
    collector = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="accounts",
        verbose_name=_("collector"),
        db_index=False,
    )
    team = models.ForeignKey(
        "iam.Team",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="accounts",
        verbose_name=_("team"),
    )
    outstanding = _money("outstanding")
    principal_outstanding = _money("principal outstanding")
    interest_outstanding = _money("interest outstanding")
    fee_outstanding = _money("fee outstanding")
    oldest_unpaid_due = models.DateField(_("oldest unpaid due date"), null=True, blank=True)
    # What was overdue on ``overdue_as_of`` (due before that day, unpaid), by component, and the
    # earliest unpaid due date on or after it. The services keep them current when items or
    # payments are written, so the daily cycle re-reads the items only of accounts where a due
    # date has passed since (cycle.engine). NULL ``overdue_as_of``: not computed yet (new
    # accounts, bulk imports); the cycle computes it.
    # (A database default too: bulk writers insert accounts in raw SQL.)
    overdue_principal = _money("principal overdue", db_default=0)
    overdue_interest = _money("interest overdue", db_default=0)
    overdue_fee = _money("fee overdue", db_default=0)
    overdue_as_of = models.DateField(_("overdue as of"), null=True, blank=True)
    next_due_date = models.DateField(_("next unpaid due date"), null=True, blank=True)
    unapplied = _money("unapplied credit")
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        verbose_name = _("account")
        verbose_name_plural = _("accounts")
        constraints = [
            models.UniqueConstraint(
                fields=["creditor", "contract_no"], name="contract_no_per_creditor"
            )
        ]
        indexes = [
            models.Index(fields=["portfolio", "oldest_unpaid_due"]),
            models.Index(fields=["collector", "oldest_unpaid_due"]),
            models.Index(fields=["contract_no"]),
            models.Index(fields=["outstanding"]),
            # Not db_index on the field: that adds a second, LIKE-pattern index on PostgreSQL.
            models.Index(fields=["status"], name="ledger_account_status"),
        ]
        permissions = [
            ("view_all_accounts", _("Can read every account")),
            ("change_account_status", _("Can change an account's status")),
            ("manage_ledger", _("Can create creditors, portfolios, debtors and accounts")),
            ("post_payment", _("Can post payments")),
            ("reverse_payment", _("Can reverse payments")),
        ]

    def __str__(self) -> str:
        return self.contract_no


class ReceivableItem(models.Model):
    class Kind(models.TextChoices):
        INSTALLMENT = "installment", _("Installment")
        INVOICE = "invoice", _("Invoice")

    # No index of its own: the unique (account, number) index starts with the account.
    account = models.ForeignKey(
        Account, on_delete=models.PROTECT, related_name="items", db_index=False
    )
    kind = models.CharField(_("kind"), max_length=12, choices=Kind.choices)
    number = models.CharField(_("number"), max_length=40)
    due_date = models.DateField(_("due date"))
    principal_due = _money("principal due")
    interest_due = _money("interest due")
    fee_due = _money("fee due")
    principal_paid = _money("principal paid")
    interest_paid = _money("interest paid")
    fee_paid = _money("fee paid")

    class Meta:
        verbose_name = _("receivable item")
        verbose_name_plural = _("receivable items")
        constraints = [
            models.UniqueConstraint(fields=["account", "number"], name="item_number_per_account")
        ]
        ordering = ["due_date", "number"]

    def __str__(self) -> str:
        return self.number


class Payment(models.Model):
    """Money received, or the reversal of an earlier payment. Never edited."""

    class Method(models.TextChoices):
        BANK_TRANSFER = "bank", _("Bank transfer")
        CASH = "cash", _("Cash")
        ALIPAY = "alipay", _("Alipay")
        WECHAT = "wechat", _("WeChat Pay")
        CARD = "card", _("Card")
        OTHER = "other", _("Other")

    account = models.ForeignKey(Account, on_delete=models.PROTECT, related_name="payments")
    amount = models.DecimalField(_("amount"), max_digits=20, decimal_places=2)
    currency = models.CharField(_("currency"), max_length=3)
    received_on = models.DateField(_("received on"))
    method = models.CharField(_("method"), max_length=10, choices=Method.choices)
    reference = models.CharField(_("reference"), max_length=100, blank=True)
    idempotency_key = models.CharField(max_length=100, null=True, blank=True, unique=True)
    unapplied = models.DecimalField(_("unapplied"), max_digits=20, decimal_places=2, default=0)
    reversal_of = models.OneToOneField(
        "self", null=True, blank=True, on_delete=models.PROTECT, related_name="reversed_by"
    )
    reason = models.TextField(_("reason"), blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.PROTECT, related_name="+"
    )

    class Meta:
        verbose_name = _("payment")
        verbose_name_plural = _("payments")
        ordering = ["-received_on", "-id"]

    def __str__(self) -> str:
        return f"{self.account_id} {self.amount} {self.received_on}"

    @property
    def is_reversal(self) -> bool:
        return self.reversal_of_id is not None


class Allocation(models.Model):
    """The share of a payment applied to one component of one item (negative for reversals)."""

    payment = models.ForeignKey(Payment, on_delete=models.PROTECT, related_name="allocations")
    item = models.ForeignKey(ReceivableItem, on_delete=models.PROTECT, related_name="allocations")
    component = models.CharField(_("component"), max_length=10, choices=Component.choices)
    amount = models.DecimalField(_("amount"), max_digits=20, decimal_places=2)
    # The date the money counts from: the payment's received date, or the reversal's date.
    effective_on = models.DateField(_("effective on"), db_index=True)

    class Meta:
        verbose_name = _("allocation")
        verbose_name_plural = _("allocations")

    def __str__(self) -> str:
        return f"{self.item_id} {self.component} {self.amount}"
