"""Matching bank lines to accounts: the rules in order, normalisation, determinism."""

from __future__ import annotations

import random
from pathlib import Path
from typing import Any

import polars as pl
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from huikuan.intake.camt import lines_frame, parse_camt053
from huikuan.intake.matching import contract_key, match_lines, name_key

FIXTURES = Path(__file__).parent / "fixtures"

ACCOUNT_SCHEMA = {
    "account_id": pl.Int64,
    "contract_no": pl.String,
    "debtor_name": pl.String,
    "currency": pl.String,
    "outstanding_fen": pl.Int64,
    "overdue_fen": pl.Int64,
    "open_promise_fen": pl.Int64,
    "installment_fen": pl.Int64,
}
LINE_SCHEMA = {
    "line_id": pl.Int64,
    "amount_fen": pl.Int64,
    "currency": pl.String,
    "payer_name": pl.String,
    "remittance_text": pl.String,
    "reference": pl.String,
    "direction": pl.String,
    "reversal": pl.Boolean,
}


def account(account_id: int, contract_no: str, debtor_name: str = "某人", **fields: Any) -> dict:
    return {
        "account_id": account_id,
        "contract_no": contract_no,
        "debtor_name": debtor_name,
        "currency": "CNY",
        "outstanding_fen": 1_000_000,
        "overdue_fen": 100_000,
        "open_promise_fen": None,
        "installment_fen": None,
    } | fields


def line(line_id: int, text: str | None = None, payer: str | None = None, **fields: Any) -> dict:
    return {
        "line_id": line_id,
        "amount_fen": 12_300,
        "currency": "CNY",
        "payer_name": payer,
        "remittance_text": text,
        "reference": None,
        "direction": "CRDT",
        "reversal": False,
    } | fields


def match(lines: list[dict], accounts: list[dict], **options: Any) -> list[Outcome]:
    result = match_lines(
        pl.DataFrame(lines, schema=LINE_SCHEMA),
        pl.DataFrame(accounts, schema=ACCOUNT_SCHEMA),
        **options,
    )
    return [(r["status"], r["account_id"], r["candidates"], r["rule"]) for r in result.to_dicts()]


def only(lines: list[dict], accounts: list[dict], **options: Any) -> Outcome:
    [outcome] = match(lines, accounts, **options)
    return outcome


Outcome = tuple[str, Any, list[Any], str]
MATCHED_1: Outcome = ("matched", 1, [1], "contract_in_text")
UNMATCHED: Outcome = ("unmatched", None, [], "none")
IGNORED: Outcome = ("ignored", None, [], "none")
LEDGER = [account(1, "HT-2024-001", "张三"), account(2, "HT-2024-002", "李四")]


# --- The fixture statement, end to end ------------------------------------------------------


def test_the_bank_statement_end_to_end():
    lines = lines_frame(parse_camt053(FIXTURES / "camt053_boc_v02.xml").lines)
    accounts = pl.DataFrame(
        [
            account(1, "HT-2024-001", "张三", overdue_fen=500_000),
            account(2, "HT-2024-002", "李四"),
            account(3, "HT-2024-003", "王五"),
            account(4, "HT-2024-004", "赵六"),
            # The company: no reference, but its overdue amount is exactly what it paid.
            account(5, "QY-2023-117", "厦门某某贸易有限公司", overdue_fen=1_234_567),
            account(9, "QY-2023-118", "厦门某某贸易有限公司", overdue_fen=2_000_000),
            # 陈七 is two months behind on two loans with the same installment.
            account(6, "HT-2024-007", "陈七", overdue_fen=200_000),
            account(7, "HT-2024-008", "陈七", overdue_fen=200_000),
            account(8, "HT-2024-009", "吴九"),
        ],
        schema=ACCOUNT_SCHEMA,
    )
    result = match_lines(lines, accounts)
    got = [(r["status"], r["account_id"], r["candidates"], r["rule"]) for r in result.to_dicts()]
    assert got == [
        ("matched", 1, [1], "contract_in_text"),  # 合同号HT-2024-001 in Ustrd
        ("matched", 2, [2], "contract_in_text"),  # structured reference HT2024002
        ("matched", 3, [3], "contract_in_text"),  # batch 1/2: "HT 2024 003"
        ("matched", 4, [4], "contract_in_text"),  # batch 2/2: full-width lower case
        IGNORED,  # bank charge
        IGNORED,  # reversal, though it quotes HT-2024-001
        ("matched", 5, [5], "name_and_amount"),
        ("ambiguous", None, [6, 7], "name_and_amount"),
        UNMATCHED,  # 周八
    ]
    assert result["line_id"].to_list() == list(range(9))


# --- a. contract number in the text ---------------------------------------------------------


@pytest.mark.parametrize(
    "text",
    [
        "HT-2024-001",
        "ht2024001",
        "HT 2024 001",
        "还款 合同号HT-2024-001 三月份",
        "合同号：HT—2024—001，谢谢",
        "ＨＴ－２０２４－００１还款",
        "No.HT2024001",
        "payment for ht 2024 001 march",
        "HT/2024/001",
        "（HT 2024-001）",
        "HT - 2024 - 001",
    ],
)
def test_contract_number_however_written(text):
    assert only([line(1, text)], LEDGER) == MATCHED_1


@pytest.mark.parametrize(
    "text",
    [
        "HT20240012",  # a longer number is another contract
        "XHT2024001",
        "HT-2024-0011",
        "HT 2024 还款 001",  # the parts are not next to each other
        "HT2024，001",
        "2024001",
    ],
)
def test_contract_number_only_as_a_whole_token(text):
    assert only([line(1, text)], LEDGER) == UNMATCHED


def test_contract_number_in_the_reference_column():
    assert only([line(1, "还款", reference="HT2024001")], LEDGER) == MATCHED_1


def test_two_contract_numbers_are_ambiguous():
    outcome = only([line(1, "HT-2024-002 和 HT-2024-001")], LEDGER)
    assert outcome == ("ambiguous", None, [1, 2], "contract_in_text")


def test_one_number_of_two_accounts_is_ambiguous():
    # Contract numbers are unique per creditor only; the same key twice is for a person.
    accounts = [*LEDGER, account(3, "HT2024001", "王五")]
    assert only([line(1, "HT-2024-001")], accounts) == (
        "ambiguous",
        None,
        [1, 3],
        "contract_in_text",
    )


def test_contract_beats_name_and_amount():
    accounts = [*LEDGER, account(3, "HT-2024-003", "张三", overdue_fen=12_300)]
    assert only([line(1, "HT-2024-001", "张三")], accounts) == MATCHED_1


def test_currency_must_agree():
    accounts = [account(1, "HT-2024-001", "张三", overdue_fen=12_300, currency="USD")]
    assert only([line(1, "HT-2024-001", "张三")], accounts) == UNMATCHED


def test_short_contract_numbers_are_not_looked_for():
    accounts = [account(1, "A-12")]
    assert only([line(1, "A12 2024")], accounts) == UNMATCHED
    assert only([line(1, "A12 2024")], accounts, min_contract_len=3) == MATCHED_1


def test_contract_numbers_with_han_characters():
    accounts = [*LEDGER, account(3, "（2024）厦借字第001号")]
    texts = [
        "还款(2024)厦借字第001号谢谢",
        "依据 2024 厦借字第 001 号",
        "2024厦借字第001号",
        "HT2024001",
    ]
    outcomes = match([line(i, text) for i, text in enumerate(texts)], accounts)
    assert [outcome[1] for outcome in outcomes] == [3, 3, 3, 1]
    # Other Han characters still end a run.
    assert only([line(1, "2024厦借字第还款001号")], accounts) == UNMATCHED


# --- b. and c. name, then amount ------------------------------------------------------------


@pytest.mark.parametrize(
    "fields",
    [
        {"overdue_fen": 12_300},
        {"open_promise_fen": 12_300},
        {"outstanding_fen": 12_300},
        {"installment_fen": 12_300, "overdue_fen": 0},  # paying the next one early
        {"installment_fen": 4_100, "overdue_fen": 20_500},  # three installments of five
    ],
)
def test_name_and_amount(fields):
    accounts = [account(1, "HT-2024-001", "张三", **fields), account(2, "HT-2024-002", "李四")]
    assert only([line(1, "还款", "张三")], accounts) == ("matched", 1, [1], "name_and_amount")


def test_more_installments_than_overdue_is_not_installment_like():
    accounts = [account(1, "HT-2024-001", "张三", installment_fen=4_100, overdue_fen=8_200)]
    assert only([line(1, None, "张三")], accounts) == ("ambiguous", None, [1], "name_only")


@pytest.mark.parametrize(
    ("payer", "debtor"),
    [
        ("厦门某某贸易有限公司", "厦门某某贸易有限公司"),
        ("厦门某某贸易有限公司", "厦门某某贸易有限责任公司"),
        ("厦门某某贸易 有限公司", "厦门某某贸易有限公司"),
        ("厦门某某贸易股份有限公司", "厦门某某贸易"),
        ("  厦门某某（集团）有限公司 ", "厦门某某(集团)有限公司"),
        ("ABC Trading Co., Ltd.", "ABC TRADING COMPANY LIMITED"),
        ("ＡＢＣ　Ｔｒａｄｉｎｇ　ＣＯ．，ＬＴＤ．", "abc trading co ltd"),
        ("张 三", "张三"),
        ("阿卜杜·热合曼", "阿卜杜热合曼"),
    ],
)
def test_name_variants(payer, debtor):
    accounts = [account(1, "QY-2023-117", debtor, overdue_fen=12_300)]
    assert only([line(1, None, payer)], accounts) == ("matched", 1, [1], "name_and_amount")


def test_different_names_do_not_match():
    accounts = [account(1, "QY-2023-117", "厦门某某贸易有限公司", overdue_fen=12_300)]
    assert only([line(1, None, "厦门某某物流有限公司")], accounts) == UNMATCHED
    assert only([line(1, None, "有限公司")], accounts) == UNMATCHED


def test_same_amount_on_two_accounts_of_one_payer_is_ambiguous():
    accounts = [
        account(1, "HT-2024-007", "陈七", overdue_fen=12_300),
        account(2, "HT-2024-008", "陈七", overdue_fen=12_300),
        account(3, "HT-2024-009", "陈七", overdue_fen=99_900),
    ]
    assert only([line(1, "还款", "陈七")], accounts) == (
        "ambiguous",
        None,
        [1, 2],
        "name_and_amount",
    )


def test_name_without_a_fitting_amount_is_ambiguous_with_every_account_of_that_name():
    accounts = [
        account(1, "HT-2024-007", "陈七"),
        account(2, "HT-2024-008", "陈七"),
        account(3, "HT-2024-009", "王五"),
    ]
    assert only([line(1, "还款", "陈七")], accounts) == ("ambiguous", None, [1, 2], "name_only")


def test_unknown_payer_is_unmatched():
    assert only([line(1, "货款 INV-88231", "周八")], LEDGER) == UNMATCHED


@pytest.mark.parametrize(
    "fields",
    [
        {"direction": "DBIT"},
        {"reversal": True},
        {"amount_fen": 0},
        {"amount_fen": -12_300},
        {"amount_fen": None},
    ],
)
def test_money_out_and_reversals_are_ignored(fields):
    assert only([line(1, "HT-2024-001", "张三", **fields)], LEDGER) == IGNORED


def test_is_payment_column_is_honoured():
    lines = pl.DataFrame([line(1, "HT-2024-001")], schema=LINE_SCHEMA).with_columns(
        is_payment=pl.lit(False)
    )
    result = match_lines(lines, pl.DataFrame(LEDGER, schema=ACCOUNT_SCHEMA))
    assert result["status"].to_list() == ["ignored"]


def test_optional_columns_may_be_absent():
    lines = pl.DataFrame([line(1, "HT-2024-001")], schema=LINE_SCHEMA).drop("direction", "reversal")
    accounts = pl.DataFrame(LEDGER, schema=ACCOUNT_SCHEMA).drop("installment_fen")
    assert match_lines(lines, accounts)["account_id"].to_list() == [1]


def test_missing_columns_are_a_programming_error():
    with pytest.raises(ValueError, match="remittance_text"):
        match_lines(pl.DataFrame({"line_id": [1]}), pl.DataFrame(LEDGER, schema=ACCOUNT_SCHEMA))


def test_empty_inputs():
    assert match([], LEDGER) == []
    assert match([line(1, "HT-2024-001", "张三")], []) == [UNMATCHED]


def test_string_ids_keep_their_type():
    lines = pl.DataFrame([line(1, "HT-2024-001")], schema=LINE_SCHEMA).with_columns(
        pl.lit("L-1").alias("line_id")
    )
    accounts = pl.DataFrame(LEDGER, schema=ACCOUNT_SCHEMA).with_columns(
        pl.format("A-{}", "account_id").alias("account_id")
    )
    result = match_lines(lines, accounts)
    assert result.row(0) == ("L-1", "matched", "A-1", ["A-1"], "contract_in_text")


# --- Determinism ----------------------------------------------------------------------------


def test_same_answer_whatever_the_order_of_rows():
    accounts = [
        *LEDGER,
        account(3, "HT-2024-003", "陈七", overdue_fen=12_300),
        account(4, "HT-2024-004", "陈七", overdue_fen=12_300),
        account(5, "HT2024001", "某公司"),
    ]
    lines = [
        line(10, "HT-2024-001"),
        line(11, None, "陈七"),
        line(12, "HT 2024 002", direction="DBIT"),
        line(13, "HT-2024-002 HT-2024-003"),
        line(14, "nothing"),
    ]
    expected = match(lines, accounts)
    shuffler = random.Random(3)
    for _ in range(5):
        shuffled_lines, shuffled_accounts = lines[:], accounts[:]
        shuffler.shuffle(shuffled_lines)
        shuffler.shuffle(shuffled_accounts)
        ids = [x["line_id"] for x in shuffled_lines]
        got = dict(zip(ids, match(shuffled_lines, shuffled_accounts), strict=True))
        assert [got[x["line_id"]] for x in lines] == expected


# --- Properties -------------------------------------------------------------------------------

# No Z: distractor contract numbers start with Z, so no rendering can contain one.
ALPHABET = "ABCDEFGHJKLMNPQRSTUVWXY0123456789"
SEPARATORS = ["", "", "", " ", "  ", "-", "－", "—", "‐", "–", "_", "/", ".", " - ", "\u3000"]
parts = st.lists(st.text(ALPHABET, min_size=1, max_size=6), min_size=1, max_size=4).filter(
    lambda chunks: len("".join(chunks)) >= 5
)


def _full_width(char: str) -> str:
    return chr(ord(char) + 0xFEE0)


@st.composite
def written(draw: st.DrawFn, chunks: list[str]) -> str:
    """The contract number as a payer might type it: any spacing, dashes, case, width."""
    out: list[str] = []
    for char in "".join(chunks):
        if out:
            out.append(draw(st.sampled_from(SEPARATORS)))
        char = draw(st.sampled_from([char, char.lower()]))
        out.append(draw(st.sampled_from([char, _full_width(char)])))
    return "".join(out)


@settings(max_examples=40, deadline=None)
@given(data=st.data(), chunks=parts)
def test_any_spacing_or_hyphenation_still_matches(data, chunks):
    contract_no = "-".join(chunks)
    text = data.draw(written(chunks))
    before = data.draw(st.sampled_from(["", "还款 ", "合同号", "合同号：", "payment for ", "No."]))
    after = data.draw(st.sampled_from(["", " 谢谢", "还款", "，三月", " thanks"]))
    accounts = [account(1, contract_no), account(2, "Z" + "".join(chunks)), account(3, "ZZ-99999")]
    assert only([line(1, before + text + after)], accounts) == MATCHED_1


@settings(max_examples=50, deadline=None)
@given(data=st.data(), chunks=parts)
def test_contract_key_ignores_spacing_case_and_width(data, chunks):
    keys = pl.DataFrame({"c": ["".join(chunks), data.draw(written(chunks))]}).select(
        contract_key(pl.col("c"))
    )
    assert keys["c"].to_list() == ["".join(chunks).upper()] * 2


HAN = st.characters(min_codepoint=0x4E00, max_codepoint=0x9FA5)


@settings(max_examples=100, deadline=None)
@given(
    name=st.text(HAN, min_size=2, max_size=8),
    spaces=st.lists(st.integers(0, 8), max_size=3),
    form=st.sampled_from(["", "有限公司", "有限责任公司", "股份有限公司", " 有限公司"]),
)
def test_name_key_ignores_spaces_and_company_form(name, spaces, form):
    spaced = name
    for position in sorted(spaces, reverse=True):
        spaced = spaced[:position] + " " + spaced[position:]
    keys = pl.DataFrame({"n": [name + "有限公司", "\u3000" + spaced + form + " "]})
    assert keys.select(name_key(pl.col("n")))["n"].n_unique() == 1
