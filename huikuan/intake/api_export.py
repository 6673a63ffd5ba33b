"""API endpoints of the XLSX exports: the ledger and the aging summary.

They take the parameters of ``GET /accounts`` and ``GET /aging`` and answer with the workbook
the web pages give for the same filter: the same scope (ledger.selectors), the same masking,
the same audit event. Too many rows for one sheet is a 422 asking to narrow the filter.
"""

from __future__ import annotations

import datetime as dt
import tempfile
from typing import Any, Literal

from django.http import FileResponse, Http404, HttpRequest
from django.utils import timezone
from django.utils.translation import get_language
from ninja import Field, Query, Router, Schema

from huikuan.intake import export, export_jobs
from huikuan.intake.models import ExportJob
from huikuan.intake.views_export import xlsx_response
from huikuan.ledger import selectors, services
from huikuan.ledger.schemas import AccountFilter

router = Router(tags=["export"])

SortKey = Literal[
    "dpd", "-dpd", "outstanding", "-outstanding", "contract", "-contract", "debtor", "-debtor",
    "status", "-status",
]  # fmt: skip


class ExportJobOut(Schema):
    id: int
    status: str
    rows: int
    done: int
    total: int
    message: str
    file_url: str | None

    @staticmethod
    def from_job(job: ExportJob) -> ExportJobOut:
        progress = export_jobs.progress_get(job)
        done = job.status == ExportJob.Status.DONE
        return ExportJobOut(
            id=job.pk,
            status=job.status,
            rows=job.rows,
            done=progress.done,
            total=progress.total,
            message=job.message,
            file_url=f"/api/v1/exports/{job.pk}/file" if done else None,
        )


class LedgerExportFilter(AccountFilter):
    sort: SortKey = Field("-dpd", description="The ledger list's order; `-` for descending.")


def _today(request: HttpRequest, portfolio_id: int | None) -> dt.date:
    """Today in the filtered portfolio's time zone, else in the site's (as ``GET /accounts``)."""
    if portfolio_id is not None and (
        portfolio := selectors.portfolios_visible_to(request.user).filter(pk=portfolio_id).first()
    ):
        return services.portfolio_today(portfolio)
    return timezone.localdate()


@router.get(
    "/ledger/export.xlsx",
    summary="Export the ledger to XLSX",
    response={200: None, 202: ExportJobOut},
)
def ledger_export(request: HttpRequest, flt: Query[LedgerExportFilter]) -> Any:
    """The accounts ``GET /accounts`` lists for these parameters, one row each.

    More accounts than ``HUIKUAN_EXPORT_SYNC_ROWS`` (5,000) answer ``202`` with an export job:
    poll ``GET /exports/{id}`` and fetch ``GET /exports/{id}/file`` when it is done."""
    ledger_filter = selectors.LedgerFilter(
        portfolio=flt.portfolio,
        status=flt.status or "",
        bucket=flt.bucket,
        dpd_min=flt.dpd_min,
        dpd_max=flt.dpd_max,
        amount_min=flt.amount_min,
        amount_max=flt.amount_max,
        text=flt.q,
        sort=flt.sort,
    )
    as_of = flt.as_of or _today(request, flt.portfolio)
    if export_jobs.too_long_for_a_request(request.user, ledger_filter, as_of):
        job = export_jobs.export_job_create(
            actor=request.user, flt=ledger_filter, as_of=as_of, language=get_language()
        )
        return 202, ExportJobOut.from_job(job)
    file = tempfile.TemporaryFile()  # noqa: SIM115 — FileResponse closes it when sent
    try:
        result = export.ledger_export(
            file, actor=request.user, flt=ledger_filter, as_of=as_of, via="api"
        )
    except BaseException:
        file.close()
        raise
    return xlsx_response(file, result)


@router.get("/aging/export.xlsx", summary="Export the aging summary to XLSX")
def aging_export(
    request: HttpRequest, as_of: dt.date | None = None, portfolio: int | None = None
) -> FileResponse:
    """The figures of ``GET /aging`` for these parameters: buckets as columns, totals."""
    when = as_of or _today(request, portfolio)
    file = tempfile.TemporaryFile()  # noqa: SIM115 — FileResponse closes it when sent
    try:
        result = export.aging_export(
            file, actor=request.user, as_of=when, portfolio=portfolio, via="api"
        )
    except BaseException:
        file.close()
        raise
    return xlsx_response(file, result)


def _own_export(request: HttpRequest, job_id: int) -> ExportJob:
    job = ExportJob.objects.filter(pk=job_id, created_by_id=request.user.pk).first()
    if job is None:
        raise Http404
    return job


@router.get("/exports/{job_id}", response=ExportJobOut, summary="A background ledger export")
def export_status(request: HttpRequest, job_id: int) -> ExportJobOut:
    return ExportJobOut.from_job(_own_export(request, job_id))


@router.get("/exports/{job_id}/file", summary="Download a finished background export")
def export_file(request: HttpRequest, job_id: int) -> FileResponse:
    job = _own_export(request, job_id)
    try:
        path = export_jobs.export_download(job, actor=request.user)
    except FileNotFoundError as exc:
        raise Http404 from exc
    result = export.ExportResult(
        rows=job.rows, pii=False, filename=job.file_name, ascii_filename=job.ascii_file_name
    )
    return xlsx_response(path.open("rb"), result)
