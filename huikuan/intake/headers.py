"""Column headers: canonical field names, the words teams write for them, and where the header is.

Headers are matched after :func:`normalize_header`, so ``"合同编号："``, ``"Contract No."`` and
``"应收金额（元）"`` need no synonyms of their own. A header with a scaled unit (``"(万元)"``,
``"(千元)"``) is deliberately *not* matched: reading 万元 as 元 would be off by 10,000, and a
column left unmapped is reported, so the user renames it instead of importing wrong amounts.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable, Mapping, Sequence
from typing import NamedTuple

from huikuan.intake.messages import gettext_noop

LEDGER_SYNONYMS: dict[str, tuple[str, ...]] = {
    "debtor_name": (
        "客户名称", "客户姓名", "客户", "债务人", "债务人名称", "债务人姓名", "借款人",
        "借款人姓名", "借款人名称", "欠款人", "欠款单位", "姓名", "名称", "单位名称",
        "公司名称", "企业名称", "购货单位",
        "customer name", "customer", "debtor", "debtor name", "borrower", "borrower name",
        "name", "client", "client name", "company name",
    ),
    "id_number": (
        "证件号码", "证件号", "证件编号", "身份证号", "身份证号码", "身份证", "统一社会信用代码",
        "社会信用代码", "信用代码", "纳税人识别号",
        "id no", "id number", "id", "id card no", "national id", "identity number",
        "credit code", "uscc", "unified social credit code",
    ),
    "debtor_kind": (
        "客户类型", "客户类别", "债务人类型", "主体类型", "客户性质",
        "debtor type", "debtor kind", "customer type", "entity type",
    ),
    "contract_no": (
        "合同编号", "合同号", "合同", "借据号", "借据编号", "借款合同编号", "贷款合同号",
        "contract no", "contract number", "contract", "loan no", "loan number", "loan id",
        "account no", "account number", "agreement no",
    ),
    "product": (
        "产品", "产品类型", "产品名称", "业务类型", "业务品种", "贷款品种",
        "product", "product type", "business type",
    ),
    "currency": ("币种", "币别", "货币", "currency", "ccy", "currency code"),
    "principal": (
        "合同金额", "贷款金额", "借款金额", "放款金额", "授信金额", "贷款本金", "合同本金",
        "loan amount", "contract amount", "original principal", "principal amount",
    ),
    "open_date": (
        "放款日", "放款日期", "合同日期", "开户日期", "开户日", "签约日期", "借款日期",
        "起始日", "起始日期", "贷款发放日",
        "open date", "loan date", "contract date", "disbursement date", "start date",
    ),
    "item_no": (
        "期数", "期次", "期号", "当前期数", "分期号", "发票号", "发票号码",
        "installment no", "installment", "instalment no", "instalment", "period",
        "invoice no", "invoice number", "invoice", "item no",
    ),
    "due_date": (
        "到期日", "到期日期", "应收日期", "还款日", "应还日期", "应还款日", "最后还款日",
        "due date", "due", "maturity date", "payment due date", "due on",
    ),
    "principal_due": (
        "本金", "应还本金", "应收本金", "逾期本金", "principal", "principal due",
    ),
    "interest_due": ("利息", "应还利息", "应收利息", "逾期利息", "interest", "interest due"),
    "fee_due": (
        "费用", "应还费用", "罚息", "滞纳金", "违约金", "手续费",
        "fee", "fees", "fee due", "penalty", "late fee",
    ),
    "amount_due": (
        "应收金额", "欠款金额", "应还金额", "应还总额", "应收总额", "欠款总额", "应还款额",
        "应还款金额", "逾期金额", "欠款", "金额",
        "amount due", "amount", "total due", "balance due", "due amount",
    ),
    "paid_amount": (
        "已还金额", "已还款", "已还款金额", "已还", "实还金额", "已收金额", "回款金额",
        "paid", "amount paid", "paid amount", "repaid",
    ),
    "principal_paid": ("已还本金", "principal paid"),
    "interest_paid": ("已还利息", "interest paid"),
    "fee_paid": ("已还费用", "fee paid", "fees paid"),
    "phone": (
        "联系电话", "手机号", "手机号码", "电话", "手机", "电话号码", "联系方式", "本人电话",
        "客户电话", "phone", "mobile", "telephone", "tel", "phone number", "mobile phone",
    ),
    "address": (
        "地址", "住址", "联系地址", "家庭地址", "居住地址", "户籍地址", "通讯地址", "单位地址",
        "注册地址", "address", "home address", "mailing address",
    ),
    "email": ("邮箱", "电子邮箱", "电子邮件", "email", "mail", "email address"),
    "guarantor_name": (
        "担保人", "担保人姓名", "担保人名称", "保证人", "保证人姓名", "guarantor",
        "guarantor name",
    ),
    "guarantor_phone": (
        "担保人电话", "担保人手机", "担保人联系电话", "保证人电话", "guarantor phone",
        "guarantor mobile",
    ),
    "region": (
        "地区", "区域", "所属地区", "行政区划", "地区代码", "区划代码", "region", "region code",
    ),
}  # fmt: skip

STATEMENT_SYNONYMS: dict[str, tuple[str, ...]] = {
    "booking_date": (
        "交易日期", "记账日期", "入账日期", "到账日期", "交易时间", "日期", "交易日", "记账日",
        "入账日", "账务日期",
        "booking date", "transaction date", "posting date", "trans date", "date",
    ),
    "value_date": ("起息日", "起息日期", "value date"),
    "amount": ("金额", "交易金额", "发生额", "入账金额", "amount", "transaction amount"),
    "credit_amount": (
        "收入金额", "收入", "贷方金额", "贷方发生额", "收款金额",
        "credit", "credit amount", "deposit", "deposits",
    ),
    "debit_amount": (
        "支出金额", "支出", "借方金额", "借方发生额", "付款金额",
        "debit", "debit amount", "withdrawal", "withdrawals",
    ),
    "currency": ("币种", "币别", "货币", "currency", "ccy"),
    "payer_name": (
        "对方户名", "对方名称", "对方单位", "付款人", "付款人名称", "付款方", "汇款人",
        "对方账户名称", "对方账户名", "付款人户名", "付款单位", "汇款人名称",
        "payer", "payer name", "counterparty", "counterparty name", "remitter",
    ),
    "payer_account": (
        "对方账号", "对方账户", "付款人账号", "付款账号", "payer account", "counterparty account",
    ),
    "reference": (
        "附言", "用途", "汇款附言", "付款用途", "交易附言", "汇款用途",
        "reference", "payment reference",
    ),
    "remittance_text": (
        "摘要", "交易摘要", "备注", "说明", "交易说明",
        "description", "narrative", "remarks", "memo", "details",
    ),
    "bank_reference": (
        "流水号", "交易流水号", "银行流水号", "凭证号", "交易参考号", "业务流水号",
        "bank reference", "transaction id", "transaction reference", "ref no",
    ),
    "direction": (
        "借贷标志", "借贷方向", "收支", "收支方向", "交易方向", "借/贷", "借贷", "收/支",
        "收支标志",
        "direction", "dr/cr", "debit/credit",
    ),
    "balance": ("余额", "账户余额", "balance"),
}  # fmt: skip

# Headers real sheets carry that we read past: they count as "looks like a header row".
KNOWN_IGNORED = ("序号", "备注", "no", "remarks", "remark", "notes", "sn")

# Several columns may feed one of these, and are added up (罚息 + 滞纳金 are both fees).
SUMMABLE = frozenset({"fee_due"})

# The English names of fields, for "the file has no column for …" messages (translated late).
LABELS: dict[str, str] = {
    "debtor_name": gettext_noop("debtor name"),
    "id_number": gettext_noop("ID number"),
    "contract_no": gettext_noop("contract number"),
    "due_date": gettext_noop("due date"),
    "amount_due": gettext_noop("amount due"),
    "booking_date": gettext_noop("booking date"),
    "amount": gettext_noop("amount"),
}

LEDGER_REQUIRED = ("debtor_name", "id_number", "contract_no", "due_date")
LEDGER_AMOUNTS = ("amount_due", "principal_due", "interest_due", "fee_due")
STATEMENT_REQUIRED = ("booking_date",)
STATEMENT_AMOUNTS = ("amount", "credit_amount", "debit_amount")

SCHEMAS: dict[str, Mapping[str, tuple[str, ...]]] = {
    "ledger": LEDGER_SYNONYMS,
    "statement": STATEMENT_SYNONYMS,
}

HEADER_SEARCH_ROWS = 20

_STRIP = re.compile(r"[\s_\-.:*#]+")
_PAREN_TAIL = re.compile(r"[(\[【]([^()\[\]【】]*)[)\]】]$")
_SCALED = re.compile(r"[万千百亿]|thousand|million|'000|k$")


def normalize_header(text: object) -> str:
    """``" 应收金额（元）："`` → ``"应收金额"``; ``"Contract No."`` → ``"contractno"``."""
    if text is None:
        return ""
    # NFKC makes full-width letters, digits, brackets and the ideographic space half-width.
    value = _STRIP.sub("", unicodedata.normalize("NFKC", str(text)).lower())
    while (tail := _PAREN_TAIL.search(value)) and not _SCALED.search(tail.group(1)):
        value = value[: tail.start()]
    return value


def _lookup(synonyms: Mapping[str, tuple[str, ...]]) -> dict[str, str]:
    table: dict[str, str] = {}
    for field, words in synonyms.items():
        for word in words:
            key = normalize_header(word)
            if table.setdefault(key, field) != field:
                raise ValueError(f"header {word!r} would mean both {table[key]} and {field}")
    # Our own field names read back (a re-imported export), unless a synonym says otherwise:
    # an English "Principal" column is the principal due, not the account's loan amount.
    for field in synonyms:
        table.setdefault(normalize_header(field), field)
    return table


_LOOKUPS = {name: _lookup(synonyms) for name, synonyms in SCHEMAS.items()}
_IGNORED = frozenset(normalize_header(word) for word in KNOWN_IGNORED)


class Guess(NamedTuple):
    """``mapping``: column index → field; ``unmapped``: indexes of non-empty headers left out."""

    mapping: dict[int, str]
    unmapped: list[int]


def field_for(header: object, schema: str = "ledger") -> str | None:
    return _LOOKUPS[schema].get(normalize_header(header))


def guess_mapping(header_cells: Sequence[object], schema: str = "ledger") -> Guess:
    """Map header cells to fields; the first column wins when two mean the same field.

    A second column for a field in :data:`SUMMABLE` is mapped too (its values are added).
    """
    mapping: dict[int, str] = {}
    unmapped: list[int] = []
    for index, cell in enumerate(header_cells):
        field = field_for(cell, schema)
        if field is not None and (field in SUMMABLE or field not in mapping.values()):
            mapping[index] = field
        elif normalize_header(cell):
            unmapped.append(index)
    return Guess(mapping, unmapped)


def header_score(cells: Iterable[object], schema: str = "ledger") -> int:
    """How many cells read as known headers; a title row scores 0 or 1."""
    lookup = _LOOKUPS[schema]
    keys = [normalize_header(cell) for cell in cells]
    return sum(1 for key in keys if key and (key in lookup or key in _IGNORED))


def find_header_row(rows: Sequence[Sequence[object]], schema: str = "ledger") -> int | None:
    """Index of the header among the first rows: the first with 3 known headers, else the best
    row with 2 (a narrow file), else ``None``. Title rows (merged cells) above it are skipped."""
    scores = [header_score(row, schema) for row in rows[:HEADER_SEARCH_ROWS]]
    for index, score in enumerate(scores):
        if score >= 3:
            return index
    best = max(scores, default=0)
    return scores.index(best) if best >= 2 else None


def missing_fields(mapping: Mapping[int, str], schema: str = "ledger") -> list[str]:
    """Required fields with no column; an amount counts when any amount column is there."""
    required, amounts = (
        (LEDGER_REQUIRED, LEDGER_AMOUNTS)
        if schema == "ledger"
        else (STATEMENT_REQUIRED, STATEMENT_AMOUNTS)
    )
    present = set(mapping.values())
    missing = [field for field in required if field not in present]
    if not present.intersection(amounts):
        missing.append(amounts[0])
    return missing


# Matched against the first non-empty cell after NFKC, lower case and without whitespace
# (Chinese sheets write 合　计 with an ideographic space to line it up).
TOTALS_PATTERN = (
    r"^(?:本页|本期|本月|全部|累计)?(?:合计|总计|小计|共计|汇总)"
    r"|^(?:grand|sub)?totals?(?:[^a-z]|$)|^sum(?:[^a-z]|$)"
)
_TOTALS = re.compile(TOTALS_PATTERN)


def is_totals_label(text: object) -> bool:
    if text is None:
        return False
    value = re.sub(r"\s+", "", unicodedata.normalize("NFKC", str(text)).lower())
    return bool(_TOTALS.search(value))
