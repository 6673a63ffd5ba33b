"""Duplicate keys across the chunks of one file, in flat memory.

Each key is kept as a 64-bit hash with the first row it appeared in: 16 bytes a key, 16 MB for
a million rows, however long the contract numbers are. Two different keys share a hash with
probability about n²/2⁶⁵ (3·10⁻⁸ for a million rows); the cost of that is one row wrongly
reported as a duplicate, never a row silently dropped. Hashes are ``Expr.hash`` with a fixed
seed: stable within one process, which is all one import needs.
"""

from __future__ import annotations

import polars as pl

_SEED = 0x48554B  # any constant; only consistency within a run matters


def key_hash(*parts: pl.Expr) -> pl.Expr:
    """Hash of the parts joined by a separator no cell contains; null if any part is null."""
    return pl.concat_str(parts, separator="\x1f").hash(seed=_SEED)


class SeenKeys:
    """Remembers keys of earlier chunks. Call :meth:`first_rows` once per chunk, in file order."""

    def __init__(self) -> None:
        self._seen = pl.DataFrame(schema={"key": pl.UInt64, "first": pl.Int64})

    def __len__(self) -> int:
        return self._seen.height

    def first_rows(self, keys: pl.Series, rows: pl.Series) -> pl.Series:
        """For each row, the row its key first appeared in (its own row when new; null when the
        key is null). A row is a duplicate where the result differs from its row."""
        frame = (
            pl.DataFrame({"key": keys, "row": rows})
            .join(self._seen, on="key", how="left", maintain_order="left")
            .with_columns(
                first=pl.when(pl.col("key").is_not_null()).then(
                    pl.coalesce("first", pl.col("row").min().over("key"))
                ),
                new=pl.col("first").is_null() & pl.col("key").is_not_null(),
            )
        )
        fresh = frame.filter("new").group_by("key").agg(pl.col("row").min().alias("first"))
        self._seen = pl.concat([self._seen, fresh], rechunk=False)
        return frame.get_column("first")
