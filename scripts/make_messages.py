"""Regenerate every catalog from the source (``make messages``): the project's own catalog with
the strings of the apps that have no catalog of their own, and each app's catalog with its own.

The apps' catalogs are made without settings, so that makemessages writes them into the app's
``locale`` folder rather than the first of ``LOCALE_PATHS``.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from catalogs import PACKAGE, app_locales

LANGUAGES = ["-l", "zh_Hans", "-l", "en"]
ADMIN = str(Path(sys.executable).with_name("django-admin"))


def _makemessages(cwd: Path, *extra: str, env: dict[str, str]) -> None:
    command = [ADMIN, "makemessages", *LANGUAGES, "--no-obsolete", "-i", "tests/*", *extra]
    subprocess.run(command, cwd=cwd, env=env, check=True)  # noqa: S603


def main() -> None:
    own = [loc.parent.name for loc in app_locales()]
    main_env = {**os.environ, "DJANGO_SETTINGS_MODULE": "huikuan.settings"}
    main_env["PYTHONPATH"] = str(PACKAGE.parent)
    ignores = [arg for app in own for arg in ("-i", f"{app}/*")]
    _makemessages(PACKAGE, *ignores, env=main_env)
    bare = {k: v for k, v in os.environ.items() if k != "DJANGO_SETTINGS_MODULE"}
    for app in own:
        _makemessages(PACKAGE / app, env=bare)


if __name__ == "__main__":
    main()
