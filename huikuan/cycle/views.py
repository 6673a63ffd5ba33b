"""Pages of the daily cycle: run history and starting a run, a run's live progress and result.

Reading the runs takes ``RUN_CYCLE`` or ``VIEW_ALL``; starting one takes ``RUN_CYCLE``. The
reports are in ``views_reports``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.paginator import Paginator
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from huikuan.cycle import selectors, services
from huikuan.cycle.forms import RunForm
from huikuan.cycle.models import CycleRun
from huikuan.iam.roles import RUN_CYCLE, VIEW_ALL
from huikuan.lib.views import add_service_errors

COUNT_LABELS = {
    "accounts": _("Accounts read"),
    "overdue_refreshed": _("Overdue amounts refreshed"),
    "states_written": _("States changed"),
    "moves": _("Step moves"),
    "actions": _("Planned actions"),
    "snapshots": _("Snapshots"),
}
PHASES = ("read", "compute", "write")
PHASE_LABELS = {"read": _("Read"), "compute": _("Compute"), "write": _("Write")}


def require_any(user: Any, *permissions: str) -> None:
    if not any(user.has_perm(p) for p in permissions):
        raise PermissionDenied


@dataclass(frozen=True)
class Progress:
    done: int
    total: int

    @property
    def percent(self) -> int:
        return 100 if not self.total else round(100 * self.done / self.total)


@dataclass(frozen=True)
class RunRow:
    run: CycleRun
    scheduled: bool
    progress: Progress
    phases: list[float | None]
    seconds: float | None


def _row(run: CycleRun, scheduled: set[int]) -> RunRow:
    seconds = None
    if run.finished_at and run.started_at:
        seconds = round((run.finished_at - run.started_at).total_seconds(), 1)
    return RunRow(
        run=run,
        scheduled=run.pk in scheduled,
        progress=Progress(len(run.partitions_done), run.partitions),
        phases=[run.timings.get(p) for p in PHASES],
        seconds=seconds,
    )


@login_required
def run_list(request: HttpRequest) -> HttpResponse:
    require_any(request.user, RUN_CYCLE, VIEW_ALL)
    can_run = request.user.has_perm(RUN_CYCLE)
    form = None
    status = 200
    if can_run:
        initial = {"as_of": timezone.localdate(), "partitions": 1}
        form = RunForm(request.POST or None, initial=initial)
    if request.method == "POST":
        if form is None:
            raise PermissionDenied
        if form.is_valid():
            try:
                run = services.cycle_enqueue(
                    as_of=form.cleaned_data["as_of"],
                    actor=request.user,
                    partitions=form.cleaned_data["partitions"],
                )
            except ValidationError as exc:
                add_service_errors(form, exc)
            else:
                return redirect("web:cycle_run", pk=run.pk)
        status = 422
    page = Paginator(selectors.runs(), 25).get_page(request.GET.get("page"))
    scheduled = selectors.scheduled_run_ids([r.pk for r in page.object_list])
    context = {
        "form": form,
        "page": page,
        "rows": [_row(run, scheduled) for run in page.object_list],
        "phase_labels": [PHASE_LABELS[p] for p in PHASES],
        "schedule_at": selectors.schedule_at(),
    }
    return render(request, "cycle/run_list.html", context, status=status)


@login_required
def run_detail(request: HttpRequest, pk: int) -> HttpResponse:
    require_any(request.user, RUN_CYCLE, VIEW_ALL)
    run = selectors.access_run(pk)
    row = _row(run, selectors.scheduled_run_ids([run.pk]))
    context = {
        "run": run,
        "row": row,
        "progress": row.progress,
        "counts": [(label, run.counts.get(key, 0)) for key, label in COUNT_LABELS.items()],
        "phases": [(PHASE_LABELS[p], run.timings.get(p)) for p in PHASES],
        "can_run": request.user.has_perm(RUN_CYCLE),
        "can_report": request.user.has_perm(VIEW_ALL),
    }
    return render(request, "cycle/run_detail.html", context)


@login_required
def run_progress(request: HttpRequest, pk: int) -> HttpResponse:
    """Partitions done so far, polled by HTMX; a finished or failed run reloads the page."""
    require_any(request.user, RUN_CYCLE, VIEW_ALL)
    run = selectors.access_run(pk)
    progress = Progress(len(run.partitions_done), run.partitions)
    response = render(request, "cycle/_progress.html", {"run": run, "progress": progress})
    if run.status != CycleRun.Status.RUNNING:
        response["HX-Redirect"] = reverse("web:cycle_run", args=[run.pk])
    return response
