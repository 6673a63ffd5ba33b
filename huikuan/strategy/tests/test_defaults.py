"""The segmentation and strategies a new installation starts with."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest

from huikuan.strategy import selectors
from huikuan.strategy.domain import segment_expr
from huikuan.strategy.models import Segment
from huikuan.strategy.tests.test_domain import accounts

pytestmark = pytest.mark.django_db


def test_every_default_segment_has_a_strategy_in_force(db: Any) -> None:
    strategies = selectors.strategies_on(dt.date(2026, 11, 23))
    segments = list(Segment.objects.all())
    assert len(segments) == 9
    assert {s.champion for s in segments} <= set(strategies)
    # The example path of the course material is there, DPD by DPD.
    light = {step.offset: step.channel for step in strategies["light"].steps}
    assert light[1] == "call" and light[7] == "email" and light[15] == "letter"
    assert [s.channel for s in strategies["reminder"].steps] == ["sms"]


def test_the_default_rules_put_accounts_where_the_course_material_says(db: Any) -> None:
    rules = selectors.segment_rules()
    frame = accounts(
        dpd=[-5, -3, 0, 1, 30, 31, 120, 200, 200],
        outstanding_fen=[100] * 8 + [2_000_000],
    )
    assert frame.select(segment_expr(rules)).to_series().to_list() == [
        None,
        "pre_due",
        "pre_due",
        "light_small",
        "light_small",
        "medium_small",
        "heavy_small",
        "near_bad_small",
        "near_bad_large",
    ]


def test_no_strategy_before_it_takes_effect(db: Any) -> None:
    assert selectors.strategies_on(dt.date(2019, 12, 31)) == {}
