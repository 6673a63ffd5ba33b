"""Segments (客户分层) and strategies (催收策略) as managers define them.

The rules live here as data; ``domain`` turns them into vectorised expressions for the cycle.
"""

from __future__ import annotations

from django.conf import settings
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.utils.translation import gettext_lazy as _


class Strategy(models.Model):
    """One version of a treatment path. A new version is a new row; the cycle uses, for each
    code, the version whose effective dates hold the as-of date."""

    class Key(models.TextChoices):
        DPD = "dpd", _("Days past due")
        DAYS_IN_SEGMENT = "days_in_segment", _("Days in the segment")

    class Status(models.TextChoices):
        DRAFT = "draft", _("Draft")
        ACTIVE = "active", _("Active")
        RETIRED = "retired", _("Retired")

    code = models.CharField(_("code"), max_length=40)
    version = models.PositiveIntegerField(_("version"), default=1)
    name = models.CharField(_("name"), max_length=200)
    key = models.CharField(_("steps keyed by"), max_length=16, choices=Key.choices, default=Key.DPD)
    effective_from = models.DateField(_("effective from"))
    effective_to = models.DateField(_("effective until"), null=True, blank=True)
    status = models.CharField(
        _("status"), max_length=8, choices=Status.choices, default=Status.DRAFT
    )
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        verbose_name = _("strategy")
        verbose_name_plural = _("strategies")
        ordering = ("code", "-version")
        permissions = [("manage_strategy", _("Can edit segments and strategies"))]
        constraints = [
            models.UniqueConstraint(fields=("code", "version"), name="strategy_version_unique")
        ]

    def __str__(self) -> str:
        return f"{self.name} v{self.version}"


class StrategyStep(models.Model):
    class Channel(models.TextChoices):
        SMS = "sms", _("SMS")
        CALL = "call", _("Call")
        EMAIL = "email", _("Email")
        LETTER = "letter", _("Demand letter")
        VISIT = "visit", _("Field visit")
        WECHAT = "wechat", _("WeChat")
        LAWYER_LETTER = "lawyer_letter", _("Lawyer's letter")
        LEGAL = "legal", _("Legal review")
        AGENCY = "agency", _("Agency placement")

    strategy = models.ForeignKey(Strategy, on_delete=models.CASCADE, related_name="steps")
    position = models.PositiveSmallIntegerField(_("position"))
    code = models.CharField(_("code"), max_length=40)
    name = models.CharField(_("name"), max_length=200)
    offset = models.IntegerField(
        _("from day"), help_text=_("The DPD (or days in the segment) from which the step applies.")
    )
    channel = models.CharField(_("channel"), max_length=16, choices=Channel.choices)
    template = models.CharField(_("template or script"), max_length=80, blank=True)
    team_kind = models.CharField(_("owning team"), max_length=10, default="phone")
    repeat_every = models.PositiveSmallIntegerField(
        _("repeat every (days)"), default=0, help_text=_("0: once, on the day the step begins.")
    )

    class Meta:
        verbose_name = _("strategy step")
        verbose_name_plural = _("strategy steps")
        ordering = ("strategy", "position")
        constraints = [
            models.UniqueConstraint(fields=("strategy", "position"), name="step_position_unique"),
            models.UniqueConstraint(fields=("strategy", "code"), name="step_code_unique"),
            models.UniqueConstraint(fields=("strategy", "offset"), name="step_offset_unique"),
        ]

    def __str__(self) -> str:
        return f"{self.strategy.code}:{self.code}"


class Segment(models.Model):
    """One rule of the segmentation: the first active segment (by position) whose conditions an
    account meets takes it. Conditions are ``domain.Condition`` as JSON."""

    position = models.PositiveIntegerField(_("position"))
    code = models.CharField(_("code"), max_length=40, unique=True)
    name = models.CharField(_("name"), max_length=200)
    conditions = models.JSONField(_("conditions"), default=dict, blank=True)
    active = models.BooleanField(_("active"), default=True)
    champion = models.CharField(_("strategy"), max_length=40, blank=True)
    challenger = models.CharField(_("challenger strategy"), max_length=40, blank=True)
    challenger_share_bp = models.PositiveIntegerField(
        _("challenger share (basis points)"),
        default=0,
        validators=[MinValueValidator(0), MaxValueValidator(10_000)],
    )
    updated_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        verbose_name = _("segment")
        verbose_name_plural = _("segments")
        ordering = ("position", "id")

    def __str__(self) -> str:
        return self.name
