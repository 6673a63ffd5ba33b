"""XLSX exports of the ledger and the aging summary, as the user sees them on screen.

Which accounts, in which order, and which figures: all of that comes from ``ledger.selectors``
(``ledger_accounts`` and ``aging_summary``), so an export can never show more than the page
it was started from. ID numbers, phones, emails and addresses are masked with the same
functions the pages use unless the user may see them (``can_see_pii``), and every export
leaves an audit event saying what was exported, how many rows, and whether PII was unmasked.

Workbooks are written by openpyxl in write-only mode: rows are streamed to a temporary file
as they are read, so memory stays flat whatever the size. Accounts are read with
``values_list`` in chunks, with one query per chunk for overdue amounts and one for contacts,
never a query per row.

The ledger's headers are words the ledger import recognises (``intake.headers``) wherever the
import has a field for the column, so an exported file can be imported again: the amounts due
are the balances still open (principal, interest, fee), the due date is the oldest unpaid one.
"""

from __future__ import annotations

import datetime as dt
import itertools
import os
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import asdict, dataclass
from decimal import Decimal
from typing import IO, Any

from django.core.exceptions import ValidationError
from django.db.models import F, QuerySet, Sum
from django.utils.functional import Promise
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from openpyxl import Workbook
from openpyxl.cell import Cell
from openpyxl.cell.cell import ILLEGAL_CHARACTERS_RE
from openpyxl.styles import Alignment, Border, Font, PatternFill, Side
from openpyxl.utils import get_column_letter

from huikuan.audit.services import audit_record
from huikuan.iam.domain import format_phone, mask_address, mask_email, mask_id_number, mask_phone
from huikuan.iam.selectors import can_see_pii
from huikuan.ledger import domain, selectors
from huikuan.ledger.models import Account, Contact, Debtor, Portfolio, ReceivableItem

# An XLSX sheet holds 1,048,576 rows, the header row included.
MAX_ROWS = 1_048_576
# Accounts read per round trip; each chunk adds one query for overdue amounts and one for
# contacts. 2,000 ids keep every ``IN (...)`` list far below SQLite's parameter limit.
CHUNK = 2_000

MONEY_FORMAT = "#,##0.00"
DATE_FORMAT = "yyyy-mm-dd"
SHARE_FORMAT = "0.0%"
CONTENT_TYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"

Target = str | os.PathLike[str] | IO[bytes]


class ExportTooLarge(ValidationError):
    """More rows than an XLSX sheet holds; the user is asked to narrow the filter."""

    def __init__(self, rows: int) -> None:
        super().__init__(
            _(
                "%(rows)s rows are too many for one Excel sheet, which holds at most %(max)s "
                "below its header. Narrow the filter and export again."
            )
            % {"rows": f"{rows:,}", "max": f"{MAX_ROWS - 1:,}"},
            code="export_too_large",
        )


@dataclass(frozen=True)
class ExportResult:
    rows: int  # data rows written (accounts, or portfolios for the aging report)
    pii: bool  # whether ID numbers, phones, emails and addresses left unmasked
    filename: str  # in the user's language: 催收台账-2026-11-23.xlsx
    ascii_filename: str  # for clients that cannot read RFC 5987 names: ledger-2026-11-23.xlsx


# --- sheets ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class Column:
    header: str | Promise
    width: float


class _Sheet:
    """One write-only sheet with the styles its cells share, made once."""

    def __init__(self, workbook: Any, title: str, widths: Sequence[float]) -> None:
        # Sheet titles: at most 31 characters, none of []:*?/\ (translations included).
        self.ws = workbook.create_sheet(title[:31].translate(str.maketrans("[]:*?/\\", "_______")))
        # Widths and panes go to the top of the sheet's XML: set them before the first row.
        for index, width in enumerate(widths, 1):
            self.ws.column_dimensions[get_column_letter(index)].width = width
        self.columns = len(widths)
        self._styles = {
            "money": self._style(number_format=MONEY_FORMAT),
            "date": self._style(number_format=DATE_FORMAT),
            "share": self._style(number_format=SHARE_FORMAT),
            "header": self._style(
                font=Font(bold=True),
                fill=PatternFill("solid", fgColor="E8EDF3"),
                border=Border(bottom=Side(style="thin", color="9AA5B1")),
                alignment=Alignment(vertical="center", wrap_text=True),
            ),
            "bold": self._style(font=Font(bold=True)),
            "bold_money": self._style(font=Font(bold=True), number_format=MONEY_FORMAT),
            "bold_share": self._style(font=Font(bold=True), number_format=SHARE_FORMAT),
        }

    def _style(self, **attributes: Any) -> Any:
        cell = Cell(self.ws, row=1, column=1)
        for name, value in attributes.items():
            setattr(cell, name, value)
        return cell._style

    def cell(self, value: Any, style: str) -> Any:
        """A styled cell; the style array is copied from the one made in ``__init__``."""
        if value is None:
            return None
        return Cell(self.ws, row=1, column=1, value=value, style_array=self._styles[style])

    def money(self, value: Decimal | None) -> Any:
        return self.cell(value, "money")

    def date(self, value: dt.date | None) -> Any:
        return self.cell(value, "date")

    def text(self, value: str | None) -> Any:
        """Text from the ledger (names, addresses...), written as text whatever it holds.

        openpyxl makes a formula of any string that starts with "=": a debtor imported as
        "=HYPERLINK(...)" must not become a live formula in someone's Excel. Control
        characters, which XLSX cannot hold, are dropped rather than failing the export.
        """
        if not value:
            return None
        if ILLEGAL_CHARACTERS_RE.search(value):
            value = ILLEGAL_CHARACTERS_RE.sub("", value)
        if not value.startswith("="):
            return value
        cell = Cell(self.ws, row=1, column=1, value=value)
        cell.data_type = "s"
        return cell

    def append(self, values: Iterable[Any]) -> None:
        self.ws.append(list(values))

    def header(self, labels: Iterable[Any], style: str = "header") -> None:
        self.append(self.cell(str(label), style) if label is not None else None for label in labels)

    def last_column(self) -> str:
        return get_column_letter(self.columns)


def _filename(title: str, ascii_stem: str, as_of: dt.date) -> tuple[str, str]:
    day = as_of.isoformat()
    return f"{title}-{day}.xlsx", f"{ascii_stem}-{day}.xlsx"


def _check_size(data_rows: int, header_rows: int = 1) -> None:
    if data_rows + header_rows > MAX_ROWS:
        raise ExportTooLarge(data_rows)


# --- the ledger -----------------------------------------------------------------------------

# Headers are the import's words (intake.headers.LEDGER_SYNONYMS) where the import has the
# field: in Chinese they must translate to one of its synonyms too (合同编号, 债务人, 客户类型,
# 证件号码, 产品, 币种, 合同金额, 合同日期, 应还金额, 应还本金, 应还利息, 应还费用, 到期日,
# 电话, 邮箱, 地址). Columns the import has no field for are left unmapped when read back.
LEDGER_COLUMNS = (
    Column(gettext_lazy("Contract no."), 20),  # contract_no
    Column(gettext_lazy("Debtor"), 22),  # debtor_name
    Column(gettext_lazy("Debtor type"), 10),  # debtor_kind
    Column(gettext_lazy("ID number"), 21),  # id_number
    Column(gettext_lazy("Creditor"), 22),
    Column(gettext_lazy("Portfolio"), 20),
    Column(gettext_lazy("Product"), 12),  # product
    Column(gettext_lazy("Currency"), 8),  # currency
    Column(gettext_lazy("Contract amount"), 15),  # principal
    Column(gettext_lazy("Contract date"), 12),  # open_date
    # What is still owed, whole and by component: the import's amounts due.
    Column(gettext_lazy("Amount due"), 15),  # amount_due
    Column(gettext_lazy("Principal due"), 15),  # principal_due
    Column(gettext_lazy("Interest due"), 13),  # interest_due
    Column(gettext_lazy("Fee due"), 12),  # fee_due
    # After "Amount due": in Chinese 逾期金额 is also an import word for the amount due, and
    # the import takes the first such column.
    Column(gettext_lazy("Overdue"), 15),
    Column(gettext_lazy("Due date"), 12),  # due_date: the oldest unpaid due date
    Column(gettext_lazy("DPD"), 8),
    Column(gettext_lazy("Bucket"), 14),
    Column(gettext_lazy("Status"), 12),
    Column(gettext_lazy("Collector"), 12),
    Column(gettext_lazy("Team"), 14),
    Column(gettext_lazy("Phone"), 15),  # phone
    Column(gettext_lazy("Email"), 24),  # email
    Column(gettext_lazy("Address"), 36),  # address
)

_ACCOUNT_FIELDS = (
    "pk",
    "contract_no",
    "debtor_id",
    "debtor__name",
    "debtor__kind",
    "debtor__id_number",
    "creditor__name",
    "portfolio_id",
    "portfolio__name",
    "product",
    "currency",
    "principal",
    "open_date",
    "outstanding",
    "principal_outstanding",
    "interest_outstanding",
    "fee_outstanding",
    "oldest_unpaid_due",
    "status",
    "collector__username",
    "collector__first_name",
    "collector__last_name",
    "team__name",
)
_PK, _DEBTOR, _OLDEST = (_ACCOUNT_FIELDS.index(f) for f in ("pk", "debtor_id", "oldest_unpaid_due"))


def ledger_export(
    target: Target,
    *,
    actor: Any,
    flt: selectors.LedgerFilter,
    as_of: dt.date,
    via: str = "web",
    progress: Callable[[int, int], None] | None = None,
) -> ExportResult:
    """Write the accounts of the ledger list for ``flt`` (scope, filter, order) to ``target``.

    ``as_of`` is the date DPD, overdue amounts and buckets are counted to, as on the list.
    Raises :class:`ExportTooLarge` before writing anything when the rows would not fit.
    ``progress(rows written, rows in all)`` is called every few thousand rows.
    """
    accounts = selectors.ledger_accounts(actor, flt, as_of=as_of)
    total = accounts.count()
    _check_size(total)
    pii = can_see_pii(actor)
    workbook = Workbook(write_only=True)
    sheet = _Sheet(workbook, _("Collection ledger"), [c.width for c in LEDGER_COLUMNS])
    sheet.ws.freeze_panes = "C2"  # the header and who the row is about stay in view
    sheet.header(c.header for c in LEDGER_COLUMNS)
    rows = 0
    for values in _ledger_rows(accounts, sheet, as_of=as_of, pii=pii):
        rows += 1
        # Accounts may have been added since the count.
        _check_size(rows)
        sheet.append(values)
        if progress is not None and rows % CHUNK == 0:
            progress(rows, total)
    sheet.ws.auto_filter.ref = f"A1:{sheet.last_column()}{rows + 1}"
    workbook.save(target)
    audit_record(
        actor=actor,
        action="export.ledger",
        object_type=Portfolio._meta.label_lower,
        object_id=str(flt.portfolio or ""),
        changes={
            "format": "xlsx",
            "via": via,
            "filter": {k: v for k, v in asdict(flt).items() if v not in (None, "")},
            "as_of": as_of,
            "rows": rows,
            "pii_unmasked": pii,
        },
    )
    name, fallback = _filename(_("Collection ledger"), "ledger", as_of)
    return ExportResult(rows=rows, pii=pii, filename=name, ascii_filename=fallback)


def _ledger_rows(
    accounts: QuerySet[Account], sheet: _Sheet, *, as_of: dt.date, pii: bool
) -> Iterator[list[Any]]:
    kinds = {value: str(label) for value, label in Debtor.Kind.choices}
    products = {value: str(label) for value, label in Account.Product.choices}
    statuses = {value: str(label) for value, label in domain.AccountStatus.choices}
    bucket_lists = {
        p.pk: domain.buckets(p.bucket_bounds) for p in Portfolio.objects.only("pk", "bucket_bounds")
    }
    labels: dict[tuple[int, int], str] = {}
    money, date, text = sheet.money, sheet.date, sheet.text
    cursor = accounts.values_list(*_ACCOUNT_FIELDS).iterator(chunk_size=CHUNK)
    while chunk := list(itertools.islice(cursor, CHUNK)):
        overdue = _overdue(chunk, as_of)
        contacts = _contacts({row[_DEBTOR] for row in chunk}, pii=pii)
        for (
            pk,
            contract_no,
            debtor_id,
            name,
            kind,
            id_number,
            creditor,
            portfolio_id,
            portfolio,
            product,
            currency,
            principal,
            open_date,
            outstanding,
            principal_left,
            interest_left,
            fee_left,
            oldest,
            status,
            username,
            first_name,
            last_name,
            team,
        ) in chunk:
            days = domain.dpd_from(oldest, as_of)
            bucket = _bucket(bucket_lists[portfolio_id], days)
            label = labels.get((portfolio_id, bucket.index))
            if label is None:
                label = labels[(portfolio_id, bucket.index)] = bucket.label
            phone, email, address = contacts.get(debtor_id, (None, None, None))
            yield [
                text(contract_no),
                text(name),
                kinds.get(kind, kind),
                text(id_number if pii else mask_id_number(id_number)),
                text(creditor),
                text(portfolio),
                products.get(product, product),
                currency,
                money(principal),
                date(open_date),
                money(outstanding),
                money(principal_left),
                money(interest_left),
                money(fee_left),
                money(overdue.get(pk, _ZERO)),
                date(oldest),
                days,
                label,
                statuses.get(status, status),
                # As the list shows a collector: the full name, else the user name.
                text(f"{first_name or ''} {last_name or ''}".strip() or username),
                text(team),
                text(phone),
                text(email),
                text(address),
            ]


_ZERO = Decimal("0.00")


def _bucket(buckets: Sequence[domain.Bucket], days: int) -> domain.Bucket:
    for bucket in buckets:
        if bucket.high is None or days <= bucket.high:
            return bucket
    return buckets[-1]


def _overdue(chunk: Sequence[tuple[Any, ...]], as_of: dt.date) -> dict[int, Decimal]:
    """Per account, what fell due before ``as_of`` and is unpaid (``domain.overdue_amount``).

    Only accounts whose oldest unpaid due date is before ``as_of`` owe anything overdue.
    """
    late = [row[_PK] for row in chunk if row[_OLDEST] is not None and row[_OLDEST] < as_of]
    if not late:
        return {}
    unpaid = (
        F("principal_due")
        + F("interest_due")
        + F("fee_due")
        - F("principal_paid")
        - F("interest_paid")
        - F("fee_paid")
    )
    sums = (
        ReceivableItem.objects.filter(account_id__in=late, due_date__lt=as_of)
        .order_by()
        .values("account_id")
        .annotate(overdue=Sum(unpaid))
        .values_list("account_id", "overdue")
    )
    return {pk: Decimal(value).quantize(_ZERO) for pk, value in sums if value is not None}


def _contacts(
    debtor_ids: Iterable[int], *, pii: bool
) -> dict[int, tuple[str | None, str | None, str | None]]:
    """The debtor's own phone, email and address, shown as the account page shows them.

    A debtor may have several contacts of its own (an import adds one per new phone): each
    value comes from the first that has it, verified ones first, then the oldest.
    """
    found: dict[int, list[str | None]] = {}
    rows = (
        Contact.objects.filter(debtor_id__in=list(debtor_ids), relation=Contact.Relation.SELF)
        .order_by("debtor_id", "-verified", "pk")
        .values_list("debtor_id", "phone", "email", "address")
    )
    for debtor_id, phone, email, address in rows:
        values = found.setdefault(debtor_id, [None, None, None])
        for index, value in enumerate((phone, email, address)):
            if values[index] is None and value:
                values[index] = value
    shown: dict[int, tuple[str | None, str | None, str | None]] = {}
    for debtor_id, (own_phone, own_email, own_address) in found.items():
        shown[debtor_id] = (
            (format_phone(own_phone) if pii else mask_phone(own_phone)) if own_phone else None,
            (own_email if pii else mask_email(own_email)) if own_email else None,
            (own_address if pii else mask_address(own_address)) if own_address else None,
        )
    return shown


# --- the aging summary ----------------------------------------------------------------------


def aging_export(
    target: Target,
    *,
    actor: Any,
    as_of: dt.date,
    portfolio: int | None = None,
    via: str = "web",
) -> ExportResult:
    """The aging summary of ``aging_summary``: a row per portfolio, the buckets as columns
    (accounts, amount, share of each), the portfolio's total, and a totals row per currency."""
    summary = selectors.aging_summary(actor, as_of=as_of, portfolio=portfolio)
    table = _aging_table(summary)
    widths = [22, 8] + [11, 16, 8] * (len(table.buckets) + 1)
    workbook = Workbook(write_only=True)
    sheet = _Sheet(workbook, _("Aging summary"), widths)
    sheet.ws.freeze_panes = "C5"
    sheet.append([sheet.cell(_("As of"), "bold"), sheet.date(as_of)])
    sheet.append([])
    # Two header rows: the bucket over its three columns, then what each column holds.
    groups = [*(b.label for b in table.buckets), _("Total")]
    sheet.header(
        [_("Portfolio"), _("Currency"), *(g for label in groups for g in (label, None, None))]
    )
    sheet.header([None, None, *[_("Accounts"), _("Amount"), _("Share")] * len(groups)])
    codes = [b.code for b in table.buckets]
    for line in table.lines:
        sheet.append(_aging_cells(sheet, line, codes, bold=False))
    for line in table.totals:
        sheet.append(_aging_cells(sheet, line, codes, bold=True))
    workbook.save(target)
    audit_record(
        actor=actor,
        action="export.aging",
        object_type=Portfolio._meta.label_lower,
        object_id=str(portfolio or ""),
        changes={
            "format": "xlsx",
            "via": via,
            "filter": {"portfolio": portfolio} if portfolio else {},
            "as_of": as_of,
            "rows": len(table.lines),
            "pii_unmasked": False,
        },
    )
    name, fallback = _filename(_("Aging summary"), "aging", as_of)
    return ExportResult(rows=len(table.lines), pii=False, filename=name, ascii_filename=fallback)


@dataclass
class _AgingLine:
    name: str
    currency: str
    cells: dict[str, tuple[int, Decimal]]  # bucket code → (accounts, amount)
    count: int = 0
    amount: Decimal = _ZERO


@dataclass
class _AgingTable:
    buckets: list[domain.Bucket]
    lines: list[_AgingLine]
    totals: list[_AgingLine]


def _aging_table(summary: Iterable[selectors.AgingRow]) -> _AgingTable:
    buckets: dict[str, domain.Bucket] = {}
    lines: dict[int, _AgingLine] = {}
    for row in summary:
        buckets.setdefault(row.bucket.code, row.bucket)
        line = lines.setdefault(row.portfolio_id, _AgingLine(row.portfolio, row.currency, {}))
        line.cells[row.bucket.code] = (row.count, row.amount)
        line.count += row.count
        line.amount += row.amount
    # Amounts in different currencies are never added up: one totals row per currency.
    totals: dict[str, _AgingLine] = {}
    for line in lines.values():
        total = totals.setdefault(line.currency, _AgingLine(_("Total"), line.currency, {}))
        for code, (count, amount) in line.cells.items():
            old_count, old_amount = total.cells.get(code, (0, _ZERO))
            total.cells[code] = (old_count + count, old_amount + amount)
        total.count += line.count
        total.amount += line.amount
    order = sorted(buckets.values(), key=lambda b: (b.low, b.high if b.high is not None else 1e18))
    return _AgingTable(order, list(lines.values()), list(totals.values()))


def _aging_cells(sheet: _Sheet, line: _AgingLine, codes: list[str], *, bold: bool) -> list[Any]:
    def plain(value: Any) -> Any:
        return sheet.cell(value, "bold") if bold else value

    money, share = ("bold_money", "bold_share") if bold else ("money", "share")
    # A totals line is named by us ("Total"); a portfolio by whoever created it.
    name = plain(line.name) if bold else sheet.text(line.name)
    cells: list[Any] = [name, plain(line.currency)]
    for code in codes:
        if code not in line.cells:
            cells += [None, None, None]  # the portfolio has no such bucket
            continue
        count, amount = line.cells[code]
        part = _share(amount, line.amount)
        cells += [plain(count), sheet.cell(amount, money), sheet.cell(part, share)]
    # The page shows 100 % for a total, or a dash when there is nothing to share out.
    whole = _share(line.amount, line.amount) if line.amount > 0 else None
    cells += [plain(line.count), sheet.cell(line.amount, money), sheet.cell(whole, share)]
    return cells


def _share(part: Decimal, whole: Decimal) -> Decimal:
    """As the page rounds it (to 0.1 %), as a fraction for a percent format."""
    if whole <= 0:
        return Decimal("0.000")
    return (part * 100 / whole).quantize(Decimal("0.1")) / 100
