"""Where the message catalogs live: the project's own (``huikuan/locale``) and one per app that
keeps its strings beside its code (``huikuan/<app>/locale``), so apps built side by side never
edit the same catalog file."""

from __future__ import annotations

from pathlib import Path

PACKAGE = Path(__file__).resolve().parent.parent / "huikuan"
MAIN = PACKAGE / "locale"


def app_locales() -> list[Path]:
    """The ``locale`` folders of the apps with a catalog of their own."""
    return sorted(p for p in PACKAGE.glob("*/locale") if p.is_dir())


def all_locales() -> list[Path]:
    return [MAIN, *app_locales()]


def catalogs(language: str) -> list[Path]:
    return [loc / language / "LC_MESSAGES" / "django.po" for loc in all_locales()]
