"""API endpoints of payments imports: statement lines, decisions, posting.

Mounted under /api/v1/ with the import endpoints. Each endpoint checks ``ledger.post_payment``
(403), reaches the job and line through ``payments_selectors`` (404 when out of reach), calls
one service and renders; errors leave in the API's one error body. Money leaves as a decimal
string.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.core.exceptions import PermissionDenied, ValidationError
from django.http import HttpRequest
from django.utils.translation import gettext as _
from ninja import Field, Query, Router, Schema

from huikuan.api.pagination import CursorParams, Page, paginate
from huikuan.iam.roles import POST_PAYMENT
from huikuan.intake import jobs, payments
from huikuan.intake import payments_selectors as selectors
from huikuan.intake.models import ImportJob, StatementLine
from huikuan.ledger.schemas import MoneyOut
from huikuan.ledger.selectors import accounts_visible_to

router = Router()


class LineOut(Schema):
    id: int
    line_no: int = Field(description="The file row (exports) or the line's place (camt.053).")
    booking_date: dt.date
    value_date: dt.date | None
    amount: MoneyOut
    currency: str
    direction: str = Field(description="`CRDT` money in, `DBIT` money out.")
    payer_name: str
    payer_account: str
    remittance_text: str
    bank_reference: str
    status: str = Field(description=", ".join(f"`{s}`" for s in StatementLine.Status.values))
    status_label: str
    rule: str = Field(
        description="How the account was found: `contract_in_text`, `name_and_amount`, "
        "`name_only`, `manual` (a person), or empty."
    )
    account: int | None
    contract_no: str | None
    candidates: list[int] = Field(description="Accounts that fit an ambiguous line.")
    payment: int | None
    decided_by: str | None
    note: str

    @staticmethod
    def from_line(line: StatementLine) -> LineOut:
        return LineOut(
            id=line.pk,
            line_no=line.line_no,
            booking_date=line.booking_date,
            value_date=line.value_date,
            amount=line.amount,
            currency=line.currency,
            direction=line.direction,
            payer_name=line.payer_name,
            payer_account=line.payer_account,
            remittance_text=line.remittance_text,
            bank_reference=line.bank_reference,
            status=line.status,
            status_label=str(line.get_status_display()),
            rule=line.rule,
            account=line.account_id,
            contract_no=line.account.contract_no if line.account else None,
            candidates=[int(pk) for pk in line.candidates or []],
            payment=line.payment_id,
            decided_by=line.decided_by.get_username() if line.decided_by else None,
            note=line.note,
        )


class LineFilter(Schema):
    status: str | None = Field(None, description="Only the lines with this status.")


class AssignIn(Schema):
    account: int = Field(description="The id of the account the money is for.")
    note: str = ""


class SkipIn(Schema):
    note: str = Field(description="Why the line is not posted.")


class PostOut(Schema):
    posted: int = Field(description="Payments created.")
    duplicate: int = Field(description="Lines whose bank line had been posted before.")
    refused: int = Field(description="Lines the ledger refused; back to `unmatched`.")
    job_status: str
    counts: dict[str, int] = Field(description="Lines per status after posting.")


def _job(request: HttpRequest, job_id: int) -> ImportJob:
    user: Any = request.user
    if not user.has_perm(POST_PAYMENT):
        raise PermissionDenied
    return selectors.access_payments_job(user, job_id)


@router.get("/imports/{job_id}/lines", response=Page[LineOut])
def line_list(
    request: HttpRequest, job_id: int, flt: Query[LineFilter], page: Query[CursorParams]
) -> dict[str, Any]:
    """The bank lines of a payments import, in file order within a page."""
    job = _job(request, job_id)
    if flt.status and flt.status not in StatementLine.Status.values:
        raise ValidationError(
            {
                "status": _("Choose one of %(expected)s.")
                % {"expected": ", ".join(StatementLine.Status.values)}
            }
        )
    return paginate(selectors.job_lines(job, flt.status), page, LineOut.from_line)


@router.get("/imports/{job_id}/lines/{line_id}", response=LineOut)
def line_detail(request: HttpRequest, job_id: int, line_id: int) -> LineOut:
    job = _job(request, job_id)
    return LineOut.from_line(selectors.access_line(job, line_id))


@router.post("/imports/{job_id}/lines/{line_id}/assign", response=LineOut)
def line_assign(request: HttpRequest, job_id: int, line_id: int, payload: AssignIn) -> LineOut:
    """Send an ambiguous or unmatched line (or a wrong match) to an account; it is posted
    with the other matched lines."""
    job = _job(request, job_id)
    line = selectors.access_line(job, line_id)
    account = accounts_visible_to(request.user).filter(pk=payload.account).first()
    if account is None:  # unknown and out of scope read the same
        raise ValidationError({"account": _("No such account: %(pk)s.") % {"pk": payload.account}})
    payments.line_assign(line, account, actor=request.user, note=payload.note)
    return LineOut.from_line(selectors.access_line(job, line_id))


@router.post("/imports/{job_id}/lines/{line_id}/skip", response=LineOut)
def line_skip(request: HttpRequest, job_id: int, line_id: int, payload: SkipIn) -> LineOut:
    """Leave a line out of posting, saying why."""
    job = _job(request, job_id)
    line = selectors.access_line(job, line_id)
    payments.line_skip(line, actor=request.user, note=payload.note)
    return LineOut.from_line(selectors.access_line(job, line_id))


@router.post("/imports/{job_id}/post", response=PostOut)
def post_matched(request: HttpRequest, job_id: int) -> PostOut:
    """Post every matched line, each once: calling it again posts nothing new."""
    job = _job(request, job_id)
    before = selectors.line_counts(job)
    job = jobs.payments_post_matched(job, actor=request.user)
    after = selectors.line_counts(job)
    return PostOut(**selectors.posting_outcome(before, after), job_status=job.status, counts=after)
