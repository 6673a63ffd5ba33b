from __future__ import annotations

from typing import Any

from django.core.management import call_command
from django.core.management.base import CommandParser
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from huikuan.iam.services import roles_sync
from huikuan.lib.commands import TranslatedCommand
from huikuan.web.demo_setup import DEMO_PASSWORD, demo_load_if_empty, demo_users_ensure


class Command(TranslatedCommand):
    help = gettext_lazy(
        "Create or upgrade the database and the roles; with --demo-accounts, also create one "
        "demo user per role and load a demo portfolio when the ledger is empty."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--demo-accounts",
            type=int,
            default=0,
            help=gettext_lazy("accounts to generate when the ledger is empty (0: no demo data)"),
        )

    def handle(self, *args: Any, **options: Any) -> None:
        call_command("migrate", interactive=False, verbosity=0)
        roles_sync()
        self.stdout.write(_("Database ready."))
        count = options["demo_accounts"]
        if not count:
            return
        users = demo_users_ensure()
        loaded = demo_load_if_empty(accounts=count, users=users)
        if loaded:
            self.stdout.write(_("Demo portfolio loaded: %(n)s accounts.") % {"n": loaded})
        else:
            self.stdout.write(_("The ledger already has accounts: no demo data loaded."))
        self.stdout.write("")
        self.stdout.write(_("Demo logins (password for all: %(pw)s):") % {"pw": DEMO_PASSWORD})
        for user, role_label in users.logins():
            self.stdout.write(f"  {user:<16}{role_label}")
        self.stdout.write("")
