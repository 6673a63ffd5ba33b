"""Time the XLSX export of the ledger on a generated demo portfolio.

    .venv/bin/python bench/export_xlsx.py                        # 100,000 accounts, unmasked
    .venv/bin/python bench/export_xlsx.py --role auditor         # the same, PII masked

Generates ``--accounts`` demo accounts (``huikuan.ledger.demo.demo_generate``) into a scratch
SQLite file in a temporary directory, then exports the whole ledger, as a user of ``--role``
sees it, to an XLSX file in that directory (``intake.export.ledger_export``: the selector, the
chunked reads, masking, openpyxl write-only, the audit event). The generation runs in a child
process, so the peak memory printed is the export's own. The scratch database goes without the
one-debtor-per-ID-number constraint: the generator's random ID numbers repeat a few times in
100,000 and the export does not depend on it. Prints rows, seconds, rows/s, the
file's size and peak RSS; removes the directory afterwards unless ``--keep``.
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))


def _arguments() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n")[0])
    parser.add_argument("--accounts", type=int, default=100_000)
    parser.add_argument("--seed", type=int, default=2026)
    parser.add_argument("--as-of", type=dt.date.fromisoformat, default=dt.date(2026, 11, 23))
    parser.add_argument(
        "--role",
        default="manager",
        choices=["manager", "auditor"],
        help="who exports: manager sees PII, auditor sees it masked (both see every account)",
    )
    parser.add_argument("--language", default="zh-hans", choices=["zh-hans", "en"])
    parser.add_argument("--keep", action="store_true", help="keep the scratch directory")
    parser.add_argument("--generate-only", action="store_true", help=argparse.SUPPRESS)
    return parser.parse_args()


def _setup() -> None:
    import django

    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "huikuan.settings")
    django.setup()


def _generate(args: argparse.Namespace) -> None:
    _setup()
    from django.core.management import call_command
    from django.db import connection, migrations
    from django.db.migrations.executor import MigrationExecutor

    from huikuan.ledger.demo import demo_generate

    call_command("migrate", verbosity=0)
    # The generator draws ID numbers at random: at 100,000 accounts a few repeat, which the
    # one-debtor-per-ID-number constraint refuses. The export does not depend on it, and this
    # database is thrown away, so it goes.
    before = MigrationExecutor(connection).loader.project_state()
    after = before.clone()
    drop = migrations.RemoveConstraint(model_name="debtor", name="debtor_unique_id")
    drop.state_forwards("ledger", after)
    with connection.schema_editor() as editor:
        drop.database_forwards("ledger", editor, before, after)
    started = time.perf_counter()
    result = demo_generate(accounts=args.accounts, seed=args.seed, as_of=args.as_of)
    print(
        f"generated {result.rows:,} rows ({args.accounts:,} accounts) "
        f"in {time.perf_counter() - started:.1f} s"
    )


def _export(args: argparse.Namespace, scratch: str) -> None:
    _setup()
    from django.contrib.auth.models import Group
    from django.db import connection
    from django.utils import translation

    from huikuan.iam.models import User
    from huikuan.intake.export import ledger_export
    from huikuan.ledger.selectors import LedgerFilter

    user = User.objects.create_user(username=f"bench-{args.role}")
    user.groups.add(Group.objects.get(name=args.role))
    path = Path(scratch) / "ledger.xlsx"
    with translation.override(args.language):
        started = time.perf_counter()
        result = ledger_export(path, actor=user, flt=LedgerFilter(), as_of=args.as_of)
        seconds = time.perf_counter() - started
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KiB on Linux
    print(
        f"database: {connection.vendor}, role: {args.role} (PII "
        f"{'unmasked' if result.pii else 'masked'}), language: {args.language}, "
        f"as of: {args.as_of}"
    )
    print(
        f"rows: {result.rows:,}   seconds: {seconds:.1f}   rows/s: {result.rows / seconds:,.0f}   "
        f"file: {path.stat().st_size / 2**20:.1f} MiB   peak RSS: {peak:,.0f} MiB"
    )


def main() -> None:
    args = _arguments()
    if args.generate_only:
        _generate(args)
        return
    os.environ.pop("DATABASE_URL", None)
    scratch = tempfile.mkdtemp(prefix="huikuan-bench-export-")
    os.environ["HUIKUAN_VAR_DIR"] = scratch
    try:
        command = [sys.executable, __file__, "--generate-only"]
        command += ["--accounts", str(args.accounts), "--seed", str(args.seed)]
        command += ["--as-of", args.as_of.isoformat()]
        subprocess.run(command, check=True)  # noqa: S603 — this script, with our own arguments
        _export(args, scratch)
    finally:
        if args.keep:
            print(f"kept: {scratch}")
        else:
            shutil.rmtree(scratch)


if __name__ == "__main__":
    main()
