"""``huikuan cycle run --as-of 2026-11-23 [--partitions N]``: the daily cycle, here and now."""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.core.exceptions import ValidationError
from django.core.management.base import CommandError, CommandParser
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from huikuan.cycle import services
from huikuan.lib.commands import TranslatedCommand


class Command(TranslatedCommand):
    help = gettext_lazy(
        "Run the daily collection cycle: DPD and buckets, segments, strategy steps, the day's "
        "planned actions and snapshots."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("action", choices=["run"], help=gettext_lazy("what to do"))
        parser.add_argument(
            "--as-of",
            type=dt.date.fromisoformat,
            help=gettext_lazy("the business date (default: today)"),
        )
        parser.add_argument(
            "--partitions",
            type=int,
            default=1,
            help=gettext_lazy("split the accounts into this many parts"),
        )
        parser.add_argument(
            "--rebuild",
            action="store_true",
            help=gettext_lazy(
                "recompute every account's overdue amounts from its items instead of only "
                "those where an item fell due since the last run"
            ),
        )

    def handle(self, *args: Any, **options: Any) -> None:
        as_of = options["as_of"] or timezone.localdate()
        try:
            run = services.cycle_run(
                as_of=as_of,
                actor=None,
                partitions=options["partitions"],
                rebuild=options["rebuild"],
            )
        except ValidationError as exc:
            raise CommandError(" ".join(exc.messages)) from exc
        counts = run.counts
        self.stdout.write(
            _(
                "Cycle of %(date)s done: %(accounts)s accounts, %(states)s states changed, "
                "%(moves)s step moves, %(actions)s planned actions, %(snapshots)s snapshots."
            )
            % {
                "date": as_of.isoformat(),
                "accounts": f"{counts.get('accounts', 0):,}",
                "states": f"{counts.get('states_written', 0):,}",
                "moves": f"{counts.get('moves', 0):,}",
                "actions": f"{counts.get('actions', 0):,}",
                "snapshots": f"{counts.get('snapshots', 0):,}",
            }
        )
        seconds = ", ".join(f"{k} {v:.2f} s" for k, v in run.timings.items())
        self.stdout.write(_("Time: %(seconds)s") % {"seconds": seconds})
