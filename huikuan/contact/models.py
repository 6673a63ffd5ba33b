"""What the workbench records about contact with debtors.

``AccountContactState`` is the one narrow row per account that the rest of the system reads
about it: the daily cycle (promise and plan status, the disputed amount: strategy escalation and
pauses), the work queue (promises due, follow-ups, last progress: priority and rotation). The
contact services keep it current whenever an action, promise, plan or dispute is written, so
that nobody rescans actions to learn where an account stands.
"""

from __future__ import annotations

from django.db import models
from django.utils.translation import gettext_lazy as _


class AccountContactState(models.Model):
    class PromiseStatus(models.TextChoices):
        NONE = "none", _("No promise")
        OPEN = "open", _("Promise open")
        KEPT = "kept", _("Promise kept")
        BROKEN = "broken", _("Promise broken")

    class PlanStatus(models.TextChoices):
        NONE = "none", _("No plan")
        PROPOSED = "proposed", _("Plan proposed")
        ACTIVE = "active", _("Plan active")
        COMPLETED = "completed", _("Plan completed")
        BROKEN = "broken", _("Plan broken")

    account = models.OneToOneField(
        "ledger.Account", on_delete=models.CASCADE, primary_key=True, related_name="contact_state"
    )
    # The latest promise's standing; the cycle reads an open promise due on its as-of date as
    # "due today" and one due before it as broken until the evaluation says otherwise.
    promise_status = models.CharField(
        _("promise"), max_length=8, choices=PromiseStatus.choices, default=PromiseStatus.NONE
    )
    promise_due_on = models.DateField(_("promise due"), null=True, blank=True)
    promised_amount = models.DecimalField(
        _("promised amount"), max_digits=20, decimal_places=2, default=0
    )
    plan_status = models.CharField(
        _("payment plan"), max_length=10, choices=PlanStatus.choices, default=PlanStatus.NONE
    )
    # Open disputes' total: that much of the overdue amount is paused in the strategy.
    disputed_amount = models.DecimalField(
        _("disputed amount"), max_digits=20, decimal_places=2, default=0
    )
    next_follow_up_at = models.DateTimeField(_("next follow-up"), null=True, blank=True)
    last_action_at = models.DateTimeField(_("last action"), null=True, blank=True)
    # The last day something moved the account forward (a right-party contact, a promise, a
    # payment, a plan): the start of rotation's "no progress" clock.
    last_progress_on = models.DateField(_("last progress"), null=True, blank=True)
    last_excuse = models.CharField(_("last excuse"), max_length=12, blank=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        verbose_name = _("account contact state")
        verbose_name_plural = _("account contact states")
        indexes = [
            models.Index(fields=("promise_due_on",), name="contact_state_promise_due"),
            models.Index(fields=("next_follow_up_at",), name="contact_state_follow_up"),
        ]

    def __str__(self) -> str:
        return f"{self.account_id} {self.promise_status}/{self.plan_status}"
