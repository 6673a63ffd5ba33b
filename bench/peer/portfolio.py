"""Write the overdue lines of one demo portfolio: the input both sides of the peer benchmark get.

    .venv/bin/python bench/peer/portfolio.py --lines 100000 --out DIR
    .venv/bin/python bench/peer/portfolio.py --accounts 65000 --out DIR
    DATABASE_URL=postgres://.../db .venv/bin/python bench/peer/portfolio.py --accounts 65000 --load
    HUIKUAN_VAR_DIR=DIR .venv/bin/python bench/peer/portfolio.py --accounts 65000 --load  # SQLite

The portfolio is ``huikuan.ledger.demo.demo_frames(accounts=N, seed=S, as_of=D)``: the very rows
``demo_generate`` (``huikuan demo --accounts N``, ``bench/demo_generate.py``) writes into a
fresh ledger with the same N, seed and as-of date, made without a database. An overdue line is
a receivable item due before the as-of date (DPD >= 1) with something still unpaid; its amount is
what is unpaid of it (fee + interest + principal due less paid), so partly paid items need no
payments on the peer's side.

``--lines`` picks the smallest account count (from an estimate, then upwards) whose portfolio
has at least that many overdue lines; the count chosen is printed and recorded.

Writes into ``--out`` (default ``$HUIKUAN_BENCH_DIR`` or ``$XDG_CACHE_HOME/huikuan-bench``):

- ``overdue-<accounts>-<seed>-<as_of>.csv``: one row per overdue line, sorted by item id,
  columns ``item_id, account_id, contract_no, item_number, debtor_id, debtor_name, due_date,
  amount`` (dates ISO 8601, amount in yuan with two decimals, UTF-8, header row);
- the same name with ``.json``: accounts, seed, as-of date, lines, debtors, total amount, the
  CSV's SHA-256.

Ids are those of a fresh ledger (1, 2, ...); ``contract_no`` with ``item_number`` is the key
that holds in any database.

Huikuan's side of the same portfolio is ``demo_generate`` with the same N, seed and as-of date
into a fresh, migrated database (:func:`huikuan_load`, ``--load``): it then reads the overdue
lines back from that database, writes them the same way and checks that the SHA-256 is the
CSV's, so both sides provably start from the same lines.
"""

from __future__ import annotations

import argparse
import datetime as dt
import hashlib
import json
import math
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import polars as pl

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

SEED = 2026
AS_OF = dt.date(2026, 11, 23)
COLUMNS = (
    "item_id",
    "account_id",
    "contract_no",
    "item_number",
    "debtor_id",
    "debtor_name",
    "due_date",
    "amount",
)


def default_dir() -> Path:
    if bench_dir := os.environ.get("HUIKUAN_BENCH_DIR"):
        return Path(bench_dir)
    cache = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(cache) / "huikuan-bench"


def _arguments() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    size = parser.add_mutually_exclusive_group()
    size.add_argument("--lines", type=int, default=100_000, help="at least this many lines")
    size.add_argument("--accounts", type=int, help="exactly this many accounts")
    parser.add_argument("--seed", type=int, default=SEED)
    parser.add_argument("--as-of", type=dt.date.fromisoformat, default=AS_OF)
    parser.add_argument("--out", type=Path, default=None)
    parser.add_argument(
        "--load",
        action="store_true",
        help="also migrate and load the portfolio into the database the environment names "
        "(DATABASE_URL, or SQLite in HUIKUAN_VAR_DIR), and check it against the CSV",
    )
    return parser.parse_args()


def _django(*, load: bool) -> str | None:
    """Set Django up; returns the scratch directory made for its settings, if one was."""
    if load and not (os.environ.get("DATABASE_URL") or os.environ.get("HUIKUAN_VAR_DIR")):
        raise SystemExit("--load: set DATABASE_URL, or HUIKUAN_VAR_DIR for SQLite")
    # demo_frames needs the models, not a database; keep the settings off the project's var/.
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "huikuan.settings")
    scratch = None
    if not os.environ.get("HUIKUAN_VAR_DIR"):
        scratch = tempfile.mkdtemp(prefix="huikuan-bench-peer-")
        os.environ["HUIKUAN_VAR_DIR"] = scratch
    import django

    django.setup()
    return scratch


def overdue_lines(*, accounts: int, seed: int, as_of: dt.date) -> pl.DataFrame:
    """The overdue lines of the demo portfolio, one row per item, amounts in fen."""
    from huikuan.ledger.demo import demo_frames

    frames = demo_frames(accounts=accounts, seed=seed, as_of=as_of)
    return _overdue(
        pl.concat([f["ledger_receivableitem"] for f in frames]),
        pl.concat([f["ledger_account"] for f in frames]),
        pl.concat([f["ledger_debtor"] for f in frames]),
        as_of,
    )


def _overdue(
    items: pl.DataFrame, accounts: pl.DataFrame, debtors: pl.DataFrame, as_of: dt.date
) -> pl.DataFrame:
    """Overdue lines from the ledger's items, accounts and debtors (amounts in fen)."""
    account = accounts.select(pl.col("id").alias("account_id"), "contract_no", "debtor_id")
    debtor = debtors.select(pl.col("id").alias("debtor_id"), pl.col("name").alias("debtor_name"))
    unpaid = pl.sum_horizontal(
        pl.col(f"{c}_due") - pl.col(f"{c}_paid") for c in ("fee", "interest", "principal")
    )
    return (
        items.filter(pl.col("due_date") < as_of)
        .select(
            pl.col("id").alias("item_id"),
            "account_id",
            pl.col("number").alias("item_number"),
            "due_date",
            unpaid.alias("amount"),
        )
        .filter(pl.col("amount") > 0)
        .join(account, on="account_id", how="left")
        .join(debtor, on="debtor_id", how="left")
        .sort("item_id")
        .select(COLUMNS)
    )


def overdue_in_database(as_of: dt.date) -> pl.DataFrame:
    """The same overdue lines, read from the Huikuan database Django is connected to."""
    from huikuan.lib.frames import fen, read_frame

    parts = ("fee", "interest", "principal")
    unpaid = " + ".join(f"{c}_due - {c}_paid" for c in parts)
    items = read_frame(
        f"""SELECT id, account_id, number, due_date, {fen(unpaid)}
            FROM ledger_receivableitem WHERE due_date < %s""",  # noqa: S608 - constants only
        [as_of],
        {
            "id": pl.Int64(),
            "account_id": pl.Int64(),
            "number": pl.String(),
            "due_date": pl.Date(),
            "unpaid": pl.Int64(),
        },
    ).with_columns(
        # _overdue's sum of the three parts, with the whole in one and nothing in the others.
        fee_due=pl.col("unpaid"),
        fee_paid=pl.lit(0, pl.Int64),
        interest_due=pl.lit(0, pl.Int64),
        interest_paid=pl.lit(0, pl.Int64),
        principal_due=pl.lit(0, pl.Int64),
        principal_paid=pl.lit(0, pl.Int64),
    )
    accounts = read_frame(
        "SELECT id, contract_no, debtor_id FROM ledger_account",
        [],
        {"id": pl.Int64(), "contract_no": pl.String(), "debtor_id": pl.Int64()},
    )
    debtors = read_frame(
        "SELECT id, name FROM ledger_debtor", [], {"id": pl.Int64(), "name": pl.String()}
    )
    return _overdue(items, accounts, debtors, as_of)


def huikuan_load(csv_path: Path) -> dict[str, Any]:
    """Load the portfolio of ``csv_path`` (by its ``.json``) into the Huikuan database Django is
    connected to (fresh and migrated) with ``demo_generate``; check the overdue lines it then
    holds against the CSV. Returns what was loaded, the seconds it took and the check."""
    from django.db import connection

    from huikuan.ledger.demo import demo_generate

    meta = json.loads(csv_path.with_suffix(".json").read_text())
    as_of = dt.date.fromisoformat(meta["as_of"])
    started = time.perf_counter()
    result = demo_generate(accounts=meta["accounts"], seed=meta["seed"], as_of=as_of, actor=None)
    seconds = time.perf_counter() - started
    with tempfile.TemporaryDirectory(prefix="huikuan-bench-peer-") as scratch:
        digest = write(overdue_in_database(as_of), Path(scratch) / csv_path.name)
    if digest != meta["sha256"]:
        raise SystemExit(
            f"the {connection.vendor} database holds other overdue lines than {csv_path.name} "
            f"(SHA-256 {digest}, expected {meta['sha256']})"
        )
    return {
        "database": connection.vendor,
        "rows": result.as_dict(),
        "load_seconds": round(seconds, 1),
        "overdue_lines": meta["lines"],
        "sha256_matches_csv": True,
    }


def _pick_accounts(lines: int, seed: int, as_of: dt.date) -> tuple[int, pl.DataFrame]:
    """The fewest accounts (searched upwards from an estimate) with at least ``lines`` lines."""
    probe = max(1_000, min(lines, 20_000))
    per_account = overdue_lines(accounts=probe, seed=seed, as_of=as_of).height / probe
    accounts = max(1, math.ceil(lines / per_account))
    frame = overdue_lines(accounts=accounts, seed=seed, as_of=as_of)
    while frame.height < lines:
        accounts = max(accounts + 1, math.ceil(accounts * lines / max(frame.height, 1) * 1.002))
        frame = overdue_lines(accounts=accounts, seed=seed, as_of=as_of)
    return accounts, frame


def write(frame: pl.DataFrame, path: Path) -> str:
    """Write the CSV with amounts as exact yuan strings; return its SHA-256."""
    amount = pl.col("amount")
    out = frame.with_columns(
        ((amount // 100).cast(pl.String) + "." + (amount % 100).cast(pl.String).str.zfill(2)).alias(
            "amount"
        ),
        pl.col("due_date").dt.strftime("%Y-%m-%d"),
    )
    path.parent.mkdir(parents=True, exist_ok=True)
    out.write_csv(path)
    return hashlib.sha256(path.read_bytes()).hexdigest()


def main() -> None:
    args = _arguments()
    scratch = _django(load=args.load)
    try:
        _main(args)
    finally:
        if scratch:
            shutil.rmtree(scratch, ignore_errors=True)


def _main(args: argparse.Namespace) -> None:
    started = time.perf_counter()
    if args.accounts:
        accounts = args.accounts
        frame = overdue_lines(accounts=accounts, seed=args.seed, as_of=args.as_of)
    else:
        accounts, frame = _pick_accounts(args.lines, args.seed, args.as_of)
    out = args.out or default_dir()
    path = out / f"overdue-{accounts}-{args.seed}-{args.as_of.isoformat()}.csv"
    digest = write(frame, path)
    total = int(frame["amount"].sum())
    oldest = frame["due_date"].min()
    meta = {
        "generator": "huikuan.ledger.demo.demo_frames",
        "accounts": accounts,
        "seed": args.seed,
        "as_of": args.as_of.isoformat(),
        "lines": frame.height,
        "accounts_with_overdue": frame["account_id"].n_unique(),
        "debtors": frame["debtor_id"].n_unique(),
        "amount_total": f"{total // 100}.{total % 100:02d}",
        "oldest_due": oldest.isoformat() if isinstance(oldest, dt.date) else None,
        "csv": path.name,
        "sha256": digest,
    }
    path.with_suffix(".json").write_text(json.dumps(meta, indent=2, ensure_ascii=False) + "\n")
    meta["path"] = str(path)
    meta["seconds"] = round(time.perf_counter() - started, 2)
    if args.load:
        from django.core.management import call_command

        call_command("migrate", verbosity=0)
        meta["huikuan"] = huikuan_load(path)
    print(json.dumps(meta, ensure_ascii=False))


if __name__ == "__main__":
    main()
