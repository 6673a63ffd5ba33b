"""The ledger import engine: one file, validated chunk by chunk, written in one transaction.

What the import job (``jobs``) and the command line call. One pass over the file does it all:

    read (readers) ──► validate (validate_ledger_chunk, one SeenKeys) ──► error report parts
                                   │ clean rows
                                   ▼
                  ledger_upsert: staged chunk by chunk, merged once, one transaction

Validation runs in a thread one chunk ahead of the database (``csvblocks.prefetch``): Polars
and the database work at once, and memory holds about two chunks whatever the file's size.

- **All or nothing** (the default): clean chunks are staged until the first row with an
  error; the rest of the file is still validated for the report, then the transaction is
  rolled back (an exception raised inside it). A conflict found by the upsert (a contract in
  another portfolio, money already posted...) rolls back too.
- **Valid rows only**: every clean row is written; rows with errors and conflicting rows are
  reported and left out.
- **Dry run**: validation and the report only; no transaction at all. Conflicts with the ledger
  only show when the import runs.

The error report is a CSV file (UTF-8 with BOM, CRLF: what Chinese Excel opens as it is): the
row number, every original cell of each row that has an error, as text, then every message for
that row joined with "；". A missing column is reported on the header row. Rows are written in
file order from parts kept per chunk on disk, so the report never sits in memory; the rows of
upsert conflicts (known only at the end) are read from the file again, only when there are any.

A file that cannot be read at all (not a spreadsheet, no header row) raises
``errors.IntakeError`` with a translated message; a missing required column is an error on the
header row, like ``pipeline.validate_ledger_file`` reports it, and then nothing is written.
"""

from __future__ import annotations

import csv
import io
import os
import tempfile
from collections.abc import Callable, Generator, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

import polars as pl
from django.utils import translation

from huikuan.intake import messages
from huikuan.intake.checks import ROW, skipped_rows
from huikuan.intake.csvblocks import prefetch
from huikuan.intake.duplicates import SeenKeys
from huikuan.intake.errors import IntakeError
from huikuan.intake.readers import Chunk, Header, iter_chunks
from huikuan.intake.upsert import (
    UpsertConflicts,
    UpsertError,
    UpsertResult,
    frame_from_clean,
    ledger_upsert,
)
from huikuan.intake.validate import mapping_errors, validate_ledger_chunk
from huikuan.ledger.models import Creditor, Portfolio
from huikuan.lib._translate import _

ALL_OR_NOTHING, VALID_ONLY = "all_or_nothing", "valid_only"
CHUNK_ROWS = 100_000  # rows validated and staged at a time: memory is about two of these
SEPARATOR = "；"  # between the messages of one row (a full-width semicolon, as Chinese text has)
Progress = Callable[[str, int, int], None]


@dataclass(frozen=True)
class LedgerImportResult:
    rows_read: int
    rows_valid: int
    rows_rejected: int  # rows with at least one error (incl. upsert conflicts)
    error_count: int
    written: bool  # False for dry runs and rejected all-or-nothing imports
    counts: dict[str, int]  # UpsertResult.counts() summed (created/updated per table...)
    report_path: Path | None  # the error report, None when there were no errors


def ledger_import(
    path: Path,
    *,
    creditor: Creditor,
    portfolio: Portfolio,
    actor: Any,
    mapping: Mapping[int, str] | None = None,
    sheet: str | int | None = None,
    mode: str = ALL_OR_NOTHING,
    dry_run: bool = False,
    language: str | None = None,
    report_path: Path | None = None,
    progress: Progress | None = None,
    source: str = "",
    chunk_rows: int = CHUNK_ROWS,
) -> LedgerImportResult:
    """Validate the ledger file at ``path`` and write its rows into ``portfolio``.

    ``mapping`` (column index → field) replaces the mapping guessed from the header; an empty
    one counts as none. ``mode`` is ``"all_or_nothing"`` or ``"valid_only"``. Messages and the
    report are in ``language`` (default: the active one). ``progress`` is called with
    ``("validate", rows done, rows estimated)`` after each chunk, then ``("import", step,
    steps)`` while the rows are merged into the ledger. The error report goes to
    ``report_path`` (a temporary file when not given) and is removed from there when the
    file has no errors. ``written`` says whether the rows were committed (a second import of
    the same file is committed and changes nothing: its ``counts`` are zero).
    """
    mode = mode.replace("-", "_")
    if mode not in (ALL_OR_NOTHING, VALID_ONLY):
        raise ValueError(f"unknown import mode {mode!r}")
    language = language or translation.get_language()
    with messages.language(language):
        run = _Import(
            path=Path(path),
            creditor=creditor,
            portfolio=portfolio,
            mapping=dict(mapping) if mapping else None,
            sheet=sheet,
            mode=mode,
            language=language,
            progress=progress,
            chunk_rows=chunk_rows,
        )
        with tempfile.TemporaryDirectory(
            prefix="huikuan-import-", dir=report_path.parent if report_path else None
        ) as parts:
            run.parts = Path(parts)
            if report_path is not None:
                report_path.parent.mkdir(parents=True, exist_ok=True)
            outcome = run.validate_only() if dry_run else run.write(actor, source)
            return run.result(outcome, report_path)


class _Rejected(Exception):
    """All or nothing, and a row had an error: raised inside the transaction to roll it back."""


@dataclass
class _Outcome:
    written: bool = False
    counts: dict[str, int] = field(default_factory=dict)
    conflicts: pl.DataFrame | None = None


@dataclass
class _Import:
    path: Path
    creditor: Creditor
    portfolio: Portfolio
    mapping: dict[int, str] | None
    sheet: str | int | None
    mode: str
    language: str
    progress: Progress | None
    chunk_rows: int
    parts: Path = Path()
    header: Header | None = None
    chunks: int = 0
    rows_read: int = 0
    rows_invalid: int = 0  # rows with validation errors (all rows when a column is missing)
    error_count: int = 0
    missing_columns: bool = False
    staged: int = 0  # clean rows handed to the upsert

    # -- the two ways through

    def validate_only(self) -> _Outcome:
        for _clean, done, total in self._validated():
            self._progress(done, total)
        return _Outcome()

    def write(self, actor: Any, source: str) -> _Outcome:
        frames = self._in_this_thread(prefetch(self._clean_frames()))
        try:
            result = ledger_upsert(
                creditor=self.creditor,
                portfolio=self.portfolio,
                frame=frames,
                actor=actor,
                source=source,
                refuse_conflicts=self.mode == ALL_OR_NOTHING,
                progress=self.progress,
            )
        except _Rejected:
            return _Outcome()
        except UpsertConflicts as exc:
            return _Outcome(counts=_nothing(exc.result), conflicts=exc.result.conflicts)
        except UpsertError as exc:  # a frame the validator passed: show it like a file error
            raise IntakeError(str(exc)) from None
        finally:
            frames.close()
        return _Outcome(written=self.staged > 0, counts=result.counts(), conflicts=result.conflicts)

    def result(self, outcome: _Outcome, report_path: Path | None) -> LedgerImportResult:
        conflicts = outcome.conflicts
        conflict_rows = 0 if conflicts is None else conflicts.get_column("row").n_unique()
        conflict_count = 0 if conflicts is None else conflicts.height
        errors = self.error_count + conflict_count
        report = self._report(conflicts, report_path) if errors else None
        if report is None and report_path is not None:
            report_path.unlink(missing_ok=True)  # an earlier run's report would mislead
        rejected = self.rows_invalid + conflict_rows
        return LedgerImportResult(
            rows_read=self.rows_read,
            rows_valid=self.rows_read - rejected,
            rows_rejected=rejected,
            error_count=errors,
            written=outcome.written,
            counts=outcome.counts or _nothing(None),
            report_path=report,
        )

    # -- validation (in the prefetch thread when writing)

    def _clean_frames(self) -> Iterator[pl.DataFrame | tuple[int, int]]:
        """The clean rows as upsert frames, and (done, total) after each chunk; all or nothing
        stops at the first error (the rest is still validated for the report) and raises
        ``_Rejected`` at the end."""
        for clean, done, total in self._validated():
            if (
                clean is not None
                and clean.height
                and (self.mode == VALID_ONLY or not self.rows_invalid)
            ):
                self.staged += clean.height
                yield frame_from_clean(clean)
            yield done, total
        if self.mode == ALL_OR_NOTHING and self.rows_invalid:
            raise _Rejected

    def _in_this_thread(
        self, items: Iterator[pl.DataFrame | tuple[int, int]]
    ) -> Generator[pl.DataFrame, None, None]:
        """The frames; the progress that comes with them is reported from the caller's thread
        (the validation runs in another), so a callback may use what the caller's thread has."""
        try:
            for item in items:
                if isinstance(item, pl.DataFrame):
                    yield item
                else:
                    self._progress(*item)
        finally:
            close = getattr(items, "close", None)
            if close is not None:
                close()  # stops the validating thread if the upsert ended early

    def _progress(self, done: int, total: int) -> None:
        if self.progress is not None:
            self.progress("validate", done, total)

    def _validated(self) -> Iterator[tuple[pl.DataFrame | None, int, int]]:
        """Each chunk's clean rows, with the rows read so far and the rows expected; at the
        end ``(None, done, done)``."""
        # Translations are per thread: this may run in the prefetch thread.
        with messages.language(self.language):
            seen = SeenKeys()
            done = 0
            chunks = iter_chunks(
                self.path, chunk_rows=self.chunk_rows, schema="ledger", sheet=self.sheet
            )
            for chunk in chunks:
                mapping = self.mapping or chunk.header.mapping
                clean, errors = validate_ledger_chunk(
                    chunk.frame,
                    mapping,
                    first_row_number=chunk.first_row_number,
                    language=self.language,
                    seen=seen,
                    default_currency=self.portfolio.currency,
                )
                header_errors = self._header(chunk, mapping)
                self._count(chunk, clean, errors)
                self._keep_errors(chunk, errors, header_errors)
                done += chunk.frame.height
                estimate = (chunk.rows_estimate or 0) - chunk.header.row_number
                yield clean, done, max(done, estimate)
            yield None, done, done

    def _header(self, chunk: Chunk, mapping: Mapping[int, str]) -> pl.DataFrame | None:
        if self.header is not None:
            return None
        self.header = chunk.header
        found = mapping_errors(
            mapping, header_row_number=chunk.header.row_number, language=self.language
        )
        self.missing_columns = not found.is_empty()
        self.error_count += found.height
        return found if self.missing_columns else None

    def _count(self, chunk: Chunk, clean: pl.DataFrame, errors: pl.DataFrame) -> None:
        """Rows read leave out blank and totals rows; each row is valid or rejected."""
        invalid = errors.get_column("row").n_unique()
        if self.missing_columns:  # then no row is clean, and every row read is rejected
            read = chunk.frame.height - int(skipped_rows(chunk.frame).sum())
            invalid = read
        else:
            read = clean.height + invalid
        self.rows_read += read
        self.rows_invalid += invalid
        self.error_count += errors.height

    # -- the report

    def _keep_errors(
        self, chunk: Chunk, errors: pl.DataFrame, header_errors: pl.DataFrame | None
    ) -> None:
        """This chunk's rows with errors, as report rows, in a part file of its own."""
        index = self.chunks
        self.chunks += 1
        rows = _report_rows(chunk.frame, chunk.header, errors)
        if header_errors is not None:
            header = pl.DataFrame(
                [list(chunk.header.cells)], schema=list(chunk.header.columns), orient="row"
            ).with_columns(pl.lit(chunk.header.row_number, pl.Int64).alias(ROW))
            rows = pl.concat([_report_rows(header, chunk.header, header_errors), rows])
        if rows.height:
            rows.write_ipc(self._part(index))

    def _part(self, index: int) -> Path:
        return self.parts / f"{index:06d}.arrow"

    def _report(self, conflicts: pl.DataFrame | None, report_path: Path | None) -> Path:
        """Assemble the report from the parts, with the rows of the conflicts in their place."""
        if report_path is None:
            handle, name = tempfile.mkstemp(prefix="huikuan-import-", suffix="-errors.csv")
            report_path = Path(name)
            os.close(handle)
        assert self.header is not None  # noqa: S101 - a report means a chunk was read
        header = self.header
        with report_path.open("wb") as out:
            out.write(b"\xef\xbb\xbf")
            line = io.StringIO()
            csv.writer(line, lineterminator="\r\n").writerow([_("Row"), *header.cells, _("Errors")])
            out.write(line.getvalue().encode("utf-8"))
            if conflicts is None or conflicts.is_empty():
                for index in range(self.chunks):
                    _write_part(out, self._read_part(index))
            else:
                self._with_conflicts(out, conflicts, header)
        return report_path

    def _with_conflicts(self, out: IO[bytes], conflicts: pl.DataFrame, header: Header) -> None:
        """Read the file again for the cells of the conflicting rows (chunks as before)."""
        chunks = iter_chunks(
            self.path, chunk_rows=self.chunk_rows, schema="ledger", sheet=self.sheet
        )
        for index, chunk in enumerate(chunks):
            found = _report_rows(chunk.frame, header, conflicts.select("row", "message"))
            part = self._read_part(index)
            if found.height:
                both = [found] if part is None else [part, found]
                part = pl.concat(both).sort(ROW, maintain_order=True)
            _write_part(out, part)

    def _read_part(self, index: int) -> pl.DataFrame | None:
        path = self._part(index)
        return pl.read_ipc(path, memory_map=False) if path.exists() else None


def _report_rows(frame: pl.DataFrame, header: Header, errors: pl.DataFrame) -> pl.DataFrame:
    """The rows of ``frame`` that ``errors`` (row, message) name: row number, the cells as
    text, the messages joined; columns ``ROW``, the header's, ``__errors__``."""
    if errors.is_empty():
        return pl.DataFrame(
            schema={
                ROW: pl.Int64,
                **dict.fromkeys(header.columns, pl.String),
                "__errors__": pl.String,
            }
        )
    joined = errors.group_by("row", maintain_order=True).agg(
        pl.col("message").str.join(SEPARATOR).alias("__errors__")
    )
    return (
        frame.join(joined, left_on=ROW, right_on="row", how="inner", maintain_order="left")
        .select(ROW, *header.columns, "__errors__")
        .sort(ROW, maintain_order=True)
    )


def _write_part(out: IO[bytes], part: pl.DataFrame | None) -> None:
    if part is None or part.is_empty():
        return
    buffer = io.BytesIO()
    part.write_csv(buffer, include_header=False, line_terminator="\r\n")
    out.write(buffer.getvalue())


def _nothing(result: UpsertResult | None) -> dict[str, int]:
    """Counts of an import that wrote nothing (its conflicts, when it met any)."""
    counts = dict.fromkeys(UpsertResult(rows=0).counts(), 0)
    if result is not None:
        counts["rows"] = result.rows
        counts["conflicts"] = result.conflicts.height
    return counts
