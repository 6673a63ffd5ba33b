"""Time ``ledger_import`` end to end: read, validate, report, upsert, on a fresh database.

    .venv/bin/python bench/intake_import.py                    # everything below (about 25 min)
    .venv/bin/python bench/intake_import.py --db postgresql --shape single --format csv-gbk
    .venv/bin/python bench/intake_import.py --rows 200000 --format csv-utf8   # memory vs size

Files, written into a temporary directory by a process of their own, as teams bring them:

- ``csv-gbk``: a 1,000,000-row CSV as Chinese Excel saves "CSV (逗号分隔)": GBK, CRLF, a title
  row above the header, a totals row below, dates like 2025/3/15, amounts with and without
  thousands separators; ``csv-utf8``: the same in UTF-8 with a BOM ("CSV UTF-8");
- ``xlsx``: a 100,000-row workbook (``--xlsx-rows``) with a merged title row over the header,
  typed cells (numbers, dates) as Excel keeps them.

Shapes: ``installments`` (loans of 1–12 monthly installments, 6.5 on average: about 154,000
accounts and debtors per million rows, 30% with a guarantor) and ``single`` (trade invoices:
one invoice per account and one company with a valid credit code per account, the worst case
for the upsert). One row in a thousand has an impossible due date (2025/2/30), so each import
also writes an error report; the imports run "valid rows only".

For each database, shape and format, a fresh database (PostgreSQL ``huikuan_import_bench`` on
``--server-url``, created, migrated and dropped; or a SQLite file in a temporary directory) in a
process of its own, three imports are timed: the file (``first``), the same file again
(``again``: must write nothing) and the file with ``--changed`` of the paid amounts raised
(``changed``). Printed: seconds, rows/s, peak RSS of the process, rows read and rejected, what
was written, audit events added.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np
import polars as pl

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

DEFAULT_SERVER = "postgres://postgres@127.0.0.1:5432"
SCRATCH = "huikuan_import_bench"
FORMATS = ("csv-gbk", "csv-utf8", "xlsx")
SHAPES = ("installments", "single")
START = dt.date(2025, 1, 15)  # first due dates fall in 2025 and 2026
BAD_EVERY = 1000
TITLE = "2025年催收台账（导出）"

HEADERS = {
    "installments": [
        "序号", "客户名称", "证件号码", "合同编号", "产品类型", "币种", "合同金额", "放款日期",
        "期数", "到期日", "应还本金", "应还利息", "罚息", "已还金额", "手机号码", "联系地址",
        "担保人", "担保人电话", "备注",
    ],
    "single": [
        "序号", "客户名称", "统一社会信用代码", "合同编号", "发票号码", "业务类型", "币种",
        "合同日期", "到期日", "应收金额", "已收金额", "联系电话", "注册地址", "备注",
    ],
}  # fmt: skip
SURNAMES = list("王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗郑梁谢宋唐许韩冯邓曹彭曾肖田董袁潘")
GIVEN = list("伟芳娜敏静丽强磊军洋勇艳杰娟涛明超秀霞平刚桂英华玉兰萍建文辉力")
TRADES = ["贸易", "建材", "机电", "科技", "商贸", "电子", "物流", "食品", "化工", "纺织"]
STREETS = ["人民路", "建国路", "解放路", "中山路", "和平路", "长江路", "黄河路", "新华路"]
MOBILE_PREFIXES = ["135", "138", "139", "150", "158", "186", "188", "189"]
CITIES = ["北京市朝阳区", "上海市浦东新区", "广州市天河区", "深圳市南山区", "成都市武侯区"]

Array = np.ndarray[Any, Any]

# --- valid ID numbers and credit codes, vectorised -----------------------------------------

_RID_WEIGHTS = np.array([7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2])
_USCC_CHARSET = "0123456789ABCDEFGHJKLMNPQRTUWXY"
_USCC_WEIGHTS = np.array([1, 3, 9, 27, 19, 26, 16, 17, 20, 29, 25, 13, 8, 24, 10, 30, 28])
_ORG_WEIGHTS = np.array([3, 7, 9, 10, 5, 8, 4, 2])


def _digits(text: pl.Series, width: int) -> Array:
    """An (n, width) array of the digits of equal-length digit strings."""
    raw = np.frombuffer("".join(text.to_list()).encode("ascii"), dtype=np.uint8)
    return (raw.reshape(-1, width) - 48).astype(np.int64)


def resident_ids(index: Array) -> pl.Series:
    """A distinct valid resident ID number per index (GB 11643 check character)."""
    regions = np.array([110101, 310104, 440305, 510107, 330106])
    birth = np.datetime64("1960-01-01") + (index // 1000) % 15000
    first17 = (
        pl.Series(regions[index % len(regions)]).cast(pl.String)
        + pl.Series(birth).dt.strftime("%Y%m%d")
        + pl.Series(index % 1000).cast(pl.String).str.zfill(3)
    )
    check = (_digits(first17, 17) * _RID_WEIGHTS).sum(axis=1) % 11
    return first17 + pl.Series(np.array(list("10X98765432"))[check])


def credit_codes(index: Array) -> pl.Series:
    """A distinct valid unified social credit code per index (both check characters)."""
    body = pl.Series(index).cast(pl.String).str.zfill(8)
    org = 11 - (_digits(body, 8) * _ORG_WEIGHTS).sum(axis=1) % 11
    org_char = np.where(org == 10, "X", np.where(org == 11, "0", org.astype(str)))
    regions = np.array(["110105", "310115", "440106", "440305", "510107"])
    first17 = "91" + pl.Series(regions[index % len(regions)]) + body + pl.Series(org_char)
    values = {c: i for i, c in enumerate(_USCC_CHARSET)}
    chars = np.array([[values[c] for c in code] for code in first17.to_list()])
    check = (31 - (chars * _USCC_WEIGHTS).sum(axis=1) % 31) % 31
    return first17 + pl.Series(np.array(list(_USCC_CHARSET))[check])


# --- the ledger -----------------------------------------------------------------------------


def ledger(rows: int, shape: str, *, changed: float = 0.0, seed: int = 2025) -> pl.DataFrame:
    """Typed rows (fen, dates) in the file's column order; ``changed`` of the rows that still
    owe something pay 100.00 more."""
    rng = np.random.default_rng(seed)
    if shape == "single":
        terms = np.ones(rows, dtype=np.int64)
    else:
        terms = rng.integers(1, 13, size=rows // 6 + 1)  # mean 6.5
        terms = terms[: int(np.searchsorted(np.cumsum(terms), rows)) + 1]
    accounts = len(terms)
    acc = np.repeat(np.arange(accounts), terms)[:rows]
    j = np.arange(rows) - np.concatenate(([0], np.cumsum(terms)[:-1]))[acc]
    opened = np.datetime64(START) - 30 + rng.integers(0, 600, accounts)
    due = opened[acc] + 30 * (j + 1)
    today = np.datetime64(dt.date(2026, 11, 23))
    principal = rng.integers(20_000, 3_000_000, accounts)[acc]  # fen per item
    interest = np.where(shape == "single", 0, principal // 60)
    fee = np.where(rng.random(rows) < 0.1, 5_000, 0)
    total = principal + interest + fee
    draw = rng.random(rows)
    paid = np.where((due < today) & (draw < 0.7), total, np.where(draw < 0.8, total // 3, 0))
    if changed:
        # Another generator: the rest of the file stays as it was.
        pick = (np.random.default_rng(seed + 1).random(rows) < changed) & (paid + 10_000 <= total)
        paid = paid + pick * 10_000
    names = _names(acc, shape, rng)
    phones = pl.Series(rng.choice(MOBILE_PREFIXES, accounts)[acc]) + pl.Series(
        10**8 + acc * 7919 % 10**8
    ).cast(pl.String).str.slice(1)
    address = (
        pl.Series(np.array(CITIES)[acc % len(CITIES)])
        + pl.Series(np.array(STREETS)[acc % len(STREETS)])
        + pl.Series(acc % 999 + 1).cast(pl.String)
        + "号"
    )
    common = {
        "序号": np.arange(1, rows + 1),
        "客户名称": names,
    }
    if shape == "single":
        return pl.DataFrame(
            {
                **common,
                "统一社会信用代码": credit_codes(acc),
                "合同编号": "XS" + pl.Series(acc).cast(pl.String).str.zfill(9),
                "发票号码": "FP" + pl.Series(acc + 10**7).cast(pl.String),
                "业务类型": "应收账款",
                "币种": "人民币",
                "合同日期": pl.Series(opened[acc]).cast(pl.Date),
                "到期日": pl.Series(due).cast(pl.Date),
                "应收金额": principal + fee,
                "已收金额": np.minimum(paid, principal + fee),
                "联系电话": phones,
                "注册地址": address,
                "备注": None,
            }
        )
    guarantor = rng.random(accounts)[acc] < 0.3
    return pl.DataFrame(
        {
            **common,
            "证件号码": resident_ids(acc),
            "合同编号": "XD" + pl.Series(acc).cast(pl.String).str.zfill(9),
            "产品类型": "消费贷",
            "币种": "人民币",
            "合同金额": np.bincount(acc, weights=principal)[acc].astype(np.int64),
            "放款日期": pl.Series(opened[acc]).cast(pl.Date),
            "期数": j + 1,
            "到期日": pl.Series(due).cast(pl.Date),
            "应还本金": principal,
            "应还利息": interest,
            "罚息": fee,
            "已还金额": paid,
            "手机号码": phones,
            "联系地址": address,
            "担保人": pl.select(
                pl.when(pl.Series(guarantor)).then("担保人" + names.str.slice(0, 1))
            ).to_series(),
            "担保人电话": pl.select(
                pl.when(pl.Series(guarantor)).then(phones.str.slice(0, 10) + "9")
            ).to_series(),
            "备注": None,
        }
    )


def _names(acc: Array, shape: str, rng: np.random.Generator) -> pl.Series:
    n = int(acc.max()) + 1
    surname = np.array(SURNAMES)[rng.integers(0, len(SURNAMES), n)]
    if shape == "single":
        trade = np.array(TRADES)[rng.integers(0, len(TRADES), n)]
        names = (
            pl.Series(surname)
            + "氏"
            + pl.Series(trade)
            + "有限公司"
            + pl.Series(np.arange(n)).cast(pl.String)
        )
    else:
        given = np.array(GIVEN)[rng.integers(0, len(GIVEN), (n, 2))]
        names = pl.Series(surname) + pl.Series(given[:, 0]) + pl.Series(given[:, 1])
    return names.gather(acc)


def as_text(frame: pl.DataFrame) -> pl.DataFrame:
    """The cells as Chinese Excel writes them to CSV; every ``BAD_EVERY``-th due date broken."""
    money = [c for c in frame.columns if frame[c].dtype == pl.Int64 and c not in ("序号", "期数")]
    n = pl.int_range(pl.len())
    out = frame.with_columns(
        *[
            pl.when(n % 7 == 3)  # some cells were typed with thousands separators
            .then(_yuan(pl.col(c), thousands=True))
            .otherwise(_yuan(pl.col(c), thousands=False))
            .alias(c)
            for c in money
        ],
        *[pl.col(c).dt.strftime("%Y/%-m/%-d") for c in frame.columns if frame[c].dtype == pl.Date],
    )
    return out.with_columns(
        pl.when(n % BAD_EVERY == BAD_EVERY - 1)
        .then(pl.lit("2025/2/30"))
        .otherwise(pl.col("到期日"))
        .alias("到期日")
    ).cast(pl.String)


def _yuan(fen: pl.Expr, *, thousands: bool) -> pl.Expr:
    yuan = (fen // 100).cast(pl.String)
    if thousands:
        yuan = yuan.str.reverse().str.replace_all(r"(\d{3})", "$1,").str.reverse()
        yuan = yuan.str.strip_chars_start(",")
    return pl.concat_str(yuan, pl.lit("."), (fen % 100).cast(pl.String).str.zfill(2))


def write_csv(path: Path, frame: pl.DataFrame, encoding: str) -> None:
    """Title row, header, rows, totals row; CRLF; GBK, or UTF-8 with a BOM."""
    header = ",".join(frame.columns) + "\r\n"
    with path.open("wb") as out:
        out.write(b"\xef\xbb\xbf" if encoding == "utf-8" else b"")
        out.write(f"{TITLE}{',' * (frame.width - 1)}\r\n".encode(encoding))
        out.write(header.encode(encoding))
        for block in frame.iter_slices(100_000):
            text = block.write_csv(include_header=False, line_terminator="\r\n")
            out.write(text.encode(encoding))
        out.write(f"合计{',' * (frame.width - 1)}\r\n".encode(encoding))


def write_xlsx(path: Path, frame: pl.DataFrame) -> None:
    """A streamed workbook: merged title row, header, typed cells (amounts in yuan as numbers,
    dates as dates, ID numbers and codes as text), a totals row."""
    import openpyxl
    from openpyxl.worksheet.cell_range import CellRange

    workbook = openpyxl.Workbook(write_only=True)
    sheet = workbook.create_sheet("台账")
    sheet.merged_cells.add(CellRange(min_col=1, min_row=1, max_col=frame.width, max_row=1))
    sheet.append([TITLE])
    sheet.append(frame.columns)
    money = [c for c in frame.columns if frame[c].dtype == pl.Int64 and c not in ("序号", "期数")]
    n = pl.int_range(pl.len())
    typed = frame.with_columns(
        *[(pl.col(c) / 100).alias(c) for c in money],
        # A date Excel cannot hold stays the text someone typed.
        pl.when(n % BAD_EVERY == BAD_EVERY - 1)
        .then(pl.lit(None))
        .otherwise(pl.col("到期日"))
        .alias("到期日"),
        (n % BAD_EVERY == BAD_EVERY - 1).alias("__bad__"),
    )
    due = typed.columns.index("到期日")
    for values in typed.iter_rows():
        cells = list(values[:-1])
        if values[-1]:
            cells[due] = "2025/2/30"
        sheet.append(cells)
    sheet.append(["合计"])
    workbook.save(path)


def generate(
    folder: Path, rows: int, xlsx_rows: int, shapes: list[str], formats: list[str]
) -> None:
    for shape in shapes:
        for label, changed in (("", 0.0), ("-changed", 0.01)):
            if "csv-gbk" in formats or "csv-utf8" in formats:
                text = as_text(ledger(rows, shape, changed=changed))
                if "csv-gbk" in formats:
                    write_csv(folder / f"{shape}{label}-gbk.csv", text, "gbk")
                if "csv-utf8" in formats:
                    write_csv(folder / f"{shape}{label}-utf8.csv", text, "utf-8")
            if "xlsx" in formats:
                write_xlsx(
                    folder / f"{shape}{label}.xlsx", ledger(xlsx_rows, shape, changed=changed)
                )


def file_name(shape: str, fmt: str, *, changed: bool = False) -> str:
    label = "-changed" if changed else ""
    return f"{shape}{label}.xlsx" if fmt == "xlsx" else f"{shape}{label}-{fmt[4:]}.csv"


# --- one database, one file (a child process) -----------------------------------------------


def _admin(server: str, statement: str) -> None:
    import psycopg

    with psycopg.connect(f"{server}/postgres", autocommit=True) as conn:
        conn.execute(statement)


def child(args: argparse.Namespace) -> dict[str, Any]:
    scratch = tempfile.mkdtemp(prefix="huikuan-bench-")  # the SQLite file and the reports
    if args.db == "sqlite":
        os.environ.pop("DATABASE_URL", None)
        os.environ["HUIKUAN_VAR_DIR"] = scratch
    else:
        _admin(args.server_url, f'DROP DATABASE IF EXISTS "{SCRATCH}"')
        _admin(args.server_url, f'CREATE DATABASE "{SCRATCH}"')
        os.environ["DATABASE_URL"] = f"{args.server_url}/{SCRATCH}"
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "huikuan.settings")
    try:
        return _measure(args, Path(scratch))
    finally:
        from django.db import connections

        connections.close_all()
        shutil.rmtree(scratch, ignore_errors=True)
        if args.db == "postgresql":
            _admin(args.server_url, f'DROP DATABASE "{SCRATCH}"')


def _measure(args: argparse.Namespace, scratch: Path) -> dict[str, Any]:
    import django

    django.setup()
    from django.core.management import call_command

    from huikuan.audit.models import AuditEvent
    from huikuan.intake.ledger_import import ledger_import
    from huikuan.ledger.models import Creditor
    from huikuan.ledger.services import portfolio_create

    call_command("migrate", verbosity=0)
    creditor = Creditor.objects.create(code="BENCH", name="压测银行")
    portfolio = portfolio_create(creditor=creditor, code="P1", name="压测资产包", actor=None)
    out: dict[str, Any] = {}
    for label, path in (("first", args.file), ("again", args.file), ("changed", args.changed)):
        events = AuditEvent.objects.count()
        started = time.perf_counter()
        result = ledger_import(
            Path(path),
            creditor=creditor,
            portfolio=portfolio,
            actor=None,
            mode="valid_only",
            language="zh-hans",
            report_path=scratch / f"{label}-errors.csv",
            source=label,
        )
        out[label] = {
            "seconds": time.perf_counter() - started,
            "rows_read": result.rows_read,
            "rows_rejected": result.rows_rejected,
            "written": result.written,
            "counts": result.counts,
            "audit_events": AuditEvent.objects.count() - events,
            "peak_rss_mib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
        }
    return out


# --- the driver -----------------------------------------------------------------------------


def _arguments() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000, help="rows of each CSV file")
    parser.add_argument("--xlsx-rows", type=int, default=100_000, help="rows of each workbook")
    parser.add_argument("--shape", choices=(*SHAPES, "both"), default="both")
    parser.add_argument("--db", choices=("postgresql", "sqlite", "both"), default="both")
    parser.add_argument("--format", choices=(*FORMATS, "all"), default="all")
    parser.add_argument("--server-url", default=DEFAULT_SERVER)
    parser.add_argument(
        "--purge-memory",
        action="store_true",
        help="have Polars' allocator return freed memory at once (to see what is really held)",
    )
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--generate", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--file", help=argparse.SUPPRESS)
    parser.add_argument("--changed", help=argparse.SUPPRESS)
    return parser.parse_args()


def _report(db: str, shape: str, fmt: str, size: float, result: dict[str, Any]) -> None:
    print(f"{db}, {shape}, {fmt} ({size:,.0f} MiB)")
    for label in ("first", "again", "changed"):
        step = result[label]
        counts = {k: v for k, v in step["counts"].items() if v and k != "rows"}
        print(
            f"  {label:8}{step['seconds']:7.1f} s {step['rows_read'] / step['seconds']:>10,.0f}"
            f" rows/s  peak RSS {step['peak_rss_mib']:5,.0f} MiB  read {step['rows_read']:,}"
            f"  rejected {step['rows_rejected']:,}  audit events {step['audit_events']:,}"
            f"  {counts}"
        )


def main() -> None:
    args = _arguments()
    if args.child:
        print(json.dumps(child(args), default=str))
        return
    shapes = list(SHAPES) if args.shape == "both" else [args.shape]
    dbs = ["postgresql", "sqlite"] if args.db == "both" else [args.db]
    formats = list(FORMATS) if args.format == "all" else [args.format]
    if args.generate:
        generate(args.generate, args.rows, args.xlsx_rows, shapes, formats)
        return
    with tempfile.TemporaryDirectory(prefix="huikuan-bench-") as tmp:
        folder = Path(tmp)
        started = time.perf_counter()
        # In a process of its own: Linux hands a parent's peak RSS down through fork and exec,
        # so the measuring children must start from a parent that never held the data.
        command = [sys.executable, __file__, "--generate", tmp, "--rows", str(args.rows)]
        command += ["--xlsx-rows", str(args.xlsx_rows), "--shape", args.shape]
        command += ["--format", args.format]
        subprocess.run(command, check=True)  # noqa: S603
        print(f"generated the files in {time.perf_counter() - started:.0f} s")
        for db in dbs:
            for shape in shapes:
                for fmt in formats:
                    path = folder / file_name(shape, fmt)
                    changed = folder / file_name(shape, fmt, changed=True)
                    command = [sys.executable, __file__, "--child", "--db", db]
                    command += ["--file", str(path), "--changed", str(changed)]
                    command += ["--server-url", args.server_url]
                    env = dict(os.environ)
                    if args.purge_memory:
                        # jemalloc keeps freed pages for ten seconds by default, so a faster or
                        # longer run shows a higher peak without holding more.
                        env["_RJEM_MALLOC_CONF"] = "dirty_decay_ms:0,muzzy_decay_ms:0"
                    out = subprocess.run(  # noqa: S603
                        command, check=True, capture_output=True, text=True, env=env
                    )
                    size = path.stat().st_size / 2**20
                    _report(db, shape, fmt, size, json.loads(out.stdout.strip().splitlines()[-1]))


if __name__ == "__main__":
    main()
