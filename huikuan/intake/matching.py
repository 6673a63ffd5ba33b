"""Which account a bank line pays, or why a person has to decide: pure, vectorised matching.

Rules, first that applies wins; the currency of line and account must agree in every rule:

a. ``contract_in_text``: a contract number appears in the remittance text or reference →
   matched; ambiguous when the contract numbers of several accounts appear (or one number
   belongs to several accounts, of different creditors).
b. ``name_and_amount``: the payer's name is the debtor's name and the amount is the account's
   overdue amount, its open promise, its outstanding amount or a whole number of installments
   (at most what is overdue) → matched when exactly one account fits, ambiguous when several.
c. ``name_only``: the name fits one or more accounts but no amount does → ambiguous, with
   every account of that name as a candidate: money from a known debtor is for a person to
   place, not for a guess.
d. ``none``: unmatched. Debits, reversals and non-positive amounts are ``ignored``.

Contract numbers are compared by key: NFKC (full-width → half-width), upper case, and only
letters, digits and Han characters kept, so ``HT-2024-001``, ``ht 2024 001`` and
``ＨＴ２０２４００１`` are one number. Texts are never scanned per account: a regular
expression cuts each text into *runs* of alphanumeric *atoms* with only separators (spaces,
hyphens and dashes, ``_/.:#()``) between them; the Han characters that some contract number
has (as in ``(2024)厦借字第001号``) are atoms of one character each, and any other character
ends a run. Every sequence of consecutive atoms of a run, joined, is a candidate key, and the
candidates are joined with the accounts' keys. A candidate never crosses other text, so
``还款 2024 合同 001`` does not produce ``2024001``, and never splits an atom, so
``HT20240012`` does not contain ``HT2024001``. Contract numbers shorter than
``min_contract_len`` are not looked for: years and amounts in free text would hit them.

Names are compared by key too: NFKC, upper case, without white space, dots, commas and middle
dots, and without a trailing company form (股份有限公司, 有限责任公司, 有限公司, Co., Ltd.,
Company Limited, Limited, Ltd).
"""

from __future__ import annotations

import polars as pl

MATCHED, AMBIGUOUS, UNMATCHED, IGNORED = "matched", "ambiguous", "unmatched", "ignored"
CONTRACT_IN_TEXT, NAME_AND_AMOUNT, NAME_ONLY, NO_RULE = (
    "contract_in_text",
    "name_and_amount",
    "name_only",
    "none",
)

LINE_COLUMNS = ("line_id", "amount_fen", "currency", "payer_name", "remittance_text", "reference")
ACCOUNT_COLUMNS = (
    "account_id",
    "contract_no",
    "debtor_name",
    "currency",
    "outstanding_fen",
    "overdue_fen",
    "open_promise_fen",
)
# Optional: on lines ``direction`` (CRDT/DBIT), ``reversal`` and ``is_payment`` (booleans);
# on accounts ``installment_fen`` (the regular installment, null when there is none).

# Written between the parts of a contract number; they join atoms, they do not end a run.
# Full-width forms need no entry: NFKC has made them ASCII by the time this applies.
_SEPARATORS = r"[\s\-_/\\.·・:#()\[\]{}\x{2010}-\x{2015}\x{2212}\x{3010}\x{3011}\x{3014}\x{3015}]"
_ATOM = r"[A-Z0-9]+"
_COMPANY_FORM = (
    r"(?:股份有限公司|有限责任公司|有限公司|COLTD|COMPANYLIMITED|COLIMITED|LIMITED|LTD)$"
)


# --- Keys ----------------------------------------------------------------------------------


def _upper_nfkc(expr: pl.Expr) -> pl.Expr:
    return expr.str.normalize("NFKC").str.to_uppercase()


def contract_key(expr: pl.Expr) -> pl.Expr:
    """The comparable form of a contract number; null when nothing comparable is left."""
    return _upper_nfkc(expr).str.replace_all(r"[^A-Z0-9\p{Han}]", "").replace("", None)


def name_key(expr: pl.Expr) -> pl.Expr:
    """The comparable form of a payer's or debtor's name; null when nothing is left."""
    bare = _upper_nfkc(expr).str.replace_all(r"[\s.,·・]", "")
    return bare.str.replace(_COMPANY_FORM, "").replace("", None)


# --- Matching ------------------------------------------------------------------------------


def match_lines(
    lines: pl.DataFrame, accounts: pl.DataFrame, *, min_contract_len: int = 5
) -> pl.DataFrame:
    """One row per line, in the order of ``lines``: line_id, status, account_id, candidates, rule.

    ``account_id`` is set only when matched; ``candidates`` (sorted) are the accounts the
    deciding rule found, empty when unmatched or ignored.
    """
    _require(lines, LINE_COLUMNS, "lines")
    _require(accounts, ACCOUNT_COLUMNS, "accounts")
    base = _prepare_lines(lines)
    todo = base.filter(~pl.col("_ignored"))
    by_contract = _contract_decisions(todo, accounts, min_contract_len)
    todo = todo.join(by_contract.select("_row"), on="_row", how="anti")
    by_name = _name_decisions(todo, accounts)
    decided = pl.concat([by_contract, by_name])
    return _result(base, decided, accounts.schema["account_id"])


def _require(frame: pl.DataFrame, columns: tuple[str, ...], name: str) -> None:
    missing = [column for column in columns if column not in frame.columns]
    if missing:  # a programmer's mistake, not a user's: plain English
        raise ValueError(f"{name} lack the columns {missing}")


def _prepare_lines(lines: pl.DataFrame) -> pl.DataFrame:
    text = pl.concat_str(["remittance_text", "reference"], separator=" ", ignore_nulls=True)
    return lines.select(
        pl.int_range(pl.len(), dtype=pl.Int64).alias("_row"),
        "line_id",
        "amount_fen",
        "currency",
        "payer_name",
        _upper_nfkc(text).alias("_text"),
        _ignored(lines).alias("_ignored"),
    )


def _ignored(lines: pl.DataFrame) -> pl.Expr:
    amount = pl.col("amount_fen")
    ignored = amount.is_null() | (amount <= 0)
    if "direction" in lines.columns:
        ignored = ignored | (pl.col("direction").str.to_uppercase() == "DBIT").fill_null(False)
    if "reversal" in lines.columns:
        ignored = ignored | pl.col("reversal").fill_null(False)
    if "is_payment" in lines.columns:
        ignored = ignored | ~pl.col("is_payment").fill_null(True)
    return ignored


# --- a. contract number in the text ---


def _contract_decisions(
    lines: pl.DataFrame, accounts: pl.DataFrame, min_contract_len: int
) -> pl.DataFrame:
    keys = (
        accounts.select("account_id", "currency", contract_key(pl.col("contract_no")).alias("_key"))
        .drop_nulls("_key")
        .filter(pl.col("_key").str.len_chars() >= min_contract_len)
    )
    if keys.is_empty() or lines.is_empty():
        return _no_decisions(accounts.schema["account_id"])
    length = pl.col("_key").str.len_chars()
    shortest, longest = keys.select(length.min().alias("min"), length.max().alias("max")).row(0)
    atoms = _atoms(lines, _atom_pattern(keys))
    candidates = _joined_atoms(atoms, shortest, longest)
    hits = candidates.join(
        keys, left_on=["_cand", "currency"], right_on=["_key", "currency"], how="inner"
    ).select("_row", "account_id")
    return _decide(hits, CONTRACT_IN_TEXT)


def _atom_pattern(keys: pl.DataFrame) -> str:
    """Letters and digits, and each Han character some contract number has.

    Only those Han characters: the others (还款, 谢谢...) then end a run, which keeps the number
    of candidates from a Chinese sentence small.
    """
    with_han = keys.filter(pl.col("_key").str.contains(r"\p{Han}"))
    if with_han.is_empty():
        return _ATOM
    han = with_han.select(pl.col("_key").str.extract_all(r"\p{Han}").explode().unique())
    return _ATOM + "|[" + "".join(sorted(han.to_series().to_list())) + "]"


def _atoms(lines: pl.DataFrame, atom: str) -> pl.DataFrame:
    """One row per atom, in text order, numbered by run (``_run``) across all lines."""
    run = rf"(?:{atom})(?:{_SEPARATORS}*(?:{atom}))*"
    runs = (
        lines.select("_row", "currency", pl.col("_text").str.extract_all(run).alias("_piece"))
        .explode("_piece")
        .drop_nulls("_piece")
        .with_row_index("_run")
    )
    return (
        runs.select(
            "_row", "currency", "_run", pl.col("_piece").str.extract_all(atom).alias("_atom")
        )
        .explode("_atom")
        .with_columns(pl.col("_atom").str.len_chars().cast(pl.Int64).alias("_len"))
    )


def _joined_atoms(atoms: pl.DataFrame, shortest: int, longest: int) -> pl.DataFrame:
    """Every sequence of consecutive atoms of one run, joined, as long as some contract key.

    Sequences grow one atom at a time by position (``gather``), and only those still shorter
    than the longest key grow on, so the work is the number of candidates, not texts × keys.
    """
    size = atoms.height
    atom, length, run = atoms["_atom"], atoms["_len"], atoms["_run"]
    live = atoms.select(
        "_row",
        "currency",
        "_run",
        pl.int_range(pl.len(), dtype=pl.Int64).alias("_end"),
        pl.col("_atom").alias("_cand"),
        "_len",
    )
    found = []
    while True:
        in_range = pl.col("_len").is_between(shortest, longest)
        found.append(live.filter(in_range).select("_row", "currency", "_cand"))
        live = live.filter((pl.col("_len") < longest) & (pl.col("_end") + 1 < size))
        if live.is_empty():
            return pl.concat(found).unique()
        following = live["_end"] + 1
        live = live.with_columns(
            _end=following,
            _cand=live["_cand"] + atom.gather(following),
            _len=live["_len"] + length.gather(following),
        ).filter(run.gather(following) == live["_run"])


# --- b. and c. payer name, then amount ---


def _name_decisions(lines: pl.DataFrame, accounts: pl.DataFrame) -> pl.DataFrame:
    payers = lines.select(
        "_row", "currency", "amount_fen", name_key(pl.col("payer_name")).alias("_name")
    ).drop_nulls("_name")
    if payers.is_empty():
        return _no_decisions(accounts.schema["account_id"])
    debtors = accounts.select(
        "account_id",
        "currency",
        "outstanding_fen",
        "overdue_fen",
        "open_promise_fen",
        _installment(accounts),
        name_key(pl.col("debtor_name")).alias("_name"),
    ).join(payers.select("_name").unique(), on="_name", how="semi")
    hits = payers.join(debtors, on=["_name", "currency"], how="inner")
    by_amount = hits.filter(_amount_fits()).select("_row", "account_id")
    amount_rows = by_amount.select("_row").unique()
    name_only = hits.join(amount_rows, on="_row", how="anti").select("_row", "account_id")
    return pl.concat([_decide(by_amount, NAME_AND_AMOUNT), _decide(name_only, NAME_ONLY)])


def _installment(accounts: pl.DataFrame) -> pl.Expr:
    if "installment_fen" in accounts.columns:
        return pl.col("installment_fen").cast(pl.Int64)
    return pl.lit(None, dtype=pl.Int64).alias("installment_fen")


def _amount_fits() -> pl.Expr:
    amount = pl.col("amount_fen")
    installment = pl.col("installment_fen")
    # Several installments at once, but not more than is overdue: paying two months' arrears
    # is an installment-like amount, paying an arbitrary multiple is not.
    installments = (
        (installment > 0)
        & (amount % installment == 0)
        & ((amount == installment) | (amount <= pl.col("overdue_fen")))
    )
    return (
        (amount == pl.col("overdue_fen"))
        | (amount == pl.col("open_promise_fen"))
        | (amount == pl.col("outstanding_fen"))
        | installments
    ).fill_null(False)


# --- Decisions ---


def _decide(hits: pl.DataFrame, rule: str) -> pl.DataFrame:
    """(``_row``, account_id) hits of one rule → one decision per line."""
    per_line = hits.group_by("_row").agg(pl.col("account_id").unique().sort().alias("candidates"))
    single = pl.col("candidates").list.len() == 1
    status = pl.when(single).then(pl.lit(MATCHED)).otherwise(pl.lit(AMBIGUOUS))
    if rule == NAME_ONLY:
        status = pl.lit(AMBIGUOUS)
    return per_line.select("_row", status.alias("status"), "candidates", pl.lit(rule).alias("rule"))


def _no_decisions(account_dtype: pl.DataType) -> pl.DataFrame:
    return pl.DataFrame(
        schema={
            "_row": pl.Int64,
            "status": pl.String,
            "candidates": pl.List(account_dtype),
            "rule": pl.String,
        },
    )


def _result(base: pl.DataFrame, decided: pl.DataFrame, account_dtype: pl.DataType) -> pl.DataFrame:
    none = pl.lit([], dtype=pl.List(account_dtype))
    ignored = pl.col("_ignored")
    status = (
        pl.when(ignored)
        .then(pl.lit(IGNORED))
        .otherwise(pl.col("status").fill_null(pl.lit(UNMATCHED)))
    )
    matched = pl.col("status") == MATCHED
    return (
        base.select("_row", "line_id", "_ignored")
        .join(decided, on="_row", how="left")
        .sort("_row")
        .select(
            "line_id",
            status.alias("status"),
            pl.when(matched).then(pl.col("candidates").list.first()).alias("account_id"),
            pl.when(ignored | pl.col("candidates").is_null())
            .then(none)
            .otherwise(pl.col("candidates"))
            .alias("candidates"),
            pl.when(ignored)
            .then(pl.lit(NO_RULE))
            .otherwise(pl.col("rule").fill_null(pl.lit(NO_RULE)))
            .alias("rule"),
        )
    )
