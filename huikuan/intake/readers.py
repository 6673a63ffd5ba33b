"""Read a CSV or XLSX file as chunks of text columns, the header found once, in flat memory.

Every value arrives as text (``pl.String``) so one set of parsers serves both formats. The
file type is told by its first bytes, not its name. CSV: any encoding :mod:`encoding` knows,
read in blocks of about 16 MiB cut at record boundaries, transcoded to UTF-8 on the way when
needed, each block parsed by Polars with the schema the header gave (no temporary file, no
read-ahead, so memory stays flat). XLSX: python-calamine (Rust), about twenty times faster
than openpyxl's read-only mode; it holds the sheet's cells while they are read (about 160 MiB
for 100,000 rows of 19 columns; a sheet cannot pass 1,048,576 rows), then rows are cut into
chunks like a CSV's.

Row numbers are the rows the user sees: 1-based, counting title and header rows, as Excel
numbers them (a CSV record with a line break inside a quoted cell is still one row).
"""

from __future__ import annotations

import codecs
import csv
import datetime as dt
import io
import math
from collections import Counter
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from decimal import Decimal
from itertools import chain, islice
from pathlib import Path

import polars as pl
from python_calamine import CalamineError, CalamineWorkbook

from huikuan.intake.checks import ROW
from huikuan.intake.csvblocks import prefetch, rechunk, record_blocks, records_end
from huikuan.intake.encoding import detect_file_encoding, not_text_message, utf8_blocks
from huikuan.intake.errors import IntakeError
from huikuan.intake.headers import HEADER_SEARCH_ROWS, find_header_row, guess_mapping
from huikuan.lib._translate import _

DELIMITERS = ",\t;|"


@dataclass(frozen=True)
class Header:
    row_number: int  # 1-based row of the header in the file
    cells: tuple[str, ...]  # as written, "" for an empty cell
    columns: tuple[str, ...]  # unique names of the chunk frames' columns (the cells, mostly)
    mapping: dict[int, str]  # column index → field
    unmapped: tuple[int, ...]  # indexes of named columns no field took


@dataclass(frozen=True)
class Chunk:
    frame: pl.DataFrame  # pl.String columns named Header.columns, plus ROW (Int64)
    first_row_number: int
    header: Header
    # About how many rows the file has, for a progress bar: from the size and the length of
    # its first lines (CSV), or the sheet's recorded dimension (XLSX); None when unknown.
    rows_estimate: int | None = None


def iter_chunks(
    path: Path | str,
    *,
    chunk_rows: int = 100_000,
    schema: str = "ledger",
    sheet: str | int | None = None,
) -> Iterator[Chunk]:
    """Chunks of at most ``chunk_rows`` data rows; at least one (maybe empty), so a caller
    sees the header of a file without data. Blank rows may be left out (their numbers are
    skipped, never reused); totals rows are the validators' to drop. ``schema`` is
    ``"ledger"`` or ``"statement"``; ``sheet`` a sheet name or index (default: the first)."""
    path = Path(path)
    kind = file_kind(path)
    if kind == "empty":
        raise IntakeError(_("The file is empty."))
    if kind == "xls":
        raise IntakeError(
            _(
                "This is an Excel 97–2003 workbook (.xls) or a password-protected one; save it "
                "as an Excel workbook (.xlsx) without a password, or as CSV, and import that."
            )
        )
    if kind == "xlsx":
        yield from _xlsx_chunks(path, chunk_rows, schema, sheet)
    else:
        yield from _csv_chunks(path, chunk_rows, schema)


def file_kind(path: Path) -> str:
    """``"xlsx"`` (a zip), ``"xls"`` (an OLE container), ``"empty"`` or ``"csv"``."""
    with path.open("rb") as f:
        magic = f.read(8)
    if not magic:
        return "empty"
    if magic.startswith(b"PK\x03\x04"):
        return "xlsx"
    if magic.startswith(b"\xd0\xcf\x11\xe0"):
        return "xls"
    return "csv"


def make_header(cells: Sequence[str | None], row_number: int, schema: str) -> Header:
    written = tuple((cell or "").strip() for cell in cells)
    guess = guess_mapping(written, schema)
    return Header(row_number, written, column_names(written), guess.mapping, tuple(guess.unmapped))


def column_names(cells: Sequence[str]) -> tuple[str, ...]:
    """The header texts, made unique with the Excel column letter where needed: ``"电话 (F)"``
    for a second 电话, ``"(G)"`` for a column without a header."""
    counts = Counter(cells)
    names = []
    for index, cell in enumerate(cells):
        letter = column_letter(index)
        if not cell:
            names.append(f"({letter})")
        elif counts[cell] > 1 or cell == ROW:
            names.append(f"{cell} ({letter})")
        else:
            names.append(cell)
    return tuple(names)


def column_letter(index: int) -> str:
    """0 → A, 25 → Z, 26 → AA."""
    letters = ""
    index += 1
    while index:
        index, rest = divmod(index - 1, 26)
        letters = chr(65 + rest) + letters
    return letters


def no_header_message() -> str:
    return _(
        "No header row was found in the first %(count)s rows. The file needs a row of column "
        "names such as 客户名称, 证件号码, 合同编号, 到期日 and 应收金额."
    ) % {"count": HEADER_SEARCH_ROWS}


def _find_header(rows: Sequence[Sequence[str | None]], schema: str) -> Header:
    index = find_header_row(rows, schema)
    if index is None:
        raise IntakeError(no_header_message())
    return make_header(rows[index], index + 1, schema)


# --- CSV ---------------------------------------------------------------------------------

CSV_BLOCK_BYTES = 16 * 1024 * 1024  # ~100,000 ledger rows: memory stays near two blocks


def _csv_chunks(path: Path, chunk_rows: int, schema: str) -> Iterator[Chunk]:
    blocks = record_blocks(utf8_blocks(path, detect_file_encoding(path)), CSV_BLOCK_BYTES)
    first = next(blocks, b"")
    delimiter, head = _csv_head(first)
    header = _find_header(head, schema)
    frames = _csv_frames(chain([first], blocks), header, delimiter)
    estimate = _csv_rows_estimate(path)
    yield from _chunks(prefetch(rechunk(frames, chunk_rows)), header, estimate)


def _csv_rows_estimate(path: Path) -> int:
    """Lines in the file, judged by those in its first MiB (in its own encoding)."""
    size = path.stat().st_size
    with path.open("rb") as f:
        sample = f.read(1 << 20)
    lines = sample.count(b"\n")
    if not lines or len(sample) == size:
        return lines + (not sample.endswith(b"\n"))
    return round(size * lines / len(sample))


def _csv_head(first: bytes) -> tuple[str, list[list[str | None]]]:
    """The delimiter and the first records of the first block, read with the csv module."""
    try:
        # Not final: the sample may end inside a character, which is not an error.
        sample = codecs.getincrementaldecoder("utf-8")().decode(first[: 256 * 1024])
    except UnicodeDecodeError as exc:
        raise IntakeError(not_text_message(first[: exc.start].count(b"\n") + 1)) from None
    lines = sample.splitlines(keepends=True)[:HEADER_SEARCH_ROWS]
    # The delimiter that appears most often in the first lines; a comma when none does.
    counts = {d: sum(line.count(d) for line in lines) for d in DELIMITERS}
    delimiter = max(DELIMITERS, key=lambda d: (counts[d], d == ","))
    reader = csv.reader(io.StringIO("".join(lines)), delimiter=delimiter)
    return delimiter, [[cell or None for cell in row] for row in reader]


def _csv_frames(blocks: Iterable[bytes], header: Header, delimiter: str) -> Iterator[pl.DataFrame]:
    """One frame per block, all text, with the file row number of every record in ROW."""
    schema = dict.fromkeys(header.columns, pl.String)
    row = header.row_number + 1  # file row number of the next record
    for index, block in enumerate(blocks):
        if index == 0:  # the title and header records are ours to skip, not Polars'
            block = block[records_end(block, header.row_number) :]
        # Polars drops blank lines at the start of its input (and only there): count them.
        body = block.lstrip(b"\r\n")
        row += block[: len(block) - len(body)].count(b"\n")
        if not body:
            continue
        try:
            frame = pl.read_csv(
                body,
                has_header=False,
                separator=delimiter,
                schema=schema,
                truncate_ragged_lines=True,  # cells beyond the last header have no field
            )
        except pl.exceptions.ComputeError as exc:
            if "utf-8" not in str(exc).lower():
                raise
            # A UTF-8 file with a stretch of GBK further down (two files pasted together).
            raise IntakeError(not_text_message(_bad_utf8_line(body, row))) from None
        yield frame.with_columns(pl.int_range(row, row + frame.height, dtype=pl.Int64).alias(ROW))
        row += frame.height


def _bad_utf8_line(body: bytes, first_row: int) -> int:
    """The line of the first invalid byte (exact unless a quoted cell above has line breaks)."""
    try:
        body.decode("utf-8")
    except UnicodeDecodeError as exc:
        return first_row + body[: exc.start].count(b"\n")
    return first_row


def _chunks(
    batches: Iterable[pl.DataFrame], header: Header, estimate: int | None = None
) -> Iterator[Chunk]:
    empty = True
    for frame in batches:
        if frame.height:
            empty = False
            yield Chunk(frame, int(frame.get_column(ROW)[0]), header, estimate)
    if empty:
        frame = pl.DataFrame(schema={**dict.fromkeys(header.columns, pl.String), ROW: pl.Int64})
        yield Chunk(frame, header.row_number + 1, header, estimate)


# --- XLSX --------------------------------------------------------------------------------


def _xlsx_chunks(
    path: Path, chunk_rows: int, schema: str, sheet: str | int | None
) -> Iterator[Chunk]:
    try:
        # By content, not by name: an upload is stored under a name of ours. Formula cells
        # give the value Excel last computed, not "=SUM(...)".
        workbook = CalamineWorkbook.from_path(str(path))
    except (CalamineError, OSError, ValueError):
        raise IntakeError(
            _("The file is not an Excel workbook (.xlsx) that can be read.")
        ) from None
    try:
        try:
            ws = (
                workbook.get_sheet_by_name(sheet)
                if isinstance(sheet, str)
                else workbook.get_sheet_by_index(sheet or 0)
            )
        except (CalamineError, IndexError, ValueError):
            raise IntakeError(
                _("The workbook has no sheet %(sheet)s.") % {"sheet": sheet}
            ) from None
        estimate = ws.total_height if ws.total_height > 1 else None
        rows = ws.iter_rows()
        head = [[cell_text(c) for c in row] for row in islice(rows, HEADER_SEARCH_ROWS)]
        header = _find_header(head, schema)
        rest = chain(head[header.row_number :], ([cell_text(c) for c in row] for row in rows))
        yield from _chunks(_xlsx_frames(rest, header, chunk_rows), header, estimate)
    finally:
        workbook.close()


def _xlsx_frames(
    rows: Iterable[list[str | None]], header: Header, chunk_rows: int
) -> Iterator[pl.DataFrame]:
    width = len(header.columns)
    columns: list[list[str | None]] = [[] for _ in range(width)]
    numbers: list[int] = []
    for number, row in enumerate(rows, start=header.row_number + 1):
        if not any(cell and not cell.isspace() for cell in row):
            continue  # blank rows would only cost memory; their numbers are simply skipped
        for index in range(width):
            columns[index].append(row[index] if index < len(row) else None)
        numbers.append(number)
        if len(numbers) >= chunk_rows:
            yield _frame(header, columns, numbers)
            columns, numbers = [[] for _ in range(width)], []
    if numbers:
        yield _frame(header, columns, numbers)


def _frame(header: Header, columns: list[list[str | None]], numbers: list[int]) -> pl.DataFrame:
    data = {
        name: pl.Series(name, values, pl.String)
        for name, values in zip(header.columns, columns, strict=True)
    }
    return pl.DataFrame({**data, ROW: pl.Series(ROW, numbers, pl.Int64)})


def cell_text(value: object) -> str | None:
    """A typed Excel cell as the text the user sees, for the text parsers.

    Numbers: integers exactly; other floats with at most 15 significant digits (what Excel
    itself keeps and shows), written without exponent, so 0.1+0.2 is ``"0.3"`` and 1e-7 is
    ``"0.0000001"`` - via ``Decimal(format(x, ".15g"))``, never ``str(float)``. Dates and
    datetimes in ISO form, the time left out at midnight.
    """
    if value is None or value == "":
        return None  # an empty cell
    if isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "TRUE" if value else "FALSE"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        if not math.isfinite(value):
            return str(value)
        if value.is_integer() and abs(value) < 2**53:
            return str(int(value))
        return format(Decimal(format(value, ".15g")), "f")
    if isinstance(value, dt.datetime):
        return value.date().isoformat() if value.time() == dt.time() else value.isoformat(" ")
    if isinstance(value, dt.date | dt.time):
        return value.isoformat()
    if isinstance(value, Decimal):
        return format(value, "f")
    return str(value)
