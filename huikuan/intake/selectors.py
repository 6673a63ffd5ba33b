"""Which import jobs a person may see: those of the kinds they may run (DESIGN §3)."""

from __future__ import annotations

from typing import Any

from django.db.models import Q, QuerySet
from django.http import Http404

from huikuan.intake.jobs import PERMISSION
from huikuan.intake.models import ImportJob


def allowed_kinds(user: Any) -> list[str]:
    return [kind for kind, permission in PERMISSION.items() if user.has_perm(permission)]


def jobs_visible_to(user: Any) -> QuerySet[ImportJob]:
    kinds = allowed_kinds(user)
    if not kinds:
        return ImportJob.objects.none()
    return ImportJob.objects.filter(Q(kind__in=kinds)).select_related(
        "creditor", "portfolio", "created_by"
    )


def access_job(user: Any, pk: int) -> ImportJob:
    """The job, or 404 when it is missing or out of the user's reach (the same answer)."""
    job = jobs_visible_to(user).filter(pk=pk).first()
    if job is None:
        raise Http404
    return job
