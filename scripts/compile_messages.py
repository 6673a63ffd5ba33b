"""Compile the .po catalogs into .mo files with Babel, so no gettext tools are needed.

Run by `make install`; the .mo files are build output and are not committed.
"""

from __future__ import annotations

import sys
from pathlib import Path

from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po

sys.path.insert(0, str(Path(__file__).resolve().parent))

from catalogs import all_locales


def main() -> None:
    for po_path in sorted(p for loc in all_locales() for p in loc.glob("*/LC_MESSAGES/*.po")):
        mo_path = po_path.with_suffix(".mo")
        if mo_path.exists() and mo_path.stat().st_mtime >= po_path.stat().st_mtime:
            continue
        with po_path.open("rb") as po:
            catalog = read_po(po)
        with mo_path.open("wb") as mo:
            write_mo(mo, catalog)


if __name__ == "__main__":
    main()
