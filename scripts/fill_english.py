"""Make the English catalog complete: English is the source language, so msgstr = msgid.

Every entry is reset, so a guess makemessages carried over from a similar message (a fuzzy
entry) can never survive as the English text.
"""

from __future__ import annotations

import sys
from pathlib import Path

from babel.messages.pofile import read_po, write_po

sys.path.insert(0, str(Path(__file__).resolve().parent))

from catalogs import catalogs


def main() -> None:
    for po in catalogs("en"):
        if po.exists():
            _fill(po)


def _fill(po: Path) -> None:
    with po.open("rb") as f:
        catalog = read_po(f, locale="en")
    for message in catalog:
        if not message.id:
            continue
        if isinstance(message.id, tuple):
            message.string = (message.id[0], message.id[1])
        else:
            message.string = message.id
        message.flags.discard("fuzzy")
    with po.open("wb") as f:
        write_po(f, catalog, width=100)


if __name__ == "__main__":
    main()
