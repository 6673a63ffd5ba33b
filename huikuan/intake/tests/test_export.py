"""XLSX exports of the ledger and the aging summary: what the page shows, as real cells.

Every workbook is opened again with openpyxl and read cell by cell: values, number formats,
dates, headers in both languages, masking by role, the data scope, the filter and the order,
the aging figures against the aging page, the API, the audit trail and the row limit.
(Messages are English here by the intake tests' conftest; Chinese is asked for explicitly.)
"""

from __future__ import annotations

import datetime as dt
import io
from decimal import Decimal
from typing import Any
from urllib.parse import quote

import openpyxl
import pytest
from django.test import Client
from django.urls import reverse
from django.utils import translation

from huikuan.audit.models import AuditEvent
from huikuan.iam.domain import format_phone, mask_id_number
from huikuan.iam.services import token_create
from huikuan.intake import export
from huikuan.intake.headers import guess_mapping, missing_fields
from huikuan.intake.pipeline import validate_ledger_file
from huikuan.ledger import services
from huikuan.ledger.selectors import LedgerFilter
from huikuan.ledger.tests.factories import installments, make_account, make_debtor, make_portfolio

pytestmark = pytest.mark.django_db

TODAY = dt.date(2026, 11, 23)  # huikuan/conftest.py fixes the day
PHONE = "+8613812345678"
EMAIL = "zhang.san@example.com"
ADDRESS = "北京市朝阳区建国路88号1栋101室"

EN_HEADERS = [
    "Contract no.", "Debtor", "Debtor type", "ID number", "Creditor", "Portfolio", "Product",
    "Currency", "Contract amount", "Contract date", "Amount due", "Principal due",
    "Interest due", "Fee due", "Overdue", "Due date", "DPD", "Bucket", "Status", "Collector",
    "Team", "Phone", "Email", "Address",
]  # fmt: skip
COL = {name: index for index, name in enumerate(EN_HEADERS)}
MONEY = ("Contract amount", "Amount due", "Principal due", "Interest due", "Fee due", "Overdue")

# What the ledger import must read back from the headers (intake.headers).
IMPORT_FIELDS = {
    "Contract no.": "contract_no",
    "Debtor": "debtor_name",
    "Debtor type": "debtor_kind",
    "ID number": "id_number",
    "Product": "product",
    "Currency": "currency",
    "Contract amount": "principal",
    "Contract date": "open_date",
    "Amount due": "amount_due",
    "Principal due": "principal_due",
    "Interest due": "interest_due",
    "Fee due": "fee_due",
    "Due date": "due_date",
    "Phone": "phone",
    "Email": "email",
    "Address": "address",
}


# --- helpers --------------------------------------------------------------------------------


def browser(user: Any, language: str = "en") -> Client:
    client = Client(HTTP_ACCEPT_LANGUAGE=language)
    client.force_login(user)
    return client


def api(user: Any, language: str = "en") -> Client:
    _token, raw = token_create(user=user, name="test", actor=None)
    return Client(HTTP_AUTHORIZATION=f"Bearer {raw}", HTTP_ACCEPT_LANGUAGE=language)


def workbook(response: Any) -> Any:
    assert response.status_code == 200, response.content
    assert response["Content-Type"] == export.CONTENT_TYPE
    return openpyxl.load_workbook(io.BytesIO(b"".join(response.streaming_content)))


def sheet_rows(book: Any) -> list[tuple[Any, ...]]:
    return list(book.active.iter_rows(values_only=True))


def contracts(book: Any) -> list[str]:
    return [row[0] for row in sheet_rows(book)[1:]]


def by_contract(book: Any) -> dict[str, dict[str, Any]]:
    rows = sheet_rows(book)
    return {row[0]: dict(zip(EN_HEADERS, row, strict=True)) for row in rows[1:]}


def money(value: Any) -> Decimal:
    return Decimal(str(value)).quantize(Decimal("0.01"))


@pytest.fixture
def book(personas: dict[str, Any], ledger: dict[str, Any]) -> dict[str, Any]:
    """The shared ledger plus: contacts for ``mine``, a payment on it, and a second account of
    the collector's with an item not due yet."""
    mine = ledger["mine"]
    services.contact_create(
        debtor=mine.debtor,
        relation="self",
        phone=PHONE,
        email=EMAIL,
        address=ADDRESS,
        verified=True,
        actor=None,
    )
    services.contact_create(
        debtor=mine.debtor, relation="guarantor", name="李四", phone="+8613900001111", actor=None
    )
    # 1,100 pays item 01 (1,000 + 50) and item 02's interest: 2,050 left, oldest due 09-10.
    services.payment_post(
        account=mine,
        amount=Decimal("1100.00"),
        received_on=TODAY,
        method="bank",
        actor=personas["manager"],
    )
    fresh = make_account(
        ledger["portfolio"],
        contract_no="HT-MINE-002",
        collector=personas["collector"],
        debtor=make_debtor(name="王五"),
        items=installments(dt.date(2026, 10, 10), 3, fee=Decimal("10.00")),
    )
    return {**ledger, "fresh": fresh}


# --- the ledger: values and formats ---------------------------------------------------------


def test_ledger_cells_are_real_numbers_and_dates(personas, book):
    xlsx = workbook(browser(personas["manager"]).get(reverse("web:ledger_export")))
    ws = xlsx.active
    assert ws.title == "Collection ledger"
    assert [c.value for c in ws[1]] == EN_HEADERS
    assert all(c.font.b for c in ws[1])
    assert ws.freeze_panes == "C2"
    assert ws.auto_filter.ref == "A1:X5"
    assert ws.column_dimensions["A"].width >= 15

    rows = by_contract(xlsx)
    mine = rows["HT-MINE-001"]
    assert mine["Debtor"] == "张三"
    assert mine["Debtor type"] == "Individual"
    assert mine["Product"] == "Loan"
    assert mine["Currency"] == "CNY"
    assert money(mine["Contract amount"]) == Decimal("3000.00")
    assert money(mine["Amount due"]) == Decimal("2050.00")
    assert money(mine["Principal due"]) == Decimal("2000.00")
    assert money(mine["Interest due"]) == Decimal("50.00")
    assert money(mine["Fee due"]) == Decimal("0.00")
    assert money(mine["Overdue"]) == Decimal("2050.00")
    assert mine["Due date"] == dt.datetime(2026, 9, 10)
    assert mine["Contract date"] == dt.datetime(2026, 1, 10)
    assert mine["DPD"] == 74
    assert mine["Bucket"] == "31–90 Middle"
    assert mine["Status"] == "Delinquent"
    assert mine["Collector"] == "collector"
    assert mine["Team"] is None
    assert rows["HT-AGENCY-001"]["Team"] == "华信委外"

    # Not yet due: 12-10 is owed but not overdue; DPD counts from 10-10.
    fresh = rows["HT-MINE-002"]
    assert money(fresh["Amount due"]) == Decimal("3180.00")
    assert money(fresh["Fee due"]) == Decimal("30.00")
    assert money(fresh["Overdue"]) == Decimal("2120.00")
    assert fresh["DPD"] == 44
    assert fresh["Phone"] is None  # no contact of its own: an empty cell, not a dash

    data_row = next(r for r in ws.iter_rows(min_row=2) if r[0].value == "HT-MINE-001")
    for name in MONEY:
        cell = data_row[COL[name]]
        assert cell.data_type == "n", name
        assert cell.number_format == "#,##0.00", name
    for name in ("Due date", "Contract date"):
        cell = data_row[COL[name]]
        assert cell.is_date, name
        assert cell.number_format == "yyyy-mm-dd", name
    assert data_row[COL["DPD"]].data_type == "n"


def test_ledger_amounts_keep_their_cents(personas, ledger):
    account = make_account(
        ledger["portfolio"],
        contract_no="HT-CENTS",
        items=[
            services.ItemInput(
                number="01",
                due_date=dt.date(2026, 11, 1),
                principal_due=Decimal("1234567.89"),
                interest_due=Decimal("0.01"),
            )
        ],
    )
    rows = by_contract(workbook(browser(personas["manager"]).get(reverse("web:ledger_export"))))
    row = rows[account.contract_no]
    assert money(row["Amount due"]) == Decimal("1234567.90")
    assert money(row["Principal due"]) == Decimal("1234567.89")
    assert money(row["Interest due"]) == Decimal("0.01")


# --- masking --------------------------------------------------------------------------------


def test_collector_gets_pii_masked_as_on_screen(personas, book):
    xlsx = workbook(browser(personas["collector"]).get(reverse("web:ledger_export")))
    mine = by_contract(xlsx)["HT-MINE-001"]
    id_number = book["mine"].debtor.id_number
    assert mine["ID number"] == mask_id_number(id_number) != id_number
    assert mine["Phone"] == "138****5678"
    assert mine["Email"] == "z***@example.com"
    assert mine["Address"] == "北京市朝阳区****"
    # The page shows the same: the account page is the reference for masking.
    page = browser(personas["collector"]).get(reverse("web:account", args=[book["mine"].pk]))
    assert "138****5678" in page.content.decode()
    assert mask_id_number(id_number) in page.content.decode()
    event = AuditEvent.objects.filter(action="export.ledger").latest("id")
    assert event.changes["pii_unmasked"] is False


def test_manager_gets_pii_unmasked_and_the_audit_log_says_so(personas, book):
    xlsx = workbook(browser(personas["manager"]).get(reverse("web:ledger_export")))
    mine = by_contract(xlsx)["HT-MINE-001"]
    assert mine["ID number"] == book["mine"].debtor.id_number
    assert mine["Phone"] == format_phone(PHONE)
    assert mine["Email"] == EMAIL
    assert mine["Address"] == ADDRESS
    event = AuditEvent.objects.filter(action="export.ledger").latest("id")
    assert event.actor_id == personas["manager"].pk
    assert event.changes["pii_unmasked"] is True
    assert event.changes["rows"] == 4
    assert event.changes["via"] == "web"
    assert event.changes["as_of"] == TODAY.isoformat()


def test_auditor_sees_everything_but_masked(personas, book):
    xlsx = workbook(browser(personas["auditor"]).get(reverse("web:ledger_export")))
    rows = by_contract(xlsx)
    assert set(rows) == {"HT-MINE-001", "HT-MINE-002", "HT-THEIRS-001", "HT-AGENCY-001"}
    assert rows["HT-MINE-001"]["Phone"] == "138****5678"


# --- scope, filter and order ----------------------------------------------------------------


@pytest.mark.parametrize(
    ("persona", "visible"),
    [
        ("collector", {"HT-MINE-001", "HT-MINE-002"}),
        ("other_collector", {"HT-THEIRS-001"}),
        ("team_lead", {"HT-MINE-001", "HT-MINE-002"}),
        ("agency", {"HT-AGENCY-001"}),
        ("manager", {"HT-MINE-001", "HT-MINE-002", "HT-THEIRS-001", "HT-AGENCY-001"}),
        ("outsider", set()),
    ],
)
def test_ledger_export_follows_the_data_scope(personas, book, persona, visible):
    client = browser(personas[persona])
    assert set(contracts(workbook(client.get(reverse("web:ledger_export"))))) == visible
    # The same accounts as the list.
    listed = client.get(reverse("web:ledger")).context["rows"]
    assert {row["account"].contract_no for row in listed} == visible


def test_outsider_gets_headers_only_and_out_of_scope_portfolio_changes_nothing(personas, book):
    client = browser(personas["outsider"])
    query = {"portfolio": book["portfolio"].pk}
    rows = sheet_rows(workbook(client.get(reverse("web:ledger_export"), query)))
    assert rows == [tuple(EN_HEADERS)]


def test_anonymous_is_sent_to_the_login_page(book):
    for name in ("web:ledger_export", "web:aging_export"):
        response = Client().get(reverse(name))
        assert response.status_code == 302
        assert reverse("web:login") in response["Location"]


@pytest.mark.parametrize(
    "query",
    [
        {},
        {"sort": "contract"},
        {"sort": "-outstanding"},
        {"status": "delinquent", "sort": "debtor"},
        {"bucket": "31-90"},
        {"dpd_min": "50"},
        {"amount_min": "3000", "sort": "outstanding"},
        {"q": "王五"},
        {"q": "13812345678"},
        {"portfolio": "PORTFOLIO", "dpd_max": "80"},
        {"dpd_min": "abc"},  # invalid: filters nothing, as on the list
    ],
)
def test_ledger_export_is_the_list_under_the_same_query(personas, book, query):
    query = {k: (book["portfolio"].pk if v == "PORTFOLIO" else v) for k, v in query.items()}
    other = make_portfolio()
    make_account(other, contract_no="HT-OTHER-001", items=installments(dt.date(2026, 11, 1), 2))
    client = browser(personas["manager"])
    listed = [
        r["account"].contract_no for r in client.get(reverse("web:ledger"), query).context["rows"]
    ]
    exported = contracts(workbook(client.get(reverse("web:ledger_export"), query)))
    assert exported == listed
    assert exported or query.get("q")


def test_filter_is_recorded_in_the_audit_log(personas, book):
    client = browser(personas["collector"])
    workbook(client.get(reverse("web:ledger_export"), {"status": "delinquent", "q": "王五"}))
    event = AuditEvent.objects.filter(action="export.ledger").latest("id")
    assert event.changes["filter"] == {"status": "delinquent", "text": "王五", "sort": "-dpd"}
    assert event.changes["rows"] == 1
    assert event.actor_id == personas["collector"].pk


def test_ledger_export_writes_to_a_path(personas, book, tmp_path):
    path = tmp_path / "ledger.xlsx"
    result = export.ledger_export(
        path, actor=personas["collector"], flt=LedgerFilter(sort="contract"), as_of=TODAY
    )
    assert result.rows == 2
    assert result.pii is False
    assert result.filename == "Collection ledger-2026-11-23.xlsx"
    assert result.ascii_filename == "ledger-2026-11-23.xlsx"
    assert contracts(openpyxl.load_workbook(path)) == ["HT-MINE-001", "HT-MINE-002"]


# --- languages and the import ---------------------------------------------------------------


def test_headers_and_labels_follow_the_language(personas, book):
    zh = workbook(browser(personas["manager"], "zh-hans").get(reverse("web:ledger_export")))
    assert zh.active.title == "催收台账"
    header = sheet_rows(zh)[0]
    for name, chinese in {
        "Contract no.": "合同编号",
        "Debtor": "债务人",
        "ID number": "证件号码",
        "Portfolio": "资产包",
        "Product": "产品",
        "Due date": "到期日",
        "DPD": "逾期天数",
        "Bucket": "账龄段",
        "Status": "状态",
        "Collector": "催收员",
        "Phone": "电话",
        "Address": "地址",
    }.items():
        assert header[COL[name]] == chinese
    row = next(r for r in sheet_rows(zh)[1:] if r[0] == "HT-MINE-001")
    assert row[COL["Debtor type"]] == "个人"
    assert row[COL["Product"]] == "贷款"
    assert row[COL["Status"]] == "逾期"
    assert row[COL["Bucket"]] == "31–90 中度逾期"

    en = workbook(browser(personas["manager"], "en").get(reverse("web:ledger_export")))
    assert sheet_rows(en)[0] == tuple(EN_HEADERS)


@pytest.mark.parametrize("language", ["en", "zh-hans"])
def test_exported_headers_are_recognised_by_the_import(personas, book, language):
    target = io.BytesIO()
    with translation.override(language):
        export.ledger_export(target, actor=personas["manager"], flt=LedgerFilter(), as_of=TODAY)
    header = sheet_rows(openpyxl.load_workbook(target))[0]
    guess = guess_mapping(header)
    assert missing_fields(guess.mapping) == []
    expected = {COL[name]: field for name, field in IMPORT_FIELDS.items()}
    assert guess.mapping == expected
    # The rest (creditor, portfolio, DPD, bucket...) is there to read, not to import.
    assert set(guess.unmapped) == set(range(len(EN_HEADERS))) - set(expected)


def test_an_unmasked_export_validates_as_a_ledger_import(personas, book, tmp_path):
    path = tmp_path / "ledger.xlsx"
    export.ledger_export(path, actor=personas["manager"], flt=LedgerFilter(), as_of=TODAY)
    results = list(validate_ledger_file(path, language="en"))
    errors = [row for r in results for row in r.errors.iter_rows(named=True)]
    assert errors == []
    clean = {row["contract_no"]: row for r in results for row in r.clean.iter_rows(named=True)}
    assert set(clean) == {"HT-MINE-001", "HT-MINE-002", "HT-THEIRS-001", "HT-AGENCY-001"}
    mine = clean["HT-MINE-001"]
    assert mine["id_number"] == book["mine"].debtor.id_number
    assert mine["due_date"] == dt.date(2026, 9, 10)
    assert mine["phone"] == PHONE


def test_download_name_is_rfc_5987_encoded(personas, book):
    response = browser(personas["manager"], "zh-hans").get(reverse("web:ledger_export"))
    disposition = response["Content-Disposition"]
    assert disposition.startswith("attachment; ")
    assert 'filename="ledger-2026-11-23.xlsx"' in disposition
    assert f"filename*=UTF-8''{quote('催收台账-2026-11-23.xlsx')}" in disposition
    assert response["Cache-Control"] == "private, no-store"
    response = browser(personas["manager"], "zh-hans").get(reverse("web:aging_export"))
    assert (
        f"filename*=UTF-8''{quote('账龄汇总-2026-11-23.xlsx')}" in response["Content-Disposition"]
    )


# --- the row limit --------------------------------------------------------------------------


def test_too_many_rows_are_refused_with_a_message(personas, book, monkeypatch):
    monkeypatch.setattr(export, "MAX_ROWS", 4)  # a header and three accounts
    client = browser(personas["manager"])
    response = client.get(reverse("web:ledger_export"), {"status": "delinquent"})
    assert response.status_code == 302
    assert response["Location"] == reverse("web:ledger") + "?status=delinquent"
    page = client.get(response["Location"])
    assert "Narrow the filter" in page.content.decode()
    assert "4 rows are too many" in page.content.decode()

    response = api(personas["manager"]).get("/api/v1/ledger/export.xlsx")
    assert response.status_code == 422
    assert "Narrow the filter" in response.json()["message"]
    assert not AuditEvent.objects.filter(action="export.ledger").exists()

    # Narrowed, it goes through.
    narrowed = client.get(reverse("web:ledger_export"), {"q": "HT-MINE"})
    assert contracts(workbook(narrowed)) == ["HT-MINE-001", "HT-MINE-002"]


def test_the_limit_message_names_the_numbers():
    message = export.ExportTooLarge(2_000_000).messages[0]
    assert "2,000,000 rows are too many" in message
    assert "at most 1,048,575 below its header" in message
    assert "Narrow the filter" in message


# --- the aging report -----------------------------------------------------------------------


def _aging_lines(book: Any) -> tuple[list[Any], list[Any], list[tuple[Any, ...]]]:
    rows = sheet_rows(book)
    return list(rows[2]), list(rows[3]), rows[4:]


def _group(header: list[Any], label: str) -> int:
    return header.index(label)


@pytest.fixture
def two_portfolios(personas, book):
    second = make_portfolio(bucket_bounds=[0, 15, 30, 60])
    make_account(second, contract_no="HT-P2-001", items=installments(dt.date(2026, 11, 1), 2))
    make_account(second, contract_no="HT-P2-002", items=installments(dt.date(2026, 6, 1), 2))
    return {**book, "second": second}


@pytest.mark.parametrize("query", [{}, {"as_of": "2026-10-01"}, {"portfolio": "FIRST"}])
def test_aging_export_has_the_figures_of_the_aging_page(personas, two_portfolios, query):
    if query.get("portfolio") == "FIRST":
        query = {"portfolio": two_portfolios["portfolio"].pk}
    client = browser(personas["manager"])
    page = client.get(reverse("web:aging"), query).context["tables"]
    xlsx = workbook(client.get(reverse("web:aging_export"), query))
    ws = xlsx.active
    assert ws.title == "Aging summary"
    assert ws["A1"].value == "As of"
    as_of = dt.date.fromisoformat(query.get("as_of", TODAY.isoformat()))
    assert ws["B1"].value == dt.datetime.combine(as_of, dt.time())
    assert ws["B1"].number_format == "yyyy-mm-dd"
    assert ws.freeze_panes == "C5"
    groups, columns, lines = _aging_lines(xlsx)
    assert groups[:2] == ["Portfolio", "Currency"]
    assert columns[2:5] == ["Accounts", "Amount", "Share"]
    total_at = _group(groups, "Total")

    portfolio_lines = {line[0]: line for line in lines if line[0] != "Total"}
    assert set(portfolio_lines) == {t["portfolio"] for t in page["list"]}
    for table in page["list"]:
        line = portfolio_lines[table["portfolio"]]
        assert line[1] == table["currency"]
        assert line[total_at] == table["count"]
        assert money(line[total_at + 1]) == table["amount"]
        for row in table["rows"]:
            at = _group(groups, row["bucket"].label)
            assert line[at] == row["count"]
            assert money(line[at + 1]) == row["amount"]
            assert Decimal(str(line[at + 2])) * 100 == row["share"]

    totals = [line for line in lines if line[0] == "Total"]
    assert len(totals) == 1  # one currency
    total = totals[0]
    assert total[total_at] == sum(t["count"] for t in page["list"])
    assert money(total[total_at + 1]) == sum(t["amount"] for t in page["list"])
    if page["grand"]:
        assert total[total_at] == page["grand"]["count"]
        assert money(total[total_at + 1]) == page["grand"]["amount"]

    data = ws[5]
    assert data[total_at].data_type == "n"
    assert data[total_at + 1].number_format == "#,##0.00"
    assert data[total_at + 2].number_format == "0.0%"
    assert all(c.font.b for c in ws[3] if c.value)
    assert all(c.font.b for c in ws[ws.max_row] if c.value is not None)


def test_aging_buckets_a_portfolio_lacks_are_empty(personas, two_portfolios):
    xlsx = workbook(browser(personas["manager"]).get(reverse("web:aging_export")))
    groups, _columns, lines = _aging_lines(xlsx)
    second = next(line for line in lines if line[0] == two_portfolios["second"].name)
    first = next(line for line in lines if line[0] == two_portfolios["portfolio"].name)
    # 16–30 exists only in the second portfolio's bounds, 181+ only in the first's.
    at = next(i for i, label in enumerate(groups) if label and label.startswith("16–30"))
    assert first[at : at + 3] == (None, None, None)
    assert second[at] == 1  # HT-P2-001: 22 days past due
    at = next(i for i, label in enumerate(groups) if label and label.startswith("180+"))
    assert second[at : at + 3] == (None, None, None)


def test_aging_export_follows_the_scope_and_is_audited(personas, book):
    xlsx = workbook(browser(personas["agency"]).get(reverse("web:aging_export")))
    groups, _columns, lines = _aging_lines(xlsx)
    line = lines[0]
    assert line[_group(groups, "Total")] == 1
    outsider = workbook(browser(personas["outsider"]).get(reverse("web:aging_export")))
    assert _aging_lines(outsider)[2] == []
    event = AuditEvent.objects.filter(action="export.aging").latest("id")
    assert event.actor_id == personas["outsider"].pk
    assert event.changes["rows"] == 0
    assert event.changes["as_of"] == TODAY.isoformat()


def test_aging_headers_in_chinese(personas, book):
    xlsx = workbook(browser(personas["manager"], "zh-hans").get(reverse("web:aging_export")))
    assert xlsx.active.title == "账龄汇总"
    groups, columns, lines = _aging_lines(xlsx)
    assert xlsx.active["A1"].value == "基准日"
    assert groups[0] == "资产包"
    assert "合计" in groups
    assert columns[2:5] == ["账户数", "金额", "占比"]
    assert lines[-1][0] == "合计"


# --- the API --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("persona", "visible"),
    [
        ("collector", {"HT-MINE-001", "HT-MINE-002"}),
        ("agency", {"HT-AGENCY-001"}),
        ("manager", {"HT-MINE-001", "HT-MINE-002", "HT-THEIRS-001", "HT-AGENCY-001"}),
        ("outsider", set()),
    ],
)
def test_api_ledger_export_follows_the_scope(personas, book, persona, visible):
    response = api(personas[persona]).get("/api/v1/ledger/export.xlsx")
    assert set(contracts(workbook(response))) == visible
    listed = api(personas[persona]).get("/api/v1/accounts").json()["items"]
    assert {a["contract_no"] for a in listed} == visible


def test_api_ledger_export_takes_the_list_parameters(personas, book):
    client = api(personas["manager"])
    query = {"status": "delinquent", "dpd_max": "80", "as_of": "2026-11-23"}
    listed = [a["contract_no"] for a in client.get("/api/v1/accounts", query).json()["items"]]
    exported = contracts(workbook(client.get("/api/v1/ledger/export.xlsx", query)))
    assert exported == listed == ["HT-MINE-001", "HT-MINE-002"]
    # as_of moves DPD as in the list.
    rows = by_contract(workbook(client.get("/api/v1/ledger/export.xlsx", {"as_of": "2026-12-01"})))
    assert rows["HT-MINE-001"]["DPD"] == 82
    assert rows["HT-MINE-001"]["Phone"] == format_phone(PHONE)
    sorted_rows = client.get("/api/v1/ledger/export.xlsx", {"sort": "contract"})
    everything = [*exported, "HT-AGENCY-001", "HT-THEIRS-001"]
    assert contracts(workbook(sorted_rows)) == sorted(everything)
    event = AuditEvent.objects.filter(action="export.ledger").latest("id")
    assert event.changes["via"] == "api"


def test_api_collector_export_is_masked(personas, book):
    rows = by_contract(workbook(api(personas["collector"]).get("/api/v1/ledger/export.xlsx")))
    assert rows["HT-MINE-001"]["Phone"] == "138****5678"
    assert rows["HT-MINE-001"]["ID number"] == mask_id_number(book["mine"].debtor.id_number)


def test_api_export_errors(personas, book):
    assert Client().get("/api/v1/ledger/export.xlsx").status_code == 401
    assert Client().get("/api/v1/aging/export.xlsx").status_code == 401
    client = api(personas["manager"])
    bad = client.get("/api/v1/ledger/export.xlsx", {"sort": "nonsense"})
    assert bad.status_code == 422
    assert bad.json()["code"] == "validation_error"
    assert client.get("/api/v1/aging/export.xlsx", {"as_of": "tomorrow"}).status_code == 422


def test_api_aging_export_equals_the_aging_endpoint(personas, two_portfolios):
    client = api(personas["manager"])
    query = {"as_of": "2026-11-01"}
    figures = client.get("/api/v1/aging", query).json()["rows"]
    xlsx = workbook(client.get("/api/v1/aging/export.xlsx", query))
    assert xlsx.active["B1"].value == dt.datetime(2026, 11, 1)
    groups, _columns, lines = _aging_lines(xlsx)
    by_name = {line[0]: line for line in lines}
    for row in figures:
        line = by_name[row["portfolio"]]
        at = _group(groups, row["bucket"]["label"])
        assert line[at] == row["count"]
        assert money(line[at + 1]) == Decimal(row["amount"])
    total = by_name["Total"]
    at = _group(groups, "Total")
    assert money(total[at + 1]) == sum(Decimal(r["amount"]) for r in figures)


# --- the buttons ----------------------------------------------------------------------------


def test_ledger_list_links_to_the_export_with_its_filter(personas, book):
    client = browser(personas["manager"])
    page = client.get(reverse("web:ledger"), {"status": "delinquent", "page": "1"})
    html = page.content.decode()
    assert f'href="{reverse("web:ledger_export")}?status=delinquent"' in html
    assert "Export to Excel" in html
    # The partial HTMX swaps in carries the new filter too.
    partial = client.get(reverse("web:ledger"), {"q": "王五"}, HTTP_HX_REQUEST="true")
    assert f'href="{reverse("web:ledger_export")}?q=%E7%8E%8B%E4%BA%94"' in partial.content.decode()
    # Nothing to export, no button.
    empty = browser(personas["outsider"]).get(reverse("web:ledger"))
    assert reverse("web:ledger_export") not in empty.content.decode()


def test_aging_page_links_to_the_export_with_its_filter(personas, book):
    client = browser(personas["manager"])
    query = {"as_of": "2026-10-01", "portfolio": book["portfolio"].pk}
    html = client.get(reverse("web:aging"), query).content.decode()
    expected = (
        f"{reverse('web:aging_export')}?as_of=2026-10-01&amp;portfolio={book['portfolio'].pk}"
    )
    assert f'href="{expected}"' in html
    empty = browser(personas["outsider"]).get(reverse("web:aging"))
    assert reverse("web:aging_export") not in empty.content.decode()


# --- text that is not what it looks like -----------------------------------------------------


def test_text_is_never_a_formula_and_control_characters_do_not_break_it(personas, ledger):
    debtor = make_debtor(name='=HYPERLINK("http://example.com","点我")')
    account = make_account(ledger["portfolio"], contract_no="=1+1", debtor=debtor)
    services.contact_create(
        debtor=debtor, relation="self", address="上海市\x01浦东新区=1+2", actor=None
    )
    xlsx = workbook(browser(personas["manager"]).get(reverse("web:ledger_export")))
    cells = next(r for r in xlsx.active.iter_rows(min_row=2) if r[0].value == account.contract_no)
    assert cells[COL["Contract no."]].data_type == "s"
    assert cells[COL["Debtor"]].value == debtor.name
    assert cells[COL["Debtor"]].data_type == "s"
    assert cells[COL["Address"]].value == "上海市浦东新区=1+2"


# --- large exports run in the background ----------------------------------------------------


def test_a_large_export_becomes_a_background_job_for_its_requester_only(
    personas, ledger, settings, django_capture_on_commit_callbacks
):
    from huikuan.intake.models import ExportJob

    settings.HUIKUAN_EXPORT_SYNC_ROWS = 1
    client = browser(personas["manager"])
    with django_capture_on_commit_callbacks(execute=True):
        response = client.get("/ledger/export.xlsx?sort=contract")
    job = ExportJob.objects.get()
    assert response.status_code == 302
    assert response["Location"] == f"/exports/{job.pk}/"
    job.refresh_from_db()
    assert job.status == "done" and job.rows == 3
    page = client.get(response["Location"]).content.decode()
    assert "3 accounts exported" in page
    download = client.get(f"/exports/{job.pk}/file/")
    assert download.status_code == 200
    workbook = openpyxl.load_workbook(io.BytesIO(b"".join(download.streaming_content)))
    assert workbook.active.max_row == 4
    assert AuditEvent.objects.filter(action="export.download", object_id=str(job.pk)).exists()

    other = browser(personas["finance"])
    assert other.get(f"/exports/{job.pk}/").status_code == 404
    assert other.get(f"/exports/{job.pk}/file/").status_code == 404


def test_a_large_api_export_answers_202_with_a_job(
    personas, ledger, settings, django_capture_on_commit_callbacks
):
    settings.HUIKUAN_EXPORT_SYNC_ROWS = 1
    client = api(personas["manager"])
    with django_capture_on_commit_callbacks(execute=True):
        response = client.get("/api/v1/ledger/export.xlsx")
    assert response.status_code == 202
    job_id = response.json()["id"]
    status = client.get(f"/api/v1/exports/{job_id}").json()
    assert status["status"] == "done" and status["rows"] == 3
    file = client.get(status["file_url"])
    assert file.status_code == 200
    assert api(personas["finance"]).get(f"/api/v1/exports/{job_id}").status_code == 404
