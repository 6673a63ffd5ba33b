"""The ledger import engine end to end on small files: modes, idempotence, the error report,
chunks, conflicts, progress (SQLite, and PostgreSQL when DATABASE_URL points at one)."""

from __future__ import annotations

import csv
import io
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from huikuan.audit.models import AuditEvent
from huikuan.intake.errors import IntakeError
from huikuan.intake.ledger_import import ledger_import
from huikuan.ledger.models import Account, Contact, Debtor, Portfolio, ReceivableItem
from huikuan.ledger.tests.factories import make_portfolio, make_user

from .ledger_files import HEADERS, RID2, USCC, row, write_csv, write_xlsx

pytestmark = pytest.mark.django_db
D = Decimal


@pytest.fixture
def portfolio() -> Portfolio:
    return make_portfolio()


@pytest.fixture
def actor() -> Any:
    return make_user(None, username="importer")


def _schedule(contract: str = "HT-001", *, count: int = 3, **cells: str) -> list[list[str]]:
    """``count`` monthly installments of one loan."""
    return [
        row(合同编号=contract, 期数=str(n), 到期日=f"2025/{n}/15", **cells)
        for n in range(1, count + 1)
    ]


def _ledger(tmp_path: Path, name: str = "ledger.csv") -> list[list[str]]:
    """Three loans of two debtors, one of them a company."""
    rows = _schedule("HT-001") + _schedule("HT-002", count=2, 证件号码=RID2, 客户名称="李四")
    rows += _schedule("HT-003", count=4, 证件号码=USCC, 客户名称="华信贸易有限公司", 手机号码="")
    return rows


def _run(path: Path, portfolio: Portfolio, actor: Any = None, **kw: Any) -> Any:
    kw.setdefault("report_path", path.with_name(path.stem + "-errors.csv"))
    return ledger_import(
        path,
        creditor=portfolio.creditor,
        portfolio=portfolio,
        actor=actor,
        language="en",
        source="test",
        **kw,
    )


def _snapshot() -> dict[str, list[tuple[Any, ...]]]:
    return {
        model.__name__: list(model.objects.order_by("pk").values_list())
        for model in (Debtor, Contact, Account, ReceivableItem)
    }


def _report(path: Path) -> list[list[str]]:
    raw = path.read_bytes()
    assert raw.startswith(b"\xef\xbb\xbf")  # Excel takes the BOM for UTF-8
    assert b"\r\n" in raw
    return list(csv.reader(io.StringIO(raw[3:].decode("utf-8"), newline="")))


BAD = row(合同编号="HT-BAD", 期数="1", 到期日="2025-02-30")  # no such date


# --- modes ----------------------------------------------------------------------------------


def test_a_clean_file_is_imported_and_has_no_report(tmp_path, portfolio, actor):
    path = write_csv(tmp_path / "ledger.csv", _ledger(tmp_path))
    result = _run(path, portfolio, actor)
    assert (result.rows_read, result.rows_valid, result.rows_rejected) == (9, 9, 0)
    assert (result.error_count, result.written, result.report_path) == (0, True, None)
    assert result.counts["accounts_created"] == 3
    assert result.counts["items_created"] == 9
    assert result.counts["debtors_created"] == 3
    assert not path.with_name("ledger-errors.csv").exists()
    account = Account.objects.get(contract_no="HT-001")
    assert account.portfolio == portfolio
    assert account.items.get(number="2").interest_due == D("50.50")
    event = AuditEvent.objects.get(action="import.ledger")
    assert (event.actor, event.changes["source"]) == (actor, [None, "test"])


def test_all_or_nothing_with_one_bad_row_writes_nothing_and_reports_it(tmp_path, portfolio):
    rows = _ledger(tmp_path)
    rows.insert(4, BAD)  # file row 7: title, header, then the data
    path = write_csv(tmp_path / "ledger.csv", rows)
    events = AuditEvent.objects.count()

    result = _run(path, portfolio)

    assert (result.rows_read, result.rows_valid, result.rows_rejected) == (10, 9, 1)
    assert (result.error_count, result.written) == (1, False)
    assert set(result.counts.values()) == {0}
    assert _snapshot() == {"Debtor": [], "Contact": [], "Account": [], "ReceivableItem": []}
    assert AuditEvent.objects.count() == events
    report = _report(result.report_path)
    assert [line[0] for line in report] == ["Row", "7"]
    assert "2025-02-30" in report[1][-1]


def test_valid_only_writes_the_rest(tmp_path, portfolio):
    rows = _ledger(tmp_path)
    rows.insert(4, BAD)
    path = write_csv(tmp_path / "ledger.csv", rows)
    result = _run(path, portfolio, mode="valid_only")
    assert (result.rows_valid, result.rows_rejected, result.written) == (9, 1, True)
    assert result.counts["items_created"] == 9
    assert sorted(Account.objects.values_list("contract_no", flat=True)) == [
        "HT-001",
        "HT-002",
        "HT-003",
    ]
    assert result.report_path is not None


def test_a_dry_run_writes_nothing(tmp_path, portfolio):
    rows = _ledger(tmp_path)
    rows.append(BAD)
    path = write_csv(tmp_path / "ledger.csv", rows)
    result = _run(path, portfolio, mode="valid_only", dry_run=True)
    assert (result.rows_valid, result.rows_rejected, result.written) == (9, 1, False)
    assert result.counts["items_created"] == 0
    assert _snapshot()["Account"] == []
    assert _report(result.report_path)[1][0] == "12"


def test_a_missing_column_is_reported_on_the_header_row(tmp_path, portfolio):
    headers = [h for h in HEADERS if h != "合同编号"]
    rows = [
        [c for h, c in zip(HEADERS, r, strict=True) if h != "合同编号"] for r in _ledger(tmp_path)
    ]
    path = write_xlsx(tmp_path / "ledger.xlsx", rows, headers=headers)
    result = _run(path, portfolio, mode="valid_only")
    assert (result.rows_read, result.rows_valid, result.rows_rejected) == (9, 0, 9)
    assert (result.error_count, result.written) == (1, False)
    assert _snapshot()["Account"] == []
    report = _report(result.report_path)
    assert report[0] == ["Row", *headers, "Errors"]
    assert report[1][:3] == ["2", *headers[:2]]  # the header row itself, with its cells
    assert "no column is the contract number" in report[1][-1]


def test_a_file_that_is_not_a_spreadsheet_raises(tmp_path, portfolio):
    path = tmp_path / "ledger.csv"
    path.write_bytes(b"\x00\x01\x02binary\x00" * 50)
    with pytest.raises(IntakeError):
        _run(path, portfolio)


# --- idempotence ----------------------------------------------------------------------------


def test_a_second_import_of_the_same_file_writes_nothing(tmp_path, portfolio, actor):
    path = write_csv(tmp_path / "ledger.csv", _ledger(tmp_path))
    _run(path, portfolio, actor)
    before, events = _snapshot(), AuditEvent.objects.count()

    again = _run(path, portfolio, actor)

    assert again.written  # committed, and nothing in it changed the ledger
    assert {k: v for k, v in again.counts.items() if k != "rows"} == dict.fromkeys(
        [k for k in again.counts if k != "rows"], 0
    )
    assert _snapshot() == before
    assert AuditEvent.objects.count() == events


def test_a_changed_amount_updates_exactly_that_item_and_audits_it(tmp_path, portfolio, actor):
    rows = _ledger(tmp_path)
    _run(write_csv(tmp_path / "ledger.csv", rows), portfolio, actor)
    before = _snapshot()
    rows[1][HEADERS.index("应还本金")] = "1,200.00"  # HT-001, installment 2

    result = _run(write_csv(tmp_path / "ledger.csv", rows), portfolio, actor)

    assert result.counts["items_updated"] == 1
    assert sum(result.counts[k] for k in result.counts if k.endswith("_created")) == 0
    item = ReceivableItem.objects.get(account__contract_no="HT-001", number="2")
    assert item.principal_due == D("1200.00")
    after = _snapshot()
    changed = [r for r in after["ReceivableItem"] if r not in before["ReceivableItem"]]
    assert [r[0] for r in changed] == [item.pk]
    event = AuditEvent.objects.get(action="item.update")
    assert (event.object_id, event.actor, event.changes) == (
        str(item.pk),
        actor,
        {"principal_due": ["1000.00", "1200.00"]},
    )


# --- the report -----------------------------------------------------------------------------


def test_the_report_has_the_original_cells_the_messages_and_the_row_numbers(tmp_path, portfolio):
    rows = _ledger(tmp_path)
    two_errors = row(合同编号="HT-9", 期数="1", 手机号码="12345", 应还本金="abc")
    rows[2:2] = [two_errors, BAD]  # file rows 5 and 6
    path = write_csv(tmp_path / "ledger.csv", rows, encoding="gbk")
    result = _run(path, portfolio, mode="valid_only")
    report = _report(result.report_path)
    assert report[0] == ["Row", *HEADERS, "Errors"]
    assert [line[0] for line in report[1:]] == ["5", "6"]
    assert report[1][1:-1] == two_errors  # every cell as the file has it
    assert report[2][1:-1] == BAD
    messages = report[1][-1].split("；")
    assert len(messages) == 2
    assert messages[0].startswith("Row 5:") and "abc" in messages[0]
    assert "12345" in messages[1]
    assert result.error_count == 3


def test_the_report_is_in_the_language_asked_for(tmp_path, portfolio):
    rows = [*_ledger(tmp_path), BAD]
    path = write_csv(tmp_path / "ledger.csv", rows)
    result = ledger_import(
        path,
        creditor=portfolio.creditor,
        portfolio=portfolio,
        actor=None,
        language="zh-hans",
        report_path=tmp_path / "report.csv",
        chunk_rows=4,  # validated in the prefetch thread: the language must follow it there
    )
    message = _report(result.report_path)[1][-1]
    assert "2025-02-30" in message
    assert "Row" not in message


def test_a_clean_run_removes_an_earlier_report(tmp_path, portfolio):
    report = tmp_path / "ledger-errors.csv"
    report.write_text("old")
    result = _run(write_csv(tmp_path / "ledger.csv", _ledger(tmp_path)), portfolio)
    assert result.report_path is None
    assert not report.exists()


# --- chunks ---------------------------------------------------------------------------------


def _ledger_values() -> list[tuple[Any, ...]]:
    """The ledger without ids, creditors and timestamps, to compare two imports."""
    items = ReceivableItem.objects.values_list(
        "account__contract_no",
        "account__debtor__id_number",
        "account__debtor__name",
        "account__principal",
        "account__open_date",
        "account__outstanding",
        "account__status",
        "number",
        "due_date",
        "principal_due",
        "interest_due",
        "fee_due",
        "principal_paid",
        "interest_paid",
        "fee_paid",
    )
    contacts = Contact.objects.values_list("debtor__id_number", "relation", "name", "phone")
    return sorted(items) + sorted(contacts)


def test_small_chunks_give_the_ledger_one_chunk_gives(tmp_path):
    rows = _ledger(tmp_path)
    rows.insert(3, BAD)
    path = write_csv(tmp_path / "ledger.csv", rows)
    one = make_portfolio()
    whole = _run(path, one, mode="valid_only")
    expected = _ledger_values()
    Contact.objects.all().delete()
    ReceivableItem.objects.all().delete()
    Account.objects.all().delete()
    Debtor.objects.all().delete()

    chunked = _run(path, make_portfolio(), mode="valid_only", chunk_rows=2)

    assert _ledger_values() == expected
    assert chunked.counts == whole.counts
    assert (chunked.rows_read, chunked.rows_rejected) == (whole.rows_read, whole.rows_rejected)
    assert _report(chunked.report_path) == _report(whole.report_path)


def test_an_xlsx_file_is_imported_like_its_csv(tmp_path, portfolio):
    cells = [[c or None for c in r] for r in _ledger(tmp_path)]
    result = _run(write_xlsx(tmp_path / "ledger.xlsx", cells), portfolio, chunk_rows=4)
    assert (result.rows_read, result.rows_rejected, result.written) == (9, 0, True)
    assert result.counts["items_created"] == 9


# --- conflicts ------------------------------------------------------------------------------


def _in_other_portfolio(tmp_path: Path, portfolio: Portfolio) -> None:
    """HT-002 already belongs to another portfolio of the same creditor."""
    other = Portfolio.objects.create(creditor=portfolio.creditor, code="OTHER", name="另一个")
    path = write_csv(tmp_path / "first.csv", _schedule("HT-002", count=2, 证件号码=RID2))
    assert _run(path, other).written


def test_a_conflict_in_all_or_nothing_rolls_everything_back(tmp_path, portfolio):
    _in_other_portfolio(tmp_path, portfolio)
    before, events = _snapshot(), AuditEvent.objects.count()
    path = write_csv(tmp_path / "ledger.csv", _ledger(tmp_path))

    result = _run(path, portfolio, chunk_rows=4)

    assert (result.written, result.rows_rejected, result.rows_valid) == (False, 2, 7)
    assert result.counts["conflicts"] == 2
    assert result.counts["accounts_created"] == 0
    assert _snapshot() == before
    assert AuditEvent.objects.count() == events
    report = _report(result.report_path)
    assert [line[0] for line in report[1:]] == ["6", "7"]  # HT-002's rows, read again
    assert report[1][1:-1] == _ledger(tmp_path)[3]
    assert "OTHER" in report[1][-1]


def test_in_valid_only_a_conflict_is_reported_and_the_rest_imported(tmp_path, portfolio):
    _in_other_portfolio(tmp_path, portfolio)
    rows = _ledger(tmp_path)
    rows.insert(0, BAD)
    path = write_csv(tmp_path / "ledger.csv", rows)
    result = _run(path, portfolio, mode="valid_only", chunk_rows=3)
    assert (result.written, result.rows_rejected, result.error_count) == (True, 3, 3)
    assert result.counts["accounts_created"] == 2
    report = _report(result.report_path)
    assert [line[0] for line in report[1:]] == ["3", "7", "8"]  # validation and conflicts merged
    assert Account.objects.get(contract_no="HT-002").portfolio.code == "OTHER"


# --- progress -------------------------------------------------------------------------------


def test_progress_is_reported_with_increasing_numbers(tmp_path, portfolio):
    rows = [r for n in range(6) for r in _schedule(f"HT-{n}", count=4)]
    path = write_csv(tmp_path / "ledger.csv", rows)
    calls: list[tuple[str, int, int]] = []
    _run(path, portfolio, chunk_rows=5, progress=lambda *call: calls.append(call))
    validate = [(done, total) for phase, done, total in calls if phase == "validate"]
    imported = [(done, total) for phase, done, total in calls if phase == "import"]
    assert [done for done, _total in validate] == sorted(done for done, _total in validate)
    assert validate[-1] == (25, 25)  # the rows read, totals row included
    assert all(0 < done <= total for done, total in validate)
    assert len(validate) >= 5
    assert [done for done, _total in imported] == sorted(done for done, _total in imported)
    assert imported[-1][0] == imported[-1][1] > 1
    assert calls.index(("validate", 25, 25)) < calls.index(("import", *imported[0]))


def test_an_unknown_mode_is_refused(tmp_path, portfolio):
    path = write_csv(tmp_path / "ledger.csv", _ledger(tmp_path))
    with pytest.raises(ValueError, match="mode"):
        _run(path, portfolio, mode="some")


def test_a_given_mapping_replaces_the_guess(tmp_path, portfolio):
    rows = _ledger(tmp_path)
    path = write_csv(tmp_path / "ledger.csv", rows)
    guessed = _run(path, portfolio, dry_run=True)
    assert guessed.rows_rejected == 0
    # 联系地址 read as the email: every address is then a bad email address.
    mapping = {
        i: f for i, f in enumerate(
            ["", "debtor_name", "id_number", "contract_no", "product", "currency", "item_no",
             "due_date", "principal_due", "interest_due", "fee_due", "paid_amount", "phone",
             "email"]
        ) if f
    }  # fmt: skip
    mapped = _run(path, portfolio, dry_run=True, mapping=mapping)
    assert mapped.rows_rejected == 9
