"""The one exception a file can cause before any row is read."""

from __future__ import annotations


class IntakeError(ValueError):
    """A problem with the whole file (not text, no header row, old .xls...).

    The message is already translated and says what to do; show it to the user as it is.
    """
