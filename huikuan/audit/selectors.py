from __future__ import annotations

from dataclasses import dataclass

from django.db.models import QuerySet

from huikuan.audit.domain import GENESIS_HASH, HASHED_FIELDS, event_hash
from huikuan.audit.models import AuditChainHead, AuditEvent


@dataclass(frozen=True)
class ChainReport:
    checked: int
    first_bad_id: int | None
    problem: str

    @property
    def ok(self) -> bool:
        return self.first_bad_id is None and not self.problem


def audit_verify(*, chunk_size: int = 5000) -> ChainReport:
    """Walk the chain in id order and report the first row whose hash or link does not hold."""
    prev = GENESIS_HASH
    checked = 0
    for event in AuditEvent.objects.order_by("id").iterator(chunk_size=chunk_size):
        if event.prev_hash != prev:
            return ChainReport(checked, event.pk, "link")
        expected = event_hash(
            prev_hash=event.prev_hash, **{name: getattr(event, name) for name in HASHED_FIELDS}
        )
        if expected != event.hash:
            return ChainReport(checked, event.pk, "content")
        prev = event.hash
        checked += 1
    head = AuditChainHead.objects.filter(pk=1).first()
    if head is not None and head.last_hash != prev:
        # The newest rows were deleted: the head still remembers the true end of the chain.
        return ChainReport(checked, None, "truncated")
    return ChainReport(checked, None, "")


def events_for(*, object_type: str, object_ids: list[str]) -> QuerySet[AuditEvent]:
    return AuditEvent.objects.filter(object_type=object_type, object_id__in=object_ids).order_by(
        "-at", "-id"
    )
