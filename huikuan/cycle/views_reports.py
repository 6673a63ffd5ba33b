"""What managers see: aging on any past date, roll rates between two dates, accounts per
segment and step, and a day's planned actions (all ``VIEW_ALL``; sums, never one account)."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any
from urllib.parse import urlencode

from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.urls import reverse
from django.utils import timezone

from huikuan.cycle import reports, selectors
from huikuan.cycle.forms import ActionsForm, DoneDateForm, RollForm, SegmentDateForm
from huikuan.cycle.views import require_any
from huikuan.iam.models import Team
from huikuan.iam.roles import VIEW_ALL
from huikuan.ledger.models import Portfolio
from huikuan.lib.views import is_partial
from huikuan.strategy.models import Segment, StrategyStep


def _page(request: HttpRequest, name: str, context: dict[str, Any]) -> HttpResponse:
    """The whole page, or only its results for an HTMX swap."""
    context["report"] = name
    template = f"cycle/_{name}.html" if is_partial(request) else f"cycle/report_{name}.html"
    return render(request, template, context)


def _date_form(form_class: Any, request: HttpRequest, **kwargs: Any) -> tuple[Any, Any, Any]:
    """The form, its date (the latest with a run unless chosen) and portfolio."""
    dates = selectors.done_dates()
    initial = {"as_of": dates[0].isoformat()} if dates else {}
    form = form_class(request.GET or None, dates=dates, initial=initial, **kwargs)
    if form.is_bound and form.is_valid():
        return form, form.cleaned_data["as_of"], form.cleaned_data.get("portfolio")
    return form, (dates[0] if dates and not form.is_bound else None), None


@login_required
def aging(request: HttpRequest) -> HttpResponse:
    require_any(request.user, VIEW_ALL)
    form, as_of, portfolio = _date_form(
        DoneDateForm, request, portfolios=Portfolio.objects.order_by("name")
    )
    report = selectors.aging_report(as_of, portfolio=portfolio) if as_of else None
    return _page(request, "aging", {"form": form, "result": report, "as_of": as_of})


@login_required
def roll_rates(request: HttpRequest) -> HttpResponse:
    require_any(request.user, VIEW_ALL)
    dates = selectors.done_dates()
    initial = {}
    if len(dates) >= 2:
        initial = {"first": dates[1].isoformat(), "second": dates[0].isoformat()}
    portfolios = Portfolio.objects.order_by("name")
    form = RollForm(request.GET or None, dates=dates, initial=initial, portfolios=portfolios)
    result = None
    if form.is_bound and form.is_valid():
        data = form.cleaned_data
        result = selectors.roll_rates(data["first"], data["second"], portfolio=data["portfolio"])
    elif not form.is_bound and len(dates) >= 2:
        result = selectors.roll_rates(dates[1], dates[0])
    return _page(request, "rolls", {"form": form, "result": result})


def ledger_url(conditions: dict[str, Any]) -> str | None:
    """The ledger list filtered by a segment's conditions, when the ledger has a filter for
    each of them (DPD, amount, one bucket); None otherwise. The ledger counts DPD to today and
    shows accounts an earlier rule takes too: it lists the rule's accounts, not the segment's."""
    allowed = {"dpd_min", "dpd_max", "amount_min_fen", "amount_max_fen", "buckets"}
    if not conditions or set(conditions) - allowed:
        return None
    low, high = conditions.get("dpd_min"), conditions.get("dpd_max")
    # The ledger's DPD is never negative: "from 0" would let in the accounts not yet due.
    if (low is not None and low < 1) or (high is not None and high < 0):
        return None
    buckets = conditions.get("buckets") or []
    if len(buckets) > 1:
        return None
    params: dict[str, Any] = {}
    if low is not None:
        params["dpd_min"] = low
    if high is not None:
        params["dpd_max"] = high
    for name in ("amount_min", "amount_max"):
        if (value := conditions.get(f"{name}_fen")) is not None:
            params[name] = str(Decimal(value) / 100)
    if buckets:
        params["bucket"] = buckets[0]
    return f"{reverse('web:ledger')}?{urlencode(params)}"


@login_required
def segments(request: HttpRequest) -> HttpResponse:
    require_any(request.user, VIEW_ALL)
    form, as_of, _portfolio = _date_form(SegmentDateForm, request)
    run = selectors.latest_done_run(as_of) if as_of else None
    lines = selectors.segment_steps(run) if run else []
    known = {s.code: s for s in Segment.objects.all()}
    step_names = dict(StrategyStep.objects.order_by("strategy_id").values_list("code", "name"))
    groups: dict[str, dict[str, Any]] = {}
    for line in lines:
        segment = known.get(line.segment)
        group = groups.setdefault(
            line.segment,
            {
                "code": line.segment,
                "name": segment.name if segment else line.segment,
                "position": segment.position if segment else 10**9,
                "url": ledger_url(segment.conditions) if segment else None,
                "steps": [],
                "accounts": 0,
                "outstanding": Decimal("0.00"),
            },
        )
        group["steps"].append({"line": line, "name": step_names.get(line.step, line.step)})
        group["accounts"] += line.accounts
        group["outstanding"] += line.outstanding
    ordered = sorted(groups.values(), key=lambda g: (not g["code"], g["position"], g["code"]))
    return _page(request, "segments", {"form": form, "run": run, "groups": ordered})


@login_required
def actions(request: HttpRequest) -> HttpResponse:
    require_any(request.user, VIEW_ALL)
    latest = selectors.latest_done_run()
    default = latest.as_of if latest else timezone.localdate()
    form = ActionsForm(request.GET or None, initial={"as_of": default})
    as_of: dt.date | None = default
    if form.is_bound:
        as_of = form.cleaned_data["as_of"] if form.is_valid() else None
    rows: list[dict[str, Any]] = []
    if as_of is not None:
        teams = dict(Team.Kind.choices)
        channels = dict(StrategyStep.Channel.choices)
        for r in selectors.planned_actions(as_of).iter_rows(named=True):
            rows.append(
                {
                    **r,
                    "team_label": teams.get(r["team_kind"], r["team_kind"]),
                    "channel_label": channels.get(r["channel"], r["channel"]),
                    "outstanding": reports.money(r["outstanding_fen"]),
                    "overdue": reports.money(r["overdue_fen"]),
                }
            )
    totals: dict[str, Any] = {k: sum(r[k] for r in rows) for k in ("actions", "done", "accounts")}
    totals |= {k: sum((r[k] for r in rows), Decimal("0.00")) for k in ("outstanding", "overdue")}
    return _page(request, "actions", {"form": form, "as_of": as_of, "rows": rows, "totals": totals})
