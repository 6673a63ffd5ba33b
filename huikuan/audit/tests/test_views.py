"""The audit log page: who may read it, its filters, pages and HTMX partial."""

from __future__ import annotations

import re
from decimal import Decimal

import pytest
from django.urls import reverse

from huikuan.audit.models import AuditEvent
from huikuan.audit.services import Change, audit_record_many
from huikuan.ledger import services


def _actions(response) -> list[str]:
    return re.findall(r'data-action="([^"]+)"', response.content.decode())


def test_anonymous_goes_to_login(client, db):
    response = client.get(reverse("web:audit_log"))
    assert response.status_code == 302
    assert response["Location"].startswith(reverse("web:login"))


@pytest.mark.parametrize(
    ("persona", "status"),
    [
        ("auditor", 200),
        ("compliance", 200),
        ("manager", 200),
        ("admin", 200),
        ("collector", 403),
        ("team_lead", 403),
        ("finance", 403),
        ("legal", 403),
        ("agency", 403),
        ("outsider", 403),
    ],
)
def test_only_roles_with_the_audit_permission_read_the_log(client, personas, persona, status):
    client.force_login(personas[persona])
    assert client.get(reverse("web:audit_log")).status_code == status


def test_latest_first_and_filter_by_object_actor_action(client, personas, ledger):
    mine = ledger["mine"]
    payment = services.payment_post(
        account=mine,
        amount=Decimal("100"),
        received_on=mine.open_date.replace(month=11, day=20),
        method="bank",
        actor=personas["finance"],
    )
    services.account_status_change(
        account=mine, status="promised", reason="承诺", actor=personas["team_lead"]
    )
    client.force_login(personas["auditor"])
    url = reverse("web:audit_log")

    everything = _actions(client.get(url))
    assert everything[0] == "account.status"  # newest first
    assert len(everything) == AuditEvent.objects.count()

    assert set(_actions(client.get(url, {"action": "payment.post"}))) == {"payment.post"}
    by_actor = client.get(url, {"actor": "team_lead"})
    assert _actions(by_actor) == ["account.status"]
    by_object = client.get(url, {"object_type": "ledger.payment", "object_id": str(payment.pk)})
    assert _actions(by_object) == ["payment.post"]
    account_events = client.get(url, {"object_type": "ledger.account", "object_id": str(mine.pk)})
    assert set(_actions(account_events)) == {"account.create", "account.status"}
    assert reverse("web:account", args=[mine.pk]) in account_events.content.decode()


def test_pages_of_fifty_and_htmx_partial(client, personas):
    audit_record_many(
        actor=None,
        changes=[Change("test.event", "test.thing", str(n), {"n": [None, n]}) for n in range(60)],
    )
    client.force_login(personas["compliance"])
    url = reverse("web:audit_log")
    first = client.get(url, {"action": ""})
    assert len(_actions(first)) == 50
    assert "60" in first.content.decode()
    second = client.get(url, {"page": "2"}, HTTP_HX_REQUEST="true")
    html = second.content.decode()
    assert "<html" not in html
    assert len(_actions(second)) == 10


def test_an_unknown_action_filter_is_ignored_not_an_error(client, personas):
    client.force_login(personas["auditor"])
    response = client.get(reverse("web:audit_log"), {"action": "no.such", "page": "99"})
    assert response.status_code == 200
