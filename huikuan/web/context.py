"""Template context for the one layout: the left navigation and who is signed in."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from django.http import HttpRequest
from django.urls import reverse
from django.utils.functional import Promise
from django.utils.translation import gettext_lazy as _

from huikuan.iam.roles import VIEW_AUDIT_LOG, Role
from huikuan.iam.selectors import user_roles


@dataclass(frozen=True)
class NavItem:
    url_name: str
    label: str | Promise
    # Views that highlight this item besides its own (the account page belongs to the ledger).
    also: tuple[str, ...] = ()
    permission: str | None = None


NAV = (
    NavItem("ledger", _("Collection ledger"), also=("account",)),
    NavItem("aging", _("Aging summary")),
    NavItem("audit_log", _("Audit log"), permission=VIEW_AUDIT_LOG),
    NavItem("tokens", _("API tokens")),
)


def navigation(request: HttpRequest) -> dict[str, Any]:
    """Left-hand navigation, filtered by what the user may open."""
    user = getattr(request, "user", None)
    if user is None or not user.is_authenticated:
        return {"nav_items": []}
    match = getattr(request, "resolver_match", None)
    current = match.url_name if match and match.namespace == "web" else None
    items = [
        {
            "url": reverse(f"web:{item.url_name}"),
            "label": item.label,
            "active": current == item.url_name or current in item.also,
        }
        for item in NAV
        if item.permission is None or user.has_perm(item.permission)
    ]

    def role_labels() -> list[str]:
        # Called by the template only when it shows the top bar, not for every partial.
        return [str(Role(name).label) for name in sorted(user_roles(user))]

    return {"nav_items": items, "nav_roles": role_labels}
