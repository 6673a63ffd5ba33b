"""Running the daily cycle: a recorded run over one or more partitions, resumable.

A run for an as-of date splits the accounts into ``partitions`` ranges of ids; each
partition is one transaction (``engine.partition_run``) and is recorded in the run when it
commits. A run that dies is resumed by running the same date again: the partitions it finished
are skipped. Partitions can run as separate tasks (``tasks.run_partition``), so more workers
finish sooner; the command line runs them in turn.
"""

from __future__ import annotations

import datetime as dt
import functools
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import connection, transaction
from django.db.models import Max
from django.utils import timezone
from django.utils.module_loading import import_string

from huikuan.audit.services import audit_record
from huikuan.cycle.domain import Plan, is_month_end
from huikuan.cycle.engine import NO_IDS, IdRange, PartitionResult, id_ranges, partition_run
from huikuan.cycle.models import CycleRun
from huikuan.ledger.models import Account, Portfolio
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
        first = not CycleRun.objects.filter(status=CycleRun.Status.DONE, as_of__lt=as_of).exists()
        run = CycleRun.objects.create(
            as_of=as_of,
            partitions=partitions,
            bounds=_partition_bounds(partitions),
            rebuild=rebuild,
            full_snapshot=first or is_month_end(as_of),
            started_by=actor,
        )
        audit_record(
            actor=actor,
            action="cycle.start",
            obj=run,
            changes={"as_of": [None, as_of], "partitions": [None, partitions]},
        )
    _run_hooks("HUIKUAN_CYCLE_BEFORE", run, actor)
    return run


def _partition_bounds(partitions: int) -> list[int]:
    """Account ids that split the accounts into ``partitions`` ranges of about equal count:
    each the id at a multiple of count / partitions in id order (a walk of the primary key)."""
    count = Account.objects.count()
    ids = Account.objects.order_by("pk").values_list("pk", flat=True)
    bounds = [ids[count * k // partitions] for k in range(1, partitions) if count]
    return sorted(set(bounds))


def _run_hooks(setting: str, run: CycleRun, actor: Any) -> None:
    """The apps above the cycle that act at its start (promise evaluation) or its end
    (assignment), named in settings by dotted path: the cycle calls them without depending on
    them. Each is called as ``hook(run=run, actor=actor)``, must be safe to call twice, and
    does its own transactions."""
    for path in getattr(settings, setting, ()):
        import_string(path)(run=run, actor=actor)


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
        ids=_partition_ids(run, partition),
        full_snapshot=run.full_snapshot,
        rebuild=run.rebuild,
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


def _partition_ids(run: CycleRun, partition: int) -> IdRange:
    ranges = id_ranges(run.bounds)
    # Fewer accounts than partitions: the partitions past the last range are empty.
    return ranges[partition] if partition < len(ranges) else NO_IDS


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
    _run_hooks("HUIKUAN_CYCLE_AFTER", run, actor)
    return run


def cycle_fail(run: CycleRun, *, message: str) -> CycleRun:
    CycleRun.objects.filter(pk=run.pk).exclude(status=CycleRun.Status.DONE).update(
        status=CycleRun.Status.FAILED, message=message[:2000]
    )
    run.refresh_from_db()
    return run


def cycle_run(
    *, as_of: dt.date, actor: Any, partitions: int = 1, rebuild: bool = False, workers: int = 1
) -> CycleRun:
    """The whole run here and now (the command line): its partitions in turn, or ``workers``
    of them at a time on PostgreSQL."""
    run = cycle_start(as_of=as_of, actor=actor, partitions=partitions, rebuild=rebuild)
    todo = [p for p in range(run.partitions) if p not in run.partitions_done]
    try:
        _run_partitions(run.pk, todo, workers=workers)
    except Exception as exc:
        cycle_fail(run, message=str(exc))
        raise
    return cycle_finish(run, actor=actor)


def _run_partitions(run_id: int, partitions: list[int], *, workers: int) -> None:
    """Threads, not processes: a partition's time is spent in PostgreSQL and in Polars, both of
    which let go of the GIL, so two threads keep two server backends and the cores busy. SQLite
    takes one writer at a time: there the partitions run in turn."""
    if workers <= 1 or len(partitions) <= 1 or connection.vendor != "postgresql":
        for partition in partitions:
            cycle_partition(run_id, partition)
        return
    with ThreadPoolExecutor(max_workers=workers) as pool:
        list(pool.map(functools.partial(_partition_in_thread, run_id), partitions))


def _partition_in_thread(run_id: int, partition: int) -> None:
    try:
        cycle_partition(run_id, partition)
    finally:
        connection.close()  # this thread's own connection


# --- running from the web, the API and the schedule (tasks.run_partition) ----------------------


def cycle_enqueue(
    *, as_of: dt.date, actor: Any, partitions: int = 1, rebuild: bool = False
) -> CycleRun:
    """Open (or resume) the run of ``as_of`` and queue one task per partition not yet done,
    once this transaction commits. Refused while a run of that date is in progress: two runs
    of one day at once would write the same rows."""
    busy = CycleRun.objects.filter(as_of=as_of, status=CycleRun.Status.RUNNING).first()
    if busy is not None:
        raise ValidationError(
            _(
                "The run of %(date)s (#%(id)s) is still in progress. If its worker has stopped, "
                "finish it on the command line: huikuan cycle run --as-of %(date)s "
                "--partitions %(n)s"
            )
            % {"date": as_of.isoformat(), "id": busy.pk, "n": busy.partitions}
        )
    with transaction.atomic():
        run = cycle_start(as_of=as_of, actor=actor, partitions=partitions, rebuild=rebuild)
        if run.status == CycleRun.Status.FAILED:
            CycleRun.objects.filter(pk=run.pk).update(status=CycleRun.Status.RUNNING, message="")
            audit_record(
                actor=actor,
                action="cycle.resume",
                obj=run,
                changes={"status": [CycleRun.Status.FAILED, CycleRun.Status.RUNNING]},
            )
            run.refresh_from_db()
        todo = [p for p in range(run.partitions) if p not in run.partitions_done]
        run_id = run.pk
        transaction.on_commit(lambda: _enqueue_partitions(run_id, todo))
    return run


def _enqueue_partitions(run_id: int, partitions: list[int]) -> None:
    from huikuan.cycle.tasks import run_partition

    if not partitions:  # every partition was done: only the finish was missing
        cycle_complete(run_id)
    for partition in partitions:
        run_partition.enqueue(run_id, partition)


def cycle_complete(run_id: int) -> CycleRun:
    """Finish the run if every partition is done; safe when the last two partitions end at
    once: the run's row is locked first (a write, which also serialises SQLite), so the second
    caller sees the first one's "done" and records nothing."""
    from django.db.models import F

    with transaction.atomic():
        CycleRun.objects.filter(pk=run_id).update(message=F("message"))
        run = CycleRun.objects.get(pk=run_id)
        return cycle_finish(run, actor=run.started_by)


def cycle_partition_fail(run_id: int, partition: int, exc: BaseException) -> CycleRun:
    run = CycleRun.objects.get(pk=run_id)
    message = _("Partition %(p)s failed: %(error)s") % {"p": partition, "error": exc}
    return cycle_fail(run, message=message)


def cycle_schedule(*, now: dt.datetime | None = None, inline: bool = False) -> CycleRun | None:
    """Start the day's run when the clock has passed ``HUIKUAN_CYCLE_AT`` and no run of the day
    exists; ``None`` when there is nothing to do. Several workers may call this at once: the
    unique claim of the date lets exactly one of them start it. ``inline``: run it here and
    now (``huikuan cycle schedule --once``) instead of queueing its partitions."""
    import logging

    from django.conf import settings
    from django.db import IntegrityError

    from huikuan.cycle.models import ScheduleClaim
    from huikuan.cycle.selectors import schedule_due_on

    today = schedule_due_on(now or timezone.now(), require_time=not inline)
    if today is None or CycleRun.objects.filter(as_of=today).exists():
        return None
    partitions = max(1, int(getattr(settings, "HUIKUAN_CYCLE_PARTITIONS", 1)))
    with transaction.atomic():
        try:
            with transaction.atomic():
                claim = ScheduleClaim.objects.create(as_of=today)
        except IntegrityError:
            return None  # another worker claimed the day
        try:
            with transaction.atomic():
                start = cycle_start if inline else cycle_enqueue
                run = start(as_of=today, actor=None, partitions=partitions)
        except ValidationError as exc:
            # Recorded, not retried every minute: a person decides (the cycle page shows it).
            claim.message = " ".join(exc.messages)
            claim.save(update_fields=["message"])
            log = logging.getLogger(__name__)
            log.warning("scheduled cycle of %s not started: %s", today, claim.message)
            return None
        claim.run = run
        claim.save(update_fields=["run"])
    if inline:
        return cycle_run(as_of=today, actor=None, partitions=partitions)
    return run
