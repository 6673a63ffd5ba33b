from __future__ import annotations

import datetime as dt
import time
from typing import Any

from django.core.management.base import CommandError, CommandParser
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from huikuan.ledger.demo import DemoError, demo_generate
from huikuan.lib.commands import TranslatedCommand


def _date(value: str) -> dt.date:
    try:
        return dt.date.fromisoformat(value)
    except ValueError as exc:
        raise CommandError(_("“%(value)s” is not a date (YYYY-MM-DD).") % {"value": value}) from exc


class Command(TranslatedCommand):
    help = gettext_lazy(
        "Generate a deterministic demo portfolio of N accounts (creditors, debtors, contacts, "
        "items, payments) and load it in one transaction."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--accounts",
            type=int,
            required=True,
            help=gettext_lazy("number of accounts to generate"),
        )
        parser.add_argument(
            "--seed",
            type=int,
            default=2026,
            help=gettext_lazy("random seed: the same seed and N give the same data"),
        )
        parser.add_argument(
            "--as-of",
            type=_date,
            default=None,
            help=gettext_lazy("as-of date YYYY-MM-DD for due dates and buckets (default: today)"),
        )

    def handle(self, *args: Any, **options: Any) -> None:
        as_of = options["as_of"] or timezone.localdate()
        started = time.perf_counter()
        try:
            result = demo_generate(accounts=options["accounts"], seed=options["seed"], as_of=as_of)
        except DemoError as exc:
            raise CommandError(str(exc)) from exc
        seconds = time.perf_counter() - started
        for table, count in result.as_dict().items():
            self.stdout.write(f"  {table:<12}{count:>12,}")
        self.stdout.write(
            _("%(rows)s rows in %(seconds).1f s (as of %(as_of)s, seed %(seed)s).")
            % {
                "rows": f"{result.rows:,}",
                "seconds": seconds,
                "as_of": as_of,
                "seed": options["seed"],
            }
        )
