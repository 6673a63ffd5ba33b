"""``huikuan worker``: the database task worker, and the daily cycle's clock beside it.

It is django-tasks' ``db_worker`` with one addition: a thread that asks once a minute whether
the day's cycle is due (``HUIKUAN_CYCLE_AT``) and, if so, queues it for the workers
(``cycle.services.cycle_schedule``, which lets exactly one of several workers start it). So the
schedule needs no daemon of its own: ``huikuan serve`` starts this worker, and more workers on
more machines share the schedule as safely as they share the tasks.
"""

from __future__ import annotations

import logging
import os
import threading
from typing import Any

from django.db import close_old_connections, connection
from django.utils.autoreload import DJANGO_AUTORELOAD_ENV
from django.utils.translation import gettext_lazy
from django_tasks_db.management.commands.db_worker import Command as DbWorkerCommand

logger = logging.getLogger(__name__)
CHECK_SECONDS = 60.0


def schedule_check() -> None:
    """One look at the clock; never raises (the worker goes on whatever happens here)."""
    from huikuan.cycle.services import cycle_schedule

    close_old_connections()
    try:
        run = cycle_schedule()
        if run is not None:
            logger.warning("scheduled cycle of %s started (run #%s)", run.as_of, run.pk)
    except Exception:
        logger.exception("the cycle schedule check failed")
    finally:
        connection.close()


def _clock(stop: threading.Event, seconds: float) -> None:
    while True:
        schedule_check()
        if stop.wait(seconds):
            return


def clock_start(seconds: float = CHECK_SECONDS) -> threading.Event:
    """Start the clock thread (a daemon: it ends with the worker); set the event to stop it."""
    stop = threading.Event()
    threading.Thread(target=_clock, args=(stop, seconds), name="cycle-clock", daemon=True).start()
    return stop


class Command(DbWorkerCommand):
    help = gettext_lazy(
        "Run background tasks (imports, the daily cycle) and start the day's cycle after "
        "HUIKUAN_CYCLE_AT."
    )

    def handle(self, **options: Any) -> None:
        batch = options.get("batch")
        reloading = options.get("reload") and not batch
        if batch:
            schedule_check()  # one look, then the queued tasks, then exit
        elif not reloading or os.environ.get(DJANGO_AUTORELOAD_ENV) == "true":
            # With the reloader, only its child process runs tasks: the clock goes there too.
            clock_start()
        super().handle(**options)
