"""The ``huikuan`` command for operators.

It is Django's management utility with Huikuan's own commands listed first and its help in the
operator's language: ``--lang zh-hans|en``, else ``HUIKUAN_LANG``, else ``LANG`` (``en*`` gives
English; anything else, including an unset or C locale, gives the product default, Chinese).
"""

from __future__ import annotations

import os
import sys

from django.utils.translation import gettext as _

OPERATOR_COMMANDS = (
    "setup",
    "serve",
    "worker",
    "cycle",
    "import",
    "demo",
    "audit-verify",
    "token",
)
# Operator names for Django commands whose own names say less.
ALIASES: dict[str, str] = {}


def _language(argv: list[str]) -> tuple[str, list[str]]:
    for i, arg in enumerate(argv):
        if arg == "--lang" and i + 1 < len(argv):
            return argv[i + 1], argv[:i] + argv[i + 2 :]
        if arg.startswith("--lang="):
            return arg.split("=", 1)[1], argv[:i] + argv[i + 1 :]
    chosen = os.environ.get("HUIKUAN_LANG") or os.environ.get("LANG", "")
    return ("en" if chosen.lower().startswith("en") else "zh-hans"), argv


def _summaries() -> dict[str, str]:
    return {
        "setup": _("Create or upgrade the database, roles and demo users; load demo data."),
        "serve": _("Serve the web app and the API (default http://127.0.0.1:8000)."),
        "worker": _(
            "Run background tasks and start the daily cycle on time; serve starts one by itself."
        ),
        "cycle": _("Run the daily cycle: cycle run --as-of DATE, or cycle schedule --once."),
        "import": _("Import a ledger or payments file: import ledger|payments FILE ..."),
        "demo": _("Generate a deterministic demo portfolio of N accounts."),
        "audit-verify": _("Check the audit log's hash chain; report the first tampered row."),
        "token": _("Create, list or revoke a user's API tokens."),
    }


def _print_help() -> None:
    print(_("Usage: huikuan <command> [options]   (huikuan <command> --help for details)"))
    print()
    print(_("Commands:"))
    for name, text in _summaries().items():
        print(f"  {name:<14}{text}")
    print()
    print(_("Every Django management command (migrate, shell, ...) also works."))
    print(_("Language: --lang zh-hans|en, or the HUIKUAN_LANG environment variable."))


def main(argv: list[str] | None = None) -> None:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "huikuan.settings")
    import django
    from django.core.management import ManagementUtility
    from django.utils import translation

    language, args = _language(list(sys.argv[1:] if argv is None else argv))
    django.setup()
    translation.activate(language)
    if not args or args[0] in ("-h", "--help", "help"):
        _print_help()
        return
    # Operators type audit-verify; Django's command modules are named audit_verify.
    args[0] = ALIASES.get(args[0], args[0].replace("-", "_"))
    from django.db import DatabaseError

    try:
        ManagementUtility(["huikuan", *args]).execute()
    except DatabaseError as exc:
        # Most often a database that was never set up; say what to do, not a traceback.
        sys.stderr.write(_("Database error: %(error)s") % {"error": exc} + "\n")
        sys.stderr.write(_("If this is a new database, run “huikuan setup” first.") + "\n")
        sys.exit(1)


if __name__ == "__main__":
    main()
