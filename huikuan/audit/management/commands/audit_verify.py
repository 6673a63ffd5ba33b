from __future__ import annotations

from typing import Any

from django.core.management.base import CommandError
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from huikuan.audit.selectors import audit_verify
from huikuan.lib.commands import TranslatedCommand


class Command(TranslatedCommand):
    help = gettext_lazy(
        "Verify the audit log's hash chain and report the first row that was changed or removed."
    )

    def handle(self, *args: Any, **options: Any) -> None:
        report = audit_verify()
        if report.ok:
            self.stdout.write(
                _("Audit chain intact: %(n)s events verified.") % {"n": report.checked}
            )
            return
        if report.problem == "truncated":
            raise CommandError(
                _(
                    "The newest audit events were removed: the chain ends after %(n)s events but "
                    "the chain head remembers more."
                )
                % {"n": report.checked}
            )
        what = (
            _("its content was changed")
            if report.problem == "content"
            else _("it does not follow the previous event (a row before it was removed or changed)")
        )
        raise CommandError(
            _("Audit event %(id)s fails verification: %(what)s. %(n)s events before it are intact.")
            % {"id": report.first_bad_id, "what": what, "n": report.checked}
        )
