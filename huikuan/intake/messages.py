"""The messages of an import report, and how a column of them is filled in without a loop.

Every message names the row as the user sees it (1-based, counting title and header rows) and
the column header as written in the file. Templates are English msgids marked with
``gettext_noop`` (so ``makemessages`` collects them) and translated once per chunk with
``lib._translate._``, which also works where Django is not set up. The translated template is
cut at its placeholders and rebuilt with ``concat_str``: a translation may put them in any
order, and a million messages cost one vectorised concatenation.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from contextlib import contextmanager

import polars as pl
from django.apps import apps
from django.utils import translation

from huikuan.lib._translate import _


def gettext_noop(message: str) -> str:
    """Marks a msgid for ``makemessages`` (xgettext matches this name), translated later.

    Django's own ``gettext_noop`` reads settings, and this package must import without them.
    """
    return message


TEMPLATES: dict[str, str] = {
    "required": gettext_noop("Row %(row)s: “%(field)s” is empty; it is required."),
    "date_invalid": gettext_noop(
        "Row %(row)s: “%(value)s” in “%(field)s” is not a date; write it like 2025-03-01."
    ),
    "amount_invalid": gettext_noop("Row %(row)s: “%(value)s” in “%(field)s” is not an amount."),
    "amount_too_large": gettext_noop("Row %(row)s: “%(value)s” in “%(field)s” is too large."),
    "amount_precision": gettext_noop(
        "Row %(row)s: “%(value)s” in “%(field)s” has more decimal places than %(currency)s "
        "allows (%(places)s)."
    ),
    "amount_negative": gettext_noop(
        "Row %(row)s: “%(value)s” in “%(field)s” is negative; write amounts without a minus sign."
    ),
    "amount_missing": gettext_noop("Row %(row)s: there is no amount due; fill in “%(field)s”."),
    "amount_mismatch": gettext_noop(
        "Row %(row)s: “%(field)s” is %(total)s, but principal, interest and fee add up to %(sum)s."
    ),
    "paid_mismatch": gettext_noop(
        "Row %(row)s: “%(field)s” is %(total)s, but the principal, interest and fee paid add up "
        "to %(sum)s."
    ),
    "paid_exceeds_due": gettext_noop(
        "Row %(row)s: “%(field)s” (%(paid)s) is more than the amount due (%(due)s)."
    ),
    "id_old_15": gettext_noop(
        "Row %(row)s: “%(value)s” in “%(field)s” is an old 15-digit ID number; enter the "
        "18-character number instead."
    ),
    "id_length": gettext_noop(
        "Row %(row)s: “%(value)s” in “%(field)s” has %(count)s characters; a resident ID number "
        "or a unified social credit code has 18."
    ),
    "id_format": gettext_noop(
        "Row %(row)s: “%(value)s” in “%(field)s” is not a resident ID number, which is 17 digits "
        "followed by a digit or X."
    ),
    "id_birth_date": gettext_noop(
        "Row %(row)s: characters 7 to 14 of “%(value)s” in “%(field)s” should be a birth date, "
        "but %(date)s is not a real date."
    ),
    "id_check": gettext_noop(
        "Row %(row)s: the last character of the ID number “%(value)s” in “%(field)s” should be "
        "“%(expected)s”, not “%(actual)s”: the number has a typo somewhere."
    ),
    "uscc_charset": gettext_noop(
        "Row %(row)s: “%(value)s” in “%(field)s” contains “%(char)s”; a unified social credit "
        "code uses digits and capital letters except I, O, S, V and Z."
    ),
    "uscc_region": gettext_noop(
        "Row %(row)s: characters 3 to 8 of the unified social credit code “%(value)s” in "
        "“%(field)s” are a region code and must be digits."
    ),
    "uscc_check": gettext_noop(
        "Row %(row)s: the last character of the unified social credit code “%(value)s” in "
        "“%(field)s” should be “%(expected)s”, not “%(actual)s”: the code has a typo somewhere."
    ),
    "kind_invalid": gettext_noop(
        "Row %(row)s: “%(value)s” in “%(field)s” is not a kind of debtor; write 个人 "
        "(individual) or 企业 (enterprise)."
    ),
    "kind_is_enterprise": gettext_noop(
        "Row %(row)s: “%(value)s” in “%(field)s” is a unified social credit code, but "
        "“%(kind_field)s” says the debtor is an individual."
    ),
    "kind_is_individual": gettext_noop(
        "Row %(row)s: “%(value)s” in “%(field)s” is a resident ID number, but “%(kind_field)s” "
        "says the debtor is an enterprise."
    ),
    "phone_invalid": gettext_noop(
        "Row %(row)s: “%(value)s” in “%(field)s” is not a valid phone number."
    ),
    "email_invalid": gettext_noop(
        "Row %(row)s: “%(value)s” in “%(field)s” is not an email address."
    ),
    "currency_unknown": gettext_noop(
        "Row %(row)s: “%(value)s” in “%(field)s” is not a currency; write a code such as CNY, "
        "USD or HKD."
    ),
    "product_unknown": gettext_noop(
        "Row %(row)s: “%(value)s” in “%(field)s” is not a product; write 贷款 (loan), 信用卡 "
        "(credit card), 应收账款 (trade receivable) or 其他 (other)."
    ),
    "region_invalid": gettext_noop(
        "Row %(row)s: “%(value)s” in “%(field)s” is not a region code (6 digits, such as 110101)."
    ),
    "too_long": gettext_noop(
        "Row %(row)s: “%(field)s” has %(count)s characters; at most %(max)s fit."
    ),
    "duplicate": gettext_noop(
        "Row %(row)s: contract “%(contract)s” with “%(field)s” “%(item)s” is already in row "
        "%(first)s."
    ),
    "duplicate_due": gettext_noop(
        "Row %(row)s: contract “%(contract)s” with “%(field)s” %(item)s is already in row "
        "%(first)s."
    ),
    "column_missing": gettext_noop(
        "Row %(row)s: no column is the %(label)s; add one, with a header such as “%(example)s”."
    ),
}

_PLACEHOLDER = re.compile(r"%\((\w+)\)s|%%")
# Enough of a value to recognise it; a pasted paragraph would drown the report.
VALUE_CHARS = 60


def render(template: str, params: Mapping[str, pl.Expr]) -> pl.Expr:
    """``template % params`` for every row; params are expressions (use ``pl.lit`` for one)."""
    pieces: list[pl.Expr] = []
    position = 0
    for match in _PLACEHOLDER.finditer(template):
        pieces.append(pl.lit(template[position : match.start()]))
        name = match.group(1)
        pieces.append(params[name].cast(pl.String).fill_null("") if name else pl.lit("%"))
        position = match.end()
    pieces.append(pl.lit(template[position:]))
    return pl.concat_str(pieces)


def message(
    code: str, params: Mapping[str, pl.Expr], extra: Mapping[str, str] | None = None
) -> pl.Expr:
    """The message for ``code`` in the active language, filled in row by row; ``extra``
    templates (another kind of file's) come before the ledger's."""
    template = (extra or {}).get(code) or TEMPLATES[code]
    return render(_(template), params)


@contextmanager
def language(code: str | None) -> Iterator[None]:
    """Translate into ``code`` while inside; English msgids when Django is not set up."""
    if code and apps.ready:
        with translation.override(code):
            yield
    else:
        yield
