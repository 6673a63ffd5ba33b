"""Ledger files as teams bring them, built in a test's tmp_path."""

from __future__ import annotations

import csv
import datetime as dt
import io
from collections.abc import Sequence
from pathlib import Path

import openpyxl

from huikuan.lib.ids import resident_id_make, uscc_make

HEADERS = [
    "序号", "客户名称", "证件号码", "合同编号", "产品类型", "币种", "期数", "到期日",
    "应还本金", "应还利息", "罚息", "已还金额", "手机号码", "联系地址",
]  # fmt: skip
TITLE = "2025年3月催收台账"
RID = resident_id_make("110101", dt.date(1985, 3, 1), 7)  # 11010119850301007X
RID2 = resident_id_make("440305", dt.date(1990, 12, 31), 123)
USCC = uscc_make(org_code_body="MA1K2B3C")  # 91110000MA1K2B3C5L


def row(**cells: str) -> list[str]:
    """A valid row, with ``cells`` (by header) replaced."""
    base = {
        "序号": "1",
        "客户名称": "张三",
        "证件号码": RID,
        "合同编号": "HT2025001",
        "产品类型": "消费贷",
        "币种": "人民币",
        "期数": "1",
        "到期日": "2025/3/1",
        "应还本金": "1,000.00",
        "应还利息": "50.5",
        "罚息": "",
        "已还金额": "100",
        "手机号码": "138 1234 5678",
        "联系地址": "北京市朝阳区建国路88号",
    }
    base.update(cells)
    return [base[header] for header in HEADERS]


def csv_text(rows: Sequence[Sequence[str]], *, title: bool = True, totals: bool = True) -> str:
    """What Excel writes for "CSV (逗号分隔)": CRLF, quotes only where needed, the merged title
    row as a first cell and empty ones, a totals row at the bottom."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    width = len(HEADERS)
    if title:
        writer.writerow([TITLE] + [""] * (width - 1))
    writer.writerow(HEADERS)
    writer.writerows(rows)
    if totals:
        writer.writerow(["合计"] + [""] * (width - 1))
    return out.getvalue()


def write_csv(
    path: Path, rows: Sequence[Sequence[str]], *, encoding: str = "gbk", **kw: bool
) -> Path:
    path.write_bytes(csv_text(rows, **kw).encode(encoding))
    return path


def write_xlsx(
    path: Path, rows: Sequence[Sequence[object]], *, headers: Sequence[str] = HEADERS
) -> Path:
    """A workbook with a merged title row over the header and a SUM totals row at the bottom
    (its cached value absent, as when a program rather than Excel wrote the file)."""
    workbook = openpyxl.Workbook()
    sheet = workbook.active
    assert sheet is not None
    sheet.cell(1, 1, TITLE)
    sheet.merge_cells(start_row=1, start_column=1, end_row=1, end_column=len(headers))
    sheet.append(list(headers))
    for values in rows:
        sheet.append(list(values))
    last = sheet.max_row
    sheet.append(["合计", *[None] * 7, f"=SUM(I3:I{last})"])
    workbook.save(path)
    return path
