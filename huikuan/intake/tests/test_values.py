"""The vectorised parsers on the values teams actually write."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import polars as pl
import pytest

from huikuan.intake import idnumbers, values
from huikuan.intake.readers import cell_text


def parse(parser_factory, cells, *outputs):
    frame = pl.DataFrame({"cell": cells}, schema={"cell": pl.String})
    result = values.run(frame, [parser_factory(pl.col("cell"), "out")])
    return result.select(outputs or ["out"]).rows()


@pytest.mark.parametrize(
    "cell",
    [
        "2025-03-01",
        "2025/3/1",
        "2025/03/01",
        "2025.3.1",
        "2025-3-1",
        "2025年3月1日",
        "2025年03月01日",
        "２０２５年３月１日",
        "20250301",
        "45717",
        "45717.5",
        " 2025-03-01 ",
        "2025-03-01 00:00:00",
        "2025/3/1 9:05",
        "2025-03-01T14:30:15.123",
    ],
)
def test_dates(cell):
    assert parse(values.parse_date, [cell]) == [(dt.date(2025, 3, 1),)]


@pytest.mark.parametrize(
    "cell",
    [
        "2025-02-30",
        "2025-3/1",  # two separators
        "01/03/2025",  # day first or month first? refused
        "2025-03-01 25:00",
        "60",  # Excel's 29 February 1900
        "0",
        "18991231",  # before 1900
        "yesterday",
        "2025年3月",
    ],
)
def test_not_dates(cell):
    assert parse(values.parse_date, [cell]) == [(None,)]


def test_excel_serials_around_the_lotus_bug():
    cells = ["1", "59", "61", "45717"]
    expected = [dt.date(1900, 1, 1), dt.date(1900, 2, 28), dt.date(1900, 3, 1), dt.date(2025, 3, 1)]
    assert [r[0] for r in parse(values.parse_date, cells)] == expected


def test_empty_cells_are_null_not_errors():
    assert parse(values.parse_date, [None, "", "  "]) == [(None,)] * 3
    out = parse(values.parse_amount, [None, "", " "], "out", "out_problem")
    assert out == [(None, None)] * 3


@pytest.mark.parametrize(
    ("cell", "fen", "places"),
    [
        ("1234.5", 123450, 1),
        ("1,234.50", 123450, 1),
        ("￥1,234.50", 123450, 1),
        ("¥ 1,234.50", 123450, 1),
        ("1234.5元", 123450, 1),
        ("RMB 1,000", 100000, 0),
        ("1000 cny", 100000, 0),
        ("人民币100", 10000, 0),
        ("１２３４．５", 123450, 1),
        ("１，２３４．５元", 123450, 1),
        ("(1,200.00)", -120000, 0),
        ("（1,200.00）", -120000, 0),
        ("-5", -500, 0),
        ("−5", -500, 0),  # U+2212 minus
        ("-¥5", -500, 0),
        ("¥-5", -500, 0),
        ("+5", 500, 0),
        (".5", 50, 1),
        ("5.", 500, 0),
        ("12.3400", 1234, 2),
        ("0", 0, 0),
        ("9999999999999999.99", 999999999999999999, 2),
    ],
)
def test_amounts(cell, fen, places):
    assert parse(values.parse_amount, [cell], "out", "out_places", "out_problem") == [
        (fen, places, None)
    ]


@pytest.mark.parametrize(
    ("cell", "problem"),
    [
        ("abc", "invalid"),
        ("1,5", "invalid"),  # commas group by three
        ("1,23,456", "invalid"),
        ("-¥-5", "invalid"),
        ("(-5)", "invalid"),
        ("--5", "invalid"),
        (".", "invalid"),
        ("1.2.3", "invalid"),
        ("5 5", "invalid"),
        ("$5", "invalid"),
        ("12.345", "precision"),
        ("99999999999999999", "too_large"),
    ],
)
def test_not_amounts(cell, problem):
    assert parse(values.parse_amount, [cell], "out", "out_problem") == [(None, problem)]


def test_fen_to_decimal_is_exact():
    frame = pl.DataFrame({"fen": [123456, -5, 0, 999999999999999999]})
    out = frame.select(values.fen_to_decimal(pl.col("fen"))).to_series().to_list()
    assert out == [
        Decimal("1234.56"),
        Decimal("-0.05"),
        Decimal("0.00"),
        Decimal("9999999999999999.99"),
    ]


def test_words():
    table = values.word_table(
        ["人民币", " RMB ", "usd", "美元", "港币", "HK$", "澳元", "??"], values.CURRENCY_WORDS
    )
    assert table == {
        "人民币": "CNY",
        " RMB ": "CNY",
        "usd": "USD",
        "美元": "USD",
        "港币": "HKD",
        "HK$": "HKD",
        "澳元": "AUD",
        "??": None,
    }
    products = values.word_table(
        ["消费贷", "Credit Card", "应收账款", "货款", "其它", "loan"], values.PRODUCT_WORDS
    )
    assert products == {
        "消费贷": "loan",
        "Credit Card": "credit_card",
        "应收账款": "trade",
        "货款": "trade",
        "其它": "other",
        "loan": "loan",
    }


@pytest.mark.parametrize(
    ("cell", "e164"),
    [
        ("13812345678", "+8613812345678"),
        ("138 1234 5678", "+8613812345678"),
        ("138-1234-5678", "+8613812345678"),
        ("+86 138 1234 5678", "+8613812345678"),
        ("0086-13812345678", "+8613812345678"),
        ("（138）12345678", "+8613812345678"),
        ("010-62345678", None),  # a landline: for the fallback
        ("15412345678", None),  # 154 is no mobile range
        ("12345", None),
    ],
)
def test_phone_fast_path(cell, e164):
    assert parse(values.phone_fast, [cell]) == [(e164,)]


def test_phone_fallback():
    found = values.phone_fallback(
        ["010-62345678", "0755-2345 6789", "+852 9123 4567", "12345", "x"]
    )
    assert found == {
        "010-62345678": "+861062345678",
        "0755-2345 6789": "+8675523456789",
        "+852 9123 4567": "+85291234567",
        "12345": None,
        "x": None,
    }


def test_id_checks_say_what_is_wrong():
    cells = [
        "11010519491231002X",  # valid resident ID (the standard's example)
        "11010519491231002x",  # lower-case x is fine
        "110105194912310021",  # check character: should be X
        "110105194902300024",  # 30 February
        "110105194912310",  # old 15-digit card
        "1101051949123100",  # 16 characters
        "91110000MA1K2B3C5L",  # valid credit code
        "91110000MA1K2B3C50",  # check character: should be L
        "91110000MA1K2B3I5L",  # I is not in the set
        "91AB0000MA1K2B3C5L",  # region letters
    ]
    frame = pl.DataFrame({"n": cells}).with_columns(n=idnumbers.id_normalize(pl.col("n")))
    out = values.run(frame, [idnumbers.id_checks("n", "id", uscc_also=pl.lit(True))])
    rows = out.select("id_rid", "id_rid_check", "id_uscc", "id_uscc_check").rows()
    assert [r[0] for r in rows] == [
        None, None, "check", "birth_date", "old_15", "length",
        "format", "format", "format", "format",
    ]  # fmt: skip
    assert rows[2][1] == "X"
    assert [r[2] for r in rows[6:]] == [None, "check", "charset", "region"]
    assert rows[7][3] == "L"


def test_kind_from_id_and_name():
    frame = pl.DataFrame(
        {
            "n": ["11010519491231002X", "91110000MA1K2B3C5L", "110105194912310021", "X123", "X123"],
            "name": ["张三", "某某公司", "李四", "华信贸易有限公司", "王五"],
        }
    )
    out = values.run(frame, [idnumbers.id_checks("n", "id")]).select(
        idnumbers.infer_kind(pl.col("n"), pl.col("name"), pl.col("id_rid"), pl.col("id_uscc"))
    )
    assert out.to_series().to_list() == [
        "individual", "enterprise", "individual", "enterprise", "enterprise",
    ]  # fmt: skip


@pytest.mark.parametrize(
    ("value", "text"),
    [
        (None, None),
        ("张三", "张三"),
        (True, "TRUE"),
        (13812345678, "13812345678"),
        (13812345678.0, "13812345678"),
        (1234.5, "1234.5"),
        (0.1 + 0.2, "0.3"),  # 15 significant digits, as Excel shows it
        (1e-7, "0.0000001"),
        (1e20, "100000000000000000000"),
        (Decimal("12.30"), "12.30"),
        (dt.datetime(2025, 3, 1), "2025-03-01"),
        (dt.datetime(2025, 3, 1, 14, 30), "2025-03-01 14:30:00"),
        (dt.date(2025, 3, 1), "2025-03-01"),
    ],
)
def test_excel_cells_as_text(value, text):
    assert cell_text(value) == text
