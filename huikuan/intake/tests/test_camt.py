"""camt.053 statements: the hand-written fixtures of a Chinese bank, malformed files, streaming."""

from __future__ import annotations

import datetime as dt
import io
import tracemalloc
from decimal import Decimal
from pathlib import Path

import pytest
from django.utils import translation

from huikuan.intake.camt import (
    BankLine,
    Statement,
    iter_camt053,
    lines_frame,
    parse_camt053,
)
from huikuan.intake.errors import IntakeError

FIXTURES = Path(__file__).parent / "fixtures"
D = Decimal


@pytest.fixture(autouse=True)
def _english():
    # These tests match message words; translations are the catalogs' business.
    with translation.override("en"):
        yield


def _statement(entries: str, *, version: str = "02", account: str | None = None) -> bytes:
    account = account or "<Othr><Id>410023456789001</Id></Othr>"
    return (
        '<?xml version="1.0" encoding="UTF-8"?>'
        f'<Document xmlns="urn:iso:std:iso:20022:tech:xsd:camt.053.001.{version}">'
        "<BkToCstmrStmt><GrpHdr><MsgId>M1</MsgId></GrpHdr>"
        f"<Stmt><Id>S1</Id><Acct><Id>{account}</Id></Acct>{entries}</Stmt>"
        "</BkToCstmrStmt></Document>"
    ).encode()


def _ntry(
    *,
    amount: str = '<Amt Ccy="CNY">10.00</Amt>',
    direction: str = "<CdtDbtInd>CRDT</CdtDbtInd>",
    dates: str = "<BookgDt><Dt>2024-03-05</Dt></BookgDt>",
    refs: str = "<AcctSvcrRef>R1</AcctSvcrRef>",
    details: str = "",
    extra: str = "",
) -> str:
    return f"<Ntry>{amount}{direction}{extra}<Sts>BOOK</Sts>{dates}{refs}{details}</Ntry>"


def _tx(inner: str) -> str:
    return f"<TxDtls>{inner}</TxDtls>"


def _details(*transactions: str) -> str:
    return "<NtryDtls>" + "".join(transactions) + "</NtryDtls>"


# --- The day's statement of a Chinese bank -----------------------------------------------


def test_statement_header():
    result = parse_camt053(FIXTURES / "camt053_boc_v02.xml")
    [statement] = result.statements
    assert statement.statement_id == "STMT-410023456789001-20240305"
    assert statement.message_id == "BOCXM20240305000017"
    assert statement.account == statement.account_other_id == "410023456789001"
    assert statement.account_iban is None
    assert statement.account_currency == "CNY"
    assert statement.opening_balance is not None
    assert statement.opening_balance.amount == D("100000.00")
    assert statement.opening_balance.date == dt.date(2024, 3, 5)
    assert statement.closing_balance is not None
    assert statement.closing_balance.amount == D("125719.67")
    assert result.issues == []


def test_one_line_per_entry_and_per_batched_transaction():
    lines = parse_camt053(FIXTURES / "camt053_boc_v02.xml").lines
    assert [(line.entry_no, line.tx_no) for line in lines] == [
        (1, None),
        (2, None),
        (3, 1),
        (3, 2),
        (4, None),
        (5, None),
        (6, None),
        (7, None),
        (8, None),
    ]
    assert [line.amount for line in lines] == [
        D("5000.00"),
        D("3200.00"),
        D("1200.00"),
        D("1800.00"),
        D("25.00"),
        D("800.00"),
        D("12345.67"),
        D("2000.00"),
        D("999.00"),
    ]
    assert all(type(line.amount) is Decimal and line.currency == "CNY" for line in lines)
    assert {line.booking_date for line in lines} == {dt.date(2024, 3, 5)}
    assert lines[5].value_date == dt.date(2024, 3, 1)
    # The statement's balances agree with its lines: nothing was lost or doubled.
    credits = sum(line.amount for line in lines if line.direction == "CRDT")
    debits = sum(line.amount for line in lines if line.direction == "DBIT")
    assert D("100000.00") + credits - debits == D("125719.67")


def test_payer_remittance_and_references():
    lines = parse_camt053(FIXTURES / "camt053_boc_v02.xml").lines
    first, structured, batch_1, batch_2 = lines[:4]
    assert first.payer_name == "张三"
    assert first.payer_account == "6217001234567890123"
    assert first.remittance_text == "还款 合同号HT-2024-001 三月份"
    assert first.end_to_end_id is None  # NOTPROVIDED is no reference
    assert first.additional_info == "跨行转入"
    assert structured.structured_reference == "HT2024002"
    assert structured.remittance_text == "HT2024002"
    assert structured.end_to_end_id == "LS20240305A17"
    assert (batch_1.payer_name, batch_2.payer_name) == ("王五", "赵六")
    assert batch_2.remittance_text == "合同ｈｔ２０２４００４"  # as sent; matching normalises


@pytest.mark.parametrize(
    ("index", "source", "reference"),
    [
        # The bank's own reference wins over a sequence-number NtryRef.
        (0, "AcctSvcrRef", "BOC24030500001"),
        # No AcctSvcrRef: NtryRef beats the payer's EndToEndId.
        (1, "NtryRef", "BOC-N-24030500002"),
        # Batched: the transaction's own bank reference, else the entry's and the position.
        (2, "TxDtls/AcctSvcrRef", "BOC24030500003-01"),
        (3, "AcctSvcrRef", "BOC24030500003/2"),
        (4, "AcctSvcrRef", "BOC24030500004"),
    ],
)
def test_bank_reference_precedence(index, source, reference):
    line = parse_camt053(FIXTURES / "camt053_boc_v02.xml").lines[index]
    assert (line.reference_source, line.bank_reference) == (source, reference)


def test_idempotency_keys_are_unique_and_stable():
    path = FIXTURES / "camt053_boc_v02.xml"
    by_path = [line.idempotency_key for line in parse_camt053(path).lines]
    by_bytes = [line.idempotency_key for line in parse_camt053(path.read_bytes()).lines]
    with path.open("rb") as f:
        by_file = [line.idempotency_key for line in parse_camt053(f).lines]
        assert not f.closed  # the caller's file stays the caller's
    assert by_path == by_bytes == by_file
    assert len(set(by_path)) == len(by_path)
    assert by_path[0] == "camt053:410023456789001:BOC24030500001"
    # NtryRef is unique only within a statement: its key names the statement.
    assert by_path[1] == (
        "camt053:410023456789001:STMT-410023456789001-20240305:NtryRef:BOC-N-24030500002"
    )
    assert all(len(key) <= 100 for key in by_path)


def test_long_keys_are_hashed_to_fit():
    long_id = "S" * 35
    data = _statement(_ntry(refs="<NtryRef>" + "N" * 35 + "</NtryRef>")).replace(
        b"<Id>S1</Id>", f"<Id>{long_id}</Id>".encode()
    )
    [line] = parse_camt053(data).lines
    assert line.idempotency_key.startswith("camt053:")
    assert len(line.idempotency_key) == len("camt053:") + 64
    assert line.idempotency_key == parse_camt053(data).lines[0].idempotency_key


def test_debits_and_reversals_are_kept_but_are_not_payments():
    lines = parse_camt053(FIXTURES / "camt053_boc_v02.xml").lines
    charge, returned = lines[4], lines[5]
    assert (charge.direction, charge.reversal, charge.is_payment) == ("DBIT", False, False)
    assert (returned.direction, returned.reversal, returned.is_payment) == ("DBIT", True, False)
    assert [line.is_payment for line in lines].count(True) == 7


def test_pending_credit_is_not_a_payment():
    data = _statement(_ntry().replace("<Sts>BOOK</Sts>", "<Sts>PDNG</Sts>"))
    [line] = parse_camt053(data).lines
    assert line.status == "PDNG"
    assert not line.is_payment


def test_version_08_reads_like_version_02():
    result = parse_camt053(FIXTURES / "camt053_boc_v08.xml")
    [statement] = result.statements
    assert statement.opening_balance is not None
    assert statement.opening_balance.code == "PRCD"  # no OPBD: previously closed booked
    [line] = result.lines
    assert line.status == "BOOK"  # <Sts><Cd>BOOK</Cd></Sts>
    assert line.payer_name == "张三"  # RltdPties/Dbtr/Pty/Nm
    assert line.amount == D("6000.00")
    assert line.remittance_text == "还款 合同号HT-2024-001 四月份"  # two Ustrd
    # 18:30 UTC on the 5th is the 6th in Asia/Shanghai, the portfolio's day.
    assert line.booking_date == dt.date(2024, 3, 6)
    assert (line.reference_source, line.bank_reference) == (
        "TxDtls/AcctSvcrRef",
        "BOC24030600001",
    )
    assert line.is_payment
    assert result.issues == []


def test_date_times_follow_the_given_time_zone():
    data = (FIXTURES / "camt053_boc_v08.xml").read_bytes()
    [line] = parse_camt053(data, tz=dt.UTC).lines
    assert line.booking_date == dt.date(2024, 3, 5)


def test_iban_account_and_no_namespace():
    data = _statement(_ntry(), account="<IBAN>DE89370400440532013000</IBAN>")
    result = parse_camt053(data.replace(b' xmlns="urn:iso:std:iso:20022:tech:xsd:camt', b' x="'))
    assert result.statements[0].account == "DE89370400440532013000"
    assert len(result.lines) == 1


def test_statement_comes_before_its_lines_and_without_entries_too():
    items = list(iter_camt053(FIXTURES / "camt053_boc_v02.xml"))
    assert isinstance(items[0], Statement)
    assert all(isinstance(item, BankLine) for item in items[1:])
    empty = parse_camt053(_statement(""))
    assert [s.statement_id for s in empty.statements] == ["S1"]
    assert empty.lines == []


# --- Bad entries are reported, the others still parse -------------------------------------


def test_bad_amount_is_reported_and_the_other_entries_parse():
    result = parse_camt053(FIXTURES / "camt053_bad_amount.xml")
    assert [line.bank_reference for line in result.lines] == ["ICBC0001", "ICBC0003"]
    [issue] = result.issues
    assert (issue.entry_no, issue.element) == (2, "Ntry/Amt")
    assert issue.message.startswith("Entry 2: “1,200.00” in Ntry/Amt is not an amount")
    assert issue.statement_id == "ICBC-STMT-20240305"


def test_missing_amount_is_reported_and_the_other_entries_parse():
    result = parse_camt053(FIXTURES / "camt053_missing_amount.xml")
    assert [line.entry_no for line in result.lines] == [2, 3]
    [issue] = result.issues
    assert (issue.entry_no, issue.element) == (1, "Ntry/Amt")
    assert issue.message.startswith("Entry 1: Ntry/Amt is missing")


@pytest.mark.parametrize(
    ("entry", "element", "words"),
    [
        (_ntry(amount='<Amt Ccy="CNY">-5.00</Amt>'), "Ntry/Amt", "is not an amount"),
        (_ntry(amount='<Amt Ccy="CNY">1E3</Amt>'), "Ntry/Amt", "is not an amount"),
        (_ntry(amount='<Amt Ccy="CNY"></Amt>'), "Ntry/Amt", "is not an amount"),
        (_ntry(amount='<Amt Ccy="CNY">10.005</Amt>'), "Ntry/Amt", "more decimal places"),
        (_ntry(amount='<Amt Ccy="XXQ">10.00</Amt>'), "Ntry/Amt", "not a currency code"),
        (_ntry(amount="<Amt>10.00</Amt>"), "Ntry/Amt", "not a currency code"),
        (_ntry(direction=""), "Ntry/CdtDbtInd", "is missing"),
        (_ntry(direction="<CdtDbtInd>C</CdtDbtInd>"), "Ntry/CdtDbtInd", "neither CRDT"),
        (_ntry(extra="<RvslInd>yes</RvslInd>"), "Ntry/RvslInd", "neither true nor false"),
        (
            _ntry(dates="<BookgDt><Dt>2024-02-30</Dt></BookgDt>"),
            "Ntry/BookgDt/Dt",
            "is not a date",
        ),
        (
            _ntry(dates="<BookgDt><Dt>05/03/2024</Dt></BookgDt>"),
            "Ntry/BookgDt/Dt",
            "is not a date",
        ),
        (
            _ntry(dates="<BookgDt><DtTm>2024-03-05 25:00</DtTm></BookgDt>"),
            "Ntry/BookgDt/DtTm",
            "is not a date and time",
        ),
        (_ntry(dates="<BookgDt></BookgDt>"), "Ntry/BookgDt/Dt", "is missing"),
        (_ntry(dates=""), "Ntry/BookgDt", "no booking date"),
    ],
)
def test_malformed_entry_values(entry, element, words):
    result = parse_camt053(_statement(_ntry(refs="<AcctSvcrRef>OK</AcctSvcrRef>") + entry))
    assert [line.bank_reference for line in result.lines] == ["OK"]
    [issue] = result.issues
    assert issue.entry_no == 2
    assert issue.element == element
    assert issue.message.startswith("Entry 2: ")
    assert words in issue.message
    assert element in issue.message or element.endswith("BookgDt")


def test_value_date_stands_in_for_a_missing_booking_date():
    data = _statement(_ntry(dates="<ValDt><Dt>2024-03-04</Dt></ValDt>"))
    [line] = parse_camt053(data).lines
    assert line.booking_date == line.value_date == dt.date(2024, 3, 4)


TX2 = "Ntry/NtryDtls/TxDtls[2]"


def _batch(first: str, second: str, total: str = "30.00") -> bytes:
    return _statement(
        _ntry(amount=f'<Amt Ccy="CNY">{total}</Amt>', details=_details(_tx(first), _tx(second)))
    )


def test_batched_amounts_from_either_version():
    v02 = '<AmtDtls><TxAmt><Amt Ccy="CNY">10.00</Amt></TxAmt></AmtDtls>'
    v08 = '<Amt Ccy="CNY">20.00</Amt><CdtDbtInd>CRDT</CdtDbtInd>'
    lines = parse_camt053(_batch(v02, v08)).lines
    assert [line.amount for line in lines] == [D("10.00"), D("20.00")]
    assert [line.bank_reference for line in lines] == ["R1/1", "R1/2"]


def test_batch_that_does_not_add_up_is_reported():
    result = parse_camt053(_batch('<Amt Ccy="CNY">10.00</Amt>', '<Amt Ccy="CNY">10.00</Amt>'))
    assert result.lines == []
    [issue] = result.issues
    assert issue.element == "Ntry/NtryDtls"
    assert "add up to 20.00 CNY, but the entry is for 30.00 CNY" in issue.message


def test_batch_with_a_debit_inside_nets_out():
    first = '<Amt Ccy="CNY">40.00</Amt>'
    second = '<Amt Ccy="CNY">10.00</Amt><CdtDbtInd>DBIT</CdtDbtInd>'
    lines = parse_camt053(_batch(first, second)).lines
    assert [line.direction for line in lines] == ["CRDT", "DBIT"]


@pytest.mark.parametrize(
    ("second", "element", "words"),
    [
        ("<RmtInf><Ustrd>x</Ustrd></RmtInf>", f"{TX2}/AmtDtls/TxAmt/Amt", "missing"),
        ('<Amt Ccy="USD">20.00</Amt>', f"{TX2}/Amt", "split across currencies"),
        ('<Amt Ccy="CNY">2O.00</Amt>', f"{TX2}/Amt", "is not an amount"),
    ],
)
def test_bad_batched_transaction_names_it(second, element, words):
    result = parse_camt053(_batch('<Amt Ccy="CNY">10.00</Amt>', second))
    [issue] = result.issues
    assert (issue.element, issue.entry_no) == (element, 1)
    assert words in issue.message


def test_repeated_bank_reference_is_reported():
    result = parse_camt053(_statement(_ntry() + _ntry()))
    assert len(result.lines) == 1
    [issue] = result.issues
    assert (issue.entry_no, issue.element) == (2, "Ntry/AcctSvcrRef")
    assert "“R1” was already used by entry 1" in issue.message
    own = _details(_tx("<Refs><AcctSvcrRef>T1</AcctSvcrRef></Refs>"))
    result = parse_camt053(_statement(_ntry(refs="", details=own) * 2))
    assert result.issues[0].element == "Ntry/NtryDtls/TxDtls[1]/Refs/AcctSvcrRef"


def test_repeated_payer_reference_falls_back_to_position():
    e2e = _details(_tx("<Refs><EndToEndId>E2E-1</EndToEndId></Refs>"))
    result = parse_camt053(_statement(_ntry(refs="", details=e2e) * 2))
    first, second = result.lines
    assert (first.reference_source, first.bank_reference) == ("EndToEndId", "E2E-1")
    assert (second.reference_source, second.bank_reference) == ("position", "S1/2")
    assert first.idempotency_key != second.idempotency_key
    assert result.issues == []


def test_position_when_there_is_no_reference_at_all():
    [line] = parse_camt053(_statement(_ntry(refs=""))).lines
    assert (line.reference_source, line.bank_reference) == ("position", "S1/1")
    assert line.idempotency_key == "camt053:410023456789001:S1:position:S1/1"


def test_bad_balance_is_a_statement_issue():
    balance = (
        "<Bal><Tp><CdOrPrtry><Cd>OPBD</Cd></CdOrPrtry></Tp><Amt Ccy='CNY'>abc</Amt>"
        "<CdtDbtInd>CRDT</CdtDbtInd><Dt><Dt>2024-03-05</Dt></Dt></Bal>"
    )
    result = parse_camt053(_statement(balance + _ntry()))
    [issue] = result.issues
    assert issue.entry_no is None
    assert issue.element == "Stmt/Bal[1]/Amt"
    assert issue.message.startswith("Statement S1: ")
    assert result.statements[0].opening_balance is None
    assert len(result.lines) == 1


# --- Whole files that are refused -----------------------------------------------------------


def test_doctype_with_entities_is_refused():
    with pytest.raises(IntakeError, match="DOCTYPE"):
        parse_camt053(FIXTURES / "camt053_doctype.xml")


LAUGHS = (
    '<?xml version="1.0"?><!DOCTYPE lolz [<!ENTITY lol "lol">'
    '<!ENTITY lol2 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">]>'
    "<Document><BkToCstmrStmt>&lol2;</BkToCstmrStmt></Document>"
)


@pytest.mark.parametrize(
    "data",
    [
        LAUGHS.encode(),
        ("\ufeff" + LAUGHS).encode(),  # UTF-8 byte order mark
        LAUGHS.encode("utf-16"),  # with a BOM
        LAUGHS.encode("utf-16-be"),
        b'<?xml version="1.0"?>\n<!-- a comment -->\n<?pi x?>\n<!DOCTYPE Document SYSTEM "x.dtd">'
        b"<Document/>",
    ],
)
def test_every_doctype_is_refused(data):
    with pytest.raises(IntakeError, match="DOCTYPE"):
        parse_camt053(data)


class _Trickle(io.RawIOBase):
    """A stream that hands out one byte per read, as a slow network might."""

    def __init__(self, data: bytes) -> None:
        self._data = io.BytesIO(data)

    def readable(self) -> bool:
        return True

    def read(self, size: int = -1) -> bytes:
        return self._data.read(1)


def test_doctype_split_across_reads_is_refused():
    with pytest.raises(IntakeError, match="DOCTYPE"):
        parse_camt053(_Trickle(LAUGHS.encode()))


def test_doctype_mentioned_in_a_comment_is_harmless():
    data = _statement(_ntry()).replace(b"<Document", b"<!-- no <!DOCTYPE here --><Document", 1)
    assert len(parse_camt053(data).lines) == 1
    assert len(parse_camt053(_Trickle(data)).lines) == 1


@pytest.mark.parametrize(
    "data",
    [
        _statement(_ntry(), version="02").replace(b"camt.053.001.02", b"camt.054.001.02"),
        b'<Document xmlns="urn:iso:std:iso:20022:tech:xsd:camt.053.001.02">'
        b"<BkToCstmrAcctRpt/></Document>",
        b"<html><body>Login expired</body></html>",
    ],
)
def test_other_documents_are_refused(data):
    with pytest.raises(IntakeError, match=r"not an ISO 20022 camt\.053 bank statement"):
        parse_camt053(data)


@pytest.mark.parametrize("data", [b"", b"PK\x03\x04 a zip file", _statement(_ntry())[:-40]])
def test_broken_xml_is_refused_with_its_position(data):
    with pytest.raises(IntakeError, match=r"not well-formed XML \(line 1, column \d+\)"):
        parse_camt053(data)


def test_external_entity_without_doctype_cannot_resolve():
    data = _statement(_ntry(details=_details(_tx("<RltdPties><Dbtr><Nm>&x;</Nm></Dbtr>"))))
    with pytest.raises(IntakeError, match="not well-formed XML"):
        parse_camt053(data)


# --- Streaming ---------------------------------------------------------------------------


def _big_statement(entries: int) -> bytes:
    entry = (
        '<Ntry><Amt Ccy="CNY">{i}.00</Amt><CdtDbtInd>CRDT</CdtDbtInd><Sts>BOOK</Sts>'
        "<BookgDt><Dt>2024-03-05</Dt></BookgDt><AcctSvcrRef>R{i}</AcctSvcrRef><NtryDtls>"
        "<TxDtls><RltdPties><Dbtr><Nm>张三</Nm></Dbtr></RltdPties><RmtInf><Ustrd>还款 合同号"
        "HT-2024-{i:05d}</Ustrd></RmtInf></TxDtls></NtryDtls></Ntry>"
    )
    return _statement("".join(entry.format(i=i) for i in range(1, entries + 1)))


def _peak_while_streaming(data: bytes) -> int:
    tracemalloc.start()
    try:
        count = sum(isinstance(item, BankLine) for item in iter_camt053(data))
        return tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
        assert count == data.count(b"<Ntry>")


def test_memory_stays_flat_however_many_entries():
    small, large = _big_statement(200), _big_statement(800)
    growth = _peak_while_streaming(large) - _peak_while_streaming(small)
    # A whole tree costs ~2.8 kB per entry like these; streaming keeps only the reference
    # seen (for duplicates), ~0.2 kB.
    assert growth / 600 < 600


# --- Into the matching frame -----------------------------------------------------------------


def test_lines_frame_feeds_matching():
    lines = parse_camt053(FIXTURES / "camt053_boc_v02.xml").lines
    frame = lines_frame(lines)
    assert frame["line_id"].to_list() == list(range(9))
    assert frame["amount_fen"].to_list()[:2] == [500000, 320000]
    row = frame.row(0, named=True)
    assert row["remittance_text"] == "还款 合同号HT-2024-001 三月份 跨行转入"
    assert frame.row(1, named=True)["reference"] == "HT2024002 LS20240305A17"
    assert frame["is_payment"].to_list().count(True) == 7
    assert frame.row(5, named=True)["reversal"] is True
