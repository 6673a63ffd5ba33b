"""Time the demo portfolio generator on a fresh database.

    .venv/bin/python bench/demo_generate.py                      # 1,000,000 accounts, PostgreSQL
    .venv/bin/python bench/demo_generate.py --sqlite --accounts 100000

PostgreSQL: creates a scratch database on the server of ``--server-url`` (default
postgres://postgres@127.0.0.1:5432), migrates it, runs ``demo_generate`` and drops it again
(``--keep`` keeps it); ``--database-url`` migrates and uses that database instead. SQLite: a
scratch file in a temporary directory, removed afterwards unless ``--keep``. Prints rows per
table, seconds, rows/s and peak memory; writes nothing anywhere else.
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


def _arguments() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--accounts", type=int, default=1_000_000)
    parser.add_argument("--seed", type=int, default=2026)
    parser.add_argument("--as-of", type=dt.date.fromisoformat, default=dt.date(2026, 11, 23))
    parser.add_argument("--sqlite", action="store_true", help="use a scratch SQLite file")
    parser.add_argument(
        "--server-url", default=DEFAULT_SERVER, help="PostgreSQL server for the scratch database"
    )
    parser.add_argument("--database-url", help="use this database instead of a scratch one")
    parser.add_argument("--keep", action="store_true", help="keep the scratch database")
    return parser.parse_args()


def _admin(server: str, statement: str) -> None:
    import psycopg

    with psycopg.connect(f"{server}/postgres", autocommit=True) as conn:
        conn.execute(statement)


def main() -> None:
    args = _arguments()
    scratch = scratch_dir = None
    if args.sqlite:
        os.environ.pop("DATABASE_URL", None)
        scratch_dir = tempfile.mkdtemp(prefix="huikuan-bench-demo-")
        os.environ["HUIKUAN_VAR_DIR"] = scratch_dir
    elif args.database_url:
        os.environ["DATABASE_URL"] = args.database_url
    else:
        scratch = f"huikuan_bench_demo_{os.getpid()}"
        _admin(args.server_url, f'CREATE DATABASE "{scratch}"')
        os.environ["DATABASE_URL"] = f"{args.server_url}/{scratch}"
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "huikuan.settings")
    try:
        _run(args)
    finally:
        if scratch_dir and not args.keep:
            shutil.rmtree(scratch_dir)
        if scratch and not args.keep:
            from django.db import connections

            connections.close_all()
            _admin(args.server_url, f'DROP DATABASE "{scratch}"')


def _run(args: argparse.Namespace) -> None:
    import django

    django.setup()
    from django.core.management import call_command
    from django.db import connection

    from huikuan.ledger.demo import demo_generate

    call_command("migrate", verbosity=0)
    started = time.perf_counter()
    result = demo_generate(accounts=args.accounts, seed=args.seed, as_of=args.as_of)
    seconds = time.perf_counter() - started
    print(
        f"database: {connection.vendor}, accounts: {args.accounts:,}, seed: {args.seed}, "
        f"as of: {args.as_of}"
    )
    for table, count in result.as_dict().items():
        print(f"  {table:<12}{count:>14,}")
    print(f"  {'total':<12}{result.rows:>14,}")
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KiB on Linux
    print(
        f"seconds: {seconds:.1f}   rows/s: {result.rows / seconds:,.0f}   peak RSS: {peak:,.0f} MiB"
    )


if __name__ == "__main__":
    main()
