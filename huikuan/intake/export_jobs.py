"""Ledger exports too large for a request (DESIGN §8): made by the worker, fetched later.

A request with more than ``HUIKUAN_EXPORT_SYNC_ROWS`` accounts to export gets a job instead of
the file: its page shows the progress, then the download. The job keeps the filter and the
as-of date, and the worker applies them with the requester's own scope, so the file holds
exactly what they would have received at once. Only the requester may download
it; the download is audited like the export itself.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import asdict
from decimal import Decimal
from pathlib import Path
from typing import Any

from django.conf import settings
from django.core.cache import cache
from django.db import transaction
from django.utils import timezone, translation

from huikuan.audit.services import audit_record
from huikuan.intake import export
from huikuan.intake.jobs import Progress, files_dir
from huikuan.intake.models import ExportJob
from huikuan.ledger import selectors
from huikuan.ledger.selectors import LedgerFilter
from huikuan.lib._translate import _

logger = logging.getLogger(__name__)


def export_file(job: ExportJob) -> Path:
    return files_dir("exports") / f"export-{job.pk}.xlsx"


def filter_params(flt: LedgerFilter) -> dict[str, Any]:
    """The filter as JSON (amounts as text, never float)."""
    return {k: (str(v) if isinstance(v, Decimal) else v) for k, v in asdict(flt).items()}


def filter_from_params(params: Mapping[str, Any]) -> LedgerFilter:
    values = dict(params)
    for name in ("amount_min", "amount_max"):
        if values.get(name) is not None:
            values[name] = Decimal(values[name])
    return LedgerFilter(**values)


def too_long_for_a_request(user: Any, flt: LedgerFilter, as_of: Any) -> bool:
    limit = settings.HUIKUAN_EXPORT_SYNC_ROWS
    return selectors.ledger_accounts(user, flt, as_of=as_of)[limit : limit + 1].exists()


def export_job_create(*, actor: Any, flt: LedgerFilter, as_of: Any, language: str) -> ExportJob:
    with transaction.atomic():
        job = ExportJob.objects.create(
            params=filter_params(flt),
            as_of=as_of,
            language=language,
            created_by=actor,
        )
        audit_record(
            actor=actor,
            action="export.queue",
            obj=job,
            changes={"filter": [None, job.params], "as_of": [None, as_of]},
        )
        transaction.on_commit(lambda: _enqueue(job.pk))
    progress_set(job.pk, 0, 0)
    return job


def _enqueue(job_id: int) -> None:
    from huikuan.intake.tasks import run_export

    run_export.enqueue(job_id)


def _key(job_id: int) -> str:
    return f"huikuan:export-progress:{job_id}"


def progress_set(job_id: int, done: int, total: int) -> None:
    cache.set(_key(job_id), (done, total), timeout=24 * 3600)


def progress_get(job: ExportJob) -> Progress:
    if job.status == ExportJob.Status.DONE:
        return Progress("done", job.rows, job.rows)
    done, total = cache.get(_key(job.pk)) or (0, 0)
    return Progress("export", done, total)


def export_job_run(job_id: int) -> ExportJob:
    """Make the file (the task body). A job no longer queued is left alone."""
    claimed = ExportJob.objects.filter(pk=job_id, status=ExportJob.Status.QUEUED).update(
        status=ExportJob.Status.RUNNING
    )
    job = ExportJob.objects.select_related("created_by").get(pk=job_id)
    if not claimed:
        return job
    user = job.created_by
    with translation.override(job.language):
        try:
            result = export.ledger_export(
                export_file(job),
                actor=user,
                flt=filter_from_params(job.params),
                as_of=job.as_of,
                via="job",
                progress=lambda done, total: progress_set(job.pk, done, total),
            )
        except export.ExportTooLarge as exc:
            return _finish(job, ExportJob.Status.FAILED, message=exc.messages[0])
        except Exception as exc:
            logger.exception("export %s failed", job_id)
            return _finish(job, ExportJob.Status.FAILED, message=str(exc))
    job.file_name, job.ascii_file_name = result.filename, result.ascii_filename
    return _finish(job, ExportJob.Status.DONE, rows=result.rows)


def _finish(job: ExportJob, status: str, *, rows: int = 0, message: str = "") -> ExportJob:
    job.status, job.rows, job.message = status, rows, message
    job.finished_at = timezone.now()
    job.save(
        update_fields=["status", "rows", "message", "file_name", "ascii_file_name", "finished_at"]
    )
    return job


def export_download(job: ExportJob, *, actor: Any) -> Path:
    """The finished file, for the person who asked for it; the download is audited."""
    path = export_file(job)
    if job.status != ExportJob.Status.DONE or not path.exists():
        raise FileNotFoundError(_("The export is not ready."))
    audit_record(actor=actor, action="export.download", obj=job, changes={"rows": job.rows})
    return path
