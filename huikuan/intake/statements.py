"""Bank statements as one frame of lines, whatever the bank sent: a CSV or XLSX export of online
banking, or an ISO 20022 camt.053 file.

Both become :data:`STATEMENT_SCHEMA`: the columns of :func:`camt.lines_frame` (what
:func:`matching.match_lines` reads) plus what a ``StatementLine`` keeps (file row, dates, payer
account, idempotency key). So the payments import has one path after reading.

Exports (CSV in any encoding, XLSX with title rows above the header) are read by
:func:`readers.iter_chunks` with the ``statement`` headers and parsed column by column with
the vectorised parsers of :mod:`values`:

- dates as people and banks write them (``2026-11-02``, ``2026/11/2 09:31:05``, ``20261102``,
  Excel dates);
- amounts with ``¥``/``元``/``RMB``, thousands separators, signs and brackets, exact in fen;
- the direction from separate columns (贷方发生额 money in, 借方发生额 money out; a ``0.00``
  or ``-`` in the other one is empty), else from a direction column (借贷标志: 贷/借, 收/支,
  C/D...), else from the sign of the amount. Money out is kept, as ``DBIT``, and matching
  ignores it; a negative credit (or a negative debit, or a negative amount marked 贷) is a
  correction (冲正) of an earlier line and is kept as a reversal, which matching ignores too.

A row that cannot be read is left out and gets one translated error per problem, naming the
row (as the user sees it) and the column (as written), through the ledger validator's machinery
(:mod:`checks`, :mod:`messages`). Blank rows, totals rows (合计) and rows with no amount and
nothing that reads as a date (a footer such as 以下空白 or 打印日期) are layout, not lines.

**Idempotency.** Posting a line uses its ``idempotency_key``, so importing the same statement
twice posts nothing twice:

- camt.053: :attr:`camt.BankLine.idempotency_key` (the bank's reference, scoped by the
  statement's account).
- An export with a bank reference column (交易流水号, 凭证号...): ``stmt:<scope>:<reference>``,
  where ``scope`` is the creditor (one ledger) because an export rarely names its account. A
  reference repeated within the file is an error of the later row: the bank lists a
  transaction once, and posting it twice would be worse than asking.
- An export without one (or a row whose reference cell is empty): ``stmt:<scope>:h:`` and the
  SHA-256 of booking date, direction, amount, currency, payer, payer account, texts and the
  *occurrence* (the n-th identical line of the file). Two identical transfers on one day stay
  two payments; the same file imported again gives the same keys. The limit: exports must
  cover whole days. A second export cut in the middle of a day that holds two identical
  transfers could see only the second, count it as the first, and take it for a duplicate.
- Keys longer than ``ledger.Payment.idempotency_key`` holds (100) are hashed.

Importing the same money once as camt.053 and once as an export gives different keys (the
export does not name its account); a creditor should bring each bank account in one format.
"""

from __future__ import annotations

import datetime as dt
import hashlib
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path

import polars as pl

from huikuan.intake import messages
from huikuan.intake import values as v
from huikuan.intake.camt import SHANGHAI, BankLine, lines_frame, parse_camt053
from huikuan.intake.checks import (
    ERROR_SCHEMA,
    Check,
    Source,
    errors_frame,
    row_numbers,
    skipped_rows,
    sources,
)
from huikuan.intake.duplicates import SeenKeys, key_hash
from huikuan.intake.errors import IntakeError
from huikuan.intake.headers import LABELS, STATEMENT_SYNONYMS, missing_fields
from huikuan.intake.messages import gettext_noop
from huikuan.intake.readers import file_kind, iter_chunks, no_header_message
from huikuan.lib._translate import _
from huikuan.lib.money import MINOR_UNITS, to_minor

CRDT, DBIT = "CRDT", "DBIT"
IDEMPOTENCY_KEY_MAX = 100  # ledger.Payment.idempotency_key

STATEMENT_SCHEMA: dict[str, pl.DataType] = {
    # camt.lines_frame, the input of matching.match_lines
    "line_id": pl.Int64(),
    "amount_fen": pl.Int64(),  # hundredths of the currency's unit (fen for CNY)
    "currency": pl.String(),
    "payer_name": pl.String(),
    "remittance_text": pl.String(),
    "reference": pl.String(),
    "direction": pl.String(),
    "reversal": pl.Boolean(),
    "is_payment": pl.Boolean(),
    "bank_reference": pl.String(),
    # what a StatementLine keeps besides
    "line_no": pl.Int64(),  # the file row (exports) or the line's place in the file (camt)
    "booking_date": pl.Date(),
    "value_date": pl.Date(),
    "payer_account": pl.String(),
    "idempotency_key": pl.String(),
}

# The intake.StatementLine columns sizes: longer text is an error of its row, not a crash at
# insert time far from the row that caused it.
MAX_CHARS = {"payer_name": 200, "payer_account": 64, "bank_reference": 128}

TEXTS = ("payer_name", "payer_account", "remittance_text", "reference", "bank_reference")
AMOUNTS = ("amount", "credit_amount", "debit_amount")

TEMPLATES: dict[str, str] = {
    "amount_none": gettext_noop("Row %(row)s: there is no amount; fill in “%(field)s”."),
    "amount_both": gettext_noop(
        "Row %(row)s: both “%(field)s” and “%(other)s” hold an amount; a line is either money "
        "in or money out."
    ),
    "direction_invalid": gettext_noop(
        "Row %(row)s: “%(value)s” in “%(field)s” is not a direction; write 贷 (money in) or "
        "借 (money out)."
    ),
    "reference_repeated": gettext_noop(
        "Row %(row)s: the bank reference “%(value)s” in “%(field)s” is already in row "
        "%(first)s; a bank lists each transaction once, so this row is left out."
    ),
    "date_missing": gettext_noop(
        "Row %(row)s: “%(field)s” is empty; every line needs the date it was booked."
    ),
}

DIRECTION_WORDS: dict[str, str] = {
    **dict.fromkeys(
        (
            "贷", "贷方", "贷记", "收", "收入", "收款", "入", "入账", "来账", "转入", "存入",
            "c", "cr", "crdt", "credit", "in",
        ),
        CRDT,
    ),
    **dict.fromkeys(
        (
            "借", "借方", "借记", "支", "支出", "付", "付款", "出", "出账", "往账", "转出",
            "支取", "d", "dr", "dbit", "debit", "out",
        ),
        DBIT,
    ),
}  # fmt: skip

# A cell that only says "nothing here" in an amount column: -, --, —, /.
_PLACEHOLDER = r"^[\s\-\x{2010}-\x{2015}/]+$"
_PLACES = {code: min(places, 2) for code, places in MINOR_UNITS.items()}


@dataclass(frozen=True)
class StatementFile:
    """A bank file read: its good lines, one error per problem of the others."""

    kind: str  # "camt053", "csv" or "xlsx"
    lines: pl.DataFrame  # STATEMENT_SCHEMA, line_id 0, 1, 2... in file order
    errors: pl.DataFrame  # checks.ERROR_SCHEMA
    rows_read: int  # data rows (exports) or lines and refused entries (camt)


def read_bank_file(
    path: Path | str,
    *,
    mapping: Mapping[int, str] | None = None,
    scope: str = "",
    sheet: str | int | None = None,
    default_currency: str = "CNY",
    tz: dt.tzinfo = SHANGHAI,
    language: str | None = None,
    on_rows: Callable[[int], None] | None = None,
) -> StatementFile:
    """A camt.053 statement (told by its first bytes, not its name) or a CSV/XLSX export.

    ``mapping`` (column index → field) overrides the columns guessed from an export's header.
    ``scope`` makes export keys unique per ledger (the creditor). Raises :class:`IntakeError`
    when the file as a whole cannot be read.
    """
    path = Path(path)
    with messages.language(language):
        if is_xml(path):
            return read_camt(path, tz=tz)
        return read_export(
            path,
            mapping=mapping,
            scope=scope,
            sheet=sheet,
            default_currency=default_currency,
            on_rows=on_rows,
        )


def is_xml(path: Path) -> bool:
    """An XML document rather than a spreadsheet: ``<`` first, after a BOM and white space,
    in UTF-8 or UTF-16 (either byte order)."""
    with path.open("rb") as f:
        head = f.read(256)
    encoding = {b"\xff\xfe": "utf-16-le", b"\xfe\xff": "utf-16-be"}.get(head[:2])
    if encoding is None and head[:2] in (b"<\x00", b"\x00<"):
        encoding = "utf-16-le" if head[0] else "utf-16-be"
    if encoding is not None:
        text = head.decode(encoding, errors="ignore").removeprefix("\ufeff")
        return text.lstrip(" \t\r\n").startswith("<")
    return head.removeprefix(b"\xef\xbb\xbf").lstrip(b" \t\r\n").startswith(b"<")


# --- camt.053 ------------------------------------------------------------------------------


def read_camt(path: Path | str, *, tz: dt.tzinfo = SHANGHAI) -> StatementFile:
    parsed = parse_camt053(Path(path), tz=tz)
    errors = pl.DataFrame(
        {
            "row": [issue.entry_no for issue in parsed.issues],
            "field": [issue.element for issue in parsed.issues],
            "code": ["camt"] * len(parsed.issues),
            "message": [issue.message for issue in parsed.issues],
        },
        schema=ERROR_SCHEMA,
    )
    refused = len({issue.entry_no for issue in parsed.issues if issue.entry_no is not None})
    lines = camt_lines(parsed.lines)
    return StatementFile("camt053", lines, errors, lines.height + refused)


def camt_lines(lines: Iterable[BankLine]) -> pl.DataFrame:
    """:func:`camt.lines_frame` with the columns a ``StatementLine`` keeps besides."""
    lines = list(lines)
    extra = pl.DataFrame(
        {
            # Hundredths of the unit whatever the currency, as exports and accounts are read:
            # lines_frame counts minor units, which differ for a currency without decimals.
            "amount_fen": [to_minor(line.amount, "CNY") for line in lines],
            "line_no": range(1, len(lines) + 1),
            "booking_date": [line.booking_date for line in lines],
            "value_date": [line.value_date for line in lines],
            "payer_account": [line.payer_account for line in lines],
            "idempotency_key": [line.idempotency_key for line in lines],
        },
        schema={name: STATEMENT_SCHEMA[name] for name in ("amount_fen", *_EXTRA)},
    )
    base = lines_frame(lines).drop("amount_fen")
    return pl.concat([base, extra], how="horizontal").select(
        [pl.col(name).cast(dtype) for name, dtype in STATEMENT_SCHEMA.items()]
    )


_EXTRA = ("line_no", "booking_date", "value_date", "payer_account", "idempotency_key")


# --- CSV and XLSX exports ------------------------------------------------------------------


def read_export(
    path: Path | str,
    *,
    mapping: Mapping[int, str] | None = None,
    scope: str = "",
    sheet: str | int | None = None,
    default_currency: str = "CNY",
    chunk_rows: int = 100_000,
    on_rows: Callable[[int], None] | None = None,
) -> StatementFile:
    """Lines and errors of an online-banking export, chunk after chunk."""
    path = Path(path)
    seen = SeenKeys()
    clean: list[pl.DataFrame] = []
    errors: list[pl.DataFrame] = []
    rows_read = 0
    checked = False
    try:
        for chunk in iter_chunks(path, chunk_rows=chunk_rows, schema="statement", sheet=sheet):
            chosen = dict(mapping) if mapping is not None else chunk.header.mapping
            if not checked:
                _require_columns(chosen)
                checked = True
            good, bad, count = parse_export_chunk(
                chunk.frame, chosen, default_currency=default_currency, seen=seen
            )
            clean.append(good)
            errors.append(bad)
            rows_read += count
            if on_rows is not None:
                on_rows(rows_read)
    except IntakeError as exc:
        if str(exc) == no_header_message():
            raise IntakeError(_no_statement_header()) from None
        raise
    lines = pl.concat(clean) if clean else _empty_clean()
    return StatementFile(
        file_kind(path),
        with_keys(lines, scope),
        pl.concat(errors) if errors else pl.DataFrame(schema=ERROR_SCHEMA),
        rows_read,
    )


def _no_statement_header() -> str:
    return _(
        "No header row was found in the first rows of the file. A bank statement export needs "
        "a row of column names such as 交易日期, 贷方发生额 (or 交易金额), 对方户名 and 摘要."
    )


def _require_columns(mapping: Mapping[int, str]) -> None:
    missing = missing_fields(mapping, "statement")
    if not missing:
        return
    examples = {
        "booking_date": STATEMENT_SYNONYMS["booking_date"][0],
        "amount": "贷方发生额 / 交易金额",
    }
    names = "; ".join(
        _("%(label)s (such as “%(example)s”)")
        % {"label": _(LABELS.get(name, name)), "example": examples.get(name, name)}
        for name in missing
    )
    raise IntakeError(
        _(
            "The file has no column for: %(fields)s. Map the columns of the export, or export "
            "the statement again with them."
        )
        % {"fields": names}
    )


def parse_export_chunk(
    df: pl.DataFrame,
    mapping: Mapping[int, str],
    *,
    default_currency: str = "CNY",
    seen: SeenKeys | None = None,
) -> tuple[pl.DataFrame, pl.DataFrame, int]:
    """``(clean, errors, rows)`` of one chunk of text columns laid out as in the file.

    ``clean`` holds the lines without errors (no ``line_id`` or key yet: :func:`with_keys`
    numbers and keys the whole file); ``rows`` counts the rows that are lines, good or bad.
    """
    by_field = sources(df.columns, mapping)
    parsed = _parse(df, by_field, default_currency, seen if seen is not None else SeenKeys())
    errors = _errors(parsed, _checks(by_field))
    good = parsed.join(errors.select("row").unique(), on="row", how="anti", maintain_order="left")
    return good.select(_CLEAN), errors, parsed.height


def _one(by_field: Mapping[str, list[Source]], name: str) -> Source | None:
    found = by_field.get(name)
    return found[0] if found else None


def _raw(by_field: Mapping[str, list[Source]], name: str) -> pl.Expr:
    source = _one(by_field, name)
    return pl.col(source.raw) if source else pl.lit(None, pl.String)


def _parse(
    df: pl.DataFrame, by_field: Mapping[str, list[Source]], default_currency: str, seen: SeenKeys
) -> pl.DataFrame:
    amounts = {name: s for name in AMOUNTS if (s := _one(by_field, name))}
    used = [s for group in by_field.values() for s in group[:1]]
    base = df.lazy().select(
        row_numbers(df, 0).alias("row"),
        *[
            # "-" or "0.00" in the column a line does not use is how exports say "nothing".
            pl.when(pl.col(s.header).str.contains(_PLACEHOLDER))
            .then(None)
            .otherwise(pl.col(s.header))
            .alias(s.raw)
            if s in amounts.values()
            else pl.col(s.header).alias(s.raw)
            for s in used
        ],
    )
    base = base.filter(~skipped_rows(df))
    # Layout, not lines, besides blank and totals rows: a footer (以下空白, 打印日期...) has no
    # amount and nothing in the date column that reads as a date.
    has_amount = pl.any_horizontal(
        pl.lit(False), *[v.text(pl.col(s.raw)).is_not_null() for s in amounts.values()]
    )
    parsers = [
        v.Parser(stages=({name: v.text(_raw(by_field, name)) for name in TEXTS},)),
        v.parse_date(_raw(by_field, "booking_date"), "booking_date"),
        v.parse_date(_raw(by_field, "value_date"), "value_date"),
        *[v.parse_amount(pl.col(s.raw), name) for name, s in amounts.items()],
    ]
    currency = _words(df, by_field, "currency", v.CURRENCY_WORDS)
    word = _words(df, by_field, "direction", DIRECTION_WORDS)
    parsed = (
        v.run(base, parsers)
        .with_columns(
            currency=pl.when(v.text(_raw(by_field, "currency")).is_null())
            .then(pl.lit(default_currency))
            .otherwise(currency),
            direction_word=word,
            **{name: pl.lit(None, pl.Int64) for name in AMOUNTS if name not in amounts},
        )
        .filter(has_amount | pl.col("booking_date").is_not_null())
        .with_columns(**_direction_and_amount())
        .with_columns(
            max_places=pl.col("currency").replace_strict(_PLACES, default=2, return_dtype=pl.Int64)
        )
        .collect()
    )
    first = seen.first_rows(
        parsed.select(key_hash(pl.col("bank_reference"))).to_series(), parsed.get_column("row")
    )
    return parsed.with_columns(first.alias("reference_first"))


def _words(
    df: pl.DataFrame, by_field: Mapping[str, list[Source]], name: str, words: Mapping[str, str]
) -> pl.Expr:
    source = _one(by_field, name)
    if source is None:
        return pl.lit(None, pl.String)
    return v.lookup_words(pl.col(source.raw), df.get_column(source.header), words)


def _direction_and_amount() -> dict[str, pl.Expr]:
    """Signed columns → direction, a positive amount, and whether the line is a correction."""
    credit, debit, amount = pl.col("credit_amount"), pl.col("debit_amount"), pl.col("amount")
    word = pl.col("direction_word")
    in_credit = (credit.is_not_null() & (credit != 0)).fill_null(False)
    in_debit = (debit.is_not_null() & (debit != 0)).fill_null(False)
    fen = (
        pl.when(in_credit)
        .then(credit)
        .when(in_debit)
        .then(debit)
        .otherwise(pl.coalesce(amount, credit, debit))
    )
    direction = (
        pl.when(in_credit)
        .then(pl.lit(CRDT))
        .when(in_debit)
        .then(pl.lit(DBIT))
        .when(word.is_not_null())
        .then(word)
        .when(fen < 0)
        .then(pl.lit(DBIT))
        .otherwise(pl.lit(CRDT))
    )
    # A negative number in a column that already says which way the money went, or marked
    # 贷 (money in), can only be the correction of an earlier line. Banks that mark debits 借
    # often write them negative too: that is an ordinary debit.
    signed_elsewhere = in_credit | in_debit | (word == CRDT).fill_null(False)
    return {
        "amount_fen": fen.abs(),
        "direction": direction,
        "reversal": (signed_elsewhere & (fen < 0)).fill_null(False),
        "both_amounts": in_credit & in_debit,
    }


def _checks(by_field: Mapping[str, list[Source]]) -> list[Check]:
    checks: list[Check] = []
    if s := _one(by_field, "booking_date"):
        cell = v.text(pl.col(s.raw))
        checks += [
            Check("date_missing", s, cell.is_null()),
            Check("date_invalid", s, cell.is_not_null() & pl.col("booking_date").is_null()),
        ]
    if s := _one(by_field, "value_date"):
        cell = v.text(pl.col(s.raw))
        checks.append(Check("date_invalid", s, cell.is_not_null() & pl.col("value_date").is_null()))
    amounts = [s for name in AMOUNTS if (s := _one(by_field, name))]
    for s in amounts:
        problem = pl.col(f"{s.field}_problem")
        precision = {"currency": pl.col("currency").fill_null("?"), "places": pl.col("max_places")}
        checks += [
            Check("amount_invalid", s, problem == v.AMOUNT_INVALID),
            Check("amount_too_large", s, problem == v.AMOUNT_TOO_LARGE),
            Check(
                "amount_precision",
                s,
                (problem == v.AMOUNT_PRECISION)
                | (pl.col(f"{s.field}_places") > pl.col("max_places")),
                precision,
            ),
        ]
    if amounts:
        empty = pl.all_horizontal(v.text(pl.col(s.raw)).is_null() for s in amounts)
        checks.append(Check("amount_none", amounts[0], empty))
    credit, debit = _one(by_field, "credit_amount"), _one(by_field, "debit_amount")
    if credit and debit:
        checks.append(
            Check("amount_both", credit, pl.col("both_amounts"), {"other": pl.lit(debit.header)})
        )
    if s := _one(by_field, "direction"):
        cell = v.text(pl.col(s.raw))
        unknown = cell.is_not_null() & pl.col("direction_word").is_null()
        checks.append(Check("direction_invalid", s, unknown))
    if s := _one(by_field, "currency"):
        cell = v.text(pl.col(s.raw))
        checks.append(
            Check("currency_unknown", s, cell.is_not_null() & pl.col("currency").is_null())
        )
    for name, limit in MAX_CHARS.items():
        if s := _one(by_field, name):
            length = pl.col(name).str.len_chars()
            checks.append(
                Check("too_long", s, length > limit, {"count": length, "max": pl.lit(limit)})
            )
    if s := _one(by_field, "bank_reference"):
        repeated = pl.col("reference_first").is_not_null() & (
            pl.col("reference_first") != pl.col("row")
        )
        checks.append(
            Check("reference_repeated", s, repeated, {"first": pl.col("reference_first")})
        )
    return checks


def _errors(parsed: pl.DataFrame, checks: list[Check]) -> pl.DataFrame:
    """:func:`checks.errors_frame` with this module's templates besides the ledger's."""
    return errors_frame(parsed, checks, TEMPLATES)


_CLEAN = [
    pl.col("row").alias("line_no"),
    pl.col("amount_fen").cast(pl.Int64),
    pl.col("currency").cast(pl.String),
    "payer_name",
    "remittance_text",
    "reference",
    "direction",
    "reversal",
    "bank_reference",
    "booking_date",
    "value_date",
    "payer_account",
]


def _empty_clean() -> pl.DataFrame:
    return pl.DataFrame(
        schema={
            name: STATEMENT_SCHEMA[name]
            for name in (
                "line_no",
                "amount_fen",
                "currency",
                "payer_name",
                "remittance_text",
                "reference",
                "direction",
                "reversal",
                "bank_reference",
                "booking_date",
                "value_date",
                "payer_account",
            )
        }
    )


def with_keys(clean: pl.DataFrame, scope: str) -> pl.DataFrame:
    """Number the lines of a whole file and give each its idempotency key (module docstring)."""
    parts = [
        pl.col("booking_date").cast(pl.String),
        pl.col("direction"),
        pl.col("reversal").cast(pl.String),
        pl.col("amount_fen").cast(pl.String),
        pl.col("currency"),
        pl.col("payer_name"),
        pl.col("payer_account"),
        pl.col("remittance_text"),
        pl.col("reference"),
    ]
    # \x1f cannot be typed into a cell, so two different lines never write the same text.
    identity = pl.concat_str([p.fill_null("") for p in parts], separator="\x1f")
    frame = clean.with_columns(
        _identity=identity,
        _occurrence=pl.int_range(1, pl.len() + 1, dtype=pl.Int64).over(identity),
    )
    prefix = f"stmt:{scope}:"
    by_reference = pl.concat_str(pl.lit(prefix), pl.col("bank_reference"))
    by_content = pl.concat_str(
        pl.col("_identity"), pl.lit("\x1f"), pl.col("_occurrence").cast(pl.String)
    )
    needs_hash = pl.col("bank_reference").is_null() | (
        by_reference.str.len_chars() > IDEMPOTENCY_KEY_MAX
    )
    frame = frame.with_columns(
        _plain=pl.when(~needs_hash).then(by_reference),
        _hash_of=pl.when(needs_hash).then(
            pl.when(pl.col("bank_reference").is_null())
            .then(pl.concat_str(pl.lit("h\x1f"), by_content))
            .otherwise(pl.concat_str(pl.lit("r\x1f"), pl.col("bank_reference")))
        ),
    )
    to_hash = frame.get_column("_hash_of")
    hashed = pl.Series(
        "_hashed",
        [None if text is None else _sha256(text) for text in to_hash.to_list()],
        dtype=pl.String,
    )
    kind = pl.when(pl.col("bank_reference").is_null()).then(pl.lit("h:")).otherwise(pl.lit("r:"))
    keyed = frame.with_columns(hashed).with_columns(
        idempotency_key=pl.coalesce(
            "_plain", pl.concat_str(pl.lit(prefix), kind, pl.col("_hashed"))
        ),
        line_id=pl.int_range(pl.len(), dtype=pl.Int64),
        is_payment=(pl.col("direction") == CRDT) & ~pl.col("reversal"),
    )
    return keyed.select([pl.col(name).cast(dtype) for name, dtype in STATEMENT_SCHEMA.items()])


def _sha256(text: str) -> str:
    # Not Expr.hash: that one may change between Polars versions, and keys live for years.
    return hashlib.sha256(text.encode()).hexdigest()


def stored_text(remittance: pl.Expr, reference: pl.Expr) -> pl.Expr:
    """One text for a ``StatementLine``: the remittance text and the payer's reference, each
    once (camt.053 repeats a structured reference in both)."""
    text, ref = remittance.fill_null(""), reference.fill_null("")
    return (
        pl.when(ref == "")
        .then(text)
        .when(text == "")
        .then(ref)
        .when(ref.str.contains(text, literal=True))
        .then(ref)
        .when(text.str.contains(ref, literal=True))
        .then(text)
        .otherwise(pl.concat_str([text, ref], separator=" "))
    )
