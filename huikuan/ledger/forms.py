"""Forms of the ledger pages: parse and check input, then hand plain values to a service."""

from __future__ import annotations

import datetime as dt
import uuid
from decimal import Decimal
from typing import Any, cast

from django import forms
from django.utils.translation import gettext_lazy as _

from huikuan.ledger.domain import ACCOUNT_TRANSITIONS, AccountStatus
from huikuan.ledger.models import Payment
from huikuan.ledger.selectors import LedgerFilter
from huikuan.lib.money import parse_amount

# Money columns hold 20 digits, 2 of them decimals.
MAX_INTEGER_DIGITS = 18
SORT_KEYS = ("dpd", "outstanding", "contract", "debtor", "status")


def _choices(form: forms.Form, name: str) -> forms.ChoiceField:
    return cast(forms.ChoiceField, form.fields[name])


class AmountField(forms.CharField):
    """Money typed by a person ("1,234.50", "¥1234.5"), parsed to Decimal, never float."""

    default_error_messages = {
        "negative": _("The amount cannot be negative."),
        "too_large": _("The amount is too large."),
    }

    def to_python(self, value: Any) -> Decimal | None:  # type: ignore[override]
        text = super().to_python(value)
        if not text:
            return None
        try:
            amount = parse_amount(text)
        except ValueError as exc:
            # parse_amount's message names the text and is already in the user's language.
            raise forms.ValidationError(str(exc), code="invalid") from exc
        if amount < 0:
            raise forms.ValidationError(self.error_messages["negative"], code="negative")
        if amount.adjusted() >= MAX_INTEGER_DIGITS:
            raise forms.ValidationError(self.error_messages["too_large"], code="too_large")
        return amount


class DateInput(forms.DateInput):
    input_type = "date"

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(format="%Y-%m-%d", **kwargs)


class LedgerFilterForm(forms.Form):
    portfolio = forms.TypedChoiceField(
        label=_("Portfolio"), required=False, coerce=int, empty_value=None
    )
    status = forms.ChoiceField(label=_("Status"), required=False)
    bucket = forms.ChoiceField(label=_("Bucket"), required=False)
    dpd_min = forms.IntegerField(label=_("DPD from"), required=False, min_value=0)
    dpd_max = forms.IntegerField(label=_("DPD to"), required=False, min_value=0)
    amount_min = AmountField(label=_("Outstanding from"), required=False)
    amount_max = AmountField(label=_("Outstanding to"), required=False)
    q = forms.CharField(label=_("Search"), required=False, max_length=100)
    sort = forms.ChoiceField(
        required=False,
        widget=forms.HiddenInput,
        choices=[(p + k, p + k) for k in SORT_KEYS for p in ("", "-")],
    )

    def __init__(
        self, *args: Any, portfolios: Any, buckets: list[tuple[str, str]], **kwargs: Any
    ) -> None:
        super().__init__(*args, **kwargs)
        every: list[tuple[Any, Any]] = [("", _("All"))]
        _choices(self, "portfolio").choices = every + [(p.pk, p.name) for p in portfolios]
        _choices(self, "status").choices = every + list(AccountStatus.choices)
        _choices(self, "bucket").choices = every + buckets
        for name in ("dpd_min", "dpd_max", "amount_min", "amount_max"):
            self.fields[name].widget.attrs.update(inputmode="decimal", size=6)
        self.fields["q"].widget = forms.TextInput(
            attrs={"type": "search", "placeholder": _("Name, contract, phone or ID")}
        )

    def to_filter(self) -> LedgerFilter:
        """The filter from the fields that are valid; an invalid field filters nothing."""
        data = self.cleaned_data if self.is_bound else {}
        get = data.get
        return LedgerFilter(
            portfolio=get("portfolio"),
            status=get("status") or "",
            bucket=get("bucket") or "",
            dpd_min=get("dpd_min"),
            dpd_max=get("dpd_max"),
            amount_min=get("amount_min"),
            amount_max=get("amount_max"),
            text=(get("q") or "").strip(),
            sort=get("sort") or "-dpd",
        )


class PaymentForm(forms.Form):
    amount = AmountField(label=_("Amount"))
    received_on = forms.DateField(label=_("Received on"), widget=DateInput())
    method = forms.ChoiceField(label=_("Method"), choices=Payment.Method.choices)
    reference = forms.CharField(label=_("Reference"), required=False, max_length=100)
    # A fresh key per rendered form: a double click or a resubmitted page posts the payment once.
    idempotency_key = forms.CharField(widget=forms.HiddenInput, required=False, max_length=100)

    def __init__(self, *args: Any, today: dt.date, **kwargs: Any) -> None:
        kwargs.setdefault("auto_id", "pay_%s")
        kwargs.setdefault(
            "initial",
            {
                "received_on": today,
                "method": Payment.Method.BANK_TRANSFER,
                "idempotency_key": uuid.uuid4().hex,
            },
        )
        super().__init__(*args, **kwargs)
        self.fields["received_on"].widget.attrs["max"] = today.isoformat()
        self.fields["amount"].widget.attrs.update(inputmode="decimal", autocomplete="off")


class ReverseForm(forms.Form):
    reason = forms.CharField(label=_("Reason"), max_length=500)


class StatusForm(forms.Form):
    status = forms.ChoiceField(label=_("New status"))
    reason = forms.CharField(
        label=_("Reason"), max_length=500, widget=forms.Textarea(attrs={"rows": 2})
    )

    def __init__(self, *args: Any, current: str, **kwargs: Any) -> None:
        kwargs.setdefault("auto_id", "st_%s")
        super().__init__(*args, **kwargs)
        allowed = ACCOUNT_TRANSITIONS[AccountStatus(current)]
        # Every status is offered: the service, not the form, says why a move is refused.
        groups = [
            (_("Allowed"), [(s.value, s.label) for s in AccountStatus if s in allowed]),
            (
                _("Not allowed from here"),
                [(s.value, s.label) for s in AccountStatus if s not in allowed and s != current],
            ),
        ]
        _choices(self, "status").choices = [("", "—"), *((g, opts) for g, opts in groups if opts)]


class AgingForm(forms.Form):
    as_of = forms.DateField(label=_("As of"), required=False, widget=DateInput())
    portfolio = forms.TypedChoiceField(
        label=_("Portfolio"), required=False, coerce=int, empty_value=None
    )

    def __init__(self, *args: Any, portfolios: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        every: list[tuple[Any, Any]] = [("", _("All"))]
        _choices(self, "portfolio").choices = every + [(p.pk, p.name) for p in portfolios]
