"""Reading CSV (any encoding) and XLSX files as chunks of text, row numbers as users see them."""

from __future__ import annotations

import codecs
import csv
import datetime as dt
import io
import random

import openpyxl
import polars as pl
import pytest

from huikuan.intake import encoding, readers
from huikuan.intake.checks import ROW
from huikuan.intake.errors import IntakeError
from huikuan.intake.readers import iter_chunks

from .ledger_files import HEADERS, RID, TITLE, csv_text, row, write_csv, write_xlsx


def all_rows(path, **kw) -> tuple[readers.Header, list[dict]]:
    chunks = list(iter_chunks(path, **kw))
    return chunks[0].header, pl.concat([c.frame for c in chunks]).to_dicts()


def test_gbk_csv_as_chinese_excel_saves_it(tmp_path):
    path = write_csv(tmp_path / "台账.csv", [row(), row(**{"序号": "2", "期数": "2"})])
    assert b"\r\n" in path.read_bytes() and not path.read_bytes().startswith(codecs.BOM_UTF8)
    header, rows = all_rows(path)
    assert header.row_number == 2  # under the title row
    assert header.cells == tuple(HEADERS)
    assert header.mapping[1] == "debtor_name" and header.mapping[2] == "id_number"
    assert header.unmapped == (0,)  # 序号
    assert [r[ROW] for r in rows] == [3, 4, 5]  # the totals row is the validator's to drop
    assert rows[0]["客户名称"] == "张三" and rows[0]["证件号码"] == RID
    assert rows[2]["序号"] == "合计"


def test_utf8_bom_csv(tmp_path):
    path = tmp_path / "bom.csv"
    path.write_bytes(codecs.BOM_UTF8 + csv_text([row()], title=False, totals=False).encode())
    header, rows = all_rows(path)
    assert header.row_number == 1 and header.cells[0] == "序号"  # no BOM in the first header
    assert [r[ROW] for r in rows] == [2]
    assert rows[0]["联系地址"] == "北京市朝阳区建国路88号"


def test_tab_separated_utf16_as_excel_unicode_text(tmp_path):
    out = io.StringIO()
    writer = csv.writer(out, delimiter="\t", lineterminator="\r\n")
    writer.writerows([HEADERS, row()])
    path = tmp_path / "unicode.txt"
    path.write_bytes(out.getvalue().encode("utf-16"))
    header, rows = all_rows(path)
    assert header.cells == tuple(HEADERS)
    assert rows[0]["应还本金"] == "1,000.00"
    assert rows[0]["客户名称"] == "张三"


def test_xlsx_with_merged_title_totals_and_typed_cells(tmp_path):
    same = ["张三", RID, "HT2025001", "消费贷", "人民币"]
    typed = [
        [1, *same, 1, dt.datetime(2025, 3, 1), 1000, 50.5, None, 0.1 + 0.2, 13812345678, "北京"],
        [2, *same, 2, 45748, 1234.5, 0, None, None, "138 1234 5678", None],
    ]
    path = write_xlsx(tmp_path / "台账.xlsx", typed)
    header, rows = all_rows(path)
    assert header.row_number == 2
    assert [r[ROW] for r in rows] == [3, 4, 5]
    first, second, totals = rows
    assert first["到期日"] == "2025-03-01"
    assert first["应还本金"] == "1000" and first["应还利息"] == "50.5"
    assert first["已还金额"] == "0.3"  # no float artefact
    assert first["手机号码"] == "13812345678"
    assert second["到期日"] == "45748"  # a serial typed as a plain number: parsed later
    assert totals["序号"] == "合计" and totals["应还本金"] is None  # formula never computed


def test_xlsx_blank_rows_are_skipped_but_numbers_kept(tmp_path):
    path = tmp_path / "gaps.xlsx"
    workbook = openpyxl.Workbook()
    sheet = workbook.active
    sheet.append(HEADERS)
    sheet.append(row())
    sheet.append([None] * len(HEADERS))
    sheet.append(["  "] + [None] * (len(HEADERS) - 1))
    sheet.append(row(**{"期数": "2"}))
    workbook.save(path)
    _, rows = all_rows(path)
    assert [r[ROW] for r in rows] == [2, 5]


def test_xlsx_chunks(tmp_path):
    path = write_xlsx(tmp_path / "many.xlsx", [row(**{"期数": str(i)}) for i in range(7)])
    chunks = list(iter_chunks(path, chunk_rows=3))
    assert [c.frame.height for c in chunks] == [3, 3, 2]  # the totals row is in the last
    assert [c.first_row_number for c in chunks] == [3, 6, 9]


def random_records(rng: random.Random, count: int) -> list[list[str]]:
    cells = ["", "a", "张三", "1,234.5", 'say "hi"', "two\r\nlines", "x\ny", " ", "合计"]
    return [[rng.choice(cells) for _ in HEADERS] for _ in range(count)]


@pytest.mark.parametrize("seed", range(6))
def test_record_numbers_across_blocks_and_chunks(tmp_path, monkeypatch, seed):
    """Quoted line breaks, blank lines and block boundaries anywhere: every record comes out
    once, with the number the csv module (and Excel) gives it."""
    monkeypatch.setattr(readers, "CSV_BLOCK_BYTES", 37 + seed * 11)
    rng = random.Random(seed)
    records = random_records(rng, 60)
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow([TITLE])
    writer.writerow(HEADERS)
    for record in records:
        if rng.random() < 0.1:
            out.write("\r\n")  # a blank line
        writer.writerow(record)
    path = tmp_path / "r.csv"
    path.write_bytes(out.getvalue().encode("gbk"))
    expected = [
        (number, [cell or None for cell in record] if record else [None] * len(HEADERS))
        for number, record in enumerate(csv.reader(io.StringIO(out.getvalue(), newline="")), 1)
    ][2:]
    chunks = list(iter_chunks(path, chunk_rows=7))
    got = [
        (r[ROW], [r[name] for name in chunks[0].header.columns])
        for c in chunks
        for r in c.frame.to_dicts()
    ]
    assert got == expected
    assert all(c.frame.height <= 7 for c in chunks)


def test_header_found_below_blank_and_title_lines(tmp_path):
    path = tmp_path / "t.csv"
    path.write_bytes(
        ("\r\n" + TITLE + "\r\n单位：元\r\n" + csv_text([row()], title=False)).encode("gbk")
    )
    header, rows = all_rows(path)
    assert header.row_number == 4
    assert [r[ROW] for r in rows] == [5, 6]


def test_a_header_without_data_still_gives_a_chunk(tmp_path):
    path = tmp_path / "empty.csv"
    path.write_text(",".join(HEADERS) + "\r\n", encoding="utf-8")
    chunks = list(iter_chunks(path))
    assert len(chunks) == 1 and chunks[0].frame.height == 0
    assert chunks[0].header.mapping[1] == "debtor_name"


def test_duplicate_and_empty_headers_get_unique_names(tmp_path):
    path = tmp_path / "dup.csv"
    path.write_text("客户名称,证件号码,电话,电话,,合同编号\r\n张三,1,2,3,4,5\r\n", encoding="utf-8")
    header, rows = all_rows(path)
    assert header.columns == ("客户名称", "证件号码", "电话 (C)", "电话 (D)", "(E)", "合同编号")
    assert header.mapping == {0: "debtor_name", 1: "id_number", 2: "phone", 5: "contract_no"}
    assert rows[0]["电话 (D)"] == "3"


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (b"", "empty"),
        (b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\0" * 100, r"\.xls"),
        (b"PK\x03\x04 not really a zip", "not an Excel workbook"),
        ("随便写点什么\r\n没有表头\r\n".encode("gbk"), "No header row"),
    ],
)
def test_files_that_cannot_be_read(tmp_path, content, message):
    path = tmp_path / "bad"
    path.write_bytes(content)
    with pytest.raises(IntakeError, match=message):
        list(iter_chunks(path))


def test_utf8_file_with_gbk_further_down(tmp_path, monkeypatch):
    monkeypatch.setattr(readers, "CSV_BLOCK_BYTES", 64)
    monkeypatch.setattr(encoding, "SAMPLE_BYTES", 256)  # the GBK lies beyond the sample
    good = csv_text([row()] * 5, totals=False).encode("utf-8")
    path = tmp_path / "mixed.csv"
    path.write_bytes(good + csv_text([row()], title=False, totals=False).encode("gbk"))
    with pytest.raises(IntakeError, match="Line 8 of the file is not text in UTF-8 or GBK"):
        list(iter_chunks(path))
