"""Storage settings that only PostgreSQL has, for migrations to apply.

The daily cycle rewrites a row of ``ledger_account`` (overdue aggregates) and of
``cycle_accountstate`` for every account whose day changed: a third to half of them on a day
when many installments fall due. With full pages each rewrite is a new row version on another
page and a new entry in every index of the table; with free room on the page and no indexed
column changed, PostgreSQL updates in place (a HOT update) and touches no index.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

Operation = Callable[[Any, Any], None]


def fillfactor(table: str, percent: int) -> tuple[Operation, Operation]:
    """A ``RunPython`` pair leaving ``100 - percent``% of each new page of ``table`` free."""

    def forward(apps: Any, schema_editor: Any) -> None:
        if schema_editor.connection.vendor == "postgresql":
            schema_editor.execute(f"ALTER TABLE {table} SET (fillfactor = {int(percent)})")

    def backward(apps: Any, schema_editor: Any) -> None:
        if schema_editor.connection.vendor == "postgresql":
            schema_editor.execute(f"ALTER TABLE {table} RESET (fillfactor)")

    return forward, backward
