"""Ledger validation: every error once, on the row and column the user sees; clean typed rows."""

from __future__ import annotations

import codecs
import datetime as dt
from decimal import Decimal

import polars as pl
import pytest

from huikuan.intake.headers import guess_mapping
from huikuan.intake.pipeline import validate_ledger_file
from huikuan.intake.validate import LEDGER_SCHEMA, validate_ledger_chunk

from .ledger_files import HEADERS, RID, RID2, USCC, csv_text, row, write_csv, write_xlsx

COMPANY = "华信贸易有限公司"

# File row → (the row's cells, the error it must carry as (column, code), or None if valid).
CASES: dict[int, tuple[list[str], tuple[str, str] | None]] = {
    3: (row(), None),
    4: (row(客户名称="", 合同编号="HT4"), ("客户名称", "required")),
    5: (row(证件号码=RID[:-1] + "0", 合同编号="HT5"), ("证件号码", "id_check")),
    6: (
        row(客户名称=COMPANY, 证件号码=USCC[:-1] + "0", 合同编号="HT6"),
        ("证件号码", "uscc_check"),
    ),
    7: (row(手机号码="12345", 合同编号="HT7"), ("手机号码", "phone_invalid")),
    8: (row(应还本金="-100", 合同编号="HT8"), ("应还本金", "amount_negative")),
    9: (row(应还利息="abc", 合同编号="HT9"), ("应还利息", "amount_invalid")),
    10: (row(已还金额="99,999", 合同编号="HT10"), ("已还金额", "paid_exceeds_due")),
    11: (row(币种="XYZ", 合同编号="HT11"), ("币种", "currency_unknown")),
    12: (row(产品类型="火箭", 合同编号="HT12"), ("产品类型", "product_unknown")),
    13: (row(到期日="2025-02-30", 合同编号="HT13"), ("到期日", "date_invalid")),
    14: (row(), ("期数", "duplicate")),  # same contract and item as row 3
    15: (row(合同编号=""), ("合同编号", "required")),
    16: (row(到期日="", 合同编号="HT16"), ("到期日", "required")),
    17: (row(应还本金="", 应还利息="", 合同编号="HT17"), ("应还本金", "amount_missing")),
    18: (row(证件号码="110105194912310", 合同编号="HT18"), ("证件号码", "id_old_15")),
    19: (row(应还本金="12.345", 合同编号="HT19"), ("应还本金", "amount_precision")),
    20: (row(客户名称=COMPANY, 证件号码=USCC, 合同编号="HT20", 手机号码="010-62345678"), None),
    21: ([""] * len(HEADERS), None),  # a blank row: skipped
}


def ledger_rows() -> list[list[str]]:
    return [cells for cells, _ in CASES.values()]


def validate(path, **kw):
    results = list(validate_ledger_file(path, language="en", **kw))
    clean = pl.concat([r.clean for r in results])
    errors = pl.concat([r.errors for r in results])
    return clean, errors


def as_cell(value: str) -> object:
    """What a spreadsheet holds after Excel typed what was keyed in."""
    return None if value == "" else value


@pytest.fixture(params=["gbk-csv", "utf8-bom-csv", "xlsx"])
def ledger_file(request, tmp_path):
    if request.param == "gbk-csv":
        return write_csv(tmp_path / "台账.csv", ledger_rows())
    if request.param == "utf8-bom-csv":
        path = tmp_path / "ledger.csv"
        path.write_bytes(codecs.BOM_UTF8 + csv_text(ledger_rows()).encode())
        return path
    return write_xlsx(tmp_path / "台账.xlsx", [[as_cell(c) for c in r] for r in ledger_rows()])


def test_every_error_once_with_its_row_and_column(ledger_file):
    clean, errors = validate(ledger_file)
    expected = {(n, *error) for n, (_, error) in CASES.items() if error}
    assert {(r, f, c) for r, f, c, _ in errors.rows()} == expected
    assert errors.height == len(expected)  # the totals row and the blank row are no errors
    for number, field, _code, message in errors.rows():
        assert message.startswith(f"Row {number}:"), message
        assert f"“{field}”" in message, message
    messages = dict(zip(errors["code"], errors["message"], strict=True))
    assert "should be “X”, not “0”" in messages["id_check"]
    assert "should be “L”, not “0”" in messages["uscc_check"]
    assert messages["duplicate"] == (
        "Row 14: contract “HT2025001” with “期数” “1” is already in row 3."
    )
    assert "(99999.00) is more than the amount due (1050.50)" in messages["paid_exceeds_due"]
    assert clean["row"].to_list() == [3, 20]


def test_clean_rows_are_typed(tmp_path):
    clean, _errors = validate(write_csv(tmp_path / "台账.csv", ledger_rows()))
    assert clean.schema == pl.Schema(LEDGER_SCHEMA)
    person, company = clean.to_dicts()
    assert (
        person
        | {
            "debtor_kind": "individual",
            "id_number": RID,
            "region": "110101",
            "product": "loan",
            "currency": "CNY",
            "item_no": "1",
            "item_kind": "installment",
            "due_date": dt.date(2025, 3, 1),
            "principal_due": Decimal("1000.00"),
            "interest_due": Decimal("50.50"),
            "fee_due": Decimal("0.00"),
            "amount_due": Decimal("1050.50"),
            "paid_amount": Decimal("100.00"),
            "phone": "+8613812345678",
        }
        == person
    )
    assert company["debtor_kind"] == "enterprise" and company["region"] == "110000"
    assert company["phone"] == "+861062345678"  # a landline, through phonenumbers


def test_duplicates_are_found_across_chunks(tmp_path):
    rows = [row(合同编号=f"HT{i}") for i in range(5)] + [row(合同编号="HT1")]
    clean, errors = validate(write_csv(tmp_path / "d.csv", rows), chunk_rows=2)
    assert errors.select("row", "code").rows() == [(8, "duplicate")]
    assert "already in row 4" in errors["message"][0]
    assert clean.height == 5


def test_without_item_numbers_the_due_date_tells_installments_apart(tmp_path):
    rows = [row(期数="", 到期日=d) for d in ("2025-03-01", "2025-04-01", "2025/3/1")]
    _clean, errors = validate(write_csv(tmp_path / "d.csv", rows))
    assert errors.select("row", "field", "code").rows() == [(5, "到期日", "duplicate_due")]


def test_a_missing_column_is_reported_once(tmp_path):
    headers = [h for h in HEADERS if h != "合同编号"]
    path = tmp_path / "m.csv"
    lines = [",".join(headers)] + [
        ",".join(["1", "张三", RID, "消费贷", "CNY", "1", "2025-3-1", "1"])
    ] * 3
    path.write_text("\r\n".join(lines) + "\r\n", encoding="utf-8")
    clean, errors = validate(path)
    assert errors.select("row", "code").rows() == [(1, "column_missing")]
    assert "contract number" in errors["message"][0] and "合同编号" in errors["message"][0]
    assert clean.height == 0


def chunk(headers: list[str], *rows: list[str]) -> tuple[pl.DataFrame, dict[int, str]]:
    frame = pl.DataFrame(
        [dict(zip(headers, r, strict=True)) for r in rows], schema=dict.fromkeys(headers, pl.String)
    )
    return frame, guess_mapping(headers).mapping


def test_totals_and_split_amounts():
    headers = [
        "客户名称",
        "证件号码",
        "合同编号",
        "到期日",
        "应收金额",
        "本金",
        "利息",
        "罚息",
        "滞纳金",
    ]
    frame, mapping = chunk(
        headers,
        ["张三", RID, "A", "2025-3-1", "160", "100", "50", "6", "4"],  # fees add up: fine
        ["李四", RID2, "B", "2025-3-1", "200", "100", "50", "", ""],  # 200 ≠ 150
        ["王五", RID2, "C", "2025-3-1", "80", "", "", "", ""],  # a total alone: principal
    )
    clean, errors = validate_ledger_chunk(frame, mapping, first_row_number=2, language="en")
    assert errors.select("row", "field", "code").rows() == [(3, "应收金额", "amount_mismatch")]
    assert "is 200.00, but principal, interest and fee add up to 150.00" in errors["message"][0]
    assert clean.select("row", "principal_due", "fee_due", "amount_due").rows() == [
        (2, Decimal("100.00"), Decimal("10.00"), Decimal("160.00")),
        (4, Decimal("80.00"), Decimal("0.00"), Decimal("80.00")),
    ]


def test_kind_column_and_currency_places():
    headers = ["客户名称", "客户类型", "证件号码", "合同编号", "到期日", "应收金额", "币种"]
    frame, mapping = chunk(
        headers,
        ["张三", "个人", USCC, "A", "2025-3-1", "100", "CNY"],  # a credit code for a person
        ["华信", "企业", RID, "B", "2025-3-1", "100", "CNY"],  # a resident ID for a company
        ["李四", "法人?", RID2, "C", "2025-3-1", "100", "CNY"],
        ["王五", "个人", RID2, "D", "2025-3-1", "100.5", "日元"],  # JPY has no decimals
        ["赵六", "企业", USCC, "E", "2025-3-1", "100", "美元"],
    )
    clean, errors = validate_ledger_chunk(frame, mapping, first_row_number=2, language="en")
    assert errors.select("row", "field", "code").rows() == [
        (2, "证件号码", "kind_is_enterprise"),
        (3, "证件号码", "kind_is_individual"),
        (4, "客户类型", "kind_invalid"),
        (5, "应收金额", "amount_precision"),
    ]
    assert "than JPY allows (0)" in errors["message"][3]
    assert clean.select("row", "debtor_kind", "currency").rows() == [(6, "enterprise", "USD")]


def test_email_region_length_and_guarantor_phone():
    headers = [
        "客户名称",
        "证件号码",
        "合同编号",
        "到期日",
        "应收金额",
        "邮箱",
        "地区",
        "担保人电话",
    ]
    frame, mapping = chunk(
        headers,
        ["张" * 201, RID, "A", "2025-3-1", "1", "a@b.cn", "110101", "13912345678"],
        ["张三", RID, "B", "2025-3-1", "1", "not-an-email", "北京", "1234"],
    )
    clean, errors = validate_ledger_chunk(frame, mapping, first_row_number=2, language="en")
    assert errors.select("row", "field", "code").rows() == [
        (2, "客户名称", "too_long"),
        (3, "邮箱", "email_invalid"),
        (3, "地区", "region_invalid"),
        (3, "担保人电话", "phone_invalid"),
    ]
    assert "has 201 characters; at most 200 fit" in errors["message"][0]
    assert clean.height == 0


def test_row_numbers_without_a_row_column():
    frame, mapping = chunk(
        ["客户名称", "证件号码", "合同编号", "到期日", "应收金额"], ["", RID, "A", "x", "1"]
    )
    _, errors = validate_ledger_chunk(frame, mapping, first_row_number=41, language="en")
    assert errors.select("row", "code").rows() == [(41, "required"), (41, "date_invalid")]
