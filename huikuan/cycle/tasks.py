"""Background tasks of the daily cycle: one per partition, so several workers share a run.

Thin and idempotent (DESIGN §4): a partition already done is skipped, and the run is finished
by whichever partition task ends last (``services.cycle_complete`` is safe when two end at
once). A failing partition marks the run failed; starting the same date again resumes it.
"""

from __future__ import annotations

from django_tasks import task


@task()
def run_partition(run_id: int, partition: int) -> str:
    """Run one partition of a run, then finish the run if it was the last; returns its status."""
    from huikuan.cycle import services

    try:
        services.cycle_partition(run_id, partition)
    except Exception as exc:
        services.cycle_partition_fail(run_id, partition, exc)
        raise
    return services.cycle_complete(run_id).status
