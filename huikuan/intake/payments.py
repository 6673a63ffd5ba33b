"""The payments import (services): bank lines stored and matched, decided by a person, posted.

    bank file ──► statement_load ──► lines: matched | ambiguous | unmatched | ignored | duplicate
                                        │ line_assign (a person picks the account) ──► matched
                                        │ line_skip (with a note) ──► skipped
                  statement_post ◄──────┘ matched ──► posted (one payment each)

- **Loading** is set-based: the file is read into one frame (:mod:`statements`, camt.053 or an
  export), the creditor's accounts into another (one query, :mod:`payments_selectors`), lines
  whose idempotency key already has a payment are ``duplicate``, the rest go through
  :func:`matching.match_lines`, and every line is written with one ``bulk_create``. Rows that
  could not be read are counted as errors and written to the job's error report.
- **Posting** goes through ``ledger.services.payment_post`` with the line's idempotency key,
  so allocation follows the portfolio's order and a line is never paid twice: not when
  ``statement_post`` runs twice, not when the same statement was imported twice (the second
  job's lines are ``duplicate``), not when two jobs race (the loser finds the payment and
  marks its line ``duplicate``). Each line is posted in a transaction of its own, with its
  status and audit event, so a crash halfway leaves posted lines posted and the rest matched.
  A line the ledger refuses (a closed account, say) goes back to ``unmatched`` for a person,
  the reason in its note.
- **Decisions** (assign, skip) are a person's, audited with the old and new state.

Who may: posting and deciding need ``ledger.post_payment`` (manager, finance); ``actor=None``
is the server's operator on the command line.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import polars as pl
from django.conf import settings
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction

from huikuan.audit.services import audit_record
from huikuan.iam.roles import POST_PAYMENT
from huikuan.intake import messages
from huikuan.intake import payments_selectors as selectors
from huikuan.intake.matching import match_lines
from huikuan.intake.models import ImportJob, StatementLine
from huikuan.intake.statements import StatementFile, read_bank_file, stored_text
from huikuan.ledger.domain import AccountStatus
from huikuan.ledger.models import Account, Payment, Portfolio
from huikuan.ledger.selectors import account_scope, accounts_visible_to
from huikuan.ledger.services import IdempotencyConflict, payment_post
from huikuan.lib._translate import _
from huikuan.lib.money import from_minor

Progress = Callable[[str, int, int], None]
Status = StatementLine.Status
RULE_MANUAL = "manual"  # StatementLine.rule when a person chose the account
COUNTED = ("matched", "ambiguous", "unmatched", "ignored", "duplicate")
_BATCH = 1000


def _can_post(actor: Any) -> None:
    if actor is not None and not actor.has_perm(POST_PAYMENT):
        raise PermissionDenied


def _quiet(phase: str, done: int, total: int) -> None:
    """The progress callback when nobody listens."""


# --- loading --------------------------------------------------------------------------------


def statement_load(
    job: ImportJob,
    path: Path | str,
    *,
    mapping: Mapping[int, str] | None = None,
    progress: Progress | None = None,
    report_path: Path | None = None,
) -> dict[str, int]:
    """Read a bank file into the job's lines, matched against the creditor's accounts.

    Returns the counts: ``lines``, ``matched``, ``ambiguous``, ``unmatched``, ``ignored``,
    ``duplicate`` and ``errors`` (rows or entries that could not be read; they are listed in
    ``report_path``, by default the job's error report). Raises :class:`IntakeError` when the
    file as a whole cannot be read; nothing is stored then. A job that already has lines is
    left as it is (the task ran twice) and its counts are returned again.
    """
    report = progress or _quiet
    if StatementLine.objects.filter(job=job).exists():
        counts = selectors.line_counts(job)
        return {
            "lines": sum(counts.values()),
            **{name: counts.get(name, 0) for name in COUNTED},
            "errors": int(job.counts.get("errors", 0)),
        }
    report("validate", 0, 0)
    parsed = read_bank_file(
        path,
        mapping=mapping,
        scope=str(job.creditor_id),
        sheet=job.sheet or None,
        default_currency=_default_currency(job),
        tz=_time_zone(job),
        language=job.language,
        on_rows=lambda rows: report("validate", rows, 0),
    )
    total = parsed.lines.height
    report("match", 0, total)
    decided = _decide(job, parsed.lines)
    lines = _line_objects(job, decided)
    with transaction.atomic():
        StatementLine.objects.bulk_create(lines, batch_size=_BATCH)
    _write_report(job, parsed, report_path)
    report("match", total, total)
    statuses = decided.get_column("status").value_counts()
    found = dict(zip(statuses["status"].to_list(), statuses["count"].to_list(), strict=True))
    return {
        "lines": total,
        **{name: int(found.get(name, 0)) for name in COUNTED},
        "errors": parsed.errors.height,
    }


def _default_currency(job: ImportJob) -> str:
    """The currency of a line whose export has no currency column: the portfolio's, or the
    creditor's when all its portfolios agree, else CNY."""
    if job.portfolio is not None:
        return job.portfolio.currency
    currencies = set(
        Portfolio.objects.filter(creditor_id=job.creditor_id).values_list("currency", flat=True)
    )
    return currencies.pop() if len(currencies) == 1 else "CNY"


def _time_zone(job: ImportJob) -> dt.tzinfo:
    """camt.053 date-times become dates in the portfolio's zone (the site's without one)."""
    return ZoneInfo(job.portfolio.timezone if job.portfolio is not None else settings.TIME_ZONE)


def _decide(job: ImportJob, lines: pl.DataFrame) -> pl.DataFrame:
    """The lines with status, account, candidates, rule and (for duplicates) the payment."""
    known = selectors.payments_by_key(lines.get_column("idempotency_key").to_list())
    paid = pl.DataFrame(
        {
            "idempotency_key": list(known),
            "paid_payment": [payment for payment, _account in known.values()],
            "paid_account": [account for _payment, account in known.values()],
        },
        schema={"idempotency_key": pl.String, "paid_payment": pl.Int64, "paid_account": pl.Int64},
    )
    fresh = lines.join(paid, on="idempotency_key", how="anti")
    accounts = selectors.accounts_frame(selectors.creditor_accounts(job))
    matched = match_lines(fresh, accounts)
    duplicate = pl.col("paid_payment").is_not_null()
    return (
        lines.join(matched, on="line_id", how="left")
        .join(paid, on="idempotency_key", how="left")
        .with_columns(
            status=pl.when(duplicate).then(pl.lit(Status.DUPLICATE.value)).otherwise("status"),
            account_id=pl.when(duplicate).then("paid_account").otherwise("account_id"),
            candidates=pl.when(duplicate)
            .then(pl.lit([], dtype=pl.List(pl.Int64)))
            .otherwise("candidates"),
            rule=pl.when(duplicate).then(pl.lit("")).otherwise("rule"),
            text=stored_text(pl.col("remittance_text"), pl.col("reference")),
        )
        .sort("line_id")
    )


def _line_objects(job: ImportJob, decided: pl.DataFrame) -> list[StatementLine]:
    # Building the objects is Python per line; writing them is one bulk insert per batch.
    return [
        StatementLine(
            job=job,
            line_no=row["line_no"],
            booking_date=row["booking_date"],
            value_date=row["value_date"],
            amount=from_minor(row["amount_fen"], "CNY"),
            currency=row["currency"],
            direction=row["direction"],
            payer_name=(row["payer_name"] or "")[:200],
            payer_account=(row["payer_account"] or "")[:64],
            remittance_text=row["text"] or "",
            bank_reference=(row["bank_reference"] or "")[:128],
            idempotency_key=row["idempotency_key"],
            status=row["status"],
            rule="" if row["rule"] in (None, "none") else row["rule"],
            account_id=row["account_id"],
            candidates=list(row["candidates"] or []),
            payment_id=row["paid_payment"],
        )
        for row in decided.iter_rows(named=True)
    ]


def _write_report(job: ImportJob, parsed: StatementFile, path: Path | None) -> None:
    """The rows that could not be read, as a CSV a spreadsheet opens (UTF-8 with BOM)."""
    if parsed.errors.is_empty():
        return
    if path is None:
        from huikuan.intake.jobs import report_file

        path = report_file(job)
    with messages.language(job.language):
        labels = {"row": _("Row"), "field": _("Column"), "message": _("Error")}
    parsed.errors.select(list(labels)).rename(labels).write_csv(path, include_bom=True)


# --- posting --------------------------------------------------------------------------------


def statement_post(job: ImportJob, *, actor: Any) -> dict[str, int]:
    """Post every matched line of the job that has no payment yet; safe to call again.

    Returns ``posted`` (new payments), ``duplicate`` (the bank line already had a payment:
    the same statement imported twice) and ``refused`` (the ledger refused the payment; the
    line went back to ``unmatched`` with the reason in its note).
    """
    _can_post(actor)
    pending = StatementLine.objects.filter(
        job=job, status=Status.MATCHED, payment__isnull=True, account__isnull=False
    )
    if actor is not None and account_scope(actor) is not None:
        # Someone with a narrower scope posts the lines of their accounts only.
        pending = pending.filter(account__in=accounts_visible_to(actor))
    counts = {"posted": 0, "duplicate": 0, "refused": 0}
    for line_id in pending.order_by("line_no").values_list("pk", flat=True):
        outcome = _post_line(line_id, actor)
        if outcome:
            counts[outcome] += 1
    return counts


def _post_line(line_id: int, actor: Any) -> str | None:
    with transaction.atomic():
        line = (
            StatementLine.objects.select_for_update(of=("self",))
            .select_related("account", "account__portfolio")
            .get(pk=line_id)
        )
        if line.status != Status.MATCHED or line.payment_id or line.account is None:
            return None  # decided or posted meanwhile
        prior = Payment.objects.filter(idempotency_key=line.idempotency_key).first()
        if prior is not None:
            _line_change(
                line, actor, "payments.line_duplicate", status=Status.DUPLICATE, payment=prior
            )
            return "duplicate"
        account = line.account
        try:
            if account.currency != line.currency:
                raise ValidationError(
                    _("The line is in %(line)s, but account %(contract)s is in %(account)s.")
                    % {
                        "line": line.currency,
                        "contract": account.contract_no,
                        "account": account.currency,
                    }
                )
            with transaction.atomic():  # a refusal rolls back to here, the line stays lockable
                payment = payment_post(
                    account=account,
                    amount=line.amount,
                    received_on=line.booking_date,
                    method=Payment.Method.BANK_TRANSFER,
                    actor=actor,
                    reference=line.bank_reference[:100],
                    idempotency_key=line.idempotency_key,
                )
        except (ValidationError, IdempotencyConflict) as exc:
            reason = " ".join(exc.messages) if isinstance(exc, ValidationError) else str(exc)
            note = _("Not posted to %(contract)s: %(reason)s") % {
                "contract": account.contract_no,
                "reason": reason,
            }
            _line_change(
                line,
                actor,
                "payments.line_refused",
                status=Status.UNMATCHED,
                account=None,
                candidates=[account.pk],
                note=note,
            )
            return "refused"
        _line_change(line, actor, "payments.line_post", status=Status.POSTED, payment=payment)
        return "posted"


# --- a person's decisions -------------------------------------------------------------------


def line_assign(
    line: StatementLine, account: Account, *, actor: Any, note: str = ""
) -> StatementLine:
    """A person picks the account of a line (ambiguous, unmatched, or matched wrongly); it is
    then posted with the other matched lines. Only the job's creditor's open accounts the
    person may see, in the line's currency."""
    _can_post(actor)
    with transaction.atomic():
        locked = _locked_open(line)
        job = locked.job
        _check_account(locked, job, account, actor)
        _line_change(
            locked,
            actor,
            "payments.line_assign",
            status=Status.MATCHED,
            account=account,
            rule=RULE_MANUAL,
            note=note.strip(),
            decided_by=actor,
        )
    return locked


def _check_account(line: StatementLine, job: ImportJob, account: Account, actor: Any) -> None:
    # Another creditor's account and one out of the person's scope read the same: no leak.
    visible = actor is None or accounts_visible_to(actor).filter(pk=account.pk).exists()
    if account.creditor_id != job.creditor_id or not visible:
        raise ValidationError(
            {"account": _("Choose one of %(creditor)s's accounts.") % {"creditor": job.creditor}}
        )
    if account.status == AccountStatus.CLOSED:
        raise ValidationError(
            {
                "account": _("Account %(contract)s is closed; it cannot take a payment.")
                % {"contract": account.contract_no}
            }
        )
    if job.portfolio_id and account.portfolio_id != job.portfolio_id:
        raise ValidationError(
            {
                "account": _("Account %(contract)s is not in the portfolio %(portfolio)s.")
                % {"contract": account.contract_no, "portfolio": job.portfolio}
            }
        )
    if account.currency != line.currency:
        raise ValidationError(
            {
                "account": _(
                    "Line %(line)s is in %(line_currency)s, but account %(contract)s is in "
                    "%(currency)s."
                )
                % {
                    "line": line.line_no,
                    "line_currency": line.currency,
                    "contract": account.contract_no,
                    "currency": account.currency,
                }
            }
        )


def line_skip(line: StatementLine, *, actor: Any, note: str) -> StatementLine:
    """A person leaves a line out of posting (not our money, posted by hand...), saying why."""
    _can_post(actor)
    if not note.strip():
        raise ValidationError({"note": _("Say why the line is skipped.")})
    with transaction.atomic():
        locked = _locked_open(line)
        _line_change(
            locked,
            actor,
            "payments.line_skip",
            status=Status.SKIPPED,
            account=None,
            note=note.strip(),
            decided_by=actor,
        )
    _settle(locked.job, actor)
    return locked


def _settle(job: ImportJob, actor: Any) -> None:
    """Close the job once no line waits for a person (the job lifecycle's rule)."""
    from huikuan.intake.jobs import payments_job_settle

    payments_job_settle(job, actor=actor)


def _locked_open(line: StatementLine) -> StatementLine:
    locked = (
        StatementLine.objects.select_for_update(of=("self",))
        .select_related("job", "job__creditor", "job__portfolio")
        .get(pk=line.pk)
    )
    if locked.status not in selectors.OPEN:
        raise ValidationError(
            {
                "status": _("Line %(line)s is “%(status)s”; it can no longer be changed.")
                % {"line": locked.line_no, "status": locked.get_status_display()}
            }
        )
    return locked


# --- one audited change of a line -----------------------------------------------------------

_AUDITED = ("status", "account", "payment", "candidates", "rule", "note", "decided_by")


def _line_change(line: StatementLine, actor: Any, action: str, **new: Any) -> None:
    """Set fields of a locked line, save them, and audit old → new in the same transaction."""
    changes: dict[str, list[Any]] = {}
    fields = []
    for name, value in new.items():
        attname = f"{name}_id" if name in ("account", "payment", "decided_by") else name
        old = getattr(line, attname)
        value_key = value.pk if hasattr(value, "pk") else value
        setattr(line, name, value)
        fields.append(name)
        if old != value_key and name in _AUDITED:
            changes[name] = [old, value_key]
    line.save(update_fields=fields)
    audit_record(
        actor=actor,
        action=action,
        obj=line,
        changes=changes,
        reason=str(new.get("note", "")),
    )
