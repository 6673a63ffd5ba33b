"""Filters every page uses, so money, DPD and buckets look the same everywhere.

``{% load huikuan %}`` then ``{{ amount|money:currency }}``, ``{{ bucket|bucket_class }}``,
``{{ days|dpd }}`` and ``{% query page=2 %}``.
"""

from __future__ import annotations

import json
from decimal import Decimal
from typing import Any

from django import template
from django.template.context import Context
from django.urls import reverse
from django.utils.translation import gettext as _
from django.utils.translation import ngettext

from huikuan.audit.views import ACTION_LABELS, OBJECT_LABELS
from huikuan.ledger.domain import AccountStatus
from huikuan.lib.money import format_amount

register = template.Library()

# One colour per step from "current" (green) to the last, open-ended bucket (red); portfolios
# with more buckets than steps share the reddest step for everything past the fourth bound.
BUCKET_STEPS = 5


@register.filter
def money(value: Decimal | int | str | None, currency: str = "CNY") -> str:
    """``1234.5|money:"CNY"`` → ``¥1,234.50``: thousands separators, the currency's decimals."""
    if value is None or value == "":
        return "—"
    return format_amount(Decimal(value), currency)


@register.filter
def bucket_class(bucket: Any) -> str:
    """CSS class for a bucket (a ``domain.Bucket`` or its index): ``bk-0`` … ``bk-4``."""
    index = getattr(bucket, "index", bucket)
    try:
        step = int(index)
    except (TypeError, ValueError):
        return "bk-none"
    return f"bk-{min(max(step, 0), BUCKET_STEPS - 1)}"


@register.filter
def dpd(value: int | None, style: str = "") -> str:
    """Days past due: ``45`` in tables, ``45 days`` with ``dpd:"long"``; 0 reads as not overdue."""
    if value is None:
        return "—"
    days = int(value)
    if style == "long":
        if days <= 0:
            return _("Not overdue")
        return ngettext("%(n)s day", "%(n)s days", days) % {"n": f"{days:,}"}
    return f"{days:,}" if days > 0 else "0"


@register.simple_tag(takes_context=True)
def query(context: Context, **changes: Any) -> str:
    """The current query string with some keys replaced (a blank value drops the key)."""
    params = context["request"].GET.copy()
    for key, value in changes.items():
        params.pop(key, None)
        if value not in (None, ""):
            params[key] = value
    encoded = params.urlencode()
    return f"?{encoded}" if encoded else "?"


# --- audit events ---------------------------------------------------------------------------

_CHANGE_WIDTH = 80


@register.filter
def audit_action(code: str) -> str:
    return str(ACTION_LABELS.get(code, code))


@register.filter
def audit_object(event: Any) -> str:
    label = OBJECT_LABELS.get(event.object_type, event.object_type)
    return f"{label} #{event.object_id}"


@register.filter
def audit_object_url(event: Any) -> str:
    if event.object_type == "ledger.account":
        return reverse("web:account", args=[event.object_id])
    return ""


@register.filter
def audit_changes(changes: Any) -> list[tuple[str, str, str]]:
    """``{"status": ["current", "delinquent"]}`` → ``[("status", "Current", "Delinquent")]``."""
    if not isinstance(changes, dict):
        return []
    lines = []
    for name, pair in changes.items():
        old, new = pair if isinstance(pair, list) and len(pair) == 2 else (None, pair)
        lines.append((str(name), _change_value(name, old), _change_value(name, new)))
    return lines


def _change_value(name: str, value: Any) -> str:
    if value is None:
        return "—"
    if name == "status" and value in AccountStatus.values:
        return str(AccountStatus(value).label)
    text = json.dumps(value, ensure_ascii=False) if isinstance(value, list | dict) else str(value)
    return text if len(text) <= _CHANGE_WIDTH else text[: _CHANGE_WIDTH - 1] + "…"
