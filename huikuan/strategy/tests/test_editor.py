"""The segment editor with its preview, and strategy versions: pages, services, audit, who."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any

import pytest
from django.core.exceptions import ValidationError
from django.db.models import Count
from django.test import Client
from django.urls import reverse
from django.utils import translation

from huikuan.audit.models import AuditEvent
from huikuan.cycle import services as cycle_services
from huikuan.cycle.models import AccountState
from huikuan.ledger.tests.factories import PASSWORD, installments, make_account, make_portfolio
from huikuan.strategy import services
from huikuan.strategy.models import Segment, Strategy
from huikuan.strategy.selectors import strategies_on
from huikuan.strategy.views import _segment_form, preview

pytestmark = pytest.mark.django_db
AS_OF = dt.date(2026, 11, 23)


def browser(user: Any) -> Client:
    client = Client(HTTP_ACCEPT_LANGUAGE="en")
    assert client.login(username=user.username, password=PASSWORD)
    return client


@pytest.fixture
def book(personas: dict[str, Any]) -> dict[str, Any]:
    portfolio = make_portfolio()
    for first_due, principal in (
        (dt.date(2026, 11, 20), "1000.00"),  # DPD 3
        (dt.date(2026, 11, 13), "1000.00"),  # DPD 10
        (dt.date(2026, 11, 1), "2000.00"),  # DPD 22
        (dt.date(2026, 10, 23), "1000.00"),  # DPD 31
        (dt.date(2026, 5, 1), "10000.00"),  # DPD 206, large
        (dt.date(2026, 11, 25), "1000.00"),  # due in two days
    ):
        make_account(portfolio, items=installments(first_due, 3, Decimal(principal)))
    return {"portfolio": portfolio, **personas}


def form_data(segment: Segment, **changes: Any) -> dict[str, Any]:
    form = _segment_form(segment=segment)
    data: dict[str, Any] = {}
    for name, field in form.fields.items():
        value = form.initial.get(name, field.initial)
        if value is None or value is False or value in ("", []):
            continue
        data[name] = value
    data.update(changes)
    return {k: v for k, v in data.items() if v is not None}


def test_the_preview_counts_are_what_the_cycle_then_assigns(book: dict[str, Any]) -> None:
    light = Segment.objects.get(code="light_small")
    # Narrow the light segment to DPD 1–15 and put it first: the 22-day account falls through
    # to no segment, the others keep theirs.
    data = form_data(light, dpd_max=15, position=1)
    form = _segment_form(data, segment=light)
    rows = preview(form, light)["rows"]
    shown = {r.code: r.accounts for r in rows if r.accounts}
    assert rows[0].code == "light_small" and rows[0].edited
    assert shown["light_small"] == 2  # DPD 3 and 10

    assert form.is_valid(), form.errors
    services.segment_update(segment=light, data=form.segment_data(), actor=book["manager"])
    cycle_services.cycle_run(as_of=AS_OF, actor=None)
    assigned = dict(
        AccountState.objects.exclude(segment="")
        .values_list("segment")
        .annotate(n=Count("account_id"))
        .values_list("segment", "n")
    )
    assert assigned == shown
    event = AuditEvent.objects.get(action="segment.update")
    assert event.changes["position"] == [light.position, 1]
    assert event.changes["conditions"][1] == {"dpd_min": 1, "dpd_max": 15}


def test_the_preview_page_answers_htmx_with_the_edited_rule_set(book: dict[str, Any]) -> None:
    light = Segment.objects.get(code="light_small")
    client = browser(book["manager"])
    page = client.get(reverse("web:segment_edit", args=[light.pk])).content.decode()
    assert reverse("web:segment_preview") in page and 'id="segment-preview"' in page
    data = {**form_data(light, dpd_max=15), "segment": light.pk}
    with translation.override("en"):
        response = client.post(reverse("web:segment_preview"), data, HTTP_HX_REQUEST="true")
    html = response.content.decode()
    assert response.status_code == 200
    assert 'data-code="light_small" data-accounts="2"' in html  # DPD 3 and 10
    assert "edited" in html
    # Nothing was saved by previewing.
    light.refresh_from_db()
    assert light.conditions == {"dpd_min": 1, "dpd_max": 30}
    saved = client.get(reverse("web:segment_preview"), HTTP_HX_REQUEST="true").content.decode()
    assert 'data-code="light_small" data-accounts="3"' in saved


def test_a_manager_edits_creates_and_reorders_segments(book: dict[str, Any]) -> None:
    client = browser(book["manager"])
    light = Segment.objects.get(code="light_small")
    response = client.post(
        reverse("web:segment_edit", args=[light.pk]),
        form_data(light, name="轻度（小额）", regions="44 4403", products="现金贷、车贷"),
    )
    assert response.status_code == 302, response.content.decode()
    light.refresh_from_db()
    assert light.name == "轻度（小额）"
    assert light.conditions["regions"] == ["44", "4403"]
    assert light.conditions["products"] == ["现金贷", "车贷"]

    bad = client.post(reverse("web:segment_edit", args=[light.pk]), form_data(light, dpd_min=40))
    assert bad.status_code == 422
    with translation.override("en"):
        assert "The upper bound is below the lower one." in bad.content.decode()

    created = client.post(
        reverse("web:segment_new"),
        {
            "code": "vip",
            "name": "VIP",
            "position": 5,
            "active": "on",
            "amount_min": "50,000",
            "champion": "heavy",
            "challenger_share_bp": 0,
        },
    )
    assert created.status_code == 302, created.content.decode()
    vip = Segment.objects.get(code="vip")
    assert vip.conditions == {"amount_min_fen": 5_000_000}
    assert AuditEvent.objects.filter(action="segment.create", object_id=str(vip.pk)).exists()

    order = list(Segment.objects.order_by("position").values_list("code", flat=True))
    assert order[0] == "vip"
    client.post(reverse("web:segment_move", args=[vip.pk]), {"to": "down"})
    after = list(Segment.objects.order_by("position").values_list("code", flat=True))
    assert after[:2] == [order[1], "vip"]
    assert AuditEvent.objects.filter(action="segment.move").exists()
    with translation.override("en"):
        listing = client.get(reverse("web:segments")).content.decode()
    assert "Outstanding ≥ ¥50,000.00" in listing


def test_strategy_versions_draft_steps_activate_retire(book: dict[str, Any]) -> None:
    client = browser(book["manager"])
    light = Strategy.objects.get(code="light", version=1)
    response = client.post(reverse("web:strategy_new_version", args=[light.pk]))
    draft = Strategy.objects.get(code="light", version=2)
    assert response["Location"] == reverse("web:strategy_version", args=[draft.pk])
    assert draft.status == "draft"
    assert list(draft.steps.values_list("code", "offset")) == list(
        light.steps.values_list("code", "offset")
    )

    page = client.get(reverse("web:strategy_version", args=[draft.pk]))
    steps = page.context["steps"]
    data: dict[str, Any] = {
        "name": draft.name,
        "key": "dpd",
        "effective_from": "2026-12-01",
        "effective_to": "",
        "steps-TOTAL_FORMS": len(steps.forms),
        "steps-INITIAL_FORMS": steps.initial_form_count(),
        "steps-MIN_NUM_FORMS": 0,
        "steps-MAX_NUM_FORMS": 50,
    }
    for i, form in enumerate(steps.forms):
        for name in ("code", "name", "offset", "channel", "template", "team_kind", "repeat_every"):
            value = form.initial.get(name)
            if value is not None:
                data[f"steps-{i}-{name}"] = value
    last = len(steps.forms) - 1  # the blank row: a new step at DPD 25
    data |= {
        f"steps-{last}-code": "sms_late",
        f"steps-{last}-name": "逾期短信",
        f"steps-{last}-offset": 25,
        f"steps-{last}-channel": "sms",
        f"steps-{last}-team_kind": "phone",
        f"steps-{last}-repeat_every": 0,
        "steps-0-DELETE": "on",  # drop the first step
    }
    response = client.post(reverse("web:strategy_version", args=[draft.pk]), data)
    assert response.status_code == 302, response.content.decode()
    draft.refresh_from_db()
    codes = list(draft.steps.order_by("position").values_list("code", flat=True))
    assert codes == ["email", "demand_letter", "firm_call", "sms_late"]
    assert draft.effective_from == dt.date(2026, 12, 1)
    assert AuditEvent.objects.filter(action="strategy.steps", object_id=str(draft.pk)).exists()

    same_day = {**data, f"steps-{last}-offset": 16}
    clash = client.post(reverse("web:strategy_version", args=[draft.pk]), same_day)
    assert clash.status_code == 422

    client.post(reverse("web:strategy_status", args=[draft.pk]), {"status": "active"})
    draft.refresh_from_db()
    light.refresh_from_db()
    # Activating retires nothing: the old version still answers for the days before.
    assert (draft.status, light.status) == ("active", "active")
    assert strategies_on(dt.date(2026, 11, 30))["light"].steps[0].code == "friendly_call"
    assert strategies_on(dt.date(2026, 12, 1))["light"].steps[0].code == "email"

    refused = client.post(reverse("web:strategy_version", args=[draft.pk]), data)
    assert refused.status_code == 422  # an active version does not change
    with translation.override("en"), pytest.raises(ValidationError, match="only a draft"):
        services.strategy_steps_save(strategy=draft, steps=[], actor=None)
    client.post(reverse("web:strategy_status", args=[light.pk]), {"status": "retired"})
    light.refresh_from_db()
    assert light.status == "retired"
    assert AuditEvent.objects.filter(action="strategy.retire").count() == 1
    assert AuditEvent.objects.filter(action="strategy.activate").count() == 1


def test_a_new_strategy_starts_as_an_empty_draft_that_cannot_be_activated(
    book: dict[str, Any],
) -> None:
    client = browser(book["manager"])
    response = client.post(
        reverse("web:strategies"),
        {"code": "soft", "name": "温和", "key": "dpd", "effective_from": "2026-12-01"},
    )
    created = Strategy.objects.get(code="soft")
    assert response["Location"] == reverse("web:strategy_version", args=[created.pk])
    with translation.override("en"):
        client.post(reverse("web:strategy_status", args=[created.pk]), {"status": "active"})
        page = client.get(reverse("web:strategy_version", args=[created.pk])).content.decode()
    assert "Add at least one step" in page
    created.refresh_from_db()
    assert created.status == "draft"
    duplicate = client.post(
        reverse("web:strategies"),
        {"code": "soft", "name": "x", "key": "dpd", "effective_from": "2026-12-01"},
    )
    assert duplicate.status_code == 422


@pytest.mark.parametrize("persona", ["collector", "team_lead", "agency", "outsider"])
def test_people_without_the_permissions_see_no_segments_or_strategies(
    book: dict[str, Any], persona: str
) -> None:
    client = browser(book[persona])
    segment = Segment.objects.first()
    strategy = Strategy.objects.first()
    assert segment is not None and strategy is not None
    gets = [
        reverse("web:segments"),
        reverse("web:segment_new"),
        reverse("web:segment_edit", args=[segment.pk]),
        reverse("web:segment_preview"),
        reverse("web:strategies"),
        reverse("web:strategy_version", args=[strategy.pk]),
    ]
    for url in gets:
        assert client.get(url).status_code == 403, url
    posts = [
        reverse("web:segment_move", args=[segment.pk]),
        reverse("web:strategy_new_version", args=[strategy.pk]),
        reverse("web:strategy_status", args=[strategy.pk]),
        reverse("web:segment_preview"),
    ]
    for url in posts:
        assert client.post(url, {"to": "up", "status": "retired"}).status_code == 403, url
    assert not AuditEvent.objects.filter(action__startswith="s").exists()


@pytest.mark.parametrize("persona", ["auditor", "compliance"])
def test_readers_see_segments_and_strategies_but_change_nothing(
    book: dict[str, Any], persona: str
) -> None:
    client = browser(book[persona])
    segment = Segment.objects.get(code="light_small")
    strategy = Strategy.objects.get(code="light")
    assert client.get(reverse("web:segments")).status_code == 200
    assert client.get(reverse("web:strategies")).status_code == 200
    page = client.get(reverse("web:segment_edit", args=[segment.pk]))
    assert page.status_code == 200 and "Save the segment" not in page.content.decode()
    assert client.get(reverse("web:strategy_version", args=[strategy.pk])).status_code == 200
    edit = client.post(reverse("web:segment_edit", args=[segment.pk]), form_data(segment))
    assert edit.status_code == 403
    assert client.get(reverse("web:segment_preview")).status_code == 403
    assert client.post(reverse("web:segment_new"), {"code": "x"}).status_code == 403
    assert client.post(reverse("web:strategies"), {"code": "x"}).status_code == 403
