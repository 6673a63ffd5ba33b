"""The life of an import job, whichever door the file came in by (web, API, command line).

    upload ──► mapping ──► queued ──► running ──► done | rejected | failed
                 ▲ (columns confirmed)    │
                 └── the user fixes them  └──► review (payments: lines to decide) ──► done

- The file is stored once under its SHA-256 (``HUIKUAN_FILES_DIR/uploads``) before anything
  else happens, so the job can run in another process and the report can quote it.
- A ledger file's columns are guessed from its header, then from the creditor's saved mapping;
  the web asks a person to confirm them, the API and the command line start at once when every
  required column is there.
- Running is the task ``tasks.run_import`` (the database task backend, enqueued on commit) or a
  direct call (the command line). The heavy lifting is ``ledger_import.ledger_import`` and
  ``payments.statement_load``; this module only moves the job through its states, records its
  counts and audits each step. Progress goes to the cache, outside the job's transaction, so
  the web can show it while the import's one transaction is still open.
- A rejected all-or-nothing import can be run again as "valid rows only" by a person's choice.
"""

from __future__ import annotations

import hashlib
import logging
import shutil
import tempfile
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

from django.conf import settings
from django.core.cache import cache
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.utils import timezone, translation
from django.utils.translation import gettext_noop

from huikuan.audit.services import audit_record
from huikuan.iam.roles import MANAGE_LEDGER, POST_PAYMENT
from huikuan.intake.errors import IntakeError
from huikuan.intake.headers import LABELS, SCHEMAS, missing_fields, normalize_header
from huikuan.intake.models import ImportJob, MappingProfile
from huikuan.intake.readers import file_kind, iter_chunks
from huikuan.ledger.models import Creditor, Portfolio
from huikuan.lib._translate import _

logger = logging.getLogger(__name__)

PREVIEW_ROWS = 5
_COPY_BLOCK = 1024 * 1024
PERMISSION = {ImportJob.Kind.LEDGER: MANAGE_LEDGER, ImportJob.Kind.PAYMENTS: POST_PAYMENT}


# --- files ------------------------------------------------------------------------------------


def files_dir(*parts: str) -> Path:
    path = Path(settings.HUIKUAN_FILES_DIR).joinpath(*parts)
    path.mkdir(parents=True, exist_ok=True)
    return path


def file_store(source: IO[bytes] | Iterable[bytes], file_name: str) -> tuple[Path, str, int]:
    """Copy an upload into the store in blocks, hashing it on the way: (path, sha256, size).

    The same bytes uploaded twice are one file; the name keeps the original suffix so a person
    browsing the store can tell a workbook from a CSV.
    """
    digest = hashlib.sha256()
    size = 0
    blocks = source if not hasattr(source, "read") else iter(lambda: source.read(_COPY_BLOCK), b"")
    with tempfile.NamedTemporaryFile(dir=files_dir("incoming"), delete=False) as out:
        for block in blocks:
            digest.update(block)
            size += len(block)
            out.write(block)
    sha = digest.hexdigest()
    suffix = Path(file_name).suffix.lower()[:10]
    target = files_dir("uploads") / f"{sha}{suffix}"
    if target.exists():
        Path(out.name).unlink()
    else:
        shutil.move(out.name, target)
    return target, sha, size


def stored_file(job: ImportJob) -> Path:
    return files_dir("uploads") / f"{job.sha256}{Path(job.file_name).suffix.lower()[:10]}"


def report_file(job: ImportJob) -> Path:
    """The error report: the file's rows that have errors, plus an error column."""
    return files_dir("reports") / f"import-{job.pk}-errors.csv"


def is_camt(path: Path) -> bool:
    """An XML file (camt.053) rather than a spreadsheet: it starts with ``<`` after any BOM."""
    with path.open("rb") as f:
        head = f.read(64).lstrip(b"\xef\xbb\xbf\xff\xfe \t\r\n")
    return head.startswith(b"<")


# --- progress ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class Progress:
    phase: str
    done: int
    total: int

    @property
    def percent(self) -> int:
        if self.total <= 0:
            return 0
        return max(0, min(100, round(100 * self.done / self.total)))


def _progress_key(job_id: int) -> str:
    return f"huikuan:import-progress:{job_id}"


def progress_set(job_id: int, phase: str, done: int, total: int) -> None:
    cache.set(_progress_key(job_id), (phase, done, total), timeout=24 * 3600)


def progress_get(job: ImportJob) -> Progress:
    if job.status == ImportJob.Status.DONE:
        rows = int(job.counts.get("rows_read", 0))
        return Progress("done", rows, rows)
    found = cache.get(_progress_key(job.pk))
    return Progress(*found) if found else Progress("queued", 0, 0)


# --- creating and mapping ---------------------------------------------------------------------


@dataclass(frozen=True)
class Preview:
    """What the mapping screen shows: the header, the first rows, the chosen fields."""

    header_row: int
    headers: list[str]
    rows: list[list[str]]
    mapping: dict[int, str]
    missing: list[str]


def schema_of(job: ImportJob) -> str:
    return "ledger" if job.kind == ImportJob.Kind.LEDGER else "statement"


def import_job_create(
    *,
    actor: Any,
    kind: str,
    creditor: Creditor,
    source: IO[bytes] | Iterable[bytes],
    file_name: str,
    portfolio: Portfolio | None = None,
    mode: str = ImportJob.Mode.ALL_OR_NOTHING,
    dry_run: bool = False,
    sheet: str = "",
    language: str | None = None,
) -> ImportJob:
    """Store the file and open a job; its columns are guessed (and the creditor's saved mapping
    applied). A file that cannot be read at all raises ``IntakeError`` and leaves no job."""
    if kind not in ImportJob.Kind.values:
        raise ValidationError({"kind": _("Unknown import kind %(value)s.") % {"value": kind}})
    # No actor: the command line, run by the server's operator.
    if actor is not None and not actor.has_perm(PERMISSION[ImportJob.Kind(kind)]):
        raise PermissionDenied
    if mode not in ImportJob.Mode.values:
        raise ValidationError({"mode": _("Unknown import mode %(value)s.") % {"value": mode}})
    portfolio = _portfolio_for(kind, creditor, portfolio)
    path, sha, size = file_store(source, file_name)
    job = ImportJob(
        kind=kind,
        creditor=creditor,
        portfolio=portfolio,
        file_name=Path(file_name).name[:255],
        sha256=sha,
        size_bytes=size,
        sheet=sheet,
        mode=mode,
        dry_run=dry_run,
        language=language or translation.get_language() or settings.LANGUAGE_CODE,
        created_by=actor,
    )
    if not (kind == ImportJob.Kind.PAYMENTS and is_camt(path)):
        preview = _read_preview(path, schema_of(job), sheet)
        job.header_row = preview.header_row
        job.headers = preview.headers
        job.mapping = _keyed(_with_profile(preview, creditor, kind))
    with transaction.atomic():
        job.save()
        audit_record(
            actor=actor,
            action="import.upload",
            obj=job,
            changes={"file": [None, job.file_name], "sha256": [None, sha], "size": [None, size]},
        )
    return job


def _portfolio_for(kind: str, creditor: Creditor, portfolio: Portfolio | None) -> Portfolio | None:
    if portfolio is not None:
        if portfolio.creditor_id != creditor.pk:
            raise ValidationError({"portfolio": _("The portfolio belongs to another creditor.")})
        return portfolio
    if kind != ImportJob.Kind.LEDGER:
        return None
    portfolios = list(Portfolio.objects.filter(creditor=creditor)[:2])
    if len(portfolios) != 1:
        raise ValidationError(
            {"portfolio": _("Choose the portfolio the accounts belong to.")}
            if portfolios
            else {"portfolio": _("The creditor has no portfolio yet; create one first.")}
        )
    return portfolios[0]


def _read_preview(path: Path, schema: str, sheet: str) -> Preview:
    if file_kind(path) == "xlsx" and not sheet:
        sheet_arg: str | int | None = None
    else:
        sheet_arg = sheet or None
    chunk = next(iter_chunks(path, chunk_rows=PREVIEW_ROWS, schema=schema, sheet=sheet_arg))
    header = chunk.header
    data = chunk.frame.select(header.columns).head(PREVIEW_ROWS).rows()
    return Preview(
        header_row=header.row_number,
        headers=list(header.cells),
        rows=[["" if v is None else str(v) for v in row] for row in data],
        mapping=dict(header.mapping),
        missing=missing_fields(header.mapping, schema),
    )


def import_job_preview(job: ImportJob) -> Preview:
    preview = _read_preview(stored_file(job), schema_of(job), job.sheet)
    mapping = mapping_of(job)
    return Preview(
        preview.header_row,
        preview.headers,
        preview.rows,
        mapping,
        missing_fields(mapping, schema_of(job)),
    )


def _with_profile(preview: Preview, creditor: Creditor, kind: str) -> dict[int, str]:
    """The guess, overridden column by column by what the creditor's mapping says of the same
    header text (a person's choice beats a guess)."""
    profile = MappingProfile.objects.filter(creditor=creditor, kind=kind).first()
    mapping = dict(preview.mapping)
    if profile is None:
        return mapping
    for index, header in enumerate(preview.headers):
        chosen = profile.fields.get(normalize_header(header))
        if chosen == "":
            mapping.pop(index, None)
        elif chosen:
            for other in [i for i, f in mapping.items() if f == chosen and i != index]:
                mapping.pop(other)
            mapping[index] = chosen
    return mapping


def _keyed(mapping: Mapping[int, str]) -> dict[str, str]:
    # JSON object keys are text.
    return {str(index): field for index, field in sorted(mapping.items())}


def mapping_of(job: ImportJob) -> dict[int, str]:
    return {int(index): field for index, field in job.mapping.items()}


def field_choices(job: ImportJob) -> list[tuple[str, str]]:
    """The fields a column of this job may be mapped to, with their translated labels."""
    return [(name, _(LABELS.get(name, name))) for name in SCHEMAS[schema_of(job)]]


def import_job_map(
    job: ImportJob, *, actor: Any, mapping: Mapping[int, str], save_profile: bool = True
) -> ImportJob:
    """Set the columns a person confirmed; saved per creditor for the next file.

    ``mapping`` is column index → field, without the columns to leave out."""
    _require_open(job, ImportJob.Status.MAPPING, ImportJob.Status.REJECTED)
    fields = SCHEMAS[schema_of(job)]
    errors: dict[str, str] = {}
    seen: dict[str, int] = {}
    for index, name in mapping.items():
        if not 0 <= index < len(job.headers):
            errors[f"column_{index}"] = _("There is no column %(index)s.") % {"index": index + 1}
        elif name not in fields:
            errors[f"column_{index}"] = _("Unknown field %(value)s.") % {"value": name}
        elif name in seen and name != "fee_due":
            errors[f"column_{index}"] = _("“%(field)s” is already taken by column “%(other)s”.") % {
                "field": _(LABELS.get(name, name)),
                "other": job.headers[seen[name]],
            }
        seen.setdefault(name, index)
    if missing := missing_fields(mapping, schema_of(job)):
        labels = "、".join(_(LABELS.get(name, name)) for name in missing)
        errors["mapping"] = _("These fields need a column: %(fields)s.") % {"fields": labels}
    if errors:
        raise ValidationError(errors)
    old = dict(job.mapping)
    job.mapping = _keyed(mapping)
    with transaction.atomic():
        job.save(update_fields=["mapping"])
        if save_profile:
            _profile_save(job, mapping, actor)
        audit_record(
            actor=actor, action="import.map", obj=job, changes={"mapping": [old, job.mapping]}
        )
    return job


def _profile_save(job: ImportJob, mapping: Mapping[int, str], actor: Any) -> None:
    """Remember every named column of this file: its field, or "" for a column left out."""
    fields = {
        normalize_header(header): mapping.get(index, "")
        for index, header in enumerate(job.headers)
        if normalize_header(header)
    }
    profile, _created = MappingProfile.objects.get_or_create(
        creditor=job.creditor, kind=job.kind, defaults={"fields": {}, "updated_by": actor}
    )
    profile.fields = {**profile.fields, **fields}
    profile.updated_by = actor
    profile.save()


def _require_open(job: ImportJob, *allowed: str) -> None:
    if job.status not in allowed:
        raise ValidationError(
            _("The import is %(status)s; this cannot be done now.")
            % {"status": job.get_status_display()}
        )


# --- running ----------------------------------------------------------------------------------


def import_job_start(
    job: ImportJob, *, actor: Any, mode: str | None = None, enqueue: bool = True
) -> ImportJob:
    """Queue the job for the worker (after this transaction commits). A rejected job may be
    started again, typically with ``mode="valid_only"``. ``enqueue=False``: the caller runs it
    (the command line)."""
    _require_open(job, ImportJob.Status.MAPPING, ImportJob.Status.REJECTED)
    missing = missing_fields(mapping_of(job), schema_of(job)) if job.headers else []
    if missing:  # a camt.053 statement has no columns to map
        labels = "、".join(_(LABELS.get(name, name)) for name in missing)
        raise ValidationError(
            {"mapping": _("These fields need a column: %(fields)s.") % {"fields": labels}}
        )
    if mode is not None:
        if mode not in ImportJob.Mode.values:
            raise ValidationError({"mode": _("Unknown import mode %(value)s.") % {"value": mode}})
        job.mode = mode
    old = job.status
    job.status = ImportJob.Status.QUEUED
    with transaction.atomic():
        job.save(update_fields=["status", "mode"])
        audit_record(
            actor=actor,
            action="import.start",
            obj=job,
            changes={"status": [old, job.status], "mode": [None, job.mode]},
        )
        if enqueue:
            transaction.on_commit(lambda: _enqueue(job.pk))
    progress_set(job.pk, "queued", 0, 0)
    return job


def _enqueue(job_id: int) -> None:
    from huikuan.intake.tasks import run_import

    result = run_import.enqueue(job_id)
    ImportJob.objects.filter(pk=job_id, task_id="").update(task_id=str(result.id)[:64])


def import_job_run(
    job_id: int, *, progress: Callable[[str, int, int], None] | None = None
) -> ImportJob:
    """Run a queued job to its end (the task body; the command line calls it directly).

    Safe to run twice: a job that is no longer queued is left alone."""
    claimed = ImportJob.objects.filter(pk=job_id, status=ImportJob.Status.QUEUED).update(
        status=ImportJob.Status.RUNNING, started_at=timezone.now()
    )
    job = ImportJob.objects.select_related("creditor", "portfolio", "created_by").get(pk=job_id)
    if not claimed:
        return job
    with translation.override(job.language):
        try:
            outcome = _run(job, progress)
        except IntakeError as exc:
            return _finish(job, ImportJob.Status.FAILED, message=str(exc))
        except Exception as exc:
            logger.exception("import %s failed", job_id)
            return _finish(
                job,
                ImportJob.Status.FAILED,
                message=_("The import stopped on an unexpected error and wrote nothing: %(error)s")
                % {"error": exc},
            )
    return _finish(job, *outcome)


def _run(
    job: ImportJob, also: Callable[[str, int, int], None] | None
) -> tuple[str, dict[str, Any], int, str]:
    def progress(phase: str, done: int, total: int) -> None:
        progress_set(job.pk, phase, done, total)
        if also is not None:
            also(phase, done, total)

    if job.kind == ImportJob.Kind.LEDGER:
        return _run_ledger(job, progress)
    return _run_payments(job, progress)


def _run_ledger(job: ImportJob, progress: Any) -> tuple[str, dict[str, Any], int, str]:
    from huikuan.intake.ledger_import import ledger_import

    assert job.portfolio is not None  # noqa: S101 - a ledger job always has one
    result = ledger_import(
        stored_file(job),
        creditor=job.creditor,
        portfolio=job.portfolio,
        actor=job.created_by,
        mapping=mapping_of(job),
        sheet=job.sheet or None,
        mode=job.mode,
        dry_run=job.dry_run,
        language=job.language,
        report_path=report_file(job),
        progress=progress,
        source=f"import:{job.pk}",
    )
    counts = {
        "rows_read": result.rows_read,
        "rows_valid": result.rows_valid,
        "rows_rejected": result.rows_rejected,
        **result.counts,
    }
    if result.written or job.dry_run or not result.rows_rejected:
        status = ImportJob.Status.DONE
    else:
        status = ImportJob.Status.REJECTED
    message = ""
    if status == ImportJob.Status.REJECTED:
        message = _(
            "%(count)s rows have errors, so nothing was imported. Correct them and upload the "
            "file again, or import the valid rows only."
        ) % {"count": result.rows_rejected}
    elif job.dry_run:
        message = _("Checked only: nothing was written.")
    return status, counts, result.error_count, message


def _run_payments(job: ImportJob, progress: Any) -> tuple[str, dict[str, Any], int, str]:
    from huikuan.intake.payments import statement_load

    counts = statement_load(
        job, stored_file(job), mapping=mapping_of(job) or None, progress=progress
    )
    pending = counts.get("ambiguous", 0) + counts.get("unmatched", 0) + counts.get("matched", 0)
    status = ImportJob.Status.REVIEW if pending else ImportJob.Status.DONE
    return status, counts, int(counts.get("errors", 0)), ""


def _finish(
    job: ImportJob,
    status: str,
    counts: dict[str, Any] | None = None,
    errors: int = 0,
    message: str = "",
) -> ImportJob:
    old = job.status
    job.status = status
    job.counts = counts or {}
    job.error_count = errors
    job.message = message
    job.finished_at = timezone.now()
    with transaction.atomic():
        job.save(update_fields=["status", "counts", "error_count", "message", "finished_at"])
        audit_record(
            actor=job.created_by,
            action="import.finish",
            obj=job,
            changes={"status": [old, status], "counts": [None, job.counts]},
            reason=message,
        )
    progress_set(job.pk, status, 1, 1)
    return job


def import_job_cancel(job: ImportJob, *, actor: Any) -> ImportJob:
    """Drop a job that has not run (or was rejected); nothing it read is kept in the ledger."""
    _require_open(job, ImportJob.Status.MAPPING, ImportJob.Status.QUEUED, ImportJob.Status.REJECTED)
    claimed = ImportJob.objects.filter(pk=job.pk, status=job.status).update(
        status=ImportJob.Status.CANCELLED, finished_at=timezone.now()
    )
    if not claimed:  # the worker took it meanwhile
        raise ValidationError(_("The import has already started."))
    old, job.status = job.status, ImportJob.Status.CANCELLED
    audit_record(
        actor=actor, action="import.cancel", obj=job, changes={"status": [old, job.status]}
    )
    return job


def payments_post_matched(job: ImportJob, *, actor: Any) -> ImportJob:
    """Post the matched lines of a payments job; the job is done once no line awaits a person."""
    from huikuan.intake.payments import statement_post

    if actor is not None and not actor.has_perm(POST_PAYMENT):
        raise PermissionDenied
    _require_open(job, ImportJob.Status.REVIEW)
    posted = statement_post(job, actor=actor)
    job.counts = {**job.counts, "posted": job.counts.get("posted", 0) + posted.get("posted", 0)}
    job.save(update_fields=["counts"])
    return payments_job_settle(job, actor=actor)


def payments_job_settle(job: ImportJob, *, actor: Any) -> ImportJob:
    """Close a payments job whose every line is posted, skipped, ignored or a duplicate."""
    from huikuan.intake.models import StatementLine

    waiting = (
        StatementLine.Status.MATCHED,
        StatementLine.Status.AMBIGUOUS,
        StatementLine.Status.UNMATCHED,
    )
    if job.status != ImportJob.Status.REVIEW or job.lines.filter(status__in=waiting).exists():
        return job
    job.status = ImportJob.Status.DONE
    job.finished_at = timezone.now()
    with transaction.atomic():
        job.save(update_fields=["status", "finished_at"])
        audit_record(
            actor=actor,
            action="import.finish",
            obj=job,
            changes={"status": [ImportJob.Status.REVIEW, job.status]},
        )
    return job


COUNT_LABELS = {
    "rows_read": gettext_noop("rows read"),
    "rows_valid": gettext_noop("valid rows"),
    "rows_rejected": gettext_noop("rows rejected"),
    "rows": gettext_noop("rows written"),
    "debtors_created": gettext_noop("debtors created"),
    "debtors_updated": gettext_noop("debtors updated"),
    "contacts_created": gettext_noop("contacts created"),
    "accounts_created": gettext_noop("accounts created"),
    "accounts_updated": gettext_noop("accounts updated"),
    "items_created": gettext_noop("items created"),
    "items_updated": gettext_noop("items updated"),
    "statuses_changed": gettext_noop("statuses changed"),
    "conflicts": gettext_noop("conflicts"),
    "lines": gettext_noop("bank lines"),
    "matched": gettext_noop("matched"),
    "ambiguous": gettext_noop("ambiguous"),
    "unmatched": gettext_noop("unmatched"),
    "ignored": gettext_noop("ignored (debits, reversals)"),
    "duplicate": gettext_noop("already posted"),
    "posted": gettext_noop("posted"),
    "errors": gettext_noop("errors"),
}


def count_label(name: str) -> str:
    return _(COUNT_LABELS[name]) if name in COUNT_LABELS else name.replace("_", " ")
