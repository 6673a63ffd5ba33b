"""API of the daily cycle: start a run (202, it goes on in the background), read runs, and the
managers' reports as JSON. Money is a decimal string, as everywhere in the API."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any

from django.core.exceptions import PermissionDenied, ValidationError
from django.http import HttpRequest
from django.utils.translation import gettext as _
from ninja import Field, Query, Router, Schema

from huikuan.api.pagination import CursorParams, Page, paginate
from huikuan.cycle import reports, selectors, services
from huikuan.cycle.models import CycleRun
from huikuan.iam.roles import RUN_CYCLE, VIEW_ALL

router = Router()


def _require(request: HttpRequest, *permissions: str) -> None:
    if not any(request.user.has_perm(p) for p in permissions):
        raise PermissionDenied


class RunOut(Schema):
    id: int
    as_of: dt.date
    status: str
    status_label: str
    partitions: int
    partitions_done: list[int]
    counts: dict[str, int]
    seconds: dict[str, float] = Field(description="Seconds by phase: read, compute, write.")
    message: str
    started_by: str | None
    started_at: dt.datetime
    finished_at: dt.datetime | None

    @staticmethod
    def from_run(run: CycleRun) -> RunOut:
        return RunOut(
            id=run.pk,
            as_of=run.as_of,
            status=run.status,
            status_label=str(run.get_status_display()),
            partitions=run.partitions,
            partitions_done=list(run.partitions_done),
            counts=dict(run.counts),
            seconds=dict(run.timings),
            message=run.message,
            started_by=run.started_by.get_username() if run.started_by else None,
            started_at=run.started_at,
            finished_at=run.finished_at,
        )


class RunIn(Schema):
    as_of: dt.date = Field(description="The business date to run for.")
    partitions: int = Field(1, ge=1, le=64, description="Tasks the run is split into.")
    rebuild: bool = False


@router.post("/cycle/runs", response={202: RunOut})
def run_create(request: HttpRequest, payload: RunIn) -> tuple[int, RunOut]:
    """Start (or resume) the run of a date; poll ``GET /cycle/runs/{id}`` until it is done."""
    _require(request, RUN_CYCLE)
    run = services.cycle_enqueue(
        as_of=payload.as_of,
        actor=request.user,
        partitions=payload.partitions,
        rebuild=payload.rebuild,
    )
    return 202, RunOut.from_run(run)


@router.get("/cycle/runs", response=Page[RunOut])
def run_list(request: HttpRequest, page: Query[CursorParams]) -> dict[str, Any]:
    _require(request, RUN_CYCLE, VIEW_ALL)
    return paginate(selectors.runs(), page, RunOut.from_run)


@router.get("/cycle/runs/{run_id}", response=RunOut)
def run_detail(request: HttpRequest, run_id: int) -> RunOut:
    _require(request, RUN_CYCLE, VIEW_ALL)
    return RunOut.from_run(selectors.access_run(run_id))


# --- reports ----------------------------------------------------------------------------------


def _run_date(as_of: dt.date | None) -> dt.date:
    if as_of is not None:
        return as_of
    latest = selectors.latest_done_run()
    if latest is None:
        raise ValidationError({"as_of": _("The cycle has not finished a run yet.")})
    return latest.as_of


class AgingLineOut(Schema):
    bucket: str
    label: str
    accounts: int
    outstanding: Decimal
    overdue: Decimal
    share: Decimal = Field(description="Per cent of the portfolio's outstanding.")


class AgingTableOut(Schema):
    portfolio_id: int
    portfolio: str
    currency: str
    accounts: int
    outstanding: Decimal
    overdue: Decimal
    buckets: list[AgingLineOut]


class AgingOut(Schema):
    as_of: dt.date
    run_id: int | None
    portfolios: list[AgingTableOut]


@router.get("/cycle/reports/aging", response=AgingOut)
def aging(
    request: HttpRequest, as_of: dt.date | None = None, portfolio: int | None = None
) -> dict[str, Any]:
    """Aging on a date from its latest finished run (default: the latest run's date)."""
    _require(request, VIEW_ALL)
    report = selectors.aging_report(_run_date(as_of), portfolio=portfolio)
    return {
        "as_of": report.as_of,
        "run_id": report.run.pk if report.run else None,
        "portfolios": [
            {
                **{k: getattr(t, k) for k in ("portfolio_id", "portfolio", "currency")},
                **{k: getattr(t, k) for k in ("accounts", "outstanding", "overdue")},
                "buckets": [
                    {
                        "bucket": line.bucket.code,
                        "label": line.bucket.label,
                        "accounts": line.accounts,
                        "outstanding": line.outstanding,
                        "overdue": line.overdue,
                        "share": line.share,
                    }
                    for line in t.lines
                ],
            }
            for t in report.tables
        ],
    }


class RollCellOut(Schema):
    to_bucket: str
    accounts: int
    amount: Decimal
    accounts_share: Decimal
    amount_share: Decimal


class RollRowOut(Schema):
    from_bucket: str
    accounts: int
    amount: Decimal
    to: list[RollCellOut]


class RollOut(Schema):
    first: dt.date
    second: dt.date
    buckets: list[str]
    rows: list[RollRowOut]


@router.get("/cycle/reports/roll-rates", response=RollOut)
def roll_rates(
    request: HttpRequest, first: dt.date, second: dt.date, portfolio: int | None = None
) -> dict[str, Any]:
    """From-bucket × to-bucket between two dates (see the page for the rule of accounts found
    on one date only); shares are per cent of each from-row."""
    _require(request, VIEW_ALL)
    if first >= second:
        raise ValidationError({"second": _("Choose a date after the from date.")})
    result = selectors.roll_rates(first, second, portfolio=portfolio)
    codes = [b.code for b in result.buckets]
    return {
        "first": first,
        "second": second,
        "buckets": codes,
        "rows": [
            {
                "from_bucket": row.bucket,
                "accounts": row.accounts,
                "amount": row.amount,
                "to": [
                    {"to_bucket": code, **vars(cell)}
                    for code, cell in zip(codes, row.cells, strict=True)
                ],
            }
            for row in result.rows
        ],
    }


class SegmentStepOut(Schema):
    segment: str
    step: str
    accounts: int
    outstanding: Decimal
    overdue: Decimal


class SegmentsOut(Schema):
    as_of: dt.date
    run_id: int | None
    rows: list[SegmentStepOut]


@router.get("/cycle/reports/segments", response=SegmentsOut)
def segments(request: HttpRequest, as_of: dt.date | None = None) -> dict[str, Any]:
    _require(request, VIEW_ALL)
    when = _run_date(as_of)
    run = selectors.latest_done_run(when)
    rows = selectors.segment_steps(run) if run else []
    return {"as_of": when, "run_id": run.pk if run else None, "rows": [vars(r) for r in rows]}


class ActionsRowOut(Schema):
    team_kind: str
    channel: str
    actions: int
    done: int
    accounts: int
    outstanding: Decimal
    overdue: Decimal


class ActionsOut(Schema):
    as_of: dt.date
    rows: list[ActionsRowOut]


@router.get("/cycle/reports/planned-actions", response=ActionsOut)
def planned_actions(request: HttpRequest, as_of: dt.date | None = None) -> dict[str, Any]:
    _require(request, VIEW_ALL)
    when = _run_date(as_of)
    frame = selectors.planned_actions(when)
    rows = [
        {
            **{k: r[k] for k in ("team_kind", "channel", "actions", "done", "accounts")},
            "outstanding": reports.money(r["outstanding_fen"]),
            "overdue": reports.money(r["overdue_fen"]),
        }
        for r in frame.iter_rows(named=True)
    ]
    return {"as_of": when, "rows": rows}
