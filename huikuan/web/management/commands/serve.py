from __future__ import annotations

from typing import Any

from django.core.management.base import CommandParser
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from huikuan.lib.commands import TranslatedCommand


class Command(TranslatedCommand):
    help = gettext_lazy("Serve the web app and the API with the production WSGI server (waitress).")

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--host", default="127.0.0.1", help=gettext_lazy("address to bind"))
        parser.add_argument("--port", type=int, default=8000, help=gettext_lazy("port to bind"))
        parser.add_argument("--threads", type=int, default=8, help=gettext_lazy("worker threads"))

    def handle(self, *args: Any, **options: Any) -> None:
        from waitress import serve

        from huikuan.wsgi import application

        url = f"http://{options['host']}:{options['port']}"
        self.stdout.write(_("Huikuan is serving on %(url)s (Ctrl+C stops it)") % {"url": url})
        serve(application, host=options["host"], port=options["port"], threads=options["threads"])
