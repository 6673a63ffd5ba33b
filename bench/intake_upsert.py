"""Time ``ledger_upsert``: a 1,000,000-row ledger frame into PostgreSQL and SQLite.

    .venv/bin/python bench/intake_upsert.py                         # both shapes, both databases
    .venv/bin/python bench/intake_upsert.py --db postgresql --shape installments
    .venv/bin/python bench/intake_upsert.py --rows 100000 --refresh # also time the per-account path

Shapes: ``installments`` (about 154,000 loan accounts of 1–12 installments, 6.5 on average)
and ``single`` (1,000,000 accounts of one invoice each). For each, a fresh database: PostgreSQL
``huikuan_upsert_bench`` on ``--server-url`` (created, migrated, dropped unless ``--keep``) or
a SQLite file in a temporary directory (removed afterwards). Three imports are timed: the first
(everything is created), the same frame again (must write nothing) and a frame with
``--changed`` of the items' paid amounts raised (updates with one audit event each).
``--refresh`` also times ``account_balances_refresh`` over every account and checks it leaves
the bulk results as they were. Each database and shape runs in its own process, so settings and
peak RSS are its own.
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
SCRATCH = "huikuan_upsert_bench"
TODAY = dt.date(2026, 11, 23)


# --- the frame ------------------------------------------------------------------------------


def build_frame(rows: int, shape: str, seed: int = 11) -> pl.DataFrame:
    """``rows`` clean ledger rows, vectorised (a few seconds, not timed)."""
    rng = np.random.default_rng(seed)
    if shape == "single":
        terms = np.ones(rows, dtype=np.int64)
    else:
        terms = rng.integers(1, 13, size=rows // 6 + 1)  # mean 6.5
        terms = terms[: int(np.searchsorted(np.cumsum(terms), rows)) + 1]
    accounts = len(terms)
    acc = np.repeat(np.arange(accounts), terms)[:rows]
    j = np.arange(len(acc)) - np.concatenate(([0], np.cumsum(terms)[:-1]))[acc]
    first_due = np.datetime64(TODAY) - rng.integers(0, 400, accounts)
    due = first_due[acc] + 30 * j
    principal = rng.integers(50_000, 2_000_000, accounts)[acc]
    interest = principal // 50
    fee = np.where(rng.random(len(acc)) < 0.1, 2_000, 0)
    total = principal + interest + fee
    past = due < np.datetime64(TODAY)
    draw = rng.random(len(acc))
    paid = np.where(past & (draw < 0.7), total, np.where(draw < 0.8, total // 3, 0))
    debtor = acc // 1  # one debtor per account
    trade = shape == "single"
    text = pl.Series(debtor).cast(pl.String).str.zfill(11)
    guarantor = rng.random(accounts)[acc] < 0.3
    frame = pl.DataFrame(
        {
            "debtor_name": "债务人" + text,
            "debtor_kind": "enterprise" if trade else "individual",
            # 18 characters: not valid check digits, which the upsert does not look at.
            "id_number": ("91110101" + text.str.slice(1)) if trade else ("110101" + text + "X"),
            "region": pl.repeat(None, len(acc), dtype=pl.String, eager=True),
            "phone": "+86138" + pl.Series(debtor % 10**8).cast(pl.String).str.zfill(8),
            "address": "北京市东城区人民路" + pl.Series(debtor % 400).cast(pl.String) + "号",
            "email": pl.repeat(None, len(acc), dtype=pl.String, eager=True),
            "guarantor": guarantor,
            "contract_no": "HT" + pl.Series(acc).cast(pl.String).str.zfill(9),
            "product": "trade" if trade else "loan",
            "currency": "CNY",
            "principal_fen": pl.repeat(None, len(acc), dtype=pl.Int64, eager=True),
            "open_date": pl.repeat(None, len(acc), dtype=pl.Date, eager=True),
            "item_no": pl.Series(j + 1).cast(pl.String).str.zfill(2),
            "item_kind": "invoice" if trade else "installment",
            "due_date": pl.Series(due).cast(pl.Date),
            "principal_due_fen": principal,
            "interest_due_fen": np.where(trade, 0, interest),
            "fee_due_fen": fee,
            "paid_fen": np.minimum(paid, np.where(trade, principal + fee, total)),
        }
    )
    return frame.with_columns(
        guarantor_name=pl.when("guarantor").then(pl.lit("担保人")),
        guarantor_phone=pl.when("guarantor").then("+86139" + text.str.slice(3)),
    ).drop("guarantor")


def raise_paid(frame: pl.DataFrame, share: float, seed: int = 12) -> pl.DataFrame:
    """The same frame with ``share`` of the items a little more paid (where anything is open)."""
    rng = np.random.default_rng(seed)
    due = frame.select(pl.sum_horizontal("principal_due_fen", "interest_due_fen", "fee_due_fen"))
    pick = (rng.random(frame.height) < share) & (frame["paid_fen"] < due.to_series()).to_numpy()
    return frame.with_columns(paid_fen=pl.col("paid_fen") + pl.Series(pick.astype(np.int64) * 100))


# --- one database, one shape (a child process) ----------------------------------------------


def _admin(server: str, statement: str) -> None:
    import psycopg

    with psycopg.connect(f"{server}/postgres", autocommit=True) as conn:
        conn.execute(statement)


def child(args: argparse.Namespace) -> dict[str, Any]:
    scratch = tempfile.mkdtemp(prefix="huikuan-bench-")  # the SQLite file lives here
    if args.db == "sqlite":
        os.environ.pop("DATABASE_URL", None)
        os.environ["HUIKUAN_VAR_DIR"] = scratch
    else:
        _admin(args.server_url, f'DROP DATABASE IF EXISTS "{SCRATCH}"')
        _admin(args.server_url, f'CREATE DATABASE "{SCRATCH}"')
        os.environ["DATABASE_URL"] = f"{args.server_url}/{SCRATCH}"
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "huikuan.settings")
    try:
        return _measure(args)
    finally:
        from django.db import connections

        connections.close_all()
        shutil.rmtree(scratch, ignore_errors=True)
        if args.db == "postgresql" and not args.keep:
            _admin(args.server_url, f'DROP DATABASE "{SCRATCH}"')


def _measure(args: argparse.Namespace) -> dict[str, Any]:
    import django

    django.setup()
    from django.core.management import call_command

    from huikuan.audit.models import AuditEvent
    from huikuan.intake.upsert import ledger_upsert
    from huikuan.ledger.models import Creditor
    from huikuan.ledger.services import portfolio_create

    call_command("migrate", verbosity=0)
    creditor = Creditor.objects.create(code="BENCH", name="压测银行")
    portfolio = portfolio_create(creditor=creditor, code="P1", name="压测资产包", actor=None)
    frame = build_frame(args.rows, args.shape)
    changed = raise_paid(frame, args.changed)
    out: dict[str, Any] = {"rows": frame.height}
    for label, data in (("first", frame), ("again", frame), ("changed", changed)):
        events = AuditEvent.objects.count()
        started = time.perf_counter()
        result = ledger_upsert(
            creditor=creditor, portfolio=portfolio, frame=data, actor=None, source=label
        )
        out[label] = {
            "seconds": time.perf_counter() - started,
            "counts": result.counts(),
            "audit_events": AuditEvent.objects.count() - events,
        }
    if args.refresh:
        out["refresh"] = _time_refresh()
    out["peak_rss_mib"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    return out


def _time_refresh() -> dict[str, Any]:
    """``account_balances_refresh`` over every account, in 10,000-id slices: does it leave the
    bulk results as they were, and does every status agree with ``domain.balance_status``?"""
    from django.db import transaction

    from huikuan.ledger import domain
    from huikuan.ledger.models import Account, Portfolio
    from huikuan.ledger.services import account_balances_refresh, portfolio_today

    fields = (
        "outstanding",
        "principal_outstanding",
        "interest_outstanding",
        "fee_outstanding",
        "oldest_unpaid_due",
    )
    before = list(Account.objects.order_by("pk").values_list("pk", *fields))
    ids = [row[0] for row in before]
    started = time.perf_counter()
    with transaction.atomic():
        for first in range(0, len(ids), 10_000):
            account_balances_refresh(account_ids=ids[first : first + 10_000])
    seconds = time.perf_counter() - started
    after = list(Account.objects.order_by("pk").values_list("pk", *fields))
    today = portfolio_today(Portfolio.objects.get())
    wrong = sum(
        status != domain.balance_status(status, outstanding=owed, dpd=domain.dpd_from(due, today))
        for status, owed, due in Account.objects.values_list(
            "status", "outstanding", "oldest_unpaid_due"
        ).iterator(chunk_size=50_000)
    )
    return {
        "seconds": seconds,
        "accounts": len(ids),
        "identical": before == after,
        "status_mismatches": wrong,
    }


# --- the driver -----------------------------------------------------------------------------


def _arguments() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--shape", choices=("installments", "single", "both"), default="both")
    parser.add_argument("--db", choices=("postgresql", "sqlite", "both"), default="both")
    parser.add_argument("--changed", type=float, default=0.01, help="share of items changed")
    parser.add_argument("--server-url", default=DEFAULT_SERVER)
    parser.add_argument("--keep", action="store_true", help="keep the PostgreSQL database")
    parser.add_argument("--refresh", action="store_true", help="also time the per-account path")
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    return parser.parse_args()


def _report(db: str, shape: str, result: dict[str, Any]) -> None:
    rows = result["rows"]
    print(f"{db}, {shape}: {rows:,} rows, peak RSS {result['peak_rss_mib']:,.0f} MiB")
    for label in ("first", "again", "changed"):
        step = result[label]
        counts = {k: v for k, v in step["counts"].items() if v and k != "rows"}
        print(
            f"  {label:8}{step['seconds']:8.1f} s {rows / step['seconds']:>12,.0f} rows/s  "
            f"audit events {step['audit_events']:,}  {counts}"
        )
    if "refresh" in result:
        r = result["refresh"]
        print(
            f"  account_balances_refresh over {r['accounts']:,} accounts: {r['seconds']:.1f} s, "
            f"identical: {r['identical']}, statuses unlike domain.balance_status: "
            f"{r['status_mismatches']}"
        )


def main() -> None:
    args = _arguments()
    if args.child:
        print(json.dumps(child(args), default=str))
        return
    shapes = ("installments", "single") if args.shape == "both" else (args.shape,)
    dbs = ("postgresql", "sqlite") if args.db == "both" else (args.db,)
    for db in dbs:
        for shape in shapes:
            command = [sys.executable, __file__, "--child", "--db", db, "--shape", shape]
            command += ["--rows", str(args.rows), "--changed", str(args.changed)]
            command += ["--server-url", args.server_url]
            command += ["--keep"] * args.keep + ["--refresh"] * args.refresh
            out = subprocess.run(command, check=True, capture_output=True, text=True)  # noqa: S603
            _report(db, shape, json.loads(out.stdout.strip().splitlines()[-1]))


if __name__ == "__main__":
    main()
