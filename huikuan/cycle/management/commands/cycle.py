"""``huikuan cycle run --as-of 2026-11-23 [--partitions N]``: the daily cycle, here and now.

``huikuan cycle schedule --once``: the day's run if it has none yet (for cron; the worker does
the same by itself after ``HUIKUAN_CYCLE_AT``); without ``--once``, what the schedule says.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.core.exceptions import ValidationError
from django.core.management.base import CommandError, CommandParser
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from huikuan.cycle import selectors, services
from huikuan.lib.commands import TranslatedCommand


class Command(TranslatedCommand):
    help = gettext_lazy(
        "Run the daily collection cycle: DPD and buckets, segments, strategy steps, the day's "
        "planned actions and snapshots."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("action", choices=["run", "schedule"], help=gettext_lazy("what to do"))
        parser.add_argument(
            "--once",
            action="store_true",
            help=gettext_lazy(
                "schedule: run today's cycle now unless today already has a run (for cron)"
            ),
        )
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
            "--workers",
            type=int,
            default=1,
            help=gettext_lazy(
                "run this many partitions at a time (PostgreSQL; SQLite runs them in turn)"
            ),
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
        if options["action"] == "schedule":
            self._schedule(once=options["once"])
            return
        as_of = options["as_of"] or timezone.localdate()
        try:
            run = services.cycle_run(
                as_of=as_of,
                actor=None,
                partitions=options["partitions"],
                rebuild=options["rebuild"],
                workers=options["workers"],
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

    def _schedule(self, *, once: bool) -> None:
        """``--once``: today's run unless today has one (cron); else what the schedule says."""
        if not once:
            at = selectors.schedule_at()
            if at is None:
                self.stdout.write(_("No schedule: HUIKUAN_CYCLE_AT is empty."))
            else:
                self.stdout.write(
                    _("The worker starts the day's cycle after %(at)s.")
                    % {"at": at.strftime("%H:%M")}
                )
            return
        run = services.cycle_schedule(inline=True)
        if run is None:
            self.stdout.write(_("Nothing to do: today's cycle has run or was started already."))
            return
        self.stdout.write(
            _("Cycle of %(date)s: %(status)s, %(accounts)s accounts.")
            % {
                "date": run.as_of.isoformat(),
                "status": run.get_status_display(),
                "accounts": f"{run.counts.get('accounts', 0):,}",
            }
        )
