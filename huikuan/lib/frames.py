"""Tables in and out of the database as Polars frames, in bulk, on PostgreSQL and SQLite.

- :func:`read_frame` runs one SELECT and returns its rows as a frame of the given schema:
  ``COPY (...) TO STDOUT`` as CSV on PostgreSQL (several times faster than fetching tuples),
  ``fetchall`` on SQLite.
- :func:`stage_frame` puts a frame into a fresh temporary table: ``COPY FROM STDIN`` on
  PostgreSQL, one ``executemany`` on SQLite; set-based statements then merge it.

Money crosses as integer fen: select ``fen(column)`` and stage fen, and let the statement that
merges divide by 100 (:func:`from_fen`), so nothing passes through float.
"""

from __future__ import annotations

import io
from collections.abc import Mapping, Sequence
from typing import Any

import polars as pl
from django.db import connection

_SQL_TYPES = {
    pl.Int64: "BIGINT",
    pl.Int32: "INTEGER",
    pl.Boolean: "BOOLEAN",
    pl.Date: "DATE",
    pl.String: "TEXT",
}


def postgres() -> bool:
    return connection.vendor == "postgresql"


def fen(column: str) -> str:
    """SQL for a money column as integer fen."""
    return f"CAST(ROUND(({column}) * 100) AS BIGINT)"


def from_fen(column: str) -> str:
    """SQL for staged fen as money (exact: a numeric division by 100)."""
    if postgres():
        return f"({column}::numeric / 100)"
    return f"({column} / 100.0)"


def read_frame(sql: str, params: Sequence[Any], schema: Mapping[str, pl.DataType]) -> pl.DataFrame:
    """The rows of ``sql`` with ``schema``'s columns, in that order."""
    with connection.cursor() as cursor:
        if postgres():
            query = cursor.mogrify(sql, params)
            buffer = io.BytesIO()
            with cursor.copy(f"COPY ({query}) TO STDOUT (FORMAT csv, NULL '\\N')") as copy:
                for block in copy:
                    buffer.write(block)
            if not buffer.tell():
                return pl.DataFrame(schema=dict(schema))
            buffer.seek(0)
            # PostgreSQL's CSV writes booleans as t/f.
            booleans = [c for c, t in schema.items() if t == pl.Boolean]
            read = {c: pl.String() if c in booleans else t for c, t in schema.items()}
            frame = pl.read_csv(
                buffer,
                has_header=False,
                new_columns=list(schema),
                schema_overrides=read,
                null_values="\\N",
                infer_schema=False,
            )
            return frame.with_columns([(pl.col(c) == "t").alias(c) for c in booleans])
        cursor.execute(sql, params)
        rows = cursor.fetchall()
    # Django's SQLite connection parses declared DATE columns; computed ones stay ISO text,
    # and booleans may come as 0/1: read untyped, then make each column its type.
    frame = pl.DataFrame(rows, schema=list(schema), orient="row", infer_schema_length=None)
    return frame.with_columns(
        [_as(pl.col(c), frame.schema[c], t) for c, t in schema.items() if frame.schema[c] != t]
    )


def _as(column: pl.Expr, current: pl.DataType, wanted: pl.DataType) -> pl.Expr:
    if wanted == pl.Date and current == pl.String:
        return column.str.to_date()
    return column.cast(wanted)


def stage_frame(cursor: Any, name: str, frame: pl.DataFrame) -> None:
    """Create the temporary table ``name`` with ``frame``'s columns and load the frame."""
    columns = ", ".join(f"{c} {_SQL_TYPES[type(t)]}" for c, t in frame.schema.items())
    cursor.execute(f"DROP TABLE IF EXISTS {name}")
    cursor.execute(f"CREATE TEMP TABLE {name} ({columns})")
    if frame.is_empty():
        return
    if postgres():
        statement = f"COPY {name} ({', '.join(frame.columns)}) FROM STDIN (FORMAT csv, NULL '\\N')"
        with cursor.copy(statement) as copy:
            for block in frame.iter_slices(200_000):
                buffer = io.BytesIO()
                block.write_csv(
                    buffer, include_header=False, null_value="\\N", quote_style="non_numeric"
                )
                copy.write(buffer.getvalue())
        cursor.execute(f"ANALYZE {name}")
        return
    marks = ", ".join("?" for _ in frame.columns)
    # SQLite keeps dates as ISO text, as Django writes them.
    text_dates = frame.with_columns(pl.col(pl.Date).cast(pl.String))
    raw = cursor.connection.cursor()  # sqlite3's own: ? placeholders, no Django formatting
    try:
        for block in text_dates.iter_slices(100_000):
            raw.executemany(f"INSERT INTO {name} VALUES ({marks})", block.iter_rows())
    finally:
        raw.close()


def copy_into(cursor: Any, table: str, frame: pl.DataFrame, *, money: Sequence[str] = ()) -> None:
    """Append ``frame``'s rows to the real table ``table`` (columns by name), with no staging
    table: ``COPY FROM STDIN`` on PostgreSQL, one ``executemany`` on SQLite. ``money`` names
    columns of integer fen, written as exact decimals (their column names lose ``_fen``)."""
    if frame.is_empty():
        return
    frame = frame.with_columns(
        [_fen_text(pl.col(c)).alias(c.removesuffix("_fen")) for c in money]
    ).drop([c for c in money if c.removesuffix("_fen") != c])
    columns = ", ".join(frame.columns)
    if postgres():
        with cursor.copy(f"COPY {table} ({columns}) FROM STDIN (FORMAT csv, NULL '\\N')") as copy:
            for block in frame.iter_slices(200_000):
                buffer = io.BytesIO()
                block.write_csv(buffer, include_header=False, null_value="\\N")
                copy.write(buffer.getvalue())
        return
    marks = ", ".join("?" for _ in frame.columns)
    text_dates = frame.with_columns(pl.col(pl.Date).cast(pl.String))
    raw = cursor.connection.cursor()
    try:
        for block in text_dates.iter_slices(100_000):
            raw.executemany(f"INSERT INTO {table} ({columns}) VALUES ({marks})", block.iter_rows())
    finally:
        raw.close()


def _fen_text(fen: pl.Expr) -> pl.Expr:
    """Integer fen as the exact decimal text of yuan ("-12.05")."""
    sign = pl.when(fen < 0).then(pl.lit("-")).otherwise(pl.lit(""))
    size = fen.abs()
    return pl.concat_str(
        sign, (size // 100).cast(pl.String), pl.lit("."), (size % 100).cast(pl.String).str.zfill(2)
    )
