"""API endpoints of the XLSX exports: the ledger and the aging summary.

They take the parameters of ``GET /accounts`` and ``GET /aging`` and answer with the workbook
the web pages give for the same filter: the same scope (ledger.selectors), the same masking,
the same audit event. Too many rows for one sheet is a 422 asking to narrow the filter.
"""

from __future__ import annotations

import datetime as dt
import tempfile
from typing import Literal

from django.http import FileResponse, HttpRequest
from django.utils import timezone
from ninja import Field, Query, Router

from huikuan.intake import export
from huikuan.intake.views_export import xlsx_response
from huikuan.ledger import selectors, services
from huikuan.ledger.schemas import AccountFilter

router = Router(tags=["export"])

SortKey = Literal[
    "dpd", "-dpd", "outstanding", "-outstanding", "contract", "-contract", "debtor", "-debtor",
    "status", "-status",
]  # fmt: skip


class LedgerExportFilter(AccountFilter):
    sort: SortKey = Field("-dpd", description="The ledger list's order; `-` for descending.")


def _today(request: HttpRequest, portfolio_id: int | None) -> dt.date:
    """Today in the filtered portfolio's time zone, else in the site's (as ``GET /accounts``)."""
    if portfolio_id is not None and (
        portfolio := selectors.portfolios_visible_to(request.user).filter(pk=portfolio_id).first()
    ):
        return services.portfolio_today(portfolio)
    return timezone.localdate()


@router.get("/ledger/export.xlsx", summary="Export the ledger to XLSX")
def ledger_export(request: HttpRequest, flt: Query[LedgerExportFilter]) -> FileResponse:
    """The accounts ``GET /accounts`` lists for these parameters, one row each."""
    ledger_filter = selectors.LedgerFilter(
        portfolio=flt.portfolio,
        status=flt.status or "",
        bucket=flt.bucket,
        dpd_min=flt.dpd_min,
        dpd_max=flt.dpd_max,
        amount_min=flt.amount_min,
        amount_max=flt.amount_max,
        text=flt.q,
        sort=flt.sort,
    )
    as_of = flt.as_of or _today(request, flt.portfolio)
    file = tempfile.TemporaryFile()  # noqa: SIM115 — FileResponse closes it when sent
    try:
        result = export.ledger_export(
            file, actor=request.user, flt=ledger_filter, as_of=as_of, via="api"
        )
    except BaseException:
        file.close()
        raise
    return xlsx_response(file, result)


@router.get("/aging/export.xlsx", summary="Export the aging summary to XLSX")
def aging_export(
    request: HttpRequest, as_of: dt.date | None = None, portfolio: int | None = None
) -> FileResponse:
    """The figures of ``GET /aging`` for these parameters: buckets as columns, totals."""
    when = as_of or _today(request, portfolio)
    file = tempfile.TemporaryFile()  # noqa: SIM115 — FileResponse closes it when sent
    try:
        result = export.aging_export(
            file, actor=request.user, as_of=when, portfolio=portfolio, via="api"
        )
    except BaseException:
        file.close()
        raise
    return xlsx_response(file, result)
