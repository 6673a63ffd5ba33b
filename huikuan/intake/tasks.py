"""Background tasks of intake: thin, idempotent, given ids (DESIGN §5)."""

from __future__ import annotations

from django_tasks import task


@task()
def run_import(job_id: int) -> str:
    """Run one queued import job; returns its final status. Running it twice does nothing."""
    from huikuan.intake.jobs import import_job_run

    return import_job_run(job_id).status


@task()
def run_export(job_id: int) -> str:
    """Make one queued ledger export; returns its final status."""
    from huikuan.intake.export_jobs import export_job_run

    return export_job_run(job_id).status
