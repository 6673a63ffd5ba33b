from __future__ import annotations

from typing import Any

from django.core.management.base import CommandError, CommandParser
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from huikuan.iam.models import ApiToken, User
from huikuan.iam.services import token_create, token_revoke
from huikuan.lib.commands import TranslatedCommand


class Command(TranslatedCommand):
    help = gettext_lazy("Create, list or revoke API tokens of a user.")

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "action", choices=["create", "list", "revoke"], help=gettext_lazy("what to do")
        )
        parser.add_argument("username", help=gettext_lazy("the user the token belongs to"))
        parser.add_argument("--name", default="cli", help=gettext_lazy("a name for a new token"))
        parser.add_argument("--prefix", help=gettext_lazy("the token to revoke (its prefix)"))

    def handle(self, *args: Any, **options: Any) -> None:
        user = User.objects.filter(username=options["username"]).first()
        if user is None:
            raise CommandError(_("No user named %(u)s.") % {"u": options["username"]})
        if options["action"] == "create":
            token, raw = token_create(user=user, name=options["name"], actor=None)
            self.stdout.write(
                _("Token %(p)s created; copy it now, it is not shown again:") % {"p": token.prefix}
            )
            self.stdout.write(raw)
        elif options["action"] == "list":
            for t in ApiToken.objects.filter(user=user).order_by("created_at"):
                state = _("revoked") if t.revoked_at else _("active")
                self.stdout.write(f"{t.prefix}  {t.name:<20} {state}")
        else:
            found = ApiToken.objects.filter(user=user, prefix=options["prefix"] or "").first()
            if found is None:
                raise CommandError(_("No token with that prefix for this user."))
            token_revoke(token=found, actor=None)
            self.stdout.write(_("Token %(p)s revoked.") % {"p": found.prefix})
