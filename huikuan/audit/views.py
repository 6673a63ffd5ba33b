"""The audit log page, and the labels every page uses to show audit events."""

from __future__ import annotations

from typing import Any, cast

from django import forms
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.core.paginator import Paginator
from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.utils.translation import gettext_lazy as _

from huikuan.audit.models import AuditEvent
from huikuan.iam.roles import VIEW_AUDIT_LOG
from huikuan.lib.views import is_partial

PAGE_SIZE = 50

ACTION_LABELS = {
    "account.create": _("Account created"),
    "account.status": _("Status changed"),
    "account.update": _("Account updated by an import"),
    "debtor.update": _("Debtor updated by an import"),
    "item.update": _("Item updated by an import"),
    "demo.generate": _("Demo portfolio loaded"),
    "import.upload": _("File uploaded"),
    "import.map": _("Columns mapped"),
    "import.start": _("Import started"),
    "import.ledger": _("Ledger rows imported"),
    "import.finish": _("Import finished"),
    "import.cancel": _("Import cancelled"),
    "payments.line_assign": _("Bank line assigned"),
    "payments.line_skip": _("Bank line skipped"),
    "payments.line_post": _("Bank line posted"),
    "payments.line_duplicate": _("Bank line already posted"),
    "payments.line_refused": _("Bank line refused"),
    "export.ledger": _("Ledger exported"),
    "export.aging": _("Aging report exported"),
    "export.queue": _("Export queued"),
    "export.download": _("Export downloaded"),
    "contact.create": _("Contact added"),
    "creditor.create": _("Creditor created"),
    "debtor.create": _("Debtor created"),
    "payment.post": _("Payment posted"),
    "payment.reverse": _("Payment reversed"),
    "portfolio.create": _("Portfolio created"),
    "team.create": _("Team created"),
    "token.create": _("API token created"),
    "token.revoke": _("API token revoked"),
    "cycle.start": _("Cycle run started"),
    "cycle.resume": _("Cycle run resumed"),
    "cycle.finish": _("Cycle run finished"),
    "segment.create": _("Segment created"),
    "segment.update": _("Segment changed"),
    "segment.move": _("Segment moved"),
    "strategy.create": _("Strategy created"),
    "strategy.version": _("Strategy version created"),
    "strategy.update": _("Strategy version changed"),
    "strategy.steps": _("Strategy steps changed"),
    "strategy.activate": _("Strategy version activated"),
    "strategy.retire": _("Strategy version retired"),
    "user.create": _("User created"),
}

OBJECT_LABELS = {
    "ledger.account": _("Account"),
    "ledger.payment": _("Payment"),
    "ledger.debtor": _("Debtor"),
    "ledger.contact": _("Contact"),
    "ledger.creditor": _("Creditor"),
    "ledger.portfolio": _("Portfolio"),
    "iam.user": _("User"),
    "iam.team": _("Team"),
    "iam.apitoken": _("API token"),
    "intake.importjob": _("Import"),
    "intake.statementline": _("Bank line"),
    "intake.exportjob": _("Export"),
    "cycle.cyclerun": _("Cycle run"),
    "strategy.segment": _("Segment"),
    "strategy.strategy": _("Strategy"),
}


class AuditFilterForm(forms.Form):
    object_type = forms.ChoiceField(label=_("Object"), required=False)
    object_id = forms.CharField(label=_("Object ID"), required=False, max_length=64)
    actor = forms.CharField(label=_("Actor"), required=False, max_length=150)
    action = forms.ChoiceField(label=_("Action"), required=False)

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        every: list[tuple[str, Any]] = [("", _("All"))]
        for name, labels in (("object_type", OBJECT_LABELS), ("action", ACTION_LABELS)):
            cast(forms.ChoiceField, self.fields[name]).choices = every + list(labels.items())
        self.fields["object_id"].widget.attrs["size"] = 8


def _search(data: dict[str, Any]) -> QuerySet[AuditEvent]:
    # The whole log, for roles that may read all of it; no data scope applies (VIEW_AUDIT_LOG).
    events = AuditEvent.objects.order_by("-at", "-id")
    if data.get("object_type"):
        events = events.filter(object_type=data["object_type"])
    if data.get("object_id"):
        events = events.filter(object_id=data["object_id"].strip())
    if data.get("actor"):
        events = events.filter(actor_label__icontains=data["actor"].strip())
    if data.get("action"):
        events = events.filter(action=data["action"])
    return events


@login_required
def audit_log(request: HttpRequest) -> HttpResponse:
    if not request.user.has_perm(VIEW_AUDIT_LOG):
        raise PermissionDenied
    form = AuditFilterForm(request.GET)
    form.is_valid()
    page = Paginator(_search(form.cleaned_data), PAGE_SIZE).get_page(request.GET.get("page"))
    context = {"form": form, "page_obj": page}
    template = "audit/_log_results.html" if is_partial(request) else "audit/log.html"
    return render(request, template, context)
