from __future__ import annotations

import datetime as dt
from decimal import Decimal

from huikuan.audit.domain import GENESIS_HASH, event_hash, normalize


def _hash(**overrides):
    fields = dict(
        prev_hash=GENESIS_HASH,
        at=dt.datetime(2026, 11, 23, 1, 2, 3, tzinfo=dt.UTC),
        actor_id=1,
        actor_label="finance",
        action="payment.post",
        object_type="ledger.payment",
        object_id="7",
        changes={"amount": [None, "100.00"]},
        reason="",
    )
    fields.update(overrides)
    return event_hash(**fields)


def test_hash_changes_with_every_field():
    base = _hash()
    assert len(base) == 64
    variants = [
        {"prev_hash": "1" * 64},
        {"actor_id": 2},
        {"actor_label": "x"},
        {"action": "x"},
        {"object_type": "x"},
        {"object_id": "8"},
        {"changes": {"amount": [None, "100.01"]}},
        {"reason": "typo"},
        {"at": dt.datetime(2026, 11, 23, 1, 2, 4, tzinfo=dt.UTC)},
    ]
    assert len({base, *(_hash(**v) for v in variants)}) == len(variants) + 1


def test_hash_ignores_key_order_and_time_zone():
    shanghai = dt.timezone(dt.timedelta(hours=8))
    assert _hash(changes={"a": 1, "b": 2}) == _hash(changes={"b": 2, "a": 1})
    assert _hash() == _hash(at=dt.datetime(2026, 11, 23, 9, 2, 3, tzinfo=shanghai))


def test_normalize_makes_values_json_stable():
    assert normalize({"amount": Decimal("1.50"), "on": dt.date(2026, 1, 2), "n": [1, None]}) == {
        "amount": "1.50",
        "on": "2026-01-02",
        "n": [1, None],
    }
