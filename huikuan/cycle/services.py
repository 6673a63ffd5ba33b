"""Running the daily cycle: a recorded run over one or more partitions, resumable.

A run for an as-of date splits the accounts into ``partitions`` by ``id % partitions``; each
partition is one transaction (``engine.partition_run``) and is recorded in the run when it
commits. A run that dies is resumed by running the same date again: the partitions it finished
are skipped. Partitions can run as separate tasks (``tasks.run_partition``), so more workers
finish sooner; the command line runs them in turn.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import Max
from django.utils import timezone

from huikuan.audit.services import audit_record
from huikuan.cycle.domain import Plan, is_month_end
from huikuan.cycle.engine import PartitionResult, partition_run
from huikuan.cycle.models import CycleRun
from huikuan.ledger.models import Portfolio
from huikuan.lib._translate import _
from huikuan.strategy import selectors as strategy_selectors
from huikuan.strategy.models import Segment


def plan_on(as_of: dt.date) -> Plan:
    """The configuration the cycle applies on ``as_of``."""
    arms = {
        s.code: (s.champion, s.challenger, s.challenger_share_bp)
        for s in Segment.objects.filter(active=True)
    }
    return Plan(
        rules=strategy_selectors.segment_rules(),
        arms=arms,
        strategies=strategy_selectors.strategies_on(as_of),
        bounds=dict(Portfolio.objects.values_list("pk", "bucket_bounds")),
    )


def cycle_start(
    *, as_of: dt.date, actor: Any, partitions: int = 1, rebuild: bool = False
) -> CycleRun:
    """Open (or resume) the run of ``as_of``. Refused for a date before the latest run: the
    states hold no history to go back to."""
    if partitions < 1:
        raise ValidationError({"partitions": _("At least one partition.")})
    latest = CycleRun.objects.filter(status=CycleRun.Status.DONE).aggregate(Max("as_of"))
    if latest["as_of__max"] and as_of < latest["as_of__max"]:
        raise ValidationError(
            _("The cycle has already run for %(date)s; it can only run for that day or later.")
            % {"date": latest["as_of__max"].isoformat()}
        )
    unfinished = (
        CycleRun.objects.filter(as_of=as_of, partitions=partitions)
        .exclude(status=CycleRun.Status.DONE)
        .order_by("-started_at")
        .first()
    )
    if unfinished is not None:
        return unfinished
    with transaction.atomic():
        run = CycleRun.objects.create(
            as_of=as_of, partitions=partitions, rebuild=rebuild, started_by=actor
        )
        audit_record(
            actor=actor,
            action="cycle.start",
            obj=run,
            changes={"as_of": [None, as_of], "partitions": [None, partitions]},
        )
    return run


def cycle_partition(run_id: int, partition: int) -> CycleRun:
    """Run one partition of a run unless it is done already (safe to call twice)."""
    run = CycleRun.objects.get(pk=run_id)
    if partition in run.partitions_done:
        return run
    result = partition_run(
        run_id=run.pk,
        as_of=run.as_of,
        plan=plan_on(run.as_of),
        partition=partition,
        partitions=run.partitions,
        full_snapshot=is_month_end(run.as_of),
    )
    with transaction.atomic():
        run = CycleRun.objects.select_for_update().get(pk=run_id)
        if partition not in run.partitions_done:
            totals = PartitionResult(**{**run.counts, "seconds": dict(run.timings)})
            totals.add(result)
            run.counts = {k: v for k, v in vars(totals).items() if k != "seconds"}
            run.timings = totals.seconds
            run.partitions_done = sorted([*run.partitions_done, partition])
            run.save(update_fields=["counts", "timings", "partitions_done"])
    return run


def cycle_finish(run: CycleRun, *, actor: Any) -> CycleRun:
    run.refresh_from_db()
    if len(run.partitions_done) < run.partitions or run.status == CycleRun.Status.DONE:
        return run
    with transaction.atomic():
        run.status = CycleRun.Status.DONE
        run.finished_at = timezone.now()
        run.save(update_fields=["status", "finished_at"])
        audit_record(
            actor=actor,
            action="cycle.finish",
            obj=run,
            changes={"counts": [None, run.counts], "seconds": [None, run.timings]},
        )
    return run


def cycle_fail(run: CycleRun, *, message: str) -> CycleRun:
    CycleRun.objects.filter(pk=run.pk).exclude(status=CycleRun.Status.DONE).update(
        status=CycleRun.Status.FAILED, message=message[:2000]
    )
    run.refresh_from_db()
    return run


def cycle_run(
    *, as_of: dt.date, actor: Any, partitions: int = 1, rebuild: bool = False
) -> CycleRun:
    """The whole run here and now, partition after partition (the command line)."""
    run = cycle_start(as_of=as_of, actor=actor, partitions=partitions, rebuild=rebuild)
    try:
        for partition in range(run.partitions):
            cycle_partition(run.pk, partition)
    except Exception as exc:
        cycle_fail(run, message=str(exc))
        raise
    return cycle_finish(run, actor=actor)
