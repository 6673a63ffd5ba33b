"""Huikuan's daily cycle against Tryton's dunning run, on the same overdue lines.

    .venv/bin/python bench/cycle_vs_tryton.py                    # at least 100,000 overdue lines
    .venv/bin/python bench/cycle_vs_tryton.py --lines 5000       # a quick check
    .venv/bin/python bench/cycle_vs_tryton.py --lines 5000 --no-tryton --databases sqlite

One portfolio, both sides (``bench/peer/portfolio.py``):

1. The demo portfolio with the fewest accounts that has at least ``--lines`` overdue lines
   (items due before the as-of date with something unpaid) is written as a CSV of those lines.
2. Huikuan, on each of ``--databases`` (a SQLite file in a temporary directory; a scratch
   PostgreSQL database ``huikuan_peer_bench`` on ``--server-url``, dropped afterwards): migrate
   and load the same portfolio with ``demo_generate``, check that the overdue lines the database
   then holds are byte for byte the CSV's (not timed), then time the first day's cycle
   (``huikuan.cycle.services.cycle_run``) over every account, each in its own process.
3. Tryton 8.2 in its own virtual environment (``bench/peer/tryton_venv.sh``, outside the project
   tree): ``bench/peer/tryton_dunning.py`` loads the CSV's lines into a SQLite database (not
   timed; kept in the work directory and reused while the CSV is the same), then times the
   ``account.dunning.create`` wizard under ``python -O`` and under plain ``python`` (its
   per-record asserts make it quadratic), each on a fresh copy, each bounded by ``--timeout``.

Prints a table and one JSON summary: lines per second on each side and mode, and the ratio of
Huikuan's to Tryton's at its best (the faster mode). The work directory (``--workdir``, default
``$HUIKUAN_BENCH_DIR`` or ``$XDG_CACHE_HOME/huikuan-bench``) keeps the CSV and Tryton's loaded
database; nothing is written into the project tree.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

BENCH = Path(__file__).resolve().parent
ROOT = BENCH.parent
PEER = BENCH / "peer"
sys.path.insert(0, str(ROOT))

DEFAULT_SERVER = "postgres://postgres@127.0.0.1:5432"
SCRATCH = "huikuan_peer_bench"
SEED = 2026
AS_OF = dt.date(2026, 11, 23)
TARGET = 50  # Huikuan must be at least this many times faster than Tryton at its best
DATABASES = {"sqlite": "SQLite", "postgresql": "PostgreSQL"}
MODES = {"python-O": "python -O", "python": "python"}


def _arguments() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    size = parser.add_mutually_exclusive_group()
    size.add_argument("--lines", type=int, default=100_000, help="at least this many lines")
    size.add_argument("--accounts", type=int, help="exactly this many accounts")
    parser.add_argument("--seed", type=int, default=SEED)
    parser.add_argument("--as-of", type=dt.date.fromisoformat, default=AS_OF)
    parser.add_argument("--workdir", type=Path, help="where the CSV and Tryton's database go")
    parser.add_argument("--databases", default="sqlite,postgresql", help="Huikuan's databases")
    parser.add_argument("--server-url", default=DEFAULT_SERVER, help="PostgreSQL server")
    parser.add_argument("--no-tryton", action="store_true", help="time Huikuan only")
    parser.add_argument(
        "--tryton-venv",
        type=Path,
        help="Tryton's venv (default: $HUIKUAN_TRYTON_VENV or ${TMPDIR:-/tmp}/huikuan-tryton-venv);"
        " created by bench/peer/tryton_venv.sh when missing",
    )
    parser.add_argument("--modes", default="python-O,python", help="Tryton's interpreter modes")
    parser.add_argument("--timeout", type=float, default=3_600, help="seconds per Tryton run")
    parser.add_argument("--reload", action="store_true", help="reload Tryton's database")
    parser.add_argument("--json", type=Path, help="also write the JSON summary here")
    parser.add_argument("--step", choices=("bench", "huikuan"), default="bench")
    parser.add_argument("--input", type=Path, help=argparse.SUPPRESS)  # the CSV, for --step
    return parser.parse_args()


def _say(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def _loadavg() -> list[float]:
    return [round(x, 2) for x in os.getloadavg()]


# --- the driver -------------------------------------------------------------------------------


def main() -> None:
    args = _arguments()
    if args.step == "huikuan":
        huikuan_step(args)
        return
    load_start = _loadavg()
    workdir = (args.workdir or _default_workdir()).resolve()
    if workdir.is_relative_to(ROOT):
        raise SystemExit(f"--workdir must be outside the project tree: {workdir}")
    workdir.mkdir(parents=True, exist_ok=True)
    portfolio = _portfolio(args, workdir)
    csv_path = Path(portfolio.pop("path"))
    _say(f"portfolio: {portfolio['accounts']:,} accounts, {portfolio['lines']:,} overdue lines")
    huikuan = {db: _huikuan(args, db, csv_path) for db in _split(args.databases)}
    tryton = None if args.no_tryton else _tryton(args, csv_path, workdir)
    summary = _summary(portfolio, huikuan, tryton, load_start)
    _table(summary)
    text = json.dumps(summary, indent=2, ensure_ascii=False)
    print(text)
    if args.json:
        args.json.write_text(text + "\n")


def _default_workdir() -> Path:
    if bench_dir := os.environ.get("HUIKUAN_BENCH_DIR"):
        return Path(bench_dir)
    cache = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(cache) / "huikuan-bench"


def _split(names: str) -> list[str]:
    return [n for n in (s.strip() for s in names.split(",")) if n]


def _run(command: list[str], env: dict[str, str] | None = None) -> str:
    """Run a step; its progress goes to our stderr, its stdout is returned."""
    done = subprocess.run(  # noqa: S603 - our own interpreters and scripts
        command, env=env, check=True, stdout=subprocess.PIPE, text=True
    )
    return done.stdout


def _portfolio(args: argparse.Namespace, workdir: Path) -> dict[str, Any]:
    size = ["--accounts", str(args.accounts)] if args.accounts else ["--lines", str(args.lines)]
    command = [sys.executable, str(PEER / "portfolio.py"), *size, "--seed", str(args.seed)]
    command += ["--as-of", args.as_of.isoformat(), "--out", str(workdir)]
    meta: dict[str, Any] = json.loads(_run(command).strip().splitlines()[-1])
    return meta


def _huikuan(args: argparse.Namespace, database: str, csv_path: Path) -> dict[str, Any]:
    if database not in DATABASES:
        raise SystemExit(f"--databases: one of {', '.join(DATABASES)}, not {database!r}")
    _say(f"Huikuan on {DATABASES[database]}: loading, then the daily cycle")
    env = {k: v for k, v in os.environ.items() if k != "DATABASE_URL"}
    env["DJANGO_SETTINGS_MODULE"] = "huikuan.settings"
    command = [sys.executable, str(Path(__file__).resolve()), "--step", "huikuan"]
    command += ["--input", str(csv_path)]
    scratch_dir = tempfile.mkdtemp(prefix="huikuan-bench-peer-")
    env["HUIKUAN_VAR_DIR"] = scratch_dir
    try:
        if database == "postgresql":
            _admin(args.server_url, f"DROP DATABASE IF EXISTS {SCRATCH}")
            _admin(args.server_url, f"CREATE DATABASE {SCRATCH}")
            env["DATABASE_URL"] = f"{args.server_url}/{SCRATCH}"
        result: dict[str, Any] = json.loads(_run(command, env).strip().splitlines()[-1])
    finally:
        shutil.rmtree(scratch_dir, ignore_errors=True)
        if database == "postgresql":
            _admin(args.server_url, f"DROP DATABASE IF EXISTS {SCRATCH}")
    _say(json.dumps(result))
    return result


def _admin(server: str, statement: str) -> None:
    import psycopg

    with psycopg.connect(f"{server}/postgres", autocommit=True) as conn:
        conn.execute(statement)


def _tryton(args: argparse.Namespace, csv_path: Path, workdir: Path) -> dict[str, Any]:
    env = dict(os.environ)
    if args.tryton_venv:
        env["HUIKUAN_TRYTON_VENV"] = str(args.tryton_venv.resolve())
    _say("Tryton: its virtual environment")
    venv = Path(_run(["bash", str(PEER / "tryton_venv.sh")], env).strip().splitlines()[-1])
    _say(f"Tryton: loading (kept and reused while the CSV is the same), then {args.modes}")
    with tempfile.TemporaryDirectory(prefix="huikuan-bench-peer-") as scratch:
        summary_path = Path(scratch) / "tryton.json"
        command = [str(venv / "bin" / "python"), str(PEER / "tryton_dunning.py")]
        command += ["--input", str(csv_path), "--workdir", str(workdir / "tryton")]
        command += ["--modes", args.modes, "--timeout", str(args.timeout)]
        command += ["--summary", str(summary_path), *(["--reload"] if args.reload else [])]
        subprocess.run(command, check=True, stdout=sys.stderr)  # noqa: S603
        result: dict[str, Any] = json.loads(summary_path.read_text())
    return result


def _summary(
    portfolio: dict[str, Any],
    huikuan: dict[str, dict[str, Any]],
    tryton: dict[str, Any] | None,
    load_start: list[float],
) -> dict[str, Any]:
    lines = portfolio["lines"]
    results = (tryton or {}).get("results", {})
    finished = {m: r for m, r in results.items() if not r.get("timeout")}
    best_mode = max(finished, key=lambda m: finished[m]["lines_per_second"], default=None)
    best = finished[best_mode]["lines_per_second"] if best_mode else None
    ratios: dict[str, Any] = {}
    for db, h in huikuan.items():
        for mode, r in results.items():
            key = f"huikuan_{db}_vs_tryton_{mode}"
            if r.get("timeout"):
                bound = h["lines_per_second"] / r["lines_per_second_at_most"]
                ratios[key] = {"at_least": round(bound, 1)}
            else:
                ratios[key] = round(h["lines_per_second"] / r["lines_per_second"], 1)
        if best:
            ratios[f"huikuan_{db}_vs_tryton_best"] = round(h["lines_per_second"] / best, 1)
    if "python-O" in finished and "python" in results:
        plain = results["python"]
        speedup = finished["python-O"]["lines_per_second"] / (
            plain["lines_per_second_at_most"] if plain.get("timeout") else plain["lines_per_second"]
        )
        ratios["tryton_python-O_vs_python"] = (
            {"at_least": round(speedup, 1)} if plain.get("timeout") else round(speedup, 1)
        )
    best_ratios = [v for k, v in ratios.items() if k.endswith("_vs_tryton_best")]
    return {
        "benchmark": "Huikuan daily cycle vs Tryton account.dunning.create",
        "date": dt.date.today().isoformat(),
        "portfolio": portfolio,
        "overdue_lines": lines,
        "huikuan": huikuan,
        "tryton": tryton,
        "tryton_best_mode": best_mode,
        "ratios": ratios,
        "target": f"Huikuan at least {TARGET}x Tryton at its best",
        "target_met": (min(best_ratios) >= TARGET) if best_ratios else None,
        "python": sys.version.split()[0],
        "load_average": {"start": load_start, "end": _loadavg()},
    }


def _table(summary: dict[str, Any]) -> None:
    lines = summary["overdue_lines"]
    p = summary["portfolio"]
    print(
        f"\n{lines:,} overdue lines of {p['accounts']:,} demo accounts "
        f"({p['accounts_with_overdue']:,} with overdue lines; seed {p['seed']}, as of {p['as_of']})"
    )
    rows = [("side", "database", "mode", "seconds", "lines/s", "x Tryton best")]
    ratios = summary["ratios"]
    for db, h in summary["huikuan"].items():
        ratio = ratios.get(f"huikuan_{db}_vs_tryton_best")
        rows.append(
            (
                "Huikuan",
                DATABASES[db],
                "daily cycle",
                f"{h['seconds']:.2f}",
                f"{h['lines_per_second']:,.0f}",
                f"{ratio:,.1f}" if ratio is not None else "-",
            )
        )
    tryton = summary["tryton"] or {}
    for mode, r in tryton.get("results", {}).items():
        best = "(best)" if mode == summary["tryton_best_mode"] else ""
        if r.get("timeout"):
            seconds = f"> {r['seconds_more_than']:.0f}"
            rate = f"< {r['lines_per_second_at_most']:,.1f}"
        else:
            seconds, rate = f"{r['seconds']:.2f}", f"{r['lines_per_second']:,.1f}"
        rows.append(("Tryton 8.2", "SQLite", MODES.get(mode, mode), seconds, rate, best))
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    for i, row in enumerate(rows):
        print(
            "  ".join(
                cell.ljust(w) if c < 3 else cell.rjust(w)
                for c, (cell, w) in enumerate(zip(row, widths, strict=True))
            )
        )
        if i == 0:
            print("  ".join("-" * w for w in widths))
    if summary["target_met"] is not None:
        verdict = "met" if summary["target_met"] else "NOT met"
        print(f"target ({summary['target']}): {verdict}")
    load = summary["load_average"]
    print(f"load average: {load['start']} at the start, {load['end']} at the end\n")


# --- Huikuan's side, in its own process -------------------------------------------------------


def huikuan_step(args: argparse.Namespace) -> None:
    """Migrate, load the portfolio of ``--input`` and check it, then time the first day's
    cycle over every account. Prints one JSON object."""
    import django

    django.setup()
    from django.core.management import call_command
    from django.db import connection

    sys.path.insert(0, str(PEER))
    import portfolio

    call_command("migrate", verbosity=0)
    loaded = portfolio.huikuan_load(args.input)
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("VACUUM ANALYZE")
    from huikuan.cycle.services import cycle_run

    meta = json.loads(args.input.with_suffix(".json").read_text())
    as_of = dt.date.fromisoformat(meta["as_of"])
    load_before = os.getloadavg()[0]
    started = time.perf_counter()
    run = cycle_run(as_of=as_of, actor=None, partitions=1)
    seconds = time.perf_counter() - started
    lines = meta["lines"]
    print(
        json.dumps(
            {
                "database": connection.vendor,
                "as_of": as_of.isoformat(),
                "load": loaded,
                "lines": lines,
                "accounts": run.counts["accounts"],
                "counts": run.counts,
                "timings": run.timings,
                "seconds": round(seconds, 3),
                "lines_per_second": round(lines / seconds, 1),
                "accounts_per_second": round(run.counts["accounts"] / seconds, 1),
                "load_average": [round(load_before, 2), round(os.getloadavg()[0], 2)],
            }
        )
    )


if __name__ == "__main__":
    main()
