"""Bank statement exports (CSV in GBK, XLSX with a title row) and camt.053 read into one frame."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

import openpyxl
import polars as pl
import pytest

from huikuan.intake.camt import lines_frame, parse_camt053
from huikuan.intake.checks import ERROR_SCHEMA
from huikuan.intake.errors import IntakeError
from huikuan.intake.matching import LINE_COLUMNS, match_lines
from huikuan.intake.statements import (
    STATEMENT_SCHEMA,
    StatementFile,
    is_xml,
    read_bank_file,
    read_export,
    stored_text,
)

FIXTURES = Path(__file__).parent / "fixtures"
ICBC = FIXTURES / "statement_icbc_gbk.csv"
CAMT = FIXTURES / "camt053_boc_v02.xml"
ICBC_HEADER = "交易日期,交易流水号,摘要,借方发生额,贷方发生额,余额,对方户名,对方账号,附言"


def csv_file(tmp_path: Path, text: str, *, encoding: str = "gbk", name: str = "s.csv") -> Path:
    path = tmp_path / name
    path.write_bytes(text.replace("\n", "\r\n").encode(encoding))
    return path


def icbc(tmp_path: Path, *rows: str) -> Path:
    """An ICBC-like export: title rows, the header on row 4, data from row 5."""
    title = "中国工商银行 账户历史明细查询\n账号：410023456789001\n起始日期：2026-11-01\n"
    return csv_file(tmp_path, title + ICBC_HEADER + "\n" + "\n".join(rows) + "\n")


def lines_of(result: StatementFile) -> list[dict[str, Any]]:
    return result.lines.to_dicts()


def errors_of(result: StatementFile) -> list[tuple[int, str, str]]:
    return [(r["row"], r["field"], r["code"]) for r in result.errors.to_dicts()]


# --- a Chinese bank's export in GBK -------------------------------------------------------


def test_icbc_export_in_gbk() -> None:
    result = read_bank_file(ICBC, scope="7")
    assert result.kind == "csv"
    assert result.lines.schema == pl.Schema(STATEMENT_SCHEMA)
    got = [
        (
            r["line_no"],
            r["booking_date"],
            r["amount_fen"],
            r["direction"],
            r["reversal"],
            r["is_payment"],
            r["payer_name"],
        )
        for r in lines_of(result)
    ]
    day = dt.date
    assert got == [
        (5, day(2026, 11, 2), 500_000, "CRDT", False, True, "张三"),  # "5,000.00", debit 0.00
        (6, day(2026, 11, 2), 315_000, "CRDT", False, True, "李四"),  # debit "-"
        (7, day(2026, 11, 3), 2_500, "DBIT", False, False, None),  # the bank's fee
        (8, day(2026, 11, 4), 210_000, "CRDT", False, True, "陈 七"),
        (9, day(2026, 11, 5), 99_900, "CRDT", False, True, "周八"),
        (11, day(2026, 11, 6), 50_000, "CRDT", True, False, "张三"),  # a negative credit: 冲正
    ]
    first = lines_of(result)[0]
    assert first["remittance_text"] == "跨行转入"
    assert first["reference"] == "还款 合同号HT-2026-001"
    assert first["bank_reference"] == "ICBC2026110200017"
    assert first["payer_account"] == "6217001234567890123"
    assert first["currency"] == "CNY"
    assert first["idempotency_key"] == "stmt:7:ICBC2026110200017"
    assert result.lines["line_id"].to_list() == list(range(6))
    # Row 10's amount cannot be read; the totals row (合计) and the footer (以下空白) are layout.
    assert result.errors.to_dicts() == [
        {
            "row": 10,
            "field": "贷方发生额",
            "code": "amount_invalid",
            "message": "Row 10: “1,2x0.00” in “贷方发生额” is not an amount.",
        }
    ]
    assert result.rows_read == 7


def test_export_lines_feed_matching_like_camt_lines() -> None:
    export, camt = read_bank_file(ICBC), read_bank_file(CAMT)
    assert export.lines.schema == camt.lines.schema == pl.Schema(STATEMENT_SCHEMA)
    # Every column camt.lines_frame has, with its type: one path after reading.
    camt_frame = lines_frame(parse_camt053(CAMT).lines)
    assert {k: STATEMENT_SCHEMA[k] for k in camt_frame.columns} == dict(camt_frame.schema)
    accounts = pl.DataFrame(
        {
            "account_id": [1],
            "contract_no": ["HT-2026-001"],
            "debtor_name": ["张三"],
            "currency": ["CNY"],
            "outstanding_fen": [315_000],
            "overdue_fen": [315_000],
            "open_promise_fen": [None],
        },
        schema_overrides={"open_promise_fen": pl.Int64},
    )
    result = match_lines(export.lines, accounts)
    assert result["status"].to_list() == [
        "matched",
        "unmatched",
        "ignored",
        "unmatched",
        "unmatched",
        "ignored",
    ]
    assert set(LINE_COLUMNS) <= set(export.lines.columns)


def test_same_file_same_keys_and_scope_separates_ledgers() -> None:
    once, again = read_bank_file(ICBC, scope="7"), read_bank_file(ICBC, scope="7")
    assert once.lines["idempotency_key"].to_list() == again.lines["idempotency_key"].to_list()
    other = read_bank_file(ICBC, scope="8")
    assert set(other.lines["idempotency_key"]).isdisjoint(once.lines["idempotency_key"])


def test_repeated_bank_reference_is_an_error_of_the_later_row(tmp_path: Path) -> None:
    path = icbc(
        tmp_path,
        "2026-11-02,R1,转账,,100.00,,张三,,",
        "2026-11-02,R2,转账,,200.00,,李四,,",
        "2026-11-03,R1,转账,,100.00,,张三,,",
    )
    result = read_bank_file(path)
    assert result.lines["bank_reference"].to_list() == ["R1", "R2"]
    [error] = result.errors.to_dicts()
    assert (error["row"], error["field"], error["code"]) == (7, "交易流水号", "reference_repeated")
    assert "already in row 5" in error["message"]


def test_repeated_reference_is_found_across_chunks(tmp_path: Path) -> None:
    rows = [f"2026-11-02,R{i},转账,,1{i}.00,,张三,," for i in range(5)]
    path = icbc(tmp_path, *rows, "2026-11-03,R1,转账,,99.00,,张三,,")
    result = read_export(path, chunk_rows=2)
    assert result.lines.height == 5
    assert errors_of(result) == [(10, "交易流水号", "reference_repeated")]
    assert result.lines["line_id"].to_list() == list(range(5))


# --- amounts, directions and signs ---------------------------------------------------------


def test_single_amount_column_signs_words_and_marks(tmp_path: Path) -> None:
    text = (
        "招商银行 交易明细\n"
        "交易日,交易金额,借贷标志,币种,对方户名,用途,流水号\n"
        '2026/11/2,"￥1,234.50",贷,人民币,张三,HT-2026-001,A1\n'
        "20261103,800元,收,RMB,李四,,A2\n"
        "2026年11月4日,-200.00,借,CNY,电费,,A3\n"
        "2026.11.05,-50.00,贷,,张三,冲正,A4\n"
        "2026-11-06,（300.00）,,,王五,,A5\n"
        '2026-11-07,"1,000",C,USD,Acme Ltd,,A6\n'
    )
    result = read_bank_file(csv_file(tmp_path, text))
    assert result.errors.is_empty()
    got = [
        (r["amount_fen"], r["direction"], r["reversal"], r["is_payment"], r["currency"])
        for r in lines_of(result)
    ]
    assert got == [
        (123_450, "CRDT", False, True, "CNY"),
        (80_000, "CRDT", False, True, "CNY"),
        (20_000, "DBIT", False, False, "CNY"),
        (5_000, "CRDT", True, False, "CNY"),  # a negative amount marked 贷: a correction
        (30_000, "DBIT", False, False, "CNY"),  # brackets: money out
        (100_000, "CRDT", False, True, "USD"),
    ]
    assert result.lines["booking_date"].to_list() == [dt.date(2026, 11, d) for d in range(2, 8)]


def test_debit_column_is_money_out(tmp_path: Path) -> None:
    path = icbc(tmp_path, '2026-11-02,R1,代发工资,"12,000.00",,,员工,,')
    [line] = lines_of(read_bank_file(path))
    assert (line["direction"], line["amount_fen"], line["is_payment"]) == ("DBIT", 1_200_000, False)


@pytest.mark.parametrize(
    ("row", "expected"),
    [
        ("2026-11-02,R1,转账,10.00,20.00,,张三,,", [(5, "贷方发生额", "amount_both")]),
        ("2026-11-02,R1,转账,,12.345,,张三,,", [(5, "贷方发生额", "amount_precision")]),
        ("2026-11-02,R1,转账,,abc,,张三,,", [(5, "贷方发生额", "amount_invalid")]),
        (",R1,转账,,100.00,,张三,,", [(5, "交易日期", "date_missing")]),
        ("2026-02-30,R1,转账,,100.00,,张三,,", [(5, "交易日期", "date_invalid")]),
        ("02/11/2026,R1,转账,,100.00,,张三,,", [(5, "交易日期", "date_invalid")]),
        ("2026-11-02,R1,转账,,,,张三,,", [(5, "贷方发生额", "amount_none")]),
        (f"2026-11-02,R1,转账,,1.00,,{'张' * 201},,", [(5, "对方户名", "too_long")]),
        (f"2026-11-02,{'R' * 129},转账,,1.00,,张三,,", [(5, "交易流水号", "too_long")]),
    ],
)
def test_rows_that_cannot_be_read(tmp_path: Path, row: str, expected: list[Any]) -> None:
    result = read_bank_file(icbc(tmp_path, row, "2026-11-03,OK,转账,,1.00,,李四,,"))
    assert errors_of(result) == expected
    assert result.lines["bank_reference"].to_list() == ["OK"]
    assert result.errors.schema == pl.Schema(ERROR_SCHEMA)
    assert all(message.startswith("Row 5: ") for message in result.errors["message"])


def test_messages_name_row_and_column_in_the_users_language(tmp_path: Path) -> None:
    path = icbc(tmp_path, "2026-11-02,R1,转账,10.00,20.00,,张三,,", "2026-11-03,R2,转账,,x,,李四,,")
    english = read_bank_file(path).errors["message"].to_list()
    assert english == [
        "Row 5: both “贷方发生额” and “借方发生额” hold an amount; a line is either money in or "
        "money out.",
        "Row 6: “x” in “贷方发生额” is not an amount.",
    ]
    chinese = read_bank_file(path, language="zh-hans").errors["message"].to_list()
    assert chinese[1] == "第 6 行：“贷方发生额”中的“x”不是金额。"


def test_direction_and_currency_words_that_mean_nothing(tmp_path: Path) -> None:
    text = (
        "交易日期,交易金额,借贷标志,币种,对方户名\n"
        "2026-11-02,10.00,上,CNY,张三\n"
        "2026-11-02,10.00,贷,火星币,张三\n"
        "2026-11-02,10.00,贷,JPY,张三\n"
        "2026-11-02,10.50,贷,JPY,张三\n"
    )
    result = read_bank_file(csv_file(tmp_path, text))
    assert errors_of(result) == [
        (2, "借贷标志", "direction_invalid"),
        (3, "币种", "currency_unknown"),
        (5, "交易金额", "amount_precision"),
    ]
    [line] = lines_of(result)
    assert (line["currency"], line["amount_fen"]) == ("JPY", 1_000)


def test_default_currency_when_the_export_has_none(tmp_path: Path) -> None:
    path = icbc(tmp_path, "2026-11-02,R1,转账,,100.00,,张三,,")
    [line] = lines_of(read_bank_file(path, default_currency="HKD"))
    assert line["currency"] == "HKD"


# --- idempotency keys without a reference ------------------------------------------------


def test_without_a_reference_column_keys_hash_the_line_and_its_occurrence(tmp_path: Path) -> None:
    text = (
        "交易日期,收入金额,支出金额,对方户名,摘要\n"
        "2026-11-02,100.00,,张三,还款\n"
        "2026-11-02,100.00,,张三,还款\n"  # the same transfer twice in a day: two payments
        "2026-11-02,100.00,,李四,还款\n"
    )
    path = csv_file(tmp_path, text)
    keys = read_bank_file(path, scope="3").lines["idempotency_key"].to_list()
    assert len(set(keys)) == 3
    assert all(key.startswith("stmt:3:h:") and len(key) <= 100 for key in keys)
    assert read_bank_file(path, scope="3").lines["idempotency_key"].to_list() == keys
    # Another export of the same day with one more line keeps the keys of the lines it shares.
    longer = csv_file(tmp_path, text + "2026-11-03,5.00,,王五,还款\n", name="longer.csv")
    assert read_bank_file(longer, scope="3").lines["idempotency_key"].to_list()[:3] == keys


def test_an_empty_reference_cell_falls_back_to_the_hash(tmp_path: Path) -> None:
    path = icbc(tmp_path, "2026-11-02,,转账,,100.00,,张三,,", "2026-11-02,R9,转账,,100.00,,张三,,")
    keys = read_bank_file(path, scope="1").lines["idempotency_key"].to_list()
    assert keys[0].startswith("stmt:1:h:")
    assert keys[1] == "stmt:1:R9"


def test_long_reference_is_hashed_to_fit(tmp_path: Path) -> None:
    reference = "R" * 120
    path = icbc(tmp_path, f"2026-11-02,{reference},转账,,100.00,,张三,,")
    [key] = read_bank_file(path, scope="1").lines["idempotency_key"].to_list()
    assert key.startswith("stmt:1:r:") and len(key) <= 100


# --- an XLSX export with a title row -------------------------------------------------------


def xlsx_export(path: Path) -> Path:
    wb = openpyxl.Workbook()
    ws = wb.active
    assert ws is not None
    ws.append(["客户回款明细（2026年11月）"])
    ws.merge_cells("A1:H1")
    ws.append(
        [
            "入账日期",
            "交易金额",
            "借贷标志",
            "币种",
            "付款人名称",
            "付款人账号",
            "用途",
            "银行流水号",
        ]
    )
    ws.append(
        [
            dt.datetime(2026, 11, 2, 9, 30),
            5000,
            "贷",
            "人民币",
            "张三",
            "6217",
            "还款HT-2026-001",
            "X1",
        ]
    )
    ws.append([dt.date(2026, 11, 3), 1234.5, "贷", None, "李四", None, None, "X2"])
    ws.append([dt.date(2026, 11, 4), "¥2,100.00", "贷", None, "陈七", None, "还款", "X3"])
    ws.append([None, None, None, None, None, None, None, None])
    ws.append([dt.date(2026, 11, 5), 25, "借", None, None, None, "手续费", "X4"])
    ws.append(["合计", 8359.5, None, None, None, None, None, None])
    wb.save(path)
    return path


def test_xlsx_export_with_a_title_row(tmp_path: Path) -> None:
    result = read_bank_file(xlsx_export(tmp_path / "export.xlsx"), scope="2")
    assert result.kind == "xlsx"
    assert result.errors.is_empty()
    got = [
        (r["line_no"], r["booking_date"], r["amount_fen"], r["direction"], r["payer_name"])
        for r in lines_of(result)
    ]
    assert got == [
        (3, dt.date(2026, 11, 2), 500_000, "CRDT", "张三"),
        (4, dt.date(2026, 11, 3), 123_450, "CRDT", "李四"),
        (5, dt.date(2026, 11, 4), 210_000, "CRDT", "陈七"),
        (7, dt.date(2026, 11, 5), 2_500, "DBIT", None),
    ]
    assert result.lines["idempotency_key"][0] == "stmt:2:X1"


# --- the file as a whole -------------------------------------------------------------------


def test_missing_columns_reject_the_file(tmp_path: Path) -> None:
    path = csv_file(tmp_path, "对方户名,摘要,交易流水号\n张三,还款,R1\n")
    with pytest.raises(IntakeError, match="no column for: booking date") as info:
        read_bank_file(path)
    assert "amount" in str(info.value)


def test_a_mapping_names_columns_the_guess_missed(tmp_path: Path) -> None:
    path = csv_file(tmp_path, "记账时间点,到账款,对方户名,摘要\n2026-11-02,100.00,张三,还款\n")
    with pytest.raises(IntakeError):
        read_bank_file(path)
    result = read_bank_file(path, mapping={0: "booking_date", 1: "credit_amount", 2: "payer_name"})
    [line] = lines_of(result)
    assert (line["amount_fen"], line["payer_name"], line["remittance_text"]) == (
        10_000,
        "张三",
        None,
    )


def test_no_header_row_says_what_a_statement_needs(tmp_path: Path) -> None:
    path = csv_file(tmp_path, "a,b,c\n1,2,3\n")
    with pytest.raises(IntakeError, match="交易日期"):
        read_bank_file(path)


def test_old_excel_and_empty_files_are_refused(tmp_path: Path) -> None:
    xls = tmp_path / "old.xls"
    xls.write_bytes(b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\x00" * 100)
    with pytest.raises(IntakeError, match=r"\.xls"):
        read_bank_file(xls)
    empty = tmp_path / "empty.csv"
    empty.write_bytes(b"")
    with pytest.raises(IntakeError, match="empty"):
        read_bank_file(empty)


def test_utf8_export_with_english_headers(tmp_path: Path) -> None:
    text = (
        "Date,Description,Deposits,Withdrawals,Counterparty,Reference,Transaction ID\n"
        '2026-11-02,Transfer,"1,500.00",,ACME Co., Ltd.,INV 7,T1\n'
    )
    path = csv_file(
        tmp_path, text.replace("ACME Co., Ltd.", '"ACME Co., Ltd."'), encoding="utf-8-sig"
    )
    [line] = lines_of(read_bank_file(path))
    assert (line["amount_fen"], line["payer_name"], line["bank_reference"]) == (
        150_000,
        "ACME Co., Ltd.",
        "T1",
    )


# --- camt.053 through the same door ---------------------------------------------------------


def test_an_export_without_lines(tmp_path: Path) -> None:
    result = read_bank_file(icbc(tmp_path))
    assert result.lines.is_empty() and result.errors.is_empty()
    assert result.lines.schema == pl.Schema(STATEMENT_SCHEMA)
    assert result.rows_read == 0


def test_camt_is_told_by_its_bytes_not_its_name(tmp_path: Path) -> None:
    disguised = tmp_path / "statement.csv"
    disguised.write_bytes(CAMT.read_bytes())
    result = read_bank_file(disguised)
    assert result.kind == "camt053"
    assert result.lines.height == 9
    assert result.lines["line_no"].to_list() == list(range(1, 10))
    first = lines_of(result)[0]
    assert first["idempotency_key"] == "camt053:410023456789001:BOC24030500001"
    assert first["booking_date"] == dt.date(2024, 3, 5)
    assert first["payer_account"] == "6217001234567890123"


def test_camt_entries_that_cannot_be_read_are_errors() -> None:
    result = read_bank_file(FIXTURES / "camt053_bad_amount.xml")
    assert not result.errors.is_empty()
    assert result.errors["code"].unique().to_list() == ["camt"]
    assert result.errors["row"].null_count() < result.errors.height


def test_camt_that_is_not_a_statement_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "note.xml"
    path.write_bytes(b'<?xml version="1.0"?><note>hello</note>')
    with pytest.raises(IntakeError):
        read_bank_file(path)


@pytest.mark.parametrize(
    ("head", "xml"),
    [
        (b"<?xml", True),
        (b"\xef\xbb\xbf  \r\n<Document", True),
        ("<?xml".encode("utf-16-le"), True),
        ("\ufeff<?xml".encode("utf-16-be"), True),
        ("交易日期,金额".encode("gbk"), False),
        ("\ufeff丼交易日期\t金额".encode("utf-16-le"), False),  # 丼 is U+4E3C: no "<" in it
        (b"PK\x03\x04", False),
    ],
)
def test_is_xml(tmp_path: Path, head: bytes, xml: bool) -> None:
    path = tmp_path / "f"
    path.write_bytes(head)
    assert is_xml(path) is xml


def test_stored_text_keeps_each_part_once() -> None:
    frame = pl.DataFrame(
        {
            "text": ["跨行转入", "HT2024002", None, "还款 HT1", "x"],
            "ref": ["还款 HT-1", "HT2024002 E2E", "附言", "HT1", None],
        }
    )
    got = frame.select(stored_text(pl.col("text"), pl.col("ref"))).to_series().to_list()
    assert got == ["跨行转入 还款 HT-1", "HT2024002 E2E", "附言", "还款 HT1", "x"]
