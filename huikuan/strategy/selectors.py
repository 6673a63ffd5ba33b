"""The segmentation and the strategies in force on a date, as ``domain`` objects."""

from __future__ import annotations

import datetime as dt

from django.db.models import Q

from huikuan.strategy import domain
from huikuan.strategy.models import Segment, Strategy


def segment_rules() -> list[domain.SegmentRule]:
    """The active segments in order, each as the rule that takes accounts into it."""
    return [
        domain.SegmentRule(s.code, domain.Condition.from_json(s.conditions))
        for s in Segment.objects.filter(active=True).order_by("position", "id")
    ]


def strategies_on(as_of: dt.date) -> dict[str, domain.Strategy]:
    """For each strategy code, the active version in force on ``as_of`` (the newest wins when
    two overlap)."""
    found: dict[str, domain.Strategy] = {}
    versions = (
        Strategy.objects.filter(status=Strategy.Status.ACTIVE, effective_from__lte=as_of)
        .filter(Q(effective_to__isnull=True) | Q(effective_to__gte=as_of))
        .order_by("code", "-version")
        .prefetch_related("steps")
    )
    for version in versions:
        if version.code in found:
            continue
        steps = tuple(
            domain.Step(
                code=s.code,
                offset=s.offset,
                channel=s.channel,
                template=s.template,
                team_kind=s.team_kind,
                repeat_every=s.repeat_every,
            )
            for s in sorted(version.steps.all(), key=lambda s: s.offset)
        )
        found[version.code] = domain.Strategy(version.code, steps, key=version.key)
    return found
