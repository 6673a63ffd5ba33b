from __future__ import annotations

from collections.abc import Iterator

import pytest
from django.utils import translation


@pytest.fixture(autouse=True)
def _english_messages() -> Iterator[None]:
    # These tests match message words in English; the zh-Hans catalog is checked on its own.
    with translation.override("en"):
        yield
