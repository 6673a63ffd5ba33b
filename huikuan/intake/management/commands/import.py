"""``huikuan import ledger FILE --creditor CODE`` and ``huikuan import payments FILE``.

The same job as an upload in the web app, run here and now (no worker needed), with the
progress on the terminal. The exit status is 0 when the job ended done (or awaiting review),
1 when it was rejected or failed, so scripts can tell.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

from django.contrib.auth import get_user_model
from django.core.exceptions import ValidationError
from django.core.management.base import CommandError, CommandParser
from django.db import transaction
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from huikuan.intake import jobs
from huikuan.intake.errors import IntakeError
from huikuan.intake.models import ImportJob
from huikuan.ledger.models import Creditor, Portfolio
from huikuan.lib.commands import TranslatedCommand


class Command(TranslatedCommand):
    help = gettext_lazy(
        "Import a ledger file (CSV/XLSX) or a payments file (bank export CSV/XLSX, camt.053)."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "kind", choices=["ledger", "payments"], help=gettext_lazy("what the file holds")
        )
        parser.add_argument("file", help=gettext_lazy("the file to import"))
        parser.add_argument(
            "--creditor",
            help=gettext_lazy("creditor code (may be left out when there is only one creditor)"),
        )
        parser.add_argument(
            "--portfolio",
            help=gettext_lazy("portfolio code (may be left out when the creditor has one)"),
        )
        parser.add_argument(
            "--mode",
            choices=["all-or-nothing", "valid-only"],
            default="all-or-nothing",
            help=gettext_lazy(
                "all-or-nothing: write nothing unless every row is valid (default); "
                "valid-only: write the valid rows, report the rest"
            ),
        )
        parser.add_argument(
            "--dry-run", action="store_true", help=gettext_lazy("validate only, write nothing")
        )
        parser.add_argument("--sheet", default="", help=gettext_lazy("XLSX sheet name"))
        parser.add_argument(
            "--user", help=gettext_lazy("record the import under this user (default: system)")
        )
        parser.add_argument(
            "--report", help=gettext_lazy("copy the error report (CSV) to this path")
        )
        parser.add_argument(
            "--post",
            action="store_true",
            help=gettext_lazy("payments: post the matched lines at once"),
        )

    def handle(self, *args: Any, **options: Any) -> None:
        path = Path(options["file"])
        if not path.is_file():
            raise CommandError(_("No such file: %(path)s") % {"path": path})
        creditor = _creditor(options["creditor"])
        portfolio = _portfolio(creditor, options["portfolio"])
        actor = _user(options["user"])
        try:
            with path.open("rb") as source:
                job = jobs.import_job_create(
                    actor=actor,
                    kind=options["kind"],
                    creditor=creditor,
                    portfolio=portfolio,
                    source=source,
                    file_name=path.name,
                    mode=options["mode"].replace("-", "_"),
                    dry_run=options["dry_run"],
                    sheet=options["sheet"],
                )
            with transaction.atomic():
                jobs.import_job_start(job, actor=actor, enqueue=False)
        except IntakeError as exc:
            raise CommandError(str(exc)) from exc
        except ValidationError as exc:
            raise CommandError(" ".join(_messages(exc))) from exc
        job = jobs.import_job_run(job.pk, progress=self._progress)
        self.stderr.write("")
        if options["post"] and job.kind == ImportJob.Kind.PAYMENTS:
            job = jobs.payments_post_matched(job, actor=actor)
        self._report(job, options["report"])
        if job.status in (ImportJob.Status.REJECTED, ImportJob.Status.FAILED):
            sys.exit(1)

    def _progress(self, phase: str, done: int, total: int) -> None:
        label = {"validate": _("validating"), "import": _("writing"), "match": _("matching")}
        shown = f"{done:,}/{total:,}" if total else f"{done:,}"
        self.stderr.write(f"\r{label.get(phase, phase)} {shown}    ", ending="")
        self.stderr.flush()

    def _report(self, job: ImportJob, copy_to: str | None) -> None:
        self.stdout.write(
            _("Import #%(id)s: %(status)s") % {"id": job.pk, "status": job.get_status_display()}
        )
        for name, value in job.counts.items():
            self.stdout.write(f"  {jobs.count_label(name)}: {value:,}")
        if job.message:
            self.stdout.write(job.message)
        report = jobs.report_file(job)
        if report.exists():
            if copy_to:
                Path(copy_to).write_bytes(report.read_bytes())
                report = Path(copy_to)
            self.stdout.write(_("Error report: %(path)s") % {"path": report})
        if job.status == ImportJob.Status.REVIEW:
            self.stdout.write(
                _("Lines to review: open the import #%(id)s in the web app.") % {"id": job.pk}
            )


def _creditor(code: str | None) -> Creditor:
    if code:
        found = Creditor.objects.filter(code=code).first()
        if found is None:
            raise CommandError(_("No creditor has the code %(code)s.") % {"code": code})
        return found
    creditors = list(Creditor.objects.all()[:2])
    if len(creditors) != 1:
        raise CommandError(_("Name the creditor with --creditor CODE."))
    return creditors[0]


def _portfolio(creditor: Creditor, code: str | None) -> Portfolio | None:
    if not code:
        return None
    found = Portfolio.objects.filter(creditor=creditor, code=code).first()
    if found is None:
        raise CommandError(
            _("The creditor %(creditor)s has no portfolio %(code)s.")
            % {"creditor": creditor.code, "code": code}
        )
    return found


def _user(username: str | None) -> Any:
    if not username:
        return None
    user = get_user_model().objects.filter(username=username, is_active=True).first()
    if user is None:
        raise CommandError(_("No active user is called %(name)s.") % {"name": username})
    return user


def _messages(exc: ValidationError) -> list[str]:
    if hasattr(exc, "message_dict"):
        return [m for messages in exc.message_dict.values() for m in messages]
    return list(exc.messages)
