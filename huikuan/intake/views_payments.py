"""The review screen of a payments import: a job's bank lines by status, a person's decisions
(pick an account, skip with a note) and posting the matched lines.

Views parse, check the permission (403), fetch through ``payments_selectors`` (404 for a job or
line out of reach), call one service and render. HTMX requests get the changed line and the
counts back; without JavaScript every form posts and the page reloads.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from django import forms
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.paginator import Paginator
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.http import urlencode
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy, ngettext
from django.views.decorators.http import require_GET, require_POST

from huikuan.iam.roles import POST_PAYMENT
from huikuan.intake import jobs, payments
from huikuan.intake import payments_selectors as selectors
from huikuan.intake.models import ImportJob, StatementLine
from huikuan.ledger.selectors import accounts_visible_to
from huikuan.lib.views import is_partial

PAGE_SIZE = 50
RULE_LABELS = {
    "contract_in_text": gettext_lazy("Contract number in the text"),
    "name_and_amount": gettext_lazy("Payer name and amount"),
    "name_only": gettext_lazy("Payer name only"),
    payments.RULE_MANUAL: gettext_lazy("Chosen by a person"),
}


class AssignForm(forms.Form):
    account = forms.IntegerField(label=gettext_lazy("Account"), min_value=1)
    note = forms.CharField(label=gettext_lazy("Note"), required=False, max_length=500)


class SkipForm(forms.Form):
    note = forms.CharField(label=gettext_lazy("Why skip it"), max_length=500)


@dataclass
class LineRow:
    line: StatementLine
    candidates: list[selectors.AccountChoice] = field(default_factory=list)
    results: list[selectors.AccountChoice] | None = None  # a search's, None: no search yet
    query: str = ""
    errors: list[str] = field(default_factory=list)

    @property
    def open(self) -> bool:
        return self.line.status in selectors.OPEN

    @property
    def rule_label(self) -> str:
        return str(RULE_LABELS.get(self.line.rule, ""))


def _require(user: Any) -> None:
    if not user.has_perm(POST_PAYMENT):
        raise PermissionDenied


def _job(request: HttpRequest, job_id: int) -> ImportJob:
    _require(request.user)
    return selectors.access_payments_job(request.user, job_id)


def _status(request: HttpRequest, counts: dict[str, int]) -> str:
    """The group shown: the one asked for, else the first that needs a person."""
    asked = request.GET.get("status") or request.POST.get("status") or ""
    if asked in counts:
        return asked
    return next((s for s in selectors.STATUS_ORDER if counts[s]), StatementLine.Status.AMBIGUOUS)


def _review_url(job: ImportJob, status: str = "", **params: Any) -> str:
    query = {"status": status, **params} if status else params
    url = reverse("web:payments_review", kwargs={"job_id": job.pk})
    return f"{url}?{urlencode(query)}" if query else url


def _rows(
    user: Any, job: ImportJob, lines: list[StatementLine], *, search: tuple[int, str] | None = None
) -> list[LineRow]:
    decidable = [line for line in lines if line.status in selectors.OPEN]
    candidates = selectors.candidate_choices(user, job, decidable)
    rows = []
    for line in lines:
        row = LineRow(line, candidates.get(line.pk, []))
        if search is not None and search[0] == line.pk:
            row.query = search[1]
            row.results = selectors.account_search(user, job, search[1])
        rows.append(row)
    return rows


def _counts_context(job: ImportJob, status: str) -> dict[str, Any]:
    counts = selectors.line_counts(job)
    labels = dict(StatementLine.Status.choices)
    return {
        "job": job,
        "status": status,
        "counts": counts,
        "groups": [(s, labels[s], counts[s]) for s in selectors.STATUS_ORDER],
        "can_post": job.status == ImportJob.Status.REVIEW and counts["matched"] > 0,
    }


@login_required
@require_GET
def payments_review(request: HttpRequest, job_id: int) -> HttpResponse:
    job = _job(request, job_id)
    if job.status not in (ImportJob.Status.REVIEW, ImportJob.Status.DONE):
        # Not read yet (or never will be): the job's page shows its progress or its error.
        return redirect("web:import_detail", pk=job.pk)
    context = _counts_context(job, "")
    status = _status(request, context["counts"])
    context["status"] = status
    page = Paginator(selectors.job_lines(job, status), PAGE_SIZE).get_page(request.GET.get("page"))
    search = None
    if (line_id := request.GET.get("line", "")).isdigit() and "q" in request.GET:
        search = (int(line_id), request.GET["q"])
    context.update(
        {
            "page_obj": page,
            "rows": _rows(request.user, job, list(page.object_list), search=search),
            "has_report": job.error_count > 0 and jobs.report_file(job).exists(),
        }
    )
    return render(request, "intake/payments_review.html", context)


@login_required
@require_GET
def payments_search(request: HttpRequest, job_id: int, line_id: int) -> HttpResponse:
    """The creditor's accounts by contract number or debtor name, to pick one for a line."""
    job = _job(request, job_id)
    line = selectors.access_line(job, line_id)
    query = request.GET.get("q", "")
    if not is_partial(request):
        return redirect(_review_url(job, line.status, line=line.pk, q=query) + f"#line-{line.pk}")
    [row] = _rows(request.user, job, [line], search=(line.pk, query))
    context = {"job": job, "row": row, "status": request.GET.get("status", line.status)}
    return render(request, "intake/payments_search.html", context)


@login_required
@require_POST
def payments_assign(request: HttpRequest, job_id: int, line_id: int) -> HttpResponse:
    job = _job(request, job_id)
    line = selectors.access_line(job, line_id)
    form = AssignForm(request.POST)
    errors: list[str] = []
    if not form.is_valid():
        errors = [str(e) for field_errors in form.errors.values() for e in field_errors]
    else:
        account = accounts_visible_to(request.user).filter(pk=form.cleaned_data["account"]).first()
        if account is None:  # unknown and out of scope read the same
            errors = [_("Choose one of %(creditor)s's accounts.") % {"creditor": job.creditor}]
        else:
            try:
                line = payments.line_assign(
                    line, account, actor=request.user, note=form.cleaned_data["note"]
                )
            except ValidationError as exc:
                errors = exc.messages
    return _decided(request, job, line, errors, _("Line %(line)s goes to %(contract)s."))


@login_required
@require_POST
def payments_skip(request: HttpRequest, job_id: int, line_id: int) -> HttpResponse:
    job = _job(request, job_id)
    line = selectors.access_line(job, line_id)
    form = SkipForm(request.POST)
    errors: list[str] = []
    if not form.is_valid():
        errors = [_("Say why the line is skipped.")]
    else:
        try:
            line = payments.line_skip(line, actor=request.user, note=form.cleaned_data["note"])
        except ValidationError as exc:
            errors = exc.messages
    return _decided(request, job, line, errors, _("Line %(line)s is skipped."))


def _decided(
    request: HttpRequest, job: ImportJob, line: StatementLine, errors: list[str], done: str
) -> HttpResponse:
    """The answer to a decision: for HTMX the line and the counts, else back to the list."""
    status = request.POST.get("status", "")
    line = selectors.access_line(job, line.pk)
    job.refresh_from_db(fields=["status"])
    if is_partial(request):
        context = _counts_context(job, status or line.status)
        [row] = _rows(request.user, job, [line])
        row.errors = errors
        context["row"] = row
        # 200 even when refused: htmx swaps only successful answers, and the line shows why.
        return render(request, "intake/payments_decided.html", context)
    if errors:
        messages.error(request, " ".join(errors))
    else:
        contract = line.account.contract_no if line.account else ""
        messages.success(request, done % {"line": line.line_no, "contract": contract})
    return redirect(_review_url(job, status) + f"#line-{line.pk}")


@login_required
@require_POST
def payments_post(request: HttpRequest, job_id: int) -> HttpResponse:
    """Post every matched line; the job closes when no line waits for a person any more."""
    job = _job(request, job_id)
    before = selectors.line_counts(job)
    try:
        job = jobs.payments_post_matched(job, actor=request.user)
    except ValidationError as exc:
        messages.error(request, " ".join(exc.messages))
        return redirect(_review_url(job))
    outcome = selectors.posting_outcome(before, selectors.line_counts(job))
    messages.success(
        request,
        ngettext("%(n)s payment posted.", "%(n)s payments posted.", outcome["posted"])
        % {"n": outcome["posted"]},
    )
    if outcome["duplicate"]:
        messages.warning(
            request,
            ngettext(
                "%(n)s line had been posted before (the same statement imported twice); "
                "nothing was posted again for it.",
                "%(n)s lines had been posted before (the same statement imported twice); "
                "nothing was posted again for them.",
                outcome["duplicate"],
            )
            % {"n": outcome["duplicate"]},
        )
    if outcome["refused"]:
        messages.error(
            request,
            ngettext(
                "%(n)s line could not be posted and is back among the unmatched ones; its note "
                "says why.",
                "%(n)s lines could not be posted and are back among the unmatched ones; their "
                "notes say why.",
                outcome["refused"],
            )
            % {"n": outcome["refused"]},
        )
    return redirect(_review_url(job, StatementLine.Status.POSTED))
