"""The ``_`` used for lib's user-facing messages.

lib/ is the bottom layer: bench scripts and the columnar engine import it without setting
Django up, so translating must not raise ``ImproperlyConfigured`` or ``AppRegistryNotReady``
there; without a ready app registry the English msgid is the message. Messages are translated
when produced (in the caller's active language) and returned as plain ``str``, which joins,
logs and serialises without the surprises of lazy proxies.
"""

from __future__ import annotations

from django.apps import apps
from django.utils.translation import gettext


def _(message: str) -> str:
    if not apps.ready:
        return message
    return gettext(message)
