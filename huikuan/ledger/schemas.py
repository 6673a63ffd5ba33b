"""Request and response schemas of the ledger API.

Money leaves as a decimal string and arrives as one; ID numbers, phones, emails and addresses
are masked by the schemas' resolvers unless the caller may see them, so no endpoint can forget.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal, InvalidOperation
from typing import Annotated, Any

from django.utils.translation import gettext as _
from ninja import Field, Schema
from pydantic import PlainSerializer, PlainValidator, WithJsonSchema
from pydantic_core import PydanticCustomError

from huikuan.iam import domain as masking
from huikuan.iam.selectors import can_see_pii
from huikuan.ledger import domain
from huikuan.ledger.models import Account, Contact, Debtor, Payment, ReceivableItem

# --- money and masking ----------------------------------------------------------------------

_MONEY_SCHEMA = WithJsonSchema({"type": "string", "format": "decimal", "examples": ["1234.50"]})


def _decimal_string(value: object) -> Decimal:
    """Amounts come in as strings ("1234.50"): a JSON number may already be a rounded float."""
    if isinstance(value, Decimal):
        return value
    try:
        amount = Decimal(value.strip()) if isinstance(value, str) else None
    except InvalidOperation:
        amount = None
    # NaN and Infinity have no int exponent. Every money column has two decimals, and more
    # would be rounded silently by the database.
    exponent = amount.as_tuple().exponent if amount is not None else None
    if amount is not None and isinstance(exponent, int) and exponent >= -2:
        return amount
    raise PydanticCustomError(
        "decimal_string",
        _("Give the amount as a decimal string with at most two decimals, e.g. “1234.50”."),
    )


# Choices are inlined in the OpenAPI schema: as $refs, two enums both named "Kind" (debtor,
# item) would overwrite each other there, and later apps will bring more.
AccountStatusIn = Annotated[
    domain.AccountStatus, WithJsonSchema({"type": "string", "enum": domain.AccountStatus.values})
]
AllocationModeIn = Annotated[
    domain.AllocationMode, WithJsonSchema({"type": "string", "enum": domain.AllocationMode.values})
]
DebtorKindIn = Annotated[
    Debtor.Kind, WithJsonSchema({"type": "string", "enum": Debtor.Kind.values})
]
ItemKindIn = Annotated[
    ReceivableItem.Kind, WithJsonSchema({"type": "string", "enum": ReceivableItem.Kind.values})
]
RelationIn = Annotated[
    Contact.Relation, WithJsonSchema({"type": "string", "enum": Contact.Relation.values})
]
ProductIn = Annotated[
    Account.Product, WithJsonSchema({"type": "string", "enum": Account.Product.values})
]
MethodIn = Annotated[
    Payment.Method, WithJsonSchema({"type": "string", "enum": Payment.Method.values})
]
MoneyOut = Annotated[Decimal, PlainSerializer(str, return_type=str), _MONEY_SCHEMA]
MoneyIn = Annotated[Decimal, PlainValidator(_decimal_string), _MONEY_SCHEMA]


def _pii(context: Any) -> bool:
    # Without a request (a schema used outside a response) mask: the safe default.
    request = (context or {}).get("request")
    return request is not None and can_see_pii(request.user)


# --- schemas --------------------------------------------------------------------------------


class CreditorIn(Schema):
    code: str
    name: str


class CreditorOut(Schema):
    id: int
    code: str
    name: str


class PortfolioIn(Schema):
    creditor: int
    code: str
    name: str
    currency: str = "CNY"
    timezone: str = "Asia/Shanghai"
    bucket_bounds: list[int] = list(domain.DEFAULT_BUCKET_BOUNDS)
    allocation_order: list[str] = [c.value for c in domain.DEFAULT_ALLOCATION_ORDER]
    allocation_mode: AllocationModeIn = domain.AllocationMode.BY_ITEM


class PortfolioOut(Schema):
    id: int
    creditor_id: int
    code: str
    name: str
    currency: str
    timezone: str
    bucket_bounds: list[int]
    allocation_order: list[str]
    allocation_mode: str


class DebtorIn(Schema):
    kind: DebtorKindIn
    name: str
    id_number: str
    region: str = ""


class DebtorBriefOut(Schema):
    id: int
    kind: str
    name: str
    id_number: str

    @staticmethod
    def resolve_id_number(obj: Debtor, context: Any) -> str:
        return obj.id_number if _pii(context) else masking.mask_id_number(obj.id_number)


class DebtorOut(DebtorBriefOut):
    region: str
    created_at: dt.datetime


class ContactIn(Schema):
    relation: RelationIn
    name: str = ""
    phone: str = ""
    email: str = ""
    address: str = ""
    verified: bool = False
    do_not_contact: bool = False


class ContactOut(Schema):
    id: int
    debtor_id: int
    relation: str
    name: str
    phone: str
    email: str
    address: str
    verified: bool
    do_not_contact: bool

    @staticmethod
    def resolve_phone(obj: Contact, context: Any) -> str:
        return obj.phone if _pii(context) or not obj.phone else masking.mask_phone(obj.phone)

    @staticmethod
    def resolve_email(obj: Contact, context: Any) -> str:
        return obj.email if _pii(context) or not obj.email else masking.mask_email(obj.email)

    @staticmethod
    def resolve_address(obj: Contact, context: Any) -> str:
        if _pii(context) or not obj.address:
            return obj.address
        return masking.mask_address(obj.address)


class AccountOut(Schema):
    id: int
    contract_no: str
    creditor_id: int
    portfolio_id: int
    debtor: DebtorBriefOut
    product: str
    currency: str
    principal: MoneyOut
    open_date: dt.date
    status: str
    status_label: str
    collector: str | None
    team_id: int | None
    outstanding: MoneyOut
    principal_outstanding: MoneyOut
    interest_outstanding: MoneyOut
    fee_outstanding: MoneyOut
    unapplied: MoneyOut
    oldest_unpaid_due: dt.date | None

    @staticmethod
    def resolve_status_label(obj: Account) -> str:
        return str(domain.AccountStatus(obj.status).label)

    @staticmethod
    def resolve_collector(obj: Account) -> str | None:
        return obj.collector.get_username() if obj.collector else None


class BucketOut(Schema):
    code: str
    label: str


class PositionOut(Schema):
    as_of: dt.date
    outstanding: MoneyOut
    overdue: MoneyOut
    dpd: int
    bucket: BucketOut


class AccountDetailOut(AccountOut):
    position: PositionOut


class ItemIn(Schema):
    number: str
    due_date: dt.date
    kind: ItemKindIn = ReceivableItem.Kind.INSTALLMENT
    principal_due: MoneyIn = Decimal("0.00")
    interest_due: MoneyIn = Decimal("0.00")
    fee_due: MoneyIn = Decimal("0.00")


class AccountIn(Schema):
    portfolio: int
    debtor: int
    contract_no: str
    product: ProductIn
    principal: MoneyIn
    open_date: dt.date
    currency: str | None = Field(None, description="Defaults to the portfolio's currency.")
    items: list[ItemIn]


class StatusIn(Schema):
    status: AccountStatusIn
    reason: str


class ItemOut(Schema):
    id: int
    kind: str
    number: str
    due_date: dt.date
    principal_due: MoneyOut
    interest_due: MoneyOut
    fee_due: MoneyOut
    principal_paid: MoneyOut
    interest_paid: MoneyOut
    fee_paid: MoneyOut
    outstanding: MoneyOut

    @staticmethod
    def resolve_outstanding(obj: ReceivableItem) -> Decimal:
        return sum(
            (getattr(obj, f"{c}_due") - getattr(obj, f"{c}_paid") for c in domain.Component.values),
            Decimal("0.00"),
        )


class AllocationOut(Schema):
    item_id: int
    component: str
    amount: MoneyOut
    effective_on: dt.date


class PaymentIn(Schema):
    amount: MoneyIn
    received_on: dt.date
    method: MethodIn
    reference: str = ""


class ReverseIn(Schema):
    reason: str


class PaymentOut(Schema):
    id: int
    account_id: int
    amount: MoneyOut
    currency: str
    received_on: dt.date
    method: str
    reference: str
    unapplied: MoneyOut
    reversal_of_id: int | None
    reversed_by_id: int | None
    reason: str
    created_at: dt.datetime
    created_by: str | None
    allocations: list[AllocationOut]

    @staticmethod
    def resolve_reversed_by_id(obj: Payment) -> int | None:
        reversal = getattr(obj, "reversed_by", None)  # the reverse one-to-one raises when absent
        return reversal.pk if reversal is not None else None

    @staticmethod
    def resolve_created_by(obj: Payment) -> str | None:
        return obj.created_by.get_username() if obj.created_by else None


class AgingRowOut(Schema):
    portfolio_id: int
    portfolio: str
    currency: str
    bucket: BucketOut
    count: int
    amount: MoneyOut


class AgingOut(Schema):
    as_of: dt.date
    rows: list[AgingRowOut]


class AccountFilter(Schema):
    portfolio: int | None = None
    status: AccountStatusIn | None = None
    bucket: str = Field("", description="A bucket code such as `1-30` or `180+`.")
    dpd_min: int | None = None
    dpd_max: int | None = None
    amount_min: MoneyIn | None = None
    amount_max: MoneyIn | None = None
    q: str = Field("", description="Contract number, debtor name, ID number or phone.")
    as_of: dt.date | None = Field(None, description="The date DPD is counted to; default today.")
