"""Both catalogs are complete, and translations keep every placeholder of their source."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from babel.messages.pofile import read_po

LOCALE = Path(__file__).resolve().parents[2] / "locale"
PLACEHOLDER = re.compile(r"%\((\w+)\)[sd]|%[sd]|\{\w+\}")


def _catalog(language: str):
    with (LOCALE / language / "LC_MESSAGES" / "django.po").open("rb") as f:
        return read_po(f)


def _pairs(message) -> list[tuple[str, str]]:
    ids = message.id if isinstance(message.id, tuple) else (message.id,)
    strings = message.string if isinstance(message.string, tuple) else (message.string,)
    return [(ids[min(i, len(ids) - 1)], s) for i, s in enumerate(strings)]


@pytest.mark.parametrize("language", ["zh_Hans", "en"])
def test_every_message_is_translated(language):
    catalog = _catalog(language)
    missing = [m.id for m in catalog if m.id and not all(s for _i, s in _pairs(m))]
    fuzzy = [m.id for m in catalog if m.id and m.fuzzy]
    assert len(catalog) > 300
    assert missing == []
    assert fuzzy == []


def test_chinese_keeps_the_placeholders_and_is_chinese():
    catalog = _catalog("zh_Hans")
    for message in catalog:
        if not message.id:
            continue
        for source, text in _pairs(message):
            assert sorted(PLACEHOLDER.findall(source)) == sorted(PLACEHOLDER.findall(text)), source
    chinese = [m for m in catalog if m.id and re.search(r"[\u4e00-\u9fff]", str(m.string))]
    # Codes and names (API, DPD, USD...) may stay as they are; sentences may not.
    assert len(chinese) > 0.9 * len([m for m in catalog if m.id])


def test_english_is_the_source_text():
    # A fuzzy guess carried over by makemessages must never become the English wording.
    wrong = [m.id for m in _catalog("en") if m.id and _pairs(m)[0][1] != _pairs(m)[0][0]]
    assert wrong == []
