"""ISO 20022 camt.053 bank statements (BkToCstmrStmt), read as statements and bank lines.

Every version (camt.053.001.02 to .001.08 and later) is read the same way: elements are found
by their local names and the namespace version is ignored. Banks change versions without
notice, and the fields used here kept their names; where the nesting changed, the lookups try
both forms (``Sts`` / ``Sts/Cd``, ``Dbtr/Nm`` / ``Dbtr/Pty/Nm``, ``TxDtls/AmtDtls/TxAmt/Amt`` /
``TxDtls/Amt``).

Streaming: ``iterparse`` hands over each ``<Ntry>`` when it ends; it becomes lines and is then
removed from its statement, so memory stays flat however many entries a statement holds.

Safety: ElementTree expands entities declared in a DTD (a "billion laughs" document exhausts
memory). Statements never need a DTD, so a document with a ``<!DOCTYPE`` is refused before the
parser sees a byte of it. ``defusedxml`` would guard more generally; it is not a dependency.

One line per entry, or per ``TxDtls`` when an entry books a batch. Its bank reference, by
which posting is idempotent, is the first of:

1. the entry's ``AcctSvcrRef`` (the bank's own reference); in a batch, the transaction's own
   ``Refs/AcctSvcrRef`` comes first and the entry's is suffixed ``/k`` (k-th transaction);
2. ``Refs/AcctSvcrRef`` of the only transaction;
3. the entry's ``NtryRef`` (suffixed ``/k`` in a batch);
4. ``Refs/EndToEndId`` (unless ``NOTPROVIDED``), then ``Refs/TxId`` (both chosen by the payer);
5. the position: ``<statement Id>/<entry in statement>[/k]``.

Only 1 and 2 are unique per bank account; the others are unique at best within a statement,
so :attr:`BankLine.idempotency_key` scopes them by statement ``Id``: importing the same
statement twice posts nothing new, and two statements can never shadow each other's payments.
A payer-chosen reference seen twice in one statement falls back to the position; a bank
reference seen twice is reported (the bank listed one transaction twice, or lost uniqueness).

Messages a file can cause are translatable English msgids and name the entry (1-based, in file
order) and the element path; a bad entry is reported and the others still parse. Problems with
the whole file raise :class:`~huikuan.intake.errors.IntakeError`.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import hashlib
import io
import os
import re
import xml.etree.ElementTree as ET
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from decimal import Decimal
from typing import Literal, Protocol
from zoneinfo import ZoneInfo

import polars as pl

from huikuan.intake.errors import IntakeError
from huikuan.lib._translate import _
from huikuan.lib.money import MINOR_UNITS, quantize, to_minor


class BinaryReadable(Protocol):
    def read(self, size: int = ..., /) -> bytes: ...


Direction = Literal["CRDT", "DBIT"]
Source = str | os.PathLike[str] | bytes | BinaryReadable

SHANGHAI = ZoneInfo("Asia/Shanghai")
# ledger.Payment.idempotency_key holds 100 characters; longer keys are hashed to fit.
IDEMPOTENCY_KEY_MAX = 100
# References the bank assigns and keeps unique per account (see the module docstring).
BANK_ASSIGNED = frozenset({"AcctSvcrRef", "TxDtls/AcctSvcrRef"})
# Statuses that are booked money; PDNG (pending) and INFO entries are not payments yet.
BOOKED = frozenset({"BOOK"})

_DIRECTIONS: dict[str, Direction] = {"CRDT": "CRDT", "DBIT": "DBIT"}
_BOOLEANS = {"true": True, "1": True, "false": False, "0": False}
# ISO 20022 amounts: at most 18 digits, 5 of them after the point, no sign, no grouping.
# [0-9], not \d: \d takes other scripts' digits, which Decimal would then accept.
_AMOUNT = re.compile(r"[0-9]{1,18}(?:\.[0-9]{1,5})?")
_DATE = re.compile(r"([0-9]{4}-[0-9]{2}-[0-9]{2})(?:Z|[+-][0-9]{2}:[0-9]{2})?")
_PROLOG_LIMIT = 64 * 1024
_NOT_PROVIDED = "NOTPROVIDED"


# --- What comes out ------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Balance:
    code: str  # OPBD opening booked, PRCD previously closed booked, CLBD closing booked
    amount: Decimal  # signed: negative when the balance is a debit (overdrawn)
    currency: str
    date: dt.date | None


@dataclass(frozen=True, slots=True)
class Statement:
    statement_id: str
    message_id: str | None
    account_iban: str | None
    account_other_id: str | None  # Chinese accounts have no IBAN: Acct/Id/Othr/Id
    account_currency: str | None
    opening_balance: Balance | None
    closing_balance: Balance | None

    @property
    def account(self) -> str:
        return self.account_iban or self.account_other_id or ""


@dataclass(frozen=True, slots=True)
class BankLine:
    statement_id: str
    statement_account: str
    entry_no: int  # 1-based <Ntry> in the file, as the messages count
    tx_no: int | None  # 1-based <TxDtls> of a batched entry, None otherwise
    booking_date: dt.date
    value_date: dt.date | None
    amount: Decimal  # positive, quantized to the currency's minor unit
    currency: str
    direction: Direction
    reversal: bool
    status: str | None
    bank_reference: str
    reference_source: str  # AcctSvcrRef, TxDtls/AcctSvcrRef, NtryRef, EndToEndId, TxId, position
    payer_name: str | None = None
    payer_account: str | None = None
    remittance_text: str | None = None  # Ustrd, then Strd references and texts, space-joined
    structured_reference: str | None = None  # RmtInf/Strd/CdtrRefInf/Ref
    end_to_end_id: str | None = None
    additional_info: str | None = None  # AddtlTxInf and AddtlNtryInf

    @property
    def is_payment(self) -> bool:
        """Booked money in: a credit that is not a reversal."""
        booked = self.status is None or self.status in BOOKED
        return self.direction == "CRDT" and not self.reversal and booked

    @property
    def amount_fen(self) -> int:
        return to_minor(self.amount, self.currency)

    @property
    def idempotency_key(self) -> str:
        """The key to post this line with: the same line of any re-import gets the same key."""
        scope = [self.statement_account]
        if self.reference_source not in BANK_ASSIGNED:
            scope += [self.statement_id, self.reference_source]
        key = ":".join(["camt053", *scope, self.bank_reference])
        if len(key) <= IDEMPOTENCY_KEY_MAX:
            return key
        return "camt053:" + hashlib.sha256(key.encode()).hexdigest()


@dataclass(frozen=True, slots=True)
class CamtIssue:
    message: str  # translated, names the entry and the element
    element: str  # path from the entry or statement, such as Ntry/NtryDtls/TxDtls[2]/Amt
    entry_no: int | None = None  # None: a problem of the statement itself
    statement_id: str | None = None


@dataclass
class Camt053:
    statements: list[Statement]
    lines: list[BankLine]
    issues: list[CamtIssue]


# --- Entry points --------------------------------------------------------------------------


def iter_camt053(
    source: Source, *, tz: dt.tzinfo = SHANGHAI
) -> Iterator[Statement | BankLine | CamtIssue]:
    """Statements, lines and issues in file order; each statement before its lines.

    ``source`` is a path, the file's bytes or a binary file object. Date-times with an offset
    become dates in ``tz`` (the portfolio's time zone). Raises :class:`IntakeError` when the
    file as a whole cannot be read (not XML, not camt.053, a DOCTYPE, cut off).
    """
    with _guarded(source) as stream:
        yield from _Reader(tz).read(stream)


def parse_camt053(source: Source, *, tz: dt.tzinfo = SHANGHAI) -> Camt053:
    result = Camt053(statements=[], lines=[], issues=[])
    for item in iter_camt053(source, tz=tz):
        if isinstance(item, BankLine):
            result.lines.append(item)
        elif isinstance(item, Statement):
            result.statements.append(item)
        else:
            result.issues.append(item)
    return result


def lines_frame(lines: Iterable[BankLine]) -> pl.DataFrame:
    """The input of :func:`huikuan.intake.matching.match_lines`; ``line_id`` is the position.

    The free texts (remittance and additional information) become ``remittance_text``, the
    references a payer chose (structured reference, end-to-end id) ``reference``: Chinese
    banks often carry the payer's note (附言) in AddtlNtryInf rather than in RmtInf.
    """
    columns: dict[str, list[object]] = {name: [] for name in _FRAME_SCHEMA}
    for position, line in enumerate(lines):
        columns["line_id"].append(position)
        columns["amount_fen"].append(line.amount_fen)
        columns["currency"].append(line.currency)
        columns["payer_name"].append(line.payer_name)
        columns["remittance_text"].append(_join([line.remittance_text, line.additional_info]))
        columns["reference"].append(_join([line.structured_reference, line.end_to_end_id]))
        columns["direction"].append(line.direction)
        columns["reversal"].append(line.reversal)
        columns["is_payment"].append(line.is_payment)
        columns["bank_reference"].append(line.bank_reference)
    return pl.DataFrame(columns, schema=_FRAME_SCHEMA)


_FRAME_SCHEMA: dict[str, pl.DataType] = {
    "line_id": pl.Int64(),
    "amount_fen": pl.Int64(),
    "currency": pl.String(),
    "payer_name": pl.String(),
    "remittance_text": pl.String(),
    "reference": pl.String(),
    "direction": pl.String(),
    "reversal": pl.Boolean(),
    "is_payment": pl.Boolean(),  # also False for a credit that is not booked (PDNG)
    "bank_reference": pl.String(),
}


# --- Refusing a DTD before parsing ---------------------------------------------------------


class _Replay:
    """The bytes already read for the prolog check, then the rest of the stream."""

    def __init__(self, head: bytes, rest: BinaryReadable) -> None:
        self._head = head
        self._rest = rest

    def read(self, size: int = -1, /) -> bytes:
        if self._head:
            chunk, self._head = self._head, b""
            return chunk
        return self._rest.read(size)


@contextmanager
def _guarded(source: Source) -> Iterator[_Replay]:
    if isinstance(source, bytes):
        source = io.BytesIO(source)
    if isinstance(source, str | os.PathLike):
        with open(source, "rb") as owned:
            yield _Replay(_read_prolog(owned), owned)
    else:
        # The caller's stream stays open: whoever opened it closes it.
        yield _Replay(_read_prolog(source), source)


def _read_prolog(stream: BinaryReadable) -> bytes:
    head = b""
    while True:
        chunk = stream.read(8192)
        head += chunk
        if _prolog_done(head, eof=not chunk):
            return head
        if len(head) > _PROLOG_LIMIT:
            raise IntakeError(
                _("The file does not start with an XML element; it is not a bank statement.")
            )


def _prolog_done(head: bytes, *, eof: bool) -> bool:
    """True once the root element starts; refuses ``<!DOCTYPE`` (or any declaration) before it.

    Only the XML declaration, processing instructions, comments and white space may precede
    the root, so scanning past exactly those finds a DOCTYPE wherever it hides.
    """
    text = _decode_prolog(head)
    pos = 0
    while True:
        while pos < len(text) and text[pos] in " \t\r\n":
            pos += 1
        if len(text) - pos < 4 and not eof:
            return False  # "<!" might be the start of "<!DOCTYPE": wait for more
        if text.startswith("<?", pos) or text.startswith("<!--", pos):
            closing = "?>" if text[pos + 1] == "?" else "-->"
            end = text.find(closing, pos + 2)
            if end < 0:
                return eof
            pos = end + len(closing)
        elif text.startswith("<!", pos):
            raise IntakeError(
                _(
                    "The file declares a document type (<!DOCTYPE …>). Bank statements never "
                    "do, and such a file is refused because it could make the server expand "
                    "or fetch content the bank did not send. Export the statement again."
                )
            )
        else:
            return True  # the root element, or something the parser will refuse


def _decode_prolog(head: bytes) -> str:
    # Markup is ASCII in UTF-8 and GB18030 alike; only UTF-16 needs decoding to be seen.
    if head[:2] in (b"\xff\xfe", b"\xfe\xff") or head[:2] in (b"<\x00", b"\x00<"):
        little = head[:2] in (b"\xff\xfe", b"<\x00")
        body = head[2:] if head[:2] in (b"\xff\xfe", b"\xfe\xff") else head
        body = body[: len(body) // 2 * 2]
        return body.decode("utf-16-le" if little else "utf-16-be", errors="replace")
    return head.removeprefix(b"\xef\xbb\xbf").decode("latin-1")


# --- The streaming reader ------------------------------------------------------------------


class _Problem(Exception):
    """One entry (or statement header) is wrong; ``message`` is translated, without prefix."""

    def __init__(self, element: str, message: str) -> None:
        super().__init__(message)
        self.element = element
        self.message = message


@dataclass(frozen=True, slots=True)
class _Entry:
    """The entry-level values every line of an entry shares."""

    amount: Decimal
    currency: str
    direction: Direction
    reversal: bool
    status: str | None
    booking_date: dt.date
    value_date: dt.date | None
    account_servicer_ref: str | None
    entry_ref: str | None
    additional_info: str | None


class _Reader:
    def __init__(self, tz: dt.tzinfo) -> None:
        self.tz = tz
        self.entry_no = 0  # in the file, for messages
        self.statement: Statement | None = None
        self.entries_in_statement = 0  # for position references, stable per statement
        self.seen: dict[tuple[str, str], int] = {}  # (source, reference) → entry_no

    def read(self, stream: _Replay) -> Iterator[Statement | BankLine | CamtIssue]:
        stack: list[ET.Element] = []
        try:
            # S314: _guarded refused any DTD, which is what makes ElementTree unsafe here.
            events = ET.iterparse(stream, events=("start", "end"))  # noqa: S314
            for event, elem in events:
                # Only the top four levels (Document/BkToCstmrStmt/Stmt/Ntry) need a look while
                # parsing; this loop runs for every element, so it does nothing else.
                if event == "start":
                    stack.append(elem)
                    if len(stack) <= 4:
                        yield from self._start(elem, stack)
                else:
                    stack.pop()
                    if len(stack) <= 3:
                        yield from self._end(elem, stack)
        except ET.ParseError as exc:
            line, column = exc.position
            raise IntakeError(
                _(
                    "The file is not well-formed XML (line %(line)s, column %(column)s): "
                    "it may be cut off or damaged. Download the statement again."
                )
                % {"line": line, "column": column}
            ) from None

    def _start(self, elem: ET.Element, stack: list[ET.Element]) -> Iterator[Statement | CamtIssue]:
        namespace, _brace, local = elem.tag[1:].rpartition("}")
        if not elem.tag.startswith("{"):
            namespace, local = "", elem.tag
        elem.tag = local
        depth = len(stack)
        if depth == 1:
            _check_root(local, namespace)
        elif depth == 2 and local != "BkToCstmrStmt":
            _refuse(local)
        elif depth == 3 and local == "Stmt":
            self.statement, self.entries_in_statement, self.seen = None, 0, {}
        elif depth == 4 and local == "Ntry" and stack[2].tag == "Stmt":
            self.entry_no += 1
            self.entries_in_statement += 1
            if self.statement is None:
                # Id, Acct and Bal precede the entries in every version: the header is complete.
                yield from self._header(stack[2], stack[1])

    def _end(
        self, elem: ET.Element, stack: list[ET.Element]
    ) -> Iterator[Statement | BankLine | CamtIssue]:
        depth = len(stack) + 1
        if depth == 4 and elem.tag == "Ntry" and stack[-1].tag == "Stmt":
            yield from self._entry(_localise(elem))
            stack[-1].remove(elem)  # what keeps memory flat
        elif depth == 3 and elem.tag == "Stmt":
            if self.statement is None:
                yield from self._header(elem, stack[-1])
            stack[-1].remove(elem)

    # --- statement header ---

    def _header(self, stmt: ET.Element, group: ET.Element) -> Iterator[Statement | CamtIssue]:
        _localise(group)  # GrpHdr and this statement so far; earlier statements are gone
        statement_id = _text(stmt, "Id") or ""
        if not statement_id:
            yield self._statement_issue(_missing("Stmt/Id"), statement_id)
        balances: dict[str, Balance] = {}
        for number, bal in enumerate(stmt.iterfind("Bal"), start=1):
            try:
                balance = _balance(bal, f"Stmt/Bal[{number}]", self.tz)
            except _Problem as problem:
                yield self._statement_issue(problem, statement_id)
                continue
            balances.setdefault(balance.code, balance)
        self.statement = Statement(
            statement_id=statement_id,
            message_id=_text(group, "GrpHdr/MsgId"),
            account_iban=_text(stmt, "Acct/Id/IBAN"),
            account_other_id=_text(stmt, "Acct/Id/Othr/Id"),
            account_currency=_text(stmt, "Acct/Ccy"),
            opening_balance=balances.get("OPBD") or balances.get("PRCD"),
            closing_balance=balances.get("CLBD"),
        )
        yield self.statement

    def _statement_issue(self, problem: _Problem, statement_id: str) -> CamtIssue:
        message = _("Statement %(statement)s: %(problem)s") % {
            "statement": statement_id or "?",
            "problem": problem.message,
        }
        return CamtIssue(message, problem.element, None, statement_id or None)

    # --- entries ---

    def _entry(self, ntry: ET.Element) -> Iterator[BankLine | CamtIssue]:
        try:
            lines = self._unique(self._lines(ntry))
        except _Problem as problem:
            message = _("Entry %(entry)s: %(problem)s") % {
                "entry": self.entry_no,
                "problem": problem.message,
            }
            yield CamtIssue(message, problem.element, self.entry_no, self._statement.statement_id)
            return
        yield from lines

    @property
    def _statement(self) -> Statement:
        if self.statement is None:  # unreachable: _start emits the header before any entry
            raise RuntimeError("entry outside a statement")
        return self.statement

    def _lines(self, ntry: ET.Element) -> list[BankLine]:
        entry = _entry_values(ntry, self.tz)
        transactions = ntry.findall("NtryDtls/TxDtls")
        if len(transactions) <= 1:
            tx = transactions[0] if transactions else None
            return [self._line(entry, tx, None, entry.amount, entry.direction)]
        return self._batch(entry, transactions)

    def _batch(self, entry: _Entry, transactions: list[ET.Element]) -> list[BankLine]:
        lines = []
        for tx_no, tx in enumerate(transactions, start=1):
            where = f"Ntry/NtryDtls/TxDtls[{tx_no}]"
            amount, currency = _tx_amount(tx, where)
            if currency != entry.currency:
                raise _Problem(
                    f"{where}/Amt",
                    _(
                        "%(element)s is in %(value)s, but the entry is in %(currency)s; a "
                        "batched entry cannot be split across currencies."
                    )
                    % {"element": f"{where}/Amt", "value": currency, "currency": entry.currency},
                )
            direction = _direction(tx, "CdtDbtInd", where, default=entry.direction)
            lines.append(self._line(entry, tx, tx_no, amount, direction))
        _check_batch_total(entry, lines)
        return lines

    def _line(
        self,
        entry: _Entry,
        tx: ET.Element | None,
        tx_no: int | None,
        amount: Decimal,
        direction: Direction,
    ) -> BankLine:
        statement = self._statement
        source, reference = self._reference(entry, tx, tx_no)
        remittance, structured = _remittance(tx)
        return BankLine(
            statement_id=statement.statement_id,
            statement_account=statement.account,
            entry_no=self.entry_no,
            tx_no=tx_no,
            booking_date=entry.booking_date,
            value_date=entry.value_date,
            amount=amount,
            currency=entry.currency,
            direction=direction,
            reversal=entry.reversal,
            status=entry.status,
            bank_reference=reference,
            reference_source=source,
            payer_name=_payer_name(tx),
            payer_account=_payer_account(tx),
            remittance_text=remittance,
            structured_reference=structured,
            end_to_end_id=_end_to_end_id(tx),
            additional_info=_join([_text(tx, "AddtlTxInf"), entry.additional_info]),
        )

    def _reference(
        self, entry: _Entry, tx: ET.Element | None, tx_no: int | None
    ) -> tuple[str, str]:
        own = _text(tx, "Refs/AcctSvcrRef")
        if tx_no is None:
            ordered = [
                ("AcctSvcrRef", entry.account_servicer_ref),
                ("TxDtls/AcctSvcrRef", own),
                ("NtryRef", entry.entry_ref),
            ]
        else:
            # In a batch the entry's references are shared: the transaction's own bank
            # reference comes first, and the shared ones are told apart by position.
            ordered = [
                ("TxDtls/AcctSvcrRef", own),
                ("AcctSvcrRef", _suffixed(entry.account_servicer_ref, tx_no)),
                ("NtryRef", _suffixed(entry.entry_ref, tx_no)),
            ]
        ordered += [("EndToEndId", _end_to_end_id(tx)), ("TxId", _text(tx, "Refs/TxId"))]
        for source, reference in ordered:
            if reference:
                return source, reference
        return "position", self._position(tx_no)

    def _position(self, tx_no: int | None) -> str:
        parts = [self._statement.statement_id, str(self.entries_in_statement)]
        return "/".join(parts if tx_no is None else [*parts, str(tx_no)])

    def _unique(self, lines: list[BankLine]) -> list[BankLine]:
        """Refuses a repeated bank reference; a repeated payer reference gives way to position."""
        # Lines of a refused entry must not shadow later entries: record them only at the end.
        fresh: dict[tuple[str, str], int] = {}
        unique = []
        for line in lines:
            kept = self._unique_line(line, fresh)
            fresh[(kept.reference_source, kept.bank_reference)] = self.entry_no
            unique.append(kept)
        self.seen.update(fresh)
        return unique

    def _unique_line(self, line: BankLine, fresh: dict[tuple[str, str], int]) -> BankLine:
        key = (line.reference_source, line.bank_reference)
        first = self.seen.get(key) or fresh.get(key)
        if first is None:
            return line
        if line.reference_source in BANK_ASSIGNED:
            raise _duplicate(line, first)
        return dataclasses.replace(
            line, reference_source="position", bank_reference=self._position(line.tx_no)
        )


def _suffixed(reference: str | None, tx_no: int) -> str | None:
    return f"{reference}/{tx_no}" if reference else None


def _localise(elem: ET.Element) -> ET.Element:
    """Local names for ``elem`` and everything under it: lookups then ignore the namespace,
    and with it the version (camt.053.001.02 and .08 differ only there, for what we read).
    """
    for node in elem.iter():
        if node.tag[:1] == "{":
            node.tag = node.tag.rpartition("}")[2]
    return elem


def _check_root(local: str, namespace: str) -> None:
    # camt.052 (account report) and camt.054 (notification) look alike but are not statements.
    if local != "Document" or ("camt." in namespace and "camt.053." not in namespace):
        _refuse(namespace or local)


def _refuse(found: str) -> None:
    raise IntakeError(
        _(
            "The file is not an ISO 20022 camt.053 bank statement (it holds “%(found)s”). "
            "Export the account statement from the bank as camt.053."
        )
        % {"found": found}
    )


def _duplicate(line: BankLine, first: int) -> _Problem:
    element = "Ntry/AcctSvcrRef"
    if line.reference_source == "TxDtls/AcctSvcrRef":
        element = f"Ntry/NtryDtls/TxDtls[{line.tx_no or 1}]/Refs/AcctSvcrRef"
    return _Problem(
        element,
        _(
            "the bank reference “%(value)s” was already used by entry %(first)s of this "
            "statement; ask the bank whether it is the same transaction."
        )
        % {"value": line.bank_reference, "first": first},
    )


def _check_batch_total(entry: _Entry, lines: list[BankLine]) -> None:
    sign = {entry.direction: 1, _opposite(entry.direction): -1}
    total = sum((sign[line.direction] * line.amount for line in lines), Decimal(0))
    if total != entry.amount:
        raise _Problem(
            "Ntry/NtryDtls",
            _(
                "its %(count)s transactions add up to %(sum)s %(currency)s, but the entry is "
                "for %(amount)s %(currency)s; ask the bank for a corrected statement."
            )
            % {
                "count": len(lines),
                "sum": total,
                "amount": entry.amount,
                "currency": entry.currency,
            },
        )


def _opposite(direction: Direction) -> Direction:
    return "DBIT" if direction == "CRDT" else "CRDT"


# --- Element values ------------------------------------------------------------------------


def _entry_values(ntry: ET.Element, tz: dt.tzinfo) -> _Entry:
    amount, currency = _amount(ntry, "Amt", "Ntry")
    value = _date_choice(ntry, "ValDt", "Ntry", tz)
    booking = _date_choice(ntry, "BookgDt", "Ntry", tz) or value
    if booking is None:
        raise _Problem(
            "Ntry/BookgDt",
            _("there is no booking date (BookgDt) and no value date (ValDt)."),
        )
    return _Entry(
        amount=amount,
        currency=currency,
        direction=_direction(ntry, "CdtDbtInd", "Ntry"),
        reversal=_boolean(ntry, "RvslInd", "Ntry"),
        status=_text(ntry, "Sts") or _text(ntry, "Sts/Cd") or _text(ntry, "Sts/Prtry"),
        booking_date=booking,
        value_date=value,
        account_servicer_ref=_text(ntry, "AcctSvcrRef"),
        entry_ref=_text(ntry, "NtryRef"),
        additional_info=_text(ntry, "AddtlNtryInf"),
    )


def _text(elem: ET.Element | None, path: str) -> str | None:
    """The stripped text at ``path``; None when the element is missing or empty."""
    if elem is None:
        return None
    found = elem.findtext(path)
    if found is None:
        return None
    return found.strip() or None


def _join(parts: Iterable[str | None]) -> str | None:
    return " ".join(part for part in parts if part) or None


def _missing(element: str) -> _Problem:
    return _Problem(
        element, _("%(element)s is missing; the bank has to send it.") % {"element": element}
    )


def _amount(elem: ET.Element, path: str, where: str) -> tuple[Decimal, str]:
    element = f"{where}/{path}"
    node = elem.find(path)
    if node is None:
        raise _missing(element)
    value = (node.text or "").strip()
    if not _AMOUNT.fullmatch(value):
        raise _Problem(
            element,
            _(
                "“%(value)s” in %(element)s is not an amount; expected digits with a decimal "
                "point, such as 1234.56."
            )
            % {"value": value, "element": element},
        )
    currency = (node.get("Ccy") or "").strip()
    if currency not in MINOR_UNITS:
        raise _Problem(
            element,
            _("“%(value)s”, the currency (Ccy) of %(element)s, is not a currency code we know.")
            % {"value": currency, "element": element},
        )
    amount = Decimal(value)
    try:
        to_minor(amount, currency)
    except ValueError:
        raise _Problem(
            element,
            _("“%(value)s” in %(element)s has more decimal places than %(currency)s allows.")
            % {"value": value, "element": element, "currency": currency},
        ) from None
    return quantize(amount, currency), currency


def _tx_amount(tx: ET.Element, where: str) -> tuple[Decimal, str]:
    # .001.04 and later give TxDtls/Amt; .001.02 only AmtDtls/TxAmt/Amt.
    path = "Amt" if tx.find("Amt") is not None else "AmtDtls/TxAmt/Amt"
    return _amount(tx, path, where)


def _direction(
    elem: ET.Element, path: str, where: str, default: Direction | None = None
) -> Direction:
    value = _text(elem, path)
    if value is None and default is not None:
        return default
    if value is None:
        raise _missing(f"{where}/{path}")
    if value not in _DIRECTIONS:
        raise _Problem(
            f"{where}/{path}",
            _("“%(value)s” in %(element)s is neither CRDT (credit) nor DBIT (debit).")
            % {"value": value, "element": f"{where}/{path}"},
        )
    return _DIRECTIONS[value]


def _boolean(elem: ET.Element, path: str, where: str) -> bool:
    value = _text(elem, path)
    if value is None:
        return False
    if value.lower() not in _BOOLEANS:
        raise _Problem(
            f"{where}/{path}",
            _("“%(value)s” in %(element)s is neither true nor false.")
            % {"value": value, "element": f"{where}/{path}"},
        )
    return _BOOLEANS[value.lower()]


def _date_choice(elem: ET.Element, path: str, where: str, tz: dt.tzinfo) -> dt.date | None:
    """A DateAndDateTimeChoice (``Dt`` or ``DtTm``) as a business date; None if absent."""
    node = elem.find(path)
    if node is None:
        return None
    day = _text(node, "Dt")
    if day is not None:
        return _iso_date(day, f"{where}/{path}/Dt")
    moment = _text(node, "DtTm")
    if moment is not None:
        return _iso_datetime_date(moment, f"{where}/{path}/DtTm", tz)
    raise _missing(f"{where}/{path}/Dt")


def _iso_date(value: str, element: str) -> dt.date:
    match = _DATE.fullmatch(value)
    try:
        if match is None:
            raise ValueError(value)
        # An xs:date may carry a zone; the calendar day is what the bank booked on.
        return dt.date.fromisoformat(match.group(1))
    except ValueError:
        raise _Problem(
            element,
            _("“%(value)s” in %(element)s is not a date; expected a date such as 2025-03-01.")
            % {"value": value, "element": element},
        ) from None


def _iso_datetime_date(value: str, element: str, tz: dt.tzinfo) -> dt.date:
    try:
        moment = dt.datetime.fromisoformat(value)
    except ValueError:
        raise _Problem(
            element,
            _(
                "“%(value)s” in %(element)s is not a date and time; expected one such as "
                "2025-03-01T09:30:00+08:00."
            )
            % {"value": value, "element": element},
        ) from None
    # Without an offset the time is the bank's local time, already the business day.
    return moment.astimezone(tz).date() if moment.tzinfo else moment.date()


def _balance(bal: ET.Element, where: str, tz: dt.tzinfo) -> Balance:
    code = _text(bal, "Tp/CdOrPrtry/Cd") or _text(bal, "Tp/CdOrPrtry/Prtry") or ""
    amount, currency = _amount(bal, "Amt", where)
    direction = _direction(bal, "CdtDbtInd", where)
    return Balance(
        code=code,
        amount=amount if direction == "CRDT" else -amount,
        currency=currency,
        date=_date_choice(bal, "Dt", where, tz),
    )


def _payer_name(tx: ET.Element | None) -> str | None:
    # .001.08 wraps the party in Pty (Party40Choice); the ultimate debtor stands in when the
    # bank names only the party that paid on someone's behalf.
    for role in ("Dbtr", "UltmtDbtr"):
        name = _text(tx, f"RltdPties/{role}/Nm") or _text(tx, f"RltdPties/{role}/Pty/Nm")
        if name:
            return name
    return None


def _payer_account(tx: ET.Element | None) -> str | None:
    return _text(tx, "RltdPties/DbtrAcct/Id/IBAN") or _text(tx, "RltdPties/DbtrAcct/Id/Othr/Id")


def _end_to_end_id(tx: ET.Element | None) -> str | None:
    value = _text(tx, "Refs/EndToEndId")
    return None if value == _NOT_PROVIDED else value


def _remittance(tx: ET.Element | None) -> tuple[str | None, str | None]:
    """(all remittance text joined, the first structured creditor reference)."""
    if tx is None:
        return None, None

    def texts(path: str) -> list[str]:
        return [value for node in tx.iterfind(path) if (value := (node.text or "").strip())]

    references = texts("RmtInf/Strd/CdtrRefInf/Ref")
    parts = [
        *texts("RmtInf/Ustrd"),
        *references,
        *texts("RmtInf/Strd/RfrdDocInf/Nb"),
        *texts("RmtInf/Strd/AddtlRmtInf"),
    ]
    return _join(parts), references[0] if references else None
