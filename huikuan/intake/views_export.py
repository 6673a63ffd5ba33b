"""Pages that download the ledger and the aging summary as XLSX.

Each reads the same query string as the page it is started from (the ledger list, the aging
summary) with the same form, so the file holds what the page shows, then calls one export
function and sends the workbook. The workbook is written to a temporary file first (openpyxl
needs to finish the ZIP before it can be read), then streamed from disk in blocks.
"""

from __future__ import annotations

import datetime as dt
import tempfile
from typing import IO
from urllib.parse import quote

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import FileResponse, Http404, HttpRequest, HttpResponse
from django.http.response import HttpResponseBase
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import get_language
from django.views.decorators.http import require_GET

from huikuan.intake import export, export_jobs
from huikuan.intake.models import ExportJob
from huikuan.ledger import selectors, services
from huikuan.ledger.forms import AgingForm, LedgerFilterForm
from huikuan.ledger.models import Portfolio


def xlsx_response(file: IO[bytes], result: export.ExportResult) -> FileResponse:
    """The workbook as a download named in the user's language (RFC 5987), with an ASCII
    name for clients that cannot read that; never cached, since it may hold personal data."""
    file.seek(0)
    response = FileResponse(file, content_type=export.CONTENT_TYPE)
    response["Content-Disposition"] = (
        f'attachment; filename="{result.ascii_filename}"; '
        f"filename*=UTF-8''{quote(result.filename, safe='')}"
    )
    response["Cache-Control"] = "private, no-store"
    return response


def _back(request: HttpRequest, name: str) -> HttpResponse:
    query = request.GET.urlencode()
    return redirect(reverse(name) + (f"?{query}" if query else ""))


def _today(portfolio_id: int | None, portfolios: list[Portfolio]) -> dt.date:
    """As the ledger list counts DPD: today in the chosen portfolio's zone, else the site's."""
    chosen = next((p for p in portfolios if p.pk == portfolio_id), None)
    return services.portfolio_today(chosen) if chosen else timezone.localdate()


@login_required
@require_GET
def ledger_export(request: HttpRequest) -> HttpResponseBase:
    portfolios = list(selectors.portfolios_visible_to(request.user))
    form = LedgerFilterForm(request.GET, portfolios=portfolios, buckets=selectors.bucket_codes())
    form.is_valid()  # as on the list, an invalid field filters nothing
    flt = form.to_filter()
    as_of = _today(flt.portfolio, portfolios)
    if export_jobs.too_long_for_a_request(request.user, flt, as_of):
        job = export_jobs.export_job_create(
            actor=request.user, flt=flt, as_of=as_of, language=get_language()
        )
        return redirect("web:export_detail", pk=job.pk)
    file = tempfile.TemporaryFile()  # noqa: SIM115 — FileResponse closes it when sent
    try:
        result = export.ledger_export(file, actor=request.user, flt=flt, as_of=as_of)
    except export.ExportTooLarge as exc:
        file.close()
        messages.error(request, exc.messages[0])
        return _back(request, "web:ledger")
    except BaseException:
        file.close()
        raise
    return xlsx_response(file, result)


@login_required
@require_GET
def aging_export(request: HttpRequest) -> HttpResponseBase:
    portfolios = list(selectors.portfolios_visible_to(request.user))
    today = timezone.localdate()
    form = AgingForm(request.GET or None, portfolios=portfolios, initial={"as_of": today})
    as_of, portfolio = today, None
    if form.is_valid():
        as_of = form.cleaned_data["as_of"] or today
        portfolio = form.cleaned_data["portfolio"]
    file = tempfile.TemporaryFile()  # noqa: SIM115 — FileResponse closes it when sent
    try:
        result = export.aging_export(file, actor=request.user, as_of=as_of, portfolio=portfolio)
    except BaseException:
        file.close()
        raise
    return xlsx_response(file, result)


def _own_export(request: HttpRequest, pk: int) -> ExportJob:
    """An export job is its requester's alone (it holds what their role may see)."""
    job = ExportJob.objects.filter(pk=pk, created_by_id=request.user.pk).first()
    if job is None:
        raise Http404
    return job


@login_required
@require_GET
def export_detail(request: HttpRequest, pk: int) -> HttpResponse:
    job = _own_export(request, pk)
    context = {"job": job, "progress": export_jobs.progress_get(job)}
    return render(request, "intake/export_detail.html", context)


@login_required
@require_GET
def export_progress(request: HttpRequest, pk: int) -> HttpResponse:
    job = _own_export(request, pk)
    context = {"job": job, "progress": export_jobs.progress_get(job)}
    response = render(request, "intake/_export_progress.html", context)
    if job.status in (ExportJob.Status.DONE, ExportJob.Status.FAILED):
        response["HX-Redirect"] = reverse("web:export_detail", args=[job.pk])
    return response


@login_required
@require_GET
def export_download(request: HttpRequest, pk: int) -> FileResponse:
    job = _own_export(request, pk)
    try:
        path = export_jobs.export_download(job, actor=request.user)
    except FileNotFoundError as exc:
        raise Http404 from exc
    result = export.ExportResult(
        rows=job.rows, pii=False, filename=job.file_name, ascii_filename=job.ascii_file_name
    )
    return xlsx_response(path.open("rb"), result)
