"""The segment editor with its live preview, and the strategy versions and their steps.

Reading takes ``MANAGE_STRATEGY`` or ``VIEW_ALL``; changing (and the preview, which reads every
account) takes ``MANAGE_STRATEGY``.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from huikuan.cycle import selectors as cycle_selectors
from huikuan.iam.roles import MANAGE_STRATEGY, VIEW_ALL
from huikuan.ledger.selectors import bucket_codes
from huikuan.lib.money import format_amount
from huikuan.lib.views import add_service_errors
from huikuan.strategy import domain, services
from huikuan.strategy import selectors as strategy_selectors
from huikuan.strategy.forms import SegmentForm, segment_initial
from huikuan.strategy.models import Segment, Strategy


def require_read(user: Any) -> None:
    if not (user.has_perm(MANAGE_STRATEGY) or user.has_perm(VIEW_ALL)):
        raise PermissionDenied


def require_manage(user: Any) -> None:
    if not user.has_perm(MANAGE_STRATEGY):
        raise PermissionDenied


def _strategy_codes() -> list[str]:
    return list(Strategy.objects.order_by("code").values_list("code", flat=True).distinct())


def _segment_form(
    data: Any = None, *, segment: Segment | None = None, **kwargs: Any
) -> SegmentForm:
    return SegmentForm(
        data,
        buckets=bucket_codes(),
        strategy_codes=_strategy_codes(),
        editing=segment is not None,
        initial=segment_initial(segment) if segment else {"position": _next_position()},
        **kwargs,
    )


def _next_position() -> int:
    last = Segment.objects.order_by("-position").values_list("position", flat=True).first()
    return (last or 0) + 10


# --- the preview ------------------------------------------------------------------------------


@dataclass
class PreviewRow:
    position: int
    code: str
    name: str
    active: bool
    edited: bool
    accounts: int = 0
    outstanding: Decimal = Decimal("0.00")
    accounts_now: int = 0
    outstanding_now: Decimal = Decimal("0.00")

    @property
    def change(self) -> int:
        return self.accounts - self.accounts_now


def _rules(rows: list[PreviewRow], conditions: dict[str, dict[str, Any]]) -> list[Any]:
    return [
        domain.SegmentRule(r.code, domain.Condition.from_json(conditions[r.code]))
        for r in rows
        if r.active
    ]


def _counts(frame: Any, rules: list[Any]) -> dict[str | None, tuple[int, int]]:
    preview = domain.segment_preview(frame, rules)
    return {
        r["segment"]: (r["accounts"], r["outstanding_fen"]) for r in preview.iter_rows(named=True)
    }


def preview(edited: SegmentForm | None, segment: Segment | None) -> dict[str, Any]:
    """Each rule's accounts and money today under the edited rule set, beside what the saved
    rules take: the edited segment's saved version replaced by (or, new, joined by) the
    form's, at the form's position."""
    saved = list(Segment.objects.order_by("position", "id"))
    rows = [PreviewRow(s.position, s.code, s.name, s.active, False) for s in saved]
    conditions = {s.code: s.conditions for s in saved}
    if edited is not None:
        edited.is_valid()  # the preview uses the fields that are valid
        data = edited.cleaned_data
        code = segment.code if segment else (data.get("code") or "new")
        row = next((r for r in rows if segment and r.code == segment.code), None)
        if row is None:
            row = PreviewRow(0, code, data.get("name") or code, True, True)
            rows.append(row)
        row.edited, row.active = True, bool(data.get("active"))
        row.name = data.get("name") or row.name
        if data.get("position") is not None:
            row.position = data["position"]
        conditions[code] = edited.conditions()
    # A tie in position: the segment being edited goes first, as saving it then would not.
    rows.sort(key=lambda r: (r.position, not r.edited))
    frame = cycle_selectors.preview_accounts(timezone.localdate())
    after = _counts(frame, _rules(rows, conditions))
    before = _counts(frame, strategy_selectors.segment_rules())
    for r in rows:
        r.accounts, fen_after = after.get(r.code, (0, 0)) if r.active else (0, 0)
        r.outstanding = Decimal(fen_after) / 100
        r.accounts_now, fen_now = before.get(r.code, (0, 0))
        r.outstanding_now = Decimal(fen_now) / 100
    left, left_fen = after.get(None, (0, 0))
    return {
        "rows": rows,
        "left": left,
        "left_amount": Decimal(left_fen) / 100,
        "total": frame.height,
        "as_of": timezone.localdate(),
    }


# --- segments ---------------------------------------------------------------------------------


def describe(conditions: dict[str, Any]) -> list[str]:
    """A rule's conditions in words, one item per condition."""
    c = domain.Condition.from_json(conditions)
    parts = []
    for label, low, high, money in (
        (_("DPD"), c.dpd_min, c.dpd_max, False),
        (_("Outstanding"), c.amount_min_fen, c.amount_max_fen, True),
        (_("Score"), c.score_min, c.score_max, False),
    ):
        if low is None and high is None:
            continue
        show = (lambda v: format_amount(Decimal(v) / 100)) if money else str
        if high is None:
            parts.append(f"{label} ≥ {show(low)}")
        elif low is None:
            parts.append(f"{label} ≤ {show(high)}")
        else:
            parts.append(f"{label} {show(low)}–{show(high)}")
    for label, values in (
        (_("Buckets"), c.buckets),
        (_("Products"), c.products),
        (_("Debtor kind"), c.debtor_kinds),
        (_("Regions"), c.regions),
        (_("Risk grades"), c.risk_grades),
        (_("Tags"), c.tags),
        (_("Promise"), c.promise_statuses),
        (_("Payment plan"), c.plan_statuses),
    ):
        if values:
            parts.append(f"{label}: {'、'.join(values)}")
    return parts or [_("Every account")]


@login_required
def segment_list(request: HttpRequest) -> HttpResponse:
    require_read(request.user)
    rows = [
        {"segment": s, "conditions": describe(s.conditions)}
        for s in Segment.objects.order_by("position", "id")
    ]
    can_manage = request.user.has_perm(MANAGE_STRATEGY)
    return render(request, "strategy/segment_list.html", {"rows": rows, "can_manage": can_manage})


def _segment_page(
    request: HttpRequest, form: SegmentForm, segment: Segment | None, status: int = 200
) -> HttpResponse:
    context = {"form": form, "segment": segment, "condition_fields": _condition_fields(form)}
    return render(request, "strategy/segment_edit.html", context, status=status)


CONDITION_FIELDS = (
    "buckets",
    "dpd_min",
    "dpd_max",
    "amount_min",
    "amount_max",
    "products",
    "debtor_kinds",
    "regions",
    "score_min",
    "score_max",
    "risk_grades",
    "tags",
    "promise_statuses",
    "plan_statuses",
)


def _condition_fields(form: SegmentForm) -> list[Any]:
    return [form[n] for n in CONDITION_FIELDS]


@login_required
def segment_new(request: HttpRequest) -> HttpResponse:
    require_manage(request.user)
    form = _segment_form(request.POST or None)
    if request.method == "POST":
        if form.is_valid():
            try:
                created = services.segment_create(
                    code=form.cleaned_data["code"], data=form.segment_data(), actor=request.user
                )
            except ValidationError as exc:
                add_service_errors(form, exc)
            else:
                messages.success(request, _("Segment “%(name)s” created.") % {"name": created})
                return redirect("web:segments")
        return _segment_page(request, form, None, status=422)
    return _segment_page(request, form, None)


@login_required
def segment_edit(request: HttpRequest, pk: int) -> HttpResponse:
    require_read(request.user)
    segment = get_object_or_404(Segment, pk=pk)
    if request.method == "POST":
        require_manage(request.user)
        form = _segment_form(request.POST, segment=segment)
        if form.is_valid():
            try:
                services.segment_update(
                    segment=segment, data=form.segment_data(), actor=request.user
                )
            except ValidationError as exc:
                add_service_errors(form, exc)
            else:
                messages.success(request, _("Segment “%(name)s” saved.") % {"name": segment.name})
                return redirect("web:segments")
        return _segment_page(request, form, segment, status=422)
    return _segment_page(request, _segment_form(segment=segment), segment)


@login_required
def segment_preview(request: HttpRequest) -> HttpResponse:
    """The preview table (HTMX): POST the segment form, with ``segment`` naming the saved
    segment it edits (none for a new one); GET for the saved rules."""
    require_manage(request.user)
    segment = None
    if request.POST.get("segment"):
        segment = Segment.objects.filter(pk=request.POST["segment"]).first()
        if segment is None:
            raise Http404
    form = _segment_form(request.POST, segment=segment) if request.method == "POST" else None
    context = preview(form, segment)
    return render(request, "strategy/_preview.html", {**context, "form": form})


@login_required
@require_POST
def segment_move(request: HttpRequest, pk: int) -> HttpResponse:
    require_manage(request.user)
    segment = get_object_or_404(Segment, pk=pk)
    services.segment_move(segment=segment, up=request.POST.get("to") == "up", actor=request.user)
    return redirect("web:segments")
