"""The /api/v1 shell: authentication, the error body, languages, pagination, OpenAPI, tokens."""

from __future__ import annotations

from typing import Any

import pytest
from django.test import Client

from huikuan.api.pagination import decode_cursor, encode_cursor
from huikuan.iam.models import ApiToken
from huikuan.iam.services import token_create, token_revoke
from huikuan.ledger.models import Account
from huikuan.ledger.tests.factories import make_account

pytestmark = pytest.mark.django_db


def bearer(user: Any) -> dict[str, str]:
    _token, raw = token_create(user=user, name="test", actor=None)
    return {"HTTP_AUTHORIZATION": f"Bearer {raw}"}


# --- authentication -------------------------------------------------------------------------


def test_token_authenticates_as_its_user(client: Client, personas: dict[str, Any]) -> None:
    response = client.get("/api/v1/me", **bearer(personas["team_lead"]))
    assert response.status_code == 200
    assert response.json() == {
        "id": personas["team_lead"].pk,
        "username": "team_lead",
        "name": "",
        "roles": ["team_lead"],
        "can_see_pii": False,
    }


def test_revoked_token_is_refused(client: Client, personas: dict[str, Any]) -> None:
    token, raw = token_create(user=personas["manager"], name="ci", actor=None)
    token_revoke(token=token, actor=None)
    response = client.get("/api/v1/me", HTTP_AUTHORIZATION=f"Bearer {raw}")
    assert response.status_code == 401
    assert response.json()["code"] == "unauthorized"
    assert response["WWW-Authenticate"].startswith("Bearer")


@pytest.mark.parametrize(
    "header",
    [
        "Bearer hk_deadbeef_not-the-secret",
        "Bearer nonsense",
        "Basic bWFuYWdlcjp0ZXN0LXBhc3MtMTIz",
    ],
)
def test_wrong_credentials_are_refused(
    client: Client, personas: dict[str, Any], header: str
) -> None:
    response = client.get("/api/v1/accounts", HTTP_AUTHORIZATION=header)
    assert response.status_code == 401
    assert response.json()["code"] == "unauthorized"


def test_a_wrong_token_is_not_rescued_by_a_session(
    client: Client, personas: dict[str, Any]
) -> None:
    client.force_login(personas["manager"])
    response = client.get("/api/v1/me", HTTP_AUTHORIZATION="Bearer hk_deadbeef_wrong")
    assert response.status_code == 401


def test_no_credentials_is_401_even_for_writes(personas: dict[str, Any]) -> None:
    csrf_client = Client(enforce_csrf_checks=True)
    assert csrf_client.get("/api/v1/accounts").status_code == 401
    response = csrf_client.post(
        "/api/v1/creditors", {"code": "X", "name": "X"}, content_type="application/json"
    )
    assert response.status_code == 401


def test_session_works_and_unsafe_methods_need_csrf(personas: dict[str, Any]) -> None:
    csrf_client = Client(enforce_csrf_checks=True)
    csrf_client.force_login(personas["manager"])
    assert csrf_client.get("/api/v1/me").json()["username"] == "manager"
    response = csrf_client.post(
        "/api/v1/creditors", {"code": "CSRF1", "name": "x"}, content_type="application/json"
    )
    assert response.status_code == 403
    assert response.json()["code"] == "csrf_failed"


def test_token_requests_need_no_csrf(personas: dict[str, Any]) -> None:
    csrf_client = Client(enforce_csrf_checks=True)
    response = csrf_client.post(
        "/api/v1/creditors",
        {"code": "TOK1", "name": "某银行"},
        content_type="application/json",
        **bearer(personas["manager"]),
    )
    assert response.status_code == 201
    assert response.json()["code"] == "TOK1"


# --- tokens ---------------------------------------------------------------------------------


def test_create_list_and_revoke_own_token(client: Client, personas: dict[str, Any]) -> None:
    client.force_login(personas["collector"])
    created = client.post("/api/v1/tokens", {"name": "脚本"}, content_type="application/json")
    assert created.status_code == 201
    body = created.json()
    assert body["token"].startswith("hk_") and body["name"] == "脚本"
    # Only the hash is kept.
    stored = ApiToken.objects.get(pk=body["id"])
    assert body["token"] not in (stored.secret_hash, stored.prefix)

    token_client = Client(HTTP_AUTHORIZATION=f"Bearer {body['token']}")
    listed = token_client.get("/api/v1/tokens").json()
    assert [t["id"] for t in listed] == [body["id"]]
    assert "token" not in listed[0] and listed[0]["last_used_at"] is not None

    assert client.delete(f"/api/v1/tokens/{body['id']}").status_code == 204
    assert token_client.get("/api/v1/me").status_code == 401
    assert client.get("/api/v1/tokens").json()[0]["revoked_at"] is not None


def test_a_token_cannot_mint_tokens(client: Client, personas: dict[str, Any]) -> None:
    response = client.post(
        "/api/v1/tokens",
        {"name": "more"},
        content_type="application/json",
        **bearer(personas["manager"]),
    )
    assert response.status_code == 403
    assert ApiToken.objects.filter(name="more").count() == 0


def test_cannot_see_or_revoke_someone_elses_token(client: Client, personas: dict[str, Any]) -> None:
    theirs, _raw = token_create(user=personas["manager"], name="theirs", actor=None)
    client.force_login(personas["collector"])
    assert client.get("/api/v1/tokens").json() == []
    response = client.delete(f"/api/v1/tokens/{theirs.pk}")
    assert response.status_code == 404
    theirs.refresh_from_db()
    assert theirs.revoked_at is None


def test_token_needs_a_name(client: Client, personas: dict[str, Any]) -> None:
    client.force_login(personas["collector"])
    response = client.post(
        "/api/v1/tokens", {"name": "  "}, content_type="application/json", HTTP_ACCEPT_LANGUAGE="en"
    )
    assert response.status_code == 422
    assert response.json()["fields"] == {"name": ["Give the token a name."]}


def test_outsider_has_no_roles(client: Client, personas: dict[str, Any]) -> None:
    body = client.get("/api/v1/me", **bearer(personas["outsider"])).json()
    assert body["roles"] == [] and body["can_see_pii"] is False


# --- the error body -------------------------------------------------------------------------


def test_schema_errors_name_the_field_in_english(
    client: Client, ledger: dict[str, Any], personas: dict[str, Any]
) -> None:
    response = client.post(
        f"/api/v1/accounts/{ledger['mine'].pk}/payments",
        {"amount": 12.5, "method": "cash"},
        content_type="application/json",
        HTTP_ACCEPT_LANGUAGE="en",
        **bearer(personas["finance"]),
    )
    assert response.status_code == 422
    body = response.json()
    assert body["code"] == "validation_error"
    assert set(body["fields"]) == {"amount", "received_on"}
    assert "decimal string" in body["fields"]["amount"][0]
    assert body["fields"]["received_on"] == ["This field is required."]
    assert "amount:" in body["message"]


def test_errors_default_to_chinese(client: Client, personas: dict[str, Any]) -> None:
    response = client.post(
        "/api/v1/creditors",
        {"code": "C1"},
        content_type="application/json",
        **bearer(personas["manager"]),
    )
    assert response.status_code == 422
    [message] = response.json()["fields"]["name"]
    assert message != "This field is required."
    assert "必填" in message


def test_query_errors_name_the_parameter(client: Client, personas: dict[str, Any]) -> None:
    response = client.get(
        "/api/v1/accounts?limit=501&dpd_min=many",
        HTTP_ACCEPT_LANGUAGE="en",
        **bearer(personas["manager"]),
    )
    assert response.status_code == 422
    fields = response.json()["fields"]
    assert set(fields) == {"limit", "dpd_min"}
    assert fields["dpd_min"] == ["Enter a whole number."]
    assert fields["limit"] == ["Enter a value of at most 500."]


def test_unknown_choice_lists_the_allowed_ones(
    client: Client, ledger: dict[str, Any], personas: dict[str, Any]
) -> None:
    response = client.get(
        "/api/v1/accounts?status=sleeping", HTTP_ACCEPT_LANGUAGE="en", **bearer(personas["manager"])
    )
    assert response.status_code == 422
    message = response.json()["fields"]["status"][0]
    assert message.startswith("Choose one of") and "'delinquent'" in message


def test_service_validation_errors_keep_their_fields(
    client: Client, personas: dict[str, Any]
) -> None:
    auth = bearer(personas["manager"])
    client.post(
        "/api/v1/creditors", {"code": "DUP", "name": "a"}, content_type="application/json", **auth
    )
    response = client.post(
        "/api/v1/creditors",
        {"code": "DUP", "name": "b"},
        content_type="application/json",
        HTTP_ACCEPT_LANGUAGE="en",
        **auth,
    )
    assert response.status_code == 422
    assert response.json() == {
        "code": "validation_error",
        "message": "A creditor with code DUP exists.",
        "fields": {"code": ["A creditor with code DUP exists."]},
    }


def test_not_found_and_unknown_paths_use_the_error_body(
    client: Client, personas: dict[str, Any]
) -> None:
    auth = bearer(personas["manager"])
    missing = client.get("/api/v1/accounts/999999", HTTP_ACCEPT_LANGUAGE="en", **auth)
    assert missing.status_code == 404
    assert missing.json() == {"code": "not_found", "message": "Not found.", "fields": {}}
    unknown = client.post("/api/v1/no-such-thing", HTTP_ACCEPT_LANGUAGE="en", **auth)
    assert unknown.status_code == 404
    assert unknown.json()["code"] == "not_found"


def test_server_errors_hide_the_trace(
    client: Client, personas: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    def boom(*args: Any, **kwargs: Any) -> None:
        raise RuntimeError("secret internals")

    monkeypatch.setattr("huikuan.ledger.selectors.aging_summary", boom)
    response = client.get("/api/v1/aging", **bearer(personas["manager"]))
    assert response.status_code == 500
    assert response.json()["code"] == "server_error"
    assert b"secret internals" not in response.content


# --- pagination -----------------------------------------------------------------------------


def test_cursor_round_trips_and_is_opaque() -> None:
    assert decode_cursor(encode_cursor(12345)) == 12345
    assert "12345" not in encode_cursor(12345)


def test_cursor_pages_return_every_account_once(
    client: Client, ledger: dict[str, Any], personas: dict[str, Any]
) -> None:
    for _n in range(8):
        make_account(ledger["portfolio"])
    auth = bearer(personas["manager"])
    seen: list[int] = []
    cursor = ""
    pages = 0
    while True:
        url = "/api/v1/accounts?limit=3" + (f"&cursor={cursor}" if cursor else "")
        body = client.get(url, **auth).json()
        assert len(body["items"]) <= 3
        seen += [a["id"] for a in body["items"]]
        pages += 1
        cursor = body["next_cursor"]
        if cursor is None:
            break
    expected = sorted(Account.objects.values_list("pk", flat=True))
    assert seen == expected and len(expected) == 11
    assert pages == 4


def test_bad_cursor_is_a_field_error(client: Client, personas: dict[str, Any]) -> None:
    response = client.get(
        "/api/v1/accounts?cursor=%%%not-a-cursor",
        HTTP_ACCEPT_LANGUAGE="en",
        **bearer(personas["manager"]),
    )
    assert response.status_code == 422
    assert list(response.json()["fields"]) == ["cursor"]


# --- OpenAPI --------------------------------------------------------------------------------


def test_openapi_schema_lists_the_paths(client: Client) -> None:
    response = client.get("/api/v1/openapi.json")
    assert response.status_code == 200
    schema = response.json()
    assert schema["info"]["title"] == "Huikuan API"
    paths = schema["paths"]
    for path in (
        "/api/v1/creditors",
        "/api/v1/portfolios",
        "/api/v1/debtors",
        "/api/v1/debtors/{debtor_id}",
        "/api/v1/debtors/{debtor_id}/contacts",
        "/api/v1/accounts",
        "/api/v1/accounts/{account_id}",
        "/api/v1/accounts/{account_id}/status",
        "/api/v1/accounts/{account_id}/items",
        "/api/v1/accounts/{account_id}/payments",
        "/api/v1/payments/{payment_id}/reverse",
        "/api/v1/aging",
        "/api/v1/me",
        "/api/v1/tokens",
        "/api/v1/tokens/{token_id}",
    ):
        assert path in paths, path
    post = paths["/api/v1/accounts/{account_id}/payments"]["post"]
    assert "Idempotency-Key" in [p["name"] for p in post["parameters"]]
    assert set(post["responses"]) >= {"200", "201"}
    # Choices are inlined, so same-named enums of different models cannot clash.
    debtor_in = schema["components"]["schemas"]["DebtorIn"]["properties"]["kind"]
    assert debtor_in["enum"] == ["individual", "enterprise"]
    item_in = schema["components"]["schemas"]["ItemIn"]["properties"]["kind"]
    assert item_in["enum"] == ["installment", "invoice"]
