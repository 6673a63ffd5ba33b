"""Intake micro-benchmark: detect + read + validate a 1,000,000-row ledger CSV, end to end.

    .venv/bin/python bench/intake_parse.py [--rows 1000000] [--chunk-rows 100000]

Writes a ledger CSV the way a Chinese ERP export looks (title row, Chinese headers, mixed
date and amount formats, a totals row, ~1% bad rows, a few landlines for the phone fallback)
in UTF-8 and in GBK with CRLF, into a temporary directory, then times each in a fresh
process (so peak RSS, from ``resource.getrusage``, is that file's alone). No database.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import random
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import polars as pl

from huikuan.lib.ids import resident_id_make, uscc_make

HEADERS = [
    "序号", "客户名称", "证件号码", "合同编号", "产品类型", "币种", "合同金额", "放款日期",
    "期数", "到期日", "应还本金", "应还利息", "罚息", "已还金额", "手机号码", "联系地址",
    "担保人", "担保人电话", "备注",
]  # fmt: skip
SURNAMES = "王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗"
GIVEN = "伟芳娜敏静丽强磊军洋勇艳杰娟涛明超秀霞平刚桂英"


def _debtors(count: int, rng: random.Random) -> list[tuple[str, str]]:
    people = []
    for i in range(count):
        if i % 10 == 0:  # one in ten is a company with a credit code
            body = "".join(rng.choice("0123456789ABCDEFGHJKLMNPQRTUWXY") for _ in range(8))
            people.append(
                (f"{rng.choice(SURNAMES)}氏贸易有限公司{i}", uscc_make(org_code_body=body))
            )
        else:
            birth = dt.date(1960, 1, 1) + dt.timedelta(days=rng.randrange(15000))
            name = rng.choice(SURNAMES) + rng.choice(GIVEN) + rng.choice(GIVEN)
            people.append((name, resident_id_make("110101", birth, rng.randrange(1000))))
    return people


def _date_text(day: dt.date, style: int) -> str:
    serial = (day - dt.date(1899, 12, 30)).days
    return (
        day.isoformat(),
        f"{day.year}/{day.month}/{day.day}",
        f"{day.year}年{day.month}月{day.day}日",
        day.strftime("%Y%m%d"),
        str(serial),
    )[style % 5]


def _amount_text(fen: int, style: int) -> str:
    yuan, cents = divmod(fen, 100)
    return (f"{yuan}.{cents:02d}", f"{yuan:,}.{cents:02d}", f"￥{yuan:,}.{cents:02d}", f"{yuan}")[
        style % 4
    ]


def generate(path: Path, rows: int, seed: int = 7) -> None:
    rng = random.Random(seed)
    debtors = _debtors(20_000, rng)
    start = dt.date(2024, 1, 15)
    columns: dict[str, list[str | None]] = {h: [] for h in HEADERS}
    for i in range(rows):
        contract, item = divmod(i, 12)
        name, number = debtors[contract % len(debtors)]
        principal = rng.randrange(10_000, 5_000_000)
        due = start + dt.timedelta(days=30 * item)
        values: list[str | None] = [
            str(i + 1), name, number, f"HT{contract:08d}", "消费贷", "人民币",
            _amount_text(principal * 12, i), _date_text(start, i), str(item + 1),
            _date_text(due, i), _amount_text(principal, i), _amount_text(principal // 50, i + 1),
            "", _amount_text(principal // 3, i + 2) if item < 3 else "",
            f"1{rng.choice('38')}{rng.randrange(10**9):09d}" if i % 30 else "010-62345678",
            "北京市朝阳区建国路88号", "", "", "",
        ]  # fmt: skip
        bad = i % 97
        if bad == 1:
            values[2] = number[:-1] + ("0" if number[-1] != "0" else "1")  # wrong check char
        elif bad == 2:
            values[9] = "2025-02-30"
        elif bad == 3:
            values[10] = "12,34.5"
        elif bad == 4:
            values[14] = "123456"
        for header, value in zip(HEADERS, values, strict=True):
            columns[header].append(value)
    frame = pl.DataFrame(columns, schema=dict.fromkeys(HEADERS, pl.String))
    with path.open("w", encoding="utf-8", newline="") as f:
        f.write("2025年3月催收台账" + "," * (len(HEADERS) - 1) + "\r\n")
        frame.write_csv(f, line_terminator="\r\n")
        f.write("合计" + "," * (len(HEADERS) - 1) + "\r\n")


def to_gbk(src: Path, dst: Path) -> None:
    with src.open(encoding="utf-8", newline="") as fin, dst.open("wb") as fout:
        while block := fin.read(1 << 20):
            fout.write(block.encode("gbk"))


def measure(path: Path, chunk_rows: int) -> dict[str, float]:
    from huikuan.intake.pipeline import validate_ledger_file

    started = time.perf_counter()
    clean_rows = error_rows = 0
    for result in validate_ledger_file(path, chunk_rows=chunk_rows):
        clean_rows += result.clean.height
        error_rows += result.errors.height
    seconds = time.perf_counter() - started
    peak_kib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss  # KiB on Linux
    return {
        "seconds": seconds,
        "clean_rows": clean_rows,
        "errors": error_rows,
        "peak_rss_mib": peak_kib / 1024,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--chunk-rows", type=int, default=100_000)
    parser.add_argument("--child", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--generate", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        print(json.dumps(measure(args.child, args.chunk_rows)))
        return
    if args.generate:
        generate(args.generate / "ledger-utf8.csv", args.rows)
        to_gbk(args.generate / "ledger-utf8.csv", args.generate / "ledger-gbk.csv")
        return
    with tempfile.TemporaryDirectory(prefix="huikuan-bench-") as tmp:
        utf8, gbk = Path(tmp) / "ledger-utf8.csv", Path(tmp) / "ledger-gbk.csv"
        started = time.perf_counter()
        # In a process of its own: Linux hands a parent's peak RSS down through fork and exec,
        # so the measuring children must start from a parent that never held the data.
        command = [sys.executable, __file__, "--generate", tmp, "--rows", str(args.rows)]
        subprocess.run(command, check=True)  # noqa: S603
        print(f"generated {args.rows:,} rows in {time.perf_counter() - started:.1f} s")
        for label, path in (("UTF-8", utf8), ("GBK, CRLF", gbk)):
            command = [sys.executable, __file__, "--child", str(path)]
            command += ["--chunk-rows", str(args.chunk_rows)]
            out = subprocess.run(command, check=True, capture_output=True, text=True)  # noqa: S603
            result = json.loads(out.stdout)
            size = path.stat().st_size / 2**20
            print(
                f"{label:10} {size:6.0f} MiB  {result['seconds']:6.2f} s  "
                f"{args.rows / result['seconds']:>10,.0f} rows/s  "
                f"peak RSS {result['peak_rss_mib']:5.0f} MiB  "
                f"clean {result['clean_rows']:,}  errors {result['errors']:,}"
            )


if __name__ == "__main__":
    main()
