"""The roles of DESIGN.md §1 and the permissions each one carries.

Roles are Django groups; this table is their single definition. A data migration (and
``iam.services.roles_sync``) makes the groups match it.
"""

from __future__ import annotations

from django.db import models
from django.utils.translation import gettext_lazy as _


class Role(models.TextChoices):
    COLLECTOR = "collector", _("Collector")
    TEAM_LEAD = "team_lead", _("Team lead")
    MANAGER = "manager", _("Collection manager")
    LEGAL = "legal", _("Legal")
    COMPLIANCE = "compliance", _("Compliance officer")
    AUDITOR = "auditor", _("Auditor")
    FINANCE = "finance", _("Finance")
    ADMIN = "admin", _("Administrator")
    AGENCY = "agency", _("Agency user")


# Permissions are "app_label.codename". Reading an account is governed by the data scope
# (iam.selectors), not by a permission: everybody with a role reads what their scope allows.
VIEW_ALL = "ledger.view_all_accounts"
VIEW_PII = "ledger.view_pii"
POST_PAYMENT = "ledger.post_payment"
REVERSE_PAYMENT = "ledger.reverse_payment"
CHANGE_STATUS = "ledger.change_account_status"
MANAGE_LEDGER = "ledger.manage_ledger"
VIEW_AUDIT_LOG = "audit.view_audit_log"
MANAGE_USERS = "iam.manage_users"
RUN_CYCLE = "cycle.run_cycle"
MANAGE_STRATEGY = "strategy.manage_strategy"

ROLE_PERMISSIONS: dict[Role, frozenset[str]] = {
    Role.COLLECTOR: frozenset(),
    Role.TEAM_LEAD: frozenset({CHANGE_STATUS}),
    Role.MANAGER: frozenset(
        {
            VIEW_ALL,
            VIEW_PII,
            POST_PAYMENT,
            REVERSE_PAYMENT,
            CHANGE_STATUS,
            MANAGE_LEDGER,
            VIEW_AUDIT_LOG,
            RUN_CYCLE,
            MANAGE_STRATEGY,
        }
    ),
    Role.LEGAL: frozenset({VIEW_ALL, VIEW_PII, CHANGE_STATUS}),
    Role.COMPLIANCE: frozenset({VIEW_ALL, VIEW_PII, VIEW_AUDIT_LOG}),
    Role.AUDITOR: frozenset({VIEW_ALL, VIEW_AUDIT_LOG}),
    Role.FINANCE: frozenset({VIEW_ALL, POST_PAYMENT, REVERSE_PAYMENT, MANAGE_LEDGER}),
    Role.ADMIN: frozenset({VIEW_ALL, MANAGE_USERS, VIEW_AUDIT_LOG}),
    Role.AGENCY: frozenset(),
}
