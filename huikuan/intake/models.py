"""What an import leaves behind: the job (file, choices, progress, counts), the mapping a
creditor's files use, and the bank lines of a payments import awaiting a decision."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _

from huikuan.ledger.models import Account, Creditor, Payment, Portfolio


class ImportJob(models.Model):
    """One file brought in: stored by its SHA-256, validated, then (maybe) written."""

    class Kind(models.TextChoices):
        LEDGER = "ledger", _("Ledger")
        PAYMENTS = "payments", _("Payments")

    class Mode(models.TextChoices):
        ALL_OR_NOTHING = "all_or_nothing", _("Nothing unless every row is valid")
        VALID_ONLY = "valid_only", _("Import the valid rows only")

    class Status(models.TextChoices):
        MAPPING = "mapping", _("Awaiting column mapping")
        QUEUED = "queued", _("Queued")
        RUNNING = "running", _("Running")
        REVIEW = "review", _("Awaiting review")
        DONE = "done", _("Done")
        REJECTED = "rejected", _("Rejected: the file has errors")
        FAILED = "failed", _("Failed")
        CANCELLED = "cancelled", _("Cancelled")

    FINISHED = (Status.DONE, Status.REJECTED, Status.FAILED, Status.CANCELLED)

    kind = models.CharField(_("kind"), max_length=16, choices=Kind.choices)
    creditor = models.ForeignKey(
        Creditor, on_delete=models.PROTECT, related_name="+", verbose_name=_("creditor")
    )
    portfolio = models.ForeignKey(
        Portfolio,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("portfolio"),
    )
    file_name = models.CharField(_("file name"), max_length=255)
    sha256 = models.CharField(_("SHA-256"), max_length=64, db_index=True)
    size_bytes = models.BigIntegerField(_("size"), default=0)
    sheet = models.CharField(_("sheet"), max_length=100, blank=True)
    # The header as found in the file and the field chosen for each column (index → field).
    header_row = models.IntegerField(_("header row"), null=True, blank=True)
    headers = models.JSONField(_("headers"), default=list, blank=True)
    mapping = models.JSONField(_("column mapping"), default=dict, blank=True)
    mode = models.CharField(
        _("mode"), max_length=16, choices=Mode.choices, default=Mode.ALL_OR_NOTHING
    )
    dry_run = models.BooleanField(_("validate only"), default=False)
    status = models.CharField(
        _("status"), max_length=16, choices=Status.choices, default=Status.MAPPING
    )
    # rows_read, rows_valid, rows_rejected, created/updated per table... (see services).
    counts = models.JSONField(_("counts"), default=dict, blank=True)
    error_count = models.IntegerField(_("errors"), default=0)
    message = models.TextField(_("message"), blank=True)
    language = models.CharField(_("language"), max_length=10, default="zh-hans")
    task_id = models.CharField(max_length=64, blank=True)
    # Null: started from the command line by the server's operator (audited as "system").
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("uploaded by"),
    )
    created_at = models.DateTimeField(_("uploaded at"), auto_now_add=True)
    started_at = models.DateTimeField(_("started at"), null=True, blank=True)
    finished_at = models.DateTimeField(_("finished at"), null=True, blank=True)

    class Meta:
        verbose_name = _("import")
        verbose_name_plural = _("imports")
        ordering = ("-created_at", "-id")
        indexes = [models.Index(fields=("creditor", "kind", "-created_at"))]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} #{self.pk} {self.file_name}"

    @property
    def finished(self) -> bool:
        return self.status in self.FINISHED


class MappingProfile(models.Model):
    """The column mapping a creditor's files use, keyed by normalised header text, so the next
    file from the same source maps itself."""

    creditor = models.ForeignKey(
        Creditor, on_delete=models.CASCADE, related_name="+", verbose_name=_("creditor")
    )
    kind = models.CharField(_("kind"), max_length=16, choices=ImportJob.Kind.choices)
    fields = models.JSONField(_("fields by header"), default=dict)
    updated_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+"
    )
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        verbose_name = _("column mapping")
        verbose_name_plural = _("column mappings")
        constraints = [
            models.UniqueConstraint(fields=("creditor", "kind"), name="mapping_one_per_kind")
        ]

    def __str__(self) -> str:
        return f"{self.creditor} {self.kind}"


class StatementLine(models.Model):
    """One credit line of a bank statement, its match, and what became of it."""

    class Status(models.TextChoices):
        MATCHED = "matched", _("Matched")
        AMBIGUOUS = "ambiguous", _("Ambiguous")
        UNMATCHED = "unmatched", _("Unmatched")
        IGNORED = "ignored", _("Ignored")
        POSTED = "posted", _("Posted")
        DUPLICATE = "duplicate", _("Already posted")
        SKIPPED = "skipped", _("Skipped")

    job = models.ForeignKey(ImportJob, on_delete=models.CASCADE, related_name="lines")
    line_no = models.IntegerField(_("line"))
    booking_date = models.DateField(_("booking date"))
    value_date = models.DateField(_("value date"), null=True, blank=True)
    amount = models.DecimalField(_("amount"), max_digits=18, decimal_places=2)
    currency = models.CharField(_("currency"), max_length=3)
    direction = models.CharField(_("direction"), max_length=4, default="CRDT")
    payer_name = models.CharField(_("payer"), max_length=200, blank=True)
    payer_account = models.CharField(_("payer account"), max_length=64, blank=True)
    remittance_text = models.TextField(_("remittance text"), blank=True)
    bank_reference = models.CharField(_("bank reference"), max_length=128, blank=True)
    # What makes posting idempotent: the same bank line never becomes two payments.
    idempotency_key = models.CharField(max_length=100, db_index=True)
    status = models.CharField(_("status"), max_length=16, choices=Status.choices)
    rule = models.CharField(_("matched by"), max_length=32, blank=True)
    account = models.ForeignKey(
        Account, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    candidates = models.JSONField(_("candidate accounts"), default=list, blank=True)
    payment = models.ForeignKey(
        Payment, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    decided_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
    )
    note = models.TextField(_("note"), blank=True)

    class Meta:
        verbose_name = _("statement line")
        verbose_name_plural = _("statement lines")
        ordering = ("job", "line_no")
        constraints = [
            models.UniqueConstraint(fields=("job", "line_no"), name="statement_line_unique")
        ]
        indexes = [models.Index(fields=("job", "status"))]

    def __str__(self) -> str:
        return f"{self.job_id}:{self.line_no} {self.amount} {self.currency}"


class ExportJob(models.Model):
    """A ledger export too big to make inside a request: made by the worker, downloaded later
    by the person who asked for it (it holds what their role may see, no more)."""

    class Status(models.TextChoices):
        QUEUED = "queued", _("Queued")
        RUNNING = "running", _("Running")
        DONE = "done", _("Done")
        FAILED = "failed", _("Failed")

    kind = models.CharField(_("kind"), max_length=16, default="ledger")
    # The ledger page's query string (filter and sort) as lists of values, and its as-of date.
    params = models.JSONField(_("filter"), default=dict, blank=True)
    as_of = models.DateField(_("as of"))
    status = models.CharField(
        _("status"), max_length=16, choices=Status.choices, default=Status.QUEUED
    )
    rows = models.IntegerField(_("rows"), default=0)
    file_name = models.CharField(_("file name"), max_length=255, blank=True)
    ascii_file_name = models.CharField(max_length=255, blank=True)
    message = models.TextField(_("message"), blank=True)
    language = models.CharField(_("language"), max_length=10, default="zh-hans")
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+"
    )
    created_at = models.DateTimeField(_("requested at"), auto_now_add=True)
    finished_at = models.DateTimeField(_("finished at"), null=True, blank=True)

    class Meta:
        verbose_name = _("export")
        verbose_name_plural = _("exports")
        ordering = ("-created_at", "-id")

    def __str__(self) -> str:
        return f"{self.kind} export #{self.pk}"
