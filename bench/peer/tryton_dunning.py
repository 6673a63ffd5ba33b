"""Time Tryton's dunning run (``account.dunning.create``) on the overdue lines of a portfolio.

Runs in the Tryton virtual environment (``bench/peer/tryton_venv.sh``), not Huikuan's:

    "$TRYTON_VENV/bin/python" bench/peer/tryton_dunning.py --input overdue-....csv

The input is the CSV ``bench/peer/portfolio.py`` writes (with its ``.json`` beside it). Steps:

1. ``load`` (not timed; run under ``python -O`` for speed): a fresh SQLite database in the work
   directory, initialised with ``trytond-admin`` (module ``account_dunning`` and its
   dependencies); currency CNY, a company, the minimal chart of accounts through the
   ``account.create_chart`` wizard, a fiscal year per calendar year with monthly periods, a
   dunning procedure with levels at 1, 30 and 90 days overdue (the default one for customers),
   one party per debtor, and per account one move with a receivable line per overdue item
   (debit = what is unpaid, maturity = due date) against revenue, created and posted in
   batches. The loaded database is kept and reused while the CSV is the same.
2. ``time`` (timed), once per interpreter mode, each on a fresh copy of the loaded database:
   the ``account.dunning.create`` wizard as a client runs it (``create``, ``execute`` of
   ``create_`` with the as-of date and the company, ``delete``), then the commit.

Prints one JSON object per mode as it finishes, then a summary with both. ``--modes`` picks the
modes (``python``, ``python-O``); ``--timeout`` bounds each timed run (a run that hits it is
reported with ``"timeout": true``, a lower bound on the time and an upper bound on the rate);
``--summary`` also writes the summary to a file (``bench/cycle_vs_tryton.py`` reads it).
"""

from __future__ import annotations

import argparse
import csv
import datetime as dt
import json
import os
import secrets
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from decimal import Decimal
from itertools import groupby, islice
from pathlib import Path
from typing import Any

DB = "dunning"
LEVELS = (1, 30, 90)  # days overdue
PARTY_BATCH = 2_000
MOVE_BATCH = 1_000  # moves per create and post (about 2.4 receivable lines each)
MODES = {"python": [], "python-O": ["-O"]}
CLOCK = "clock-started"  # in the run's directory: when the timed run's clock started


def default_workdir() -> Path:
    if bench_dir := os.environ.get("HUIKUAN_BENCH_DIR"):
        return Path(bench_dir) / "tryton"
    cache = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(cache) / "huikuan-bench" / "tryton"


def _arguments() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--input", type=Path, required=True, help="CSV from portfolio.py")
    parser.add_argument("--workdir", type=Path, default=None)
    parser.add_argument("--as-of", type=dt.date.fromisoformat, help="default: from the .json")
    parser.add_argument("--modes", default="python-O,python", help="python-O, python or both")
    parser.add_argument("--timeout", type=float, default=3_600, help="seconds per timed run")
    parser.add_argument("--reload", action="store_true", help="load even if a load is kept")
    parser.add_argument("--profile", type=Path, help="cProfile the timed run into this file")
    parser.add_argument("--summary", type=Path, help="also write the summary JSON here")
    parser.add_argument("--step", choices=("bench", "load", "time"), default="bench")
    parser.add_argument("--path", type=Path, help=argparse.SUPPRESS)  # database directory
    return parser.parse_args()


def _meta(csv_path: Path) -> dict[str, Any]:
    meta_path = csv_path.with_suffix(".json")
    return json.loads(meta_path.read_text()) if meta_path.exists() else {}


# --- the driver: load once, then time each mode in its own interpreter ---------------------


def _env(path: Path) -> dict[str, str]:
    env = dict(os.environ)
    env["TRYTOND_DATABASE__URI"] = "sqlite://"
    env["TRYTOND_DATABASE__PATH"] = str(path)
    return env


def _step(flags: list[str], args: argparse.Namespace, step: str, path: Path, **extra: Any) -> Any:
    command = [sys.executable, *flags, str(Path(__file__).resolve()), "--step", step]
    command += ["--input", str(args.input), "--path", str(path), "--as-of", str(args.as_of)]
    if extra.get("profile"):
        command += ["--profile", str(extra["profile"])]
    return subprocess.run(  # noqa: S603 - our own interpreter and script
        command, env=_env(path), timeout=extra.get("timeout"), check=True, stdout=subprocess.PIPE
    )


def bench(args: argparse.Namespace) -> None:
    meta = _meta(args.input)
    args.as_of = args.as_of or dt.date.fromisoformat(meta["as_of"])
    workdir = (args.workdir or default_workdir()).resolve()
    loaded = workdir / "loaded"
    stamp = loaded / "input.json"
    key = {"csv": args.input.name, "sha256": meta.get("sha256"), "as_of": str(args.as_of)}
    kept = stamp.exists() and (loaded / "load.json").exists()
    if args.reload or not kept or json.loads(stamp.read_text()) != key:
        shutil.rmtree(loaded, ignore_errors=True)
        loaded.mkdir(parents=True)
        started = time.perf_counter()
        done = _step(["-O"], args, "load", loaded)
        load = json.loads(done.stdout)
        load["seconds"] = round(time.perf_counter() - started, 1)
        print(json.dumps({"load": load}), flush=True)
        (loaded / "load.json").write_text(json.dumps(load))
        stamp.write_text(json.dumps(key))
    else:
        print(f"reusing the database loaded in {loaded}", file=sys.stderr, flush=True)
    results = {}
    for mode in args.modes.split(","):
        load_before = os.getloadavg()[0]
        run_dir = Path(tempfile.mkdtemp(prefix=f"run-{mode}-", dir=workdir))
        try:
            for name in (f"{DB}.sqlite", f"{DB}.sqlite-wal"):
                if (loaded / name).exists():
                    shutil.copyfile(loaded / name, run_dir / name)
            try:
                done = _step(
                    MODES[mode], args, "time", run_dir, timeout=args.timeout, profile=args.profile
                )
                result = json.loads(done.stdout)
            except subprocess.TimeoutExpired:
                # The wizard's clock started after the pool's initialisation: a lower bound.
                clock = run_dir / CLOCK
                ran = time.time() - float(clock.read_text()) if clock.exists() else 0.0
                lines = meta.get("lines")
                result = {
                    "optimize": len(MODES[mode]),
                    "lines": lines,
                    "timeout": True,
                    "timeout_seconds": args.timeout,
                    "seconds_more_than": round(ran, 1),
                    "lines_per_second_at_most": round(lines / ran, 1) if lines and ran else None,
                }
        finally:
            shutil.rmtree(run_dir, ignore_errors=True)
        result = {
            "mode": mode,
            **result,
            "load_average": [round(load_before, 2), round(os.getloadavg()[0], 2)],
        }
        print(json.dumps(result), flush=True)
        results[mode] = result
    summary = {
        "input": args.input.name,
        "accounts": meta.get("accounts"),
        "seed": meta.get("seed"),
        "as_of": str(args.as_of),
        "levels_days": LEVELS,
        "load": json.loads((loaded / "load.json").read_text()),
        "trytond": _tryton_version(),
        "python": sys.version.split()[0],
        "results": results,
    }
    print(json.dumps(summary, indent=2))
    if args.summary:
        args.summary.write_text(json.dumps(summary, indent=2) + "\n")


def _tryton_version() -> str:
    done = subprocess.run(  # noqa: S603
        [sys.executable, "-c", "import trytond; print(trytond.__version__)"],
        capture_output=True,
        check=True,
    )
    return done.stdout.decode().strip()


# --- inside trytond -------------------------------------------------------------------------


def _pool() -> Any:
    from trytond.pool import Pool

    pool = Pool(DB)
    pool.init()
    return pool


def _admin_context() -> dict[str, Any]:
    from trytond.pool import Pool
    from trytond.transaction import Transaction

    with Transaction().start(DB, 0):
        User = Pool().get("res.user")
        admin = User.search([("login", "=", "admin")])[0]
        return {"user": admin.id}


def _context(user: int) -> dict[str, Any]:
    """The user's preferences (company, companies, language) as a client session has them."""
    from trytond.pool import Pool

    def preferences() -> dict[str, Any]:
        return dict(Pool().get("res.user").get_preferences(context_only=True))

    return _transaction(user, preferences, readonly=True)


def _transaction(
    user: int,
    func: Any,
    *,
    context: dict[str, Any] | None = None,
    readonly: bool = False,
    extras: dict[str, Any] | None = None,
) -> Any:
    """Run ``func`` in one transaction and commit, retrying on lock requests as trytond's
    dispatcher does (a table lock is asked for by raising, then taken at the restart).

    Pass the same ``extras`` to batches of the same work: the locks learnt by one are taken
    from the start by the next, instead of a restart each."""
    from trytond.transaction import Transaction, TransactionError

    extras = {} if extras is None else extras
    while True:
        with Transaction().start(
            DB, user, context=context or {}, readonly=readonly, **extras
        ) as transaction:
            try:
                return func()
            except TransactionError as error:
                transaction.rollback()
                error.fix(extras)


def _batches(rows: Iterator[Any], size: int) -> Iterator[list[Any]]:
    """A first batch of 10 (to learn the table locks the work asks for cheaply), then ``size``."""
    first = list(islice(rows, 10))
    if first:
        yield first
    while batch := list(islice(rows, size)):
        yield batch


def load(args: argparse.Namespace) -> None:
    path: Path = args.path
    path.mkdir(parents=True, exist_ok=True)
    (path / f"{DB}.sqlite").touch()
    password = path / "admin-password"
    password.write_text(secrets.token_urlsafe(16) + "\n")
    started = time.perf_counter()
    admin = Path(sys.executable).parent / "trytond-admin"
    subprocess.run(  # noqa: S603 - the venv's own trytond-admin
        [
            *(sys.executable, "-O", str(admin), "-d", DB, "-u", "account_dunning"),
            *("--activate-dependencies", "--email", "admin@example.com"),
        ],
        env={**_env(path), "TRYTONPASSFILE": str(password)},
        check=True,
        capture_output=True,
    )
    initialised = time.perf_counter() - started

    with args.input.open(newline="", encoding="utf-8") as f:
        rows = list(csv.DictReader(f))
    _pool()
    user = _admin_context()["user"]
    company_id, procedure_id = _setup(user, rows, args.as_of)
    started = time.perf_counter()
    parties = _parties(user, rows, procedure_id)
    party_seconds = time.perf_counter() - started
    started = time.perf_counter()
    moves, lines = _moves(user, rows, parties)
    print(
        json.dumps(
            {
                "database": f"{DB}.sqlite",
                "company": company_id,
                "parties": len(parties),
                "moves": moves,
                "receivable_lines": lines,
                "init_seconds": round(initialised, 1),
                "parties_seconds": round(party_seconds, 1),
                "moves_seconds": round(time.perf_counter() - started, 1),
            }
        )
    )


def _setup(user: int, rows: list[dict[str, str]], as_of: dt.date) -> tuple[int, int]:
    """Currency, company, chart, fiscal years, dunning procedure; returns their ids."""
    from trytond.pool import Pool

    def company() -> int:
        pool = Pool()
        Currency = pool.get("currency.currency")
        Party = pool.get("party.party")
        Company = pool.get("company.company")
        User = pool.get("res.user")
        (cny,) = Currency.create(
            [{"name": "Chinese Yuan", "code": "CNY", "symbol": "¥", "digits": 2}]
        )
        (party,) = Party.create([{"name": "回款 Bench Creditor Co."}])
        (created,) = Company.create(
            [{"party": party.id, "currency": cny.id, "timezone": "Asia/Shanghai"}]
        )
        User.write([User(user)], {"companies": [("add", [created.id])], "company": created.id})
        return int(created.id)

    def accounting() -> int:
        _chart(company_id)
        first_year = min(dt.date.fromisoformat(r["due_date"]) for r in rows).year
        _fiscal_years(company_id, first_year, as_of.year)
        return _procedure()

    company_id = _transaction(0, company)
    return company_id, _transaction(user, accounting, context=_context(user))


def _chart(company: int) -> None:
    """The minimal chart through the ``account.create_chart`` wizard, as the client runs it."""
    from trytond.pool import Pool

    pool = Pool()
    ModelData = pool.get("ir.model.data")
    Account = pool.get("account.account")
    CreateChart = pool.get("account.create_chart", type="wizard")
    template = ModelData.get_id("account", "account_template_root_en")
    session_id, _, _ = CreateChart.create()
    CreateChart.execute(session_id, {}, "account")
    CreateChart.execute(
        session_id,
        {"account": {"account_template": template, "company": company}},
        "create_account",
    )
    found = {}
    for kind in ("receivable", "payable"):
        (found[kind],) = Account.search(
            [
                (f"type.{kind}", "=", True),
                ("party_required", "=", True),
                ("company", "=", company),
            ],
            limit=1,
        )
    CreateChart.execute(
        session_id,
        {
            "properties": {
                "company": company,
                "account_receivable": found["receivable"].id,
                "account_payable": found["payable"].id,
            }
        },
        "create_properties",
    )
    CreateChart.delete(session_id)


def _fiscal_years(company: int, first: int, last: int) -> None:
    from trytond.pool import Pool

    pool = Pool()
    FiscalYear = pool.get("account.fiscalyear")
    Sequence = pool.get("ir.sequence.strict")
    SequenceType = pool.get("ir.sequence.type")
    (sequence_type,) = SequenceType.search([("name", "=", "Account Move")], limit=1)
    years = []
    for year in range(first, last + 1):
        (sequence,) = Sequence.create(
            [{"name": str(year), "sequence_type": sequence_type.id, "company": company}]
        )
        years.append(
            {
                "name": str(year),
                "company": company,
                "start_date": dt.date(year, 1, 1),
                "end_date": dt.date(year, 12, 31),
                "move_sequence": sequence.id,
            }
        )
    FiscalYear.create_period(FiscalYear.create(years))


def _procedure() -> int:
    from trytond.pool import Pool

    pool = Pool()
    Procedure = pool.get("account.dunning.procedure")
    Configuration = pool.get("account.configuration")
    (procedure,) = Procedure.create(
        [
            {
                "name": "催收 1/30/90",
                "levels": [
                    (
                        "create",
                        [
                            {"sequence": i, "overdue": dt.timedelta(days=days)}
                            for i, days in enumerate(LEVELS, 1)
                        ],
                    )
                ],
            }
        ]
    )
    config = Configuration(1)
    config.default_dunning_procedure = procedure
    config.save()
    return int(procedure.id)


def _parties(user: int, rows: list[dict[str, str]], procedure_id: int) -> dict[str, int]:
    """One party per debtor, in batches; returns party ids by debtor id."""
    from trytond.pool import Pool

    names = {r["debtor_id"]: r["debtor_name"] for r in rows}
    parties: dict[str, int] = {}
    extras: dict[str, Any] = {}
    for batch in _batches(iter(list(names)), PARTY_BATCH):

        def create(batch: list[str] = batch) -> list[int]:
            created = (
                Pool()
                .get("party.party")
                .create(
                    [
                        {
                            "code": f"D{int(d):08d}",
                            "name": names[d],
                            "dunning_procedure": procedure_id,
                        }
                        for d in batch
                    ]
                )
            )
            return [int(p.id) for p in created]

        parties.update(zip(batch, _transaction(user, create, extras=extras), strict=True))
    return parties


def _moves(user: int, rows: list[dict[str, str]], parties: dict[str, int]) -> tuple[int, int]:
    """Per account one move, receivable lines against revenue, created and posted in batches."""
    from trytond.pool import Pool

    context = _context(user)

    def ids() -> tuple[int, int, int, dict[tuple[int, int], int], list[int]]:
        pool = Pool()
        Account = pool.get("account.account")
        # The customers' account the chart wizard set as the default, and a revenue leaf.
        receivable = pool.get("account.configuration")(1).default_account_receivable
        (revenue,) = Account.search(
            [("type.revenue", "=", True), ("closed", "!=", True), ("childs", "=", None)],
            order=[("code", "ASC")],
            limit=1,
        )
        (journal,) = pool.get("account.journal").search([("code", "=", "REV")])
        periods = pool.get("account.period").search([])
        return (
            receivable.id,
            revenue.id,
            journal.id,
            {(p.start_date.year, p.start_date.month): p.id for p in periods},
            sorted({p.fiscalyear.move_sequence.id for p in periods}),
        )

    receivable_id, revenue_id, journal_id, periods, sequences = _transaction(
        user, ids, context=context
    )

    def move(account: str, lines: list[dict[str, str]]) -> dict[str, Any]:
        booked = min(dt.date.fromisoformat(r["due_date"]) for r in lines)
        amounts = [Decimal(r["amount"]) for r in lines]
        return {
            "journal": journal_id,
            "period": periods[booked.year, booked.month],
            "date": booked,
            "description": lines[0]["contract_no"],
            "lines": [
                (
                    "create",
                    [
                        {
                            "account": receivable_id,
                            "party": parties[r["debtor_id"]],
                            "debit": amount,
                            "credit": Decimal(0),
                            "maturity_date": dt.date.fromisoformat(r["due_date"]),
                            "description": f"{r['contract_no']} #{r['item_number']}",
                        }
                        for r, amount in zip(lines, amounts, strict=True)
                    ]
                    + [
                        {
                            "account": revenue_id,
                            "debit": Decimal(0),
                            "credit": sum(amounts, Decimal(0)),
                        }
                    ],
                )
            ],
        }

    by_account = (
        move(account, list(lines))
        for account, lines in groupby(
            sorted(rows, key=lambda r: int(r["account_id"])), key=lambda r: r["account_id"]
        )
    )
    moves = 0
    # Posting asks for these locks (by raising, then restarting the transaction); a batch
    # that meets a fiscal year's sequence for the first time would otherwise run twice.
    extras: dict[str, Any] = {
        "_lock_tables": ["account_journal_period"],
        "_lock_records": {"ir_sequence_strict": sequences},
    }
    started = time.perf_counter()
    for batch in _batches(by_account, MOVE_BATCH):

        def post(batch: list[dict[str, Any]] = batch) -> None:
            Move = Pool().get("account.move")
            Move.post(Move.create(batch))

        _transaction(user, post, context=context, extras=extras)
        moves += len(batch)
        if os.environ.get("HUIKUAN_BENCH_VERBOSE"):
            sys.stderr.write(f"{moves} moves, {time.perf_counter() - started:.1f} s, {extras}\n")
    return moves, len(rows)


def time_run(args: argparse.Namespace) -> None:
    """Time the ``account.dunning.create`` wizard over every line, as a client runs it.

    The clock runs from the wizard's ``create`` to the commit, across any restart the
    transaction needs for a table lock (counted in ``attempts``), as trytond's dispatcher would.
    """
    from trytond.pool import Pool
    from trytond.transaction import Transaction, TransactionError

    _pool()
    user = _admin_context()["user"]
    context = _context(user)

    def count() -> int:
        Line = Pool().get("account.move.line")
        return int(Line.search([("account.type.receivable", "=", True)], count=True))

    lines = _transaction(user, count, readonly=True)
    profiler = None
    if args.profile:
        import cProfile

        profiler = cProfile.Profile()
    extras: dict[str, Any] = {}
    attempts = 0
    (args.path / CLOCK).write_text(repr(time.time()))  # for a lower bound if it times out
    started = time.perf_counter()
    if profiler:
        profiler.enable()
    while True:
        attempts += 1
        with Transaction().start(DB, user, context=context, **extras) as transaction:
            CreateDunning = Pool().get("account.dunning.create", type="wizard")
            try:
                session_id, _, _ = CreateDunning.create()
                CreateDunning.execute(
                    session_id,
                    {"start": {"date": args.as_of, "companies": [context["company"]]}},
                    "create_",
                )
                CreateDunning.delete(session_id)
            except TransactionError as error:
                transaction.rollback()
                error.fix(extras)
                continue
            wizard = time.perf_counter() - started
        break  # leaving the block committed
    seconds = time.perf_counter() - started
    if profiler:
        profiler.disable()
        profiler.dump_stats(str(args.profile))

    def dunnings() -> tuple[int, dict[str, int]]:
        pool = Pool()
        Dunning = pool.get("account.dunning")
        per_level = {
            str(level.overdue.days): Dunning.search([("level", "=", level.id)], count=True)
            for level in pool.get("account.dunning.level").search([])
        }
        return Dunning.search([], count=True), per_level

    created, per_level = _transaction(user, dunnings, readonly=True)
    print(
        json.dumps(
            {
                "optimize": sys.flags.optimize,
                "lines": lines,
                "dunnings": created,
                "dunnings_per_level_days": per_level,
                "attempts": attempts,
                "wizard_seconds": round(wizard, 2),
                "seconds": round(seconds, 2),
                "lines_per_second": round(lines / seconds, 1),
            }
        )
    )


def main() -> None:
    args = _arguments()
    if args.step == "bench":
        bench(args)
    elif args.step == "load":
        load(args)
    else:
        time_run(args)


if __name__ == "__main__":
    main()
