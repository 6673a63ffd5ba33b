from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from django.db import models, transaction
from django.utils import timezone

from huikuan.audit.domain import GENESIS_HASH, event_hash, normalize
from huikuan.audit.models import AuditChainHead, AuditEvent


@dataclass(frozen=True)
class Change:
    """What one audited write did to one object."""

    action: str
    object_type: str
    object_id: str
    changes: dict[str, Any]
    reason: str = ""


def _actor_label(actor: Any) -> str:
    if actor is None:
        return "system"
    return str(actor.get_username())


def audit_record(
    *,
    actor: Any,
    action: str,
    obj: models.Model | None = None,
    object_type: str = "",
    object_id: str = "",
    changes: dict[str, Any] | None = None,
    reason: str = "",
) -> AuditEvent:
    """Append one event. Call inside the service's own transaction, so both commit together."""
    if obj is not None:
        object_type = object_type or obj._meta.label_lower
        object_id = object_id or str(obj.pk)
    change = Change(action, object_type, object_id, changes or {}, reason)
    return audit_record_many(actor=actor, changes=[change])[0]


def audit_record_many(*, actor: Any, changes: Iterable[Change]) -> list[AuditEvent]:
    """Append several events under one lock of the chain head (bulk imports, demo loads)."""
    with transaction.atomic():
        head = _lock_head()
        at = timezone.now()
        actor_id = actor.pk if actor is not None else None
        label = _actor_label(actor)
        events = []
        prev = head.last_hash
        for change in changes:
            fields = {
                "at": at,
                "actor_id": actor_id,
                "actor_label": label,
                "action": change.action,
                "object_type": change.object_type,
                "object_id": change.object_id,
                "changes": normalize(change.changes),
                "reason": change.reason,
            }
            digest = event_hash(prev_hash=prev, **fields)
            events.append(AuditEvent(**fields, prev_hash=prev, hash=digest))
            prev = digest
        AuditEvent.objects.bulk_create(events, batch_size=2000)
        head.last_hash = prev
        head.save(update_fields=["last_hash"])
        return events


def _lock_head() -> AuditChainHead:
    head = AuditChainHead.objects.select_for_update().filter(pk=1).first()
    if head is None:
        AuditChainHead.objects.get_or_create(pk=1, defaults={"last_hash": GENESIS_HASH})
        head = AuditChainHead.objects.select_for_update().get(pk=1)
    return head
