"""Time the daily cycle on a demo portfolio.

    .venv/bin/python bench/cycle_run.py                          # 1,000,000 accounts, PostgreSQL
    .venv/bin/python bench/cycle_run.py --sqlite --accounts 1000000
    .venv/bin/python bench/cycle_run.py --database-url postgres://.../loaded --no-load

A fresh scratch database (PostgreSQL on ``--server-url``, or a SQLite file in a temporary
directory) is migrated and loaded with ``demo_generate`` (not timed); then four runs are timed:
the first day (every state is new), the same day again (must write the same tables), the next
day, and a day a week later. Each prints read / compute / write seconds and what it wrote;
peak memory of the process at the end.
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import resource
import shutil
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

DEFAULT_SERVER = "postgres://postgres@127.0.0.1:5432"
SCRATCH = "huikuan_cycle_bench"


def _arguments() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--accounts", type=int, default=1_000_000)
    parser.add_argument("--as-of", type=dt.date.fromisoformat, default=dt.date(2026, 11, 23))
    parser.add_argument("--partitions", type=int, default=1)
    parser.add_argument("--workers", type=int, default=1, help="partitions run at a time")
    parser.add_argument("--sqlite", action="store_true")
    parser.add_argument("--server-url", default=DEFAULT_SERVER)
    parser.add_argument("--database-url", help="use this database instead of a scratch one")
    parser.add_argument("--no-load", action="store_true", help="the database is loaded already")
    parser.add_argument("--keep", action="store_true", help="keep the scratch database")
    return parser.parse_args()


def _admin(server: str, statement: str) -> None:
    import psycopg

    with psycopg.connect(f"{server}/postgres", autocommit=True) as conn:
        conn.execute(statement)


def main() -> None:
    args = _arguments()
    scratch_dir = None
    scratch_db = False
    if args.sqlite:
        os.environ.pop("DATABASE_URL", None)
        scratch_dir = tempfile.mkdtemp(prefix="huikuan-bench-cycle-")
        os.environ["HUIKUAN_VAR_DIR"] = scratch_dir
    elif args.database_url:
        os.environ["DATABASE_URL"] = args.database_url
    else:
        _admin(args.server_url, f"DROP DATABASE IF EXISTS {SCRATCH}")
        _admin(args.server_url, f"CREATE DATABASE {SCRATCH}")
        os.environ["DATABASE_URL"] = f"{args.server_url}/{SCRATCH}"
        scratch_db = True
    try:
        _run(args)
    finally:
        if scratch_dir and not args.keep:
            shutil.rmtree(scratch_dir, ignore_errors=True)
        if scratch_db and not args.keep:
            from django.db import connections

            connections.close_all()
            _admin(args.server_url, f"DROP DATABASE IF EXISTS {SCRATCH}")


def _run(args: argparse.Namespace) -> None:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "huikuan.settings")
    import django

    django.setup()
    from django.core.management import call_command
    from django.db import connection

    call_command("migrate", verbosity=0)
    if not args.no_load:
        from huikuan.ledger.demo import demo_generate

        started = time.perf_counter()
        demo_generate(accounts=args.accounts, as_of=args.as_of, actor=None)
        print(f"loaded {args.accounts:,} demo accounts in {time.perf_counter() - started:.1f} s")
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("VACUUM ANALYZE")
    from huikuan.cycle.services import cycle_run

    print(f"database: {connection.vendor}, partitions: {args.partitions}, workers: {args.workers}")
    days = [
        ("first day", args.as_of),
        ("same day again", args.as_of),
        ("next day", args.as_of + dt.timedelta(days=1)),
        ("a week later", args.as_of + dt.timedelta(days=8)),
    ]
    for label, day in days:
        started = time.perf_counter()
        run = cycle_run(as_of=day, actor=None, partitions=args.partitions, workers=args.workers)
        seconds = time.perf_counter() - started
        c, t = run.counts, run.timings
        print(
            f"{label:<15} {day}  {seconds:6.1f} s  (read {t['read']:.1f}, compute "
            f"{t['compute']:.1f}, write {t['write']:.1f})  accounts {c['accounts']:,}  "
            f"states {c['states_written']:,}  moves {c['moves']:,}  actions {c['actions']:,}  "
            f"snapshots {c['snapshots']:,}  {c['accounts'] / seconds:,.0f} accounts/s"
        )
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"peak RSS: {peak:,.0f} MiB")


if __name__ == "__main__":
    main()
