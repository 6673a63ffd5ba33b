"""Payments import: bank files loaded and matched, a person's decisions, posting; pages and API."""

from __future__ import annotations

import csv
import datetime as dt
import io
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from django.contrib.auth.models import Permission
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from huikuan.audit.models import AuditEvent
from huikuan.iam.services import token_create
from huikuan.intake import jobs
from huikuan.intake.errors import IntakeError
from huikuan.intake.models import ImportJob, StatementLine
from huikuan.intake.payments import line_assign, line_skip, statement_load, statement_post
from huikuan.intake.tests.test_statements import icbc, xlsx_export
from huikuan.ledger import services
from huikuan.ledger.domain import AccountStatus
from huikuan.ledger.models import Account, Allocation, Debtor, Payment
from huikuan.ledger.tests.factories import installments, make_account, make_debtor, make_portfolio

pytestmark = pytest.mark.django_db

FIXTURES = Path(__file__).parent / "fixtures"
ICBC = FIXTURES / "statement_icbc_gbk.csv"
CAMT = FIXTURES / "camt053_boc_v02.xml"
D = Decimal
S = StatementLine.Status


def monthly(first_due: dt.date, count: int) -> list[services.ItemInput]:
    """Installments of 1,050.00: principal 1,000, interest 30, fee 20."""
    return installments(first_due, count, D("1000.00"), D("30.00"), D("20.00"))


@pytest.fixture
def bank(personas: dict[str, Any]) -> dict[str, Any]:
    """The accounts the ICBC export pays, in a portfolio that allocates principal first."""
    portfolio = make_portfolio(allocation_order=["principal", "interest", "fee"])
    chen = make_debtor(name="陈七")
    accounts = {
        # Six installments overdue (6,300.00): 5,000.00 pays four and part of the fifth.
        "zhang": make_account(
            portfolio,
            contract_no="HT-2026-001",
            debtor=make_debtor(name="张三"),
            items=monthly(dt.date(2026, 6, 10), 6),
        ),
        # Three installments overdue: 3,150.00 is exactly what 李四 owes.
        "li": make_account(
            portfolio,
            contract_no="HT-2026-002",
            debtor=make_debtor(name="李四"),
            items=monthly(dt.date(2026, 8, 10), 3),
        ),
        # 陈七 has two loans, each three installments behind: 2,100.00 fits both.
        "chen1": make_account(
            portfolio,
            contract_no="HT-2026-007",
            debtor=chen,
            items=monthly(dt.date(2026, 8, 10), 3),
        ),
        "chen2": make_account(
            portfolio,
            contract_no="HT-2026-008",
            debtor=chen,
            items=monthly(dt.date(2026, 8, 10), 3),
        ),
    }
    # 周八 owes exactly 999.00, but to another creditor: not this ledger's money.
    elsewhere = make_account(
        make_portfolio(),
        contract_no="HT-2026-009",
        debtor=make_debtor(name="周八"),
        items=[services.ItemInput("01", dt.date(2026, 10, 1), principal_due=D("999.00"))],
    )
    return {
        "portfolio": portfolio,
        "creditor": portfolio.creditor,
        "elsewhere": elsewhere,
        **accounts,
    }


@pytest.fixture
def boc(personas: dict[str, Any]) -> dict[str, Any]:
    """The accounts the hand-written camt.053 statement of a Bank of China account pays."""
    portfolio = make_portfolio()
    accounts = {
        name: make_account(portfolio, contract_no=contract, debtor=make_debtor(name=debtor))
        for name, contract, debtor in (
            ("zhang", "HT-2024-001", "张三"),
            ("li", "HT-2024-002", "李四"),
            ("wang", "HT-2024-003", "王五"),
            ("zhao", "HT-2024-004", "赵六"),
        )
    }
    company = make_debtor(kind=Debtor.Kind.ENTERPRISE, name="厦门某某贸易有限公司")
    for name, contract, amount in (
        ("qy117", "QY-2023-117", "12345.67"),
        ("qy118", "QY-2023-118", "20000.00"),
    ):
        accounts[name] = make_account(
            portfolio,
            contract_no=contract,
            debtor=company,
            items=[services.ItemInput("01", dt.date(2026, 10, 1), principal_due=D(amount))],
        )
    chen = make_debtor(name="陈七")
    for name, contract in (("chen1", "HT-2024-007"), ("chen2", "HT-2024-008")):
        # Two of three installments of 1,000.00 overdue on each loan.
        accounts[name] = make_account(
            portfolio,
            contract_no=contract,
            debtor=chen,
            items=installments(dt.date(2026, 10, 10), 3, D("950.00"), D("50.00")),
        )
    return {"portfolio": portfolio, "creditor": portfolio.creditor, **accounts}


def new_job(creditor: Any, actor: Any, *, name: str = "statement.csv") -> ImportJob:
    return ImportJob.objects.create(
        kind=ImportJob.Kind.PAYMENTS,
        creditor=creditor,
        file_name=name,
        sha256="0" * 64,
        status=ImportJob.Status.RUNNING,
        language="en",
        created_by=actor,
    )


def loaded(creditor: Any, actor: Any, path: Path = ICBC) -> ImportJob:
    """A job as the runner leaves it: lines loaded, waiting for review."""
    job = new_job(creditor, actor, name=path.name)
    counts = statement_load(job, path)
    job.counts, job.error_count, job.status = counts, counts["errors"], ImportJob.Status.REVIEW
    job.save()
    return job


def by_line(job: ImportJob) -> dict[int, StatementLine]:
    return {line.line_no: line for line in StatementLine.objects.filter(job=job)}


def outcome(line: StatementLine) -> tuple[str, int | None, list[int], str]:
    return (line.status, line.account_id, line.candidates, line.rule)


# --- loading and matching ------------------------------------------------------------------


def test_icbc_export_is_loaded_and_matched(bank: dict[str, Any], personas: dict[str, Any]) -> None:
    job = new_job(bank["creditor"], personas["finance"])
    counts = statement_load(job, ICBC)
    assert counts == {
        "lines": 6,
        "matched": 2,
        "ambiguous": 1,
        "unmatched": 1,
        "ignored": 2,
        "duplicate": 0,
        "errors": 1,
    }
    lines = by_line(job)
    chen = sorted([bank["chen1"].pk, bank["chen2"].pk])
    assert {n: outcome(line) for n, line in lines.items()} == {
        5: (S.MATCHED, bank["zhang"].pk, [bank["zhang"].pk], "contract_in_text"),
        6: (S.MATCHED, bank["li"].pk, [bank["li"].pk], "name_and_amount"),
        7: (S.IGNORED, None, [], ""),  # the bank's fee, money out
        8: (S.AMBIGUOUS, None, chen, "name_and_amount"),
        9: (S.UNMATCHED, None, [], ""),  # 周八 owes another creditor, not this one
        11: (S.IGNORED, None, [], ""),  # a correction (negative credit)
    }
    first = lines[5]
    assert (first.amount, first.currency, first.direction) == (D("5000.00"), "CNY", "CRDT")
    assert first.booking_date == dt.date(2026, 11, 2)
    assert first.payer_name == "张三"
    assert first.payer_account == "6217001234567890123"
    assert first.remittance_text == "跨行转入 还款 合同号HT-2026-001"
    assert first.bank_reference == "ICBC2026110200017"
    assert first.idempotency_key == f"stmt:{bank['creditor'].pk}:ICBC2026110200017"
    assert lines[7].direction == "DBIT"
    # The row that could not be read is in the job's error report, with row and column.
    report = jobs.report_file(job).read_text(encoding="utf-8-sig")
    assert list(csv.reader(io.StringIO(report))) == [
        ["Row", "Column", "Error"],
        ["10", "贷方发生额", "Row 10: “1,2x0.00” in “贷方发生额” is not an amount."],
    ]


def test_camt_statement_is_loaded_and_matched(
    boc: dict[str, Any], personas: dict[str, Any]
) -> None:
    job = new_job(boc["creditor"], personas["finance"], name="boc.xml")
    counts = statement_load(job, CAMT)
    assert counts == {
        "lines": 9,
        "matched": 5,
        "ambiguous": 1,
        "unmatched": 1,
        "ignored": 2,
        "duplicate": 0,
        "errors": 0,
    }
    lines = by_line(job)
    got = {n: (line.status, line.account_id, line.rule) for n, line in lines.items()}
    assert got == {
        1: (S.MATCHED, boc["zhang"].pk, "contract_in_text"),
        2: (S.MATCHED, boc["li"].pk, "contract_in_text"),  # structured reference
        3: (S.MATCHED, boc["wang"].pk, "contract_in_text"),  # batch, 1 of 2
        4: (S.MATCHED, boc["zhao"].pk, "contract_in_text"),  # batch, full-width
        5: (S.IGNORED, None, ""),  # charge
        6: (S.IGNORED, None, ""),  # reversal, though it quotes HT-2024-001
        7: (S.MATCHED, boc["qy117"].pk, "name_and_amount"),  # the company's exact overdue
        8: (S.AMBIGUOUS, None, "name_and_amount"),
        9: (S.UNMATCHED, None, ""),
    }
    assert lines[8].candidates == sorted([boc["chen1"].pk, boc["chen2"].pk])
    assert lines[1].idempotency_key == "camt053:410023456789001:BOC24030500001"
    assert lines[3].amount == D("1200.00")
    assert lines[2].remittance_text == "HT2024002 LS20240305A17"


def test_xlsx_export_is_loaded(
    bank: dict[str, Any], personas: dict[str, Any], tmp_path: Path
) -> None:
    job = new_job(bank["creditor"], personas["finance"], name="export.xlsx")
    counts = statement_load(job, xlsx_export(tmp_path / "export.xlsx"))
    assert counts["lines"] == 4 and counts["errors"] == 0
    lines = by_line(job)
    assert lines[3].account_id == bank["zhang"].pk  # "还款HT-2026-001" in 用途
    assert lines[5].status == S.AMBIGUOUS  # 陈七's 2,100.00
    assert lines[7].status == S.IGNORED


def test_loading_is_set_based(
    bank: dict[str, Any], personas: dict[str, Any], tmp_path: Path
) -> None:
    rows = [f"2026-11-02,R{i:04d},转账,,{100 + i}.00,,某人{i},,还款" for i in range(400)]
    path = icbc(tmp_path, *rows)
    job = new_job(bank["creditor"], personas["finance"])
    with CaptureQueriesContext(connection) as queries:
        counts = statement_load(job, path)
    assert counts["lines"] == 400 and counts["unmatched"] == 400
    statements = [q["sql"] for q in queries.captured_queries]
    inserts = [sql for sql in statements if sql.startswith("INSERT")]
    # A few reads whatever the size of the file; the lines go in batches (SQLite takes ~50
    # rows per INSERT, PostgreSQL all of them), never one query per line.
    assert len(statements) - len(inserts) <= 8
    assert len(inserts) <= 10


def test_an_unreadable_file_stores_nothing(
    bank: dict[str, Any], personas: dict[str, Any], tmp_path: Path
) -> None:
    path = tmp_path / "statement.xml"
    path.write_bytes(b"<?xml version='1.0'?><Document><BkToCstmrStmt><Stmt>")
    job = new_job(bank["creditor"], personas["finance"])
    with pytest.raises(IntakeError, match="not well-formed"):
        statement_load(job, path)
    assert not StatementLine.objects.filter(job=job).exists()


def test_loading_twice_changes_nothing(bank: dict[str, Any], personas: dict[str, Any]) -> None:
    job = loaded(bank["creditor"], personas["finance"])
    again = statement_load(job, ICBC)
    assert StatementLine.objects.filter(job=job).count() == 6
    assert again == job.counts


def test_progress_is_reported(bank: dict[str, Any], personas: dict[str, Any]) -> None:
    seen: list[tuple[str, int, int]] = []
    statement_load(
        new_job(bank["creditor"], personas["finance"]), ICBC, progress=lambda *a: seen.append(a)
    )
    assert seen[0] == ("validate", 0, 0)
    assert ("match", 0, 6) in seen
    assert seen[-1] == ("match", 6, 6)


def test_the_job_runner_loads_the_file_and_sends_the_job_to_review(
    bank: dict[str, Any], personas: dict[str, Any]
) -> None:
    finance = personas["finance"]
    job = jobs.import_job_create(
        actor=finance,
        kind=ImportJob.Kind.PAYMENTS,
        creditor=bank["creditor"],
        source=[ICBC.read_bytes()],
        file_name="icbc.csv",
        language="en",
    )
    jobs.import_job_start(job, actor=finance, enqueue=False)
    job = jobs.import_job_run(job.pk)
    assert job.status == ImportJob.Status.REVIEW
    assert (job.counts["matched"], job.error_count) == (2, 1)
    assert StatementLine.objects.filter(job=job).count() == 6


# --- posting -------------------------------------------------------------------------------


def test_posting_allocates_in_the_portfolios_order(
    bank: dict[str, Any], personas: dict[str, Any]
) -> None:
    job = loaded(bank["creditor"], personas["finance"])
    assert statement_post(job, actor=personas["finance"]) == {
        "posted": 2,
        "duplicate": 0,
        "refused": 0,
    }
    line = by_line(job)[5]
    assert line.status == S.POSTED
    payment = Payment.objects.get(pk=line.payment_id)
    assert (payment.account_id, payment.amount, payment.received_on) == (
        bank["zhang"].pk,
        D("5000.00"),
        dt.date(2026, 11, 2),
    )
    assert (payment.method, payment.reference) == (
        Payment.Method.BANK_TRANSFER,
        "ICBC2026110200017",
    )
    assert payment.idempotency_key == line.idempotency_key
    # Principal first, item by item: four installments whole, then 800.00 of the fifth's
    # principal, and nothing of its interest or fee (the default order would take those first).
    fifth = bank["zhang"].items.get(number="05")
    assert list(
        Allocation.objects.filter(payment=payment, item=fifth).values_list("component", "amount")
    ) == [("principal", D("800.00"))]
    assert sum(a.amount for a in payment.allocations.all()) == D("5000.00")
    event = AuditEvent.objects.get(action="payments.line_post", object_id=str(line.pk))
    assert event.changes["status"] == ["matched", "posted"]
    assert event.actor_label == "finance"


def test_posting_twice_creates_nothing_new(bank: dict[str, Any], personas: dict[str, Any]) -> None:
    job = loaded(bank["creditor"], personas["finance"])
    statement_post(job, actor=personas["finance"])
    before = Payment.objects.count()
    assert statement_post(job, actor=personas["finance"]) == {
        "posted": 0,
        "duplicate": 0,
        "refused": 0,
    }
    assert Payment.objects.count() == before == 2


def test_reimporting_the_same_file_posts_nothing_twice(
    bank: dict[str, Any], personas: dict[str, Any]
) -> None:
    finance = personas["finance"]
    first = loaded(bank["creditor"], finance)
    statement_post(first, actor=finance)
    paid = {
        line.line_no: line.payment_id
        for line in StatementLine.objects.filter(job=first, status=S.POSTED)
    }
    second = loaded(bank["creditor"], finance)
    assert (second.counts["duplicate"], second.counts["matched"]) == (2, 0)
    lines = by_line(second)
    for line_no, payment_id in paid.items():
        assert (lines[line_no].status, lines[line_no].payment_id) == (S.DUPLICATE, payment_id)
    assert lines[5].account_id == bank["zhang"].pk
    assert lines[8].status == S.AMBIGUOUS  # never posted: still a person's decision
    assert statement_post(second, actor=finance)["posted"] == 0
    assert Payment.objects.count() == 2


def test_two_imports_of_one_file_before_posting_pay_once(
    bank: dict[str, Any], personas: dict[str, Any]
) -> None:
    finance = personas["finance"]
    first, second = loaded(bank["creditor"], finance), loaded(bank["creditor"], finance)
    assert statement_post(first, actor=finance)["posted"] == 2
    assert statement_post(second, actor=finance) == {"posted": 0, "duplicate": 2, "refused": 0}
    assert Payment.objects.count() == 2
    line = by_line(second)[5]
    assert (line.status, line.payment_id) == (S.DUPLICATE, by_line(first)[5].payment_id)
    assert AuditEvent.objects.filter(action="payments.line_duplicate").count() == 2


def test_a_line_the_ledger_refuses_goes_back_to_a_person(
    bank: dict[str, Any], personas: dict[str, Any]
) -> None:
    job = loaded(bank["creditor"], personas["finance"])
    Account.objects.filter(pk=bank["li"].pk).update(status=AccountStatus.CLOSED)
    assert statement_post(job, actor=personas["finance"]) == {
        "posted": 1,
        "duplicate": 0,
        "refused": 1,
    }
    line = by_line(job)[6]
    assert (line.status, line.account_id, line.candidates) == (S.UNMATCHED, None, [bank["li"].pk])
    assert "HT-2026-002" in line.note and "closed" in line.note
    assert AuditEvent.objects.filter(
        action="payments.line_refused", object_id=str(line.pk)
    ).exists()


# --- a person's decisions ------------------------------------------------------------------


def test_a_person_picks_the_account_of_an_ambiguous_line(
    bank: dict[str, Any], personas: dict[str, Any]
) -> None:
    finance = personas["finance"]
    job = loaded(bank["creditor"], finance)
    line = by_line(job)[8]
    line_assign(line, bank["chen2"], actor=finance, note="电话确认：还第二笔")
    line.refresh_from_db()
    assert (line.status, line.account_id, line.rule, line.decided_by) == (
        S.MATCHED,
        bank["chen2"].pk,
        "manual",
        finance,
    )
    event = AuditEvent.objects.get(action="payments.line_assign", object_id=str(line.pk))
    assert event.object_type == "intake.statementline"
    assert event.changes["status"] == ["ambiguous", "matched"]
    assert event.changes["account"] == [None, bank["chen2"].pk]
    assert event.reason == "电话确认：还第二笔"
    assert statement_post(job, actor=finance)["posted"] == 3
    line.refresh_from_db()
    assert Payment.objects.get(pk=line.payment_id).account_id == bank["chen2"].pk


def test_an_unmatched_line_can_go_to_any_open_account_of_the_creditor(
    bank: dict[str, Any], personas: dict[str, Any]
) -> None:
    job = loaded(bank["creditor"], personas["manager"])
    line = line_assign(by_line(job)[9], bank["li"], actor=personas["manager"])
    assert (line.status, line.account_id) == (S.MATCHED, bank["li"].pk)


@pytest.mark.parametrize("case", ["other_creditor", "currency", "closed", "posted"])
def test_assigning_is_refused_with_a_reason(
    bank: dict[str, Any], personas: dict[str, Any], case: str
) -> None:
    finance = personas["finance"]
    job = loaded(bank["creditor"], finance)
    line, account = by_line(job)[9], bank["li"]
    if case == "other_creditor":
        account, expected = bank["elsewhere"], "Choose one of"
    elif case == "currency":
        usd = services.portfolio_create(
            creditor=bank["creditor"], code="USD", name="美元贷款", currency="USD", actor=None
        )
        account, expected = make_account(usd, contract_no="US-1"), "is in USD"
    elif case == "closed":
        Account.objects.filter(pk=account.pk).update(status=AccountStatus.CLOSED)
        account.refresh_from_db()
        expected = "closed"
    else:
        statement_post(job, actor=finance)
        line, expected = by_line(job)[5], "can no longer be changed"
    with pytest.raises(ValidationError, match=expected):
        line_assign(line, account, actor=finance)
    line.refresh_from_db()
    assert line.decided_by is None


def test_accounts_out_of_the_persons_scope_cannot_be_picked(
    bank: dict[str, Any], personas: dict[str, Any]
) -> None:
    # A collector given the right to post payments still sees only the accounts they work.
    collector = personas["collector"]
    collector.user_permissions.add(Permission.objects.get(codename="post_payment"))
    collector = type(collector).objects.get(pk=collector.pk)
    job = loaded(bank["creditor"], personas["finance"])
    with pytest.raises(ValidationError, match="Choose one of"):
        line_assign(by_line(job)[9], bank["li"], actor=collector)


def test_skipping_needs_a_note_is_audited_and_closes_the_job(
    bank: dict[str, Any], personas: dict[str, Any]
) -> None:
    finance = personas["finance"]
    job = loaded(bank["creditor"], finance)
    line = by_line(job)[9]
    with pytest.raises(ValidationError, match="Say why"):
        line_skip(line, actor=finance, note="  ")
    line_skip(line, actor=finance, note="货款，非催收回款")
    line.refresh_from_db()
    assert (line.status, line.note, line.decided_by) == (S.SKIPPED, "货款，非催收回款", finance)
    event = AuditEvent.objects.get(action="payments.line_skip", object_id=str(line.pk))
    assert event.changes["status"] == ["unmatched", "skipped"]
    with pytest.raises(ValidationError, match="no longer be changed"):
        line_skip(line, actor=finance, note="again")
    # The job stays in review while a line waits; the last decision closes it.
    line_skip(by_line(job)[8], actor=finance, note="退回付款人")
    job.refresh_from_db()
    assert job.status == ImportJob.Status.REVIEW
    jobs.payments_post_matched(job, actor=finance)
    job.refresh_from_db()
    assert job.status == ImportJob.Status.DONE


@pytest.mark.parametrize("persona", ["collector", "team_lead", "auditor", "agency", "outsider"])
def test_only_finance_and_managers_post_or_decide(
    bank: dict[str, Any], personas: dict[str, Any], persona: str
) -> None:
    job = loaded(bank["creditor"], personas["finance"])
    user = personas[persona]
    with pytest.raises(PermissionDenied):
        statement_post(job, actor=user)
    with pytest.raises(PermissionDenied):
        line_assign(by_line(job)[8], bank["chen1"], actor=user)
    with pytest.raises(PermissionDenied):
        line_skip(by_line(job)[9], actor=user, note="x")
    assert not Payment.objects.exists()


# --- the review screen ---------------------------------------------------------------------


@pytest.fixture
def client() -> Client:
    # Pages in English, whatever the default language: the assertions read English words.
    return Client(HTTP_ACCEPT_LANGUAGE="en")


def review_url(job: ImportJob, **params: Any) -> str:
    url = reverse("web:payments_review", kwargs={"job_id": job.pk})
    return url + ("?" + "&".join(f"{k}={v}" for k, v in params.items()) if params else "")


@pytest.mark.parametrize(
    ("persona", "status"),
    [
        ("finance", 200),
        ("manager", 200),
        ("collector", 403),
        ("team_lead", 403),
        ("auditor", 403),
        ("agency", 403),
        ("outsider", 403),
    ],
)
def test_review_page_by_persona(
    client: Client, bank: dict[str, Any], personas: dict[str, Any], persona: str, status: int
) -> None:
    job = loaded(bank["creditor"], personas["finance"])
    client.force_login(personas[persona])
    assert client.get(review_url(job)).status_code == status


def test_review_page_needs_a_login(
    client: Client, bank: dict[str, Any], personas: dict[str, Any]
) -> None:
    job = loaded(bank["creditor"], personas["finance"])
    response = client.get(review_url(job))
    assert response.status_code == 302 and response["Location"].startswith(reverse("web:login"))


def test_review_of_a_ledger_job_is_404(
    client: Client, bank: dict[str, Any], personas: dict[str, Any]
) -> None:
    job = loaded(bank["creditor"], personas["finance"])
    ImportJob.objects.filter(pk=job.pk).update(kind=ImportJob.Kind.LEDGER)
    client.force_login(personas["manager"])
    assert client.get(review_url(job)).status_code == 404


def test_review_page_shows_groups_candidates_and_the_post_button(
    client: Client, bank: dict[str, Any], personas: dict[str, Any]
) -> None:
    job = loaded(bank["creditor"], personas["finance"])
    client.force_login(personas["finance"])
    page = client.get(review_url(job)).content.decode()
    # The ambiguous group first, with 陈七's two loans to choose from.
    assert 'data-status="ambiguous" data-count="1" aria-current="page"' in page
    assert 'data-status="matched" data-count="2"' in page
    assert "HT-2026-007" in page and "HT-2026-008" in page
    assert "¥2,100.00" in page and "¥3,150.00" in page  # the line, the candidates' overdue
    assert "Post the 2 matched lines" in page
    assert "1 row of the file could not be read" in page
    assert reverse("web:import_report", args=[job.pk]) in page
    matched = client.get(review_url(job, status="matched")).content.decode()
    assert "Contract number in the text" in matched and "Payer name and amount" in matched


def test_picking_an_account_on_the_page(
    client: Client, bank: dict[str, Any], personas: dict[str, Any]
) -> None:
    job = loaded(bank["creditor"], personas["finance"])
    line = by_line(job)[8]
    client.force_login(personas["finance"])
    url = reverse("web:payments_assign", kwargs={"job_id": job.pk, "line_id": line.pk})
    response = client.post(url, {"account": bank["chen1"].pk, "status": "ambiguous"})
    assert response.status_code == 302
    assert response["Location"].endswith(f"?status=ambiguous#line-{line.pk}")
    line.refresh_from_db()
    assert (line.status, line.account_id) == (S.MATCHED, bank["chen1"].pk)
    page = client.get(response["Location"]).content.decode()
    assert "Line 8 goes to HT-2026-007." in page


def test_picking_an_account_with_htmx_answers_the_line_and_the_counts(
    client: Client, bank: dict[str, Any], personas: dict[str, Any]
) -> None:
    job = loaded(bank["creditor"], personas["finance"])
    line = by_line(job)[8]
    client.force_login(personas["finance"])
    url = reverse("web:payments_assign", kwargs={"job_id": job.pk, "line_id": line.pk})
    response = client.post(
        url, {"account": bank["chen2"].pk, "status": "ambiguous"}, HTTP_HX_REQUEST="true"
    )
    body = response.content.decode()
    assert response.status_code == 200
    assert body.lstrip().startswith(f'<tbody id="line-{line.pk}"')
    assert 'id="payments-counts" class="filters" hx-swap-oob="true"' in body
    assert "Post the 3 matched lines" in body
    # A refusal comes back the same way, with the reason on the line.
    refused = client.post(url, {"account": bank["elsewhere"].pk}, HTTP_HX_REQUEST="true")
    assert refused.status_code == 200
    assert "Choose one of" in refused.content.decode()


def test_searching_accounts_for_an_unmatched_line(
    client: Client, bank: dict[str, Any], personas: dict[str, Any]
) -> None:
    job = loaded(bank["creditor"], personas["finance"])
    line = by_line(job)[9]
    client.force_login(personas["finance"])
    url = reverse("web:payments_search", kwargs={"job_id": job.pk, "line_id": line.pk})
    found = client.get(url, {"q": "陈七"}, HTTP_HX_REQUEST="true").content.decode()
    assert "HT-2026-007" in found and "HT-2026-008" in found and "HT-2026-001" not in found
    # Another creditor's account is never offered, even by its exact contract number.
    elsewhere = client.get(url, {"q": "HT-2026-009"}, HTTP_HX_REQUEST="true").content.decode()
    assert f'data-account="{bank["elsewhere"].pk}"' not in elsewhere
    assert "No open account of this creditor has “HT-2026-009”" in elsewhere
    by_contract = client.get(url, {"q": "2026-002"}, HTTP_HX_REQUEST="true").content.decode()
    assert "HT-2026-002" in by_contract and "李四" in by_contract
    # Without JavaScript the page itself shows the results next to the line.
    response = client.get(url, {"q": "李四", "status": "unmatched"})
    assert response.status_code == 302
    page = client.get(response["Location"]).content.decode()
    assert f'data-account="{bank["li"].pk}"' in page


def test_skipping_on_the_page(
    client: Client, bank: dict[str, Any], personas: dict[str, Any]
) -> None:
    job = loaded(bank["creditor"], personas["finance"])
    line = by_line(job)[9]
    client.force_login(personas["finance"])
    url = reverse("web:payments_skip", kwargs={"job_id": job.pk, "line_id": line.pk})
    page = client.get(client.post(url, {"note": ""})["Location"]).content.decode()
    assert "Say why the line is skipped." in page
    line.refresh_from_db()
    assert line.status == S.UNMATCHED
    client.post(url, {"note": "货款"})
    line.refresh_from_db()
    assert (line.status, line.note) == (S.SKIPPED, "货款")


def test_posting_on_the_page_links_the_payments(
    client: Client, bank: dict[str, Any], personas: dict[str, Any]
) -> None:
    job = loaded(bank["creditor"], personas["finance"])
    client.force_login(personas["finance"])
    response = client.post(reverse("web:payments_post", kwargs={"job_id": job.pk}))
    assert response.status_code == 302
    page = client.get(response["Location"]).content.decode()
    assert "2 payments posted." in page
    line = by_line(job)[5]
    assert f"{reverse('web:account', args=[bank['zhang'].pk])}#payment-{line.payment_id}" in page
    job.refresh_from_db()
    assert job.counts["posted"] == 2
    # Posting again finds nothing left to post.
    again = client.post(reverse("web:payments_post", kwargs={"job_id": job.pk}))
    assert "0 payments posted." in client.get(again["Location"]).content.decode()
    assert Payment.objects.count() == 2


def test_a_collector_cannot_post_or_decide_on_the_page(
    client: Client, bank: dict[str, Any], personas: dict[str, Any]
) -> None:
    job = loaded(bank["creditor"], personas["finance"])
    line = by_line(job)[8]
    client.force_login(personas["collector"])
    kwargs = {"job_id": job.pk, "line_id": line.pk}
    assert client.post(reverse("web:payments_post", kwargs={"job_id": job.pk})).status_code == 403
    assert (
        client.post(
            reverse("web:payments_assign", kwargs=kwargs), {"account": bank["chen1"].pk}
        ).status_code
        == 403
    )
    assert (
        client.post(reverse("web:payments_skip", kwargs=kwargs), {"note": "x"}).status_code == 403
    )
    assert not Payment.objects.exists()
    line.refresh_from_db()
    assert line.status == S.AMBIGUOUS


def test_the_job_page_sends_a_job_in_review_here(
    client: Client, bank: dict[str, Any], personas: dict[str, Any]
) -> None:
    job = loaded(bank["creditor"], personas["finance"])
    client.force_login(personas["finance"])
    response = client.get(reverse("web:import_detail", args=[job.pk]))
    assert response.status_code == 302 and response["Location"] == review_url(job)


# --- the API -------------------------------------------------------------------------------


def as_(user: Any) -> Client:
    _token, raw = token_create(user=user, name="test", actor=None)
    return Client(HTTP_AUTHORIZATION=f"Bearer {raw}", HTTP_ACCEPT_LANGUAGE="en")


def api(job: ImportJob, path: str = "") -> str:
    return f"/api/v1/imports/{job.pk}{path}"


def test_api_lists_lines_by_status_a_page_at_a_time(
    bank: dict[str, Any], personas: dict[str, Any]
) -> None:
    job = loaded(bank["creditor"], personas["finance"])
    client = as_(personas["finance"])
    first = client.get(api(job, "/lines"), {"limit": 4}).json()
    assert [row["line_no"] for row in first["items"]] == [5, 6, 7, 8]
    rest = client.get(api(job, "/lines"), {"limit": 4, "cursor": first["next_cursor"]}).json()
    assert [row["line_no"] for row in rest["items"]] == [9, 11] and rest["next_cursor"] is None
    [ambiguous] = client.get(api(job, "/lines"), {"status": "ambiguous"}).json()["items"]
    assert ambiguous["amount"] == "2100.00"
    assert ambiguous["candidates"] == sorted([bank["chen1"].pk, bank["chen2"].pk])
    assert (ambiguous["payer_name"], ambiguous["rule"], ambiguous["account"]) == (
        "陈 七",
        "name_and_amount",
        None,
    )
    [matched, _other] = client.get(api(job, "/lines"), {"status": "matched"}).json()["items"]
    assert (matched["contract_no"], matched["status_label"]) == ("HT-2026-001", "Matched")
    bad = client.get(api(job, "/lines"), {"status": "paid"})
    assert bad.status_code == 422 and bad.json()["code"] == "validation_error"
    assert "status" in bad.json()["fields"]


def test_api_decisions_and_posting(bank: dict[str, Any], personas: dict[str, Any]) -> None:
    job = loaded(bank["creditor"], personas["finance"])
    lines = by_line(job)
    client = as_(personas["manager"])
    assigned = client.post(
        api(job, f"/lines/{lines[8].pk}/assign"),
        {"account": bank["chen1"].pk, "note": "客户来电确认"},
        content_type="application/json",
    )
    assert assigned.status_code == 200, assigned.content
    assert (assigned.json()["status"], assigned.json()["rule"], assigned.json()["decided_by"]) == (
        "matched",
        "manual",
        "manager",
    )
    skipped = client.post(
        api(job, f"/lines/{lines[9].pk}/skip"), {"note": "货款"}, content_type="application/json"
    )
    assert skipped.json()["status"] == "skipped"
    posted = client.post(api(job, "/post"))
    assert posted.status_code == 200, posted.content
    assert posted.json() | {"counts": None} == {
        "posted": 3,
        "duplicate": 0,
        "refused": 0,
        "job_status": "done",
        "counts": None,
    }
    assert posted.json()["counts"]["posted"] == 3
    detail = client.get(api(job, f"/lines/{lines[5].pk}")).json()
    assert detail["payment"] == Payment.objects.get(idempotency_key=lines[5].idempotency_key).pk
    # The job is done: posting again is refused with a reason, and nothing is posted twice.
    again = client.post(api(job, "/post"))
    assert again.status_code == 422 and "cannot be done now" in again.json()["message"]
    assert Payment.objects.count() == 3


def test_api_refusals_use_the_error_body(bank: dict[str, Any], personas: dict[str, Any]) -> None:
    job = loaded(bank["creditor"], personas["finance"])
    lines = by_line(job)
    client = as_(personas["finance"])
    unknown = client.post(
        api(job, f"/lines/{lines[8].pk}/assign"),
        {"account": 999_999},
        content_type="application/json",
    )
    assert unknown.status_code == 422 and "account" in unknown.json()["fields"]
    elsewhere = client.post(
        api(job, f"/lines/{lines[8].pk}/assign"),
        {"account": bank["elsewhere"].pk},
        content_type="application/json",
    )
    assert elsewhere.status_code == 422 and "Choose one of" in elsewhere.json()["message"]
    no_note = client.post(
        api(job, f"/lines/{lines[9].pk}/skip"), {"note": ""}, content_type="application/json"
    )
    assert no_note.status_code == 422 and no_note.json()["fields"] == {
        "note": ["Say why the line is skipped."]
    }
    assert client.get(api(job, "/lines/999999")).status_code == 404


@pytest.mark.parametrize("persona", ["collector", "team_lead", "auditor", "outsider"])
def test_api_is_for_finance_and_managers(
    bank: dict[str, Any], personas: dict[str, Any], persona: str
) -> None:
    job = loaded(bank["creditor"], personas["finance"])
    line = by_line(job)[8]
    client = as_(personas[persona])
    assert client.get(api(job, "/lines")).status_code == 403
    assert client.get(api(job, f"/lines/{line.pk}")).status_code == 403
    body = {"account": bank["chen1"].pk}
    assert (
        client.post(
            api(job, f"/lines/{line.pk}/assign"), body, content_type="application/json"
        ).status_code
        == 403
    )
    assert (
        client.post(
            api(job, f"/lines/{line.pk}/skip"), {"note": "x"}, content_type="application/json"
        ).status_code
        == 403
    )
    response = client.post(api(job, "/post"))
    assert response.status_code == 403 and response.json()["code"] == "permission_denied"
    assert not Payment.objects.exists()


def test_api_of_a_ledger_job_is_404(bank: dict[str, Any], personas: dict[str, Any]) -> None:
    job = loaded(bank["creditor"], personas["finance"])
    ImportJob.objects.filter(pk=job.pk).update(kind=ImportJob.Kind.LEDGER)
    assert as_(personas["manager"]).get(api(job, "/lines")).status_code == 404


def test_a_job_still_running_is_shown_on_its_own_page(
    client: Client, bank: dict[str, Any], personas: dict[str, Any]
) -> None:
    job = new_job(bank["creditor"], personas["finance"])
    client.force_login(personas["finance"])
    response = client.get(review_url(job))
    assert response.status_code == 302
    assert response["Location"] == reverse("web:import_detail", args=[job.pk])


def test_an_export_without_lines_loads_nothing(
    bank: dict[str, Any], personas: dict[str, Any], tmp_path: Path
) -> None:
    job = new_job(bank["creditor"], personas["finance"])
    counts = statement_load(job, icbc(tmp_path))
    assert counts == dict.fromkeys(
        ("lines", "matched", "ambiguous", "unmatched", "ignored", "duplicate", "errors"), 0
    )


def test_api_endpoints_are_in_the_openapi_schema(client: Client) -> None:
    paths = client.get("/api/v1/openapi.json").json()["paths"]
    for path in ("/lines", "/lines/{line_id}", "/lines/{line_id}/assign", "/lines/{line_id}/skip"):
        assert "/api/v1/imports/{job_id}" + path in paths
    assert "post" in paths["/api/v1/imports/{job_id}/post"]


def test_the_command_line_imports_and_posts_a_statement(bank: dict[str, Any], capsys: Any) -> None:
    from django.core.management import call_command

    call_command("import", "payments", str(ICBC), creditor=bank["creditor"].code, post=True)
    out = capsys.readouterr().out
    job = ImportJob.objects.get()
    assert job.created_by is None
    # Two lines matched and posted; the ambiguous and the unmatched one wait for a person.
    assert job.status == ImportJob.Status.REVIEW
    assert job.counts["posted"] == 2
    assert StatementLine.objects.filter(job=job, status=S.POSTED).count() == 2
    assert f"#{job.pk}" in out and "posted: 2" in out
