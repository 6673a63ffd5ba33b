"""Pages of import jobs: upload, column mapping, progress, result, error report.

Views parse, fetch through ``selectors`` (404 for what is out of reach), call one service in
``jobs`` and render.
"""

from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.paginator import Paginator
from django.http import FileResponse, Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.translation import get_language
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from huikuan.intake import jobs, selectors
from huikuan.intake.errors import IntakeError
from huikuan.intake.forms import MappingForm, UploadForm
from huikuan.intake.models import ImportJob
from huikuan.lib.views import add_service_errors


def _kinds_or_403(user: Any) -> list[str]:
    kinds = selectors.allowed_kinds(user)
    if not kinds:
        raise PermissionDenied
    return kinds


@login_required
def job_list(request: HttpRequest) -> HttpResponse:
    kinds = _kinds_or_403(request.user)
    form = UploadForm(request.POST or None, request.FILES or None, kinds=kinds)
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        upload = data["file"]
        try:
            job = jobs.import_job_create(
                actor=request.user,
                kind=data["kind"],
                creditor=data["creditor"],
                portfolio=data["portfolio"],
                source=upload.chunks(),
                file_name=upload.name,
                mode=data["mode"],
                dry_run=data["dry_run"],
                sheet=data["sheet"],
                language=get_language(),
            )
        except IntakeError as exc:
            form.add_error("file", str(exc))
        except ValidationError as exc:
            add_service_errors(form, exc)
        else:
            if not job.headers:  # camt.053: nothing to map
                jobs.import_job_start(job, actor=request.user)
            return redirect("web:import_detail", pk=job.pk)
    page = Paginator(selectors.jobs_visible_to(request.user), 25).get_page(request.GET.get("page"))
    return render(request, "intake/job_list.html", {"form": form, "page": page})


@login_required
def job_detail(request: HttpRequest, pk: int) -> HttpResponse:
    job = selectors.access_job(request.user, pk)
    if job.status == ImportJob.Status.REVIEW:
        return redirect("web:payments_review", job_id=job.pk)
    context: dict[str, Any] = {"job": job, "progress": jobs.progress_get(job)}
    if job.status == ImportJob.Status.MAPPING:
        context.update(_mapping_context(job, request.POST if request.method == "POST" else None))
        form = context["mapping_form"]
        if request.method == "POST" and form.is_valid():
            try:
                jobs.import_job_map(
                    job,
                    actor=request.user,
                    mapping=form.mapping(),
                    save_profile=form.cleaned_data["save_profile"],
                )
                jobs.import_job_start(job, actor=request.user)
            except ValidationError as exc:
                add_service_errors(form, exc)
            else:
                return redirect("web:import_detail", pk=job.pk)
    context["counts"] = [(jobs.count_label(k), v) for k, v in job.counts.items()]
    context["has_report"] = job.error_count > 0 and jobs.report_file(job).exists()
    return render(request, "intake/job_detail.html", context)


def _mapping_context(job: ImportJob, data: Any) -> dict[str, Any]:
    try:
        preview = jobs.import_job_preview(job)
    except IntakeError as exc:
        raise Http404(str(exc)) from exc
    form = MappingForm(
        data,
        headers=preview.headers,
        choices=jobs.field_choices(job),
        initial_mapping=preview.mapping,
    )
    columns = [
        {
            "field": form[f"column_{index}"],
            "samples": [row[index] for row in preview.rows if index < len(row)],
        }
        for index in range(len(preview.headers))
    ]
    missing = [_(jobs.LABELS.get(name, name)) for name in preview.missing]
    return {"mapping_form": form, "columns": columns, "preview": preview, "missing": missing}


@login_required
def job_progress(request: HttpRequest, pk: int) -> HttpResponse:
    """The progress bar, polled by HTMX; a finished job makes the page reload itself."""
    job = selectors.access_job(request.user, pk)
    response = render(
        request, "intake/_progress.html", {"job": job, "progress": jobs.progress_get(job)}
    )
    if job.finished or job.status == ImportJob.Status.REVIEW:
        response["HX-Redirect"] = reverse("web:import_detail", args=[job.pk])
    return response


@login_required
@require_POST
def job_start(request: HttpRequest, pk: int) -> HttpResponse:
    """Run a rejected job again with the valid rows only (a person's explicit choice)."""
    job = selectors.access_job(request.user, pk)
    try:
        jobs.import_job_start(job, actor=request.user, mode=ImportJob.Mode.VALID_ONLY)
    except ValidationError as exc:
        messages.error(request, " ".join(exc.messages))
    return redirect("web:import_detail", pk=job.pk)


@login_required
@require_POST
def job_cancel(request: HttpRequest, pk: int) -> HttpResponse:
    job = selectors.access_job(request.user, pk)
    try:
        jobs.import_job_cancel(job, actor=request.user)
    except ValidationError as exc:
        messages.error(request, " ".join(exc.messages))
    return redirect("web:import_detail", pk=job.pk)


@login_required
def job_report(request: HttpRequest, pk: int) -> FileResponse:
    """The file's rows that have errors, with an error column (CSV, UTF-8 with BOM)."""
    job = selectors.access_job(request.user, pk)
    path = jobs.report_file(job)
    if not path.exists():
        raise Http404
    stem = job.file_name.rsplit(".", 1)[0]
    name = _("%(name)s-errors.csv") % {"name": stem}
    return FileResponse(path.open("rb"), as_attachment=True, filename=name, content_type="text/csv")
