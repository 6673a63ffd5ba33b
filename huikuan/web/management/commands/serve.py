from __future__ import annotations

import subprocess
import sys
from typing import Any

from django.core.management.base import CommandParser
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from huikuan.lib.commands import TranslatedCommand


class Command(TranslatedCommand):
    help = gettext_lazy(
        "Serve the web app and the API with the production WSGI server (waitress), "
        "and a background worker for imports beside it."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--host", default="127.0.0.1", help=gettext_lazy("address to bind"))
        parser.add_argument("--port", type=int, default=8000, help=gettext_lazy("port to bind"))
        parser.add_argument("--threads", type=int, default=8, help=gettext_lazy("worker threads"))
        parser.add_argument(
            "--no-worker",
            action="store_true",
            help=gettext_lazy("do not start a task worker (run `huikuan worker` elsewhere)"),
        )

    def handle(self, *args: Any, **options: Any) -> None:
        from waitress import serve

        from huikuan.wsgi import application

        worker = None
        if not options["no_worker"]:
            # A process of its own: the worker's signal handling wants a main thread.
            worker = subprocess.Popen(  # noqa: S603 - our own interpreter and command
                [sys.executable, "-m", "huikuan.cli", "worker", "--no-startup-delay"]
            )
            self.stdout.write(
                _("Background worker started (process %(pid)s).") % {"pid": worker.pid}
            )
        url = f"http://{options['host']}:{options['port']}"
        self.stdout.write(_("Huikuan is serving on %(url)s (Ctrl+C stops it)") % {"url": url})
        try:
            serve(
                application, host=options["host"], port=options["port"], threads=options["threads"]
            )
        finally:
            if worker is not None:
                worker.terminate()
                worker.wait(timeout=30)
