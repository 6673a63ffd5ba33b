"""What the daily cycle records: its runs, each account's place in its strategy, the steps it
went through, the day's planned actions and the snapshots KPIs are computed from.

The cycle writes these tables in bulk (``engine``); nothing else writes them, so they carry
plain ids rather than foreign keys where a key would only slow the bulk writes down (the
account tables are checked by the engine, which reads the accounts it writes about).
"""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _


def _money(label: Any) -> models.DecimalField:
    return models.DecimalField(label, max_digits=20, decimal_places=2)


class CycleRun(models.Model):
    class Status(models.TextChoices):
        RUNNING = "running", _("Running")
        DONE = "done", _("Done")
        FAILED = "failed", _("Failed")

    as_of = models.DateField(_("as of"), db_index=True)
    rebuild = models.BooleanField(_("rebuild from items"), default=False)
    # Snapshots of every account (a month-end, or the first run), not only of those that
    # changed: the base that a past date's snapshot is rebuilt from.
    full_snapshot = models.BooleanField(_("full snapshot"), default=False)
    status = models.CharField(
        _("status"), max_length=8, choices=Status.choices, default=Status.RUNNING
    )
    partitions = models.PositiveSmallIntegerField(_("partitions"), default=1)
    # The account ids where one partition ends and the next begins (partitions - 1 of them),
    # fixed when the run starts so that a resumed run splits the accounts as it first did.
    bounds = models.JSONField(default=list, blank=True)
    # Partitions finished so far: a run that died resumes with the others.
    partitions_done = models.JSONField(default=list, blank=True)
    counts = models.JSONField(_("counts"), default=dict, blank=True)
    timings = models.JSONField(_("seconds by phase"), default=dict, blank=True)
    message = models.TextField(_("message"), blank=True)
    started_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    started_at = models.DateTimeField(_("started at"), auto_now_add=True)
    finished_at = models.DateTimeField(_("finished at"), null=True, blank=True)

    class Meta:
        verbose_name = _("cycle run")
        verbose_name_plural = _("cycle runs")
        ordering = ("-started_at", "-id")
        permissions = [("run_cycle", _("Can run the daily cycle"))]

    def __str__(self) -> str:
        return f"cycle {self.as_of} #{self.pk}"


class AccountState(models.Model):
    """Where one account stands after the latest run, and where it stood before the run that
    last changed it (``base_*``), so that running that day again starts from the same place.

    DPD is not stored (it is the as-of date minus the ledger's oldest unpaid due date): a row
    is written only on the days something in it changes, not every day for every account."""

    # No foreign-key check: the engine writes states only for accounts it has just read, and a
    # check per row costs the first run (a million new states) seconds.
    account = models.OneToOneField(
        "ledger.Account",
        on_delete=models.CASCADE,
        primary_key=True,
        related_name="cycle_state",
        db_constraint=False,
    )
    changed_on = models.DateField(_("changed on"))
    bucket = models.CharField(_("bucket"), max_length=12)
    outstanding = models.DecimalField(_("outstanding"), max_digits=20, decimal_places=2, default=0)
    overdue = _money(_("overdue"))
    oldest_unpaid_due = models.DateField(_("oldest unpaid due date"), null=True, blank=True)
    collector_id = models.BigIntegerField(_("owner"), null=True, blank=True)
    segment = models.CharField(_("segment"), max_length=40, blank=True)
    segment_since = models.DateField(_("in the segment since"), null=True, blank=True)
    strategy = models.CharField(_("strategy"), max_length=40, blank=True)
    arm = models.CharField(_("arm"), max_length=10, blank=True)  # champion | challenger
    step = models.CharField(_("step"), max_length=40, blank=True)
    step_since = models.DateField(_("on the step since"), null=True, blank=True)
    paused = models.BooleanField(_("paused"), default=False)
    next_action_on = models.DateField(_("next action"), null=True, blank=True)
    next_channel = models.CharField(_("next channel"), max_length=16, blank=True)
    base_segment = models.CharField(max_length=40, blank=True)
    base_segment_since = models.DateField(null=True, blank=True)
    base_strategy = models.CharField(max_length=40, blank=True)
    base_arm = models.CharField(max_length=10, blank=True)
    base_step = models.CharField(max_length=40, blank=True)
    base_step_since = models.DateField(null=True, blank=True)

    class Meta:
        verbose_name = _("account state")
        verbose_name_plural = _("account states")

    def __str__(self) -> str:
        return f"{self.account_id} {self.segment}/{self.step}"


class StepHistory(models.Model):
    """One move of an account between steps (or segments); written only when it moves."""

    account_id = models.BigIntegerField(_("account"))  # leads the unique (account_id, as_of)
    as_of = models.DateField(_("as of"))
    segment = models.CharField(_("segment"), max_length=40, blank=True)
    strategy = models.CharField(_("strategy"), max_length=40, blank=True)
    arm = models.CharField(_("arm"), max_length=10, blank=True)
    from_step = models.CharField(_("from step"), max_length=40, blank=True)
    to_step = models.CharField(_("to step"), max_length=40, blank=True)
    reason = models.CharField(_("reason"), max_length=20)

    class Meta:
        verbose_name = _("step change")
        verbose_name_plural = _("step changes")
        ordering = ("account_id", "as_of", "id")
        constraints = [
            models.UniqueConstraint(fields=("account_id", "as_of"), name="one_move_a_day")
        ]

    def __str__(self) -> str:
        return f"{self.account_id} {self.as_of} {self.from_step}→{self.to_step}"


class PlannedAction(models.Model):
    """An action the strategy plans for a day: who (team kind, then the owner), what, how."""

    class Status(models.TextChoices):
        PLANNED = "planned", _("Planned")
        DONE = "done", _("Done")
        CANCELLED = "cancelled", _("Cancelled")

    account_id = models.BigIntegerField(_("account"))
    as_of = models.DateField(_("date"))  # leads the index (as_of, team_kind, channel)
    segment = models.CharField(_("segment"), max_length=40)
    strategy = models.CharField(_("strategy"), max_length=40)
    arm = models.CharField(_("arm"), max_length=10)
    step = models.CharField(_("step"), max_length=40)
    channel = models.CharField(_("channel"), max_length=16)
    template = models.CharField(_("template"), max_length=80, blank=True)
    team_kind = models.CharField(_("team"), max_length=10)
    collector_id = models.BigIntegerField(_("owner"), null=True, blank=True)
    status = models.CharField(
        _("status"), max_length=10, choices=Status.choices, default=Status.PLANNED
    )

    class Meta:
        verbose_name = _("planned action")
        verbose_name_plural = _("planned actions")
        constraints = [
            # A rerun of the same day plans nothing twice.
            models.UniqueConstraint(
                fields=("account_id", "as_of", "step"), name="one_action_per_step_a_day"
            )
        ]
        indexes = [models.Index(fields=("as_of", "team_kind", "channel"))]

    def __str__(self) -> str:
        return f"{self.as_of} {self.account_id} {self.channel}"


class Snapshot(models.Model):
    """An account as it stood on a date: what roll rates and past aging are computed from.

    Written for every account on the last day of a month, and on other days only for the
    accounts whose row changed (balances, oldest unpaid due date, owner, bucket, segment, step):
    an account's row on any date is its latest row on or after the month-end before it, and its
    DPD and bucket on that date follow from the oldest unpaid due date. See
    docs/decisions/0004-daily-cycle.md for why and what it costs."""

    as_of = models.DateField(_("as of"))
    account_id = models.BigIntegerField(_("account"))
    portfolio_id = models.BigIntegerField(_("portfolio"))
    dpd = models.IntegerField(_("DPD"))
    bucket = models.CharField(_("bucket"), max_length=12)
    oldest_unpaid_due = models.DateField(_("oldest unpaid due date"), null=True, blank=True)
    outstanding = _money(_("outstanding"))
    overdue = _money(_("overdue"))
    segment = models.CharField(_("segment"), max_length=40, blank=True)
    step = models.CharField(_("step"), max_length=40, blank=True)
    collector_id = models.BigIntegerField(_("owner"), null=True, blank=True)

    class Meta:
        verbose_name = _("snapshot")
        verbose_name_plural = _("snapshots")
        constraints = [
            models.UniqueConstraint(fields=("as_of", "account_id"), name="one_snapshot_a_day")
        ]

    def __str__(self) -> str:
        return f"{self.as_of} {self.account_id}"


class SnapshotTotal(models.Model):
    """The whole portfolio on a date, summed per portfolio, bucket, segment and step: every
    account with money outstanding, delinquent or not. Aging and "accounts per segment and step"
    for any past date read these few hundred rows; the snapshots give the accounts themselves.
    Kept per run and partition, so a rerun replaces its own rows and readers take the latest
    finished run of a day."""

    run = models.ForeignKey(CycleRun, on_delete=models.CASCADE, related_name="totals")
    partition = models.PositiveSmallIntegerField(_("partition"))
    as_of = models.DateField(_("as of"))
    portfolio_id = models.BigIntegerField(_("portfolio"))
    bucket = models.CharField(_("bucket"), max_length=12)
    segment = models.CharField(_("segment"), max_length=40, blank=True)
    step = models.CharField(_("step"), max_length=40, blank=True)
    accounts = models.PositiveIntegerField(_("accounts"))
    outstanding = _money(_("outstanding"))
    overdue = _money(_("overdue"))

    class Meta:
        verbose_name = _("snapshot total")
        verbose_name_plural = _("snapshot totals")
        indexes = [models.Index(fields=("as_of", "run"))]

    def __str__(self) -> str:
        return f"{self.as_of} {self.portfolio_id} {self.bucket} {self.segment}/{self.step}"


class ScheduleClaim(models.Model):
    """The schedule's claim on a day: one row per date (unique), so that of several workers
    checking the clock at once exactly one starts the day's run (see services.cycle_schedule)."""

    as_of = models.DateField(_("as of"), unique=True)
    run = models.ForeignKey(
        CycleRun, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    claimed_at = models.DateTimeField(_("claimed at"), auto_now_add=True)
    message = models.TextField(_("message"), blank=True)

    class Meta:
        verbose_name = _("scheduled run")
        verbose_name_plural = _("scheduled runs")

    def __str__(self) -> str:
        return f"schedule {self.as_of}"
