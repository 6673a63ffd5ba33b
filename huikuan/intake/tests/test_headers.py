"""Header synonyms, the header row under title rows, totals rows."""

from __future__ import annotations

import pytest

from huikuan.intake.headers import (
    LEDGER_SYNONYMS,
    STATEMENT_SYNONYMS,
    field_for,
    find_header_row,
    guess_mapping,
    is_totals_label,
    missing_fields,
    normalize_header,
)


@pytest.mark.parametrize(
    ("header", "field"),
    [
        ("客户名称", "debtor_name"),
        ("债务人名称", "debtor_name"),
        ("借款人", "debtor_name"),
        (" 客户名称： ", "debtor_name"),
        ("*客户名称", "debtor_name"),
        ("身份证号码", "id_number"),
        ("统一社会信用代码", "id_number"),
        ("ID No.", "id_number"),
        ("合同号", "contract_no"),
        ("借据号", "contract_no"),
        ("Contract No.", "contract_no"),
        ("应收金额（元）", "amount_due"),
        ("欠款金额(元)", "amount_due"),
        ("Amount Due", "amount_due"),
        ("本金", "principal_due"),
        ("应还本金", "principal_due"),
        ("Principal", "principal_due"),  # an installment's principal, not the loan amount
        ("贷款金额", "principal"),
        ("还款日", "due_date"),
        ("应还日期", "due_date"),
        ("Due Date", "due_date"),
        ("已还款", "paid_amount"),
        ("Paid", "paid_amount"),
        ("期次", "item_no"),
        ("发票号", "item_no"),
        ("Installment No.", "item_no"),
        ("手机号码", "phone"),
        ("Mobile", "phone"),
        ("联系地址", "address"),
        ("产品类型", "product"),
        ("担保人姓名", "guarantor_name"),
        ("利息", "interest_due"),
        ("滞纳金", "fee_due"),
        ("罚息", "fee_due"),
        ("币种", "currency"),
        ("放款日", "open_date"),
        ("ＣＵＳＴＯＭＥＲ　ＮＡＭＥ", "debtor_name"),  # full-width, ideographic space
        ("principal_due", "principal_due"),  # our own names read back
        ("应收金额(万元)", None),  # scaled: refused rather than read 10,000 times too small
        ("备注", None),
    ],
)
def test_ledger_headers(header, field):
    assert field_for(header) == field


def test_statement_headers():
    assert field_for("交易日期", "statement") == "booking_date"
    assert field_for("对方户名", "statement") == "payer_name"
    assert field_for("收入金额", "statement") == "credit_amount"
    assert field_for("Account No.", "statement") is None
    assert field_for("Account No.", "ledger") == "contract_no"


def test_synonyms_are_unambiguous():
    for synonyms in (LEDGER_SYNONYMS, STATEMENT_SYNONYMS):
        seen: dict[str, str] = {}
        for field, words in synonyms.items():
            for word in words:
                assert seen.setdefault(normalize_header(word), field) == field, word


def test_guess_mapping_first_wins_and_fees_add_up():
    cells = ["序号", "客户名称", "姓名", "罚息", "滞纳金", "", "备注"]
    guess = guess_mapping(cells)
    assert guess.mapping == {1: "debtor_name", 3: "fee_due", 4: "fee_due"}
    assert guess.unmapped == [0, 2, 6]


def test_header_row_under_title_rows():
    rows = [
        ["2025年3月催收台账", None, None, None],
        ["单位：元", None, None, None],
        [None, None, None, None],
        ["序号", "客户名称", "证件号码", "应收金额"],
        ["1", "张三", "11010119850301007X", "100"],
    ]
    assert find_header_row(rows) == 3
    assert find_header_row([["客户名称", "金额"], ["张三", "1"]]) == 0  # narrow file
    assert find_header_row([["hello"], ["world"]]) is None


@pytest.mark.parametrize(
    "label", ["合计", "合　计", "总计：", "小计", "本页合计", "Total", "TOTAL:", "Grand total"]
)
def test_totals_labels(label):
    assert is_totals_label(label)


@pytest.mark.parametrize("label", ["张三", "1", "Totally Ltd", "合同", None])
def test_not_totals_labels(label):
    assert not is_totals_label(label)


def test_missing_fields():
    assert missing_fields({0: "debtor_name", 1: "id_number"}) == [
        "contract_no",
        "due_date",
        "amount_due",
    ]
    mapping = {0: "debtor_name", 1: "id_number", 2: "contract_no", 3: "due_date", 4: "fee_due"}
    assert missing_fields(mapping) == []
