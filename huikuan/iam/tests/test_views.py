"""Sign in and out, and the API tokens page, by persona."""

from __future__ import annotations

import re

import pytest
from django.urls import reverse

from huikuan.audit.models import AuditEvent
from huikuan.iam import services
from huikuan.iam.models import ApiToken
from huikuan.iam.selectors import user_for_token
from huikuan.ledger.tests.factories import PASSWORD


def test_login_page_is_styled_and_offers_the_language_switch(client, db):
    response = client.get(reverse("web:login"))
    html = response.content.decode()
    assert response.status_code == 200
    assert '<html lang="zh-hans">' in html
    assert "/static/web/huikuan.css" in html
    assert f'action="{reverse("set_language")}"' in html
    assert 'name="username"' in html and 'name="password"' in html


def test_login_in_english_after_the_switch(client, db):
    client.post(reverse("set_language"), {"language": "en", "next": reverse("web:login")})
    assert '<html lang="en">' in client.get(reverse("web:login")).content.decode()


def test_login_with_the_right_password_goes_to_the_ledger(client, personas):
    response = client.post(reverse("web:login"), {"username": "collector", "password": PASSWORD})
    assert response.status_code == 302
    assert response["Location"] == reverse("web:ledger")
    assert client.get(reverse("web:ledger")).status_code == 200


def test_login_follows_next(client, personas):
    response = client.post(
        reverse("web:login") + "?next=/aging/",
        {"username": "finance", "password": PASSWORD, "next": "/aging/"},
    )
    assert response["Location"] == "/aging/"


def test_login_with_a_wrong_password_stays_and_says_so(client, personas):
    response = client.post(reverse("web:login"), {"username": "collector", "password": "nope"})
    assert response.status_code == 200
    assert 'class="form-errors"' in response.content.decode()
    assert client.get(reverse("web:ledger")).status_code == 302


def test_a_signed_in_user_skips_the_login_page(client, personas):
    client.force_login(personas["collector"])
    assert client.get(reverse("web:login"))["Location"] == reverse("web:ledger")


# --- API tokens -----------------------------------------------------------------------------


def test_tokens_page_needs_a_login(client, db):
    for response in (
        client.get(reverse("web:tokens")),
        client.post(reverse("web:tokens"), {"name": "x"}),
        client.post(reverse("web:token_revoke", args=[1])),
    ):
        assert response.status_code == 302
        assert response["Location"].startswith(reverse("web:login"))
    assert not ApiToken.objects.exists()


@pytest.mark.parametrize("persona", ["collector", "auditor", "finance", "outsider"])
def test_create_a_token_and_see_it_once(client, personas, persona):
    user = personas[persona]
    client.force_login(user)
    response = client.post(reverse("web:tokens"), {"name": "bank import"})
    assert response.status_code == 201
    assert "no-store" in response["Cache-Control"] or "no-cache" in response["Cache-Control"]
    html = response.content.decode()
    match = re.search(r'id="new-token" value="([^"]+)"', html)
    assert match is not None
    raw = match.group(1)
    assert user_for_token(raw) == user
    token = ApiToken.objects.get(user=user)
    assert token.name == "bank import"
    assert AuditEvent.objects.filter(action="token.create", object_id=str(token.pk)).exists()
    again = client.get(reverse("web:tokens")).content.decode()
    assert raw not in again
    assert token.prefix in again


def test_a_token_needs_a_name(client, personas):
    client.force_login(personas["collector"])
    response = client.post(reverse("web:tokens"), {"name": "  "})
    assert response.status_code == 422
    assert 'id="id_name-error"' in response.content.decode()
    assert not ApiToken.objects.exists()


def test_the_list_shows_only_my_tokens(client, personas):
    services.token_create(user=personas["finance"], name="finance-etl", actor=personas["finance"])
    client.force_login(personas["collector"])
    services.token_create(user=personas["collector"], name="my-script", actor=personas["collector"])
    html = client.get(reverse("web:tokens")).content.decode()
    assert "my-script" in html
    assert "finance-etl" not in html


def test_revoke_my_token(client, personas):
    user = personas["collector"]
    token, raw = services.token_create(user=user, name="old", actor=user)
    client.force_login(user)
    response = client.post(reverse("web:token_revoke", args=[token.pk]))
    assert response.status_code == 302
    assert response["Location"] == reverse("web:tokens")
    token.refresh_from_db()
    assert token.revoked_at is not None
    assert user_for_token(raw) is None
    html = client.get(reverse("web:tokens")).content.decode()
    assert reverse("web:token_revoke", args=[token.pk]) not in html


def test_nobody_revokes_somebody_elses_token(client, personas):
    owner = personas["finance"]
    token, raw = services.token_create(user=owner, name="theirs", actor=owner)
    for persona in ("collector", "admin", "auditor"):
        client.force_login(personas[persona])
        assert client.post(reverse("web:token_revoke", args=[token.pk])).status_code == 404
    token.refresh_from_db()
    assert token.revoked_at is None
    assert user_for_token(raw) == owner


def test_revoke_is_post_only(client, personas):
    user = personas["collector"]
    token, _raw = services.token_create(user=user, name="t", actor=user)
    client.force_login(user)
    assert client.get(reverse("web:token_revoke", args=[token.pk])).status_code == 405
