"""Ledger endpoints of /api/v1: scopes, permissions, masking, payments, aging."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest
from django.contrib.auth.models import Permission
from django.test import Client
from django.utils import timezone

from huikuan.iam.services import token_create
from huikuan.ledger import services
from huikuan.ledger.models import Account, Creditor, Debtor, Payment
from huikuan.ledger.tests.factories import make_debtor, make_user

pytestmark = pytest.mark.django_db
JSON = "application/json"


def as_(user: Any) -> Client:
    _token, raw = token_create(user=user, name="test", actor=None)
    return Client(HTTP_AUTHORIZATION=f"Bearer {raw}", HTTP_ACCEPT_LANGUAGE="en")


def ids(response: Any) -> set[int]:
    assert response.status_code == 200, response.content
    return {row["id"] for row in response.json()["items"]}


def today() -> str:
    return timezone.localdate().isoformat()


# --- reading within the data scope ----------------------------------------------------------


@pytest.mark.parametrize(
    ("persona", "visible"),
    [
        ("collector", {"mine"}),
        ("other_collector", {"theirs"}),
        ("team_lead", {"mine"}),
        ("agency", {"placed"}),
        ("auditor", {"mine", "theirs", "placed"}),
        ("manager", {"mine", "theirs", "placed"}),
        ("outsider", set()),
    ],
)
def test_account_list_follows_the_data_scope(
    personas: dict[str, Any], ledger: dict[str, Any], persona: str, visible: set[str]
) -> None:
    response = as_(personas[persona]).get("/api/v1/accounts")
    assert ids(response) == {ledger[k].pk for k in visible}


@pytest.mark.parametrize(
    "path",
    [
        "/api/v1/accounts/{account}",
        "/api/v1/accounts/{account}/items",
        "/api/v1/accounts/{account}/payments",
        "/api/v1/debtors/{debtor}",
        "/api/v1/debtors/{debtor}/contacts",
    ],
)
def test_out_of_scope_reads_are_404(
    personas: dict[str, Any], ledger: dict[str, Any], path: str
) -> None:
    theirs = ledger["theirs"]
    url = path.format(account=theirs.pk, debtor=theirs.debtor_id)
    assert as_(personas["collector"]).get(url).status_code == 404
    assert as_(personas["other_collector"]).get(url).status_code == 200


def test_outsider_sees_empty_lists(personas: dict[str, Any], ledger: dict[str, Any]) -> None:
    client = as_(personas["outsider"])
    for path in ("/api/v1/creditors", "/api/v1/portfolios", "/api/v1/debtors", "/api/v1/accounts"):
        assert client.get(path).json() == {"items": [], "next_cursor": None}, path
    assert client.get("/api/v1/aging").json()["rows"] == []


def test_masters_follow_the_scope(personas: dict[str, Any], ledger: dict[str, Any]) -> None:
    Creditor.objects.create(code="LONELY", name="无账户的委托方")
    collector, auditor = as_(personas["collector"]), as_(personas["auditor"])
    assert ids(collector.get("/api/v1/creditors")) == {ledger["portfolio"].creditor_id}
    assert len(ids(auditor.get("/api/v1/creditors"))) == 2
    assert ids(collector.get("/api/v1/portfolios")) == {ledger["portfolio"].pk}
    assert ids(collector.get("/api/v1/debtors")) == {ledger["mine"].debtor_id}


def test_account_detail_has_money_as_strings_and_a_position(
    personas: dict[str, Any],
    ledger: dict[str, Any],
) -> None:
    mine = ledger["mine"]
    body = as_(personas["collector"]).get(f"/api/v1/accounts/{mine.pk}?as_of=2026-09-15").json()
    assert body["contract_no"] == "HT-MINE-001"
    assert body["outstanding"] == "3150.00" and body["principal"] == "3000.00"
    assert body["currency"] == "CNY" and body["collector"] == "collector"
    # On 15 Sep the 10 Aug and 10 Sep installments (1050.00 each) are late; DPD from 10 Aug.
    assert body["position"] == {
        "as_of": "2026-09-15",
        "outstanding": "3150.00",
        "overdue": "2100.00",
        "dpd": 36,
        "bucket": {"code": "31-90", "label": "31–90 Middle"},
    }


def test_account_filters(personas: dict[str, Any], ledger: dict[str, Any]) -> None:
    client = as_(personas["manager"])
    assert ids(client.get("/api/v1/accounts?q=HT-THEIRS")) == {ledger["theirs"].pk}
    assert ids(client.get("/api/v1/accounts?amount_min=4000.00")) == set()
    assert len(ids(client.get("/api/v1/accounts?status=delinquent&as_of=2026-11-23"))) == 3
    # On 2026-11-23 the oldest unpaid due (10 Aug) is 105 days back.
    assert len(ids(client.get("/api/v1/accounts?dpd_min=100&dpd_max=110&as_of=2026-11-23"))) == 3
    assert ids(client.get("/api/v1/accounts?bucket=current&as_of=2026-11-23")) == set()
    portfolio = ledger["portfolio"].pk
    assert len(ids(client.get(f"/api/v1/accounts?portfolio={portfolio}"))) == 3


def test_items_and_payments_lists(personas: dict[str, Any], ledger: dict[str, Any]) -> None:
    mine = ledger["mine"]
    services.payment_post(
        account=mine,
        amount=Decimal("100.00"),
        received_on=timezone.localdate(),
        method="cash",
        actor=None,
    )
    client = as_(personas["collector"])
    items = client.get(f"/api/v1/accounts/{mine.pk}/items").json()["items"]
    assert [i["number"] for i in items] == ["01", "02", "03"]
    # Fee first, then interest, then principal, oldest item first.
    assert items[0]["interest_paid"] == "50.00" and items[0]["principal_paid"] == "50.00"
    assert items[0]["outstanding"] == "950.00"
    payments = client.get(f"/api/v1/accounts/{mine.pk}/payments").json()["items"]
    assert len(payments) == 1 and payments[0]["amount"] == "100.00"
    assert {(a["component"], a["amount"]) for a in payments[0]["allocations"]} == {
        ("interest", "50.00"),
        ("principal", "50.00"),
    }


# --- masking --------------------------------------------------------------------------------


def test_pii_is_masked_unless_the_role_may_see_it(
    personas: dict[str, Any], ledger: dict[str, Any]
) -> None:
    mine = ledger["mine"]
    debtor = mine.debtor
    services.contact_create(
        debtor=debtor,
        relation="self",
        phone="13812345678",
        email="zhangsan@example.com",
        address="北京市东城区东华门大街1号",
        actor=None,
    )
    full = as_(personas["manager"])
    masked = as_(personas["collector"])

    assert full.get(f"/api/v1/debtors/{debtor.pk}").json()["id_number"] == debtor.id_number
    shown = masked.get(f"/api/v1/debtors/{debtor.pk}").json()["id_number"]
    assert shown == debtor.id_number[:6] + "********" + debtor.id_number[-4:]
    account = masked.get(f"/api/v1/accounts/{mine.pk}").json()
    assert account["debtor"]["id_number"] == shown
    assert masked.get("/api/v1/accounts").json()["items"][0]["debtor"]["id_number"] == shown

    plain = full.get(f"/api/v1/debtors/{debtor.pk}/contacts").json()["items"][0]
    assert (plain["phone"], plain["email"]) == ("+8613812345678", "zhangsan@example.com")
    assert plain["address"] == "北京市东城区东华门大街1号"
    hidden = masked.get(f"/api/v1/debtors/{debtor.pk}/contacts").json()["items"][0]
    assert (hidden["phone"], hidden["email"]) == ("138****5678", "z***@example.com")
    assert hidden["address"] == "北京市东城区****"


# --- writes: permissions --------------------------------------------------------------------


def _writes(ledger: dict[str, Any]) -> list[tuple[str, dict[str, Any]]]:
    mine, debtor = ledger["mine"], ledger["mine"].debtor_id
    payment = services.payment_post(
        account=mine,
        amount=Decimal("10.00"),
        received_on=timezone.localdate(),
        method="cash",
        actor=None,
    )
    return [
        ("/api/v1/creditors", {"code": "NEW", "name": "新委托方"}),
        (
            "/api/v1/portfolios",
            {"creditor": ledger["portfolio"].creditor_id, "code": "P-NEW", "name": "新资产包"},
        ),
        (
            "/api/v1/debtors",
            {"kind": "individual", "name": "李四", "id_number": "110101198503010029"},
        ),
        (f"/api/v1/debtors/{debtor}/contacts", {"relation": "self", "phone": "13912345678"}),
        (
            "/api/v1/accounts",
            {
                "portfolio": ledger["portfolio"].pk,
                "debtor": debtor,
                "contract_no": "HT-NEW",
                "product": "loan",
                "principal": "1.00",
                "open_date": "2026-01-01",
                "items": [],
            },
        ),
        (f"/api/v1/accounts/{mine.pk}/status", {"status": "disputed", "reason": "客户异议"}),
        (
            f"/api/v1/accounts/{mine.pk}/payments",
            {"amount": "1.00", "received_on": today(), "method": "cash"},
        ),
        (f"/api/v1/payments/{payment.pk}/reverse", {"reason": "错账"}),
    ]


@pytest.mark.parametrize("persona", ["auditor", "collector", "compliance", "outsider"])
def test_read_only_roles_get_403_on_every_write(
    personas: dict[str, Any], ledger: dict[str, Any], persona: str
) -> None:
    client = as_(personas[persona])
    accounts_before = Account.objects.count()
    for path, body in _writes(ledger):
        response = client.post(path, body, content_type=JSON)
        assert response.status_code == 403, path
        assert response.json()["code"] == "permission_denied"
    assert Account.objects.count() == accounts_before
    assert Payment.objects.count() == 1
    assert not Creditor.objects.filter(code="NEW").exists()


def test_team_lead_changes_status_but_posts_no_payment(
    personas: dict[str, Any], ledger: dict[str, Any]
) -> None:
    client = as_(personas["team_lead"])
    mine = ledger["mine"]
    response = client.post(
        f"/api/v1/accounts/{mine.pk}/status",
        {"status": "disputed", "reason": "客户称已还款"},
        content_type=JSON,
    )
    assert response.status_code == 200
    assert response.json()["status"] == "disputed"
    assert response.json()["status_label"] == "Disputed"
    theirs = client.post(
        f"/api/v1/accounts/{ledger['theirs'].pk}/status",
        {"status": "disputed", "reason": "x"},
        content_type=JSON,
    )
    assert theirs.status_code == 404
    payment = client.post(
        f"/api/v1/accounts/{mine.pk}/payments",
        {"amount": "1.00", "received_on": today(), "method": "cash"},
        content_type=JSON,
    )
    assert payment.status_code == 403


def test_permission_does_not_widen_the_scope(
    personas: dict[str, Any], ledger: dict[str, Any]
) -> None:
    # A collector given the payment permission still cannot reach another collector's account.
    user = make_user("collector", username="collector_with_post")
    user.user_permissions.add(Permission.objects.get(codename="post_payment"))
    response = as_(user).post(
        f"/api/v1/accounts/{ledger['theirs'].pk}/payments",
        {"amount": "1.00", "received_on": today(), "method": "cash"},
        content_type=JSON,
    )
    assert response.status_code == 404
    assert Payment.objects.count() == 0


def test_manager_creates_the_ledger_end_to_end(personas: dict[str, Any]) -> None:
    client = as_(personas["manager"])
    creditor = client.post(
        "/api/v1/creditors", {"code": "ICBC", "name": "工商银行"}, content_type=JSON
    )
    assert creditor.status_code == 201
    portfolio = client.post(
        "/api/v1/portfolios",
        {
            "creditor": creditor.json()["id"],
            "code": "2026Q4",
            "name": "消费贷2026Q4",
        },
        content_type=JSON,
    )
    assert portfolio.status_code == 201
    assert portfolio.json()["bucket_bounds"] == [0, 30, 90, 180]
    debtor = client.post(
        "/api/v1/debtors",
        {"kind": "individual", "name": "李四", "id_number": "110101198503010029"},
        content_type=JSON,
    )
    assert debtor.status_code == 201, debtor.content
    assert debtor.json()["region"] == "110101"
    contact = client.post(
        f"/api/v1/debtors/{debtor.json()['id']}/contacts",
        {"relation": "self", "phone": "139 1234 5678"},
        content_type=JSON,
    )
    assert contact.status_code == 201 and contact.json()["phone"] == "+8613912345678"
    account = client.post(
        "/api/v1/accounts",
        {
            "portfolio": portfolio.json()["id"],
            "debtor": debtor.json()["id"],
            "contract_no": "HT-2026-0001",
            "product": "loan",
            "principal": "2000.00",
            "open_date": "2026-01-05",
            "items": [
                {
                    "number": "01",
                    "due_date": "2026-10-05",
                    "principal_due": "1000.00",
                    "interest_due": "20.00",
                },
                {"number": "02", "due_date": "2026-12-05", "principal_due": "1000.00"},
            ],
        },
        content_type=JSON,
    )
    assert account.status_code == 201, account.content
    assert account.json()["outstanding"] == "2020.00"
    assert account.json()["status"] == "delinquent"
    assert account.json()["debtor"]["name"] == "李四"


def test_finance_sees_masked_pii_on_what_it_creates(personas: dict[str, Any]) -> None:
    response = as_(personas["finance"]).post(
        "/api/v1/debtors",
        {"kind": "individual", "name": "王五", "id_number": "110101198503010029"},
        content_type=JSON,
    )
    assert response.status_code == 201
    assert response.json()["id_number"] == "110101********0029"


def test_referenced_objects_out_of_scope_are_field_errors(
    personas: dict[str, Any], ledger: dict[str, Any]
) -> None:
    response = as_(personas["manager"]).post(
        "/api/v1/accounts",
        {
            "portfolio": 999999,
            "debtor": ledger["mine"].debtor_id,
            "contract_no": "X",
            "product": "loan",
            "principal": "1.00",
            "open_date": "2026-01-01",
            "items": [],
        },
        content_type=JSON,
    )
    assert response.status_code == 422
    assert list(response.json()["fields"]) == ["portfolio"]


# --- status transitions ---------------------------------------------------------------------


def test_illegal_transition_is_refused_with_the_reason(
    personas: dict[str, Any], ledger: dict[str, Any]
) -> None:
    client = as_(personas["manager"])
    url = f"/api/v1/accounts/{ledger['mine'].pk}/status"
    assert (
        client.post(url, {"status": "disputed", "reason": "异议"}, content_type=JSON).status_code
        == 200
    )
    response = client.post(url, {"status": "promised", "reason": "客户承诺"}, content_type=JSON)
    assert response.status_code == 422
    body = response.json()
    assert body["code"] == "validation_error"
    assert "cannot become “Promised”" in body["message"]
    assert body["fields"]["status"] == [body["message"]]
    ledger["mine"].refresh_from_db()
    assert ledger["mine"].status == "disputed"


def test_status_change_needs_a_reason(personas: dict[str, Any], ledger: dict[str, Any]) -> None:
    response = as_(personas["manager"]).post(
        f"/api/v1/accounts/{ledger['mine'].pk}/status",
        {"status": "disputed", "reason": " "},
        content_type=JSON,
    )
    assert response.status_code == 422
    assert response.json()["fields"] == {"reason": ["Say why the status changes."]}


# --- payments -------------------------------------------------------------------------------


def test_payment_post_and_reverse_restore_the_balance(
    personas: dict[str, Any], ledger: dict[str, Any]
) -> None:
    client = as_(personas["finance"])
    mine = ledger["mine"]
    posted = client.post(
        f"/api/v1/accounts/{mine.pk}/payments",
        {
            "amount": "500.00",
            "received_on": today(),
            "method": "bank",
            "reference": "BK-1",
        },
        content_type=JSON,
    )
    assert posted.status_code == 201, posted.content
    body = posted.json()
    assert body["amount"] == "500.00" and body["created_by"] == "finance"
    assert sum(Decimal(a["amount"]) for a in body["allocations"]) == Decimal("500.00")
    assert client.get(f"/api/v1/accounts/{mine.pk}").json()["outstanding"] == "2650.00"

    reversed_ = client.post(
        f"/api/v1/payments/{body['id']}/reverse", {"reason": "错账"}, content_type=JSON
    )
    assert reversed_.status_code == 201
    assert reversed_.json()["amount"] == "-500.00"
    assert reversed_.json()["reversal_of_id"] == body["id"]
    assert client.get(f"/api/v1/accounts/{mine.pk}").json()["outstanding"] == "3150.00"
    listed = client.get(f"/api/v1/accounts/{mine.pk}/payments").json()["items"]
    assert listed[0]["reversed_by_id"] == reversed_.json()["id"]

    again = client.post(
        f"/api/v1/payments/{body['id']}/reverse", {"reason": "再次"}, content_type=JSON
    )
    assert again.status_code == 422
    assert again.json()["fields"] == {"payment": ["This payment has already been reversed."]}


def test_reversing_out_of_scope_payment_is_404(
    personas: dict[str, Any], ledger: dict[str, Any]
) -> None:
    payment = services.payment_post(
        account=ledger["theirs"],
        amount=Decimal("10.00"),
        received_on=timezone.localdate(),
        method="cash",
        actor=None,
    )
    user = make_user("collector", username="collector_with_reverse")
    user.user_permissions.add(Permission.objects.get(codename="reverse_payment"))
    response = as_(user).post(
        f"/api/v1/payments/{payment.pk}/reverse", {"reason": "x"}, content_type=JSON
    )
    assert response.status_code == 404
    assert not Payment.objects.filter(reversal_of=payment).exists()


@pytest.mark.parametrize("amount", ["12.345", "abc", "NaN", ""])
def test_bad_amount_names_the_field(
    personas: dict[str, Any], ledger: dict[str, Any], amount: str
) -> None:
    response = as_(personas["finance"]).post(
        f"/api/v1/accounts/{ledger['mine'].pk}/payments",
        {"amount": amount, "received_on": today(), "method": "cash"},
        content_type=JSON,
    )
    assert response.status_code == 422
    body = response.json()
    assert body["code"] == "validation_error"
    assert list(body["fields"]) == ["amount"]
    assert "decimal string" in body["fields"]["amount"][0]
    assert Payment.objects.count() == 0


def test_non_positive_amount_is_refused_by_the_service(
    personas: dict[str, Any], ledger: dict[str, Any]
) -> None:
    response = as_(personas["finance"]).post(
        f"/api/v1/accounts/{ledger['mine'].pk}/payments",
        {"amount": "0.00", "received_on": today(), "method": "cash"},
        content_type=JSON,
    )
    assert response.status_code == 422
    assert response.json()["fields"] == {"amount": ["A payment must be more than zero."]}


def test_idempotent_payment_post(personas: dict[str, Any], ledger: dict[str, Any]) -> None:
    client = as_(personas["finance"])
    url = f"/api/v1/accounts/{ledger['mine'].pk}/payments"
    body = {"amount": "300.00", "received_on": today(), "method": "alipay"}
    first = client.post(url, body, content_type=JSON, HTTP_IDEMPOTENCY_KEY="bank-2026-11-23-7")
    second = client.post(url, body, content_type=JSON, HTTP_IDEMPOTENCY_KEY="bank-2026-11-23-7")
    assert (first.status_code, second.status_code) == (201, 200)
    assert first.json()["id"] == second.json()["id"]
    assert Payment.objects.count() == 1
    ledger["mine"].refresh_from_db()
    assert ledger["mine"].outstanding == Decimal("2850.00")

    conflict = client.post(
        url,
        {**body, "amount": "301.00"},
        content_type=JSON,
        HTTP_IDEMPOTENCY_KEY="bank-2026-11-23-7",
    )
    assert conflict.status_code == 409
    assert conflict.json()["code"] == "conflict"
    assert "bank-2026-11-23-7" in conflict.json()["message"]
    assert Payment.objects.count() == 1


def test_without_a_key_each_post_is_a_new_payment(
    personas: dict[str, Any], ledger: dict[str, Any]
) -> None:
    client = as_(personas["finance"])
    url = f"/api/v1/accounts/{ledger['mine'].pk}/payments"
    body = {"amount": "1.00", "received_on": today(), "method": "cash"}
    assert client.post(url, body, content_type=JSON).status_code == 201
    assert client.post(url, body, content_type=JSON).status_code == 201
    assert Payment.objects.count() == 2


# --- aging ----------------------------------------------------------------------------------


def test_aging_counts_only_what_the_caller_sees(
    personas: dict[str, Any], ledger: dict[str, Any]
) -> None:
    portfolio = ledger["portfolio"].pk
    url = f"/api/v1/aging?as_of=2026-09-15&portfolio={portfolio}"
    manager = as_(personas["manager"]).get(url).json()
    assert manager["as_of"] == "2026-09-15"
    by_code = {r["bucket"]["code"]: r for r in manager["rows"]}
    assert list(by_code) == ["current", "1-30", "31-90", "91-180", "180+"]
    assert by_code["31-90"]["count"] == 3 and by_code["31-90"]["amount"] == "9450.00"
    assert by_code["current"]["amount"] == "0.00"
    collector = as_(personas["collector"]).get(url).json()
    assert sum(r["count"] for r in collector["rows"]) == 1


def test_debtor_kind_is_checked_before_the_service(personas: dict[str, Any]) -> None:
    response = as_(personas["manager"]).post(
        "/api/v1/debtors", {"kind": "robot", "name": "x", "id_number": "1"}, content_type=JSON
    )
    assert response.status_code == 422
    assert list(response.json()["fields"]) == ["kind"]
    assert Debtor.objects.filter(name="x").count() == 0


def test_debtor_ids_are_validated(personas: dict[str, Any]) -> None:
    make_debtor()  # the factory's IDs are valid; a typo in one is not
    response = as_(personas["manager"]).post(
        "/api/v1/debtors",
        {"kind": "individual", "name": "赵六", "id_number": "110101198503010021"},
        content_type=JSON,
    )
    assert response.status_code == 422
    assert list(response.json()["fields"]) == ["id_number"]


def test_overlong_idempotency_key_is_a_field_error(
    personas: dict[str, Any], ledger: dict[str, Any]
) -> None:
    response = as_(personas["finance"]).post(
        f"/api/v1/accounts/{ledger['mine'].pk}/payments",
        {"amount": "1.00", "received_on": today(), "method": "cash"},
        content_type=JSON,
        HTTP_IDEMPOTENCY_KEY="k" * 101,
    )
    assert response.status_code == 422
    assert list(response.json()["fields"]) == ["Idempotency-Key"]
    assert Payment.objects.count() == 0
