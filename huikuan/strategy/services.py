"""Changes to segments and strategies: each one transaction with its audit event.

Strategy versions move draft → active → retired (``STRATEGY_TRANSITIONS``). Only a draft's
steps and dates change; an active version is what the cycle may already have applied, so it is
changed by a new version (a copy of the latest, as a draft). Activating a version retires
nothing: the cycle takes, for each code, the newest active version in force on the as-of date,
so the new one takes over from its "effective from" and the old one still answers for the
dates before it (a rerun of an earlier day applies what applied then). A manager ends a
version by retiring it.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from typing import Any

from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import Max

from huikuan.audit.services import audit_record
from huikuan.lib._translate import _
from huikuan.strategy import domain
from huikuan.strategy.models import Segment, Strategy, StrategyStep

DRAFT, ACTIVE, RETIRED = Strategy.Status.DRAFT, Strategy.Status.ACTIVE, Strategy.Status.RETIRED
STRATEGY_TRANSITIONS: dict[str, frozenset[str]] = {
    DRAFT: frozenset({ACTIVE}),
    ACTIVE: frozenset({RETIRED}),
    RETIRED: frozenset(),
}
SEGMENT_FIELDS = (
    "name",
    "position",
    "conditions",
    "active",
    "champion",
    "challenger",
    "challenger_share_bp",
)


def _changes(obj: Any, data: dict[str, Any]) -> dict[str, list[Any]]:
    return {
        name: [getattr(obj, name), value]
        for name, value in data.items()
        if getattr(obj, name) != value
    }


def _check_conditions(conditions: dict[str, Any]) -> dict[str, Any]:
    try:
        return domain.Condition.from_json(conditions).to_json()
    except (TypeError, ValueError) as exc:
        raise ValidationError({"conditions": str(exc)}) from exc


# --- segments ---------------------------------------------------------------------------------


def segment_create(*, code: str, data: dict[str, Any], actor: Any) -> Segment:
    code = code.strip()
    if Segment.objects.filter(code=code).exists():
        raise ValidationError({"code": _("A segment with this code exists already.")})
    values = {k: data[k] for k in SEGMENT_FIELDS if k in data}
    values["conditions"] = _check_conditions(values.get("conditions", {}))
    with transaction.atomic():
        segment = Segment.objects.create(code=code, updated_by=actor, **values)
        audit_record(
            actor=actor,
            action="segment.create",
            obj=segment,
            changes={"code": [None, code], **{k: [None, v] for k, v in values.items()}},
        )
    return segment


def segment_update(*, segment: Segment, data: dict[str, Any], actor: Any) -> Segment:
    values = {k: data[k] for k in SEGMENT_FIELDS if k in data}
    if "conditions" in values:
        values["conditions"] = _check_conditions(values["conditions"])
    with transaction.atomic():
        locked = Segment.objects.select_for_update().get(pk=segment.pk)
        changes = _changes(locked, values)
        if not changes:
            return locked
        for name, value in values.items():
            setattr(locked, name, value)
        locked.updated_by = actor
        locked.save()
        audit_record(actor=actor, action="segment.update", obj=locked, changes=changes)
    return locked


def segment_move(*, segment: Segment, up: bool, actor: Any) -> Segment:
    """Swap the segment with its neighbour above (``up``) or below: the first match wins, so
    the order decides which segment takes an account both would."""
    with transaction.atomic():
        ordered = list(Segment.objects.select_for_update().order_by("position", "id"))
        index = next(i for i, s in enumerate(ordered) if s.pk == segment.pk)
        other = index - 1 if up else index + 1
        if not 0 <= other < len(ordered):
            return ordered[index]
        ordered[index], ordered[other] = ordered[other], ordered[index]
        # Renumber in tens: room to insert by hand, and no two segments share a position.
        for position, each in enumerate(ordered, start=1):
            if each.position != position * 10:
                old = each.position
                each.position = position * 10
                each.save(update_fields=["position"])
                audit_record(
                    actor=actor,
                    action="segment.move",
                    obj=each,
                    changes={"position": [old, each.position]},
                )
        return ordered[other]


# --- strategies -------------------------------------------------------------------------------


@dataclass(frozen=True)
class StepInput:
    code: str
    name: str
    offset: int
    channel: str
    template: str = ""
    team_kind: str = "phone"
    repeat_every: int = 0


def _require_status(strategy: Strategy, *allowed: str) -> None:
    if strategy.status not in allowed:
        raise ValidationError(
            _("Version %(v)s is %(status)s: only a draft can be changed; make a new version.")
            % {"v": strategy.version, "status": strategy.get_status_display()}
        )


def _check_dates(start: dt.date | None, end: dt.date | None) -> None:
    if start is None:
        raise ValidationError({"effective_from": _("Set the date the version takes effect.")})
    if end is not None and end < start:
        raise ValidationError(
            {"effective_to": _("The end date cannot be before the effective date.")}
        )


def strategy_create(
    *, code: str, name: str, key: str, effective_from: dt.date, actor: Any
) -> Strategy:
    code = code.strip()
    if Strategy.objects.filter(code=code).exists():
        raise ValidationError({"code": _("A strategy with this code exists already.")})
    with transaction.atomic():
        strategy = Strategy.objects.create(
            code=code, name=name, key=key, effective_from=effective_from, created_by=actor
        )
        audit_record(
            actor=actor,
            action="strategy.create",
            obj=strategy,
            changes={"code": [None, code], "name": [None, name], "version": [None, 1]},
        )
    return strategy


def strategy_version_new(*, code: str, actor: Any, effective_from: dt.date) -> Strategy:
    """A new draft version: a copy of the latest version of ``code`` with its steps."""
    with transaction.atomic():
        latest = Strategy.objects.select_for_update().filter(code=code).order_by("-version").first()
        if latest is None:
            raise ValidationError({"code": _("No strategy has this code.")})
        version = (Strategy.objects.filter(code=code).aggregate(Max("version"))["version__max"]) + 1
        draft = Strategy.objects.create(
            code=code,
            version=version,
            name=latest.name,
            key=latest.key,
            effective_from=max(effective_from, latest.effective_from),
            created_by=actor,
        )
        StrategyStep.objects.bulk_create(
            StrategyStep(
                strategy=draft,
                **{f: getattr(s, f) for f in ("position", "code", "name", "offset", "channel")},
                template=s.template,
                team_kind=s.team_kind,
                repeat_every=s.repeat_every,
            )
            for s in latest.steps.all()
        )
        audit_record(
            actor=actor,
            action="strategy.version",
            obj=draft,
            changes={"version": [latest.version, version], "copied_from": [None, latest.pk]},
        )
    return draft


def strategy_update(
    *,
    strategy: Strategy,
    name: str,
    key: str,
    effective_from: dt.date | None,
    effective_to: dt.date | None,
    actor: Any,
) -> Strategy:
    _check_dates(effective_from, effective_to)
    with transaction.atomic():
        locked = Strategy.objects.select_for_update().get(pk=strategy.pk)
        _require_status(locked, DRAFT)
        values = {
            "name": name,
            "key": key,
            "effective_from": effective_from,
            "effective_to": effective_to,
        }
        changes = _changes(locked, values)
        if changes:
            for field_name, value in values.items():
                setattr(locked, field_name, value)
            locked.save()
            audit_record(actor=actor, action="strategy.update", obj=locked, changes=changes)
    return locked


def strategy_steps_save(*, strategy: Strategy, steps: Sequence[StepInput], actor: Any) -> Strategy:
    """Replace a draft's steps (ordered by offset), checked as the cycle will read them."""
    codes = [s.code for s in steps]
    if len(set(codes)) != len(codes):
        raise ValidationError({"steps": _("Two steps have the same code.")})
    ordered = sorted(steps, key=lambda s: s.offset)
    try:
        domain.Strategy(
            strategy.code,
            tuple(
                domain.Step(s.code, s.offset, s.channel, s.template, s.team_kind, s.repeat_every)
                for s in ordered
            ),
            key=strategy.key,
        )
    except ValueError:
        raise ValidationError(
            {"steps": _("Two steps start on the same day: each step needs its own “from day”.")}
        ) from None
    with transaction.atomic():
        locked = Strategy.objects.select_for_update().get(pk=strategy.pk)
        _require_status(locked, DRAFT)
        before = [
            asdict(StepInput(s.code, s.name, s.offset, s.channel, s.template, s.team_kind,
                             s.repeat_every))
            for s in locked.steps.order_by("position")
        ]  # fmt: skip
        after = [asdict(s) for s in ordered]
        if before == after:
            return locked
        locked.steps.all().delete()
        StrategyStep.objects.bulk_create(
            StrategyStep(strategy=locked, position=position, **asdict(step))
            for position, step in enumerate(ordered, start=1)
        )
        audit_record(
            actor=actor, action="strategy.steps", obj=locked, changes={"steps": [before, after]}
        )
    return locked


def strategy_transition(*, strategy: Strategy, status: str, actor: Any) -> Strategy:
    """Activate a draft or retire an active version (``STRATEGY_TRANSITIONS``)."""
    with transaction.atomic():
        locked = Strategy.objects.select_for_update().get(pk=strategy.pk)
        if status not in Strategy.Status.values:
            raise ValidationError(_("Unknown status %(status)s.") % {"status": status})
        if status not in STRATEGY_TRANSITIONS[locked.status]:
            raise ValidationError(
                _("A version that is %(old)s cannot become %(new)s.")
                % {
                    "old": locked.get_status_display(),
                    "new": Strategy.Status(status).label,
                }
            )
        if status == ACTIVE:
            _check_dates(locked.effective_from, locked.effective_to)
            if not locked.steps.exists():
                raise ValidationError(_("Add at least one step before activating the version."))
        old = locked.status
        locked.status = status
        locked.save(update_fields=["status"])
        audit_record(
            actor=actor,
            action=f"strategy.{'activate' if status == ACTIVE else 'retire'}",
            obj=locked,
            changes={"status": [old, status]},
        )
    return locked
