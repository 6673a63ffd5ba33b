"""Ledger pages by persona: the list and its filters, the account page, its writes, aging."""

from __future__ import annotations

import datetime as dt
import re
from decimal import Decimal

import pytest
from django.contrib.auth.models import Permission
from django.urls import reverse
from django.utils import timezone, translation
from django.utils.html import escape

from huikuan.audit.models import AuditEvent
from huikuan.ledger import domain, services
from huikuan.ledger.models import Account, Payment
from huikuan.ledger.tests.factories import installments, make_account, make_debtor

D = Decimal
# 10:00 in Shanghai on the day the conftest ledger is built around.
NOW = dt.datetime(2026, 11, 23, 2, 0, tzinfo=dt.UTC)
TODAY = dt.date(2026, 11, 23)


@pytest.fixture(autouse=True)
def _clock(monkeypatch):
    monkeypatch.setattr(timezone, "now", lambda: NOW)


def _contracts(response) -> set[str]:
    return set(re.findall(r'data-contract="([^"]+)"', response.content.decode()))


def _as(client, personas, name):
    client.force_login(personas[name])
    return client


def _ledger(client, **params):
    return client.get(reverse("web:ledger"), params)


def _account_url(account) -> str:
    return reverse("web:account", args=[account.pk])


# --- who sees what --------------------------------------------------------------------------


@pytest.mark.parametrize("name", ["ledger", "aging"])
def test_anonymous_is_sent_to_login(client, db, name):
    response = client.get(reverse(f"web:{name}"))
    assert response.status_code == 302
    assert response["Location"].startswith(reverse("web:login"))


def test_anonymous_account_page_and_writes_go_to_login(client, ledger):
    mine = ledger["mine"]
    payment = services.payment_post(
        account=mine, amount=D("10"), received_on=TODAY, method="bank", actor=None
    )
    for method, url in [
        ("get", _account_url(mine)),
        ("post", reverse("web:payment_post", args=[mine.pk])),
        ("post", reverse("web:account_status", args=[mine.pk])),
        ("post", reverse("web:payment_reverse", args=[payment.pk])),
    ]:
        response = getattr(client, method)(url)
        assert response.status_code == 302, url
        assert response["Location"].startswith(reverse("web:login"))


def test_outsider_sees_an_empty_ledger(client, personas, ledger):
    response = _ledger(_as(client, personas, "outsider"))
    assert response.status_code == 200
    assert _contracts(response) == set()
    assert 'class="empty"' in response.content.decode()


def test_collector_sees_only_their_account(client, personas, ledger):
    client = _as(client, personas, "collector")
    assert _contracts(_ledger(client)) == {"HT-MINE-001"}
    assert client.get(_account_url(ledger["mine"])).status_code == 200
    assert client.get(_account_url(ledger["theirs"])).status_code == 404
    assert client.get(_account_url(ledger["placed"])).status_code == 404
    assert client.get(reverse("web:account", args=[999999])).status_code == 404


def test_team_lead_sees_the_team_accounts(client, personas, ledger):
    client = _as(client, personas, "team_lead")
    assert _contracts(_ledger(client)) == {"HT-MINE-001"}
    assert client.get(_account_url(ledger["theirs"])).status_code == 404


def test_agency_sees_what_is_placed_with_it(client, personas, ledger):
    assert _contracts(_ledger(_as(client, personas, "agency"))) == {"HT-AGENCY-001"}


def test_auditor_sees_everything_and_may_write_nothing(client, personas, ledger):
    client = _as(client, personas, "auditor")
    mine = ledger["mine"]
    assert _contracts(_ledger(client)) == {"HT-MINE-001", "HT-THEIRS-001", "HT-AGENCY-001"}
    assert client.get(_account_url(ledger["theirs"])).status_code == 200
    payment = services.payment_post(
        account=mine, amount=D("10"), received_on=TODAY, method="bank", actor=personas["finance"]
    )
    before = AuditEvent.objects.count()
    posts = [
        (
            reverse("web:payment_post", args=[mine.pk]),
            {"amount": "100", "received_on": "2026-11-20", "method": "bank"},
        ),
        (reverse("web:payment_reverse", args=[payment.pk]), {"reason": "测试"}),
        (reverse("web:account_status", args=[mine.pk]), {"status": "promised", "reason": "x"}),
    ]
    for url, data in posts:
        assert client.post(url, data).status_code == 403, url
    assert AuditEvent.objects.count() == before


def test_collector_may_not_post_a_payment_even_on_their_own_account(client, personas, ledger):
    response = _as(client, personas, "collector").post(
        reverse("web:payment_post", args=[ledger["mine"].pk]),
        {"amount": "100", "received_on": "2026-11-20", "method": "bank"},
    )
    assert response.status_code == 403
    assert not Payment.objects.exists()


def test_writes_answer_only_post(client, personas, ledger):
    response = _as(client, personas, "finance").get(
        reverse("web:payment_post", args=[ledger["mine"].pk])
    )
    assert response.status_code == 405


# --- the account page and its writes --------------------------------------------------------


def test_account_page_shows_position_items_and_forms_by_permission(client, personas, ledger):
    html = _as(client, personas, "finance").get(_account_url(ledger["mine"])).content.decode()
    assert 'data-outstanding="3150.00"' in html
    assert 'data-dpd="105"' in html  # oldest due 2026-08-10
    assert 'data-bucket="91-180"' in html
    assert "¥3,150.00" in html
    assert reverse("web:payment_post", args=[ledger["mine"].pk]) in html
    assert reverse("web:account_status", args=[ledger["mine"].pk]) not in html  # finance
    html = _as(client, personas, "team_lead").get(_account_url(ledger["mine"])).content.decode()
    assert reverse("web:account_status", args=[ledger["mine"].pk]) in html
    assert reverse("web:payment_post", args=[ledger["mine"].pk]) not in html


def test_finance_posts_and_reverses_a_payment(client, personas, ledger):
    client = _as(client, personas, "finance")
    mine = ledger["mine"]
    response = client.post(
        reverse("web:payment_post", args=[mine.pk]),
        {
            "amount": "¥1,100.00",
            "received_on": "2026-11-20",
            "method": "bank",
            "reference": "BANK-778",
            "idempotency_key": "k-1",
        },
    )
    assert response.status_code == 302
    assert response["Location"] == _account_url(mine) + "#payments"
    html = client.get(_account_url(mine)).content.decode()
    # Item 01 (1,050) and 50 of item 02's interest are paid: 2,050 left, oldest due 2026-09-10.
    assert 'data-outstanding="2050.00"' in html
    assert 'data-dpd="74"' in html
    assert 'data-bucket="31-90"' in html
    assert "BANK-778" in html
    assert 'data-action="payment.post"' in html
    assert 'class="message message-success"' in html

    payment = Payment.objects.get(account=mine)
    response = client.post(reverse("web:payment_reverse", args=[payment.pk]), {"reason": "退票"})
    assert response.status_code == 302
    html = client.get(_account_url(mine)).content.decode()
    assert 'data-outstanding="3150.00"' in html
    assert 'data-dpd="105"' in html
    assert 'data-bucket="91-180"' in html
    assert 'data-action="payment.reverse"' in html
    assert "退票" in html


def test_posting_twice_with_one_form_posts_once(client, personas, ledger):
    client = _as(client, personas, "finance")
    data = {
        "amount": "100",
        "received_on": "2026-11-20",
        "method": "cash",
        "idempotency_key": "same-form",
    }
    url = reverse("web:payment_post", args=[ledger["mine"].pk])
    assert client.post(url, data).status_code == 302
    assert client.post(url, data).status_code == 302
    assert Payment.objects.count() == 1


@pytest.mark.parametrize("amount", ["abc", "12,34", "-5", "1e5", ""])
def test_a_bad_amount_shows_the_field_error_and_writes_nothing(client, personas, ledger, amount):
    before = AuditEvent.objects.count()
    response = _as(client, personas, "finance").post(
        reverse("web:payment_post", args=[ledger["mine"].pk]),
        {"amount": amount, "received_on": "2026-11-20", "method": "bank"},
    )
    assert response.status_code == 422
    assert 'id="pay_amount-error"' in response.content.decode()
    assert not Payment.objects.exists()
    assert AuditEvent.objects.count() == before


def test_the_service_refusal_shows_next_to_its_field(client, personas, ledger):
    response = _as(client, personas, "finance").post(
        reverse("web:payment_post", args=[ledger["mine"].pk]),
        {"amount": "0", "received_on": "2026-11-20", "method": "bank"},
    )
    assert response.status_code == 422
    html = response.content.decode()
    assert 'id="pay_amount-error"' in html
    with translation.override("zh-hans"):
        assert escape(translation.gettext("A payment must be more than zero.")) in html
    assert not Payment.objects.exists()


def test_a_future_payment_date_is_refused(client, personas, ledger):
    response = _as(client, personas, "finance").post(
        reverse("web:payment_post", args=[ledger["mine"].pk]),
        {"amount": "10", "received_on": "2026-11-24", "method": "bank"},
    )
    assert response.status_code == 422
    assert 'id="pay_received_on-error"' in response.content.decode()


def test_reversing_needs_a_reason_and_happens_once(client, personas, ledger):
    client = _as(client, personas, "finance")
    payment = services.payment_post(
        account=ledger["mine"],
        amount=D("100"),
        received_on=TODAY,
        method="bank",
        actor=personas["finance"],
    )
    url = reverse("web:payment_reverse", args=[payment.pk])
    response = client.post(url, {"reason": " "})
    assert response.status_code == 422
    assert f'id="reason-{payment.pk}"' in response.content.decode()
    assert not Payment.objects.filter(reversal_of=payment).exists()
    assert client.post(url, {"reason": "退票"}).status_code == 302
    response = client.post(url, {"reason": "again"})
    assert response.status_code == 422
    with translation.override("zh-hans"):
        message = translation.gettext("This payment has already been reversed.")
    assert escape(message) in response.content.decode()
    assert Payment.objects.filter(reversal_of=payment).count() == 1


def test_reversing_out_of_scope_is_404(client, personas, ledger):
    payment = services.payment_post(
        account=ledger["theirs"], amount=D("100"), received_on=TODAY, method="bank", actor=None
    )
    # Give the lead the permission: the scope alone must then keep other teams' payments out.
    personas["team_lead"].user_permissions.add(Permission.objects.get(codename="reverse_payment"))
    response = _as(client, personas, "team_lead").post(
        reverse("web:payment_reverse", args=[payment.pk]), {"reason": "x"}
    )
    assert response.status_code == 404


def test_status_change_is_audited(client, personas, ledger):
    mine = ledger["mine"]
    response = _as(client, personas, "team_lead").post(
        reverse("web:account_status", args=[mine.pk]),
        {"status": "promised", "reason": "客户承诺月底还款"},
    )
    assert response.status_code == 302
    mine.refresh_from_db()
    assert mine.status == "promised"
    html = client.get(_account_url(mine)).content.decode()
    assert "客户承诺月底还款" in html
    assert 'data-action="account.status"' in html


def test_an_illegal_status_change_shows_the_refusal(client, personas, ledger):
    mine = ledger["mine"]
    assert mine.status == "delinquent"
    response = _as(client, personas, "team_lead").post(
        reverse("web:account_status", args=[mine.pk]), {"status": "closed", "reason": "结案"}
    )
    assert response.status_code == 422
    with translation.override("zh-hans"):
        refusal = str(
            domain.IllegalTransition(domain.AccountStatus.DELINQUENT, domain.AccountStatus.CLOSED)
        )
    html = response.content.decode()
    assert escape(refusal) in html
    assert 'id="st_status-error"' in html
    mine.refresh_from_db()
    assert mine.status == "delinquent"


def test_status_change_needs_a_reason(client, personas, ledger):
    response = _as(client, personas, "team_lead").post(
        reverse("web:account_status", args=[ledger["mine"].pk]), {"status": "promised"}
    )
    assert response.status_code == 422
    assert 'id="st_reason-error"' in response.content.decode()


# --- masking --------------------------------------------------------------------------------


@pytest.fixture
def contact(ledger):
    debtor = ledger["mine"].debtor
    services.contact_create(
        debtor=debtor,
        relation="self",
        phone="13812345678",
        email="zhangsan@example.cn",
        address="北京市东城区东华门街道100号",
        actor=None,
    )
    return debtor


@pytest.mark.parametrize("persona", ["collector", "team_lead", "auditor", "finance"])
def test_pii_is_masked_for_roles_without_the_right(client, personas, ledger, contact, persona):
    html = _as(client, personas, persona).get(_account_url(ledger["mine"])).content.decode()
    full_id = contact.id_number
    assert full_id not in html
    assert full_id[:6] + "********" + full_id[-4:] in html
    assert "13812345678" not in html and "138 1234 5678" not in html
    assert "138****5678" in html
    assert "zhangsan@example.cn" not in html and "z***@example.cn" in html
    assert "100号" not in html


@pytest.mark.parametrize("persona", ["manager", "legal", "compliance"])
def test_pii_is_shown_to_roles_with_the_right(client, personas, ledger, contact, persona):
    html = _as(client, personas, persona).get(_account_url(ledger["mine"])).content.decode()
    assert contact.id_number in html
    assert "138 1234 5678" in html
    assert "138****5678" not in html
    assert "zhangsan@example.cn" in html and "100号" in html


# --- filters, sorting, pagination, HTMX -----------------------------------------------------


@pytest.fixture
def spread(personas, ledger):
    """Three more accounts for the collector, at different ages and sizes."""
    portfolio, collector = ledger["portfolio"], personas["collector"]
    fresh = make_account(
        portfolio,
        collector=collector,
        contract_no="HT-FRESH-002",
        debtor=make_debtor(name="李四"),
        items=installments(dt.date(2026, 11, 13), 2, principal=D("20000.00")),
    )
    old = make_account(
        portfolio,
        collector=collector,
        contract_no="HT-OLD-003",
        debtor=make_debtor(name="王五"),
        items=installments(dt.date(2026, 3, 1), 1, principal=D("500.00")),
    )
    future = make_account(
        portfolio,
        collector=collector,
        contract_no="HT-NEW-004",
        debtor=make_debtor(name="赵六"),
        items=installments(dt.date(2026, 12, 10), 1),
    )
    services.contact_create(debtor=old.debtor, relation="self", phone="13900001111", actor=None)
    return {"fresh": fresh, "old": old, "future": future}


@pytest.mark.parametrize(
    ("params", "expected"),
    [
        ({}, {"HT-MINE-001", "HT-FRESH-002", "HT-OLD-003", "HT-NEW-004"}),
        ({"status": "current"}, {"HT-NEW-004"}),
        ({"status": "delinquent"}, {"HT-MINE-001", "HT-FRESH-002", "HT-OLD-003"}),
        ({"bucket": "current"}, {"HT-NEW-004"}),
        ({"bucket": "1-30"}, {"HT-FRESH-002"}),
        ({"bucket": "91-180"}, {"HT-MINE-001"}),
        ({"bucket": "180+"}, {"HT-OLD-003"}),
        ({"dpd_min": "1", "dpd_max": "30"}, {"HT-FRESH-002"}),
        ({"dpd_min": "100"}, {"HT-MINE-001", "HT-OLD-003"}),
        ({"dpd_max": "0"}, {"HT-NEW-004"}),
        ({"amount_min": "10,000"}, {"HT-FRESH-002"}),
        ({"amount_max": "1000"}, {"HT-OLD-003"}),
        ({"amount_min": "1000", "amount_max": "3150"}, {"HT-MINE-001", "HT-NEW-004"}),
        ({"q": "FRESH"}, {"HT-FRESH-002"}),
        ({"q": "王五"}, {"HT-OLD-003"}),
        ({"q": "13900001111"}, {"HT-OLD-003"}),
        ({"q": "139 0000 1111"}, {"HT-OLD-003"}),
        ({"q": "HT-THEIRS-001"}, set()),  # out of scope stays out, even by exact contract no
    ],
)
def test_each_filter_narrows_the_list(client, personas, spread, params, expected):
    response = _ledger(_as(client, personas, "collector"), **params)
    assert response.status_code == 200
    assert _contracts(response) == expected


def test_search_by_id_number(client, personas, spread):
    response = _ledger(_as(client, personas, "collector"), q=spread["old"].debtor.id_number)
    assert _contracts(response) == {"HT-OLD-003"}


def test_a_bad_filter_value_shows_an_error_and_filters_nothing(client, personas, spread):
    response = _ledger(_as(client, personas, "collector"), amount_min="lots", status="delinquent")
    html = response.content.decode()
    assert response.status_code == 200
    assert 'id="id_amount_min-error"' in html
    assert _contracts(response) == {"HT-MINE-001", "HT-FRESH-002", "HT-OLD-003"}


def test_sorting_by_outstanding_and_contract(client, personas, spread):
    client = _as(client, personas, "collector")

    def order(sort):
        html = _ledger(client, sort=sort).content.decode()
        return re.findall(r'data-contract="([^"]+)"', html)

    assert order("-outstanding")[0] == "HT-FRESH-002"
    assert order("outstanding")[0] == "HT-OLD-003"
    assert order("contract") == sorted(order("contract"))
    assert order("-contract") == sorted(order("contract"), reverse=True)


def test_pagination_is_fifty_a_page_with_the_total(client, personas, ledger):
    portfolio = ledger["portfolio"]
    debtor = make_debtor()
    for n in range(55):
        make_account(
            portfolio,
            collector=personas["collector"],
            contract_no=f"HT-P-{n:03d}",
            debtor=debtor,
            items=installments(dt.date(2026, 10, 1), 1),
        )
    client = _as(client, personas, "collector")
    first = _ledger(client, sort="contract")
    assert len(_contracts(first)) == 50
    assert "56" in first.content.decode()  # 55 + HT-MINE-001
    second = _ledger(client, sort="contract", page="2")
    assert len(_contracts(second)) == 6
    assert _contracts(first).isdisjoint(_contracts(second))


def test_htmx_gets_only_the_table(client, personas, spread):
    client = _as(client, personas, "collector")
    response = client.get(reverse("web:ledger"), {"status": "current"}, HTTP_HX_REQUEST="true")
    html = response.content.decode()
    assert response.status_code == 200
    assert "<html" not in html
    assert _contracts(response) == {"HT-NEW-004"}
    assert 'hx-swap-oob="true"' in html
    full = client.get(reverse("web:ledger"), {"status": "current"})
    assert "<html" in full.content.decode()


def test_a_history_restore_gets_the_whole_page(client, personas, ledger):
    response = _as(client, personas, "collector").get(
        reverse("web:ledger"), HTTP_HX_REQUEST="true", HTTP_HX_HISTORY_RESTORE_REQUEST="true"
    )
    assert "<html" in response.content.decode()


# --- aging ----------------------------------------------------------------------------------


def _aging_totals(html: str) -> list[str]:
    return re.findall(r'data-total-amount="([^"]+)"', html)


@pytest.mark.parametrize("persona", ["collector", "manager", "auditor", "outsider"])
def test_aging_totals_equal_the_outstanding_of_the_accounts(client, personas, spread, persona):
    response = _as(client, personas, persona).get(reverse("web:aging"))
    assert response.status_code == 200
    from huikuan.ledger.selectors import accounts_visible_to

    visible = accounts_visible_to(personas[persona])
    expected = sum((a.outstanding for a in visible), D("0.00"))
    totals = [D(t) for t in _aging_totals(response.content.decode())]
    assert sum(totals, D("0.00")) == expected
    if persona == "outsider":
        assert totals == []


def test_aging_as_of_an_earlier_date_adds_later_payments_back(client, personas, ledger):
    services.payment_post(
        account=ledger["mine"],
        amount=D("1050.00"),
        received_on=dt.date(2026, 11, 20),
        method="bank",
        actor=None,
    )
    client = _as(client, personas, "collector")
    now = _aging_totals(client.get(reverse("web:aging")).content.decode())
    before = _aging_totals(
        client.get(reverse("web:aging"), {"as_of": "2026-11-19"}).content.decode()
    )
    assert [D(x) for x in now] == [D("2100.00")]
    assert [D(x) for x in before] == [D("3150.00")]


def test_aging_htmx_and_portfolio_filter(client, personas, ledger):
    client = _as(client, personas, "manager")
    response = client.get(
        reverse("web:aging"), {"portfolio": ledger["portfolio"].pk}, HTTP_HX_REQUEST="true"
    )
    html = response.content.decode()
    assert "<html" not in html
    assert [D(x) for x in _aging_totals(html)] == [
        sum((a.outstanding for a in Account.objects.all()), D("0.00"))
    ]


def test_aging_bad_date_falls_back_to_today(client, personas, ledger):
    response = _as(client, personas, "manager").get(reverse("web:aging"), {"as_of": "yesterday"})
    assert response.status_code == 200
    assert 'id="id_as_of-error"' in response.content.decode()
