"""API endpoints of import jobs; exports and the payments review have routers of their own.

An upload is a multipart POST; the job then runs in the background (poll ``GET /imports/{id}``
for its progress and counts) unless a column must still be mapped, in which case the job waits
in ``mapping`` with the header, the guess and the missing fields, and ``PUT .../mapping``
starts it.
"""

from __future__ import annotations

from typing import Any

from django.core.exceptions import ValidationError
from django.http import FileResponse, Http404, HttpRequest
from django.utils.translation import get_language
from django.utils.translation import gettext as _
from ninja import Field, File, Form, Query, Router, Schema
from ninja.files import UploadedFile

from huikuan.api.pagination import CursorParams, Page, paginate
from huikuan.intake import jobs, selectors
from huikuan.intake.api_export import router as export_router
from huikuan.intake.api_payments import router as payments_router
from huikuan.intake.headers import missing_fields
from huikuan.intake.models import ImportJob
from huikuan.ledger.models import Creditor, Portfolio

router = Router()


class ProgressOut(Schema):
    phase: str
    done: int
    total: int
    percent: int


class ImportOut(Schema):
    id: int
    kind: str
    status: str
    status_label: str
    creditor: str = Field(description="The creditor's code.")
    portfolio: str | None = Field(description="The portfolio's code.")
    file_name: str
    sha256: str
    size_bytes: int
    mode: str
    dry_run: bool
    header_row: int | None
    headers: list[str]
    mapping: dict[str, str] = Field(description="Column index (0-based, as text) → field.")
    missing_fields: list[str]
    counts: dict[str, Any]
    error_count: int
    message: str
    progress: ProgressOut
    report_url: str | None
    created_at: Any
    finished_at: Any

    @staticmethod
    def from_job(job: ImportJob) -> ImportOut:
        progress = jobs.progress_get(job)
        has_report = job.error_count > 0 and jobs.report_file(job).exists()
        return ImportOut(
            id=job.pk,
            kind=job.kind,
            status=job.status,
            status_label=str(job.get_status_display()),
            creditor=job.creditor.code,
            portfolio=job.portfolio.code if job.portfolio else None,
            file_name=job.file_name,
            sha256=job.sha256,
            size_bytes=job.size_bytes,
            mode=job.mode,
            dry_run=job.dry_run,
            header_row=job.header_row,
            headers=list(job.headers),
            mapping=dict(job.mapping),
            missing_fields=missing_fields(jobs.mapping_of(job), jobs.schema_of(job))
            if job.headers
            else [],
            counts=dict(job.counts),
            error_count=job.error_count,
            message=job.message,
            progress=ProgressOut(
                phase=progress.phase,
                done=progress.done,
                total=progress.total,
                percent=progress.percent,
            ),
            report_url=f"/api/v1/imports/{job.pk}/report" if has_report else None,
            created_at=job.created_at,
            finished_at=job.finished_at,
        )


class ImportIn(Schema):
    kind: str = Field(description="`ledger` or `payments`.")
    creditor: str = Field(description="The creditor's code.")
    portfolio: str | None = Field(None, description="The portfolio's code (ledger files).")
    mode: str = Field(
        ImportJob.Mode.ALL_OR_NOTHING, description="`all_or_nothing` or `valid_only`."
    )
    dry_run: bool = Field(False, description="Validate only; write nothing.")
    sheet: str = Field("", description="XLSX sheet name; the first when empty.")


class MappingIn(Schema):
    mapping: dict[int, str] = Field(
        description="Column index (0-based) → field; columns left out are ignored."
    )
    save_profile: bool = True


class StartIn(Schema):
    mode: str | None = Field(
        None, description="`valid_only` to import a rejected file's valid rows."
    )


def _creditor(code: str) -> Creditor:
    found = Creditor.objects.filter(code=code).first()
    if found is None:
        raise ValidationError(
            {"creditor": _("No creditor has the code %(code)s.") % {"code": code}}
        )
    return found


def _portfolio(creditor: Creditor, code: str | None) -> Portfolio | None:
    if not code:
        return None
    found = Portfolio.objects.filter(creditor=creditor, code=code).first()
    if found is None:
        raise ValidationError(
            {"portfolio": _("The creditor has no portfolio %(code)s.") % {"code": code}}
        )
    return found


@router.get("/imports", response=Page[ImportOut])
def import_list(request: HttpRequest, page: Query[CursorParams]) -> dict[str, Any]:
    return paginate(selectors.jobs_visible_to(request.user), page, ImportOut.from_job)


@router.post("/imports", response={201: ImportOut})
def import_create(
    request: HttpRequest, payload: Form[ImportIn], file: File[UploadedFile]
) -> tuple[int, ImportOut]:
    """Upload a file. The job starts at once when every required column was recognised."""
    creditor = _creditor(payload.creditor)
    job = jobs.import_job_create(
        actor=request.user,
        kind=payload.kind,
        creditor=creditor,
        portfolio=_portfolio(creditor, payload.portfolio),
        source=file.chunks(),
        file_name=file.name or "upload",
        mode=payload.mode,
        dry_run=payload.dry_run,
        sheet=payload.sheet,
        language=get_language(),
    )
    if not job.headers or not missing_fields(jobs.mapping_of(job), jobs.schema_of(job)):
        jobs.import_job_start(job, actor=request.user)
    job.refresh_from_db()
    return 201, ImportOut.from_job(job)


@router.get("/imports/{job_id}", response=ImportOut)
def import_detail(request: HttpRequest, job_id: int) -> ImportOut:
    return ImportOut.from_job(selectors.access_job(request.user, job_id))


@router.put("/imports/{job_id}/mapping", response=ImportOut)
def import_map(request: HttpRequest, job_id: int, payload: MappingIn) -> ImportOut:
    """Set the columns and start the job."""
    job = selectors.access_job(request.user, job_id)
    jobs.import_job_map(
        job, actor=request.user, mapping=payload.mapping, save_profile=payload.save_profile
    )
    jobs.import_job_start(job, actor=request.user)
    job.refresh_from_db()
    return ImportOut.from_job(job)


@router.post("/imports/{job_id}/start", response=ImportOut)
def import_start(request: HttpRequest, job_id: int, payload: StartIn) -> ImportOut:
    """Start a job again, e.g. a rejected file with ``mode: valid_only``."""
    job = selectors.access_job(request.user, job_id)
    jobs.import_job_start(job, actor=request.user, mode=payload.mode)
    job.refresh_from_db()
    return ImportOut.from_job(job)


@router.post("/imports/{job_id}/cancel", response=ImportOut)
def import_cancel(request: HttpRequest, job_id: int) -> ImportOut:
    job = selectors.access_job(request.user, job_id)
    return ImportOut.from_job(jobs.import_job_cancel(job, actor=request.user))


@router.get("/imports/{job_id}/report")
def import_report(request: HttpRequest, job_id: int) -> FileResponse:
    """The file's rows that have errors, with an error column (CSV, UTF-8 with BOM)."""
    job = selectors.access_job(request.user, job_id)
    path = jobs.report_file(job)
    if not path.exists():
        raise Http404
    return FileResponse(
        path.open("rb"), as_attachment=True, filename=path.name, content_type="text/csv"
    )


router.add_router("/", export_router)
router.add_router("/", payments_router)
