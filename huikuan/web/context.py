"""Template context for the one layout: the left navigation and who is signed in."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from django.http import HttpRequest
from django.urls import reverse
from django.utils.functional import Promise
from django.utils.translation import gettext_lazy as _

from huikuan.iam.roles import (
    MANAGE_LEDGER,
    MANAGE_STRATEGY,
    POST_PAYMENT,
    RUN_CYCLE,
    VIEW_ALL,
    VIEW_AUDIT_LOG,
    Role,
)
from huikuan.iam.selectors import user_roles


@dataclass(frozen=True)
class NavItem:
    url_name: str
    label: str | Promise
    # Views that highlight this item besides its own (the account page belongs to the ledger).
    also: tuple[str, ...] = ()
    # Shown to users holding any of these permissions; None: to everybody signed in.
    permission: str | tuple[str, ...] | None = None


NAV = (
    NavItem("ledger", _("Collection ledger"), also=("account",)),
    NavItem("aging", _("Aging summary")),
    NavItem(
        "import_list",
        _("Imports"),
        also=("import_detail", "payments_review"),
        permission=(MANAGE_LEDGER, POST_PAYMENT),
    ),
    NavItem(
        "cycle_runs",
        _("Daily cycle"),
        also=("cycle_run", "report_aging", "report_rolls", "report_segments", "report_actions"),
        permission=(RUN_CYCLE, VIEW_ALL),
    ),
    NavItem(
        "segments",
        _("Segments and strategies"),
        also=("segment_edit", "segment_new", "strategies", "strategy_version"),
        permission=(MANAGE_STRATEGY, VIEW_ALL),
    ),
    NavItem("audit_log", _("Audit log"), permission=VIEW_AUDIT_LOG),
    NavItem("tokens", _("API tokens")),
)


def _may_open(user: Any, permission: str | tuple[str, ...] | None) -> bool:
    if permission is None:
        return True
    wanted = (permission,) if isinstance(permission, str) else permission
    return any(user.has_perm(p) for p in wanted)


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
        if _may_open(user, item.permission)
    ]

    def role_labels() -> list[str]:
        # Called by the template only when it shows the top bar, not for every partial.
        return [str(Role(name).label) for name in sorted(user_roles(user))]

    return {"nav_items": items, "nav_roles": role_labels}
