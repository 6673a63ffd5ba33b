"""Both catalogs are complete, and translations keep every placeholder of their source."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from babel.messages.pofile import read_po

PACKAGE = Path(__file__).resolve().parents[2]
# The project's catalog, and those of the apps that keep their strings beside their code.
LOCALES = [PACKAGE / "locale", *sorted(p for p in PACKAGE.glob("*/locale") if p.is_dir())]
PLACEHOLDER = re.compile(r"%\((\w+)\)[sd]|%[sd]|\{\w+\}")


def _catalog(language: str, locale: Path = LOCALES[0]):
    with (locale / language / "LC_MESSAGES" / "django.po").open("rb") as f:
        return read_po(f)


def _messages(language: str) -> list:
    return [m for locale in LOCALES for m in _catalog(language, locale) if m.id]


def _pairs(message) -> list[tuple[str, str]]:
    ids = message.id if isinstance(message.id, tuple) else (message.id,)
    strings = message.string if isinstance(message.string, tuple) else (message.string,)
    return [(ids[min(i, len(ids) - 1)], s) for i, s in enumerate(strings)]


@pytest.mark.parametrize("language", ["zh_Hans", "en"])
def test_every_message_is_translated(language):
    assert len(_catalog(language)) > 300
    catalog = _messages(language)
    missing = [m.id for m in catalog if not all(s for _i, s in _pairs(m))]
    fuzzy = [m.id for m in catalog if m.fuzzy]
    assert missing == []
    assert fuzzy == []


def test_chinese_keeps_the_placeholders_and_is_chinese():
    catalog = _messages("zh_Hans")
    for message in catalog:
        for source, text in _pairs(message):
            assert sorted(PLACEHOLDER.findall(source)) == sorted(PLACEHOLDER.findall(text)), source
    chinese = [m for m in catalog if re.search(r"[\u4e00-\u9fff]", str(m.string))]
    # Codes and names (API, DPD, USD...) may stay as they are; sentences may not.
    assert len(chinese) > 0.9 * len(catalog)


def test_english_is_the_source_text():
    # A fuzzy guess carried over by makemessages must never become the English wording.
    wrong = [m.id for m in _messages("en") if _pairs(m)[0][1] != _pairs(m)[0][0]]
    assert wrong == []
