"""A whole ledger file: read, map, validate, chunk after chunk (what an import task will call)."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import polars as pl

from huikuan.intake.duplicates import SeenKeys
from huikuan.intake.readers import Chunk, iter_chunks
from huikuan.intake.validate import mapping_errors, validate_ledger_chunk


@dataclass(frozen=True)
class Validated:
    chunk: Chunk
    clean: pl.DataFrame  # validate.LEDGER_SCHEMA
    errors: pl.DataFrame  # checks.ERROR_SCHEMA; the first chunk's also holds column errors


def validate_ledger_file(
    path: Path | str,
    *,
    chunk_rows: int = 100_000,
    language: str | None = None,
    default_currency: str = "CNY",
    sheet: str | int | None = None,
) -> Iterator[Validated]:
    """Validated chunks in file order; :class:`errors.IntakeError` for a file that cannot be
    read at all. Duplicate (contract, item) keys are found across the whole file."""
    seen = SeenKeys()
    first = True
    for chunk in iter_chunks(path, chunk_rows=chunk_rows, schema="ledger", sheet=sheet):
        clean, errors = validate_ledger_chunk(
            chunk.frame,
            chunk.header.mapping,
            first_row_number=chunk.first_row_number,
            language=language,
            seen=seen,
            default_currency=default_currency,
        )
        if first:
            missing = mapping_errors(
                chunk.header.mapping,
                header_row_number=chunk.header.row_number,
                language=language,
            )
            errors = pl.concat([missing, errors])
            first = False
        yield Validated(chunk, clean, errors)
