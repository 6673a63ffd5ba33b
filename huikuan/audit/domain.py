"""Hash chaining for audit events, without the database."""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from decimal import Decimal
from enum import Enum
from typing import Any

GENESIS_HASH = "0" * 64
# Every column of an event that its hash covers, besides the previous hash.
HASHED_FIELDS = (
    "at",
    "actor_id",
    "actor_label",
    "action",
    "object_type",
    "object_id",
    "changes",
    "reason",
)


def normalize(value: Any) -> Any:
    """Make a value JSON-stable, so the stored form hashes the same as the written form."""
    if isinstance(value, dict):
        return {str(k): normalize(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [normalize(v) for v in value]
    if isinstance(value, Enum):
        return normalize(value.value)
    if isinstance(value, Decimal | dt.date | dt.datetime):
        return value.isoformat() if not isinstance(value, Decimal) else str(value)
    if value is None or isinstance(value, bool | int | str):
        return value
    if hasattr(value, "pk"):
        return value.pk
    return str(value)


def event_hash(
    *,
    prev_hash: str,
    at: dt.datetime,
    actor_id: int | None,
    actor_label: str,
    action: str,
    object_type: str,
    object_id: str,
    changes: dict[str, Any],
    reason: str,
) -> str:
    payload = json.dumps(
        [
            prev_hash,
            at.astimezone(dt.UTC).isoformat(timespec="microseconds"),
            actor_id,
            actor_label,
            action,
            object_type,
            object_id,
            changes,
            reason,
        ],
        sort_keys=True,
        ensure_ascii=False,
        separators=(",", ":"),
    )
    return hashlib.sha256(payload.encode()).hexdigest()
