"""The write side of a ledger import: clean frames into the ledger, idempotent and set-based.

``ledger_upsert`` takes the rows the validator produced (one row per receivable item, money in
Int64 fen, dates as ``pl.Date``), as one frame or as an iterable of chunk frames, and makes the
ledger agree with them:

- debtors are matched by (kind, ID number), accounts by (creditor, contract number), items by
  (account, item number); what is new is inserted, what differs is updated and audited old →
  new, what is equal is not written at all, and nothing is ever deleted;
- contacts are only ever added (see ``_Run._contacts``);
- the balances and the automatic status of every account that gained or changed an item are
  recomputed in one pass.

How: each chunk is checked and reshaped with Polars on its own and appended to one TEMP table
of rows (COPY on PostgreSQL, ``executemany`` on SQLite), so neither side ever holds the whole
file. Then everything is merged with a fixed number of statements (about fifty), whatever the
size; never a statement per row. Whatever needs the whole file is done in SQL on the staged
rows: one account per contract (and the rows of one contract that contradict each other),
one debtor per ID number, one contact per phone, and repeated (contract, item) keys (suspected
across chunks from a 64-bit hash per key, ``duplicates.SeenKeys``, then confirmed in SQL).
"First" means first in the input (the staged ``seq``), so chunks give what one frame gives.
Each level first builds a *diff table* (the existing rows that differ, old and new values side
by side) and updates from it: the diff is what the audit needs (RETURNING cannot give old values
before PostgreSQL 18), and an update that only touches differing rows is what makes the second
import of a file write nothing. New rows get their ids up front and go in with one ``INSERT ...
SELECT`` per table; a concurrent writer inserting the same key makes the import fail and roll
back rather than silently merge. New accounts are inserted with their balances and status
already computed from the staged items; existing accounts that gained or changed an item are
recomputed with one ``GROUP BY`` over their items and one ``UPDATE``.

A load that at least doubles the ledger (a first import of a big portfolio) drops the ledger
tables' indexes on PostgreSQL and rebuilds them after, as ``pg_restore`` does
(``huikuan.lib.bulk``, ``_Run._bulk_begin``, docs/decisions/0002-bulk-import.md).

Policies (the docstrings of the helpers say why):

- A null means "not given": it supplies a default when a row is created (region from the ID
  number, principal = the contract's principal due, open date = one month before the first due
  date) and never overwrites a value already in the ledger.
- Imported paid amounts are opening amounts (no payments), spread over the item's components in
  the portfolio's allocation order. For an item that already holds money posted in Huikuan the
  file may raise paid but never lower it (``_Run._resolve_items``).
- A contract that exists in another portfolio or under another debtor is not touched; its rows
  come back as conflicts, as do rows that contradict each other or the money already posted.
  The debtors and contacts of such rows are not written either.
- Created rows are covered by one ``import.ledger`` event with the counts; each updated row and
  each status the import moves has its own event.
- On PostgreSQL imports take one advisory lock (so two never race to create the same debtor)
  and lock the existing accounts they match, in id order, as the payment services do.
"""

from __future__ import annotations

import io
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

import polars as pl
from django.db import OperationalError, connection, transaction
from django.utils import timezone

from huikuan.audit.services import Change, audit_record_many
from huikuan.intake.duplicates import SeenKeys, key_hash
from huikuan.ledger import domain
from huikuan.ledger.models import (
    Account,
    Allocation,
    Contact,
    Creditor,
    Debtor,
    Portfolio,
    ReceivableItem,
)
from huikuan.ledger.services import portfolio_today
from huikuan.lib import bulk
from huikuan.lib._translate import _

# --- the input ------------------------------------------------------------------------------

FRAME_SCHEMA: dict[str, pl.DataType] = {
    "debtor_name": pl.String(),
    "debtor_kind": pl.String(),
    "id_number": pl.String(),
    "region": pl.String(),
    "phone": pl.String(),
    "address": pl.String(),
    "email": pl.String(),
    "guarantor_name": pl.String(),
    "guarantor_phone": pl.String(),
    "contract_no": pl.String(),
    "product": pl.String(),
    "currency": pl.String(),
    "principal_fen": pl.Int64(),
    "open_date": pl.Date(),
    "item_no": pl.String(),
    "item_kind": pl.String(),
    "due_date": pl.Date(),
    "principal_due_fen": pl.Int64(),
    "interest_due_fen": pl.Int64(),
    "fee_due_fen": pl.Int64(),
    "paid_fen": pl.Int64(),
}
# Columns that may be missing from the frame or null in a row.
OPTIONAL = frozenset(
    {
        "region",
        "phone",
        "address",
        "email",
        "guarantor_name",
        "guarantor_phone",
        "principal_fen",
        "open_date",
        "item_no",
        "paid_fen",
    }
)
ALLOWED = {
    "debtor_kind": tuple(Debtor.Kind.values),
    "product": tuple(Account.Product.values),
    "item_kind": tuple(ReceivableItem.Kind.values),
}
AMOUNTS = ("principal_fen", "principal_due_fen", "interest_due_fen", "fee_due_fen", "paid_fen")
COMPONENTS = tuple(c.value for c in domain.Component)
# Account fields that must agree on every row of one contract (nulls aside), by their names in
# the frame and in the staged rows.
CONTRACT_FIELDS = {
    "debtor_kind": "debtor_kind",
    "id_number": "id_number",
    "product": "product",
    "currency": "currency",
    "principal_fen": "principal",
    "open_date": "open_date",
}

CONFLICT_SCHEMA: dict[str, pl.DataType] = {
    "row": pl.Int64(),
    "contract_no": pl.String(),
    "item_no": pl.String(),
    "code": pl.String(),
    "field": pl.String(),
    "message": pl.String(),
}
REASON = "Ledger import"  # stored untranslated, like the services' reasons

# Taken by every import on PostgreSQL, so two imports never race to create one debtor.
_ADVISORY_LOCK = 0x48_75_69_6B_75_61_6E  # "Huikuan"

# The staged rows, one per receivable item: the TEMP table every chunk is appended to.
_TEXTS = (
    "debtor_name",
    "debtor_kind",
    "id_number",
    "region",
    "phone",
    "address",
    "email",
    "guarantor_name",
    "guarantor_phone",
    "contract_no",
    "product",
    "currency",
)
STAGED: dict[str, str] = {
    "seq": "int",  # position in the input across chunks: "first" is the lowest
    "src_row": "int",  # the row number reported to the user
    **dict.fromkeys(_TEXTS, "text"),
    "principal": "money",
    "open_date": "date",
    "open_default": "date",  # a month before the due date (see _stage_frame)
    "item_no": "text",
    "number": "text",
    "kind": "text",
    "due_date": "date",
    **{f"{c}_due": "money" for c in COMPONENTS},
    **{f"{c}_paid": "money" for c in COMPONENTS},
}
ProgressFn = Callable[[str, int, int], None]


class UpsertError(ValueError):
    """The frame breaks the clean-frame contract (missing column, duplicate key...).

    Raised before anything is written; the message is translated and names the rows.
    """


@dataclass(frozen=True)
class UpsertResult:
    """What one import did. ``conflicts`` holds the rows it refused or only partly applied."""

    rows: int
    debtors_created: int = 0
    debtors_updated: int = 0
    contacts_created: int = 0
    accounts_created: int = 0
    accounts_updated: int = 0
    items_created: int = 0
    items_updated: int = 0
    statuses_changed: int = 0
    conflicts: pl.DataFrame = field(default_factory=lambda: pl.DataFrame(schema=CONFLICT_SCHEMA))

    def counts(self) -> dict[str, int]:
        return {
            "rows": self.rows,
            "debtors_created": self.debtors_created,
            "debtors_updated": self.debtors_updated,
            "contacts_created": self.contacts_created,
            "accounts_created": self.accounts_created,
            "accounts_updated": self.accounts_updated,
            "items_created": self.items_created,
            "items_updated": self.items_updated,
            "statuses_changed": self.statuses_changed,
            "conflicts": self.conflicts.height,
        }

    @property
    def written(self) -> bool:
        return any(v for k, v in self.counts().items() if k not in ("rows", "conflicts"))


class UpsertConflicts(Exception):
    """Raised, with the transaction rolled back, when ``refuse_conflicts`` met a conflict.

    ``result`` tells what the import would have done, its ``conflicts`` why it did not.
    """

    def __init__(self, result: UpsertResult) -> None:
        super().__init__(f"{result.conflicts.height} conflicts")
        self.result = result


# --- the API --------------------------------------------------------------------------------


def frame_from_clean(clean: pl.DataFrame) -> pl.DataFrame:
    """The validator's clean rows (``validate.LEDGER_SCHEMA``: Decimal money, the file's row
    numbers) as this module's input: money in Int64 fen, the total paid as ``paid_fen`` (the
    upsert spreads it over the components in the portfolio's order)."""
    fen = {
        "principal_fen": "principal",
        "principal_due_fen": "principal_due",
        "interest_due_fen": "interest_due",
        "fee_due_fen": "fee_due",
        "paid_fen": "paid_amount",
    }
    money = [(pl.col(source) * 100).cast(pl.Int64).alias(name) for name, source in fen.items()]
    due = ("principal_due_fen", "interest_due_fen", "fee_due_fen")
    kept = [c for c in FRAME_SCHEMA if c not in fen]
    return clean.select("row", *kept, *money).with_columns(pl.col(due).fill_null(0))


def ledger_upsert(
    *,
    creditor: Creditor,
    portfolio: Portfolio,
    frame: pl.DataFrame | Iterable[pl.DataFrame],
    actor: Any,
    source: str = "",
    refuse_conflicts: bool = False,
    progress: ProgressFn | None = None,
) -> UpsertResult:
    """Make the ledger agree with ``frame`` (one frame, or chunks of one file in order), in
    one transaction; see the module docstring.

    Chunks are read one at a time while the transaction is open, so a generator may validate
    them as they come; an exception it raises rolls everything back. With
    ``refuse_conflicts`` any conflict rolls everything back too, by raising
    :class:`UpsertConflicts`. ``progress`` gets ``("import", step, steps)`` as the merge goes.
    Raises ``UpsertError`` (nothing written) when a frame is not a clean ledger frame.
    """
    if portfolio.creditor_id != creditor.pk:
        raise UpsertError(_("The portfolio belongs to another creditor."))
    frames = [frame] if isinstance(frame, pl.DataFrame) else frame
    order = domain.parse_order(portfolio.allocation_order)
    with transaction.atomic(), connection.cursor() as cursor:
        run = _Run(cursor, creditor=creditor, portfolio=portfolio, order=order)
        run.begin()
        for chunk in frames:
            run.stage(chunk)
        result = run.merge(progress)
        if refuse_conflicts and result.conflicts.height:
            raise UpsertConflicts(result)
        run.audit(actor, result, source)
        run.drop_stages()
    return result


# --- one chunk (Polars, no database) --------------------------------------------------------


def _conform(frame: pl.DataFrame) -> pl.DataFrame:
    """Every column with its type, a source row number, an item number for every row."""
    missing = [c for c in FRAME_SCHEMA if c not in frame.columns and c not in OPTIONAL]
    if missing:
        raise UpsertError(_("The frame lacks the columns %(columns)s.") % {"columns": missing})
    given = "row" in frame.columns
    return frame.select(
        (pl.col("row") if given else pl.int_range(1, pl.len() + 1)).cast(pl.Int64).alias("src_row"),
        *[
            (pl.col(c) if c in frame.columns else pl.lit(None)).cast(t).alias(c)
            for c, t in FRAME_SCHEMA.items()
        ],
    ).with_columns(
        # Without an item number the due date names the installment, as the duplicate check
        # of the validator has it.
        number=pl.coalesce("item_no", pl.col("due_date").dt.to_string("%Y-%m-%d")),
        paid_fen=pl.col("paid_fen").fill_null(0),
    )


def _check(rows: pl.DataFrame) -> None:
    """Refuse what a clean frame never holds; the validator reports such rows to the user.

    Lengths are checked here because SQLite would store a too long text without a word and
    PostgreSQL would fail far from the row that caused it.
    """
    problems = _problems()
    flags = rows.select(
        bad.fill_null(False).any().alias(str(i))
        for i, (_column, bad, _message) in enumerate(problems)
    ).row(0)
    for flag, (column, bad, message) in zip(flags, problems, strict=True):
        if flag:
            found = rows.filter(bad.fill_null(False)).get_column("src_row").head(5).to_list()
            raise UpsertError(message % {"rows": ", ".join(map(str, found)), "field": column})


def _repeated_message() -> str:
    return _("Rows %(rows)s: the contract number and item number repeat an earlier row.")


def _problems() -> list[tuple[str, pl.Expr, str]]:
    required = _("Rows %(rows)s: “%(field)s” is empty.")
    unknown = _("Rows %(rows)s: “%(field)s” is not one of the known values.")
    negative = _("Rows %(rows)s: “%(field)s” is negative.")
    long = _("Rows %(rows)s: “%(field)s” is longer than the ledger can hold.")
    return [
        *((c, pl.col(c).is_null(), required) for c in FRAME_SCHEMA if c not in OPTIONAL),
        *((c, ~pl.col(c).is_in(values), unknown) for c, values in ALLOWED.items()),
        *((c, pl.col(c) < 0, negative) for c in AMOUNTS),
        *((c, pl.col(c).str.len_chars() > n, long) for c, n in _max_lengths().items()),
        # Within the chunk; across chunks see _Run.stage.
        ("item_no", pl.struct("contract_no", "number").is_duplicated(), _repeated_message()),
    ]


def _max_lengths() -> dict[str, int]:
    """The frame's text columns and the size of the model field each one lands in."""

    def size(model: type[Debtor | Contact | Account | ReceivableItem], name: str) -> int:
        return int(getattr(model._meta.get_field(name), "max_length", 0) or 0)

    return {
        "debtor_name": size(Debtor, "name"),
        "id_number": size(Debtor, "id_number"),
        "region": size(Debtor, "region"),
        "phone": size(Contact, "phone"),
        "guarantor_phone": size(Contact, "phone"),
        "guarantor_name": size(Contact, "name"),
        "address": size(Contact, "address"),
        "email": size(Contact, "email"),
        "contract_no": size(Account, "contract_no"),
        "currency": size(Account, "currency"),
        "number": size(ReceivableItem, "number"),
    }


def _overpaid() -> pl.Expr:
    return pl.col("paid_fen") > pl.sum_horizontal(f"{c}_due_fen" for c in COMPONENTS)


def _stage_frame(
    rows: pl.DataFrame, order: Sequence[domain.Component], first_seq: int
) -> pl.DataFrame:
    """A chunk's rows as staged (``STAGED``): the paid total spread over the components in
    the allocation order, money still in fen.

    ``open_default`` is each row's due date a month back; the minimum over a contract is the
    month before its first due date (the shift keeps the order of dates), which is when a
    monthly schedule's money was paid out.
    """
    left = pl.col("paid_fen")
    paid = {}
    for component in order:
        take = pl.min_horizontal(left, pl.col(f"{component.value}_due_fen"))
        paid[f"{component.value}_paid"] = take
        left = left - take
    return rows.select(
        seq=pl.int_range(first_seq, first_seq + pl.len(), dtype=pl.Int64),
        src_row=pl.col("src_row"),
        **{c: pl.col(c) for c in _TEXTS},
        principal=pl.col("principal_fen"),
        open_date=pl.col("open_date"),
        open_default=pl.col("due_date").dt.offset_by("-1mo"),
        item_no=pl.col("item_no"),
        number=pl.col("number"),
        kind=pl.col("item_kind"),
        due_date=pl.col("due_date"),
        **{f"{c}_due": pl.col(f"{c}_due_fen") for c in COMPONENTS},
        **{f"{c}_paid": paid[f"{c}_paid"] for c in COMPONENTS},
    )


# --- conflicts ------------------------------------------------------------------------------


def _conflict_message(code: str, row: int, contract: str, extra: str) -> str:
    args = {"row": row, "contract": contract, "extra": extra}
    if code == "contract_inconsistent":
        text = _(
            "Row %(row)s: the rows of contract %(contract)s disagree on “%(extra)s”; none of "
            "them was imported."
        )
    elif code == "paid_exceeds_due":
        text = _("Row %(row)s: more was paid than is due; the row was not imported.")
    elif code == "portfolio_mismatch":
        text = _(
            "Row %(row)s: contract %(contract)s is in portfolio %(extra)s; an import does not "
            "move accounts, so the row was not imported."
        )
    elif code == "debtor_mismatch":
        text = _(
            "Row %(row)s: contract %(contract)s belongs to another debtor in the ledger; the row "
            "was not imported."
        )
    elif code == "paid_below_ledger":
        text = _(
            "Row %(row)s: the file shows less paid than Huikuan has recorded, payments included; "
            "the paid amounts were kept, the rest of the row was imported."
        )
    else:  # due_below_paid
        text = _(
            "Row %(row)s: the amount due would be less than what is already paid, payments "
            "included; the row was not imported."
        )
    return text % args


def _conflict_frame(found: Sequence[tuple[Any, ...]]) -> pl.DataFrame:
    """Conflict rows from (row, contract, item, code, field, message argument) tuples."""
    records = [
        (row, contract, item, code, name, _conflict_message(code, row, contract, extra))
        for row, contract, item, code, name, extra in found
    ]
    return pl.DataFrame(records, schema=CONFLICT_SCHEMA, orient="row")


# --- SQL: the two dialects ------------------------------------------------------------------


@dataclass(frozen=True)
class _Sql:
    """The few places where PostgreSQL and SQLite need different SQL."""

    postgres: bool

    @property
    def temp(self) -> str:
        return "pg_temp" if self.postgres else "temp"

    @property
    def distinct(self) -> str:
        # SQLite's null-safe "differs" is IS NOT (IS DISTINCT FROM only since 3.39).
        return "IS DISTINCT FROM" if self.postgres else "IS NOT"

    # Staged money is exact on both: numeric(20, 2) on PostgreSQL, like the ledger's columns,
    # so nothing is converted a million times; integer fen on SQLite, which keeps decimals as
    # REAL. ``read`` brings a ledger money column to the staged unit, ``write`` takes it back.

    def read(self, column: str) -> str:
        if self.postgres:
            return column
        return f"CAST(ROUND({column} * 100) AS INTEGER)"

    def write(self, staged: str) -> str:
        if self.postgres:
            return f"({staged})"
        return f"(({staged}) / 100.0)"  # the REAL Django itself stores for a Decimal

    def stage_money(self, fen: pl.Expr) -> pl.Expr:
        if self.postgres:
            return (fen.cast(pl.Decimal(38, 0)) * pl.lit(Decimal("0.01"))).cast(pl.Decimal(20, 2))
        return fen

    def column_type(self, kind: str) -> str:
        if self.postgres:
            return {"int": "bigint", "text": "text", "date": "date", "money": "numeric(20, 2)"}[
                kind
            ]
        return {"int": "INTEGER", "text": "TEXT", "date": "TEXT", "money": "INTEGER"}[kind]

    def first_per_key(self, source: str, keys: Sequence[str], columns: Sequence[str]) -> str:
        """SELECT ``columns`` (over alias ``s``) and ``seq`` of the first row (lowest ``s.seq``)
        of each distinct ``keys`` of ``source``; one pass either way.

        SQLite documents that with a single ``MIN()`` the other columns come from the row that
        holds the minimum; PostgreSQL has ``DISTINCT ON``.
        """
        if self.postgres:  # bytewise: the same groups, a sort without the locale's rules
            keys = [f'{k} COLLATE "C"' for k in keys]
        key, cols = ", ".join(keys), ", ".join(columns)
        if self.postgres:
            return (
                f"SELECT DISTINCT ON ({key}) {cols}, s.seq AS seq FROM {source} "  # noqa: S608
                f"ORDER BY {key}, s.seq"
            )
        return f"SELECT {cols}, MIN(s.seq) AS seq FROM {source} GROUP BY {key}"  # noqa: S608


@dataclass(frozen=True)
class _Field:
    """One audited column. ``new`` is the new value's SQL over ``u`` (staging) and ``{old}``."""

    column: str
    money: bool = False
    new: str = "u.{column}"


DEBTOR, CONTACT = Debtor._meta.db_table, Contact._meta.db_table
ACCOUNT, PORTFOLIO = Account._meta.db_table, Portfolio._meta.db_table
ITEM, ALLOCATION = ReceivableItem._meta.db_table, Allocation._meta.db_table
LEDGER_TABLES = (DEBTOR, CONTACT, ACCOUNT, ITEM)
# What a bulk load locks: the tables it loads, and those their foreign keys point to, except
# users and teams (see _Run._bulk_begin).
BULK_LOCKED = (*LEDGER_TABLES, Creditor._meta.db_table, PORTFOLIO)
DEBTOR_FIELDS = (_Field("name"), _Field("region", new="COALESCE(u.region, {old})"))
ACCOUNT_FIELDS = (
    _Field("product"),
    _Field("currency"),
    _Field("principal", money=True, new="COALESCE(u.principal, {old})"),
    _Field("open_date", new="COALESCE(u.open_date, {old})"),
)
ITEM_FIELDS = (
    _Field("kind"),
    _Field("due_date"),
    *(_Field(f"{c}_due", money=True) for c in COMPONENTS),
    *(_Field(f"{c}_paid", money=True) for c in COMPONENTS),
)
Model = type[Debtor | Account | ReceivableItem]


def _literal(value: str) -> str:
    """A status code as an SQL literal (codes are identifiers, never user text)."""
    if not value.isidentifier():
        raise ValueError(value)
    return f"'{value}'"


class _Run:
    """One import inside its transaction: staging tables, statements, collected audit changes.

    ``begin``, then ``stage`` for each chunk, then ``merge`` once. Every statement of the
    merge works on whole staging tables, so their number does not grow with the input.
    """

    def __init__(
        self,
        cursor: Any,
        *,
        creditor: Creditor,
        portfolio: Portfolio,
        order: Sequence[domain.Component],
    ) -> None:
        self.cursor = cursor
        self.sql = _Sql(connection.vendor == "postgresql")
        self.creditor, self.portfolio, self.order = creditor, portfolio, order
        ops = connection.ops
        self.now = ops.adapt_datetimefield_value(timezone.now())
        self.as_of = ops.adapt_datefield_value(portfolio_today(portfolio))
        self.stages: list[str] = []
        self.changes: list[Change] = []
        self.conflicts: list[pl.DataFrame] = []
        self.total = 0  # rows given
        self.staged = 0  # rows staged
        self.keys = SeenKeys()  # (contract, item) keys of earlier chunks, hashed
        self.repeats = False  # a key of an earlier chunk came again (maybe: hashes)
        self.excluded = False  # rows of some contracts were left out after staging

    def begin(self) -> None:
        self._lock()
        columns = ", ".join(
            f"{name} {self.sql.column_type(kind)}"
            + (" PRIMARY KEY" if name == "seq" and not self.sql.postgres else "")
            for name, kind in STAGED.items()
        )
        # On SQLite an INTEGER PRIMARY KEY is the rowid: finding a row by seq costs nothing.
        self._execute(f"DROP TABLE IF EXISTS {self.sql.temp}.upsert_row")
        self._execute(f"CREATE TEMP TABLE upsert_row ({columns})")
        self.stages.append("upsert_row")

    def stage(self, frame: pl.DataFrame) -> None:
        """Check one chunk, note its in-chunk conflicts, append its rows to ``upsert_row``."""
        self.total += frame.height
        rows = _conform(frame)
        _check(rows)
        if rows.is_empty():
            return
        keys = rows.select(key_hash(pl.col("contract_no"), pl.col("number"))).to_series()
        seq = pl.int_range(self.staged, self.staged + rows.height, eager=True, dtype=pl.Int64)
        first = self.keys.first_rows(keys, seq)
        self.repeats = self.repeats or bool((first != seq).any())
        overpaid = _overpaid().fill_null(False)
        if rows.select(overpaid.any()).item():
            found = rows.filter(overpaid).select(
                "src_row",
                "contract_no",
                "item_no",
                code=pl.lit("paid_exceeds_due"),
                field=pl.lit("paid"),
                extra=pl.lit(""),
            )
            self.conflicts.append(_conflict_frame(found.rows()))
            rows = rows.filter(~overpaid)
        staged = _stage_frame(rows, self.order, self.staged)
        self._append("upsert_row", staged, money=[c for c, k in STAGED.items() if k == "money"])
        self.staged += frame.height  # seq counts every given row, staged or not

    def merge(self, progress: ProgressFn | None = None) -> UpsertResult:
        steps = _Steps(progress, 7)
        if self.sql.postgres:
            self._execute("ANALYZE upsert_row")  # autovacuum never analyses temp tables
        if not self._fetch("SELECT 1 FROM upsert_row LIMIT 1"):
            steps.finish()
            return UpsertResult(rows=self.total, conflicts=self._conflicts())
        if self.repeats:
            self._refuse_repeats()
        self._account_table()
        steps.next()
        self._match_accounts()
        if self.excluded:
            self._execute(
                "DELETE FROM upsert_row WHERE contract_no NOT IN "
                "(SELECT contract_no FROM upsert_account_m)"
            )
        self._match_debtors()
        steps.next()
        restore = self._bulk_begin()
        debtors_updated, debtors_created = self._write_debtors()
        contacts_created = self._contacts()
        steps.next()
        accounts_created, accounts_updated = self._accounts()
        steps.next()
        items_created, items_updated = self._items()
        steps.next()
        statuses_changed = self._balances()
        steps.next()
        self._bulk_end(restore)
        steps.finish()
        return UpsertResult(
            rows=self.total,
            debtors_created=debtors_created,
            debtors_updated=debtors_updated,
            contacts_created=contacts_created,
            accounts_created=accounts_created,
            accounts_updated=accounts_updated,
            items_created=items_created,
            items_updated=items_updated,
            statuses_changed=statuses_changed,
            conflicts=self._conflicts(),
        )

    def audit(self, actor: Any, result: UpsertResult, source: str) -> None:
        """The batch event, then one per updated row and moved status; nothing if nothing moved."""
        if not result.written:
            return
        counts = {"source": [None, source], **{k: [None, v] for k, v in result.counts().items()}}
        batch = Change("import.ledger", Portfolio._meta.label_lower, str(self.portfolio.pk), counts)
        audit_record_many(actor=actor, changes=[batch, *self.changes])

    def drop_stages(self) -> None:
        # Temp tables outlive the transaction on both databases; the next import reuses names.
        for name in reversed(self.stages):
            self._execute(f"DROP TABLE IF EXISTS {self.sql.temp}.{name}")
        self.stages.clear()

    # -- plumbing

    def _conflicts(self) -> pl.DataFrame:
        if not self.conflicts:
            return pl.DataFrame(schema=CONFLICT_SCHEMA)
        return pl.concat(self.conflicts).sort("row", maintain_order=True)

    def _execute(self, sql: str, params: Sequence[Any] | None = None) -> int:
        self.cursor.execute(sql, params)
        return int(self.cursor.rowcount)

    def _fetch(self, sql: str, params: Sequence[Any] | None = None) -> list[tuple[Any, ...]]:
        self.cursor.execute(sql, params)
        return list(self.cursor.fetchall())

    def _lock(self) -> None:
        if self.sql.postgres:
            self._execute("SELECT pg_advisory_xact_lock(%s)", [_ADVISORY_LOCK])
            # Hash joins and sorts over a million staged rows stay in memory; compiling each
            # big statement (JIT) cost more than it saved, about half a second a statement.
            self._execute("SET LOCAL work_mem = '256MB'")
            self._execute("SET LOCAL jit = off")
            # One commit, however big: the job that ran it commits its own status right after,
            # with a flush that covers this one. See docs/decisions/0002-bulk-import.md.
            self._execute("SET LOCAL synchronous_commit = off")
            # The staging tables' statistics need row counts and rough distinct counts only;
            # a tenth of the default sample gets them (ANALYZE runs a dozen times).
            self._execute("SET LOCAL default_statistics_target = 10")

    def _append(self, name: str, frame: pl.DataFrame, money: Sequence[str] = ()) -> None:
        """Append ``frame`` (``money``: its fen columns) to a temp table, by COPY on PostgreSQL,
        by executemany on SQLite."""
        frame = frame.with_columns(self.sql.stage_money(pl.col(c)) for c in money)
        if self.sql.postgres:
            self._copy(name, frame)
            return
        marks = ", ".join(["%s"] * frame.width)
        text = frame.with_columns(pl.col(pl.Date).dt.to_string("%Y-%m-%d"))
        columns = ", ".join(frame.columns)
        for block in text.iter_slices(50_000):
            self.cursor.executemany(
                f"INSERT INTO {name} ({columns}) VALUES ({marks})",  # noqa: S608
                block.rows(),
            )

    def _copy(self, name: str, frame: pl.DataFrame) -> None:
        statement = f"COPY {name} ({', '.join(frame.columns)}) FROM STDIN (FORMAT csv, NULL '\\N')"
        with self.cursor.copy(statement) as copy:
            for block in frame.iter_slices(200_000):
                buffer = io.BytesIO()
                # Strings quoted, so a text that reads \N is not taken for a null.
                block.write_csv(
                    buffer, include_header=False, null_value="\\N", quote_style="non_numeric"
                )
                copy.write(buffer.getvalue())

    def _create(self, name: str, select: str, params: Sequence[Any] | None = None) -> None:
        self._execute(f"DROP TABLE IF EXISTS {self.sql.temp}.{name}")
        self.stages.append(name)
        self._execute(f"CREATE TEMP TABLE {name} AS {select}", params)
        if self.sql.postgres:
            self._execute(f"ANALYZE {name}")

    def _index(self, table: str, *columns: str) -> None:
        # SQLite joins by nested loops: without an index each probe would scan the stage.
        # PostgreSQL hashes the staging tables instead; building indexes would only cost.
        if self.sql.postgres:
            return
        self._execute(f"CREATE INDEX {table}_{columns[0]} ON {table} ({', '.join(columns)})")

    def _new_id(self, model: Model, new: str, order: str) -> tuple[str, list[Any]]:
        """SQL numbering the new rows up front, so nothing has to look them up after the INSERT.

        PostgreSQL draws from the table's sequence. SQLite has one writer, holding the lock for
        the whole transaction, so the ids after the highest used (rows or AUTOINCREMENT's
        record) are free.
        """
        table = model._meta.db_table
        if self.sql.postgres:
            sequence = self._fetch("SELECT pg_get_serial_sequence(%s, 'id')", [table])[0][0]
            return f"CASE WHEN {new} THEN nextval(%s::regclass) END", [sequence]
        high = self._fetch(f"SELECT COALESCE(MAX(id), 0) FROM {table}")[0][0]  # noqa: S608
        seq = self._fetch("SELECT MAX(seq) FROM sqlite_sequence WHERE name = %s", [table])[0][0]
        base = max(int(high), int(seq or 0))
        number = f"ROW_NUMBER() OVER (PARTITION BY {new} ORDER BY {order})"
        return f"CASE WHEN {new} THEN %s + {number} END", [base]

    def _conflict_rows(self, join: str, code: str, field: str, extra: str) -> None:
        """Report every staged row of the contracts in ``join`` (a table with contract_no)."""
        found = self._fetch(
            f"""SELECT r.src_row, r.contract_no, r.item_no, {code}, {field}, {extra}
                FROM upsert_row r JOIN {join} x ON x.contract_no = r.contract_no
                ORDER BY r.seq"""  # noqa: S608
        )
        self.conflicts.append(_conflict_frame(found))
        self.excluded = True

    # -- what needs the whole input: repeated keys, one account per contract

    def _refuse_repeats(self) -> None:
        """A (contract, item) key of one chunk came again in a later one, by its hash: make
        sure, and refuse the input as one frame would be refused."""
        found = self._fetch(
            """SELECT r.src_row FROM upsert_row r JOIN (
                   SELECT contract_no, number FROM upsert_row
                   GROUP BY contract_no, number HAVING COUNT(*) > 1) d
                 ON d.contract_no = r.contract_no AND d.number = r.number
               ORDER BY r.seq LIMIT 5"""
        )
        if found:
            rows = ", ".join(str(row) for (row,) in found)
            raise UpsertError(_repeated_message() % {"rows": rows})

    def _account_table(self) -> None:
        """One row per contract with the defaults used when the account is created; contracts
        whose rows disagree on an account field (``CONTRACT_FIELDS``) are reported, row by row,
        and left out altogether.

        MIN and MAX differ exactly when a column holds two different values (nulls aside), and
        when they agree MIN is the value.
        """
        fields = CONTRACT_FIELDS.items()
        first_bad = " ".join(
            f"WHEN MIN({c}) <> MAX({c}) THEN {_literal(name)}" for name, c in fields
        )
        # What is open, for the balances of the accounts that will be created (all their
        # items are in the file): one pass over the rows serves both.
        sums, oldest = self._open_sums("upsert_row", read=lambda column: column, prefix="open_")
        self._create(
            "upsert_account",
            f"""SELECT contract_no, {", ".join(f"MIN({c}) AS {c}" for _n, c in fields)},
                       MIN(seq) AS seq, SUM(principal_due) AS principal_default,
                       MIN(open_default) AS open_default, {sums}, {oldest} AS oldest,
                       CASE {first_bad} END AS bad
                FROM upsert_row GROUP BY contract_no""",  # noqa: S608
        )
        if self._fetch("SELECT 1 FROM upsert_account WHERE bad IS NOT NULL LIMIT 1"):
            self._create(
                "upsert_bad", "SELECT contract_no, bad FROM upsert_account WHERE bad IS NOT NULL"
            )
            self._index("upsert_bad", "contract_no")
            self._conflict_rows("upsert_bad", "'contract_inconsistent'", "x.bad", "x.bad")
            self._execute("DELETE FROM upsert_account WHERE bad IS NOT NULL")

    # -- accounts: which contracts may be imported

    def _match_accounts(self) -> None:
        """Find the contracts' accounts; report and leave out those the import must not touch.

        Locks the existing accounts (by id, as the payment services do) before any item is
        read, so a payment posted meanwhile either precedes the reads or waits for the commit.
        """
        new_id, params = self._new_id(Account, "a.id IS NULL", "u.seq")
        self._create(
            "upsert_account_m",
            f"""SELECT u.*, COALESCE(a.id, {new_id}) AS account_id,
                       CASE WHEN a.id IS NULL THEN 1 ELSE 0 END AS created,
                       a.portfolio_id AS o_portfolio_id, p.code AS o_portfolio_code,
                       d.kind AS o_kind, d.id_number AS o_id_number
                FROM upsert_account u
                LEFT JOIN {ACCOUNT} a ON a.creditor_id = %s AND a.contract_no = u.contract_no
                LEFT JOIN {PORTFOLIO} p ON p.id = a.portfolio_id
                LEFT JOIN {DEBTOR} d ON d.id = a.debtor_id""",  # noqa: S608
            [*params, self.creditor.pk],
        )
        pk = self.portfolio.pk
        clash = (
            "created = 0 AND (o_portfolio_id <> %s OR o_kind <> debtor_kind "
            "OR o_id_number <> id_number)"
        )
        if self._fetch(f"SELECT 1 FROM upsert_account_m WHERE {clash} LIMIT 1", [pk]):  # noqa: S608
            self._create(
                "upsert_refused",
                f"""SELECT contract_no,
                           CASE WHEN o_portfolio_id <> %s THEN 'portfolio_mismatch'
                                ELSE 'debtor_mismatch' END AS code,
                           CASE WHEN o_portfolio_id <> %s THEN 'portfolio' ELSE 'debtor' END
                               AS field,
                           CASE WHEN o_portfolio_id <> %s THEN o_portfolio_code ELSE '' END
                               AS extra
                    FROM upsert_account_m WHERE {clash}""",  # noqa: S608
                [pk, pk, pk, pk],
            )
            self._index("upsert_refused", "contract_no")
            self._conflict_rows("upsert_refused", "x.code", "x.field", "x.extra")
            self._execute(f"DELETE FROM upsert_account_m WHERE {clash}", [pk])  # noqa: S608
        self._index("upsert_account_m", "contract_no")
        self._index("upsert_account_m", "account_id")
        if self.sql.postgres:
            self._execute(
                f"""SELECT COUNT(*) FROM (SELECT a.id FROM {ACCOUNT} a
                    JOIN upsert_account_m m ON m.account_id = a.id AND m.created = 0
                    ORDER BY a.id FOR UPDATE OF a) locked"""  # noqa: S608
            )

    # -- a big first load: indexes rebuilt rather than maintained (PostgreSQL)

    def _bulk_begin(self) -> list[str]:
        """Drop the ledger tables' indexes when this import at least doubles the accounts
        (``bulk.worthwhile``); return the statements that rebuild them.

        The drop needs an ``ACCESS EXCLUSIVE`` lock, held to the commit, on the four tables
        and on creditors and portfolios (dropping a foreign key locks the table it points
        to): nobody reads them meanwhile, for about forty seconds at a million accounts.
        Imports that size are first loads, so little is lost; and when someone is reading
        them right now the import waits at most five seconds for the lock, then goes on with
        the indexes in place rather than queue every reader behind it. The foreign keys to
        creditors and portfolios go too because their checks are the costliest part left
        (about 4 µs a row each: 8 of 60 seconds for a million single-invoice accounts); those
        to users and teams stay, as every request reads those tables, and an empty collector
        or team costs next to nothing to check. See docs/decisions/0002-bulk-import.md.
        """
        if not self.sql.postgres:
            return []
        new = self._fetch("SELECT COUNT(*) FROM upsert_account_m WHERE created = 1")[0][0]
        minimum = bulk.BULK_MIN_ROWS
        if new < minimum:
            return []
        existing = self._fetch(
            f"SELECT COUNT(*) FROM (SELECT 1 FROM {ACCOUNT} LIMIT %s) a",  # noqa: S608
            [new + 1],
        )[0][0]
        if not bulk.worthwhile(new, existing, minimum):
            return []
        names = ", ".join(BULK_LOCKED)
        try:
            with transaction.atomic():  # a savepoint: a lock that times out changes nothing
                self._execute("SET LOCAL lock_timeout = '5s'")
                self._execute(f"LOCK TABLE {names} IN ACCESS EXCLUSIVE MODE")
        except OperationalError:
            return []
        finally:
            self._execute("SET LOCAL lock_timeout = DEFAULT")
        self._execute("SET LOCAL maintenance_work_mem = '1GB'")
        # A table with foreign key checks queued (by an enclosing transaction) cannot be
        # altered: run them first.
        self._execute("SET CONSTRAINTS ALL IMMEDIATE")
        self._execute("SET CONSTRAINTS ALL DEFERRED")
        return bulk.drop_for_load(self.cursor, LEDGER_TABLES, referenced=BULK_LOCKED)

    def _bulk_end(self, restore: Sequence[str]) -> None:
        if not restore:
            return
        # The checks of the foreign keys that stayed (to creditors, portfolios...) are queued
        # for the commit; no table with queued checks can be altered, so they run now.
        self._execute("SET CONSTRAINTS ALL IMMEDIATE")
        self._execute("SET LOCAL default_statistics_target = DEFAULT")  # these stay
        for table in LEDGER_TABLES:  # statistics first: the key checks plan with them
            self._execute(f"ANALYZE {table}")
        for statement in restore:
            self._execute(statement)
        self._execute("SET CONSTRAINTS ALL DEFERRED")

    # -- debtors and contacts

    def _match_debtors(self) -> None:
        """One debtor per (kind, ID number): the name of its first row, the first region given;
        matched with the ledger's (one per key, by a unique constraint)."""
        key = ["s.id_number", "s.debtor_kind"]  # the selective column first sorts faster
        first = self.sql.first_per_key(
            "upsert_row s",
            key,
            [
                "s.debtor_kind AS debtor_kind",
                "s.id_number AS id_number",
                "s.debtor_name AS name",
                "s.region AS region",
            ],
        )
        # The division code leads a resident ID and sits at 3–8 in a credit code.
        enterprise = _literal(Debtor.Kind.ENTERPRISE)
        new_id, params = self._new_id(Debtor, "m.id IS NULL", "u.seq")
        self._create(
            "upsert_debtor_m",
            f"""SELECT u.*, COALESCE(m.id, {new_id}) AS debtor_id,
                       CASE WHEN m.id IS NULL THEN 1 ELSE 0 END AS created,
                       CASE WHEN u.debtor_kind = {enterprise}
                            THEN SUBSTR(u.id_number, 3, 6)
                            ELSE SUBSTR(u.id_number, 1, 6) END AS region_default
                FROM ({first}) u
                LEFT JOIN {DEBTOR} m ON m.id_number = u.id_number AND m.kind = u.debtor_kind""",  # noqa: S608
            params,
        )
        self._index("upsert_debtor_m", "id_number", "debtor_kind")
        # The validator always gives a region; a frame may leave it to a later row.
        if self._fetch("SELECT 1 FROM upsert_debtor_m WHERE region IS NULL LIMIT 1"):
            self._create(
                "upsert_debtor_r",
                self.sql.first_per_key(
                    "upsert_row s WHERE s.region IS NOT NULL",
                    key,
                    [
                        "s.debtor_kind AS debtor_kind",
                        "s.id_number AS id_number",
                        "s.region AS region",
                    ],
                ),
            )
            self._index("upsert_debtor_r", "id_number", "debtor_kind")
            self._execute(
                """UPDATE upsert_debtor_m SET region = (
                       SELECT r.region FROM upsert_debtor_r r
                       WHERE r.id_number = upsert_debtor_m.id_number
                         AND r.debtor_kind = upsert_debtor_m.debtor_kind)
                   WHERE region IS NULL"""
            )
        self._diff_table("upsert_debtor_d", Debtor, "upsert_debtor_m", "debtor_id", DEBTOR_FIELDS)

    def _write_debtors(self) -> tuple[int, int]:
        updated = self._apply("upsert_debtor_d", Debtor, DEBTOR_FIELDS, action="debtor.update")
        created = self._execute(
            f"""INSERT INTO {DEBTOR} (id, kind, name, id_number, region, created_at)
                SELECT debtor_id, debtor_kind, name, id_number,
                       COALESCE(region, region_default), %s
                FROM upsert_debtor_m WHERE created = 1""",  # noqa: S608
            [self.now],
        )
        return updated, created

    def _contacts(self) -> int:
        """Add the contacts the debtor lacks; never change or remove one.

        A contact is known when the debtor has one with the same relation and phone, or, for
        a contact without a phone, the same name, email and address. Known contacts are left
        as they are: collectors verify and correct them in Huikuan, and a file must not undo
        that. The file's own repeats count once, as their first row gives them.
        """
        # Own contacts and guarantors apart (the relation is part of the key): two sorts of
        # the rows they come from, rather than one of both kinds copied together.
        debtor = ["s.id_number", "s.debtor_kind"]  # the selective column first sorts faster
        phone = "COALESCE(s.phone, '')"
        own = {
            "name": "s.debtor_name",
            "email": "COALESCE(s.email, '')",
            "address": "COALESCE(s.address, '')",
        }
        self._create(
            "upsert_contact",
            self.sql.first_per_key(
                "upsert_row s WHERE s.phone IS NOT NULL OR s.email IS NOT NULL "
                "OR s.address IS NOT NULL",
                [*debtor, phone, *(f"CASE WHEN {phone} = '' THEN {v} END" for v in own.values())],
                [
                    "s.debtor_kind AS debtor_kind",
                    "s.id_number AS id_number",
                    f"{_literal(Contact.Relation.SELF)} AS relation",
                    f"{phone} AS phone",
                    *(f"{v} AS {k}" for k, v in own.items()),
                ],
            ),
        )
        phone, name = "COALESCE(s.guarantor_phone, '')", "COALESCE(s.guarantor_name, '')"
        guarantors = self.sql.first_per_key(
            "upsert_row s WHERE s.guarantor_name IS NOT NULL OR s.guarantor_phone IS NOT NULL",
            [*debtor, phone, f"CASE WHEN {phone} = '' THEN {name} END"],
            [
                "s.debtor_kind",
                "s.id_number",
                _literal(Contact.Relation.GUARANTOR),
                phone,
                name,
                "''",
                "''",
            ],
        )
        self._execute(
            "INSERT INTO upsert_contact (debtor_kind, id_number, relation, phone, name, email, "
            f"address, seq) {guarantors}"
        )
        insert = f"""INSERT INTO {CONTACT}
                (debtor_id, relation, name, phone, email, address, verified, do_not_contact)
            SELECT d.debtor_id, c.relation, c.name, c.phone, c.email, c.address, FALSE, FALSE
            FROM upsert_contact c
            JOIN upsert_debtor_m d ON d.id_number = c.id_number AND d.debtor_kind = c.debtor_kind
            """  # noqa: S608
        known = f"""SELECT 1 FROM {CONTACT} x
            WHERE x.debtor_id = d.debtor_id AND x.relation = c.relation AND x.phone = c.phone
              AND (c.phone <> '' OR (x.name = c.name AND x.email = c.email
                                     AND x.address = c.address))"""  # noqa: S608
        # Two statements: an OR of both cases would keep the planner from an anti-join.
        added = self._execute(f"{insert} WHERE d.created = 1")
        return added + self._execute(f"{insert} WHERE d.created = 0 AND NOT EXISTS ({known})")

    # -- accounts

    def _accounts(self) -> tuple[int, int]:
        self._diff_table(
            "upsert_account_d", Account, "upsert_account_m", "account_id", ACCOUNT_FIELDS
        )
        updated = self._apply(
            "upsert_account_d",
            Account,
            ACCOUNT_FIELDS,
            action="account.update",
            touch="updated_at",
        )
        return self._insert_accounts(), updated

    def _insert_accounts(self) -> int:
        """New accounts, with the balances and status of their items already in place.

        A new account's items all come from the file, so its aggregates are the sums over the
        staged rows ``_account_table`` made; writing them with the INSERT spares rewriting
        every new row (and its thirteen index entries) afterwards.
        """
        if not self._fetch("SELECT 1 FROM upsert_account_m WHERE created = 1 LIMIT 1"):
            return 0
        total = " + ".join(f"a.open_{c}" for c in COMPONENTS)
        status, params = self._status_case(
            _literal(domain.AccountStatus.CURRENT), total, "a.oldest"
        )
        money = self.sql.write
        outstanding = ", ".join(money(f"a.open_{c}") for c in COMPONENTS)
        return self._execute(
            f"""INSERT INTO {ACCOUNT} (id, creditor_id, portfolio_id, debtor_id, contract_no,
                    product, currency, principal, open_date, status, outstanding,
                    {", ".join(f"{c}_outstanding" for c in COMPONENTS)}, oldest_unpaid_due,
                    unapplied, updated_at)
                SELECT a.account_id, %s, %s, d.debtor_id, a.contract_no, a.product, a.currency,
                       {money("COALESCE(a.principal, a.principal_default)")},
                       COALESCE(a.open_date, a.open_default), {status}, {money(total)},
                       {outstanding}, a.oldest, {money("0")}, %s
                FROM upsert_account_m a
                JOIN upsert_debtor_m d
                  ON d.id_number = a.id_number AND d.debtor_kind = a.debtor_kind
                WHERE a.created = 1""",  # noqa: S608
            [self.creditor.pk, self.portfolio.pk, *params, self.now],
        )

    # -- items

    def _items(self) -> tuple[int, int]:
        self._allocated()
        self._resolve_items()
        found = self._fetch(
            """SELECT src_row, contract_no, item_no,
                      CASE WHEN refused = 1 THEN 'due_below_paid' ELSE 'paid_below_ledger' END,
                      'paid', ''
               FROM upsert_item_r WHERE keep_paid = 1 ORDER BY seq"""
        )
        if found:
            self.conflicts.append(_conflict_frame(found))
        updated = self._apply(
            "upsert_item_r",
            ReceivableItem,
            ITEM_FIELDS,
            action="item.update",
            id_column="item_id",
            where="upsert_item_r.changed = 1",
        )
        columns = ", ".join(f.column for f in ITEM_FIELDS)
        values = ", ".join(
            self.sql.write(f"new_{f.column}") if f.money else f"new_{f.column}" for f in ITEM_FIELDS
        )
        created = self._execute(
            f"""INSERT INTO {ITEM} (account_id, number, {columns})
                SELECT account_id, number, {values}
                FROM upsert_item_r WHERE item_id IS NULL"""  # noqa: S608
        )
        # The items of new accounts: straight from the staged rows (no ledger row to compare,
        # no payment to respect; a row paying more than is due never got this far).
        staged = ", ".join(
            self.sql.write(f"u.{f.column}") if f.money else f"u.{f.column}" for f in ITEM_FIELDS
        )
        created += self._execute(
            f"""INSERT INTO {ITEM} (account_id, number, {columns})
                SELECT a.account_id, u.number, {staged}
                FROM upsert_row u JOIN upsert_account_m a ON a.contract_no = u.contract_no
                WHERE a.created = 1"""  # noqa: S608
        )
        return created, updated

    def _allocated(self) -> None:
        """Per item holding money posted in Huikuan: what its allocations paid, by component."""
        amount = self.sql.read("al.amount")
        sums = ", ".join(
            f"SUM(CASE WHEN al.component = {_literal(c)} THEN {amount} ELSE 0 END) AS {c}"
            for c in COMPONENTS
        )
        self._create(
            "upsert_alloc",
            f"""SELECT al.item_id AS item_id, {sums}
                FROM upsert_account_m a
                JOIN {ITEM} i ON i.account_id = a.account_id
                JOIN {ALLOCATION} al ON al.item_id = i.id
                WHERE a.created = 0
                GROUP BY al.item_id HAVING SUM({amount}) > 0""",  # noqa: S608
        )
        self._index("upsert_alloc", "item_id")

    def _resolve_items(self) -> None:
        """One pass over the staged items of existing accounts: their ledger row, the paid
        amounts to store, the conflicts with money already posted, whether anything changes.

        Imported paid amounts are opening amounts. Once Huikuan has posted payments to an item
        the file cannot tell us whether its figure includes them, so it may raise the item's
        paid amounts but not lower them: it is taken only when its total is at least the
        item's current total and each component covers what the allocations paid. Otherwise
        the current paid amounts stay (``keep_paid``, reported as ``paid_below_ledger``), and a
        row whose amounts due would fall below them is not applied at all (``refused``,
        reported as ``due_below_paid``). Items without such payments take the file's figures.
        """
        read = self.sql.read
        olds = ", ".join(
            f"{read(f'i.{f.column}') if f.money else f'i.{f.column}'} AS old_{f.column}"
            for f in ITEM_FIELDS
        )
        given = ", ".join(
            f"u.{f.column} AS {'file' if f.column.endswith('_paid') else 'new'}_{f.column}"
            for f in ITEM_FIELDS
        )
        paid = " + ".join(f"u.{c}_paid" for c in COMPONENTS)
        old_paid = " + ".join(read(f"i.{c}_paid") for c in COMPONENTS)
        below = " OR ".join(f"u.{c}_paid < x.{c}" for c in COMPONENTS)
        keep = f"x.item_id IS NOT NULL AND ({paid} < {old_paid} OR {below})"
        chosen = ", ".join(
            f"CASE WHEN m.keep_paid = 1 THEN m.old_{c}_paid ELSE m.file_{c}_paid END "
            f"AS new_{c}_paid"
            for c in COMPONENTS
        )
        over = " OR ".join(f"j.new_{c}_paid > j.new_{c}_due" for c in COMPONENTS)
        differs = " OR ".join(
            f"j.old_{f.column} {self.sql.distinct} j.new_{f.column}" for f in ITEM_FIELDS
        )
        self._create(
            "upsert_item_r",
            f"""SELECT j.*, CASE WHEN {over} THEN 1 ELSE 0 END AS refused,
                       CASE WHEN j.item_id IS NOT NULL AND NOT ({over}) AND ({differs})
                            THEN 1 ELSE 0 END AS changed
                FROM (SELECT m.*, {chosen} FROM (
                    SELECT u.seq AS seq, u.src_row AS src_row, u.contract_no AS contract_no,
                           u.item_no AS item_no, u.number AS number,
                           a.account_id AS account_id, a.created AS account_created,
                           i.id AS item_id, {olds}, {given},
                           CASE WHEN {keep} THEN 1 ELSE 0 END AS keep_paid
                    FROM upsert_row u
                    JOIN upsert_account_m a ON a.contract_no = u.contract_no AND a.created = 0
                    LEFT JOIN {ITEM} i ON i.account_id = a.account_id AND i.number = u.number
                    LEFT JOIN upsert_alloc x ON x.item_id = i.id) m) j""",  # noqa: S608
        )

    # -- balances and statuses of the accounts that existed

    def _balances(self) -> int:
        """Recompute the aggregates and automatic status of every existing account that gained
        or changed an item, in one pass over their items (one GROUP BY, one UPDATE of the rows
        that differ), and audit the statuses that move.

        Equal by construction to ``account_balances_refresh`` plus ``domain.balance_status``
        (the tests and ``bench/intake_upsert.py --refresh`` hold them to it). That service's
        subquery per column and account took 24 s for 154,000 accounts on PostgreSQL, more
        than the rest of a million-row import.
        """
        self._create(
            "upsert_touched",
            """SELECT DISTINCT account_id FROM upsert_item_r
               WHERE account_created = 0 AND (item_id IS NULL OR changed = 1)""",
        )
        sums, oldest = self._open_sums("i", read=self.sql.read)
        self._create(
            "upsert_balance",
            f"""SELECT i.account_id AS account_id, {sums}, {oldest} AS oldest
                FROM {ITEM} i WHERE i.account_id IN (SELECT account_id FROM upsert_touched)
                GROUP BY i.account_id""",  # noqa: S608
        )
        self._status_table()
        total = " + ".join(f"s.{c}" for c in COMPONENTS)
        sets = ", ".join(f"{c}_outstanding = {self.sql.write(f's.{c}')}" for c in COMPONENTS)
        self._execute(
            f"""UPDATE {ACCOUNT} SET {sets}, outstanding = {self.sql.write(total)},
                    oldest_unpaid_due = s.oldest, status = s.new_status
                FROM upsert_status s WHERE {ACCOUNT}.id = s.id AND s.changed = 1"""  # noqa: S608
        )
        # Their overdue amounts are left for the next cycle to compute (it re-reads the items
        # of accounts with no overdue_as_of), rather than guessed at a date here.
        self._execute(
            f"""UPDATE {ACCOUNT} SET overdue_as_of = NULL
                WHERE overdue_as_of IS NOT NULL
                  AND id IN (SELECT account_id FROM upsert_touched)"""  # noqa: S608
        )
        moved = self._fetch(
            """SELECT id, old_status, new_status FROM upsert_status
               WHERE old_status <> new_status ORDER BY id"""
        )
        self.changes += [
            Change("account.status", Account._meta.label_lower, str(pk), {"status": [a, b]}, REASON)
            for pk, a, b in moved
        ]
        return len(moved)

    def _status_table(self) -> None:
        read = self.sql.read
        total = " + ".join(f"b.{c}" for c in COMPONENTS)
        status, params = self._status_case("a.status", total, "b.oldest")
        differs = " OR ".join(
            [
                *(f"{read(f'a.{c}_outstanding')} <> b.{c}" for c in COMPONENTS),
                f"{read('a.outstanding')} <> {total}",
                f"a.oldest_unpaid_due {self.sql.distinct} b.oldest",
                f"a.status <> ({status})",
            ]
        )
        self._create(
            "upsert_status",
            f"""SELECT a.id AS id, a.status AS old_status, {status} AS new_status,
                       {", ".join(f"b.{c} AS {c}" for c in COMPONENTS)}, b.oldest AS oldest,
                       CASE WHEN {differs} THEN 1 ELSE 0 END AS changed
                FROM upsert_balance b JOIN {ACCOUNT} a ON a.id = b.account_id""",  # noqa: S608
            [*params, *params],
        )

    def _status_case(self, status: str, total: str, oldest: str) -> tuple[str, list[Any]]:
        """``domain.balance_status`` in SQL: DPD > 0 exactly when the oldest unpaid due date is
        before the as-of date."""
        S = domain.AccountStatus
        automatic = ", ".join(_literal(s) for s in sorted(domain.AUTOMATIC_STATUSES))
        sql = (
            f"CASE WHEN {status} IN ({automatic}) THEN "
            f"CASE WHEN {total} <= 0 THEN {_literal(S.PAID_OFF)} "
            f"WHEN {oldest} < %s THEN {_literal(S.DELINQUENT)} ELSE {_literal(S.CURRENT)} END "
            f"ELSE {status} END"
        )
        return sql, [self.as_of]

    def _open_sums(self, alias: str, *, read: Any, prefix: str = "") -> tuple[str, str]:
        """SQL for what is open per component, and the oldest due date still open."""
        opens = {c: f"{read(f'{alias}.{c}_due')} - {read(f'{alias}.{c}_paid')}" for c in COMPONENTS}
        sums = ", ".join(f"SUM({expr}) AS {prefix}{c}" for c, expr in opens.items())
        any_open = " + ".join(f"({expr})" for expr in opens.values())
        return sums, f"MIN(CASE WHEN {any_open} > 0 THEN {alias}.due_date END)"

    # -- diffs: the rows that differ, old and new, then one audited UPDATE

    def _diff_table(
        self, name: str, model: Model, source: str, key: str, fields: Sequence[_Field]
    ) -> None:
        """``name``: id, old_* and new_* of the existing rows of ``model`` that ``source``
        changes (staged rows with ``created = 0``)."""
        table = model._meta.db_table
        old = {
            f.column: self.sql.read(f"t.{f.column}") if f.money else f"t.{f.column}" for f in fields
        }
        new = {f.column: f.new.format(column=f.column, old=old[f.column]) for f in fields}
        columns = ", ".join(f"{old[c]} AS old_{c}, {new[c]} AS new_{c}" for c in old)
        differs = " OR ".join(f"({old[c]}) {self.sql.distinct} ({new[c]})" for c in old)
        self._create(
            name,
            f"""SELECT t.id AS id, {columns} FROM {source} u JOIN {table} t ON t.id = u.{key}
                WHERE u.created = 0 AND ({differs})""",  # noqa: S608
        )

    def _apply(
        self,
        name: str,
        model: Model,
        fields: Sequence[_Field],
        *,
        action: str,
        id_column: str = "id",
        where: str = "1 = 1",
        touch: str | None = None,
    ) -> int:
        """Audit, then write, the new values of the rows of ``name`` that match ``where``."""
        self._audit_updates(name, model, fields, action, id_column, where)
        table = model._meta.db_table
        sets = [
            f"{f.column} = "
            + (self.sql.write(f"{name}.new_{f.column}") if f.money else f"{name}.new_{f.column}")
            for f in fields
        ]
        if touch:
            sets.append(f"{touch} = %s")
        return self._execute(
            f"""UPDATE {table} SET {", ".join(sets)} FROM {name}
                WHERE {table}.id = {name}.{id_column} AND {where}""",  # noqa: S608
            [self.now] if touch else None,
        )

    def _audit_updates(
        self,
        name: str,
        model: Model,
        fields: Sequence[_Field],
        action: str,
        id_column: str,
        where: str,
    ) -> None:
        """One change per row: the fields that differ, old → new (money as Decimal)."""
        columns = ", ".join(f"old_{f.column}, new_{f.column}" for f in fields)
        label = model._meta.label_lower
        rows = self._fetch(
            f"SELECT {id_column}, {columns} FROM {name} WHERE {where} ORDER BY {id_column}"  # noqa: S608
        )
        for pk, *values in rows:
            changes = {}
            for f, old, new in zip(fields, values[::2], values[1::2], strict=True):
                if old != new:
                    changes[f.column] = [_money(old), _money(new)] if f.money else [old, new]
            self.changes.append(Change(action, label, str(pk), changes, REASON))


def _money(staged: Decimal | int | None) -> Decimal | None:
    """A staged amount as the Decimal the ledger holds (SQLite stages integer fen)."""
    if staged is None or isinstance(staged, Decimal):
        return staged
    return Decimal(int(staged)).scaleb(-2)


class _Steps:
    """``progress("import", step, steps)``, one step at a time."""

    def __init__(self, progress: ProgressFn | None, steps: int) -> None:
        self.progress, self.steps, self.done = progress, steps, 0

    def next(self) -> None:
        self.done = min(self.done + 1, self.steps)
        if self.progress is not None:
            self.progress("import", self.done, self.steps)

    def finish(self) -> None:
        self.done = self.steps - 1
        self.next()
